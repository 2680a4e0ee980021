// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon's VM and vCPU records: the kernel's dumps (VMXL_CMD_GET_VM,
 * VMXL_CMD_GET_VCPU) read into them, again when a dump was interrupted
 * by a change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "vmxmon.h"

void vm_list_free(struct vm_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].vcpus);
	free(l->v);
	l->v = NULL;
	l->n = 0;
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

int dump_vms(struct vm_list *l)
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

int dump_vcpus(struct vm_info *vm)
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
