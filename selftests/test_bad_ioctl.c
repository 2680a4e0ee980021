// SPDX-License-Identifier: GPL-2.0
/* Bad input on the system fd gets precise errors, never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "testlib.h"

FIXTURE(sysfd) {
	int fd;
};

FIXTURE_SETUP(sysfd)
{
	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	self->fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(sysfd)
{
	close(self->fd);
	EXPECT_EQ(0, test_module_unload("vmx_lite"));
}

TEST_F(sysfd, unknown_ioctl_enotty)
{
	/* an unused number of ours, another type byte, and a KVM ioctl */
	EXPECT_EQ(-1, ioctl(self->fd, _IO(VMXL_IOCTL_TYPE, 0x7f), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 0x01), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(0xAE, 0x00), 0));
	EXPECT_EQ(ENOTTY, errno);
	/* right number, wrong size encoded */
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(VMXL_IOCTL_TYPE, 0x01, __u64), 0));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(sysfd, api_version_arg_must_be_zero)
{
	EXPECT_EQ(-1, ioctl(self->fd, VMXL_GET_API_VERSION, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(sysfd, caps_bad_pointer_efault)
{
	void *unmapped;

	EXPECT_EQ(-1, ioctl(self->fd, VMXL_GET_CAPS, NULL));
	EXPECT_EQ(EFAULT, errno);
	unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	EXPECT_EQ(-1, ioctl(self->fd, VMXL_GET_CAPS, unmapped));
	EXPECT_EQ(EFAULT, errno);
	munmap(unmapped, 4096);
}

TEST_F(sysfd, caps_read_only_buffer_efault)
{
	struct vmxl_caps *ro;

	/* readable (flags = 0) but not writable: the copy-out must fail */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, ioctl(self->fd, VMXL_GET_CAPS, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
}

TEST_F(sysfd, caps_flags_einval)
{
	struct vmxl_caps caps = { .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->fd, VMXL_GET_CAPS, &caps));
	EXPECT_EQ(EINVAL, errno);
	caps.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(self->fd, VMXL_GET_CAPS, &caps));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
