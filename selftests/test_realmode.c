// SPDX-License-Identifier: GPL-2.0
/*
 * Real-mode guests, assembled into this binary with .code16 and copied
 * to guest-physical 0x1000: every exit reason and in-kernel handler seen
 * from the smallest possible guest. The IVT at 0 sends every vector to a
 * stub at 0x3000 + 8 * vector that reports the vector on port 0xE8.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "testlib.h"
#include "vmxl_util.h"

#define CODE_GPA	0x1000
#define VEC_PORT	0xe8
#define MEM_SIZE	0x10000		/* 64 KiB of RAM; above it is MMIO */

#define load_guest(vm, name)						\
	rvm_load(vm, CODE_GPA, name##_start, name##_end - name##_start)

/* One 8-byte stub per vector: mov $vec,%al; out %al,$0xe8; hlt; iret. */
static void install_ivt(struct rvm *vm)
{
	int v;

	for (v = 0; v < 256; v++) {
		uint8_t *stub = vm->mem + 0x3000 + 8 * v;
		uint16_t *ivt = (uint16_t *)(vm->mem + 4 * v);

		stub[0] = 0xb0;
		stub[1] = v;
		stub[2] = 0xe6;
		stub[3] = VEC_PORT;
		stub[4] = 0xf4;
		stub[5] = 0xcf;
		ivt[0] = 0x3000 + 8 * v;	/* offset */
		ivt[1] = 0;			/* segment */
	}
}

FIXTURE(rm) {
	struct rvm vm;
	struct vmxl_caps caps;
};

FIXTURE_SETUP(rm)
{
	int fd;

	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	fd = open(VMXL_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	memset(&self->caps, 0, sizeof(self->caps));
	ASSERT_EQ(0, ioctl(fd, VMXL_GET_CAPS, &self->caps));
	close(fd);
	if (self->caps.backend_status != VMXL_STATUS_OK)
		SKIP(return, "no backend that runs guests");
	ASSERT_EQ(0, rvm_create(&self->vm, MEM_SIZE, CODE_GPA));
	install_ivt(&self->vm);
}

FIXTURE_TEARDOWN(rm)
{
	rvm_destroy(&self->vm);
	test_module_unload("vmx_lite");
}

/* Run and expect a port I/O exit with these properties. */
#define EXPECT_IO(vm, dir, sz, p)					\
	do {								\
		ASSERT_EQ(0, rvm_run(vm));				\
		ASSERT_EQ(VMXL_EXIT_IO, (vm)->run->exit_reason);	\
		EXPECT_EQ(dir, (vm)->run->io.direction);		\
		EXPECT_EQ(sz, (vm)->run->io.size);			\
		EXPECT_EQ(p, (vm)->run->io.port);			\
	} while (0)

static uint32_t io_data(struct rvm *vm)
{
	uint32_t v = 0;

	memcpy(&v, vm->run->io.data, vm->run->io.size);
	return v;
}

static void io_set(struct rvm *vm, uint32_t v)
{
	memcpy(vm->run->io.data, &v, vm->run->io.size);
}

GUEST(g_io,
	"mov $0x42, %al\n out %al, $0x10\n"
	"mov $0x1234, %ax\n out %ax, $0x11\n"
	"mov $0x89abcdef, %eax\n out %eax, $0x12\n"
	"mov $0x3f8, %dx\n mov $0x7e, %al\n out %al, (%dx)\n"
	"in $0x20, %al\n mov %al, (0x2000)\n"
	"in $0x21, %ax\n mov %ax, (0x2002)\n"
	"in $0x22, %eax\n mov %eax, (0x2004)\n"
	"hlt\n");

TEST_F(rm, port_io_each_size)
{
	struct rvm *vm = &self->vm;
	struct vmxl_regs regs;

	load_guest(vm, g_io);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x10);
	EXPECT_EQ(0x42, io_data(vm));
	EXPECT_EQ(0, vm->run->io.string);
	EXPECT_IO(vm, VMXL_IO_OUT, 2, 0x11);
	EXPECT_EQ(0x1234, io_data(vm));
	EXPECT_IO(vm, VMXL_IO_OUT, 4, 0x12);
	EXPECT_EQ(0x89abcdef, io_data(vm));
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x3f8);
	EXPECT_EQ(0x7e, io_data(vm));
	EXPECT_IO(vm, VMXL_IO_IN, 1, 0x20);
	io_set(vm, 0xa5);
	EXPECT_IO(vm, VMXL_IO_IN, 2, 0x21);
	io_set(vm, 0xbeef);
	EXPECT_IO(vm, VMXL_IO_IN, 4, 0x22);
	io_set(vm, 0xdeadc0de);
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_HLT, vm->run->exit_reason);
	EXPECT_EQ(0xa5, vm->mem[0x2000]);
	EXPECT_EQ(0xbeef, *(uint16_t *)(vm->mem + 0x2002));
	EXPECT_EQ(0xdeadc0de, *(uint32_t *)(vm->mem + 0x2004));
	ASSERT_EQ(0, rvm_regs(vm, &regs));
	EXPECT_EQ(CODE_GPA + (g_io_end - g_io_start), regs.rip);
	EXPECT_EQ(0xdeadc0de, regs.rax);
}

GUEST(g_str,
	"cld\n"
	"mov $0x2000, %si\n mov $3, %cx\n mov $0x40, %dx\n"
	"rep outsb\n"
	"mov $0x2100, %di\n mov $2, %cx\n mov $0x41, %dx\n"
	"rep insw\n"
	"outsb\n"
	"hlt\n");

TEST_F(rm, string_io_rep)
{
	struct rvm *vm = &self->vm;
	struct vmxl_regs regs;
	int i;

	load_guest(vm, g_str);
	memcpy(vm->mem + 0x2000, "abcd", 4);
	for (i = 0; i < 3; i++) {
		EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x40);
		EXPECT_EQ(1, vm->run->io.string);
		EXPECT_EQ(1, vm->run->io.rep);
		EXPECT_EQ("abc"[i], io_data(vm));
	}
	for (i = 0; i < 2; i++) {
		EXPECT_IO(vm, VMXL_IO_IN, 2, 0x41);
		io_set(vm, 0x1111 * (i + 1));
	}
	/* a lone OUTSB continues from where REP OUTSB left SI */
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x41);
	EXPECT_EQ(0, vm->run->io.rep);
	EXPECT_EQ('d', io_data(vm));
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_HLT, vm->run->exit_reason);
	EXPECT_EQ(0x1111, *(uint16_t *)(vm->mem + 0x2100));
	EXPECT_EQ(0x2222, *(uint16_t *)(vm->mem + 0x2102));
	ASSERT_EQ(0, rvm_regs(vm, &regs));
	EXPECT_EQ(0, regs.rcx & 0xffff);
	EXPECT_EQ(0x2104, regs.rdi & 0xffff);
	EXPECT_EQ(0x2004, regs.rsi & 0xffff);
}

/* DS = 0x1000 puts offsets at 0x10000 + off: past RAM, so MMIO. */
GUEST(g_mmio,
	"mov $0x1000, %bx\n mov %bx, %ds\n"
	"movb $0x5a, (0x10)\n"
	"movw (0x20), %ax\n out %ax, $0x30\n"
	"movzbw (0x40), %cx\n mov %cx, %ax\n out %ax, $0x31\n"
	"movsbw (0x41), %dx\n mov %dx, %ax\n out %ax, $0x32\n"
	"mov $0x12345678, %esi\n mov %esi, (0x50)\n"
	"hlt\n");

/* NOT of device memory is beyond the decoder: report it, never guess. */
GUEST(g_mmio_add,
	"mov $0x1000, %bx\n mov %bx, %ds\n"
	"notb (0x10)\n hlt\n");

TEST_F(rm, mmio_undecodable_internal_error)
{
	struct rvm *vm = &self->vm;
	struct vmxl_regs regs;

	load_guest(vm, g_mmio_add);
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_INTERNAL_ERROR, vm->run->exit_reason);
	EXPECT_EQ(VMXL_INTERNAL_EMULATION, vm->run->internal.suberror);
	ASSERT_LE(4, vm->run->internal.ninsn);
	/* f6 16 10 00: notb (0x10) */
	EXPECT_EQ(0xf6, vm->run->internal.insn[0]);
	EXPECT_EQ(0x16, vm->run->internal.insn[1]);
	EXPECT_EQ(0x10, vm->run->internal.insn[2]);
	EXPECT_EQ(0x00, vm->run->internal.insn[3]);
	EXPECT_EQ(0x10010, vm->run->internal.data[0]);	/* the GPA */
	/* Nothing was executed past it. */
	ASSERT_EQ(0, rvm_regs(vm, &regs));
	EXPECT_EQ(CODE_GPA + 5, regs.rip);
}

TEST_F(rm, mmio_decoded)
{
	struct rvm *vm = &self->vm;

	load_guest(vm, g_mmio);
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_MMIO, vm->run->exit_reason);
	EXPECT_EQ(0x10010, vm->run->mmio.phys_addr);
	EXPECT_EQ(1, vm->run->mmio.len);
	EXPECT_EQ(1, vm->run->mmio.is_write);
	EXPECT_EQ(0x5a, vm->run->mmio.data[0]);

	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_MMIO, vm->run->exit_reason);
	EXPECT_EQ(0x10020, vm->run->mmio.phys_addr);
	EXPECT_EQ(2, vm->run->mmio.len);
	EXPECT_EQ(0, vm->run->mmio.is_write);
	vm->run->mmio.data[0] = 0xef;
	vm->run->mmio.data[1] = 0xbe;
	EXPECT_IO(vm, VMXL_IO_OUT, 2, 0x30);
	EXPECT_EQ(0xbeef, io_data(vm));

	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_MMIO, vm->run->exit_reason);
	EXPECT_EQ(0x10040, vm->run->mmio.phys_addr);
	EXPECT_EQ(1, vm->run->mmio.len);
	vm->run->mmio.data[0] = 0xff;
	EXPECT_IO(vm, VMXL_IO_OUT, 2, 0x31);
	EXPECT_EQ(0x00ff, io_data(vm));

	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_MMIO, vm->run->exit_reason);
	EXPECT_EQ(0x10041, vm->run->mmio.phys_addr);
	vm->run->mmio.data[0] = 0x80;
	EXPECT_IO(vm, VMXL_IO_OUT, 2, 0x32);
	EXPECT_EQ(0xff80, io_data(vm));

	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_MMIO, vm->run->exit_reason);
	EXPECT_EQ(0x10050, vm->run->mmio.phys_addr);
	EXPECT_EQ(4, vm->run->mmio.len);
	EXPECT_EQ(1, vm->run->mmio.is_write);
	EXPECT_EQ(0x12345678, *(uint32_t *)vm->run->mmio.data);

	ASSERT_EQ(0, rvm_run(vm));
	EXPECT_EQ(VMXL_EXIT_HLT, vm->run->exit_reason);
}

/* Writes to a read-only slot exit as MMIO; reads come from the slot. */
GUEST(g_rom,
	"mov $0x1000, %bx\n mov %bx, %ds\n"
	"movb (0x0), %al\n out %al, $0x33\n"
	"movb $0x99, (0x1)\n"
	"hlt\n");

TEST_F(rm, readonly_slot)
{
	struct rvm *vm = &self->vm;
	struct vmxl_memory_region mr = {
		.slot = 1, .flags = VMXL_MEM_READONLY,
		.guest_phys_addr = 0x10000, .memory_size = 0x1000,
	};
	uint8_t *rom;

	rom = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rom);
	rom[0] = 0x3c;
	rom[1] = 0x11;
	mr.userspace_addr = (uintptr_t)rom;
	ASSERT_EQ(0, ioctl(vm->vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	load_guest(vm, g_rom);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x33);
	EXPECT_EQ(0x3c, io_data(vm));
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_MMIO, vm->run->exit_reason);
	EXPECT_EQ(0x10001, vm->run->mmio.phys_addr);
	EXPECT_EQ(1, vm->run->mmio.is_write);
	EXPECT_EQ(0x99, vm->run->mmio.data[0]);
	ASSERT_EQ(0, rvm_run(vm));
	EXPECT_EQ(VMXL_EXIT_HLT, vm->run->exit_reason);
	EXPECT_EQ(0x11, rom[1]);	/* untouched */
	munmap(rom, 0x1000);
}

GUEST(g_cpuid,
	"xor %eax, %eax\n cpuid\n"
	"mov %ebx, (0x2000)\n mov %edx, (0x2004)\n mov %ecx, (0x2008)\n"
	"mov %eax, (0x200c)\n"
	"mov $1, %eax\n cpuid\n mov %ecx, (0x2010)\n mov %ebx, (0x2014)\n"
	"mov $0x40000000, %eax\n cpuid\n"
	"mov %ebx, (0x2020)\n mov %ecx, (0x2024)\n"
	"mov $0x80000001, %eax\n cpuid\n mov %ecx, (0x2030)\n"
	"hlt\n");

TEST_F(rm, cpuid_in_kernel)
{
	struct rvm *vm = &self->vm;
	unsigned int a, b, c, d;
	uint32_t ecx1;

	load_guest(vm, g_cpuid);
	ASSERT_EQ(0, rvm_run(vm));
	/* all CPUID exits were handled in the kernel */
	ASSERT_EQ(VMXL_EXIT_HLT, vm->run->exit_reason);
	__cpuid(0, a, b, c, d);
	EXPECT_EQ(b, *(uint32_t *)(vm->mem + 0x2000));
	EXPECT_EQ(d, *(uint32_t *)(vm->mem + 0x2004));
	EXPECT_EQ(c, *(uint32_t *)(vm->mem + 0x2008));
	EXPECT_GE(a, *(uint32_t *)(vm->mem + 0x200c));
	ecx1 = *(uint32_t *)(vm->mem + 0x2010);
	EXPECT_NE(0, ecx1 & (1U << 31));	/* hypervisor present */
	EXPECT_EQ(0, ecx1 & (1U << 5));		/* no VMX */
	EXPECT_EQ(0, ecx1 & (1U << 26));	/* no XSAVE */
	EXPECT_EQ(0, *(uint32_t *)(vm->mem + 0x2014) >> 24); /* APIC id 0 */
	EXPECT_EQ(0, memcmp(vm->mem + 0x2020, "vmx-lite", 8));
	EXPECT_EQ(0, *(uint32_t *)(vm->mem + 0x2030) & (1U << 2)); /* no SVM */
}

GUEST(g_msr,
	"mov $0x277, %ecx\n rdmsr\n mov %eax, (0x2000)\n mov %edx, (0x2004)\n"
	"mov $0xc0000081, %ecx\n mov $0x11223344, %eax\n mov $0x55667788, %edx\n"
	"wrmsr\n xor %eax, %eax\n xor %edx, %edx\n rdmsr\n"
	"mov %eax, (0x2008)\n mov %edx, (0x200c)\n"
	"mov $0x12345, %ecx\n rdmsr\n"
	"hlt\n");

TEST_F(rm, msr_in_kernel_and_gp)
{
	struct rvm *vm = &self->vm;

	load_guest(vm, g_msr);
	/* the unknown MSR raises #GP: vector 13 reports on VEC_PORT */
	EXPECT_IO(vm, VMXL_IO_OUT, 1, VEC_PORT);
	EXPECT_EQ(13, io_data(vm));
	EXPECT_EQ(0x00070406, *(uint32_t *)(vm->mem + 0x2000));
	EXPECT_EQ(0x00070406, *(uint32_t *)(vm->mem + 0x2004));
	EXPECT_EQ(0x11223344, *(uint32_t *)(vm->mem + 0x2008));
	EXPECT_EQ(0x55667788, *(uint32_t *)(vm->mem + 0x200c));
}

GUEST(g_vmmcall, "mov $7, %eax\n mov $1, %ebx\n mov $2, %ecx\n vmmcall\n"
	"out %eax, $0x60\n hlt\n");
GUEST(g_vmcall, "mov $7, %eax\n mov $1, %ebx\n mov $2, %ecx\n vmcall\n"
	"out %eax, $0x60\n hlt\n");

TEST_F(rm, hypercall)
{
	struct rvm *vm = &self->vm;

	if (self->caps.backend == VMXL_BACKEND_SVM)
		load_guest(vm, g_vmmcall);
	else
		load_guest(vm, g_vmcall);
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_HYPERCALL, vm->run->exit_reason);
	EXPECT_EQ(7, vm->run->hypercall.nr);
	EXPECT_EQ(1, vm->run->hypercall.args[0]);
	EXPECT_EQ(2, vm->run->hypercall.args[1]);
	vm->run->hypercall.ret = 0x1234abcd;
	EXPECT_IO(vm, VMXL_IO_OUT, 4, 0x60);
	EXPECT_EQ(0x1234abcd, io_data(vm));
}

GUEST(g_virt_insn, "vmrun\n hlt\n");
GUEST(g_vmx_insn, "vmxon (0x2000)\n hlt\n");

TEST_F(rm, virtualization_insn_ud)
{
	struct rvm *vm = &self->vm;

	load_guest(vm, g_virt_insn);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, VEC_PORT);
	EXPECT_EQ(6, io_data(vm));
	rvm_destroy(vm);
	ASSERT_EQ(0, rvm_create(vm, MEM_SIZE, CODE_GPA));
	install_ivt(vm);
	load_guest(vm, g_vmx_insn);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, VEC_PORT);
	EXPECT_EQ(6, io_data(vm));
}

GUEST(g_int3, "int3\n hlt\n");

TEST_F(rm, triple_fault_shutdown)
{
	struct rvm *vm = &self->vm;
	struct vmxl_sregs sregs;

	/* An empty IVT turns the first interrupt into a triple fault. */
	ASSERT_EQ(0, ioctl(vm->vcpu_fd, VMXL_GET_SREGS, &sregs));
	sregs.idt.limit = 0;
	ASSERT_EQ(0, ioctl(vm->vcpu_fd, VMXL_SET_SREGS, &sregs));
	load_guest(vm, g_int3);
	ASSERT_EQ(0, rvm_run(vm));
	EXPECT_EQ(VMXL_EXIT_SHUTDOWN, vm->run->exit_reason);
	/* stays shut down until userspace gives it new state */
	ASSERT_EQ(0, rvm_run(vm));
	EXPECT_EQ(VMXL_EXIT_SHUTDOWN, vm->run->exit_reason);
}

GUEST(g_hlt, "hlt\n out %al, $0x61\n hlt\n");

TEST_F(rm, hlt_then_resume)
{
	struct rvm *vm = &self->vm;
	struct vmxl_regs regs;

	load_guest(vm, g_hlt);
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_HLT, vm->run->exit_reason);
	ASSERT_EQ(0, rvm_regs(vm, &regs));
	EXPECT_EQ(CODE_GPA + 1, regs.rip);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x61);
}

static void on_alarm(int sig)
{
	(void)sig;
}

GUEST(g_spin, "1: jmp 1b\n");

TEST_F(rm, signal_breaks_spinning_guest)
{
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct rvm *vm = &self->vm;
	struct vmxl_regs regs;
	int i;

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));	/* no SA_RESTART */
	load_guest(vm, g_spin);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
		EXPECT_EQ(-EINTR, rvm_run(vm));
		EXPECT_EQ(VMXL_EXIT_INTR, vm->run->exit_reason);
		ASSERT_EQ(0, rvm_regs(vm, &regs));
		EXPECT_EQ(CODE_GPA, regs.rip);
	}
	signal(SIGALRM, SIG_DFL);
}

TEST_F(rm, immediate_exit)
{
	struct rvm *vm = &self->vm;
	__u64 exits;

	load_guest(vm, g_spin);
	vm->run->immediate_exit = 1;
	exits = vm->run->exit_count;
	EXPECT_EQ(-EINTR, rvm_run(vm));
	EXPECT_EQ(VMXL_EXIT_INTR, vm->run->exit_reason);
	EXPECT_EQ(exits, vm->run->exit_count);	/* never entered */
	vm->run->immediate_exit = 0;
}

GUEST(g_window, "cli\n out %al, $0x14\n sti\n nop\n 1: jmp 1b\n");

TEST_F(rm, interrupt_window_and_injection)
{
	struct vmxl_interrupt irq = { .vector = 0x20 };
	struct rvm *vm = &self->vm;

	load_guest(vm, g_window);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x14);
	EXPECT_EQ(0, vm->run->if_flag);
	EXPECT_EQ(0, vm->run->ready_for_interrupt_injection);
	EXPECT_EQ(-1, ioctl(vm->vcpu_fd, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(EAGAIN, errno);

	vm->run->request_interrupt_window = 1;
	ASSERT_EQ(0, rvm_run(vm));
	ASSERT_EQ(VMXL_EXIT_IRQ_WINDOW_OPEN, vm->run->exit_reason);
	EXPECT_EQ(1, vm->run->if_flag);
	EXPECT_EQ(1, vm->run->ready_for_interrupt_injection);
	vm->run->request_interrupt_window = 0;

	ASSERT_EQ(0, ioctl(vm->vcpu_fd, VMXL_INTERRUPT, &irq));
	/* one at a time */
	EXPECT_EQ(-1, ioctl(vm->vcpu_fd, VMXL_INTERRUPT, &irq));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, VEC_PORT);
	EXPECT_EQ(0x20, io_data(vm));
}

GUEST(g_nmi, "cli\n out %al, $0x14\n 1: jmp 1b\n");

TEST_F(rm, nmi_ignores_if)
{
	struct rvm *vm = &self->vm;

	load_guest(vm, g_nmi);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, 0x14);
	ASSERT_EQ(0, ioctl(vm->vcpu_fd, VMXL_NMI, 0));
	EXPECT_EQ(-1, ioctl(vm->vcpu_fd, VMXL_NMI, 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_IO(vm, VMXL_IO_OUT, 1, VEC_PORT);
	EXPECT_EQ(2, io_data(vm));
}

/* Each vCPU counts to 20000 in its own word, then reports. */
GUEST(g_count,
	"mov $20000, %cx\n"
	"1: incw (%bx)\n loop 1b\n"
	"mov %bx, %ax\n out %ax, $0x70\n hlt\n");

struct vcpu_thread {
	int fd;
	struct vmxl_run *run;
	int ret;
};

static void *vcpu_thread_fn(void *arg)
{
	struct vcpu_thread *t = arg;

	t->ret = ioctl(t->fd, VMXL_RUN, 0) ? -errno : 0;
	return NULL;
}

TEST_F(rm, two_vcpus_at_once)
{
	struct rvm *vm = &self->vm;
	struct vcpu_thread t[2];
	pthread_t th[2];
	int i;

	load_guest(vm, g_count);
	t[0].fd = vm->vcpu_fd;
	t[0].run = vm->run;
	t[1].fd = ioctl(vm->vm_fd, VMXL_CREATE_VCPU, 1);
	ASSERT_LE(0, t[1].fd);
	t[1].run = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			t[1].fd, 0);
	ASSERT_NE(MAP_FAILED, t[1].run);
	for (i = 0; i < 2; i++) {
		struct vmxl_sregs sregs;
		struct vmxl_regs regs;

		ASSERT_EQ(0, ioctl(t[i].fd, VMXL_GET_SREGS, &sregs));
		sregs.cs.base = 0;
		sregs.cs.selector = 0;
		ASSERT_EQ(0, ioctl(t[i].fd, VMXL_SET_SREGS, &sregs));
		ASSERT_EQ(0, ioctl(t[i].fd, VMXL_GET_REGS, &regs));
		regs.rip = CODE_GPA;
		regs.rbx = 0x2000 + 2 * i;
		ASSERT_EQ(0, ioctl(t[i].fd, VMXL_SET_REGS, &regs));
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, vcpu_thread_fn, &t[i]));
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, t[i].ret);
		EXPECT_EQ(VMXL_EXIT_IO, t[i].run->exit_reason);
		EXPECT_EQ(0x2000 + 2 * i, *(uint16_t *)t[i].run->io.data);
		EXPECT_EQ(20000, *(uint16_t *)(vm->mem + 0x2000 + 2 * i));
	}
	munmap(t[1].run, 4096);
	close(t[1].fd);
}

/* Spins until the byte at GPA 0x10000 reads 0x5a, then reports. */
GUEST(g_wait_5a,
	"mov $0x1000, %bx\n mov %bx, %ds\n"
	"1: cmpb $0x5a, (0x0)\n jne 1b\n"
	"out %al, $0x15\n hlt\n");

static void on_usr1(int sig)
{
	(void)sig;
}

/* A signal that ends RUN in @th, with nothing restarted. */
static void catch_usr1(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * Slot 1 is replaced while the vCPU spins on it in another thread: the
 * module must kick it out, rebuild its nested tables and flush its TLB,
 * so that the guest sees the new memory without ever leaving RUN.
 */
TEST_F(rm, slot_replaced_while_vcpu_runs)
{
	struct vmxl_memory_region mr = {
		.slot = 1, .guest_phys_addr = 0x10000, .memory_size = 0x1000,
	};
	struct rvm *vm = &self->vm;
	struct vcpu_thread t = { .fd = vm->vcpu_fd, .run = vm->run };
	uint8_t *a, *b;
	pthread_t th;
	int i;

	a = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = a + 0x1000;
	b[0] = 0x5a;
	mr.userspace_addr = (uintptr_t)a;
	ASSERT_EQ(0, ioctl(vm->vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	load_guest(vm, g_wait_5a);
	catch_usr1();
	ASSERT_EQ(0, pthread_create(&th, NULL, vcpu_thread_fn, &t));
	/* Let it spin through many exits-free iterations on slot "a". */
	usleep(300000);
	mr.userspace_addr = (uintptr_t)b;
	ASSERT_EQ(0, ioctl(vm->vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	/* The guest must now leave by itself; a signal ends a hang. */
	for (i = 0; i < 100 && t.run->exit_reason != VMXL_EXIT_IO; i++)
		usleep(100000);
	if (t.run->exit_reason != VMXL_EXIT_IO)
		pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	EXPECT_EQ(0, t.ret);
	EXPECT_EQ(VMXL_EXIT_IO, t.run->exit_reason);
	EXPECT_EQ(0x15, t.run->io.port);
	EXPECT_EQ(0, a[0]);
	munmap(a, 0x2000);
}

/*
 * The VM fd goes away while a vCPU is inside RUN: the VM lives on until
 * the last vCPU fd closes, then everything is freed.
 */
TEST_F(rm, vm_fd_closed_while_vcpu_runs)
{
	struct rvm *vm = &self->vm;
	struct vcpu_thread t = { .fd = vm->vcpu_fd, .run = vm->run };
	pthread_t th;

	ASSERT_EQ(1, vmxl_objects("vms"));
	load_guest(vm, g_spin);
	catch_usr1();
	ASSERT_EQ(0, pthread_create(&th, NULL, vcpu_thread_fn, &t));
	usleep(200000);
	close(vm->vm_fd);
	vm->vm_fd = -1;
	close(vm->sys_fd);
	vm->sys_fd = -1;
	usleep(100000);
	EXPECT_EQ(1, vmxl_objects("vms"));
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, t.ret);
	EXPECT_EQ(VMXL_EXIT_INTR, t.run->exit_reason);
	rvm_destroy(vm);		/* the vCPU fd and run page: the last refs */
	EXPECT_EQ(0, vmxl_objects("vms"));
	EXPECT_EQ(0, vmxl_objects("vcpus"));
	EXPECT_EQ(0, vmxl_objects("pinned_pages"));
	EXPECT_EQ(0, vmxl_objects("table_pages"));
}

TEST_HARNESS_MAIN
