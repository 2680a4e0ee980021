// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of vmxctl's device bus (userspace/vmxctl_bus.c), built
 * from the same sources as vmxctl, on a machine without a kernel VM:
 * a range that overlaps another device's (partly, inside, around, by one
 * port or byte) is refused with -EEXIST and leaves the bus as it was;
 * ranges that only touch are accepted; a taken name, a range without a
 * handler or past the end of the space, a full bus are refused; handlers
 * get the offset into their range, PIO as MMIO; the exit port is a device
 * that stops the machine and has no state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "../../userspace/vmxctl_machine.h"

/* vmxctl's messages (vmxctl.c is main's file): the last one, kept. */
static char last_err[1024];

void vmxctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
}

/* A device that records the last access it got. */
struct probe {
	struct vmxctl_device dev;
	unsigned int calls;
	bool pio, write;
	uint64_t offset, val;
	unsigned int size;
};

static void record(struct vmxctl_device *d, bool pio, uint64_t offset,
		   bool write, uint64_t *val, unsigned int size)
{
	struct probe *p = d->priv;

	p->calls++;
	p->pio = pio;
	p->offset = offset;
	p->write = write;
	p->size = size;
	if (write)
		p->val = *val;
	else
		*val = 0x5a00 + offset;	/* reads answer with the offset */
}

static void probe_pio(struct vmxctl_device *d, uint64_t offset, bool write,
		      uint64_t *val, unsigned int size)
{
	record(d, true, offset, write, val, size);
}

static void probe_mmio(struct vmxctl_device *d, uint64_t offset, bool write,
		       uint64_t *val, unsigned int size)
{
	record(d, false, offset, write, val, size);
}

static const struct vmxctl_dev_ops probe_ops = {
	.pio = probe_pio,
	.mmio = probe_mmio,
};

static void probe_init(struct probe *p, const char *name, uint16_t port,
		       uint16_t nports, uint64_t gpa, uint64_t len)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dev.name, sizeof(p->dev.name), "%s", name);
	p->dev.ops = &probe_ops;
	p->dev.port_base = port;
	p->dev.port_len = nports;
	p->dev.mmio_base = gpa;
	p->dev.mmio_len = len;
	p->dev.priv = p;
}

/*
 * Probes a test puts on the bus are static: the teardown walks the bus.
 * (Each test runs in its own process.)
 */
FIXTURE(bus) {
	struct vmxctl_machine m;
	struct probe a;		/* ports 0x100-0x107, MMIO 0x10000-0x10fff */
};

FIXTURE_SETUP(bus)
{
	memset(&self->m, 0, sizeof(self->m));
	vmxctl_machine_init(&self->m);
	probe_init(&self->a, "a", 0x100, 8, 0x10000, 0x1000);
	ASSERT_EQ(0, vmxctl_add_device(&self->m, &self->a.dev));
}

FIXTURE_TEARDOWN(bus)
{
	vmxctl_machine_destroy(&self->m);
}

TEST_F(bus, overlapping_ports_refused)
{
	static const struct { uint16_t base, len; } bad[] = {
		{ 0x100, 8 },	/* the same */
		{ 0x107, 4 },	/* its last port */
		{ 0x0f8, 9 },	/* up to its first port */
		{ 0x102, 2 },	/* inside */
		{ 0x0f0, 0x40 },	/* around */
	};
	static struct probe b, c, d;
	uint64_t val = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		probe_init(&b, "b", bad[i].base, bad[i].len, 0, 0);
		last_err[0] = 0;
		EXPECT_EQ(-EEXIST, vmxctl_add_device(&self->m, &b.dev))
			TH_LOG("ports 0x%x+%u", bad[i].base, bad[i].len);
		EXPECT_NE(NULL, strstr(last_err, "overlap device 'a'"))
			TH_LOG("message: %s", last_err);
	}
	EXPECT_EQ(1, self->m.nr_devices);
	/* The refused claims changed nothing: a still owns its ports. */
	EXPECT_TRUE(vmxctl_bus_pio(&self->m, 0x107, false, &val, 1));
	EXPECT_EQ(1, self->a.calls);
	EXPECT_EQ(0, b.calls);
	/* Touching is not overlapping. */
	probe_init(&c, "c", 0x108, 8, 0, 0);
	EXPECT_EQ(0, vmxctl_add_device(&self->m, &c.dev));
	probe_init(&d, "d", 0x0f8, 8, 0, 0);
	EXPECT_EQ(0, vmxctl_add_device(&self->m, &d.dev));
}

TEST_F(bus, overlapping_mmio_refused)
{
	static const struct { uint64_t base, len; } bad[] = {
		{ 0x10000, 0x1000 },
		{ 0x10fff, 1 },
		{ 0xf000, 0x1001 },
		{ 0x10800, 0x10 },
		{ 0, 1ULL << 40 },
		{ 0x10000, UINT64_MAX - 0x10000 + 1 },	/* to the very end */
	};
	static struct probe b, c, d;
	uint64_t val = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		probe_init(&b, "b", 0, 0, bad[i].base, bad[i].len);
		last_err[0] = 0;
		EXPECT_EQ(-EEXIST, vmxctl_add_device(&self->m, &b.dev))
			TH_LOG("MMIO 0x%llx+0x%llx",
			       (unsigned long long)bad[i].base,
			       (unsigned long long)bad[i].len);
		EXPECT_NE(NULL, strstr(last_err, "overlaps device 'a'"))
			TH_LOG("message: %s", last_err);
	}
	EXPECT_TRUE(vmxctl_bus_mmio(&self->m, 0x10fff, false, &val, 1));
	EXPECT_EQ(1, self->a.calls);
	probe_init(&c, "c", 0, 0, 0x11000, 0x1000);
	EXPECT_EQ(0, vmxctl_add_device(&self->m, &c.dev));
	probe_init(&d, "d", 0, 0, 0xf000, 0x1000);
	EXPECT_EQ(0, vmxctl_add_device(&self->m, &d.dev));
}

TEST_F(bus, bad_claims_refused)
{
	static const struct vmxctl_dev_ops no_mmio = { .pio = probe_pio };
	static struct probe b, top;

	probe_init(&b, "a", 0x200, 1, 0, 0);
	EXPECT_EQ(-EEXIST, vmxctl_add_device(&self->m, &b.dev));
	EXPECT_NE(NULL, strstr(last_err, "the name is taken"));
	probe_init(&b, "b", 0xfffc, 8, 0, 0);	/* past port 0xffff */
	EXPECT_EQ(-EINVAL, vmxctl_add_device(&self->m, &b.dev));
	probe_init(&top, "top", 0xfff8, 8, 0, 0);	/* up to 0xffff: fine */
	EXPECT_EQ(0, vmxctl_add_device(&self->m, &top.dev));
	probe_init(&b, "c", 0, 0, UINT64_MAX - 0xfff, 0x2000);
	EXPECT_EQ(-EINVAL, vmxctl_add_device(&self->m, &b.dev));
	probe_init(&b, "c", 0, 0, 0x20000, 0x1000);
	b.dev.ops = &no_mmio;
	EXPECT_EQ(-EINVAL, vmxctl_add_device(&self->m, &b.dev));
	probe_init(&b, "", 0x300, 1, 0, 0);
	EXPECT_EQ(-EINVAL, vmxctl_add_device(&self->m, &b.dev));
	EXPECT_EQ(2, self->m.nr_devices);
}

TEST_F(bus, full_bus_refused)
{
	static struct probe more[MAX_DEVICES];
	unsigned int i;

	for (i = 1; i < MAX_DEVICES; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%u", i);
		probe_init(&more[i], name, 0x1000 + i, 1, 0, 0);
		ASSERT_EQ(0, vmxctl_add_device(&self->m, &more[i].dev));
	}
	probe_init(&more[0], "last", 0x2000, 1, 0, 0);
	EXPECT_EQ(-ENOSPC, vmxctl_add_device(&self->m, &more[0].dev));
}

TEST_F(bus, handlers_get_offsets)
{
	static struct probe b;
	uint64_t val;

	probe_init(&b, "b", VMXCTL_UART_PORT, 8, VMXCTL_VIRTIO_BLK_GPA, 0x1000);
	ASSERT_EQ(0, vmxctl_add_device(&self->m, &b.dev));

	val = 0x41;
	ASSERT_TRUE(vmxctl_bus_pio(&self->m, VMXCTL_UART_PORT + 3, true, &val, 1));
	EXPECT_TRUE(b.pio);
	EXPECT_TRUE(b.write);
	EXPECT_EQ(3, b.offset);
	EXPECT_EQ(0x41, b.val);
	EXPECT_EQ(1, b.size);

	ASSERT_TRUE(vmxctl_bus_pio(&self->m, VMXCTL_UART_PORT + 7, false, &val, 2));
	EXPECT_FALSE(b.write);
	EXPECT_EQ(7, b.offset);
	EXPECT_EQ(2, b.size);
	EXPECT_EQ(0x5a07, val);

	ASSERT_TRUE(vmxctl_bus_mmio(&self->m, VMXCTL_VIRTIO_BLK_GPA + 0x123,
				    false, &val, 4));
	EXPECT_FALSE(b.pio);
	EXPECT_EQ(0x123, b.offset);
	EXPECT_EQ(4, b.size);
	EXPECT_EQ(0x5a00 + 0x123, val);

	val = 0x1122334455667788ULL;
	ASSERT_TRUE(vmxctl_bus_mmio(&self->m, VMXCTL_VIRTIO_BLK_GPA + 0xff8,
				    true, &val, 8));
	EXPECT_EQ(0xff8, b.offset);
	EXPECT_EQ(0x1122334455667788ULL, b.val);
	EXPECT_EQ(4, b.calls);

	/* One past either end: nobody's. */
	EXPECT_FALSE(vmxctl_bus_pio(&self->m, VMXCTL_UART_PORT + 8, false, &val, 1));
	EXPECT_FALSE(vmxctl_bus_pio(&self->m, VMXCTL_UART_PORT - 1, false, &val, 1));
	EXPECT_FALSE(vmxctl_bus_mmio(&self->m, VMXCTL_VIRTIO_BLK_GPA + 0x1000,
				     false, &val, 4));
	EXPECT_FALSE(vmxctl_bus_mmio(&self->m, VMXCTL_VIRTIO_BLK_GPA - 1,
				     false, &val, 1));
	EXPECT_EQ(4, b.calls);
	/* a, at 0x100 and 0x10000, gets its own offsets too. */
	ASSERT_TRUE(vmxctl_bus_pio(&self->m, 0x105, false, &val, 1));
	EXPECT_EQ(5, self->a.offset);
	ASSERT_TRUE(vmxctl_bus_mmio(&self->m, 0x10010, false, &val, 4));
	EXPECT_EQ(0x10, self->a.offset);
}

TEST_F(bus, exit_port_is_a_device)
{
	struct probe b;		/* refused: never on the bus */
	uint64_t val = 0xffffffff;

	ASSERT_EQ(0, vmxctl_exit_port_create(&self->m));
	EXPECT_EQ(2, self->m.nr_devices);
	/* No state: not among the devices snapshots and status list. */
	EXPECT_EQ(0, vmxctl_nr_devices(&self->m));
	probe_init(&b, "b", VMXCTL_EXIT_PORT, 1, 0, 0);
	EXPECT_EQ(-EEXIST, vmxctl_add_device(&self->m, &b.dev));

	ASSERT_TRUE(vmxctl_bus_pio(&self->m, VMXCTL_EXIT_PORT, false, &val, 4));
	EXPECT_EQ(0, val);
	EXPECT_FALSE(vmxctl_machine_stopping(&self->m));
	val = 0x1207;	/* the low byte is the code */
	ASSERT_TRUE(vmxctl_bus_pio(&self->m, VMXCTL_EXIT_PORT, true, &val, 2));
	EXPECT_TRUE(vmxctl_machine_stopping(&self->m));
	EXPECT_EQ(7, self->m.status);
	/* The first stop's status wins. */
	val = 9;
	ASSERT_TRUE(vmxctl_bus_pio(&self->m, VMXCTL_EXIT_PORT, true, &val, 1));
	EXPECT_EQ(7, self->m.status);
}

TEST_F(bus, exit_code_above_63_exits_63)
{
	uint64_t val = 200;

	ASSERT_EQ(0, vmxctl_exit_port_create(&self->m));
	ASSERT_TRUE(vmxctl_bus_pio(&self->m, VMXCTL_EXIT_PORT, true, &val, 1));
	EXPECT_EQ(VMXCTL_EXIT_GUEST_MAX, self->m.status);
	EXPECT_NE(NULL, strstr(last_err, "guest exit code 200 above 63"));
}

TEST_HARNESS_MAIN
