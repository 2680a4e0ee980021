// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the console, the host side of --serial stdio.
 *
 * On a terminal, its input goes raw to the guest (no line editing, no
 * echo, ^C and ^Z are the guest's), output processing stays on, and the
 * terminal is restored when the UART goes away. On any input, Ctrl-A is
 * the escape, as in QEMU and screen:
 *   Ctrl-A x      stop the VM (vmxctl exits 130, as on SIGINT)
 *   Ctrl-A d      detach: the terminal is restored and no longer read or
 *                 written; the guest runs on (stop it with the control
 *                 socket, a signal, or from inside)
 *   Ctrl-A Ctrl-A a Ctrl-A for the guest
 *   Ctrl-A h, ?   this list, on stderr
 * Anything else after Ctrl-A goes to the guest, with the Ctrl-A.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vmxctl_dev.h"

#define CTRL_A		0x01

void vmxctl_console_open(struct vmxctl_console *c, int fd)
{
	struct termios t;

	c->fd = fd;
	c->esc = false;
	c->detached = false;
	c->raw = false;
	if (fd < 0 || !isatty(fd) || tcgetattr(fd, &c->saved))
		return;
	t = c->saved;
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
		       ICRNL | IXON);
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	c->raw = !tcsetattr(fd, TCSANOW, &t);
}

void vmxctl_console_close(struct vmxctl_console *c)
{
	if (c->raw)
		tcsetattr(c->fd, TCSANOW, &c->saved);
	c->raw = false;
}

static void console_help(void)
{
	fprintf(stderr, "\r\nvmxctl console: Ctrl-A x stop, Ctrl-A d detach, "
		"Ctrl-A Ctrl-A send Ctrl-A, Ctrl-A h this help\r\n");
}

size_t vmxctl_console_input(struct vmxctl_console *c, struct vmxctl_machine *m,
			    const uint8_t *in, size_t n, uint8_t *buf)
{
	size_t i, out = 0;

	for (i = 0; i < n && !c->detached; i++) {
		uint8_t b = in[i];

		if (!c->esc) {
			if (b == CTRL_A)
				c->esc = true;
			else
				buf[out++] = b;
			continue;
		}
		c->esc = false;
		switch (b) {
		case 'x':
		case 'X':
			fprintf(stderr, "\r\nvmxctl: console: stopping the VM\r\n");
			vmxctl_machine_stop(m, 128 + SIGINT);
			return out;
		case 'd':
		case 'D':
			vmxctl_console_close(c);
			c->detached = true;
			fprintf(stderr, "\nvmxctl: console detached; the guest runs on\n");
			return out;
		case 'h':
		case 'H':
		case '?':
			console_help();
			break;
		case CTRL_A:
			buf[out++] = CTRL_A;
			break;
		default:	/* not an escape: both bytes are the guest's */
			buf[out++] = CTRL_A;
			buf[out++] = b;
		}
	}
	return out;
}
