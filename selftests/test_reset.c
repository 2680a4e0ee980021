// SPDX-License-Identifier: GPL-2.0
/*
 * Reset points (VMXL_SET_RESET_POINT, VMXL_RESET_TO_POINT): after each
 * reset guest memory is byte-identical to the point and every vCPU's
 * state, APIC included, reads back as it did there; the count a reset
 * returns is the number of pages written since. vmx-lite only (KVM has
 * no such ioctl); vmxl_wp runs it with write protection instead of PML.
 *
 * The guest (guest_fuzz) writes every data page once, then loops: an OUT
 * to PORT_WAIT (where the point is taken), RAX holding the input the
 * host put there; it writes the pages its input picks; an OUT to
 * PORT_END. Besides the data pages an input picks, a run writes a few
 * the same for every input (its stack; the page-table pages whose
 * walks the nested tables take for writes): a reset restores both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dlog.h"
#include "gvm.h"
#include "harness.h"

#define DATA_SLOT	1
#define DATA_GPA	0x40000000ULL	/* identity-mapped, above slot 0 */
#define DATA_PAGES	64		/* within one 2 MiB guest page */
#define PAGE		4096ULL
#define PORT_WAIT	0xe8
#define PORT_END	0xe9
#define MOST_PAGES	8192		/* most_memory's slot: 32 MiB */

FIXTURE(rs) {
	struct gvm vm;
	uint8_t *data;		/* DATA_SLOT */
	uint8_t *copy0, *copy1;	/* both slots as they were at the point */
};

FIXTURE_VARIANT(rs) {
	const char *vmxl_params;
};

FIXTURE_VARIANT_ADD(rs, vmxl) { };
FIXTURE_VARIANT_ADD(rs, vmxl_wp) { .vmxl_params = "pml=0" };

/* Whether @input makes the guest write data page @i (input 0: none). */
static inline __attribute__((always_inline)) bool picks(uint64_t input,
							 uint64_t i)
{
	uint64_t x = input * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 29;
	return input && (x & 7) == 0;
}

static void guest_fuzz(uint64_t base, uint64_t npages)
{
	uint64_t input, i;

	for (i = 0; i < npages; i++)
		*(volatile uint64_t *)(base + i * PAGE) = i;
	for (;;) {
		input = 0;
		asm volatile("outl %%eax, %w1" : "+a"(input) : "Nd"(PORT_WAIT)
			     : "memory");
		/*
		 * Every page read first: the walks of the guest's page
		 * tables, which the nested tables count as writes (A/D
		 * bits), are then the same for every input.
		 */
		for (i = 0; i < npages; i++)
			(void)*(volatile uint64_t *)(base + i * PAGE);
		for (i = 0; i < npages; i++)
			if (input == ~0ULL ? i % 16 : picks(input, i))
				*(volatile uint64_t *)(base + i * PAGE + 8) =
					input + i;
		asm volatile("outl %%eax, %w0" : : "Nd"(PORT_END), "a"(0)
			     : "memory");
	}
}

struct vstate {
	struct vmxl_regs regs;
	struct vmxl_sregs sregs;
	struct vmxl_fpu fpu;
	struct vmxl_debugregs dbg;
	struct vmxl_vcpu_events events;
	struct vmxl_lapic_state lapic;
	struct vmxl_mp_state mp;
	struct vmxl_msr_entry msrs[16];
};

static const uint32_t msr_list[] = {
	0x10 /* TSC, compared apart */, 0x277, 0x174, 0x175, 0x176,
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102,
	0x1a0, 0x2ff, 0x250, 0x200, 0x201,
};

static int vstate_get(int fd, struct vstate *s)
{
	struct vmxl_msrs m = { .nmsrs = 15, .entries = (uintptr_t)s->msrs };
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 15; i++)
		s->msrs[i].index = msr_list[i];
	if (ioctl(fd, VMXL_GET_REGS, &s->regs) ||
	    ioctl(fd, VMXL_GET_SREGS, &s->sregs) ||
	    ioctl(fd, VMXL_GET_FPU, &s->fpu) ||
	    ioctl(fd, VMXL_GET_DEBUGREGS, &s->dbg) ||
	    ioctl(fd, VMXL_GET_VCPU_EVENTS, &s->events) ||
	    ioctl(fd, VMXL_GET_LAPIC, &s->lapic) ||
	    ioctl(fd, VMXL_GET_MP_STATE, &s->mp))
		return -errno;
	return ioctl(fd, VMXL_GET_MSRS, &m) == 15 ? 0 : -EIO;
}

#define SAME(a, b, what) do {						\
	EXPECT_EQ(0, memcmp(&(a), &(b), sizeof(a)))			\
		TH_LOG("vCPU %d: %s differs", cpu, what);		\
} while (0)

/* @b, read after a reset, against @a read at the point, field by field. */
static void vstate_cmp(struct __test_metadata *_metadata, int cpu,
		       const struct vstate *a, const struct vstate *b,
		       uint64_t tsc_before_reset)
{
	const uint64_t *ra = (const uint64_t *)&a->regs;
	const uint64_t *rb = (const uint64_t *)&b->regs;
	unsigned int i;

	for (i = 0; i < sizeof(a->regs) / 8; i++) {
		EXPECT_EQ(ra[i], rb[i]) TH_LOG("vCPU %d: regs[%u]", cpu, i);
	}
	SAME(a->sregs.cs, b->sregs.cs, "cs");
	SAME(a->sregs.ds, b->sregs.ds, "ds");
	SAME(a->sregs.es, b->sregs.es, "es");
	SAME(a->sregs.fs, b->sregs.fs, "fs");
	SAME(a->sregs.gs, b->sregs.gs, "gs");
	SAME(a->sregs.ss, b->sregs.ss, "ss");
	SAME(a->sregs.tr, b->sregs.tr, "tr");
	SAME(a->sregs.ldt, b->sregs.ldt, "ldt");
	SAME(a->sregs.gdt, b->sregs.gdt, "gdt");
	SAME(a->sregs.idt, b->sregs.idt, "idt");
	EXPECT_EQ(a->sregs.cr0, b->sregs.cr0);
	EXPECT_EQ(a->sregs.cr2, b->sregs.cr2);
	EXPECT_EQ(a->sregs.cr3, b->sregs.cr3);
	EXPECT_EQ(a->sregs.cr4, b->sregs.cr4);
	EXPECT_EQ(a->sregs.cr8, b->sregs.cr8);
	EXPECT_EQ(a->sregs.efer, b->sregs.efer);
	EXPECT_EQ(a->sregs.apic_base, b->sregs.apic_base);
	SAME(a->fpu, b->fpu, "FPU");
	SAME(a->dbg, b->dbg, "debug registers");
	SAME(a->events, b->events, "events");
	SAME(a->lapic.regs, b->lapic.regs, "APIC registers");
	EXPECT_EQ(a->lapic.timer_deadline, b->lapic.timer_deadline);
	EXPECT_EQ(a->mp.state, b->mp.state);
	/* the TSC went back to the point's, and runs on from there */
	EXPECT_LT(b->msrs[0].data, tsc_before_reset);
	for (i = 1; i < 15; i++) {
		EXPECT_EQ(a->msrs[i].index, b->msrs[i].index);
		EXPECT_EQ(a->msrs[i].data, b->msrs[i].data)
			TH_LOG("vCPU %d: MSR %#x", cpu, a->msrs[i].index);
	}
}

static int vm_point(struct gvm *vm, bool reset)
{
	struct vmxl_reset_point p = { 0 };
	int ret;

	ret = ioctl(vm->vm_fd, reset ? VMXL_RESET_TO_POINT :
				      VMXL_SET_RESET_POINT, &p);
	return ret < 0 ? -errno : ret;
}

/* Run vCPU 0 to its next OUT to @port; 0 or what went wrong. */
static int run_to(struct gvm *vm, uint16_t port)
{
	struct gvm_exit e;
	int ret = gvm_run(vm, 0, &e);

	if (ret)
		return ret;
	if (e.reason != GVM_EXIT_IO || e.port != port) {
		char b[320];

		fprintf(stderr, "# unexpected exit: %s\n",
			gvm_exit_str(&e, b, sizeof(b)));
		return -EPROTO;
	}
	return 0;
}

/* Put @input in RAX, where the guest's OUT to PORT_WAIT returns it. */
static int give_input(struct gvm *vm, uint64_t input)
{
	struct vmxl_regs r;

	if (ioctl(vm->vcpu_fd[0], VMXL_GET_REGS, &r))
		return -errno;
	r.rax = input;
	return ioctl(vm->vcpu_fd[0], VMXL_SET_REGS, &r) ? -errno : 0;
}

static unsigned int nr_picked(uint64_t input, uint64_t npages)
{
	unsigned int i, n = 0;

	for (i = 0; i < npages; i++)
		n += input == ~0ULL ? !!(i % 16) : picks(input, i);
	return n;
}

/* The first page where @a and @b differ, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; i < len; i += PAGE)
		if (memcmp(a + i, b + i, PAGE))
			return i / PAGE;
	return -1;
}

/* Every byte of both slots as at the point. */
#define ASSERT_MEM_AS_AT_POINT(vm, data, c0, c1, npages) do {		\
	long __p = first_diff((vm)->mem, (c0), GVM_MEM_SIZE);		\
	ASSERT_EQ(-1, __p) TH_LOG("slot 0 page %ld differs", __p);	\
	__p = first_diff((data), (c1), (npages) * PAGE);		\
	ASSERT_EQ(-1, __p) TH_LOG("data page %ld differs", __p);	\
} while (0)

static uint8_t *map_mem(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A LAPIC VM of 2 vCPUs (the second waits for INIT) with a data slot of
 * @npages, run to its first PORT_WAIT.
 */
static int setup_vm(struct gvm *vm, uint8_t **data, uint64_t npages,
		    bool log)
{
	int ret;

	ret = gvm_create_flags(vm, GVM_VMXL, 2, GVM_LAPIC);
	if (ret)
		return ret;
	*data = map_mem(npages * PAGE);
	if (!*data)
		return -ENOMEM;
	ret = dlog_slot_set(vm, DATA_SLOT, DATA_GPA, *data, npages * PAGE,
			    log);
	ret = ret ?: gvm_enter_long_mode(vm, 0, guest_fuzz, DATA_GPA, npages);
	return ret ?: run_to(vm, PORT_WAIT);
}

FIXTURE_SETUP(rs)
{
	if (variant->vmxl_params)
		ASSERT_EQ(0, gvm_vmxl_reload(variant->vmxl_params));
	if (!gvm_test_load(_metadata, GVM_VMXL))
		return;
	ASSERT_EQ(0, setup_vm(&self->vm, &self->data, DATA_PAGES, false));
	self->copy0 = malloc(GVM_MEM_SIZE);
	self->copy1 = malloc(MOST_PAGES * PAGE);
	ASSERT_NE(NULL, self->copy0);
	ASSERT_NE(NULL, self->copy1);
}

FIXTURE_TEARDOWN(rs)
{
	gvm_destroy(&self->vm);
	gvm_hypervisor_unload(GVM_VMXL);
	if (self->data)
		munmap(self->data, DATA_PAGES * PAGE);
	free(self->copy0);
	free(self->copy1);
}

/* Take the point and keep what memory holds then. */
static int point(struct gvm *vm, uint8_t *data, uint8_t *c0, uint8_t *c1,
		 uint64_t npages)
{
	int ret = vm_point(vm, false);

	memcpy(c0, vm->mem, GVM_MEM_SIZE);
	memcpy(c1, data, npages * PAGE);
	return ret;
}

/*
 * One run of @input and a reset; the count must be the pages the input
 * writes plus @extra (what the guest writes besides, constant).
 */
static int one_reset(struct gvm *vm, uint64_t input, uint64_t npages,
		     long extra)
{
	long n;
	int ret;

	ret = give_input(vm, input);
	ret = ret ?: run_to(vm, PORT_END);
	if (ret)
		return ret;
	n = vm_point(vm, true);
	if (n < 0)
		return n;
	if (n != nr_picked(input, npages) + extra) {
		fprintf(stderr, "# input %#llx: %ld pages restored, %u + %ld written\n",
			(unsigned long long)input, n, nr_picked(input, npages),
			extra);
		return -EBADMSG;
	}
	return 0;
}

TEST_F(rs, state_and_memory_identical)
{
	struct vstate at[2], now[2];
	uint64_t tsc[2];
	int cpu;

	for (cpu = 0; cpu < 2; cpu++)
		ASSERT_EQ(0, vstate_get(self->vm.vcpu_fd[cpu], &at[cpu]));
	ASSERT_EQ(0, point(&self->vm, self->data, self->copy0, self->copy1,
			   DATA_PAGES));
	ASSERT_EQ(0, give_input(&self->vm, ~0ULL));
	ASSERT_EQ(0, run_to(&self->vm, PORT_END));
	/* state moved: the guest ran, and the host changed some besides */
	ASSERT_EQ(0, gvm_set_msr(&self->vm, 0, 0xc0000102, 0x1234000));
	ASSERT_EQ(0, gvm_set_msr(&self->vm, 1, 0x174, 0x10));
	for (cpu = 0; cpu < 2; cpu++)
		ASSERT_EQ(0, gvm_get_msr(&self->vm, cpu, 0x10, &tsc[cpu]));
	EXPECT_LE(nr_picked(~0ULL, DATA_PAGES), vm_point(&self->vm, true));
	ASSERT_MEM_AS_AT_POINT(&self->vm, self->data, self->copy0,
			       self->copy1, DATA_PAGES);
	for (cpu = 0; cpu < 2; cpu++) {
		ASSERT_EQ(0, vstate_get(self->vm.vcpu_fd[cpu], &now[cpu]));
		vstate_cmp(_metadata, cpu, &at[cpu], &now[cpu], tsc[cpu]);
	}
	/* nothing written since: nothing to restore, the same state */
	EXPECT_EQ(0, vm_point(&self->vm, true));
	/* and the guest goes on from there */
	ASSERT_EQ(0, give_input(&self->vm, 0));
	ASSERT_EQ(0, run_to(&self->vm, PORT_END));
	EXPECT_GE(8, vm_point(&self->vm, true));
}

/*
 * 10,000 resets, each of a random set of pages (seeded); every written
 * page is checked after each, all memory every 1000 resets.
 */
#define RESETS		10000
TEST_F_TIMEOUT(rs, random_resets, 600)
{
	unsigned int i, seed = 21, p;
	uint64_t input;
	long extra;

	ASSERT_EQ(0, point(&self->vm, self->data, self->copy0, self->copy1,
			   DATA_PAGES));
	/* input 0 writes no data page: what the guest writes regardless */
	ASSERT_EQ(0, give_input(&self->vm, 0));
	ASSERT_EQ(0, run_to(&self->vm, PORT_END));
	extra = vm_point(&self->vm, true);
	ASSERT_LE(0, extra);
	EXPECT_GE(8, extra);
	ASSERT_MEM_AS_AT_POINT(&self->vm, self->data, self->copy0,
			       self->copy1, DATA_PAGES);
	srand(seed);
	TH_LOG("seed %u, %ld page(s) written besides the data", seed, extra);
	for (i = 1; i <= RESETS; i++) {
		input = ((uint64_t)rand() << 32) | rand() | 1;
		ASSERT_EQ(0, one_reset(&self->vm, input, DATA_PAGES, extra))
			TH_LOG("reset %u", i);
		for (p = 0; p < DATA_PAGES; p++)
			if (picks(input, p)) {
				ASSERT_EQ(0, memcmp(self->data + p * PAGE,
						    self->copy1 + p * PAGE,
						    PAGE))
					TH_LOG("reset %u page %u", i, p);
			}
		if (!(i % 1000))
			ASSERT_MEM_AS_AT_POINT(&self->vm, self->data,
					       self->copy0, self->copy1,
					       DATA_PAGES);
	}
}

/*
 * Clear the accessed and dirty bits of the guest's paging entries that
 * map @npages from DATA_GPA (2 MiB pages): the processor sets them
 * again at the guest's next accesses, a write to its page tables the
 * reset must see too.
 */
static void clear_guest_ad(struct gvm *vm, uint64_t npages)
{
	uint64_t *pml4 = gvm_gpa(vm, vm->pml4, PAGE), *pdpt, *pd, va;

	pml4[0] &= ~0x60ULL;
	pdpt = gvm_gpa(vm, pml4[0] & 0xffffffffff000ULL, PAGE);
	pdpt[DATA_GPA >> 30] &= ~0x60ULL;
	pd = gvm_gpa(vm, pdpt[DATA_GPA >> 30] & 0xffffffffff000ULL, PAGE);
	for (va = DATA_GPA; va < DATA_GPA + npages * PAGE; va += 1 << 21)
		pd[(va >> 21) & 511] &= ~0x60ULL;
}

/*
 * A guest that writes 15 of every 16 pages of a 32 MiB slot, twice; the
 * accessed and dirty bits of its page tables clear at the point.
 */
TEST_F_TIMEOUT(rs, most_memory, 300)
{
	struct gvm big;
	uint8_t *data = NULL;
	unsigned int round;
	long n;

	ASSERT_EQ(0, setup_vm(&big, &data, MOST_PAGES, false));
	clear_guest_ad(&big, MOST_PAGES);
	ASSERT_EQ(0, point(&big, data, self->copy0, self->copy1, MOST_PAGES));
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, give_input(&big, ~0ULL));
		ASSERT_EQ(0, run_to(&big, PORT_END));
		n = vm_point(&big, true);
		EXPECT_LE(nr_picked(~0ULL, MOST_PAGES), n);
		EXPECT_GE(nr_picked(~0ULL, MOST_PAGES) + 16, n);
		ASSERT_MEM_AS_AT_POINT(&big, data, self->copy0, self->copy1,
				       MOST_PAGES);
	}
	gvm_destroy(&big);
	munmap(data, MOST_PAGES * PAGE);
}

static bool bit(const uint64_t *bm, unsigned int i)
{
	return bm[i / 64] & (1ULL << (i % 64));
}

/* The data slot's log is exactly the pages @input picks. */
static void expect_log(struct __test_metadata *_metadata, struct gvm *vm,
		       uint64_t input, const char *when)
{
	uint64_t bm[DATA_PAGES / 64];
	unsigned int i, bad = 0;

	ASSERT_EQ(0, dlog_get(vm, DATA_SLOT, bm, DATA_PAGES));
	for (i = 0; i < DATA_PAGES; i++)
		if (bit(bm, i) != picks(input, i) && bad++ < 8)
			TH_LOG("%s: page %u dirty %d", when, i, bit(bm, i));
	EXPECT_EQ(0, bad);
}

static void clear_log(struct __test_metadata *_metadata, struct gvm *vm)
{
	uint64_t bm[DATA_PAGES / 64];

	memset(bm, 0xff, sizeof(bm));
	ASSERT_EQ(0, dlog_clear(vm, DATA_SLOT, 0, DATA_PAGES, bm));
}

/*
 * A point taken with the dirty log on: the log goes on reporting what the
 * guest writes, and reports dirty the pages a reset restores.
 */
TEST_F(rs, dirty_log_composes)
{
	uint64_t a = 0x1234567, b = 0x89abcdef;

	ASSERT_EQ(0, dlog_slot_set(&self->vm, DATA_SLOT, DATA_GPA, self->data,
				   DATA_PAGES * PAGE, true));
	clear_log(_metadata, &self->vm);
	ASSERT_EQ(0, point(&self->vm, self->data, self->copy0, self->copy1,
			   DATA_PAGES));
	expect_log(_metadata, &self->vm, 0, "after the point");
	ASSERT_EQ(0, give_input(&self->vm, a));
	ASSERT_EQ(0, run_to(&self->vm, PORT_END));
	expect_log(_metadata, &self->vm, a, "after run a");
	ASSERT_LE(nr_picked(a, DATA_PAGES), vm_point(&self->vm, true));
	/* restored: dirty again (still, here) */
	expect_log(_metadata, &self->vm, a, "after reset a");
	clear_log(_metadata, &self->vm);
	ASSERT_EQ(0, give_input(&self->vm, b));
	ASSERT_EQ(0, run_to(&self->vm, PORT_END));
	expect_log(_metadata, &self->vm, b, "after run b");
	clear_log(_metadata, &self->vm);
	/* harvested, then restored: their contents changed, dirty again */
	ASSERT_LE(nr_picked(b, DATA_PAGES), vm_point(&self->vm, true));
	expect_log(_metadata, &self->vm, b, "after reset b");
	clear_log(_metadata, &self->vm);
	ASSERT_MEM_AS_AT_POINT(&self->vm, self->data, self->copy0,
			       self->copy1, DATA_PAGES);
	/* write tracking re-armed for both: the next run is logged exactly */
	ASSERT_EQ(0, give_input(&self->vm, a));
	ASSERT_EQ(0, run_to(&self->vm, PORT_END));
	expect_log(_metadata, &self->vm, a, "after run a again");
}

struct twin {
	struct gvm vm;
	uint8_t *data, *c0, *c1;
	unsigned int seed;
	int ret;
};

static void *twin_fn(void *arg)
{
	struct twin *t = arg;
	unsigned int i;
	uint64_t input;
	long extra;

	t->ret = give_input(&t->vm, 0) ?: run_to(&t->vm, PORT_END);
	extra = t->ret ? 0 : vm_point(&t->vm, true);
	if (extra < 0)
		t->ret = extra;
	for (i = 0; i < 1000 && !t->ret; i++) {
		input = ((uint64_t)rand_r(&t->seed) << 32) |
			rand_r(&t->seed) | 1;
		t->ret = one_reset(&t->vm, input, DATA_PAGES, extra);
	}
	if (!t->ret && (memcmp(t->vm.mem, t->c0, GVM_MEM_SIZE) ||
			memcmp(t->data, t->c1, DATA_PAGES * PAGE)))
		t->ret = -EBADMSG;
	return NULL;
}

/* Two VMs resetting at once, one thread each. */
TEST_F_TIMEOUT(rs, two_vms_at_once, 300)
{
	struct twin t[2] = { 0 };
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setup_vm(&t[i].vm, &t[i].data, DATA_PAGES, false));
		t[i].c0 = malloc(GVM_MEM_SIZE);
		t[i].c1 = malloc(DATA_PAGES * PAGE);
		ASSERT_NE(NULL, t[i].c0);
		ASSERT_NE(NULL, t[i].c1);
		ASSERT_EQ(0, point(&t[i].vm, t[i].data, t[i].c0, t[i].c1,
				   DATA_PAGES));
		t[i].seed = 100 + i;
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, twin_fn, &t[i]));
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, t[i].ret) TH_LOG("VM %d", i);
		gvm_destroy(&t[i].vm);
		munmap(t[i].data, DATA_PAGES * PAGE);
		free(t[i].c0);
		free(t[i].c1);
	}
}

static void on_usr1(int sig __attribute__((unused)))
{
}

static void *run_blocked(void *arg)
{
	struct gvm *vm = arg;

	/* vCPU 1 waits for INIT in the kernel until a signal */
	return (void *)(long)(ioctl(vm->vcpu_fd[1], VMXL_RUN, 0) ? errno : 0);
}

TEST_F(rs, bad_input)
{
	struct vmxl_reset_point p = { 0 };
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t th;
	void *res;
	int i;

	/* no point yet */
	EXPECT_EQ(-ENOENT, vm_point(&self->vm, true));
	for (i = 0; i < 2; i++) {
		unsigned long cmd = i ? VMXL_RESET_TO_POINT : VMXL_SET_RESET_POINT;

		p.flags = 1;
		EXPECT_EQ(-1, ioctl(self->vm.vm_fd, cmd, &p));
		EXPECT_EQ(EINVAL, errno);
		p.flags = 0x80000000;
		EXPECT_EQ(-1, ioctl(self->vm.vm_fd, cmd, &p));
		EXPECT_EQ(EINVAL, errno);
		p.flags = 0;
		p.reserved0 = 1;
		EXPECT_EQ(-1, ioctl(self->vm.vm_fd, cmd, &p));
		EXPECT_EQ(EINVAL, errno);
		p.reserved0 = 0;
		p.reserved[2] = 1;
		EXPECT_EQ(-1, ioctl(self->vm.vm_fd, cmd, &p));
		EXPECT_EQ(EINVAL, errno);
		p.reserved[2] = 0;
		EXPECT_EQ(-1, ioctl(self->vm.vm_fd, cmd, NULL));
		EXPECT_EQ(EFAULT, errno);
	}
	EXPECT_EQ(-ENOENT, vm_point(&self->vm, true));

	/* a vCPU in RUN: neither a point nor a reset */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, vm_point(&self->vm, false));
	ASSERT_EQ(0, pthread_create(&th, NULL, run_blocked, &self->vm));
	usleep(200 * 1000);
	EXPECT_EQ(-EBUSY, vm_point(&self->vm, false));
	EXPECT_EQ(-EBUSY, vm_point(&self->vm, true));
	pthread_kill(th, SIGUSR1);
	pthread_join(th, &res);
	EXPECT_EQ(EINTR, (long)res);
	EXPECT_EQ(0, vm_point(&self->vm, true));

	/* a new memory layout ends the point */
	ASSERT_EQ(0, dlog_slot_set(&self->vm, DATA_SLOT, DATA_GPA, self->data,
				   DATA_PAGES * PAGE / 2, false));
	EXPECT_EQ(-ENOENT, vm_point(&self->vm, true));
}

TEST_HARNESS_MAIN
