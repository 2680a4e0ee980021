/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxctl's virtio-mmio transport (vmxctl_virtio_mmio.c), internal to
 * vmxctl: the registers, one split virtqueue, the workers that take
 * requests off it, DMA through the SMMU or not, pause and state. A
 * virtio device type (vmxctl_virtio_blk.c) gives its device ID, the
 * features it offers, its config space and what one request does.
 */
#ifndef VMXCTL_VIRTIO_H
#define VMXCTL_VIRTIO_H

#include "vmxctl_dev.h"

#define VMXCTL_VIRTIO_MMIO_SIZE	0x1000
#define VMXCTL_VIRTQ_MAX	256	/* entries of the queue, at most */
#define VMXCTL_VIRTIO_WORKERS	2	/* threads taking requests */

#define VIRTIO_F_VERSION_1	(1ULL << 32)
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* A descriptor chain taken off the available ring. */
struct vmxctl_virtq_req {
	uint16_t head;
	unsigned int n;
	struct vring_desc d[VMXCTL_VIRTQ_MAX];
};

struct vmxctl_virtio;

struct vmxctl_virtio_ops {
	const char *kind;	/* in messages: "virtio-blk" */
	uint32_t device_id;	/* virtio's: 2 block */
	/* The config space (read-only), @off from its start. dev.lock held. */
	uint32_t (*config_read)(struct vmxctl_virtio *v, uint64_t off,
				unsigned int size);
	/*
	 * Do one request, on a worker, without the lock; @scratch is the
	 * worker's scratch_size bytes. Returns the bytes written to
	 * device-writable buffers (the used ring's len), or -1 after
	 * vmxctl_virtio_fail().
	 */
	int64_t (*handle)(struct vmxctl_virtio *v, struct vmxctl_virtq_req *r,
			  void *scratch);
	void (*destroy)(struct vmxctl_virtio *v);	/* after the workers */
};

/*
 * The transport's part of a device; the device type embeds it and fills
 * in the first fields. Saved state: the transport's (see
 * vmxctl_virtio_mmio.c).
 */
struct vmxctl_virtio {
	struct vmxctl_device dev;
	const struct vmxctl_virtio_ops *ops;
	struct vmxctl_machine *m;
	uint32_t sid;			/* its DMA's SMMU StreamID */
	uint64_t features;		/* offered */
	size_t scratch_size;		/* per worker, 0: none */

	/* registers and queue (under dev.lock) */
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel;
	uint32_t int_status, config_gen;
	uint64_t drv_features;
	uint32_t queue_num, queue_ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx;

	/* workers */
	pthread_cond_t work, idle;
	pthread_t workers[VMXCTL_VIRTIO_WORKERS];
	unsigned int nr_workers;
	unsigned int inflight;
	bool notified, paused, exiting;
};

/*
 * Put @v (ops, m, sid, features, scratch_size set) on @m's bus as
 * @name at @gpa and start its workers. 0, or -errno after a message;
 * after a failure to start a worker, @v is on the bus (its destroy
 * frees it), else the caller still owns it.
 */
int vmxctl_virtio_mmio_add(struct vmxctl_virtio *v, const char *name,
			   uint64_t gpa);

/* Set DEVICE_NEEDS_RESET and say why (once). Takes dev.lock. */
void vmxctl_virtio_fail(struct vmxctl_virtio *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The device's DMA (its StreamID): 0 or -errno, @why set. */
int vmxctl_virtio_read(struct vmxctl_virtio *v, uint64_t a, void *buf,
		       uint64_t len, const char **why);
int vmxctl_virtio_write(struct vmxctl_virtio *v, uint64_t a,
			const void *buf, uint64_t len, const char **why);

#endif /* VMXCTL_VIRTIO_H */
