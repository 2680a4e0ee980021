/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin helpers over the raw vmx-lite ioctls, for tests that drive the
 * API directly (hand-assembled real-mode guests, error paths).
 */
#ifndef VMXL_UTIL_H
#define VMXL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vmx_lite.h>

struct rvm {
	int sys_fd;
	int vm_fd;
	int vcpu_fd;
	struct vmxl_run *run;
	uint8_t *mem;		/* guest-physical 0 .. mem_size */
	size_t mem_size;
};

/*
 * A VM with one slot of @mem_size bytes at GPA 0 and one vCPU in real
 * mode with CS base 0, IP @rip. Returns 0 or -errno.
 */
int rvm_create(struct rvm *vm, size_t mem_size, uint64_t rip);
void rvm_destroy(struct rvm *vm);
/*
 * 16-bit guest code assembled into the test binary: name_start[] to
 * name_end[] hold the bytes of @body, for rvm_load().
 */
#define GUEST(name, body)						\
	extern const uint8_t name##_start[], name##_end[];		\
	asm(".pushsection .rodata\n.code16\n"				\
	    #name "_start:\n" body "\n" #name "_end:\n"			\
	    ".code64\n.popsection\n")

/* Copy code to GPA @gpa. */
void rvm_load(struct rvm *vm, uint64_t gpa, const void *code, size_t len);
/* VMXL_RUN; returns 0 or -errno. */
int rvm_run(struct rvm *vm);
int rvm_regs(struct rvm *vm, struct vmxl_regs *regs);
/* Object counters from /sys/class/misc/vmx-lite/objects; -1 if missing. */
long vmxl_objects(const char *name);

#endif
