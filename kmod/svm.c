// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite AMD SVM backend.
 *
 * Per CPU: EFER.SVME and a host save area only while VMs exist (see
 * vmxl_hw_get()), plus an ASID allocator. Per vCPU: one VMCB. Guest
 * memory is mapped through nested page tables (mmu.c) built on demand.
 *
 * Optional SVM features (NRIP save, decode assists, flush-by-ASID, VMCB
 * clean bits) are used when present and never required: QEMU's emulated
 * SVM offers none of them, so instruction lengths come from decoding and
 * TLB flushes from ASID recycling.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": svm: " fmt

#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <asm/debugreg.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/svm.h>
#include <asm/trapnr.h>

#include "vmxl.h"
#include "trace.h"

/* CPUID Fn8000_000A EDX: SVM feature identification */
#define SVM_CPUID_NP		BIT(0)
#define SVM_CPUID_NRIPS		BIT(3)
#define SVM_CPUID_VMCBCLEAN	BIT(5)
#define SVM_CPUID_FLUSHBYASID	BIT(6)
#define SVM_CPUID_DECODEASSISTS	BIT(7)
#define SVM_CPUID_PAUSEFILTER	BIT(10)
#define SVM_CPUID_VGIF		BIT(16)

/* Nested page fault error code (EXITINFO1) */
#define NPF_WRITE		BIT_ULL(1)
#define NPF_FETCH		BIT_ULL(4)
#define NPF_IN_GUEST_WALK	BIT_ULL(33)

#define IOPM_SIZE		(3 * PAGE_SIZE)
#define MSRPM_SIZE		(2 * PAGE_SIZE)

asmlinkage void vmxl_svm_enter(unsigned long vmcb_pa,
			       unsigned long host_save_pa, u64 *regs);

struct svm_cpu {
	void *hsave;		/* VM_HSAVE_PA: VMRUN's host state */
	void *host_save;	/* VMSAVE/VMLOAD of host FS/GS/TR/... */
	u32 max_asid;
	u32 next_asid;
	u64 asid_gen;		/* bumped whenever ASIDs are recycled */
};

struct svm_vcpu {
	struct vmcb *vmcb;
	unsigned long vmcb_pa;
	u64 asid_gen;		/* generation of vmcb->control.asid */
	/*
	 * A software interrupt re-injected without NRIP save: RIP was
	 * stepped from soft_int_rip to soft_int_next (svm_soft_int_step()).
	 */
	bool soft_int_stepped;
	u64 soft_int_rip, soft_int_next;
};

static DEFINE_PER_CPU(struct svm_cpu, svm_cpu);
/* Intercept every port and every MSR: one shared, read-only copy. */
static void *svm_iopm;
static void *svm_msrpm;

/*
 * QEMU's TCG as the "hardware": its VMRUN delivers an injected INTR at
 * once but leaves the vector as the vCPU's pending exception
 * (helper_vmrun()), and delivers it again, IF or not, if its vCPU loop is
 * kicked before the next exception or #VMEXIT. An exit at the guest's
 * first instruction closes that window (svm_vcpu_run()); hardware needs
 * no such exit, so only this host pays it.
 */
static bool svm_tcg_host;

static bool svm_host_is_tcg(void)
{
	u32 sig[3];

	if (!boot_cpu_has(X86_FEATURE_HYPERVISOR))
		return false;
	cpuid(0x40000000, &sig[0], &sig[0], &sig[1], &sig[2]);
	return !memcmp(sig, "TCGTCGTCGTCG", 12);
}

static int svm_probe(struct vmxl_caps *caps)
{
	static const struct {
		u32 cpuid;
		u64 feat;
	} map[] = {
		{ SVM_CPUID_NP, VMXL_FEAT_NPT },
		{ SVM_CPUID_NRIPS, VMXL_FEAT_NRIP_SAVE },
		{ SVM_CPUID_VMCBCLEAN, VMXL_FEAT_VMCB_CLEAN },
		{ SVM_CPUID_FLUSHBYASID, VMXL_FEAT_FLUSH_BY_ASID },
		{ SVM_CPUID_DECODEASSISTS, VMXL_FEAT_DECODE_ASSISTS },
		{ SVM_CPUID_PAUSEFILTER, VMXL_FEAT_PAUSE_FILTER },
		{ SVM_CPUID_VGIF, VMXL_FEAT_VGIF },
	};
	u32 eax, ebx, ecx, edx;
	unsigned int i;
	u64 vm_cr;

	if (boot_cpu_data.x86_vendor != X86_VENDOR_AMD &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_HYGON)
		return -ENODEV;
	if (cpuid_eax(0x80000000) < 0x8000000a ||
	    !(cpuid_ecx(0x80000001) & BIT(2)))	/* CPUID Fn8000_0001 ECX.SVM */
		return -ENODEV;

	if (rdmsrl_safe(MSR_VM_CR, &vm_cr) ||
	    (vm_cr & SVM_VM_CR_SVM_DIS_MASK)) {
		caps->backend_status = VMXL_STATUS_DISABLED_BY_FIRMWARE;
		return -EPERM;
	}

	cpuid(0x8000000a, &eax, &ebx, &ecx, &edx);
	caps->svm_revision = eax & 0xff;
	caps->nr_asids = ebx;
	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (edx & map[i].cpuid)
			caps->features |= map[i].feat;

	if (!(caps->features & VMXL_FEAT_NPT)) {
		caps->backend_status = VMXL_STATUS_NO_NESTED_PAGING;
		return -EOPNOTSUPP;
	}
	svm_tcg_host = svm_host_is_tcg();
	/* ASID 0 is the host's: a guest needs at least one more. */
	if (caps->nr_asids < 2) {
		caps->backend_status = VMXL_STATUS_UNSUPPORTED;
		return -EOPNOTSUPP;
	}
	return 0;
}

static void svm_fini(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sd = per_cpu_ptr(&svm_cpu, cpu);

		free_page((unsigned long)sd->hsave);
		free_page((unsigned long)sd->host_save);
		sd->hsave = NULL;
		sd->host_save = NULL;
	}
	free_pages((unsigned long)svm_iopm, get_order(IOPM_SIZE));
	free_pages((unsigned long)svm_msrpm, get_order(MSRPM_SIZE));
	svm_iopm = NULL;
	svm_msrpm = NULL;
}

static int svm_init(void)
{
	int cpu;

	svm_iopm = (void *)__get_free_pages(GFP_KERNEL, get_order(IOPM_SIZE));
	svm_msrpm = (void *)__get_free_pages(GFP_KERNEL,
					     get_order(MSRPM_SIZE));
	if (!svm_iopm || !svm_msrpm)
		goto nomem;
	memset(svm_iopm, 0xff, IOPM_SIZE);
	memset(svm_msrpm, 0xff, MSRPM_SIZE);

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sd = per_cpu_ptr(&svm_cpu, cpu);

		sd->hsave = (void *)get_zeroed_page(GFP_KERNEL);
		sd->host_save = (void *)get_zeroed_page(GFP_KERNEL);
		if (!sd->hsave || !sd->host_save)
			goto nomem;
		sd->max_asid = vmxl_caps.nr_asids - 1;
	}
	return 0;
nomem:
	svm_fini();
	return -ENOMEM;
}

static int svm_cpu_enable(void)
{
	struct svm_cpu *sd = this_cpu_ptr(&svm_cpu);
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;	/* another hypervisor got here first */
	wrmsrl(MSR_VM_HSAVE_PA, __pa(sd->hsave));
	wrmsrl(MSR_EFER, efer | EFER_SVME);
	/* Whoever used ASIDs before us left TLB entries: flush on first use. */
	sd->next_asid = sd->max_asid + 1;
	sd->asid_gen++;
	return 0;
}

static void svm_cpu_disable(void)
{
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, 0);
}

/* ---- VMCB helpers ---- */

static inline struct svm_vcpu *to_svm(struct vmxl_vcpu *vcpu)
{
	return vcpu->backend_data;
}

static void set_intercept(struct vmcb *vmcb, int bit)
{
	__set_bit(bit, (unsigned long *)vmcb->control.intercepts);
}

static void clr_intercept(struct vmcb *vmcb, int bit)
{
	__clear_bit(bit, (unsigned long *)vmcb->control.intercepts);
}

static void seg_to_vmcb(struct vmcb_seg *v, const struct vmxl_segment *s)
{
	v->selector = s->selector;
	v->base = s->base;
	v->limit = s->limit;
	v->attrib = s->unusable ? 0 :
		(s->type & SVM_SELECTOR_TYPE_MASK) |
		s->s << SVM_SELECTOR_S_SHIFT |
		s->dpl << SVM_SELECTOR_DPL_SHIFT |
		s->present << SVM_SELECTOR_P_SHIFT |
		s->avl << SVM_SELECTOR_AVL_SHIFT |
		s->l << SVM_SELECTOR_L_SHIFT |
		s->db << SVM_SELECTOR_DB_SHIFT |
		s->g << SVM_SELECTOR_G_SHIFT;
}

static void seg_from_vmcb(struct vmxl_segment *s, const struct vmcb_seg *v)
{
	u16 a = v->attrib;

	s->selector = v->selector;
	s->base = v->base;
	s->limit = v->limit;
	s->type = a & SVM_SELECTOR_TYPE_MASK;
	s->s = !!(a & SVM_SELECTOR_S_MASK);
	s->dpl = (a & SVM_SELECTOR_DPL_MASK) >> SVM_SELECTOR_DPL_SHIFT;
	s->present = !!(a & SVM_SELECTOR_P_MASK);
	s->avl = !!(a & SVM_SELECTOR_AVL_MASK);
	s->l = !!(a & SVM_SELECTOR_L_MASK);
	s->db = !!(a & SVM_SELECTOR_DB_MASK);
	s->g = !!(a & SVM_SELECTOR_G_MASK);
	s->unusable = !s->present;
}

static void svm_get_sregs(struct vmxl_vcpu *vcpu, struct vmxl_sregs *s)
{
	struct vmcb_save_area *sa = &to_svm(vcpu)->vmcb->save;

	seg_from_vmcb(&s->cs, &sa->cs);
	seg_from_vmcb(&s->ds, &sa->ds);
	seg_from_vmcb(&s->es, &sa->es);
	seg_from_vmcb(&s->fs, &sa->fs);
	seg_from_vmcb(&s->gs, &sa->gs);
	seg_from_vmcb(&s->ss, &sa->ss);
	seg_from_vmcb(&s->tr, &sa->tr);
	seg_from_vmcb(&s->ldt, &sa->ldtr);
	/* TR is never unusable on x86, and SVM keeps no "present" for it. */
	s->tr.unusable = 0;
	/*
	 * A loaded TSS is always busy, but the VMCB may keep the type LTR
	 * read from the descriptor (seen under QEMU; KVM patches it too).
	 */
	if (s->tr.present)
		s->tr.type |= 2;
	s->gdt.base = sa->gdtr.base;
	s->gdt.limit = sa->gdtr.limit;
	s->idt.base = sa->idtr.base;
	s->idt.limit = sa->idtr.limit;
	s->cr0 = sa->cr0;
	s->cr2 = sa->cr2;
	s->cr3 = sa->cr3;
	s->cr4 = sa->cr4;
	s->cr8 = to_svm(vcpu)->vmcb->control.int_ctl & V_TPR_MASK;
	s->efer = sa->efer & ~EFER_SVME;	/* the guest never sees SVME */
}

static int svm_set_sregs(struct vmxl_vcpu *vcpu, const struct vmxl_sregs *s)
{
	struct svm_vcpu *sv = to_svm(vcpu);
	struct vmcb_save_area *sa = &sv->vmcb->save;

	seg_to_vmcb(&sa->cs, &s->cs);
	seg_to_vmcb(&sa->ds, &s->ds);
	seg_to_vmcb(&sa->es, &s->es);
	seg_to_vmcb(&sa->fs, &s->fs);
	seg_to_vmcb(&sa->gs, &s->gs);
	seg_to_vmcb(&sa->ss, &s->ss);
	seg_to_vmcb(&sa->tr, &s->tr);
	seg_to_vmcb(&sa->ldtr, &s->ldt);
	sa->gdtr.base = s->gdt.base;
	sa->gdtr.limit = s->gdt.limit;
	sa->idtr.base = s->idt.base;
	sa->idtr.limit = s->idt.limit;
	sa->cpl = s->cs.dpl;
	sa->cr0 = s->cr0;
	sa->cr2 = s->cr2;
	sa->cr3 = s->cr3;
	sa->cr4 = s->cr4;
	sa->efer = s->efer | EFER_SVME;
	sv->vmcb->control.int_ctl = (sv->vmcb->control.int_ctl & ~V_TPR_MASK) |
				    (s->cr8 & V_TPR_MASK);
	/* New paging state from outside: start from a clean TLB. */
	sv->asid_gen = 0;
	return 0;
}

static int svm_get_msr(struct vmxl_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	struct vmcb_save_area *sa = &vmcb->save;

	switch (index) {
	case MSR_EFER:
		*data = sa->efer & ~EFER_SVME;
		return 0;
	case MSR_IA32_CR_PAT:
		*data = sa->g_pat;
		return 0;
	case MSR_IA32_TSC:
		*data = rdtsc() + vmcb->control.tsc_offset;
		return 0;
	case MSR_IA32_SYSENTER_CS:
		*data = sa->sysenter_cs;
		return 0;
	case MSR_IA32_SYSENTER_ESP:
		*data = sa->sysenter_esp;
		return 0;
	case MSR_IA32_SYSENTER_EIP:
		*data = sa->sysenter_eip;
		return 0;
	case MSR_STAR:
		*data = sa->star;
		return 0;
	case MSR_LSTAR:
		*data = sa->lstar;
		return 0;
	case MSR_CSTAR:
		*data = sa->cstar;
		return 0;
	case MSR_SYSCALL_MASK:
		*data = sa->sfmask;
		return 0;
	case MSR_FS_BASE:
		*data = sa->fs.base;
		return 0;
	case MSR_GS_BASE:
		*data = sa->gs.base;
		return 0;
	case MSR_KERNEL_GS_BASE:
		*data = sa->kernel_gs_base;
		return 0;
	}
	return -ENOENT;
}

static int svm_set_msr(struct vmxl_vcpu *vcpu, u32 index, u64 data)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	struct vmcb_save_area *sa = &vmcb->save;

	/* vmxl_emulate_wrmsr() checked and narrowed the value. */
	switch (index) {
	case MSR_EFER:
		/* LME cannot change while paging is on; LMA is read-only. */
		if ((sa->cr0 & X86_CR0_PG) &&
		    ((data ^ sa->efer) & EFER_LME))
			return -EINVAL;
		sa->efer = (data & ~(u64)EFER_LMA) | (sa->efer & EFER_LMA) |
			   EFER_SVME;
		return 0;
	case MSR_IA32_CR_PAT:
		sa->g_pat = data;
		return 0;
	case MSR_IA32_TSC:
		vmcb->control.tsc_offset = data - rdtsc();
		return 0;
	case MSR_IA32_SYSENTER_CS:
		sa->sysenter_cs = data;
		return 0;
	case MSR_STAR:
		sa->star = data;
		return 0;
	case MSR_SYSCALL_MASK:
		sa->sfmask = data;
		return 0;
	case MSR_IA32_SYSENTER_ESP:
		sa->sysenter_esp = data;
		return 0;
	case MSR_IA32_SYSENTER_EIP:
		sa->sysenter_eip = data;
		return 0;
	case MSR_LSTAR:
		sa->lstar = data;
		return 0;
	case MSR_CSTAR:
		sa->cstar = data;
		return 0;
	case MSR_FS_BASE:
		sa->fs.base = data;
		return 0;
	case MSR_GS_BASE:
		sa->gs.base = data;
		return 0;
	case MSR_KERNEL_GS_BASE:
		sa->kernel_gs_base = data;
		return 0;
	}
	return -ENOENT;
}

static bool svm_interruptible(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	return (vcpu->rflags & X86_EFLAGS_IF) &&
	       !(vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK) &&
	       !(vmcb->control.event_inj & SVM_EVTINJ_VALID);
}

static int svm_vcpu_create(struct vmxl_vcpu *vcpu)
{
	static const int intercepts[] = {
		INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI,
		INTERCEPT_CPUID, INTERCEPT_HLT, INTERCEPT_INVLPGA,
		INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT, INTERCEPT_SHUTDOWN,
		INTERCEPT_VMRUN, INTERCEPT_VMMCALL, INTERCEPT_VMLOAD,
		INTERCEPT_VMSAVE, INTERCEPT_STGI, INTERCEPT_CLGI,
		INTERCEPT_SKINIT, INTERCEPT_RDTSCP, INTERCEPT_MONITOR,
		INTERCEPT_MWAIT, INTERCEPT_XSETBV, INTERCEPT_RDPRU,
		INTERCEPT_CR4_WRITE,
	};
	struct svm_vcpu *sv;
	struct vmcb *vmcb;
	unsigned int i;

	sv = kzalloc(sizeof(*sv), GFP_KERNEL_ACCOUNT);
	if (!sv)
		return -ENOMEM;
	sv->vmcb = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!sv->vmcb)
		goto fail_sv;
	sv->vmcb_pa = __pa(sv->vmcb);
	vcpu->backend_data = sv;

	vmcb = sv->vmcb;
	for (i = 0; i < ARRAY_SIZE(intercepts); i++)
		set_intercept(vmcb, intercepts[i]);
	vmcb->control.iopm_base_pa = __pa(svm_iopm);
	vmcb->control.msrpm_base_pa = __pa(svm_msrpm);
	/* Guest RFLAGS.IF gates only virtual interrupts; host ones exit. */
	vmcb->control.int_ctl = V_INTR_MASKING_MASK;
	vmcb->control.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	vmcb->control.nested_cr3 = vcpu->vm->mmu.root_pa;
	vmcb->save.g_pat = 0x0007040600070406ULL;	/* the reset PAT */
	vmcb->save.dr6 = VMXL_DR6_FIXED_1;
	vmcb->save.dr7 = VMXL_DR7_FIXED_1;
	vmcb->save.efer = EFER_SVME;
	return 0;

fail_sv:
	kfree(sv);
	return -ENOMEM;
}

static void svm_vcpu_destroy(struct vmxl_vcpu *vcpu)
{
	struct svm_vcpu *sv = to_svm(vcpu);

	free_page((unsigned long)sv->vmcb);
	kfree(sv);
	vcpu->backend_data = NULL;
}

/* ---- guest view for the shared decoder ---- */

static int svm_read_gpa(void *opaque, u64 gpa, void *buf, unsigned int len)
{
	return vmxl_read_gpa(opaque, gpa, buf, len);
}

static void svm_walk_ctx(struct vmxl_vcpu *vcpu, struct vmxl_walk_ctx *w)
{
	struct vmcb_save_area *sa = &to_svm(vcpu)->vmcb->save;

	w->cr0 = sa->cr0;
	w->cr3 = sa->cr3;
	w->cr4 = sa->cr4;
	w->efer = sa->efer;
	w->read_gpa = svm_read_gpa;
	w->opaque = vcpu->vm;
}

static enum vmxl_cpu_mode svm_cpu_mode(struct vmxl_vcpu *vcpu)
{
	struct vmcb_save_area *sa = &to_svm(vcpu)->vmcb->save;

	if (!(sa->cr0 & X86_CR0_PE) || (vcpu->rflags & X86_EFLAGS_VM))
		return VMXL_MODE_REAL;
	if ((sa->efer & EFER_LMA) && (sa->cs.attrib & SVM_SELECTOR_L_MASK))
		return VMXL_MODE_LONG64;
	return (sa->cs.attrib & SVM_SELECTOR_DB_MASK) ? VMXL_MODE_PROT32 :
							VMXL_MODE_PROT16;
}

static bool svm_long64(struct vmxl_vcpu *vcpu)
{
	return svm_cpu_mode(vcpu) == VMXL_MODE_LONG64;
}

/* Prefix bytes and segment override of the instruction at RIP. */
static unsigned int svm_prefixes(struct vmxl_vcpu *vcpu, int *seg)
{
	struct vmcb_save_area *sa = &to_svm(vcpu)->vmcb->save;
	struct vmxl_walk_ctx w;

	svm_walk_ctx(vcpu, &w);
	return vmxl_insn_prefixes(&w, sa->cs.base + vcpu->rip,
				  svm_cpu_mode(vcpu) == VMXL_MODE_LONG64, seg);
}

/* Step over the intercepted instruction whose opcode is @len bytes. */
static void svm_skip(struct vmxl_vcpu *vcpu, unsigned int len)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	int seg;

	if ((vmxl_caps.features & VMXL_FEAT_NRIP_SAVE) &&
	    vmcb->control.next_rip)
		vcpu->rip = vmcb->control.next_rip;
	else
		vcpu->rip = vmxl_next_rip(vcpu, svm_prefixes(vcpu, &seg) + len,
					  svm_long64);
	vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	vmxl_insn_retired(vcpu);
}

/*
 * Raise a fault (#GP, #UD: the only exceptions the module synthesizes).
 * Faults push RFLAGS with RF set, so that returning to the faulting
 * instruction does not trip an instruction breakpoint a second time.
 */
static void svm_inject_exception(struct vmxl_vcpu *vcpu, u8 vec, bool has_err,
				 u32 err)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	vcpu->rflags |= X86_EFLAGS_RF;

	vmcb->control.event_inj = vec | SVM_EVTINJ_TYPE_EXEPT |
				  SVM_EVTINJ_VALID |
				  (has_err ? SVM_EVTINJ_VALID_ERR : 0);
	vmcb->control.event_inj_err = err;
	trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_EXCEPTION, vec, has_err, err);
}

/*
 * The #DB trap an instruction the module completed owes the guest
 * (vcpu->db_pending): DR6 reports it, DR7.GD is cleared as on every #DB
 * (APM Vol. 2, 13.1.1.3 and 13.1.1.4). A trap: RF stays as it was.
 */
static void svm_deliver_db(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	vmcb->save.dr6 = vmxl_dr6_deliver(vmcb->save.dr6, vcpu->db_pending);
	vmcb->save.dr7 &= ~VMXL_DR7_GD;
	vcpu->db_pending = 0;
	vmcb->control.event_inj = X86_TRAP_DB | SVM_EVTINJ_TYPE_EXEPT |
				  SVM_EVTINJ_VALID;
	trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_EXCEPTION, X86_TRAP_DB, false,
			  0);
}

/* ---- exit handlers ---- */

static enum vmxl_exit_action svm_handle_msr(struct vmxl_vcpu *vcpu)
{
	if (vmxl_msr_exit(vcpu, to_svm(vcpu)->vmcb->control.exit_info_1))
		svm_inject_exception(vcpu, X86_TRAP_GP, true, 0);
	else
		svm_skip(vcpu, 2);
	return VMXL_EXIT_RESUME;
}

/*
 * The GPR a MOV to CR@cr (4 or 8) reads: from the decode assists, or from
 * the instruction's bytes (legacy prefixes, REX, 0F 22 /r; REX.R or, on
 * AMD, LOCK selects CR8).
 */
static int svm_cr_gpr(struct vmxl_vcpu *vcpu, unsigned int cr)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	bool long64 = svm_cpu_mode(vcpu) == VMXL_MODE_LONG64;
	struct vmxl_walk_ctx w;
	unsigned int n = 0, i;
	u8 b[16], rex = 0;
	bool lock = false;

	if (vmcb->control.exit_info_1 & BIT_ULL(63))
		return vmcb->control.exit_info_1 & 15;
	svm_walk_ctx(vcpu, &w);
	vmxl_fetch_insn(&w, vmcb->save.cs.base + vcpu->rip, b, &n);
	for (i = 0; i < n; i++) {
		if (long64 && (b[i] & 0xf0) == 0x40) {
			rex = b[i];
			continue;
		}
		if (memchr("\x66\x67\xf0\xf2\xf3\x26\x2e\x36\x3e\x64\x65",
			   b[i], 11)) {
			lock |= b[i] == 0xf0;
			rex = 0;	/* a REX counts only last */
			continue;
		}
		break;
	}
	if (i + 3 > n || b[i] != 0x0f || b[i + 1] != 0x22 ||
	    (((b[i + 2] >> 3) & 7) | ((rex & 4) || lock ? 8 : 0)) != cr)
		return -1;
	return (b[i + 2] & 7) | ((rex & 1) << 3);
}

#define CR4_KNOWN	(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | \
			 X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | \
			 X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | \
			 X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_UMIP | \
			 X86_CR4_LA57 | X86_CR4_FSGSBASE | X86_CR4_PCIDE | \
			 X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP | \
			 X86_CR4_PKE)

/* MOV to CR4 (intercepted): #GP for bits the vCPU's CPUID hides. */
static enum vmxl_exit_action svm_handle_cr4_write(struct vmxl_vcpu *vcpu)
{
	struct svm_vcpu *sv = to_svm(vcpu);
	struct vmcb_save_area *sa = &sv->vmcb->save;
	int gpr = svm_cr_gpr(vcpu, 4);
	u64 cr4;

	if (gpr < 0)
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_EMULATION,
					   SVM_EXIT_WRITE_CR4, vcpu->rip);
	cr4 = vcpu->regs[gpr];
	if (svm_cpu_mode(vcpu) != VMXL_MODE_LONG64)
		cr4 = (u32)cr4;
	if ((cr4 & ~(CR4_KNOWN & ~vmxl_cr4_hidden(vcpu))) ||
	    ((sa->efer & EFER_LMA) && !(cr4 & X86_CR4_PAE))) {
		svm_inject_exception(vcpu, X86_TRAP_GP, true, 0);
		return VMXL_EXIT_RESUME;
	}
	if (cr4 != sa->cr4)
		sv->asid_gen = 0;	/* paging bits changed: clean TLB */
	sa->cr4 = cr4;
	svm_skip(vcpu, 3);
	return VMXL_EXIT_RESUME;
}

/*
 * MOV to CR8, intercepted while TPR alone holds an APIC vector back (see
 * svm_prepare_events()): the new TPR may let it through.
 */
static enum vmxl_exit_action svm_handle_cr8_write(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	int gpr = svm_cr_gpr(vcpu, 8);
	u64 cr8;

	if (gpr < 0)
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_EMULATION,
					   SVM_EXIT_WRITE_CR8, vcpu->rip);
	cr8 = vcpu->regs[gpr];
	if (cr8 & ~0xfULL) {	/* reserved bits (APM Vol. 2, 3.1.5) */
		svm_inject_exception(vcpu, X86_TRAP_GP, true, 0);
		return VMXL_EXIT_RESUME;
	}
	vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) | cr8;
	if (vcpu->lapic)
		vmxl_lapic_set_cr8(vcpu, cr8);
	svm_skip(vcpu, 3);
	return VMXL_EXIT_RESUME;
}

static enum vmxl_exit_action svm_handle_io(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	u64 info = vmcb->control.exit_info_1;
	struct vmxl_io_info io = {
		.port = info >> 16,
		.in = info & SVM_IOIO_TYPE_MASK,
		.string = !!(info & SVM_IOIO_STR_MASK),
		.rep = !!(info & SVM_IOIO_REP_MASK),
		/* the IOIO intercept always saves the next RIP here */
		.next_rip = vmcb->control.exit_info_2,
		.cr4 = vmcb->save.cr4,
	};
	struct vmcb_seg *segs[] = {
		&vmcb->save.es, &vmcb->save.cs, &vmcb->save.ss,
		&vmcb->save.ds, &vmcb->save.fs, &vmcb->save.gs,
	};
	int seg = -1;

	io.size = (info & BIT(4)) ? 1 : (info & BIT(5)) ? 2 : 4;
	io.addr_size = (info & BIT(7)) ? 2 : (info & BIT(8)) ? 4 : 8;
	if (io.string) {
		svm_walk_ctx(vcpu, &io.walk);
		if (io.in) {
			io.seg_base = vmcb->save.es.base;	/* no override */
		} else {
			svm_prefixes(vcpu, &seg);
			io.seg_base = segs[seg < 0 ? 3 : seg]->base;
		}
		/* Long mode ignores the bases of ES, DS, SS (and CS). */
		if (svm_cpu_mode(vcpu) == VMXL_MODE_LONG64 &&
		    (io.in || seg < 4))
			io.seg_base = 0;
	}
	return vmxl_io_exit(vcpu, &io);
}

static enum vmxl_exit_action svm_handle_npf(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	u64 err = vmcb->control.exit_info_1;
	u64 gpa = vmcb->control.exit_info_2;
	bool write = err & NPF_WRITE;
	struct vmxl_walk_ctx w;

	if (vmxl_gpa_is_ram(vcpu->vm, gpa, write)) {
		if (vmxl_handle_ram_fault(vcpu, gpa, write))
			return vmxl_internal_error(vcpu,
					VMXL_INTERNAL_UNEXPECTED_EXIT,
					SVM_EXIT_NPF, gpa);
		return VMXL_EXIT_RESUME;
	}
	/* Page tables or code outside RAM: nothing a device model can do. */
	if (err & (NPF_IN_GUEST_WALK | NPF_FETCH))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   gpa, err);
	svm_walk_ctx(vcpu, &w);
	/* The module completes the instruction: its shadow ends. */
	vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	return vmxl_mmio_exit(vcpu, &w, vmcb->save.cs.base + vcpu->rip,
			      svm_cpu_mode(vcpu), gpa);
}

/* Dispatch an exit, counting it (enum vmxl_stat) where it is handled. */
static enum vmxl_exit_action svm_handle_exit(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	struct vmxl_run *run = vcpu->run;
	u64 code = vmcb->control.exit_code |
		   (u64)vmcb->control.exit_code_hi << 32;

	/*
	 * QEMU stores a failed VMRUN's code as 32 bits, 0xffffffff with a
	 * zero high half; KVM compares the low half alone for that reason.
	 */
	if ((u32)code == (u32)SVM_EXIT_ERR)
		code = SVM_EXIT_ERR;
	vcpu->exit_raw = code;
	vcpu->exit_qual = vmcb->control.exit_info_1;
	switch (code) {
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
	case SVM_EXIT_SMI:
		vmxl_count_exit(vcpu, VMXL_STAT_HOST_INTR);
		return VMXL_EXIT_RESUME;	/* the host took it on STGI */
	case SVM_EXIT_CPUID:
		vmxl_count_exit(vcpu, VMXL_STAT_CPUID);
		vmxl_emulate_cpuid(vcpu);
		svm_skip(vcpu, 2);
		return VMXL_EXIT_RESUME;
	case SVM_EXIT_MSR:
		vmxl_count_exit(vcpu, VMXL_STAT_MSR);
		return svm_handle_msr(vcpu);
	case SVM_EXIT_IOIO:
		vmxl_count_exit(vcpu, VMXL_STAT_IO);
		return svm_handle_io(vcpu);
	case SVM_EXIT_NPF:
		vmxl_count_exit(vcpu, VMXL_STAT_NPF);
		return svm_handle_npf(vcpu);
	case SVM_EXIT_HLT:
		vmxl_count_exit(vcpu, VMXL_STAT_HLT);
		svm_skip(vcpu, 1);
		return vmxl_halt(vcpu);
	case SVM_EXIT_VMMCALL:
		vmxl_count_exit(vcpu, VMXL_STAT_HYPERCALL);
		if (vcpu->switch_floor)
			return VMXL_EXIT_FLOOR;
		if (vmxl_hypercall_past_canonical(vcpu, 3, svm_long64)) {
			svm_inject_exception(vcpu, X86_TRAP_GP, true, 0);
			return VMXL_EXIT_RESUME;
		}
		svm_skip(vcpu, 3);
		return vmxl_hypercall_exit(vcpu);
	case SVM_EXIT_VINTR:
		vmxl_count_exit(vcpu, VMXL_STAT_WINDOW);
		vmcb->control.int_ctl &= ~V_IRQ_INJECTION_BITS_MASK;
		clr_intercept(vmcb, INTERCEPT_VINTR);
		if (!vcpu->run->request_interrupt_window)
			return VMXL_EXIT_RESUME;
		run->exit_reason = VMXL_EXIT_IRQ_WINDOW_OPEN;
		return VMXL_EXIT_USER;
	case SVM_EXIT_IRET:
		vmxl_count_exit(vcpu, VMXL_STAT_WINDOW);
		/* The guest's NMI handler is returning: NMIs open again. */
		vcpu->nmi_masked = false;
		clr_intercept(vmcb, INTERCEPT_IRET);
		return VMXL_EXIT_RESUME;
	case SVM_EXIT_SHUTDOWN:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		run->exit_reason = VMXL_EXIT_SHUTDOWN;
		return VMXL_EXIT_USER;
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_INVLPGA:
	case SVM_EXIT_RDTSCP:
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
	case SVM_EXIT_XSETBV:
	case SVM_EXIT_RDPRU:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		/* Not offered in CPUID: behave like a CPU without them. */
		svm_inject_exception(vcpu, X86_TRAP_UD, false, 0);
		return VMXL_EXIT_RESUME;
	case SVM_EXIT_ERR:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		memset(&run->fail_entry, 0, sizeof(run->fail_entry));
		run->exit_reason = VMXL_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_reason = code;
		run->fail_entry.cpu = vcpu->cpu;
		return VMXL_EXIT_USER;
	case SVM_EXIT_WRITE_CR4:
		vmxl_count_exit(vcpu, VMXL_STAT_CR_DR);
		return svm_handle_cr4_write(vcpu);
	case SVM_EXIT_WRITE_CR8:
		vmxl_count_exit(vcpu, VMXL_STAT_CR_DR);
		return svm_handle_cr8_write(vcpu);
	case SVM_EXIT_READ_CR0 ... SVM_EXIT_WRITE_CR3:
	case SVM_EXIT_WRITE_CR4 + 1 ... SVM_EXIT_WRITE_CR8 - 1:
	case SVM_EXIT_WRITE_CR8 + 1 ... SVM_EXIT_WRITE_DR7:
		/* No other is intercepted: one would be a module bug. */
		vmxl_count_exit(vcpu, VMXL_STAT_CR_DR);
		break;
	default:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
	}
	return vmxl_internal_error(vcpu, VMXL_INTERNAL_UNEXPECTED_EXIT, code,
				   vmcb->control.exit_info_1);
}

/* ---- entry ---- */

static void svm_prepare_events(struct vmxl_vcpu *vcpu)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;

	if (vmcb->control.event_inj & SVM_EVTINJ_VALID) {
		/* re-delivering what the last exit interrupted */
	} else if (vcpu->db_pending) {
		/* a trap on the previous instruction goes before NMI, INTR */
		svm_deliver_db(vcpu);
	} else if (vcpu->nmi_pending && !vcpu->nmi_masked) {
		vmcb->control.event_inj = X86_TRAP_NMI | SVM_EVTINJ_TYPE_NMI |
					  SVM_EVTINJ_VALID;
		vcpu->nmi_pending = false;
		vcpu->nmi_masked = true;
		set_intercept(vmcb, INTERCEPT_IRET);
		trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_NMI, X86_TRAP_NMI,
				  false, 0);
	} else if (vcpu->irq_pending >= 0 && svm_interruptible(vcpu)) {
		vmcb->control.event_inj = vcpu->irq_pending |
					  SVM_EVTINJ_TYPE_INTR |
					  SVM_EVTINJ_VALID;
		trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_IRQ, vcpu->irq_pending,
				  false, 0);
		vcpu->irq_pending = -1;
	}

	/* An interrupt window: a virtual interrupt that exits when taken. */
	if (vcpu->run->request_interrupt_window && !svm_interruptible(vcpu)) {
		vmcb->control.int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK |
					 (0xf << V_INTR_PRIO_SHIFT);
		set_intercept(vmcb, INTERCEPT_VINTR);
	} else if (vcpu->lapic &&
		   vcpu->irq_window_prio > vmxl_lapic_cr8(vcpu)) {
		/* An APIC vector IF or the shadow holds back: a window. */
		vmcb->control.int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK |
					 (0xf << V_INTR_PRIO_SHIFT);
		set_intercept(vmcb, INTERCEPT_VINTR);
	}
	/*
	 * One TPR holds back: the guest lowers it with MOV CR8 without an
	 * exit (V_TPR), so that write exits meanwhile, as KVM does. Not a
	 * virtual interrupt at the vector's priority against V_TPR: QEMU
	 * takes one at equal priority already, an endless window.
	 */
	if (vcpu->irq_window_prio >= 0 &&
	    vcpu->irq_window_prio <= vmxl_lapic_cr8(vcpu))
		set_intercept(vmcb, INTERCEPT_CR8_WRITE);
	else
		clr_intercept(vmcb, INTERCEPT_CR8_WRITE);
}

static void svm_get_dr67(struct vmxl_vcpu *vcpu, u64 *dr6, u64 *dr7)
{
	*dr6 = to_svm(vcpu)->vmcb->save.dr6;
	*dr7 = to_svm(vcpu)->vmcb->save.dr7;
}

/* The fixed bits of DR6 and DR7 (APM Vol. 2, 13.1.1.3 and 13.1.1.4). */
static void svm_set_dr67(struct vmxl_vcpu *vcpu, u64 dr6, u64 dr7)
{
	to_svm(vcpu)->vmcb->save.dr6 = vmxl_dr6_fixed(dr6);
	to_svm(vcpu)->vmcb->save.dr7 = vmxl_dr7_fixed(dr7);
}

static void svm_set_tsc_offset(struct vmxl_vcpu *vcpu, u64 offset)
{
	to_svm(vcpu)->vmcb->control.tsc_offset = offset;
}

/*
 * An event that an instruction raised and whose return address follows
 * it: INT n (CD ib) or INT3/INTO (CC, CE). Its length without prefixes,
 * or 0 for any other event. EVENTINJ and EXITINTINFO share one format
 * (APM Vol. 2, 15.20 "Event Injection").
 */
static unsigned int svm_soft_event_len(u32 info)
{
	u32 type = info & SVM_EVTINJ_TYPE_MASK;
	u8 vec = info & SVM_EVTINJ_VEC_MASK;

	if (!(info & SVM_EVTINJ_VALID))
		return 0;
	if (type == SVM_EVTINJ_TYPE_SOFT)
		return 2;
	if (type == SVM_EVTINJ_TYPE_EXEPT &&
	    (vec == X86_TRAP_BP || vec == X86_TRAP_OF))
		return 1;
	return 0;
}

static void svm_get_events(struct vmxl_vcpu *vcpu, struct vmxl_hw_events *h)
{
	struct svm_vcpu *sv = to_svm(vcpu);
	struct vmcb *vmcb = sv->vmcb;
	u32 inj = vmcb->control.event_inj;

	/* A #DB trap owed (vcpu->db_pending) is an event in flight too. */
	if (!(inj & SVM_EVTINJ_VALID) && vcpu->db_pending) {
		svm_deliver_db(vcpu);
		inj = vmcb->control.event_inj;
	}
	/* INT n, INT3, INTO in flight: back onto the instruction */
	if (svm_soft_event_len(inj)) {
		if (sv->soft_int_stepped)
			vcpu->rip = sv->soft_int_rip;
		sv->soft_int_stepped = false;
		vmcb->control.event_inj = 0;
		inj = 0;
	}
	h->info = inj & (SVM_EVTINJ_VALID | SVM_EVTINJ_VALID_ERR |
			 SVM_EVTINJ_TYPE_MASK | SVM_EVTINJ_VEC_MASK);
	h->err = inj ? vmcb->control.event_inj_err : 0;
	/* one shadow bit on AMD: STI's and MOV SS's alike */
	h->shadow = vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK ?
		    VMXL_SHADOW_STI : 0;
	h->nmi_masked = vcpu->nmi_masked;
}

static void svm_set_events(struct vmxl_vcpu *vcpu,
			   const struct vmxl_hw_events *h)
{
	struct svm_vcpu *sv = to_svm(vcpu);
	struct vmcb *vmcb = sv->vmcb;

	sv->soft_int_stepped = false;
	vcpu->db_pending = 0;		/* h->info has what is in flight */
	vmcb->control.event_inj = h->info;
	vmcb->control.event_inj_err = h->err;
	if (h->shadow)
		vmcb->control.int_state |= SVM_INTERRUPT_SHADOW_MASK;
	else
		vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	/* NMIs open again at the handler's IRET, as after an injection */
	vcpu->nmi_masked = h->nmi_masked ||
			   ((h->info & SVM_EVTINJ_VALID) &&
			    VMXL_EVT_TYPE(h->info) == VMXL_EVT_NMI);
	if (vcpu->nmi_masked)
		set_intercept(vmcb, INTERCEPT_IRET);
	else
		clr_intercept(vmcb, INTERCEPT_IRET);
}

/* No event, no shadow, NMIs open, and no interrupt waiting for a window. */
static void svm_cancel_events(struct vmxl_vcpu *vcpu)
{
	static const struct vmxl_hw_events none;
	struct svm_vcpu *sv = to_svm(vcpu);

	svm_set_events(vcpu, &none);
	sv->vmcb->control.int_ctl &= ~V_IRQ_INJECTION_BITS_MASK;
	clr_intercept(sv->vmcb, INTERCEPT_VINTR);
	vcpu->irq_pending = -1;
}

/*
 * Re-injecting a software interrupt (INT n) or a software exception (INT3,
 * INTO) whose delivery an exit cut short: RIP is still on the
 * instruction, and the return address the CPU pushes is NRIP with NRIP
 * save, RIP without (APM Vol. 2, 15.20 "Event Injection"). Without NRIP
 * save, then, RIP is stepped over the instruction first, or the handler's
 * IRET would run it again; with it, NRIP is set. KVM does the same.
 */
static void svm_soft_int_step(struct vmxl_vcpu *vcpu, u32 info)
{
	struct svm_vcpu *sv = to_svm(vcpu);
	unsigned int len = svm_soft_event_len(info);
	int seg;

	if (!len)
		return;
	len += svm_prefixes(vcpu, &seg);
	if (vmxl_caps.features & VMXL_FEAT_NRIP_SAVE) {
		sv->vmcb->control.next_rip = vcpu->rip + len;
		return;
	}
	sv->soft_int_stepped = true;
	sv->soft_int_rip = vcpu->rip;
	vcpu->rip += len;
	sv->soft_int_next = vcpu->rip;
}

/*
 * After the entry that re-injected it: if its delivery was cut short
 * again, RIP is where the step left it; back onto the instruction, which
 * svm_soft_int_step() steps over once more.
 */
static void svm_soft_int_unstep(struct vmxl_vcpu *vcpu)
{
	struct svm_vcpu *sv = to_svm(vcpu);

	if (!sv->soft_int_stepped)
		return;
	sv->soft_int_stepped = false;
	if ((sv->vmcb->control.exit_int_info & SVM_EXITINTINFO_VALID) &&
	    vcpu->rip == sv->soft_int_next)
		vcpu->rip = sv->soft_int_rip;
}

static enum vmxl_exit_action svm_vcpu_run(struct vmxl_vcpu *vcpu)
{
	struct svm_vcpu *sv = to_svm(vcpu);
	struct vmcb *vmcb = sv->vmcb;
	u64 tlb_gen = atomic64_read(&vcpu->vm->tlb_gen);
	u64 host_xcr0;
	struct svm_cpu *sd;
	unsigned long dr;
	bool aborted;
	int cpu;

	vmcb->save.rax = vcpu->regs[0];
	vmcb->save.rsp = vcpu->regs[4];
	vmcb->save.rip = vcpu->rip;
	vmcb->save.rflags = vcpu->rflags;
	/* The APIC's TPR is the guest's CR8, V_TPR (APM Vol. 2, 15.21.2). */
	if (vcpu->lapic)
		vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) |
					vmxl_lapic_cr8(vcpu);
	svm_prepare_events(vcpu);

	host_xcr0 = vmxl_load_guest_fpu(vcpu);	/* preemption off */
	cpu = smp_processor_id();
	sd = this_cpu_ptr(&svm_cpu);
	/*
	 * A fresh ASID is a clean TLB: take one after moving CPU, after the
	 * CPU recycled ASIDs, or when the nested tables changed.
	 */
	if (vcpu->cpu != cpu || sv->asid_gen != sd->asid_gen ||
	    vcpu->tlb_gen != tlb_gen) {
		if (sd->next_asid > sd->max_asid) {
			sd->asid_gen++;
			sd->next_asid = 1;
			vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ALL_ASID;
		}
		vmcb->control.asid = sd->next_asid++;
		sv->asid_gen = sd->asid_gen;
		vcpu->tlb_gen = tlb_gen;
		WRITE_ONCE(vcpu->cpu, cpu);
	}
	vmcb->control.clean = 0;	/* we track no VMCB field changes */

	/* DR0-3 are not in the VMCB: the guest's live in hardware. */
	set_debugreg(vcpu->db[0], 0);
	set_debugreg(vcpu->db[1], 1);
	set_debugreg(vcpu->db[2], 2);
	set_debugreg(vcpu->db[3], 3);

	atomic_set(&vcpu->mode, VMXL_IN_GUEST);
	/*
	 * Publish IN_GUEST before entering, for vm_kick_all(). A kicker that
	 * still reads OUTSIDE skips the IPI; this entry then ends at the
	 * next host interrupt, which vm_stop_guests() accepts.
	 */
	smp_mb();
	local_irq_disable();
	asm volatile("clgi" ::: "memory");
	/* GIF=0 holds interrupts; with IF=1 they exit the guest. */
	local_irq_enable();
	/*
	 * On QEMU's TCG (svm_tcg_host), after injecting an INTR: a self-IPI
	 * GIF=0 holds. VMRUN delivers the event (APM Vol. 2, 15.20) and the
	 * IPI then exits at the guest's first instruction (15.13.1), as KVM
	 * with a userspace irqchip always does.
	 */
	if (svm_tcg_host &&
	    (vmcb->control.event_inj &
	     (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_MASK)) ==
	    (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_INTR))
		smp_send_reschedule(cpu);
	aborted = vmxl_entry_abort(vcpu);
	if (!aborted)
		vmxl_svm_enter(sv->vmcb_pa, __pa(sd->host_save), vcpu->regs);
	local_irq_disable();
	asm volatile("stgi" ::: "memory");
	local_irq_enable();
	atomic_set(&vcpu->mode, VMXL_OUTSIDE_GUEST);

	get_debugreg(dr, 0);
	vcpu->db[0] = dr;
	get_debugreg(dr, 1);
	vcpu->db[1] = dr;
	get_debugreg(dr, 2);
	vcpu->db[2] = dr;
	get_debugreg(dr, 3);
	vcpu->db[3] = dr;
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	vmxl_put_guest_fpu(vcpu, host_xcr0);
	/* Nothing ran: the VMCB still holds what we wrote, event included. */
	if (aborted)
		return VMXL_EXIT_RESUME;

	vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	vcpu->regs[0] = vmcb->save.rax;
	vcpu->regs[4] = vmcb->save.rsp;
	vcpu->rip = vmcb->save.rip;
	vcpu->rflags = vmcb->save.rflags;
	vcpu->dr7 = vmcb->save.dr7;
	if (vcpu->lapic)
		vmxl_lapic_set_cr8(vcpu, vmcb->control.int_ctl & V_TPR_MASK);

	/* An event whose delivery the exit interrupted goes in again. */
	vmcb->control.event_inj = 0;
	svm_soft_int_unstep(vcpu);
	if (vmcb->control.exit_int_info & SVM_EXITINTINFO_VALID) {
		vmcb->control.event_inj = vmcb->control.exit_int_info;
		vmcb->control.event_inj_err = vmcb->control.exit_int_info_err;
		svm_soft_int_step(vcpu, vmcb->control.exit_int_info);
		trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_REINJECT,
				  vmcb->control.exit_int_info &
				  SVM_EXITINTINFO_VEC_MASK,
				  vmcb->control.exit_int_info &
				  SVM_EXITINTINFO_VALID_ERR,
				  vmcb->control.exit_int_info_err);
	}
	return svm_handle_exit(vcpu);
}

/* NPT entries are x86 page-table entries; walks are user accesses. */
static const struct vmxl_mmu_fmt svm_mmu_fmt = {
	.table		= _PAGE_PRESENT | _PAGE_RW | _PAGE_USER,
	.leaf_rw	= _PAGE_PRESENT | _PAGE_RW | _PAGE_USER,
	.leaf_ro	= _PAGE_PRESENT | _PAGE_USER,
	.present_mask	= _PAGE_PRESENT,
};

const struct vmxl_backend vmxl_svm_backend = {
	.name		= "svm",
	.id		= VMXL_BACKEND_SVM,
	.mmu_fmt	= &svm_mmu_fmt,
	.probe		= svm_probe,
	.init		= svm_init,
	.fini		= svm_fini,
	.cpu_enable	= svm_cpu_enable,
	.cpu_disable	= svm_cpu_disable,
	.vcpu_create	= svm_vcpu_create,
	.vcpu_destroy	= svm_vcpu_destroy,
	.vcpu_run	= svm_vcpu_run,
	.get_sregs	= svm_get_sregs,
	.set_sregs	= svm_set_sregs,
	.get_msr	= svm_get_msr,
	.set_msr	= svm_set_msr,
	.interruptible	= svm_interruptible,
	.cancel_events	= svm_cancel_events,
	.get_dr67	= svm_get_dr67,
	.set_dr67	= svm_set_dr67,
	.set_tsc_offset	= svm_set_tsc_offset,
	.get_events	= svm_get_events,
	.set_events	= svm_set_events,
};
