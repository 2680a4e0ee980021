// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl snapshot-info and vmxctl verify (docs/snapshot-format.md): what
 * a snapshot file holds, and whether its whole chain is intact. They
 * read files only; saving and restoring are in vmxctl_snapshot.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "vmxctl.h"
#include "lib/snapshot.h"
#include "vmxctl_snapshot.h"

/* ------------------------------------------------------------------ */
/* vmxctl snapshot-info FILE                                           */
/* ------------------------------------------------------------------ */

static void print_info(const struct snap_reader *r, bool regs, bool devices)
{
	const struct snap_info *in = snap_get_info(r);
	char id[2 * SNAP_ID_SIZE + 1], when[64];
	time_t t = in->created_ns / 1000000000ULL;
	struct tm tm;

	snap_id_hex(in->id, id);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("file %s\n", snap_name(r));
	printf("version %u\n", in->version);
	printf("kind %s\n", in->flags & SNAP_F_INCREMENTAL ? "incremental" : "full");
	printf("depth %u\n", in->depth);
	printf("id %s\n", id);
	if (in->parent) {
		snap_id_hex(in->parent_id, id);
		printf("parent %s\n", in->parent);
		printf("parent-id %s\n", id);
	}
	printf("created %s\n", when);
	printf("size %" PRIu64 "\n", in->file_size);
	printf("memory %" PRIu64 "\n", in->mem_size);
	for (uint32_t i = 0; i < in->nr_slots; i++)
		printf("slot %u gpa 0x%" PRIx64 " size %" PRIu64 " flags 0x%x\n",
		       in->slots[i].slot, in->slots[i].gpa, in->slots[i].size,
		       in->slots[i].flags);
	if (in->version >= 2) {
		printf("machine vm-flags 0x%x platform %s\n", in->machine.vm_flags,
		       in->machine.platform == PLATFORM_LINUX ? "linux" :
		       in->machine.platform == PLATFORM_FLAT ? "flat" : "unknown");
		if (in->machine.flags & SNAP_MACHINE_F_CLOCK)
			printf("clock tsc %llu\n",
			       (unsigned long long)in->machine.clock.tsc);
	}
	if (in->machine.has_smmu) {
		const struct vmxl_smmu_config *sc = &in->machine.smmu.config;
		const struct vmxl_smmu_state *ss = &in->machine.smmu.state;

		printf("smmu base 0x%llx sid-bits %u ssid-bits %u iotlb %u\n",
		       (unsigned long long)sc->base_gpa, sc->sid_bits,
		       sc->ssid_bits, sc->iotlb_entries);
		printf("smmu cr0 0x%x cr1 0x%x cr2 0x%x gbpa 0x%x irq-ctrl 0x%x gerror 0x%x gerrorn 0x%x\n",
		       ss->cr0, ss->cr1, ss->cr2, ss->gbpa, ss->irq_ctrl,
		       ss->gerror, ss->gerrorn);
		printf("smmu strtab 0x%llx cfg 0x%x cmdq 0x%llx prod 0x%x cons 0x%x evtq 0x%llx prod 0x%x cons 0x%x\n",
		       (unsigned long long)ss->strtab_base, ss->strtab_base_cfg,
		       (unsigned long long)ss->cmdq_base, ss->cmdq_prod,
		       ss->cmdq_cons, (unsigned long long)ss->evtq_base,
		       ss->evtq_prod, ss->evtq_cons);
	}
	printf("chunks %u\n", in->nr_chunks);
	printf("vcpus %u\n", in->nr_vcpus);
	for (uint32_t i = 0; i < in->nr_vcpus; i++) {
		const struct snap_vcpu *v = &in->vcpus[i];
		static const char *const names[] = {
			"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
			"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
			"rip", "rflags",
		};
		const __u64 *g = &v->regs.rax;

		printf("vcpu %u rip 0x%llx rsp 0x%llx cr0 0x%llx cr3 0x%llx efer 0x%llx msrs %u cpuid %u\n",
		       v->id, (unsigned long long)v->regs.rip,
		       (unsigned long long)v->regs.rsp,
		       (unsigned long long)v->sregs.cr0,
		       (unsigned long long)v->sregs.cr3,
		       (unsigned long long)v->sregs.efer, v->nr_msrs, v->nr_cpuid);
		if (v->os_flags & SNAP_VCPU_OS_LAPIC)
			printf("vcpu %u mp-state %s apic-id 0x%x timer-deadline %llu\n",
			       v->id, v->mp.state == VMXL_MP_RUNNABLE ? "runnable" :
			       v->mp.state == VMXL_MP_HALTED ? "halted" :
			       v->mp.state == VMXL_MP_INIT_RECEIVED ? "init-received" :
			       "unknown", (unsigned int)v->lapic.regs[0x23],
			       (unsigned long long)v->lapic.timer_deadline);
		if (!regs)
			continue;
		if (in->version >= 2)
			printf("vcpu %u events exception %u/%u interrupt %u/%u nmi %u/%u/%u shadow %u dr7 0x%llx\n",
			       v->id, v->events.exception.injected,
			       v->events.exception.nr, v->events.interrupt.injected,
			       v->events.interrupt.nr, v->events.nmi.injected,
			       v->events.nmi.pending, v->events.nmi.masked,
			       v->events.shadow, (unsigned long long)v->debugregs.dr7);
		for (unsigned int k = 0; k < 18; k++)
			printf("vcpu %u %s 0x%llx\n", v->id, names[k],
			       (unsigned long long)g[k]);
		printf("vcpu %u cr2 0x%llx cr4 0x%llx cr8 0x%llx apic_base 0x%llx\n",
		       v->id, (unsigned long long)v->sregs.cr2,
		       (unsigned long long)v->sregs.cr4,
		       (unsigned long long)v->sregs.cr8,
		       (unsigned long long)v->sregs.apic_base);
		{
			const struct vmxl_segment *seg[] = {
				&v->sregs.cs, &v->sregs.ds, &v->sregs.es, &v->sregs.fs,
				&v->sregs.gs, &v->sregs.ss, &v->sregs.tr, &v->sregs.ldt,
			};
			static const char *const sn[] = {
				"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt",
			};

			for (unsigned int k = 0; k < 8; k++)
				printf("vcpu %u %s sel 0x%x base 0x%llx limit 0x%x type %u p %u dpl %u db %u s %u l %u g %u\n",
				       v->id, sn[k], seg[k]->selector,
				       (unsigned long long)seg[k]->base, seg[k]->limit,
				       seg[k]->type, seg[k]->present, seg[k]->dpl,
				       seg[k]->db, seg[k]->s, seg[k]->l, seg[k]->g);
		}
		printf("vcpu %u gdt 0x%llx/0x%x idt 0x%llx/0x%x\n", v->id,
		       (unsigned long long)v->sregs.gdt.base, v->sregs.gdt.limit,
		       (unsigned long long)v->sregs.idt.base, v->sregs.idt.limit);
		for (unsigned int k = 0; k < v->nr_msrs; k++)
			printf("vcpu %u msr 0x%x 0x%llx\n", v->id, v->msrs[k].index,
			       (unsigned long long)v->msrs[k].data);
		printf("vcpu %u fpu-crc32 %08lx\n", v->id,
		       crc32(0, v->fpu.fxsave, sizeof(v->fpu.fxsave)));
	}
	printf("devices %u\n", in->nr_devices);
	for (uint32_t i = 0; i < in->nr_devices; i++) {
		const struct snap_device *d = &in->devices[i];

		printf("device %s version %u bytes %u", d->name, d->version, d->len);
		if (devices) {
			printf(" data ");
			for (uint32_t k = 0; k < d->len; k++)
				printf("%02x", ((const uint8_t *)d->data)[k]);
		}
		printf("\n");
	}
}

static void info_usage(FILE *f)
{
	fprintf(f,
"usage: vmxctl snapshot-info [--regs] [--devices] FILE\n"
"Check FILE's header and small sections and print what it holds, one\n"
"\"key value\" per line: version, kind (full/incremental), depth, id,\n"
"parent and parent-id, creation time, sizes, memory slots, the machine\n"
"(VM flags, platform, clock), vCPUs (MP state and APIC timer; with\n"
"--regs every register, segment and MSR, events and DR7), devices (with\n"
"--devices their state in hex). Memory chunks are not read: `vmxctl\n"
"verify` does that.\n"
"Exit status: 0; 1 FILE refused (the message names the section); 64 usage.\n");
}

int vmxctl_cmd_snapshot_info(int argc, char **argv)
{
	const char *file = NULL;
	bool regs = false, devices = false;
	struct snap_err err = { 0 };
	struct snap_reader *r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			info_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--regs")) {
			regs = true;
		} else if (!strcmp(argv[i], "--devices")) {
			devices = true;
		} else if (argv[i][0] == '-' || file) {
			info_usage(stderr);
			return EXIT_USAGE;
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		info_usage(stderr);
		return EXIT_USAGE;
	}
	r = snap_open(file, &err);
	if (!r) {
		vmxctl_err("%s", err.msg);
		return EXIT_FAILED;
	}
	print_info(r, regs, devices);
	snap_close(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* vmxctl verify FILE [--dump-mem OUT]                                 */
/* ------------------------------------------------------------------ */

static void verify_usage(FILE *f)
{
	fprintf(f,
"usage: vmxctl verify [--dump-mem OUT] FILE\n"
"Check FILE and every parent it needs, down to the full snapshot: each\n"
"header and section CRC, the chain's ids and memory layouts, every memory\n"
"chunk decompressed. With --dump-mem, also write the guest memory the\n"
"chain restores to OUT (each slot at its guest-physical address, as\n"
"`vmxctl control SOCKET dump-mem` does).\n"
"Exit status: 0 the chain is intact; 1 refused (the message names the\n"
"file and section); 64 usage.\n");
}

static int dump_chain(struct snap_reader **chain, unsigned int n,
		      const char *out)
{
	const struct snap_info *in = snap_get_info(chain[0]);
	struct snap_slot s[SNAP_MAX_SLOTS];
	struct snap_err err = { 0 };
	int fd, ret = EXIT_FAILED;
	uint32_t i;

	memset(s, 0, sizeof(s));
	for (i = 0; i < in->nr_slots; i++) {
		s[i] = in->slots[i];
		s[i].host = calloc(1, s[i].size);
		if (!s[i].host) {
			vmxctl_err("verify: out of memory for %" PRIu64 " bytes",
				   s[i].size);
			goto out;
		}
	}
	for (unsigned int k = 0; k < n; k++)
		if (snap_read_memory(chain[k], s, &err)) {
			vmxctl_err("%s", err.msg);
			goto out;
		}
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		vmxctl_err("verify: %s: %s", out, strerror(errno));
		goto out;
	}
	ret = 0;
	for (i = 0; i < in->nr_slots && !ret; i++)
		for (uint64_t off = 0; off < s[i].size;) {
			ssize_t w = pwrite(fd, (char *)s[i].host + off,
					   s[i].size - off, s[i].gpa + off);

			if (w <= 0) {
				vmxctl_err("verify: %s: %s", out,
					   w ? strerror(errno) : "short write");
				ret = EXIT_FAILED;
				break;
			}
			off += w;
		}
	if (close(fd) && !ret) {
		vmxctl_err("verify: %s: %s", out, strerror(errno));
		ret = EXIT_FAILED;
	}
out:
	for (i = 0; i < in->nr_slots; i++)
		free(s[i].host);
	return ret;
}

int vmxctl_cmd_verify(int argc, char **argv)
{
	const char *file = NULL, *dump = NULL;
	struct snap_err err = { 0 };
	struct snap_reader **chain;
	unsigned int n;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			verify_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--dump-mem") && i + 1 < argc) {
			dump = argv[++i];
		} else if (argv[i][0] == '-' || file) {
			verify_usage(stderr);
			return EXIT_USAGE;
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		verify_usage(stderr);
		return EXIT_USAGE;
	}
	if (snap_open_chain(file, &chain, &n, &err)) {
		vmxctl_err("%s", err.msg);
		return EXIT_FAILED;
	}
	for (unsigned int k = 0; k < n && !ret; k++)
		if (snap_read_memory(chain[k], NULL, &err)) {
			vmxctl_err("%s", err.msg);
			ret = EXIT_FAILED;
		}
	if (!ret && dump)
		ret = dump_chain(chain, n, dump);
	if (!ret) {
		printf("%s: OK, a chain of %u file%s:", file, n, n > 1 ? "s" : "");
		for (unsigned int k = 0; k < n; k++)
			printf(" %s", snap_name(chain[k]));
		printf("\n");
	}
	snap_close_chain(chain, n);
	return ret;
}
