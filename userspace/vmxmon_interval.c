// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon interval [MS]: the kernel's stats sampling interval, printed or
 * set.
 */
#include <inttypes.h>

#include <netlink/genl/genl.h>

#include "vmxmon.h"

/* The operand: set the interval to this many ms. */
static bool set;
static uint32_t set_ms;

int interval_operands(char **argv)
{
	uint64_t v;

	if (!argv[0])
		return 0;
	if (!parse_u64(argv[0], 0, UINT32_MAX, &v)) {
		usage_error("interval: not a number of milliseconds: '%s'", argv[0]);
		return -1;
	}
	set_ms = v;
	set = true;
	return 1;
}

static int interval_valid(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[VMXL_A_MAX + 1];
	int64_t *ms = arg;

	if (parse_msg(nlh, tb) == 0 && tb[VMXL_A_STATS_INTERVAL])
		*ms = nla_get_u32(tb[VMXL_A_STATS_INTERVAL]);
	return NL_OK;
}

int cmd_interval(void)
{
	int64_t got = -1;
	struct req r = { .valid = interval_valid, .arg = &got };
	struct nl_msg *msg;

	msg = new_request(set ? VMXL_CMD_SET_STATS_INTERVAL :
			  VMXL_CMD_GET_STATS_INTERVAL, 0);
	if (!msg || (set && nla_put_u32(msg, VMXL_A_STATS_INTERVAL, set_ms) < 0)) {
		nlmsg_free(msg);
		fprintf(stderr, "vmxmon: out of memory\n");
		return EXIT_RUNTIME;
	}
	if (transact(msg, &r))
		return report(&r, set ?
			      "set the stats interval (VMXL_CMD_SET_STATS_INTERVAL)" :
			      "get the stats interval (VMXL_CMD_GET_STATS_INTERVAL)");
	if (got < 0) {
		fprintf(stderr, "vmxmon: interval: the kernel's answer has no VMXL_A_STATS_INTERVAL\n");
		return EXIT_RUNTIME;
	}
	if (opt.json) {
		json_begin();
		json_u64("interval_ms", (uint64_t)got);
		json_end();
	} else {
		printf("stats interval %" PRId64 " ms\n", got);
	}
	return EXIT_OK;
}
