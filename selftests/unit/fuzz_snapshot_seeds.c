// SPDX-License-Identifier: GPL-2.0
/*
 * Seed inputs for fuzz_snapshot: a small full snapshot and an incremental
 * on top of it (two slots, two vCPUs, devices, zero, text and random
 * pages), each as it is and with the target's "repair CRCs" bit set.
 *
 *   fuzz_snapshot_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

static int seed(const char *dir, const char *name, const char *file)
{
	char path[4096];
	FILE *in = fopen(file, "rb"), *out;
	static uint8_t buf[1 << 20];
	size_t n;

	if (!in)
		return -1;
	n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	for (int ctl = 0; ctl < 2; ctl++) {
		uint8_t c = ctl;

		snprintf(path, sizeof(path), "%s/seed-%s-%d", dir, name, ctl);
		out = fopen(path, "wb");
		if (!out || fwrite(&c, 1, 1, out) != 1 || fwrite(buf, 1, n, out) != n) {
			perror(path);
			return -1;
		}
		fclose(out);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t m0[272 * 4096] __attribute__((aligned(4096)));
	static uint8_t m1[8 * 4096] __attribute__((aligned(4096)));
	static uint64_t dirty0[5], dirty1[1];
	struct snap_slot s[2] = {
		{ .slot = 0, .gpa = 0, .size = sizeof(m0), .host = m0 },
		{ .slot = 3, .gpa = 0xfee00000, .size = sizeof(m1), .host = m1 },
	};
	struct snap_vcpu v[2] = { { .id = 0 }, { .id = 1, .flags = SNAP_VCPU_F_HALTED, .nr_msrs = 2, .nr_cpuid = 1 } };
	uint8_t blob[40] = "uart state";
	struct snap_device d[2] = { { "uart0", 1, blob, sizeof(blob) }, { "virtio-blk0", 1, NULL, 0 } };
	struct snap_write_params p = {
		.slots = s, .nr_slots = 2, .vcpus = v, .nr_vcpus = 2,
		.devices = d, .nr_devices = 2, .no_fsync = true,
	};
	/* the incremental seed has an SMMU (the version 3 smmu section) */
	struct snap_machine mach = {
		.has_smmu = true,
		.smmu = {
			.config = { .base_gpa = 0xd0100000, .sid_bits = 8 },
			.state = { .sid_bits = 8, .cr0 = 9, .gbpa = 1u << 12,
				   .strtab_base = 0x80000, .strtab_base_cfg = 1,
				   .cmdq_base = 0x90004, .cmdq_prod = 6,
				   .cmdq_cons = 6 },
		},
	};
	struct snap_err err;
	char full[4096], inc[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (unsigned int i = 0; i < sizeof(m0); i += 4096 * 16)
		snprintf((char *)m0 + i, 64, "page %u of the fuzz seed", i / 4096);
	for (unsigned int i = 0; i < 4096; i++)
		m0[4096 * 3 + i] = (uint8_t)(i * 2654435761u >> 13);
	memset(m1 + 4096, 0x5a, 100);
	v[0].regs.rip = 0x7c00;
	v[1].msrs[0].index = 0xc0000080;
	v[1].msrs[1].index = 0x174;
	snprintf(full, sizeof(full), "%s/.full.snap", argv[1]);
	snprintf(inc, sizeof(inc), "%s/.inc.snap", argv[1]);
	p.path = full;
	if (snap_write(&p, NULL, &err))
		goto fail;
	m0[4096 * 260] = 1;
	memset(m0, 0, 4096);
	dirty0[0] = 1 | 1ULL << 5;
	dirty0[4] = 1ULL << 4;
	dirty1[0] = 2;
	s[0].pages = dirty0;
	s[1].pages = dirty1;
	p.path = inc;
	p.parent = full;
	p.machine = &mach;
	if (snap_write(&p, NULL, &err))
		goto fail;
	if (seed(argv[1], "full", full) || seed(argv[1], "inc", inc))
		return 1;
	remove(full);
	remove(inc);
	return 0;
fail:
	fprintf(stderr, "%s\n", err.msg);
	return 1;
}
