// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot reader: snap_open() and snap_open_mem() check a file's
 * header and every section but the memory chunks' payloads (those are
 * snap_read_memory()'s, in snapshot_read_memory.c), and keep what the
 * small sections hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot_reader.h"

const struct snap_info *snap_get_info(const struct snap_reader *r)
{
	return &r->info;
}

const char *snap_name(const struct snap_reader *r)
{
	return r->name;
}

/*
 * What section @idx of @r must be (its type, from the header's flags,
 * version and counts), and in *n its place among the sections of that
 * type.
 */
static uint32_t sec_kind(const struct snap_reader *r, uint32_t idx, uint32_t *n)
{
	const struct snap_info *in = &r->info;
	uint32_t i = idx;
	bool v2 = in->version >= 2;

	*n = 0;
	if (in->flags & SNAP_F_INCREMENTAL) {
		if (i == 0)
			return SNAP_SEC_PARENT;
		i--;
	}
	if (i == 0)
		return SNAP_SEC_LAYOUT;
	i--;
	if (v2) {
		if (i == 0)
			return SNAP_SEC_MACHINE;
		i--;
	}
	if (in->flags & SNAP_F_SMMU) {
		if (i == 0)
			return SNAP_SEC_SMMU;
		i--;
	}
	if (i < in->nr_vcpus) {
		*n = i;
		return SNAP_SEC_VCPU;
	}
	i -= in->nr_vcpus;
	if (v2) {
		if (i < in->nr_vcpus) {
			*n = i;
			return SNAP_SEC_VCPU_OS;
		}
		i -= in->nr_vcpus;
	}
	if (i < in->nr_devices) {
		*n = i;
		return SNAP_SEC_DEVICE;
	}
	i -= in->nr_devices;
	if (i < in->nr_chunks) {
		*n = i;
		return SNAP_SEC_MEMORY;
	}
	return SNAP_SEC_END;
}

/* What section @idx of @r is expected to be, for messages. */
static void role(const struct snap_reader *r, uint32_t idx, char *out, size_t len)
{
	uint32_t n;

	switch (sec_kind(r, idx, &n)) {
	case SNAP_SEC_PARENT:
		snprintf(out, len, "parent");
		break;
	case SNAP_SEC_LAYOUT:
		snprintf(out, len, "layout");
		break;
	case SNAP_SEC_MACHINE:
		snprintf(out, len, "machine");
		break;
	case SNAP_SEC_SMMU:
		snprintf(out, len, "smmu");
		break;
	case SNAP_SEC_VCPU:
		snprintf(out, len, "vcpu %u", n);
		break;
	case SNAP_SEC_VCPU_OS:
		snprintf(out, len, "vcpu-os %u", n);
		break;
	case SNAP_SEC_DEVICE:
		if (r->info.devices && r->info.devices[n].name[0])
			snprintf(out, len, "device %u '%s'", n, r->info.devices[n].name);
		else
			snprintf(out, len, "device %u", n);
		break;
	case SNAP_SEC_MEMORY:
		snprintf(out, len, "memory chunk %u", n);
		break;
	default:
		snprintf(out, len, "end");
		break;
	}
}

void snap_secerr(struct snap_err *err, const struct snap_reader *r,
		      uint32_t idx, const char *fmt, ...)
{
	char what[400], rl[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	role(r, idx, rl, sizeof(rl));
	snap_seterr(err, EINVAL, "%s: section %u (%s): %s", r->name, idx, rl, what);
}

int snap_rd(struct snap_reader *r, uint64_t off, void *dst, uint64_t len)
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

	if (r->size < SNAP_HEADER_SIZE || snap_rd(r, 0, r->hdr, SNAP_HEADER_SIZE)) {
		snap_seterr(err, EINVAL, "%s: header: truncated (file is %llu bytes, the header alone is %u)",
			    r->name, (unsigned long long)r->size, SNAP_HEADER_SIZE);
		return -1;
	}
	if (memcmp(h + H_MAGIC, SNAP_MAGIC, 8)) {
		snap_seterr(err, EINVAL, "%s: header: bad magic, not a vmx-lite snapshot",
			    r->name);
		return -1;
	}
	v = get32(h + H_VERSION);
	if (v > SNAP_VERSION) {
		snap_seterr(err, EINVAL, "%s: header: format version %u is newer than this program reads (%u)",
			    r->name, v, SNAP_VERSION);
		return -1;
	}
	if (v < SNAP_VERSION_MIN) {
		snap_seterr(err, EINVAL, "%s: header: format version %u is not valid (this program reads %u to %u)",
			    r->name, v, SNAP_VERSION_MIN, SNAP_VERSION);
		return -1;
	}
	if (get32(h + H_CRC) != snap_crc(h, H_CRC)) {
		snap_seterr(err, EINVAL, "%s: header: CRC mismatch (stored %08x, computed %08x)",
			    r->name, get32(h + H_CRC), snap_crc(h, H_CRC));
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
		snap_seterr(err, EINVAL, __VA_ARGS__); \
		return -1; \
	} while (0)
	if (get32(h + H_HDRSIZE) != SNAP_HEADER_SIZE)
		BAD("%s: header: header size %u (expected %u)", r->name,
		    get32(h + H_HDRSIZE), SNAP_HEADER_SIZE);
	if (in->flags & ~(SNAP_F_INCREMENTAL | (v >= 3 ? SNAP_F_SMMU : 0)))
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
		snap_seterr(err, ENOMEM, "%s: out of memory", r->name);
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
			snap_secerr(err, r, idx, "slot %u: bad address %#llx or size %#llx",
				    s->slot, (unsigned long long)s->gpa,
				    (unsigned long long)s->size);
			return -1;
		}
		for (uint32_t k = 0; k < i; k++) {
			const struct snap_slot *o = &in->slots[k];

			if (o->slot == s->slot ||
			    (s->gpa < o->gpa + o->size && o->gpa < s->gpa + s->size)) {
				snap_secerr(err, r, idx, "slot %u repeats or overlaps slot %u",
					    s->slot, o->slot);
				return -1;
			}
		}
		total += s->size;
	}
	if (total != in->mem_size) {
		snap_secerr(err, r, idx, "slots hold %llu bytes, the header says %llu",
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
		snap_secerr(err, r, idx, "%u MSRs and %u CPUID entries in %llu bytes",
			    v->nr_msrs, v->nr_cpuid, (unsigned long long)len);
		return -1;
	}
	if (v->flags & ~SNAP_VCPU_F_HALTED) {
		snap_secerr(err, r, idx, "unknown flags %#x", v->flags);
		return -1;
	}
	for (uint32_t k = 0; k < n; k++)
		if (r->info.vcpus[k].id == v->id) {
			snap_secerr(err, r, idx, "vCPU id %u appears twice", v->id);
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

static int parse_machine(struct snap_reader *r, uint32_t idx, const uint8_t *p,
			 struct snap_err *err)
{
	struct snap_machine *m = &r->info.machine;

	m->vm_flags = get32(p);
	m->platform = get32(p + 4);
	m->flags = get32(p + 8);
	memcpy(&m->clock, p + 16, sizeof(m->clock));
	if (m->flags & ~SNAP_MACHINE_F_CLOCK) {
		snap_secerr(err, r, idx, "unknown flags %#x", m->flags);
		return -1;
	}
	if (get32(p + 12) || m->clock.flags || m->clock.reserved0 ||
	    !snap_all_zero(m->clock.reserved, sizeof(m->clock.reserved))) {
		snap_secerr(err, r, idx, "reserved bytes not zero");
		return -1;
	}
	if (!(m->flags & SNAP_MACHINE_F_CLOCK) && m->clock.tsc) {
		snap_secerr(err, r, idx, "a clock without the clock flag");
		return -1;
	}
	return 0;
}

/*
 * The SMMU's registers go to VMXL_SET_SMMU_STATE, which checks each bit
 * as the register would; here only what the format itself fixes.
 */
static int parse_smmu(struct snap_reader *r, uint32_t idx, const uint8_t *p,
		      struct snap_err *err)
{
	struct snap_smmu *s = &r->info.machine.smmu;

	if (get32(p)) {
		snap_secerr(err, r, idx, "unknown flags %#x", get32(p));
		return -1;
	}
	memcpy(&s->config, p + 8, sizeof(s->config));
	memcpy(&s->state, p + 8 + sizeof(s->config), sizeof(s->state));
	if (get32(p + 4) || s->config.flags ||
	    !snap_all_zero(s->config.reserved, sizeof(s->config.reserved)) ||
	    s->state.flags || s->state.pad ||
	    !snap_all_zero(s->state.reserved, sizeof(s->state.reserved))) {
		snap_secerr(err, r, idx, "reserved bytes not zero");
		return -1;
	}
	if (s->state.sid_bits != s->config.sid_bits ||
	    s->state.ssid_bits != s->config.ssid_bits) {
		snap_secerr(err, r, idx, "registers of an SMMU with %u/%u StreamID/SubstreamID bits, created with %u/%u",
			    s->state.sid_bits, s->state.ssid_bits,
			    s->config.sid_bits, s->config.ssid_bits);
		return -1;
	}
	r->info.machine.has_smmu = true;
	return 0;
}

static int parse_vcpu_os(struct snap_reader *r, uint32_t idx, uint32_t n,
			 const uint8_t *p, struct snap_err *err)
{
	struct snap_vcpu *v = &r->info.vcpus[n];
	size_t off = 8;

	if (get32(p) != v->id) {
		snap_secerr(err, r, idx, "vCPU id %u, but vcpu section %u holds vCPU %u",
			    get32(p), n, v->id);
		return -1;
	}
	v->os_flags = get32(p + 4);
	if (v->os_flags & ~SNAP_VCPU_OS_LAPIC) {
		snap_secerr(err, r, idx, "unknown flags %#x", v->os_flags);
		return -1;
	}
	memcpy(&v->events, p + off, sizeof(v->events));
	off += sizeof(v->events);
	memcpy(&v->debugregs, p + off, sizeof(v->debugregs));
	off += sizeof(v->debugregs);
	memcpy(&v->mp, p + off, sizeof(v->mp));
	off += sizeof(v->mp);
	memcpy(&v->lapic, p + off, sizeof(v->lapic));
	if (!(v->os_flags & SNAP_VCPU_OS_LAPIC) &&
	    !snap_all_zero(p + off - sizeof(v->mp), sizeof(v->mp) + sizeof(v->lapic))) {
		snap_secerr(err, r, idx, "local APIC or MP state without the LAPIC flag");
		return -1;
	}
	return 0;
}

static int parse_device(struct snap_reader *r, uint32_t idx, uint32_t n,
			uint8_t *p, uint64_t len, struct snap_err *err)
{
	struct snap_device *d = &r->info.devices[n];
	size_t nl = strnlen((const char *)p, SNAP_DEVICE_NAME);

	if (!nl || nl == SNAP_DEVICE_NAME) {
		snap_secerr(err, r, idx, "device name empty or not terminated");
		return -1;
	}
	for (size_t i = 0; i < nl; i++)
		if (p[i] < 0x21 || p[i] > 0x7e) {
			snap_secerr(err, r, idx, "device name has byte %#x", p[i]);
			return -1;
		}
	for (size_t i = nl; i < SNAP_DEVICE_NAME; i++)
		if (p[i]) {
			snap_secerr(err, r, idx, "device name padding not zero");
			return -1;
		}
	if (get32(p + SNAP_DEVICE_NAME + 4)) {
		snap_secerr(err, r, idx, "reserved bytes not zero");
		return -1;
	}
	memcpy(d->name, p, SNAP_DEVICE_NAME);
	d->version = get32(p + SNAP_DEVICE_NAME);
	for (uint32_t k = 0; k < n; k++)
		if (!strcmp(r->info.devices[k].name, d->name)) {
			snap_secerr(err, r, idx, "device '%s' appears twice", d->name);
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
	bool incr, v2;

	if (parse_header(r, err))
		goto fail;
	incr = in->flags & SNAP_F_INCREMENTAL;
	v2 = in->version >= 2;
	nsec = incr + 1 + v2 + !!(in->flags & SNAP_F_SMMU) +
	       in->nr_vcpus * (1 + v2) + in->nr_devices + in->nr_chunks + 1;
	in->vcpus = calloc(in->nr_vcpus ? in->nr_vcpus : 1, sizeof(*in->vcpus));
	in->devices = calloc(in->nr_devices ? in->nr_devices : 1, sizeof(*in->devices));
	r->blobs = calloc(in->nr_devices ? in->nr_devices : 1, sizeof(void *));
	r->chunks = calloc(in->nr_chunks ? in->nr_chunks : 1, sizeof(*r->chunks));
	if (!in->vcpus || !in->devices || !r->blobs || !r->chunks) {
		snap_seterr(err, ENOMEM, "%s: out of memory", r->name);
		goto fail;
	}
	r->first_mem = nsec - 1 - in->nr_chunks;

	for (idx = 0; idx < nsec; idx++) {
		uint8_t h[SNAP_SECHDR_SIZE];
		uint32_t type, want, pcrc, nth;
		uint64_t len, max, min;
		uint8_t *pl = NULL;

		want = sec_kind(r, idx, &nth);

		if (off == r->size) {
			snap_secerr(err, r, idx, "missing: the file ends at offset %llu (truncated)",
				    (unsigned long long)off);
			goto fail;
		}
		if (snap_rd(r, off, h, sizeof(h))) {
			snap_secerr(err, r, idx, "truncated in its section header at offset %llu (file is %llu bytes)",
				    (unsigned long long)off, (unsigned long long)r->size);
			goto fail;
		}
		if (get32(h + 20) != snap_crc(h, 20)) {
			snap_secerr(err, r, idx, "section header CRC mismatch at offset %llu",
				    (unsigned long long)off);
			goto fail;
		}
		type = get32(h);
		len = get64(h + 8);
		pcrc = get32(h + 16);
		if (type != want) {
			snap_secerr(err, r, idx, "section type %u where type %u belongs",
				    type, want);
			goto fail;
		}
		if (get32(h + 4) != idx) {
			snap_secerr(err, r, idx, "section numbered %u", get32(h + 4));
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
		case SNAP_SEC_MACHINE:
			min = max = MACHINE_LEN;
			break;
		case SNAP_SEC_VCPU_OS:
			min = max = VCPU_OS_LEN;
			break;
		case SNAP_SEC_SMMU:
			min = max = SMMU_LEN;
			break;
		default:
			min = max = 8;
			break;
		}
		if (len < min || len > max) {
			snap_secerr(err, r, idx, "length %llu out of range (%llu..%llu)",
				    (unsigned long long)len, (unsigned long long)min,
				    (unsigned long long)max);
			goto fail;
		}
		off += SNAP_SECHDR_SIZE;
		if (len > r->size - off) {
			snap_secerr(err, r, idx, "truncated: %llu payload bytes at offset %llu, the file ends at %llu",
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
			snap_seterr(err, ENOMEM, "%s: out of memory", r->name);
			goto fail;
		}
		if (snap_rd(r, off, pl, len)) {
			free(pl);
			snap_secerr(err, r, idx, "read error at offset %llu", (unsigned long long)off);
			goto fail;
		}
		if (snap_crc(pl, len) != pcrc) {
			snap_secerr(err, r, idx, "payload CRC mismatch (stored %08x, computed %08x)",
				    pcrc, snap_crc(pl, len));
			free(pl);
			goto fail;
		}
		pl[len] = 0;
		off += len;
		switch (type) {
		case SNAP_SEC_PARENT:
			if (strlen((char *)pl) != len) {
				snap_secerr(err, r, idx, "parent path contains a NUL byte");
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
		case SNAP_SEC_MACHINE:
			if (parse_machine(r, idx, pl, err)) {
				free(pl);
				goto fail;
			}
			break;
		case SNAP_SEC_SMMU:
			if (parse_smmu(r, idx, pl, err)) {
				free(pl);
				goto fail;
			}
			break;
		case SNAP_SEC_VCPU:
			if (parse_vcpu(r, idx, nth, pl, len, err)) {
				free(pl);
				goto fail;
			}
			break;
		case SNAP_SEC_VCPU_OS:
			if (parse_vcpu_os(r, idx, nth, pl, err)) {
				free(pl);
				goto fail;
			}
			break;
		case SNAP_SEC_DEVICE:
			r->blobs[nth] = pl;
			if (parse_device(r, idx, nth, pl, len, err))
				goto fail;
			pl = NULL;
			break;
		default:
			if (memcmp(pl, END_MAGIC, 8)) {
				snap_secerr(err, r, idx, "bad end marker");
				free(pl);
				goto fail;
			}
			break;
		}
		free(pl);
	}
	if (off != r->size) {
		snap_seterr(err, EINVAL, "%s: section %u (end): %llu bytes follow the end section",
			    r->name, nsec - 1, (unsigned long long)(r->size - off));
		goto fail;
	}
	if (in->file_size != r->size) {
		snap_seterr(err, EINVAL, "%s: header: file size %llu, the file has %llu bytes",
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
		snap_seterr(err, ENOMEM, "%s: out of memory", name);
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
		snap_seterr(err, errno, "%s: %s", path, strerror(errno));
		snap_close(r);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		snap_seterr(err, EINVAL, "%s: not a regular file", path);
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
