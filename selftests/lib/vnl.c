// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>

#include "vnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static const char *const group_names[] = {
	VMXL_MCGRP_LIFECYCLE, VMXL_MCGRP_FAULTS, VMXL_MCGRP_STATS,
};

/* What one request collects. */
struct vnl_ctx {
	struct vnl *nl;
	struct vnl_msg *out;
	int max, n;
	bool done;
};

static void parse_msg(struct nlmsghdr *nlh, struct vnl_msg *m)
{
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct nlattr *tb[VMXL_A_MAX + 1], *a;
	int i, rem;

	memset(m, 0, sizeof(*m));
	m->cmd = gh->cmd;
	m->flags = nlh->nlmsg_flags;
	if (genlmsg_parse(nlh, 0, tb, VMXL_A_MAX, NULL))
		return;
	for (i = 1; i <= VMXL_A_MAX; i++) {
		if (!tb[i])
			continue;
		m->has[i] = true;
		if (nla_len(tb[i]) == 4)
			m->u[i] = nla_get_u32(tb[i]);
		else if (nla_len(tb[i]) == 8)
			m->u[i] = nla_get_u64(tb[i]);
	}
	if (!tb[VMXL_A_STATS])
		return;
	nla_for_each_nested(a, tb[VMXL_A_STATS], rem)
		if (nla_type(a) < __VMXL_STAT_MAX && nla_len(a) == 8)
			m->stats[nla_type(a)] = nla_get_u64(a);
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct vnl_ctx *ctx = arg;

	if (ctx->out && ctx->n < ctx->max)
		parse_msg(nlmsg_hdr(msg), &ctx->out[ctx->n]);
	ctx->n++;
	return NL_OK;
}

/* The extended-ack attributes after an error or a DONE's errno. */
static void parse_extack(struct vnl *nl, struct nlmsghdr *nlh, size_t off)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || off >= nlh->nlmsg_len)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlh + off),
		      nlh->nlmsg_len - off, NULL))
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(nl->extack, sizeof(nl->extack), "%s",
			 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	if (tb[NLMSGERR_ATTR_MISS_TYPE])
		nl->miss_type = nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct vnl_ctx *ctx = arg;
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	(void)who;
	ctx->nl->err = e->error;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	parse_extack(ctx->nl, nlh, off);
	ctx->done = true;
	return NL_STOP;
}

/* A dump's end: a negative errno in it is the dump's failure. */
static int on_finish(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct vnl_ctx *ctx = arg;
	int err;

	if (nlmsg_datalen(nlh) >= (int)sizeof(int)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0) {
			ctx->nl->err = err;
			parse_extack(ctx->nl, nlh, NLMSG_HDRLEN + sizeof(int));
		}
	}
	ctx->done = true;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct vnl_ctx *ctx = arg;

	(void)msg;
	ctx->done = true;
	return NL_STOP;
}

int vnl_open(struct vnl *nl)
{
	struct nl_cache *cache = NULL;
	struct genl_family *fam;
	int one = 1, i, ret;

	memset(nl, 0, sizeof(*nl));
	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	ret = genl_connect(nl->sk);
	if (ret)
		goto fail;
	if (setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		       &one, sizeof(one))) {
		ret = -nl_syserr2nlerr(errno);
		goto fail;
	}
	ret = genl_ctrl_alloc_cache(nl->sk, &cache);
	if (ret)
		goto fail;
	fam = genl_ctrl_search_by_name(cache, VMXL_GENL_NAME);
	if (!fam) {
		nl_cache_free(cache);
		fprintf(stderr, "# vnl: no netlink family %s\n", VMXL_GENL_NAME);
		nl_socket_free(nl->sk);
		nl->sk = NULL;
		return -ENOENT;
	}
	nl->family = genl_family_get_id(fam);
	nl->version = genl_family_get_version(fam);
	genl_family_put(fam);
	nl_cache_free(cache);
	for (i = 0; i < 3; i++) {
		nl->grp[i] = genl_ctrl_resolve_grp(nl->sk, VMXL_GENL_NAME,
						   group_names[i]);
		if (nl->grp[i] < 0) {
			ret = nl->grp[i];
			goto fail;
		}
	}
	return 0;
fail:
	fprintf(stderr, "# vnl: %s\n", nl_geterror(ret));
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return -EIO;
}

void vnl_close(struct vnl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

struct nl_msg *vnl_msg_new(struct vnl *nl, uint8_t cmd, int nlflags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
				nlflags, cmd, VMXL_GENL_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

int vnl_request(struct vnl *nl, struct nl_msg *msg, struct vnl_msg *out,
		int max)
{
	struct vnl_ctx ctx = { .nl = nl, .out = out, .max = max };
	struct nl_cb *cb;
	int ret;

	nl->extack[0] = 0;
	nl->miss_type = 0;
	nl->err = 0;
	if (!msg)
		return -ENOMEM;
	cb = nl_cb_alloc(NL_CB_CUSTOM);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ctx);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &ctx);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &ctx);
	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	while (ret >= 0 && !ctx.done)
		ret = nl_recvmsgs(nl->sk, cb);
	nl_cb_put(cb);
	if (nl->err)
		return nl->err;
	if (ret < 0) {
		fprintf(stderr, "# vnl: %s\n", nl_geterror(ret));
		return -EIO;
	}
	return ctx.n;
}

void vnl_to_vm(const struct vnl_msg *m, struct vnl_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->id = m->u[VMXL_A_VM_ID];
	vm->pid = m->u[VMXL_A_VM_PID];
	vm->uid = m->u[VMXL_A_VM_UID];
	vm->nr_vcpus = m->u[VMXL_A_VM_NR_VCPUS];
	vm->nr_slots = m->u[VMXL_A_VM_NR_SLOTS];
	vm->dirty_log = m->u[VMXL_A_VM_DIRTY_LOG];
	vm->mem_size = m->u[VMXL_A_VM_MEM_SIZE];
	memcpy(vm->stats, m->stats, sizeof(vm->stats));
	vm->dump_intr = m->flags & NLM_F_DUMP_INTR;
}

void vnl_to_vcpu(const struct vnl_msg *m, struct vnl_vcpu *vcpu)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm_id = m->u[VMXL_A_VM_ID];
	vcpu->id = m->u[VMXL_A_VCPU_ID];
	vcpu->state = m->u[VMXL_A_VCPU_STATE];
	vcpu->last_exit = m->u[VMXL_A_VCPU_LAST_EXIT];
	memcpy(vcpu->stats, m->stats, sizeof(vcpu->stats));
}

#define VNL_MAX_ANSWERS 128

int vnl_get_vm(struct vnl *nl, uint32_t id, struct vnl_vm *vm)
{
	struct nl_msg *msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	struct vnl_msg m;
	int ret;

	if (msg && nla_put_u32(msg, VMXL_A_VM_ID, id)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	ret = vnl_request(nl, msg, &m, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EPROTO;
	vnl_to_vm(&m, vm);
	return 0;
}

int vnl_dump_vms(struct vnl *nl, struct vnl_vm *vms, int max)
{
	static struct vnl_msg m[VNL_MAX_ANSWERS];
	int i, n;

	n = vnl_request(nl, vnl_msg_new(nl, VMXL_CMD_GET_VM, NLM_F_DUMP), m,
			VNL_MAX_ANSWERS);
	for (i = 0; i < n && i < max; i++)
		vnl_to_vm(&m[i], &vms[i]);
	return n;
}

int vnl_dump_vcpus(struct vnl *nl, uint32_t vm_id, struct vnl_vcpu *vcpus,
		   int max)
{
	struct nl_msg *msg = vnl_msg_new(nl, VMXL_CMD_GET_VCPU, NLM_F_DUMP);
	static struct vnl_msg m[VNL_MAX_ANSWERS];
	int i, n;

	if (msg && nla_put_u32(msg, VMXL_A_VM_ID, vm_id)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	n = vnl_request(nl, msg, m, VNL_MAX_ANSWERS);
	for (i = 0; i < n && i < max; i++)
		vnl_to_vcpu(&m[i], &vcpus[i]);
	return n;
}

static int interval_answer(struct vnl *nl, struct nl_msg *msg)
{
	struct vnl_msg m;
	int ret = vnl_request(nl, msg, &m, 1);

	if (ret < 0)
		return ret;
	if (ret != 1 || !m.has[VMXL_A_STATS_INTERVAL])
		return -EPROTO;
	return m.u[VMXL_A_STATS_INTERVAL];
}

int vnl_get_interval(struct vnl *nl)
{
	return interval_answer(nl, vnl_msg_new(nl, VMXL_CMD_GET_STATS_INTERVAL,
					       0));
}

int vnl_set_interval(struct vnl *nl, uint32_t ms)
{
	struct nl_msg *msg = vnl_msg_new(nl, VMXL_CMD_SET_STATS_INTERVAL, 0);

	if (msg && nla_put_u32(msg, VMXL_A_STATS_INTERVAL, ms)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return interval_answer(nl, msg);
}

int vnl_join(struct vnl *nl, int grp)
{
	int ret;

	nl_socket_disable_seq_check(nl->sk);
	ret = nl_socket_add_membership(nl->sk, nl->grp[grp]);
	if (ret)
		return -errno ?: -EIO;
	return 0;
}

static int on_event(struct nl_msg *msg, void *arg)
{
	parse_msg(nlmsg_hdr(msg), arg);
	return NL_STOP;
}

int vnl_next_event(struct vnl *nl, uint32_t vm_id, struct vnl_msg *ev,
		   int timeout_ms)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(nl->sk), .events = POLLIN };
	/* a clone keeps the socket's disabled sequence check */
	struct nl_cb *sock_cb = nl_socket_get_cb(nl->sk);
	struct nl_cb *cb = nl_cb_clone(sock_cb);
	int ret;

	nl_cb_put(sock_cb);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, ev);
	for (;;) {
		ret = poll(&pfd, 1, timeout_ms);
		if (ret == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (ret < 0) {
			ret = -errno;
			break;
		}
		ev->cmd = 0;
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0) {
			fprintf(stderr, "# vnl: %s\n", nl_geterror(ret));
			ret = -EIO;
			break;
		}
		if (ev->cmd && (!vm_id || ev->u[VMXL_A_VM_ID] == vm_id)) {
			ret = 0;
			break;
		}
	}
	nl_cb_put(cb);
	return ret;
}
