// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel local APIC (VMXL_VM_LAPIC, docs/lapic.md): its uapi, what
 * the guest sees of its registers after reset, the timer in its three
 * modes (TSC-deadline saved and restored too), HLT waiting in the kernel
 * (with IF=0 until an NMI, ended by a signal), saving and restoring it,
 * the EOI exit of level-triggered MSIs, MSIs to logical destinations and
 * INIT by MSI, IPIs between vCPUs in xAPIC and x2APIC mode, level IPIs,
 * ESR and the error LVT, SVR's software disable, APIC_BASE's reserved
 * bits and relocation, and (vmx-lite only) a halted vCPU, an IPI in IRR
 * and a TSC deadline saved into a snapshot file and restored from it as
 * vmxctl does (the snapshot library, lib/vmstate.c). Every test runs on
 * vmx-lite and, as the reference, on KVM's in-kernel APIC in the same
 * boot (KVM_CAP_SPLIT_IRQCHIP: IOAPIC and PIC in userspace, as with
 * vmx-lite; lib/gvm.h, GVM_LAPIC).
 *
 * Guests are C functions of this binary (lib/guest.h). They load an IDT
 * the host built (build_idt()) whose gates go through irq_stub_common to
 * guest_irq(), which counts each vector per vCPU, logs the TSC and the
 * order of arrivals, calls a test's hook and EOIs (not NMIs); vectors
 * 0-31 but NMI keep the library's exception stubs, and #GP can be made
 * recoverable (gp_expected) for the x2APIC MSR rules. The binary is built
 * with -mno-red-zone (selftests/Makefile): interrupts arrive on the
 * stack of whatever guest code runs, as in a kernel.
 *
 * Legitimate differences between the two are computed per kind where
 * they are checked; each says why:
 *  - timer rate: vmx-lite's APIC timer counts at the guest TSC rate
 *    (caps.tsc_khz), KVM's at 1 GHz (1 ns per count);
 *  - KVM's APs with an in-kernel APIC start UNINITIALIZED, vmx-lite's
 *    INIT_RECEIVED (both: waiting for INIT/STARTUP);
 *  - version: KVM sets bit 24 (directed EOI) when the guest has x2APIC
 *    and the IOAPIC is not in the kernel (split irqchip);
 *  - LINT0: KVM sets the BSP's to ExtINT, unmasked (0x700), by its quirk
 *    KVM_X86_QUIRK_LINT0_REENABLED;
 *  - an APIC disabled in APIC_BASE: vmx-lite's page reads all ones in the
 *    kernel, KVM lets the access exit to userspace as MMIO (the host
 *    answers all ones, as a bus with nothing behind it would);
 *  - lowest priority: vmx-lite picks the lowest-numbered vCPU of the
 *    destination, KVM (vector hashing) one of them by the vector;
 *  - VMXL_EXIT_EOI has no KVM equivalent for an MSI (KVM's split irqchip
 *    reports KVM_EXIT_IOAPIC_EOI only for vectors routed through its
 *    IOAPIC routes), nor do vmx-lite's exit counters;
 *  - a level-triggered fixed IPI: edge on vmx-lite, as on the Pentium 4
 *    and later; KVM sets its TMR bit and drops a de-asserted one (see
 *    level_ipi_tmr);
 *  - APIC errors: KVM 6.1 models none (ESR reads 0), nor LINT pulses;
 *  - SVR: KVM keeps bits 9 and 12 (focus, directed EOI), vmx-lite not;
 *  - APIC_BASE: KVM lets the guest move the enabled page, vmx-lite
 *    raises #GP (docs/lapic.md);
 *  - STARTUP by MSI: KVM takes it, vmx-lite's uapi refuses it.
 *
 * The emulators under the lanes have bugs of their own that the tests
 * meet: QEMU 7.2 (svm lane) does not load STI's interrupt shadow at
 * VMRUN (see hlt_waits_in_kernel), and takes a virtual interrupt whose
 * V_INTR_PRIO equals V_TPR (see tpr_and_cr8). A guest stuck in the
 * kernel fails its test with where it stands (log_vcpu()) rather than at
 * the harness's timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "libvmxlite.h"
#include "snapshot.h"
#include "vmstate.h"
#include "gvm.h"
#include "harness.h"
#include "kvmload.h"
#include "testlib.h"
#include "vmxl_util.h"
#include "vnl.h"

/* ------------------------------------------------------------------ */
/* Guest side: the APIC, an IDT that counts                            */
/* ------------------------------------------------------------------ */

#define APIC_GPA	0xfee00000u
#define APIC_ID		0x020
#define APIC_VER	0x030
#define APIC_TPR	0x080
#define APIC_APR	0x090
#define APIC_PPR	0x0a0
#define APIC_EOI	0x0b0
#define APIC_LDR	0x0d0
#define APIC_DFR	0x0e0
#define APIC_SVR	0x0f0
#define APIC_ISR	0x100
#define APIC_TMR	0x180
#define APIC_IRR	0x200
#define APIC_ESR	0x280
#define APIC_ICR	0x300
#define APIC_ICR2	0x310
#define APIC_LVTT	0x320
#define APIC_LVTTHMR	0x330
#define APIC_LVTPC	0x340
#define APIC_LVT0	0x350
#define APIC_LVT1	0x360
#define APIC_LVTERR	0x370
#define APIC_TMICT	0x380
#define APIC_TMCCT	0x390
#define APIC_TDCR	0x3e0

#define LVT_MASKED	(1u << 16)
#define LVTT_ONESHOT	(0u << 17)
#define LVTT_PERIODIC	(1u << 17)
#define LVTT_DEADLINE	(2u << 17)

#define ICR_FIXED	(0u << 8)
#define ICR_LOWEST	(1u << 8)
#define ICR_NMI		(4u << 8)
#define ICR_INIT	(5u << 8)
#define ICR_STARTUP	(6u << 8)
#define ICR_LOGICAL	(1u << 11)
#define ICR_ASSERT	(1u << 14)
#define ICR_LEVEL	(1u << 15)
#define ICR_SELF	(1u << 18)
#define ICR_ALL		(2u << 18)
#define ICR_OTHERS	(3u << 18)

#define MSR_APIC_BASE	0x1b
#define MSR_TSC		0x10
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC(reg)	(0x800 + ((reg) >> 4))
#define MSR_SELF_IPI	0x83f
#define BASE_EN		(1ull << 11)
#define BASE_EXTD	(1ull << 10)
#define BASE_BSP	(1ull << 8)

#define VEC_TIMER	0xec
#define VEC_NMI		2
#define NR_ARR		64

#define CODE16_PORT	0xe4	/* the real-mode AP stub reports here */

/* What one vCPU saw; written by guest_irq() on that vCPU. */
struct pcpu {
	uint64_t count[256];
	uint64_t arrivals;		/* entries of tsc[] and vec[] */
	uint64_t tsc[NR_ARR];		/* TSC at each arrival */
	uint8_t vec[NR_ARR];		/* vector of each arrival */
	uint32_t isr[NR_ARR][8];	/* ISR at each arrival, if snap_isr */
	uint64_t last_rip;		/* where the last interrupt came */
	uint64_t hlt_rip;		/* a HLT right after STI (its shadow) */
	uint64_t in_shadow;		/* interrupts that came at it: stepped */
	int x2apic;			/* EOI by MSR */
	int no_eoi;			/* the hook EOIs itself */
	int snap_isr;
};

struct pcpu pcpu[GVM_MAX_VCPUS];
/* Called by guest_irq() before its EOI; set per test. */
void (*volatile irq_hook)(int cpu, uint64_t vector);
/* What the host sets before a run: rates and counts the guest uses. */
struct params {
	uint64_t tsc_khz;
	uint64_t kind;			/* enum gvm_kind */
	uint64_t ticks_per_count_num;	/* TSC ticks per count: num/den */
	uint64_t ticks_per_count_den;
	uint64_t nr;			/* repetitions */
} params;
uint64_t results[256];			/* what a guest reports in bulk */
uint64_t gp_expected, gp_count;
uint64_t orig_gp_handler;
/* The IDT every vCPU of a test loads. */
static uint64_t lapic_idt[512] __attribute__((aligned(4096)));

extern const char irq_stubs[], gp_fixup[];
void guest_irq(uint64_t vector, uint64_t rsp);
extern const char idle_hlt[];

/*
 * 256 stubs of 16 bytes: push the vector, go to the common part, which
 * saves the registers the C ABI lets guest_irq() clobber (FXSAVE for the
 * SSE ones), passes the vector and RSP, and IRETs.
 * gp_fixup: a #GP that gp_expected allows steps over its instruction
 * (RDMSR and WRMSR are 2 bytes) and counts; others go to the library's
 * stub, which reports them.
 */
asm(".pushsection .text\n"
    ".align 16\n"
    "irq_stubs:\n"
    ".set irq_v, 0\n"
    ".rept 256\n"
    "  .align 16\n"
    "  pushq $irq_v\n"
    "  jmp irq_stub_common\n"
    "  .set irq_v, irq_v + 1\n"
    ".endr\n"
    "irq_stub_common:\n"
    "  push %rax; push %rcx; push %rdx; push %rsi; push %rdi\n"
    "  push %r8; push %r9; push %r10; push %r11; push %rbx\n"
    "  mov 80(%rsp), %rdi\n"
    "  mov %rsp, %rsi\n"
    "  mov %rsp, %rbx\n"
    "  sub $512, %rsp\n"
    "  and $-16, %rsp\n"
    "  fxsave64 (%rsp)\n"
    "  cld\n"
    "  call guest_irq\n"
    "  fxrstor64 (%rsp)\n"
    "  mov %rbx, %rsp\n"
    "  pop %rbx; pop %r11; pop %r10; pop %r9; pop %r8\n"
    "  pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax\n"
    "  add $8, %rsp\n"
    "  iretq\n"
    "gp_fixup:\n"
    "  cmpq $0, gp_expected(%rip)\n"
    "  je 1f\n"
    "  lock incq gp_count(%rip)\n"
    "  add $8, %rsp\n"
    "  addq $2, (%rsp)\n"
    "  iretq\n"
    "1: jmp *orig_gp_handler(%rip)\n"
    ".popsection\n");

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | ((uint64_t)hi << 32);
}

static inline uint32_t apic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(APIC_GPA + reg);
}

static inline void apic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(APIC_GPA + reg) = v;
}

/* The vCPU whose stack we are on (lib/gvm.h: 64 KiB each). */
static inline int guest_cpu_of(uint64_t rsp)
{
	return (rsp - GVM_STACKS_GPA) / GVM_STACK_SIZE;
}

static inline int guest_cpu(void)
{
	uint64_t rsp;

	asm volatile("mov %%rsp, %0" : "=r"(rsp));
	return guest_cpu_of(rsp);
}

static inline void eoi(int cpu)
{
	if (pcpu[cpu].x2apic)
		wrmsr(MSR_X2APIC(APIC_EOI), 0);
	else
		apic_write(APIC_EOI, 0);
}

void guest_irq(uint64_t vector, uint64_t rsp)
{
	int cpu = guest_cpu_of(rsp);
	struct pcpu *p = &pcpu[cpu];
	uint64_t n = p->arrivals, i;

	p->count[vector]++;
	/* the IRET frame's RIP, above 10 saved registers and the vector */
	p->last_rip = *(uint64_t *)(rsp + 88);
	/*
	 * An interrupt at a HLT that follows STI came inside STI's shadow,
	 * which a CPU never does; the HLT would then wait for nothing. Count
	 * it and step over the HLT (see hlt_waits_in_kernel).
	 */
	if (p->hlt_rip && p->last_rip == p->hlt_rip) {
		p->in_shadow++;
		*(uint64_t *)(rsp + 88) += 1;
	}
	if (n < NR_ARR) {
		p->tsc[n] = rdtsc();
		p->vec[n] = vector;
		if (p->snap_isr)
			for (i = 0; i < 8; i++)
				p->isr[n][i] = apic_read(APIC_ISR + 0x10 * i);
		p->arrivals = n + 1;
	}
	if (irq_hook)
		irq_hook(cpu, vector);
	if (vector != VEC_NMI && !p->no_eoi)
		eoi(cpu);
}

/* memset without libc (none in the guest; GCC would call it). */
static void guest_zero(void *p, uint64_t len)
{
	volatile uint64_t *q = p;

	for (len /= 8; len; len--)
		*q++ = 0;
}

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/*
 * Load the IDT the host built in the guest's copy of lapic_idt
 * (build_idt()) and clear this vCPU's record.
 */
static void guest_setup_idt(void)
{
	struct dtr d = { sizeof(lapic_idt) - 1, (uint64_t)lapic_idt };

	asm volatile("lidt %0" : : "m"(d));
	guest_zero(&pcpu[guest_cpu()], sizeof(pcpu[0]));
}

static inline void sti(void)
{
	asm volatile("sti" : : : "memory");
}

static inline void cli(void)
{
	asm volatile("cli" : : : "memory");
}

/* The APIC software-enabled, spurious vector 0xff. */
static void apic_sw_enable(void)
{
	apic_write(APIC_SVR, 0x1ff);
}

/* TSC ticks of @count APIC timer counts (params: per kind). */
static uint64_t count_ticks(uint64_t count)
{
	return count * params.ticks_per_count_num / params.ticks_per_count_den;
}

/* Spin with IF as it is until @cpu counted @want of @vec or @ticks pass. */
static uint64_t wait_count(int cpu, int vec, uint64_t want, uint64_t ticks)
{
	volatile uint64_t *c = &pcpu[cpu].count[vec];
	uint64_t t0 = rdtsc();

	while (*c < want && rdtsc() - t0 < ticks)
		asm volatile("pause");
	return *c;
}

static void spin_ticks(uint64_t ticks)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < ticks)
		asm volatile("pause");
}

#define MS(n)	(params.tsc_khz * (n))

/* The eight divide configurations and what they divide by. */
static const uint32_t div_code[8] = { 0xb, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa };
static const uint32_t div_by[8] = { 1, 2, 4, 8, 16, 32, 64, 128 };

/* ------------------------------------------------------------------ */
/* Host side                                                           */
/* ------------------------------------------------------------------ */

static uint64_t gate(uint64_t off)
{
	return (off & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) |
	       (((off >> 16) & 0xffff) << 48);
}

/*
 * The guests' IDT, in the guest's copy of lapic_idt: the library's
 * exception gates (its IDT at sregs.idt.base) but for NMI and #GP, the
 * counting stubs for NMI and 32-255, gp_fixup for #GP.
 */
static int build_idt(struct gvm *vm)
{
	uint64_t *idt = gvm_image_ptr(vm, lapic_idt), *lib, *orig;
	int v;

	/* gvm_create() put it in place; enter_long_mode() points to it */
	lib = gvm_gpa(vm, vm->idt, 32 * 16);
	orig = gvm_image_ptr(vm, &orig_gp_handler);
	if (!idt || !lib || !orig)
		return -EFAULT;
	memcpy(idt, lib, 32 * 16);
	*orig = (lib[26] & 0xffff) | ((lib[26] >> 32) & 0xffff0000) |
		(lib[27] << 32);
	idt[2 * VEC_NMI] = gate((uint64_t)irq_stubs + 16 * VEC_NMI);
	idt[2 * VEC_NMI + 1] = (uint64_t)irq_stubs >> 32;
	idt[2 * 13] = gate((uint64_t)gp_fixup);
	idt[2 * 13 + 1] = (uint64_t)gp_fixup >> 32;
	for (v = 32; v < 256; v++) {
		idt[2 * v] = gate((uint64_t)irq_stubs + 16 * v);
		idt[2 * v + 1] = ((uint64_t)irq_stubs + 16 * v) >> 32;
	}
	return 0;
}

/* Does this kernel keep time by the TSC (KVM then trusts it)? */
static bool host_tsc_stable(void)
{
	char cs[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource",
			"r");

	if (!f)
		return false;
	if (!fgets(cs, sizeof(cs), f))
		cs[0] = 0;
	fclose(f);
	return !strncmp(cs, "tsc", 3);
}

/* The svm lane: QEMU's TCG emulating SVM under the L1 kernel. */
static bool qemu_svm(void)
{
	const char *lane = getenv("VMXL_LANE");
	char vendor[64] = "";
	FILE *f;

	if (!test_cpuinfo_has("svm"))
		return false;
	/*
	 * The lanes that boot QEMU say so (scripts/lane.sh): the debug
	 * lane's kernel has no DMI to ask.
	 */
	if (lane && (!strcmp(lane, "svm") || !strcmp(lane, "debug") ||
		     !strcmp(lane, "dkms")))
		return true;
	f = fopen("/sys/class/dmi/id/sys_vendor", "r");
	if (!f)
		return false;
	if (!fgets(vendor, sizeof(vendor), f))
		vendor[0] = 0;
	fclose(f);
	return !strncmp(vendor, "QEMU", 4);
}

static bool kvm_amd(void)
{
	const char *m = test_kvm_vendor_module();

	return m && !strcmp(m, "kvm_amd");
}

static bool lapic_offered(void)
{
	struct vmxl_caps caps = { 0 };
	int fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = !ioctl(fd, VMXL_GET_CAPS, &caps) &&
	     (caps.features & VMXL_FEAT_LAPIC);
	close(fd);
	return ok;
}

#define NR_VCPUS	3

FIXTURE(lapic) {
	struct gvm vm;
	uint64_t tsc_khz;
	struct params *params;
	struct pcpu *pcpu;
	uint64_t *results;
};

GVM_VARIANTS(lapic);

FIXTURE_SETUP(lapic)
{
	struct params *p;

	memset(&self->vm, 0, sizeof(self->vm));
	self->vm.vm_fd = self->vm.sys_fd = -1;
	for (int i = 0; i < GVM_MAX_VCPUS; i++)
		self->vm.vcpu_fd[i] = -1;
	if (!gvm_test_load(_metadata, variant->kind))
		return;
	if (variant->kind == GVM_VMXL && !lapic_offered())
		SKIP(return, "vmx-lite does not offer VMXL_FEAT_LAPIC");
	ASSERT_EQ(0, gvm_create_flags(&self->vm, variant->kind, NR_VCPUS,
				      GVM_LAPIC));
	self->tsc_khz = gvm_tsc_khz(&self->vm);
	ASSERT_LT(0, self->tsc_khz);
	ASSERT_EQ(0, build_idt(&self->vm));
	self->params = p = gvm_image_ptr(&self->vm, &params);
	self->pcpu = gvm_image_ptr(&self->vm, pcpu);
	self->results = gvm_image_ptr(&self->vm, results);
	ASSERT_NE(NULL, p);
	p->tsc_khz = self->tsc_khz;
	p->kind = variant->kind;
	if (variant->kind == GVM_KVM) {
		/* KVM's APIC timer: 1 ns per count */
		p->ticks_per_count_num = self->tsc_khz;
		p->ticks_per_count_den = 1000000;
	} else {
		/* vmx-lite's: one guest TSC tick per count */
		p->ticks_per_count_num = 1;
		p->ticks_per_count_den = 1;
	}
}

FIXTURE_TEARDOWN(lapic)
{
	gvm_test_teardown(&self->vm, variant->kind);
}

/* A skipped setup still runs the test: stop it there. */
#define BEGIN() do {							\
	if (_metadata->skip)						\
		return;							\
} while (0)

#define VMXL_ONLY(why) do {						\
	if (variant->kind != GVM_VMXL)					\
		SKIP(return, "vmx-lite only: %s", why);			\
} while (0)

/*
 * Run vCPU @cpu until a ucall; MMIO reads of a disabled APIC's page on
 * KVM (only there) are answered with all ones, writes dropped.
 */
static int run_ucall(struct gvm *vm, int cpu, struct gvm_exit *e)
{
	int ret;

	for (;;) {
		ret = gvm_run(vm, cpu, e);
		if (ret)
			return ret;
		if (vm->kind == GVM_KVM && e->reason == GVM_EXIT_MMIO &&
		    (e->addr & ~0xfffull) == APIC_GPA) {
			if (!e->write)
				gvm_complete_read(vm, cpu, ~0ull);
			continue;
		}
		return 0;
	}
}

#define RUN_TO(vm, cpu, e, want) do {					\
	char __b[400];							\
	ASSERT_EQ(0, run_ucall(vm, cpu, e));				\
	ASSERT_EQ(GVM_EXIT_UCALL, (e)->reason)				\
		TH_LOG("%s", gvm_exit_str(e, __b, sizeof(__b)));	\
	ASSERT_EQ((uint64_t)(want), (e)->uc.cmd)			\
		TH_LOG("%s", gvm_ucall_str(&(e)->uc, __b, sizeof(__b)));\
} while (0)

/* Run vCPU 0 through SYNCs to DONE. */
#define RUN_DONE(vm, e) do {						\
	for (;;) {							\
		char __b3[400];						\
		ASSERT_EQ(0, run_ucall(vm, 0, e));			\
		ASSERT_EQ(GVM_EXIT_UCALL, (e)->reason)			\
			TH_LOG("%s", gvm_exit_str(e, __b3, sizeof(__b3)));\
		if ((e)->uc.cmd == UCALL_DONE)				\
			break;						\
		ASSERT_EQ(UCALL_SYNC, (e)->uc.cmd)			\
			TH_LOG("%s", gvm_ucall_str(&(e)->uc, __b3, sizeof(__b3)));\
	}								\
} while (0)

/* ------------------------------------------------------------------ */
/* 1. ioctl validation (vmx-lite's uapi)                               */
/* ------------------------------------------------------------------ */

static int msi(int vm_fd, struct vmxl_msi *m)
{
	return ioctl(vm_fd, VMXL_SIGNAL_MSI, m) < 0 ? -errno : 0;
}

TEST_F(lapic, ioctl_errors)
{
	struct vmxl_lapic_state ls;
	struct vmxl_mp_state mp = { 0 };
	struct vmxl_interrupt irq = { .vector = 0x40 };
	struct vmxl_msi m;
	struct gvm plain;
	int vm = self->vm.vm_fd, cpu = self->vm.vcpu_fd[0];
	int ret;

	BEGIN();
	VMXL_ONLY("vmx-lite's ioctls");

	/* A VM without VMXL_VM_LAPIC: ENXIO. */
	ASSERT_EQ(0, gvm_create(&plain, GVM_VMXL, 1));
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = 0x40 };
	EXPECT_EQ(-ENXIO, msi(plain.vm_fd, &m));
	EXPECT_EQ(-1, ioctl(plain.vcpu_fd[0], VMXL_GET_LAPIC, &ls));
	EXPECT_EQ(ENXIO, errno);
	memset(&ls, 0, sizeof(ls));
	EXPECT_EQ(-1, ioctl(plain.vcpu_fd[0], VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(plain.vcpu_fd[0], VMXL_GET_MP_STATE, &mp));
	EXPECT_EQ(ENXIO, errno);
	mp.state = VMXL_MP_RUNNABLE;
	EXPECT_EQ(-1, ioctl(plain.vcpu_fd[0], VMXL_SET_MP_STATE, &mp));
	EXPECT_EQ(ENXIO, errno);
	gvm_destroy(&plain);

	/* Unknown VM creation flags. */
	ret = ioctl(self->vm.sys_fd, VMXL_CREATE_VM, 1u << 31);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EINVAL, errno);
	if (ret >= 0)
		close(ret);

	/* SIGNAL_MSI: what is refused, then one that goes. */
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = 0x40, .flags = 1 };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = 0x40, .reserved = { 1 } };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = 0x40, .reserved = { 0, 1 } };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .address_hi = 1, .data = 0x40 };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	m = (struct vmxl_msi){ .address_lo = 0xfed00000, .data = 0x40 };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	m = (struct vmxl_msi){ .address_lo = 0xfef00000, .data = 0x40 };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	m = (struct vmxl_msi){ .address_lo = 0, .data = 0x40 };
	EXPECT_EQ(-EINVAL, msi(vm, &m));
	/* delivery modes 2 (SMI), 3, 6 (STARTUP), 7 (ExtINT) */
	for (int dm = 2; dm < 8; dm++) {
		if (dm == 4 || dm == 5)
			continue;
		m = (struct vmxl_msi){ .address_lo = APIC_GPA,
				       .data = 0x40 | dm << 8 };
		EXPECT_EQ(-EINVAL, msi(vm, &m)) TH_LOG("delivery mode %d", dm);
	}
	/* data bits other than 7:0, 10:8, 14, 15 */
	for (int bit = 11; bit < 32; bit++) {
		if (bit == 14 || bit == 15)
			continue;
		m = (struct vmxl_msi){ .address_lo = APIC_GPA,
				       .data = 0x40 | 1u << bit };
		EXPECT_EQ(-EINVAL, msi(vm, &m)) TH_LOG("data bit %d", bit);
	}
	/* fixed and lowest priority below 16 */
	for (int v = 0; v < 16; v += 15) {
		m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = v };
		EXPECT_EQ(-EINVAL, msi(vm, &m)) TH_LOG("fixed vector %d", v);
		m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = v | 1 << 8 };
		EXPECT_EQ(-EINVAL, msi(vm, &m)) TH_LOG("lowest vector %d", v);
	}
	EXPECT_EQ(-1, ioctl(vm, VMXL_SIGNAL_MSI, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* software-disabled APICs (SVR 0xff after reset) take no fixed one */
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = 16 };
	EXPECT_EQ(0, ioctl(vm, VMXL_SIGNAL_MSI, &m));
	for (int i = 0; i < NR_VCPUS; i++) {
		ASSERT_EQ(0, ioctl(self->vm.vcpu_fd[i], VMXL_GET_LAPIC, &ls));
		EXPECT_EQ(0xff, *(uint32_t *)&ls.regs[APIC_SVR]);
		*(uint32_t *)&ls.regs[APIC_SVR] = 0x1ff;
		ASSERT_EQ(0, ioctl(self->vm.vcpu_fd[i], VMXL_SET_LAPIC, &ls));
	}
	/* fixed 16 is legal, to vCPU 0 (physical 0): one APIC */
	m = (struct vmxl_msi){ .address_lo = APIC_GPA, .data = 16 };
	EXPECT_EQ(1, ioctl(vm, VMXL_SIGNAL_MSI, &m));
	/* to a destination no vCPU has: none */
	m = (struct vmxl_msi){ .address_lo = APIC_GPA | 0x20 << 12, .data = 0x40 };
	EXPECT_EQ(0, ioctl(vm, VMXL_SIGNAL_MSI, &m));
	/* physical broadcast: every vCPU */
	m = (struct vmxl_msi){ .address_lo = APIC_GPA | 0xff << 12, .data = 0x41 };
	EXPECT_EQ(NR_VCPUS, ioctl(vm, VMXL_SIGNAL_MSI, &m));
	/* NMI with vector 0 is fine, as is the redirection hint */
	m = (struct vmxl_msi){ .address_lo = APIC_GPA | 8, .data = 4 << 8 };
	EXPECT_EQ(1, ioctl(vm, VMXL_SIGNAL_MSI, &m));

	/* VMXL_INTERRUPT is refused on a LAPIC VM. */
	EXPECT_EQ(-1, ioctl(cpu, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(ENXIO, errno);

	/* The wrong fd: ENOTTY. */
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SIGNAL_MSI, &m));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->vm.sys_fd, VMXL_SIGNAL_MSI, &m));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(vm, VMXL_GET_LAPIC, &ls));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(vm, VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(vm, VMXL_GET_MP_STATE, &mp));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(vm, VMXL_SET_MP_STATE, &mp));
	EXPECT_EQ(ENOTTY, errno);

	/* GET_LAPIC: a bad pointer. */
	EXPECT_EQ(-1, ioctl(cpu, VMXL_GET_LAPIC, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_LAPIC, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	/* SET_LAPIC: flags, reserved, timer mode 3, periodic with count 0. */
	ASSERT_EQ(0, ioctl(cpu, VMXL_GET_LAPIC, &ls));
	EXPECT_EQ(0, ls.flags);
	EXPECT_EQ(0, ls.reserved0);
	EXPECT_EQ(0, ls.timer_deadline);
	for (int i = 0; i < 6; i++)
		EXPECT_EQ(0, ls.reserved[i]);
	EXPECT_EQ(0, ioctl(cpu, VMXL_SET_LAPIC, &ls));
	ls.flags = 1;
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(EINVAL, errno);
	ls.flags = 0;
	ls.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(EINVAL, errno);
	ls.reserved0 = 0;
	ls.reserved[5] = 1;
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(EINVAL, errno);
	ls.reserved[5] = 0;
	*(uint32_t *)&ls.regs[APIC_LVTT] = 0x40 | 3u << 17;
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(EINVAL, errno);
	*(uint32_t *)&ls.regs[APIC_LVTT] = 0x40 | LVTT_PERIODIC;
	*(uint32_t *)&ls.regs[APIC_TMICT] = 0;
	ls.timer_deadline = 1000;
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_LAPIC, &ls));
	EXPECT_EQ(EINVAL, errno);

	/* MP state: unknown states and reserved. */
	ASSERT_EQ(0, ioctl(cpu, VMXL_GET_MP_STATE, &mp));
	EXPECT_EQ(VMXL_MP_RUNNABLE, mp.state);
	EXPECT_EQ(0, mp.reserved);
	ASSERT_EQ(0, ioctl(self->vm.vcpu_fd[1], VMXL_GET_MP_STATE, &mp));
	EXPECT_EQ(VMXL_MP_INIT_RECEIVED, mp.state);
	mp = (struct vmxl_mp_state){ .state = 3 };
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_MP_STATE, &mp));
	EXPECT_EQ(EINVAL, errno);
	mp = (struct vmxl_mp_state){ .state = 0xffffffff };
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_MP_STATE, &mp));
	EXPECT_EQ(EINVAL, errno);
	mp = (struct vmxl_mp_state){ .state = VMXL_MP_RUNNABLE, .reserved = 1 };
	EXPECT_EQ(-1, ioctl(cpu, VMXL_SET_MP_STATE, &mp));
	EXPECT_EQ(EINVAL, errno);
	mp = (struct vmxl_mp_state){ .state = VMXL_MP_HALTED };
	EXPECT_EQ(0, ioctl(cpu, VMXL_SET_MP_STATE, &mp));
	ASSERT_EQ(0, ioctl(cpu, VMXL_GET_MP_STATE, &mp));
	EXPECT_EQ(VMXL_MP_HALTED, mp.state);
}

/* ------------------------------------------------------------------ */
/* 2. Registers after reset, APIC_BASE.EN                               */
/* ------------------------------------------------------------------ */

enum {
	R_ID, R_VER, R_TPR, R_PPR, R_LDR, R_DFR, R_SVR, R_ESR, R_ICR, R_ICR2,
	R_LVTT, R_LVTTHMR, R_LVTPC, R_LVT0, R_LVT1, R_LVTERR, R_TMICT,
	R_TMCCT, R_TDCR, R_ISR0, R_IRR0 = R_ISR0 + 8, R_TMR0 = R_IRR0 + 8,
	R_NR = R_TMR0 + 8,
};

static const uint16_t reg_off[R_ISR0] = {
	APIC_ID, APIC_VER, APIC_TPR, APIC_PPR, APIC_LDR, APIC_DFR, APIC_SVR,
	APIC_ESR, APIC_ICR, APIC_ICR2, APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC,
	APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_TMICT, APIC_TMCCT, APIC_TDCR,
};

static void read_regs(uint64_t *out)
{
	int i;

	for (i = 0; i < R_ISR0; i++)
		out[i] = apic_read(reg_off[i]);
	for (i = 0; i < 8; i++) {
		out[R_ISR0 + i] = apic_read(APIC_ISR + 0x10 * i);
		out[R_IRR0 + i] = apic_read(APIC_IRR + 0x10 * i);
		out[R_TMR0 + i] = apic_read(APIC_TMR + 0x10 * i);
	}
}

static uint32_t cpuid1_edx(void)
{
	uint32_t r[4];

	guest_cpuid(1, 0, r);
	return r[3];
}

/*
 * results[0..R_NR): registers at reset; [64]: APIC_BASE; [65]: CPUID.1
 * EDX; then with the APIC disabled: [66] CPUID.1 EDX, [67] VER, [68] ID,
 * [69] SVR after a write; re-enabled: [70] APIC_BASE, [71] CPUID.1 EDX,
 * [128..128+R_NR) the registers.
 */
static void guest_reset_regs(void)
{
	uint64_t base;

	read_regs(results);
	base = rdmsr(MSR_APIC_BASE);
	results[64] = base;
	results[65] = cpuid1_edx();
	/* change what a reset would undo */
	apic_write(APIC_SVR, 0x1ff);
	apic_write(APIC_TPR, 0x20);
	apic_write(APIC_LVTT, 0x30);
	apic_write(APIC_LDR, 0x3u << 24);
	apic_write(APIC_TDCR, 0xb);
	wrmsr(MSR_APIC_BASE, base & ~BASE_EN);
	results[66] = cpuid1_edx();
	results[67] = apic_read(APIC_VER);
	results[68] = apic_read(APIC_ID);
	apic_write(APIC_SVR, 0x1ff);
	results[69] = apic_read(APIC_SVR);
	wrmsr(MSR_APIC_BASE, base);
	results[70] = rdmsr(MSR_APIC_BASE);
	results[71] = cpuid1_edx();
	read_regs(results + 128);
}

static void guest_read_id(void)
{
	GUEST_SYNC(1, apic_read(APIC_ID));
	GUEST_SYNC(2, apic_read(APIC_VER));
	GUEST_SYNC(3, apic_read(APIC_LVT0));
	GUEST_SYNC(4, rdmsr(MSR_APIC_BASE));
}

/* What the registers must read after power-up, on @cpu of @kind. */
static void expect_reset_regs(struct __test_metadata *_metadata,
			      enum gvm_kind kind, int cpu, const uint64_t *r)
{
	int i;

	EXPECT_EQ((uint64_t)cpu << 24, r[R_ID]);
	/*
	 * KVM: directed EOI (bit 24) when the guest has x2APIC and the
	 * IOAPIC is in userspace; vmx-lite offers no EOI-broadcast
	 * suppression.
	 */
	EXPECT_EQ(kind == GVM_KVM ? 0x01050014u : 0x00050014u, r[R_VER]);
	EXPECT_EQ(0, r[R_TPR]);
	EXPECT_EQ(0, r[R_PPR]);
	EXPECT_EQ(0, r[R_LDR]);
	EXPECT_EQ(0xffffffffu, r[R_DFR]);
	EXPECT_EQ(0xff, r[R_SVR]);
	EXPECT_EQ(0, r[R_ESR]);
	EXPECT_EQ(0, r[R_ICR] & ~(1u << 12));
	EXPECT_EQ(0, r[R_ICR2]);
	EXPECT_EQ(LVT_MASKED, r[R_LVTT]);
	EXPECT_EQ(LVT_MASKED, r[R_LVTTHMR]);
	EXPECT_EQ(LVT_MASKED, r[R_LVTPC]);
	/* KVM_X86_QUIRK_LINT0_REENABLED: KVM's BSP has LINT0 as ExtINT */
	EXPECT_EQ(kind == GVM_KVM && cpu == 0 ? 0x700 : LVT_MASKED, r[R_LVT0]);
	EXPECT_EQ(LVT_MASKED, r[R_LVT1]);
	EXPECT_EQ(LVT_MASKED, r[R_LVTERR]);
	EXPECT_EQ(0, r[R_TMICT]);
	EXPECT_EQ(0, r[R_TMCCT]);
	EXPECT_EQ(0, r[R_TDCR]);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(0, r[R_ISR0 + i]);
		EXPECT_EQ(0, r[R_IRR0 + i]);
		EXPECT_EQ(0, r[R_TMR0 + i]);
	}
}

TEST_F(lapic, reset_registers)
{
	uint64_t *r = self->results;
	struct vmxl_sregs s;
	struct gvm_exit e;
	uint32_t mp;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_reset_regs, 0, 0));
	RUN_DONE(&self->vm, &e);
	expect_reset_regs(_metadata, variant->kind, 0, r);
	EXPECT_EQ(APIC_GPA | BASE_EN | BASE_BSP, r[64]);
	EXPECT_EQ(1u << 9, r[65] & (1u << 9));
	/* disabled: no APIC in CPUID, the page all ones, writes dropped */
	EXPECT_EQ(0, r[66] & (1u << 9));
	EXPECT_EQ(0xffffffffu, r[67]);
	EXPECT_EQ(0xffffffffu, r[68]);
	EXPECT_EQ(0xffffffffu, r[69]);
	/* enabled again: power-up state, ID kept */
	EXPECT_EQ(APIC_GPA | BASE_EN | BASE_BSP, r[70]);
	EXPECT_EQ(1u << 9, r[71] & (1u << 9));
	/*
	 * The SDM only says the state "may" be lost; vmx-lite resets it
	 * (docs/lapic.md), KVM keeps every register written before (SVR
	 * 0x1ff, TPR 0x20, LVTT 0x30, LDR, TDCR: seen in the svm lane), so
	 * only vmx-lite's is held to the power-up state.
	 */
	if (variant->kind == GVM_VMXL) {
		expect_reset_regs(_metadata, variant->kind, 0, r + 128);
	} else {
		fprintf(stderr, "# kvm after re-enable: SVR 0x%lx TPR 0x%lx LVTT 0x%lx LDR 0x%lx TDCR 0x%lx\n",
			(unsigned long)r[128 + R_SVR], (unsigned long)r[128 + R_TPR],
			(unsigned long)r[128 + R_LVTT], (unsigned long)r[128 + R_LDR],
			(unsigned long)r[128 + R_TDCR]);
	}

	/* vCPU 1: waits for INIT/STARTUP, then started by hand reads ID 1 */
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 1, &mp));
	EXPECT_EQ(GVM_MP_INIT_RECEIVED, mp);
	ASSERT_EQ(0, gvm_get_sregs(&self->vm, 1, &s));
	EXPECT_EQ(APIC_GPA | BASE_EN, s.apic_base);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 1, guest_read_id, 0, 0));
	ASSERT_EQ(0, gvm_set_mp_state(&self->vm, 1, GVM_MP_RUNNABLE));
	RUN_TO(&self->vm, 1, &e, UCALL_SYNC);
	EXPECT_EQ(1u << 24, e.uc.args[1]);
	RUN_TO(&self->vm, 1, &e, UCALL_SYNC);
	EXPECT_EQ(variant->kind == GVM_KVM ? 0x01050014u : 0x00050014u,
		  e.uc.args[1]);
	RUN_TO(&self->vm, 1, &e, UCALL_SYNC);
	EXPECT_EQ(LVT_MASKED, e.uc.args[1]);	/* no quirk on an AP */
	RUN_TO(&self->vm, 1, &e, UCALL_SYNC);
	EXPECT_EQ(APIC_GPA | BASE_EN, e.uc.args[1]);
	RUN_TO(&self->vm, 1, &e, UCALL_DONE);
}

/* ------------------------------------------------------------------ */
/* 3. The timer                                                        */
/* ------------------------------------------------------------------ */

/*
 * Timing is judged in guest TSC ticks against the programmed period P
 * (count * divide, in TSC ticks per kind). Never early: an interrupt
 * may arrive late (emulators are slow), but the k-th of a periodic timer
 * not before k * P after the write of the initial count. The slack,
 * P / 50, covers the host's clock and the TSC disagreeing: the TSC rate
 * is known to a kHz and the hrtimer runs on the host's clocksource,
 * whose calibration against the TSC differs by up to a few hundred ppm
 * under TCG. Late: within the expected time plus one second of TSC.
 */
#define EARLY_SLACK(p)	((p) / 50)
#define LATE_SLACK(khz)	((khz) * 1000)

#define NR_PERIODIC	4

/*
 * results[8 * d + 0]: TSC at the write of the initial count with divide
 * d; [8 * d + 1 ...]: each arrival; [100 + d]: how many came; [110 + d]:
 * the count used.
 */
static void guest_timer_divides(uint64_t periodic, uint64_t base)
{
	uint64_t d, k, t0, count;
	struct pcpu *p = &pcpu[0];
	uint64_t nr = periodic ? NR_PERIODIC : 1;

	guest_setup_idt();
	apic_sw_enable();
	sti();
	for (d = 0; d < 8; d++) {
		count = base / div_by[d];
		results[110 + d] = count;
		p->arrivals = 0;
		p->count[VEC_TIMER] = 0;
		apic_write(APIC_TDCR, div_code[d]);
		apic_write(APIC_LVTT, VEC_TIMER |
			   (periodic ? LVTT_PERIODIC : LVTT_ONESHOT));
		t0 = rdtsc();
		apic_write(APIC_TMICT, count);
		wait_count(0, VEC_TIMER, nr, MS(2000) + nr * count_ticks(base));
		if (!periodic) {
			/* and no second one */
			spin_ticks(3 * count_ticks(base));
			GUEST_ASSERT_EQ(apic_read(APIC_TMCCT), 0);
		}
		cli();
		apic_write(APIC_TMICT, 0);	/* stops it */
		results[8 * d] = t0;
		results[100 + d] = p->count[VEC_TIMER];
		for (k = 0; k < nr && k < p->arrivals; k++)
			results[8 * d + 1 + k] = p->tsc[k];
		sti();
		spin_ticks(MS(1));	/* what was pending comes now */
	}
}

/*
 * Check each divide's arrivals: exactly @nr (one-shot: 1, and no more
 * after 3 periods), the k-th never before k periods.
 */
static void check_divides(struct __test_metadata *_metadata,
			  FIXTURE_DATA(lapic) *self, bool periodic)
{
	const struct params *p = self->params;
	uint64_t *r = self->results, nr = periodic ? NR_PERIODIC : 1;
	int d, k;

	for (d = 0; d < 8; d++) {
		uint64_t count = r[110 + d];
		uint64_t period = count * div_by[d] * p->ticks_per_count_num /
				  p->ticks_per_count_den;
		uint64_t t0 = r[8 * d];

		if (periodic) {
			EXPECT_LE(nr, r[100 + d]) TH_LOG("divide %u", div_by[d]);
		} else {
			EXPECT_EQ(1, r[100 + d]) TH_LOG("divide %u", div_by[d]);
		}
		for (k = 1; k <= (int)nr && k <= (int)r[100 + d]; k++) {
			uint64_t dt = r[8 * d + k] - t0;

			EXPECT_LE(k * period - EARLY_SLACK(k * period), dt)
				TH_LOG("divide %u count %lu: interrupt %d after %lu ticks, period %lu",
				       div_by[d], (unsigned long)count, k,
				       (unsigned long)dt, (unsigned long)period);
			EXPECT_GE(k * period + LATE_SLACK(self->tsc_khz), dt)
				TH_LOG("divide %u: interrupt %d after %lu ticks, period %lu",
				       div_by[d], k, (unsigned long)dt,
				       (unsigned long)period);
		}
		fprintf(stderr, "# %s divide %3u: count %lu, period %lu ticks, first after %lu\n",
			periodic ? "periodic" : "one-shot", div_by[d],
			(unsigned long)count, (unsigned long)period,
			(unsigned long)(r[8 * d + 1] - t0));
	}
}

/* The base count for a period of about 1 ms: per kind. */
static uint64_t ms_count(FIXTURE_DATA(lapic) *self)
{
	if (!self->params)	/* setup skipped */
		return 0;
	return self->params->ticks_per_count_den * self->tsc_khz /
	       self->params->ticks_per_count_num;
}

TEST_F_TIMEOUT(lapic, timer_oneshot_divides, 60)
{
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_timer_divides, 0,
					 ms_count(self)));
	RUN_DONE(&self->vm, &e);
	check_divides(_metadata, self, false);
}

TEST_F_TIMEOUT(lapic, timer_periodic_divides, 60)
{
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_timer_divides, 1,
					 ms_count(self)));
	RUN_DONE(&self->vm, &e);
	check_divides(_metadata, self, true);
}

/*
 * TSC-deadline, P = 1 ms of TSC: results
 * [0] CPUID.1 ECX, [1] count after a deadline in the past (within 100
 * ms), [2] its arrival - the write, [3] the MSR after it fired;
 * [4] deadline in the future, [5] its arrival, [6] count;
 * [7] re-armed: the second deadline, [8] arrival, [9] count after 8 P;
 * [10] cancelled: count after 4 P; [11] the MSR read while armed;
 * [12] a mode change to one-shot disarms: count after 3 P.
 */
/*
 * Interrupts after a deadline 1 ms ahead is disarmed, by writing 0 or
 * (@by_mode) by leaving TSC-deadline mode. On a loaded emulator the
 * disarming write can land after the deadline, when the interrupt is
 * right: such a try is not counted and taken again (up to 20 times;
 * ~0 if none was in time).
 */
static uint64_t deadline_disarmed(bool by_mode)
{
	struct pcpu *p = &pcpu[0];
	uint64_t P = MS(1), d;
	bool in_time;
	int i;

	for (i = 0; i < 20; i++) {
		apic_write(APIC_LVTT, VEC_TIMER | LVTT_DEADLINE);
		p->count[VEC_TIMER] = p->arrivals = 0;
		d = rdtsc() + P;
		wrmsr(MSR_TSC_DEADLINE, d);
		if (by_mode)
			apic_write(APIC_LVTT, VEC_TIMER | LVTT_ONESHOT);
		else
			wrmsr(MSR_TSC_DEADLINE, 0);
		in_time = rdtsc() < d;
		spin_ticks(3 * P);
		if (in_time)
			return p->count[VEC_TIMER];
	}
	return ~0ULL;
}

static void guest_tsc_deadline(void)
{
	uint64_t P = MS(1), t, d;
	struct pcpu *p = &pcpu[0];
	uint32_t r[4];

	guest_cpuid(1, 0, r);
	results[0] = r[2];
	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_LVTT, VEC_TIMER | LVTT_DEADLINE);
	sti();

	t = rdtsc();
	wrmsr(MSR_TSC_DEADLINE, t - 1000);
	results[1] = wait_count(0, VEC_TIMER, 1, MS(100));
	results[2] = p->tsc[0] - t;
	results[3] = rdmsr(MSR_TSC_DEADLINE);

	/*
	 * Read back while armed, a second ahead: 1 ms of guest TSC can pass
	 * between WRMSR and RDMSR on the debug kernel, and a fired deadline
	 * reads 0.
	 */
	d = rdtsc() + 1000 * P;
	wrmsr(MSR_TSC_DEADLINE, d);
	results[11] = rdmsr(MSR_TSC_DEADLINE) == d;
	wrmsr(MSR_TSC_DEADLINE, 0);

	p->count[VEC_TIMER] = p->arrivals = 0;
	d = rdtsc() + P;
	wrmsr(MSR_TSC_DEADLINE, d);
	wait_count(0, VEC_TIMER, 1, MS(2000));
	results[4] = d;
	results[5] = p->tsc[0];
	spin_ticks(2 * P);
	results[6] = p->count[VEC_TIMER];

	p->count[VEC_TIMER] = p->arrivals = 0;
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + 4 * P);
	d = rdtsc() + 8 * P;
	wrmsr(MSR_TSC_DEADLINE, d);
	wait_count(0, VEC_TIMER, 1, MS(2000));
	results[7] = d;
	results[8] = p->tsc[0];
	spin_ticks(8 * P);
	results[9] = p->count[VEC_TIMER];

	results[10] = deadline_disarmed(false);
	results[12] = deadline_disarmed(true);
}

TEST_F_TIMEOUT(lapic, timer_tsc_deadline, 60)
{
	uint64_t *r = self->results, P = self->tsc_khz;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_tsc_deadline, 0, 0));
	RUN_DONE(&self->vm, &e);
	ASSERT_EQ(1u << 24, r[0] & (1u << 24)) TH_LOG("CPUID: no TSC-deadline");
	EXPECT_EQ(1, r[1]) TH_LOG("a deadline in the past fires at once");
	EXPECT_EQ(0, r[3]) TH_LOG("IA32_TSC_DEADLINE reads 0 once fired");
	EXPECT_EQ(1, r[11]) TH_LOG("IA32_TSC_DEADLINE reads the deadline");
	EXPECT_LE(r[4] - EARLY_SLACK(P), r[5]) TH_LOG("early by %ld ticks",
						      (long)(r[4] - r[5]));
	EXPECT_GE(r[4] + LATE_SLACK(self->tsc_khz), r[5]);
	EXPECT_EQ(1, r[6]);
	EXPECT_LE(r[7] - EARLY_SLACK(P), r[8]) TH_LOG("re-armed: early by %ld ticks",
						      (long)(r[7] - r[8]));
	EXPECT_GE(r[7] + LATE_SLACK(self->tsc_khz), r[8]);
	EXPECT_EQ(1, r[9]) TH_LOG("re-armed: only the second deadline");
	EXPECT_EQ(0, r[10]) TH_LOG("cancelled (~0: no disarm in time)");
	EXPECT_EQ(0, r[12]) TH_LOG("a mode change disarms (~0: none in time)");
	fprintf(stderr, "# past deadline: interrupt %lu ticks after the write\n",
		(unsigned long)r[2]);
}

/*
 * A masked timer runs but raises nothing: results [0] the current count
 * just after the write, [1] half-way, [2] after 3 periods, [3] the
 * count of interrupts, [4] IRR's word of VEC_TIMER.
 */
static void guest_timer_masked(uint64_t count)
{
	guest_setup_idt();
	apic_sw_enable();
	sti();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER | LVT_MASKED);
	apic_write(APIC_TMICT, count);
	results[0] = apic_read(APIC_TMCCT);
	spin_ticks(count_ticks(count) / 2);
	results[1] = apic_read(APIC_TMCCT);
	spin_ticks(3 * count_ticks(count));
	results[2] = apic_read(APIC_TMCCT);
	results[3] = pcpu[0].count[VEC_TIMER];
	results[4] = apic_read(APIC_IRR + 0x10 * (VEC_TIMER >> 5));
}

TEST_F_TIMEOUT(lapic, timer_masked, 30)
{
	uint64_t *r = self->results, count = 5 * ms_count(self);
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_timer_masked,
					 count, 0));
	RUN_DONE(&self->vm, &e);
	EXPECT_GE(count, r[0]);
	EXPECT_LT(0, r[0]);
	EXPECT_GT(r[0], r[1]) TH_LOG("a masked timer still counts down");
	EXPECT_EQ(0, r[2]);
	EXPECT_EQ(0, r[3]);
	EXPECT_EQ(0, r[4] & (1u << (VEC_TIMER & 31)));
	/*
	 * Not checked: unmasking after the expiry raises nothing on
	 * hardware, but when the hypervisor's timer fires is not the
	 * guest's to see (under TCG KVM's came after the unmask, late by
	 * milliseconds, and raised the vector then).
	 */
}

/*
 * One-shot while halted: arm, STI;HLT; the HLT must end by the timer:
 * results [0] t0, [1] the arrival, [2] the count after HLT, [3] the
 * count 3 periods later.
 */
static void guest_timer_halted(uint64_t count)
{
	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER);
	results[0] = rdtsc();
	apic_write(APIC_TMICT, count);
	asm volatile("sti; hlt; cli" : : : "memory");
	results[1] = pcpu[0].tsc[0];
	results[2] = pcpu[0].count[VEC_TIMER];
	sti();
	spin_ticks(3 * count_ticks(count));
	results[3] = pcpu[0].count[VEC_TIMER];
}

TEST_F_TIMEOUT(lapic, timer_while_halted, 30)
{
	uint64_t *r = self->results, count = 2 * ms_count(self);
	uint64_t P = 2 * self->tsc_khz;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_timer_halted,
					 count, 0));
	/* the HLT never comes out to us: the next exit is DONE */
	RUN_TO(&self->vm, 0, &e, UCALL_DONE);
	EXPECT_EQ(1, r[2]);
	EXPECT_EQ(1, r[3]);
	EXPECT_LE(r[0] + P - EARLY_SLACK(P), r[1]);
	EXPECT_GE(r[0] + P + LATE_SLACK(self->tsc_khz), r[1]);
}

/*
 * Periodic, 2 ms: report, and while the host holds the vCPU in userspace
 * for 20 periods, ticks pile up; back in the guest (IF=0), the timer is
 * stopped at once: what the entry raised for the time away is one
 * interrupt, not 20 and not none. results [0] interrupts before, [1]
 * after, [2] the TSC ticks the guest was away.
 */
static void guest_coalesce(uint64_t count)
{
	uint64_t before, t;

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER | LVTT_PERIODIC);
	apic_write(APIC_TMICT, count);
	sti();
	wait_count(0, VEC_TIMER, 2, MS(2000));
	cli();
	before = pcpu[0].count[VEC_TIMER];
	t = rdtsc();
	GUEST_SYNC(1, 0);	/* the host sleeps here */
	apic_write(APIC_TMICT, 0);	/* no tick after this one */
	results[2] = rdtsc() - t;
	sti();
	spin_ticks(count_ticks(count));
	cli();
	results[0] = before;
	results[1] = pcpu[0].count[VEC_TIMER] - before;
}

TEST_F_TIMEOUT(lapic, timer_periodic_coalesces, 30)
{
	uint64_t *r = self->results, count = 2 * ms_count(self);
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_coalesce, count, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	usleep(40000);
	RUN_DONE(&self->vm, &e);
	EXPECT_LE(2, r[0]);
	/* away 20 periods or more (40 ms of host time, guest TSC) */
	EXPECT_LE(20 * 2 * self->tsc_khz - EARLY_SLACK(40 * self->tsc_khz), r[2]);
	/* the coalesced tick (docs/lapic.md; KVM keeps one pending too) */
	EXPECT_EQ(1, r[1]);
}

/*
 * Periodic with a period of 50 us: stretched to 200 us (vmx-lite, as
 * KVM's min_timer_period_us). results [0] t0, [1..8] arrivals.
 */
static void guest_min_period(uint64_t count)
{
	uint64_t k;

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER | LVTT_PERIODIC);
	sti();
	results[0] = rdtsc();
	apic_write(APIC_TMICT, count);
	wait_count(0, VEC_TIMER, 8, MS(2000));
	cli();
	apic_write(APIC_TMICT, 0);
	for (k = 0; k < 8 && k < pcpu[0].arrivals; k++)
		results[1 + k] = pcpu[0].tsc[k];
	results[9] = pcpu[0].count[VEC_TIMER];
}

TEST_F_TIMEOUT(lapic, timer_periodic_min_period, 30)
{
	uint64_t *r = self->results, count = ms_count(self) / 20;
	uint64_t P = self->tsc_khz / 5;		/* 200 us */
	struct gvm_exit e;
	int k;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_min_period, count, 0));
	RUN_DONE(&self->vm, &e);
	ASSERT_LE(8, r[9]);
	for (k = 1; k <= 8; k++) {
		EXPECT_LE(k * P - EARLY_SLACK(k * P), r[k] - r[0])
			TH_LOG("interrupt %d after %lu ticks, 200 us is %lu", k,
			       (unsigned long)(r[k] - r[0]), (unsigned long)P);
	}
}

/* ------------------------------------------------------------------ */
/* 4. HLT waits in the kernel                                          */
/* ------------------------------------------------------------------ */

static void log_vcpu(struct gvm *vm, int cpu);

/* Stop vCPU 0 at its first ucall, which must be a SYNC, into *arg. */
static int par_first_sync(struct gvm *vm, int cpu, struct gvm_exit *e,
			  void *arg)
{
	(void)vm;
	(void)cpu;
	*(struct gvm_exit *)arg = *e;
	return e->reason == GVM_EXIT_UCALL && e->uc.cmd == UCALL_SYNC ?
	       1 : -EPROTO;
}

/* @n times: arm the one-shot timer (@count), STI;HLT, count. */
static void guest_idle(uint64_t n, uint64_t count)
{
	uint64_t i, bad = 0, t0 = rdtsc();

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER);
	pcpu[0].hlt_rip = (uint64_t)idle_hlt;
	for (i = 0; i < n; i++) {
		results[0] = i;		/* where it stands, if it hangs */
		apic_write(APIC_TMICT, count);
		asm volatile("sti\n"
			     ".globl idle_hlt\n"
			     "idle_hlt: hlt\n"
			     "cli" : : : "memory");
		/* a HLT ends only by the interrupt */
		bad += pcpu[0].count[VEC_TIMER] != i + 1;
	}
	GUEST_SYNC(1, pcpu[0].count[VEC_TIMER]);
	GUEST_SYNC(2, bad);
	GUEST_SYNC(3, rdtsc() - t0);
	GUEST_SYNC(4, pcpu[0].in_shadow);
}

TEST_F_TIMEOUT(lapic, hlt_waits_in_kernel, 120)
{
	/*
	 * KVM is only the reference here (no HLT exit to userspace either),
	 * and each of its wake-ups costs milliseconds nested in TCG.
	 */
	uint64_t n = 1000;
	uint64_t count = ms_count(self) / 20;	/* 50 us */
	struct vnl_vcpu v[NR_VCPUS];
	uint64_t exits_before;
	struct gvm_exit e;
	uint64_t in_shadow, interrupts, bad;
	struct vnl nl;
	int vm_id, nv, ret;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_idle, n, count));
	/* Every exit to userspace is a ucall: no HLT exit on either. */
	memset(&e, 0, sizeof(e));
	ret = gvm_run_parallel(&self->vm, 1, par_first_sync, &e, 20000, NULL);
	if (ret) {
		fprintf(stderr, "# stuck in round %lu of %lu: %lu timer interrupts, the last at RIP 0x%lx (the HLT: %p)\n",
			(unsigned long)self->results[0], (unsigned long)n,
			(unsigned long)self->pcpu[0].count[VEC_TIMER],
			(unsigned long)self->pcpu[0].last_rip, idle_hlt);
		log_vcpu(&self->vm, 0);
	}
	ASSERT_EQ(0, ret);
	interrupts = e.uc.args[1];
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	bad = e.uc.args[1];
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	fprintf(stderr, "# %s: %lu idle rounds in %lu us\n",
		gvm_kind_name(variant->kind), (unsigned long)n,
		(unsigned long)(e.uc.args[1] * 1000 / self->tsc_khz));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	in_shadow = e.uc.args[1];
	/*
	 * Interrupts delivered at the HLT, inside STI's shadow: none on a
	 * CPU. QEMU before 9.1 (the svm lane's 7.2) drops the shadow that
	 * VMRUN should load from the VMCB (fixed by its "target/i386: fix
	 * INHIBIT_IRQ/TF/RF handling for VMRUN"): when a host interrupt
	 * exits right after STI, the vector the hypervisor holds for the
	 * window goes in before the HLT, on vmx-lite and KVM alike, and the
	 * HLT would wait forever. Counted there, held to 0 elsewhere.
	 */
	if (qemu_svm()) {
		if (in_shadow)
			fprintf(stderr, "# %s: %lu interrupts inside STI's shadow (QEMU < 9.1 SVM: VMRUN drops int_state)\n",
				gvm_kind_name(variant->kind),
				(unsigned long)in_shadow);
	} else {
		EXPECT_EQ(0, in_shadow) TH_LOG("interrupts inside STI's shadow");
	}
	/*
	 * After such an interrupt KVM's HLT has been seen to end by a
	 * second timer interrupt of the same round (debug lane: 1001 in
	 * 1000 rounds, every later round then off by one): the reference
	 * only, on the buggy emulator only, may count one more per
	 * interrupt in the shadow. vmx-lite is held to the exact count.
	 */
	if (variant->kind != GVM_VMXL && qemu_svm() && in_shadow &&
	    interrupts != n) {
		fprintf(stderr, "# kvm: %lu timer interrupts in %lu rounds, %lu rounds off\n",
			(unsigned long)interrupts, (unsigned long)n,
			(unsigned long)bad);
		EXPECT_GE(n + in_shadow, interrupts);
		EXPECT_LE(n, interrupts);
	} else {
		EXPECT_EQ(n, interrupts);
		EXPECT_EQ(0, bad) TH_LOG("HLTs that ended without the timer");
	}
	if (variant->kind != GVM_VMXL)
		return;	/* KVM has no exit counters of its own to read */
	exits_before = ((struct vmxl_run *)self->vm.run[0])->exit_count;
	vm_id = ioctl(self->vm.vm_fd, VMXL_GET_VM_ID, 0);
	ASSERT_LT(0, vm_id);
	ASSERT_EQ(0, vnl_open(&nl));
	nv = vnl_dump_vcpus(&nl, vm_id, v, NR_VCPUS);
	vnl_close(&nl);
	ASSERT_EQ(NR_VCPUS, nv);
	for (int i = 0; i < nv; i++) {
		if (v[i].id != 0)
			continue;
		/* the HLTs were exits, handled in the kernel */
		EXPECT_LE(n - in_shadow, v[i].stats[VMXL_STAT_HLT]);
		/* userspace saw the four ucalls (port I/O), nothing else */
		EXPECT_EQ(4, v[i].stats[VMXL_STAT_USER]);
		EXPECT_LE(v[i].stats[VMXL_STAT_HLT], exits_before);
		fprintf(stderr, "# vmx-lite: %lu exits, %lu HLT, %lu to userspace\n",
			(unsigned long)v[i].stats[VMXL_STAT_EXITS],
			(unsigned long)v[i].stats[VMXL_STAT_HLT],
			(unsigned long)v[i].stats[VMXL_STAT_USER]);
	}
	RUN_TO(&self->vm, 0, &e, UCALL_DONE);
}

/* ------------------------------------------------------------------ */
/* 6. Saving and restoring: a timer mid-period, an IPI in IRR           */
/* ------------------------------------------------------------------ */

#define VEC_SAVED	0x66

/*
 * Arm a one-shot timer of @count (or, @count 0, send a self-IPI with
 * IF=0), report, and after the host moved the VM, take what comes:
 * results [0] t0, [1] arrivals of VEC_TIMER after @wait_ticks more,
 * [2] the arrival, [3] VEC_SAVED arrivals.
 */
static void guest_saved(uint64_t count, uint64_t wait_ticks)
{
	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER);
	if (count) {
		results[0] = rdtsc();
		apic_write(APIC_TMICT, count);
	} else {
		apic_write(APIC_ICR, ICR_SELF | ICR_FIXED | VEC_SAVED);
	}
	GUEST_SYNC(1, apic_read(APIC_IRR + 0x10 * (VEC_SAVED >> 5)));
	sti();
	spin_ticks(wait_ticks);
	cli();
	results[1] = pcpu[0].count[VEC_TIMER];
	results[2] = pcpu[0].tsc[0];
	results[3] = pcpu[0].count[VEC_SAVED];
}

/*
 * Move vCPU 0 of self->vm into a new VM of the same kind: memory,
 * registers, the TSC, APIC_BASE (in sregs) first, then the APIC and
 * the MP state.
 */
/*
 * Guest TSC ticks of host time between move_vm()'s read of the old
 * vCPU's TSC and its write into the new one: time the restored guest
 * does not see pass. KVM's timer, saved as the count left, runs on in
 * host time across it, so it fires early by as much.
 */
static uint64_t move_gap_ticks;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void move_vm(struct __test_metadata *_metadata,
		    FIXTURE_DATA(lapic) *self, enum gvm_kind kind,
		    struct vmxl_lapic_state *saved, int64_t *tsc_shift)
{
	uint64_t tsc2, t_read;
	struct vmxl_lapic_state ls;
	struct vmxl_sregs s;
	struct vmxl_regs r;
	uint64_t tsc;
	uint32_t mp;
	struct gvm nvm;

	ASSERT_EQ(0, gvm_settle(&self->vm, 0));
	ASSERT_EQ(0, gvm_get_regs(&self->vm, 0, &r));
	ASSERT_EQ(0, gvm_get_sregs(&self->vm, 0, &s));
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 0, &mp));
	ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
	/*
	 * The TSC after the APIC: KVM saves the timer as the count left,
	 * so time between the two would bring it forward.
	 */
	ASSERT_EQ(0, gvm_get_msr(&self->vm, 0, MSR_TSC, &tsc));
	t_read = now_ns();
	*saved = ls;

	ASSERT_EQ(0, gvm_create_flags(&nvm, kind, NR_VCPUS, GVM_LAPIC));
	memcpy(nvm.mem, self->vm.mem, GVM_MEM_SIZE);
	gvm_destroy(&self->vm);
	self->vm = nvm;
	ASSERT_EQ(0, gvm_set_sregs(&self->vm, 0, &s));
	ASSERT_EQ(0, gvm_set_regs(&self->vm, 0, &r));
	ASSERT_EQ(0, gvm_set_msr(&self->vm, 0, MSR_TSC, tsc));
	move_gap_ticks = (now_ns() - t_read) * self->tsc_khz / 1000000;
	/* the TSC goes on from where it was (start_far_tsc()) */
	ASSERT_EQ(0, gvm_get_msr(&self->vm, 0, MSR_TSC, &tsc2));
	*tsc_shift = (int64_t)(tsc2 - tsc);
	ASSERT_LE(tsc, tsc2);
	ASSERT_GT(tsc + self->tsc_khz * 1000, tsc2);
	ASSERT_EQ(0, gvm_set_lapic(&self->vm, 0, &ls));
	ASSERT_EQ(0, gvm_set_mp_state(&self->vm, 0, mp));
	self->params = gvm_image_ptr(&self->vm, &params);
	self->pcpu = gvm_image_ptr(&self->vm, pcpu);
	self->results = gvm_image_ptr(&self->vm, results);
}

/*
 * Start vCPU 0's TSC far from 0: KVM takes a host write of the TSC
 * within a second of what the VM's other vCPUs have as a wish to
 * synchronize with them and keeps their offset instead, which would
 * move the TSC of the restored vCPU by the old VM's age.
 */
static int start_far_tsc(struct gvm *vm)
{
	return gvm_set_msr(vm, 0, MSR_TSC, 1ull << 40);
}

TEST_F_TIMEOUT(lapic, save_restore_timer_mid_period, 60)
{
	uint64_t count = 50 * ms_count(self), P = 50 * self->tsc_khz;
	struct vmxl_lapic_state ls;
	uint64_t *r, t0, gap;
	int64_t shift;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_saved, count,
					 3 * P));
	ASSERT_EQ(0, start_far_tsc(&self->vm));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	t0 = self->results[0];
	move_vm(_metadata, self, variant->kind, &ls, &shift);
	EXPECT_EQ(VEC_TIMER, *(uint32_t *)&ls.regs[APIC_LVTT]);
	EXPECT_EQ(count, *(uint32_t *)&ls.regs[APIC_TMICT]);
	if (variant->kind == GVM_VMXL) {
		/* the deadline: t0 + P, give or take the write's cost */
		EXPECT_LE(t0 + P, ls.timer_deadline);
		EXPECT_GE(t0 + P + self->tsc_khz * 100, ls.timer_deadline);
	} else {
		/* KVM carries the remaining count */
		EXPECT_GT(count, *(uint32_t *)&ls.regs[APIC_TMCCT]);
		EXPECT_LT(0, *(uint32_t *)&ls.regs[APIC_TMCCT]);
	}
	RUN_DONE(&self->vm, &e);
	r = self->results;
	fprintf(stderr, "# TSC read back %ld ticks after it was set\n",
		(long)shift);
	EXPECT_EQ(1, r[1]) TH_LOG("the timer's interrupt, exactly once");
	/* KVM: early by the move's gap too (move_gap_ticks) */
	gap = variant->kind == GVM_VMXL ? 0 : move_gap_ticks;
	EXPECT_LE(t0 + P - EARLY_SLACK(P) - gap, r[2])
		TH_LOG("early by %ld ticks, the move took %lu",
		       (long)(t0 + P - r[2]), (unsigned long)move_gap_ticks);
	EXPECT_GE(t0 + P + LATE_SLACK(self->tsc_khz), r[2]);
	EXPECT_EQ(0, r[3]);
}

TEST_F_TIMEOUT(lapic, save_restore_ipi_in_irr, 60)
{
	struct vmxl_lapic_state ls;
	uint32_t bit = 1u << (VEC_SAVED & 31);
	uint64_t *r;
	int64_t shift;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_saved, 0,
					 10 * self->tsc_khz));
	ASSERT_EQ(0, start_far_tsc(&self->vm));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(bit, e.uc.args[1] & bit) TH_LOG("the IPI waits in IRR");
	move_vm(_metadata, self, variant->kind, &ls, &shift);
	EXPECT_EQ(bit, *(uint32_t *)&ls.regs[APIC_IRR + 0x10 * (VEC_SAVED >> 5)] & bit);
	EXPECT_EQ(0, *(uint32_t *)&ls.regs[APIC_ISR + 0x10 * (VEC_SAVED >> 5)]);
	RUN_DONE(&self->vm, &e);
	r = self->results;
	EXPECT_EQ(1, r[3]) TH_LOG("the saved IPI, exactly once");
	EXPECT_EQ(0, r[1]);
}

/*
 * Halted on a one-shot timer of @count: results [0] t0, [1] the
 * arrivals after the HLT, [2] the arrival, [3] its count 3 periods on.
 */
static void guest_halted_saved(uint64_t count)
{
	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, VEC_TIMER);
	results[0] = rdtsc();
	apic_write(APIC_TMICT, count);
	asm volatile("sti; hlt; cli" : : : "memory");
	results[1] = pcpu[0].count[VEC_TIMER];
	results[2] = pcpu[0].tsc[0];
	sti();
	spin_ticks(3 * count_ticks(count));
	cli();
	results[3] = pcpu[0].count[VEC_TIMER];
}

/* Any exit of a vCPU that should wait in HLT fails the run. */
static int par_no_exit(struct gvm *vm, int cpu, struct gvm_exit *e, void *arg)
{
	(void)vm;
	(void)cpu;
	*(struct gvm_exit *)arg = *e;
	return -EPROTO;
}

/*
 * Run vCPU 0 in rounds of 50 ms until it waits in HLT, without an exit
 * (@e: the exit that came instead): 0, else the round's error, or
 * -ETIME if it is not halted after 2 s. One round is enough but on the
 * debug lane under load, where the guest's setup before its HLT can take
 * longer than 50 ms of host time.
 */
static int run_until_halted(struct gvm *vm, struct gvm_exit *e)
{
	uint32_t mp;
	int i, ret;

	for (i = 0; i < 40; i++) {
		memset(e, 0, sizeof(*e));
		ret = gvm_run_parallel(vm, 1, par_no_exit, e, 50, NULL);
		if (ret != -ETIMEDOUT)
			return ret ? ret : -EPROTO;
		ret = gvm_get_mp_state(vm, 0, &mp);
		if (ret || mp == GVM_MP_HALTED)
			return ret;
	}
	return -ETIME;
}

/*
 * Saved while halted on its timer (kicked out of RUN by a signal):
 * MP state HALTED and the armed timer move with it; in the new VM the
 * HLT ends by that timer, once, not before its deadline.
 */
TEST_F_TIMEOUT(lapic, save_restore_halted, 60)
{
	uint64_t count = 300 * ms_count(self), P = 300 * self->tsc_khz, t0;
	struct vmxl_lapic_state ls;
	struct gvm_exit e;
	uint64_t *r, gap;
	int64_t shift;
	uint32_t mp;
	char b[400];
	int ret;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_halted_saved,
					 count, 0));
	ASSERT_EQ(0, start_far_tsc(&self->vm));
	/* it waits in HLT: a timeout kicks it out */
	ret = run_until_halted(&self->vm, &e);
	if (ret)
		log_vcpu(&self->vm, 0);
	ASSERT_EQ(0, ret) TH_LOG("%s", gvm_exit_str(&e, b, sizeof(b)));
	t0 = self->results[0];
	move_vm(_metadata, self, variant->kind, &ls, &shift);
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 0, &mp));
	EXPECT_EQ(GVM_MP_HALTED, mp);
	if (variant->kind == GVM_VMXL)
		EXPECT_LE(t0 + P, ls.timer_deadline);
	RUN_DONE(&self->vm, &e);
	r = self->results;
	EXPECT_EQ(1, r[1]) TH_LOG("the HLT ends by the timer");
	EXPECT_EQ(1, r[3]) TH_LOG("exactly once");
	/*
	 * KVM on a host whose TSC is unstable (the svm lane: "guest TSC
	 * will not be reliable", the clocksource is not the TSC) restarts
	 * a vCPU's TSC from its last value at each load and catches up only
	 * in part, so after 300 ms of HLT its guest TSC lags the host time
	 * its timer runs on: seen 60 ms early. Only the count is KVM's there.
	 */
	if (variant->kind == GVM_KVM && !host_tsc_stable()) {
		fprintf(stderr, "# kvm, unstable host TSC: arrival %ld ticks from the deadline\n",
			(long)(r[2] - t0 - P));
		return;
	}
	/* KVM: early by the move's gap too (move_gap_ticks) */
	gap = variant->kind == GVM_VMXL ? 0 : move_gap_ticks;
	EXPECT_LE(t0 + P - EARLY_SLACK(P) - gap, r[2])
		TH_LOG("early by %ld ticks, the move took %lu",
		       (long)(t0 + P - r[2]), (unsigned long)move_gap_ticks);
	EXPECT_GE(t0 + P + LATE_SLACK(self->tsc_khz), r[2]);
}

/* ------------------------------------------------------------------ */
/* 7. Level-triggered MSIs: VMXL_EXIT_EOI                               */
/* ------------------------------------------------------------------ */

#define VEC_LEVEL	0x51
#define VEC_EDGE	0x52

/* Ready, then wait for @n interrupts of either vector with IF=1. */
static void guest_take_msis(uint64_t n)
{
	guest_setup_idt();
	apic_sw_enable();
	GUEST_SYNC(1, 0);
	sti();
	while (pcpu[0].count[VEC_LEVEL] + pcpu[0].count[VEC_EDGE] < n)
		asm volatile("pause");
	cli();
	GUEST_SYNC(2, pcpu[0].count[VEC_LEVEL]);
	GUEST_SYNC(3, pcpu[0].count[VEC_EDGE]);
}

TEST_F_TIMEOUT(lapic, level_msi_eoi_exit, 30)
{
	uint32_t w = (VEC_LEVEL >> 5) * 0x10, bit = 1u << (VEC_LEVEL & 31);
	struct vmxl_lapic_state ls;
	struct gvm_exit e;
	char b[400];

	BEGIN();
	VMXL_ONLY("KVM reports EOIs to userspace only for its IOAPIC routes");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_take_msis, 2, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	/* level, asserted (bit 14), to APIC 0 */
	ASSERT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA,
				    VEC_LEVEL | 1u << 15 | 1u << 14));
	ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
	EXPECT_EQ(bit, *(uint32_t *)&ls.regs[APIC_IRR + w] & bit);
	EXPECT_EQ(bit, *(uint32_t *)&ls.regs[APIC_TMR + w] & bit);
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_EOI, e.reason) TH_LOG("%s", gvm_exit_str(&e, b, sizeof(b)));
	EXPECT_EQ(VEC_LEVEL, e.data);
	/* the EOI is done: ISR and TMR clear */
	ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
	EXPECT_EQ(0, *(uint32_t *)&ls.regs[APIC_ISR + w] & bit);
	EXPECT_EQ(0, *(uint32_t *)&ls.regs[APIC_IRR + w] & bit);
	/* an edge one: its EOI stays in the kernel */
	ASSERT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA, VEC_EDGE));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(2, e.uc.args[0]);
	EXPECT_EQ(1, e.uc.args[1]);
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(1, e.uc.args[1]);
	RUN_TO(&self->vm, 0, &e, UCALL_DONE);
}

/* ------------------------------------------------------------------ */
/* 5. IPIs, INIT and STARTUP, priorities, TPR, x2APIC                   */
/* ------------------------------------------------------------------ */

/*
 * APs run guest_ap(): set up, then serve a mailbox until told to stop:
 * mbox[cpu].op = OP_WRITE writes APIC register reg = val; OP_READ reads
 * it into val; OP_STOP returns; OP_X2APIC enters x2APIC mode (EOIs by
 * MSR from then on); OP_RDMSR reads MSR reg into val. seq/ack pair each
 * request. BSP code calls ap_do().
 */
enum { OP_NONE, OP_WRITE, OP_READ, OP_STOP, OP_X2APIC, OP_RDMSR };

struct mbox {
	volatile uint32_t op, reg, val;
	volatile uint64_t seq, ack;
	volatile uint64_t ready;
} mbox[GVM_MAX_VCPUS];

static void guest_ap(void)
{
	int cpu = guest_cpu();
	struct mbox *m = &mbox[cpu];
	uint64_t seen = 0;

	guest_setup_idt();
	apic_sw_enable();
	sti();
	GUEST_SYNC(1, 0);
	m->ready = 1;
	for (;;) {
		if (m->seq == seen) {
			asm volatile("pause");
			continue;
		}
		seen = m->seq;
		if (m->op == OP_STOP) {
			m->ack = seen;
			break;
		}
		if (m->op == OP_WRITE) {
			apic_write(m->reg, m->val);
		} else if (m->op == OP_READ) {
			m->val = apic_read(m->reg);
		} else if (m->op == OP_X2APIC) {
			cli();
			wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | BASE_EXTD);
			pcpu[cpu].x2apic = 1;
			sti();
		} else if (m->op == OP_RDMSR) {
			m->val = rdmsr(m->reg);
		}
		m->ack = seen;
	}
	cli();
}

/* Ask AP @cpu to do @op on @reg; its answer (OP_READ). */
static uint32_t ap_do(int cpu, uint32_t op, uint32_t reg, uint32_t val)
{
	struct mbox *m = &mbox[cpu];
	uint64_t s = m->seq + 1, t0 = rdtsc();

	m->op = op;
	m->reg = reg;
	m->val = val;
	m->seq = s;
	while (m->ack != s) {
		asm volatile("pause");
		GUEST_ASSERT(rdtsc() - t0 < MS(5000));
	}
	return m->val;
}

static void wait_aps_ready(int nr)
{
	uint64_t t0 = rdtsc();
	int i;

	for (i = 1; i < nr; i++)
		while (!mbox[i].ready) {
			asm volatile("pause");
			if (rdtsc() - t0 > MS(10000))
				GUEST_ASSERT_EQ(i, 0);	/* names the AP */
		}
}

static void stop_aps(int nr)
{
	int i;

	for (i = 1; i < nr; i++)
		ap_do(i, OP_STOP, 0, 0);
}

static void send_ipi(uint32_t dest, uint32_t lo)
{
	apic_write(APIC_ICR2, dest << 24);
	apic_write(APIC_ICR, lo);
}

/* Wait for @cpu's count of @vec to reach @want; 1 s at most. */
#define WAIT(cpu, vec, want)	wait_count(cpu, vec, want, MS(1000))
/* No more arrive within 2 ms: the count now. */
#define SETTLED(cpu, vec)	(spin_ticks(MS(2)), pcpu[cpu].count[vec])

/*
 * Fixed IPIs to each destination form; every check is a guest
 * assertion. @kind: lowest priority's choice differs (see the top).
 */
static void guest_ipis(uint64_t kind, uint64_t nr)
{
	int i, got;

	guest_setup_idt();
	apic_sw_enable();
	sti();
	wait_aps_ready(nr);

	GUEST_SYNC(101, 0);
	/* fixed, physical: only vCPU 1 */
	send_ipi(1, ICR_FIXED | 0x40);
	GUEST_ASSERT_EQ(WAIT(1, 0x40, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(1, 0x40), 1);
	GUEST_ASSERT_EQ(pcpu[0].count[0x40], 0);
	GUEST_ASSERT_EQ(pcpu[2].count[0x40], 0);

	GUEST_SYNC(102, 0);
	/* physical 0xff: everyone, the sender too */
	send_ipi(0xff, ICR_FIXED | 0x41);
	for (i = 0; i < (int)nr; i++)
		GUEST_ASSERT_EQ(WAIT(i, 0x41, 1), 1);

	GUEST_SYNC(103, 0);
	/* logical flat: LDR bit per vCPU; destination vCPUs 1 and 2 */
	apic_write(APIC_LDR, 1u << 24);
	for (i = 1; i < (int)nr; i++)
		ap_do(i, OP_WRITE, APIC_LDR, 1u << (24 + i));
	send_ipi(0x6, ICR_LOGICAL | ICR_FIXED | 0x42);
	GUEST_ASSERT_EQ(WAIT(1, 0x42, 1), 1);
	GUEST_ASSERT_EQ(WAIT(2, 0x42, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(0, 0x42), 0);
	GUEST_SYNC(104, 0);
	/* a mask with no vCPU of ours: nobody */
	send_ipi(0x80, ICR_LOGICAL | ICR_FIXED | 0x43);
	GUEST_ASSERT_EQ(SETTLED(0, 0x43) + pcpu[1].count[0x43] +
			pcpu[2].count[0x43], 0);

	GUEST_SYNC(105, 0);
	/* lowest priority to 1 and 2: exactly one of them */
	send_ipi(0x6, ICR_LOGICAL | ICR_LOWEST | 0x44);
	spin_ticks(MS(20));
	got = pcpu[1].count[0x44] + pcpu[2].count[0x44] * 2;
	if (kind == GVM_VMXL)
		GUEST_ASSERT_EQ(got, 1);	/* the lowest-numbered */
	else
		GUEST_ASSERT(got == 1 || got == 2);
	GUEST_ASSERT_EQ(pcpu[0].count[0x44], 0);

	GUEST_SYNC(106, 0);
	/* logical cluster: cluster 1, members by bit */
	apic_write(APIC_DFR, 0x0fffffff);
	apic_write(APIC_LDR, 0x11u << 24);
	for (i = 1; i < (int)nr; i++) {
		ap_do(i, OP_WRITE, APIC_DFR, 0x0fffffff);
		ap_do(i, OP_WRITE, APIC_LDR, (0x10u | 1u << i) << 24);
	}
	send_ipi(0x14, ICR_LOGICAL | ICR_FIXED | 0x45);	/* cluster 1, vCPU 2 */
	GUEST_ASSERT_EQ(WAIT(2, 0x45, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(1, 0x45), 0);
	GUEST_ASSERT_EQ(pcpu[0].count[0x45], 0);
	send_ipi(0x23, ICR_LOGICAL | ICR_FIXED | 0x46);	/* cluster 2: none */
	GUEST_ASSERT_EQ(SETTLED(0, 0x46) + pcpu[1].count[0x46] +
			pcpu[2].count[0x46], 0);
	send_ipi(0x13, ICR_LOGICAL | ICR_FIXED | 0x47);	/* 0 and 1 */
	GUEST_ASSERT_EQ(WAIT(0, 0x47, 1), 1);
	GUEST_ASSERT_EQ(WAIT(1, 0x47, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(2, 0x47), 0);

	GUEST_SYNC(107, 0);
	/* shorthands: self, all, all but self (destination ignored) */
	send_ipi(1, ICR_SELF | ICR_FIXED | 0x48);
	GUEST_ASSERT_EQ(WAIT(0, 0x48, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(1, 0x48) + pcpu[2].count[0x48], 0);
	send_ipi(0, ICR_ALL | ICR_FIXED | 0x49);
	for (i = 0; i < (int)nr; i++)
		GUEST_ASSERT_EQ(WAIT(i, 0x49, 1), 1);
	send_ipi(0, ICR_OTHERS | ICR_FIXED | 0x4a);
	for (i = 1; i < (int)nr; i++)
		GUEST_ASSERT_EQ(WAIT(i, 0x4a, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(0, 0x4a), 0);

	GUEST_SYNC(108, 0);
	/* NMI to vCPU 2, physical */
	apic_write(APIC_DFR, 0xffffffff);
	send_ipi(2, ICR_NMI);
	GUEST_ASSERT_EQ(WAIT(2, VEC_NMI, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(1, VEC_NMI) + pcpu[0].count[VEC_NMI], 0);

	GUEST_SYNC(109, 0);
	/* vCPU 1 software-disabled: fixed IPIs dropped, NMIs still come */
	ap_do(1, OP_WRITE, APIC_SVR, 0xff);
	send_ipi(1, ICR_FIXED | 0x4b);
	GUEST_ASSERT_EQ(SETTLED(1, 0x4b), 0);
	GUEST_ASSERT_EQ(ap_do(1, OP_READ, APIC_IRR + 0x20, 0) & (1u << 11), 0);
	send_ipi(1, ICR_NMI);
	GUEST_ASSERT_EQ(WAIT(1, VEC_NMI, 1), 1);
	GUEST_SYNC(110, 0);
	/* an LVT cannot be unmasked while software-disabled */
	ap_do(1, OP_WRITE, APIC_LVTT, 0x30);
	GUEST_ASSERT_EQ(ap_do(1, OP_READ, APIC_LVTT, 0), 0x30 | LVT_MASKED);
	ap_do(1, OP_WRITE, APIC_SVR, 0x1ff);
	send_ipi(1, ICR_FIXED | 0x4c);
	GUEST_ASSERT_EQ(WAIT(1, 0x4c, 1), 1);

	if (kind == GVM_VMXL) {
		/*
		 * A fixed IPI below vector 16: ESR bit 5 (send illegal
		 * vector), not sent. KVM 6.1 does not check the vector.
		 */
		apic_write(APIC_ESR, 0);
		send_ipi(1, ICR_FIXED | 0x5);
		apic_write(APIC_ESR, 0);
		GUEST_ASSERT_EQ(apic_read(APIC_ESR) & 0x20, 0x20);
		GUEST_ASSERT_EQ(SETTLED(1, 5), 0);
	}
	stop_aps(nr);
}

/* The host side of a parallel run: ucalls only; a failure stops all. */
struct par_log {
	char msg[GVM_MAX_VCPUS][400];
	int done[GVM_MAX_VCPUS];
	struct gvm_exit last[GVM_MAX_VCPUS];
};

static int par_ucalls(struct gvm *vm, int cpu, struct gvm_exit *e, void *arg)
{
	struct par_log *log = arg;

	(void)vm;
	if (e->reason == GVM_EXIT_UCALL && e->uc.cmd == UCALL_SYNC)
		log->last[cpu] = *e;
	if (e->reason != GVM_EXIT_UCALL) {
		gvm_exit_str(e, log->msg[cpu], sizeof(log->msg[cpu]));
		return -EPROTO;
	}
	if (e->uc.cmd == UCALL_DONE) {
		log->done[cpu] = 1;
		return 1;
	}
	if (e->uc.cmd == UCALL_SYNC)
		return 0;
	gvm_ucall_str(&e->uc, log->msg[cpu], sizeof(log->msg[cpu]));
	return -EPROTO;
}

/* Start APs 1 .. nr-1 in long mode at @fn, RUNNABLE. */
static int start_aps(struct gvm *vm, int nr, void *fn)
{
	int i, ret;

	for (i = 1; i < nr; i++) {
		ret = gvm_enter_long_mode(vm, i, fn, 0, 0);
		if (!ret)
			ret = gvm_set_mp_state(vm, i, GVM_MP_RUNNABLE);
		if (ret)
			return ret;
	}
	return 0;
}

/* Where a vCPU stands, for a failure message. */
static void log_vcpu(struct gvm *vm, int cpu)
{
	struct vmxl_regs r = { 0 };
	uint32_t mp = 0;

	struct vmxl_lapic_state ls;
	struct vmxl_sregs s = { 0 };
	const uint32_t *reg = (const uint32_t *)ls.regs;
	int i;

	gvm_get_regs(vm, cpu, &r);
	gvm_get_sregs(vm, cpu, &s);
	uint64_t tsc = 0;

	gvm_get_mp_state(vm, cpu, &mp);
	gvm_get_msr(vm, cpu, MSR_TSC, &tsc);
	fprintf(stderr, "# vCPU %d: RIP 0x%lx RSP 0x%lx RFLAGS 0x%lx CR8 %lu MP state %u TSC %lu",
		cpu, (unsigned long)r.rip, (unsigned long)r.rsp,
		(unsigned long)r.rflags, (unsigned long)s.cr8, mp,
		(unsigned long)tsc);
	if (vm->kind == GVM_VMXL)
		fprintf(stderr, ", %lu exits",
			(unsigned long)((struct vmxl_run *)vm->run[cpu])->exit_count);
	if (!gvm_get_lapic(vm, cpu, &ls)) {
		fprintf(stderr, "; TPR 0x%x PPR 0x%x SVR 0x%x LVTT 0x%x TMICT %u TMCCT %u deadline %lu IRR",
			reg[APIC_TPR / 4], reg[APIC_PPR / 4], reg[APIC_SVR / 4],
			reg[APIC_LVTT / 4], reg[APIC_TMICT / 4],
			reg[APIC_TMCCT / 4], (unsigned long)ls.timer_deadline);
		for (i = 7; i >= 0; i--)
			fprintf(stderr, " %08x", reg[(APIC_IRR + 0x10 * i) / 4]);
		fprintf(stderr, " ISR");
		for (i = 7; i >= 0; i--)
			fprintf(stderr, " %08x", reg[(APIC_ISR + 0x10 * i) / 4]);
	}
	fprintf(stderr, "\n");
}

#define RUN_PARALLEL(self, nr, timeout_ms) do {				\
	struct par_log __log;						\
	unsigned int __stopped;						\
	int __ret, __i;							\
	memset(&__log, 0, sizeof(__log));				\
	__ret = gvm_run_parallel(&(self)->vm, (nr), par_ucalls, &__log,	\
				 (timeout_ms), &__stopped);		\
	for (__i = 0; __i < (nr); __i++) {				\
		if (__log.msg[__i][0])					\
			TH_LOG("vCPU %d: %s", __i, __log.msg[__i]);	\
		if (__ret) {						\
			TH_LOG("vCPU %d: last stage %lu", __i,		\
			       (unsigned long)__log.last[__i].uc.args[0]); \
			log_vcpu(&(self)->vm, __i);			\
		}							\
	}								\
	if (__ret)							\
		fprintf(stderr, "# guest_ap %p wait_aps_ready %p guest_ipis %p\n", \
			guest_ap, wait_aps_ready, guest_ipis);		\
	ASSERT_EQ(0, __ret);						\
	for (__i = 0; __i < (nr); __i++) {				\
		ASSERT_TRUE(__log.done[__i]) TH_LOG("vCPU %d", __i);	\
	}							\
} while (0)

TEST_F_TIMEOUT(lapic, ipis, 120)
{
	BEGIN();
	ASSERT_EQ(0, start_aps(&self->vm, NR_VCPUS, guest_ap));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_ipis,
					 variant->kind, NR_VCPUS));
	RUN_PARALLEL(self, NR_VCPUS, 100000);
}

/*
 * INIT and STARTUP: the AP starts in real mode at CS = vector << 8,
 * IP = 0, and reports CS and CR0 on port CODE16_PORT.
 */
GUEST(g_sipi,
      "mov %cs, %ax\n"
      "out %ax, $0xe4\n"
      "mov %cr0, %eax\n"
      "out %eax, $0xe4\n"
      "1: hlt\n"
      "jmp 1b\n");

#define SIPI_VECTOR	0x09
#define SIPI_AP_RAN	8	/* results[]: the host saw the AP's first OUT */

static void guest_init_sipi(void)
{
	uint64_t t0;

	guest_setup_idt();
	apic_sw_enable();
	sti();		/* spin with IF=1: Bochs and KVM (docs/testing.md) */
	send_ipi(1, ICR_INIT | ICR_ASSERT);
	spin_ticks(MS(1));
	/* de-assert: ignored */
	send_ipi(1, ICR_INIT | ICR_LEVEL);
	send_ipi(1, ICR_STARTUP | SIPI_VECTOR);
	/*
	 * A second one, once the AP runs, is ignored. Sent after a fixed
	 * wait instead, it can reach KVM before the AP's thread has taken
	 * the first (the debug lane under load), and KVM then starts the
	 * AP at the later vector: wait until the AP has run.
	 */
	t0 = rdtsc();
	while (!__atomic_load_n(&results[SIPI_AP_RAN], __ATOMIC_ACQUIRE) &&
	       rdtsc() - t0 < MS(10000))
		asm volatile("pause");
	send_ipi(1, ICR_STARTUP | (SIPI_VECTOR + 1));
}

struct sipi_log {
	struct par_log ucalls;
	uint64_t out[4];
	int nout;
	struct vmxl_sregs s;
	struct vmxl_regs r;
};

static int par_sipi(struct gvm *vm, int cpu, struct gvm_exit *e, void *arg)
{
	struct sipi_log *log = arg;

	if (cpu == 0)
		return par_ucalls(vm, cpu, e, &log->ucalls);
	if (e->reason != GVM_EXIT_IO || e->port != CODE16_PORT) {
		gvm_exit_str(e, log->ucalls.msg[cpu], 400);
		return -EPROTO;
	}
	log->out[log->nout++] = e->data;
	if (log->nout < 2) {
		uint64_t *r = gvm_image_ptr(vm, results);

		__atomic_store_n(&r[SIPI_AP_RAN], 1, __ATOMIC_RELEASE);
		return 0;
	}
	gvm_settle(vm, cpu);
	gvm_get_sregs(vm, cpu, &log->s);
	gvm_get_regs(vm, cpu, &log->r);
	log->ucalls.done[cpu] = 1;
	return 1;
}

TEST_F_TIMEOUT(lapic, init_startup, 60)
{
	struct sipi_log log;
	unsigned int stopped;
	uint32_t mp;
	int ret, i;

	BEGIN();
	memcpy(self->vm.mem + SIPI_VECTOR * 0x1000, g_sipi_start,
	       g_sipi_end - g_sipi_start);
	memcpy(self->vm.mem + (SIPI_VECTOR + 1) * 0x1000, g_sipi_start,
	       g_sipi_end - g_sipi_start);
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 1, &mp));
	EXPECT_EQ(GVM_MP_INIT_RECEIVED, mp);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_init_sipi, 0, 0));
	memset(&log, 0, sizeof(log));
	ret = gvm_run_parallel(&self->vm, 2, par_sipi, &log, 30000, &stopped);
	for (i = 0; i < 2; i++)
		if (log.ucalls.msg[i][0])
			TH_LOG("vCPU %d: %s", i, log.ucalls.msg[i]);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(2, log.nout);
	EXPECT_EQ(SIPI_VECTOR << 8, log.out[0] & 0xffff);
	EXPECT_EQ(0, log.out[1] & 1) TH_LOG("CR0.PE: real mode");
	EXPECT_EQ(SIPI_VECTOR << 8, log.s.cs.selector);
	EXPECT_EQ(SIPI_VECTOR << 12, log.s.cs.base);
	EXPECT_EQ(0, log.s.cr0 & 0x80000001);
	/* MOV from CS, OUT, MOV from CR0, OUT: 2 + 2 + 3 + 3 bytes */
	EXPECT_EQ(10, log.r.rip);
	EXPECT_EQ(APIC_GPA | BASE_EN, log.s.apic_base);
	/* vCPU 2 got nothing and waits still */
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 2, &mp));
	EXPECT_EQ(GVM_MP_INIT_RECEIVED, mp);
}

/*
 * Priorities, nested interrupts and EOI order on one vCPU: three
 * self-IPIs with IF=0 wait in IRR and come highest first; in 0x50's
 * handler, with IF=1, a self-IPI of 0x60 nests (a higher class) and one
 * of 0x51 waits (the same class) until 0x50's EOI. results[0..7] IRR
 * before STI.
 */
static void nest_hook(int cpu, uint64_t vec)
{
	if (vec != 0x50)
		return;
	apic_write(APIC_ICR, ICR_SELF | 0x51);
	apic_write(APIC_ICR, ICR_SELF | 0x60);
	sti();
	spin_ticks(MS(5));
	cli();
	/* 0x60 came and went; 0x51 waits: PPR holds class 5 */
	results[20] = pcpu[cpu].count[0x60];
	results[21] = pcpu[cpu].count[0x51];
	results[22] = apic_read(APIC_PPR);
	results[23] = apic_read(APIC_IRR + 0x20);
	results[24] = apic_read(APIC_ISR + 0x20);
}

static void guest_priorities(void)
{
	int i;

	guest_setup_idt();
	apic_sw_enable();
	pcpu[0].snap_isr = 1;
	irq_hook = nest_hook;
	apic_write(APIC_ICR, ICR_SELF | 0x30);
	apic_write(APIC_ICR, ICR_SELF | 0x90);
	apic_write(APIC_ICR, ICR_SELF | 0x50);
	for (i = 0; i < 8; i++)
		results[i] = apic_read(APIC_IRR + 0x10 * i);
	sti();
	spin_ticks(MS(20));
	cli();
	irq_hook = NULL;
	results[10] = apic_read(APIC_ISR + 0x20);
	results[11] = apic_read(APIC_PPR);
}

TEST_F_TIMEOUT(lapic, priority_nesting_eoi, 30)
{
	uint64_t *r = self->results;
	struct pcpu *p = &self->pcpu[0];
	static const uint8_t order[] = { 0x90, 0x50, 0x60, 0x51, 0x30 };
	struct gvm_exit e;
	int i;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_priorities, 0, 0));
	RUN_DONE(&self->vm, &e);
	EXPECT_EQ(1u << 16, r[1]);	/* 0x30 */
	EXPECT_EQ(1u << 16, r[2]);	/* 0x50 */
	EXPECT_EQ(1u << 16, r[4]);	/* 0x90 */
	ASSERT_EQ(sizeof(order), p->arrivals);
	for (i = 0; i < (int)sizeof(order); i++) {
		EXPECT_EQ(order[i], p->vec[i]) TH_LOG("arrival %d", i);
	}
	/* ISR in each handler: its own bit; in 0x60's also 0x50's */
	EXPECT_EQ(1u << 16, p->isr[0][4]);
	EXPECT_EQ(1u << 16, p->isr[1][2]);
	EXPECT_EQ(1u << 16, p->isr[2][2]);
	EXPECT_EQ(1u << 0, p->isr[2][3]);
	EXPECT_EQ(1u << 17, p->isr[3][2]);
	EXPECT_EQ(1u << 16, p->isr[4][1]);
	EXPECT_EQ(1, r[20]);
	EXPECT_EQ(0, r[21]);
	EXPECT_EQ(0x50, r[22]);
	EXPECT_EQ(1u << 17, r[23]);
	EXPECT_EQ(1u << 16, r[24]);
	EXPECT_EQ(0, r[10]);
	EXPECT_EQ(0, r[11]);
}

/*
 * TPR and CR8: TPR 0x50 blocks classes up to 5; CR8 reads 5; CR8 = 4
 * lets 0x55 in, not 0x45; TPR 0 lets 0x45 in. results: [0] CR8 with
 * TPR 0x5f, [1] PPR, [2] counts of 0x45/0x55 with TPR 0x5f (0x55 << 8 |
 * 0x45), [3] TPR after CR8 = 4, [4] counts then, [5] counts at TPR 0.
 */
static void guest_tpr_cr8(void)
{
	uint64_t cr8 = 4;

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_TPR, 0x5f);
	results[0] = GUEST_READ_CR(8);
	results[1] = apic_read(APIC_PPR);
	apic_write(APIC_ICR, ICR_SELF | 0x45);
	apic_write(APIC_ICR, ICR_SELF | 0x55);
	sti();
	spin_ticks(MS(5));
	results[2] = pcpu[0].count[0x55] << 8 | pcpu[0].count[0x45];
	asm volatile("mov %0, %%cr8" : : "r"(cr8) : "memory");
	results[3] = apic_read(APIC_TPR);
	spin_ticks(MS(5));
	results[4] = pcpu[0].count[0x55] << 8 | pcpu[0].count[0x45];
	apic_write(APIC_TPR, 0);
	spin_ticks(MS(5));
	results[5] = pcpu[0].count[0x55] << 8 | pcpu[0].count[0x45];
	results[6] = GUEST_READ_CR(8);
	cli();
}

/*
 * With 0x45 and 0x55 held back by TPR 0x5f, vmx-lite's SVM backend once
 * armed a virtual interrupt at priority 5 against V_TPR 5 for a MOV to
 * CR8 to let 0x55 in; QEMU 7.2's ctl_has_irq() takes one at equal
 * priority, so every entry ended in a VINTR exit and the guest never ran
 * again (this test: hundreds of thousands of exits a second, RIP still).
 * The backend now intercepts CR8 writes meanwhile, as KVM does
 * (update_cr8_intercept()).
 */
TEST_F_TIMEOUT(lapic, tpr_and_cr8, 30)
{
	uint64_t *r = self->results;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_tpr_cr8, 0, 0));
	/* a guest that never gets 0x55 shows where it stands */
	RUN_PARALLEL(self, 1, 8000);
	EXPECT_EQ(5, r[0]);
	/*
	 * TPR keeps its low 4 bits, PPR = TPR with ISR empty. But KVM on
	 * SVM copies V_TPR (4 bits) back to TPR at every exit: 0x50.
	 */
	if (variant->kind == GVM_KVM && kvm_amd()) {
		EXPECT_EQ(0x50, r[1]);
	} else {
		EXPECT_EQ(0x5f, r[1]);
	}
	EXPECT_EQ(0, r[2]);
	EXPECT_EQ(0x40, r[3]);
	EXPECT_EQ(0x100, r[4]);
	EXPECT_EQ(0x101, r[5]);
	EXPECT_EQ(0, r[6]);
}

/*
 * x2APIC: enable by APIC_BASE.EXTD, the MSRs' rules. results: [0] CPUID.1
 * ECX, [1] #GPs of an x2APIC MSR in xAPIC mode, [2] ID, [3] LDR, [4] #GPs
 * of writing ID and LDR, [5] of reading DFR, [6] of writing ICR2's MSR
 * (there is none), [7] of TPR with reserved bits, [8] of EOI nonzero,
 * [9] the self-IPI by ICR arrived, [10] by SELF_IPI, [11] #GPs of
 * leaving to xAPIC directly, [12] APIC_BASE after disable and xAPIC
 * again, [13] #GPs of EXTD without EN, [14] VER.
 */
static void guest_x2apic(uint64_t id)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint32_t r[4];

	guest_cpuid(1, 0, r);
	results[0] = r[2];
	guest_setup_idt();
	apic_sw_enable();
	gp_expected = 1;
	rdmsr(MSR_X2APIC(APIC_ID));
	results[1] = gp_count;
	gp_count = 0;
	wrmsr(MSR_APIC_BASE, base | BASE_EXTD);
	pcpu[0].x2apic = 1;
	results[2] = rdmsr(MSR_X2APIC(APIC_ID));
	results[3] = rdmsr(MSR_X2APIC(APIC_LDR));
	results[14] = rdmsr(MSR_X2APIC(APIC_VER));
	wrmsr(MSR_X2APIC(APIC_ID), 5);
	wrmsr(MSR_X2APIC(APIC_LDR), 5);
	results[4] = gp_count;
	gp_count = 0;
	rdmsr(MSR_X2APIC(APIC_DFR));
	results[5] = gp_count;
	gp_count = 0;
	wrmsr(MSR_X2APIC(APIC_ICR2), 0);
	results[6] = gp_count;
	gp_count = 0;
	wrmsr(MSR_X2APIC(APIC_TPR), 0x100);
	results[7] = gp_count;
	gp_count = 0;
	wrmsr(MSR_X2APIC(APIC_EOI), 1);
	results[8] = gp_count;
	gp_count = 0;
	sti();
	wrmsr(MSR_X2APIC(APIC_ICR), id << 32 | ICR_FIXED | 0x70);
	results[9] = wait_count(0, 0x70, 1, MS(100));
	wrmsr(MSR_SELF_IPI, 0x71);
	results[10] = wait_count(0, 0x71, 1, MS(100));
	cli();
	wrmsr(MSR_APIC_BASE, base);	/* x2APIC -> xAPIC: #GP */
	results[11] = gp_count;
	gp_count = 0;
	wrmsr(MSR_APIC_BASE, base & ~(BASE_EN | BASE_EXTD));
	pcpu[0].x2apic = 0;
	wrmsr(MSR_APIC_BASE, (base & ~BASE_EN) | BASE_EXTD);
	results[13] = gp_count;
	gp_count = 0;
	wrmsr(MSR_APIC_BASE, base);
	results[12] = rdmsr(MSR_APIC_BASE);
	gp_expected = 0;
}

TEST_F_TIMEOUT(lapic, x2apic_msrs, 30)
{
	uint64_t *r = self->results;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_x2apic, 0, 0));
	RUN_DONE(&self->vm, &e);
	ASSERT_EQ(1u << 21, r[0] & (1u << 21)) TH_LOG("CPUID: no x2APIC");
	EXPECT_EQ(1, r[1]);
	EXPECT_EQ(0, r[2]);
	EXPECT_EQ(1, r[3]);	/* (0 >> 4) << 16 | 1 << (0 & 15) */
	EXPECT_EQ(2, r[4]);
	EXPECT_EQ(1, r[5]);
	EXPECT_EQ(1, r[6]);
	/*
	 * Reserved bits of TPR and a nonzero EOI: #GP on vmx-lite
	 * (docs/lapic.md). KVM 6.1 ignores both (TPR & 0xff, any EOI)
	 * where it emulates the MSRs (SVM); on VMX the TPR MSR goes to the
	 * CPU's x2APIC virtualization, which raises #GP for bits 63:8 (SDM
	 * 30.5), seen under Bochs.
	 */
	EXPECT_EQ(variant->kind == GVM_VMXL || !kvm_amd() ? 1 : 0, r[7]);
	EXPECT_EQ(variant->kind == GVM_VMXL ? 1 : 0, r[8]);
	EXPECT_EQ(1, r[9]);
	EXPECT_EQ(1, r[10]);
	EXPECT_EQ(1, r[11]);
	EXPECT_EQ(1, r[13]);
	EXPECT_EQ(APIC_GPA | BASE_EN | BASE_BSP, r[12]);
	EXPECT_EQ(variant->kind == GVM_KVM ? 0x01050014u : 0x00050014u, r[14]);
}

/*
 * A deadline centuries away from SET_LAPIC (one-shot with a count, and
 * TSC-deadline) is kept and never fires. It once made the module divide
 * by overflow converting it to nanoseconds on the 80 MHz TSC of the
 * Bochs lane: a kernel oops the ioctl fuzzer found.
 */
static void guest_far_deadline(uint64_t ticks)
{
	guest_setup_idt();
	apic_sw_enable();
	sti();
	for (;;) {
		GUEST_SYNC(1, 0);	/* the host sets the APIC here */
		spin_ticks(ticks);
		results[0] = pcpu[0].count[VEC_TIMER];
	}
}

TEST_F_TIMEOUT(lapic, far_deadline_never_fires, 30)
{
	static const struct { uint32_t lvtt; uint64_t ahead; } cases[] = {
		{ VEC_TIMER, ~0ull },
		{ VEC_TIMER | LVTT_DEADLINE, ~0ull },
		{ VEC_TIMER | LVTT_DEADLINE, 1ull << 63 },
		{ VEC_TIMER | LVTT_DEADLINE, 1ull << 40 },
	};
	struct vmxl_lapic_state ls;
	struct gvm_exit e;
	uint64_t tsc;

	BEGIN();
	VMXL_ONLY("the timer deadline is vmx-lite's GET/SET_LAPIC field");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_far_deadline,
					 5 * self->tsc_khz, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
		ASSERT_EQ(0, gvm_get_msr(&self->vm, 0, MSR_TSC, &tsc));
		*(uint32_t *)&ls.regs[APIC_LVTT] = cases[i].lvtt;
		*(uint32_t *)&ls.regs[APIC_TMICT] = 1;
		ls.timer_deadline = cases[i].ahead == ~0ull ? ~0ull :
				    tsc + cases[i].ahead;
		ASSERT_EQ(0, gvm_set_lapic(&self->vm, 0, &ls)) TH_LOG("case %zu", i);
		ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
		EXPECT_EQ(ls.timer_deadline, cases[i].ahead == ~0ull ? ~0ull :
			  tsc + cases[i].ahead) TH_LOG("case %zu", i);
		RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
		EXPECT_EQ(0, self->results[0]) TH_LOG("case %zu fired", i);
	}
}

/*
 * x2APIC IPIs between vCPUs through the ICR MSR (0x830): every vCPU in
 * x2APIC mode (ID = vCPU id, LDR = cluster id >> 4, bit id & 15), the
 * destination a 32-bit field. Every check is a guest assertion on the
 * receivers' interrupt counts.
 */
#define X2_ICR		MSR_X2APIC(APIC_ICR)
#define X2_BCAST	0xffffffffu

static void x2_ipi(uint32_t dest, uint32_t lo)
{
	wrmsr(X2_ICR, (uint64_t)dest << 32 | lo);
}

/* Counts of @vec on vCPUs 0, 1, 2 as bits 0, 1, 2 (each 0 or 1). */
static uint32_t got_mask(int vec, int nr)
{
	uint32_t m = 0;
	int i;

	spin_ticks(MS(2));
	for (i = 0; i < nr; i++) {
		GUEST_ASSERT(pcpu[i].count[vec] <= 1);
		m |= pcpu[i].count[vec] << i;
	}
	return m;
}

/* Wait for the vCPUs of @want to take @vec; the mask that did, none more. */
static uint32_t wait_mask(int vec, uint32_t want, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		if (want & (1u << i))
			WAIT(i, vec, 1);
	return got_mask(vec, nr);
}

static void guest_x2apic_ipis(uint64_t kind, uint64_t nr)
{
	uint32_t got;
	int i;

	guest_setup_idt();
	apic_sw_enable();
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | BASE_EXTD);
	pcpu[0].x2apic = 1;
	sti();
	wait_aps_ready(nr);
	for (i = 1; i < (int)nr; i++) {
		ap_do(i, OP_X2APIC, 0, 0);
		GUEST_ASSERT_EQ(ap_do(i, OP_RDMSR, MSR_X2APIC(APIC_ID), 0), i);
		GUEST_ASSERT_EQ(ap_do(i, OP_RDMSR, MSR_X2APIC(APIC_LDR), 0),
				1u << i);
	}

	GUEST_SYNC(201, 0);
	/* physical: the vCPU of that ID only; ICR reads back as written */
	x2_ipi(1, ICR_FIXED | 0x60);
	GUEST_ASSERT_EQ(rdmsr(X2_ICR), 1ull << 32 | ICR_FIXED | 0x60);
	GUEST_ASSERT_EQ(wait_mask(0x60, 0x2, nr), 0x2);
	x2_ipi(2, ICR_FIXED | 0x61);
	GUEST_ASSERT_EQ(wait_mask(0x61, 0x4, nr), 0x4);
	x2_ipi(0, ICR_FIXED | 0x62);
	GUEST_ASSERT_EQ(wait_mask(0x62, 0x1, nr), 0x1);
	/* 0xff is an ID like another in x2APIC mode, no broadcast; nor 7 */
	x2_ipi(0xff, ICR_FIXED | 0x63);
	x2_ipi(7, ICR_FIXED | 0x63);
	GUEST_ASSERT_EQ(got_mask(0x63, nr), 0);
	/* 0xffffffff: every vCPU, the sender too */
	x2_ipi(X2_BCAST, ICR_FIXED | 0x64);
	GUEST_ASSERT_EQ(wait_mask(0x64, 0x7, nr), 0x7);

	GUEST_SYNC(202, 0);
	/* logical: cluster 0 (IDs 0-15), members by LDR bit */
	x2_ipi(0x6, ICR_LOGICAL | ICR_FIXED | 0x65);
	GUEST_ASSERT_EQ(wait_mask(0x65, 0x6, nr), 0x6);
	x2_ipi(0x5, ICR_LOGICAL | ICR_FIXED | 0x66);
	GUEST_ASSERT_EQ(wait_mask(0x66, 0x5, nr), 0x5);
	x2_ipi(0x4, ICR_LOGICAL | ICR_FIXED | 0x67);
	GUEST_ASSERT_EQ(wait_mask(0x67, 0x4, nr), 0x4);
	/* cluster 1 with the same bits: nobody */
	x2_ipi(1u << 16 | 0x7, ICR_LOGICAL | ICR_FIXED | 0x68);
	GUEST_ASSERT_EQ(got_mask(0x68, nr), 0);
	x2_ipi(X2_BCAST, ICR_LOGICAL | ICR_FIXED | 0x69);
	GUEST_ASSERT_EQ(wait_mask(0x69, 0x7, nr), 0x7);

	GUEST_SYNC(203, 0);
	/* lowest priority to 1 and 2: exactly one (see the top) */
	x2_ipi(0x6, ICR_LOGICAL | ICR_LOWEST | 0x6a);
	spin_ticks(MS(20));
	got = got_mask(0x6a, nr);
	if (kind == GVM_VMXL)
		GUEST_ASSERT_EQ(got, 0x2);	/* the lowest-numbered */
	else
		GUEST_ASSERT(got == 0x2 || got == 0x4);

	GUEST_SYNC(204, 0);
	/* NMI, physical, to vCPU 2 */
	x2_ipi(2, ICR_NMI);
	GUEST_ASSERT_EQ(wait_mask(VEC_NMI, 0x4, nr), 0x4);
	/* shorthands: all but self, self (the destination ignored) */
	x2_ipi(0, ICR_OTHERS | ICR_FIXED | 0x6b);
	GUEST_ASSERT_EQ(wait_mask(0x6b, 0x6, nr), 0x6);
	x2_ipi(2, ICR_SELF | ICR_FIXED | 0x6c);
	GUEST_ASSERT_EQ(wait_mask(0x6c, 0x1, nr), 0x1);
	stop_aps(nr);
}

TEST_F_TIMEOUT(lapic, x2apic_ipis, 120)
{
	BEGIN();
	ASSERT_EQ(0, start_aps(&self->vm, NR_VCPUS, guest_ap));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_x2apic_ipis,
					 variant->kind, NR_VCPUS));
	RUN_PARALLEL(self, NR_VCPUS, 100000);
}

/*
 * Level-triggered fixed IPIs through ICR. vmx-lite follows the SDM for
 * the Pentium 4 and later (10.6.1: the trigger mode and level of ICR
 * only matter for INIT level de-assert; other IPIs are issued as edge,
 * asserted): the receiver's TMR bit stays clear, a "de-assert" fixed
 * IPI is delivered all the same, and the EOI stays in the kernel (no
 * VMXL_EXIT_EOI: par_ucalls fails any exit but a ucall). KVM keeps the
 * P6 behaviour: TMR set for a level IPI, a level de-assert dropped (its
 * split irqchip does not exit on that EOI either: no IOAPIC route).
 * results[8 * cpu + n]: TMR's word of vector 0x80 + n in its handler;
 * [32] vCPU 1's ISR word and [33] its TMR word after the EOIs; [34] how
 * many de-asserted IPIs came.
 */
#define VEC_LVL_IPI	0x80

static void level_ipi_hook(int cpu, uint64_t vec)
{
	if (vec >= VEC_LVL_IPI && vec < VEC_LVL_IPI + 3)
		results[8 * cpu + vec - VEC_LVL_IPI] =
			apic_read(APIC_TMR + 0x10 * (VEC_LVL_IPI >> 5));
}

static void guest_level_ipis(uint64_t nr)
{
	guest_setup_idt();
	apic_sw_enable();
	sti();
	irq_hook = level_ipi_hook;
	wait_aps_ready(nr);
	send_ipi(1, ICR_LEVEL | ICR_ASSERT | ICR_FIXED | VEC_LVL_IPI);
	GUEST_ASSERT_EQ(WAIT(1, VEC_LVL_IPI, 1), 1);
	GUEST_ASSERT_EQ(SETTLED(1, VEC_LVL_IPI), 1);
	send_ipi(1, ICR_FIXED | (VEC_LVL_IPI + 1));
	GUEST_ASSERT_EQ(WAIT(1, VEC_LVL_IPI + 1, 1), 1);
	send_ipi(1, ICR_LEVEL | ICR_FIXED | (VEC_LVL_IPI + 2));
	results[34] = SETTLED(1, VEC_LVL_IPI + 2);
	results[32] = ap_do(1, OP_READ, APIC_ISR + 0x10 * (VEC_LVL_IPI >> 5), 0);
	results[33] = ap_do(1, OP_READ, APIC_TMR + 0x10 * (VEC_LVL_IPI >> 5), 0);
	GUEST_ASSERT_EQ(pcpu[0].count[VEC_LVL_IPI], 0);
	irq_hook = NULL;
	stop_aps(nr);
}

TEST_F_TIMEOUT(lapic, level_ipi_tmr, 60)
{
	uint32_t bit = 1u << (VEC_LVL_IPI & 31);
	uint64_t *r = self->results;

	BEGIN();
	ASSERT_EQ(0, start_aps(&self->vm, 2, guest_ap));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_level_ipis, 2, 0));
	RUN_PARALLEL(self, 2, 60000);
	if (variant->kind == GVM_VMXL) {
		EXPECT_EQ(0, r[8] & bit) TH_LOG("a level IPI is edge");
		EXPECT_EQ(1, r[34]) TH_LOG("a de-asserted fixed IPI still goes");
		EXPECT_EQ(0, r[33] & (bit << 2));
	} else {
		EXPECT_EQ(bit, r[8] & bit) TH_LOG("KVM: TMR of a level IPI");
		EXPECT_EQ(0, r[34]) TH_LOG("KVM drops a level de-assert");
	}
	/* an edge IPI clears the vector's TMR bit; all EOI'd */
	EXPECT_EQ(0, r[9] & (bit << 1));
	EXPECT_EQ(0, r[32]);
	EXPECT_EQ(0, r[33] & (bit << 1));
}

/* ------------------------------------------------------------------ */
/* 8. MSIs from userspace: logical destinations, INIT                   */
/* ------------------------------------------------------------------ */

#define MSI_SIPI	60	/* results[]: a STARTUP vector vCPU 0 sends */
#define MSI_SIPI_DEST	61	/* and to which APIC ID */
#define MSI_NMI		(4u << 8)
#define MSI_INIT	(5u << 8)
#define MSI_LOGICAL	(1u << 2)

/*
 * Every vCPU: DFR and LDR flat (logical ID 1 << cpu) or, with @cluster,
 * cluster (cluster 1, member bit cpu), then at each SYNC takes what came
 * meanwhile with IF=1 for 1 ms. vCPU 0 sends the STARTUP results[]
 * asks for.
 */
static void guest_msi_target(uint64_t cluster)
{
	int cpu = guest_cpu();

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_DFR, cluster ? 0x0fffffff : 0xffffffff);
	apic_write(APIC_LDR, (cluster ? 0x10u | 1u << cpu : 1u << cpu) << 24);
	for (;;) {
		GUEST_SYNC(1, 0);
		if (cpu == 0 && results[MSI_SIPI]) {
			send_ipi(results[MSI_SIPI_DEST],
				 ICR_STARTUP | results[MSI_SIPI]);
			results[MSI_SIPI] = 0;
		}
		sti();
		spin_ticks(MS(1));
		cli();
	}
}

/* Run vCPU @cpu to its next SYNC; count the EOI exits of @vec on the way. */
static void msi_sync(struct __test_metadata *_metadata,
		     FIXTURE_DATA(lapic) *self, int cpu, int vec, int *eois)
{
	struct gvm_exit e;
	char b[400];

	for (;;) {
		ASSERT_EQ(0, run_ucall(&self->vm, cpu, &e));
		if (e.reason != GVM_EXIT_EOI)
			break;
		EXPECT_EQ(vec, e.data) TH_LOG("vCPU %d: EOI exit", cpu);
		eois[cpu]++;
	}
	ASSERT_EQ(GVM_EXIT_UCALL, e.reason)
		TH_LOG("vCPU %d: %s", cpu, gvm_exit_str(&e, b, sizeof(b)));
	ASSERT_EQ(UCALL_SYNC, e.uc.cmd)
		TH_LOG("vCPU %d: %s", cpu, gvm_ucall_str(&e.uc, b, sizeof(b)));
}

/* Start vCPUs 0 .. NR_VCPUS-1 in guest_msi_target, each to its first SYNC. */
static void msi_start(struct __test_metadata *_metadata,
		      FIXTURE_DATA(lapic) *self, bool cluster)
{
	int eois[NR_VCPUS] = { 0 }, i;

	for (i = 0; i < NR_VCPUS; i++) {
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, i, guest_msi_target,
						 cluster, 0));
		if (i)
			ASSERT_EQ(0, gvm_set_mp_state(&self->vm, i,
						      GVM_MP_RUNNABLE));
		msi_sync(_metadata, self, i, -1, eois);
	}
}

struct msi_case {
	uint32_t dest;		/* address bits 19:12 */
	uint32_t logical;	/* MSI_LOGICAL or 0 */
	uint32_t data;
	uint32_t want;		/* vCPUs that take it, bit per vCPU */
};

/*
 * Signal @c: the return value counts the APICs that took it (KVM too),
 * IRR (TMR for a level one) shows which, and each of them takes the
 * vector once when it runs, the others never. Lowest priority goes to
 * exactly one of c->want: on vmx-lite the lowest-numbered (docs/lapic.md,
 * docs/uapi.md), on KVM one chosen by its vector hashing.
 */
static void msi_case(struct __test_metadata *_metadata,
		     FIXTURE_DATA(lapic) *self, const struct msi_case *c)
{
	bool lowest = (c->data & 0x700) == ICR_LOWEST;
	bool nmi = (c->data & 0x700) == MSI_NMI;
	bool level = c->data & ICR_LEVEL;
	int vec = nmi ? VEC_NMI : (int)(c->data & 0xff);
	uint32_t w = (vec >> 5) * 0x10, bit = 1u << (vec & 31);
	uint32_t irr = 0, tmr = 0, got = 0, want = c->want;
	int eois[NR_VCPUS] = { 0 }, ret, i;
	uint64_t before[NR_VCPUS];
	struct vmxl_lapic_state ls;

	for (i = 0; i < NR_VCPUS; i++)
		before[i] = self->pcpu[i].count[vec];
	ret = gvm_signal_msi(&self->vm, APIC_GPA | c->dest << 12 | c->logical,
			     c->data);
	for (i = 0; i < NR_VCPUS; i++) {
		ASSERT_EQ(0, gvm_get_lapic(&self->vm, i, &ls));
		irr |= !!(*(uint32_t *)&ls.regs[APIC_IRR + w] & bit) << i;
		tmr |= !!(*(uint32_t *)&ls.regs[APIC_TMR + w] & bit) << i;
	}
	for (i = 0; i < NR_VCPUS; i++)
		msi_sync(_metadata, self, i, vec, eois);
	for (i = 0; i < NR_VCPUS; i++) {
		uint64_t n = self->pcpu[i].count[vec] - before[i];

		ASSERT_GE(1, n) TH_LOG("vector 0x%x: %lu on vCPU %d", vec,
				       (unsigned long)n, i);
		got |= n << i;
	}
	if (lowest) {
		EXPECT_EQ(1, ret);
		EXPECT_EQ(1, __builtin_popcount(got));
		EXPECT_EQ(got, got & want);
		if (self->vm.kind == GVM_VMXL)
			EXPECT_EQ(want & -want, got);
		want = got;
	} else {
		EXPECT_EQ(__builtin_popcount(want), ret);
	}
	EXPECT_EQ(want, got) TH_LOG("MSI 0x%x data 0x%x: taken by 0x%x, IRR 0x%x",
				    APIC_GPA | c->dest << 12 | c->logical,
				    c->data, got, irr);
	if (!nmi)
		EXPECT_EQ(want, irr) TH_LOG("data 0x%x", c->data);
	if (!nmi && level)
		EXPECT_EQ(want, tmr) TH_LOG("level: TMR");
	if (!nmi && !level)
		EXPECT_EQ(0, tmr) TH_LOG("edge: TMR clear");
	/* each EOI of a level vector comes out (vmx-lite: see the top) */
	for (i = 0; i < NR_VCPUS; i++)
		EXPECT_EQ(self->vm.kind == GVM_VMXL && level ?
			  !!(want & (1u << i)) : 0, eois[i])
			TH_LOG("EOI exits on vCPU %d", i);
}

#define MSI_LEVEL	(ICR_LEVEL | ICR_ASSERT)

/* Flat: logical IDs 0x01, 0x02, 0x04 for vCPUs 0, 1, 2. */
TEST_F_TIMEOUT(lapic, msi_logical_flat, 60)
{
	static const struct msi_case cases[] = {
		{ 0x06, MSI_LOGICAL, 0x70, 0x6 },
		{ 0x01, MSI_LOGICAL, 0x71, 0x1 },
		{ 0x08, MSI_LOGICAL, 0x72, 0x0 },	/* no such ID */
		{ 0xff, MSI_LOGICAL, 0x73, 0x7 },
		{ 0x02, 0, 0x74, 0x4 },			/* physical: ID 2 */
		{ 0x06, MSI_LOGICAL, ICR_LOWEST | 0x75, 0x6 },
		{ 0x05, MSI_LOGICAL, MSI_LEVEL | 0x76, 0x5 },
		{ 0x04, MSI_LOGICAL, MSI_NMI, 0x4 },
	};
	unsigned int i;

	BEGIN();
	msi_start(_metadata, self, false);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		msi_case(_metadata, self, &cases[i]);
}

/* Cluster: cluster 1, members 0x1, 0x2, 0x4 for vCPUs 0, 1, 2. */
TEST_F_TIMEOUT(lapic, msi_logical_cluster, 60)
{
	static const struct msi_case cases[] = {
		{ 0x16, MSI_LOGICAL, 0x78, 0x6 },
		{ 0x11, MSI_LOGICAL, 0x79, 0x1 },
		{ 0x26, MSI_LOGICAL, 0x7a, 0x0 },	/* cluster 2 */
		{ 0x1f, MSI_LOGICAL, 0x7b, 0x7 },
		{ 0xff, MSI_LOGICAL, 0x7c, 0x7 },	/* broadcast */
		{ 0x16, MSI_LOGICAL, ICR_LOWEST | 0x7d, 0x6 },
		{ 0x13, MSI_LOGICAL, MSI_LEVEL | 0x7e, 0x3 },
		{ 0x14, MSI_LOGICAL, MSI_NMI, 0x4 },
	};
	unsigned int i;

	BEGIN();
	msi_start(_metadata, self, true);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		msi_case(_metadata, self, &cases[i]);
}

/* Run AP @cpu until it OUTs to CODE16_PORT; what it wrote. */
static int run_code16_out(struct gvm *vm, int cpu, uint64_t *out)
{
	struct gvm_exit e;
	int ret;

	do {
		ret = gvm_run(vm, cpu, &e);
	} while (ret == -EAGAIN || ret == -EINTR);
	if (ret)
		return ret;
	if (e.reason != GVM_EXIT_IO || e.port != CODE16_PORT)
		return -EPROTO;
	*out = e.data;
	return 0;
}

/*
 * INIT by MSI (delivery mode 5) puts an AP back to wait for STARTUP: its
 * MP state says so, its APIC is reset (software-disabled: a fixed MSI
 * finds nobody, another INIT still counts), and a STARTUP IPI from vCPU
 * 0 starts it in real mode at the vector's page. STARTUP itself is no
 * MSI on vmx-lite: its uapi refuses delivery mode 6 (EINVAL,
 * docs/uapi.md); KVM_SIGNAL_MSI takes it.
 */
TEST_F_TIMEOUT(lapic, msi_init_then_startup, 60)
{
	int eois[NR_VCPUS] = { 0 };
	uint64_t cs = 0;
	uint32_t mp;

	BEGIN();
	memcpy(self->vm.mem + SIPI_VECTOR * 0x1000, g_sipi_start,
	       g_sipi_end - g_sipi_start);
	msi_start(_metadata, self, false);
	EXPECT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA | 2 << 12, MSI_INIT));
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 2, &mp));
	EXPECT_EQ(GVM_MP_INIT_RECEIVED, mp);
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 1, &mp));
	EXPECT_EQ(GVM_MP_RUNNABLE, mp);
	if (variant->kind == GVM_VMXL) {
		EXPECT_EQ(-EINVAL, gvm_signal_msi(&self->vm, APIC_GPA | 2 << 12,
						  ICR_STARTUP | SIPI_VECTOR));
		ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 2, &mp));
		EXPECT_EQ(GVM_MP_INIT_RECEIVED, mp);
	}
	/* the INIT reset its APIC: SVR 0xff */
	EXPECT_EQ(0, gvm_signal_msi(&self->vm, APIC_GPA | 2 << 12, 0x77));
	EXPECT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA | 2 << 12, MSI_INIT));
	/* by logical ID: vCPU 1's LDR still says 0x02 */
	EXPECT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA | 0x02 << 12 |
				    MSI_LOGICAL, 0x77));

	self->results[MSI_SIPI] = SIPI_VECTOR;
	self->results[MSI_SIPI_DEST] = 2;
	msi_sync(_metadata, self, 0, -1, eois);
	EXPECT_EQ(0, self->results[MSI_SIPI]) TH_LOG("vCPU 0 sent no STARTUP");
	ASSERT_EQ(0, run_code16_out(&self->vm, 2, &cs));
	EXPECT_EQ(SIPI_VECTOR << 8, cs & 0xffff);
	msi_sync(_metadata, self, 1, -1, eois);
	EXPECT_EQ(1, self->pcpu[1].count[0x77]);
}

/* ------------------------------------------------------------------ */
/* 9. Errors, SVR, APIC_BASE                                            */
/* ------------------------------------------------------------------ */

#define VEC_ERR		0x5e
#define ESR_SEND_ILL	0x20
#define ESR_RECV_ILL	0x40

/* Write ESR to latch the errors since the last write; what it reads then. */
static uint32_t esr_latch(void)
{
	if (pcpu[guest_cpu()].x2apic) {
		wrmsr(MSR_X2APIC(APIC_ESR), 0);
		return rdmsr(MSR_X2APIC(APIC_ESR));
	}
	apic_write(APIC_ESR, 0);
	return apic_read(APIC_ESR);
}

/*
 * ESR and the error LVT (SDM 10.5.3): results [0] ESR at reset, [1]
 * arrivals of VEC_ERR after a fixed IPI of vector 5, [2] ESR before
 * any write (the latched value: 0), [3] after the write, [4] read
 * again, [5] after the next write, [6] error interrupts after a lowest
 * priority IPI of vector 15, [7] its ESR; then the host pulses LINT0
 * (fixed, vector 5): [8] error interrupts, [9] ESR; a send and a
 * receive error before one write: [10] interrupts, [11] ESR; masked
 * error LVT: [12] interrupts, [13] ESR; [14] IRR's word of vectors 0-31.
 * In x2APIC mode: [15] after an ICR of vector 3, [16] error interrupts,
 * [17] #GPs of writing ESR nonzero, [18] ESR after SELF_IPI of vector 4,
 * [19] error interrupts, [20] the timer's LVT vector 6 expired: ESR,
 * [21] error interrupts, [22] IRR's word of vectors 0-31.
 */
static void guest_esr(void)
{
	guest_setup_idt();
	apic_sw_enable();
	sti();
	results[0] = apic_read(APIC_ESR);
	apic_write(APIC_LVTERR, VEC_ERR);
	send_ipi(0, ICR_FIXED | 5);
	results[1] = wait_count(0, VEC_ERR, 1, MS(100));
	results[2] = apic_read(APIC_ESR);
	results[3] = esr_latch();
	results[4] = apic_read(APIC_ESR);
	results[5] = esr_latch();
	send_ipi(0, ICR_LOWEST | 15);
	results[6] = wait_count(0, VEC_ERR, 2, MS(100));
	results[7] = esr_latch();

	apic_write(APIC_LVT0, 5);
	GUEST_SYNC(1, 0);		/* the host pulses LINT0 */
	results[8] = wait_count(0, VEC_ERR, 3, MS(100));
	results[9] = esr_latch();
	send_ipi(0, ICR_FIXED | 7);
	GUEST_SYNC(2, 0);		/* and again */
	results[10] = wait_count(0, VEC_ERR, 5, MS(100));
	results[11] = esr_latch();
	apic_write(APIC_LVTERR, LVT_MASKED | VEC_ERR);
	send_ipi(0, ICR_FIXED | 1);
	results[12] = SETTLED(0, VEC_ERR);
	results[13] = esr_latch();
	results[14] = apic_read(APIC_IRR);

	apic_write(APIC_LVTERR, VEC_ERR);
	cli();
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | BASE_EXTD);
	pcpu[0].x2apic = 1;
	sti();
	x2_ipi(0, ICR_FIXED | 3);
	results[15] = esr_latch();
	results[16] = wait_count(0, VEC_ERR, 6, MS(100));
	gp_expected = 1;
	wrmsr(MSR_X2APIC(APIC_ESR), ESR_SEND_ILL);
	results[17] = gp_count;
	gp_expected = 0;
	wrmsr(MSR_SELF_IPI, 4);
	results[18] = esr_latch();
	results[19] = wait_count(0, VEC_ERR, 7, MS(100));
	wrmsr(MSR_X2APIC(APIC_TDCR), 0xb);
	wrmsr(MSR_X2APIC(APIC_LVTT), 6);
	wrmsr(MSR_X2APIC(APIC_TMICT), 1000);
	results[21] = wait_count(0, VEC_ERR, 8, MS(100));
	results[20] = esr_latch();
	results[22] = rdmsr(MSR_X2APIC(APIC_IRR));
	cli();
}

static int lint_pulse(struct gvm *vm, int cpu, uint32_t pin)
{
	struct vmxl_lapic_lint p = { .pin = pin };

	return ioctl(vm->vcpu_fd[cpu], VMXL_LAPIC_LINT, &p);
}

/*
 * vmx-lite only: KVM 6.1 models no APIC error (its ESR reads 0, its
 * error LVT never fires), and has no LINT ioctl.
 */
TEST_F_TIMEOUT(lapic, esr_and_error_lvt, 30)
{
	uint64_t *r = self->results;
	struct gvm_exit e;

	BEGIN();
	VMXL_ONLY("KVM models no APIC errors");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_esr, 0, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	/* an illegal vector is not delivered: the pulse is not taken */
	EXPECT_EQ(0, lint_pulse(&self->vm, 0, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(0, lint_pulse(&self->vm, 0, 0));
	RUN_DONE(&self->vm, &e);
	EXPECT_EQ(0, r[0]);
	EXPECT_EQ(1, r[1]) TH_LOG("the error LVT's vector");
	EXPECT_EQ(0, r[2]) TH_LOG("ESR reads what the last write latched");
	EXPECT_EQ(ESR_SEND_ILL, r[3]);
	EXPECT_EQ(ESR_SEND_ILL, r[4]) TH_LOG("a read does not clear it");
	EXPECT_EQ(0, r[5]) TH_LOG("nothing since the last write");
	EXPECT_EQ(2, r[6]);
	EXPECT_EQ(ESR_SEND_ILL, r[7]);
	EXPECT_EQ(3, r[8]);
	EXPECT_EQ(ESR_RECV_ILL, r[9]);
	EXPECT_EQ(5, r[10]);
	EXPECT_EQ(ESR_SEND_ILL | ESR_RECV_ILL, r[11]) TH_LOG("errors accumulate");
	EXPECT_EQ(5, r[12]) TH_LOG("a masked error LVT raises nothing");
	EXPECT_EQ(ESR_SEND_ILL, r[13]) TH_LOG("but the error latches");
	EXPECT_EQ(0, r[14]) TH_LOG("IRR never holds vectors 0-15");
	EXPECT_EQ(ESR_SEND_ILL, r[15]);
	EXPECT_EQ(6, r[16]);
	EXPECT_EQ(1, r[17]) TH_LOG("x2APIC: ESR takes only 0");
	EXPECT_EQ(ESR_SEND_ILL, r[18]) TH_LOG("SELF_IPI of vector 4 (SDM 10.5.3)");
	EXPECT_EQ(7, r[19]);
	EXPECT_EQ(ESR_RECV_ILL, r[20]) TH_LOG("timer LVT with vector 6");
	EXPECT_EQ(8, r[21]);
	EXPECT_EQ(0, r[22]) TH_LOG("IRR never holds vectors 0-15");
}

/*
 * SVR: its vector, and software disable (SVR[8] clear, SDM 10.4.7.2):
 * every LVT masked, fixed interrupts dropped, a masked timer raising
 * nothing; enabling again leaves the LVTs masked. Spurious interrupts
 * are not modelled (docs/lapic.md says none). results [0] SVR at
 * reset, [1] after writing all ones, [2] after 0x1a5, [3..8] the LVTs
 * as written, [10..15] after the disable, [16] SVR, [17] IRR's word of
 * 0x90 after a self-IPI, [18] arrivals meanwhile, [20..25] the LVTs
 * enabled again, [26] arrivals, [27] the timer unmasked again.
 */
static const uint16_t lvt_off[6] = {
	APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR,
};

static void guest_svr(uint64_t count)
{
	int i;

	guest_setup_idt();
	results[0] = apic_read(APIC_SVR);
	apic_write(APIC_SVR, 0xffffffff);
	results[1] = apic_read(APIC_SVR);
	apic_write(APIC_SVR, 0x1a5);
	results[2] = apic_read(APIC_SVR);
	apic_write(APIC_TDCR, 0xb);
	for (i = 0; i < 6; i++)
		apic_write(lvt_off[i], i ? 0x30 + i : VEC_TIMER);
	for (i = 0; i < 6; i++)
		results[3 + i] = apic_read(lvt_off[i]);
	/* the timer runs out only after the disable, however slow the exits */
	apic_write(APIC_TMICT, count);
	apic_write(APIC_SVR, 0xa5);
	for (i = 0; i < 6; i++)
		results[10 + i] = apic_read(lvt_off[i]);
	results[16] = apic_read(APIC_SVR);
	apic_write(APIC_ICR, ICR_SELF | 0x90);
	results[17] = apic_read(APIC_IRR + 0x10 * (0x90 >> 5));
	sti();
	spin_ticks(2 * count_ticks(count));
	results[18] = pcpu[0].count[VEC_TIMER] + pcpu[0].count[0x90];
	apic_write(APIC_SVR, 0x1a5);
	for (i = 0; i < 6; i++)
		results[20 + i] = apic_read(lvt_off[i]);
	spin_ticks(MS(2));
	results[26] = pcpu[0].count[VEC_TIMER] + pcpu[0].count[0x90];
	apic_write(APIC_LVTT, VEC_TIMER);
	apic_write(APIC_TMICT, count);
	results[27] = wait_count(0, VEC_TIMER, 1, MS(1000));
	cli();
}

TEST_F_TIMEOUT(lapic, svr_software_disable, 30)
{
	uint64_t *r = self->results;
	struct gvm_exit e;
	int i;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_svr,
					 20 * ms_count(self), 0));
	RUN_DONE(&self->vm, &e);
	EXPECT_EQ(0xff, r[0]);
	/*
	 * vmx-lite keeps the vector and the enable bit: no focus processor
	 * checking (bit 9, reserved since the Pentium 4) nor EOI-broadcast
	 * suppression (bit 12; VER bit 24 clear). KVM keeps bit 9, and
	 * bit 12 as its VER offers directed EOI (see the top).
	 */
	EXPECT_EQ(variant->kind == GVM_VMXL ? 0x1ffu : 0x13ffu, r[1]);
	EXPECT_EQ(0x1a5, r[2]);
	for (i = 0; i < 6; i++) {
		uint32_t v = i ? 0x30 + i : VEC_TIMER;

		EXPECT_EQ(v, r[3 + i]) TH_LOG("LVT %d", i);
		EXPECT_EQ(v | LVT_MASKED, r[10 + i]) TH_LOG("LVT %d", i);
		EXPECT_EQ(v | LVT_MASKED, r[20 + i]) TH_LOG("LVT %d", i);
	}
	EXPECT_EQ(0xa5, r[16]);
	EXPECT_EQ(0, r[17]) TH_LOG("a fixed IPI to a disabled APIC");
	EXPECT_EQ(0, r[18]);
	EXPECT_EQ(0, r[26]);
	EXPECT_EQ(1, r[27]);
}

/*
 * IA32_APIC_BASE from the guest: reserved bits #GP on both (bits 0-7
 * and 9, above MAXPHYADDR). An enabled APIC at another base: #GP on
 * vmx-lite (docs/lapic.md: relocation is not modelled), accepted by
 * KVM (which only warns and inhibits APICv); a disabled APIC may name
 * any base, enabling it there is the same case. results [0..2] #GPs of
 * reserved bits 9, 0, 63, [3] APIC_BASE after them, [4] #GP of
 * relocating, [5] APIC_BASE after, [6] #GP of disabling at 0xfed00000,
 * [7] APIC_BASE after, [8] #GP of enabling there, [9] APIC_BASE after,
 * [10] #GP of going back, [11] APIC_BASE, [12] VER at 0xfee00000.
 */
#define OTHER_BASE	0xfed00000ull

static uint64_t base_write(uint64_t v)
{
	uint64_t before = gp_count;

	wrmsr(MSR_APIC_BASE, v);
	return gp_count - before;
}

static void guest_apic_base(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	guest_setup_idt();
	gp_expected = 1;
	results[0] = base_write(base | 1u << 9);
	results[1] = base_write(base | 1u);
	results[2] = base_write(base | 1ull << 63);
	results[3] = rdmsr(MSR_APIC_BASE);
	results[4] = base_write(OTHER_BASE | BASE_EN | BASE_BSP);
	results[5] = rdmsr(MSR_APIC_BASE);
	base_write(base);
	results[6] = base_write(OTHER_BASE | BASE_BSP);
	results[7] = rdmsr(MSR_APIC_BASE);
	results[8] = base_write(OTHER_BASE | BASE_EN | BASE_BSP);
	results[9] = rdmsr(MSR_APIC_BASE);
	results[10] = base_write(base);
	results[11] = rdmsr(MSR_APIC_BASE);
	gp_expected = 0;
	results[12] = apic_read(APIC_VER);
}

TEST_F_TIMEOUT(lapic, apic_base_reserved_and_relocation, 30)
{
	uint64_t *r = self->results, def = APIC_GPA | BASE_EN | BASE_BSP;
	struct vmxl_sregs s;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_apic_base, 0, 0));
	RUN_DONE(&self->vm, &e);
	EXPECT_EQ(1, r[0]);
	EXPECT_EQ(1, r[1]);
	EXPECT_EQ(1, r[2]);
	EXPECT_EQ(def, r[3]);
	EXPECT_EQ(0, r[6]);
	EXPECT_EQ(OTHER_BASE | BASE_BSP, r[7]);
	EXPECT_EQ(0, r[10]);
	EXPECT_EQ(def, r[11]);
	EXPECT_EQ(variant->kind == GVM_KVM ? 0x01050014u : 0x00050014u, r[12]);
	if (variant->kind == GVM_KVM) {
		EXPECT_EQ(0, r[4]);
		EXPECT_EQ(OTHER_BASE | BASE_EN | BASE_BSP, r[5]);
		EXPECT_EQ(0, r[8]);
		EXPECT_EQ(OTHER_BASE | BASE_EN | BASE_BSP, r[9]);
		return;
	}
	EXPECT_EQ(1, r[4]) TH_LOG("relocation: #GP");
	EXPECT_EQ(def, r[5]);
	EXPECT_EQ(1, r[8]) TH_LOG("enabling at another base: #GP");
	EXPECT_EQ(OTHER_BASE | BASE_BSP, r[9]);

	/* SET_SREGS checks apic_base as the guest's write (docs/uapi.md) */
	ASSERT_EQ(0, gvm_get_sregs(&self->vm, 0, &s));
	s.apic_base = OTHER_BASE | BASE_EN | BASE_BSP;
	EXPECT_EQ(-EINVAL, gvm_set_sregs(&self->vm, 0, &s));
	s.apic_base = def | 1u << 9;
	EXPECT_EQ(-EINVAL, gvm_set_sregs(&self->vm, 0, &s));
	s.apic_base = OTHER_BASE | BASE_BSP;
	EXPECT_EQ(0, gvm_set_sregs(&self->vm, 0, &s));
	ASSERT_EQ(0, gvm_get_sregs(&self->vm, 0, &s));
	EXPECT_EQ(OTHER_BASE | BASE_BSP, s.apic_base);
	s.apic_base = def;
	EXPECT_EQ(0, gvm_set_sregs(&self->vm, 0, &s));
}

/* ------------------------------------------------------------------ */
/* 10. HLT with IF=0: NMIs and signals                                  */
/* ------------------------------------------------------------------ */

extern const char nmi_hlt_after[], sig_hlt_after[];

/* Count NMIs that came at the instruction after vCPU 0's HLT. */
static void nmi_at_hlt_hook(int cpu, uint64_t vec)
{
	if (cpu == 0 && vec == VEC_NMI &&
	    pcpu[0].last_rip == (uint64_t)nmi_hlt_after)
		results[2]++;
}

/*
 * vCPU 0 halts with IF=0: only an NMI ends that HLT. results [0] it is
 * about to halt, [1] it is past the HLT, [2] NMIs that interrupted it
 * there, [3] all its NMIs, [4] RFLAGS after, [5] NMIs vCPU 1 sent.
 */
static void guest_hlt_nmi(void)
{
	uint64_t rflags;

	guest_setup_idt();
	apic_sw_enable();
	irq_hook = nmi_at_hlt_hook;
	cli();
	results[0] = 1;
	asm volatile("hlt\n"
		     ".globl nmi_hlt_after\n"
		     "nmi_hlt_after:" : : : "memory");
	results[1] = 1;
	asm volatile("pushf; pop %0" : "=r"(rflags));
	results[3] = pcpu[0].count[VEC_NMI];
	results[4] = rflags;
	irq_hook = NULL;
}

/*
 * vCPU 1: once vCPU 0 said it halts, an NMI IPI every 20 ms until it is
 * past its HLT (one sent before the HLT would come too early, and the
 * next wakes it).
 */
static void guest_nmi_sender(void)
{
	uint64_t t0 = rdtsc();

	guest_setup_idt();
	apic_sw_enable();
	/*
	 * PAUSE: on the vmx lane's one CPU, KVM's vCPU 0 needs this thread
	 * to give the CPU up before it can get to its HLT (CI saw vCPU 1
	 * spin 10 s of guest time here, vCPU 0 halting only after).
	 */
	while (!*(volatile uint64_t *)&results[0]) {
		asm volatile("pause");
		GUEST_ASSERT(rdtsc() - t0 < MS(20000));
	}
	while (!*(volatile uint64_t *)&results[1]) {
		spin_ticks(MS(20));
		if (*(volatile uint64_t *)&results[1])
			break;
		send_ipi(0, ICR_NMI);
		results[5]++;
		GUEST_ASSERT(rdtsc() - t0 < MS(30000));
	}
}

TEST_F_TIMEOUT(lapic, hlt_if0_nmi_ipi, 60)
{
	uint64_t *r = self->results;

	BEGIN();
	ASSERT_EQ(0, start_aps(&self->vm, 2, guest_nmi_sender));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_hlt_nmi, 0, 0));
	/* the HLT never comes out to us (par_ucalls fails any exit) */
	RUN_PARALLEL(self, 2, 40000);
	EXPECT_EQ(1, r[1]);
	EXPECT_LE(1, r[2]) TH_LOG("an NMI ended the HLT, after it");
	EXPECT_LE(r[2], r[3]);
	EXPECT_GE(r[5], r[3]);
	EXPECT_EQ(0, r[4] & (1u << 9)) TH_LOG("IF still clear");
	fprintf(stderr, "# %lu NMIs sent, %lu taken, %lu at the HLT\n",
		(unsigned long)r[5], (unsigned long)r[3], (unsigned long)r[2]);
}

/*
 * Twice: halt with IF=0 and nothing to wake it, then report the NMIs
 * and where the last one came. results[0] how far it got.
 */
static void guest_hlt_forever(void)
{
	int i;

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_LVT1, ICR_NMI);		/* LINT1: NMI */
	cli();
	for (i = 0; i < 2; i++) {
		GUEST_SYNC(1, i);
		asm volatile("hlt\n"
			     ".globl sig_hlt_after\n"
			     "sig_hlt_after:" : : : "memory");
		GUEST_SYNC(2, pcpu[0].count[VEC_NMI]);
		GUEST_SYNC(3, pcpu[0].last_rip);
	}
}

static void sig_noop(int sig)
{
	(void)sig;
}

/* Signals the thread that runs the vCPU until it is back, 1 s apart. */
struct kicker {
	pthread_t target;
	volatile int back;
	struct timespec sent;	/* the last one */
	int nsent;
};

static void *kicker_fn(void *p)
{
	struct kicker *k = p;
	int i;

	usleep(100000);
	while (!k->back) {
		clock_gettime(CLOCK_MONOTONIC, &k->sent);
		k->nsent++;
		pthread_kill(k->target, SIGUSR1);
		for (i = 0; i < 100 && !k->back; i++)
			usleep(10000);
	}
	return NULL;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/*
 * RUN vCPU 0, halted with nothing to wake it, while a signal comes 100 ms
 * later: RUN gives EINTR with VMXL_EXIT_INTR (KVM_EXIT_INTR), soon after
 * the signal; the vCPU still halts, past its HLT.
 */
static void run_until_signal(struct __test_metadata *_metadata,
			     FIXTURE_DATA(lapic) *self)
{
	struct kicker k = { .target = pthread_self() };
	struct timespec back;
	struct vmxl_regs regs;
	struct gvm_exit e;
	pthread_t thread;
	uint32_t reason, mp;
	int ret;

	ASSERT_EQ(0, pthread_create(&thread, NULL, kicker_fn, &k));
	ret = gvm_run(&self->vm, 0, &e);
	clock_gettime(CLOCK_MONOTONIC, &back);
	k.back = 1;
	pthread_join(thread, NULL);
	reason = self->vm.kind == GVM_KVM ?
		 ((struct kvm_run *)self->vm.run[0])->exit_reason :
		 ((struct vmxl_run *)self->vm.run[0])->exit_reason;
	ASSERT_EQ(-EINTR, ret) TH_LOG("RUN: %d", ret);
	EXPECT_EQ(self->vm.kind == GVM_KVM ? KVM_EXIT_INTR : VMXL_EXIT_INTR,
		  reason);
	ASSERT_LE(1, k.nsent);
	EXPECT_GT(1000000000, ts_ns(&back) - ts_ns(&k.sent))
		TH_LOG("RUN came back %ld ms after the signal",
		       (long)((ts_ns(&back) - ts_ns(&k.sent)) / 1000000));
	if (k.nsent > 1)
		fprintf(stderr, "# %d signals before RUN came back\n", k.nsent);
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 0, &mp));
	EXPECT_EQ(GVM_MP_HALTED, mp);
	ASSERT_EQ(0, gvm_get_regs(&self->vm, 0, &regs));
	EXPECT_EQ((uint64_t)sig_hlt_after, regs.rip);
}

/*
 * A signal ends RUN of a vCPU halted in the kernel, and RUN again goes
 * on halting (a second signal ends that one too); then an NMI wakes it
 * and its handler runs after the HLT: by MSI (delivery mode NMI), then
 * on the second round by the LINT1 pin (VMXL_LAPIC_LINT; KVM, whose
 * userspace drives LINT1 with KVM_NMI: that).
 */
TEST_F_TIMEOUT(lapic, hlt_signal_then_nmi, 60)
{
	struct sigaction sa = { .sa_handler = sig_noop }, old;
	struct gvm_exit e;

	BEGIN();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));	/* no SA_RESTART */
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_hlt_forever, 0, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(0, e.uc.args[1]);
	run_until_signal(_metadata, self);
	run_until_signal(_metadata, self);
	EXPECT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA, MSI_NMI));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(2, e.uc.args[0]);
	EXPECT_EQ(1, e.uc.args[1]) TH_LOG("the NMI's handler ran");
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ((uint64_t)sig_hlt_after, e.uc.args[1]) TH_LOG("at the HLT");

	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(1, e.uc.args[1]);
	run_until_signal(_metadata, self);
	if (variant->kind == GVM_VMXL) {
		EXPECT_EQ(1, lint_pulse(&self->vm, 0, 1));
	} else {
		EXPECT_EQ(0, ioctl(self->vm.vcpu_fd[0], KVM_NMI, 0));
	}
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(2, e.uc.args[1]) TH_LOG("the LINT1 NMI's handler ran");
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ((uint64_t)sig_hlt_after, e.uc.args[1]);
	RUN_TO(&self->vm, 0, &e, UCALL_DONE);
	sigaction(SIGUSR1, &old, NULL);
}

/* ------------------------------------------------------------------ */
/* 11. TSC-deadline mode saved and restored                             */
/* ------------------------------------------------------------------ */

/*
 * Arm a TSC deadline @ahead ticks on, report it, and after the host
 * moved the VM take what comes within @ahead and 2 * @ahead more:
 * results [0] the deadline, [1] arrivals, [2] the first's TSC, [3]
 * IA32_TSC_DEADLINE after. Reports IA32_TSC_DEADLINE as read back and
 * the TSC just after that read.
 */
static void guest_deadline_saved(uint64_t ahead)
{
	uint64_t d, msr;

	guest_setup_idt();
	apic_sw_enable();
	apic_write(APIC_LVTT, VEC_TIMER | LVTT_DEADLINE);
	d = rdtsc() + ahead;
	wrmsr(MSR_TSC_DEADLINE, d);
	results[0] = d;
	msr = rdmsr(MSR_TSC_DEADLINE);
	guest_ucall(UCALL_SYNC, 1, msr, rdtsc(), 0, 0);
	sti();
	wait_count(0, VEC_TIMER, 1, MS(2000) + 2 * ahead);
	spin_ticks(2 * ahead);
	cli();
	results[1] = pcpu[0].count[VEC_TIMER];
	results[2] = pcpu[0].tsc[0];
	results[3] = rdmsr(MSR_TSC_DEADLINE);
}

/*
 * Saved while armed, restored in a new VM: vmx-lite's blob carries the
 * deadline exactly (timer_deadline, in guest TSC); KVM's has no field
 * for it, so its userspace saves IA32_TSC_DEADLINE with the MSRs and
 * sets it after KVM_SET_LAPIC, as QEMU does. The interrupt comes once,
 * never before the deadline in guest TSC (vmx-lite: not at all early;
 * KVM: within EARLY_SLACK, its hrtimer runs on host time).
 */
TEST_F_TIMEOUT(lapic, save_restore_tsc_deadline, 60)
{
	uint64_t P = 50 * self->tsc_khz, d, msr = 0;
	struct vmxl_lapic_state ls;
	struct gvm_exit e;
	int64_t shift;
	uint64_t *r;

	BEGIN();
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_deadline_saved,
					 P, 0));
	ASSERT_EQ(0, start_far_tsc(&self->vm));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	d = self->results[0];
	EXPECT_EQ(d, e.uc.args[1]);
	if (variant->kind == GVM_KVM)
		ASSERT_EQ(0, gvm_get_msr(&self->vm, 0, MSR_TSC_DEADLINE, &msr));
	move_vm(_metadata, self, variant->kind, &ls, &shift);
	EXPECT_EQ(VEC_TIMER | LVTT_DEADLINE, *(uint32_t *)&ls.regs[APIC_LVTT]);
	if (variant->kind == GVM_VMXL) {
		EXPECT_EQ(d, ls.timer_deadline);
	} else {
		EXPECT_EQ(d, msr);
		ASSERT_EQ(0, gvm_set_msr(&self->vm, 0, MSR_TSC_DEADLINE, msr));
	}
	RUN_DONE(&self->vm, &e);
	r = self->results;
	EXPECT_EQ(1, r[1]) TH_LOG("the deadline's interrupt, exactly once");
	if (variant->kind == GVM_VMXL) {
		EXPECT_LE(d, r[2]) TH_LOG("early by %ld ticks", (long)(d - r[2]));
	} else {
		EXPECT_LE(d - EARLY_SLACK(P), r[2])
			TH_LOG("early by %ld ticks", (long)(d - r[2]));
	}
	EXPECT_GE(d + LATE_SLACK(self->tsc_khz), r[2]);
	EXPECT_EQ(0, r[3]) TH_LOG("IA32_TSC_DEADLINE reads 0 once fired");
}

/*
 * The same VM, its guest TSC set back 200 ms by VMXL_SET_CLOCK while a
 * deadline 50 ms ahead is armed, then the blob set again: the deadline
 * stays in guest TSC (docs/uapi.md), so the interrupt waits for the
 * guest TSC to reach it, about 250 ms on, once.
 */
TEST_F_TIMEOUT(lapic, tsc_deadline_follows_set_clock, 60)
{
	uint64_t P = 50 * self->tsc_khz, back = 200 * self->tsc_khz, d, tsc;
	struct vmxl_lapic_state ls;
	struct vmxl_clock c;
	struct gvm_exit e;
	uint64_t *r = self->results;

	BEGIN();
	VMXL_ONLY("VMXL_SET_CLOCK is vmx-lite's");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_deadline_saved,
					 P, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	d = r[0];
	ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
	EXPECT_EQ(d, ls.timer_deadline);
	/* every vCPU's TSC to vCPU 0's, 200 ms back */
	ASSERT_EQ(0, gvm_get_msr(&self->vm, 0, MSR_TSC, &tsc));
	ASSERT_LT(back, tsc);
	memset(&c, 0, sizeof(c));
	c.tsc = tsc - back;
	ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_SET_CLOCK, &c));
	ASSERT_EQ(0, gvm_set_lapic(&self->vm, 0, &ls));
	ASSERT_EQ(0, gvm_get_lapic(&self->vm, 0, &ls));
	EXPECT_EQ(d, ls.timer_deadline);
	RUN_DONE(&self->vm, &e);
	EXPECT_EQ(1, r[1]) TH_LOG("exactly once");
	EXPECT_LE(d, r[2]) TH_LOG("early by %ld ticks", (long)(d - r[2]));
	EXPECT_GE(d + LATE_SLACK(self->tsc_khz), r[2]);
	EXPECT_EQ(0, r[3]);
}

/* ------------------------------------------------------------------ */
/* 12. Snapshot files: halted, an IPI in IRR, a TSC deadline about due */
/* ------------------------------------------------------------------ */

/*
 * The VM saved into a snapshot file as vmxctl saves it (the snapshot
 * library's snap_capture() and snap_write(), vmstate_get_os()), and the
 * file restored into a new VM as `vmxctl run --restore` restores it
 * (snap_open_chain(), snap_read_memory(), CPUID, sregs, MSRs, FPU and
 * registers, then vmstate_restore_os(): the clock, the APICs, debug
 * registers, events, MP states). vmx-lite only: the file holds its
 * ioctls' state.
 */

/* The MSRs vmxctl saves (vmxctl_vcpu_state.c) that these guests use. */
static const uint32_t snap_msrs[] = {
	0xc0000080,				/* EFER */
	0x277,					/* PAT */
	MSR_TSC,
	0x174, 0x175, 0x176,			/* SYSENTER_CS/ESP/EIP */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR.. SFMASK */
	0xc0000100, 0xc0000101, 0xc0000102,	/* FS/GS/KERNEL_GS_BASE */
	MSR_APIC_BASE,
};

/* Each vCPU's and the VM's state, every page: @path, a full snapshot. */
static void save_file(struct __test_metadata *_metadata, struct gvm *vm,
		      const char *path, struct vmxl_clock *clock)
{
	static struct snap_vcpu v[NR_VCPUS];
	struct snap_slot slot = {
		.slot = 0, .gpa = 0, .size = GVM_MEM_SIZE, .host = vm->mem,
	};
	struct snap_capture cap = { 0 };
	struct snap_machine m = {
		.vm_flags = VMXL_VM_LAPIC, .flags = SNAP_MACHINE_F_CLOCK,
	};
	struct snap_write_stats st;
	struct snap_err err = { 0 };
	const char *what = "";
	uint32_t n;

	memset(v, 0, sizeof(v));
	for (int i = 0; i < NR_VCPUS; i++) {
		int fd = vm->vcpu_fd[i];

		ASSERT_EQ(0, gvm_settle(vm, i));
		v[i].id = i;
		ASSERT_EQ(0, vmxlite_get_regs(fd, &v[i].regs));
		ASSERT_EQ(0, vmxlite_get_sregs(fd, &v[i].sregs));
		ASSERT_EQ(0, vmxlite_get_fpu(fd, &v[i].fpu));
		for (n = 0; n < ARRAY_SIZE(snap_msrs); n++)
			v[i].msrs[n].index = snap_msrs[n];
		ASSERT_EQ((int)n, vmxlite_get_msrs(fd, v[i].msrs, n));
		v[i].nr_msrs = n;
		n = SNAP_MAX_CPUID;
		ASSERT_EQ(0, vmxlite_get_cpuid(fd, v[i].cpuid, &n));
		v[i].nr_cpuid = n;
		ASSERT_EQ(0, vmstate_get_os(fd, true, &v[i], &what))
			TH_LOG("vCPU %d: %s", i, what);
	}
	/* last, as vmxctl: the TSC the restored vCPUs go on from */
	ASSERT_EQ(0, vmxlite_get_clock(vm->vm_fd, &m.clock));
	*clock = m.clock;
	ASSERT_EQ(0, snap_capture(&cap, &slot, 1, path, &err)) TH_LOG("%s", err.msg);
	{
		struct snap_write_params p = {
			.path = path, .slots = cap.slots, .nr_slots = 1,
			.machine = &m, .vcpus = v, .nr_vcpus = NR_VCPUS,
			.threads = 2, .no_fsync = true,
		};
		int ret = snap_write(&p, &st, &err);

		snap_capture_free(&cap);
		ASSERT_EQ(0, ret) TH_LOG("%s", err.msg);
	}
	fprintf(stderr, "# %s: %lu bytes, %lu of %lu pages with data\n", path,
		(unsigned long)st.bytes, (unsigned long)st.pages_data,
		(unsigned long)st.pages_total);
}

/*
 * The VM of self->vm gone, @path restored into a new one (self->vm);
 * the file's vCPU state in *@saved (freed by the caller).
 */
static void restore_file(struct __test_metadata *_metadata,
			 FIXTURE_DATA(lapic) *self, const char *path,
			 struct snap_vcpu **saved)
{
	struct snap_reader **chain = NULL;
	const struct snap_info *in;
	struct snap_err err = { 0 };
	struct snap_slot slot;
	const char *what = "";
	unsigned int len = 0;
	int cpu = 0, ret;

	*saved = NULL;
	gvm_destroy(&self->vm);
	ASSERT_EQ(0, snap_open_chain(path, &chain, &len, &err)) TH_LOG("%s", err.msg);
	in = snap_get_info(chain[len - 1]);
	ASSERT_EQ(1, len);
	ASSERT_EQ(NR_VCPUS, in->nr_vcpus);
	ASSERT_EQ(1, in->nr_slots);
	ASSERT_EQ(GVM_MEM_SIZE, in->slots[0].size);
	*saved = calloc(NR_VCPUS, sizeof(**saved));
	ASSERT_NE(NULL, *saved);
	memcpy(*saved, in->vcpus, NR_VCPUS * sizeof(**saved));
	ASSERT_EQ(0, gvm_create_flags(&self->vm, GVM_VMXL, NR_VCPUS, GVM_LAPIC));
	slot = in->slots[0];
	slot.host = self->vm.mem;
	ret = snap_read_memory(chain[0], &slot, &err);
	ASSERT_EQ(0, ret) TH_LOG("%s", err.msg);
	/* vmxctl_set_vcpu_state()'s order */
	for (int i = 0; i < NR_VCPUS; i++) {
		const struct snap_vcpu *v = &in->vcpus[i];
		int fd = self->vm.vcpu_fd[i];

		ASSERT_EQ(0, vmxlite_set_cpuid(fd, v->cpuid, v->nr_cpuid));
		ASSERT_EQ(0, vmxlite_set_sregs(fd, &v->sregs));
		ASSERT_EQ((int)v->nr_msrs, vmxlite_set_msrs(fd, v->msrs, v->nr_msrs));
		ASSERT_EQ(0, vmxlite_set_fpu(fd, &v->fpu));
		ASSERT_EQ(0, vmxlite_set_regs(fd, &v->regs));
	}
	ret = vmstate_restore_os(self->vm.vm_fd, self->vm.vcpu_fd, &in->machine,
				 in->vcpus, in->nr_vcpus, &cpu, &what);
	snap_close_chain(chain, len);
	ASSERT_EQ(0, ret) TH_LOG("vCPU %d: %s", cpu, what);
	self->params = gvm_image_ptr(&self->vm, &params);
	self->pcpu = gvm_image_ptr(&self->vm, pcpu);
	self->results = gvm_image_ptr(&self->vm, results);
}

/*
 * The restored guest's TSC goes on from the saved clock: not back, and
 * not on by the time the file took (it waits in the file, unseen).
 */
static void check_restored_tsc(struct __test_metadata *_metadata,
			       FIXTURE_DATA(lapic) *self,
			       const struct vmxl_clock *saved)
{
	uint64_t tsc;

	ASSERT_EQ(0, gvm_get_msr(&self->vm, 0, MSR_TSC, &tsc));
	fprintf(stderr, "# restored TSC %lu ticks after the saved clock\n",
		(unsigned long)(tsc - saved->tsc));
	EXPECT_LE(saved->tsc, tsc);
	EXPECT_GT(saved->tsc + self->tsc_khz * 1000, tsc);
}

/* A snapshot file in a directory of its own; removed by snap_dir_rm(). */
static void snap_dir(struct __test_metadata *_metadata, char *dir, size_t len,
		     char *path, size_t plen)
{
	snprintf(dir, len, "/tmp/test_lapic.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, plen, "%s/vm.snap", dir);
}

static void snap_dir_rm(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

/* Halted with IF=1 and no timer: results [1] VEC_SAVED arrivals after. */
static void guest_halted_msi(void)
{
	guest_setup_idt();
	apic_sw_enable();
	asm volatile("sti; hlt; cli" : : : "memory");
	results[1] = pcpu[0].count[VEC_SAVED];
	results[2] = pcpu[0].arrivals;
}

/*
 * Saved while halted (kicked out of RUN, as vmxctl pauses it): the file
 * says HALTED, and the restored vCPU waits in HLT, with nothing to wake
 * it, until an MSI comes; then it takes that one interrupt and runs on.
 */
TEST_F_TIMEOUT(lapic, snapshot_file_halted, 60)
{
	struct snap_vcpu *saved = NULL;
	char dir[64], path[96], b[400];
	struct vmxl_clock clock;
	struct gvm_exit e;
	uint32_t mp;
	int ret;

	BEGIN();
	VMXL_ONLY("a snapshot file holds vmx-lite's state");
	snap_dir(_metadata, dir, sizeof(dir), path, sizeof(path));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_halted_msi, 0, 0));
	ret = run_until_halted(&self->vm, &e);
	if (ret)
		log_vcpu(&self->vm, 0);
	ASSERT_EQ(0, ret) TH_LOG("%s", gvm_exit_str(&e, b, sizeof(b)));
	save_file(_metadata, &self->vm, path, &clock);
	restore_file(_metadata, self, path, &saved);
	snap_dir_rm(dir, path);
	ASSERT_NE(NULL, saved);
	EXPECT_EQ(GVM_MP_HALTED, saved[0].mp.state);
	EXPECT_EQ(GVM_MP_INIT_RECEIVED, saved[1].mp.state);
	free(saved);
	check_restored_tsc(_metadata, self, &clock);
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 0, &mp));
	EXPECT_EQ(GVM_MP_HALTED, mp);
	/* it stays in HLT: 100 ms without an exit */
	memset(&e, 0, sizeof(e));
	ASSERT_EQ(-ETIMEDOUT, gvm_run_parallel(&self->vm, 1, par_no_exit, &e,
					       100, NULL))
		TH_LOG("woke without an interrupt: %s", gvm_exit_str(&e, b, sizeof(b)));
	ASSERT_EQ(0, gvm_get_mp_state(&self->vm, 0, &mp));
	EXPECT_EQ(GVM_MP_HALTED, mp);
	EXPECT_EQ(0, self->pcpu[0].arrivals);
	/* an MSI to APIC 0 wakes it */
	ASSERT_EQ(1, gvm_signal_msi(&self->vm, APIC_GPA, VEC_SAVED));
	RUN_DONE(&self->vm, &e);
	EXPECT_EQ(1, self->results[1]) TH_LOG("the MSI, once");
	EXPECT_EQ(1, self->results[2]) TH_LOG("and nothing else");
}

/*
 * A self-IPI sent with IF=0 waits in IRR; saved there, restored from the
 * file, it is taken exactly once when the guest sets IF.
 */
TEST_F_TIMEOUT(lapic, snapshot_file_ipi_in_irr, 60)
{
	uint32_t bit = 1u << (VEC_SAVED & 31), word = 0x10 * (VEC_SAVED >> 5);
	struct snap_vcpu *saved = NULL;
	char dir[64], path[96];
	struct vmxl_clock clock;
	struct gvm_exit e;
	uint64_t *r;

	BEGIN();
	VMXL_ONLY("a snapshot file holds vmx-lite's state");
	snap_dir(_metadata, dir, sizeof(dir), path, sizeof(path));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_saved, 0,
					 10 * self->tsc_khz));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	ASSERT_EQ(bit, e.uc.args[1] & bit) TH_LOG("the IPI waits in IRR");
	save_file(_metadata, &self->vm, path, &clock);
	restore_file(_metadata, self, path, &saved);
	snap_dir_rm(dir, path);
	ASSERT_NE(NULL, saved);
	EXPECT_EQ(bit, *(uint32_t *)&saved[0].lapic.regs[APIC_IRR + word] & bit);
	EXPECT_EQ(0, *(uint32_t *)&saved[0].lapic.regs[APIC_ISR + word]);
	free(saved);
	check_restored_tsc(_metadata, self, &clock);
	RUN_DONE(&self->vm, &e);
	r = self->results;
	EXPECT_EQ(1, r[3]) TH_LOG("the saved IPI, exactly once");
	EXPECT_EQ(0, r[1]);
}

/*
 * A TSC deadline 3 ms ahead when the guest reports it: saved and
 * restored from the file it fires once, not before the deadline in the
 * restored guest TSC (which goes on from the saved clock), and not lost
 * when it was already due by the time the state was read (it is in IRR
 * then, or fires at the first entry).
 */
TEST_F_TIMEOUT(lapic, snapshot_file_tsc_deadline, 60)
{
	uint64_t P = 3 * self->tsc_khz, d;
	struct snap_vcpu *saved = NULL;
	char dir[64], path[96];
	struct vmxl_clock clock;
	struct gvm_exit e;
	uint64_t *r;

	BEGIN();
	VMXL_ONLY("a snapshot file holds vmx-lite's state");
	snap_dir(_metadata, dir, sizeof(dir), path, sizeof(path));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_deadline_saved,
					 P, 0));
	RUN_TO(&self->vm, 0, &e, UCALL_SYNC);
	d = self->results[0];
	/*
	 * 3 ms can pass between the guest's WRMSR and its read back on a
	 * slow lane; a deadline that fired reads 0 (SDM 10.5.4.1).
	 */
	if (e.uc.args[1] != d) {
		EXPECT_EQ(0, e.uc.args[1]);
		EXPECT_LE(d, e.uc.args[2]) TH_LOG("read 0 %ld ticks before the deadline",
						  (long)(d - e.uc.args[2]));
	}
	save_file(_metadata, &self->vm, path, &clock);
	fprintf(stderr, "# deadline %ld ticks after the saved clock (%lu per ms)\n",
		(long)(d - clock.tsc), (unsigned long)self->tsc_khz);
	restore_file(_metadata, self, path, &saved);
	snap_dir_rm(dir, path);
	ASSERT_NE(NULL, saved);
	EXPECT_EQ(VEC_TIMER | LVTT_DEADLINE,
		  *(uint32_t *)&saved[0].lapic.regs[APIC_LVTT]);
	/* armed in the file, or (already due) fired into IRR */
	if (saved[0].lapic.timer_deadline) {
		EXPECT_EQ(d, saved[0].lapic.timer_deadline);
	} else {
		EXPECT_LE(d, clock.tsc);
		EXPECT_NE(0, *(uint32_t *)&saved[0].lapic.regs[APIC_IRR + 0x10 * (VEC_TIMER >> 5)] &
			  (1u << (VEC_TIMER & 31)));
	}
	free(saved);
	check_restored_tsc(_metadata, self, &clock);
	RUN_DONE(&self->vm, &e);
	r = self->results;
	EXPECT_EQ(1, r[1]) TH_LOG("the deadline's interrupt, exactly once");
	EXPECT_LE(d, r[2]) TH_LOG("early by %ld ticks", (long)(d - r[2]));
	EXPECT_GE(d + LATE_SLACK(self->tsc_khz), r[2]);
	EXPECT_EQ(0, r[3]) TH_LOG("IA32_TSC_DEADLINE reads 0 once fired");
}

TEST_HARNESS_MAIN
