// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO by instructions beyond MOV: the read-modify-write forms (ADD, OR,
 * ADC, SBB, AND, SUB, XOR, CMP, TEST, XCHG, BT, BTS, BTR, BTC) with their
 * sizes, prefixes and immediates, and MOVS/STOS with and without REP,
 * between RAM and MMIO either way. Each form runs in a long-mode guest on
 * an identity-mapped address with no RAM behind it, on vmx-lite and on
 * KVM; the host plays a device that holds bytes like RAM, and records
 * every MMIO exit (address, size, direction, data written).
 *
 * Three things are checked per form: the exits are the expected sequence
 * (an RMW: one read, then one write of the result unless it is CMP, TEST
 * or BT; strings: per element, a read of an MMIO source, then a write of
 * an MMIO destination); the registers, flags and RAM the guest ends with
 * are what the same instruction does on this CPU to real memory holding
 * the same bytes (the oracle); and both equal the vmxl variant's, saved
 * in a file (each test runs in a process of its own).
 *
 * Flags compared: the six arithmetic flags and DF, but only CF for BT,
 * BTS, BTR, BTC, whose OF, SF, AF, PF are undefined (vmx-lite leaves them
 * alone; KVM's fastop and the oracle take whatever the CPU does). ZF,
 * which the SDM keeps, is held to that on vmx-lite only, with the
 * undefined ones: KVM's fastop runs the BT of the CPU under it, and the
 * lanes' CPUs are emulators, free in what they leave there.
 *
 * Differences with KVM that this test does not show: KVM goes round its
 * emulator between the elements of a REP string, vmx-lite round the
 * guest (the exits are the same). KVM also emulates, and vmx-lite
 * refuses as an emulation failure (other_forms_fail_cleanly): strings
 * outside 64-bit mode or from FS/GS, NOT, NEG, INC, DEC, shifts, and the
 * forms with a register destination (ADD r,r/m ...).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"

#define MMIO_GPA	0x40000000ULL	/* no RAM: every access exits */
#define DEV_SIZE	0x200		/* the device: bytes like RAM */
#define OPND		0x100		/* RMW operand: MMIO_GPA + OPND */
#define SRC		0x40		/* strings: source, destination offsets */
#define DST		0x80
#define RAM_SIZE	0x100

#define CF	0x001ULL
#define AF	0x010ULL
#define ZF	0x040ULL
#define DF	0x400ULL
#define OF	0x800ULL
#define ARITH	0x8d5ULL

struct gregs {
	uint64_t rax, rcx, rsi, rdi, rdx, fl;
};

/*
 * One form as a function the guest and the oracle both call: RAX, RCX,
 * RSI, RDI, RFLAGS in and out, the operand at RDX; R8 and R9 are scratch
 * for the REX forms. The red zone is stepped over before the pushes.
 */
#define FORM(name, insn)						\
static void name(struct gregs *r)					\
{									\
	asm volatile("add $-128, %%rsp; push %[f]; popf\n\t"		\
		     insn "\n\t"					\
		     "pushf; pop %[f]; cld; sub $-128, %%rsp"		\
		     : "+a" (r->rax), "+c" (r->rcx), "+S" (r->rsi),	\
		       "+D" (r->rdi), [f] "+r" (r->fl)			\
		     : "d" (r->rdx) : "r8", "r9", "memory", "cc");	\
}

FORM(add8, "addb %%al, (%%rdx)")
FORM(add16, "addw %%ax, (%%rdx)")
FORM(add32, "addl %%eax, (%%rdx)")
FORM(add64, "addq %%rax, (%%rdx)")
FORM(or8h, "orb %%ah, (%%rdx)")
FORM(adc32, "adcl %%eax, (%%rdx)")
FORM(sbb64, "sbbq %%rax, (%%rdx)")
FORM(sbb8, "sbbb %%al, (%%rdx)")
FORM(and16, "andw %%ax, (%%rdx)")
FORM(sub32, "subl %%eax, (%%rdx)")
FORM(xor64, "xorq %%rax, (%%rdx)")
FORM(cmp32, "cmpl %%eax, (%%rdx)")
FORM(lock_add32, "lock addl %%eax, (%%rdx)")
FORM(lock_xor16, "lock xorw %%ax, (%%rdx)")
FORM(add64_r9, "mov %%rax, %%r9; addq %%r9, (%%rdx)")
FORM(sub32_r8, "mov %%rdx, %%r8; subl %%eax, (%%r8)")
FORM(or8_r9b_r8, "mov %%rdx, %%r8; mov %%rax, %%r9; orb %%r9b, (%%r8)")
FORM(add8_i, "addb $0x80, (%%rdx)")
FORM(sub16_i, "subw $0x1234, (%%rdx)")
FORM(and32_i, "andl $0xf0f0f0f0, (%%rdx)")
FORM(or64_i8, "orq $-2, (%%rdx)")
FORM(xor64_i32, "xorq $0x7fffffff, (%%rdx)")
FORM(adc16_i8, "adcw $1, (%%rdx)")
FORM(sbb32_i8, "sbbl $-1, (%%rdx)")
FORM(cmp8_i, "cmpb $0x7f, (%%rdx)")
FORM(cmp64_i32, "cmpq $-0x80000000, (%%rdx)")
FORM(lock_sub8_i, "lock subb $1, (%%rdx)")
FORM(test8, "testb %%al, (%%rdx)")
FORM(test64, "testq %%rax, (%%rdx)")
FORM(test32_i, "testl $0x80000000, (%%rdx)")
FORM(test16_i, "testw $0x8000, (%%rdx)")
FORM(test8_i, "testb $1, (%%rdx)")
FORM(xchg8, "xchgb %%al, (%%rdx)")
FORM(xchg16, "xchgw %%ax, (%%rdx)")
FORM(xchg32, "xchgl %%eax, (%%rdx)")
FORM(xchg64, "xchgq %%rax, (%%rdx)")
FORM(lock_xchg32, "lock xchgl %%eax, (%%rdx)")
FORM(bt32, "btl %%eax, (%%rdx)")
FORM(bt64, "btq %%rax, (%%rdx)")
FORM(bts32, "btsl %%eax, (%%rdx)")
FORM(btr16, "btrw %%ax, (%%rdx)")
FORM(btc64, "btcq %%rax, (%%rdx)")
FORM(bt32_i, "btl $35, (%%rdx)")
FORM(bts64_i, "btsq $63, (%%rdx)")
FORM(lock_btr32_i, "lock btrl $0, (%%rdx)")
FORM(lock_bts32, "lock btsl %%eax, (%%rdx)")
FORM(btc16_i, "btcw $15, (%%rdx)")
FORM(movsb, "movsb")
FORM(rep_movsl, "rep movsl")
FORM(rep_movsq, "rep movsq")
FORM(rep_movsw, "rep movsw")
FORM(rep_movsb, "rep movsb")
FORM(rep_stosl, "rep stosl")
FORM(stosb, "stosb")
FORM(rep_stosq, "rep stosq")
FORM(a32_rep_stosw, "addr32 rep stosw")

struct mcase {
	const char *name;
	void (*fn)(struct gregs *r);
	uint64_t rax, rcx, fl;	/* in; fl: CF, AF, DF as needed */
	uint64_t mem;		/* RMW: what the device holds at OPND */
	int acc;		/* RMW: where it accesses, from OPND */
	uint8_t size;
	uint8_t writes;		/* RMW: the result is written */
	char src, dst;		/* strings: 'M'MIO or 'R'AM; STOS: no src */
	uint8_t rep;
};

#define RMW(n, f, a, m, sz, w, ...) \
	{ .name = n, .fn = f, .rax = a, .mem = m, .size = sz, .writes = w, ##__VA_ARGS__ }
#define STR(n, f, sz, s, d, r, c, ...) \
	{ .name = n, .fn = f, .size = sz, .src = s, .dst = d, .rep = r, .rcx = c, \
	  .rax = 0x1122334455667788ULL, ##__VA_ARGS__ }

static const struct mcase rmw_cases[] = {
	RMW("add r/m8,r8", add8, 0x80, 0x80, 1, 1),
	RMW("add r/m16,r16 (66)", add16, 0x1234, 0xedcc, 2, 1),
	RMW("add r/m32,r32", add32, 0x7fffffff, 1, 4, 1),
	RMW("add r/m64,r64 (REX.W)", add64, 1ULL << 63, 1ULL << 63, 8, 1),
	RMW("or r/m8,ah", or8h, 0x5500, 0xaa, 1, 1, .fl = AF),
	RMW("adc r/m32,r32 CF=1", adc32, 0xffffffff, 0, 4, 1, .fl = CF),
	RMW("sbb r/m64,r64 CF=1", sbb64, 0, 0, 8, 1, .fl = CF),
	RMW("sbb r/m8,r8 CF=0", sbb8, 0x81, 0x01, 1, 1),
	RMW("and r/m16,r16", and16, 0x8000, 0xffff, 2, 1, .fl = AF),
	RMW("sub r/m32,r32", sub32, 1, 0x80000000, 4, 1),
	RMW("xor r/m64,r64", xor64, ~0ULL, 0x0f0f0f0f0f0f0f0fULL, 8, 1),
	RMW("cmp r/m32,r32 (no write)", cmp32, 5, 3, 4, 0),
	RMW("lock add r/m32,r32", lock_add32, 0x10, 0xfffffff0, 4, 1),
	RMW("lock xor r/m16,r16", lock_xor16, 0xffff, 0x00ff, 2, 1),
	RMW("add r/m64,r9 (REX.R)", add64_r9, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 8, 1),
	RMW("sub [r8],r32 (REX.B)", sub32_r8, 0x80000000, 0x7fffffff, 4, 1),
	RMW("or [r8],r9b (REX.RB)", or8_r9b_r8, 0x01, 0x80, 1, 1),
	RMW("add r/m8,imm8 (80)", add8_i, 0, 0x80, 1, 1),
	RMW("sub r/m16,imm16 (66 81)", sub16_i, 0, 0x1234, 2, 1),
	RMW("and r/m32,imm32 (81)", and32_i, 0, 0x0ff00ff0, 4, 1),
	RMW("or r/m64,imm8 (83)", or64_i8, 0, 0x1, 8, 1),
	RMW("xor r/m64,imm32 (REX.W 81)", xor64_i32, 0, 0x8000000080000000ULL, 8, 1),
	RMW("adc r/m16,imm8 CF=1 (66 83)", adc16_i8, 0, 0x7ffe, 2, 1, .fl = CF),
	RMW("sbb r/m32,imm8 CF=1 (83)", sbb32_i8, 0, 0, 4, 1, .fl = CF),
	RMW("cmp r/m8,imm8 (80)", cmp8_i, 0, 0x80, 1, 0),
	RMW("cmp r/m64,imm32 (REX.W 81)", cmp64_i32, 0, 0xffffffff80000000ULL, 8, 0),
	RMW("lock sub r/m8,imm8", lock_sub8_i, 0, 0, 1, 1),
	RMW("test r/m8,r8", test8, 0x81, 0x80, 1, 0, .fl = AF | CF | OF),
	RMW("test r/m64,r64", test64, 1ULL << 63, ~0ULL, 8, 0),
	RMW("test r/m32,imm32 (f7)", test32_i, 0, 0x7fffffff, 4, 0),
	RMW("test r/m16,imm16 (66 f7)", test16_i, 0, 0x8001, 2, 0),
	RMW("test r/m8,imm8 (f6)", test8_i, 0, 0xfe, 1, 0),
	RMW("xchg r/m8,r8", xchg8, 0x1122334455667788ULL, 0x99, 1, 1),
	RMW("xchg r/m16,r16", xchg16, 0x1122334455667788ULL, 0xabcd, 2, 1),
	RMW("xchg r/m32,r32 (zero-extends)", xchg32, 0x1122334455667788ULL, 0xdeadbeef, 4, 1),
	RMW("xchg r/m64,r64", xchg64, 0x1122334455667788ULL, 0x0123456789abcdefULL, 8, 1),
	RMW("lock xchg r/m32,r32", lock_xchg32, 42, 0xfeedface, 4, 1),
	RMW("bt r/m32,r32", bt32, 5, 0x20, 4, 0),
	RMW("bt r/m64,r64 past the operand", bt64, 100, 0, 8, 0, .acc = 8),
	RMW("bts r/m32,r32 negative", bts32, ~0ULL, 0, 4, 1, .acc = -4),
	RMW("btr r/m16,r16 past the operand", btr16, 17, 0, 2, 1, .acc = 2),
	RMW("btc r/m64,r64", btc64, 63, 0x8000000000000001ULL, 8, 1),
	RMW("bt r/m32,imm8 (masked)", bt32_i, 0, 0x8, 4, 0),
	RMW("bts r/m64,imm8", bts64_i, 0, 0x1, 8, 1),
	RMW("lock btr r/m32,imm8", lock_btr32_i, 0, 0xffffffff, 4, 1),
	RMW("lock bts r/m32,r32", lock_bts32, 33, 0, 4, 1, .acc = 4),
	RMW("btc r/m16,imm8", btc16_i, 0, 0x8000, 2, 1),
};

static const struct mcase str_cases[] = {
	STR("movsb MMIO->RAM", movsb, 1, 'M', 'R', 0, 7),
	STR("rep movsl MMIO->RAM", rep_movsl, 4, 'M', 'R', 1, 3),
	STR("rep movsq RAM->MMIO", rep_movsq, 8, 'R', 'M', 1, 3),
	STR("rep movsw MMIO->MMIO", rep_movsw, 2, 'M', 'M', 1, 2),
	STR("std; rep movsb MMIO->RAM", rep_movsb, 1, 'M', 'R', 1, 3, .fl = DF),
	STR("rep stosl", rep_stosl, 4, 0, 'M', 1, 4),
	STR("stosb", stosb, 1, 0, 'M', 0, 9),
	STR("std; rep stosq", rep_stosq, 8, 0, 'M', 1, 2, .fl = DF),
	STR("addr32 rep stosw", a32_rep_stosw, 2, 0, 'M', 1,
	    0xdead000000000002ULL),
};

/* The guest's RAM for strings: the same address in guest and oracle. */
static uint8_t ram[RAM_SIZE] __attribute__((aligned(64)));

static uint8_t dev_byte(unsigned int off)
{
	return off * 37 + 11;
}

static uint8_t ram_byte(unsigned int off)
{
	return off * 53 + 7;
}

/* Fill @mem as the device is at the start of @c (volatile: no memset). */
static void dev_reset(volatile uint8_t *mem, const struct mcase *c)
{
	unsigned int i;

	for (i = 0; i < DEV_SIZE; i++)
		mem[i] = dev_byte(i);
	if (!c->fn || c->src || c->dst)
		return;
	for (i = 0; i < 8; i++)
		mem[OPND + i] = c->mem >> (8 * i);
}

static uint64_t ram_reset_then_hash(volatile uint8_t *p, bool reset)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned int i;

	for (i = 0; i < RAM_SIZE; i++) {
		if (reset)
			p[i] = ram_byte(i);
		h = (h ^ p[i]) * 0x100000001b3ULL;
	}
	return h;
}

/* The registers a form starts with, its device at @mmio. */
static void regs_in(const struct mcase *c, uint64_t mmio, struct gregs *r)
{
	uint64_t str_base = (c->fl & DF) ? 0x20 : 0;

	r->rax = c->rax;
	r->rcx = c->rcx;
	r->rdx = mmio + OPND;
	r->fl = 0x2 | c->fl;
	r->rsi = (c->src == 'M' ? mmio : (uint64_t)ram) + SRC + str_base;
	r->rdi = (c->dst == 'M' ? mmio : (uint64_t)ram) + DST + str_base;
}

/* Each form in turn: GUEST_SYNC of RAX, RCX, RSI, RDI, RFLAGS, RAM. */
static void guest_forms(uint64_t table, uint64_t n)
{
	const struct mcase *cases = (const struct mcase *)table;
	struct gregs r;
	uint64_t i;

	for (i = 0; i < n; i++) {
		regs_in(&cases[i], MMIO_GPA, &r);
		ram_reset_then_hash(ram, true);
		cases[i].fn(&r);
		GUEST_SYNC(0, r.rax);
		GUEST_SYNC(1, r.rcx);
		GUEST_SYNC(2, r.rsi);
		GUEST_SYNC(3, r.rdi);
		GUEST_SYNC(4, r.fl);
		GUEST_SYNC(5, ram_reset_then_hash(ram, false));
	}
}

#define MAX_EXITS	16

struct mexit {
	uint64_t addr, data;
	uint8_t size, write;
};

/* What one form did: its exits, then what the guest ended with. */
struct result {
	struct mexit ex[MAX_EXITS];
	unsigned int nex;
	uint64_t out[6];	/* RAX RCX RSI RDI RFLAGS RAM-hash */
};

/* A register that points into the device or RAM, made comparable. */
static uint64_t norm(uint64_t v, uint64_t mmio)
{
	if (v - mmio < DEV_SIZE)
		return (1ULL << 60) + (v - mmio);
	return v;
}

static uint64_t size_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/*
 * The expected exits of @c, from the device's bytes before and after,
 * and RAM as it starts.
 */
static void expected_exits(const struct mcase *c, const uint8_t *before,
			   const uint8_t *after, struct result *want)
{
	unsigned int i, n = c->rep ? (unsigned int)c->rcx : 1;
	int step = (c->fl & DF) ? -c->size : c->size;
	uint64_t d, base = (c->fl & DF) ? 0x20 : 0;
	struct mexit *x;

	want->nex = 0;
	if (!c->src && !c->dst) {
		x = &want->ex[want->nex++];
		*x = (struct mexit){ .addr = MMIO_GPA + OPND + c->acc,
				     .size = c->size };
		if (!c->writes)
			return;
		d = 0;
		memcpy(&d, after + OPND + c->acc, c->size);
		want->ex[want->nex++] = (struct mexit){
			.addr = x->addr, .size = c->size, .write = 1, .data = d };
		return;
	}
	for (i = 0; i < n && want->nex + 2 <= MAX_EXITS; i++) {
		uint64_t s = SRC + base + (int64_t)i * step;
		uint64_t t = DST + base + (int64_t)i * step;

		if (c->src == 'M')
			want->ex[want->nex++] = (struct mexit){
				.addr = MMIO_GPA + s, .size = c->size };
		if (c->dst == 'M') {
			d = c->rax;	/* STOS */
			if (c->src == 'M')
				memcpy(&d, before + s, 8);
			else if (c->src == 'R')
				memcpy(&d, ram + s, 8);
			want->ex[want->nex++] = (struct mexit){
				.addr = MMIO_GPA + t, .size = c->size,
				.write = 1, .data = d & size_mask(c->size) };
		}
	}
}

/*
 * Run @c on this CPU against real memory: the expected outcome. The
 * device's stand-in is below 4 GiB, for the forms with 32-bit addresses.
 */
static void oracle(const struct mcase *c, struct result *want)
{
	static uint8_t before[DEV_SIZE], *mem;
	struct gregs r;

	memset(want, 0, sizeof(*want));
	if (!mem) {
		mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (mem == MAP_FAILED)
			abort();
	}

	dev_reset(mem, c);
	memcpy(before, mem, DEV_SIZE);
	ram_reset_then_hash(ram, true);
	regs_in(c, (uint64_t)mem, &r);
	c->fn(&r);
	want->out[0] = r.rax;
	want->out[1] = r.rcx;
	want->out[2] = norm(r.rsi, (uint64_t)mem);
	want->out[3] = norm(r.rdi, (uint64_t)mem);
	want->out[4] = r.fl;
	want->out[5] = ram_reset_then_hash(ram, false);
	/* the source, for RAM->MMIO: as it was */
	ram_reset_then_hash(ram, true);
	expected_exits(c, before, mem, want);
}

static uint64_t flag_mask(const struct mcase *c)
{
	if (c->fn == bt32 || c->fn == bt64 || c->fn == bts32 ||
	    c->fn == btr16 || c->fn == btc64 || c->fn == bt32_i ||
	    c->fn == bts64_i || c->fn == lock_btr32_i || c->fn == lock_bts32 ||
	    c->fn == btc16_i)
		return CF;
	return ARITH | DF;
}

static bool is_bt(const struct mcase *c)
{
	return flag_mask(c) == CF;
}

static bool results_io(const char *name, struct result *res, size_t n,
		       bool save)
{
	char path[128];
	FILE *f;
	size_t got;

	snprintf(path, sizeof(path), "/tmp/test_mmio_insn.%s", name);
	f = fopen(path, save ? "w" : "r");
	if (!f)
		return false;
	got = save ? fwrite(res, sizeof(*res), n, f) :
		     fread(res, sizeof(*res), n, f);
	return !fclose(f) && got == n;
}

static void exit_str(const struct mexit *x, char *buf, size_t len)
{
	snprintf(buf, len, "%s %u @%#llx data %#llx", x->write ? "W" : "R",
		 x->size, (unsigned long long)x->addr,
		 (unsigned long long)x->data);
}

/*
 * Run @cases in the guest with the host as the device; check each
 * against the oracle and, past the vmxl variant, against vmxl's.
 */
static void run_forms(struct __test_metadata *_metadata, struct gvm *vm,
		      enum gvm_kind kind, const char *name,
		      const struct mcase *cases, unsigned int n)
{
	static struct result res[64], vmxl_res[64];
	static uint8_t dev[DEV_SIZE];
	bool first = kind == GVM_VMXL, compare = false;
	unsigned int i, j, bad = 0;
	struct gvm_exit e;
	char b1[96], b2[96];

	ASSERT_GE(64, n);
	if (!first) {
		compare = results_io(name, vmxl_res, n, false);
		if (!compare)
			TH_LOG("no results of the vmxl variant to compare with");
	}
	ASSERT_EQ(0, gvm_enter_long_mode(vm, 0, guest_forms,
					 (uint64_t)cases, n));
	for (i = 0; i < n; i++) {
		const struct mcase *c = &cases[i];
		struct result *got = &res[i], want;
		uint64_t mask = flag_mask(c);

		memset(got, 0, sizeof(*got));
		dev_reset(dev, c);
		for (j = 0; j < 6;) {
			ASSERT_EQ(0, gvm_run(vm, 0, &e));
			if (e.reason == GVM_EXIT_MMIO) {
				uint64_t off = e.addr - MMIO_GPA, d = 0;

				ASSERT_GT(DEV_SIZE - 8, off)
					TH_LOG("%s: %s", c->name,
					       gvm_exit_str(&e, b1, sizeof(b1)));
				ASSERT_GT(MAX_EXITS, got->nex)
					TH_LOG("%s: too many exits", c->name);
				if (e.write) {
					memcpy(dev + off, &e.data, e.size);
				} else {
					memcpy(&d, dev + off, e.size);
					gvm_complete_read(vm, 0, d);
				}
				got->ex[got->nex++] = (struct mexit){
					.addr = e.addr, .size = e.size,
					.write = e.write,
					.data = e.write ?
						e.data & size_mask(e.size) : 0 };
				continue;
			}
			ASSERT_EQ(GVM_EXIT_UCALL, e.reason)
				TH_LOG("%s: %s", c->name,
				       gvm_exit_str(&e, b1, sizeof(b1)));
			ASSERT_EQ(UCALL_SYNC, e.uc.cmd)
				TH_LOG("%s: %s", c->name,
				       gvm_ucall_str(&e.uc, b1, sizeof(b1)));
			ASSERT_EQ(j, e.uc.args[0]);
			got->out[j++] = e.uc.args[1];
		}
		got->out[2] = norm(got->out[2], MMIO_GPA);
		got->out[3] = norm(got->out[3], MMIO_GPA);

		oracle(c, &want);
		/* the exit sequence */
		EXPECT_EQ(want.nex, got->nex) {
			bad++;
			TH_LOG("%s: %u exits, want %u", c->name, got->nex,
			       want.nex);
		}
		for (j = 0; j < want.nex && j < got->nex; j++) {
			exit_str(&got->ex[j], b1, sizeof(b1));
			exit_str(&want.ex[j], b2, sizeof(b2));
			EXPECT_STREQ(b2, b1) {
				bad++;
				TH_LOG("%s: exit %u", c->name, j);
			}
		}
		/* registers, flags, RAM */
		for (j = 0; j < 6; j++) {
			uint64_t m = j == 4 ? mask : ~0ULL;

			EXPECT_EQ(want.out[j] & m, got->out[j] & m) {
				bad++;
				TH_LOG("%s: out[%u] %#llx, oracle %#llx",
				       c->name, j,
				       (unsigned long long)got->out[j],
				       (unsigned long long)want.out[j]);
			}
		}
		/* BT keeps ZF (and vmx-lite the undefined flags) */
		if (kind == GVM_VMXL && is_bt(c))
			EXPECT_EQ(0x2ULL | c->fl, got->out[4] & ~CF & ~0x200ULL)
				TH_LOG("%s: flags %#llx", c->name,
				       (unsigned long long)got->out[4]);
		if (!compare)
			continue;
		got->out[4] &= mask;
		vmxl_res[i].out[4] &= mask;
		EXPECT_EQ(0, memcmp(got, &vmxl_res[i], sizeof(*got)))
			TH_LOG("%s: differs from vmx-lite's", c->name);
	}
	ASSERT_UCALL(vm, 0, &e, UCALL_DONE);
	if (first)
		ASSERT_TRUE(results_io(name, res, n, true));
	EXPECT_EQ(0, bad);
}

GVM_TEST_SUITE(mi, 1);

TEST_F(mi, rmw_forms)
{
	run_forms(_metadata, &self->vm, variant->kind, "rmw", rmw_cases,
		  sizeof(rmw_cases) / sizeof(rmw_cases[0]));
}

TEST_F(mi, string_forms)
{
	run_forms(_metadata, &self->vm, variant->kind, "str", str_cases,
		  sizeof(str_cases) / sizeof(str_cases[0]));
}

/* NOT r/m (F7 /2) is not emulated on MMIO: a clean emulation failure. */
static void guest_not(uint64_t a0, uint64_t a1)
{
	(void)a0;
	(void)a1;
	asm volatile("notl (%0)" : : "r" (MMIO_GPA + OPND) : "memory");
}

TEST_F(mi, other_forms_fail_cleanly)
{
	struct gvm_exit e;
	char b[128];

	if (variant->kind != GVM_VMXL)
		SKIP(return, "KVM emulates NOT on MMIO; vmx-lite does not");
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_not, 0, 0));
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_OTHER, e.reason) TH_LOG("%s",
					gvm_exit_str(&e, b, sizeof(b)));
	EXPECT_EQ(VMXL_EXIT_INTERNAL_ERROR, e.raw);
}

TEST_HARNESS_MAIN
