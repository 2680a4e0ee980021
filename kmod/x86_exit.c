// SPDX-License-Identifier: GPL-2.0
/*
 * The exits both vendors finish the same way: port and string I/O, MMIO
 * (decoded by x86_decode.c, served by an in-kernel device or handed to
 * userspace), RDMSR/WRMSR, hypercalls and internal errors, with their
 * completion on the next RUN, and the #DB traps the instructions the
 * module completes owe the guest. Nothing here touches a VMCB or VMCS;
 * the backends pass what their exit information says.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/string.h>
#include <linux/uaccess.h>

#include "vmxl.h"
#include "trace.h"

enum vmxl_exit_action vmxl_internal_error(struct vmxl_vcpu *vcpu, u32 sub,
					  u64 data0, u64 data1)
{
	struct vmxl_run *run = vcpu->run;

	memset(&run->internal, 0, sizeof(run->internal));
	run->exit_reason = VMXL_EXIT_INTERNAL_ERROR;
	run->internal.suberror = sub;
	run->internal.data[0] = data0;
	run->internal.data[1] = data1;
	return VMXL_EXIT_USER;
}

/* VMMCALL / VMCALL, already stepped over: hand it to userspace. */
enum vmxl_exit_action vmxl_hypercall_exit(struct vmxl_vcpu *vcpu)
{
	struct vmxl_run *run = vcpu->run;

	memset(&run->hypercall, 0, sizeof(run->hypercall));
	run->exit_reason = VMXL_EXIT_HYPERCALL;
	run->hypercall.nr = vcpu->regs[0];
	run->hypercall.args[0] = vcpu->regs[3];
	run->hypercall.args[1] = vcpu->regs[1];
	run->hypercall.args[2] = vcpu->regs[2];
	run->hypercall.args[3] = vcpu->regs[6];
	run->hypercall.args[4] = vcpu->regs[7];
	run->hypercall.ret = vcpu->regs[0];
	vcpu->pending = VMXL_PENDING_HYPERCALL;
	return VMXL_EXIT_USER;
}

/* RDMSR / WRMSR with ECX, EDX:EAX. Nonzero: the backend injects #GP. */
int vmxl_msr_exit(struct vmxl_vcpu *vcpu, bool write)
{
	u32 index = vcpu->regs[1];
	u64 data = 0;
	int ret;

	if (write) {
		data = (vcpu->regs[2] << 32) | (u32)vcpu->regs[0];
		ret = vmxl_emulate_wrmsr(vcpu, index, data);
	} else {
		ret = vmxl_emulate_rdmsr(vcpu, index, &data);
	}
	if (ret == -ENOENT) {
		/* An MSR nobody implements: count it, name it, #GP. */
		WRITE_ONCE(vcpu->stats[VMXL_STAT_MSR_UNKNOWN],
			   vcpu->stats[VMXL_STAT_MSR_UNKNOWN] + 1);
		trace_vmxl_msr_unknown(vcpu, index, write, data);
	}
	if (ret)
		return ret;
	if (!write) {
		vcpu->regs[0] = (u32)data;
		vcpu->regs[2] = data >> 32;
	}
	return 0;
}

/*
 * Length of the legacy/REX prefixes of the instruction at @linear_rip,
 * and its segment override (-1 for none, else 0-5: ES CS SS DS FS GS).
 * For backends without a hardware-decoded length or segment.
 */
unsigned int vmxl_insn_prefixes(const struct vmxl_walk_ctx *w, u64 linear_rip,
				bool long64, int *seg)
{
	static const u8 seg_prefix[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
	unsigned int n = 0, i, j;
	u8 b[16];

	*seg = -1;
	vmxl_fetch_insn(w, linear_rip, b, &n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < ARRAY_SIZE(seg_prefix); j++)
			if (b[i] == seg_prefix[j])
				*seg = j;
		if (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf0 ||
		    b[i] == 0xf2 || b[i] == 0xf3 ||
		    memchr(seg_prefix, b[i], sizeof(seg_prefix)))
			continue;
		if (long64 && (b[i] & 0xf0) == 0x40)
			continue;
		break;
	}
	return i;
}

/*
 * DR6 B0-B3 of the enabled breakpoints an access of @size bytes at @addr
 * meets (SDM Vol. 3B 17.2.4-17.2.5, APM Vol. 2, 13.1.1.5): with @walk,
 * a data access at guest-physical @addr, matched against the translation
 * of DRn (R/W 01 for writes, 11 for reads and writes); without, a port
 * (R/W 10, only while CR4.DE is set). DRn is aligned down to its LEN
 * (1, 2, 8 or 4 bytes). Only enabled breakpoints are reported, which
 * the SDM allows and KVM does.
 */
static u32 hw_breakpoints(struct vmxl_vcpu *vcpu,
			  const struct vmxl_walk_ctx *walk, u64 addr,
			  unsigned int size, bool write)
{
	static const u8 lens[4] = { 1, 2, 8, 4 };
	u64 dr7 = vcpu->dr7, base;
	unsigned int i, rw, len;
	u32 bits = 0;

	if (!(dr7 & 0xff))
		return 0;
	for (i = 0; i < 4; i++) {
		rw = (dr7 >> (16 + 4 * i)) & 3;
		len = lens[(dr7 >> (18 + 4 * i)) & 3];
		if (!(dr7 & (3ULL << (2 * i))))
			continue;
		if (walk ? rw != 3 && !(rw == 1 && write) : rw != 2)
			continue;
		base = vcpu->db[i] & ~(u64)(len - 1);
		if (walk && vmxl_gva_to_gpa(walk, base, &base))
			continue;
		if (addr < base + len && base < addr + size)
			bits |= BIT(i);
	}
	return bits;
}

/* Step RIP past an instruction the module completed (vmxl_insn_retired()). */
static void retire(struct vmxl_vcpu *vcpu, u64 next_rip)
{
	vcpu->rip = next_rip;
	vmxl_insn_retired(vcpu);
}

static u64 addr_mask(u8 addr_size)
{
	return addr_size == 8 ? ~0ULL : (1ULL << (addr_size * 8)) - 1;
}

/*
 * A string register after a write at the address size: a 32-bit write
 * zero-extends, as in any 64-bit mode instruction; 16 bits keep the rest.
 */
static u64 addr_assign(u64 old, u64 val, u8 addr_size)
{
	if (addr_size == 2)
		return (old & ~0xffffULL) | (val & 0xffff);
	return addr_size == 4 ? (u32)val : val;
}

/* Advance the string registers after one element moved. */
static void string_step(struct vmxl_vcpu *vcpu, int reg, u8 size,
			u8 addr_size)
{
	u64 step = (vcpu->rflags & X86_EFLAGS_DF) ? -(u64)size : size;

	vcpu->regs[reg] = addr_assign(vcpu->regs[reg], vcpu->regs[reg] + step,
				      addr_size);
}

/*
 * After a string element: consume one count; finished -> next insn.
 * Otherwise RIP stays on the instruction, which the guest runs again for
 * the next element. With TF set, hardware takes the single-step trap
 * after each iteration of a REP string instruction, not only after the
 * last: a REP string is suspended at an iteration boundary by any
 * exception or interrupt with rCX, rSI and rDI as that iteration left
 * them and RIP on the instruction (SDM Vol. 2B "REP/REPE/REPZ/REPNE/
 * REPNZ", Vol. 3B 17.3.1.4; APM Vol. 2, 13.1.4; Bochs and real CPUs
 * trap per element). The #DB raised at the next entry is that trap.
 */
static void string_done(struct vmxl_vcpu *vcpu, bool rep, u8 addr_size,
			u64 next_rip)
{
	u64 mask = addr_mask(addr_size);

	if (rep) {
		vcpu->regs[1] = addr_assign(vcpu->regs[1], vcpu->regs[1] - 1,
					    addr_size);
		if (vcpu->regs[1] & mask) {
			vmxl_insn_retired(vcpu);	/* the iteration's trap */
			return;	/* same instruction again */
		}
	}
	retire(vcpu, next_rip);
}

/* ------------------------------------------------------------------ */
/* MMIO: the decoded instruction in vcpu->mmio_insn, access by access */
/* ------------------------------------------------------------------ */

/*
 * One memory access of the instruction: done by an in-kernel device
 * (true), or left in run->mmio for userspace (false).
 */
static bool mmio_access(struct vmxl_vcpu *vcpu, u64 gpa, bool write,
			u64 *val)
{
	struct vmxl_run *run = vcpu->run;
	u8 size = vcpu->mmio_insn.size;

	if (vmxl_iodev_mmio(vcpu, gpa, size, write, val))
		return true;
	memset(&run->mmio, 0, sizeof(run->mmio));
	run->exit_reason = VMXL_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = size;
	run->mmio.is_write = write;
	if (write)
		memcpy(run->mmio.data, val, size);
	trace_vmxl_mmio(vcpu, write ? VMXL_TRACE_MMIO_WRITE :
			VMXL_TRACE_MMIO_UNSATISFIED, gpa, size,
			write ? *val : 0, false);
	return false;
}

/* The instruction (or string element) is done: step over it. */
static void mmio_retire(struct vmxl_vcpu *vcpu)
{
	const struct vmxl_insn *insn = &vcpu->mmio_insn;

	if (insn->op != VMXL_OP_MOVS && insn->op != VMXL_OP_STOS) {
		/* its data breakpoints trap after it, with single-step */
		vcpu->db_pending |= vcpu->mmio_db;
		vcpu->mmio_db = 0;
		retire(vcpu, vcpu->pending_next_rip);
		return;
	}
	/* the element's breakpoints, after its iteration (mmio_string()) */
	vcpu->db_pending |= vcpu->mmio_db;
	vcpu->mmio_db = 0;
	if (insn->op == VMXL_OP_MOVS)
		string_step(vcpu, 6, insn->size, insn->addr_size);
	string_step(vcpu, 7, insn->size, insn->addr_size);
	string_done(vcpu, insn->rep, insn->addr_size, vcpu->pending_next_rip);
}

/*
 * The last access of the instruction, a write: it retires with it, as a
 * store does (userspace completes nothing).
 */
static enum vmxl_exit_action mmio_write(struct vmxl_vcpu *vcpu, u64 gpa,
					u64 val)
{
	bool done = mmio_access(vcpu, gpa, true, &val);

	mmio_retire(vcpu);
	return done ? VMXL_EXIT_RESUME : VMXL_EXIT_USER;
}

/*
 * The instruction read @val from vcpu->mmio_gpa: finish it. A load or a
 * CMP/TEST/BT retires here; the others go on to write the result (an
 * RMW, to the same address) or the element (MOVS, to RAM or MMIO).
 */
static enum vmxl_exit_action mmio_finish_read(struct vmxl_vcpu *vcpu, u64 val)
{
	const struct vmxl_insn *insn = &vcpu->mmio_insn;
	u64 out;

	switch (insn->op) {
	case VMXL_OP_MOV:
		vmxl_mmio_complete_load(insn, vcpu->regs, val);
		break;
	case VMXL_OP_MOVS:
		if (!vcpu->mmio_dst_ram)
			return mmio_write(vcpu, vcpu->mmio_dst_gpa, val);
		if (vmxl_write_gpa(vcpu, vcpu->mmio_dst_gpa, &val, insn->size))
			return vmxl_internal_error(vcpu,
						   VMXL_INTERNAL_GUEST_WALK,
						   vcpu->regs[7],
						   vcpu->mmio_dst_gpa);
		break;
	default:
		out = vmxl_emulate_rmw(insn, vcpu->regs, &vcpu->rflags, val);
		if (insn->is_write)
			return mmio_write(vcpu, vcpu->mmio_gpa, out);
	}
	mmio_retire(vcpu);
	return VMXL_EXIT_RESUME;
}

/* The instruction's read: a device's, or an exit that the next RUN ends. */
static enum vmxl_exit_action mmio_read(struct vmxl_vcpu *vcpu)
{
	u64 val = 0;

	if (mmio_access(vcpu, vcpu->mmio_gpa, false, &val))
		return mmio_finish_read(vcpu, val);
	vcpu->pending = VMXL_PENDING_MMIO_READ;
	return VMXL_EXIT_USER;
}

/*
 * One element of MOVS or STOS with MMIO on either side, as KVM does: a
 * read of the source (RAM, or an MMIO exit), a write of the destination
 * (an MMIO exit, or RAM), and REP goes round through the guest again.
 * The linear addresses are rSI and rDI: segment bases are not known
 * here, so only 64-bit mode's flat DS and ES are emulated (-EINVAL:
 * an emulation failure, for other modes and FS/GS sources).
 */
static int mmio_string(struct vmxl_vcpu *vcpu,
		       const struct vmxl_walk_ctx *walk, enum vmxl_cpu_mode mode)
{
	const struct vmxl_insn *insn = &vcpu->mmio_insn;
	u64 mask = addr_mask(insn->addr_size), src = 0, dst, val = 0;

	if (mode != VMXL_MODE_LONG64 || insn->seg >= 4)
		return -EINVAL;
	if (insn->rep && !(vcpu->regs[1] & mask)) {
		retire(vcpu, vcpu->pending_next_rip);
		return VMXL_EXIT_RESUME;
	}
	if (vmxl_gva_to_gpa(walk, vcpu->regs[7] & mask, &dst))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   vcpu->regs[7] & mask, 0);
	if (insn->op == VMXL_OP_MOVS &&
	    vmxl_gva_to_gpa(walk, vcpu->regs[6] & mask, &src))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   vcpu->regs[6] & mask, 0);
	/*
	 * The data breakpoints of this element, on both sides, MMIO or RAM:
	 * the module makes the accesses the CPU would have. They trap after
	 * the iteration that met them, RIP on the instruction while rCX
	 * remains (SDM Vol. 3B 17.3.1.2 says so for INS and OUTS; P6 CPUs
	 * may report REP MOVS/STOS one iteration late, which is allowed, not
	 * required). mmio_retire() raises them once the element is done.
	 */
	vcpu->mmio_db = hw_breakpoints(vcpu, walk, dst, insn->size, true);
	if (insn->op == VMXL_OP_MOVS)
		vcpu->mmio_db |= hw_breakpoints(vcpu, walk, src, insn->size,
						false);
	vcpu->mmio_dst_gpa = dst;
	vcpu->mmio_dst_ram = vmxl_gpa_is_ram(vcpu->vm, dst, true);
	if (insn->op == VMXL_OP_STOS)
		return vcpu->mmio_dst_ram ? VMXL_EXIT_RESUME :
		       mmio_write(vcpu, dst, vcpu->regs[0]);
	vcpu->mmio_gpa = src;
	if (!vmxl_gpa_is_ram(vcpu->vm, src, false))
		return mmio_read(vcpu);
	/* RAM to RAM now (a slot came back): the CPU does it again. */
	if (vcpu->mmio_dst_ram)
		return VMXL_EXIT_RESUME;
	if (vmxl_read_gpa(vcpu->vm, src, &val, insn->size))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   vcpu->regs[6] & mask, src);
	return mmio_write(vcpu, dst, val);
}

enum vmxl_exit_action vmxl_mmio_exit(struct vmxl_vcpu *vcpu,
				     const struct vmxl_walk_ctx *walk,
				     u64 linear_rip, enum vmxl_cpu_mode mode,
				     u64 gpa)
{
	struct vmxl_run *run = vcpu->run;
	struct vmxl_insn *insn = &vcpu->mmio_insn;
	unsigned int n = 0;
	u8 bytes[16] = {};
	int ret;

	ret = vmxl_fetch_insn(walk, linear_rip, bytes, &n);
	if (ret && !n)
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   linear_rip, gpa);
	ret = vmxl_decode_mmio(bytes, n, mode, insn);
	if (!ret) {
		vcpu->mmio_db = hw_breakpoints(vcpu, walk, gpa, insn->size,
					       insn->is_write);
		vcpu->mmio_gpa = gpa;
		vcpu->pending_next_rip = vcpu->rip + insn->len;
		if (insn->op == VMXL_OP_MOVS || insn->op == VMXL_OP_STOS)
			ret = mmio_string(vcpu, walk, mode);
		else if (insn->op == VMXL_OP_MOV && insn->is_write)
			ret = mmio_write(vcpu, gpa,
					 vmxl_mmio_store_value(insn, vcpu->regs));
		else
			ret = mmio_read(vcpu);
	}
	if (ret >= 0)
		return ret;
	vmxl_internal_error(vcpu, VMXL_INTERNAL_EMULATION, gpa, linear_rip);
	run->internal.ninsn = n;
	memcpy(run->internal.insn, bytes, n);
	return VMXL_EXIT_USER;
}

enum vmxl_exit_action vmxl_io_exit(struct vmxl_vcpu *vcpu,
				   const struct vmxl_io_info *io)
{
	struct vmxl_run *run = vcpu->run;
	u64 lin, gpa, mask = addr_mask(io->addr_size);
	int reg = io->in ? 7 : 6;	/* RDI for INS, RSI for OUTS */

	trace_vmxl_pio(vcpu, io);
	/* I/O breakpoints trap after the access (SDM Vol. 3B 17.2.4). */
	if (io->cr4 & X86_CR4_DE)
		vcpu->db_pending |= hw_breakpoints(vcpu, NULL, io->port,
						   io->size, !io->in);
	memset(&run->io, 0, sizeof(run->io));
	run->exit_reason = VMXL_EXIT_IO;
	run->io.port = io->port;
	run->io.size = io->size;
	run->io.direction = io->in ? VMXL_IO_IN : VMXL_IO_OUT;
	run->io.string = io->string;
	run->io.rep = io->rep;

	if (!io->string) {
		if (io->in) {
			vcpu->pending = VMXL_PENDING_IO_IN;
			vcpu->pending_str.addr_size = 0;
		} else {
			memcpy(run->io.data, &vcpu->regs[0], io->size);
		}
		vcpu->pending_next_rip = io->next_rip;
		if (!io->in)
			retire(vcpu, io->next_rip);
		return VMXL_EXIT_USER;
	}

	/* REP with a zero count does nothing at all. */
	if (io->rep && !(vcpu->regs[1] & mask)) {
		retire(vcpu, io->next_rip);
		return VMXL_EXIT_RESUME;
	}
	lin = io->seg_base + (vcpu->regs[reg] & mask);
	if (vmxl_gva_to_gpa(&io->walk, lin, &gpa))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   lin, 0);
	/*
	 * The memory side of the element, which the module accesses: INS
	 * writes it, OUTS reads it. A data breakpoint there traps after the
	 * iteration that met it (SDM Vol. 3B 17.3.1.2; APM Vol. 2, 13.1.1.5).
	 */
	vcpu->db_pending |= hw_breakpoints(vcpu, &io->walk, gpa, io->size,
					   io->in);
	if (io->in) {
		vcpu->pending = VMXL_PENDING_IO_IN;
		vcpu->pending_str.gpa = gpa;	/* already translated */
		vcpu->pending_str.rep = io->rep;
		vcpu->pending_str.addr_size = io->addr_size;
		vcpu->pending_next_rip = io->next_rip;
		return VMXL_EXIT_USER;
	}
	if (vmxl_read_gpa(vcpu->vm, gpa, run->io.data, io->size))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   lin, gpa);
	string_step(vcpu, reg, io->size, io->addr_size);
	string_done(vcpu, io->rep, io->addr_size, io->next_rip);
	return VMXL_EXIT_USER;
}

/*
 * Finish what the last exit left for userspace to fill in: 0, 1 when that
 * made another exit to userspace (in run), or -EFAULT.
 */
int vmxl_complete_pending(struct vmxl_vcpu *vcpu)
{
	struct vmxl_run *run = vcpu->run;
	int ret = 0;
	u64 val = 0;

	switch (vcpu->pending) {
	case VMXL_PENDING_NONE:
		return 0;
	case VMXL_PENDING_IO_IN:
		if (!vcpu->pending_str.addr_size) {
			memcpy(&vcpu->regs[0], run->io.data, run->io.size);
			/* IN EAX zero-extends into RAX like any 32-bit write */
			if (run->io.size == 4)
				vcpu->regs[0] &= 0xffffffffULL;
			retire(vcpu, vcpu->pending_next_rip);
			break;
		}
		down_read(&vcpu->vm->run_sem);
		ret = vmxl_write_gpa(vcpu, vcpu->pending_str.gpa,
				     run->io.data, run->io.size) ? -EFAULT : 0;
		up_read(&vcpu->vm->run_sem);
		string_step(vcpu, 7, run->io.size, vcpu->pending_str.addr_size);
		string_done(vcpu, vcpu->pending_str.rep,
			    vcpu->pending_str.addr_size, vcpu->pending_next_rip);
		break;
	case VMXL_PENDING_MMIO_READ:
		memcpy(&val, run->mmio.data, vcpu->mmio_insn.size);
		trace_vmxl_mmio(vcpu, VMXL_TRACE_MMIO_READ, vcpu->mmio_gpa,
				vcpu->mmio_insn.size, val, false);
		vcpu->pending = VMXL_PENDING_NONE;
		/* An RMW's or MOVS's write may be a new exit of its own. */
		down_read(&vcpu->vm->run_sem);
		ret = mmio_finish_read(vcpu, val) == VMXL_EXIT_USER;
		up_read(&vcpu->vm->run_sem);
		break;
	case VMXL_PENDING_HYPERCALL:
		vcpu->regs[0] = run->hypercall.ret;
		break;
	}
	vcpu->pending = VMXL_PENDING_NONE;
	return ret;
}
