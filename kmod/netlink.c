// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "vmx_lite": VM and vCPU state on request, and
 * lifecycle and statistics events, for monitors. The message formats are
 * documented in uapi/linux/vmx_lite.h; docs/netlink.md has the rest.
 *
 * Nothing here runs on the exit path: counters are plain per-vCPU fields
 * their own thread writes, read here without locks; events are built
 * only when someone listens, and outside the guest-entry loop.
 */
#include <linux/cred.h>
#include <linux/ktime.h>
#include <linux/pid_namespace.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

#include "smmu.h"
#include "vmxl.h"

enum { GRP_LIFECYCLE, GRP_FAULTS, GRP_STATS };

static const struct genl_multicast_group vmxl_nl_groups[] = {
	/* Events of every VM: only for those who may see them all. */
	[GRP_LIFECYCLE] = { .name = VMXL_MCGRP_LIFECYCLE,
			    .flags = GENL_MCAST_CAP_NET_ADMIN },
	[GRP_FAULTS] = { .name = VMXL_MCGRP_FAULTS,
			 .flags = GENL_MCAST_CAP_NET_ADMIN },
	[GRP_STATS] = { .name = VMXL_MCGRP_STATS,
			.flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family vmxl_genl __ro_after_init;

static unsigned int vmxl_stats_interval_ms = 1000;	/* READ/WRITE_ONCE */
static void vmxl_stats_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(vmxl_stats_work, vmxl_stats_work_fn);

/* Who asked, captured in the requester's own context. */
struct vmxl_nl_who {
	bool admin;
	kuid_t euid;
};

static struct vmxl_nl_who nl_who(const struct sk_buff *skb)
{
	return (struct vmxl_nl_who){
		.admin = netlink_capable(skb, CAP_NET_ADMIN),
		.euid = current_euid(),
	};
}

static bool vm_visible(const struct vmxl_vm *vm, const struct vmxl_nl_who *who)
{
	return who->admin || uid_eq(vm->uid, who->euid);
}

static struct vmxl_vm *vm_find(u32 id, const struct vmxl_nl_who *who)
{
	struct vmxl_vm *vm;

	lockdep_assert_held(&vmxl_vms_lock);
	list_for_each_entry(vm, &vmxl_vms, list)
		if (vm->id == id)
			return vm_visible(vm, who) ? vm : NULL;
	return NULL;
}

static int put_stats(struct sk_buff *skb, const u64 *stats)
{
	struct nlattr *nest = nla_nest_start(skb, VMXL_A_STATS);
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = VMXL_STAT_EXITS; i < __VMXL_STAT_MAX; i++) {
		if (nla_put_u64_64bit(skb, i, stats[i], VMXL_STAT_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * Pid and uid as the current task sees them; events, whose readers are
 * unknown, pass @initial and get the initial namespaces' numbers.
 */
static int put_owner(struct sk_buff *skb, const struct vmxl_vm *vm,
		     bool initial)
{
	u32 pid = initial ? pid_nr(vm->owner) :
			    pid_nr_ns(vm->owner, task_active_pid_ns(current));
	u32 uid = from_kuid_munged(initial ? &init_user_ns : current_user_ns(),
				   vm->uid);

	if (nla_put_u32(skb, VMXL_A_VM_PID, pid) ||
	    nla_put_u32(skb, VMXL_A_VM_UID, uid))
		return -EMSGSIZE;
	return 0;
}

/* One VM message; the VM stays listed while vmxl_vms_lock is held. */
static int fill_vm(struct sk_buff *skb, struct vmxl_vm *vm, u32 portid,
		   u32 seq, int flags, struct netlink_callback *cb)
{
	u64 stats[__VMXL_STAT_MAX];
	u32 dirty = 0, nr_vcpus, nr_slots;
	u64 mem;
	unsigned int i;
	void *hdr;

	lockdep_assert_held(&vmxl_vms_lock);
	hdr = genlmsg_put(skb, portid, seq, &vmxl_genl, flags, VMXL_CMD_GET_VM);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);

	mutex_lock(&vm->lock);
	for (i = 0; i < vmxl_caps.max_slots; i++)
		if (vm->slots[i] && vm->slots[i]->dirty)
			dirty |= VMXL_NL_DIRTY_BITMAP;
	if (vm->dirty_ring_size)
		dirty |= VMXL_NL_DIRTY_RING;
	nr_vcpus = vm->nr_vcpus;
	nr_slots = vm->nr_slots;
	mem = vm->mem_bytes;
	vmxl_vm_stats(vm, stats);
	mutex_unlock(&vm->lock);

	if (nla_put_u32(skb, VMXL_A_VM_ID, vm->id) ||
	    put_owner(skb, vm, false) ||
	    nla_put_u32(skb, VMXL_A_VM_NR_VCPUS, nr_vcpus) ||
	    nla_put_u64_64bit(skb, VMXL_A_VM_MEM_SIZE, mem, VMXL_A_PAD) ||
	    nla_put_u32(skb, VMXL_A_VM_NR_SLOTS, nr_slots) ||
	    nla_put_u32(skb, VMXL_A_VM_DIRTY_LOG, dirty) ||
	    put_stats(skb, stats)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int vmxl_nl_get_vm_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vmxl_nl_who who = nl_who(skb);
	struct sk_buff *msg;
	struct vmxl_vm *vm;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VMXL_A_VM_ID)) {
		NL_SET_ERR_MSG(info->extack, "VMXL_A_VM_ID is required");
		return -EINVAL;
	}
	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&vmxl_vms_lock);
	vm = vm_find(nla_get_u32(info->attrs[VMXL_A_VM_ID]), &who);
	if (vm) {
		ret = fill_vm(msg, vm, info->snd_portid, info->snd_seq, 0, NULL);
	} else {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[VMXL_A_VM_ID],
				    "no such VM");
		ret = -ENOENT;
	}
	mutex_unlock(&vmxl_vms_lock);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/*
 * Dump state in cb->args: [0] the last id sent (VMs, by id) or the next
 * vCPU index; [1] admin; [2] euid of the requester, taken in start().
 */
static int vmxl_nl_dump_start(struct netlink_callback *cb)
{
	struct vmxl_nl_who who = nl_who(cb->skb);

	cb->args[0] = 0;
	cb->args[1] = who.admin;
	cb->args[2] = __kuid_val(who.euid);
	return 0;
}

static struct vmxl_nl_who dump_who(const struct netlink_callback *cb)
{
	return (struct vmxl_nl_who){
		.admin = cb->args[1],
		.euid = KUIDT_INIT(cb->args[2]),
	};
}

/* A full skb ends a round: the next call resumes from cb->args[0]. */
static int dump_result(struct sk_buff *skb, int ret)
{
	if (ret == -EMSGSIZE && skb->len)
		ret = 0;
	return ret ?: skb->len;
}

static int vmxl_nl_get_vm_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct vmxl_nl_who who = dump_who(cb);
	struct vmxl_vm *vm;
	int ret = 0;

	mutex_lock(&vmxl_vms_lock);
	cb->seq = vmxl_vms_gen;
	list_for_each_entry(vm, &vmxl_vms, list) {
		if (vm->id <= cb->args[0] || !vm_visible(vm, &who))
			continue;
		ret = fill_vm(skb, vm, NETLINK_CB(cb->skb).portid,
			      cb->nlh->nlmsg_seq, NLM_F_MULTI, cb);
		if (ret)
			break;
		cb->args[0] = vm->id;
	}
	mutex_unlock(&vmxl_vms_lock);
	return dump_result(skb, ret);
}

static u32 vcpu_state(const struct vmxl_vcpu *vcpu)
{
	if (READ_ONCE(vcpu->in_run))
		return VMXL_VCPU_RUNNING;
	return READ_ONCE(vcpu->last_exit) == VMXL_EXIT_HLT ?
	       VMXL_VCPU_HALTED : VMXL_VCPU_STOPPED;
}

static int fill_vcpu(struct sk_buff *skb, struct vmxl_vm *vm,
		     struct vmxl_vcpu *vcpu, struct netlink_callback *cb)
{
	u64 stats[__VMXL_STAT_MAX];
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &vmxl_genl, NLM_F_MULTI, VMXL_CMD_GET_VCPU);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	for (i = 0; i < __VMXL_STAT_MAX; i++)
		stats[i] = READ_ONCE(vcpu->stats[i]);
	if (nla_put_u32(skb, VMXL_A_VM_ID, vm->id) ||
	    nla_put_u32(skb, VMXL_A_VCPU_ID, vcpu->id) ||
	    nla_put_u32(skb, VMXL_A_VCPU_STATE, vcpu_state(vcpu)) ||
	    nla_put_u32(skb, VMXL_A_VCPU_LAST_EXIT, READ_ONCE(vcpu->last_exit)) ||
	    put_stats(skb, stats)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int vmxl_nl_get_vcpu_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct vmxl_nl_who who = dump_who(cb);
	struct vmxl_vcpu *vcpu;
	struct vmxl_vm *vm;
	unsigned int i;
	int ret = 0;

	/* Checked here, not in start(): only dumpit has an extack on 6.1. */
	if (!info->attrs[VMXL_A_VM_ID]) {
		NL_SET_ERR_MSG(cb->extack, "VMXL_A_VM_ID is required");
		return -EINVAL;
	}
	mutex_lock(&vmxl_vms_lock);
	cb->seq = vmxl_vms_gen;
	vm = vm_find(nla_get_u32(info->attrs[VMXL_A_VM_ID]), &who);
	if (!vm) {
		mutex_unlock(&vmxl_vms_lock);
		/* gone after the first round: the dump just ends */
		if (cb->args[0])
			return 0;
		NL_SET_ERR_MSG_ATTR(cb->extack, info->attrs[VMXL_A_VM_ID],
				    "no such VM");
		return -ENOENT;
	}
	mutex_lock(&vm->lock);
	for (i = cb->args[0]; i < vmxl_caps.max_vcpus; i++) {
		vcpu = vm->vcpus[i];
		if (!vcpu)
			continue;
		ret = fill_vcpu(skb, vm, vcpu, cb);
		if (ret)
			break;
	}
	cb->args[0] = i;
	mutex_unlock(&vm->lock);
	mutex_unlock(&vmxl_vms_lock);
	return dump_result(skb, ret);
}

static int interval_reply(struct genl_info *info)
{
	struct sk_buff *msg = genlmsg_new(nla_total_size(sizeof(u32)),
					  GFP_KERNEL);
	void *hdr;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vmxl_genl, 0,
				VMXL_CMD_GET_STATS_INTERVAL);
	if (!hdr || nla_put_u32(msg, VMXL_A_STATS_INTERVAL,
				READ_ONCE(vmxl_stats_interval_ms))) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int vmxl_nl_get_interval_doit(struct sk_buff *skb, struct genl_info *info)
{
	return interval_reply(info);
}

static int vmxl_nl_set_interval_doit(struct sk_buff *skb, struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, VMXL_A_STATS_INTERVAL)) {
		NL_SET_ERR_MSG(info->extack, "VMXL_A_STATS_INTERVAL is required");
		return -EINVAL;
	}
	WRITE_ONCE(vmxl_stats_interval_ms,
		   nla_get_u32(info->attrs[VMXL_A_STATS_INTERVAL]));
	mod_delayed_work(system_wq, &vmxl_stats_work, 0);
	return interval_reply(info);
}

static const struct nla_policy vmxl_vm_id_policy[VMXL_A_VM_ID + 1] = {
	[VMXL_A_VM_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* A full range: NLA_POLICY_RANGE's s16 bounds cannot hold the maximum. */
static struct netlink_range_validation vmxl_interval_range = {
	.min = VMXL_NL_INTERVAL_MIN,
	.max = VMXL_NL_INTERVAL_MAX,
};

static const struct nla_policy vmxl_interval_policy[VMXL_A_STATS_INTERVAL + 1] = {
	[VMXL_A_STATS_INTERVAL] = NLA_POLICY_FULL_RANGE(NLA_U32,
							&vmxl_interval_range),
};

/*
 * Every operation is at or above resv_start_op (0), so one without a
 * policy takes no attribute at all: the core rejects any it carries.
 */
static const struct genl_ops vmxl_nl_ops[] = {
	{
		.cmd = VMXL_CMD_GET_VM,
		.doit = vmxl_nl_get_vm_doit,
		.start = vmxl_nl_dump_start,
		.dumpit = vmxl_nl_get_vm_dumpit,
		.policy = vmxl_vm_id_policy,
		.maxattr = VMXL_A_VM_ID,
	},
	{
		.cmd = VMXL_CMD_GET_VCPU,
		.start = vmxl_nl_dump_start,
		.dumpit = vmxl_nl_get_vcpu_dumpit,
		.policy = vmxl_vm_id_policy,
		.maxattr = VMXL_A_VM_ID,
	},
	{
		.cmd = VMXL_CMD_GET_STATS_INTERVAL,
		.doit = vmxl_nl_get_interval_doit,
	},
	{
		.cmd = VMXL_CMD_SET_STATS_INTERVAL,
		.doit = vmxl_nl_set_interval_doit,
		.policy = vmxl_interval_policy,
		.maxattr = VMXL_A_STATS_INTERVAL,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family vmxl_genl __ro_after_init = {
	.name = VMXL_GENL_NAME,
	.version = VMXL_GENL_VERSION,
	.module = THIS_MODULE,
	.ops = vmxl_nl_ops,
	.n_ops = ARRAY_SIZE(vmxl_nl_ops),
	.mcgrps = vmxl_nl_groups,
	.n_mcgrps = ARRAY_SIZE(vmxl_nl_groups),
};

/* ---- events ---- */

static struct sk_buff *event_new(int group, u8 cmd, void **hdr)
{
	struct sk_buff *skb;

	if (!genl_has_listeners(&vmxl_genl, &init_net, group))
		return NULL;
	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &vmxl_genl, 0, cmd);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

/* @err: whether filling failed; the event is dropped then. */
static void event_send(struct sk_buff *skb, void *hdr, int group, bool err)
{
	if (err) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&vmxl_genl, skb, 0, group, GFP_KERNEL);
}

void vmxl_nl_vm_event(struct vmxl_vm *vm, bool created)
{
	struct sk_buff *skb;
	void *hdr;

	/* Samples are made while VMs exist; the first one starts them. */
	if (created)
		schedule_delayed_work(&vmxl_stats_work,
				      msecs_to_jiffies(READ_ONCE(vmxl_stats_interval_ms)));
	skb = event_new(GRP_LIFECYCLE, created ? VMXL_EVT_VM_CREATED :
			VMXL_EVT_VM_DESTROYED, &hdr);
	if (!skb)
		return;
	event_send(skb, hdr, GRP_LIFECYCLE,
		   nla_put_u32(skb, VMXL_A_VM_ID, vm->id) ||
		   (created && put_owner(skb, vm, true)));
}

void vmxl_nl_vcpu_created(struct vmxl_vm *vm, u32 vcpu_id)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(GRP_LIFECYCLE, VMXL_EVT_VCPU_CREATED, &hdr);
	if (!skb)
		return;
	event_send(skb, hdr, GRP_LIFECYCLE,
		   nla_put_u32(skb, VMXL_A_VM_ID, vm->id) ||
		   nla_put_u32(skb, VMXL_A_VCPU_ID, vcpu_id));
}

void vmxl_nl_vcpu_stopped(struct vmxl_vcpu *vcpu, u32 reason, u64 detail)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(GRP_LIFECYCLE, VMXL_EVT_VCPU_STOPPED, &hdr);
	if (!skb)
		return;
	event_send(skb, hdr, GRP_LIFECYCLE,
		   nla_put_u32(skb, VMXL_A_VM_ID, vcpu->vm->id) ||
		   nla_put_u32(skb, VMXL_A_VCPU_ID, vcpu->id) ||
		   nla_put_u32(skb, VMXL_A_EXIT_REASON, reason) ||
		   nla_put_u64_64bit(skb, VMXL_A_EXIT_DETAIL, detail,
				     VMXL_A_PAD));
}

/* An SMMU fault record, with the VM and stream it belongs to. */
void vmxl_nl_smmu_fault(struct vmxl_vm *vm, const struct vmxl_smmu_txn *t,
			const u64 *event)
{
	struct sk_buff *skb;
	void *hdr;

	skb = event_new(GRP_FAULTS, VMXL_EVT_SMMU_FAULT, &hdr);
	if (!skb)
		return;
	event_send(skb, hdr, GRP_FAULTS,
		   nla_put_u32(skb, VMXL_A_VM_ID, vm->id) ||
		   nla_put_u32(skb, VMXL_A_SMMU_SID, t->sid) ||
		   (t->ssv && nla_put_u32(skb, VMXL_A_SMMU_SSID, t->ssid)) ||
		   nla_put_u32(skb, VMXL_A_SMMU_EVENT_TYPE, event[0] & 0xff) ||
		   nla_put(skb, VMXL_A_SMMU_EVENT, 4 * sizeof(u64), event));
}

/* One sample per VM every interval, while VMs exist. */
static void vmxl_stats_work_fn(struct work_struct *work)
{
	unsigned int ms = READ_ONCE(vmxl_stats_interval_ms);
	u64 stats[__VMXL_STAT_MAX], now = ktime_get_ns();
	struct sk_buff *skb;
	struct vmxl_vm *vm;
	void *hdr;
	bool more;

	mutex_lock(&vmxl_vms_lock);
	list_for_each_entry(vm, &vmxl_vms, list) {
		skb = event_new(GRP_STATS, VMXL_EVT_STATS, &hdr);
		if (!skb)
			break;
		mutex_lock(&vm->lock);
		vmxl_vm_stats(vm, stats);
		mutex_unlock(&vm->lock);
		event_send(skb, hdr, GRP_STATS,
			   nla_put_u32(skb, VMXL_A_VM_ID, vm->id) ||
			   nla_put_u32(skb, VMXL_A_STATS_INTERVAL, ms) ||
			   nla_put_u64_64bit(skb, VMXL_A_TIMESTAMP, now,
					     VMXL_A_PAD) ||
			   put_stats(skb, stats));
	}
	more = !list_empty(&vmxl_vms);
	mutex_unlock(&vmxl_vms_lock);
	if (more)
		schedule_delayed_work(&vmxl_stats_work, msecs_to_jiffies(ms));
}

int vmxl_nl_init(void)
{
	return genl_register_family(&vmxl_genl);
}

/* No VM is left (each holds a module reference), so no work comes back. */
void vmxl_nl_exit(void)
{
	cancel_delayed_work_sync(&vmxl_stats_work);
	genl_unregister_family(&vmxl_genl);
}
