// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of the Linux platform devices (userspace/vmxctl_ioapic.c,
 * vmxctl_uart.c's interrupts, vmxctl_rtc.c, vmxctl_platform.c), built
 * from the same sources as vmxctl on a machine without a kernel VM: the
 * machine is vmxctl's own (vmxctl_machine_add_devices() with
 * cfg.linux_platform), guest accesses go through its bus, and the two
 * things that would leave the process are faked by the linker
 * (deps.mk: --wrap): VMXL_SIGNAL_MSI is recorded, and time() is a clock
 * the test sets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../../userspace/vmxctl_machine.h"

void vmxctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# vmxctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- fakes ---- */

static struct { uint32_t address, data; } msis[64];
static unsigned int nr_msis;
static int msi_answer = 1;	/* APICs that take each message */

int __wrap_vmxlite_signal_msi(int vm_fd, uint32_t address, uint32_t data);
int __wrap_vmxlite_signal_msi(int vm_fd, uint32_t address, uint32_t data)
{
	(void)vm_fd;
	if (nr_msis < ARRAY_SIZE(msis)) {
		msis[nr_msis].address = address;
		msis[nr_msis].data = data;
	}
	nr_msis++;
	return msi_answer;
}

static time_t fake_now;	/* 0: the real clock */

time_t __real_time(time_t *t);
time_t __wrap_time(time_t *t);
time_t __wrap_time(time_t *t)
{
	if (!fake_now)
		return __real_time(t);
	if (t)
		*t = fake_now;
	return fake_now;
}

/* ---- guest accesses ---- */

static uint8_t inb(struct vmxctl_machine *m, uint16_t port)
{
	uint64_t v = 0xdead;

	if (!vmxctl_bus_pio(m, port, false, &v, 1))
		return 0xee;	/* no device there: no test expects it */
	return v;
}

static void outb(struct vmxctl_machine *m, uint16_t port, uint8_t val)
{
	uint64_t v = val;

	vmxctl_bus_pio(m, port, true, &v, 1);
}

static uint32_t ioapic_read(struct vmxctl_machine *m, uint32_t reg)
{
	uint64_t v = reg;

	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA, true, &v, 4);
	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA + 0x10, false, &v, 4);
	return v;
}

static void ioapic_write(struct vmxctl_machine *m, uint32_t reg, uint32_t val)
{
	uint64_t v = reg;

	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA, true, &v, 4);
	v = val;
	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA + 0x10, true, &v, 4);
}

/* Redirection entry of @pin, as Linux writes it: high half first. */
static void set_entry(struct vmxctl_machine *m, unsigned int pin, uint64_t e)
{
	ioapic_write(m, 0x11 + 2 * pin, e >> 32);
	ioapic_write(m, 0x10 + 2 * pin, (uint32_t)e);
}

static uint64_t entry(struct vmxctl_machine *m, unsigned int pin)
{
	return (uint64_t)ioapic_read(m, 0x11 + 2 * pin) << 32 |
	       ioapic_read(m, 0x10 + 2 * pin);
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

#define RTE_LEVEL	(1ULL << 15)
#define RTE_REMOTE_IRR	(1ULL << 14)
#define RTE_DELIVS	(1ULL << 12)
#define RTE_MASK	(1ULL << 16)
#define COM1		VMXCTL_UART_PORT

FIXTURE(platform) {
	char dir[64], serial[96];
	struct vmxctl_machine m;
};

FIXTURE_SETUP(platform)
{
	struct vmxctl_machine *m = &self->m;

	snprintf(self->dir, sizeof(self->dir), "/tmp/test_platform.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->serial, sizeof(self->serial), "%s/serial", self->dir);
	memset(m, 0, sizeof(*m));
	vmxctl_machine_init(m);
	m->cfg.serial = self->serial;
	m->cfg.linux_platform = true;
	m->nr_vcpus = 2;	/* the IOAPIC's ID; no vCPU threads */
	ASSERT_EQ(0, vmxctl_machine_add_devices(m));
	nr_msis = 0;
	msi_answer = 1;
	fake_now = 0;
}

FIXTURE_TEARDOWN(platform)
{
	char path[160];

	self->m.nr_vcpus = 0;
	vmxctl_machine_destroy(&self->m);
	unlink(self->serial);
	snprintf(path, sizeof(path), "%s", self->dir);
	rmdir(path);
}

/* ---- IOAPIC ---- */

TEST_F(platform, ioapic_registers)
{
	struct vmxctl_machine *m = &self->m;
	unsigned int pin;
	uint64_t v = 0;

	EXPECT_EQ(2u << 24, ioapic_read(m, 0x00));	/* ID = vCPUs */
	EXPECT_EQ(0x00170011u, ioapic_read(m, 0x01));
	EXPECT_EQ(2u << 24, ioapic_read(m, 0x02));	/* arbitration */
	for (pin = 0; pin < 24; pin++)
		EXPECT_EQ(RTE_MASK, entry(m, pin));	/* reset: masked */
	EXPECT_EQ(0u, ioapic_read(m, 0x10 + 2 * 24));	/* past pin 23 */
	EXPECT_EQ(0u, ioapic_read(m, 0x03));

	ioapic_write(m, 0x00, 0xffffffff);
	EXPECT_EQ(0x0f000000u, ioapic_read(m, 0x00));
	ioapic_write(m, 0x01, 0);			/* read-only */
	EXPECT_EQ(0x00170011u, ioapic_read(m, 0x01));

	/* every writable bit; delivery status, remote IRR, reserved: not */
	set_entry(m, 5, ~0ULL);
	EXPECT_EQ(0xff0000000001afffULL, entry(m, 5));
	set_entry(m, 5, 0x0300000000004931ULL);
	EXPECT_EQ(0x0300000000000931ULL, entry(m, 5));

	/* IOREGSEL reads back; 8-byte and 1-byte accesses do nothing */
	v = 0x12;
	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA, true, &v, 4);
	v = 0;
	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA, false, &v, 4);
	EXPECT_EQ(0x12u, v);
	v = 0x10;
	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA, true, &v, 1);
	v = 0;
	vmxctl_bus_mmio(m, VMXCTL_IOAPIC_GPA, false, &v, 4);
	EXPECT_EQ(0x12u, v);
	EXPECT_EQ(0u, nr_msis);
}

TEST(ioapic_msi_encoding)
{
	uint32_t a, d;

	/* fixed, physical, edge, vector 0x31 to APIC 3 */
	ASSERT_TRUE(vmxctl_ioapic_msi(0x0300000000000031ULL, &a, &d));
	EXPECT_EQ(0xfee03000u, a);
	EXPECT_EQ(0x31u, d);
	/* lowest priority, logical, level, to logical 0x0f */
	ASSERT_TRUE(vmxctl_ioapic_msi(0x0f00000000008940ULL, &a, &d));
	EXPECT_EQ(0xfee0f004u, a);
	EXPECT_EQ(0x8140u, d);
	/* broadcast */
	ASSERT_TRUE(vmxctl_ioapic_msi(0xff00000000000020ULL, &a, &d));
	EXPECT_EQ(0xfeeff000u, a);
	/* NMI and INIT: edge whatever the entry says, vector kept */
	ASSERT_TRUE(vmxctl_ioapic_msi(0x0100000000008402ULL, &a, &d));
	EXPECT_EQ(0x402u, d);
	ASSERT_TRUE(vmxctl_ioapic_msi(0x0000000000000500ULL, &a, &d));
	EXPECT_EQ(0x500u, d);
	/* what VMXL_SIGNAL_MSI refuses */
	EXPECT_FALSE(vmxctl_ioapic_msi(0x000000000000020fULL, &a, &d)); /* SMI */
	EXPECT_FALSE(vmxctl_ioapic_msi(0x0000000000000330ULL, &a, &d)); /* rsvd */
	EXPECT_FALSE(vmxctl_ioapic_msi(0x0000000000000630ULL, &a, &d)); /* SIPI */
	EXPECT_FALSE(vmxctl_ioapic_msi(0x0000000000000730ULL, &a, &d)); /* ExtINT */
	EXPECT_FALSE(vmxctl_ioapic_msi(0x000000000000000fULL, &a, &d)); /* < 16 */
	EXPECT_FALSE(vmxctl_ioapic_msi(0x000000000000010fULL, &a, &d));
}

TEST_F(platform, ioapic_edge)
{
	struct vmxctl_machine *m = &self->m;

	set_entry(m, 7, 0x0100000000000030ULL);
	vmxctl_ioapic_set_irq(m, 7, true);
	ASSERT_EQ(1u, nr_msis);
	EXPECT_EQ(0xfee01000u, msis[0].address);
	EXPECT_EQ(0x30u, msis[0].data);
	vmxctl_ioapic_set_irq(m, 7, true);		/* no new edge */
	EXPECT_EQ(1u, nr_msis);
	EXPECT_EQ(0u, entry(m, 7) & (RTE_REMOTE_IRR | RTE_DELIVS));
	vmxctl_ioapic_eoi(m, 0x30);			/* nothing to do */
	EXPECT_EQ(1u, nr_msis);
	vmxctl_ioapic_set_irq(m, 7, false);
	vmxctl_ioapic_set_irq(m, 7, true);
	EXPECT_EQ(2u, nr_msis);

	/* masked: the edge is lost, and unmasking does not bring it back */
	vmxctl_ioapic_set_irq(m, 7, false);
	set_entry(m, 7, 0x0100000000010030ULL);
	vmxctl_ioapic_set_irq(m, 7, true);
	set_entry(m, 7, 0x0100000000000030ULL);
	EXPECT_EQ(2u, nr_msis);

	/* a refused entry sends nothing */
	set_entry(m, 8, 0x0000000000000005ULL);
	vmxctl_ioapic_set_irq(m, 8, true);
	EXPECT_EQ(2u, nr_msis);
	vmxctl_ioapic_set_irq(m, 24, true);		/* no such pin */
	EXPECT_EQ(2u, nr_msis);
}

TEST_F(platform, ioapic_level)
{
	struct vmxctl_machine *m = &self->m;

	set_entry(m, 17, 0x0000000000008041ULL);	/* level, vector 0x41 */
	vmxctl_ioapic_set_irq(m, 17, true);
	ASSERT_EQ(1u, nr_msis);
	EXPECT_EQ(0xfee00000u, msis[0].address);
	EXPECT_EQ(0x8041u, msis[0].data);
	EXPECT_EQ(RTE_REMOTE_IRR, entry(m, 17) & (RTE_REMOTE_IRR | RTE_DELIVS));
	vmxctl_ioapic_set_irq(m, 17, true);		/* remote IRR holds it */
	EXPECT_EQ(1u, nr_msis);
	vmxctl_ioapic_eoi(m, 0x42);			/* another vector */
	EXPECT_EQ(1u, nr_msis);
	vmxctl_ioapic_eoi(m, 0x41);			/* still high: again */
	EXPECT_EQ(2u, nr_msis);
	EXPECT_EQ(RTE_REMOTE_IRR, entry(m, 17) & RTE_REMOTE_IRR);
	vmxctl_ioapic_set_irq(m, 17, false);		/* driver acked it */
	vmxctl_ioapic_eoi(m, 0x41);
	EXPECT_EQ(2u, nr_msis);
	EXPECT_EQ(0u, entry(m, 17) & (RTE_REMOTE_IRR | RTE_DELIVS));

	/* masked while high: waits (delivery status), sends on unmask */
	set_entry(m, 17, 0x0000000000018041ULL);
	vmxctl_ioapic_set_irq(m, 17, true);
	EXPECT_EQ(2u, nr_msis);
	EXPECT_EQ(RTE_DELIVS, entry(m, 17) & (RTE_REMOTE_IRR | RTE_DELIVS));
	set_entry(m, 17, 0x0000000000008041ULL);
	EXPECT_EQ(3u, nr_msis);
	EXPECT_EQ(RTE_REMOTE_IRR, entry(m, 17) & (RTE_REMOTE_IRR | RTE_DELIVS));

	/* switching to edge drops remote IRR: no EOI would come */
	set_entry(m, 17, 0x0000000000010041ULL);
	EXPECT_EQ(0u, entry(m, 17) & RTE_REMOTE_IRR);
	vmxctl_ioapic_set_irq(m, 17, false);

	/* no APIC took it: no remote IRR, waits, tried again on a rewrite */
	msi_answer = 0;
	set_entry(m, 18, 0x0500000000008050ULL);
	vmxctl_ioapic_set_irq(m, 18, true);
	EXPECT_EQ(4u, nr_msis);
	EXPECT_EQ(RTE_DELIVS, entry(m, 18) & (RTE_REMOTE_IRR | RTE_DELIVS));
	msi_answer = 1;
	set_entry(m, 18, 0x0000000000008050ULL);
	EXPECT_EQ(5u, nr_msis);
	EXPECT_EQ(0xfee00000u, msis[4].address);
	EXPECT_EQ(RTE_REMOTE_IRR, entry(m, 18) & (RTE_REMOTE_IRR | RTE_DELIVS));
}

/* A device's line reaches its pin through vmxctl_dev_irq(). */
TEST_F(platform, ioapic_wired_by_gsi)
{
	struct vmxctl_machine *m = &self->m;
	struct vmxctl_device *u = by_name(m, "uart0");

	ASSERT_NE(NULL, u);
	EXPECT_EQ(VMXCTL_UART_GSI, u->gsi);
	EXPECT_EQ(-1, by_name(m, "rtc0")->gsi);
	EXPECT_EQ(-1, by_name(m, "ioapic0")->gsi);
	set_entry(m, 4, 0x0000000000000024ULL);
	outb(m, COM1 + 4, 0x0b);			/* DTR RTS OUT2 */
	outb(m, COM1 + 1, 0x02);			/* THRI */
	ASSERT_EQ(1u, nr_msis);
	EXPECT_EQ(0x24u, msis[0].data);
}

/* ---- UART interrupts ---- */

TEST_F(platform, uart_thre_as_linux_tests_it)
{
	struct vmxctl_machine *m = &self->m;
	struct vmxctl_device *u = by_name(m, "uart0");
	uint8_t iir1, iir;

	/* serial8250_do_startup(): OUT2 still off, THRE test */
	outb(m, COM1 + 2, 0x07);			/* FIFO on, cleared */
	outb(m, COM1 + 1, 0x02);
	iir1 = inb(m, COM1 + 2);
	outb(m, COM1 + 1, 0x00);
	outb(m, COM1 + 1, 0x02);
	iir = inb(m, COM1 + 2);
	outb(m, COM1 + 1, 0x00);
	EXPECT_EQ(0xc2, iir1);				/* THRE, FIFOs */
	EXPECT_EQ(0xc2, iir);				/* reasserted */
	EXPECT_FALSE(u->irq_level);			/* OUT2 off: no line */

	/* then OUT2 on and the TXEN test: an interrupt right away */
	outb(m, COM1 + 4, 0x0b);
	outb(m, COM1 + 1, 0x02);
	EXPECT_TRUE(u->irq_level);
	EXPECT_EQ(0x60, inb(m, COM1 + 5) & 0x60);	/* THRE, TEMT */
	EXPECT_EQ(0xc2, inb(m, COM1 + 2));
	EXPECT_FALSE(u->irq_level);			/* read IIR cleared it */
	EXPECT_EQ(0xc1, inb(m, COM1 + 2));
	outb(m, COM1, 'x');				/* the byte left: again */
	EXPECT_TRUE(u->irq_level);
	outb(m, COM1 + 1, 0x00);
	EXPECT_FALSE(u->irq_level);
	EXPECT_EQ(0xc1, inb(m, COM1 + 2));
}

TEST_F(platform, uart_priorities_and_gating)
{
	struct vmxctl_machine *m = &self->m;
	struct vmxctl_device *u = by_name(m, "uart0");
	unsigned int i;

	/* loopback: THR bytes come back as input; the pin is forced off */
	outb(m, COM1 + 4, 0x18);			/* LOOP | OUT2 */
	EXPECT_EQ(0x83, inb(m, COM1 + 6));		/* DCD; DSR CTS went */
	EXPECT_EQ(0x80, inb(m, COM1 + 6));		/* read: cleared */
	outb(m, COM1 + 1, 0x0f);			/* every source */
	for (i = 0; i < 4097; i++)			/* one too many */
		outb(m, COM1, i);
	outb(m, COM1 + 4, 0x1b);			/* + DTR, RTS */
	EXPECT_FALSE(u->irq_level);

	EXPECT_EQ(0x06, inb(m, COM1 + 2) & 0x0f);	/* line status */
	EXPECT_EQ(0x63, inb(m, COM1 + 5));		/* OE DR THRE TEMT */
	EXPECT_EQ(0x61, inb(m, COM1 + 5));		/* OE read: gone */
	EXPECT_EQ(0x04, inb(m, COM1 + 2) & 0x0f);	/* received data */
	outb(m, COM1 + 2, 0x03);			/* clear the FIFO */
	EXPECT_EQ(0x02, inb(m, COM1 + 2) & 0x0f);	/* THR empty */
	EXPECT_EQ(0x00, inb(m, COM1 + 2) & 0x0f);	/* modem status */
	EXPECT_EQ(0xb3, inb(m, COM1 + 6));		/* DCTS DDSR, lines */
	EXPECT_EQ(0x01, inb(m, COM1 + 2) & 0x0f);	/* none */

	/* out of loopback: OUT2 gates the line as on a PC */
	outb(m, COM1 + 4, 0x03);
	inb(m, COM1 + 6);
	outb(m, COM1, 'a');
	EXPECT_EQ(0x02, inb(m, COM1 + 2) & 0x0f);
	outb(m, COM1, 'b');
	EXPECT_FALSE(u->irq_level);
	outb(m, COM1 + 4, 0x0b);
	EXPECT_TRUE(u->irq_level);
	outb(m, COM1 + 1, 0x00);			/* a poller's IER */
	EXPECT_FALSE(u->irq_level);
	EXPECT_EQ(0x01, inb(m, COM1 + 2) & 0x0f);
}

TEST_F(platform, uart_restores_version_1)
{
	struct vmxctl_machine *m = &self->m;
	struct {
		uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr, thre;
		uint8_t pad[3];
		uint32_t rx_len;
		uint8_t rx[2];
	} __attribute__((packed)) v1 = {
		.ier = 0x01, .mcr = 0x0b, .msr = 0xb0, .rx_len = 2,
		.rx = { 'h', 'i' },
	};
	struct vmxctl_dev_state st = {
		.name = "uart0", .version = 1, .len = sizeof(v1), .data = &v1,
	};

	ASSERT_EQ(0, vmxctl_device_restore(m, &st));
	EXPECT_TRUE(by_name(m, "uart0")->irq_level);	/* data waits */
	EXPECT_EQ(0x04, inb(m, COM1 + 2) & 0x0f);
	EXPECT_EQ('h', inb(m, COM1));
	EXPECT_EQ('i', inb(m, COM1));
	EXPECT_FALSE(by_name(m, "uart0")->irq_level);
	v1.pad[0] = 0x10;	/* a version 2 state can't have it: refused */
	st.version = 2;
	EXPECT_EQ(-EINVAL, vmxctl_device_restore(m, &st));
}

/*
 * vmxctl run --restore: input that reached the UART before the restored
 * guest ran comes after the saved FIFO, not overwritten by it.
 */
TEST(uart_restore_keeps_early_input)
{
	static struct vmxctl_machine mach;
	struct vmxctl_machine *m = &mach;
	struct {
		uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr, thre;
		uint8_t delta, oe, pad;
		uint32_t rx_len;
		uint8_t rx[2];
	} __attribute__((packed)) v2 = {
		.ier = 0x01, .mcr = 0x0b, .msr = 0xb0, .rx_len = 2,
		.rx = { 'h', 'i' },
	};
	struct vmxctl_dev_state st = {
		.name = "uart0", .version = 2, .len = sizeof(v2), .data = &v2,
	};
	int in[2], out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	unsigned int i;

	ASSERT_LE(0, out);
	ASSERT_EQ(0, pipe(in));
	vmxctl_machine_init(m);
	ASSERT_EQ(0, vmxctl_uart_create(m, out, in[0]));
	ASSERT_EQ(2, write(in[1], "xy", 2));
	/* until the reader has both bytes (save does not touch the UART) */
	for (i = 0; i < 200; i++) {
		struct vmxctl_dev_state cur = { 0 };
		uint32_t n;

		ASSERT_EQ(0, vmxctl_device_save(m, 0, &cur));
		memcpy(&n, (uint8_t *)cur.data + 12, 4);
		free(cur.data);
		if (n == 2)
			break;
		usleep(10000);
	}
	ASSERT_LT(i, 200);
	ASSERT_EQ(0, vmxctl_device_restore(m, &st));
	EXPECT_EQ('h', inb(m, COM1));
	EXPECT_EQ('i', inb(m, COM1));
	EXPECT_EQ('x', inb(m, COM1));
	EXPECT_EQ('y', inb(m, COM1));
	EXPECT_EQ(0, inb(m, COM1 + 5) & 0x01);		/* nothing more */
	/* once the guest has seen the UART, a restore replaces the FIFO */
	ASSERT_EQ(1, write(in[1], "z", 1));
	for (i = 0; i < 200 && !(inb(m, COM1 + 5) & 0x01); i++)
		usleep(10000);
	ASSERT_EQ(0, vmxctl_device_restore(m, &st));
	EXPECT_EQ('h', inb(m, COM1));
	EXPECT_EQ('i', inb(m, COM1));
	EXPECT_EQ(0, inb(m, COM1 + 5) & 0x01);
	close(in[1]);
	vmxctl_machine_destroy(m);
	close(in[0]);
}

/* ---- RTC ---- */

static uint8_t cmos(struct vmxctl_machine *m, uint8_t idx)
{
	outb(m, 0x70, idx);
	return inb(m, 0x71);
}

static void cmos_set(struct vmxctl_machine *m, uint8_t idx, uint8_t v)
{
	outb(m, 0x70, idx);
	outb(m, 0x71, v);
}

TEST_F(platform, rtc_bcd_binary_12h)
{
	struct vmxctl_machine *m = &self->m;

	fake_now = 1709251198;	/* Thu 2024-02-29 23:59:58 UTC */
	EXPECT_EQ(0x58, cmos(m, 0x00));
	EXPECT_EQ(0x59, cmos(m, 0x02));
	EXPECT_EQ(0x23, cmos(m, 0x04));
	EXPECT_EQ(0x05, cmos(m, 0x06));			/* Thursday */
	EXPECT_EQ(0x29, cmos(m, 0x07));
	EXPECT_EQ(0x02, cmos(m, 0x08));
	EXPECT_EQ(0x24, cmos(m, 0x09));
	EXPECT_EQ(0x20, cmos(m, 0x32));
	EXPECT_EQ(0x26, cmos(m, 0x0a));			/* UIP 0 */
	EXPECT_EQ(0x02, cmos(m, 0x0b));			/* BCD, 24h */
	EXPECT_EQ(0x00, cmos(m, 0x0c));
	EXPECT_EQ(0x80, cmos(m, 0x0d));			/* VRT */
	EXPECT_EQ(0x00, cmos(m, 0x0f));			/* other bytes */
	cmos_set(m, 0x0f, 0x0a);
	EXPECT_EQ(0x00, cmos(m, 0x0f));
	EXPECT_EQ(0x00, cmos(m, 0x8f));			/* NMI bit ignored */

	fake_now += 2;					/* 2024-03-01 00:00:00 */
	EXPECT_EQ(0x03, cmos(m, 0x08));
	EXPECT_EQ(0x01, cmos(m, 0x07));

	cmos_set(m, 0x0b, 0x06);			/* binary, 24h */
	EXPECT_EQ(3, cmos(m, 0x08));
	EXPECT_EQ(24, cmos(m, 0x09));
	EXPECT_EQ(20, cmos(m, 0x32));
	fake_now += 13 * 3600 + 5 * 60;			/* 13:05 */
	EXPECT_EQ(13, cmos(m, 0x04));
	cmos_set(m, 0x0b, 0x00);			/* BCD, 12h */
	EXPECT_EQ(0x81, cmos(m, 0x04));			/* 1 PM */
	fake_now -= 13 * 3600;				/* 00:05: 12 AM */
	EXPECT_EQ(0x12, cmos(m, 0x04));
	cmos_set(m, 0x0a, 0xa6);			/* UIP is read-only */
	EXPECT_EQ(0x26, cmos(m, 0x0a));
}

TEST_F(platform, rtc_set_time)
{
	struct vmxctl_machine *m = &self->m;

	fake_now = 1709251198;
	/* as mc146818_set_time(): SET, the fields, SET off */
	cmos_set(m, 0x0b, 0x82);
	fake_now += 100;				/* frozen meanwhile */
	EXPECT_EQ(0x58, cmos(m, 0x00));
	cmos_set(m, 0x32, 0x19);
	cmos_set(m, 0x09, 0x99);
	cmos_set(m, 0x08, 0x12);
	cmos_set(m, 0x07, 0x31);
	cmos_set(m, 0x04, 0x23);
	cmos_set(m, 0x02, 0x59);
	cmos_set(m, 0x00, 0x50);
	EXPECT_EQ(0x50, cmos(m, 0x00));
	cmos_set(m, 0x0b, 0x02);
	fake_now += 10;					/* the clock goes on */
	EXPECT_EQ(0x00, cmos(m, 0x00));
	EXPECT_EQ(0x00, cmos(m, 0x02));
	EXPECT_EQ(0x00, cmos(m, 0x04));
	EXPECT_EQ(0x01, cmos(m, 0x07));
	EXPECT_EQ(0x01, cmos(m, 0x08));
	EXPECT_EQ(0x00, cmos(m, 0x09));
	EXPECT_EQ(0x20, cmos(m, 0x32));
	EXPECT_EQ(0x07, cmos(m, 0x06));			/* Sat 2000-01-01 */
	/* frozen fields are kept as written: 03-31, then month 2 */
	cmos_set(m, 0x0b, 0x82);
	cmos_set(m, 0x08, 0x03);
	cmos_set(m, 0x07, 0x31);
	cmos_set(m, 0x08, 0x02);
	EXPECT_EQ(0x31, cmos(m, 0x07));
	EXPECT_EQ(0x02, cmos(m, 0x08));
	cmos_set(m, 0x07, 0x28);
	cmos_set(m, 0x0b, 0x02);
	EXPECT_EQ(0x28, cmos(m, 0x07));
	EXPECT_EQ(0x02, cmos(m, 0x08));
	/* not frozen: one field moves the clock, alarms are stored */
	cmos_set(m, 0x02, 0x30);
	EXPECT_EQ(0x30, cmos(m, 0x02));
	cmos_set(m, 0x01, 0x45);
	EXPECT_EQ(0x45, cmos(m, 0x01));
}

/* ---- the other ports ---- */

TEST_F(platform, pit_calibration_gives_up)
{
	struct vmxctl_machine *m = &self->m;

	/* quick_pit_calibrate(): MSB never 0xff; pit_calibrate_tsc(): OUT2 */
	outb(m, 0x61, (inb(m, 0x61) & ~0x02) | 0x01);
	outb(m, 0x43, 0xb0);
	outb(m, 0x42, 0xff);
	outb(m, 0x42, 0xff);
	inb(m, 0x42);
	EXPECT_NE(0xff, inb(m, 0x42));
	EXPECT_EQ(0x21, inb(m, 0x61));
	EXPECT_EQ(0x00, inb(m, 0x64));			/* i8042: empty */
	EXPECT_EQ(0x00, inb(m, 0x80));
	outb(m, 0x80, 0x55);
	outb(m, 0x600, 0x80);				/* WAK_STS: nothing */
	outb(m, 0x600, 0x2c);				/* S3: not offered */
	outb(m, 0x64, 0xd1);				/* other commands */
	EXPECT_FALSE(vmxctl_machine_stopping(m));
}

TEST_F(platform, acpi_power_off)
{
	outb(&self->m, 0x600, 5 << 2 | 0x20);
	EXPECT_TRUE(vmxctl_machine_stopping(&self->m));
	EXPECT_EQ(0, self->m.status);
}

TEST_F(platform, acpi_reset)
{
	outb(&self->m, 0x600, 1);
	EXPECT_TRUE(vmxctl_machine_stopping(&self->m));
	EXPECT_EQ(VMXCTL_EXIT_REBOOT, self->m.status);
}

TEST_F(platform, i8042_reset)
{
	outb(&self->m, 0x64, 0xfe);
	EXPECT_TRUE(vmxctl_machine_stopping(&self->m));
	EXPECT_EQ(73, self->m.status);
}

TEST_HARNESS_MAIN
