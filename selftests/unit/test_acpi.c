// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of vmxctl's ACPI tables (userspace/vmxctl_acpi.c), built
 * from the same sources as vmxctl, on a machine without a kernel VM: its
 * RAM an anonymous mapping, its devices the ones vmxctl_machine_add_devices()
 * makes (with --disk or without), plus stand-in virtio-mmio devices in
 * further slots. For 1, 2 and VMXCTL_MAX_VCPUS vCPUs:
 *   - every table inside the reserved region, none overlapping another,
 *     its length and checksum right (the RSDP's two);
 *   - RSDP -> XSDT -> FADT -> DSDT and XSDT -> MADT;
 *   - the FADT: hardware-reduced, reset and sleep registers at the power
 *     port, RESET_VALUE, boot flags; the MADT: one enabled local APIC per
 *     vCPU, APIC IDs 0..n-1, the IOAPIC after them;
 *   - the DSDT: \_S5, COM1 (IO 0x3f8/8, GSI 4 edge high) and one
 *     LNRO0005 per virtio-mmio device k (window, GSI 16 + k level high);
 *   - what is left in the region from before is cleared.
 * With ACPI_DUMP_DIR=DIR each variant also writes its tables to
 * DIR/<variant>/{rsdp,xsdt,facp,apic,dsdt}.dat, which
 * selftests/host/acpi.bats disassembles with iasl.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "../../userspace/vmxctl_machine.h"

#define RAM_SIZE	(1ULL << 20)

static char last_err[1024];

void vmxctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
}

/* little-endian fields of a table */
static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* How often @needle occurs in @hay. */
static unsigned int count(const uint8_t *hay, size_t len, const void *needle,
			  size_t n)
{
	unsigned int c = 0;
	size_t i;

	for (i = 0; i + n <= len; i++)
		c += !memcmp(hay + i, needle, n);
	return c;
}

/* A stand-in virtio-mmio device: only its window matters here. */
static void nop_mmio(struct vmxctl_device *d, uint64_t offset, bool write,
		     uint64_t *val, unsigned int size)
{
	(void)d, (void)offset, (void)size;
	if (!write)
		*val = 0;
}

static const struct vmxctl_dev_ops nop_ops = { .mmio = nop_mmio };

FIXTURE(acpi) {
	char dir[64], serial[96], disk[96];
	struct vmxctl_machine m;
	struct vmxctl_device extra[VMXCTL_VIRTIO_MMIO_MAX];
	uint8_t *ram;
	unsigned int nr_virtio;
	uint32_t virtio_mask;	/* bit k: a device in slot k */
};

FIXTURE_VARIANT(acpi) {
	const char *name;
	unsigned int cpus;
	bool disk;
	uint32_t extra;		/* bit k: a stand-in device in slot k */
};

FIXTURE_VARIANT_ADD(acpi, cpus1) { .name = "cpus1", .cpus = 1 };
FIXTURE_VARIANT_ADD(acpi, cpus1_disk) {
	.name = "cpus1_disk", .cpus = 1, .disk = true };
FIXTURE_VARIANT_ADD(acpi, cpus2_disk) {
	.name = "cpus2_disk", .cpus = 2, .disk = true };
FIXTURE_VARIANT_ADD(acpi, cpus_max) {
	.name = "cpus_max", .cpus = VMXCTL_MAX_VCPUS };
/* four virtio-mmio devices, the last slot one of them, gaps between */
FIXTURE_VARIANT_ADD(acpi, cpus_max_virtio4) {
	.name = "cpus_max_virtio4", .cpus = VMXCTL_MAX_VCPUS, .disk = true,
	.extra = 1u << 1 | 1u << 2 | 1u << (VMXCTL_VIRTIO_MMIO_MAX - 1) };

FIXTURE_SETUP(acpi)
{
	struct vmxctl_machine *m = &self->m;
	unsigned int k;
	FILE *f;

	snprintf(self->dir, sizeof(self->dir), "/tmp/test_acpi.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->serial, sizeof(self->serial), "%s/serial", self->dir);
	snprintf(self->disk, sizeof(self->disk), "%s/disk.img", self->dir);
	f = fopen(self->disk, "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, ftruncate(fileno(f), 1 << 20));
	fclose(f);

	memset(m, 0, sizeof(*m));
	vmxctl_machine_init(m);
	self->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
	m->slots[0] = (struct vmxctl_slot){ .gpa = 0, .size = RAM_SIZE,
					    .hva = self->ram };
	m->nr_slots = 1;
	m->cfg.nr_cpus = variant->cpus;
	m->cfg.serial = self->serial;
	m->cfg.disk = variant->disk ? self->disk : NULL;
	ASSERT_EQ(0, vmxctl_machine_add_devices(m));
	self->virtio_mask = variant->disk;
	for (k = 0; k < VMXCTL_VIRTIO_MMIO_MAX; k++) {
		struct vmxctl_device *d = &self->extra[k];

		if (!(variant->extra & (1u << k)))
			continue;
		snprintf(d->name, sizeof(d->name), "virtio-test%u", k);
		d->ops = &nop_ops;
		d->mmio_base = VMXCTL_VIRTIO_MMIO_GPA +
			       VMXCTL_VIRTIO_MMIO_STRIDE * k;
		d->mmio_len = VMXCTL_VIRTIO_MMIO_STRIDE;
		ASSERT_EQ(0, vmxctl_add_device(m, d));
		self->virtio_mask |= 1u << k;
	}
	self->nr_virtio = __builtin_popcount(self->virtio_mask);
	/* what a previous boot left there must not survive */
	memset(self->ram + VMXCTL_ACPI_GPA, 0xa5, VMXCTL_ACPI_SIZE);
}

FIXTURE_TEARDOWN(acpi)
{
	char path[160];

	vmxctl_machine_destroy(&self->m);	/* unmaps the RAM */
	unlink(self->serial);
	unlink(self->disk);
	snprintf(path, sizeof(path), "%s", self->dir);
	rmdir(path);
}

struct table {
	const char *sig;
	uint64_t gpa;
	uint32_t len;
};

/*
 * The table at @gpa: inside the region, signature @sig, its length fits,
 * checksum 0. Recorded in @seen (for the overlap check).
 */
static const uint8_t *sdt(struct __test_metadata *_metadata, uint8_t *ram,
			  uint64_t gpa, const char *sig, struct table *seen)
{
	const uint8_t *t = ram + gpa;
	uint32_t len;

	EXPECT_TRUE(gpa >= VMXCTL_ACPI_GPA &&
		    gpa + 36 <= VMXCTL_ACPI_GPA + VMXCTL_ACPI_SIZE)
		TH_LOG("%s at 0x%llx: outside the region", sig,
		       (unsigned long long)gpa);
	if (gpa < VMXCTL_ACPI_GPA ||
	    gpa + 36 > VMXCTL_ACPI_GPA + VMXCTL_ACPI_SIZE)
		return NULL;
	len = le32(t + 4);
	EXPECT_EQ(0, memcmp(t, sig, 4)) TH_LOG("0x%llx: not %s",
					       (unsigned long long)gpa, sig);
	EXPECT_LE(36, len);
	EXPECT_GE(VMXCTL_ACPI_GPA + VMXCTL_ACPI_SIZE, gpa + len);
	if (len < 36 || gpa + len > VMXCTL_ACPI_GPA + VMXCTL_ACPI_SIZE)
		return NULL;
	EXPECT_EQ(0, sum(t, len)) TH_LOG("%s: checksum", sig);
	EXPECT_EQ(0, memcmp(t + 10, "VMXLTE", 6));
	*seen = (struct table){ .sig = sig, .gpa = gpa, .len = len };
	return t;
}

/* A Generic Address Structure: byte-wide I/O port @port. */
static void expect_io_gas(struct __test_metadata *_metadata,
			  const uint8_t *g, uint16_t port, const char *what)
{
	static const uint8_t head[4] = { 1, 8, 0, 1 };

	EXPECT_EQ(0, memcmp(g, head, 4)) TH_LOG("%s: not byte-wide I/O", what);
	EXPECT_EQ(port, le64(g + 4)) TH_LOG("%s", what);
}

static void dump(struct __test_metadata *_metadata, const char *dir,
		 const char *variant, const char *name, const uint8_t *p,
		 size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, variant);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s.dat", dir, variant, name);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(len, fwrite(p, 1, len, f));
	ASSERT_EQ(0, fclose(f));
}

TEST_F(acpi, tables)
{
	uint8_t *ram = self->ram;
	const unsigned int n = variant->cpus;
	struct table t[5] = { { 0 } };
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *e, *body;
	const char *dumpdir = getenv("ACPI_DUMP_DIR");
	uint64_t rsdp_gpa = 0;
	uint32_t blen;
	unsigned int i, j, k;

	ASSERT_EQ(0, vmxctl_acpi_build(&self->m, &rsdp_gpa)) TH_LOG("%s", last_err);
	ASSERT_EQ(VMXCTL_ACPI_GPA, rsdp_gpa);

	/* RSDP: revision 2, two checksums, the XSDT and no RSDT */
	rsdp = ram + rsdp_gpa;
	ASSERT_EQ(0, memcmp(rsdp, "RSD PTR ", 8));
	EXPECT_EQ(0, rsdp_gpa % 16);	/* where a BIOS-area scan looks */
	EXPECT_EQ(0, sum(rsdp, 20));
	EXPECT_EQ(2, rsdp[15]);
	EXPECT_EQ(36, le32(rsdp + 20));
	EXPECT_EQ(0, sum(rsdp, 36));
	EXPECT_EQ(0, le32(rsdp + 16));
	t[0] = (struct table){ .sig = "RSDP", .gpa = rsdp_gpa, .len = 36 };

	xsdt = sdt(_metadata, ram, le64(rsdp + 24), "XSDT", &t[1]);
	ASSERT_NE(NULL, xsdt);
	ASSERT_EQ(36 + 2 * 8, le32(xsdt + 4));
	fadt = sdt(_metadata, ram, le64(xsdt + 36), "FACP", &t[2]);
	madt = sdt(_metadata, ram, le64(xsdt + 44), "APIC", &t[3]);
	ASSERT_NE(NULL, fadt);
	ASSERT_NE(NULL, madt);

	/* FADT 6.x: 276 bytes, hardware-reduced, the power port */
	EXPECT_EQ(276, le32(fadt + 4));
	EXPECT_EQ(6, fadt[8]);
	EXPECT_EQ(5, fadt[131]);			/* minor: 6.5 */
	EXPECT_EQ(0, le32(fadt + 36));			/* no FACS */
	EXPECT_EQ(0, le64(fadt + 132));
	EXPECT_EQ(0, le32(fadt + 40));			/* X_DSDT only */
	EXPECT_NE(0, le32(fadt + 112) & (1u << 20));	/* HW_REDUCED_ACPI */
	EXPECT_NE(0, le32(fadt + 112) & (1u << 10));	/* RESET_REG_SUP */
	EXPECT_EQ(0, le16(fadt + 109) & 3);		/* no legacy, no 8042 */
	EXPECT_EQ(0, le16(fadt + 109) & (1u << 5));	/* a CMOS RTC */
	EXPECT_EQ(0, le16(fadt + 46));			/* no SCI */
	EXPECT_EQ(0, le32(fadt + 56) | le32(fadt + 64) | le32(fadt + 76));
	expect_io_gas(_metadata, fadt + 116, VMXCTL_ACPI_PM_PORT, "RESET_REG");
	EXPECT_EQ(VMXCTL_ACPI_RESET_VALUE, fadt[128]);
	expect_io_gas(_metadata, fadt + 244, VMXCTL_ACPI_PM_PORT,
		      "SLEEP_CONTROL_REG");
	expect_io_gas(_metadata, fadt + 256, VMXCTL_ACPI_PM_PORT,
		      "SLEEP_STATUS_REG");
	dsdt = sdt(_metadata, ram, le64(fadt + 140), "DSDT", &t[4]);
	ASSERT_NE(NULL, dsdt);

	/* MADT: the local APICs 0..n-1, enabled; then the IOAPIC, ID n */
	EXPECT_EQ(44 + 8 * n + 12, le32(madt + 4));
	EXPECT_EQ(0xfee00000, le32(madt + 36));
	EXPECT_EQ(0, le32(madt + 40));			/* no PCAT_COMPAT */
	e = madt + 44;
	for (i = 0; i < n; i++, e += 8) {
		EXPECT_EQ(0, e[0]);
		EXPECT_EQ(8, e[1]);
		EXPECT_EQ(i, e[2]);
		EXPECT_EQ(i, e[3]);
		EXPECT_EQ(1, le32(e + 4));
	}
	EXPECT_EQ(1, e[0]);
	EXPECT_EQ(12, e[1]);
	EXPECT_EQ(n, e[2]);
	EXPECT_EQ(0xfec00000, le32(e + 4));
	EXPECT_EQ(0, le32(e + 8));

	/* no two tables overlap */
	for (i = 0; i < ARRAY_SIZE(t); i++)
		for (j = i + 1; j < ARRAY_SIZE(t); j++)
			EXPECT_TRUE(t[i].gpa + t[i].len <= t[j].gpa ||
				    t[j].gpa + t[j].len <= t[i].gpa)
				TH_LOG("%s and %s overlap", t[i].sig, t[j].sig);
	/* the region's stale bytes: gone */
	EXPECT_EQ(0, count(ram + VMXCTL_ACPI_GPA, VMXCTL_ACPI_SIZE,
			   "\xa5\xa5\xa5\xa5", 4));

	/* DSDT: revision 2 (64-bit integers), the devices' resources */
	EXPECT_EQ(2, dsdt[8]);
	body = dsdt + 36;
	blen = le32(dsdt + 4) - 36;
	/* Name (_S5, Package (4) { 5, 0, 0, 0 }) */
	EXPECT_EQ(1, count(body, blen, "\x08_S5_\x12\x07\x04\x0a\x05\0\0\0", 13));
	/* COM1: EisaId ("PNP0501"), IO (Decode16, 0x3f8, 0x3f8, 1, 8), GSI 4 edge */
	EXPECT_EQ(1, count(body, blen, "COM1", 4));
	EXPECT_EQ(1, count(body, blen, "\x08_HID\x0c\x41\xd0\x05\x01", 10));
	EXPECT_EQ(1, count(body, blen, "\x47\x01\xf8\x03\xf8\x03\x01\x08", 8));
	EXPECT_EQ(1, count(body, blen, "\x89\x06\0\x03\x01\x04\0\0\0", 9));
	/* one LNRO0005 per virtio-mmio device */
	EXPECT_EQ(self->nr_virtio, count(body, blen, "\x0dLNRO0005", 10));
	for (k = 0; k < VMXCTL_VIRTIO_MMIO_MAX; k++) {
		uint32_t base = VMXCTL_VIRTIO_MMIO_GPA + 0x1000 * k;
		uint8_t mem[12] = { 0x86, 9, 0, 1, base, base >> 8, base >> 16,
				    base >> 24, 0, 0x10, 0, 0 };
		uint8_t irq[9] = { 0x89, 6, 0, 1, 1, 16 + k, 0, 0, 0 };
		unsigned int want = !!(self->virtio_mask & (1u << k));

		EXPECT_EQ(want, count(body, blen, mem, sizeof(mem)))
			TH_LOG("virtio-mmio %u: Memory32Fixed", k);
		EXPECT_EQ(want, count(body, blen, irq, sizeof(irq)))
			TH_LOG("virtio-mmio %u: Interrupt", k);
	}

	if (!dumpdir)
		return;
	dump(_metadata, dumpdir, variant->name, "rsdp", rsdp, 36);
	for (i = 1; i < ARRAY_SIZE(t); i++) {
		char name[5];

		for (j = 0; j < 4; j++)
			name[j] = tolower(t[i].sig[j]);
		name[4] = 0;
		dump(_metadata, dumpdir, variant->name, name, ram + t[i].gpa,
		     t[i].len);
	}
}

/* Built twice: the same bytes (no state kept between builds). */
TEST_F(acpi, repeatable)
{
	static uint8_t first[VMXCTL_ACPI_SIZE];
	uint64_t gpa;

	ASSERT_EQ(0, vmxctl_acpi_build(&self->m, &gpa));
	memcpy(first, self->ram + gpa, sizeof(first));
	memset(self->ram + gpa, 0x5a, sizeof(first));
	ASSERT_EQ(0, vmxctl_acpi_build(&self->m, &gpa));
	EXPECT_EQ(0, memcmp(first, self->ram + gpa, sizeof(first)));
}

TEST_F(acpi, refused)
{
	struct vmxctl_machine *m = &self->m;
	uint64_t gpa = 0x1234;

	m->cfg.nr_cpus = 0;
	EXPECT_EQ(-EINVAL, vmxctl_acpi_build(m, &gpa));
	m->cfg.nr_cpus = VMXCTL_MAX_VCPUS + 1;
	EXPECT_EQ(-EINVAL, vmxctl_acpi_build(m, &gpa));
	EXPECT_NE(NULL, strstr(last_err, "vCPUs"));
	m->cfg.nr_cpus = variant->cpus;
	/* RAM that ends inside the region (--mem below 1 MiB) */
	m->slots[0].size = VMXCTL_ACPI_GPA + VMXCTL_ACPI_SIZE - PAGE_SIZE;
	EXPECT_EQ(-EFAULT, vmxctl_acpi_build(m, &gpa));
	EXPECT_NE(NULL, strstr(last_err, "0xe0000"));
	m->slots[0].size = RAM_SIZE;
	EXPECT_EQ(0x1234, gpa);		/* untouched on failure */
}

TEST_HARNESS_MAIN
