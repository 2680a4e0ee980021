// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty-page logging, checked page by page: long-mode guests write into a
 * logged slot while the host reads the log. Every test that both
 * hypervisors can run runs on vmx-lite and on KVM (GET/CLEAR_DIRTY_LOG
 * with manual protect), and the exact dirty sets of vmx-lite are compared
 * with KVM's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kernel-page-flags.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dlog.h"
#include "gvm.h"
#include "harness.h"

#define LOG_SLOT	1
#define LOG_GPA		0x40000000ULL	/* identity-mapped, above slot 0 */
#define LOG_PAGES	512
#define PAGE		4096ULL
#define BM_WORDS	(LOG_PAGES / 64)

FIXTURE(dl) {
	struct gvm vm;
	uint8_t *mem;		/* the logged slot */
};

/*
 * vmxl: vmx-lite's default, PML where the CPU has it, else write
 * protection; vmxl_wp: write protection on every CPU; kvm.
 */
GVM_VARIANTS(dl, GVM_VMXL_VARIANT(dl, vmxl_wp, "pml=0"));

static int log_slot_set(struct gvm *vm, void *mem, bool log)
{
	return dlog_slot_set(vm, LOG_SLOT, LOG_GPA, mem, LOG_PAGES * PAGE, log);
}

/* The whole slot's bitmap; the log is left as it is. */
static int log_get(struct gvm *vm, uint64_t *bm)
{
	return dlog_get(vm, LOG_SLOT, bm, LOG_PAGES);
}

static int log_clear(struct gvm *vm, uint64_t first, uint64_t n,
		     const uint64_t *bm)
{
	return dlog_clear(vm, LOG_SLOT, first, n, bm);
}

static bool bit(const uint64_t *bm, unsigned int i)
{
	return bm[i / 64] & (1ULL << (i % 64));
}

FIXTURE_SETUP(dl)
{
	GVM_SETUP(2);
	/* KVM: GET leaves the log alone, CLEAR re-protects: our model. */
	ASSERT_EQ(0, dlog_init(&self->vm));
	self->mem = mmap(NULL, LOG_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	ASSERT_EQ(0, log_slot_set(&self->vm, self->mem, true));
}

/* The slot's memory goes once the VM that maps it is gone. */
FIXTURE_TEARDOWN(dl)
{
	GVM_TEARDOWN();
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, LOG_PAGES * PAGE);
}

/*
 * Round m (3, 5, 7): write the pages i with i % m == 1, then report.
 * Last, read every page and report.
 */
static void guest_patterns(uint64_t base)
{
	uint64_t sum = 0, i, m;

	for (m = 3; m <= 7; m += 2) {
		for (i = 0; i < LOG_PAGES; i++)
			if (i % m == 1)
				*(volatile uint64_t *)(base + i * PAGE + 8 * m) = m;
		GUEST_SYNC(m, 0);
	}
	for (i = 0; i < LOG_PAGES; i++)
		sum += *(volatile uint64_t *)(base + i * PAGE);
	GUEST_SYNC(0, sum);
}

/*
 * The dirty sets of the variant that runs first (vmxl), for the others to
 * match. Each test runs in a process of its own, so they go through a
 * file: memory would be gone when the next variant starts.
 */
#define SEEN_FILE	"/tmp/test_dirty_log.exact_pages"
static uint64_t seen_bitmaps[3][BM_WORDS];

static bool seen_io(bool save)
{
	FILE *f = fopen(SEEN_FILE, save ? "w" : "r");
	size_t n;

	if (!f)
		return false;
	n = save ? fwrite(seen_bitmaps, sizeof(seen_bitmaps), 1, f) :
		   fread(seen_bitmaps, sizeof(seen_bitmaps), 1, f);
	return !fclose(f) && n == 1;
}

TEST_F(dl, exact_pages_then_reads)
{
	uint64_t bm[BM_WORDS], again[BM_WORDS];
	struct gvm_exit e;
	unsigned int i, round, m, bad = 0;
	bool first = variant->kind == GVM_VMXL && !variant->vmxl_params;
	bool compare = !first && seen_io(false);

	if (!first && !compare)
		TH_LOG("no dirty sets of the vmxl variant to compare with");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_patterns,
					 LOG_GPA, 0));
	for (round = 0, m = 3; m <= 7; round++, m += 2) {
		ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
		ASSERT_EQ(m, e.uc.args[0]);
		ASSERT_EQ(0, log_get(&self->vm, bm));
		for (i = 0; i < LOG_PAGES; i++) {
			if (bit(bm, i) != (i % m == 1)) {
				if (bad++ < 8)
					TH_LOG("round %u page %u: dirty %d",
					       m, i, bit(bm, i));
			}
			/* the host sees what the guest wrote */
			if (i % m == 1)
				EXPECT_EQ(m, *(uint64_t *)(self->mem + i * PAGE +
							   8 * m));
		}
		/* GET alone clears nothing: a failed snapshot loses nothing */
		ASSERT_EQ(0, log_get(&self->vm, again));
		EXPECT_EQ(0, memcmp(bm, again, sizeof(bm)));
		if (compare) {
			EXPECT_EQ(0, memcmp(bm, seen_bitmaps[round], sizeof(bm)))
				TH_LOG("round %u differs from vmx-lite's", m);
		} else {
			memcpy(seen_bitmaps[round], bm, sizeof(bm));
		}
		ASSERT_EQ(0, log_clear(&self->vm, 0, LOG_PAGES, bm));
		ASSERT_EQ(0, log_get(&self->vm, again));
		for (i = 0; i < BM_WORDS; i++)
			EXPECT_EQ(0, again[i]);
	}
	EXPECT_EQ(0, bad);
	if (first)
		ASSERT_TRUE(seen_io(true));

	/*
	 * Reads. vmx-lite maps a page read-only until its first write, so
	 * reading dirties nothing. KVM maps a page writable on a read fault
	 * where it can and logs it dirty right then: a documented difference
	 * (a superset, never a missed page), so only vmx-lite is held to it.
	 */
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	ASSERT_EQ(0, log_get(&self->vm, bm));
	for (bad = 0, i = 0; i < LOG_PAGES; i++)
		bad += bit(bm, i);
	if (variant->kind == GVM_VMXL) {
		EXPECT_EQ(0, bad);
	} else {
		TH_LOG("KVM logged %u of %u read-only pages dirty", bad,
		       LOG_PAGES);
	}
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_DONE);
}

/*
 * Each vCPU stores a rising count into pseudo-random pages, forever. It
 * runs with IF=1 (no interrupt is ever sent to it): Bochs 2.7 holds the
 * host's interrupts while a VMX guest has IF=0, and KVM, unlike vmx-lite,
 * has no timer of its own to take the CPU back from a guest that never
 * exits, so its host would never run again.
 */
static void guest_random_writer(uint64_t base, uint64_t seed)
{
	uint64_t x = seed, n;

	asm volatile("sti");
	for (n = 1;; n++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		*(volatile uint64_t *)(base + ((x >> 33) % LOG_PAGES) * PAGE +
				       8 * (seed & 1)) = n;
	}
}

struct runner {
	struct gvm *vm;
	int cpu;
	int ret;
};

static void *run_vcpu(void *arg)
{
	struct runner *r = arg;
	struct gvm_exit e;

	r->ret = gvm_run(r->vm, r->cpu, &e);
	if (!r->ret)
		r->ret = 1000 + e.reason;	/* it never exits by itself */
	return NULL;
}

/* The two words the two vCPUs write in every page. */
static void read_words(const uint8_t *mem, uint64_t (*w)[2])
{
	unsigned int i;

	for (i = 0; i < LOG_PAGES; i++) {
		w[i][0] = *(const volatile uint64_t *)(mem + i * PAGE);
		w[i][1] = *(const volatile uint64_t *)(mem + i * PAGE + 8);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * Two vCPUs write while the host harvests, as dirty_log_test does. The
 * host reads every page, gets and clears the log, and then reads them all
 * again: any page that changed between the previous round's second read
 * and this round's first read changed after the previous clear and
 * before this one, so its bit must be set. Nothing may be missed.
 */
TEST_F(dl, two_vcpus_write_while_host_harvests)
{
	static uint64_t snap[LOG_PAGES][2], cur[LOG_PAGES][2];
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct runner r[2];
	pthread_t th[2];
	uint64_t bm[BM_WORDS];
	unsigned int i, round, changed, missed = 0, total = 0;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, i,
						 guest_random_writer, LOG_GPA,
						 0x1234 + i));
		r[i] = (struct runner){ .vm = &self->vm, .cpu = i };
	}
	read_words(self->mem, snap);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, run_vcpu, &r[i]));

	for (round = 0; round < 8; round++) {
		usleep(100000);
		read_words(self->mem, cur);
		ASSERT_EQ(0, log_get(&self->vm, bm));
		ASSERT_EQ(0, log_clear(&self->vm, 0, LOG_PAGES, bm));
		changed = 0;
		for (i = 0; i < LOG_PAGES; i++) {
			if (!memcmp(cur[i], snap[i], sizeof(cur[i])))
				continue;
			changed++;
			if (!bit(bm, i) && missed++ < 8)
				TH_LOG("round %u: page %u changed, not dirty",
				       round, i);
		}
		total += changed;
		read_words(self->mem, snap);
	}
	for (i = 0; i < 2; i++) {
		pthread_kill(th[i], SIGUSR1);
		pthread_join(th[i], NULL);
		EXPECT_EQ(-EINTR, r[i].ret);
	}
	signal(SIGUSR1, SIG_DFL);
	EXPECT_EQ(0, missed);
	EXPECT_LT(0, total);	/* the guests did write, and it was seen */
}

/* One page written per sync; the host toggles logging in between. */
static void guest_write_page(uint64_t base)
{
	uint64_t i;

	for (i = 0;; i++) {
		*(volatile uint64_t *)(base + (i % LOG_PAGES) * PAGE) = i + 1;
		GUEST_SYNC(i, 0);
	}
}

TEST_F(dl, logging_on_and_off_on_a_live_slot)
{
	uint64_t bm[BM_WORDS];
	struct gvm_exit e;
	unsigned int i;

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_write_page,
					 LOG_GPA, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);	/* page 0 */
	ASSERT_EQ(0, log_get(&self->vm, bm));
	EXPECT_EQ(1, bm[0]);

	ASSERT_EQ(0, log_slot_set(&self->vm, self->mem, false));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);	/* page 1, unlogged */
	EXPECT_EQ(2, *(uint64_t *)(self->mem + PAGE));
	/* not logging: KVM says ENOENT, vmx-lite EINVAL (ENOENT: no slot) */
	if (variant->kind == GVM_VMXL) {
		EXPECT_EQ(-EINVAL, log_get(&self->vm, bm));
	} else {
		EXPECT_EQ(-ENOENT, log_get(&self->vm, bm));
	}

	/* On again: everything starts clean, the next write is seen. */
	ASSERT_EQ(0, log_slot_set(&self->vm, self->mem, true));
	ASSERT_EQ(0, log_get(&self->vm, bm));
	for (i = 0; i < BM_WORDS; i++)
		EXPECT_EQ(0, bm[i]);
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);	/* page 2 */
	ASSERT_EQ(0, log_get(&self->vm, bm));
	EXPECT_EQ(4, bm[0]);
	EXPECT_EQ(3, *(uint64_t *)(self->mem + 2 * PAGE));
}

/* vmx-lite's own rules: ranges, flags, reserved fields, slots. */
TEST_F(dl, vmxl_bad_arguments)
{
	uint64_t bm[BM_WORDS] = { ~0ULL };
	struct vmxl_dirty_log d = { .slot = LOG_SLOT, .bitmap = (uintptr_t)bm };
	struct vmxl_dirty_log t;
	int fd = self->vm.vm_fd;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "vmx-lite's API");
#define BAD(cmd, field, val, err) do {					\
		t = d; t.field = val;					\
		EXPECT_EQ(-1, ioctl(fd, cmd, &t));			\
		EXPECT_EQ(err, errno);					\
	} while (0)
	BAD(VMXL_GET_DIRTY_LOG, flags, 2, EINVAL);
	BAD(VMXL_GET_DIRTY_LOG, first_page, 64, EINVAL);
	BAD(VMXL_GET_DIRTY_LOG, num_pages, 1, EINVAL);
	BAD(VMXL_GET_DIRTY_LOG, reserved[1], 1, EINVAL);
	BAD(VMXL_GET_DIRTY_LOG, slot, 0, EINVAL);	/* not logging */
	BAD(VMXL_GET_DIRTY_LOG, slot, 2, ENOENT);
	BAD(VMXL_GET_DIRTY_LOG, slot, 1u << 20, EINVAL);
	BAD(VMXL_GET_DIRTY_LOG, bitmap, 8, EFAULT);
	BAD(VMXL_CLEAR_DIRTY_LOG, flags, VMXL_DIRTY_LOG_CLEAR, EINVAL);
	BAD(VMXL_CLEAR_DIRTY_LOG, first_page, 1, EINVAL);	/* unaligned */
	BAD(VMXL_CLEAR_DIRTY_LOG, first_page, LOG_PAGES, EINVAL);
	t = d;
	t.num_pages = LOG_PAGES + 1;
	EXPECT_EQ(-1, ioctl(fd, VMXL_CLEAR_DIRTY_LOG, &t));
	EXPECT_EQ(EINVAL, errno);
	t.first_page = 64;
	t.num_pages = LOG_PAGES - 63;
	EXPECT_EQ(-1, ioctl(fd, VMXL_CLEAR_DIRTY_LOG, &t));
	EXPECT_EQ(EINVAL, errno);
	t.num_pages = LOG_PAGES - 64;
	EXPECT_EQ(0, ioctl(fd, VMXL_CLEAR_DIRTY_LOG, &t));
	t.bitmap = 8;
	EXPECT_EQ(-1, ioctl(fd, VMXL_CLEAR_DIRTY_LOG, &t));
	EXPECT_EQ(EFAULT, errno);
#undef BAD
	/* Get-and-clear, then the slot goes away while logging. */
	t = d;
	t.flags = VMXL_DIRTY_LOG_CLEAR;
	EXPECT_EQ(0, ioctl(fd, VMXL_GET_DIRTY_LOG, &t));
	{
		struct vmxl_memory_region mr = { .slot = LOG_SLOT };

		EXPECT_EQ(0, ioctl(fd, VMXL_SET_MEMORY_REGION, &mr));
	}
	EXPECT_EQ(-1, ioctl(fd, VMXL_GET_DIRTY_LOG, &d));
	EXPECT_EQ(ENOENT, errno);
}

/* REP INSB into the logged slot: the module writes, the page is dirty. */
static void guest_rep_ins(uint64_t dst)
{
	asm volatile("rep insb" : "+D" (dst) : "d" (0x99), "c" (4UL) : "memory");
	GUEST_SYNC(0, 0);
}

TEST_F(dl, module_writes_are_logged)
{
	uint64_t bm[BM_WORDS];
	struct gvm_exit e;
	int n;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "KVM batches string I/O differently");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_rep_ins,
					 LOG_GPA + 5 * PAGE + 100, 0));
	for (n = 0; n < 4; n++) {
		ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
		ASSERT_EQ(GVM_EXIT_IO, e.reason);
		ASSERT_EQ(0x99, e.port);
		gvm_complete_read(&self->vm, 0, 0xa0 + n);
	}
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(0xa3, self->mem[5 * PAGE + 103]);
	ASSERT_EQ(0, log_get(&self->vm, bm));
	EXPECT_EQ(1ULL << 5, bm[0]);
}

/* The 64-bit entry @index of /proc file @path into *@val: 0 or -errno. */
static int proc_u64(const char *path, uint64_t index, uint64_t *val)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, val, 8, index * 8) != 8)
		ret = -EIO;
	close(fd);
	return ret;
}

/*
 * Whether the struct page behind @p has PG_dirty (/proc/kpageflags
 * KPF_DIRTY, found through /proc/self/pagemap; both need root): 1, 0, or
 * -errno.
 */
static int page_dirty(const void *p)
{
	uint64_t ent, pfn, flags;
	int ret;

	ret = proc_u64("/proc/self/pagemap", (uintptr_t)p / PAGE, &ent);
	if (ret)
		return ret;
	pfn = ent & ((1ULL << 55) - 1);	/* 0 without CAP_SYS_ADMIN */
	if (!(ent >> 63) || !pfn)
		return -EPERM;
	ret = proc_u64("/proc/kpageflags", pfn, &flags);
	return ret ?: !!(flags & (1ULL << KPF_DIRTY));
}

#define MM_SLOT		2
#define MM_GPA		(LOG_GPA + LOG_PAGES * PAGE)
#define MM_PAGES	8

/* Write the even pages of @base, each with its number. */
static void guest_write_even(uint64_t base)
{
	uint64_t i;

	for (i = 0; i < MM_PAGES; i += 2)
		*(volatile uint64_t *)(base + i * PAGE + 64) = 0x600d0000 + i;
	GUEST_SYNC(0, 0);
}

/*
 * The guest writes through the nested tables, which the process's page
 * tables never see, so only the hypervisor can tell the mm that a page
 * changed; one it thinks clean can be written back late, or dropped in
 * favour of a stale copy on disk or in swap. An anonymous page this
 * process wrote is mapped dirty, but PG_dirty is still clear: once the
 * guest wrote it and the VM is gone, PG_dirty must be set. (vmx-lite
 * marks every page of a writable slot when it unpins it; KVM the pages
 * it mapped writable, when it drops their mapping.)
 */
TEST_F(dl, guest_writes_reach_the_mm)
{
	struct gvm_exit e;
	uint8_t *mem;
	int i, ret;

	/* 32 KiB: no huge page, whose flags would be its head page's */
	mem = mmap(NULL, MM_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < MM_PAGES; i++) {
		mem[i * PAGE] = i;
		ret = page_dirty(mem + i * PAGE);
		ASSERT_EQ(0, ret)
			TH_LOG("page %d: %s", i, ret > 0 ?
			       "PG_dirty before any guest ran" : strerror(-ret));
	}
	ASSERT_EQ(0, dlog_slot_set(&self->vm, MM_SLOT, MM_GPA, mem,
				   MM_PAGES * PAGE, false));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_write_even,
					 MM_GPA, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	for (i = 0; i < MM_PAGES; i += 2)
		ASSERT_EQ(0x600d0000 + i, *(uint64_t *)(mem + i * PAGE + 64));
	gvm_destroy(&self->vm);
	for (i = 0; i < MM_PAGES; i += 2) {	/* braces: TH_LOG is a loop */
		EXPECT_EQ(1, page_dirty(mem + i * PAGE))
			TH_LOG("the guest wrote page %d, the mm does not know", i);
	}
	munmap(mem, MM_PAGES * PAGE);
}

/* Harvest @ring from *@next on: count DIRTY entries, mark them RESET. */
static unsigned int ring_harvest(struct vmxl_dirty_entry *ring, unsigned int size,
				 unsigned int *next, uint8_t *seen,
				 unsigned int *dups, unsigned int *bad)
{
	unsigned int n = 0;

	for (;;) {
		struct vmxl_dirty_entry *e = &ring[*next & (size - 1)];

		if (__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) !=
		    VMXL_DIRTY_ENTRY_DIRTY)
			break;
		if (e->slot != LOG_SLOT || e->offset >= LOG_PAGES)
			(*bad)++;
		else if (seen[e->offset]++)
			(*dups)++;
		__atomic_store_n(&e->flags, VMXL_DIRTY_ENTRY_RESET,
				 __ATOMIC_RELEASE);
		(*next)++;
		n++;
	}
	return n;
}

/*
 * The ring reports the same pages as the bitmap, each once per
 * clean-to-dirty change, across wrap-arounds (347 pages, 256 entries).
 */
TEST_F(dl, vmxl_ring_harvest_and_reset)
{
	const unsigned int size = 256;
	struct vmxl_dirty_entry *ring;
	uint8_t seen[LOG_PAGES];
	unsigned int i, m, next = 0, dups = 0, bad = 0, n;
	uint64_t bm[BM_WORDS];
	struct gvm_exit e;
	void *p;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "vmx-lite's API");
	ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, size));
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, size));
	EXPECT_EQ(EBUSY, errno);
	p = mmap(NULL, 2 * size * sizeof(*ring), PROT_READ | PROT_WRITE,
		 MAP_SHARED, self->vm.vcpu_fd[0], VMXL_DIRTY_RING_OFFSET * PAGE);
	EXPECT_EQ(MAP_FAILED, p);		/* wrong size */
	ring = mmap(NULL, size * sizeof(*ring), PROT_READ | PROT_WRITE,
		    MAP_SHARED, self->vm.vcpu_fd[0],
		    VMXL_DIRTY_RING_OFFSET * PAGE);
	ASSERT_NE(MAP_FAILED, ring);

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_patterns,
					 LOG_GPA, 0));
	for (m = 3; m <= 7; m += 2) {
		ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
		memset(seen, 0, sizeof(seen));
		n = ring_harvest(ring, size, &next, seen, &dups, &bad);
		for (i = 0; i < LOG_PAGES; i++) {
			EXPECT_EQ(i % m == 1, seen[i]) TH_LOG("round %u page %u", m, i);
		}
		/* the bitmap agrees */
		ASSERT_EQ(0, log_get(&self->vm, bm));
		for (i = 0; i < LOG_PAGES; i++)
			EXPECT_EQ(i % m == 1, bit(bm, i));
		EXPECT_EQ((long)n, ioctl(self->vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0));
		/* reset re-protected and cleared them */
		ASSERT_EQ(0, log_get(&self->vm, bm));
		for (i = 0; i < BM_WORDS; i++)
			EXPECT_EQ(0, bm[i]);
	}
	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, bad);
	munmap(ring, size * sizeof(*ring));
}

/*
 * Userspace owns the ring's memory and may rewrite an entry between its
 * harvest and the reset: an entry naming no slot, or a page beyond its
 * slot, is freed without re-arming anything; the rest are re-armed.
 */
TEST_F(dl, vmxl_ring_reset_survives_rewritten_entries)
{
	const unsigned int size = 256;
	struct vmxl_dirty_entry *ring;
	uint64_t bm[BM_WORDS], off0, off1, off2;
	unsigned int i, n = 0;
	struct gvm_exit e;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "vmx-lite's API");
	ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, size));
	ring = mmap(NULL, size * sizeof(*ring), PROT_READ | PROT_WRITE,
		    MAP_SHARED, self->vm.vcpu_fd[0],
		    VMXL_DIRTY_RING_OFFSET * PAGE);
	ASSERT_NE(MAP_FAILED, ring);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_patterns,
					 LOG_GPA, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);	/* pages i % 3 == 1 */
	while (n < size && ring[n].flags == VMXL_DIRTY_ENTRY_DIRTY)
		n++;
	ASSERT_EQ((LOG_PAGES + 1) / 3, n);
	off0 = ring[0].offset;
	off1 = ring[1].offset;
	off2 = ring[2].offset;
	ring[0].slot = 999;
	ring[1].offset = 1ULL << 40;
	ring[2].slot = LOG_SLOT + 5;	/* a free slot number */
	ring[2].offset = ring[3].offset;
	for (i = 0; i < n; i++)
		__atomic_store_n(&ring[i].flags, VMXL_DIRTY_ENTRY_RESET,
				 __ATOMIC_RELEASE);
	EXPECT_EQ((long)n, ioctl(self->vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0));
	/* the pages the broken entries stood for are still dirty, no others */
	ASSERT_EQ(0, log_get(&self->vm, bm));
	for (i = 0; i < LOG_PAGES; i++) {
		EXPECT_EQ(i == off0 || i == off1 || i == off2, bit(bm, i))
			TH_LOG("page %u", i);
	}
	munmap(ring, size * sizeof(*ring));
}

struct ring_runner {
	struct gvm *vm;
	int cpu;
	int ret;		/* the first unexpected RUN result */
	unsigned int fulls;	/* ring-full exits */
	unsigned int returns;	/* RUN returns so far (atomic) */
	bool stop;		/* (atomic) */
	bool done;		/* the thread has ended (atomic) */
};

/*
 * Run until told to stop. A full ring waits for the host's reset; a kick
 * (immediate_exit and a signal) returns EINTR. Every return is counted,
 * so the host knows when the vCPU has exited since a moment it chose.
 */
static void *run_vcpu_ring(void *arg)
{
	struct ring_runner *r = arg;
	struct vmxl_run *run = r->vm->run[r->cpu];
	struct gvm_exit e;
	int ret;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		ret = gvm_run(r->vm, r->cpu, &e);
		__atomic_add_fetch(&r->returns, 1, __ATOMIC_RELEASE);
		if (ret == -EINTR) {
			run->immediate_exit = 0;
		} else if (!ret && run->exit_reason == VMXL_EXIT_DIRTY_RING_FULL) {
			r->fulls++;
			usleep(500);
		} else {
			r->ret = ret ? ret : 1000 + (int)run->exit_reason;
			break;
		}
	}
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Bring vCPU @r out of the guest once: with PML, what it logged reaches
 * its ring only at an exit. Any RUN return counted after @before comes
 * from an exit later than every guest write the host saw before it.
 */
static void ring_kick(struct ring_runner *r, pthread_t th)
{
	struct vmxl_run *run = r->vm->run[r->cpu];
	unsigned int before = __atomic_load_n(&r->returns, __ATOMIC_ACQUIRE);

	run->immediate_exit = 1;
	pthread_kill(th, SIGUSR1);
	while (__atomic_load_n(&r->returns, __ATOMIC_ACQUIRE) == before &&
	       !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
		usleep(100);
}

/*
 * The ring while two vCPUs write: the host reads every page, kicks the
 * vCPUs, harvests both rings, resets them, and reads every page again.
 * A page that changed between the previous round's second read and this
 * round's first was written after it was re-protected, so it must be in
 * this round's harvest. The rings (128 entries) are small enough to fill,
 * and with PML the buffer must never outgrow what a ring can take.
 */
TEST_F(dl, vmxl_ring_two_vcpus_write_while_host_harvests)
{
	static uint64_t snap[LOG_PAGES][2], cur[LOG_PAGES][2];
	const unsigned int size = 128;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct vmxl_dirty_entry *ring[2];
	struct ring_runner r[2];
	uint8_t seen[LOG_PAGES];
	unsigned int i, round, next[2] = { 0 }, dups = 0, bad = 0;
	unsigned int missed = 0, changed = 0, harvested = 0;
	pthread_t th[2];
	long reset;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "vmx-lite's API");
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, size));
	for (i = 0; i < 2; i++) {
		ring[i] = mmap(NULL, size * sizeof(*ring[i]),
			       PROT_READ | PROT_WRITE, MAP_SHARED,
			       self->vm.vcpu_fd[i], VMXL_DIRTY_RING_OFFSET * PAGE);
		ASSERT_NE(MAP_FAILED, ring[i]);
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, i,
						 guest_random_writer, LOG_GPA,
						 0x4321 + i));
		r[i] = (struct ring_runner){ .vm = &self->vm, .cpu = i };
	}
	read_words(self->mem, snap);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, run_vcpu_ring, &r[i]));

	for (round = 0; round < 8; round++) {
		usleep(100000);
		read_words(self->mem, cur);
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 2; i++) {
			ring_kick(&r[i], th[i]);
			harvested += ring_harvest(ring[i], size, &next[i], seen,
						  &dups, &bad);
		}
		reset = ioctl(self->vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0);
		EXPECT_LE(0, reset);
		for (i = 0; i < LOG_PAGES; i++) {
			if (!memcmp(cur[i], snap[i], sizeof(cur[i])))
				continue;
			changed++;
			if (!seen[i] && missed++ < 8)
				TH_LOG("round %u: page %u changed, not in a ring",
				       round, i);
		}
		read_words(self->mem, snap);
	}
	for (i = 0; i < 2; i++) {
		__atomic_store_n(&r[i].stop, true, __ATOMIC_RELEASE);
		ring_kick(&r[i], th[i]);
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, r[i].ret);
		munmap(ring[i], size * sizeof(*ring[i]));
	}
	signal(SIGUSR1, SIG_DFL);
	TH_LOG("%u pages changed, %u ring entries, %u + %u ring-full exits",
	       changed, harvested, r[0].fulls, r[1].fulls);
	EXPECT_EQ(0, missed);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, changed);
	EXPECT_LT(0, r[0].fulls + r[1].fulls);	/* the rings did fill */
}

/* 200 page writes without an exit of their own. */
static void guest_write_200(uint64_t base)
{
	uint64_t i;

	for (i = 0; i < 200; i++)
		*(volatile uint64_t *)(base + i * PAGE) = i;
	GUEST_SYNC(0, 0);
}

/* A full ring stops the vCPU until userspace harvests and resets. */
TEST_F(dl, vmxl_ring_full_exit)
{
	const unsigned int size = 64;
	struct vmxl_dirty_entry *ring;
	struct vmxl_run *run = self->vm.run[0];
	unsigned int next = 0, dups = 0, bad = 0, fulls = 0, total = 0, i;
	uint8_t seen[LOG_PAGES] = { 0 };
	struct gvm_exit e;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "vmx-lite's API");
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, 100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, 32));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_ENABLE_DIRTY_RING, size));
	ring = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    self->vm.vcpu_fd[0], VMXL_DIRTY_RING_OFFSET * PAGE);
	ASSERT_NE(MAP_FAILED, ring);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_write_200,
					 LOG_GPA, 0));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
		if (run->exit_reason != VMXL_EXIT_DIRTY_RING_FULL)
			break;
		fulls++;
		total += ring_harvest(ring, size, &next, seen, &dups, &bad);
		EXPECT_LT(0, ioctl(self->vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0));
	}
	ASSERT_EQ(GVM_EXIT_UCALL, e.reason);
	EXPECT_EQ(UCALL_SYNC, e.uc.cmd);
	total += ring_harvest(ring, size, &next, seen, &dups, &bad);
	EXPECT_LE(3, fulls);		/* 200 pages through 64 entries */
	for (i = 0; i < 200; i++)
		EXPECT_LE(1, seen[i]);
	/*
	 * A full ring stops the vCPU right after the fault that logged the
	 * last page, before the faulting write retires; the reset protects
	 * that page again, so its write is logged a second time. At most
	 * one such page per full exit, and nothing else twice.
	 */
	EXPECT_LE(dups, fulls);
	EXPECT_EQ(200 + dups, total);
	EXPECT_EQ(0, bad);
	munmap(ring, PAGE);
}

/* Read 64 pages, report; write them, report. */
static void guest_read_then_write(uint64_t base)
{
	uint64_t sum = 0, i;

	for (i = 0; i < 64; i++)
		sum += *(volatile uint64_t *)(base + i * PAGE);
	GUEST_SYNC(0, sum);
	for (i = 0; i < 64; i++)
		*(volatile uint64_t *)(base + i * PAGE) = i;
	GUEST_SYNC(1, 0);
}

/*
 * Which mechanism ran, seen from the exits: with write protection each
 * first write to a page faults (64 exits at least); with PML the CPU
 * logs the writes to pages it already maps, and nothing exits. Either
 * way the log is exact.
 */
TEST_F(dl, vmxl_mechanism_by_exit_count)
{
	struct vmxl_caps caps = { 0 };
	struct vmxl_run *run = self->vm.run[0];
	uint64_t bm[BM_WORDS];
	struct gvm_exit e;
	__u64 before;
	bool pml;

	if (variant->kind != GVM_VMXL)
		SKIP(return, "vmx-lite's mechanisms");
	ASSERT_EQ(0, ioctl(self->vm.sys_fd, VMXL_GET_CAPS, &caps));
	pml = caps.backend == VMXL_BACKEND_VMX &&
	      (caps.features & VMXL_FEAT_PML) && !variant->vmxl_params;
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_read_then_write,
					 LOG_GPA, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	ASSERT_EQ(0, log_get(&self->vm, bm));
	EXPECT_EQ(0, bm[0]);
	before = run->exit_count;
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	TH_LOG("%s: %llu exits for 64 first writes", pml ? "PML" : "write protection",
	       (unsigned long long)(run->exit_count - before));
	if (pml) {
		EXPECT_GT(16, run->exit_count - before);
	} else {
		EXPECT_LE(65, run->exit_count - before);
	}
	ASSERT_EQ(0, log_get(&self->vm, bm));
	EXPECT_EQ(~0ULL, bm[0]);
	EXPECT_EQ(0, bm[1]);
}

TEST_HARNESS_MAIN
