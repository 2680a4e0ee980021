// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit test of vmxctl's console (userspace/vmxctl_console.c) on a
 * pseudo-terminal: the terminal is raw while the console holds it and
 * exactly as it was afterwards, on close and on detach; something that
 * is not a terminal is left alone; the Ctrl-A escapes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../../userspace/vmxctl_machine.h"

void vmxctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# vmxctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

FIXTURE(console) {
	int master, slave;
	struct termios cooked;
	struct vmxctl_machine m;
	struct vmxctl_console c;
};

FIXTURE_SETUP(console)
{
	ASSERT_LE(0, self->master = posix_openpt(O_RDWR | O_NOCTTY));
	ASSERT_EQ(0, grantpt(self->master));
	ASSERT_EQ(0, unlockpt(self->master));
	ASSERT_LE(0, self->slave = open(ptsname(self->master),
					O_RDWR | O_NOCTTY));
	/* a terminal as a shell leaves it: line editing, echo, signals */
	ASSERT_EQ(0, tcgetattr(self->slave, &self->cooked));
	self->cooked.c_iflag |= ICRNL | IXON | BRKINT;
	self->cooked.c_oflag |= OPOST | ONLCR;
	self->cooked.c_lflag |= ICANON | ECHO | ISIG | IEXTEN;
	ASSERT_EQ(0, tcsetattr(self->slave, TCSANOW, &self->cooked));
	ASSERT_EQ(0, tcgetattr(self->slave, &self->cooked));
	memset(&self->m, 0, sizeof(self->m));
	vmxctl_machine_init(&self->m);
}

FIXTURE_TEARDOWN(console)
{
	close(self->slave);
	close(self->master);
}

static bool same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

TEST_F(console, raw_while_open_then_restored)
{
	struct termios t;

	vmxctl_console_open(&self->c, self->slave);
	ASSERT_TRUE(self->c.raw);
	ASSERT_EQ(0, tcgetattr(self->slave, &t));
	EXPECT_EQ(0, t.c_lflag & (ICANON | ECHO | ECHONL | ISIG | IEXTEN))
		TH_LOG("no line editing, no echo, ^C and ^Z are the guest's");
	EXPECT_EQ(0, t.c_iflag & (ICRNL | INLCR | IGNCR | IXON | ISTRIP |
				  BRKINT | PARMRK));
	EXPECT_EQ(CS8, t.c_cflag & (CSIZE | PARENB));
	EXPECT_EQ(1, t.c_cc[VMIN]);
	EXPECT_EQ(0, t.c_cc[VTIME]);
	EXPECT_EQ(OPOST | ONLCR, t.c_oflag & (OPOST | ONLCR))
		TH_LOG("output processing stays on");

	vmxctl_console_close(&self->c);
	EXPECT_FALSE(self->c.raw);
	ASSERT_EQ(0, tcgetattr(self->slave, &t));
	EXPECT_TRUE(same_termios(&self->cooked, &t));
	/* a second close changes nothing */
	vmxctl_console_close(&self->c);
	ASSERT_EQ(0, tcgetattr(self->slave, &t));
	EXPECT_TRUE(same_termios(&self->cooked, &t));
}

TEST_F(console, not_a_terminal_is_left_alone)
{
	int p[2];
	uint8_t buf[8];

	ASSERT_EQ(0, pipe(p));
	vmxctl_console_open(&self->c, p[0]);
	EXPECT_FALSE(self->c.raw);
	vmxctl_console_close(&self->c);
	/* the escapes work on any input */
	EXPECT_EQ(1, vmxctl_console_input(&self->c, &self->m,
					  (const uint8_t *)"\1\1", 2, buf));
	EXPECT_EQ(1, buf[0]);
	close(p[0]);
	close(p[1]);
	vmxctl_console_open(&self->c, -1);
	EXPECT_FALSE(self->c.raw);
}

TEST_F(console, escapes)
{
	/* Ctrl-A Ctrl-A is one Ctrl-A; Ctrl-A z is both; h helps */
	static const uint8_t in[] = "ab\1\1c\1zd\1h";
	static const uint8_t want[] = "ab\1c\1zd";
	uint8_t buf[2 * sizeof(in)];
	size_t n;

	vmxctl_console_open(&self->c, self->slave);
	n = vmxctl_console_input(&self->c, &self->m, in, sizeof(in) - 1, buf);
	ASSERT_EQ(sizeof(want) - 1, n);
	EXPECT_EQ(0, memcmp(want, buf, n));
	EXPECT_FALSE(atomic_load(&self->m.stopping));

	/* an escape split across two reads */
	EXPECT_EQ(1, vmxctl_console_input(&self->c, &self->m,
					  (const uint8_t *)"q\1", 2, buf));
	EXPECT_EQ('q', buf[0]);
	EXPECT_EQ(1, vmxctl_console_input(&self->c, &self->m,
					  (const uint8_t *)"\1", 1, buf));
	EXPECT_EQ(1, buf[0]);

	/* Ctrl-A x: what came before goes to the guest, then 130 */
	EXPECT_EQ(2, vmxctl_console_input(&self->c, &self->m,
					  (const uint8_t *)"ok\1xrest", 8, buf));
	EXPECT_EQ(0, memcmp("ok", buf, 2));
	EXPECT_TRUE(atomic_load(&self->m.stopping));
	EXPECT_EQ(130, self->m.status);
	vmxctl_console_close(&self->c);
}

TEST_F(console, detach_restores_the_terminal_and_reads_nothing_more)
{
	struct termios t;
	uint8_t buf[16];

	vmxctl_console_open(&self->c, self->slave);
	ASSERT_TRUE(self->c.raw);
	EXPECT_EQ(1, vmxctl_console_input(&self->c, &self->m,
					  (const uint8_t *)"a\1dbc", 5, buf));
	EXPECT_TRUE(self->c.detached);
	EXPECT_FALSE(self->c.raw);
	ASSERT_EQ(0, tcgetattr(self->slave, &t));
	EXPECT_TRUE(same_termios(&self->cooked, &t));
	EXPECT_EQ(0, vmxctl_console_input(&self->c, &self->m,
					  (const uint8_t *)"more", 4, buf));
	EXPECT_FALSE(atomic_load(&self->m.stopping))
		TH_LOG("the guest runs on");
}

TEST_HARNESS_MAIN
