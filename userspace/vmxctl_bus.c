// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the device bus: devices, the port and MMIO ranges they claim,
 * their state.
 */
#include <errno.h>
#include <string.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

int vmxctl_add_device(struct vmxctl_machine *m, struct vmxctl_device *d)
{
	if (m->nr_devices == MAX_DEVICES)
		return -ENOSPC;
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
}

unsigned int vmxctl_nr_devices(struct vmxctl_machine *m)
{
	return m->nr_devices;
}

const char *vmxctl_device_name(struct vmxctl_machine *m, unsigned int idx)
{
	return idx < m->nr_devices ? m->devices[idx]->name : NULL;
}

int vmxctl_device_save(struct vmxctl_machine *m, unsigned int idx,
		       struct vmxctl_dev_state *st)
{
	struct vmxctl_device *d;

	if (idx >= m->nr_devices)
		return -EINVAL;
	d = m->devices[idx];
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", d->name);
	return d->ops->save ? d->ops->save(d, st) : 0;
}

int vmxctl_device_restore(struct vmxctl_machine *m,
			  const struct vmxctl_dev_state *st)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (strcmp(d->name, st->name))
			continue;
		return d->ops->restore ? d->ops->restore(d, st) : 0;
	}
	return -ENOENT;
}

struct vmxctl_device *vmxctl_bus_find_pio(struct vmxctl_machine *m,
					  uint16_t port)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (d->port_len && port >= d->port_base &&
		    port - d->port_base < d->port_len)
			return d;
	}
	return NULL;
}

struct vmxctl_device *vmxctl_bus_find_mmio(struct vmxctl_machine *m,
					   uint64_t a)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (d->mmio_len && a >= d->mmio_base &&
		    a - d->mmio_base < d->mmio_len)
			return d;
	}
	return NULL;
}
