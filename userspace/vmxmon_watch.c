// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon watch: the lifecycle and fault events (and the stats samples,
 * with --stats) as the kernel multicasts them, one line or JSON object
 * each.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "vmxmon.h"

struct watch {
	uint64_t seen;
	bool stop;
};

/* An event this vmxmon does not know: every attribute, raw. */
static void print_generic(struct nlmsghdr *nlh)
{
	struct nlattr *a;
	char key[32];
	int rem, i;

	if (opt.json)
		json_open("attrs", '{');
	nla_for_each_attr(a, genlmsg_attrdata(genlmsg_hdr(nlh), 0),
			  genlmsg_attrlen(genlmsg_hdr(nlh), 0), rem) {
		int len = nla_len(a);
		const uint8_t *d = nla_data(a);

		snprintf(key, sizeof(key), "%d", nla_type(a));
		if (len == 4 || len == 8) {
			uint64_t v = len == 4 ? nla_get_u32(a) : nla_get_u64(a);

			if (opt.json)
				json_u64(key, v);
			else
				printf(" attr%s=%" PRIu64, key, v);
			continue;
		}
		if (opt.json) {
			json_key(key);
			putchar('"');
		} else {
			printf(" attr%s=", key);
		}
		for (i = 0; i < len; i++)
			printf("%02x", d[i]);
		if (opt.json)
			putchar('"');
	}
	if (opt.json)
		json_close('}');
}

static bool known_event(uint8_t cmd)
{
	return cmd >= VMXL_EVT_VM_CREATED && cmd <= VMXL_EVT_STATS;
}

static int event_valid(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[VMXL_A_MAX + 1];
	struct watch *w = arg;
	char now[40], buf[32];
	struct stats st;
	uint8_t cmd;

	if (nlh->nlmsg_type != family || !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	cmd = genlmsg_hdr(nlh)->cmd;
	memset(tb, 0, sizeof(tb));
	if (known_event(cmd) && parse_msg(nlh, tb) < 0)
		return NL_SKIP;
	if (opt.have_vm && (!tb[VMXL_A_VM_ID] || nla_get_u32(tb[VMXL_A_VM_ID]) != opt.vm))
		return NL_SKIP;

	iso_now(now, sizeof(now));
	if (opt.json) {
		json_begin();
		json_str("time", now);
		json_str("event", event_name(cmd, buf, sizeof(buf)));
	} else {
		printf("%s %s", now, event_name(cmd, buf, sizeof(buf)));
	}
	if (!known_event(cmd)) {
		print_generic(nlh);
		goto done;
	}
	if (opt.json) {
		json_u64("vm", get_u32(tb, VMXL_A_VM_ID));
		if (tb[VMXL_A_VCPU_ID])
			json_u64("vcpu", get_u32(tb, VMXL_A_VCPU_ID));
	} else {
		printf(" vm=%u", get_u32(tb, VMXL_A_VM_ID));
		if (tb[VMXL_A_VCPU_ID])
			printf(" vcpu=%u", get_u32(tb, VMXL_A_VCPU_ID));
	}
	switch (cmd) {
	case VMXL_EVT_VM_CREATED:
		if (opt.json) {
			json_u64("pid", get_u32(tb, VMXL_A_VM_PID));
			json_u64("uid", get_u32(tb, VMXL_A_VM_UID));
		} else {
			printf(" pid=%u uid=%u", get_u32(tb, VMXL_A_VM_PID),
			       get_u32(tb, VMXL_A_VM_UID));
		}
		break;
	case VMXL_EVT_VCPU_STOPPED: {
		const char *reason = EXIT_NAME(get_u32(tb, VMXL_A_EXIT_REASON),
					       buf);

		if (opt.json) {
			json_str("reason", reason);
			json_u64("detail", get_u64(tb, VMXL_A_EXIT_DETAIL));
		} else {
			printf(" reason=%s detail=%" PRIu64, reason,
			       get_u64(tb, VMXL_A_EXIT_DETAIL));
		}
		break;
	}
	case VMXL_EVT_STATS:
		parse_stats(tb[VMXL_A_STATS], &st);
		if (opt.json) {
			json_u64("interval_ms", get_u32(tb, VMXL_A_STATS_INTERVAL));
			json_u64("timestamp_ns", get_u64(tb, VMXL_A_TIMESTAMP));
			json_stats("stats", &st);
		} else {
			printf(" interval=%u timestamp=%" PRIu64,
			       get_u32(tb, VMXL_A_STATS_INTERVAL),
			       get_u64(tb, VMXL_A_TIMESTAMP));
			text_stats(&st);
		}
		break;
	}
done:
	if (opt.json) {
		json_end();
	} else {
		putchar('\n');
		fflush(stdout);
	}
	w->seen++;
	if (opt.count && w->seen >= opt.count) {
		w->stop = true;
		return NL_STOP;
	}
	return NL_OK;
}

static int join(const char *group)
{
	int id = genl_ctrl_resolve_grp(sk, VMXL_GENL_NAME, group);
	int err;

	if (id < 0) {
		fprintf(stderr, "vmxmon: multicast group %s of " VMXL_GENL_NAME
			" not found: %s\n", group, nl_geterror(id));
		return EXIT_RUNTIME;
	}
	err = nl_socket_add_membership(sk, id);
	if (err == -NLE_PERM || err == -NLE_NOACCESS) {
		fprintf(stderr, "vmxmon: joining multicast group %s: %s (needs CAP_NET_ADMIN: run as root)\n",
			group, nl_geterror(err));
		return EXIT_PERM;
	}
	if (err < 0) {
		fprintf(stderr, "vmxmon: joining multicast group %s: %s\n",
			group, nl_geterror(err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int cmd_watch(void)
{
	struct watch w = { 0 };
	double deadline = opt.timeout > 0 ? mono_now() + opt.timeout : 0;
	struct pollfd pfd;
	int ret, err;

	ret = join(VMXL_MCGRP_LIFECYCLE);
	if (!ret)
		ret = join(VMXL_MCGRP_FAULTS);
	if (!ret && opt.stats)
		ret = join(VMXL_MCGRP_STATS);
	if (ret)
		return ret;
	nl_socket_disable_seq_check(sk);
	nl_socket_set_buffer_size(sk, 1 << 20, 0);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, event_valid, &w);
	err = nl_socket_set_nonblocking(sk);
	if (err < 0) {
		fprintf(stderr, "vmxmon: watch: %s\n", nl_geterror(err));
		return EXIT_RUNTIME;
	}
	/* Events from here on are seen: tell whoever waits for that. */
	fprintf(stderr, "vmxmon: watching %s, %s%s\n", VMXL_MCGRP_LIFECYCLE,
		VMXL_MCGRP_FAULTS, opt.stats ? ", " VMXL_MCGRP_STATS : "");

	pfd.fd = nl_socket_get_fd(sk);
	pfd.events = POLLIN;
	while (!w.stop) {
		int ms = -1, n;

		if (deadline) {
			double left = deadline - mono_now();

			if (left <= 0)
				break;
			ms = (int)ceil(left * 1000);
		}
		n = poll(&pfd, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "vmxmon: watch: poll: %s\n", strerror(errno));
			return EXIT_RUNTIME;
		}
		if (!n)
			continue;	/* the deadline check ends it */
		err = nl_recvmsgs_default(sk);
		if (err == -NLE_NOMEM) {
			/* ENOBUFS: the socket overflowed, events are lost */
			fprintf(stderr, "vmxmon: watch: events lost (receive buffer overrun)\n");
			continue;
		}
		if (err < 0 && err != -NLE_AGAIN && !w.stop) {
			fprintf(stderr, "vmxmon: watch: %s\n", nl_geterror(err));
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}
