// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "dlog.h"

int dlog_init(struct gvm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};

	if (vm->kind != GVM_KVM)
		return 0;
	return ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) ? -errno : 0;
}

int dlog_slot_set(struct gvm *vm, uint32_t slot, uint64_t gpa, void *mem,
		  uint64_t size, bool log)
{
	if (vm->kind == GVM_KVM) {
		struct kvm_userspace_memory_region mr = {
			.slot = slot, .guest_phys_addr = gpa,
			.memory_size = size, .userspace_addr = (uintptr_t)mem,
			.flags = log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		};

		return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) ?
		       -errno : 0;
	} else {
		struct vmxl_memory_region mr = {
			.slot = slot, .guest_phys_addr = gpa,
			.memory_size = size, .userspace_addr = (uintptr_t)mem,
			.flags = log ? VMXL_MEM_LOG_DIRTY : 0,
		};

		return ioctl(vm->vm_fd, VMXL_SET_MEMORY_REGION, &mr) ?
		       -errno : 0;
	}
}

int dlog_get(struct gvm *vm, uint32_t slot, uint64_t *bm, uint64_t npages)
{
	memset(bm, 0, (npages + 63) / 64 * 8);
	if (vm->kind == GVM_KVM) {
		struct kvm_dirty_log d = { .slot = slot, .dirty_bitmap = bm };

		return ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) ? -errno : 0;
	} else {
		struct vmxl_dirty_log d = {
			.slot = slot, .bitmap = (uintptr_t)bm,
		};

		return ioctl(vm->vm_fd, VMXL_GET_DIRTY_LOG, &d) ? -errno : 0;
	}
}

int dlog_clear(struct gvm *vm, uint32_t slot, uint64_t first, uint64_t n,
	       const uint64_t *bm)
{
	if (vm->kind == GVM_KVM) {
		struct kvm_clear_dirty_log c = {
			.slot = slot, .first_page = first, .num_pages = n,
			.dirty_bitmap = (void *)bm,
		};

		return ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) ? -errno : 0;
	} else {
		struct vmxl_dirty_log d = {
			.slot = slot, .first_page = first, .num_pages = n,
			.bitmap = (uintptr_t)bm,
		};

		return ioctl(vm->vm_fd, VMXL_CLEAR_DIRTY_LOG, &d) ? -errno : 0;
	}
}
