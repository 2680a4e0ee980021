// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: device DMA, through the SMMU when the VM has one, else
 * through vmxctl's mapping of guest RAM.
 */
#include <errno.h>
#include <string.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

static int dma(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
	       void *buf, uint64_t len, bool write, const char **why)
{
	struct vmxl_dma d;
	int ret;

	if (!m->cfg.smmu) {
		void *hva = vmxctl_gpa_to_hva(m, addr, len);

		if (!hva) {
			if (why)
				*why = "no RAM";
			return -EFAULT;
		}
		if (write) {
			memcpy(hva, buf, len);
			vmxctl_mark_dirty(m, addr, len);
		} else {
			memcpy(buf, hva, len);
		}
		return 0;
	}
	ret = vmxlite_dma(m->vm_fd, sid, addr, buf, len, write, &d);
	if (ret && why)
		*why = ret == -EFAULT ? vmxlite_dma_status_name(d.status) :
					strerror(-ret);
	return ret;
}

int vmxctl_dma_read(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
		    void *buf, uint64_t len, const char **why)
{
	return dma(m, sid, addr, buf, len, false, why);
}

int vmxctl_dma_write(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
		     const void *buf, uint64_t len, const char **why)
{
	return dma(m, sid, addr, (void *)buf, len, true, why);
}
