// SPDX-License-Identifier: GPL-2.0
/*
 * Debug features across what the module emulates (issue 22): single-step
 * (RFLAGS.TF) over every instruction vmx-lite completes itself, DR6 as
 * the guest reads it after a #DB, DR7.GD, DR4/DR5 with CR4.DE off and
 * on. Each guest runs on KVM and on vmx-lite in the same boot; the #DBs
 * it takes (vector, RIP, DR6 as its handler read it) must be the same on
 * both, and what the SDM and APM say.
 *
 * Last in a lane (scripts/guest-init.sh runs test_zz_* after the bats
 * files): QEMU 7.2 TCG keeps a guest's armed hardware breakpoints after
 * the guest is gone (../shared/ENVIRONMENT.md, "Pitfalls found later"),
 * so every guest here disarms DR7 before it returns, record() makes it
 * do so once more however it ended, and nothing runs after them that
 * could trip a stale one.
 *
 * The guest's handlers run on the interrupted code's stack: this file is
 * built with -mno-red-zone (selftests/Makefile).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"

#define MMIO_ADDR	0xd0000000ULL	/* no RAM there: every access exits */
#define TEST_PORT	0xe4		/* not UCALL_PORT */
#define DBG_MAX		64

#define DR6_INIT	0xffff0ff0ULL	/* DR6 with no bit reported */
#define DR6_B0		(1ULL << 0)
#define DR6_BD		(1ULL << 13)
#define DR6_BS		(1ULL << 14)
#define DR7_GD		(1ULL << 13)
#define CR4_DE		(1ULL << 3)

/* What the guest's #DB and #UD handlers saw, in the order they ran. */
struct dbg_entry {
	uint64_t vector;
	uint64_t rip;		/* of the exception frame */
	uint64_t dr6;		/* as the handler read it */
	uint64_t rcx;		/* at the exception */
};

struct dbg_entry dbg_log[DBG_MAX];
uint64_t dbg_n;
/* Where each step expects its #DB: the guest writes it before the step. */
uint64_t dbg_want[DBG_MAX];
uint64_t dbg_want_dr6[DBG_MAX];	/* breakpoint tests: the DR6 expected */
uint64_t dbg_want_rcx[DBG_MAX];	/* REP tests: RCX expected */
uint64_t dbg_nwant;
uint8_t dbg_buf[64];
/* #DBs after which the handler leaves TF set: a REP string's iterations */
uint64_t dbg_keep_tf;

/*
 * #DB: record, clear DR6 (the handler's job, SDM Vol. 3B 17.2.3), clear
 * TF in the frame so a step takes one #DB only (unless dbg_keep_tf says
 * a REP string's next iterations are to trap too), and set RF so an
 * instruction breakpoint is not taken again on return.
 * #UD: record and step over the 3-byte MOV DR that raised it.
 * #GP: record, step over the dbg_gp_skip bytes of what raised it, clear
 * TF in the frame (the fault ended the step).
 * Frames: RIP at 24(%rsp) after the three pushes, RFLAGS at 40(%rsp);
 * 8 more with an error code.
 */
uint64_t dbg_gp_skip;
extern const char dbg_db_stub[], dbg_ud_stub[], dbg_gp_stub[];
asm(".pushsection .text\n"
    ".macro DBG_REC vec, ripoff=24\n"
    "  push %rax\n"
    "  push %rcx\n"
    "  push %rdx\n"
    "  mov dbg_n(%rip), %rcx\n"
    "  cmp $63, %rcx\n"
    "  ja 1f\n"
    "  imul $32, %rcx, %rcx\n"
    "  lea dbg_log(%rip), %rax\n"
    "  add %rcx, %rax\n"
    "  movq $\\vec, (%rax)\n"
    "  mov \\ripoff(%rsp), %rcx\n"
    "  mov %rcx, 8(%rax)\n"
    "  mov %dr6, %rcx\n"
    "  mov %rcx, 16(%rax)\n"
    "  mov 8(%rsp), %rcx\n"
    "  mov %rcx, 24(%rax)\n"
    "  incq dbg_n(%rip)\n"
    "1:\n"
    ".endm\n"
    ".align 16\n"
    "dbg_db_stub:\n"
    "  DBG_REC 1\n"
    "  mov $0xffff0ff0, %ecx\n"
    "  mov %rcx, %dr6\n"
    "  cmpq $0, dbg_keep_tf(%rip)\n"
    "  je 2f\n"
    "  decq dbg_keep_tf(%rip)\n"
    "  jmp 3f\n"
    "2:\n"
    "  andq $~0x100, 40(%rsp)\n"
    "3:\n"
    "  orq $0x10000, 40(%rsp)\n"
    "  pop %rdx\n"
    "  pop %rcx\n"
    "  pop %rax\n"
    "  iretq\n"
    ".align 16\n"
    "dbg_ud_stub:\n"
    "  DBG_REC 6\n"
    "  addq $3, 24(%rsp)\n"
    "  pop %rdx\n"
    "  pop %rcx\n"
    "  pop %rax\n"
    "  iretq\n"
    ".align 16\n"
    "dbg_gp_stub:\n"
    "  DBG_REC 13, 32\n"
    "  mov dbg_gp_skip(%rip), %rcx\n"
    "  add %rcx, 32(%rsp)\n"
    "  andq $~0x100, 48(%rsp)\n"
    "  pop %rdx\n"
    "  pop %rcx\n"
    "  pop %rax\n"
    "  add $8, %rsp\n"
    "  iretq\n"
    ".popsection\n");

/*
 * CPL 3: dbg_to_user(fn, stack, arg) IRETs to @fn at CPL 3 (selectors
 * 0x2b/0x33, IOPL 3) on @stack; the user code's INT3 (a DPL 3 gate)
 * comes back to dbg_to_user's caller. #DB, #UD and INT3 run on the TSS's
 * RSP0 (record() sets it up).
 */
#define USER_CS		0x2b
#define USER_SS		0x33
#define USER_STACK_TOP	(GVM_STACKS_GPA + 3 * GVM_STACK_SIZE - 24)
#define KERNEL_RSP0	(GVM_STACKS_GPA + 4 * GVM_STACK_SIZE - 16)

uint64_t dbg_kstack;
void dbg_to_user(void (*fn)(uint64_t), uint64_t stack, uint64_t arg);
extern const char dbg_from_user[];
asm(".pushsection .text\n"
    ".globl dbg_to_user\n"
    "dbg_to_user:\n"
    "  push %rbx\n"
    "  push %rbp\n"
    "  push %r12\n"
    "  push %r13\n"
    "  push %r14\n"
    "  push %r15\n"
    "  mov %rsp, dbg_kstack(%rip)\n"
    "  push $0x33\n"
    "  push %rsi\n"
    "  pushfq\n"
    "  orq $0x3000, (%rsp)\n"
    "  push $0x2b\n"
    "  push %rdi\n"
    "  mov %rdx, %rdi\n"
    "  iretq\n"
    ".align 16\n"
    "dbg_from_user:\n"
    "  mov dbg_kstack(%rip), %rsp\n"
    "  mov $0x10, %eax\n"
    "  mov %eax, %ss\n"
    "  pop %r15\n"
    "  pop %r14\n"
    "  pop %r13\n"
    "  pop %r12\n"
    "  pop %rbp\n"
    "  pop %rbx\n"
    "  ret\n"
    ".popsection\n");

/*
 * One single-step: @setup without TF, then TF on (POPF sets it: no trap
 * after the POPF itself), @insn, and the label after it, where the #DB
 * with DR6.BS is due. The handler turns TF off again.
 */
#define STEP(setup, insn)						\
	asm volatile(setup "\n\t"					\
		     "lea 1f(%%rip), %%r15\n\t"				\
		     "mov dbg_nwant(%%rip), %%r14\n\t"			\
		     "lea dbg_want(%%rip), %%r13\n\t"			\
		     "mov %%r15, (%%r13, %%r14, 8)\n\t"			\
		     "incq dbg_nwant(%%rip)\n\t"			\
		     "pushfq\n\t"					\
		     "orq $0x100, (%%rsp)\n\t"				\
		     "popfq\n\t"					\
		     insn "\n"						\
		     "1:\n\t"						\
		     : : : "rax", "rbx", "rcx", "rdx", "rsi", "rdi",	\
		       "r8", "r13", "r14", "r15", "memory", "cc")

/*
 * The steps of guest_single_step(), in order. The SDM (Vol. 3B 17.3.1.4)
 * and APM (Vol. 2, 13.1.4) raise the trap right after every instruction,
 * and vmx-lite does; KVM 6.1 does not after the ones marked:
 *  - on the SVM lane it misses the trap of those it completes after
 *    userspace (OUTS in its emulator, an MMIO store, an RMW's write):
 *    the #DB comes one instruction late;
 *  - on the VMX lane Bochs 2.7 saves a faulting instruction's own
 *    single-step trap in the pending debug exceptions field and delivers
 *    it at the next entry, before the instruction ran: KVM passes that on
 *    (an EPT violation on a page table, a REP string it restarts), so
 *    the #DB comes on the instruction. vmx-lite drops it (vmx_handle_ept).
 */
static const struct {
	const char *name;
	bool kvm_differs;
	bool cpl0_only;		/* #GP at CPL 3 */
} steps[] = {
	{ "nop", false, false },
	{ "cpuid", false, false },
	{ "rdmsr", false, true },
	{ "wrmsr", false, true },
	{ "out dx", false, false },
	{ "in dx", false, false },
	{ "out imm", false, false },
	{ "in imm", false, false },
	{ "outsb", true, false },
	{ "insw", false, false },
	{ "rep outsb", true, false },
	{ "mmio store", true, false },
	{ "mmio load", false, false },
	{ "mmio rmw", true, false },
	{ "mmio load 64", false, false },
	{ "hlt", false, true },
	{ "hypercall", false, false },
	{ "mov ss; cpuid", false, false },
	{ "mov ss; out", false, false },
};

static void single_step_body(uint64_t amd, bool user)
{
	/* A native step first: DR6.BS from the hardware's own #DB. */
	STEP("", "nop");
	STEP("xor %%eax, %%eax; xor %%ecx, %%ecx", "cpuid");
	if (!user) {
		STEP("mov $0x2ff, %%ecx", "rdmsr");
		STEP("mov $0x2ff, %%ecx; rdmsr", "wrmsr");
	}
	STEP("mov $0x5a, %%al; mov $0xe4, %%dx", "outb %%al, %%dx");
	STEP("mov $0xe4, %%dx", "inb %%dx, %%al");
	STEP("mov $0xe4, %%dx", "outl %%eax, $0xe4");
	STEP("", "inw $0xe4, %%ax");
	STEP("lea dbg_buf(%%rip), %%rsi; mov $0xe4, %%dx", "outsb");
	STEP("lea dbg_buf(%%rip), %%rdi; mov $0xe4, %%dx", "insw");
	STEP("lea dbg_buf(%%rip), %%rsi; mov $0xe4, %%dx; mov $1, %%ecx",
	     "rep outsb");
	STEP("mov $0xd0000000, %%edi; mov $0x1234, %%eax",
	     "movl %%eax, (%%rdi)");
	STEP("mov $0xd0000000, %%edi", "movl (%%rdi), %%eax");
	STEP("mov $0xd0000000, %%edi", "addl $3, (%%rdi)");
	STEP("mov $0xd0000008, %%edi", "movq (%%rdi), %%rax");
	if (!user)
		STEP("", "hlt");
	if (amd)
		STEP("mov $0x12345, %%eax", "vmmcall");
	else
		STEP("mov $0x12345, %%eax", "vmcall");
	/*
	 * MOV SS holds the single-step trap after it back to the boundary
	 * after the next instruction (SDM Vol. 3A 6.8.3): one #DB, after
	 * the CPUID.
	 */
	STEP("mov %%ss, %%r8d; xor %%eax, %%eax; xor %%ecx, %%ecx",
	     "mov %%r8d, %%ss; cpuid");
	STEP("mov %%ss, %%r8d; mov $0xe4, %%dx", "mov %%r8d, %%ss; outb %%al, %%dx");
}

static void guest_single_step(uint64_t amd)
{
	single_step_body(amd, false);
}

/* The same at CPL 3 (IOPL 3: port I/O runs; RDMSR, WRMSR, HLT would #GP). */
static void __attribute__((noreturn)) user_single_step(uint64_t amd)
{
	single_step_body(amd, true);
	asm volatile("int3");	/* back to CPL 0: dbg_from_user */
	__builtin_unreachable();
}

static void guest_single_step_cpl3(uint64_t amd)
{
	dbg_to_user(user_single_step, USER_STACK_TOP, amd);
}

/* DR7.GD: the next MOV DR faults with DR6.BD; the #DB clears GD. */
static void guest_general_detect(void)
{
	uint64_t dr7;

	asm volatile("mov %%dr7, %%rax\n\t"
		     "or $0x2000, %%rax\n\t"
		     "mov %%rax, %%dr7\n\t"
		     "lea 1f(%%rip), %%r15\n\t"
		     "mov %%r15, dbg_want(%%rip)\n\t"
		     "movq $1, dbg_nwant(%%rip)\n"
		     "1: mov %%dr7, %%rax\n\t"
		     : "=a"(dr7) : : "r15", "memory");
	GUEST_SYNC(1, dr7);
	asm volatile("mov %0, %%dr7" : : "r"(0x400ULL));
}

/*
 * DR4/DR5: DR6/DR7 under other names while CR4.DE is clear, #UD once it
 * is set (SDM Vol. 3B 17.2.2; APM Vol. 2, 13.1.1.2). A #UD leaves the
 * destination as it was.
 */
static void guest_dr45(void)
{
	uint64_t cr4 = GUEST_READ_CR(4), v;

	asm volatile("mov %0, %%cr4" : : "r"(cr4 & ~CR4_DE));
	asm volatile("mov %0, %%dr5" : : "r"(0x401ULL));	/* DR7: L0 */
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_SYNC(1, v);
	asm volatile("mov %0, %%dr5" : : "r"(0x400ULL));
	asm volatile("mov %0, %%dr6" : : "r"(0xffff0ff2ULL));	/* B1 */
	asm volatile("mov %%dr4, %0" : "=r"(v));
	GUEST_SYNC(2, v);
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_DE));
	v = 0x5555;
	asm volatile("mov %%dr4, %%rax" : "+a"(v));	/* 0f 21 e0: #UD */
	GUEST_SYNC(3, v);
	asm volatile("mov %%rax, %%dr5" : : "a"(0x401ULL));	/* #UD */
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_SYNC(4, v);
	asm volatile("mov %0, %%cr4" : : "r"(cr4));
	asm volatile("mov %0, %%dr6" : : "r"(DR6_INIT));
}

/*
 * A real #DB from the hardware: an instruction breakpoint (DR0, R/W 00,
 * LEN 00) the guest takes without an exit. Its handler must read B0 in
 * DR6 (on VMX, MOV DR exits and the module answers: issue 22's loop).
 */
static void guest_hw_breakpoint(void)
{
	asm volatile("lea 1f(%%rip), %%r15\n\t"
		     "mov %%r15, dbg_want(%%rip)\n\t"
		     "movq $1, dbg_nwant(%%rip)\n\t"
		     "mov %%r15, %%dr0\n\t"
		     "mov $0x401, %%eax\n\t"
		     "mov %%rax, %%dr7\n"
		     "1: nop\n\t"
		     "mov $0x400, %%eax\n\t"
		     "mov %%rax, %%dr7\n\t"
		     : : : "rax", "r15", "memory");
}

/*
 * An access that a breakpoint armed in DR7 may meet: @bits, the DR6
 * B0-B3 of the #DB due right after @insn, or 0 when none is.
 */
#define BP(bits, setup, insn) do {					\
	uint64_t __after;						\
	asm volatile(setup "\n\t"					\
		     "lea 1f(%%rip), %%r15\n\t"			\
		     insn "\n"						\
		     "1: mov %%r15, %0\n\t"				\
		     : "=m"(__after) : : "rax", "rcx", "rdx", "rsi",	\
		       "rdi", "r15", "memory", "cc");			\
	if (bits) {							\
		dbg_want[dbg_nwant] = __after;				\
		dbg_want_dr6[dbg_nwant++] = DR6_INIT | (bits);		\
	}								\
} while (0)

#define DR7_L(n)		(1ULL << (2 * (n)))
#define DR7_G(n)		(2ULL << (2 * (n)))
#define DR7_RW(n, rw)		((uint64_t)(rw) << (16 + 4 * (n)))
#define DR7_LEN(n, len)		((uint64_t)(len) << (18 + 4 * (n)))

static void set_drs(uint64_t dr0, uint64_t dr1, uint64_t dr2, uint64_t dr3,
		    uint64_t dr7)
{
	asm volatile("mov %0, %%dr0" : : "r"(dr0));
	asm volatile("mov %0, %%dr1" : : "r"(dr1));
	asm volatile("mov %0, %%dr2" : : "r"(dr2));
	asm volatile("mov %0, %%dr3" : : "r"(dr3));
	asm volatile("mov %0, %%dr7" : : "r"(dr7 | 0x400));
}

/*
 * I/O breakpoints (CR4.DE, R/W 10) on ports the module emulates: DR0 one
 * byte at 0xe4, DR1 four bytes at 0xe8 (LEN 11).
 */
static void guest_io_breakpoints(void)
{
	uint64_t cr4 = GUEST_READ_CR(4);

	asm volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_DE));
	set_drs(0xe4, 0xe8, 0, 0, DR7_L(0) | DR7_RW(0, 2) | DR7_LEN(0, 0) |
		DR7_L(1) | DR7_RW(1, 2) | DR7_LEN(1, 3));
	BP(1, "", "outb %%al, $0xe4");
	BP(0, "", "inb $0xe5, %%al");
	BP(1, "", "outw %%ax, $0xe3");
	BP(2, "", "inl $0xe8, %%eax");
	BP(2, "", "outb %%al, $0xeb");
	BP(0, "", "outb %%al, $0xec");
	BP(1, "mov $0xe4, %%edx; lea dbg_buf(%%rip), %%rsi", "outsb");
	BP(2, "mov $0xea, %%edx; lea dbg_buf(%%rip), %%rdi", "insw");
	/* DR2: two bytes at 0xf0 (LEN 01) */
	set_drs(0xe4, 0xe8, 0xf0, 0, DR7_L(2) | DR7_RW(2, 2) | DR7_LEN(2, 1));
	BP(4, "", "inb $0xf1, %%al");
	BP(0, "", "outb %%al, $0xf2");
	BP(4, "", "outw %%ax, $0xef");
	set_drs(0, 0, 0, 0, 0);
	asm volatile("mov %0, %%cr4" : : "r"(cr4));
}

/*
 * Data breakpoints on MMIO the module decodes: DR2 writes of four bytes
 * at 0xd0000010 (R/W 01, LEN 11), DR3 reads and writes of two bytes at
 * 0xd0000020 (R/W 11, LEN 01). The first 4 GiB are identity-mapped, so
 * the linear addresses are these.
 */
static void guest_mmio_breakpoints(void)
{
	set_drs(0, 0, MMIO_ADDR + 0x10, MMIO_ADDR + 0x20,
		DR7_L(2) | DR7_RW(2, 1) | DR7_LEN(2, 3) |
		DR7_L(3) | DR7_RW(3, 3) | DR7_LEN(3, 1));
	BP(4, "mov $0xd0000000, %%edi", "movl %%eax, 0x10(%%rdi)");
	BP(0, "mov $0xd0000000, %%edi", "movl 0x10(%%rdi), %%eax");
	BP(4, "mov $0xd0000000, %%edi", "movb %%al, 0x13(%%rdi)");
	BP(8, "mov $0xd0000000, %%edi", "movl 0x20(%%rdi), %%eax");
	BP(8, "mov $0xd0000000, %%edi", "movb %%al, 0x21(%%rdi)");
	BP(0, "mov $0xd0000000, %%edi", "movl %%eax, 0x24(%%rdi)");
	BP(4, "mov $0xd0000000, %%edi", "addl $1, 0x10(%%rdi)");
	BP(0, "mov $0xd0000000, %%edi", "cmpl $1, 0x10(%%rdi)");
	BP(8, "mov $0xd0000000, %%edi", "cmpl $1, 0x1e(%%rdi)");
	/* DR0: one byte at +0x30, R/W 11; DR1: eight at +0x38 (LEN 10), R/W 01 */
	set_drs(MMIO_ADDR + 0x30, MMIO_ADDR + 0x38, 0, 0,
		DR7_L(0) | DR7_RW(0, 3) | DR7_LEN(0, 0) |
		DR7_L(1) | DR7_RW(1, 1) | DR7_LEN(1, 2));
	BP(1, "mov $0xd0000000, %%edi", "movb 0x30(%%rdi), %%al");
	BP(0, "mov $0xd0000000, %%edi", "movb %%al, 0x31(%%rdi)");
	BP(2, "mov $0xd0000000, %%edi", "movq %%rax, 0x38(%%rdi)");
	BP(2, "mov $0xd0000000, %%edi", "movl %%eax, 0x3c(%%rdi)");
	BP(0, "mov $0xd0000000, %%edi", "movl 0x3c(%%rdi), %%eax");
	BP(1, "mov $0xd0000000, %%edi", "movq %%rax, 0x30(%%rdi)");
	BP(2, "mov $0xd0000000, %%edi", "movq %%rax, 0x31(%%rdi)");
	set_drs(0, 0, 0, 0, 0);
}

/*
 * Data breakpoints of each length on RAM: the CPU's own, through the
 * debug registers the module switches. DR0 one byte (R/W 01), DR1 eight
 * (LEN 10, R/W 11), DR2 two (LEN 01, R/W 01), DR3 four (LEN 11, R/W 11),
 * in dbg_buf.
 */
static void guest_ram_breakpoints(void)
{
	uint64_t b = (uint64_t)dbg_buf;

	set_drs(b, b + 8, b + 16, b + 20,
		DR7_L(0) | DR7_RW(0, 1) | DR7_LEN(0, 0) |
		DR7_L(1) | DR7_RW(1, 3) | DR7_LEN(1, 2) |
		DR7_L(2) | DR7_RW(2, 1) | DR7_LEN(2, 1) |
		DR7_G(3) | DR7_RW(3, 3) | DR7_LEN(3, 3));
	BP(1, "lea dbg_buf(%%rip), %%rdi", "movb %%al, (%%rdi)");
	BP(0, "lea dbg_buf(%%rip), %%rdi", "movb (%%rdi), %%al");
	BP(2, "lea dbg_buf(%%rip), %%rdi", "movq 8(%%rdi), %%rax");
	BP(2, "lea dbg_buf(%%rip), %%rdi", "movb %%al, 15(%%rdi)");
	BP(4, "lea dbg_buf(%%rip), %%rdi", "movw %%ax, 16(%%rdi)");
	BP(0, "lea dbg_buf(%%rip), %%rdi", "movw 16(%%rdi), %%ax");
	BP(8, "lea dbg_buf(%%rip), %%rdi", "movl 20(%%rdi), %%eax");
	BP(4, "lea dbg_buf(%%rip), %%rdi", "movb %%al, 17(%%rdi)");
	BP(8, "lea dbg_buf(%%rip), %%rdi", "movb %%al, 23(%%rdi)");
	BP(0, "lea dbg_buf(%%rip), %%rdi", "movb %%al, 24(%%rdi)");
	set_drs(0, 0, 0, 0, 0);
}

/*
 * Single-step and a data breakpoint on the same emulated MMIO store: one
 * #DB, DR6 with BS and B2 (SDM Vol. 3B 17.2.3: all conditions met).
 */
static void guest_step_and_breakpoint(void)
{
	set_drs(0, 0, MMIO_ADDR + 0x10, 0,
		DR7_L(2) | DR7_RW(2, 1) | DR7_LEN(2, 3));
	STEP("mov $0xd0000000, %%edi", "movl %%eax, 0x10(%%rdi)");
	STEP("mov $0xe4, %%dx", "outb %%al, %%dx");
	set_drs(0, 0, 0, 0, 0);
}

/*
 * REP string instructions, three elements each. With TF set a REP string
 * traps after every iteration, RIP still on the instruction and RCX
 * counted down until the last (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ":
 * a repeating string is suspended at an iteration boundary by any
 * exception; Vol. 3B 17.3.1.4; APM Vol. 2, 13.1.4). The handler keeps TF
 * for the first @n - 1 #DBs. @bits: DR6 B0-B3 wanted with each trap.
 * Without TF (@tf false) only the iteration named by @hit (1-based, 0:
 * none) takes a #DB, for a data breakpoint it met (SDM Vol. 3B
 * 17.3.1.2: after the iteration that accessed the location).
 */
#define REP_STRING(tf, n, hit, bits, setup, insn) do {			\
	uint64_t __at, __after, __i;					\
	dbg_keep_tf = (tf) ? (n) - 1 : 0;				\
	asm volatile("cld\n\t" setup "\n\t"				\
		     "mov $" #n ", %%ecx\n\t"				\
		     "lea 1f(%%rip), %%r14\n\t"				\
		     "lea 2f(%%rip), %%r15\n\t"				\
		     "pushfq\n\t"					\
		     "orq $0x" #tf "00, (%%rsp)\n\t"			\
		     "popfq\n"						\
		     "1: " insn "\n"					\
		     "2: mov %%r14, %0\n\t"				\
		     "mov %%r15, %1\n\t"				\
		     : "=m"(__at), "=m"(__after) : : "rax", "rcx", "rdx",	\
		       "rsi", "rdi", "r14", "r15", "memory", "cc");	\
	for (__i = 1; __i <= (n); __i++) {				\
		if (!(tf) && __i != (hit))				\
			continue;					\
		dbg_want[dbg_nwant] = __i < (n) ? __at : __after;	\
		dbg_want_rcx[dbg_nwant] = (n) - __i;			\
		dbg_want_dr6[dbg_nwant++] = DR6_INIT |			\
			((tf) ? DR6_BS : 0) | (__i == (hit) ? (bits) : 0); \
	}								\
} while (0)

/*
 * Single-step over REP strings: first one the CPU runs itself (RAM to
 * RAM: the lane's own CPU model, the reference), then the ones the
 * module completes element by element: REP OUTS, REP INS, and REP STOS
 * and REP MOVS with MMIO on one side.
 */
static void guest_rep_single_step(void)
{
	REP_STRING(1, 3, 0, 0, "lea dbg_buf(%%rip), %%rsi; lea 32+dbg_buf(%%rip), %%rdi",
		   "rep movsb");
	REP_STRING(1, 3, 0, 0, "lea dbg_buf(%%rip), %%rsi; mov $0xe4, %%edx",
		   "rep outsb");
	REP_STRING(1, 3, 0, 0, "lea dbg_buf(%%rip), %%rdi; mov $0xe4, %%edx",
		   "rep insw");
	REP_STRING(1, 3, 0, 0, "mov $0xd0000040, %%edi", "rep stosl");
	REP_STRING(1, 3, 0, 0, "lea dbg_buf(%%rip), %%rsi; mov $0xd0000040, %%edi",
		   "rep movsl");
	REP_STRING(1, 3, 0, 0, "mov $0xd0000040, %%esi; lea dbg_buf(%%rip), %%rdi",
		   "rep movsl");
}

/*
 * Data breakpoints on the memory side of string I/O and of MOVS/STOS on
 * MMIO, which the module accesses for the guest: INS writes memory, OUTS
 * reads it, MOVS reads its source and writes its destination.
 */
static void guest_string_breakpoints(void)
{
	uint64_t b = (uint64_t)dbg_buf;

	/*
	 * DR0 reads and writes of one byte at +1, DR1 writes of 4 at +8,
	 * DR2 writes of 4 at MMIO +0x44, DR3 writes of 4 at +20.
	 */
	set_drs(b + 1, b + 8, MMIO_ADDR + 0x44, b + 20,
		DR7_L(0) | DR7_RW(0, 3) | DR7_LEN(0, 0) |
		DR7_L(1) | DR7_RW(1, 1) | DR7_LEN(1, 3) |
		DR7_L(2) | DR7_RW(2, 1) | DR7_LEN(2, 3) |
		DR7_L(3) | DR7_RW(3, 1) | DR7_LEN(3, 3));
	REP_STRING(0, 3, 2, 1, "lea dbg_buf(%%rip), %%rsi; mov $0xe4, %%edx",
		   "rep outsb");
	/* OUTS reads: a write breakpoint does not see it */
	REP_STRING(0, 3, 0, 0, "lea 8+dbg_buf(%%rip), %%rsi; mov $0xe4, %%edx",
		   "rep outsb");
	REP_STRING(0, 3, 3, 2, "lea 6+dbg_buf(%%rip), %%rdi; mov $0xe4, %%edx",
		   "rep insb");
	REP_STRING(0, 1, 1, 1, "lea 1+dbg_buf(%%rip), %%rdi; mov $0xe4, %%edx",
		   "rep insb");
	/* MMIO side: DR2 sees STOS and MOVS write, not DR3 MOVS's read */
	REP_STRING(0, 3, 2, 4, "mov $0xd0000040, %%edi", "rep stosl");
	REP_STRING(0, 3, 2, 4, "lea 16+dbg_buf(%%rip), %%rsi; mov $0xd0000040, %%edi",
		   "rep movsl");
	/* RAM side: MOVS's read of its source, its write of its destination */
	REP_STRING(0, 3, 1, 1, "lea dbg_buf(%%rip), %%rsi; mov $0xd0000010, %%edi",
		   "rep movsl");
	REP_STRING(0, 3, 2, 8, "mov $0xd0000010, %%esi; lea 16+dbg_buf(%%rip), %%rdi",
		   "rep movsl");
	set_drs(0, 0, 0, 0, 0);
}

/*
 * A fault the instruction raises goes before its single-step trap: the
 * instruction did not complete, so there is none (SDM Vol. 3A 6.9). Each
 * step wants one #GP on the instruction and no #DB.
 */
#define FAULT_STEP(len, setup, insn) do {				\
	dbg_gp_skip = (len);						\
	asm volatile(setup "\n\t"					\
		     "lea 1f(%%rip), %%r15\n\t"			\
		     "mov dbg_nwant(%%rip), %%r14\n\t"			\
		     "lea dbg_want(%%rip), %%r13\n\t"			\
		     "mov %%r15, (%%r13, %%r14, 8)\n\t"			\
		     "incq dbg_nwant(%%rip)\n\t"			\
		     "pushfq\n\t"					\
		     "orq $0x100, (%%rsp)\n\t"				\
		     "popfq\n"						\
		     "1: " insn "\n\t"					\
		     : : : "rax", "rbx", "rcx", "rdx", "rsi", "rdi",	\
		       "r8", "r13", "r14", "r15", "memory", "cc");	\
} while (0)

/* The same without TF: one #GP, on the instruction. */
#define FAULT(len, setup, insn) do {					\
	dbg_gp_skip = (len);						\
	asm volatile(setup "\n\t"					\
		     "lea 1f(%%rip), %%r15\n\t"			\
		     "mov dbg_nwant(%%rip), %%r14\n\t"			\
		     "lea dbg_want(%%rip), %%r13\n\t"			\
		     "mov %%r15, (%%r13, %%r14, 8)\n\t"			\
		     "incq dbg_nwant(%%rip)\n"				\
		     "1: " insn "\n\t"					\
		     : : : "rax", "rbx", "rcx", "rdx", "rsi", "rdi",	\
		       "r8", "r13", "r14", "r15", "memory", "cc");	\
} while (0)

static void guest_fault_steps(void)
{
	FAULT_STEP(2, "mov $0xdeadbeef, %%ecx", "rdmsr");
	FAULT_STEP(2, "mov $0xdeadbeef, %%ecx; xor %%eax, %%eax; xor %%edx, %%edx",
		   "wrmsr");
	/* bits 63:32 of DR6 and DR7 are reserved: #GP (SDM Vol. 2B MOV DR) */
	FAULT_STEP(3, "mov $1, %%eax; shl $32, %%rax", "mov %%rax, %%dr7");
	/*
	 * Without TF: Bochs 2.7, where KVM lets MOV DR run without an exit,
	 * raises a single-step #DB on a MOV to DR6 that faults, before the
	 * #GP.
	 */
	FAULT(3, "mov $0xffff0ff0, %%eax; bts $40, %%rax", "mov %%rax, %%dr6");
}

/*
 * What MOV to DR0-3/DR6/DR7 leaves there: fixed and reserved bits of
 * DR6 and DR7 (SDM Vol. 3B 17.2.3, 17.2.4), and DR0-3 taking any 64-bit
 * value, canonical or not, without a fault (the breakpoint never
 * matches; SDM and APM list no #GP for it).
 */
static void guest_dr_values(void)
{
	uint64_t v;

	asm volatile("mov %0, %%dr0" : : "r"(0x8000000000000000ULL));
	asm volatile("mov %%dr0, %0" : "=r"(v));
	GUEST_SYNC(1, v);
	asm volatile("mov %0, %%dr3" : : "r"(0xfffffffffffff001ULL));
	asm volatile("mov %%dr3, %0" : "=r"(v));
	GUEST_SYNC(2, v);
	asm volatile("mov %0, %%dr6" : : "r"(0ULL));
	asm volatile("mov %%dr6, %0" : "=r"(v));
	GUEST_SYNC(3, v);
	asm volatile("mov %0, %%dr6" : : "r"(0xffffffffULL));
	asm volatile("mov %%dr6, %0" : "=r"(v));
	GUEST_SYNC(4, v);
	asm volatile("mov %0, %%dr6" : : "r"(DR6_INIT));
	asm volatile("mov %0, %%dr7" : : "r"(0ULL));
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_SYNC(5, v);
	/* L0-L3, LE, GE: execution breakpoints at DR0-3, never reached */
	asm volatile("mov %0, %%dr7" : : "r"(0x3ffULL));
	asm volatile("mov %%dr7, %0" : "=r"(v));
	GUEST_SYNC(6, v);
	asm volatile("mov %0, %%dr7" : : "r"(0x400ULL));
	asm volatile("mov %0, %%dr0" : : "r"(0ULL));
	asm volatile("mov %0, %%dr3" : : "r"(0ULL));
}

/* MOV DR at CPL 3: #GP (SDM Vol. 2B MOV DR; the VMX exit goes first). */
static void __attribute__((noreturn)) user_mov_dr(uint64_t arg)
{
	(void)arg;
	FAULT_STEP(3, "", "mov %%dr7, %%rax");
	FAULT_STEP(3, "xor %%eax, %%eax", "mov %%rax, %%dr0");
	FAULT_STEP(3, "", "mov %%dr6, %%rax");
	asm volatile("int3");
	__builtin_unreachable();
}

static void guest_mov_dr_cpl3(void)
{
	dbg_to_user(user_mov_dr, USER_STACK_TOP, 0);
}

/*
 * Run after every guest, whatever became of it: DR0-3 and DR7 cleared by
 * the guest's own MOV DR, which is what takes its breakpoints out of
 * QEMU 7.2 TCG's list (an armed one outlives the guest there).
 */
static void guest_disarm(void)
{
	set_drs(0, 0, 0, 0, 0);
}

static void disarm(struct gvm *vm)
{
	struct gvm_exit e;
	int i;

	if (gvm_enter_long_mode(vm, 0, guest_disarm, 0, 0))
		return;
	for (i = 0; i < 8; i++)
		if (gvm_run(vm, 0, &e) || e.reason == GVM_EXIT_UCALL)
			return;
}

/* What one run left: its SYNC values and the #DB/#UD log. */
struct dbg_trace {
	unsigned int nsync;
	uint64_t sync[16];
	uint64_t n, nwant;
	struct dbg_entry log[DBG_MAX];
	uint64_t want[DBG_MAX];
	uint64_t want_dr6[DBG_MAX];
	uint64_t want_rcx[DBG_MAX];
};

static bool host_amd(void)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	return b == 0x68747541;	/* "Auth"enticAMD */
}

static void set_gate(struct gvm *vm, int vec, const void *fn)
{
	uint64_t *idt = (uint64_t *)(vm->mem + vm->idt), off = (uint64_t)fn;

	/* keep the selector and the type, replace the offset */
	idt[2 * vec] = (idt[2 * vec] & 0x0000ffffffff0000ULL) |
		       (off & 0xffff) | (((off >> 16) & 0xffff) << 48);
	idt[2 * vec + 1] = off >> 32;
}

/* Set bit 2 (U/S) in every present entry of the table at @gpa and below. */
static void set_user(struct gvm *vm, uint64_t gpa, int level)
{
	uint64_t *t = (uint64_t *)(vm->mem + gpa);
	int i;

	for (i = 0; i < 512; i++) {
		if (!(t[i] & 1))
			continue;
		t[i] |= 4;
		if (level > 1 && !(t[i] & 0x80))
			set_user(vm, t[i] & 0x000ffffffffff000ULL, level - 1);
	}
}

/* What CPL 3 needs: user segments, RSP0, user pages, an INT3 gate. */
static int user_setup(struct gvm *vm)
{
	uint64_t *gdt = (uint64_t *)(vm->mem + vm->gdt), rsp0 = KERNEL_RSP0;
	uint64_t *idt = (uint64_t *)(vm->mem + vm->idt);
	struct vmxl_sregs s;
	int ret;

	gdt[USER_CS / 8] = 0x00affb000000ffffULL;	/* L, DPL 3, code */
	gdt[USER_SS / 8] = 0x00cff3000000ffffULL;	/* DPL 3, data RW */
	memcpy(vm->mem + vm->tss + 4, &rsp0, 8);	/* RSP0 */
	set_user(vm, vm->pml4, 4);
	set_gate(vm, 3, dbg_from_user);
	idt[2 * 3] |= 3ULL << 45;			/* DPL 3 */
	ret = gvm_get_sregs(vm, 0, &s);
	if (ret)
		return ret;
	s.gdt.limit = 7 * 8 - 1;
	return gvm_set_sregs(vm, 0, &s);
}

/* Run @fn on @kind to its end, answering its port and MMIO exits. */
static int record(enum gvm_kind kind, void *fn, struct dbg_trace *t)
{
	struct gvm_exit e;
	struct gvm vm;
	char b[320];
	int ret;

	memset(t, 0, sizeof(*t));
	ret = gvm_hypervisor_load(kind);
	if (ret)
		return ret;
	ret = gvm_create(&vm, kind, 1);
	if (ret)
		return ret;
	set_gate(&vm, 1, dbg_db_stub);
	set_gate(&vm, 6, dbg_ud_stub);
	set_gate(&vm, 13, dbg_gp_stub);
	ret = gvm_enter_long_mode(&vm, 0, fn, host_amd(), 0);
	if (!ret)
		ret = user_setup(&vm);
	while (!ret) {
		ret = gvm_run(&vm, 0, &e);
		if (ret)
			break;
		if (e.reason == GVM_EXIT_UCALL && e.uc.cmd == UCALL_SYNC) {
			if (t->nsync < 16)
				t->sync[t->nsync++] = e.uc.args[1];
			continue;
		}
		if (e.reason == GVM_EXIT_UCALL && e.uc.cmd == UCALL_DONE)
			break;
		if ((e.reason == GVM_EXIT_IO || e.reason == GVM_EXIT_MMIO) &&
		    !e.write)
			gvm_complete_read(&vm, 0, 0x1122334455667788ULL);
		if (e.reason == GVM_EXIT_IO || e.reason == GVM_EXIT_MMIO ||
		    e.reason == GVM_EXIT_HLT || e.reason == GVM_EXIT_HYPERCALL)
			continue;
		fprintf(stderr, "# %s: %s\n", gvm_kind_name(kind),
			e.reason == GVM_EXIT_UCALL ?
			gvm_ucall_str(&e.uc, b, sizeof(b)) :
			gvm_exit_str(&e, b, sizeof(b)));
		ret = -EIO;
	}
	t->n = *(uint64_t *)gvm_image_ptr(&vm, &dbg_n);
	t->nwant = *(uint64_t *)gvm_image_ptr(&vm, &dbg_nwant);
	if (t->n > DBG_MAX)
		t->n = DBG_MAX;
	if (t->nwant > DBG_MAX)
		t->nwant = DBG_MAX;
	memcpy(t->log, gvm_image_ptr(&vm, dbg_log), sizeof(t->log));
	memcpy(t->want, gvm_image_ptr(&vm, dbg_want), sizeof(t->want));
	memcpy(t->want_dr6, gvm_image_ptr(&vm, dbg_want_dr6),
	       sizeof(t->want_dr6));
	memcpy(t->want_rcx, gvm_image_ptr(&vm, dbg_want_rcx),
	       sizeof(t->want_rcx));
	disarm(&vm);
	gvm_destroy(&vm);
	if (kind == GVM_VMXL)
		gvm_hypervisor_unload(kind);
	return ret;
}

static void dump(const char *who, const struct dbg_trace *t)
{
	uint64_t i;

	for (i = 0; i < t->n; i++)
		fprintf(stderr, "# %s: #%lu vector %lu rip %#lx dr6 %#lx rcx %#lx (want rip %#lx)\n",
			who, (unsigned long)i, (unsigned long)t->log[i].vector,
			(unsigned long)t->log[i].rip,
			(unsigned long)t->log[i].dr6,
			(unsigned long)t->log[i].rcx,
			(unsigned long)(i < t->nwant ? t->want[i] : 0));
}

/*
 * Real mode, then 32-bit protected mode (flat, no paging) at CPL 0 and
 * at CPL 3, in one 16-bit blob that gvm_enter_real_mode() starts at
 * GVM_CODE16_GPA with CS 0.
 * Each part single-steps the emulated instructions of its mode; their
 * #DB handlers (IVT, then a 32-bit IDT) log IP/EIP and DR6 at RM_LOG.
 * An OUT to port 0xe6 ends the guest. Addresses: label - rmd_start +
 * GVM_CODE16_GPA.
 */
#define RM_LOG		0x6000	/* u32 n, u32 nwant, u32 amd */
#define RM_ENTRIES	0x6100	/* { u32 ip, u32 dr6 } */
#define RM_WANT		0x6800	/* u32 */
#define RM_BUF		0x6a00
#define RM_END_PORT	0xe6

extern const uint8_t rmd_start[], rmd_end[];
asm(".pushsection .text\n"
    ".code16\n"
    ".macro RSTEP16 setup, insn\n"
    "  mov 0x6004, %bx\n"
    "  shl $2, %bx\n"
    "  movl $(9f - rmd_start + 0x8000), 0x6800(%bx)\n"
    "  incw 0x6004\n"
    "  \\setup\n"
    "  pushf\n"
    "  mov %sp, %bp\n"
    "  orw $0x100, (%bp)\n"
    "  popf\n"
    "  \\insn\n"
    "9:\n"
    ".endm\n"
    ".macro RSTEP32 setup, insn\n"
    "  mov 0x6004, %ebx\n"
    "  movl $(9f - rmd_start + 0x8000), 0x6800(,%ebx,4)\n"
    "  incl 0x6004\n"
    "  \\setup\n"
    "  pushf\n"
    "  orl $0x100, (%esp)\n"
    "  popf\n"
    "  \\insn\n"
    "9:\n"
    ".endm\n"
    "rmd_start:\n"
    "  cli\n"
    "  xor %ax, %ax\n"
    "  mov %ax, %ds\n"
    "  mov %ax, %es\n"
    "  mov %ax, %ss\n"
    "  mov $0x7000, %sp\n"
    "  movl $0, 0x6000\n"
    "  movl $0, 0x6004\n"
    "  movw $(rmd_db16 - rmd_start + 0x8000), 4\n"
    "  movw $0, 6\n"
    "  RSTEP16 \"\", \"nop\"\n"
    "  RSTEP16 \"xor %eax, %eax; xor %ecx, %ecx\", \"cpuid\"\n"
    "  RSTEP16 \"mov $0x2ff, %ecx\", \"rdmsr\"\n"
    "  RSTEP16 \"mov $0x2ff, %ecx; rdmsr\", \"wrmsr\"\n"
    "  RSTEP16 \"mov $0xe4, %dx\", \"outb %al, %dx\"\n"
    "  RSTEP16 \"mov $0xe4, %dx\", \"inb %dx, %al\"\n"
    "  RSTEP16 \"mov $0x6a00, %si; mov $0xe4, %dx\", \"outsb\"\n"
    "  RSTEP16 \"mov $0x6a00, %di; mov $0xe4, %dx\", \"insw\"\n"
    "  RSTEP16 \"\", \"hlt\"\n"
    "  cmpl $0, 0x6008\n"
    "  je 5f\n"
    "  RSTEP16 \"mov $0x12345, %eax\", \"vmmcall\"\n"
    "  jmp 6f\n"
    "5:\n"
    "  RSTEP16 \"mov $0x12345, %eax\", \"vmcall\"\n"
    "6:\n"
    "  RSTEP16 \"xor %eax, %eax; xor %ecx, %ecx; mov %ss, %bx\", \"mov %bx, %ss; cpuid\"\n"
    "  RSTEP16 \"xor %eax, %eax; xor %ecx, %ecx; push %ss\", \"pop %ss; cpuid\"\n"
    /* to 32-bit protected mode */
    "  lgdtl rmd_gdtr - rmd_start + 0x8000\n"
    "  lidtl rmd_idtr - rmd_start + 0x8000\n"
    "  mov %cr0, %eax\n"
    "  or $1, %eax\n"
    "  mov %eax, %cr0\n"
    "  ljmpl $0x08, $(rmd_pm32 - rmd_start + 0x8000)\n"
    "rmd_db16:\n"
    "  push %bp\n"
    "  push %bx\n"
    "  push %eax\n"
    "  mov %sp, %bp\n"
    "  mov 0x6000, %bx\n"
    "  shl $3, %bx\n"
    "  movzwl 8(%bp), %eax\n"
    "  mov %eax, 0x6100(%bx)\n"
    "  mov %dr6, %eax\n"
    "  mov %eax, 0x6104(%bx)\n"
    "  incw 0x6000\n"
    "  mov $0xffff0ff0, %eax\n"
    "  mov %eax, %dr6\n"
    "  andw $0xfeff, 12(%bp)\n"
    "  pop %eax\n"
    "  pop %bx\n"
    "  pop %bp\n"
    "  iret\n"
    ".code32\n"
    "rmd_pm32:\n"
    "  mov $0x10, %eax\n"
    "  mov %eax, %ds\n"
    "  mov %eax, %es\n"
    "  mov %eax, %ss\n"
    "  mov $0x7000, %esp\n"
    "  RSTEP32 \"\", \"nop\"\n"
    "  RSTEP32 \"xor %eax, %eax; xor %ecx, %ecx\", \"cpuid\"\n"
    "  RSTEP32 \"mov $0x2ff, %ecx\", \"rdmsr\"\n"
    "  RSTEP32 \"mov $0x2ff, %ecx; rdmsr\", \"wrmsr\"\n"
    "  RSTEP32 \"mov $0xe4, %dx\", \"outb %al, %dx\"\n"
    "  RSTEP32 \"mov $0xe4, %dx\", \"inb %dx, %al\"\n"
    "  RSTEP32 \"mov $0x6a00, %esi; mov $0xe4, %dx\", \"outsb\"\n"
    "  RSTEP32 \"mov $0x6a00, %edi; mov $0xe4, %dx\", \"insw\"\n"
    "  RSTEP32 \"mov $0xd0000000, %edi; mov $0x1234, %eax\", \"movl %eax, (%edi)\"\n"
    "  RSTEP32 \"mov $0xd0000000, %edi\", \"movl (%edi), %eax\"\n"
    "  RSTEP32 \"mov $0xd0000000, %edi\", \"addl $3, (%edi)\"\n"
    "  RSTEP32 \"\", \"hlt\"\n"
    "  cmpl $0, 0x6008\n"
    "  je 5f\n"
    "  RSTEP32 \"mov $0x12345, %eax\", \"vmmcall\"\n"
    "  jmp 6f\n"
    "5:\n"
    "  RSTEP32 \"mov $0x12345, %eax\", \"vmcall\"\n"
    "6:\n"
    "  RSTEP32 \"xor %eax, %eax; xor %ecx, %ecx; mov %ss, %ebx\", \"mov %ebx, %ss; cpuid\"\n"
    "  RSTEP32 \"xor %eax, %eax; xor %ecx, %ecx; push %ss\", \"pop %ss; cpuid\"\n"
    /*
     * to CPL 3 (selectors 0x1b/0x23, IOPL 3 so port I/O runs there): the
     * #DB gate takes the TSS's SS0:ESP0 (0x10:0x7000), the user stack
     * is at 0x5000; DS and ES hold the DPL 3 data segment, which the
     * handler uses too.
     */
    "  mov $0x28, %ax\n"
    "  ltr %ax\n"
    "  mov $0x23, %eax\n"
    "  mov %eax, %ds\n"
    "  mov %eax, %es\n"
    "  pushl $0x23\n"
    "  pushl $0x5000\n"
    "  pushfl\n"
    "  orl $0x3000, (%esp)\n"
    "  pushl $0x1b\n"
    "  pushl $(rmd_pm32u - rmd_start + 0x8000)\n"
    "  iretl\n"
    "rmd_pm32u:\n"
    "  RSTEP32 \"\", \"nop\"\n"
    "  RSTEP32 \"xor %eax, %eax; xor %ecx, %ecx\", \"cpuid\"\n"
    "  RSTEP32 \"mov $0xe4, %dx\", \"outb %al, %dx\"\n"
    "  RSTEP32 \"mov $0xe4, %dx\", \"inb %dx, %al\"\n"
    "  RSTEP32 \"mov $0x6a00, %esi; mov $0xe4, %dx\", \"outsb\"\n"
    "  RSTEP32 \"mov $0x6a00, %edi; mov $0xe4, %dx\", \"insw\"\n"
    "  RSTEP32 \"mov $0xd0000000, %edi; mov $0x1234, %eax\", \"movl %eax, (%edi)\"\n"
    "  RSTEP32 \"mov $0xd0000000, %edi\", \"movl (%edi), %eax\"\n"
    "  RSTEP32 \"mov $0xd0000000, %edi\", \"addl $3, (%edi)\"\n"
    "  cmpl $0, 0x6008\n"
    "  je 5f\n"
    "  RSTEP32 \"mov $0x12345, %eax\", \"vmmcall\"\n"
    "  jmp 6f\n"
    "5:\n"
    "  RSTEP32 \"mov $0x12345, %eax\", \"vmcall\"\n"
    "6:\n"
    "  RSTEP32 \"xor %eax, %eax; xor %ecx, %ecx; mov %ss, %ebx\", \"mov %ebx, %ss; cpuid\"\n"
    "  RSTEP32 \"xor %eax, %eax; xor %ecx, %ecx; push %ss\", \"pop %ss; cpuid\"\n"
    "  out %al, $0xe6\n"
    "7:\n"
    "  hlt\n"
    "  jmp 7b\n"
    "rmd_db32:\n"
    "  push %eax\n"
    "  push %ebx\n"
    "  mov 0x6000, %ebx\n"
    "  shl $3, %ebx\n"
    "  mov 8(%esp), %eax\n"
    "  mov %eax, 0x6100(%ebx)\n"
    "  mov %dr6, %eax\n"
    "  mov %eax, 0x6104(%ebx)\n"
    "  incl 0x6000\n"
    "  mov $0xffff0ff0, %eax\n"
    "  mov %eax, %dr6\n"
    "  andl $0xfffffeff, 16(%esp)\n"
    "  pop %ebx\n"
    "  pop %eax\n"
    "  iret\n"
    ".align 8\n"
    "rmd_gdt:\n"
    "  .quad 0\n"
    "  .quad 0x00cf9b000000ffff\n"
    "  .quad 0x00cf93000000ffff\n"
    "  .quad 0x00cffb000000ffff\n"
    "  .quad 0x00cff3000000ffff\n"
    /* 32-bit TSS, limit 103, available (type 9), base below 64 KiB */
    "  .word 0x67, rmd_tss - rmd_start + 0x8000\n"
    "  .byte 0, 0x89, 0, 0\n"
    "rmd_tss:\n"
    "  .long 0, 0x7000, 0x10\n"
    "  .fill 90, 1, 0\n"
    "  .word 104\n"
    "rmd_idt:\n"
    "  .quad 0\n"
    "  .word rmd_db32 - rmd_start + 0x8000, 0x08, 0x8e00, 0\n"
    "rmd_gdtr:\n"
    "  .word 47\n"
    "  .long rmd_gdt - rmd_start + 0x8000\n"
    "rmd_idtr:\n"
    "  .word 15\n"
    "  .long rmd_idt - rmd_start + 0x8000\n"
    "rmd_end:\n"
    ".code64\n"
    ".popsection\n");

/*
 * The steps of the blob, in order: real mode, then 32-bit. KVM's #DB
 * comes elsewhere after the ones marked, for steps[]'s reasons.
 */
static const struct {
	const char *name;
	bool kvm_differs;
} rm_steps[] = {
	{ "real: nop", false },
	{ "real: cpuid", false },
	{ "real: rdmsr", false },
	{ "real: wrmsr", false },
	{ "real: out dx", false },
	{ "real: in dx", false },
	{ "real: outsb", true },
	{ "real: insw", false },
	{ "real: hlt", false },
	{ "real: hypercall", false },
	{ "real: mov ss; cpuid", false },
	{ "real: pop ss; cpuid", false },
	{ "32-bit: nop", false },
	{ "32-bit: cpuid", false },
	{ "32-bit: rdmsr", false },
	{ "32-bit: wrmsr", false },
	{ "32-bit: out dx", false },
	{ "32-bit: in dx", false },
	{ "32-bit: outsb", true },
	{ "32-bit: insw", false },
	{ "32-bit: mmio store", true },
	{ "32-bit: mmio load", false },
	{ "32-bit: mmio rmw", true },
	{ "32-bit: hlt", false },
	{ "32-bit: hypercall", false },
	{ "32-bit: mov ss; cpuid", false },
	{ "32-bit: pop ss; cpuid", false },
	{ "32-bit cpl3: nop", false },
	{ "32-bit cpl3: cpuid", false },
	{ "32-bit cpl3: out dx", false },
	{ "32-bit cpl3: in dx", false },
	{ "32-bit cpl3: outsb", true },
	{ "32-bit cpl3: insw", false },
	{ "32-bit cpl3: mmio store", true },
	{ "32-bit cpl3: mmio load", false },
	{ "32-bit cpl3: mmio rmw", true },
	{ "32-bit cpl3: hypercall", false },
	{ "32-bit cpl3: mov ss; cpuid", false },
	{ "32-bit cpl3: pop ss; cpuid", false },
};

/* Run the blob on @kind until its OUT to RM_END_PORT. */
static int record_rm(enum gvm_kind kind, struct dbg_trace *t)
{
	uint32_t *log;
	struct gvm_exit e;
	struct gvm vm;
	char b[320];
	uint64_t i;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = gvm_hypervisor_load(kind);
	if (ret)
		return ret;
	ret = gvm_create(&vm, kind, 1);
	if (ret)
		return ret;
	ret = gvm_enter_real_mode(&vm, 0, rmd_start, rmd_end - rmd_start,
				  NULL, 0);
	log = (uint32_t *)(vm.mem + RM_LOG);
	log[2] = host_amd();
	while (!ret) {
		ret = gvm_run(&vm, 0, &e);
		if (ret)
			break;
		if (e.reason == GVM_EXIT_IO && e.port == RM_END_PORT)
			break;
		if ((e.reason == GVM_EXIT_IO || e.reason == GVM_EXIT_MMIO) &&
		    !e.write)
			gvm_complete_read(&vm, 0, 0x1122334455667788ULL);
		if (e.reason == GVM_EXIT_IO || e.reason == GVM_EXIT_MMIO ||
		    e.reason == GVM_EXIT_HLT || e.reason == GVM_EXIT_HYPERCALL)
			continue;
		fprintf(stderr, "# %s: %s\n", gvm_kind_name(kind),
			e.reason == GVM_EXIT_UCALL ?
			gvm_ucall_str(&e.uc, b, sizeof(b)) :
			gvm_exit_str(&e, b, sizeof(b)));
		ret = -EIO;
	}
	t->n = log[0] > DBG_MAX ? DBG_MAX : log[0];
	t->nwant = log[1] > DBG_MAX ? DBG_MAX : log[1];
	for (i = 0; i < DBG_MAX; i++) {
		uint32_t *en = (uint32_t *)(vm.mem + RM_ENTRIES) + 2 * i;

		t->log[i].vector = 1;
		t->log[i].rip = en[0];
		t->log[i].dr6 = en[1];
		t->want[i] = ((uint32_t *)(vm.mem + RM_WANT))[i];
	}
	disarm(&vm);
	gvm_destroy(&vm);
	if (kind == GVM_VMXL)
		gvm_hypervisor_unload(kind);
	return ret;
}

FIXTURE(dbg) {
	struct dbg_trace kvm, vmxl;
};

FIXTURE_SETUP(dbg)
{
	GVM_LOAD_OR_SKIP(GVM_KVM);
}

FIXTURE_TEARDOWN(dbg)
{
}

/*
 * Both runs ended cleanly and took the same #DBs and #UDs; @late: a
 * bitmask of entries where KVM's may come at another RIP (see steps[]);
 * @kvm_none: KVM may take none at all (KVM 6.1 checks no I/O or data
 * breakpoint on an access it emulates, only instruction breakpoints).
 */
static void run_both(struct __test_metadata *_metadata,
		     FIXTURE_DATA(dbg) *self, void *fn, uint64_t late,
		     bool kvm_none)
{
	uint64_t i;

	ASSERT_EQ(0, record(GVM_KVM, fn, &self->kvm));
	ASSERT_EQ(0, record(GVM_VMXL, fn, &self->vmxl));
	dump("kvm", &self->kvm);
	dump("vmx-lite", &self->vmxl);
	if (kvm_none && !self->kvm.n) {
		TH_LOG("KVM raised no #DB for emulated accesses, as known");
		self->kvm.n = self->vmxl.n;
		memcpy(self->kvm.log, self->vmxl.log, sizeof(self->kvm.log));
	}
	ASSERT_EQ(self->kvm.n, self->vmxl.n);
	for (i = 0; i < self->kvm.n; i++) {
		EXPECT_EQ(self->kvm.log[i].vector, self->vmxl.log[i].vector);
		EXPECT_EQ(self->kvm.log[i].dr6, self->vmxl.log[i].dr6);
		if ((late & (1ULL << i)) &&
		    self->kvm.log[i].rip != self->vmxl.log[i].rip) {
			TH_LOG("#%lu: KVM's #DB at another RIP, as known",
			       (unsigned long)i);
			continue;
		}
		EXPECT_EQ(self->kvm.log[i].rip, self->vmxl.log[i].rip);
	}
	ASSERT_EQ(self->kvm.nsync, self->vmxl.nsync);
	for (i = 0; i < self->kvm.nsync; i++)
		EXPECT_EQ(self->kvm.sync[i], self->vmxl.sync[i]);
}

/* One #DB per step, right after its instruction, DR6.BS alone. */
static void single_step_test(struct __test_metadata *_metadata,
			     FIXTURE_DATA(dbg) *self, void *fn, bool user)
{
	const struct dbg_trace *t = &self->vmxl;
	const char *name[ARRAY_SIZE(steps)];
	uint64_t i, n = 0, late = 0;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		if (user && steps[i].cpl0_only)
			continue;
		late |= (uint64_t)steps[i].kvm_differs << n;
		name[n++] = steps[i].name;
	}
	run_both(_metadata, self, fn, late, false);
	ASSERT_EQ(n, t->nwant);
	ASSERT_EQ(t->nwant, t->n);
	for (i = 0; i < t->n; i++) {
		EXPECT_EQ(1, t->log[i].vector) TH_LOG("%s", name[i]);
		EXPECT_EQ(t->want[i], t->log[i].rip) TH_LOG("%s", name[i]);
		EXPECT_EQ(DR6_INIT | DR6_BS, t->log[i].dr6) TH_LOG("%s", name[i]);
	}
}

TEST_F(dbg, single_step_emulated_64bit_cpl0)
{
	single_step_test(_metadata, self, guest_single_step, false);
}

TEST_F(dbg, single_step_emulated_64bit_cpl3)
{
	single_step_test(_metadata, self, guest_single_step_cpl3, true);
}

TEST_F(dbg, general_detect)
{
	const struct dbg_trace *t = &self->vmxl;

	run_both(_metadata, self, guest_general_detect, 0, false);
	/*
	 * QEMU 7.2 TCG does not implement DR7.GD, and on SVM the guest's
	 * MOV DR runs without an exit (under KVM as under vmx-lite): there
	 * the CPU in the test is what lacks it.
	 */
	if (!self->kvm.n && host_amd())
		SKIP(return, "this CPU raises no general-detect #DB (QEMU TCG)");
	ASSERT_EQ(1, t->n);
	EXPECT_EQ(1, t->log[0].vector);
	EXPECT_EQ(t->want[0], t->log[0].rip);	/* a fault: on the MOV */
	EXPECT_EQ(DR6_INIT | DR6_BD, t->log[0].dr6);
	ASSERT_EQ(1, t->nsync);
	EXPECT_EQ(0, t->sync[0] & DR7_GD);
}

TEST_F(dbg, dr4_dr5_alias_and_cr4_de)
{
	const struct dbg_trace *t = &self->vmxl;

	run_both(_metadata, self, guest_dr45, 0, false);
	ASSERT_EQ(4, t->nsync);
	EXPECT_EQ(0x401, t->sync[0]);		/* DR5 wrote DR7 */
	EXPECT_EQ(0xffff0ff2ULL, t->sync[1]);	/* DR4 read DR6 */
	EXPECT_EQ(0x5555, t->sync[2]);		/* #UD: RAX untouched */
	EXPECT_EQ(0x400, t->sync[3]);		/* #UD: DR7 untouched */
	ASSERT_EQ(2, t->n);
	EXPECT_EQ(6, t->log[0].vector);
	EXPECT_EQ(6, t->log[1].vector);
}

TEST_F(dbg, dr6_after_hardware_breakpoint)
{
	const struct dbg_trace *t = &self->vmxl;

	run_both(_metadata, self, guest_hw_breakpoint, 0, false);
	ASSERT_EQ(1, t->n);
	EXPECT_EQ(1, t->log[0].vector);
	EXPECT_EQ(t->want[0], t->log[0].rip);
	EXPECT_EQ(DR6_INIT | DR6_B0, t->log[0].dr6);
}

/* vmx-lite's #DBs: exactly the ones wanted, at their RIP, with their DR6. */
static void check_breakpoints(struct __test_metadata *_metadata,
			      const struct dbg_trace *t)
{
	uint64_t i;

	ASSERT_EQ(t->nwant, t->n);
	for (i = 0; i < t->n; i++) {
		EXPECT_EQ(1, t->log[i].vector);
		EXPECT_EQ(t->want[i], t->log[i].rip);
		EXPECT_EQ(t->want_dr6[i], t->log[i].dr6);
	}
}

TEST_F(dbg, io_breakpoints)
{
	run_both(_metadata, self, guest_io_breakpoints, 0, true);
	check_breakpoints(_metadata, &self->vmxl);
}

TEST_F(dbg, mmio_data_breakpoints)
{
	run_both(_metadata, self, guest_mmio_breakpoints, 0, true);
	check_breakpoints(_metadata, &self->vmxl);
}

TEST_F(dbg, ram_data_breakpoints)
{
	run_both(_metadata, self, guest_ram_breakpoints, 0, false);
	check_breakpoints(_metadata, &self->vmxl);
}

/*
 * KVM 6.1 reports BS alone (no data breakpoint on what it emulates); the
 * RIPs it must share, the first one except where steps[] says why not.
 */
TEST_F(dbg, single_step_and_data_breakpoint)
{
	const struct dbg_trace *k = &self->kvm, *t = &self->vmxl;

	ASSERT_EQ(0, record(GVM_KVM, guest_step_and_breakpoint, &self->kvm));
	ASSERT_EQ(0, record(GVM_VMXL, guest_step_and_breakpoint, &self->vmxl));
	dump("kvm", k);
	dump("vmx-lite", t);
	ASSERT_EQ(2, t->nwant);
	ASSERT_EQ(2, t->n);
	EXPECT_EQ(t->want[0], t->log[0].rip);
	EXPECT_EQ(DR6_INIT | DR6_BS | 4, t->log[0].dr6);
	EXPECT_EQ(t->want[1], t->log[1].rip);
	EXPECT_EQ(DR6_INIT | DR6_BS, t->log[1].dr6);
	ASSERT_EQ(2, k->n);
	EXPECT_EQ(k->log[1].rip, t->log[1].rip);
	EXPECT_EQ(k->log[1].dr6, t->log[1].dr6);
	if (k->log[0].dr6 != t->log[0].dr6)
		TH_LOG("KVM's DR6 %#lx: no data breakpoint, as known",
		       (unsigned long)k->log[0].dr6);
}

/*
 * REP strings: vmx-lite's #DBs exactly as wanted (RIP, DR6, RCX at each),
 * KVM's only compared and reported. KVM 6.1 differs from hardware there,
 * as its emulator works: string I/O runs up to 1024 iterations per entry
 * (REP INS reads ahead a buffer of elements in one exit) and it raises
 * the single-step trap once for that batch, at the end; an MMIO REP
 * MOVS/STOS likewise; and it checks no data breakpoint on the accesses
 * it emulates. On the VMX lane Bochs 2.7 hands KVM its own pending
 * single-step trap on each REP OUTS exit, so KVM traps per iteration
 * there, but the last trap comes on the instruction (steps[] has why).
 * The RAM-to-RAM REP MOVSB the CPU runs itself is the same under both,
 * and per iteration on both lanes' CPUs: it must agree.
 */
static void check_rep(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dbg) *self, void *fn, bool native_first)
{
	const struct dbg_trace *k = &self->kvm, *t = &self->vmxl;
	uint64_t i;

	ASSERT_EQ(0, record(GVM_KVM, fn, &self->kvm));
	ASSERT_EQ(0, record(GVM_VMXL, fn, &self->vmxl));
	dump("kvm", k);
	dump("vmx-lite", t);
	ASSERT_EQ(t->nwant, t->n);
	for (i = 0; i < t->n; i++) {
		EXPECT_EQ(1, t->log[i].vector) TH_LOG("#%lu", (unsigned long)i);
		EXPECT_EQ(t->want[i], t->log[i].rip) TH_LOG("#%lu", (unsigned long)i);
		EXPECT_EQ(t->want_dr6[i], t->log[i].dr6) TH_LOG("#%lu", (unsigned long)i);
		EXPECT_EQ(t->want_rcx[i], t->log[i].rcx) TH_LOG("#%lu", (unsigned long)i);
	}
	for (i = 0; native_first && i < 3; i++) {
		ASSERT_LT(i, k->n);
		EXPECT_EQ(t->log[i].rip, k->log[i].rip);
		EXPECT_EQ(t->log[i].rcx, k->log[i].rcx);
		EXPECT_EQ(t->log[i].dr6, k->log[i].dr6);
	}
	if (k->n != t->n)
		TH_LOG("KVM took %lu #DBs, hardware %lu: KVM 6.1, as known",
		       (unsigned long)k->n, (unsigned long)t->n);
	for (i = 0; i < k->n && i < t->n; i++)
		if (k->log[i].rip != t->log[i].rip ||
		    k->log[i].rcx != t->log[i].rcx ||
		    k->log[i].dr6 != t->log[i].dr6)
			TH_LOG("#%lu: KVM's differs (rip %#lx rcx %lu dr6 %#lx)",
			       (unsigned long)i, (unsigned long)k->log[i].rip,
			       (unsigned long)k->log[i].rcx,
			       (unsigned long)k->log[i].dr6);
}

TEST_F(dbg, single_step_rep_string_per_iteration)
{
	check_rep(_metadata, self, guest_rep_single_step, true);
	ASSERT_EQ(18, self->vmxl.n);
}

TEST_F(dbg, string_memory_breakpoints)
{
	check_rep(_metadata, self, guest_string_breakpoints, false);
	ASSERT_EQ(7, self->vmxl.n);
}

/* Only the #GPs, on their instructions. */
static void check_faults(struct __test_metadata *_metadata,
			 const struct dbg_trace *t, unsigned int n)
{
	uint64_t i;

	ASSERT_EQ(n, t->nwant);
	ASSERT_EQ(t->nwant, t->n);
	for (i = 0; i < t->n; i++) {
		EXPECT_EQ(13, t->log[i].vector);
		EXPECT_EQ(t->want[i], t->log[i].rip);
	}
}

TEST_F(dbg, fault_goes_before_single_step)
{
	run_both(_metadata, self, guest_fault_steps, 0, false);
	check_faults(_metadata, &self->vmxl, 4);
}

TEST_F(dbg, dr_values)
{
	const struct dbg_trace *t = &self->vmxl;

	run_both(_metadata, self, guest_dr_values, 0, false);
	ASSERT_EQ(0, t->n);
	ASSERT_EQ(6, t->nsync);
	EXPECT_EQ(0x8000000000000000ULL, t->sync[0]);
	EXPECT_EQ(0xfffffffffffff001ULL, t->sync[1]);
	EXPECT_EQ(DR6_INIT, t->sync[2]);
	EXPECT_EQ(0x400, t->sync[4]);
	EXPECT_EQ(0x7ff, t->sync[5]);
}

TEST_F(dbg, mov_dr_at_cpl3_gp)
{
	run_both(_metadata, self, guest_mov_dr_cpl3, 0, false);
	check_faults(_metadata, &self->vmxl, 3);
}

/* An OUT under TF, for db_trap_is_an_event. */
static void guest_step_out(void)
{
	STEP("mov $0x5a, %%al", "outb %%al, $0xe4");
}

/*
 * vmx-lite completes an OUT before it exits: the #DB it owes is an event
 * in flight that GET_VCPU_EVENTS reports and SET_VCPU_EVENTS restores.
 * (KVM completes the OUT at its next RUN: there is nothing yet to see.)
 */
TEST_F(dbg, db_trap_is_an_event)
{
	struct vmxl_vcpu_events ev;
	struct vmxl_debugregs d;
	struct dbg_trace *t = &self->vmxl;
	struct gvm_exit e;
	struct gvm vm;

	ASSERT_EQ(0, gvm_hypervisor_load(GVM_VMXL));
	ASSERT_EQ(0, gvm_create(&vm, GVM_VMXL, 1));
	set_gate(&vm, 1, dbg_db_stub);
	ASSERT_EQ(0, gvm_enter_long_mode(&vm, 0, guest_step_out, 0, 0));
	ASSERT_EQ(0, gvm_run(&vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_IO, e.reason);
	ASSERT_EQ(0xe4, e.port);
	ASSERT_EQ(0, ioctl(vm.vcpu_fd[0], VMXL_GET_VCPU_EVENTS, &ev));
	EXPECT_EQ(1, ev.exception.injected);
	EXPECT_EQ(1, ev.exception.nr);
	EXPECT_EQ(0, ev.exception.has_error_code);
	ASSERT_EQ(0, ioctl(vm.vcpu_fd[0], VMXL_GET_DEBUGREGS, &d));
	EXPECT_EQ(DR6_INIT | DR6_BS, d.dr6);
	/* A restore: the same event, and nothing owed twice. */
	ASSERT_EQ(0, ioctl(vm.vcpu_fd[0], VMXL_SET_VCPU_EVENTS, &ev));
	ASSERT_EQ(0, gvm_run(&vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_UCALL, e.reason);
	EXPECT_EQ(UCALL_DONE, e.uc.cmd);
	t->n = *(uint64_t *)gvm_image_ptr(&vm, &dbg_n);
	memcpy(t->log, gvm_image_ptr(&vm, dbg_log), sizeof(t->log));
	memcpy(t->want, gvm_image_ptr(&vm, dbg_want), sizeof(t->want));
	gvm_destroy(&vm);
	gvm_hypervisor_unload(GVM_VMXL);
	ASSERT_EQ(1, t->n);
	EXPECT_EQ(t->want[0], t->log[0].rip);
	EXPECT_EQ(DR6_INIT | DR6_BS, t->log[0].dr6);
}

TEST_F(dbg, single_step_emulated_real_and_32bit)
{
	const struct dbg_trace *t = &self->vmxl;
	uint64_t i;

	ASSERT_EQ(0, record_rm(GVM_KVM, &self->kvm));
	ASSERT_EQ(0, record_rm(GVM_VMXL, &self->vmxl));
	dump("kvm", &self->kvm);
	dump("vmx-lite", &self->vmxl);
	ASSERT_EQ(ARRAY_SIZE(rm_steps), t->nwant);
	ASSERT_EQ(t->nwant, t->n);
	ASSERT_EQ(self->kvm.n, t->n);
	for (i = 0; i < t->n; i++) {
		EXPECT_EQ(t->want[i], t->log[i].rip) TH_LOG("%s", rm_steps[i].name);
		EXPECT_EQ(DR6_INIT | DR6_BS, t->log[i].dr6)
			TH_LOG("%s", rm_steps[i].name);
		EXPECT_EQ(self->kvm.log[i].dr6, t->log[i].dr6)
			TH_LOG("%s", rm_steps[i].name);
		if (rm_steps[i].kvm_differs &&
		    self->kvm.log[i].rip != t->log[i].rip) {
			TH_LOG("%s: KVM's #DB at another RIP, as known",
			       rm_steps[i].name);
			continue;
		}
		EXPECT_EQ(self->kvm.log[i].rip, t->log[i].rip)
			TH_LOG("%s", rm_steps[i].name);
	}
}

TEST_HARNESS_MAIN
