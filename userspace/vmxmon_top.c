// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon top: exit rates per VM and reason between two VM dumps, as
 * kvm_stat shows them, refreshed every --interval.
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "vmxmon.h"

static const struct vm_info *find_vm(const struct vm_list *l, uint32_t id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void print_rates(const struct vm_list *cur, const struct vm_list *prev,
			double elapsed, bool clear)
{
	double rate[VMXL_STAT_MAX + 1];
	char now[40];
	size_t i;
	unsigned int s, k;

	iso_now(now, sizeof(now));
	if (!opt.json) {
		if (clear)
			fputs("\033[H\033[2J", stdout);
		printf("%s  %u VM%s  interval %.3f s\n", now, (unsigned int)cur->n,
		       cur->n == 1 ? "" : "s", elapsed);
	}
	for (i = 0; i < cur->n; i++) {
		const struct vm_info *vm = &cur->v[i];
		const struct vm_info *old = find_vm(prev, vm->id);
		bool done[VMXL_STAT_MAX + 1] = { false };

		if (!old)
			continue;	/* new: rates from the next sample on */
		for (s = VMXL_STAT_EXITS; s <= VMXL_STAT_MAX; s++)
			rate[s] = vm->stats.v[s] >= old->stats.v[s] ?
				  (vm->stats.v[s] - old->stats.v[s]) / elapsed : 0;
		if (opt.json) {
			json_begin();
			json_str("time", now);
			json_u64("vm", vm->id);
			json_u64("pid", vm->pid);
			json_double("interval_s", elapsed);
			json_open("rates", '{');
			for (s = VMXL_STAT_EXITS; s <= VMXL_STAT_MAX; s++)
				if (vm->stats.have[s] && stat_name(s))
					json_double(stat_name(s), rate[s]);
			json_close('}');
			json_stats("totals", &vm->stats);
			json_end();
			continue;
		}
		printf("\nVM %u  pid %u  exits/s %.1f  to userspace/s %.1f\n",
		       vm->id, vm->pid, rate[VMXL_STAT_EXITS],
		       rate[VMXL_STAT_USER]);
		printf("  %-12s %12s %14s\n", "REASON", "RATE/s", "TOTAL");
		/* Reasons by rate, highest first, like kvm_stat. */
		for (k = VMXL_STAT_IO; k <= VMXL_STAT_MAX; k++) {
			int best = -1;

			for (s = VMXL_STAT_IO; s <= VMXL_STAT_MAX; s++)
				if (!done[s] && vm->stats.have[s] &&
				    (best < 0 || rate[s] > rate[best]))
					best = s;
			if (best < 0 || (rate[best] == 0 && !vm->stats.v[best]))
				break;
			done[best] = true;
			printf("  %-12s %12.1f %14" PRIu64 "\n",
			       stat_name(best) ? stat_name(best) : "?", rate[best],
			       vm->stats.v[best]);
		}
	}
	if (!opt.json && !clear)
		putchar('\n');
	fflush(stdout);
}

int cmd_top(void)
{
	struct vm_list cur = { 0 }, prev = { 0 };
	bool clear = !opt.batch && !opt.json && isatty(STDOUT_FILENO);
	double t_prev, next;
	uint64_t n = 0;
	int ret;

	t_prev = mono_now();
	ret = dump_vms(&prev);
	if (ret)
		return ret;
	next = t_prev;
	while (!opt.iterations || n < opt.iterations) {
		double t_cur;

		next += opt.interval_ms / 1000.0;
		sleep_until(next);
		t_cur = mono_now();
		ret = dump_vms(&cur);
		if (ret)
			break;
		print_rates(&cur, &prev, t_cur - t_prev, clear);
		vm_list_free(&prev);
		prev = cur;
		cur.v = NULL;
		cur.n = 0;
		t_prev = t_cur;
		n++;
	}
	vm_list_free(&cur);
	vm_list_free(&prev);
	return ret;
}
