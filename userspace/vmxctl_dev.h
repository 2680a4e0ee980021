/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxctl's device layer (internal to vmxctl; vmxctl.h is the stable
 * interface). A device claims a port range and/or an MMIO range on the
 * bus (vmxctl_bus.c) when it registers, and gets every guest access in
 * them, as an offset into its range, from the vCPU threads, with the
 * device's lock held. Devices that work in the background (virtio-blk
 * workers) quiesce on pause.
 *
 * Interrupts: a device raises or lowers its line with vmxctl_dev_irq();
 * nothing is connected yet (the guest polls), so it only records the
 * level. An interrupt controller plugs in by setting dev->irq_fn.
 */
#ifndef VMXCTL_DEV_H
#define VMXCTL_DEV_H

#include <pthread.h>
#include "vmxctl.h"

/* Exit statuses of `vmxctl run` (also in vmxctl.c's header and --help). */
enum {
	VMXCTL_EXIT_GUEST_MAX = 63,	/* 0-63: the code the guest wrote */
	VMXCTL_EXIT_USAGE = 64,
	VMXCTL_EXIT_IMAGE = 65,		/* GUEST is not a loadable image */
	VMXCTL_EXIT_NOINPUT = 66,	/* a file could not be opened or read */
	VMXCTL_EXIT_UNAVAILABLE = 69,	/* no /dev/vmx-lite, VM refused */
	VMXCTL_EXIT_GUEST_CRASH = 70,	/* triple fault, entry failure, ... */
	VMXCTL_EXIT_OSERR = 71,		/* an ioctl or system call failed */
	VMXCTL_EXIT_RESTORE = 72,	/* --restore failed */
};

struct vmxctl_device;

struct vmxctl_dev_ops {
	/*
	 * @offset: from port_base (mmio_base); *val: in for writes, out for
	 * reads; size 1, 2, 4 (8 for MMIO).
	 */
	void (*pio)(struct vmxctl_device *d, uint64_t offset, bool write,
		    uint64_t *val, unsigned int size);
	void (*mmio)(struct vmxctl_device *d, uint64_t offset, bool write,
		     uint64_t *val, unsigned int size);
	/*
	 * Called without the lock. A device without save is on the bus
	 * only: it has no state to keep, and is not in vmxctl.h's list.
	 */
	int (*save)(struct vmxctl_device *d, struct vmxctl_dev_state *st);
	int (*restore)(struct vmxctl_device *d,
		       const struct vmxctl_dev_state *st);
	void (*quiesce)(struct vmxctl_device *d);	/* finish in-flight work */
	void (*resume)(struct vmxctl_device *d);
	void (*destroy)(struct vmxctl_device *d);
};

struct vmxctl_device {
	char name[32];
	const struct vmxctl_dev_ops *ops;
	struct vmxctl_machine *m;
	uint16_t port_base, port_len;		/* 0 len: no ports */
	uint64_t mmio_base, mmio_len;		/* 0 len: no MMIO */
	pthread_mutex_t lock;
	bool irq_level;
	void (*irq_fn)(struct vmxctl_device *d, bool level); /* NULL for now */
	void *priv;
};

/*
 * Register @d (its name, ops, ranges set). 0, or -errno after a message
 * naming it: -EEXIST its name is taken or a range overlaps another
 * device's, -EINVAL a range without its handler or past the end of the
 * port (64 KiB) or address space, -ENOSPC the bus is full.
 */
int vmxctl_add_device(struct vmxctl_machine *m, struct vmxctl_device *d);
/*
 * A guest access to the device that claims @port (@gpa), handled; false
 * when none does (the caller decides what the guest sees).
 */
bool vmxctl_bus_pio(struct vmxctl_machine *m, uint16_t port, bool write,
		    uint64_t *val, unsigned int size);
bool vmxctl_bus_mmio(struct vmxctl_machine *m, uint64_t gpa, bool write,
		     uint64_t *val, unsigned int size);
void vmxctl_dev_irq(struct vmxctl_device *d, bool level);

/*
 * Stop the machine: every vCPU leaves, vmxctl exits with @status. The
 * first call's status wins.
 */
void vmxctl_machine_stop(struct vmxctl_machine *m, int status);
bool vmxctl_machine_stopping(struct vmxctl_machine *m);

/* Does the VM have an SMMU (device DMA goes through VMXL_SMMU_DMA)? */
bool vmxctl_has_smmu(struct vmxctl_machine *m);

/*
 * Device DMA of stream @sid: through VMXL_SMMU_DMA with an SMMU, else
 * straight through vmxctl's mapping (writes marked in the device dirty
 * log). 0 or -errno; on failure @why (may be NULL) gets a static
 * description ("SMMU fault", "aborted", "no RAM", ...).
 */
int vmxctl_dma_read(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
		    void *buf, uint64_t len, const char **why);
int vmxctl_dma_write(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
		     const void *buf, uint64_t len, const char **why);
/* Record a device write through vmxctl's mapping in the dirty log. */
void vmxctl_mark_dirty(struct vmxctl_machine *m, uint64_t gpa, uint64_t len);

/*
 * Devices, each registered on @m's bus: 0, or -errno after a message.
 * The files they use are the caller's: it opened them (and refused what
 * the options named wrongly) and closes them after the device's destroy.
 */
/* The exit port, VMXCTL_EXIT_PORT: an OUT stops the machine (its code). */
int vmxctl_exit_port_create(struct vmxctl_machine *m);
/* 16550A at VMXCTL_UART_PORT: output to @out_fd, input from @in_fd (-1: none). */
int vmxctl_uart_create(struct vmxctl_machine *m, int out_fd, int in_fd);
/* virtio-blk at VMXCTL_VIRTIO_BLK_GPA on @fd, @path its name and ID. */
int vmxctl_virtio_blk_create(struct vmxctl_machine *m, int fd, bool ro,
			     const char *path);

/* Loader (vmxctl_load.c): 0, or an exit status after a message. */
int vmxctl_load_guest(struct vmxctl_machine *m, const char *path,
		      uint64_t load, bool have_load, uint64_t entry,
		      bool have_entry);

#endif /* VMXCTL_DEV_H */
