// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
/* libvmxlite: see libvmxlite.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "libvmxlite.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int ret_errno(int ret)
{
	return ret < 0 ? -errno : ret;
}

int vmxlite_open(void)
{
	return ret_errno(open(VMXLITE_DEV, O_RDWR | O_CLOEXEC));
}

int vmxlite_api_version(int sys_fd)
{
	return ret_errno(ioctl(sys_fd, VMXL_GET_API_VERSION, 0));
}

int vmxlite_get_caps(int sys_fd, struct vmxl_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	return ret_errno(ioctl(sys_fd, VMXL_GET_CAPS, caps));
}

static int get_cpuid(int fd, unsigned long cmd,
		     struct vmxl_cpuid_entry *entries, uint32_t *nent)
{
	struct vmxl_cpuid c = { .nent = *nent, .entries = (uintptr_t)entries };
	int ret = ret_errno(ioctl(fd, cmd, &c));

	if (ret >= 0 || ret == -E2BIG)
		*nent = c.nent;
	return ret < 0 ? ret : 0;
}

int vmxlite_get_default_cpuid(int sys_fd, struct vmxl_cpuid_entry *entries,
			      uint32_t *nent)
{
	return get_cpuid(sys_fd, VMXL_GET_DEFAULT_CPUID, entries, nent);
}

int vmxlite_create_vm(int sys_fd, uint32_t flags)
{
	return ret_errno(ioctl(sys_fd, VMXL_CREATE_VM, (unsigned long)flags));
}

int vmxlite_create_vcpu(int vm_fd, uint32_t id)
{
	return ret_errno(ioctl(vm_fd, VMXL_CREATE_VCPU, (unsigned long)id));
}

int vmxlite_set_memory_region(int vm_fd, uint32_t slot, uint32_t flags,
			      uint64_t gpa, uint64_t size, void *hva)
{
	struct vmxl_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return ret_errno(ioctl(vm_fd, VMXL_SET_MEMORY_REGION, &r));
}

int vmxlite_get_dirty_log(int vm_fd, uint32_t slot, uint32_t flags,
			  uint64_t *bitmap)
{
	struct vmxl_dirty_log d = {
		.slot = slot,
		.flags = flags,
		.bitmap = (uintptr_t)bitmap,
	};

	return ret_errno(ioctl(vm_fd, VMXL_GET_DIRTY_LOG, &d));
}

int vmxlite_clear_dirty_log(int vm_fd, uint32_t slot, uint64_t first_page,
			    uint64_t num_pages, const uint64_t *bitmap)
{
	struct vmxl_dirty_log d = {
		.slot = slot,
		.first_page = first_page,
		.num_pages = num_pages,
		.bitmap = (uintptr_t)bitmap,
	};

	return ret_errno(ioctl(vm_fd, VMXL_CLEAR_DIRTY_LOG, &d));
}

int vmxlite_enable_dirty_ring(int vm_fd, uint32_t entries)
{
	return ret_errno(ioctl(vm_fd, VMXL_ENABLE_DIRTY_RING,
			       (unsigned long)entries));
}

int vmxlite_reset_dirty_rings(int vm_fd)
{
	return ret_errno(ioctl(vm_fd, VMXL_RESET_DIRTY_RINGS, 0));
}

int vmxlite_get_vm_id(int vm_fd)
{
	return ret_errno(ioctl(vm_fd, VMXL_GET_VM_ID, 0));
}

int vmxlite_set_reset_point(int vm_fd)
{
	struct vmxl_reset_point p = { 0 };

	return ret_errno(ioctl(vm_fd, VMXL_SET_RESET_POINT, &p));
}

int vmxlite_reset_to_point(int vm_fd)
{
	struct vmxl_reset_point p = { 0 };

	return ret_errno(ioctl(vm_fd, VMXL_RESET_TO_POINT, &p));
}

int vmxlite_create_smmu(int vm_fd, const struct vmxl_smmu_config *cfg)
{
	return ret_errno(ioctl(vm_fd, VMXL_CREATE_SMMU, cfg));
}

int vmxlite_smmu_dma(int vm_fd, struct vmxl_dma *dma)
{
	return ret_errno(ioctl(vm_fd, VMXL_SMMU_DMA, dma));
}

int vmxlite_smmu_translate(int vm_fd, struct vmxl_dma *dma)
{
	return ret_errno(ioctl(vm_fd, VMXL_SMMU_TRANSLATE, dma));
}

int vmxlite_get_smmu_state(int vm_fd, struct vmxl_smmu_state *st)
{
	return ret_errno(ioctl(vm_fd, VMXL_GET_SMMU_STATE, st));
}

int vmxlite_set_smmu_state(int vm_fd, const struct vmxl_smmu_state *st)
{
	return ret_errno(ioctl(vm_fd, VMXL_SET_SMMU_STATE, st));
}

int vmxlite_dma(int vm_fd, uint32_t sid, uint64_t iova, void *buf,
		uint64_t len, int write, struct vmxl_dma *out)
{
	struct vmxl_dma d = {
		.stream_id = sid,
		.flags = write ? VMXL_DMA_WRITE : 0,
		.iova = iova,
		.len = len,
		.buf = (uintptr_t)buf,
	};
	int ret = vmxlite_smmu_dma(vm_fd, &d);

	if (out)
		*out = d;
	return ret;
}

int vmxlite_signal_msi(int vm_fd, uint32_t address, uint32_t data)
{
	struct vmxl_msi m = { .address_lo = address, .data = data };

	return ret_errno(ioctl(vm_fd, VMXL_SIGNAL_MSI, &m));
}

static int map(int fd, size_t size, off_t off, void **p)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	if (m == MAP_FAILED)
		return -errno;
	*p = m;
	return 0;
}

int vmxlite_map_run(int vcpu_fd, size_t size, struct vmxl_run **run)
{
	return map(vcpu_fd, size, 0, (void **)run);
}

int vmxlite_unmap_run(struct vmxl_run *run, size_t size)
{
	return ret_errno(munmap(run, size));
}

int vmxlite_map_dirty_ring(int vcpu_fd, uint32_t entries,
			   struct vmxl_dirty_entry **ring)
{
	long page = sysconf(_SC_PAGESIZE);

	return map(vcpu_fd, (size_t)entries * sizeof(**ring),
		   (off_t)VMXL_DIRTY_RING_OFFSET * page, (void **)ring);
}

int vmxlite_unmap_dirty_ring(struct vmxl_dirty_entry *ring, uint32_t entries)
{
	return ret_errno(munmap(ring, (size_t)entries * sizeof(*ring)));
}

int vmxlite_run(int vcpu_fd)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_RUN, 0));
}

int vmxlite_get_regs(int vcpu_fd, struct vmxl_regs *regs)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_GET_REGS, regs));
}

int vmxlite_set_regs(int vcpu_fd, const struct vmxl_regs *regs)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_SET_REGS, regs));
}

int vmxlite_get_sregs(int vcpu_fd, struct vmxl_sregs *sregs)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_GET_SREGS, sregs));
}

int vmxlite_set_sregs(int vcpu_fd, const struct vmxl_sregs *sregs)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_SET_SREGS, sregs));
}

int vmxlite_get_msrs(int vcpu_fd, struct vmxl_msr_entry *entries,
		     uint32_t nmsrs)
{
	struct vmxl_msrs m = { .nmsrs = nmsrs, .entries = (uintptr_t)entries };

	return ret_errno(ioctl(vcpu_fd, VMXL_GET_MSRS, &m));
}

int vmxlite_set_msrs(int vcpu_fd, const struct vmxl_msr_entry *entries,
		     uint32_t nmsrs)
{
	struct vmxl_msrs m = { .nmsrs = nmsrs, .entries = (uintptr_t)entries };

	return ret_errno(ioctl(vcpu_fd, VMXL_SET_MSRS, &m));
}

int vmxlite_get_fpu(int vcpu_fd, struct vmxl_fpu *fpu)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_GET_FPU, fpu));
}

int vmxlite_set_fpu(int vcpu_fd, const struct vmxl_fpu *fpu)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_SET_FPU, fpu));
}

int vmxlite_get_cpuid(int vcpu_fd, struct vmxl_cpuid_entry *entries,
		      uint32_t *nent)
{
	return get_cpuid(vcpu_fd, VMXL_GET_CPUID, entries, nent);
}

int vmxlite_set_cpuid(int vcpu_fd, const struct vmxl_cpuid_entry *entries,
		      uint32_t nent)
{
	struct vmxl_cpuid c = { .nent = nent, .entries = (uintptr_t)entries };

	return ret_errno(ioctl(vcpu_fd, VMXL_SET_CPUID, &c));
}

int vmxlite_interrupt(int vcpu_fd, uint32_t vector)
{
	struct vmxl_interrupt i = { .vector = vector };

	return ret_errno(ioctl(vcpu_fd, VMXL_INTERRUPT, &i));
}

int vmxlite_nmi(int vcpu_fd)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_NMI, 0));
}

int vmxlite_get_lapic(int vcpu_fd, struct vmxl_lapic_state *lapic)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_GET_LAPIC, lapic));
}

int vmxlite_set_lapic(int vcpu_fd, const struct vmxl_lapic_state *lapic)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_SET_LAPIC, lapic));
}

int vmxlite_get_mp_state(int vcpu_fd, uint32_t *state)
{
	struct vmxl_mp_state m = { 0 };
	int ret = ret_errno(ioctl(vcpu_fd, VMXL_GET_MP_STATE, &m));

	if (!ret)
		*state = m.state;
	return ret;
}

int vmxlite_get_vcpu_events(int vcpu_fd, struct vmxl_vcpu_events *ev)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_GET_VCPU_EVENTS, ev));
}

int vmxlite_set_vcpu_events(int vcpu_fd, const struct vmxl_vcpu_events *ev)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_SET_VCPU_EVENTS, ev));
}

int vmxlite_get_debugregs(int vcpu_fd, struct vmxl_debugregs *dr)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_GET_DEBUGREGS, dr));
}

int vmxlite_set_debugregs(int vcpu_fd, const struct vmxl_debugregs *dr)
{
	return ret_errno(ioctl(vcpu_fd, VMXL_SET_DEBUGREGS, dr));
}

int vmxlite_get_clock(int vm_fd, struct vmxl_clock *clock)
{
	return ret_errno(ioctl(vm_fd, VMXL_GET_CLOCK, clock));
}

int vmxlite_set_clock(int vm_fd, const struct vmxl_clock *clock)
{
	return ret_errno(ioctl(vm_fd, VMXL_SET_CLOCK, clock));
}

int vmxlite_set_mp_state(int vcpu_fd, uint32_t state)
{
	struct vmxl_mp_state m = { .state = state };

	return ret_errno(ioctl(vcpu_fd, VMXL_SET_MP_STATE, &m));
}

const char *vmxlite_exit_name(uint32_t exit_reason)
{
	static const char *const names[] = {
		[VMXL_EXIT_NONE] = "none",
		[VMXL_EXIT_IO] = "io",
		[VMXL_EXIT_MMIO] = "mmio",
		[VMXL_EXIT_HLT] = "hlt",
		[VMXL_EXIT_HYPERCALL] = "hypercall",
		[VMXL_EXIT_SHUTDOWN] = "shutdown",
		[VMXL_EXIT_FAIL_ENTRY] = "fail_entry",
		[VMXL_EXIT_INTERNAL_ERROR] = "internal_error",
		[VMXL_EXIT_INTR] = "intr",
		[VMXL_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
		[VMXL_EXIT_DIRTY_RING_FULL] = "dirty_ring_full",
		[VMXL_EXIT_EOI] = "eoi",
	};

	if (exit_reason < ARRAY_SIZE(names) && names[exit_reason])
		return names[exit_reason];
	return "unknown";
}

const char *vmxlite_dma_status_name(uint32_t status)
{
	static const char *const names[] = {
		[VMXL_DMA_DONE] = "done",
		[VMXL_DMA_FAULT] = "SMMU fault",
		[VMXL_DMA_ABORTED] = "aborted",
		[VMXL_DMA_NO_RAM] = "no RAM",
		[VMXL_DMA_BAD_BUFFER] = "bad buffer",
	};

	if (status < ARRAY_SIZE(names) && names[status])
		return names[status];
	return "unknown";
}
