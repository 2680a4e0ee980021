// SPDX-License-Identifier: GPL-2.0
/*
 * pvhboot: boots an uncompressed vmlinux through its PVH entry point, for
 * the Bochs lane (scripts/lane.sh). Under Bochs the bzImage's own xz
 * decompressor took 4.3 G instructions, about 45 s, of every boot;
 * copying the kernel that lane.sh decompressed on the host into place
 * takes a fraction of a second.
 *
 * A Multiboot (v1) kernel, loaded by syslinux's mboot.c32 with two
 * modules: the vmlinux ELF file (its string: "vmlinux" then the kernel
 * command line) and the initramfs. It copies each PT_LOAD segment of
 * vmlinux to its physical address, fills in a struct hvm_start_info
 * (version 1: command line, the initramfs as module 0, the memory map
 * from Multiboot, the ACPI RSDP) and jumps to the address in vmlinux's
 * XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode without paging,
 * EBX pointing at the start info: Linux's PVH boot protocol
 * (arch/x86/platform/pvh/head.S), the one QEMU uses for -kernel vmlinux.
 */
#include <stdint.h>

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000003	/* modules page-aligned, memory info */
#define MB_LOADER_MAGIC	0x2badb002
#define MB_INFO_MODS	(1u << 3)
#define MB_INFO_MMAP	(1u << 6)

#define HVM_START_MAGIC	0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define E820_RAM	1
#define E820_RESERVED	2

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct mb_mod {
	uint32_t start, end, string, reserved;
};

struct mb_mmap {
	uint32_t size;		/* of the rest of the entry */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define PT_LOAD	1
#define PT_NOTE	4
#define MAX_MMAP 64

__attribute__((used, section(".multiboot"), aligned(4)))
static const uint32_t mb_header[3] = {
	MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
};

static struct hvm_start_info start_info;
static struct hvm_modlist_entry modlist;
static struct hvm_memmap_entry memmap[MAX_MMAP];
static char cmdline[2048];

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static int mcmp(const void *a, const void *b, uint32_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

/* On COM1, the lane's console.log. */
static void puts_com1(const char *s)
{
	for (; *s; s++) {
		while (!(inb(0x3fd) & 0x20))
			;
		outb(0x3f8, *s);
	}
}

static void __attribute__((noreturn)) fail(const char *why)
{
	puts_com1("pvhboot: ");
	puts_com1(why);
	puts_com1("\n");
	for (;;)
		asm volatile("cli; hlt");
}

static void copy(uint32_t dst, uint32_t src, uint32_t n)
{
	asm volatile("cld; rep movsb"
		     : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static void zero(uint32_t dst, uint32_t n)
{
	asm volatile("cld; rep stosb"
		     : "+D"(dst), "+c"(n) : "a"(0) : "memory");
}

static uint32_t align_up(uint32_t x, uint32_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* The kernel's PVH entry: the XEN_ELFNOTE_PHYS32_ENTRY note. */
static uint32_t pvh_entry(uint32_t elf)
{
	const struct elf64_ehdr *eh = (const void *)elf;
	const struct elf64_phdr *ph = (const void *)(elf + (uint32_t)eh->phoff);
	uint32_t i, p, end, namesz, descsz, type;

	for (i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_NOTE)
			continue;
		p = elf + (uint32_t)ph[i].offset;
		end = p + (uint32_t)ph[i].filesz;
		while (p + 12 <= end) {
			namesz = ((uint32_t *)p)[0];
			descsz = ((uint32_t *)p)[1];
			type = ((uint32_t *)p)[2];
			if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
			    !mcmp((void *)(p + 12), "Xen", 4))
				return *(uint32_t *)(p + 12 + 4);
			p += 12 + align_up(namesz, 4) + align_up(descsz, 4);
		}
	}
	return 0;
}

/* The ACPI RSDP in the BIOS area, or 0: the kernel then searches itself. */
static uint32_t find_rsdp(void)
{
	uint32_t p;

	for (p = 0xe0000; p < 0x100000; p += 16)
		if (!mcmp((void *)p, "RSD PTR ", 8))
			return p;
	return 0;
}

void pvhboot_main(uint32_t magic, const struct mb_info *mbi);
void pvhboot_main(uint32_t magic, const struct mb_info *mbi)
{
	extern char _end[];
	const struct mb_mod *mods;
	const struct elf64_ehdr *eh;
	const struct elf64_phdr *ph;
	uint32_t elf, elf_size, rd, rd_size, free, ram_top = 0, entry;
	uint32_t i, n, hi = 0, off;
	const char *s;

	if (magic != MB_LOADER_MAGIC)
		fail("not started by a Multiboot loader");
	if (!(mbi->flags & MB_INFO_MODS) || mbi->mods_count != 2)
		fail("want two modules: vmlinux, initramfs");
	if (!(mbi->flags & MB_INFO_MMAP))
		fail("no memory map");
	mods = (const void *)mbi->mods_addr;
	eh = (const void *)mods[0].start;
	if (mcmp(eh->ident, "\177ELF\2", 5) || eh->machine != 62)
		fail("module 0 is not an x86-64 ELF file");
	ph = (const void *)(mods[0].start + (uint32_t)eh->phoff);
	for (i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD)
			continue;
		hi = max32(hi, ph[i].paddr + ph[i].memsz);
	}
	entry = pvh_entry(mods[0].start);
	if (!entry)
		fail("vmlinux has no PVH entry note (CONFIG_PVH)");

	/* The memory map, and where RAM ends below 4 GiB. */
	for (off = 0, n = 0; off < mbi->mmap_length && n < MAX_MMAP; n++) {
		const struct mb_mmap *m = (const void *)(mbi->mmap_addr + off);

		memmap[n].addr = m->addr;
		memmap[n].size = m->len;
		memmap[n].type = m->type == 1 ? E820_RAM :
				 m->type <= 4 ? m->type : E820_RESERVED;
		if (m->type == 1 && m->addr + m->len <= 0x100000000ULL)
			ram_top = max32(ram_top, m->addr + m->len);
		off += m->size + 4;
	}

	/*
	 * Out of the way first: vmlinux and the initramfs to above
	 * everything (the kernel's place, both modules, this program), so
	 * that copying the segments overwrites neither.
	 */
	elf_size = mods[0].end - mods[0].start;
	rd_size = mods[1].end - mods[1].start;
	free = align_up(max32(max32(hi, (uint32_t)_end),
			      max32(mods[0].end, mods[1].end)), 0x200000);
	rd = align_up(free + elf_size, 0x1000);
	if (rd + rd_size > ram_top)
		fail("not enough RAM");
	copy(free, mods[0].start, elf_size);
	copy(rd, mods[1].start, rd_size);
	elf = free;
	eh = (const void *)elf;
	ph = (const void *)(elf + (uint32_t)eh->phoff);
	for (i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD)
			continue;
		copy(ph[i].paddr, elf + (uint32_t)ph[i].offset, ph[i].filesz);
		zero(ph[i].paddr + ph[i].filesz, ph[i].memsz - ph[i].filesz);
	}

	/* The command line: module 0's string after its first word. */
	s = (const char *)mods[0].string;
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	for (i = 0; s[i] && i < sizeof(cmdline) - 1; i++)
		cmdline[i] = s[i];
	cmdline[i] = 0;

	modlist.paddr = rd;
	modlist.size = rd_size;
	start_info.magic = HVM_START_MAGIC;
	start_info.version = 1;
	start_info.nr_modules = 1;
	start_info.modlist_paddr = (uint32_t)&modlist;
	start_info.cmdline_paddr = (uint32_t)cmdline;
	start_info.rsdp_paddr = find_rsdp();
	start_info.memmap_paddr = (uint32_t)memmap;
	start_info.memmap_entries = n;
	asm volatile("cli; jmp *%0" : : "r"(entry), "b"(&start_info) : "memory");
	__builtin_unreachable();
}
