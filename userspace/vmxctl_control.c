// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the control socket (--control SOCKET): its command table,
 * the server thread and the client (`vmxctl control`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

#define MAX_CONTROLS	32

static struct {
	const char *name, *usage;
	vmxctl_control_fn fn;
} controls[MAX_CONTROLS];
static unsigned int nr_controls;
int vmxctl_register_control(const char *name, const char *usage,
			    vmxctl_control_fn fn)
{
	if (nr_controls == MAX_CONTROLS)
		return -ENOSPC;
	controls[nr_controls].name = name;
	controls[nr_controls].usage = usage;
	controls[nr_controls++].fn = fn;
	return 0;
}

static int split_line(char *line, char **argv, int max)
{
	int argc = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < max - 1;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return argc;
}

static void serve_one(struct vmxctl_machine *m, int fd)
{
	char line[4096], *argv[64], *outbuf = NULL, tail[32];
	size_t len = 0, outlen = 0;
	FILE *out;
	int argc, status = 1;

	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);

		if (n <= 0)
			break;
		len += n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = 0;
	out = open_memstream(&outbuf, &outlen);
	if (!out)
		return;
	argc = split_line(line, argv, ARRAY_SIZE(argv));
	if (!argc) {
		fprintf(out, "empty command (try: help)\n");
	} else {
		unsigned int i;

		for (i = 0; i < nr_controls; i++)
			if (!strcmp(controls[i].name, argv[0]))
				break;
		if (i == nr_controls) {
			fprintf(out, "unknown command '%s' (try: help)\n",
				argv[0]);
		} else {
			optind = 0;
			status = controls[i].fn(m, argc, argv, out);
		}
	}
	fclose(out);
	snprintf(tail, sizeof(tail), status ? "ERR %d\n" : "OK\n", status);
	/* A client that went away misses its answer; nothing else to do. */
	if (!outlen || write(fd, outbuf, outlen) >= 0)
		if (write(fd, tail, strlen(tail)) < 0)
			outlen = 0;
	free(outbuf);
}

static void *control_thread(void *arg)
{
	struct vmxctl_machine *m = arg;
	struct pollfd p[2] = {
		{ .fd = m->control_fd, .events = POLLIN },
		{ .fd = m->wake_pipe[0], .events = POLLIN },
	};
	int fd;

	while (!atomic_load(&m->stopping)) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(m->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(m, fd);
		close(fd);
	}
	return NULL;
}

int vmxctl_control_start(struct vmxctl_machine *m, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	if (strlen(path) >= sizeof(a.sun_path)) {
		vmxctl_err("--control %s: path too long", path);
		return VMXCTL_EXIT_USAGE;
	}
	strcpy(a.sun_path, path);
	if (!stat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);	/* a stale socket of an earlier run */
	m->control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->control_fd < 0 ||
	    bind(m->control_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(m->control_fd, 8)) {
		vmxctl_err("--control %s: %s", path, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	ret = pthread_create(&m->control_thread, NULL, control_thread, m);
	if (ret) {
		vmxctl_err("--control %s: control thread: %s", path,
			   strerror(ret));
		return VMXCTL_EXIT_OSERR;
	}
	m->control_started = true;
	return 0;
}

int vmxctl_control_request(const char *socket_path, const char *line,
			   FILE *out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *buf = NULL, *last, *end;
	size_t len = 0, cap = 0;
	int fd, status;

	if (strlen(socket_path) >= sizeof(a.sun_path)) {
		vmxctl_err("%s: socket path too long", socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		status = -errno;
		vmxctl_err("%s: cannot connect: %s", socket_path,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		return status;
	}
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		status = -errno;
		vmxctl_err("%s: %s", socket_path, strerror(errno));
		close(fd);
		return status;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, 4096);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!buf)
		buf = calloc(1, 1);
	if (!buf)
		return -ENOMEM;
	buf[len] = 0;
	/* The last line is the status. */
	end = buf + len;
	if (end > buf && end[-1] == '\n')
		*--end = 0;
	last = strrchr(buf, '\n');
	last = last ? last + 1 : buf;
	if (!strcmp(last, "OK")) {
		status = 0;
	} else if (!strncmp(last, "ERR ", 4)) {
		status = atoi(last + 4);
		if (!status)
			status = 1;
	} else {
		vmxctl_err("%s: the answer ended without a status", socket_path);
		free(buf);
		return -EPROTO;
	}
	*last = 0;
	fputs(buf, status ? stderr : out);
	free(buf);
	return status;
}

int vmxctl_ctl_help(struct vmxctl_machine *m, int argc, char **argv,
		    FILE *out)
{
	unsigned int i;

	(void)m, (void)argc, (void)argv;
	for (i = 0; i < nr_controls; i++)
		fprintf(out, "%-12s %s\n", controls[i].name, controls[i].usage);
	return 0;
}

void vmxctl_control_stop(struct vmxctl_machine *m)
{
	if (m->control_started) {
		pthread_join(m->control_thread, NULL);
		unlink(m->cfg.control);
	}
	/* A reboot listens again on the same path. */
	if (m->control_fd >= 0) {
		close(m->control_fd);
		m->control_fd = -1;
	}
}
