// SPDX-License-Identifier: GPL-2.0
/*
 * How long `vmxctl snapshot` keeps a running guest paused, per zlib level
 * (1, 6, 9): a full snapshot and an incremental at 5% dirty, the pause as
 * vmxctl reports it ("pause X ms": from every vCPU stopped to resumed:
 * dirty log GET, vCPU and device state, the copy of the pages to write,
 * CLEAR, resume) against the write ("write X ms", snap_write from the
 * copy, fsync and rename included, with the guest running), which the
 * pause used to include (issue 20's targets: the pause at most 0.1 of
 * the write; an incremental's pause at most 1/15 of a full one's, the
 * last metric). The write's own speed per level is timed on real cores
 * by the host benchmark (selftests/unit/bench_snapshot.c).
 *
 * The guest is the demo (/usr/share/vmxctl/demo.elf) under vmxctl run,
 * whose loop writes one page of its 4 MiB array per iteration: between
 * two snapshots it dirties those 1024 pages (and a few of its stack and
 * data), 5% of 80 MiB of RAM. So that compressing costs what it would
 * with real contents, the benchmark gives it a copy of demo.elf with two
 * more PT_LOAD segments: the array (the guest only ever writes the first
 * 8 bytes of each of its pages) and BULK MiB above the image, filled as
 * the host benchmark fills memory: 30% zero pages, 50% text-like, 20%
 * random.
 *
 *   bench_snapshot_pause [-r runs] [-b bulk MiB]
 *
 * Defaults: 3 runs, 12 MiB of bulk; on a VMX CPU (the Bochs lane, several
 * times slower than QEMU's TCG) 2 runs and 4 MiB, which the output says.
 * After the runs of level 1, one more incremental of the paused guest ends
 * the chain: what it restores (vmxctl verify --dump-mem) must equal the
 * guest's memory (dump-mem) byte for byte, or the benchmark fails. (Once:
 * under Bochs it costs some 25 s; the bats tests restore every level.)
 * Exit 0; 1 when a step failed; 2 usage.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "testlib.h"

#define DEMO		"/usr/share/vmxctl/demo.elf"
#define MEM_MB		80	/* the demo's 1024-page array is 5% of it */
#define MEM_ARG		"80M"
#define BULK_BASE	(16ULL << 20)
#define PG		4096u
#define MAX_RUNS	16
#define WAIT_S		120

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define FAIL(...) do {							\
	fprintf(stderr, "bench_snapshot_pause: " __VA_ARGS__);		\
	cleanup();							\
	exit(1);							\
} while (0)

static char dir[64] = "/tmp/bench-snap.XXXXXX";
static pid_t vmm;
static bool loaded_module;
static char ctl[128], serial[128], err_log[128];

/* vmxctl run's messages, when it was still running at a failure. */
static void print_err_log(void)
{
	char line[256];
	FILE *f;

	if (!vmm || !*err_log)
		return;
	f = fopen(err_log, "r");
	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "# vmxctl run: %s", line);
	if (f)
		fclose(f);
}

static void cleanup(void)
{
	print_err_log();

	if (vmm > 0) {
		kill(vmm, SIGKILL);
		waitpid(vmm, NULL, 0);
		vmm = 0;
	}
	if (strcmp(dir + strlen(dir) - 6, "XXXXXX")) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "bench_snapshot_pause: could not remove %s\n", dir);
	}
	if (loaded_module)
		test_module_unload("vmx_lite");
}

/* ---- guest memory contents, the host benchmark's mix ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void fill(uint8_t *p)
{
	bench_fill_page(p, &rng);
}

/* ---- the guest image: demo.elf and two filled segments ---- */

/* The symbol @name of the ELF @img (@len bytes): its address and size. */
static int elf_symbol(const uint8_t *img, size_t len, const char *name,
		      uint64_t *addr, uint64_t *size)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff);

	if (eh->e_shoff > len || eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shnum > (len - eh->e_shoff) / sizeof(*sh))
		return -1;
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *st = &sh[i], *str;
		const Elf64_Sym *sym;

		if (st->sh_type != SHT_SYMTAB || st->sh_link >= eh->e_shnum)
			continue;
		str = &sh[st->sh_link];
		if (st->sh_offset > len || st->sh_size > len - st->sh_offset ||
		    str->sh_offset > len || str->sh_size > len - str->sh_offset)
			return -1;
		sym = (const void *)(img + st->sh_offset);
		for (size_t k = 0; k < st->sh_size / sizeof(*sym); k++) {
			const char *n = (const char *)img + str->sh_offset + sym[k].st_name;

			if (sym[k].st_name < str->sh_size &&
			    !strncmp(n, name, str->sh_size - sym[k].st_name)) {
				*addr = sym[k].st_value;
				*size = sym[k].st_size;
				return 0;
			}
		}
	}
	return -1;
}

/*
 * @out: demo.elf with its program headers moved to the end of the file
 * and two PT_LOAD segments more, after the others (vmxctl loads them in
 * order, so the array's bytes replace its zeros).
 */
static void make_guest(const char *out, uint64_t bulk)
{
	uint64_t arr, arr_size, end = 0, off;
	Elf64_Phdr *ph, *nph;
	Elf64_Ehdr *eh;
	uint8_t *img, *data;
	struct stat sb;
	FILE *f;
	int fd;

	fd = open(DEMO, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb))
		FAIL("%s: %s\n", DEMO, strerror(errno));
	img = malloc(sb.st_size);
	if (!img || read(fd, img, sb.st_size) != sb.st_size)
		FAIL("%s: cannot read it\n", DEMO);
	close(fd);
	eh = (Elf64_Ehdr *)img;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(*ph) || eh->e_phoff > (uint64_t)sb.st_size ||
	    eh->e_phnum > (sb.st_size - eh->e_phoff) / sizeof(*ph))
		FAIL("%s: not the 64-bit ELF expected\n", DEMO);
	if (elf_symbol(img, sb.st_size, "dirty_array", &arr, &arr_size) ||
	    arr % PG || arr_size != 1024 * PG)
		FAIL("%s: no page-aligned 4 MiB dirty_array symbol\n", DEMO);
	ph = (Elf64_Phdr *)(img + eh->e_phoff);
	for (unsigned int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_paddr + ph[i].p_memsz > end)
			end = ph[i].p_paddr + ph[i].p_memsz;
	if (end > BULK_BASE)
		FAIL("%s: the image ends at 0x%llx, above the bulk data\n", DEMO,
		     (unsigned long long)end);

	data = malloc(arr_size + bulk);
	nph = calloc(eh->e_phnum + 2, sizeof(*nph));
	if (!data || !nph)
		FAIL("out of memory\n");
	for (uint64_t p = 0; p < arr_size + bulk; p += PG)
		fill(data + p);
	memcpy(nph, ph, eh->e_phnum * sizeof(*ph));
	off = (sb.st_size + PG - 1) / PG * PG;
	nph[eh->e_phnum] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = off,
		.p_vaddr = arr, .p_paddr = arr, .p_filesz = arr_size,
		.p_memsz = arr_size, .p_align = PG,
	};
	nph[eh->e_phnum + 1] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W,
		.p_offset = off + arr_size, .p_vaddr = BULK_BASE,
		.p_paddr = BULK_BASE, .p_filesz = bulk, .p_memsz = bulk,
		.p_align = PG,
	};
	eh->e_phoff = off + arr_size + bulk;
	eh->e_phnum += 2;

	f = fopen(out, "w");
	if (!f || fwrite(img, sb.st_size, 1, f) != 1 ||
	    fseek(f, off, SEEK_SET) || fwrite(data, arr_size + bulk, 1, f) != 1 ||
	    fwrite(nph, sizeof(*nph), eh->e_phnum, f) != eh->e_phnum || fclose(f))
		FAIL("%s: %s\n", out, strerror(errno));
	free(img);
	free(data);
	free(nph);
}

/* ---- vmxctl ---- */

static bool vmm_alive(void)
{
	return vmm > 0 && waitpid(vmm, NULL, WNOHANG) == 0;
}

/* The number of "count " lines the guest has printed. */
static unsigned int guest_counts(void)
{
	char line[128];
	unsigned int n = 0;
	FILE *f = fopen(serial, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "count ", 6) && strchr(line, '\n');
	fclose(f);
	return n;
}

/* Until the guest has printed more than @seen counts. */
static void wait_counts(unsigned int seen)
{
	const struct timespec poll = { .tv_nsec = 20000000 };
	uint64_t t0 = bench_now_ns();

	while (guest_counts() <= seen) {
		if (!vmm_alive())
			FAIL("vmxctl run ended\n");
		if (bench_now_ns() - t0 > WAIT_S * 1000000000ULL)
			FAIL("the guest printed no count in %d s\n", WAIT_S);
		nanosleep(&poll, NULL);
	}
}

static void start_vmm(const char *guest)
{
	vmm = fork();
	if (vmm < 0)
		FAIL("fork: %s\n", strerror(errno));
	if (!vmm) {
		int fd = open(err_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execlp("vmxctl", "vmxctl", "run", "--mem", MEM_ARG, "--serial", serial,
		       "--control", ctl, guest, (char *)NULL);
		_exit(127);
	}
	wait_counts(0);
}

/* `vmxctl ARGS` (a shell command line), its output in @out. */
static void run_vmxctl(const char *args, char *out, size_t cap)
{
	char cmd[1100];
	size_t len = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "vmxctl %s 2>&1", args);
	p = popen(cmd, "r");
	if (!p)
		FAIL("%s: %s\n", cmd, strerror(errno));
	while (len + 1 < cap && fgets(out + len, cap - len, p))
		len += strlen(out + len);
	out[len] = 0;
	if (pclose(p))
		FAIL("%s failed:\n%s", cmd, out);
}

/* sscanf(@fmt, ...) of what follows @key in @out, @n fields expected. */
static bool after(const char *out, const char *key, const char *fmt,
		  int n, ...)
{
	const char *at = strstr(out, key);
	va_list ap;
	int got;

	if (!at)
		return false;
	va_start(ap, n);
	got = vsscanf(at + strlen(key), fmt, ap);
	va_end(ap);
	return got == n;
}

struct snap_out {
	double pause, write, total;
	unsigned long long bytes, pages, total_pages;
};

/* One snapshot; what vmxctl reports. */
static struct snap_out take_snapshot(const char *file, const char *parent, int level)
{
	char args[1024], out[4096];
	struct snap_out s = { 0 };

	if (parent)
		snprintf(args, sizeof(args), "snapshot %s %s/%s --parent %s/%s --level %d",
			 ctl, dir, file, dir, parent, level);
	else
		snprintf(args, sizeof(args), "snapshot %s %s/%s --level %d", ctl,
			 dir, file, level);
	run_vmxctl(args, out, sizeof(out));
	if (!after(out, parent ? "incremental, " : "full, ", "%llu of %llu", 2,
		   &s.pages, &s.total_pages) ||
	    !after(out, "\nbytes ", "%llu", 1, &s.bytes) ||
	    !after(out, "\npause ", "%lf", 1, &s.pause) ||
	    !after(out, "\nwrite ", "%lf", 1, &s.write) ||
	    !after(out, "\ntotal ", "%lf", 1, &s.total))
		FAIL("cannot read the report of vmxctl snapshot:\n%s", out);
	return s;
}

/*
 * With the guest paused, one more incremental on top of @parent (at
 * @level), then the guest's memory and what the chain restores, compared:
 * a benchmark of snapshots that restore wrong data measures nothing.
 */
static void check_chain(const char *parent, int level)
{
	char args[1024], out[4096], a[128], b[128];
	int fa, fb;
	struct stat sa, sb;
	void *ma, *mb;

	snprintf(a, sizeof(a), "%s/mem-guest", dir);
	snprintf(b, sizeof(b), "%s/mem-chain", dir);
	snprintf(args, sizeof(args), "control %s pause", ctl);
	run_vmxctl(args, out, sizeof(out));
	take_snapshot("check.snap", parent, level);
	snprintf(args, sizeof(args), "control %s dump-mem %s", ctl, a);
	run_vmxctl(args, out, sizeof(out));
	snprintf(args, sizeof(args), "control %s resume", ctl);
	run_vmxctl(args, out, sizeof(out));
	snprintf(args, sizeof(args), "verify --dump-mem %s %s/check.snap", b, dir);
	run_vmxctl(args, out, sizeof(out));
	fa = open(a, O_RDONLY);
	fb = open(b, O_RDONLY);
	if (fa < 0 || fb < 0 || fstat(fa, &sa) || fstat(fb, &sb))
		FAIL("memory dumps: %s\n", strerror(errno));
	if (sa.st_size != sb.st_size || sa.st_size < (off_t)MEM_MB << 20)
		FAIL("memory dumps of %lld and %lld bytes\n", (long long)sa.st_size,
		     (long long)sb.st_size);
	ma = mmap(NULL, sa.st_size, PROT_READ, MAP_PRIVATE, fa, 0);
	mb = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fb, 0);
	if (ma == MAP_FAILED || mb == MAP_FAILED)
		FAIL("mmap of the dumps: %s\n", strerror(errno));
	for (off_t o = 0; o < sa.st_size; o += PG)
		if (memcmp((char *)ma + o, (char *)mb + o, PG))
			FAIL("the chain of %s at level %d restores guest-physical page 0x%llx differently\n",
			     parent, level, (unsigned long long)o);
	munmap(ma, sa.st_size);
	munmap(mb, sb.st_size);
	close(fa);
	close(fb);
	unlink(a);
	unlink(b);
}

int main(int argc, char **argv)
{
	static const int levels[] = { 1, 6, 9 };
	bool bochs = test_cpuinfo_has("vmx");
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int runs = bochs ? 2 : 3, bulk_mb = bochs ? 4 : 12;
	char guest[128], full[32], inc[32], name[256], ref[32], out[4096];
	int opt;

	while ((opt = getopt_long(argc, argv, "r:b:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			runs = strtoul(optarg, NULL, 0);
			break;
		case 'b':
			bulk_mb = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: %s [-r runs (max %d)] [-b bulk MiB (max %d)]\n"
				"The pause of vmxctl snapshot per zlib level (1, 6, 9), full and\n"
				"incremental at 5%% dirty, against its write alone; prints BENCH\n"
				"lines (selftests/lib/bench.h). Defaults: 3 runs, 12 MiB; on a VMX\n"
				"CPU (the Bochs lane) 2 runs, 4 MiB. Exit status: 0; 1 a step\n"
				"failed; 2 usage.\n",
				argv[0], MAX_RUNS, MEM_MB - 24);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!runs || runs > MAX_RUNS || bulk_mb > MEM_MB - 24) {
		fprintf(stderr, "bench_snapshot_pause: -r is 1..%d, -b 0..%d\n",
			MAX_RUNS, MEM_MB - 24);
		return 2;
	}
	if (!mkdtemp(dir))
		FAIL("mkdtemp %s: %s\n", dir, strerror(errno));
	loaded_module = !test_module_loaded("vmx_lite");
	if (test_module_load("vmx_lite", NULL))
		FAIL("cannot load vmx_lite\n");
	snprintf(guest, sizeof(guest), "%s/guest.elf", dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	snprintf(serial, sizeof(serial), "%s/serial.log", dir);
	snprintf(err_log, sizeof(err_log), "%s/vmxctl.err", dir);
	make_guest(guest, (uint64_t)bulk_mb << 20);
	start_vmm(guest);
	printf("# bench_snapshot_pause: %s, %d MiB of RAM: the demo's 4 MiB array and %u MiB more of data; %u runs per level%s\n",
	       bochs ? "VMX" : "SVM", MEM_MB, bulk_mb, runs,
	       bochs ? " (fewer, less data: Bochs is slow)" : "");
	/* The run's first snapshot turns the dirty log on: not timed. */
	take_snapshot("warm.snap", NULL, 1);

	double full_pause1[MAX_RUNS], inc_pause1[MAX_RUNS];

	for (unsigned int l = 0; l < ARRAY_SIZE(levels); l++) {
		double fp[MAX_RUNS], fw[MAX_RUNS], ft[MAX_RUNS];
		double ip[MAX_RUNS], iw[MAX_RUNS], it[MAX_RUNS];
		struct snap_out f = { 0 }, i = { 0 };
		struct bench_stat a, b, t;

		snprintf(full, sizeof(full), "full%d.snap", levels[l]);
		snprintf(inc, sizeof(inc), "inc%d.snap", levels[l]);
		for (unsigned int r = 0; r < runs; r++) {
			f = take_snapshot(full, NULL, levels[l]);
			/*
			 * Two counts later the guest has run 200000 iterations
			 * since: every array page written again.
			 */
			wait_counts(guest_counts() + 1);
			i = take_snapshot(inc, full, levels[l]);
			fp[r] = f.pause;
			fw[r] = f.write;
			ft[r] = f.total;
			ip[r] = i.pause;
			iw[r] = i.write;
			it[r] = i.total;
			if (!l) {
				full_pause1[r] = f.pause;
				inc_pause1[r] = i.pause;
			}
		}
		/* Once (the cheapest level): the reader is the same at any. */
		if (!l)
			check_chain(inc, levels[l]);

		snprintf(ref, sizeof(ref), "write alone");
		a = bench_stat(fw, runs);
		b = bench_stat(fp, runs);
		t = bench_stat(ft, runs);
		printf("# zlib %d full: pause %.1f ms (write %.1f ms; %.1f ms from the request, stopping the vCPUs included), %llu bytes, %.1f MB/s of guest memory\n",
		       levels[l], b.median, a.median, t.median, f.bytes,
		       f.total_pages * (double)PG / 1e3 / a.median);
		snprintf(name, sizeof(name), "snapshot_pause_full_zlib%d", levels[l]);
		bench_report(name, "ms", ref, &a, &b);
		a = bench_stat(iw, runs);
		b = bench_stat(ip, runs);
		t = bench_stat(it, runs);
		printf("# zlib %d incremental, %llu of %llu pages (%.1f%%): pause %.1f ms (write %.1f ms; %.1f ms from the request), %llu bytes, %.1f MB/s of its pages\n",
		       levels[l], i.pages, i.total_pages, 100.0 * i.pages / i.total_pages,
		       b.median, a.median, t.median, i.bytes,
		       i.pages * (double)PG / 1e3 / a.median);
		snprintf(name, sizeof(name), "snapshot_pause_inc5pct_zlib%d", levels[l]);
		bench_report(name, "ms", ref, &a, &b);
		snprintf(name, sizeof(name), "%s/%s", dir, full);
		unlink(name);
		snprintf(name, sizeof(name), "%s/%s", dir, inc);
		unlink(name);
		snprintf(name, sizeof(name), "%s/check.snap", dir);
		unlink(name);
	}
	/* What only the dirty set costs: an incremental's pause against a full one's. */
	{
		struct bench_stat a = bench_stat(full_pause1, runs);
		struct bench_stat b = bench_stat(inc_pause1, runs);

		printf("# zlib 1: incremental pause %.2f ms, full pause %.2f ms\n",
		       b.median, a.median);
		bench_report("snapshot_pause_inc5pct_vs_full", "ms", "full pause", &a, &b);
	}
	snprintf(name, sizeof(name), "control %s stop 0", ctl);
	run_vmxctl(name, out, sizeof(out));
	if (waitpid(vmm, &opt, 0) == vmm)
		vmm = 0;
	cleanup();
	return 0;
}
