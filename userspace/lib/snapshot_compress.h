/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The snapshot writer's compression pipeline (snapshot_compress.c):
 * worker threads deflate the memory chunks into a ring of buffers, each
 * with one deflate stream reset per chunk; the writer's thread takes the
 * chunks from the ring in file order.
 *
 *   compressor_plan()     the chunks to write (before the file exists)
 *   compressor_start()    the ring and the workers
 *   compressor_wait(j)    chunk j, compressed
 *   compressor_release(j) its buffer back to the workers
 *   compressor_fini()     stop and free, whatever state it is in
 */
#ifndef VMXL_SNAPSHOT_COMPRESS_H
#define VMXL_SNAPSHOT_COMPRESS_H

#include <pthread.h>
#include <stdbool.h>

#include "snapshot_format.h"

#define COMPRESS_MAX_THREADS	8u

/* One unit of compression work: up to 256 pages of one slot. */
struct chunk_job {
	uint32_t slot;
	uint32_t npages;
	uint64_t first;
	uint64_t packed;	/* packed slot: the copy's index of its first page */
};

/* A compressed chunk: the payload of its memory section. */
struct chunk_buf {
	uint8_t *data;		/* CHUNK_HDR + compressed */
	size_t len;
	uint32_t crc;
	bool done;
	bool skip;		/* not written: a full snapshot's zero chunk */
	uint64_t selected, zero, pages;	/* pages covered, zero, compressed */
};

struct compressor {
	const struct snap_write_params *p;
	struct chunk_job *jobs;
	size_t njobs;
	struct chunk_buf *ring;
	unsigned int nring;
	size_t next, written;	/* jobs taken by workers, by the writer */
	bool abort, failed;
	char fail_msg[256];
	size_t bound;
	bool running;		/* lock, conditions and threads exist */
	pthread_mutex_t lock;
	pthread_cond_t space, done;
	pthread_t th[COMPRESS_MAX_THREADS];
	unsigned int nth;
};

/* @c zeroed by the caller; every chunk that holds a selected page. */
int compressor_plan(struct compressor *c, const struct snap_write_params *p,
		    struct snap_err *err);
int compressor_start(struct compressor *c, struct snap_err *err);
/* NULL (and @err filled) when a worker failed. */
const struct chunk_buf *compressor_wait(struct compressor *c, size_t j,
					struct snap_err *err);
void compressor_release(struct compressor *c, size_t j);
void compressor_fini(struct compressor *c);

#endif
