// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty-log harvest speed, like KVM's dirty_log_perf_test: a guest
 * dirties a share of a logged slot, then the host times GET and CLEAR
 * of the whole slot; KVM (GET/CLEAR_DIRTY_LOG with manual protect) and
 * vmx-lite in the same boot. Also vmx-lite's ring (harvest + reset) and
 * the guest's own pass over the pages, which is where the mechanism
 * (write protection or PML) costs. Every harvest is checked: exactly
 * the pages written are dirty.
 *
 *   bench_dirty_log [-m MiB] [-r repeats]
 *
 * Results are per GiB of slot. Exit 0, or 1 when a step failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "dlog.h"
#include "gvm.h"
#include "testlib.h"

#define SLOT		1
#define SLOT_GPA	0x40000000ULL
#define STRIDE_GPA	0x6000	/* slot 0: which pages the guest writes */
#define PAGE		4096ULL
#define MAX_REPS	32

static uint64_t npages;
static unsigned int reps = 7;

#define FAIL(...) do {							\
	fprintf(stderr, "bench_dirty_log: " __VA_ARGS__);		\
	exit(1);							\
} while (0)

/* Each pass: write every stride-th page, then report. */
static void guest_dirty(uint64_t base, uint64_t pages)
{
	uint64_t i, n;

	for (n = 1;; n++) {
		uint64_t stride = *(volatile uint64_t *)STRIDE_GPA;

		for (i = 0; i < pages; i += stride)
			*(volatile uint64_t *)(base + i * PAGE) = n;
		GUEST_SYNC(n, 0);
	}
}

/* The samples of one run of one hypervisor mode, in ms per GiB. */
struct mode_result {
	double get[2][MAX_REPS], clear[2][MAX_REPS], both[2][MAX_REPS];
	double pass[2][MAX_REPS], ring[2][MAX_REPS];
	bool has_ring;
};

static const unsigned int pcts[2] = { 100, 5 };

static double per_gib(uint64_t ns)
{
	return ns / 1e6 * (double)(1ULL << 30) / (double)(npages * PAGE);
}

static void vm_pass(struct gvm *vm, unsigned int pct, uint64_t *ns)
{
	struct gvm_exit e;
	uint64_t t0;

	*(uint64_t *)gvm_gpa(vm, STRIDE_GPA, 8) = 100 / pct;
	t0 = bench_now_ns();
	if (gvm_run(vm, 0, &e) || e.reason != GVM_EXIT_UCALL ||
	    e.uc.cmd != UCALL_SYNC) {
		char b[320];

		FAIL("%s: the guest did not report: %s\n",
		     gvm_kind_name(vm->kind), gvm_exit_str(&e, b, sizeof(b)));
	}
	*ns = bench_now_ns() - t0;
}

static uint64_t expected_dirty(unsigned int pct)
{
	uint64_t stride = 100 / pct;

	return (npages + stride - 1) / stride;
}

static uint64_t popcount(const uint64_t *bm)
{
	uint64_t i, n = 0;

	for (i = 0; i < npages / 64; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

static void *setup_vm(struct gvm *vm, enum gvm_kind kind)
{
	void *mem;
	int ret;

	ret = gvm_create(vm, kind, 1);
	if (!ret)
		ret = dlog_init(vm);
	if (ret)
		FAIL("%s: VM: %s\n", gvm_kind_name(kind), strerror(-ret));
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		FAIL("mmap %llu MiB: %s\n",
		     (unsigned long long)(npages * PAGE >> 20), strerror(errno));
	ret = dlog_slot_set(vm, SLOT, SLOT_GPA, mem, npages * PAGE, true);
	if (!ret)
		ret = gvm_enter_long_mode(vm, 0, guest_dirty, SLOT_GPA, npages);
	if (ret)
		FAIL("%s: slot: %s\n", gvm_kind_name(kind), strerror(-ret));
	return mem;
}

/* Bitmap: every page touched once, then timed passes at each share. */
static void bench_bitmap(enum gvm_kind kind, struct mode_result *res)
{
	uint64_t *bm = calloc(npages / 64, 8);
	uint64_t ns, t0, t1, t2;
	struct gvm vm;
	unsigned int p, r;
	void *mem;

	if (!bm)
		FAIL("out of memory\n");
	mem = setup_vm(&vm, kind);
	vm_pass(&vm, 100, &ns);		/* fault everything in */
	if (dlog_get(&vm, SLOT, bm, npages) ||
	    dlog_clear(&vm, SLOT, 0, npages, bm))
		FAIL("%s: first harvest: %s\n", gvm_kind_name(kind),
		     strerror(errno));
	for (p = 0; p < 2; p++) {
		for (r = 0; r < reps; r++) {
			vm_pass(&vm, pcts[p], &ns);
			res->pass[p][r] = per_gib(ns);
			t0 = bench_now_ns();
			if (dlog_get(&vm, SLOT, bm, npages))
				FAIL("%s: GET: %s\n", gvm_kind_name(kind),
				     strerror(errno));
			t1 = bench_now_ns();
			if (dlog_clear(&vm, SLOT, 0, npages, bm))
				FAIL("%s: CLEAR: %s\n", gvm_kind_name(kind),
				     strerror(errno));
			t2 = bench_now_ns();
			if (popcount(bm) != expected_dirty(pcts[p]))
				FAIL("%s: %u%%: %llu pages dirty, %llu written\n",
				     gvm_kind_name(kind), pcts[p],
				     (unsigned long long)popcount(bm),
				     (unsigned long long)expected_dirty(pcts[p]));
			res->get[p][r] = per_gib(t1 - t0);
			res->clear[p][r] = per_gib(t2 - t1);
			res->both[p][r] = per_gib(t2 - t0);
		}
	}
	gvm_destroy(&vm);
	munmap(mem, npages * PAGE);
	free(bm);
}

/* vmx-lite's ring: harvest every entry, mark it, reset. */
static void bench_ring(struct mode_result *res)
{
	unsigned int size = 64, p, r;
	struct vmxl_dirty_entry *ring;
	uint64_t next = 0, got, ns, t0, t1;
	double harvest[2][MAX_REPS];
	struct gvm vm;
	void *mem;

	while (size < npages + 64)
		size *= 2;
	if (size > VMXL_DIRTY_RING_MAX)
		return;			/* the slot outgrows one ring */
	mem = setup_vm(&vm, GVM_VMXL);
	if (ioctl(vm.vm_fd, VMXL_ENABLE_DIRTY_RING, size))
		FAIL("vmx-lite: ENABLE_DIRTY_RING %u: %s\n", size, strerror(errno));
	ring = mmap(NULL, size * sizeof(*ring), PROT_READ | PROT_WRITE,
		    MAP_SHARED, vm.vcpu_fd[0], VMXL_DIRTY_RING_OFFSET * PAGE);
	if (ring == MAP_FAILED)
		FAIL("vmx-lite: mmap ring: %s\n", strerror(errno));
	for (p = 0; p <= 2; p++) {
		/* p == 0: the first pass faults everything in, untimed */
		for (r = 0; r < (p ? reps : 1); r++) {
			vm_pass(&vm, p ? pcts[p - 1] : 100, &ns);
			t0 = bench_now_ns();
			for (got = 0;; got++, next++) {
				struct vmxl_dirty_entry *e =
					&ring[next & (size - 1)];

				if (__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) !=
				    VMXL_DIRTY_ENTRY_DIRTY)
					break;
				__atomic_store_n(&e->flags,
						 VMXL_DIRTY_ENTRY_RESET,
						 __ATOMIC_RELEASE);
			}
			t1 = bench_now_ns();
			if (ioctl(vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0) != (long)got)
				FAIL("vmx-lite: RESET_DIRTY_RINGS: %s\n",
				     strerror(errno));
			ns = bench_now_ns() - t0;
			if (p)
				harvest[p - 1][r] = per_gib(t1 - t0);
			if (got != expected_dirty(p ? pcts[p - 1] : 100))
				FAIL("vmx-lite ring: %llu entries, %llu pages written\n",
				     (unsigned long long)got,
				     (unsigned long long)expected_dirty(p ? pcts[p - 1] : 100));
			if (p)
				res->ring[p - 1][r] = per_gib(ns);
		}
	}
	for (p = 0; p < 2; p++)
		printf("# ring %u%%: userspace harvest %.3g of %.3g ms/GiB (medians)\n",
		       pcts[p], bench_stat(harvest[p], reps).median,
		       bench_stat(res->ring[p], reps).median);
	res->has_ring = true;
	munmap(ring, size * sizeof(*ring));
	gvm_destroy(&vm);
	munmap(mem, npages * PAGE);
}

static struct bench_stat st(const double *s)
{
	double c[MAX_REPS];

	memcpy(c, s, reps * sizeof(*s));
	return bench_stat(c, reps);
}

static void report(const char *tag, const char *ref_name,
		   const struct mode_result *ref, const struct mode_result *v)
{
	struct bench_stat a, b;
	char name[96];
	unsigned int p;

	for (p = 0; p < 2; p++) {
#define ROW(what, field) do {						\
		snprintf(name, sizeof(name), "dirty_%s_%upct%s", what,	\
			 pcts[p], tag);					\
		a = st(ref->field[p]);					\
		b = st(v->field[p]);					\
		bench_report(name, "ms/GiB", ref_name, &a, &b);		\
	} while (0)
		ROW("get_clear", both);
		ROW("get", get);
		ROW("clear", clear);
		ROW("guest_pass", pass);
#undef ROW
	}
}

static int load(enum gvm_kind kind, const char *params)
{
	if (kind == GVM_VMXL && params)
		return gvm_vmxl_reload(params);
	return gvm_hypervisor_load(kind);
}

int main(int argc, char **argv)
{
	static struct mode_result kvm, vmxl, wp;
	struct vmxl_caps caps = { 0 };
	unsigned long mib = 0;
	struct bench_stat a, b;
	unsigned int p;
	bool pml;
	int c, fd;

	while ((c = getopt(argc, argv, "m:r:h")) != -1) {
		switch (c) {
		case 'm':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		default:
			printf("usage: %s [-m MiB] [-r repeats (1-%d)]\n",
			       argv[0], MAX_REPS);
			return c == 'h' ? 0 : 1;
		}
	}
	if (!reps || reps > MAX_REPS)
		FAIL("-r: 1 to %d repeats\n", MAX_REPS);

	if (load(GVM_VMXL, NULL))
		FAIL("vmx_lite cannot be loaded\n");
	fd = open(VMXL_DEV, O_RDWR);
	if (fd < 0 || ioctl(fd, VMXL_GET_CAPS, &caps))
		FAIL("%s: %s\n", VMXL_DEV, strerror(errno));
	close(fd);
	pml = caps.backend == VMXL_BACKEND_VMX && (caps.features & VMXL_FEAT_PML);
	/* Bochs runs guests far slower than QEMU: a smaller default slot. */
	if (!mib)
		mib = caps.backend == VMXL_BACKEND_VMX ? 32 : 128;
	npages = (uint64_t)mib << 8;
	printf("# %lu MiB slot, %u repeats, %s%s\n", mib, reps,
	       caps.backend == VMXL_BACKEND_VMX ? "VMX" : "SVM",
	       pml ? " with PML" : "");

	bench_bitmap(GVM_VMXL, &vmxl);
	bench_ring(&vmxl);
	if (pml) {
		if (load(GVM_VMXL, "pml=0"))
			FAIL("vmx_lite pml=0 cannot be loaded\n");
		bench_bitmap(GVM_VMXL, &wp);
	}
	if (load(GVM_KVM, NULL))
		FAIL("KVM cannot be loaded\n");
	bench_bitmap(GVM_KVM, &kvm);
	gvm_hypervisor_unload(GVM_KVM);

	report("", "kvm", &kvm, &vmxl);
	if (pml)
		report("_wp", "kvm", &kvm, &wp);
	for (p = 0; vmxl.has_ring && p < 2; p++) {
		char name[64];

		snprintf(name, sizeof(name), "dirty_ring_%upct", pcts[p]);
		a = st(vmxl.both[p]);
		b = st(vmxl.ring[p]);
		bench_report(name, "ms/GiB", "vmx-lite bitmap", &a, &b);
	}
	return 0;
}
