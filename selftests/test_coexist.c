// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite and KVM take turns with VMX/SVM: whoever has live VMs owns
 * it, the other gets EBUSY (vmx-lite with one clear log line), and both
 * work again once the other lets go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "kvmload.h"
#include "testlib.h"

#define SYSLOG_READ_ALL	3
#define SYSLOG_CLEAR	5

static int count_log_lines(const char *needle)
{
	static char buf[1 << 17];
	int n, count = 0;
	char *p;

	n = klogctl(SYSLOG_READ_ALL, buf, sizeof(buf) - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	for (p = buf; (p = strstr(p, needle)); p++)
		count++;
	return count;
}

FIXTURE(coexist) {
	int kvm_fd;
	int vmxl_fd;
};

FIXTURE_SETUP(coexist)
{
	struct vmxl_caps caps = { 0 };

	if (!test_kvm_vendor_module())
		SKIP(return, "no VMX or SVM in this CPU");
	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	self->vmxl_fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->vmxl_fd);
	ASSERT_EQ(0, ioctl(self->vmxl_fd, VMXL_GET_CAPS, &caps));
	if (caps.backend_status != VMXL_STATUS_OK)
		SKIP(return, "no vmx-lite backend that runs guests");
	ASSERT_EQ(0, test_kvm_load());
	self->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->kvm_fd);
}

FIXTURE_TEARDOWN(coexist)
{
	if (self->kvm_fd >= 0)
		close(self->kvm_fd);
	close(self->vmxl_fd);
	EXPECT_EQ(0, test_kvm_unload());
	EXPECT_EQ(0, test_module_unload("vmx_lite"));
}

TEST_F(coexist, kvm_first_then_vmxl)
{
	int kvm_vm, vm;

	kvm_vm = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, kvm_vm);

	klogctl(SYSLOG_CLEAR, NULL, 0);
	EXPECT_EQ(-1, ioctl(self->vmxl_fd, VMXL_CREATE_VM, 0));
	EXPECT_EQ(EBUSY, errno);
	/* exactly one clear line, and no warning of any kind */
	EXPECT_EQ(1, count_log_lines("held by another hypervisor"));
	EXPECT_EQ(0, count_log_lines("WARNING"));
	EXPECT_EQ(0, count_log_lines("Call Trace"));

	close(kvm_vm);
	vm = ioctl(self->vmxl_fd, VMXL_CREATE_VM, 0);
	EXPECT_LE(0, vm);
	close(vm);
}

TEST_F(coexist, vmxl_first_then_kvm)
{
	int kvm_vm, vm;

	vm = ioctl(self->vmxl_fd, VMXL_CREATE_VM, 0);
	ASSERT_LE(0, vm);
	klogctl(SYSLOG_CLEAR, NULL, 0);
	kvm_vm = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	EXPECT_EQ(-1, kvm_vm);
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, count_log_lines("WARNING"));
	if (kvm_vm >= 0)
		close(kvm_vm);

	close(vm);
	kvm_vm = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	EXPECT_LE(0, kvm_vm);
	close(kvm_vm);
	/* and back again */
	vm = ioctl(self->vmxl_fd, VMXL_CREATE_VM, 0);
	EXPECT_LE(0, vm);
	close(vm);
}

TEST_HARNESS_MAIN
