// SPDX-License-Identifier: GPL-2.0
/*
 * Nested page tables (AMD NPT, Intel EPT): 4 levels of 512 entries
 * mapping guest-physical to host-physical 4 KiB pages. Both vendors share
 * the radix tree; only the bits of an entry differ (struct vmxl_mmu_fmt).
 *
 * Tables are filled lazily, one page per nested-page fault, and emptied
 * whole when the memory layout changes: simple, and a guest touches far
 * fewer pages than it owns during a test run.
 */
#include <linux/gfp.h>
#include <linux/lockdep.h>
#include <linux/mm.h>

#include "vmxl.h"

#define PT_ENTRIES	512
#define PT_ADDR_MASK	0x000ffffffffff000ULL

static atomic_long_t vmxl_table_pages = ATOMIC_LONG_INIT(0);

long vmxl_mmu_table_pages(void)
{
	return atomic_long_read(&vmxl_table_pages);
}

static u64 *mmu_alloc_table(struct vmxl_mmu *mmu)
{
	u64 *table = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

	if (table) {
		mmu->nr_tables++;
		atomic_long_inc(&vmxl_table_pages);
	}
	return table;
}

static void mmu_free_table(struct vmxl_mmu *mmu, u64 *table)
{
	free_page((unsigned long)table);
	mmu->nr_tables--;
	atomic_long_dec(&vmxl_table_pages);
}

int vmxl_mmu_init(struct vmxl_mmu *mmu, const struct vmxl_mmu_fmt *fmt)
{
	mutex_init(&mmu->lock);
	mmu->fmt = fmt;
	mmu->nr_tables = 0;
	mmu->root = mmu_alloc_table(mmu);
	if (!mmu->root)
		return -ENOMEM;
	mmu->root_pa = __pa(mmu->root);
	return 0;
}

static u64 *mmu_next(struct vmxl_mmu *mmu, u64 *entry, bool alloc)
{
	u64 *table;

	if (*entry & mmu->fmt->present_mask)
		return __va(*entry & PT_ADDR_MASK);
	if (!alloc)
		return NULL;
	table = mmu_alloc_table(mmu);
	if (table)
		WRITE_ONCE(*entry, __pa(table) | mmu->fmt->table);
	return table;
}

int vmxl_mmu_map(struct vmxl_mmu *mmu, u64 gpa, u64 pfn, bool writable)
{
	u64 *table = mmu->root;
	int level;

	lockdep_assert_held(&mmu->lock);
	for (level = 3; level > 0; level--) {
		table = mmu_next(mmu, &table[(gpa >> (12 + 9 * level)) & 511],
				 true);
		if (!table)
			return -ENOMEM;
	}
	WRITE_ONCE(table[(gpa >> 12) & 511],
		   (pfn << PAGE_SHIFT) |
		   (writable ? mmu->fmt->leaf_rw : mmu->fmt->leaf_ro));
	return 0;
}

/* The leaf table of @gpa's 2 MiB region, or NULL: none. */
static u64 *mmu_leaf_table(struct vmxl_mmu *mmu, u64 gpa)
{
	u64 *table = mmu->root;
	int level;

	for (level = 3; level > 0 && table; level--)
		table = mmu_next(mmu, &table[(gpa >> (12 + 9 * level)) & 511],
				 false);
	return table;
}

void vmxl_mmu_protect(struct vmxl_mmu *mmu, struct vmxl_mmu_walk *walk,
		      u64 gpa)
{
	u64 *table, *leaf;

	lockdep_assert_held(&mmu->lock);
	if (walk->table && walk->base == (gpa & PMD_MASK)) {
		table = walk->table;
	} else {
		table = mmu_leaf_table(mmu, gpa);
		if (!table)
			return;
		walk->base = gpa & PMD_MASK;
		walk->table = table;
	}
	leaf = &table[(gpa >> 12) & 511];
	if (!(*leaf & mmu->fmt->present_mask))
		return;
	if (mmu->fmt->dirty_bit)
		WRITE_ONCE(*leaf, *leaf & ~mmu->fmt->dirty_bit);
	else
		WRITE_ONCE(*leaf, (*leaf & PT_ADDR_MASK) | mmu->fmt->leaf_ro);
}

void vmxl_mmu_hw_dirty(struct vmxl_mmu *mmu, u64 gpa, unsigned long npages,
		       unsigned long *bits)
{
	unsigned long i = 0, n;
	u64 *table;

	lockdep_assert_held(&mmu->lock);
	while (i < npages) {
		n = min_t(unsigned long, npages - i,
			  512 - (((gpa >> 12) + i) & 511));
		table = mmu_leaf_table(mmu, gpa + (i << PAGE_SHIFT));
		for (; table && n; n--, i++)
			if (table[((gpa >> 12) + i) & 511] & mmu->fmt->hw_dirty)
				set_bit(i, bits);
		i += n;
	}
}

/* Free the subtree under @table (a table at @level, 3 = PDPT). */
static void mmu_free_level(struct vmxl_mmu *mmu, u64 *table, int level)
{
	u64 *child;
	int i;

	for (i = 0; i < PT_ENTRIES && level > 1; i++) {
		child = mmu_next(mmu, &table[i], false);
		if (child)
			mmu_free_level(mmu, child, level - 1);
	}
	mmu_free_table(mmu, table);
}

static void mmu_zap(struct vmxl_mmu *mmu)
{
	u64 *child;
	int i;

	for (i = 0; i < PT_ENTRIES; i++) {
		child = mmu_next(mmu, &mmu->root[i], false);
		if (child)
			mmu_free_level(mmu, child, 3);
		mmu->root[i] = 0;
	}
}

void vmxl_mmu_zap_all(struct vmxl_mmu *mmu)
{
	lockdep_assert_held(&mmu->lock);
	mmu_zap(mmu);
}

/* The last user is gone: no lock left to take. */
void vmxl_mmu_destroy(struct vmxl_mmu *mmu)
{
	if (!mmu->root)
		return;
	mmu_zap(mmu);
	mmu_free_table(mmu, mmu->root);
	mmu->root = NULL;
}
