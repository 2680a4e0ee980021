// SPDX-License-Identifier: GPL-2.0
/*
 * A virtual SMMUv3: the register page, the stream table, context
 * descriptors, VMSAv8-64 walks (4 KiB granule, stage 1, stage 2 and
 * nested), the command and event queues, a configuration cache and an
 * IOTLB. Synchronous: a write to CMDQ_PROD runs the commands before it
 * returns, CR0ACK follows CR0 at once. Everything the guest controls is
 * read through struct vmxl_smmu_mem, a few bytes at a time, and every loop
 * is bounded by a constant or by a capacity the VMM chose.
 */
#ifdef __KERNEL__
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/string.h>
#endif
#include "smmu.h"

/* Identification. */
#define IDR0_S2P		BIT(0)
#define IDR0_S1P		BIT(1)
#define IDR0_TTF_AA64		(2U << 2)
#define IDR0_COHACC		BIT(4)
#define IDR0_ASID16		BIT(12)
#define IDR0_MSI		BIT(13)
#define IDR0_VMID16		BIT(18)
#define IDR0_CD2L		BIT(19)
#define IDR0_TTENDIAN_LE	(2U << 21)
#define IDR0_STALL_NONE		BIT(24)
#define IDR0_TERM_MODEL		BIT(26)
#define IDR0_ST_LVL_2		BIT(27)
#define SMMU_IDR0_VAL	(IDR0_S2P | IDR0_S1P | IDR0_TTF_AA64 | IDR0_COHACC | \
			 IDR0_ASID16 | IDR0_MSI | IDR0_VMID16 | IDR0_CD2L | \
			 IDR0_TTENDIAN_LE | IDR0_STALL_NONE | \
			 IDR0_TERM_MODEL | IDR0_ST_LVL_2)
#define QUEUE_LOG2_MAX		10	/* IDR1.CMDQS and EVTQS */
#define SMMU_IDR5_VAL		(5U | BIT(4))	/* OAS 48 bits, 4 KiB granule */
#define SMMU_IIDR_VAL		0
#define SMMU_AIDR_VAL		0		/* SMMUv3.0 */

#define CR0_SMMUEN		BIT(0)
#define CR0_EVTQEN		BIT(2)
#define CR0_CMDQEN		BIT(3)
#define CR0_MASK		(CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN)
#define CR1_MASK		GENMASK(11, 0)
#define CR2_MASK		GENMASK(2, 0)
#define GBPA_ABORT		BIT(20)
#define GBPA_UPDATE		BIT(31)
#define GBPA_MASK		GENMASK(20, 0)
#define GBPA_RESET		BIT(12)	/* SHCFG: use incoming */
#define IRQ_CTRL_MASK		GENMASK(2, 0)
#define GERROR_CMDQ_ERR		BIT(0)
#define GERROR_EVTQ_ABT_ERR	BIT(2)
#define GERROR_MASK		(GERROR_CMDQ_ERR | GERROR_EVTQ_ABT_ERR)

#define STRTAB_BASE_MASK	(GENMASK_ULL(51, 6) | BIT_ULL(62))
#define STRTAB_CFG_MASK		(GENMASK(5, 0) | GENMASK(10, 6) | \
				 GENMASK(17, 16))
#define Q_BASE_MASK		(GENMASK_ULL(51, 5) | BIT_ULL(62) | \
				 GENMASK_ULL(4, 0))
#define Q_ADDR_MASK		GENMASK_ULL(51, 5)
#define Q_PTR_MASK		GENMASK(19, 0)
#define CMDQ_CONS_ERR_SHIFT	24
#define CMDQ_CONS_ERR_MASK	GENMASK(30, 24)
#define CERROR_ILL		1
#define CERROR_ABT		2
#define EVTQ_OVFLG		BIT(31)

/* Stream table entries. */
#define L1STD_SPAN		GENMASK_ULL(4, 0)
#define L1STD_L2PTR		GENMASK_ULL(51, 6)
#define STE0_V			BIT_ULL(0)
#define STE0_CFG_SHIFT		1
#define STE_CFG_ABORT		0
#define STE_CFG_BYPASS		4
#define STE_CFG_S1		5
#define STE_CFG_S2		6
#define STE_CFG_NESTED		7
#define STE0_S1FMT_SHIFT	4
#define STE0_CTXPTR		GENMASK_ULL(51, 6)
#define STE0_CDMAX_SHIFT	59
#define STE1_S1DSS_MASK		3ULL
#define S1DSS_TERMINATE		0
#define S1DSS_BYPASS		1
#define S1DSS_SSID0		2
#define STE2_S2T0SZ_SHIFT	32
#define STE2_S2SL0_SHIFT	38
#define STE2_S2TG_SHIFT		46
#define STE2_S2PS_SHIFT		48
#define STE2_S2AA64		BIT_ULL(51)
#define STE2_S2ENDI		BIT_ULL(52)
#define STE3_S2TTB		GENMASK_ULL(51, 4)

/* Context descriptors. */
#define L1CD_V			BIT_ULL(0)
#define L1CD_L2PTR		GENMASK_ULL(51, 12)
#define CD0_TG0_SHIFT		6
#define CD0_EPD0		BIT_ULL(14)
#define CD0_ENDI		BIT_ULL(15)
#define CD0_V			BIT_ULL(31)
#define CD0_IPS_SHIFT		32
#define CD0_AA64		BIT_ULL(41)
#define CD0_ASID_SHIFT		48
#define CD1_TTB0		GENMASK_ULL(51, 4)

/* Translation table descriptors. */
#define DESC_VALID		BIT_ULL(0)
#define DESC_TABLE		BIT_ULL(1)
#define DESC_ADDR		GENMASK_ULL(47, 12)
#define DESC_AP2		BIT_ULL(7)	/* stage 1: read-only */
#define DESC_S2AP_R		BIT_ULL(6)
#define DESC_S2AP_W		BIT_ULL(7)
#define DESC_AF			BIT_ULL(10)
#define DESC_APTABLE_RO		BIT_ULL(62)

/* Commands. */
#define CMD_PREFETCH_CONFIG	0x01
#define CMD_PREFETCH_ADDR	0x02
#define CMD_CFGI_STE		0x03
#define CMD_CFGI_STE_RANGE	0x04
#define CMD_CFGI_CD		0x05
#define CMD_CFGI_CD_ALL		0x06
#define CMD_TLBI_NH_ALL		0x10
#define CMD_TLBI_NH_ASID	0x11
#define CMD_TLBI_NH_VA		0x12
#define CMD_TLBI_NH_VAA		0x13
#define CMD_TLBI_S12_VMALL	0x28
#define CMD_TLBI_S2_IPA		0x2a
#define CMD_TLBI_NSNH_ALL	0x30
#define CMD_SYNC		0x46
#define SYNC_CS_IRQ		1
#define SYNC_MSIADDR		GENMASK_ULL(51, 2)

/* Event records. */
#define EVT0_SSV		BIT_ULL(11)
#define EVT0_SSID_SHIFT		12
#define EVT1_RNW		BIT_ULL(35)
#define EVT1_S2			BIT_ULL(39)
#define EVT1_CLASS_SHIFT	40
#define CLASS_CD		0
#define CLASS_TT		1
#define CLASS_IN		2
#define EVT3_IPA		GENMASK_ULL(51, 12)
#define EVT3_FETCH		GENMASK_ULL(51, 3)

#define PAGE_BITS		12
#define TAG_NONE		0xffffffffU	/* no VMID or no ASID */
#define SSID_MASK		GENMASK(19, 0)

#define PERM_S1W		BIT(0)
#define PERM_S2R		BIT(1)
#define PERM_S2W		BIT(2)

/* How a stream is configured, decoded from its STE and CD. */
struct smmu_cfg {
	bool abort;		/* STE.Config abort: no event */
	bool s1, s2;		/* stages that translate */
	bool epd0;		/* stage 1 walks fault */
	u8 t0sz, ips;		/* stage 1: input and output sizes (bits) */
	u8 s2insz, s2lvl, s2ps;	/* stage 2: input bits, start level, PS */
	u16 asid, vmid;
	u64 ttb0, s2ttb;
};

/* What both caches keep per slot: use order and hash chain. */
struct smmu_slot {
	s32 older, newer;	/* neighbours in use order, or -1 */
	s32 next;		/* next slot in this bucket, or -1 */
	u32 bucket;
	bool valid;
};

struct smmu_cfg_ent {
	struct smmu_slot s;
	u32 sid, ssid;
	bool ssv;
	struct smmu_cfg cfg;
};

struct smmu_tlb_ent {
	struct smmu_slot s;
	u64 page;		/* IOVA >> 12 */
	u64 out;		/* guest-physical page */
	u64 ipa;		/* stage 1 output page (= page without stage 1) */
	u32 vmid, asid;		/* TAG_NONE where the stage is not used */
	u8 s1_shift, s2_shift;	/* log2 of the leaf sizes, for TLBI by address */
	u8 perm;
};

/*
 * A hashed, fully associative cache with LRU eviction. Every slot, valid
 * or not, is on one list in use order, so a miss finds its victim at the
 * old end without a scan: invalidated slots go there too, to be reused
 * first.
 */
struct smmu_cache {
	void *ents;
	size_t ent_size;
	u32 n;			/* capacity */
	u32 hmask;		/* buckets - 1 */
	s32 *head;
	s32 oldest, newest;	/* the ends of the use order */
};

struct vmxl_smmu {
	struct vmxl_smmu_params p;
	struct vmxl_smmu_mem mem;
	struct vmxl_smmu_regs r;	/* what the guest programs */
	struct smmu_cache cfgc, tlb;
	struct vmxl_smmu_stats st;
};

struct smmu_fault {
	u8 type;
	bool s2;
	u8 cls;
	u64 w3;
};

/* ---- little helpers ---- */

static u64 get_le64(const u8 *b)
{
	u64 v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static void put_le64(u8 *b, u64 v)
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (u8)(v >> (8 * i));
}

/* Read @n little-endian dwords at @gpa; false where there is no RAM. */
static bool read_dwords(struct vmxl_smmu *s, u64 gpa, u64 *v, u32 n)
{
	u8 buf[64];
	u32 i;

	if (n > 8 || s->mem.read(s->mem.ctx, gpa, buf, n * 8))
		return false;
	for (i = 0; i < n; i++)
		v[i] = get_le64(buf + 8 * i);
	return true;
}

/* Output (intermediate) address size in bits of an IPS or PS field. */
static u8 pa_bits(u32 enc)
{
	static const u8 bits[8] = { 32, 36, 40, 42, 44, 48, 48, 48 };

	return bits[enc & 7];
}

static u32 queue_log2(u64 base)
{
	u32 l = base & 0x1f;

	return l > QUEUE_LOG2_MAX ? QUEUE_LOG2_MAX : l;
}

static void set_fault(struct smmu_fault *f, u8 type, bool s2, u8 cls, u64 w3)
{
	f->type = type;
	f->s2 = s2;
	f->cls = cls;
	f->w3 = w3;
}

/* ---- caches ---- */

static struct smmu_slot *cache_slot(struct smmu_cache *c, u32 i)
{
	return (struct smmu_slot *)((u8 *)c->ents + (size_t)i * c->ent_size);
}

static int cache_init(struct smmu_cache *c, u32 n, size_t ent_size)
{
	u32 nb = 1, i;

	while (nb < n)
		nb <<= 1;
	c->n = n;
	c->hmask = nb - 1;
	c->ent_size = ent_size;
	c->ents = kvcalloc(n, ent_size, GFP_KERNEL);
	c->head = kvcalloc(nb, sizeof(*c->head), GFP_KERNEL);
	if (!c->ents || !c->head)
		return -ENOMEM;
	for (i = 0; i < nb; i++)
		c->head[i] = -1;
	for (i = 0; i < n; i++) {
		cache_slot(c, i)->older = (s32)i - 1;
		cache_slot(c, i)->newer = i + 1 < n ? (s32)i + 1 : -1;
		cache_slot(c, i)->next = -1;
	}
	c->oldest = 0;
	c->newest = n - 1;
	return 0;
}

static void lru_take(struct smmu_cache *c, u32 i)
{
	struct smmu_slot *e = cache_slot(c, i);

	if (e->older >= 0)
		cache_slot(c, e->older)->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer >= 0)
		cache_slot(c, e->newer)->older = e->older;
	else
		c->newest = e->older;
}

/* Put slot @i back in the use order: at the new end, or the old one. */
static void lru_put(struct smmu_cache *c, u32 i, bool newest)
{
	struct smmu_slot *e = cache_slot(c, i);

	if (newest) {
		e->older = c->newest;
		e->newer = -1;
		if (c->newest >= 0)
			cache_slot(c, c->newest)->newer = i;
		else
			c->oldest = i;
		c->newest = i;
	} else {
		e->newer = c->oldest;
		e->older = -1;
		if (c->oldest >= 0)
			cache_slot(c, c->oldest)->older = i;
		else
			c->newest = i;
		c->oldest = i;
	}
}

/* A hit: slot @i is now the most recently used. */
static void cache_touch(struct smmu_cache *c, u32 i)
{
	if (c->newest != (s32)i) {
		lru_take(c, i);
		lru_put(c, i, true);
	}
}

static void cache_fini(struct smmu_cache *c)
{
	kvfree(c->ents);
	kvfree(c->head);
}

/* Take slot @i out of its bucket's chain; it holds nothing any more. */
static void bucket_unlink(struct smmu_cache *c, u32 i)
{
	struct smmu_slot *e = cache_slot(c, i);
	s32 *pp = &c->head[e->bucket];
	u32 guard;

	for (guard = 0; *pp >= 0 && guard < c->n; guard++) {
		if ((u32)*pp == i) {
			*pp = e->next;
			break;
		}
		pp = &cache_slot(c, *pp)->next;
	}
	e->valid = false;
	e->next = -1;
}

/* Invalidate slot @i: to the old end, the next one a miss takes. */
static void cache_unlink(struct smmu_cache *c, u32 i)
{
	bucket_unlink(c, i);
	lru_take(c, i);
	lru_put(c, i, false);
}

static void cache_flush(struct smmu_cache *c)
{
	u32 i;

	for (i = 0; i <= c->hmask; i++)
		c->head[i] = -1;
	for (i = 0; i < c->n; i++) {
		cache_slot(c, i)->valid = false;
		cache_slot(c, i)->next = -1;
	}
}

/* A slot for a new entry: a free one, else the least recently used. */
static u32 cache_alloc(struct smmu_cache *c, u32 bucket, u64 *evictions)
{
	u32 victim = c->oldest;
	struct smmu_slot *e = cache_slot(c, victim);

	if (e->valid) {
		bucket_unlink(c, victim);
		(*evictions)++;
	}
	lru_take(c, victim);
	memset(e, 0, c->ent_size);
	lru_put(c, victim, true);
	e->valid = true;
	e->bucket = bucket;
	e->next = c->head[bucket];
	c->head[bucket] = victim;
	return victim;
}

static u32 smmu_hash(u64 k, u32 hmask)
{
	k *= 0x9e3779b97f4a7c15ULL;
	return (u32)(k >> 40) & hmask;
}

static u32 cfg_bucket(struct smmu_cache *c, u32 sid, u32 ssid, bool ssv)
{
	return smmu_hash(((u64)sid << 21) ^ ((u64)ssv << 20) ^ ssid, c->hmask);
}

static struct smmu_cfg_ent *cfg_lookup(struct vmxl_smmu *s,
				       const struct vmxl_smmu_txn *t)
{
	struct smmu_cache *c = &s->cfgc;
	u32 ssid = t->ssv ? t->ssid : 0;
	s32 i = c->head[cfg_bucket(c, t->sid, ssid, t->ssv)];
	u32 guard;

	for (guard = 0; i >= 0 && guard < c->n; guard++) {
		struct smmu_cfg_ent *e = (struct smmu_cfg_ent *)cache_slot(c, i);

		if (e->sid == t->sid && e->ssv == t->ssv && e->ssid == ssid) {
			cache_touch(c, i);
			return e;
		}
		i = e->s.next;
	}
	return NULL;
}

static void cfg_insert(struct vmxl_smmu *s, const struct vmxl_smmu_txn *t,
		       const struct smmu_cfg *cfg)
{
	struct smmu_cache *c = &s->cfgc;
	u32 ssid = t->ssv ? t->ssid : 0;
	u32 b = cfg_bucket(c, t->sid, ssid, t->ssv);
	struct smmu_cfg_ent *e;

	e = (struct smmu_cfg_ent *)
		cache_slot(c, cache_alloc(c, b, &s->st.cfg_evictions));
	e->sid = t->sid;
	e->ssid = ssid;
	e->ssv = t->ssv;
	e->cfg = *cfg;
}

static u32 tlb_bucket(struct smmu_cache *c, u32 vmid, u32 asid, u64 page)
{
	return smmu_hash(page ^ ((u64)vmid << 36) ^ ((u64)asid << 52) ^
		      ((u64)asid >> 12), c->hmask);
}

static struct smmu_tlb_ent *tlb_lookup(struct vmxl_smmu *s, u32 vmid,
				       u32 asid, u64 page)
{
	struct smmu_cache *c = &s->tlb;
	s32 i = c->head[tlb_bucket(c, vmid, asid, page)];
	u32 guard;

	for (guard = 0; i >= 0 && guard < c->n; guard++) {
		struct smmu_tlb_ent *e = (struct smmu_tlb_ent *)cache_slot(c, i);

		if (e->page == page && e->vmid == vmid && e->asid == asid) {
			cache_touch(c, i);
			return e;
		}
		i = e->s.next;
	}
	return NULL;
}

static struct smmu_tlb_ent *tlb_alloc(struct vmxl_smmu *s, u32 vmid,
				      u32 asid, u64 page)
{
	struct smmu_cache *c = &s->tlb;
	u32 b = tlb_bucket(c, vmid, asid, page);

	return (struct smmu_tlb_ent *)
		cache_slot(c, cache_alloc(c, b, &s->st.iotlb_evictions));
}

static void cfg_invalidate(struct vmxl_smmu *s, u64 first, u64 last,
			   bool one_cd, u32 ssid)
{
	struct smmu_cache *c = &s->cfgc;
	u32 i;

	for (i = 0; i < c->n; i++) {
		struct smmu_cfg_ent *e = (struct smmu_cfg_ent *)cache_slot(c, i);

		if (!e->s.valid || e->sid < first || e->sid > last)
			continue;
		/* CD 0 also serves transactions without a substream. */
		if (one_cd && (e->ssv ? e->ssid : 0) != ssid)
			continue;
		cache_unlink(c, i);
	}
}

enum tlbi_kind { TLBI_NH_ALL, TLBI_NH_ASID, TLBI_NH_VA, TLBI_NH_VAA,
		 TLBI_S12_VMALL, TLBI_S2_IPA, TLBI_ALL };

static bool tlbi_match(const struct smmu_tlb_ent *e, enum tlbi_kind k,
		       u32 vmid, u32 asid, u64 addr)
{
	/* Stage 1 entries without a VMID match every VMID. */
	bool nh_vmid = e->asid != TAG_NONE &&
		       (e->vmid == TAG_NONE || e->vmid == vmid);

	switch (k) {
	case TLBI_NH_ALL:
		return nh_vmid;
	case TLBI_NH_ASID:
		return nh_vmid && e->asid == asid;
	case TLBI_NH_VA:
		return nh_vmid && e->asid == asid &&
		       !(((e->page << PAGE_BITS) ^ addr) >> e->s1_shift);
	case TLBI_NH_VAA:
		return nh_vmid &&
		       !(((e->page << PAGE_BITS) ^ addr) >> e->s1_shift);
	case TLBI_S12_VMALL:
		return e->vmid == vmid;
	case TLBI_S2_IPA:
		return e->vmid == vmid &&
		       !(((e->ipa << PAGE_BITS) ^ addr) >> e->s2_shift);
	default:
		return true;
	}
}

static void tlb_invalidate(struct vmxl_smmu *s, enum tlbi_kind k, u32 vmid,
			   u32 asid, u64 addr)
{
	struct smmu_cache *c = &s->tlb;
	u32 i;

	for (i = 0; i < c->n; i++) {
		struct smmu_tlb_ent *e = (struct smmu_tlb_ent *)cache_slot(c, i);

		if (e->s.valid && tlbi_match(e, k, vmid, asid, addr))
			cache_unlink(c, i);
	}
}

static void drop_caches(struct vmxl_smmu *s)
{
	cache_flush(&s->cfgc);
	cache_flush(&s->tlb);
}

/* ---- events ---- */

static bool is_translation_class(u8 type)
{
	return type == SMMU_EVT_F_TRANSLATION || type == SMMU_EVT_F_ADDR_SIZE ||
	       type == SMMU_EVT_F_ACCESS || type == SMMU_EVT_F_PERMISSION ||
	       type == SMMU_EVT_F_WALK_EABT;
}

static void build_event(const struct vmxl_smmu_txn *t,
			const struct smmu_fault *f, u64 *ev)
{
	ev[0] = f->type | (u64)t->sid << 32;
	if (t->ssv)
		ev[0] |= EVT0_SSV | (u64)(t->ssid & SSID_MASK) << EVT0_SSID_SHIFT;
	ev[1] = 0;
	ev[2] = 0;
	ev[3] = f->w3;
	if (is_translation_class(f->type)) {
		ev[1] = (u64)f->cls << EVT1_CLASS_SHIFT;
		if (!t->write)
			ev[1] |= EVT1_RNW;
		if (f->s2)
			ev[1] |= EVT1_S2;
		ev[2] = t->iova;
	}
}

/* Queue @ev at EVTQ_PROD; false when the queue is off, full or broken. */
static bool queue_event(struct vmxl_smmu *s, const u64 *ev)
{
	u32 log2 = queue_log2(s->r.evtq_base);
	u32 wmask = (2U << log2) - 1, imask = (1U << log2) - 1;
	u32 prod = s->r.evtq_prod & wmask, cons = s->r.evtq_cons & wmask;
	u64 addr = (s->r.evtq_base & Q_ADDR_MASK) + (u64)(prod & imask) * 32;
	u8 buf[32];
	int i;

	if (!(s->r.cr0 & CR0_EVTQEN))
		return false;
	if ((prod ^ cons) == (1U << log2)) {
		/* Overflow: signal it unless one is already unacknowledged. */
		if (!((s->r.evtq_prod ^ s->r.evtq_cons) & EVTQ_OVFLG))
			s->r.evtq_prod ^= EVTQ_OVFLG;
		return false;
	}
	for (i = 0; i < 4; i++)
		put_le64(buf + 8 * i, ev[i]);
	if (s->mem.write(s->mem.ctx, addr, buf, sizeof(buf))) {
		if (!((s->r.gerror ^ s->r.gerrorn) & GERROR_EVTQ_ABT_ERR))
			s->r.gerror ^= GERROR_EVTQ_ABT_ERR;
		return false;
	}
	s->r.evtq_prod = (s->r.evtq_prod & EVTQ_OVFLG) | ((prod + 1) & wmask);
	return true;
}

static enum vmxl_smmu_result smmu_report(struct vmxl_smmu *s,
					 const struct vmxl_smmu_txn *t,
					 const struct smmu_fault *f,
					 struct vmxl_smmu_out *out)
{
	build_event(t, f, out->event);
	out->event_queued = queue_event(s, out->event);
	s->st.events++;
	if (!out->event_queued)
		s->st.events_lost++;
	return VMXL_SMMU_FAULT;
}

/* ---- page table walks ---- */

struct walk_out {
	u64 oa;			/* output address of the access */
	u8 shift;		/* log2 of the leaf size */
	bool r, w;
};

/* Address bits below the table at @level (4 KiB granule). */
static u32 level_shift(u32 level)
{
	return PAGE_BITS + 9 * (3 - level);
}

/*
 * Stage 2: translate @ipa with the stream's stage 2. @cls says what the
 * IPA is for, for a fault record.
 */
static bool s2_walk(struct vmxl_smmu *s, const struct smmu_cfg *c, u64 ipa,
		    u8 cls, struct walk_out *wo, struct smmu_fault *f)
{
	u64 table = c->s2ttb, desc, oa;
	u32 level = c->s2lvl, shift;
	u64 idx_bits;

	if (ipa >> c->s2insz) {
		set_fault(f, SMMU_EVT_F_TRANSLATION, true, cls, ipa & EVT3_IPA);
		return false;
	}
	/* The start level may index up to 16 concatenated tables. */
	idx_bits = c->s2insz - level_shift(level);
	for (; level <= 3; level++) {
		u64 daddr;

		shift = level_shift(level);
		daddr = table + ((ipa >> shift) & ((1ULL << idx_bits) - 1)) * 8;
		if (!read_dwords(s, daddr, &desc, 1)) {
			set_fault(f, SMMU_EVT_F_WALK_EABT, true, cls,
				  daddr & EVT3_FETCH);
			return false;
		}
		idx_bits = 9;
		if (!(desc & DESC_VALID))
			break;
		if (level < 3 && (desc & DESC_TABLE)) {
			table = desc & DESC_ADDR;
			if (table >> c->s2ps) {
				set_fault(f, SMMU_EVT_F_ADDR_SIZE, true, cls,
					  ipa & EVT3_IPA);
				return false;
			}
			continue;
		}
		if (level == 0 || (level == 3 && !(desc & DESC_TABLE)))
			break;
		if (!(desc & DESC_AF)) {
			set_fault(f, SMMU_EVT_F_ACCESS, true, cls,
				  ipa & EVT3_IPA);
			return false;
		}
		oa = (desc & DESC_ADDR & ~((1ULL << shift) - 1)) |
		     (ipa & ((1ULL << shift) - 1));
		if (oa >> c->s2ps) {
			set_fault(f, SMMU_EVT_F_ADDR_SIZE, true, cls,
				  ipa & EVT3_IPA);
			return false;
		}
		wo->oa = oa;
		wo->shift = shift;
		wo->r = desc & DESC_S2AP_R;
		wo->w = desc & DESC_S2AP_W;
		return true;
	}
	set_fault(f, SMMU_EVT_F_TRANSLATION, true, cls, ipa & EVT3_IPA);
	return false;
}

/*
 * Where the SMMU reads a structure at @addr (a CD, an L1 CD descriptor or
 * a stage 1 table entry): the address itself, or under nested
 * translation its stage 2 translation, which must allow reading.
 */
static bool s1_fetch_addr(struct vmxl_smmu *s, const struct smmu_cfg *c,
			  u64 addr, u8 cls, u64 *pa, struct smmu_fault *f)
{
	struct walk_out wo;

	if (!c->s2) {
		*pa = addr;
		return true;
	}
	if (!s2_walk(s, c, addr, cls, &wo, f))
		return false;
	if (!wo.r) {
		set_fault(f, SMMU_EVT_F_PERMISSION, true, cls,
			  addr & EVT3_IPA);
		return false;
	}
	*pa = wo.oa;
	return true;
}

static bool s1_walk(struct vmxl_smmu *s, const struct smmu_cfg *c, u64 iova,
		    struct walk_out *wo, struct smmu_fault *f)
{
	u32 insz = 64 - c->t0sz;
	u32 level = 4 - (insz - PAGE_BITS + 8) / 9, shift;
	u64 table = c->ttb0, desc, oa, idx_mask;
	bool ro = false;

	if ((iova >> insz) || c->epd0)
		goto translation;
	idx_mask = (1ULL << (insz - level_shift(level))) - 1;
	for (; level <= 3; level++) {
		u64 daddr, pa;

		shift = level_shift(level);
		daddr = table + ((iova >> shift) & idx_mask) * 8;
		idx_mask = 511;
		if (!s1_fetch_addr(s, c, daddr, CLASS_TT, &pa, f))
			return false;
		if (!read_dwords(s, pa, &desc, 1)) {
			set_fault(f, SMMU_EVT_F_WALK_EABT, false, CLASS_TT,
				  pa & EVT3_FETCH);
			return false;
		}
		if (!(desc & DESC_VALID))
			goto translation;
		if (level < 3 && (desc & DESC_TABLE)) {
			table = desc & DESC_ADDR;
			if (table >> c->ips) {
				set_fault(f, SMMU_EVT_F_ADDR_SIZE, false,
					  CLASS_TT, 0);
				return false;
			}
			if (desc & DESC_APTABLE_RO)
				ro = true;
			continue;
		}
		if (level == 0 || (level == 3 && !(desc & DESC_TABLE)))
			goto translation;
		if (!(desc & DESC_AF)) {
			set_fault(f, SMMU_EVT_F_ACCESS, false, CLASS_IN, 0);
			return false;
		}
		oa = (desc & DESC_ADDR & ~((1ULL << shift) - 1)) |
		     (iova & ((1ULL << shift) - 1));
		if (oa >> c->ips) {
			set_fault(f, SMMU_EVT_F_ADDR_SIZE, false, CLASS_IN, 0);
			return false;
		}
		wo->oa = oa;
		wo->shift = shift;
		wo->r = true;
		wo->w = !ro && !(desc & DESC_AP2);
		return true;
	}
translation:
	set_fault(f, SMMU_EVT_F_TRANSLATION, false, CLASS_IN, 0);
	return false;
}

/* ---- configuration: STE and CD ---- */

/* The guest-physical address of the STE of @sid. */
static bool ste_addr(struct vmxl_smmu *s, u32 sid, u64 *addr,
		     struct smmu_fault *f)
{
	u32 log2 = s->r.strtab_cfg & 0x3f;
	u32 split = (s->r.strtab_cfg >> 6) & 0x1f;
	u32 fmt = (s->r.strtab_cfg >> 16) & 3;
	u64 base = s->r.strtab_base & GENMASK_ULL(51, 6);
	u64 l1, l1addr, idx;
	u32 span;

	if (log2 > s->p.sid_bits)
		log2 = s->p.sid_bits;
	if ((u64)sid >> log2)
		goto bad;
	if (fmt == 0) {
		*addr = base + (u64)sid * 64;
		return true;
	}
	if (fmt != 1)
		goto bad;
	if (split > log2)
		split = log2;
	l1addr = base + ((u64)sid >> split) * 8;
	if (!read_dwords(s, l1addr, &l1, 1)) {
		set_fault(f, SMMU_EVT_F_STE_FETCH, false, 0,
			  l1addr & EVT3_FETCH);
		return false;
	}
	span = l1 & L1STD_SPAN;
	idx = sid & ((1ULL << split) - 1);
	if (!span || span > 12 || (idx >> (span - 1)))
		goto bad;
	*addr = (l1 & L1STD_L2PTR) + idx * 64;
	return true;
bad:
	set_fault(f, SMMU_EVT_C_BAD_STREAMID, false, 0, 0);
	return false;
}

static bool decode_s2(struct smmu_cfg *c, const u64 *ste)
{
	u32 t0sz = (ste[2] >> STE2_S2T0SZ_SHIFT) & 0x3f;
	u32 sl0 = (ste[2] >> STE2_S2SL0_SHIFT) & 3;
	u32 level, insz, top;

	if ((ste[2] >> STE2_S2TG_SHIFT) & 3)
		return false;
	if (!(ste[2] & STE2_S2AA64) || (ste[2] & STE2_S2ENDI))
		return false;
	if (t0sz < 16 || t0sz > 39 || sl0 == 3)
		return false;
	level = 2 - sl0;
	insz = 64 - t0sz;
	top = level_shift(level);
	/* The start level resolves 1..9 bits, plus up to 4 concatenated. */
	if (insz <= top || insz > top + 9 + 4)
		return false;
	c->s2 = true;
	c->s2insz = insz;
	c->s2lvl = level;
	c->s2ps = pa_bits(ste[2] >> STE2_S2PS_SHIFT);
	c->vmid = ste[2] & 0xffff;
	c->s2ttb = ste[3] & STE3_S2TTB;
	return true;
}

static bool decode_cd(struct smmu_cfg *c, const u64 *cd)
{
	u32 t0sz = cd[0] & 0x3f;

	if (!(cd[0] & CD0_V) || t0sz < 16 || t0sz > 39)
		return false;
	if (((cd[0] >> CD0_TG0_SHIFT) & 3) || (cd[0] & CD0_ENDI) ||
	    !(cd[0] & CD0_AA64))
		return false;
	c->s1 = true;
	c->t0sz = t0sz;
	c->epd0 = cd[0] & CD0_EPD0;
	c->ips = pa_bits(cd[0] >> CD0_IPS_SHIFT);
	c->asid = cd[0] >> CD0_ASID_SHIFT;
	c->ttb0 = cd[1] & CD1_TTB0;
	return true;
}

/* Fetch and decode CD @idx of the STE @ste into @c. */
static bool fetch_cd(struct vmxl_smmu *s, const u64 *ste, u32 idx,
		     struct smmu_cfg *c, struct smmu_fault *f)
{
	u32 s1fmt = (ste[0] >> STE0_S1FMT_SHIFT) & 3;
	u64 addr = ste[0] & STE0_CTXPTR, pa, l1, cd[8];

	if (s1fmt) {
		u32 leaf_bits = s1fmt == 1 ? 6 : 10;

		if (!s1_fetch_addr(s, c, addr + (u64)(idx >> leaf_bits) * 8,
				   CLASS_CD, &pa, f))
			return false;
		if (!read_dwords(s, pa, &l1, 1)) {
			set_fault(f, SMMU_EVT_F_CD_FETCH, false, 0,
				  pa & EVT3_FETCH);
			return false;
		}
		if (!(l1 & L1CD_V)) {
			set_fault(f, SMMU_EVT_C_BAD_CD, false, 0, 0);
			return false;
		}
		addr = (l1 & L1CD_L2PTR) +
		       (u64)(idx & ((1U << leaf_bits) - 1)) * 64;
	} else {
		addr += (u64)idx * 64;
	}
	if (!s1_fetch_addr(s, c, addr, CLASS_CD, &pa, f))
		return false;
	if (!read_dwords(s, pa, cd, 8)) {
		set_fault(f, SMMU_EVT_F_CD_FETCH, false, 0, pa & EVT3_FETCH);
		return false;
	}
	if (!decode_cd(c, cd)) {
		set_fault(f, SMMU_EVT_C_BAD_CD, false, 0, 0);
		return false;
	}
	return true;
}

/* The configuration of the transaction's stream, from memory. */
static bool fetch_cfg(struct vmxl_smmu *s, const struct vmxl_smmu_txn *t,
		      struct smmu_cfg *c, struct smmu_fault *f)
{
	u64 addr, ste[8];
	u32 config, cdmax, s1dss;

	memset(c, 0, sizeof(*c));
	if (!ste_addr(s, t->sid, &addr, f))
		return false;
	if (!read_dwords(s, addr, ste, 8)) {
		set_fault(f, SMMU_EVT_F_STE_FETCH, false, 0, addr & EVT3_FETCH);
		return false;
	}
	config = (ste[0] >> STE0_CFG_SHIFT) & 7;
	if (!(ste[0] & STE0_V) || (config != STE_CFG_ABORT && config < 4))
		goto bad_ste;
	if (config == STE_CFG_ABORT) {
		c->abort = true;
		return true;
	}
	if ((config == STE_CFG_S2 || config == STE_CFG_NESTED) &&
	    !decode_s2(c, ste))
		goto bad_ste;
	if (config == STE_CFG_BYPASS || config == STE_CFG_S2) {
		if (t->ssv)
			goto bad_ssid;
		return true;
	}
	/* Stage 1 */
	cdmax = ste[0] >> STE0_CDMAX_SHIFT;
	s1dss = ste[1] & STE1_S1DSS_MASK;
	if (cdmax > s->p.ssid_bits || ((ste[0] >> STE0_S1FMT_SHIFT) & 3) == 3)
		goto bad_ste;
	if (t->ssv) {
		if (!cdmax || (t->ssid >> cdmax))
			goto bad_ssid;
		return fetch_cd(s, ste, t->ssid, c, f);
	}
	if (cdmax) {
		if (s1dss == S1DSS_TERMINATE) {
			set_fault(f, SMMU_EVT_F_STREAM_DISABLED, false, 0, 0);
			return false;
		}
		if (s1dss == S1DSS_BYPASS)
			return true;
		if (s1dss != S1DSS_SSID0)
			goto bad_ste;
	}
	return fetch_cd(s, ste, 0, c, f);
bad_ste:
	set_fault(f, SMMU_EVT_C_BAD_STE, false, 0, 0);
	return false;
bad_ssid:
	set_fault(f, SMMU_EVT_C_BAD_SUBSTREAMID, false, 0, 0);
	return false;
}

/* ---- translation ---- */

enum vmxl_smmu_result vmxl_smmu_translate(struct vmxl_smmu *s,
					  const struct vmxl_smmu_txn *t,
					  struct vmxl_smmu_out *out)
{
	struct smmu_cfg_ent *ce;
	struct smmu_tlb_ent *te;
	struct smmu_cfg cfgbuf;
	const struct smmu_cfg *c;
	struct smmu_fault f;
	struct walk_out w1, w2;
	u32 vmid, asid;
	u64 page = t->iova >> PAGE_BITS, ipa;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	if (!(s->r.cr0 & CR0_SMMUEN)) {
		if (s->r.gbpa & GBPA_ABORT)
			return VMXL_SMMU_ABORT;
		out->gpa = t->iova;
		return VMXL_SMMU_OK;
	}
	if ((u64)t->sid >> s->p.sid_bits) {
		set_fault(&f, SMMU_EVT_C_BAD_STREAMID, false, 0, 0);
		return smmu_report(s, t, &f, out);
	}

	ce = cfg_lookup(s, t);
	if (ce) {
		s->st.cfg_hits++;
		c = &ce->cfg;
	} else {
		s->st.cfg_misses++;
		if (!fetch_cfg(s, t, &cfgbuf, &f))
			return smmu_report(s, t, &f, out);
		cfg_insert(s, t, &cfgbuf);
		c = &cfgbuf;
	}
	if (c->abort)
		return VMXL_SMMU_ABORT;
	if (!c->s1 && !c->s2) {
		out->gpa = t->iova;
		return VMXL_SMMU_OK;
	}

	vmid = c->s2 ? c->vmid : TAG_NONE;
	asid = c->s1 ? c->asid : TAG_NONE;
	te = tlb_lookup(s, vmid, asid, page);
	if (te) {
		s->st.iotlb_hits++;
		out->iotlb_hit = true;
	} else {
		s->st.iotlb_misses++;
		out->iotlb_miss = true;
		w1.oa = t->iova;
		w1.shift = 63;
		w1.r = true;
		w1.w = true;
		if (c->s1) {
			if (!s1_walk(s, c, t->iova, &w1, &f))
				return smmu_report(s, t, &f, out);
			if (t->write && !w1.w) {
				set_fault(&f, SMMU_EVT_F_PERMISSION, false,
					  CLASS_IN, 0);
				return smmu_report(s, t, &f, out);
			}
		}
		ipa = w1.oa;
		w2.oa = ipa;
		w2.shift = 63;
		w2.r = true;
		w2.w = true;
		if (c->s2 && !s2_walk(s, c, ipa, CLASS_IN, &w2, &f))
			return smmu_report(s, t, &f, out);
		te = tlb_alloc(s, vmid, asid, page);
		te->page = page;
		te->out = w2.oa >> PAGE_BITS;
		te->ipa = ipa >> PAGE_BITS;
		te->vmid = vmid;
		te->asid = asid;
		te->s1_shift = w1.shift;
		te->s2_shift = w2.shift;
		te->perm = (w1.w ? PERM_S1W : 0) | (w2.r ? PERM_S2R : 0) |
			   (w2.w ? PERM_S2W : 0);
	}
	if (t->write && !(te->perm & PERM_S1W)) {
		set_fault(&f, SMMU_EVT_F_PERMISSION, false, CLASS_IN, 0);
		return smmu_report(s, t, &f, out);
	}
	if (!(te->perm & (t->write ? PERM_S2W : PERM_S2R))) {
		set_fault(&f, SMMU_EVT_F_PERMISSION, true, CLASS_IN,
			  (te->ipa << PAGE_BITS) & EVT3_IPA);
		return smmu_report(s, t, &f, out);
	}
	out->gpa = (te->out << PAGE_BITS) | (t->iova & ((1U << PAGE_BITS) - 1));
	return VMXL_SMMU_OK;
}

/* ---- commands ---- */

/* Run one command; false if it is illegal. */
static bool run_cmd(struct vmxl_smmu *s, const u64 *cmd)
{
	u32 sid = cmd[0] >> 32, ssid = (cmd[0] >> 12) & SSID_MASK;
	u32 vmid = (cmd[0] >> 32) & 0xffff, asid = cmd[0] >> 48;
	u32 range;
	u64 first;
	u8 buf[4];

	switch (cmd[0] & 0xff) {
	case CMD_PREFETCH_CONFIG:
	case CMD_PREFETCH_ADDR:
		break;
	case CMD_CFGI_STE:
		cfg_invalidate(s, sid, sid, false, 0);
		break;
	case CMD_CFGI_STE_RANGE:
		range = (cmd[1] & 0x1f) + 1;
		first = range >= 32 ? 0 : (u64)sid & ~((1ULL << range) - 1);
		cfg_invalidate(s, first, first + (1ULL << range) - 1, false, 0);
		break;
	case CMD_CFGI_CD:
		cfg_invalidate(s, sid, sid, true, ssid);
		break;
	case CMD_CFGI_CD_ALL:
		cfg_invalidate(s, sid, sid, false, 0);
		break;
	case CMD_TLBI_NH_ALL:
		tlb_invalidate(s, TLBI_NH_ALL, vmid, 0, 0);
		break;
	case CMD_TLBI_NH_ASID:
		tlb_invalidate(s, TLBI_NH_ASID, vmid, asid, 0);
		break;
	case CMD_TLBI_NH_VA:
		tlb_invalidate(s, TLBI_NH_VA, vmid, asid,
			       cmd[1] & GENMASK_ULL(63, 12));
		break;
	case CMD_TLBI_NH_VAA:
		tlb_invalidate(s, TLBI_NH_VAA, vmid, 0,
			       cmd[1] & GENMASK_ULL(63, 12));
		break;
	case CMD_TLBI_S12_VMALL:
		tlb_invalidate(s, TLBI_S12_VMALL, vmid, 0, 0);
		break;
	case CMD_TLBI_S2_IPA:
		tlb_invalidate(s, TLBI_S2_IPA, vmid, 0,
			       cmd[1] & GENMASK_ULL(51, 12));
		break;
	case CMD_TLBI_NSNH_ALL:
		tlb_invalidate(s, TLBI_ALL, 0, 0, 0);
		break;
	case CMD_SYNC:
		if (((cmd[0] >> 12) & 3) == SYNC_CS_IRQ &&
		    (cmd[1] & SYNC_MSIADDR)) {
			buf[0] = (u8)(cmd[0] >> 32);
			buf[1] = (u8)(cmd[0] >> 40);
			buf[2] = (u8)(cmd[0] >> 48);
			buf[3] = (u8)(cmd[0] >> 56);
			/* No RAM there: the guest polls in vain, as it would. */
			s->mem.write(s->mem.ctx, cmd[1] & SYNC_MSIADDR, buf, 4);
		}
		break;
	default:
		return false;
	}
	return true;
}

/* Run the commands from CONS to PROD, at most one pass over the queue. */
static void process_cmdq(struct vmxl_smmu *s)
{
	u32 log2 = queue_log2(s->r.cmdq_base);
	u32 wmask = (2U << log2) - 1, imask = (1U << log2) - 1;
	u64 base = s->r.cmdq_base & Q_ADDR_MASK, cmd[2];
	u32 n, cons, err;

	if (!(s->r.cr0 & CR0_CMDQEN) ||
	    ((s->r.gerror ^ s->r.gerrorn) & GERROR_CMDQ_ERR))
		return;
	cons = s->r.cmdq_cons & wmask;
	for (n = 0; n <= imask; n++) {
		if (cons == (s->r.cmdq_prod & wmask))
			break;
		err = 0;
		if (!read_dwords(s, base + (u64)(cons & imask) * 16, cmd, 2))
			err = CERROR_ABT;
		else if (!run_cmd(s, cmd))
			err = CERROR_ILL;
		if (err) {
			s->r.cmdq_cons = cons | err << CMDQ_CONS_ERR_SHIFT;
			s->r.gerror ^= GERROR_CMDQ_ERR;
			return;
		}
		s->st.commands++;
		cons = (cons + 1) & wmask;
	}
	s->r.cmdq_cons = cons;
}

/* ---- registers ---- */

static bool is_reg64(u32 off)
{
	return off == SMMU_STRTAB_BASE || off == SMMU_CMDQ_BASE ||
	       off == SMMU_EVTQ_BASE;
}

static u64 *reg64(struct vmxl_smmu *s, u32 off)
{
	switch (off) {
	case SMMU_STRTAB_BASE:
		return &s->r.strtab_base;
	case SMMU_CMDQ_BASE:
		return &s->r.cmdq_base;
	default:
		return &s->r.evtq_base;
	}
}

static u32 smmu_read32(struct vmxl_smmu *s, u32 off)
{
	switch (off) {
	case SMMU_IDR0:
		return SMMU_IDR0_VAL;
	case SMMU_IDR1:
		return s->p.sid_bits | s->p.ssid_bits << 6 |
		       QUEUE_LOG2_MAX << 16 | QUEUE_LOG2_MAX << 21;
	case SMMU_IDR5:
		return SMMU_IDR5_VAL;
	case SMMU_IIDR:
		return SMMU_IIDR_VAL;
	case SMMU_AIDR:
		return SMMU_AIDR_VAL;
	case SMMU_CR0:
	case SMMU_CR0ACK:
		return s->r.cr0;
	case SMMU_CR1:
		return s->r.cr1;
	case SMMU_CR2:
		return s->r.cr2;
	case SMMU_GBPA:
		return s->r.gbpa;
	case SMMU_IRQ_CTRL:
	case SMMU_IRQ_CTRLACK:
		return s->r.irq_ctrl;
	case SMMU_GERROR:
		return s->r.gerror;
	case SMMU_GERRORN:
		return s->r.gerrorn;
	case SMMU_STRTAB_BASE_CFG:
		return s->r.strtab_cfg;
	case SMMU_CMDQ_PROD:
		return s->r.cmdq_prod;
	case SMMU_CMDQ_CONS:
		return s->r.cmdq_cons;
	case SMMU_EVTQ_PROD:
		return s->r.evtq_prod;
	case SMMU_EVTQ_CONS:
		return s->r.evtq_cons;
	default:
		return 0;
	}
}

static void smmu_write64(struct vmxl_smmu *s, u32 off, u64 val)
{
	switch (off) {
	case SMMU_STRTAB_BASE:
		if (s->r.cr0 & CR0_SMMUEN)
			return;
		s->r.strtab_base = val & STRTAB_BASE_MASK;
		drop_caches(s);
		break;
	case SMMU_CMDQ_BASE:
		if (!(s->r.cr0 & CR0_CMDQEN))
			s->r.cmdq_base = val & Q_BASE_MASK;
		break;
	case SMMU_EVTQ_BASE:
		if (!(s->r.cr0 & CR0_EVTQEN))
			s->r.evtq_base = val & Q_BASE_MASK;
		break;
	}
}

static void smmu_write_cr0(struct vmxl_smmu *s, u32 val)
{
	u32 old = s->r.cr0;

	s->r.cr0 = val & CR0_MASK;
	if ((old & CR0_SMMUEN) && !(s->r.cr0 & CR0_SMMUEN))
		drop_caches(s);
	if (!(old & CR0_CMDQEN) && (s->r.cr0 & CR0_CMDQEN))
		process_cmdq(s);
}

static void smmu_write32(struct vmxl_smmu *s, u32 off, u32 val)
{
	u32 was_active;

	switch (off) {
	case SMMU_CR0:
		smmu_write_cr0(s, val);
		break;
	case SMMU_CR1:
		s->r.cr1 = val & CR1_MASK;
		break;
	case SMMU_CR2:
		s->r.cr2 = val & CR2_MASK;
		break;
	case SMMU_GBPA:
		if (val & GBPA_UPDATE)
			s->r.gbpa = val & GBPA_MASK;
		break;
	case SMMU_IRQ_CTRL:
		s->r.irq_ctrl = val & IRQ_CTRL_MASK;
		break;
	case SMMU_GERRORN:
		was_active = (s->r.gerror ^ s->r.gerrorn) & GERROR_CMDQ_ERR;
		s->r.gerrorn = val & GERROR_MASK;
		if (was_active && !((s->r.gerror ^ s->r.gerrorn) & GERROR_CMDQ_ERR))
			process_cmdq(s);
		break;
	case SMMU_STRTAB_BASE_CFG:
		if (s->r.cr0 & CR0_SMMUEN)
			return;
		s->r.strtab_cfg = val & STRTAB_CFG_MASK;
		drop_caches(s);
		break;
	case SMMU_CMDQ_PROD:
		s->r.cmdq_prod = val & Q_PTR_MASK;
		process_cmdq(s);
		break;
	case SMMU_CMDQ_CONS:
		if (!(s->r.cr0 & CR0_CMDQEN))
			s->r.cmdq_cons = val & Q_PTR_MASK;
		break;
	case SMMU_EVTQ_PROD:
		if (!(s->r.cr0 & CR0_EVTQEN))
			s->r.evtq_prod = val & (Q_PTR_MASK | EVTQ_OVFLG);
		break;
	case SMMU_EVTQ_CONS:
		s->r.evtq_cons = val & (Q_PTR_MASK | EVTQ_OVFLG);
		break;
	}
}

u64 vmxl_smmu_reg_read(struct vmxl_smmu *s, u32 off, u32 len)
{
	u32 base = off & ~7U;

	if ((len != 4 && len != 8) || (off & (len - 1)) ||
	    off >= VMXL_SMMU_WINDOW)
		return 0;
	if (is_reg64(base)) {
		u64 v = *reg64(s, base);

		if (len == 8)
			return v;
		return off == base ? (u32)v : v >> 32;
	}
	if (len == 8)
		return smmu_read32(s, off) | (u64)smmu_read32(s, off + 4) << 32;
	return smmu_read32(s, off);
}

void vmxl_smmu_reg_write(struct vmxl_smmu *s, u32 off, u32 len, u64 val)
{
	u32 base = off & ~7U;

	if ((len != 4 && len != 8) || (off & (len - 1)) ||
	    off >= VMXL_SMMU_WINDOW)
		return;
	if (is_reg64(base)) {
		u64 old = *reg64(s, base);

		if (len == 4 && off == base)
			val = (old & GENMASK_ULL(63, 32)) | (u32)val;
		else if (len == 4)
			val = (old & GENMASK_ULL(31, 0)) | val << 32;
		smmu_write64(s, base, val);
		return;
	}
	smmu_write32(s, off, (u32)val);
	if (len == 8)
		smmu_write32(s, off + 4, val >> 32);
}

/* ---- save and restore ---- */

void vmxl_smmu_get_regs(const struct vmxl_smmu *s, struct vmxl_smmu_regs *r)
{
	*r = s->r;
}

/*
 * Only what the registers can hold (IHI 0070 6.3): the bits the write
 * path keeps, plus those the SMMU itself sets and a guest cannot write
 * (GERROR, CMDQ_CONS.ERR with the two CERROR codes the model reports,
 * EVTQ_PROD.OVFLG). GBPA.UPDATE always reads 0 here: the update is
 * synchronous.
 */
static bool regs_valid(const struct vmxl_smmu_regs *r)
{
	u32 err = (r->cmdq_cons & CMDQ_CONS_ERR_MASK) >> CMDQ_CONS_ERR_SHIFT;

	return !(r->cr0 & ~CR0_MASK) && !(r->cr1 & ~CR1_MASK) &&
	       !(r->cr2 & ~CR2_MASK) && !(r->gbpa & ~GBPA_MASK) &&
	       !(r->irq_ctrl & ~IRQ_CTRL_MASK) &&
	       !(r->gerror & ~GERROR_MASK) && !(r->gerrorn & ~GERROR_MASK) &&
	       !(r->strtab_base & ~STRTAB_BASE_MASK) &&
	       !(r->strtab_cfg & ~STRTAB_CFG_MASK) &&
	       !(r->cmdq_base & ~Q_BASE_MASK) &&
	       !(r->evtq_base & ~Q_BASE_MASK) &&
	       !(r->cmdq_prod & ~Q_PTR_MASK) &&
	       !(r->cmdq_cons & ~(Q_PTR_MASK | CMDQ_CONS_ERR_MASK)) &&
	       err <= CERROR_ABT &&
	       !(r->evtq_prod & ~(Q_PTR_MASK | EVTQ_OVFLG)) &&
	       !(r->evtq_cons & ~(Q_PTR_MASK | EVTQ_OVFLG));
}

int vmxl_smmu_set_regs(struct vmxl_smmu *s, const struct vmxl_smmu_regs *r)
{
	if (!regs_valid(r))
		return -EINVAL;
	/*
	 * Straight into the registers, not through the write path: that
	 * would run commands between CONS and PROD (CMDQ_PROD, CR0.CMDQEN
	 * 0 -> 1) and refuse base writes while a queue or the SMMU is on.
	 * A restored SMMU continues, it does not start over.
	 */
	s->r = *r;
	/* Cached STEs, CDs and translations may be another VM's: drop. */
	drop_caches(s);
	return 0;
}

void vmxl_smmu_get_params(const struct vmxl_smmu *s,
			  struct vmxl_smmu_params *p)
{
	*p = s->p;
}

/* ---- life cycle ---- */

struct vmxl_smmu *vmxl_smmu_create(const struct vmxl_smmu_params *p,
				   const struct vmxl_smmu_mem *mem)
{
	struct vmxl_smmu *s;

	if (!p || !mem || !mem->read || !mem->write)
		return NULL;
	if (p->sid_bits < 1 || p->sid_bits > 24 || p->ssid_bits > 20 ||
	    p->iotlb_entries < 1 || p->iotlb_entries > 4096 ||
	    p->cfg_entries < 1 || p->cfg_entries > 1024)
		return NULL;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	s->p = *p;
	s->mem = *mem;
	s->r.gbpa = GBPA_RESET;
	if (cache_init(&s->cfgc, p->cfg_entries,
		       sizeof(struct smmu_cfg_ent)) ||
	    cache_init(&s->tlb, p->iotlb_entries,
		       sizeof(struct smmu_tlb_ent))) {
		vmxl_smmu_destroy(s);
		return NULL;
	}
	drop_caches(s);
	return s;
}

void vmxl_smmu_destroy(struct vmxl_smmu *s)
{
	if (!s)
		return;
	cache_fini(&s->cfgc);
	cache_fini(&s->tlb);
	kfree(s);
}

void vmxl_smmu_get_stats(const struct vmxl_smmu *s,
			 struct vmxl_smmu_stats *st)
{
	*st = s->st;
}
