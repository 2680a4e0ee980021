/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough x86 instruction decoding for MMIO exits, and the guest page
 * table walk needed to fetch the instruction. Vendor-neutral and free of
 * kernel dependencies: the host unit tests build x86_decode.c unchanged.
 */
#ifndef VMXL_X86_DECODE_H
#define VMXL_X86_DECODE_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include "host_compat.h"
#endif

#define VMXL_MAX_INSN_LEN	15

enum vmxl_cpu_mode {
	VMXL_MODE_REAL,		/* real or virtual-8086 mode */
	VMXL_MODE_PROT16,	/* protected mode, 16-bit code segment */
	VMXL_MODE_PROT32,	/* protected mode, 32-bit code segment */
	VMXL_MODE_LONG64,	/* 64-bit mode */
};

enum vmxl_insn_ext {
	VMXL_EXT_NONE,		/* plain MOV: register written at @size */
	VMXL_EXT_ZERO,		/* MOVZX */
	VMXL_EXT_SIGN,		/* MOVSX, MOVSXD */
};

/*
 * What an instruction does with its memory operand. VMXL_OP_ADD..CMP are
 * in the order of the group-1 opcode extension (80 /0../7).
 */
enum vmxl_insn_op {
	VMXL_OP_MOV,		/* a load or a store: @is_write says which */
	VMXL_OP_ADD, VMXL_OP_OR, VMXL_OP_ADC, VMXL_OP_SBB,
	VMXL_OP_AND, VMXL_OP_SUB, VMXL_OP_XOR, VMXL_OP_CMP,
	VMXL_OP_TEST,
	VMXL_OP_XCHG,
	VMXL_OP_BT, VMXL_OP_BTS, VMXL_OP_BTR, VMXL_OP_BTC,
	VMXL_OP_MOVS,		/* [ES:rDI] = [seg:rSI], string registers step */
	VMXL_OP_STOS,		/* [ES:rDI] = rAX */
};

/*
 * One decoded memory-access instruction. Every op but MOV and STOS reads
 * memory first; then @is_write says whether it writes it (not CMP, TEST,
 * BT). The source of an ALU op, XCHG or BT is @reg, or @imm if @has_imm.
 */
struct vmxl_insn {
	u8 len;		/* bytes, prefixes included */
	u8 op;		/* enum vmxl_insn_op */
	u8 is_write;	/* memory is the destination */
	u8 size;	/* bytes accessed in memory: 1, 2, 4 or 8 */
	u8 reg;		/* register operand, 0-15 in x86 encoding order */
	u8 reg_high8;	/* register operand is AH, CH, DH or BH */
	u8 ext;		/* enum vmxl_insn_ext, loads only */
	u8 dst_size;	/* bytes of the register written by a load */
	u8 has_imm;	/* the source is @imm, not @reg */
	u8 rep;		/* strings: F3 or F2 prefix */
	u8 addr_size;	/* strings: 2, 4 or 8 */
	s8 seg;		/* strings: source segment override, -1 none, 0-5 */
	u64 imm;	/* sign-extended to 64 bits (BT: zero-extended) */
};

/*
 * Decode the MOV-family instruction at @bytes. Returns 0, or -EINVAL for
 * anything not supported (or truncated: @nbytes too short).
 */
int vmxl_decode_mmio(const u8 *bytes, unsigned int nbytes,
		     enum vmxl_cpu_mode mode, struct vmxl_insn *insn);

/* Write loaded @data into the destination register, as the CPU would. */
void vmxl_mmio_complete_load(const struct vmxl_insn *insn, u64 regs[16],
			     u64 data);

/* The value a store writes, @insn->size bytes of it significant. */
u64 vmxl_mmio_store_value(const struct vmxl_insn *insn, const u64 regs[16]);

/* The arithmetic flags: what ALU ops and BT set in RFLAGS. */
#define VMXL_FLAGS_ARITH	0x8d5ULL	/* OF SF ZF AF PF CF */

/*
 * The read-modify-write ops (ADD..BTC), done on @mem, the value memory
 * held, with the source operand from @regs: updates @regs (XCHG) and the
 * arithmetic flags in *@rflags as the CPU does, and returns what memory
 * is to hold afterwards (when @insn->is_write). Flags the SDM leaves
 * undefined are left as they were, but AF of AND, OR, XOR and TEST is
 * cleared, as CPUs do.
 */
u64 vmxl_emulate_rmw(const struct vmxl_insn *insn, u64 regs[16], u64 *rflags,
		     u64 mem);

/* The guest paging state a walk needs, and how to read guest memory. */
struct vmxl_walk_ctx {
	u64 cr0, cr3, cr4, efer;
	int (*read_gpa)(void *opaque, u64 gpa, void *buf, unsigned int len);
	void *opaque;
};

/*
 * Translate a linear address through the guest's page tables (none,
 * 32-bit, PAE, 4- or 5-level). Returns 0, or -EFAULT if a level is not
 * present or unreadable. Permissions are not checked: callers translate
 * addresses the CPU already used.
 */
int vmxl_gva_to_gpa(const struct vmxl_walk_ctx *ctx, u64 gva, u64 *gpa);

/*
 * Read up to VMXL_MAX_INSN_LEN bytes at @linear_rip, across a page
 * boundary if need be. *@nbytes says how many were read; an error with
 * *@nbytes > 0 means the second page could not be read.
 */
int vmxl_fetch_insn(const struct vmxl_walk_ctx *ctx, u64 linear_rip,
		    u8 *buf, unsigned int *nbytes);

#endif
