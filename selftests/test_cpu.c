// SPDX-License-Identifier: GPL-2.0
/*
 * The CPU an OS expects (issue 18): the MSRs a kernel reads without a
 * safe accessor, CR4 bits the CPUID hides, the default CPUID topology
 * and TSC leaves, a hypercall at the top of the canonical range.
 * MSRs and CR4 run on vmx-lite and on KVM, whose answers are the spec;
 * the CPUID defaults and the canonical RIP are vmx-lite's own.
 */
#include <cpuid.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "harness.h"
#include "vnl.h"

#define DATA_GPA	0x300000ULL	/* identity-mapped RAM for guest data */

#define MSR_UCODE_REV	0x8b
#define MSR_MTRR_DEF	0x2ff
#define MSR_MISC_ENABLE	0x1a0
#define MSR_K7_EVNTSEL0	0xc0010000
#define MSR_K7_HWCR	0xc0010015
#define MSR_NB_CFG	0xc001001f
#define MSR_SYSCFG	0xc0010010

#define CR4_PCIDE	(1ULL << 17)
#define CR4_OSXSAVE	(1ULL << 18)
#define CR4_FSGSBASE	(1ULL << 16)
#define CR4_SMEP	(1ULL << 20)
#define CR4_SMAP	(1ULL << 21)
#define CR4_VMXE	(1ULL << 13)
#define CR4_LA57	(1ULL << 12)
#define CR4_PKE		(1ULL << 22)

static bool host_amd(void)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	return b == 0x68747541;	/* "Auth"enticAMD */
}

GVM_TEST_SUITE(cpu, 1);

/* ---- MSRs read without a safe accessor: as KVM answers them ---- */

static void guest_msrs(void)
{
	uint32_t i;

	wrmsr(MSR_UCODE_REV, 0);	/* what Linux does before CPUID(1) */
	GUEST_SYNC(MSR_UCODE_REV, rdmsr(MSR_UCODE_REV));
	GUEST_SYNC(MSR_NB_CFG, rdmsr(MSR_NB_CFG));
	wrmsr(MSR_NB_CFG, rdmsr(MSR_NB_CFG));
	GUEST_SYNC(MSR_SYSCFG, rdmsr(MSR_SYSCFG));
	for (i = 0; i < 8; i++) {
		GUEST_SYNC(MSR_K7_EVNTSEL0 + i, rdmsr(MSR_K7_EVNTSEL0 + i));
		wrmsr(MSR_K7_EVNTSEL0 + i, 0);
	}
	GUEST_SYNC(MSR_K7_HWCR, rdmsr(MSR_K7_HWCR));
	wrmsr(MSR_K7_HWCR, rdmsr(MSR_K7_HWCR));
	GUEST_SYNC(MSR_MTRR_DEF, rdmsr(MSR_MTRR_DEF));
	GUEST_SYNC(MSR_MISC_ENABLE, rdmsr(MSR_MISC_ENABLE));
}

TEST_F(cpu, msrs_without_safe_accessor)
{
	struct gvm_exit e;
	uint64_t got[16];
	unsigned int n = 0, i;

	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_msrs, 0, 0));
	for (;;) {
		RUN_UCALL(&self->vm, 0, &e);
		if (e.uc.cmd != UCALL_SYNC)
			break;
		ASSERT_GT(16, n);
		got[n++] = e.uc.args[1];
		TH_LOG("%s: msr %#lx = %#lx", gvm_kind_name(variant->kind),
		       (unsigned long)e.uc.args[0], (unsigned long)e.uc.args[1]);
	}
	ASSERT_EQ(UCALL_DONE, e.uc.cmd) {
		char b[320];

		TH_LOG("%s", gvm_ucall_str(&e.uc, b, sizeof(b)));
	}
	ASSERT_EQ(14, n);
	/* KVM's microcode revisions, in each vendor's half */
	EXPECT_EQ(host_amd() ? 0x01000065ULL : 0x100000000ULL, got[0]);
	EXPECT_EQ(0, got[1]);			/* NB_CFG */
	EXPECT_EQ(0, got[2]);			/* SYSCFG */
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, got[3 + i]);	/* legacy counters, no PMU */
	if (variant->kind == GVM_VMXL) {
		/* TscFreqSel (KVM 6.1 says 0; KVM since 6.6 sets it too) */
		EXPECT_EQ(1ULL << 24, got[11]);
		EXPECT_EQ(0x806, got[12]);	/* MTRRs on, default WB */
		EXPECT_EQ(1, got[13]);		/* fast strings */
	}
}

/* ---- CR4 bits the CPUID hides: #GP ---- */

/* A table that hides XSAVE, PCID, VMX, FSGSBASE, SMEP, SMAP, PKU, LA57. */
static unsigned int hiding_cpuid(struct vmxl_cpuid_entry *t)
{
	static const uint32_t leaves[] = {
		0, 1, 7, 0x80000000, 0x80000001, 0x80000008,
	};
	unsigned int i, n = 0;

	memset(t, 0, sizeof(*t) * ARRAY_SIZE(leaves));
	for (i = 0; i < ARRAY_SIZE(leaves); i++, n++) {
		t[n].function = leaves[i];
		t[n].flags = leaves[i] == 7 ? VMXL_CPUID_FLAG_INDEXED : 0;
		__cpuid_count(leaves[i], 0, t[n].eax, t[n].ebx, t[n].ecx,
			      t[n].edx);
		switch (leaves[i]) {
		case 0:
			t[n].eax = 7;
			break;
		case 1:
			t[n].ecx &= ~((1U << 5) | (1U << 17) | (1U << 26) |
				      (1U << 27));
			break;
		case 7:
			t[n].eax = 0;
			t[n].ebx &= ~((1U << 0) | (1U << 7) | (1U << 20));
			t[n].ecx &= ~((1U << 3) | (1U << 16));
			t[n].edx = 0;
			break;
		case 0x80000000:
			t[n].eax = 0x80000008;
			break;
		}
	}
	return n;
}

extern const char guest_cr4_rip[];

static void guest_set_cr4(uint64_t bit)
{
	uint64_t cr4 = GUEST_READ_CR(4) | bit;

	asm volatile(".global guest_cr4_rip\nguest_cr4_rip: mov %0, %%cr4"
		     : : "r"(cr4) : "memory");
	GUEST_DONE();
}

TEST_F(cpu, cr4_bits_cpuid_hides_gp)
{
	static const uint64_t hidden[] = {
		CR4_OSXSAVE, CR4_PCIDE, CR4_VMXE, CR4_FSGSBASE, CR4_SMEP,
		CR4_SMAP, CR4_PKE, CR4_LA57,
	};
	struct vmxl_cpuid_entry t[8];
	struct gvm_exit e;
	unsigned int i, n = hiding_cpuid(t);

	for (i = 0; i < ARRAY_SIZE(hidden); i++) {
		gvm_destroy(&self->vm);
		ASSERT_EQ(0, gvm_create(&self->vm, variant->kind, 1));
		ASSERT_EQ(0, gvm_set_cpuid(&self->vm, 0, t, n));
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_set_cr4,
						 hidden[i], 0));
		RUN_UCALL(&self->vm, 0, &e);
		ASSERT_EQ(UCALL_EXCEPTION, e.uc.cmd)
			TH_LOG("CR4 bit %#llx", (unsigned long long)hidden[i]);
		EXPECT_EQ(13, e.uc.args[0]);
		EXPECT_EQ(0, e.uc.args[1]);
		EXPECT_EQ((uint64_t)guest_cr4_rip, e.uc.args[2]);
	}
	/* A bit the guest may set (already set: OSFXSR) goes through. */
	gvm_destroy(&self->vm);
	ASSERT_EQ(0, gvm_create(&self->vm, variant->kind, 1));
	ASSERT_EQ(0, gvm_set_cpuid(&self->vm, 0, t, n));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_set_cr4,
					 1ULL << 9, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_DONE);
}

/* ---- vmx-lite's own: default CPUID, canonical RIP, unknown MSRs ---- */

FIXTURE(vcpu) {
	struct gvm vm;
	struct vmxl_caps caps;
};

FIXTURE_SETUP(vcpu)
{
	if (!gvm_test_setup(_metadata, &self->vm, GVM_VMXL, NULL, 2))
		return;
	memset(&self->caps, 0, sizeof(self->caps));
	ASSERT_EQ(0, ioctl(self->vm.sys_fd, VMXL_GET_CAPS, &self->caps));
}

FIXTURE_TEARDOWN(vcpu)
{
	gvm_test_teardown(&self->vm, GVM_VMXL);
}

static const uint32_t probe_leaves[][2] = {
	{ 0, 0 }, { 1, 0 }, { 4, 0 }, { 4, 1 }, { 4, 2 }, { 4, 3 },
	{ 0xb, 0 }, { 0xb, 1 }, { 0xe, 0 }, { 0xf, 0 }, { 0x10, 0 },
	{ 0x11, 0 }, { 0x12, 0 }, { 0x13, 0 }, { 0x14, 0 }, { 0x15, 0 },
	{ 0x16, 0 }, { 0x80000000, 0 }, { 0x80000007, 0 },
	{ 0x80000008, 0 }, { 0x8000001e, 0 },
};
#define NR_PROBES	ARRAY_SIZE(probe_leaves)

static void guest_cpuid_probe(uint64_t out)
{
	uint32_t (*r)[4] = (uint32_t (*)[4])out;
	unsigned int i;

	for (i = 0; i < NR_PROBES; i++)
		guest_cpuid(probe_leaves[i][0], probe_leaves[i][1], r[i]);
}

static const uint32_t *leaf(uint32_t (*r)[4], uint32_t fn, uint32_t sub)
{
	unsigned int i;

	for (i = 0; i < NR_PROBES; i++)
		if (probe_leaves[i][0] == fn && probe_leaves[i][1] == sub)
			return r[i];
	abort();
}

TEST_F(vcpu, default_cpuid_topology_and_tsc)
{
	uint32_t max_vcpus = self->caps.max_vcpus, shift = 0;
	uint32_t (*r)[4];
	const uint32_t *l;
	struct gvm_exit e;
	uint64_t out;
	int cpu;

	while ((1U << shift) < max_vcpus && shift < 8)
		shift++;
	ASSERT_NE(0, self->caps.tsc_khz);
	for (cpu = 0; cpu < 2; cpu++) {
		out = DATA_GPA + cpu * 4096;
		r = gvm_gpa(&self->vm, out, NR_PROBES * 16);
		ASSERT_NE(NULL, r);
		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, cpu,
						 guest_cpuid_probe, out, 0));
		ASSERT_UCALL(&self->vm, cpu, &e, UCALL_DONE);

		/* Leaf 1: APIC ID = vCPU id, 2^shift IDs per package, HTT */
		l = leaf(r, 1, 0);
		EXPECT_EQ((uint32_t)cpu, l[1] >> 24);
		EXPECT_EQ(1U << shift, (l[1] >> 16) & 0xff);
		EXPECT_TRUE(l[3] & (1U << 28));
		EXPECT_EQ(0, (l[1] >> 24) >> shift);	/* package 0 */
		/* Invariant TSC */
		EXPECT_TRUE(leaf(r, 0x80000007, 0)[3] & (1U << 8));
		/* Leaf 4: cores per package */
		l = leaf(r, 4, 0);
		if (l[0] & 0x1f)
			EXPECT_EQ((1U << shift) - 1, l[0] >> 26);
		if (leaf(r, 0, 0)[0] >= 0xb) {
			l = leaf(r, 0xb, 0);
			EXPECT_EQ(0, l[0]);
			EXPECT_EQ(1, l[1]);
			EXPECT_EQ(0x100, l[2]);
			EXPECT_EQ((uint32_t)cpu, l[3]);
			l = leaf(r, 0xb, 1);
			EXPECT_EQ(shift, l[0]);
			EXPECT_EQ(0x201, l[2]);
			EXPECT_EQ((uint32_t)cpu, l[3]);
		}
		if (host_amd()) {
			EXPECT_GE(0xd, leaf(r, 0, 0)[0]);
			l = leaf(r, 0x80000008, 0);
			EXPECT_EQ(((1U << shift) - 1) | shift << 12, l[2]);
			if (leaf(r, 0x80000000, 0)[0] >= 0x8000001e) {
				l = leaf(r, 0x8000001e, 0);
				EXPECT_EQ((uint32_t)cpu, l[0]);
				EXPECT_EQ((uint32_t)cpu, l[1] & 0xff);
				EXPECT_EQ(0, l[2]);
			}
			TH_LOG("AMD: max ext %#x, 0x80000008.ecx %#x",
			       leaf(r, 0x80000000, 0)[0],
			       leaf(r, 0x80000008, 0)[2]);
		} else {
			uint32_t fn;

			EXPECT_EQ(0x16, leaf(r, 0, 0)[0]);
			for (fn = 0xe; fn <= 0x14; fn++) {
				l = leaf(r, fn, 0);
				EXPECT_EQ(0, l[0] | l[1] | l[2] | l[3])
					TH_LOG("leaf %#x", fn);
			}
			l = leaf(r, 0x15, 0);
			ASSERT_NE(0, l[0]);
			EXPECT_EQ(self->caps.tsc_khz * 1000,
				  (uint64_t)l[2] * l[1] / l[0]);
			/* Linux computes crystal kHz * EBX in 32 bits */
			EXPECT_GE(0xffffffffULL, (uint64_t)(l[2] / 1000) * l[1]);
			TH_LOG("Intel: 0x15 %u/%u x %u Hz, 0x16 %u MHz",
			       l[1], l[0], l[2], leaf(r, 0x16, 0)[0]);
			l = leaf(r, 0x16, 0);
			EXPECT_EQ(self->caps.tsc_khz / 1000, l[0]);
		}
	}
}

#define TOP_CODE_VA	0x00007ffffffffffdULL

/* Map the last page of the lower canonical half to @gpa. */
static int map_top_page(struct gvm *vm, uint64_t gpa)
{
	uint64_t t = vm->pml4, *ent, va = TOP_CODE_VA & ~0xfffULL;
	int level;

	for (level = 3; level >= 1; level--) {
		ent = gvm_gpa(vm, t + 8 * ((va >> (12 + 9 * level)) & 511), 8);
		if (!ent)
			return -1;
		if (!(*ent & 1)) {
			*ent = vm->next_page | 3;
			vm->next_page += 4096;
		}
		t = *ent & 0x000ffffffffff000ULL;
	}
	ent = gvm_gpa(vm, t + 8 * ((va >> 12) & 511), 8);
	if (!ent)
		return -1;
	*ent = gpa | 3;
	return 0;
}

static void guest_nothing(void)
{
}

TEST_F(vcpu, hypercall_at_canonical_top_keeps_rip_canonical)
{
	static const uint8_t vmmcall[] = { 0x0f, 0x01, 0xd9 };
	static const uint8_t vmcall[] = { 0x0f, 0x01, 0xc1 };
	struct vmxl_regs regs;
	struct gvm_exit e;
	uint8_t *code;

	code = gvm_gpa(&self->vm, DATA_GPA + 0xffd, 3);
	ASSERT_NE(NULL, code);
	memcpy(code, host_amd() ? vmmcall : vmcall, 3);
	ASSERT_EQ(0, map_top_page(&self->vm, DATA_GPA));
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_nothing, 0, 0));
	ASSERT_EQ(0, gvm_get_regs(&self->vm, 0, &regs));
	regs.rip = TOP_CODE_VA;
	regs.rax = 1;
	ASSERT_EQ(0, gvm_set_regs(&self->vm, 0, &regs));
	/* Not a hypercall exit: #GP(0) at the instruction, RIP canonical. */
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_EXCEPTION);
	EXPECT_EQ(13, e.uc.args[0]);
	EXPECT_EQ(0, e.uc.args[1]);
	EXPECT_EQ(TOP_CODE_VA, e.uc.args[2]);
}

static void guest_unknown_msrs(void)
{
	wrmsr(0x12345, 0xabcd);	/* #GP: the handler reports, then halts */
}

static void guest_unknown_rdmsr(void)
{
	rdmsr(0x12346);
}

TEST_F(vcpu, unknown_msr_counted)
{
	struct vnl_vcpu v[2];
	struct gvm_exit e;
	struct vnl nl;
	int vm_id, n;

	vm_id = ioctl(self->vm.vm_fd, VMXL_GET_VM_ID, 0);
	ASSERT_LT(0, vm_id);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_unknown_msrs,
					 0, 0));
	ASSERT_UCALL(&self->vm, 0, &e, UCALL_EXCEPTION);
	EXPECT_EQ(13, e.uc.args[0]);
	ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 1, guest_unknown_rdmsr,
					 0, 0));
	ASSERT_UCALL(&self->vm, 1, &e, UCALL_EXCEPTION);
	EXPECT_EQ(13, e.uc.args[0]);

	ASSERT_EQ(0, vnl_open(&nl));
	n = vnl_dump_vcpus(&nl, vm_id, v, 2);
	ASSERT_EQ(2, n);
	EXPECT_EQ(1, v[0].stats[VMXL_STAT_MSR_UNKNOWN]);
	EXPECT_EQ(1, v[1].stats[VMXL_STAT_MSR_UNKNOWN]);
	/* Known MSRs (the ucall's none) do not count. */
	EXPECT_LE(1, v[0].stats[VMXL_STAT_MSR]);
	vnl_close(&nl);
}

TEST_HARNESS_MAIN
