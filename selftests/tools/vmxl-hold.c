// SPDX-License-Identifier: GPL-2.0
/*
 * vmxl-hold: make a VM for monitors to look at (the vmxmon bats tests),
 * through the raw uapi, and keep it alive.
 *
 *   vmxl-hold [--vcpus N] [--mem MiB] [--slots N] [--dirty-log]
 *             [--exits N] [--triple-fault | --loop]
 *
 * Creates a VM with --mem MiB of RAM at guest-physical 0 split into
 * --slots equal slots and --vcpus vCPUs in real mode, then runs every
 * vCPU through a hand-assembled guest at 0x1000:
 *
 *   default         N times "out %al,$0x80", then hlt (vCPU halted)
 *   --triple-fault  N times out, then int3 with an empty IDT: a triple
 *                   fault, checked to end RUN with VMXL_EXIT_SHUTDOWN
 *   --loop          out forever: after N (at least 1) exits per vCPU the
 *                   vCPUs keep running until vmxl-hold ends
 *
 * Then prints "ready vm=<id>" (the netlink id, VMXL_GET_VM_ID) and waits
 * until standard input reaches its end (or a signal ends it); closing
 * the VM's fds destroys it. Exit status 0, or 1 with a message on error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vmx_lite.h>

#define CODE_GPA	0x1000
#define PAGE		4096UL

struct vcpu {
	int fd;
	struct vmxl_run *run;
};

static void die(const char *what)
{
	fprintf(stderr, "vmxl-hold: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmxl-hold [--vcpus N] [--mem MiB] [--slots N] [--dirty-log]\n"
		   "                 [--exits N] [--triple-fault | --loop]\n");
}

static unsigned long num(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "vmxl-hold: bad number '%s' (%lu..%lu)\n", s,
			min, max);
		exit(2);
	}
	return v;
}

/* Guest code: [mov $n,%cx; 1: out %al,$0x80; loop 1b;] hlt or int3. */
static size_t assemble(uint8_t *p, unsigned long exits, bool triple, bool loop)
{
	size_t n = 0;

	if (loop) {
		p[n++] = 0xe6;	/* 1: out %al, $0x80 */
		p[n++] = 0x80;
		p[n++] = 0xeb;	/* jmp 1b */
		p[n++] = 0xfc;
		return n;
	}
	if (exits) {
		p[n++] = 0xb9;	/* mov $exits, %cx */
		p[n++] = exits & 0xff;
		p[n++] = exits >> 8;
		p[n++] = 0xe6;	/* 1: out %al, $0x80 */
		p[n++] = 0x80;
		p[n++] = 0xe2;	/* loop 1b */
		p[n++] = 0xfc;
	}
	p[n++] = triple ? 0xcc : 0xf4;	/* int3 : hlt */
	p[n++] = 0xf4;
	return n;
}

/* One RUN; returns the exit reason, dies on anything but I/O and the end. */
static unsigned int run_once(struct vcpu *v, unsigned int id)
{
	unsigned int r;

	if (ioctl(v->fd, VMXL_RUN, 0))
		die("VMXL_RUN");
	r = v->run->exit_reason;
	if (r == VMXL_EXIT_IO && v->run->io.port == 0x80 &&
	    v->run->io.direction == VMXL_IO_OUT)
		return r;
	if (r == VMXL_EXIT_HLT || r == VMXL_EXIT_SHUTDOWN)
		return r;
	fprintf(stderr, "vmxl-hold: vCPU %u: unexpected exit reason %u\n", id, r);
	exit(1);
}

/* True once standard input is at its end (or unreadable). */
static bool stdin_closed(int timeout_ms)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	char buf[256];
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	n = read(0, buf, sizeof(buf));
	return n <= 0 && !(n < 0 && errno == EINTR);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "slots", required_argument, NULL, 's' },
		{ "exits", required_argument, NULL, 'e' },
		{ "dirty-log", no_argument, NULL, 'd' },
		{ "triple-fault", no_argument, NULL, 't' },
		{ "loop", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long nvcpus = 1, mib = 1, nslots = 1, exits = 0, i, k;
	bool dirty = false, triple = false, loop = false;
	struct vmxl_caps caps = { 0 };
	struct vcpu *vcpus;
	uint8_t code[16];
	size_t slot_size, len;
	int sys, vm, id, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			nvcpus = num(optarg, 1, 255);
			break;
		case 'm':
			mib = num(optarg, 1, 4096);
			break;
		case 's':
			nslots = num(optarg, 1, 64);
			break;
		case 'e':
			exits = num(optarg, 0, 65535);
			break;
		case 'd':
			dirty = true;
			break;
		case 't':
			triple = true;
			break;
		case 'l':
			loop = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	slot_size = (mib << 20) / nslots & ~(PAGE - 1);
	if (optind < argc || (triple && loop) || slot_size < 2 * PAGE) {
		usage(stderr);
		return 2;
	}
	if (loop && !exits)
		exits = 1;

	sys = open("/dev/vmx-lite", O_RDWR | O_CLOEXEC);
	if (sys < 0)
		die("open /dev/vmx-lite");
	if (ioctl(sys, VMXL_GET_CAPS, &caps))
		die("VMXL_GET_CAPS");
	vm = ioctl(sys, VMXL_CREATE_VM, 0);
	if (vm < 0)
		die("VMXL_CREATE_VM");
	for (i = 0; i < nslots; i++) {
		struct vmxl_memory_region mr = { 0 };
		void *mem = mmap(NULL, slot_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (mem == MAP_FAILED)
			die("mmap guest memory");
		if (!i) {
			len = assemble(code, exits, triple, loop);
			memcpy((uint8_t *)mem + CODE_GPA, code, len);
		}
		mr.slot = i;
		mr.flags = dirty ? VMXL_MEM_LOG_DIRTY : 0;
		mr.guest_phys_addr = i * slot_size;
		mr.memory_size = slot_size;
		mr.userspace_addr = (uintptr_t)mem;
		if (ioctl(vm, VMXL_SET_MEMORY_REGION, &mr))
			die("VMXL_SET_MEMORY_REGION");
	}

	vcpus = calloc(nvcpus, sizeof(*vcpus));
	if (!vcpus)
		die("calloc");
	for (i = 0; i < nvcpus; i++) {
		struct vmxl_sregs sregs;
		struct vmxl_regs regs;
		struct vcpu *v = &vcpus[i];

		v->fd = ioctl(vm, VMXL_CREATE_VCPU, i);
		if (v->fd < 0)
			die("VMXL_CREATE_VCPU");
		v->run = mmap(NULL, caps.run_mmap_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			die("mmap the run page");
		if (ioctl(v->fd, VMXL_GET_SREGS, &sregs))
			die("VMXL_GET_SREGS");
		sregs.cs.base = 0;
		sregs.cs.selector = 0;
		if (triple)
			sregs.idt.limit = 0;	/* empty IVT: int3 triple-faults */
		if (ioctl(v->fd, VMXL_SET_SREGS, &sregs))
			die("VMXL_SET_SREGS");
		if (ioctl(v->fd, VMXL_GET_REGS, &regs))
			die("VMXL_GET_REGS");
		regs.rip = CODE_GPA;
		regs.rsp = 0x800;
		if (ioctl(v->fd, VMXL_SET_REGS, &regs))
			die("VMXL_SET_REGS");
	}

	for (i = 0; i < nvcpus; i++) {
		unsigned int want = triple ? VMXL_EXIT_SHUTDOWN : VMXL_EXIT_HLT;
		unsigned int r = 0;

		if (loop) {
			for (k = 0; k < exits; k++)
				run_once(&vcpus[i], i);
			continue;
		}
		for (k = 0; k <= exits; k++) {
			r = run_once(&vcpus[i], i);
			if (r != VMXL_EXIT_IO)
				break;
		}
		if (k != exits || r != want) {
			fprintf(stderr, "vmxl-hold: vCPU %lu: exit reason %u after %lu I/O exits, expected %u after %lu\n",
				i, r, k, want, exits);
			return 1;
		}
	}

	id = ioctl(vm, VMXL_GET_VM_ID, 0);
	if (id < 0)
		die("VMXL_GET_VM_ID");
	printf("ready vm=%d\n", id);
	fflush(stdout);

	if (loop) {
		for (k = 0; !(k % 64 == 0 && stdin_closed(0)); k++)
			for (i = 0; i < nvcpus; i++)
				run_once(&vcpus[i], i);
	} else {
		while (!stdin_closed(-1))
			;
	}
	return 0;
}
