// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures in the module's create and setup paths, by
 * per-task fault injection (/proc/thread-self/fail-nth: the Nth
 * injectable allocation of this thread fails; the debug lane's kernel
 * has it). For each path the call is made with its Nth allocation
 * failing, N = 1, 2, ..., until it succeeds without the fault having
 * been taken. Each failed call must:
 *   - fail with ENOMEM (what docs/uapi.md documents for running out of
 *     memory; netlink's own errors for the dump);
 *   - change none of the module's object counters
 *     (/sys/class/misc/vmx-lite/objects);
 *   - leave its fd usable: the same call, without a fault, succeeds.
 * Each test closes everything, finds every counter at 0 and unloads the
 * module. Leaks the counters do not see (a freed-never array) are
 * kmemleak's: the last test scans and fails on any unreferenced object;
 * the debug lane scans again after every suite. KASAN and lockdep report
 * in the kernel log, which the lane judges; the allocation-failure
 * reports vmalloc prints for the faults injected here are excused there
 * between this program's "vmxl: fault injection on/off" lines (lane.sh).
 *
 * The faults hit the test's own allocations in the kernel too (the VFS's
 * for open and mmap, the fd table, netlink's buffers): those fail the
 * call with ENOMEM as well, and the module must survive them alike.
 * Without fault injection (the svm and vmx lanes' Debian kernel) every
 * test is skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "testlib.h"
#include "vmxl_util.h"
#include "vnl.h"

#define PAGE		4096UL
#define SLOT_SIZE	(4UL << 20)	/* 1024 pages: a kvmalloc'd page array */
#define MAX_NTH		5000		/* no path makes this many allocations */
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FI_DIR		"/sys/kernel/debug/"
#define KMEMLEAK	"/sys/kernel/debug/kmemleak"

/* The debugfs knobs fail-nth needs, and their values while it runs. */
static const struct {
	const char *file, *val;
} knobs[] = {
	/* GFP_KERNEL allocations may sleep: fail them too */
	{ "failslab/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	/* single pages: page tables, the run page, vmalloc's pages */
	{ "fail_page_alloc/min-order", "0" },
	/* one line per injected fault, no stack trace */
	{ "failslab/verbose", "1" },
	{ "fail_page_alloc/verbose", "1" },
};

#define NR_KNOBS	(sizeof(knobs) / sizeof(knobs[0]))

static int write_file(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static void kmsg(const char *line)
{
	write_file("/dev/kmsg", line);
}

struct counts {
	long vms, vcpus, pinned, tables;
};

static void counts_get(struct counts *c)
{
	c->vms = vmxl_objects("vms");
	c->vcpus = vmxl_objects("vcpus");
	c->pinned = vmxl_objects("pinned_pages");
	c->tables = vmxl_objects("table_pages");
}

static bool counts_same(const struct counts *a, const struct counts *b)
{
	return a->vms == b->vms && a->vcpus == b->vcpus &&
	       a->pinned == b->pinned && a->tables == b->tables;
}

FIXTURE(fi) {
	int fi;			/* this thread's fail-nth */
	char saved[NR_KNOBS][32];
	bool knobs_set;
	struct vmxl_caps caps;
	int sys;		/* /dev/vmx-lite */
	int vm;
	int vcpu[2];
	void *mem;		/* SLOT_SIZE bytes of guest RAM */
	void *map;		/* what a mmap path mapped */
	size_t map_len;
	struct vnl nl;
	bool nl_open;
	bool loaded;
	struct vmxl_cpuid_entry cpuid[VMXL_MAX_CPUID_ENTRIES];
	struct vmxl_msr_entry msrs[VMXL_MAX_MSR_ENTRIES];
	uint64_t bitmap[SLOT_SIZE / PAGE / 64];
};

FIXTURE_SETUP(fi)
{
	unsigned int i;
	char path[128];

	self->fi = -1;
	self->sys = -1;
	self->vm = -1;
	self->vcpu[0] = self->vcpu[1] = -1;
	self->mem = MAP_FAILED;
	self->map = MAP_FAILED;
	self->knobs_set = false;
	self->nl_open = false;
	self->loaded = false;
	if (access(FAIL_NTH, W_OK) || access(FI_DIR "failslab", F_OK) ||
	    access(FI_DIR "fail_page_alloc", F_OK))
		SKIP(return, "no per-task fault injection here (" FAIL_NTH
		     ", failslab, fail_page_alloc: the debug lane's kernel)");
	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	self->loaded = true;
	self->sys = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->sys);
	memset(&self->caps, 0, sizeof(self->caps));
	ASSERT_EQ(0, ioctl(self->sys, VMXL_GET_CAPS, &self->caps));
	if (self->caps.backend_status != VMXL_STATUS_OK)
		SKIP(return, "no backend that runs guests");

	for (i = 0; i < NR_KNOBS; i++) {
		snprintf(path, sizeof(path), FI_DIR "%s", knobs[i].file);
		ASSERT_EQ(0, read_file(path, self->saved[i],
				       sizeof(self->saved[i]))) TH_LOG("%s", path);
	}
	self->knobs_set = true;
	for (i = 0; i < NR_KNOBS; i++) {
		snprintf(path, sizeof(path), FI_DIR "%s", knobs[i].file);
		ASSERT_EQ(0, write_file(path, knobs[i].val)) TH_LOG("%s", path);
	}
	self->fi = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fi);
	self->mem = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 0x5a, SLOT_SIZE);
	kmsg("vmxl: fault injection on\n");
}

FIXTURE_TEARDOWN(fi)
{
	struct counts c;
	unsigned int i;
	char path[128];

	if (self->fi >= 0) {
		pwrite(self->fi, "0", 1, 0);
		close(self->fi);
	}
	if (self->knobs_set) {
		kmsg("vmxl: fault injection off\n");
		for (i = 0; i < NR_KNOBS; i++) {
			snprintf(path, sizeof(path), FI_DIR "%s", knobs[i].file);
			write_file(path, self->saved[i]);
		}
	}
	if (self->nl_open)
		vnl_close(&self->nl);
	if (self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	for (i = 0; i < 2; i++)
		if (self->vcpu[i] >= 0)
			close(self->vcpu[i]);
	if (self->vm >= 0)
		close(self->vm);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, SLOT_SIZE);
	if (self->sys >= 0)
		close(self->sys);
	if (!self->loaded)
		return;
	/* Nothing left, and the module goes (no reference leaked). */
	counts_get(&c);
	EXPECT_EQ(0, c.vms);
	EXPECT_EQ(0, c.vcpus);
	EXPECT_EQ(0, c.pinned);
	EXPECT_EQ(0, c.tables);
	EXPECT_EQ(0, test_module_unload("vmx_lite"));
}

/* The Nth injectable allocation of this thread from now on fails. */
static int fi_arm(FIXTURE_DATA(fi) *self, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(self->fi, buf, len, 0) == len ? 0 : -errno;
}

/* Disarm; whether the fault was injected. */
static bool fi_taken(FIXTURE_DATA(fi) *self)
{
	char buf[16] = "";

	if (pread(self->fi, buf, sizeof(buf) - 1, 0) <= 0)
		return false;
	if (atoi(buf) == 0)
		return true;
	pwrite(self->fi, "0", 1, 0);
	return false;
}

/*
 * One path: prep (no fault) makes what the call needs, the call is made
 * with the fault armed (>= 0 or -errno), undo releases what a success
 * made, fini what prep made.
 */
struct fpath {
	const char *name;
	int (*prep)(FIXTURE_DATA(fi) *self);
	long (*call)(FIXTURE_DATA(fi) *self);
	void (*undo)(FIXTURE_DATA(fi) *self, long ret);
	void (*fini)(FIXTURE_DATA(fi) *self);
	int err2, err3;		/* errnos allowed besides ENOMEM */
	bool fresh_retry;	/* retry after fini + prep (netlink) */
};

static void run_path(struct __test_metadata *_metadata,
		     FIXTURE_DATA(fi) *self, const struct fpath *p)
{
	unsigned int n, bad = 0, taken = 0, failed = 0;
	struct counts before, after;
	bool hit = true;
	long ret;

	for (n = 1; n <= MAX_NTH && hit && bad < 5; n++) {
		if (p->prep)
			ASSERT_EQ(0, p->prep(self)) TH_LOG("%s: prep", p->name);
		counts_get(&before);
		ASSERT_EQ(0, fi_arm(self, n));
		ret = p->call(self);
		hit = fi_taken(self);
		taken += hit;
		if (ret < 0) {
			failed++;
			counts_get(&after);
			if (!hit) {
				bad++;
				TH_LOG("%s: failed with %s and no fault injected",
				       p->name, strerror(-ret));
			} else if (-ret != ENOMEM && -ret != p->err2 &&
				   -ret != p->err3) {
				bad++;
				TH_LOG("%s: fault %u: %s, not ENOMEM",
				       p->name, n, strerror(-ret));
			}
			if (!counts_same(&before, &after)) {
				bad++;
				TH_LOG("%s: fault %u: objects vms %ld->%ld vcpus %ld->%ld pinned %ld->%ld tables %ld->%ld",
				       p->name, n, before.vms, after.vms,
				       before.vcpus, after.vcpus,
				       before.pinned, after.pinned,
				       before.tables, after.tables);
			}
			if (p->fresh_retry) {
				p->fini(self);
				ASSERT_EQ(0, p->prep(self));
			}
			/* the fd is still good: the same call succeeds */
			ret = p->call(self);
			if (ret < 0) {
				bad++;
				TH_LOG("%s: after fault %u the call fails again, without a fault: %s",
				       p->name, n, strerror(-ret));
			}
		}
		if (ret >= 0 && p->undo)
			p->undo(self, ret);
		if (p->fini)
			p->fini(self);
	}
	fprintf(stderr, "# %s: %u faults injected, %u failed the call\n",
		p->name, taken, failed);
	EXPECT_EQ(0, bad) TH_LOG("%s: %u bad outcomes", p->name, bad);
	EXPECT_FALSE(hit) TH_LOG("%s: still failing at fault %u", p->name,
				 n - 1);
}

/* After a SKIP in the fixture's setup the 6.1 harness still runs the test. */
#define READY() do { if (_metadata->skip) return; } while (0)

#define UNUSED		__attribute__((unused))
#define RET(expr)	({ long __r = (expr); __r < 0 ? -errno : __r; })

static void close_fd(FIXTURE_DATA(fi) *self UNUSED, long fd)
{
	close(fd);
}

/* ---- /dev/vmx-lite and VMs ---- */

static long call_open(FIXTURE_DATA(fi) *self UNUSED)
{
	return RET(open(VMXL_DEV, O_RDWR | O_CLOEXEC));
}

static long call_default_cpuid(FIXTURE_DATA(fi) *self)
{
	struct vmxl_cpuid c = {
		.nent = VMXL_MAX_CPUID_ENTRIES,
		.entries = (uintptr_t)self->cpuid,
	};

	return RET(ioctl(self->sys, VMXL_GET_DEFAULT_CPUID, &c));
}

static long call_create_vm(FIXTURE_DATA(fi) *self)
{
	return RET(ioctl(self->sys, VMXL_CREATE_VM, 0));
}

static long call_create_vm_lapic(FIXTURE_DATA(fi) *self)
{
	return RET(ioctl(self->sys, VMXL_CREATE_VM, VMXL_VM_LAPIC));
}

static bool has_lapic(FIXTURE_DATA(fi) *self)
{
	return self->caps.features & VMXL_FEAT_LAPIC;
}

TEST_F(fi, open_dev)
{
	struct fpath p = { "open", .call = call_open, .undo = close_fd };

	READY();
	run_path(_metadata, self, &p);
}

TEST_F(fi, default_cpuid)
{
	struct fpath p = { "GET_DEFAULT_CPUID", .call = call_default_cpuid };

	READY();
	run_path(_metadata, self, &p);
}

TEST_F(fi, create_vm)
{
	struct fpath p = { "CREATE_VM", .call = call_create_vm,
			   .undo = close_fd };

	READY();
	run_path(_metadata, self, &p);
}

TEST_F(fi, create_vm_lapic)
{
	struct fpath p = { "CREATE_VM(LAPIC)", .call = call_create_vm_lapic,
			   .undo = close_fd };

	READY();
	if (!has_lapic(self))
		SKIP(return, "no VMXL_FEAT_LAPIC here");
	run_path(_metadata, self, &p);
}

/* ---- vCPUs ---- */

static long call_create_vcpu(FIXTURE_DATA(fi) *self)
{
	return RET(ioctl(self->vm, VMXL_CREATE_VCPU, 1));
}

static void new_vm(struct __test_metadata *_metadata,
		   FIXTURE_DATA(fi) *self, unsigned long flags)
{
	self->vm = ioctl(self->sys, VMXL_CREATE_VM, flags);
	ASSERT_LE(0, self->vm);
}

TEST_F(fi, create_vcpu)
{
	struct fpath p = { "CREATE_VCPU", .call = call_create_vcpu,
			   .undo = close_fd };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	run_path(_metadata, self, &p);
}

TEST_F(fi, create_vcpu_lapic)
{
	struct fpath p = { "CREATE_VCPU(LAPIC)", .call = call_create_vcpu,
			   .undo = close_fd };

	READY();
	if (!has_lapic(self))
		SKIP(return, "no VMXL_FEAT_LAPIC here");
	new_vm(_metadata, self, VMXL_VM_LAPIC);
	run_path(_metadata, self, &p);
}

/* A vCPU made once the VM has dirty rings gets its own ring. */
TEST_F(fi, create_vcpu_with_ring)
{
	struct fpath p = { "CREATE_VCPU(ring)", .call = call_create_vcpu,
			   .undo = close_fd };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_EQ(0, ioctl(self->vm, VMXL_ENABLE_DIRTY_RING, 4096));
	run_path(_metadata, self, &p);
}

static long call_mmap(FIXTURE_DATA(fi) *self)
{
	off_t off = self->map_len == PAGE ? 0 : VMXL_DIRTY_RING_OFFSET * PAGE;

	self->map = mmap(NULL, self->map_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->vcpu[0], off);
	return self->map == MAP_FAILED ? -errno : 0;
}

static void unmap(FIXTURE_DATA(fi) *self, long ret UNUSED)
{
	munmap(self->map, self->map_len);
	self->map = MAP_FAILED;
}

TEST_F(fi, mmap_run_page)
{
	struct fpath p = { "mmap(run page)", .call = call_mmap,
			   .undo = unmap };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	self->map_len = PAGE;
	run_path(_metadata, self, &p);
}

TEST_F(fi, mmap_dirty_ring)
{
	struct fpath p = { "mmap(dirty ring)", .call = call_mmap,
			   .undo = unmap };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_EQ(0, ioctl(self->vm, VMXL_ENABLE_DIRTY_RING, 4096));
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	self->map_len = 4096 * sizeof(struct vmxl_dirty_entry);
	run_path(_metadata, self, &p);
}

/* ---- memory slots and dirty logging ---- */

static long set_slot(FIXTURE_DATA(fi) *self, uint32_t flags, uint64_t size)
{
	struct vmxl_memory_region mr = {
		.slot = 0, .flags = flags, .guest_phys_addr = 0,
		.memory_size = size, .userspace_addr = (uintptr_t)self->mem,
	};

	return RET(ioctl(self->vm, VMXL_SET_MEMORY_REGION, &mr));
}

static long call_slot(FIXTURE_DATA(fi) *self)
{
	return set_slot(self, 0, SLOT_SIZE);
}

static long call_slot_dirty(FIXTURE_DATA(fi) *self)
{
	return set_slot(self, VMXL_MEM_LOG_DIRTY, SLOT_SIZE);
}

static void del_slot(FIXTURE_DATA(fi) *self, long ret UNUSED)
{
	set_slot(self, 0, 0);
}

TEST_F(fi, set_memory_region)
{
	struct fpath p = { "SET_MEMORY_REGION", .call = call_slot,
			   .undo = del_slot };

	READY();
	new_vm(_metadata, self, 0);
	run_path(_metadata, self, &p);
}

TEST_F(fi, set_memory_region_logged)
{
	struct fpath p = { "SET_MEMORY_REGION(LOG_DIRTY)",
			   .call = call_slot_dirty, .undo = del_slot };

	READY();
	new_vm(_metadata, self, 0);
	run_path(_metadata, self, &p);
}

/* Logging switched on for a live slot: a new bitmap, the pages kept. */
static void logging_off(FIXTURE_DATA(fi) *self, long ret UNUSED)
{
	set_slot(self, 0, SLOT_SIZE);
}

TEST_F(fi, dirty_logging_on)
{
	struct fpath p = { "SET_MEMORY_REGION(logging on)",
			   .call = call_slot_dirty, .undo = logging_off };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_EQ(0, call_slot(self));
	run_path(_metadata, self, &p);
}

static long call_get_clear(FIXTURE_DATA(fi) *self)
{
	struct vmxl_dirty_log d = {
		.slot = 0, .flags = VMXL_DIRTY_LOG_CLEAR,
		.bitmap = (uintptr_t)self->bitmap,
	};

	return RET(ioctl(self->vm, VMXL_GET_DIRTY_LOG, &d));
}

TEST_F(fi, get_dirty_log_clear)
{
	struct fpath p = { "GET_DIRTY_LOG(CLEAR)", .call = call_get_clear };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_EQ(0, call_slot_dirty(self));
	run_path(_metadata, self, &p);
}

/* A VM with two vCPUs, each getting a ring. */
static int prep_vm2(FIXTURE_DATA(fi) *self)
{
	int i;

	self->vm = ioctl(self->sys, VMXL_CREATE_VM, 0);
	if (self->vm < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		self->vcpu[i] = ioctl(self->vm, VMXL_CREATE_VCPU, i);
		if (self->vcpu[i] < 0)
			return -errno;
	}
	return 0;
}

static void fini_vm2(FIXTURE_DATA(fi) *self)
{
	int i;

	for (i = 0; i < 2; i++) {
		close(self->vcpu[i]);
		self->vcpu[i] = -1;
	}
	close(self->vm);
	self->vm = -1;
}

static long call_enable_ring(FIXTURE_DATA(fi) *self)
{
	return RET(ioctl(self->vm, VMXL_ENABLE_DIRTY_RING, 4096));
}

TEST_F(fi, enable_dirty_ring)
{
	struct fpath p = { "ENABLE_DIRTY_RING", .prep = prep_vm2,
			   .call = call_enable_ring, .fini = fini_vm2 };

	READY();
	run_path(_metadata, self, &p);
}

/* ---- the SMMU ---- */

static long call_smmu(FIXTURE_DATA(fi) *self)
{
	struct vmxl_smmu_config c = {
		.base_gpa = 0xd0000000ULL, .sid_bits = 8, .ssid_bits = 4,
		.iotlb_entries = 4096,
	};

	return RET(ioctl(self->vm, VMXL_CREATE_SMMU, &c));
}

TEST_F(fi, create_smmu)
{
	struct fpath p = { "CREATE_SMMU", .prep = prep_vm2,
			   .call = call_smmu, .fini = fini_vm2 };

	READY();
	run_path(_metadata, self, &p);
}

/* ---- vCPU tables ---- */

static long call_set_cpuid(FIXTURE_DATA(fi) *self)
{
	struct vmxl_cpuid c = {
		.nent = VMXL_MAX_CPUID_ENTRIES,
		.entries = (uintptr_t)self->cpuid,
	};

	return RET(ioctl(self->vcpu[0], VMXL_SET_CPUID, &c));
}

TEST_F(fi, set_cpuid)
{
	struct fpath p = { "SET_CPUID(256)", .call = call_set_cpuid };
	struct vmxl_cpuid c = {
		.nent = VMXL_MAX_CPUID_ENTRIES,
		.entries = (uintptr_t)self->cpuid,
	};
	uint32_t i;

	READY();
	ASSERT_LE(0, ioctl(self->sys, VMXL_GET_DEFAULT_CPUID, &c));
	for (i = c.nent; i < VMXL_MAX_CPUID_ENTRIES; i++) {
		memset(&self->cpuid[i], 0, sizeof(self->cpuid[i]));
		self->cpuid[i].function = 0x40000100 + i;
	}
	new_vm(_metadata, self, 0);
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	run_path(_metadata, self, &p);
}

static long call_msrs(FIXTURE_DATA(fi) *self, unsigned long cmd)
{
	struct vmxl_msrs m = {
		.nmsrs = VMXL_MAX_MSR_ENTRIES,
		.entries = (uintptr_t)self->msrs,
	};
	long ret = RET(ioctl(self->vcpu[0], cmd, &m));

	/* every entry is one the module has */
	return ret >= 0 && ret != VMXL_MAX_MSR_ENTRIES ? -EPROTO : ret;
}

static long call_set_msrs(FIXTURE_DATA(fi) *self)
{
	return call_msrs(self, VMXL_SET_MSRS);
}

static long call_get_msrs(FIXTURE_DATA(fi) *self)
{
	return call_msrs(self, VMXL_GET_MSRS);
}

TEST_F(fi, set_get_msrs)
{
	struct fpath set = { "SET_MSRS(256)", .call = call_set_msrs };
	struct fpath get = { "GET_MSRS(256)", .call = call_get_msrs };
	unsigned int i;

	READY();
	for (i = 0; i < VMXL_MAX_MSR_ENTRIES; i++) {
		memset(&self->msrs[i], 0, sizeof(self->msrs[i]));
		self->msrs[i].index = 0x175;	/* IA32_SYSENTER_ESP */
		self->msrs[i].data = i * 8;
	}
	new_vm(_metadata, self, 0);
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	run_path(_metadata, self, &set);
	run_path(_metadata, self, &get);
}

static long call_get_lapic(FIXTURE_DATA(fi) *self)
{
	static struct vmxl_lapic_state s;

	return RET(ioctl(self->vcpu[0], VMXL_GET_LAPIC, &s));
}

TEST_F(fi, get_lapic)
{
	struct fpath p = { "GET_LAPIC", .call = call_get_lapic };

	READY();
	if (!has_lapic(self))
		SKIP(return, "no VMXL_FEAT_LAPIC here");
	new_vm(_metadata, self, VMXL_VM_LAPIC);
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	run_path(_metadata, self, &p);
}

/* ---- reset points: the copy of a slot and of two vCPUs ---- */

static long call_set_reset_point(FIXTURE_DATA(fi) *self)
{
	struct vmxl_reset_point rp = { 0 };

	return RET(ioctl(self->vm, VMXL_SET_RESET_POINT, &rp));
}

TEST_F(fi, set_reset_point)
{
	struct fpath p = { "SET_RESET_POINT", .call = call_set_reset_point };
	unsigned int flags = has_lapic(self) ? VMXL_VM_LAPIC : 0;

	READY();
	new_vm(_metadata, self, flags);
	ASSERT_EQ(0, call_slot(self));
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	ASSERT_LE(0, self->vcpu[1] = ioctl(self->vm, VMXL_CREATE_VCPU, 1));
	run_path(_metadata, self, &p);
	/* the point the last call left, then none: a reset, a layout change */
	EXPECT_LE(0, ioctl(self->vm, VMXL_RESET_TO_POINT,
			   &(struct vmxl_reset_point){ 0 }));
	EXPECT_EQ(0, set_slot(self, 0, 0));
}

/* ---- netlink: a dump of the VMs ---- */

static int prep_nl(FIXTURE_DATA(fi) *self)
{
	int ret = vnl_open(&self->nl);

	self->nl_open = !ret;
	return ret;
}

static void fini_nl(FIXTURE_DATA(fi) *self)
{
	vnl_close(&self->nl);
	self->nl_open = false;
}

static long call_dump(FIXTURE_DATA(fi) *self)
{
	static struct vnl_vm vms[4];
	int n = vnl_dump_vms(&self->nl, vms, 4);

	return n >= 0 && n != 1 ? -EPROTO : n;
}

TEST_F(fi, netlink_dump)
{
	/* libnl turns a failed receive into EIO; netlink's own: ENOBUFS */
	struct fpath p = { "netlink GET_VM dump", .prep = prep_nl,
			   .call = call_dump, .fini = fini_nl, .err2 = EIO,
			   .err3 = ENOBUFS,
			   .fresh_retry = true };

	READY();
	new_vm(_metadata, self, 0);
	ASSERT_LE(0, self->vcpu[0] = ioctl(self->vm, VMXL_CREATE_VCPU, 0));
	run_path(_metadata, self, &p);
}

/*
 * Last: kmemleak finds nothing this program (or a suite before it) left
 * unreferenced. An object is reported once it is 5 s old; two scans, as
 * guest-init.sh does at the end of the debug lane.
 */
TEST_F_TIMEOUT(fi, kmemleak_finds_nothing, 300)
{
	static char report[65536];
	unsigned int objects = 0;
	char *line, *save;
	ssize_t n;
	int fd;

	READY();
	if (access(KMEMLEAK, W_OK))
		SKIP(return, "no kmemleak here");
	sleep(6);
	ASSERT_EQ(0, write_file(KMEMLEAK, "scan"));
	sleep(6);
	ASSERT_EQ(0, write_file(KMEMLEAK, "scan"));
	fd = open(KMEMLEAK, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = read(fd, report, sizeof(report) - 1);
	close(fd);
	ASSERT_LE(0, n);
	report[n] = 0;
	for (line = strtok_r(report, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "unreferenced object"))
			objects++;
		if (objects && objects <= 8)
			TH_LOG("%s", line);
	}
	EXPECT_EQ(0, objects) TH_LOG("kmemleak: %u unreferenced objects",
				     objects);
}

TEST_HARNESS_MAIN
