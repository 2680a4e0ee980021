// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for kmod/smmu.c. The input is a header (parameters,
 * whether to pre-program the SMMU), a guest memory image and a sequence of
 * operations: register writes and reads, transactions, pokes into guest
 * memory and commands queued at CMDQ_PROD. Guest memory is 64 KiB at
 * RAM_BASE; reads and writes elsewhere fail with -EFAULT, as they would
 * for a guest pointing its SMMU at nothing. The target aborts if the model
 * asks for an access whose arithmetic is wrong (length 0 or > 64, an
 * address range that wraps), returns an unknown result, or writes a fault
 * record that is not one of the defined types or does not name the
 * transaction's stream. libFuzzer's -timeout catches a loop that runs
 * away; ASan and UBSan catch the rest.
 *
 *   make -C selftests fuzz && build/unit/fuzz_smmu -max_total_time=20
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smmu.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	0x10000U
#define CMDQ_OFF	0xc000U
#define EVTQ_OFF	0xd000U
#define MAX_OPS		512

static u8 ram[RAM_SIZE];
static bool verbose;	/* FUZZ_SMMU_VERBOSE=1: print each transaction */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_SMMU_VERBOSE");
	return 0;
}

static void violation(const char *what, u64 gpa, u32 len)
{
	fprintf(stderr, "smmu model: %s gpa %#llx len %u\n", what,
		(unsigned long long)gpa, len);
	abort();
}

static int check(u64 gpa, u32 len)
{
	if (len == 0 || len > 64)
		violation("bad length", gpa, len);
	if (gpa + len < gpa)
		violation("range wraps", gpa, len);
	if (gpa < RAM_BASE || gpa + len > RAM_BASE + RAM_SIZE)
		return -EFAULT;
	return 0;
}

static int mem_read(void *ctx, u64 gpa, void *buf, u32 len)
{
	(void)ctx;
	if (check(gpa, len))
		return -EFAULT;
	memcpy(buf, ram + (gpa - RAM_BASE), len);
	return 0;
}

static int mem_write(void *ctx, u64 gpa, const void *buf, u32 len)
{
	(void)ctx;
	if (check(gpa, len))
		return -EFAULT;
	memcpy(ram + (gpa - RAM_BASE), buf, len);
	return 0;
}

struct input {
	const u8 *p;
	size_t n;
};

static u64 take(struct input *in, unsigned int bytes)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < bytes; i++) {
		u64 b = 0;

		if (in->n) {
			b = *in->p++;
			in->n--;
		}
		v |= b << (8 * i);
	}
	return v;
}

static const u32 offsets[] = {
	SMMU_IDR0, SMMU_IDR1, SMMU_IDR5, SMMU_CR0, SMMU_CR0ACK, SMMU_CR1,
	SMMU_CR2, SMMU_GBPA, SMMU_IRQ_CTRL, SMMU_GERROR, SMMU_GERRORN,
	SMMU_STRTAB_BASE, SMMU_STRTAB_BASE + 4, SMMU_STRTAB_BASE_CFG,
	SMMU_CMDQ_BASE, SMMU_CMDQ_BASE + 4, SMMU_CMDQ_PROD, SMMU_CMDQ_CONS,
	SMMU_EVTQ_BASE, SMMU_EVTQ_BASE + 4, SMMU_EVTQ_PROD, SMMU_EVTQ_CONS,
};

#define NOFFS (sizeof(offsets) / sizeof(offsets[0]))

static u32 pick_offset(struct input *in)
{
	u32 sel = take(in, 1);

	if (sel < 4 * NOFFS)
		return offsets[sel % NOFFS];
	return take(in, 3);	/* anywhere, aligned or not */
}

static bool valid_type(u64 t)
{
	switch (t) {
	case SMMU_EVT_F_UUT:
	case SMMU_EVT_C_BAD_STREAMID:
	case SMMU_EVT_F_STE_FETCH:
	case SMMU_EVT_C_BAD_STE:
	case SMMU_EVT_F_STREAM_DISABLED:
	case SMMU_EVT_C_BAD_SUBSTREAMID:
	case SMMU_EVT_F_CD_FETCH:
	case SMMU_EVT_C_BAD_CD:
	case SMMU_EVT_F_WALK_EABT:
	case SMMU_EVT_F_TRANSLATION:
	case SMMU_EVT_F_ADDR_SIZE:
	case SMMU_EVT_F_ACCESS:
	case SMMU_EVT_F_PERMISSION:
		return true;
	}
	return false;
}

static void translate(struct vmxl_smmu *s, struct input *in)
{
	struct vmxl_smmu_txn t;
	struct vmxl_smmu_out out;
	enum vmxl_smmu_result r;
	u32 flags;

	flags = take(in, 1);
	t.sid = flags & 0x80 ? take(in, 4) : take(in, 1);
	t.ssid = flags & 0x40 ? take(in, 4) : take(in, 1);
	t.ssv = flags & 1;
	t.write = flags & 2;
	t.iova = flags & 0x20 ? take(in, 8) : take(in, 4);
	memset(&out, 0xa5, sizeof(out));
	r = vmxl_smmu_translate(s, &t, &out);
	if (verbose)
		fprintf(stderr, "sid %u ssid %u%s %s %#llx: %s %#llx ev %#llx\n",
			t.sid, t.ssid, t.ssv ? "" : "(-)", t.write ? "W" : "R",
			(unsigned long long)t.iova,
			r == VMXL_SMMU_OK ? "OK" : r == VMXL_SMMU_FAULT ?
			"FAULT" : "ABORT", (unsigned long long)out.gpa,
			(unsigned long long)out.event[0]);
	switch (r) {
	case VMXL_SMMU_OK:
		if ((out.gpa & 0xfff) != (t.iova & 0xfff))
			violation("page offset lost", out.gpa, 0);
		break;
	case VMXL_SMMU_ABORT:
		break;
	case VMXL_SMMU_FAULT:
		if (!valid_type(out.event[0] & 0xff))
			violation("event type", out.event[0], 0);
		if (out.event[0] >> 32 != t.sid)
			violation("event SID", out.event[0], 0);
		if (!!(out.event[0] & (1ULL << 11)) != t.ssv)
			violation("event SSV", out.event[0], 0);
		break;
	default:
		violation("result", r, 0);
	}
}

/* Queue a 16-byte command at CMDQ_PROD, wherever the guest put the queue. */
static void queue_cmd(struct vmxl_smmu *s, struct input *in)
{
	u64 base = vmxl_smmu_reg_read(s, SMMU_CMDQ_BASE, 8);
	u32 log2 = base & 0x1f, prod, wmask;
	u64 w0 = take(in, 8), w1 = take(in, 8), a;
	u8 buf[16];

	if (log2 > 10)
		log2 = 10;
	wmask = (2U << log2) - 1;
	prod = vmxl_smmu_reg_read(s, SMMU_CMDQ_PROD, 4) & wmask;
	a = (base & 0xffffffffffe0ULL) + (u64)(prod & (wmask >> 1)) * 16;
	memcpy(buf, &w0, 8);
	memcpy(buf + 8, &w1, 8);
	if (a >= RAM_BASE && a + 16 <= RAM_BASE + RAM_SIZE)
		memcpy(ram + (a - RAM_BASE), buf, 16);
	vmxl_smmu_reg_write(s, SMMU_CMDQ_PROD, 4, (prod + 1) & wmask);
}

static const u32 tlb_sizes[] = { 1, 2, 4, 16, 64, 4096 };

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct input in = { data, size };
	struct vmxl_smmu_params p;
	struct vmxl_smmu_mem m = { NULL, mem_read, mem_write };
	struct vmxl_smmu_stats st;
	struct vmxl_smmu *s;
	u32 hdr, img, i;

	hdr = take(&in, 4);
	p.sid_bits = 1 + (hdr & 0xff) % 24;
	p.ssid_bits = ((hdr >> 8) & 0xff) % 21;
	p.iotlb_entries = tlb_sizes[((hdr >> 16) & 0xf) % 6];
	p.cfg_entries = 1 + ((hdr >> 20) & 0xf);
	s = vmxl_smmu_create(&p, &m);
	if (!s)
		abort();

	/* The memory image: up to 64 KiB from the input, the rest zero. */
	memset(ram, 0, sizeof(ram));
	img = take(&in, 2);
	if (img > in.n)
		img = in.n;
	memcpy(ram, in.p, img);
	in.p += img;
	in.n -= img;

	if (hdr & 0x80000000U) {
		/* Linear stream table at 0, queues of 32: ready to go. */
		vmxl_smmu_reg_write(s, SMMU_STRTAB_BASE, 8, RAM_BASE);
		vmxl_smmu_reg_write(s, SMMU_STRTAB_BASE_CFG, 4,
				    (hdr >> 24) & 0x7f ? 0x10108 : 8);
		vmxl_smmu_reg_write(s, SMMU_CMDQ_BASE, 8,
				    (RAM_BASE + CMDQ_OFF) | 5);
		vmxl_smmu_reg_write(s, SMMU_EVTQ_BASE, 8,
				    (RAM_BASE + EVTQ_OFF) | 5);
		vmxl_smmu_reg_write(s, SMMU_CR0, 4, 0xd);
	}

	for (i = 0; i < MAX_OPS && in.n; i++) {
		u32 op = take(&in, 1), off, len;
		u64 v;

		switch (op % 7) {
		case 0:
			off = pick_offset(&in);
			len = take(&in, 1) & 1 ? 8 : 4;
			vmxl_smmu_reg_write(s, off, len, take(&in, 8));
			break;
		case 1:
		case 2:
			translate(s, &in);
			break;
		case 3:
			off = take(&in, 2) & (RAM_SIZE - 8);
			v = take(&in, 8);
			memcpy(ram + off, &v, 8);
			break;
		case 4:
			/* A pointer into RAM with low flag bits. */
			off = take(&in, 2) & (RAM_SIZE - 8);
			v = RAM_BASE + (take(&in, 2) & ~0x3fULL);
			v |= take(&in, 1);
			memcpy(ram + off, &v, 8);
			break;
		case 5:
			queue_cmd(s, &in);
			break;
		case 6:
			off = pick_offset(&in);
			vmxl_smmu_reg_read(s, off, take(&in, 1) & 1 ? 8 : 4);
			break;
		}
	}
	vmxl_smmu_get_stats(s, &st);
	if (st.events_lost > st.events)
		violation("stats", st.events_lost, 0);
	vmxl_smmu_destroy(s);
	return 0;
}
