// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

uint64_t bench_rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

void bench_fill_page(void *page, uint64_t *state)
{
	static const char *const words[] = {
		"the ", "guest ", "kernel ", "page ", "cache ", "struct ",
		"return ", "0x0000 ", "int ", "void ", "\n\t", "if (",
	};
	unsigned int kind = bench_rnd(state) % 100, i;
	uint8_t *p = page;

	if (kind < 30) {
		memset(p, 0, 4096);
	} else if (kind < 80) {
		for (i = 0; i < 4096;) {
			const char *w = words[bench_rnd(state) % 12];

			while (*w && i < 4096)
				p[i++] = *w++;
		}
	} else {
		for (i = 0; i < 4096; i += 8) {
			uint64_t v = bench_rnd(state);

			memcpy(p + i, &v, 8);
		}
	}
}
