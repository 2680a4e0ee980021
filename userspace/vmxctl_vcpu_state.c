// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: a vCPU's whole state (registers, segment and control
 * registers, FPU, the MSRs vmx-lite owns, CPUID), read and set in one
 * go for snapshots and `regs`.
 */
#include <errno.h>
#include <string.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

const uint32_t vmxctl_msr_list[] = {
	0xc0000080,				/* EFER */
	0x277,					/* PAT */
	0x10,					/* TSC */
	0x174, 0x175, 0x176,			/* SYSENTER_CS/ESP/EIP */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR.. SFMASK */
	0xc0000100, 0xc0000101, 0xc0000102,	/* FS/GS/KERNEL_GS_BASE */
	0x1b,					/* APIC_BASE */
	0x1a0,					/* MISC_ENABLE */
	0x2ff,					/* MTRRdefType */
	0x250, 0x258, 0x259,			/* fixed MTRRs */
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* variable */
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};
const unsigned int vmxctl_nr_msr_list = ARRAY_SIZE(vmxctl_msr_list);
_Static_assert(ARRAY_SIZE(vmxctl_msr_list) <= VMXCTL_MAX_MSRS,
	       "vmxctl_vcpu_state holds every MSR");

int vmxctl_get_vcpu_state(struct vmxctl_machine *m, unsigned int cpu,
			  struct vmxctl_vcpu_state *st)
{
	uint32_t nent = VMXL_MAX_CPUID_ENTRIES;
	unsigned int i;
	int fd, ret;

	if (cpu >= m->nr_vcpus)
		return -EINVAL;
	fd = m->vcpus[cpu].fd;
	memset(st, 0, sizeof(*st));
	ret = vmxlite_get_regs(fd, &st->regs);
	if (!ret)
		ret = vmxlite_get_sregs(fd, &st->sregs);
	if (!ret)
		ret = vmxlite_get_fpu(fd, &st->fpu);
	if (ret)
		return ret;
	for (i = 0; i < vmxctl_nr_msr_list; i++)
		st->msrs[i].index = vmxctl_msr_list[i];
	ret = vmxlite_get_msrs(fd, st->msrs, vmxctl_nr_msr_list);
	if (ret < 0)
		return ret;
	if ((unsigned int)ret != vmxctl_nr_msr_list)
		return -EINVAL;
	st->nmsrs = ret;
	ret = vmxlite_get_cpuid(fd, st->cpuid, &nent);
	if (ret)
		return ret;
	st->ncpuid = nent;
	return 0;
}

int vmxctl_set_vcpu_state(struct vmxctl_machine *m, unsigned int cpu,
			  const struct vmxctl_vcpu_state *st)
{
	int fd, ret;

	if (cpu >= m->nr_vcpus || st->nmsrs > VMXCTL_MAX_MSRS ||
	    st->ncpuid > VMXL_MAX_CPUID_ENTRIES)
		return -EINVAL;
	fd = m->vcpus[cpu].fd;
	ret = vmxlite_set_cpuid(fd, st->cpuid, st->ncpuid);
	if (!ret)
		ret = vmxlite_set_sregs(fd, &st->sregs);
	if (ret)
		return ret;
	ret = vmxlite_set_msrs(fd, st->msrs, st->nmsrs);
	if (ret < 0)
		return ret;
	if ((uint32_t)ret != st->nmsrs)
		return -EINVAL;
	ret = vmxlite_set_fpu(fd, &st->fpu);
	if (!ret)
		ret = vmxlite_set_regs(fd, &st->regs);
	if (!ret)
		m->vcpus[cpu].settled = true;
	return ret;
}
