// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the device bus. A device claims a port range and/or an MMIO
 * range when it registers; ranges never overlap (a second claim on a
 * port or address is refused, so an access has exactly one owner), and
 * handlers get the offset into their range, never the absolute port or
 * address, so a device does not care where the machine puts it.
 *
 * The devices with state (ops->save) form the list vmxctl.h's
 * vmxctl_nr_devices() and friends expose to snapshots and `status`; a
 * device without state (the exit port) is on the bus only.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmxctl_machine.h"

/* The last port or address of a range: no wrap-around, len > 0. */
static uint64_t last(uint64_t base, uint64_t len)
{
	return base + len - 1;
}

static bool overlap(uint64_t base1, uint64_t len1, uint64_t base2,
		    uint64_t len2)
{
	return len1 && len2 && base1 <= last(base2, len2) &&
	       base2 <= last(base1, len1);
}

/* Ranges and handlers that cannot work whatever else is on the bus. */
static bool well_formed(const struct vmxctl_device *d)
{
	if (!d->name[0] || !d->ops)
		return false;
	if (d->port_len && (!d->ops->pio ||
			    d->port_len > 0x10000 - d->port_base))
		return false;
	if (d->mmio_len && (!d->ops->mmio ||
			    d->mmio_len - 1 > UINT64_MAX - d->mmio_base))
		return false;
	return true;
}

int vmxctl_add_device(struct vmxctl_machine *m, struct vmxctl_device *d)
{
	unsigned int i;

	if (!well_formed(d)) {
		vmxctl_err("device '%s': a range without a handler, or past the end of the port or address space",
			   d->name);
		return -EINVAL;
	}
	for (i = 0; i < m->nr_devices; i++) {
		const struct vmxctl_device *o = m->devices[i];

		if (!strcmp(o->name, d->name)) {
			vmxctl_err("device '%s': the name is taken", d->name);
			return -EEXIST;
		}
		if (overlap(d->port_base, d->port_len, o->port_base,
			    o->port_len)) {
			vmxctl_err("device '%s': ports 0x%x-0x%x overlap device '%s' (0x%x-0x%x)",
				   d->name, d->port_base,
				   (unsigned int)last(d->port_base, d->port_len),
				   o->name, o->port_base,
				   (unsigned int)last(o->port_base, o->port_len));
			return -EEXIST;
		}
		if (overlap(d->mmio_base, d->mmio_len, o->mmio_base,
			    o->mmio_len)) {
			vmxctl_err("device '%s': MMIO 0x%" PRIx64 "-0x%" PRIx64 " overlaps device '%s' (0x%" PRIx64 "-0x%" PRIx64 ")",
				   d->name, d->mmio_base,
				   last(d->mmio_base, d->mmio_len), o->name,
				   o->mmio_base, last(o->mmio_base, o->mmio_len));
			return -EEXIST;
		}
	}
	if (m->nr_devices == MAX_DEVICES) {
		vmxctl_err("device '%s': the bus is full (%d devices)", d->name,
			   MAX_DEVICES);
		return -ENOSPC;
	}
	d->m = m;
	pthread_mutex_init(&d->lock, NULL);
	m->devices[m->nr_devices++] = d;
	return 0;
}

void vmxctl_dev_irq(struct vmxctl_device *d, bool level)
{
	d->irq_level = level;
	if (d->irq_fn)
		d->irq_fn(d, level);
	/* d->m is NULL until the device is on the bus. */
	if (d->gsi >= 0 && d->m && d->m->ioapic)
		vmxctl_ioapic_set_irq(d->m, d->gsi, level);
}

/* ---- dispatch ---- */

static bool claims(uint64_t base, uint64_t len, uint64_t a)
{
	return len && a >= base && a - base < len;
}

/* The access to port or address @a, to its owner: false when none. */
static bool dispatch(struct vmxctl_machine *m, bool pio, uint64_t a,
		     bool write, uint64_t *val, unsigned int size)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];
		uint64_t base = pio ? d->port_base : d->mmio_base;

		if (!claims(base, pio ? d->port_len : d->mmio_len, a))
			continue;
		pthread_mutex_lock(&d->lock);
		(pio ? d->ops->pio : d->ops->mmio)(d, a - base, write, val, size);
		pthread_mutex_unlock(&d->lock);
		return true;
	}
	return false;
}

bool vmxctl_bus_pio(struct vmxctl_machine *m, uint16_t port, bool write,
		    uint64_t *val, unsigned int size)
{
	return dispatch(m, true, port, write, val, size);
}

bool vmxctl_bus_mmio(struct vmxctl_machine *m, uint64_t gpa, bool write,
		     uint64_t *val, unsigned int size)
{
	return dispatch(m, false, gpa, write, val, size);
}

/* ---- device state ---- */

/* The @idx-th device with state, or NULL. */
static struct vmxctl_device *stateful(struct vmxctl_machine *m,
				      unsigned int idx)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++)
		if (m->devices[i]->ops->save && !idx--)
			return m->devices[i];
	return NULL;
}

unsigned int vmxctl_nr_devices(struct vmxctl_machine *m)
{
	unsigned int i, n = 0;

	for (i = 0; i < m->nr_devices; i++)
		n += !!m->devices[i]->ops->save;
	return n;
}

const char *vmxctl_device_name(struct vmxctl_machine *m, unsigned int idx)
{
	struct vmxctl_device *d = stateful(m, idx);

	return d ? d->name : NULL;
}

int vmxctl_device_save(struct vmxctl_machine *m, unsigned int idx,
		       struct vmxctl_dev_state *st)
{
	struct vmxctl_device *d = stateful(m, idx);

	if (!d)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", d->name);
	return d->ops->save(d, st);
}

int vmxctl_device_restore(struct vmxctl_machine *m,
			  const struct vmxctl_dev_state *st)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (d->ops->restore && !strcmp(d->name, st->name))
			return d->ops->restore(d, st);
	}
	return -ENOENT;
}
