// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the dirty log, the kernel's ORed with the pages vmxctl's own
 * devices wrote through its mapping of guest RAM.
 */
#include <errno.h>
#include <string.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

int vmxctl_dirty_log_enable(struct vmxctl_machine *m, bool on)
{
	unsigned int i;

	for (i = 0; i < m->nr_slots; i++) {
		struct vmxctl_slot *s = &m->slots[i];
		uint32_t flags = on ? s->flags | VMXL_MEM_LOG_DIRTY :
				      s->flags & ~VMXL_MEM_LOG_DIRTY;
		int ret;

		ret = vmxlite_set_memory_region(m->vm_fd, s->slot, flags,
						s->gpa, s->size, s->hva);
		if (ret)
			return ret;
		s->flags = flags;
		memset(m->dev_dirty[i], 0, vmxctl_slot_words(s) * 8);
	}
	return 0;
}

int vmxctl_dirty_log_get(struct vmxctl_machine *m, unsigned int idx,
			 uint64_t *bitmap)
{
	struct vmxctl_slot *s;
	uint64_t w;
	int ret;

	if (idx >= m->nr_slots)
		return -EINVAL;
	s = &m->slots[idx];
	ret = vmxlite_get_dirty_log(m->vm_fd, s->slot, 0, bitmap);
	if (ret)
		return ret;
	for (w = 0; w < vmxctl_slot_words(s); w++)
		bitmap[w] |= atomic_load((_Atomic uint64_t *)&m->dev_dirty[idx][w]);
	return 0;
}

int vmxctl_dirty_log_clear(struct vmxctl_machine *m, unsigned int idx,
			   const uint64_t *bitmap)
{
	struct vmxctl_slot *s;
	uint64_t w;
	int ret;

	if (idx >= m->nr_slots)
		return -EINVAL;
	s = &m->slots[idx];
	ret = vmxlite_clear_dirty_log(m->vm_fd, s->slot, 0,
				      s->size / PAGE_SIZE, bitmap);
	if (ret)
		return ret;
	for (w = 0; w < vmxctl_slot_words(s); w++)
		atomic_fetch_and((_Atomic uint64_t *)&m->dev_dirty[idx][w],
				 ~bitmap[w]);
	return 0;
}

void vmxctl_dirty_log_mark(struct vmxctl_machine *m, unsigned int idx,
			   const uint64_t *bitmap)
{
	uint64_t w;

	if (idx >= m->nr_slots)
		return;
	for (w = 0; w < vmxctl_slot_words(&m->slots[idx]); w++)
		if (bitmap[w])
			atomic_fetch_or((_Atomic uint64_t *)&m->dev_dirty[idx][w],
					bitmap[w]);
}

void vmxctl_mark_dirty(struct vmxctl_machine *m, uint64_t gpa, uint64_t len)
{
	unsigned int i;
	uint64_t p, first, last;

	if (!len)
		return;
	for (i = 0; i < m->nr_slots; i++) {
		struct vmxctl_slot *s = &m->slots[i];

		if (gpa < s->gpa || gpa - s->gpa >= s->size)
			continue;
		first = (gpa - s->gpa) / PAGE_SIZE;
		last = (gpa - s->gpa + len - 1) / PAGE_SIZE;
		if (last >= s->size / PAGE_SIZE)
			last = s->size / PAGE_SIZE - 1;
		for (p = first; p <= last; p++)
			atomic_fetch_or((_Atomic uint64_t *)&m->dev_dirty[i][p / 64],
					1ULL << (p % 64));
	}
}
