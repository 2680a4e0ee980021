/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtual SMMUv3 (Arm IHI 0070): the register page a guest programs,
 * stream tables, context descriptors and VMSAv8-64 page tables (4 KiB
 * granule) in guest memory, the command and event queues, and the caches.
 * Vendor-neutral and free of kernel dependencies: the host unit tests and
 * the fuzz target build smmu.c unchanged. docs/smmu.md describes it.
 *
 * The model does no locking: its owner serializes every call (dma.c holds
 * vm->smmu_lock). Guest memory is reached only through struct
 * vmxl_smmu_mem, so the model never touches memory that is not the
 * guest's.
 */
#ifndef VMXL_SMMU_H
#define VMXL_SMMU_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include "host_compat.h"
#endif

/* The register window: page 0 and page 1 (EVTQ_PROD/CONS), 64 KiB each. */
#define VMXL_SMMU_WINDOW	0x20000

/* Register offsets (page 0 unless noted). */
#define SMMU_IDR0		0x00
#define SMMU_IDR1		0x04
#define SMMU_IDR2		0x08
#define SMMU_IDR3		0x0c
#define SMMU_IDR4		0x10
#define SMMU_IDR5		0x14
#define SMMU_IIDR		0x18
#define SMMU_AIDR		0x1c
#define SMMU_CR0		0x20
#define SMMU_CR0ACK		0x24
#define SMMU_CR1		0x28
#define SMMU_CR2		0x2c
#define SMMU_STATUSR		0x40
#define SMMU_GBPA		0x44
#define SMMU_IRQ_CTRL		0x50
#define SMMU_IRQ_CTRLACK	0x54
#define SMMU_GERROR		0x60
#define SMMU_GERRORN		0x64
#define SMMU_STRTAB_BASE	0x80	/* 64-bit */
#define SMMU_STRTAB_BASE_CFG	0x88
#define SMMU_CMDQ_BASE		0x90	/* 64-bit */
#define SMMU_CMDQ_PROD		0x98
#define SMMU_CMDQ_CONS		0x9c
#define SMMU_EVTQ_BASE		0xa0	/* 64-bit */
#define SMMU_EVTQ_PROD		0x100a8	/* page 1 */
#define SMMU_EVTQ_CONS		0x100ac	/* page 1 */

/* Event record types (the first byte of a record). */
#define SMMU_EVT_F_UUT			0x01
#define SMMU_EVT_C_BAD_STREAMID		0x02
#define SMMU_EVT_F_STE_FETCH		0x03
#define SMMU_EVT_C_BAD_STE		0x04
#define SMMU_EVT_F_STREAM_DISABLED	0x06
#define SMMU_EVT_C_BAD_SUBSTREAMID	0x08
#define SMMU_EVT_F_CD_FETCH		0x09
#define SMMU_EVT_C_BAD_CD		0x0a
#define SMMU_EVT_F_WALK_EABT		0x0b
#define SMMU_EVT_F_TRANSLATION		0x10
#define SMMU_EVT_F_ADDR_SIZE		0x11
#define SMMU_EVT_F_ACCESS		0x12
#define SMMU_EVT_F_PERMISSION		0x13

/* Guest memory, as the model sees it. */
struct vmxl_smmu_mem {
	void *ctx;
	/* Copy guest-physical memory; 0, or -EFAULT where there is no RAM. */
	int (*read)(void *ctx, u64 gpa, void *buf, u32 len);
	int (*write)(void *ctx, u64 gpa, const void *buf, u32 len);
};

/* What the VMM chose when it created the SMMU. */
struct vmxl_smmu_params {
	u32 sid_bits;		/* StreamID width, 1..24 (IDR1.SIDSIZE) */
	u32 ssid_bits;		/* SubstreamID width, 0..20 (IDR1.SSIDSIZE) */
	u32 iotlb_entries;	/* IOTLB capacity, 1..4096 */
	u32 cfg_entries;	/* configuration cache capacity, 1..1024 */
};

/* One transaction of a device. */
struct vmxl_smmu_txn {
	u32 sid;
	u32 ssid;
	bool ssv;		/* ssid is valid */
	bool write;		/* the device writes memory */
	u64 iova;
};

/* The outcome of vmxl_smmu_translate(). */
enum vmxl_smmu_result {
	VMXL_SMMU_OK,		/* translated: out->gpa */
	VMXL_SMMU_FAULT,	/* terminated with an event: out->event */
	VMXL_SMMU_ABORT,	/* terminated without one (STE abort, GBPA) */
};

struct vmxl_smmu_out {
	u64 gpa;		/* OK: the guest-physical address */
	u64 event[4];		/* FAULT: the 32-byte record, as queued */
	bool event_queued;	/* FAULT: it reached the guest's event queue */
	bool iotlb_hit;		/* OK: from the IOTLB, no table walked */
	/* Looked up and not found; neither flag: bypass, no lookup. */
	bool iotlb_miss;
};

/* Counters, for tests and benchmarks. */
struct vmxl_smmu_stats {
	u64 iotlb_hits, iotlb_misses, iotlb_evictions;
	u64 cfg_hits, cfg_misses, cfg_evictions;
	u64 commands, events, events_lost;
};

/*
 * The programmer-visible register state: the model's own (smmu.c keeps
 * it as one member), and what save and restore carry
 * (VMXL_GET/SET_SMMU_STATE). CR0ACK and IRQ_CTRLACK mirror CR0 and
 * IRQ_CTRL; the tables and queues are in guest memory.
 */
struct vmxl_smmu_regs {
	u32 cr0, cr1, cr2, gbpa, irq_ctrl, gerror, gerrorn;
	u64 strtab_base;
	u32 strtab_cfg;
	u64 cmdq_base;
	u32 cmdq_prod, cmdq_cons;
	u64 evtq_base;
	u32 evtq_prod, evtq_cons;
};

struct vmxl_smmu;

/* A new SMMU in its reset state; NULL on bad @p or no memory. */
struct vmxl_smmu *vmxl_smmu_create(const struct vmxl_smmu_params *p,
				   const struct vmxl_smmu_mem *mem);
void vmxl_smmu_destroy(struct vmxl_smmu *s);

/*
 * A guest access of @len bytes (4 or 8) at @off in the register window.
 * Unknown and reserved offsets read as zero and ignore writes; a write
 * may run commands (CMDQ_PROD, GERRORN), which read and write guest
 * memory through @mem.
 */
u64 vmxl_smmu_reg_read(struct vmxl_smmu *s, u32 off, u32 len);
void vmxl_smmu_reg_write(struct vmxl_smmu *s, u32 off, u32 len, u64 val);

/*
 * Translate one access of @t (its page; the offset within it is kept),
 * checking permissions. A fault also goes to the guest's event queue
 * when it is enabled.
 */
enum vmxl_smmu_result vmxl_smmu_translate(struct vmxl_smmu *s,
					  const struct vmxl_smmu_txn *t,
					  struct vmxl_smmu_out *out);

/*
 * Save and restore the registers. Set refuses (-EINVAL, nothing
 * changed) a bit no register holds; it runs no command, writes no
 * guest memory and drops both caches.
 */
void vmxl_smmu_get_regs(const struct vmxl_smmu *s, struct vmxl_smmu_regs *r);
int vmxl_smmu_set_regs(struct vmxl_smmu *s, const struct vmxl_smmu_regs *r);
void vmxl_smmu_get_params(const struct vmxl_smmu *s,
			  struct vmxl_smmu_params *p);

void vmxl_smmu_get_stats(const struct vmxl_smmu *s,
			 struct vmxl_smmu_stats *st);

#endif
