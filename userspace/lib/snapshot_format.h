/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The snapshot library's own header (not installed, not for callers):
 * the on-disk layout the writer and the reader share, beyond the public
 * constants of snapshot.h. The library's files:
 *
 *   snapshot_format.c       this header's functions, snap_id_hex()
 *   snapshot_sha256.c       the file id's hash
 *   snapshot_write.c        snap_write()
 *   snapshot_compress.[ch]  its worker threads, which deflate memory
 *   snapshot_read.c         snap_open(): the header and every section
 *   snapshot_read_memory.c  snap_read_memory(): the memory chunks
 *   snapshot_reader.h       the reader's state those two share
 *   snapshot_chain.c        snap_open_chain(): a file and its parents
 *   snapshot_capture.c      snap_capture(): a copy of the pages to write
 *
 * docs/snapshot-format.md describes the format; the short version:
 *
 *   header (128 bytes, CRC32, its SHA-256 is the file's id)
 *   [parent]  layout  machine  [smmu]  vcpu x N  vcpu-os x N  device x N
 *   memory x N  end
 *
 * (version 1 files have no machine and no vcpu-os sections; the smmu
 * section is version 3's, present when the header has SNAP_F_SMMU)
 *
 * every section = 24-byte section header (type, index, length, payload
 * CRC32, header CRC32) + payload. Memory sections hold up to 256 pages
 * of one slot: a bitmap of the pages they cover, a bitmap of those that
 * are not zero, and those pages as one raw deflate stream.
 */
#ifndef VMXL_SNAPSHOT_FORMAT_H
#define VMXL_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

#define CHUNK_HDR	88u	/* memory section payload header */
#define CHUNK_RAW_MAX	(SNAP_CHUNK_PAGES * SNAP_PAGE_SIZE)
/* Compressed bytes of a chunk at most (deflateBound with margin). */
#define CHUNK_COMP_MAX	(CHUNK_RAW_MAX + (CHUNK_RAW_MAX >> 3) + (CHUNK_RAW_MAX >> 6) + 64)
#define BITMAP_WORDS	(SNAP_CHUNK_PAGES / 64)
#define VCPU_FIXED	(16u + sizeof(struct vmxl_regs) + sizeof(struct vmxl_sregs) + \
			 sizeof(struct vmxl_fpu))
#define LAYOUT_ENTRY	24u
#define END_MAGIC	"SNAPEND"	/* 8 bytes with the NUL */

_Static_assert(sizeof(struct vmxl_regs) == 144, "regs layout");
_Static_assert(sizeof(struct vmxl_sregs) == 312, "sregs layout");
_Static_assert(sizeof(struct vmxl_fpu) == 512, "fpu layout");
_Static_assert(sizeof(struct vmxl_msr_entry) == 16, "msr layout");
_Static_assert(sizeof(struct vmxl_cpuid_entry) == 32, "cpuid layout");
#define DEVICE_FIXED	(SNAP_DEVICE_NAME + 8u)	/* name, version, reserved */
/* Version 2: machine = vm_flags, platform, flags, reserved, struct vmxl_clock */
#define MACHINE_LEN	(16u + sizeof(struct vmxl_clock))
/* Version 2: vcpu-os = id, flags, events, debugregs, mp state, lapic */
#define VCPU_OS_LEN	(8u + sizeof(struct vmxl_vcpu_events) + \
			 sizeof(struct vmxl_debugregs) + sizeof(struct vmxl_mp_state) + \
			 sizeof(struct vmxl_lapic_state))
_Static_assert(sizeof(struct vmxl_clock) == 32, "clock layout");
_Static_assert(sizeof(struct vmxl_vcpu_events) == 56, "events layout");
_Static_assert(sizeof(struct vmxl_debugregs) == 96, "debugregs layout");
_Static_assert(sizeof(struct vmxl_mp_state) == 8, "mp state layout");
_Static_assert(sizeof(struct vmxl_lapic_state) == 1088, "lapic layout");
/* Version 3: smmu = flags, reserved, struct vmxl_smmu_config, _state */
#define SMMU_LEN	(8u + sizeof(struct vmxl_smmu_config) + \
			 sizeof(struct vmxl_smmu_state))
_Static_assert(sizeof(struct vmxl_smmu_config) == 56, "smmu config layout");
_Static_assert(sizeof(struct vmxl_smmu_state) == 152, "smmu state layout");
#define VCPU_MAX	(VCPU_FIXED + SNAP_MAX_MSRS * sizeof(struct vmxl_msr_entry) + \
			 SNAP_MAX_CPUID * sizeof(struct vmxl_cpuid_entry))

/* Byte offsets in the 128-byte header. */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_HDRSIZE = 12, H_FLAGS = 16,
	H_PAGESIZE = 20, H_MEMSIZE = 24, H_NSLOTS = 32, H_NVCPUS = 36,
	H_NDEVS = 40, H_NCHUNKS = 44, H_FILESIZE = 48, H_CREATED = 56,
	H_NONCE = 64, H_PARENT = 80, H_DEPTH = 112, H_CRC = 124,
};

/* Every field on disk is little-endian. */
static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static inline uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC32 (zlib's) of any length. */
uint32_t snap_crc(const void *p, size_t len);

/* Section header: type, index, length (8), payload CRC, header CRC. */
/* Reserved fields: every byte of @p zero. */
bool snap_all_zero(const void *p, size_t len);
void snap_sechdr_fill(uint8_t h[SNAP_SECHDR_SIZE], uint32_t type,
		      uint32_t index, uint64_t len, uint32_t pcrc);

/* Fill @err (may be NULL): errno-like @code and the message. */
void snap_seterr(struct snap_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
