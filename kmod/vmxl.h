/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx-lite internal interfaces: the machine-independent core (main.c,
 * vm.c, mmu.c) and the vendor backends (svm.c, vmx.c) meet here.
 */
#ifndef VMXL_H
#define VMXL_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/vmx_lite.h>

#include "x86_decode.h"

/* VMXL_VERSION: PACKAGE_VERSION of dkms.conf, defined by ./Kbuild */

struct vmxl_vm;
struct vmxl_vcpu;

/* ---- module-wide state (main.c) ---- */

extern struct vmxl_caps vmxl_caps;	/* read-only after module init */
extern const struct vmxl_backend *vmxl_backend;

/* Take / drop the hardware: enables VMX/SVM on every CPU on first get. */
int vmxl_hw_get(void);
void vmxl_hw_put(void);

/* ---- nested page tables (mmu.c), shared by NPT and EPT ---- */

/* How a backend spells a leaf / non-leaf entry of its nested tables. */
struct vmxl_mmu_fmt {
	u64 table;		/* bits of a non-leaf entry pointing to a table */
	u64 leaf_ro;		/* bits of a read-only 4 KiB leaf */
	u64 leaf_rw;		/* bits of a writable 4 KiB leaf */
	u64 present_mask;	/* an entry is present if any of these is set */
	/*
	 * The hardware-set dirty bit of a leaf, when the backend logs writes
	 * by it (VMX PML): logged pages are then mapped writable and clean,
	 * and cleaning one clears this bit. 0: log by write protection.
	 */
	u64 dirty_bit;
};

struct vmxl_mmu {
	const struct vmxl_mmu_fmt *fmt;
	u64 *root;		/* PML4 page */
	phys_addr_t root_pa;
	unsigned long nr_tables;	/* table pages in use, incl. root */
};

int vmxl_mmu_init(struct vmxl_mmu *mmu, const struct vmxl_mmu_fmt *fmt);
void vmxl_mmu_destroy(struct vmxl_mmu *mmu);
/* Map one 4 KiB guest page to host pfn; caller holds vm->mmu_lock. */
int vmxl_mmu_map(struct vmxl_mmu *mmu, u64 gpa, u64 pfn, bool writable);
/* Drop every mapping (tables freed, root kept zeroed). */
void vmxl_mmu_zap_all(struct vmxl_mmu *mmu);
/*
 * Re-arm dirty logging for @gpa: read-only again, or clean again where
 * the hardware logs writes (fmt->dirty_bit). Caller holds mmu_lock from
 * before the zeroed @walk's first use to after its last: the walk
 * remembers the last leaf table, so runs of pages cost one write each.
 */
struct vmxl_mmu_walk {
	u64 base;			/* 2 MiB region of @table */
	u64 *table;			/* its leaf table, NULL: none yet */
};

void vmxl_mmu_protect(struct vmxl_mmu *mmu, struct vmxl_mmu_walk *walk,
		      u64 gpa);

/* ---- VMs and vCPUs (vm.c) ---- */

struct vmxl_slot {
	u32 id;
	u32 flags;			/* VMXL_MEM_* */
	u64 gpa;
	u64 size;
	unsigned long uaddr;
	unsigned long npages;
	struct page **pages;		/* pinned, FOLL_LONGTERM */
	/*
	 * VMXL_MEM_LOG_DIRTY: a bit per page, set with atomic bitops by
	 * whoever writes; cleared with vm->run_sem held for write.
	 */
	unsigned long *dirty;
};

/*
 * Locking, outermost first:
 *  vcpu->mutex   (mutex)  one ioctl at a time per vCPU (RUN and state).
 *  vm->lock      (mutex)  slots[], vcpus[], nr_vcpus, mem_bytes: changes.
 *  vm->run_sem   (rwsem)  read: a vCPU inside one guest entry and its
 *                         exit handling; write: whoever frees or rewrites
 *                         nested tables or slots guests may be using.
 *                         Writers kick running vCPUs out first.
 *  vm->mmu_lock  (mutex)  the nested tables: vCPUs fill them on faults
 *                         concurrently while holding run_sem for read.
 * Readers of slots[] hold vm->lock or run_sem (either side).
 * vmxl_vms_lock (global mutex) comes before vm->lock: netlink dumps take
 * it, then each VM's lock.
 */
struct vmxl_vm {
	struct kref ref;	/* VM fd + one per vCPU fd */
	u32 id;
	struct list_head list;		/* vmxl_vms, under vmxl_vms_lock */
	struct pid *owner;		/* creating process (thread group) */
	kuid_t uid;			/* its euid */
	struct mutex lock;		/* slots[], vcpus[], nr_vcpus */
	struct rw_semaphore run_sem;	/* read: vCPUs in RUN; write: slot change */
	struct mutex mmu_lock;		/* the nested page tables */

	struct vmxl_slot **slots;	/* max_slots entries, NULL = free */
	struct vmxl_vcpu **vcpus;	/* max_vcpus entries */
	unsigned int nr_vcpus;
	unsigned int nr_slots;
	u64 mem_bytes;			/* sum of slot sizes */
	u64 closed_stats[__VMXL_STAT_MAX]; /* of vCPUs already closed */

	struct vmxl_mmu mmu;
	/* bumped on every zap: a vCPU that saw an older one flushes */
	atomic64_t tlb_gen;

	/* entries per vCPU dirty ring, 0: none; set once under lock */
	u32 dirty_ring_size;

	u32 flags;			/* VMXL_VM_* from creation */
	/* dma.c: the SMMU, set once under lock; smmu_lock: its model */
	struct vmxl_smmu *smmu;
	u64 smmu_base;			/* its register window's GPA */
	struct mutex smmu_lock;

	struct mm_struct *mm;		/* owner: pinning and accounting */
	struct user_struct *user;	/* RLIMIT_MEMLOCK accounting */
	void *backend_data;
};

/* Where a vCPU is, for kicks. */
enum vmxl_vcpu_mode {
	VMXL_OUTSIDE_GUEST = 0,
	VMXL_IN_GUEST = 1,
};

/* A completion the next RUN must perform before entering the guest. */
enum vmxl_pending {
	VMXL_PENDING_NONE = 0,
	VMXL_PENDING_IO_IN,	/* copy run->io.data to RAX or guest memory */
	VMXL_PENDING_MMIO_READ,	/* copy run->mmio.data to the register */
	VMXL_PENDING_HYPERCALL,	/* RAX = run->hypercall.ret */
};

struct vmxl_vcpu {
	struct vmxl_vm *vm;
	u32 id;
	struct mutex mutex;		/* every vCPU ioctl; all state below */
	struct vmxl_run *run;		/* the mmap'd page */
	int cpu;			/* last physical CPU, -1 = none */
	atomic_t mode;			/* enum vmxl_vcpu_mode */
	u64 tlb_gen;			/* vm->tlb_gen last flushed for */

	/* GPRs in encoding order; RAX/RSP mirrored from the VMCB/VMCS */
	u64 regs[16];
	u64 rip;
	u64 rflags;

	u8 fxsave[512] __aligned(16);	/* guest FPU, FXSAVE image */

	/* CPUID table the guest sees; under mutex */
	struct vmxl_cpuid_entry *cpuid;
	u32 nr_cpuid;

	/* MSRs the module emulates without hardware help */
	u64 apic_base;
	u64 misc_enable;
	u64 mtrr_def_type;
	u64 mtrr_fixed[11];
	u64 mtrr_var[16];		/* base/mask pairs, 8 ranges */
	u64 tsc_offset;
	u64 db[4];			/* guest DR0-3, emulated */

	enum vmxl_pending pending;
	struct vmxl_insn mmio_insn;	/* decoded load awaiting data */
	struct {			/* string IN awaiting data */
		u64 gpa;			/* element's translated address */
		bool rep;
		u8 addr_size;
	} pending_str;
	u64 pending_next_rip;

	/*
	 * Dirty ring, vmalloc_user(), shared with userspace. The vCPU appends
	 * at ring_tail (its own thread, run_sem read); VMXL_RESET_DIRTY_RINGS
	 * frees from ring_reset with run_sem held for write.
	 */
	struct vmxl_dirty_entry *ring;
	u32 ring_tail;
	u32 ring_reset;

	bool nmi_pending;
	bool nmi_masked;
	s32 irq_pending;		/* vector to inject, -1 = none */
	bool shutdown;			/* triple-faulted: stays stopped */
	bool switch_floor;		/* in VMXL_SWITCH_FLOOR: VMXL_EXIT_FLOOR */

	/*
	 * For netlink readers, lock-free: only the vCPU's own thread writes
	 * them (WRITE_ONCE), others read them with READ_ONCE.
	 */
	u64 stats[__VMXL_STAT_MAX];	/* enum vmxl_stat counts */
	bool in_run;			/* inside VMXL_RUN */
	u32 last_exit;			/* exit_reason the last RUN returned */

	void *backend_data;
};

/* Exit classification a backend returns from its run hook. */
enum vmxl_exit_action {
	VMXL_EXIT_RESUME = 0,	/* handled in the kernel: enter again */
	VMXL_EXIT_USER = 1,	/* run->exit_reason filled: return to user */
	/*
	 * With vcpu->switch_floor set: a hypercall exit taken back as it
	 * came, RIP unmoved and nothing emulated (VMXL_SWITCH_FLOOR).
	 */
	VMXL_EXIT_FLOOR = 2,
};

/*
 * One backend per vendor, chosen once at module load, shaped like NetBSD
 * NVMM's nvmm_impl. Hooks run in process context with vcpu->mutex held
 * unless said otherwise.
 */
struct vmxl_backend {
	const char *name;
	u32 id;				/* enum vmxl_backend_id */
	const struct vmxl_mmu_fmt *mmu_fmt;
	/*
	 * Fill the vendor fields of @caps from CPUID and MSRs. Returns 0
	 * when the backend can run guests, -ENODEV when this CPU is not of
	 * the vendor or lacks the extension, another errno when it exists
	 * but is unusable (caps->backend_status then says why).
	 */
	int (*probe)(struct vmxl_caps *caps);
	int (*init)(void);		/* allocate per-CPU areas */
	void (*fini)(void);
	/* On this CPU, preemption off. -EBUSY if someone else owns it. */
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);

	int (*vcpu_create)(struct vmxl_vcpu *vcpu);
	void (*vcpu_destroy)(struct vmxl_vcpu *vcpu);
	/*
	 * Enter the guest once and classify the exit. Called with
	 * vm->run_sem held for read and preemption enabled. vcpu->regs,
	 * rip and rflags are authoritative outside this hook: the backend
	 * loads them before entry and stores them back after the exit.
	 */
	enum vmxl_exit_action (*vcpu_run)(struct vmxl_vcpu *vcpu);
	void (*get_sregs)(struct vmxl_vcpu *vcpu, struct vmxl_sregs *sregs);
	int (*set_sregs)(struct vmxl_vcpu *vcpu, const struct vmxl_sregs *sregs);
	/*
	 * MSRs kept in hardware state; -ENOENT if not the backend's. set_msr
	 * gets a value the core already checked and narrowed.
	 */
	int (*get_msr)(struct vmxl_vcpu *vcpu, u32 index, u64 *data);
	int (*set_msr)(struct vmxl_vcpu *vcpu, u32 index, u64 data);
	/* Can an external interrupt be injected now? */
	bool (*interruptible)(struct vmxl_vcpu *vcpu);
};

extern const struct vmxl_backend vmxl_svm_backend;
extern const struct vmxl_backend vmxl_vmx_backend;

/* One more exit of kind @stat (enum vmxl_stat); backends call it once per exit. */
static inline void vmxl_count_exit(struct vmxl_vcpu *vcpu, unsigned int stat)
{
	WRITE_ONCE(vcpu->stats[VMXL_STAT_EXITS],
		   vcpu->stats[VMXL_STAT_EXITS] + 1);
	WRITE_ONCE(vcpu->stats[stat], vcpu->stats[stat] + 1);
}

/* Every VM, by ascending id; vmxl_vms_gen changes whenever one comes or goes. */
extern struct list_head vmxl_vms;
extern struct mutex vmxl_vms_lock;
extern unsigned long vmxl_vms_gen;

/* dma.c: the VM's SMMU and device DMA through it */
struct vmxl_smmu_txn;
long vmxl_create_smmu(struct vmxl_vm *vm, void __user *argp);
void vmxl_smmu_free(struct vmxl_vm *vm);
bool vmxl_smmu_overlaps(struct vmxl_vm *vm, u64 gpa, u64 end);
bool vmxl_smmu_mmio(struct vmxl_vcpu *vcpu, u64 gpa,
		    const struct vmxl_insn *insn);
long vmxl_smmu_dma_ioctl(struct vmxl_vm *vm, void __user *argp, bool copy);

/* netlink.c: the generic netlink family and its events */
int vmxl_nl_init(void);
void vmxl_nl_exit(void);
void vmxl_nl_vm_event(struct vmxl_vm *vm, bool created);
void vmxl_nl_vcpu_created(struct vmxl_vm *vm, u32 vcpu_id);
void vmxl_nl_vcpu_stopped(struct vmxl_vcpu *vcpu, u32 reason, u64 detail);
void vmxl_nl_smmu_fault(struct vmxl_vm *vm, const struct vmxl_smmu_txn *t,
			const u64 *event);
/* @vm's exit counters, live vCPUs and closed ones; caller holds vm->lock */
void vmxl_vm_stats(struct vmxl_vm *vm, u64 *stats);

/* vm.c entry points for main.c */
void vmxl_core_init(void);
long vmxl_create_vm(unsigned long flags);
int vmxl_default_cpuid(struct vmxl_cpuid_entry *out, u32 max);
int vmxl_cpuid_copy_out(void __user *argp, const struct vmxl_cpuid_entry *tab,
			u32 n);
void vmxl_object_counts(long *vms, long *vcpus, long *pinned);
long vmxl_mmu_table_pages(void);

/* A port I/O exit as a backend decoded it. */
struct vmxl_io_info {
	u16 port;
	u8 size;			/* 1, 2, 4 */
	u8 addr_size;			/* string forms: 2, 4, 8 */
	bool in;
	bool string;
	bool rep;
	u64 next_rip;
	u64 seg_base;			/* DS (or override) for OUTS, ES for INS */
	struct vmxl_walk_ctx walk;	/* string forms: guest paging */
};

/* Helpers backends call from their exit handlers. */
bool vmxl_gpa_is_ram(struct vmxl_vm *vm, u64 gpa, bool write);
int vmxl_handle_ram_fault(struct vmxl_vcpu *vcpu, u64 gpa, bool write);
/* Caller holds vm->lock or run_sem. */
bool vmxl_slots_overlap(struct vmxl_vm *vm, u64 gpa, u64 end, u32 except);
int vmxl_read_gpa(struct vmxl_vm *vm, u64 gpa, void *buf, unsigned int len);
int vmxl_gpa_write(struct vmxl_vm *vm, u64 gpa, const void *buf,
		   unsigned int len);
int vmxl_gpa_user_copy(struct vmxl_vm *vm, u64 gpa, void __user *ubuf,
		       unsigned int len, bool to_guest);
int vmxl_write_gpa(struct vmxl_vcpu *vcpu, u64 gpa, const void *buf,
		   unsigned int len);
void vmxl_emulate_cpuid(struct vmxl_vcpu *vcpu);
/* 0: done; -ENOENT / -EINVAL: inject #GP */
int vmxl_emulate_rdmsr(struct vmxl_vcpu *vcpu, u32 index, u64 *data);
int vmxl_emulate_wrmsr(struct vmxl_vcpu *vcpu, u32 index, u64 data);
/* Fill run for an MMIO exit after decoding the faulting instruction. */
enum vmxl_exit_action vmxl_mmio_exit(struct vmxl_vcpu *vcpu,
				     const struct vmxl_walk_ctx *walk,
				     u64 linear_rip, enum vmxl_cpu_mode mode,
				     u64 gpa);
enum vmxl_exit_action vmxl_io_exit(struct vmxl_vcpu *vcpu,
				   const struct vmxl_io_info *io);
enum vmxl_exit_action vmxl_hypercall_exit(struct vmxl_vcpu *vcpu);
/* A write the hardware logged at @gpa (PML); caller holds run_sem. */
void vmxl_log_dirty_gpa(struct vmxl_vcpu *vcpu, u64 gpa);
u32 vmxl_dirty_ring_room(const struct vmxl_vcpu *vcpu);
int vmxl_msr_exit(struct vmxl_vcpu *vcpu, bool write);
unsigned int vmxl_insn_prefixes(const struct vmxl_walk_ctx *w, u64 linear_rip,
				bool long64, int *seg);
/* Around a guest entry: guest x87/SSE in, XCR0 narrowed, preemption off. */
u64 vmxl_load_guest_fpu(struct vmxl_vcpu *vcpu);
void vmxl_put_guest_fpu(struct vmxl_vcpu *vcpu, u64 host_xcr0);
enum vmxl_exit_action vmxl_internal_error(struct vmxl_vcpu *vcpu, u32 sub,
					  u64 data0, u64 data1);

#endif /* VMXL_H */
