// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU file descriptor: its creation and lifetime, the run page and
 * dirty ring mappings, the state ioctls, and the run loop that enters the
 * guest through the backend until an exit needs userspace.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/trapnr.h>

#include "vmxl.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

void vmxl_trace_exit(struct vmxl_vcpu *vcpu, unsigned int stat)
{
	trace_vmxl_exit(vcpu, stat);
}

/* Take the VM's TSC basis if VMXL_SET_CLOCK moved it (see struct vmxl_vm). */
static void vcpu_sync_clock(struct vmxl_vcpu *vcpu)
{
	u32 gen = READ_ONCE(vcpu->vm->tsc_gen);

	if (gen == vcpu->tsc_gen)
		return;
	smp_rmb();		/* the offset written before the generation */
	vmxl_backend->set_tsc_offset(vcpu, READ_ONCE(vcpu->vm->tsc_offset));
	vcpu->tsc_gen = gen;
	if (vcpu->lapic)
		vmxl_lapic_tsc_changed(vcpu);
}

static void vcpu_debugregs_get(struct vmxl_vcpu *vcpu, struct vmxl_debugregs *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->db, vcpu->db, sizeof(d->db));
	vmxl_backend->get_dr67(vcpu, &d->dr6, &d->dr7);
}

static int vcpu_debugregs_set(struct vmxl_vcpu *vcpu,
			      const struct vmxl_debugregs *d)
{
	if (d->flags || d->reserved0 || memchr_inv(d->reserved, 0, sizeof(d->reserved)) ||
	    (d->dr6 >> 32) || (d->dr7 >> 32))
		return -EINVAL;
	memcpy(vcpu->db, d->db, sizeof(d->db));
	vmxl_backend->set_dr67(vcpu, d->dr6, d->dr7);
	return 0;
}

static long vcpu_debugregs(struct vmxl_vcpu *vcpu, void __user *argp,
			   bool set)
{
	struct vmxl_debugregs d;

	if (!set) {
		vcpu_debugregs_get(vcpu, &d);
		return copy_to_user(argp, &d, sizeof(d)) ? -EFAULT : 0;
	}
	if (copy_from_user(&d, argp, sizeof(d)))
		return -EFAULT;
	return vcpu_debugregs_set(vcpu, &d);
}

static void vcpu_events_get(struct vmxl_vcpu *vcpu, struct vmxl_vcpu_events *e)
{
	struct vmxl_hw_events h;
	u32 type;

	memset(e, 0, sizeof(*e));
	vmxl_backend->get_events(vcpu, &h);
	type = VMXL_EVT_TYPE(h.info);
	if (!(h.info & VMXL_EVT_VALID) && vcpu->irq_pending >= 0) {
		/* taken (VMXL_INTERRUPT, the APIC), not yet in hardware */
		e->interrupt.injected = 1;
		e->interrupt.nr = vcpu->irq_pending;
	} else if ((h.info & VMXL_EVT_VALID) && type == VMXL_EVT_EXCEPTION) {
		e->exception.injected = 1;
		e->exception.nr = h.info & 0xff;
		e->exception.has_error_code = !!(h.info & VMXL_EVT_HAS_ERR);
		e->exception.error_code = h.err;
	} else if ((h.info & VMXL_EVT_VALID) && type == VMXL_EVT_NMI) {
		e->nmi.injected = 1;
	} else if (h.info & VMXL_EVT_VALID) {
		e->interrupt.injected = 1;
		e->interrupt.nr = h.info & 0xff;
	}
	e->nmi.pending = vcpu->nmi_pending;
	/* an NMI in flight masks NMIs once delivered, not before */
	e->nmi.masked = h.nmi_masked && !e->nmi.injected;
	e->shadow = h.shadow;
}

static int vcpu_events_set(struct vmxl_vcpu *vcpu,
			   const struct vmxl_vcpu_events *e)
{
	struct vmxl_hw_events h = { .shadow = e->shadow };

	if (e->flags || e->exception.pad || memchr_inv(e->interrupt.pad, 0, 2) ||
	    e->nmi.pad || memchr_inv(e->pad, 0, sizeof(e->pad)) ||
	    memchr_inv(e->reserved, 0, sizeof(e->reserved)))
		return -EINVAL;
	if (e->exception.injected > 1 || e->interrupt.injected > 1 ||
	    e->nmi.injected > 1 || e->nmi.pending > 1 || e->nmi.masked > 1 ||
	    e->exception.has_error_code > 1 ||
	    e->exception.injected + e->interrupt.injected +
	    e->nmi.injected > 1)
		return -EINVAL;
	if (e->exception.injected &&
	    (e->exception.nr > 31 || e->exception.nr == X86_TRAP_NMI))
		return -EINVAL;
	/* VM entry refuses these (SDM Vol. 3C 26.3.1.5) */
	if ((e->shadow & ~(VMXL_SHADOW_STI | VMXL_SHADOW_MOV_SS)) ||
	    e->shadow == (VMXL_SHADOW_STI | VMXL_SHADOW_MOV_SS) ||
	    ((e->shadow & VMXL_SHADOW_STI) &&
	     !(vcpu->rflags & X86_EFLAGS_IF)) ||
	    (e->shadow && e->interrupt.injected) ||
	    (e->interrupt.injected && !(vcpu->rflags & X86_EFLAGS_IF)) ||
	    (e->nmi.injected && e->nmi.masked))
		return -EINVAL;
	if (e->exception.injected)
		h.info = VMXL_EVT_VALID | VMXL_EVT_EXCEPTION << 8 |
			 e->exception.nr |
			 (e->exception.has_error_code ? VMXL_EVT_HAS_ERR : 0);
	else if (e->interrupt.injected)
		h.info = VMXL_EVT_VALID | VMXL_EVT_INTR << 8 | e->interrupt.nr;
	else if (e->nmi.injected)
		h.info = VMXL_EVT_VALID | VMXL_EVT_NMI << 8 | X86_TRAP_NMI;
	h.err = e->exception.has_error_code ? e->exception.error_code : 0;
	h.nmi_masked = e->nmi.masked;
	vmxl_backend->set_events(vcpu, &h);
	vcpu->irq_pending = -1;
	vcpu->nmi_pending = e->nmi.pending;
	return 0;
}

static void vcpu_sregs_get(struct vmxl_vcpu *vcpu, struct vmxl_sregs *s)
{
	memset(s, 0, sizeof(*s));
	vmxl_backend->get_sregs(vcpu, s);
	s->apic_base = vcpu->apic_base;
	if (vcpu->lapic)
		s->cr8 = vmxl_lapic_cr8(vcpu);
}

static int vcpu_sregs_set(struct vmxl_vcpu *vcpu, const struct vmxl_sregs *s)
{
	int ret;

	ret = vmxl_sregs_check(s);
	if (ret)
		return ret;
	/* x2APIC (bit 10) needs an APIC that offers it */
	if (vcpu->lapic)
		ret = vmxl_lapic_check_base(vcpu, s->apic_base, true);
	else if (s->apic_base & X2APIC_ENABLE)
		ret = -EINVAL;
	if (ret)
		return ret;
	ret = vmxl_backend->set_sregs(vcpu, s);
	if (ret)
		return ret;
	if (vcpu->lapic) {	/* checked above: cannot fail */
		vmxl_lapic_set_base(vcpu, s->apic_base, true);
		vmxl_lapic_set_cr8(vcpu, s->cr8);
	} else {
		vcpu->apic_base = s->apic_base;
	}
	vcpu->pending = VMXL_PENDING_NONE;
	vcpu->shutdown = false;
	return 0;
}

/*
 * VMXL_RUN, and VMXL_SWITCH_FLOOR when @floor is nonzero: then a
 * hypercall exit goes straight back in, RIP unmoved, until *done reaches
 * @floor.
 */
static long vcpu_run(struct vmxl_vcpu *vcpu, u32 floor, u32 *done)
{
	struct vmxl_run *run = vcpu->run;
	enum vmxl_exit_action act;
	long ret = 0;

	lockdep_assert_held(&vcpu->mutex);
	if (memchr_inv(run->reserved0, 0, sizeof(run->reserved0)))
		return -EINVAL;
	if (vcpu->shutdown) {
		run->exit_reason = VMXL_EXIT_SHUTDOWN;
		return 0;
	}
	if (vcpu->pending != VMXL_PENDING_NONE) {
		ret = vmxl_complete_pending(vcpu);
		if (ret < 0)
			return ret;
	}

	WRITE_ONCE(vcpu->in_run, true);
	vcpu->switch_floor = floor;
	for (;;) {
		if (ret) {	/* the completion made an exit of its own */
			ret = 0;
			break;
		}
		/* also between the waits of a halted vCPU (no entry then) */
		cond_resched();
		if (run->immediate_exit || signal_pending(current)) {
			run->exit_reason = VMXL_EXIT_INTR;
			ret = -EINTR;
			break;
		}
		if (!vmxl_dirty_ring_room(vcpu)) {
			run->exit_reason = VMXL_EXIT_DIRTY_RING_FULL;
			break;
		}
		if (vcpu->lapic) {
			if (vmxl_lapic_prepare(vcpu)) {	/* an EOI exit */
				WRITE_ONCE(vcpu->stats[VMXL_STAT_USER],
					   vcpu->stats[VMXL_STAT_USER] + 1);
				break;
			}
			if (vcpu->mp_state != VMXL_MP_RUNNABLE) {
				/* a signal ends it at the top of the loop */
				vmxl_lapic_block(vcpu);
				continue;
			}
		}
		if (run->request_interrupt_window && vcpu->irq_pending < 0 &&
		    vmxl_backend->interruptible(vcpu)) {
			run->exit_reason = VMXL_EXIT_IRQ_WINDOW_OPEN;
			break;
		}
		vcpu_sync_clock(vcpu);

		down_read(&vcpu->vm->run_sem);
		trace_vmxl_entry(vcpu);
		act = vmxl_backend->vcpu_run(vcpu);
		up_read(&vcpu->vm->run_sem);
		run->exit_count++;
		if (act == VMXL_EXIT_FLOOR) {
			if (++*done < floor)
				continue;
			run->exit_reason = VMXL_EXIT_NONE;
			break;
		}
		if (act == VMXL_EXIT_USER) {
			WRITE_ONCE(vcpu->stats[VMXL_STAT_USER],
				   vcpu->stats[VMXL_STAT_USER] + 1);
			break;
		}
	}
	vcpu->switch_floor = false;
	WRITE_ONCE(vcpu->last_exit, run->exit_reason);
	WRITE_ONCE(vcpu->in_run, false);
	/* Told to listeners here, outside the guest-entry loop. */
	switch (run->exit_reason) {
	case VMXL_EXIT_SHUTDOWN:
		vcpu->shutdown = true;
		vmxl_nl_vcpu_stopped(vcpu, run->exit_reason, 0);
		break;
	case VMXL_EXIT_FAIL_ENTRY:
		vmxl_nl_vcpu_stopped(vcpu, run->exit_reason,
				     run->fail_entry.hardware_reason);
		break;
	case VMXL_EXIT_INTERNAL_ERROR:
		vmxl_nl_vcpu_stopped(vcpu, run->exit_reason,
				     run->internal.suberror);
		break;
	}
	run->if_flag = !!(vcpu->rflags & X86_EFLAGS_IF);
	run->ready_for_interrupt_injection = vcpu->irq_pending < 0 &&
					     vmxl_backend->interruptible(vcpu);
	trace_vmxl_userspace_exit(vcpu, run->exit_reason, ret);
	return ret;
}

static long vcpu_switch_floor(struct vmxl_vcpu *vcpu, void __user *argp)
{
	struct vmxl_switch_floor f;
	long ret;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f.flags || f.done || memchr_inv(f.reserved, 0, sizeof(f.reserved)) ||
	    !f.count || f.count > VMXL_SWITCH_FLOOR_MAX)
		return -EINVAL;
	ret = vcpu_run(vcpu, f.count, &f.done);
	if (ret && ret != -EINTR)
		return ret;
	return copy_to_user(argp, &f, sizeof(f)) ? -EFAULT : ret;
}

static long vcpu_ioctl_locked(struct vmxl_vcpu *vcpu, unsigned int cmd,
			      void __user *argp, unsigned long arg)
{
	union {
		struct vmxl_regs regs;
		struct vmxl_sregs sregs;
		struct vmxl_interrupt irq;
		struct vmxl_vcpu_events events;
	} u;

	switch (cmd) {
	case VMXL_RUN:
		if (arg)
			return -EINVAL;
		return vcpu_run(vcpu, 0, NULL);
	case VMXL_SWITCH_FLOOR:
		return vcpu_switch_floor(vcpu, argp);
	case VMXL_GET_REGS:
		memset(&u.regs, 0, sizeof(u.regs));
		vmxl_regs_get(vcpu, &u.regs);
		return copy_to_user(argp, &u.regs, sizeof(u.regs)) ? -EFAULT : 0;
	case VMXL_SET_REGS:
		if (copy_from_user(&u.regs, argp, sizeof(u.regs)))
			return -EFAULT;
		return vmxl_regs_set(vcpu, &u.regs);
	case VMXL_GET_SREGS:
		vcpu_sregs_get(vcpu, &u.sregs);
		return copy_to_user(argp, &u.sregs, sizeof(u.sregs)) ?
		       -EFAULT : 0;
	case VMXL_SET_SREGS:
		if (copy_from_user(&u.sregs, argp, sizeof(u.sregs)))
			return -EFAULT;
		return vcpu_sregs_set(vcpu, &u.sregs);
	case VMXL_GET_MSRS:
		return vmxl_vcpu_msrs(vcpu, argp, false);
	case VMXL_SET_MSRS:
		return vmxl_vcpu_msrs(vcpu, argp, true);
	case VMXL_GET_FPU:
		return copy_to_user(argp, vcpu->fxsave, sizeof(vcpu->fxsave)) ?
		       -EFAULT : 0;
	case VMXL_SET_FPU:
		return vmxl_fpu_set(vcpu, argp);
	case VMXL_SET_CPUID:
		return vmxl_cpuid_copy_in(vcpu, argp);
	case VMXL_GET_CPUID:
		return vmxl_cpuid_copy_out(argp, vcpu->cpuid, vcpu->nr_cpuid);
	case VMXL_INTERRUPT:
		if (vcpu->lapic)
			return -ENXIO;	/* VMXL_SIGNAL_MSI goes through it */
		if (copy_from_user(&u.irq, argp, sizeof(u.irq)))
			return -EFAULT;
		if (u.irq.flags || u.irq.vector < 32 || u.irq.vector > 255)
			return -EINVAL;
		if (vcpu->irq_pending >= 0 || !vmxl_backend->interruptible(vcpu))
			return -EAGAIN;
		vcpu->irq_pending = u.irq.vector;
		return 0;
	case VMXL_NMI:
		if (arg)
			return -EINVAL;
		if (vcpu->nmi_pending)
			return -EAGAIN;
		vcpu->nmi_pending = true;
		return 0;
	case VMXL_GET_VCPU_EVENTS:
		vcpu_events_get(vcpu, &u.events);
		return copy_to_user(argp, &u.events, sizeof(u.events)) ?
		       -EFAULT : 0;
	case VMXL_SET_VCPU_EVENTS:
		if (copy_from_user(&u.events, argp, sizeof(u.events)))
			return -EFAULT;
		return vcpu_events_set(vcpu, &u.events);
	case VMXL_GET_DEBUGREGS:
		return vcpu_debugregs(vcpu, argp, false);
	case VMXL_SET_DEBUGREGS:
		return vcpu_debugregs(vcpu, argp, true);
	case VMXL_GET_LAPIC:
	case VMXL_SET_LAPIC:
	case VMXL_GET_MP_STATE:
	case VMXL_SET_MP_STATE:
	case VMXL_LAPIC_LINT:
		return vmxl_lapic_ioctl(vcpu, cmd, argp);
	}
	return -ENOTTY;
}

static long vcpu_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vmxl_vcpu *vcpu = filp->private_data;
	long ret;

	/* Guest memory is pinned from the creator's address space. */
	if (vcpu->vm->mm != current->mm)
		return -EIO;
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	/*
	 * A VMXL_SET_CLOCK since the last call counts before this one: a
	 * GET_MSRS reads the new basis, and an IA32_TSC written after it
	 * is not undone at the next entry.
	 */
	vcpu_sync_clock(vcpu);
	ret = vcpu_ioctl_locked(vcpu, cmd, (void __user *)arg, arg);
	mutex_unlock(&vcpu->mutex);
	return ret;
}

/* ---- reset points (reset.c): the state the GET and SET ioctls move ---- */

/* MSRs a reset point keeps besides those of sregs and the APIC state */
static const u32 saved_msrs[] = {
	MSR_IA32_TSC, MSR_IA32_CR_PAT, MSR_IA32_SYSENTER_CS,
	MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_STAR, MSR_LSTAR,
	MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE, MSR_IA32_MISC_ENABLE,
	MSR_K7_HWCR, MSR_MTRRdefType, MSR_MTRRfix64K_00000,
	MSR_MTRRfix16K_80000, MSR_MTRRfix16K_A0000, MSR_MTRRfix4K_C0000,
	MSR_MTRRfix4K_C8000, MSR_MTRRfix4K_D0000, MSR_MTRRfix4K_D8000,
	MSR_MTRRfix4K_E0000, MSR_MTRRfix4K_E8000, MSR_MTRRfix4K_F0000,
	MSR_MTRRfix4K_F8000,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};

void vmxl_vcpu_save(struct vmxl_vcpu *vcpu, struct vmxl_vcpu_saved *s)
{
	struct vmxl_msr_entry *e;
	unsigned int i;

	BUILD_BUG_ON(ARRAY_SIZE(saved_msrs) > VMXL_SAVED_MSRS);
	lockdep_assert_held(&vcpu->mutex);
	memset(s, 0, sizeof(*s));
	vcpu_sync_clock(vcpu);
	vmxl_regs_get(vcpu, &s->regs);
	vcpu_sregs_get(vcpu, &s->sregs);
	vcpu_debugregs_get(vcpu, &s->debugregs);
	vcpu_events_get(vcpu, &s->events);
	if (vcpu->lapic)
		vmxl_lapic_save(vcpu, &s->lapic, &s->mp_state);
	s->db_pending = vcpu->db_pending;
	/* those this vCPU has (no error): the GET_MSRS of a snapshot */
	for (i = 0; i < ARRAY_SIZE(saved_msrs); i++) {
		e = &s->msrs[s->nr_msrs];
		e->index = saved_msrs[i];
		if (!vmxl_emulate_rdmsr(vcpu, e->index, &e->data))
			s->nr_msrs++;
	}
	memcpy(s->fxsave, vcpu->fxsave, sizeof(s->fxsave));
}

/*
 * In the order a snapshot restore takes: sregs before the regs and
 * events they check, the TSC before the APIC timer that counts in it.
 */
int vmxl_vcpu_restore(struct vmxl_vcpu *vcpu, const struct vmxl_vcpu_saved *s)
{
	unsigned int i;
	int ret;

	lockdep_assert_held(&vcpu->mutex);
	vcpu_sync_clock(vcpu);
	ret = vcpu_sregs_set(vcpu, &s->sregs);
	if (ret)
		return ret;
	ret = vmxl_regs_set(vcpu, &s->regs);
	if (ret)
		return ret;
	for (i = 0; i < s->nr_msrs; i++) {
		ret = vmxl_emulate_wrmsr(vcpu, s->msrs[i].index,
					 s->msrs[i].data);
		if (ret)
			return ret;
	}
	memcpy(vcpu->fxsave, s->fxsave, sizeof(vcpu->fxsave));
	ret = vcpu_debugregs_set(vcpu, &s->debugregs);
	if (ret)
		return ret;
	if (vcpu->lapic) {
		ret = vmxl_lapic_restore(vcpu, &s->lapic, s->mp_state);
		if (ret)
			return ret;
	}
	ret = vcpu_events_set(vcpu, &s->events);
	if (ret)
		return ret;
	vcpu->db_pending = s->db_pending;
	return 0;
}

static int vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct vmxl_vcpu *vcpu = filp->private_data;

	unsigned long ring_pages;

	/* The run page and the ring are data; nobody gets to execute them. */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff == VMXL_DIRTY_RING_OFFSET) {
		/* vcpu->ring is set once and lives as long as the fd */
		struct vmxl_dirty_entry *ring = READ_ONCE(vcpu->ring);

		if (!ring)
			return -EINVAL;
		ring_pages = PAGE_ALIGN(vcpu->vm->dirty_ring_size *
					sizeof(*ring)) >> PAGE_SHIFT;
		if (vma_pages(vma) != ring_pages)
			return -EINVAL;
		vma->vm_flags &= ~VM_MAYEXEC;
		vma->vm_pgoff = 0;
		return remap_vmalloc_range(vma, ring, 0);
	}
	if (vma->vm_pgoff || vma_pages(vma) != 1)
		return -EINVAL;
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYEXEC;
	return vm_insert_page(vma, vma->vm_start, virt_to_page(vcpu->run));
}

static void vcpu_free(struct vmxl_vcpu *vcpu)
{
	vmxl_lapic_destroy(vcpu);
	if (vcpu->backend_data)
		vmxl_backend->vcpu_destroy(vcpu);
	kvfree(vcpu->cpuid);
	vfree(vcpu->ring);
	free_page((unsigned long)vcpu->run);
	kfree(vcpu);
	atomic_dec(&vmxl_nr_vcpus);
}

static int vcpu_release(struct inode *inode, struct file *filp)
{
	struct vmxl_vcpu *vcpu = filp->private_data;
	struct vmxl_vm *vm = vcpu->vm;
	unsigned int i;

	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->vcpus[vcpu->id], NULL);
	vm->nr_vcpus--;
	for (i = 0; i < __VMXL_STAT_MAX; i++)
		vm->closed_stats[i] += vcpu->stats[i];
	mutex_unlock(&vm->lock);
	/* APICs send to vCPUs found under RCU (lapic_deliver()) */
	if (vcpu->lapic)
		synchronize_rcu();
	vcpu_free(vcpu);
	vmxl_vm_put(vm);
	return 0;
}

static const struct file_operations vcpu_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vcpu_mmap,
	.release	= vcpu_release,
	.llseek		= noop_llseek,
};

long vmxl_create_vcpu(struct vmxl_vm *vm, unsigned long id)
{
	struct vmxl_vcpu *vcpu;
	int ret, fd;

	if (id >= vmxl_caps.max_vcpus)
		return -EINVAL;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return -ENOMEM;
	atomic_inc(&vmxl_nr_vcpus);
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->cpu = -1;
	mutex_init(&vcpu->mutex);
	vcpu->run = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vcpu->cpuid = kvcalloc(VMXL_MAX_CPUID_ENTRIES, sizeof(*vcpu->cpuid),
			       GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (!vcpu->run || !vcpu->cpuid)
		goto fail;
	vcpu->nr_cpuid = vmxl_default_cpuid(vcpu->cpuid,
					    VMXL_MAX_CPUID_ENTRIES);
	vmxl_cpuid_set_apic_id(vcpu);
	ret = vmxl_backend->vcpu_create(vcpu);
	if (ret)
		goto fail;
	vmxl_vcpu_reset(vcpu);
	ret = vmxl_lapic_create(vcpu);
	if (ret)
		goto fail;

	mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		mutex_unlock(&vm->lock);
		ret = -EEXIST;
		goto fail;
	}
	if (vm->dirty_ring_size) {
		vcpu->ring = vmxl_dirty_ring_alloc(vm->dirty_ring_size);
		if (!vcpu->ring) {
			mutex_unlock(&vm->lock);
			ret = -ENOMEM;
			goto fail;
		}
	}
	kref_get(&vm->ref);
	fd = anon_inode_getfd("vmx-lite-vcpu", &vcpu_fops, vcpu,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		mutex_unlock(&vm->lock);
		vmxl_vm_put(vm);
		ret = fd;
		goto fail;
	}
	/* initialised before senders can find it without the lock */
	smp_store_release(&vm->vcpus[id], vcpu);
	vm->nr_vcpus++;
	mutex_unlock(&vm->lock);
	vmxl_nl_vcpu_created(vm, id);
	return fd;

fail:
	vcpu_free(vcpu);
	return ret;
}

/* ------------------------------------------------------------------ */
/* VM fd                                                              */
