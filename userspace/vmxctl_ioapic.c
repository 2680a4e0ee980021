// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: an 82093AA-style IOAPIC at VMXCTL_IOAPIC_GPA ("ioapic0"), for
 * guests that use the in-kernel local APIC (VMXL_VM_LAPIC).
 *
 * 24 pins, GSI base 0, ID = the number of vCPUs (their APIC IDs are
 * 0..n-1), version 0x11 (register 1 reads 0x00170011). The guest selects
 * a register through IOREGSEL (offset 0x00) and reads or writes it
 * through IOWIN (0x10); both are 32-bit. A pin's redirection entry is
 * turned into an MSI (VMXL_SIGNAL_MSI): destination, destination mode,
 * delivery mode, vector and trigger mode.
 *
 * Pins follow the devices' lines (vmxctl_dev_irq() -> ioapic_set_irq):
 *   edge   a rising edge on an unmasked pin sends one message; an edge
 *          on a masked pin is lost, as on the 82093AA.
 *   level  an asserted, unmasked pin without remote IRR sends a message
 *          and sets remote IRR; the guest's EOI of that vector
 *          (VMXL_EXIT_EOI -> vmxctl_ioapic_eoi) clears it, and the pin
 *          sends again while it is still asserted. The same rule runs
 *          when the guest rewrites the entry (unmasks it).
 * Polarity is kept but not applied: devices report "asserted", not a
 * voltage, and inverting a line the ACPI tables call active-high would
 * only turn a guest's mistake into an interrupt storm (KVM and QEMU do
 * not apply it either). Delivery status reads 1 while an asserted level
 * pin waits: masked, or no APIC took its message.
 *
 * A message the module refuses (delivery mode SMI, ExtINT, STARTUP or
 * reserved; vector below 16) is not sent; vmxctl says so once per pin.
 *
 * Saved state ("ioapic0", version 1, little-endian, 208 bytes):
 *   u32 id (register 0), u32 ioregsel, u32 lines (bit n: pin n asserted),
 *   u32 pad, u64 redir[24] (delivery status as read)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

#define IOREGSEL		0x00
#define IOWIN			0x10
#define IOAPIC_VERSION		0x00170011	/* max entry 23, version 0x11 */

#define RTE_VECTOR		0xffULL
#define RTE_DELMODE_SHIFT	8
#define RTE_DELMODE		(7ULL << RTE_DELMODE_SHIFT)
#define RTE_DESTMODE		(1ULL << 11)	/* 1: logical */
#define RTE_DELIVS		(1ULL << 12)	/* read-only */
#define RTE_POLARITY		(1ULL << 13)	/* 1: active low */
#define RTE_REMOTE_IRR		(1ULL << 14)	/* read-only */
#define RTE_LEVEL		(1ULL << 15)
#define RTE_MASK		(1ULL << 16)
#define RTE_DEST_SHIFT		56
/* What a guest write may change; reserved bits 55:17 stay zero. */
#define RTE_WRITABLE		(RTE_VECTOR | RTE_DELMODE | RTE_DESTMODE | \
				 RTE_POLARITY | RTE_LEVEL | RTE_MASK | \
				 (0xffULL << RTE_DEST_SHIFT))

#define DM_FIXED		0
#define DM_LOWEST		1
#define DM_NMI			4
#define DM_INIT			5

struct ioapic_state_v1 {
	uint32_t id, ioregsel, lines, pad;
	uint64_t redir[VMXCTL_IOAPIC_PINS];
} __attribute__((packed));

_Static_assert(sizeof(struct ioapic_state_v1) == 208, "documented size");

struct ioapic {
	struct vmxctl_device dev;
	uint32_t id;			/* register 0: ID in bits 27:24 */
	uint32_t ioregsel;
	uint32_t lines;			/* bit n: pin n asserted */
	uint32_t warned;		/* bit n: pin n's refusal was told */
	uint64_t redir[VMXCTL_IOAPIC_PINS];
};

static struct ioapic *to_ioapic(struct vmxctl_machine *m)
{
	return m->ioapic ? m->ioapic->priv : NULL;
}

/*
 * The MSI that entry @e sends (docs/uapi.md, VMXL_SIGNAL_MSI): false when
 * the module would refuse it.
 */
bool vmxctl_ioapic_msi(uint64_t e, uint32_t *address, uint32_t *data)
{
	unsigned int dm = (e & RTE_DELMODE) >> RTE_DELMODE_SHIFT;
	unsigned int vector = e & RTE_VECTOR;
	bool level = e & RTE_LEVEL;

	switch (dm) {
	case DM_FIXED:
	case DM_LOWEST:
		if (vector < 16)
			return false;
		break;
	case DM_NMI:
	case DM_INIT:
		level = false;	/* edge only (SDM): no remote IRR, no EOI */
		break;
	default:
		return false;	/* SMI, ExtINT, STARTUP, reserved */
	}
	*address = 0xfee00000u | (uint32_t)(e >> RTE_DEST_SHIFT) << 12 |
		   ((e & RTE_DESTMODE) ? 1u << 2 : 0);
	*data = vector | dm << 8 | (level ? 1u << 15 : 0);
	return true;
}

/*
 * Send pin @pin's message. Level pins set remote IRR when an APIC took
 * it; when none did, the pin stays waiting (delivery status) until its
 * entry is rewritten. Lock held.
 */
static void send(struct ioapic *io, unsigned int pin)
{
	uint64_t *e = &io->redir[pin];
	uint32_t address, data;
	int ret;

	if (!vmxctl_ioapic_msi(*e, &address, &data)) {
		if (!(io->warned & 1u << pin))
			vmxctl_err("ioapic0: pin %u: entry 0x%016llx has a delivery mode or vector the local APIC does not take: not delivered",
				   pin, (unsigned long long)*e);
		io->warned |= 1u << pin;
		return;
	}
	ret = vmxlite_signal_msi(io->dev.m->vm_fd, address, data);
	if (ret < 0) {
		if (!(io->warned & 1u << pin))
			vmxctl_err("ioapic0: pin %u: VMXL_SIGNAL_MSI (address 0x%x, data 0x%x): %s",
				   pin, address, data, strerror(-ret));
		io->warned |= 1u << pin;
		return;
	}
	if (!(data & 1u << 15))
		return;
	if (ret > 0)
		*e = (*e | RTE_REMOTE_IRR) & ~RTE_DELIVS;
	else
		*e |= RTE_DELIVS;
}

/* A level pin sends whenever it can: asserted, unmasked, no remote IRR. */
static void service_level(struct ioapic *io, unsigned int pin)
{
	uint64_t *e = &io->redir[pin];

	if (!(*e & RTE_LEVEL))
		return;
	if (!(io->lines & 1u << pin)) {
		*e &= ~RTE_DELIVS;
		return;
	}
	if (*e & RTE_MASK) {
		*e |= RTE_DELIVS;
		return;
	}
	if (!(*e & RTE_REMOTE_IRR))
		send(io, pin);
}

void vmxctl_ioapic_set_irq(struct vmxctl_machine *m, unsigned int gsi,
			   bool level)
{
	struct ioapic *io = to_ioapic(m);
	uint32_t bit = 1u << gsi;
	bool rising;

	if (!io || gsi >= VMXCTL_IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->dev.lock);
	rising = level && !(io->lines & bit);
	io->lines = level ? io->lines | bit : io->lines & ~bit;
	if (io->redir[gsi] & RTE_LEVEL)
		service_level(io, gsi);
	else if (rising && !(io->redir[gsi] & RTE_MASK))
		send(io, gsi);
	pthread_mutex_unlock(&io->dev.lock);
}

void vmxctl_ioapic_eoi(struct vmxctl_machine *m, uint8_t vector)
{
	struct ioapic *io = to_ioapic(m);
	unsigned int pin;

	if (!io)
		return;
	pthread_mutex_lock(&io->dev.lock);
	for (pin = 0; pin < VMXCTL_IOAPIC_PINS; pin++) {
		uint64_t *e = &io->redir[pin];

		if ((*e & RTE_VECTOR) != vector || !(*e & RTE_REMOTE_IRR))
			continue;
		*e &= ~RTE_REMOTE_IRR;
		service_level(io, pin);
	}
	pthread_mutex_unlock(&io->dev.lock);
}

static uint32_t read_reg(struct ioapic *io)
{
	unsigned int r = io->ioregsel & 0xff, pin = (r - 0x10) / 2;

	switch (r) {
	case 0x00:
		return io->id;
	case 0x01:
		return IOAPIC_VERSION;
	case 0x02:
		return io->id;	/* arbitration ID: the APIC ID, as at reset */
	}
	if (r < 0x10 || pin >= VMXCTL_IOAPIC_PINS)
		return 0;
	return r & 1 ? io->redir[pin] >> 32 : (uint32_t)io->redir[pin];
}

static void write_reg(struct ioapic *io, uint32_t v)
{
	unsigned int r = io->ioregsel & 0xff, pin = (r - 0x10) / 2;
	uint64_t *e, old;

	if (r == 0x00) {
		io->id = v & 0x0f000000;
		return;
	}
	if (r < 0x10 || pin >= VMXCTL_IOAPIC_PINS)
		return;		/* version, arbitration: read-only */
	e = &io->redir[pin];
	old = *e;
	if (r & 1)
		*e = (*e & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*e = (*e & ~0xffffffffULL) | v;
	*e = (*e & RTE_WRITABLE) | (old & (RTE_DELIVS | RTE_REMOTE_IRR));
	if (!(*e & RTE_LEVEL))
		*e &= ~(RTE_REMOTE_IRR | RTE_DELIVS);	/* edge: no EOI comes */
	if (*e != old)
		io->warned &= ~(1u << pin);
	service_level(io, pin);
}

static void ioapic_mmio(struct vmxctl_device *d, uint64_t off, bool write,
			uint64_t *val, unsigned int size)
{
	struct ioapic *io = d->priv;

	if (size != 4) {
		if (!write)
			*val = 0;
		return;		/* 32-bit registers only */
	}
	switch (off) {
	case IOREGSEL:
		if (write)
			io->ioregsel = *val & 0xff;
		else
			*val = io->ioregsel;
		break;
	case IOWIN:
		if (write)
			write_reg(io, *val);
		else
			*val = read_reg(io);
		break;
	default:
		if (!write)
			*val = 0;
		break;
	}
}

static int ioapic_save(struct vmxctl_device *d, struct vmxctl_dev_state *st)
{
	struct ioapic *io = d->priv;
	struct ioapic_state_v1 *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	s->id = io->id;
	s->ioregsel = io->ioregsel;
	s->lines = io->lines;
	memcpy(s->redir, io->redir, sizeof(s->redir));
	pthread_mutex_unlock(&d->lock);
	st->version = 1;
	st->len = sizeof(*s);
	st->data = s;
	return 0;
}

static int ioapic_restore(struct vmxctl_device *d,
			  const struct vmxctl_dev_state *st)
{
	struct ioapic *io = d->priv;
	const struct ioapic_state_v1 *s = st->data;
	unsigned int pin;

	if (st->version != 1 || st->len != sizeof(*s) ||
	    (s->id & ~0x0f000000u) || s->ioregsel > 0xff)
		return -EINVAL;
	for (pin = 0; pin < VMXCTL_IOAPIC_PINS; pin++)
		if (s->redir[pin] & ~(RTE_WRITABLE | RTE_DELIVS | RTE_REMOTE_IRR))
			return -EINVAL;
	pthread_mutex_lock(&d->lock);
	io->id = s->id;
	io->ioregsel = s->ioregsel;
	memcpy(io->redir, s->redir, sizeof(io->redir));
	io->warned = 0;
	/*
	 * The lines were saved with the devices' state, so they are what
	 * the restored devices drive; a device restored after us finds its
	 * level already here (no new edge).
	 */
	io->lines = s->lines;
	/*
	 * Remote IRR came with the LAPIC's ISR/TMR: the guest's EOI will
	 * clear it. A waiting level pin sends now; an asserted edge pin
	 * sends once more, because its edge may have been in flight when
	 * the snapshot was taken: an extra interrupt costs the guest's
	 * handler one look, a lost one stalls its driver.
	 */
	for (pin = 0; pin < VMXCTL_IOAPIC_PINS; pin++) {
		if (io->redir[pin] & RTE_LEVEL)
			service_level(io, pin);
		else if ((io->lines & 1u << pin) &&
			 !(io->redir[pin] & RTE_MASK))
			send(io, pin);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void ioapic_destroy(struct vmxctl_device *d)
{
	if (d->m && d->m->ioapic == d)
		d->m->ioapic = NULL;
	free(d->priv);
}

static const struct vmxctl_dev_ops ioapic_ops = {
	.mmio = ioapic_mmio,
	.save = ioapic_save,
	.restore = ioapic_restore,
	.destroy = ioapic_destroy,
};

int vmxctl_ioapic_create(struct vmxctl_machine *m)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	unsigned int pin, i;
	int ret;

	if (!io) {
		vmxctl_err("ioapic0: out of memory");
		return -ENOMEM;
	}
	snprintf(io->dev.name, sizeof(io->dev.name), "ioapic0");
	io->dev.ops = &ioapic_ops;
	io->dev.mmio_base = VMXCTL_IOAPIC_GPA;
	io->dev.mmio_len = 0x1000;
	io->dev.gsi = -1;
	io->dev.priv = io;
	io->id = (m->nr_vcpus & 0x0f) << 24;
	for (pin = 0; pin < VMXCTL_IOAPIC_PINS; pin++)
		io->redir[pin] = RTE_MASK;
	ret = vmxctl_add_device(m, &io->dev);
	if (ret) {
		free(io);
		return ret;
	}
	m->ioapic = &io->dev;
	/*
	 * Devices made before us may have raised their lines already. Take
	 * each one's lock, then ours, as vmxctl_dev_irq() does.
	 */
	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *o = m->devices[i];

		if (o == &io->dev || o->gsi < 0 || o->gsi >= VMXCTL_IOAPIC_PINS)
			continue;
		pthread_mutex_lock(&o->lock);
		if (o->irq_level)
			vmxctl_ioapic_set_irq(m, o->gsi, true);
		pthread_mutex_unlock(&o->lock);
	}
	return 0;
}
