// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO instruction decoding and emulation, and guest page walks. Only what
 * a guest uses to touch device registers is decoded: the MOV forms (88,
 * 89, 8A, 8B, C6, C7, A0-A3), MOVZX/MOVSX (0F B6/B7/BE/BF), MOVSXD (63);
 * the read-modify-write forms with a memory destination: ADD, OR, ADC,
 * SBB, AND, SUB, XOR, CMP (00-39 r/m,r; 80, 81, 83 r/m,imm), TEST (84, 85,
 * F6/F7 /0 /1), XCHG (86, 87), BT, BTS, BTR, BTC (0F A3/AB/B3/BB, 0F BA);
 * and the string moves and stores MOVS (A4, A5) and STOS (AA, AB).
 * Everything else is refused, and the core reports it to userspace as an
 * emulation failure with the instruction bytes.
 */
#ifdef __KERNEL__
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/string.h>
#endif
#include "x86_decode.h"

/* One pass over the instruction bytes; @ok drops on a truncated read. */
struct decoder {
	const u8 *bytes;
	unsigned int nbytes;
	unsigned int pos;
	bool ok;
};

static u8 next_byte(struct decoder *d)
{
	if (d->pos >= d->nbytes || d->pos >= VMXL_MAX_INSN_LEN) {
		d->ok = false;
		return 0;
	}
	return d->bytes[d->pos++];
}

/* A little-endian immediate or displacement of @size bytes. */
static u64 next_le(struct decoder *d, unsigned int size)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (u64)next_byte(d) << (8 * i);
	return v;
}

static u64 size_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static u64 sign_extend(u64 v, unsigned int size)
{
	unsigned int shift = 64 - 8 * size;

	return size >= 8 ? v : (u64)((s64)(v << shift) >> shift);
}

/* Step over the memory operand that follows ModRM byte @modrm. */
static void skip_mem_operand(struct decoder *d, u8 modrm, unsigned int asize)
{
	unsigned int mod = modrm >> 6, rm = modrm & 7;

	if (asize == 2) {
		if (mod == 1)
			next_le(d, 1);
		else if (mod == 2 || (mod == 0 && rm == 6))
			next_le(d, 2);
		return;
	}
	if (rm == 4 && (next_byte(d) & 7) == 5 && mod == 0)
		next_le(d, 4);		/* SIB with no base: disp32 */
	if (mod == 1)
		next_le(d, 1);
	else if (mod == 2 || (mod == 0 && rm == 5))
		next_le(d, 4);		/* disp32, or RIP-relative in 64-bit */
}

/* LOCK is only valid on an op that writes memory after reading it. */
static bool lock_ok(const struct vmxl_insn *insn)
{
	return insn->is_write && insn->op != VMXL_OP_MOV &&
	       insn->op != VMXL_OP_MOVS && insn->op != VMXL_OP_STOS;
}

int vmxl_decode_mmio(const u8 *bytes, unsigned int nbytes,
		     enum vmxl_cpu_mode mode, struct vmxl_insn *insn)
{
	struct decoder d = { .bytes = bytes, .nbytes = nbytes, .ok = true };
	bool long64 = mode == VMXL_MODE_LONG64;
	bool wide = mode == VMXL_MODE_PROT32 || long64;
	bool opsize_prefix = false, asize_prefix = false, lock = false;
	bool has_modrm = true, byte_reg = false, imm_zx = false;
	unsigned int osize, asize, imm_size = 0, group = 0, ext;
	u8 rex = 0, op, modrm = 0;
	int seg = -1;

	memset(insn, 0, sizeof(*insn));

	/* Legacy prefixes, then REX, which only counts right before the opcode. */
	for (;;) {
		op = next_byte(&d);
		if (!d.ok)
			return -EINVAL;
		if (op == 0x66) {
			opsize_prefix = true;
		} else if (op == 0x67) {
			asize_prefix = true;
		} else if (op == 0x26 || op == 0x2e || op == 0x36 ||
			   op == 0x3e) {
			seg = (op >> 3) & 3;	/* ES CS SS DS */
		} else if (op == 0x64 || op == 0x65) {
			seg = op - 0x60;	/* FS GS */
		} else if (op == 0xf2 || op == 0xf3) {
			insn->rep = true;	/* ignored but by strings */
		} else if (op == 0xf0) {
			lock = true;
		} else if (long64 && (op & 0xf0) == 0x40) {
			rex = op;
			continue;
		} else {
			break;
		}
		rex = 0;
	}

	if (rex & 0x08)
		osize = 8;
	else
		osize = (wide != opsize_prefix) ? 4 : 2;
	if (long64)
		asize = asize_prefix ? 4 : 8;
	else
		asize = (wide != asize_prefix) ? 4 : 2;

	/*
	 * @group: the ModRM reg field picks the op (80-83, F6/F7, 0F BA, C6/C7)
	 * and there is no register operand. Immediates are @imm_size bytes.
	 */
	insn->op = VMXL_OP_MOV;
	insn->ext = VMXL_EXT_NONE;
	if (op < 0x40 && !(op & 6)) {
		/* ADD..CMP r/m, r: 00/01, 08/09, ... 38/39 */
		insn->op = VMXL_OP_ADD + (op >> 3);
		insn->size = (op & 1) ? osize : 1;
		byte_reg = !(op & 1);
		op = 0x01;	/* one form from here on */
	}
	switch (op) {
	case 0x01:
		break;
	case 0x80:		/* group 1 r/m8, imm8 */
	case 0x81:		/* group 1 r/m, imm16/32 */
	case 0x83:		/* group 1 r/m, imm8 sign-extended */
		insn->size = op == 0x80 ? 1 : osize;
		imm_size = op == 0x81 ? (osize == 2 ? 2 : 4) : 1;
		group = 1;
		break;
	case 0x84:		/* TEST r/m8, r8 */
	case 0x85:		/* TEST r/m, r */
	case 0x86:		/* XCHG r/m8, r8 */
	case 0x87:		/* XCHG r/m, r */
		insn->op = op < 0x86 ? VMXL_OP_TEST : VMXL_OP_XCHG;
		insn->size = (op & 1) ? osize : 1;
		byte_reg = !(op & 1);
		break;
	case 0xf6:		/* group 3: TEST r/m8, imm8 */
	case 0xf7:		/* group 3: TEST r/m, imm16/32 */
		insn->size = op == 0xf6 ? 1 : osize;
		imm_size = op == 0xf6 ? 1 : (osize == 2 ? 2 : 4);
		group = 3;
		break;
	case 0x88:		/* MOV r/m8, r8 */
	case 0x8a:		/* MOV r8, r/m8 */
		insn->size = 1;
		insn->is_write = op == 0x88;
		byte_reg = true;
		break;
	case 0x89:		/* MOV r/m, r */
	case 0x8b:		/* MOV r, r/m */
		insn->size = osize;
		insn->is_write = op == 0x89;
		break;
	case 0xc6:		/* MOV r/m8, imm8 */
	case 0xc7:		/* MOV r/m, imm */
		insn->size = op == 0xc6 ? 1 : osize;
		imm_size = op == 0xc6 ? 1 : (osize == 2 ? 2 : 4);
		insn->is_write = true;
		group = 0xc6;
		break;
	case 0xa0:		/* MOV AL, moffs8 */
	case 0xa1:		/* MOV rAX, moffs */
	case 0xa2:		/* MOV moffs8, AL */
	case 0xa3:		/* MOV moffs, rAX */
		insn->size = (op & 1) ? osize : 1;
		insn->is_write = op >= 0xa2;
		has_modrm = false;
		next_le(&d, asize);
		break;
	case 0xa4:		/* MOVSB */
	case 0xa5:		/* MOVSW/D/Q */
	case 0xaa:		/* STOSB */
	case 0xab:		/* STOSW/D/Q */
		insn->op = op < 0xaa ? VMXL_OP_MOVS : VMXL_OP_STOS;
		insn->size = (op & 1) ? osize : 1;
		insn->addr_size = asize;
		insn->seg = seg;
		has_modrm = false;
		break;
	case 0x63:		/* MOVSXD r, r/m32 (ARPL outside 64-bit) */
		if (!long64)
			return -EINVAL;
		insn->size = osize == 2 ? 2 : 4;
		insn->ext = osize == 8 ? VMXL_EXT_SIGN : VMXL_EXT_NONE;
		break;
	case 0x0f:
		op = next_byte(&d);
		if (op == 0xa3 || op == 0xab || op == 0xb3 || op == 0xbb) {
			/* BT, BTS, BTR, BTC r/m, r */
			insn->op = VMXL_OP_BT + ((op >> 3) & 3);
			insn->size = osize;
			break;
		}
		if (op == 0xba) {	/* group 8: BT..BTC r/m, imm8 */
			insn->size = osize;
			imm_size = 1;
			imm_zx = true;
			group = 8;
			break;
		}
		if (op != 0xb6 && op != 0xb7 && op != 0xbe && op != 0xbf)
			return -EINVAL;
		insn->size = (op & 1) ? 2 : 1;
		insn->ext = op >= 0xbe ? VMXL_EXT_SIGN : VMXL_EXT_ZERO;
		break;
	default:
		return -EINVAL;
	}

	if (has_modrm) {
		modrm = next_byte(&d);
		if ((modrm >> 6) == 3)
			return -EINVAL;	/* register operand: no memory access */
		insn->reg = ((modrm >> 3) & 7) | ((rex & 0x04) << 1);
		ext = (modrm >> 3) & 7;
		if (group == 1)
			insn->op = VMXL_OP_ADD + ext;
		else if (group == 3 && ext <= 1)	/* /1: an alias of /0 */
			insn->op = VMXL_OP_TEST;
		else if (group == 8 && ext >= 4)
			insn->op = VMXL_OP_BT + ext - 4;
		else if (group && (group != 0xc6 || ext))
			return -EINVAL;	/* only /0 of C6/C7 is MOV */
		skip_mem_operand(&d, modrm, asize);
	}
	if (imm_size) {
		insn->has_imm = true;
		insn->imm = next_le(&d, imm_size);
		if (!imm_zx)
			insn->imm = sign_extend(insn->imm, imm_size) &
				    size_mask(insn->size);
		insn->reg = 0;
	}

	/* Byte registers 4-7 are AH, CH, DH, BH unless a REX is present. */
	if (byte_reg && !rex && insn->reg >= 4) {
		insn->reg -= 4;
		insn->reg_high8 = true;
	}
	insn->dst_size = insn->ext == VMXL_EXT_NONE ? insn->size : osize;

	/* What writes memory after reading it; CMP, TEST and BT only read. */
	if (insn->op == VMXL_OP_MOVS || insn->op == VMXL_OP_STOS ||
	    insn->op == VMXL_OP_XCHG || insn->op == VMXL_OP_BTS ||
	    insn->op == VMXL_OP_BTR || insn->op == VMXL_OP_BTC ||
	    (insn->op >= VMXL_OP_ADD && insn->op < VMXL_OP_CMP))
		insn->is_write = true;
	if (lock && !lock_ok(insn))
		return -EINVAL;	/* #UD: the CPU never made the access */
	if (insn->op != VMXL_OP_MOVS && insn->op != VMXL_OP_STOS)
		insn->rep = false;

	if (!d.ok)
		return -EINVAL;
	insn->len = d.pos;
	return 0;
}

void vmxl_mmio_complete_load(const struct vmxl_insn *insn, u64 regs[16],
			     u64 data)
{
	u64 v = data & size_mask(insn->size);
	u64 *r = &regs[insn->reg & 15];

	if (insn->ext == VMXL_EXT_SIGN)
		v = sign_extend(v, insn->size);
	switch (insn->dst_size) {
	case 1:
		if (insn->reg_high8)
			*r = (*r & ~0xff00ULL) | ((v & 0xff) << 8);
		else
			*r = (*r & ~0xffULL) | (v & 0xff);
		break;
	case 2:
		*r = (*r & ~0xffffULL) | (v & 0xffff);
		break;
	case 4:
		*r = v & 0xffffffffULL;	/* 32-bit writes zero-extend */
		break;
	default:
		*r = v;
		break;
	}
}

u64 vmxl_mmio_store_value(const struct vmxl_insn *insn, const u64 regs[16])
{
	u64 v;

	if (insn->has_imm)
		v = insn->imm;
	else if (insn->reg_high8)
		v = regs[insn->reg & 15] >> 8;
	else
		v = regs[insn->reg & 15];
	return v & size_mask(insn->size);
}

#define FLAG_CF	0x001ULL
#define FLAG_PF	0x004ULL
#define FLAG_AF	0x010ULL
#define FLAG_ZF	0x040ULL
#define FLAG_SF	0x080ULL
#define FLAG_OF	0x800ULL

/* PF: an even number of bits set in the low byte of a result. */
static bool parity_even(u64 v)
{
	v &= 0xff;
	v ^= v >> 4;
	v ^= v >> 2;
	v ^= v >> 1;
	return !(v & 1);
}

/* BT, BTS, BTR, BTC: CF is the bit; ZF is kept, the rest undefined. */
static u64 emulate_bit(const struct vmxl_insn *insn, u64 *rflags, u64 d,
		       u64 s)
{
	u64 bit = 1ULL << (s & (insn->size * 8 - 1));

	*rflags = (*rflags & ~FLAG_CF) | ((d & bit) ? FLAG_CF : 0);
	if (insn->op == VMXL_OP_BTS)
		return d | bit;
	if (insn->op == VMXL_OP_BTR)
		return d & ~bit;
	return d ^ bit;		/* BTC; BT writes nothing */
}

u64 vmxl_emulate_rmw(const struct vmxl_insn *insn, u64 regs[16], u64 *rflags,
		     u64 mem)
{
	u64 mask = size_mask(insn->size), sign = 1ULL << (insn->size * 8 - 1);
	u64 d = mem & mask, s, r, carry_in = *rflags & FLAG_CF;
	u64 f = 0;

	s = insn->has_imm ? insn->imm : vmxl_mmio_store_value(insn, regs);
	switch (insn->op) {
	case VMXL_OP_XCHG:
		vmxl_mmio_complete_load(insn, regs, d);
		return s;
	case VMXL_OP_BT:
	case VMXL_OP_BTS:
	case VMXL_OP_BTR:
	case VMXL_OP_BTC:
		return emulate_bit(insn, rflags, d, s);
	case VMXL_OP_ADD:
	case VMXL_OP_ADC:
		carry_in = insn->op == VMXL_OP_ADC ? carry_in : 0;
		r = (d + s + carry_in) & mask;
		if (r < d || (carry_in && r == d))
			f |= FLAG_CF;
		if ((d ^ r) & (s ^ r) & sign)
			f |= FLAG_OF;
		f |= (d ^ s ^ r) & FLAG_AF;
		break;
	case VMXL_OP_SUB:
	case VMXL_OP_SBB:
	case VMXL_OP_CMP:
		carry_in = insn->op == VMXL_OP_SBB ? carry_in : 0;
		r = (d - s - carry_in) & mask;
		if (d < s || (carry_in && d == s))
			f |= FLAG_CF;
		if ((d ^ s) & (d ^ r) & sign)
			f |= FLAG_OF;
		f |= (d ^ s ^ r) & FLAG_AF;
		break;
	case VMXL_OP_OR:
		r = d | s;
		break;
	case VMXL_OP_XOR:
		r = d ^ s;
		break;
	default:		/* AND, TEST */
		r = d & s;
		break;
	}
	if (parity_even(r))
		f |= FLAG_PF;
	if (!r)
		f |= FLAG_ZF;
	if (r & sign)
		f |= FLAG_SF;
	*rflags = (*rflags & ~VMXL_FLAGS_ARITH) | f;
	return r;
}

/* ---- guest page walks ---- */

#define CR0_PE		BIT_ULL(0)
#define CR0_PG		BIT_ULL(31)
#define CR4_PSE		BIT_ULL(4)
#define CR4_PAE		BIT_ULL(5)
#define CR4_LA57	BIT_ULL(12)
#define EFER_LMA_BIT	BIT_ULL(10)
#define PTE_P		BIT_ULL(0)
#define PTE_PS		BIT_ULL(7)
#define PTE_ADDR	0x000ffffffffff000ULL

static int read_pte(const struct vmxl_walk_ctx *ctx, u64 gpa,
		    unsigned int size, u64 *pte)
{
	u64 v = 0;

	if (ctx->read_gpa(ctx->opaque, gpa, &v, size))
		return -EFAULT;
	*pte = v;	/* little-endian host: the low @size bytes */
	return (v & PTE_P) ? 0 : -EFAULT;
}

/* Walk 8-byte-entry levels @level..1 from the table at @table. */
static int walk_64(const struct vmxl_walk_ctx *ctx, u64 table, int level,
		   u64 gva, u64 *gpa)
{
	unsigned int shift;
	u64 pte, page;

	for (; level >= 1; level--) {
		shift = 12 + 9 * (level - 1);
		if (read_pte(ctx, table + ((gva >> shift) & 511) * 8, 8, &pte))
			return -EFAULT;
		if (level == 1 || (level <= 3 && (pte & PTE_PS))) {
			page = 1ULL << shift;
			*gpa = (pte & PTE_ADDR & ~(page - 1)) | (gva & (page - 1));
			return 0;
		}
		table = pte & PTE_ADDR;
	}
	return -EFAULT;
}

int vmxl_gva_to_gpa(const struct vmxl_walk_ctx *ctx, u64 gva, u64 *gpa)
{
	u64 pde, pte;

	if (!(ctx->cr0 & CR0_PG) || !(ctx->cr0 & CR0_PE)) {
		*gpa = gva & 0xffffffffULL;
		return 0;
	}
	if (ctx->efer & EFER_LMA_BIT)
		return walk_64(ctx, ctx->cr3 & PTE_ADDR,
			       (ctx->cr4 & CR4_LA57) ? 5 : 4, gva, gpa);

	gva &= 0xffffffffULL;
	if (ctx->cr4 & CR4_PAE) {
		if (read_pte(ctx, (ctx->cr3 & 0xffffffe0ULL) + (gva >> 30) * 8,
			     8, &pde))
			return -EFAULT;
		return walk_64(ctx, pde & PTE_ADDR, 2, gva, gpa);
	}

	if (read_pte(ctx, (ctx->cr3 & 0xfffff000ULL) + (gva >> 22) * 4, 4,
		     &pde))
		return -EFAULT;
	if ((pde & PTE_PS) && (ctx->cr4 & CR4_PSE)) {
		/* 4 MiB page; PSE-36 puts address bits 32-39 in 13-20 */
		*gpa = (pde & 0xffc00000ULL) | (((pde >> 13) & 0xff) << 32) |
		       (gva & 0x3fffff);
		return 0;
	}
	if (read_pte(ctx, (pde & 0xfffff000ULL) + ((gva >> 12) & 1023) * 4,
		     4, &pte))
		return -EFAULT;
	*gpa = (pte & 0xfffff000ULL) | (gva & 0xfff);
	return 0;
}

int vmxl_fetch_insn(const struct vmxl_walk_ctx *ctx, u64 linear_rip,
		    u8 *buf, unsigned int *nbytes)
{
	unsigned int chunk, done = 0;
	u64 gpa;

	*nbytes = 0;
	while (done < VMXL_MAX_INSN_LEN) {
		chunk = 4096 - ((linear_rip + done) & 4095);
		if (chunk > VMXL_MAX_INSN_LEN - done)
			chunk = VMXL_MAX_INSN_LEN - done;
		if (vmxl_gva_to_gpa(ctx, linear_rip + done, &gpa) ||
		    ctx->read_gpa(ctx->opaque, gpa, buf + done, chunk))
			return -EFAULT;
		done += chunk;
		*nbytes = done;
	}
	return 0;
}
