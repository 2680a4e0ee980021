// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon: watch vmx-lite VMs through the "vmx_lite" generic netlink
 * family (uapi/linux/vmx_lite.h, docs/netlink.md).
 *
 *   vmxmon list                 VMs and their vCPUs
 *   vmxmon watch                lifecycle (and fault, stats) events, live
 *   vmxmon top                  exit rates per VM and reason
 *   vmxmon interval [MS]        get or set the stats sampling interval
 *
 * --json turns every command's output into one JSON object per line.
 *
 * Exit status:
 *   0  success
 *   1  runtime or kernel error
 *   2  usage error
 *   3  the vmx_lite netlink family is not registered (module not loaded)
 *   4  permission denied (needs CAP_NET_ADMIN, i.e. root)
 *   5  the kernel's family version differs from this vmxmon's
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>

#include <linux/vmx_lite.h>

#include "lib/libvmxlite.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_NOMODULE = 3,
	EXIT_PERM = 4,
	EXIT_VERSION = 5,
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- options ---- */

static struct {
	bool json;
	bool stats;		/* watch: also the stats group */
	bool batch;		/* top: never clear the screen */
	bool have_vm;
	uint32_t vm;		/* watch, list, top: only this VM */
	uint64_t count;		/* watch: stop after this many events */
	double timeout;		/* watch: stop after this many seconds */
	uint32_t interval_ms;	/* top */
	uint64_t iterations;	/* top: samples to print, 0 = forever */
} opt = { .interval_ms = 1000 };

/* ---- names ---- */

static const char *const stat_names[] = {
	[VMXL_STAT_EXITS] = "exits",
	[VMXL_STAT_USER] = "user",
	[VMXL_STAT_IO] = "io",
	[VMXL_STAT_NPF] = "npf",
	[VMXL_STAT_CPUID] = "cpuid",
	[VMXL_STAT_MSR] = "msr",
	[VMXL_STAT_HLT] = "hlt",
	[VMXL_STAT_HYPERCALL] = "hypercall",
	[VMXL_STAT_HOST_INTR] = "host_intr",
	[VMXL_STAT_WINDOW] = "window",
	[VMXL_STAT_CR_DR] = "cr_dr",
	[VMXL_STAT_OTHER] = "other",
};

static const char *const state_names[] = {
	[VMXL_VCPU_STOPPED] = "stopped",
	[VMXL_VCPU_RUNNING] = "running",
	[VMXL_VCPU_HALTED] = "halted",
};

static const struct {
	uint8_t cmd;
	const char *name;
} event_names[] = {
	{ VMXL_EVT_VM_CREATED, "vm-created" },
	{ VMXL_EVT_VM_DESTROYED, "vm-destroyed" },
	{ VMXL_EVT_VCPU_CREATED, "vcpu-created" },
	{ VMXL_EVT_VCPU_STOPPED, "vcpu-stopped" },
	{ VMXL_EVT_STATS, "stats" },
	{ VMXL_EVT_SMMU_FAULT, "smmu-fault" },
};

/* Name from a table, or "<prefix>N" in @buf for values it lacks. */
static const char *table_name(const char *const *tab, size_t n, unsigned int v,
			      const char *prefix, char *buf, size_t len)
{
	if (v < n && tab[v])
		return tab[v];
	snprintf(buf, len, "%s%u", prefix, v);
	return buf;
}

#define NAME(tab, v, prefix, buf) \
	table_name(tab, ARRAY_SIZE(tab), v, prefix, buf, sizeof(buf))

/* An exit reason's name (libvmxlite has them all), or exit_<n>. */
static const char *exit_name(uint32_t v, char *buf, size_t len)
{
	const char *n = vmxlite_exit_name(v);

	if (strcmp(n, "unknown"))
		return n;
	snprintf(buf, len, "exit_%u", v);
	return buf;
}

#define EXIT_NAME(v, buf)	exit_name(v, buf, sizeof(buf))

/* ---- a tiny JSON emitter: one object per line ---- */

static struct {
	int depth;
	bool first[8];
} js;

static void json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		case '\f':
			fputs("\\f", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* Comma and key before a member (@key NULL inside arrays). */
static void json_key(const char *key)
{
	if (!js.first[js.depth])
		putchar(',');
	js.first[js.depth] = false;
	if (key) {
		json_string(key);
		putchar(':');
	}
}

static void json_open(const char *key, char c)
{
	json_key(key);
	putchar(c);
	js.first[++js.depth] = true;
}

static void json_close(char c)
{
	putchar(c);
	js.depth--;
}

static void json_begin(void)
{
	js.depth = 0;
	js.first[0] = true;
	json_open(NULL, '{');
}

static void json_end(void)
{
	json_close('}');
	putchar('\n');
	fflush(stdout);
}

static void json_str(const char *key, const char *v)
{
	json_key(key);
	json_string(v);
}

static void json_u64(const char *key, uint64_t v)
{
	json_key(key);
	printf("%" PRIu64, v);
}

static void json_double(const char *key, double v)
{
	json_key(key);
	if (isfinite(v))
		printf("%.3f", v);
	else
		fputs("null", stdout);
}

static void json_bool(const char *key, bool v)
{
	json_key(key);
	fputs(v ? "true" : "false", stdout);
}

/* ---- time ---- */

static void iso_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ld", ts.tv_nsec / 1000000);
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- attributes ---- */

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

static struct nla_policy stat_policy[VMXL_STAT_MAX + 1];

struct stats {
	bool have[VMXL_STAT_MAX + 1];
	uint64_t v[VMXL_STAT_MAX + 1];
};

/* Counters this vmxmon knows; types it does not know are skipped. */
static int parse_stats(struct nlattr *nest, struct stats *s)
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

static uint32_t get_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

/* ---- the socket and requests ---- */

static struct nl_sock *sk;
static int family;

static int open_family(void)
{
	struct genl_family *fam;
	struct nl_cache *cache;
	int one = 1, err;
	unsigned int ver;

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

struct req {
	int (*valid)(struct nlmsghdr *nlh, void *arg);
	void *arg;
	bool done;
	bool intr;		/* a dump message had NLM_F_DUMP_INTR */
	int error;		/* errno the kernel answered, positive */
	int nlerr;		/* libnl error, negative */
	char extack[256];
};

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

static struct nl_msg *new_request(uint8_t cmd, int flags)
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

/* Send @msg (consumed) and read answers until the ACK, error or DONE. */
static int transact(struct nl_msg *msg, struct req *r)
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

/* Say what failed; returns the exit status. */
static int report(const struct req *r, const char *what)
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

/* ---- VM and vCPU records ---- */

struct vcpu_info {
	uint32_t id, state, last_exit;
	struct stats stats;
};

struct vm_info {
	uint32_t id, pid, uid, nr_vcpus, nr_slots, dirty;
	uint64_t mem;
	struct stats stats;
	struct vcpu_info *vcpus;
	size_t nr_vcpu_info;
	bool gone;		/* vanished between the dumps */
};

struct vm_list {
	struct vm_info *v;
	size_t n;
};

static void vm_list_free(struct vm_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].vcpus);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int parse_msg(struct nlmsghdr *nlh, struct nlattr **tb)
{
	int err = genlmsg_parse(nlh, 0, tb, VMXL_A_MAX, attr_policy);

	if (err < 0)
		fprintf(stderr, "vmxmon: malformed message (cmd %u) ignored: %s\n",
			genlmsg_hdr(nlh)->cmd, nl_geterror(err));
	return err;
}

static int vm_valid(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[VMXL_A_MAX + 1];
	struct vm_list *l = arg;
	struct vm_info *vm, *v;

	if (parse_msg(nlh, tb) < 0 || !tb[VMXL_A_VM_ID])
		return NL_OK;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -NLE_NOMEM;
	l->v = v;
	vm = &v[l->n];
	memset(vm, 0, sizeof(*vm));
	vm->id = get_u32(tb, VMXL_A_VM_ID);
	vm->pid = get_u32(tb, VMXL_A_VM_PID);
	vm->uid = get_u32(tb, VMXL_A_VM_UID);
	vm->nr_vcpus = get_u32(tb, VMXL_A_VM_NR_VCPUS);
	vm->mem = get_u64(tb, VMXL_A_VM_MEM_SIZE);
	vm->nr_slots = get_u32(tb, VMXL_A_VM_NR_SLOTS);
	vm->dirty = get_u32(tb, VMXL_A_VM_DIRTY_LOG);
	if (parse_stats(tb[VMXL_A_STATS], &vm->stats) < 0)
		fprintf(stderr, "vmxmon: VM %u: malformed counters\n", vm->id);
	if (!opt.have_vm || vm->id == opt.vm)
		l->n++;
	return NL_OK;
}

static int vcpu_valid(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[VMXL_A_MAX + 1];
	struct vm_info *vm = arg;
	struct vcpu_info *c;

	if (parse_msg(nlh, tb) < 0 || !tb[VMXL_A_VCPU_ID])
		return NL_OK;
	c = realloc(vm->vcpus, (vm->nr_vcpu_info + 1) * sizeof(*c));
	if (!c)
		return -NLE_NOMEM;
	vm->vcpus = c;
	c = &c[vm->nr_vcpu_info++];
	memset(c, 0, sizeof(*c));
	c->id = get_u32(tb, VMXL_A_VCPU_ID);
	c->state = get_u32(tb, VMXL_A_VCPU_STATE);
	c->last_exit = get_u32(tb, VMXL_A_VCPU_LAST_EXIT);
	if (parse_stats(tb[VMXL_A_STATS], &c->stats) < 0)
		fprintf(stderr, "vmxmon: VM %u vCPU %u: malformed counters\n",
			vm->id, c->id);
	return NL_OK;
}

#define DUMP_TRIES	5

/* All visible VMs (or the one of --vm), consistent with each other. */
static int dump_vms(struct vm_list *l)
{
	struct req r = { .valid = vm_valid, .arg = l };
	int i;

	for (i = 0; i < DUMP_TRIES; i++) {
		struct nl_msg *msg;

		vm_list_free(l);
		msg = new_request(VMXL_CMD_GET_VM, NLM_F_DUMP);
		if (!msg) {
			fprintf(stderr, "vmxmon: out of memory\n");
			return EXIT_RUNTIME;
		}
		if (transact(msg, &r))
			return report(&r, "dump VMs (VMXL_CMD_GET_VM)");
		if (!r.intr)
			break;
	}
	return EXIT_OK;
}

static int dump_vcpus(struct vm_info *vm)
{
	struct req r = { .valid = vcpu_valid, .arg = vm };
	char what[64];
	int i;

	for (i = 0; i < DUMP_TRIES; i++) {
		struct nl_msg *msg;

		free(vm->vcpus);
		vm->vcpus = NULL;
		vm->nr_vcpu_info = 0;
		msg = new_request(VMXL_CMD_GET_VCPU, NLM_F_DUMP);
		if (!msg || nla_put_u32(msg, VMXL_A_VM_ID, vm->id) < 0) {
			nlmsg_free(msg);
			fprintf(stderr, "vmxmon: out of memory\n");
			return EXIT_RUNTIME;
		}
		if (transact(msg, &r)) {
			if (r.error == ENOENT) {	/* gone since the VM dump */
				vm->gone = true;
				return EXIT_OK;
			}
			snprintf(what, sizeof(what),
				 "dump vCPUs of VM %u (VMXL_CMD_GET_VCPU)", vm->id);
			return report(&r, what);
		}
		if (!r.intr)
			break;
	}
	return EXIT_OK;
}

/* ---- output helpers ---- */

static void json_stats(const char *key, const struct stats *s)
{
	unsigned int i;

	json_open(key, '{');
	for (i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++)
		if (i < ARRAY_SIZE(stat_names) && s->have[i] && stat_names[i])
			json_u64(stat_names[i], s->v[i]);
	json_close('}');
}

static void text_stats(const struct stats *s)
{
	unsigned int i;

	for (i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++)
		if (i < ARRAY_SIZE(stat_names) && s->have[i] && stat_names[i])
			printf(" %s=%" PRIu64, stat_names[i], s->v[i]);
}

static const char *dirty_name(uint32_t d)
{
	static const char *const names[] = {
		"off", "bitmap", "ring", "bitmap+ring",
	};

	return names[d & 3];
}

static void fmt_size(char *buf, size_t len, uint64_t b)
{
	if (b && !(b % (1ULL << 30)))
		snprintf(buf, len, "%" PRIu64 "G", b >> 30);
	else if (b && !(b % (1ULL << 20)))
		snprintf(buf, len, "%" PRIu64 "M", b >> 20);
	else if (b && !(b % 1024))
		snprintf(buf, len, "%" PRIu64 "K", b >> 10);
	else
		snprintf(buf, len, "%" PRIu64, b);
}

/* ---- list ---- */

static int cmd_list(void)
{
	struct vm_list l = { 0 };
	char buf[32], sz[32];
	size_t i, j;
	int ret;

	ret = dump_vms(&l);
	for (i = 0; !ret && i < l.n; i++)
		ret = dump_vcpus(&l.v[i]);
	if (ret) {
		vm_list_free(&l);
		return ret;
	}
	if (!opt.json)
		printf("%-6s %-8s %-6s %-5s %-8s %-5s %-11s %s\n", "VM", "PID",
		       "UID", "VCPUS", "MEMORY", "SLOTS", "DIRTY-LOG", "EXITS");
	for (i = 0; i < l.n; i++) {
		struct vm_info *vm = &l.v[i];

		if (vm->gone)
			continue;
		if (opt.json) {
			json_begin();
			json_u64("id", vm->id);
			json_u64("pid", vm->pid);
			json_u64("uid", vm->uid);
			json_u64("nr_vcpus", vm->nr_vcpus);
			json_u64("mem_bytes", vm->mem);
			json_u64("nr_slots", vm->nr_slots);
			json_open("dirty_log", '{');
			json_bool("bitmap", vm->dirty & VMXL_NL_DIRTY_BITMAP);
			json_bool("ring", vm->dirty & VMXL_NL_DIRTY_RING);
			json_close('}');
			json_u64("exits", vm->stats.v[VMXL_STAT_EXITS]);
			json_stats("stats", &vm->stats);
			json_open("vcpus", '[');
			for (j = 0; j < vm->nr_vcpu_info; j++) {
				struct vcpu_info *c = &vm->vcpus[j];

				json_open(NULL, '{');
				json_u64("id", c->id);
				json_str("state", NAME(state_names, c->state,
						       "state_", buf));
				json_str("last_exit", EXIT_NAME(c->last_exit, buf));
				json_u64("exits", c->stats.v[VMXL_STAT_EXITS]);
				json_stats("stats", &c->stats);
				json_close('}');
			}
			json_close(']');
			json_end();
			continue;
		}
		fmt_size(sz, sizeof(sz), vm->mem);
		printf("%-6u %-8u %-6u %-5u %-8s %-5u %-11s %" PRIu64 "\n",
		       vm->id, vm->pid, vm->uid, vm->nr_vcpus, sz,
		       vm->nr_slots, dirty_name(vm->dirty),
		       vm->stats.v[VMXL_STAT_EXITS]);
		if (vm->nr_vcpu_info)
			printf("       %-6s %-9s %-16s %s\n", "VCPU", "STATE",
			       "LAST-EXIT", "EXITS");
		for (j = 0; j < vm->nr_vcpu_info; j++) {
			struct vcpu_info *c = &vm->vcpus[j];
			char b2[32];

			printf("       %-6u %-9s %-16s %" PRIu64 "\n", c->id,
			       NAME(state_names, c->state, "state_", buf),
			       EXIT_NAME(c->last_exit, b2),
			       c->stats.v[VMXL_STAT_EXITS]);
		}
	}
	fflush(stdout);
	vm_list_free(&l);
	return EXIT_OK;
}

/* ---- watch ---- */

struct watch {
	uint64_t seen;
	bool stop;
};

static const char *event_name(uint8_t cmd, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(event_names); i++)
		if (event_names[i].cmd == cmd)
			return event_names[i].name;
	snprintf(buf, len, "event-%u", cmd);
	return buf;
}

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

static int cmd_watch(void)
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

/* ---- top ---- */

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
				if (s < ARRAY_SIZE(stat_names) && vm->stats.have[s] &&
				    stat_names[s])
					json_double(stat_names[s], rate[s]);
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
			       (unsigned int)best < ARRAY_SIZE(stat_names) ?
			       stat_names[best] : "?", rate[best],
			       vm->stats.v[best]);
		}
	}
	if (!opt.json && !clear)
		putchar('\n');
	fflush(stdout);
}

static int cmd_top(void)
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

/* ---- interval ---- */

static int interval_valid(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[VMXL_A_MAX + 1];
	int64_t *ms = arg;

	if (parse_msg(nlh, tb) == 0 && tb[VMXL_A_STATS_INTERVAL])
		*ms = nla_get_u32(tb[VMXL_A_STATS_INTERVAL]);
	return NL_OK;
}

static int cmd_interval(bool set, uint32_t ms)
{
	int64_t got = -1;
	struct req r = { .valid = interval_valid, .arg = &got };
	struct nl_msg *msg;

	msg = new_request(set ? VMXL_CMD_SET_STATS_INTERVAL :
			  VMXL_CMD_GET_STATS_INTERVAL, 0);
	if (!msg || (set && nla_put_u32(msg, VMXL_A_STATS_INTERVAL, ms) < 0)) {
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

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmxmon [--json] COMMAND [OPTIONS]\n"
		"Monitor vmx-lite VMs through the " VMXL_GENL_NAME " generic netlink family.\n"
		"\n"
		"Commands:\n"
		"  list                  VMs (id, pid, uid, vCPUs, memory, slots, dirty\n"
		"                        logging, exits) and each VM's vCPUs\n"
		"  watch                 lifecycle and fault events as they happen, one\n"
		"                        line each (needs CAP_NET_ADMIN)\n"
		"  top                   exit rates per VM and reason, refreshed\n"
		"  interval [MS]         print, or set (needs CAP_NET_ADMIN), the interval\n"
		"                        between the kernel's stats samples (%d..%d ms)\n"
		"  help                  this text\n"
		"\n"
		"Options:\n"
		"  --json                one JSON object per line (every command)\n"
		"  --vm ID               list, watch, top: only VM ID\n"
		"  --count N             watch: exit after N events\n"
		"  --timeout SEC         watch: exit (status 0) after SEC seconds\n"
		"  --stats               watch: also the periodic stats samples\n"
		"  --interval MS         top: sample every MS ms (default 1000)\n"
		"  --iterations N        top: exit after N samples\n"
		"  --once                top: one sample, then exit (--iterations 1)\n"
		"  --batch               top: plain text blocks, never clear the screen\n"
		"                        (the default when stdout is not a terminal)\n"
		"  -h, --help            this text\n"
		"  -V, --version         vmxmon's version and the netlink protocol\n"
		"                        version it speaks\n"
		"\n"
		"Exit status: 0 success, 1 runtime or kernel error, 2 usage error,\n"
		"3 module not loaded (no " VMXL_GENL_NAME " family), 4 permission denied\n"
		"(CAP_NET_ADMIN needed), 5 the kernel's protocol version differs.\n",
		VMXL_NL_INTERVAL_MIN, VMXL_NL_INTERVAL_MAX);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("vmxmon: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'vmxmon --help'.\n", stderr);
	return EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

enum {
	OPT_JSON = 0x100, OPT_VM, OPT_COUNT, OPT_TIMEOUT, OPT_STATS,
	OPT_INTERVAL, OPT_ITERATIONS, OPT_ONCE, OPT_BATCH,
};

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "vm", required_argument, NULL, OPT_VM },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Which command each option belongs to; NULL: every command. */
static const char *const opt_cmd[] = {
	[OPT_VM - OPT_JSON] = "list watch top",
	[OPT_COUNT - OPT_JSON] = "watch",
	[OPT_TIMEOUT - OPT_JSON] = "watch",
	[OPT_STATS - OPT_JSON] = "watch",
	[OPT_INTERVAL - OPT_JSON] = "top",
	[OPT_ITERATIONS - OPT_JSON] = "top",
	[OPT_ONCE - OPT_JSON] = "top",
	[OPT_BATCH - OPT_JSON] = "top",
};

static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

int main(int argc, char **argv)
{
	bool used[ARRAY_SIZE(opt_cmd)] = { false };
	const char *cmd;
	uint64_t v;
	uint32_t ms = 0;
	bool set = false;
	char *end;
	size_t i;
	int c, ret;

	for (i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++)
		stat_policy[i].type = NLA_U64;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1) {
		if (c >= OPT_JSON)
			used[c - OPT_JSON] = true;
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("vmxmon (vmx-lite) %s, " VMXL_GENL_NAME
			       " netlink protocol version %d\n",
			       VMXL_PKG_VERSION, VMXL_GENL_VERSION);
			return EXIT_OK;
		case OPT_JSON:
			opt.json = true;
			break;
		case OPT_VM:
			if (!parse_u64(optarg, 1, UINT32_MAX, &v))
				return usage_error("--vm: not a VM id: '%s'", optarg);
			opt.vm = v;
			opt.have_vm = true;
			break;
		case OPT_COUNT:
			if (!parse_u64(optarg, 1, UINT64_MAX, &v))
				return usage_error("--count: not a positive number: '%s'",
						   optarg);
			opt.count = v;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			opt.timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(opt.timeout) ||
			    opt.timeout <= 0 || opt.timeout > 1e9)
				return usage_error("--timeout: not a positive number of seconds: '%s'",
						   optarg);
			break;
		case OPT_STATS:
			opt.stats = true;
			break;
		case OPT_INTERVAL:
			if (!parse_u64(optarg, 1, 3600 * 1000, &v))
				return usage_error("--interval: not a number of milliseconds (1..3600000): '%s'",
						   optarg);
			opt.interval_ms = v;
			break;
		case OPT_ITERATIONS:
			if (!parse_u64(optarg, 1, UINT64_MAX, &v))
				return usage_error("--iterations: not a positive number: '%s'",
						   optarg);
			opt.iterations = v;
			break;
		case OPT_ONCE:
			opt.iterations = 1;
			break;
		case OPT_BATCH:
			opt.batch = true;
			break;
		case ':':
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	cmd = argv[optind++];
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "list") && strcmp(cmd, "watch") && strcmp(cmd, "top") &&
	    strcmp(cmd, "interval"))
		return usage_error("unknown command '%s'", cmd);
	for (i = 0; i < ARRAY_SIZE(opt_cmd); i++) {
		if (used[i] && opt_cmd[i] && !word_in(cmd, opt_cmd[i])) {
			fprintf(stderr, "vmxmon: --%s does not apply to %s\n",
				long_opts[i].name, cmd);
			return EXIT_USAGE;
		}
	}
	if (!strcmp(cmd, "interval") && optind < argc) {
		if (!parse_u64(argv[optind], 0, UINT32_MAX, &v))
			return usage_error("interval: not a number of milliseconds: '%s'",
					   argv[optind]);
		ms = v;
		set = true;
		optind++;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	ret = open_family();
	if (ret)
		goto out;
	if (!strcmp(cmd, "list"))
		ret = cmd_list();
	else if (!strcmp(cmd, "watch"))
		ret = cmd_watch();
	else if (!strcmp(cmd, "top"))
		ret = cmd_top();
	else
		ret = cmd_interval(set, ms);
out:
	if (sk)
		nl_socket_free(sk);
	return ret;
}
