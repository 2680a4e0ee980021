// SPDX-License-Identifier: GPL-2.0
/*
 * Reset points (docs/uapi.md, "Reset points"): VMXL_SET_RESET_POINT keeps
 * a copy of every writable slot, every vCPU's state and the VM clock;
 * VMXL_RESET_TO_POINT copies back only the pages written since, which the
 * write-tracking hooks of the dirty log (vmxl_mark_dirty()) note in each
 * slot's "written" bitmap, and re-arms their tracking.
 *
 * Taking a point zaps the nested tables, so every page's first write
 * faults (or, with PML, is logged by the hardware) and sets its bit. A
 * page is only ever mapped writable (or dirty) with its bit set: a reset
 * write-protects (or cleans) each page it copies back.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "vmxl.h"

struct vmxl_point_slot {
	struct vmxl_slot *slot;	/* valid while the point is: layout changes drop it */
	void *copy;		/* slot->npages pages as they were */
	unsigned long *written;	/* installed as slot->written */
};

struct vmxl_rpoint {
	u64 tsc_offset;			/* the VM clock */
	unsigned int nr_slots;
	struct vmxl_point_slot *slots;
	struct vmxl_vcpu_saved **vcpus;	/* max_vcpus, NULL: no vCPU then */
};

void vmxl_reset_point_free(struct vmxl_vm *vm, struct vmxl_rpoint *rp)
{
	unsigned int i;

	if (!rp)
		return;
	for (i = 0; i < rp->nr_slots; i++) {
		vfree(rp->slots[i].copy);
		kvfree(rp->slots[i].written);
	}
	for (i = 0; rp->vcpus && i < vmxl_caps.max_vcpus; i++)
		kvfree(rp->vcpus[i]);
	kfree(rp->vcpus);
	kfree(rp->slots);
	kfree(rp);
}

/*
 * Unhook @vm's point from its slots; the caller frees it after dropping
 * run_sem. Every slot is stable and unused by guests.
 */
struct vmxl_rpoint *vmxl_reset_point_detach(struct vmxl_vm *vm)
{
	struct vmxl_rpoint *rp = vm->reset_point;
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	lockdep_assert_held_write(&vm->run_sem);
	for (i = 0; rp && i < rp->nr_slots; i++)
		rp->slots[i].slot->written = NULL;
	vm->reset_point = NULL;
	return rp;
}

/* Allocate a point for @vm's current slots and vCPUs; nothing copied yet. */
static struct vmxl_rpoint *point_alloc(struct vmxl_vm *vm)
{
	struct vmxl_rpoint *rp;
	struct vmxl_point_slot *ps;
	struct vmxl_slot *slot;
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	rp = kzalloc(sizeof(*rp), GFP_KERNEL_ACCOUNT);
	if (!rp)
		return NULL;
	rp->slots = kcalloc(vmxl_caps.max_slots, sizeof(*rp->slots),
			    GFP_KERNEL_ACCOUNT);
	rp->vcpus = kcalloc(vmxl_caps.max_vcpus, sizeof(*rp->vcpus),
			    GFP_KERNEL_ACCOUNT);
	if (!rp->slots || !rp->vcpus)
		goto fail;
	for (i = 0; i < vmxl_caps.max_slots; i++) {
		slot = vm->slots[i];
		if (!slot || (slot->flags & VMXL_MEM_READONLY))
			continue;
		ps = &rp->slots[rp->nr_slots++];
		ps->slot = slot;
		/* up to max_mem_bytes: a failure is the caller's ENOMEM */
		ps->copy = __vmalloc(slot->npages << PAGE_SHIFT,
				     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		ps->written = vmxl_dirty_bitmap_alloc(slot->npages);
		if (!ps->copy || !ps->written)
			goto fail;
	}
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		if (!vm->vcpus[i])
			continue;
		rp->vcpus[i] = kvmalloc(sizeof(*rp->vcpus[i]),
					GFP_KERNEL_ACCOUNT);
		if (!rp->vcpus[i])
			goto fail;
	}
	return rp;

fail:
	vmxl_reset_point_free(vm, rp);
	return NULL;
}

/* Copy every page of @ps's slot into the point, or back from it. */
static void slot_copy_all(struct vmxl_point_slot *ps)
{
	unsigned long i;

	for (i = 0; i < ps->slot->npages; i++) {
		memcpy_from_page(ps->copy + (i << PAGE_SHIFT),
				 ps->slot->pages[i], 0, PAGE_SIZE);
		cond_resched();
	}
}

/*
 * Copy back the pages of @ps written since, mark them dirty for the
 * dirty log (their contents changed: @ring_vcpu's ring gets them too,
 * where it has room) and write-protect them again.
 */
static long slot_restore(struct vmxl_vm *vm, struct vmxl_point_slot *ps,
			 struct vmxl_vcpu *ring_vcpu)
{
	struct vmxl_slot *slot = ps->slot;
	struct vmxl_mmu_walk walk = { 0 };
	unsigned long i;
	long n = 0;

	lockdep_assert_held_write(&vm->run_sem);
	lockdep_assert_held(&vm->mmu.lock);
	/*
	 * Write protection alone misses writes on VMX with pml=0: Bochs
	 * sets the A/D bits of guest paging structures in pages EPT maps
	 * read-only without an EPT violation (test_reset's most_memory).
	 * With EPT A/D bits on, the CPU marks those pages dirty in EPT:
	 * they are written pages too.
	 */
	if (vm->mmu.fmt->hw_dirty && !vm->mmu.fmt->dirty_bit)
		vmxl_mmu_hw_dirty(&vm->mmu, slot->gpa, slot->npages,
				  ps->written);
	for_each_set_bit(i, ps->written, slot->npages) {
		memcpy_to_page(slot->pages[i], 0,
			       ps->copy + (i << PAGE_SHIFT), PAGE_SIZE);
		/* sets the bit being cleared: first */
		vmxl_mark_dirty(ring_vcpu, slot, i);
		clear_bit(i, ps->written);
		vmxl_mmu_protect(&vm->mmu, &walk, slot->gpa + (i << PAGE_SHIFT));
		if (!(++n % 512))
			cond_resched();
	}
	return n;
}

/* Lock every vCPU of @vm, or none: -EBUSY if one is in an ioctl (RUN). */
static int lock_vcpus(struct vmxl_vm *vm)
{
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		if (vm->vcpus[i] && !mutex_trylock(&vm->vcpus[i]->mutex))
			goto busy;
	}
	return 0;

busy:
	while (i--)
		if (vm->vcpus[i])
			mutex_unlock(&vm->vcpus[i]->mutex);
	return -EBUSY;
}

static void unlock_vcpus(struct vmxl_vm *vm)
{
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	for (i = 0; i < vmxl_caps.max_vcpus; i++)
		if (vm->vcpus[i])
			mutex_unlock(&vm->vcpus[i]->mutex);
}

static long set_point(struct vmxl_vm *vm)
{
	struct vmxl_rpoint *rp, *old;
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	rp = point_alloc(vm);
	if (!rp)
		return -ENOMEM;
	rp->tsc_offset = READ_ONCE(vm->tsc_offset);
	for (i = 0; i < vmxl_caps.max_vcpus; i++)
		if (rp->vcpus[i])
			vmxl_vcpu_save(vm->vcpus[i], rp->vcpus[i]);
	/*
	 * No vCPU runs (their mutexes are ours) and no device DMA either
	 * (run_sem): the memory holds still while it is copied. The tables
	 * are emptied so that every page's next write is seen.
	 */
	vmxl_tables_begin(vm);
	old = vmxl_reset_point_detach(vm);
	for (i = 0; i < rp->nr_slots; i++) {
		slot_copy_all(&rp->slots[i]);
		rp->slots[i].slot->written = rp->slots[i].written;
	}
	vm->reset_point = rp;
	vmxl_mmu_zap_all(&vm->mmu);
	vmxl_tables_end(vm);
	vmxl_reset_point_free(vm, old);
	return 0;
}

static long reset_to_point(struct vmxl_vm *vm)
{
	struct vmxl_rpoint *rp = vm->reset_point;
	struct vmxl_vcpu *ring_vcpu = NULL;
	unsigned int i;
	long n = 0;
	int ret;

	lockdep_assert_held(&vm->lock);
	if (!rp)
		return -ENOENT;
	for (i = 0; i < vmxl_caps.max_vcpus && !ring_vcpu; i++)
		if (vm->vcpus[i] && vm->vcpus[i]->ring)
			ring_vcpu = vm->vcpus[i];
	/*
	 * Every vCPU is out of RUN: what PML logged was flushed at its last
	 * exit, and the bitmaps are complete.
	 */
	vmxl_tables_begin(vm);
	for (i = 0; i < rp->nr_slots; i++)
		n += slot_restore(vm, &rp->slots[i], ring_vcpu);
	vmxl_tables_end(vm);

	/* The VM clock first: each vCPU takes it, then its own IA32_TSC. */
	WRITE_ONCE(vm->tsc_offset, rp->tsc_offset);
	smp_wmb();		/* vcpu_sync_clock() reads them the other way */
	WRITE_ONCE(vm->tsc_gen, vm->tsc_gen + 1);
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		if (!vm->vcpus[i] || !rp->vcpus[i])
			continue;
		/* values the GET side produced: a failure is a module bug */
		ret = vmxl_vcpu_restore(vm->vcpus[i], rp->vcpus[i]);
		if (ret)
			return ret;
	}
	return n;
}

long vmxl_reset_ioctl(struct vmxl_vm *vm, void __user *argp, bool reset)
{
	struct vmxl_reset_point p;
	long ret;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if (p.flags || p.reserved0 || memchr_inv(p.reserved, 0, sizeof(p.reserved)))
		return -EINVAL;
	mutex_lock(&vm->lock);
	ret = lock_vcpus(vm);
	if (ret)
		goto out;
	ret = reset ? reset_to_point(vm) : set_point(vm);
	unlock_vcpus(vm);
out:
	mutex_unlock(&vm->lock);
	return ret;
}
