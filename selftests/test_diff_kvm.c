// SPDX-License-Identifier: GPL-2.0
/*
 * Differential tests: the same guest runs on KVM and on vmx-lite in the
 * same boot, with the same device model answering its I/O and MMIO.
 * Every exit, the final registers, control registers and memory must be
 * identical. Differences that are by design are normalized here, each
 * with its reason:
 *  - KVM reports a REP string I/O as one exit with a count; vmx-lite as
 *    one exit per element. These guests use no string I/O.
 *  - KVM handles VMMCALL itself; vmx-lite returns it to userspace. These
 *    guests make no hypercall.
 *  - After SHUTDOWN the state the CPU saved is undefined (AMD APM vol. 2,
 *    15.11): KVM resets the vCPU, vmx-lite leaves it for userspace to
 *    set. Only memory is compared after a shutdown.
 *  - The copy of this binary's image in guest memory holds a snapshot of
 *    the host process's data, which moves on between the two runs; these
 *    guests write no globals, so the image is left out of the comparison.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"

#define MMIO_BASE	0xd0000000ULL	/* no RAM there: every access exits */
#define MAX_TRACE	512
#define CMP_PAGES	((int)(GVM_IMAGE_GPA / 4096))	/* RAM below the image */
#define RUN_SECONDS	20	/* a guest stuck without exits: SIGALRM */

struct trace {
	int n;
	struct gvm_exit exits[MAX_TRACE];
	struct vmxl_regs regs;
	struct vmxl_sregs sregs;
	uint8_t *mem;		/* guest RAM below the image at the end (malloc) */
};

static void on_alarm(int sig)
{
	(void)sig;	/* only to interrupt RUN with EINTR */
}

/* What the device model answers to a read: a function of the address. */
static uint64_t device_read(uint64_t addr, unsigned int size)
{
	uint64_t v = 0x0123456789abcdefULL ^ (addr * 0x9e3779b97f4a7c15ULL);

	return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

/*
 * Run @fn (or the 16-bit @code, then @fn) on @kind until it is done,
 * faults, or shuts down, recording every exit.
 */
static int record(enum gvm_kind kind, void *fn, uint64_t arg,
		  const uint8_t *code, size_t code_len,
		  const struct vmxl_cpuid_entry *cpuid, unsigned int ncpuid,
		  struct trace *t)
{
	struct gvm vm;
	struct gvm_exit *e;
	int ret;

	struct sigaction sa = { .sa_handler = on_alarm };

	memset(t, 0, sizeof(*t));
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART */
	alarm(RUN_SECONDS);
	ret = gvm_hypervisor_load(kind);
	if (ret)
		return ret;
	ret = gvm_create(&vm, kind, 1);
	if (!ret && cpuid)
		ret = gvm_set_cpuid(&vm, 0, cpuid, ncpuid);
	if (!ret)
		ret = code ? gvm_enter_real_mode(&vm, 0, code, code_len, fn, arg) :
			     gvm_enter_long_mode(&vm, 0, fn, arg, 0);
	while (!ret && t->n < MAX_TRACE) {
		e = &t->exits[t->n++];
		ret = gvm_run(&vm, 0, e);
		if (ret)
			break;
		if ((e->reason == GVM_EXIT_IO || e->reason == GVM_EXIT_MMIO) &&
		    !e->write)
			gvm_complete_read(&vm, 0, device_read(e->reason ==
				GVM_EXIT_IO ? e->port : e->addr, e->size));
		if (e->reason == GVM_EXIT_UCALL && e->uc.cmd == UCALL_SYNC)
			continue;
		if (e->reason == GVM_EXIT_IO || e->reason == GVM_EXIT_MMIO)
			continue;
		break;		/* done, assertion, exception, shutdown, ... */
	}
	alarm(0);
	if (ret == -EINTR)
		fprintf(stderr, "# %s: guest ran %d s without exiting\n",
			gvm_kind_name(kind), RUN_SECONDS);
	if (!ret && t->exits[t->n - 1].reason != GVM_EXIT_SHUTDOWN)
		ret = gvm_settle(&vm, 0);
	if (!ret)
		ret = gvm_get_regs(&vm, 0, &t->regs);
	if (!ret)
		ret = gvm_get_sregs(&vm, 0, &t->sregs);
	/*
	 * A copy, compared byte for byte: an Adler-32 of every page took
	 * 4 s per run under Bochs, this copy a few milliseconds.
	 */
	if (!ret) {
		t->mem = malloc(CMP_PAGES * 4096);
		if (t->mem)
			memcpy(t->mem, vm.mem, CMP_PAGES * 4096);
		else
			ret = -ENOMEM;
	}
	gvm_destroy(&vm);
	gvm_hypervisor_unload(kind);
	return ret;
}

FIXTURE(diff) {
	struct trace kvm, vmxl;
};

static void dump_trace(const char *who, const struct trace *t)
{
	char b[320];
	int i;

	for (i = 0; i < t->n; i++)
		fprintf(stderr, "# %s exit %d: %s\n", who, i,
			gvm_exit_str(&t->exits[i], b, sizeof(b)));
}

/*
 * KVM stays loaded for the first record(), which runs on it: loading it
 * is the slowest step of a test under Bochs (seconds), so once per test.
 */
FIXTURE_SETUP(diff)
{
	GVM_LOAD_OR_SKIP(GVM_KVM);
}

FIXTURE_TEARDOWN(diff)
{
	free(self->kvm.mem);
	free(self->vmxl.mem);
}

/* Compare two traces exit by exit, then the final state. */
static void compare(struct __test_metadata *_metadata, struct trace *k,
		    struct trace *v)
{
	char kb[320], vb[320];
	int i, pages;

	for (i = 0; i < k->n && i < v->n; i++) {
		struct gvm_exit *a = &k->exits[i], *b = &v->exits[i];

		/* The raw reason codes differ by design; the rest must not. */
		a->raw = b->raw = 0;
		ASSERT_EQ(0, memcmp(a, b, sizeof(*a)))
			TH_LOG("exit %d: kvm %s / vmx-lite %s", i,
			       gvm_exit_str(a, kb, sizeof(kb)),
			       gvm_exit_str(b, vb, sizeof(vb)));
	}
	ASSERT_EQ(k->n, v->n) {
		dump_trace("kvm", k);
		dump_trace("vmx-lite", v);
	}

	if (k->exits[k->n - 1].reason == GVM_EXIT_SHUTDOWN)
		goto memory;
	EXPECT_EQ(0, memcmp(&k->regs, &v->regs, sizeof(k->regs)))
		for (i = 0; i < 18; i++) {
			uint64_t x = ((uint64_t *)&k->regs)[i],
				 y = ((uint64_t *)&v->regs)[i];
			if (x != y)
				TH_LOG("register %d: kvm 0x%lx vmx-lite 0x%lx",
				       i, (unsigned long)x, (unsigned long)y);
		}
	EXPECT_EQ(k->sregs.cr0, v->sregs.cr0);
	EXPECT_EQ(k->sregs.cr3, v->sregs.cr3);
	EXPECT_EQ(k->sregs.cr4, v->sregs.cr4);
	EXPECT_EQ(k->sregs.efer, v->sregs.efer);
	EXPECT_EQ(0, memcmp(&k->sregs.cs, &v->sregs.cs, sizeof(k->sregs.cs)));
memory:
	for (i = 0, pages = 0; i < CMP_PAGES; i++) {
		if (!memcmp(k->mem + 4096 * i, v->mem + 4096 * i, 4096))
			continue;
		TH_LOG("guest page 0x%x differs", i * 4096);
		pages++;
	}
	EXPECT_EQ(0, pages)
		for (i = GVM_STACKS_GPA; i < GVM_STACKS_GPA + GVM_STACK_SIZE; i += 8)
			if (memcmp(k->mem + i, v->mem + i, 8))
				TH_LOG("stack 0x%x: kvm 0x%lx vmx-lite 0x%lx", i,
				       *(unsigned long *)(k->mem + i),
				       *(unsigned long *)(v->mem + i));
}

#define RUN_BOTH(fn, arg, code, len, cpuid, n) do {			\
	ASSERT_EQ(0, record(GVM_KVM, fn, arg, code, len, cpuid, n, &self->kvm)); \
	ASSERT_EQ(0, record(GVM_VMXL, fn, arg, code, len, cpuid, n, &self->vmxl)); \
	compare(_metadata, &self->kvm, &self->vmxl);			\
} while (0)

/* ---- port I/O of each size ---- */

static void guest_pio(void)
{
	uint32_t a, b, c;
	uint64_t rax;

	outb(0x80, 0x12);
	outw(0x82, 0x3456);
	outl(0x84, 0x789abcde);
	a = inb(0x71);
	b = inw(0x72);
	c = inl(0x74);
	GUEST_SYNC(1, a | (uint64_t)b << 8 | (uint64_t)c << 24);
	/* IN AL / AX keep the rest of RAX; IN EAX zero-extends. */
	asm volatile("mov $-1, %%rax; inb $0x71, %%al; mov %%rax, %0"
		     : "=r"(rax) : : "rax");
	GUEST_SYNC(2, rax);
}

TEST_F(diff, port_io_each_size)
{
	RUN_BOTH(guest_pio, 0, NULL, 0, NULL, 0);
	EXPECT_EQ(10, self->vmxl.n);	/* 7 I/O, 2 syncs, done */
	EXPECT_EQ(0x80, self->vmxl.exits[0].port);
	EXPECT_EQ(0x789abcde, self->vmxl.exits[2].data);
}

/* ---- MMIO: every width and instruction form the decoder knows ---- */

static void guest_mmio(void)
{
	uint64_t r[8];

	asm volatile(
		"mov %[base], %%ebx\n"	/* zero-extends */
		"mov $0x1122334455667788, %%rax\n"
		"movb %%al, (%%rbx)\n"
		"movw %%ax, 2(%%rbx)\n"
		"movl %%eax, 4(%%rbx)\n"
		"movq %%rax, 8(%%rbx)\n"
		"movb %%ah, 16(%%rbx)\n"
		"movb $0x5a, 17(%%rbx)\n"
		"movw $0x1234, 18(%%rbx)\n"
		"movl $0x89abcdef, 20(%%rbx)\n"
		"movq $-2, 24(%%rbx)\n"
		"mov $3, %%rsi\n"
		"movl %%eax, 8(%%rbx,%%rsi,4)\n"
		"mov %%rax, %%r9\n"
		"movq %%r9, 56(%%rbx)\n"
		"movabs %%eax, 0xd0000100\n"
		"mov $-1, %%rcx\n"
		"movb (%%rbx), %%cl\n"
		"movw 2(%%rbx), %%cx\n"
		"mov %%rcx, %[r0]\n"
		"movl 4(%%rbx), %%ecx\n"
		"mov %%rcx, %[r1]\n"
		"movq 8(%%rbx), %%r10\n"
		"mov %%r10, %[r2]\n"
		"mov $-1, %%rdx\n"
		"movb 16(%%rbx), %%dh\n"
		"movzbl 17(%%rbx), %%esi\n"
		"movzwq 18(%%rbx), %%rdi\n"
		"mov %%rdx, %[r3]\n"
		"add %%rdi, %%rsi\n"
		"movsbl 21(%%rbx), %%ecx\n"
		"movswq 22(%%rbx), %%rdx\n"
		"add %%rcx, %%rsi\n"
		"add %%rdx, %%rsi\n"
		"movslq 24(%%rbx), %%rcx\n"
		"add %%rcx, %%rsi\n"
		"mov %%rsi, %[r4]\n"
		"movabs 0xd0000108, %%al\n"
		"movabs 0xd0000110, %%rax\n"
		"mov %%rax, %[r5]\n"
		"mov $5, %%rsi\n"
		"movl 8(%%rbx,%%rsi,1), %%eax\n"
		"mov %%rax, %[r6]\n"
		: [r0] "=m"(r[0]), [r1] "=m"(r[1]), [r2] "=m"(r[2]),
		  [r3] "=m"(r[3]), [r4] "=m"(r[4]), [r5] "=m"(r[5]),
		  [r6] "=m"(r[6])
		: [base] "i"(MMIO_BASE)
		: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r9", "r10",
		  "memory");
	GUEST_SYNC(0, r[0]);
	GUEST_SYNC(1, r[1]);
	GUEST_SYNC(2, r[2]);
	GUEST_SYNC(3, r[3]);
	GUEST_SYNC(4, r[4]);
	GUEST_SYNC(5, r[5]);
	GUEST_SYNC(6, r[6]);
}

TEST_F(diff, mmio_each_width_and_form)
{
	const struct gvm_exit *e = self->vmxl.exits;

	RUN_BOTH(guest_mmio, 0, NULL, 0, NULL, 0);
	/* Spot checks that the trace is what the guest did. */
	EXPECT_EQ(MMIO_BASE, e[0].addr);
	EXPECT_EQ(1, e[0].size);
	EXPECT_EQ(0x88, e[0].data);
	EXPECT_EQ(8, e[3].size);
	EXPECT_EQ(0x1122334455667788ULL, e[3].data);
	EXPECT_EQ(0x77, e[4].data);			/* AH */
	EXPECT_EQ(0xfffffffffffffffeULL, e[8].data);	/* imm32 sign-extended */
	EXPECT_EQ(MMIO_BASE + 8 + 12, e[9].addr);	/* SIB */
	EXPECT_EQ(0xd0000100, e[11].addr);		/* moffs */
	/* movb (%rbx),%cl then movw: CL then CX replaced, the rest kept */
	EXPECT_EQ((~0xffffULL) | device_read(MMIO_BASE + 2, 2),
		  self->vmxl.exits[25].uc.args[1]);
}

/* ---- CPUID from one table on both ---- */

static void guest_cpuid_leaves(void)
{
	static const uint32_t leaves[][2] = {
		{ 0, 0 }, { 1, 0 }, { 2, 0 }, { 7, 0 }, { 7, 1 },
		{ 0x80000000, 0 }, { 0x80000001, 0 }, { 0x80000008, 0 },
	};
	uint32_t r[4];
	unsigned int i;

	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		guest_cpuid(leaves[i][0], leaves[i][1], r);
		GUEST_SYNC(i, r[0] | (uint64_t)r[1] << 32);
		GUEST_SYNC(i, r[2] | (uint64_t)r[3] << 32);
	}
}

TEST_F(diff, cpuid_leaves)
{
	unsigned int a, b, c, d;
	struct vmxl_cpuid_entry t[] = {
		{ .function = 0, .eax = 0xd },
		{ .function = 1, .eax = 0x00800f12, .ebx = 0x00010800,
		  .ecx = 0x80000001, .edx = 0x0789a371 },	/* no APIC bit */
		{ .function = 7, .flags = VMXL_CPUID_FLAG_INDEXED,
		  .ebx = 0x209 },
		{ .function = 0x80000000, .eax = 0x80000008 },
		{ .function = 0x80000001, .ecx = 0x1, .edx = 0x20100800 },
		{ .function = 0x80000008, .eax = 0x3030 },
	};

	/* The host's vendor, so that KVM applies its AMD or Intel rules. */
	__cpuid(0, a, b, c, d);
	t[0].ebx = b;
	t[0].ecx = c;
	t[0].edx = d;
	(void)a;
	RUN_BOTH(guest_cpuid_leaves, 0, NULL, 0, t, 6);
	EXPECT_EQ(0x0789a371ULL << 32 | 0x80000001, self->vmxl.exits[3].uc.args[1]);
	EXPECT_EQ(0, self->vmxl.exits[4].uc.args[1]);	/* leaf 2: absent */
}

/* ---- MSRs the module owns: write, read back; unknown faults ---- */

static void guest_msrs(void)
{
	static const struct { uint32_t msr; uint64_t val; } w[] = {
		{ 0xc0000081, 0x0023001000000000ULL },	/* STAR */
		{ 0xc0000082, 0xffffffff81000000ULL },	/* LSTAR */
		{ 0xc0000083, 0xffffffff81000040ULL },	/* CSTAR */
		{ 0xc0000084, 0x47700 },		/* SFMASK */
		{ 0x174, 0x10 },			/* SYSENTER_CS */
		{ 0x175, 0xffff880000001000ULL },	/* SYSENTER_ESP */
		{ 0x176, 0xffffffff81000080ULL },	/* SYSENTER_EIP */
		{ 0xc0000100, 0x7f0000001000ULL },	/* FS_BASE */
		{ 0xc0000101, 0x7f0000002000ULL },	/* GS_BASE */
		{ 0xc0000102, 0xffff888000003000ULL },	/* KERNEL_GS_BASE */
		{ 0x277, 0x0007010600070106ULL },	/* PAT */
	};
	unsigned int i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		wrmsr(w[i].msr, w[i].val);
		GUEST_SYNC(w[i].msr, rdmsr(w[i].msr));
	}
	wrmsr(0xc0000080, rdmsr(0xc0000080) | 1);	/* EFER.SCE */
	GUEST_SYNC(0xc0000080, rdmsr(0xc0000080));
	GUEST_SYNC(0x1b, rdmsr(0x1b));			/* APIC_BASE */
	rdmsr(0x12345);					/* #GP */
}

TEST_F(diff, msrs_and_unknown_msr_gp)
{
	struct gvm_exit *last;

	RUN_BOTH(guest_msrs, 0, NULL, 0, NULL, 0);
	last = &self->vmxl.exits[self->vmxl.n - 1];
	EXPECT_EQ(UCALL_EXCEPTION, last->uc.cmd);
	EXPECT_EQ(13, last->uc.args[0]);
	EXPECT_EQ(0xffffffff81000000ULL, self->vmxl.exits[1].uc.args[1]);
}

/* ---- real mode to long mode, then a triple fault ---- */

extern const uint8_t diff_rm2lm_start[], diff_rm2lm_end[];
asm(".pushsection .rodata\n"
    ".code16\n"
    "diff_rm2lm_start:\n"
    "  cli\n"
    "  mov $0x3f8, %dx\n"
    "  mov $'r', %al\n"
    "  out %al, %dx\n"			/* an exit in real mode */
    "  lgdtl 0x7000\n"
    "  mov %cr0, %eax\n"
    "  or $1, %eax\n"
    "  mov %eax, %cr0\n"		/* 16-bit protected mode */
    "  mov $'p', %al\n"
    "  out %al, %dx\n"
    "  mov %cr4, %eax\n"
    "  or $0x620, %eax\n"
    "  mov %eax, %cr4\n"
    "  mov 0x7010, %eax\n"
    "  mov %eax, %cr3\n"
    "  mov $0xc0000080, %ecx\n"
    "  rdmsr\n"
    "  or $0x100, %eax\n"
    "  wrmsr\n"
    "  mov %cr0, %eax\n"
    "  and $0x9fffffff, %eax\n"
    "  or $0x80010023, %eax\n"
    "  mov %eax, %cr0\n"
    "  ljmpl $0x8, $(0x8000 + diff_rm2lm_64 - diff_rm2lm_start)\n"
    ".code64\n"
    "diff_rm2lm_64:\n"
    "  mov $0x10, %eax\n"
    "  mov %eax, %ds\n"
    "  mov %eax, %es\n"
    "  mov %eax, %ss\n"
    "  mov 0x7020, %rsp\n"
    "  mov 0x7028, %rdi\n"
    "  jmp *0x7018\n"
    "diff_rm2lm_end:\n"
    ".popsection\n");

static void guest_after_switch(uint64_t triple)
{
	static const struct { uint16_t limit; uint64_t base; }
		__attribute__((packed)) no_idt = { 0, 0 };

	GUEST_SYNC(1, GUEST_READ_CR(0));
	GUEST_SYNC(2, GUEST_READ_CR(4));
	GUEST_SYNC(3, rdmsr(0xc0000080));
	if (triple)
		asm volatile("lidt %0; int3" : : "m"(no_idt));
}

TEST_F(diff, real_to_long_mode)
{
	RUN_BOTH(guest_after_switch, 0, diff_rm2lm_start,
		 diff_rm2lm_end - diff_rm2lm_start, NULL, 0);
	EXPECT_EQ('r', self->vmxl.exits[0].data);
	EXPECT_EQ('p', self->vmxl.exits[1].data);
	EXPECT_EQ(UCALL_DONE, self->vmxl.exits[self->vmxl.n - 1].uc.cmd);
}

TEST_F(diff, triple_fault_shutdown)
{
	RUN_BOTH(guest_after_switch, 1, diff_rm2lm_start,
		 diff_rm2lm_end - diff_rm2lm_start, NULL, 0);
	EXPECT_EQ(GVM_EXIT_SHUTDOWN, self->vmxl.exits[self->vmxl.n - 1].reason);
}

TEST_HARNESS_MAIN
