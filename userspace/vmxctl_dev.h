/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxctl's device layer (internal to vmxctl; vmxctl.h is the stable
 * interface). A device claims a port range and/or an MMIO range on the
 * bus (vmxctl_bus.c) when it registers, and gets every guest access in
 * them, as an offset into its range, from the vCPU threads, with the
 * device's lock held. Devices that work in the background (virtio-blk
 * workers) quiesce on pause.
 *
 * Interrupts: a device raises or lowers its line with vmxctl_dev_irq(),
 * with its lock held. The level is recorded; when the machine has an
 * IOAPIC (Linux guests: vmxctl_ioapic.c) and the device is wired to one
 * of its pins (dev->gsi), the pin follows it. Without one the guest
 * polls. Lock order: a device's lock, then the IOAPIC's.
 */
#ifndef VMXCTL_DEV_H
#define VMXCTL_DEV_H

#include <pthread.h>
#include <termios.h>
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
	VMXCTL_EXIT_REBOOT = 73,	/* the guest asked for a reset */
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
	/*
	 * The reset hook (vmxctl_reset.c): a reset point keeps what save
	 * gives and hands it to restore at every reset. A device with
	 * state save does not hold says here why it refuses a point.
	 */
	const char *reset_refusal;
};

struct vmxctl_device {
	char name[32];
	const struct vmxctl_dev_ops *ops;
	struct vmxctl_machine *m;
	uint16_t port_base, port_len;		/* 0 len: no ports */
	uint64_t mmio_base, mmio_len;		/* 0 len: no MMIO */
	pthread_mutex_t lock;
	/*
	 * The IOAPIC pin (GSI) its line drives, -1 for none: set it before
	 * vmxctl_add_device() (a zeroed struct means GSI 0).
	 */
	int gsi;
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
/*
 * Press the ACPI power button (a Linux guest powers off); the VM is
 * stopped with 143 (as SIGTERM) unless it stopped within @grace_s.
 */
void vmxctl_machine_power_button(struct vmxctl_machine *m,
				 unsigned int grace_s);

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
/*
 * The console (vmxctl_console.c): --serial stdio's terminal in raw mode,
 * and the Ctrl-A escapes. vmxctl_console_input() takes @n bytes read
 * from it and writes what the guest gets to @buf (room for @n + 1: an
 * escape split across reads), acting on the escapes; the count is
 * returned. After detach, nothing more.
 */
struct vmxctl_console {
	int fd;
	bool raw, esc, detached;
	struct termios saved;
};
void vmxctl_console_open(struct vmxctl_console *c, int fd);
void vmxctl_console_close(struct vmxctl_console *c);
size_t vmxctl_console_input(struct vmxctl_console *c, struct vmxctl_machine *m,
			    const uint8_t *in, size_t n, uint8_t *buf);

/* 16550A at VMXCTL_UART_PORT: output to @out_fd, input from @in_fd (-1: none). */
int vmxctl_uart_create(struct vmxctl_machine *m, int out_fd, int in_fd);
/* virtio-blk at VMXCTL_VIRTIO_BLK_GPA on @fd, @path its name and ID. */
int vmxctl_virtio_blk_create(struct vmxctl_machine *m, int fd, bool ro,
			     const char *path);

/*
 * The IOAPIC (vmxctl_ioapic.c) at VMXCTL_IOAPIC_GPA: VMXCTL_IOAPIC_PINS
 * pins from GSI 0, delivering through VMXL_SIGNAL_MSI (the VM needs
 * VMXL_VM_LAPIC). Create it once; devices made before or after it are
 * wired by their gsi.
 */
int vmxctl_ioapic_create(struct vmxctl_machine *m);
/* Pin @gsi's line is now @level (asserted): no-op without an IOAPIC. */
void vmxctl_ioapic_set_irq(struct vmxctl_machine *m, unsigned int gsi,
			   bool level);
/* The guest's EOI of level-triggered @vector (VMXL_EXIT_EOI). */
void vmxctl_ioapic_eoi(struct vmxctl_machine *m, uint8_t vector);
/*
 * The VMXL_SIGNAL_MSI address and data of redirection entry @entry;
 * false when the module would refuse it (delivery mode SMI, ExtINT,
 * STARTUP or reserved, vector below 16): then nothing is sent.
 */
bool vmxctl_ioapic_msi(uint64_t entry, uint32_t *address, uint32_t *data);

/*
 * The PC platform devices a Linux guest probes (vmxctl_platform.c):
 * CMOS RTC 0x70-0x71 (vmxctl_rtc.c), PIT 0x40-0x43 and port 0x61,
 * port 0x80, i8042 0x60/0x64 (reset), the ACPI power device at
 * VMXCTL_ACPI_PM_PORT (power off, reset). 0 or -errno after a message.
 */
int vmxctl_platform_create(struct vmxctl_machine *m);
int vmxctl_rtc_create(struct vmxctl_machine *m);

/*
 * All of regular file @path into a new *@buf (free() it) of *@len bytes:
 * 0, or an exit status after a message naming the file.
 */
int vmxctl_read_file(const char *path, unsigned char **buf, size_t *len);
/*
 * A flat 4 GiB segment (base 0, G=1, present): code (@type 11) 64-bit
 * when @code64, else 32-bit (D/B set); data (@type 3) 32-bit.
 */
void vmxctl_flat_segment(struct vmxl_segment *s, uint16_t sel, uint8_t type,
			 bool code64);
/* Loader (vmxctl_load.c): 0, or an exit status after a message. */
int vmxctl_load_guest(struct vmxctl_machine *m, const char *path,
		      uint64_t load, bool have_load, uint64_t entry,
		      bool have_entry);

#endif /* VMXCTL_DEV_H */
