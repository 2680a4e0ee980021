// SPDX-License-Identifier: GPL-2.0
/*
 * Long-mode guests written as C functions of this binary (lib/gvm.h).
 * Every test runs twice in the same boot: on vmx-lite and on KVM, so the
 * guest library itself is checked against the reference hypervisor.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"

#define DATA_GPA	0x300000ULL	/* identity-mapped RAM for guest data */
#define UNMAPPED_VA	0x100000000000ULL

GVM_TEST_SUITE(lm, 2);

static void guest_sync_loop(uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		GUEST_SYNC(i, i * 3);
}

TEST_F(lm, sync_then_done)
{
	struct gvm_exit e;
	int i;

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_sync_loop, 5, 0));
	for (i = 0; i < 5; i++) {
		ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
		EXPECT_EQ((uint64_t)i, e.uc.args[0]);
		EXPECT_EQ((uint64_t)i * 3, e.uc.args[1]);
	}
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_DONE);
}

static void guest_assert_42(uint64_t x)
{
	GUEST_ASSERT_EQ(x, 42);
	GUEST_DONE();
}

TEST_F(lm, guest_assert_reports_file_line_values)
{
	struct gvm_exit e;

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_assert_42, 41, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_ASSERT);
	EXPECT_NE(NULL, strstr((const char *)e.uc.args[0], "test_longmode.c"));
	EXPECT_STREQ("x == 42", (const char *)e.uc.args[2]);
	EXPECT_EQ(41, e.uc.args[3]);
	EXPECT_EQ(42, e.uc.args[4]);
}

/* Globals are copied into the guest when the VM is made. */
static volatile uint64_t host_global = 0x1234;

static void guest_memory(uint64_t gpa)
{
	volatile uint8_t *p = (volatile uint8_t *)gpa;
	unsigned int i;

	GUEST_ASSERT_EQ(host_global, 0x5678);
	for (i = 0; i < 4096; i++) {
		GUEST_ASSERT_EQ(p[i], (uint8_t)(i * 7));	/* host wrote it */
		p[i + 4096] = (uint8_t)(i ^ 0xa5);
	}
}

TEST_F(lm, memory_both_ways)
{
	struct gvm_exit e;
	uint8_t *p;
	int i;

	gvm_destroy(&self->vm);
	host_global = 0x5678;
	ASSERT_EQ(0, gvm_create(&self->vm, variant->kind, 1));
	p = gvm_gpa(&self->vm, DATA_GPA, 8192);
	ASSERT_NE(NULL, p);
	for (i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 7);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_memory, DATA_GPA, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_DONE);
	for (i = 0; i < 4096; i++) {
		ASSERT_EQ((uint8_t)(i ^ 0xa5), p[4096 + i]) TH_LOG("byte %d", i);
	}
}

extern const char guest_ud2_rip[], guest_pf_rip[], guest_gp_rip[],
	guest_de_rip[];

static void guest_fault(uint64_t which)
{
	switch (which) {
	case 0:
		asm volatile(".global guest_ud2_rip\nguest_ud2_rip: ud2");
		break;
	case 1:
		asm volatile(".global guest_pf_rip\nguest_pf_rip: mov (%0), %%al"
			     : : "r"(UNMAPPED_VA) : "rax", "memory");
		break;
	case 2:
		asm volatile(".global guest_gp_rip\nguest_gp_rip: rdmsr"
			     : : "c"(0x12345) : "rax", "rdx");
		break;
	case 3:
		asm volatile("xor %%edx, %%edx\n.global guest_de_rip\n"
			     "guest_de_rip: divl %0" : : "r"(0), "a"(1) : "rdx");
		break;
	}
	GUEST_DONE();
}

TEST_F(lm, exceptions_report_vector_error_rip)
{
	static const struct {
		int vector;
		uint64_t error;
		const char *rip;
	} cases[] = {
		{ 6, 0, guest_ud2_rip },
		{ 14, 0, guest_pf_rip },	/* not present, read, ring 0 */
		{ 13, 0, guest_gp_rip },	/* unknown MSR */
		{ 0, 0, guest_de_rip },
	};
	struct vmxl_sregs s;
	struct gvm_exit e;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_fault, i, 0));
		ASSERT_UCALL(&self->vm, 0, &e, UCALL_EXCEPTION);
		EXPECT_EQ((uint64_t)cases[i].vector, e.uc.args[0]);
		EXPECT_EQ(cases[i].error, e.uc.args[1]);
		EXPECT_EQ((uint64_t)cases[i].rip, e.uc.args[2]);
		if (cases[i].vector == 14) {
			ASSERT_EQ(0, gvm_get_sregs(&self->vm, 0, &s));
			EXPECT_EQ(UNMAPPED_VA, s.cr2);
		}
	}
}

/*
 * Real mode to long mode by the guest itself: GDT, PAE, CR3, EFER.LME,
 * CR0.PG, far jump, LTR; then on to a C function (see gvm.h).
 */
extern const uint8_t rm2lm_start[], rm2lm_end[];
asm(".pushsection .rodata\n"
    ".code16\n"
    "rm2lm_start:\n"
    "  cli\n"
    "  lgdtl 0x7000\n"
    "  mov %cr4, %eax\n"
    "  or $0x620, %eax\n"		/* PAE OSFXSR OSXMMEXCPT */
    "  mov %eax, %cr4\n"
    "  mov 0x7010, %eax\n"
    "  mov %eax, %cr3\n"
    "  mov $0xc0000080, %ecx\n"
    "  rdmsr\n"
    "  or $0x100, %eax\n"		/* EFER.LME */
    "  wrmsr\n"
    "  mov %cr0, %eax\n"
    "  and $0x9fffffff, %eax\n"		/* caches on: clear CD NW */
    "  or $0x80010023, %eax\n"		/* PG WP NE MP PE */
    "  mov %eax, %cr0\n"
    "  ljmpl $0x8, $(0x8000 + rm2lm_64 - rm2lm_start)\n"
    ".code64\n"
    "rm2lm_64:\n"
    "  mov $0x10, %eax\n"
    "  mov %eax, %ds\n"
    "  mov %eax, %es\n"
    "  mov %eax, %ss\n"
    "  mov %eax, %fs\n"
    "  mov %eax, %gs\n"
    "  mov $0x18, %eax\n"
    "  ltr %ax\n"
    "  mov 0x7020, %rsp\n"
    "  mov 0x7028, %rdi\n"
    "  jmp *0x7018\n"
    "rm2lm_end:\n"
    ".popsection\n");

static void guest_in_long_mode(uint64_t magic)
{
	uint16_t cs, tr;

	asm volatile("mov %%cs, %0; str %1" : "=r"(cs), "=r"(tr));
	GUEST_ASSERT_EQ(magic, 0xfeedface);
	GUEST_ASSERT_EQ(cs, 0x08);
	GUEST_ASSERT_EQ(tr, 0x18);
	GUEST_SYNC(1, GUEST_READ_CR(0));
	GUEST_SYNC(2, GUEST_READ_CR(4));
	GUEST_SYNC(3, rdmsr(0xc0000080));
}

TEST_F(lm, real_mode_switches_to_long_mode)
{
	struct vmxl_sregs s;
	struct gvm_exit e;

	ASSERT_EQ(0, gvm_enter_real_mode(&self->vm, 0, rm2lm_start,
					 rm2lm_end - rm2lm_start,
					 guest_in_long_mode, 0xfeedface));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(0x80010033, e.uc.args[1] & 0xe005003f);	/* ET is fixed */
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(0x620, e.uc.args[1]);
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_SYNC);
	EXPECT_EQ(0x500, e.uc.args[1] & 0xd01);			/* LME LMA */
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_DONE);

	/* And the host sees the same state. */
	ASSERT_EQ(0, gvm_get_sregs(&self->vm, 0, &s));
	EXPECT_EQ(0x500, s.efer & 0xd01);
	EXPECT_EQ(1, s.cs.l);
	EXPECT_EQ(0x08, s.cs.selector);
	EXPECT_EQ(11, s.tr.type);	/* LTR marked it busy */
}

struct vcpu_thread {
	struct gvm *vm;
	int cpu;
	int syncs;
	int failed;		/* the -errno of RUN, or 1 for a wrong exit */
	struct gvm_exit last;
};

static void *vcpu_loop(void *arg)
{
	struct vcpu_thread *t = arg;
	struct gvm_exit e;
	int ret;

	for (;;) {
		ret = gvm_run(t->vm, t->cpu, &e);
		t->last = e;
		if (ret || e.reason != GVM_EXIT_UCALL) {
			t->failed = ret ? ret : 1;
			break;
		}
		if (e.uc.cmd == UCALL_DONE)
			break;
		if (e.uc.cmd != UCALL_SYNC || e.uc.args[0] != (uint64_t)t->syncs ||
		    e.uc.args[1] != (uint64_t)t->syncs * 3) {
			t->failed = 1;
			break;
		}
		t->syncs++;
	}
	return NULL;
}

TEST_F(lm, two_vcpus_in_parallel)
{
	struct vcpu_thread t[2];
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++) {
		t[i] = (struct vcpu_thread){ .vm = &self->vm, .cpu = i };
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, i, guest_sync_loop,
						 300 + 100 * i, 0));
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, vcpu_loop, &t[i]));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 2; i++) {
		char b[320];

		EXPECT_EQ(0, t[i].failed)
			TH_LOG("vCPU %d: %s", i,
			       gvm_exit_str(&t[i].last, b, sizeof(b)));
		EXPECT_EQ(300 + 100 * i, t[i].syncs);
	}
}

TEST_HARNESS_MAIN
