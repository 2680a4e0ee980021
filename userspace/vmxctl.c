// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: a small VMM on vmx-lite (libvmxlite).
 *
 *   vmxctl run [options] GUEST     start a VM and run GUEST in it
 *   vmxctl run [options] --kernel FILE [--initrd FILE] [--append ARGS]
 *                                  boot Linux (vmxctl_linux.c)
 *   vmxctl fuzz [options] --corpus DIR GUEST
 *                                  fuzz GUEST on a reset point (vmxctl_fuzz.c,
 *                                  docs/fuzzing.md; its exit statuses there)
 *   vmxctl control SOCKET CMD...   send one command to a running vmxctl
 *   vmxctl help                    list the commands
 *
 * `vmxctl run` loads GUEST, a 64-bit ELF (entered in long mode with
 * identity page tables for 0-4 GiB), a 32-bit ELF (protected mode, flat
 * segments) or, with --load, a flat binary (real mode), into RAM at GPA 0
 * and runs one thread per vCPU. Devices: a 16550A UART at 0x3f8
 * (vmxctl_uart.c), an exit port at 0xf4, and with --disk a virtio-mmio
 * block device at 0xd0000000 (vmxctl_virtio_blk.c). With --smmu the VM
 * gets a virtual SMMUv3 at 0xd0100000 and device DMA goes through it.
 * Every vCPU starts at the entry with RDI = its index, RSI = the number
 * of vCPUs, RDX = the RAM size, RFLAGS = 2; ELF guests also get
 * RSP = RAM size - 64 KiB - index * 64 KiB (the last 64 KiB of RAM hold
 * vmxctl's page tables, GDT and TSS).
 *
 * Exit port 0xf4: an OUT of any size; its low byte is the code. vmxctl
 * stops every vCPU and exits with the code (0-63; larger codes exit 63).
 *
 * Exit status of `vmxctl run`:
 *   0-63  the guest's exit-port code; 0 also when every vCPU halted
 *         with interrupts disabled
 *   64    usage error (unknown option, bad --mem, --cpus, address;
 *         --append making the command line longer than the kernel's
 *         cmdline_size)
 *   65    GUEST is not a loadable image (bad ELF, does not fit in RAM);
 *         --kernel is neither a bzImage nor a PVH vmlinux, is truncated,
 *         predates boot protocol 2.12, or it or --initrd does not fit
 *   66    a file could not be opened or read (GUEST, --disk, --serial)
 *   69    vmx-lite is not available (no /dev/vmx-lite, VM refused)
 *   70    the guest stopped abnormally (triple fault, failed entry,
 *         internal error)
 *   71    an ioctl or system call failed while running
 *   72    --restore failed (or snapshots are not built in)
 *   73    Linux rebooted (ACPI reset register, i8042 reset; a panic too,
 *         with panic=-1) and --on-reboot=exit was given
 *   130   stopped by SIGINT, 143 by SIGTERM
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "vmxctl_machine.h"

#define MAX_COMMANDS	32

/* ------------------------------------------------------------------ */
/* messages                                                            */
/* ------------------------------------------------------------------ */

void vmxctl_err(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmxctl: %s\n", buf);
}

/* ------------------------------------------------------------------ */
/* command tables                                                      */
/* ------------------------------------------------------------------ */

static struct {
	const char *name, *summary;
	vmxctl_cmd_fn fn;
} commands[MAX_COMMANDS];
static unsigned int nr_commands;

int vmxctl_register_command(const char *name, const char *summary,
			    vmxctl_cmd_fn fn)
{
	if (nr_commands == MAX_COMMANDS)
		return -ENOSPC;
	commands[nr_commands].name = name;
	commands[nr_commands].summary = summary;
	commands[nr_commands++].fn = fn;
	return 0;
}

/* ---- vmxctl control ---- */

static int cmd_control(int argc, char **argv)
{
	char line[4096] = "";
	size_t len = 0;
	int i, ret;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: vmxctl control SOCKET COMMAND [ARGS...]\n"
		       "Send COMMAND to the vmxctl run listening on SOCKET (--control)\n"
		       "and print its answer; 'help' lists the commands.\n"
		       "Exit status: 0 done, 1 (or the command's status) failed,\n"
		       "64 usage, 66 the socket could not be used.\n");
		return 0;
	}
	if (argc < 3) {
		vmxctl_err("usage: vmxctl control SOCKET COMMAND [ARGS...]");
		return VMXCTL_EXIT_USAGE;
	}
	for (i = 2; i < argc; i++) {
		ret = snprintf(line + len, sizeof(line) - len, "%s%s",
			       i > 2 ? " " : "", argv[i]);
		if (ret < 0 || (size_t)ret >= sizeof(line) - len) {
			vmxctl_err("control: command too long");
			return VMXCTL_EXIT_USAGE;
		}
		len += ret;
	}
	ret = vmxctl_control_request(argv[1], line, stdout);
	return ret < 0 ? VMXCTL_EXIT_NOINPUT : ret;
}

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: vmxctl COMMAND [ARGS...]   (vmxctl COMMAND --help)\n");
	for (i = 0; i < nr_commands; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int i;

	vmxctl_register_command("run", "start a VM and run a guest in it",
				vmxctl_cmd_run);
	vmxctl_register_command("fuzz", "fuzz a guest on a reset point",
				vmxctl_cmd_fuzz);
	vmxctl_register_command("control", "send a command to a running vmxctl",
				cmd_control);
	vmxctl_register_command("help", "this list", cmd_help);
	vmxctl_control_builtins();
	vmxctl_reset_init();
	if (vmxctl_snapshot_init)
		vmxctl_snapshot_init();

	if (argc < 2) {
		usage(stderr);
		return VMXCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < nr_commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	vmxctl_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return VMXCTL_EXIT_USAGE;
}
