/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the guest-code library: what C functions of a test binary
 * may use while they run inside a VM (see gvm.h for the host side).
 *
 * Guest code runs in 64-bit mode, ring 0, at the same virtual addresses
 * as in the test process (the host copies the binary's image into guest
 * memory and maps it there), so functions, string literals and globals
 * can be named directly. It must not call libc: there is no libc, no TLS
 * and no system call in a guest. The first 4 GiB are identity-mapped, so
 * a guest pointer below 4 GiB is also the guest-physical address.
 *
 * Guest code reports to the host through a "ucall": an OUT to
 * UCALL_PORT with RDI pointing to a struct ucall on the guest stack.
 */
#ifndef VMXL_GUEST_H
#define VMXL_GUEST_H

#include <stdint.h>

#define UCALL_PORT	0xe0

enum ucall_cmd {
	UCALL_NONE,
	UCALL_SYNC,		/* args[0]: a stage number, args[1]: a value */
	UCALL_DONE,		/* the guest function returned or said so */
	UCALL_ASSERT,		/* args: file, line, expression, a, b */
	UCALL_EXCEPTION,	/* args: vector, error code, RIP */
};

struct ucall {
	uint64_t cmd;
	uint64_t args[6];
};

void guest_ucall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2,
		 uint64_t a3, uint64_t a4);

#define GUEST_SYNC(stage, val)	guest_ucall(UCALL_SYNC, (stage), (val), 0, 0, 0)
#define GUEST_DONE()		guest_ucall(UCALL_DONE, 0, 0, 0, 0, 0)

#define GUEST_ASSERT(cond) do {						\
	if (!(cond))							\
		guest_ucall(UCALL_ASSERT, (uint64_t)__FILE__, __LINE__,	\
			    (uint64_t)#cond, 0, 0);			\
} while (0)

#define GUEST_ASSERT_EQ(a, b) do {					\
	uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);		\
	if (__a != __b)							\
		guest_ucall(UCALL_ASSERT, (uint64_t)__FILE__, __LINE__,	\
			    (uint64_t)(#a " == " #b), __a, __b);	\
} while (0)

/* Port and MSR access, CPUID and control registers, for guest code. */
static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return lo | ((uint64_t)hi << 32);
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
		     "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void guest_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(leaf), "c"(sub));
}

/*
 * A hypercall with RAX = @nr: VMMCALL on AMD (@amd nonzero), VMCALL on
 * Intel; the other one is #UD.
 */
static inline void guest_hcall(int amd, uint64_t nr)
{
	if (amd)
		asm volatile("vmmcall" : : "a"(nr) : "rbx", "rcx", "rdx", "memory");
	else
		asm volatile("vmcall" : : "a"(nr) : "rbx", "rcx", "rdx", "memory");
}

#define GUEST_READ_CR(n) ({						\
	uint64_t __v;							\
	asm volatile("mov %%cr" #n ", %0" : "=r"(__v));			\
	__v; })

#endif
