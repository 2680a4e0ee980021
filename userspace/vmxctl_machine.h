/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxctl's machine, inside (internal to vmxctl; vmxctl.h is the stable
 * interface, vmxctl_dev.h the devices'). The files that build and run
 * the machine share this struct:
 *   vmxctl_machine.c     kernel objects: VM, RAM, SMMU, vCPUs, devices
 *   vmxctl_vcpu.c        vCPU threads and their exits
 *   vmxctl_vcpu_state.c  vCPU state (registers, MSRs, CPUID)
 *   vmxctl_pause.c       stop, pause, resume
 *   vmxctl_dirty.c       the dirty log (kernel's and devices')
 *   vmxctl_dma.c         device DMA
 *   vmxctl_bus.c         the device bus
 *   vmxctl_devices.c     the devices the options ask for
 *   vmxctl_acpi.c        the ACPI tables (for a Linux guest)
 *   vmxctl_control.c     the control socket; vmxctl_control_cmds.c its
 *                        built-in commands
 *   vmxctl_reset.c       reset points (control commands)
 *   vmxctl_run.c         `vmxctl run`
 *   vmxctl_fuzz.c        `vmxctl fuzz` (its own run loop, one vCPU)
 */
#ifndef VMXCTL_MACHINE_H
#define VMXCTL_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "vmxctl.h"
#include "vmxctl_dev.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#define PAGE_SIZE	4096ULL
#define MAX_DEVICES	16

struct vcpu {
	struct vmxctl_machine *m;
	unsigned int id;
	int fd;
	struct vmxl_run *run;
	pthread_t thread;
	bool started;
	bool settled;		/* nothing pending in the kernel */
	bool stopped;		/* halted for good or failed */
	unsigned int warned;	/* unmapped-access messages printed */
};

struct vmxctl_machine {
	struct vmxctl_config cfg;
	int sys_fd, vm_fd;
	size_t run_size;
	unsigned int nr_vcpus;
	struct vcpu vcpus[VMXCTL_MAX_VCPUS];
	unsigned int nr_slots;
	struct vmxctl_slot slots[VMXCTL_MAX_SLOTS];
	uint64_t *dev_dirty[VMXCTL_MAX_SLOTS];	/* pages devices wrote */
	unsigned int nr_devices;
	struct vmxctl_device *devices[MAX_DEVICES];
	struct vmxctl_device *ioapic;	/* or NULL: devices' lines go nowhere */
	int serial_fd, disk_fd;		/* --serial FILE, --disk; or -1 */
	struct vmxl_caps caps;		/* VMXL_GET_CAPS, when created */
	unsigned int boots;		/* reboots so far (--on-reboot=restart) */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int pause_req;		/* pause nesting */
	unsigned int parked;		/* vCPU threads parked or stopped */
	atomic_bool stopping;
	int status;
	/*
	 * The ACPI power button (Linux platform): pressed by the run loop
	 * (vmxctl_machine_run()), which stops the VM at shutdown_by
	 * (CLOCK_REALTIME; tv_sec 0: no deadline) unless it powered off.
	 * Both under lock.
	 */
	bool power_button;
	struct timespec shutdown_by;
	int wake_pipe[2];		/* wakes the control and stdin threads */
	int control_fd;
	pthread_t control_thread;
	bool control_started;
	struct vmxctl_reset *reset;	/* the reset point's devices, or NULL */
};

/* 64-bit words of a dirty bitmap of slot @s. */
static inline uint64_t vmxctl_slot_words(const struct vmxctl_slot *s)
{
	return (s->size / PAGE_SIZE + 63) / 64;
}

/* vmxctl_machine.c */
void vmxctl_machine_init(struct vmxctl_machine *m);
/* The kernel's VM, RAM, SMMU, vCPUs, then the devices: 0 or an exit status. */
int vmxctl_machine_create(struct vmxctl_machine *m);
void vmxctl_machine_destroy(struct vmxctl_machine *m);
/*
 * After vmxctl_machine_destroy(): ready for vmxctl_machine_create() again
 * (a reboot), keeping the options, the lock and the wake pipe.
 */
void vmxctl_machine_reinit(struct vmxctl_machine *m);

/* vmxctl_vcpu.c: one thread per vCPU until the machine stops; its status. */
int vmxctl_machine_run(struct vmxctl_machine *m);
/* SIGUSR1 interrupts VMXL_RUN (kicks); install before any vCPU runs. */
void vmxctl_vcpu_signals(void);

/*
 * vmxctl_devices.c: the devices m->cfg asks for, on the bus, their files
 * (--serial, --disk) opened: 0 or an exit status after a message.
 */
int vmxctl_machine_add_devices(struct vmxctl_machine *m);

/*
 * vmxctl_acpi.c: the ACPI tables (RSDP, XSDT, FADT, MADT, DSDT; docs/
 * vmxctl.md, "ACPI tables") for m->cfg.nr_cpus vCPUs and the virtio-mmio
 * devices on the bus, written into RAM at VMXCTL_ACPI_GPA. 0 and the
 * RSDP's address in @rsdp_gpa, or -errno after a message: -EFAULT no RAM
 * there, -EINVAL a vCPU count out of range, -ENOSPC the DSDT is too big.
 */
#define VMXCTL_ACPI_GPA		0xe0000ULL	/* reserved in the e820 map */
#define VMXCTL_ACPI_SIZE	0x10000u
/* virtio-mmio device k: its window (VMXCTL_VIRTIO_MMIO_STRIDE apart) */
#define VMXCTL_VIRTIO_MMIO_GPA	VMXCTL_VIRTIO_BLK_GPA	/* + STRIDE * k */
#define VMXCTL_VIRTIO_MMIO_MAX	8u
/*
 * The power device at VMXCTL_ACPI_PM_PORT is the FADT's SLEEP_CONTROL_REG,
 * SLEEP_STATUS_REG and RESET_REG (byte access). Linux writes 0x80 (clear
 * WAK_STS), then SLP_TYP << 2 | SLP_EN (0x20) to power off: 0x34 for
 * \_S5's SLP_TYP 5; RESET_VALUE to reboot.
 */
int vmxctl_acpi_build(struct vmxctl_machine *m, uint64_t *rsdp_gpa);

/* vmxctl_pause.c: make every vCPU leave VMXL_RUN now. */
void vmxctl_kick_vcpus(struct vmxctl_machine *m);

/* vmxctl_control.c: listen on --control @path: 0 or an exit status. */
int vmxctl_control_start(struct vmxctl_machine *m, const char *path);
void vmxctl_control_stop(struct vmxctl_machine *m);
int vmxctl_ctl_help(struct vmxctl_machine *m, int argc, char **argv,
		    FILE *out);
/* vmxctl_control_cmds.c: register the built-in control commands. */
void vmxctl_control_builtins(void);
/*
 * vmxctl_run.c, for the options of run and fuzz: a number (0x for hex),
 * or a size with an optional K, M or G; 0 or -EINVAL.
 */
int vmxctl_parse_u64(const char *s, uint64_t *out);
int vmxctl_parse_size(const char *s, uint64_t *out);
/*
 * The options run and fuzz share, each stored on success: --mem (a size
 * from 1M to 3G in whole pages), --load and --entry (an address, *@have
 * set). 0, or -EINVAL after a message naming the option and its value.
 */
int vmxctl_opt_mem(const char *arg, uint64_t *mem);
int vmxctl_opt_addr(const char *name, const char *arg, uint64_t *addr,
		    bool *have);
/* vmxctl_reset.c: the commands reset-point and reset; the point's end. */
void vmxctl_reset_init(void);
void vmxctl_reset_free(struct vmxctl_machine *m);

/* vmxctl_run.c */
int vmxctl_cmd_run(int argc, char **argv);
/* vmxctl_fuzz.c */
int vmxctl_cmd_fuzz(int argc, char **argv);

#endif /* VMXCTL_MACHINE_H */
