// SPDX-License-Identifier: GPL-2.0
/*
 * vmxl-runas UID GID COMMAND [ARG...]: run COMMAND as UID:GID with no
 * supplementary groups and, as a non-root uid, no capabilities (the
 * guest's busybox setpriv has no --reuid). For the vmxmon bats tests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uid_t uid;
	gid_t gid;

	if (argc < 4) {
		fprintf(stderr, "usage: vmxl-runas UID GID COMMAND [ARG...]\n");
		return 2;
	}
	uid = strtoul(argv[1], NULL, 10);
	gid = strtoul(argv[2], NULL, 10);
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
		fprintf(stderr, "vmxl-runas: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[3], argv + 3);
	fprintf(stderr, "vmxl-runas: %s: %s\n", argv[3], strerror(errno));
	return 127;
}
