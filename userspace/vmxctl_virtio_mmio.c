// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the virtio-mmio transport, under every virtio device type
 * (vmxctl_virtio.h; the block device: vmxctl_virtio_blk.c).
 *
 * virtio 1.x (virtio-mmio version 2, the modern register layout), one
 * split virtqueue of up to 256 entries, no indirect descriptors and no
 * event index. The device type gives its device ID, the features it
 * offers (the driver may accept a subset) and its config space.
 *
 * A QueueNotify write wakes the worker threads (two), which take
 * requests off the available ring, have the device type do them, and
 * put them on the used ring. Every access to the rings and descriptors
 * is the device's DMA (vmxctl_dma_read/write with its StreamID: through
 * the SMMU with --smmu). A descriptor or ring the device cannot reach
 * (no RAM, an SMMU fault or abort) sets DEVICE_NEEDS_RESET in Status and
 * stops the queue until the driver resets the device; vmxctl says why on
 * stderr.
 *
 * Interrupts: InterruptStatus bit 0 is set for every used buffer, bit 1
 * when the device sets DEVICE_NEEDS_RESET (a configuration change, as
 * the spec asks); the line (vmxctl_dev_irq(), level: GSI 16 + k for
 * the k-th device window from VMXCTL_VIRTIO_BLK_GPA) is high while
 * InterruptStatus is not 0, and an InterruptACK write lowers it. Without
 * an IOAPIC the guest polls the used ring.
 *
 * Saved state (the transport's, the device's name; version 1,
 * little-endian, 72 bytes):
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

#include "vmxctl_virtio.h"


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


struct virtio_state_v1 {
	uint32_t status, device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status, config_generation;
	uint64_t driver_features;
	uint32_t queue_num, queue_ready;
	uint64_t queue_desc, queue_avail, queue_used;
	uint16_t last_avail_idx, used_idx;
	uint32_t pad;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_state_v1) == 72, "documented size");


static bool queue_live(struct vmxctl_virtio *v)
{
	return v->queue_ready && (v->status & S_DRIVER_OK) &&
	       !(v->status & S_NEEDS_RESET);
}

static void fail_device(struct vmxctl_virtio *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vfail(struct vmxctl_virtio *v, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Called with dev.lock held. */
static void vfail(struct vmxctl_virtio *v, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!(v->status & S_NEEDS_RESET))
		vmxctl_err("%s: %s: device needs reset", v->ops->kind, msg);
	v->status |= S_NEEDS_RESET;
	v->config_gen++;
	v->int_status |= 2;	/* configuration change: the driver looks */
	vmxctl_dev_irq(&v->dev, true);
}

/* Called with dev.lock held. */
static void fail_device(struct vmxctl_virtio *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(v, fmt, ap);
	va_end(ap);
}

void vmxctl_virtio_fail(struct vmxctl_virtio *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pthread_mutex_lock(&v->dev.lock);
	vfail(v, fmt, ap);
	pthread_mutex_unlock(&v->dev.lock);
	va_end(ap);
}

static void reset(struct vmxctl_virtio *v)
{
	v->status = 0;
	v->dev_features_sel = v->drv_features_sel = v->queue_sel = 0;
	v->int_status = 0;
	v->drv_features = 0;
	v->queue_num = VMXCTL_VIRTQ_MAX;
	v->queue_ready = 0;
	v->desc = v->avail = v->used = 0;
	v->last_avail = v->used_idx = 0;
	vmxctl_dev_irq(&v->dev, false);
}

/* Wait until no request is in flight. dev.lock held. */
static void drain(struct vmxctl_virtio *v)
{
	while (v->inflight)
		pthread_cond_wait(&v->idle, &v->dev.lock);
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffULL) | (uint64_t)v << 32;
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffULL) | v;
}


static void virtio_mmio(struct vmxctl_device *d, uint64_t off, bool write,
			uint64_t *val, unsigned int size)
{
	struct vmxctl_virtio *v = d->priv;
	uint32_t x = *val;

	if (off >= R_CONFIG) {
		if (!write)
			*val = v->ops->config_read(v, off - R_CONFIG, size);
		return;		/* the config space is read-only */
	}
	if (size != 4) {
		if (!write)
			*val = 0;
		return;		/* registers are 32-bit */
	}
	if (!write) {
		switch (off) {
		case R_MAGIC: x = 0x74726976; break;	/* "virt" */
		case R_VERSION: x = 2; break;
		case R_DEVICE_ID: x = v->ops->device_id; break;
		case R_VENDOR_ID: x = 0x4c584d56; break;	/* "VMXL" */
		case R_DEV_FEATURES:
			x = v->dev_features_sel > 1 ? 0 :
			    (uint32_t)(v->features >> (32 * v->dev_features_sel));
			break;
		case R_QUEUE_NUM_MAX: x = v->queue_sel ? 0 : VMXCTL_VIRTQ_MAX; break;
		case R_QUEUE_READY: x = v->queue_sel ? 0 : v->queue_ready; break;
		case R_INT_STATUS: x = v->int_status; break;
		case R_STATUS: x = v->status; break;
		case R_CONFIG_GEN: x = v->config_gen; break;
		default: x = 0; break;
		}
		*val = x;
		return;
	}
	switch (off) {
	case R_DEV_FEATURES_SEL: v->dev_features_sel = x; break;
	case R_DRV_FEATURES_SEL: v->drv_features_sel = x; break;
	case R_DRV_FEATURES:
		if (v->drv_features_sel == 0)
			set_lo(&v->drv_features, x & v->features);
		else if (v->drv_features_sel == 1)
			set_hi(&v->drv_features, x & (v->features >> 32));
		break;
	case R_QUEUE_SEL: v->queue_sel = x; break;
	case R_QUEUE_NUM:
		if (!v->queue_sel && x && x <= VMXCTL_VIRTQ_MAX && !(x & (x - 1)))
			v->queue_num = x;
		break;
	case R_QUEUE_READY:
		if (!v->queue_sel)
			v->queue_ready = x & 1;
		break;
	case R_QUEUE_DESC_LO: if (!v->queue_sel) set_lo(&v->desc, x); break;
	case R_QUEUE_DESC_HI: if (!v->queue_sel) set_hi(&v->desc, x); break;
	case R_QUEUE_AVAIL_LO: if (!v->queue_sel) set_lo(&v->avail, x); break;
	case R_QUEUE_AVAIL_HI: if (!v->queue_sel) set_hi(&v->avail, x); break;
	case R_QUEUE_USED_LO: if (!v->queue_sel) set_lo(&v->used, x); break;
	case R_QUEUE_USED_HI: if (!v->queue_sel) set_hi(&v->used, x); break;
	case R_QUEUE_NOTIFY:
		if (x == 0 && queue_live(v)) {
			v->notified = true;
			pthread_cond_broadcast(&v->work);
		}
		break;
	case R_INT_ACK:
		v->int_status &= ~x;
		vmxctl_dev_irq(d, v->int_status != 0);
		break;
	case R_STATUS:
		if (x == 0) {
			drain(v);
			reset(v);
		} else {
			v->status = x;
			if ((x & S_DRIVER_OK) && v->queue_ready) {
				v->notified = true;
				pthread_cond_broadcast(&v->work);
			}
		}
		break;
	default:
		break;
	}
}

int vmxctl_virtio_read(struct vmxctl_virtio *v, uint64_t a, void *buf,
		       uint64_t len, const char **why)
{
	return vmxctl_dma_read(v->m, v->sid, a, buf, len, why);
}

int vmxctl_virtio_write(struct vmxctl_virtio *v, uint64_t a,
			const void *buf, uint64_t len, const char **why)
{
	return vmxctl_dma_write(v->m, v->sid, a, buf, len, why);
}

/* ---- the queue ---- */

/*
 * Take the next available chain, if any. dev.lock held. Returns 1 with
 * a request, 0 with none, -1 when the device failed.
 */
static int pop(struct vmxctl_virtio *v, struct vmxctl_virtq_req *r)
{
	const char *why = "?";
	uint16_t avail_idx, head, idx;
	unsigned int n = 0;

	if (vmxctl_virtio_read(v, v->avail + 2, &avail_idx, 2, &why)) {
		fail_device(v, "reading avail.idx at 0x%llx: %s",
			    (unsigned long long)v->avail + 2, why);
		return -1;
	}
	if (avail_idx == v->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - v->last_avail) > v->queue_num) {
		fail_device(v, "avail.idx %u is %u ahead of the device (queue of %u)",
			    avail_idx, (uint16_t)(avail_idx - v->last_avail),
			    v->queue_num);
		return -1;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (vmxctl_virtio_read(v, v->avail + 4 + 2 * (v->last_avail % v->queue_num),
			       &head, 2, &why)) {
		fail_device(v, "reading avail.ring at 0x%llx: %s",
			    (unsigned long long)v->avail, why);
		return -1;
	}
	if (head >= v->queue_num) {
		fail_device(v, "avail.ring names descriptor %u of %u", head,
			    v->queue_num);
		return -1;
	}
	idx = head;
	for (;;) {
		if (n == v->queue_num) {
			fail_device(v, "descriptor chain from %u loops", head);
			return -1;
		}
		if (vmxctl_virtio_read(v, v->desc + 16ULL * idx, &r->d[n], 16,
				       &why)) {
			fail_device(v, "reading descriptor %u at 0x%llx: %s",
				    idx, (unsigned long long)v->desc + 16ULL * idx,
				    why);
			return -1;
		}
		if (!(r->d[n].flags & VRING_DESC_F_NEXT)) {
			n++;
			break;
		}
		idx = r->d[n++].next;
		if (idx >= v->queue_num) {
			fail_device(v, "descriptor chain from %u: next %u of %u",
				    head, idx, v->queue_num);
			return -1;
		}
	}
	r->head = head;
	r->n = n;
	v->last_avail++;
	return 1;
}

/* Put a finished chain on the used ring. dev.lock held. */
static void push(struct vmxctl_virtio *v, uint16_t head, uint32_t len)
{
	/* cppcheck-suppress unusedStructMember ; the guest reads them */
	struct { uint32_t id, len; } e = { head, len };
	const char *why = "?";
	uint16_t idx;

	if (vmxctl_virtio_write(v, v->used + 4 + 8ULL * (v->used_idx % v->queue_num),
				&e, sizeof(e), &why)) {
		fail_device(v, "writing used.ring at 0x%llx: %s",
			    (unsigned long long)v->used, why);
		return;
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	idx = v->used_idx + 1;
	if (vmxctl_virtio_write(v, v->used + 2, &idx, 2, &why)) {
		fail_device(v, "writing used.idx at 0x%llx: %s",
			    (unsigned long long)v->used + 2, why);
		return;
	}
	v->used_idx = idx;
	v->int_status |= 1;
	vmxctl_dev_irq(&v->dev, true);
}


static void *worker(void *arg)
{
	struct vmxctl_virtio *v = arg;
	struct vmxctl_virtq_req *r = malloc(sizeof(*r));
	char *buf = v->scratch_size ? malloc(v->scratch_size) : NULL;
	int64_t len;

	if (!r || (v->scratch_size && !buf)) {
		vmxctl_err("%s: worker: out of memory", v->ops->kind);
		free(r);
		free(buf);
		return NULL;
	}
	pthread_mutex_lock(&v->dev.lock);
	for (;;) {
		while (!v->exiting && (v->paused || !v->notified ||
				       !queue_live(v)))
			pthread_cond_wait(&v->work, &v->dev.lock);
		if (v->exiting)
			break;
		if (pop(v, r) <= 0) {
			v->notified = false;	/* ring empty (or failed) */
			continue;
		}
		v->inflight++;
		pthread_mutex_unlock(&v->dev.lock);
		len = v->ops->handle(v, r, buf);
		pthread_mutex_lock(&v->dev.lock);
		if (len >= 0)
			push(v, r->head, len);
		if (!--v->inflight)
			pthread_cond_broadcast(&v->idle);
	}
	pthread_mutex_unlock(&v->dev.lock);
	free(r);
	free(buf);
	return NULL;
}

/* ---- device ops ---- */

static void virtio_quiesce(struct vmxctl_device *d)
{
	struct vmxctl_virtio *v = d->priv;

	pthread_mutex_lock(&d->lock);
	v->paused = true;
	drain(v);
	pthread_mutex_unlock(&d->lock);
}

static void virtio_resume(struct vmxctl_device *d)
{
	struct vmxctl_virtio *v = d->priv;

	pthread_mutex_lock(&d->lock);
	v->paused = false;
	v->notified = true;	/* requests may have come in meanwhile */
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&d->lock);
}

static int virtio_save(struct vmxctl_device *d, struct vmxctl_dev_state *st)
{
	struct vmxctl_virtio *v = d->priv;
	struct virtio_state_v1 *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	*s = (struct virtio_state_v1){
		.status = v->status,
		.device_features_sel = v->dev_features_sel,
		.driver_features_sel = v->drv_features_sel,
		.queue_sel = v->queue_sel,
		.interrupt_status = v->int_status,
		.config_generation = v->config_gen,
		.driver_features = v->drv_features,
		.queue_num = v->queue_num,
		.queue_ready = v->queue_ready,
		.queue_desc = v->desc,
		.queue_avail = v->avail,
		.queue_used = v->used,
		.last_avail_idx = v->last_avail,
		.used_idx = v->used_idx,
	};
	pthread_mutex_unlock(&d->lock);
	st->version = 1;
	st->len = sizeof(*s);
	st->data = s;
	return 0;
}

static int virtio_restore(struct vmxctl_device *d,
		       const struct vmxctl_dev_state *st)
{
	struct vmxctl_virtio *v = d->priv;
	const struct virtio_state_v1 *s = st->data;

	if (st->version != 1 || st->len != sizeof(*s) || !s->queue_num ||
	    s->queue_num > VMXCTL_VIRTQ_MAX || (s->queue_num & (s->queue_num - 1)))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	drain(v);
	v->status = s->status;
	v->dev_features_sel = s->device_features_sel;
	v->drv_features_sel = s->driver_features_sel;
	v->queue_sel = s->queue_sel;
	v->int_status = s->interrupt_status;
	v->config_gen = s->config_generation;
	v->drv_features = s->driver_features & v->features;
	v->queue_num = s->queue_num;
	v->queue_ready = s->queue_ready;
	v->desc = s->queue_desc;
	v->avail = s->queue_avail;
	v->used = s->queue_used;
	v->last_avail = s->last_avail_idx;
	v->used_idx = s->used_idx;
	v->notified = true;
	vmxctl_dev_irq(d, v->int_status != 0);
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void virtio_destroy(struct vmxctl_device *d)
{
	struct vmxctl_virtio *v = d->priv;
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	v->exiting = true;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < v->nr_workers; i++)
		pthread_join(v->workers[i], NULL);
	v->ops->destroy(v);
}

static const struct vmxctl_dev_ops virtio_ops = {
	.mmio = virtio_mmio,
	.save = virtio_save,
	.restore = virtio_restore,
	.reset_refusal = "its DMA writes guest RAM through vmxctl's mapping, which the module does not track, and its backend keeps what the guest wrote: a reset could undo neither",
	.quiesce = virtio_quiesce,
	.resume = virtio_resume,
	.destroy = virtio_destroy,
};


int vmxctl_virtio_mmio_add(struct vmxctl_virtio *v, const char *name,
			   uint64_t gpa)
{
	unsigned int i;
	int ret;

	snprintf(v->dev.name, sizeof(v->dev.name), "%s", name);
	v->dev.ops = &virtio_ops;
	v->dev.mmio_base = gpa;
	v->dev.mmio_len = VMXCTL_VIRTIO_MMIO_SIZE;
	/* Device k of the window's stride: GSI 16 + k, level (docs/vmxctl.md). */
	v->dev.gsi = -1;
	if (gpa >= VMXCTL_VIRTIO_BLK_GPA &&
	    (gpa - VMXCTL_VIRTIO_BLK_GPA) / VMXCTL_VIRTIO_MMIO_STRIDE <
	    VMXCTL_IOAPIC_PINS - VMXCTL_VIRTIO_GSI_BASE)
		v->dev.gsi = VMXCTL_VIRTIO_GSI_BASE +
			     (gpa - VMXCTL_VIRTIO_BLK_GPA) / VMXCTL_VIRTIO_MMIO_STRIDE;
	v->dev.priv = v;
	pthread_cond_init(&v->work, NULL);
	pthread_cond_init(&v->idle, NULL);
	reset(v);
	ret = vmxctl_add_device(v->m, &v->dev);
	if (ret)
		return ret;
	/* From here on the bus owns v: destroy joins the workers started. */
	for (i = 0; i < VMXCTL_VIRTIO_WORKERS; i++) {
		ret = pthread_create(&v->workers[i], NULL, worker, v);
		if (ret) {
			vmxctl_err("%s: worker thread: %s", v->ops->kind,
				   strerror(ret));
			return -ret;
		}
		v->nr_workers++;
	}
	return 0;
}
