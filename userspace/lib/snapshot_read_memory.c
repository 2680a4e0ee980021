// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot reader's memory chunks: snap_read_memory() checks each
 * chunk (CRC, slot and pages, order, bitmaps, lengths), inflates it and
 * copies its pages to where the caller restores memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot_reader.h"

int snap_read_memory(struct snap_reader *r, const struct snap_slot *slots,
		     struct snap_err *err)
{
	struct snap_info *in = &r->info;
	uint8_t *pl = NULL, *raw = NULL;
	z_stream z = { 0 };
	int64_t prev_slot = -1;
	uint64_t prev_first = 0;
	bool full = !(in->flags & SNAP_F_INCREMENTAL);
	size_t rawcap = SNAP_PAGE_SIZE;
	int ret = -1;

	if (slots)
		for (uint32_t i = 0; i < in->nr_slots; i++)
			if (!slots[i].host || slots[i].size != in->slots[i].size) {
				snap_seterr(err, EINVAL, "%s: memory slot %u: no buffer of %llu bytes to restore into",
					    r->name, in->slots[i].slot,
					    (unsigned long long)in->slots[i].size);
				return -1;
			}
	/* Buffers as large as this file's chunks need, not more. */
	{
		uint64_t maxlen = CHUNK_HDR;

		for (uint32_t c = 0; c < in->nr_chunks; c++)
			if (r->chunks[c].len > maxlen)
				maxlen = r->chunks[c].len;
		pl = malloc(maxlen);
	}
	raw = malloc(rawcap);
	if (!pl || !raw || inflateInit2(&z, -15) != Z_OK) {
		snap_seterr(err, ENOMEM, "%s: out of memory", r->name);
		free(pl);
		free(raw);
		return -1;
	}
	/* A full snapshot leaves out zero chunks: start from zeros. */
	if (slots && full)
		for (uint32_t i = 0; i < in->nr_slots; i++)
			memset(slots[i].host, 0, slots[i].size);

	for (uint32_t c = 0; c < in->nr_chunks; c++) {
		const struct chunk_ref *cr = &r->chunks[c];
		uint32_t sl, npages, rawlen, clen, ndata = 0;
		uint64_t first, present[BITMAP_WORDS], data[BITMAP_WORDS], spages;
		int zr;

		if (snap_rd(r, cr->off, pl, cr->len)) {
			snap_secerr(err, r, cr->section, "read error at offset %llu",
				    (unsigned long long)cr->off);
			goto out;
		}
		if (snap_crc(pl, cr->len) != cr->crc) {
			snap_secerr(err, r, cr->section, "payload CRC mismatch (stored %08x, computed %08x)",
				    cr->crc, snap_crc(pl, cr->len));
			goto out;
		}
		sl = get32(pl);
		npages = get32(pl + 4);
		first = get64(pl + 8);
		rawlen = get32(pl + 16);
		clen = get32(pl + 20);
		for (unsigned int w = 0; w < BITMAP_WORDS; w++) {
			present[w] = get64(pl + 24 + 8 * w);
			data[w] = get64(pl + 56 + 8 * w);
			ndata += __builtin_popcountll(data[w]);
		}
		if (sl >= in->nr_slots) {
			snap_secerr(err, r, cr->section, "slot index %u (the layout has %u)",
				    sl, in->nr_slots);
			goto out;
		}
		spages = in->slots[sl].size / SNAP_PAGE_SIZE;
		if (first % SNAP_CHUNK_PAGES || first >= spages ||
		    npages != (spages - first < SNAP_CHUNK_PAGES ? spages - first :
			       SNAP_CHUNK_PAGES)) {
			snap_secerr(err, r, cr->section, "pages %llu+%u do not fit slot %u",
				    (unsigned long long)first, npages, in->slots[sl].slot);
			goto out;
		}
		if ((int64_t)sl < prev_slot ||
		    ((int64_t)sl == prev_slot && first <= prev_first)) {
			snap_secerr(err, r, cr->section, "out of order (slot %u page %llu)",
				    in->slots[sl].slot, (unsigned long long)first);
			goto out;
		}
		prev_slot = sl;
		prev_first = first;
		for (unsigned int w = 0; w < BITMAP_WORDS; w++) {
			uint64_t valid = npages >= 64 * (w + 1) ? ~0ULL :
					 npages <= 64 * w ? 0 :
					 (1ULL << (npages - 64 * w)) - 1;

			if ((present[w] & ~valid) || (data[w] & ~present[w])) {
				snap_secerr(err, r, cr->section, "page bitmaps inconsistent");
				goto out;
			}
		}
		if (rawlen != ndata * SNAP_PAGE_SIZE || clen != cr->len - CHUNK_HDR ||
		    (!rawlen && clen)) {
			snap_secerr(err, r, cr->section, "%u data pages but %u raw and %u compressed bytes in %llu",
				    ndata, rawlen, clen, (unsigned long long)cr->len);
			goto out;
		}
		if (rawlen > rawcap) {
			uint8_t *n = realloc(raw, rawlen);

			if (!n) {
				snap_seterr(err, ENOMEM, "%s: out of memory", r->name);
				goto out;
			}
			raw = n;
			rawcap = rawlen;
		}
		if (rawlen) {
			if (inflateReset(&z) != Z_OK)
				goto zfail;
			z.next_in = pl + CHUNK_HDR;
			z.avail_in = clen;
			z.next_out = raw;
			z.avail_out = rawlen;
			zr = inflate(&z, Z_FINISH);
			if (zr != Z_STREAM_END || z.avail_out || z.avail_in) {
zfail:
				snap_secerr(err, r, cr->section, "compressed pages do not inflate to %u bytes (%s)",
					    rawlen, z.msg ? z.msg : "wrong length");
				goto out;
			}
		}
		if (slots) {
			uint8_t *base = (uint8_t *)slots[sl].host + first * SNAP_PAGE_SIZE;
			const uint8_t *src = raw;

			for (uint32_t i = 0; i < npages; i++) {
				if (!((present[i / 64] >> (i % 64)) & 1))
					continue;
				if ((data[i / 64] >> (i % 64)) & 1) {
					memcpy(base + i * SNAP_PAGE_SIZE, src, SNAP_PAGE_SIZE);
					src += SNAP_PAGE_SIZE;
				} else if (!full) {
					memset(base + i * SNAP_PAGE_SIZE, 0, SNAP_PAGE_SIZE);
				}
			}
		}
	}
	ret = 0;
out:
	inflateEnd(&z);
	free(pl);
	free(raw);
	return ret;
}
