// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite Intel VMX backend.
 *
 * Per CPU: CR4.VMXE and a VMXON region only while VMs exist (see
 * vmxl_hw_get()), and the list of VMCSs active on it. Per vCPU: one VMCS
 * and one VPID. Guest memory is mapped through EPT (mmu.c, 4 levels,
 * write-back). Unrestricted guest is required, so real mode runs as is.
 *
 * A VMCS is active on at most one CPU. It is made current where its vCPU
 * runs (vmx_load()); moving to another CPU VMCLEARs it on the old one
 * first. Backend hooks called from ioctls load it the same way, with
 * preemption off for as long as they touch it (vmx_get()/vmx_put()).
 *
 * Exit handlers run with preemption on (a nested-page fault may allocate
 * or sleep), after the exit path copied what they need out of the VMCS.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": vmx: " fmt

#include <linux/cpu.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/cpu_entry_area.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/fsgsbase.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/trapnr.h>
#include <asm/tsc.h>
#include <asm/vmx.h>

#include "vmxl.h"
#include "trace.h"

#define EXIT_REASON_GETSEC	11	/* not in asm/vmx.h */

asmlinkage int vmxl_vmx_enter(u64 *regs, bool launched);
asmlinkage void vmxl_vmx_exit(void);
asmlinkage void vmxl_vmx_do_nmi(void);

/* What probe found; read-only afterwards. */
static struct {
	u32 revision;
	u32 pin, proc, proc2, exit, entry;	/* base controls */
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	bool ins_outs_info;	/* VM exits describe INS/OUTS operands */
	bool vpid;
	bool invept_single, invept_global;
	bool invvpid_single;
	u32 slice;		/* preemption-timer ticks per entry, 0: none */
	bool pml;		/* dirty logging by EPT D bits + PML */
} vmx_cfg;

static struct vmxl_mmu_fmt vmx_mmu_fmt;	/* dirty_bit set by probe */

static bool use_pml = true;
module_param_named(pml, use_pml, bool, 0444);
MODULE_PARM_DESC(pml, "VMX: log dirty pages with PML where the CPU has it (0: write protection)");

#define PML_ENTRIES	512

/*
 * The longest a guest runs before the host looks at signals and its run
 * queue again, even when no host interrupt makes it exit. Host interrupts
 * should always do that, but Bochs 2.7 holds them while the guest has
 * RFLAGS.IF=0, so a guest spinning with interrupts off would keep its
 * CPU for good. The VMX-preemption timer bounds every entry instead.
 */
#define VMX_SLICE_MS	10

/* Host SYSCALL MSRs, the same on every CPU (syscall_init()). */
static u64 host_star, host_lstar, host_cstar, host_sfmask;

struct vmx_vcpu;

struct vmx_cpu {
	void *vmxon;			/* VMXON region */
	struct vmx_vcpu *current_vmcs;	/* last VMPTRLD on this CPU */
	struct list_head loaded;	/* VMCSs active here; IRQs off */
};

static DEFINE_PER_CPU(struct vmx_cpu, vmx_cpu);

struct vmx_vcpu {
	void *vmcs;
	phys_addr_t vmcs_pa;
	/* CPU the VMCS is active on (-1: none) and its link there */
	int loaded_cpu;
	struct list_head loaded_link;
	bool launched;			/* VMRESUME, not VMLAUNCH */
	int host_cpu;			/* per-CPU host fields written for */
	bool flush;			/* guest TLB stale: flush at entry */
	bool load_pdptrs;		/* PAE paging state set from outside */
	u16 vpid;			/* 0: none, every entry flushes */
	u64 *pml;			/* PML buffer page, when vmx_cfg.pml */
	u16 pml_top;			/* first PML index of each entry */
	u32 proc;			/* primary controls as last written */

	/* guest state VMX does not switch */
	u64 cr2;
	u8 cr8;
	u64 dr6;
	u64 star, lstar, cstar, sfmask, kernel_gs_base;
};

/* The exit as the entry path read it, for handlers running preemptible. */
struct vmx_exit {
	u32 reason;
	u32 intr_info;
	u32 insn_len;
	u32 insn_info;
	u64 qual;
	u64 gpa;
};

static inline struct vmx_vcpu *to_vmx(struct vmxl_vcpu *vcpu)
{
	return vcpu->backend_data;
}

/* ---- VMX instructions ---- */

static __always_inline u64 vmcs_read(unsigned long field)
{
	u64 val;

	asm volatile("vmread %1, %0" : "=rm" (val) : "r" (field) : "cc");
	return val;
}

static __always_inline void vmcs_write(unsigned long field, u64 val)
{
	asm volatile("vmwrite %1, %0" : : "r" (field), "rm" (val) : "cc");
}

static void vmcs_clear(phys_addr_t pa)
{
	asm volatile("vmclear %0" : : "m" (pa) : "cc", "memory");
}

static void vmcs_load(phys_addr_t pa)
{
	asm volatile("vmptrld %0" : : "m" (pa) : "cc", "memory");
}

static void ept_sync(unsigned long type, u64 eptp)
{
	struct { u64 eptp, rsvd; } desc = { eptp, 0 };

	asm volatile("invept %0, %1" : : "m" (desc), "r" (type) : "cc", "memory");
}

static void vpid_sync(unsigned long type, u16 vpid)
{
	struct { u64 vpid, gva; } desc = { vpid, 0 };

	asm volatile("invvpid %0, %1" : : "m" (desc), "r" (type) : "cc", "memory");
}

/* ---- detection ---- */

/* Controls: allowed-0 (must be 1) in the low half, allowed-1 in the high. */
static int vmx_adjust(u32 msr, u32 want, u32 optional, u32 *out)
{
	u32 ctl = want | optional;
	u64 caps;

	if (rdmsrl_safe(msr, &caps))
		return -EOPNOTSUPP;
	ctl &= caps >> 32;
	ctl |= (u32)caps;
	if ((ctl & want) != want)
		return -EOPNOTSUPP;
	*out = ctl;
	return 0;
}

static int vmx_setup_controls(u64 basic)
{
	bool true_ctls = basic & VMX_BASIC_TRUE_CTLS;
	int ret;

	ret = vmx_adjust(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
				     MSR_IA32_VMX_PINBASED_CTLS,
			 PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING |
			 PIN_BASED_VIRTUAL_NMIS, PIN_BASED_VMX_PREEMPTION_TIMER,
			 &vmx_cfg.pin);
	/*
	 * Every port and MSR exits (no bitmaps); CR8 is emulated so the
	 * guest never reaches the host's TPR; debug registers are switched
	 * by emulating MOV DR.
	 */
	ret = ret ?: vmx_adjust(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
					    MSR_IA32_VMX_PROCBASED_CTLS,
				CPU_BASED_HLT_EXITING |
				CPU_BASED_UNCOND_IO_EXITING |
				CPU_BASED_CR8_LOAD_EXITING |
				CPU_BASED_CR8_STORE_EXITING |
				CPU_BASED_MOV_DR_EXITING |
				CPU_BASED_MWAIT_EXITING |
				CPU_BASED_MONITOR_EXITING |
				CPU_BASED_USE_TSC_OFFSETTING |
				CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, 0,
				&vmx_cfg.proc);
	ret = ret ?: vmx_adjust(MSR_IA32_VMX_PROCBASED_CTLS2,
				SECONDARY_EXEC_ENABLE_EPT |
				SECONDARY_EXEC_UNRESTRICTED_GUEST,
				SECONDARY_EXEC_ENABLE_VPID |
				SECONDARY_EXEC_ENABLE_PML |
				SECONDARY_EXEC_PAUSE_LOOP_EXITING,
				&vmx_cfg.proc2);
	ret = ret ?: vmx_adjust(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS :
					    MSR_IA32_VMX_EXIT_CTLS,
				VM_EXIT_HOST_ADDR_SPACE_SIZE |
				VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT |
				VM_EXIT_SAVE_IA32_EFER |
				VM_EXIT_LOAD_IA32_EFER |
				VM_EXIT_SAVE_DEBUG_CONTROLS, 0, &vmx_cfg.exit);
	ret = ret ?: vmx_adjust(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
					    MSR_IA32_VMX_ENTRY_CTLS,
				VM_ENTRY_LOAD_DEBUG_CONTROLS |
				VM_ENTRY_LOAD_IA32_PAT |
				VM_ENTRY_LOAD_IA32_EFER, 0, &vmx_cfg.entry);
	/* Chosen per vCPU, and per mode: */
	vmx_cfg.entry &= ~VM_ENTRY_IA32E_MODE;
	vmx_cfg.proc &= ~(CPU_BASED_INTR_WINDOW_EXITING |
			  CPU_BASED_NMI_WINDOW_EXITING);
	return ret;
}

/* The allowed-1 settings of a VMX control are the high half of its MSR. */
static u32 vmx_allowed1(u32 msr)
{
	u64 val;

	if (rdmsrl_safe(msr, &val))
		return 0;
	return val >> 32;
}

static int vmx_probe(struct vmxl_caps *caps)
{
	u32 pinbased, procbased, secondary = 0;
	u64 feat_ctl, ept_cap;
	bool true_ctls;

	if (boot_cpu_data.x86_vendor != X86_VENDOR_INTEL &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_ZHAOXIN &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_CENTAUR)
		return -ENODEV;
	if (!(cpuid_ecx(1) & BIT(5)))	/* CPUID.1:ECX.VMX */
		return -ENODEV;

	/*
	 * The kernel locks IA32_FEATURE_CONTROL at boot (with VMX enabled
	 * when firmware left it unlocked), so locked-without-VMX means the
	 * firmware said no.
	 */
	if (rdmsrl_safe(MSR_IA32_FEAT_CTL, &feat_ctl) ||
	    !(feat_ctl & FEAT_CTL_LOCKED) ||
	    !(feat_ctl & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		caps->backend_status = VMXL_STATUS_DISABLED_BY_FIRMWARE;
		return -EPERM;
	}

	if (rdmsrl_safe(MSR_IA32_VMX_BASIC, &caps->vmx_basic)) {
		caps->backend_status = VMXL_STATUS_UNSUPPORTED;
		return -EOPNOTSUPP;
	}
	true_ctls = caps->vmx_basic & VMX_BASIC_TRUE_CTLS;
	pinbased = vmx_allowed1(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
					    MSR_IA32_VMX_PINBASED_CTLS);
	procbased = vmx_allowed1(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
					     MSR_IA32_VMX_PROCBASED_CTLS);
	if (procbased & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		secondary = vmx_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2);
	if (secondary & (SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID))
		rdmsrl_safe(MSR_IA32_VMX_EPT_VPID_CAP, &caps->vmx_ept_vpid_cap);
	ept_cap = caps->vmx_ept_vpid_cap;

	if (secondary & SECONDARY_EXEC_ENABLE_EPT)
		caps->features |= VMXL_FEAT_EPT;
	if (secondary & SECONDARY_EXEC_ENABLE_VPID)
		caps->features |= VMXL_FEAT_VPID;
	if (secondary & SECONDARY_EXEC_UNRESTRICTED_GUEST)
		caps->features |= VMXL_FEAT_UNRESTRICTED_GUEST;
	if (secondary & SECONDARY_EXEC_ENABLE_PML)
		caps->features |= VMXL_FEAT_PML;
	if ((caps->features & VMXL_FEAT_EPT) && (ept_cap & VMX_EPT_AD_BIT))
		caps->features |= VMXL_FEAT_EPT_AD;
	if (pinbased & PIN_BASED_VMX_PREEMPTION_TIMER)
		caps->features |= VMXL_FEAT_PREEMPTION_TIMER;

	if (!(caps->features & VMXL_FEAT_EPT) ||
	    !(ept_cap & VMX_EPT_PAGE_WALK_4_BIT) ||
	    !(ept_cap & VMX_EPTP_WB_BIT) || !(ept_cap & VMX_EPT_INVEPT_BIT)) {
		caps->backend_status = VMXL_STATUS_NO_NESTED_PAGING;
		return -EOPNOTSUPP;
	}
	/* Guests start in real mode; without this they could not run. */
	if (!(caps->features & VMXL_FEAT_UNRESTRICTED_GUEST) ||
	    vmx_setup_controls(caps->vmx_basic)) {
		caps->backend_status = VMXL_STATUS_UNSUPPORTED;
		return -EOPNOTSUPP;
	}

	vmx_cfg.revision = vmx_basic_vmcs_revision_id(caps->vmx_basic);
	vmx_cfg.ins_outs_info = caps->vmx_basic & VMX_BASIC_INOUT;
	vmx_cfg.invept_single = ept_cap & VMX_EPT_EXTENT_CONTEXT_BIT;
	vmx_cfg.invept_global = ept_cap & VMX_EPT_EXTENT_GLOBAL_BIT;
	if (!vmx_cfg.invept_single && !vmx_cfg.invept_global) {
		caps->backend_status = VMXL_STATUS_NO_NESTED_PAGING;
		return -EOPNOTSUPP;
	}
	/* VPIDs are only worth it when one vCPU's can be flushed alone. */
	vmx_cfg.invvpid_single = (ept_cap >> 32) &
				 VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT;
	vmx_cfg.vpid = (vmx_cfg.proc2 & SECONDARY_EXEC_ENABLE_VPID) &&
		       ((ept_cap >> 32) & VMX_VPID_INVVPID_BIT) &&
		       vmx_cfg.invvpid_single;
	vmx_cfg.proc2 &= ~SECONDARY_EXEC_ENABLE_VPID;
	/* PML logs the GPAs whose EPT dirty bit the CPU sets: needs A/D. */
	vmx_cfg.pml = use_pml && (vmx_cfg.proc2 & SECONDARY_EXEC_ENABLE_PML) &&
		      (ept_cap & VMX_EPT_AD_BIT);
	vmx_cfg.proc2 &= ~SECONDARY_EXEC_ENABLE_PML;
	if (vmx_cfg.pml)
		vmx_mmu_fmt.dirty_bit = VMX_EPT_DIRTY_BIT;
	/*
	 * EPT A/D bits on wherever the CPU has them, PML or not: guest
	 * paging-structure accesses are then writes for EPT (SDM Vol. 3C
	 * 29.3.5), and a reset point finds the pages whose dirty bit the
	 * CPU set without a write fault (reset.c).
	 */
	if (ept_cap & VMX_EPT_AD_BIT)
		vmx_mmu_fmt.hw_dirty = VMX_EPT_DIRTY_BIT;
	if (vmx_cfg.pin & PIN_BASED_VMX_PREEMPTION_TIMER) {
		u64 misc, ticks;

		rdmsrl(MSR_IA32_VMX_MISC, misc);
		ticks = ((u64)(tsc_khz ?: 1000000) * VMX_SLICE_MS) >>
			(misc & VMX_MISC_PREEMPTION_TIMER_RATE_MASK);
		vmx_cfg.slice = clamp_t(u64, ticks, 1, U32_MAX);
	}
	rdmsrl(MSR_IA32_VMX_CR0_FIXED0, vmx_cfg.cr0_fixed0);
	rdmsrl(MSR_IA32_VMX_CR0_FIXED1, vmx_cfg.cr0_fixed1);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED0, vmx_cfg.cr4_fixed0);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED1, vmx_cfg.cr4_fixed1);
	return 0;
}

/* ---- VPIDs: one per vCPU, 0 when they ran out (then none is used) ---- */

static DEFINE_SPINLOCK(vmx_vpid_lock);
static DECLARE_BITMAP(vmx_vpid_used, VMX_NR_VPIDS);	/* under the lock */

static u16 vmx_vpid_alloc(void)
{
	unsigned long vpid;

	if (!vmx_cfg.vpid)
		return 0;
	spin_lock(&vmx_vpid_lock);
	vpid = find_next_zero_bit(vmx_vpid_used, VMX_NR_VPIDS, 1);
	if (vpid < VMX_NR_VPIDS)
		__set_bit(vpid, vmx_vpid_used);
	else
		vpid = 0;
	spin_unlock(&vmx_vpid_lock);
	return vpid;
}

static void vmx_vpid_free(u16 vpid)
{
	if (!vpid)
		return;
	spin_lock(&vmx_vpid_lock);
	__clear_bit(vpid, vmx_vpid_used);
	spin_unlock(&vmx_vpid_lock);
}

/* ---- per CPU ---- */

static void vmx_fini(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu, cpu);

		free_page((unsigned long)vc->vmxon);
		vc->vmxon = NULL;
	}
}

static int vmx_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct vmx_cpu *vc = per_cpu_ptr(&vmx_cpu, cpu);

		INIT_LIST_HEAD(&vc->loaded);
		vc->vmxon = (void *)get_zeroed_page(GFP_KERNEL);
		if (!vc->vmxon) {
			vmx_fini();
			return -ENOMEM;
		}
		*(u32 *)vc->vmxon = vmx_cfg.revision;
	}
	rdmsrl(MSR_STAR, host_star);
	rdmsrl(MSR_LSTAR, host_lstar);
	rdmsrl(MSR_CSTAR, host_cstar);
	rdmsrl(MSR_SYSCALL_MASK, host_sfmask);
	return 0;
}

/* On the CPU the VMCS is active on, IRQs off. */
static void vmx_clear_local(struct vmx_vcpu *vv)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);

	vmcs_clear(vv->vmcs_pa);
	if (vc->current_vmcs == vv)
		vc->current_vmcs = NULL;
	list_del(&vv->loaded_link);
	vv->launched = false;
	WRITE_ONCE(vv->loaded_cpu, -1);
}

static void vmx_clear_ipi(void *arg)
{
	struct vmx_vcpu *vv = arg;

	if (READ_ONCE(vv->loaded_cpu) == smp_processor_id())
		vmx_clear_local(vv);
}

static int vmx_cpu_enable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);
	u64 pa = __pa(vc->vmxon);

	if (cr4_read_shadow() & X86_CR4_VMXE)
		return -EBUSY;	/* another hypervisor got here first */
	cr4_set_bits(X86_CR4_VMXE);
	asm goto("1: vmxon %[pa]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, %l[fail])
		 : : [pa] "m" (pa) : "cc", "memory" : fail);
	vc->current_vmcs = NULL;
	/* Whoever used VMX before us may have left EPT translations. */
	if (vmx_cfg.invept_global)
		ept_sync(VMX_EPT_EXTENT_GLOBAL, 0);
	return 0;
fail:
	cr4_clear_bits(X86_CR4_VMXE);
	return -EBUSY;
}

static void vmx_cpu_disable(void)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);
	struct vmx_vcpu *vv, *tmp;

	/* VMXOFF would leave active VMCSs' contents stale in memory. */
	list_for_each_entry_safe(vv, tmp, &vc->loaded, loaded_link)
		vmx_clear_local(vv);
	asm goto("1: vmxoff\n\t"
		 _ASM_EXTABLE(1b, %l[fault])
		 : : : "cc", "memory" : fault);
fault:
	cr4_clear_bits(X86_CR4_VMXE);
}

/* ---- VMCS residency ---- */

/* Make @vv's VMCS current on this CPU; preemption off, IRQs on. */
static void vmx_load(struct vmx_vcpu *vv)
{
	struct vmx_cpu *vc = this_cpu_ptr(&vmx_cpu);
	int cpu = smp_processor_id();
	unsigned long flags;
	int old;

	if (vv->loaded_cpu != cpu) {
		old = READ_ONCE(vv->loaded_cpu);
		if (old >= 0)
			smp_call_function_single(old, vmx_clear_ipi, vv, 1);
		/* Clear also puts a fresh VMCS in the launch state "clear". */
		vmcs_clear(vv->vmcs_pa);
		local_irq_save(flags);
		list_add(&vv->loaded_link, &vc->loaded);
		vv->loaded_cpu = cpu;
		local_irq_restore(flags);
		vv->launched = false;
		vv->host_cpu = -1;
		/* Translations this CPU cached for the vCPU may be stale. */
		vv->flush = true;
	}
	if (vc->current_vmcs != vv) {
		vmcs_load(vv->vmcs_pa);
		vc->current_vmcs = vv;
	}
}

static struct vmx_vcpu *vmx_get(struct vmxl_vcpu *vcpu)
{
	preempt_disable();
	vmx_load(to_vmx(vcpu));
	return to_vmx(vcpu);
}

static void vmx_put(void)
{
	preempt_enable();
}

/* ---- guest state ---- */

static u64 vmx_cr0_on(void)
{
	/* Unrestricted guest lifts the PE and PG requirements. */
	return vmx_cfg.cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG);
}

/* CR0 bits the guest sees from the shadow: a write to them exits. */
static u64 vmx_cr0_mask(void)
{
	return vmx_cr0_on() | X86_CR0_PG;
}

static u64 vmx_guest_cr0(void)
{
	u64 mask = vmx_cr0_mask();

	return (vmcs_read(GUEST_CR0) & ~mask) |
	       (vmcs_read(CR0_READ_SHADOW) & mask);
}

/*
 * CR4 bits the guest sees from the shadow: VMX's fixed ones, and those
 * the vCPU's CPUID may hide, so that setting one exits to be checked.
 */
static u64 vmx_cr4_mask(void)
{
	return vmx_cfg.cr4_fixed0 | VMXL_CR4_CPUID_BITS;
}

static u64 vmx_guest_cr4(void)
{
	u64 mask = vmx_cr4_mask();

	return (vmcs_read(GUEST_CR4) & ~mask) |
	       (vmcs_read(CR4_READ_SHADOW) & mask);
}

static void vmx_write_cr0(struct vmx_vcpu *vv, u64 cr0)
{
	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(GUEST_CR0, (cr0 | vmx_cr0_on()) & vmx_cfg.cr0_fixed1);
	vv->load_pdptrs = true;
	vv->flush = true;
}

static void vmx_write_cr4(struct vmx_vcpu *vv, u64 cr4)
{
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmcs_write(GUEST_CR4, (cr4 | vmx_cfg.cr4_fixed0) & vmx_cfg.cr4_fixed1);
	vv->load_pdptrs = true;
	vv->flush = true;
}

/* EFER and the entry control that must agree with its LMA bit. */
static void vmx_write_efer(u64 efer)
{
	u32 entry = vmcs_read(VM_ENTRY_CONTROLS) & ~VM_ENTRY_IA32E_MODE;

	vmcs_write(GUEST_IA32_EFER, efer);
	vmcs_write(VM_ENTRY_CONTROLS,
		   entry | ((efer & EFER_LMA) ? VM_ENTRY_IA32E_MODE : 0));
}

#define VMX_SEG(seg) { GUEST_##seg##_SELECTOR, GUEST_##seg##_BASE, \
		       GUEST_##seg##_LIMIT, GUEST_##seg##_AR_BYTES }

/* cs, ds, es, fs, gs, ss, tr, ldt: the order of struct vmxl_sregs */
static const struct vmx_seg_fields {
	u32 sel, base, limit, ar;
} vmx_segs[] = {
	VMX_SEG(CS), VMX_SEG(DS), VMX_SEG(ES), VMX_SEG(FS),
	VMX_SEG(GS), VMX_SEG(SS), VMX_SEG(TR), VMX_SEG(LDTR),
};

static void seg_to_vmcs(const struct vmx_seg_fields *f,
			const struct vmxl_segment *s)
{
	u32 ar = s->type | s->s << 4 | s->dpl << 5 | s->present << 7 |
		 s->avl << 12 | s->l << 13 | s->db << 14 | s->g << 15;

	/* A usable segment must be present: treat absent as unusable. */
	if (s->unusable || !s->present)
		ar = VMX_AR_UNUSABLE_MASK;
	vmcs_write(f->sel, s->selector);
	vmcs_write(f->base, s->base);
	vmcs_write(f->limit, s->limit);
	vmcs_write(f->ar, ar);
}

static void seg_from_vmcs(struct vmxl_segment *s,
			  const struct vmx_seg_fields *f)
{
	u32 ar = vmcs_read(f->ar);

	s->selector = vmcs_read(f->sel);
	s->base = vmcs_read(f->base);
	s->limit = vmcs_read(f->limit);
	s->type = ar & 15;
	s->s = !!(ar & BIT(4));
	s->dpl = (ar >> 5) & 3;
	s->avl = !!(ar & BIT(12));
	s->l = !!(ar & BIT(13));
	s->db = !!(ar & BIT(14));
	s->g = !!(ar & BIT(15));
	s->unusable = !!(ar & VMX_AR_UNUSABLE_MASK);
	s->present = !s->unusable && (ar & BIT(7));
}

static void vmx_get_sregs(struct vmxl_vcpu *vcpu, struct vmxl_sregs *s)
{
	struct vmxl_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};
	struct vmx_vcpu *vv = vmx_get(vcpu);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmx_segs); i++)
		seg_from_vmcs(segs[i], &vmx_segs[i]);
	s->gdt.base = vmcs_read(GUEST_GDTR_BASE);
	s->gdt.limit = vmcs_read(GUEST_GDTR_LIMIT);
	s->idt.base = vmcs_read(GUEST_IDTR_BASE);
	s->idt.limit = vmcs_read(GUEST_IDTR_LIMIT);
	s->cr0 = vmx_guest_cr0();
	s->cr2 = vv->cr2;
	s->cr3 = vmcs_read(GUEST_CR3);
	s->cr4 = vmx_guest_cr4();
	s->cr8 = vv->cr8;
	s->efer = vmcs_read(GUEST_IA32_EFER);
	vmx_put();
}

static int vmx_set_sregs(struct vmxl_vcpu *vcpu, const struct vmxl_sregs *s)
{
	const struct vmxl_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};
	struct vmx_vcpu *vv = vmx_get(vcpu);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmx_segs); i++)
		seg_to_vmcs(&vmx_segs[i], segs[i]);
	vmcs_write(GUEST_GDTR_BASE, s->gdt.base);
	vmcs_write(GUEST_GDTR_LIMIT, s->gdt.limit);
	vmcs_write(GUEST_IDTR_BASE, s->idt.base);
	vmcs_write(GUEST_IDTR_LIMIT, s->idt.limit);
	vmx_write_cr0(vv, s->cr0);
	vmcs_write(GUEST_CR3, s->cr3);
	vmx_write_cr4(vv, s->cr4);
	vmx_write_efer(s->efer);
	vv->cr2 = s->cr2;
	vv->cr8 = s->cr8;
	vmx_put();
	return 0;
}

/* The SYSCALL MSRs VMX leaves alone: kept here, switched around entry. */
static u64 *vmx_soft_msr(struct vmx_vcpu *vv, u32 index)
{
	switch (index) {
	case MSR_STAR:
		return &vv->star;
	case MSR_LSTAR:
		return &vv->lstar;
	case MSR_CSTAR:
		return &vv->cstar;
	case MSR_SYSCALL_MASK:
		return &vv->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &vv->kernel_gs_base;
	}
	return NULL;
}

static u32 vmx_msr_field(u32 index)
{
	switch (index) {
	case MSR_IA32_CR_PAT:
		return GUEST_IA32_PAT;
	case MSR_IA32_SYSENTER_CS:
		return GUEST_SYSENTER_CS;
	case MSR_IA32_SYSENTER_ESP:
		return GUEST_SYSENTER_ESP;
	case MSR_IA32_SYSENTER_EIP:
		return GUEST_SYSENTER_EIP;
	case MSR_FS_BASE:
		return GUEST_FS_BASE;
	case MSR_GS_BASE:
		return GUEST_GS_BASE;
	}
	return 0;
}

static int vmx_get_msr(struct vmxl_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);
	u64 *soft = vmx_soft_msr(vv, index);
	u32 field = vmx_msr_field(index);

	if (soft) {
		*data = *soft;
		return 0;
	}
	if (!field && index != MSR_EFER && index != MSR_IA32_TSC)
		return -ENOENT;
	vmx_get(vcpu);
	if (index == MSR_EFER)
		*data = vmcs_read(GUEST_IA32_EFER);
	else if (index == MSR_IA32_TSC)
		*data = rdtsc() + vmcs_read(TSC_OFFSET);
	else
		*data = vmcs_read(field);
	vmx_put();
	return 0;
}

static int vmx_set_msr(struct vmxl_vcpu *vcpu, u32 index, u64 data)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);
	u64 *soft = vmx_soft_msr(vv, index);
	u32 field = vmx_msr_field(index);
	int ret = 0;
	u64 efer;

	/* vmxl_emulate_wrmsr() checked and narrowed the value. */
	if (soft) {
		*soft = data;
		return 0;
	}
	if (!field && index != MSR_EFER && index != MSR_IA32_TSC)
		return -ENOENT;

	vmx_get(vcpu);
	if (index == MSR_EFER) {
		efer = vmcs_read(GUEST_IA32_EFER);
		/* LME cannot change while paging is on; LMA is read-only. */
		if ((vmx_guest_cr0() & X86_CR0_PG) &&
		    ((data ^ efer) & EFER_LME))
			ret = -EINVAL;
		else
			vmx_write_efer((data & ~(u64)EFER_LMA) |
				       (efer & EFER_LMA));
	} else if (index == MSR_IA32_TSC) {
		vmcs_write(TSC_OFFSET, data - rdtsc());
	} else {
		vmcs_write(field, data);
	}
	vmx_put();
	return ret;
}

static bool vmx_interruptible(struct vmxl_vcpu *vcpu)
{
	bool ret;

	vmx_get(vcpu);
	ret = (vcpu->rflags & X86_EFLAGS_IF) &&
	      !(vmcs_read(GUEST_INTERRUPTIBILITY_INFO) &
		(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) &&
	      !(vmcs_read(VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID_MASK);
	vmx_put();
	return ret;
}

/* ---- vCPU setup ---- */

static u64 vmx_eptp(struct vmxl_vcpu *vcpu)
{
	return vcpu->vm->mmu.root_pa | VMX_EPTP_PWL_4 | VMX_EPTP_MT_WB |
	       (vmx_mmu_fmt.hw_dirty ? VMX_EPTP_AD_ENABLE_BIT : 0);
}

/* Fields that never change, VMCS current. */
static void vmx_setup_vmcs(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv)
{
	u64 pat, efer;

	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, vmx_cfg.pin);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, vmx_cfg.proc);
	vv->proc = vmx_cfg.proc;
	vmcs_write(SECONDARY_VM_EXEC_CONTROL, vmx_cfg.proc2 |
		   (vv->vpid ? SECONDARY_EXEC_ENABLE_VPID : 0) |
		   (vv->pml ? SECONDARY_EXEC_ENABLE_PML : 0));
	/*
	 * PAUSE-loop exiting, with KVM's gap and window (in TSC ticks,
	 * SDM Vol. 3C 25.1.3): a vCPU spinning for a lock or an answer
	 * gives its CPU to the vCPU it waits for.
	 */
	if (vmx_cfg.proc2 & SECONDARY_EXEC_PAUSE_LOOP_EXITING) {
		vmcs_write(PLE_GAP, 128);
		vmcs_write(PLE_WINDOW, 4096);
	}
	if (vv->pml) {
		vmcs_write(PML_ADDRESS, __pa(vv->pml));
		vv->pml_top = PML_ENTRIES - 1;
		vmcs_write(GUEST_PML_INDEX, vv->pml_top);
	}
	vmcs_write(VM_EXIT_CONTROLS, vmx_cfg.exit);
	vmcs_write(VM_ENTRY_CONTROLS, vmx_cfg.entry);
	vmcs_write(EXCEPTION_BITMAP, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(CR0_GUEST_HOST_MASK, vmx_cr0_mask());
	vmcs_write(CR4_GUEST_HOST_MASK, vmx_cr4_mask());
	vmcs_write(EPT_POINTER, vmx_eptp(vcpu));
	if (vv->vpid)
		vmcs_write(VIRTUAL_PROCESSOR_ID, vv->vpid);
	vmcs_write(TSC_OFFSET, 0);

	/* Host state that is the same on every CPU. */
	vmcs_write(HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(HOST_DS_SELECTOR, 0);
	vmcs_write(HOST_ES_SELECTOR, 0);
	vmcs_write(HOST_FS_SELECTOR, 0);
	vmcs_write(HOST_GS_SELECTOR, 0);
	vmcs_write(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	vmcs_write(HOST_RIP, (unsigned long)vmxl_vmx_exit);
	rdmsrl(MSR_IA32_CR_PAT, pat);
	vmcs_write(HOST_IA32_PAT, pat);
	rdmsrl(MSR_EFER, efer);
	vmcs_write(HOST_IA32_EFER, efer);

	vmcs_write(VMCS_LINK_POINTER, -1ULL);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(GUEST_DR7, VMXL_DR7_FIXED_1);
	vmcs_write(GUEST_IA32_PAT, 0x0007040600070406ULL); /* the reset PAT */
	vmcs_write(GUEST_ACTIVITY_STATE, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, 0);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);
	vmcs_write(GUEST_IA32_EFER, 0);
	vv->dr6 = VMXL_DR6_FIXED_1;
}

static void vmx_vcpu_destroy(struct vmxl_vcpu *vcpu)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);
	int cpu;

	cpus_read_lock();
	cpu = get_cpu();
	if (vv->loaded_cpu == cpu) {
		local_irq_disable();
		vmx_clear_local(vv);
		local_irq_enable();
	} else if (vv->loaded_cpu >= 0) {
		smp_call_function_single(vv->loaded_cpu, vmx_clear_ipi, vv, 1);
	}
	put_cpu();
	cpus_read_unlock();

	vmx_vpid_free(vv->vpid);
	free_page((unsigned long)vv->pml);
	free_page((unsigned long)vv->vmcs);
	kfree(vv);
	vcpu->backend_data = NULL;
}

static int vmx_vcpu_create(struct vmxl_vcpu *vcpu)
{
	struct vmx_vcpu *vv;

	vv = kzalloc(sizeof(*vv), GFP_KERNEL_ACCOUNT);
	if (!vv)
		return -ENOMEM;
	vv->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vv->vmcs)
		goto fail_vv;
	if (vmx_cfg.pml) {
		vv->pml = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
		if (!vv->pml)
			goto fail_vmcs;
	}
	*(u32 *)vv->vmcs = vmx_cfg.revision;
	vv->vmcs_pa = __pa(vv->vmcs);
	vv->loaded_cpu = -1;
	vv->host_cpu = -1;
	INIT_LIST_HEAD(&vv->loaded_link);
	vv->vpid = vmx_vpid_alloc();
	vcpu->backend_data = vv;

	vmx_get(vcpu);
	vmx_setup_vmcs(vcpu, vv);
	vmx_put();
	return 0;

fail_vmcs:
	free_page((unsigned long)vv->vmcs);
fail_vv:
	kfree(vv);
	return -ENOMEM;
}

/* ---- events ---- */

/*
 * Raise a fault (#GP, #UD: the only exceptions the module synthesizes).
 * Real mode pushes no error code. VMCS current.
 */
static void vmx_inject_exception(struct vmxl_vcpu *vcpu, u8 vec, bool has_err,
				 u32 err)
{
	if (!(vmcs_read(GUEST_CR0) & X86_CR0_PE))
		has_err = false;
	/* So that returning to the fault does not re-trip a breakpoint. */
	vcpu->rflags |= X86_EFLAGS_RF;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, vec | INTR_TYPE_HARD_EXCEPTION |
		   INTR_INFO_VALID_MASK |
		   (has_err ? INTR_INFO_DELIVER_CODE_MASK : 0));
	vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, err);
	trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_EXCEPTION, vec, has_err, err);
}

/*
 * A #DB reporting DR6 @bits: the trap an instruction the module
 * completed owes (vcpu->db_pending), or the general-detect fault of an
 * intercepted MOV DR. DR6 reports it, DR7.GD is cleared as on every #DB
 * (SDM Vol. 3B 17.2.3, 17.2.4); RIP says which of the two it is, and no
 * RF, as KVM injects it. VMCS current.
 */
static void vmx_deliver_db(struct vmxl_vcpu *vcpu, u64 bits)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);

	vv->dr6 = vmxl_dr6_deliver(vv->dr6, bits);
	vmcs_write(GUEST_DR7, vmcs_read(GUEST_DR7) & ~VMXL_DR7_GD);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, X86_TRAP_DB |
		   INTR_TYPE_HARD_EXCEPTION | INTR_INFO_VALID_MASK);
	trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_EXCEPTION, X86_TRAP_DB, false,
			  0);
}

static void vmx_set_proc(struct vmx_vcpu *vv, u32 proc)
{
	if (proc != vv->proc) {
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, proc);
		vv->proc = proc;
	}
}

/* Queue an NMI or interrupt, or ask for the window to do it. */
static void vmx_prepare_events(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv)
{
	u32 intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	u32 proc = vv->proc & ~(CPU_BASED_INTR_WINDOW_EXITING |
				CPU_BASED_NMI_WINDOW_EXITING);
	bool busy = vmcs_read(VM_ENTRY_INTR_INFO_FIELD) & INTR_INFO_VALID_MASK;
	bool irq_open = (vcpu->rflags & X86_EFLAGS_IF) &&
			!(intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));

	if (busy) {
		/* re-delivering what the last exit interrupted */
	} else if (vcpu->db_pending) {
		/* a trap on the previous instruction goes before NMI, INTR */
		vmx_deliver_db(vcpu, vcpu->db_pending);
		vcpu->db_pending = 0;
		busy = true;
	} else if (vcpu->nmi_pending &&
		   !(intr & (GUEST_INTR_STATE_NMI | GUEST_INTR_STATE_STI |
			     GUEST_INTR_STATE_MOV_SS))) {
		vmcs_write(VM_ENTRY_INTR_INFO_FIELD, NMI_VECTOR |
			   INTR_TYPE_NMI_INTR | INTR_INFO_VALID_MASK);
		trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_NMI, NMI_VECTOR, false, 0);
		vcpu->nmi_pending = false;
		busy = true;
	} else if (vcpu->irq_pending >= 0 && irq_open) {
		vmcs_write(VM_ENTRY_INTR_INFO_FIELD, vcpu->irq_pending |
			   INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK);
		trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_IRQ, vcpu->irq_pending,
				  false, 0);
		vcpu->irq_pending = -1;
		busy = true;
	}

	if (vcpu->nmi_pending)
		proc |= CPU_BASED_NMI_WINDOW_EXITING;
	if ((vcpu->run->request_interrupt_window || vcpu->irq_pending >= 0) &&
	    (busy || !irq_open))
		proc |= CPU_BASED_INTR_WINDOW_EXITING;
	/* An APIC vector held back by IF or busy; CR8 writes exit anyway. */
	if (vcpu->lapic && vcpu->irq_window_prio > vmxl_lapic_cr8(vcpu))
		proc |= CPU_BASED_INTR_WINDOW_EXITING;
	vmx_set_proc(vv, proc);
}

static void vmx_get_dr67(struct vmxl_vcpu *vcpu, u64 *dr6, u64 *dr7)
{
	struct vmx_vcpu *vv = vmx_get(vcpu);

	*dr6 = vv->dr6;
	*dr7 = vmcs_read(GUEST_DR7);
	vmx_put();
}

/* As MOV DR writes them (vmx_handle_dr()), SDM Vol. 3B 17.2.3 and 17.2.4. */
static void vmx_set_dr67(struct vmxl_vcpu *vcpu, u64 dr6, u64 dr7)
{
	struct vmx_vcpu *vv = vmx_get(vcpu);

	vv->dr6 = vmxl_dr6_fixed(dr6);
	vmcs_write(GUEST_DR7, vmxl_dr7_fixed(dr7));
	vmx_put();
}

static void vmx_set_tsc_offset(struct vmxl_vcpu *vcpu, u64 offset)
{
	vmx_get(vcpu);
	vmcs_write(TSC_OFFSET, offset);
	vmx_put();
}

static void vmx_get_events(struct vmxl_vcpu *vcpu, struct vmxl_hw_events *h)
{
	u32 info, type, intr;

	vmx_get(vcpu);
	info = vmcs_read(VM_ENTRY_INTR_INFO_FIELD);
	/* A #DB trap owed (vcpu->db_pending) is an event in flight too. */
	if (!(info & INTR_INFO_VALID_MASK) && vcpu->db_pending) {
		vmx_deliver_db(vcpu, vcpu->db_pending);
		vcpu->db_pending = 0;
		info = vmcs_read(VM_ENTRY_INTR_INFO_FIELD);
	}
	type = info & INTR_INFO_INTR_TYPE_MASK;
	/*
	 * INT n, INT1, INT3, INTO in flight: RIP is still on the
	 * instruction (SDM Vol. 3C 27.2.4), which runs again.
	 */
	if ((info & INTR_INFO_VALID_MASK) &&
	    (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION ||
	     type == INTR_TYPE_PRIV_SW_EXCEPTION)) {
		vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
		info = 0;
	}
	h->info = info & (INTR_INFO_VALID_MASK | INTR_INFO_DELIVER_CODE_MASK |
			  INTR_INFO_INTR_TYPE_MASK | INTR_INFO_VECTOR_MASK);
	h->err = (info & INTR_INFO_DELIVER_CODE_MASK) ?
		 vmcs_read(VM_ENTRY_EXCEPTION_ERROR_CODE) : 0;
	intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	h->shadow = (intr & GUEST_INTR_STATE_STI ? VMXL_SHADOW_STI : 0) |
		    (intr & GUEST_INTR_STATE_MOV_SS ? VMXL_SHADOW_MOV_SS : 0);
	h->nmi_masked = intr & GUEST_INTR_STATE_NMI;
	vmx_put();
}

static void vmx_set_events(struct vmxl_vcpu *vcpu,
			   const struct vmxl_hw_events *h)
{
	u32 intr;

	vmx_get(vcpu);
	vcpu->db_pending = 0;		/* h->info has what is in flight */
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, h->info);
	vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, h->err);
	intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO) &
	       ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS |
		 GUEST_INTR_STATE_NMI);
	if (h->shadow & VMXL_SHADOW_STI)
		intr |= GUEST_INTR_STATE_STI;
	if (h->shadow & VMXL_SHADOW_MOV_SS)
		intr |= GUEST_INTR_STATE_MOV_SS;
	if (h->nmi_masked)
		intr |= GUEST_INTR_STATE_NMI;
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO, intr);
	vmx_put();
}

/* No event, no shadow, NMIs open, and no interrupt waiting for a window. */
static void vmx_cancel_events(struct vmxl_vcpu *vcpu)
{
	static const struct vmxl_hw_events none;
	struct vmx_vcpu *vv;

	vmx_set_events(vcpu, &none);
	vv = vmx_get(vcpu);
	vmx_set_proc(vv, vv->proc & ~(CPU_BASED_INTR_WINDOW_EXITING |
				      CPU_BASED_NMI_WINDOW_EXITING));
	vcpu->irq_pending = -1;
	vmx_put();
}

/* An event whose delivery the exit interrupted goes in again. */
static void vmx_requeue_event(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv,
			      u32 len)
{
	u32 idt = vmcs_read(IDT_VECTORING_INFO_FIELD);
	u32 type = idt & INTR_INFO_INTR_TYPE_MASK;
	u32 err = 0;

	if (!(idt & VECTORING_INFO_VALID_MASK))
		return;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, idt & ~INTR_INFO_UNBLOCK_NMI);
	if (idt & VECTORING_INFO_DELIVER_CODE_MASK) {
		err = vmcs_read(IDT_VECTORING_ERROR_CODE);
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, err);
	}
	trace_vmxl_inject(vcpu, VMXL_TRACE_INJ_REINJECT,
			  idt & VECTORING_INFO_VECTOR_MASK,
			  idt & VECTORING_INFO_DELIVER_CODE_MASK, err);
	if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION ||
	    type == INTR_TYPE_PRIV_SW_EXCEPTION)
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, len);
	/* The NMI did not get in, so it does not block NMIs yet. */
	if (type == INTR_TYPE_NMI_INTR)
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
			   vmcs_read(GUEST_INTERRUPTIBILITY_INFO) &
			   ~GUEST_INTR_STATE_NMI);
}

/* ---- entry ---- */

/* Host fields that differ between CPUs. */
static void vmx_set_host_percpu(struct vmx_vcpu *vv, int cpu)
{
	struct desc_ptr idt;
	u64 v;

	vmcs_write(HOST_CR0, read_cr0());
	vmcs_write(HOST_TR_BASE,
		   (unsigned long)&get_cpu_entry_area(cpu)->tss.x86_tss);
	vmcs_write(HOST_GDTR_BASE, (unsigned long)get_current_gdt_ro());
	store_idt(&idt);
	vmcs_write(HOST_IDTR_BASE, idt.address);
	rdmsrl(MSR_GS_BASE, v);
	vmcs_write(HOST_GS_BASE, v);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	vmcs_write(HOST_IA32_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vmcs_write(HOST_IA32_SYSENTER_ESP, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	vmcs_write(HOST_IA32_SYSENTER_EIP, v);
	vv->host_cpu = cpu;
}

/* PAE paging outside long mode: entry loads the PDPTEs from the VMCS. */
static void vmx_load_pdptrs(struct vmxl_vcpu *vcpu)
{
	u64 pdpte[4] = {};
	u64 cr3;

	if (!(vmcs_read(GUEST_CR0) & X86_CR0_PG) ||
	    !(vmcs_read(GUEST_CR4) & X86_CR4_PAE) ||
	    (vmcs_read(GUEST_IA32_EFER) & EFER_LMA))
		return;
	cr3 = vmcs_read(GUEST_CR3) & 0xffffffe0;
	/* Not RAM: zeros, "not present", as good as anything. */
	vmxl_read_gpa(vcpu->vm, cr3, pdpte, sizeof(pdpte));
	vmcs_write(GUEST_PDPTR0, pdpte[0]);
	vmcs_write(GUEST_PDPTR1, pdpte[1]);
	vmcs_write(GUEST_PDPTR2, pdpte[2]);
	vmcs_write(GUEST_PDPTR3, pdpte[3]);
}

/*
 * Hand what PML logged to the dirty log. The index counts down from
 * pml_top and wraps past 0 when the buffer is full. Bochs logs unaligned
 * addresses: the page is what counts.
 */
static void vmx_flush_pml(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv)
{
	u16 idx = vmcs_read(GUEST_PML_INDEX);
	unsigned int i;

	if (idx == vv->pml_top)
		return;
	i = idx >= PML_ENTRIES ? 0 : idx + 1;
	for (; i <= vv->pml_top; i++)
		vmxl_log_dirty_gpa(vcpu, vv->pml[i] & PAGE_MASK);
	vmcs_write(GUEST_PML_INDEX, vv->pml_top);
}

/*
 * A dirty ring must take every page PML logs before the next exit, so
 * the buffer is made no longer than the room left in the ring: when it
 * fills, a PML-full exit comes first and RUN stops at the full ring.
 */
static void vmx_pml_fit_ring(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv)
{
	u32 room = vmxl_dirty_ring_room(vcpu);	/* >= 1 while entering */
	u16 top = room >= PML_ENTRIES ? PML_ENTRIES - 1 : room - 1;

	if (top != vv->pml_top) {
		vv->pml_top = top;
		vmcs_write(GUEST_PML_INDEX, top);
	}
}

static void vmx_flush(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv)
{
	if (vmx_cfg.invept_single)
		ept_sync(VMX_EPT_EXTENT_CONTEXT, vmx_eptp(vcpu));
	else
		ept_sync(VMX_EPT_EXTENT_GLOBAL, 0);
	if (vv->vpid)
		vpid_sync(VMX_VPID_EXTENT_SINGLE_CONTEXT, vv->vpid);
}

/* Load the guest's SYSCALL MSRs where they differ from the host's. */
static void vmx_swap_msrs(struct vmx_vcpu *vv, bool to_guest)
{
	static const u32 msrs[] = {
		MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	};
	const u64 host[] = { host_star, host_lstar, host_cstar, host_sfmask };
	const u64 guest[] = { vv->star, vv->lstar, vv->cstar, vv->sfmask };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(msrs); i++)
		if (guest[i] != host[i])
			wrmsrl(msrs[i], to_guest ? guest[i] : host[i]);
}

static enum vmxl_exit_action vmx_handle_exit(struct vmxl_vcpu *vcpu,
					     const struct vmx_exit *e);

/*
 * VMLAUNCH/VMRESUME with interrupts off, and the host state the exit
 * does not restore. Returns the entry's failure (nonzero) or 0 with the
 * basic exit information in @e.
 */
static int vmx_enter(struct vmxl_vcpu *vcpu, struct vmx_vcpu *vv,
		     struct vmx_exit *e, int cpu, u64 fsbase,
		     u16 ds, u16 es, u16 fs, u16 gs)
{
	int fail;

	if (native_read_cr2() != vv->cr2)
		native_write_cr2(vv->cr2);
	/*
	 * Nor DR6 (SDM Vol. 3C 27.3.1, 28.3.1): the guest's is in the
	 * hardware while it runs, so that a #DB it takes there reports in
	 * it, and read back after. The host's is DR6_RESERVED outside its
	 * #DB handler (debug_read_clear_dr6()), as Linux keeps it.
	 */
	if (vv->dr6 != DR6_RESERVED)
		set_debugreg(vv->dr6, 6);
	fail = vmxl_vmx_enter(vcpu->regs, vv->launched);
	vv->cr2 = native_read_cr2();
	get_debugreg(vv->dr6, 6);
	if (vv->dr6 != DR6_RESERVED)
		set_debugreg(DR6_RESERVED, 6);

	/* VM exit loaded null selectors, a 0x67 TSS limit, a 64K GDT. */
	if (ds)
		loadsegment(ds, ds);
	if (es)
		loadsegment(es, es);
	if (fs) {
		loadsegment(fs, fs);
		x86_fsbase_write_cpu(fsbase);
	}
	if (gs)
		load_gs_index(gs);
	invalidate_tss_limit();
	load_fixmap_gdt(cpu);

	e->reason = fail ? 0 : vmcs_read(VM_EXIT_REASON);
	e->intr_info = 0;
	if (!fail && e->reason == EXIT_REASON_EXCEPTION_NMI) {
		e->intr_info = vmcs_read(VM_EXIT_INTR_INFO);
		/* The exit consumed a host NMI: hand it to the kernel now. */
		if ((e->intr_info & INTR_INFO_INTR_TYPE_MASK) ==
		    INTR_TYPE_NMI_INTR)
			vmxl_vmx_do_nmi();
	}
	return fail;
}

static enum vmxl_exit_action vmx_vcpu_run(struct vmxl_vcpu *vcpu)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);
	u64 tlb_gen = atomic64_read(&vcpu->vm->tlb_gen);
	u64 host_xcr0, host_kgs, host_debugctl, fsbase, dr7;
	u16 ds, es, fs, gs;
	struct vmx_exit e;
	int cpu, fail = 0;
	bool aborted;

	vmx_get(vcpu);
	cpu = smp_processor_id();
	if (vv->host_cpu != cpu)
		vmx_set_host_percpu(vv, cpu);
	vmcs_write(HOST_CR3, __read_cr3());
	vmcs_write(HOST_CR4, cr4_read_shadow());
	fsbase = x86_fsbase_read_cpu();
	vmcs_write(HOST_FS_BASE, fsbase);

	if (vmx_cfg.slice)
		vmcs_write(VMX_PREEMPTION_TIMER_VALUE, vmx_cfg.slice);
	vmcs_write(GUEST_RSP, vcpu->regs[4]);
	vmcs_write(GUEST_RIP, vcpu->rip);
	vmcs_write(GUEST_RFLAGS, vcpu->rflags);
	vmx_prepare_events(vcpu, vv);
	if (vv->pml)
		vmx_pml_fit_ring(vcpu, vv);

	/* New CPU, new nested tables, or new guest paging: flush. */
	if (vv->flush || vcpu->cpu != cpu || vcpu->tlb_gen != tlb_gen) {
		vmx_flush(vcpu, vv);
		vv->flush = false;
		vcpu->tlb_gen = tlb_gen;
		WRITE_ONCE(vcpu->cpu, cpu);
	}
	if (vv->load_pdptrs) {
		vmx_load_pdptrs(vcpu);
		vv->load_pdptrs = false;
	}

	host_xcr0 = vmxl_load_guest_fpu(vcpu);
	rdmsrl(MSR_KERNEL_GS_BASE, host_kgs);
	wrmsrl(MSR_KERNEL_GS_BASE, vv->kernel_gs_base);
	vmx_swap_msrs(vv, true);
	/* DR0-3 matter to the guest only while its DR7 enables them. */
	dr7 = vmcs_read(GUEST_DR7);
	if (dr7 & 0xff) {
		set_debugreg(vcpu->db[0], 0);
		set_debugreg(vcpu->db[1], 1);
		set_debugreg(vcpu->db[2], 2);
		set_debugreg(vcpu->db[3], 3);
	}
	host_debugctl = get_debugctlmsr();
	savesegment(ds, ds);
	savesegment(es, es);
	savesegment(fs, fs);
	savesegment(gs, gs);

	atomic_set(&vcpu->mode, VMXL_IN_GUEST);
	/*
	 * Publish IN_GUEST before entering, for vm_kick_all(). With IRQs
	 * off, a kick that lands before VMLAUNCH stays pending and makes
	 * the entry exit at once (external-interrupt exiting).
	 */
	smp_mb();
	local_irq_disable();
	aborted = vmxl_entry_abort(vcpu);
	if (!aborted)
		fail = vmx_enter(vcpu, vv, &e, cpu, fsbase, ds, es, fs, gs);
	local_irq_enable();
	atomic_set(&vcpu->mode, VMXL_OUTSIDE_GUEST);

	if (host_debugctl)
		update_debugctlmsr(host_debugctl);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	vmx_swap_msrs(vv, false);
	rdmsrl(MSR_KERNEL_GS_BASE, vv->kernel_gs_base);
	wrmsrl(MSR_KERNEL_GS_BASE, host_kgs);
	vmxl_put_guest_fpu(vcpu, host_xcr0);
	if (aborted) {		/* nothing ran: the VMCS is as we wrote it */
		vmx_put();
		return VMXL_EXIT_RESUME;
	}

	if (fail) {
		u64 err = vmcs_read(VM_INSTRUCTION_ERROR);

		vmx_put();
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_ENTRY_FAILED,
					   err, 0);
	}
	vv->launched = true;
	vcpu->regs[4] = vmcs_read(GUEST_RSP);
	vcpu->rip = vmcs_read(GUEST_RIP);
	vcpu->rflags = vmcs_read(GUEST_RFLAGS);
	vcpu->dr7 = vmcs_read(GUEST_DR7);
	e.qual = vmcs_read(EXIT_QUALIFICATION);
	e.insn_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
	e.insn_info = vmcs_read(VMX_INSTRUCTION_INFO);
	e.gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	vmx_requeue_event(vcpu, vv, e.insn_len);
	if (vv->pml)
		vmx_flush_pml(vcpu, vv);
	vmx_put();

	return vmx_handle_exit(vcpu, &e);
}

/* ---- exit handlers: VMCS current (vmx_get) unless said otherwise ---- */

static bool vmx_long64(void);

/* vmx_long64() for vmxl_next_rip() and friends, which ask only if needed. */
static bool vmx_vcpu_long64(struct vmxl_vcpu *vcpu)
{
	return vmx_long64();
}

/*
 * Step over the instruction that exited. Debug exceptions a MOV SS or POP
 * SS before it held back (the pending debug exceptions field, SDM Vol. 3C
 * 25.4.2, 27.3.4) are due at the boundary after it, where they merge
 * with its own single-step trap into one #DB (SDM Vol. 3A 6.8.3).
 */
static void vmx_skip(struct vmxl_vcpu *vcpu, const struct vmx_exit *e)
{
	u64 pend = vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS);

	vcpu->rip = vmxl_next_rip(vcpu, e->insn_len, vmx_vcpu_long64);
	vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
		   vmcs_read(GUEST_INTERRUPTIBILITY_INFO) &
		   ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
	if (pend) {
		vcpu->db_pending |= pend & (VMXL_DR6_TRAPS | VMXL_DR6_BS);
		vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	}
	vmxl_insn_retired(vcpu);
}

static bool vmx_long64(void)
{
	return (vmcs_read(GUEST_IA32_EFER) & EFER_LMA) &&
	       (vmcs_read(GUEST_CS_AR_BYTES) & BIT(13));
}

/* CPL is SS.DPL (SDM Vol. 3C 26.3.1.5): 0 in real mode, 3 in virtual-8086. */
static unsigned int vmx_cpl(void)
{
	if (!(vmcs_read(GUEST_CR0) & X86_CR0_PE))
		return 0;
	return (vmcs_read(GUEST_SS_AR_BYTES) >> 5) & 3;
}

static enum vmxl_cpu_mode vmx_cpu_mode(struct vmxl_vcpu *vcpu)
{
	if (!(vmcs_read(GUEST_CR0) & X86_CR0_PE) ||
	    (vcpu->rflags & X86_EFLAGS_VM))
		return VMXL_MODE_REAL;
	if (vmx_long64())
		return VMXL_MODE_LONG64;
	return (vmcs_read(GUEST_CS_AR_BYTES) & BIT(14)) ? VMXL_MODE_PROT32 :
							 VMXL_MODE_PROT16;
}

static int vmx_read_gpa(void *opaque, u64 gpa, void *buf, unsigned int len)
{
	return vmxl_read_gpa(opaque, gpa, buf, len);
}

static void vmx_walk_ctx(struct vmxl_vcpu *vcpu, struct vmxl_walk_ctx *w)
{
	w->cr0 = vmcs_read(GUEST_CR0);
	w->cr3 = vmcs_read(GUEST_CR3);
	w->cr4 = vmcs_read(GUEST_CR4);
	w->efer = vmcs_read(GUEST_IA32_EFER);
	w->read_gpa = vmx_read_gpa;
	w->opaque = vcpu->vm;
}

#define CR0_VALID	0xe005003fULL	/* PE MP EM TS ET NE WP AM NW CD PG */

/* MOV to CR0 changing PG or NE. 0, or nonzero to inject #GP. */
static int vmx_set_cr0(struct vmxl_vcpu *vcpu, u64 cr0)
{
	u64 old = vmx_guest_cr0(), efer = vmcs_read(GUEST_IA32_EFER);

	cr0 |= X86_CR0_ET;
	/*
	 * 64-bit mode cannot turn paging off (SDM Vol. 2A, MOV to CR0, 64-bit
	 * mode exceptions); compatibility mode can, and leaves long mode.
	 */
	if (!(cr0 & X86_CR0_PG) && vmx_long64())
		return -EINVAL;
	if ((cr0 & ~CR0_VALID) ||
	    ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE)) ||
	    ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD)))
		return -EINVAL;
	/* Paging on with LME set enters long mode; off leaves it. */
	if ((cr0 & X86_CR0_PG) && !(old & X86_CR0_PG) && (efer & EFER_LME)) {
		if (!(vmx_guest_cr4() & X86_CR4_PAE))
			return -EINVAL;
		vmx_write_efer(efer | EFER_LMA);
	} else if (!(cr0 & X86_CR0_PG) && (efer & EFER_LMA)) {
		vmx_write_efer(efer & ~(u64)EFER_LMA);
	}
	vmx_write_cr0(to_vmx(vcpu), cr0);
	return 0;
}

static int vmx_set_cr4(struct vmxl_vcpu *vcpu, u64 cr4)
{
	u64 ok = __read_cr4() | X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD |
		 X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE |
		 X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	/* Nor what the vCPU's CPUID hides (no VMX, no XSAVE by default). */
	ok &= ~(u64)(X86_CR4_VMXE | X86_CR4_OSXSAVE) & ~vmxl_cr4_hidden(vcpu);
	if ((cr4 & ~ok) ||
	    ((vmcs_read(GUEST_IA32_EFER) & EFER_LMA) && !(cr4 & X86_CR4_PAE)))
		return -EINVAL;
	vmx_write_cr4(to_vmx(vcpu), cr4);
	return 0;
}

static enum vmxl_exit_action vmx_handle_cr(struct vmxl_vcpu *vcpu,
					   const struct vmx_exit *e)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);
	unsigned int cr = e->qual & 15, reg = (e->qual >> 8) & 15;
	u64 val = vcpu->regs[reg], cr0;
	int ret = 0;

	if (!vmx_long64())
		val = (u32)val;
	switch ((e->qual >> 4) & 3) {
	case 0:		/* MOV to CR */
		if (cr == 0) {
			ret = vmx_set_cr0(vcpu, val);
		} else if (cr == 4) {
			ret = vmx_set_cr4(vcpu, val);
		} else if (cr == 8 && !(val & ~0xfULL)) {
			if (vcpu->lapic)
				vmxl_lapic_set_cr8(vcpu, val);
			else
				vv->cr8 = val;
		} else if (cr == 3) {	/* only where CR3 exiting is forced */
			vmcs_write(GUEST_CR3, val);
			vv->load_pdptrs = true;
			vv->flush = true;
		} else {
			ret = -EINVAL;
		}
		break;
	case 1:		/* MOV from CR */
		if (cr == 8)
			vcpu->regs[reg] = vcpu->lapic ? vmxl_lapic_cr8(vcpu) :
							vv->cr8;
		else if (cr == 3)
			vcpu->regs[reg] = vmcs_read(GUEST_CR3);
		break;
	case 2:		/* CLTS */
		ret = vmx_set_cr0(vcpu, vmx_guest_cr0() & ~(u64)X86_CR0_TS);
		break;
	case 3:		/* LMSW: the low four bits; PE cannot be cleared */
		cr0 = vmx_guest_cr0();
		ret = vmx_set_cr0(vcpu, (cr0 & ~0xfULL) | (cr0 & X86_CR0_PE) |
				  ((e->qual >> 16) & 0xf));
		break;
	}
	if (ret)
		vmx_inject_exception(vcpu, X86_TRAP_GP, true, 0);
	else
		vmx_skip(vcpu, e);
	return VMXL_EXIT_RESUME;
}

/* MOV DR: the guest's debug registers live here, not in hardware. */
static enum vmxl_exit_action vmx_handle_dr(struct vmxl_vcpu *vcpu,
					   const struct vmx_exit *e)
{
	struct vmx_vcpu *vv = to_vmx(vcpu);
	unsigned int dr = e->qual & 7, reg = (e->qual >> 8) & 15;
	bool from = e->qual & BIT(4);
	u64 val = vcpu->regs[reg];

	if (!vmx_long64())
		val = (u32)val;
	/*
	 * MOV-DR exits go before the #GP for CPL > 0 and the #UD for DR4/DR5
	 * (SDM Vol. 3C 26.1.3), so both are raised here; and before the
	 * general-detect #DB (DR7.GD, SDM Vol. 3B 17.2.4): a fault, RIP on
	 * the MOV, DR6.BD. In KVM's order: CPL, GD, then DR4/DR5.
	 */
	if (vmx_cpl()) {
		vmx_inject_exception(vcpu, X86_TRAP_GP, true, 0);
		return VMXL_EXIT_RESUME;
	}
	if (vmcs_read(GUEST_DR7) & VMXL_DR7_GD) {
		vmx_deliver_db(vcpu, VMXL_DR6_BD);
		return VMXL_EXIT_RESUME;
	}
	if (dr == 4 || dr == 5) {
		if (vmx_guest_cr4() & X86_CR4_DE) {
			vmx_inject_exception(vcpu, X86_TRAP_UD, false, 0);
			return VMXL_EXIT_RESUME;
		}
		dr += 2;
	}
	if (from) {
		if (dr < 4)
			val = vcpu->db[dr];
		else if (dr == 6)
			val = vv->dr6;
		else
			val = vmcs_read(GUEST_DR7);
		vcpu->regs[reg] = val;
	} else if (dr < 4) {
		vcpu->db[dr] = val;
	} else if ((dr == 6 || dr == 7) && (val >> 32)) {
		vmx_inject_exception(vcpu, X86_TRAP_GP, true, 0);
		return VMXL_EXIT_RESUME;
	} else if (dr == 6) {
		vv->dr6 = vmxl_dr6_fixed(val);
	} else {
		vmcs_write(GUEST_DR7, vmxl_dr7_fixed(val));
	}
	vmx_skip(vcpu, e);
	return VMXL_EXIT_RESUME;
}

static enum vmxl_exit_action vmx_handle_io(struct vmxl_vcpu *vcpu,
					   const struct vmx_exit *e)
{
	static const u32 seg_base[] = {
		GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE,
		GUEST_DS_BASE, GUEST_FS_BASE, GUEST_GS_BASE,
	};
	struct vmxl_io_info io = {
		.port = e->qual >> 16,
		.size = (e->qual & 7) + 1,
		.in = e->qual & BIT(3),
		.string = !!(e->qual & BIT(4)),
		.rep = !!(e->qual & BIT(5)),
		.next_rip = vcpu->rip + e->insn_len,
		.cr4 = vmx_guest_cr4(),
	};
	unsigned int seg;

	if (io.string) {
		/* Without the hardware's operand description, give up. */
		if (!vmx_cfg.ins_outs_info)
			return vmxl_internal_error(vcpu,
					VMXL_INTERNAL_EMULATION,
					EXIT_REASON_IO_INSTRUCTION, e->qual);
		vmx_walk_ctx(vcpu, &io.walk);
		io.addr_size = 2 << ((e->insn_info >> 7) & 7);
		seg = io.in ? 0 : (e->insn_info >> 15) & 7;
		if (seg >= ARRAY_SIZE(seg_base))
			seg = 3;
		io.seg_base = vmcs_read(seg_base[seg]);
		/* Long mode ignores the bases of ES, CS, SS and DS. */
		if (vmx_long64() && seg < 4)
			io.seg_base = 0;
	}
	return vmxl_io_exit(vcpu, &io);
}

/* EPT violation: RAM gets mapped, anything else is MMIO. Preemptible. */
static enum vmxl_exit_action vmx_handle_ept(struct vmxl_vcpu *vcpu,
					    const struct vmx_exit *e)
{
	bool write = e->qual & EPT_VIOLATION_ACC_WRITE;
	enum vmxl_exit_action act;
	enum vmxl_cpu_mode mode;
	struct vmxl_walk_ctx w;
	u64 lin, pend;
	u32 intr;

	/* An IRET unblocked NMIs, then faulted: block them again. */
	if (e->qual & INTR_INFO_UNBLOCK_NMI) {
		vmx_get(vcpu);
		if (!(vmcs_read(IDT_VECTORING_INFO_FIELD) &
		      VECTORING_INFO_VALID_MASK))
			vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
				   vmcs_read(GUEST_INTERRUPTIBILITY_INFO) |
				   GUEST_INTR_STATE_NMI);
		vmx_put();
	}
	/*
	 * The access faulted, so the instruction did not execute: the only
	 * debug exceptions pending are those a MOV SS or STI shadow held
	 * back (SDM Vol. 3C 28.3.4). Bochs 2.7 saves the faulting
	 * instruction's own single-step trap too and delivers it at the
	 * next entry, before the instruction ran: dropped here.
	 */
	vmx_get(vcpu);
	intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	pend = vmcs_read(GUEST_PENDING_DBG_EXCEPTIONS);
	if (pend && !(intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)))
		vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmx_put();
	if (vmxl_gpa_is_ram(vcpu->vm, e->gpa, write)) {
		if (vmxl_handle_ram_fault(vcpu, e->gpa, write))
			return vmxl_internal_error(vcpu,
					VMXL_INTERNAL_UNEXPECTED_EXIT,
					EXIT_REASON_EPT_VIOLATION, e->gpa);
		return VMXL_EXIT_RESUME;
	}
	/* Page tables or code outside RAM: nothing a device model can do. */
	if ((e->qual & EPT_VIOLATION_ACC_INSTR) ||
	    ((e->qual & EPT_VIOLATION_GVA_IS_VALID) &&
	     !(e->qual & EPT_VIOLATION_GVA_TRANSLATED)))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   e->gpa, e->qual);
	vmx_get(vcpu);
	vmx_walk_ctx(vcpu, &w);
	mode = vmx_cpu_mode(vcpu);
	lin = vmcs_read(GUEST_CS_BASE) + vcpu->rip;
	/*
	 * The module completes the instruction: its shadow ends, and what
	 * the shadow held back is due after it, as in vmx_skip().
	 */
	if (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) {
		vcpu->db_pending |= pend & (VMXL_DR6_TRAPS | VMXL_DR6_BS);
		vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO,
			   intr & ~(GUEST_INTR_STATE_STI |
				    GUEST_INTR_STATE_MOV_SS));
	}
	vmx_put();
	act = vmxl_mmio_exit(vcpu, &w, lin, mode, e->gpa);
	return act;
}

/*
 * Dispatch an exit, counting it (enum vmxl_stat) where it is handled.
 * VMCS current, preemption off: every exit but an EPT violation.
 */
static enum vmxl_exit_action vmx_dispatch(struct vmxl_vcpu *vcpu,
					  const struct vmx_exit *e)
{
	struct vmxl_run *run = vcpu->run;

	switch (e->reason) {
	case EXIT_REASON_EXCEPTION_NMI:	/* only NMIs: no exception exits */
		vmxl_count_exit(vcpu, VMXL_STAT_HOST_INTR);
		if ((e->intr_info & INTR_INFO_INTR_TYPE_MASK) ==
		    INTR_TYPE_NMI_INTR)
			return VMXL_EXIT_RESUME;	/* the host's, handled */
		break;
	case EXIT_REASON_EXTERNAL_INTERRUPT:
		vmxl_count_exit(vcpu, VMXL_STAT_HOST_INTR);
		return VMXL_EXIT_RESUME;	/* the host took it at IRQ-on */
	case EXIT_REASON_PREEMPTION_TIMER:
		vmxl_count_exit(vcpu, VMXL_STAT_HOST_INTR);
		return VMXL_EXIT_RESUME;	/* time slice over, see above */
	case EXIT_REASON_PML_FULL:
		vmxl_count_exit(vcpu, VMXL_STAT_NPF);
		return VMXL_EXIT_RESUME;	/* emptied on the way out */
	case EXIT_REASON_TRIPLE_FAULT:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		run->exit_reason = VMXL_EXIT_SHUTDOWN;
		return VMXL_EXIT_USER;
	case EXIT_REASON_INTERRUPT_WINDOW:
		vmxl_count_exit(vcpu, VMXL_STAT_WINDOW);
		vmx_set_proc(to_vmx(vcpu), to_vmx(vcpu)->proc &
			     ~CPU_BASED_INTR_WINDOW_EXITING);
		if (!run->request_interrupt_window)
			return VMXL_EXIT_RESUME;
		run->exit_reason = VMXL_EXIT_IRQ_WINDOW_OPEN;
		return VMXL_EXIT_USER;
	case EXIT_REASON_NMI_WINDOW:
		vmxl_count_exit(vcpu, VMXL_STAT_WINDOW);
		vmx_set_proc(to_vmx(vcpu), to_vmx(vcpu)->proc &
			     ~CPU_BASED_NMI_WINDOW_EXITING);
		return VMXL_EXIT_RESUME;
	case EXIT_REASON_CPUID:
		vmxl_count_exit(vcpu, VMXL_STAT_CPUID);
		vmxl_emulate_cpuid(vcpu);
		vmx_skip(vcpu, e);
		return VMXL_EXIT_RESUME;
	case EXIT_REASON_HLT:
		vmxl_count_exit(vcpu, VMXL_STAT_HLT);
		vmx_skip(vcpu, e);
		return vmxl_halt(vcpu);
	case EXIT_REASON_PAUSE_INSTRUCTION:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		/*
		 * A PAUSE loop longer than PLE_WINDOW: let another thread,
		 * maybe the vCPU this one waits for, have the CPU. The
		 * instruction is not skipped: the loop goes on afterwards.
		 */
		vmx_put();
		yield();
		vmx_get(vcpu);
		return VMXL_EXIT_RESUME;
	case EXIT_REASON_INVD:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		vmx_skip(vcpu, e);	/* caches are the host's business */
		return VMXL_EXIT_RESUME;
	case EXIT_REASON_VMCALL:
		vmxl_count_exit(vcpu, VMXL_STAT_HYPERCALL);
		if (vcpu->switch_floor)
			return VMXL_EXIT_FLOOR;
		if (vmxl_hypercall_past_canonical(vcpu, e->insn_len,
						  vmx_vcpu_long64)) {
			vmx_inject_exception(vcpu, X86_TRAP_GP, true, 0);
			return VMXL_EXIT_RESUME;
		}
		vmx_skip(vcpu, e);
		return vmxl_hypercall_exit(vcpu);
	case EXIT_REASON_CR_ACCESS:
		vmxl_count_exit(vcpu, VMXL_STAT_CR_DR);
		return vmx_handle_cr(vcpu, e);
	case EXIT_REASON_DR_ACCESS:
		vmxl_count_exit(vcpu, VMXL_STAT_CR_DR);
		return vmx_handle_dr(vcpu, e);
	case EXIT_REASON_IO_INSTRUCTION:
		vmxl_count_exit(vcpu, VMXL_STAT_IO);
		return vmx_handle_io(vcpu, e);
	case EXIT_REASON_MSR_READ:
	case EXIT_REASON_MSR_WRITE:
		vmxl_count_exit(vcpu, VMXL_STAT_MSR);
		if (vmxl_msr_exit(vcpu, e->reason == EXIT_REASON_MSR_WRITE))
			vmx_inject_exception(vcpu, X86_TRAP_GP, true, 0);
		else
			vmx_skip(vcpu, e);
		return VMXL_EXIT_RESUME;
	case EXIT_REASON_GETSEC:
	case EXIT_REASON_VMCLEAR ... EXIT_REASON_VMON:
	case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID:
	case EXIT_REASON_VMFUNC:
	case EXIT_REASON_MWAIT_INSTRUCTION:
	case EXIT_REASON_MONITOR_INSTRUCTION:
	case EXIT_REASON_XSETBV:
	case EXIT_REASON_RDTSCP:
	case EXIT_REASON_ENCLS:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		/* Not offered in CPUID: behave like a CPU without them. */
		vmx_inject_exception(vcpu, X86_TRAP_UD, false, 0);
		return VMXL_EXIT_RESUME;
	case EXIT_REASON_EPT_MISCONFIG:
		/* The module writes no misconfigured entry: a bug of ours. */
		vmxl_count_exit(vcpu, VMXL_STAT_NPF);
		break;
	default:
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
	}
	return vmxl_internal_error(vcpu, VMXL_INTERNAL_UNEXPECTED_EXIT,
				   e->reason, e->qual);
}

static enum vmxl_exit_action vmx_handle_exit(struct vmxl_vcpu *vcpu,
					     const struct vmx_exit *e)
{
	struct vmxl_run *run = vcpu->run;
	enum vmxl_exit_action act;

	vcpu->exit_raw = e->reason;
	vcpu->exit_qual = e->qual;
	if (e->reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
		vmxl_count_exit(vcpu, VMXL_STAT_OTHER);
		memset(&run->fail_entry, 0, sizeof(run->fail_entry));
		run->exit_reason = VMXL_EXIT_FAIL_ENTRY;
		run->fail_entry.hardware_reason = e->reason;
		run->fail_entry.cpu = vcpu->cpu;
		run->fail_entry.detail = e->qual;
		return VMXL_EXIT_USER;
	}
	/*
	 * Preemptible, without the VMCS: mapping RAM takes mmu.lock, which
	 * sleeps; the MMIO path takes the VMCS for what it reads.
	 */
	if (e->reason == EXIT_REASON_EPT_VIOLATION) {
		vmxl_count_exit(vcpu, VMXL_STAT_NPF);
		return vmx_handle_ept(vcpu, e);
	}
	vmx_get(vcpu);
	act = vmx_dispatch(vcpu, e);
	vmx_put();
	return act;
}

/* EPT entries: read/write/execute bits, write-back memory. */
static struct vmxl_mmu_fmt vmx_mmu_fmt = {
	.table		= VMX_EPT_RWX_MASK,
	.leaf_rw	= VMX_EPT_RWX_MASK |
			  (VMX_EPTP_MT_WB << VMX_EPT_MT_EPTE_SHIFT),
	.leaf_ro	= VMX_EPT_READABLE_MASK | VMX_EPT_EXECUTABLE_MASK |
			  (VMX_EPTP_MT_WB << VMX_EPT_MT_EPTE_SHIFT),
	.present_mask	= VMX_EPT_RWX_MASK,
};

const struct vmxl_backend vmxl_vmx_backend = {
	.name		= "vmx",
	.id		= VMXL_BACKEND_VMX,
	.mmu_fmt	= &vmx_mmu_fmt,
	.probe		= vmx_probe,
	.init		= vmx_init,
	.fini		= vmx_fini,
	.cpu_enable	= vmx_cpu_enable,
	.cpu_disable	= vmx_cpu_disable,
	.vcpu_create	= vmx_vcpu_create,
	.vcpu_destroy	= vmx_vcpu_destroy,
	.vcpu_run	= vmx_vcpu_run,
	.get_sregs	= vmx_get_sregs,
	.set_sregs	= vmx_set_sregs,
	.get_msr	= vmx_get_msr,
	.set_msr	= vmx_set_msr,
	.interruptible	= vmx_interruptible,
	.cancel_events	= vmx_cancel_events,
	.get_dr67	= vmx_get_dr67,
	.set_dr67	= vmx_set_dr67,
	.set_tsc_offset	= vmx_set_tsc_offset,
	.get_events	= vmx_get_events,
	.set_events	= vmx_set_events,
};
