// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testlib.h"

/* Module files of the test kernel and vmx_lite.ko; see guest-init.sh. */
static const char *module_dir(void)
{
	const char *dir = getenv("VMXL_MODDIR");

	return dir ? dir : "/lib/modules/vmxl";
}

static void module_file_name(const char *name, char *buf, size_t len)
{
	size_t i;

	/* Module "kvm_amd" lives in kvm-amd.ko. */
	snprintf(buf, len, "%s/%s.ko", module_dir(), name);
	for (i = strlen(module_dir()) + 1; buf[i]; i++)
		if (buf[i] == '_' && strcmp(name, "vmx_lite"))
			buf[i] = '-';
}

bool test_module_loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return access(path, F_OK) == 0;
}

int test_module_load(const char *name, const char *params)
{
	char path[256];
	int fd, ret;

	if (test_module_loaded(name))
		return 0;
	module_file_name(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params ? params : "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret == -EEXIST ? 0 : ret;
}

int test_module_unload(const char *name)
{
	if (!test_module_loaded(name))
		return 0;
	if (syscall(SYS_delete_module, name, O_NONBLOCK))
		return -errno;
	return 0;
}

bool test_cpuinfo_has(const char *flag)
{
	char *line = NULL, *tok, *save;
	bool found = false;
	size_t cap = 0;
	FILE *f;

	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5) && strncmp(line, "vmx flags", 9))
			continue;
		tok = strchr(line, ':');
		if (!tok)
			continue;
		for (tok = strtok_r(tok + 1, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(tok, flag))
				found = true;
		if (!strncmp(line, "vmx flags", 9))
			break;	/* first CPU's lines are enough */
	}
	free(line);
	fclose(f);
	return found;
}

int test_tracefs_write(const char *name, const char *val)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), TEST_TRACEFS "/%s", name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int test_trace_events(bool on)
{
	struct stat st;
	int ret;

	if (!on)
		return test_tracefs_write("events/vmx_lite/enable", "0");
	if (stat(TEST_TRACEFS "/trace", &st) &&
	    mount("tracefs", TEST_TRACEFS, "tracefs", 0, NULL))
		return -errno;
	ret = test_tracefs_write("buffer_size_kb", "1024");
	if (!ret)
		ret = test_tracefs_write("trace", "");
	if (!ret)
		ret = test_tracefs_write("events/vmx_lite/enable", "1");
	if (!ret)
		ret = test_tracefs_write("tracing_on", "1");
	return ret;
}
