// SPDX-License-Identifier: GPL-2.0
/*
 * Chains of snapshots: from an incremental to the full snapshot, each
 * parent found by its stored path and checked against its child (id,
 * depth, memory layout). Built on the reader's public interface.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_format.h"

char *snap_parent_path(const struct snap_reader *r)
{
	const char *p = snap_get_info(r)->parent, *name = snap_name(r), *slash;
	char *out;

	if (!p)
		return NULL;
	slash = strrchr(name, '/');
	if (p[0] == '/' || !slash)
		return strdup(p);
	if (asprintf(&out, "%.*s/%s", (int)(slash - name), name, p) < 0)
		return NULL;
	return out;
}

void snap_close_chain(struct snap_reader **chain, unsigned int n)
{
	if (!chain)
		return;
	for (unsigned int i = 0; i < n; i++)
		snap_close(chain[i]);
	free(chain);
}

/* Is @p (opened from @pp) the parent @c names? */
static int check_parent(const struct snap_reader *c, const struct snap_reader *p,
			const char *pp, struct snap_err *err)
{
	const struct snap_info *ci = snap_get_info(c), *pi = snap_get_info(p);
	const char *name = snap_name(c);
	char want[65], got[65];

	snap_id_hex(ci->parent_id, want);
	snap_id_hex(pi->id, got);
	if (memcmp(pi->id, ci->parent_id, SNAP_ID_SIZE)) {
		snap_seterr(err, EINVAL, "%s: section 0 (parent): %s is not its parent (id %.16s..., expected %.16s...)",
			    name, pp, got, want);
		return -1;
	}
	if (pi->depth + 1 != ci->depth) {
		snap_seterr(err, EINVAL, "%s: header: depth %u, its parent %s has %u",
			    name, ci->depth, pp, pi->depth);
		return -1;
	}
	if (pi->mem_size != ci->mem_size) {
		snap_seterr(err, EINVAL, "%s: header: memory size %llu differs from its parent's (%s: %llu)",
			    name, (unsigned long long)ci->mem_size, pp,
			    (unsigned long long)pi->mem_size);
		return -1;
	}
	for (uint32_t i = 0; i < ci->nr_slots; i++) {
		const struct snap_slot *a = &ci->slots[i], *b = &pi->slots[i];

		if (pi->nr_slots != ci->nr_slots || a->slot != b->slot ||
		    a->gpa != b->gpa || a->size != b->size) {
			snap_seterr(err, EINVAL, "%s: section 1 (layout): memory slot %u differs from its parent's (%s)",
				    name, a->slot, pp);
			return -1;
		}
	}
	return 0;
}

int snap_open_chain(const char *path, struct snap_reader ***chainp,
		    unsigned int *np, struct snap_err *err)
{
	struct snap_reader **chain = calloc(SNAP_MAX_CHAIN, sizeof(*chain));
	unsigned int n = 0;

	if (!chain) {
		snap_seterr(err, ENOMEM, "%s: out of memory", path);
		return -1;
	}
	chain[n] = snap_open(path, err);
	if (!chain[n])
		goto fail;
	n++;
	while (snap_get_info(chain[n - 1])->flags & SNAP_F_INCREMENTAL) {
		struct snap_reader *c = chain[n - 1], *p;
		struct snap_err perr;
		char *pp = snap_parent_path(c);

		if (!pp) {
			snap_seterr(err, ENOMEM, "%s: out of memory", snap_name(c));
			goto fail;
		}
		if (n == SNAP_MAX_CHAIN) {
			snap_seterr(err, EINVAL, "%s: section 0 (parent): chain longer than %u",
				    snap_name(c), SNAP_MAX_CHAIN);
			free(pp);
			goto fail;
		}
		p = snap_open(pp, &perr);
		if (!p) {
			snap_seterr(err, perr.code, "%s: section 0 (parent): cannot use parent %s: %s",
				    snap_name(c), pp, perr.msg);
			free(pp);
			goto fail;
		}
		chain[n++] = p;
		if (check_parent(c, p, pp, err)) {
			free(pp);
			goto fail;
		}
		free(pp);
	}
	for (unsigned int i = 0; i < n / 2; i++) {
		struct snap_reader *t = chain[i];

		chain[i] = chain[n - 1 - i];
		chain[n - 1 - i] = t;
	}
	*chainp = chain;
	*np = n;
	return 0;
fail:
	snap_close_chain(chain, n);
	return -1;
}
