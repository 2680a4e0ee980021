// SPDX-License-Identifier: GPL-2.0
/*
 * Host benchmark of the snapshot writer and reader (userspace/lib/snapshot*.c).
 * Both are plain userspace: the writer reads guest memory through vmxctl's
 * mapping and the reader fills it, neither enters the kernel except for
 * file I/O, so they are measured on the build host (real cores, real zlib
 * speed) rather than under TCG or Bochs, whose instruction emulation would
 * be timed instead. scripts/bench.sh runs it as the "host" lane of
 * `make bench`. The pause a running guest sees is measured in the lanes
 * (selftests/bench_snapshot_pause.c).
 *
 * Memory: MEM_MB MiB (default 128) of pages, 30% zero, 50% text-like
 * (compressible about 3:1), 20% random, in a fixed pseudo-random order;
 * 5% of the pages, chosen once, are the dirty set. Files go to $BENCH_DIR
 * (default build/bench-snapshot), without fsync: the codec is timed, not
 * the disk (restore reads them back from the page cache).
 *
 * For each zlib level (1, 6, 9) a run is:
 *   full write     the 2-thread writer, every page
 *   one stream     one deflate stream of that level over the same memory,
 *                  to a file: the writer's reference
 *   (the dirty set gets new contents, some of it zero pages)
 *   incremental    the dirty set, with the full file as parent
 *   restore        open the chain full + incremental, read every page back
 *                  into a buffer of garbage, compare with the memory byte
 *                  for byte (a mismatch fails the program)
 *   inflate        the one-stream file inflated into a buffer, compared
 *                  too: the restore's reference (the same bytes through
 *                  the bare codec: what the reader adds is chunking, CRCs,
 *                  a second file, and what it saves is zero pages)
 *
 * Metrics (lower is better; bench.h format):
 *   snapshot_full_zlib<N>       ms/GiB of guest memory; ref one zlib-N stream
 *   snapshot_inc5pct_zlib<N>    ms/GiB of guest memory; ref the full at zlib-N
 *                               (target ratio <= 1/15)
 *   snapshot_restore_zlib<N>    ms/GiB of guest memory; ref inflating the
 *                               one zlib-N stream
 * and, from the level-1 samples, the two metrics of earlier runs:
 *   snapshot_incremental_5pct   ms: incremental against full (ref)
 *   snapshot_write_ns_per_page  ns per guest page: 2-thread writer against
 *                               one zlib level-1 stream (ref); target
 *                               ratio <= 1/1.5
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bench.h"
#include "snapshot.h"

#define PG	4096u
#define RUNS_MAX	5

/*
 * Higher levels cost more (zlib 6 about 4 times level 1 on these pages,
 * zlib 9 about 15 times): fewer runs, and for level 9 half the memory
 * (the first MEM_MB / 2 MiB, the same mix), keep the whole program under
 * a minute on two cores. The metrics are per GiB, so levels compare.
 */
static const struct {
	int level;
	unsigned int runs;
	unsigned int mem_div;	/* of MEM_MB */
} levels[] = {
	{ 1, 5, 1 },
	{ 6, 3, 1 },
	{ 9, 3, 2 },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NR_LEVELS	ARRAY_SIZE(levels)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	return bench_rnd(&rng);
}

static void fill(uint8_t *p)
{
	bench_fill_page(p, &rng);
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_snapshot: %s: %s\n", what, msg);
	exit(1);
}

/* One zlib stream of @level over all of memory, written in 1 MiB pieces. */
static double one_stream(const uint8_t *mem, size_t len, const char *path,
			 int level)
{
	static uint8_t out[1 << 20];
	z_stream z = { 0 };
	uint64_t t0 = bench_now_ns();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ret;

	if (fd < 0)
		die(path, strerror(errno));
	if (deflateInit(&z, level) != Z_OK)
		die("deflateInit", z.msg ? z.msg : "failed");
	z.next_in = (uint8_t *)mem;
	z.avail_in = len;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		ret = deflate(&z, Z_FINISH);
		if (write(fd, out, sizeof(out) - z.avail_out) < 0)
			die(path, strerror(errno));
	} while (ret == Z_OK || ret == Z_BUF_ERROR);
	if (ret != Z_STREAM_END)
		die("deflate", z.msg ? z.msg : "did not finish");
	deflateEnd(&z);
	close(fd);
	return (bench_now_ns() - t0) / 1e6;
}

/* The one-stream file inflated into @buf: exactly @len bytes. */
static double inflate_file(const char *path, uint8_t *buf, size_t len)
{
	static uint8_t in[1 << 20];
	z_stream z = { 0 };
	uint64_t t0 = bench_now_ns();
	int fd = open(path, O_RDONLY), ret = Z_OK;
	ssize_t n;

	if (fd < 0)
		die(path, strerror(errno));
	if (inflateInit(&z) != Z_OK)
		die("inflateInit", z.msg ? z.msg : "failed");
	z.next_out = buf;
	z.avail_out = len;
	while (ret != Z_STREAM_END && (n = read(fd, in, sizeof(in))) > 0) {
		z.next_in = in;
		z.avail_in = n;
		ret = inflate(&z, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END)
			die(path, z.msg ? z.msg : "inflate failed");
	}
	if (ret != Z_STREAM_END || z.total_out != len)
		die(path, "the stream ends early");
	inflateEnd(&z);
	close(fd);
	return (bench_now_ns() - t0) / 1e6;
}

static double snap(struct snap_slot *s, const char *path, const char *parent,
		   int level, struct snap_write_stats *st)
{
	struct snap_err err;
	struct snap_write_params p = {
		.path = path, .parent = parent, .slots = s, .nr_slots = 1,
		.threads = 2, .level = level, .no_fsync = true,
	};

	if (snap_write(&p, st, &err))
		die("snap_write", err.msg);
	return st->ns / 1e6;
}

/* Restore the chain ending at @path into @buf, as vmxctl --restore does. */
static double restore(const char *path, uint8_t *buf, size_t len)
{
	struct snap_reader **chain;
	struct snap_err err;
	struct snap_slot s;
	unsigned int n;
	uint64_t t0 = bench_now_ns();

	if (snap_open_chain(path, &chain, &n, &err))
		die("snap_open_chain", err.msg);
	if (n != 2 || snap_get_info(chain[0])->nr_slots != 1 ||
	    snap_get_info(chain[0])->slots[0].size != len)
		die(path, "not the chain of one full and one incremental written");
	s = snap_get_info(chain[0])->slots[0];
	s.host = buf;
	for (unsigned int k = 0; k < n; k++)
		if (snap_read_memory(chain[k], &s, &err))
			die("snap_read_memory", err.msg);
	snap_close_chain(chain, n);
	return (bench_now_ns() - t0) / 1e6;
}

/* A benchmark that restores wrong data measures nothing: fail. */
static void check_same(const uint8_t *got, const uint8_t *want, size_t len,
		       const char *what, int level)
{
	if (!memcmp(got, want, len))
		return;
	for (size_t i = 0; i < len; i += PG)
		if (memcmp(got + i, want + i, PG)) {
			fprintf(stderr, "bench_snapshot: %s at zlib level %d: page %zu differs from the source memory\n",
				what, level, i / PG);
			exit(1);
		}
}

static double mbps(double bytes, double ms)
{
	return ms > 0 ? bytes / 1e3 / ms : 0;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "build/bench-snapshot";
	size_t mb = getenv("MEM_MB") ? strtoul(getenv("MEM_MB"), NULL, 0) : 128;
	size_t len = mb << 20, pages = len / PG;
	uint8_t *mem, *buf, *old;
	uint64_t *dirty;
	size_t *dirty_list, ndirty = 0;
	char fpath[4096], ipath[4096], opath[4096];
	struct snap_slot s = { .slot = 0, .gpa = 0, .size = len };
	uint64_t t0 = bench_now_ns();

	if (argc > 1) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		fprintf(help ? stdout : stderr,
			"usage: bench_snapshot\n"
			"Times the snapshot writer and reader (userspace/lib/snapshot*.c) at\n"
			"zlib levels 1, 6 and 9: full and incremental writes, restores checked\n"
			"byte for byte; prints BENCH lines (selftests/lib/bench.h).\n"
			"Environment: MEM_MB (default 128), BENCH_DIR (default\n"
			"build/bench-snapshot). Exit status: 0; 1 a failure (a restore that\n"
			"differs from the source); 64 usage.\n");
		return help ? 0 : 64;
	}
	if (!mb || mb > 4096) {
		fprintf(stderr, "bench_snapshot: MEM_MB=%s: 1..4096 MiB\n", getenv("MEM_MB"));
		return 64;
	}
	mem = aligned_alloc(PG, len);
	buf = aligned_alloc(PG, len);
	dirty = calloc(pages / 64 + 1, 8);
	dirty_list = calloc(pages, sizeof(*dirty_list));
	if (!mem || !buf || !dirty || !dirty_list) {
		fprintf(stderr, "bench_snapshot: out of memory for %zu MiB\n", 2 * mb);
		return 1;
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir, strerror(errno));
	snprintf(fpath, sizeof(fpath), "%s/full.snap", dir);
	snprintf(ipath, sizeof(ipath), "%s/inc.snap", dir);
	snprintf(opath, sizeof(opath), "%s/one-stream.z", dir);
	for (size_t i = 0; i < pages; i++)
		fill(mem + i * PG);
	for (size_t i = 0; i < pages; i++)
		if (rnd() % 100 < 5) {
			dirty[i / 64] |= 1ULL << (i % 64);
			dirty_list[ndirty++] = i;
		}
	old = malloc(ndirty * PG + 1);
	if (!old) {
		fprintf(stderr, "bench_snapshot: out of memory\n");
		return 1;
	}
	s.host = mem;

	{
		cpu_set_t cs;
		double load[1] = { 0 };

		sched_getaffinity(0, sizeof(cs), &cs);
		if (getloadavg(load, 1) < 1)
			load[0] = -1;
		/* The 2-thread figures need 2 idle cores: say what there was. */
		printf("# bench_snapshot: %zu MiB, %zu pages, %zu dirty (%.1f%%); runs:",
		       mb, pages, ndirty, 100.0 * ndirty / pages);
		for (unsigned int l = 0; l < NR_LEVELS; l++)
			printf(" %u at zlib %d (%g MiB)%s", levels[l].runs,
			       levels[l].level, (double)mb / levels[l].mem_div,
			       l + 1 < NR_LEVELS ? "," : "");
		printf("; %d CPUs, load %.2f\n", CPU_COUNT(&cs), load[0]);
	}
	for (unsigned int l = 0; l < NR_LEVELS; l++) {
		int level = levels[l].level;
		unsigned int runs = levels[l].runs;
		/* This level's memory: the first llen bytes. */
		size_t llen = len / levels[l].mem_div, lpages = llen / PG, lndirty = 0;
		double lgib = llen / (double)(1ULL << 30);
		double full[RUNS_MAX], inc[RUNS_MAX], one[RUNS_MAX], rest[RUNS_MAX];
		double infl[RUNS_MAX], full_ns[RUNS_MAX], one_ns[RUNS_MAX];
		struct snap_write_stats st = { 0 }, ist = { 0 };
		struct bench_stat a, b;
		struct stat sb = { 0 };
		char name[64], ref[64];

		while (lndirty < ndirty && dirty_list[lndirty] < lpages)
			lndirty++;
		s.size = llen;
		for (unsigned int r = 0; r < runs; r++) {
			s.pages = NULL;
			full[r] = snap(&s, fpath, NULL, level, &st);
			one[r] = one_stream(mem, llen, opath, level);
			/* What the incremental must carry: new contents. */
			for (size_t i = 0; i < lndirty; i++) {
				memcpy(old + i * PG, mem + dirty_list[i] * PG, PG);
				fill(mem + dirty_list[i] * PG);
			}
			s.pages = dirty;
			inc[r] = snap(&s, ipath, fpath, level, &ist);
			/* Garbage first: every page must come from the chain. */
			memset(buf, 0xa5, llen);
			rest[r] = restore(ipath, buf, llen);
			check_same(buf, mem, llen, "restore of full + incremental", level);
			/* The one stream holds the dirty pages as they were. */
			memset(buf, 0xa5, llen);
			infl[r] = inflate_file(opath, buf, llen);
			for (size_t i = 0; i < lndirty; i++) {
				check_same(buf + dirty_list[i] * PG, old + i * PG, PG,
					   "inflate of the one stream", level);
				memcpy(buf + dirty_list[i] * PG, mem + dirty_list[i] * PG, PG);
			}
			check_same(buf, mem, llen, "inflate of the one stream", level);
			full_ns[r] = full[r] * 1e6 / lpages;
			one_ns[r] = one[r] * 1e6 / lpages;
		}
		stat(opath, &sb);
		printf("# zlib %d: full %llu bytes (%.1f%% of memory, %llu zero pages elided), incremental %llu bytes for %llu pages, one stream %lld bytes\n",
		       level, (unsigned long long)st.bytes, 100.0 * st.bytes / llen,
		       (unsigned long long)st.pages_zero,
		       (unsigned long long)ist.bytes,
		       (unsigned long long)ist.pages_selected, (long long)sb.st_size);

		/* Earlier runs' metrics, from the level-1 samples as before. */
		if (level == 1) {
			a = bench_stat(full, runs);
			b = bench_stat(inc, runs);
			bench_report("snapshot_incremental_5pct", "ms", "full snapshot", &a, &b);
			a = bench_stat(one_ns, runs);
			b = bench_stat(full_ns, runs);
			bench_report("snapshot_write_ns_per_page", "ns/page",
				     "zlib-1 one stream", &a, &b);
		}

		/* ms per GiB of guest memory: comparable whatever MEM_MB. */
		for (unsigned int r = 0; r < runs; r++) {
			full[r] /= lgib;
			one[r] /= lgib;
			inc[r] /= lgib;
			rest[r] /= lgib;
			infl[r] /= lgib;
		}
		a = bench_stat(one, runs);
		b = bench_stat(full, runs);
		printf("# zlib %d full: one stream %.0f MB/s, 2-thread writer %.0f MB/s of memory (%.0f MB/s written): %.2fx\n",
		       level, mbps(1 << 30, a.median), mbps(1 << 30, b.median),
		       mbps(st.bytes / lgib, b.median), a.median / b.median);
		snprintf(name, sizeof(name), "snapshot_full_zlib%d", level);
		snprintf(ref, sizeof(ref), "zlib-%d one stream", level);
		bench_report(name, "ms/GiB", ref, &a, &b);

		a = bench_stat(full, runs);
		b = bench_stat(inc, runs);
		printf("# zlib %d incremental at %.1f%% dirty: %.0f MB/s of dirty pages, %.1fx faster than full (target >= 15x)\n",
		       level, 100.0 * lndirty / lpages,
		       mbps(ist.pages_selected * (double)PG / lgib, b.median),
		       a.median / b.median);
		snprintf(name, sizeof(name), "snapshot_inc5pct_zlib%d", level);
		snprintf(ref, sizeof(ref), "full zlib-%d", level);
		bench_report(name, "ms/GiB", ref, &a, &b);

		a = bench_stat(infl, runs);
		b = bench_stat(rest, runs);
		printf("# zlib %d restore of full + incremental: %.0f MB/s of memory; inflating the one stream %.0f MB/s\n",
		       level, mbps(1 << 30, b.median), mbps(1 << 30, a.median));
		snprintf(name, sizeof(name), "snapshot_restore_zlib%d", level);
		snprintf(ref, sizeof(ref), "inflate zlib-%d stream", level);
		bench_report(name, "ms/GiB", ref, &a, &b);
	}
	printf("# bench_snapshot: %.1f s\n", (bench_now_ns() - t0) / 1e9);
	unlink(fpath);
	unlink(ipath);
	unlink(opath);
	rmdir(dir);
	free(mem);
	free(buf);
	free(old);
	free(dirty);
	free(dirty_list);
	return 0;
}
