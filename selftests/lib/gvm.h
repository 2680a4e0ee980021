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
	GVM_EXIT_EOI,		/* vmx-lite's VMXL_EXIT_EOI: vector in data */
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
	unsigned int flags;	/* GVM_LAPIC, ... as given to gvm_create_flags */
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
 * gvm_create() with options:
 * GVM_LAPIC: every vCPU gets an in-kernel local APIC. vmx-lite: a VM
 *   created with VMXL_VM_LAPIC. KVM: KVM_CAP_SPLIT_IRQCHIP (24 IOAPIC
 *   routes, the IOAPIC and PIC left to userspace as with vmx-lite), and
 *   each vCPU's CPUID also offers TSC-deadline (leaf 1 ECX[24], which
 *   KVM_GET_SUPPORTED_CPUID leaves to userspace) and carries its APIC ID
 *   in leaf 1 EBX[31:24]. vCPUs other than 0 then wait for INIT/STARTUP
 *   (vmx-lite: VMXL_MP_INIT_RECEIVED, KVM: UNINITIALIZED) until
 *   gvm_set_mp_state(GVM_MP_RUNNABLE) starts them where their registers
 *   say.
 */
#define GVM_LAPIC	(1u << 0)
int gvm_create_flags(struct gvm *vm, enum gvm_kind kind, int nr_vcpus,
		     unsigned int flags);

/* The guest TSC's rate in kHz: caps.tsc_khz, KVM_GET_TSC_KHZ; 0 unknown. */
uint64_t gvm_tsc_khz(struct gvm *vm);

/*
 * An MSI (GVM_LAPIC VMs): VMXL_SIGNAL_MSI or KVM_SIGNAL_MSI with
 * @address_lo / @data. Returns what the ioctl returns (vmx-lite: the
 * number of APICs that took it; KVM: > 0 delivered, 0 blocked) or -errno.
 */
int gvm_signal_msi(struct gvm *vm, uint32_t address_lo, uint32_t data);

/*
 * The local APIC state in vmx-lite's blob. For KVM, regs is struct
 * kvm_lapic_state (the same page layout; its current count register
 * 0x390 is what KVM restarts the timer from) and timer_deadline is 0
 * on GET and ignored on SET.
 */
int gvm_get_lapic(struct gvm *vm, int cpu, struct vmxl_lapic_state *s);
int gvm_set_lapic(struct gvm *vm, int cpu, const struct vmxl_lapic_state *s);

/*
 * MP state in vmx-lite's values (enum vmxl_mp_state_value). KVM's map:
 * RUNNABLE and HALTED to themselves, UNINITIALIZED and INIT_RECEIVED to
 * VMXL_MP_INIT_RECEIVED, SIPI_RECEIVED to RUNNABLE (it runs at its next
 * KVM_RUN); on SET, INIT_RECEIVED is KVM's INIT_RECEIVED.
 */
#define GVM_MP_RUNNABLE		VMXL_MP_RUNNABLE
#define GVM_MP_HALTED		VMXL_MP_HALTED
#define GVM_MP_INIT_RECEIVED	VMXL_MP_INIT_RECEIVED
int gvm_get_mp_state(struct gvm *vm, int cpu, uint32_t *state);
int gvm_set_mp_state(struct gvm *vm, int cpu, uint32_t state);

/* One MSR of vCPU @cpu (GET_MSRS / SET_MSRS of one entry); 0 or -errno. */
int gvm_get_msr(struct gvm *vm, int cpu, uint32_t index, uint64_t *data);
int gvm_set_msr(struct gvm *vm, int cpu, uint32_t index, uint64_t data);

/*
 * Where the guest's copy of test-binary object @p (a global the guest
 * code uses) lies in this process: read what the guest wrote there.
 */
void *gvm_image_ptr(struct gvm *vm, const void *p);

/*
 * Run vCPUs 0 .. @nr - 1 at once, one thread each. Every exit of vCPU
 * cpu goes to @fn(vm, cpu, exit, arg) on that vCPU's thread: 0 runs it
 * again, > 0 stops that vCPU, < 0 stops every vCPU and is returned. A
 * RUN error stops every vCPU and is returned. When @timeout_ms passes
 * before every vCPU stopped, the others are kicked out of RUN (a signal,
 * then immediate_exit) and -ETIMEDOUT is returned; *@stopped (if not
 * NULL) gets a bit per vCPU that stopped by itself.
 */
typedef int (*gvm_exit_fn)(struct gvm *vm, int cpu, struct gvm_exit *e,
			   void *arg);
int gvm_run_parallel(struct gvm *vm, int nr, gvm_exit_fn fn, void *arg,
		     int timeout_ms, unsigned int *stopped);

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
