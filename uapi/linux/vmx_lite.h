/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmx-lite: the one contract between the vmx_lite kernel module and
 * userspace.
 *
 * File descriptors follow KVM's model:
 *
 *   open("/dev/vmx-lite")          system fd: capabilities, VM creation
 *     ioctl(VMXL_CREATE_VM)    ->  VM fd: memory slots, vCPU creation
 *       ioctl(VMXL_CREATE_VCPU) -> vCPU fd: run, register state, mmap of
 *                                   struct vmxl_run
 *
 * A VM lives until its VM fd and every vCPU fd are closed.
 *
 * Rules every ioctl follows:
 *  - every "reserved" field and every unknown flag bit must be zero on
 *    input (EINVAL otherwise) and reads back as zero;
 *  - a bad user pointer gives EFAULT, an unknown ioctl ENOTTY, an ioctl
 *    on the wrong kind of fd ENOTTY;
 *  - no kernel address is ever written to userspace.
 */
#ifndef _UAPI_LINUX_VMX_LITE_H
#define _UAPI_LINUX_VMX_LITE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VMXL_API_VERSION	1
#define VMXL_IOCTL_TYPE		0xB6

/* ------------------------------------------------------------------ */
/* System fd (/dev/vmx-lite)                                          */
/* ------------------------------------------------------------------ */

/* Returns VMXL_API_VERSION. */
#define VMXL_GET_API_VERSION	_IO(VMXL_IOCTL_TYPE, 0x00)

enum vmxl_backend_id {
	VMXL_BACKEND_NONE = 0,	/* no usable VMX/SVM: VM creation gives ENODEV */
	VMXL_BACKEND_SVM = 1,
	VMXL_BACKEND_VMX = 2,
};

/* struct vmxl_caps.features */
#define VMXL_FEAT_NPT			(1ULL << 0)  /* SVM nested paging */
#define VMXL_FEAT_NRIP_SAVE		(1ULL << 1)  /* SVM next-RIP on exit */
#define VMXL_FEAT_DECODE_ASSISTS	(1ULL << 2)
#define VMXL_FEAT_FLUSH_BY_ASID		(1ULL << 3)
#define VMXL_FEAT_VMCB_CLEAN		(1ULL << 4)
#define VMXL_FEAT_VGIF			(1ULL << 5)
#define VMXL_FEAT_PAUSE_FILTER		(1ULL << 6)
#define VMXL_FEAT_EPT			(1ULL << 16)
#define VMXL_FEAT_VPID			(1ULL << 17)
#define VMXL_FEAT_UNRESTRICTED_GUEST	(1ULL << 18)
#define VMXL_FEAT_EPT_AD		(1ULL << 19) /* EPT accessed/dirty */
#define VMXL_FEAT_PML			(1ULL << 20) /* page-modification log */
#define VMXL_FEAT_PREEMPTION_TIMER	(1ULL << 21)
/* The module's own, on both vendors: */
#define VMXL_FEAT_LAPIC			(1ULL << 32) /* VMXL_VM_LAPIC */

/* struct vmxl_caps.backend_status: why backend is what it is */
enum vmxl_backend_status {
	VMXL_STATUS_OK = 0,
	VMXL_STATUS_NO_CPU_SUPPORT = 1,	/* CPUID lacks SVM / VMX */
	VMXL_STATUS_DISABLED_BY_FIRMWARE = 2, /* VM_CR.SVMDIS, FEATURE_CONTROL */
	VMXL_STATUS_NO_NESTED_PAGING = 3, /* SVM without NPT, VMX without EPT */
	VMXL_STATUS_UNSUPPORTED = 4,	/* other missing requirement */
};

/*
 * VMXL_GET_CAPS: what the module detected from CPUID and the capability
 * MSRs at load time, plus its limits.
 */
struct vmxl_caps {
	__u32 flags;		/* in: must be 0 */
	__u32 backend;		/* enum vmxl_backend_id */
	__u32 backend_status;	/* enum vmxl_backend_status */
	__u32 api_version;	/* VMXL_API_VERSION */
	__u64 features;		/* VMXL_FEAT_* */
	__u32 nr_asids;		/* SVM: ASIDs (CPUID 0x8000000A EBX) */
	__u32 svm_revision;	/* SVM: CPUID 0x8000000A EAX[7:0] */
	__u64 vmx_basic;	/* VMX: IA32_VMX_BASIC */
	__u64 vmx_ept_vpid_cap;	/* VMX: IA32_VMX_EPT_VPID_CAP */
	__u32 max_vms;		/* module parameter limits */
	__u32 max_vcpus;	/* per VM */
	__u32 max_slots;	/* per VM */
	__u32 run_mmap_size;	/* bytes to mmap from a vCPU fd */
	__u64 max_mem_bytes;	/* per VM */
	__u64 tsc_khz;		/* guest TSC rate (the host's), 0: unknown */
	__u64 reserved[7];
};

#define VMXL_GET_CAPS		_IOWR(VMXL_IOCTL_TYPE, 0x01, struct vmxl_caps)

/*
 * arg: VM creation flags (VMXL_VM_*, others EINVAL; VMXL_VM_LAPIC without
 * VMXL_FEAT_LAPIC, i.e. the host's TSC rate unknown: EOPNOTSUPP). Returns
 * a VM fd.
 */
#define VMXL_CREATE_VM		_IO(VMXL_IOCTL_TYPE, 0x02)

/* Device DMA of a VM without an SMMU aborts instead of bypassing. */
#define VMXL_VM_DMA_STRICT	(1U << 0)
/*
 * Every vCPU gets an in-kernel local APIC (docs/lapic.md): the xAPIC page
 * at APIC_BASE (0xfee00000), x2APIC MSRs when the vCPU's CPUID offers
 * x2APIC, the timer (one-shot, periodic, TSC-deadline), IPIs, INIT and
 * STARTUP. HLT then waits in the kernel for an interrupt instead of
 * exiting; vCPUs other than 0 start in VMXL_MP_INIT_RECEIVED, waiting for
 * INIT/STARTUP from the BSP. Userspace interrupts them with
 * VMXL_SIGNAL_MSI; VMXL_INTERRUPT is refused (ENXIO). A vCPU's default
 * CPUID then offers APIC, x2APIC, TSC-deadline and ARAT.
 */
#define VMXL_VM_LAPIC		(1U << 1)

/* ------------------------------------------------------------------ */
/* CPUID table (system fd: default table; vCPU fd: the guest's)       */
/* ------------------------------------------------------------------ */

/* The entry applies only when ECX == index. */
#define VMXL_CPUID_FLAG_INDEXED	(1U << 0)

struct vmxl_cpuid_entry {
	__u32 function;
	__u32 index;
	__u32 flags;		/* VMXL_CPUID_FLAG_* */
	__u32 eax;
	__u32 ebx;
	__u32 ecx;
	__u32 edx;
	__u32 reserved;
};

#define VMXL_MAX_CPUID_ENTRIES	256

struct vmxl_cpuid {
	__u32 nent;		/* in/out: entries in the user array */
	__u32 flags;		/* must be 0 */
	__u64 entries;		/* user pointer to struct vmxl_cpuid_entry[] */
};

/*
 * VMXL_GET_DEFAULT_CPUID (system fd): the table a new vCPU starts with:
 * the host's leaves with virtualization and unsupported features hidden.
 * E2BIG (and nent set to the size needed) when nent is too small.
 */
#define VMXL_GET_DEFAULT_CPUID	_IOWR(VMXL_IOCTL_TYPE, 0x03, struct vmxl_cpuid)

/* ------------------------------------------------------------------ */
/* VM fd                                                              */
/* ------------------------------------------------------------------ */

/* arg: vCPU id (0 .. max_vcpus-1). Returns a new vCPU fd. */
#define VMXL_CREATE_VCPU	_IO(VMXL_IOCTL_TYPE, 0x10)

/* struct vmxl_memory_region.flags */
#define VMXL_MEM_READONLY	(1U << 0) /* guest writes exit as MMIO */
#define VMXL_MEM_LOG_DIRTY	(1U << 1) /* track writes: VMXL_*_DIRTY_LOG */

/*
 * VMXL_SET_MEMORY_REGION: create, replace or (memory_size == 0) delete
 * slot 'slot'. guest_phys_addr, memory_size and userspace_addr are page
 * aligned; slots never overlap (EEXIST). The pages are pinned for the life
 * of the slot and charged to RLIMIT_MEMLOCK (ENOMEM past it).
 */
struct vmxl_memory_region {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 reserved[2];
};

#define VMXL_SET_MEMORY_REGION	_IOW(VMXL_IOCTL_TYPE, 0x11, struct vmxl_memory_region)

/*
 * Dirty logging of a slot with VMXL_MEM_LOG_DIRTY. Setting the flag on a
 * live slot (same address, size and memory) starts logging with every
 * page clean; clearing it stops. A page is dirty once the guest, or the
 * module on the guest's behalf (string IN, ...), wrote to it since its
 * bit was last cleared.
 *
 * VMXL_GET_DIRTY_LOG copies the slot's bitmap (bit n = page n of the
 * slot, in 64-bit words) to 'bitmap' and leaves it as it is, unless flags
 * has VMXL_DIRTY_LOG_CLEAR. first_page and num_pages must be 0.
 *
 * VMXL_CLEAR_DIRTY_LOG clears the pages whose bits are set in 'bitmap'
 * (bit i = page first_page + i) and write-protects them again; when it
 * returns, any later write sets the bit again. first_page is a multiple
 * of 64; the range lies within the slot. A snapshot that reads the pages
 * between GET and CLEAR therefore never loses a write, even when it
 * fails half-way and GETs again.
 *
 * Errors: ENOENT no such slot; EINVAL slot not logging, bad range,
 * unknown flags or reserved bits; EFAULT bad bitmap pointer.
 */
#define VMXL_DIRTY_LOG_CLEAR	(1U << 0)	/* GET: clear what was copied */

struct vmxl_dirty_log {
	__u32 slot;
	__u32 flags;
	__u64 first_page;
	__u64 num_pages;
	__u64 bitmap;		/* user pointer to __u64 words */
	__u64 reserved[2];
};

#define VMXL_GET_DIRTY_LOG	_IOW(VMXL_IOCTL_TYPE, 0x12, struct vmxl_dirty_log)
#define VMXL_CLEAR_DIRTY_LOG	_IOW(VMXL_IOCTL_TYPE, 0x13, struct vmxl_dirty_log)

/*
 * Dirty rings: the same pages as the bitmap, as a per-vCPU queue.
 *
 * VMXL_ENABLE_DIRTY_RING (VM fd, once; arg: entries per vCPU, a power of
 * two from 64 to 65536) gives every vCPU, present and future, a ring that
 * its fd maps at page offset VMXL_DIRTY_RING_OFFSET, entries * 16 bytes.
 * Whenever a page of a logged slot turns from clean to dirty through a
 * vCPU, the module appends {slot, offset} to that vCPU's ring and then
 * sets flags to VMXL_DIRTY_ENTRY_DIRTY. Userspace reads entries in order
 * from where it stopped, and sets flags to VMXL_DIRTY_ENTRY_RESET on each
 * one it has harvested. VMXL_RESET_DIRTY_RINGS (VM fd) then write-protects
 * those pages again (clearing their bitmap bits too), frees their entries
 * and returns how many it freed. A vCPU whose ring is nearly full does not
 * enter the guest: RUN returns with VMXL_EXIT_DIRTY_RING_FULL.
 */
struct vmxl_dirty_entry {
	__u32 flags;			/* VMXL_DIRTY_ENTRY_* */
	__u32 slot;
	__u64 offset;			/* page within the slot */
};

#define VMXL_DIRTY_ENTRY_DIRTY	(1U << 0)
#define VMXL_DIRTY_ENTRY_RESET	(1U << 1)
#define VMXL_DIRTY_RING_OFFSET	64	/* in pages, for mmap() */
#define VMXL_DIRTY_RING_MIN	64
#define VMXL_DIRTY_RING_MAX	65536

#define VMXL_ENABLE_DIRTY_RING	_IO(VMXL_IOCTL_TYPE, 0x14)
#define VMXL_RESET_DIRTY_RINGS	_IO(VMXL_IOCTL_TYPE, 0x15)

/* ------------------------------------------------------------------ */
/* vCPU fd                                                            */
/* ------------------------------------------------------------------ */

/* Registers in x86 encoding order, so index n is GPR n of ModRM/REX. */
struct vmxl_regs {
	__u64 rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;
};

struct vmxl_segment {
	__u64 base;
	__u32 limit;		/* in bytes - 1, granularity already applied */
	__u16 selector;
	__u8 type;		/* descriptor type field, 4 bits */
	__u8 present, dpl, db, s, l, g, avl;
	__u8 unusable;		/* VMX "unusable": a null selector loaded */
	__u8 reserved;
};

struct vmxl_dtable {
	__u64 base;
	__u16 limit;
	__u16 reserved[3];
};

struct vmxl_sregs {
	struct vmxl_segment cs, ds, es, fs, gs, ss;
	struct vmxl_segment tr, ldt;
	struct vmxl_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8;
	__u64 efer;
	__u64 apic_base;
	__u64 reserved[4];
};

struct vmxl_msr_entry {
	__u32 index;
	__u32 reserved;
	__u64 data;
};

#define VMXL_MAX_MSR_ENTRIES	256

/*
 * VMXL_GET_MSRS / VMXL_SET_MSRS: process entries in order, stop at the
 * first MSR the module does not own or value it refuses; return the
 * number processed (docs/uapi.md lists the MSRs).
 */
struct vmxl_msrs {
	__u32 nmsrs;
	__u32 flags;		/* must be 0 */
	__u64 entries;		/* user pointer to struct vmxl_msr_entry[] */
};

/* The legacy FXSAVE image: x87, MMX, SSE state. */
struct vmxl_fpu {
	__u8 fxsave[512];
};

struct vmxl_interrupt {
	__u32 vector;		/* 32..255 */
	__u32 flags;		/* must be 0 */
};

#define VMXL_RUN		_IO(VMXL_IOCTL_TYPE, 0x20)
#define VMXL_GET_REGS		_IOR(VMXL_IOCTL_TYPE, 0x21, struct vmxl_regs)
#define VMXL_SET_REGS		_IOW(VMXL_IOCTL_TYPE, 0x22, struct vmxl_regs)
#define VMXL_GET_SREGS		_IOR(VMXL_IOCTL_TYPE, 0x23, struct vmxl_sregs)
#define VMXL_SET_SREGS		_IOW(VMXL_IOCTL_TYPE, 0x24, struct vmxl_sregs)
#define VMXL_GET_MSRS		_IOW(VMXL_IOCTL_TYPE, 0x25, struct vmxl_msrs)
#define VMXL_SET_MSRS		_IOW(VMXL_IOCTL_TYPE, 0x26, struct vmxl_msrs)
#define VMXL_GET_FPU		_IOR(VMXL_IOCTL_TYPE, 0x27, struct vmxl_fpu)
#define VMXL_SET_FPU		_IOW(VMXL_IOCTL_TYPE, 0x28, struct vmxl_fpu)
#define VMXL_SET_CPUID		_IOW(VMXL_IOCTL_TYPE, 0x29, struct vmxl_cpuid)
#define VMXL_GET_CPUID		_IOWR(VMXL_IOCTL_TYPE, 0x2a, struct vmxl_cpuid)
/* EAGAIN while the guest cannot take it (IF=0, interrupt shadow, busy) */
#define VMXL_INTERRUPT		_IOW(VMXL_IOCTL_TYPE, 0x2b, struct vmxl_interrupt)
/* EAGAIN while an NMI is already pending */
#define VMXL_NMI		_IO(VMXL_IOCTL_TYPE, 0x2c)

/*
 * VMXL_SWITCH_FLOOR (vCPU fd): the floor under every exit path, for
 * benchmarks and for seeing what a world switch alone costs. The vCPU
 * must stand at a hypercall instruction (VMMCALL on SVM, VMCALL on VMX).
 * The module enters the guest count times and takes each hypercall exit
 * straight back in: nothing emulated, RIP and registers unchanged, no
 * return to userspace. One iteration is the backend's entry, the world
 * switch and the exit's classification, which every exit pays. Host
 * interrupts that end an entry are handled as under VMXL_RUN and are not
 * iterations.
 *
 * It begins like VMXL_RUN (completing the last exit to userspace) and
 * stops like it: done says how many iterations ran; when done == count,
 * run->exit_reason is VMXL_EXIT_NONE. Any other exit (the vCPU was not at
 * a hypercall, say) ends it early, handled and reported in the run page
 * as VMXL_RUN would; so do signals (EINTR, done still written) and
 * immediate_exit. The next VMXL_RUN executes the hypercall. Every
 * iteration counts in run->exit_count and the hypercall statistics.
 *
 * Errors: EINVAL flags, done or reserved nonzero, count 0 or above
 * VMXL_SWITCH_FLOOR_MAX, and VMXL_RUN's; EINTR; EFAULT.
 */
struct vmxl_switch_floor {
	__u32 count;
	__u32 flags;		/* must be 0 */
	__u32 done;		/* out */
	__u32 reserved[5];
};

#define VMXL_SWITCH_FLOOR_MAX	(1U << 20)
#define VMXL_SWITCH_FLOOR	_IOWR(VMXL_IOCTL_TYPE, 0x2d, struct vmxl_switch_floor)

/* ------------------------------------------------------------------ */
/* The run page: mmap(NULL, caps.run_mmap_size, ..., vcpu_fd, 0)       */
/* ------------------------------------------------------------------ */

enum vmxl_exit_reason {
	VMXL_EXIT_NONE = 0,
	VMXL_EXIT_IO = 1,		/* port I/O: run->io */
	VMXL_EXIT_MMIO = 2,		/* access with no RAM behind it: run->mmio */
	VMXL_EXIT_HLT = 3,
	VMXL_EXIT_HYPERCALL = 4,	/* VMMCALL / VMCALL: run->hypercall */
	VMXL_EXIT_SHUTDOWN = 5,		/* triple fault */
	VMXL_EXIT_FAIL_ENTRY = 6,	/* hardware refused the guest state */
	VMXL_EXIT_INTERNAL_ERROR = 7,	/* the module cannot go on: run->internal */
	VMXL_EXIT_INTR = 8,		/* signal or immediate_exit; RUN gives EINTR */
	VMXL_EXIT_IRQ_WINDOW_OPEN = 9,	/* guest can take an interrupt now */
	VMXL_EXIT_DIRTY_RING_FULL = 10,	/* harvest, VMXL_RESET_DIRTY_RINGS, RUN */
	VMXL_EXIT_EOI = 11,		/* EOI of a level-triggered vector: run->eoi */
};

#define VMXL_IO_IN		0
#define VMXL_IO_OUT		1

/* struct vmxl_run.internal.suberror */
enum vmxl_internal_error {
	VMXL_INTERNAL_EMULATION = 1,	/* instruction the module cannot emulate */
	VMXL_INTERNAL_UNEXPECTED_EXIT = 2, /* hardware exit code in data[0] */
	VMXL_INTERNAL_GUEST_WALK = 3,	/* guest page tables unreadable */
	/* VMLAUNCH/VMRESUME failed: data[0] = VM-instruction error */
	VMXL_INTERNAL_ENTRY_FAILED = 4,
};

struct vmxl_run {
	/* in: set by userspace before VMXL_RUN */
	__u8 request_interrupt_window;	/* exit once the guest can take one */
	__u8 immediate_exit;		/* return EINTR before entering */
	__u8 reserved0[6];

	/* out: set by the module */
	__u32 exit_reason;		/* enum vmxl_exit_reason */
	__u8 ready_for_interrupt_injection;
	__u8 if_flag;			/* guest RFLAGS.IF */
	__u8 reserved1[2];
	__u64 exit_count;		/* exits of this vCPU so far */

	union {
		/*
		 * VMXL_EXIT_IO: one element of 'size' bytes. For OUT, data
		 * holds the value; for IN, userspace writes data before the
		 * next RUN. String (INS/OUTS) and REP forms exit once per
		 * element with 'string'/'rep' set; the module moves the
		 * element to/from guest memory and updates RSI/RDI/RCX.
		 */
		struct {
			__u16 port;
			__u8 direction;		/* VMXL_IO_IN / VMXL_IO_OUT */
			__u8 size;		/* 1, 2, 4 */
			__u8 string;
			__u8 rep;
			__u8 reserved[2];
			__u8 data[8];
		} io;
		/*
		 * VMXL_EXIT_MMIO: the module decoded the instruction. For a
		 * read, userspace writes data before the next RUN.
		 */
		struct {
			__u64 phys_addr;
			__u8 data[8];
			__u32 len;		/* 1, 2, 4, 8 */
			__u8 is_write;
			__u8 reserved[3];
		} mmio;
		/* VMXL_EXIT_HYPERCALL: RAX on return is 'ret'. */
		struct {
			__u64 nr;		/* guest RAX */
			__u64 args[5];		/* RBX, RCX, RDX, RSI, RDI */
			__u64 ret;		/* in: set by userspace */
		} hypercall;
		/*
		 * VMXL_EXIT_FAIL_ENTRY: the guest state failed the entry
		 * checks. SVM: hardware_reason is the VMCB exit code
		 * (VMEXIT_INVALID). VMX: the exit reason, bit 31 set, and
		 * detail the exit qualification.
		 */
		struct {
			__u64 hardware_reason;
			__u32 cpu;
			__u32 reserved;
			__u64 detail;
		} fail_entry;
		/*
		 * VMXL_EXIT_EOI (VMXL_VM_LAPIC): the guest ended a
		 * level-triggered interrupt (a VMXL_SIGNAL_MSI with data
		 * bit 15 set): a userspace IOAPIC clears its remote IRR
		 * and signals the line again if it is still asserted. The
		 * EOI itself is done; RUN just goes on.
		 */
		struct {
			__u32 vector;
			__u32 reserved;
		} eoi;
		/* VMXL_EXIT_INTERNAL_ERROR */
		struct {
			__u32 suberror;		/* enum vmxl_internal_error */
			__u32 ninsn;		/* valid bytes in insn */
			__u8 insn[16];
			__u64 data[4];
		} internal;
		__u8 pad[256];
	};
	__u64 reserved2[16];
};

/* ------------------------------------------------------------------ */
/* Generic netlink: family "vmx_lite" (docs/netlink.md)               */
/* ------------------------------------------------------------------ */

/*
 * Requests, answers and events about VMs, off the exit path: RUN stays
 * the synchronous channel to a vCPU; netlink is for watching.
 *
 * The family exists in the initial network namespace only. Attributes
 * start at 1; requests are validated strictly (unknown attributes, wrong
 * types and lengths are refused, with an extack message saying what was
 * wrong). Every u64 attribute is 64-bit aligned with VMXL_A_PAD.
 *
 * Who sees what: a caller without CAP_NET_ADMIN sees only the VMs created
 * by processes of its own uid; with it, every VM. VMs the caller may not
 * see answer ENOENT, as if they did not exist. The multicast groups carry
 * events of every VM, so joining them needs CAP_NET_ADMIN.
 *
 * Requests (genlmsghdr.cmd) and their answers:
 *
 * VMXL_CMD_GET_VM
 *   do:   [VMXL_A_VM_ID]            -> one VM message
 *   dump: (nothing)                 -> one VM message per visible VM, by
 *                                      id; NLM_F_DUMP_INTR on a message
 *                                      when VMs came or went meanwhile
 *   VM message:
 *     VMXL_A_VM_ID          u32
 *     VMXL_A_VM_PID         u32  creating process (thread group id), in
 *                                the reader's pid namespace; 0 if outside
 *     VMXL_A_VM_UID         u32  its uid, in the reader's user namespace
 *     VMXL_A_VM_NR_VCPUS    u32
 *     VMXL_A_VM_MEM_SIZE    u64  bytes in memory slots
 *     VMXL_A_VM_NR_SLOTS    u32
 *     VMXL_A_VM_DIRTY_LOG   u32  VMXL_NL_DIRTY_* flags
 *     VMXL_A_STATS          nest: exit counters of all its vCPUs, past
 *                                and present (below)
 *
 * VMXL_CMD_GET_VCPU
 *   dump: [VMXL_A_VM_ID]            -> one vCPU message per vCPU
 *   vCPU message:
 *     VMXL_A_VM_ID          u32
 *     VMXL_A_VCPU_ID        u32
 *     VMXL_A_VCPU_STATE     u32  enum vmxl_vcpu_state
 *     VMXL_A_VCPU_LAST_EXIT u32  enum vmxl_exit_reason of its last RUN
 *     VMXL_A_STATS          nest: its exit counters
 *
 * VMXL_CMD_GET_STATS_INTERVAL       -> VMXL_A_STATS_INTERVAL
 * VMXL_CMD_SET_STATS_INTERVAL  [VMXL_A_STATS_INTERVAL] (CAP_NET_ADMIN)
 *     VMXL_A_STATS_INTERVAL u32  ms between VMXL_EVT_STATS samples,
 *                                VMXL_NL_INTERVAL_MIN..MAX
 *
 * VMXL_A_STATS nest: attribute type = enum vmxl_stat, each a u64 count
 * (types this kernel does not count are absent; readers skip unknown).
 *
 * Events (genlmsghdr.cmd, multicast only, never accepted as requests):
 *
 * group "lifecycle":
 *   VMXL_EVT_VM_CREATED    VMXL_A_VM_ID, VMXL_A_VM_PID, VMXL_A_VM_UID
 *   VMXL_EVT_VM_DESTROYED  VMXL_A_VM_ID   (its last fd closed)
 *   VMXL_EVT_VCPU_CREATED  VMXL_A_VM_ID, VMXL_A_VCPU_ID
 *   VMXL_EVT_VCPU_STOPPED  VMXL_A_VM_ID, VMXL_A_VCPU_ID,
 *                          VMXL_A_EXIT_REASON u32: VMXL_EXIT_SHUTDOWN
 *                          (triple fault), VMXL_EXIT_FAIL_ENTRY or
 *                          VMXL_EXIT_INTERNAL_ERROR;
 *                          VMXL_A_EXIT_DETAIL u64: the suberror, or the
 *                          hardware reason of a failed entry
 * group "stats", every interval while anyone listens, per VM:
 *   VMXL_EVT_STATS         VMXL_A_VM_ID, VMXL_A_STATS_INTERVAL,
 *                          VMXL_A_TIMESTAMP u64 (ns, CLOCK_MONOTONIC),
 *                          VMXL_A_STATS (counts so far: rates are the
 *                          differences between samples)
 * group "faults", a fault of the VM's SMMU (VMXL_SMMU_DMA/TRANSLATE):
 *   VMXL_EVT_SMMU_FAULT    VMXL_A_VM_ID, VMXL_A_SMMU_SID u32,
 *                          VMXL_A_SMMU_SSID u32 (when the transaction had
 *                          one), VMXL_A_SMMU_EVENT_TYPE u32 (the record's
 *                          SMMUv3 event number, e.g. 0x10 F_TRANSLATION),
 *                          VMXL_A_SMMU_EVENT binary (the 32-byte SMMUv3
 *                          event record, as queued)
 */
#define VMXL_GENL_NAME		"vmx_lite"
#define VMXL_GENL_VERSION	1
#define VMXL_MCGRP_LIFECYCLE	"lifecycle"
#define VMXL_MCGRP_FAULTS	"faults"
#define VMXL_MCGRP_STATS	"stats"

enum vmxl_nl_cmd {
	VMXL_CMD_UNSPEC,
	VMXL_CMD_GET_VM,
	VMXL_CMD_GET_VCPU,
	VMXL_CMD_GET_STATS_INTERVAL,
	VMXL_CMD_SET_STATS_INTERVAL,

	/* events: their own range, apart from requests */
	VMXL_EVT_VM_CREATED = 0x40,
	VMXL_EVT_VM_DESTROYED,
	VMXL_EVT_VCPU_CREATED,
	VMXL_EVT_VCPU_STOPPED,
	VMXL_EVT_STATS,
	VMXL_EVT_SMMU_FAULT,
};

enum vmxl_nl_attr {
	VMXL_A_UNSPEC,
	VMXL_A_PAD,
	VMXL_A_VM_ID,
	VMXL_A_VM_PID,
	VMXL_A_VM_UID,
	VMXL_A_VM_NR_VCPUS,
	VMXL_A_VM_MEM_SIZE,
	VMXL_A_VM_NR_SLOTS,
	VMXL_A_VM_DIRTY_LOG,
	VMXL_A_STATS,
	VMXL_A_VCPU_ID,
	VMXL_A_VCPU_STATE,
	VMXL_A_VCPU_LAST_EXIT,
	VMXL_A_EXIT_REASON,
	VMXL_A_EXIT_DETAIL,
	VMXL_A_STATS_INTERVAL,
	VMXL_A_TIMESTAMP,
	VMXL_A_SMMU_SID,
	VMXL_A_SMMU_SSID,
	VMXL_A_SMMU_EVENT_TYPE,
	VMXL_A_SMMU_EVENT,
	__VMXL_A_MAX,
};

#define VMXL_A_MAX		(__VMXL_A_MAX - 1)

/* VMXL_A_VM_DIRTY_LOG */
#define VMXL_NL_DIRTY_BITMAP	(1U << 0)	/* a slot logs dirty pages */
#define VMXL_NL_DIRTY_RING	(1U << 1)	/* the VM has dirty rings */

/* VMXL_A_STATS_INTERVAL bounds, ms; the default is 1000 */
#define VMXL_NL_INTERVAL_MIN	100
#define VMXL_NL_INTERVAL_MAX	60000

enum vmxl_vcpu_state {
	VMXL_VCPU_STOPPED = 0,	/* no RUN in progress */
	VMXL_VCPU_RUNNING = 1,	/* inside RUN */
	VMXL_VCPU_HALTED = 2,	/* no RUN in progress; the last ended in HLT */
};

/* Exit counters, the types inside VMXL_A_STATS. */
enum vmxl_stat {
	VMXL_STAT_UNSPEC,
	VMXL_STAT_PAD,
	VMXL_STAT_EXITS,	/* every exit from the guest */
	VMXL_STAT_USER,		/* of them, those RUN returned to userspace */
	VMXL_STAT_IO,		/* port I/O */
	VMXL_STAT_NPF,		/* nested-page faults: RAM, dirty log, MMIO */
	VMXL_STAT_CPUID,
	VMXL_STAT_MSR,
	VMXL_STAT_HLT,
	VMXL_STAT_HYPERCALL,
	VMXL_STAT_HOST_INTR,	/* host interrupts, NMIs, end of time slice */
	VMXL_STAT_WINDOW,	/* interrupt or NMI window opened */
	VMXL_STAT_CR_DR,	/* control or debug register access */
	VMXL_STAT_OTHER,
	VMXL_STAT_MSR_UNKNOWN,	/* not an exit: unknown MSR, #GP */
	__VMXL_STAT_MAX,
};

#define VMXL_STAT_MAX		(__VMXL_STAT_MAX - 1)

/* VM fd: this VM's id, as netlink reports it (>= 1). */
#define VMXL_GET_VM_ID		_IO(VMXL_IOCTL_TYPE, 0x16)

/* ------------------------------------------------------------------ */
/* SMMU: a virtual SMMUv3 that translates and polices device DMA      */
/* (docs/smmu.md)                                                     */
/* ------------------------------------------------------------------ */

/*
 * VMXL_CREATE_SMMU (VM fd, once): give the VM an SMMUv3 whose register
 * window (VMXL_SMMU_WINDOW_SIZE bytes: page 0 and page 1) the guest sees at
 * base_gpa. The module handles the guest's register accesses itself; the
 * guest keeps its stream tables, context descriptors, page tables and
 * queues in its own memory, in the architected formats.
 *
 * Errors: EINVAL base_gpa not 64 KiB aligned or beyond the physical
 * address width, sid_bits not 1..24, ssid_bits above 20, iotlb_entries
 * above 4096, flags or reserved nonzero; EEXIST the VM has an SMMU, or
 * the window overlaps a memory slot (slots cannot overlap it later).
 */
struct vmxl_smmu_config {
	__u64 base_gpa;
	__u32 sid_bits;		/* StreamID width */
	__u32 ssid_bits;	/* SubstreamID width, 0: no substreams */
	__u32 iotlb_entries;	/* IOTLB capacity, 0: 256 */
	__u32 flags;		/* none yet */
	__u64 reserved[4];
};

#define VMXL_SMMU_WINDOW_SIZE	0x20000
#define VMXL_CREATE_SMMU	_IOW(VMXL_IOCTL_TYPE, 0x17, struct vmxl_smmu_config)

/* struct vmxl_dma.flags */
#define VMXL_DMA_WRITE		(1U << 0)	/* device writes guest memory */
#define VMXL_DMA_SSV		(1U << 1)	/* substream_id is valid */

/* struct vmxl_dma.status */
enum vmxl_dma_status {
	VMXL_DMA_DONE = 0,
	VMXL_DMA_FAULT = 1,	/* the SMMU faulted: event[] is its record */
	/* terminated without a record: STE abort, GBPA abort, or no SMMU and
	 * VMXL_VM_DMA_STRICT
	 */
	VMXL_DMA_ABORTED = 2,
	VMXL_DMA_NO_RAM = 3,	/* translated to an address with no RAM */
	VMXL_DMA_BAD_BUFFER = 4, /* buf is not accessible */
};

#define VMXL_DMA_MAX_LEN	(64ULL << 20)

/*
 * VMXL_SMMU_DMA (VM fd): a device model's transfer of len bytes between
 * buf and the I/O virtual address iova of stream stream_id, translated by
 * the VM's SMMU page by page with permission checks (no SMMU: iova is the
 * guest-physical address, unless VMXL_VM_DMA_STRICT). Pages the device
 * writes are marked dirty. It stops at the first page that does not
 * translate: nothing is copied from there on, done says how much was,
 * status why it stopped, and a fault's record is in event[] (also in the
 * guest's event queue, and on the netlink "faults" group). Returns 0 when
 * status is VMXL_DMA_DONE, else -1 with EFAULT.
 *
 * VMXL_SMMU_TRANSLATE: the same for one address without copying: len and
 * buf are 0; gpa is where iova leads (for a write when flags has
 * VMXL_DMA_WRITE).
 *
 * Errors besides EFAULT: EINVAL unknown flags, reserved fields, len 0 or
 * above VMXL_DMA_MAX_LEN, iova + len wrapping, (TRANSLATE) len or buf
 * nonzero; EINTR a fatal signal stopped a long transfer.
 */
struct vmxl_dma {
	__u32 stream_id;
	__u32 substream_id;
	__u32 flags;		/* VMXL_DMA_* */
	__u32 status;		/* out: enum vmxl_dma_status */
	__u64 iova;
	__u64 len;
	__u64 buf;		/* user pointer */
	__u64 done;		/* out: bytes copied */
	__u64 gpa;		/* out, TRANSLATE */
	__u64 event[4];		/* out: the SMMUv3 event record of a fault */
	__u32 iotlb_hits;	/* out: pages translated from the IOTLB */
	__u32 iotlb_misses;	/* out: pages that needed a table walk */
	__u64 reserved[2];
};

#define VMXL_SMMU_DMA		_IOWR(VMXL_IOCTL_TYPE, 0x18, struct vmxl_dma)
#define VMXL_SMMU_TRANSLATE	_IOWR(VMXL_IOCTL_TYPE, 0x19, struct vmxl_dma)

/*
 * VMXL_GET_SMMU_STATE / VMXL_SET_SMMU_STATE (VM fd): the SMMU's
 * programmer-visible registers, for snapshots. CR0ACK and IRQ_CTRLACK
 * are not stored: they mirror CR0 and IRQ_CTRL. The stream table, the
 * context descriptors, the page tables and both queues are in guest
 * memory; the configuration cache and the IOTLB are not saved, and SET
 * drops them (the next transactions walk the tables again). SET runs no
 * command and writes no event: it puts the registers back as they were,
 * queue indices and error state included, so a guest that had
 * commands or events in flight sees them where it left them.
 *
 * SET accepts what the registers can hold: bits a guest write would
 * ignore (outside CR0 SMMUEN/EVTQEN/CMDQEN, CR1 11:0, CR2 2:0, GBPA 20:0,
 * IRQ_CTRL 2:0, GERROR/GERRORN CMDQ_ERR and EVTQ_ABT_ERR, the base
 * registers' ADDR/RA/LOG2SIZE, STRTAB_BASE_CFG, the 20 index bits of the
 * queue pointers, EVTQ_PROD/CONS OVFLG, CMDQ_CONS ERR 0..2) are refused.
 * sid_bits and ssid_bits are the SMMU's (VMXL_CREATE_SMMU): GET fills
 * them, SET requires them equal, so state is never put into an SMMU of
 * another shape. Nothing changes when SET fails.
 *
 * Errors: ENXIO the VM has no SMMU (checked before the struct is read);
 * EINVAL (SET) flags, reserved or pad nonzero, a bit outside a
 * register's fields, another sid_bits/ssid_bits; EFAULT bad pointer.
 */
struct vmxl_smmu_state {
	__u32 flags;		/* must be 0 */
	__u32 sid_bits;		/* the SMMU's IDR1.SIDSIZE */
	__u32 ssid_bits;	/* the SMMU's IDR1.SSIDSIZE */
	__u32 cr0;		/* SMMU_CR0 (CR0ACK equals it) */
	__u32 cr1;
	__u32 cr2;
	__u32 gbpa;		/* GBPA.UPDATE clear */
	__u32 irq_ctrl;		/* SMMU_IRQ_CTRL (IRQ_CTRLACK equals it) */
	__u32 gerror;
	__u32 gerrorn;
	__u64 strtab_base;
	__u32 strtab_base_cfg;
	__u32 cmdq_prod;
	__u64 cmdq_base;
	__u32 cmdq_cons;
	__u32 evtq_prod;	/* page 1 */
	__u64 evtq_base;
	__u32 evtq_cons;	/* page 1 */
	__u32 pad;		/* must be 0 */
	__u64 reserved[8];	/* must be 0 */
};

#define VMXL_GET_SMMU_STATE	_IOR(VMXL_IOCTL_TYPE, 0x1d, struct vmxl_smmu_state)
#define VMXL_SET_SMMU_STATE	_IOW(VMXL_IOCTL_TYPE, 0x1e, struct vmxl_smmu_state)

/* ------------------------------------------------------------------ */
/* The in-kernel local APIC (VMXL_VM_LAPIC, docs/lapic.md)            */
/* ------------------------------------------------------------------ */

/*
 * VMXL_SIGNAL_MSI (VM fd): deliver an interrupt message to the vCPUs'
 * local APICs, as a PCI device's MSI write or an IOAPIC's redirection
 * does. address is the message address (0xfeeXXXXX: destination ID in
 * bits 19:12, destination mode in bit 2: 1 logical; the redirection
 * hint, bit 3, is ignored), data the message data (vector 7:0, delivery mode
 * 10:8: 0 fixed, 1 lowest priority, 4 NMI, 5 INIT; bit 15 level
 * trigger; bit 14, assert, is accepted and ignored). Lowest priority goes
 * to one APIC of the destination: the lowest-numbered vCPU whose APIC
 * takes it. Returns how many APICs took it: 0 when none matched or all
 * were disabled (a software-disabled APIC drops fixed and lowest-priority
 * messages but takes NMI and INIT).
 *
 * Errors: ENXIO the VM has no VMXL_VM_LAPIC; EINVAL flags, reserved or
 * address_hi nonzero, address outside 0xfee00000-0xfeefffff, data bits
 * other than 7:0, 10:8, 14 and 15, a delivery mode other than those, a
 * fixed or lowest-priority vector below 16.
 */
struct vmxl_msi {
	__u32 address_lo;
	__u32 address_hi;	/* must be 0 */
	__u32 data;
	__u32 flags;		/* must be 0 */
	__u64 reserved[2];
};

#define VMXL_SIGNAL_MSI		_IOW(VMXL_IOCTL_TYPE, 0x1a, struct vmxl_msi)

/*
 * VMXL_GET_LAPIC / VMXL_SET_LAPIC (vCPU fd): the whole local APIC in one
 * blob, for snapshots and migration. regs is the xAPIC register page up
 * to 0x3f0 (the register at MMIO offset o is the __u32 at regs[o]), IRR,
 * ISR and TMR included; in x2APIC mode too (ID then holds the 32-bit
 * x2APIC ID). The timer is in guest TSC units, so a restore needs no
 * ordering with the TSC or MSRs: timer_deadline is the guest TSC at which
 * the armed timer fires next (one-shot, periodic or TSC-deadline mode,
 * as LVT timer says), 0 when it is not armed; it stays in guest TSC
 * units when the TSC later moves (VMXL_SET_CLOCK, IA32_TSC), so the TSC
 * and the APIC restore in either order. A timer that fired, and INIT,
 * STARTUP or NMI sent, before GET are taken in first (IRR, MP state). On
 * SET, the current count register (0x390) is ignored (it follows from
 * timer_deadline) and an armed deadline already in the past fires at
 * once; APIC_BASE (sregs or MSR) is not part of the blob and is restored
 * first. Errors latched for the next ESR write are not carried.
 *
 * Errors: ENXIO the VM has no VMXL_VM_LAPIC; EINVAL (SET) flags or
 * reserved nonzero, the reserved timer mode 3, TSC-deadline mode while
 * the vCPU's CPUID hides it, a periodic timer armed with initial count 0.
 */
struct vmxl_lapic_state {
	__u8 regs[1024];
	__u64 timer_deadline;
	__u32 flags;		/* must be 0 */
	__u32 reserved0;
	__u64 reserved[6];
};

#define VMXL_GET_LAPIC		_IOR(VMXL_IOCTL_TYPE, 0x2e, struct vmxl_lapic_state)
#define VMXL_SET_LAPIC		_IOW(VMXL_IOCTL_TYPE, 0x2f, struct vmxl_lapic_state)

/*
 * VMXL_GET_MP_STATE / VMXL_SET_MP_STATE (vCPU fd): where a vCPU of a
 * VMXL_VM_LAPIC VM stands. RUN on a halted vCPU waits in the kernel for
 * an interrupt; on one in INIT_RECEIVED, for STARTUP. Setting RUNNABLE
 * starts a vCPU where its registers say (an AP without INIT/STARTUP).
 *
 * Errors: ENXIO the VM has no VMXL_VM_LAPIC; EINVAL (SET) an unknown
 * state, reserved nonzero.
 */
enum vmxl_mp_state_value {
	VMXL_MP_RUNNABLE = 0,
	VMXL_MP_HALTED = 1,		/* HLT: waiting for an interrupt */
	VMXL_MP_INIT_RECEIVED = 2,	/* waiting for STARTUP */
};

struct vmxl_mp_state {
	__u32 state;		/* enum vmxl_mp_state_value */
	__u32 reserved;
};

#define VMXL_GET_MP_STATE	_IOR(VMXL_IOCTL_TYPE, 0x30, struct vmxl_mp_state)
#define VMXL_SET_MP_STATE	_IOW(VMXL_IOCTL_TYPE, 0x31, struct vmxl_mp_state)

/*
 * VMXL_LAPIC_LINT (vCPU fd): a pulse on the APIC's LINT0 (pin 0) or
 * LINT1 (pin 1) input, as from an 8259's INTR output or a platform's NMI
 * line. What it does is the pin's LVT entry's (LVT LINT0 0x350, LINT1
 * 0x360): masked (or the APIC disabled): nothing; fixed: that LVT's
 * vector, edge-triggered; NMI: an NMI; ExtINT: the interrupt @vector, the
 * answer of the PIC's acknowledge cycle, delivered past IRR, ISR and TPR
 * when the guest can take it (not part of VMXL_GET_LAPIC: a PIC asks
 * again). Returns 1 when the APIC took it, 0 when not.
 *
 * Errors: ENXIO the VM has no VMXL_VM_LAPIC; EINVAL pin above 1, flags
 * or reserved nonzero, vector above 255, or below 16 for an ExtINT;
 * EAGAIN an ExtINT still waits for the guest.
 */
struct vmxl_lapic_lint {
	__u32 pin;
	__u32 vector;		/* ExtINT only */
	__u32 flags;		/* must be 0 */
	__u32 reserved;
};

#define VMXL_LAPIC_LINT		_IOW(VMXL_IOCTL_TYPE, 0x36, struct vmxl_lapic_lint)

/* ------------------------------------------------------------------ */
/* More vCPU and VM state for snapshots                                */
/* ------------------------------------------------------------------ */

/*
 * VMXL_GET_DEBUGREGS / VMXL_SET_DEBUGREGS (vCPU fd): DR0-3, DR6, DR7 as
 * the guest sees them. SET applies DR6/DR7's fixed bits as MOV DR does
 * (DR6 reads 0xffff0ff0 in its reserved-one bits, DR7 bit 10 set).
 *
 * Errors: EINVAL (SET) flags or reserved nonzero, DR6 or DR7 with bits
 * 63:32 set (MOV DR would #GP).
 */
struct vmxl_debugregs {
	__u64 db[4];
	__u64 dr6;
	__u64 dr7;
	__u32 flags;		/* must be 0 */
	__u32 reserved0;
	__u64 reserved[5];
};

#define VMXL_GET_DEBUGREGS	_IOR(VMXL_IOCTL_TYPE, 0x32, struct vmxl_debugregs)
#define VMXL_SET_DEBUGREGS	_IOW(VMXL_IOCTL_TYPE, 0x33, struct vmxl_debugregs)

/*
 * VMXL_GET_VCPU_EVENTS / VMXL_SET_VCPU_EVENTS (vCPU fd): what stands
 * between two instructions of the vCPU. At most one of exception,
 * interrupt and NMI is "injected": an exit cut its delivery short, or
 * userspace queued it, and the next entry delivers it.
 * nmi.pending: an NMI waits for NMIs to be unmasked (nmi.masked: the
 * guest's NMI handler has not returned yet). shadow: the instruction
 * after STI or MOV SS blocks interrupts (VMXL_SHADOW_*).
 *
 * A software interrupt or exception cut short (INT n, INT3, INTO, INT1)
 * is not carried: GET turns it back into its instruction, which the next
 * entry runs again, so that no instruction length needs saving.
 * The #DB trap owed after an instruction the module completed (RFLAGS.TF,
 * an I/O or data breakpoint on what it emulated) is an injected exception
 * 1 once GET has looked, DR6 (VMXL_GET_DEBUGREGS) already reporting it.
 *
 * Errors: EINVAL (SET) flags, pads or reserved nonzero; more than one
 * event injected; an exception vector above 31 or 2 (NMI is its own);
 * an error code for a vector that has none is allowed, as on KVM, but
 * has_error_code above 1 is not; shadow with unknown bits or both bits,
 * STI shadow while RFLAGS.IF is clear, an injected interrupt while it is
 * clear or together with a shadow (VM entry would refuse them, SDM Vol.
 * 3C 26.3.1.4 and 26.3.1.5): restore the registers first.
 */
#define VMXL_SHADOW_STI		(1U << 0)
#define VMXL_SHADOW_MOV_SS	(1U << 1)

struct vmxl_vcpu_events {
	struct {
		__u8 injected;
		__u8 nr;
		__u8 has_error_code;
		__u8 pad;
		__u32 error_code;
	} exception;
	struct {
		__u8 injected;
		__u8 nr;
		__u8 pad[2];
	} interrupt;
	struct {
		__u8 injected;
		__u8 pending;
		__u8 masked;
		__u8 pad;
	} nmi;
	__u8 shadow;		/* VMXL_SHADOW_* */
	__u8 pad[3];
	__u32 flags;		/* must be 0 */
	__u64 reserved[4];
};

#define VMXL_GET_VCPU_EVENTS	_IOR(VMXL_IOCTL_TYPE, 0x34, struct vmxl_vcpu_events)
#define VMXL_SET_VCPU_EVENTS	_IOW(VMXL_IOCTL_TYPE, 0x35, struct vmxl_vcpu_events)

/*
 * VMXL_GET_CLOCK / VMXL_SET_CLOCK (VM fd): the VM's guest TSC, one basis
 * for all its vCPUs. GET reads it now (the TSC of vCPUs whose guest never
 * wrote IA32_TSC, and of vCPUs set with SET_CLOCK since); SET makes every
 * vCPU's TSC read tsc now and go on from there, the same offset for all,
 * so vCPUs restored one after another do not drift apart as with one
 * IA32_TSC write each. It takes effect at each vCPU's next entry; new
 * vCPUs start on it. The local APIC timers keep their deadlines in guest
 * TSC units (VMXL_SET_LAPIC) and follow.
 *
 * Errors: EINVAL (SET) flags or reserved nonzero.
 */
struct vmxl_clock {
	__u64 tsc;
	__u32 flags;		/* must be 0 */
	__u32 reserved0;
	__u64 reserved[2];
};

#define VMXL_GET_CLOCK		_IOR(VMXL_IOCTL_TYPE, 0x1b, struct vmxl_clock)
#define VMXL_SET_CLOCK		_IOW(VMXL_IOCTL_TYPE, 0x1c, struct vmxl_clock)

/*
 * VMXL_SET_RESET_POINT / VMXL_RESET_TO_POINT (VM fd): snapshot fuzzing
 * inside the kernel (docs/uapi.md). SET_RESET_POINT makes the VM's
 * current state the reset point: a copy of every writable slot, every
 * vCPU's state and the VM clock. RESET_TO_POINT brings the VM back to it,
 * copying back only the pages written since the point or the last reset,
 * and returns how many it copied. A change of the memory layout
 * (VMXL_SET_MEMORY_REGION other than toggling VMXL_MEM_LOG_DIRTY) drops
 * the point.
 *
 * Errors: EINVAL flags or reserved nonzero; EBUSY a vCPU of the VM is in
 * VMXL_RUN (or another vCPU ioctl); ENOENT (RESET) no point; ENOMEM.
 */
struct vmxl_reset_point {
	__u32 flags;		/* must be 0 */
	__u32 reserved0;
	__u64 reserved[3];
};

#define VMXL_SET_RESET_POINT	_IOW(VMXL_IOCTL_TYPE, 0x1f, struct vmxl_reset_point)
#define VMXL_RESET_TO_POINT	_IOW(VMXL_IOCTL_TYPE, 0x37, struct vmxl_reset_point)

#endif /* _UAPI_LINUX_VMX_LITE_H */
