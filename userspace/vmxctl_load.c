// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: loading GUEST and the vCPUs' first state.
 *
 * - 64-bit ELF (EM_X86_64): PT_LOAD segments at their physical
 *   addresses; long mode with page tables identity-mapping 0-4 GiB in
 *   2 MiB pages, CS 0x08 (64-bit code), DS/ES/FS/GS/SS 0x10, TR 0x18.
 * - 32-bit ELF (EM_386): the same segments, protected mode without
 *   paging, flat 4 GiB CS 0x08 (32-bit) and data 0x10.
 * - Otherwise, with --load ADDR: a flat binary copied to ADDR and
 *   entered in real mode at --entry (default ADDR), CS = entry's 64 KiB
 *   segment, IP its offset.
 *
 * The last 64 KiB of RAM (BOOT_AREA) hold the page tables, GDT and TSS;
 * ELF segments may not overlap them.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lib/libvmxlite.h"
#include "vmxctl.h"
#include "vmxctl_dev.h"

#define BOOT_AREA_SIZE	0x10000ULL
#define STACK_SIZE	0x10000ULL
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)

/* Offsets in the boot area. */
#define BOOT_PML4	0x0000
#define BOOT_PDPT	0x1000
#define BOOT_PD		0x2000	/* four of them: 0x2000-0x5fff */
#define BOOT_GDT	0x6000
#define BOOT_TSS	0x7000

#define SEL_CODE	0x08
#define SEL_DATA	0x10
#define SEL_TSS		0x18

enum mode { MODE_REAL, MODE_PROT32, MODE_LONG };

int vmxctl_read_file(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vmxctl_err("%s: %s", path, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		vmxctl_err("%s: not a regular file", path);
		close(fd);
		return VMXCTL_EXIT_NOINPUT;
	}
	*len = st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		vmxctl_err("%s: %zu bytes: out of memory", path, *len);
		close(fd);
		return VMXCTL_EXIT_OSERR;
	}
	while (off < *len) {
		ssize_t n = read(fd, *buf + off, *len - off);

		if (n <= 0) {
			vmxctl_err("%s: read: %s", path,
				   n ? strerror(errno) : "the file shrank");
			close(fd);
			free(*buf);
			*buf = NULL;
			return VMXCTL_EXIT_NOINPUT;
		}
		off += n;
	}
	close(fd);
	return 0;
}

/* Copy @filesz bytes and zero up to @memsz at @gpa, checking the room. */
static int place(struct vmxctl_machine *m, const char *path, int idx,
		 uint64_t gpa, const void *src, uint64_t filesz, uint64_t memsz)
{
	uint64_t ram = vmxctl_config(m)->mem_size;
	uint64_t limit = ram - BOOT_AREA_SIZE;
	char *dst;

	if (memsz < filesz || gpa > limit || memsz > limit - gpa) {
		vmxctl_err("%s: segment %d at GPA 0x%llx (0x%llx bytes) does not fit in RAM below 0x%llx (--mem %llu MiB, the last 64 KiB reserved)",
			   path, idx, (unsigned long long)gpa,
			   (unsigned long long)memsz, (unsigned long long)limit,
			   (unsigned long long)(ram >> 20));
		return VMXCTL_EXIT_IMAGE;
	}
	dst = vmxctl_gpa_to_hva(m, gpa, memsz);
	if (!dst)
		return VMXCTL_EXIT_IMAGE;
	memcpy(dst, src, filesz);
	memset(dst + filesz, 0, memsz - filesz);
	return 0;
}

static int load_elf(struct vmxctl_machine *m, const char *path,
		    const unsigned char *img, size_t len, enum mode *mode,
		    uint64_t *entry)
{
	const Elf64_Ehdr *e64 = (const void *)img;
	const Elf32_Ehdr *e32 = (const void *)img;
	bool is64;
	unsigned int i, phnum, phentsize, loaded = 0;
	uint64_t phoff;
	int ret;

	if (len < EI_NIDENT || (img[EI_CLASS] != ELFCLASS32 &&
				img[EI_CLASS] != ELFCLASS64)) {
		vmxctl_err("%s: bad ELF header (class)", path);
		return VMXCTL_EXIT_IMAGE;
	}
	is64 = img[EI_CLASS] == ELFCLASS64;
	if (img[EI_DATA] != ELFDATA2LSB || len < sizeof(*e32) ||
	    (is64 && len < sizeof(*e64))) {
		vmxctl_err("%s: bad ELF header (truncated or big-endian)", path);
		return VMXCTL_EXIT_IMAGE;
	}
	if (is64) {
		if (e64->e_machine != EM_X86_64) {
			vmxctl_err("%s: 64-bit ELF for machine %u, not x86-64",
				   path, e64->e_machine);
			return VMXCTL_EXIT_IMAGE;
		}
		if (e64->e_type != ET_EXEC) {
			vmxctl_err("%s: not an executable ELF (type %u)", path,
				   e64->e_type);
			return VMXCTL_EXIT_IMAGE;
		}
		phoff = e64->e_phoff;
		phnum = e64->e_phnum;
		phentsize = e64->e_phentsize;
		*entry = e64->e_entry;
		if (phentsize != sizeof(Elf64_Phdr))
			phnum = 0;
	} else {
		if (e32->e_machine != EM_386) {
			vmxctl_err("%s: 32-bit ELF for machine %u, not i386",
				   path, e32->e_machine);
			return VMXCTL_EXIT_IMAGE;
		}
		if (e32->e_type != ET_EXEC) {
			vmxctl_err("%s: not an executable ELF (type %u)", path,
				   e32->e_type);
			return VMXCTL_EXIT_IMAGE;
		}
		phoff = e32->e_phoff;
		phnum = e32->e_phnum;
		phentsize = e32->e_phentsize;
		*entry = e32->e_entry;
		if (phentsize != sizeof(Elf32_Phdr))
			phnum = 0;
	}
	if (!phnum || phoff > len || (uint64_t)phnum * phentsize > len - phoff) {
		vmxctl_err("%s: bad ELF program headers (offset 0x%llx, %u of %u bytes)",
			   path, (unsigned long long)phoff, phnum, phentsize);
		return VMXCTL_EXIT_IMAGE;
	}
	for (i = 0; i < phnum; i++) {
		uint64_t type, off, filesz, memsz, paddr;

		if (is64) {
			const Elf64_Phdr *p = (const void *)(img + phoff +
							     i * phentsize);

			type = p->p_type, off = p->p_offset, filesz = p->p_filesz;
			memsz = p->p_memsz, paddr = p->p_paddr;
		} else {
			const Elf32_Phdr *p = (const void *)(img + phoff +
							     i * phentsize);

			type = p->p_type, off = p->p_offset, filesz = p->p_filesz;
			memsz = p->p_memsz, paddr = p->p_paddr;
		}
		if (type != PT_LOAD)
			continue;
		if (off > len || filesz > len - off) {
			vmxctl_err("%s: segment %u: file range 0x%llx+0x%llx beyond the file's %zu bytes",
				   path, i, (unsigned long long)off,
				   (unsigned long long)filesz, len);
			return VMXCTL_EXIT_IMAGE;
		}
		ret = place(m, path, i, paddr, img + off, filesz, memsz);
		if (ret)
			return ret;
		loaded++;
	}
	if (!loaded) {
		vmxctl_err("%s: no loadable segment", path);
		return VMXCTL_EXIT_IMAGE;
	}
	*mode = is64 ? MODE_LONG : MODE_PROT32;
	return 0;
}

void vmxctl_flat_segment(struct vmxl_segment *s, uint16_t sel, uint8_t type,
			 bool code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

static void build_boot_area(struct vmxctl_machine *m, bool paging)
{
	uint64_t base = vmxctl_config(m)->mem_size - BOOT_AREA_SIZE;
	uint64_t *t = vmxctl_gpa_to_hva(m, base, BOOT_AREA_SIZE);
	uint64_t *gdt, tss = base + BOOT_TSS;

	memset(t, 0, BOOT_AREA_SIZE);
	if (paging) {
		t[BOOT_PML4 / 8] = (base + BOOT_PDPT) | PTE_P | PTE_RW;
		for (unsigned int i = 0; i < 4; i++) {
			uint64_t *pd = t + (BOOT_PD + i * 0x1000) / 8;

			t[BOOT_PDPT / 8 + i] = (base + BOOT_PD + i * 0x1000) |
					       PTE_P | PTE_RW;
			for (unsigned int j = 0; j < 512; j++)
				pd[j] = ((uint64_t)i << 30) | ((uint64_t)j << 21) |
					PTE_P | PTE_RW | PTE_PS;
		}
	}
	gdt = t + BOOT_GDT / 8;
	gdt[SEL_CODE / 8] = paging ? 0x00af9b000000ffffULL :	/* 64-bit */
				     0x00cf9b000000ffffULL;	/* 32-bit */
	gdt[SEL_DATA / 8] = 0x00cf93000000ffffULL;
	gdt[SEL_TSS / 8] = 0x67 | ((tss & 0xffffff) << 16) | (0x89ULL << 40) |
			   (((tss >> 24) & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = tss >> 32;
}

static int set_boot_state(struct vmxctl_machine *m, unsigned int cpu,
			  enum mode mode, uint64_t entry)
{
	const struct vmxctl_config *cfg = vmxctl_config(m);
	uint64_t base = cfg->mem_size - BOOT_AREA_SIZE;
	int fd = vmxctl_vcpu_fd(m, cpu), ret;
	struct vmxl_sregs s;
	struct vmxl_regs r;

	ret = vmxlite_get_sregs(fd, &s);
	if (ret) {
		vmxctl_err("VMXL_GET_SREGS (vCPU %u): %s", cpu, strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rdi = cpu;
	r.rsi = cfg->nr_cpus;
	r.rdx = cfg->mem_size;
	if (mode == MODE_REAL) {
		s.cs.base = entry & 0xf0000;
		s.cs.selector = s.cs.base >> 4;
		r.rip = entry & 0xffff;
	} else {
		bool lm = mode == MODE_LONG;

		vmxctl_flat_segment(&s.cs, SEL_CODE, 11, lm);
		vmxctl_flat_segment(&s.ds, SEL_DATA, 3, false);
		s.es = s.fs = s.gs = s.ss = s.ds;
		memset(&s.tr, 0, sizeof(s.tr));
		s.tr.selector = SEL_TSS;
		s.tr.base = base + BOOT_TSS;
		s.tr.limit = 0x67;
		s.tr.type = 11;
		s.tr.present = 1;
		memset(&s.ldt, 0, sizeof(s.ldt));
		s.ldt.unusable = 1;
		s.ldt.type = 2;
		s.gdt.base = base + BOOT_GDT;
		s.gdt.limit = 5 * 8 - 1;
		s.idt.base = 0;
		s.idt.limit = 0;
		if (lm) {
			s.cr0 = 0x80050033;	/* PG WP NE ET MP PE */
			s.cr3 = base + BOOT_PML4;
			s.cr4 = 0x620;		/* OSXMMEXCPT OSFXSR PAE */
			s.efer = 0x500;		/* LMA LME */
		} else {
			s.cr0 = 0x33;		/* NE ET MP PE */
			s.cr4 = 0x600;		/* OSXMMEXCPT OSFXSR */
			s.efer = 0;
		}
		r.rip = entry;
		r.rsp = base - cpu * STACK_SIZE;
	}
	ret = vmxlite_set_sregs(fd, &s);
	if (ret) {
		vmxctl_err("VMXL_SET_SREGS (vCPU %u, %s mode): %s", cpu,
			   mode == MODE_LONG ? "long" :
			   mode == MODE_PROT32 ? "protected" : "real",
			   strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	ret = vmxlite_set_regs(fd, &r);
	if (ret) {
		vmxctl_err("VMXL_SET_REGS (vCPU %u, RIP 0x%llx): %s", cpu,
			   (unsigned long long)r.rip, strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	return 0;
}

int vmxctl_load_guest(struct vmxctl_machine *m, const char *path,
		      uint64_t load, bool have_load, uint64_t entry,
		      bool have_entry)
{
	unsigned char *img;
	enum mode mode;
	size_t len;
	unsigned int cpu;
	int ret;

	ret = vmxctl_read_file(path, &img, &len);
	if (ret)
		return ret;
	if (len >= 4 && !memcmp(img, ELFMAG, SELFMAG)) {
		if (have_load || have_entry) {
			vmxctl_err("%s: an ELF file: --load and --entry are for flat binaries",
				   path);
			ret = VMXCTL_EXIT_USAGE;
		} else {
			ret = load_elf(m, path, img, len, &mode, &entry);
		}
	} else if (!have_load) {
		vmxctl_err("%s: not an ELF file (give --load ADDR for a flat binary)",
			   path);
		ret = VMXCTL_EXIT_IMAGE;
	} else {
		mode = MODE_REAL;
		if (!have_entry)
			entry = load;
		if (entry >= 0x100000) {
			vmxctl_err("%s: entry 0x%llx: real mode starts below 1 MiB",
				   path, (unsigned long long)entry);
			ret = VMXCTL_EXIT_USAGE;
		} else {
			ret = place(m, path, 0, load, img, len, len);
		}
	}
	free(img);
	if (ret)
		return ret;
	build_boot_area(m, mode == MODE_LONG);
	for (cpu = 0; cpu < vmxctl_nr_vcpus(m) && !ret; cpu++)
		ret = set_boot_state(m, cpu, mode, entry);
	return ret;
}
