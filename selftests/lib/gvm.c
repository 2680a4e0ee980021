// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-code library, host side (see gvm.h), plus the few guest-side
 * pieces (ucall, exception stubs) that every guest needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "gvm.h"
#include "kvmload.h"
#include "testlib.h"

/* The test binary's image, as the linker laid it out. */
extern const char __executable_start[], _end[];

#define PAGE		4096ULL
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)
#define PTE_ADDR	0x000ffffffffff000ULL

#define TABLES_GPA	0x10000ULL
#define TABLES_END	GVM_STACKS_GPA
#define STACKS_GPA	GVM_STACKS_GPA
#define STACK_SIZE	GVM_STACK_SIZE
#define IMAGE_GPA	GVM_IMAGE_GPA

#define GDT_CODE64	0x08
#define GDT_DATA	0x10
#define GDT_TSS		0x18

/* Parameters the real-mode trampoline reads, at a fixed low address. */
#define RM_PARAMS_GPA	GVM_RM_PARAMS

struct rm_params {
	uint16_t gdt_limit;
	uint32_t gdt_base;
	uint16_t pad;
	uint64_t pad2;
	uint64_t cr3;		/* 0x10 */
	uint64_t entry;		/* 0x18 */
	uint64_t rsp;		/* 0x20 */
	uint64_t arg0;		/* 0x28 */
} __attribute__((packed));

/* ------------------------------------------------------------------ */
/* guest side                                                          */
/* ------------------------------------------------------------------ */

void guest_ucall(uint64_t cmd, uint64_t a0, uint64_t a1, uint64_t a2,
		 uint64_t a3, uint64_t a4)
{
	struct ucall uc = { cmd, { a0, a1, a2, a3, a4, 0 } };

	/* RDI carries the guest address of @uc, which is also its GPA. */
	asm volatile("outl %%eax, %%dx"
		     : : "a"(0), "d"(UCALL_PORT), "D"(&uc) : "memory");
}

void gvm_guest_exception(uint64_t vector, uint64_t error, uint64_t rip);
void gvm_guest_exception(uint64_t vector, uint64_t error, uint64_t rip)
{
	guest_ucall(UCALL_EXCEPTION, vector, error, rip, 0, 0);
	for (;;)
		asm volatile("cli; hlt");
}

void gvm_guest_return(void);
void gvm_guest_return(void)
{
	GUEST_DONE();
	for (;;)
		asm volatile("cli; hlt");
}

/*
 * One 16-byte stub per exception vector 0-31: push a zero error code
 * where the CPU pushes none, push the vector, then report. Also the
 * place a guest function "returns" to.
 */
extern const char gvm_idt_stubs[], gvm_return_stub[];
asm(".pushsection .text\n"
    ".align 16\n"
    "gvm_idt_stubs:\n"
    ".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    ".align 16\n"
    ".if (\\v == 8) || (\\v >= 10 && \\v <= 14) || (\\v == 17) || (\\v == 21) || (\\v == 29) || (\\v == 30)\n"
    "  pushq $\\v\n"
    ".else\n"
    "  pushq $0\n"
    "  pushq $\\v\n"
    ".endif\n"
    "  jmp gvm_exc_common\n"
    ".endr\n"
    "gvm_exc_common:\n"
    "  mov (%rsp), %rdi\n"		/* vector */
    "  mov 8(%rsp), %rsi\n"		/* error code */
    "  mov 16(%rsp), %rdx\n"		/* RIP of the frame */
    "  and $-16, %rsp\n"
    "  call gvm_guest_exception\n"
    "gvm_return_stub:\n"
    "  and $-16, %rsp\n"
    "  call gvm_guest_return\n"
    ".popsection\n");

/* ------------------------------------------------------------------ */
/* host side                                                           */
/* ------------------------------------------------------------------ */

const char *gvm_kind_name(enum gvm_kind kind)
{
	return kind == GVM_KVM ? "kvm" : "vmx-lite";
}

static int gvm_fail(struct gvm *vm, const char *step)
{
	int err = errno ? errno : EINVAL;

	fprintf(stderr, "# gvm (%s): %s failed: %s\n", gvm_kind_name(vm->kind),
		step, strerror(err));
	return -err;
}

void *gvm_gpa(struct gvm *vm, uint64_t gpa, size_t len)
{
	if (gpa >= GVM_MEM_SIZE || len > GVM_MEM_SIZE - gpa)
		return NULL;
	return vm->mem + gpa;
}

static uint64_t alloc_page(struct gvm *vm)
{
	uint64_t gpa = vm->next_page;

	if (gpa >= TABLES_END)
		return 0;
	vm->next_page += PAGE;
	memset(vm->mem + gpa, 0, PAGE);
	return gpa;
}

static uint64_t *pte_at(struct gvm *vm, uint64_t table, unsigned int idx)
{
	return (uint64_t *)(vm->mem + table) + idx;
}

/* The table an entry points to, allocated on first use; 0 if out of room. */
static uint64_t next_table(struct gvm *vm, uint64_t *entry)
{
	if (!(*entry & PTE_P)) {
		uint64_t t = alloc_page(vm);

		if (!t)
			return 0;
		*entry = t | PTE_P | PTE_RW;
	}
	return *entry & PTE_ADDR;
}

static int map_4k(struct gvm *vm, uint64_t va, uint64_t gpa)
{
	uint64_t t = vm->pml4;
	int level;

	for (level = 3; level >= 1; level--) {
		t = next_table(vm, pte_at(vm, t, (va >> (12 + 9 * level)) & 511));
		if (!t)
			return -ENOMEM;
	}
	*pte_at(vm, t, (va >> 12) & 511) = gpa | PTE_P | PTE_RW;
	return 0;
}

/*
 * Identity-map 0-4 GiB with 2 MiB pages, then map the test binary's
 * image, copied to IMAGE_GPA, at the addresses it has in this process.
 */
static int build_page_tables(struct gvm *vm)
{
	uint64_t start = (uint64_t)__executable_start & ~(PAGE - 1);
	uint64_t end = ((uint64_t)_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t pdpt, pd, lo, hi, va;
	char line[512];
	unsigned int i, j;
	FILE *maps;

	if (start < (4ULL << 30) ||
	    end - start > GVM_MEM_SIZE - IMAGE_GPA) {
		errno = E2BIG;	/* needs a PIE binary, above 4 GiB */
		return -1;
	}
	vm->pml4 = alloc_page(vm);
	pdpt = next_table(vm, pte_at(vm, vm->pml4, 0));
	for (i = 0; i < 4; i++) {
		pd = next_table(vm, pte_at(vm, pdpt, i));
		for (j = 0; j < 512; j++)
			*pte_at(vm, pd, j) = ((uint64_t)i << 30) |
					     ((uint64_t)j << 21) |
					     PTE_P | PTE_RW | PTE_PS;
	}

	/* Only what is mapped can be copied: segments may have gaps. */
	maps = fopen("/proc/self/maps", "r");
	if (!maps)
		return -1;
	while (fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || !strstr(line, " r"))
			continue;
		if (lo < start)
			lo = start;
		if (hi > end)
			hi = end;
		for (va = lo; va < hi; va += PAGE) {
			memcpy(vm->mem + IMAGE_GPA + (va - start),
			       (void *)va, PAGE);
			if (map_4k(vm, va, IMAGE_GPA + (va - start))) {
				fclose(maps);
				errno = ENOMEM;
				return -1;
			}
		}
	}
	fclose(maps);
	return 0;
}

static void build_descriptor_tables(struct gvm *vm)
{
	uint64_t *gdt, tss_base, stubs = (uint64_t)gvm_idt_stubs;
	uint64_t *idt;
	int v;

	vm->gdt = alloc_page(vm);
	vm->idt = alloc_page(vm);
	vm->tss = alloc_page(vm);
	tss_base = vm->tss;

	gdt = (uint64_t *)(vm->mem + vm->gdt);
	gdt[GDT_CODE64 / 8] = 0x00af9b000000ffffULL;	/* L, P, code RX, acc */
	gdt[GDT_DATA / 8] = 0x00cf93000000ffffULL;	/* 4 GiB data RW, acc */
	/* 64-bit TSS, available (LTR marks it busy; SET_SREGS need not) */
	gdt[GDT_TSS / 8] = 0x67 | ((tss_base & 0xffffff) << 16) |
			   (0x89ULL << 40) | (((tss_base >> 24) & 0xff) << 56);
	gdt[GDT_TSS / 8 + 1] = tss_base >> 32;

	/* Interrupt gates for vectors 0-31. */
	idt = (uint64_t *)(vm->mem + vm->idt);
	for (v = 0; v < 32; v++) {
		uint64_t off = stubs + 16 * v;

		idt[2 * v] = (off & 0xffff) | ((uint64_t)GDT_CODE64 << 16) |
			     (0x8eULL << 40) | (((off >> 16) & 0xffff) << 48);
		idt[2 * v + 1] = off >> 32;
	}
}

static void seg(struct vmxl_segment *s, uint16_t sel, uint8_t type,
		bool code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/* ---- the two hypervisors ---- */

static int kind_ioctl(struct gvm *vm, int cpu, unsigned long vmxl_cmd,
		      unsigned long kvm_cmd, void *arg)
{
	return ioctl(vm->vcpu_fd[cpu],
		     vm->kind == GVM_KVM ? kvm_cmd : vmxl_cmd, arg) ? -errno : 0;
}

int gvm_get_regs(struct gvm *vm, int cpu, struct vmxl_regs *r)
{
	struct kvm_regs k;
	int ret;

	if (vm->kind == GVM_VMXL)
		return kind_ioctl(vm, cpu, VMXL_GET_REGS, 0, r);
	ret = kind_ioctl(vm, cpu, 0, KVM_GET_REGS, &k);
	*r = (struct vmxl_regs){
		k.rax, k.rcx, k.rdx, k.rbx, k.rsp, k.rbp, k.rsi, k.rdi,
		k.r8, k.r9, k.r10, k.r11, k.r12, k.r13, k.r14, k.r15,
		k.rip, k.rflags,
	};
	return ret;
}

int gvm_set_regs(struct gvm *vm, int cpu, const struct vmxl_regs *r)
{
	struct kvm_regs k = {
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx,
		.rsi = r->rsi, .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp,
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rip = r->rip, .rflags = r->rflags,
	};

	if (vm->kind == GVM_VMXL)
		return kind_ioctl(vm, cpu, VMXL_SET_REGS, 0, (void *)r);
	return kind_ioctl(vm, cpu, 0, KVM_SET_REGS, &k);
}

_Static_assert(sizeof(struct vmxl_sregs) == sizeof(struct kvm_sregs),
	       "vmxl_sregs mirrors kvm_sregs");

int gvm_get_sregs(struct gvm *vm, int cpu, struct vmxl_sregs *s)
{
	int ret = kind_ioctl(vm, cpu, VMXL_GET_SREGS, KVM_GET_SREGS, s);

	memset(s->reserved, 0, sizeof(s->reserved));	/* KVM: irq bitmap */
	return ret;
}

int gvm_set_sregs(struct gvm *vm, int cpu, const struct vmxl_sregs *s)
{
	return kind_ioctl(vm, cpu, VMXL_SET_SREGS, KVM_SET_SREGS, (void *)s);
}

int gvm_set_cpuid(struct gvm *vm, int cpu, const struct vmxl_cpuid_entry *e,
		  unsigned int n)
{
	struct vmxl_cpuid c = { .nent = n, .entries = (uintptr_t)e };
	struct kvm_cpuid2 *k;
	unsigned int i;
	int ret;

	if (vm->kind == GVM_VMXL)
		return kind_ioctl(vm, cpu, VMXL_SET_CPUID, 0, &c);
	k = calloc(1, sizeof(*k) + n * sizeof(k->entries[0]));
	if (!k)
		return -ENOMEM;
	k->nent = n;
	for (i = 0; i < n; i++) {
		k->entries[i].function = e[i].function;
		k->entries[i].index = e[i].index;
		k->entries[i].flags = (e[i].flags & VMXL_CPUID_FLAG_INDEXED) ?
				      KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
		k->entries[i].eax = e[i].eax;
		k->entries[i].ebx = e[i].ebx;
		k->entries[i].ecx = e[i].ecx;
		k->entries[i].edx = e[i].edx;
	}
	ret = kind_ioctl(vm, cpu, 0, KVM_SET_CPUID2, k);
	free(k);
	return ret;
}

/* KVM starts with an empty CPUID table; long mode needs at least LM. */
static int kvm_default_cpuid(struct gvm *vm, int cpu)
{
	struct kvm_cpuid2 *k;
	int ret, n = 256;

	k = calloc(1, sizeof(*k) + n * sizeof(k->entries[0]));
	if (!k)
		return -ENOMEM;
	k->nent = n;
	ret = ioctl(vm->sys_fd, KVM_GET_SUPPORTED_CPUID, k);
	for (n = 0; !ret && (vm->flags & GVM_LAPIC) && n < (int)k->nent; n++) {
		if (k->entries[n].function != 1)
			continue;
		k->entries[n].ecx |= 1u << 24;		/* TSC-deadline */
		k->entries[n].ebx = (k->entries[n].ebx & 0x00ffffff) |
				    (uint32_t)cpu << 24;
	}
	if (!ret)
		ret = ioctl(vm->vcpu_fd[cpu], KVM_SET_CPUID2, k);
	free(k);
	return ret ? -errno : 0;
}

static int open_vm(struct gvm *vm)
{
	if (vm->kind == GVM_KVM) {
		struct kvm_userspace_memory_region mr = {
			.memory_size = GVM_MEM_SIZE,
			.userspace_addr = (uintptr_t)vm->mem,
		};

		vm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (vm->sys_fd < 0)
			return gvm_fail(vm, "open /dev/kvm");
		vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
		if (vm->vm_fd < 0)
			return gvm_fail(vm, "KVM_CREATE_VM");
		if (vm->flags & GVM_LAPIC) {
			struct kvm_enable_cap cap = {
				.cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 },
			};

			if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap))
				return gvm_fail(vm, "KVM_CAP_SPLIT_IRQCHIP");
		}
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr))
			return gvm_fail(vm, "KVM_SET_USER_MEMORY_REGION");
		vm->run_size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	} else {
		struct vmxl_memory_region mr = {
			.memory_size = GVM_MEM_SIZE,
			.userspace_addr = (uintptr_t)vm->mem,
		};

		vm->sys_fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
		if (vm->sys_fd < 0)
			return gvm_fail(vm, "open " VMXL_DEV);
		vm->vm_fd = ioctl(vm->sys_fd, VMXL_CREATE_VM,
				  (vm->flags & GVM_LAPIC) ? VMXL_VM_LAPIC : 0);
		if (vm->vm_fd < 0)
			return gvm_fail(vm, "VMXL_CREATE_VM");
		if (ioctl(vm->vm_fd, VMXL_SET_MEMORY_REGION, &mr))
			return gvm_fail(vm, "VMXL_SET_MEMORY_REGION");
		vm->run_size = sysconf(_SC_PAGESIZE);
	}
	return 0;
}

static int open_vcpu(struct gvm *vm, int cpu)
{
	unsigned long cmd = vm->kind == GVM_KVM ? KVM_CREATE_VCPU :
						 VMXL_CREATE_VCPU;

	vm->vcpu_fd[cpu] = ioctl(vm->vm_fd, cmd, cpu);
	if (vm->vcpu_fd[cpu] < 0)
		return gvm_fail(vm, "CREATE_VCPU");
	vm->run[cpu] = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED, vm->vcpu_fd[cpu], 0);
	if (vm->run[cpu] == MAP_FAILED) {
		vm->run[cpu] = NULL;
		return gvm_fail(vm, "mmap of the run page");
	}
	vm->nr_vcpus = cpu + 1;
	if (vm->kind == GVM_KVM && kvm_default_cpuid(vm, cpu))
		return gvm_fail(vm, "KVM_SET_CPUID2");
	return 0;
}

int gvm_create(struct gvm *vm, enum gvm_kind kind, int nr_vcpus)
{
	return gvm_create_flags(vm, kind, nr_vcpus, 0);
}

int gvm_create_flags(struct gvm *vm, enum gvm_kind kind, int nr_vcpus,
		     unsigned int flags)
{
	int i, ret;

	memset(vm, 0, sizeof(*vm));
	vm->kind = kind;
	vm->flags = flags;
	if (flags & ~GVM_LAPIC)
		return -EINVAL;
	vm->sys_fd = vm->vm_fd = -1;
	for (i = 0; i < GVM_MAX_VCPUS; i++)
		vm->vcpu_fd[i] = -1;
	if (nr_vcpus < 1 || nr_vcpus > GVM_MAX_VCPUS)
		return -EINVAL;

	vm->mem = mmap(NULL, GVM_MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		return gvm_fail(vm, "mmap of guest memory");
	}
	vm->next_page = TABLES_GPA;
	errno = 0;
	if (build_page_tables(vm))
		return gvm_fail(vm, "building page tables");
	build_descriptor_tables(vm);

	ret = open_vm(vm);
	for (i = 0; !ret && i < nr_vcpus; i++)
		ret = open_vcpu(vm, i);
	return ret;
}

void gvm_destroy(struct gvm *vm)
{
	int i;

	for (i = 0; i < GVM_MAX_VCPUS; i++) {
		if (vm->run[i])
			munmap(vm->run[i], vm->run_size);
		if (vm->vcpu_fd[i] >= 0)
			close(vm->vcpu_fd[i]);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	if (vm->mem)
		munmap(vm->mem, GVM_MEM_SIZE);
	memset(vm, 0, sizeof(*vm));
	vm->sys_fd = vm->vm_fd = -1;
	for (i = 0; i < GVM_MAX_VCPUS; i++)
		vm->vcpu_fd[i] = -1;
}

/* Stack top for @cpu with a return address to gvm_return_stub on it. */
static uint64_t stack_top(struct gvm *vm, int cpu)
{
	uint64_t top = STACKS_GPA + STACK_SIZE * (cpu + 1) - 16 - 8;

	*(uint64_t *)(vm->mem + top) = (uint64_t)gvm_return_stub;
	return top;	/* 8 mod 16, as just after a CALL */
}

int gvm_enter_long_mode(struct gvm *vm, int cpu, void *fn, uint64_t arg0,
			uint64_t arg1)
{
	struct vmxl_sregs s;
	struct vmxl_regs r;
	int ret;

	ret = gvm_get_sregs(vm, cpu, &s);
	if (ret)
		return ret;
	seg(&s.cs, GDT_CODE64, 11, true);
	seg(&s.ds, GDT_DATA, 3, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.selector = GDT_TSS;
	s.tr.base = vm->tss;
	s.tr.limit = 0x67;
	s.tr.type = 11;
	s.tr.present = 1;
	s.gdt.base = vm->gdt;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = vm->idt;
	s.idt.limit = 32 * 16 - 1;
	s.cr0 = 0x80050033;	/* PG WP NE ET MP PE */
	s.cr3 = vm->pml4;
	s.cr4 = 0x620;		/* OSXMMEXCPT OSFXSR PAE: SSE works */
	s.efer = 0x500;		/* LMA LME */
	ret = gvm_set_sregs(vm, cpu, &s);
	if (ret)
		return ret;

	memset(&r, 0, sizeof(r));
	r.rip = (uint64_t)fn;
	r.rsp = stack_top(vm, cpu);
	r.rdi = arg0;
	r.rsi = arg1;
	r.rflags = 2;
	return gvm_set_regs(vm, cpu, &r);
}

int gvm_enter_real_mode(struct gvm *vm, int cpu, const void *code,
			size_t len, void *fn, uint64_t arg0)
{
	struct rm_params *p = (void *)(vm->mem + RM_PARAMS_GPA);
	struct vmxl_sregs s;
	struct vmxl_regs r;
	int ret;

	if (len > TABLES_GPA - GVM_CODE16_GPA)
		return -E2BIG;
	memcpy(vm->mem + GVM_CODE16_GPA, code, len);
	p->gdt_limit = 5 * 8 - 1;
	p->gdt_base = vm->gdt;
	p->cr3 = vm->pml4;
	p->rsp = stack_top(vm, cpu);
	p->entry = (uint64_t)fn;
	p->arg0 = arg0;

	ret = gvm_get_sregs(vm, cpu, &s);
	if (ret)
		return ret;
	s.cs.base = 0;
	s.cs.selector = 0;
	ret = gvm_set_sregs(vm, cpu, &s);
	if (ret)
		return ret;
	memset(&r, 0, sizeof(r));
	r.rip = GVM_CODE16_GPA;
	r.rflags = 2;
	return gvm_set_regs(vm, cpu, &r);
}

static void normalize_vmxl(struct vmxl_run *run, struct gvm_exit *e)
{
	e->raw = run->exit_reason;
	switch (run->exit_reason) {
	case VMXL_EXIT_IO:
		e->reason = GVM_EXIT_IO;
		e->port = run->io.port;
		e->size = run->io.size;
		e->write = run->io.direction == VMXL_IO_OUT;
		e->count = 1;
		if (e->write)
			memcpy(&e->data, run->io.data, run->io.size);
		break;
	case VMXL_EXIT_MMIO:
		e->reason = GVM_EXIT_MMIO;
		e->addr = run->mmio.phys_addr;
		e->size = run->mmio.len;
		e->write = run->mmio.is_write;
		if (e->write)
			memcpy(&e->data, run->mmio.data, run->mmio.len);
		break;
	case VMXL_EXIT_HLT:
		e->reason = GVM_EXIT_HLT;
		break;
	case VMXL_EXIT_HYPERCALL:
		e->reason = GVM_EXIT_HYPERCALL;
		e->data = run->hypercall.nr;
		break;
	case VMXL_EXIT_SHUTDOWN:
		e->reason = GVM_EXIT_SHUTDOWN;
		break;
	case VMXL_EXIT_EOI:
		e->reason = GVM_EXIT_EOI;
		e->data = run->eoi.vector;
		break;
	default:
		e->reason = GVM_EXIT_OTHER;
		break;
	}
}

static void normalize_kvm(struct kvm_run *run, struct gvm_exit *e)
{
	e->raw = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		e->reason = GVM_EXIT_IO;
		e->port = run->io.port;
		e->size = run->io.size;
		e->write = run->io.direction == KVM_EXIT_IO_OUT;
		e->count = run->io.count;
		if (e->write)
			memcpy(&e->data, (char *)run + run->io.data_offset,
			       run->io.size);
		break;
	case KVM_EXIT_MMIO:
		e->reason = GVM_EXIT_MMIO;
		e->addr = run->mmio.phys_addr;
		e->size = run->mmio.len;
		e->write = run->mmio.is_write;
		if (e->write)
			memcpy(&e->data, run->mmio.data, run->mmio.len);
		break;
	case KVM_EXIT_HLT:
		e->reason = GVM_EXIT_HLT;
		break;
	case KVM_EXIT_HYPERCALL:
		e->reason = GVM_EXIT_HYPERCALL;
		e->data = run->hypercall.nr;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->reason = GVM_EXIT_SHUTDOWN;
		break;
	default:
		e->reason = GVM_EXIT_OTHER;
		break;
	}
}

int gvm_run(struct gvm *vm, int cpu, struct gvm_exit *e)
{
	struct vmxl_regs r;
	struct ucall *uc;
	int ret;

	memset(e, 0, sizeof(*e));
	ret = kind_ioctl(vm, cpu, VMXL_RUN, KVM_RUN, NULL);
	if (ret)
		return ret;
	if (vm->kind == GVM_KVM)
		normalize_kvm(vm->run[cpu], e);
	else
		normalize_vmxl(vm->run[cpu], e);

	if (e->reason == GVM_EXIT_IO && e->port == UCALL_PORT && e->write) {
		ret = gvm_get_regs(vm, cpu, &r);
		if (ret)
			return ret;
		uc = gvm_gpa(vm, r.rdi, sizeof(*uc));
		if (uc) {
			e->reason = GVM_EXIT_UCALL;
			e->uc = *uc;
		}
	}
	return 0;
}

int gvm_settle(struct gvm *vm, int cpu)
{
	__u8 *immediate_exit = vm->kind == GVM_KVM ?
		&((struct kvm_run *)vm->run[cpu])->immediate_exit :
		&((struct vmxl_run *)vm->run[cpu])->immediate_exit;
	int ret;

	*immediate_exit = 1;
	ret = kind_ioctl(vm, cpu, VMXL_RUN, KVM_RUN, NULL);
	*immediate_exit = 0;
	return ret == -EINTR ? 0 : ret ? ret : -EPROTO;
}

void gvm_complete_read(struct gvm *vm, int cpu, uint64_t data)
{
	if (vm->kind == GVM_KVM) {
		struct kvm_run *run = vm->run[cpu];

		if (run->exit_reason == KVM_EXIT_IO)
			memcpy((char *)run + run->io.data_offset, &data,
			       run->io.size);
		else
			memcpy(run->mmio.data, &data, sizeof(data));
	} else {
		struct vmxl_run *run = vm->run[cpu];

		if (run->exit_reason == VMXL_EXIT_IO)
			memcpy(run->io.data, &data, run->io.size);
		else
			memcpy(run->mmio.data, &data, sizeof(data));
	}
}

static const char *image_str(uint64_t p)
{
	if (p < (uint64_t)__executable_start || p >= (uint64_t)_end)
		return "(bad pointer)";
	return (const char *)p;
}

const char *gvm_ucall_str(const struct ucall *uc, char *buf, size_t len)
{
	switch (uc->cmd) {
	case UCALL_ASSERT:
		snprintf(buf, len, "guest assertion %s:%lu: %s (0x%lx, 0x%lx)",
			 image_str(uc->args[0]), (unsigned long)uc->args[1],
			 image_str(uc->args[2]), (unsigned long)uc->args[3],
			 (unsigned long)uc->args[4]);
		break;
	case UCALL_EXCEPTION:
		snprintf(buf, len, "guest exception %lu, error 0x%lx, RIP 0x%lx",
			 (unsigned long)uc->args[0], (unsigned long)uc->args[1],
			 (unsigned long)uc->args[2]);
		break;
	default:
		snprintf(buf, len, "ucall %lu (0x%lx, 0x%lx)",
			 (unsigned long)uc->cmd, (unsigned long)uc->args[0],
			 (unsigned long)uc->args[1]);
		break;
	}
	return buf;
}

const char *gvm_exit_str(const struct gvm_exit *e, char *buf, size_t len)
{
	static const char *const names[] = {
		"?", "io", "mmio", "hlt", "hypercall", "shutdown", "ucall",
		"other", "eoi",
	};
	char ub[256];

	if (e->reason == GVM_EXIT_UCALL)
		return snprintf(buf, len, "%s", gvm_ucall_str(&e->uc, ub,
							     sizeof(ub))), buf;
	snprintf(buf, len,
		 "%s (raw %u) port 0x%x addr 0x%lx size %u %s data 0x%lx",
		 names[e->reason <= GVM_EXIT_EOI ? e->reason : 0], e->raw,
		 e->port, (unsigned long)e->addr, e->size,
		 e->write ? "write" : "read", (unsigned long)e->data);
	return buf;
}

/* ---- the local APIC and MP state (GVM_LAPIC) ---- */

uint64_t gvm_tsc_khz(struct gvm *vm)
{
	struct vmxl_caps caps = { 0 };
	int khz;

	if (vm->kind == GVM_KVM) {
		khz = ioctl(vm->vcpu_fd[0], KVM_GET_TSC_KHZ, 0);
		return khz > 0 ? (uint64_t)khz : 0;
	}
	if (ioctl(vm->sys_fd, VMXL_GET_CAPS, &caps))
		return 0;
	return caps.tsc_khz;
}

int gvm_signal_msi(struct gvm *vm, uint32_t address_lo, uint32_t data)
{
	int ret;

	if (vm->kind == GVM_KVM) {
		struct kvm_msi m = { .address_lo = address_lo, .data = data };

		ret = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m);
	} else {
		struct vmxl_msi m = { .address_lo = address_lo, .data = data };

		ret = ioctl(vm->vm_fd, VMXL_SIGNAL_MSI, &m);
	}
	return ret < 0 ? -errno : ret;
}

_Static_assert(sizeof(((struct kvm_lapic_state *)0)->regs) ==
	       sizeof(((struct vmxl_lapic_state *)0)->regs),
	       "the same register page");

int gvm_get_lapic(struct gvm *vm, int cpu, struct vmxl_lapic_state *s)
{
	struct kvm_lapic_state k;
	int ret;

	memset(s, 0, sizeof(*s));
	if (vm->kind == GVM_VMXL)
		return kind_ioctl(vm, cpu, VMXL_GET_LAPIC, 0, s);
	ret = kind_ioctl(vm, cpu, 0, KVM_GET_LAPIC, &k);
	memcpy(s->regs, k.regs, sizeof(s->regs));
	return ret;
}

int gvm_set_lapic(struct gvm *vm, int cpu, const struct vmxl_lapic_state *s)
{
	struct kvm_lapic_state k;

	if (vm->kind == GVM_VMXL)
		return kind_ioctl(vm, cpu, VMXL_SET_LAPIC, 0, (void *)s);
	memcpy(k.regs, s->regs, sizeof(k.regs));
	return kind_ioctl(vm, cpu, 0, KVM_SET_LAPIC, &k);
}

int gvm_get_mp_state(struct gvm *vm, int cpu, uint32_t *state)
{
	struct kvm_mp_state k;
	struct vmxl_mp_state m;
	int ret;

	if (vm->kind == GVM_VMXL) {
		ret = kind_ioctl(vm, cpu, VMXL_GET_MP_STATE, 0, &m);
		*state = m.state;
		return ret;
	}
	ret = kind_ioctl(vm, cpu, 0, KVM_GET_MP_STATE, &k);
	switch (k.mp_state) {
	case KVM_MP_STATE_HALTED:
		*state = GVM_MP_HALTED;
		break;
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
		*state = GVM_MP_INIT_RECEIVED;
		break;
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_SIPI_RECEIVED:
		*state = GVM_MP_RUNNABLE;
		break;
	default:
		*state = 0x100 | k.mp_state;	/* no equivalent: shows */
		break;
	}
	return ret;
}

int gvm_set_mp_state(struct gvm *vm, int cpu, uint32_t state)
{
	struct vmxl_mp_state m = { .state = state };
	struct kvm_mp_state k;

	if (vm->kind == GVM_VMXL)
		return kind_ioctl(vm, cpu, VMXL_SET_MP_STATE, 0, &m);
	switch (state) {
	case GVM_MP_RUNNABLE:
		k.mp_state = KVM_MP_STATE_RUNNABLE;
		break;
	case GVM_MP_HALTED:
		k.mp_state = KVM_MP_STATE_HALTED;
		break;
	case GVM_MP_INIT_RECEIVED:
		k.mp_state = KVM_MP_STATE_INIT_RECEIVED;
		break;
	default:
		return -EINVAL;
	}
	return kind_ioctl(vm, cpu, 0, KVM_SET_MP_STATE, &k);
}

int gvm_get_msr(struct gvm *vm, int cpu, uint32_t index, uint64_t *data)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} k = { .h.nmsrs = 1, .e.index = index };
	struct vmxl_msr_entry e = { .index = index };
	struct vmxl_msrs m = { .nmsrs = 1, .entries = (uintptr_t)&e };
	int ret;

	if (vm->kind == GVM_KVM) {
		ret = ioctl(vm->vcpu_fd[cpu], KVM_GET_MSRS, &k);
		*data = k.e.data;
	} else {
		ret = ioctl(vm->vcpu_fd[cpu], VMXL_GET_MSRS, &m);
		*data = e.data;
	}
	return ret < 0 ? -errno : ret == 1 ? 0 : -EINVAL;
}

int gvm_set_msr(struct gvm *vm, int cpu, uint32_t index, uint64_t data)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} k = { .h.nmsrs = 1, .e.index = index, .e.data = data };
	struct vmxl_msr_entry e = { .index = index, .data = data };
	struct vmxl_msrs m = { .nmsrs = 1, .entries = (uintptr_t)&e };
	int ret;

	if (vm->kind == GVM_KVM)
		ret = ioctl(vm->vcpu_fd[cpu], KVM_SET_MSRS, &k);
	else
		ret = ioctl(vm->vcpu_fd[cpu], VMXL_SET_MSRS, &m);
	return ret < 0 ? -errno : ret == 1 ? 0 : -EINVAL;
}

void *gvm_image_ptr(struct gvm *vm, const void *p)
{
	uint64_t start = (uint64_t)__executable_start & ~(PAGE - 1);

	if ((uint64_t)p < start || (uint64_t)p >= (uint64_t)_end)
		return NULL;
	return vm->mem + IMAGE_GPA + ((uint64_t)p - start);
}

/* ---- several vCPUs at once ---- */

struct par_vcpu {
	struct par *par;
	pthread_t thread;
	int cpu;
	int result;		/* > 0 stopped, < 0 error, 0 still running */
};

struct par {
	struct gvm *vm;
	gvm_exit_fn fn;
	void *arg;
	int nr;
	volatile int stop;	/* set: every thread leaves its loop */
	pthread_mutex_t lock;
	pthread_cond_t done;
	int running;
	struct par_vcpu v[GVM_MAX_VCPUS];
};

static void par_kick_handler(int sig)
{
	(void)sig;	/* only makes RUN return EINTR */
}

static __u8 *immediate_exit_of(struct gvm *vm, int cpu)
{
	return vm->kind == GVM_KVM ?
		&((struct kvm_run *)vm->run[cpu])->immediate_exit :
		&((struct vmxl_run *)vm->run[cpu])->immediate_exit;
}

static void *par_thread(void *p)
{
	struct par_vcpu *v = p;
	struct par *par = v->par;
	struct gvm_exit e;
	int ret = 0;

	while (!par->stop) {
		ret = gvm_run(par->vm, v->cpu, &e);
		if (ret == -EINTR && par->stop) {
			ret = 0;	/* kicked: not an error of its own */
			break;
		}
		/*
		 * A stray signal; or KVM's RUN of a vCPU waiting for INIT or
		 * STARTUP (UNINITIALIZED), which blocks until an event
		 * comes and then gives EAGAIN: go on.
		 */
		if (ret == -EINTR || ret == -EAGAIN) {
			ret = 0;
			continue;
		}
		if (ret)
			break;
		ret = par->fn(par->vm, v->cpu, &e, par->arg);
		if (ret)
			break;
	}
	pthread_mutex_lock(&par->lock);
	v->result = ret;
	if (ret < 0)
		par->stop = 1;
	par->running--;
	pthread_cond_signal(&par->done);
	pthread_mutex_unlock(&par->lock);
	return NULL;
}

int gvm_run_parallel(struct gvm *vm, int nr, gvm_exit_fn fn, void *arg,
		     int timeout_ms, unsigned int *stopped)
{
	struct sigaction sa = { .sa_handler = par_kick_handler }, old;
	struct par par = {
		.vm = vm, .fn = fn, .arg = arg, .nr = nr,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.done = PTHREAD_COND_INITIALIZER,
	};
	struct timespec until;
	int i, ret = 0, started = 0;

	if (nr < 1 || nr > vm->nr_vcpus)
		return -EINVAL;
	sigaction(SIGUSR2, &sa, &old);	/* no SA_RESTART */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&par.lock);
	for (i = 0; i < nr; i++) {
		par.v[i].par = &par;
		par.v[i].cpu = i;
		if (pthread_create(&par.v[i].thread, NULL, par_thread, &par.v[i])) {
			par.stop = 1;
			ret = -EAGAIN;
			break;
		}
		started++;
		par.running++;
	}
	while (par.running && !par.stop) {
		if (pthread_cond_timedwait(&par.done, &par.lock, &until) ==
		    ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	par.stop = 1;
	/* Kick whoever still runs until every thread has left. */
	while (par.running) {
		struct timespec t;

		for (i = 0; i < started; i++) {
			if (par.v[i].result)
				continue;
			*immediate_exit_of(vm, i) = 1;
			pthread_kill(par.v[i].thread, SIGUSR2);
		}
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 10000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&par.done, &par.lock, &t);
	}
	pthread_mutex_unlock(&par.lock);
	if (stopped)
		*stopped = 0;
	for (i = 0; i < started; i++) {
		pthread_join(par.v[i].thread, NULL);
		*immediate_exit_of(vm, i) = 0;
		if (par.v[i].result > 0 && stopped)
			*stopped |= 1u << i;
		if (par.v[i].result < 0 && !ret)
			ret = par.v[i].result;
	}
	sigaction(SIGUSR2, &old, NULL);
	return ret;
}

int gvm_hypervisor_load(enum gvm_kind kind)
{
	int ret;

	if (kind == GVM_KVM) {
		ret = test_module_unload("vmx_lite");
		return ret ? ret : test_kvm_load();
	}
	ret = test_kvm_unload();
	return ret ? ret : test_module_load("vmx_lite", NULL);
}

int gvm_hypervisor_unload(enum gvm_kind kind)
{
	return kind == GVM_KVM ? test_kvm_unload() :
				 test_module_unload("vmx_lite");
}

int gvm_vmxl_reload(const char *params)
{
	test_kvm_unload();
	test_module_unload("vmx_lite");
	return test_module_load("vmx_lite", params);
}
