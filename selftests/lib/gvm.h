/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host side of the guest-code library: one VM with long-mode guests that
 * run C functions of the test binary, on either hypervisor of the boot.
 * GVM_VMXL drives /dev/vmx-lite, GVM_KVM drives /dev/kvm, through the same
 * calls, so a test can run one guest on both and compare what it saw.
 *
 * Guest-physical layout (one RAM slot at 0, GVM_MEM_SIZE bytes):
 *   0x00000 - 0x0ffff  free for real-mode code and data
 *   0x10000 - ...      page tables, GDT, IDT, TSS (bump allocated)
 *   0x200000 + 64 KiB * vcpu: stacks (identity-mapped)
 *   0x400000 - ...     the copy of the test binary's image
 *   above GVM_MEM_SIZE up to 4 GiB: no RAM, so MMIO exits
 */
#ifndef VMXL_GVM_H
#define VMXL_GVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vmx_lite.h>

#include "guest.h"

#define GVM_MEM_SIZE	(16u << 20)
#define GVM_MAX_VCPUS	4
#define GVM_CODE16_GPA	0x8000	/* where gvm_enter_real_mode() puts code */
#define GVM_STACKS_GPA	0x200000
#define GVM_STACK_SIZE	0x10000
#define GVM_IMAGE_GPA	0x400000

enum gvm_kind { GVM_VMXL, GVM_KVM };

/* Exit reasons both hypervisors share; raw codes in gvm_exit.raw. */
enum gvm_exit_reason {
	GVM_EXIT_IO = 1,
	GVM_EXIT_MMIO,
	GVM_EXIT_HLT,
	GVM_EXIT_HYPERCALL,
	GVM_EXIT_SHUTDOWN,
	GVM_EXIT_UCALL,		/* an OUT to UCALL_PORT, decoded */
	GVM_EXIT_OTHER,
};

struct gvm_exit {
	enum gvm_exit_reason reason;
	uint32_t raw;		/* the hypervisor's own exit reason */
	uint16_t port;		/* IO */
	uint8_t size;		/* IO: element size; MMIO: length */
	uint8_t write;		/* IO OUT or MMIO write */
	uint32_t count;		/* IO: elements (KVM batches string I/O) */
	uint64_t addr;		/* MMIO: guest-physical address */
	uint64_t data;		/* IO OUT / MMIO write: the value */
	struct ucall uc;	/* GVM_EXIT_UCALL */
};

struct gvm {
	enum gvm_kind kind;
	int sys_fd, vm_fd;
	int vcpu_fd[GVM_MAX_VCPUS];
	void *run[GVM_MAX_VCPUS];
	size_t run_size;
	int nr_vcpus;
	uint8_t *mem;
	uint64_t next_page;	/* bump allocator for tables, GPA */
	uint64_t pml4, gdt, idt, tss;
};

/* Names for messages: "vmx-lite" or "kvm". */
const char *gvm_kind_name(enum gvm_kind kind);

/*
 * Create a VM with GVM_MEM_SIZE of RAM, long-mode page tables, GDT, IDT
 * and the test binary's image in place, and @nr_vcpus vCPUs. For GVM_KVM,
 * kvm_amd/kvm_intel must be loaded; for GVM_VMXL, vmx_lite. 0 or -errno
 * (with a message on stderr naming the step that failed).
 */
int gvm_create(struct gvm *vm, enum gvm_kind kind, int nr_vcpus);
void gvm_destroy(struct gvm *vm);

/*
 * Point vCPU @cpu at guest function @fn in 64-bit mode with @arg0/@arg1
 * as its arguments. When @fn returns, the guest reports UCALL_DONE.
 */
int gvm_enter_long_mode(struct gvm *vm, int cpu, void *fn, uint64_t arg0,
			uint64_t arg1);

/*
 * Copy 16-bit code to GVM_CODE16_GPA and start vCPU @cpu there (CS=0).
 * The code finds a parameter block at GVM_RM_PARAMS: +0 a GDTR image
 * (limit, 32-bit base) for the library's GDT, +0x10 CR3 of its page
 * tables, +0x18 @fn, +0x20 a stack pointer for @fn, +0x28 @arg0; so it
 * can switch to long mode by itself and jump to @fn.
 */
#define GVM_RM_PARAMS	0x7000
int gvm_enter_real_mode(struct gvm *vm, int cpu, const void *code,
			size_t len, void *fn, uint64_t arg0);

/*
 * Run vCPU @cpu until it exits to us. Returns 0 with @exit filled, or
 * -errno from the RUN ioctl.
 */
int gvm_run(struct gvm *vm, int cpu, struct gvm_exit *exit);

/*
 * Finish what the last exit left pending (an IN's data, a skipped OUT)
 * without running guest code: RUN with immediate_exit. KVM's registers
 * are only final after this; vmx-lite's already are.
 */
int gvm_settle(struct gvm *vm, int cpu);

/* Data for the IN or MMIO read of the last exit, used by the next run. */
void gvm_complete_read(struct gvm *vm, int cpu, uint64_t data);

/* Registers in the order of struct vmxl_regs, for both kinds. */
int gvm_get_regs(struct gvm *vm, int cpu, struct vmxl_regs *regs);
int gvm_set_regs(struct gvm *vm, int cpu, const struct vmxl_regs *regs);
/* struct vmxl_sregs has struct kvm_sregs' layout; reserved[] is zeroed. */
int gvm_get_sregs(struct gvm *vm, int cpu, struct vmxl_sregs *sregs);
int gvm_set_sregs(struct gvm *vm, int cpu, const struct vmxl_sregs *sregs);
/* Set the CPUID table the guest sees; the same shape for both kinds. */
int gvm_set_cpuid(struct gvm *vm, int cpu, const struct vmxl_cpuid_entry *e,
		  unsigned int n);

/* Host pointer to guest-physical @gpa (NULL if outside RAM). */
void *gvm_gpa(struct gvm *vm, uint64_t gpa, size_t len);

/* A readable description of an exit, for failure messages. */
const char *gvm_exit_str(const struct gvm_exit *exit, char *buf, size_t len);

/* Text of a UCALL_ASSERT or UCALL_EXCEPTION, for failure messages. */
const char *gvm_ucall_str(const struct ucall *uc, char *buf, size_t len);

/* Load the hypervisor of @kind (unloading the other); 0 or -errno. */
int gvm_hypervisor_load(enum gvm_kind kind);
int gvm_hypervisor_unload(enum gvm_kind kind);
/*
 * Load vmx_lite with module parameters @params, unloading KVM and a
 * vmx_lite loaded with others first; 0 or -errno.
 */
int gvm_vmxl_reload(const char *params);

#endif
