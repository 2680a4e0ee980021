// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot writer's compression pipeline (see snapshot_compress.h):
 * a memory chunk's payload is its slot and pages, a bitmap of the pages
 * it covers, a bitmap of those that are not zero, and those pages as one
 * raw deflate stream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot_compress.h"

static int bit(const uint64_t *map, uint64_t n)
{
	return (map[n / 64] >> (n % 64)) & 1;
}

static bool page_is_zero(const void *page)
{
	const uint64_t *q = page;

	for (unsigned int i = 0; i < SNAP_PAGE_SIZE / 8; i += 8)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] |
		    q[i + 5] | q[i + 6] | q[i + 7])
			return false;
	return true;
}

/* Selected pages among the @cnt pages from @first (a multiple of 64). */
static uint32_t count_selected(const uint64_t *pages, uint64_t first, uint32_t cnt)
{
	uint32_t n = 0;

	for (uint32_t w = 0; w < (cnt + 63) / 64; w++) {
		uint32_t left = cnt - 64 * w;
		/*
		 * cppcheck's value flow loses that cnt goes up to
		 * SNAP_CHUNK_PAGES (256): left >= 64 is the common case.
		 */
		/* cppcheck-suppress knownConditionTrueFalse */
		uint64_t mask = left >= 64 ? ~0ULL : (1ULL << left) - 1;

		n += __builtin_popcountll(pages[first / 64 + w] & mask);
	}
	return n;
}

int compressor_plan(struct compressor *c, const struct snap_write_params *p,
		    struct snap_err *err)
{
	size_t njobs = 0;

	c->p = p;
	for (uint32_t i = 0; i < p->nr_slots; i++)
		njobs += (p->slots[i].size / SNAP_PAGE_SIZE + SNAP_CHUNK_PAGES - 1) /
			 SNAP_CHUNK_PAGES;
	c->jobs = calloc(njobs ? njobs : 1, sizeof(*c->jobs));
	if (!c->jobs) {
		snap_seterr(err, ENOMEM, "%s: out of memory", p->path);
		return -1;
	}
	njobs = 0;
	for (uint32_t i = 0; i < p->nr_slots; i++) {
		const struct snap_slot *s = &p->slots[i];
		uint64_t n = s->size / SNAP_PAGE_SIZE;
		uint64_t before = 0;	/* selected pages before this chunk */

		for (uint64_t first = 0; first < n; first += SNAP_CHUNK_PAGES) {
			uint32_t cnt = n - first < SNAP_CHUNK_PAGES ? n - first :
				       SNAP_CHUNK_PAGES;
			uint32_t sel = s->pages ? count_selected(s->pages, first, cnt) :
					cnt;

			if (sel)
				c->jobs[njobs++] = (struct chunk_job){
					i, cnt, first, before,
				};
			before += sel;
		}
	}
	c->njobs = njobs;
	return 0;
}

static int compress_job(struct compressor *c, z_stream *z,
			const struct chunk_job *j, struct chunk_buf *b)
{
	const struct snap_slot *s = &c->p->slots[j->slot];
	uint64_t present[BITMAP_WORDS] = { 0 }, data[BITMAP_WORDS] = { 0 };
	uint32_t raw = 0;
	uint8_t *h = b->data;
	uint64_t next = j->packed;	/* packed: the copy's next page */
	int ret;

	b->selected = b->zero = b->pages = 0;
	if (deflateReset(z) != Z_OK)
		return -1;
	z->next_out = h + CHUNK_HDR;
	z->avail_out = c->bound;
	for (uint32_t i = 0; i < j->npages; i++) {
		uint64_t pg = j->first + i;
		uint8_t *src;

		if (s->pages && !bit(s->pages, pg))
			continue;
		src = (uint8_t *)s->host + (s->packed ? next++ : pg) * SNAP_PAGE_SIZE;
		present[i / 64] |= 1ULL << (i % 64);
		b->selected++;
		if (page_is_zero(src)) {
			b->zero++;
			continue;
		}
		data[i / 64] |= 1ULL << (i % 64);
		b->pages++;
		raw += SNAP_PAGE_SIZE;
		z->next_in = src;
		z->avail_in = SNAP_PAGE_SIZE;
		ret = deflate(z, Z_NO_FLUSH);
		if (ret != Z_OK || z->avail_in)
			return -1;
	}
	if (raw) {
		z->avail_in = 0;
		ret = deflate(z, Z_FINISH);
		if (ret != Z_STREAM_END)
			return -1;
	}
	/* A full snapshot leaves out chunks of zeros: absent means zero. */
	b->skip = !s->pages && !raw;
	put32(h, j->slot);
	put32(h + 4, j->npages);
	put64(h + 8, j->first);
	put32(h + 16, raw);
	put32(h + 20, raw ? (uint32_t)z->total_out : 0);
	for (unsigned int w = 0; w < BITMAP_WORDS; w++) {
		put64(h + 24 + 8 * w, present[w]);
		put64(h + 56 + 8 * w, data[w]);
	}
	b->len = CHUNK_HDR + (raw ? z->total_out : 0);
	b->crc = snap_crc(b->data, b->len);
	return 0;
}

static void *worker(void *arg)
{
	struct compressor *c = arg;
	z_stream z = { 0 };
	int level = c->p->level ? c->p->level : Z_BEST_SPEED;

	/* Raw deflate: the section CRC covers integrity, no adler32 needed. */
	if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		pthread_mutex_lock(&c->lock);
		c->failed = true;
		snprintf(c->fail_msg, sizeof(c->fail_msg), "deflateInit2 failed");
		pthread_cond_broadcast(&c->done);
		pthread_mutex_unlock(&c->lock);
		return NULL;
	}
	for (;;) {
		size_t j;
		struct chunk_buf *b;
		int r;

		pthread_mutex_lock(&c->lock);
		while (!c->abort && c->next < c->njobs &&
		       c->next - c->written >= c->nring)
			pthread_cond_wait(&c->space, &c->lock);
		if (c->abort || c->next >= c->njobs) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		j = c->next++;
		pthread_mutex_unlock(&c->lock);

		b = &c->ring[j % c->nring];
		r = compress_job(c, &z, &c->jobs[j], b);

		pthread_mutex_lock(&c->lock);
		if (r) {
			c->failed = true;
			snprintf(c->fail_msg, sizeof(c->fail_msg),
				 "deflate failed on slot %u page %llu: %s",
				 c->p->slots[c->jobs[j].slot].slot,
				 (unsigned long long)c->jobs[j].first,
				 z.msg ? z.msg : "no message");
		}
		b->done = true;
		pthread_cond_broadcast(&c->done);
		pthread_mutex_unlock(&c->lock);
		if (r)
			break;
	}
	deflateEnd(&z);
	return NULL;
}

int compressor_start(struct compressor *c, struct snap_err *err)
{
	const struct snap_write_params *p = c->p;
	unsigned int want = p->threads ? p->threads : 2;

	if (want > COMPRESS_MAX_THREADS)
		want = COMPRESS_MAX_THREADS;
	c->nring = 2 * want + 2;
	c->bound = CHUNK_COMP_MAX;
	c->ring = calloc(c->nring, sizeof(*c->ring));
	if (!c->ring) {
		c->nring = 0;
		snap_seterr(err, ENOMEM, "%s: out of memory", p->path);
		return -1;
	}
	for (unsigned int i = 0; i < c->nring; i++) {
		c->ring[i].data = malloc(CHUNK_HDR + c->bound);
		if (!c->ring[i].data) {
			snap_seterr(err, ENOMEM, "%s: out of memory", p->path);
			return -1;
		}
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->space, NULL);
	pthread_cond_init(&c->done, NULL);
	c->running = true;
	for (c->nth = 0; c->nth < want && c->njobs; c->nth++)
		if (pthread_create(&c->th[c->nth], NULL, worker, c))
			break;
	if (c->njobs && !c->nth) {
		snap_seterr(err, EAGAIN, "%s: cannot start a compression thread",
			    p->path);
		return -1;
	}
	return 0;
}

const struct chunk_buf *compressor_wait(struct compressor *c, size_t j,
					struct snap_err *err)
{
	struct chunk_buf *b = &c->ring[j % c->nring];
	bool failed;

	pthread_mutex_lock(&c->lock);
	while (!b->done && !c->failed)
		pthread_cond_wait(&c->done, &c->lock);
	failed = !b->done;
	if (failed)
		snap_seterr(err, EIO, "%s: %s", c->p->path, c->fail_msg);
	pthread_mutex_unlock(&c->lock);
	return failed ? NULL : b;
}

void compressor_release(struct compressor *c, size_t j)
{
	pthread_mutex_lock(&c->lock);
	c->ring[j % c->nring].done = false;
	c->written++;
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
}

void compressor_fini(struct compressor *c)
{
	if (c->running) {
		pthread_mutex_lock(&c->lock);
		c->abort = true;
		pthread_cond_broadcast(&c->space);
		pthread_mutex_unlock(&c->lock);
		for (unsigned int i = 0; i < c->nth; i++)
			pthread_join(c->th[i], NULL);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->space);
		pthread_cond_destroy(&c->done);
	}
	for (unsigned int i = 0; i < c->nring; i++)
		free(c->ring[i].data);
	free(c->ring);
	free(c->jobs);
}
