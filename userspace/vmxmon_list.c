// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon list: the VMs (id, pid, uid, vCPUs, memory, slots, dirty
 * logging, exits) and each VM's vCPUs, as a table or one JSON object per
 * VM.
 */
#include <inttypes.h>

#include "vmxmon.h"

int cmd_list(void)
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
				json_str("state", state_name(c->state, buf,
							  sizeof(buf)));
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
			       state_name(c->state, buf, sizeof(buf)),
			       EXIT_NAME(c->last_exit, b2),
			       c->stats.v[VMXL_STAT_EXITS]);
		}
	}
	fflush(stdout);
	vm_list_free(&l);
	return EXIT_OK;
}
