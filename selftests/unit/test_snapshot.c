// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of userspace/lib/snapshot*.c, the snapshot file format
 * (docs/snapshot-format.md), compiled from the same source as vmxctl:
 * round trips of memory (byte for byte), vCPU state (field by field) and
 * device blobs; chains of three incrementals; every byte of a file
 * flipped and the file cut at every offset, each refused with the section
 * that holds the byte named; a wrong, missing or resized parent; a newer
 * format version; a write that fails half-way (the old file survives);
 * snap_capture(): a copy written after the guest changed every page gives
 * the file the memory gave when copied, full and incremental (packed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <zlib.h>

#include "kselftest_harness.h"
#include "snapshot.h"

#define PG SNAP_PAGE_SIZE

/* ------------------------------------------------------------------ */
/* A fake VM: slots of host memory, vCPUs and devices                  */
/* ------------------------------------------------------------------ */

struct vm {
	unsigned int nslots;
	struct snap_slot slots[3];
	uint64_t *dirty[3];
	struct snap_machine machine;
	struct snap_vcpu vcpus[2];
	struct snap_device devs[3];
	uint8_t uart[64], virtio[300];
	uint64_t rng;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Fill a page: kind 0 zero, 1 text-like, 2 random, 3 one byte set. */
static void fill_page(uint8_t *p, int kind, uint64_t *s)
{
	static const char *words[] = { "vmx ", "lite ", "guest ", "page ",
				       "count ", "dirty ", "log " };

	switch (kind) {
	case 0:
		memset(p, 0, PG);
		break;
	case 1:
		for (unsigned int i = 0; i < PG;) {
			const char *w = words[rnd(s) % 7];

			for (; *w && i < PG; w++)
				p[i++] = *w;
		}
		break;
	case 2:
		for (unsigned int i = 0; i < PG; i += 8) {
			uint64_t v = rnd(s);

			memcpy(p + i, &v, 8);
		}
		break;
	default:
		memset(p, 0, PG);
		p[rnd(s) % PG] = 1 + rnd(s) % 255;
		break;
	}
}

/* Page kinds: mostly zero and text, a few random, a few almost-zero. */
static int pick_kind(uint64_t *s)
{
	unsigned int r = rnd(s) % 100;

	return r < 50 ? 0 : r < 85 ? 1 : r < 93 ? 2 : 3;
}

static void vm_init(struct vm *vm, uint64_t seed, const uint64_t *sizes,
		    unsigned int nslots)
{
	memset(vm, 0, sizeof(*vm));
	vm->rng = seed;
	vm->nslots = nslots;
	for (unsigned int i = 0; i < nslots; i++) {
		struct snap_slot *s = &vm->slots[i];

		s->slot = i * 2;
		s->flags = VMXL_MEM_LOG_DIRTY;
		s->gpa = i ? 0x100000000ULL * i : 0;
		s->size = sizes[i];
		s->host = aligned_alloc(PG, s->size);
		vm->dirty[i] = calloc(s->size / PG / 64 + 1, 8);
		for (uint64_t pg = 0; pg < s->size / PG; pg++)
			fill_page((uint8_t *)s->host + pg * PG, pick_kind(&vm->rng),
				  &vm->rng);
	}
	for (unsigned int i = 0; i < 2; i++) {
		struct snap_vcpu *v = &vm->vcpus[i];
		uint64_t *r = (uint64_t *)&v->regs;
		uint8_t *b = (uint8_t *)&v->sregs;

		v->id = i;
		v->flags = i ? SNAP_VCPU_F_HALTED : 0;
		for (unsigned int k = 0; k < sizeof(v->regs) / 8; k++)
			r[k] = rnd(&vm->rng);
		for (unsigned int k = 0; k < sizeof(v->sregs); k++)
			b[k] = rnd(&vm->rng);
		for (unsigned int k = 0; k < sizeof(v->fpu.fxsave); k++)
			v->fpu.fxsave[k] = rnd(&vm->rng);
		v->nr_cpuid = i ? 0 : 5;
		for (unsigned int k = 0; k < v->nr_cpuid; k++) {
			v->cpuid[k].function = k;
			v->cpuid[k].eax = rnd(&vm->rng);
			v->cpuid[k].edx = rnd(&vm->rng);
		}
		/* vCPU 0 with a local APIC, vCPU 1 without (zero fields) */
		v->os_flags = i ? 0 : SNAP_VCPU_OS_LAPIC;
		v->events.interrupt.injected = 1;
		v->events.interrupt.nr = 0x20 + i;
		v->events.nmi.masked = i;
		v->events.shadow = VMXL_SHADOW_STI;
		v->debugregs.db[i] = rnd(&vm->rng);
		v->debugregs.dr6 = 0xffff0ff0;
		v->debugregs.dr7 = 0x400;
		if (!i) {
			v->mp.state = VMXL_MP_HALTED;
			for (unsigned int k = 0; k < sizeof(v->lapic.regs); k++)
				v->lapic.regs[k] = rnd(&vm->rng);
			v->lapic.timer_deadline = rnd(&vm->rng);
		}
		v->nr_msrs = i ? 3 : 0;
		for (unsigned int k = 0; k < v->nr_msrs; k++) {
			v->msrs[k].index = 0xc0000080 + k;
			v->msrs[k].data = rnd(&vm->rng);
		}
	}
	vm->machine.vm_flags = VMXL_VM_LAPIC;
	vm->machine.platform = 1;
	vm->machine.flags = SNAP_MACHINE_F_CLOCK;
	vm->machine.clock.tsc = rnd(&vm->rng);
	for (unsigned int k = 0; k < sizeof(vm->uart); k++)
		vm->uart[k] = rnd(&vm->rng);
	for (unsigned int k = 0; k < sizeof(vm->virtio); k++)
		vm->virtio[k] = rnd(&vm->rng);
	strcpy(vm->devs[0].name, "uart0");
	vm->devs[0].data = vm->uart;
	vm->devs[0].len = sizeof(vm->uart);
	vm->devs[0].version = 1;
	strcpy(vm->devs[1].name, "virtio-blk0");
	vm->devs[1].data = vm->virtio;
	vm->devs[1].len = sizeof(vm->virtio);
	vm->devs[1].version = 3;
	strcpy(vm->devs[2].name, "exit-port");
	vm->devs[2].len = 0;
}

static void vm_free(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].host);
		free(vm->dirty[i]);
	}
}

/* Give the VM an SMMU: its creation parameters and some registers. */
static void vm_smmu(struct vm *vm)
{
	struct snap_smmu *s = &vm->machine.smmu;

	vm->machine.has_smmu = true;
	memset(s, 0, sizeof(*s));
	s->config.base_gpa = 0xd0100000;
	s->config.sid_bits = 8;
	s->state.sid_bits = 8;
	s->state.cr0 = 0xd;
	s->state.gbpa = 1u << 12;
	s->state.strtab_base = 0x80000 + (rnd(&vm->rng) & 0xfc0);
	s->state.strtab_base_cfg = 8;
	s->state.cmdq_base = 0x90000 | 8;
	s->state.cmdq_prod = s->state.cmdq_cons = rnd(&vm->rng) & 0x1ff;
	s->state.evtq_base = 0xa0000 | 5;
	s->state.evtq_prod = 3;
	s->state.evtq_cons = 1;
}

/* Dirty @pct percent of the pages (some become zero), marking them. */
static void vm_dirty(struct vm *vm, unsigned int pct)
{
	for (unsigned int i = 0; i < vm->nslots; i++) {
		uint64_t n = vm->slots[i].size / PG;

		memset(vm->dirty[i], 0, (n / 64 + 1) * 8);
		for (uint64_t pg = 0; pg < n; pg++) {
			if (rnd(&vm->rng) % 100 >= pct)
				continue;
			fill_page((uint8_t *)vm->slots[i].host + pg * PG,
				  pick_kind(&vm->rng), &vm->rng);
			vm->dirty[i][pg / 64] |= 1ULL << (pg % 64);
		}
	}
	vm->vcpus[0].regs.rip += 0x100;
	vm->vcpus[1].regs.rax++;
	vm->vcpus[0].lapic.timer_deadline += 1000;
	vm->machine.clock.tsc += 5000;
	vm->uart[0]++;
	vm->virtio[7]++;
}

static int level;	/* zlib level of vm_write(); 0: the default */

static int vm_write(struct vm *vm, const char *path, const char *parent,
		    unsigned int threads, struct snap_write_stats *st,
		    struct snap_err *err)
{
	struct snap_slot s[3];
	struct snap_write_params p = {
		.path = path, .parent = parent, .slots = s,
		.nr_slots = vm->nslots, .machine = &vm->machine,
		.vcpus = vm->vcpus, .nr_vcpus = 2,
		.devices = vm->devs, .nr_devices = 3, .threads = threads,
		.level = level, .no_fsync = true,
	};

	for (unsigned int i = 0; i < vm->nslots; i++) {
		s[i] = vm->slots[i];
		s[i].pages = parent ? vm->dirty[i] : NULL;
	}
	return snap_write(&p, st, err);
}

/* Restore buffers for a layout, filled with garbage. */
static void bufs_alloc(struct snap_slot *out, const struct snap_info *in)
{
	for (unsigned int i = 0; i < in->nr_slots; i++) {
		out[i] = in->slots[i];
		out[i].host = malloc(in->slots[i].size);
		memset(out[i].host, 0xa5, in->slots[i].size);
	}
}

static void bufs_free(struct snap_slot *b, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(b[i].host);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_snapshot.XXXXXX");

	return mkdtemp(d);
}

static void rmtree(char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", d);
	free(d);
}

static char *path(const char *dir, const char *name)
{
	static char buf[4][256];
	static int n;

	n = (n + 1) % 4;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, name);
	return buf[n];
}

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc(n ? n : 1);
	if (fread(b, 1, n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = n;
	return b;
}

static int spew(const char *p, const void *b, size_t len)
{
	FILE *f = fopen(p, "wb");
	int r;

	if (!f)
		return -1;
	r = fwrite(b, 1, len, f) == len ? 0 : -1;
	return fclose(f) || r;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void set32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

/* Recompute the header CRC after a deliberate change. */
static void fix_header_crc(uint8_t *b)
{
	set32(b + 124, crc32(0, b, 124));
}

/*
 * The test's own map of a file: for each byte, the label the reader must
 * name when that byte is wrong ("header" or "section N (role)").
 */
struct region {
	uint64_t start, end;
	char label[64];
};

static unsigned int map_file(const uint8_t *b, size_t len, struct region *rg,
			     unsigned int max)
{
	uint32_t flags = le32(b + 16), nv = le32(b + 36), nd = le32(b + 40);
	uint32_t nc = le32(b + 44), incr = flags & 1, v2 = le32(b + 8) >= 2;
	uint32_t smmu = !!(flags & SNAP_F_SMMU);
	uint32_t nsec = incr + 1 + v2 + smmu + nv * (1 + v2) + nd + nc + 1;
	uint64_t off = SNAP_HEADER_SIZE;
	unsigned int n = 0;

	rg[n].start = 0;
	rg[n].end = SNAP_HEADER_SIZE;
	strcpy(rg[n++].label, "header");
	for (uint32_t i = 0; i < nsec && n < max; i++) {
		uint32_t k = i;
		char role[40];

		if (incr && k == 0)
			strcpy(role, "parent");
		else if ((k -= incr) == 0)
			strcpy(role, "layout");
		else if (v2 && k == 1)
			strcpy(role, "machine");
		else if (smmu && k == 2)
			strcpy(role, "smmu");
		else if ((k -= 1 + v2 + smmu) < nv)
			snprintf(role, sizeof(role), "vcpu %u", k);
		else if (v2 && (k -= nv) < nv)
			snprintf(role, sizeof(role), "vcpu-os %u", k);
		else if ((k -= nv) < nd)
			snprintf(role, sizeof(role), "device %u", k);
		else if ((k -= nd) < nc)
			snprintf(role, sizeof(role), "memory chunk %u", k);
		else
			strcpy(role, "end");
		rg[n].start = off;
		off += SNAP_SECHDR_SIZE + le64(b + off + 8);
		rg[n].end = off;
		snprintf(rg[n++].label, sizeof(rg[0].label), "section %u (%s", i, role);
	}
	(void)len;
	return n;
}

static const char *label_at(const struct region *rg, unsigned int n, uint64_t off)
{
	for (unsigned int i = 0; i < n; i++)
		if (off >= rg[i].start && off < rg[i].end)
			return rg[i].label;
	return "?";
}

/* Open and read everything; 0 when the whole file is accepted. */
static int check_mem(const void *b, size_t len, struct snap_err *err)
{
	struct snap_reader *r = snap_open_mem(b, len, "t.snap", err);
	int ret;

	if (!r)
		return -1;
	ret = snap_read_memory(r, NULL, err);
	snap_close(r);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

TEST(sha256_vectors)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t id[32];
	char hex[65];

	for (unsigned int i = 0; i < 3; i++) {
		snap_sha256(v[i].in, strlen(v[i].in), id);
		snap_id_hex(id, hex);
		EXPECT_STREQ(v[i].out, hex);
	}
}

static void expect_vm_equal(struct __test_metadata *_metadata, struct vm *vm,
			    const struct snap_info *in)
{
	ASSERT_EQ(2, in->nr_vcpus);
	ASSERT_EQ(3, in->nr_devices);
	ASSERT_EQ(vm->nslots, in->nr_slots);
	for (unsigned int i = 0; i < vm->nslots; i++) {
		EXPECT_EQ(vm->slots[i].slot, in->slots[i].slot);
		EXPECT_EQ(vm->slots[i].flags, in->slots[i].flags);
		EXPECT_EQ(vm->slots[i].gpa, in->slots[i].gpa);
		EXPECT_EQ(vm->slots[i].size, in->slots[i].size);
	}
	for (unsigned int i = 0; i < 2; i++) {
		const struct snap_vcpu *a = &vm->vcpus[i], *b = &in->vcpus[i];

		EXPECT_EQ(a->id, b->id);
		EXPECT_EQ(a->flags, b->flags);
		EXPECT_EQ(a->regs.rip, b->regs.rip);
		EXPECT_EQ(a->regs.rax, b->regs.rax);
		EXPECT_EQ(a->regs.r15, b->regs.r15);
		EXPECT_EQ(a->regs.rflags, b->regs.rflags);
		EXPECT_EQ(0, memcmp(&a->regs, &b->regs, sizeof(a->regs)));
		EXPECT_EQ(a->sregs.cs.base, b->sregs.cs.base);
		EXPECT_EQ(a->sregs.cs.selector, b->sregs.cs.selector);
		EXPECT_EQ(a->sregs.tr.limit, b->sregs.tr.limit);
		EXPECT_EQ(a->sregs.gdt.base, b->sregs.gdt.base);
		EXPECT_EQ(a->sregs.cr0, b->sregs.cr0);
		EXPECT_EQ(a->sregs.cr3, b->sregs.cr3);
		EXPECT_EQ(a->sregs.efer, b->sregs.efer);
		EXPECT_EQ(a->sregs.apic_base, b->sregs.apic_base);
		EXPECT_EQ(0, memcmp(&a->sregs, &b->sregs, sizeof(a->sregs)));
		EXPECT_EQ(0, memcmp(&a->fpu, &b->fpu, sizeof(a->fpu)));
		ASSERT_EQ(a->nr_msrs, b->nr_msrs);
		for (unsigned int k = 0; k < a->nr_msrs; k++) {
			EXPECT_EQ(a->msrs[k].index, b->msrs[k].index);
			EXPECT_EQ(a->msrs[k].data, b->msrs[k].data);
		}
		ASSERT_EQ(a->nr_cpuid, b->nr_cpuid);
		EXPECT_EQ(0, memcmp(a->cpuid, b->cpuid,
				    a->nr_cpuid * sizeof(a->cpuid[0])));
		EXPECT_EQ(a->os_flags, b->os_flags);
		EXPECT_EQ(0, memcmp(&a->events, &b->events, sizeof(a->events)));
		EXPECT_EQ(0, memcmp(&a->debugregs, &b->debugregs,
				    sizeof(a->debugregs)));
		EXPECT_EQ(a->mp.state, b->mp.state);
		EXPECT_EQ(a->lapic.timer_deadline, b->lapic.timer_deadline);
		EXPECT_EQ(0, memcmp(&a->lapic, &b->lapic, sizeof(a->lapic)));
	}
	EXPECT_EQ(vm->machine.vm_flags, in->machine.vm_flags);
	EXPECT_EQ(vm->machine.platform, in->machine.platform);
	EXPECT_EQ(vm->machine.flags, in->machine.flags);
	EXPECT_EQ(vm->machine.clock.tsc, in->machine.clock.tsc);
	EXPECT_EQ(vm->machine.has_smmu, in->machine.has_smmu);
	if (vm->machine.has_smmu)
		EXPECT_EQ(0, memcmp(&vm->machine.smmu, &in->machine.smmu,
				    sizeof(vm->machine.smmu)));
	for (unsigned int i = 0; i < 3; i++) {
		EXPECT_STREQ(vm->devs[i].name, in->devices[i].name);
		EXPECT_EQ(vm->devs[i].version, in->devices[i].version);
		ASSERT_EQ(vm->devs[i].len, in->devices[i].len);
		if (vm->devs[i].len)
			EXPECT_EQ(0, memcmp(vm->devs[i].data, in->devices[i].data,
					    vm->devs[i].len));
	}
}

static const uint64_t sizes_std[] = { 2 << 20, 300 * PG, 64 * PG };

TEST(full_round_trip)
{
	struct snap_write_stats st;
	struct snap_err err = { 0 };
	struct snap_reader *r;
	struct snap_slot b[3];
	char *d = tmpdir();
	struct vm vm;
	struct stat sb;
	uint64_t zero = 0, total = 0;

	vm_init(&vm, 0x1234567, sizes_std, 3);
	/* A slot of zeros only (its chunks are left out) */
	memset(vm.slots[2].host, 0, vm.slots[2].size);
	for (unsigned int i = 0; i < 3; i++)
		for (uint64_t pg = 0; pg < vm.slots[i].size / PG; pg++) {
			const uint8_t *p = (uint8_t *)vm.slots[i].host + pg * PG;
			unsigned int k = 0;

			while (k < PG && !p[k])
				k++;
			zero += k == PG;
			total++;
		}
	ASSERT_EQ(0, vm_write(&vm, path(d, "full.snap"), NULL, 2, &st, &err))
		TH_LOG("%s", err.msg);
	EXPECT_EQ(total, st.pages_total);
	EXPECT_EQ(total, st.pages_selected);
	EXPECT_EQ(zero, st.pages_zero);
	EXPECT_EQ(total - zero, st.pages_data);
	ASSERT_EQ(0, stat(path(d, "full.snap"), &sb));
	EXPECT_EQ((uint64_t)sb.st_size, st.bytes);
	/* 512 + 2 chunks of data; the zero slot's chunk is left out */
	EXPECT_EQ(2 + 2, st.chunks);
	/* Compression did something: far below the memory size. */
	EXPECT_LT(st.bytes, (total - zero) * PG / 2);

	r = snap_open(path(d, "full.snap"), &err);
	ASSERT_NE(NULL, r) TH_LOG("%s", err.msg);
	{
		const struct snap_info *in = snap_get_info(r);

		EXPECT_EQ(SNAP_VERSION, in->version);
		EXPECT_EQ(0, in->flags);
		EXPECT_EQ(0, in->depth);
		EXPECT_EQ(NULL, in->parent);
		EXPECT_EQ(sizes_std[0] + sizes_std[1] + sizes_std[2], in->mem_size);
		EXPECT_EQ(0, memcmp(in->id, st.id, 32));
		expect_vm_equal(_metadata, &vm, in);
		bufs_alloc(b, in);
		ASSERT_EQ(0, snap_read_memory(r, b, &err)) TH_LOG("%s", err.msg);
		for (unsigned int i = 0; i < 3; i++) {
			unsigned int slot = i;

			EXPECT_EQ(0, memcmp(b[slot].host, vm.slots[slot].host,
					    b[slot].size)) TH_LOG("slot %u differs", slot);
		}
		bufs_free(b, 3);
	}
	snap_close(r);
	/* No temporary file left behind. */
	{
		DIR *dir = opendir(d);
		struct dirent *e;
		int n = 0;

		while ((e = readdir(dir)))
			n += e->d_name[0] != '.';
		closedir(dir);
		EXPECT_EQ(1, n);
	}
	vm_free(&vm);
	rmtree(d);
}

/* 1, 2 and 4 workers write the same bytes after the header. */
TEST(threads_same_output)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	uint8_t *f[3];
	size_t len[3];
	struct vm vm;
	static const unsigned int th[3] = { 1, 2, 4 };

	vm_init(&vm, 77, sizes_std, 2);
	for (unsigned int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "t%u.snap", th[i]);
		ASSERT_EQ(0, vm_write(&vm, path(d, name), NULL, th[i], NULL, &err))
			TH_LOG("%s", err.msg);
		f[i] = slurp(path(d, name), &len[i]);
		ASSERT_NE(NULL, f[i]);
	}
	for (unsigned int i = 1; i < 3; i++) {
		ASSERT_EQ(len[0], len[i]);
		EXPECT_EQ(0, memcmp(f[0] + SNAP_HEADER_SIZE, f[i] + SNAP_HEADER_SIZE,
				    len[0] - SNAP_HEADER_SIZE));
		/* Distinct ids even for the same state (nonce, time) */
		EXPECT_NE(0, memcmp(f[0], f[i], SNAP_HEADER_SIZE));
	}
	for (unsigned int i = 0; i < 3; i++)
		free(f[i]);
	vm_free(&vm);
	rmtree(d);
}

/* Restore a chain into fresh buffers; compare with @want (one per slot). */
static void expect_chain(struct __test_metadata *_metadata, const char *top,
			 unsigned int want_n, uint8_t **want, struct vm *vm)
{
	struct snap_reader **chain;
	struct snap_err err = { 0 };
	struct snap_slot b[3];
	unsigned int n;

	ASSERT_EQ(0, snap_open_chain(top, &chain, &n, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(want_n, n);
	EXPECT_EQ(0, snap_get_info(chain[0])->depth);
	EXPECT_EQ(n - 1, snap_get_info(chain[n - 1])->depth);
	bufs_alloc(b, snap_get_info(chain[0]));
	for (unsigned int i = 0; i < n; i++)
		ASSERT_EQ(0, snap_read_memory(chain[i], b, &err)) TH_LOG("%s", err.msg);
	for (unsigned int i = 0; i < vm->nslots; i++) {
		unsigned int slot = i;

		EXPECT_EQ(0, memcmp(b[slot].host, want[slot], b[slot].size))
			TH_LOG("slot %u differs after %u files", slot, n);
	}
	bufs_free(b, vm->nslots);
	snap_close_chain(chain, n);
}

TEST(chain_of_three)
{
	struct snap_write_stats full, inc[2];
	struct snap_err err = { 0 };
	uint8_t *mid[3], *end[3];
	struct snap_reader *r;
	char *d = tmpdir();
	struct vm vm;

	vm_init(&vm, 99, sizes_std, 3);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, &full, &err))
		TH_LOG("%s", err.msg);
	vm_dirty(&vm, 5);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "a.snap"), 2,
			      &inc[0], &err)) TH_LOG("%s", err.msg);
	for (unsigned int i = 0; i < 3; i++) {
		mid[i] = malloc(vm.slots[i].size);
		memcpy(mid[i], vm.slots[i].host, vm.slots[i].size);
	}
	vm_dirty(&vm, 5);
	/* A page that was data turns to zeros: the incremental carries it. */
	memset(vm.slots[0].host, 0, PG);
	vm.dirty[0][0] |= 1;
	ASSERT_EQ(0, vm_write(&vm, path(d, "c.snap"), path(d, "b.snap"), 2,
			      &inc[1], &err)) TH_LOG("%s", err.msg);
	for (unsigned int i = 0; i < 3; i++)
		end[i] = vm.slots[i].host;

	/* An incremental is a small part of the full one. */
	EXPECT_LT(inc[0].pages_selected * 10, full.pages_selected);
	EXPECT_LT(inc[0].bytes * 4, full.bytes);

	r = snap_open(path(d, "c.snap"), &err);
	ASSERT_NE(NULL, r) TH_LOG("%s", err.msg);
	EXPECT_EQ(SNAP_F_INCREMENTAL, snap_get_info(r)->flags);
	EXPECT_EQ(2, snap_get_info(r)->depth);
	EXPECT_STREQ("b.snap", snap_get_info(r)->parent);	/* same directory */
	EXPECT_EQ(0, memcmp(snap_get_info(r)->parent_id, inc[0].id, 32));
	expect_vm_equal(_metadata, &vm, snap_get_info(r));
	snap_close(r);

	expect_chain(_metadata, path(d, "c.snap"), 3, end, &vm);
	expect_chain(_metadata, path(d, "b.snap"), 2, mid, &vm);

	/* Opened from another working directory, by a relative path. */
	{
		char *cwd = getcwd(NULL, 0);
		char rel[300];

		ASSERT_EQ(0, chdir("/"));
		snprintf(rel, sizeof(rel), "%s/c.snap", d + 1);
		expect_chain(_metadata, rel, 3, end, &vm);
		ASSERT_EQ(0, chdir(cwd));
		free(cwd);
	}
	for (unsigned int i = 0; i < 3; i++)
		free(mid[i]);
	vm_free(&vm);
	rmtree(d);
}

/* A parent in another directory is stored by its absolute path. */
TEST(parent_elsewhere)
{
	struct snap_err err = { 0 };
	char *d = tmpdir(), sub[300], *rp;
	uint8_t *want[1];
	struct snap_reader *r;
	struct vm vm;
	static const uint64_t sz[] = { 64 * PG };

	vm_init(&vm, 5, sz, 1);
	snprintf(sub, sizeof(sub), "%s/sub", d);
	ASSERT_EQ(0, mkdir(sub, 0755));
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	vm_dirty(&vm, 20);
	ASSERT_EQ(0, vm_write(&vm, path(sub, "b.snap"), path(d, "a.snap"), 2,
			      NULL, &err)) TH_LOG("%s", err.msg);
	r = snap_open(path(sub, "b.snap"), &err);
	ASSERT_NE(NULL, r);
	rp = realpath(path(d, "a.snap"), NULL);
	EXPECT_STREQ(rp, snap_get_info(r)->parent);
	free(rp);
	snap_close(r);
	want[0] = vm.slots[0].host;
	expect_chain(_metadata, path(sub, "b.snap"), 2, want, &vm);
	vm_free(&vm);
	rmtree(d);
}

/*
 * Every byte of a full and of an incremental file flipped, one at a time:
 * each refused, naming the header or the section that holds the byte.
 */
static void flip_every_byte(struct __test_metadata *_metadata, const char *file)
{
	struct region rg[64];
	struct snap_err err;
	size_t len;
	uint8_t *b = slurp(file, &len);
	unsigned int n, refused = 0;

	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);
	n = map_file(b, len, rg, 64);
	ASSERT_EQ(len, rg[n - 1].end);
	for (size_t off = 0; off < len; off++) {
		const char *want = label_at(rg, n, off);

		b[off] ^= 1u << (off % 8);
		memset(&err, 0, sizeof(err));
		if (check_mem(b, len, &err) == 0) {
			TH_LOG("flipping byte %zu (%s) was accepted", off, want);
			b[off] ^= 1u << (off % 8);
			continue;
		}
		if (!strstr(err.msg, want))
			TH_LOG("byte %zu: '%s' does not name %s", off, err.msg, want);
		else
			refused++;
		b[off] ^= 1u << (off % 8);
	}
	EXPECT_EQ(len, refused);
	/* every section was in the test */
	EXPECT_GE(n, 6);
	free(b);
}

static const uint64_t sizes_small[] = { 300 * PG, 16 * PG };

/* Keep one page in 16 (files of a few KiB for byte-by-byte tests). */
static void sparse(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nslots; i++)
		for (uint64_t pg = 0; pg < vm->slots[i].size / PG; pg++)
			if (pg % 16)
				memset((uint8_t *)vm->slots[i].host + pg * PG, 0, PG);
}

TEST(corrupt_every_byte)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct vm vm;

	vm_init(&vm, 4242, sizes_small, 2);
	sparse(&vm);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	vm_dirty(&vm, 3);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "a.snap"), 2, NULL,
			      &err)) TH_LOG("%s", err.msg);
	/* the smmu section's bytes too, in a full and an incremental file */
	vm_smmu(&vm);
	ASSERT_EQ(0, vm_write(&vm, path(d, "c.snap"), path(d, "b.snap"), 2, NULL,
			      &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, vm_write(&vm, path(d, "s.snap"), NULL, 2, NULL, &err));
	flip_every_byte(_metadata, path(d, "a.snap"));
	flip_every_byte(_metadata, path(d, "b.snap"));
	flip_every_byte(_metadata, path(d, "c.snap"));
	flip_every_byte(_metadata, path(d, "s.snap"));
	vm_free(&vm);
	rmtree(d);
}

/* Cut at every length from 0 to size - 1: refused, the section named. */
static void truncate_everywhere(struct __test_metadata *_metadata, const char *file)
{
	struct region rg[64];
	struct snap_err err;
	size_t len;
	uint8_t *b = slurp(file, &len);
	unsigned int n, ok = 0;

	ASSERT_NE(NULL, b);
	n = map_file(b, len, rg, 64);
	for (size_t cut = 0; cut < len; cut++) {
		/* The byte at @cut is the first one missing. */
		const char *want = label_at(rg, n, cut);
		uint8_t *c = malloc(cut ? cut : 1);

		memcpy(c, b, cut);
		memset(&err, 0, sizeof(err));
		if (check_mem(c, cut, &err) == 0)
			TH_LOG("cut at %zu accepted", cut);
		else if (!strstr(err.msg, want) || !strstr(err.msg, "truncated"))
			TH_LOG("cut at %zu: '%s' does not name %s as truncated",
			       cut, err.msg, want);
		else
			ok++;
		free(c);
	}
	EXPECT_EQ(len, ok);
	/* Extra bytes after the end are refused too. */
	b = realloc(b, len + 1);
	b[len] = 0;
	EXPECT_NE(0, check_mem(b, len + 1, &err));
	EXPECT_NE(NULL, strstr(err.msg, "(end)")) TH_LOG("%s", err.msg);
	free(b);
}

TEST(truncated_everywhere)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct vm vm;

	vm_init(&vm, 31337, sizes_small, 2);
	sparse(&vm);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	vm_dirty(&vm, 3);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "a.snap"), 2, NULL,
			      &err)) TH_LOG("%s", err.msg);
	truncate_everywhere(_metadata, path(d, "a.snap"));
	truncate_everywhere(_metadata, path(d, "b.snap"));
	/* And through the file API, not only the buffer one. */
	ASSERT_EQ(0, truncate(path(d, "a.snap"), 1000));
	EXPECT_EQ(NULL, snap_open(path(d, "a.snap"), &err));
	EXPECT_NE(NULL, strstr(err.msg, "a.snap: section ")) TH_LOG("%s", err.msg);
	EXPECT_NE(NULL, strstr(err.msg, "truncated")) TH_LOG("%s", err.msg);
	vm_free(&vm);
	rmtree(d);
}

TEST(newer_version)
{
	char want[128];
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct vm vm;
	uint8_t *b;
	size_t len;

	vm_init(&vm, 8, sizes_small, 1);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	b = slurp(path(d, "a.snap"), &len);
	set32(b + 8, SNAP_VERSION + 1);
	fix_header_crc(b);
	ASSERT_EQ(0, spew(path(d, "a.snap"), b, len));
	EXPECT_EQ(NULL, snap_open(path(d, "a.snap"), &err));
	snprintf(want, sizeof(want), "a.snap: header: format version %u is newer than this program reads (%u)",
		 SNAP_VERSION + 1, SNAP_VERSION);
	EXPECT_NE(NULL, strstr(err.msg, want)) TH_LOG("%s", err.msg);
	/* Not a snapshot at all */
	memcpy(b, "NOTASNAP", 8);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "header: bad magic")) TH_LOG("%s", err.msg);
	free(b);
	vm_free(&vm);
	rmtree(d);
}

/*
 * A version 1 file made from a version 2 one: the machine and vcpu-os
 * sections dropped, the rest renumbered, the header's version, size and
 * CRC rewritten (what vmx-lite wrote before version 2).
 */
static uint8_t *to_version1(const uint8_t *b, size_t len, size_t *out_len)
{
	uint8_t *o = malloc(len);
	uint64_t off = SNAP_HEADER_SIZE, w = SNAP_HEADER_SIZE;
	uint32_t idx = 0;

	memcpy(o, b, SNAP_HEADER_SIZE);
	while (off < len) {
		uint32_t type = le32(b + off);
		uint64_t sl = SNAP_SECHDR_SIZE + le64(b + off + 8);

		if (type != SNAP_SEC_MACHINE && type != SNAP_SEC_VCPU_OS) {
			memcpy(o + w, b + off, sl);
			set32(o + w + 4, idx++);
			set32(o + w + 20, crc32(0, o + w, 20));
			w += sl;
		}
		off += sl;
	}
	set32(o + 8, 1);
	for (int i = 0; i < 8; i++)
		o[48 + i] = (uint8_t)(w >> (8 * i));
	fix_header_crc(o);
	*out_len = w;
	return o;
}

TEST(version1_still_reads)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct snap_reader **chain;
	const struct snap_info *in;
	unsigned int n;
	struct vm vm;
	uint8_t *b, *v1;
	size_t len, l1;

	vm_init(&vm, 77, sizes_small, 2);
	sparse(&vm);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	b = slurp(path(d, "a.snap"), &len);
	ASSERT_NE(NULL, b);
	v1 = to_version1(b, len, &l1);
	/* a machine section (48 bytes) and two vcpu-os (1256 each) fewer */
	EXPECT_EQ(SNAP_SECHDR_SIZE + 48 + 2 * (SNAP_SECHDR_SIZE + 1256), len - l1);
	ASSERT_EQ(0, spew(path(d, "v1.snap"), v1, l1));
	ASSERT_EQ(0, snap_open_chain(path(d, "v1.snap"), &chain, &n, &err))
		TH_LOG("%s", err.msg);
	in = snap_get_info(chain[0]);
	EXPECT_EQ(1, in->version);
	ASSERT_EQ(2, in->nr_vcpus);
	/* the registers as written, the version 2 state zero */
	EXPECT_EQ(0, memcmp(&vm.vcpus[1].regs, &in->vcpus[1].regs,
			    sizeof(in->vcpus[1].regs)));
	EXPECT_EQ(0, in->vcpus[0].os_flags);
	EXPECT_EQ(0, in->vcpus[0].lapic.timer_deadline);
	EXPECT_EQ(0, in->machine.flags);
	EXPECT_EQ(0, in->machine.vm_flags);
	EXPECT_EQ(0, snap_read_memory(chain[0], NULL, &err)) TH_LOG("%s", err.msg);
	snap_close_chain(chain, n);
	/* every byte of a version 1 file is still checked and named */
	flip_every_byte(_metadata, path(d, "v1.snap"));
	/* a version 2 incremental on a version 1 parent */
	vm_dirty(&vm, 3);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "v1.snap"), 2, NULL,
			      &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, snap_open_chain(path(d, "b.snap"), &chain, &n, &err))
		TH_LOG("%s", err.msg);
	EXPECT_EQ(2, n);
	EXPECT_EQ(vm.machine.clock.tsc, snap_get_info(chain[1])->machine.clock.tsc);
	snap_close_chain(chain, n);
	/* version 0 is refused as such */
	set32(v1 + 8, 0);
	fix_header_crc(v1);
	EXPECT_NE(0, check_mem(v1, l1, &err));
	EXPECT_NE(NULL, strstr(err.msg, "header: format version 0 is not valid"))
		TH_LOG("%s", err.msg);
	free(b);
	free(v1);
	vm_free(&vm);
	rmtree(d);
}

/* Rewrite section @idx's payload CRC and header CRC after an edit. */
static void fix_section(uint8_t *b, uint64_t off)
{
	set32(b + off + 16, crc32(0, b + off + SNAP_SECHDR_SIZE, le64(b + off + 8)));
	set32(b + off + 20, crc32(0, b + off, 20));
}

/* The offset of the first section of @type. */
static uint64_t find_section(const uint8_t *b, size_t len, uint32_t type)
{
	for (uint64_t off = SNAP_HEADER_SIZE; off < len;
	     off += SNAP_SECHDR_SIZE + le64(b + off + 8))
		if (le32(b + off) == type)
			return off;
	return 0;
}

/*
 * The version 2 sections' contents are checked beyond their CRCs (a
 * writer's bug, not a damaged file): each refusal names the section.
 */
TEST(os_state_sections_checked)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct vm vm;
	uint8_t *b;
	uint64_t m, os0, os1;
	size_t len;

	vm_init(&vm, 99, sizes_small, 1);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	b = slurp(path(d, "a.snap"), &len);
	m = find_section(b, len, SNAP_SEC_MACHINE);
	os0 = find_section(b, len, SNAP_SEC_VCPU_OS);
	ASSERT_NE(0, m);
	ASSERT_NE(0, os0);
	os1 = os0 + SNAP_SECHDR_SIZE + le64(b + os0 + 8);
	ASSERT_EQ(1, le32(b + m + 4));		/* after the layout */
	ASSERT_EQ(4, le32(b + os0 + 4));	/* after vcpu 0 and 1 */
	ASSERT_EQ(SNAP_SEC_VCPU_OS, le32(b + os1));
	EXPECT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);

	/* unknown machine flags */
	b[m + SNAP_SECHDR_SIZE + 8] |= 0x80;
	fix_section(b, m);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 1 (machine): unknown flags"))
		TH_LOG("%s", err.msg);
	b[m + SNAP_SECHDR_SIZE + 8] &= ~0x80;
	/* a clock's reserved field */
	b[m + SNAP_SECHDR_SIZE + 16 + 8] = 1;
	fix_section(b, m);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 1 (machine): reserved"))
		TH_LOG("%s", err.msg);
	b[m + SNAP_SECHDR_SIZE + 16 + 8] = 0;
	fix_section(b, m);
	EXPECT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);

	/* vcpu-os 1 naming another vCPU */
	set32(b + os1 + SNAP_SECHDR_SIZE, 0);
	fix_section(b, os1);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 5 (vcpu-os 1): vCPU id 0"))
		TH_LOG("%s", err.msg);
	set32(b + os1 + SNAP_SECHDR_SIZE, 1);
	/* vcpu-os 1 without the LAPIC flag but with an APIC register */
	b[os1 + SNAP_SECHDR_SIZE + 8 + 56 + 96 + 8 + 0x20] = 1;
	fix_section(b, os1);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 5 (vcpu-os 1): local APIC or MP state without the LAPIC flag"))
		TH_LOG("%s", err.msg);
	b[os1 + SNAP_SECHDR_SIZE + 8 + 56 + 96 + 8 + 0x20] = 0;
	/* unknown vcpu-os flags */
	set32(b + os1 + SNAP_SECHDR_SIZE + 4, 2);
	fix_section(b, os1);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 5 (vcpu-os 1): unknown flags 0x2"))
		TH_LOG("%s", err.msg);
	set32(b + os1 + SNAP_SECHDR_SIZE + 4, 0);
	fix_section(b, os1);
	EXPECT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);
	/* a damaged payload, length or type: the CRCs and the order */
	b[os0 + SNAP_SECHDR_SIZE + 100] ^= 4;
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 4 (vcpu-os 0): payload CRC mismatch"))
		TH_LOG("%s", err.msg);
	b[os0 + SNAP_SECHDR_SIZE + 100] ^= 4;
	set32(b + m + 8, 40);
	fix_section(b, m);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 1 (machine): length 40 out of range (48..48)"))
		TH_LOG("%s", err.msg);
	set32(b + m + 8, 48);
	set32(b + m, SNAP_SEC_VCPU);
	fix_section(b, m);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 1 (machine): section type 3 where type 7 belongs"))
		TH_LOG("%s", err.msg);
	/* the writer refuses what the reader would */
	vm.vcpus[1].os_flags = 4;
	EXPECT_NE(0, vm_write(&vm, path(d, "c.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "vCPU 1: unknown OS-state flags 0x4"))
		TH_LOG("%s", err.msg);
	free(b);
	vm_free(&vm);
	rmtree(d);
}

/*
 * Version 3: the smmu section. A round trip, then what the reader checks
 * beyond the CRCs, each refusal naming the section; a version 2 file
 * cannot announce one; the writer refuses what the reader would.
 */
TEST(smmu_section)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct snap_reader **chain;
	struct snap_reader *r;
	unsigned int n;
	struct vm vm;
	uint8_t *b;
	uint64_t sm, p;
	size_t len;

	vm_init(&vm, 77, sizes_small, 1);
	/* a parent without an SMMU section, a child with one */
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	vm_smmu(&vm);
	vm_dirty(&vm, 5);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "a.snap"), 2, NULL,
			      &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, snap_open_chain(path(d, "b.snap"), &chain, &n, &err))
		TH_LOG("%s", err.msg);
	ASSERT_EQ(2, n);
	EXPECT_FALSE(snap_get_info(chain[0])->machine.has_smmu);
	EXPECT_EQ(SNAP_F_INCREMENTAL | SNAP_F_SMMU, snap_get_info(chain[1])->flags);
	EXPECT_EQ(3, snap_get_info(chain[1])->version);
	expect_vm_equal(_metadata, &vm, snap_get_info(chain[1]));
	snap_close_chain(chain, n);

	ASSERT_EQ(0, vm_write(&vm, path(d, "s.snap"), NULL, 2, NULL, &err));
	b = slurp(path(d, "s.snap"), &len);
	sm = find_section(b, len, SNAP_SEC_SMMU);
	ASSERT_NE(0, sm);
	ASSERT_EQ(2, le32(b + sm + 4));		/* after the machine */
	ASSERT_EQ(8 + 56 + 152, le64(b + sm + 8));
	p = sm + SNAP_SECHDR_SIZE;
	EXPECT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);
#define REFUSED(off, val, what) do {					\
	uint8_t old_ = b[p + (off)];					\
	b[p + (off)] = (val);						\
	fix_section(b, sm);						\
	EXPECT_NE(0, check_mem(b, len, &err));				\
	EXPECT_NE(NULL, strstr(err.msg, "section 2 (smmu): " what))	\
		TH_LOG("%s", err.msg);					\
	b[p + (off)] = old_;						\
	fix_section(b, sm);						\
} while (0)
	REFUSED(0, 1, "unknown flags 0x1");
	REFUSED(4, 1, "reserved bytes not zero");
	REFUSED(8 + 20, 1, "reserved bytes not zero");		/* config.flags */
	REFUSED(8 + 55, 1, "reserved bytes not zero");		/* config.reserved */
	REFUSED(8 + 56, 1, "reserved bytes not zero");		/* state.flags */
	REFUSED(8 + 56 + 84, 1, "reserved bytes not zero");	/* state.pad */
	REFUSED(8 + 56 + 151, 1, "reserved bytes not zero");	/* state.reserved */
	REFUSED(8 + 56 + 4, 9, "registers of an SMMU with 9/0");	/* sid_bits */
#undef REFUSED
	EXPECT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);
	/* a wrong length or type */
	set32(b + sm + 8, 100);
	fix_section(b, sm);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 2 (smmu): length 100 out of range (216..216)"))
		TH_LOG("%s", err.msg);
	set32(b + sm + 8, 216);
	set32(b + sm, SNAP_SEC_MACHINE);
	fix_section(b, sm);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 2 (smmu): section type 7 where type 9 belongs"))
		TH_LOG("%s", err.msg);
	set32(b + sm, SNAP_SEC_SMMU);
	fix_section(b, sm);
	EXPECT_EQ(0, check_mem(b, len, &err)) TH_LOG("%s", err.msg);
	/* a version 2 file cannot announce an SMMU */
	set32(b + 8, 2);
	fix_header_crc(b);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "header: unknown flags 0x2")) TH_LOG("%s", err.msg);
	set32(b + 8, 3);
	/* without the flag, the section is where a vcpu belongs */
	set32(b + 16, 0);
	fix_header_crc(b);
	EXPECT_NE(0, check_mem(b, len, &err));
	EXPECT_NE(NULL, strstr(err.msg, "section 2 (vcpu 0): section type 9 where type 3 belongs"))
		TH_LOG("%s", err.msg);
	free(b);
	r = snap_open(path(d, "s.snap"), &err);
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(snap_get_info(r)->machine.has_smmu);
	snap_close(r);
	/* the writer refuses what the reader would */
	vm.machine.smmu.state.reserved[3] = 1;
	EXPECT_NE(0, vm_write(&vm, path(d, "x.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "smmu: flags or reserved fields set"))
		TH_LOG("%s", err.msg);
	vm.machine.smmu.state.reserved[3] = 0;
	vm.machine.smmu.state.ssid_bits = 2;
	EXPECT_NE(0, vm_write(&vm, path(d, "x.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(0, access(path(d, "x.snap"), F_OK));
	vm_free(&vm);
	rmtree(d);
}

TEST(wrong_or_missing_parent)
{
	struct snap_err err = { 0 };
	struct snap_reader **chain;
	unsigned int n;
	char *d = tmpdir();
	struct vm vm;

	vm_init(&vm, 11, sizes_small, 2);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	/* Same VM, same state, taken again: a different snapshot. */
	ASSERT_EQ(0, vm_write(&vm, path(d, "other.snap"), NULL, 2, NULL, &err));
	vm_dirty(&vm, 10);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "a.snap"), 2, NULL,
			      &err));
	ASSERT_EQ(0, snap_open_chain(path(d, "b.snap"), &chain, &n, &err));
	snap_close_chain(chain, n);

	ASSERT_EQ(0, rename(path(d, "a.snap"), path(d, "a.orig")));
	EXPECT_EQ(-1, snap_open_chain(path(d, "b.snap"), &chain, &n, &err));
	EXPECT_NE(NULL, strstr(err.msg, "b.snap: section 0 (parent): cannot use parent"))
		TH_LOG("%s", err.msg);
	EXPECT_NE(NULL, strstr(err.msg, "No such file")) TH_LOG("%s", err.msg);

	ASSERT_EQ(0, link(path(d, "other.snap"), path(d, "a.snap")));
	EXPECT_EQ(-1, snap_open_chain(path(d, "b.snap"), &chain, &n, &err));
	EXPECT_NE(NULL, strstr(err.msg, "b.snap: section 0 (parent):")) TH_LOG("%s", err.msg);
	EXPECT_NE(NULL, strstr(err.msg, "is not its parent")) TH_LOG("%s", err.msg);

	/* A corrupt parent is refused through the child too. */
	{
		size_t len;
		uint8_t *b = slurp(path(d, "a.orig"), &len);

		b[len - 20] ^= 0x10;
		ASSERT_EQ(0, unlink(path(d, "a.snap")));
		ASSERT_EQ(0, spew(path(d, "a.snap"), b, len));
		free(b);
		EXPECT_EQ(-1, snap_open_chain(path(d, "b.snap"), &chain, &n, &err));
		/* version 2: the machine and vcpu-os sections come before the end */
		EXPECT_NE(NULL, strstr(err.msg, "a.snap: section 12 (end): section header CRC"))
			TH_LOG("%s", err.msg);
	}
	vm_free(&vm);
	rmtree(d);
}

TEST(different_memory_size)
{
	struct snap_err err = { 0 };
	struct snap_reader **chain;
	unsigned int n;
	char *d = tmpdir();
	struct vm vm, big;
	static const uint64_t sz_a[] = { 64 * PG }, sz_b[] = { 128 * PG };
	uint8_t *b, *a2;
	size_t blen, a2len;
	struct snap_reader *r;

	vm_init(&vm, 3, sz_a, 1);
	vm_init(&big, 3, sz_b, 1);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	/* The writer refuses an incremental on a different layout. */
	EXPECT_NE(0, vm_write(&big, path(d, "x.snap"), path(d, "a.snap"), 2,
			      NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "memory layout differs")) TH_LOG("%s", err.msg);
	EXPECT_NE(0, access(path(d, "x.snap"), F_OK));

	/* A forged child whose parent id matches a bigger parent. */
	vm_dirty(&vm, 10);
	ASSERT_EQ(0, vm_write(&vm, path(d, "b.snap"), path(d, "a.snap"), 2, NULL,
			      &err));
	ASSERT_EQ(0, vm_write(&big, path(d, "a.snap"), NULL, 2, NULL, &err));
	r = snap_open(path(d, "a.snap"), &err);
	ASSERT_NE(NULL, r);
	b = slurp(path(d, "b.snap"), &blen);
	memcpy(b + 80, snap_get_info(r)->id, 32);
	fix_header_crc(b);
	snap_close(r);
	ASSERT_EQ(0, spew(path(d, "b.snap"), b, blen));
	EXPECT_EQ(-1, snap_open_chain(path(d, "b.snap"), &chain, &n, &err));
	EXPECT_NE(NULL, strstr(err.msg, "b.snap: header: memory size 262144 differs from its parent's"))
		TH_LOG("%s", err.msg);

	/* Same size, slot moved: the layout section is named. */
	big.slots[0].gpa = 0x1000000;
	vm.slots[0].gpa = 0x2000000;
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	a2 = slurp(path(d, "a.snap"), &a2len);
	{
		uint8_t *l;

		/* Rewrite its layout to another address, and re-checksum. */
		l = a2 + SNAP_HEADER_SIZE + SNAP_SECHDR_SIZE;
		l[10] ^= 0x10;
		set32(a2 + SNAP_HEADER_SIZE + 16, crc32(0, l, 24));
		set32(a2 + SNAP_HEADER_SIZE + 20, crc32(0, a2 + SNAP_HEADER_SIZE, 20));
		fix_header_crc(a2);
		ASSERT_EQ(0, spew(path(d, "a.snap"), a2, a2len));
		ASSERT_EQ(0, check_mem(a2, a2len, &err)) TH_LOG("%s", err.msg);
	}
	/* Child of the original layout, forged onto the moved parent. */
	{
		uint8_t id[32];

		snap_sha256(a2, SNAP_HEADER_SIZE, id);
		memcpy(b + 80, id, 32);
		set32(b + 24, 64 * PG);
		fix_header_crc(b);
		ASSERT_EQ(0, spew(path(d, "b.snap"), b, blen));
	}
	EXPECT_EQ(-1, snap_open_chain(path(d, "b.snap"), &chain, &n, &err));
	EXPECT_NE(NULL, strstr(err.msg, "b.snap: section 1 (layout): memory slot 0 differs"))
		TH_LOG("%s", err.msg);
	/* A restore target of the wrong size is refused. */
	{
		struct snap_slot s = { .size = 32 * PG, .host = malloc(32 * PG) };

		r = snap_open(path(d, "a.snap"), &err);
		ASSERT_NE(NULL, r);
		EXPECT_NE(0, snap_read_memory(r, &s, &err));
		EXPECT_NE(NULL, strstr(err.msg, "no buffer of 262144 bytes")) TH_LOG("%s", err.msg);
		snap_close(r);
		free(s.host);
	}
	free(a2);
	free(b);
	vm_free(&vm);
	vm_free(&big);
	rmtree(d);
}

/* A write that fails half-way leaves the previous file and no litter. */
TEST(failed_write_keeps_old_file)
{
	struct snap_err err = { 0 };
	char *d = tmpdir();
	struct vm vm;
	uint8_t *before, *after;
	size_t lb, la;
	pid_t pid;
	int status;

	vm_init(&vm, 1, sizes_std, 2);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	before = slurp(path(d, "a.snap"), &lb);
	vm_dirty(&vm, 50);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 64 << 10, 64 << 10 };	/* "disk full" at 64 KiB */

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		if (vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err) == 0)
			_exit(1);
		if (err.code != EFBIG || !strstr(err.msg, "a.snap.tmp.")) {
			fprintf(stderr, "unexpected error %d: %s\n", err.code, err.msg);
			_exit(2);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	after = slurp(path(d, "a.snap"), &la);
	ASSERT_EQ(lb, la);
	EXPECT_EQ(0, memcmp(before, after, lb));
	{
		DIR *dir = opendir(d);
		struct dirent *e;
		int n = 0;

		while ((e = readdir(dir)))
			n += e->d_name[0] != '.';
		closedir(dir);
		EXPECT_EQ(1, n);
	}
	/* A directory that does not exist: the message names the file. */
	EXPECT_NE(0, vm_write(&vm, path(d, "no/such/x.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "no/such/x.snap.tmp.")) TH_LOG("%s", err.msg);
	EXPECT_EQ(ENOENT, err.code);
	free(before);
	free(after);
	vm_free(&vm);
	rmtree(d);
}

TEST(bad_parameters)
{
	struct snap_err err = { 0 };
	struct vm vm;
	char *d = tmpdir();
	static const uint64_t sz[] = { 16 * PG };

	vm_init(&vm, 2, sz, 1);
	vm.slots[0].size = 16 * PG + 1;
	EXPECT_NE(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "memory slot 0")) TH_LOG("%s", err.msg);
	vm.slots[0].size = 16 * PG;
	vm.vcpus[1].nr_msrs = SNAP_MAX_MSRS + 1;
	EXPECT_NE(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "vCPU 1")) TH_LOG("%s", err.msg);
	vm.vcpus[1].nr_msrs = SNAP_MAX_MSRS;
	vm.vcpus[1].nr_cpuid = SNAP_MAX_CPUID + 1;
	EXPECT_NE(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "CPUID")) TH_LOG("%s", err.msg);
	vm.vcpus[1].nr_cpuid = SNAP_MAX_CPUID;
	memset(vm.devs[0].name, 'x', sizeof(vm.devs[0].name));
	EXPECT_NE(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "device 0")) TH_LOG("%s", err.msg);
	strcpy(vm.devs[0].name, "uart0");
	/* zlib levels: 0 (default) and 1..9; others refused before zlib */
	for (level = -1; level <= 10; level += 11) {
		EXPECT_NE(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
		EXPECT_NE(NULL, strstr(err.msg, "zlib level")) TH_LOG("%s", err.msg);
		EXPECT_EQ(-1, access(path(d, "a.snap"), F_OK));
	}
	level = 9;
	EXPECT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err))
		TH_LOG("%s", err.msg);
	level = 0;
	/* The maximum MSR and CPUID counts round-trip. */
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err))
		TH_LOG("%s", err.msg);
	{
		struct snap_reader *r = snap_open(path(d, "a.snap"), &err);

		ASSERT_NE(NULL, r) TH_LOG("%s", err.msg);
		EXPECT_EQ(SNAP_MAX_MSRS, snap_get_info(r)->vcpus[1].nr_msrs);
		EXPECT_EQ(SNAP_MAX_CPUID, snap_get_info(r)->vcpus[1].nr_cpuid);
		snap_close(r);
	}
	EXPECT_EQ(-1, vm_write(&vm, path(d, "b.snap"), path(d, "nope.snap"), 2,
			       NULL, &err));
	EXPECT_NE(NULL, strstr(err.msg, "nope.snap")) TH_LOG("%s", err.msg);
	vm_free(&vm);
	rmtree(d);
}

/* ------------------------------------------------------------------ */
/* snap_capture(): the copy taken while the VM is paused               */
/* ------------------------------------------------------------------ */

/* snap_write() of @vm with @slots for its memory (a capture's views). */
static int write_slots(struct vm *vm, const struct snap_slot *slots,
		       const char *path, const char *parent, struct snap_err *err)
{
	struct snap_write_params p = {
		.path = path, .parent = parent, .slots = slots,
		.nr_slots = vm->nslots, .machine = &vm->machine,
		.vcpus = vm->vcpus, .nr_vcpus = 2,
		.devices = vm->devs, .nr_devices = 3, .threads = 2,
		.no_fsync = true,
	};

	return snap_write(&p, NULL, err);
}

/* Everything after the header (time, nonce, id) is the same. */
static void expect_same_body(struct __test_metadata *_metadata, const char *a,
			     const char *b)
{
	size_t la, lb;
	uint8_t *fa = slurp(a, &la), *fb = slurp(b, &lb);

	ASSERT_NE(NULL, fa);
	ASSERT_NE(NULL, fb);
	ASSERT_EQ(la, lb);
	EXPECT_EQ(0, memcmp(fa + SNAP_HEADER_SIZE, fb + SNAP_HEADER_SIZE,
			    la - SNAP_HEADER_SIZE)) TH_LOG("%s and %s differ", a, b);
	free(fa);
	free(fb);
}

/* The guest scribbles on all of its memory (it runs during the write). */
static void scribble(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nslots; i++)
		memset(vm->slots[i].host, 0xee, vm->slots[i].size);
}

/*
 * A capture holds memory as it was when taken: written after the guest
 * changed every page, it gives the file the live memory gave before.
 * Full (whole slots) and incremental (dirty pages, packed).
 */
TEST(capture_holds_memory_as_taken)
{
	struct snap_capture cap;
	struct snap_err err = { 0 };
	struct snap_slot s[3];
	char *d = tmpdir();
	uint64_t dirty = 0;
	struct vm vm;

	vm_init(&vm, 99, sizes_std, 3);
	ASSERT_EQ(0, write_slots(&vm, vm.slots, path(d, "live-full.snap"), NULL,
				 &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, snap_capture(&cap, vm.slots, 3, "full", &err))
		TH_LOG("%s", err.msg);
	EXPECT_EQ((sizes_std[0] + sizes_std[1] + sizes_std[2]) / PG, cap.pages);
	EXPECT_EQ(cap.pages * PG, cap.len);
	scribble(&vm);
	ASSERT_EQ(0, write_slots(&vm, cap.slots, path(d, "cap-full.snap"), NULL,
				 &err)) TH_LOG("%s", err.msg);
	snap_capture_free(&cap);
	expect_same_body(_metadata, path(d, "live-full.snap"), path(d, "cap-full.snap"));

	vm_dirty(&vm, 20);
	for (unsigned int i = 0; i < 3; i++) {
		s[i] = vm.slots[i];
		s[i].pages = vm.dirty[i];
		for (uint64_t w = 0; w <= s[i].size / PG / 64; w++)
			dirty += __builtin_popcountll(vm.dirty[i][w]);
	}
	ASSERT_EQ(0, write_slots(&vm, s, path(d, "live-inc.snap"),
				 path(d, "cap-full.snap"), &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, snap_capture(&cap, s, 3, "inc", &err)) TH_LOG("%s", err.msg);
	/* Only the dirty pages are copied: the copy costs what they weigh. */
	EXPECT_EQ(dirty, cap.pages);
	EXPECT_EQ(dirty * PG, cap.len);
	EXPECT_TRUE(cap.slots[0].packed);
	scribble(&vm);
	ASSERT_EQ(0, write_slots(&vm, cap.slots, path(d, "cap-inc.snap"),
				 path(d, "cap-full.snap"), &err)) TH_LOG("%s", err.msg);
	snap_capture_free(&cap);
	EXPECT_EQ(NULL, cap.buf);
	expect_same_body(_metadata, path(d, "live-inc.snap"), path(d, "cap-inc.snap"));
	vm_free(&vm);
	rmtree(d);
}

/* Nothing dirty: a copy of nothing, an incremental of no chunks. */
TEST(capture_nothing_dirty)
{
	struct snap_capture cap;
	struct snap_write_stats st;
	struct snap_err err = { 0 };
	struct snap_slot s[2];
	char *d = tmpdir();
	struct vm vm;

	vm_init(&vm, 5, sizes_std, 2);
	ASSERT_EQ(0, vm_write(&vm, path(d, "a.snap"), NULL, 2, NULL, &err));
	for (unsigned int i = 0; i < 2; i++) {
		s[i] = vm.slots[i];
		s[i].pages = vm.dirty[i];	/* all zero */
	}
	ASSERT_EQ(0, snap_capture(&cap, s, 2, "b", &err)) TH_LOG("%s", err.msg);
	EXPECT_EQ(0, cap.pages);
	{
		struct snap_write_params p = {
			.path = path(d, "b.snap"), .parent = path(d, "a.snap"),
			.slots = cap.slots, .nr_slots = 2, .machine = &vm.machine,
			.vcpus = vm.vcpus, .nr_vcpus = 2, .devices = vm.devs,
			.nr_devices = 3, .no_fsync = true,
		};

		ASSERT_EQ(0, snap_write(&p, &st, &err)) TH_LOG("%s", err.msg);
		EXPECT_EQ(0, st.chunks);
		/* packed views need their bitmap */
		cap.slots[1].pages = NULL;
		EXPECT_NE(0, snap_write(&p, &st, &err));
		EXPECT_NE(NULL, strstr(err.msg, "packed without a page bitmap"))
			TH_LOG("%s", err.msg);
	}
	snap_capture_free(&cap);
	vm_free(&vm);
	rmtree(d);
}

/* No memory for the copy: ENOMEM, the file named, nothing to free. */
TEST(capture_enomem)
{
	struct snap_capture cap;
	struct snap_err err = { 0 };
	struct snap_slot s = {
		.size = SNAP_MAX_MEM, .host = &s,	/* never read */
	};
	/* 1 TiB: more than half of MemAvailable, whatever overcommit says */
	ASSERT_EQ(-1, snap_capture(&cap, &s, 1, "big.snap", &err));
	EXPECT_EQ(ENOMEM, err.code);
	EXPECT_NE(NULL, strstr(err.msg, "big.snap: no memory for a copy of 268435456 guest pages"))
		TH_LOG("%s", err.msg);
	EXPECT_EQ(NULL, cap.buf);
	snap_capture_free(&cap);
}

TEST_HARNESS_MAIN
