// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel devices: a table of address ranges per VM, each with the
 * handlers of the device behind it, as bhyve's vmm_ioport.c keeps its
 * port handlers. An MMIO exit that misses RAM looks here before it goes
 * to userspace; a device is one vmxl_iodev_add() call.
 *
 * Entries are appended under vm->lock and never change or go away while
 * the VM lives, so vCPUs look them up without a lock: the count is
 * published with release after the entry is written.
 */
#include <linux/lockdep.h>

#include "vmxl.h"
#include "trace.h"

static bool range_overlaps(u64 base, u64 len, u64 start, u64 end)
{
	return start < base + len && base < end;
}

/* Whether a device of @bus holds part of [@start, @end). */
bool vmxl_iobus_overlaps(const struct vmxl_iobus *bus, u64 start, u64 end)
{
	/* Pairs with vmxl_iodev_add(): entries below nr are written. */
	unsigned int i, n = smp_load_acquire(&bus->nr);

	for (i = 0; i < n; i++)
		if (range_overlaps(bus->devs[i].base, bus->devs[i].len,
				   start, end))
			return true;
	return false;
}

/*
 * Put a device at [@base, @base + @len) of @vm's MMIO space: -EINVAL for
 * an empty or wrapping range, -EEXIST where RAM or another device is,
 * -ENOSPC when the table is full.
 */
int vmxl_iodev_add(struct vmxl_vm *vm, u64 base, u64 len,
		   const struct vmxl_iodev_ops *ops, void *priv)
{
	struct vmxl_iobus *bus = &vm->mmio_bus;
	struct vmxl_iodev *dev;

	lockdep_assert_held(&vm->lock);
	if (!len || base + len < base)
		return -EINVAL;
	if (vmxl_slots_overlap(vm, base, base + len, U32_MAX) ||
	    vmxl_iobus_overlaps(bus, base, base + len))
		return -EEXIST;
	if (bus->nr == ARRAY_SIZE(bus->devs))
		return -ENOSPC;
	dev = &bus->devs[bus->nr];
	dev->base = base;
	dev->len = len;
	dev->ops = ops;
	dev->priv = priv;
	/* Pairs with the acquire in the lookups: the entry, then the count. */
	smp_store_release(&bus->nr, bus->nr + 1);
	return 0;
}

static const struct vmxl_iodev *iobus_find(const struct vmxl_iobus *bus,
					   u64 addr)
{
	/* Pairs with vmxl_iodev_add(): entries below nr are written. */
	unsigned int i, n = smp_load_acquire(&bus->nr);

	for (i = 0; i < n; i++)
		if (addr - bus->devs[i].base < bus->devs[i].len)
			return &bus->devs[i];
	return NULL;
}

/*
 * One access of a decoded MMIO instruction at @gpa: if a device of the VM
 * is there, it does the access of @size bytes at its offset (*@val in or
 * out). The core moves the data to and from registers and steps RIP, as
 * it does for userspace's devices.
 */
bool vmxl_iodev_mmio(struct vmxl_vcpu *vcpu, u64 gpa, unsigned int size,
		     bool write, u64 *val)
{
	const struct vmxl_iodev *dev = iobus_find(&vcpu->vm->mmio_bus, gpa);
	u64 off;

	if (!dev)
		return false;
	off = gpa - dev->base;
	if (write)
		dev->ops->write(vcpu, dev->priv, off, size, *val);
	else
		*val = dev->ops->read(vcpu, dev->priv, off, size);
	trace_vmxl_mmio(vcpu, write ? VMXL_TRACE_MMIO_WRITE :
			VMXL_TRACE_MMIO_READ, gpa, size, *val, true);
	return true;
}
