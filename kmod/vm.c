// SPDX-License-Identifier: GPL-2.0
/*
 * The machine-independent core of a VM: its file descriptor and lifetime,
 * memory slots (pinned guest RAM), guest-physical access for the module's
 * own reads and writes, and stopping every vCPU while the nested tables
 * change. vCPUs are in vcpu.c, dirty logging in dirty.c, the x86 work
 * both vendors share in x86.c and x86_exit.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vmxl.h"
#include "trace.h"

static atomic_t vmxl_nr_vms = ATOMIC_INIT(0);
atomic_t vmxl_nr_vcpus = ATOMIC_INIT(0);
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
	/*
	 * The guest writes these pages through the nested tables, which
	 * the mm does not see: they are marked dirty here, once, as
	 * long-term pinners do, not at each write (the module's own writes
	 * and resets included).
	 */
	unpin_user_pages_dirty_lock(slot->pages, slot->npages,
				    !(slot->flags & VMXL_MEM_READONLY));
	atomic_long_sub(slot->npages, &vmxl_nr_pinned);
	account_locked_vm(vm->mm, slot->npages, false);
	kvfree(slot->pages);
	kvfree(slot->dirty);
	kfree(slot);
}

/* Pin @slot's pages, a chunk at a time; 0 or an errno, nothing left pinned. */
static int slot_pin(struct vmxl_slot *slot)
{
	unsigned int gup = FOLL_LONGTERM;
	unsigned long done = 0;
	long ret;

	if (!(slot->flags & VMXL_MEM_READONLY))
		gup |= FOLL_WRITE;
	while (done < slot->npages) {
		ret = pin_user_pages_fast(slot->uaddr + (done << PAGE_SHIFT),
					  min(slot->npages - done, 1UL << 18),
					  gup, slot->pages + done);
		if (ret <= 0) {
			unpin_user_pages(slot->pages, done);
			return ret ? ret : -EFAULT;
		}
		done += ret;
		cond_resched();
	}
	return 0;
}

static struct vmxl_slot *slot_create(struct vmxl_vm *vm,
				     const struct vmxl_memory_region *mr)
{
	struct vmxl_slot *slot;
	int ret = -ENOMEM;

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
	if (!slot->pages)
		goto fail_slot;
	if (slot->flags & VMXL_MEM_LOG_DIRTY) {
		slot->dirty = vmxl_dirty_bitmap_alloc(slot->npages);
		if (!slot->dirty)
			goto fail_pages;
	}
	/* Like mlock: pinned guest memory counts against RLIMIT_MEMLOCK. */
	ret = account_locked_vm(vm->mm, slot->npages, true);
	if (ret)
		goto fail_dirty;
	ret = slot_pin(slot);
	if (ret)
		goto fail_account;
	atomic_long_add(slot->npages, &vmxl_nr_pinned);
	return slot;

fail_account:
	account_locked_vm(vm->mm, slot->npages, false);
fail_dirty:
	kvfree(slot->dirty);
fail_pages:
	kvfree(slot->pages);
fail_slot:
	kfree(slot);
	return ERR_PTR(ret);
}

/* Force every vCPU of @vm out of guest mode. */
static void vm_kick_all(struct vmxl_vm *vm)
{
	struct vmxl_vcpu *vcpu;
	unsigned int i;
	int cpu;

	lockdep_assert_held(&vm->lock);
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
void vmxl_stop_guests(struct vmxl_vm *vm)
{
	vm_kick_all(vm);
	down_write(&vm->run_sem);
}

/*
 * Rewrite the nested tables: every vCPU out of the guest (and kept out),
 * the tables locked. vmxl_tables_end() bumps the TLB generation, so each
 * vCPU flushes before it enters again.
 */
void vmxl_tables_begin(struct vmxl_vm *vm)
{
	vmxl_stop_guests(vm);
	mutex_lock(&vm->mmu.lock);
}

void vmxl_tables_end(struct vmxl_vm *vm)
{
	mutex_unlock(&vm->mmu.lock);
	atomic64_inc(&vm->tlb_gen);
	up_write(&vm->run_sem);
}

/* Whether a slot other than @except holds part of [@gpa, @end). */
bool vmxl_slots_overlap(struct vmxl_vm *vm, u64 gpa, u64 end, u32 except)
{
	struct vmxl_slot *s;
	unsigned int i;

	vmxl_assert_slots_stable(vm);
	for (i = 0; i < vmxl_caps.max_slots; i++) {
		s = vm->slots[i];
		if (s && i != except && gpa < s->gpa + s->size && s->gpa < end)
			return true;
	}
	return false;
}

static long vm_set_memory_region(struct vmxl_vm *vm, void __user *argp)
{
	struct vmxl_rpoint *rp;
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
		ret = vmxl_slot_set_logging(vm, old, mr.flags & VMXL_MEM_LOG_DIRTY);
		mutex_unlock(&vm->lock);
		return ret;
	}
	mem = vm->mem_bytes - (old ? old->size : 0);
	if (mr.memory_size) {
		if (vmxl_slots_overlap(vm, mr.guest_phys_addr, end, mr.slot) ||
		    vmxl_iobus_overlaps(&vm->mmio_bus, mr.guest_phys_addr, end)) {
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
	vmxl_tables_begin(vm);
	/* a reset point is of one layout: this one ends it */
	rp = vmxl_reset_point_detach(vm);
	vm->slots[mr.slot] = new;
	vm->nr_slots += !!new - !!old;
	vm->mem_bytes = mem + mr.memory_size;
	vmxl_mmu_zap_all(&vm->mmu);
	vmxl_tables_end(vm);
	vmxl_reset_point_free(vm, rp);

	if (old)
		slot_free(vm, old);
	mutex_unlock(&vm->lock);
	return 0;
}

bool vmxl_gpa_is_ram(struct vmxl_vm *vm, u64 gpa, bool write)
{
	struct vmxl_slot *slot = vmxl_slot_find(vm, gpa);

	return slot && !(write && (slot->flags & VMXL_MEM_READONLY));
}

/* Nested-page fault on guest RAM: map the page. */
int vmxl_handle_ram_fault(struct vmxl_vcpu *vcpu, u64 gpa, bool write)
{
	struct vmxl_vm *vm = vcpu->vm;
	struct vmxl_slot *slot = vmxl_slot_find(vm, gpa);
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
	if (vmxl_slot_tracked(slot)) {
		if (write)
			vmxl_mark_dirty(vcpu, slot, idx);
		else if (!vm->mmu.fmt->dirty_bit)
			writable = false;
	}
	trace_vmxl_npf(vcpu, gpa, write, writable);
	mutex_lock(&vm->mmu.lock);
	ret = vmxl_mmu_map(&vm->mmu, gpa & PAGE_MASK, page_to_pfn(page),
			   writable);
	mutex_unlock(&vm->mmu.lock);
	return ret;
}

/* Copy guest-physical memory, a page at a time. */
static int gpa_copy(struct vmxl_vm *vm, struct vmxl_vcpu *vcpu, u64 gpa,
		    void *buf, unsigned int len, bool write)
{
	while (len) {
		struct vmxl_slot *slot = vmxl_slot_find(vm, gpa);
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
			/* The module's writes count like the guest's own. */
			if (vmxl_slot_tracked(slot))
				vmxl_mark_dirty(vcpu, slot, idx);
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
 * bad user buffer. Writes count as dirty.
 */
int vmxl_gpa_user_copy(struct vmxl_vm *vm, u64 gpa, void __user *ubuf,
		       unsigned int len, bool to_guest)
{
	while (len) {
		struct vmxl_slot *slot = vmxl_slot_find(vm, gpa);
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
			if (vmxl_slot_tracked(slot) && left < n)
				vmxl_mark_dirty(NULL, slot, idx);
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
	vmxl_reset_point_free(vm, vm->reset_point);
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

void vmxl_vm_put(struct vmxl_vm *vm)
{
	kref_put(&vm->ref, vm_free);
}

void vmxl_vm_stats(struct vmxl_vm *vm, u64 *stats)
{
	struct vmxl_vcpu *vcpu;
	unsigned int i, s;

	lockdep_assert_held(&vm->lock);
	memcpy(stats, vm->closed_stats, sizeof(vm->closed_stats));
	for (i = 0; i < vmxl_caps.max_vcpus; i++) {
		vcpu = vm->vcpus[i];
		for (s = 0; vcpu && s < __VMXL_STAT_MAX; s++)
			stats[s] += READ_ONCE(vcpu->stats[s]);
	}
}

/* VMXL_GET_CLOCK / VMXL_SET_CLOCK: one TSC basis for every vCPU. */
static long vm_clock(struct vmxl_vm *vm, void __user *argp, bool set)
{
	struct vmxl_clock c;

	if (!set) {
		memset(&c, 0, sizeof(c));
		c.tsc = rdtsc() + READ_ONCE(vm->tsc_offset);
		return copy_to_user(argp, &c, sizeof(c)) ? -EFAULT : 0;
	}
	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.reserved0 || memchr_inv(c.reserved, 0, sizeof(c.reserved)))
		return -EINVAL;
	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->tsc_offset, c.tsc - rdtsc());
	smp_wmb();		/* vcpu_sync_clock() reads them the other way */
	WRITE_ONCE(vm->tsc_gen, vm->tsc_gen + 1);
	mutex_unlock(&vm->lock);
	return 0;
}

static long vm_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vmxl_vm *vm = filp->private_data;
	void __user *argp = (void __user *)arg;

	if (vm->mm != current->mm)
		return -EIO;
	switch (cmd) {
	case VMXL_CREATE_VCPU:
		return vmxl_create_vcpu(vm, arg);
	case VMXL_SET_MEMORY_REGION:
		return vm_set_memory_region(vm, argp);
	case VMXL_GET_DIRTY_LOG:
		return vmxl_dirty_log_ioctl(vm, argp, true);
	case VMXL_CLEAR_DIRTY_LOG:
		return vmxl_dirty_log_ioctl(vm, argp, false);
	case VMXL_ENABLE_DIRTY_RING:
		return vmxl_enable_dirty_ring(vm, arg);
	case VMXL_RESET_DIRTY_RINGS:
		if (arg)
			return -EINVAL;
		return vmxl_reset_dirty_rings(vm);
	case VMXL_GET_VM_ID:
		return arg ? -EINVAL : vm->id;
	case VMXL_CREATE_SMMU:
		return vmxl_create_smmu(vm, argp);
	case VMXL_SMMU_DMA:
		return vmxl_smmu_dma_ioctl(vm, argp, true);
	case VMXL_SMMU_TRANSLATE:
		return vmxl_smmu_dma_ioctl(vm, argp, false);
	case VMXL_GET_SMMU_STATE:
	case VMXL_SET_SMMU_STATE:
		return vmxl_smmu_state_ioctl(vm, argp,
					     cmd == VMXL_SET_SMMU_STATE);
	case VMXL_SIGNAL_MSI:
		return vmxl_signal_msi(vm, argp);
	case VMXL_GET_CLOCK:
	case VMXL_SET_CLOCK:
		return vm_clock(vm, argp, cmd == VMXL_SET_CLOCK);
	case VMXL_SET_RESET_POINT:
	case VMXL_RESET_TO_POINT:
		return vmxl_reset_ioctl(vm, argp, cmd == VMXL_RESET_TO_POINT);
	}
	return -ENOTTY;
}

static int vm_release(struct inode *inode, struct file *filp)
{
	vmxl_vm_put(filp->private_data);
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
	if (flags & ~(VMXL_VM_DMA_STRICT | VMXL_VM_LAPIC))
		return -EINVAL;
	if ((flags & VMXL_VM_LAPIC) && !(vmxl_caps.features & VMXL_FEAT_LAPIC))
		return -EOPNOTSUPP;
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
	mutex_init(&vm->smmu_lock);
	init_rwsem(&vm->run_sem);
	vm->slots = kcalloc(vmxl_caps.max_slots, sizeof(*vm->slots),
			    GFP_KERNEL_ACCOUNT);
	vm->vcpus = kcalloc(vmxl_caps.max_vcpus, sizeof(*vm->vcpus),
			    GFP_KERNEL_ACCOUNT);
	if (!vm->slots || !vm->vcpus ||
	    vmxl_mmu_init(&vm->mmu, vmxl_backend->mmu_fmt))
		goto fail_vm;
	if (flags & VMXL_VM_LAPIC) {
		mutex_lock(&vm->lock);
		ret = vmxl_lapic_vm_init(vm);
		mutex_unlock(&vm->lock);
		if (ret)
			goto fail_vm;
	}
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
		vmxl_vm_put(vm);	/* undoes everything, hardware included */
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
