// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the machine's kernel objects (the VM, one slot of RAM at GPA 0,
 * the SMMU, the vCPUs and their run pages), its devices, and the
 * accessors vmxctl.h promises.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

void vmxctl_machine_init(struct vmxctl_machine *m)
{
	m->cfg.mem_size = 64ULL << 20;
	m->cfg.nr_cpus = 1;
	m->cfg.serial = "stdio";
	m->sys_fd = m->vm_fd = m->control_fd = -1;
	m->serial_fd = m->disk_fd = -1;
	m->wake_pipe[0] = m->wake_pipe[1] = -1;	/* until vmxctl run makes it */
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
}

const struct vmxctl_config *vmxctl_config(struct vmxctl_machine *m)
{
	return &m->cfg;
}

int vmxctl_sys_fd(struct vmxctl_machine *m)
{
	return m->sys_fd;
}

int vmxctl_vm_fd(struct vmxctl_machine *m)
{
	return m->vm_fd;
}

unsigned int vmxctl_nr_vcpus(struct vmxctl_machine *m)
{
	return m->nr_vcpus;
}

int vmxctl_vcpu_fd(struct vmxctl_machine *m, unsigned int cpu)
{
	return cpu < m->nr_vcpus ? m->vcpus[cpu].fd : -EINVAL;
}

unsigned int vmxctl_nr_slots(struct vmxctl_machine *m)
{
	return m->nr_slots;
}

const struct vmxctl_slot *vmxctl_slot(struct vmxctl_machine *m,
				      unsigned int idx)
{
	return idx < m->nr_slots ? &m->slots[idx] : NULL;
}

bool vmxctl_has_smmu(struct vmxctl_machine *m)
{
	return m->cfg.smmu;
}

void *vmxctl_gpa_to_hva(struct vmxctl_machine *m, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < m->nr_slots; i++) {
		struct vmxctl_slot *s = &m->slots[i];

		if (gpa >= s->gpa && gpa - s->gpa <= s->size &&
		    len <= s->size - (gpa - s->gpa))
			return (char *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

int vmxctl_machine_create(struct vmxctl_machine *m)
{
	struct vmxl_caps caps;
	unsigned int i;
	void *mem;
	int ret;

	m->sys_fd = vmxlite_open();
	if (m->sys_fd < 0) {
		vmxctl_err("%s: %s (is vmx_lite.ko loaded?)", VMXLITE_DEV,
			   strerror(-m->sys_fd));
		return VMXCTL_EXIT_UNAVAILABLE;
	}
	ret = vmxlite_get_caps(m->sys_fd, &caps);
	if (ret) {
		vmxctl_err("VMXL_GET_CAPS: %s", strerror(-ret));
		return VMXCTL_EXIT_UNAVAILABLE;
	}
	m->caps = caps;
	if (m->cfg.lapic && !(caps.features & VMXL_FEAT_LAPIC)) {
		vmxctl_err("%s: no in-kernel local APIC (VMXL_FEAT_LAPIC), which --kernel needs: the module does not know the host's TSC rate",
			   VMXLITE_DEV);
		return VMXCTL_EXIT_UNAVAILABLE;
	}
	if (m->cfg.nr_cpus > caps.max_vcpus) {
		vmxctl_err("--cpus %u: the module allows at most %u",
			   m->cfg.nr_cpus, caps.max_vcpus);
		return VMXCTL_EXIT_USAGE;
	}
	if (m->cfg.mem_size > caps.max_mem_bytes) {
		vmxctl_err("--mem %llu MiB: the module allows at most %llu MiB (max_mem_mb)",
			   (unsigned long long)(m->cfg.mem_size >> 20),
			   (unsigned long long)(caps.max_mem_bytes >> 20));
		return VMXCTL_EXIT_USAGE;
	}
	m->run_size = caps.run_mmap_size;
	m->vm_fd = vmxlite_create_vm(m->sys_fd,
				     m->cfg.lapic ? VMXL_VM_LAPIC : 0);
	if (m->vm_fd < 0) {
		vmxctl_err("VMXL_CREATE_VM%s: %s",
			   m->cfg.lapic ? " (VMXL_VM_LAPIC)" : "",
			   strerror(-m->vm_fd));
		return VMXCTL_EXIT_UNAVAILABLE;
	}

	mem = mmap(NULL, m->cfg.mem_size, PROT_READ | PROT_WRITE,
		   /* cppcheck-suppress invalidFunctionArg ; fd -1: anonymous */
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		vmxctl_err("mmap of %llu bytes of guest RAM: %s",
			   (unsigned long long)m->cfg.mem_size,
			   strerror(errno));
		return VMXCTL_EXIT_OSERR;
	}
	m->slots[0] = (struct vmxctl_slot){
		.slot = 0, .gpa = 0, .size = m->cfg.mem_size, .hva = mem,
	};
	m->nr_slots = 1;
	m->dev_dirty[0] = calloc(vmxctl_slot_words(&m->slots[0]), 8);
	if (!m->dev_dirty[0])
		return VMXCTL_EXIT_OSERR;
	ret = vmxlite_set_memory_region(m->vm_fd, 0, 0, 0, m->cfg.mem_size,
					mem);
	if (ret) {
		vmxctl_err("VMXL_SET_MEMORY_REGION (slot 0, GPA 0, %llu bytes): %s%s",
			   (unsigned long long)m->cfg.mem_size, strerror(-ret),
			   ret == -ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
		return VMXCTL_EXIT_OSERR;
	}
	if (m->cfg.smmu) {
		struct vmxl_smmu_config sc;

		vmxctl_smmu_config(&sc);
		ret = vmxlite_create_smmu(m->vm_fd, &sc);
		if (ret) {
			vmxctl_err("VMXL_CREATE_SMMU at GPA 0x%llx: %s",
				   VMXCTL_SMMU_GPA, strerror(-ret));
			return VMXCTL_EXIT_OSERR;
		}
	}
	for (i = 0; i < m->cfg.nr_cpus; i++) {
		struct vcpu *v = &m->vcpus[i];

		v->m = m;
		v->id = i;
		v->settled = true;
		v->fd = vmxlite_create_vcpu(m->vm_fd, i);
		if (v->fd < 0) {
			vmxctl_err("VMXL_CREATE_VCPU %u: %s", i,
				   strerror(-v->fd));
			return VMXCTL_EXIT_OSERR;
		}
		ret = vmxlite_map_run(v->fd, m->run_size, &v->run);
		if (ret) {
			v->run = NULL;
			vmxctl_err("mmap of vCPU %u's run page: %s", i,
				   strerror(-ret));
			return VMXCTL_EXIT_OSERR;
		}
		m->nr_vcpus = i + 1;
	}
	return vmxctl_machine_add_devices(m);
}

void vmxctl_machine_destroy(struct vmxctl_machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++)
		if (m->devices[i]->ops->destroy)
			m->devices[i]->ops->destroy(m->devices[i]);
	if (m->serial_fd >= 0)
		close(m->serial_fd);
	if (m->disk_fd >= 0)
		close(m->disk_fd);
	for (i = 0; i < m->nr_vcpus; i++) {
		if (m->vcpus[i].run)
			vmxlite_unmap_run(m->vcpus[i].run, m->run_size);
		close(m->vcpus[i].fd);
	}
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->sys_fd >= 0)
		close(m->sys_fd);
	for (i = 0; i < m->nr_slots; i++) {
		munmap(m->slots[i].hva, m->slots[i].size);
		free(m->dev_dirty[i]);
	}
	vmxctl_reset_free(m);
}

void vmxctl_machine_reinit(struct vmxctl_machine *m)
{
	char buf[64];

	pthread_mutex_lock(&m->lock);
	m->sys_fd = m->vm_fd = m->control_fd = -1;
	m->serial_fd = m->disk_fd = -1;
	m->nr_vcpus = 0;
	memset(m->vcpus, 0, sizeof(m->vcpus));
	m->nr_slots = 0;
	memset(m->slots, 0, sizeof(m->slots));
	memset(m->dev_dirty, 0, sizeof(m->dev_dirty));
	m->nr_devices = 0;
	memset(m->devices, 0, sizeof(m->devices));
	atomic_store(&m->pause_req, 0);
	m->parked = 0;
	m->status = 0;
	m->power_button = false;
	m->shutdown_by = (struct timespec){ 0 };
	m->control_started = false;
	m->boots++;
	atomic_store(&m->stopping, false);
	pthread_mutex_unlock(&m->lock);
	/* What the last stop wrote would stop the next control thread. */
	while (read(m->wake_pipe[0], buf, sizeof(buf)) > 0)
		;
}
