// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: reset points, the control commands
 *
 *   reset-point    make the machine's state now the point to reset to
 *   reset          bring the machine back to it
 *
 * The module keeps the VM's side (VMXL_SET_RESET_POINT: RAM, every
 * vCPU, the clock; docs/uapi.md); vmxctl keeps the devices' side: each
 * device's save() at the point, handed back to its restore() at every
 * reset, after the module's reset so that an interrupt a restored
 * device raises lands in a restored APIC (the order of a snapshot
 * restore). A device whose state lies outside its save() (virtio-blk:
 * the disk, and its DMA through vmxctl's mapping, which the module
 * does not see) refuses the point: a reset could not undo it.
 *
 * Both commands pause the machine, so the vCPUs are out of VMXL_RUN
 * with what their last exit left completed (the module refuses a point
 * or a reset while a vCPU runs). Control thread only, as every command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

struct vmxctl_reset {
	unsigned int nr;
	struct vmxctl_dev_state dev[MAX_DEVICES];
	unsigned long resets;
};

static void free_states(struct vmxctl_reset *r)
{
	for (unsigned int i = 0; i < r->nr; i++)
		free(r->dev[i].data);
	r->nr = 0;
}

void vmxctl_reset_free(struct vmxctl_machine *m)
{
	if (m->reset) {
		free_states(m->reset);
		free(m->reset);
		m->reset = NULL;
	}
}

static double us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e6 + (t.tv_nsec - t0->tv_nsec) / 1e3;
}

static int ctl_reset_point(struct vmxctl_machine *m, int argc, char **argv,
			   FILE *out)
{
	struct vmxctl_reset *r;
	int ret;

	(void)argv;
	if (argc != 1) {
		fprintf(out, "usage: reset-point\n");
		return 1;
	}
	for (unsigned int i = 0; i < m->nr_devices; i++)
		if (m->devices[i]->ops->reset_refusal) {
			fprintf(out, "reset-point: device %s: %s\n",
				m->devices[i]->name,
				m->devices[i]->ops->reset_refusal);
			return 1;
		}
	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(out, "reset-point: out of memory\n");
		return 1;
	}
	if (vmxctl_pause(m)) {
		fprintf(out, "reset-point: cannot pause: the machine is stopping\n");
		free(r);
		return 1;
	}
	/* The devices with state; the others are on the bus only. */
	for (unsigned int i = 0; i < vmxctl_nr_devices(m); i++, r->nr++) {
		ret = vmxctl_device_save(m, i, &r->dev[i]);
		if (ret) {
			fprintf(out, "reset-point: device %s: saving its state: %s\n",
				vmxctl_device_name(m, i), strerror(-ret));
			goto fail;
		}
	}
	ret = vmxlite_set_reset_point(m->vm_fd);
	if (ret) {
		fprintf(out, "reset-point: VMXL_SET_RESET_POINT on the VM: %s\n",
			strerror(-ret));
		goto fail;
	}
	vmxctl_reset_free(m);
	m->reset = r;
	vmxctl_resume(m);
	fprintf(out, "devices %u\n", r->nr);
	return 0;
fail:
	vmxctl_resume(m);
	free_states(r);
	free(r);
	return 1;
}

static int ctl_reset(struct vmxctl_machine *m, int argc, char **argv,
		     FILE *out)
{
	struct vmxctl_reset *r = m->reset;
	struct timespec t0;
	unsigned int stopped;
	int pages;

	(void)argv;
	if (argc != 1) {
		fprintf(out, "usage: reset\n");
		return 1;
	}
	if (!r) {
		fprintf(out, "reset: no reset point: take one with reset-point\n");
		return 1;
	}
	if (vmxctl_pause(m)) {
		fprintf(out, "reset: cannot pause: the machine is stopping\n");
		return 1;
	}
	/* Its thread has ended: a reset vCPU would not run again. */
	pthread_mutex_lock(&m->lock);
	for (stopped = 0; stopped < m->nr_vcpus; stopped++)
		if (m->vcpus[stopped].stopped)
			break;
	pthread_mutex_unlock(&m->lock);
	if (stopped < m->nr_vcpus) {
		fprintf(out, "reset: vCPU %u has stopped for good (halted with interrupts off, or failed)\n",
			stopped);
		vmxctl_resume(m);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pages = vmxlite_reset_to_point(m->vm_fd);
	if (pages < 0) {
		/* Nothing changed: the machine goes on as it was. */
		fprintf(out, "reset: VMXL_RESET_TO_POINT on the VM: %s\n",
			strerror(-pages));
		vmxctl_resume(m);
		return 1;
	}
	for (unsigned int i = 0; i < r->nr; i++) {
		int ret = vmxctl_device_restore(m, &r->dev[i]);

		if (ret) {
			/*
			 * A state the device saved itself, refused: RAM and
			 * vCPUs are back at the point and this device is not,
			 * a machine that must not run on.
			 */
			fprintf(out, "reset: device %s: restoring its state: %s; the machine stops\n",
				r->dev[i].name, strerror(-ret));
			vmxctl_machine_stop(m, VMXCTL_EXIT_OSERR);
			vmxctl_resume(m);
			return 1;
		}
	}
	r->resets++;
	fprintf(out, "pages %d\ntime_us %.1f\nresets %lu\n", pages, us_since(&t0),
		r->resets);
	vmxctl_resume(m);
	return 0;
}

void vmxctl_reset_init(void)
{
	vmxctl_register_control("reset-point",
				"the machine's state now is the one `reset` returns to",
				ctl_reset_point);
	vmxctl_register_control("reset",
				"back to the reset point: RAM written since, vCPUs, devices",
				ctl_reset);
}
