// SPDX-License-Identifier: GPL-2.0
/*
 * snap_capture() (snapshot.h): the guest pages a snapshot writes, copied
 * while the VM is paused. Copying runs at memory speed, compressing at
 * zlib's, tens of times slower: with the copy the VM is stopped only for
 * the copy, and snap_write() compresses it while the guest runs on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "snapshot_format.h"

static uint64_t selected(const struct snap_slot *s)
{
	uint64_t n = s->size / SNAP_PAGE_SIZE, sel = 0;

	if (!s->pages)
		return n;
	for (uint64_t w = 0; w < (n + 63) / 64; w++) {
		uint64_t left = n - 64 * w;

		sel += __builtin_popcountll(s->pages[w] &
					    (left >= 64 ? ~0ULL : (1ULL << left) - 1));
	}
	return sel;
}

/* /proc/meminfo's MemAvailable in bytes; 0 if it cannot be read. */
static uint64_t mem_available(void)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

int snap_capture(struct snap_capture *cap, const struct snap_slot *slots,
		 uint32_t nr_slots, const char *name, struct snap_err *err)
{
	uint64_t pages = 0, avail;
	uint8_t *to;

	memset(cap, 0, sizeof(*cap));
	if (nr_slots > SNAP_MAX_SLOTS) {
		snap_seterr(err, EINVAL, "%s: %u memory slots (at most %u)", name,
			    nr_slots, SNAP_MAX_SLOTS);
		return -1;
	}
	for (uint32_t i = 0; i < nr_slots; i++)
		pages += selected(&slots[i]);
	/*
	 * One page at least: an incremental with nothing dirty still needs
	 * host pointers, which the writer then never reads.
	 */
	cap->len = (pages ? pages : 1) * SNAP_PAGE_SIZE;
	/*
	 * Linux overcommits: a mapping larger than the memory that can back
	 * it succeeds, and the copy then ends in the OOM killer, which would
	 * take the VM with it (seen: a full copy of 128 MiB in the 512 MiB
	 * vmx lane). So the copy takes at most half of what MemAvailable
	 * says; the rest stays for the guest and the file's page cache.
	 */
	avail = mem_available();
	if (avail && cap->len > avail / 2) {
		snap_seterr(err, ENOMEM, "%s: no memory for a copy of %llu guest pages (%llu MiB): more than half of the %llu MiB available",
			    name, (unsigned long long)pages,
			    (unsigned long long)(cap->len >> 20),
			    (unsigned long long)(avail >> 20));
		memset(cap, 0, sizeof(*cap));
		return -1;
	}
	/* cppcheck does not know MAP_ANONYMOUS, for which mmap(2) asks fd -1. */
	cap->buf = mmap(NULL, cap->len, PROT_READ | PROT_WRITE,
			/* cppcheck-suppress invalidFunctionArg */
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cap->buf == MAP_FAILED) {
		int e = errno;

		snap_seterr(err, e, "%s: no memory for a copy of %llu guest pages (%llu MiB): %s",
			    name, (unsigned long long)pages,
			    (unsigned long long)(cap->len >> 20), strerror(e));
		memset(cap, 0, sizeof(*cap));
		return -1;
	}
	to = cap->buf;
	for (uint32_t i = 0; i < nr_slots; i++) {
		const struct snap_slot *s = &slots[i];
		struct snap_slot *v = &cap->slots[i];
		uint64_t n = s->size / SNAP_PAGE_SIZE;

		*v = *s;
		v->host = to;
		if (!s->pages) {
			memcpy(to, s->host, s->size);
			to += s->size;
			continue;
		}
		/* Runs of selected pages in one memcpy: dirty pages cluster. */
		v->packed = true;
		for (uint64_t pg = 0; pg < n;) {
			uint64_t end = pg;

			while (end < n && (s->pages[end / 64] >> (end % 64) & 1))
				end++;
			if (end == pg) {
				pg++;
				continue;
			}
			memcpy(to, (const uint8_t *)s->host + pg * SNAP_PAGE_SIZE,
			       (end - pg) * SNAP_PAGE_SIZE);
			to += (end - pg) * SNAP_PAGE_SIZE;
			pg = end;
		}
	}
	cap->nr_slots = nr_slots;
	cap->pages = pages;
	return 0;
}

void snap_capture_free(struct snap_capture *cap)
{
	if (cap->buf)
		munmap(cap->buf, cap->len);
	memset(cap, 0, sizeof(*cap));
}
