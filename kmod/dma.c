// SPDX-License-Identifier: GPL-2.0
/*
 * Device DMA of a VM: its virtual SMMUv3 (the model is smmu.c), the
 * guest's accesses to the SMMU's register window, and the transfers
 * userspace device models make through it (VMXL_SMMU_DMA/TRANSLATE).
 * docs/smmu.md describes the whole.
 *
 * Locking: vm->smmu is set once, under vm->lock, and lives as long as the
 * VM; its register window is the first entry of the VM's in-kernel device
 * table (iobus.c). vm->smmu_lock serializes every call into the model: register
 * accesses from vCPUs (under run_sem read, in the exit handler) and
 * translations for transfers (under run_sem read, from the VM fd). Guest
 * memory is copied outside smmu_lock, under run_sem read, so a slot cannot
 * go away under a transfer.
 */
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "smmu.h"
#include "vmxl.h"

static int dma_mem_read(void *ctx, u64 gpa, void *buf, u32 len)
{
	return vmxl_read_gpa(ctx, gpa, buf, len);
}

/* The SMMU's own writes (event records, CMD_SYNC): logged, no vCPU's. */
static int dma_mem_write(void *ctx, u64 gpa, const void *buf, u32 len)
{
	return vmxl_gpa_write(ctx, gpa, buf, len);
}

/*
 * The guest's accesses to the register window, from the vCPU's exit
 * handler under run_sem read. The architecture has 32- and 64-bit
 * registers only: other sizes read as zero and write nothing.
 */
static u64 smmu_window_read(struct vmxl_vcpu *vcpu, void *priv, u64 off,
			    unsigned int size)
{
	struct vmxl_vm *vm = vcpu->vm;
	u64 val;

	if (size != 4 && size != 8)
		return 0;
	mutex_lock(&vm->smmu_lock);
	val = vmxl_smmu_reg_read(priv, off, size);
	mutex_unlock(&vm->smmu_lock);
	return val;
}

static void smmu_window_write(struct vmxl_vcpu *vcpu, void *priv, u64 off,
			      unsigned int size, u64 val)
{
	struct vmxl_vm *vm = vcpu->vm;

	if (size != 4 && size != 8)
		return;
	mutex_lock(&vm->smmu_lock);
	vmxl_smmu_reg_write(priv, off, size, val);
	mutex_unlock(&vm->smmu_lock);
}

static const struct vmxl_iodev_ops smmu_window_ops = {
	.read	= smmu_window_read,
	.write	= smmu_window_write,
};

long vmxl_create_smmu(struct vmxl_vm *vm, void __user *argp)
{
	struct vmxl_smmu_params p = { .cfg_entries = 64 };
	struct vmxl_smmu_mem mem = {
		.ctx = vm, .read = dma_mem_read, .write = dma_mem_write,
	};
	struct vmxl_smmu_config c;
	struct vmxl_smmu *smmu;
	long ret = 0;
	u64 end;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.reserved[0] || c.reserved[1] || c.reserved[2] ||
	    c.reserved[3] || !IS_ALIGNED(c.base_gpa, SZ_64K) ||
	    check_add_overflow(c.base_gpa, (u64)VMXL_SMMU_WINDOW_SIZE, &end) ||
	    end > (1ULL << boot_cpu_data.x86_phys_bits) ||
	    c.sid_bits < 1 || c.sid_bits > 24 || c.ssid_bits > 20 ||
	    c.iotlb_entries > 4096)
		return -EINVAL;
	p.sid_bits = c.sid_bits;
	p.ssid_bits = c.ssid_bits;
	p.iotlb_entries = c.iotlb_entries ?: 256;

	mutex_lock(&vm->lock);
	if (vm->smmu) {
		ret = -EEXIST;
		goto out;
	}
	smmu = vmxl_smmu_create(&p, &mem);
	if (!smmu) {
		ret = -ENOMEM;
		goto out;
	}
	ret = vmxl_iodev_add(vm, c.base_gpa, VMXL_SMMU_WINDOW_SIZE,
			     &smmu_window_ops, smmu);
	if (ret)
		goto out_destroy;
	/* Transfers look for the SMMU without vm->lock: publish it last. */
	smp_store_release(&vm->smmu, smmu);
	goto out;

out_destroy:
	vmxl_smmu_destroy(smmu);
out:
	mutex_unlock(&vm->lock);
	return ret;
}

void vmxl_smmu_free(struct vmxl_vm *vm)
{
	if (vm->smmu)
		vmxl_smmu_destroy(vm->smmu);
}

/* uapi <-> model; both under smmu_lock so the registers are one moment's. */
static void smmu_state_get(struct vmxl_vm *vm, struct vmxl_smmu *smmu,
			   struct vmxl_smmu_state *st)
{
	struct vmxl_smmu_params p;
	struct vmxl_smmu_regs r;

	lockdep_assert_held(&vm->smmu_lock);
	vmxl_smmu_get_regs(smmu, &r);
	vmxl_smmu_get_params(smmu, &p);
	memset(st, 0, sizeof(*st));
	st->sid_bits = p.sid_bits;
	st->ssid_bits = p.ssid_bits;
	st->cr0 = r.cr0;
	st->cr1 = r.cr1;
	st->cr2 = r.cr2;
	st->gbpa = r.gbpa;
	st->irq_ctrl = r.irq_ctrl;
	st->gerror = r.gerror;
	st->gerrorn = r.gerrorn;
	st->strtab_base = r.strtab_base;
	st->strtab_base_cfg = r.strtab_cfg;
	st->cmdq_base = r.cmdq_base;
	st->cmdq_prod = r.cmdq_prod;
	st->cmdq_cons = r.cmdq_cons;
	st->evtq_base = r.evtq_base;
	st->evtq_prod = r.evtq_prod;
	st->evtq_cons = r.evtq_cons;
}

static int smmu_state_set(struct vmxl_vm *vm, struct vmxl_smmu *smmu,
			  const struct vmxl_smmu_state *st)
{
	struct vmxl_smmu_regs r = {
		.cr0 = st->cr0, .cr1 = st->cr1, .cr2 = st->cr2,
		.gbpa = st->gbpa, .irq_ctrl = st->irq_ctrl,
		.gerror = st->gerror, .gerrorn = st->gerrorn,
		.strtab_base = st->strtab_base,
		.strtab_cfg = st->strtab_base_cfg,
		.cmdq_base = st->cmdq_base, .cmdq_prod = st->cmdq_prod,
		.cmdq_cons = st->cmdq_cons, .evtq_base = st->evtq_base,
		.evtq_prod = st->evtq_prod, .evtq_cons = st->evtq_cons,
	};
	struct vmxl_smmu_params p;

	lockdep_assert_held(&vm->smmu_lock);
	/*
	 * The stream table's reach (IDR1.SIDSIZE) and the CD tables'
	 * (SSIDSIZE) are the guest's assumptions: state from an SMMU of
	 * another shape would translate differently.
	 */
	vmxl_smmu_get_params(smmu, &p);
	if (st->sid_bits != p.sid_bits || st->ssid_bits != p.ssid_bits)
		return -EINVAL;
	return vmxl_smmu_set_regs(smmu, &r);
}

/*
 * VMXL_GET_SMMU_STATE / VMXL_SET_SMMU_STATE. ENXIO without an SMMU, as
 * the LAPIC ioctls do without an APIC: the VM lacks the device.
 */
long vmxl_smmu_state_ioctl(struct vmxl_vm *vm, void __user *argp, bool set)
{
	/* Pairs with the release in vmxl_create_smmu(). */
	struct vmxl_smmu *smmu = smp_load_acquire(&vm->smmu);
	struct vmxl_smmu_state st;
	int ret;

	if (!smmu)
		return -ENXIO;
	if (!set) {
		mutex_lock(&vm->smmu_lock);
		smmu_state_get(vm, smmu, &st);
		mutex_unlock(&vm->smmu_lock);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	}
	if (copy_from_user(&st, argp, sizeof(st)))
		return -EFAULT;
	if (st.flags || st.pad ||
	    memchr_inv(st.reserved, 0, sizeof(st.reserved)))
		return -EINVAL;
	mutex_lock(&vm->smmu_lock);
	ret = smmu_state_set(vm, smmu, &st);
	mutex_unlock(&vm->smmu_lock);
	return ret;
}

/* Translate one page of a transfer; fills @d's status on failure. */
static bool dma_translate(struct vmxl_vm *vm, const struct vmxl_smmu_txn *t,
			  struct vmxl_dma *d, u64 *gpa)
{
	/* Pairs with the release in vmxl_create_smmu(). */
	struct vmxl_smmu *smmu = smp_load_acquire(&vm->smmu);
	struct vmxl_smmu_out out = {};
	enum vmxl_smmu_result res;

	if (!smmu) {
		*gpa = t->iova;
		if (!(vm->flags & VMXL_VM_DMA_STRICT))
			return true;
		d->status = VMXL_DMA_ABORTED;
		return false;
	}
	mutex_lock(&vm->smmu_lock);
	res = vmxl_smmu_translate(smmu, t, &out);
	mutex_unlock(&vm->smmu_lock);
	d->iotlb_hits += out.iotlb_hit;
	d->iotlb_misses += out.iotlb_miss;
	switch (res) {
	case VMXL_SMMU_OK:
		*gpa = out.gpa;
		return true;
	case VMXL_SMMU_FAULT:
		d->status = VMXL_DMA_FAULT;
		memcpy(d->event, out.event, sizeof(d->event));
		vmxl_nl_smmu_fault(vm, t, out.event);
		return false;
	default:
		d->status = VMXL_DMA_ABORTED;
		return false;
	}
}

/* The transfer itself; 0, or -EINTR. Slots stay put under run_sem read. */
static int dma_copy(struct vmxl_vm *vm, struct vmxl_dma *d)
{
	struct vmxl_smmu_txn t = {
		.sid = d->stream_id,
		.ssid = d->substream_id,
		.ssv = d->flags & VMXL_DMA_SSV,
		.write = d->flags & VMXL_DMA_WRITE,
	};
	void __user *buf = u64_to_user_ptr(d->buf);
	u64 gpa;
	u32 n;
	int ret;

	lockdep_assert_held_read(&vm->run_sem);
	while (d->done < d->len) {
		t.iova = d->iova + d->done;
		n = min_t(u64, d->len - d->done,
			  PAGE_SIZE - offset_in_page(t.iova));
		if (!dma_translate(vm, &t, d, &gpa))
			return 0;
		ret = vmxl_gpa_user_copy(vm, gpa, buf + d->done, n, t.write);
		if (ret) {
			d->status = ret == -ENOENT ? VMXL_DMA_NO_RAM :
						     VMXL_DMA_BAD_BUFFER;
			return 0;
		}
		d->done += n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

long vmxl_smmu_dma_ioctl(struct vmxl_vm *vm, void __user *argp, bool copy)
{
	struct vmxl_dma d;
	u64 end;
	long ret = 0;

	if (copy_from_user(&d, argp, sizeof(d)))
		return -EFAULT;
	if ((d.flags & ~(VMXL_DMA_WRITE | VMXL_DMA_SSV)) ||
	    d.reserved[0] || d.reserved[1] ||
	    (!(d.flags & VMXL_DMA_SSV) && d.substream_id) ||
	    (copy && (!d.len || d.len > VMXL_DMA_MAX_LEN)) ||
	    (!copy && (d.len || d.buf)) ||
	    check_add_overflow(d.iova, d.len, &end))
		return -EINVAL;
	d.status = VMXL_DMA_DONE;
	d.done = 0;
	d.gpa = 0;
	memset(d.event, 0, sizeof(d.event));
	d.iotlb_hits = 0;
	d.iotlb_misses = 0;

	down_read(&vm->run_sem);
	if (copy) {
		ret = dma_copy(vm, &d);
	} else {
		struct vmxl_smmu_txn t = {
			.sid = d.stream_id, .ssid = d.substream_id,
			.ssv = d.flags & VMXL_DMA_SSV,
			.write = d.flags & VMXL_DMA_WRITE, .iova = d.iova,
		};

		if (dma_translate(vm, &t, &d, &d.gpa) &&
		    !vmxl_gpa_is_ram(vm, d.gpa, t.write))
			d.status = VMXL_DMA_NO_RAM;
	}
	up_read(&vm->run_sem);
	if (ret)
		return ret;
	if (copy_to_user(argp, &d, sizeof(d)))
		return -EFAULT;
	return d.status == VMXL_DMA_DONE ? 0 : -EFAULT;
}
