/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxctl: the interfaces between vmxctl's core (the machine, vCPU
 * threads, control socket: vmxctl_machine.h lists its files) and code
 * built into it from other files: snapshots (vmxctl_snapshot.c) and,
 * later, other commands.
 *
 * Everything here is a stable interface: additions only. Functions
 * return 0 (or a count) on success and -errno on failure, and print
 * nothing unless they say so; messages go through vmxctl_err().
 *
 * The machine vmxctl builds (docs: vmxctl --help):
 *   RAM        one slot (index 0) at GPA 0, --mem bytes, below 3 GiB
 *   virtio-blk MMIO at VMXCTL_VIRTIO_BLK_GPA (4 KiB), with --disk
 *   SMMU       register window at VMXCTL_SMMU_GPA, with --smmu
 *   UART       16550A at port 0x3f8;  exit port VMXCTL_EXIT_PORT
 */
#ifndef VMXCTL_H
#define VMXCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/vmx_lite.h>

#define VMXCTL_MAX_VCPUS	16
#define VMXCTL_MAX_SLOTS	8
#define VMXCTL_MAX_MEM		(3ULL << 30)	/* RAM ends below the MMIO hole */
#define VMXCTL_VIRTIO_BLK_GPA	0xd0000000ULL
#define VMXCTL_SMMU_GPA		0xd0100000ULL
#define VMXCTL_SMMU_SID_BLK	0	/* virtio-blk's StreamID */
#define VMXCTL_SMMU_SID_BITS	8
#define VMXCTL_UART_PORT	0x3f8
#define VMXCTL_EXIT_PORT	0xf4
/* The Linux platform (cfg.linux_platform; docs/vmxctl.md) */
#define VMXCTL_IOAPIC_GPA	0xfec00000ULL
#define VMXCTL_IOAPIC_PINS	24
#define VMXCTL_UART_GSI		4	/* COM1: edge, active high */
#define VMXCTL_GED_GSI		9	/* the ACPI power button: edge, high */
#define VMXCTL_VIRTIO_GSI_BASE	16	/* + k for virtio-mmio device k: level */
#define VMXCTL_VIRTIO_MMIO_STRIDE 0x1000ULL	/* device k at BLK_GPA + k * this */
#define VMXCTL_ACPI_PM_PORT	0x600	/* sleep control/status, reset */
#define VMXCTL_ACPI_SLP_TYP_S5	5	/* the DSDT's \_S5 */
#define VMXCTL_ACPI_RESET_VALUE	1	/* the FADT's RESET_VALUE */

/* The options `vmxctl run` was given (after parsing; read-only). */
struct vmxctl_config {
	uint64_t mem_size;		/* bytes of RAM at GPA 0 */
	unsigned int nr_cpus;
	bool smmu;			/* --smmu: VMXCTL_SMMU_GPA */
	const char *guest;		/* GUEST, NULL with --restore */
	const char *disk;		/* --disk, or NULL */
	const char *serial;		/* "stdio" or a file name */
	const char *control;		/* --control socket, or NULL */
	const char *restore;		/* --restore FILE, or NULL */
	/*
	 * The PC platform a Linux guest needs: IOAPIC, RTC, PIT stub,
	 * i8042, ACPI power device, interrupts wired (--kernel).
	 */
	bool linux_platform;
	/* Booting Linux (--kernel, vmxctl_linux.c): */
	const char *kernel;		/* --kernel FILE, or NULL */
	const char *initrd;		/* --initrd FILE, or NULL */
	const char *append;		/* --append, or NULL */
	bool lapic;			/* VMXL_VM_LAPIC: in-kernel local APICs */
	/*
	 * No device on the bus, not even the exit port (vmxctl fuzz): its
	 * caller handles every exit itself, and a reset point restores the
	 * kernel's state only, never a userspace device's.
	 */
	bool no_devices;
};

/*
 * The SMMU --smmu gives a VM: what VMXL_CREATE_SMMU gets, and what a
 * snapshot's smmu section must hold for run --restore to rebuild it.
 */
static inline void vmxctl_smmu_config(struct vmxl_smmu_config *sc)
{
	*sc = (struct vmxl_smmu_config){
		.base_gpa = VMXCTL_SMMU_GPA,
		.sid_bits = VMXCTL_SMMU_SID_BITS,
	};
}

struct vmxctl_machine;

/* ---- messages ---- */

/* "vmxctl: <message>\n" on stderr. */
void vmxctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the machine ---- */

const struct vmxctl_config *vmxctl_config(struct vmxctl_machine *m);
int vmxctl_sys_fd(struct vmxctl_machine *m);	/* /dev/vmx-lite */
int vmxctl_vm_fd(struct vmxctl_machine *m);

/*
 * Stop every vCPU at a safe point and hold it there: each vCPU thread is
 * out of VMXL_RUN with nothing pending in the kernel (an IN or MMIO read
 * already completed), and every device has finished its in-flight work
 * (virtio-blk requests done, used ring written). Then vCPU state, memory
 * and device state are consistent and may be read or replaced. Nests:
 * each vmxctl_pause() needs one vmxctl_resume(). 0, or -ESHUTDOWN when
 * the machine is stopping.
 */
int vmxctl_pause(struct vmxctl_machine *m);
void vmxctl_resume(struct vmxctl_machine *m);

/* ---- vCPUs (only while paused, or before the machine starts) ---- */

unsigned int vmxctl_nr_vcpus(struct vmxctl_machine *m);
int vmxctl_vcpu_fd(struct vmxctl_machine *m, unsigned int cpu);

/* The MSRs vmx-lite owns (docs/uapi.md), in the order state holds them. */
#define VMXCTL_MAX_MSRS		64
extern const uint32_t vmxctl_msr_list[];
extern const unsigned int vmxctl_nr_msr_list;

struct vmxctl_vcpu_state {
	struct vmxl_regs regs;
	struct vmxl_sregs sregs;
	struct vmxl_fpu fpu;
	uint32_t nmsrs;
	uint32_t ncpuid;
	struct vmxl_msr_entry msrs[VMXCTL_MAX_MSRS];
	struct vmxl_cpuid_entry cpuid[VMXL_MAX_CPUID_ENTRIES];
};

/* All of it: regs, sregs, FPU, every MSR of vmxctl_msr_list, CPUID. */
int vmxctl_get_vcpu_state(struct vmxctl_machine *m, unsigned int cpu,
			  struct vmxctl_vcpu_state *st);
/*
 * Sets CPUID, sregs, MSRs, FPU, then regs (in that order: EFER and CR0
 * must agree before RIP means anything). -EINVAL when the kernel
 * processed fewer MSRs than st->nmsrs.
 */
int vmxctl_set_vcpu_state(struct vmxctl_machine *m, unsigned int cpu,
			  const struct vmxctl_vcpu_state *st);

/* ---- memory ---- */

struct vmxctl_slot {
	uint32_t slot;		/* VMXL_SET_MEMORY_REGION slot number */
	uint32_t flags;		/* VMXL_MEM_* as currently set */
	uint64_t gpa;
	uint64_t size;
	void *hva;		/* vmxctl's mapping of it */
};

unsigned int vmxctl_nr_slots(struct vmxctl_machine *m);
/* Slot by index 0 .. nr_slots-1 (not the slot number); NULL beyond. */
const struct vmxctl_slot *vmxctl_slot(struct vmxctl_machine *m,
				      unsigned int idx);

/* vmxctl's pointer to guest-physical [gpa, gpa + len) in RAM, or NULL. */
void *vmxctl_gpa_to_hva(struct vmxctl_machine *m, uint64_t gpa,
			uint64_t len);

/* VMXL_MEM_LOG_DIRTY on (every page clean) or off, on every slot. */
int vmxctl_dirty_log_enable(struct vmxctl_machine *m, bool on);
/*
 * The dirty bitmap of slot index @idx (bit n = page n, 64-bit words,
 * (size / 4096 + 63) / 64 of them), without clearing: the kernel's log
 * ORed with the pages vmxctl's own devices wrote straight into guest
 * memory (virtio-blk without an SMMU writes through its mapping, which
 * the kernel does not see). Use this, not VMXL_GET_DIRTY_LOG, to never
 * miss a device write.
 */
int vmxctl_dirty_log_get(struct vmxctl_machine *m, unsigned int idx,
			 uint64_t *bitmap);
/* Clear exactly the pages set in @bitmap (whole slot), in both logs. */
int vmxctl_dirty_log_clear(struct vmxctl_machine *m, unsigned int idx,
			   const uint64_t *bitmap);
/*
 * Mark the pages of @bitmap dirty again (in vmxctl's own log), as if
 * written: undoes a clear whose pages did not reach their snapshot.
 */
void vmxctl_dirty_log_mark(struct vmxctl_machine *m, unsigned int idx,
			   const uint64_t *bitmap);

/* ---- device state ---- */

/*
 * Each device's state as a versioned byte blob (device-specific layout,
 * little-endian, documented in its vmxctl_<dev>.c). Names are stable:
 * "uart0" (registers and receive FIFO), "virtio-blk0" (status, features,
 * queue addresses and sizes, last_avail_idx, used_idx), and on the Linux
 * platform "ioapic0" (ID, redirection entries, lines) and "rtc0"
 * (registers, the guest clock's offset). Devices without
 * state (the exit port) are not listed. Save and restore only while
 * paused.
 */
struct vmxctl_dev_state {
	char name[32];
	uint32_t version;
	uint32_t len;
	void *data;		/* save: malloc'd, the caller frees it */
};

unsigned int vmxctl_nr_devices(struct vmxctl_machine *m);
const char *vmxctl_device_name(struct vmxctl_machine *m, unsigned int idx);
int vmxctl_device_save(struct vmxctl_machine *m, unsigned int idx,
		       struct vmxctl_dev_state *st);
/*
 * Restore the device named st->name. -ENOENT no such device (e.g. the
 * snapshot had a disk and this run has no --disk), -EINVAL a version or
 * length this vmxctl does not understand.
 */
int vmxctl_device_restore(struct vmxctl_machine *m,
			  const struct vmxctl_dev_state *st);

/* ---- control socket (--control SOCKET) ---- */

/*
 * One command per connection: the client sends a line ("name arg..."),
 * the server runs the handler, and answers with what the handler wrote
 * to @out, then a last line "OK" (status 0) or "ERR <status>". Handlers
 * run on the control thread while the vCPUs run; pause if you need to.
 * Return 0 on success or an exit status for the client (1: failed; write
 * the reason to @out).
 */
typedef int (*vmxctl_control_fn)(struct vmxctl_machine *m, int argc,
				 char **argv, FILE *out);

/* Add a command (argv[0] == name). Call before the machine starts. */
int vmxctl_register_control(const char *name, const char *usage,
			    vmxctl_control_fn fn);

/*
 * Client side: connect to @socket_path, send @line, copy the answer's
 * output to @out (or stderr when it failed). Returns the status the
 * server sent, or -errno when the socket could not be used (with a
 * message).
 */
int vmxctl_control_request(const char *socket_path, const char *line,
			   FILE *out);

/* ---- subcommands (vmxctl NAME ...) ---- */

/* main-like: argv[0] is the subcommand's name; returns an exit status. */
typedef int (*vmxctl_cmd_fn)(int argc, char **argv);

int vmxctl_register_command(const char *name, const char *summary,
			    vmxctl_cmd_fn fn);

/* ---- snapshots ---- */

/*
 * `vmxctl run --restore FILE`: vmxctl parses the options, then calls
 * prepare() (may adjust cfg->mem_size / cfg->nr_cpus from the file, or
 * refuse it), builds the machine (RAM, vCPUs in reset state, devices,
 * SMMU) without loading a guest, calls restore() (fill RAM, set every
 * vCPU's state, restore devices; the machine is not running), and runs
 * it. Both print their own message and return 0 or -errno. Without
 * registered ops, --restore fails with "snapshots not built".
 */
struct vmxctl_snapshot_ops {
	int (*prepare)(const char *file, struct vmxctl_config *cfg);
	int (*restore)(struct vmxctl_machine *m, const char *file);
};

void vmxctl_register_snapshot_ops(const struct vmxctl_snapshot_ops *ops);

/*
 * Called once by main() before it parses anything, when it exists
 * (weak reference): vmxctl_snapshot.c defines it to register its
 * subcommands, control commands and snapshot ops.
 */
void vmxctl_snapshot_init(void) __attribute__((weak));

#endif /* VMXCTL_H */
