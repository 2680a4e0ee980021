// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile guests (issue 17, part 3): guests that try to break the host.
 * Every test runs on vmx-lite and, as the reference, on KVM in the same
 * boot (lib/harness.h). Whatever a guest does, each run must end in an
 * exit or error docs/uapi.md documents:
 *
 *   IO, MMIO, HLT, HYPERCALL, SHUTDOWN, FAIL_ENTRY, INTERNAL_ERROR with
 *   suberror EMULATION, UNEXPECTED_EXIT, GUEST_WALK or ENTRY_FAILED, and
 *   INTR (EINTR: the watchdog ended a guest that ran too long); RUN may
 *   also fail with EFAULT (a string IN into memory that is not RAM).
 *
 * Anything else fails the test. The host must stay up and clean (the
 * lane fails on any kernel warning), and the counters must balance: when
 * a test's VMs are gone, /sys/class/misc/vmx-lite/objects is back to
 * zero, and the netlink exit counters of the last VM add up (every exit
 * counted once by kind, as many as the run page's exit_count).
 *
 * KVM must survive the same guests; its exits are histogrammed beside
 * vmx-lite's, and differences are documented where a test compares.
 * Guests that may spin with RFLAGS.IF=0 (random bytes, garbage tables,
 * the kill test) do not run on KVM under kvm_intel: Bochs 2.7 (the vmx
 * lane) holds the host's interrupts while a VMX guest runs with IF=0
 * and KVM, unlike vmx-lite, arms no VMX-preemption timer, so nothing
 * would ever end the guest (docs/testing.md, "Bochs pitfalls").
 *
 * One program of a random test can be run alone with HOSTILE_PROGRAM=<n>
 * in the environment (the sequence is deterministic: fixed seeds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"
#include "kvmload.h"
#include "testlib.h"
#include "vmxl_util.h"
#include "vnl.h"

#define VEC_PORT	0xe8		/* random programs' handlers report here */
#define STORM_PORT	0x80
#define MMIO_BASE	0xd0000000ULL	/* identity-mapped, no RAM: MMIO */
#define SCRATCH_GPA	0x300000ULL	/* free identity-mapped RAM (gvm.h) */

/* ------------------------------------------------------------------ */
/* Deterministic randomness and the device model                       */
/* ------------------------------------------------------------------ */

static uint64_t prng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * What the device model answers to a read of @size bytes at @addr (a
 * port or a guest-physical address). Guests call it too, to check.
 */
static uint64_t dev_value(uint64_t addr, unsigned int size)
{
	uint64_t v = (addr + size) * 0x9e3779b97f4a7c15ULL;

	v ^= v >> 29;
	return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

/* What guests write to a port or address: the host checks it. */
static uint64_t __attribute__((unused)) dev_store(uint64_t addr, unsigned int size)
{
	uint64_t v = ~addr * 0xff51afd7ed558ccdULL;

	return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

static bool kvm_intel(void)
{
	const char *m = test_kvm_vendor_module();

	return m && !strcmp(m, "kvm_intel");
}

/* The vmx lane (Bochs) is slow: tests scale their counts by this. */
static int lane_scale(int svm, int vmx)
{
	return test_cpuinfo_has("vmx") ? vmx : svm;
}

/* ------------------------------------------------------------------ */
/* Exits: classification, histograms, a bounded run loop               */
/* ------------------------------------------------------------------ */

enum outcome {
	O_IO, O_MMIO, O_HLT, O_HYPERCALL, O_SHUTDOWN, O_FAIL_ENTRY,
	O_EMULATION, O_UNEXPECTED, O_GUEST_WALK, O_ENTRY_FAILED, O_INTR,
	O_EFAULT, O_VECTOR, O_BUDGET, O_KVM_OTHER, O_UNDOCUMENTED, O_NR,
};

static const char *const outcome_name[O_NR] = {
	"io", "mmio", "hlt", "hypercall", "shutdown", "fail_entry",
	"internal:emulation", "internal:unexpected_exit",
	"internal:guest_walk", "internal:entry_failed", "intr (watchdog)",
	"efault", "exception handler (port 0xe8)", "exit budget used up",
	"kvm: other", "UNDOCUMENTED",
};

struct hist {
	unsigned long all[O_NR];	/* every exit */
	unsigned long end[O_NR];	/* how each run ended */
	unsigned long runs, exits;
};

static void hist_print(const char *what, enum gvm_kind kind,
		       const struct hist *h)
{
	int i;

	fprintf(stderr, "# %s on %s: %lu runs, %lu exits\n", what, gvm_kind_name(kind),
	       h->runs, h->exits);
	for (i = 0; i < O_NR; i++)
		if (h->all[i] || h->end[i])
			fprintf(stderr, "#   %-30s exits %7lu  ended %5lu\n",
			       outcome_name[i], h->all[i], h->end[i]);
}

static struct kvm_run *kvm_run_of(struct gvm *vm, int cpu)
{
	return vm->run[cpu];
}

static struct vmxl_run *vmxl_run_of(struct gvm *vm, int cpu)
{
	return vm->run[cpu];
}

static volatile __u8 *immediate_exit_of(struct gvm *vm, int cpu)
{
	return vm->kind == GVM_KVM ? &kvm_run_of(vm, cpu)->immediate_exit :
				     &vmxl_run_of(vm, cpu)->immediate_exit;
}

/* What RUN's result and the run page say, as an outcome. */
static enum outcome classify(struct gvm *vm, int cpu, int ret,
			     const struct gvm_exit *e)
{
	if (ret == -EINTR)
		return O_INTR;
	if (ret == -EFAULT && vm->kind == GVM_VMXL)
		return O_EFAULT;
	if (ret)
		return vm->kind == GVM_KVM ? O_KVM_OTHER : O_UNDOCUMENTED;
	if (vm->kind == GVM_KVM) {
		struct kvm_run *r = kvm_run_of(vm, cpu);

		switch (r->exit_reason) {
		case KVM_EXIT_IO:
			return r->io.port == VEC_PORT &&
			       r->io.direction == KVM_EXIT_IO_OUT ? O_VECTOR : O_IO;
		case KVM_EXIT_MMIO:
			return O_MMIO;
		case KVM_EXIT_HLT:
			return O_HLT;
		case KVM_EXIT_HYPERCALL:
			return O_HYPERCALL;
		case KVM_EXIT_SHUTDOWN:
			return O_SHUTDOWN;
		case KVM_EXIT_FAIL_ENTRY:
			return O_FAIL_ENTRY;
		case KVM_EXIT_INTERNAL_ERROR:
			return r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			       O_EMULATION : O_KVM_OTHER;
		}
		return O_KVM_OTHER;
	}
	switch (e->raw) {
	case VMXL_EXIT_IO:
		return e->port == VEC_PORT && e->write ? O_VECTOR : O_IO;
	case VMXL_EXIT_MMIO:
		return O_MMIO;
	case VMXL_EXIT_HLT:
		return O_HLT;
	case VMXL_EXIT_HYPERCALL:
		return O_HYPERCALL;
	case VMXL_EXIT_SHUTDOWN:
		return O_SHUTDOWN;
	case VMXL_EXIT_FAIL_ENTRY:
		return O_FAIL_ENTRY;
	case VMXL_EXIT_INTERNAL_ERROR:
		switch (vmxl_run_of(vm, cpu)->internal.suberror) {
		case VMXL_INTERNAL_EMULATION:
			return O_EMULATION;
		case VMXL_INTERNAL_UNEXPECTED_EXIT:
			return O_UNEXPECTED;
		case VMXL_INTERNAL_GUEST_WALK:
			return O_GUEST_WALK;
		case VMXL_INTERNAL_ENTRY_FAILED:
			return O_ENTRY_FAILED;
		}
		return O_UNDOCUMENTED;
	}
	return O_UNDOCUMENTED;
}

/* Exits after which the guest may go on. */
static bool resumable(enum outcome o)
{
	return o == O_IO || o == O_MMIO || o == O_HLT || o == O_HYPERCALL ||
	       o == O_EFAULT;
}

/* Say what an exit was, with the details a bug report needs. */
static void exit_describe(struct gvm *vm, int cpu, int ret,
			  const struct gvm_exit *e, char *buf, size_t len)
{
	char b[320];

	if (ret) {
		snprintf(buf, len, "RUN failed: %s", strerror(-ret));
		return;
	}
	gvm_exit_str(e, b, sizeof(b));
	if (vm->kind == GVM_VMXL && e->raw == VMXL_EXIT_INTERNAL_ERROR) {
		struct vmxl_run *r = vmxl_run_of(vm, cpu);

		snprintf(buf, len, "%s; suberror %u data 0x%llx 0x%llx", b,
			 r->internal.suberror,
			 (unsigned long long)r->internal.data[0],
			 (unsigned long long)r->internal.data[1]);
		return;
	}
	snprintf(buf, len, "%s", b);
}

/* The watchdog: SIGALRM sets immediate_exit, so RUN ends with EINTR. */
static volatile __u8 *watch_exit;

static void on_watchdog(int sig)
{
	(void)sig;
	if (watch_exit)
		*watch_exit = 1;
}

static void watchdog_arm(struct gvm *vm, int cpu, int ms)
{
	struct sigaction sa = { .sa_handler = on_watchdog };	/* no restart */
	struct itimerval it = {
		.it_value = { ms / 1000, (ms % 1000) * 1000 },
	};

	sigaction(SIGALRM, &sa, NULL);
	*immediate_exit_of(vm, cpu) = 0;
	watch_exit = immediate_exit_of(vm, cpu);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void watchdog_disarm(struct gvm *vm, int cpu)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	watch_exit = NULL;
	*immediate_exit_of(vm, cpu) = 0;
}

/* KVM batches string I/O: the data of an IN is @count elements. */
static void complete_in(struct gvm *vm, int cpu, const struct gvm_exit *e)
{
	unsigned int i;

	if (vm->kind == GVM_KVM && e->reason != GVM_EXIT_MMIO) {
		struct kvm_run *r = kvm_run_of(vm, cpu);

		for (i = 0; i < r->io.count; i++) {
			uint64_t v = dev_value(e->port, e->size);

			memcpy((char *)r + r->io.data_offset + i * e->size, &v,
			       e->size);
		}
		return;
	}
	gvm_complete_read(vm, cpu, dev_value(e->reason == GVM_EXIT_MMIO ?
					     e->addr : e->port, e->size));
}

/*
 * Run vCPU @cpu until an exit after which it cannot go on, at most
 * @max_exits exits and @ms milliseconds; answer every read with
 * dev_value(). Returns how it ended (O_BUDGET: exits used up), with the
 * last exit in @last and RUN's result in @last_ret.
 */
static enum outcome run_bounded(struct gvm *vm, int cpu, int max_exits,
				int ms, struct hist *h, struct gvm_exit *last,
				int *last_ret)
{
	enum outcome o = O_BUDGET;
	struct gvm_exit e;
	int n, ret = 0;

	watchdog_arm(vm, cpu, ms);
	for (n = 0; n < max_exits; n++) {
		ret = gvm_run(vm, cpu, &e);
		o = classify(vm, cpu, ret, &e);
		h->all[o]++;
		h->exits++;
		if (!resumable(o))
			break;
		if (!ret && (e.reason == GVM_EXIT_IO || e.reason == GVM_EXIT_MMIO) &&
		    !e.write)
			complete_in(vm, cpu, &e);
		o = O_BUDGET;
	}
	watchdog_disarm(vm, cpu);
	h->end[o]++;
	h->runs++;
	if (last)
		*last = e;
	if (last_ret)
		*last_ret = ret;
	return o;
}

/* ------------------------------------------------------------------ */
/* Counters balance                                                    */
/* ------------------------------------------------------------------ */

/*
 * The netlink counters of @vm (vmx-lite): every exit counted once in
 * EXITS and once by kind, EXITS the sum of the run pages' exit_count,
 * USER no more than EXITS.
 */
static void check_stats(struct __test_metadata *_metadata, struct gvm *vm)
{
	uint64_t kinds = 0, entries = 0;
	struct vnl_vm v;
	struct vnl nl;
	long id;
	int i;

	if (vm->kind != GVM_VMXL || vm->vm_fd < 0)
		return;
	id = ioctl(vm->vm_fd, VMXL_GET_VM_ID, 0);
	EXPECT_LT(0, id);
	if (id <= 0 || vnl_open(&nl))
		return;
	EXPECT_EQ(0, vnl_get_vm(&nl, id, &v));
	vnl_close(&nl);
	for (i = VMXL_STAT_USER + 1; i < __VMXL_STAT_MAX; i++)
		kinds += v.stats[i];
	for (i = 0; i < vm->nr_vcpus; i++)
		entries += vmxl_run_of(vm, i)->exit_count;
	EXPECT_EQ(v.stats[VMXL_STAT_EXITS], kinds);
	EXPECT_EQ(v.stats[VMXL_STAT_EXITS], entries);
	EXPECT_GE(v.stats[VMXL_STAT_EXITS], v.stats[VMXL_STAT_USER]);
}

static void expect_no_objects(struct __test_metadata *_metadata)
{
	if (!test_module_loaded("vmx_lite"))
		return;
	EXPECT_EQ(0, vmxl_objects("vms"));
	EXPECT_EQ(0, vmxl_objects("vcpus"));
	EXPECT_EQ(0, vmxl_objects("pinned_pages"));
	EXPECT_EQ(0, vmxl_objects("table_pages"));
}

FIXTURE(hostile) {
	struct gvm vm;
};

GVM_VARIANTS(hostile);

FIXTURE_SETUP(hostile)
{
	GVM_SETUP(2);
}

FIXTURE_TEARDOWN(hostile)
{
	check_stats(_metadata, &self->vm);
	gvm_destroy(&self->vm);
	if (variant->kind == GVM_VMXL)
		expect_no_objects(_metadata);
	GVM_TEARDOWN();
}

/* A skipped setup still runs the test: stop it there. */
#define BEGIN() do {							\
	if (_metadata->skip)						\
		return;							\
} while (0)

/* Guests that may spin with IF=0 cannot be stopped on KVM under Bochs. */
#define NO_SPIN_ON_KVM_INTEL() do {					\
	if (variant->kind == GVM_KVM && kvm_intel())			\
		SKIP(return, "KVM under kvm_intel cannot end a guest "	\
		     "spinning with IF=0 on Bochs (see the top of the file)"); \
} while (0)

/* ------------------------------------------------------------------ */
/* Random instruction bytes in real, protected and long mode            */
/* ------------------------------------------------------------------ */

/*
 * Each program lives in the first 64 KiB, rebuilt before it runs:
 *   0x0000 real-mode IVT      0x1000 GDT         0x2000 IDT
 *   0x3000 handler stubs: "mov $vector, %al; out %al, $0xe8; hlt; jmp"
 *   0x4000 TSS    0x5000-0x7fff stack    0x8000 code, 0x9000 data: random
 *   0xa000 long-mode tables: PML4, PDPT, 4 PDs mapping 0-4 GiB (2 MiB)
 * Half the programs get handlers for every vector, half none (an empty
 * IDT: the first exception shuts the guest down). Registers are random:
 * zero, 16-bit, 32-bit or 64-bit values. The rest of RAM is not restored
 * between programs: a program's result may depend on what the ones
 * before it wrote there, but the whole sequence is fixed by its seed.
 */
enum rmode { RM_REAL, RM_PROT, RM_LONG };

#define R_GDT		0x1000
#define R_IDT		0x2000
#define R_STUBS		0x3000
#define R_TSS		0x4000
#define R_STACK		0x7ff0
#define R_CODE		0x8000
#define R_PML4		0xa000
#define R_PDPT		0xb000
#define R_PD		0xc000

static struct vmxl_segment mkseg(uint16_t sel, uint8_t type, bool s,
				 bool db, bool l, bool big)
{
	struct vmxl_segment g = {
		.selector = sel, .type = type, .present = 1, .s = s,
		.db = db, .l = l, .g = big,
		.limit = big ? 0xffffffff : 0xffff,
	};

	return g;
}

static void random_env(uint8_t *mem, enum rmode m, bool handlers,
		       uint64_t *seed)
{
	uint64_t *gdt = (uint64_t *)(mem + R_GDT);
	uint64_t *idt = (uint64_t *)(mem + R_IDT);
	unsigned int v, i;

	memset(mem, 0, 0x10000);
	gdt[1] = 0x00cf9b000000ffffULL;		/* 0x08 code32 */
	gdt[2] = 0x00cf93000000ffffULL;		/* 0x10 data */
	gdt[3] = 0x00af9b000000ffffULL;		/* 0x18 code64 */
	gdt[4] = 0x00cf93000000ffffULL;		/* 0x20 data */
	gdt[5] = 0x00009b000000ffffULL;		/* 0x28 code16 */
	gdt[6] = 0x67 | ((uint64_t)R_TSS << 16) | (0x89ULL << 40); /* 0x30 TSS */
	for (v = 0; v < 256; v++) {
		uint8_t *stub = mem + R_STUBS + 8 * v;
		uint64_t off = R_STUBS + 8 * v;

		stub[0] = 0xb0;			/* mov $v, %al */
		stub[1] = v;
		stub[2] = 0xe6;			/* out %al, $VEC_PORT */
		stub[3] = VEC_PORT;
		stub[4] = 0xf4;			/* hlt */
		stub[5] = 0xeb;			/* jmp to the hlt */
		stub[6] = 0xfd;
		if (!handlers)
			continue;
		if (m == RM_REAL) {
			((uint16_t *)mem)[2 * v] = off;
			((uint16_t *)mem)[2 * v + 1] = 0;
		} else if (m == RM_PROT) {
			idt[v] = (off & 0xffff) | (0x08ULL << 16) |
				 (0x8eULL << 40) | ((off >> 16) << 48);
		} else {
			idt[2 * v] = (off & 0xffff) | (0x18ULL << 16) |
				     (0x8eULL << 40) | ((off >> 16) << 48);
			idt[2 * v + 1] = 0;
		}
	}
	((uint64_t *)(mem + R_PML4))[0] = R_PDPT | 3;
	for (i = 0; i < 4; i++) {
		((uint64_t *)(mem + R_PDPT))[i] = (R_PD + 0x1000 * i) | 3;
		for (v = 0; v < 512; v++)
			((uint64_t *)(mem + R_PD + 0x1000 * i))[v] =
				((uint64_t)i << 30) | ((uint64_t)v << 21) | 0x83;
	}
	for (i = 0; i < 0x2000; i += 8) {
		uint64_t r = prng(seed);

		memcpy(mem + R_CODE + i, &r, 8);
	}
}

static int random_state(struct gvm *vm, enum rmode m, bool handlers,
			const struct vmxl_sregs *reset, uint64_t *seed)
{
	struct vmxl_sregs s = *reset;
	struct vmxl_regs r;
	uint64_t *gpr = (uint64_t *)&r;
	int i, ret;

	s.gdt.base = R_GDT;
	s.gdt.limit = 0x3f;
	s.cr2 = 0;
	s.cr8 = 0;
	s.cr0 = 0x30;			/* ET NE */
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	switch (m) {
	case RM_REAL:
		s.cs = mkseg(0, 11, true, false, false, false);
		s.ds = mkseg(0, 3, true, false, false, false);
		s.idt.base = 0;
		s.idt.limit = handlers ? 0x3ff : 0;
		break;
	case RM_PROT:
		s.cs = mkseg(0x08, 11, true, true, false, true);
		s.ds = mkseg(0x10, 3, true, true, false, true);
		s.idt.base = R_IDT;
		s.idt.limit = handlers ? 256 * 8 - 1 : 0;
		s.cr0 = 0x33;		/* ET NE MP PE */
		s.cr4 = 0x600;		/* OSFXSR OSXMMEXCPT */
		break;
	case RM_LONG:
		s.cs = mkseg(0x18, 11, true, false, true, true);
		s.ds = mkseg(0x20, 3, true, true, false, true);
		s.idt.base = R_IDT;
		s.idt.limit = handlers ? 256 * 16 - 1 : 0;
		s.cr0 = 0x80010033;	/* PG WP NE ET MP PE */
		s.cr3 = R_PML4;
		s.cr4 = 0x620;		/* OSXMMEXCPT OSFXSR PAE */
		s.efer = 0x500;		/* LMA LME */
		break;
	}
	s.es = s.fs = s.gs = s.ss = s.ds;
	if (m != RM_REAL) {
		memset(&s.tr, 0, sizeof(s.tr));
		s.tr.selector = 0x30;
		s.tr.base = R_TSS;
		s.tr.limit = 0x67;
		s.tr.type = 11;
		s.tr.present = 1;
	}
	ret = gvm_set_sregs(vm, 0, &s);
	if (ret)
		return ret;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < 16; i++) {
		uint64_t v = prng(seed);

		switch (v & 3) {
		case 0: gpr[i] = 0; break;
		case 1: gpr[i] = v >> 48; break;
		case 2: gpr[i] = v >> 32; break;
		case 3: gpr[i] = v; break;
		}
	}
	r.rsp = R_STACK;
	r.rip = R_CODE;
	r.rflags = 2;
	return gvm_set_regs(vm, 0, &r);
}

static const char *const rmode_name[] = { "real", "protected", "long" };

static void random_programs(struct __test_metadata *_metadata,
			    struct gvm *vm, enum rmode m, int count)
{
	const char *only = getenv("HOSTILE_PROGRAM");
	struct vmxl_sregs reset;
	int i, bad = 0, ret;
	struct gvm_exit e;
	struct hist h = { 0 };
	char what[64], b[400];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, gvm_get_sregs(vm, 0, &reset));
	for (i = 0; i < count; i++) {
		uint64_t seed = 0x5eed0000ULL * (m + 1) + i;
		bool handlers = i & 1;
		enum outcome o;

		if (only && atoi(only) != i)
			continue;
		gvm_settle(vm, 0);	/* what the last program left pending */
		random_env(vm->mem, m, handlers, &seed);
		ASSERT_EQ(0, random_state(vm, m, handlers, &reset, &seed));
		o = run_bounded(vm, 0, 16, 20, &h, &e, &ret);
		if (o != O_UNDOCUMENTED)
			continue;
		exit_describe(vm, 0, ret, &e, b, sizeof(b));
		snprintf(what, sizeof(what), "%s-mode program %d", rmode_name[m], i);
		TH_LOG("%s (HOSTILE_PROGRAM=%d): %s", what, i, b);
		bad++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(what, sizeof(what), "random %s-mode programs (%.1f s)",
		 rmode_name[m], (t1.tv_sec - t0.tv_sec) +
		 (t1.tv_nsec - t0.tv_nsec) / 1e9);
	hist_print(what, vm->kind, &h);
	EXPECT_EQ(0, bad);
}

#define RANDOM_PROGRAMS	lane_scale(200, 200)

TEST_F_TIMEOUT(hostile, random_real_mode, 120)
{
	BEGIN();
	NO_SPIN_ON_KVM_INTEL();
	random_programs(_metadata, &self->vm, RM_REAL, RANDOM_PROGRAMS);
}

TEST_F_TIMEOUT(hostile, random_protected_mode, 120)
{
	BEGIN();
	NO_SPIN_ON_KVM_INTEL();
	random_programs(_metadata, &self->vm, RM_PROT, RANDOM_PROGRAMS);
}

TEST_F_TIMEOUT(hostile, random_long_mode, 120)
{
	BEGIN();
	NO_SPIN_ON_KVM_INTEL();
	random_programs(_metadata, &self->vm, RM_LONG, RANDOM_PROGRAMS);
}

TEST_HARNESS_MAIN
