// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon's netlink plumbing: the socket bound to the vmx_lite generic
 * netlink family (uapi/linux/vmx_lite.h, docs/netlink.md), requests and
 * their answers (ACK, error with the kernel's extack message, the end of
 * a dump), what failed said on stderr, and the attributes parsed.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>

#include "vmxmon.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

static struct nla_policy attr_policy[VMXL_A_MAX + 1] = {
	[VMXL_A_VM_ID] = { .type = NLA_U32 },
	[VMXL_A_VM_PID] = { .type = NLA_U32 },
	[VMXL_A_VM_UID] = { .type = NLA_U32 },
	[VMXL_A_VM_NR_VCPUS] = { .type = NLA_U32 },
	[VMXL_A_VM_MEM_SIZE] = { .type = NLA_U64 },
	[VMXL_A_VM_NR_SLOTS] = { .type = NLA_U32 },
	[VMXL_A_VM_DIRTY_LOG] = { .type = NLA_U32 },
	[VMXL_A_STATS] = { .type = NLA_NESTED },
	[VMXL_A_VCPU_ID] = { .type = NLA_U32 },
	[VMXL_A_VCPU_STATE] = { .type = NLA_U32 },
	[VMXL_A_VCPU_LAST_EXIT] = { .type = NLA_U32 },
	[VMXL_A_EXIT_REASON] = { .type = NLA_U32 },
	[VMXL_A_EXIT_DETAIL] = { .type = NLA_U64 },
	[VMXL_A_STATS_INTERVAL] = { .type = NLA_U32 },
	[VMXL_A_TIMESTAMP] = { .type = NLA_U64 },
};

/* Every counter a u64: filled in by open_family(). */
static struct nla_policy stat_policy[VMXL_STAT_MAX + 1];

/* Counters this vmxmon knows; types it does not know are skipped. */
int parse_stats(struct nlattr *nest, struct stats *s)
{
	struct nlattr *tb[VMXL_STAT_MAX + 1];
	unsigned int i;
	int err;

	memset(s, 0, sizeof(*s));
	if (!nest)
		return 0;
	err = nla_parse_nested(tb, VMXL_STAT_MAX, nest, stat_policy);
	if (err < 0)
		return err;
	for (i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++) {
		if (tb[i]) {
			s->have[i] = true;
			s->v[i] = nla_get_u64(tb[i]);
		}
	}
	return 0;
}

uint32_t get_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

uint64_t get_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

struct nl_sock *sk;
int family;

int open_family(void)
{
	struct genl_family *fam;
	struct nl_cache *cache;
	int one = 1, err;
	unsigned int ver;

	for (int i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++)
		stat_policy[i].type = NLA_U64;
	sk = nl_socket_alloc();
	if (!sk) {
		fprintf(stderr, "vmxmon: out of memory\n");
		return EXIT_RUNTIME;
	}
	err = genl_connect(sk);
	if (err < 0) {
		fprintf(stderr, "vmxmon: cannot open a generic netlink socket: %s\n",
			nl_geterror(err));
		return EXIT_RUNTIME;
	}
	/* Kernel error messages (extack) with every error; best effort. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	nl_socket_enable_msg_peek(sk);

	err = genl_ctrl_alloc_cache(sk, &cache);
	if (err < 0) {
		fprintf(stderr, "vmxmon: cannot list generic netlink families: %s\n",
			nl_geterror(err));
		return EXIT_RUNTIME;
	}
	fam = genl_ctrl_search_by_name(cache, VMXL_GENL_NAME);
	if (!fam) {
		nl_cache_free(cache);
		fprintf(stderr, "vmxmon: " VMXL_GENL_NAME
			" netlink family not found: is the module loaded?\n");
		return EXIT_NOMODULE;
	}
	family = genl_family_get_id(fam);
	ver = genl_family_get_version(fam);
	genl_family_put(fam);
	nl_cache_free(cache);
	if (ver != VMXL_GENL_VERSION) {
		fprintf(stderr, "vmxmon: the kernel's " VMXL_GENL_NAME
			" netlink family is version %u, %s than the version %d this vmxmon speaks: update %s\n",
			ver, ver > VMXL_GENL_VERSION ? "newer" : "older",
			VMXL_GENL_VERSION,
			ver > VMXL_GENL_VERSION ? "vmxmon" : "the module");
		return EXIT_VERSION;
	}
	return EXIT_OK;
}

/* The extack TLVs of an error or DONE message, from @start on. */
static void read_extack(struct nlmsghdr *nlh, void *start, struct req *r)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	int len = (char *)nlh + nlh->nlmsg_len - (char *)start;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len <= 0)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, start, len, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		nla_strlcpy(r->extack, tb[NLMSGERR_ATTR_MSG], sizeof(r->extack));
}

static int req_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct req *r = arg;
	size_t off;

	(void)nla;
	if (nlh->nlmsg_flags & NLM_F_CAPPED)
		off = sizeof(*e);
	else
		off = sizeof(e->error) + NLMSG_ALIGN(e->msg.nlmsg_len);
	if (NLMSG_HDRLEN + off < nlh->nlmsg_len)
		read_extack(nlh, (char *)e + off, r);
	r->error = -e->error;
	r->done = true;
	return NL_STOP;
}

static int req_ack(struct nl_msg *msg, void *arg)
{
	struct req *r = arg;

	(void)msg;
	r->done = true;
	return NL_STOP;
}

/* End of a dump; its payload is an error code, 0 when all went well. */
static int req_finish(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct req *r = arg;
	int err;

	r->done = true;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
		return NL_STOP;
	memcpy(&err, nlmsg_data(nlh), sizeof(err));
	if (err < 0) {
		r->error = -err;
		read_extack(nlh, (char *)nlmsg_data(nlh) + NLMSG_ALIGN(sizeof(int)), r);
	}
	return NL_STOP;
}

static int req_valid(struct nl_msg *msg, void *arg)
{
	struct req *r = arg;

	return r->valid ? r->valid(nlmsg_hdr(msg), r->arg) : NL_OK;
}

static int req_dump_intr(struct nl_msg *msg, void *arg)
{
	struct req *r = arg;

	(void)msg;
	r->intr = true;
	return NL_OK;
}

struct nl_msg *new_request(uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags,
			 cmd, VMXL_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int transact(struct nl_msg *msg, struct req *r)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int err;

	r->done = r->intr = false;
	r->error = r->nlerr = 0;
	r->extack[0] = '\0';
	if (!cb) {
		nlmsg_free(msg);
		r->nlerr = -NLE_NOMEM;
		return -1;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, req_valid, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, req_ack, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, req_finish, r);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, req_dump_intr, r);
	nl_cb_err(cb, NL_CB_CUSTOM, req_error, r);

	err = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (err < 0) {
		r->nlerr = err;
		nl_cb_put(cb);
		return -1;
	}
	/*
	 * r->done is set by the callbacks nl_recvmsgs() runs (through cb),
	 * which cppcheck cannot follow: it takes both tests for constant.
	 */
	/* cppcheck-suppress knownConditionTrueFalse */
	while (!r->done) {
		err = nl_recvmsgs(sk, cb);
		/* cppcheck-suppress knownConditionTrueFalse */
		if (err < 0 && !r->done) {
			r->nlerr = err;
			break;
		}
	}
	nl_cb_put(cb);
	return r->error || r->nlerr ? -1 : 0;
}

static bool is_perm_errno(int e)
{
	return e == EPERM || e == EACCES;
}

int report(const struct req *r, const char *what)
{
	if (r->error) {
		fprintf(stderr, "vmxmon: %s: %s%s%s%s\n", what,
			strerror(r->error), r->extack[0] ? ": " : "", r->extack,
			is_perm_errno(r->error) ?
			" (needs CAP_NET_ADMIN: run as root)" : "");
		return is_perm_errno(r->error) ? EXIT_PERM : EXIT_RUNTIME;
	}
	fprintf(stderr, "vmxmon: %s: %s\n", what, nl_geterror(r->nlerr));
	return EXIT_RUNTIME;
}

int parse_msg(struct nlmsghdr *nlh, struct nlattr **tb)
{
	int err = genlmsg_parse(nlh, 0, tb, VMXL_A_MAX, attr_policy);

	if (err < 0)
		fprintf(stderr, "vmxmon: malformed message (cmd %u) ignored: %s\n",
			genlmsg_hdr(nlh)->cmd, nl_geterror(err));
	return err;
}
