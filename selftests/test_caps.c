// SPDX-License-Identifier: GPL-2.0
/*
 * The capability report must agree with what the guest kernel itself
 * detected (/proc/cpuinfo) and with CPUID.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "testlib.h"

FIXTURE(caps) {
	int fd;
	struct vmxl_caps caps;
};

FIXTURE_SETUP(caps)
{
	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	self->fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	memset(&self->caps, 0, sizeof(self->caps));
	ASSERT_EQ(0, ioctl(self->fd, VMXL_GET_CAPS, &self->caps));
}

FIXTURE_TEARDOWN(caps)
{
	close(self->fd);
	EXPECT_EQ(0, test_module_unload("vmx_lite"));
}

TEST_F(caps, api_version)
{
	EXPECT_EQ(VMXL_API_VERSION, ioctl(self->fd, VMXL_GET_API_VERSION, 0));
	EXPECT_EQ(VMXL_API_VERSION, self->caps.api_version);
}

TEST_F(caps, backend_matches_cpuinfo)
{
	if (test_cpuinfo_has("svm")) {
		EXPECT_EQ(VMXL_BACKEND_SVM, self->caps.backend);
	} else if (test_cpuinfo_has("vmx")) {
		EXPECT_EQ(VMXL_BACKEND_VMX, self->caps.backend);
	} else {
		EXPECT_EQ(VMXL_BACKEND_NONE, self->caps.backend);
		EXPECT_EQ(VMXL_STATUS_NO_CPU_SUPPORT,
			  self->caps.backend_status);
	}
	if (self->caps.backend != VMXL_BACKEND_NONE)
		EXPECT_EQ(VMXL_STATUS_OK, self->caps.backend_status);
}

struct feat_flag {
	__u64 feat;
	const char *flag;	/* name in /proc/cpuinfo */
};

static const struct feat_flag svm_flags[] = {
	{ VMXL_FEAT_NPT, "npt" },
	{ VMXL_FEAT_NRIP_SAVE, "nrip_save" },
	{ VMXL_FEAT_DECODE_ASSISTS, "decodeassists" },
	{ VMXL_FEAT_FLUSH_BY_ASID, "flushbyasid" },
	{ VMXL_FEAT_VMCB_CLEAN, "vmcb_clean" },
	{ VMXL_FEAT_VGIF, "vgif" },
	{ VMXL_FEAT_PAUSE_FILTER, "pausefilter" },
};

static const struct feat_flag vmx_flags[] = {
	{ VMXL_FEAT_EPT, "ept" },
	{ VMXL_FEAT_VPID, "vpid" },
	{ VMXL_FEAT_UNRESTRICTED_GUEST, "unrestricted_guest" },
	{ VMXL_FEAT_EPT_AD, "ept_ad" },
	{ VMXL_FEAT_PML, "pml" },
	{ VMXL_FEAT_PREEMPTION_TIMER, "preemption_timer" },
};

TEST_F(caps, svm_features_match_cpuinfo)
{
	unsigned int eax, ebx, ecx, edx, i;

	if (self->caps.backend != VMXL_BACKEND_SVM)
		SKIP(return, "SVM-specific: backend is not svm");
	for (i = 0; i < ARRAY_SIZE(svm_flags); i++) {
		TH_LOG("%s", svm_flags[i].flag);
		EXPECT_EQ(test_cpuinfo_has(svm_flags[i].flag),
			  !!(self->caps.features & svm_flags[i].feat));
	}
	for (i = 0; i < ARRAY_SIZE(vmx_flags); i++)
		EXPECT_EQ(0, self->caps.features & vmx_flags[i].feat);
	__cpuid(0x8000000a, eax, ebx, ecx, edx);
	EXPECT_EQ(eax & 0xff, self->caps.svm_revision);
	EXPECT_EQ(ebx, self->caps.nr_asids);
	EXPECT_EQ(0, self->caps.vmx_basic);
}

TEST_F(caps, vmx_features_match_cpuinfo)
{
	unsigned int i;

	if (self->caps.backend != VMXL_BACKEND_VMX)
		SKIP(return, "VMX-specific: backend is not vmx");
	for (i = 0; i < ARRAY_SIZE(vmx_flags); i++) {
		TH_LOG("%s", vmx_flags[i].flag);
		EXPECT_EQ(test_cpuinfo_has(vmx_flags[i].flag),
			  !!(self->caps.features & vmx_flags[i].feat));
	}
	for (i = 0; i < ARRAY_SIZE(svm_flags); i++)
		EXPECT_EQ(0, self->caps.features & svm_flags[i].feat);
	EXPECT_NE(0, self->caps.vmx_basic);
}

TEST_F(caps, limits_and_reserved)
{
	unsigned int i;

	EXPECT_LT(0, self->caps.max_vms);
	EXPECT_LT(0, self->caps.max_vcpus);
	EXPECT_LT(0, self->caps.max_slots);
	EXPECT_LT(0, self->caps.max_mem_bytes);
	EXPECT_EQ(sysconf(_SC_PAGESIZE), self->caps.run_mmap_size);
	EXPECT_EQ(0, self->caps.flags);
	for (i = 0; i < ARRAY_SIZE(self->caps.reserved); i++)
		EXPECT_EQ(0, self->caps.reserved[i]);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The guest TSC rate is the host's: TSC ticks over CLOCK_MONOTONIC time
 * agree with caps.tsc_khz within 2% (the lanes' clocks are emulated).
 */
TEST_F(caps, tsc_khz_matches_measured_rate)
{
	uint64_t t0, c0, t1, c1, khz;
	struct timespec delay = { 0, 200 * 1000 * 1000 };

	ASSERT_NE(0, self->caps.tsc_khz);
	t0 = now_ns();
	c0 = __builtin_ia32_rdtsc();
	nanosleep(&delay, NULL);
	t1 = now_ns();
	c1 = __builtin_ia32_rdtsc();
	khz = (c1 - c0) * 1000000ULL / (t1 - t0);
	TH_LOG("caps.tsc_khz %llu, measured %llu kHz",
	       (unsigned long long)self->caps.tsc_khz,
	       (unsigned long long)khz);
	EXPECT_GT(self->caps.tsc_khz * 102 / 100, khz);
	EXPECT_LT(self->caps.tsc_khz * 98 / 100, khz);
}

TEST_HARNESS_MAIN
