// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of kmod/smmu.c, the virtual SMMUv3: registers, stream
 * tables, context descriptors, stage 1 / stage 2 / nested walks, every
 * fault record, the event and command queues, and the configuration cache
 * and IOTLB (stale until invalidated, then fresh). Guest memory is a 16 MiB
 * array at RAM_BASE; every access the model makes is checked to lie inside
 * it (or to be refused as "no RAM" without touching anything).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "smmu.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	(16ULL << 20)
#define NO_RAM		0x80000000ULL	/* reads and writes fail here */

/* Bits the tests build structures with. */
#define STE_V		1ULL
#define CFG_ABORT	(0ULL << 1)
#define CFG_BYPASS	(4ULL << 1)
#define CFG_S1		(5ULL << 1)
#define CFG_S2		(6ULL << 1)
#define CFG_NESTED	(7ULL << 1)
#define CD_V		(1ULL << 31)
#define CD_AA64		(1ULL << 41)
#define D_VALID		1ULL
#define D_TABLE		2ULL
#define D_AP2_RO	(1ULL << 7)
#define D_S2R		(1ULL << 6)
#define D_S2W		(1ULL << 7)
#define D_AF		(1ULL << 10)
#define D_APTABLE_RO	(1ULL << 62)
#define D_ADDR		0x0000fffffffff000ULL

#define CR0_SMMUEN	1
#define CR0_EVTQEN	4
#define CR0_CMDQEN	8

/* Event record fields. */
#define EV_TYPE(o)	((o).event[0] & 0xff)
#define EV_SSV(o)	(((o).event[0] >> 11) & 1)
#define EV_SSID(o)	(((o).event[0] >> 12) & 0xfffff)
#define EV_SID(o)	((o).event[0] >> 32)
#define EV_RNW(o)	(((o).event[1] >> 35) & 1)
#define EV_S2(o)	(((o).event[1] >> 39) & 1)
#define EV_CLASS(o)	(((o).event[1] >> 40) & 3)
#define CLASS_CD	0
#define CLASS_TT	1
#define CLASS_IN	2

struct env {
	u8 *ram;
	u64 brk;		/* next free guest-physical byte */
	struct vmxl_smmu *s;
	u64 strtab, cmdq, evtq;
	u32 cmdq_log2, evtq_log2;
	u32 cmdq_prod, evtq_cons;
	/* Every access, checked. */
	unsigned long reads, writes, refused, bad;
	u64 last_write_gpa;
	u32 last_write_len;
};

static struct env E;

static bool in_ram(u64 gpa, u32 len)
{
	return gpa >= RAM_BASE && gpa + len >= gpa &&
	       gpa + len <= RAM_BASE + RAM_SIZE;
}

static int mem_read(void *ctx, u64 gpa, void *buf, u32 len)
{
	struct env *e = ctx;

	e->reads++;
	if (len == 0 || len > 64 || gpa + len < gpa)
		e->bad++;
	if (!in_ram(gpa, len)) {
		e->refused++;
		return -EFAULT;
	}
	memcpy(buf, e->ram + (gpa - RAM_BASE), len);
	return 0;
}

static int mem_write(void *ctx, u64 gpa, const void *buf, u32 len)
{
	struct env *e = ctx;

	e->writes++;
	if (len == 0 || len > 64 || gpa + len < gpa)
		e->bad++;
	if (!in_ram(gpa, len)) {
		e->refused++;
		return -EFAULT;
	}
	memcpy(e->ram + (gpa - RAM_BASE), buf, len);
	e->last_write_gpa = gpa;
	e->last_write_len = len;
	return 0;
}

static u64 rd64(u64 gpa)
{
	u64 v;

	memcpy(&v, E.ram + (gpa - RAM_BASE), 8);
	return v;
}

static void wr64(u64 gpa, u64 v)
{
	memcpy(E.ram + (gpa - RAM_BASE), &v, 8);
}

static u32 rd32(u64 gpa)
{
	u32 v;

	memcpy(&v, E.ram + (gpa - RAM_BASE), 4);
	return v;
}

/* Zeroed guest memory, aligned to @align. */
static u64 galloc(u64 size, u64 align)
{
	u64 a = (E.brk + align - 1) & ~(align - 1);

	E.brk = a + size;
	if (E.brk > RAM_BASE + RAM_SIZE)
		abort();
	return a;
}

static void rw(u32 off, u64 v)
{
	vmxl_smmu_reg_write(E.s, off, 4, v);
}

static u32 rr(u32 off)
{
	return vmxl_smmu_reg_read(E.s, off, 4);
}

static struct vmxl_smmu *mk(u32 sid_bits, u32 ssid_bits, u32 tlb, u32 cfg)
{
	struct vmxl_smmu_params p = {
		.sid_bits = sid_bits, .ssid_bits = ssid_bits,
		.iotlb_entries = tlb, .cfg_entries = cfg,
	};
	struct vmxl_smmu_mem m = { &E, mem_read, mem_write };

	if (!E.ram) {
		E.ram = calloc(1, RAM_SIZE);
		E.brk = RAM_BASE;
	}
	E.s = vmxl_smmu_create(&p, &m);
	return E.s;
}

/* Queues and a linear stream table of 2^log2 STEs; all enabled. */
static void setup_full(u32 sid_bits, u32 ssid_bits, u32 tlb, u32 cfg,
		       u32 st_log2)
{
	if (!mk(sid_bits, ssid_bits, tlb, cfg))
		abort();
	E.cmdq_log2 = 5;
	E.evtq_log2 = 5;
	E.cmdq = galloc(16 << E.cmdq_log2, 4096);
	E.evtq = galloc(32 << E.evtq_log2, 4096);
	E.strtab = galloc(64ULL << st_log2, 4096);
	vmxl_smmu_reg_write(E.s, SMMU_STRTAB_BASE, 8, E.strtab);
	rw(SMMU_STRTAB_BASE_CFG, st_log2);
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, E.cmdq | E.cmdq_log2);
	vmxl_smmu_reg_write(E.s, SMMU_EVTQ_BASE, 8, E.evtq | E.evtq_log2);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
}

static void setup(void)
{
	setup_full(8, 8, 64, 16, 8);
}

static void teardown(void)
{
	vmxl_smmu_destroy(E.s);
	E.s = NULL;
}

static void set_ste(u32 sid, u64 w0, u64 w1, u64 w2, u64 w3)
{
	u64 a = E.strtab + sid * 64ULL;
	int i;

	wr64(a, w0);
	wr64(a + 8, w1);
	wr64(a + 16, w2);
	wr64(a + 24, w3);
	for (i = 4; i < 8; i++)
		wr64(a + 8 * i, 0);
}

static u64 ste_s1(u64 ctx, u32 cdmax, u32 s1fmt)
{
	return STE_V | CFG_S1 | ctx | (u64)s1fmt << 4 | (u64)cdmax << 59;
}

/* STE word 2 for stage 2: T0SZ, SL0, VMID, PS 48 bits, AArch64. */
static u64 ste_w2(u32 vmid, u32 t0sz, u32 sl0)
{
	return vmid | (u64)t0sz << 32 | (u64)sl0 << 38 | 5ULL << 48 |
	       (1ULL << 51);
}

static void set_cd(u64 a, u32 t0sz, u32 ips, u32 asid, u64 ttb)
{
	int i;

	wr64(a, t0sz | CD_V | (u64)ips << 32 | CD_AA64 | (u64)asid << 48);
	wr64(a + 8, ttb);
	for (i = 2; i < 8; i++)
		wr64(a + 8 * i, 0);
}

/*
 * Map @va to @pa with a leaf at @leaf in the tables at @root (start level
 * @start, input size @insz; the start level may be concatenated). Table
 * addresses in descriptors are physical minus @off (IPAs for nested).
 * Returns where the leaf descriptor is.
 */
static u64 map_off(u64 root, int start, int insz, u64 va, u64 pa, int leaf,
		   u64 attrs, u64 off)
{
	u64 table = root;
	int lvl;

	for (lvl = start; lvl <= 3; lvl++) {
		int shift = 12 + 9 * (3 - lvl);
		u64 mask = lvl == start ? (1ULL << (insz - shift)) - 1 : 511;
		u64 da = table + ((va >> shift) & mask) * 8, d;

		if (lvl == leaf) {
			wr64(da, (pa & ~((1ULL << shift) - 1)) | attrs |
				 D_VALID | (lvl == 3 ? D_TABLE : 0));
			return da;
		}
		d = rd64(da);
		if (!(d & D_VALID)) {
			d = (galloc(4096, 4096) - off) | D_VALID | D_TABLE;
			wr64(da, d);
		}
		table = (d & D_ADDR) + off;
	}
	abort();
}

static u64 s1_start(int insz)
{
	return 4 - (insz - 12 + 8) / 9;
}

/* Stage 1 leaf: readable and writable, accessed. */
static u64 map1(u64 root, int t0sz, u64 va, u64 pa, int leaf)
{
	return map_off(root, s1_start(64 - t0sz), 64 - t0sz, va, pa, leaf,
		       D_AF, 0);
}

static int tx(u32 sid, bool ssv, u32 ssid, bool write, u64 iova,
	      struct vmxl_smmu_out *out)
{
	struct vmxl_smmu_txn t = {
		.sid = sid, .ssid = ssid, .ssv = ssv, .write = write,
		.iova = iova,
	};

	return vmxl_smmu_translate(E.s, &t, out);
}

/* Queue a command and ring the doorbell. */
static void cmd(u64 w0, u64 w1)
{
	u32 n = 1U << E.cmdq_log2;
	u64 a = E.cmdq + (E.cmdq_prod & (n - 1)) * 16;

	wr64(a, w0);
	wr64(a + 8, w1);
	E.cmdq_prod = (E.cmdq_prod + 1) & (2 * n - 1);
	rw(SMMU_CMDQ_PROD, E.cmdq_prod);
}

static void cmd_sync(void)
{
	cmd(0x46, 0);
}

/* Take the next event off the guest's queue; false if there is none. */
static bool evt_pop(u64 *ev)
{
	u32 n = 1U << E.evtq_log2, wm = 2 * n - 1;
	u32 prod = rr(SMMU_EVTQ_PROD) & wm;
	u64 a = E.evtq + (E.evtq_cons & (n - 1)) * 32;
	int i;

	if (prod == (E.evtq_cons & wm))
		return false;
	for (i = 0; i < 4; i++)
		ev[i] = rd64(a + 8 * i);
	E.evtq_cons = (E.evtq_cons & 1U << 31) | ((E.evtq_cons + 1) & wm);
	rw(SMMU_EVTQ_CONS, E.evtq_cons);
	return true;
}

static struct vmxl_smmu_stats stats(void)
{
	struct vmxl_smmu_stats st;

	vmxl_smmu_get_stats(E.s, &st);
	return st;
}

/* A stage 1 stream: CD 0 at a fresh address, tables at *root. */
static u64 s1_stream(u32 sid, int t0sz, u32 asid, u64 *root)
{
	u64 cd = galloc(64, 64);

	*root = galloc(4096, 4096);
	set_cd(cd, t0sz, 5, asid, *root);
	set_ste(sid, ste_s1(cd, 0, 0), 0, 0, 0);
	return cd;
}

/* A stage 2 stream with T0SZ 24 (40 bits), SL0 1: two tables at level 1. */
static u64 s2_stream(u32 sid, u32 vmid)
{
	u64 root = galloc(8192, 8192);

	set_ste(sid, STE_V | CFG_S2, 0, ste_w2(vmid, 24, 1), root);
	return root;
}

static u64 map2(u64 root, u64 ipa, u64 pa, int leaf, u64 attrs)
{
	return map_off(root, 1, 40, ipa, pa, leaf, attrs | D_AF, 0);
}

#define S2RW	(D_S2R | D_S2W)

#define ASSERT_FAULT(r, o, type)					\
	do {								\
		ASSERT_EQ(VMXL_SMMU_FAULT, r);				\
		ASSERT_EQ(type, EV_TYPE(o));				\
	} while (0)

#define ASSERT_CLEAN()							\
	do {								\
		ASSERT_EQ(0, E.bad);					\
	} while (0)

/* ---- registers ---- */

TEST(reset_values)
{
	ASSERT_NE(NULL, mk(16, 5, 64, 16));
	EXPECT_EQ(0x0d4c301bU, rr(SMMU_IDR0));
	EXPECT_EQ(16 | 5 << 6 | 10 << 16 | 10 << 21, rr(SMMU_IDR1));
	EXPECT_EQ(0x15U, rr(SMMU_IDR5));
	EXPECT_EQ(0U, rr(SMMU_AIDR));
	EXPECT_EQ(0U, rr(SMMU_CR0));
	EXPECT_EQ(0U, rr(SMMU_CR0ACK));
	EXPECT_EQ(0x1000U, rr(SMMU_GBPA));
	EXPECT_EQ(0U, rr(SMMU_GERROR));
	EXPECT_EQ(0U, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(0U, rr(SMMU_EVTQ_PROD));
	EXPECT_EQ(0ULL, vmxl_smmu_reg_read(E.s, SMMU_STRTAB_BASE, 8));
	teardown();
}

TEST(bad_params)
{
	struct vmxl_smmu_mem m = { &E, mem_read, mem_write };
	struct vmxl_smmu_params p = { 8, 8, 16, 16 };
	struct vmxl_smmu_params bad[] = {
		{ 0, 8, 16, 16 }, { 25, 8, 16, 16 }, { 8, 21, 16, 16 },
		{ 8, 8, 0, 16 }, { 8, 8, 4097, 16 }, { 8, 8, 16, 0 },
		{ 8, 8, 16, 1025 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(NULL, vmxl_smmu_create(&bad[i], &m));
	EXPECT_EQ(NULL, vmxl_smmu_create(NULL, &m));
	E.s = vmxl_smmu_create(&p, &m);
	ASSERT_NE(NULL, E.s);
	teardown();
}

TEST(register_semantics)
{
	ASSERT_NE(NULL, mk(8, 8, 16, 16));
	rw(SMMU_CR0, 0xffffffff);
	EXPECT_EQ(0xdU, rr(SMMU_CR0));
	EXPECT_EQ(0xdU, rr(SMMU_CR0ACK));
	rw(SMMU_CR0, 0);
	EXPECT_EQ(0U, rr(SMMU_CR0ACK));
	rw(SMMU_IRQ_CTRL, 5);
	EXPECT_EQ(5U, rr(SMMU_IRQ_CTRLACK));
	/* GBPA changes only with UPDATE, which reads back clear. */
	rw(SMMU_GBPA, 1 << 20);
	EXPECT_EQ(0x1000U, rr(SMMU_GBPA));
	rw(SMMU_GBPA, 1U << 31 | 1 << 20);
	EXPECT_EQ(1U << 20, rr(SMMU_GBPA));
	/* GERROR is read-only. */
	rw(SMMU_GERROR, 1);
	EXPECT_EQ(0U, rr(SMMU_GERROR));
	/* 64-bit registers in halves and whole. */
	rw(SMMU_STRTAB_BASE, 0x12345640);
	rw(SMMU_STRTAB_BASE + 4, 0x4000abcd);
	EXPECT_EQ(0x4000abcd12345640ULL,
		  vmxl_smmu_reg_read(E.s, SMMU_STRTAB_BASE, 8));
	EXPECT_EQ(0x4000abcdU, rr(SMMU_STRTAB_BASE + 4));
	/* Reserved bits are dropped: ADDR[51:6] and RA only. */
	vmxl_smmu_reg_write(E.s, SMMU_STRTAB_BASE, 8, ~0ULL);
	EXPECT_EQ(0x400fffffffffffc0ULL,
		  vmxl_smmu_reg_read(E.s, SMMU_STRTAB_BASE, 8));
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, ~0ULL);
	EXPECT_EQ(0x400fffffffffffffULL,
		  vmxl_smmu_reg_read(E.s, SMMU_CMDQ_BASE, 8));
	/* Bases are frozen while their enable is set. */
	vmxl_smmu_reg_write(E.s, SMMU_STRTAB_BASE, 8, 0x1000);
	rw(SMMU_STRTAB_BASE_CFG, 0x10008);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	vmxl_smmu_reg_write(E.s, SMMU_STRTAB_BASE, 8, 0x2000);
	rw(SMMU_STRTAB_BASE, 0x3000);
	rw(SMMU_STRTAB_BASE_CFG, 4);
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, 0x5000);
	vmxl_smmu_reg_write(E.s, SMMU_EVTQ_BASE, 8, 0x5000);
	EXPECT_EQ(0x1000ULL, vmxl_smmu_reg_read(E.s, SMMU_STRTAB_BASE, 8));
	EXPECT_EQ(0x10008U, rr(SMMU_STRTAB_BASE_CFG));
	EXPECT_NE(0x5000ULL, vmxl_smmu_reg_read(E.s, SMMU_CMDQ_BASE, 8));
	EXPECT_NE(0x5000ULL, vmxl_smmu_reg_read(E.s, SMMU_EVTQ_BASE, 8));
	/* Unknown, misaligned and odd-sized accesses: RAZ/WI. */
	rw(0x30, 0xffffffff);
	EXPECT_EQ(0U, rr(0x30));
	EXPECT_EQ(0ULL, vmxl_smmu_reg_read(E.s, SMMU_CR0 + 1, 4));
	EXPECT_EQ(0ULL, vmxl_smmu_reg_read(E.s, SMMU_CR0, 2));
	EXPECT_EQ(0ULL, vmxl_smmu_reg_read(E.s, VMXL_SMMU_WINDOW, 4));
	vmxl_smmu_reg_write(E.s, SMMU_CR0, 2, 0);
	EXPECT_EQ(0xdU, rr(SMMU_CR0));
	/* A 64-bit access to two 32-bit registers is two accesses. */
	EXPECT_EQ(0xdULL | 0xdULL << 32,
		  vmxl_smmu_reg_read(E.s, SMMU_CR0, 8));
	teardown();
}

TEST(gbpa_when_disabled)
{
	struct vmxl_smmu_out o;

	ASSERT_NE(NULL, mk(8, 0, 16, 16));
	ASSERT_EQ(VMXL_SMMU_OK, tx(3, false, 0, true, 0x12345678, &o));
	EXPECT_EQ(0x12345678ULL, o.gpa);
	rw(SMMU_GBPA, 1U << 31 | 1 << 20);
	ASSERT_EQ(VMXL_SMMU_ABORT, tx(3, false, 0, true, 0x12345678, &o));
	EXPECT_EQ(0ULL, stats().events);
	EXPECT_EQ(0UL, E.reads);
	teardown();
}

/* ---- stream table entries ---- */

TEST(ste_bypass_and_abort)
{
	struct vmxl_smmu_out o;
	u64 ev[4];

	setup();
	set_ste(1, STE_V | CFG_BYPASS, 0, 0, 0);
	set_ste(2, STE_V | CFG_ABORT, 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0xdead000, &o));
	EXPECT_EQ(0xdead000ULL, o.gpa);
	ASSERT_EQ(VMXL_SMMU_ABORT, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_FALSE(evt_pop(ev));
	EXPECT_EQ(0ULL, stats().events);
	/* A substream on a stream without stage 1 */
	ASSERT_FAULT(tx(1, true, 1, false, 0, &o), o,
		     SMMU_EVT_C_BAD_SUBSTREAMID);
	EXPECT_EQ(1ULL, EV_SSV(o));
	EXPECT_EQ(1ULL, EV_SSID(o));
	ASSERT_CLEAN();
	teardown();
}

TEST(stage1_pages_and_blocks)
{
	struct vmxl_smmu_out o;
	u64 root, pa = RAM_BASE + 0x200000;
	int t0sz[] = { 16, 25, 33, 34 };
	unsigned int i;

	setup();
	for (i = 0; i < 4; i++) {
		u32 sid = 10 + i;
		u64 va = 0x40201000ULL & ((1ULL << (64 - t0sz[i])) - 1);

		s1_stream(sid, t0sz[i], 1 + i, &root);
		map1(root, t0sz[i], va, pa + 0x5000, 3);
		ASSERT_EQ(VMXL_SMMU_OK, tx(sid, false, 0, true, va + 0x123, &o));
		EXPECT_EQ(pa + 0x5123, o.gpa) TH_LOG("t0sz %d", t0sz[i]);
		EXPECT_FALSE(o.iotlb_hit);
		ASSERT_EQ(VMXL_SMMU_OK, tx(sid, false, 0, false, va + 0x7, &o));
		EXPECT_EQ(pa + 0x5007, o.gpa);
		EXPECT_TRUE(o.iotlb_hit);
	}
	/* 2 MiB block at level 2 and 1 GiB block at level 1 (T0SZ 25). */
	s1_stream(20, 25, 30, &root);
	map1(root, 25, 0x800000, RAM_BASE + 0x400000, 2);
	map1(root, 25, 0x40000000, RAM_BASE, 1);
	ASSERT_EQ(VMXL_SMMU_OK, tx(20, false, 0, false, 0x9abcde, &o));
	EXPECT_EQ(RAM_BASE + 0x5abcde, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(20, false, 0, false, 0x40f00123, &o));
	EXPECT_EQ(RAM_BASE + 0xf00123, o.gpa);
	/* And a level 1 block under a level 0 start (T0SZ 16). */
	s1_stream(21, 16, 31, &root);
	map1(root, 16, 0x7f8040000000ULL, RAM_BASE, 1);
	ASSERT_EQ(VMXL_SMMU_OK, tx(21, false, 0, false, 0x7f8040123456ULL, &o));
	EXPECT_EQ(RAM_BASE + 0x123456, o.gpa);
	ASSERT_CLEAN();
	teardown();
}

TEST(stage2_and_concatenation)
{
	struct vmxl_smmu_out o;
	u64 root;

	setup();
	root = s2_stream(5, 7);
	/* IPA bit 39 selects the second concatenated table. */
	map2(root, 0x8000123000ULL, RAM_BASE + 0x7000, 3, S2RW);
	map2(root, 0x40000000, RAM_BASE, 1, S2RW);
	map2(root, 0x600000, RAM_BASE + 0x200000, 2, D_S2R);
	ASSERT_EQ(VMXL_SMMU_OK, tx(5, false, 0, true, 0x8000123456ULL, &o));
	EXPECT_EQ(RAM_BASE + 0x7456, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(5, false, 0, true, 0x40abcdef, &o));
	EXPECT_EQ(RAM_BASE + 0xabcdef, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(5, false, 0, false, 0x612345, &o));
	EXPECT_EQ(RAM_BASE + 0x212345, o.gpa);
	/* Read-only at stage 2: a write faults with S2 and the IPA. */
	ASSERT_FAULT(tx(5, false, 0, true, 0x612345, &o), o,
		     SMMU_EVT_F_PERMISSION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(0ULL, EV_RNW(o));
	EXPECT_EQ((u64)CLASS_IN, EV_CLASS(o));
	EXPECT_EQ(0x612345ULL, o.event[2]);
	EXPECT_EQ(0x612000ULL, o.event[3]);
	/* Input beyond 40 bits */
	ASSERT_FAULT(tx(5, false, 0, false, 1ULL << 40, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(1ULL, EV_RNW(o));
	/* Start level 2 (SL0 0, T0SZ 30) and level 0 (SL0 2, T0SZ 16). */
	root = galloc(4096, 4096);
	set_ste(6, STE_V | CFG_S2, 0, ste_w2(8, 30, 0), root);
	map_off(root, 2, 34, 0x3ff001000ULL, RAM_BASE + 0x3000, 3,
		S2RW | D_AF, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(6, false, 0, false, 0x3ff001abcULL, &o));
	EXPECT_EQ(RAM_BASE + 0x3abc, o.gpa);
	root = galloc(4096, 4096);
	set_ste(7, STE_V | CFG_S2, 0, ste_w2(9, 16, 2), root);
	map_off(root, 0, 48, 0xff0000001000ULL, RAM_BASE + 0x4000, 3,
		S2RW | D_AF, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(7, false, 0, false, 0xff0000001abcULL, &o));
	EXPECT_EQ(RAM_BASE + 0x4abc, o.gpa);
	ASSERT_CLEAN();
	teardown();
}

/*
 * Nested: stage 2 maps IPA [IPA_BASE, +16 MiB) onto RAM with 2 MiB blocks;
 * the CD and the stage 1 tables are addressed by IPA.
 */
#define IPA_BASE	0x10000000ULL
#define IPA_OFF		(RAM_BASE - IPA_BASE)

static u64 nested_stream(u32 sid, u32 vmid, u32 asid, u64 *s1root,
			 u64 *s2root)
{
	u64 cd = galloc(64, 64), a;

	*s2root = galloc(8192, 8192);
	for (a = 0; a < RAM_SIZE; a += 0x200000)
		map2(*s2root, IPA_BASE + a, RAM_BASE + a, 2, S2RW);
	*s1root = galloc(4096, 4096);
	set_cd(cd, 34, 5, asid, *s1root - IPA_OFF);
	set_ste(sid, ste_s1(cd - IPA_OFF, 0, 0) - CFG_S1 + CFG_NESTED, 0,
		ste_w2(vmid, 24, 1), *s2root);
	return cd;
}

static u64 map_nested(u64 s1root, u64 va, u64 ipa, int leaf)
{
	return map_off(s1root, 2, 30, va, ipa, leaf, D_AF, IPA_OFF);
}

TEST(nested)
{
	struct vmxl_smmu_out o;
	u64 s1, s2, cd;

	setup();
	cd = nested_stream(3, 11, 12, &s1, &s2);
	map_nested(s1, 0x5000, IPA_BASE + 0x9000, 3);
	ASSERT_EQ(VMXL_SMMU_OK, tx(3, false, 0, true, 0x5678, &o));
	EXPECT_EQ(RAM_BASE + 0x9678, o.gpa);
	/* Stage 1 output outside stage 2: S2 fault on the input, CLASS IN. */
	map_nested(s1, 0x6000, 0x7000000000ULL, 3);
	ASSERT_FAULT(tx(3, false, 0, false, 0x6010, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_IN, EV_CLASS(o));
	EXPECT_EQ(0x6010ULL, o.event[2]);
	EXPECT_EQ(0x7000000000ULL, o.event[3]);
	/* A stage 1 table outside stage 2: CLASS TT. */
	wr64(s1 + 8 * 5, 0x7100000000ULL | D_VALID | D_TABLE);
	ASSERT_FAULT(tx(3, false, 0, false, 0xa00000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_TT, EV_CLASS(o));
	EXPECT_EQ(0x7100000000ULL, o.event[3]);
	/* The CD outside stage 2: CLASS CD. */
	set_ste(4, ste_s1(0x7200000000ULL, 0, 0) - CFG_S1 + CFG_NESTED, 0,
		ste_w2(11, 24, 1), s2);
	ASSERT_FAULT(tx(4, false, 0, false, 0x5000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_CD, EV_CLASS(o));
	EXPECT_EQ(0x7200000000ULL, o.event[3]);
	(void)cd;
	ASSERT_CLEAN();
	teardown();
}

TEST(two_level_stream_table)
{
	struct vmxl_smmu_out o;
	u64 l1, l2;

	ASSERT_NE(NULL, mk(16, 0, 16, 16));
	E.cmdq_log2 = E.evtq_log2 = 4;
	E.cmdq = galloc(256, 4096);
	E.evtq = galloc(512, 4096);
	l1 = galloc(8 * 256, 4096);	/* LOG2SIZE 16, SPLIT 8 */
	l2 = galloc(64 * 4, 4096);	/* span 3: 4 STEs */
	wr64(l1 + 8 * 0x12, l2 | 3);
	wr64(l2 + 64 * 2, STE_V | CFG_BYPASS);
	vmxl_smmu_reg_write(E.s, SMMU_STRTAB_BASE, 8, l1);
	rw(SMMU_STRTAB_BASE_CFG, 16 | 8 << 6 | 1 << 16);
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, E.cmdq | 4);
	vmxl_smmu_reg_write(E.s, SMMU_EVTQ_BASE, 8, E.evtq | 4);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	ASSERT_EQ(VMXL_SMMU_OK, tx(0x1202, false, 0, false, 0xabc, &o));
	EXPECT_EQ(0xabcULL, o.gpa);
	/* Beyond the span */
	ASSERT_FAULT(tx(0x1204, false, 0, false, 0, &o), o,
		     SMMU_EVT_C_BAD_STREAMID);
	EXPECT_EQ(0x1204ULL, EV_SID(o));
	/* Invalid L1 descriptor (span 0) */
	ASSERT_FAULT(tx(0x1302, false, 0, false, 0, &o), o,
		     SMMU_EVT_C_BAD_STREAMID);
	/* Inside the span, STE not valid */
	ASSERT_FAULT(tx(0x1201, false, 0, false, 0, &o), o,
		     SMMU_EVT_C_BAD_STE);
	/* Beyond SIDSIZE */
	ASSERT_FAULT(tx(0x10000, false, 0, false, 0, &o), o,
		     SMMU_EVT_C_BAD_STREAMID);
	/* L2 pointer to no RAM */
	wr64(l1 + 8 * 0x20, NO_RAM | 1);
	ASSERT_FAULT(tx(0x2000, false, 0, false, 0, &o), o,
		     SMMU_EVT_F_STE_FETCH);
	EXPECT_EQ(NO_RAM, o.event[3]);
	ASSERT_CLEAN();
	teardown();
}

TEST(linear_stream_table_limits)
{
	struct vmxl_smmu_out o;

	setup_full(8, 0, 16, 16, 4);	/* 16 STEs of a possible 256 */
	set_ste(15, STE_V | CFG_BYPASS, 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(15, false, 0, false, 0, &o));
	ASSERT_FAULT(tx(16, false, 0, false, 0, &o), o,
		     SMMU_EVT_C_BAD_STREAMID);
	ASSERT_FAULT(tx(256, false, 0, false, 0, &o), o,
		     SMMU_EVT_C_BAD_STREAMID);
	EXPECT_EQ(256ULL, EV_SID(o));
	EXPECT_EQ(0ULL, o.event[1]);
	/* Stream table outside RAM */
	rw(SMMU_CR0, 0);
	vmxl_smmu_reg_write(E.s, SMMU_STRTAB_BASE, 8, NO_RAM);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN);
	ASSERT_FAULT(tx(3, false, 0, false, 0, &o), o, SMMU_EVT_F_STE_FETCH);
	EXPECT_EQ(NO_RAM + 3 * 64, o.event[3]);
	ASSERT_CLEAN();
	teardown();
}

/* ---- context descriptors and substreams ---- */

TEST(cd_linear_substreams)
{
	struct vmxl_smmu_out o;
	u64 cds, r0, r1, r5;

	setup();
	cds = galloc(64 * 8, 64);
	r0 = galloc(4096, 4096);
	r1 = galloc(4096, 4096);
	r5 = galloc(4096, 4096);
	set_cd(cds, 25, 5, 100, r0);
	set_cd(cds + 64, 25, 5, 101, r1);
	set_cd(cds + 5 * 64, 25, 5, 105, r5);
	map1(r0, 25, 0x1000, RAM_BASE + 0x10000, 3);
	map1(r1, 25, 0x1000, RAM_BASE + 0x11000, 3);
	map1(r5, 25, 0x1000, RAM_BASE + 0x15000, 3);
	/* CDMax 3: 8 CDs; S1DSS 2 (substream 0 without SSID) */
	set_ste(1, ste_s1(cds, 3, 0), 2, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, true, 1, false, 0x1004, &o));
	EXPECT_EQ(RAM_BASE + 0x11004, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, true, 5, false, 0x1004, &o));
	EXPECT_EQ(RAM_BASE + 0x15004, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1004, &o));
	EXPECT_EQ(RAM_BASE + 0x10004, o.gpa);
	/* SSID beyond CDMax */
	ASSERT_FAULT(tx(1, true, 8, false, 0x1004, &o), o,
		     SMMU_EVT_C_BAD_SUBSTREAMID);
	EXPECT_EQ(1ULL, EV_SSV(o));
	EXPECT_EQ(8ULL, EV_SSID(o));
	EXPECT_EQ(1ULL, EV_SID(o));
	/* CD 2 invalid */
	ASSERT_FAULT(tx(1, true, 2, false, 0x1004, &o), o, SMMU_EVT_C_BAD_CD);
	EXPECT_EQ(2ULL, EV_SSID(o));
	/* S1DSS 0: no SSID terminates */
	set_ste(2, ste_s1(cds, 3, 0), 0, 0, 0);
	ASSERT_FAULT(tx(2, false, 0, false, 0x1004, &o), o,
		     SMMU_EVT_F_STREAM_DISABLED);
	EXPECT_EQ(0ULL, EV_SSV(o));
	EXPECT_EQ(2ULL, EV_SID(o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, true, 5, false, 0x1004, &o));
	/* S1DSS 1: stage 1 bypassed without SSID */
	set_ste(3, ste_s1(cds, 3, 0), 1, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(3, false, 0, false, 0x1004, &o));
	EXPECT_EQ(0x1004ULL, o.gpa);
	/* S1DSS 3 is reserved */
	set_ste(4, ste_s1(cds, 3, 0), 3, 0, 0);
	ASSERT_FAULT(tx(4, false, 0, false, 0x1004, &o), o,
		     SMMU_EVT_C_BAD_STE);
	/* CDMax 0: one CD, no substreams, S1DSS ignored */
	set_ste(5, ste_s1(cds, 0, 0), 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(5, false, 0, false, 0x1004, &o));
	EXPECT_EQ(RAM_BASE + 0x10004, o.gpa);
	ASSERT_FAULT(tx(5, true, 0, false, 0x1004, &o), o,
		     SMMU_EVT_C_BAD_SUBSTREAMID);
	/* CDMax beyond SSIDSIZE (8) */
	set_ste(6, ste_s1(cds, 9, 0), 2, 0, 0);
	ASSERT_FAULT(tx(6, false, 0, false, 0x1004, &o), o,
		     SMMU_EVT_C_BAD_STE);
	/* CD table outside RAM */
	set_ste(7, ste_s1(NO_RAM, 3, 0), 2, 0, 0);
	ASSERT_FAULT(tx(7, true, 3, false, 0x1004, &o), o,
		     SMMU_EVT_F_CD_FETCH);
	EXPECT_EQ(NO_RAM + 3 * 64, o.event[3]);
	EXPECT_EQ(1ULL, EV_SSV(o));
	EXPECT_EQ(3ULL, EV_SSID(o));
	ASSERT_CLEAN();
	teardown();
}

TEST(cd_two_level)
{
	struct vmxl_smmu_out o;
	u64 l1, leaf4k, leaf64k, r;

	setup_full(8, 16, 64, 16, 8);
	r = galloc(4096, 4096);
	map1(r, 25, 0x2000, RAM_BASE + 0x20000, 3);
	/* 4 KiB leaves of 64 CDs: SSID 0x85 is L1 entry 2, CD 5. */
	l1 = galloc(4096, 4096);
	leaf4k = galloc(4096, 4096);
	wr64(l1 + 2 * 8, leaf4k | 1);
	set_cd(leaf4k + 5 * 64, 25, 5, 7, r);
	set_ste(1, ste_s1(l1, 10, 1), 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, true, 0x85, false, 0x2010, &o));
	EXPECT_EQ(RAM_BASE + 0x20010, o.gpa);
	/* Invalid L1 entry */
	ASSERT_FAULT(tx(1, true, 0x45, false, 0x2010, &o), o,
		     SMMU_EVT_C_BAD_CD);
	/* L1 pointing at no RAM */
	wr64(l1 + 3 * 8, NO_RAM | 1);
	ASSERT_FAULT(tx(1, true, 0xc1, false, 0x2010, &o), o,
		     SMMU_EVT_F_CD_FETCH);
	EXPECT_EQ(NO_RAM + 64, o.event[3]);
	/* 64 KiB leaves of 1024 CDs: SSID 0x1403 is L1 entry 5, CD 3. */
	l1 = galloc(4096, 4096);
	leaf64k = galloc(65536, 65536);
	wr64(l1 + 5 * 8, leaf64k | 1);
	set_cd(leaf64k + 3 * 64, 25, 5, 8, r);
	set_ste(2, ste_s1(l1, 16, 2), 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, true, 0x1403, false, 0x2010, &o));
	EXPECT_EQ(RAM_BASE + 0x20010, o.gpa);
	ASSERT_CLEAN();
	teardown();
}

/* ---- every fault, with its record ---- */

TEST(bad_ste_fields)
{
	struct vmxl_smmu_out o;
	u64 good = ste_w2(1, 24, 1), root;
	struct { u64 w0, w2; const char *why; } v[] = {
		{ CFG_BYPASS, 0, "V=0" },
		{ STE_V | 1 << 1, 0, "config 1" },
		{ STE_V | 3 << 1, 0, "config 3" },
		{ STE_V | CFG_S2, good | 1ULL << 46, "S2TG 16K" },
		{ STE_V | CFG_S2, good & ~(1ULL << 51), "S2AA64 0" },
		{ STE_V | CFG_S2, good | 1ULL << 52, "S2ENDI" },
		{ STE_V | CFG_S2, (good & ~(0x3fULL << 32)) | 15ULL << 32,
		  "S2T0SZ 15" },
		{ STE_V | CFG_S2, (good & ~(0x3fULL << 32)) | 40ULL << 32,
		  "S2T0SZ 40" },
		{ STE_V | CFG_S2, good | 3ULL << 38, "SL0 3" },
		/* 40 bits from level 2 would need 1024 tables */
		{ STE_V | CFG_S2, good & ~(3ULL << 38), "SL0 0, 40 bits" },
		/* 48 bits from level 1: 512 tables */
		{ STE_V | CFG_S2, (good & ~(0x3fULL << 32)) | 16ULL << 32,
		  "SL0 1, 48 bits" },
		/* 25 bits from level 0: nothing to index there */
		{ STE_V | CFG_S2, (good & ~(0xffULL << 32)) | 39ULL << 32 |
		  2ULL << 38, "SL0 2, 25 bits" },
		{ STE_V | CFG_S1 | 3ULL << 4, 0, "S1Fmt 3" },
	};
	unsigned int i;

	setup();
	root = galloc(4096, 4096);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		set_ste(9, v[i].w0, 0, v[i].w2, root);
		rw(SMMU_CR0, 0);	/* drop the caches */
		rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
		EXPECT_EQ(VMXL_SMMU_FAULT, tx(9, false, 0, false, 0, &o))
			TH_LOG("%s", v[i].why);
		EXPECT_EQ((u64)SMMU_EVT_C_BAD_STE, EV_TYPE(o))
			TH_LOG("%s", v[i].why);
		EXPECT_EQ(9ULL, EV_SID(o));
	}
	ASSERT_CLEAN();
	teardown();
}

TEST(bad_cd_fields)
{
	struct vmxl_smmu_out o;
	u64 good = 25 | CD_V | 5ULL << 32 | CD_AA64, cd, r;
	struct { u64 w0; const char *why; } v[] = {
		{ good & ~CD_V, "V=0" },
		{ (good & ~0x3fULL) | 15, "T0SZ 15" },
		{ (good & ~0x3fULL) | 40, "T0SZ 40" },
		{ good | 1 << 6, "TG0 64K" },
		{ good | 2 << 6, "TG0 16K" },
		{ good | 1 << 15, "ENDI" },
		{ good & ~CD_AA64, "AA64 0" },
	};
	unsigned int i;

	setup();
	cd = galloc(64, 64);
	r = galloc(4096, 4096);
	set_ste(1, ste_s1(cd, 0, 0), 0, 0, 0);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		wr64(cd, v[i].w0);
		wr64(cd + 8, r);
		cmd_sync();
		cmd(0x05 | 1ULL << 32, 0);	/* CFGI_CD sid 1 */
		EXPECT_EQ(VMXL_SMMU_FAULT, tx(1, false, 0, false, 0, &o))
			TH_LOG("%s", v[i].why);
		EXPECT_EQ((u64)SMMU_EVT_C_BAD_CD, EV_TYPE(o))
			TH_LOG("%s", v[i].why);
	}
	ASSERT_CLEAN();
	teardown();
}

TEST(stage1_faults)
{
	struct vmxl_smmu_out o;
	u64 root, cd, d, l2;

	setup();
	cd = s1_stream(1, 25, 1, &root);
	/* Nothing mapped: invalid descriptor at the start level. */
	ASSERT_FAULT(tx(1, false, 0, true, 0x3000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(0ULL, EV_RNW(o));
	EXPECT_EQ(0ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_IN, EV_CLASS(o));
	EXPECT_EQ(0x3000ULL, o.event[2]);
	EXPECT_EQ(1ULL, EV_SID(o));
	EXPECT_EQ(0ULL, EV_SSV(o));
	/* Input at or above 2^(64-T0SZ) */
	ASSERT_FAULT(tx(1, false, 0, false, 1ULL << 39, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(1ULL, EV_RNW(o));
	EXPECT_EQ(1ULL << 39, o.event[2]);
	/* Access flag */
	d = map1(root, 25, 0x4000, RAM_BASE + 0x4000, 3);
	wr64(d, rd64(d) & ~D_AF);
	ASSERT_FAULT(tx(1, false, 0, false, 0x4000, &o), o, SMMU_EVT_F_ACCESS);
	EXPECT_EQ((u64)CLASS_IN, EV_CLASS(o));
	/* Read-only page: writes fault, reads do not */
	wr64(d, rd64(d) | D_AF | D_AP2_RO);
	ASSERT_FAULT(tx(1, false, 0, true, 0x4008, &o), o,
		     SMMU_EVT_F_PERMISSION);
	EXPECT_EQ(0ULL, EV_S2(o));
	EXPECT_EQ(0ULL, EV_RNW(o));
	EXPECT_EQ(0x4008ULL, o.event[2]);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x4008, &o));
	/* ... also from the IOTLB */
	ASSERT_FAULT(tx(1, false, 0, true, 0x4008, &o), o,
		     SMMU_EVT_F_PERMISSION);
	/* APTable read-only on the level 2 table descriptor */
	d = map1(root, 25, 0x1000000, RAM_BASE + 0x4000, 3);
	l2 = rd64(root) & D_ADDR;	/* T0SZ 25: level 1 start */
	wr64(l2 + 8 * 8, rd64(l2 + 8 * 8) | D_APTABLE_RO);
	ASSERT_FAULT(tx(1, false, 0, true, 0x1000000, &o), o,
		     SMMU_EVT_F_PERMISSION);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000000, &o));
	/* A block descriptor at level 3 (0b01) is a translation fault. */
	d = map1(root, 25, 0x5000, RAM_BASE + 0x5000, 3);
	wr64(d, rd64(d) & ~D_TABLE);
	ASSERT_FAULT(tx(1, false, 0, false, 0x5000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	/* Output beyond IPS (32 bits), in a fresh ASID */
	set_cd(cd, 25, 0, 2, root);
	cmd(0x05 | 1ULL << 32, 0);
	map1(root, 25, 0x6000, 0x100000000ULL, 3);
	ASSERT_FAULT(tx(1, false, 0, false, 0x6000, &o), o,
		     SMMU_EVT_F_ADDR_SIZE);
	EXPECT_EQ(0ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_IN, EV_CLASS(o));
	/* Table beyond IPS */
	wr64(l2 + 8 * 9, 0x200000000ULL | D_VALID | D_TABLE);
	ASSERT_FAULT(tx(1, false, 0, false, 0x1200000, &o), o,
		     SMMU_EVT_F_ADDR_SIZE);
	EXPECT_EQ((u64)CLASS_TT, EV_CLASS(o));
	/* Table in no RAM: external abort on the walk */
	set_cd(cd, 25, 5, 3, root);
	cmd(0x05 | 1ULL << 32, 0);
	wr64(l2 + 8 * 10, NO_RAM | D_VALID | D_TABLE);
	ASSERT_FAULT(tx(1, false, 0, true, 0x1400000 + 0x3000, &o), o,
		     SMMU_EVT_F_WALK_EABT);
	EXPECT_EQ(NO_RAM + 3 * 8, o.event[3]);
	EXPECT_EQ((u64)CLASS_TT, EV_CLASS(o));
	EXPECT_EQ(0ULL, EV_S2(o));
	EXPECT_EQ(0ULL, EV_RNW(o));
	EXPECT_EQ(0x1403000ULL, o.event[2]);
	/* EPD0: every walk faults */
	wr64(cd, rd64(cd) | 1 << 14 | 4ULL << 48);
	cmd(0x05 | 1ULL << 32, 0);
	ASSERT_FAULT(tx(1, false, 0, false, 0x4000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	/* A block at level 0 (T0SZ 16) */
	cd = s1_stream(2, 16, 9, &root);
	wr64(root, RAM_BASE | D_VALID | D_AF);
	ASSERT_FAULT(tx(2, false, 0, false, 0x1000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	ASSERT_CLEAN();
	teardown();
}

TEST(stage2_faults)
{
	struct vmxl_smmu_out o;
	u64 root, d;

	setup();
	root = s2_stream(1, 3);
	ASSERT_FAULT(tx(1, false, 0, false, 0x7000, &o), o,
		     SMMU_EVT_F_TRANSLATION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_IN, EV_CLASS(o));
	EXPECT_EQ(0x7000ULL, o.event[3]);
	d = map2(root, 0x7000, RAM_BASE + 0x7000, 3, S2RW);
	wr64(d, rd64(d) & ~D_AF);
	ASSERT_FAULT(tx(1, false, 0, false, 0x7000, &o), o, SMMU_EVT_F_ACCESS);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(0x7000ULL, o.event[3]);
	d = map2(root, 0x8000, RAM_BASE + 0x8000, 3, D_S2W);
	ASSERT_FAULT(tx(1, false, 0, false, 0x8010, &o), o,
		     SMMU_EVT_F_PERMISSION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(1ULL, EV_RNW(o));
	EXPECT_EQ(0x8000ULL, o.event[3]);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, true, 0x8010, &o));
	/* Output beyond PS (32 bits) */
	set_ste(2, STE_V | CFG_S2, 0, ste_w2(4, 24, 1) & ~(7ULL << 48), root);
	map2(root, 0x9000, 0x100000000ULL, 3, S2RW);
	ASSERT_FAULT(tx(2, false, 0, false, 0x9000, &o), o,
		     SMMU_EVT_F_ADDR_SIZE);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(0x9000ULL, o.event[3]);
	/* A table in no RAM */
	wr64(root + 8, NO_RAM | D_VALID | D_TABLE);
	ASSERT_FAULT(tx(1, false, 0, true, 0x40000000 + 0x5000, &o), o,
		     SMMU_EVT_F_WALK_EABT);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(NO_RAM, o.event[3]);
	/* Root table in no RAM */
	set_ste(3, STE_V | CFG_S2, 0, ste_w2(5, 24, 1), NO_RAM);
	ASSERT_FAULT(tx(3, false, 0, false, 0x1000, &o), o,
		     SMMU_EVT_F_WALK_EABT);
	EXPECT_EQ(NO_RAM, o.event[3]);
	ASSERT_CLEAN();
	teardown();
}

TEST(nested_faults)
{
	struct vmxl_smmu_out o;
	u64 s1, s2, cd, d;

	setup();
	cd = nested_stream(1, 2, 3, &s1, &s2);
	map_nested(s1, 0x1000, IPA_BASE + 0x1000, 3);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	/* Stage 2 read-only: a stage 1 read-write page can't be written */
	d = map2(s2, 0x20000000, RAM_BASE, 3, D_S2R);
	map_nested(s1, 0x2000, 0x20000000, 3);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	ASSERT_FAULT(tx(1, false, 0, true, 0x2000, &o), o,
		     SMMU_EVT_F_PERMISSION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ(0x20000000ULL, o.event[3]);
	/* Stage 1 read-only wins over stage 2 */
	d = map_nested(s1, 0x3000, 0x20000000, 3);
	wr64(d, rd64(d) | D_AP2_RO);
	ASSERT_FAULT(tx(1, false, 0, true, 0x3000, &o), o,
		     SMMU_EVT_F_PERMISSION);
	EXPECT_EQ(0ULL, EV_S2(o));
	/* Stage 2 access flag clear where a stage 1 table is: CLASS TT */
	d = map2(s2, 0x30000000, s1, 3, S2RW);
	wr64(d, rd64(d) & ~D_AF);
	wr64(s1 + 8 * 20, 0x30000000 | D_VALID | D_TABLE);
	ASSERT_FAULT(tx(1, false, 0, false, 20ULL << 21, &o), o,
		     SMMU_EVT_F_ACCESS);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_TT, EV_CLASS(o));
	/* Stage 2 not readable where the CD is: CLASS CD */
	map2(s2, 0x31000000, cd & ~0xfffULL, 3, D_S2W);
	set_ste(2, ste_s1(0x31000000 + (cd & 0xfff), 0, 0) - CFG_S1 +
		CFG_NESTED, 0, ste_w2(2, 24, 1), s2);
	ASSERT_FAULT(tx(2, false, 0, false, 0x1000, &o), o,
		     SMMU_EVT_F_PERMISSION);
	EXPECT_EQ(1ULL, EV_S2(o));
	EXPECT_EQ((u64)CLASS_CD, EV_CLASS(o));
	EXPECT_EQ(0x31000000ULL, o.event[3]);
	ASSERT_CLEAN();
	teardown();
}

/* ---- event queue ---- */

TEST(event_queue)
{
	struct vmxl_smmu_out o;
	u64 ev[4];
	int i;

	setup();
	/* Shrink the queue to 4 entries. */
	rw(SMMU_CR0, CR0_SMMUEN | CR0_CMDQEN);
	E.evtq_log2 = 2;
	vmxl_smmu_reg_write(E.s, SMMU_EVTQ_BASE, 8, E.evtq | 2);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	/* Ten faults, taking each off: PROD and CONS wrap. */
	for (i = 0; i < 10; i++) {
		ASSERT_FAULT(tx(200 + i, true, 7, true, 0x1000 + i, &o), o,
			     SMMU_EVT_C_BAD_STE);
		ASSERT_TRUE(o.event_queued);
		ASSERT_TRUE(evt_pop(ev));
		EXPECT_EQ(0, memcmp(ev, o.event, 32));
		EXPECT_EQ(200ULL + i, ev[0] >> 32);
		EXPECT_EQ(7ULL, (ev[0] >> 12) & 0xfffff);
		EXPECT_EQ(1ULL, (ev[0] >> 11) & 1);
	}
	EXPECT_EQ(10U & 7, rr(SMMU_EVTQ_PROD));
	/* Fill it: four fit, the fifth overflows. */
	for (i = 0; i < 4; i++) {
		tx(201, false, 0, false, 0, &o);
		EXPECT_TRUE(o.event_queued);
	}
	tx(201, false, 0, false, 0, &o);
	EXPECT_FALSE(o.event_queued);
	EXPECT_EQ(1U << 31, rr(SMMU_EVTQ_PROD) & (1U << 31));
	/* More losses do not flip OVFLG back. */
	tx(201, false, 0, false, 0, &o);
	EXPECT_EQ(1U << 31, rr(SMMU_EVTQ_PROD) & (1U << 31));
	EXPECT_EQ(2ULL, stats().events_lost);
	EXPECT_EQ(16ULL, stats().events);
	/* Ack the overflow, drain one, and the next goes in again. */
	E.evtq_cons |= 1U << 31;
	ASSERT_TRUE(evt_pop(ev));
	tx(201, false, 0, false, 0, &o);
	EXPECT_TRUE(o.event_queued);
	/* The next overflow flips OVFLG back (to differ from the ack). */
	tx(201, false, 0, false, 0, &o);
	EXPECT_FALSE(o.event_queued);
	EXPECT_EQ(0U, rr(SMMU_EVTQ_PROD) & (1U << 31));
	/* With EVTQEN clear nothing is queued. */
	rw(SMMU_CR0, CR0_SMMUEN);
	for (i = 0; i < 4; i++)
		ASSERT_TRUE(evt_pop(ev));
	tx(201, false, 0, false, 0, &o);
	EXPECT_FALSE(o.event_queued);
	EXPECT_FALSE(evt_pop(ev));
	/* An event queue in no RAM: GERROR.EVTQ_ABT_ERR */
	vmxl_smmu_reg_write(E.s, SMMU_EVTQ_BASE, 8, NO_RAM | 2);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN);
	tx(201, false, 0, false, 0, &o);
	EXPECT_FALSE(o.event_queued);
	EXPECT_EQ(4U, rr(SMMU_GERROR));
	ASSERT_CLEAN();
	teardown();
}

/* ---- command queue ---- */

TEST(commands_and_errors)
{
	struct vmxl_smmu_out o;
	u64 msi;
	int i;

	setup();
	msi = galloc(8, 8);
	/* Every legal opcode runs. */
	cmd(0x01, 0);
	cmd(0x02, 0);
	cmd(0x03, 0);
	cmd(0x04, 31);
	cmd(0x05, 0);
	cmd(0x06, 0);
	cmd(0x10, 0);
	cmd(0x11, 0);
	cmd(0x12, 0);
	cmd(0x13, 0);
	cmd(0x28, 0);
	cmd(0x2a, 0);
	cmd(0x30, 0);
	cmd_sync();
	EXPECT_EQ(14ULL, stats().commands);
	EXPECT_EQ(14U, rr(SMMU_CMDQ_CONS));
	/* CMD_SYNC with MSI */
	cmd(0x46 | 1 << 12 | 0xfeedfaceULL << 32, msi);
	EXPECT_EQ(0xfeedfaceU, rd32(msi));
	EXPECT_EQ(msi, E.last_write_gpa);
	EXPECT_EQ(4U, E.last_write_len);
	/* SIG_NONE: no write */
	cmd(0x46 | 0xabcULL << 32, msi);
	EXPECT_EQ(0xfeedfaceU, rd32(msi));
	/* Illegal opcode: stop there, CONS.ERR = ILL, GERROR active */
	cmd(0x7f, 0);
	cmd(0x46 | 1 << 12 | 1ULL << 32, msi);
	EXPECT_EQ(16U | 1 << 24, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(1U, rr(SMMU_GERROR));
	EXPECT_EQ(0xfeedfaceU, rd32(msi));
	/* Nothing runs while the error is active. */
	cmd(0x46 | 1 << 12 | 2ULL << 32, msi);
	EXPECT_EQ(16U | 1 << 24, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(0xfeedfaceU, rd32(msi));
	/* Replace it with a SYNC (as Linux does), ack, resume. */
	wr64(E.cmdq + 16 * 16, 0x46);
	rw(SMMU_GERRORN, 1);
	EXPECT_EQ(19U, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(2U, rd32(msi));
	/* Acking with nothing pending changes nothing. */
	rw(SMMU_GERRORN, 1);
	EXPECT_EQ(19U, rr(SMMU_CMDQ_CONS));
	/* Wrap the 32-entry queue. */
	for (i = 0; i < 40; i++)
		cmd_sync();
	EXPECT_EQ(E.cmdq_prod, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(1U << 5, rr(SMMU_CMDQ_CONS) & (1 << 5));
	/* A command queue in no RAM: CERROR_ABT */
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN);
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, NO_RAM | 5);
	rw(SMMU_CMDQ_PROD, 0);
	rw(SMMU_CMDQ_CONS, 0);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	rw(SMMU_CMDQ_PROD, 1);
	EXPECT_EQ(2U << 24, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(0U, rr(SMMU_GERROR));	/* toggled back: bit was 1 */
	EXPECT_EQ(1U, rr(SMMU_GERRORN));
	(void)o;
	ASSERT_CLEAN();
	teardown();
}

TEST(cmdq_enable_runs_pending)
{
	u64 msi;
	int i;

	ASSERT_NE(NULL, mk(8, 0, 16, 16));
	msi = galloc(8, 8);
	E.cmdq_log2 = 3;
	E.cmdq = galloc(16 << 10, 4096);
	for (i = 0; i < 1024; i++)
		wr64(E.cmdq + 16 * i, 0x46);
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, E.cmdq | 3);
	wr64(E.cmdq, 0x46 | 1 << 12 | 0x55ULL << 32);
	wr64(E.cmdq + 8, msi);
	rw(SMMU_CMDQ_PROD, 1);		/* disabled: nothing yet */
	EXPECT_EQ(0U, rd32(msi));
	rw(SMMU_CR0, CR0_CMDQEN);
	EXPECT_EQ(0x55U, rd32(msi));
	EXPECT_EQ(1U, rr(SMMU_CMDQ_CONS));
	/* A whole queue's worth at once */
	rw(SMMU_CMDQ_PROD, 1 | 1 << 3);
	EXPECT_EQ(1U | 1 << 3, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(9ULL, stats().commands);
	/* A queue larger than CMDQS is clamped to 2^10 entries. */
	rw(SMMU_CR0, 0);
	vmxl_smmu_reg_write(E.s, SMMU_CMDQ_BASE, 8, E.cmdq | 19);
	rw(SMMU_CMDQ_CONS, 0);
	rw(SMMU_CR0, CR0_CMDQEN);
	rw(SMMU_CMDQ_PROD, 1 << 19 | 1 << 10 | 5);
	EXPECT_EQ(1U << 10 | 5, rr(SMMU_CMDQ_CONS));
	EXPECT_EQ(9ULL + 1024 + 5, stats().commands);
	ASSERT_CLEAN();
	teardown();
}

/* ---- caches: stale until invalidated ---- */

TEST(cfgi_ste)
{
	struct vmxl_smmu_out o;

	setup();
	set_ste(1, STE_V | CFG_BYPASS, 0, 0, 0);
	set_ste(2, STE_V | CFG_BYPASS, 0, 0, 0);
	set_ste(3, STE_V | CFG_BYPASS, 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0, &o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0, &o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(3, false, 0, false, 0, &o));
	set_ste(1, STE_V | CFG_ABORT, 0, 0, 0);
	set_ste(2, STE_V | CFG_ABORT, 0, 0, 0);
	set_ste(3, STE_V | CFG_ABORT, 0, 0, 0);
	EXPECT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0, &o));
	EXPECT_EQ(1ULL, stats().cfg_hits);
	cmd(0x03 | 1ULL << 32, 0);
	cmd_sync();
	EXPECT_EQ(VMXL_SMMU_ABORT, tx(1, false, 0, false, 0, &o));
	EXPECT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0, &o));
	/* CFGI_STE_RANGE: range 0 is 2 STEs from 2 aligned down. */
	cmd(0x04 | 3ULL << 32, 0);
	cmd_sync();
	EXPECT_EQ(VMXL_SMMU_ABORT, tx(2, false, 0, false, 0, &o));
	EXPECT_EQ(VMXL_SMMU_ABORT, tx(3, false, 0, false, 0, &o));
	/* CFGI_ALL */
	set_ste(1, STE_V | CFG_BYPASS, 0, 0, 0);
	set_ste(3, STE_V | CFG_BYPASS, 0, 0, 0);
	EXPECT_EQ(VMXL_SMMU_ABORT, tx(1, false, 0, false, 0, &o));
	cmd(0x04, 31);
	cmd_sync();
	EXPECT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0, &o));
	EXPECT_EQ(VMXL_SMMU_OK, tx(3, false, 0, false, 0, &o));
	/* SMMUEN 1 -> 0 drops everything too. */
	set_ste(1, STE_V | CFG_ABORT, 0, 0, 0);
	rw(SMMU_CR0, CR0_EVTQEN | CR0_CMDQEN);
	rw(SMMU_CR0, CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	EXPECT_EQ(VMXL_SMMU_ABORT, tx(1, false, 0, false, 0, &o));
	ASSERT_CLEAN();
	teardown();
}

TEST(cfgi_cd)
{
	struct vmxl_smmu_out o;
	u64 cds, ra, rb;

	setup();
	cds = galloc(64 * 4, 64);
	ra = galloc(4096, 4096);
	rb = galloc(4096, 4096);
	map1(ra, 25, 0x1000, RAM_BASE + 0xa000, 3);
	map1(rb, 25, 0x1000, RAM_BASE + 0xb000, 3);
	set_cd(cds, 25, 5, 10, ra);
	set_cd(cds + 64, 25, 5, 11, ra);
	set_ste(1, ste_s1(cds, 2, 0), 2, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, true, 1, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0xa000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	/* New ASID and tables for CD 1 and CD 0: not seen yet. */
	set_cd(cds, 25, 5, 20, rb);
	set_cd(cds + 64, 25, 5, 21, rb);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, true, 1, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0xa000, o.gpa);
	cmd(0x05 | 1ULL << 32 | 1 << 12, 0);	/* CFGI_CD sid 1 ssid 1 */
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, true, 1, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0xb000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0xa000, o.gpa);
	/* CFGI_CD_ALL */
	cmd(0x06 | 1ULL << 32, 0);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0xb000, o.gpa);
	ASSERT_CLEAN();
	teardown();
}

TEST(tlbi_stage1)
{
	struct vmxl_smmu_out o;
	u64 r1, r2, d1, d2, d3;

	setup();
	s1_stream(1, 25, 5, &r1);
	s1_stream(2, 25, 6, &r2);
	d1 = map1(r1, 25, 0x1000, RAM_BASE + 0x1000, 3);
	d2 = map1(r1, 25, 0x2000, RAM_BASE + 0x2000, 3);
	d3 = map1(r2, 25, 0x1000, RAM_BASE + 0x3000, 3);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	wr64(d1, rd64(d1) + 0x10000);
	wr64(d2, rd64(d2) + 0x10000);
	wr64(d3, rd64(d3) + 0x10000);
	/* Stale */
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x1000, o.gpa);
	EXPECT_TRUE(o.iotlb_hit);
	/* TLBI_NH_VA asid 5, va 0x1000: that page only */
	cmd(0x12 | 5ULL << 48, 0x1000 | 1);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x11000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	EXPECT_EQ(RAM_BASE + 0x2000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x3000, o.gpa);
	/* TLBI_NH_ASID 5: the rest of ASID 5, not ASID 6 */
	cmd(0x11 | 5ULL << 48, 0);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	EXPECT_EQ(RAM_BASE + 0x12000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x3000, o.gpa);
	/* TLBI_NH_VAA 0x1000: every ASID */
	cmd(0x13, 0x1000);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x13000, o.gpa);
	/* TLBI_NH_ALL (VAA dropped stream 1's page too: refill it) */
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	wr64(d1, rd64(d1) + 0x10000);
	wr64(d3, rd64(d3) + 0x10000);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x11000, o.gpa);
	cmd(0x10, 0);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x21000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x23000, o.gpa);
	/* TLBI_NH_VA inside a 2 MiB block drops the whole block */
	d1 = map1(r1, 25, 0x400000, RAM_BASE + 0x400000, 2);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x5ff000, &o));
	wr64(d1, rd64(d1) + 0x200000);
	cmd(0x12 | 5ULL << 48, 0x401000);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x5ff000, &o));
	EXPECT_EQ(RAM_BASE + 0x7ff000, o.gpa);
	/* Permission changes are stale too */
	d2 = map1(r1, 25, 0x8000, RAM_BASE + 0x8000, 3);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, true, 0x8000, &o));
	wr64(d2, rd64(d2) | D_AP2_RO);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, true, 0x8000, &o));
	cmd(0x12 | 5ULL << 48, 0x8000);
	cmd_sync();
	ASSERT_FAULT(tx(1, false, 0, true, 0x8000, &o), o,
		     SMMU_EVT_F_PERMISSION);
	ASSERT_CLEAN();
	teardown();
}

TEST(tlbi_stage2)
{
	struct vmxl_smmu_out o;
	u64 ra, rb, d1, d2, d3;

	setup();
	ra = s2_stream(1, 7);
	rb = s2_stream(2, 8);
	d1 = map2(ra, 0x1000, RAM_BASE + 0x1000, 3, S2RW);
	d2 = map2(ra, 0x2000, RAM_BASE + 0x2000, 3, S2RW);
	d3 = map2(rb, 0x1000, RAM_BASE + 0x3000, 3, S2RW);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	wr64(d1, rd64(d1) + 0x10000);
	wr64(d2, rd64(d2) + 0x10000);
	wr64(d3, rd64(d3) + 0x10000);
	/* Stage 1 invalidations do not touch stage 2 entries. */
	cmd(0x10 | 7ULL << 32, 0);
	cmd(0x13 | 7ULL << 32, 0x1000);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x1000, o.gpa);
	/* TLBI_S2_IPA vmid 7 0x1000 */
	cmd(0x2a | 7ULL << 32, 0x1000);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x11000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	EXPECT_EQ(RAM_BASE + 0x2000, o.gpa);
	/* TLBI_S12_VMALL vmid 7: not vmid 8 */
	cmd(0x28 | 7ULL << 32, 0);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x2000, &o));
	EXPECT_EQ(RAM_BASE + 0x12000, o.gpa);
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x3000, o.gpa);
	/* TLBI_NSNH_ALL */
	cmd(0x30, 0);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(2, false, 0, false, 0x1000, &o));
	EXPECT_EQ(RAM_BASE + 0x13000, o.gpa);
	ASSERT_CLEAN();
	teardown();
}

TEST(tlbi_nested)
{
	struct vmxl_smmu_out o;
	u64 s1, s2, d;

	setup();
	nested_stream(1, 2, 3, &s1, &s2);
	d = map2(s2, 0x20000000, RAM_BASE + 0x1000, 3, S2RW);
	map_nested(s1, 0x5000, 0x20000000, 3);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x5000, &o));
	EXPECT_EQ(RAM_BASE + 0x1000, o.gpa);
	wr64(d, rd64(d) + 0x1000);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x5000, &o));
	EXPECT_EQ(RAM_BASE + 0x1000, o.gpa);
	/* The IPA the nested entry went through */
	cmd(0x2a | 2ULL << 32, 0x20000000);
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x5000, &o));
	EXPECT_EQ(RAM_BASE + 0x2000, o.gpa);
	wr64(d, rd64(d) + 0x1000);
	cmd(0x11 | 3ULL << 48 | 2ULL << 32, 0);	/* NH_ASID asid 3 vmid 2 */
	cmd_sync();
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x5000, &o));
	EXPECT_EQ(RAM_BASE + 0x3000, o.gpa);
	ASSERT_CLEAN();
	teardown();
}

/* ---- capacity ---- */

TEST(iotlb_pressure)
{
	struct vmxl_smmu_out o;
	struct vmxl_smmu_stats st;
	u64 root;
	int i, pass;

	setup_full(8, 0, 4, 16, 8);
	s1_stream(1, 25, 1, &root);
	for (i = 0; i < 100; i++)
		map1(root, 25, 0x100000 + i * 0x1000ULL,
		     RAM_BASE + 0x800000 + i * 0x3000ULL, 3);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < 100; i++) {
			ASSERT_EQ(VMXL_SMMU_OK,
				  tx(1, false, 0, false,
				     0x100000 + i * 0x1000ULL + i, &o));
			ASSERT_EQ(RAM_BASE + 0x800000 + i * 0x3000ULL + i,
				  o.gpa);
		}
	st = stats();
	EXPECT_EQ(0ULL, st.iotlb_hits);
	EXPECT_EQ(200ULL, st.iotlb_misses);
	EXPECT_EQ(196ULL, st.iotlb_evictions);
	/* A working set of 4 pages fits: all hits after the first round */
	for (pass = 0; pass < 10; pass++)
		for (i = 0; i < 4; i++)
			ASSERT_EQ(VMXL_SMMU_OK,
				  tx(1, false, 0, false,
				     0x100000 + i * 0x1000ULL, &o));
	st = stats();
	EXPECT_EQ(36ULL, st.iotlb_hits);
	EXPECT_EQ(204ULL, st.iotlb_misses);
	/* LRU: touching page 0 keeps it when a fifth page comes in */
	tx(1, false, 0, false, 0x100000, &o);
	tx(1, false, 0, false, 0x200000 - 0x1000, &o);	/* unmapped */
	tx(1, false, 0, false, 0x104000, &o);		/* evicts page 1 */
	tx(1, false, 0, false, 0x100000, &o);
	EXPECT_TRUE(o.iotlb_hit);
	tx(1, false, 0, false, 0x101000, &o);
	EXPECT_FALSE(o.iotlb_hit);
	ASSERT_CLEAN();
	teardown();
}

/* An invalidated entry's slot is taken before any valid entry is evicted. */
TEST(iotlb_reuses_invalidated_slot_first)
{
	struct vmxl_smmu_out o;
	struct vmxl_smmu_stats st;
	u64 root;
	int i;

	setup_full(8, 0, 4, 16, 8);
	s1_stream(1, 25, 5, &root);
	for (i = 0; i < 6; i++)
		map1(root, 25, 0x100000 + i * 0x1000ULL,
		     RAM_BASE + 0x800000 + i * 0x1000ULL, 3);
	for (i = 0; i < 4; i++)		/* pages 0-3 fill the IOTLB */
		ASSERT_EQ(VMXL_SMMU_OK,
			  tx(1, false, 0, false, 0x100000 + i * 0x1000ULL, &o));
	/* TLBI_NH_VA asid 5, page 2 */
	cmd(0x12 | 5ULL << 48, 0x102000 | 1);
	cmd_sync();
	/* page 4 takes page 2's slot: nothing evicted, 0, 1, 3 still hit */
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x104000, &o));
	st = stats();
	EXPECT_EQ(0ULL, st.iotlb_evictions);
	for (i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		ASSERT_EQ(VMXL_SMMU_OK,
			  tx(1, false, 0, false, 0x100000 + i * 0x1000ULL, &o));
		EXPECT_TRUE(o.iotlb_hit) TH_LOG("page %d", i);
	}
	/* Full again: page 5 evicts the least recently used, page 0 */
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x105000, &o));
	st = stats();
	EXPECT_EQ(1ULL, st.iotlb_evictions);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x101000, &o));
	EXPECT_TRUE(o.iotlb_hit);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x100000, &o));
	EXPECT_FALSE(o.iotlb_hit);
	ASSERT_CLEAN();
	teardown();
}

TEST(cfg_cache_pressure)
{
	struct vmxl_smmu_out o;
	struct vmxl_smmu_stats st;
	int i, pass;

	setup_full(8, 0, 4, 2, 8);
	for (i = 0; i < 5; i++)
		set_ste(i, STE_V | CFG_BYPASS, 0, 0, 0);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < 5; i++)
			ASSERT_EQ(VMXL_SMMU_OK, tx(i, false, 0, false, 0, &o));
	st = stats();
	EXPECT_EQ(10ULL, st.cfg_misses);
	EXPECT_EQ(8ULL, st.cfg_evictions);
	tx(4, false, 0, false, 0, &o);
	st = stats();
	EXPECT_EQ(1ULL, st.cfg_hits);
	ASSERT_CLEAN();
	teardown();
}

/* ---- save and restore ---- */

/* Every register a guest reads, for comparing two SMMUs. */
static const u32 saved_offs[] = {
	SMMU_CR0, SMMU_CR0ACK, SMMU_CR1, SMMU_CR2, SMMU_GBPA, SMMU_IRQ_CTRL,
	SMMU_IRQ_CTRLACK, SMMU_GERROR, SMMU_GERRORN, SMMU_STRTAB_BASE,
	SMMU_STRTAB_BASE + 4, SMMU_STRTAB_BASE_CFG, SMMU_CMDQ_BASE,
	SMMU_CMDQ_BASE + 4, SMMU_CMDQ_PROD, SMMU_CMDQ_CONS, SMMU_EVTQ_BASE,
	SMMU_EVTQ_BASE + 4, SMMU_EVTQ_PROD, SMMU_EVTQ_CONS,
};

TEST(save_restore_regs)
{
	struct vmxl_smmu_regs r, r2, bad;
	struct vmxl_smmu_out o;
	struct vmxl_smmu *first;
	u32 vals[sizeof(saved_offs) / sizeof(saved_offs[0])];
	unsigned int i;
	u64 ev[4];

	setup();
	set_ste(1, STE_V | CFG_BYPASS, 0, 0, 0);
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1234, &o));
	/* Three events, one taken: PROD 3, CONS 1. */
	for (i = 0; i < 3; i++)
		tx(200, false, 0, false, 0, &o);
	ASSERT_TRUE(evt_pop(ev));
	rw(SMMU_CR1, 0x5a5);
	rw(SMMU_IRQ_CTRL, 5);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		vals[i] = rr(saved_offs[i]);
	vmxl_smmu_get_regs(E.s, &r);
	EXPECT_EQ(3U, r.evtq_prod);
	EXPECT_EQ(1U, r.evtq_cons);

	/* A second SMMU over the same memory takes it and reads the same. */
	first = E.s;
	ASSERT_NE(NULL, mk(8, 8, 64, 16));
	ASSERT_EQ(0, vmxl_smmu_set_regs(E.s, &r));
	vmxl_smmu_get_regs(E.s, &r2);
	EXPECT_EQ(0, memcmp(&r, &r2, sizeof(r)));
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		EXPECT_EQ(vals[i], rr(saved_offs[i])) TH_LOG("offset 0x%x",
							  saved_offs[i]);
	/* Caches start empty; the tables in memory still translate. */
	ASSERT_EQ(VMXL_SMMU_OK, tx(1, false, 0, false, 0x1234, &o));
	EXPECT_EQ(0x1234ULL, o.gpa);
	EXPECT_EQ(1ULL, stats().cfg_misses);
	/* The event queue goes on at PROD 3. */
	tx(200, false, 0, false, 0, &o);
	EXPECT_TRUE(o.event_queued);
	EXPECT_EQ(4U, rr(SMMU_EVTQ_PROD));

	/* Bits no register holds: refused, nothing changed. */
	vmxl_smmu_get_regs(E.s, &r);
#define REFUSE(field, v) do {						\
		bad = r;						\
		bad.field = (v);					\
		EXPECT_EQ(-EINVAL, vmxl_smmu_set_regs(E.s, &bad))	\
			TH_LOG(#field);					\
		vmxl_smmu_get_regs(E.s, &r2);				\
		EXPECT_EQ(0, memcmp(&r, &r2, sizeof(r)));		\
	} while (0)
	REFUSE(cr0, r.cr0 | 2);
	REFUSE(cr1, 1U << 12);
	REFUSE(cr2, 8);
	REFUSE(gbpa, r.gbpa | 1U << 31);
	REFUSE(irq_ctrl, 8);
	REFUSE(gerror, 2);
	REFUSE(gerrorn, 1U << 31);
	REFUSE(strtab_base, r.strtab_base | 1ULL << 63);
	REFUSE(strtab_cfg, 1U << 20);
	REFUSE(cmdq_base, r.cmdq_base | 1ULL << 52);
	REFUSE(evtq_base, r.evtq_base | 1ULL << 63);
	REFUSE(cmdq_prod, 1U << 20);
	REFUSE(cmdq_cons, 3U << 24);
	REFUSE(cmdq_cons, 1U << 31);
	REFUSE(evtq_prod, 1U << 30);
	REFUSE(evtq_cons, 1U << 20);
#undef REFUSE
	/* What the SMMU itself reports is taken: CONS.ERR, OVFLG. */
	bad = r;
	bad.cmdq_cons = 2U << 24 | 5;
	bad.evtq_prod = 1U << 31 | 4;
	EXPECT_EQ(0, vmxl_smmu_set_regs(E.s, &bad));
	ASSERT_CLEAN();
	teardown();
	E.s = first;
	teardown();
}

TEST_HARNESS_MAIN
