// SPDX-License-Identifier: GPL-2.0
/*
 * vmx-lite: module entry, /dev/vmx-lite and the capability report.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/reboot.h>
#include <linux/slab.h>
#include <linux/syscore_ops.h>
#include <linux/uaccess.h>

#include <asm/tsc.h>

#include "vmxl.h"

static unsigned int max_vms = 64;
module_param(max_vms, uint, 0444);
MODULE_PARM_DESC(max_vms, "Maximum number of VMs at once");

static unsigned int max_vcpus = 16;
module_param(max_vcpus, uint, 0444);
MODULE_PARM_DESC(max_vcpus, "Maximum number of vCPUs per VM");

static unsigned int max_slots = 32;
module_param(max_slots, uint, 0444);
MODULE_PARM_DESC(max_slots, "Maximum number of memory slots per VM");

static unsigned long max_mem_mb = 4096;
module_param(max_mem_mb, ulong, 0444);
MODULE_PARM_DESC(max_mem_mb, "Maximum guest memory per VM in MiB");

/* Filled once in vmxl_init(), read-only afterwards: no lock needed. */
struct vmxl_caps vmxl_caps;
const struct vmxl_backend *vmxl_backend;

/*
 * Virtualization is switched on only while VMs exist, so that KVM can
 * have the CPUs the rest of the time. vmxl_hw_users changes under
 * vmxl_hw_lock and the CPU hotplug read lock, so hotplug callbacks (which
 * run under the write lock) see it stable. vmxl_cpu_on is per-CPU state
 * touched only on its own CPU.
 */
static DEFINE_MUTEX(vmxl_hw_lock);
static unsigned int vmxl_hw_users;
static DEFINE_PER_CPU(bool, vmxl_cpu_on);
static atomic_t vmxl_hw_failed;
static enum cpuhp_state vmxl_cpuhp_state;

static void hw_enable_cpu(void *unused)
{
	if (this_cpu_read(vmxl_cpu_on))
		return;
	if (vmxl_backend->cpu_enable()) {
		atomic_inc(&vmxl_hw_failed);
		return;
	}
	this_cpu_write(vmxl_cpu_on, true);
}

static void hw_disable_cpu(void *unused)
{
	if (!this_cpu_read(vmxl_cpu_on))
		return;
	vmxl_backend->cpu_disable();
	this_cpu_write(vmxl_cpu_on, false);
}

int vmxl_hw_get(void)
{
	int ret = 0;

	mutex_lock(&vmxl_hw_lock);
	cpus_read_lock();
	if (vmxl_hw_users++ == 0) {
		atomic_set(&vmxl_hw_failed, 0);
		on_each_cpu(hw_enable_cpu, NULL, 1);
		if (atomic_read(&vmxl_hw_failed)) {
			on_each_cpu(hw_disable_cpu, NULL, 1);
			vmxl_hw_users = 0;
			ret = -EBUSY;
			pr_info_ratelimited("%s is held by another hypervisor (kvm_%s with live VMs?); refusing to create a VM\n",
					    vmxl_backend->id == VMXL_BACKEND_SVM ?
					    "SVM" : "VMX",
					    vmxl_backend->id == VMXL_BACKEND_SVM ?
					    "amd" : "intel");
		}
	}
	cpus_read_unlock();
	mutex_unlock(&vmxl_hw_lock);
	return ret;
}

void vmxl_hw_put(void)
{
	mutex_lock(&vmxl_hw_lock);
	cpus_read_lock();
	if (--vmxl_hw_users == 0)
		on_each_cpu(hw_disable_cpu, NULL, 1);
	cpus_read_unlock();
	mutex_unlock(&vmxl_hw_lock);
}

static int vmxl_cpu_online(unsigned int cpu)
{
	if (!vmxl_hw_users)
		return 0;
	atomic_set(&vmxl_hw_failed, 0);
	preempt_disable();
	hw_enable_cpu(NULL);
	preempt_enable();
	return atomic_read(&vmxl_hw_failed) ? -EBUSY : 0;
}

static int vmxl_cpu_offline(unsigned int cpu)
{
	preempt_disable();
	hw_disable_cpu(NULL);
	preempt_enable();
	return 0;
}

/* Suspend runs on one CPU after the others went offline. */
static int vmxl_suspend(void)
{
	hw_disable_cpu(NULL);
	return 0;
}

static void vmxl_resume(void)
{
	if (vmxl_hw_users)
		hw_enable_cpu(NULL);
}

static struct syscore_ops vmxl_syscore_ops = {
	.suspend	= vmxl_suspend,
	.resume		= vmxl_resume,
};

static int vmxl_reboot(struct notifier_block *nb, unsigned long code,
		       void *unused)
{
	on_each_cpu(hw_disable_cpu, NULL, 1);
	return NOTIFY_OK;
}

static struct notifier_block vmxl_reboot_nb = {
	.notifier_call = vmxl_reboot,
};

static long vmxl_dev_get_caps(void __user *argp)
{
	struct vmxl_caps caps;

	if (copy_from_user(&caps, argp, sizeof(caps)))
		return -EFAULT;
	if (caps.flags)
		return -EINVAL;
	if (copy_to_user(argp, &vmxl_caps, sizeof(vmxl_caps)))
		return -EFAULT;
	return 0;
}

static long vmxl_dev_default_cpuid(void __user *argp)
{
	struct vmxl_cpuid_entry *tab;
	long ret;
	int n;

	tab = kcalloc(VMXL_MAX_CPUID_ENTRIES, sizeof(*tab), GFP_KERNEL);
	if (!tab)
		return -ENOMEM;
	n = vmxl_default_cpuid(tab, VMXL_MAX_CPUID_ENTRIES);
	ret = vmxl_cpuid_copy_out(argp, tab, n);
	kfree(tab);
	return ret;
}

static long vmxl_dev_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VMXL_CREATE_VM:
		return vmxl_create_vm(arg);
	case VMXL_GET_DEFAULT_CPUID:
		return vmxl_dev_default_cpuid(argp);
	case VMXL_GET_API_VERSION:
		if (arg)
			return -EINVAL;
		return VMXL_API_VERSION;
	case VMXL_GET_CAPS:
		return vmxl_dev_get_caps(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vmxl_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= vmxl_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/* Live object counts, so tests can prove create/destroy leaks nothing. */
static ssize_t objects_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	long vms, vcpus, pinned;

	vmxl_object_counts(&vms, &vcpus, &pinned);
	return sysfs_emit(buf, "vms %ld\nvcpus %ld\npinned_pages %ld\ntable_pages %ld\n",
			  vms, vcpus, pinned, vmxl_mmu_table_pages());
}
static DEVICE_ATTR_RO(objects);

static struct attribute *vmxl_attrs[] = {
	&dev_attr_objects.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vmxl);

static struct miscdevice vmxl_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vmx-lite",
	.fops	= &vmxl_dev_fops,
	.mode	= 0660,
	.groups	= vmxl_groups,
};

static const char *const vmxl_status_str[] = {
	[VMXL_STATUS_OK] = "ok",
	[VMXL_STATUS_NO_CPU_SUPPORT] = "CPU has neither SVM nor VMX",
	[VMXL_STATUS_DISABLED_BY_FIRMWARE] = "disabled by firmware",
	[VMXL_STATUS_NO_NESTED_PAGING] = "no nested paging (NPT/EPT)",
	[VMXL_STATUS_UNSUPPORTED] = "required feature missing",
};

static void vmxl_detect(void)
{
	static const struct vmxl_backend *const candidates[] = {
		&vmxl_svm_backend, &vmxl_vmx_backend,
	};
	unsigned int i;
	int ret;

	vmxl_caps.api_version = VMXL_API_VERSION;
	vmxl_caps.max_vms = max_vms;
	vmxl_caps.max_vcpus = max_vcpus;
	vmxl_caps.max_slots = max_slots;
	vmxl_caps.max_mem_bytes = (u64)max_mem_mb << 20;
	vmxl_caps.run_mmap_size = PAGE_SIZE;
	vmxl_caps.tsc_khz = tsc_khz;	/* guests' TSC: the host's + offset */
	vmxl_caps.backend_status = VMXL_STATUS_NO_CPU_SUPPORT;

	for (i = 0; i < ARRAY_SIZE(candidates); i++) {
		ret = candidates[i]->probe(&vmxl_caps);
		if (ret == -ENODEV)
			continue;
		if (ret) {
			pr_info("%s present but unusable: %s\n",
				candidates[i]->name,
				vmxl_status_str[vmxl_caps.backend_status]);
			return;
		}
		vmxl_caps.backend = candidates[i]->id;
		if (!candidates[i]->vcpu_run) {
			/* Detected, reported, but no backend to run guests. */
			vmxl_caps.backend_status = VMXL_STATUS_UNSUPPORTED;
			pr_info("%s detected, features %#llx; this backend cannot run guests yet\n",
				candidates[i]->name, vmxl_caps.features);
			return;
		}
		vmxl_backend = candidates[i];
		vmxl_caps.backend_status = VMXL_STATUS_OK;
		/* The APIC timer counts at the TSC rate: it must be known. */
		if (tsc_khz)
			vmxl_caps.features |= VMXL_FEAT_LAPIC;
		pr_info("version %s, backend %s, features %#llx\n",
			VMXL_VERSION, vmxl_backend->name, vmxl_caps.features);
		return;
	}
	pr_info("no usable backend: %s\n",
		vmxl_status_str[vmxl_caps.backend_status]);
}

static int vmxl_backend_up(void)
{
	int ret;

	ret = vmxl_backend->init();
	if (ret)
		return ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "vmx_lite:online",
					vmxl_cpu_online, vmxl_cpu_offline);
	if (ret < 0) {
		vmxl_backend->fini();
		return ret;
	}
	vmxl_cpuhp_state = ret;
	register_syscore_ops(&vmxl_syscore_ops);
	register_reboot_notifier(&vmxl_reboot_nb);
	return 0;
}

static void vmxl_backend_down(void)
{
	unregister_reboot_notifier(&vmxl_reboot_nb);
	unregister_syscore_ops(&vmxl_syscore_ops);
	cpuhp_remove_state_nocalls(vmxl_cpuhp_state);
	vmxl_backend->fini();
}

static int __init vmxl_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct vmxl_run) > PAGE_SIZE);
	vmxl_detect();
	vmxl_x86_init();
	if (vmxl_backend) {
		ret = vmxl_backend_up();
		if (ret) {
			pr_err("%s backend setup failed: %d\n",
			       vmxl_backend->name, ret);
			return ret;
		}
	}
	ret = vmxl_nl_init();
	if (ret) {
		pr_err("cannot register the netlink family: %d\n", ret);
		goto fail_backend;
	}
	ret = misc_register(&vmxl_misc);
	if (ret) {
		pr_err("cannot register /dev/vmx-lite: %d\n", ret);
		goto fail_nl;
	}
	return 0;

fail_nl:
	vmxl_nl_exit();
fail_backend:
	if (vmxl_backend)
		vmxl_backend_down();
	return ret;
}

static void __exit vmxl_exit(void)
{
	misc_deregister(&vmxl_misc);
	vmxl_nl_exit();
	if (vmxl_backend)
		vmxl_backend_down();
}

module_init(vmxl_init);
module_exit(vmxl_exit);

MODULE_DESCRIPTION("vmx-lite: a lightweight hypervisor for Intel VMX and AMD SVM");
MODULE_AUTHOR("The vmx-lite authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(VMXL_VERSION);
