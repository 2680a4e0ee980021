// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of vmxctl's Linux loader (userspace/vmxctl_linux.c),
 * built from the same sources as vmxctl, into a RAM buffer of its own,
 * without a VM: for a bzImage, the zero page (the setup header copied,
 * the loader's fields, the e820 map of issue 19), the command line, the
 * kernel at pref_address, the initrd at the top of RAM below
 * initrd_addr_max, page tables identity-mapping 0-4 GiB, the GDT and the
 * 64-bit entry; for a PVH vmlinux, the segments (their BSS zeroed), the
 * hvm_start_info with its memory map and module, the 32-bit entry; and
 * each file vmxctl refuses, with its exit status. The kernels are made
 * here, small; the real test kernel is loaded too when the cache has it.
 * And a reboot's machine: destroyed, reinitialised, built again, with
 * --serial FILE going on after the first boot's output.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "../../userspace/vmxctl_linux.h"
#include "../../userspace/vmxctl_machine.h"

#define MEM		(64ULL << 20)
#define PREF		0x1000000ULL
#define INIT_SIZE	0x400000U
#define PM_SIZE		0x2000U		/* protected-mode kernel bytes */
#define SETUP_SECTS	3
#define INITRD_SIZE	10000U
#define TSC_KHZ		2345678U

static char last_err[1024];

void vmxctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
}

static void put(unsigned char *p, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		*p++ = v;
		v >>= 8;
	}
}

/* A bzImage as Linux lays it out, small: header, setup, kernel. */
static size_t make_bzimage(unsigned char *img, uint16_t version,
			   uint32_t initrd_max)
{
	size_t pm = (SETUP_SECTS + 1) * 512, len = pm + PM_SIZE, i;

	memset(img, 0, len);
	img[0x1f1] = SETUP_SECTS;
	put(img + 0x1f4, PM_SIZE / 16, 4);		/* syssize */
	put(img + 0x1fe, 0xaa55, 2);
	img[0x200] = 0xeb;				/* jmp to 0x26c */
	img[0x201] = 0x26c - 0x202;
	memcpy(img + 0x202, "HdrS", 4);
	put(img + 0x206, version, 2);
	img[0x211] = LOADED_HIGH;
	put(img + 0x214, 0x100000, 4);			/* code32_start */
	put(img + 0x22c, initrd_max, 4);
	put(img + 0x230, 0x200000, 4);			/* kernel_alignment */
	img[0x234] = 1;					/* relocatable */
	img[0x235] = 21;
	put(img + 0x236, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G, 2);
	put(img + 0x238, 2047, 4);			/* cmdline_size */
	put(img + 0x258, PREF, 8);
	put(img + 0x260, INIT_SIZE, 4);
	for (i = pm; i < len; i++)
		img[i] = i * 7;
	return len;
}

/* A vmlinux: one PT_LOAD of 0x1000 bytes + 0x2000 BSS, a PVH note. */
#define PVH_PADDR	0x1000000ULL
#define PVH_ENTRY	0x1000850U
static size_t make_vmlinux(unsigned char *img, bool note)
{
	Elf64_Ehdr *e = (Elf64_Ehdr *)img;
	Elf64_Phdr *p = (Elf64_Phdr *)(img + sizeof(*e));
	unsigned char *n = img + 0x200;
	size_t i;

	memset(img, 0, 0x2000);
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_phoff = sizeof(*e);
	e->e_phentsize = sizeof(*p);
	e->e_phnum = 2;
	p[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000,
			     .p_paddr = PVH_PADDR, .p_filesz = 0x1000,
			     .p_memsz = 0x3000 };
	/* A note of another type first, then the entry's (8 bytes, as Linux). */
	put(n, 4, 4), put(n + 4, 4, 4), put(n + 8, 6, 4);
	memcpy(n + 12, "Xen", 4), memcpy(n + 16, "lnx", 4);
	put(n + 20, 4, 4), put(n + 24, 8, 4);
	put(n + 28, note ? XEN_ELFNOTE_PHYS32_ENTRY : 17, 4);
	memcpy(n + 32, "Xen", 4), put(n + 36, PVH_ENTRY, 8);
	p[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x200,
			     .p_filesz = 44 };
	for (i = 0x1000; i < 0x2000; i++)
		img[i] = i * 5;
	return 0x2000;
}

static void write_file(struct __test_metadata *_metadata, const char *path,
		       const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	ASSERT_NE(NULL, f);
	ASSERT_EQ(len, fwrite(buf, 1, len, f));
	ASSERT_EQ(0, fclose(f));
}

/* Follow the boot page tables from CR3 for @va: its physical address. */
static uint64_t walk(const unsigned char *ram, uint64_t va)
{
	const uint64_t *pml4 = (const void *)(ram + LINUX_PML4);
	const uint64_t *pdpt, *pd;
	uint64_t e;

	e = pml4[(va >> 39) & 511];
	if (!(e & 1))
		return ~0ULL;
	pdpt = (const void *)(ram + (e & ~0xfffULL));
	e = pdpt[(va >> 30) & 511];
	if (!(e & 1))
		return ~0ULL;
	pd = (const void *)(ram + (e & ~0xfffULL));
	e = pd[(va >> 21) & 511];
	if (!(e & 1) || !(e & 0x80))
		return ~0ULL;
	return (e & ~0x1fffffULL) | (va & 0x1fffff);
}

FIXTURE(loader) {
	char dir[64], kernel[96], initrd[96];
	unsigned char *img, *ram, initrd_data[INITRD_SIZE];
	struct vmxctl_linux k;
};

FIXTURE_SETUP(loader)
{
	unsigned int i;

	strcpy(self->dir, "/tmp/test_linux.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->kernel, sizeof(self->kernel), "%s/kernel", self->dir);
	snprintf(self->initrd, sizeof(self->initrd), "%s/initrd", self->dir);
	for (i = 0; i < INITRD_SIZE; i++)
		self->initrd_data[i] = i * 3 + 1;
	write_file(_metadata, self->initrd, self->initrd_data, INITRD_SIZE);
	self->img = calloc(1, 0x10000);
	self->ram = malloc(MEM);
	ASSERT_NE(NULL, self->img);
	ASSERT_NE(NULL, self->ram);
	memset(self->ram, 0xcc, MEM);	/* the loader zeroes what it owns */
}

FIXTURE_TEARDOWN(loader)
{
	vmxctl_linux_close(&self->k);
	unlink(self->kernel);
	unlink(self->initrd);
	rmdir(self->dir);
	free(self->img);
	free(self->ram);
}

TEST_F(loader, bzimage_zero_page)
{
	size_t len = make_bzimage(self->img, 0x020f, 0x7fffffff);
	struct vmxctl_linux_entry e;
	const struct boot_params *bp;
	const uint64_t *gdt;
	char want[512];
	uint64_t top;

	write_file(_metadata, self->kernel, self->img, len);
	ASSERT_EQ(0, vmxctl_linux_open(&self->k, self->kernel, self->initrd,
				       "root=/dev/vda quiet", MEM));
	ASSERT_EQ(LINUX_BZIMAGE, self->k.proto);
	ASSERT_EQ(0, vmxctl_linux_build(&self->k, self->ram, TSC_KHZ, 0xe0000,
					&e));
	bp = (const void *)(self->ram + LINUX_ZERO_PAGE);

	/* The setup header as the file has it, but for the loader's fields. */
	EXPECT_EQ(0, memcmp(&bp->hdr, self->img + 0x1f1,
			    offsetof(struct setup_header, type_of_loader)));
	EXPECT_EQ(0x020f, bp->hdr.version);
	EXPECT_EQ(XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G, bp->hdr.xloadflags);
	EXPECT_EQ(INIT_SIZE, bp->hdr.init_size);
	EXPECT_EQ(PREF, bp->hdr.pref_address);
	EXPECT_EQ(0xff, bp->hdr.type_of_loader);
	EXPECT_EQ(LINUX_CMDLINE, bp->hdr.cmd_line_ptr);
	EXPECT_EQ(PREF, bp->hdr.code32_start);
	EXPECT_EQ(0, bp->sentinel);
	EXPECT_EQ(0xe0000, bp->acpi_rsdp_addr);
	/* Nothing else of the zero page but the e820 map. */
	EXPECT_EQ(0, bp->screen_info.orig_video_lines);
	EXPECT_EQ(0, bp->ext_ramdisk_image);
	EXPECT_EQ(0, bp->ext_cmd_line_ptr);

	/* e820: low RAM, the BIOS hole, RAM from 1 MiB to the end. */
	ASSERT_EQ(3, bp->e820_entries);
	EXPECT_EQ(0, bp->e820_table[0].addr);
	EXPECT_EQ(0x9fc00, bp->e820_table[0].size);
	EXPECT_EQ(1, bp->e820_table[0].type);
	EXPECT_EQ(0x9fc00, bp->e820_table[1].addr);
	EXPECT_EQ(0x100000 - 0x9fc00, bp->e820_table[1].size);
	EXPECT_EQ(2, bp->e820_table[1].type);
	EXPECT_EQ(0x100000, bp->e820_table[2].addr);
	EXPECT_EQ(MEM - 0x100000, bp->e820_table[2].size);
	EXPECT_EQ(1, bp->e820_table[2].type);

	/* The initrd: page-aligned, at the top of RAM, its bytes. */
	top = MEM;
	EXPECT_EQ((top - INITRD_SIZE) & ~0xfffULL, bp->hdr.ramdisk_image);
	EXPECT_EQ(INITRD_SIZE, bp->hdr.ramdisk_size);
	EXPECT_EQ(0, memcmp(self->ram + bp->hdr.ramdisk_image,
			    self->initrd_data, INITRD_SIZE));

	/* The command line: the default, the TSC rate, --append. */
	snprintf(want, sizeof(want),
		 "console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off tsc_early_khz=%u root=/dev/vda quiet",
		 TSC_KHZ);
	EXPECT_STREQ(want, (char *)self->ram + LINUX_CMDLINE);

	/* The protected-mode kernel at pref_address, entered at +0x200. */
	EXPECT_EQ(0, memcmp(self->ram + PREF,
			    self->img + (SETUP_SECTS + 1) * 512, PM_SIZE));
	EXPECT_TRUE(e.long_mode);
	EXPECT_EQ(PREF + 0x200, e.rip);
	EXPECT_EQ(LINUX_ZERO_PAGE, e.rsi);

	/* Identity-mapped 0-4 GiB: kernel, zero page, APIC, the last byte. */
	EXPECT_EQ(0ULL, walk(self->ram, 0));
	EXPECT_EQ(LINUX_ZERO_PAGE, walk(self->ram, LINUX_ZERO_PAGE));
	EXPECT_EQ(PREF + 0x200, walk(self->ram, PREF + 0x200));
	EXPECT_EQ(0xfee00000ULL, walk(self->ram, 0xfee00000ULL));
	EXPECT_EQ(0xffffffffULL, walk(self->ram, 0xffffffffULL));
	EXPECT_EQ(~0ULL, walk(self->ram, 0x100000000ULL));

	/* __BOOT_CS: 64-bit code; __BOOT_DS: flat data. */
	gdt = (const void *)(self->ram + LINUX_GDT);
	EXPECT_EQ(0, gdt[0]);
	EXPECT_EQ(0x00af9b000000ffffULL, gdt[LINUX_BOOT_CS / 8]);
	EXPECT_EQ(0x00cf93000000ffffULL, gdt[LINUX_BOOT_DS / 8]);
}

TEST_F(loader, bzimage_initrd_below_initrd_addr_max)
{
	size_t len = make_bzimage(self->img, 0x020c, 0x2ffffff);
	struct vmxctl_linux_entry e;
	const struct boot_params *bp;

	write_file(_metadata, self->kernel, self->img, len);
	ASSERT_EQ(0, vmxctl_linux_open(&self->k, self->kernel, self->initrd,
				       NULL, MEM));
	ASSERT_EQ(0, vmxctl_linux_build(&self->k, self->ram, 0, 0, &e));
	bp = (const void *)(self->ram + LINUX_ZERO_PAGE);
	EXPECT_EQ((0x3000000 - INITRD_SIZE) & ~0xfffULL, bp->hdr.ramdisk_image);
	EXPECT_GE(0x3000000, bp->hdr.ramdisk_image + INITRD_SIZE);
	/* No TSC rate known: no tsc_early_khz=; no --append. */
	EXPECT_STREQ("console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off",
		     (char *)self->ram + LINUX_CMDLINE);
	EXPECT_EQ(0, bp->acpi_rsdp_addr);
}

TEST_F(loader, pvh_start_info)
{
	size_t len = make_vmlinux(self->img, true);
	const struct hvm_start_info *si;
	const struct hvm_modlist_entry *mod;
	const struct hvm_memmap_entry *mm;
	struct vmxctl_linux_entry e;
	const uint64_t *gdt;
	unsigned int i;

	write_file(_metadata, self->kernel, self->img, len);
	ASSERT_EQ(0, vmxctl_linux_open(&self->k, self->kernel, self->initrd,
				       "x=1", MEM));
	ASSERT_EQ(LINUX_PVH, self->k.proto);
	ASSERT_EQ(0, vmxctl_linux_build(&self->k, self->ram, TSC_KHZ, 0xe0000,
					&e));
	EXPECT_FALSE(e.long_mode);
	EXPECT_EQ(PVH_ENTRY, e.rip);
	EXPECT_EQ(LINUX_START_INFO, e.rbx);

	/* The segment, then its BSS zeroed. */
	EXPECT_EQ(0, memcmp(self->ram + PVH_PADDR, self->img + 0x1000, 0x1000));
	for (i = 0x1000; i < 0x3000; i++)
		ASSERT_EQ(0, self->ram[PVH_PADDR + i]);

	si = (const void *)(self->ram + LINUX_START_INFO);
	EXPECT_EQ(0x336ec578U, si->magic);
	EXPECT_EQ(1, si->version);
	EXPECT_EQ(LINUX_CMDLINE, si->cmdline_paddr);
	EXPECT_EQ(0xe0000, si->rsdp_paddr);
	ASSERT_EQ(1, si->nr_modules);
	mod = (const void *)(self->ram + si->modlist_paddr);
	EXPECT_EQ((MEM - INITRD_SIZE) & ~0xfffULL, mod->paddr);
	EXPECT_EQ(INITRD_SIZE, mod->size);
	EXPECT_EQ(0, memcmp(self->ram + mod->paddr, self->initrd_data,
			    INITRD_SIZE));
	ASSERT_EQ(3, si->memmap_entries);
	mm = (const void *)(self->ram + si->memmap_paddr);
	EXPECT_EQ(0, mm[0].addr);
	EXPECT_EQ(0x9fc00, mm[0].size);
	EXPECT_EQ(1, mm[0].type);
	EXPECT_EQ(2, mm[1].type);
	EXPECT_EQ(0x100000, mm[2].addr);
	EXPECT_EQ(MEM - 0x100000, mm[2].size);
	EXPECT_EQ(1, mm[2].type);
	EXPECT_EQ(0, strncmp((char *)self->ram + LINUX_CMDLINE,
			     "console=ttyS0 ", 14));
	EXPECT_NE(NULL, strstr((char *)self->ram + LINUX_CMDLINE, " x=1"));

	/* 32-bit flat code at 0x10. */
	gdt = (const void *)(self->ram + LINUX_GDT);
	EXPECT_EQ(0x00cf9b000000ffffULL, gdt[LINUX_BOOT_CS / 8]);
	EXPECT_EQ(0x00cf93000000ffffULL, gdt[LINUX_BOOT_DS / 8]);
}

/* vmxctl_linux_open(@img, @len) with @initrd and @append: its status. */
static int open_status(FIXTURE_DATA(loader) *self,
		       struct __test_metadata *_metadata, size_t len,
		       bool initrd, const char *append, uint64_t mem)
{
	write_file(_metadata, self->kernel, self->img, len);
	last_err[0] = 0;
	return vmxctl_linux_open(&self->k, self->kernel,
				 initrd ? self->initrd : NULL, append, mem);
}

TEST_F(loader, refused)
{
	size_t len = make_bzimage(self->img, 0x020f, 0x7fffffff);
	char *huge = malloc(2100);

	ASSERT_NE(NULL, huge);
	/* Truncated: the kernel short by one byte; the header cut. */
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len - 1,
						 false, NULL, MEM));
	EXPECT_NE(NULL, strstr(last_err, "truncated"));
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, 0x240,
						 false, NULL, MEM));
	EXPECT_NE(NULL, strstr(last_err, "truncated"));
	/* Too old: 2.11. */
	make_bzimage(self->img, 0x020b, 0x7fffffff);
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len, false,
						 NULL, MEM));
	EXPECT_NE(NULL, strstr(last_err, "2.11"));
	/* No 64-bit entry. */
	make_bzimage(self->img, 0x020f, 0x7fffffff);
	self->img[0x236] = 0;
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len, false,
						 NULL, MEM));
	/* Not a kernel: the header zeroed. */
	make_bzimage(self->img, 0x020f, 0x7fffffff);
	memset(self->img + 0x1f1, 0, 0x7b);
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len, false,
						 NULL, MEM));
	EXPECT_NE(NULL, strstr(last_err, "not a Linux kernel"));
	/* Too little RAM for init_size from pref_address. */
	make_bzimage(self->img, 0x020f, 0x7fffffff);
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len, false,
						 NULL, PREF + INIT_SIZE - 4096));
	EXPECT_EQ(0, open_status(self, _metadata, len, false, NULL,
				 PREF + INIT_SIZE));
	vmxctl_linux_close(&self->k);
	/* The initrd does not fit above the kernel. */
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len, true,
						 NULL, PREF + INIT_SIZE));
	EXPECT_NE(NULL, strstr(last_err, "--initrd"));
	/* The command line: cmdline_size 2047 bytes at most. */
	memset(huge, 'x', 2099);
	huge[2099] = 0;
	EXPECT_EQ(VMXCTL_EXIT_USAGE, open_status(self, _metadata, len, false,
						 huge, MEM));
	EXPECT_NE(NULL, strstr(last_err, "2047"));
	/* A vmlinux without the PVH note; a short one. */
	len = make_vmlinux(self->img, false);
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len, false,
						 NULL, MEM));
	EXPECT_NE(NULL, strstr(last_err, "PVH"));
	len = make_vmlinux(self->img, true);
	EXPECT_EQ(VMXCTL_EXIT_IMAGE, open_status(self, _metadata, len - 1,
						 false, NULL, MEM));
	EXPECT_NE(NULL, strstr(last_err, "truncated"));
	/* A file that cannot be read. */
	EXPECT_EQ(VMXCTL_EXIT_NOINPUT,
		  vmxctl_linux_open(&self->k, "/nonexistent/bzImage", NULL,
				    NULL, MEM));
	free(huge);
}

/* The real test kernel, when the cache has it: loads at 16 MiB. */
TEST(real_kernel)
{
	char exe[2048], path[2048 + 256], abi[64] = "";
	struct vmxctl_linux k;
	struct vmxctl_linux_entry e;
	const struct boot_params *bp;
	uint64_t mem = LINUX_DEFAULT_MEM;
	unsigned char *ram;
	ssize_t n;
	FILE *f;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = 0;
	*strrchr(exe, '/') = 0;		/* build/unit */
	snprintf(path, sizeof(path), "%s/../../.cache/abi", exe);
	f = fopen(path, "r");
	if (!f || !fgets(abi, sizeof(abi), f)) {
		if (f)
			fclose(f);
		SKIP(return, "no .cache/abi");
	}
	fclose(f);
	abi[strcspn(abi, "\n")] = 0;
	snprintf(path, sizeof(path), "%s/../../.cache/kernel/%s/boot/vmlinuz-%s",
		 exe, abi, abi);
	if (access(path, R_OK))
		SKIP(return, "no test kernel in .cache/kernel");
	ASSERT_EQ(0, vmxctl_linux_open(&k, path, NULL, NULL, mem));
	ram = mmap(NULL, mem, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, ram);
	ASSERT_EQ(0, vmxctl_linux_build(&k, ram, TSC_KHZ, 0, &e));
	bp = (const void *)(ram + LINUX_ZERO_PAGE);
	EXPECT_EQ(0, memcmp(&bp->hdr.header, "HdrS", 4));
	EXPECT_LE(0x020c, bp->hdr.version);
	EXPECT_EQ(bp->hdr.pref_address + 0x200, e.rip);
	EXPECT_EQ(0, memcmp(ram + bp->hdr.pref_address,
			    k.img + (bp->hdr.setup_sects + 1) * 512,
			    bp->hdr.syssize * 16));
	munmap(ram, mem);
	vmxctl_linux_close(&k);
}

/* A reboot: the same machine's devices built twice; the serial file grows. */
TEST(reboot_rebuilds_devices)
{
	static struct vmxctl_machine mach;
	struct vmxctl_machine *m = &mach;
	char path[] = "/tmp/test_linux_serial.XXXXXX", buf[8] = "";
	unsigned int boot, devices = 0;
	uint64_t c;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "old", 3));	/* a previous run's: truncated */
	close(fd);
	vmxctl_machine_init(m);
	m->cfg.serial = path;
	m->cfg.linux_platform = true;
	for (boot = 0; boot < 2; boot++) {
		ASSERT_EQ(0, vmxctl_machine_add_devices(m));
		if (!boot)
			devices = m->nr_devices;
		EXPECT_EQ(devices, m->nr_devices);
		c = 'A' + boot;
		ASSERT_TRUE(vmxctl_bus_pio(m, VMXCTL_UART_PORT, true, &c, 1));
		vmxctl_machine_stop(m, VMXCTL_EXIT_REBOOT);
		EXPECT_EQ(VMXCTL_EXIT_REBOOT, m->status);
		vmxctl_machine_destroy(m);
		vmxctl_machine_reinit(m);
		EXPECT_FALSE(vmxctl_machine_stopping(m));
		EXPECT_EQ(0, m->nr_devices);
		EXPECT_EQ(-1, m->serial_fd);
	}
	EXPECT_EQ(2, m->boots);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	EXPECT_NE(NULL, fgets(buf, sizeof(buf), f));
	fclose(f);
	EXPECT_STREQ("AB", buf);
	unlink(path);
}

TEST_HARNESS_MAIN
