/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxctl: booting Linux (`vmxctl run --kernel`, vmxctl_linux.c). Internal
 * to vmxctl; the host unit test selftests/unit/test_linux.c builds the
 * boot data into a RAM buffer of its own through vmxctl_linux_build().
 *
 * The guest-physical places of the boot data below are all RAM under
 * 0x9fc00 (the memory map of issue 19, docs/vmxctl.md "Booting Linux").
 */
#ifndef VMXCTL_LINUX_H
#define VMXCTL_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/bootparam.h>	/* the zero page, as Linux publishes it */

struct vmxctl_machine;

#define LINUX_GDT		0x500ULL	/* null, null, code, data, TSS */
#define LINUX_TSS		0x580ULL
#define LINUX_START_INFO	0x6000ULL	/* PVH: struct hvm_start_info */
#define LINUX_MODLIST		0x6040ULL	/* PVH: module 0, the initrd */
#define LINUX_MEMMAP		0x6080ULL	/* PVH: the memory map */
#define LINUX_ZERO_PAGE		0x7000ULL	/* bzImage: struct boot_params */
#define LINUX_STACK_TOP		0x8ff0ULL	/* bzImage: RSP at the entry */
#define LINUX_PML4		0x9000ULL	/* PML4, PDPT, four PDs: 0-4 GiB */
#define LINUX_PDPT		0xa000ULL
#define LINUX_PD		0xb000ULL	/* 0xb000-0xefff */
#define LINUX_CMDLINE		0x20000ULL
#define LINUX_CMDLINE_MAX	0xffffULL	/* 64 KiB with its NUL */
#define LINUX_LOW_RAM_END	0x9fc00ULL	/* then EBDA/BIOS: reserved */
#define LINUX_HIGH_RAM		0x100000ULL
#define LINUX_BOOT_CS		0x10		/* __BOOT_CS */
#define LINUX_BOOT_DS		0x18		/* __BOOT_DS */
#define LINUX_BOOT_TR		0x20

/* With --kernel and no --mem: the Debian kernel needs ~80 MiB to boot. */
#define LINUX_DEFAULT_MEM	(256ULL << 20)

/* The PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h). */
#define HVM_START_MAGIC		0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

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

enum vmxctl_linux_proto { LINUX_BZIMAGE, LINUX_PVH };

/* The kernel file checked, and where everything will go. */
struct vmxctl_linux {
	const char *path, *initrd;	/* file names, for messages */
	unsigned char *img;		/* the kernel file */
	size_t len;
	enum vmxctl_linux_proto proto;
	uint64_t mem_size;		/* RAM the checks were made for */
	/* bzImage */
	size_t hdr_len;			/* setup header bytes from 0x1f1 */
	uint64_t pm_offset, pm_size;	/* protected-mode kernel in the file */
	uint64_t load_addr;
	/* PVH */
	uint32_t pvh_entry;
	/* both */
	uint64_t kernel_end;		/* above what the kernel needs to boot */
	uint64_t initrd_addr, initrd_size;
	const char *append;		/* --append, or NULL */
	size_t cmdline_max;		/* bytes without the NUL */
};

/* How vCPU 0 enters the kernel. */
struct vmxctl_linux_entry {
	bool long_mode;			/* bzImage 64-bit; PVH 32-bit, no paging */
	uint64_t rip, rsi, rbx, rsp;
};

/*
 * Read and check @path (and @initrd's size, and the command line against
 * the kernel's limit) for a machine of @mem_size bytes, before anything
 * opens /dev/vmx-lite: 0, or an exit status after a message naming the
 * file (65 not a kernel, truncated, too old, does not fit; 64 the command
 * line too long; 66 a file that cannot be read).
 */
int vmxctl_linux_open(struct vmxctl_linux *k, const char *path,
		      const char *initrd, const char *append,
		      uint64_t mem_size);
void vmxctl_linux_close(struct vmxctl_linux *k);

/*
 * The command line: the default (docs/vmxctl.md), tsc_early_khz= when
 * @tsc_khz is known, then --append. Into @buf of @size; its length.
 */
size_t vmxctl_linux_cmdline(const struct vmxctl_linux *k, uint32_t tsc_khz,
			    char *buf, size_t size);

/*
 * Everything in RAM: @ram is guest-physical 0 .. k->mem_size. The kernel,
 * the initrd (read from its file), command line, zero page or start info,
 * GDT, TSS, page tables; @rsdp is the ACPI RSDP (0: none, Linux scans
 * 0xe0000-0xfffff). Fills @e. 0, or an exit status after a message.
 */
int vmxctl_linux_build(const struct vmxctl_linux *k, void *ram,
		       uint32_t tsc_khz, uint64_t rsdp,
		       struct vmxctl_linux_entry *e);

/* Build into the machine's RAM (ACPI first) and set vCPU 0 at the entry. */
int vmxctl_linux_load(struct vmxctl_machine *m, const struct vmxctl_linux *k);

#endif /* VMXCTL_LINUX_H */
