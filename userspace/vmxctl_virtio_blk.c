// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: a virtio-mmio block device ("virtio-blk0") at
 * VMXCTL_VIRTIO_BLK_GPA, backed by a file.
 *
 * virtio 1.x (virtio-mmio version 2, the modern register layout), one
 * split virtqueue of up to 256 entries, no indirect descriptors and no
 * event index. Features offered: VERSION_1, SEG_MAX, BLK_SIZE, FLUSH, and
 * RO when the file is not writable. Requests: VIRTIO_BLK_T_IN, _OUT,
 * _FLUSH, _GET_ID; others complete with VIRTIO_BLK_S_UNSUPP.
 *
 * A QueueNotify write wakes the worker threads (two), which take
 * requests off the available ring, do the I/O with pread/pwrite, and
 * put them on the used ring. DMA:
 *  - without an SMMU, data goes straight between the file and guest
 *    memory (pread/pwrite on vmxctl's mapping: no bounce buffer), and
 *    every page the device writes (data, status byte, used ring) is
 *    recorded in vmxctl's device dirty log, which vmxctl_dirty_log_get()
 *    ORs into the kernel's: the kernel cannot see writes through the
 *    mapping, and routing them through VMXL_SMMU_DMA (bypass) would need
 *    a copy of every buffer;
 *  - with --smmu, every access (descriptors, rings, buffers) goes through
 *    VMXL_SMMU_DMA with StreamID VMXCTL_SMMU_SID_BLK, so the SMMU
 *    translates and polices it and the kernel marks what it writes
 *    dirty; file data passes through a per-worker buffer that the module
 *    copies to or from guest pages.
 * A descriptor, ring or buffer the device cannot reach (no RAM, an SMMU
 * fault or abort) sets DEVICE_NEEDS_RESET in Status and stops the queue
 * until the driver resets the device; vmxctl says why on stderr.
 *
 * Interrupts: InterruptStatus bit 0 is set for every used buffer and
 * the line goes to vmxctl_dev_irq(); the guest polls the used ring.
 *
 * Saved state ("virtio-blk0", version 1, little-endian, 72 bytes):
 *   u32 status, device_features_sel, driver_features_sel, queue_sel,
 *       interrupt_status, config_generation
 *   u64 driver_features
 *   u32 queue_num, queue_ready
 *   u64 queue_desc, queue_avail, queue_used
 *   u16 last_avail_idx, used_idx
 *   u32 pad
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "vmxctl.h"
#include "vmxctl_dev.h"

#define MMIO_SIZE		0x1000
#define QUEUE_MAX		256
#define NR_WORKERS		2
#define SECTOR			512ULL
#define CHUNK			(256 * 1024)	/* SMMU path: bytes per DMA */

/* virtio-mmio registers */
#define R_MAGIC			0x000
#define R_VERSION		0x004
#define R_DEVICE_ID		0x008
#define R_VENDOR_ID		0x00c
#define R_DEV_FEATURES		0x010
#define R_DEV_FEATURES_SEL	0x014
#define R_DRV_FEATURES		0x020
#define R_DRV_FEATURES_SEL	0x024
#define R_QUEUE_SEL		0x030
#define R_QUEUE_NUM_MAX		0x034
#define R_QUEUE_NUM		0x038
#define R_QUEUE_READY		0x044
#define R_QUEUE_NOTIFY		0x050
#define R_INT_STATUS		0x060
#define R_INT_ACK		0x064
#define R_STATUS		0x070
#define R_QUEUE_DESC_LO		0x080
#define R_QUEUE_DESC_HI		0x084
#define R_QUEUE_AVAIL_LO	0x090
#define R_QUEUE_AVAIL_HI	0x094
#define R_QUEUE_USED_LO		0x0a0
#define R_QUEUE_USED_HI		0x0a4
#define R_CONFIG_GEN		0x0fc
#define R_CONFIG		0x100

#define S_DRIVER_OK		4
#define S_NEEDS_RESET		0x40

#define F_SEG_MAX		(1ULL << 2)
#define F_RO			(1ULL << 5)
#define F_BLK_SIZE		(1ULL << 6)
#define F_FLUSH			(1ULL << 9)
#define F_VERSION_1		(1ULL << 32)

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2

#define T_IN			0
#define T_OUT			1
#define T_FLUSH			4
#define T_GET_ID		8
#define BLK_S_OK		0
#define BLK_S_IOERR		1
#define BLK_S_UNSUPP		2
#define ID_BYTES		20

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct blk_state_v1 {
	uint32_t status, device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status, config_generation;
	uint64_t driver_features;
	uint32_t queue_num, queue_ready;
	uint64_t queue_desc, queue_avail, queue_used;
	uint16_t last_avail_idx, used_idx;
	uint32_t pad;
} __attribute__((packed));

_Static_assert(sizeof(struct blk_state_v1) == 72, "documented size");

struct blk {
	struct vmxctl_device dev;
	struct vmxctl_machine *m;
	const char *path;
	int fd;
	bool ro;
	uint64_t capacity;		/* sectors */
	uint64_t features;
	char id[ID_BYTES];

	/* registers and queue (under dev.lock) */
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel;
	uint32_t int_status, config_gen;
	uint64_t drv_features;
	uint32_t queue_num, queue_ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx;

	/* workers */
	pthread_cond_t work, idle;
	pthread_t workers[NR_WORKERS];
	unsigned int nr_workers;
	unsigned int inflight;
	bool notified, paused, exiting;
};

static bool queue_live(struct blk *b)
{
	return b->queue_ready && (b->status & S_DRIVER_OK) &&
	       !(b->status & S_NEEDS_RESET);
}

static void fail_device(struct blk *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Called with dev.lock held. */
static void fail_device(struct blk *b, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!(b->status & S_NEEDS_RESET))
		vmxctl_err("virtio-blk: %s: device needs reset", msg);
	b->status |= S_NEEDS_RESET;
	b->config_gen++;
}

static void reset(struct blk *b)
{
	b->status = 0;
	b->dev_features_sel = b->drv_features_sel = b->queue_sel = 0;
	b->int_status = 0;
	b->drv_features = 0;
	b->queue_num = QUEUE_MAX;
	b->queue_ready = 0;
	b->desc = b->avail = b->used = 0;
	b->last_avail = b->used_idx = 0;
	vmxctl_dev_irq(&b->dev, false);
}

/* Wait until no request is in flight. dev.lock held. */
static void drain(struct blk *b)
{
	while (b->inflight)
		pthread_cond_wait(&b->idle, &b->dev.lock);
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffULL) | (uint64_t)v << 32;
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffULL) | v;
}

static uint32_t config_read(struct blk *b, uint64_t off, unsigned int size)
{
	uint8_t cfg[0x20] = { 0 };
	uint32_t seg_max = 126, blk_size = 512, v = 0;

	memcpy(cfg + 0x00, &b->capacity, 8);
	memcpy(cfg + 0x0c, &seg_max, 4);
	memcpy(cfg + 0x14, &blk_size, 4);
	if (off < sizeof(cfg) && size <= sizeof(cfg) - off)
		memcpy(&v, cfg + off, size > 4 ? 4 : size);
	return v;
}

static void blk_mmio(struct vmxctl_device *d, uint64_t off, bool write,
		     uint64_t *val, unsigned int size)
{
	struct blk *b = d->priv;
	uint32_t v = *val;

	if (off >= R_CONFIG) {
		if (!write)
			*val = config_read(b, off - R_CONFIG, size);
		return;		/* the config space is read-only */
	}
	if (size != 4) {
		if (!write)
			*val = 0;
		return;		/* registers are 32-bit */
	}
	if (!write) {
		switch (off) {
		case R_MAGIC: v = 0x74726976; break;	/* "virt" */
		case R_VERSION: v = 2; break;
		case R_DEVICE_ID: v = 2; break;		/* block */
		case R_VENDOR_ID: v = 0x4c584d56; break;	/* "VMXL" */
		case R_DEV_FEATURES:
			v = b->dev_features_sel > 1 ? 0 :
			    (uint32_t)(b->features >> (32 * b->dev_features_sel));
			break;
		case R_QUEUE_NUM_MAX: v = b->queue_sel ? 0 : QUEUE_MAX; break;
		case R_QUEUE_READY: v = b->queue_sel ? 0 : b->queue_ready; break;
		case R_INT_STATUS: v = b->int_status; break;
		case R_STATUS: v = b->status; break;
		case R_CONFIG_GEN: v = b->config_gen; break;
		default: v = 0; break;
		}
		*val = v;
		return;
	}
	switch (off) {
	case R_DEV_FEATURES_SEL: b->dev_features_sel = v; break;
	case R_DRV_FEATURES_SEL: b->drv_features_sel = v; break;
	case R_DRV_FEATURES:
		if (b->drv_features_sel == 0)
			set_lo(&b->drv_features, v & b->features);
		else if (b->drv_features_sel == 1)
			set_hi(&b->drv_features, v & (b->features >> 32));
		break;
	case R_QUEUE_SEL: b->queue_sel = v; break;
	case R_QUEUE_NUM:
		if (!b->queue_sel && v && v <= QUEUE_MAX && !(v & (v - 1)))
			b->queue_num = v;
		break;
	case R_QUEUE_READY:
		if (!b->queue_sel)
			b->queue_ready = v & 1;
		break;
	case R_QUEUE_DESC_LO: if (!b->queue_sel) set_lo(&b->desc, v); break;
	case R_QUEUE_DESC_HI: if (!b->queue_sel) set_hi(&b->desc, v); break;
	case R_QUEUE_AVAIL_LO: if (!b->queue_sel) set_lo(&b->avail, v); break;
	case R_QUEUE_AVAIL_HI: if (!b->queue_sel) set_hi(&b->avail, v); break;
	case R_QUEUE_USED_LO: if (!b->queue_sel) set_lo(&b->used, v); break;
	case R_QUEUE_USED_HI: if (!b->queue_sel) set_hi(&b->used, v); break;
	case R_QUEUE_NOTIFY:
		if (v == 0 && queue_live(b)) {
			b->notified = true;
			pthread_cond_broadcast(&b->work);
		}
		break;
	case R_INT_ACK:
		b->int_status &= ~v;
		vmxctl_dev_irq(d, b->int_status != 0);
		break;
	case R_STATUS:
		if (v == 0) {
			drain(b);
			reset(b);
		} else {
			b->status = v;
			if ((v & S_DRIVER_OK) && b->queue_ready) {
				b->notified = true;
				pthread_cond_broadcast(&b->work);
			}
		}
		break;
	default:
		break;
	}
}

/* ---- request processing (workers) ---- */

struct req {
	uint16_t head;
	unsigned int n;
	struct vring_desc d[QUEUE_MAX];
};

static int rd(struct blk *b, uint64_t a, void *buf, uint64_t len,
	      const char **why)
{
	return vmxctl_dma_read(b->m, VMXCTL_SMMU_SID_BLK, a, buf, len, why);
}

static int wr(struct blk *b, uint64_t a, const void *buf, uint64_t len,
	      const char **why)
{
	return vmxctl_dma_write(b->m, VMXCTL_SMMU_SID_BLK, a, buf, len, why);
}

/*
 * Take the next available chain, if any. dev.lock held. Returns 1 with
 * a request, 0 with none, -1 when the device failed.
 */
static int pop(struct blk *b, struct req *r)
{
	const char *why = "?";
	uint16_t avail_idx, head, idx;
	unsigned int n = 0;

	if (rd(b, b->avail + 2, &avail_idx, 2, &why)) {
		fail_device(b, "reading avail.idx at 0x%llx: %s",
			    (unsigned long long)b->avail + 2, why);
		return -1;
	}
	if (avail_idx == b->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - b->last_avail) > b->queue_num) {
		fail_device(b, "avail.idx %u is %u ahead of the device (queue of %u)",
			    avail_idx, (uint16_t)(avail_idx - b->last_avail),
			    b->queue_num);
		return -1;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (rd(b, b->avail + 4 + 2 * (b->last_avail % b->queue_num), &head, 2,
	       &why)) {
		fail_device(b, "reading avail.ring at 0x%llx: %s",
			    (unsigned long long)b->avail, why);
		return -1;
	}
	if (head >= b->queue_num) {
		fail_device(b, "avail.ring names descriptor %u of %u", head,
			    b->queue_num);
		return -1;
	}
	idx = head;
	for (;;) {
		if (n == b->queue_num) {
			fail_device(b, "descriptor chain from %u loops", head);
			return -1;
		}
		if (rd(b, b->desc + 16ULL * idx, &r->d[n], 16, &why)) {
			fail_device(b, "reading descriptor %u at 0x%llx: %s",
				    idx, (unsigned long long)b->desc + 16ULL * idx,
				    why);
			return -1;
		}
		if (!(r->d[n].flags & VRING_DESC_F_NEXT)) {
			n++;
			break;
		}
		idx = r->d[n++].next;
		if (idx >= b->queue_num) {
			fail_device(b, "descriptor chain from %u: next %u of %u",
				    head, idx, b->queue_num);
			return -1;
		}
	}
	r->head = head;
	r->n = n;
	b->last_avail++;
	return 1;
}

/* Put a finished chain on the used ring. dev.lock held. */
static void push(struct blk *b, uint16_t head, uint32_t len)
{
	/* cppcheck-suppress unusedStructMember ; the guest reads them */
	struct { uint32_t id, len; } e = { head, len };
	const char *why = "?";
	uint16_t idx;

	if (wr(b, b->used + 4 + 8ULL * (b->used_idx % b->queue_num), &e,
	       sizeof(e), &why)) {
		fail_device(b, "writing used.ring at 0x%llx: %s",
			    (unsigned long long)b->used, why);
		return;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	idx = b->used_idx + 1;
	if (wr(b, b->used + 2, &idx, 2, &why)) {
		fail_device(b, "writing used.idx at 0x%llx: %s",
			    (unsigned long long)b->used + 2, why);
		return;
	}
	b->used_idx = idx;
	b->int_status |= 1;
	vmxctl_dev_irq(&b->dev, true);
}

/* One data buffer: file <-> guest. Returns 0 or an error text. */
static const char *xfer(struct blk *b, const struct vring_desc *d,
			uint64_t off, bool to_guest, char *buf)
{
	const char *why = NULL;
	uint64_t done, n;
	ssize_t k;

	if (!vmxctl_has_smmu(b->m)) {
		void *hva = vmxctl_gpa_to_hva(b->m, d->addr, d->len);

		if (!hva)
			return "buffer outside RAM";
		for (done = 0; done < d->len; done += k) {
			k = to_guest ?
			    pread(b->fd, (char *)hva + done, d->len - done, off + done) :
			    pwrite(b->fd, (char *)hva + done, d->len - done, off + done);
			if (k <= 0)
				return k ? strerror(errno) : "end of file";
		}
		if (to_guest)
			vmxctl_mark_dirty(b->m, d->addr, d->len);
		return NULL;
	}
	for (done = 0; done < d->len; done += n) {
		n = d->len - done > CHUNK ? CHUNK : d->len - done;
		if (to_guest) {
			k = pread(b->fd, buf, n, off + done);
			if (k != (ssize_t)n)
				return k < 0 ? strerror(errno) : "end of file";
			if (wr(b, d->addr + done, buf, n, &why))
				return why;
		} else {
			if (rd(b, d->addr + done, buf, n, &why))
				return why;
			k = pwrite(b->fd, buf, n, off + done);
			if (k != (ssize_t)n)
				return k < 0 ? strerror(errno) : "short write";
		}
	}
	return NULL;
}

struct blk_hdr {
	/* cppcheck-suppress unusedStructMember ; the driver's layout */
	uint32_t type, reserved;
	uint64_t sector;
};

/*
 * Do one request. Returns the bytes written to device-writable buffers,
 * status byte included; -1 when the device failed (with dev.lock taken
 * to report it).
 */
static int64_t handle(struct blk *b, struct req *r, char *buf)
{
	const struct vring_desc *st = &r->d[r->n - 1];
	const char *why = "?";
	struct blk_hdr h;
	uint64_t off, total = 0;
	uint8_t status = BLK_S_OK;
	unsigned int i;
	int64_t written = 0;

	if (r->n < 2 || r->d[0].len < sizeof(h) ||
	    (r->d[0].flags & VRING_DESC_F_WRITE) ||
	    !(st->flags & VRING_DESC_F_WRITE) || st->len < 1) {
		pthread_mutex_lock(&b->dev.lock);
		fail_device(b, "request %u: malformed chain (%u descriptors)",
			    r->head, r->n);
		pthread_mutex_unlock(&b->dev.lock);
		return -1;
	}
	if (rd(b, r->d[0].addr, &h, sizeof(h), &why)) {
		pthread_mutex_lock(&b->dev.lock);
		fail_device(b, "request %u: reading the header at 0x%llx: %s",
			    r->head, (unsigned long long)r->d[0].addr, why);
		pthread_mutex_unlock(&b->dev.lock);
		return -1;
	}
	for (i = 1; i < r->n - 1; i++)
		total += r->d[i].len;
	off = h.sector * SECTOR;
	switch (h.type) {
	case T_IN:
	case T_OUT:
		if (h.type == T_OUT && b->ro) {
			status = BLK_S_IOERR;
			break;
		}
		if (h.sector > b->capacity ||
		    total > (b->capacity - h.sector) * SECTOR) {
			status = BLK_S_IOERR;
			break;
		}
		for (i = 1; i < r->n - 1; i++) {
			bool to_guest = h.type == T_IN;
			const char *err;

			if (!!(r->d[i].flags & VRING_DESC_F_WRITE) != to_guest) {
				status = BLK_S_IOERR;
				break;
			}
			err = xfer(b, &r->d[i], off, to_guest, buf);
			if (err) {
				vmxctl_err("virtio-blk: %s of %u bytes at sector %llu, buffer 0x%llx: %s",
					   to_guest ? "read" : "write",
					   r->d[i].len,
					   (unsigned long long)(off / SECTOR),
					   (unsigned long long)r->d[i].addr, err);
				status = BLK_S_IOERR;
				break;
			}
			off += r->d[i].len;
			if (to_guest)
				written += r->d[i].len;
		}
		break;
	case T_FLUSH:
		if (fdatasync(b->fd))
			status = BLK_S_IOERR;
		break;
	case T_GET_ID:
		if (r->n < 3 || !(r->d[1].flags & VRING_DESC_F_WRITE)) {
			status = BLK_S_IOERR;
			break;
		}
		if (wr(b, r->d[1].addr, b->id,
		       r->d[1].len < ID_BYTES ? r->d[1].len : ID_BYTES, &why)) {
			status = BLK_S_IOERR;
			break;
		}
		written += r->d[1].len < ID_BYTES ? r->d[1].len : ID_BYTES;
		break;
	default:
		status = BLK_S_UNSUPP;
		break;
	}
	if (wr(b, st->addr + st->len - 1, &status, 1, &why)) {
		pthread_mutex_lock(&b->dev.lock);
		fail_device(b, "request %u: writing the status at 0x%llx: %s",
			    r->head, (unsigned long long)st->addr, why);
		pthread_mutex_unlock(&b->dev.lock);
		return -1;
	}
	return written + 1;
}

static void *worker(void *arg)
{
	struct blk *b = arg;
	struct req *r = malloc(sizeof(*r));
	char *buf = vmxctl_has_smmu(b->m) ? malloc(CHUNK) : NULL;
	int64_t len;

	if (!r || (vmxctl_has_smmu(b->m) && !buf)) {
		vmxctl_err("virtio-blk: worker: out of memory");
		free(r);
		free(buf);
		return NULL;
	}
	pthread_mutex_lock(&b->dev.lock);
	for (;;) {
		while (!b->exiting && (b->paused || !b->notified ||
				       !queue_live(b)))
			pthread_cond_wait(&b->work, &b->dev.lock);
		if (b->exiting)
			break;
		if (pop(b, r) <= 0) {
			b->notified = false;	/* ring empty (or failed) */
			continue;
		}
		b->inflight++;
		pthread_mutex_unlock(&b->dev.lock);
		len = handle(b, r, buf);
		pthread_mutex_lock(&b->dev.lock);
		if (len >= 0)
			push(b, r->head, len);
		if (!--b->inflight)
			pthread_cond_broadcast(&b->idle);
	}
	pthread_mutex_unlock(&b->dev.lock);
	free(r);
	free(buf);
	return NULL;
}

/* ---- device ops ---- */

static void blk_quiesce(struct vmxctl_device *d)
{
	struct blk *b = d->priv;

	pthread_mutex_lock(&d->lock);
	b->paused = true;
	drain(b);
	pthread_mutex_unlock(&d->lock);
}

static void blk_resume(struct vmxctl_device *d)
{
	struct blk *b = d->priv;

	pthread_mutex_lock(&d->lock);
	b->paused = false;
	b->notified = true;	/* requests may have come in meanwhile */
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&d->lock);
}

static int blk_save(struct vmxctl_device *d, struct vmxctl_dev_state *st)
{
	struct blk *b = d->priv;
	struct blk_state_v1 *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	*s = (struct blk_state_v1){
		.status = b->status,
		.device_features_sel = b->dev_features_sel,
		.driver_features_sel = b->drv_features_sel,
		.queue_sel = b->queue_sel,
		.interrupt_status = b->int_status,
		.config_generation = b->config_gen,
		.driver_features = b->drv_features,
		.queue_num = b->queue_num,
		.queue_ready = b->queue_ready,
		.queue_desc = b->desc,
		.queue_avail = b->avail,
		.queue_used = b->used,
		.last_avail_idx = b->last_avail,
		.used_idx = b->used_idx,
	};
	pthread_mutex_unlock(&d->lock);
	st->version = 1;
	st->len = sizeof(*s);
	st->data = s;
	return 0;
}

static int blk_restore(struct vmxctl_device *d,
		       const struct vmxctl_dev_state *st)
{
	struct blk *b = d->priv;
	const struct blk_state_v1 *s = st->data;

	if (st->version != 1 || st->len != sizeof(*s) || !s->queue_num ||
	    s->queue_num > QUEUE_MAX || (s->queue_num & (s->queue_num - 1)))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	drain(b);
	b->status = s->status;
	b->dev_features_sel = s->device_features_sel;
	b->drv_features_sel = s->driver_features_sel;
	b->queue_sel = s->queue_sel;
	b->int_status = s->interrupt_status;
	b->config_gen = s->config_generation;
	b->drv_features = s->driver_features & b->features;
	b->queue_num = s->queue_num;
	b->queue_ready = s->queue_ready;
	b->desc = s->queue_desc;
	b->avail = s->queue_avail;
	b->used = s->queue_used;
	b->last_avail = s->last_avail_idx;
	b->used_idx = s->used_idx;
	b->notified = true;
	vmxctl_dev_irq(d, b->int_status != 0);
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void blk_destroy(struct vmxctl_device *d)
{
	struct blk *b = d->priv;
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	b->exiting = true;
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < b->nr_workers; i++)
		pthread_join(b->workers[i], NULL);
	free(b);
}

static const struct vmxctl_dev_ops blk_ops = {
	.mmio = blk_mmio,
	.save = blk_save,
	.restore = blk_restore,
	.quiesce = blk_quiesce,
	.resume = blk_resume,
	.destroy = blk_destroy,
};

int vmxctl_virtio_blk_create(struct vmxctl_machine *m, int fd, bool ro,
			     const char *path)
{
	struct blk *b = calloc(1, sizeof(*b));
	const char *base;
	struct stat st;
	unsigned int i;
	int ret;

	if (!b) {
		vmxctl_err("virtio-blk: --disk %s: out of memory", path);
		return -ENOMEM;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		vmxctl_err("--disk %s: %s", path, strerror(errno));
		free(b);
		return ret;
	}
	b->m = m;
	b->path = path;
	b->fd = fd;
	b->ro = ro;
	b->capacity = st.st_size / SECTOR;
	b->features = F_VERSION_1 | F_SEG_MAX | F_BLK_SIZE | F_FLUSH |
		      (b->ro ? F_RO : 0);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	memcpy(b->id, base, strnlen(base, ID_BYTES));
	snprintf(b->dev.name, sizeof(b->dev.name), "virtio-blk0");
	b->dev.ops = &blk_ops;
	b->dev.mmio_base = VMXCTL_VIRTIO_BLK_GPA;
	b->dev.mmio_len = MMIO_SIZE;
	b->dev.priv = b;
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->idle, NULL);
	reset(b);
	ret = vmxctl_add_device(m, &b->dev);
	if (ret) {
		free(b);
		return ret;
	}
	/* From here on the bus owns b: destroy joins the workers started. */
	for (i = 0; i < NR_WORKERS; i++) {
		ret = pthread_create(&b->workers[i], NULL, worker, b);
		if (ret) {
			vmxctl_err("virtio-blk: worker thread: %s",
				   strerror(ret));
			return -ret;
		}
		b->nr_workers++;
	}
	return 0;
}
