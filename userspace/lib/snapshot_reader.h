/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The snapshot reader's state, shared by its files (not installed):
 * snapshot_read.c opens and checks a file, snapshot_read_memory.c reads
 * its memory chunks.
 */
#ifndef VMXL_SNAPSHOT_READER_H
#define VMXL_SNAPSHOT_READER_H

#include "snapshot_format.h"

struct chunk_ref {
	uint64_t off;		/* of the payload */
	uint64_t len;
	uint32_t crc;
	uint32_t section;
};

struct snap_reader {
	char *name;
	int fd;
	const uint8_t *buf;	/* snap_open_mem */
	uint64_t size;
	uint8_t hdr[SNAP_HEADER_SIZE];
	struct snap_info info;
	void **blobs;		/* device payloads */
	struct chunk_ref *chunks;
	uint32_t first_mem;	/* section index of memory chunk 0 */
};

/* Bytes @off..@off+@len of the file; -1 when short or unreadable. */
int snap_rd(struct snap_reader *r, uint64_t off, void *dst, uint64_t len);

/* An EINVAL naming @r, section @idx and what the section should be. */
void snap_secerr(struct snap_err *err, const struct snap_reader *r,
		 uint32_t idx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
