// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl snapshots (docs/snapshot-format.md): the commands
 * (snapshot-info and verify in vmxctl_snapshot_info.c)
 *
 *   vmxctl snapshot SOCKET FILE [--parent PARENT] [--level N] [--no-copy]
 *                                                   ask a running vmxctl
 *   vmxctl snapshot-info FILE                       print what FILE holds
 *   vmxctl verify FILE [--dump-mem OUT]             check the whole chain
 *   vmxctl run --restore FILE ...                   continue a saved VM
 *
 * and the control command "snapshot FILE [--parent PARENT] [--level N]
 * [--no-copy]" that the first one sends to `vmxctl run --control SOCKET`.
 * N is the zlib level, 1 (the default: fastest) to 9.
 *
 * The vCPUs stop only to capture the state: GET the dirty bitmaps, read
 * vCPU and device state, copy the pages the file will hold (snap_capture:
 * all RAM for a full snapshot, the dirty pages for an incremental), and
 * CLEAR exactly the pages GET returned; then the guest runs on while
 * FILE.tmp.PID is compressed from the copy, fsync'd and renamed. With
 * --no-copy (or no memory for the copy) the vCPUs stay stopped for the
 * write, as before. A snapshot that fails leaves the previous file, and
 * puts the cleared bits back into the dirty log (vmxctl's own), so the
 * next incremental from the same parent still has every page.
 * Dirty logging starts with the first snapshot of a run (which is full,
 * writes every page and so needs no log) or with --restore; an
 * incremental's PARENT must be the last snapshot this run wrote (or
 * restored from), the one that started the log's current window.
 *
 * Exit status:
 *   snapshot       0 written; 1 the snapshot failed (the old FILE is intact);
 *                  64 usage; 66 the control socket could not be used
 *   snapshot-info  0; 1 FILE refused (the message names the section); 64 usage
 *   verify         0 every file of the chain is intact; 1 refused; 64 usage
 *   run --restore  72 the chain was refused or could not be applied
 *                  (nothing ran); otherwise as `vmxctl run`
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "vmxctl.h"
#include "lib/libvmxlite.h"
#include "lib/snapshot.h"
#include "lib/vmstate.h"
#include "vmxctl_snapshot.h"


#define LEVEL_DEFAULT	1	/* zlib: the fastest write, its file the largest */
#define LEVEL_MAX	9
#define LEVEL_RANGE	"1 to 9: 1 fastest, 9 smallest"	/* for messages */

/* What this run knows about its snapshots (control thread, restore). */
static struct {
	pthread_mutex_t lock;
	bool logging;			/* dirty log on since the window began */
	bool have_last;
	uint8_t last_id[SNAP_ID_SIZE];
	char last[PATH_MAX];
	/* --restore: the chain, opened by prepare(), used by restore() */
	struct snap_reader **chain;
	unsigned int chain_len;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static double mbps(uint64_t bytes, uint64_t ns)
{
	return ns ? bytes / 1e6 / (ns / 1e9) : 0;
}

/* ------------------------------------------------------------------ */
/* state conversion                                                    */
/* ------------------------------------------------------------------ */

static void to_snap(const struct vmxctl_vcpu_state *st, unsigned int id,
		    struct snap_vcpu *v)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->regs = st->regs;
	v->sregs = st->sregs;
	v->fpu = st->fpu;
	v->nr_msrs = st->nmsrs;
	memcpy(v->msrs, st->msrs, st->nmsrs * sizeof(st->msrs[0]));
	v->nr_cpuid = st->ncpuid;
	memcpy(v->cpuid, st->cpuid, st->ncpuid * sizeof(st->cpuid[0]));
}

static int from_snap(const struct snap_vcpu *v, struct vmxctl_vcpu_state *st)
{
	if (v->nr_msrs > VMXCTL_MAX_MSRS || v->nr_cpuid > VMXL_MAX_CPUID_ENTRIES)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->regs = v->regs;
	st->sregs = v->sregs;
	st->fpu = v->fpu;
	st->nmsrs = v->nr_msrs;
	memcpy(st->msrs, v->msrs, v->nr_msrs * sizeof(v->msrs[0]));
	st->ncpuid = v->nr_cpuid;
	memcpy(st->cpuid, v->cpuid, v->nr_cpuid * sizeof(v->cpuid[0]));
	return 0;
}

/* A zlib level, 1..9, in decimal digits only; -1 otherwise. */
static int parse_level(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < 1 || v > LEVEL_MAX)
		return -1;
	return v;
}

/* ------------------------------------------------------------------ */
/* the control command: snapshot FILE [--parent PARENT] [--level N]    */
/* ------------------------------------------------------------------ */

struct snap_job {
	unsigned int nslots, ncpus, ndevs;
	struct snap_slot slots[VMXCTL_MAX_SLOTS];
	uint64_t *bitmap[VMXCTL_MAX_SLOTS];
	struct snap_vcpu *vcpus;
	struct vmxctl_vcpu_state *st;
	struct snap_device devs[SNAP_MAX_DEVICES];
	struct vmxctl_dev_state dst[SNAP_MAX_DEVICES];
	struct snap_machine machine;
};

static void job_free(struct snap_job *j)
{
	for (unsigned int i = 0; i < j->nslots; i++)
		free(j->bitmap[i]);
	for (unsigned int i = 0; i < j->ndevs; i++)
		free(j->dst[i].data);
	free(j->vcpus);
	free(j->st);
}

/*
 * What an OS leaves in vCPU @i beyond its registers: events, debug
 * registers and, with the in-kernel APIC, the APIC (its timer in guest
 * TSC units) and the MP state.
 */
static int get_os_state(struct vmxctl_machine *m, unsigned int i,
			struct snap_vcpu *v, FILE *out)
{
	const char *what;
	int ret;

	ret = vmstate_get_os(vmxctl_vcpu_fd(m, i), vmxctl_config(m)->lapic, v,
			     &what);
	if (ret)
		fprintf(out, "snapshot: vCPU %u: %s: %s\n", i, what, strerror(-ret));
	return ret;
}

/* The VM: how it was created, what vmxctl built around it, its TSC. */
static int get_machine(struct vmxctl_machine *m, struct snap_machine *sm,
		       FILE *out)
{
	const struct vmxctl_config *c = vmxctl_config(m);
	int ret;

	memset(sm, 0, sizeof(*sm));
	sm->vm_flags = c->lapic ? VMXL_VM_LAPIC : 0;
	sm->platform = c->linux_platform ? PLATFORM_LINUX : PLATFORM_FLAT;
	ret = vmxlite_get_clock(vmxctl_vm_fd(m), &sm->clock);
	if (ret) {
		fprintf(out, "snapshot: VMXL_GET_CLOCK on the VM: %s\n",
			strerror(-ret));
		return ret;
	}
	sm->clock.flags = sm->clock.reserved0 = 0;
	memset(sm->clock.reserved, 0, sizeof(sm->clock.reserved));
	sm->flags = SNAP_MACHINE_F_CLOCK;
	if (c->smmu) {
		/* Registers only: its tables and queues are in guest RAM. */
		ret = vmxlite_get_smmu_state(vmxctl_vm_fd(m), &sm->smmu.state);
		if (ret) {
			fprintf(out, "snapshot: VMXL_GET_SMMU_STATE on the VM: %s\n",
				strerror(-ret));
			return ret;
		}
		vmxctl_smmu_config(&sm->smmu.config);
		sm->has_smmu = true;
	}
	return 0;
}

/* With the machine paused: everything but memory, and the dirty bitmaps. */
static int collect(struct vmxctl_machine *m, struct snap_job *j, bool get_log,
		   FILE *out)
{
	int ret;

	j->nslots = vmxctl_nr_slots(m);
	for (unsigned int i = 0; i < j->nslots; i++) {
		const struct vmxctl_slot *s = vmxctl_slot(m, i);
		size_t words = (s->size / SNAP_PAGE_SIZE + 63) / 64;

		j->slots[i] = (struct snap_slot){
			.slot = s->slot, .flags = s->flags & ~VMXL_MEM_LOG_DIRTY,
			.gpa = s->gpa, .size = s->size, .host = s->hva,
		};
		j->bitmap[i] = calloc(words, 8);
		if (!j->bitmap[i]) {
			fprintf(out, "snapshot: out of memory\n");
			return -ENOMEM;
		}
		if (get_log) {
			ret = vmxctl_dirty_log_get(m, i, j->bitmap[i]);
			if (ret) {
				fprintf(out, "snapshot: dirty log of slot %u (GET): %s\n",
					s->slot, strerror(-ret));
				return ret;
			}
		}
	}
	j->ncpus = vmxctl_nr_vcpus(m);
	j->vcpus = calloc(j->ncpus, sizeof(*j->vcpus));
	j->st = malloc(sizeof(*j->st));
	if (!j->vcpus || !j->st) {
		fprintf(out, "snapshot: out of memory\n");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < j->ncpus; i++) {
		ret = vmxctl_get_vcpu_state(m, i, j->st);
		if (ret) {
			fprintf(out, "snapshot: vCPU %u state: %s\n", i, strerror(-ret));
			return ret;
		}
		if (j->st->nmsrs > SNAP_MAX_MSRS || j->st->ncpuid > SNAP_MAX_CPUID) {
			fprintf(out, "snapshot: vCPU %u: too many MSRs or CPUID entries\n", i);
			return -E2BIG;
		}
		to_snap(j->st, i, &j->vcpus[i]);
		ret = get_os_state(m, i, &j->vcpus[i], out);
		if (ret)
			return ret;
	}
	ret = get_machine(m, &j->machine, out);
	if (ret)
		return ret;
	j->ndevs = 0;
	for (unsigned int i = 0; i < vmxctl_nr_devices(m); i++) {
		struct vmxctl_dev_state *d = &j->dst[j->ndevs];

		if (j->ndevs == SNAP_MAX_DEVICES) {
			fprintf(out, "snapshot: more than %u devices\n", SNAP_MAX_DEVICES);
			return -E2BIG;
		}
		memset(d, 0, sizeof(*d));
		ret = vmxctl_device_save(m, i, d);
		if (ret) {
			fprintf(out, "snapshot: device %s: %s\n",
				vmxctl_device_name(m, i), strerror(-ret));
			return ret;
		}
		j->ndevs++;
		if (strnlen(d->name, sizeof(d->name)) >= SNAP_DEVICE_NAME) {
			fprintf(out, "snapshot: device name too long\n");
			return -EINVAL;
		}
		memcpy(j->devs[j->ndevs - 1].name, d->name, SNAP_DEVICE_NAME);
		j->devs[j->ndevs - 1].name[SNAP_DEVICE_NAME - 1] = 0;
		j->devs[j->ndevs - 1].version = d->version;
		j->devs[j->ndevs - 1].data = d->data;
		j->devs[j->ndevs - 1].len = d->len;
	}
	return 0;
}

/*
 * The guest's TSC goes on from where it paused, as after a restore of
 * the file: the pause is invisible to it. Otherwise a long one (a full
 * snapshot of a Linux guest under Bochs without the copy: 46 s) is time
 * its RCU and soft-lockup watchdogs see pass without them running.
 */
static void resume_vm(struct vmxctl_machine *m, const struct snap_job *j,
		      FILE *out)
{
	if (j->machine.flags & SNAP_MACHINE_F_CLOCK) {
		int r = vmxlite_set_clock(vmxctl_vm_fd(m), &j->machine.clock);

		if (r)
			fprintf(out, "snapshot: VMXL_SET_CLOCK on resume: %s: the guest sees the pause\n",
				strerror(-r));
	}
	vmxctl_resume(m);
}

/* Put back the dirty bits cleared at the pause: the file did not get them. */
static void undo_clear(struct vmxctl_machine *m, const struct snap_job *j,
		       unsigned int nslots)
{
	for (unsigned int i = 0; i < nslots; i++)
		vmxctl_dirty_log_mark(m, i, j->bitmap[i]);
}

static int ctl_snapshot(struct vmxctl_machine *m, int argc, char **argv,
			FILE *out)
{
	const char *file = NULL, *parent = NULL;
	struct snap_job j = { 0 };
	struct snap_slot sl[VMXCTL_MAX_SLOTS];
	struct snap_capture cap = { 0 };
	struct snap_write_stats st;
	struct snap_err err = { 0 };
	uint64_t t0, t1, t2 = 0, tc = 0, copied = 0;
	bool was_logging, copy = true, paused = false, cleared = false;
	int ret = EXIT_FAILED, level = LEVEL_DEFAULT;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--parent") && i + 1 < argc) {
			parent = argv[++i];
		} else if (!strcmp(argv[i], "--level") && i + 1 < argc) {
			level = parse_level(argv[++i]);
			if (level < 0) {
				fprintf(out, "snapshot: --level %s: not a zlib level (" LEVEL_RANGE ")\n",
					argv[i]);
				return EXIT_FAILED;
			}
		} else if (!strcmp(argv[i], "--no-copy")) {
			copy = false;
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			file = NULL;
			break;
		}
	}
	if (!file) {
		fprintf(out, "usage: snapshot FILE [--parent PARENT] [--level N] [--no-copy]\n");
		return EXIT_FAILED;
	}
	pthread_mutex_lock(&S.lock);
	if (parent) {
		struct snap_reader *r = snap_open(parent, &err);

		if (!r) {
			fprintf(out, "snapshot: --parent %s\n", err.msg);
			goto out_unlock;
		}
		if (!S.have_last ||
		    memcmp(snap_get_info(r)->id, S.last_id, SNAP_ID_SIZE)) {
			if (S.have_last)
				fprintf(out, "snapshot: --parent %s is not the last snapshot of this run (%s): the dirty log counts from that one\n",
					parent, S.last);
			else
				fprintf(out, "snapshot: --parent %s: this run has taken no snapshot (nor was it restored from one) yet; take a full one first\n",
					parent);
			snap_close(r);
			goto out_unlock;
		}
		snap_close(r);
	}

	t0 = now_ns();
	if (vmxctl_pause(m)) {
		fprintf(out, "snapshot: the machine is stopping\n");
		goto out_unlock;
	}
	t1 = now_ns();
	paused = true;
	was_logging = S.logging;
	if (!S.logging) {
		/* First snapshot of the run: a full one; the window opens now. */
		if (parent) {
			fprintf(out, "snapshot: no dirty log to make an incremental from\n");
			goto out;
		}
		ret = vmxctl_dirty_log_enable(m, true);
		if (ret) {
			fprintf(out, "snapshot: turning the dirty log on: %s\n",
				strerror(-ret));
			ret = EXIT_FAILED;
			goto out;
		}
		S.logging = true;
		S.have_last = false;
		ret = EXIT_FAILED;
	}
	if (collect(m, &j, was_logging, out))
		goto out;
	for (unsigned int i = 0; i < j.nslots; i++) {
		sl[i] = j.slots[i];
		sl[i].pages = parent ? j.bitmap[i] : NULL;
	}
	/*
	 * The pages the file will hold, copied while the vCPUs are stopped:
	 * compressing them is what takes time, and it can run from the copy
	 * with the guest running. Without memory for the copy, the snapshot
	 * still succeeds, paused for the whole write, as --no-copy.
	 */
	if (copy) {
		uint64_t tc0 = now_ns();

		if (snap_capture(&cap, sl, j.nslots, file, &err)) {
			fprintf(out, "snapshot: %s; writing with the guest paused instead (as --no-copy)\n",
				err.msg);
			copy = false;
		}
		tc = now_ns() - tc0;
		copied = cap.pages;
	}
	/*
	 * Clear now, while paused: bits set from here on are writes the file
	 * does not hold, and a clear after the resume would drop them. If the
	 * file is not written, undo_clear() puts these bits back.
	 */
	if (was_logging)
		for (unsigned int i = 0; i < j.nslots; i++) {
			int r = vmxctl_dirty_log_clear(m, i, j.bitmap[i]);

			if (r) {
				fprintf(out, "snapshot: clearing the dirty log of slot %u: %s\n",
					j.slots[i].slot, strerror(-r));
				fprintf(out, "snapshot: nothing changed: %s and the dirty log are as they were\n",
					file);
				/* slot i too: a failed CLEAR may have cleared some */
				undo_clear(m, &j, i + 1);
				goto out;
			}
		}
	cleared = was_logging;
	if (copy) {
		resume_vm(m, &j, out);
		paused = false;
		t2 = now_ns();
	}
	{
		struct snap_write_params p = {
			.path = file, .parent = parent,
			.slots = copy ? cap.slots : sl, .nr_slots = j.nslots,
			.machine = &j.machine, .vcpus = j.vcpus, .nr_vcpus = j.ncpus,
			.devices = j.devs, .nr_devices = j.ndevs, .threads = 2,
			.level = level,
		};

		if (snap_write(&p, &st, &err)) {
			fprintf(out, "snapshot: %s\n", err.msg);
			fprintf(out, "snapshot: nothing changed: %s and the dirty log are as they were\n",
				file);
			goto out;
		}
	}
	cleared = false;
	memcpy(S.last_id, st.id, SNAP_ID_SIZE);
	if (!realpath(file, S.last))
		snprintf(S.last, sizeof(S.last), "%s", file);
	S.have_last = true;
	ret = 0;
out:
	if (cleared)
		undo_clear(m, &j, j.nslots);
	if (paused) {
		resume_vm(m, &j, out);
		t2 = now_ns();
	}
	snap_capture_free(&cap);
	if (!ret) {
		char id[2 * SNAP_ID_SIZE + 1];
		uint64_t t3 = now_ns();

		snap_id_hex(st.id, id);
		fprintf(out, "snapshot %s: %s, %" PRIu64 " of %" PRIu64 " pages (%" PRIu64 " zero, elided), %" PRIu64 " chunks\n",
			file, parent ? "incremental" : "full", st.pages_selected,
			st.pages_total, st.pages_zero, st.chunks);
		fprintf(out, "bytes %" PRIu64 "\n", st.bytes);
		fprintf(out, "level %d\n", level);
		if (copy)
			fprintf(out, "pause %.3f ms, vCPUs stopped: state, dirty log, a copy of %" PRIu64 " pages (%.1f MiB) in %.3f ms\n",
				(t2 - t1) / 1e6, copied, copied * SNAP_PAGE_SIZE / 1048576.0,
				tc / 1e6);
		else
			fprintf(out, "pause %.3f ms, vCPUs stopped for the whole write (no copy)\n",
				(t2 - t1) / 1e6);
		fprintf(out, "write %.3f ms, %.1f MB/s written, %.1f MB/s of guest memory, %s\n",
			st.ns / 1e6, mbps(st.bytes, st.ns),
			mbps(st.pages_selected * SNAP_PAGE_SIZE, st.ns),
			copy ? "from the copy, the guest running" : "the guest paused");
		fprintf(out, "total %.3f ms\n", (t3 - t0) / 1e6);
		fprintf(out, "id %s\n", id);
	}
	job_free(&j);
out_unlock:
	pthread_mutex_unlock(&S.lock);
	return ret;
}

/* ------------------------------------------------------------------ */
/* vmxctl snapshot SOCKET FILE [--parent PARENT] [--level N] ...       */
/* ------------------------------------------------------------------ */

/* FILE as an absolute path (the server's working directory differs). */
static char *absolute(const char *path)
{
	char *dup, *slash, *dir, *out = NULL;
	const char *base;

	if (path[0] == '/')
		return strdup(path);
	dup = strdup(path);
	if (!dup)
		return NULL;
	slash = strrchr(dup, '/');
	if (slash) {
		*slash = 0;
		base = slash + 1;
		dir = realpath(*dup ? dup : "/", NULL);
	} else {
		base = dup;
		dir = getcwd(NULL, 0);
	}
	if (dir && asprintf(&out, "%s/%s", strcmp(dir, "/") ? dir : "", base) < 0)
		out = NULL;
	free(dir);
	free(dup);
	return out;
}

static void snapshot_usage(FILE *f)
{
	fprintf(f,
"usage: vmxctl snapshot SOCKET FILE [--parent PARENT] [--level N] [--no-copy]\n"
"Save the VM of the `vmxctl run --control SOCKET` into FILE: every page\n"
"(full), or with --parent only the pages written since PARENT, which must\n"
"be the last snapshot that run wrote or was restored from. The VM pauses\n"
"while its state and a copy of those pages are taken (the copy needs as\n"
"much memory as they hold: all guest RAM for a full snapshot), then runs\n"
"on while FILE is written from the copy (FILE.tmp.PID, fsync, rename);\n"
"the old FILE and the dirty log stay as they were when anything fails.\n"
"Prints pages, bytes, the level, the pause, the write and its rate.\n"
"Paths must not contain white space.\n"
"  --level N  zlib level, " LEVEL_RANGE " (default 1). Higher\n"
"             levels make a smaller file and a longer write\n"
"             (docs/benchmarks.md). A chain may mix levels.\n"
"  --no-copy  no copy: the VM stays paused for the whole write (what\n"
"             happens anyway, said in the output, when the copy's\n"
"             memory cannot be had).\n"
"Exit status: 0 written; 1 the snapshot failed; 64 usage; 66 the socket\n"
"could not be used.\n");
}

static int cmd_snapshot(int argc, char **argv)
{
	const char *sock = NULL, *file = NULL, *parent = NULL;
	char *afile = NULL, *aparent = NULL, *line = NULL, opt_level[24] = "";
	int ret, level = 0;
	bool no_copy = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			snapshot_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--parent")) {
			if (i + 1 == argc) {
				vmxctl_err("snapshot: --parent needs a file");
				return EXIT_USAGE;
			}
			parent = argv[++i];
		} else if (!strcmp(argv[i], "--level")) {
			if (i + 1 == argc) {
				vmxctl_err("snapshot: --level needs a zlib level (" LEVEL_RANGE ")");
				return EXIT_USAGE;
			}
			level = parse_level(argv[++i]);
			if (level < 0) {
				vmxctl_err("snapshot: --level %s: not a zlib level (" LEVEL_RANGE ")",
					   argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--no-copy")) {
			no_copy = true;
		} else if (argv[i][0] == '-') {
			vmxctl_err("snapshot: unknown option %s (vmxctl snapshot --help)", argv[i]);
			return EXIT_USAGE;
		} else if (!sock) {
			sock = argv[i];
		} else if (!file) {
			file = argv[i];
		} else {
			vmxctl_err("snapshot: too many arguments (vmxctl snapshot --help)");
			return EXIT_USAGE;
		}
	}
	if (!file) {
		snapshot_usage(stderr);
		return EXIT_USAGE;
	}
	afile = absolute(file);
	aparent = parent ? absolute(parent) : NULL;
	if (!afile || (parent && !aparent)) {
		vmxctl_err("snapshot: %s: %s", parent && !aparent ? parent : file,
			   strerror(errno ? errno : ENOMEM));
		ret = EXIT_USAGE;
		goto out;
	}
	if (strpbrk(afile, " \t\n") || (aparent && strpbrk(aparent, " \t\n"))) {
		vmxctl_err("snapshot: file names with white space are not supported");
		ret = EXIT_USAGE;
		goto out;
	}
	/* --level only when given: the server's default is the one default. */
	if (level)
		snprintf(opt_level, sizeof(opt_level), " --level %d", level);
	if (asprintf(&line, "snapshot %s%s%s%s%s", afile, aparent ? " --parent " : "",
		     aparent ? aparent : "", opt_level,
		     no_copy ? " --no-copy" : "") < 0) {
		line = NULL;
		ret = EXIT_FAILED;
		goto out;
	}
	ret = vmxctl_control_request(sock, line, stdout);
	ret = ret < 0 ? EXIT_NOINPUT : ret ? EXIT_FAILED : 0;
out:
	free(line);
	free(afile);
	free(aparent);
	return ret;
}

/* ------------------------------------------------------------------ */
/* vmxctl run --restore FILE                                           */
/* ------------------------------------------------------------------ */

/*
 * The machine the snapshot needs, from its machine section: the VM's
 * flags (the in-kernel local APIC) and the platform vmxctl built around
 * it (a Linux guest's IOAPIC, RTC and PC ports). The kernel, initrd and
 * command line are in guest memory already; ACPI tables too. A version 1
 * file holds a flat guest.
 */
static int restore_platform(const char *file, const struct snap_info *in,
			    struct vmxctl_config *cfg)
{
	const struct snap_machine *sm = &in->machine;
	uint32_t msec = (in->flags & SNAP_F_INCREMENTAL) ? 2 : 1;
	uint32_t os0 = msec + 1 + sm->has_smmu + in->nr_vcpus;
	struct vmxl_smmu_config want;

	/* The file says whether the VM had an SMMU, whatever --smmu says. */
	cfg->smmu = sm->has_smmu;
	vmxctl_smmu_config(&want);
	if (sm->has_smmu && memcmp(&sm->smmu.config, &want, sizeof(want))) {
		vmxctl_err("--restore: %s: section %u (smmu): an SMMU at 0x%llx with %u/%u StreamID/SubstreamID bits and %u IOTLB entries; this vmxctl builds one at 0x%llx with %u/0 and the default IOTLB",
			   file, msec + 1,
			   (unsigned long long)sm->smmu.config.base_gpa,
			   sm->smmu.config.sid_bits, sm->smmu.config.ssid_bits,
			   sm->smmu.config.iotlb_entries,
			   (unsigned long long)want.base_gpa, want.sid_bits);
		return -EINVAL;
	}
	if (in->version < 2)
		return 0;
	if (sm->vm_flags & ~VMXL_VM_LAPIC) {
		vmxctl_err("--restore: %s: section %u (machine): VM flags %#x: this vmxctl creates VMs with VMXL_VM_LAPIC (%#x) at most",
			   file, msec, sm->vm_flags, VMXL_VM_LAPIC);
		return -EINVAL;
	}
	if (sm->platform > PLATFORM_LINUX ||
	    (sm->platform == PLATFORM_LINUX && !(sm->vm_flags & VMXL_VM_LAPIC))) {
		vmxctl_err("--restore: %s: section %u (machine): platform %u with VM flags %#x: not one this vmxctl builds (0 flat, 1 Linux with VMXL_VM_LAPIC)",
			   file, msec, sm->platform, sm->vm_flags);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < in->nr_vcpus; i++)
		if (!!(in->vcpus[i].os_flags & SNAP_VCPU_OS_LAPIC) !=
		    !!(sm->vm_flags & VMXL_VM_LAPIC)) {
			vmxctl_err("--restore: %s: section %u (vcpu-os %u): %s local APIC state, but the machine's VM flags are %#x",
				   file, os0 + i, i,
				   in->vcpus[i].os_flags & SNAP_VCPU_OS_LAPIC ?
				   "has" : "has no", sm->vm_flags);
			return -EINVAL;
		}
	cfg->lapic = sm->vm_flags & VMXL_VM_LAPIC;
	cfg->linux_platform = sm->platform == PLATFORM_LINUX;
	return 0;
}

static int restore_prepare(const char *file, struct vmxctl_config *cfg)
{
	struct snap_err err = { 0 };
	const struct snap_info *in;

	if (snap_open_chain(file, &S.chain, &S.chain_len, &err)) {
		vmxctl_err("--restore: %s", err.msg);
		return -EINVAL;
	}
	/* Everything, memory chunks included, is checked before anything starts. */
	for (unsigned int k = 0; k < S.chain_len; k++)
		if (snap_read_memory(S.chain[k], NULL, &err)) {
			vmxctl_err("--restore: %s", err.msg);
			goto fail;
		}
	in = snap_get_info(S.chain[S.chain_len - 1]);
	if (in->nr_slots != 1 || in->slots[0].gpa != 0 ||
	    in->mem_size > VMXCTL_MAX_MEM) {
		vmxctl_err("--restore: %s: section %u (layout): %u slots of %" PRIu64 " bytes; this vmxctl builds one slot of RAM at 0, at most %llu bytes",
			   file, (in->flags & SNAP_F_INCREMENTAL) ? 1u : 0u,
			   in->nr_slots, in->mem_size,
			   (unsigned long long)VMXCTL_MAX_MEM);
		goto fail;
	}
	if (!in->nr_vcpus || in->nr_vcpus > VMXCTL_MAX_VCPUS) {
		vmxctl_err("--restore: %s: header: %u vCPUs (1..%u)", file,
			   in->nr_vcpus, VMXCTL_MAX_VCPUS);
		goto fail;
	}
	for (uint32_t i = 0; i < in->nr_vcpus; i++)
		if (in->vcpus[i].id != i || in->vcpus[i].nr_msrs > VMXCTL_MAX_MSRS) {
			vmxctl_err("--restore: %s: vCPU %u: id %u, %u MSRs: not what this vmxctl saves",
				   file, i, in->vcpus[i].id, in->vcpus[i].nr_msrs);
			goto fail;
		}
	if (restore_platform(file, in, cfg))
		goto fail;
	cfg->mem_size = in->mem_size;
	cfg->nr_cpus = in->nr_vcpus;
	return 0;
fail:
	snap_close_chain(S.chain, S.chain_len);
	S.chain = NULL;
	return -EINVAL;
}

/*
 * After every vCPU's registers and MSRs (APIC_BASE among them): the
 * VM's TSC, then per vCPU the APIC, debug registers, events and MP
 * state, in vmstate_restore_os()'s order (the selftests restore files
 * through it too). Devices come after all of it, so that an interrupt a
 * restored device raises again lands in a restored APIC.
 */
static int restore_os_state(struct vmxctl_machine *m, const char *file,
			    const struct snap_info *in)
{
	int fds[VMXCTL_MAX_VCPUS], cpu, ret;
	const char *what;

	for (uint32_t i = 0; i < in->nr_vcpus; i++)
		fds[i] = vmxctl_vcpu_fd(m, i);
	ret = vmstate_restore_os(vmxctl_vm_fd(m), fds, &in->machine, in->vcpus,
				 in->nr_vcpus, &cpu, &what);
	if (ret && cpu < 0)
		vmxctl_err("--restore: %s: VMXL_SET_CLOCK (TSC %llu) on the VM: %s",
			   file, (unsigned long long)in->machine.clock.tsc,
			   strerror(-ret));
	else if (ret)
		vmxctl_err("--restore: %s: vCPU %d: %s: %s", file, cpu, what,
			   strerror(-ret));
	return ret;
}

static int restore_apply(struct vmxctl_machine *m, const char *file)
{
	const struct snap_info *in;
	struct snap_slot sl[VMXCTL_MAX_SLOTS];
	struct vmxctl_vcpu_state *st = NULL;
	struct snap_err err = { 0 };
	uint64_t t0 = now_ns();
	int ret = -EINVAL;

	if (!S.chain) {
		vmxctl_err("--restore %s: the chain was not prepared", file);
		return -EINVAL;
	}
	in = snap_get_info(S.chain[S.chain_len - 1]);
	if (vmxctl_nr_slots(m) != in->nr_slots) {
		vmxctl_err("--restore: %s: section 1 (layout): %u memory slots, the machine has %u",
			   file, in->nr_slots, vmxctl_nr_slots(m));
		goto out;
	}
	for (uint32_t i = 0; i < in->nr_slots; i++) {
		const struct vmxctl_slot *s = vmxctl_slot(m, i);

		if (s->slot != in->slots[i].slot || s->gpa != in->slots[i].gpa ||
		    s->size != in->slots[i].size) {
			vmxctl_err("--restore: %s: layout: slot %u at 0x%" PRIx64 ", %" PRIu64 " bytes; the machine has slot %u at 0x%" PRIx64 ", %" PRIu64 " bytes",
				   file, in->slots[i].slot, in->slots[i].gpa,
				   in->slots[i].size, s->slot, s->gpa, s->size);
			goto out;
		}
		sl[i] = in->slots[i];
		sl[i].host = s->hva;
	}
	if (vmxctl_nr_vcpus(m) != in->nr_vcpus) {
		vmxctl_err("--restore: %s: %u vCPUs, the machine has %u", file,
			   in->nr_vcpus, vmxctl_nr_vcpus(m));
		goto out;
	}
	for (unsigned int k = 0; k < S.chain_len; k++)
		if (snap_read_memory(S.chain[k], sl, &err)) {
			vmxctl_err("--restore: %s", err.msg);
			goto out;
		}
	st = malloc(sizeof(*st));
	if (!st) {
		vmxctl_err("--restore: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < in->nr_vcpus; i++) {
		if (from_snap(&in->vcpus[i], st)) {
			vmxctl_err("--restore: %s: section %u (vcpu %u): state does not fit",
				   file, i + 1 + (in->version >= 2) +
				   in->machine.has_smmu +
				   !!(in->flags & SNAP_F_INCREMENTAL), i);
			goto out;
		}
		ret = vmxctl_set_vcpu_state(m, i, st);
		if (ret) {
			vmxctl_err("--restore: %s: vCPU %u: setting its state: %s",
				   file, i, strerror(-ret));
			goto out;
		}
	}
	if (in->version >= 2) {
		ret = restore_os_state(m, file, in);
		if (ret)
			goto out;
	}
	/*
	 * The SMMU before the devices: a restored virtio queue's first DMA
	 * goes through it. Its tables and queues came back with RAM.
	 */
	if (in->machine.has_smmu) {
		ret = vmxlite_set_smmu_state(vmxctl_vm_fd(m), &in->machine.smmu.state);
		if (ret) {
			vmxctl_err("--restore: %s: section %u (smmu): VMXL_SET_SMMU_STATE: %s%s",
				   file, 2 + !!(in->flags & SNAP_F_INCREMENTAL),
				   strerror(-ret), ret == -EINVAL ?
				   " (a register holds bits the SMMU refuses)" : "");
			goto out;
		}
	}
	ret = -EINVAL;
	for (uint32_t i = 0; i < in->nr_devices; i++) {
		const struct snap_device *d = &in->devices[i];
		struct vmxctl_dev_state ds = {
			.version = d->version, .len = d->len, .data = (void *)d->data,
		};
		int r;

		memcpy(ds.name, d->name, sizeof(ds.name));
		r = vmxctl_device_restore(m, &ds);
		if (r == -ENOENT) {
			vmxctl_err("--restore: %s: device '%s' was saved but this run has none (the disk is not in the snapshot: give --disk)",
				   file, d->name);
			goto out;
		} else if (r) {
			vmxctl_err("--restore: %s: device '%s' (version %u, %u bytes): %s",
				   file, d->name, d->version, d->len, strerror(-r));
			goto out;
		}
	}
	for (unsigned int i = 0; i < vmxctl_nr_devices(m); i++) {
		const char *name = vmxctl_device_name(m, i);
		bool found = false;

		for (uint32_t k = 0; k < in->nr_devices && !found; k++)
			found = !strcmp(in->devices[k].name, name);
		if (!found)
			vmxctl_err("--restore: warning: device '%s' is not in %s; it starts from reset",
				   name, file);
	}
	/* The dirty log's window opens at the restored state: FILE can parent. */
	ret = vmxctl_dirty_log_enable(m, true);
	if (ret) {
		vmxctl_err("--restore: turning the dirty log on: %s", strerror(-ret));
		goto out;
	}
	pthread_mutex_lock(&S.lock);
	S.logging = true;
	S.have_last = true;
	memcpy(S.last_id, in->id, SNAP_ID_SIZE);
	if (!realpath(file, S.last))
		snprintf(S.last, sizeof(S.last), "%s", file);
	pthread_mutex_unlock(&S.lock);
	/* Tests compare the restored state before it moves on. */
	if (getenv("VMXCTL_RESTORE_PAUSED") &&
	    !strcmp(getenv("VMXCTL_RESTORE_PAUSED"), "1"))
		vmxctl_pause(m);
	fprintf(stderr, "vmxctl: restored %s (a chain of %u) in %.1f ms\n", file,
		S.chain_len, (now_ns() - t0) / 1e6);
	ret = 0;
out:
	free(st);
	snap_close_chain(S.chain, S.chain_len);
	S.chain = NULL;
	return ret;
}

static const struct vmxctl_snapshot_ops ops = {
	.prepare = restore_prepare,
	.restore = restore_apply,
};

void vmxctl_snapshot_init(void)
{
	vmxctl_register_command("snapshot",
				"save a running VM: SOCKET FILE [--parent PARENT] [--level N] [--no-copy]",
				cmd_snapshot);
	vmxctl_register_command("snapshot-info", "print what a snapshot FILE holds",
				vmxctl_cmd_snapshot_info);
	vmxctl_register_command("verify", "check a snapshot FILE and its whole chain",
				vmxctl_cmd_verify);
	vmxctl_register_control("snapshot",
				"FILE [--parent PARENT] [--level N] [--no-copy]: save the VM (zlib level N, 1-9)",
				ctl_snapshot);
	vmxctl_register_snapshot_ops(&ops);
}
