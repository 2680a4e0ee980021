// SPDX-License-Identifier: GPL-2.0
/*
 * What a netlink listener costs the exit path: the round trip of a port
 * I/O exit to userspace and back, with nobody listening and with a
 * monitor joined to every group of the family that reads events as they
 * come, in the same boot, in turns. Target: within 2%.
 *
 * Two monitors: one with stats samples at the default interval (1 s),
 * one at the minimum (100 ms). The exit path is the same code in every
 * case (counters are always kept); what differs is the sampling work
 * and the monitor's own, which on the QEMU lane (one host thread runs
 * both guest CPUs in turn) takes time from the vCPU being measured.
 *
 * The monitor is a process of its own, as vmxmon is. A thread of this
 * one would also make every RUN pay for a multi-threaded process (fdget
 * takes a file reference only then), a cost of the benchmark's shape
 * rather than of listening.
 *
 *   bench_netlink [-n exits] [-r repeats]
 *
 * Exit 0, or 1 when a step failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"
#include "testlib.h"
#include "vmxl_util.h"
#include "vnl.h"

#define CODE_GPA	0x1000
#define MAX_REPS	32

GUEST(g_out_loop, "1: out %al, $0x80\n jmp 1b\n");

#define FAIL(...) do {							\
	fprintf(stderr, "bench_netlink: " __VA_ARGS__);			\
	exit(1);							\
} while (0)

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* ns per exit over @n port I/O exits. */
static double exits_ns(struct rvm *vm, unsigned int n)
{
	uint64_t t0 = bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		if (rvm_run(vm) || vm->run->exit_reason != VMXL_EXIT_IO)
			FAIL("exit %u: RUN failed or exit reason %u\n", i,
			     vm->run->exit_reason);
	return (double)(bench_now_ns() - t0) / n;
}

/*
 * The monitor, in a child process: joins every group, says so on @up,
 * says again when it has heard the first event (the sample that setting
 * the interval sends), then reads events as they come until SIGTERM, and
 * reports how many it heard.
 */
static void monitor(int up)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct vnl lis;
	struct vnl_msg ev;
	long heard = 0;

	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: poll returns */
	if (vnl_open(&lis) || vnl_join(&lis, VNL_LIFECYCLE) ||
	    vnl_join(&lis, VNL_FAULTS) || vnl_join(&lis, VNL_STATS))
		_exit(1);
	if (write(up, &heard, sizeof(heard)) != sizeof(heard))
		_exit(1);
	while (!stop)
		if (!vnl_next_event(&lis, 0, &ev, 1000) && ++heard == 1 &&
		    write(up, &heard, sizeof(heard)) != sizeof(heard))
			_exit(1);
	if (write(up, &heard, sizeof(heard)) != sizeof(heard))
		_exit(1);
	vnl_close(&lis);
	_exit(0);
}

static void read_word(int fd, long *v, const char *what)
{
	if (read(fd, v, sizeof(*v)) != sizeof(*v))
		FAIL("the monitor did not %s\n", what);
}

/* One measured run with a monitor listening to every group. */
static double heard_run(struct rvm *vm, struct vnl *nl, unsigned int n,
			unsigned int interval_ms, long *events)
{
	int up[2], status;
	long v;
	double ns;
	pid_t pid;

	if (pipe(up))
		FAIL("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s\n", strerror(errno));
	if (!pid) {
		close(up[0]);
		monitor(up[1]);
	}
	close(up[1]);
	read_word(up[0], &v, "join the groups");
	/*
	 * Setting the interval sends a sample at once: measure from when the
	 * monitor has read it and waits, in its steady state.
	 */
	if (vnl_set_interval(nl, interval_ms) < 0)
		FAIL("cannot set the stats interval\n");
	read_word(up[0], &v, "hear the first sample");
	usleep(10000);
	ns = exits_ns(vm, n);
	kill(pid, SIGTERM);
	read_word(up[0], &v, "report");
	*events += v;
	close(up[0]);
	/* its exit closes the socket and leaves the groups */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		FAIL("the monitor failed\n");
	return ns;
}

int main(int argc, char **argv)
{
	static const unsigned int intervals[2] = { 1000, VMXL_NL_INTERVAL_MIN };
	double quiet[2][MAX_REPS], heard[2][MAX_REPS];
	long events;
	unsigned int n = 20000, reps = 7, r, i;
	struct bench_stat sq, sh;
	struct rvm vm;
	struct vnl nl;
	char metric[64];
	int opt, old;

	while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		default:
			printf("usage: %s [-n exits] [-r repeats (max %d)]\n",
			       argv[0], MAX_REPS);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!n || !reps || reps > MAX_REPS)
		FAIL("bad -n or -r\n");
	if (test_module_load("vmx_lite", NULL))
		FAIL("cannot load vmx_lite\n");
	if (rvm_create(&vm, 0x10000, CODE_GPA))
		FAIL("cannot create a VM\n");
	rvm_load(&vm, CODE_GPA, g_out_loop_start,
		 g_out_loop_end - g_out_loop_start);
	if (vnl_open(&nl))
		FAIL("cannot open the netlink family\n");
	old = vnl_get_interval(&nl);
	exits_ns(&vm, n);	/* warm up */

	/* in turns, each first every other time, so drift favours neither */
	for (i = 0; i < 2; i++) {
		events = 0;
		for (r = 0; r < reps; r++) {
			if (r % 2) {
				heard[i][r] = heard_run(&vm, &nl, n, intervals[i], &events);
				quiet[i][r] = exits_ns(&vm, n);
			} else {
				quiet[i][r] = exits_ns(&vm, n);
				heard[i][r] = heard_run(&vm, &nl, n, intervals[i], &events);
			}
		}
		printf("# stats every %u ms: %u exits x %u runs; %ld events heard\n",
		       intervals[i], n, reps, events);
		sq = bench_stat(quiet[i], reps);
		sh = bench_stat(heard[i], reps);
		snprintf(metric, sizeof(metric), "io_exit_listener_stats_%ums",
			 intervals[i]);
		bench_report(metric, "us/exit", "no listener",
			     &(struct bench_stat){ sq.median / 1e3, sq.min / 1e3,
						   sq.max / 1e3, sq.n },
			     &(struct bench_stat){ sh.median / 1e3, sh.min / 1e3,
						   sh.max / 1e3, sh.n });
	}
	vnl_set_interval(&nl, old > 0 ? old : 1000);
	vnl_close(&nl);
	rvm_destroy(&vm);
	test_module_unload("vmx_lite");
	return 0;
}
