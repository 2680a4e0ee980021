/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A guest's SMMUv3 driver, just big enough for the tests: it runs inside
 * the VM (guest code, see guest.h), keeps its tables and queues in guest
 * memory and programs the SMMU through the register window, as a real
 * driver would. The host asks for one operation at a time through a
 * mailbox in guest memory (smmu_guest_loop()); these are the formats of
 * the architecture (Arm IHI 0070), not vmx-lite's API.
 */
#ifndef VMXL_SMMU_GUEST_H
#define VMXL_SMMU_GUEST_H

#include <stdint.h>

/* Guest-physical layout (inside gvm's 16 MiB of RAM, identity-mapped). */
#define SG_SMMU_BASE	0xd0000000ULL	/* register window, no RAM there */
#define SG_MAILBOX	0x7f0000ULL
#define SG_HEAP		0x800000ULL	/* tables and queues, 4 MiB */
#define SG_HEAP_END	0xc00000ULL
#define SG_DATA		0xc00000ULL	/* DMA targets, 4 MiB */

/* Registers. */
#define SG_IDR0		0x00
#define SG_IDR1		0x04
#define SG_IDR5		0x14
#define SG_CR0		0x20
#define SG_CR0ACK	0x24
#define SG_GBPA		0x44
#define SG_GERROR	0x60
#define SG_GERRORN	0x64
#define SG_STRTAB_BASE	0x80
#define SG_STRTAB_CFG	0x88
#define SG_CMDQ_BASE	0x90
#define SG_CMDQ_PROD	0x98
#define SG_CMDQ_CONS	0x9c
#define SG_EVTQ_BASE	0xa0
#define SG_EVTQ_PROD	0x100a8
#define SG_EVTQ_CONS	0x100ac

#define SG_CR0_SMMUEN	(1u << 0)
#define SG_CR0_EVTQEN	(1u << 2)
#define SG_CR0_CMDQEN	(1u << 3)
#define SG_GBPA_ABORT	(1u << 20)
#define SG_GBPA_UPDATE	(1u << 31)

/* STE.Config */
#define SG_STE_ABORT	0
#define SG_STE_BYPASS	4
#define SG_STE_S1	5
#define SG_STE_S2	6
#define SG_STE_NESTED	7

/* Commands. */
#define SG_CMD_CFGI_STE		0x03
#define SG_CMD_CFGI_STE_RANGE	0x04
#define SG_CMD_CFGI_CD		0x05
#define SG_CMD_CFGI_CD_ALL	0x06
#define SG_CMD_TLBI_NH_ASID	0x11
#define SG_CMD_TLBI_NH_VA	0x12
#define SG_CMD_TLBI_S12_VMALL	0x28
#define SG_CMD_TLBI_S2_IPA	0x2a
#define SG_CMD_TLBI_NSNH_ALL	0x30
#define SG_CMD_SYNC		0x46

/* Event numbers. */
#define SG_EVT_C_BAD_STREAMID	0x02
#define SG_EVT_F_STE_FETCH	0x03
#define SG_EVT_C_BAD_STE	0x04
#define SG_EVT_F_STREAM_DISABLED 0x06
#define SG_EVT_C_BAD_SUBSTREAMID 0x08
#define SG_EVT_C_BAD_CD		0x0a
#define SG_EVT_F_WALK_EABT	0x0b
#define SG_EVT_F_TRANSLATION	0x10
#define SG_EVT_F_ADDR_SIZE	0x11
#define SG_EVT_F_ACCESS		0x12
#define SG_EVT_F_PERMISSION	0x13

/* Event record fields. */
#define SG_EVT_TYPE(r)		((r)[0] & 0xff)
#define SG_EVT_SSV(r)		(((r)[0] >> 11) & 1)
#define SG_EVT_SSID(r)		(((r)[0] >> 12) & 0xfffff)
#define SG_EVT_SID(r)		((r)[0] >> 32)
#define SG_EVT_RNW(r)		(((r)[1] >> 35) & 1)
#define SG_EVT_S2(r)		(((r)[1] >> 39) & 1)
#define SG_EVT_CLASS(r)		(((r)[1] >> 40) & 3)
#define SG_EVT_ADDR(r)		((r)[2])
#define SG_EVT_IPA(r)		((r)[3] & 0x000ffffffffff000ULL)

/* Leaf permissions for sg_map(). */
#define SG_R		(1u << 0)
#define SG_W		(1u << 1)
#define SG_NO_AF	(1u << 2)	/* leave the access flag clear */

/* Mailbox operations. */
enum sg_op {
	SG_OP_NONE,
	SG_OP_INIT,	/* a0: 2-level stream table, a1: log2 STEs, a2: split,
			 * a3: log2 event queue entries; ret: IDR0, a[4]: IDR1 */
	SG_OP_ALLOC,	/* a0: bytes; ret: zeroed, 4 KiB aligned */
	SG_OP_STE,	/* a0: sid, a1: config, a2: CD table, a3: S1CDMax |
			 * S1Fmt << 8 | S1DSS << 16, a4: S2TTB, a5: VMID |
			 * S2T0SZ << 16 | S2SL0 << 24 | S2PS << 28, a6: invalid
			 * (V=0), a7: no CFGI (leave the cache stale) */
	SG_OP_CD,	/* a0: CD table, a1: ssid, a2: ASID, a3: TTB0, a4:
			 * T0SZ | IPS << 8 | invalid << 16 | EPD0 << 17,
			 * a5: sid to CFGI_CD, or ~0 for none */
	SG_OP_MAP,	/* a0: root (0: new; ret: root), a1: iova, a2: output,
			 * a3: stage 1 or 2, a4: SG_R/W/NO_AF, a5: leaf level,
			 * a6: start level, a7: how many consecutive leaves
			 * (0: one) */
	SG_OP_CMD,	/* a0, a1: a command, then CMD_SYNC unless a2;
			 * ret: CMDQ_CONS, a[4]: GERROR */
	SG_OP_EVENTS,	/* drain the event queue into events[]; ret: count,
			 * a[4]: EVTQ_PROD as read */
	SG_OP_REG,	/* a0: offset, a1: 4 or 8, a2: write, a3: value;
			 * ret: the value read */
	SG_OP_ACK,	/* GERRORN = GERROR; ret: CMDQ_CONS */
};

#define SG_MAX_EVENTS	32

struct sg_mailbox {
	uint64_t op;
	uint64_t a[8];
	uint64_t ret;
	uint64_t events[SG_MAX_EVENTS][4];
};

/* The guest side: serve the mailbox forever (a GUEST_SYNC after each). */
void smmu_guest_loop(uint64_t unused);

/*
 * The host side (lib/smmu_host.c). sg_start() points vCPU 0 of @vm at the
 * guest loop and runs it to its first report; sg_call() has it do one
 * operation with arguments @a and returns 0 with its answer in *@ret, or
 * -1 with a message on stderr when the guest did not report back.
 */
struct gvm;
int sg_start(struct gvm *vm);
int sg_call(struct gvm *vm, uint64_t op, const uint64_t a[8], uint64_t *ret);

#endif
