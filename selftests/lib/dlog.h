/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty logging through one interface for both hypervisors of a gvm:
 * vmx-lite's GET/CLEAR_DIRTY_LOG and KVM's with manual protect, which
 * has the same model (GET clears nothing, CLEAR re-protects ranges).
 */
#ifndef VMXL_DLOG_H
#define VMXL_DLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "gvm.h"

/* KVM: switch on manual protect (call once per VM). vmx-lite: nothing. */
int dlog_init(struct gvm *vm);

/* (Re)define slot @slot at @gpa over @mem, @size bytes, logged or not. */
int dlog_slot_set(struct gvm *vm, uint32_t slot, uint64_t gpa, void *mem,
		  uint64_t size, bool log);

/* The slot's whole bitmap into @bm (zeroed first, @npages bits). */
int dlog_get(struct gvm *vm, uint32_t slot, uint64_t *bm, uint64_t npages);

/* Clear and re-protect the pages of @bm, bit i standing for @first + i. */
int dlog_clear(struct gvm *vm, uint32_t slot, uint64_t first, uint64_t n,
	       const uint64_t *bm);

#endif
