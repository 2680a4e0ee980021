// SPDX-License-Identifier: GPL-2.0
/*
 * Guest code: a minimal SMMUv3 driver serving the host's mailbox requests
 * (smmu_guest.h). Everything here runs inside the VM: no libc, and every
 * store that must reach memory is volatile (a plain loop could become a
 * call to memset, which the guest does not have).
 */
#include "guest.h"
#include "smmu_guest.h"

#define SG_CMDQ_LOG2	8

typedef volatile uint64_t vu64;

/* The driver's state, in the guest's copy of this image. */
static uint64_t heap_next;
static uint64_t strtab, strtab_log2, strtab_split;
static int strtab_2lvl;
static uint64_t cmdq, evtq, evtq_log2;
static uint32_t cmdq_prod;

static void w32(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(SG_SMMU_BASE + off) = v;
}

static uint32_t r32(uint32_t off)
{
	return *(volatile uint32_t *)(SG_SMMU_BASE + off);
}

static void w64(uint32_t off, uint64_t v)
{
	*(vu64 *)(SG_SMMU_BASE + off) = v;
}

static uint64_t r64(uint32_t off)
{
	return *(vu64 *)(SG_SMMU_BASE + off);
}

static uint64_t alloc(uint64_t bytes)
{
	uint64_t p = heap_next, i;

	bytes = (bytes + 4095) & ~4095ULL;
	GUEST_ASSERT(p + bytes <= SG_HEAP_END);
	heap_next += bytes;
	for (i = 0; i < bytes; i += 8)
		*(vu64 *)(p + i) = 0;
	return p;
}

/* Queue a command; run it, and CMD_SYNC, unless @no_sync. */
static void cmd(uint64_t w0, uint64_t w1, int no_sync)
{
	uint32_t mask = (1u << SG_CMDQ_LOG2) - 1;
	vu64 *slot = (vu64 *)(cmdq + 16 * (cmdq_prod & mask));

	slot[0] = w0;
	slot[1] = w1;
	cmdq_prod = (cmdq_prod + 1) & ((2u << SG_CMDQ_LOG2) - 1);
	if (!no_sync) {
		slot = (vu64 *)(cmdq + 16 * (cmdq_prod & mask));
		slot[0] = SG_CMD_SYNC;
		slot[1] = 0;
		cmdq_prod = (cmdq_prod + 1) & ((2u << SG_CMDQ_LOG2) - 1);
	}
	w32(SG_CMDQ_PROD, cmdq_prod);
}

static void op_init(struct sg_mailbox *mb)
{
	uint64_t l1_entries;

	heap_next = SG_HEAP;
	cmdq_prod = 0;
	w32(SG_CR0, 0);
	GUEST_ASSERT_EQ(0, r32(SG_CR0ACK));
	strtab_2lvl = mb->a[0];
	strtab_log2 = mb->a[1];
	strtab_split = mb->a[2];
	if (strtab_2lvl) {
		l1_entries = 1ULL << (strtab_log2 - strtab_split);
		strtab = alloc(8 * l1_entries);
		w32(SG_STRTAB_CFG, strtab_log2 | strtab_split << 6 | 1u << 16);
	} else {
		strtab = alloc(64ULL << strtab_log2);
		w32(SG_STRTAB_CFG, strtab_log2);
	}
	w64(SG_STRTAB_BASE, strtab);
	cmdq = alloc(16ULL << SG_CMDQ_LOG2);
	w64(SG_CMDQ_BASE, cmdq | SG_CMDQ_LOG2);
	w32(SG_CMDQ_PROD, 0);
	w32(SG_CMDQ_CONS, 0);
	evtq_log2 = mb->a[3];
	evtq = alloc(32ULL << evtq_log2);
	w64(SG_EVTQ_BASE, evtq | evtq_log2);
	w32(SG_EVTQ_PROD, 0);
	w32(SG_EVTQ_CONS, 0);
	w32(SG_CR0, SG_CR0_CMDQEN | SG_CR0_EVTQEN);
	GUEST_ASSERT_EQ(SG_CR0_CMDQEN | SG_CR0_EVTQEN, r32(SG_CR0ACK));
	w32(SG_CR0, SG_CR0_CMDQEN | SG_CR0_EVTQEN | SG_CR0_SMMUEN);
	GUEST_ASSERT_EQ(SG_CR0_CMDQEN | SG_CR0_EVTQEN | SG_CR0_SMMUEN,
			r32(SG_CR0ACK));
	mb->ret = r32(SG_IDR0);
	mb->a[4] = r32(SG_IDR1);
}

/* Where STE @sid lives; a 2-level table gets its leaf table on demand. */
static vu64 *ste_addr(uint64_t sid)
{
	uint64_t span, l2;
	vu64 *l1;

	if (!strtab_2lvl)
		return (vu64 *)(strtab + 64 * sid);
	l1 = (vu64 *)(strtab + 8 * (sid >> strtab_split));
	if (!(*l1 & 31)) {
		span = strtab_split + 1;
		l2 = alloc(64ULL << strtab_split);
		*l1 = l2 | span;
	}
	l2 = *l1 & 0x000fffffffffffc0ULL;
	return (vu64 *)(l2 + 64 * (sid & ((1ULL << strtab_split) - 1)));
}

static void op_ste(struct sg_mailbox *mb)
{
	uint64_t sid = mb->a[0], s1 = mb->a[3], s2 = mb->a[5];
	vu64 *ste = ste_addr(sid);

	ste[0] = 0;	/* invalid while it changes */
	ste[1] = s1 >> 16 & 3;					/* S1DSS */
	ste[2] = (s2 & 0xffff) |				/* S2VMID */
		 ((s2 >> 16) & 0x3f) << 32 |			/* S2T0SZ */
		 ((s2 >> 24) & 3) << 38 |			/* S2SL0 */
		 ((s2 >> 28) & 7) << 48 |			/* S2PS */
		 1ULL << 51;					/* S2AA64 */
	ste[3] = mb->a[4] & 0x000ffffffffffff0ULL;		/* S2TTB */
	ste[0] = (uint64_t)!mb->a[6] |				/* V */
		 (mb->a[1] & 7) << 1 |				/* Config */
		 ((s1 >> 8) & 3) << 4 |				/* S1Fmt */
		 (mb->a[2] & 0x000fffffffffffc0ULL) |		/* S1ContextPtr */
		 (s1 & 0x1f) << 59;				/* S1CDMax */
	if (!mb->a[7])
		cmd(SG_CMD_CFGI_STE | sid << 32, 1, 0);
}

static void op_cd(struct sg_mailbox *mb)
{
	vu64 *cd = (vu64 *)(mb->a[0] + 64 * mb->a[1]);
	uint64_t f = mb->a[4];

	cd[0] = 0;
	cd[1] = mb->a[3] & 0x000ffffffffffff0ULL;		/* TTB0 */
	cd[0] = (f & 0x3f) |					/* T0SZ */
		((f >> 17) & 1) << 14 |				/* EPD0 */
		(uint64_t)!((f >> 16) & 1) << 31 |		/* V */
		((f >> 8) & 7) << 32 |				/* IPS */
		1ULL << 41 |					/* AA64 */
		mb->a[2] << 48;					/* ASID */
	if (mb->a[5] != ~0ULL)
		cmd(SG_CMD_CFGI_CD | mb->a[1] << 12 | mb->a[5] << 32, 1, 0);
}

/* A leaf (page or block) for @iova; table levels made as needed. */
static void map_one(struct sg_mailbox *mb, uint64_t root, uint64_t iova,
		    uint64_t out)
{
	uint64_t perm = mb->a[4], leaf = mb->a[5], desc, table = root;
	int stage = mb->a[3], level;
	vu64 *e;

	for (level = mb->a[6]; level < (int)leaf; level++) {
		e = (vu64 *)(table + 8 * ((iova >> (39 - 9 * level)) & 511));
		if (!(*e & 1))
			*e = alloc(4096) | 3;
		table = *e & 0x0000fffffffff000ULL;
	}
	e = (vu64 *)(table + 8 * ((iova >> (39 - 9 * leaf)) & 511));
	desc = out | (leaf == 3 ? 3 : 1);
	if (!(perm & SG_NO_AF))
		desc |= 1u << 10;
	if (stage == 1) {
		if (!(perm & SG_W))
			desc |= 1u << 7;		/* AP[2]: read-only */
	} else {
		desc |= (perm & SG_R) ? 1u << 6 : 0;	/* S2AP read */
		desc |= (perm & SG_W) ? 1u << 7 : 0;	/* S2AP write */
	}
	*e = desc;
}

static void op_map(struct sg_mailbox *mb)
{
	uint64_t root = mb->a[0] ?: alloc(4096), i;
	uint64_t size = 1ULL << (39 - 9 * mb->a[5]);

	for (i = 0; i < (mb->a[7] ?: 1); i++)
		map_one(mb, root, mb->a[1] + i * size, mb->a[2] + i * size);
	mb->ret = root;
}

static void op_events(struct sg_mailbox *mb)
{
	uint32_t prod = r32(SG_EVTQ_PROD), cons = r32(SG_EVTQ_CONS);
	uint32_t mask = (1u << evtq_log2) - 1;
	uint32_t wrap = (2u << evtq_log2) - 1;
	uint64_t n = 0, i;

	mb->a[4] = prod;
	while ((cons & wrap) != (prod & wrap) && n < SG_MAX_EVENTS) {
		vu64 *rec = (vu64 *)(evtq + 32 * (cons & mask));

		for (i = 0; i < 4; i++)
			mb->events[n][i] = rec[i];
		n++;
		cons = (cons + 1) & wrap;
	}
	/* acknowledge an overflow along with the records */
	w32(SG_EVTQ_CONS, cons | (prod & (1u << 31)));
	mb->ret = n;
}

void smmu_guest_loop(uint64_t unused)
{
	struct sg_mailbox *mb = (struct sg_mailbox *)SG_MAILBOX;

	(void)unused;
	for (;;) {
		GUEST_SYNC(0, 0);
		switch (mb->op) {
		case SG_OP_INIT:
			op_init(mb);
			break;
		case SG_OP_ALLOC:
			mb->ret = alloc(mb->a[0]);
			break;
		case SG_OP_STE:
			op_ste(mb);
			break;
		case SG_OP_CD:
			op_cd(mb);
			break;
		case SG_OP_MAP:
			op_map(mb);
			break;
		case SG_OP_CMD:
			cmd(mb->a[0], mb->a[1], mb->a[2]);
			mb->ret = r32(SG_CMDQ_CONS);
			mb->a[4] = r32(SG_GERROR);
			break;
		case SG_OP_EVENTS:
			op_events(mb);
			break;
		case SG_OP_REG:
			if (mb->a[2] && mb->a[1] == 8)
				w64(mb->a[0], mb->a[3]);
			else if (mb->a[2])
				w32(mb->a[0], mb->a[3]);
			mb->ret = mb->a[1] == 8 ? r64(mb->a[0]) : r32(mb->a[0]);
			break;
		case SG_OP_ACK:
			w32(SG_GERRORN, r32(SG_GERROR));
			mb->ret = r32(SG_CMDQ_CONS);
			break;
		}
	}
}
