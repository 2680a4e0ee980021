// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test: every device with state passes a save/restore round
 * trip (crosvm's suspendable_tests). The devices are the ones vmxctl's
 * own vmxctl_machine_add_devices() builds (--serial FILE, --disk FILE,
 * and again with the Linux platform: IOAPIC, RTC), so a device added
 * there is tested here without a line more. For each,
 * paused as the interface requires:
 *   1. drive it away from reset (writes to every register) and save: A;
 *   2. read every register (what the guest would see): R;
 *   3. change it (other writes), check its state moved, restore A;
 *   4. save again (== A, byte for byte) and read again (== R);
 *   5. the same restore into a second, fresh machine (what --restore
 *      does): == A and == R;
 *   6. a state of another version, or cut short, is refused with -EINVAL
 *      and the device keeps its state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../../userspace/vmxctl_machine.h"

/* Registers a read or write touches: the first ones of an MMIO window. */
#define MMIO_REGS	0x200

void vmxctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# vmxctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Per device, optional: a state deeper than register scribbles reach
 * (a programmed virtqueue). Not needed for a device to be tested.
 */
static void program_virtqueue(struct vmxctl_device *d)
{
	static const struct { uint32_t off, val; } w[] = {
		{ 0x070, 0x3 },			/* Status: ACK | DRIVER */
		{ 0x024, 1 }, { 0x020, 1 },	/* VERSION_1 */
		{ 0x070, 0xb },			/* | FEATURES_OK */
		{ 0x030, 0 }, { 0x038, 64 },	/* queue 0, 64 entries */
		{ 0x080, 0x10000 }, { 0x090, 0x20000 }, { 0x0a0, 0x30000 },
		{ 0x044, 1 },			/* QueueReady */
		{ 0x070, 0xf },			/* | DRIVER_OK */
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(w); i++) {
		uint64_t v = w[i].val;

		vmxctl_bus_mmio(d->m, d->mmio_base + w[i].off, true, &v, 4);
	}
}

/* The RTC's clock runs: freeze it (B.SET) so that reads repeat. */
static void freeze_rtc(struct vmxctl_device *d)
{
	uint64_t v = 0x0b;

	vmxctl_bus_pio(d->m, d->port_base, true, &v, 1);
	v = 0x82;
	vmxctl_bus_pio(d->m, d->port_base + 1, true, &v, 1);
}

static const struct {
	const char *name;
	void (*deepen)(struct vmxctl_device *d);
} deeper[] = {
	{ "virtio-blk0", program_virtqueue },
	{ "rtc0", freeze_rtc },
};

/* The IOAPIC sends nothing here: no VM (deps.mk wraps the call). */
int __wrap_vmxlite_signal_msi(int vm_fd, uint32_t address, uint32_t data);
int __wrap_vmxlite_signal_msi(int vm_fd, uint32_t address, uint32_t data)
{
	(void)vm_fd, (void)address, (void)data;
	return 1;
}

/* A device's registers, written through the bus in offset order. */
static void scribble(struct vmxctl_device *d, uint32_t seed)
{
	uint64_t off, v;

	for (off = 0; off < d->port_len; off++) {
		v = (seed * 0x9e3779b1u + off * 0x45) >> 8;
		vmxctl_bus_pio(d->m, d->port_base + off, true, &v, 1);
	}
	for (off = 0; off < d->mmio_len && off < MMIO_REGS; off += 4) {
		v = (uint32_t)((seed * 0x9e3779b1u) ^ (off * 0x85ebca6bu));
		vmxctl_bus_mmio(d->m, d->mmio_base + off, true, &v, 4);
	}
}

/* Read every register once, in offset order: what the guest sees. */
static size_t read_all(struct vmxctl_device *d, uint64_t *out)
{
	uint64_t off;
	size_t n = 0;

	for (off = 0; off < d->port_len; off++) {
		out[n] = 0;
		vmxctl_bus_pio(d->m, d->port_base + off, false, &out[n++], 1);
	}
	for (off = 0; off < d->mmio_len && off < MMIO_REGS; off += 4) {
		out[n] = 0;
		vmxctl_bus_mmio(d->m, d->mmio_base + off, false, &out[n++], 4);
	}
	return n;
}

static struct vmxctl_device *by_name(struct vmxctl_machine *m,
				     const char *name)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++)
		if (!strcmp(m->devices[i]->name, name))
			return m->devices[i];
	return NULL;
}

/* The index of the first register that reads differently, or @n. */
static unsigned int first_diff(const uint64_t *a, const uint64_t *b,
			       size_t n)
{
	unsigned int k;

	for (k = 0; k < n && a[k] == b[k]; k++)
		;
	return k;
}

static bool same_state(const struct vmxctl_dev_state *a,
		       const struct vmxctl_dev_state *b)
{
	return a->version == b->version && a->len == b->len &&
	       !memcmp(a->data, b->data, a->len);
}

/*
 * Device @idx (@d) of @m, restored from @a: it saves @a again, and its
 * registers read @before (@n of them).
 */
static void expect_restored(struct __test_metadata *_metadata,
			    struct vmxctl_machine *m, unsigned int idx,
			    struct vmxctl_device *d,
			    const struct vmxctl_dev_state *a,
			    const uint64_t *before, size_t n, const char *how)
{
	static uint64_t after[0x10000 + MMIO_REGS / 4];
	struct vmxctl_dev_state b;
	unsigned int k;

	ASSERT_EQ(0, vmxctl_device_save(m, idx, &b));
	EXPECT_TRUE(same_state(a, &b))
		TH_LOG("%s, %s: saved %u bytes, saved after the restore %u others",
		       d->name, how, a->len, b.len);
	free(b.data);
	ASSERT_EQ(n, read_all(d, after));
	k = first_diff(before, after, n);
	EXPECT_EQ(n, k)
		TH_LOG("%s, %s: register %u reads 0x%llx, before 0x%llx",
		       d->name, how, k, (unsigned long long)after[k],
		       (unsigned long long)before[k]);
}

FIXTURE(devices) {
	char dir[64], serial[2][96], disk[96];
	struct vmxctl_machine m[2];
};

FIXTURE_VARIANT(devices) {
	bool linux_platform;
};

FIXTURE_VARIANT_ADD(devices, plain) {
	.linux_platform = false,
};

FIXTURE_VARIANT_ADD(devices, linux) {
	.linux_platform = true,
};

FIXTURE_SETUP(devices)
{
	unsigned int i;
	FILE *f;

	snprintf(self->dir, sizeof(self->dir), "/tmp/test_devices.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->disk, sizeof(self->disk), "%s/disk.img", self->dir);
	f = fopen(self->disk, "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, ftruncate(fileno(f), 1 << 20));
	fclose(f);
	for (i = 0; i < 2; i++) {
		struct vmxctl_machine *m = &self->m[i];

		snprintf(self->serial[i], sizeof(self->serial[i]),
			 "%s/serial%u", self->dir, i);
		memset(m, 0, sizeof(*m));
		vmxctl_machine_init(m);
		m->cfg.serial = self->serial[i];
		m->cfg.disk = self->disk;
		m->cfg.linux_platform = variant->linux_platform;
		ASSERT_EQ(0, vmxctl_machine_add_devices(m));
		/* No vCPUs: this only quiesces the devices. */
		ASSERT_EQ(0, vmxctl_pause(m));
	}
}

FIXTURE_TEARDOWN(devices)
{
	char path[160];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		vmxctl_machine_destroy(&self->m[i]);
		unlink(self->serial[i]);
	}
	unlink(self->disk);
	snprintf(path, sizeof(path), "%s", self->dir);
	rmdir(path);
}

TEST_F(devices, save_change_restore_compare)
{
	struct vmxctl_machine *m = &self->m[0];
	static uint64_t before[0x10000 + MMIO_REGS / 4];
	unsigned int i, k, tested = 0;

	for (i = 0; i < vmxctl_nr_devices(m); i++) {
		const char *name = vmxctl_device_name(m, i);
		struct vmxctl_device *d = by_name(m, name);
		struct vmxctl_device *fresh = by_name(&self->m[1], name);
		struct vmxctl_dev_state a, b, c, bad;
		size_t n;

		ASSERT_NE(NULL, d);
		ASSERT_NE(NULL, fresh);
		TH_LOG("device %s", name);

		/* 1. away from reset */
		scribble(d, 1);
		for (k = 0; k < ARRAY_SIZE(deeper); k++)
			if (!strcmp(deeper[k].name, name))
				deeper[k].deepen(d);
		ASSERT_EQ(0, vmxctl_device_save(m, i, &a));
		EXPECT_STREQ(name, a.name);
		ASSERT_LT(0, a.len);
		/* 2. what the guest sees of it */
		n = read_all(d, before);

		/* 3. changed, then restored */
		scribble(d, 2);
		ASSERT_EQ(0, vmxctl_device_save(m, i, &c));
		EXPECT_FALSE(same_state(&a, &c))
			TH_LOG("%s: writes to every register changed no state", name);
		free(c.data);
		ASSERT_EQ(0, vmxctl_device_restore(m, &a));

		/* 4. the same device again */
		expect_restored(_metadata, m, i, d, &a, before, n, "in place");
		/* 5. into a fresh machine, as --restore does */
		ASSERT_EQ(0, vmxctl_device_restore(&self->m[1], &a));
		expect_restored(_metadata, &self->m[1], i, fresh, &a, before, n,
				"fresh");

		/* 6. states it cannot know are refused, the device unchanged */
		ASSERT_EQ(0, vmxctl_device_save(m, i, &c));
		bad = a;
		bad.version = a.version + 1;
		EXPECT_EQ(-EINVAL, vmxctl_device_restore(m, &bad));
		bad = a;
		bad.len = a.len - 1;
		EXPECT_EQ(-EINVAL, vmxctl_device_restore(m, &bad));
		ASSERT_EQ(0, vmxctl_device_save(m, i, &b));
		EXPECT_TRUE(same_state(&b, &c));
		free(b.data);
		free(c.data);
		free(a.data);
		tested++;
	}
	/* The machine vmxctl builds from --serial and --disk: both. */
	EXPECT_LE(variant->linux_platform ? 4 : 2, tested);
	EXPECT_NE(NULL, by_name(m, "uart0"));
	EXPECT_NE(NULL, by_name(m, "virtio-blk0"));
	if (variant->linux_platform) {
		EXPECT_NE(NULL, by_name(m, "ioapic0"));
		EXPECT_NE(NULL, by_name(m, "rtc0"));
	}
}

TEST_F(devices, unknown_name_refused)
{
	struct vmxctl_dev_state st = { .name = "virtio-net0", .version = 1 };

	EXPECT_EQ(-ENOENT, vmxctl_device_restore(&self->m[0], &st));
	/* the exit port is on the bus, but has no state to restore */
	snprintf(st.name, sizeof(st.name), "exit-port");
	EXPECT_EQ(-ENOENT, vmxctl_device_restore(&self->m[0], &st));
}

TEST_HARNESS_MAIN
