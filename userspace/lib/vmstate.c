// SPDX-License-Identifier: GPL-2.0
/*
 * A VM's OS-level state to and from a snapshot's structs (vmstate.h).
 */
#include "libvmxlite.h"
#include "vmstate.h"

int vmstate_get_os(int vcpu_fd, bool lapic, struct snap_vcpu *v,
		   const char **what)
{
	int ret;

	*what = "VMXL_GET_VCPU_EVENTS";
	ret = vmxlite_get_vcpu_events(vcpu_fd, &v->events);
	if (!ret) {
		*what = "VMXL_GET_DEBUGREGS";
		ret = vmxlite_get_debugregs(vcpu_fd, &v->debugregs);
	}
	if (!ret && lapic) {
		v->os_flags |= SNAP_VCPU_OS_LAPIC;
		*what = "VMXL_GET_LAPIC";
		ret = vmxlite_get_lapic(vcpu_fd, &v->lapic);
		if (!ret) {
			*what = "VMXL_GET_MP_STATE";
			ret = vmxlite_get_mp_state(vcpu_fd, &v->mp.state);
		}
	}
	return ret;
}

/*
 * The order: the VM's TSC first, one basis for all vCPUs (per-vCPU
 * IA32_TSC writes would leave them apart by the time between them);
 * then per vCPU the local APIC (its timer deadline is in guest TSC
 * units: a deadline that passed while the VM was saved fires once at
 * the first entry), the debug registers, the events (an injected
 * interrupt needs the APIC's and RFLAGS' state first) and last the MP
 * state. The caller's devices come after all of it, so that an
 * interrupt a restored device raises again lands in a restored APIC.
 */
int vmstate_restore_os(int vm_fd, const int *vcpu_fd,
		       const struct snap_machine *m,
		       const struct snap_vcpu *vcpus, uint32_t nr_vcpus,
		       int *cpu, const char **what)
{
	int ret = 0;

	*cpu = -1;
	*what = "VMXL_SET_CLOCK";
	if (m->flags & SNAP_MACHINE_F_CLOCK) {
		ret = vmxlite_set_clock(vm_fd, &m->clock);
		if (ret)
			return ret;
	}
	for (uint32_t i = 0; i < nr_vcpus && !ret; i++) {
		const struct snap_vcpu *v = &vcpus[i];
		int fd = vcpu_fd[i];

		*cpu = i;
		if (v->os_flags & SNAP_VCPU_OS_LAPIC) {
			*what = "VMXL_SET_LAPIC";
			ret = vmxlite_set_lapic(fd, &v->lapic);
		}
		if (!ret) {
			*what = "VMXL_SET_DEBUGREGS";
			ret = vmxlite_set_debugregs(fd, &v->debugregs);
		}
		if (!ret) {
			*what = "VMXL_SET_VCPU_EVENTS";
			ret = vmxlite_set_vcpu_events(fd, &v->events);
		}
		if (!ret && (v->os_flags & SNAP_VCPU_OS_LAPIC)) {
			*what = "VMXL_SET_MP_STATE";
			ret = vmxlite_set_mp_state(fd, v->mp.state);
		}
	}
	return ret;
}
