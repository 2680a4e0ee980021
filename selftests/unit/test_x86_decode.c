// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of kmod/x86_decode.c: MMIO instruction decoding, register
 * write-back, and the guest page walks, against hand-assembled bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "x86_decode.h"

/* Vector tables leave trailing expectations of error cases unset. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct vec {
	const char *name;
	enum vmxl_cpu_mode mode;
	unsigned int n;
	u8 bytes[16];
	int ret;		/* 0 or -EINVAL; the rest only when 0 */
	u8 len, is_write, size, reg, high8, ext, dst_size;
	u64 imm;
	u8 op;			/* enum vmxl_insn_op; 0 is MOV */
};

#define R VMXL_MODE_REAL
#define P32 VMXL_MODE_PROT32
#define L64 VMXL_MODE_LONG64
#define NONE VMXL_EXT_NONE
#define ZX VMXL_EXT_ZERO
#define SX VMXL_EXT_SIGN

static const struct vec vecs[] = {
	/* 16-bit code */
	{ "mov [bx],al", R, 2, { 0x88, 0x07 }, 0, 2, 1, 1, 0, 0, NONE, 1 },
	{ "mov [bx],ax", R, 2, { 0x89, 0x07 }, 0, 2, 1, 2, 0, 0, NONE, 2 },
	{ "mov [bx],eax", R, 3, { 0x66, 0x89, 0x07 }, 0, 3, 1, 4, 0, 0, NONE, 4 },
	{ "mov ah,[0x1000]", R, 4, { 0x8a, 0x26, 0x00, 0x10 }, 0, 4, 0, 1, 0, 1, NONE, 1 },
	{ "mov bh,[bx]", R, 2, { 0x8a, 0x3f }, 0, 2, 0, 1, 3, 1, NONE, 1 },
	{ "mov byte [0x1000],0x5a", R, 5, { 0xc6, 0x06, 0x00, 0x10, 0x5a }, 0, 5, 1, 1, 0, 0, NONE, 1, 0x5a },
	{ "mov word [0x1000],0x1234", R, 6, { 0xc7, 0x06, 0x00, 0x10, 0x34, 0x12 }, 0, 6, 1, 2, 0, 0, NONE, 2, 0x1234 },
	{ "mov ax,[moffs16]", R, 3, { 0xa1, 0x00, 0x10 }, 0, 3, 0, 2, 0, 0, NONE, 2 },
	{ "mov [moffs16],al", R, 3, { 0xa2, 0x00, 0x10 }, 0, 3, 1, 1, 0, 0, NONE, 1 },
	{ "a32 mov ax,[moffs32]", R, 6, { 0x67, 0xa1, 0, 0x10, 0, 0 }, 0, 6, 0, 2, 0, 0, NONE, 2 },
	{ "movzx ax,byte [bx]", R, 3, { 0x0f, 0xb6, 0x07 }, 0, 3, 0, 1, 0, 0, ZX, 2 },
	{ "movsx eax,word [bx]", R, 4, { 0x66, 0x0f, 0xbf, 0x07 }, 0, 4, 0, 2, 0, 0, SX, 4 },
	{ "mov ax,[bx+0x10]", R, 3, { 0x8b, 0x47, 0x10 }, 0, 3, 0, 2, 0, 0, NONE, 2 },
	{ "mov ax,[bx+0x1000]", R, 4, { 0x8b, 0x87, 0x00, 0x10 }, 0, 4, 0, 2, 0, 0, NONE, 2 },
	{ "mov dx,[bx]", R, 2, { 0x8b, 0x17 }, 0, 2, 0, 2, 2, 0, NONE, 2 },
	{ "es mov [bx],ax", R, 3, { 0x26, 0x89, 0x07 }, 0, 3, 1, 2, 0, 0, NONE, 2 },
	{ "mov ax,ax (no memory)", R, 2, { 0x89, 0xc0 }, -EINVAL },
	{ "c7 /1 is not mov", R, 6, { 0xc7, 0x0e, 0, 0x10, 0, 0 }, -EINVAL },
	{ "lock mov", R, 3, { 0xf0, 0x89, 0x07 }, -EINVAL },
	{ "arpl outside 64-bit", R, 2, { 0x63, 0x07 }, -EINVAL },
	{ "nop", R, 1, { 0x90 }, -EINVAL },
	{ "add [bx],al", R, 2, { 0x00, 0x07 }, 0, 2, 1, 1, 0, 0, NONE, 1, 0, VMXL_OP_ADD },
	{ "add al,[bx] (register destination)", R, 2, { 0x02, 0x07 }, -EINVAL },
	{ "lock cmp", R, 3, { 0xf0, 0x39, 0x07 }, -EINVAL },
	{ "lock test", R, 3, { 0xf0, 0x85, 0x07 }, -EINVAL },
	{ "lock bt", R, 4, { 0xf0, 0x0f, 0xa3, 0x07 }, -EINVAL },
	{ "lock movsb", R, 2, { 0xf0, 0xa4 }, -EINVAL },
	{ "f6 /2 (not) is refused", R, 2, { 0xf6, 0x17 }, -EINVAL },
	{ "0f ba /3 is refused", R, 4, { 0x0f, 0xba, 0x1f, 1 }, -EINVAL },
	{ "sbb [bx],dx", R, 2, { 0x19, 0x17 }, 0, 2, 1, 2, 2, 0, NONE, 2, 0, VMXL_OP_SBB },
	{ "or [bx],ah", R, 2, { 0x08, 0x27 }, 0, 2, 1, 1, 0, 1, NONE, 1, 0, VMXL_OP_OR },
	{ "xchg [bx],bh", R, 2, { 0x86, 0x3f }, 0, 2, 1, 1, 3, 1, NONE, 1, 0, VMXL_OP_XCHG },
	{ "and word [bx],0x8001", R, 4, { 0x81, 0x27, 0x01, 0x80 }, 0, 4, 1, 2, 0, 0, NONE, 2, 0x8001, VMXL_OP_AND },
	{ "0f 0b (ud2)", R, 2, { 0x0f, 0x0b }, -EINVAL },
	/* 32-bit code */
	{ "mov [ebx],eax", P32, 2, { 0x89, 0x03 }, 0, 2, 1, 4, 0, 0, NONE, 4 },
	{ "mov [esp],eax", P32, 3, { 0x89, 0x04, 0x24 }, 0, 3, 1, 4, 0, 0, NONE, 4 },
	{ "mov [disp32+esi],eax", P32, 7, { 0x89, 0x04, 0x35, 0, 0, 0, 0xfe }, 0, 7, 1, 4, 0, 0, NONE, 4 },
	{ "mov [disp32],eax", P32, 6, { 0x89, 0x05, 0, 0, 0xe0, 0xfe }, 0, 6, 1, 4, 0, 0, NONE, 4 },
	{ "mov [esp+8],eax", P32, 4, { 0x89, 0x44, 0x24, 0x08 }, 0, 4, 1, 4, 0, 0, NONE, 4 },
	{ "mov [esp+0x100],eax", P32, 7, { 0x89, 0x84, 0x24, 0, 1, 0, 0 }, 0, 7, 1, 4, 0, 0, NONE, 4 },
	{ "mov [ebx],ax", P32, 3, { 0x66, 0x89, 0x03 }, 0, 3, 1, 2, 0, 0, NONE, 2 },
	{ "a16 mov [bx],eax", P32, 3, { 0x67, 0x89, 0x07 }, 0, 3, 1, 4, 0, 0, NONE, 4 },
	{ "mov dword [disp32],imm32", P32, 10, { 0xc7, 0x05, 0, 0, 0xe0, 0xfe, 0x78, 0x56, 0x34, 0x12 }, 0, 10, 1, 4, 0, 0, NONE, 4, 0x12345678 },
	{ "mov [moffs32],eax", P32, 5, { 0xa3, 0, 0, 0xe0, 0xfe }, 0, 5, 1, 4, 0, 0, NONE, 4 },
	{ "mov edi,[ebx]", P32, 2, { 0x8b, 0x3b }, 0, 2, 0, 4, 7, 0, NONE, 4 },
	{ "truncated imm32", P32, 9, { 0xc7, 0x05, 0, 0, 0xe0, 0xfe, 0x78, 0x56, 0x34 }, -EINVAL },
	{ "truncated sib", P32, 2, { 0x89, 0x04 }, -EINVAL },
	{ "dec eax is no rex in 32-bit", P32, 3, { 0x48, 0x89, 0x03 }, -EINVAL },
	{ "lock add [ebx],eax", P32, 3, { 0xf0, 0x01, 0x03 }, 0, 3, 1, 4, 0, 0, NONE, 4, 0, VMXL_OP_ADD },
	{ "cmp [ebx],ecx", P32, 2, { 0x39, 0x0b }, 0, 2, 0, 4, 1, 0, NONE, 4, 0, VMXL_OP_CMP },
	{ "adc dword [ebx],-2 (83)", P32, 3, { 0x83, 0x13, 0xfe }, 0, 3, 1, 4, 0, 0, NONE, 4, 0xfffffffe, VMXL_OP_ADC },
	{ "xor byte [ebx],0x80", P32, 3, { 0x80, 0x33, 0x80 }, 0, 3, 1, 1, 0, 0, NONE, 1, 0x80, VMXL_OP_XOR },
	{ "test word [ebx],0xffff", P32, 5, { 0x66, 0xf7, 0x03, 0xff, 0xff }, 0, 5, 0, 2, 0, 0, NONE, 2, 0xffff, VMXL_OP_TEST },
	{ "test byte [ebx],1 (f6 /1)", P32, 3, { 0xf6, 0x0b, 0x01 }, 0, 3, 0, 1, 0, 0, NONE, 1, 1, VMXL_OP_TEST },
	{ "sub dword [disp32],imm32", P32, 10, { 0x81, 0x2d, 0, 0, 0xe0, 0xfe, 0x78, 0x56, 0x34, 0x12 }, 0, 10, 1, 4, 0, 0, NONE, 4, 0x12345678, VMXL_OP_SUB },
	{ "bt [ebx],eax", P32, 3, { 0x0f, 0xa3, 0x03 }, 0, 3, 0, 4, 0, 0, NONE, 4, 0, VMXL_OP_BT },
	{ "bts [ebx],ax", P32, 4, { 0x66, 0x0f, 0xab, 0x03 }, 0, 4, 1, 2, 0, 0, NONE, 2, 0, VMXL_OP_BTS },
	{ "btr dword [ebx],0xff", P32, 4, { 0x0f, 0xba, 0x33, 0xff }, 0, 4, 1, 4, 0, 0, NONE, 4, 0xff, VMXL_OP_BTR },
	{ "lock btc [ebx],edx", P32, 4, { 0xf0, 0x0f, 0xbb, 0x13 }, 0, 4, 1, 4, 2, 0, NONE, 4, 0, VMXL_OP_BTC },
	{ "rep movsd", P32, 2, { 0xf3, 0xa5 }, 0, 2, 1, 4, 0, 0, NONE, 4, 0, VMXL_OP_MOVS },
	{ "stosw", P32, 2, { 0x66, 0xab }, 0, 2, 1, 2, 0, 0, NONE, 2, 0, VMXL_OP_STOS },
	/* 64-bit code */
	{ "add qword [rbx],-1 (83)", L64, 4, { 0x48, 0x83, 0x03, 0xff }, 0, 4, 1, 8, 0, 0, NONE, 8, ~0ULL, VMXL_OP_ADD },
	{ "cmp qword [rbx],imm32 sign", L64, 7, { 0x48, 0x81, 0x3b, 0, 0, 0, 0x80 }, 0, 7, 0, 8, 0, 0, NONE, 8, 0xffffffff80000000ULL, VMXL_OP_CMP },
	{ "xchg [rbx],r9", L64, 3, { 0x4c, 0x87, 0x0b }, 0, 3, 1, 8, 9, 0, NONE, 8, 0, VMXL_OP_XCHG },
	{ "test [rbx],sil", L64, 3, { 0x40, 0x84, 0x33 }, 0, 3, 0, 1, 6, 0, NONE, 1, 0, VMXL_OP_TEST },
	{ "bt qword [rbx],63", L64, 5, { 0x48, 0x0f, 0xba, 0x23, 0x3f }, 0, 5, 0, 8, 0, 0, NONE, 8, 63, VMXL_OP_BT },
	{ "sub [rip+0],r15w", L64, 8, { 0x66, 0x44, 0x29, 0x3d, 0, 0, 0, 0 }, 0, 8, 1, 2, 15, 0, NONE, 2, 0, VMXL_OP_SUB },
	{ "rep stosq", L64, 3, { 0xf3, 0x48, 0xab }, 0, 3, 1, 8, 0, 0, NONE, 8, 0, VMXL_OP_STOS },
	{ "fs movsb", L64, 2, { 0x64, 0xa4 }, 0, 2, 1, 1, 0, 0, NONE, 1, 0, VMXL_OP_MOVS },
	{ "mov [rbx],rax", L64, 3, { 0x48, 0x89, 0x03 }, 0, 3, 1, 8, 0, 0, NONE, 8 },
	{ "mov [rbx],r8", L64, 3, { 0x4c, 0x89, 0x03 }, 0, 3, 1, 8, 8, 0, NONE, 8 },
	{ "mov [rbx],r12b", L64, 3, { 0x44, 0x88, 0x23 }, 0, 3, 1, 1, 12, 0, NONE, 1 },
	{ "mov [rbx],spl", L64, 3, { 0x40, 0x88, 0x23 }, 0, 3, 1, 1, 4, 0, NONE, 1 },
	{ "mov [rbx],ah", L64, 2, { 0x88, 0x23 }, 0, 2, 1, 1, 0, 1, NONE, 1 },
	{ "mov qword [rbx],-1", L64, 7, { 0x48, 0xc7, 0x03, 0xff, 0xff, 0xff, 0xff }, 0, 7, 1, 8, 0, 0, NONE, 8, ~0ULL },
	{ "mov qword [rbx],imm32 sign", L64, 7, { 0x48, 0xc7, 0x03, 0, 0, 0, 0x80 }, 0, 7, 1, 8, 0, 0, NONE, 8, 0xffffffff80000000ULL },
	{ "mov dword [rbx],imm32", L64, 6, { 0xc7, 0x03, 0, 0, 0, 0x80 }, 0, 6, 1, 4, 0, 0, NONE, 4, 0x80000000ULL },
	{ "mov eax,[rip+0x1000]", L64, 6, { 0x8b, 0x05, 0, 0x10, 0, 0 }, 0, 6, 0, 4, 0, 0, NONE, 4 },
	{ "movsxd rax,[rbx]", L64, 3, { 0x48, 0x63, 0x03 }, 0, 3, 0, 4, 0, 0, SX, 8 },
	{ "movsxd eax,[rbx]", L64, 2, { 0x63, 0x03 }, 0, 2, 0, 4, 0, 0, NONE, 4 },
	{ "movzx rax,byte [rbx]", L64, 4, { 0x48, 0x0f, 0xb6, 0x03 }, 0, 4, 0, 1, 0, 0, ZX, 8 },
	{ "movsx r9d,word [rbx]", L64, 4, { 0x44, 0x0f, 0xbf, 0x0b }, 0, 4, 0, 2, 9, 0, SX, 4 },
	{ "mov rax,[moffs64]", L64, 10, { 0x48, 0xa1, 0, 0, 0xe0, 0xfe, 0, 0, 0, 0 }, 0, 10, 0, 8, 0, 0, NONE, 8 },
	{ "a32 mov eax,[moffs32]", L64, 6, { 0x67, 0xa1, 0, 0, 0xe0, 0xfe }, 0, 6, 0, 4, 0, 0, NONE, 4 },
	{ "mov [rbx],ax", L64, 3, { 0x66, 0x89, 0x03 }, 0, 3, 1, 2, 0, 0, NONE, 2 },
	{ "rex.w beats 66", L64, 4, { 0x66, 0x48, 0x89, 0x03 }, 0, 4, 1, 8, 0, 0, NONE, 8 },
	{ "rex before 66 is dropped", L64, 4, { 0x48, 0x66, 0x89, 0x03 }, 0, 4, 1, 2, 0, 0, NONE, 2 },
	{ "mov eax,[r12]", L64, 4, { 0x41, 0x8b, 0x04, 0x24 }, 0, 4, 0, 4, 0, 0, NONE, 4 },
	{ "mov r15,[r13+0]", L64, 4, { 0x4d, 0x8b, 0x7d, 0x00 }, 0, 4, 0, 8, 15, 0, NONE, 8 },
	{ "vex is refused", L64, 4, { 0xc4, 0xe1, 0x79, 0x7e }, -EINVAL },
	{ "truncated after rex", L64, 2, { 0x48, 0x89 }, -EINVAL },
	{ "16 bytes is too long", L64, 16, { 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x89, 0x03 }, -EINVAL },
	{ "15 bytes is fine", L64, 15, { 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x26, 0x89, 0x03 }, 0, 15, 1, 4, 0, 0, NONE, 4 },
};

TEST(decode_vectors)
{
	unsigned int i;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		struct vmxl_insn insn;
		int ret;

		ret = vmxl_decode_mmio(v->bytes, v->n, v->mode, &insn);
		ASSERT_EQ(v->ret, ret) TH_LOG("%s", v->name);
		if (ret)
			continue;
		EXPECT_EQ(v->len, insn.len) TH_LOG("%s", v->name);
		EXPECT_EQ(v->is_write, insn.is_write) TH_LOG("%s", v->name);
		EXPECT_EQ(v->size, insn.size) TH_LOG("%s", v->name);
		EXPECT_EQ(v->reg, insn.reg) TH_LOG("%s", v->name);
		EXPECT_EQ(v->high8, insn.reg_high8) TH_LOG("%s", v->name);
		EXPECT_EQ(v->ext, insn.ext) TH_LOG("%s", v->name);
		EXPECT_EQ(v->dst_size, insn.dst_size) TH_LOG("%s", v->name);
		EXPECT_EQ(v->op, insn.op) TH_LOG("%s", v->name);
		if (v->imm || insn.has_imm)
			EXPECT_EQ(v->imm, insn.imm) TH_LOG("%s", v->name);
	}
}

/* Decode @bytes in @mode, then complete a load of @data into @regs. */
static u64 load(enum vmxl_cpu_mode mode, const u8 *bytes, unsigned int n,
		unsigned int reg, u64 before, u64 data)
{
	struct vmxl_insn insn;
	u64 regs[16] = {};

	regs[reg] = before;
	if (vmxl_decode_mmio(bytes, n, mode, &insn))
		return 0xbad;
	vmxl_mmio_complete_load(&insn, regs, data);
	return regs[reg];
}

TEST(load_writeback)
{
	const u64 r = 0x1122334455667788ULL;

	/* mov ah,[bx]: only bits 8-15 change */
	EXPECT_EQ(0x112233445566ab88ULL, load(R, (u8[]){ 0x8a, 0x27 }, 2, 0, r, 0xab));
	/* mov al,[bx]: only bits 0-7; stray high data bits ignored */
	EXPECT_EQ(0x11223344556677abULL, load(R, (u8[]){ 0x8a, 0x07 }, 2, 0, r, 0xffab));
	/* mov ax,[bx] */
	EXPECT_EQ(0x112233445566abcdULL, load(R, (u8[]){ 0x8b, 0x07 }, 2, 0, r, 0xabcd));
	/* mov eax,[ebx] zero-extends into rax */
	EXPECT_EQ(0xdeadbeefULL, load(L64, (u8[]){ 0x8b, 0x03 }, 2, 0, r, 0xdeadbeef));
	/* mov rax,[rbx] */
	EXPECT_EQ(0x8877665544332211ULL, load(L64, (u8[]){ 0x48, 0x8b, 0x03 }, 3, 0, r, 0x8877665544332211ULL));
	/* movsx eax,byte: sign to 32 bits, zero above */
	EXPECT_EQ(0xffffff80ULL, load(P32, (u8[]){ 0x0f, 0xbe, 0x03 }, 3, 0, r, 0x80));
	/* movsxd rax,dword */
	EXPECT_EQ(0xffffffff80000000ULL, load(L64, (u8[]){ 0x48, 0x63, 0x03 }, 3, 0, r, 0x80000000));
	/* movzx ax,byte keeps bits 16-63 */
	EXPECT_EQ(0x11223344556600ffULL, load(R, (u8[]){ 0x0f, 0xb6, 0x07 }, 3, 0, r, 0xff));
	/* movsx ax,byte */
	EXPECT_EQ(0x112233445566ff80ULL, load(R, (u8[]){ 0x0f, 0xbe, 0x07 }, 3, 0, r, 0x80));
	/* mov r10,[rbx] into r10 */
	EXPECT_EQ(0x42ULL, load(L64, (u8[]){ 0x4c, 0x8b, 0x13 }, 3, 10, r, 0x42));
}

TEST(store_value)
{
	u64 regs[16] = {};
	struct vmxl_insn insn;

	regs[3] = 0x1234;		/* bx */
	regs[0] = 0xaabbccdd11223344ULL;
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x88, 0x3f }, 2, R, &insn));
	EXPECT_EQ(0x12ULL, vmxl_mmio_store_value(&insn, regs));	/* bh */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x89, 0x07 }, 2, R, &insn));
	EXPECT_EQ(0x3344ULL, vmxl_mmio_store_value(&insn, regs));
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x48, 0x89, 0x03 }, 3, L64, &insn));
	EXPECT_EQ(0xaabbccdd11223344ULL, vmxl_mmio_store_value(&insn, regs));
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0xc6, 0x03, 0x99 }, 3, L64, &insn));
	EXPECT_EQ(0x99ULL, vmxl_mmio_store_value(&insn, regs));
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x66, 0xc7, 0x03, 0xfe, 0xca }, 5, L64, &insn));
	EXPECT_EQ(0xcafeULL, vmxl_mmio_store_value(&insn, regs));
}

TEST(string_fields)
{
	struct vmxl_insn insn;

	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x67, 0xf2, 0x64, 0xa4 }, 4, L64, &insn));
	EXPECT_EQ(VMXL_OP_MOVS, insn.op);
	EXPECT_EQ(1, insn.rep);		/* F2 repeats MOVS as F3 does */
	EXPECT_EQ(4, insn.addr_size);
	EXPECT_EQ(4, insn.seg);		/* FS */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0xab }, 1, R, &insn));
	EXPECT_EQ(0, insn.rep);
	EXPECT_EQ(2, insn.addr_size);
	EXPECT_EQ(-1, insn.seg);
	EXPECT_EQ(2, insn.size);
	/* REP means nothing to other instructions */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0xf3, 0x01, 0x03 }, 3, L64, &insn));
	EXPECT_EQ(0, insn.rep);
}

/* ---- read-modify-write emulation against the host's own ALU ---- */

#define ARITH	VMXL_FLAGS_ARITH
#define CF	0x001ULL
#define ZF	0x040ULL

/*
 * host_<op><bits>(d, s, &rflags): the instruction run on this CPU, with
 * its arithmetic flags in and out. Operands in registers (no stack
 * operand: the pushes below the red zone would move them).
 */
#define HOST_FN(mn, sfx, T, bits)					\
static u64 host_##mn##bits(u64 d, u64 s, u64 *fl)			\
{									\
	T dd = d, ss = s;						\
	u64 f = *fl;							\
	asm volatile("add $-128, %%rsp; push %[f]; popf; "		\
		     #mn sfx " %[s], %[d]; pushf; pop %[f]; sub $-128, %%rsp" \
		     : [d] "+r" (dd), [f] "+r" (f) : [s] "r" (ss) : "cc");	\
	*fl = f;							\
	return dd;							\
}
#define HOST_FNS(mn)							\
	HOST_FN(mn, "b", u8, 8) HOST_FN(mn, "w", u16, 16)		\
	HOST_FN(mn, "l", u32, 32) HOST_FN(mn, "q", u64, 64)
#define HOST_FNS_NO8(mn)						\
	HOST_FN(mn, "w", u16, 16) HOST_FN(mn, "l", u32, 32)		\
	HOST_FN(mn, "q", u64, 64)

HOST_FNS(add) HOST_FNS(or) HOST_FNS(adc) HOST_FNS(sbb) HOST_FNS(and)
HOST_FNS(sub) HOST_FNS(xor) HOST_FNS(cmp) HOST_FNS(test)
HOST_FNS_NO8(bt) HOST_FNS_NO8(bts) HOST_FNS_NO8(btr) HOST_FNS_NO8(btc)

typedef u64 (*host_fn)(u64, u64, u64 *);
#define ROW(mn) { host_##mn##8, host_##mn##16, host_##mn##32, host_##mn##64 }
#define ROW_NO8(mn) { NULL, host_##mn##16, host_##mn##32, host_##mn##64 }

static const struct {
	const char *name;
	u8 op;
	bool writes;
	host_fn fn[4];		/* by size: 1, 2, 4, 8 bytes */
} alu_ops[] = {
	{ "add", VMXL_OP_ADD, true, ROW(add) },
	{ "or", VMXL_OP_OR, true, ROW(or) },
	{ "adc", VMXL_OP_ADC, true, ROW(adc) },
	{ "sbb", VMXL_OP_SBB, true, ROW(sbb) },
	{ "and", VMXL_OP_AND, true, ROW(and) },
	{ "sub", VMXL_OP_SUB, true, ROW(sub) },
	{ "xor", VMXL_OP_XOR, true, ROW(xor) },
	{ "cmp", VMXL_OP_CMP, false, ROW(cmp) },
	{ "test", VMXL_OP_TEST, false, ROW(test) },
	{ "bt", VMXL_OP_BT, false, ROW_NO8(bt) },
	{ "bts", VMXL_OP_BTS, true, ROW_NO8(bts) },
	{ "btr", VMXL_OP_BTR, true, ROW_NO8(btr) },
	{ "btc", VMXL_OP_BTC, true, ROW_NO8(btc) },
};

static const u64 alu_vals[] = {
	0, 1, 2, 0x0f, 0x10, 0x3f, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x100,
	0x7fff, 0x8000, 0x8001, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
	0x80000001, 0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
	0x8000000000000000ULL, 0x8000000000000001ULL, 0xfffffffffffffffeULL,
	~0ULL, 0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL,
	0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0x00000000deadbeefULL,
};

/*
 * Every op at every size, on every pair of values, with CF in and the
 * other flags in both ways, against the instruction run on the host
 * (the memory operand is @d; the source @s comes from a register or an
 * immediate). The flags compared are the defined ones: all six of ALU
 * ops (AF of the logic ops, undefined, is 0 on every CPU seen), CF and
 * ZF of BT (ZF unaffected, the others undefined).
 */
TEST(rmw_every_op_and_size_vs_host)
{
	static const u8 sizes[] = { 1, 2, 4, 8 };
	unsigned int o, z, i, j, k, bad = 0, n = 0;
	const unsigned int nv = sizeof(alu_vals) / sizeof(alu_vals[0]);

	for (o = 0; o < sizeof(alu_ops) / sizeof(alu_ops[0]); o++) {
		for (z = 0; z < 4; z++) {
			struct vmxl_insn insn = {
				.op = alu_ops[o].op, .size = sizes[z],
				.dst_size = sizes[z], .reg = 1,
				.is_write = alu_ops[o].writes,
			};
			bool bit = alu_ops[o].op >= VMXL_OP_BT;
			u64 mask = bit ? CF | ZF : ARITH;

			if (!alu_ops[o].fn[z])
				continue;
			for (i = 0; i < nv; i++)
			for (j = 0; j < nv; j++)
			for (k = 0; k < 4; k++) {
				u64 regs[16] = { 0 }, fl, hfl, want, got;

				fl = 0x202 | ((k & 1) ? CF : 0) |
				     ((k & 2) ? ARITH & ~CF : 0);
				hfl = fl;
				regs[1] = alu_vals[j];
				want = alu_ops[o].fn[z](alu_vals[i], alu_vals[j],
							&hfl);
				got = vmxl_emulate_rmw(&insn, regs, &fl,
						       alu_vals[i]);
				n++;
				if (!alu_ops[o].writes)
					got = alu_vals[i];	/* not written */
				if ((got ^ want) & (sizes[z] == 8 ? ~0ULL :
				     (1ULL << (sizes[z] * 8)) - 1) ||
				    ((fl ^ hfl) & mask) ||
				    ((fl ^ (0x202 | ((k & 1) ? CF : 0) |
					    ((k & 2) ? ARITH & ~CF : 0))) &
				     ~ARITH)) {
					if (bad++ < 10)
						TH_LOG("%s%u %#llx,%#llx cf%u: %#llx fl %#llx, host %#llx fl %#llx",
						       alu_ops[o].name, sizes[z] * 8,
						       (unsigned long long)alu_vals[i],
						       (unsigned long long)alu_vals[j], k,
						       (unsigned long long)got,
						       (unsigned long long)fl,
						       (unsigned long long)want,
						       (unsigned long long)hfl);
				}
			}
		}
	}
	EXPECT_EQ(0, bad);
	EXPECT_LT(50000, n);
}

/* A few by hand, from the SDM's definitions, and the register forms. */
TEST(rmw_known_results)
{
	u64 regs[16] = { 0 }, fl;
	struct vmxl_insn insn;

	/* add byte [ebx],0x80 on 0x80: 0, CF OF ZF PF */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x80, 0x03, 0x80 }, 3, P32, &insn));
	fl = 0x2;
	EXPECT_EQ(0x00ULL, vmxl_emulate_rmw(&insn, regs, &fl, 0x80));
	EXPECT_EQ(0x2ULL | 0x1 | 0x800 | 0x40 | 0x4, fl);
	/* sub word [ebx],1 on 0: 0xffff, CF SF AF PF */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x66, 0x83, 0x2b, 0x01 }, 4, P32, &insn));
	fl = 0x2;
	EXPECT_EQ(0xffffULL, vmxl_emulate_rmw(&insn, regs, &fl, 0));
	EXPECT_EQ(0x2ULL | 0x1 | 0x80 | 0x10 | 0x4, fl);
	/* adc [rbx],rcx with CF: 0x7fff..ff + 0 + 1 overflows */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x48, 0x11, 0x0b }, 3, L64, &insn));
	fl = 0x3;
	regs[1] = 0;
	EXPECT_EQ(0x8000000000000000ULL,
		  vmxl_emulate_rmw(&insn, regs, &fl, 0x7fffffffffffffffULL));
	EXPECT_EQ(0x2ULL | 0x800 | 0x80 | 0x10 | 0x4, fl);
	/* xor [rbx],ah: AH is the source */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x30, 0x23 }, 2, L64, &insn));
	regs[0] = 0xf00;
	fl = 0x2 | 0x10;
	EXPECT_EQ(0xffULL, vmxl_emulate_rmw(&insn, regs, &fl, 0xf0));
	EXPECT_EQ(0x2ULL | 0x80 | 0x4, fl);	/* AF cleared */
	/* xchg [rbx],eax: EAX zero-extends; memory gets the old EAX */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x87, 0x03 }, 2, L64, &insn));
	regs[0] = 0xffffffff12345678ULL;
	fl = 0x2;
	EXPECT_EQ(0x12345678ULL, vmxl_emulate_rmw(&insn, regs, &fl, 0xabcdef01));
	EXPECT_EQ(0xabcdef01ULL, regs[0]);
	EXPECT_EQ(0x2ULL, fl);
	/* xchg [rbx],ch: only CH changes */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x86, 0x2b }, 2, L64, &insn));
	regs[1] = 0x1122334455667788ULL;
	EXPECT_EQ(0x77ULL, vmxl_emulate_rmw(&insn, regs, &fl, 0x99));
	EXPECT_EQ(0x1122334455669988ULL, regs[1]);
	/* bts dword [rbx],eax with EAX=100: bit 100 & 31 = 4 of this dword */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x0f, 0xab, 0x03 }, 3, L64, &insn));
	regs[0] = 100;
	fl = 0x2 | 0x40;
	EXPECT_EQ(0x10ULL, vmxl_emulate_rmw(&insn, regs, &fl, 0));
	EXPECT_EQ(0x2ULL | 0x40, fl);		/* CF=0, ZF kept */
	/* btc qword [rbx],63 (imm) */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0x48, 0x0f, 0xba, 0x3b, 0x3f }, 5, L64, &insn));
	fl = 0x2;
	EXPECT_EQ(0x7fffffffffffffffULL, vmxl_emulate_rmw(&insn, regs, &fl, ~0ULL));
	EXPECT_EQ(0x3ULL, fl);
	/* test byte [rbx],0x81 (f6) on 0x80: SF, not written */
	ASSERT_EQ(0, vmxl_decode_mmio((u8[]){ 0xf6, 0x03, 0x81 }, 3, L64, &insn));
	EXPECT_EQ(0, insn.is_write);
	fl = 0x2 | 0x801;
	vmxl_emulate_rmw(&insn, regs, &fl, 0x80);
	EXPECT_EQ(0x2ULL | 0x80, fl);
}

/* ---- page walks over a fake guest memory ---- */

#define MEM_SIZE (1u << 20)
static u8 *mem;

static int fake_read(void *opaque, u64 gpa, void *buf, unsigned int len)
{
	(void)opaque;
	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
		return -EFAULT;
	memcpy(buf, mem + gpa, len);
	return 0;
}

static void put64(u64 gpa, u64 v) { memcpy(mem + gpa, &v, 8); }
static void put32(u64 gpa, u32 v) { memcpy(mem + gpa, &v, 4); }

static struct vmxl_walk_ctx ctx(u64 cr0, u64 cr3, u64 cr4, u64 efer)
{
	struct vmxl_walk_ctx c = { cr0, cr3, cr4, efer, fake_read, NULL };

	return c;
}

#define PE 1ULL
#define PG (1ULL << 31)
#define PSE (1ULL << 4)
#define PAE (1ULL << 5)
#define LA57 (1ULL << 12)
#define LMA (1ULL << 10)

FIXTURE(walk) { int unused; };
FIXTURE_SETUP(walk)
{
	(void)self;
	mem = calloc(1, MEM_SIZE);
	ASSERT_NE(NULL, mem);
}
FIXTURE_TEARDOWN(walk)
{
	(void)self;
	free(mem);
}

TEST_F(walk, no_paging)
{
	struct vmxl_walk_ctx c = ctx(PE, 0, 0, 0);
	u64 gpa;

	(void)self;
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, 0x1234567890ULL, &gpa));
	EXPECT_EQ(0x34567890ULL, gpa);
	c = ctx(0, 0x1000, 0, 0);	/* PG without PE never happens: no walk */
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, 0xffff0, &gpa));
	EXPECT_EQ(0xffff0ULL, gpa);
}

TEST_F(walk, long_mode_4level)
{
	u64 gva = 0x00007f1234567abcULL, gpa;
	struct vmxl_walk_ctx c = ctx(PE | PG, 0x1000, PAE, LMA);

	(void)self;
	put64(0x1000 + ((gva >> 39) & 511) * 8, 0x2000 | 3);
	put64(0x2000 + ((gva >> 30) & 511) * 8, 0x3000 | 3);
	put64(0x3000 + ((gva >> 21) & 511) * 8, 0x4000 | 3);
	put64(0x4000 + ((gva >> 12) & 511) * 8, 0x8000000123456000ULL | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x123456abcULL, gpa);	/* NX bit is not address */

	/* 2 MiB page */
	put64(0x3000 + ((gva >> 21) & 511) * 8, 0x40000000ULL | 0x80 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x40000000ULL | (gva & 0x1fffff), gpa);

	/* 1 GiB page */
	put64(0x2000 + ((gva >> 30) & 511) * 8, 0x80000000ULL | 0x80 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x80000000ULL | (gva & 0x3fffffff), gpa);

	/* not present */
	put64(0x1000 + ((gva >> 39) & 511) * 8, 0x2000);
	EXPECT_EQ(-EFAULT, vmxl_gva_to_gpa(&c, gva, &gpa));

	/* table outside guest memory */
	put64(0x1000 + ((gva >> 39) & 511) * 8, 0x7000000000ULL | 1);
	EXPECT_EQ(-EFAULT, vmxl_gva_to_gpa(&c, gva, &gpa));
}

TEST_F(walk, long_mode_5level)
{
	u64 gva = 0xff12345678901000ULL | 0x123, gpa;
	struct vmxl_walk_ctx c = ctx(PE | PG, 0x1000, PAE | LA57, LMA);

	(void)self;
	put64(0x1000 + ((gva >> 48) & 511) * 8, 0x2000 | 1);
	put64(0x2000 + ((gva >> 39) & 511) * 8, 0x3000 | 1);
	put64(0x3000 + ((gva >> 30) & 511) * 8, 0x4000 | 1);
	put64(0x4000 + ((gva >> 21) & 511) * 8, 0x5000 | 1);
	put64(0x5000 + ((gva >> 12) & 511) * 8, 0x9000 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x9123ULL, gpa);
}

TEST_F(walk, pae)
{
	u64 gva = 0xc0345678, gpa;
	struct vmxl_walk_ctx c = ctx(PE | PG, 0x1020, PAE, 0);

	(void)self;
	put64(0x1020 + 3 * 8, 0x2000 | 1);
	put64(0x2000 + ((gva >> 21) & 511) * 8, 0x3000 | 1);
	put64(0x3000 + ((gva >> 12) & 511) * 8, 0xabcde000ULL | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0xabcde678ULL, gpa);
	put64(0x2000 + ((gva >> 21) & 511) * 8, 0x12200000ULL | 0x80 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x12200000ULL | (gva & 0x1fffff), gpa);
	put64(0x1020 + 3 * 8, 0);
	EXPECT_EQ(-EFAULT, vmxl_gva_to_gpa(&c, gva, &gpa));
}

TEST_F(walk, legacy_32bit)
{
	u64 gva = 0x80402abc, gpa;
	struct vmxl_walk_ctx c = ctx(PE | PG, 0x1000, 0, 0);

	(void)self;
	put32(0x1000 + (gva >> 22) * 4, 0x2000 | 1);
	put32(0x2000 + ((gva >> 12) & 1023) * 4, 0x77777000 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x77777abcULL, gpa);

	/* PS without CR4.PSE is ignored: still a 4 KiB walk */
	put32(0x1000 + (gva >> 22) * 4, 0x2000 | 0x80 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x77777abcULL, gpa);

	/* 4 MiB page with PSE-36 bits 32-39 = 0x12 */
	c.cr4 = PSE;
	put32(0x1000 + (gva >> 22) * 4, 0xc0000000 | (0x12 << 13) | 0x80 | 1);
	ASSERT_EQ(0, vmxl_gva_to_gpa(&c, gva, &gpa));
	EXPECT_EQ(0x12c0000000ULL | (gva & 0x3fffff), gpa);
}

TEST_F(walk, fetch_across_pages)
{
	u64 gva = 0x400ff8;
	struct vmxl_walk_ctx c = ctx(PE | PG, 0x1000, 0, 0);
	unsigned int n, i;
	u8 buf[16];

	(void)self;
	for (i = 0; i < 16; i++) {
		mem[0x8ff8 + i] = (u8)(0xa0 + i);	/* end of the first page */
		mem[0x5000 + i] = (u8)(0xb0 + i);	/* start of the second */
	}
	put32(0x1000 + (gva >> 22) * 4, 0x2000 | 1);
	put32(0x2000 + ((gva >> 12) & 1023) * 4, 0x8000 | 1);
	/* second page not present: the first 8 bytes still arrive */
	EXPECT_EQ(-EFAULT, vmxl_fetch_insn(&c, gva, buf, &n));
	EXPECT_EQ(8u, n);
	EXPECT_EQ(0xa7, buf[7]);

	put32(0x2000 + (((gva >> 12) + 1) & 1023) * 4, 0x5000 | 1);
	ASSERT_EQ(0, vmxl_fetch_insn(&c, gva, buf, &n));
	ASSERT_EQ(15u, n);
	EXPECT_EQ(0xa0, buf[0]);
	EXPECT_EQ(0xa7, buf[7]);
	EXPECT_EQ(0xb0, buf[8]);	/* a different guest-physical page */
	EXPECT_EQ(0xb6, buf[14]);

	/* first page unmapped: nothing */
	put32(0x1000 + (gva >> 22) * 4, 0);
	EXPECT_EQ(-EFAULT, vmxl_fetch_insn(&c, gva, buf, &n));
	EXPECT_EQ(0u, n);
}

/* Random bytes: never read past @n, never report nonsense. */
TEST(decode_random_robustness)
{
	unsigned int i, j, n;
	struct vmxl_insn insn;
	u8 b[16];

	srandom(1);
	for (i = 0; i < 200000; i++) {
		n = random() % 17;
		for (j = 0; j < n; j++)
			b[j] = (u8)random();
		/* bias towards the opcodes we decode */
		if (n && !(i & 3))
			b[random() % n] = "\x88\x89\x8a\x8b\xc6\xc7\xa1\x63\x0f\x66\x67\x48"[random() % 12];
		if (vmxl_decode_mmio(b, n, (enum vmxl_cpu_mode)(i % 4), &insn))
			continue;
		ASSERT_LE(insn.len, n);
		ASSERT_LE(insn.len, VMXL_MAX_INSN_LEN);
		ASSERT_TRUE(insn.size == 1 || insn.size == 2 || insn.size == 4 || insn.size == 8);
		ASSERT_LT(insn.reg, 16);
		ASSERT_GE(insn.dst_size, insn.size);
	}
}

TEST_HARNESS_MAIN
