// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite machine-independent core: VM and vCPU file descriptors, memory
 * slots, the run loop and the exit work both vendors share (CPUID, MSR
 * policy, port and MMIO exits to userspace).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/msr-index.h>
#include <asm/processor.h>

#include "vmxl.h"

static atomic_t vmxl_nr_vms = ATOMIC_INIT(0);
static atomic_t vmxl_nr_vcpus = ATOMIC_INIT(0);
static atomic_long_t vmxl_nr_pinned = ATOMIC_LONG_INIT(0);
static u32 vmxl_last_vm_id;		/* under vmxl_vms_lock */

LIST_HEAD(vmxl_vms);
DEFINE_MUTEX(vmxl_vms_lock);	/* vmxl_vms, vmxl_vms_gen, vmxl_last_vm_id */
/* Starts at 1: netlink takes a dump sequence of 0 for "not set". */
unsigned long vmxl_vms_gen = 1;

void vmxl_object_counts(long *vms, long *vcpus, long *pinned)
{
	*vms = atomic_read(&vmxl_nr_vms);
	*vcpus = atomic_read(&vmxl_nr_vcpus);
	*pinned = atomic_long_read(&vmxl_nr_pinned);
}

/* ------------------------------------------------------------------ */
/* Memory slots                                                       */
/* ------------------------------------------------------------------ */

static void slot_free(struct vmxl_vm *vm, struct vmxl_slot *slot)
{
	unpin_user_pages(slot->pages, slot->npages);
	atomic_long_sub(slot->npages, &vmxl_nr_pinned);
	account_locked_vm(vm->mm, slot->npages, false);
	kvfree(slot->pages);
	kvfree(slot->dirty);
	kfree(slot);
}

static unsigned long *dirty_bitmap_alloc(unsigned long npages)
{
	return kvcalloc(BITS_TO_LONGS(npages), sizeof(long), GFP_KERNEL_ACCOUNT);
}

static struct vmxl_slot *slot_create(struct vmxl_vm *vm,
				     const struct vmxl_memory_region *mr)
{
	unsigned int gup = FOLL_LONGTERM;
	struct vmxl_slot *slot;
	unsigned long done = 0;
	long ret;

	slot = kzalloc(sizeof(*slot), GFP_KERNEL_ACCOUNT);
	if (!slot)
		return ERR_PTR(-ENOMEM);
	slot->id = mr->slot;
	slot->flags = mr->flags;
	slot->gpa = mr->guest_phys_addr;
	slot->size = mr->memory_size;
	slot->uaddr = mr->userspace_addr;
	slot->npages = mr->memory_size >> PAGE_SHIFT;
	slot->pages = kvmalloc_array(slot->npages, sizeof(*slot->pages),
				     GFP_KERNEL_ACCOUNT);
	if (slot->flags & VMXL_MEM_LOG_DIRTY)
		slot->dirty = dirty_bitmap_alloc(slot->npages);
	if (!slot->pages ||
	    ((slot->flags & VMXL_MEM_LOG_DIRTY) && !slot->dirty)) {
		kvfree(slot->pages);
		kvfree(slot->dirty);
		kfree(slot);
		return ERR_PTR(-ENOMEM);
	}
	/* Like mlock: pinned guest memory counts against RLIMIT_MEMLOCK. */
	ret = account_locked_vm(vm->mm, slot->npages, true);
	if (ret) {
		kvfree(slot->pages);
		kfree(slot);
		return ERR_PTR(ret);
	}
	if (!(slot->flags & VMXL_MEM_READONLY))
		gup |= FOLL_WRITE;
	while (done < slot->npages) {
		ret = pin_user_pages_fast(slot->uaddr + (done << PAGE_SHIFT),
					  min(slot->npages - done, 1UL << 18),
					  gup, slot->pages + done);
		if (ret <= 0) {
			unpin_user_pages(slot->pages, done);
			account_locked_vm(vm->mm, slot->npages, false);
			kvfree(slot->pages);
			kvfree(slot->dirty);
			kfree(slot);
			return ERR_PTR(ret ? ret : -EFAULT);
		}
		done += ret;
		cond_resched();
	}
	atomic_long_add(slot->npages, &vmxl_nr_pinned);
	return slot;
}

/* Caller holds vm->lock or vm->run_sem. */
static struct vmxl_slot *slot_find(struct vmxl_vm *vm, u64 gpa)
{
	struct vmxl_slot *slot;
	unsigned int i;

	for (i = 0; i < vmxl_caps.max_slots; i++) {
		slot = vm->slots[i];
		if (slot && gpa >= slot->gpa && gpa - slot->gpa < slot->size)
			return slot;
	}
	return NULL;
}

/* Force every vCPU of @vm out of guest mode; caller holds vm->lock. */
static void vm_kick_all(struct vmxl_vm *vm)
{
	struct vmxl_vcpu *vcpu;
	unsigned int i;
	int cpu;

	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		vcpu = vm->vcpus[i];
		if (!vcpu || atomic_read(&vcpu->mode) != VMXL_IN_GUEST)
			continue;
		cpu = READ_ONCE(vcpu->cpu);
		/* The IPI itself is the point: it forces a VM exit. */
		if (cpu >= 0 && cpu != raw_smp_processor_id())
			smp_send_reschedule(cpu);
	}
}

/*
 * Stop every guest of @vm from using its nested tables. A waiting writer
 * blocks new readers, and the kick ends the entries already under way
 * (a host timer tick would too, later).
 */
static void vm_stop_guests(struct vmxl_vm *vm)
{
	vm_kick_all(vm);
	down_write(&vm->run_sem);
}

/*
 * Rewrite the nested tables: every vCPU out of the guest (and kept out),
 * the tables locked. vm_tables_end() bumps the TLB generation, so each
 * vCPU flushes before it enters again. Caller holds vm->lock.
 */
static void vm_tables_begin(struct vmxl_vm *vm)
{
	vm_stop_guests(vm);
	mutex_lock(&vm->mmu_lock);
}

static void vm_tables_end(struct vmxl_vm *vm)
{
	mutex_unlock(&vm->mmu_lock);
	atomic64_inc(&vm->tlb_gen);
	up_write(&vm->run_sem);
}

/* Whether a slot other than @except holds part of [@gpa, @end). */
bool vmxl_slots_overlap(struct vmxl_vm *vm, u64 gpa, u64 end, u32 except)
{
	struct vmxl_slot *s;
	unsigned int i;

	for (i = 0; i < vmxl_caps.max_slots; i++) {
		s = vm->slots[i];
		if (s && i != except && gpa < s->gpa + s->size && s->gpa < end)
			return true;
	}
	return false;
}

/* Clean again: bit cleared, page re-armed (read-only, or dirty bit off). */
static void slot_rearm(struct vmxl_vm *vm, struct vmxl_mmu_walk *walk,
		       struct vmxl_slot *slot, unsigned long idx)
{
	if (test_and_clear_bit(idx, slot->dirty))
		vmxl_mmu_protect(&vm->mmu, walk,
				 slot->gpa + (idx << PAGE_SHIFT));
}

/*
 * Dirty logging on or off for a live slot, without re-pinning it. On: every
 * page starts clean and unmapped, so the first write to each faults and is
 * logged. Off: mappings stay; read-only ones turn writable on their next
 * write fault. Caller holds vm->lock.
 */
static int slot_set_logging(struct vmxl_vm *vm, struct vmxl_slot *slot,
			    bool on)
{
	unsigned long *bm = NULL, *old;

	if (on) {
		bm = dirty_bitmap_alloc(slot->npages);
		if (!bm)
			return -ENOMEM;
	}
	vm_tables_begin(vm);
	old = slot->dirty;
	slot->dirty = bm;
	slot->flags ^= VMXL_MEM_LOG_DIRTY;
	if (on)
		vmxl_mmu_zap_all(&vm->mmu);
	vm_tables_end(vm);
	kvfree(old);
	return 0;
}

static long vm_set_memory_region(struct vmxl_vm *vm, void __user *argp)
{
	struct vmxl_memory_region mr;
	struct vmxl_slot *old, *new = NULL;
	u64 end, mem;
	int ret;

	if (copy_from_user(&mr, argp, sizeof(mr)))
		return -EFAULT;
	if (mr.reserved[0] || mr.reserved[1])
		return -EINVAL;
	if (mr.flags & ~(VMXL_MEM_READONLY | VMXL_MEM_LOG_DIRTY))
		return -EINVAL;
	if (mr.slot >= vmxl_caps.max_slots)
		return -EINVAL;
	if (!PAGE_ALIGNED(mr.guest_phys_addr) ||
	    !PAGE_ALIGNED(mr.memory_size) ||
	    !PAGE_ALIGNED(mr.userspace_addr))
		return -EINVAL;
	if (check_add_overflow(mr.guest_phys_addr, mr.memory_size, &end) ||
	    end > (1ULL << boot_cpu_data.x86_phys_bits) ||
	    mr.memory_size > vmxl_caps.max_mem_bytes)
		return -EINVAL;
	if (mr.memory_size &&
	    (mr.userspace_addr + mr.memory_size < mr.userspace_addr ||
	     !access_ok((void __user *)(unsigned long)mr.userspace_addr,
			mr.memory_size)))
		return -EFAULT;

	mutex_lock(&vm->lock);
	old = vm->slots[mr.slot];
	if (old && old->gpa == mr.guest_phys_addr && old->size == mr.memory_size &&
	    old->uaddr == mr.userspace_addr &&
	    (old->flags ^ mr.flags) == VMXL_MEM_LOG_DIRTY) {
		ret = slot_set_logging(vm, old, mr.flags & VMXL_MEM_LOG_DIRTY);
		mutex_unlock(&vm->lock);
		return ret;
	}
	mem = vm->mem_bytes - (old ? old->size : 0);
	if (mr.memory_size) {
		if (vmxl_slots_overlap(vm, mr.guest_phys_addr, end, mr.slot) ||
		    vmxl_smmu_overlaps(vm, mr.guest_phys_addr, end)) {
			mutex_unlock(&vm->lock);
			return -EEXIST;
		}
		if (mem + mr.memory_size > vmxl_caps.max_mem_bytes) {
			mutex_unlock(&vm->lock);
			return -ENOMEM;
		}
		new = slot_create(vm, &mr);
		if (IS_ERR(new)) {
			mutex_unlock(&vm->lock);
			return PTR_ERR(new);
		}
	} else if (!old) {
		mutex_unlock(&vm->lock);
		return -ENOENT;
	}

	/* Guests may hold translations of the old layout: stop, zap, flush. */
	vm_tables_begin(vm);
	vm->slots[mr.slot] = new;
	vm->nr_slots += !!new - !!old;
	vm->mem_bytes = mem + mr.memory_size;
	vmxl_mmu_zap_all(&vm->mmu);
	vm_tables_end(vm);

	if (old)
		slot_free(vm, old);
	mutex_unlock(&vm->lock);
	return 0;
}

/*
 * Page @idx of logged @slot was written through @vcpu (NULL: by no vCPU):
 * set its bit and, when it was clean, queue it on the vCPU's dirty ring.
 * The ring cannot overflow: RUN stops entering the guest before
 * (vmxl_dirty_ring_room()).
 */
static void mark_dirty(struct vmxl_vcpu *vcpu, struct vmxl_slot *slot,
		       unsigned long idx)
{
	struct vmxl_dirty_entry *e;
	u32 size;

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

/*
 * Ring entries one exit may fill from now on, besides the few (string
 * I/O, emulated accesses) that RING_RESERVE keeps free; U32_MAX without a
 * ring. RUN does not enter the guest at 0.
 */
#define RING_RESERVE	8
u32 vmxl_dirty_ring_room(const struct vmxl_vcpu *vcpu)
{
	u32 used = vcpu->ring_tail - vcpu->ring_reset;
	u32 size = vcpu->vm->dirty_ring_size;

	if (!vcpu->ring)
		return U32_MAX;
	return used + RING_RESERVE >= size ? 0 : size - RING_RESERVE - used;
}

void vmxl_log_dirty_gpa(struct vmxl_vcpu *vcpu, u64 gpa)
{
	struct vmxl_slot *slot = slot_find(vcpu->vm, gpa);

	if (slot && slot->dirty)
		mark_dirty(vcpu, slot, (gpa - slot->gpa) >> PAGE_SHIFT);
}

/* Clear @bits (bit i: page @first + i) and write-protect those pages. */
static void dirty_clear(struct vmxl_vm *vm, struct vmxl_slot *slot, u64 first,
			const unsigned long *bits, u64 n)
{
	struct vmxl_mmu_walk walk = { 0 };
	unsigned long i;

	/* With no vCPU in the guest, no stale writable TLB entry survives. */
	vm_tables_begin(vm);
	for_each_set_bit(i, bits, n)
		slot_rearm(vm, &walk, slot, first + i);
	vm_tables_end(vm);
}

static long vm_dirty_log(struct vmxl_vm *vm, void __user *argp, bool get)
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
			vm_stop_guests(vm);
			up_write(&vm->run_sem);
		}
		/* Bits set meanwhile may or may not be seen: GET clears none. */
		if (!(d.flags & VMXL_DIRTY_LOG_CLEAR)) {
			if (copy_to_user(u64_to_user_ptr(d.bitmap), slot->dirty,
					 bytes))
				ret = -EFAULT;
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
		if (copy_to_user(u64_to_user_ptr(d.bitmap), bits, bytes))
			ret = -EFAULT;
		else
			dirty_clear(vm, slot, 0, bits, n);
	} else {
		if (copy_from_user(bits, u64_to_user_ptr(d.bitmap), bytes))
			ret = -EFAULT;
		else
			dirty_clear(vm, slot, d.first_page, bits, n);
	}
	kvfree(bits);
out:
	mutex_unlock(&vm->lock);
	return ret;
}

static struct vmxl_dirty_entry *ring_alloc(u32 size)
{
	return vmalloc_user(array_size(size, sizeof(struct vmxl_dirty_entry)));
}

/* Every vCPU, now and later, gets a ring of @size entries. */
static long vm_enable_dirty_ring(struct vmxl_vm *vm, unsigned long size)
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
		rings[i] = ring_alloc(size);
		if (!rings[i]) {
			ret = -ENOMEM;
			goto out;
		}
	}
	/* Running vCPUs must not see a half-installed ring. */
	vm_stop_guests(vm);
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
static long vm_reset_dirty_rings(struct vmxl_vm *vm)
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
	vm_tables_begin(vm);
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
	vm_tables_end(vm);
	mutex_unlock(&vm->lock);
	return n;
}

bool vmxl_gpa_is_ram(struct vmxl_vm *vm, u64 gpa, bool write)
{
	struct vmxl_slot *slot = slot_find(vm, gpa);

	return slot && !(write && (slot->flags & VMXL_MEM_READONLY));
}

/* Nested-page fault on guest RAM: map the page. Caller holds run_sem. */
int vmxl_handle_ram_fault(struct vmxl_vcpu *vcpu, u64 gpa, bool write)
{
	struct vmxl_vm *vm = vcpu->vm;
	struct vmxl_slot *slot = slot_find(vm, gpa);
	unsigned long idx;
	struct page *page;
	bool writable;
	int ret;

	if (!slot || (write && (slot->flags & VMXL_MEM_READONLY)))
		return -ENOENT;
	idx = (gpa - slot->gpa) >> PAGE_SHIFT;
	page = slot->pages[idx];
	writable = !(slot->flags & VMXL_MEM_READONLY);
	/*
	 * Logging: map for reading until the first write, which is logged;
	 * or, where the hardware logs writes itself, writable and clean.
	 */
	if (slot->dirty) {
		if (write)
			mark_dirty(vcpu, slot, idx);
		else if (!vm->mmu.fmt->dirty_bit)
			writable = false;
	}
	mutex_lock(&vm->mmu_lock);
	ret = vmxl_mmu_map(&vm->mmu, gpa & PAGE_MASK, page_to_pfn(page),
			   writable);
	mutex_unlock(&vm->mmu_lock);
	return ret;
}

/* Copy guest-physical memory; caller holds run_sem or vm->lock. */
static int gpa_copy(struct vmxl_vm *vm, struct vmxl_vcpu *vcpu, u64 gpa,
		    void *buf, unsigned int len, bool write)
{
	while (len) {
		struct vmxl_slot *slot = slot_find(vm, gpa);
		unsigned int off = offset_in_page(gpa);
		unsigned int n = min_t(unsigned int, len, PAGE_SIZE - off);
		unsigned long idx;
		struct page *page;
		void *va;

		if (!slot || (write && (slot->flags & VMXL_MEM_READONLY)))
			return -EFAULT;
		idx = (gpa - slot->gpa) >> PAGE_SHIFT;
		page = slot->pages[idx];
		va = kmap_local_page(page);
		if (write) {
			memcpy(va + off, buf, n);
			set_page_dirty_lock(page);
			/* The module's writes count like the guest's own. */
			if (slot->dirty)
				mark_dirty(vcpu, slot, idx);
		} else {
			memcpy(buf, va + off, n);
		}
		kunmap_local(va);
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int vmxl_read_gpa(struct vmxl_vm *vm, u64 gpa, void *buf, unsigned int len)
{
	return gpa_copy(vm, NULL, gpa, buf, len, false);
}

int vmxl_gpa_write(struct vmxl_vm *vm, u64 gpa, const void *buf,
		   unsigned int len)
{
	return gpa_copy(vm, NULL, gpa, (void *)buf, len, true);
}

/*
 * Copy between guest page(s) and user memory, for device DMA: -ENOENT
 * where there is no RAM (or it is read-only, for a write), -EFAULT for a
 * bad user buffer. Writes count as dirty. Caller holds run_sem.
 */
int vmxl_gpa_user_copy(struct vmxl_vm *vm, u64 gpa, void __user *ubuf,
		       unsigned int len, bool to_guest)
{
	while (len) {
		struct vmxl_slot *slot = slot_find(vm, gpa);
		unsigned int off = offset_in_page(gpa);
		unsigned int n = min_t(unsigned int, len, PAGE_SIZE - off);
		unsigned long idx, left;
		struct page *page;
		void *va;

		if (!slot || (to_guest && (slot->flags & VMXL_MEM_READONLY)))
			return -ENOENT;
		idx = (gpa - slot->gpa) >> PAGE_SHIFT;
		page = slot->pages[idx];
		va = kmap_local_page(page);
		if (to_guest) {
			left = copy_from_user(va + off, ubuf, n);
			set_page_dirty_lock(page);
			if (slot->dirty && left < n)
				mark_dirty(NULL, slot, idx);
		} else {
			left = copy_to_user(ubuf, va + off, n);
		}
		kunmap_local(va);
		if (left)
			return -EFAULT;
		gpa += n;
		ubuf += n;
		len -= n;
	}
	return 0;
}

int vmxl_write_gpa(struct vmxl_vcpu *vcpu, u64 gpa, const void *buf,
		   unsigned int len)
{
	return gpa_copy(vcpu->vm, vcpu, gpa, (void *)buf, len, true);
}

/* ------------------------------------------------------------------ */
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
		e->eax = min(e->eax, 0xdU);
		break;
	case 1:
		e->ebx &= 0x0000ffff;	/* APIC id and count: per vCPU */
		e->ecx = (e->ecx & CPUID1_ECX_OK) | CPUID_HYPERVISOR;
		e->edx &= CPUID1_EDX_OK;
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
	case 4:
		break;
	case 0x80000000:
		e->eax = min(e->eax, 0x80000008U);
		break;
	case 0x80000001:
		e->ecx &= CPUID_X1_ECX_OK;
		e->edx &= CPUID_X1_EDX_OK;
		break;
	case 0x80000002 ... 0x80000006:
		break;
	case 0x80000008:
		e->eax &= 0xffff;	/* address sizes only */
		e->ebx = 0;
		e->ecx = 0;
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

	basic = min(cpuid_eax(0), 0xdU);
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
	ext = min(cpuid_eax(0x80000000), 0x80000008U);
	for (fn = 0x80000000; fn <= ext; fn++)
		cpuid_add(out, &n, max, fn, 0, 0);
	return n;
}

static void vcpu_cpuid_set_apic_id(struct vmxl_vcpu *vcpu)
{
	u32 i;

	for (i = 0; i < vcpu->nr_cpuid; i++)
		if (vcpu->cpuid[i].function == 1)
			vcpu->cpuid[i].ebx = (vcpu->cpuid[i].ebx & 0x00ffffff) |
					     (vcpu->id << 24);
}

void vmxl_emulate_cpuid(struct vmxl_vcpu *vcpu)
{
	u32 fn = vcpu->regs[0], idx = vcpu->regs[1], i;
	struct vmxl_cpuid_entry *e = NULL;

	for (i = 0; i < vcpu->nr_cpuid; i++) {
		struct vmxl_cpuid_entry *c = &vcpu->cpuid[i];

		if (c->function == fn &&
		    (!(c->flags & VMXL_CPUID_FLAG_INDEXED) || c->index == idx)) {
			e = c;
			break;
		}
	}
	/* A leaf not in the table reads as zeros (AMD's rule). */
	vcpu->regs[0] = e ? e->eax : 0;
	vcpu->regs[3] = e ? e->ebx : 0;
	vcpu->regs[1] = e ? e->ecx : 0;
	vcpu->regs[2] = e ? e->edx : 0;
}

static int cpuid_copy_in(struct vmxl_vcpu *vcpu, void __user *argp)
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
	int fixed = mtrr_fixed_index(index);

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
	}
	return vmxl_backend->get_msr(vcpu, index, data);
}

int vmxl_emulate_wrmsr(struct vmxl_vcpu *vcpu, u32 index, u64 data)
{
	u64 phys_mask = ~((1ULL << boot_cpu_data.x86_phys_bits) - 1);
	int fixed = mtrr_fixed_index(index), i, ret;

	if (fixed >= 0) {
		for (i = 0; i < 8; i++)
			if (!mtrr_type_ok(data >> (8 * i)))
				return -EINVAL;
		vcpu->mtrr_fixed[fixed] = data;
		return 0;
	}
	switch (index) {
	case MSR_IA32_APICBASE:
		/* BSP (8), x2APIC enable (10; not offered), enable (11) */
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
	}
	ret = msr_value_fixup(index, &data);
	return ret ? ret : vmxl_backend->set_msr(vcpu, index, data);
}

static long vcpu_msrs(struct vmxl_vcpu *vcpu, void __user *argp, bool set)
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
		if (set ? vmxl_emulate_wrmsr(vcpu, ents[i].index, ents[i].data) :
			  vmxl_emulate_rdmsr(vcpu, ents[i].index, &ents[i].data))
			break;
	}
	ret = i;
	if (!set && copy_to_user(u64_to_user_ptr(m.entries), ents,
				 i * sizeof(*ents)))
		ret = -EFAULT;
out:
	kvfree(ents);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Exits to userspace shared by both vendors                          */
/* ------------------------------------------------------------------ */

enum vmxl_exit_action vmxl_internal_error(struct vmxl_vcpu *vcpu, u32 sub,
					  u64 data0, u64 data1)
{
	struct vmxl_run *run = vcpu->run;

	memset(&run->internal, 0, sizeof(run->internal));
	run->exit_reason = VMXL_EXIT_INTERNAL_ERROR;
	run->internal.suberror = sub;
	run->internal.data[0] = data0;
	run->internal.data[1] = data1;
	return VMXL_EXIT_USER;
}

enum vmxl_exit_action vmxl_mmio_exit(struct vmxl_vcpu *vcpu,
				     const struct vmxl_walk_ctx *walk,
				     u64 linear_rip, enum vmxl_cpu_mode mode,
				     u64 gpa)
{
	struct vmxl_run *run = vcpu->run;
	struct vmxl_insn insn;
	unsigned int n = 0;
	u8 bytes[16] = {};
	u64 val;
	int ret;

	ret = vmxl_fetch_insn(walk, linear_rip, bytes, &n);
	if (ret && !n)
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   linear_rip, gpa);
	ret = vmxl_decode_mmio(bytes, n, mode, &insn);
	if (ret) {
		vmxl_internal_error(vcpu, VMXL_INTERNAL_EMULATION, gpa,
				    linear_rip);
		run->internal.ninsn = n;
		memcpy(run->internal.insn, bytes, n);
		return VMXL_EXIT_USER;
	}

	/* The SMMU's registers are the module's own device. */
	if (vmxl_smmu_mmio(vcpu, gpa, &insn))
		return VMXL_EXIT_RESUME;

	memset(&run->mmio, 0, sizeof(run->mmio));
	run->exit_reason = VMXL_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = insn.size;
	run->mmio.is_write = insn.is_write;
	if (insn.is_write) {
		val = vmxl_mmio_store_value(&insn, vcpu->regs);
		memcpy(run->mmio.data, &val, insn.size);
		vcpu->rip += insn.len;
	} else {
		vcpu->mmio_insn = insn;
		vcpu->pending = VMXL_PENDING_MMIO_READ;
		vcpu->pending_next_rip = vcpu->rip + insn.len;
	}
	return VMXL_EXIT_USER;
}

/* VMMCALL / VMCALL, already stepped over: hand it to userspace. */
enum vmxl_exit_action vmxl_hypercall_exit(struct vmxl_vcpu *vcpu)
{
	struct vmxl_run *run = vcpu->run;

	memset(&run->hypercall, 0, sizeof(run->hypercall));
	run->exit_reason = VMXL_EXIT_HYPERCALL;
	run->hypercall.nr = vcpu->regs[0];
	run->hypercall.args[0] = vcpu->regs[3];
	run->hypercall.args[1] = vcpu->regs[1];
	run->hypercall.args[2] = vcpu->regs[2];
	run->hypercall.args[3] = vcpu->regs[6];
	run->hypercall.args[4] = vcpu->regs[7];
	run->hypercall.ret = vcpu->regs[0];
	vcpu->pending = VMXL_PENDING_HYPERCALL;
	return VMXL_EXIT_USER;
}

/* RDMSR / WRMSR with ECX, EDX:EAX. Nonzero: the backend injects #GP. */
int vmxl_msr_exit(struct vmxl_vcpu *vcpu, bool write)
{
	u32 index = vcpu->regs[1];
	u64 data;

	if (write) {
		data = (vcpu->regs[2] << 32) | (u32)vcpu->regs[0];
		return vmxl_emulate_wrmsr(vcpu, index, data);
	}
	if (vmxl_emulate_rdmsr(vcpu, index, &data))
		return -EINVAL;
	vcpu->regs[0] = (u32)data;
	vcpu->regs[2] = data >> 32;
	return 0;
}

/*
 * Length of the legacy/REX prefixes of the instruction at @linear_rip,
 * and its segment override (-1 for none, else 0-5: ES CS SS DS FS GS).
 * For backends without a hardware-decoded length or segment.
 */
unsigned int vmxl_insn_prefixes(const struct vmxl_walk_ctx *w, u64 linear_rip,
				bool long64, int *seg)
{
	static const u8 seg_prefix[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
	unsigned int n = 0, i, j;
	u8 b[16];

	*seg = -1;
	vmxl_fetch_insn(w, linear_rip, b, &n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < ARRAY_SIZE(seg_prefix); j++)
			if (b[i] == seg_prefix[j])
				*seg = j;
		if (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf0 ||
		    b[i] == 0xf2 || b[i] == 0xf3 ||
		    memchr(seg_prefix, b[i], sizeof(seg_prefix)))
			continue;
		if (long64 && (b[i] & 0xf0) == 0x40)
			continue;
		break;
	}
	return i;
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

static u64 addr_mask(u8 addr_size)
{
	return addr_size == 8 ? ~0ULL : (1ULL << (addr_size * 8)) - 1;
}

/* Advance the string registers after one element moved. */
static void string_step(struct vmxl_vcpu *vcpu, int reg, u8 size,
			u8 addr_size)
{
	u64 mask = addr_mask(addr_size);
	u64 step = (vcpu->rflags & X86_EFLAGS_DF) ? -(u64)size : size;

	vcpu->regs[reg] = (vcpu->regs[reg] & ~mask) |
			  ((vcpu->regs[reg] + step) & mask);
}

/* After a string element: consume one count; finished -> next insn. */
static void string_done(struct vmxl_vcpu *vcpu, bool rep, u8 addr_size,
			u64 next_rip)
{
	u64 mask = addr_mask(addr_size);

	if (rep) {
		vcpu->regs[1] = (vcpu->regs[1] & ~mask) |
				((vcpu->regs[1] - 1) & mask);
		if (vcpu->regs[1] & mask)
			return;	/* same instruction again */
	}
	vcpu->rip = next_rip;
}

enum vmxl_exit_action vmxl_io_exit(struct vmxl_vcpu *vcpu,
				   const struct vmxl_io_info *io)
{
	struct vmxl_run *run = vcpu->run;
	u64 lin, gpa, mask = addr_mask(io->addr_size);
	int reg = io->in ? 7 : 6;	/* RDI for INS, RSI for OUTS */

	memset(&run->io, 0, sizeof(run->io));
	run->exit_reason = VMXL_EXIT_IO;
	run->io.port = io->port;
	run->io.size = io->size;
	run->io.direction = io->in ? VMXL_IO_IN : VMXL_IO_OUT;
	run->io.string = io->string;
	run->io.rep = io->rep;

	if (!io->string) {
		if (io->in) {
			vcpu->pending = VMXL_PENDING_IO_IN;
			vcpu->pending_str.addr_size = 0;
		} else {
			memcpy(run->io.data, &vcpu->regs[0], io->size);
		}
		vcpu->pending_next_rip = io->next_rip;
		if (!io->in)
			vcpu->rip = io->next_rip;
		return VMXL_EXIT_USER;
	}

	/* REP with a zero count does nothing at all. */
	if (io->rep && !(vcpu->regs[1] & mask)) {
		vcpu->rip = io->next_rip;
		return VMXL_EXIT_RESUME;
	}
	lin = io->seg_base + (vcpu->regs[reg] & mask);
	if (vmxl_gva_to_gpa(&io->walk, lin, &gpa))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   lin, 0);
	if (io->in) {
		vcpu->pending = VMXL_PENDING_IO_IN;
		vcpu->pending_str.gpa = gpa;	/* already translated */
		vcpu->pending_str.rep = io->rep;
		vcpu->pending_str.addr_size = io->addr_size;
		vcpu->pending_next_rip = io->next_rip;
		return VMXL_EXIT_USER;
	}
	if (vmxl_read_gpa(vcpu->vm, gpa, run->io.data, io->size))
		return vmxl_internal_error(vcpu, VMXL_INTERNAL_GUEST_WALK,
					   lin, gpa);
	string_step(vcpu, reg, io->size, io->addr_size);
	string_done(vcpu, io->rep, io->addr_size, io->next_rip);
	return VMXL_EXIT_USER;
}

/* Finish what the last exit left for userspace to fill in. */
static int vcpu_complete_pending(struct vmxl_vcpu *vcpu)
{
	struct vmxl_run *run = vcpu->run;
	int ret = 0;
	u64 val = 0;

	switch (vcpu->pending) {
	case VMXL_PENDING_NONE:
		return 0;
	case VMXL_PENDING_IO_IN:
		if (!vcpu->pending_str.addr_size) {
			memcpy(&vcpu->regs[0], run->io.data, run->io.size);
			/* IN EAX zero-extends into RAX like any 32-bit write */
			if (run->io.size == 4)
				vcpu->regs[0] &= 0xffffffffULL;
			vcpu->rip = vcpu->pending_next_rip;
			break;
		}
		down_read(&vcpu->vm->run_sem);
		ret = vmxl_write_gpa(vcpu, vcpu->pending_str.gpa,
				     run->io.data, run->io.size);
		up_read(&vcpu->vm->run_sem);
		string_step(vcpu, 7, run->io.size, vcpu->pending_str.addr_size);
		string_done(vcpu, vcpu->pending_str.rep,
			    vcpu->pending_str.addr_size, vcpu->pending_next_rip);
		break;
	case VMXL_PENDING_MMIO_READ:
		memcpy(&val, run->mmio.data, vcpu->mmio_insn.size);
		vmxl_mmio_complete_load(&vcpu->mmio_insn, vcpu->regs, val);
		vcpu->rip = vcpu->pending_next_rip;
		break;
	case VMXL_PENDING_HYPERCALL:
		vcpu->regs[0] = run->hypercall.ret;
		break;
	}
	vcpu->pending = VMXL_PENDING_NONE;
	return ret;
}

/* ------------------------------------------------------------------ */
/* vCPU fd                                                            */
/* ------------------------------------------------------------------ */

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

	if (memchr_inv(run->reserved0, 0, sizeof(run->reserved0)))
		return -EINVAL;
	if (vcpu->shutdown) {
		run->exit_reason = VMXL_EXIT_SHUTDOWN;
		return 0;
	}
	if (vcpu_complete_pending(vcpu))
		return -EFAULT;

	WRITE_ONCE(vcpu->in_run, true);
	vcpu->switch_floor = floor;
	for (;;) {
		if (run->immediate_exit || signal_pending(current)) {
			run->exit_reason = VMXL_EXIT_INTR;
			ret = -EINTR;
			break;
		}
		if (!vmxl_dirty_ring_room(vcpu)) {
			run->exit_reason = VMXL_EXIT_DIRTY_RING_FULL;
			break;
		}
		if (run->request_interrupt_window && vcpu->irq_pending < 0 &&
		    vmxl_backend->interruptible(vcpu)) {
			run->exit_reason = VMXL_EXIT_IRQ_WINDOW_OPEN;
			break;
		}
		cond_resched();

		down_read(&vcpu->vm->run_sem);
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

static void regs_to_user(struct vmxl_vcpu *vcpu, struct vmxl_regs *r)
{
	BUILD_BUG_ON(offsetof(struct vmxl_regs, r15) != 15 * sizeof(u64));
	memcpy(r, vcpu->regs, sizeof(vcpu->regs));
	r->rip = vcpu->rip;
	r->rflags = vcpu->rflags;
}

#define RFLAGS_RESERVED	(~0x3f7fd7ULL)	/* must-be-zero bits (bit 1 is always 1) */

static int regs_from_user(struct vmxl_vcpu *vcpu, const struct vmxl_regs *r)
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

static int sregs_check(const struct vmxl_sregs *s)
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
	if (s->apic_base & (~((1ULL << boot_cpu_data.x86_phys_bits) - 1) |
			    0x6ff | BIT(10)))
		return -EINVAL;
	return 0;
}

static u32 host_mxcsr_mask;

static long vcpu_ioctl_locked(struct vmxl_vcpu *vcpu, unsigned int cmd,
			      void __user *argp, unsigned long arg)
{
	union {
		struct vmxl_regs regs;
		struct vmxl_sregs sregs;
		struct vmxl_interrupt irq;
	} u;
	u32 mxcsr;
	long ret;

	switch (cmd) {
	case VMXL_RUN:
		if (arg)
			return -EINVAL;
		return vcpu_run(vcpu, 0, NULL);
	case VMXL_SWITCH_FLOOR:
		return vcpu_switch_floor(vcpu, argp);
	case VMXL_GET_REGS:
		memset(&u.regs, 0, sizeof(u.regs));
		regs_to_user(vcpu, &u.regs);
		return copy_to_user(argp, &u.regs, sizeof(u.regs)) ? -EFAULT : 0;
	case VMXL_SET_REGS:
		if (copy_from_user(&u.regs, argp, sizeof(u.regs)))
			return -EFAULT;
		return regs_from_user(vcpu, &u.regs);
	case VMXL_GET_SREGS:
		memset(&u.sregs, 0, sizeof(u.sregs));
		vmxl_backend->get_sregs(vcpu, &u.sregs);
		u.sregs.apic_base = vcpu->apic_base;
		return copy_to_user(argp, &u.sregs, sizeof(u.sregs)) ?
		       -EFAULT : 0;
	case VMXL_SET_SREGS:
		if (copy_from_user(&u.sregs, argp, sizeof(u.sregs)))
			return -EFAULT;
		ret = sregs_check(&u.sregs);
		if (ret)
			return ret;
		ret = vmxl_backend->set_sregs(vcpu, &u.sregs);
		if (!ret) {
			vcpu->apic_base = u.sregs.apic_base;
			vcpu->pending = VMXL_PENDING_NONE;
			vcpu->shutdown = false;
		}
		return ret;
	case VMXL_GET_MSRS:
		return vcpu_msrs(vcpu, argp, false);
	case VMXL_SET_MSRS:
		return vcpu_msrs(vcpu, argp, true);
	case VMXL_GET_FPU:
		return copy_to_user(argp, vcpu->fxsave, sizeof(vcpu->fxsave)) ?
		       -EFAULT : 0;
	case VMXL_SET_FPU:
		/* FXRSTOR faults on reserved MXCSR bits: refuse them here. */
		if (copy_from_user(&mxcsr, argp + 24, sizeof(mxcsr)))
			return -EFAULT;
		if (mxcsr & ~host_mxcsr_mask)
			return -EINVAL;
		return copy_from_user(vcpu->fxsave, argp,
				      sizeof(vcpu->fxsave)) ? -EFAULT : 0;
	case VMXL_SET_CPUID:
		return cpuid_copy_in(vcpu, argp);
	case VMXL_GET_CPUID:
		return vmxl_cpuid_copy_out(argp, vcpu->cpuid, vcpu->nr_cpuid);
	case VMXL_INTERRUPT:
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
	ret = vcpu_ioctl_locked(vcpu, cmd, (void __user *)arg, arg);
	mutex_unlock(&vcpu->mutex);
	return ret;
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

static void vm_put(struct vmxl_vm *vm);

static void vcpu_free(struct vmxl_vcpu *vcpu)
{
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
	vm->vcpus[vcpu->id] = NULL;
	vm->nr_vcpus--;
	for (i = 0; i < __VMXL_STAT_MAX; i++)
		vm->closed_stats[i] += vcpu->stats[i];
	mutex_unlock(&vm->lock);
	vcpu_free(vcpu);
	vm_put(vm);
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

/* x86 reset state, as firmware would find it. */
static void vcpu_reset(struct vmxl_vcpu *vcpu)
{
	struct vmxl_sregs s = {};
	struct vmxl_segment data = {
		.limit = 0xffff, .type = 3, .present = 1, .s = 1,
	};

	s.cs = data;
	s.cs.type = 0xb;
	s.cs.selector = 0xf000;
	s.cs.base = 0xffff0000;
	s.ds = data;
	s.es = data;
	s.fs = data;
	s.gs = data;
	s.ss = data;
	s.tr = (struct vmxl_segment){ .limit = 0xffff, .type = 0xb,
				      .present = 1 };
	s.ldt = (struct vmxl_segment){ .limit = 0xffff, .type = 2,
				       .present = 1 };
	s.gdt.limit = 0xffff;
	s.idt.limit = 0xffff;
	s.cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
	vmxl_backend->set_sregs(vcpu, &s);

	vcpu->rip = 0xfff0;
	vcpu->rflags = X86_EFLAGS_FIXED;
	vcpu->regs[2] = boot_cpu_data.x86 << 8 | boot_cpu_data.x86_model << 4;
	vcpu->apic_base = 0xfee00000 | (vcpu->id ? 0 : BIT(8)) | BIT(11);
	vcpu->mtrr_def_type = 0;
	vcpu->irq_pending = -1;
	/* FXSAVE image of FNINIT state: FCW 0x37f, MXCSR 0x1f80 */
	memset(vcpu->fxsave, 0, sizeof(vcpu->fxsave));
	vcpu->fxsave[0] = 0x7f;
	vcpu->fxsave[1] = 0x03;
	vcpu->fxsave[24] = 0x80;
	vcpu->fxsave[25] = 0x1f;
}

static long vm_create_vcpu(struct vmxl_vm *vm, unsigned long id)
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
	vcpu_cpuid_set_apic_id(vcpu);
	ret = vmxl_backend->vcpu_create(vcpu);
	if (ret)
		goto fail;
	vcpu_reset(vcpu);

	mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		mutex_unlock(&vm->lock);
		ret = -EEXIST;
		goto fail;
	}
	if (vm->dirty_ring_size) {
		vcpu->ring = ring_alloc(vm->dirty_ring_size);
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
		vm_put(vm);
		ret = fd;
		goto fail;
	}
	vm->vcpus[id] = vcpu;
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
/* ------------------------------------------------------------------ */

static void vm_free(struct kref *ref)
{
	struct vmxl_vm *vm = container_of(ref, struct vmxl_vm, ref);
	unsigned int i;

	mutex_lock(&vmxl_vms_lock);
	list_del(&vm->list);
	vmxl_vms_gen++;
	mutex_unlock(&vmxl_vms_lock);
	vmxl_nl_vm_event(vm, false);
	put_pid(vm->owner);

	vmxl_smmu_free(vm);
	for (i = 0; i < vmxl_caps.max_slots; i++)
		if (vm->slots[i])
			slot_free(vm, vm->slots[i]);
	vmxl_mmu_destroy(&vm->mmu);
	mmdrop(vm->mm);
	kfree(vm->slots);
	kfree(vm->vcpus);
	kfree(vm);
	atomic_dec(&vmxl_nr_vms);
	vmxl_hw_put();
}

static void vm_put(struct vmxl_vm *vm)
{
	kref_put(&vm->ref, vm_free);
}

void vmxl_vm_stats(struct vmxl_vm *vm, u64 *stats)
{
	struct vmxl_vcpu *vcpu;
	unsigned int i, s;

	memcpy(stats, vm->closed_stats, sizeof(vm->closed_stats));
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		vcpu = vm->vcpus[i];
		for (s = 0; vcpu && s < __VMXL_STAT_MAX; s++)
			stats[s] += READ_ONCE(vcpu->stats[s]);
	}
}

static long vm_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vmxl_vm *vm = filp->private_data;
	void __user *argp = (void __user *)arg;

	if (vm->mm != current->mm)
		return -EIO;
	switch (cmd) {
	case VMXL_CREATE_VCPU:
		return vm_create_vcpu(vm, arg);
	case VMXL_SET_MEMORY_REGION:
		return vm_set_memory_region(vm, (void __user *)arg);
	case VMXL_GET_DIRTY_LOG:
		return vm_dirty_log(vm, (void __user *)arg, true);
	case VMXL_CLEAR_DIRTY_LOG:
		return vm_dirty_log(vm, (void __user *)arg, false);
	case VMXL_ENABLE_DIRTY_RING:
		return vm_enable_dirty_ring(vm, arg);
	case VMXL_RESET_DIRTY_RINGS:
		if (arg)
			return -EINVAL;
		return vm_reset_dirty_rings(vm);
	case VMXL_GET_VM_ID:
		return arg ? -EINVAL : vm->id;
	case VMXL_CREATE_SMMU:
		return vmxl_create_smmu(vm, argp);
	case VMXL_SMMU_DMA:
		return vmxl_smmu_dma_ioctl(vm, argp, true);
	case VMXL_SMMU_TRANSLATE:
		return vmxl_smmu_dma_ioctl(vm, argp, false);
	}
	return -ENOTTY;
}

static int vm_release(struct inode *inode, struct file *filp)
{
	vm_put(filp->private_data);
	return 0;
}

static const struct file_operations vm_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= vm_release,
	.llseek		= noop_llseek,
};

long vmxl_create_vm(unsigned long flags)
{
	struct vmxl_vm *vm;
	long ret;
	int fd;

	if (!vmxl_backend)
		return -ENODEV;
	if (flags & ~VMXL_VM_DMA_STRICT)
		return -EINVAL;
	if (atomic_inc_return(&vmxl_nr_vms) > vmxl_caps.max_vms) {
		atomic_dec(&vmxl_nr_vms);
		return -ENOSPC;
	}
	ret = vmxl_hw_get();
	if (ret) {
		atomic_dec(&vmxl_nr_vms);
		return ret;
	}

	ret = -ENOMEM;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		goto fail_hw;
	kref_init(&vm->ref);
	vm->flags = flags;
	mutex_init(&vm->lock);
	mutex_init(&vm->mmu_lock);
	mutex_init(&vm->smmu_lock);
	init_rwsem(&vm->run_sem);
	vm->slots = kcalloc(vmxl_caps.max_slots, sizeof(*vm->slots),
			    GFP_KERNEL_ACCOUNT);
	vm->vcpus = kcalloc(vmxl_caps.max_vcpus, sizeof(*vm->vcpus),
			    GFP_KERNEL_ACCOUNT);
	if (!vm->slots || !vm->vcpus ||
	    vmxl_mmu_init(&vm->mmu, vmxl_backend->mmu_fmt))
		goto fail_vm;
	mmgrab(current->mm);
	vm->mm = current->mm;
	vm->owner = get_pid(task_tgid(current));
	vm->uid = current_euid();

	/* Listed before its fd exists: closing the fd unlists it. */
	mutex_lock(&vmxl_vms_lock);
	vm->id = ++vmxl_last_vm_id;
	list_add_tail(&vm->list, &vmxl_vms);
	vmxl_vms_gen++;
	mutex_unlock(&vmxl_vms_lock);
	vmxl_nl_vm_event(vm, true);

	fd = anon_inode_getfd("vmx-lite-vm", &vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		vm_put(vm);	/* undoes everything, hardware included */
		return fd;
	}
	return fd;

fail_vm:
	vmxl_mmu_destroy(&vm->mmu);
	kfree(vm->slots);
	kfree(vm->vcpus);
	kfree(vm);
fail_hw:
	vmxl_hw_put();
	atomic_dec(&vmxl_nr_vms);
	return ret;
}

void vmxl_core_init(void)
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
