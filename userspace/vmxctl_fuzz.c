// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl fuzz: snapshot fuzzing on a reset point (docs/fuzzing.md).
 *
 * GUEST is loaded as `vmxctl run` loads it, on one vCPU and no devices,
 * and runs until its first OUT to the ready port (VMXCTL_FUZZ_READY_PORT);
 * there the VM's state becomes its reset point (VMXL_SET_RESET_POINT).
 * Then for each input: the input goes into guest memory at --input-gpa
 * (a 64-bit little-endian length, then the bytes), the vCPU runs until
 * the guest ends the input (exit port 0xf4, code 0) or crashes, and
 * VMXL_RESET_TO_POINT brings the VM back. The inputs are the files of
 * --corpus, in name order, then --iterations mutations of them drawn
 * from --seed.
 *
 * The vCPU runs on this thread, with its own exit handling rather than
 * vmxctl_machine_run()'s threads: nothing runs beside it, so it is always
 * out of VMXL_RUN when the reset ioctls need it to be, and the time limit
 * is one timer whose signal sets immediate_exit.
 *
 * What ends an input (its "kind", in the crash file's name):
 *   ok            OUT to 0xf4 with code 0
 *   vectorN       OUT to 0xf4 with 0x80 | N, N < 32: the guest's handler
 *                 for exception N reports it
 *   exitN         OUT to 0xf4 with any other code N: the guest's own report
 *   triple-fault  VMXL_EXIT_SHUTDOWN
 *   fail-entry, internal-error, exit-<name>   the vCPU stopped otherwise
 *   halt          HLT with interrupts disabled: nothing can wake it
 *   timeout       still running after --timeout-ms
 * An OUT to the ready port during an input ends it as ok too (a guest
 * that loops back to where it got ready).
 *
 * Exit status of `vmxctl fuzz`:
 *   0    no input crashed
 *   1    inputs crashed (each saved with --crashes)
 *   64   usage error (unknown or refused option, bad number, no
 *        --corpus, not one GUEST, the input window outside RAM)
 *   65   GUEST is not a loadable image; a corpus file above --max-input
 *   66   GUEST or a corpus file unreadable, --corpus missing or empty,
 *        --crashes could not be made or written
 *   69   vmx-lite is not available
 *   70   the guest did not get ready (exited, crashed, timed out first)
 *   71   an ioctl or system call failed
 *   130  SIGINT, 143 SIGTERM (after the summary, once the loop began)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

/* OUT to this port: the guest is ready for an input (reset point). */
#define VMXCTL_FUZZ_READY_PORT		0xf5
/* Exit-port codes 0x80 | vector: the guest took exception vector. */
#define VMXCTL_FUZZ_VECTOR_BASE		0x80
#define VMXCTL_FUZZ_NR_VECTORS		32

/* Exit statuses of `vmxctl fuzz` beyond vmxctl_dev.h's. */
#define FUZZ_EXIT_CRASHES	1	/* inputs crashed; each saved */

#define DEFAULT_INPUT_GPA	0x200000ULL
#define DEFAULT_MAX_INPUT	4096ULL
#define MAX_MAX_INPUT		(1ULL << 20)
#define DEFAULT_TIMEOUT_MS	1000ULL
#define MAX_TIMEOUT_MS		3600000ULL
/* Getting ready may take longer than one input: at least this. */
#define READY_TIMEOUT_MS	10000ULL
/* The top of RAM holds the boot area and the first vCPU's stack. */
#define RAM_TOP_RESERVED	0x20000ULL
#define MAX_MUTATIONS		4
#define MAX_KINDS		16
#define KIND_LEN		32

struct corpus_entry {
	char *path;
	unsigned char *data;
	size_t len;
};

struct fuzz_opts {
	const char *corpus, *crashes;
	uint64_t iterations, seed, timeout_ms;
	uint64_t input_gpa, max_input;
	uint64_t load, entry;
	bool have_load, have_entry;
};

struct fuzz_stats {
	uint64_t inputs, corpus_inputs, crashes, resets, pages;
	double reset_s;			/* in VMXL_RESET_TO_POINT */
	unsigned int nr_kinds;
	struct {
		char name[KIND_LEN];
		uint64_t count;
	} kinds[MAX_KINDS];
};

enum outcome { OUT_OK, OUT_READY, OUT_CRASH, OUT_TIMEOUT, OUT_SIGNAL,
	       OUT_ERROR };

/* Set by the signal handlers, read by the run loop. */
static struct vmxl_run *volatile kick_run;
static volatile sig_atomic_t timed_out, stop_signal;

static void kick(void)
{
	struct vmxl_run *run = kick_run;

	/* Before VMXL_RUN or inside it: either way it returns -EINTR. */
	if (run)
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kick();
}

static void on_stop(int sig)
{
	stop_signal = sig;
	kick();
}

static void set_timer(uint64_t ms)
{
	struct itimerval it = {
		.it_value = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 },
	};

	/* 0 disarms; a signal already pending arrives before this returns. */
	setitimer(ITIMER_REAL, &it, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: the mutations depend on --seed alone, on any machine. */
static uint64_t rnd(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fuzz_usage(FILE *f)
{
	fprintf(f,
"usage: vmxctl fuzz [options] --corpus DIR GUEST\n"
"Fuzz GUEST (an ELF, or a flat binary with --load) on a reset point: run it\n"
"on one vCPU until it writes to port 0x%x (ready), take the reset point\n"
"there, then for each input write it at --input-gpa, run until the guest\n"
"writes 0 to the exit port 0x%x (ok) or crashes, and reset to the point.\n"
"\n"
"  --corpus DIR        the inputs: every regular file of DIR (not dot files),\n"
"                      in name order; then the mutated inputs\n"
"  --crashes DIR       save each crashing input as DIR/crash-<input>-<kind>\n"
"                      (DIR made if need be)\n"
"  --iterations N      mutated inputs after the corpus (default 0): a corpus\n"
"                      file with 1-%d random bit flips or random bytes\n"
"  --seed S            the mutations' seed (default 1): the same S, corpus\n"
"                      and N give the same inputs\n"
"  --timeout-ms MS     time limit of one input (default %llu, 1 to %llu);\n"
"                      getting ready has max(MS, %llu)\n"
"  --input-gpa ADDR    where the input goes (default 0x%llx): a 64-bit\n"
"                      little-endian length, then the bytes\n"
"  --max-input BYTES   the largest input (default %llu, at most 1M); a larger\n"
"                      corpus file is refused\n"
"  --mem SIZE          guest RAM (default 64M, as vmxctl run)\n"
"  --load ADDR, --entry ADDR   a flat binary, as vmxctl run\n"
"  -h, --help          this text\n"
"The guest has one vCPU and no devices (no UART, disk or SMMU): vmxctl\n"
"fuzz handles its exits itself. A machine with devices has reset points\n"
"through vmxctl run --control (the commands reset-point and reset).\n"
"\n"
"Crash kinds: vectorN (the guest wrote 0x%x|N to port 0x%x: exception N,\n"
"N < %d), exitN (any other nonzero code N), triple-fault, fail-entry,\n"
"internal-error, halt (HLT with interrupts off), timeout.\n"
"At the end: inputs run, crashes by kind, resets per second, pages\n"
"reset per input (average).\n"
"\n"
"Exit status: 0 no input crashed; 1 inputs crashed (each saved with\n"
"--crashes); 64 usage; 65 bad guest image, or a corpus file larger than\n"
"--max-input; 66 GUEST, --corpus or --crashes could not be read or\n"
"written, or the corpus is empty; 69 vmx-lite unavailable; 70 the guest\n"
"did not get ready (crashed, exited or timed out first); 71 ioctl or\n"
"system error; 130 SIGINT, 143 SIGTERM (after the summary).\n",
		VMXCTL_FUZZ_READY_PORT, VMXCTL_EXIT_PORT, MAX_MUTATIONS,
		(unsigned long long)DEFAULT_TIMEOUT_MS,
		(unsigned long long)MAX_TIMEOUT_MS,
		(unsigned long long)READY_TIMEOUT_MS,
		(unsigned long long)DEFAULT_INPUT_GPA,
		(unsigned long long)DEFAULT_MAX_INPUT,
		VMXCTL_FUZZ_VECTOR_BASE, VMXCTL_EXIT_PORT,
		VMXCTL_FUZZ_NR_VECTORS);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct corpus_entry *)a)->path,
		      ((const struct corpus_entry *)b)->path);
}

static void free_corpus(struct corpus_entry *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(c[i].path);
		free(c[i].data);
	}
	free(c);
}

/* Every regular file of @dir, read, sorted by name: 0 or an exit status. */
static int load_corpus(const char *dir, uint64_t max_input,
		       struct corpus_entry **out, size_t *nr)
{
	struct corpus_entry *c = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d) {
		vmxctl_err("--corpus %s: %s", dir, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	/* cppcheck-suppress readdirCalled ; readdir_r is deprecated, one reader */
	while ((de = readdir(d))) {
		struct stat st;
		char *path;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			ret = VMXCTL_EXIT_OSERR;
			break;
		}
		/* Subdirectories and the like are not inputs. */
		if (stat(path, &st) || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n == cap) {
			struct corpus_entry *nc;

			cap = cap ? cap * 2 : 16;
			nc = realloc(c, cap * sizeof(*c));
			if (!nc) {
				free(path);
				ret = VMXCTL_EXIT_OSERR;
				break;
			}
			c = nc;
		}
		c[n++] = (struct corpus_entry){ .path = path };
	}
	closedir(d);
	if (!ret && !n) {
		vmxctl_err("--corpus %s: no input files in it", dir);
		ret = VMXCTL_EXIT_NOINPUT;
	}
	if (ret) {
		if (ret == VMXCTL_EXIT_OSERR)
			vmxctl_err("--corpus %s: out of memory", dir);
		free_corpus(c, n);
		return ret;
	}
	qsort(c, n, sizeof(*c), cmp_entry);
	for (i = 0; i < n && !ret; i++) {
		ret = vmxctl_read_file(c[i].path, &c[i].data, &c[i].len);
		if (!ret && c[i].len > max_input) {
			vmxctl_err("%s: %zu bytes, more than --max-input %llu",
				   c[i].path, c[i].len,
				   (unsigned long long)max_input);
			ret = VMXCTL_EXIT_IMAGE;
		}
	}
	if (ret) {
		free_corpus(c, n);
		return ret;
	}
	*out = c;
	*nr = n;
	return 0;
}

/*
 * Mutation @k (0-based) of the corpus into @buf (max_input bytes):
 * a corpus entry drawn from the seed with 1..MAX_MUTATIONS bit flips or
 * random bytes; an empty entry gets a random byte first.
 */
static size_t mutate(const struct corpus_entry *c, size_t nr, uint64_t *rs,
		     uint64_t max_input, unsigned char *buf, size_t *from)
{
	const struct corpus_entry *e = &c[rnd(rs) % nr];
	unsigned int i, nmut = 1 + rnd(rs) % MAX_MUTATIONS;
	size_t len = e->len;

	*from = e - c;
	memcpy(buf, e->data, len);
	if (!len && max_input)
		buf[len++] = rnd(rs);
	for (i = 0; i < nmut && len; i++) {
		uint64_t r = rnd(rs);
		size_t pos = (r >> 8) % len;

		if (r & 1)
			buf[pos] ^= 1u << ((r >> 1) & 7);
		else
			buf[pos] = r >> 40;
	}
	return len;
}

/*
 * Run the vCPU until the guest ends the input, gets ready, crashes or
 * runs out of @timeout_ms; @kind names a crash.
 */
static enum outcome run_vcpu(struct vcpu *v, uint64_t timeout_ms,
			     char *kind)
{
	struct vmxl_run *run = v->run;
	enum outcome out;
	int ret;

	timed_out = 0;
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	set_timer(timeout_ms);
	for (;;) {
		if (stop_signal) {
			out = OUT_SIGNAL;
			break;
		}
		ret = vmxlite_run(v->fd);
		if (ret == -EINTR) {
			if (timed_out) {
				snprintf(kind, KIND_LEN, "timeout");
				out = OUT_TIMEOUT;
				break;
			}
			/* another signal: the loop checks stop_signal */
			__atomic_store_n(&run->immediate_exit, 0,
					 __ATOMIC_SEQ_CST);
			continue;
		}
		if (ret) {
			vmxctl_err("vCPU 0: VMXL_RUN: %s", strerror(-ret));
			out = OUT_ERROR;
			break;
		}
		switch (run->exit_reason) {
		case VMXL_EXIT_IO:
			if (run->io.direction == VMXL_IO_IN) {
				/* no device: reads float high */
				memset(run->io.data, 0xff, sizeof(run->io.data));
				continue;
			}
			if (run->io.port == VMXCTL_FUZZ_READY_PORT) {
				out = OUT_READY;
				goto done;
			}
			if (run->io.port != VMXCTL_EXIT_PORT)
				continue;	/* writes to nothing vanish */
			if (!run->io.data[0]) {
				out = OUT_OK;
			} else if (run->io.data[0] >= VMXCTL_FUZZ_VECTOR_BASE &&
				   run->io.data[0] < VMXCTL_FUZZ_VECTOR_BASE +
				   VMXCTL_FUZZ_NR_VECTORS) {
				snprintf(kind, KIND_LEN, "vector%u",
					 run->io.data[0] - VMXCTL_FUZZ_VECTOR_BASE);
				out = OUT_CRASH;
			} else {
				snprintf(kind, KIND_LEN, "exit%u",
					 run->io.data[0]);
				out = OUT_CRASH;
			}
			goto done;
		case VMXL_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff,
				       sizeof(run->mmio.data));
			continue;
		case VMXL_EXIT_HLT:
			if (run->if_flag)
				continue;	/* the time limit bounds it */
			snprintf(kind, KIND_LEN, "halt");
			out = OUT_CRASH;
			goto done;
		case VMXL_EXIT_HYPERCALL:
			run->hypercall.ret = (uint64_t)-ENOSYS;
			continue;
		case VMXL_EXIT_IRQ_WINDOW_OPEN:
		case VMXL_EXIT_DIRTY_RING_FULL:
			continue;
		case VMXL_EXIT_SHUTDOWN:
			snprintf(kind, KIND_LEN, "triple-fault");
			break;
		case VMXL_EXIT_FAIL_ENTRY:
			snprintf(kind, KIND_LEN, "fail-entry");
			break;
		case VMXL_EXIT_INTERNAL_ERROR:
			snprintf(kind, KIND_LEN, "internal-error");
			break;
		default:
			snprintf(kind, KIND_LEN, "exit-%s",
				 vmxlite_exit_name(run->exit_reason));
			break;
		}
		out = OUT_CRASH;
		break;
	}
done:
	set_timer(0);
	return out;
}

static void count_kind(struct fuzz_stats *st, const char *kind)
{
	unsigned int i;

	for (i = 0; i < st->nr_kinds; i++)
		if (!strcmp(st->kinds[i].name, kind))
			break;
	if (i == st->nr_kinds) {
		if (i == MAX_KINDS)
			i--;	/* more kinds than vmxctl names: the last */
		else
			st->nr_kinds++;
		snprintf(st->kinds[i].name, KIND_LEN, "%s", kind);
	}
	st->kinds[i].count++;
	st->crashes++;
}

/* DIR/crash-<input>-<kind>: 0 or VMXCTL_EXIT_NOINPUT after a message. */
static int save_crash(const char *dir, uint64_t input, const char *kind,
		      const unsigned char *data, size_t len, char *path,
		      size_t path_len)
{
	size_t off = 0;
	int fd;

	snprintf(path, path_len, "%s/crash-%llu-%s", dir,
		 (unsigned long long)input, kind);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		vmxctl_err("--crashes: %s: %s", path, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			vmxctl_err("--crashes: %s: write: %s", path,
				   strerror(errno));
			close(fd);
			return VMXCTL_EXIT_NOINPUT;
		}
		off += n;
	}
	if (close(fd)) {
		vmxctl_err("--crashes: %s: %s", path, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	return 0;
}

static void print_summary(const struct fuzz_stats *st, double elapsed)
{
	unsigned int i;

	printf("inputs: %llu (%llu from the corpus, %llu mutated)\n",
	       (unsigned long long)st->inputs,
	       (unsigned long long)st->corpus_inputs,
	       (unsigned long long)(st->inputs - st->corpus_inputs));
	printf("crashes: %llu", (unsigned long long)st->crashes);
	for (i = 0; i < st->nr_kinds; i++)
		printf("%s%s %llu", i ? ", " : " (", st->kinds[i].name,
		       (unsigned long long)st->kinds[i].count);
	printf("%s\n", st->nr_kinds ? ")" : "");
	printf("resets: %llu in %.3f s: %.1f resets/s (%.1f us per reset ioctl)\n",
	       (unsigned long long)st->resets, elapsed,
	       elapsed > 0 ? st->resets / elapsed : 0.0,
	       st->resets ? st->reset_s * 1e6 / st->resets : 0.0);
	printf("pages reset per input: %.1f (average)\n",
	       st->resets ? (double)st->pages / st->resets : 0.0);
	fflush(stdout);
}

/* Run to the guest's ready OUT and take the reset point there. */
static int get_ready(struct vmxctl_machine *m, const struct fuzz_opts *o)
{
	struct vcpu *v = &m->vcpus[0];
	char kind[KIND_LEN] = "";
	uint64_t ms = o->timeout_ms > READY_TIMEOUT_MS ? o->timeout_ms :
			READY_TIMEOUT_MS;
	int ret;

	switch (run_vcpu(v, ms, kind)) {
	case OUT_READY:
		break;
	case OUT_SIGNAL:
		return 128 + stop_signal;
	case OUT_ERROR:
		return VMXCTL_EXIT_OSERR;
	case OUT_OK:
		vmxctl_err("%s: exited with 0 before it was ready (no OUT to port 0x%x)",
			   m->cfg.guest, VMXCTL_FUZZ_READY_PORT);
		return VMXCTL_EXIT_GUEST_CRASH;
	default:
		vmxctl_err("%s: %s before it was ready (no OUT to port 0x%x)",
			   m->cfg.guest, kind, VMXCTL_FUZZ_READY_PORT);
		return VMXCTL_EXIT_GUEST_CRASH;
	}
	/*
	 * The OUT is completed by the next VMXL_RUN, which a reset would
	 * forget (docs/uapi.md): complete it now, without entering the
	 * guest, so that every reset resumes after the OUT.
	 */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ret = vmxlite_run(v->fd);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (ret != -EINTR) {
		vmxctl_err("vCPU 0: VMXL_RUN (completing the ready OUT): %s",
			   ret ? strerror(-ret) : "entered the guest");
		return VMXCTL_EXIT_OSERR;
	}
	ret = vmxlite_set_reset_point(m->vm_fd);
	if (ret) {
		vmxctl_err("%s: VMXL_SET_RESET_POINT: %s", m->cfg.guest,
			   strerror(-ret));
		return VMXCTL_EXIT_OSERR;
	}
	return 0;
}

static int fuzz_loop(struct vmxctl_machine *m, const struct fuzz_opts *o,
		     const struct corpus_entry *c, size_t nr)
{
	struct vcpu *v = &m->vcpus[0];
	struct fuzz_stats st = { 0 };
	unsigned char *buf, *win;
	uint64_t rs = o->seed, k, total = nr + o->iterations;
	size_t len, prev_len = 0, from;
	double t0, t1;
	int ret = 0;

	win = vmxctl_gpa_to_hva(m, o->input_gpa, 8 + o->max_input);
	buf = malloc(o->max_input ? o->max_input : 1);
	if (!win || !buf) {
		vmxctl_err("--input-gpa 0x%llx: %s",
			   (unsigned long long)o->input_gpa,
			   win ? "out of memory" : "not in RAM");
		free(buf);
		return win ? VMXCTL_EXIT_OSERR : VMXCTL_EXIT_USAGE;
	}
	/* Flushed: whoever watches a long run knows it got this far. */
	printf("%s: ready, reset point taken; %llu inputs to run\n",
	       m->cfg.guest, (unsigned long long)total);
	fflush(stdout);
	t0 = now_s();
	for (k = 0; k < total; k++) {
		const char *what;
		char kind[KIND_LEN] = "", name[64];
		uint64_t le;
		enum outcome out;
		double r0;

		if (k < nr) {
			len = c[k].len;
			memcpy(buf, c[k].data, len);
			what = c[k].path;
		} else {
			len = mutate(c, nr, &rs, o->max_input, buf, &from);
			snprintf(name, sizeof(name), "mutation of %s",
				 strrchr(c[from].path, '/') + 1);
			what = name;
		}
		/*
		 * Our writes through the mapping are not undone by a reset
		 * (docs/uapi.md): clear what a longer input left, so that the
		 * guest sees the same bytes whatever came before.
		 */
		le = htole64(len);
		memcpy(win, &le, 8);
		memcpy(win + 8, buf, len);
		if (prev_len > len)
			memset(win + 8 + len, 0, prev_len - len);
		prev_len = len;

		out = run_vcpu(v, o->timeout_ms, kind);
		if (out == OUT_SIGNAL || out == OUT_ERROR) {
			ret = out == OUT_SIGNAL ? 128 + stop_signal :
			      VMXCTL_EXIT_OSERR;
			break;
		}
		st.inputs++;
		st.corpus_inputs += k < nr;
		if (out == OUT_READY) {
			/* ready again within an input: the input is done */
			out = OUT_OK;
		}
		if (out != OUT_OK) {
			count_kind(&st, kind);
			if (o->crashes) {
				char path[4096];

				ret = save_crash(o->crashes, k, kind, buf, len,
						 path, sizeof(path));
				if (ret)
					break;
				printf("crash: input %llu (%s): %s: %s\n",
				       (unsigned long long)k, what, kind, path);
			} else {
				printf("crash: input %llu (%s): %s\n",
				       (unsigned long long)k, what, kind);
			}
		}
		r0 = now_s();
		ret = vmxlite_reset_to_point(m->vm_fd);
		st.reset_s += now_s() - r0;
		if (ret < 0) {
			vmxctl_err("%s: VMXL_RESET_TO_POINT after input %llu: %s",
				   m->cfg.guest, (unsigned long long)k,
				   strerror(-ret));
			ret = VMXCTL_EXIT_OSERR;
			break;
		}
		st.resets++;
		st.pages += ret;
		ret = 0;
	}
	t1 = now_s();
	free(buf);
	print_summary(&st, t1 - t0);
	if (!ret && st.crashes)
		ret = FUZZ_EXIT_CRASHES;
	return ret;
}

/* vmxctl run's options that would add what a reset does not restore. */
static int refuse(const char *opt)
{
	vmxctl_err("fuzz: --%s: not with fuzz (one vCPU, no devices; a machine with them has reset points through vmxctl run --control)",
		   opt);
	return VMXCTL_EXIT_USAGE;
}

int vmxctl_cmd_fuzz(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "corpus", required_argument, NULL, 'c' },
		{ "crashes", required_argument, NULL, 'C' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "input-gpa", required_argument, NULL, 'g' },
		{ "max-input", required_argument, NULL, 'x' },
		{ "mem", required_argument, NULL, 'm' },
		{ "load", required_argument, NULL, 'l' },
		{ "entry", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		/* vmxctl run's, refused */
		{ "cpus", required_argument, NULL, 'R' },
		{ "serial", required_argument, NULL, 'R' },
		{ "disk", required_argument, NULL, 'R' },
		{ "smmu", no_argument, NULL, 'R' },
		{ "control", required_argument, NULL, 'R' },
		{ "restore", required_argument, NULL, 'R' },
		{ "kernel", required_argument, NULL, 'R' },
		{ 0 },
	};
	static struct vmxctl_machine mach;
	struct vmxctl_machine *m = &mach;
	struct fuzz_opts o = {
		.seed = 1, .timeout_ms = DEFAULT_TIMEOUT_MS,
		.input_gpa = DEFAULT_INPUT_GPA, .max_input = DEFAULT_MAX_INPUT,
	};
	struct corpus_entry *corpus = NULL;
	struct sigaction sa = { 0 };
	size_t nr = 0;
	int c, idx, ret;

	vmxctl_machine_init(m);
	m->cfg.no_devices = true;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case 'c':
			o.corpus = optarg;
			break;
		case 'C':
			o.crashes = optarg;
			break;
		case 'n':
			if (vmxctl_parse_u64(optarg, &o.iterations)) {
				vmxctl_err("--iterations '%s': not a number",
					   optarg);
				return VMXCTL_EXIT_USAGE;
			}
			break;
		case 's':
			if (vmxctl_parse_u64(optarg, &o.seed)) {
				vmxctl_err("--seed '%s': not a number", optarg);
				return VMXCTL_EXIT_USAGE;
			}
			break;
		case 't':
			if (vmxctl_parse_u64(optarg, &o.timeout_ms) || !o.timeout_ms ||
			    o.timeout_ms > MAX_TIMEOUT_MS) {
				vmxctl_err("--timeout-ms '%s': not a number from 1 to %llu",
					   optarg,
					   (unsigned long long)MAX_TIMEOUT_MS);
				return VMXCTL_EXIT_USAGE;
			}
			break;
		case 'g':
			if (vmxctl_parse_u64(optarg, &o.input_gpa) || o.input_gpa % 8) {
				vmxctl_err("--input-gpa '%s': not an 8-byte aligned address",
					   optarg);
				return VMXCTL_EXIT_USAGE;
			}
			break;
		case 'x':
			if (vmxctl_parse_size(optarg, &o.max_input) || !o.max_input ||
			    o.max_input > MAX_MAX_INPUT) {
				vmxctl_err("--max-input '%s': not a size from 1 to 1M",
					   optarg);
				return VMXCTL_EXIT_USAGE;
			}
			break;
		case 'm':
			if (vmxctl_opt_mem(optarg, &m->cfg.mem_size))
				return VMXCTL_EXIT_USAGE;
			break;
		case 'l':
			if (vmxctl_opt_addr("--load", optarg, &o.load, &o.have_load))
				return VMXCTL_EXIT_USAGE;
			break;
		case 'e':
			if (vmxctl_opt_addr("--entry", optarg, &o.entry, &o.have_entry))
				return VMXCTL_EXIT_USAGE;
			break;
		case 'R':
			return refuse(opts[idx].name);
		case 'h':
			fuzz_usage(stdout);
			return 0;
		default:
			fuzz_usage(stderr);
			return VMXCTL_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		vmxctl_err("fuzz: give exactly one GUEST (vmxctl fuzz --help)");
		return VMXCTL_EXIT_USAGE;
	}
	if (!o.corpus) {
		vmxctl_err("fuzz: give --corpus DIR (vmxctl fuzz --help)");
		return VMXCTL_EXIT_USAGE;
	}
	if (o.input_gpa + 8 + o.max_input >
	    m->cfg.mem_size - RAM_TOP_RESERVED) {
		vmxctl_err("--input-gpa 0x%llx: %llu bytes of input (8 + --max-input) do not fit below 0x%llx (RAM less its top 128 KiB: boot area, stack)",
			   (unsigned long long)o.input_gpa,
			   (unsigned long long)(8 + o.max_input),
			   (unsigned long long)(m->cfg.mem_size -
						RAM_TOP_RESERVED));
		return VMXCTL_EXIT_USAGE;
	}
	m->cfg.guest = argv[optind];
	/* Name a missing file before the module is asked anything. */
	if (access(m->cfg.guest, R_OK)) {
		vmxctl_err("%s: %s", m->cfg.guest, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	ret = load_corpus(o.corpus, o.max_input, &corpus, &nr);
	if (ret)
		return ret;
	if (o.crashes) {
		struct stat st;

		if (mkdir(o.crashes, 0755) && errno != EEXIST)
			ret = errno;
		else if (stat(o.crashes, &st))
			ret = errno;
		else if (!S_ISDIR(st.st_mode))
			ret = ENOTDIR;
		if (ret) {
			vmxctl_err("--crashes %s: %s", o.crashes, strerror(ret));
			free_corpus(corpus, nr);
			return VMXCTL_EXIT_NOINPUT;
		}
	}

	/* No SA_RESTART: the signals must interrupt VMXL_RUN. */
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = vmxctl_machine_create(m);
	if (!ret)
		ret = vmxctl_load_guest(m, m->cfg.guest, o.load, o.have_load,
					o.entry, o.have_entry);
	if (!ret) {
		kick_run = m->vcpus[0].run;
		ret = get_ready(m, &o);
	}
	if (!ret)
		ret = fuzz_loop(m, &o, corpus, nr);
	kick_run = NULL;
	vmxctl_machine_destroy(m);
	free_corpus(corpus, nr);
	return ret;
}
