/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small libnl-genl client of the vmx_lite family for the tests: typed
 * requests, raw requests that report errno and extack, and events.
 */
#ifndef VMXL_VNL_H
#define VMXL_VNL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/vmx_lite.h>

struct nl_sock;
struct nl_msg;

struct vnl {
	struct nl_sock *sk;
	int family;
	unsigned int version;
	int grp[3];		/* lifecycle, faults, stats */
	char extack[256];	/* message of the last error, "" if none */
	int miss_type;		/* NLMSGERR_ATTR_MISS_TYPE of it, 0 if none */
	int err;		/* -errno of the last request, 0 if none */
};

enum { VNL_LIFECYCLE, VNL_FAULTS, VNL_STATS };

struct vnl_vm {
	uint32_t id, pid, uid, nr_vcpus, nr_slots, dirty_log;
	uint64_t mem_size;
	uint64_t stats[__VMXL_STAT_MAX];
	bool dump_intr;		/* the message carried NLM_F_DUMP_INTR */
};

struct vnl_vcpu {
	uint32_t vm_id, id, state, last_exit;
	uint64_t stats[__VMXL_STAT_MAX];
};

/* One message of any kind, as the tests look at it. */
struct vnl_msg {
	uint8_t cmd;
	uint16_t flags;		/* nlmsghdr flags */
	bool has[VMXL_A_MAX + 1];
	uint64_t u[VMXL_A_MAX + 1];	/* scalar attributes */
	uint64_t stats[__VMXL_STAT_MAX];
};

/* Resolve the family and its groups; 0 or -errno (message on stderr). */
int vnl_open(struct vnl *nl);
void vnl_close(struct vnl *nl);

/* A request of @cmd with @nlflags (NLM_F_DUMP or 0), to fill with nla_put_*(). */
struct nl_msg *vnl_msg_new(struct vnl *nl, uint8_t cmd, int nlflags);
/*
 * Send @msg (and free it); collect up to @max answers into @out (NULL:
 * none kept). Returns the number of answers, or -errno with nl->extack
 * and nl->miss_type set from the kernel's error.
 */
int vnl_request(struct vnl *nl, struct nl_msg *msg, struct vnl_msg *out,
		int max);

int vnl_get_vm(struct vnl *nl, uint32_t id, struct vnl_vm *vm);
/* Every VM the caller sees; count or -errno. */
int vnl_dump_vms(struct vnl *nl, struct vnl_vm *vms, int max);
int vnl_dump_vcpus(struct vnl *nl, uint32_t vm_id, struct vnl_vcpu *vcpus,
		   int max);
int vnl_set_interval(struct vnl *nl, uint32_t ms);
int vnl_get_interval(struct vnl *nl);

/* Join group @grp (VNL_*); 0 or -errno. */
int vnl_join(struct vnl *nl, int grp);
/*
 * The next event within @timeout_ms; 0, -ETIMEDOUT or -errno. Events
 * of other VMs than @vm_id (0: any) are skipped.
 */
int vnl_next_event(struct vnl *nl, uint32_t vm_id, struct vnl_msg *ev,
		   int timeout_ms);

void vnl_to_vm(const struct vnl_msg *m, struct vnl_vm *vm);
void vnl_to_vcpu(const struct vnl_msg *m, struct vnl_vcpu *vcpu);

#endif
