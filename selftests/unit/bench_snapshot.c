// SPDX-License-Identifier: GPL-2.0
/*
 * Host benchmark of the snapshot writer (userspace/lib/snapshot.c). The
 * writer is plain userspace: it reads guest memory through vmxctl's
 * mapping and never enters the kernel except to write the file, so it is
 * measured on the build host (real cores, real zlib speed) rather than
 * under TCG or Bochs, whose instruction emulation would be timed instead.
 * scripts/bench.sh runs it as the "host" lane of `make bench`.
 *
 * Memory: MEM_MB MiB (default 128) of pages, 30% zero, 50% text-like
 * (compressible about 3:1), 20% random, in a fixed pseudo-random order.
 * Files go to $BENCH_DIR (default build/bench-snapshot), without fsync:
 * the writer is timed, not the disk.
 *
 * Metrics (lower is better; bench.h format):
 *   snapshot_incremental_5pct  ms: incremental with 5% of pages dirty
 *                              (vmx-lite) against a full snapshot (ref);
 *                              target ratio <= 1/15
 *   snapshot_write_ns_per_page ns per guest page: the 2-thread writer of
 *                              a full snapshot against one zlib level-1
 *                              deflate stream over the same memory
 *                              (ref); target ratio <= 1/1.5
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bench.h"
#include "snapshot.h"

#define PG	4096u
#define RUNS	5

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p)
{
	static const char *const words[] = {
		"the ", "guest ", "kernel ", "page ", "cache ", "struct ",
		"return ", "0x0000 ", "int ", "void ", "\n\t", "if (",
	};
	unsigned int kind = rnd() % 100;

	if (kind < 30) {
		memset(p, 0, PG);
	} else if (kind < 80) {
		for (unsigned int i = 0; i < PG;) {
			const char *w = words[rnd() % 12];

			while (*w && i < PG)
				p[i++] = *w++;
		}
	} else {
		for (unsigned int i = 0; i < PG; i += 8) {
			uint64_t v = rnd();

			memcpy(p + i, &v, 8);
		}
	}
}

/* One zlib level-1 stream over all of memory, written in 1 MiB pieces. */
static double one_stream(const uint8_t *mem, size_t len, const char *path)
{
	static uint8_t out[1 << 20];
	z_stream z = { 0 };
	uint64_t t0 = bench_now_ns();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ret;

	if (fd < 0 || deflateInit(&z, 1) != Z_OK) {
		perror(path);
		exit(1);
	}
	z.next_in = (uint8_t *)mem;
	z.avail_in = len;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		ret = deflate(&z, Z_FINISH);
		if (write(fd, out, sizeof(out) - z.avail_out) < 0) {
			perror(path);
			exit(1);
		}
	} while (ret == Z_OK || ret == Z_BUF_ERROR);
	if (ret != Z_STREAM_END) {
		fprintf(stderr, "deflate: %d\n", ret);
		exit(1);
	}
	deflateEnd(&z);
	close(fd);
	return (bench_now_ns() - t0) / 1e6;
}

static double snap(struct snap_slot *s, const char *path, const char *parent,
		   struct snap_write_stats *st)
{
	struct snap_err err;
	struct snap_write_params p = {
		.path = path, .parent = parent, .slots = s, .nr_slots = 1,
		.threads = 2, .no_fsync = true,
	};

	if (snap_write(&p, st, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	return st->ns / 1e6;
}

int main(void)
{
	const char *dir = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "build/bench-snapshot";
	size_t mb = getenv("MEM_MB") ? strtoul(getenv("MEM_MB"), NULL, 0) : 128;
	size_t len = mb << 20, pages = len / PG;
	uint8_t *mem = aligned_alloc(PG, len);
	uint64_t *dirty = calloc(pages / 64 + 1, 8);
	double full[RUNS], inc[RUNS], one[RUNS], full_ns[RUNS], one_ns[RUNS];
	char fpath[4096], ipath[4096], opath[4096];
	struct snap_write_stats st = { 0 }, ist = { 0 };
	struct snap_slot s = { .slot = 0, .gpa = 0, .size = len };
	struct bench_stat a, b;
	size_t ndirty = 0;

	if (!mem || !dirty) {
		fprintf(stderr, "bench_snapshot: out of memory\n");
		return 1;
	}
	mkdir(dir, 0755);
	snprintf(fpath, sizeof(fpath), "%s/full.snap", dir);
	snprintf(ipath, sizeof(ipath), "%s/inc.snap", dir);
	snprintf(opath, sizeof(opath), "%s/one-stream.z", dir);
	for (size_t i = 0; i < pages; i++)
		fill(mem + i * PG);
	for (size_t i = 0; i < pages; i++)
		if (rnd() % 100 < 5) {
			dirty[i / 64] |= 1ULL << (i % 64);
			ndirty++;
		}
	s.host = mem;

	{
		cpu_set_t cs;
		double load[1] = { 0 };

		sched_getaffinity(0, sizeof(cs), &cs);
		if (getloadavg(load, 1) < 1)
			load[0] = -1;
		/* The 2-thread target needs 2 idle cores: say what there was. */
		printf("# bench_snapshot: %zu MiB, %zu pages, %zu dirty (%.1f%%), %u runs; %d CPUs, load %.2f\n",
		       mb, pages, ndirty, 100.0 * ndirty / pages, RUNS,
		       CPU_COUNT(&cs), load[0]);
	}
	for (unsigned int r = 0; r < RUNS; r++) {
		s.pages = NULL;
		full[r] = snap(&s, fpath, NULL, &st);
		full_ns[r] = full[r] * 1e6 / pages;
		s.pages = dirty;
		inc[r] = snap(&s, ipath, fpath, &ist);
		one[r] = one_stream(mem, len, opath);
		one_ns[r] = one[r] * 1e6 / pages;
	}
	{
		struct stat sb;

		stat(opath, &sb);
		printf("# full: %llu bytes, %llu zero pages elided; incremental: %llu bytes, %llu pages; one stream: %lld bytes\n",
		       (unsigned long long)st.bytes, (unsigned long long)st.pages_zero,
		       (unsigned long long)ist.bytes,
		       (unsigned long long)ist.pages_selected, (long long)sb.st_size);
	}
	a = bench_stat(full, RUNS);
	b = bench_stat(inc, RUNS);
	printf("# full %.1f ms (%.0f MB/s of memory), incremental %.2f ms: %.1fx faster (target >= 15x)\n",
	       a.median, len / 1e3 / a.median, b.median, a.median / b.median);
	bench_report("snapshot_incremental_5pct", "ms", "full snapshot", &a, &b);
	a = bench_stat(one_ns, RUNS);
	b = bench_stat(full_ns, RUNS);
	printf("# one zlib level-1 stream %.0f MB/s, 2-thread writer %.0f MB/s: %.2fx (target >= 1.5x)\n",
	       PG / a.median * 1e3, PG / b.median * 1e3, a.median / b.median);
	bench_report("snapshot_write_ns_per_page", "ns/page", "zlib-1 one stream", &a, &b);
	unlink(fpath);
	unlink(ipath);
	unlink(opath);
	rmdir(dir);
	free(mem);
	free(dirty);
	return 0;
}
