/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an operating system leaves in a VM beyond its vCPUs' registers,
 * between the kernel and a snapshot (docs/snapshot-format.md): read per
 * vCPU, and put back in the order a restore needs. vmxctl's snapshots
 * and restores and the selftests that restore snapshot files share it,
 * so the tests exercise the order vmxctl uses.
 */
#ifndef VMXL_VMSTATE_H
#define VMXL_VMSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"

/*
 * Into @v: the events and debug registers and, with @lapic (the VM has
 * the in-kernel local APIC), the APIC with its timer and the MP state,
 * setting SNAP_VCPU_OS_LAPIC. 0 or -errno, *@what naming the ioctl that
 * failed.
 */
int vmstate_get_os(int vcpu_fd, bool lapic, struct snap_vcpu *v,
		   const char **what);

/*
 * After every vCPU's registers and MSRs: the VM's TSC (@m's clock, when
 * it holds one), then per vCPU the APIC, the debug registers, the events
 * and last the MP state. 0 or -errno; *@cpu (-1: the VM's clock) and
 * *@what say which step failed.
 */
int vmstate_restore_os(int vm_fd, const int *vcpu_fd,
		       const struct snap_machine *m,
		       const struct snap_vcpu *vcpus, uint32_t nr_vcpus,
		       int *cpu, const char **what);

#endif
