// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging (docs/dirty-tracking.md): a bitmap per logged slot, set by
 * whoever writes a page (the guest through a nested-page fault or PML,
 * the module's own writes, device DMA), read and cleared transactionally
 * (GET, then CLEAR ranges), and per-vCPU rings of the pages each vCPU
 * dirtied. Cleared pages are re-armed in the nested tables, so their next
 * write is seen again.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "vmxl.h"
#include "trace.h"

unsigned long *vmxl_dirty_bitmap_alloc(unsigned long npages)
{
	return kvcalloc(BITS_TO_LONGS(npages), sizeof(long), GFP_KERNEL_ACCOUNT);
}

/* Clean again: bit cleared, page re-armed (read-only, or dirty bit off). */
static void slot_rearm(struct vmxl_vm *vm, struct vmxl_mmu_walk *walk,
		       struct vmxl_slot *slot, unsigned long idx)
{
	/* No vCPU in the guest may write the page meanwhile. */
	lockdep_assert_held_write(&vm->run_sem);
	lockdep_assert_held(&vm->mmu.lock);
	if (test_and_clear_bit(idx, slot->dirty))
		vmxl_mmu_protect(&vm->mmu, walk,
				 slot->gpa + (idx << PAGE_SHIFT));
}

/*
 * Dirty logging on or off for a live slot, without re-pinning it. On: every
 * page starts clean and unmapped, so the first write to each faults and is
 * logged. Off: mappings stay; read-only ones turn writable on their next
 * write fault.
 */
int vmxl_slot_set_logging(struct vmxl_vm *vm, struct vmxl_slot *slot,
			  bool on)
{
	unsigned long *bm = NULL, *old;

	lockdep_assert_held(&vm->lock);
	if (on) {
		bm = vmxl_dirty_bitmap_alloc(slot->npages);
		if (!bm)
			return -ENOMEM;
	}
	vmxl_tables_begin(vm);
	old = slot->dirty;
	slot->dirty = bm;
	slot->flags ^= VMXL_MEM_LOG_DIRTY;
	if (on)
		vmxl_mmu_zap_all(&vm->mmu);
	vmxl_tables_end(vm);
	kvfree(old);
	return 0;
}

/*
 * Page @idx of tracked @slot was written through @vcpu (NULL: by no vCPU):
 * note it for the reset point, if any; if the slot is logged, set its bit
 * and, when it was clean, queue it on the vCPU's dirty ring.
 * The ring cannot overflow: RUN stops entering the guest before
 * (vmxl_dirty_ring_room()).
 */
void vmxl_mark_dirty(struct vmxl_vcpu *vcpu, struct vmxl_slot *slot,
		     unsigned long idx)
{
	struct vmxl_dirty_entry *e;
	u32 size;

	/* A reset point's bitmap (reset.c): read first, set once. */
	if (slot->written && !test_bit(idx, slot->written))
		set_bit(idx, slot->written);
	if (!slot->dirty)
		return;
	if (test_and_set_bit(idx, slot->dirty) || !vcpu || !vcpu->ring)
		return;
	size = vcpu->vm->dirty_ring_size;
	if (vcpu->ring_tail - vcpu->ring_reset >= size)
		return;		/* full: the bitmap still has it */
	e = &vcpu->ring[vcpu->ring_tail & (size - 1)];
	e->slot = slot->id;
	e->offset = idx;
	/* Userspace may read the entry as soon as it sees the flag. */
	smp_store_release(&e->flags, VMXL_DIRTY_ENTRY_DIRTY);
	vcpu->ring_tail++;
}

void vmxl_log_dirty_gpa(struct vmxl_vcpu *vcpu, u64 gpa)
{
	struct vmxl_slot *slot = vmxl_slot_find(vcpu->vm, gpa);

	if (slot && vmxl_slot_tracked(slot))
		vmxl_mark_dirty(vcpu, slot, (gpa - slot->gpa) >> PAGE_SHIFT);
}

/* Clear @bits (bit i: page @first + i) and write-protect those pages. */
static void dirty_clear(struct vmxl_vm *vm, struct vmxl_slot *slot, u64 first,
			const unsigned long *bits, u64 n)
{
	struct vmxl_mmu_walk walk = { 0 };
	unsigned long i;

	/* With no vCPU in the guest, no stale writable TLB entry survives. */
	vmxl_tables_begin(vm);
	for_each_set_bit(i, bits, n)
		slot_rearm(vm, &walk, slot, first + i);
	vmxl_tables_end(vm);
}

/* The vmxl_dirty_harvest event; counting the bits only when it is on. */
static void trace_harvest(struct vmxl_vm *vm, u32 op,
			  const struct vmxl_slot *slot, u64 first,
			  const unsigned long *bits, u64 n)
{
	if (trace_vmxl_dirty_harvest_enabled())
		trace_vmxl_dirty_harvest(vm, op, slot->id, first, n,
					 bitmap_weight(bits, n));
}

long vmxl_dirty_log_ioctl(struct vmxl_vm *vm, void __user *argp, bool get)
{
	struct vmxl_dirty_log d;
	struct vmxl_slot *slot;
	unsigned long *bits;
	u64 n, bytes;
	long ret = 0;

	if (copy_from_user(&d, argp, sizeof(d)))
		return -EFAULT;
	if (d.reserved[0] || d.reserved[1] ||
	    (d.flags & ~(get ? VMXL_DIRTY_LOG_CLEAR : 0)) ||
	    (get && (d.first_page || d.num_pages)) ||
	    (!get && (d.first_page % 64)))
		return -EINVAL;
	if (d.slot >= vmxl_caps.max_slots)
		return -EINVAL;

	mutex_lock(&vm->lock);
	slot = vm->slots[d.slot];
	ret = -ENOENT;
	if (!slot)
		goto out;
	ret = -EINVAL;
	if (!slot->dirty)
		goto out;
	if (get) {
		d.num_pages = slot->npages;
	} else if (d.first_page >= slot->npages ||
		   d.num_pages > slot->npages - d.first_page) {
		goto out;
	}
	n = d.num_pages;
	bytes = DIV_ROUND_UP(n, 64) * 8;
	ret = 0;
	if (get) {
		/*
		 * Writes the hardware logged are in per-vCPU buffers until
		 * their next exit: bring every vCPU out to collect them.
		 */
		if (vm->mmu.fmt->dirty_bit) {
			vmxl_stop_guests(vm);
			up_write(&vm->run_sem);
		}
		/* Bits set meanwhile may or may not be seen: GET clears none. */
		if (!(d.flags & VMXL_DIRTY_LOG_CLEAR)) {
			if (copy_to_user(u64_to_user_ptr(d.bitmap), slot->dirty,
					 bytes))
				ret = -EFAULT;
			else
				trace_harvest(vm, VMXL_TRACE_DIRTY_GET, slot, 0,
					      slot->dirty, n);
			goto out;
		}
	}
	/* Clearing: exactly the pages reported or given, from one copy. */
	bits = kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!bits) {
		ret = -ENOMEM;
		goto out;
	}
	if (get) {
		bitmap_copy(bits, slot->dirty, n);
		if (copy_to_user(u64_to_user_ptr(d.bitmap), bits, bytes)) {
			ret = -EFAULT;
		} else {
			trace_harvest(vm, VMXL_TRACE_DIRTY_GET_CLEAR, slot, 0,
				      bits, n);
			dirty_clear(vm, slot, 0, bits, n);
		}
	} else {
		if (copy_from_user(bits, u64_to_user_ptr(d.bitmap), bytes)) {
			ret = -EFAULT;
		} else {
			trace_harvest(vm, VMXL_TRACE_DIRTY_CLEAR, slot,
				      d.first_page, bits, n);
			dirty_clear(vm, slot, d.first_page, bits, n);
		}
	}
	kvfree(bits);
out:
	mutex_unlock(&vm->lock);
	return ret;
}

struct vmxl_dirty_entry *vmxl_dirty_ring_alloc(u32 size)
{
	return vmalloc_user(array_size(size, sizeof(struct vmxl_dirty_entry)));
}

/* Every vCPU, now and later, gets a ring of @size entries. */
long vmxl_enable_dirty_ring(struct vmxl_vm *vm, unsigned long size)
{
	struct vmxl_dirty_entry **rings;
	unsigned int i;
	long ret = 0;

	if (size < VMXL_DIRTY_RING_MIN || size > VMXL_DIRTY_RING_MAX ||
	    !is_power_of_2(size))
		return -EINVAL;
	rings = kcalloc(vmxl_caps.max_vcpus, sizeof(*rings), GFP_KERNEL);
	if (!rings)
		return -ENOMEM;
	mutex_lock(&vm->lock);
	if (vm->dirty_ring_size) {
		ret = -EBUSY;
		goto out;
	}
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		if (!vm->vcpus[i])
			continue;
		rings[i] = vmxl_dirty_ring_alloc(size);
		if (!rings[i]) {
			ret = -ENOMEM;
			goto out;
		}
	}
	/* Running vCPUs must not see a half-installed ring. */
	vmxl_stop_guests(vm);
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		if (!vm->vcpus[i])
			continue;
		vm->vcpus[i]->ring = rings[i];
		rings[i] = NULL;
	}
	vm->dirty_ring_size = size;
	up_write(&vm->run_sem);
out:
	mutex_unlock(&vm->lock);
	for (i = 0; i < vmxl_caps.max_vcpus; i++)
		vfree(rings[i]);
	kfree(rings);
	return ret;
}

/* Re-protect what userspace harvested (RESET entries, in ring order). */
long vmxl_reset_dirty_rings(struct vmxl_vm *vm)
{
	struct vmxl_mmu_walk walk = { 0 };
	struct vmxl_vcpu *vcpu;
	struct vmxl_slot *slot = NULL;
	struct vmxl_dirty_entry *e, *ring;
	u32 size, reset, tail, sid, slot_id = U32_MAX;
	unsigned int i;
	u64 offset;
	long n = 0;

	mutex_lock(&vm->lock);
	size = vm->dirty_ring_size;
	if (!size) {
		mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	vmxl_tables_begin(vm);
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		vcpu = vm->vcpus[i];
		if (!vcpu || !vcpu->ring)
			continue;
		/* Guests are out: the ring and its indices hold still. */
		ring = vcpu->ring;
		tail = vcpu->ring_tail;
		for (reset = vcpu->ring_reset; reset != tail; reset++) {
			e = &ring[reset & (size - 1)];
			if (READ_ONCE(e->flags) != VMXL_DIRTY_ENTRY_RESET)
				break;
			/*
			 * Userspace can rewrite the entry under us: read each
			 * field once. The slot may have gone or changed since.
			 */
			offset = READ_ONCE(e->offset);
			sid = READ_ONCE(e->slot);
			if (sid != slot_id) {
				slot_id = sid;
				slot = slot_id < vmxl_caps.max_slots ?
				       vm->slots[slot_id] : NULL;
				if (slot && !slot->dirty)
					slot = NULL;
			}
			if (slot && offset < slot->npages)
				slot_rearm(vm, &walk, slot, offset);
			WRITE_ONCE(e->flags, 0);
		}
		n += reset - vcpu->ring_reset;
		vcpu->ring_reset = reset;
	}
	vmxl_tables_end(vm);
	mutex_unlock(&vm->lock);
	trace_vmxl_dirty_harvest(vm, VMXL_TRACE_DIRTY_RING_RESET, U32_MAX, 0,
				 n, n);
	return n;
}
