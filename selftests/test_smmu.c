// SPDX-License-Identifier: GPL-2.0
/*
 * The virtual SMMUv3 end to end: guest code (lib/smmu_guest.c) builds
 * stream tables, context descriptors and page tables in its memory and
 * programs the SMMU through the register window; the host performs DMA
 * as a device model would (VMXL_SMMU_DMA) through every configuration,
 * provokes each fault, and checks the record in the guest's event queue,
 * in the ioctl's answer and on the netlink "faults" group.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dlog.h"
#include "gvm.h"
#include "smmu_guest.h"
#include "testlib.h"
#include "vnl.h"

#define PAGE		4096ULL
#define IOVA		0x40000000ULL	/* devices' addresses (stage 1 input) */
#define IPA		0x80000000ULL	/* stage 2 input, for S2-only STEs */
#define T0SZ		25		/* 39-bit inputs: walks start at level 1 */
#define SID		3
#define ASID		7
#define VMID		9

FIXTURE(smmu) {
	struct gvm vm;
	struct sg_mailbox *mb;
	struct vnl nl;		/* joined to "faults" */
	uint32_t idr0, idr1;
};

FIXTURE_VARIANT(smmu) {
	int two_level;		/* stream table format */
	uint32_t iotlb;		/* IOTLB entries, 0: default */
};

FIXTURE_VARIANT_ADD(smmu, linear) { .two_level = 0 };
FIXTURE_VARIANT_ADD(smmu, two_level) { .two_level = 1 };

/* One mailbox request to the guest driver; its answer. */
static uint64_t sg_do(struct __test_metadata *_metadata, struct gvm *vm,
		      uint64_t op, const uint64_t *a)
{
	uint64_t ret;

	ASSERT_EQ(0, sg_call(vm, op, a, &ret));
	return ret;
}

#define SG(op, ...) sg_do(_metadata, &self->vm, (op),			\
			  (uint64_t[8]){ __VA_ARGS__ })

/* A transfer; the ioctl's result (0 or -errno) with @d filled. */
static int dma(struct gvm *vm, uint32_t sid, uint64_t iova, void *buf,
	       uint64_t len, uint32_t flags, struct vmxl_dma *d)
{
	memset(d, 0, sizeof(*d));
	d->stream_id = sid;
	d->iova = iova;
	d->buf = (uintptr_t)buf;
	d->len = len;
	d->flags = flags;
	return ioctl(vm->vm_fd, VMXL_SMMU_DMA, d) ? -errno : 0;
}

static int translate(struct gvm *vm, uint32_t sid, uint64_t iova,
		     uint32_t flags, struct vmxl_dma *d)
{
	memset(d, 0, sizeof(*d));
	d->stream_id = sid;
	d->iova = iova;
	d->flags = flags;
	return ioctl(vm->vm_fd, VMXL_SMMU_TRANSLATE, d) ? -errno : 0;
}

static void setup_smmu(struct __test_metadata *_metadata,
		       FIXTURE_DATA(smmu) *self, int two_level, uint32_t iotlb)
{
	struct vmxl_smmu_config c = {
		.base_gpa = SG_SMMU_BASE, .sid_bits = 8, .ssid_bits = 4,
		.iotlb_entries = iotlb,
	};
	int ret;

	ret = gvm_hypervisor_load(GVM_VMXL);
	if (ret == -ENODEV || ret == -EBUSY)
		SKIP(return, "vmx-lite cannot run guests here");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, gvm_create(&self->vm, GVM_VMXL, 1));
	ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_CREATE_SMMU, &c));
	self->mb = gvm_gpa(&self->vm, SG_MAILBOX, sizeof(*self->mb));
	ASSERT_NE(NULL, self->mb);
	ASSERT_EQ(0, vnl_open(&self->nl));
	ASSERT_EQ(0, vnl_join(&self->nl, VNL_FAULTS));
	ASSERT_EQ(0, sg_start(&self->vm));
	/* 256 STEs; 2-level: 16 leaf tables of 16 */
	self->idr0 = SG(SG_OP_INIT, two_level, 8, 4, 3);
	self->idr1 = self->mb->a[4];
}

FIXTURE_SETUP(smmu)
{
	self->vm.mem = NULL;
	self->nl.sk = NULL;
	setup_smmu(_metadata, self, variant->two_level, variant->iotlb);
}

FIXTURE_TEARDOWN(smmu)
{
	vnl_close(&self->nl);
	if (self->vm.mem)
		gvm_destroy(&self->vm);
	test_module_unload("vmx_lite");
}

static uint8_t *gmem(FIXTURE_DATA(smmu) *self, uint64_t gpa)
{
	return gvm_gpa(&self->vm, gpa, PAGE);
}

/* Stage 1 for SID: one CD (ASID) with a fresh page table; its root. */
static uint64_t s1_stream(struct __test_metadata *_metadata,
			  FIXTURE_DATA(smmu) *self, uint32_t sid)
{
	uint64_t cd = SG(SG_OP_ALLOC, 64);
	uint64_t root = SG(SG_OP_ALLOC, PAGE);

	SG(SG_OP_CD, cd, 0, ASID, root, T0SZ | 5 << 8, sid);
	SG(SG_OP_STE, sid, SG_STE_S1, cd, 0);
	return root;
}

/* Expect the fault @type for @sid at @addr: in @d, in the queue, on netlink. */
static void expect_fault(struct __test_metadata *_metadata,
			 FIXTURE_DATA(smmu) *self, const struct vmxl_dma *d,
			 unsigned int type, uint32_t sid, uint64_t addr)
{
	struct vnl_msg ev;
	uint64_t n;

	ASSERT_EQ(VMXL_DMA_FAULT, d->status);
	EXPECT_EQ(type, SG_EVT_TYPE(d->event));
	EXPECT_EQ(sid, SG_EVT_SID(d->event));
	if (addr != ~0ULL)
		EXPECT_EQ(addr, SG_EVT_ADDR(d->event));
	n = SG(SG_OP_EVENTS);
	ASSERT_EQ(1, n);
	EXPECT_EQ(0, memcmp(self->mb->events[0], d->event, 32));
	ASSERT_EQ(0, vnl_next_event(&self->nl, 0, &ev, 2000));
	EXPECT_EQ(VMXL_EVT_SMMU_FAULT, ev.cmd);
	EXPECT_EQ((uint64_t)ioctl(self->vm.vm_fd, VMXL_GET_VM_ID, 0),
		  ev.u[VMXL_A_VM_ID]);
	EXPECT_EQ(sid, ev.u[VMXL_A_SMMU_SID]);
	EXPECT_EQ(type, ev.u[VMXL_A_SMMU_EVENT_TYPE]);
}

TEST_F(smmu, registers_after_enable)
{
	/* S1P, S2P, AArch64 tables, 2-level stream tables; 8/4 id bits */
	EXPECT_EQ(3, self->idr0 & 3);
	EXPECT_EQ(2, (self->idr0 >> 2) & 3);
	EXPECT_EQ(1, (self->idr0 >> 27) & 3);
	EXPECT_EQ(8, self->idr1 & 0x3f);
	EXPECT_EQ(4, (self->idr1 >> 6) & 0x1f);
	EXPECT_EQ(1, (SG(SG_OP_REG, 0x14, 4) >> 4) & 1);	/* GRAN4K */
	/* GBPA: UPDATE completes at once */
	EXPECT_EQ(SG_GBPA_ABORT,
		  SG(SG_OP_REG, SG_GBPA, 4, 1, SG_GBPA_ABORT | SG_GBPA_UPDATE));
	EXPECT_EQ(0, SG(SG_OP_REG, SG_GBPA, 4, 1, SG_GBPA_UPDATE));
	/* 64-bit register, both halves */
	EXPECT_EQ(SG(SG_OP_REG, SG_STRTAB_BASE, 8),
		  SG(SG_OP_REG, SG_STRTAB_BASE, 4) |
		  SG(SG_OP_REG, SG_STRTAB_BASE + 4, 4) << 32);
}

/* SMMUEN=0: GBPA decides; with no SMMU, the VM's flag does. */
TEST_F(smmu, disabled_smmu_follows_gbpa)
{
	uint8_t buf[64] = "through a disabled SMMU";
	struct vmxl_dma d;

	SG(SG_OP_REG, SG_CR0, 4, 1, SG_CR0_CMDQEN | SG_CR0_EVTQEN);
	ASSERT_EQ(0, dma(&self->vm, SID, SG_DATA, buf, sizeof(buf),
			 VMXL_DMA_WRITE, &d));
	EXPECT_EQ(0, memcmp(gmem(self, SG_DATA), buf, sizeof(buf)));
	SG(SG_OP_REG, SG_GBPA, 4, 1, SG_GBPA_ABORT | SG_GBPA_UPDATE);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, SG_DATA, buf, 8, 0, &d));
	EXPECT_EQ(VMXL_DMA_ABORTED, d.status);
	EXPECT_EQ(0, d.done);
	EXPECT_EQ(0, SG(SG_OP_EVENTS));
}

TEST(no_smmu_bypass_or_strict)
{
	struct vmxl_memory_region mr = { .memory_size = 2 * PAGE };
	uint64_t v = 0x1122334455667788ULL;
	int sys, vm;
	unsigned int flags;
	struct vmxl_dma d;
	uint8_t *mem;

	if (gvm_hypervisor_load(GVM_VMXL))
		SKIP(return, "vmx-lite cannot run guests here");
	sys = open(VMXL_DEV, O_RDWR);
	ASSERT_LE(0, sys);
	mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mr.userspace_addr = (uintptr_t)mem;
	for (flags = 0; flags <= VMXL_VM_DMA_STRICT; flags++) {
		vm = ioctl(sys, VMXL_CREATE_VM, flags);
		ASSERT_LE(0, vm);
		ASSERT_EQ(0, ioctl(vm, VMXL_SET_MEMORY_REGION, &mr));
		memset(&d, 0, sizeof(d));
		d.iova = PAGE + 8;
		d.len = 8;
		d.buf = (uintptr_t)&v;
		d.flags = VMXL_DMA_WRITE;
		if (!flags) {
			EXPECT_EQ(0, ioctl(vm, VMXL_SMMU_DMA, &d));
			EXPECT_EQ(v, *(uint64_t *)(mem + PAGE + 8));
			/* beyond RAM: stops there */
			d.iova = 2 * PAGE - 4;
			EXPECT_EQ(-1, ioctl(vm, VMXL_SMMU_DMA, &d));
			EXPECT_EQ(VMXL_DMA_NO_RAM, d.status);
			EXPECT_EQ(4, d.done);
		} else {
			EXPECT_EQ(-1, ioctl(vm, VMXL_SMMU_DMA, &d));
			EXPECT_EQ(EFAULT, errno);
			EXPECT_EQ(VMXL_DMA_ABORTED, d.status);
		}
		close(vm);
	}
	EXPECT_EQ(-1, ioctl(sys, VMXL_CREATE_VM, 1UL << 31));
	EXPECT_EQ(EINVAL, errno);
	munmap(mem, 2 * PAGE);
	close(sys);
	test_module_unload("vmx_lite");
}

TEST_F(smmu, bypass_and_abort_stes)
{
	uint64_t v = 42, r = 0;
	struct vmxl_dma d;

	SG(SG_OP_STE, SID, SG_STE_BYPASS);
	ASSERT_EQ(0, dma(&self->vm, SID, SG_DATA + 16, &v, 8, VMXL_DMA_WRITE, &d));
	ASSERT_EQ(0, dma(&self->vm, SID, SG_DATA + 16, &r, 8, 0, &d));
	EXPECT_EQ(42, r);
	SG(SG_OP_STE, SID, SG_STE_ABORT);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, SG_DATA + 16, &v, 8, 0, &d));
	EXPECT_EQ(VMXL_DMA_ABORTED, d.status);
	EXPECT_EQ(0, SG(SG_OP_EVENTS));		/* abort records nothing */
}

/* Stage 1: pages land where the tables say, permissions hold. */
TEST_F(smmu, stage1_pages_blocks_permissions)
{
	uint64_t root = s1_stream(_metadata, self, SID);
	static uint8_t buf[3 * PAGE], back[3 * PAGE];
	struct vmxl_dma d;
	unsigned int i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7 + 1;
	/* three IOVA pages onto scattered guest pages, the last read-only */
	SG(SG_OP_MAP, root, IOVA, SG_DATA + 5 * PAGE, 1, SG_R | SG_W, 3, 1);
	SG(SG_OP_MAP, root, IOVA + PAGE, SG_DATA + 2 * PAGE, 1, SG_R | SG_W, 3, 1);
	SG(SG_OP_MAP, root, IOVA + 2 * PAGE, SG_DATA + 9 * PAGE, 1, SG_R, 3, 1);
	/* a 2 MiB block */
	SG(SG_OP_MAP, root, IOVA + 0x200000, SG_DATA + 0x200000, 1,
	   SG_R | SG_W, 2, 1);

	ASSERT_EQ(0, dma(&self->vm, SID, IOVA + 100, buf, 2 * PAGE - 100,
			 VMXL_DMA_WRITE, &d));
	EXPECT_EQ(2 * PAGE - 100, d.done);
	EXPECT_EQ(0, memcmp(gmem(self, SG_DATA + 5 * PAGE) + 100, buf,
			    PAGE - 100));
	EXPECT_EQ(0, memcmp(gmem(self, SG_DATA + 2 * PAGE), buf + PAGE - 100,
			    PAGE));
	ASSERT_EQ(0, dma(&self->vm, SID, IOVA + 100, back, 2 * PAGE - 100, 0,
			 &d));
	EXPECT_EQ(0, memcmp(back, buf, 2 * PAGE - 100));
	/* the read-only page: reads work, a write stops before it */
	ASSERT_EQ(0, dma(&self->vm, SID, IOVA + 2 * PAGE, back, 16, 0, &d));
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA + PAGE, buf, 2 * PAGE,
			       VMXL_DMA_WRITE, &d));
	EXPECT_EQ(PAGE, d.done);
	expect_fault(_metadata, self, &d, SG_EVT_F_PERMISSION, SID,
		     IOVA + 2 * PAGE);
	EXPECT_EQ(0, SG_EVT_RNW(d.event));	/* a write */
	EXPECT_EQ(0, SG_EVT_S2(d.event));
	EXPECT_EQ(2, SG_EVT_CLASS(d.event));	/* the input address */
	/* the block, 1 MiB in */
	ASSERT_EQ(0, dma(&self->vm, SID, IOVA + 0x300000, buf, 64,
			 VMXL_DMA_WRITE, &d));
	EXPECT_EQ(0, memcmp(gmem(self, SG_DATA + 0x300000), buf, 64));
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA + 0x300010, 0, &d));
	EXPECT_EQ(SG_DATA + 0x300010, d.gpa);
}

/* Stage 2 only, and nested: stage 1's tables and output are IPAs. */
TEST_F(smmu, stage2_and_nested)
{
	uint64_t s2 = SG(SG_OP_ALLOC, PAGE), cd, s1, v = 0xabcdef, r = 0;
	uint64_t s2cfg = VMID | T0SZ << 16 | 1 << 24 | 5ULL << 28;
	struct vmxl_dma d;

	/* S2: IPA page -> data page, read-only first */
	SG(SG_OP_MAP, s2, IPA, SG_DATA + 3 * PAGE, 2, SG_R, 3, 1);
	SG(SG_OP_STE, SID, SG_STE_S2, 0, 0, s2, s2cfg);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IPA + 8, &v, 8, VMXL_DMA_WRITE, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_PERMISSION, SID, IPA + 8);
	EXPECT_EQ(1, SG_EVT_S2(d.event));
	EXPECT_EQ(IPA, SG_EVT_IPA(d.event));
	SG(SG_OP_MAP, s2, IPA, SG_DATA + 3 * PAGE, 2, SG_R | SG_W, 3, 1);
	SG(SG_OP_CMD, SG_CMD_TLBI_S2_IPA | (uint64_t)VMID << 32, IPA);
	ASSERT_EQ(0, dma(&self->vm, SID, IPA + 8, &v, 8, VMXL_DMA_WRITE, &d));
	EXPECT_EQ(v, *(uint64_t *)(gmem(self, SG_DATA + 3 * PAGE) + 8));

	/*
	 * Nested: the CD and stage 1's table live at IPAs; stage 2 maps
	 * them (identity, in the heap) and stage 1's output IPA.
	 */
	cd = SG(SG_OP_ALLOC, PAGE);
	s1 = SG(SG_OP_ALLOC, PAGE);
	SG(SG_OP_MAP, s1, IOVA, IPA, 1, SG_R | SG_W, 3, 1);
	SG(SG_OP_CD, cd, 0, ASID, s1, T0SZ | 5 << 8, ~0ULL);
	/* identity stage 2 for the heap: one 2 MiB block per table area */
	SG(SG_OP_MAP, s2, SG_HEAP & ~0x1fffffULL, SG_HEAP & ~0x1fffffULL, 2,
	   SG_R | SG_W, 2, 1);
	SG(SG_OP_MAP, s2, (SG_HEAP & ~0x1fffffULL) + 0x200000,
	   (SG_HEAP & ~0x1fffffULL) + 0x200000, 2, SG_R | SG_W, 2, 1);
	SG(SG_OP_CMD, SG_CMD_TLBI_S12_VMALL | (uint64_t)VMID << 32, 0);
	SG(SG_OP_STE, SID + 1, SG_STE_NESTED, cd, 0, s2, s2cfg);
	ASSERT_EQ(0, dma(&self->vm, SID + 1, IOVA + 8, &r, 8, 0, &d))
		TH_LOG("status %u event type %#lx", d.status,
		       (unsigned long)SG_EVT_TYPE(d.event));
	EXPECT_EQ(v, r);
	ASSERT_EQ(0, translate(&self->vm, SID + 1, IOVA + 8, 0, &d));
	EXPECT_EQ(SG_DATA + 3 * PAGE + 8, d.gpa);

	/* stage 1 maps an IPA stage 2 does not: a stage-2 fault, class IN */
	SG(SG_OP_MAP, s1, IOVA + PAGE, IPA + 16 * PAGE, 1, SG_R | SG_W, 3, 1);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 1, IOVA + PAGE, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_TRANSLATION, SID + 1,
		     IOVA + PAGE);
	EXPECT_EQ(1, SG_EVT_S2(d.event));
	EXPECT_EQ(2, SG_EVT_CLASS(d.event));
	EXPECT_EQ(1, SG_EVT_RNW(d.event));
	EXPECT_EQ(IPA + 16 * PAGE, SG_EVT_IPA(d.event));
}

/* Substreams: one CD per SSID, each with its own ASID and tables. */
TEST_F(smmu, substreams)
{
	uint64_t cds = SG(SG_OP_ALLOC, 4 * 64), root[4], v, r;
	struct vmxl_dma d;
	int i;

	for (i = 0; i < 4; i++) {
		root[i] = SG(SG_OP_ALLOC, PAGE);
		SG(SG_OP_MAP, root[i], IOVA, SG_DATA + i * PAGE, 1,
		   SG_R | SG_W, 3, 1);
		SG(SG_OP_CD, cds, i, ASID + i, root[i], T0SZ | 5 << 8, ~0ULL);
	}
	/* S1CDMax 2: four CDs; no SSID: terminate */
	SG(SG_OP_STE, SID, SG_STE_S1, cds, 2);
	for (i = 0; i < 4; i++) {
		v = 100 + i;
		memset(&d, 0, sizeof(d));
		d.stream_id = SID;
		d.substream_id = i;
		d.flags = VMXL_DMA_WRITE | VMXL_DMA_SSV;
		d.iova = IOVA + 8;
		d.len = 8;
		d.buf = (uintptr_t)&v;
		ASSERT_EQ(0, ioctl(self->vm.vm_fd, VMXL_SMMU_DMA, &d));
		EXPECT_EQ(v, *(uint64_t *)(gmem(self, SG_DATA + i * PAGE) + 8));
	}
	/* SSID 4 is beyond S1CDMax */
	d.substream_id = 4;
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_SMMU_DMA, &d));
	expect_fault(_metadata, self, &d, SG_EVT_C_BAD_SUBSTREAMID, SID, ~0ULL);
	EXPECT_EQ(1, SG_EVT_SSV(d.event));
	EXPECT_EQ(4, SG_EVT_SSID(d.event));
	/* no SSID, S1DSS terminate */
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA + 8, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_STREAM_DISABLED, SID, ~0ULL);
	/* S1DSS = substream 0 */
	SG(SG_OP_STE, SID, SG_STE_S1, cds, 2 | 2 << 16);
	ASSERT_EQ(0, dma(&self->vm, SID, IOVA + 8, &r, 8, 0, &d));
	EXPECT_EQ(100, r);
}

/* Each configuration fault, with its record. */
TEST_F(smmu, configuration_faults)
{
	uint64_t root = s1_stream(_metadata, self, SID), r, cd;
	struct vmxl_dma d;

	/* StreamID beyond the table (256 STEs) */
	EXPECT_EQ(-EFAULT, dma(&self->vm, 300, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_C_BAD_STREAMID, 300, ~0ULL);
	/* an invalid STE */
	SG(SG_OP_STE, SID + 1, SG_STE_BYPASS, 0, 0, 0, 0, 1);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 1, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_C_BAD_STE, SID + 1, ~0ULL);
	/* a reserved Config */
	SG(SG_OP_STE, SID + 1, 2);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 1, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_C_BAD_STE, SID + 1, ~0ULL);
	/* an invalid CD */
	cd = SG(SG_OP_ALLOC, 64);
	SG(SG_OP_CD, cd, 0, ASID, root, T0SZ | 5 << 8 | 1 << 16, ~0ULL);
	SG(SG_OP_STE, SID + 2, SG_STE_S1, cd);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 2, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_C_BAD_CD, SID + 2, ~0ULL);
	/* a page table outside guest memory */
	SG(SG_OP_CD, cd, 0, ASID + 1, 0x7ff00000ULL, T0SZ | 5 << 8, SID + 2);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 2, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_WALK_EABT, SID + 2, IOVA);
	/* the stream table itself outside guest memory */
	SG(SG_OP_REG, SG_CR0, 4, 1, SG_CR0_CMDQEN | SG_CR0_EVTQEN);
	SG(SG_OP_REG, SG_STRTAB_BASE, 8, 1, 0x7ff00000ULL);
	SG(SG_OP_REG, SG_STRTAB_CFG, 4, 1, 8);
	SG(SG_OP_REG, SG_CR0, 4, 1, SG_CR0_CMDQEN | SG_CR0_EVTQEN |
	   SG_CR0_SMMUEN);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_STE_FETCH, SID, ~0ULL);
}

/* Each translation fault, with its record. */
TEST_F(smmu, translation_faults)
{
	uint64_t root = s1_stream(_metadata, self, SID), r, cd;
	struct vmxl_dma d;

	/* nothing mapped there */
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA + 64 * PAGE, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_TRANSLATION, SID,
		     IOVA + 64 * PAGE);
	EXPECT_EQ(1, SG_EVT_RNW(d.event));
	/* beyond the 39-bit input range */
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, 1ULL << 40, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_TRANSLATION, SID, 1ULL << 40);
	/* access flag clear */
	SG(SG_OP_MAP, root, IOVA, SG_DATA, 1, SG_R | SG_W | SG_NO_AF, 3, 1);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_ACCESS, SID, IOVA);
	/* output beyond the CD's 32-bit IPS */
	cd = SG(SG_OP_ALLOC, 64);
	SG(SG_OP_MAP, root, IOVA + PAGE, 1ULL << 33, 1, SG_R | SG_W, 3, 1);
	SG(SG_OP_CD, cd, 0, ASID + 1, root, T0SZ | 0 << 8, ~0ULL);
	SG(SG_OP_STE, SID + 1, SG_STE_S1, cd);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 1, IOVA + PAGE, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_ADDR_SIZE, SID + 1,
		     IOVA + PAGE);
	/* EPD0: walks of TTB0 are disabled */
	SG(SG_OP_CD, cd, 0, ASID + 2, root, T0SZ | 5 << 8 | 1 << 17, SID + 1);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID + 1, IOVA + PAGE, &r, 8, 0, &d));
	expect_fault(_metadata, self, &d, SG_EVT_F_TRANSLATION, SID + 1,
		     IOVA + PAGE);
}

/* Caches hold stale state until the guest invalidates, and not after. */
TEST_F(smmu, invalidation_takes_effect)
{
	uint64_t root = s1_stream(_metadata, self, SID);
	struct vmxl_dma d;

	SG(SG_OP_MAP, root, IOVA, SG_DATA, 1, SG_R | SG_W, 3, 1);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(SG_DATA, d.gpa);
	/* remap without TLBI: the IOTLB still has the old page */
	SG(SG_OP_MAP, root, IOVA, SG_DATA + PAGE, 1, SG_R | SG_W, 3, 1);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(SG_DATA, d.gpa);
	EXPECT_EQ(1, d.iotlb_hits);
	SG(SG_OP_CMD, SG_CMD_TLBI_NH_VA | (uint64_t)ASID << 48, IOVA);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(SG_DATA + PAGE, d.gpa);
	/* by ASID */
	SG(SG_OP_MAP, root, IOVA, SG_DATA + 2 * PAGE, 1, SG_R | SG_W, 3, 1);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(SG_DATA + PAGE, d.gpa);
	SG(SG_OP_CMD, SG_CMD_TLBI_NH_ASID | (uint64_t)ASID << 48, 0);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(SG_DATA + 2 * PAGE, d.gpa);
	/* everything */
	SG(SG_OP_MAP, root, IOVA, SG_DATA + 3 * PAGE, 1, SG_R | SG_W, 3, 1);
	SG(SG_OP_CMD, SG_CMD_TLBI_NSNH_ALL, 0);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(SG_DATA + 3 * PAGE, d.gpa);
	/* the configuration cache: an STE changed without CFGI */
	SG(SG_OP_STE, SID, SG_STE_ABORT, 0, 0, 0, 0, 0, 1);
	ASSERT_EQ(0, translate(&self->vm, SID, IOVA, 0, &d));
	SG(SG_OP_CMD, SG_CMD_CFGI_STE | (uint64_t)SID << 32, 1);
	EXPECT_EQ(-EFAULT, translate(&self->vm, SID, IOVA, 0, &d));
	EXPECT_EQ(VMXL_DMA_ABORTED, d.status);
}

FIXTURE_VARIANT_ADD(smmu, small_iotlb) { .two_level = 0, .iotlb = 8 };

/* A tiny IOTLB under a 64-page stream: evictions, never wrong data. */
TEST_F(smmu, iotlb_pressure_keeps_results)
{
	uint64_t root = s1_stream(_metadata, self, SID), i;
	static uint8_t buf[64 * PAGE], back[64 * PAGE];
	unsigned int misses = 0, hits = 0, round;
	struct vmxl_dma d;

	for (i = 0; i < 64; i++)	/* reversed: IOVA page i -> data 63-i */
		SG(SG_OP_MAP, root, IOVA + i * PAGE, SG_DATA + (63 - i) * PAGE,
		   1, SG_R | SG_W, 3, 1);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i ^ (i >> 12);
	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, dma(&self->vm, SID, IOVA, buf, sizeof(buf),
				 VMXL_DMA_WRITE, &d));
		misses += d.iotlb_misses;
		hits += d.iotlb_hits;
	}
	for (i = 0; i < 64; i++) {
		EXPECT_EQ(0, memcmp(gmem(self, SG_DATA + (63 - i) * PAGE),
				    buf + i * PAGE, PAGE)) TH_LOG("page %lu", (unsigned long)i);
	}
	ASSERT_EQ(0, dma(&self->vm, SID, IOVA, back, sizeof(back), 0, &d));
	EXPECT_EQ(0, memcmp(back, buf, sizeof(buf)));
	TH_LOG("3 x 64 pages: %u misses, %u hits", misses, hits);
	/* streaming beats any 8 entries; 256 entries hold them all */
	EXPECT_EQ(variant->iotlb == 8 ? 3 * 64 : 64, misses);
	/* 4 pages over and over: they stay */
	for (round = 0, hits = 0; round < 10; round++) {
		ASSERT_EQ(0, dma(&self->vm, SID, IOVA, back, 4 * PAGE, 0, &d));
		hits += d.iotlb_hits;
	}
	EXPECT_LE(36, hits);
}

/* An illegal command stops the queue until the guest acknowledges. */
TEST_F(smmu, illegal_command_raises_cmdq_err)
{
	uint64_t cons;

	cons = SG(SG_OP_CMD, 0x7f, 0, 1);	/* no such opcode */
	EXPECT_EQ(1, (cons >> 24) & 0x7f);	/* CERROR_ILL */
	EXPECT_EQ(0, cons & 0xff);		/* stuck on it */
	EXPECT_EQ(1, self->mb->a[4] & 1);	/* GERROR.CMDQ_ERR */
	/* a valid command behind it waits */
	cons = SG(SG_OP_CMD, SG_CMD_TLBI_NSNH_ALL, 0, 1);
	EXPECT_EQ(0, cons & 0xff);
	/* the guest fixes the command in place and acknowledges */
	{
		uint64_t *q = gvm_gpa(&self->vm,
				      SG(SG_OP_REG, SG_CMDQ_BASE, 8) &
				      0x000fffffffffffe0ULL, 32);

		q[0] = SG_CMD_TLBI_NSNH_ALL;
	}
	cons = SG(SG_OP_ACK);
	EXPECT_EQ(2, cons & 0xff);		/* both ran */
	EXPECT_EQ(0, SG(SG_OP_REG, SG_GERROR, 4) ^
		     SG(SG_OP_REG, SG_GERRORN, 4));	/* no error active */
}

/* The event queue overflows instead of overwriting unread records. */
TEST_F(smmu, event_queue_overflow)
{
	struct vmxl_dma d;
	uint64_t r;
	int i;

	/* 8 entries; 12 faults */
	for (i = 0; i < 12; i++)
		EXPECT_EQ(-EFAULT, dma(&self->vm, 200 + i, IOVA, &r, 8, 0, &d));
	EXPECT_EQ(8, SG(SG_OP_EVENTS));
	EXPECT_EQ(1u << 31, self->mb->a[4] & (1u << 31));	/* OVFLG */
	for (i = 0; i < 8; i++)
		EXPECT_EQ(200 + i, SG_EVT_SID(self->mb->events[i]));
	/* after the acknowledgment, records flow again */
	EXPECT_EQ(-EFAULT, dma(&self->vm, 250, IOVA, &r, 8, 0, &d));
	EXPECT_EQ(1, SG(SG_OP_EVENTS));
	EXPECT_EQ(250, SG_EVT_SID(self->mb->events[0]));
}

/* Device writes are guest writes for dirty logging. */
TEST_F(smmu, dma_writes_are_logged)
{
	uint8_t buf[3 * PAGE] = { 1 };
	uint64_t bm[1] = { 0 };
	struct vmxl_dma d;
	void *mem;

	mem = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, dlog_slot_set(&self->vm, 1, 0x10000000ULL, mem,
				   64 * PAGE, true));
	SG(SG_OP_STE, SID, SG_STE_BYPASS);
	ASSERT_EQ(0, dma(&self->vm, SID, 0x10000000ULL + 5 * PAGE + 8, buf,
			 2 * PAGE, VMXL_DMA_WRITE, &d));
	ASSERT_EQ(0, dlog_get(&self->vm, 1, bm, 64));
	EXPECT_EQ(7ULL << 5, bm[0]);	/* pages 5, 6, 7 */
	/* reads are not */
	ASSERT_EQ(0, dlog_clear(&self->vm, 1, 0, 64, bm));
	ASSERT_EQ(0, dma(&self->vm, SID, 0x10000000ULL, buf, 3 * PAGE, 0, &d));
	ASSERT_EQ(0, dlog_get(&self->vm, 1, bm, 64));
	EXPECT_EQ(0, bm[0]);
}

TEST_F(smmu, bad_arguments)
{
	struct vmxl_smmu_config c = { .base_gpa = 0xe0000000ULL, .sid_bits = 8 };
	struct vmxl_memory_region mr = { .slot = 2, .memory_size = PAGE };
	uint64_t v;
	struct vmxl_dma d;
	void *mem;

	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_CREATE_SMMU, &c));
	EXPECT_EQ(EEXIST, errno);		/* one per VM */
#define BAD_DMA(field, val) do {					\
	memset(&d, 0, sizeof(d));					\
	d.len = 8;							\
	d.buf = (uintptr_t)&v;						\
	d.field = val;							\
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_SMMU_DMA, &d));	\
	EXPECT_EQ(EINVAL, errno) TH_LOG(#field);			\
} while (0)
	BAD_DMA(flags, 4);
	BAD_DMA(reserved[1], 1);
	BAD_DMA(len, 0);
	BAD_DMA(len, VMXL_DMA_MAX_LEN + 1);
	BAD_DMA(iova, ~0ULL - 3);
	BAD_DMA(substream_id, 1);		/* without VMXL_DMA_SSV */
#undef BAD_DMA
	memset(&d, 0, sizeof(d));
	d.len = 8;
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_SMMU_TRANSLATE, &d));
	EXPECT_EQ(EINVAL, errno);
	/* a bad buffer */
	SG(SG_OP_STE, SID, SG_STE_BYPASS);
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, SG_DATA, (void *)8, 8, 0, &d));
	EXPECT_EQ(VMXL_DMA_BAD_BUFFER, d.status);
	/* no slot over the register window */
	mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mr.userspace_addr = (uintptr_t)mem;
	mr.guest_phys_addr = SG_SMMU_BASE + 0x10000;
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	EXPECT_EQ(EEXIST, errno);
	munmap(mem, PAGE);
}

/* Creating an SMMU: every field checked. */
TEST(smmu_create_arguments)
{
	struct vmxl_smmu_config good = { .base_gpa = 0xd0000000ULL,
					 .sid_bits = 8 }, c;
	struct vmxl_memory_region mr = { .memory_size = PAGE };
	int sys, vm;
	void *mem;

	if (gvm_hypervisor_load(GVM_VMXL))
		SKIP(return, "vmx-lite cannot run guests here");
	sys = open(VMXL_DEV, O_RDWR);
	ASSERT_LE(0, sys);
	vm = ioctl(sys, VMXL_CREATE_VM, 0);
	ASSERT_LE(0, vm);
#define BAD(field, val) do {						\
	c = good;							\
	c.field = val;							\
	EXPECT_EQ(-1, ioctl(vm, VMXL_CREATE_SMMU, &c));			\
	EXPECT_EQ(EINVAL, errno) TH_LOG(#field);			\
} while (0)
	BAD(base_gpa, 0xd0001000ULL);		/* not 64 KiB aligned */
	BAD(base_gpa, 1ULL << 60);
	BAD(sid_bits, 0);
	BAD(sid_bits, 25);
	BAD(ssid_bits, 21);
	BAD(iotlb_entries, 4097);
	BAD(flags, 1);
	BAD(reserved[3], 1);
#undef BAD
	/* over a memory slot */
	mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mr.userspace_addr = (uintptr_t)mem;
	mr.guest_phys_addr = 0xd0010000ULL;
	ASSERT_EQ(0, ioctl(vm, VMXL_SET_MEMORY_REGION, &mr));
	EXPECT_EQ(-1, ioctl(vm, VMXL_CREATE_SMMU, &good));
	EXPECT_EQ(EEXIST, errno);
	good.base_gpa = 0xd0020000ULL;
	EXPECT_EQ(0, ioctl(vm, VMXL_CREATE_SMMU, &good));
	close(vm);
	munmap(mem, PAGE);
	close(sys);
	test_module_unload("vmx_lite");
}

/* ---- save and restore (VMXL_GET/SET_SMMU_STATE) ---- */

static int get_state(int vm_fd, struct vmxl_smmu_state *st)
{
	memset(st, 0xa5, sizeof(*st));	/* GET must fill every byte */
	return ioctl(vm_fd, VMXL_GET_SMMU_STATE, st) ? -errno : 0;
}

static int set_state(int vm_fd, const struct vmxl_smmu_state *st)
{
	return ioctl(vm_fd, VMXL_SET_SMMU_STATE, st) ? -errno : 0;
}

/* GET -> SET -> GET is the identity; bad fields change nothing. */
TEST_F(smmu, state_round_trip_and_refusals)
{
	struct vmxl_smmu_state st, st2, bad;
	struct vmxl_dma d;
	uint64_t r;

	s1_stream(_metadata, self, SID);
	/* An event left in the queue, an illegal command stopping CMDQ */
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA, &r, 8, 0, &d));
	SG(SG_OP_CMD, 0x7f, 0, 1);
	ASSERT_EQ(0, get_state(self->vm.vm_fd, &st));
	EXPECT_EQ(0, st.flags);
	EXPECT_EQ(0, st.pad);
	EXPECT_EQ(8, st.sid_bits);
	EXPECT_EQ(4, st.ssid_bits);
	EXPECT_EQ(SG_CR0_SMMUEN | SG_CR0_EVTQEN | SG_CR0_CMDQEN, st.cr0);
	EXPECT_EQ(SG(SG_OP_REG, SG_STRTAB_BASE, 8), st.strtab_base);
	EXPECT_EQ(SG(SG_OP_REG, SG_CMDQ_BASE, 8), st.cmdq_base);
	EXPECT_EQ(SG(SG_OP_REG, SG_EVTQ_BASE, 8), st.evtq_base);
	EXPECT_EQ(1, st.evtq_prod);
	EXPECT_EQ(0, st.evtq_cons);
	EXPECT_EQ(1, (st.gerror ^ st.gerrorn) & 1);	/* CMDQ_ERR active */
	EXPECT_EQ(1, (st.cmdq_cons >> 24) & 0x7f);	/* CERROR_ILL */
	EXPECT_EQ(0, st.reserved[0] | st.reserved[7]);
	ASSERT_EQ(0, set_state(self->vm.vm_fd, &st));
	ASSERT_EQ(0, get_state(self->vm.vm_fd, &st2));
	EXPECT_EQ(0, memcmp(&st, &st2, sizeof(st)));
	/* What the guest reads is what it read before */
	EXPECT_EQ(st.cr0, SG(SG_OP_REG, SG_CR0ACK, 4));
	EXPECT_EQ(st.cmdq_cons, SG(SG_OP_REG, SG_CMDQ_CONS, 4));

#define BAD_STATE(field, val) do {					\
	bad = st;							\
	bad.field = (val);						\
	EXPECT_EQ(-EINVAL, set_state(self->vm.vm_fd, &bad)) TH_LOG(#field); \
	ASSERT_EQ(0, get_state(self->vm.vm_fd, &st2));			\
	EXPECT_EQ(0, memcmp(&st, &st2, sizeof(st))) TH_LOG(#field);	\
} while (0)
	BAD_STATE(flags, 1);
	BAD_STATE(flags, 1u << 31);
	BAD_STATE(pad, 1);
	BAD_STATE(reserved[0], 1);
	BAD_STATE(reserved[7], 1ULL << 63);
	BAD_STATE(sid_bits, 9);
	BAD_STATE(ssid_bits, 0);
	BAD_STATE(cr0, st.cr0 | 2);
	BAD_STATE(cr1, 1u << 12);
	BAD_STATE(cr2, 8);
	BAD_STATE(gbpa, st.gbpa | SG_GBPA_UPDATE);
	BAD_STATE(irq_ctrl, 8);
	BAD_STATE(gerror, 2);
	BAD_STATE(gerrorn, 1u << 31);
	BAD_STATE(strtab_base, st.strtab_base | 1ULL << 63);
	BAD_STATE(strtab_base_cfg, 1u << 20);
	BAD_STATE(cmdq_base, st.cmdq_base | 1ULL << 52);
	BAD_STATE(cmdq_prod, 1u << 20);
	BAD_STATE(cmdq_cons, 3u << 24);
	BAD_STATE(evtq_base, st.evtq_base | 1ULL << 63);
	BAD_STATE(evtq_prod, 1u << 30);
	BAD_STATE(evtq_cons, 1u << 20);
#undef BAD_STATE
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_SET_SMMU_STATE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_GET_SMMU_STATE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* the restored queue recovers as before: fix the command, ack */
	{
		uint64_t *q = gvm_gpa(&self->vm,
				      st.cmdq_base & 0x000fffffffffffe0ULL,
				      PAGE);

		ASSERT_NE(NULL, q);
		q[2 * (st.cmdq_cons & 0xff)] = SG_CMD_TLBI_NSNH_ALL;
	}
	EXPECT_EQ(st.cmdq_prod, SG(SG_OP_ACK));
}

/*
 * A snapshot by hand: the guest's memory and the SMMU's registers moved
 * into a second VM, whose translations, event queue and command queue go
 * on where the first left them.
 */
TEST_F(smmu, state_continues_in_second_vm)
{
	struct vmxl_smmu_config c = {
		.base_gpa = SG_SMMU_BASE, .sid_bits = 8, .ssid_bits = 4,
		.iotlb_entries = variant->iotlb,
	};
	uint8_t buf[256], back[256];
	struct vmxl_smmu_state st, st2;
	struct sg_mailbox *mb2;
	struct vmxl_dma d;
	struct gvm vm2;
	uint64_t root, r, cons, ret;
	unsigned int i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i ^ 0x5a;
	root = s1_stream(_metadata, self, SID);
	SG(SG_OP_MAP, root, IOVA, SG_DATA + 7 * PAGE, 1, SG_R | SG_W, 3, 1);
	ASSERT_EQ(0, dma(&self->vm, SID, IOVA + 64, buf, sizeof(buf),
			 VMXL_DMA_WRITE, &d));
	/* two events, the guest takes one: PROD 2, CONS 1 */
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA + PAGE, &r, 8, 0, &d));
	EXPECT_EQ(1, SG(SG_OP_EVENTS));
	EXPECT_EQ(-EFAULT, dma(&self->vm, SID, IOVA + 2 * PAGE, &r, 8, 0, &d));
	cons = SG(SG_OP_CMD, SG_CMD_TLBI_NSNH_ALL, 0);
	ASSERT_EQ(0, get_state(self->vm.vm_fd, &st));
	EXPECT_EQ(2, st.evtq_prod);
	EXPECT_EQ(1, st.evtq_cons);
	EXPECT_EQ(cons, st.cmdq_cons);
	EXPECT_EQ(st.cmdq_prod, st.cmdq_cons);

	/* The second VM: same shape, the guest loop at the same point. */
	ASSERT_EQ(0, gvm_create(&vm2, GVM_VMXL, 1));
	ASSERT_EQ(0, ioctl(vm2.vm_fd, VMXL_CREATE_SMMU, &c));
	ASSERT_EQ(0, sg_start(&vm2));
	memcpy(vm2.mem, self->vm.mem, GVM_MEM_SIZE);
	ASSERT_EQ(0, set_state(vm2.vm_fd, &st));
	ASSERT_EQ(0, get_state(vm2.vm_fd, &st2));
	EXPECT_EQ(0, memcmp(&st, &st2, sizeof(st)));
	mb2 = gvm_gpa(&vm2, SG_MAILBOX, sizeof(*mb2));
	ASSERT_NE(NULL, mb2);

	/* The translation that worked before works: from the tables. */
	ASSERT_EQ(0, dma(&vm2, SID, IOVA + 64, back, sizeof(back), 0, &d));
	EXPECT_EQ(0, memcmp(back, buf, sizeof(buf)));
	EXPECT_EQ(1, d.iotlb_misses);		/* the IOTLB started empty */
	ASSERT_EQ(0, translate(&vm2, SID, IOVA + 8, 0, &d));
	EXPECT_EQ(SG_DATA + 7 * PAGE + 8, d.gpa);
	/* The record the first VM left is there, then a new one at 2 */
	ASSERT_EQ(0, sg_call(&vm2, SG_OP_EVENTS, (uint64_t[8]){ 0 }, &ret));
	ASSERT_EQ(1, ret);
	EXPECT_EQ(SG_EVT_F_TRANSLATION, SG_EVT_TYPE(mb2->events[0]));
	EXPECT_EQ(IOVA + 2 * PAGE, SG_EVT_ADDR(mb2->events[0]));
	EXPECT_EQ(2, mb2->a[4]);
	EXPECT_EQ(-EFAULT, dma(&vm2, SID, IOVA + 3 * PAGE, &r, 8, 0, &d));
	EXPECT_EQ(SG_EVT_F_TRANSLATION, SG_EVT_TYPE(d.event));
	ASSERT_EQ(0, sg_call(&vm2, SG_OP_EVENTS, (uint64_t[8]){ 0 }, &ret));
	ASSERT_EQ(1, ret);
	EXPECT_EQ(3, mb2->a[4]);
	EXPECT_EQ(0, memcmp(mb2->events[0], d.event, 32));
	/* The command queue goes on from CONS: a command and its sync */
	ASSERT_EQ(0, sg_call(&vm2, SG_OP_CMD,
			     (uint64_t[8]){ SG_CMD_TLBI_NSNH_ALL }, &ret));
	EXPECT_EQ((cons + 2) & 0x1ff, ret);
	EXPECT_EQ(0, mb2->a[4]);		/* no GERROR */
	/* A new mapping in the second VM translates */
	ASSERT_EQ(0, sg_call(&vm2, SG_OP_MAP,
			     (uint64_t[8]){ root, IOVA + 4 * PAGE,
					    SG_DATA + 9 * PAGE, 1, SG_R | SG_W,
					    3, 1 }, &ret));
	ASSERT_EQ(0, dma(&vm2, SID, IOVA + 4 * PAGE, buf, 64, VMXL_DMA_WRITE,
			 &d));
	EXPECT_EQ(0, memcmp(gvm_gpa(&vm2, SG_DATA + 9 * PAGE, 64), buf, 64));
	gvm_destroy(&vm2);

	/* The first VM is as it was */
	ASSERT_EQ(0, get_state(self->vm.vm_fd, &st2));
	EXPECT_EQ(0, memcmp(&st, &st2, sizeof(st)));
}

/* A VM without an SMMU has no SMMU state: ENXIO, before the struct. */
TEST(smmu_state_without_smmu)
{
	struct vmxl_smmu_state st = { 0 };
	int sys, vm;

	if (gvm_hypervisor_load(GVM_VMXL))
		SKIP(return, "vmx-lite cannot run guests here");
	sys = open(VMXL_DEV, O_RDWR);
	ASSERT_LE(0, sys);
	vm = ioctl(sys, VMXL_CREATE_VM, 0);
	ASSERT_LE(0, vm);
	EXPECT_EQ(-1, ioctl(vm, VMXL_GET_SMMU_STATE, &st));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(vm, VMXL_SET_SMMU_STATE, &st));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(vm, VMXL_SET_SMMU_STATE, NULL));
	EXPECT_EQ(ENXIO, errno);
	close(vm);
	close(sys);
	test_module_unload("vmx_lite");
}

TEST_HARNESS_MAIN
