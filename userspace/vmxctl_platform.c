// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the PC platform ports a Linux guest touches while it boots,
 * each a small stateless device (the CMOS RTC has its own file,
 * vmxctl_rtc.c). Their answers are chosen from Linux 6.1's code so that
 * nothing spins; docs/vmxctl.md has the list.
 *
 *   "pit"      0x40-0x43  8254 PIT: reads 0, writes ignored.
 *   "i8042"    0x60-0x64  keyboard controller and, at 0x61, system
 *                         control port B (the ports interleave).
 *   "port80"   0x80       POST/io-delay port: writes vanish, reads 0.
 *   "acpi-pm"  0x600      ACPI hardware-reduced sleep control, sleep
 *                         status and reset register (the FADT's).
 *
 * The PIT answers end Linux's two PIT calibrations at once instead of
 * letting them spin on ports that read 0xff (arch/x86/kernel/tsc.c):
 * quick_pit_calibrate() keeps reading channel 2's MSB while it equals
 * 0xff (pit_expect_msb(0xff)), so a 0 read makes it give up on the first
 * compare; pit_calibrate_tsc() polls port 0x61 until bit 5 (channel 2's
 * OUT) is 1, so 0x61 reads with bit 5 set and the loop ends with too
 * few iterations (pitcnt < loopmin): "calibration failed". A guest with
 * hardware-reduced ACPI skips both (no legacy PIC); the answers are for
 * any other.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmxctl_machine.h"

#define PORTB_OUT2	0x20	/* 0x61 bit 5: PIT channel 2 output */
#define PORTB_WRITABLE	0x0f	/* gate 2, speaker, parity/IOCHK enables */
#define I8042_CMD_RESET	0xfe	/* pulse the CPU reset line */
#define SLP_EN		0x20	/* ACPI_X_SLEEP_ENABLE */
#define SLP_TYP_SHIFT	2	/* ACPI_X_SLEEP_TYPE_POSITION */
#define SLP_TYP_MASK	0x1c

struct platform_dev {
	struct vmxctl_device dev;
	uint8_t portb;			/* i8042: 0x61's writable bits */
};

static void pit_pio(struct vmxctl_device *d, uint64_t port, bool write,
		    uint64_t *val, unsigned int size)
{
	(void)d, (void)port, (void)size;
	if (!write)
		*val = 0;	/* a counter at 0: its MSB is never 0xff */
}

static void i8042_pio(struct vmxctl_device *d, uint64_t port, bool write,
		      uint64_t *val, unsigned int size)
{
	struct platform_dev *p = d->priv;

	(void)size;
	switch (port) {
	case 0x1:	/* 0x61, system control port B */
		if (write)
			p->portb = *val & PORTB_WRITABLE;
		else
			*val = p->portb | PORTB_OUT2;
		break;
	case 0x4:	/* 0x64, command / status */
		if (!write)
			*val = 0;	/* both buffers empty: kb_wait() ends */
		else if ((*val & 0xff) == I8042_CMD_RESET)
			vmxctl_machine_stop(d->m, VMXCTL_EXIT_REBOOT);
		break;
	default:	/* 0x60 data, 0x62-0x63 nothing */
		if (!write)
			*val = 0;
		break;
	}
}

static void port80_pio(struct vmxctl_device *d, uint64_t port, bool write,
		       uint64_t *val, unsigned int size)
{
	(void)d, (void)port, (void)size;
	if (!write)
		*val = 0;
}

/*
 * Linux (acpi_hw_extended_sleep) writes WAK_STS (0x80) to the status
 * register, then SLP_TYP << 2 | SLP_EN to the control register; a
 * reboot (acpi_reset) writes RESET_VALUE to the reset register. All
 * three are this one byte, so the values tell them apart.
 */
static void acpi_pm_pio(struct vmxctl_device *d, uint64_t port, bool write,
			uint64_t *val, unsigned int size)
{
	uint8_t v = *val;

	(void)port, (void)size;
	if (!write) {
		*val = 0;	/* sleep status: not woken */
		return;
	}
	if (v == VMXCTL_ACPI_RESET_VALUE)
		vmxctl_machine_stop(d->m, VMXCTL_EXIT_REBOOT);
	else if ((v & SLP_EN) && (v & SLP_TYP_MASK) >> SLP_TYP_SHIFT ==
		 VMXCTL_ACPI_SLP_TYP_S5)
		vmxctl_machine_stop(d->m, 0);
	/* other sleep states are not offered (the DSDT has \_S5 only) */
}

static void platform_destroy(struct vmxctl_device *d)
{
	free(d->priv);
}

static const struct vmxctl_dev_ops pit_ops = {
	.pio = pit_pio,
	.destroy = platform_destroy,
};

static const struct vmxctl_dev_ops i8042_ops = {
	.pio = i8042_pio,
	.destroy = platform_destroy,
};

static const struct vmxctl_dev_ops port80_ops = {
	.pio = port80_pio,
	.destroy = platform_destroy,
};

static const struct vmxctl_dev_ops acpi_pm_ops = {
	.pio = acpi_pm_pio,
	.destroy = platform_destroy,
};

static int add(struct vmxctl_machine *m, const char *name,
	       const struct vmxctl_dev_ops *ops, uint16_t port, uint16_t len)
{
	struct platform_dev *p = calloc(1, sizeof(*p));
	int ret;

	if (!p) {
		vmxctl_err("%s: out of memory", name);
		return -ENOMEM;
	}
	snprintf(p->dev.name, sizeof(p->dev.name), "%s", name);
	p->dev.ops = ops;
	p->dev.port_base = port;
	p->dev.port_len = len;
	p->dev.gsi = -1;
	p->dev.priv = p;
	ret = vmxctl_add_device(m, &p->dev);
	if (ret)
		free(p);
	return ret;
}

int vmxctl_platform_create(struct vmxctl_machine *m)
{
	int ret;

	ret = vmxctl_rtc_create(m);
	if (!ret)
		ret = add(m, "pit", &pit_ops, 0x40, 4);
	if (!ret)
		ret = add(m, "i8042", &i8042_ops, 0x60, 5);
	if (!ret)
		ret = add(m, "port80", &port80_ops, 0x80, 1);
	if (!ret)
		ret = add(m, "acpi-pm", &acpi_pm_ops, VMXCTL_ACPI_PM_PORT, 1);
	return ret;
}
