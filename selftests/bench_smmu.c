// SPDX-License-Identifier: GPL-2.0
/*
 * Device DMA through the virtual SMMU (VMXL_SMMU_DMA): 4 KiB and 64 KiB
 * device writes with a warm IOTLB (the same buffer again and again) and a
 * cold one (a stream over 8 MiB of 4 KiB pages, four times the reach of
 * the 256-entry IOTLB, so every page walks the stage-1 tables), against
 * a plain memcpy of the same bytes. Also the IOTLB hit rate of a NIC-like
 * stream: 16-byte descriptor reads and 2 KiB packet writes into a pool of
 * 256 buffers in ring order, 16 laps (target: at least 95% hits).
 *
 *   bench_smmu [-r repeats]
 *
 * Exit 0, or 1 when a step failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"
#include "gvm.h"
#include "smmu_guest.h"
#include "testlib.h"

#define PAGE		4096ULL
#define IOVA		0x40000000ULL
#define COLD_BYTES	(8ULL << 20)	/* IOVA range of the cold stream */
#define SID		1
#define MAX_REPS	32

#define FAIL(...) do {							\
	fprintf(stderr, "bench_smmu: " __VA_ARGS__);			\
	exit(1);							\
} while (0)

static struct gvm vm;

static uint64_t sg(uint64_t op, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
		   uint64_t a7)
{
	uint64_t a[8] = { a0, a1, a2, a3, a4, a5, a6, a7 }, ret;

	if (sg_call(&vm, op, a, &ret))
		FAIL("guest operation %lu failed\n", (unsigned long)op);
	return ret;
}

static void dma(uint64_t iova, void *buf, uint64_t len, uint32_t flags,
		struct vmxl_dma *d)
{
	memset(d, 0, sizeof(*d));
	d->stream_id = SID;
	d->iova = iova;
	d->buf = (uintptr_t)buf;
	d->len = len;
	d->flags = flags;
	if (ioctl(vm.vm_fd, VMXL_SMMU_DMA, d))
		FAIL("DMA of %lu bytes at %#lx: %s (status %u, event %#lx)\n",
		     (unsigned long)len, (unsigned long)iova, strerror(errno),
		     d->status, (unsigned long)(d->event[0] & 0xff));
}

/* ns per transfer of @len bytes: @n transfers at @iova + (i % @span) * @len. */
static double dma_ns(uint64_t len, unsigned int n, unsigned int span,
		     void *buf)
{
	struct vmxl_dma d;
	uint64_t t0 = bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		dma(IOVA + (uint64_t)(i % span) * len, buf, len,
		    VMXL_DMA_WRITE, &d);
	return (double)(bench_now_ns() - t0) / n;
}

static double copy_ns(uint64_t len, unsigned int n, unsigned int span,
		      void *buf, uint8_t *dst)
{
	uint64_t t0 = bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		memcpy(dst + (uint64_t)(i % span) * len, buf, len);
		asm volatile("" : : "r"(dst) : "memory");
	}
	return (double)(bench_now_ns() - t0) / n;
}

static void report(const char *metric, double *ref, double *val,
		   unsigned int reps)
{
	struct bench_stat r = bench_stat(ref, reps), v = bench_stat(val, reps);
	struct bench_stat ru = { r.median / 1e3, r.min / 1e3, r.max / 1e3, r.n };
	struct bench_stat vu = { v.median / 1e3, v.min / 1e3, v.max / 1e3, v.n };

	bench_report(metric, "us/transfer", "memcpy", &ru, &vu);
}

/* The NIC-like stream; the share of page translations the IOTLB served. */
static double nic_hit_rate(void)
{
	uint64_t hits = 0, misses = 0, ring = IOVA + COLD_BYTES - PAGE;
	static uint8_t pkt[2048], desc[16];
	unsigned int i;
	struct vmxl_dma d;

	for (i = 0; i < 16 * 256; i++) {
		dma(ring + 16 * (i % 256), desc, sizeof(desc), 0, &d);
		hits += d.iotlb_hits;
		misses += d.iotlb_misses;
		dma(IOVA + 2048ULL * (i % 256), pkt, sizeof(pkt),
		    VMXL_DMA_WRITE, &d);
		hits += d.iotlb_hits;
		misses += d.iotlb_misses;
	}
	printf("# NIC stream: %lu IOTLB hits, %lu misses\n",
	       (unsigned long)hits, (unsigned long)misses);
	return 100.0 * hits / (hits + misses);
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[2] = { 4096, 65536 };
	double ref[MAX_REPS], warm[MAX_REPS], cold[MAX_REPS], rate;
	struct vmxl_smmu_config c = {
		.base_gpa = SG_SMMU_BASE, .sid_bits = 8,
	};
	unsigned int reps = 7, r, s, n;
	uint64_t cd, root, ret;
	uint8_t *buf, *dst;
	char name[64];
	int opt;

	while ((opt = getopt(argc, argv, "r:h")) != -1) {
		if (opt == 'r') {
			reps = strtoul(optarg, NULL, 0);
			continue;
		}
		printf("usage: %s [-r repeats (max %d)]\n", argv[0], MAX_REPS);
		return opt == 'h' ? 0 : 2;
	}
	if (!reps || reps > MAX_REPS)
		FAIL("bad -r\n");
	if (gvm_hypervisor_load(GVM_VMXL))
		FAIL("cannot load vmx_lite\n");
	if (gvm_create(&vm, GVM_VMXL, 1))
		FAIL("cannot create a VM\n");
	buf = aligned_alloc(PAGE, COLD_BYTES);
	dst = aligned_alloc(PAGE, COLD_BYTES);
	if (!buf || !dst)
		FAIL("out of memory\n");
	memset(buf, 0x5a, COLD_BYTES);
	memset(dst, 0, COLD_BYTES);
	if (ioctl(vm.vm_fd, VMXL_CREATE_SMMU, &c))
		FAIL("VMXL_CREATE_SMMU: %s\n", strerror(errno));
	if (sg_start(&vm))
		FAIL("the guest driver did not start\n");
	sg(SG_OP_INIT, 0, 8, 0, 6, 0, 0, 0, 0);
	/*
	 * Stage 1, 4 KiB pages: COLD_BYTES of IOVA onto the 4 MiB data area,
	 * twice over (guest memory is 16 MiB; the IOTLB does not care).
	 */
	cd = sg(SG_OP_ALLOC, 64, 0, 0, 0, 0, 0, 0, 0);
	root = sg(SG_OP_ALLOC, PAGE, 0, 0, 0, 0, 0, 0, 0);
	for (ret = 0; ret < COLD_BYTES; ret += SG_HEAP_END - SG_HEAP)
		sg(SG_OP_MAP, root, IOVA + ret, SG_DATA, 1, SG_R | SG_W, 3, 1,
		   (SG_HEAP_END - SG_HEAP) / PAGE);
	sg(SG_OP_CD, cd, 0, 1, root, 25 | 5 << 8, SID, 0, 0);
	sg(SG_OP_STE, SID, SG_STE_S1, cd, 0, 0, 0, 0, 0);

	for (s = 0; s < 2; s++) {
		/* about 8 MiB per sample either way */
		n = COLD_BYTES / sizes[s];
		dma_ns(sizes[s], n, COLD_BYTES / sizes[s], buf);	/* warm-up */
		for (r = 0; r < reps; r++) {
			ref[r] = copy_ns(sizes[s], n, 1, buf, dst);
			warm[r] = dma_ns(sizes[s], n, 1, buf);
			cold[r] = dma_ns(sizes[s], n, COLD_BYTES / sizes[s], buf);
		}
		snprintf(name, sizeof(name), "smmu_dma_%luk_warm",
			 (unsigned long)(sizes[s] >> 10));
		report(name, ref, warm, reps);
		snprintf(name, sizeof(name), "smmu_dma_%luk_cold",
			 (unsigned long)(sizes[s] >> 10));
		report(name, ref, cold, reps);
	}

	rate = nic_hit_rate();
	printf("# NIC stream IOTLB hit rate: %.2f%% (target >= 95%%)\n", rate);
	{
		struct bench_stat miss = { 100 - rate, 100 - rate, 100 - rate, 1 };

		bench_report("smmu_iotlb_miss_pct_nic_stream", "%", "", NULL,
			     &miss);
	}
	gvm_destroy(&vm);
	test_module_unload("vmx_lite");
	return 0;
}
