/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxmon's own header: what its files share.
 *
 *   vmxmon.c           the command line, --help and the command table
 *   vmxmon_nl.c        the netlink socket, requests, answers, errors
 *   vmxmon_vms.c       VM and vCPU records, dumped from the kernel
 *   vmxmon_json.c      the JSON emitter (one object per line)
 *   vmxmon_fmt.c       names, counters and sizes as text and JSON
 *   vmxmon_list.c, vmxmon_watch.c, vmxmon_top.c, vmxmon_interval.c
 *                      the commands
 */
#ifndef VMXMON_H
#define VMXMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>

#include <linux/vmx_lite.h>

/* Exit status; vmxmon.c's header comment and --help say what each is. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_NOMODULE = 3,
	EXIT_PERM = 4,
	EXIT_VERSION = 5,
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- options (vmxmon.c) ---- */

extern struct options {
	bool json;
	bool stats;		/* watch: also the stats group */
	bool batch;		/* top: never clear the screen */
	bool have_vm;
	uint32_t vm;		/* watch, list, top: only this VM */
	uint64_t count;		/* watch: stop after this many events */
	double timeout;		/* watch: stop after this many seconds */
	uint32_t interval_ms;	/* top */
	uint64_t iterations;	/* top: samples to print, 0 = forever */
} opt;

/* "vmxmon: " @fmt (with @arg) and the hint to --help; EXIT_USAGE. */
int usage_error(const char *fmt, const char *arg);
/* @s as a decimal in @min..@max, nothing else. */
bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- netlink (vmxmon_nl.c) ---- */

extern struct nl_sock *sk;
extern int family;		/* the vmx_lite family's id */

struct stats {
	bool have[VMXL_STAT_MAX + 1];
	uint64_t v[VMXL_STAT_MAX + 1];
};

/* One request and what the kernel answered. */
struct req {
	int (*valid)(struct nlmsghdr *nlh, void *arg);
	void *arg;
	bool done;
	bool intr;		/* a dump message had NLM_F_DUMP_INTR */
	int error;		/* errno the kernel answered, positive */
	int nlerr;		/* libnl error, negative */
	char extack[256];
};

/* The socket, connected to the vmx_lite family; an exit status. */
int open_family(void);
struct nl_msg *new_request(uint8_t cmd, int flags);
/* Send @msg (consumed) and read answers until the ACK, error or DONE. */
int transact(struct nl_msg *msg, struct req *r);
/* Say what failed; returns the exit status. */
int report(const struct req *r, const char *what);
/* Attributes by the vmx_lite policy; says so on stderr when malformed. */
int parse_msg(struct nlmsghdr *nlh, struct nlattr **tb);
int parse_stats(struct nlattr *nest, struct stats *s);
uint32_t get_u32(struct nlattr **tb, int type);
uint64_t get_u64(struct nlattr **tb, int type);

/* ---- VM and vCPU records (vmxmon_vms.c) ---- */

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

void vm_list_free(struct vm_list *l);
/* All visible VMs (or the one of --vm), consistent with each other. */
int dump_vms(struct vm_list *l);
int dump_vcpus(struct vm_info *vm);

/* ---- JSON (vmxmon_json.c) ---- */

void json_begin(void);
void json_end(void);
/* Comma and key before a member (@key NULL inside arrays). */
void json_key(const char *key);
void json_open(const char *key, char c);
void json_close(char c);
void json_str(const char *key, const char *v);
void json_u64(const char *key, uint64_t v);
void json_double(const char *key, double v);
void json_bool(const char *key, bool v);

/* ---- names and formats (vmxmon_fmt.c) ---- */

/* A counter's name; NULL for one this vmxmon does not know. */
const char *stat_name(unsigned int s);
/* A vCPU state's name, or state_<n> in @buf. */
const char *state_name(uint32_t v, char *buf, size_t len);
/* An exit reason's name (libvmxlite has them all), or exit_<n> in @buf. */
const char *exit_name(uint32_t v, char *buf, size_t len);
#define EXIT_NAME(v, buf)	exit_name(v, buf, sizeof(buf))
/* An event's name, or event-<n> in @buf. */
const char *event_name(uint8_t cmd, char *buf, size_t len);
const char *dirty_name(uint32_t d);
void fmt_size(char *buf, size_t len, uint64_t b);
void json_stats(const char *key, const struct stats *s);
void text_stats(const struct stats *s);
/* The local time, to the millisecond, ISO 8601. */
void iso_now(char *buf, size_t len);

static inline double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the commands ---- */

int cmd_list(void);
int cmd_watch(void);
int cmd_top(void);
/* interval [MS]: its operand; the number used or -1 (usage error said). */
int interval_operands(char **argv);
int cmd_interval(void);

#endif
