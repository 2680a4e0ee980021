// SPDX-License-Identifier: GPL-2.0
/*
 * The local APIC's hot paths, vmx-lite's in-kernel APIC against KVM's
 * (split irqchip) in the same boot, the same guest code on both; every
 * time is taken by the guest with RDTSC and reported in ns of guest TSC:
 *
 *   timer_irq_latency  the one-shot APIC timer armed 50 us ahead while
 *                      the vCPU halts: expiry to the handler's first
 *                      RDTSC (one-shot, not TSC-deadline: KVM under QEMU,
 *                      on a host TSC it calls unstable, lost a deadline
 *                      interrupt after a few dozen)
 *   ipi_round_trip     vCPU 0 sends a fixed IPI to vCPU 1, which spins
 *                      with interrupts on and answers with an IPI: send
 *                      to the answer's handler
 *   hlt_wakeup         vCPU 1 halts; vCPU 0 sends it an IPI: send to the
 *                      handler on vCPU 1 (both read one TSC: vmx-lite
 *                      gives the vCPUs of a VM one TSC basis, KVM
 *                      synchronises TSCs written within a second)
 *   eoi                one EOI write (an MMIO exit handled in the kernel)
 *
 *   bench_lapic [-n samples] [-r repeats]
 *
 * Exit 0, or 1 when a step failed or a vmx-lite run did not finish.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gvm.h"
#include "testlib.h"

#define MAX_SAMPLES	2000
#define MAX_REPS	16
#define VEC_BASE	0x40	/* handler n: vector 0x40 + n */
#define APIC		0xfee00000UL
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_EOI	0xb0
#define APIC_SVR	0xf0
#define APIC_LVTT	0x320
#define APIC_TMICT	0x380
#define APIC_TDCR	0x3e0

#define FAIL(...) do {							\
	fprintf(stderr, "bench_lapic: " __VA_ARGS__);			\
	exit(1);							\
} while (0)

enum op { OP_TIMER, OP_IPI, OP_WAKE, OP_EOI, NR_OPS };

static const char *const op_names[NR_OPS] = {
	"timer_irq_latency", "ipi_round_trip", "hlt_wakeup", "eoi",
};

/* Guest data: each VM writes its own copy (gvm_image_ptr() reads it). */
static uint64_t bench_idt[2 * 256] __attribute__((aligned(4096)));
uint64_t irq_tsc[4], irq_count[4];
static uint64_t samples[MAX_SAMPLES];
/* set by the host: samples per round, the timer's count and its TSC ticks */
static uint64_t param_n, param_count, param_lead;
static volatile uint64_t stop_flag, peer_ready;

/*
 * Handlers 0-3 for vectors 0x40-0x43: take the TSC first, count, EOI.
 * Handler 1 (vCPU 1 in ipi_round_trip) answers vCPU 0 with vector 0x40
 * before its EOI.
 */
extern const char bench_irq0[], bench_irq1[], bench_irq2[], bench_irq3[];
asm(".pushsection .text\n"
#define STUB(n, extra)							\
    "bench_irq" #n ":\n"						\
    "  push %rax\n  push %rdx\n  push %rcx\n"				\
    "  rdtsc\n  shl $32, %rdx\n  or %rdx, %rax\n"			\
    "  mov %rax, irq_tsc+8*" #n "(%rip)\n"				\
    "  incq irq_count+8*" #n "(%rip)\n"					\
    "  mov $0xfee00000, %ecx\n"						\
    extra								\
    "  movl $0, 0xb0(%rcx)\n"						\
    "  pop %rcx\n  pop %rdx\n  pop %rax\n  iretq\n"
    STUB(0, "")
    STUB(1, "  movl $0, 0x310(%rcx)\n  movl $0x40, 0x300(%rcx)\n")
    STUB(2, "")
    STUB(3, "")
#undef STUB
    ".popsection\n");

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t)hi << 32;
}

static inline void apic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(APIC + reg) = v;
}

static inline uint64_t count(int n)
{
	return *(volatile uint64_t *)&irq_count[n];
}

/* The IDT with the library's exception gates and our four handlers. */
static void guest_setup(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(bench_idt) - 1,
					(uint64_t)bench_idt };

	asm volatile("lidt %0" : : "m"(d));
	apic_write(APIC_SVR, 0x1ff);
}

static void send_ipi(uint32_t apic_id, uint8_t vec)
{
	apic_write(APIC_ICR_HI, apic_id << 24);
	apic_write(APIC_ICR_LO, vec);
}

static void guest_main(uint64_t op)
{
	uint64_t n = param_n, i, c, t0;

	guest_setup();
	/* a software-disabled APIC drops fixed IPIs: wait for vCPU 1's */
	if (op == OP_IPI || op == OP_WAKE)
		while (!peer_ready)
			asm volatile("pause");
	apic_write(APIC_TDCR, 0xb);		/* divide by 1 */
	apic_write(APIC_LVTT, VEC_BASE);	/* one-shot */
	for (;;) {
		for (i = 0; i < n; i++) {
			switch (op) {
			case OP_TIMER:
				c = count(0);
				t0 = tsc();
				apic_write(APIC_TMICT, param_count);
				t0 += param_lead;
				while (count(0) == c)
					asm volatile("sti; hlt; cli");
				samples[i] = irq_tsc[0] - t0;
				break;
			case OP_IPI:
				c = count(0);
				asm volatile("sti");
				t0 = tsc();
				send_ipi(1, VEC_BASE + 1);
				while (count(0) == c)
					asm volatile("pause");
				asm volatile("cli");
				samples[i] = irq_tsc[0] - t0;
				break;
			case OP_WAKE:
				c = count(2);
				t0 = tsc();
				send_ipi(1, VEC_BASE + 2);
				while (count(2) == c)
					asm volatile("pause");
				samples[i] = irq_tsc[2] - t0;
				break;
			case OP_EOI:
				t0 = tsc();
				apic_write(APIC_EOI, 0);
				samples[i] = tsc() - t0;
				break;
			}
		}
		GUEST_SYNC(op, n);
	}
}

/* vCPU 1: wait for IPIs, spinning (ipi_round_trip) or halted (hlt_wakeup). */
static void guest_peer(uint64_t op)
{
	guest_setup();
	peer_ready = 1;
	/*
	 * IF stays set while spinning: Bochs holds host interrupts, kicks
	 * among them, while a guest runs with IF clear (see vmx.c's slice).
	 */
	asm volatile("sti");
	while (!stop_flag) {
		if (op == OP_IPI)
			asm volatile("pause");
		else
			asm volatile("hlt");
	}
}

struct run_ctx {
	uint64_t tsc_khz;
	unsigned int n, round, reps;
	double med[MAX_REPS];
};

/* The median of a round's samples, in ns of guest TSC. */
static double round_median(struct gvm *vm, uint64_t khz, unsigned int n)
{
	uint64_t *s = gvm_image_ptr(vm, samples);
	double d[MAX_SAMPLES];
	unsigned int i;

	for (i = 0; i < n; i++)
		d[i] = (double)s[i] * 1e6 / khz;
	return bench_stat(d, n).median;
}

/* vCPU 0 reports a round; after the last, vCPU 1 is told to stop. */
static int on_vcpu_exit(struct gvm *vm, int cpu, struct gvm_exit *e, void *arg)
{
	struct run_ctx *c = arg;
	char b[320];

	if (e->reason == GVM_EXIT_UCALL && e->uc.cmd == UCALL_DONE && cpu)
		return 1;
	if (e->reason != GVM_EXIT_UCALL || e->uc.cmd != UCALL_SYNC || cpu) {
		fprintf(stderr, "bench_lapic: %s: vCPU %d: %s\n",
			gvm_kind_name(vm->kind), cpu,
			e->reason == GVM_EXIT_UCALL ?
			gvm_ucall_str(&e->uc, b, sizeof(b)) :
			gvm_exit_str(e, b, sizeof(b)));
		return -EIO;
	}
	if (c->round)		/* round 0 warms up */
		c->med[c->round - 1] = round_median(vm, c->tsc_khz, c->n);
	if (++c->round <= c->reps)
		return 0;
	*(uint64_t *)gvm_image_ptr(vm, (const void *)&stop_flag) = 1;
	/* a halted vCPU 1 needs an interrupt to see it */
	if (gvm_signal_msi(vm, APIC | 1 << 12, VEC_BASE + 3) < 0)
		return -EIO;
	return 1;
}

/* Where the vCPUs stand, for a run that did not finish. */
static void dump(struct gvm *vm, int nr)
{
	struct vmxl_lapic_state st;
	struct vmxl_regs r;
	uint64_t *cnt = gvm_image_ptr(vm, irq_count);
	uint32_t mp;
	int cpu;

	for (cpu = 0; cpu < nr; cpu++) {
		memset(&st, 0, sizeof(st));
		gvm_get_regs(vm, cpu, &r);
		gvm_get_mp_state(vm, cpu, &mp);
		gvm_get_lapic(vm, cpu, &st);
		fprintf(stderr, "# vCPU %d: RIP %#llx RFLAGS %#llx MP %u "
			"SVR %#x LVTT %#x IRR2 %#x ISR2 %#x deadline %#llx "
			"counts %lu %lu %lu\n", cpu,
			(unsigned long long)r.rip, (unsigned long long)r.rflags,
			mp, *(uint32_t *)(st.regs + 0xf0),
			*(uint32_t *)(st.regs + 0x320),
			*(uint32_t *)(st.regs + 0x220),
			*(uint32_t *)(st.regs + 0x120),
			(unsigned long long)st.timer_deadline,
			(unsigned long)cnt[0], (unsigned long)cnt[1],
			(unsigned long)cnt[2]);
	}
}

/* Run @op on @kind into *@st; false when the run did not finish. */
static bool run_op(enum gvm_kind kind, enum op op, unsigned int n,
		   unsigned int reps, struct bench_stat *st)
{
	struct run_ctx c = { .n = n, .reps = reps };
	int nr = op == OP_IPI || op == OP_WAKE ? 2 : 1, ret;
	void *stubs[4] = { (void *)bench_irq0, (void *)bench_irq1,
			   (void *)bench_irq2, (void *)bench_irq3 };
	uint64_t *idt, *lib;
	struct gvm vm;
	int v;

	if (gvm_create_flags(&vm, kind, 2, GVM_LAPIC))
		FAIL("%s: cannot create a VM with an APIC\n",
		     gvm_kind_name(kind));
	c.tsc_khz = gvm_tsc_khz(&vm);
	if (!c.tsc_khz)
		FAIL("%s: TSC rate unknown\n", gvm_kind_name(kind));
	idt = gvm_image_ptr(&vm, bench_idt);
	lib = gvm_gpa(&vm, vm.idt, 32 * 16);
	if (!idt || !lib)
		FAIL("%s: no IDT\n", gvm_kind_name(kind));
	memcpy(idt, lib, 32 * 16);
	for (v = 0; v < 4; v++) {
		uint64_t off = (uint64_t)stubs[v];

		/* a 64-bit interrupt gate, as the library's own (16 bytes) */
		idt[2 * (VEC_BASE + v)] = (lib[0] & 0xffff0000ULL) |
					  (off & 0xffff) |
					  (0x8eULL << 40) |
					  ((off >> 16 & 0xffff) << 48);
		idt[2 * (VEC_BASE + v) + 1] = off >> 32;
	}
	/*
	 * 50 us: vmx-lite's APIC timer counts at the TSC rate, KVM's at
	 * 1 GHz (docs/lapic.md).
	 */
	*(uint64_t *)gvm_image_ptr(&vm, &param_n) = n;
	*(uint64_t *)gvm_image_ptr(&vm, &param_lead) = 50 * c.tsc_khz / 1000;
	*(uint64_t *)gvm_image_ptr(&vm, &param_count) =
		kind == GVM_KVM ? 50000 : 50 * c.tsc_khz / 1000;
	if (gvm_enter_long_mode(&vm, 0, guest_main, op, 0))
		FAIL("%s: cannot start vCPU 0\n", gvm_kind_name(kind));
	if (nr == 2 &&
	    (gvm_enter_long_mode(&vm, 1, guest_peer, op, 0) ||
	     gvm_set_mp_state(&vm, 1, GVM_MP_RUNNABLE)))
		FAIL("%s: cannot start vCPU 1\n", gvm_kind_name(kind));
	ret = gvm_run_parallel(&vm, nr, on_vcpu_exit, &c, 60000, NULL);
	if (ret) {
		fprintf(stderr, "# %s: %s did not finish: %s\n",
			gvm_kind_name(kind), op_names[op], strerror(-ret));
		dump(&vm, nr);
	}
	gvm_destroy(&vm);
	*st = bench_stat(c.med, reps);
	return !ret;
}

int main(int argc, char **argv)
{
	unsigned int n = 500, reps = 5;
	struct bench_stat k[NR_OPS], v[NR_OPS];
	bool kvm, kvm_ok[NR_OPS];
	int opt, op, status = 0;

	while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: bench_lapic [-n samples] [-r repeats]\n");
			return opt == 'h' ? 0 : 1;
		}
	}
	if (!n || n > MAX_SAMPLES || !reps || reps > MAX_REPS)
		FAIL("-n 1..%d, -r 1..%d\n", MAX_SAMPLES, MAX_REPS);

	if (gvm_hypervisor_load(GVM_VMXL))
		FAIL("cannot load vmx_lite\n");
	for (op = 0; op < NR_OPS; op++)
		if (!run_op(GVM_VMXL, op, n, reps, &v[op]))
			status = 1;
	/*
	 * KVM under QEMU has lost a timer interrupt in a halted vCPU here
	 * (svm lane): then that metric has no reference, and says so.
	 */
	kvm = !gvm_hypervisor_load(GVM_KVM);
	for (op = 0; op < NR_OPS; op++)
		kvm_ok[op] = kvm && run_op(GVM_KVM, op, n, reps, &k[op]);
	for (op = 0; op < NR_OPS; op++)
		bench_report(op_names[op], "ns", "kvm",
			     kvm_ok[op] ? &k[op] : NULL, &v[op]);
	return status;
}
