// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite's trace events (kmod/trace.h), read back through tracefs after
 * a guest whose every exit is known: an OUT, an MMIO write, an MMIO read
 * userspace answers, a CPUID, then an RDMSR of an MSR nobody has, which
 * the module answers with #GP. And a dirty-log harvest of known pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"
#include "testlib.h"
#include "vmxl_util.h"

#define TRACE_PORT	0x71
#define MMIO_GPA	0xc0000000ULL	/* identity-mapped, no RAM */
#define BOGUS_MSR	0x12345
#define PAGE		4096UL

/* The records of VM @vm_id so far, one event per line, in a malloc'd string. */
static char *trace_read(int vm_id)
{
	char line[512], tag[32];
	size_t len = 0, cap = 1 << 16;
	char *out = calloc(1, cap);
	FILE *f = fopen(TEST_TRACEFS "/trace", "r");

	if (!f || !out)
		abort();
	snprintf(tag, sizeof(tag), ": vm %d ", vm_id);
	while (fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, " vmxl_");

		if (!ev || !strstr(ev, tag))
			continue;
		if (len + strlen(ev) + 1 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			if (!out)
				abort();
		}
		strcpy(out + len, ev + 1);
		len += strlen(ev + 1);
	}
	fclose(f);
	return out;
}

/* How many lines of @trace contain every one of the @n strings. */
static int count_lines(const char *trace, int n, const char *const *want)
{
	const char *p = trace, *nl;
	char line[512];
	int hits = 0, i;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		for (i = 0; i < n && strstr(line, want[i]); i++)
			;
		hits += i == n;
	}
	return hits;
}

#define COUNT(trace, ...)						\
	count_lines(trace, sizeof((const char *const[]){ __VA_ARGS__ }) /	\
		    sizeof(const char *), (const char *const[]){ __VA_ARGS__ })

FIXTURE(tr) {
	struct gvm vm;
	bool tracing;
};

FIXTURE_SETUP(tr)
{
	if (!gvm_test_setup(_metadata, &self->vm, GVM_VMXL, NULL, 1))
		return;
	ASSERT_EQ(0, test_trace_events(true));
	self->tracing = true;
}

FIXTURE_TEARDOWN(tr)
{
	if (self->tracing)
		test_trace_events(false);
	gvm_test_teardown(&self->vm, GVM_VMXL);
}

static void guest_known_exits(uint64_t mmio)
{
	volatile uint32_t *p = (volatile uint32_t *)mmio;
	uint32_t r[4];

	outb(TRACE_PORT, 0x5a);
	p[0] = 0xa5a5a5a5;
	GUEST_ASSERT_EQ(p[2], 0x12345678);
	guest_cpuid(0, 0, r);
	rdmsr(BOGUS_MSR);	/* #GP: the handler reports it, then halts */
}

TEST_F(tr, exits_io_mmio_cpuid_inject)
{
	const char *io_raw, *cpuid_raw;
	struct vmxl_caps caps = {};
	struct gvm_exit e;
	char *t;
	int vm_id, entries, exits;

	ASSERT_EQ(0, ioctl(self->vm.sys_fd, VMXL_GET_CAPS, &caps));
	/* The vendors' raw codes: SVM exit codes, VMX basic exit reasons. */
	if (caps.backend == VMXL_BACKEND_SVM) {
		io_raw = "svm 0x7b ";
		cpuid_raw = "svm 0x72 ";
	} else {
		io_raw = "vmx 0x1e ";
		cpuid_raw = "vmx 0xa ";
	}
	vm_id = ioctl(self->vm.vm_fd, VMXL_GET_VM_ID, 0);
	ASSERT_LT(0, vm_id);

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_known_exits,
					 MMIO_GPA, 0));
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_IO, e.reason);
	ASSERT_EQ(TRACE_PORT, e.port);
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_MMIO, e.reason);
	ASSERT_EQ(1, e.write);
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_MMIO, e.reason);
	ASSERT_EQ(0, e.write);
	gvm_complete_read(&self->vm, 0, 0x12345678);
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_EXCEPTION);
	EXPECT_EQ(13, e.uc.args[0]);

	t = trace_read(vm_id);
	TH_LOG("%d bytes of vmx_lite records for VM %d", (int)strlen(t),
	       vm_id);
	EXPECT_EQ(1, COUNT(t, "vmxl_pio:", "vcpu 0 out port 0x71 size 1 val 0x5a"));
	/* That OUT and the ucall's. */
	EXPECT_EQ(2, COUNT(t, "vmxl_exit:", " io ", io_raw));
	EXPECT_EQ(1, COUNT(t, "vmxl_mmio:", "write len 4 gpa 0xc0000000 val 0xa5a5a5a5"));
	EXPECT_EQ(1, COUNT(t, "vmxl_mmio:", "unsatisfied_read len 4 gpa 0xc0000008 "));
	EXPECT_EQ(1, COUNT(t, "vmxl_mmio:", " read len 4 gpa 0xc0000008 val 0x12345678"));
	EXPECT_EQ(1, COUNT(t, "vmxl_exit:", " cpuid ", cpuid_raw));
	EXPECT_EQ(1, COUNT(t, "vmxl_exit:", " msr "));
	/* The next missing MSR, named: index, read or write, value. */
	EXPECT_EQ(1, COUNT(t, "vmxl_msr_unknown:", "vcpu 0 rdmsr msr 0x12345 val 0x0"));
	EXPECT_EQ(1, COUNT(t, "vmxl_inject:", "exception vector 13 err 0x0"));
	/* The RUNs: io, mmio, mmio, then the ucall (an OUT). */
	EXPECT_EQ(2, COUNT(t, "vmxl_userspace_exit:", "reason mmio ret 0"));
	EXPECT_EQ(2, COUNT(t, "vmxl_userspace_exit:", "reason io ret 0"));
	/*
	 * Nested-page faults: the guest's RAM, each mapped (writable, as
	 * nothing logs it), and the two MMIO accesses.
	 */
	EXPECT_LT(0, COUNT(t, "vmxl_npf:", "mapped writable"));
	EXPECT_EQ(0, COUNT(t, "vmxl_npf:", "mapped read-only"));
	EXPECT_EQ(COUNT(t, "vmxl_npf:") + 2, COUNT(t, "vmxl_exit:", " npf "));
	/* Every entry ends in exactly one exit. */
	entries = COUNT(t, "vmxl_entry:");
	exits = COUNT(t, "vmxl_exit:");
	EXPECT_LT(5, entries);
	EXPECT_EQ(entries, exits);
	free(t);
}

/* Stores to pages 1, 3 and 4 of a logged slot, then HLT. */
GUEST(dirty_pages,
	"mov $0x1000, %bx\n"
	"movb $1, (%bx)\n"
	"mov $0x3000, %bx\n"
	"movb $1, (%bx)\n"
	"mov $0x4008, %bx\n"
	"movb $1, (%bx)\n"
	"hlt\n");

TEST_F(tr, dirty_harvest)
{
	struct vmxl_memory_region mr = { .slot = 0 };
	uint64_t bitmap = 0;
	struct vmxl_dirty_log d = {
		.slot = 0, .flags = VMXL_DIRTY_LOG_CLEAR,
		.bitmap = (uintptr_t)&bitmap,
	};
	struct rvm vm;
	int vm_id;
	char *t;

	ASSERT_EQ(0, rvm_create(&vm, 16 * PAGE, 0x8000));
	rvm_load(&vm, 0x8000, dirty_pages_start,
		 dirty_pages_end - dirty_pages_start);
	mr.flags = VMXL_MEM_LOG_DIRTY;
	mr.memory_size = 16 * PAGE;
	mr.userspace_addr = (uintptr_t)vm.mem;
	ASSERT_EQ(0, ioctl(vm.vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	ASSERT_EQ(0, rvm_run(&vm));
	ASSERT_EQ(VMXL_EXIT_HLT, vm.run->exit_reason);
	ASSERT_EQ(0, ioctl(vm.vm_fd, VMXL_GET_DIRTY_LOG, &d));
	EXPECT_EQ(0x1aULL, bitmap);
	vm_id = ioctl(vm.vm_fd, VMXL_GET_VM_ID, 0);
	t = trace_read(vm_id);
	EXPECT_EQ(1, COUNT(t, "vmxl_dirty_harvest:",
			   "get_clear slot 0 first 0 pages 16 dirty 3"))
		TH_LOG("%s", t);
	free(t);
	rvm_destroy(&vm);
}

TEST_HARNESS_MAIN
