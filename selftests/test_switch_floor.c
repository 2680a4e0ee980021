// SPDX-License-Identifier: GPL-2.0
/*
 * VMXL_SWITCH_FLOOR: the in-module world-switch loop that bench_exits
 * measures as the floor under every exit path. It has no KVM
 * counterpart, so these tests run on vmx-lite alone and check what the
 * loop promises: the guest's hypercall is taken back untouched (RIP and
 * every register as they were, the guest unaware), other exits end the
 * loop as VMXL_RUN would report them, and the arguments are checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"
#include "testlib.h"

#define HCALL_NR	0x2000ULL
#define HCALL_LEN	3	/* VMMCALL 0f 01 d9, VMCALL 0f 01 c1 */

FIXTURE(floor) {
	struct gvm vm;
	struct vmxl_run *run;
	bool amd;
};

FIXTURE_SETUP(floor)
{
	GVM_LOAD_OR_SKIP(GVM_VMXL);
	ASSERT_EQ(0, gvm_create(&self->vm, GVM_VMXL, 1));
	self->run = self->vm.run[0];
	self->amd = test_cpuinfo_has("svm");
}

FIXTURE_TEARDOWN(floor)
{
	gvm_destroy(&self->vm);
	gvm_hypervisor_unload(GVM_VMXL);
}

/*
 * Report, make one hypercall with known registers, then report what the
 * hypercall returned and that the registers survived.
 */
static void guest_hypercall(uint64_t amd)
{
	uint64_t rax = HCALL_NR, rbx = 0xb0b0b0b0b0b0b0b0ULL,
		 rcx = 0xc0c0c0c0c0c0c0c0ULL, rdx = 0xd0d0d0d0d0d0d0d0ULL;

	GUEST_SYNC(1, 0);
	if (amd)
		asm volatile("vmmcall"
			     : "+a"(rax), "+b"(rbx), "+c"(rcx), "+d"(rdx)
			     : : "memory");
	else
		asm volatile("vmcall"
			     : "+a"(rax), "+b"(rbx), "+c"(rcx), "+d"(rdx)
			     : : "memory");
	GUEST_ASSERT_EQ(rbx, 0xb0b0b0b0b0b0b0b0ULL);
	GUEST_ASSERT_EQ(rcx, 0xc0c0c0c0c0c0c0c0ULL);
	GUEST_ASSERT_EQ(rdx, 0xd0d0d0d0d0d0d0d0ULL);
	GUEST_SYNC(2, rax);
}

static int floor_ioctl(struct gvm *vm, struct vmxl_switch_floor *f)
{
	return ioctl(vm->vcpu_fd[0], VMXL_SWITCH_FLOOR, f);
}

/* Run to the guest's hypercall and step back onto it. */
static void stand_on_hypercall(struct __test_metadata *_metadata,
			       FIXTURE_DATA(floor) *self,
			       struct vmxl_regs *regs)
{
	struct gvm_exit e;

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_hypercall,
					 self->amd, 0));
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_UCALL, e.reason);
	ASSERT_EQ(1, e.uc.args[0]);
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_HYPERCALL, e.reason);
	ASSERT_EQ(HCALL_NR, self->run->hypercall.nr);
	ASSERT_EQ(0xb0b0b0b0b0b0b0b0ULL, self->run->hypercall.args[0]);
	ASSERT_EQ(0, gvm_get_regs(&self->vm, 0, regs));
	regs->rip -= HCALL_LEN;
	ASSERT_EQ(0, gvm_set_regs(&self->vm, 0, regs));
}

TEST_F(floor, hypercall_taken_back_untouched)
{
	struct vmxl_switch_floor f = { .count = 1000 };
	struct vmxl_regs before, after;
	struct gvm_exit e;
	uint64_t exits;

	stand_on_hypercall(_metadata, self, &before);
	exits = self->run->exit_count;
	ASSERT_EQ(0, floor_ioctl(&self->vm, &f)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(1000, f.done);
	EXPECT_EQ(VMXL_EXIT_NONE, self->run->exit_reason);
	/* host interrupts may add exits, never remove them */
	EXPECT_LE(exits + 1000, self->run->exit_count);

	ASSERT_EQ(0, gvm_get_regs(&self->vm, 0, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))
		TH_LOG("rip %llx -> %llx, rax %llx -> %llx",
		       (unsigned long long)before.rip,
		       (unsigned long long)after.rip,
		       (unsigned long long)before.rax,
		       (unsigned long long)after.rax);

	/* Again: the loop can be repeated in place. */
	f.done = 0;
	ASSERT_EQ(0, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(1000, f.done);

	/* The next RUN executes the hypercall for real, once. */
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_HYPERCALL, e.reason);
	EXPECT_EQ(HCALL_NR, self->run->hypercall.nr);
	EXPECT_EQ(before.rip + HCALL_LEN,
		  (gvm_get_regs(&self->vm, 0, &after), after.rip));
	self->run->hypercall.ret = 0x77;
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_UCALL, e.reason);
	ASSERT_EQ(UCALL_SYNC, e.uc.cmd);
	EXPECT_EQ(2, e.uc.args[0]);
	EXPECT_EQ(0x77, e.uc.args[1]);
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	EXPECT_EQ(UCALL_DONE, e.uc.cmd);
}

/* Not at a hypercall: the first ordinary exit ends it, as RUN reports it. */
TEST_F(floor, other_exit_ends_loop)
{
	struct vmxl_switch_floor f = { .count = 10 };
	struct gvm_exit e;

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_hypercall,
					 self->amd, 0));
	ASSERT_EQ(0, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(0, f.done);
	ASSERT_EQ(VMXL_EXIT_IO, self->run->exit_reason);
	EXPECT_EQ(UCALL_PORT, self->run->io.port);
	EXPECT_EQ(VMXL_IO_OUT, self->run->io.direction);

	/* The guest goes on from there with ordinary RUNs. */
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_HYPERCALL, e.reason);
	ASSERT_EQ(0, gvm_run(&self->vm, 0, &e));
	ASSERT_EQ(GVM_EXIT_UCALL, e.reason);
	EXPECT_EQ(2, e.uc.args[0]);
	EXPECT_EQ(HCALL_NR, e.uc.args[1]);
}

TEST_F(floor, arguments_checked)
{
	struct vmxl_switch_floor f;
	struct vmxl_regs regs;
	unsigned int i;

	stand_on_hypercall(_metadata, self, &regs);
	f = (struct vmxl_switch_floor){ .count = 0 };
	EXPECT_EQ(-1, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(EINVAL, errno);
	f = (struct vmxl_switch_floor){ .count = VMXL_SWITCH_FLOOR_MAX + 1 };
	EXPECT_EQ(-1, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(EINVAL, errno);
	f = (struct vmxl_switch_floor){ .count = 1, .flags = 1 };
	EXPECT_EQ(-1, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(EINVAL, errno);
	f = (struct vmxl_switch_floor){ .count = 1, .done = 1 };
	EXPECT_EQ(-1, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(EINVAL, errno);
	for (i = 0; i < ARRAY_SIZE(f.reserved); i++) {
		f = (struct vmxl_switch_floor){ .count = 1 };
		f.reserved[i] = 1;
		EXPECT_EQ(-1, floor_ioctl(&self->vm, &f));
		EXPECT_EQ(EINVAL, errno) TH_LOG("reserved[%u]", i);
	}
	EXPECT_EQ(-1, ioctl(self->vm.vcpu_fd[0], VMXL_SWITCH_FLOOR, 8UL));
	EXPECT_EQ(EFAULT, errno);
	/* Only vCPU fds have it. */
	f = (struct vmxl_switch_floor){ .count = 1 };
	EXPECT_EQ(-1, ioctl(self->vm.vm_fd, VMXL_SWITCH_FLOOR, &f));
	EXPECT_EQ(ENOTTY, errno);

	/* immediate_exit stops it before the first entry. */
	self->run->immediate_exit = 1;
	f = (struct vmxl_switch_floor){ .count = 5 };
	EXPECT_EQ(-1, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(0, f.done);
	EXPECT_EQ(VMXL_EXIT_INTR, self->run->exit_reason);
	self->run->immediate_exit = 0;

	/* Nothing above moved the guest. */
	f = (struct vmxl_switch_floor){ .count = 3 };
	ASSERT_EQ(0, floor_ioctl(&self->vm, &f));
	EXPECT_EQ(3, f.done);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal ends a long loop with EINTR, and done says how far it got. */
TEST_F(floor, signal_interrupts)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	struct vmxl_switch_floor f = { .count = VMXL_SWITCH_FLOOR_MAX };
	struct vmxl_regs before, after;
	int ret;

	stand_on_hypercall(_metadata, self, &before);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));	/* no SA_RESTART */
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = floor_ioctl(&self->vm, &f);
	if (ret == 0)
		SKIP(return, "%u iterations took under 200 ms", f.done);
	EXPECT_EQ(EINTR, errno);
	EXPECT_LT(0, f.done);
	EXPECT_GT(VMXL_SWITCH_FLOOR_MAX, f.done);
	EXPECT_EQ(VMXL_EXIT_INTR, self->run->exit_reason);
	ASSERT_EQ(0, gvm_get_regs(&self->vm, 0, &after));
	EXPECT_EQ(before.rip, after.rip);
}

TEST_HARNESS_MAIN
