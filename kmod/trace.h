/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx-lite's trace events, the counterpart of KVM's kvm:kvm_exit and
 * friends: `perf stat -e 'vmx_lite:*'`, perf record, trace-cmd, bpftrace
 * or tracefs (docs/troubleshooting.md). Each carries the VM's id (the one
 * netlink reports) and the vCPU's. Disabled, each costs a patched-out
 * branch (static key) where it stands.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vmx_lite

#if !defined(VMXL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define VMXL_TRACE_H

#include <linux/tracepoint.h>

#include "vmxl.h"

#define VMXL_TRACE_STATS						\
	{ VMXL_STAT_IO,		"io" },					\
	{ VMXL_STAT_NPF,	"npf" },				\
	{ VMXL_STAT_CPUID,	"cpuid" },				\
	{ VMXL_STAT_MSR,	"msr" },				\
	{ VMXL_STAT_HLT,	"hlt" },				\
	{ VMXL_STAT_HYPERCALL,	"hypercall" },				\
	{ VMXL_STAT_HOST_INTR,	"host_intr" },				\
	{ VMXL_STAT_WINDOW,	"window" },				\
	{ VMXL_STAT_CR_DR,	"cr_dr" },				\
	{ VMXL_STAT_OTHER,	"other" }

#define VMXL_TRACE_EXITS						\
	{ VMXL_EXIT_NONE,		"none" },			\
	{ VMXL_EXIT_IO,			"io" },				\
	{ VMXL_EXIT_MMIO,		"mmio" },			\
	{ VMXL_EXIT_HLT,		"hlt" },			\
	{ VMXL_EXIT_HYPERCALL,		"hypercall" },			\
	{ VMXL_EXIT_SHUTDOWN,		"shutdown" },			\
	{ VMXL_EXIT_FAIL_ENTRY,		"fail_entry" },			\
	{ VMXL_EXIT_INTERNAL_ERROR,	"internal_error" },		\
	{ VMXL_EXIT_INTR,		"intr" },			\
	{ VMXL_EXIT_IRQ_WINDOW_OPEN,	"irq_window_open" },		\
	{ VMXL_EXIT_DIRTY_RING_FULL,	"dirty_ring_full" },		\
	{ VMXL_EXIT_EOI,		"eoi" }

TRACE_EVENT(vmxl_entry,
	TP_PROTO(const struct vmxl_vcpu *vcpu),
	TP_ARGS(vcpu),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u64, rip)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->rip = vcpu->rip;
	),
	TP_printk("vm %u vcpu %u rip 0x%llx",
		  __entry->vm, __entry->vcpu, __entry->rip)
);

/*
 * An exit from the guest: its class (the netlink counter it counts in,
 * the same on both vendors), the vendor's raw code (SVM exit code or VMX
 * basic exit reason, `isa` says which) and qualification (EXITINFO1 or
 * the exit qualification), and the RIP it left.
 */
TRACE_EVENT(vmxl_exit,
	TP_PROTO(const struct vmxl_vcpu *vcpu, unsigned int stat),
	TP_ARGS(vcpu, stat),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, stat)
		__field(u32, isa)
		__field(u64, raw)
		__field(u64, qual)
		__field(u64, rip)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->stat = stat;
		__entry->isa = vmxl_backend->id;
		__entry->raw = vcpu->exit_raw;
		__entry->qual = vcpu->exit_qual;
		__entry->rip = vcpu->rip;
	),
	TP_printk("vm %u vcpu %u %s %s 0x%llx qual 0x%llx rip 0x%llx",
		  __entry->vm, __entry->vcpu,
		  __print_symbolic(__entry->stat, VMXL_TRACE_STATS),
		  __entry->isa == VMXL_BACKEND_SVM ? "svm" : "vmx",
		  __entry->raw, __entry->qual, __entry->rip)
);

/* VMXL_RUN returns: the run page's exit reason and the ioctl's result. */
TRACE_EVENT(vmxl_userspace_exit,
	TP_PROTO(const struct vmxl_vcpu *vcpu, u32 reason, long ret),
	TP_ARGS(vcpu, reason, ret),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, reason)
		__field(long, ret)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->reason = reason;
		__entry->ret = ret;
	),
	TP_printk("vm %u vcpu %u reason %s ret %ld",
		  __entry->vm, __entry->vcpu,
		  __print_symbolic(__entry->reason, VMXL_TRACE_EXITS),
		  __entry->ret)
);

#define VMXL_TRACE_MMIO_READ		0
#define VMXL_TRACE_MMIO_WRITE		1
#define VMXL_TRACE_MMIO_UNSATISFIED	2	/* a read userspace answers */

/*
 * A decoded MMIO access: a write with its value, a read with the value
 * it got (an in-kernel device's at once; userspace's on the next RUN,
 * after an "unsatisfied_read" when the exit went out), and whether an
 * in-kernel device (iobus.c) took it.
 */
TRACE_EVENT(vmxl_mmio,
	TP_PROTO(const struct vmxl_vcpu *vcpu, u32 type, u64 gpa, u32 len,
		 u64 val, bool in_kernel),
	TP_ARGS(vcpu, type, gpa, len, val, in_kernel),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, type)
		__field(u32, len)
		__field(u64, gpa)
		__field(u64, val)
		__field(bool, in_kernel)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->type = type;
		__entry->len = len;
		__entry->gpa = gpa;
		__entry->val = val;
		__entry->in_kernel = in_kernel;
	),
	TP_printk("vm %u vcpu %u %s len %u gpa 0x%llx val 0x%llx%s",
		  __entry->vm, __entry->vcpu,
		  __print_symbolic(__entry->type,
				   { VMXL_TRACE_MMIO_READ, "read" },
				   { VMXL_TRACE_MMIO_WRITE, "write" },
				   { VMXL_TRACE_MMIO_UNSATISFIED,
				     "unsatisfied_read" }),
		  __entry->len, __entry->gpa, __entry->val,
		  __entry->in_kernel ? " in_kernel" : "")
);

/*
 * A port access going to userspace; OUT's value (of a plain OUT: a string
 * OUT's comes from memory later), string and REP forms.
 */
TRACE_EVENT(vmxl_pio,
	TP_PROTO(const struct vmxl_vcpu *vcpu, const struct vmxl_io_info *io),
	TP_ARGS(vcpu, io),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u16, port)
		__field(u8, size)
		__field(bool, in)
		__field(bool, string)
		__field(bool, rep)
		__field(u64, val)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->port = io->port;
		__entry->size = io->size;
		__entry->in = io->in;
		__entry->string = io->string;
		__entry->rep = io->rep;
		__entry->val = io->in || io->string ? 0 :
			       vcpu->regs[0] & (BIT_ULL(io->size * 8) - 1);
	),
	TP_printk("vm %u vcpu %u %s%s%s port 0x%x size %u val 0x%llx",
		  __entry->vm, __entry->vcpu,
		  __entry->rep ? "rep " : "", __entry->in ? "in" : "out",
		  __entry->string ? "s" : "", __entry->port, __entry->size,
		  __entry->val)
);

/* RDMSR/WRMSR of an MSR the module does not implement: #GP follows. */
TRACE_EVENT(vmxl_msr_unknown,
	TP_PROTO(const struct vmxl_vcpu *vcpu, u32 msr, bool write, u64 val),
	TP_ARGS(vcpu, msr, write, val),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, msr)
		__field(bool, write)
		__field(u64, val)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->msr = msr;
		__entry->write = write;
		__entry->val = val;
	),
	TP_printk("vm %u vcpu %u %s msr 0x%x val 0x%llx",
		  __entry->vm, __entry->vcpu,
		  __entry->write ? "wrmsr" : "rdmsr", __entry->msr,
		  __entry->val)
);

#define VMXL_TRACE_INJ_IRQ		0
#define VMXL_TRACE_INJ_NMI		1
#define VMXL_TRACE_INJ_EXCEPTION	2
#define VMXL_TRACE_INJ_REINJECT		3	/* delivery the exit cut short */

/* An event the module puts into the guest at the next entry. */
TRACE_EVENT(vmxl_inject,
	TP_PROTO(const struct vmxl_vcpu *vcpu, u32 kind, u32 vector,
		 bool has_err, u32 err),
	TP_ARGS(vcpu, kind, vector, has_err, err),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, kind)
		__field(u32, vector)
		__field(bool, has_err)
		__field(u32, err)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->kind = kind;
		__entry->vector = vector;
		__entry->has_err = has_err;
		__entry->err = err;
	),
	TP_printk("vm %u vcpu %u %s vector %u%s 0x%x",
		  __entry->vm, __entry->vcpu,
		  __print_symbolic(__entry->kind,
				   { VMXL_TRACE_INJ_IRQ, "irq" },
				   { VMXL_TRACE_INJ_NMI, "nmi" },
				   { VMXL_TRACE_INJ_EXCEPTION, "exception" },
				   { VMXL_TRACE_INJ_REINJECT, "reinject" }),
		  __entry->vector, __entry->has_err ? " err" : "",
		  __entry->err)
);

/* A nested-page fault on RAM, mapped; MMIO ones show as vmxl_mmio. */
TRACE_EVENT(vmxl_npf,
	TP_PROTO(const struct vmxl_vcpu *vcpu, u64 gpa, bool write,
		 bool writable),
	TP_ARGS(vcpu, gpa, write, writable),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u64, gpa)
		__field(bool, write)
		__field(bool, writable)
	),
	TP_fast_assign(
		__entry->vm = vcpu->vm->id;
		__entry->vcpu = vcpu->id;
		__entry->gpa = gpa;
		__entry->write = write;
		__entry->writable = writable;
	),
	TP_printk("vm %u vcpu %u gpa 0x%llx %s, mapped %s",
		  __entry->vm, __entry->vcpu, __entry->gpa,
		  __entry->write ? "write" : "read",
		  __entry->writable ? "writable" : "read-only")
);

#define VMXL_TRACE_DIRTY_GET		0
#define VMXL_TRACE_DIRTY_GET_CLEAR	1
#define VMXL_TRACE_DIRTY_CLEAR		2
#define VMXL_TRACE_DIRTY_RING_RESET	3

/*
 * A harvest of the dirty log: @pages pages looked at from @first of
 * @slot (U32_MAX: the rings of every vCPU), @dirty of them dirty (for a
 * ring reset: the entries re-armed).
 */
TRACE_EVENT(vmxl_dirty_harvest,
	TP_PROTO(const struct vmxl_vm *vm, u32 op, u32 slot, u64 first,
		 u64 pages, u64 dirty),
	TP_ARGS(vm, op, slot, first, pages, dirty),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, op)
		__field(u32, slot)
		__field(u64, first)
		__field(u64, pages)
		__field(u64, dirty)
	),
	TP_fast_assign(
		__entry->vm = vm->id;
		__entry->op = op;
		__entry->slot = slot;
		__entry->first = first;
		__entry->pages = pages;
		__entry->dirty = dirty;
	),
	TP_printk("vm %u %s slot %d first %llu pages %llu dirty %llu",
		  __entry->vm,
		  __print_symbolic(__entry->op,
				   { VMXL_TRACE_DIRTY_GET, "get" },
				   { VMXL_TRACE_DIRTY_GET_CLEAR, "get_clear" },
				   { VMXL_TRACE_DIRTY_CLEAR, "clear" },
				   { VMXL_TRACE_DIRTY_RING_RESET, "ring_reset" }),
		  (int)__entry->slot, __entry->first, __entry->pages,
		  __entry->dirty)
);

#endif /* VMXL_TRACE_H */

/* Out of tree: define_trace.h finds this file through -I$(src)/kmod. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
