// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the control socket's built-in commands: help, status, pause,
 * resume, stop, regs, dump-mem.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

static int ctl_status(struct vmxctl_machine *m, int argc, char **argv,
		      FILE *out)
{
	unsigned int i;

	(void)argc, (void)argv;
	fprintf(out, "state %s\n", atomic_load(&m->pause_req) ? "paused" :
							       "running");
	fprintf(out, "vm-id %d\n", vmxlite_get_vm_id(m->vm_fd));
	fprintf(out, "vcpus %u\n", m->nr_vcpus);
	fprintf(out, "mem %llu\n", (unsigned long long)m->cfg.mem_size);
	fprintf(out, "smmu %s\n", m->cfg.smmu ? "yes" : "no");
	for (i = 0; i < vmxctl_nr_devices(m); i++)
		fprintf(out, "device %s\n", vmxctl_device_name(m, i));
	return 0;
}

static int ctl_pause(struct vmxctl_machine *m, int argc, char **argv,
		     FILE *out)
{
	(void)argc, (void)argv;
	if (atomic_load(&m->pause_req)) {
		fprintf(out, "already paused\n");
		return 1;
	}
	if (vmxctl_pause(m)) {
		fprintf(out, "the machine is stopping\n");
		return 1;
	}
	return 0;
}

static int ctl_resume(struct vmxctl_machine *m, int argc, char **argv,
		      FILE *out)
{
	(void)argc, (void)argv;
	if (!atomic_load(&m->pause_req)) {
		fprintf(out, "not paused\n");
		return 1;
	}
	vmxctl_resume(m);
	return 0;
}

static int ctl_stop(struct vmxctl_machine *m, int argc, char **argv, FILE *out)
{
	int code = argc > 1 ? atoi(argv[1]) : 0;

	if (code < 0 || code > 255) {
		fprintf(out, "stop: code %s out of range 0-255\n", argv[1]);
		return 1;
	}
	vmxctl_machine_stop(m, code);
	return 0;
}

static int ctl_regs(struct vmxctl_machine *m, int argc, char **argv, FILE *out)
{
	static const char *const names[] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		"rip", "rflags",
	};
	struct vmxctl_vcpu_state *st;
	unsigned int cpu = argc > 1 ? (unsigned int)atoi(argv[1]) : 0, i;
	__u64 *r;
	int ret;

	if (cpu >= m->nr_vcpus) {
		fprintf(out, "regs: no vCPU %s\n", argv[1]);
		return 1;
	}
	st = malloc(sizeof(*st));
	if (!st || vmxctl_pause(m)) {
		free(st);
		fprintf(out, "regs: cannot pause\n");
		return 1;
	}
	ret = vmxctl_get_vcpu_state(m, cpu, st);
	vmxctl_resume(m);
	if (ret) {
		fprintf(out, "regs: vCPU %u: %s\n", cpu, strerror(-ret));
		free(st);
		return 1;
	}
	r = &st->regs.rax;
	for (i = 0; i < ARRAY_SIZE(names); i++)
		fprintf(out, "%s 0x%llx\n", names[i], (unsigned long long)r[i]);
	fprintf(out, "cr0 0x%llx\ncr3 0x%llx\ncr4 0x%llx\nefer 0x%llx\n",
		(unsigned long long)st->sregs.cr0,
		(unsigned long long)st->sregs.cr3,
		(unsigned long long)st->sregs.cr4,
		(unsigned long long)st->sregs.efer);
	fprintf(out, "cs 0x%x\n", st->sregs.cs.selector);
	/* Not the TSC: it runs on, so two dumps of one state would differ. */
	for (i = 0; i < st->nmsrs; i++)
		if (st->msrs[i].index != 0x10)
			fprintf(out, "msr 0x%x 0x%llx\n", st->msrs[i].index,
				(unsigned long long)st->msrs[i].data);
	free(st);
	return 0;
}

static int ctl_dump_mem(struct vmxctl_machine *m, int argc, char **argv,
			FILE *out)
{
	unsigned int i;
	uint64_t off;
	ssize_t n;
	int fd, ret = 0;

	if (argc != 2) {
		fprintf(out, "usage: dump-mem FILE\n");
		return 1;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(out, "dump-mem: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (vmxctl_pause(m)) {
		close(fd);
		fprintf(out, "dump-mem: cannot pause\n");
		return 1;
	}
	for (i = 0; i < m->nr_slots && !ret; i++) {
		struct vmxctl_slot *s = &m->slots[i];

		for (off = 0; off < s->size; off += n) {
			n = pwrite(fd, (char *)s->hva + off, s->size - off,
				   s->gpa + off);
			if (n <= 0) {
				fprintf(out, "dump-mem: %s: %s\n", argv[1],
					n ? strerror(errno) : "short write");
				ret = 1;
				break;
			}
		}
	}
	vmxctl_resume(m);
	close(fd);
	return ret;
}

void vmxctl_control_builtins(void)
{
	vmxctl_register_control("help", "list the commands", vmxctl_ctl_help);
	vmxctl_register_control("status", "state, VM id, vCPUs, RAM, devices",
				ctl_status);
	vmxctl_register_control("pause", "stop every vCPU at a safe point",
				ctl_pause);
	vmxctl_register_control("resume", "continue after pause", ctl_resume);
	vmxctl_register_control("stop", "[CODE]: end the run with exit status CODE",
				ctl_stop);
	vmxctl_register_control("regs", "[CPU]: registers and MSRs (but the TSC) of a vCPU",
				ctl_regs);
	vmxctl_register_control("dump-mem", "FILE: write guest RAM to FILE",
				ctl_dump_mem);
}
