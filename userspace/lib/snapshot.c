// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite snapshot files: writer and reader. The format is described in
 * docs/snapshot-format.md; the short version:
 *
 *   header (128 bytes, CRC32, its SHA-256 is the file's id)
 *   [parent]  layout  vcpu x N  device x N  memory x N  end
 *
 * every section = 24-byte section header (type, index, length, payload
 * CRC32, header CRC32) + payload. Memory sections hold up to 256 pages
 * of one slot: a bitmap of the pages they cover, a bitmap of those that
 * are not zero, and those pages as one raw deflate stream.
 *
 * The writer compresses on worker threads, each with one deflate stream
 * reset per chunk; the main thread writes the chunks in order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "snapshot.h"

#define CHUNK_HDR	88u	/* memory section payload header */
#define CHUNK_RAW_MAX	(SNAP_CHUNK_PAGES * SNAP_PAGE_SIZE)
/* Compressed bytes of a chunk at most (deflateBound with margin). */
#define CHUNK_COMP_MAX	(CHUNK_RAW_MAX + (CHUNK_RAW_MAX >> 3) + (CHUNK_RAW_MAX >> 6) + 64)
#define BITMAP_WORDS	(SNAP_CHUNK_PAGES / 64)
#define VCPU_FIXED	(16u + sizeof(struct vmxl_regs) + sizeof(struct vmxl_sregs) + \
			 sizeof(struct vmxl_fpu))
#define LAYOUT_ENTRY	24u
#define END_MAGIC	"SNAPEND"	/* 8 bytes with the NUL */

_Static_assert(sizeof(struct vmxl_regs) == 144, "regs layout");
_Static_assert(sizeof(struct vmxl_sregs) == 312, "sregs layout");
_Static_assert(sizeof(struct vmxl_fpu) == 512, "fpu layout");
_Static_assert(sizeof(struct vmxl_msr_entry) == 16, "msr layout");
_Static_assert(sizeof(struct vmxl_cpuid_entry) == 32, "cpuid layout");
#define DEVICE_FIXED	(SNAP_DEVICE_NAME + 8u)	/* name, version, reserved */
#define VCPU_MAX	(VCPU_FIXED + SNAP_MAX_MSRS * sizeof(struct vmxl_msr_entry) + \
			 SNAP_MAX_CPUID * sizeof(struct vmxl_cpuid_entry))

/* ------------------------------------------------------------------ */
/* Little helpers                                                     */
/* ------------------------------------------------------------------ */

static void seterr(struct snap_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(struct snap_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t crc(const void *p, size_t len)
{
	uint32_t c = crc32(0L, Z_NULL, 0);
	const uint8_t *b = p;

	/* zlib takes uInt lengths */
	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		c = crc32(c, b, n);
		b += n;
		len -= n;
	}
	return c;
}

static int bit(const uint64_t *map, uint64_t n)
{
	return (map[n / 64] >> (n % 64)) & 1;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void snap_id_hex(const uint8_t id[SNAP_ID_SIZE], char out[2 * SNAP_ID_SIZE + 1])
{
	for (unsigned int i = 0; i < SNAP_ID_SIZE; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

/* ------------------------------------------------------------------ */
/* SHA-256 (FIPS 180-4)                                               */
/* ------------------------------------------------------------------ */

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

static void sha_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 |
		       p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3;
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10;

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3];
	e = h[4], f = h[5], g = h[6], k = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));

		k = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d;
	h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void snap_sha256(const void *data, size_t len, uint8_t out[32])
{
	uint32_t h[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	const uint8_t *p = data;
	uint8_t tail[128] = { 0 };
	size_t full = len / 64 * 64, rest = len - full, tlen;

	for (size_t i = 0; i < full; i += 64)
		sha_block(h, p + i);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (uint8_t)((uint64_t)len * 8 >> (8 * i));
	sha_block(h, tail);
	if (tlen == 128)
		sha_block(h, tail + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = h[i] >> 24;
		out[4 * i + 1] = h[i] >> 16;
		out[4 * i + 2] = h[i] >> 8;
		out[4 * i + 3] = h[i];
	}
}

/* ------------------------------------------------------------------ */
/* On-disk header                                                     */
/* ------------------------------------------------------------------ */

/* Byte offsets in the 128-byte header. */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_HDRSIZE = 12, H_FLAGS = 16,
	H_PAGESIZE = 20, H_MEMSIZE = 24, H_NSLOTS = 32, H_NVCPUS = 36,
	H_NDEVS = 40, H_NCHUNKS = 44, H_FILESIZE = 48, H_CREATED = 56,
	H_NONCE = 64, H_PARENT = 80, H_DEPTH = 112, H_CRC = 124,
};

/* Section header: type, index, length (8), payload CRC, header CRC. */
static void sechdr_fill(uint8_t h[SNAP_SECHDR_SIZE], uint32_t type,
			uint32_t index, uint64_t len, uint32_t pcrc)
{
	put32(h, type);
	put32(h + 4, index);
	put64(h + 8, len);
	put32(h + 16, pcrc);
	put32(h + 20, crc(h, 20));
}

/* ------------------------------------------------------------------ */
/* Writer                                                             */
/* ------------------------------------------------------------------ */

struct out {
	int fd;
	const char *tmp;
	uint64_t off;
	uint32_t nsec;		/* next section index */
	struct snap_err *err;
};

static int out_write(struct out *o, const struct iovec *iov, int n)
{
	size_t total = 0;
	struct iovec v[4];

	for (int i = 0; i < n; i++) {
		v[i] = iov[i];
		total += iov[i].iov_len;
	}
	while (total) {
		ssize_t w = writev(o->fd, v, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			seterr(o->err, errno, "%s: write at offset %llu: %s",
			       o->tmp, (unsigned long long)o->off, strerror(errno));
			return -1;
		}
		if (w == 0) {
			seterr(o->err, EIO, "%s: write returned 0", o->tmp);
			return -1;
		}
		o->off += w;
		total -= w;
		while (n && (size_t)w >= v[0].iov_len) {
			w -= v[0].iov_len;
			memmove(v, v + 1, (n - 1) * sizeof(*v));
			n--;
		}
		if (n) {
			v[0].iov_base = (char *)v[0].iov_base + w;
			v[0].iov_len -= w;
		}
	}
	return 0;
}

static int out_section(struct out *o, uint32_t type, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	uint8_t h[SNAP_SECHDR_SIZE];
	uint32_t c = crc(a, alen);
	struct iovec iov[3] = {
		{ h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen },
	};

	if (blen)	/* crc32() with a NULL buffer restarts at 0 */
		c = crc32(c, b, blen);
	sechdr_fill(h, type, o->nsec++, alen + blen, c);
	return out_write(o, iov, blen ? 3 : 2);
}

static int out_vcpu(struct out *o, const struct snap_vcpu *v)
{
	static _Thread_local uint8_t buf[VCPU_MAX];
	size_t off = 16;

	put32(buf, v->id);
	put32(buf + 4, v->flags);
	put32(buf + 8, v->nr_msrs);
	put32(buf + 12, v->nr_cpuid);
	memcpy(buf + off, &v->regs, sizeof(v->regs));
	off += sizeof(v->regs);
	memcpy(buf + off, &v->sregs, sizeof(v->sregs));
	off += sizeof(v->sregs);
	memcpy(buf + off, &v->fpu, sizeof(v->fpu));
	off += sizeof(v->fpu);
	memcpy(buf + off, v->msrs, v->nr_msrs * sizeof(v->msrs[0]));
	off += v->nr_msrs * sizeof(v->msrs[0]);
	memcpy(buf + off, v->cpuid, v->nr_cpuid * sizeof(v->cpuid[0]));
	off += v->nr_cpuid * sizeof(v->cpuid[0]);
	return out_section(o, SNAP_SEC_VCPU, buf, off, NULL, 0);
}

/* One unit of compression work: up to 256 pages of one slot. */
struct job {
	uint32_t slot;
	uint32_t npages;
	uint64_t first;
};

struct wbuf {
	uint8_t *data;		/* CHUNK_HDR + compressed */
	size_t len;
	uint32_t crc;
	bool done, skip;
	uint64_t selected, zero, pages;
};

struct pipe {
	const struct snap_write_params *p;
	const struct job *jobs;
	size_t njobs;
	struct wbuf *ring;
	unsigned int nring;
	size_t next, written;
	bool abort, failed;
	char fail_msg[256];
	size_t bound;
	pthread_mutex_t lock;
	pthread_cond_t space, done;
};

static bool page_is_zero(const void *page)
{
	const uint64_t *q = page;

	for (unsigned int i = 0; i < SNAP_PAGE_SIZE / 8; i += 8)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] |
		    q[i + 5] | q[i + 6] | q[i + 7])
			return false;
	return true;
}

static int compress_job(struct pipe *pp, z_stream *z, const struct job *j,
			struct wbuf *b)
{
	const struct snap_slot *s = &pp->p->slots[j->slot];
	uint64_t present[BITMAP_WORDS] = { 0 }, data[BITMAP_WORDS] = { 0 };
	uint32_t raw = 0;
	uint8_t *h = b->data;
	int ret;

	b->selected = b->zero = b->pages = 0;
	if (deflateReset(z) != Z_OK)
		return -1;
	z->next_out = h + CHUNK_HDR;
	z->avail_out = pp->bound;
	for (uint32_t i = 0; i < j->npages; i++) {
		uint64_t pg = j->first + i;
		uint8_t *src = (uint8_t *)s->host + pg * SNAP_PAGE_SIZE;

		if (s->pages && !bit(s->pages, pg))
			continue;
		present[i / 64] |= 1ULL << (i % 64);
		b->selected++;
		if (page_is_zero(src)) {
			b->zero++;
			continue;
		}
		data[i / 64] |= 1ULL << (i % 64);
		b->pages++;
		raw += SNAP_PAGE_SIZE;
		z->next_in = src;
		z->avail_in = SNAP_PAGE_SIZE;
		ret = deflate(z, Z_NO_FLUSH);
		if (ret != Z_OK || z->avail_in)
			return -1;
	}
	if (raw) {
		z->avail_in = 0;
		ret = deflate(z, Z_FINISH);
		if (ret != Z_STREAM_END)
			return -1;
	}
	/* A full snapshot leaves out chunks of zeros: absent means zero. */
	b->skip = !s->pages && !raw;
	put32(h, j->slot);
	put32(h + 4, j->npages);
	put64(h + 8, j->first);
	put32(h + 16, raw);
	put32(h + 20, raw ? (uint32_t)z->total_out : 0);
	for (unsigned int w = 0; w < BITMAP_WORDS; w++) {
		put64(h + 24 + 8 * w, present[w]);
		put64(h + 56 + 8 * w, data[w]);
	}
	b->len = CHUNK_HDR + (raw ? z->total_out : 0);
	b->crc = crc(b->data, b->len);
	return 0;
}

static void *worker(void *arg)
{
	struct pipe *pp = arg;
	z_stream z = { 0 };
	int level = pp->p->level ? pp->p->level : Z_BEST_SPEED;

	/* Raw deflate: the section CRC covers integrity, no adler32 needed. */
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		pthread_mutex_lock(&pp->lock);
		pp->failed = true;
		snprintf(pp->fail_msg, sizeof(pp->fail_msg), "deflateInit2 failed");
		pthread_cond_broadcast(&pp->done);
		pthread_mutex_unlock(&pp->lock);
		return NULL;
	}
	for (;;) {
		size_t j;
		struct wbuf *b;
		int r;

		pthread_mutex_lock(&pp->lock);
		while (!pp->abort && pp->next < pp->njobs &&
		       pp->next - pp->written >= pp->nring)
			pthread_cond_wait(&pp->space, &pp->lock);
		if (pp->abort || pp->next >= pp->njobs) {
			pthread_mutex_unlock(&pp->lock);
			break;
		}
		j = pp->next++;
		pthread_mutex_unlock(&pp->lock);

		b = &pp->ring[j % pp->nring];
		r = compress_job(pp, &z, &pp->jobs[j], b);

		pthread_mutex_lock(&pp->lock);
		if (r) {
			pp->failed = true;
			snprintf(pp->fail_msg, sizeof(pp->fail_msg),
				 "deflate failed on slot %u page %llu: %s",
				 pp->p->slots[pp->jobs[j].slot].slot,
				 (unsigned long long)pp->jobs[j].first,
				 z.msg ? z.msg : "no message");
		}
		b->done = true;
		pthread_cond_broadcast(&pp->done);
		pthread_mutex_unlock(&pp->lock);
		if (r)
			break;
	}
	deflateEnd(&z);
	return NULL;
}

static int check_params(const struct snap_write_params *p, struct snap_err *err)
{
	if (!p->path || !*p->path) {
		seterr(err, EINVAL, "snapshot: no file name");
		return -1;
	}
	if (!p->nr_slots || p->nr_slots > SNAP_MAX_SLOTS) {
		seterr(err, EINVAL, "%s: %u memory slots (1..%u)", p->path,
		       p->nr_slots, SNAP_MAX_SLOTS);
		return -1;
	}
	if (p->level < 0 || p->level > Z_BEST_COMPRESSION) {
		seterr(err, EINVAL, "%s: zlib level %d (0 for the default, or 1..9)",
		       p->path, p->level);
		return -1;
	}
	if (p->nr_vcpus > SNAP_MAX_VCPUS || p->nr_devices > SNAP_MAX_DEVICES) {
		seterr(err, EINVAL, "%s: %u vCPUs, %u devices (at most %u, %u)",
		       p->path, p->nr_vcpus, p->nr_devices, SNAP_MAX_VCPUS,
		       SNAP_MAX_DEVICES);
		return -1;
	}
	for (uint32_t i = 0; i < p->nr_slots; i++) {
		const struct snap_slot *s = &p->slots[i];

		if (!s->host || !s->size || s->size % SNAP_PAGE_SIZE ||
		    s->gpa % SNAP_PAGE_SIZE || s->gpa + s->size < s->gpa) {
			seterr(err, EINVAL, "%s: memory slot %u: bad address, size or host pointer",
			       p->path, s->slot);
			return -1;
		}
	}
	for (uint32_t i = 0; i < p->nr_vcpus; i++)
		if (p->vcpus[i].nr_msrs > SNAP_MAX_MSRS ||
		    p->vcpus[i].nr_cpuid > SNAP_MAX_CPUID) {
			seterr(err, EINVAL, "%s: vCPU %u: %u MSRs, %u CPUID entries (at most %u, %u)",
			       p->path, p->vcpus[i].id, p->vcpus[i].nr_msrs,
			       p->vcpus[i].nr_cpuid, SNAP_MAX_MSRS, SNAP_MAX_CPUID);
			return -1;
		}
	for (uint32_t i = 0; i < p->nr_devices; i++) {
		const struct snap_device *d = &p->devices[i];
		size_t n = strnlen(d->name, SNAP_DEVICE_NAME);

		if (!n || n == SNAP_DEVICE_NAME || d->len > SNAP_MAX_DEVICE_BLOB ||
		    (d->len && !d->data)) {
			seterr(err, EINVAL, "%s: device %u: bad name or state blob",
			       p->path, i);
			return -1;
		}
	}
	return 0;
}

/*
 * The parent as the child stores it: its name when both are in the same
 * directory, else its absolute path.
 */
static char *parent_ref(const char *child, const char *parent, struct snap_err *err)
{
	char *pr = realpath(parent, NULL), *cd, *slash, *ret;
	char *c = strdup(child);

	if (!pr || !c) {
		seterr(err, errno, "%s: parent %s: %s", child, parent, strerror(errno));
		free(pr);
		free(c);
		return NULL;
	}
	slash = strrchr(c, '/');
	if (slash)
		*slash = 0;
	cd = realpath(slash ? (*c ? c : "/") : ".", NULL);
	slash = strrchr(pr, '/');
	if (cd && slash && (size_t)(slash - pr) == strlen(cd) &&
	    !strncmp(pr, cd, slash - pr))
		ret = strdup(slash + 1);
	else
		ret = strdup(pr);
	free(cd);
	free(c);
	free(pr);
	return ret;
}

static int fsync_dir(const char *path)
{
	char *d = strdup(path), *slash;
	int fd, r;

	if (!d)
		return -1;
	slash = strrchr(d, '/');
	if (slash)
		slash == d ? (void)(slash[1] = 0) : (void)(*slash = 0);
	fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(d);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int snap_write(const struct snap_write_params *p, struct snap_write_stats *st,
	       struct snap_err *err)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), mem = 0, npages_total = 0;
	struct snap_write_stats dummy;
	struct snap_reader *par = NULL;
	const struct snap_info *pi = NULL;
	struct pipe pp = { .p = p };
	struct job *jobs = NULL;
	pthread_t th[8];
	unsigned int nth = 0, want;
	char *tmp = NULL, *pref = NULL;
	uint8_t hdr[SNAP_HEADER_SIZE] = { 0 };
	struct out o = { .fd = -1, .err = err };
	uint32_t nchunks = 0;
	size_t njobs = 0;
	int ret = -1;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (check_params(p, err))
		return -1;
	for (uint32_t i = 0; i < p->nr_slots; i++) {
		mem += p->slots[i].size;
		npages_total += p->slots[i].size / SNAP_PAGE_SIZE;
	}
	st->pages_total = npages_total;

	if (p->parent) {
		par = snap_open(p->parent, err);
		if (!par)
			return -1;
		pi = snap_get_info(par);
		if (pi->nr_slots != p->nr_slots || pi->mem_size != mem) {
			seterr(err, EINVAL, "%s: memory layout differs from the parent's (%s: %u slots, %llu bytes; now %u slots, %llu bytes)",
			       p->path, p->parent, pi->nr_slots,
			       (unsigned long long)pi->mem_size, p->nr_slots,
			       (unsigned long long)mem);
			goto out;
		}
		for (uint32_t i = 0; i < p->nr_slots; i++)
			if (pi->slots[i].slot != p->slots[i].slot ||
			    pi->slots[i].gpa != p->slots[i].gpa ||
			    pi->slots[i].size != p->slots[i].size) {
				seterr(err, EINVAL, "%s: memory slot %u differs from the parent's (%s)",
				       p->path, p->slots[i].slot, p->parent);
				goto out;
			}
		if (pi->depth + 1 >= SNAP_MAX_CHAIN) {
			seterr(err, EINVAL, "%s: parent %s is already %u deep (at most %u)",
			       p->path, p->parent, pi->depth, SNAP_MAX_CHAIN - 1);
			goto out;
		}
		pref = parent_ref(p->path, p->parent, err);
		if (!pref)
			goto out;
	}

	/* Jobs: every chunk that holds a selected page. */
	for (uint32_t i = 0; i < p->nr_slots; i++)
		njobs += (p->slots[i].size / SNAP_PAGE_SIZE + SNAP_CHUNK_PAGES - 1) /
			 SNAP_CHUNK_PAGES;
	jobs = calloc(njobs ? njobs : 1, sizeof(*jobs));
	if (!jobs) {
		seterr(err, ENOMEM, "%s: out of memory", p->path);
		goto out;
	}
	njobs = 0;
	for (uint32_t i = 0; i < p->nr_slots; i++) {
		const struct snap_slot *s = &p->slots[i];
		uint64_t n = s->size / SNAP_PAGE_SIZE;

		for (uint64_t first = 0; first < n; first += SNAP_CHUNK_PAGES) {
			uint32_t cnt = n - first < SNAP_CHUNK_PAGES ? n - first :
				       SNAP_CHUNK_PAGES;
			bool any = !s->pages;

			for (uint32_t w = 0; !any && w < (cnt + 63) / 64; w++) {
				uint32_t left = cnt - 64 * w;
				/*
				 * cppcheck's value flow loses that cnt goes
				 * up to SNAP_CHUNK_PAGES (256): left >= 64 is
				 * the common case.
				 */
				/* cppcheck-suppress knownConditionTrueFalse */
				uint64_t mask = left >= 64 ? ~0ULL :
					       (1ULL << left) - 1;

				any = s->pages[first / 64 + w] & mask;
			}
			if (any)
				jobs[njobs++] = (struct job){ i, cnt, first };
		}
	}

	if (asprintf(&tmp, "%s.tmp.%d", p->path, (int)getpid()) < 0) {
		tmp = NULL;
		seterr(err, ENOMEM, "%s: out of memory", p->path);
		goto out;
	}
	o.tmp = tmp;
	unlink(tmp);
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		seterr(err, errno, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	{
		struct iovec iov = { hdr, sizeof(hdr) };

		if (out_write(&o, &iov, 1))
			goto out;
	}
	if (pref && out_section(&o, SNAP_SEC_PARENT, pref, strlen(pref), NULL, 0))
		goto out;
	{
		uint8_t lay[SNAP_MAX_SLOTS * LAYOUT_ENTRY];

		for (uint32_t i = 0; i < p->nr_slots; i++) {
			uint8_t *e = lay + i * LAYOUT_ENTRY;

			put32(e, p->slots[i].slot);
			put32(e + 4, p->slots[i].flags);
			put64(e + 8, p->slots[i].gpa);
			put64(e + 16, p->slots[i].size);
		}
		if (out_section(&o, SNAP_SEC_LAYOUT, lay, p->nr_slots * LAYOUT_ENTRY,
				NULL, 0))
			goto out;
	}
	for (uint32_t i = 0; i < p->nr_vcpus; i++)
		if (out_vcpu(&o, &p->vcpus[i]))
			goto out;
	for (uint32_t i = 0; i < p->nr_devices; i++) {
		uint8_t dh[DEVICE_FIXED] = { 0 };

		memcpy(dh, p->devices[i].name,
		       strnlen(p->devices[i].name, SNAP_DEVICE_NAME - 1));
		put32(dh + SNAP_DEVICE_NAME, p->devices[i].version);
		if (out_section(&o, SNAP_SEC_DEVICE, dh, sizeof(dh),
				p->devices[i].data, p->devices[i].len))
			goto out;
	}

	/* Memory: workers compress, this thread writes in order. */
	want = p->threads ? p->threads : 2;
	if (want > 8)
		want = 8;
	pp.jobs = jobs;
	pp.njobs = njobs;
	pp.nring = 2 * want + 2;
	pp.bound = CHUNK_COMP_MAX;
	pp.ring = calloc(pp.nring, sizeof(*pp.ring));
	if (!pp.ring) {
		seterr(err, ENOMEM, "%s: out of memory", p->path);
		goto out;
	}
	for (unsigned int i = 0; i < pp.nring; i++) {
		pp.ring[i].data = malloc(CHUNK_HDR + pp.bound);
		if (!pp.ring[i].data) {
			seterr(err, ENOMEM, "%s: out of memory", p->path);
			goto out_ring;
		}
	}
	pthread_mutex_init(&pp.lock, NULL);
	pthread_cond_init(&pp.space, NULL);
	pthread_cond_init(&pp.done, NULL);
	for (nth = 0; nth < want && njobs; nth++)
		if (pthread_create(&th[nth], NULL, worker, &pp))
			break;
	if (njobs && !nth) {
		seterr(err, EAGAIN, "%s: cannot start a compression thread", p->path);
		goto out_threads;
	}
	for (size_t j = 0; j < njobs; j++) {
		struct wbuf *b = &pp.ring[j % pp.nring];
		bool failed;

		pthread_mutex_lock(&pp.lock);
		while (!b->done && !pp.failed)
			pthread_cond_wait(&pp.done, &pp.lock);
		failed = !b->done;
		if (failed)
			seterr(err, EIO, "%s: %s", p->path, pp.fail_msg);
		pthread_mutex_unlock(&pp.lock);
		if (failed)
			goto out_threads;
		st->pages_selected += b->selected;
		st->pages_zero += b->zero;
		st->pages_data += b->pages;
		if (!b->skip) {
			uint8_t h[SNAP_SECHDR_SIZE];
			struct iovec iov[2] = { { h, sizeof(h) }, { b->data, b->len } };

			sechdr_fill(h, SNAP_SEC_MEMORY, o.nsec++, b->len, b->crc);
			if (out_write(&o, iov, 2))
				goto out_threads;
			nchunks++;
		}
		pthread_mutex_lock(&pp.lock);
		b->done = false;
		pp.written++;
		pthread_cond_broadcast(&pp.space);
		pthread_mutex_unlock(&pp.lock);
	}
	if (out_section(&o, SNAP_SEC_END, END_MAGIC, 8, NULL, 0))
		goto out_threads;

	/* The header, now that sizes and counts are known. */
	{
		uint8_t nonce[16];
		uint64_t t = now_ns(CLOCK_REALTIME);

		if (getrandom(nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce)) {
			uint64_t x = t ^ (uint64_t)getpid() << 32 ^ (uintptr_t)&x;

			memcpy(nonce, &x, 8);
			memcpy(nonce + 8, &t, 8);
		}
		memcpy(hdr + H_MAGIC, SNAP_MAGIC, 8);
		put32(hdr + H_VERSION, SNAP_VERSION);
		put32(hdr + H_HDRSIZE, SNAP_HEADER_SIZE);
		put32(hdr + H_FLAGS, par ? SNAP_F_INCREMENTAL : 0);
		put32(hdr + H_PAGESIZE, SNAP_PAGE_SIZE);
		put64(hdr + H_MEMSIZE, mem);
		put32(hdr + H_NSLOTS, p->nr_slots);
		put32(hdr + H_NVCPUS, p->nr_vcpus);
		put32(hdr + H_NDEVS, p->nr_devices);
		put32(hdr + H_NCHUNKS, nchunks);
		put64(hdr + H_FILESIZE, o.off);
		put64(hdr + H_CREATED, t);
		memcpy(hdr + H_NONCE, nonce, 16);
		if (par)
			memcpy(hdr + H_PARENT, pi->id, SNAP_ID_SIZE);
		put32(hdr + H_DEPTH, par ? pi->depth + 1 : 0);
		put32(hdr + H_CRC, crc(hdr, H_CRC));
		if (pwrite(o.fd, hdr, sizeof(hdr), 0) != sizeof(hdr)) {
			seterr(err, errno ? errno : EIO, "%s: writing the header: %s",
			       tmp, strerror(errno ? errno : EIO));
			goto out_threads;
		}
		snap_sha256(hdr, sizeof(hdr), st->id);
	}
	if (!p->no_fsync && fsync(o.fd)) {
		seterr(err, errno, "%s: fsync: %s", tmp, strerror(errno));
		goto out_threads;
	}
	if (close(o.fd)) {
		o.fd = -1;
		seterr(err, errno, "%s: close: %s", tmp, strerror(errno));
		goto out_threads;
	}
	o.fd = -1;
	if (rename(tmp, p->path)) {
		seterr(err, errno, "%s: rename to %s: %s", tmp, p->path, strerror(errno));
		goto out_threads;
	}
	if (!p->no_fsync && fsync_dir(p->path)) {
		seterr(err, errno, "%s: fsync of its directory: %s", p->path,
		       strerror(errno));
		goto out_threads;	/* renamed but maybe not durable: still a failure */
	}
	st->chunks = nchunks;
	st->bytes = o.off;
	ret = 0;

out_threads:
	pthread_mutex_lock(&pp.lock);
	pp.abort = true;
	pthread_cond_broadcast(&pp.space);
	pthread_mutex_unlock(&pp.lock);
	for (unsigned int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pp.lock);
	pthread_cond_destroy(&pp.space);
	pthread_cond_destroy(&pp.done);
out_ring:
	for (unsigned int i = 0; i < pp.nring; i++)
		free(pp.ring[i].data);
	free(pp.ring);
out:
	if (o.fd >= 0)
		close(o.fd);
	if (ret && tmp)
		unlink(tmp);
	free(tmp);
	free(pref);
	free(jobs);
	snap_close(par);
	st->ns = now_ns(CLOCK_MONOTONIC) - t0;
	return ret;
}

/* ------------------------------------------------------------------ */
/* Reader                                                             */
/* ------------------------------------------------------------------ */

struct chunk_ref {
	uint64_t off;		/* of the payload */
	uint64_t len;
	uint32_t crc;
	uint32_t section;
};

struct snap_reader {
	char *name;
	int fd;
	const uint8_t *buf;	/* snap_open_mem */
	uint64_t size;
	uint8_t hdr[SNAP_HEADER_SIZE];
	struct snap_info info;
	void **blobs;		/* device payloads */
	struct chunk_ref *chunks;
	uint32_t first_mem;	/* section index of memory chunk 0 */
};

const struct snap_info *snap_get_info(const struct snap_reader *r)
{
	return &r->info;
}

const char *snap_name(const struct snap_reader *r)
{
	return r->name;
}

/* What section @idx of @r is expected to be, for messages. */
static void role(const struct snap_reader *r, uint32_t idx, char *out, size_t len)
{
	uint32_t i = idx;
	const struct snap_info *in = &r->info;

	if (in->flags & SNAP_F_INCREMENTAL) {
		if (i == 0) {
			snprintf(out, len, "parent");
			return;
		}
		i--;
	}
	if (i == 0) {
		snprintf(out, len, "layout");
		return;
	}
	i--;
	if (i < in->nr_vcpus) {
		snprintf(out, len, "vcpu %u", i);
		return;
	}
	i -= in->nr_vcpus;
	if (i < in->nr_devices) {
		if (r->info.devices && r->info.devices[i].name[0])
			snprintf(out, len, "device %u '%s'", i, r->info.devices[i].name);
		else
			snprintf(out, len, "device %u", i);
		return;
	}
	i -= in->nr_devices;
	if (i < in->nr_chunks) {
		snprintf(out, len, "memory chunk %u", i);
		return;
	}
	snprintf(out, len, "end");
}

static void secerr(struct snap_err *err, const struct snap_reader *r,
		   uint32_t idx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void secerr(struct snap_err *err, const struct snap_reader *r,
		   uint32_t idx, const char *fmt, ...)
{
	char what[400], rl[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	role(r, idx, rl, sizeof(rl));
	seterr(err, EINVAL, "%s: section %u (%s): %s", r->name, idx, rl, what);
}

static int rd(struct snap_reader *r, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *d = dst;

	if (off > r->size || len > r->size - off)
		return -1;
	if (r->buf) {
		memcpy(d, r->buf + off, len);
		return 0;
	}
	while (len) {
		ssize_t n = pread(r->fd, d, len > (1u << 30) ? (1u << 30) : len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		d += n;
		off += n;
		len -= n;
	}
	return 0;
}

void snap_close(struct snap_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->blobs)
		for (uint32_t i = 0; i < r->info.nr_devices; i++)
			free(r->blobs[i]);
	free(r->blobs);
	free(r->chunks);
	free(r->info.parent);
	free(r->info.slots);
	free(r->info.vcpus);
	free(r->info.devices);
	free(r->name);
	free(r);
}

static int parse_header(struct snap_reader *r, struct snap_err *err)
{
	const uint8_t *h = r->hdr;
	struct snap_info *in = &r->info;
	uint32_t v;
	static const uint8_t zero[SNAP_ID_SIZE];

	if (r->size < SNAP_HEADER_SIZE || rd(r, 0, r->hdr, SNAP_HEADER_SIZE)) {
		seterr(err, EINVAL, "%s: header: truncated (file is %llu bytes, the header alone is %u)",
		       r->name, (unsigned long long)r->size, SNAP_HEADER_SIZE);
		return -1;
	}
	if (memcmp(h + H_MAGIC, SNAP_MAGIC, 8)) {
		seterr(err, EINVAL, "%s: header: bad magic, not a vmx-lite snapshot",
		       r->name);
		return -1;
	}
	v = get32(h + H_VERSION);
	if (v > SNAP_VERSION) {
		seterr(err, EINVAL, "%s: header: format version %u is newer than this program reads (%u)",
		       r->name, v, SNAP_VERSION);
		return -1;
	}
	if (v == 0) {
		seterr(err, EINVAL, "%s: header: format version 0 is not valid",
		       r->name);
		return -1;
	}
	if (get32(h + H_CRC) != crc(h, H_CRC)) {
		seterr(err, EINVAL, "%s: header: CRC mismatch (stored %08x, computed %08x)",
		       r->name, get32(h + H_CRC), crc(h, H_CRC));
		return -1;
	}
	in->version = v;
	in->flags = get32(h + H_FLAGS);
	in->depth = get32(h + H_DEPTH);
	in->mem_size = get64(h + H_MEMSIZE);
	in->file_size = get64(h + H_FILESIZE);
	in->created_ns = get64(h + H_CREATED);
	in->nr_slots = get32(h + H_NSLOTS);
	in->nr_vcpus = get32(h + H_NVCPUS);
	in->nr_devices = get32(h + H_NDEVS);
	in->nr_chunks = get32(h + H_NCHUNKS);
	memcpy(in->parent_id, h + H_PARENT, SNAP_ID_SIZE);
	snap_sha256(h, SNAP_HEADER_SIZE, in->id);

#define BAD(...) do { \
		seterr(err, EINVAL, __VA_ARGS__); \
		return -1; \
	} while (0)
	if (get32(h + H_HDRSIZE) != SNAP_HEADER_SIZE)
		BAD("%s: header: header size %u (expected %u)", r->name,
		    get32(h + H_HDRSIZE), SNAP_HEADER_SIZE);
	if (in->flags & ~SNAP_F_INCREMENTAL)
		BAD("%s: header: unknown flags %#x", r->name, in->flags);
	if (get32(h + H_PAGESIZE) != SNAP_PAGE_SIZE)
		BAD("%s: header: page size %u (only %u)", r->name,
		    get32(h + H_PAGESIZE), SNAP_PAGE_SIZE);
	if (!in->nr_slots || in->nr_slots > SNAP_MAX_SLOTS)
		BAD("%s: header: %u memory slots (1..%u)", r->name, in->nr_slots,
		    SNAP_MAX_SLOTS);
	if (in->nr_vcpus > SNAP_MAX_VCPUS)
		BAD("%s: header: %u vCPUs (at most %u)", r->name, in->nr_vcpus,
		    SNAP_MAX_VCPUS);
	if (in->nr_devices > SNAP_MAX_DEVICES)
		BAD("%s: header: %u devices (at most %u)", r->name,
		    in->nr_devices, SNAP_MAX_DEVICES);
	if (!in->mem_size || in->mem_size > SNAP_MAX_MEM ||
	    in->mem_size % SNAP_PAGE_SIZE)
		BAD("%s: header: memory size %llu", r->name,
		    (unsigned long long)in->mem_size);
	/*
	 * Each slot is cut into chunks of SNAP_CHUNK_PAGES pages: at most one
	 * partial chunk per slot. The reader allocates per chunk, so this
	 * bound (about a million at SNAP_MAX_MEM) comes before it does.
	 */
	if (in->nr_chunks > in->mem_size / SNAP_PAGE_SIZE / SNAP_CHUNK_PAGES +
			    SNAP_MAX_SLOTS)
		BAD("%s: header: %u memory chunks for %llu bytes", r->name,
		    in->nr_chunks, (unsigned long long)in->mem_size);
	if (!!(in->flags & SNAP_F_INCREMENTAL) != !!in->depth ||
	    in->depth >= SNAP_MAX_CHAIN)
		BAD("%s: header: chain depth %u does not fit the flags %#x",
		    r->name, in->depth, in->flags);
	if (!(in->flags & SNAP_F_INCREMENTAL) && memcmp(in->parent_id, zero, SNAP_ID_SIZE))
		BAD("%s: header: a full snapshot with a parent id", r->name);
	for (unsigned int i = 116; i < H_CRC; i++)
		if (h[i])
			BAD("%s: header: reserved bytes not zero", r->name);
#undef BAD
	return 0;
}

static int parse_layout(struct snap_reader *r, uint32_t idx, const uint8_t *p,
			struct snap_err *err)
{
	struct snap_info *in = &r->info;
	uint64_t total = 0;

	in->slots = calloc(in->nr_slots, sizeof(*in->slots));
	if (!in->slots) {
		seterr(err, ENOMEM, "%s: out of memory", r->name);
		return -1;
	}
	for (uint32_t i = 0; i < in->nr_slots; i++) {
		struct snap_slot *s = &in->slots[i];
		const uint8_t *e = p + i * LAYOUT_ENTRY;

		s->slot = get32(e);
		s->flags = get32(e + 4);
		s->gpa = get64(e + 8);
		s->size = get64(e + 16);
		if (!s->size || s->size % SNAP_PAGE_SIZE || s->gpa % SNAP_PAGE_SIZE ||
		    s->gpa + s->size < s->gpa || s->size > SNAP_MAX_MEM) {
			secerr(err, r, idx, "slot %u: bad address %#llx or size %#llx",
			       s->slot, (unsigned long long)s->gpa,
			       (unsigned long long)s->size);
			return -1;
		}
		for (uint32_t k = 0; k < i; k++) {
			const struct snap_slot *o = &in->slots[k];

			if (o->slot == s->slot ||
			    (s->gpa < o->gpa + o->size && o->gpa < s->gpa + s->size)) {
				secerr(err, r, idx, "slot %u repeats or overlaps slot %u",
				       s->slot, o->slot);
				return -1;
			}
		}
		total += s->size;
	}
	if (total != in->mem_size) {
		secerr(err, r, idx, "slots hold %llu bytes, the header says %llu",
		       (unsigned long long)total, (unsigned long long)in->mem_size);
		return -1;
	}
	return 0;
}

static int parse_vcpu(struct snap_reader *r, uint32_t idx, uint32_t n,
		      const uint8_t *p, uint64_t len, struct snap_err *err)
{
	struct snap_vcpu *v = &r->info.vcpus[n];
	size_t off = 16;

	v->id = get32(p);
	v->flags = get32(p + 4);
	v->nr_msrs = get32(p + 8);
	v->nr_cpuid = get32(p + 12);
	if (v->nr_msrs > SNAP_MAX_MSRS || v->nr_cpuid > SNAP_MAX_CPUID ||
	    len != VCPU_FIXED + v->nr_msrs * sizeof(struct vmxl_msr_entry) +
		   v->nr_cpuid * sizeof(struct vmxl_cpuid_entry)) {
		secerr(err, r, idx, "%u MSRs and %u CPUID entries in %llu bytes",
		       v->nr_msrs, v->nr_cpuid, (unsigned long long)len);
		return -1;
	}
	if (v->flags & ~SNAP_VCPU_F_HALTED) {
		secerr(err, r, idx, "unknown flags %#x", v->flags);
		return -1;
	}
	for (uint32_t k = 0; k < n; k++)
		if (r->info.vcpus[k].id == v->id) {
			secerr(err, r, idx, "vCPU id %u appears twice", v->id);
			return -1;
		}
	memcpy(&v->regs, p + off, sizeof(v->regs));
	off += sizeof(v->regs);
	memcpy(&v->sregs, p + off, sizeof(v->sregs));
	off += sizeof(v->sregs);
	memcpy(&v->fpu, p + off, sizeof(v->fpu));
	off += sizeof(v->fpu);
	memcpy(v->msrs, p + off, v->nr_msrs * sizeof(v->msrs[0]));
	off += v->nr_msrs * sizeof(v->msrs[0]);
	memcpy(v->cpuid, p + off, v->nr_cpuid * sizeof(v->cpuid[0]));
	return 0;
}

static int parse_device(struct snap_reader *r, uint32_t idx, uint32_t n,
			uint8_t *p, uint64_t len, struct snap_err *err)
{
	struct snap_device *d = &r->info.devices[n];
	size_t nl = strnlen((const char *)p, SNAP_DEVICE_NAME);

	if (!nl || nl == SNAP_DEVICE_NAME) {
		secerr(err, r, idx, "device name empty or not terminated");
		return -1;
	}
	for (size_t i = 0; i < nl; i++)
		if (p[i] < 0x21 || p[i] > 0x7e) {
			secerr(err, r, idx, "device name has byte %#x", p[i]);
			return -1;
		}
	for (size_t i = nl; i < SNAP_DEVICE_NAME; i++)
		if (p[i]) {
			secerr(err, r, idx, "device name padding not zero");
			return -1;
		}
	if (get32(p + SNAP_DEVICE_NAME + 4)) {
		secerr(err, r, idx, "reserved bytes not zero");
		return -1;
	}
	memcpy(d->name, p, SNAP_DEVICE_NAME);
	d->version = get32(p + SNAP_DEVICE_NAME);
	for (uint32_t k = 0; k < n; k++)
		if (!strcmp(r->info.devices[k].name, d->name)) {
			secerr(err, r, idx, "device '%s' appears twice", d->name);
			return -1;
		}
	d->len = len - DEVICE_FIXED;
	d->data = p + DEVICE_FIXED;
	return 0;
}

static struct snap_reader *open_common(struct snap_reader *r, struct snap_err *err)
{
	struct snap_info *in = &r->info;
	uint64_t off = SNAP_HEADER_SIZE;
	uint32_t nsec, idx = 0;
	bool incr;

	if (parse_header(r, err))
		goto fail;
	incr = in->flags & SNAP_F_INCREMENTAL;
	nsec = incr + 1 + in->nr_vcpus + in->nr_devices + in->nr_chunks + 1;
	in->vcpus = calloc(in->nr_vcpus ? in->nr_vcpus : 1, sizeof(*in->vcpus));
	in->devices = calloc(in->nr_devices ? in->nr_devices : 1, sizeof(*in->devices));
	r->blobs = calloc(in->nr_devices ? in->nr_devices : 1, sizeof(void *));
	r->chunks = calloc(in->nr_chunks ? in->nr_chunks : 1, sizeof(*r->chunks));
	if (!in->vcpus || !in->devices || !r->blobs || !r->chunks) {
		seterr(err, ENOMEM, "%s: out of memory", r->name);
		goto fail;
	}
	r->first_mem = incr + 1 + in->nr_vcpus + in->nr_devices;

	for (idx = 0; idx < nsec; idx++) {
		uint8_t h[SNAP_SECHDR_SIZE];
		uint32_t type, want, pcrc;
		uint64_t len, max, min;
		uint8_t *pl = NULL;

		if (idx < incr)
			want = SNAP_SEC_PARENT;
		else if (idx == incr)
			want = SNAP_SEC_LAYOUT;
		else if (idx < incr + 1 + in->nr_vcpus)
			want = SNAP_SEC_VCPU;
		else if (idx < r->first_mem)
			want = SNAP_SEC_DEVICE;
		else if (idx < nsec - 1)
			want = SNAP_SEC_MEMORY;
		else
			want = SNAP_SEC_END;

		if (off == r->size) {
			secerr(err, r, idx, "missing: the file ends at offset %llu (truncated)",
			       (unsigned long long)off);
			goto fail;
		}
		if (rd(r, off, h, sizeof(h))) {
			secerr(err, r, idx, "truncated in its section header at offset %llu (file is %llu bytes)",
			       (unsigned long long)off, (unsigned long long)r->size);
			goto fail;
		}
		if (get32(h + 20) != crc(h, 20)) {
			secerr(err, r, idx, "section header CRC mismatch at offset %llu",
			       (unsigned long long)off);
			goto fail;
		}
		type = get32(h);
		len = get64(h + 8);
		pcrc = get32(h + 16);
		if (type != want) {
			secerr(err, r, idx, "section type %u where type %u belongs",
			       type, want);
			goto fail;
		}
		if (get32(h + 4) != idx) {
			secerr(err, r, idx, "section numbered %u", get32(h + 4));
			goto fail;
		}
		switch (type) {
		case SNAP_SEC_PARENT:
			min = 1, max = SNAP_MAX_PARENT_PATH;
			break;
		case SNAP_SEC_LAYOUT:
			min = max = in->nr_slots * LAYOUT_ENTRY;
			break;
		case SNAP_SEC_VCPU:
			min = VCPU_FIXED;
			max = VCPU_MAX;
			break;
		case SNAP_SEC_DEVICE:
			min = DEVICE_FIXED;
			max = DEVICE_FIXED + SNAP_MAX_DEVICE_BLOB;
			break;
		case SNAP_SEC_MEMORY:
			min = CHUNK_HDR;
			max = CHUNK_HDR + CHUNK_COMP_MAX;
			break;
		default:
			min = max = 8;
			break;
		}
		if (len < min || len > max) {
			secerr(err, r, idx, "length %llu out of range (%llu..%llu)",
			       (unsigned long long)len, (unsigned long long)min,
			       (unsigned long long)max);
			goto fail;
		}
		off += SNAP_SECHDR_SIZE;
		if (len > r->size - off) {
			secerr(err, r, idx, "truncated: %llu payload bytes at offset %llu, the file ends at %llu",
			       (unsigned long long)len, (unsigned long long)off,
			       (unsigned long long)r->size);
			goto fail;
		}
		if (type == SNAP_SEC_MEMORY) {
			struct chunk_ref *c = &r->chunks[idx - r->first_mem];

			c->off = off;
			c->len = len;
			c->crc = pcrc;
			c->section = idx;
			off += len;
			continue;
		}
		pl = malloc(len + 1);
		if (!pl) {
			seterr(err, ENOMEM, "%s: out of memory", r->name);
			goto fail;
		}
		if (rd(r, off, pl, len)) {
			free(pl);
			secerr(err, r, idx, "read error at offset %llu", (unsigned long long)off);
			goto fail;
		}
		if (crc(pl, len) != pcrc) {
			secerr(err, r, idx, "payload CRC mismatch (stored %08x, computed %08x)",
			       pcrc, crc(pl, len));
			free(pl);
			goto fail;
		}
		pl[len] = 0;
		off += len;
		switch (type) {
		case SNAP_SEC_PARENT:
			if (strlen((char *)pl) != len) {
				secerr(err, r, idx, "parent path contains a NUL byte");
				free(pl);
				goto fail;
			}
			in->parent = (char *)pl;
			pl = NULL;
			break;
		case SNAP_SEC_LAYOUT:
			if (parse_layout(r, idx, pl, err)) {
				free(pl);
				goto fail;
			}
			break;
		case SNAP_SEC_VCPU:
			if (parse_vcpu(r, idx, idx - incr - 1, pl, len, err)) {
				free(pl);
				goto fail;
			}
			break;
		case SNAP_SEC_DEVICE: {
			uint32_t n = idx - incr - 1 - in->nr_vcpus;

			r->blobs[n] = pl;
			if (parse_device(r, idx, n, pl, len, err))
				goto fail;
			pl = NULL;
			break;
		}
		default:
			if (memcmp(pl, END_MAGIC, 8)) {
				secerr(err, r, idx, "bad end marker");
				free(pl);
				goto fail;
			}
			break;
		}
		free(pl);
	}
	if (off != r->size) {
		seterr(err, EINVAL, "%s: section %u (end): %llu bytes follow the end section",
		       r->name, nsec - 1, (unsigned long long)(r->size - off));
		goto fail;
	}
	if (in->file_size != r->size) {
		seterr(err, EINVAL, "%s: header: file size %llu, the file has %llu bytes",
		       r->name, (unsigned long long)in->file_size,
		       (unsigned long long)r->size);
		goto fail;
	}
	return r;
fail:
	snap_close(r);
	return NULL;
}

static struct snap_reader *reader_new(const char *name, struct snap_err *err)
{
	struct snap_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->name = strdup(name);
	if (!r || !r->name) {
		free(r);
		seterr(err, ENOMEM, "%s: out of memory", name);
		return NULL;
	}
	r->fd = -1;
	return r;
}

struct snap_reader *snap_open(const char *path, struct snap_err *err)
{
	struct snap_reader *r = reader_new(path, err);
	struct stat sb;

	if (!r)
		return NULL;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &sb)) {
		seterr(err, errno, "%s: %s", path, strerror(errno));
		snap_close(r);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		seterr(err, EINVAL, "%s: not a regular file", path);
		snap_close(r);
		return NULL;
	}
	r->size = sb.st_size;
	return open_common(r, err);
}

struct snap_reader *snap_open_mem(const void *buf, size_t len, const char *name,
				  struct snap_err *err)
{
	struct snap_reader *r = reader_new(name, err);

	if (!r)
		return NULL;
	r->buf = buf;
	r->size = len;
	return open_common(r, err);
}

int snap_read_memory(struct snap_reader *r, const struct snap_slot *slots,
		     struct snap_err *err)
{
	struct snap_info *in = &r->info;
	uint8_t *pl = NULL, *raw = NULL;
	z_stream z = { 0 };
	int64_t prev_slot = -1;
	uint64_t prev_first = 0;
	bool full = !(in->flags & SNAP_F_INCREMENTAL);
	size_t rawcap = SNAP_PAGE_SIZE;
	int ret = -1;

	if (slots)
		for (uint32_t i = 0; i < in->nr_slots; i++)
			if (!slots[i].host || slots[i].size != in->slots[i].size) {
				seterr(err, EINVAL, "%s: memory slot %u: no buffer of %llu bytes to restore into",
				       r->name, in->slots[i].slot,
				       (unsigned long long)in->slots[i].size);
				return -1;
			}
	/* Buffers as large as this file's chunks need, not more. */
	{
		uint64_t maxlen = CHUNK_HDR;

		for (uint32_t c = 0; c < in->nr_chunks; c++)
			if (r->chunks[c].len > maxlen)
				maxlen = r->chunks[c].len;
		pl = malloc(maxlen);
	}
	raw = malloc(rawcap);
	if (!pl || !raw || inflateInit2(&z, -15) != Z_OK) {
		seterr(err, ENOMEM, "%s: out of memory", r->name);
		free(pl);
		free(raw);
		return -1;
	}
	/* A full snapshot leaves out zero chunks: start from zeros. */
	if (slots && full)
		for (uint32_t i = 0; i < in->nr_slots; i++)
			memset(slots[i].host, 0, slots[i].size);

	for (uint32_t c = 0; c < in->nr_chunks; c++) {
		const struct chunk_ref *cr = &r->chunks[c];
		uint32_t sl, npages, rawlen, clen, ndata = 0;
		uint64_t first, present[BITMAP_WORDS], data[BITMAP_WORDS], spages;
		int zr;

		if (rd(r, cr->off, pl, cr->len)) {
			secerr(err, r, cr->section, "read error at offset %llu",
			       (unsigned long long)cr->off);
			goto out;
		}
		if (crc(pl, cr->len) != cr->crc) {
			secerr(err, r, cr->section, "payload CRC mismatch (stored %08x, computed %08x)",
			       cr->crc, crc(pl, cr->len));
			goto out;
		}
		sl = get32(pl);
		npages = get32(pl + 4);
		first = get64(pl + 8);
		rawlen = get32(pl + 16);
		clen = get32(pl + 20);
		for (unsigned int w = 0; w < BITMAP_WORDS; w++) {
			present[w] = get64(pl + 24 + 8 * w);
			data[w] = get64(pl + 56 + 8 * w);
			ndata += __builtin_popcountll(data[w]);
		}
		if (sl >= in->nr_slots) {
			secerr(err, r, cr->section, "slot index %u (the layout has %u)",
			       sl, in->nr_slots);
			goto out;
		}
		spages = in->slots[sl].size / SNAP_PAGE_SIZE;
		if (first % SNAP_CHUNK_PAGES || first >= spages ||
		    npages != (spages - first < SNAP_CHUNK_PAGES ? spages - first :
			       SNAP_CHUNK_PAGES)) {
			secerr(err, r, cr->section, "pages %llu+%u do not fit slot %u",
			       (unsigned long long)first, npages, in->slots[sl].slot);
			goto out;
		}
		if ((int64_t)sl < prev_slot ||
		    ((int64_t)sl == prev_slot && first <= prev_first)) {
			secerr(err, r, cr->section, "out of order (slot %u page %llu)",
			       in->slots[sl].slot, (unsigned long long)first);
			goto out;
		}
		prev_slot = sl;
		prev_first = first;
		for (unsigned int w = 0; w < BITMAP_WORDS; w++) {
			uint64_t valid = npages >= 64 * (w + 1) ? ~0ULL :
					 npages <= 64 * w ? 0 :
					 (1ULL << (npages - 64 * w)) - 1;

			if ((present[w] & ~valid) || (data[w] & ~present[w])) {
				secerr(err, r, cr->section, "page bitmaps inconsistent");
				goto out;
			}
		}
		if (rawlen != ndata * SNAP_PAGE_SIZE || clen != cr->len - CHUNK_HDR ||
		    (!rawlen && clen)) {
			secerr(err, r, cr->section, "%u data pages but %u raw and %u compressed bytes in %llu",
			       ndata, rawlen, clen, (unsigned long long)cr->len);
			goto out;
		}
		if (rawlen > rawcap) {
			uint8_t *n = realloc(raw, rawlen);

			if (!n) {
				seterr(err, ENOMEM, "%s: out of memory", r->name);
				goto out;
			}
			raw = n;
			rawcap = rawlen;
		}
		if (rawlen) {
			if (inflateReset(&z) != Z_OK)
				goto zfail;
			z.next_in = pl + CHUNK_HDR;
			z.avail_in = clen;
			z.next_out = raw;
			z.avail_out = rawlen;
			zr = inflate(&z, Z_FINISH);
			if (zr != Z_STREAM_END || z.avail_out || z.avail_in) {
zfail:
				secerr(err, r, cr->section, "compressed pages do not inflate to %u bytes (%s)",
				       rawlen, z.msg ? z.msg : "wrong length");
				goto out;
			}
		}
		if (slots) {
			uint8_t *base = (uint8_t *)slots[sl].host + first * SNAP_PAGE_SIZE;
			const uint8_t *src = raw;

			for (uint32_t i = 0; i < npages; i++) {
				if (!((present[i / 64] >> (i % 64)) & 1))
					continue;
				if ((data[i / 64] >> (i % 64)) & 1) {
					memcpy(base + i * SNAP_PAGE_SIZE, src, SNAP_PAGE_SIZE);
					src += SNAP_PAGE_SIZE;
				} else if (!full) {
					memset(base + i * SNAP_PAGE_SIZE, 0, SNAP_PAGE_SIZE);
				}
			}
		}
	}
	ret = 0;
out:
	inflateEnd(&z);
	free(pl);
	free(raw);
	return ret;
}

char *snap_parent_path(const struct snap_reader *r)
{
	const char *p = r->info.parent, *slash;
	char *out;

	if (!p)
		return NULL;
	slash = strrchr(r->name, '/');
	if (p[0] == '/' || !slash)
		return strdup(p);
	if (asprintf(&out, "%.*s/%s", (int)(slash - r->name), r->name, p) < 0)
		return NULL;
	return out;
}

void snap_close_chain(struct snap_reader **chain, unsigned int n)
{
	if (!chain)
		return;
	for (unsigned int i = 0; i < n; i++)
		snap_close(chain[i]);
	free(chain);
}

int snap_open_chain(const char *path, struct snap_reader ***chainp,
		    unsigned int *np, struct snap_err *err)
{
	struct snap_reader **chain = calloc(SNAP_MAX_CHAIN, sizeof(*chain));
	unsigned int n = 0;

	if (!chain) {
		seterr(err, ENOMEM, "%s: out of memory", path);
		return -1;
	}
	chain[n] = snap_open(path, err);
	if (!chain[n])
		goto fail;
	n++;
	while (chain[n - 1]->info.flags & SNAP_F_INCREMENTAL) {
		struct snap_reader *c = chain[n - 1], *p;
		struct snap_err perr;
		char *pp = snap_parent_path(c);
		char want[65], got[65];

		if (!pp) {
			seterr(err, ENOMEM, "%s: out of memory", c->name);
			goto fail;
		}
		if (n == SNAP_MAX_CHAIN) {
			seterr(err, EINVAL, "%s: section 0 (parent): chain longer than %u",
			       c->name, SNAP_MAX_CHAIN);
			free(pp);
			goto fail;
		}
		p = snap_open(pp, &perr);
		if (!p) {
			seterr(err, perr.code, "%s: section 0 (parent): cannot use parent %s: %s",
			       c->name, pp, perr.msg);
			free(pp);
			goto fail;
		}
		chain[n++] = p;
		snap_id_hex(c->info.parent_id, want);
		snap_id_hex(p->info.id, got);
		if (memcmp(p->info.id, c->info.parent_id, SNAP_ID_SIZE)) {
			seterr(err, EINVAL, "%s: section 0 (parent): %s is not its parent (id %.16s..., expected %.16s...)",
			       c->name, pp, got, want);
			free(pp);
			goto fail;
		}
		if (p->info.depth + 1 != c->info.depth) {
			seterr(err, EINVAL, "%s: header: depth %u, its parent %s has %u",
			       c->name, c->info.depth, pp, p->info.depth);
			free(pp);
			goto fail;
		}
		if (p->info.mem_size != c->info.mem_size) {
			seterr(err, EINVAL, "%s: header: memory size %llu differs from its parent's (%s: %llu)",
			       c->name, (unsigned long long)c->info.mem_size, pp,
			       (unsigned long long)p->info.mem_size);
			free(pp);
			goto fail;
		}
		for (uint32_t i = 0; i < c->info.nr_slots; i++) {
			const struct snap_slot *a = &c->info.slots[i], *b = &p->info.slots[i];

			if (p->info.nr_slots != c->info.nr_slots || a->slot != b->slot ||
			    a->gpa != b->gpa || a->size != b->size) {
				seterr(err, EINVAL, "%s: section 1 (layout): memory slot %u differs from its parent's (%s)",
				       c->name, a->slot, pp);
				free(pp);
				goto fail;
			}
		}
		free(pp);
	}
	for (unsigned int i = 0; i < n / 2; i++) {
		struct snap_reader *t = chain[i];

		chain[i] = chain[n - 1 - i];
		chain[n - 1 - i] = t;
	}
	*chainp = chain;
	*np = n;
	return 0;
fail:
	snap_close_chain(chain, n);
	return -1;
}
