// SPDX-License-Identifier: GPL-2.0
/*
 * The VM and vCPU ioctls with good and bad input: every rejection has
 * its precise errno, and objects come and go without leaking.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "testlib.h"
#include "vmxl_util.h"

#define PAGE 4096UL

FIXTURE(api) {
	int sys_fd;
	int vm_fd;
	struct vmxl_caps caps;
	void *mem;
};

FIXTURE_SETUP(api)
{
	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	self->sys_fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->sys_fd);
	memset(&self->caps, 0, sizeof(self->caps));
	ASSERT_EQ(0, ioctl(self->sys_fd, VMXL_GET_CAPS, &self->caps));
	self->vm_fd = -1;
	self->mem = MAP_FAILED;
	if (self->caps.backend_status != VMXL_STATUS_OK) {
		EXPECT_EQ(-1, ioctl(self->sys_fd, VMXL_CREATE_VM, 0));
		EXPECT_EQ(ENODEV, errno);
		SKIP(return, "no backend that runs guests");
	}
	self->vm_fd = ioctl(self->sys_fd, VMXL_CREATE_VM, 0);
	ASSERT_LE(0, self->vm_fd);
	self->mem = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
}

FIXTURE_TEARDOWN(api)
{
	if (self->mem != MAP_FAILED)
		munmap(self->mem, 16 * PAGE);
	if (self->vm_fd >= 0)
		close(self->vm_fd);
	close(self->sys_fd);
	EXPECT_EQ(0, test_module_unload("vmx_lite"));
}

static int set_region(int vm_fd, __u32 slot, __u32 flags, __u64 gpa,
		      __u64 size, void *uaddr)
{
	struct vmxl_memory_region mr = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)uaddr,
	};

	return ioctl(vm_fd, VMXL_SET_MEMORY_REGION, &mr) ? errno : 0;
}

TEST_F(api, create_vm_flags)
{
	unsigned int bit;
	int fd;

	/* every flag but VMXL_VM_DMA_STRICT and VMXL_VM_LAPIC is refused */
	for (bit = 2; bit < 32; bit++) {
		EXPECT_EQ(-1, ioctl(self->sys_fd, VMXL_CREATE_VM, 1UL << bit));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %u", bit);
	}
	fd = ioctl(self->sys_fd, VMXL_CREATE_VM, VMXL_VM_DMA_STRICT);
	EXPECT_LE(0, fd);
	close(fd);
	/* the APIC needs the TSC rate, which the capabilities then report */
	fd = ioctl(self->sys_fd, VMXL_CREATE_VM,
		   VMXL_VM_DMA_STRICT | VMXL_VM_LAPIC);
	if (self->caps.features & VMXL_FEAT_LAPIC) {
		EXPECT_NE(0, self->caps.tsc_khz);
		EXPECT_LE(0, fd);
		close(fd);
	} else {
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
}

TEST_F(api, memory_region_errors)
{
	struct vmxl_memory_region mr = {
		.memory_size = PAGE, .userspace_addr = (uintptr_t)self->mem,
	};
	void *unmapped;

	EXPECT_EQ(0, set_region(self->vm_fd, 0, 0, 0, 4 * PAGE, self->mem));
	/* unaligned address, size, userspace address */
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 0, 0x100800, PAGE,
				     self->mem));
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 0, 0x100000, 100,
				     self->mem));
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 0, 0x100000, PAGE,
				     (char *)self->mem + 8));
	/* slot number, flags */
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, self->caps.max_slots, 0,
				     0x100000, PAGE, self->mem));
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 1U << 7, 0x100000, PAGE,
				     self->mem));
	/* dirty logging is a known flag (test_dirty_log.c covers it) */
	EXPECT_EQ(0, set_region(self->vm_fd, 1, VMXL_MEM_LOG_DIRTY,
				0x100000, PAGE, self->mem));
	EXPECT_EQ(0, set_region(self->vm_fd, 1, 0, 0, 0, NULL));
	/* reserved fields */
	mr.slot = 1;
	mr.guest_phys_addr = 0x100000;
	mr.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	EXPECT_EQ(EINVAL, errno);
	/* overlap with slot 0, partly and whole */
	EXPECT_EQ(EEXIST, set_region(self->vm_fd, 1, 0, 3 * PAGE, 2 * PAGE,
				     self->mem));
	EXPECT_EQ(EEXIST, set_region(self->vm_fd, 1, 0, 0, PAGE, self->mem));
	/* huge, wrapping, beyond the physical address width */
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 0, 0x100000,
				     1ULL << 62, self->mem));
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 0, ~0ULL & ~(PAGE - 1),
				     2 * PAGE, self->mem));
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 1, 0, 1ULL << 60, PAGE,
				     self->mem));
	/* memory that is not there */
	unmapped = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	munmap(unmapped, PAGE);
	EXPECT_EQ(EFAULT, set_region(self->vm_fd, 1, 0, 0x100000, PAGE,
				     unmapped));
	EXPECT_EQ(EFAULT, set_region(self->vm_fd, 1, 0, 0x100000, PAGE,
				     (void *)0xffff800000000000ULL));
	/* deleting a slot that does not exist */
	EXPECT_EQ(ENOENT, set_region(self->vm_fd, 2, 0, 0, 0, NULL));
	/* delete, re-add elsewhere, move */
	EXPECT_EQ(0, set_region(self->vm_fd, 0, 0, 0, 0, NULL));
	EXPECT_EQ(0, set_region(self->vm_fd, 1, 0, 0, PAGE, self->mem));
	EXPECT_EQ(0, set_region(self->vm_fd, 1, 0, 0x200000, 2 * PAGE,
				self->mem));
	EXPECT_EQ(0, set_region(self->vm_fd, 0, 0, 0, PAGE, self->mem));
	EXPECT_EQ(2 + 1, vmxl_objects("pinned_pages"));
}

TEST_F(api, total_memory_limit)
{
	void *big;
	size_t sz = self->caps.max_mem_bytes;

	/* one slot may not exceed the VM limit on its own */
	big = mmap(NULL, sz + PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, big);
	EXPECT_EQ(EINVAL, set_region(self->vm_fd, 0, 0, 0, sz + PAGE, big));
	munmap(big, sz + PAGE);
}

TEST_F(api, vcpu_ids)
{
	int a, b;

	EXPECT_EQ(-1, ioctl(self->vm_fd, VMXL_CREATE_VCPU,
			    self->caps.max_vcpus));
	EXPECT_EQ(EINVAL, errno);
	a = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	ASSERT_LE(0, a);
	EXPECT_EQ(-1, ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0));
	EXPECT_EQ(EEXIST, errno);
	b = ioctl(self->vm_fd, VMXL_CREATE_VCPU, self->caps.max_vcpus - 1);
	ASSERT_LE(0, b);
	EXPECT_EQ(2, vmxl_objects("vcpus"));
	close(a);
	/* the id is free again once its fd is gone */
	a = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	EXPECT_LE(0, a);
	close(a);
	close(b);
	EXPECT_EQ(0, vmxl_objects("vcpus"));
}

TEST_F(api, wrong_fd_type_enotty)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_regs regs;

	ASSERT_LE(0, vcpu);
	EXPECT_EQ(-1, ioctl(self->vm_fd, VMXL_RUN, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->sys_fd, VMXL_CREATE_VCPU, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_CREATE_VCPU, 1));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_CREATE_VM, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->vm_fd, VMXL_GET_REGS, &regs));
	EXPECT_EQ(ENOTTY, errno);
	close(vcpu);
	/* and a closed fd is just a bad fd */
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_GET_REGS, &regs));
	EXPECT_EQ(EBADF, errno);
}

TEST_F(api, vcpu_outlives_vm_fd)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_regs regs;

	ASSERT_LE(0, vcpu);
	EXPECT_EQ(0, set_region(self->vm_fd, 0, 0, 0, 4 * PAGE, self->mem));
	close(self->vm_fd);
	self->vm_fd = -1;
	EXPECT_EQ(1, vmxl_objects("vms"));
	EXPECT_EQ(0, ioctl(vcpu, VMXL_GET_REGS, &regs));
	close(vcpu);
	EXPECT_EQ(0, vmxl_objects("vms"));
	EXPECT_EQ(0, vmxl_objects("pinned_pages"));
}

TEST_F(api, run_page_mmap)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	void *p;

	ASSERT_LE(0, vcpu);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, vcpu, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, vcpu, PAGE);
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, vcpu, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	ASSERT_NE(MAP_FAILED, p);
	munmap(p, PAGE);
	close(vcpu);
}

TEST_F(api, regs_roundtrip_and_reserved)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_regs r, r2;
	__u64 *g = (__u64 *)&r;
	int i;

	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_REGS, &r));
	EXPECT_EQ(0xfff0, r.rip);		/* x86 reset state */
	EXPECT_EQ(2, r.rflags);
	for (i = 0; i < 16; i++)
		g[i] = 0x1111111111111111ULL * (i + 1);
	r.rip = 0x1234;
	r.rflags = 0x202;
	ASSERT_EQ(0, ioctl(vcpu, VMXL_SET_REGS, &r));
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_REGS, &r2));
	EXPECT_EQ(0, memcmp(&r, &r2, sizeof(r)));
	r.rflags = 1ULL << 40;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_REGS, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_REGS, NULL));
	EXPECT_EQ(EFAULT, errno);
	close(vcpu);
}

TEST_F(api, sregs_roundtrip_and_invalid)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_sregs s, s2, bad;

	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_SREGS, &s));
	EXPECT_EQ(0xf000, s.cs.selector);
	EXPECT_EQ(0xffff0000, s.cs.base);
	EXPECT_EQ(0, s.efer);
	EXPECT_EQ(0xfee00900, s.apic_base);	/* BSP, enabled */
	s.cs.base = 0x10000;
	s.cs.selector = 0x1000;
	s.cr8 = 5;
	s.gdt.base = 0x5000;
	s.gdt.limit = 0x27;
	ASSERT_EQ(0, ioctl(vcpu, VMXL_SET_SREGS, &s));
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_SREGS, &s2));
	EXPECT_EQ(0, memcmp(&s, &s2, sizeof(s)));

	bad = s;
	bad.reserved[3] = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_SREGS, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad = s;
	bad.cs.reserved = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_SREGS, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad = s;
	bad.ds.dpl = 4;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_SREGS, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad = s;
	bad.cr0 = 0x80000000;		/* paging without protection */
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_SREGS, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad = s;
	bad.efer = 1ULL << 12;		/* SVME is never the guest's */
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_SREGS, &bad));
	EXPECT_EQ(EINVAL, errno);
	bad = s;
	bad.cr8 = 16;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_SREGS, &bad));
	EXPECT_EQ(EINVAL, errno);
	close(vcpu);
}

TEST_F(api, msrs)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_msr_entry e[3] = {
		{ .index = 0xc0000081, .data = 0x0023001000000000ULL }, /* STAR */
		{ .index = 0x277, .data = 0x0606060606060606ULL },	/* PAT */
		{ .index = 0x12345, .data = 1 },			/* none */
	};
	struct vmxl_msrs m = { .nmsrs = 3, .entries = (uintptr_t)e };

	ASSERT_LE(0, vcpu);
	/* processed up to the first MSR the module does not own */
	EXPECT_EQ(2, ioctl(vcpu, VMXL_SET_MSRS, &m));
	memset(e, 0, sizeof(e));
	e[0].index = 0xc0000081;
	e[1].index = 0x277;
	e[2].index = 0xfe;		/* MTRRcap */
	EXPECT_EQ(3, ioctl(vcpu, VMXL_GET_MSRS, &m));
	EXPECT_EQ(0x0023001000000000ULL, e[0].data);
	EXPECT_EQ(0x0606060606060606ULL, e[1].data);
	EXPECT_EQ(0x508, e[2].data);
	/* invalid values stop processing too */
	e[0].index = 0x277;
	e[0].data = 0x02;		/* PAT type 2 is reserved */
	m.nmsrs = 1;
	EXPECT_EQ(0, ioctl(vcpu, VMXL_SET_MSRS, &m));
	e[0].reserved = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_MSRS, &m));
	EXPECT_EQ(EINVAL, errno);
	m.nmsrs = VMXL_MAX_MSR_ENTRIES + 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_GET_MSRS, &m));
	EXPECT_EQ(E2BIG, errno);
	m.nmsrs = 1;
	m.flags = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_GET_MSRS, &m));
	EXPECT_EQ(EINVAL, errno);
	close(vcpu);
}

TEST_F(api, cpuid_tables)
{
	struct vmxl_cpuid_entry tab[VMXL_MAX_CPUID_ENTRIES], tab2[4];
	struct vmxl_cpuid c = { .nent = 1, .entries = (uintptr_t)tab };
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 3);
	unsigned int i, n, found = 0;

	ASSERT_LE(0, vcpu);
	EXPECT_EQ(-1, ioctl(self->sys_fd, VMXL_GET_DEFAULT_CPUID, &c));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_LT(1, c.nent);		/* tells the size needed */
	c.nent = VMXL_MAX_CPUID_ENTRIES;
	ASSERT_EQ(0, ioctl(self->sys_fd, VMXL_GET_DEFAULT_CPUID, &c));
	n = c.nent;
	for (i = 0; i < n; i++) {
		if (tab[i].function == 1) {
			found++;
			EXPECT_NE(0, tab[i].ecx & (1U << 31));
			EXPECT_EQ(0, tab[i].ecx & (1U << 5));
		}
		if (tab[i].function == 0x80000001)
			EXPECT_EQ(0, tab[i].ecx & (1U << 2));
	}
	EXPECT_EQ(1, found);
	/* a vCPU's own table carries its APIC id */
	c.nent = VMXL_MAX_CPUID_ENTRIES;
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_CPUID, &c));
	EXPECT_EQ(n, c.nent);
	for (i = 0; i < n; i++)
		if (tab[i].function == 1)
			EXPECT_EQ(3, tab[i].ebx >> 24);

	memset(tab2, 0, sizeof(tab2));
	tab2[0].function = 0x40000000;
	tab2[0].ebx = 0x1234;
	c.nent = 1;
	c.entries = (uintptr_t)tab2;
	ASSERT_EQ(0, ioctl(vcpu, VMXL_SET_CPUID, &c));
	c.nent = 4;
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_CPUID, &c));
	EXPECT_EQ(1, c.nent);
	EXPECT_EQ(0x1234, tab2[0].ebx);
	tab2[0].flags = 2;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_CPUID, &c));
	EXPECT_EQ(EINVAL, errno);
	tab2[0].flags = 0;
	tab2[0].reserved = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_CPUID, &c));
	EXPECT_EQ(EINVAL, errno);
	c.nent = VMXL_MAX_CPUID_ENTRIES + 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_CPUID, &c));
	EXPECT_EQ(E2BIG, errno);
	close(vcpu);
}

TEST_F(api, fpu)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_fpu f, f2;

	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_FPU, &f));
	EXPECT_EQ(0x37f, *(uint16_t *)&f.fxsave[0]);	/* FCW */
	EXPECT_EQ(0x1f80, *(uint32_t *)&f.fxsave[24]);	/* MXCSR */
	f.fxsave[160] = 0xaa;				/* XMM0 */
	ASSERT_EQ(0, ioctl(vcpu, VMXL_SET_FPU, &f));
	ASSERT_EQ(0, ioctl(vcpu, VMXL_GET_FPU, &f2));
	EXPECT_EQ(0, memcmp(&f, &f2, sizeof(f)));
	*(uint32_t *)&f.fxsave[24] = 0xffffffff;	/* reserved MXCSR */
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_SET_FPU, &f));
	EXPECT_EQ(EINVAL, errno);
	close(vcpu);
}

TEST_F(api, interrupt_and_nmi_args)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_interrupt irq = { .vector = 31 };

	ASSERT_LE(0, vcpu);
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(EINVAL, errno);
	irq.vector = 256;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(EINVAL, errno);
	irq.vector = 32;
	irq.flags = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(EINVAL, errno);
	irq.flags = 0;
	/* reset state has IF=0 */
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_NMI, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ioctl(vcpu, VMXL_NMI, 0));
	close(vcpu);
}

TEST_F(api, run_arg_and_run_page_reserved)
{
	int vcpu = ioctl(self->vm_fd, VMXL_CREATE_VCPU, 0);
	struct vmxl_run *run;

	ASSERT_LE(0, vcpu);
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_RUN, 1));
	EXPECT_EQ(EINVAL, errno);
	run = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	ASSERT_NE(MAP_FAILED, run);
	run->reserved0[2] = 1;
	EXPECT_EQ(-1, ioctl(vcpu, VMXL_RUN, 0));
	EXPECT_EQ(EINVAL, errno);
	munmap(run, PAGE);
	close(vcpu);
}

/* 200 VMs that ran a guest, one after another: nothing accumulates. */
TEST_F(api, create_destroy_200_no_leak)
{
	static const uint8_t hlt[] = { 0xf4 };
	struct rvm vm;
	int i;

	close(self->vm_fd);
	self->vm_fd = -1;
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, rvm_create(&vm, 16 * PAGE, 0x1000));
		rvm_load(&vm, 0x1000, hlt, sizeof(hlt));
		ASSERT_EQ(0, rvm_run(&vm));
		ASSERT_EQ(VMXL_EXIT_HLT, vm.run->exit_reason);
		rvm_destroy(&vm);
	}
	EXPECT_EQ(0, vmxl_objects("vms"));
	EXPECT_EQ(0, vmxl_objects("vcpus"));
	EXPECT_EQ(0, vmxl_objects("pinned_pages"));
	EXPECT_EQ(0, vmxl_objects("table_pages"));
}

TEST_F(api, max_vms)
{
	int fds[512], i, n = self->caps.max_vms;

	ASSERT_GE(512, n);
	close(self->vm_fd);
	self->vm_fd = -1;
	for (i = 0; i < n; i++) {
		fds[i] = ioctl(self->sys_fd, VMXL_CREATE_VM, 0);
		ASSERT_LE(0, fds[i]);
	}
	EXPECT_EQ(-1, ioctl(self->sys_fd, VMXL_CREATE_VM, 0));
	EXPECT_EQ(ENOSPC, errno);
	for (i = 0; i < n; i++)
		close(fds[i]);
	EXPECT_EQ(0, vmxl_objects("vms"));
}

/* Turn one capability off or on in the effective set (it stays permitted). */
static int cap_effective(int cap, bool on)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[cap / 32].effective |= 1U << (cap % 32);
	else
		d[cap / 32].effective &= ~(1U << (cap % 32));
	return syscall(SYS_capset, &h, d);
}

/*
 * Free memory in KiB, counted as the page allocator sees it: the free
 * lists of every zone plus the pages each CPU keeps aside (pcp lists,
 * "count:" in /proc/zoneinfo), which MemFree leaves out. A loop that
 * frees megabytes leaves megabytes there; a leak stays out of both.
 */
static long free_kib(void)
{
	char line[160];
	long pages = 0, n;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " pages free %ld", &n) == 1 ||
		    sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	fclose(f);
	return pages * (PAGE / 1024);
}

/*
 * KiB of free memory that @rounds refused SET_MEMORY_REGIONs of a whole
 * max_mem_bytes slot with dirty logging took; each must fail with @err.
 */
static long refused_slot_cost(struct __test_metadata *_metadata, int vm_fd,
			      __u64 size, void *uaddr, int err, int rounds)
{
	long before;
	int i;

	/* Once first, so the allocator's caches have settled. */
	EXPECT_EQ(err, set_region(vm_fd, 0, VMXL_MEM_LOG_DIRTY, 0, size, uaddr));
	before = free_kib();
	for (i = 0; i < rounds; i++)
		EXPECT_EQ(err, set_region(vm_fd, 0, VMXL_MEM_LOG_DIRTY, 0,
					  size, uaddr));
	return before - free_kib();
}

/*
 * Every way slot creation can fail after it has allocated (RLIMIT_MEMLOCK
 * refused, pages that cannot be pinned) gives all of it back. 256 rounds
 * of a 4 GiB logged slot would leak 32 MiB of dirty bitmaps alone; the
 * bound is half of that because freed memory lags by an amount that does
 * not grow with the rounds: under KASAN_VMALLOC each vfree()d page array
 * (8 MiB here) keeps its shadow until the lazy vmap purge, which waits for
 * 32 MiB of freed address space per CPU bit, so up to 8 MiB of shadow on
 * the 2-CPU debug lane (seen: 5 MiB after 128 rounds). The debug kernel
 * needs the longer timeout.
 */
TEST_F_TIMEOUT(api, refused_slot_leaks_nothing, 120)
{
	__u64 size = self->caps.max_mem_bytes;
	long bitmap_kib = size / PAGE / 8 / 1024, cost;
	struct rlimit old, low;
	void *big;
	int rounds = 256;

	big = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, big);
	ASSERT_EQ(0, getrlimit(RLIMIT_MEMLOCK, &old));

	/* Root's CAP_IPC_LOCK lifts the limit: without it, 16 pages. */
	low = old;
	low.rlim_cur = 16 * PAGE;
	ASSERT_EQ(0, cap_effective(CAP_IPC_LOCK, false));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &low));
	cost = refused_slot_cost(_metadata, self->vm_fd, size, big, ENOMEM,
				 rounds);
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &old));
	ASSERT_EQ(0, cap_effective(CAP_IPC_LOCK, true));
	EXPECT_GT(rounds * bitmap_kib / 2, cost)
		TH_LOG("RLIMIT_MEMLOCK refusals took %ld KiB", cost);

	/* Pinning fails at the first page. */
	ASSERT_EQ(0, mprotect(big, size, PROT_NONE));
	cost = refused_slot_cost(_metadata, self->vm_fd, size, big, EFAULT,
				 rounds);
	EXPECT_GT(rounds * bitmap_kib / 2, cost)
		TH_LOG("pin failures took %ld KiB", cost);

	munmap(big, size);
	EXPECT_EQ(0, vmxl_objects("pinned_pages"));
}

TEST_HARNESS_MAIN
