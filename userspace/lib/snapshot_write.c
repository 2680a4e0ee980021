// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot writer: snap_write() (snapshot.h). It writes PATH.tmp.PID
 * section by section behind a header of zeros, has the memory chunks
 * compressed on worker threads (snapshot_compress.c), fills in the
 * header once sizes and counts are known, then syncs and renames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "snapshot_compress.h"

struct out {
	int fd;
	const char *tmp;
	uint64_t off;
	uint32_t nsec;		/* next section index */
	struct snap_err *err;
};

/* One snap_write() call. */
struct writer {
	const struct snap_write_params *p;
	struct snap_write_stats *st;
	struct snap_err *err;
	uint64_t mem;			/* bytes in all slots */
	struct snap_reader *par;	/* incremental: the parent */
	const struct snap_info *pi;	/* and what it holds */
	char *pref;			/* the parent as the file names it */
	char *tmp;			/* the file until it is complete */
	struct out o;
	uint32_t nchunks;		/* memory sections written */
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

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
			snap_seterr(o->err, errno, "%s: write at offset %llu: %s",
				    o->tmp, (unsigned long long)o->off, strerror(errno));
			return -1;
		}
		if (w == 0) {
			snap_seterr(o->err, EIO, "%s: write returned 0", o->tmp);
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

/* A section of @a and @b (@blen may be 0) behind its section header. */
static int out_section(struct out *o, uint32_t type, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	uint8_t h[SNAP_SECHDR_SIZE];
	uint32_t c = snap_crc(a, alen);
	struct iovec iov[3] = {
		{ h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen },
	};

	if (blen)	/* crc32() with a NULL buffer restarts at 0 */
		c = crc32(c, b, blen);
	snap_sechdr_fill(h, type, o->nsec++, alen + blen, c);
	return out_write(o, iov, blen ? 3 : 2);
}

static int out_layout(struct out *o, const struct snap_write_params *p)
{
	uint8_t lay[SNAP_MAX_SLOTS * LAYOUT_ENTRY];

	for (uint32_t i = 0; i < p->nr_slots; i++) {
		uint8_t *e = lay + i * LAYOUT_ENTRY;

		put32(e, p->slots[i].slot);
		put32(e + 4, p->slots[i].flags);
		put64(e + 8, p->slots[i].gpa);
		put64(e + 16, p->slots[i].size);
	}
	return out_section(o, SNAP_SEC_LAYOUT, lay, p->nr_slots * LAYOUT_ENTRY,
			   NULL, 0);
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

static int out_machine(struct out *o, const struct snap_machine *m)
{
	uint8_t buf[MACHINE_LEN] = { 0 };

	if (m) {
		put32(buf, m->vm_flags);
		put32(buf + 4, m->platform);
		put32(buf + 8, m->flags);
		memcpy(buf + 16, &m->clock, sizeof(m->clock));
	}
	return out_section(o, SNAP_SEC_MACHINE, buf, sizeof(buf), NULL, 0);
}

static int out_smmu(struct out *o, const struct snap_smmu *s)
{
	uint8_t buf[SMMU_LEN] = { 0 };

	/* flags and reserved zero; the structs as the uapi lays them out */
	memcpy(buf + 8, &s->config, sizeof(s->config));
	memcpy(buf + 8 + sizeof(s->config), &s->state, sizeof(s->state));
	return out_section(o, SNAP_SEC_SMMU, buf, sizeof(buf), NULL, 0);
}

/* The fields the reader refuses unless zero. */
static bool smmu_reserved_clear(const struct snap_smmu *s)
{
	return !s->config.flags &&
	       snap_all_zero(s->config.reserved, sizeof(s->config.reserved)) &&
	       !s->state.flags && !s->state.pad &&
	       snap_all_zero(s->state.reserved, sizeof(s->state.reserved)) &&
	       s->state.sid_bits == s->config.sid_bits &&
	       s->state.ssid_bits == s->config.ssid_bits;
}

static int out_vcpu_os(struct out *o, const struct snap_vcpu *v)
{
	uint8_t buf[VCPU_OS_LEN];
	size_t off = 8;

	put32(buf, v->id);
	put32(buf + 4, v->os_flags);
	memcpy(buf + off, &v->events, sizeof(v->events));
	off += sizeof(v->events);
	memcpy(buf + off, &v->debugregs, sizeof(v->debugregs));
	off += sizeof(v->debugregs);
	memcpy(buf + off, &v->mp, sizeof(v->mp));
	off += sizeof(v->mp);
	memcpy(buf + off, &v->lapic, sizeof(v->lapic));
	return out_section(o, SNAP_SEC_VCPU_OS, buf, sizeof(buf), NULL, 0);
}

static int out_device(struct out *o, const struct snap_device *d)
{
	uint8_t dh[DEVICE_FIXED] = { 0 };

	memcpy(dh, d->name, strnlen(d->name, SNAP_DEVICE_NAME - 1));
	put32(dh + SNAP_DEVICE_NAME, d->version);
	return out_section(o, SNAP_SEC_DEVICE, dh, sizeof(dh), d->data, d->len);
}

static int check_params(const struct snap_write_params *p, struct snap_err *err)
{
	if (!p->path || !*p->path) {
		snap_seterr(err, EINVAL, "snapshot: no file name");
		return -1;
	}
	if (!p->nr_slots || p->nr_slots > SNAP_MAX_SLOTS) {
		snap_seterr(err, EINVAL, "%s: %u memory slots (1..%u)", p->path,
			    p->nr_slots, SNAP_MAX_SLOTS);
		return -1;
	}
	if (p->level < 0 || p->level > Z_BEST_COMPRESSION) {
		snap_seterr(err, EINVAL, "%s: zlib level %d (0 for the default, or 1..9)",
			    p->path, p->level);
		return -1;
	}
	if (p->nr_vcpus > SNAP_MAX_VCPUS || p->nr_devices > SNAP_MAX_DEVICES) {
		snap_seterr(err, EINVAL, "%s: %u vCPUs, %u devices (at most %u, %u)",
			    p->path, p->nr_vcpus, p->nr_devices, SNAP_MAX_VCPUS,
			    SNAP_MAX_DEVICES);
		return -1;
	}
	for (uint32_t i = 0; i < p->nr_slots; i++) {
		const struct snap_slot *s = &p->slots[i];

		if (!s->host || !s->size || s->size % SNAP_PAGE_SIZE ||
		    s->gpa % SNAP_PAGE_SIZE || s->gpa + s->size < s->gpa) {
			snap_seterr(err, EINVAL, "%s: memory slot %u: bad address, size or host pointer",
				    p->path, s->slot);
			return -1;
		}
		if (s->packed && !s->pages) {
			snap_seterr(err, EINVAL, "%s: memory slot %u: packed without a page bitmap",
				    p->path, s->slot);
			return -1;
		}
	}
	if (p->machine && ((p->machine->flags & ~SNAP_MACHINE_F_CLOCK) ||
			   (!(p->machine->flags & SNAP_MACHINE_F_CLOCK) &&
			    p->machine->clock.tsc) ||
			   p->machine->clock.flags || p->machine->clock.reserved0 ||
			   p->machine->clock.reserved[0] ||
			   p->machine->clock.reserved[1])) {
		snap_seterr(err, EINVAL, "%s: machine: unknown flags or reserved clock fields set",
			    p->path);
		return -1;
	}
	if (p->machine && p->machine->has_smmu &&
	    !smmu_reserved_clear(&p->machine->smmu)) {
		snap_seterr(err, EINVAL, "%s: smmu: flags or reserved fields set, or the state's sid_bits/ssid_bits differ from the config's",
			    p->path);
		return -1;
	}
	for (uint32_t i = 0; i < p->nr_vcpus; i++)
		if (p->vcpus[i].os_flags & ~SNAP_VCPU_OS_LAPIC) {
			snap_seterr(err, EINVAL, "%s: vCPU %u: unknown OS-state flags %#x",
				    p->path, p->vcpus[i].id, p->vcpus[i].os_flags);
			return -1;
		}
	for (uint32_t i = 0; i < p->nr_vcpus; i++)
		if (p->vcpus[i].nr_msrs > SNAP_MAX_MSRS ||
		    p->vcpus[i].nr_cpuid > SNAP_MAX_CPUID) {
			snap_seterr(err, EINVAL, "%s: vCPU %u: %u MSRs, %u CPUID entries (at most %u, %u)",
				    p->path, p->vcpus[i].id, p->vcpus[i].nr_msrs,
				    p->vcpus[i].nr_cpuid, SNAP_MAX_MSRS, SNAP_MAX_CPUID);
			return -1;
		}
	for (uint32_t i = 0; i < p->nr_devices; i++) {
		const struct snap_device *d = &p->devices[i];
		size_t n = strnlen(d->name, SNAP_DEVICE_NAME);

		if (!n || n == SNAP_DEVICE_NAME || d->len > SNAP_MAX_DEVICE_BLOB ||
		    (d->len && !d->data)) {
			snap_seterr(err, EINVAL, "%s: device %u: bad name or state blob",
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
		snap_seterr(err, errno, "%s: parent %s: %s", child, parent,
			    strerror(errno));
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

/* Incremental: open the parent, check that its layout is this one. */
static int open_parent(struct writer *w)
{
	const struct snap_write_params *p = w->p;
	const struct snap_info *pi;

	w->par = snap_open(p->parent, w->err);
	if (!w->par)
		return -1;
	pi = w->pi = snap_get_info(w->par);
	if (pi->nr_slots != p->nr_slots || pi->mem_size != w->mem) {
		snap_seterr(w->err, EINVAL, "%s: memory layout differs from the parent's (%s: %u slots, %llu bytes; now %u slots, %llu bytes)",
			    p->path, p->parent, pi->nr_slots,
			    (unsigned long long)pi->mem_size, p->nr_slots,
			    (unsigned long long)w->mem);
		return -1;
	}
	for (uint32_t i = 0; i < p->nr_slots; i++)
		if (pi->slots[i].slot != p->slots[i].slot ||
		    pi->slots[i].gpa != p->slots[i].gpa ||
		    pi->slots[i].size != p->slots[i].size) {
			snap_seterr(w->err, EINVAL, "%s: memory slot %u differs from the parent's (%s)",
				    p->path, p->slots[i].slot, p->parent);
			return -1;
		}
	if (pi->depth + 1 >= SNAP_MAX_CHAIN) {
		snap_seterr(w->err, EINVAL, "%s: parent %s is already %u deep (at most %u)",
			    p->path, p->parent, pi->depth, SNAP_MAX_CHAIN - 1);
		return -1;
	}
	w->pref = parent_ref(p->path, p->parent, w->err);
	return w->pref ? 0 : -1;
}

static int create_tmp(struct writer *w)
{
	const char *path = w->p->path;

	if (asprintf(&w->tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		w->tmp = NULL;
		snap_seterr(w->err, ENOMEM, "%s: out of memory", path);
		return -1;
	}
	w->o.tmp = w->tmp;
	unlink(w->tmp);
	w->o.fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->o.fd < 0) {
		snap_seterr(w->err, errno, "%s: cannot create: %s", w->tmp,
			    strerror(errno));
		return -1;
	}
	return 0;
}

/* Room for the header, then every section before the memory. */
static int write_state(struct writer *w)
{
	static const uint8_t zeros[SNAP_HEADER_SIZE];
	const struct snap_write_params *p = w->p;
	struct out *o = &w->o;
	struct iovec iov = { (void *)zeros, sizeof(zeros) };

	if (out_write(o, &iov, 1))
		return -1;
	if (w->pref && out_section(o, SNAP_SEC_PARENT, w->pref, strlen(w->pref),
				   NULL, 0))
		return -1;
	if (out_layout(o, p))
		return -1;
	if (out_machine(o, p->machine))
		return -1;
	if (p->machine && p->machine->has_smmu &&
	    out_smmu(o, &p->machine->smmu))
		return -1;
	for (uint32_t i = 0; i < p->nr_vcpus; i++)
		if (out_vcpu(o, &p->vcpus[i]))
			return -1;
	for (uint32_t i = 0; i < p->nr_vcpus; i++)
		if (out_vcpu_os(o, &p->vcpus[i]))
			return -1;
	for (uint32_t i = 0; i < p->nr_devices; i++)
		if (out_device(o, &p->devices[i]))
			return -1;
	return 0;
}

/* Memory: the compressor's workers compress, this thread writes in order. */
static int write_memory(struct writer *w, struct compressor *c)
{
	struct snap_write_stats *st = w->st;

	if (compressor_start(c, w->err))
		return -1;
	for (size_t j = 0; j < c->njobs; j++) {
		const struct chunk_buf *b = compressor_wait(c, j, w->err);

		if (!b)
			return -1;
		st->pages_selected += b->selected;
		st->pages_zero += b->zero;
		st->pages_data += b->pages;
		if (!b->skip) {
			uint8_t h[SNAP_SECHDR_SIZE];
			struct iovec iov[2] = {
				{ h, sizeof(h) }, { b->data, b->len },
			};

			snap_sechdr_fill(h, SNAP_SEC_MEMORY, w->o.nsec++, b->len,
					 b->crc);
			if (out_write(&w->o, iov, 2))
				return -1;
			w->nchunks++;
		}
		compressor_release(c, j);
	}
	return 0;
}

/* The header, now that sizes and counts are known; the file's id. */
static int write_header(struct writer *w)
{
	const struct snap_write_params *p = w->p;
	uint8_t hdr[SNAP_HEADER_SIZE] = { 0 };
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
	put32(hdr + H_FLAGS, (w->par ? SNAP_F_INCREMENTAL : 0) |
			     (p->machine && p->machine->has_smmu ? SNAP_F_SMMU : 0));
	put32(hdr + H_PAGESIZE, SNAP_PAGE_SIZE);
	put64(hdr + H_MEMSIZE, w->mem);
	put32(hdr + H_NSLOTS, p->nr_slots);
	put32(hdr + H_NVCPUS, p->nr_vcpus);
	put32(hdr + H_NDEVS, p->nr_devices);
	put32(hdr + H_NCHUNKS, w->nchunks);
	put64(hdr + H_FILESIZE, w->o.off);
	put64(hdr + H_CREATED, t);
	memcpy(hdr + H_NONCE, nonce, 16);
	if (w->par)
		memcpy(hdr + H_PARENT, w->pi->id, SNAP_ID_SIZE);
	put32(hdr + H_DEPTH, w->par ? w->pi->depth + 1 : 0);
	put32(hdr + H_CRC, snap_crc(hdr, H_CRC));
	if (pwrite(w->o.fd, hdr, sizeof(hdr), 0) != sizeof(hdr)) {
		snap_seterr(w->err, errno ? errno : EIO, "%s: writing the header: %s",
			    w->tmp, strerror(errno ? errno : EIO));
		return -1;
	}
	snap_sha256(hdr, sizeof(hdr), w->st->id);
	return 0;
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

/* The complete file durable under its name. */
static int commit_file(struct writer *w)
{
	const struct snap_write_params *p = w->p;
	int fd = w->o.fd;

	if (!p->no_fsync && fsync(fd)) {
		snap_seterr(w->err, errno, "%s: fsync: %s", w->tmp, strerror(errno));
		return -1;
	}
	w->o.fd = -1;
	if (close(fd)) {
		snap_seterr(w->err, errno, "%s: close: %s", w->tmp, strerror(errno));
		return -1;
	}
	if (rename(w->tmp, p->path)) {
		snap_seterr(w->err, errno, "%s: rename to %s: %s", w->tmp, p->path,
			    strerror(errno));
		return -1;
	}
	if (!p->no_fsync && fsync_dir(p->path)) {
		/* renamed but maybe not durable: still a failure */
		snap_seterr(w->err, errno, "%s: fsync of its directory: %s", p->path,
			    strerror(errno));
		return -1;
	}
	return 0;
}

int snap_write(const struct snap_write_params *p, struct snap_write_stats *st,
	       struct snap_err *err)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	struct snap_write_stats dummy;
	struct writer w = { .p = p, .err = err, .o = { .fd = -1, .err = err } };
	struct compressor c = { 0 };
	int ret = -1;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	w.st = st;
	if (check_params(p, err))
		return -1;
	for (uint32_t i = 0; i < p->nr_slots; i++) {
		w.mem += p->slots[i].size;
		w.st->pages_total += p->slots[i].size / SNAP_PAGE_SIZE;
	}
	if (p->parent && open_parent(&w))
		goto out;
	if (compressor_plan(&c, p, err) || create_tmp(&w) || write_state(&w) ||
	    write_memory(&w, &c) ||
	    out_section(&w.o, SNAP_SEC_END, END_MAGIC, 8, NULL, 0) ||
	    write_header(&w) || commit_file(&w))
		goto out;
	w.st->chunks = w.nchunks;
	w.st->bytes = w.o.off;
	ret = 0;
out:
	compressor_fini(&c);
	if (w.o.fd >= 0)
		close(w.o.fd);
	if (ret && w.tmp)
		unlink(w.tmp);
	free(w.tmp);
	free(w.pref);
	snap_close(w.par);
	w.st->ns = now_ns(CLOCK_MONOTONIC) - t0;
	return ret;
}
