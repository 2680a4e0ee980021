/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmx-lite snapshot files: writer and reader (docs/snapshot-format.md).
 *
 * Nothing here talks to the kernel: the writer takes guest memory as host
 * pointers (with an optional page bitmap per slot, for incrementals),
 * vCPU state as the uapi structs and device state as opaque blobs; the
 * reader checks a file (or a chain of them) completely and copies memory
 * back into host buffers. Host tests and fuzzers link it as it is.
 *
 * Every function that can fail fills a struct snap_err whose message
 * names the file and the section ("a.snap: section 3 (vcpu 1): payload
 * CRC mismatch ..."), and returns -1 (errno-like code in err->code).
 */
#ifndef VMXL_SNAPSHOT_H
#define VMXL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vmx_lite.h>

#define SNAP_MAGIC		"VMXLSNAP"
#define SNAP_VERSION		3	/* what the writer writes */
#define SNAP_VERSION_MIN	1	/* the oldest the reader reads */
#define SNAP_PAGE_SIZE		4096u
#define SNAP_CHUNK_PAGES	256u	/* pages per memory section at most */
#define SNAP_HEADER_SIZE	128u
#define SNAP_SECHDR_SIZE	24u
#define SNAP_ID_SIZE		32u	/* SHA-256 of the header */
#define SNAP_MAX_PARENT_PATH	4096u
#define SNAP_MAX_SLOTS		64u
#define SNAP_MAX_VCPUS		256u
#define SNAP_MAX_DEVICES	64u
#define SNAP_MAX_DEVICE_BLOB	(16u << 20)
#define SNAP_MAX_MSRS		VMXL_MAX_MSR_ENTRIES
#define SNAP_MAX_CPUID		VMXL_MAX_CPUID_ENTRIES
#define SNAP_DEVICE_NAME	32u
#define SNAP_MAX_CHAIN		64u	/* base + 63 incrementals */
#define SNAP_MAX_MEM		(1ULL << 40)

/* Header flags */
#define SNAP_F_INCREMENTAL	(1u << 0)
#define SNAP_F_SMMU		(1u << 1)	/* version 3: an smmu section */

/* Section types, in the order they appear in a file. */
enum snap_section_type {
	SNAP_SEC_PARENT = 1,	/* incrementals only: the parent's path */
	SNAP_SEC_LAYOUT = 2,	/* the memory slots */
	SNAP_SEC_VCPU = 3,	/* one per vCPU */
	SNAP_SEC_DEVICE = 4,	/* one per device */
	SNAP_SEC_MEMORY = 5,	/* one per chunk of up to 256 pages */
	SNAP_SEC_END = 6,
	SNAP_SEC_MACHINE = 7,	/* version 2: one, after the layout */
	SNAP_SEC_VCPU_OS = 8,	/* version 2: one per vCPU, after the vcpus */
	SNAP_SEC_SMMU = 9,	/* version 3: with SNAP_F_SMMU, after the machine */
};

struct snap_err {
	int code;		/* errno value: EINVAL (bad file), EIO, ENOENT, ... */
	char msg[640];
};

/* One memory slot. 'host' may be NULL for the reader's verify-only pass. */
struct snap_slot {
	uint32_t slot;		/* the VMXL_SET_MEMORY_REGION slot number */
	uint32_t flags;		/* its VMXL_MEM_* flags */
	uint64_t gpa;
	uint64_t size;		/* bytes, a multiple of SNAP_PAGE_SIZE */
	void *host;
	/*
	 * Writer only: pages to write (bit n = page n, 64-bit words as the
	 * dirty log returns them); NULL: every page (a full snapshot).
	 */
	const uint64_t *pages;
	/*
	 * Writer only, with @pages: @host holds just the selected pages, one
	 * after the other in page order (snap_capture()'s copy), not the
	 * whole slot.
	 */
	bool packed;
};

/*
 * The VM as a whole (the machine section, version 2): how it was created
 * and the TSC all its vCPUs share.
 */
#define SNAP_MACHINE_F_CLOCK	(1u << 0)	/* clock holds VMXL_GET_CLOCK */

/*
 * The VM's SMMU (the smmu section, version 3): how it was created and
 * its registers. Its tables and queues are in guest memory.
 */
struct snap_smmu {
	struct vmxl_smmu_config config;	/* as given to VMXL_CREATE_SMMU */
	struct vmxl_smmu_state state;	/* VMXL_GET_SMMU_STATE */
};

struct snap_machine {
	uint32_t vm_flags;	/* VMXL_CREATE_VM's flags (VMXL_VM_LAPIC) */
	uint32_t platform;	/* the VMM's own platform id (vmxctl: 0 flat, 1 Linux) */
	uint32_t flags;		/* SNAP_MACHINE_F_* */
	struct vmxl_clock clock;
	/* The smmu section: written when set (header flag SNAP_F_SMMU). */
	bool has_smmu;
	struct snap_smmu smmu;
};

/* One vCPU's architectural state. */
#define SNAP_VCPU_F_HALTED	(1u << 0)	/* stopped in HLT */
/* os_flags (the vcpu-os section, version 2) */
#define SNAP_VCPU_OS_LAPIC	(1u << 0)	/* lapic and mp hold the VM's in-kernel APIC */

struct snap_vcpu {
	uint32_t id;
	uint32_t flags;		/* SNAP_VCPU_F_* */
	struct vmxl_regs regs;
	struct vmxl_sregs sregs;
	struct vmxl_fpu fpu;
	uint32_t nr_msrs;
	uint32_t nr_cpuid;
	struct vmxl_msr_entry msrs[SNAP_MAX_MSRS];
	struct vmxl_cpuid_entry cpuid[SNAP_MAX_CPUID];
	/*
	 * The vcpu-os section (version 2; zero when read from version 1):
	 * what an OS leaves in a vCPU beyond its registers.
	 */
	uint32_t os_flags;			/* SNAP_VCPU_OS_* */
	struct vmxl_vcpu_events events;		/* VMXL_GET_VCPU_EVENTS */
	struct vmxl_debugregs debugregs;	/* VMXL_GET_DEBUGREGS */
	struct vmxl_mp_state mp;		/* VMXL_GET_MP_STATE (LAPIC) */
	struct vmxl_lapic_state lapic;		/* VMXL_GET_LAPIC (LAPIC) */
};

/* One device's state, as its model serialized it. */
struct snap_device {
	char name[SNAP_DEVICE_NAME];	/* NUL-terminated, e.g. "uart0" */
	uint32_t version;		/* of the blob's layout, the model's own */
	const void *data;
	uint32_t len;
};

struct snap_write_params {
	const char *path;		/* written as PATH.tmp.PID, then renamed */
	/* Incremental: the parent's file (its id and layout are checked). */
	const char *parent;
	const struct snap_slot *slots;
	uint32_t nr_slots;
	/* The machine section; NULL: a zero one (no clock, flat). */
	const struct snap_machine *machine;
	const struct snap_vcpu *vcpus;
	uint32_t nr_vcpus;
	const struct snap_device *devices;
	uint32_t nr_devices;
	unsigned int threads;		/* compression workers; 0: 2 */
	int level;			/* zlib 1..9; 0: 1 (Z_BEST_SPEED) */
	bool no_fsync;			/* benchmarks on tmpfs only */
};

struct snap_write_stats {
	uint64_t pages_total;		/* pages in all slots */
	uint64_t pages_selected;	/* pages the snapshot covers */
	uint64_t pages_zero;		/* of those, zero: elided */
	uint64_t pages_data;		/* of those, compressed */
	uint64_t chunks;		/* memory sections */
	uint64_t bytes;			/* file size */
	uint64_t ns;			/* wall time of snap_write */
	uint8_t id[SNAP_ID_SIZE];
};

int snap_write(const struct snap_write_params *p, struct snap_write_stats *st,
	       struct snap_err *err);

/*
 * A private copy of the guest pages a snapshot writes, taken while the VM
 * is paused, so that compressing and writing them (snap_write() with
 * @slots as its slots) can go on while the guest runs and changes its
 * memory. A full slot (pages NULL) is copied whole; an incremental one
 * only its selected pages, packed. The copy is one anonymous mapping:
 * as much memory as the pages it holds.
 */
struct snap_capture {
	struct snap_slot slots[SNAP_MAX_SLOTS];	/* views over the copy */
	uint32_t nr_slots;
	void *buf;
	size_t len;		/* bytes mapped for the copy */
	uint64_t pages;		/* pages copied */
};

/*
 * Copy what @slots select into @cap (zeroed by the caller or not: it is
 * overwritten). On failure (ENOMEM: no memory for the copy) nothing is
 * left to free; @name (the snapshot file) is named in the message.
 */
int snap_capture(struct snap_capture *cap, const struct snap_slot *slots,
		 uint32_t nr_slots, const char *name, struct snap_err *err);
void snap_capture_free(struct snap_capture *cap);

/* What the header and the small sections hold. */
struct snap_info {
	uint32_t version;
	uint32_t flags;			/* SNAP_F_* */
	uint32_t depth;			/* 0: full; n: n-th incremental */
	uint64_t mem_size;
	uint64_t file_size;
	uint64_t created_ns;		/* CLOCK_REALTIME */
	uint32_t nr_slots, nr_vcpus, nr_devices, nr_chunks;
	uint8_t id[SNAP_ID_SIZE];
	uint8_t parent_id[SNAP_ID_SIZE];
	char *parent;			/* as stored (NULL for a full one) */
	struct snap_slot *slots;	/* host and pages NULL */
	/* version 2: the machine section; version 1: all zero */
	struct snap_machine machine;
	struct snap_vcpu *vcpus;
	struct snap_device *devices;	/* data points into the reader */
};

struct snap_reader;

/*
 * Open a snapshot: the header, every section header and every small
 * section (parent, layout, vCPUs, devices) with its CRC, the section
 * order and counts, the end marker and the file size. Memory chunks are
 * checked by snap_read_memory().
 */
struct snap_reader *snap_open(const char *path, struct snap_err *err);
/* The same from a buffer (fuzzing); @name is used in messages. */
struct snap_reader *snap_open_mem(const void *buf, size_t len,
				  const char *name, struct snap_err *err);
const struct snap_info *snap_get_info(const struct snap_reader *r);
const char *snap_name(const struct snap_reader *r);
/*
 * Every memory chunk: CRC, bounds, order, inflate. With @slots (the
 * file's layout, host pointers set), copies the pages it holds there
 * (zero pages as zeros); with NULL, only checks.
 */
int snap_read_memory(struct snap_reader *r, const struct snap_slot *slots,
		     struct snap_err *err);
void snap_close(struct snap_reader *r);

/* The parent path of @r resolved against @r's directory; free() it. */
char *snap_parent_path(const struct snap_reader *r);

/*
 * Open the chain ending at @path: each parent by its stored path
 * (relative paths are relative to the child's directory), its id checked
 * against the child's parent id, layouts and memory sizes equal. On
 * success *chain[0] is the full snapshot and chain[*n - 1] is @path.
 */
int snap_open_chain(const char *path, struct snap_reader ***chain,
		    unsigned int *n, struct snap_err *err);
void snap_close_chain(struct snap_reader **chain, unsigned int n);

/* Lowercase hex of an id, 64 characters and a NUL. */
void snap_id_hex(const uint8_t id[SNAP_ID_SIZE], char out[2 * SNAP_ID_SIZE + 1]);

/* SHA-256 (the file id); exported for tests. */
void snap_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
