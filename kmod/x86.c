// SPDX-License-Identifier: GPL-2.0
/*
 * The x86 work both vendors share, as NetBSD NVMM keeps it apart from its
 * machine-independent core: the CPUID table, the MSR policy, the checks a
 * register state must pass, the reset state and guest FPU switching. The
 * exits both vendors finish the same way are in x86_exit.c. Nothing here
 * touches a VMCB or VMCS.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/msr-index.h>
#include <asm/processor.h>
#include <asm/tsc.h>

#include "vmxl.h"
#include "trace.h"

/* CPUID                                                              */
/* ------------------------------------------------------------------ */

/*
 * Features a guest may see, by allow-list: anything the module does not
 * virtualize (VMX/SVM, XSAVE and AVX state, APIC, monitoring, PMU) stays
 * hidden even on CPUs newer than this code.
 */
#define CPUID1_ECX_OK	(BIT(0) | BIT(1) | BIT(9) | BIT(13) | BIT(19) | \
			 BIT(20) | BIT(22) | BIT(23) | BIT(25) | BIT(30))
#define CPUID1_EDX_OK	(GENMASK(6, 0) | BIT(8) | GENMASK(13, 11) | \
			 GENMASK(17, 15) | BIT(19) | GENMASK(26, 23))
#define CPUID7_EBX_OK	(BIT(0) | BIT(3) | BIT(7) | BIT(8) | BIT(9) | \
			 BIT(18) | BIT(19) | BIT(20) | BIT(23) | BIT(24) | \
			 BIT(29))
#define CPUID_X1_ECX_OK	(BIT(0) | BIT(5) | BIT(6) | BIT(8))
/* AMD repeats leaf 1's EDX bits here; add SYSCALL, NX, 1G pages, LM. */
#define CPUID_X1_EDX_OK	((CPUID1_EDX_OK & 0x0183ffff) | BIT(11) | \
			 BIT(20) | BIT(22) | BIT(26) | BIT(29))
#define CPUID_HYPERVISOR	BIT(31)
#define CPUID1_EDX_HTT		BIT(28)
#define CPUID1_EDX_APIC		BIT(9)
#define CPUID6_EAX_ARAT		BIT(2)	/* the APIC timer runs in deep C-states */
#define CPUID_X7_EDX_INVTSC	BIT(8)	/* invariant TSC */

/*
 * The default topology, as Firecracker normalises it: one vCPU per core,
 * one thread per core, the VM one package, APIC ID = vCPU id. The package
 * has room for max_vcpus cores: 2^shift APIC IDs.
 */
static u32 topo_shift(void)
{
	u32 shift = 0;

	while (shift < 8 && BIT(shift) < vmxl_caps.max_vcpus)
		shift++;
	return shift;
}

static bool host_is_amd(void)
{
	return boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	       boot_cpu_data.x86_vendor == X86_VENDOR_HYGON;
}

/* Highest basic leaf: Intel gets the TSC leaves 0x15/0x16 (see below). */
static u32 cpuid_max_basic(void)
{
	if (!host_is_amd() && tsc_khz)
		return 0x16;
	return min(cpuid_eax(0), 0xdU);
}

static u32 cpuid_max_ext(void)
{
	return min(cpuid_eax(0x80000000),
		   host_is_amd() ? 0x8000001eU : 0x80000008U);
}

/*
 * CPUID 0x15: TSC = crystal (ECX Hz) * EBX / EAX. Linux multiplies the
 * crystal's kHz by EBX in 32 bits, so the crystal is the TSC rate itself,
 * divided by the smallest divisor of 1000 that makes it fit in ECX.
 */
static void cpuid_tsc_leaf(struct vmxl_cpuid_entry *e)
{
	static const u32 div[] = { 1, 2, 4, 5, 8, 10, 20, 25, 40, 50 };
	u64 hz = (u64)tsc_khz * 1000;
	unsigned int i;

	e->eax = 0;
	e->ebx = 0;
	e->ecx = 0;
	e->edx = 0;

	for (i = 0; i < ARRAY_SIZE(div); i++) {
		if (hz / div[i] <= U32_MAX) {
			e->eax = 1;
			e->ebx = div[i];
			e->ecx = hz / div[i];
			return;
		}
	}
}

static void cpuid_add(struct vmxl_cpuid_entry *out, u32 *n, u32 max,
		      u32 fn, u32 idx, u32 flags)
{
	struct vmxl_cpuid_entry *e;

	if (*n >= max)
		return;
	e = &out[(*n)++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->flags = flags;
	cpuid_count(fn, idx, &e->eax, &e->ebx, &e->ecx, &e->edx);

	switch (fn) {
	case 0:
		e->eax = cpuid_max_basic();
		break;
	case 1:
		/* APIC ID (per vCPU) and the package's logical count */
		e->ebx = (e->ebx & 0x0000ffff) | (BIT(topo_shift()) << 16);
		e->ecx = (e->ecx & CPUID1_ECX_OK) | CPUID_HYPERVISOR;
		e->edx = (e->edx & CPUID1_EDX_OK) | CPUID1_EDX_HTT;
		break;
	case 7:
		if (idx == 0) {
			e->eax = 0;
			e->ebx &= CPUID7_EBX_OK;
		} else {
			e->ebx = 0;
		}
		e->ecx = 0;
		e->edx = 0;
		break;
	case 2:
		break;
	case 4:
		/* Cores per package; L1/L2 per core, L3 per package. */
		if (!(e->eax & 0x1f))
			break;
		e->eax &= 0x3ff;
		e->eax |= (BIT(topo_shift()) - 1) << 26;
		if (((e->eax >> 5) & 7) >= 3)
			e->eax |= (BIT(topo_shift()) - 1) << 14;
		break;
	case 0xb:
		/* Level 0: SMT, one thread; level 1: the cores. */
		e->eax = idx ? topo_shift() : 0;
		e->ebx = idx ? BIT(topo_shift()) : 1;
		e->ecx = idx ? (idx | 2 << 8) : (1 << 8);
		e->edx = 0;		/* x2APIC ID: per vCPU */
		if (idx > 1) {
			e->eax = 0;
			e->ebx = 0;
			e->ecx = idx;
		}
		break;
	case 0x15:
		cpuid_tsc_leaf(e);
		break;
	case 0x16:
		/* Base and maximum MHz: the TSC's; no bus frequency. */
		e->eax = tsc_khz / 1000;
		e->ebx = tsc_khz / 1000;
		e->ecx = 0;
		e->edx = 0;
		break;
	case 0x80000000:
		e->eax = cpuid_max_ext();
		break;
	case 0x80000001:
		e->ecx &= CPUID_X1_ECX_OK;
		e->edx &= CPUID_X1_EDX_OK;
		break;
	case 0x80000002 ... 0x80000006:
		break;
	case 0x80000007:
		/* Invariant TSC: the guest's runs at the host's fixed rate. */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = 0;
		e->edx = CPUID_X7_EDX_INVTSC;
		break;
	case 0x80000008:
		e->eax &= 0xffff;	/* address sizes */
		e->ebx = 0;
		/* AMD: cores per package - 1, APIC ID bits for them */
		e->ecx = host_is_amd() ? (BIT(topo_shift()) - 1) |
					 topo_shift() << 12 : 0;
		e->edx = 0;
		break;
	case 0x40000000:
		/* "vmx-lite" signature, no further hypervisor leaves */
		e->eax = 0x40000000;
		memcpy(&e->ebx, "vmx-", 4);
		memcpy(&e->ecx, "lite", 4);
		e->edx = 0;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = 0;
		e->edx = 0;
	}
}

/* The default table: the host's leaves, filtered. Returns entries used. */
int vmxl_default_cpuid(struct vmxl_cpuid_entry *out, u32 max)
{
	u32 n = 0, fn, basic, ext, i;

	basic = cpuid_max_basic();
	for (fn = 0; fn <= basic; fn++) {
		if (fn == 4) {
			for (i = 0; i < 8; i++)
				cpuid_add(out, &n, max, fn, i,
					  VMXL_CPUID_FLAG_INDEXED);
		} else if (fn == 7 || fn == 0xb || fn == 0xd) {
			cpuid_add(out, &n, max, fn, 0, VMXL_CPUID_FLAG_INDEXED);
			cpuid_add(out, &n, max, fn, 1, VMXL_CPUID_FLAG_INDEXED);
		} else {
			cpuid_add(out, &n, max, fn, 0, 0);
		}
	}
	cpuid_add(out, &n, max, 0x40000000, 0, 0);
	ext = cpuid_max_ext();
	for (fn = 0x80000000; fn <= ext; fn++)
		cpuid_add(out, &n, max, fn, 0, 0);
	return n;
}

/* The per-vCPU parts of the default table: APIC IDs, core id. */
void vmxl_cpuid_set_apic_id(struct vmxl_vcpu *vcpu)
{
	struct vmxl_cpuid_entry *e;
	u32 i;

	for (i = 0; i < vcpu->nr_cpuid; i++) {
		e = &vcpu->cpuid[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffff) | (vcpu->id << 24);
			break;
		case 0xb:
			e->edx = vcpu->id;
			break;
		case 0x8000001e:	/* AMD, zeros by default: one node */
			e->eax = vcpu->id;
			e->ebx = vcpu->id & 0xff;
			break;
		}
	}
}

static const struct vmxl_cpuid_entry *
cpuid_find(const struct vmxl_vcpu *vcpu, u32 fn, u32 idx)
{
	u32 i;

	for (i = 0; i < vcpu->nr_cpuid; i++) {
		const struct vmxl_cpuid_entry *c = &vcpu->cpuid[i];

		if (c->function == fn &&
		    (!(c->flags & VMXL_CPUID_FLAG_INDEXED) || c->index == idx))
			return c;
	}
	return NULL;
}

/*
 * CR4 bits the vCPU's CPUID table hides: setting one faults (#GP), as on
 * a CPU without the feature. KVM's list (__cr4_reserved_bits()).
 */
u64 vmxl_cr4_hidden(const struct vmxl_vcpu *vcpu)
{
	static const struct {
		u32 fn, reg, bit;	/* reg: 1 EBX, 2 ECX, 3 EDX */
		u64 cr4;
	} deps[] = {
		{ 1, 2, 5, X86_CR4_VMXE },
		{ 1, 2, 17, X86_CR4_PCIDE },
		{ 1, 2, 26, X86_CR4_OSXSAVE },
		{ 7, 1, 0, X86_CR4_FSGSBASE },
		{ 7, 1, 7, X86_CR4_SMEP },
		{ 7, 1, 20, X86_CR4_SMAP },
		{ 7, 2, 2, X86_CR4_UMIP },
		{ 7, 2, 3, X86_CR4_PKE },
		{ 7, 2, 16, X86_CR4_LA57 },
	};
	const struct vmxl_cpuid_entry *e;
	u64 hidden = 0;
	unsigned int i;
	u32 val;

	for (i = 0; i < ARRAY_SIZE(deps); i++) {
		e = cpuid_find(vcpu, deps[i].fn, 0);
		val = !e ? 0 : deps[i].reg == 1 ? e->ebx :
		      deps[i].reg == 2 ? e->ecx : e->edx;
		if (!(val & BIT(deps[i].bit)))
			hidden |= deps[i].cr4;
	}
	return hidden;
}

void vmxl_emulate_cpuid(struct vmxl_vcpu *vcpu)
{
	u32 fn = vcpu->regs[0], idx = vcpu->regs[1];
	const struct vmxl_cpuid_entry *e = cpuid_find(vcpu, fn, idx);
	/* A leaf not in the table reads as zeros (AMD's rule). */
	vcpu->regs[0] = e ? e->eax : 0;
	vcpu->regs[3] = e ? e->ebx : 0;
	vcpu->regs[1] = e ? e->ecx : 0;
	vcpu->regs[2] = e ? e->edx : 0;
	/* CPUID.1:EDX.APIC follows APIC_BASE.EN (SDM 10.4.3) */
	if (fn == 1 && vcpu->lapic &&
	    !(vcpu->apic_base & MSR_IA32_APICBASE_ENABLE))
		vcpu->regs[2] &= ~(u64)CPUID1_EDX_APIC;
}

u32 vmxl_cpuid_leaf1_ecx(const struct vmxl_vcpu *vcpu)
{
	const struct vmxl_cpuid_entry *e = cpuid_find(vcpu, 1, 0);

	return e ? e->ecx : 0;
}

void vmxl_cpuid_add_lapic(struct vmxl_vcpu *vcpu)
{
	struct vmxl_cpuid_entry *e;
	u32 i;

	for (i = 0; i < vcpu->nr_cpuid; i++) {
		e = &vcpu->cpuid[i];
		if (e->function == 1) {
			e->edx |= CPUID1_EDX_APIC;
			e->ecx |= CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE;
		} else if (e->function == 6) {
			e->eax |= CPUID6_EAX_ARAT;
		}
	}
}

int vmxl_cpuid_copy_in(struct vmxl_vcpu *vcpu, void __user *argp)
{
	struct vmxl_cpuid_entry *tab;
	struct vmxl_cpuid c;
	u32 i;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags)
		return -EINVAL;
	if (c.nent > VMXL_MAX_CPUID_ENTRIES)
		return -E2BIG;
	tab = vmemdup_user(u64_to_user_ptr(c.entries),
			   array_size(c.nent, sizeof(*tab)));
	if (IS_ERR(tab))
		return PTR_ERR(tab);
	for (i = 0; i < c.nent; i++) {
		if (tab[i].reserved ||
		    (tab[i].flags & ~VMXL_CPUID_FLAG_INDEXED)) {
			kvfree(tab);
			return -EINVAL;
		}
	}
	kvfree(vcpu->cpuid);
	vcpu->cpuid = tab;
	vcpu->nr_cpuid = c.nent;
	return 0;
}

/* Copy @tab to the user array described at @argp, E2BIG if too small. */
int vmxl_cpuid_copy_out(void __user *argp, const struct vmxl_cpuid_entry *tab,
			u32 n)
{
	struct vmxl_cpuid c;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags)
		return -EINVAL;
	if (c.nent < n) {
		c.nent = n;
		return copy_to_user(argp, &c, sizeof(c)) ? -EFAULT : -E2BIG;
	}
	if (copy_to_user(u64_to_user_ptr(c.entries), tab, n * sizeof(*tab)))
		return -EFAULT;
	c.nent = n;
	return copy_to_user(argp, &c, sizeof(c)) ? -EFAULT : 0;
}

/* ------------------------------------------------------------------ */
/* MSRs                                                               */
/* ------------------------------------------------------------------ */

#define MTRR_CAP_VALUE	0x508ULL	/* 8 variable ranges, fixed, WC */
#define MTRR_DEF_TYPE_RESET	0x806ULL	/* enabled, write-back */
#define UCODE_REV_INTEL	0x100000000ULL	/* microcode revisions, as KVM */
#define UCODE_REV_AMD	0x01000065ULL
#define HWCR_TSC_FREQ_SEL	BIT_ULL(24)	/* TSC counts at P0 rate */
#define HWCR_MC_STATUS_WR_EN	BIT_ULL(18)
/* Writes KVM ignores: TLB cache, flush filter, IGNNE emulation */
#define HWCR_IGNORED	(BIT_ULL(3) | BIT_ULL(6) | BIT_ULL(8))

static bool mtrr_type_ok(u8 t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static int mtrr_fixed_index(u32 index)
{
	switch (index) {
	case MSR_MTRRfix64K_00000:
		return 0;
	case MSR_MTRRfix16K_80000:
	case MSR_MTRRfix16K_A0000:
		return 1 + index - MSR_MTRRfix16K_80000;
	case MSR_MTRRfix4K_C0000 ... MSR_MTRRfix4K_F8000:
		return 3 + index - MSR_MTRRfix4K_C0000;
	}
	return -1;
}

static bool is_canonical(u64 va)
{
	return ((s64)va << 16 >> 16) == (s64)va;
}

/* Every PAT entry a memory type: UC, WC, WT, WP, WB or UC-. */
static bool pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 t = pat >> (8 * i);

		if (t > 7 || t == 2 || t == 3)
			return false;
	}
	return true;
}

/*
 * What a value may be, for the MSRs the backends keep: the same rules on
 * both vendors. Narrow fields are truncated as the CPU does; anything
 * else out of range faults. The rules that depend on guest state (EFER.LME
 * while paging) stay with the backend.
 */
static int msr_value_fixup(u32 index, u64 *data)
{
	switch (index) {
	case MSR_EFER:
		if (*data & ~(u64)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
			return -EINVAL;
		break;
	case MSR_IA32_CR_PAT:
		if (!pat_valid(*data))
			return -EINVAL;
		break;
	case MSR_IA32_SYSENTER_CS:
		*data &= 0xffff;
		break;
	case MSR_SYSCALL_MASK:
		*data &= 0xffffffff;
		break;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		/* These hold addresses: non-canonical ones fault. */
		if (!is_canonical(*data))
			return -EINVAL;
		break;
	}
	return 0;
}

/* MSRs the core emulates for both vendors; others go to the backend. */
int vmxl_emulate_rdmsr(struct vmxl_vcpu *vcpu, u32 index, u64 *data)
{
	int fixed = mtrr_fixed_index(index), ret;

	if (vcpu->lapic) {
		ret = vmxl_lapic_rdmsr(vcpu, index, data);
		if (ret != -ENOENT)
			return ret;
	}

	if (fixed >= 0) {
		*data = vcpu->mtrr_fixed[fixed];
		return 0;
	}
	switch (index) {
	case MSR_IA32_APICBASE:
		*data = vcpu->apic_base;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*data = vcpu->misc_enable;
		return 0;
	case MSR_MTRRcap:
		*data = MTRR_CAP_VALUE;
		return 0;
	case MSR_MTRRdefType:
		*data = vcpu->mtrr_def_type;
		return 0;
	case 0x200 ... 0x20f:	/* MTRRphysBase0 .. MTRRphysMask7 */
		*data = vcpu->mtrr_var[index - 0x200];
		return 0;
	case MSR_IA32_UCODE_REV:
		/*
		 * KVM's constants: Intel's revision 1 in the high half,
		 * AMD's patch level 0x01000065 in the low half.
		 */
		*data = host_is_amd() ? UCODE_REV_AMD : UCODE_REV_INTEL;
		return 0;
	case MSR_K7_HWCR:
		*data = vcpu->msr_hwcr;
		return 0;
	case MSR_AMD64_SYSCFG:	/* Linux's MTRR setup reads it unchecked */
	case MSR_AMD64_NB_CFG:
	case MSR_K7_EVNTSEL0 ... MSR_K7_PERFCTR3:
		/* No PMU: the legacy counters read as zeros, as KVM's do. */
		*data = 0;
		return 0;
	}
	return vmxl_backend->get_msr(vcpu, index, data);
}

int vmxl_emulate_wrmsr(struct vmxl_vcpu *vcpu, u32 index, u64 data)
{
	u64 phys_mask = ~((1ULL << boot_cpu_data.x86_phys_bits) - 1);
	int fixed = mtrr_fixed_index(index), i, ret;

	if (vcpu->lapic) {
		ret = vmxl_lapic_wrmsr(vcpu, index, data);
		if (ret != -ENOENT)
			return ret;
		if (index == MSR_IA32_APICBASE)
			return vmxl_lapic_set_base(vcpu, data, false);
	}
	if (fixed >= 0) {
		for (i = 0; i < 8; i++)
			if (!mtrr_type_ok(data >> (8 * i)))
				return -EINVAL;
		vcpu->mtrr_fixed[fixed] = data;
		return 0;
	}
	switch (index) {
	case MSR_IA32_APICBASE:
		/* BSP (8), x2APIC enable (10; APIC VMs only), enable (11) */
		if (data & (phys_mask | 0x6ff | BIT(10)))
			return -EINVAL;
		vcpu->apic_base = data;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		/* Stored, no effect: guests poke it for fast-strings etc. */
		vcpu->misc_enable = data;
		return 0;
	case MSR_MTRRcap:
		return -EINVAL;
	case MSR_MTRRdefType:
		if ((data & ~0xcffULL) || !mtrr_type_ok(data & 0xff))
			return -EINVAL;
		vcpu->mtrr_def_type = data;
		return 0;
	case 0x200 ... 0x20f:
		if (data & phys_mask)
			return -EINVAL;
		if (!(index & 1) && ((data & 0xf00) || !mtrr_type_ok(data)))
			return -EINVAL;
		if ((index & 1) && (data & 0x7ff))
			return -EINVAL;
		vcpu->mtrr_var[index - 0x200] = data;
		return 0;
	case MSR_IA32_UCODE_REV:	/* guests write 0 before CPUID */
	case MSR_AMD64_SYSCFG:
	case MSR_AMD64_NB_CFG:
	case MSR_K7_EVNTSEL0 ... MSR_K7_PERFCTR3:
		return 0;		/* ignored, as KVM does */
	case MSR_K7_HWCR:
		data &= ~HWCR_IGNORED;
		if (data & ~(HWCR_TSC_FREQ_SEL | HWCR_MC_STATUS_WR_EN))
			return -EINVAL;
		vcpu->msr_hwcr = data;
		return 0;
	}
	ret = msr_value_fixup(index, &data);
	if (!ret)
		ret = vmxl_backend->set_msr(vcpu, index, data);
	if (!ret && index == MSR_IA32_TSC && vcpu->lapic)
		vmxl_lapic_tsc_changed(vcpu);
	return ret;
}

long vmxl_vcpu_msrs(struct vmxl_vcpu *vcpu, void __user *argp, bool set)
{
	struct vmxl_msr_entry *ents;
	struct vmxl_msrs m;
	long ret = 0;
	u32 i;

	if (copy_from_user(&m, argp, sizeof(m)))
		return -EFAULT;
	if (m.flags)
		return -EINVAL;
	if (m.nmsrs > VMXL_MAX_MSR_ENTRIES)
		return -E2BIG;
	ents = vmemdup_user(u64_to_user_ptr(m.entries),
			    array_size(m.nmsrs, sizeof(*ents)));
	if (IS_ERR(ents))
		return PTR_ERR(ents);
	for (i = 0; i < m.nmsrs; i++) {
		if (ents[i].reserved) {
			ret = -EINVAL;
			goto out;
		}
		if (set && vcpu->lapic && ents[i].index == MSR_IA32_APICBASE) {
			/* userspace may set any valid APIC state */
			if (vmxl_lapic_set_base(vcpu, ents[i].data, true))
				break;
		} else if (set ? vmxl_emulate_wrmsr(vcpu, ents[i].index,
						    ents[i].data) :
			   vmxl_emulate_rdmsr(vcpu, ents[i].index,
					      &ents[i].data)) {
			break;
		}
	}
	ret = i;
	if (!set && copy_to_user(u64_to_user_ptr(m.entries), ents,
				 i * sizeof(*ents)))
		ret = -EFAULT;
out:
	kvfree(ents);
	return ret;
}

/*
 * Guest FPU in, host FPU out; preemption stays off until
 * vmxl_put_guest_fpu(). The guest gets x87/SSE state only (CPUID hides
 * XSAVE), so XCR0 is narrowed for it: AVX and later registers stay
 * unreachable. Returns the host XCR0 to hand back.
 */
u64 vmxl_load_guest_fpu(struct vmxl_vcpu *vcpu)
{
	u64 host_xcr0 = 0;

	kernel_fpu_begin();
	asm volatile("fxrstor64 %0" : : "m" (*(u8 (*)[512])vcpu->fxsave));
	if (boot_cpu_has(X86_FEATURE_OSXSAVE)) {
		host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
		if (host_xcr0 != (XFEATURE_MASK_FP | XFEATURE_MASK_SSE))
			xsetbv(XCR_XFEATURE_ENABLED_MASK,
			       XFEATURE_MASK_FP | XFEATURE_MASK_SSE);
	}
	return host_xcr0;
}

void vmxl_put_guest_fpu(struct vmxl_vcpu *vcpu, u64 host_xcr0)
{
	if (host_xcr0 && host_xcr0 != (XFEATURE_MASK_FP | XFEATURE_MASK_SSE))
		xsetbv(XCR_XFEATURE_ENABLED_MASK, host_xcr0);
	asm volatile("fxsave64 %0" : "=m" (*(u8 (*)[512])vcpu->fxsave));
	kernel_fpu_end();
}

/* ------------------------------------------------------------------ */
/* Register state: what userspace may set, and the reset state        */
/* ------------------------------------------------------------------ */

void vmxl_regs_get(struct vmxl_vcpu *vcpu, struct vmxl_regs *r)
{
	BUILD_BUG_ON(offsetof(struct vmxl_regs, r15) != 15 * sizeof(u64));
	memcpy(r, vcpu->regs, sizeof(vcpu->regs));
	r->rip = vcpu->rip;
	r->rflags = vcpu->rflags;
}

#define RFLAGS_RESERVED	(~0x3f7fd7ULL)	/* must-be-zero bits (bit 1 is always 1) */

int vmxl_regs_set(struct vmxl_vcpu *vcpu, const struct vmxl_regs *r)
{
	if (r->rflags & RFLAGS_RESERVED)
		return -EINVAL;
	memcpy(vcpu->regs, r, sizeof(vcpu->regs));
	vcpu->rip = r->rip;
	vcpu->rflags = r->rflags | X86_EFLAGS_FIXED;
	/* New state: whatever the last exit left half-done no longer applies. */
	vcpu->pending = VMXL_PENDING_NONE;
	return 0;
}

static bool seg_valid(const struct vmxl_segment *s)
{
	return s->type < 16 && s->present <= 1 && s->dpl < 4 && s->db <= 1 &&
	       s->s <= 1 && s->l <= 1 && s->g <= 1 && s->avl <= 1 &&
	       s->unusable <= 1 && !s->reserved;
}

#define CR0_RESERVED	(~0xe005003fULL)
#define EFER_ALLOWED	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

int vmxl_sregs_check(const struct vmxl_sregs *s)
{
	const struct vmxl_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(segs); i++)
		if (!seg_valid(segs[i]))
			return -EINVAL;
	if (s->gdt.reserved[0] || s->gdt.reserved[1] || s->gdt.reserved[2] ||
	    s->idt.reserved[0] || s->idt.reserved[1] || s->idt.reserved[2] ||
	    memchr_inv(s->reserved, 0, sizeof(s->reserved)))
		return -EINVAL;
	if ((s->cr0 & CR0_RESERVED) || (s->efer & ~EFER_ALLOWED) ||
	    s->cr8 > 15 || (s->cr4 & ~__read_cr4() & ~(X86_CR4_VME |
	     X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE |
	     X86_CR4_PAE | X86_CR4_PGE | X86_CR4_OSFXSR |
	     X86_CR4_OSXMMEXCPT)))
		return -EINVAL;
	if ((s->cr4 & X86_CR4_OSXSAVE) || (s->cr4 & X86_CR4_VMXE))
		return -EINVAL;
	/* Paging needs protection; long mode needs PAE. */
	if ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE))
		return -EINVAL;
	if ((s->cr0 & X86_CR0_PG) && (s->efer & EFER_LME) &&
	    !(s->cr4 & X86_CR4_PAE))
		return -EINVAL;
	if (!!(s->efer & EFER_LMA) !=
	    ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)))
		return -EINVAL;
	/* x2APIC, bit 10: the caller knows whether the vCPU has an APIC */
	if (s->apic_base & (~((1ULL << boot_cpu_data.x86_phys_bits) - 1) |
			    0x6ff))
		return -EINVAL;
	return 0;
}

static u32 host_mxcsr_mask;

/* VMXL_SET_FPU: an FXSAVE image, checked as FXRSTOR would check it. */
int vmxl_fpu_set(struct vmxl_vcpu *vcpu, const void __user *argp)
{
	u32 mxcsr;

	/* FXRSTOR faults on reserved MXCSR bits: refuse them here. */
	if (copy_from_user(&mxcsr, argp + 24, sizeof(mxcsr)))
		return -EFAULT;
	if (mxcsr & ~host_mxcsr_mask)
		return -EINVAL;
	return copy_from_user(vcpu->fxsave, argp, sizeof(vcpu->fxsave)) ?
	       -EFAULT : 0;
}

#define RESET_DATA_SEG { .limit = 0xffff, .type = 3, .present = 1, .s = 1 }

/* x86 reset state, as firmware would find it (SDM Vol. 3A 9.1.1). */
static const struct vmxl_sregs reset_sregs = {
	.cs = { .selector = 0xf000, .base = 0xffff0000, .limit = 0xffff,
		.type = 0xb, .present = 1, .s = 1 },
	.ds = RESET_DATA_SEG,
	.es = RESET_DATA_SEG,
	.fs = RESET_DATA_SEG,
	.gs = RESET_DATA_SEG,
	.ss = RESET_DATA_SEG,
	.tr = { .limit = 0xffff, .type = 0xb, .present = 1 },
	.ldt = { .limit = 0xffff, .type = 2, .present = 1 },
	.gdt = { .limit = 0xffff },
	.idt = { .limit = 0xffff },
	.cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW,
};

void vmxl_vcpu_reset(struct vmxl_vcpu *vcpu)
{
	vmxl_backend->set_sregs(vcpu, &reset_sregs);
	vcpu->db_pending = 0;
	vcpu->rip = 0xfff0;
	vcpu->rflags = X86_EFLAGS_FIXED;
	vcpu->regs[2] = boot_cpu_data.x86 << 8 | boot_cpu_data.x86_model << 4;
	vcpu->apic_base = 0xfee00000 | (vcpu->id ? 0 : BIT(8)) | BIT(11);
	/* Linux skips PAT and fast strings without these (Firecracker's) */
	vcpu->mtrr_def_type = MTRR_DEF_TYPE_RESET;
	vcpu->misc_enable = MSR_IA32_MISC_ENABLE_FAST_STRING;
	vcpu->msr_hwcr = HWCR_TSC_FREQ_SEL;
	vcpu->irq_pending = -1;
	/* FXSAVE image of FNINIT state: FCW 0x37f, MXCSR 0x1f80 */
	memset(vcpu->fxsave, 0, sizeof(vcpu->fxsave));
	vcpu->fxsave[0] = 0x7f;
	vcpu->fxsave[1] = 0x03;
	vcpu->fxsave[24] = 0x80;
	vcpu->fxsave[25] = 0x1f;
}

void vmxl_x86_init(void)
{
	u8 buf[512] __aligned(16) = {};

	/* MXCSR_MASK from FXSAVE; zero means the architectural default. */
	kernel_fpu_begin();
	asm volatile("fxsave %0" : "=m" (buf));
	kernel_fpu_end();
	memcpy(&host_mxcsr_mask, buf + 28, sizeof(host_mxcsr_mask));
	if (!host_mxcsr_mask)
		host_mxcsr_mask = 0xffbf;
}
