// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: a virtio block device ("virtio-blk0") at VMXCTL_VIRTIO_BLK_GPA,
 * backed by a file, on the virtio-mmio transport (vmxctl_virtio_mmio.c:
 * registers, queue, workers, saved state).
 *
 * Features offered: VERSION_1, SEG_MAX, BLK_SIZE, FLUSH, and RO when the
 * file is not writable. Requests: VIRTIO_BLK_T_IN, _OUT, _FLUSH,
 * _GET_ID; others complete with VIRTIO_BLK_S_UNSUPP. Data:
 *  - without an SMMU, data goes straight between the file and guest
 *    memory (pread/pwrite on vmxctl's mapping: no bounce buffer), and
 *    every page the device writes (data, status byte, used ring) is
 *    recorded in vmxctl's device dirty log, which vmxctl_dirty_log_get()
 *    ORs into the kernel's: the kernel cannot see writes through the
 *    mapping, and routing them through VMXL_SMMU_DMA (bypass) would need
 *    a copy of every buffer;
 *  - with --smmu, every access goes through VMXL_SMMU_DMA with StreamID
 *    VMXCTL_SMMU_SID_BLK, so the SMMU translates and polices it and the
 *    kernel marks what it writes dirty; file data passes through the
 *    worker's scratch buffer that the module copies to or from guest
 *    pages.
 * A header or status byte the device cannot reach sets
 * DEVICE_NEEDS_RESET (vmxctl_virtio_fail); a data buffer it cannot reach
 * fails the request (VIRTIO_BLK_S_IOERR), with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "vmxctl_virtio.h"

#define SECTOR			512ULL
#define CHUNK			(256 * 1024)	/* SMMU path: bytes per DMA */

#define F_SEG_MAX		(1ULL << 2)
#define F_RO			(1ULL << 5)
#define F_BLK_SIZE		(1ULL << 6)
#define F_FLUSH			(1ULL << 9)

#define T_IN			0
#define T_OUT			1
#define T_FLUSH			4
#define T_GET_ID		8
#define BLK_S_OK		0
#define BLK_S_IOERR		1
#define BLK_S_UNSUPP		2
#define ID_BYTES		20

struct blk {
	struct vmxctl_virtio vio;
	const char *path;
	int fd;
	bool ro;
	uint64_t capacity;		/* sectors */
	char id[ID_BYTES];
};

static struct blk *to_blk(struct vmxctl_virtio *v)
{
	return (struct blk *)v;	/* vio is its first member */
}

static int rd(struct blk *b, uint64_t a, void *buf, uint64_t len,
	      const char **why)
{
	return vmxctl_virtio_read(&b->vio, a, buf, len, why);
}

static int wr(struct blk *b, uint64_t a, const void *buf, uint64_t len,
	      const char **why)
{
	return vmxctl_virtio_write(&b->vio, a, buf, len, why);
}

static uint32_t blk_config_read(struct vmxctl_virtio *v, uint64_t off,
				unsigned int size)
{
	struct blk *b = to_blk(v);
	uint8_t cfg[0x20] = { 0 };
	uint32_t seg_max = 126, blk_size = 512, x = 0;

	memcpy(cfg + 0x00, &b->capacity, 8);
	memcpy(cfg + 0x0c, &seg_max, 4);
	memcpy(cfg + 0x14, &blk_size, 4);
	if (off < sizeof(cfg) && size <= sizeof(cfg) - off)
		memcpy(&x, cfg + off, size > 4 ? 4 : size);
	return x;
}

/* One data buffer: file <-> guest. Returns 0 or an error text. */
static const char *xfer(struct blk *b, const struct vring_desc *d,
			uint64_t off, bool to_guest, char *buf)
{
	const char *why = NULL;
	uint64_t done, n;
	ssize_t k;

	if (!vmxctl_has_smmu(b->vio.m)) {
		void *hva = vmxctl_gpa_to_hva(b->vio.m, d->addr, d->len);

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
			vmxctl_mark_dirty(b->vio.m, d->addr, d->len);
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
 * status byte included; -1 when the device failed.
 */
static int64_t blk_handle(struct vmxctl_virtio *v, struct vmxctl_virtq_req *r,
			  void *buf)
{
	struct blk *b = to_blk(v);
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
		vmxctl_virtio_fail(v, "request %u: malformed chain (%u descriptors)",
				   r->head, r->n);
		return -1;
	}
	if (rd(b, r->d[0].addr, &h, sizeof(h), &why)) {
		vmxctl_virtio_fail(v, "request %u: reading the header at 0x%llx: %s",
				   r->head, (unsigned long long)r->d[0].addr, why);
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
		vmxctl_virtio_fail(v, "request %u: writing the status at 0x%llx: %s",
				   r->head, (unsigned long long)st->addr, why);
		return -1;
	}
	return written + 1;
}

static void blk_destroy(struct vmxctl_virtio *v)
{
	free(to_blk(v));	/* the file is the caller's */
}

static const struct vmxctl_virtio_ops blk_ops = {
	.kind = "virtio-blk",
	.device_id = 2,
	.config_read = blk_config_read,
	.handle = blk_handle,
	.destroy = blk_destroy,
};

int vmxctl_virtio_blk_create(struct vmxctl_machine *m, int fd, bool ro,
			     const char *path)
{
	struct blk *b = calloc(1, sizeof(*b));
	const char *base;
	struct stat st;
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
	b->path = path;
	b->fd = fd;
	b->ro = ro;
	b->capacity = st.st_size / SECTOR;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	memcpy(b->id, base, strnlen(base, ID_BYTES));
	b->vio.ops = &blk_ops;
	b->vio.m = m;
	b->vio.sid = VMXCTL_SMMU_SID_BLK;
	b->vio.features = VIRTIO_F_VERSION_1 | F_SEG_MAX | F_BLK_SIZE |
			  F_FLUSH | (ro ? F_RO : 0);
	b->vio.scratch_size = vmxctl_has_smmu(m) ? CHUNK : 0;
	ret = vmxctl_virtio_mmio_add(&b->vio, "virtio-blk0",
				     VMXCTL_VIRTIO_BLK_GPA);
	if (ret && !b->vio.dev.m)
		free(b);	/* not on the bus */
	return ret;
}
