// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite Intel VMX backend.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": vmx: " fmt

#include <linux/kernel.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/vmx.h>

#include "vmxl.h"

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
	bool true_ctls;
	u64 feat_ctl;

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

	if (secondary & SECONDARY_EXEC_ENABLE_EPT)
		caps->features |= VMXL_FEAT_EPT;
	if (secondary & SECONDARY_EXEC_ENABLE_VPID)
		caps->features |= VMXL_FEAT_VPID;
	if (secondary & SECONDARY_EXEC_UNRESTRICTED_GUEST)
		caps->features |= VMXL_FEAT_UNRESTRICTED_GUEST;
	if (secondary & SECONDARY_EXEC_ENABLE_PML)
		caps->features |= VMXL_FEAT_PML;
	if ((caps->features & VMXL_FEAT_EPT) &&
	    (caps->vmx_ept_vpid_cap & VMX_EPT_AD_BIT))
		caps->features |= VMXL_FEAT_EPT_AD;
	if (pinbased & PIN_BASED_VMX_PREEMPTION_TIMER)
		caps->features |= VMXL_FEAT_PREEMPTION_TIMER;

	if (!(caps->features & VMXL_FEAT_EPT) ||
	    !(caps->vmx_ept_vpid_cap & VMX_EPT_PAGE_WALK_4_BIT) ||
	    !(caps->vmx_ept_vpid_cap & VMX_EPTP_WB_BIT)) {
		caps->backend_status = VMXL_STATUS_NO_NESTED_PAGING;
		return -EOPNOTSUPP;
	}
	/* Guests start in real mode; without this they could not run. */
	if (!(caps->features & VMXL_FEAT_UNRESTRICTED_GUEST)) {
		caps->backend_status = VMXL_STATUS_UNSUPPORTED;
		return -EOPNOTSUPP;
	}
	return 0;
}

const struct vmxl_backend vmxl_vmx_backend = {
	.name	= "vmx",
	.id	= VMXL_BACKEND_VMX,
	.probe	= vmx_probe,
};
