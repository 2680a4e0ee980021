/* SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0 */
/*
 * libvmxlite: thin C wrappers over the vmx-lite ioctls
 * (uapi/linux/vmx_lite.h, docs/uapi.md). No policy and no printing:
 * every function returns 0 (or the ioctl's non-negative result: an fd,
 * a count, an id) on success and -errno on failure; errno is left as the
 * ioctl set it. File descriptors are the caller's to close.
 *
 * Link with -lvmxlite (pkg-config vmxlite). Thread-safe as far as the
 * kernel is: no global state here.
 */
#ifndef LIBVMXLITE_H
#define LIBVMXLITE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vmx_lite.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMXLITE_DEV	"/dev/vmx-lite"

/* ---- system fd ---- */

/* open(VMXLITE_DEV, O_RDWR | O_CLOEXEC): the fd or -errno. */
int vmxlite_open(void);
/* VMXL_API_VERSION of the module, or -errno. */
int vmxlite_api_version(int sys_fd);
int vmxlite_get_caps(int sys_fd, struct vmxl_caps *caps);
/* The default CPUID table; on -E2BIG *nent says how many are needed. */
int vmxlite_get_default_cpuid(int sys_fd, struct vmxl_cpuid_entry *entries,
			      uint32_t *nent);
/* VMXL_CREATE_VM with VMXL_VM_* flags: the VM fd or -errno. */
int vmxlite_create_vm(int sys_fd, uint32_t flags);

/* ---- VM fd ---- */

/* The vCPU fd or -errno. */
int vmxlite_create_vcpu(int vm_fd, uint32_t id);
/* Create, replace or (size 0) delete a memory slot. */
int vmxlite_set_memory_region(int vm_fd, uint32_t slot, uint32_t flags,
			      uint64_t gpa, uint64_t size, void *hva);
/*
 * GET: the slot's bitmap into @bitmap ((pages + 63) / 64 words);
 * flags 0 or VMXL_DIRTY_LOG_CLEAR.
 */
int vmxlite_get_dirty_log(int vm_fd, uint32_t slot, uint32_t flags,
			  uint64_t *bitmap);
/* CLEAR pages first_page + i for every bit i set in @bitmap. */
int vmxlite_clear_dirty_log(int vm_fd, uint32_t slot, uint64_t first_page,
			    uint64_t num_pages, const uint64_t *bitmap);
int vmxlite_enable_dirty_ring(int vm_fd, uint32_t entries);
/* Entries freed, or -errno. */
int vmxlite_reset_dirty_rings(int vm_fd);
/* The VM's id (>= 1), as netlink reports it, or -errno. */
int vmxlite_get_vm_id(int vm_fd);
/*
 * VMXL_SET_RESET_POINT: the VM's state now is the reset point. 0 or
 * -errno (-EBUSY: a vCPU is in VMXL_RUN; -ENOMEM).
 */
int vmxlite_set_reset_point(int vm_fd);
/*
 * VMXL_RESET_TO_POINT: the pages copied back (>= 0) or -errno (-ENOENT:
 * no point; -EBUSY: a vCPU is in VMXL_RUN).
 */
int vmxlite_reset_to_point(int vm_fd);
int vmxlite_create_smmu(int vm_fd, const struct vmxl_smmu_config *cfg);
/*
 * VMXL_SMMU_DMA / VMXL_SMMU_TRANSLATE with a caller-filled struct; the
 * out fields (status, done, gpa, event, iotlb_*) are valid after both
 * success and -EFAULT.
 */
int vmxlite_smmu_dma(int vm_fd, struct vmxl_dma *dma);
int vmxlite_smmu_translate(int vm_fd, struct vmxl_dma *dma);
/* The SMMU's registers, for snapshots; -ENXIO: the VM has no SMMU. */
int vmxlite_get_smmu_state(int vm_fd, struct vmxl_smmu_state *st);
int vmxlite_set_smmu_state(int vm_fd, const struct vmxl_smmu_state *st);
/*
 * Convenience: one transfer of @len bytes between @buf and @iova of
 * stream @sid (@write: the device writes guest memory). @out, when not
 * NULL, receives the whole answer.
 */
int vmxlite_dma(int vm_fd, uint32_t sid, uint64_t iova, void *buf,
		uint64_t len, int write, struct vmxl_dma *out);
/*
 * VMXL_SIGNAL_MSI (VMXL_VM_LAPIC VMs): the message @address (0xfeeXXXXX)
 * and @data to the vCPUs' local APICs. The number of APICs that took it
 * (0: none), or -errno (-ENXIO: the VM has no in-kernel APIC).
 */
int vmxlite_signal_msi(int vm_fd, uint32_t address, uint32_t data);

/* ---- vCPU fd ---- */

/* mmap of the run page (@size: caps.run_mmap_size); -errno on failure. */
int vmxlite_map_run(int vcpu_fd, size_t size, struct vmxl_run **run);
int vmxlite_unmap_run(struct vmxl_run *run, size_t size);
/* The dirty ring of @entries entries (a power of two). */
int vmxlite_map_dirty_ring(int vcpu_fd, uint32_t entries,
			   struct vmxl_dirty_entry **ring);
int vmxlite_unmap_dirty_ring(struct vmxl_dirty_entry *ring, uint32_t entries);

/* VMXL_RUN: 0 with run->exit_reason set, -EINTR, or another -errno. */
int vmxlite_run(int vcpu_fd);
int vmxlite_get_regs(int vcpu_fd, struct vmxl_regs *regs);
int vmxlite_set_regs(int vcpu_fd, const struct vmxl_regs *regs);
int vmxlite_get_sregs(int vcpu_fd, struct vmxl_sregs *sregs);
int vmxlite_set_sregs(int vcpu_fd, const struct vmxl_sregs *sregs);
/* The number of entries processed (stops at the first refused), or -errno. */
int vmxlite_get_msrs(int vcpu_fd, struct vmxl_msr_entry *entries,
		     uint32_t nmsrs);
int vmxlite_set_msrs(int vcpu_fd, const struct vmxl_msr_entry *entries,
		     uint32_t nmsrs);
int vmxlite_get_fpu(int vcpu_fd, struct vmxl_fpu *fpu);
int vmxlite_set_fpu(int vcpu_fd, const struct vmxl_fpu *fpu);
/* On -E2BIG *nent says how many entries are needed. */
int vmxlite_get_cpuid(int vcpu_fd, struct vmxl_cpuid_entry *entries,
		      uint32_t *nent);
int vmxlite_set_cpuid(int vcpu_fd, const struct vmxl_cpuid_entry *entries,
		      uint32_t nent);
/* -EAGAIN while the guest cannot take it: request an interrupt window. */
int vmxlite_interrupt(int vcpu_fd, uint32_t vector);
int vmxlite_nmi(int vcpu_fd);
/*
 * VMXL_VM_LAPIC VMs (-ENXIO otherwise): the local APIC as one blob, and
 * the vCPU's VMXL_MP_* state.
 */
int vmxlite_get_lapic(int vcpu_fd, struct vmxl_lapic_state *lapic);
int vmxlite_set_lapic(int vcpu_fd, const struct vmxl_lapic_state *lapic);
int vmxlite_get_mp_state(int vcpu_fd, uint32_t *state);
int vmxlite_set_mp_state(int vcpu_fd, uint32_t state);
/* Snapshot state of any VM: events between instructions, DR0-3/6/7. */
int vmxlite_get_vcpu_events(int vcpu_fd, struct vmxl_vcpu_events *ev);
int vmxlite_set_vcpu_events(int vcpu_fd, const struct vmxl_vcpu_events *ev);
int vmxlite_get_debugregs(int vcpu_fd, struct vmxl_debugregs *dr);
int vmxlite_set_debugregs(int vcpu_fd, const struct vmxl_debugregs *dr);
/* The VM's guest TSC, one basis for all its vCPUs (VM fd). */
int vmxlite_get_clock(int vm_fd, struct vmxl_clock *clock);
int vmxlite_set_clock(int vm_fd, const struct vmxl_clock *clock);

/* ---- names (static strings; "unknown" for values it does not know) ---- */

const char *vmxlite_exit_name(uint32_t exit_reason);
const char *vmxlite_dma_status_name(uint32_t status);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMXLITE_H */
