// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: booting an unmodified Linux kernel (vmxctl run --kernel). Two
 * boot protocols, told apart by the file's content:
 *
 * - bzImage ("HdrS" at 0x202), Documentation/x86/boot.rst, "64-bit Boot
 *   Protocol" (2.12+, XLF_KERNEL_64): the setup header goes into a zeroed
 *   zero page (struct boot_params from <asm/bootparam.h>), the
 *   protected-mode kernel (after (setup_sects + 1) * 512 bytes of
 *   real-mode setup, which 64-bit entry skips) to pref_address when it is
 *   relocatable, else 0x100000; vCPU 0 enters at the load address + 0x200
 *   in 64-bit mode with page tables identity-mapping 0-4 GiB, __BOOT_CS
 *   0x10 and __BOOT_DS 0x18, RSI = the zero page, interrupts off.
 * - vmlinux ELF with a PVH note (XEN_ELFNOTE_PHYS32_ENTRY in a PT_NOTE,
 *   owner "Xen"; arch/x86/platform/pvh/head.S): PT_LOAD segments at their
 *   physical addresses; entry in 32-bit protected mode without paging,
 *   flat CS 0x10 and data 0x18, EBX = struct hvm_start_info (version 1:
 *   memory map, RSDP, command line, module 0 = the initrd).
 *
 * vmxctl_linux_open() checks the files before anything opens
 * /dev/vmx-lite, so a bad kernel is reported without the module;
 * vmxctl_linux_build() writes RAM and can run on any buffer (the unit
 * test's); vmxctl_linux_load() does both halves on the machine.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lib/libvmxlite.h"
#include "vmxctl_linux.h"
#include "vmxctl_machine.h"

/*
 * The default command line (docs/vmxctl.md says why each is there), then
 * tsc_early_khz=, then --append: Linux lets a later parameter override an
 * earlier one of the same name.
 */
#define CMDLINE_DEFAULT	"console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off"
/* tsc_early_khz= takes an unsigned int: at most 10 digits. */
#define CMDLINE_TSC_MAX	(sizeof(" tsc_early_khz=4294967295") - 1)
/* PVH has no cmdline_size: x86's COMMAND_LINE_SIZE (2048) with its NUL. */
#define PVH_CMDLINE_MAX	2047

#define BZ_BOOT_FLAG	0x1fe
#define BZ_HDR_END	0x201	/* 0x202 + this byte: the header's end */
#define BZ_MAGIC	0x202
#define BZ_VERSION	0x206
#define BZ_MIN_VERSION	0x020c	/* 2.12: xloadflags */
#define SETUP_HDR	offsetof(struct boot_params, hdr)	/* 0x1f1 */
/* The 2.12 header reaches at least past init_size. */
#define SETUP_HDR_MIN	(SETUP_HDR + offsetof(struct setup_header, handover_offset))
/* Linux's LOAD_PHYSICAL_ADDR when the header names none (it always does). */
#define DEFAULT_PREF	0x1000000ULL

#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)

#define E820_TYPE_RAM		1
#define E820_TYPE_RESERVED	2
#define MAX_E820		3

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

static uint64_t le(const unsigned char *p, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | p[bytes];
	return v;
}

/* ------------------------------------------------------------------ */
/* checking the kernel file                                            */
/* ------------------------------------------------------------------ */

static int check_bzimage(struct vmxctl_linux *k, uint64_t *initrd_top)
{
	struct setup_header h;
	unsigned int version = le(k->img + BZ_VERSION, 2);
	size_t hdr_end = BZ_MAGIC + k->img[BZ_HDR_END];
	uint64_t runtime_start, end;

	if (version < BZ_MIN_VERSION) {
		vmxctl_err("%s: a bzImage of boot protocol %u.%02u: vmxctl needs 2.12 or later with a 64-bit entry (Linux 3.8+)",
			   k->path, version >> 8, version & 0xff);
		return VMXCTL_EXIT_IMAGE;
	}
	if (hdr_end < SETUP_HDR_MIN) {
		vmxctl_err("%s: the setup header ends at 0x%zx, before the fields of protocol %u.%02u",
			   k->path, hdr_end, version >> 8, version & 0xff);
		return VMXCTL_EXIT_IMAGE;
	}
	if (k->len < hdr_end) {
		vmxctl_err("%s: truncated: %zu bytes, the setup header alone ends at 0x%zx",
			   k->path, k->len, hdr_end);
		return VMXCTL_EXIT_IMAGE;
	}
	/* Never more than the zero page has room for before 0x290. */
	k->hdr_len = (hdr_end < 0x290 ? hdr_end : 0x290) - SETUP_HDR;
	memset(&h, 0, sizeof(h));
	memcpy(&h, k->img + SETUP_HDR,
	       k->hdr_len < sizeof(h) ? k->hdr_len : sizeof(h));
	if (!(h.xloadflags & XLF_KERNEL_64)) {
		vmxctl_err("%s: a bzImage without a 64-bit entry (xloadflags 0x%x lacks XLF_KERNEL_64): vmxctl boots 64-bit kernels",
			   k->path, h.xloadflags);
		return VMXCTL_EXIT_IMAGE;
	}
	k->pm_offset = ((h.setup_sects ? h.setup_sects : 4) + 1) * 512ULL;
	k->pm_size = h.syssize * 16ULL;
	if (!k->pm_size || k->pm_offset > k->len ||
	    k->pm_size > k->len - k->pm_offset) {
		vmxctl_err("%s: truncated: the header says %" PRIu64 " bytes of setup and %" PRIu64 " of kernel, the file has %zu",
			   k->path, k->pm_offset, k->pm_size, k->len);
		return VMXCTL_EXIT_IMAGE;
	}
	/*
	 * boot.rst: a relocatable kernel should go to pref_address and runs
	 * from align_up(load, kernel_alignment); another is loaded at 1 MiB
	 * and moves itself to pref_address. Either way it needs init_size
	 * bytes from there before it reads the memory map.
	 */
	if (h.relocatable_kernel) {
		k->load_addr = h.pref_address ? h.pref_address : DEFAULT_PREF;
		runtime_start = align_up(k->load_addr, h.kernel_alignment);
	} else {
		k->load_addr = LINUX_HIGH_RAM;
		runtime_start = h.pref_address ? h.pref_address : DEFAULT_PREF;
	}
	end = k->load_addr + k->pm_size;
	k->kernel_end = runtime_start + h.init_size > end ?
			runtime_start + h.init_size : end;
	k->cmdline_max = h.cmdline_size < LINUX_CMDLINE_MAX ?
			 h.cmdline_size : LINUX_CMDLINE_MAX;
	*initrd_top = (uint64_t)h.initrd_addr_max + 1;
	return 0;
}

/* The PVH entry from the notes of one PT_NOTE segment: 0 if none. */
static uint32_t pvh_note(const unsigned char *p, uint64_t len)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *n = (const void *)(p + off);
		uint64_t name = off + sizeof(*n);
		uint64_t desc = name + align_up(n->n_namesz, 4);

		if (desc > len || align_up(n->n_descsz, 4) > len - desc)
			break;
		if (n->n_type == XEN_ELFNOTE_PHYS32_ENTRY &&
		    n->n_namesz == 4 && !memcmp(p + name, "Xen", 4) &&
		    (n->n_descsz == 4 || n->n_descsz == 8))
			return le(p + desc, 4);	/* a physical address < 4 GiB */
		off = desc + align_up(n->n_descsz, 4);
	}
	return 0;
}

static int check_pvh(struct vmxctl_linux *k, uint64_t *initrd_top)
{
	const Elf64_Ehdr *e = (const void *)k->img;
	unsigned int i, loads = 0;

	if (k->len < sizeof(*e) || k->img[EI_CLASS] != ELFCLASS64 ||
	    k->img[EI_DATA] != ELFDATA2LSB || e->e_machine != EM_X86_64 ||
	    e->e_type != ET_EXEC) {
		vmxctl_err("%s: an ELF file but not an x86-64 executable: give a bzImage or an x86-64 vmlinux",
			   k->path);
		return VMXCTL_EXIT_IMAGE;
	}
	if (e->e_phentsize != sizeof(Elf64_Phdr) || !e->e_phnum ||
	    e->e_phoff > k->len ||
	    (uint64_t)e->e_phnum * sizeof(Elf64_Phdr) > k->len - e->e_phoff) {
		vmxctl_err("%s: truncated or bad ELF program headers (%u at 0x%" PRIx64 ", the file has %zu bytes)",
			   k->path, e->e_phnum, (uint64_t)e->e_phoff, k->len);
		return VMXCTL_EXIT_IMAGE;
	}
	/* Every segment in the file first: a short file is "truncated". */
	for (i = 0; i < e->e_phnum; i++) {
		const Elf64_Phdr *p = (const Elf64_Phdr *)(k->img + e->e_phoff) + i;

		if ((p->p_type == PT_LOAD || p->p_type == PT_NOTE) &&
		    (p->p_offset > k->len || p->p_filesz > k->len - p->p_offset)) {
			vmxctl_err("%s: truncated: segment %u ends at 0x%" PRIx64 ", the file has %zu bytes",
				   k->path, i, (uint64_t)(p->p_offset + p->p_filesz),
				   k->len);
			return VMXCTL_EXIT_IMAGE;
		}
	}
	k->kernel_end = 0;
	for (i = 0; i < e->e_phnum; i++) {
		const Elf64_Phdr *p = (const Elf64_Phdr *)(k->img + e->e_phoff) + i;

		if (p->p_type == PT_NOTE && !k->pvh_entry)
			k->pvh_entry = pvh_note(k->img + p->p_offset, p->p_filesz);
		if (p->p_type != PT_LOAD)
			continue;
		if (p->p_paddr < LINUX_HIGH_RAM || p->p_memsz < p->p_filesz ||
		    p->p_memsz > UINT64_MAX - p->p_paddr) {
			vmxctl_err("%s: segment %u at 0x%" PRIx64 " (0x%" PRIx64 " bytes): below 1 MiB, where vmxctl's boot data are, or malformed",
				   k->path, i, (uint64_t)p->p_paddr,
				   (uint64_t)p->p_memsz);
			return VMXCTL_EXIT_IMAGE;
		}
		if (p->p_paddr + p->p_memsz > k->kernel_end)
			k->kernel_end = p->p_paddr + p->p_memsz;
		loads++;
	}
	if (!k->pvh_entry) {
		vmxctl_err("%s: a vmlinux without a PVH entry (no XEN_ELFNOTE_PHYS32_ENTRY note): give a bzImage, or a vmlinux built with CONFIG_PVH",
			   k->path);
		return VMXCTL_EXIT_IMAGE;
	}
	if (!loads) {
		vmxctl_err("%s: no loadable segment", k->path);
		return VMXCTL_EXIT_IMAGE;
	}
	k->cmdline_max = PVH_CMDLINE_MAX;
	*initrd_top = UINT64_MAX;
	return 0;
}

static int check_initrd(struct vmxctl_linux *k, uint64_t top)
{
	struct stat st;

	if (stat(k->initrd, &st)) {
		vmxctl_err("--initrd %s: %s", k->initrd, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (!S_ISREG(st.st_mode)) {
		vmxctl_err("--initrd %s: not a regular file", k->initrd);
		return VMXCTL_EXIT_NOINPUT;
	}
	k->initrd_size = st.st_size;
	if (top > k->mem_size)
		top = k->mem_size;
	if (top < k->kernel_end || k->initrd_size > top - k->kernel_end) {
		vmxctl_err("--initrd %s: %" PRIu64 " bytes do not fit in RAM between the kernel's end (0x%" PRIx64 ") and 0x%" PRIx64 " (--mem %" PRIu64 "M)",
			   k->initrd, k->initrd_size, k->kernel_end, top,
			   k->mem_size >> 20);
		return VMXCTL_EXIT_IMAGE;
	}
	/* At the top, as boot loaders do: away from where KASLR may go. */
	k->initrd_addr = (top - k->initrd_size) & ~(PAGE_SIZE - 1);
	return 0;
}

int vmxctl_linux_open(struct vmxctl_linux *k, const char *path,
		      const char *initrd, const char *append,
		      uint64_t mem_size)
{
	uint64_t initrd_top = 0;
	int ret;

	memset(k, 0, sizeof(*k));
	k->path = path;
	k->initrd = initrd;
	k->append = append;
	k->mem_size = mem_size;
	ret = vmxctl_read_file(path, &k->img, &k->len);
	if (ret)
		return ret;
	if (k->len >= SELFMAG && !memcmp(k->img, ELFMAG, SELFMAG)) {
		k->proto = LINUX_PVH;
		ret = check_pvh(k, &initrd_top);
	} else if (k->len >= BZ_VERSION + 2 &&
		   le(k->img + BZ_BOOT_FLAG, 2) == 0xaa55 &&
		   !memcmp(k->img + BZ_MAGIC, "HdrS", 4)) {
		k->proto = LINUX_BZIMAGE;
		ret = check_bzimage(k, &initrd_top);
	} else {
		vmxctl_err("%s: not a Linux kernel: neither a bzImage (no \"HdrS\" setup header) nor an ELF vmlinux",
			   path);
		ret = VMXCTL_EXIT_IMAGE;
	}
	if (!ret && k->kernel_end > mem_size) {
		vmxctl_err("%s: the kernel needs RAM up to 0x%" PRIx64 " (%" PRIu64 "M) while it boots: --mem %" PRIu64 "M is too small",
			   path, k->kernel_end, (k->kernel_end + (1 << 20) - 1) >> 20,
			   mem_size >> 20);
		ret = VMXCTL_EXIT_IMAGE;
	}
	if (!ret && initrd)
		ret = check_initrd(k, initrd_top);
	if (!ret) {
		/* The longest it can be: tsc_khz is not known yet. */
		size_t len = strlen(CMDLINE_DEFAULT) + CMDLINE_TSC_MAX +
		      (append ? 1 + strlen(append) : 0);
		if (len > k->cmdline_max) {
			vmxctl_err("%s: the command line would be %zu bytes with --append; this kernel takes %zu",
				   path, len, k->cmdline_max);
			ret = VMXCTL_EXIT_USAGE;
		}
	}
	if (ret)
		vmxctl_linux_close(k);
	return ret;
}

void vmxctl_linux_close(struct vmxctl_linux *k)
{
	free(k->img);
	k->img = NULL;
}

size_t vmxctl_linux_cmdline(const struct vmxctl_linux *k, uint32_t tsc_khz,
			    char *buf, size_t size)
{
	int n;

	if (tsc_khz)
		n = snprintf(buf, size, "%s tsc_early_khz=%" PRIu32 "%s%s",
			     CMDLINE_DEFAULT, tsc_khz, k->append ? " " : "",
			     k->append ? k->append : "");
	else
		n = snprintf(buf, size, "%s%s%s", CMDLINE_DEFAULT,
			     k->append ? " " : "", k->append ? k->append : "");
	return n < 0 ? 0 : (size_t)n;
}

/* ------------------------------------------------------------------ */
/* building the boot data                                              */
/* ------------------------------------------------------------------ */

struct e820 {
	uint64_t addr, size;
	uint32_t type;
};

/* The memory map of issue 19: low RAM, the BIOS hole, RAM from 1 MiB. */
static unsigned int memory_map(uint64_t mem, struct e820 *e)
{
	unsigned int n = 0;

	e[n++] = (struct e820){ 0, LINUX_LOW_RAM_END, E820_TYPE_RAM };
	e[n++] = (struct e820){ LINUX_LOW_RAM_END,
				LINUX_HIGH_RAM - LINUX_LOW_RAM_END,
				E820_TYPE_RESERVED };
	if (mem > LINUX_HIGH_RAM)
		e[n++] = (struct e820){ LINUX_HIGH_RAM, mem - LINUX_HIGH_RAM,
					E820_TYPE_RAM };
	return n;
}

static int read_initrd(const struct vmxctl_linux *k, unsigned char *dst)
{
	uint64_t off = 0;
	struct stat st;
	int fd;

	fd = open(k->initrd, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		vmxctl_err("--initrd %s: %s", k->initrd, strerror(errno));
		if (fd >= 0)
			close(fd);
		return VMXCTL_EXIT_NOINPUT;
	}
	if ((uint64_t)st.st_size != k->initrd_size) {
		vmxctl_err("--initrd %s: changed size since vmxctl started (%" PRIu64 " bytes, now %lld)",
			   k->initrd, k->initrd_size, (long long)st.st_size);
		close(fd);
		return VMXCTL_EXIT_NOINPUT;
	}
	while (off < k->initrd_size) {
		ssize_t n = pread(fd, dst + off, k->initrd_size - off, off);

		if (n <= 0) {
			vmxctl_err("--initrd %s: read: %s", k->initrd,
				   n ? strerror(errno) : "the file shrank");
			close(fd);
			return VMXCTL_EXIT_NOINPUT;
		}
		off += n;
	}
	close(fd);
	return 0;
}

static void gdt_and_tss(unsigned char *ram, bool long_mode)
{
	uint64_t *gdt = (uint64_t *)(ram + LINUX_GDT);

	memset(gdt, 0, LINUX_TSS + 0x68 - LINUX_GDT);
	gdt[LINUX_BOOT_CS / 8] = long_mode ? 0x00af9b000000ffffULL :	/* 64-bit */
					     0x00cf9b000000ffffULL;	/* 32-bit */
	gdt[LINUX_BOOT_DS / 8] = 0x00cf93000000ffffULL;
	/* A TSS only because entering a guest wants a usable TR. */
	gdt[LINUX_BOOT_TR / 8] = 0x67 | (LINUX_TSS << 16) | (0x8bULL << 40);
}

static void page_tables(unsigned char *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + LINUX_PML4);
	uint64_t *pdpt = (uint64_t *)(ram + LINUX_PDPT);
	unsigned int i, j;

	memset(pml4, 0, LINUX_PD + 4 * PAGE_SIZE - LINUX_PML4);
	pml4[0] = LINUX_PDPT | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++) {
		uint64_t *pd = (uint64_t *)(ram + LINUX_PD + i * PAGE_SIZE);

		pdpt[i] = (LINUX_PD + i * PAGE_SIZE) | PTE_P | PTE_RW;
		for (j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30 | (uint64_t)j << 21) |
				PTE_P | PTE_RW | PTE_PS;
	}
}

static void zero_page(const struct vmxctl_linux *k, unsigned char *ram,
		      uint64_t rsdp, const struct e820 *map, unsigned int n)
{
	struct boot_params *bp = (void *)(ram + LINUX_ZERO_PAGE);
	unsigned int i;

	memset(bp, 0, sizeof(*bp));
	memcpy((unsigned char *)bp + SETUP_HDR, k->img + SETUP_HDR, k->hdr_len);
	bp->hdr.type_of_loader = 0xff;		/* undefined loader */
	bp->hdr.code32_start = k->load_addr;
	bp->hdr.cmd_line_ptr = LINUX_CMDLINE;
	bp->hdr.ramdisk_image = k->initrd_size ? k->initrd_addr : 0;
	bp->hdr.ramdisk_size = k->initrd_size;
	bp->hdr.setup_data = 0;
	bp->hdr.hardware_subarch = X86_SUBARCH_PC;
	bp->acpi_rsdp_addr = rsdp;
	for (i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].size;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = n;
}

static void start_info(const struct vmxctl_linux *k, unsigned char *ram,
		       uint64_t rsdp, const struct e820 *map, unsigned int n)
{
	struct hvm_start_info *si = (void *)(ram + LINUX_START_INFO);
	struct hvm_modlist_entry *mod = (void *)(ram + LINUX_MODLIST);
	struct hvm_memmap_entry *mm = (void *)(ram + LINUX_MEMMAP);
	unsigned int i;

	memset(si, 0, LINUX_MEMMAP + n * sizeof(*mm) - LINUX_START_INFO);
	si->magic = HVM_START_MAGIC;
	si->version = 1;			/* with the memory map */
	si->cmdline_paddr = LINUX_CMDLINE;
	si->rsdp_paddr = rsdp;
	si->memmap_paddr = LINUX_MEMMAP;
	si->memmap_entries = n;
	for (i = 0; i < n; i++) {
		mm[i].addr = map[i].addr;
		mm[i].size = map[i].size;
		mm[i].type = map[i].type;
	}
	if (k->initrd_size) {
		si->nr_modules = 1;
		si->modlist_paddr = LINUX_MODLIST;
		mod->paddr = k->initrd_addr;
		mod->size = k->initrd_size;
	}
}

int vmxctl_linux_build(const struct vmxctl_linux *k, void *ram,
		       uint32_t tsc_khz, uint64_t rsdp,
		       struct vmxctl_linux_entry *e)
{
	unsigned char *r = ram;
	struct e820 map[MAX_E820];
	unsigned int n, i;

	_Static_assert(LINUX_MEMMAP + MAX_E820 * sizeof(struct hvm_memmap_entry) <=
		       LINUX_ZERO_PAGE, "the PVH memory map fits below the zero page");
	_Static_assert(LINUX_CMDLINE + LINUX_CMDLINE_MAX + 1 <= LINUX_LOW_RAM_END,
		       "the command line is in low RAM");
	memset(e, 0, sizeof(*e));
	n = memory_map(k->mem_size, map);
	memset(r + LINUX_CMDLINE, 0, k->cmdline_max + 1);
	vmxctl_linux_cmdline(k, tsc_khz, (char *)r + LINUX_CMDLINE,
			     k->cmdline_max + 1);
	if (k->initrd_size) {
		int ret = read_initrd(k, r + k->initrd_addr);

		if (ret)
			return ret;
	}
	e->long_mode = k->proto == LINUX_BZIMAGE;
	gdt_and_tss(r, e->long_mode);
	if (k->proto == LINUX_BZIMAGE) {
		memcpy(r + k->load_addr, k->img + k->pm_offset, k->pm_size);
		page_tables(r);
		zero_page(k, r, rsdp, map, n);
		e->rip = k->load_addr + 0x200;	/* the 64-bit entry */
		e->rsi = LINUX_ZERO_PAGE;
		e->rsp = LINUX_STACK_TOP;
		return 0;
	}
	for (i = 0; i < ((const Elf64_Ehdr *)k->img)->e_phnum; i++) {
		const Elf64_Ehdr *eh = (const void *)k->img;
		const Elf64_Phdr *p = (const Elf64_Phdr *)(k->img + eh->e_phoff) + i;

		if (p->p_type != PT_LOAD)
			continue;
		memcpy(r + p->p_paddr, k->img + p->p_offset, p->p_filesz);
		memset(r + p->p_paddr + p->p_filesz, 0,
		       p->p_memsz - p->p_filesz);
	}
	start_info(k, r, rsdp, map, n);
	e->rip = k->pvh_entry;
	e->rbx = LINUX_START_INFO;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the machine                                                         */
/* ------------------------------------------------------------------ */

static int enter(struct vmxctl_machine *m, const struct vmxctl_linux_entry *e)
{
	int fd = vmxctl_vcpu_fd(m, 0), ret;
	struct vmxl_sregs s;
	struct vmxl_regs r;

	ret = vmxlite_get_sregs(fd, &s);
	if (ret) {
		vmxctl_err("VMXL_GET_SREGS (vCPU 0): %s", strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	vmxctl_flat_segment(&s.cs, LINUX_BOOT_CS, 11, e->long_mode);
	vmxctl_flat_segment(&s.ds, LINUX_BOOT_DS, 3, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.selector = LINUX_BOOT_TR;
	s.tr.base = LINUX_TSS;
	s.tr.limit = 0x67;
	s.tr.type = 11;				/* busy TSS */
	s.tr.present = 1;
	memset(&s.ldt, 0, sizeof(s.ldt));
	s.ldt.unusable = 1;
	s.ldt.type = 2;
	s.gdt.base = LINUX_GDT;
	s.gdt.limit = LINUX_BOOT_TR + 16 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	if (e->long_mode) {
		s.cr0 = 0x80000011;		/* PG ET PE */
		s.cr3 = LINUX_PML4;
		s.cr4 = 0x20;			/* PAE */
		s.efer = 0x500;			/* LMA LME */
	} else {
		s.cr0 = 0x11;			/* ET PE: PVH wants no more */
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	}
	ret = vmxlite_set_sregs(fd, &s);
	if (ret) {
		vmxctl_err("VMXL_SET_SREGS (vCPU 0, %s entry): %s",
			   e->long_mode ? "64-bit" : "PVH", strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	memset(&r, 0, sizeof(r));
	r.rflags = 2;				/* IF clear */
	r.rip = e->rip;
	r.rsi = e->rsi;
	r.rbx = e->rbx;
	r.rsp = e->rsp;
	ret = vmxlite_set_regs(fd, &r);
	if (ret) {
		vmxctl_err("VMXL_SET_REGS (vCPU 0, RIP 0x%" PRIx64 "): %s",
			   e->rip, strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	return 0;
}

int vmxctl_linux_load(struct vmxctl_machine *m, const struct vmxctl_linux *k)
{
	struct vmxctl_linux_entry e;
	uint64_t rsdp = 0, tsc = m->caps.tsc_khz;
	void *ram = vmxctl_gpa_to_hva(m, 0, k->mem_size);
	int ret;

	if (!ram || k->mem_size != m->cfg.mem_size)
		return VMXCTL_EXIT_OSERR;	/* checked for another machine */
	ret = vmxctl_acpi_build(m, &rsdp);	/* 0 or -errno after a message */
	if (ret)
		return VMXCTL_EXIT_OSERR;
	ret = vmxctl_linux_build(k, ram, tsc <= UINT32_MAX ? tsc : 0, rsdp,
				 &e);
	/* The other vCPUs wait in the kernel for INIT and STARTUP. */
	return ret ? ret : enter(m, &e);
}
