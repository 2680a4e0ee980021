/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What vmxctl_snapshot.c (save, restore) and vmxctl_snapshot_info.c
 * (snapshot-info, verify) share.
 */
#ifndef VMXCTL_SNAPSHOT_H
#define VMXCTL_SNAPSHOT_H

/* struct snap_machine.platform: what `vmxctl run` built around the VM */
#define PLATFORM_FLAT	0	/* ELF/flat guests: exit port, UART, disk */
#define PLATFORM_LINUX	1	/* --kernel: IOAPIC, RTC, PC ports, ACPI power */

/* exit statuses, as the header of vmxctl_snapshot.c lists them */
#define EXIT_FAILED	1
#define EXIT_USAGE	64
#define EXIT_NOINPUT	66

int vmxctl_cmd_snapshot_info(int argc, char **argv);
int vmxctl_cmd_verify(int argc, char **argv);

#endif /* VMXCTL_SNAPSHOT_H */
