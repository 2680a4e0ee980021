/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Benchmarks run in the lanes like the tests (scripts/bench.sh boots
 * them with vmxl.bench=1). Each metric is measured on vmx-lite and on a
 * reference in the same boot (KVM, or another vmx-lite mode), several
 * times; a program prints one line per metric:
 *
 *   BENCH {"metric":..,"unit":..,"ref":..,"ref_stat":{..},"vmxl":{..}}
 *
 * where a stat is {"median":..,"min":..,"max":..,"n":..} and ref_stat
 * may be null (no reference can run it). Lower is better for every unit.
 */
#ifndef VMXL_BENCH_H
#define VMXL_BENCH_H

#include <stdint.h>

struct bench_stat {
	double median, min, max;
	unsigned int n;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median and spread of @n samples (sorted in place); n == 0: all zero. */
struct bench_stat bench_stat(double *samples, unsigned int n);

/* The BENCH line of one metric; @ref NULL when nothing compares. */
void bench_report(const char *metric, const char *unit, const char *ref_name,
		  const struct bench_stat *ref, const struct bench_stat *vmxl);

/* xorshift64 step of *@state: repeatable pseudo-random numbers. */
uint64_t bench_rnd(uint64_t *state);

/*
 * A 4 KiB page of guest-like memory, from *@state: 30% zero pages, 50%
 * text-like (compresses about 3:1), 20% random; what the snapshot
 * benchmarks write, so that the codec works on realistic data.
 */
void bench_fill_page(void *page, uint64_t *state);

#endif
