// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bench_stat bench_stat(double *s, unsigned int n)
{
	struct bench_stat st = { .n = n };

	if (!n)
		return st;
	qsort(s, n, sizeof(*s), cmp_double);
	st.min = s[0];
	st.max = s[n - 1];
	st.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return st;
}

static void print_stat(const struct bench_stat *st)
{
	if (!st) {
		printf("null");
		return;
	}
	printf("{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,\"n\":%u}",
	       st->median, st->min, st->max, st->n);
}

void bench_report(const char *metric, const char *unit, const char *ref_name,
		  const struct bench_stat *ref, const struct bench_stat *vmxl)
{
	printf("BENCH {\"metric\":\"%s\",\"unit\":\"%s\",\"ref\":\"%s\",\"ref_stat\":",
	       metric, unit, ref ? ref_name : "");
	print_stat(ref);
	printf(",\"vmxl\":");
	print_stat(vmxl);
	printf("}\n");
	fflush(stdout);
}
