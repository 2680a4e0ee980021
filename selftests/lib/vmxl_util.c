// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"
#include "vmxl_util.h"

/* Say which setup step failed: EINVAL alone says little. */
static int rvm_fail(int line)
{
	int err = errno;

	fprintf(stderr, "# rvm_create: step at %s:%d failed: %s\n",
		__FILE__, line, strerror(err));
	return -err;
}

int rvm_create(struct rvm *vm, size_t mem_size, uint64_t rip)
{
	struct vmxl_memory_region mr = { 0 };
	struct vmxl_sregs sregs;
	struct vmxl_regs regs;

	memset(vm, 0, sizeof(*vm));
	vm->sys_fd = vm->vm_fd = vm->vcpu_fd = -1;
	vm->sys_fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	if (vm->sys_fd < 0)
		return rvm_fail(__LINE__);
	vm->vm_fd = ioctl(vm->sys_fd, VMXL_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return rvm_fail(__LINE__);
	vm->mem_size = mem_size;
	vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		return rvm_fail(__LINE__);
	}
	mr.memory_size = mem_size;
	mr.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->vm_fd, VMXL_SET_MEMORY_REGION, &mr))
		return rvm_fail(__LINE__);
	vm->vcpu_fd = ioctl(vm->vm_fd, VMXL_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return rvm_fail(__LINE__);
	vm->run = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		       MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return rvm_fail(__LINE__);
	}
	if (ioctl(vm->vcpu_fd, VMXL_GET_SREGS, &sregs))
		return rvm_fail(__LINE__);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vm->vcpu_fd, VMXL_SET_SREGS, &sregs))
		return rvm_fail(__LINE__);
	if (ioctl(vm->vcpu_fd, VMXL_GET_REGS, &regs))
		return rvm_fail(__LINE__);
	regs.rip = rip;
	regs.rsp = 0x800;
	if (ioctl(vm->vcpu_fd, VMXL_SET_REGS, &regs))
		return rvm_fail(__LINE__);
	return 0;
}

void rvm_destroy(struct rvm *vm)
{
	if (vm->run)
		munmap(vm->run, sysconf(_SC_PAGESIZE));
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	memset(vm, 0, sizeof(*vm));
	vm->sys_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

void rvm_load(struct rvm *vm, uint64_t gpa, const void *code, size_t len)
{
	memcpy(vm->mem + gpa, code, len);
}

int rvm_run(struct rvm *vm)
{
	return ioctl(vm->vcpu_fd, VMXL_RUN, 0) ? -errno : 0;
}

int rvm_regs(struct rvm *vm, struct vmxl_regs *regs)
{
	return ioctl(vm->vcpu_fd, VMXL_GET_REGS, regs) ? -errno : 0;
}

long vmxl_objects(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f;

	f = fopen("/sys/class/misc/vmx-lite/objects", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}
