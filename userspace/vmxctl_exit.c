// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the exit port (VMXCTL_EXIT_PORT, one port). An OUT of any size
 * stops the machine; its low byte is vmxctl's exit status (0-63, larger
 * codes exit 63). Reads return 0. No state: a snapshot does not list it.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmxctl_machine.h"

static void exit_pio(struct vmxctl_device *d, uint64_t offset, bool write,
		     uint64_t *val, unsigned int size)
{
	int code = *val & 0xff;

	(void)offset, (void)size;
	if (!write) {
		*val = 0;
		return;
	}
	if (code > VMXCTL_EXIT_GUEST_MAX) {
		vmxctl_err("guest exit code %d above %d: exiting with %d",
			   code, VMXCTL_EXIT_GUEST_MAX, VMXCTL_EXIT_GUEST_MAX);
		code = VMXCTL_EXIT_GUEST_MAX;
	}
	vmxctl_machine_stop(d->m, code);
}

static void exit_destroy(struct vmxctl_device *d)
{
	free(d);
}

static const struct vmxctl_dev_ops exit_ops = {
	.pio = exit_pio,
	.destroy = exit_destroy,
};

int vmxctl_exit_port_create(struct vmxctl_machine *m)
{
	struct vmxctl_device *d = calloc(1, sizeof(*d));
	int ret;

	if (!d) {
		vmxctl_err("exit port: out of memory");
		return -ENOMEM;
	}
	snprintf(d->name, sizeof(d->name), "exit-port");
	d->ops = &exit_ops;
	d->port_base = VMXCTL_EXIT_PORT;
	d->port_len = 1;
	d->gsi = -1;
	ret = vmxctl_add_device(m, d);
	if (ret)
		free(d);
	return ret;
}
