/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx-lite internal interfaces: the machine-independent core (main.c,
 * vm.c, vcpu.c, dirty.c, iobus.c, mmu.c), the x86 work both vendors share
 * (x86.c, x86_exit.c, x86_decode.c) and the vendor backends (svm.c,
 * vmx.c) meet here.
 */
#ifndef VMXL_H
#define VMXL_H

#include <asm/processor-flags.h>
#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/tracepoint-defs.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
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
	/*
	 * The dirty bit the hardware sets in leaves even when it does not
	 * log by it (VMX with EPT A/D bits and pml=0), 0: none. Write
	 * protection misses a write that it still marks, see reset.c.
	 */
	u64 hw_dirty;
};

struct vmxl_mmu {
	/* the tables: vCPUs fill them on faults concurrently, under run_sem read */
	struct mutex lock;
	const struct vmxl_mmu_fmt *fmt;
	u64 *root;		/* PML4 page */
	phys_addr_t root_pa;
	unsigned long nr_tables;	/* table pages in use, incl. root */
};

int vmxl_mmu_init(struct vmxl_mmu *mmu, const struct vmxl_mmu_fmt *fmt);
void vmxl_mmu_destroy(struct vmxl_mmu *mmu);
/* Map one 4 KiB guest page to host pfn; mmu->lock held. */
int vmxl_mmu_map(struct vmxl_mmu *mmu, u64 gpa, u64 pfn, bool writable);
/* Drop every mapping (tables freed, root kept zeroed); mmu->lock held. */
void vmxl_mmu_zap_all(struct vmxl_mmu *mmu);
/*
 * Re-arm dirty logging for @gpa: read-only again, or clean again where
 * the hardware logs writes (fmt->dirty_bit). mmu->lock is held from
 * before the zeroed @walk's first use to after its last: the walk
 * remembers the last leaf table, so runs of pages cost one write each.
 */
struct vmxl_mmu_walk {
	u64 base;			/* 2 MiB region of @table */
	u64 *table;			/* its leaf table, NULL: none yet */
};

void vmxl_mmu_protect(struct vmxl_mmu *mmu, struct vmxl_mmu_walk *walk,
		      u64 gpa);
/* Set the bit of each of @npages from @gpa whose leaf has fmt->hw_dirty. */
void vmxl_mmu_hw_dirty(struct vmxl_mmu *mmu, u64 gpa, unsigned long npages,
		       unsigned long *bits);

/* ---- in-kernel devices (iobus.c) ---- */

/*
 * The handlers of an in-kernel device. They run on the vCPU's thread,
 * under run_sem read, once per guest access of @size bytes (1, 2, 4 or 8)
 * at @off from the device's base; the core has decoded the instruction,
 * and moves the data to or from the register and steps RIP itself. A
 * read-modify-write instruction is a read, then a write.
 */
struct vmxl_iodev_ops {
	u64 (*read)(struct vmxl_vcpu *vcpu, void *priv, u64 off,
		    unsigned int size);
	void (*write)(struct vmxl_vcpu *vcpu, void *priv, u64 off,
		      unsigned int size, u64 val);
};

struct vmxl_iodev {
	u64 base;
	u64 len;
	const struct vmxl_iodev_ops *ops;
	void *priv;
};

/* Appended under vm->lock, read without it: see iobus.c. */
struct vmxl_iobus {
	struct vmxl_iodev devs[4];
	unsigned int nr;
};

int vmxl_iodev_add(struct vmxl_vm *vm, u64 base, u64 len,
		   const struct vmxl_iodev_ops *ops, void *priv);
bool vmxl_iobus_overlaps(const struct vmxl_iobus *bus, u64 start, u64 end);
bool vmxl_iodev_mmio(struct vmxl_vcpu *vcpu, u64 gpa, unsigned int size,
		     bool write, u64 *val);

/* ---- VMs and vCPUs (vm.c, vcpu.c) ---- */

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
	/*
	 * With a reset point (reset.c): a bit per page written since the
	 * point or the last reset, owned by the point. Set like dirty (with
	 * it, by the same hooks); cleared with vm->run_sem held for write.
	 */
	unsigned long *written;
};

/* Writes to @slot are seen: for its dirty log, or for a reset point. */
static inline bool vmxl_slot_tracked(const struct vmxl_slot *slot)
{
	return slot->dirty || slot->written;
}

/*
 * Locking, outermost first (docs/design.md has the same list):
 *  vmxl_hw_lock    (mutex, main.c) the count of VMs that need VMX/SVM on;
 *                  taken with the CPU hotplug read lock inside it.
 *  vmxl_vms_lock   (mutex) the list of VMs, their ids, vmxl_vms_gen;
 *                  netlink dumps take it, then each VM's lock.
 *  vcpu->mutex     (mutex) one ioctl at a time per vCPU (RUN and state);
 *                  its APIC's registers, timer and MP state.
 *  vm->lock        (mutex) slots[], vcpus[], nr_vcpus, mem_bytes, the
 *                  device table and dirty ring size: changes.
 *  vm->run_sem     (rwsem) read: a vCPU inside one guest entry and its
 *                  exit handling, a device model's DMA; write: whoever
 *                  frees or rewrites nested tables or slots guests may be
 *                  using. Writers kick running vCPUs out first.
 *  vm->smmu_lock   (mutex) the SMMU model (smmu.c): every call into it.
 *  vm->mmu.lock    (mutex) the nested tables: vCPUs fill them on faults
 *                  concurrently while holding run_sem for read.
 * Readers of slots[] hold vm->lock or run_sem (either side):
 * vmxl_assert_slots_stable().
 */
struct vmxl_vm {
	struct kref ref;	/* VM fd + one per vCPU fd */
	u32 id;
	struct list_head list;		/* vmxl_vms, under vmxl_vms_lock */
	struct pid *owner;		/* creating process (thread group) */
	kuid_t uid;			/* its euid */
	struct mutex lock;		/* slots[], vcpus[], nr_vcpus */
	struct rw_semaphore run_sem;	/* read: vCPUs in RUN; write: slot change */

	struct vmxl_slot **slots;	/* max_slots entries, NULL = free */
	struct vmxl_vcpu **vcpus;	/* max_vcpus entries */
	unsigned int nr_vcpus;
	unsigned int nr_slots;
	u64 mem_bytes;			/* sum of slot sizes */
	u64 closed_stats[__VMXL_STAT_MAX]; /* of vCPUs already closed */

	struct vmxl_mmu mmu;		/* its own lock: mmu.lock */
	/* bumped on every zap: a vCPU that saw an older one flushes */
	atomic64_t tlb_gen;

	/* entries per vCPU dirty ring, 0: none; set once under lock */
	u32 dirty_ring_size;

	/*
	 * VMXL_SET_CLOCK: every vCPU's TSC offset, applied at its next
	 * entry or vCPU ioctl when tsc_gen moved. Written under lock
	 * (offset, then generation), read without it.
	 */
	u64 tsc_offset;
	u32 tsc_gen;

	u32 flags;			/* VMXL_VM_* from creation */
	struct vmxl_iobus mmio_bus;	/* in-kernel devices; added under lock */
	/* dma.c: the SMMU, set once under lock */
	struct vmxl_smmu *smmu;
	struct mutex smmu_lock;		/* every call into the SMMU model */

	struct mm_struct *mm;		/* owner: pinning and accounting */

	/* reset.c: VMXL_SET_RESET_POINT's copy; under lock and run_sem write */
	struct vmxl_rpoint *reset_point;
};

/* Slots stay as they are: vm->lock or run_sem (either side) is held. */
static inline void vmxl_assert_slots_stable(struct vmxl_vm *vm)
{
	lockdep_assert(lockdep_is_held(&vm->lock) ||
		       lockdep_is_held(&vm->run_sem));
}

/*
 * The slot holding @gpa, or NULL. Inline: every guest-physical access
 * (instruction fetches and page walks for MMIO decoding among them)
 * looks its slot up.
 */
static inline struct vmxl_slot *vmxl_slot_find(struct vmxl_vm *vm, u64 gpa)
{
	struct vmxl_slot *slot;
	unsigned int i;

	vmxl_assert_slots_stable(vm);
	for (i = 0; i < vmxl_caps.max_slots; i++) {
		slot = vm->slots[i];
		if (slot && gpa >= slot->gpa && gpa - slot->gpa < slot->size)
			return slot;
	}
	return NULL;
}

/* Where a vCPU is, for kicks. */
enum vmxl_vcpu_mode {
	VMXL_OUTSIDE_GUEST = 0,
	VMXL_IN_GUEST = 1,
};

/* A completion the next RUN must perform before entering the guest. */
enum vmxl_pending {
	VMXL_PENDING_NONE = 0,
	VMXL_PENDING_IO_IN,	/* copy run->io.data to RAX or guest memory */
	VMXL_PENDING_MMIO_READ,	/* finish vcpu->mmio_insn with run->mmio.data */
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
	u64 msr_hwcr;			/* AMD HWCR: TscFreqSel, McStatusWrEn */
	u64 mtrr_def_type;
	u64 mtrr_fixed[11];
	u64 mtrr_var[16];		/* base/mask pairs, 8 ranges */
	u32 tsc_gen;			/* vm->tsc_gen last applied */
	u64 db[4];			/* guest DR0-3, emulated */
	/*
	 * DR6 trap bits (B0-B3, BS) of the #DB an instruction the module
	 * completed owes the guest, 0: none. The backend raises it at the
	 * next entry (vmxl_dr6_deliver()), before an NMI or interrupt.
	 */
	u32 db_pending;
	u64 dr7;			/* the guest's, as of the last exit */
	u32 mmio_db;			/* data breakpoints mmio_insn hits */

	enum vmxl_pending pending;
	struct vmxl_insn mmio_insn;	/* decoded MMIO access in progress */
	u64 mmio_gpa;			/* ... where it reads (and an RMW writes) */
	u64 mmio_dst_gpa;		/* MOVS: where the element goes */
	bool mmio_dst_ram;		/* ... and whether that is RAM */
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
	/*
	 * With an APIC: the class (vector >> 4) of the vector that waits for
	 * an interrupt window, -1 = none. The backend asks for the window;
	 * SVM also lets CR8, which the guest changes without an exit, open it.
	 */
	s8 irq_window_prio;

	/* VMXL_VM_LAPIC (lapic.c), NULL without; locking there */
	struct vmxl_lapic *lapic;
	u32 mp_state;			/* enum vmxl_mp_state_value */
	/*
	 * VMXL_REQ_* bits: anyone sets them (atomic, vmxl_vcpu_kick()), the
	 * vCPU's thread takes them all before each entry. Nonzero after
	 * IN_GUEST is published: the entry is abandoned.
	 */
	unsigned long requests;
	wait_queue_head_t wq;		/* a vCPU that is not runnable waits */
	bool shutdown;			/* triple-faulted: stays stopped */
	bool switch_floor;		/* in VMXL_SWITCH_FLOOR: VMXL_EXIT_FLOOR */

	/*
	 * For netlink readers, lock-free: only the vCPU's own thread writes
	 * them (WRITE_ONCE), others read them with READ_ONCE.
	 */
	u64 stats[__VMXL_STAT_MAX];	/* enum vmxl_stat counts */
	bool in_run;			/* inside VMXL_RUN */
	u32 last_exit;			/* exit_reason the last RUN returned */

	/* The last exit as the backend read it, for the vmxl_exit event. */
	u64 exit_raw;			/* SVM exit code, VMX basic reason */
	u64 exit_qual;			/* EXITINFO1, exit qualification */

	void *backend_data;
};

/*
 * An event in flight as both vendors encode it (APM EVENTINJ, SDM
 * VM-entry interruption information): vector 7:0, type 10:8
 * (VMXL_EVT_*), error code valid 11, valid 31.
 */
#define VMXL_EVT_VALID		BIT(31)
#define VMXL_EVT_HAS_ERR	BIT(11)
#define VMXL_EVT_TYPE(info)	(((info) >> 8) & 7)
#define VMXL_EVT_INTR		0
#define VMXL_EVT_NMI		2
#define VMXL_EVT_EXCEPTION	3

struct vmxl_hw_events {
	u32 info;			/* VMXL_EVT_*, 0: nothing in flight */
	u32 err;
	u8 shadow;			/* VMXL_SHADOW_* */
	bool nmi_masked;		/* the guest's NMI handler runs */
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
	/* Drop an event queued for the next entry, and the interrupt shadow. */
	void (*cancel_events)(struct vmxl_vcpu *vcpu);
	/* DR6/DR7; set gets 32-bit values and applies their fixed bits. */
	void (*get_dr67)(struct vmxl_vcpu *vcpu, u64 *dr6, u64 *dr7);
	void (*set_dr67)(struct vmxl_vcpu *vcpu, u64 dr6, u64 dr7);
	/* guest TSC = host TSC + @offset */
	void (*set_tsc_offset)(struct vmxl_vcpu *vcpu, u64 offset);
	/*
	 * The event the next entry delivers and the blocking state, in
	 * struct vmxl_hw_events (vcpu.c checked what set gets). get turns a
	 * software interrupt or exception in flight back into its
	 * instruction (RIP on it, nothing queued).
	 */
	void (*get_events)(struct vmxl_vcpu *vcpu, struct vmxl_hw_events *h);
	void (*set_events)(struct vmxl_vcpu *vcpu,
			   const struct vmxl_hw_events *h);
};

extern const struct vmxl_backend vmxl_svm_backend;
extern const struct vmxl_backend vmxl_vmx_backend;

DECLARE_TRACEPOINT(vmxl_exit);
void vmxl_trace_exit(struct vmxl_vcpu *vcpu, unsigned int stat);

/*
 * One more exit of kind @stat (enum vmxl_stat), traced with the raw
 * exit_raw/exit_qual the backend stored: backends call it once per exit,
 * in the case of their dispatch switch that handles it. Inline, and the
 * event out of line behind its static key, as the hottest path wants.
 */
static inline void vmxl_count_exit(struct vmxl_vcpu *vcpu, unsigned int stat)
{
	WRITE_ONCE(vcpu->stats[VMXL_STAT_EXITS],
		   vcpu->stats[VMXL_STAT_EXITS] + 1);
	WRITE_ONCE(vcpu->stats[stat], vcpu->stats[stat] + 1);
	if (tracepoint_enabled(vmxl_exit))
		vmxl_trace_exit(vcpu, stat);
}

/* Every VM, by ascending id; vmxl_vms_gen changes whenever one comes or goes. */
extern struct list_head vmxl_vms;
extern struct mutex vmxl_vms_lock;
extern unsigned long vmxl_vms_gen;

/* dma.c: the VM's SMMU and device DMA through it */
struct vmxl_smmu_txn;
long vmxl_create_smmu(struct vmxl_vm *vm, void __user *argp);
void vmxl_smmu_free(struct vmxl_vm *vm);
long vmxl_smmu_dma_ioctl(struct vmxl_vm *vm, void __user *argp, bool copy);
long vmxl_smmu_state_ioctl(struct vmxl_vm *vm, void __user *argp, bool set);

/* netlink.c: the generic netlink family and its events */
int vmxl_nl_init(void);
void vmxl_nl_exit(void);
void vmxl_nl_vm_event(struct vmxl_vm *vm, bool created);
void vmxl_nl_vcpu_created(struct vmxl_vm *vm, u32 vcpu_id);
void vmxl_nl_vcpu_stopped(struct vmxl_vcpu *vcpu, u32 reason, u64 detail);
void vmxl_nl_smmu_fault(struct vmxl_vm *vm, const struct vmxl_smmu_txn *t,
			const u64 *event);

/* vm.c: VMs, slots, guest-physical access */
extern atomic_t vmxl_nr_vcpus;
long vmxl_create_vm(unsigned long flags);
void vmxl_vm_put(struct vmxl_vm *vm);
void vmxl_object_counts(long *vms, long *vcpus, long *pinned);
long vmxl_mmu_table_pages(void);
/* @vm's exit counters, live vCPUs and closed ones; vm->lock held */
void vmxl_vm_stats(struct vmxl_vm *vm, u64 *stats);
/*
 * Every vCPU out of the guest and kept out: run_sem taken for write
 * (vmxl_stop_guests(), the caller ups it), or that plus the nested tables
 * locked, until vmxl_tables_end() makes every vCPU flush. vm->lock held.
 */
void vmxl_stop_guests(struct vmxl_vm *vm);
void vmxl_tables_begin(struct vmxl_vm *vm);
void vmxl_tables_end(struct vmxl_vm *vm);
bool vmxl_slots_overlap(struct vmxl_vm *vm, u64 gpa, u64 end, u32 except);
bool vmxl_gpa_is_ram(struct vmxl_vm *vm, u64 gpa, bool write);
int vmxl_handle_ram_fault(struct vmxl_vcpu *vcpu, u64 gpa, bool write);
int vmxl_read_gpa(struct vmxl_vm *vm, u64 gpa, void *buf, unsigned int len);
int vmxl_gpa_write(struct vmxl_vm *vm, u64 gpa, const void *buf,
		   unsigned int len);
int vmxl_gpa_user_copy(struct vmxl_vm *vm, u64 gpa, void __user *ubuf,
		       unsigned int len, bool to_guest);
int vmxl_write_gpa(struct vmxl_vcpu *vcpu, u64 gpa, const void *buf,
		   unsigned int len);

/* reset.c: reset points (VMXL_SET_RESET_POINT, VMXL_RESET_TO_POINT) */
long vmxl_reset_ioctl(struct vmxl_vm *vm, void __user *argp, bool reset);
struct vmxl_rpoint *vmxl_reset_point_detach(struct vmxl_vm *vm);
void vmxl_reset_point_free(struct vmxl_vm *vm, struct vmxl_rpoint *rp);

/* A vCPU's state in a reset point: what its GET ioctls return. */
#define VMXL_SAVED_MSRS		48
struct vmxl_vcpu_saved {
	struct vmxl_regs regs;
	struct vmxl_sregs sregs;
	struct vmxl_debugregs debugregs;
	struct vmxl_vcpu_events events;
	struct vmxl_lapic_state lapic;	/* with VMXL_VM_LAPIC */
	u32 mp_state;			/* ... likewise */
	u32 db_pending;
	u32 nr_msrs;
	struct vmxl_msr_entry msrs[VMXL_SAVED_MSRS];
	u8 fxsave[512];
};

/* vcpu->mutex held, the vCPU outside RUN */
void vmxl_vcpu_save(struct vmxl_vcpu *vcpu, struct vmxl_vcpu_saved *s);
int vmxl_vcpu_restore(struct vmxl_vcpu *vcpu, const struct vmxl_vcpu_saved *s);

/* dirty.c: dirty bitmaps and rings */
unsigned long *vmxl_dirty_bitmap_alloc(unsigned long npages);
struct vmxl_dirty_entry *vmxl_dirty_ring_alloc(u32 size);
int vmxl_slot_set_logging(struct vmxl_vm *vm, struct vmxl_slot *slot, bool on);
void vmxl_mark_dirty(struct vmxl_vcpu *vcpu, struct vmxl_slot *slot,
		     unsigned long idx);
/* A write the hardware logged at @gpa (PML); run_sem held. */
void vmxl_log_dirty_gpa(struct vmxl_vcpu *vcpu, u64 gpa);
/*
 * Ring entries one exit may fill from now on, besides the few (string
 * I/O, emulated accesses) that VMXL_RING_RESERVE keeps free; U32_MAX
 * without a ring. RUN does not enter the guest at 0. Inline: RUN asks
 * before every entry.
 */
#define VMXL_RING_RESERVE	8
static inline u32 vmxl_dirty_ring_room(const struct vmxl_vcpu *vcpu)
{
	u32 used = vcpu->ring_tail - vcpu->ring_reset;
	u32 size = vcpu->vm->dirty_ring_size;

	if (!vcpu->ring)
		return U32_MAX;
	if (used + VMXL_RING_RESERVE >= size)
		return 0;
	return size - VMXL_RING_RESERVE - used;
}

long vmxl_dirty_log_ioctl(struct vmxl_vm *vm, void __user *argp, bool get);
long vmxl_enable_dirty_ring(struct vmxl_vm *vm, unsigned long size);
long vmxl_reset_dirty_rings(struct vmxl_vm *vm);

/* vcpu.c: the vCPU fd and the run loop */
long vmxl_create_vcpu(struct vmxl_vm *vm, unsigned long id);

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
	u64 cr4;			/* CR4.DE: I/O breakpoints */
	struct vmxl_walk_ctx walk;	/* string forms: guest paging */
};

/* x86.c: the x86 work both vendors share */
void vmxl_x86_init(void);
int vmxl_default_cpuid(struct vmxl_cpuid_entry *out, u32 max);
void vmxl_cpuid_set_apic_id(struct vmxl_vcpu *vcpu);
int vmxl_cpuid_copy_in(struct vmxl_vcpu *vcpu, void __user *argp);
int vmxl_cpuid_copy_out(void __user *argp, const struct vmxl_cpuid_entry *tab,
			u32 n);
void vmxl_emulate_cpuid(struct vmxl_vcpu *vcpu);
u32 vmxl_cpuid_leaf1_ecx(const struct vmxl_vcpu *vcpu);
#define CPUID1_ECX_X2APIC	BIT(21)
#define CPUID1_ECX_TSC_DEADLINE	BIT(24)
/* An APIC's vCPU: APIC, x2APIC, TSC-deadline, ARAT in its table. */
void vmxl_cpuid_add_lapic(struct vmxl_vcpu *vcpu);
/* CR4 bits the CPUID features they depend on hide from the guest. */
#define VMXL_CR4_CPUID_BITS	(X86_CR4_VMXE | X86_CR4_PCIDE | \
				 X86_CR4_OSXSAVE | X86_CR4_FSGSBASE | \
				 X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_UMIP | \
				 X86_CR4_PKE | X86_CR4_LA57)
u64 vmxl_cr4_hidden(const struct vmxl_vcpu *vcpu);

/*
 * DR6 and DR7 as a MOV to them leaves them: the fixed bits set, the
 * reserved ones clear (SDM Vol. 3B 17.2.3 and 17.2.4; APM Vol. 2, 13.1.1).
 * DR6 keeps B0-B3, BD, BS and BT.
 */
#define VMXL_DR6_FIXED_1	0xffff0ff0ULL
#define VMXL_DR7_FIXED_1	0x400ULL
#define VMXL_DR7_FIXED_0	0xd800ULL
static inline u64 vmxl_dr6_fixed(u64 dr6)
{
	return (dr6 & 0xe00fULL) | VMXL_DR6_FIXED_1;
}

static inline u64 vmxl_dr7_fixed(u64 dr7)
{
	return (dr7 & ~VMXL_DR7_FIXED_0) | VMXL_DR7_FIXED_1;
}

/* DR6 bits a #DB trap reports (SDM Vol. 3B 17.2.3). */
#define VMXL_DR6_TRAPS		0xfULL		/* B0-B3 */
#define VMXL_DR6_BD		BIT_ULL(13)
#define VMXL_DR6_BS		BIT_ULL(14)
#define VMXL_DR7_GD		BIT_ULL(13)

/*
 * DR6 after the processor delivers a #DB reporting @bits: B0-B3 say
 * which breakpoints this #DB is for (the others are cleared, as SDM Vol.
 * 3B 17.2.3 allows and KVM does), BD/BS/BT are only ever set; clearing
 * them is the guest handler's job.
 */
static inline u64 vmxl_dr6_deliver(u64 dr6, u64 bits)
{
	return vmxl_dr6_fixed((dr6 & ~VMXL_DR6_TRAPS) | bits);
}

/*
 * An instruction the module emulated or skipped has retired: with
 * RFLAGS.TF set at its start it owes a single-step trap (SDM Vol. 3B
 * 17.3.1.4; APM Vol. 2, 13.1.4), raised after it as on hardware. Every
 * path that moves RIP past an emulated instruction comes here.
 */
static inline void vmxl_insn_retired(struct vmxl_vcpu *vcpu)
{
	if (vcpu->rflags & X86_EFLAGS_TF)
		vcpu->db_pending |= VMXL_DR6_BS;
}

/*
 * RIP after an instruction of @len bytes: outside 64-bit mode EIP wraps
 * at 4 GiB (KVM truncates the same way); in 64-bit mode it may leave the
 * canonical range, see below. Below 4 GiB the mode cannot matter, so the
 * backend's @long64 (VMREADs, a VMCB decode) is asked only past it: this
 * is on every skipped instruction's path.
 */
static inline u64 vmxl_next_rip(struct vmxl_vcpu *vcpu, u64 len,
				bool (*long64)(struct vmxl_vcpu *vcpu))
{
	u64 next = vcpu->rip + len;

	if (!(next >> 32) || long64(vcpu))
		return next;
	return (u32)next;
}

/*
 * A hypercall whose last byte is the last canonical one (e.g. at
 * 0x7ffffffffffd): the next fetch would #GP at a non-canonical RIP,
 * which VMX cannot even enter with. The module faults the hypercall
 * itself instead: #GP(0), RIP left on it, canonical. True: it did.
 */
static inline bool vmxl_hypercall_past_canonical(struct vmxl_vcpu *vcpu,
						 u64 len,
						 bool (*long64)(struct vmxl_vcpu *vcpu))
{
	u64 next = vcpu->rip + len;

	return ((s64)next << 16 >> 16) != (s64)next && long64(vcpu);
}

/* 0: done; -ENOENT / -EINVAL: inject #GP */
int vmxl_emulate_rdmsr(struct vmxl_vcpu *vcpu, u32 index, u64 *data);
int vmxl_emulate_wrmsr(struct vmxl_vcpu *vcpu, u32 index, u64 data);
long vmxl_vcpu_msrs(struct vmxl_vcpu *vcpu, void __user *argp, bool set);
void vmxl_regs_get(struct vmxl_vcpu *vcpu, struct vmxl_regs *r);
int vmxl_regs_set(struct vmxl_vcpu *vcpu, const struct vmxl_regs *r);
int vmxl_sregs_check(const struct vmxl_sregs *s);
int vmxl_fpu_set(struct vmxl_vcpu *vcpu, const void __user *argp);
void vmxl_vcpu_reset(struct vmxl_vcpu *vcpu);
/* Around a guest entry: guest x87/SSE in, XCR0 narrowed, preemption off. */
u64 vmxl_load_guest_fpu(struct vmxl_vcpu *vcpu);
void vmxl_put_guest_fpu(struct vmxl_vcpu *vcpu, u64 host_xcr0);

/* x86_exit.c: the exits both vendors finish the same way */
/* Fill run for an MMIO exit after decoding the faulting instruction. */
enum vmxl_exit_action vmxl_mmio_exit(struct vmxl_vcpu *vcpu,
				     const struct vmxl_walk_ctx *walk,
				     u64 linear_rip, enum vmxl_cpu_mode mode,
				     u64 gpa);
enum vmxl_exit_action vmxl_io_exit(struct vmxl_vcpu *vcpu,
				   const struct vmxl_io_info *io);
enum vmxl_exit_action vmxl_hypercall_exit(struct vmxl_vcpu *vcpu);
int vmxl_msr_exit(struct vmxl_vcpu *vcpu, bool write);
/* What the last exit left for userspace to fill in, done on the next RUN. */
int vmxl_complete_pending(struct vmxl_vcpu *vcpu);
unsigned int vmxl_insn_prefixes(const struct vmxl_walk_ctx *w, u64 linear_rip,
				bool long64, int *seg);
enum vmxl_exit_action vmxl_internal_error(struct vmxl_vcpu *vcpu, u32 sub,
					  u64 data0, u64 data1);

/* lapic.c: the in-kernel local APIC (docs/lapic.md) */
enum vmxl_req {
	VMXL_REQ_EVENT,		/* an interrupt came: look again */
	VMXL_REQ_TIMER,		/* the APIC timer's hrtimer fired */
	VMXL_REQ_INIT,
	VMXL_REQ_SIPI,		/* the vector is in the APIC */
	VMXL_REQ_NMI,
};

void vmxl_vcpu_kick(struct vmxl_vcpu *vcpu, unsigned int req);

/*
 * Backends call this after publishing IN_GUEST with interrupts blocked:
 * true means a request came since vmxl_lapic_prepare(), and the entry is
 * abandoned (VMXL_EXIT_RESUME without entering). See vmxl_vcpu_kick().
 */
static inline bool vmxl_entry_abort(struct vmxl_vcpu *vcpu)
{
	return READ_ONCE(vcpu->requests);
}

int vmxl_lapic_create(struct vmxl_vcpu *vcpu);
void vmxl_lapic_destroy(struct vmxl_vcpu *vcpu);
int vmxl_lapic_vm_init(struct vmxl_vm *vm);
bool vmxl_lapic_prepare(struct vmxl_vcpu *vcpu);
int vmxl_lapic_block(struct vmxl_vcpu *vcpu);
long vmxl_lapic_ioctl(struct vmxl_vcpu *vcpu, unsigned int cmd,
		      void __user *argp);
void vmxl_lapic_save(struct vmxl_vcpu *vcpu, struct vmxl_lapic_state *s,
		     u32 *mp_state);
int vmxl_lapic_restore(struct vmxl_vcpu *vcpu,
		       const struct vmxl_lapic_state *s, u32 mp_state);
long vmxl_signal_msi(struct vmxl_vm *vm, void __user *argp);
int vmxl_lapic_rdmsr(struct vmxl_vcpu *vcpu, u32 index, u64 *data);
int vmxl_lapic_wrmsr(struct vmxl_vcpu *vcpu, u32 index, u64 data);
int vmxl_lapic_check_base(struct vmxl_vcpu *vcpu, u64 data, bool host);
int vmxl_lapic_set_base(struct vmxl_vcpu *vcpu, u64 data, bool host);
void vmxl_lapic_tsc_changed(struct vmxl_vcpu *vcpu);
u8 vmxl_lapic_cr8(struct vmxl_vcpu *vcpu);
void vmxl_lapic_set_cr8(struct vmxl_vcpu *vcpu, u8 cr8);
/* HLT, stepped over: wait in the kernel with an APIC, else exit. */
enum vmxl_exit_action vmxl_halt(struct vmxl_vcpu *vcpu);

#endif /* VMXL_H */
