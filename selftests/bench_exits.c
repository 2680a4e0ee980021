// SPDX-License-Identifier: GPL-2.0
/*
 * Exit paths and object lifecycles, vmx-lite against KVM in the same
 * boot, the same guest code (C functions of this binary) on both:
 *
 *   io_exit        OUT to a port: exit to userspace and back
 *   mmio_write     a store with no RAM behind it: decoded, to userspace
 *   mmio_read      a load likewise, userspace supplies the value
 *   hlt_exit       HLT with no interrupt controller: to userspace
 *   cpuid          handled in the kernel, no userspace round trip
 *   hypercall      VMMCALL/VMCALL: vmx-lite returns it to userspace; KVM
 *                  answers unknown hypercalls in the kernel (so the two
 *                  columns do not measure the same path)
 *   vm_create_destroy, vcpu_create, slot_register (per GiB: vmx-lite pins
 *                  the pages up front, KVM maps them on first touch)
 *   io_exit_traced  io_exit with every vmx_lite trace event on, against
 *                  io_exit with them off (the cost of tracing)
 *   world_switch_floor  VMXL_SWITCH_FLOOR: the module enters the guest on
 *                  its hypercall and takes the exit straight back, the
 *                  floor under every path above; vmx-lite only, so its
 *                  reference is vmx-lite's own in-kernel CPUID
 *
 *   bench_exits [-n operations] [-r repeats]
 *
 * Exit 0, or 1 when a step failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "bench.h"
#include "gvm.h"
#include "testlib.h"

#define BENCH_PORT	0x71
#define MMIO_GPA	0xc0000000ULL	/* identity-mapped, no RAM */
#define MAX_REPS	32
#define SLOT_BYTES	(256ULL << 20)

#define FAIL(...) do {							\
	fprintf(stderr, "bench_exits: " __VA_ARGS__);			\
	exit(1);							\
} while (0)

enum op { OP_IO, OP_MMIO_W, OP_MMIO_R, OP_HLT, OP_CPUID, OP_HCALL, NR_OPS };

static const char *const op_names[NR_OPS] = {
	"io_exit", "mmio_write", "mmio_read", "hlt_exit", "cpuid",
	"hypercall",
};

/* The guest: @n operations of kind @op, then a report; again and again. */
static void guest_ops(uint64_t op, uint64_t n_amd)
{
	uint64_t n = n_amd >> 1, i;
	uint32_t r[4];

	for (;;) {
		for (i = 0; i < n; i++) {
			switch (op) {
			case OP_IO:
				outb(BENCH_PORT, i);
				break;
			case OP_MMIO_W:
				*(volatile uint32_t *)MMIO_GPA = i;
				break;
			case OP_MMIO_R:
				(void)*(volatile uint32_t *)MMIO_GPA;
				break;
			case OP_HLT:
				asm volatile("hlt");
				break;
			case OP_CPUID:
				guest_cpuid(0, 0, r);
				break;
			case OP_HCALL:
				guest_hcall(n_amd & 1, 0x1000);
				break;
			}
		}
		GUEST_SYNC(op, n);
	}
}

/* One round of @n operations; ns per operation. */
static double round_ns(struct gvm *vm, uint64_t n)
{
	uint64_t t0 = bench_now_ns(), exits = 0;
	struct gvm_exit e;
	char b[320];

	for (;;) {
		if (gvm_run(vm, 0, &e))
			FAIL("%s: RUN: %s\n", gvm_kind_name(vm->kind),
			     strerror(errno));
		if (e.reason == GVM_EXIT_UCALL && e.uc.cmd == UCALL_SYNC)
			break;
		if (e.reason == GVM_EXIT_MMIO && !e.write)
			gvm_complete_read(vm, 0, 0x5a5a5a5a);
		else if (e.reason != GVM_EXIT_IO && e.reason != GVM_EXIT_MMIO &&
			 e.reason != GVM_EXIT_HLT &&
			 e.reason != GVM_EXIT_HYPERCALL)
			FAIL("%s: unexpected exit %s\n", gvm_kind_name(vm->kind),
			     gvm_exit_str(&e, b, sizeof(b)));
		exits++;
	}
	if (exits && exits != n)
		FAIL("%s: %llu exits for %llu operations\n",
		     gvm_kind_name(vm->kind), (unsigned long long)exits,
		     (unsigned long long)n);
	return (double)(bench_now_ns() - t0) / n;
}

struct results {
	double op[NR_OPS][MAX_REPS];
	double vm_life[MAX_REPS], vcpu[MAX_REPS], slot[MAX_REPS];
	double floor[MAX_REPS];
	double io_traced[MAX_REPS];
};

/*
 * The floor: stop the hypercall guest on its first hypercall, step back
 * onto the instruction, and let the module loop on it @n times a round.
 */
static void world_switch_floor(uint64_t n, unsigned int reps, bool amd,
			       struct results *res)
{
	struct vmxl_switch_floor f;
	struct vmxl_regs regs;
	struct gvm_exit e;
	struct gvm vm;
	unsigned int r;
	uint64_t t0;

	if (n > VMXL_SWITCH_FLOOR_MAX)
		n = VMXL_SWITCH_FLOOR_MAX;
	if (gvm_create(&vm, GVM_VMXL, 1) ||
	    gvm_enter_long_mode(&vm, 0, guest_ops, OP_HCALL, n << 1 | amd))
		FAIL("vmx-lite: cannot set up the floor guest\n");
	if (gvm_run(&vm, 0, &e) || e.reason != GVM_EXIT_HYPERCALL ||
	    gvm_get_regs(&vm, 0, &regs))
		FAIL("vmx-lite: the floor guest did not make its hypercall\n");
	regs.rip -= 3;		/* VMMCALL and VMCALL are 3 bytes */
	if (gvm_set_regs(&vm, 0, &regs))
		FAIL("vmx-lite: SET_REGS: %s\n", strerror(errno));
	for (r = 0; r <= reps; r++) {
		f = (struct vmxl_switch_floor){ .count = n };
		t0 = bench_now_ns();
		if (ioctl(vm.vcpu_fd[0], VMXL_SWITCH_FLOOR, &f) || f.done != n)
			FAIL("vmx-lite: SWITCH_FLOOR: %s, %u of %llu done\n",
			     strerror(errno), f.done, (unsigned long long)n);
		if (r)	/* round 0 warms up */
			res->floor[r - 1] = (double)(bench_now_ns() - t0) / n;
	}
	gvm_destroy(&vm);
}

static int hv_ioctl(enum gvm_kind kind, int fd, unsigned long vmxl,
		    unsigned long kvm, unsigned long arg)
{
	return ioctl(fd, kind == GVM_KVM ? kvm : vmxl, arg);
}

/* Create and destroy VMs, vCPUs, slots with the raw ioctls. */
static void lifecycles(enum gvm_kind kind, unsigned int reps,
		       struct results *res)
{
	const char *dev = kind == GVM_KVM ? "/dev/kvm" : VMXL_DEV;
	int sys = open(dev, O_RDWR | O_CLOEXEC), vm, fds[8], i;
	unsigned int r;
	uint64_t t0;
	void *mem;

	if (sys < 0)
		FAIL("open %s: %s\n", dev, strerror(errno));
	mem = mmap(NULL, SLOT_BYTES, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		FAIL("mmap: %s\n", strerror(errno));
	for (r = 0; r < reps; r++) {
		t0 = bench_now_ns();
		for (i = 0; i < 8; i++) {
			vm = hv_ioctl(kind, sys, VMXL_CREATE_VM, KVM_CREATE_VM, 0);
			if (vm < 0)
				FAIL("%s: create VM: %s\n", dev, strerror(errno));
			close(vm);
		}
		res->vm_life[r] = (bench_now_ns() - t0) / 8.0;

		vm = hv_ioctl(kind, sys, VMXL_CREATE_VM, KVM_CREATE_VM, 0);
		if (vm < 0)
			FAIL("%s: create VM: %s\n", dev, strerror(errno));
		t0 = bench_now_ns();
		for (i = 0; i < 8; i++) {
			fds[i] = hv_ioctl(kind, vm, VMXL_CREATE_VCPU,
					  KVM_CREATE_VCPU, i);
			if (fds[i] < 0)
				FAIL("%s: create vCPU %d: %s\n", dev, i,
				     strerror(errno));
		}
		res->vcpu[r] = (bench_now_ns() - t0) / 8.0;
		for (i = 0; i < 8; i++)
			close(fds[i]);

		t0 = bench_now_ns();
		if (kind == GVM_KVM) {
			struct kvm_userspace_memory_region m = {
				.memory_size = SLOT_BYTES,
				.userspace_addr = (uintptr_t)mem,
			};

			if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m))
				FAIL("KVM slot: %s\n", strerror(errno));
		} else {
			struct vmxl_memory_region m = {
				.memory_size = SLOT_BYTES,
				.userspace_addr = (uintptr_t)mem,
			};

			if (ioctl(vm, VMXL_SET_MEMORY_REGION, &m))
				FAIL("vmx-lite slot: %s\n", strerror(errno));
		}
		res->slot[r] = (bench_now_ns() - t0) *
			       (double)(1ULL << 30) / SLOT_BYTES;
		close(vm);
	}
	munmap(mem, SLOT_BYTES);
	close(sys);
}

/*
 * io_exit again with every vmx_lite event on, recorded into tracefs's
 * ring: the cost of tracing. The buffer is emptied before each round, so
 * no round pays for a full ring being overwritten more than another.
 */
static void io_traced(uint64_t n, unsigned int reps, bool amd,
		      struct results *res)
{
	struct gvm vm;
	unsigned int r;
	int ret;

	if (gvm_create(&vm, GVM_VMXL, 1) ||
	    gvm_enter_long_mode(&vm, 0, guest_ops, OP_IO, n << 1 | amd))
		FAIL("vmx-lite: cannot set up the traced io guest\n");
	round_ns(&vm, n);
	for (r = 0; r < reps; r++) {
		ret = test_trace_events(true);
		if (ret)
			FAIL("vmx-lite: tracefs: %s\n", strerror(-ret));
		res->io_traced[r] = round_ns(&vm, n);
	}
	test_trace_events(false);
	gvm_destroy(&vm);
}

static void run_kind(enum gvm_kind kind, uint64_t n, unsigned int reps,
		     bool amd, struct results *res)
{
	struct gvm vm;
	unsigned int r;
	int op, ret;

	ret = gvm_hypervisor_load(kind);
	if (ret)
		FAIL("cannot load %s: %s\n", gvm_kind_name(kind), strerror(-ret));
	for (op = 0; op < NR_OPS; op++) {
		if (gvm_create(&vm, kind, 1) ||
		    gvm_enter_long_mode(&vm, 0, guest_ops, op, n << 1 | amd))
			FAIL("%s: cannot set up the guest\n", gvm_kind_name(kind));
		round_ns(&vm, n);	/* warm-up: fault pages in */
		for (r = 0; r < reps; r++)
			res->op[op][r] = round_ns(&vm, n);
		gvm_destroy(&vm);
	}
	if (kind == GVM_VMXL) {
		world_switch_floor(n, reps, amd, res);
		io_traced(n, reps, amd, res);
	}
	lifecycles(kind, reps, res);
	gvm_hypervisor_unload(kind);
}

static void report(const char *metric, const char *unit, double scale,
		   const char *ref_name, double *ref, double *vmxl,
		   unsigned int reps)
{
	struct bench_stat k = bench_stat(ref, reps), v = bench_stat(vmxl, reps);

	k.median /= scale, k.min /= scale, k.max /= scale;
	v.median /= scale, v.min /= scale, v.max /= scale;
	bench_report(metric, unit, ref_name, &k, &v);
}

/* The floor against vmx-lite's CPUID, and what each path adds to it. */
static void floor_report(struct results *vmxl, unsigned int reps)
{
	struct bench_stat fl = bench_stat(vmxl->floor, reps), c;
	int op;

	printf("# world-switch floor %.2f us; each vmx-lite path above it:\n",
	       fl.median / 1e3);
	for (op = 0; op < NR_OPS; op++) {
		c = bench_stat(vmxl->op[op], reps);
		printf("#   %-12s %6.2f us = floor + %.2f us (floor %.0f%%)\n",
		       op_names[op], c.median / 1e3,
		       (c.median - fl.median) / 1e3,
		       100 * fl.median / c.median);
	}
	report("world_switch_floor", "us/op", 1e3, "vmx-lite cpuid",
	       vmxl->op[OP_CPUID], vmxl->floor, reps);
}

int main(int argc, char **argv)
{
	static struct results kvm, vmxl;
	unsigned int reps = 7;
	uint64_t n = 2000;
	bool amd;
	int opt, op;

	while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			reps = strtoul(optarg, NULL, 0);
			break;
		default:
			printf("usage: %s [-n operations] [-r repeats (max %d)]\n",
			       argv[0], MAX_REPS);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!n || !reps || reps > MAX_REPS)
		FAIL("bad -n or -r\n");
	amd = test_cpuinfo_has("svm");
	run_kind(GVM_KVM, n, reps, amd, &kvm);
	run_kind(GVM_VMXL, n, reps, amd, &vmxl);
	printf("# %llu operations x %u rounds each; hypercall: KVM answers in the kernel\n",
	       (unsigned long long)n, reps);
	for (op = 0; op < NR_OPS; op++)
		report(op_names[op], "us/op", 1e3, "kvm", kvm.op[op], vmxl.op[op], reps);
	report("vm_create_destroy", "us/vm", 1e3, "kvm", kvm.vm_life, vmxl.vm_life, reps);
	report("vcpu_create", "us/vcpu", 1e3, "kvm", kvm.vcpu, vmxl.vcpu, reps);
	report("slot_register", "ms/GiB", 1e6, "kvm", kvm.slot, vmxl.slot, reps);
	floor_report(&vmxl, reps);
	report("io_exit_traced", "us/op", 1e3, "vmx-lite io_exit",
	       vmxl.op[OP_IO], vmxl.io_traced, reps);
	return 0;
}
