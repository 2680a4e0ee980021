// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the machine's devices (vmxctl.h's picture), created from the
 * options: the exit port, the UART on --serial, virtio-blk on --disk
 * (none of them with cfg.no_devices: vmxctl fuzz),
 * and with cfg.linux_platform (--kernel) the IOAPIC and the PC platform
 * ports a Linux guest needs (vmxctl_ioapic.c, vmxctl_platform.c).
 * The files the options name are opened here, so that a file that
 * cannot be used is a usage problem (66), and a device that cannot be
 * built a system one (71).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "vmxctl_machine.h"

static int open_serial(struct vmxctl_machine *m, int *out_fd, int *in_fd)
{
	if (!strcmp(m->cfg.serial, "stdio")) {
		*out_fd = STDOUT_FILENO;
		*in_fd = STDIN_FILENO;
		return 0;
	}
	/* After a reboot, the output goes on after the first boot's. */
	m->serial_fd = open(m->cfg.serial, O_WRONLY | O_CREAT | O_CLOEXEC |
			    (m->boots ? O_APPEND : O_TRUNC), 0644);
	if (m->serial_fd < 0) {
		vmxctl_err("--serial %s: %s", m->cfg.serial, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	*out_fd = m->serial_fd;
	*in_fd = -1;
	return 0;
}

/* Read-write if we may, else read-only (the device says RO). */
static int open_disk(struct vmxctl_machine *m, bool *ro)
{
	const char *path = m->cfg.disk;
	struct stat st;

	*ro = false;
	m->disk_fd = open(path, O_RDWR | O_CLOEXEC);
	if (m->disk_fd < 0 && (errno == EACCES || errno == EROFS)) {
		m->disk_fd = open(path, O_RDONLY | O_CLOEXEC);
		*ro = true;
	}
	if (m->disk_fd < 0 || fstat(m->disk_fd, &st)) {
		vmxctl_err("--disk %s: %s", path, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		vmxctl_err("--disk %s: not a file or block device", path);
		return VMXCTL_EXIT_NOINPUT;
	}
	return 0;
}

int vmxctl_machine_add_devices(struct vmxctl_machine *m)
{
	int out_fd, in_fd, ret;
	bool ro;

	if (m->cfg.no_devices)
		return 0;
	if (vmxctl_exit_port_create(m))
		return VMXCTL_EXIT_OSERR;
	if (m->cfg.linux_platform &&
	    (vmxctl_ioapic_create(m) || vmxctl_platform_create(m)))
		return VMXCTL_EXIT_OSERR;
	ret = open_serial(m, &out_fd, &in_fd);
	if (ret)
		return ret;
	if (vmxctl_uart_create(m, out_fd, in_fd))
		return VMXCTL_EXIT_OSERR;
	if (!m->cfg.disk)
		return 0;
	ret = open_disk(m, &ro);
	if (ret)
		return ret;
	if (vmxctl_virtio_blk_create(m, m->disk_fd, ro, m->cfg.disk))
		return VMXCTL_EXIT_OSERR;
	return 0;
}
