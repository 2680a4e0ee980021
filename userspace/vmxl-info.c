// SPDX-License-Identifier: GPL-2.0
/*
 * vmxl-info: what vmx-lite detected on this machine (VMXL_GET_CAPS).
 *
 * Exit status: 0 a backend can run guests; 1 the module is loaded but no
 * backend can (the report says why); 2 usage error; 3 /dev/vmx-lite
 * cannot be opened or queried.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vmx_lite.h>

static const char *const backends[] = { "none", "svm", "vmx" };
static const char *const statuses[] = {
	"ok", "no CPU support", "disabled by firmware",
	"no nested paging", "unsupported",
};

static const struct { unsigned long long bit; const char *name; } feats[] = {
	{ VMXL_FEAT_NPT, "npt" },
	{ VMXL_FEAT_NRIP_SAVE, "nrip_save" },
	{ VMXL_FEAT_DECODE_ASSISTS, "decode_assists" },
	{ VMXL_FEAT_FLUSH_BY_ASID, "flush_by_asid" },
	{ VMXL_FEAT_VMCB_CLEAN, "vmcb_clean" },
	{ VMXL_FEAT_VGIF, "vgif" },
	{ VMXL_FEAT_PAUSE_FILTER, "pause_filter" },
	{ VMXL_FEAT_EPT, "ept" },
	{ VMXL_FEAT_VPID, "vpid" },
	{ VMXL_FEAT_UNRESTRICTED_GUEST, "unrestricted_guest" },
	{ VMXL_FEAT_EPT_AD, "ept_ad" },
	{ VMXL_FEAT_PML, "pml" },
	{ VMXL_FEAT_PREEMPTION_TIMER, "preemption_timer" },
	/* the module's own: VMXL_VM_LAPIC, the in-kernel local APIC */
	{ VMXL_FEAT_LAPIC, "lapic" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmxl-info [--help] [--version] [DEVICE]\n"
		"Print what the vmx-lite module detected: backend, features\n"
		"(hardware ones, and lapic: the in-kernel local APIC), limits\n"
		"and the guest TSC rate. DEVICE defaults to /dev/vmx-lite.\n"
		"Exit status: 0 guests can run, 1 no usable backend,\n"
		"2 usage error, 3 the device cannot be opened or queried.\n");
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/vmx-lite";
	struct vmxl_caps c;
	unsigned int i;
	int fd;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("vmxl-info (vmx-lite) %s\n", VMXL_PKG_VERSION);
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		int help = argc == 2 && !strcmp(argv[1], "--help");

		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (argc == 2)
		dev = argv[1];
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmxl-info: cannot open %s: %s%s\n", dev,
			strerror(errno),
			errno == ENOENT ? " (is vmx_lite loaded?)" : "");
		return 3;
	}
	memset(&c, 0, sizeof(c));
	if (ioctl(fd, VMXL_GET_CAPS, &c)) {
		fprintf(stderr, "vmxl-info: VMXL_GET_CAPS on %s: %s\n", dev,
			strerror(errno));
		close(fd);
		return 3;
	}
	close(fd);

	printf("api_version   %u\n", c.api_version);
	printf("backend       %s\n", c.backend < 3 ? backends[c.backend] : "?");
	printf("status        %s\n",
	       c.backend_status < 5 ? statuses[c.backend_status] : "?");
	printf("features     ");
	for (i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		if (c.features & feats[i].bit)
			printf(" %s", feats[i].name);
	printf("\n");
	if (c.backend == VMXL_BACKEND_SVM)
		printf("svm_revision  %u\nasids         %u\n", c.svm_revision,
		       c.nr_asids);
	if (c.backend == VMXL_BACKEND_VMX)
		printf("vmx_basic     0x%llx\nept_vpid_cap  0x%llx\n",
		       (unsigned long long)c.vmx_basic,
		       (unsigned long long)c.vmx_ept_vpid_cap);
	printf("max_vms       %u\nmax_vcpus     %u\nmax_slots     %u\n"
	       "max_mem_bytes %llu\n", c.max_vms, c.max_vcpus, c.max_slots,
	       (unsigned long long)c.max_mem_bytes);
	/* 0 from a module that predates the field (it was reserved) */
	if (c.tsc_khz)
		printf("tsc_khz       %llu\n", (unsigned long long)c.tsc_khz);
	else
		printf("tsc_khz       unknown\n");
	return c.backend_status == VMXL_STATUS_OK ? 0 : 1;
}
