// SPDX-License-Identifier: GPL-2.0
/*
 * Reset points (VMXL_SET_RESET_POINT / VMXL_RESET_TO_POINT, issue 21)
 * against what a stock kernel offers, in the same boot:
 *
 * - reset_pages_<N>: the reset alone, after a guest run that wrote N
 *   distinct pages of a 40 MiB data slot. vmx-lite: the RESET ioctl.
 *   Reference: the same reset on KVM done in userspace, the best a stock
 *   kernel allows: KVM_GET_DIRTY_LOG on both slots (without manual
 *   protect: one ioctl per slot fetches the bitmap and write-protects the
 *   pages again), a copy of each dirty page from the copy taken at the
 *   point, and the vCPU state the vmx-lite reset restores (sregs, the
 *   MSRs it keeps, FPU, registers, APIC, debug registers, events, MP
 *   state).
 * - reset_50_vs_snapshot_restore: a full restore of the same VM from a
 *   vmx-lite snapshot file (the snapshot library, written at the point;
 *   read back with snap_open_chain() and snap_read_memory() into the
 *   VM's slots, then the vCPU and VM state as vmxctl restores them),
 *   against the reset of a 50-page run.
 * - reset_50_vs_full_copy: the floor of any full restore, every page of
 *   every slot copied back from memory plus the same SET ioctls, against
 *   the same reset.
 * - fuzz_loop: a minimal fuzzing loop, per iteration: an input into
 *   guest memory, RUN until the guest's OUT to PORT_END, reset. vmx-lite
 *   against KVM with the userspace reset above.
 *
 * Every reset is checked: the count of pages it copied back is the pages
 * the guest wrote plus the few it writes regardless (stack, page-table
 * A/D bits), and after the first reset of each size, and the last fuzz
 * iteration, both slots are as at the point, byte for byte.
 *
 *   bench_reset [-r repeats]
 *
 * Exit 0, or 1 when a step failed.
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
#include <linux/kvm.h>

#include "bench.h"
#include "dlog.h"
#include "gvm.h"
#include "libvmxlite.h"
#include "snapshot.h"
#include "testlib.h"
#include "vmstate.h"

#define DATA_SLOT	1
#define DATA_GPA	0x40000000ULL	/* identity-mapped, above slot 0 */
#define DATA_PAGES	10240ULL	/* 40 MiB: room for the 10,000 */
#define PAGE		4096ULL
#define PARAM_GPA	0x6000		/* slot 0: what the next run does */
#define PORT_WAIT	0xe8
#define PORT_END	0xe9
/*
 * Pages a run writes besides those it is asked to: its stack and the
 * guest page-table entries whose A/D bits its writes set (test_reset
 * sees up to 8); more means the measurement counts something else.
 */
#define EXTRA_MAX	16
#define FUZZ_PAGES	64		/* the pages a fuzz input picks from */
#define FUZZ_WRITES	8
#define MAX_REPS	32
#define NR_SIZES	4
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const unsigned int sizes[NR_SIZES] = { 1, 50, 1000, 10000 };

/* Per size, how many resets are timed; the largest is slow to set up. */
static unsigned int reps[NR_SIZES] = { 15, 15, 7, 3 };
static unsigned int restore_reps = 5, fuzz_rounds = 5, fuzz_loops = 200;

#define FAIL(...) do {							\
	fprintf(stderr, "bench_reset: " __VA_ARGS__);			\
	exit(1);							\
} while (0)

enum { MODE_PAGES, MODE_FUZZ };

/* At PARAM_GPA, written by the host through its mapping (not undone). */
struct params {
	uint64_t mode;
	uint64_t pages;		/* MODE_PAGES: write pages 0 .. pages - 1 */
	uint64_t value;		/* MODE_PAGES: what, nonzero; MODE_FUZZ: the input */
};

/*
 * The point is taken at the OUT to PORT_WAIT; from there every run
 * reads what the host asks, writes it, and stops at PORT_END, where the
 * host resets it back to the point.
 */
static void guest_reset(uint64_t base, uint64_t unused)
{
	volatile struct params *p = (volatile struct params *)PARAM_GPA;
	uint64_t i, n, x;

	(void)unused;
	asm volatile("outl %%eax, %w0" : : "Nd"(PORT_WAIT), "a"(0) : "memory");
	if (p->mode == MODE_PAGES) {
		n = p->pages;
		for (i = 0; i < n; i++)
			*(volatile uint64_t *)(base + i * PAGE) = p->value + i;
	} else {
		/* a target that writes where its input says (xorshift64) */
		x = p->value | 1;
		for (i = 0; i < FUZZ_WRITES; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			*(volatile uint64_t *)(base + (x % FUZZ_PAGES) * PAGE +
					       ((x >> 32) & 0xff8)) = x;
		}
	}
	for (;;)
		asm volatile("outl %%eax, %w0" : : "Nd"(PORT_END), "a"(0)
			     : "memory");
}

/* The userspace reset's copy of a KVM vCPU at the point. */
struct kvm_saved {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events events;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_msrs *msrs;
};

/* What vmx-lite's reset keeps besides sregs (kmod/vcpu.c saved_msrs). */
static const uint32_t reset_msrs[] = {
	0x10, 0x277, 0x174, 0x175, 0x176,
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102,
	0x1a0, 0xc0010015, 0x2ff, 0x250, 0x258, 0x259,
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};

#define NR_RESET_MSRS	ARRAY_SIZE(reset_msrs)

/* The MSRs vmxctl saves in a snapshot (userspace/vmxctl_vcpu_state.c). */
static const uint32_t snap_msrs[] = {
	0xc0000080, 0x277, 0x10, 0x174, 0x175, 0x176,
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0x1b, 0x1a0, 0x2ff,
	0x250, 0x258, 0x259,
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};

#define NR_SNAP_MSRS	ARRAY_SIZE(snap_msrs)

struct rig {
	struct gvm vm;
	uint8_t *data;			/* DATA_SLOT */
	uint8_t *copy0, *copy1;		/* both slots at the point */
	uint64_t *bm0, *bm1;		/* KVM: dirty bitmaps */
	struct kvm_saved ks;		/* KVM: the vCPU at the point */
	struct vmxl_regs regs;		/* the registers at the point */
	struct params *params;
	uint64_t value;
};

static const char *name(const struct rig *r)
{
	return gvm_kind_name(r->vm.kind);
}

/* Run vCPU 0 to its next OUT to @port. */
static void run_to(struct rig *r, uint16_t port)
{
	struct gvm_exit e;
	char b[320];

	if (gvm_run(&r->vm, 0, &e))
		FAIL("%s: RUN: %s\n", name(r), strerror(errno));
	if (e.reason != GVM_EXIT_IO || e.port != port)
		FAIL("%s: unexpected exit: %s\n", name(r),
		     gvm_exit_str(&e, b, sizeof(b)));
}

static void kvm_vcpu_ioctl(struct rig *r, unsigned long cmd, void *arg,
			   const char *what)
{
	if (ioctl(r->vm.vcpu_fd[0], cmd, arg) < 0)
		FAIL("kvm: %s: %s\n", what, strerror(errno));
}

/* Of reset_msrs, those KVM reads on this CPU, with their values. */
static void kvm_save_msrs(struct rig *r)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) +
				    NR_RESET_MSRS * sizeof(m->entries[0]));
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one;
	unsigned int i;

	if (!m)
		FAIL("out of memory\n");
	for (i = 0; i < NR_RESET_MSRS; i++) {
		memset(&one, 0, sizeof(one));
		one.h.nmsrs = 1;
		one.e.index = reset_msrs[i];
		if (ioctl(r->vm.vcpu_fd[0], KVM_GET_MSRS, &one) == 1)
			m->entries[m->nmsrs++] = one.e;
	}
	printf("# kvm: the reset restores %u of the %zu MSRs vmx-lite keeps\n",
	       m->nmsrs, NR_RESET_MSRS);
	r->ks.msrs = m;
}

/*
 * KVM's point: the dirty logs emptied (fetched and write-protected
 * again), then the memory and the vCPU copied.
 */
static void kvm_point(struct rig *r)
{
	struct kvm_saved *s = &r->ks;

	if (dlog_get(&r->vm, 0, r->bm0, GVM_MEM_SIZE / PAGE) ||
	    dlog_get(&r->vm, DATA_SLOT, r->bm1, DATA_PAGES))
		FAIL("kvm: GET_DIRTY_LOG: %s\n", strerror(errno));
	kvm_vcpu_ioctl(r, KVM_GET_REGS, &s->regs, "GET_REGS");
	kvm_vcpu_ioctl(r, KVM_GET_SREGS, &s->sregs, "GET_SREGS");
	kvm_vcpu_ioctl(r, KVM_GET_FPU, &s->fpu, "GET_FPU");
	kvm_vcpu_ioctl(r, KVM_GET_DEBUGREGS, &s->dbg, "GET_DEBUGREGS");
	kvm_vcpu_ioctl(r, KVM_GET_VCPU_EVENTS, &s->events, "GET_VCPU_EVENTS");
	kvm_vcpu_ioctl(r, KVM_GET_LAPIC, &s->lapic, "GET_LAPIC");
	kvm_vcpu_ioctl(r, KVM_GET_MP_STATE, &s->mp, "GET_MP_STATE");
	if (!s->msrs)
		kvm_save_msrs(r);
	else if (ioctl(r->vm.vcpu_fd[0], KVM_GET_MSRS, s->msrs) !=
		 (int)s->msrs->nmsrs)
		FAIL("kvm: GET_MSRS: %s\n", strerror(errno));
}

/* Copy back the pages of @bm (@npages bits) from @copy; how many. */
static long copy_dirty(uint8_t *mem, const uint8_t *copy, const uint64_t *bm,
		       uint64_t npages)
{
	uint64_t w, bits, i;
	long n = 0;

	for (w = 0; w < npages / 64; w++) {
		for (bits = bm[w]; bits; bits &= bits - 1) {
			i = w * 64 + __builtin_ctzll(bits);
			memcpy(mem + i * PAGE, copy + i * PAGE, PAGE);
			n++;
		}
	}
	return n;
}

/* Where the last KVM reset's time went: the dirty logs, the copy, the rest. */
static uint64_t kvm_phase_ns[3];

/* KVM's reset in userspace: the pages copied back. */
static long kvm_reset(struct rig *r)
{
	struct kvm_saved *s = &r->ks;
	uint64_t t0 = bench_now_ns(), t1, t2;
	long n;

	if (dlog_get(&r->vm, 0, r->bm0, GVM_MEM_SIZE / PAGE) ||
	    dlog_get(&r->vm, DATA_SLOT, r->bm1, DATA_PAGES))
		FAIL("kvm: GET_DIRTY_LOG: %s\n", strerror(errno));
	t1 = bench_now_ns();
	n = copy_dirty(r->vm.mem, r->copy0, r->bm0, GVM_MEM_SIZE / PAGE);
	n += copy_dirty(r->data, r->copy1, r->bm1, DATA_PAGES);
	t2 = bench_now_ns();
	/* vmstate_restore_os()'s order, after vmxctl's for the registers */
	kvm_vcpu_ioctl(r, KVM_SET_SREGS, &s->sregs, "SET_SREGS");
	if (ioctl(r->vm.vcpu_fd[0], KVM_SET_MSRS, s->msrs) != (int)s->msrs->nmsrs)
		FAIL("kvm: SET_MSRS: %s\n", strerror(errno));
	kvm_vcpu_ioctl(r, KVM_SET_FPU, &s->fpu, "SET_FPU");
	kvm_vcpu_ioctl(r, KVM_SET_REGS, &s->regs, "SET_REGS");
	kvm_vcpu_ioctl(r, KVM_SET_LAPIC, &s->lapic, "SET_LAPIC");
	kvm_vcpu_ioctl(r, KVM_SET_DEBUGREGS, &s->dbg, "SET_DEBUGREGS");
	kvm_vcpu_ioctl(r, KVM_SET_VCPU_EVENTS, &s->events, "SET_VCPU_EVENTS");
	kvm_vcpu_ioctl(r, KVM_SET_MP_STATE, &s->mp, "SET_MP_STATE");
	kvm_phase_ns[0] = t1 - t0;
	kvm_phase_ns[1] = t2 - t1;
	kvm_phase_ns[2] = bench_now_ns() - t2;
	return n;
}

static long do_reset(struct rig *r)
{
	long n;

	if (r->vm.kind == GVM_KVM)
		return kvm_reset(r);
	n = vmxlite_reset_to_point(r->vm.vm_fd);
	if (n < 0)
		FAIL("vmx-lite: RESET_TO_POINT: %s\n", strerror(-n));
	return n;
}

static void *map_mem(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		FAIL("mmap %zu MiB: %s\n", len >> 20, strerror(errno));
	return p;
}

/*
 * A VM of one vCPU with an in-kernel local APIC (what a reset restores
 * includes it), the data slot, stopped at PORT_WAIT with the point taken.
 */
static void rig_setup(struct rig *r, enum gvm_kind kind)
{
	uint64_t seed = 1, i;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = gvm_create_flags(&r->vm, kind, 1, GVM_LAPIC);
	if (ret)
		FAIL("%s: VM: %s\n", gvm_kind_name(kind), strerror(-ret));
	r->data = map_mem(DATA_PAGES * PAGE);
	r->copy0 = map_mem(GVM_MEM_SIZE);
	r->copy1 = map_mem(DATA_PAGES * PAGE);
	r->bm0 = calloc(GVM_MEM_SIZE / PAGE / 64, 8);
	r->bm1 = calloc(DATA_PAGES / 64, 8);
	if (!r->bm0 || !r->bm1)
		FAIL("out of memory\n");
	/* KVM finds the written pages by its dirty log, on both slots */
	ret = dlog_slot_set(&r->vm, DATA_SLOT, DATA_GPA, r->data,
			    DATA_PAGES * PAGE, kind == GVM_KVM);
	if (!ret && kind == GVM_KVM)
		ret = dlog_slot_set(&r->vm, 0, 0, r->vm.mem, GVM_MEM_SIZE, true);
	if (!ret)
		ret = gvm_enter_long_mode(&r->vm, 0, guest_reset, DATA_GPA, 0);
	if (ret)
		FAIL("%s: slots: %s\n", name(r), strerror(-ret));
	/*
	 * The data as a guest's memory looks (the snapshot benchmarks' mix):
	 * a snapshot of zero pages would restore unrealistically fast.
	 */
	for (i = 0; i < DATA_PAGES; i++)
		bench_fill_page(r->data + i * PAGE, &seed);
	r->params = gvm_gpa(&r->vm, PARAM_GPA, sizeof(*r->params));
	run_to(r, PORT_WAIT);
	/* the OUT completed, as a reset point (and a snapshot) wants it */
	if (gvm_settle(&r->vm, 0))
		FAIL("%s: settle: %s\n", name(r), strerror(errno));
	if (kind == GVM_KVM) {
		kvm_point(r);
	} else {
		ret = vmxlite_set_reset_point(r->vm.vm_fd);
		if (ret)
			FAIL("vmx-lite: SET_RESET_POINT: %s\n", strerror(-ret));
	}
	memcpy(r->copy0, r->vm.mem, GVM_MEM_SIZE);
	memcpy(r->copy1, r->data, DATA_PAGES * PAGE);
	if (gvm_get_regs(&r->vm, 0, &r->regs))
		FAIL("%s: GET_REGS: %s\n", name(r), strerror(errno));
}

static void rig_free(struct rig *r)
{
	gvm_destroy(&r->vm);
	munmap(r->data, DATA_PAGES * PAGE);
	munmap(r->copy0, GVM_MEM_SIZE);
	munmap(r->copy1, DATA_PAGES * PAGE);
	free(r->bm0);
	free(r->bm1);
	free(r->ks.msrs);
}

/*
 * Both slots as at the point, and the vCPU back at the OUT. Not the
 * parameter page: the host writes it through its own mapping, which no
 * reset undoes (nor should: it is how a fuzzer hands over its input).
 */
static void check_as_at_point(struct rig *r, const char *when)
{
	struct vmxl_regs regs;
	uint64_t i;

	for (i = 0; i < GVM_MEM_SIZE / PAGE; i++)
		if (i != PARAM_GPA / PAGE &&
		    memcmp(r->vm.mem + i * PAGE, r->copy0 + i * PAGE, PAGE))
			FAIL("%s: %s: slot 0 page %llu differs\n", name(r),
			     when, (unsigned long long)i);
	for (i = 0; i < DATA_PAGES; i++)
		if (memcmp(r->data + i * PAGE, r->copy1 + i * PAGE, PAGE))
			FAIL("%s: %s: data page %llu differs\n", name(r),
			     when, (unsigned long long)i);
	if (gvm_get_regs(&r->vm, 0, &regs))
		FAIL("%s: GET_REGS: %s\n", name(r), strerror(errno));
	if (regs.rip != r->regs.rip || regs.rsp != r->regs.rsp)
		FAIL("%s: %s: RIP %#llx is not the point's\n", name(r), when,
		     (unsigned long long)regs.rip);
}

/* A run that writes @pages distinct data pages, to its PORT_END. */
static void run_pages(struct rig *r, unsigned int pages)
{
	r->params->mode = MODE_PAGES;
	r->params->pages = pages;
	r->params->value = ++r->value << 32;
	run_to(r, PORT_END);
}

/* The pages a reset copied back: those written, and the few besides. */
static void check_count(struct rig *r, long n, unsigned int pages)
{
	if (n < (long)pages || n > (long)pages + EXTRA_MAX)
		FAIL("%s: %ld pages restored after %u written\n", name(r), n,
		     pages);
}

/* One untimed run and reset first: what runs before the timed ones. */
static void bench_sizes(struct rig *r, double us[NR_SIZES][MAX_REPS])
{
	double phase[3][MAX_REPS];
	unsigned int s, i, k;
	uint64_t t0;
	long n, first = -1;

	run_pages(r, 0);
	n = do_reset(r);
	check_count(r, n, 0);
	printf("# %s: a run writing no data page leaves %ld page(s) to reset\n",
	       name(r), n);
	for (s = 0; s < NR_SIZES; s++) {
		for (i = 0; i < reps[s]; i++) {
			run_pages(r, sizes[s]);
			t0 = bench_now_ns();
			n = do_reset(r);
			us[s][i] = (bench_now_ns() - t0) / 1e3;
			check_count(r, n, sizes[s]);
			for (k = 0; k < 3; k++)
				phase[k][i] = kvm_phase_ns[k] / 1e3;
			if (!i) {
				first = n;
				check_as_at_point(r, "after a reset");
			}
		}
		printf("# %s: %u pages written: %ld restored (first reset)\n",
		       name(r), sizes[s], first);
		if (r->vm.kind == GVM_KVM)
			printf("# kvm: %u pages: dirty logs %.0f, copy %.0f, vCPU state %.0f us (medians)\n",
			       sizes[s], bench_stat(phase[0], reps[s]).median,
			       bench_stat(phase[1], reps[s]).median,
			       bench_stat(phase[2], reps[s]).median);
	}
}

/* Every MSR of snap_msrs vmx-lite reads, into @v. */
static void vmxl_get_state(struct rig *r, struct snap_vcpu *v)
{
	int fd = r->vm.vcpu_fd[0];
	const char *what = "";
	uint32_t n;

	memset(v, 0, sizeof(*v));
	if (vmxlite_get_regs(fd, &v->regs) || vmxlite_get_sregs(fd, &v->sregs) ||
	    vmxlite_get_fpu(fd, &v->fpu))
		FAIL("vmx-lite: GET_REGS/SREGS/FPU: %s\n", strerror(errno));
	for (n = 0; n < NR_SNAP_MSRS; n++)
		v->msrs[n].index = snap_msrs[n];
	if (vmxlite_get_msrs(fd, v->msrs, n) != (int)n)
		FAIL("vmx-lite: GET_MSRS: %s\n", strerror(errno));
	v->nr_msrs = n;
	n = SNAP_MAX_CPUID;
	if (vmxlite_get_cpuid(fd, v->cpuid, &n))
		FAIL("vmx-lite: GET_CPUID: %s\n", strerror(errno));
	v->nr_cpuid = n;
	if (vmstate_get_os(fd, true, v, &what))
		FAIL("vmx-lite: %s: %s\n", what, strerror(errno));
}

/* The vCPU's and the VM's state back, in vmxctl's order. */
static void vmxl_set_state(struct rig *r, const struct snap_machine *m,
			   const struct snap_vcpu *v)
{
	int fd = r->vm.vcpu_fd[0], cpu = 0;
	const char *what = "";

	if (vmxlite_set_sregs(fd, &v->sregs) ||
	    vmxlite_set_msrs(fd, v->msrs, v->nr_msrs) != (int)v->nr_msrs ||
	    vmxlite_set_fpu(fd, &v->fpu) || vmxlite_set_regs(fd, &v->regs))
		FAIL("vmx-lite: SET_SREGS/MSRS/FPU/REGS: %s\n", strerror(errno));
	if (vmstate_restore_os(r->vm.vm_fd, r->vm.vcpu_fd, m, v, 1, &cpu, &what))
		FAIL("vmx-lite: restore %s: %s\n", what, strerror(errno));
}

/*
 * A full snapshot of the VM at its point into @path, as vmxctl writes
 * one (zlib 1, two threads, no fsync: the file is on the guest's RAM).
 */
static void write_snapshot(struct rig *r, const char *path,
			   struct snap_machine *m, struct snap_vcpu *v)
{
	struct snap_slot slots[2] = {
		{ .slot = 0, .gpa = 0, .size = GVM_MEM_SIZE, .host = r->vm.mem },
		{ .slot = DATA_SLOT, .gpa = DATA_GPA, .size = DATA_PAGES * PAGE,
		  .host = r->data },
	};
	struct snap_capture cap = { 0 };
	struct snap_write_stats st;
	struct snap_err err = { 0 };
	int ret;

	vmxl_get_state(r, v);
	memset(m, 0, sizeof(*m));
	m->vm_flags = VMXL_VM_LAPIC;
	m->flags = SNAP_MACHINE_F_CLOCK;
	if (vmxlite_get_clock(r->vm.vm_fd, &m->clock))
		FAIL("vmx-lite: GET_CLOCK: %s\n", strerror(errno));
	if (snap_capture(&cap, slots, 2, path, &err))
		FAIL("%s\n", err.msg);
	{
		struct snap_write_params p = {
			.path = path, .slots = cap.slots, .nr_slots = 2,
			.machine = m, .vcpus = v, .nr_vcpus = 1,
			.threads = 2, .no_fsync = true,
		};

		ret = snap_write(&p, &st, &err);
	}
	snap_capture_free(&cap);
	if (ret)
		FAIL("%s\n", err.msg);
	printf("# snapshot: %llu bytes, %llu of %llu pages with data\n",
	       (unsigned long long)st.bytes, (unsigned long long)st.pages_data,
	       (unsigned long long)st.pages_total);
}

/* The snapshot of @path read back into the VM: memory, then state. */
static void restore_snapshot(struct rig *r, const char *path)
{
	struct snap_reader **chain = NULL;
	const struct snap_info *in;
	struct snap_err err = { 0 };
	struct snap_slot slots[2];
	unsigned int len = 0, i;

	if (snap_open_chain(path, &chain, &len, &err))
		FAIL("%s\n", err.msg);
	in = snap_get_info(chain[len - 1]);
	if (len != 1 || in->nr_slots != 2 || in->nr_vcpus != 1)
		FAIL("%s: not the snapshot written\n", path);
	for (i = 0; i < 2; i++) {
		slots[i] = in->slots[i];
		slots[i].host = in->slots[i].slot ? r->data : r->vm.mem;
	}
	if (snap_read_memory(chain[0], slots, &err))
		FAIL("%s\n", err.msg);
	vmxl_set_state(r, &in->machine, in->vcpus);
	snap_close_chain(chain, len);
}

/*
 * The references of a full restore, vmx-lite: the snapshot file, and
 * every page copied back from memory with the SET ioctls. Each after a
 * 50-page run as the reset it is compared with; each followed by an
 * untimed reset, so that the reset point's set of written pages is
 * empty again (a restore through the host's mapping does not clear it).
 */
static void bench_full_restore(struct rig *r, double *snap_us, double *copy_us)
{
	static struct snap_vcpu v;
	struct snap_machine m;
	char dir[] = "/tmp/bench_reset.XXXXXX", path[64];
	unsigned int i;
	uint64_t t0;

	if (!mkdtemp(dir))
		FAIL("mkdtemp: %s\n", strerror(errno));
	snprintf(path, sizeof(path), "%s/vm.snap", dir);
	write_snapshot(r, path, &m, &v);
	for (i = 0; i < restore_reps; i++) {
		run_pages(r, 50);
		t0 = bench_now_ns();
		restore_snapshot(r, path);
		snap_us[i] = (bench_now_ns() - t0) / 1e3;
		if (!i)
			check_as_at_point(r, "after a snapshot restore");
		do_reset(r);

		run_pages(r, 50);
		t0 = bench_now_ns();
		memcpy(r->vm.mem, r->copy0, GVM_MEM_SIZE);
		memcpy(r->data, r->copy1, DATA_PAGES * PAGE);
		vmxl_set_state(r, &m, &v);
		copy_us[i] = (bench_now_ns() - t0) / 1e3;
		if (!i)
			check_as_at_point(r, "after a full copy");
		do_reset(r);
	}
	unlink(path);
	rmdir(dir);
}

/*
 * The fuzzing loop: rounds of @fuzz_loops iterations, each an input (a
 * new one per iteration) into guest memory, a run, a reset. In µs per
 * iteration; the last reset of each round leaves both slots as at the
 * point.
 */
static void bench_fuzz(struct rig *r, double *us)
{
	uint64_t seed = 21, t0;
	unsigned int i, k;
	long n;

	for (k = 0; k < fuzz_rounds; k++) {
		t0 = bench_now_ns();
		for (i = 0; i < fuzz_loops; i++) {
			r->params->mode = MODE_FUZZ;
			r->params->value = bench_rnd(&seed);
			run_to(r, PORT_END);
			n = do_reset(r);
			if (n < 1 || n > FUZZ_WRITES + EXTRA_MAX)
				FAIL("%s: fuzz: %ld pages restored\n", name(r), n);
		}
		us[k] = (bench_now_ns() - t0) / 1e3 / fuzz_loops;
		check_as_at_point(r, "after a fuzz round");
	}
}

static struct bench_stat st(const double *s, unsigned int n)
{
	double c[MAX_REPS];

	memcpy(c, s, n * sizeof(*s));
	return bench_stat(c, n);
}

int main(int argc, char **argv)
{
	static double kvm_us[NR_SIZES][MAX_REPS], vmxl_us[NR_SIZES][MAX_REPS];
	static double snap_us[MAX_REPS], copy_us[MAX_REPS];
	static double kvm_fuzz[MAX_REPS], vmxl_fuzz[MAX_REPS];
	struct vmxl_caps caps = { 0 };
	struct bench_stat a, b;
	static struct rig r;
	unsigned int s, rep = 0;
	char metric[64];
	int c, fd;

	while ((c = getopt(argc, argv, "r:h")) != -1) {
		switch (c) {
		case 'r':
			rep = strtoul(optarg, NULL, 0);
			if (!rep || rep > MAX_REPS)
				FAIL("-r: 1 to %d\n", MAX_REPS);
			break;
		default:
			printf("usage: %s [-r repeats (1-%d)]\n", argv[0],
			       MAX_REPS);
			return c == 'h' ? 0 : 1;
		}
	}

	if (gvm_hypervisor_load(GVM_VMXL))
		FAIL("vmx_lite cannot be loaded\n");
	fd = open(VMXL_DEV, O_RDWR);
	if (fd < 0 || ioctl(fd, VMXL_GET_CAPS, &caps))
		FAIL("%s: %s\n", VMXL_DEV, strerror(errno));
	close(fd);
	/* Bochs runs guests far slower than QEMU: fewer samples there. */
	if (caps.backend == VMXL_BACKEND_VMX) {
		reps[0] = 9;
		reps[1] = 9;
		reps[2] = 5;
		reps[3] = 2;
		restore_reps = 3;
		fuzz_rounds = 3;
		fuzz_loops = 100;
	}
	for (s = 0; rep && s < NR_SIZES; s++)
		reps[s] = rep;
	if (rep) {
		restore_reps = rep;
		fuzz_rounds = rep;
	}
	printf("# %s, data slot %llu MiB, resets timed per size: %u %u %u %u\n",
	       caps.backend == VMXL_BACKEND_VMX ? "VMX" : "SVM",
	       (unsigned long long)(DATA_PAGES * PAGE >> 20),
	       reps[0], reps[1], reps[2], reps[3]);

	rig_setup(&r, GVM_VMXL);
	bench_sizes(&r, vmxl_us);
	bench_fuzz(&r, vmxl_fuzz);
	bench_full_restore(&r, snap_us, copy_us);
	rig_free(&r);

	if (gvm_hypervisor_load(GVM_KVM))
		FAIL("KVM cannot be loaded\n");
	rig_setup(&r, GVM_KVM);
	bench_sizes(&r, kvm_us);
	bench_fuzz(&r, kvm_fuzz);
	rig_free(&r);
	gvm_hypervisor_unload(GVM_KVM);

	for (s = 0; s < NR_SIZES; s++) {
		snprintf(metric, sizeof(metric), "reset_pages_%u", sizes[s]);
		a = st(kvm_us[s], reps[s]);
		b = st(vmxl_us[s], reps[s]);
		bench_report(metric, "us", "kvm userspace", &a, &b);
	}
	b = st(vmxl_us[1], reps[1]);
	a = st(snap_us, restore_reps);
	bench_report("reset_50_vs_snapshot_restore", "us", "snapshot restore",
		     &a, &b);
	a = st(copy_us, restore_reps);
	bench_report("reset_50_vs_full_copy", "us", "copy all + SET", &a, &b);
	a = st(kvm_fuzz, fuzz_rounds);
	b = st(vmxl_fuzz, fuzz_rounds);
	printf("# fuzz loop: %.0f resets/s on vmx-lite, %.0f on KVM (medians)\n",
	       1e6 / b.median, 1e6 / a.median);
	bench_report("fuzz_loop", "us/loop", "kvm userspace", &a, &b);
	return 0;
}
