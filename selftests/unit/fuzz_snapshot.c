// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the snapshot reader (userspace/lib/snapshot*.c):
 * snap_open_mem() and snap_read_memory() on arbitrary bytes, then, when
 * the file is accepted and its memory small, a restore into real buffers.
 * The reader must refuse bad input with a message naming the file and the
 * header or a section, never crash, leak or run long (libFuzzer's
 * -timeout; every loop is bounded by the input's size).
 *
 * Input: one control byte, then the file. Control bit 0 set: the target
 * first repairs the CRCs of the header and of every section it can walk,
 * so that mutations reach the parsers behind the checksums rather than
 * stopping at the first CRC.
 *
 *   make -C selftests fuzz && build/unit/fuzz_snapshot build/fuzz/snapshot-corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot.h"

#define RESTORE_MAX	(8u << 20)	/* restore into buffers up to this */

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void set32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void repair(uint8_t *b, size_t len)
{
	size_t off = SNAP_HEADER_SIZE;

	if (len < SNAP_HEADER_SIZE)
		return;
	/* The file size the header claims, and its CRC. */
	for (int i = 0; i < 8; i++)
		b[48 + i] = (uint64_t)len >> (8 * i);
	set32(b + 124, crc32(0, b, 124));
	while (len - off >= SNAP_SECHDR_SIZE) {
		uint64_t plen = le64(b + off + 8);

		if (plen > len - off - SNAP_SECHDR_SIZE)
			break;
		set32(b + off + 16, crc32(0, b + off + SNAP_SECHDR_SIZE, plen));
		set32(b + off + 20, crc32(0, b + off, 20));
		off += SNAP_SECHDR_SIZE + plen;
	}
}

static void check_msg(const struct snap_err *err)
{
	/* Every refusal names the file and where. */
	if (strncmp(err->msg, "fuzz.snap: ", 11) ||
	    (!strstr(err->msg, "header") && !strstr(err->msg, "section ") &&
	     !strstr(err->msg, "out of memory"))) {
		fprintf(stderr, "bad message: '%s'\n", err->msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_err err = { 0 };
	struct snap_reader *r;
	const struct snap_info *in;
	uint8_t *b;

	if (size < 1)
		return 0;
	b = malloc(size);
	memcpy(b, data + 1, size - 1);
	if (data[0] & 1)
		repair(b, size - 1);
	r = snap_open_mem(b, size - 1, "fuzz.snap", &err);
	if (!r) {
		check_msg(&err);
		free(b);
		return 0;
	}
	in = snap_get_info(r);
	if (snap_read_memory(r, NULL, &err)) {
		check_msg(&err);
	} else if (in->mem_size <= RESTORE_MAX) {
		struct snap_slot s[SNAP_MAX_SLOTS];
		char *pp = snap_parent_path(r);

		free(pp);
		for (uint32_t i = 0; i < in->nr_slots; i++) {
			s[i] = in->slots[i];
			s[i].host = calloc(1, s[i].size);
		}
		if (snap_read_memory(r, s, &err)) {
			fprintf(stderr, "verified file failed to restore: %s\n", err.msg);
			abort();
		}
		for (uint32_t i = 0; i < in->nr_slots; i++)
			free(s[i].host);
	}
	snap_close(r);
	free(b);
	return 0;
}
