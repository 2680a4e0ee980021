// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded ioctl fuzzer of /dev/vmx-lite, in the spirit of syzkaller:
 * random sequences of every ioctl of the uapi header on every kind of fd
 * (system, VM, vCPU, a pipe, closed numbers), with random and boundary
 * arguments and bad pointers; mmap and munmap of run pages and dirty
 * rings; netlink requests, well-formed and not; fork, close in any order,
 * use after close; and vCPU threads running guests while another thread
 * moves slots, toggles dirty logging, resets rings and issues DMA.
 *
 * Not an oracle of exact errnos (test_bad_ioctl, test_vm_api do that):
 * every call must succeed or fail with an errno docs/uapi.md documents for
 * it; the kernel must not splat (the lane judges dmesg); and at the end
 * the module's object and pinned-page counters are back to zero and it
 * unloads.
 *
 * FUZZ_IOCTL_SEED (default 1) and FUZZ_IOCTL_CALLS (default 20000, shared
 * by the tests) in the environment; the lane passes them from its kernel
 * command line (vmxl.fuzz_seed=, vmxl.fuzz_calls=). Every test prints its
 * seed; the single-thread sequence repeats exactly from it. Progress
 * markers go to the kernel log, so a splat is placed between two calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kselftest_harness.h"
#include "gvm.h"
#include "testlib.h"
#include "vmxl_util.h"
#include "vnl.h"

#define PAGE		4096UL
/*
 * An errno's bit; EOPNOTSUPP (95), the one documented errno above 63,
 * takes bit 63 (ENOSR, which nothing here returns).
 */
#define E(x)		(1ULL << ((x) == EOPNOTSUPP ? 63 : (x)))

/* ------------------------------------------------------------------ */
/* Configuration, PRNG                                                */
/* ------------------------------------------------------------------ */

static uint64_t fz_seed = 1;
static unsigned long fz_calls = 20000;

static void fz_config(void)
{
	const char *s = getenv("FUZZ_IOCTL_SEED");
	const char *c = getenv("FUZZ_IOCTL_CALLS");

	if (s && *s)
		fz_seed = strtoull(s, NULL, 0);
	if (c && *c)
		fz_calls = strtoul(c, NULL, 0);
}

/* splitmix64: small, and every seed gives a good sequence */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool one_in(struct rng *r, unsigned int n)
{
	return below(r, n) == 0;
}

#define PICK(r, arr)	((arr)[below((r), sizeof(arr) / sizeof((arr)[0]))])

static const uint64_t boundary[] = {
	0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 65, 255, 256, 0xfff, 0x1000,
	0x1001, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
	0x100000000ULL, 1ULL << 47, (1ULL << 47) - PAGE, 1ULL << 52,
	1ULL << 63, ~0ULL, ~0ULL - 0xfff, ~0ULL << 12, 0xfffffffffffff000ULL,
	0x8000000000000000ULL, 0x00007ffffffff000ULL,
};

/* half boundary values, a quarter small ones, a quarter anything */
static uint64_t rval(struct rng *r)
{
	switch (below(r, 4)) {
	case 0:
	case 1:
		return PICK(r, boundary);
	case 2:
		return below(r, 0x10000);
	default:
		return rnd(r);
	}
}

/* ------------------------------------------------------------------ */
/* The fuzzer's state                                                 */
/* ------------------------------------------------------------------ */

enum fd_kind { FD_FREE, FD_SYS, FD_VM, FD_VCPU, FD_PIPE, FD_STALE };
static const char *const kind_names[] = {
	"free", "system", "VM", "vCPU", "pipe", "closed",
};

#define MAX_FDS		24
#define MAX_VMS		4	/* live VM fds in the table */
#define MAX_VCPUS	8	/* live vCPU fds in the table */
#define MAX_MAPS	16
#define ARENA_SIZE	(2UL << 20)
#define SCRATCH_SIZE	(64UL << 10)
#define STALE_FD	900	/* dup'ed here, closed, then used */

/* What the fuzzer knows of a VM; shared by its fd and its vCPUs' fds. */
struct vmstate {
	int refs;
	uint32_t ring;		/* entries per vCPU, 0: no rings */
	uint32_t id;
};

struct fobj {
	enum fd_kind kind;
	int fd;
	struct vmstate *vm;	/* VM, vCPU */
	uint32_t vcpu_id;
};

struct fmap {
	void *addr;
	size_t len;
	bool ring;		/* a dirty ring (else a run page) */
	uint32_t entries;
};

static void on_kick(int sig)
{
	(void)sig;
}

/* A per-thread timer that interrupts a RUN which would not return. */
struct kick {
	timer_t timer;
	bool ok;
};

static void kick_init(struct kick *k)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIGUSR1,
	};
	struct sigaction sa = { .sa_handler = on_kick };

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	sev._sigev_un._tid = gettid();
	k->ok = !timer_create(CLOCK_MONOTONIC, &sev, &k->timer);
}

static void kick_arm(struct kick *k, long ms)
{
	struct itimerspec it = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 },
	};

	if (k->ok)
		timer_settime(k->timer, 0, &it, NULL);
}

static void kick_disarm(struct kick *k)
{
	kick_arm(k, 0);
}

static void kick_fini(struct kick *k)
{
	if (k->ok)
		timer_delete(k->timer);
	k->ok = false;
}

struct cmd {
	const char *name;
	unsigned long nr;
	enum fd_kind kind;
	uint64_t errs;		/* documented errnos on the right fd */
};

#define PTR_ERRS	(E(EFAULT) | E(EINVAL))
static const struct cmd cmds[] = {
	{ "GET_API_VERSION", VMXL_GET_API_VERSION, FD_SYS, E(EINVAL) },
	{ "GET_CAPS", VMXL_GET_CAPS, FD_SYS, PTR_ERRS },
	{ "CREATE_VM", VMXL_CREATE_VM, FD_SYS,
	  E(EINVAL) | E(ENODEV) | E(EBUSY) | E(ENOSPC) | E(ENOMEM) |
	  E(EOPNOTSUPP) },
	{ "GET_DEFAULT_CPUID", VMXL_GET_DEFAULT_CPUID, FD_SYS,
	  PTR_ERRS | E(E2BIG) | E(ENOMEM) },
	{ "CREATE_VCPU", VMXL_CREATE_VCPU, FD_VM,
	  E(EINVAL) | E(EEXIST) | E(ENOMEM) },
	{ "SET_MEMORY_REGION", VMXL_SET_MEMORY_REGION, FD_VM,
	  PTR_ERRS | E(EEXIST) | E(ENOENT) | E(ENOMEM) },
	{ "GET_DIRTY_LOG", VMXL_GET_DIRTY_LOG, FD_VM, PTR_ERRS | E(ENOENT) },
	{ "CLEAR_DIRTY_LOG", VMXL_CLEAR_DIRTY_LOG, FD_VM, PTR_ERRS | E(ENOENT) },
	{ "ENABLE_DIRTY_RING", VMXL_ENABLE_DIRTY_RING, FD_VM,
	  E(EINVAL) | E(EBUSY) | E(ENOMEM) },
	{ "RESET_DIRTY_RINGS", VMXL_RESET_DIRTY_RINGS, FD_VM, E(EINVAL) },
	{ "GET_VM_ID", VMXL_GET_VM_ID, FD_VM, E(EINVAL) },
	{ "CREATE_SMMU", VMXL_CREATE_SMMU, FD_VM,
	  PTR_ERRS | E(EEXIST) | E(ENOMEM) },
	{ "SMMU_DMA", VMXL_SMMU_DMA, FD_VM, PTR_ERRS | E(EINTR) },
	{ "SMMU_TRANSLATE", VMXL_SMMU_TRANSLATE, FD_VM, PTR_ERRS | E(EINTR) },
	{ "SIGNAL_MSI", VMXL_SIGNAL_MSI, FD_VM, PTR_ERRS | E(ENXIO) },
	{ "GET_SMMU_STATE", VMXL_GET_SMMU_STATE, FD_VM, E(EFAULT) | E(ENXIO) },
	{ "SET_SMMU_STATE", VMXL_SET_SMMU_STATE, FD_VM, PTR_ERRS | E(ENXIO) },
	{ "GET_CLOCK", VMXL_GET_CLOCK, FD_VM, E(EFAULT) },
	{ "SET_CLOCK", VMXL_SET_CLOCK, FD_VM, PTR_ERRS },
	{ "SET_RESET_POINT", VMXL_SET_RESET_POINT, FD_VM,
	  PTR_ERRS | E(EBUSY) | E(ENOMEM) },
	{ "RESET_TO_POINT", VMXL_RESET_TO_POINT, FD_VM,
	  PTR_ERRS | E(EBUSY) | E(ENOENT) },
	{ "RUN", VMXL_RUN, FD_VCPU, E(EINTR) | E(EINVAL) | E(EFAULT) },
	{ "GET_REGS", VMXL_GET_REGS, FD_VCPU, E(EFAULT) },
	{ "SET_REGS", VMXL_SET_REGS, FD_VCPU, PTR_ERRS },
	{ "GET_SREGS", VMXL_GET_SREGS, FD_VCPU, E(EFAULT) },
	{ "SET_SREGS", VMXL_SET_SREGS, FD_VCPU, PTR_ERRS },
	{ "GET_MSRS", VMXL_GET_MSRS, FD_VCPU, PTR_ERRS | E(E2BIG) },
	{ "SET_MSRS", VMXL_SET_MSRS, FD_VCPU, PTR_ERRS | E(E2BIG) },
	{ "GET_FPU", VMXL_GET_FPU, FD_VCPU, E(EFAULT) },
	{ "SET_FPU", VMXL_SET_FPU, FD_VCPU, PTR_ERRS },
	{ "SET_CPUID", VMXL_SET_CPUID, FD_VCPU, PTR_ERRS | E(E2BIG) | E(ENOMEM) },
	{ "GET_CPUID", VMXL_GET_CPUID, FD_VCPU, PTR_ERRS | E(E2BIG) },
	{ "INTERRUPT", VMXL_INTERRUPT, FD_VCPU, PTR_ERRS | E(EAGAIN) | E(ENXIO) },
	{ "NMI", VMXL_NMI, FD_VCPU, E(EINVAL) | E(EAGAIN) },
	{ "SWITCH_FLOOR", VMXL_SWITCH_FLOOR, FD_VCPU,
	  PTR_ERRS | E(EINTR) },
	{ "GET_LAPIC", VMXL_GET_LAPIC, FD_VCPU, E(EFAULT) | E(ENXIO) | E(ENOMEM) },
	{ "SET_LAPIC", VMXL_SET_LAPIC, FD_VCPU, PTR_ERRS | E(ENXIO) | E(ENOMEM) },
	{ "GET_MP_STATE", VMXL_GET_MP_STATE, FD_VCPU, E(EFAULT) | E(ENXIO) },
	{ "SET_MP_STATE", VMXL_SET_MP_STATE, FD_VCPU, PTR_ERRS | E(ENXIO) },
	{ "LAPIC_LINT", VMXL_LAPIC_LINT, FD_VCPU,
	  PTR_ERRS | E(ENXIO) | E(EAGAIN) },
	{ "GET_VCPU_EVENTS", VMXL_GET_VCPU_EVENTS, FD_VCPU, E(EFAULT) },
	{ "SET_VCPU_EVENTS", VMXL_SET_VCPU_EVENTS, FD_VCPU, PTR_ERRS },
	{ "GET_DEBUGREGS", VMXL_GET_DEBUGREGS, FD_VCPU, E(EFAULT) },
	{ "SET_DEBUGREGS", VMXL_SET_DEBUGREGS, FD_VCPU, PTR_ERRS },
};
#define NR_CMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd unknown_cmd = { "unknown", 0, FD_FREE, 0 };

static const struct cmd *find_cmd(unsigned long nr)
{
	unsigned int i;

	for (i = 0; i < NR_CMDS; i++)
		if (cmds[i].nr == nr)
			return &cmds[i];
	return &unknown_cmd;
}

#define NR_CMDS_MAX	48	/* >= NR_CMDS, for the counters */
_Static_assert(NR_CMDS <= NR_CMDS_MAX, "NR_CMDS_MAX");

struct fuzz {
	struct rng r;
	uint64_t seed;
	const char *name;
	unsigned long call, calls;
	unsigned long failures;
	bool child;		/* a forked child: VM and vCPU fds give EIO */
	struct vmxl_caps caps;
	struct fobj fds[MAX_FDS];
	struct vmstate vms[MAX_FDS];
	struct fmap maps[MAX_MAPS];
	uint8_t *arena;		/* guest memory for slots */
	uint8_t *scratch;	/* arguments; a PROT_NONE page follows */
	uint8_t *ro;		/* a read-only page */
	uint8_t *hole;		/* a PROT_NONE page */
	struct vnl nl;
	bool nl_ok;
	int raw_nl;		/* a raw generic-netlink socket */
	struct kick kick;
	unsigned long ok[NR_CMDS_MAX], tried[NR_CMDS_MAX];
	char last[160];		/* the call being made, for messages */
};

/* A marker in the kernel log: a splat after it came from the calls after. */
static void kmsg(const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, buf, n) < 0)
		n = 0;
	close(fd);
}

static void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool fz_init(struct fuzz *fz, const char *name, uint64_t seed,
		    unsigned long calls)
{
	int fd, i, pfd[2];

	memset(fz, 0, sizeof(*fz));
	fz->name = name;
	fz->seed = seed;
	fz->r.s = seed;
	fz->calls = calls;
	fz->raw_nl = -1;
	for (i = 0; i < MAX_FDS; i++)
		fz->fds[i].fd = -1;
	/* a PROT_NONE page after the arena: slots never pin past it */
	fz->arena = map_anon(ARENA_SIZE + PAGE, PROT_READ | PROT_WRITE);
	fz->scratch = map_anon(SCRATCH_SIZE + PAGE, PROT_READ | PROT_WRITE);
	fz->ro = map_anon(PAGE, PROT_READ | PROT_WRITE);
	fz->hole = map_anon(PAGE, PROT_NONE);
	if (!fz->arena || !fz->scratch || !fz->ro || !fz->hole)
		return false;
	mprotect(fz->scratch + SCRATCH_SIZE, PAGE, PROT_NONE);
	mprotect(fz->arena + ARENA_SIZE, PAGE, PROT_NONE);
	/* reads of it give something that is not all zeros */
	for (i = 0; i < (int)(PAGE / 8); i++)
		((uint64_t *)fz->ro)[i] = i & 1 ? rnd(&fz->r) : 0;
	mprotect(fz->ro, PAGE, PROT_READ);

	fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, VMXL_GET_CAPS, &fz->caps))
		return false;
	fz->fds[0] = (struct fobj){ .kind = FD_SYS, .fd = fd };
	if (pipe2(pfd, O_CLOEXEC))
		return false;
	close(pfd[1]);
	fz->fds[1] = (struct fobj){ .kind = FD_PIPE, .fd = pfd[0] };
	fz->nl_ok = !vnl_open(&fz->nl);
	fz->raw_nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	kick_init(&fz->kick);
	return true;
}

static void fz_close_fd(struct fuzz *fz, int i)
{
	struct fobj *o = &fz->fds[i];

	if (o->fd >= 0)
		close(o->fd);
	if (o->vm && --o->vm->refs == 0)
		memset(o->vm, 0, sizeof(*o->vm));
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

static void fz_fini(struct fuzz *fz)
{
	int i;

	/*
	 * How far the calls got: succeeded/made on the right kind of fd.
	 * Streamed, not built in a buffer: 48 commands with large counts
	 * overran a fixed line once.
	 */
	fprintf(stderr, "# %s: %lu calls, %lu failures;", fz->name, fz->call,
		fz->failures);
	for (i = 0; i < (int)NR_CMDS; i++)
		fprintf(stderr, " %s %lu/%lu", cmds[i].name, fz->ok[i],
			fz->tried[i]);
	fputc('\n', stderr);

	for (i = 0; i < MAX_MAPS; i++)
		if (fz->maps[i].addr)
			munmap(fz->maps[i].addr, fz->maps[i].len);
	for (i = 0; i < MAX_FDS; i++)
		fz_close_fd(fz, i);
	if (fz->nl_ok)
		vnl_close(&fz->nl);
	if (fz->raw_nl >= 0)
		close(fz->raw_nl);
	kick_fini(&fz->kick);
	munmap(fz->arena, ARENA_SIZE + PAGE);
	munmap(fz->scratch, SCRATCH_SIZE + PAGE);
	munmap(fz->ro, PAGE);
	munmap(fz->hole, PAGE);
}

static int count_kind(struct fuzz *fz, enum fd_kind k)
{
	int i, n = 0;

	for (i = 0; i < MAX_FDS; i++)
		n += fz->fds[i].kind == k;
	return n;
}

/* A random used entry of kind @k (FD_FREE: any used one); -1 if none. */
static int pick_fd(struct fuzz *fz, enum fd_kind k)
{
	int i, start = below(&fz->r, MAX_FDS);

	for (i = 0; i < MAX_FDS; i++) {
		struct fobj *o = &fz->fds[(start + i) % MAX_FDS];

		if (o->kind != FD_FREE && (k == FD_FREE || o->kind == k))
			return (start + i) % MAX_FDS;
	}
	return -1;
}

static struct vmstate *new_vmstate(struct fuzz *fz)
{
	int i;

	for (i = 0; i < MAX_FDS; i++)
		if (!fz->vms[i].refs)
			return &fz->vms[i];
	return NULL;	/* cannot happen: fewer VMs than fds */
}

/* Keep a new fd of @kind, or close it when the table has enough. */
static void fz_adopt(struct fuzz *fz, int fd, enum fd_kind kind,
		     struct vmstate *vm, uint32_t vcpu_id)
{
	int i, max = kind == FD_VM ? MAX_VMS : kind == FD_VCPU ? MAX_VCPUS : 3;

	if (count_kind(fz, kind) >= max) {
		close(fd);
		return;
	}
	for (i = 0; i < MAX_FDS; i++)
		if (fz->fds[i].kind == FD_FREE)
			break;
	if (i == MAX_FDS) {
		close(fd);
		return;
	}
	if (kind == FD_VM) {
		vm = new_vmstate(fz);
		vm->id = 0;
		vm->ring = 0;
	}
	if (vm)
		vm->refs++;
	fz->fds[i] = (struct fobj){ .kind = kind, .fd = fd, .vm = vm,
				    .vcpu_id = vcpu_id };
}

/* ------------------------------------------------------------------ */
/* The oracle                                                         */
/* ------------------------------------------------------------------ */

static void fz_fail(struct fuzz *fz, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (fz->failures++ < 20)
		fprintf(stderr, "# %s: seed=%llu call=%lu: %s: %s\n", fz->name,
			(unsigned long long)fz->seed, fz->call, fz->last, buf);
}

/* Whether ret/err of @c on an fd of @kind is a documented answer. */
static void fz_judge(struct fuzz *fz, const struct cmd *c, enum fd_kind kind,
		     long ret, int err)
{
	uint64_t want;

	if (kind == FD_STALE) {
		want = E(EBADF);
	} else if (fz->child && (kind == FD_VM || kind == FD_VCPU)) {
		want = E(EIO);
	} else if (c->kind != kind) {
		want = E(ENOTTY);	/* unknown, or another fd's ioctl */
	} else {
		want = c->errs;
		/* new fds: the process's own fd limit */
		if (c->nr == VMXL_CREATE_VM || c->nr == VMXL_CREATE_VCPU)
			want |= E(EMFILE) | E(ENFILE);
	}
	if (c != &unknown_cmd && kind == c->kind && !fz->child) {
		fz->tried[c - cmds]++;
		fz->ok[c - cmds] += ret != -1;
	}
	if (ret == -1) {
		if ((err >= 63 && err != EOPNOTSUPP) || !(want & E(err)))
			fz_fail(fz, "errno %d (%s) not documented", err,
				strerror(err));
		return;
	}
	if (want == E(EBADF) || want == E(EIO) || want == E(ENOTTY)) {
		fz_fail(fz, "succeeded (%ld), wanted an error", ret);
		return;
	}
	switch (c->nr) {
	case VMXL_GET_API_VERSION:
		if (ret != VMXL_API_VERSION)
			fz_fail(fz, "version %ld", ret);
		break;
	case VMXL_CREATE_VM:
	case VMXL_CREATE_VCPU:
	case VMXL_RESET_DIRTY_RINGS:
	case VMXL_RESET_TO_POINT:	/* pages restored */
		if (ret < 0)
			fz_fail(fz, "returned %ld", ret);
		break;
	case VMXL_GET_VM_ID:
		if (ret < 1)
			fz_fail(fz, "VM id %ld", ret);
		break;
	case VMXL_GET_MSRS:
	case VMXL_SET_MSRS:
		if (ret < 0 || ret > VMXL_MAX_MSR_ENTRIES)
			fz_fail(fz, "returned %ld", ret);
		break;
	case VMXL_SIGNAL_MSI:	/* APICs that took it */
	case VMXL_LAPIC_LINT:	/* 0 or 1 */
		if (ret < 0 || ret > (c->nr == VMXL_LAPIC_LINT ? 1 : 255))
			fz_fail(fz, "returned %ld", ret);
		break;
	default:
		if (ret)
			fz_fail(fz, "returned %ld, not 0", ret);
	}
}

/* ioctl @nr on @fd of @kind, judged; the call is described by @what. */
static long fz_call(struct fuzz *fz, int fd, enum fd_kind kind,
		    unsigned long nr, unsigned long arg, const char *what)
{
	long ret;
	int err;

	snprintf(fz->last, sizeof(fz->last), "%s", what);
	ret = ioctl(fd, nr, arg);
	err = errno;
	fz_judge(fz, find_cmd(nr), kind, ret, err);
	fz->call++;
	errno = err;
	return ret;
}

/* ------------------------------------------------------------------ */
/* Arguments                                                          */
/* ------------------------------------------------------------------ */

/*
 * A user pointer to @len bytes: mostly the scratch buffer (filled from
 * @src when given), else NULL, a kernel address, a hole, read-only
 * memory, one that runs into a PROT_NONE page, unaligned, non-canonical.
 */
static unsigned long uptr(struct fuzz *fz, const void *src, size_t len)
{
	uint8_t *p = fz->scratch;

	if (len > SCRATCH_SIZE)
		len = SCRATCH_SIZE;
	switch (below(&fz->r, 24)) {
	case 0:
		return 0;
	case 1:
		return PICK(&fz->r, ((const uint64_t[]){ 0xffffffff81000000ULL,
				0xffff888000000000ULL, 0xffffc90000000000ULL,
				~0ULL - 7 }));
	case 2:
		return (unsigned long)fz->hole;
	case 3:
		return (unsigned long)fz->ro;
	case 4:			/* the last bytes before the guard page */
		p = fz->scratch + SCRATCH_SIZE - len + below(&fz->r, len ? len : 1);
		break;
	case 5:
		p = fz->scratch + 1;
		break;
	case 6:
		return 0x8000000000000000ULL | below(&fz->r, PAGE);
	}
	if (src && p + len <= fz->scratch + SCRATCH_SIZE)
		memcpy(p, src, len);
	else if (src)
		memcpy(p, src, fz->scratch + SCRATCH_SIZE - p);
	return (unsigned long)p;
}

/* Overwrite a few random bytes, words or quadwords of @buf. */
static void mutate(struct fuzz *fz, void *buf, size_t len)
{
	int n = below(&fz->r, 3) + 1;
	uint64_t v;
	size_t off;

	while (n--) {
		v = rval(&fz->r);
		switch (below(&fz->r, 3)) {
		case 0:
			off = below(&fz->r, len);
			((uint8_t *)buf)[off] = v;
			break;
		case 1:
			off = below(&fz->r, len / 4) * 4;
			memcpy((uint8_t *)buf + off, &v, 4);
			break;
		default:
			off = below(&fz->r, len / 8) * 8;
			memcpy((uint8_t *)buf + off, &v, 8);
		}
	}
}

static void maybe_mutate(struct fuzz *fz, void *buf, size_t len)
{
	if (one_in(&fz->r, 6))
		mutate(fz, buf, len);
}

static uint64_t slot_gpa(struct fuzz *fz)
{
	static const uint64_t gpas[] = {
		0, 0x1000, 0x100000, 0x200000, 0x1000000, 0xfee00000,
		0x10000000, 0xfffff000, 0x100000000ULL, 1ULL << 46,
		(1ULL << 52) - PAGE, 0x800,
	};

	return one_in(&fz->r, 8) ? rval(&fz->r) : PICK(&fz->r, gpas);
}

static uint64_t slot_size(struct fuzz *fz)
{
	switch (below(&fz->r, 8)) {
	case 0:
		return 0;
	case 1:
		return rval(&fz->r);
	case 2:
		return ARENA_SIZE;
	default:
		return (below(&fz->r, 32) + 1) * PAGE;
	}
}

/* Userspace addresses for slots: never arbitrary ones (pinned, written). */
static uint64_t slot_uaddr(struct fuzz *fz, uint64_t size)
{
	uint64_t off = 0;

	if (size < ARENA_SIZE)
		off = below(&fz->r, (ARENA_SIZE - size) / PAGE + 1) * PAGE;
	switch (below(&fz->r, 12)) {
	case 0:
		return 0;
	case 1:
		return (unsigned long)fz->ro;
	case 2:
		return (unsigned long)fz->hole;
	case 3:
		return 0xffff888000000000ULL;
	case 4:
		return (unsigned long)fz->arena + off + 8;
	case 5:
		return (unsigned long)fz->arena + ARENA_SIZE - PAGE;
	default:
		return (unsigned long)fz->arena + off;
	}
}

static const uint32_t msr_list[] = {
	0xc0000080, 0x277, 0x10, 0x174, 0x175, 0x176, 0xc0000081, 0xc0000082,
	0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0x1b,
	0x1a0, 0xfe, 0x2ff, 0x250, 0x258, 0x259, 0x268, 0x26f, 0x200, 0x20f,
	0x0, 0x3a, 0x48, 0xc0010114, 0x480, 0xffffffff,
};

/* Build the argument of @c for an fd (@o may be of any kind). */
static unsigned long gen_arg(struct fuzz *fz, const struct cmd *c,
			     struct fobj *o)
{
	struct rng *r = &fz->r;
	union {
		struct vmxl_caps caps;
		struct vmxl_cpuid cpuid;
		struct vmxl_memory_region mr;
		struct vmxl_dirty_log dl;
		struct vmxl_smmu_config smmu;
		struct vmxl_dma dma;
		struct vmxl_regs regs;
		struct vmxl_sregs sregs;
		struct vmxl_msrs msrs;
		struct vmxl_fpu fpu;
		struct vmxl_interrupt irq;
		struct vmxl_switch_floor sf;
		struct vmxl_msi msi;
		struct vmxl_clock clock;
		struct vmxl_reset_point rp;
		struct vmxl_smmu_state ss;
		struct vmxl_lapic_state lapic;
		struct vmxl_mp_state mp;
		struct vmxl_lapic_lint lint;
		struct vmxl_vcpu_events ev;
		struct vmxl_debugregs dr;
	} a;
	size_t len = 0;
	uint32_t i, n;
	uint8_t *tab;

	memset(&a, 0, sizeof(a));
	switch (c->nr) {
	case VMXL_GET_API_VERSION:
	case VMXL_RESET_DIRTY_RINGS:
	case VMXL_GET_VM_ID:
	case VMXL_NMI:
	case VMXL_RUN:
		return one_in(r, 8) ? rval(r) : 0;
	case VMXL_CREATE_VM:	/* DMA_STRICT, LAPIC */
		return one_in(r, 6) ? rval(r) : below(r, 4);
	case VMXL_CREATE_VCPU:
		if (one_in(r, 8))
			return rval(r);
		return one_in(r, 8) ? fz->caps.max_vcpus - below(r, 2) :
				      below(r, 4);
	case VMXL_ENABLE_DIRTY_RING:
		if (one_in(r, 4))
			return rval(r);
		return PICK(r, ((const uint32_t[]){ 64, 128, 256, 4096, 65536,
						    63, 65, 131072 }));
	case VMXL_GET_CAPS:
		a.caps.flags = one_in(r, 8) ? rval(r) : 0;
		len = sizeof(a.caps);
		break;
	case VMXL_GET_DEFAULT_CPUID:
	case VMXL_GET_CPUID:
	case VMXL_SET_CPUID:
		n = one_in(r, 6) ? rval(r) : below(r, VMXL_MAX_CPUID_ENTRIES + 2);
		a.cpuid.nent = n;
		a.cpuid.flags = one_in(r, 10) ? rval(r) : 0;
		/* the entries in the upper half of the scratch buffer */
		tab = fz->scratch + SCRATCH_SIZE / 2;
		if (c->nr == VMXL_SET_CPUID) {
			struct vmxl_cpuid_entry *e = (void *)tab;

			for (i = 0; i < n && i < VMXL_MAX_CPUID_ENTRIES + 1; i++) {
				e[i] = (struct vmxl_cpuid_entry){
					.function = one_in(r, 2) ? below(r, 0x20) :
						    (uint32_t)rval(r),
					.index = below(r, 4),
					.flags = one_in(r, 3),
					.eax = rnd(r), .ebx = rnd(r),
					.ecx = rnd(r), .edx = rnd(r),
				};
				if (one_in(r, 30))
					mutate(fz, &e[i], sizeof(e[i]));
			}
		}
		a.cpuid.entries = one_in(r, 6) ? uptr(fz, NULL, 32 * n) :
						 (unsigned long)tab;
		len = sizeof(a.cpuid);
		break;
	case VMXL_SET_MEMORY_REGION:
		a.mr.slot = one_in(r, 10) ? rval(r) : below(r, 5);
		a.mr.flags = one_in(r, 10) ? rval(r) : below(r, 4);
		a.mr.guest_phys_addr = slot_gpa(fz);
		a.mr.memory_size = slot_size(fz);
		a.mr.userspace_addr = slot_uaddr(fz, a.mr.memory_size);
		len = sizeof(a.mr);
		break;
	case VMXL_GET_DIRTY_LOG:
	case VMXL_CLEAR_DIRTY_LOG:
		a.dl.slot = one_in(r, 10) ? rval(r) : below(r, 2) ? 0 : below(r, 5);
		a.dl.flags = one_in(r, 8) ? rval(r) : below(r, 2);
		if (c->nr == VMXL_CLEAR_DIRTY_LOG) {
			a.dl.first_page = one_in(r, 4) ? rval(r) : below(r, 9) * 64;
			a.dl.num_pages = one_in(r, 4) ? rval(r) :
					 (below(r, 16) + 1) * 64;
			/* the bits to clear, at the start of the page */
			for (i = 0; i < 1024; i++)
				((uint64_t *)fz->scratch)[PAGE / 8 + i] = rnd(r);
		} else if (one_in(r, 8)) {
			a.dl.first_page = rval(r);
			a.dl.num_pages = rval(r);
		}
		a.dl.bitmap = one_in(r, 6) ? uptr(fz, NULL, 8192) :
			      (unsigned long)fz->scratch + PAGE;
		len = sizeof(a.dl);
		break;
	case VMXL_CREATE_SMMU:
		a.smmu.base_gpa = one_in(r, 4) ? rval(r) :
			PICK(r, ((const uint64_t[]){ 0x10000000, 0xfeb00000,
						     0, 0x10000, 0x18000 }));
		a.smmu.sid_bits = one_in(r, 5) ? rval(r) : below(r, 26);
		a.smmu.ssid_bits = one_in(r, 5) ? rval(r) : below(r, 22);
		a.smmu.iotlb_entries = one_in(r, 5) ? rval(r) :
			PICK(r, ((const uint32_t[]){ 0, 1, 256, 4096, 4097 }));
		len = sizeof(a.smmu);
		break;
	case VMXL_SMMU_DMA:
	case VMXL_SMMU_TRANSLATE:
		a.dma.stream_id = one_in(r, 4) ? rval(r) : below(r, 4);
		a.dma.flags = one_in(r, 8) ? rval(r) : below(r, 4);
		a.dma.substream_id = (a.dma.flags & VMXL_DMA_SSV) ? below(r, 4) :
				     one_in(r, 8) ? rval(r) : 0;
		a.dma.iova = one_in(r, 3) ? rval(r) : slot_gpa(fz) + below(r, 3 * PAGE);
		if (c->nr == VMXL_SMMU_DMA) {
			a.dma.len = one_in(r, 5) ? rval(r) :
				PICK(r, ((const uint64_t[]){ 1, 8, PAGE, 3 * PAGE,
					 SCRATCH_SIZE / 2, VMXL_DMA_MAX_LEN,
					 VMXL_DMA_MAX_LEN + 1, 0 }));
			a.dma.buf = one_in(r, 5) ? uptr(fz, NULL, 64) :
				    (unsigned long)fz->scratch + SCRATCH_SIZE / 2 -
				    below(r, 2) * PAGE;
		} else if (one_in(r, 8)) {
			a.dma.len = rval(r);
			a.dma.buf = rval(r) & ~0xfffULL;
		}
		/* out fields and reserved are checked too: sometimes set */
		if (one_in(r, 10))
			mutate(fz, &a.dma.status, sizeof(a.dma) - 12);
		len = sizeof(a.dma);
		break;
	case VMXL_GET_REGS:
	case VMXL_GET_SREGS:
	case VMXL_GET_FPU:
		return uptr(fz, NULL, 512);
	case VMXL_SET_REGS:
		if (o->kind == FD_VCPU && !fz->child)
			ioctl(o->fd, VMXL_GET_REGS, &a.regs);
		a.regs.rflags = one_in(r, 4) ? rval(r) : 2 | (below(r, 2) << 9);
		a.regs.rip = one_in(r, 2) ? below(r, 0x100) : rval(r);
		a.regs.rsp = one_in(r, 2) ? 0x800 : rval(r);
		len = sizeof(a.regs);
		break;
	case VMXL_SET_SREGS:
		if (o->kind == FD_VCPU && !fz->child)
			ioctl(o->fd, VMXL_GET_SREGS, &a.sregs);
		if (one_in(r, 2)) {	/* real mode, CS base 0: the arena's code */
			a.sregs.cs.base = 0;
			a.sregs.cs.selector = 0;
		}
		len = sizeof(a.sregs);
		break;
	case VMXL_GET_MSRS:
	case VMXL_SET_MSRS: {
		struct vmxl_msr_entry *e = (void *)(fz->scratch + SCRATCH_SIZE / 2);

		n = one_in(r, 8) ? rval(r) : below(r, 9);
		if (one_in(r, 10))
			n = VMXL_MAX_MSR_ENTRIES + below(r, 2);
		for (i = 0; i < n && i <= VMXL_MAX_MSR_ENTRIES; i++)
			e[i] = (struct vmxl_msr_entry){
				.index = one_in(r, 6) ? rnd(r) : PICK(r, msr_list),
				.reserved = one_in(r, 30),
				.data = rval(r),
			};
		a.msrs.nmsrs = n;
		a.msrs.flags = one_in(r, 10) ? rval(r) : 0;
		a.msrs.entries = one_in(r, 6) ? uptr(fz, NULL, 16 * n) :
						(unsigned long)e;
		len = sizeof(a.msrs);
		break;
	}
	case VMXL_SET_FPU:
		if (o->kind == FD_VCPU && !fz->child)
			ioctl(o->fd, VMXL_GET_FPU, &a.fpu);
		len = sizeof(a.fpu);
		break;
	case VMXL_INTERRUPT:
		a.irq.vector = one_in(r, 4) ? rval(r) : 32 + below(r, 224);
		a.irq.flags = one_in(r, 10) ? rval(r) : 0;
		len = sizeof(a.irq);
		break;
	case VMXL_SWITCH_FLOOR:
		a.sf.count = one_in(r, 4) ? rval(r) :
			PICK(r, ((const uint32_t[]){ 0, 1, 10, 1000,
				 VMXL_SWITCH_FLOOR_MAX, VMXL_SWITCH_FLOOR_MAX + 1 }));
		len = sizeof(a.sf);
		break;
	case VMXL_SIGNAL_MSI:
		a.msi.address_lo = one_in(r, 4) ? rval(r) :
			0xfee00000 | below(r, 256) << 12 | below(r, 2) << 2;
		a.msi.data = one_in(r, 4) ? rval(r) :
			(below(r, 256) | PICK(r, ((const uint32_t[]){
				0, 1, 4, 5, 2, 6, 7 })) << 8 | below(r, 2) << 15);
		len = sizeof(a.msi);
		break;
	case VMXL_SET_CLOCK:
		a.clock.tsc = rval(r);
		len = sizeof(a.clock);
		break;
	case VMXL_SET_SMMU_STATE: {
		/* the VM's own state with one field changed, or noise */
		uint32_t *w = (uint32_t *)&a.ss;

		if (o->kind == FD_VM && !fz->child)
			ioctl(o->fd, VMXL_GET_SMMU_STATE, &a.ss);
		n = one_in(r, 4) ? 1 + below(r, 8) : 1;
		for (i = 0; i < n; i++) {
			/* words 0-21: flags to pad; up to 37: reserved */
			uint32_t wi = below(r, one_in(r, 6) ? 38 : 22);

			w[wi] = one_in(r, 2) ? rnd(r) : 1u << below(r, 32);
		}
		len = sizeof(a.ss);
		break;
	}
	case VMXL_GET_SMMU_STATE:
		len = sizeof(a.ss);
		break;
	case VMXL_SET_LAPIC:
		/* the timer's registers, the rest zero or random */
		*(uint32_t *)(a.lapic.regs + 0xf0) = one_in(r, 2) ? 0x1ff : rval(r);
		*(uint32_t *)(a.lapic.regs + 0x320) = below(r, 256) |
						     below(r, 8) << 16;
		*(uint32_t *)(a.lapic.regs + 0x380) = one_in(r, 3) ? 0 : rval(r);
		*(uint32_t *)(a.lapic.regs + 0x3e0) = below(r, 16);
		a.lapic.timer_deadline = one_in(r, 2) ? 0 : rval(r);
		len = sizeof(a.lapic);
		break;
	case VMXL_SET_MP_STATE:
		a.mp.state = one_in(r, 4) ? rval(r) : below(r, 4);
		len = sizeof(a.mp);
		break;
	case VMXL_LAPIC_LINT:
		a.lint.pin = one_in(r, 4) ? rval(r) : below(r, 3);
		a.lint.vector = one_in(r, 4) ? rval(r) : below(r, 300);
		len = sizeof(a.lint);
		break;
	case VMXL_SET_VCPU_EVENTS:
		a.ev.exception.injected = one_in(r, 4);
		a.ev.exception.nr = below(r, 40);
		a.ev.exception.has_error_code = below(r, 3);
		a.ev.exception.error_code = rval(r);
		a.ev.interrupt.injected = one_in(r, 4);
		a.ev.interrupt.nr = below(r, 256);
		a.ev.nmi.injected = one_in(r, 6);
		a.ev.nmi.pending = one_in(r, 3);
		a.ev.nmi.masked = one_in(r, 3);
		a.ev.shadow = below(r, 5);
		len = sizeof(a.ev);
		break;
	case VMXL_SET_DEBUGREGS:
		for (i = 0; i < 4; i++)
			a.dr.db[i] = rval(r);
		a.dr.dr6 = one_in(r, 3) ? rval(r) : below(r, 0x10000);
		a.dr.dr7 = one_in(r, 3) ? rval(r) : below(r, 0x10000);
		len = sizeof(a.dr);
		break;
	case VMXL_GET_CLOCK:
		len = sizeof(a.clock);
		break;
	case VMXL_SET_RESET_POINT:
	case VMXL_RESET_TO_POINT:
		len = sizeof(a.rp);	/* zero, but for maybe_mutate() */
		break;
	case VMXL_GET_LAPIC:
		len = sizeof(a.lapic);
		break;
	case VMXL_GET_MP_STATE:
		len = sizeof(a.mp);
		break;
	case VMXL_GET_VCPU_EVENTS:
		len = sizeof(a.ev);
		break;
	case VMXL_GET_DEBUGREGS:
		len = sizeof(a.dr);
		break;
	default:		/* an unknown number: something readable */
		return one_in(r, 2) ? uptr(fz, NULL, 256) : rval(r);
	}
	maybe_mutate(fz, &a, len);
	return uptr(fz, &a, len);
}

/* ------------------------------------------------------------------ */
/* Operations                                                         */
/* ------------------------------------------------------------------ */

/* A random ioctl number: mostly around ours, sometimes KVM's or others. */
static unsigned long random_nr(struct rng *r)
{
	unsigned int type = PICK(r, ((const unsigned int[]){ VMXL_IOCTL_TYPE,
				 VMXL_IOCTL_TYPE, VMXL_IOCTL_TYPE, 0xAE, 0xB5, 0xB7 }));
	unsigned int dir = below(r, 4), size = below(r, 1024);

	if (one_in(r, 2))	/* one of ours with its size or direction off */
		return (cmds[below(r, NR_CMDS)].nr ^ (1UL << below(r, 32))) &
			0xffffffffUL;
	return _IOC(dir, type, below(r, 0x40), dir ? size : 0);
}

static void op_ioctl(struct fuzz *fz)
{
	struct rng *r = &fz->r;
	const struct cmd *c;
	unsigned long nr, arg;
	struct fobj *o, stale;
	long ret;
	int i, err;

	i = pick_fd(fz, FD_FREE);
	if (i < 0)
		return;
	o = &fz->fds[i];
	/* mostly an ioctl of the fd's own kind, so calls get far */
	if (one_in(r, 8)) {
		nr = random_nr(r);
	} else {
		do {
			c = &cmds[below(r, NR_CMDS)];
		} while (c->kind != o->kind && !one_in(r, 6));
		nr = c->nr;
	}
	c = find_cmd(nr);
	arg = gen_arg(fz, c, o);
	if (one_in(r, 40)) {	/* use after close, on a number not reused */
		stale = *o;
		stale.kind = FD_STALE;
		stale.fd = dup2(o->fd, STALE_FD);
		close(STALE_FD);
		o = &stale;
	}
	snprintf(fz->last, sizeof(fz->last), "ioctl(%s fd, %s %#lx, %#lx)",
		 kind_names[o->kind], c->name, nr, arg);
	if (nr == VMXL_RUN || nr == VMXL_SWITCH_FLOOR || nr == VMXL_SMMU_DMA)
		kick_arm(&fz->kick, 5 + below(r, 20));
	ret = ioctl(o->fd, nr, arg);
	err = errno;
	kick_disarm(&fz->kick);
	fz_judge(fz, c, o->kind, ret, err);
	if (ret < 0 || o->kind == FD_STALE || fz->child)
		return;
	if (nr == VMXL_CREATE_VM)
		fz_adopt(fz, ret, FD_VM, NULL, 0);
	else if (nr == VMXL_CREATE_VCPU && c->kind == o->kind)
		fz_adopt(fz, ret, FD_VCPU, o->vm, arg);
	else if (nr == VMXL_ENABLE_DIRTY_RING && c->kind == o->kind)
		o->vm->ring = arg;
	else if (nr == VMXL_GET_VM_ID && c->kind == o->kind)
		o->vm->id = ret;
}

/* Real-mode guest code the arena starts with: memory, I/O, MMIO, HLT. */
GUEST(fz_rm_loop,
	"1: inc %ax\n"
	"mov %ax, 0x1000\n"
	"mov %ax, 0x3008\n"
	"out %al, $0x80\n"
	"in $0x81, %al\n"
	"mov $0xf000, %bx\n"
	"mov %bx, %ds\n"
	"mov %ax, 0xfff0\n"	/* 0xffff0: MMIO unless a slot is there */
	"xor %bx, %bx\n"
	"mov %bx, %ds\n"
	"hlt\n"
	".byte 0x0f, 0x01, 0xd9\n"	/* vmmcall */
	".byte 0x0f, 0x01, 0xc1\n"	/* vmcall */
	"jmp 1b\n");

/* The VM fd of @vm in the table, -1 if closed. */
static int vm_fd_of(struct fuzz *fz, struct vmstate *vm)
{
	int i;

	for (i = 0; i < MAX_FDS; i++)
		if (fz->fds[i].kind == FD_VM && fz->fds[i].vm == vm)
			return fz->fds[i].fd;
	return -1;
}

static void op_run(struct fuzz *fz)
{
	int i = pick_fd(fz, FD_VCPU);
	struct vmxl_sregs s;
	struct vmxl_regs regs = { .rflags = 2 };
	long ret;
	int err;

	if (i < 0 || fz->child)
		return;
	/* point it at the loop, in slot 0 at GPA 0 (made here if need be) */
	memcpy(fz->arena, fz_rm_loop_start, fz_rm_loop_end - fz_rm_loop_start);
	if (fz->fds[i].vm->refs > 1 && one_in(&fz->r, 2)) {
		struct vmxl_memory_region mr = {
			.flags = below(&fz->r, 2) ? VMXL_MEM_LOG_DIRTY : 0,
			.memory_size = 64 * PAGE,
			.userspace_addr = (uintptr_t)fz->arena,
		};
		int v = vm_fd_of(fz, fz->fds[i].vm);

		if (v >= 0)
			fz_call(fz, v, FD_VM, VMXL_SET_MEMORY_REGION,
				(uintptr_t)&mr, "slot 0 for the real-mode loop");
	}
	if (ioctl(fz->fds[i].fd, VMXL_GET_SREGS, &s) == 0) {
		s.cs.base = 0;
		s.cs.selector = 0;
		s.cr0 = 0x10;
		s.efer = 0;
		ioctl(fz->fds[i].fd, VMXL_SET_SREGS, &s);
	}
	ioctl(fz->fds[i].fd, VMXL_SET_REGS, &regs);
	snprintf(fz->last, sizeof(fz->last), "RUN of the real-mode loop");
	kick_arm(&fz->kick, 10 + below(&fz->r, 20));
	ret = ioctl(fz->fds[i].fd, VMXL_RUN, 0);
	err = errno;
	kick_disarm(&fz->kick);
	fz_judge(fz, find_cmd(VMXL_RUN), FD_VCPU, ret, err);
}

static void op_close(struct fuzz *fz)
{
	int i = pick_fd(fz, FD_FREE);

	/* keep the first system fd and the pipe */
	if (i > 1)
		fz_close_fd(fz, i);
	else if (count_kind(fz, FD_SYS) < 3 && !fz->child)
		fz_adopt(fz, open(VMXL_DEV, O_RDWR | O_CLOEXEC), FD_SYS, NULL, 0);
}

static int free_map(struct fuzz *fz)
{
	int i;

	for (i = 0; i < MAX_MAPS; i++)
		if (!fz->maps[i].addr)
			return i;
	i = below(&fz->r, MAX_MAPS);
	munmap(fz->maps[i].addr, fz->maps[i].len);
	fz->maps[i].addr = NULL;
	return i;
}

/* mmap of run pages and rings, right and wrong; munmap; scribbling. */
static void op_mmap(struct fuzz *fz)
{
	struct rng *r = &fz->r;
	int i = pick_fd(fz, FD_FREE), m, prot;
	struct fobj *o;
	uint32_t entries = 0;
	size_t len = PAGE;
	off_t off = 0;
	void *p;

	if (i < 0)
		return;
	o = &fz->fds[i];
	m = below(r, MAX_MAPS);
	if (fz->maps[m].addr && one_in(r, 2)) {
		struct fmap *fm = &fz->maps[m];

		if (one_in(r, 2)) {	/* scribble, as a buggy VMM would */
			if (fm->ring) {
				struct vmxl_dirty_entry *e = fm->addr;
				uint32_t k = below(r, fm->entries);

				e[k].flags = one_in(r, 2) ? VMXL_DIRTY_ENTRY_RESET : rval(r);
				if (one_in(r, 3)) {
					e[k].slot = rval(r);
					e[k].offset = rval(r);
				}
			} else {
				struct vmxl_run *run = fm->addr;

				run->request_interrupt_window = below(r, 2);
				run->immediate_exit = one_in(r, 4);
				if (one_in(r, 10))
					run->reserved0[below(r, 6)] = 1;
				else
					memset(run->reserved0, 0, 6);
				if (one_in(r, 3))
					mutate(fz, run->pad, sizeof(run->pad));
			}
			return;
		}
		munmap(fm->addr, fm->len);
		fm->addr = NULL;
		return;
	}
	prot = PROT_READ | PROT_WRITE;
	if (one_in(r, 10))
		prot |= PROT_EXEC;
	if (o->kind == FD_VCPU && o->vm->ring && one_in(r, 2)) {
		entries = o->vm->ring;
		off = VMXL_DIRTY_RING_OFFSET * PAGE;
		len = (entries * sizeof(struct vmxl_dirty_entry) + PAGE - 1) & ~(PAGE - 1);
	}
	if (one_in(r, 6))
		len = PICK(r, ((const size_t[]){ PAGE, 2 * PAGE, 16 * PAGE, 4096 * PAGE }));
	if (one_in(r, 6))
		off = PICK(r, ((const off_t[]){ 0, PAGE, 63 * PAGE, 64 * PAGE, 65 * PAGE }));
	snprintf(fz->last, sizeof(fz->last), "mmap(%s fd, len %zu, off %#lx, prot %d)",
		 kind_names[o->kind], len, (long)off, prot);
	p = mmap(NULL, len, prot, MAP_SHARED, o->fd, off);
	if (p == MAP_FAILED) {
		int err = errno;

		if (err != EINVAL && err != EPERM && err != ENODEV &&
		    err != ENOMEM && err != EACCES)
			fz_fail(fz, "errno %d (%s)", err, strerror(err));
		return;
	}
	if (o->kind != FD_VCPU)
		fz_fail(fz, "mapped a %s fd", kind_names[o->kind]);
	m = free_map(fz);
	fz->maps[m] = (struct fmap){ .addr = p, .len = len, .ring = off != 0,
				     .entries = len / sizeof(struct vmxl_dirty_entry) };
	/* harvest a ring: set RESET on what is DIRTY, then RESET_DIRTY_RINGS */
	if (off && o->vm->ring) {
		struct vmxl_dirty_entry *e = p;
		uint32_t k;

		for (k = 0; k < entries; k++)
			if (__atomic_load_n(&e[k].flags, __ATOMIC_ACQUIRE) &
			    VMXL_DIRTY_ENTRY_DIRTY)
				__atomic_store_n(&e[k].flags, VMXL_DIRTY_ENTRY_RESET,
						 __ATOMIC_RELEASE);
	}
}

/* ------------------------------------------------------------------ */
/* Netlink                                                            */
/* ------------------------------------------------------------------ */

static bool nl_err_ok(int err)
{
	return err == 0 || err == EINVAL || err == ERANGE || err == ENOENT ||
	       err == EOPNOTSUPP || err == EMSGSIZE;
}

static uint32_t known_vm_id(struct fuzz *fz)
{
	int i;

	for (i = 0; i < MAX_FDS; i++)
		if (fz->vms[i].refs && fz->vms[i].id && one_in(&fz->r, 2))
			return fz->vms[i].id;
	return one_in(&fz->r, 2) ? rval(&fz->r) : below(&fz->r, 40);
}

/* A request through libnl: any command, random attributes. */
static void op_netlink(struct fuzz *fz)
{
	struct rng *r = &fz->r;
	uint8_t cmd = one_in(r, 6) ? rval(r) : below(r, 5);
	int flags = one_in(r, 2) ? NLM_F_DUMP : 0;
	struct nl_msg *msg;
	uint8_t data[24];
	int n, ret;

	if (!fz->nl_ok)
		return;
	msg = vnl_msg_new(&fz->nl, cmd, flags);
	if (!msg)
		return;
	if (cmd == VMXL_CMD_GET_VM || cmd == VMXL_CMD_GET_VCPU || one_in(r, 4))
		nla_put_u32(msg, VMXL_A_VM_ID, known_vm_id(fz));
	if (cmd == VMXL_CMD_SET_STATS_INTERVAL)
		nla_put_u32(msg, VMXL_A_STATS_INTERVAL,
			    one_in(r, 2) ? rval(r) : 100 + below(r, 2000));
	for (n = below(r, 3); one_in(r, 3) && n; n--) {
		memcpy(data, &(uint64_t){ rval(r) }, 8);
		memcpy(data + 8, &(uint64_t){ rnd(r) }, 8);
		nla_put(msg, below(r, VMXL_A_MAX + 3), below(r, 17), data);
	}
	snprintf(fz->last, sizeof(fz->last), "netlink cmd %u flags %#x", cmd, flags);
	ret = vnl_request(&fz->nl, msg, NULL, 0);
	if (ret < 0 && !nl_err_ok(-ret))
		fz_fail(fz, "answer %d (%s), extack \"%s\"", ret, strerror(-ret),
			fz->nl.extack);
}

/* Raw datagrams with broken lengths and attributes; drain the answers. */
static void op_netlink_raw(struct fuzz *fz)
{
	struct rng *r = &fz->r;
	uint8_t buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = (void *)buf;
	struct genlmsghdr *gh = NLMSG_DATA(nlh);
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	struct pollfd pfd = { .fd = fz->raw_nl, .events = POLLIN };
	size_t len, i;
	ssize_t got;

	if (fz->raw_nl < 0 || !fz->nl_ok)
		return;
	len = NLMSG_HDRLEN + GENL_HDRLEN + below(r, 64);
	for (i = 0; i < sizeof(buf) / 8; i++)
		((uint64_t *)buf)[i] = rnd(r);
	nlh->nlmsg_len = one_in(r, 3) ? rval(r) : len;
	nlh->nlmsg_type = one_in(r, 10) ? rval(r) : (uint64_t)fz->nl.family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
			   (one_in(r, 2) ? NLM_F_DUMP : 0);
	nlh->nlmsg_seq = fz->call;
	nlh->nlmsg_pid = 0;
	gh->cmd = one_in(r, 4) ? rval(r) : below(r, 5);
	gh->version = one_in(r, 4) ? rval(r) : VMXL_GENL_VERSION;
	gh->reserved = 0;
	if (one_in(r, 2)) {	/* a plausible first attribute */
		struct nlattr *a = (void *)(buf + NLMSG_HDRLEN + GENL_HDRLEN);

		a->nla_len = one_in(r, 3) ? rval(r) : 8;
		a->nla_type = below(r, VMXL_A_MAX + 3) |
			      (one_in(r, 8) ? NLA_F_NESTED : 0);
	}
	snprintf(fz->last, sizeof(fz->last), "raw netlink len %u type %u cmd %u",
		 nlh->nlmsg_len, nlh->nlmsg_type, gh->cmd);
	if (sendto(fz->raw_nl, buf, len, 0, (void *)&to, sizeof(to)) < 0)
		return;
	while (poll(&pfd, 1, 20) > 0) {
		got = recv(fz->raw_nl, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (got < (ssize_t)NLMSG_HDRLEN)
			break;
		if (nlh->nlmsg_type == NLMSG_ERROR && got >= (ssize_t)(NLMSG_HDRLEN + 4)) {
			int err = -*(int *)NLMSG_DATA(nlh);

			if (!nl_err_ok(err))
				fz_fail(fz, "answer %d (%s)", -err, strerror(err));
		}
	}
}

/* ------------------------------------------------------------------ */
/* fork: the child's VM and vCPU fds answer EIO; its own VM works      */
/* ------------------------------------------------------------------ */

static void op_fork(struct fuzz *fz)
{
	int status, k;
	pid_t pid;

	if (fz->child)
		return;
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		fz->child = true;
		fz->r.s ^= 0x5a5a;
		fz->failures = 0;
		for (k = 0; k < 20; k++)
			op_ioctl(fz);
		/* a VM of its own, left for exit to close */
		if (ioctl(fz->fds[0].fd, VMXL_CREATE_VM, 0) < 0 && errno != ENOSPC)
			fz_fail(fz, "child CREATE_VM: %s", strerror(errno));
		_exit(fz->failures ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fz_fail(fz, "forked child ended with status %#x", status);
	/* the parent's fds still work, or some are closed now */
	if (one_in(&fz->r, 2))
		op_close(fz);
}

/* One random operation. */
static void fz_step(struct fuzz *fz, bool may_fork)
{
	unsigned int w = below(&fz->r, 100);

	if (fz->call % 1000 == 0)
		kmsg("fuzz_ioctl: %s seed=%llu call=%lu\n", fz->name,
		     (unsigned long long)fz->seed, fz->call);
	if (w < 70)
		op_ioctl(fz);
	else if (w < 76)
		op_run(fz);
	else if (w < 81)
		op_close(fz);
	else if (w < 88)
		op_mmap(fz);
	else if (w < 94)
		op_netlink(fz);
	else if (w < 98)
		op_netlink_raw(fz);
	else if (may_fork)
		op_fork(fz);
	else
		op_ioctl(fz);
	fz->call++;
}

static bool counters_zero(struct __test_metadata *_metadata)
{
	static const char *const names[] = {
		"vms", "vcpus", "pinned_pages", "table_pages",
	};
	bool ok = true;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		long v = vmxl_objects(names[i]);

		if (v != 0) {
			TH_LOG("objects: %s = %ld, not 0", names[i], v);
			ok = false;
		}
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

FIXTURE(fz) {
	struct fuzz fz;
};

FIXTURE_SETUP(fz)
{
	struct vmxl_caps caps = { 0 };
	int fd;

	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	fd = open(VMXL_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VMXL_GET_CAPS, &caps));
	close(fd);
	if (caps.backend_status != VMXL_STATUS_OK)
		SKIP(return, "no backend that runs guests");
}

FIXTURE_TEARDOWN(fz)
{
}

/* The share of FUZZ_IOCTL_CALLS each test makes. */
#define SHARE_SEQ	60
#define SHARE_THREADS	30
#define SHARE_FORK	10

TEST_F(fz, sequence)
{
	struct fuzz *fz = &self->fz;
	unsigned long n = fz_calls * SHARE_SEQ / 100;

	fprintf(stderr, "# seed=%llu calls=%lu\n", (unsigned long long)fz_seed, n);
	ASSERT_TRUE(fz_init(fz, "sequence", fz_seed, n));
	while (fz->call < n)
		fz_step(fz, true);
	fz_fini(fz);
	if (fz->nl_ok && !vnl_open(&fz->nl)) {	/* back to the default */
		vnl_set_interval(&fz->nl, 1000);
		vnl_close(&fz->nl);
	}
	EXPECT_EQ(0, fz->failures);
	EXPECT_TRUE(counters_zero(_metadata));
}

/*
 * vCPU threads run guests that write memory, do port I/O, MMIO,
 * hypercalls and HLT, while this thread moves, adds and deletes slots
 * (the guest's own RAM too), toggles dirty logging, harvests and resets
 * rings, creates the SMMU and issues DMA, queues NMIs, asks netlink about
 * the VM, and makes random calls of its own.
 */
#define TH_VCPUS	2
#define TH_WRITE_GPA	0xc00000UL	/* in the guest's RAM, free */
#define TH_WRITE_PAGES	256
#define TH_XSLOTS	4		/* extra slots 1..4 */
#define TH_XSLOT_SIZE	(1UL << 20)
#define TH_XSLOT_GPA	0x2000000UL	/* they move within 8 MiB here */
#define TH_XSPAN	(8UL << 20)
#define TH_MMIO_GPA	0xf0000000UL
#define TH_SMMU_GPA	0x10000000UL

static void guest_worker(uint64_t cpu, uint64_t amd)
{
	uint64_t i, x = cpu * 7919 + 1, page;

	for (i = 0;; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		page = x >> 40;
		switch ((x >> 33) % 8) {
		case 0:
		case 1:
			*(volatile uint64_t *)(TH_WRITE_GPA +
				(page % TH_WRITE_PAGES) * PAGE + cpu * 8) = i;
			break;
		case 2:
			*(volatile uint32_t *)(TH_XSLOT_GPA +
				(page % (TH_XSPAN / PAGE)) * PAGE + cpu * 4) = i;
			break;
		case 3:
			outb(0x80, i);
			break;
		case 4:
			if (page & 1)
				*(volatile uint32_t *)TH_MMIO_GPA = i;
			else
				(void)*(volatile uint32_t *)TH_MMIO_GPA;
			break;
		case 5:
			guest_hcall(amd, 0x1000);
			break;
		case 6:
			asm volatile("hlt");
			break;
		default:
			if (!(i & 63))
				GUEST_SYNC(i, 0);
		}
	}
}

struct th;

struct runner {
	struct th *th;
	int cpu;
	pthread_t tid;
	unsigned long runs, errors, exits[GVM_EXIT_OTHER + 1], ring_full;
	int last_err;
	struct vmxl_dirty_entry *ring;
	uint32_t entries, next;
};

struct th {
	struct gvm vm;
	bool amd;
	atomic_bool stop;
	atomic_uint ring_entries;
	struct runner rn[TH_VCPUS];
	uint8_t *xarena;
};

static void runner_harvest(struct runner *rn)
{
	struct th *th = rn->th;
	uint32_t n = atomic_load(&th->ring_entries), f;

	if (!n)
		return;
	if (!rn->ring) {
		size_t len = (n * sizeof(*rn->ring) + PAGE - 1) & ~(PAGE - 1);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       th->vm.vcpu_fd[rn->cpu],
			       VMXL_DIRTY_RING_OFFSET * PAGE);

		if (p == MAP_FAILED) {
			rn->errors++;
			rn->last_err = -errno;
			return;
		}
		rn->ring = p;
		rn->entries = n;
	}
	for (;;) {
		struct vmxl_dirty_entry *e = &rn->ring[rn->next % rn->entries];

		f = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
		if (!(f & VMXL_DIRTY_ENTRY_DIRTY))
			break;
		__atomic_store_n(&e->flags, VMXL_DIRTY_ENTRY_RESET,
				 __ATOMIC_RELEASE);
		rn->next++;
	}
	if (ioctl(th->vm.vm_fd, VMXL_RESET_DIRTY_RINGS, 0) < 0) {
		rn->errors++;
		rn->last_err = -errno;
	}
}

static void *runner_main(void *arg)
{
	struct runner *rn = arg;
	struct th *th = rn->th;
	struct gvm *vm = &th->vm;
	struct kick kick;
	struct gvm_exit e;
	bool enter = true;
	int ret;

	kick_init(&kick);
	while (!atomic_load(&th->stop)) {
		if (enter &&
		    gvm_enter_long_mode(vm, rn->cpu, guest_worker, rn->cpu, th->amd)) {
			rn->errors++;
			rn->last_err = -errno;
		}
		enter = false;
		kick_arm(&kick, 20);
		ret = gvm_run(vm, rn->cpu, &e);
		kick_disarm(&kick);
		rn->runs++;
		if (ret == -EINTR)
			continue;
		if (ret) {
			rn->errors++;
			rn->last_err = ret;
			continue;
		}
		rn->exits[e.reason <= GVM_EXIT_OTHER ? e.reason : 0]++;
		switch (e.reason) {
		case GVM_EXIT_UCALL:
			enter = e.uc.cmd != UCALL_SYNC;
			break;
		case GVM_EXIT_IO:
		case GVM_EXIT_MMIO:
			if (!e.write)
				gvm_complete_read(vm, rn->cpu, 0);
			break;
		case GVM_EXIT_HLT:
		case GVM_EXIT_HYPERCALL:
			break;
		default:
			if (e.raw == VMXL_EXIT_DIRTY_RING_FULL) {
				rn->ring_full++;
				runner_harvest(rn);
			} else {
				enter = true;	/* shutdown, internal error, ... */
			}
		}
		if (one_in(&(struct rng){ rn->runs }, 16))
			runner_harvest(rn);
	}
	kick_fini(&kick);
	if (rn->ring)
		munmap(rn->ring, (rn->entries * sizeof(*rn->ring) + PAGE - 1) &
				 ~(PAGE - 1));
	return NULL;
}

/* One call of the thread that changes the VM under the running vCPUs. */
static void th_mutate(struct fuzz *fz, struct th *th)
{
	struct rng *r = &fz->r;
	struct gvm *vm = &th->vm;
	struct vmxl_memory_region mr = { 0 };
	struct vmxl_dirty_log dl = { 0 };
	struct vmxl_dma dma = { 0 };
	unsigned int w = below(r, 100), k;
	int vfd = vm->vcpu_fd[below(r, TH_VCPUS)];
	char what[96];

	if (w < 25) {		/* an extra slot: add, move, resize, delete */
		k = below(r, TH_XSLOTS);
		mr.slot = 1 + k;
		mr.flags = below(r, 4);
		if (!one_in(r, 4)) {
			mr.guest_phys_addr = TH_XSLOT_GPA +
				below(r, TH_XSPAN / PAGE) * PAGE;
			mr.memory_size = (below(r, TH_XSLOT_SIZE / PAGE) + 1) * PAGE;
			mr.userspace_addr = (uintptr_t)th->xarena + k * TH_XSLOT_SIZE +
				below(r, TH_XSLOT_SIZE / PAGE + 1 -
				      mr.memory_size / PAGE) * PAGE;
		}
		snprintf(what, sizeof(what), "slot %u at %#llx size %#llx flags %u",
			 mr.slot, mr.guest_phys_addr, mr.memory_size, mr.flags);
		fz_call(fz, vm->vm_fd, FD_VM, VMXL_SET_MEMORY_REGION,
			(uintptr_t)&mr, what);
	} else if (w < 37) {	/* the guest's RAM: logging on/off, or gone */
		mr.flags = below(r, 2) ? VMXL_MEM_LOG_DIRTY : 0;
		mr.memory_size = GVM_MEM_SIZE;
		mr.userspace_addr = (uintptr_t)vm->mem;
		if (one_in(r, 6)) {
			struct vmxl_memory_region del = { 0 };

			fz_call(fz, vm->vm_fd, FD_VM, VMXL_SET_MEMORY_REGION,
				(uintptr_t)&del, "delete slot 0");
			usleep(below(r, 2000));
		}
		fz_call(fz, vm->vm_fd, FD_VM, VMXL_SET_MEMORY_REGION,
			(uintptr_t)&mr, "slot 0 (the guest's RAM) again");
	} else if (w < 52) {	/* GET or CLEAR a slot's log */
		dl.slot = below(r, TH_XSLOTS + 1);
		dl.bitmap = (uintptr_t)fz->scratch;
		if (one_in(r, 2)) {
			dl.flags = below(r, 2);
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_GET_DIRTY_LOG,
				(uintptr_t)&dl, "GET_DIRTY_LOG");
		} else {
			dl.first_page = below(r, 4) * 64;
			dl.num_pages = (below(r, 8) + 1) * 64;
			memset(fz->scratch, 0xff, 4096);
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_CLEAR_DIRTY_LOG,
				(uintptr_t)&dl, "CLEAR_DIRTY_LOG");
		}
	} else if (w < 56) {	/* rings: once on, then resets */
		if (!atomic_load(&th->ring_entries) && one_in(r, 4)) {
			k = PICK(r, ((const uint32_t[]){ 64, 256, 4096 }));
			if (fz_call(fz, vm->vm_fd, FD_VM, VMXL_ENABLE_DIRTY_RING,
				    k, "ENABLE_DIRTY_RING") == 0)
				atomic_store(&th->ring_entries, k);
		} else {
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_RESET_DIRTY_RINGS, 0,
				"RESET_DIRTY_RINGS");
		}
	} else if (w < 58) {
		struct vmxl_smmu_config sc = {
			.base_gpa = TH_SMMU_GPA, .sid_bits = 8, .ssid_bits = 4,
		};

		struct vmxl_smmu_state ss;

		/* one SMMU; its state saved and put back under DMA */
		if (one_in(r, 2) ||
		    fz_call(fz, vm->vm_fd, FD_VM, VMXL_GET_SMMU_STATE,
			    (uintptr_t)&ss, "GET_SMMU_STATE"))
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_CREATE_SMMU,
				(uintptr_t)&sc, "CREATE_SMMU");
		else
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_SET_SMMU_STATE,
				(uintptr_t)&ss, "SET_SMMU_STATE");
	} else if (w < 68) {	/* DMA into what the guest writes too */
		dma.stream_id = below(r, 4);
		dma.flags = below(r, 2);
		dma.iova = one_in(r, 2) ?
			TH_WRITE_GPA + below(r, TH_WRITE_PAGES * PAGE - 0x4000) :
			TH_XSLOT_GPA + below(r, TH_XSPAN - 0x4000);
		dma.len = 1 + below(r, 0x4000);
		dma.buf = (uintptr_t)fz->scratch;
		fz_call(fz, vm->vm_fd, FD_VM, one_in(r, 3) ? VMXL_SMMU_TRANSLATE :
			VMXL_SMMU_DMA, (uintptr_t)&dma, "DMA");
	} else if (w < 74) {	/* the vCPUs, between their runs */
		struct vmxl_regs regs;
		struct vmxl_interrupt irq = { .vector = 32 + below(r, 224) };

		struct vmxl_reset_point rp = { 0 };

		switch (below(r, 6)) {
		case 0:
			fz_call(fz, vfd, FD_VCPU, VMXL_GET_REGS, (uintptr_t)&regs,
				"GET_REGS of a running vCPU");
			break;
		case 4:
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_SET_RESET_POINT,
				(uintptr_t)&rp, "SET_RESET_POINT, vCPUs running");
			break;
		case 5:
			fz_call(fz, vm->vm_fd, FD_VM, VMXL_RESET_TO_POINT,
				(uintptr_t)&rp, "RESET_TO_POINT, vCPUs running");
			break;
		case 1:
			fz_call(fz, vfd, FD_VCPU, VMXL_NMI, 0, "NMI");
			break;
		case 2:
			fz_call(fz, vfd, FD_VCPU, VMXL_INTERRUPT, (uintptr_t)&irq,
				"INTERRUPT");
			break;
		default:
			fz_call(fz, vfd, FD_VCPU, VMXL_GET_SREGS,
				(uintptr_t)fz->scratch, "GET_SREGS");
		}
	} else if (w < 80 && fz->nl_ok) {
		struct vnl_vcpu vc[GVM_MAX_VCPUS];
		struct vnl_vm v;
		uint32_t id = ioctl(vm->vm_fd, VMXL_GET_VM_ID, 0);
		int ret;

		snprintf(fz->last, sizeof(fz->last), "netlink about VM %u", id);
		ret = one_in(r, 2) ? vnl_get_vm(&fz->nl, id, &v) :
				     vnl_dump_vcpus(&fz->nl, id, vc, GVM_MAX_VCPUS);
		if (ret < 0)
			fz_fail(fz, "%d (%s)", ret, strerror(-ret));
		fz->call++;
	} else {
		fz_step(fz, false);
	}
}

TEST_F(fz, threads)
{
	struct fuzz *fz = &self->fz;
	unsigned long n = fz_calls * SHARE_THREADS / 100;
	uint64_t seed = fz_seed + 1;
	struct runner *rn;
	struct th *th;
	int i;

	fprintf(stderr, "# seed=%llu calls=%lu (not repeatable: threads)\n",
		       (unsigned long long)seed, n);
	ASSERT_TRUE(fz_init(fz, "threads", seed, n));
	th = calloc(1, sizeof(*th));
	ASSERT_NE(NULL, th);
	th->amd = fz->caps.backend == VMXL_BACKEND_SVM;
	th->xarena = map_anon(TH_XSLOTS * TH_XSLOT_SIZE, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, th->xarena);
	ASSERT_EQ(0, gvm_create(&th->vm, GVM_VMXL, TH_VCPUS));
	for (i = 0; i < TH_VCPUS; i++) {
		th->rn[i].th = th;
		th->rn[i].cpu = i;
		ASSERT_EQ(0, pthread_create(&th->rn[i].tid, NULL, runner_main,
					    &th->rn[i]));
	}
	while (fz->call < n)
		th_mutate(fz, th);
	atomic_store(&th->stop, true);
	for (i = 0; i < TH_VCPUS; i++) {
		pthread_kill(th->rn[i].tid, SIGUSR1);
		pthread_join(th->rn[i].tid, NULL);
		rn = &th->rn[i];
		fprintf(stderr, "# vCPU %d: %lu runs, %lu errors (last %d); exits: io %lu mmio %lu hlt %lu hypercall %lu shutdown %lu ucall %lu other %lu (ring full %lu)\n",
			i, rn->runs, rn->errors, rn->last_err,
			rn->exits[GVM_EXIT_IO], rn->exits[GVM_EXIT_MMIO],
			rn->exits[GVM_EXIT_HLT], rn->exits[GVM_EXIT_HYPERCALL],
			rn->exits[GVM_EXIT_SHUTDOWN], rn->exits[GVM_EXIT_UCALL],
			rn->exits[GVM_EXIT_OTHER], rn->ring_full);
		EXPECT_EQ(0, th->rn[i].errors);
		EXPECT_LT(0, th->rn[i].runs);
	}
	gvm_destroy(&th->vm);
	munmap(th->xarena, TH_XSLOTS * TH_XSLOT_SIZE);
	free(th);
	fz_fini(fz);
	EXPECT_EQ(0, fz->failures);
	EXPECT_TRUE(counters_zero(_metadata));
}

/*
 * Rounds of: a VM with a slot, vCPUs, mapped run pages, maybe rings and
 * an SMMU; a forked child that inherits it all and uses it (EIO), closes
 * some, maybe outlives the parent's fds; the parent closing everything in
 * random order and using what is left, and closed numbers (EBADF); then
 * no object may be left.
 */
static void fork_round(struct fuzz *fz, struct __test_metadata *_metadata)
{
	struct rng *r = &fz->r;
	struct vmxl_memory_region mr = {
		.flags = below(r, 2) ? VMXL_MEM_LOG_DIRTY : 0,
		.memory_size = 16 * PAGE, .userspace_addr = (uintptr_t)fz->arena,
	};
	struct vmxl_smmu_config sc = {
		.base_gpa = TH_SMMU_GPA, .sid_bits = 4,
	};
	int vm, i, k, status, order[MAX_FDS];
	pid_t pid;

	vm = fz_call(fz, fz->fds[0].fd, FD_SYS, VMXL_CREATE_VM, below(r, 2),
		     "CREATE_VM");
	if (vm < 0)
		return;
	fz_adopt(fz, vm, FD_VM, NULL, 0);
	fz_call(fz, vm, FD_VM, VMXL_SET_MEMORY_REGION, (uintptr_t)&mr, "slot 0");
	for (i = 0; i < MAX_FDS; i++)
		if (fz->fds[i].fd == vm)
			break;
	if (i == MAX_FDS)
		return;
	if (one_in(r, 2) && fz_call(fz, vm, FD_VM, VMXL_ENABLE_DIRTY_RING, 64,
				    "ENABLE_DIRTY_RING") == 0)
		fz->fds[i].vm->ring = 64;
	if (one_in(r, 3))
		fz_call(fz, vm, FD_VM, VMXL_CREATE_SMMU, (uintptr_t)&sc, "SMMU");
	for (k = below(r, 3) + 1; k; k--) {
		int v = fz_call(fz, vm, FD_VM, VMXL_CREATE_VCPU, k - 1, "CREATE_VCPU");

		if (v >= 0)
			fz_adopt(fz, v, FD_VCPU, fz->fds[i].vm, k - 1);
	}
	for (k = 0; k < 6; k++) {
		op_mmap(fz);
		op_run(fz);
	}
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		fz->child = true;
		fz->r.s ^= 0xc0ffee;
		fz->failures = 0;
		for (k = below(r, 20); k; k--) {
			if (one_in(r, 4))
				op_close(fz);
			else if (one_in(r, 4))
				op_mmap(fz);
			else
				op_ioctl(fz);
		}
		if (one_in(r, 2))	/* outlive the parent's fds, sometimes */
			usleep(below(r, 20000));
		_exit(fz->failures ? 1 : 0);
	}
	/* close in random order, using what is left in between */
	for (i = 0; i < MAX_FDS; i++)
		order[i] = i;
	for (i = MAX_FDS - 1; i > 0; i--) {
		k = below(r, i + 1);
		status = order[i];
		order[i] = order[k];
		order[k] = status;
	}
	for (i = 0; i < MAX_FDS; i++) {
		if (order[i] < 2 || fz->fds[order[i]].kind == FD_FREE)
			continue;
		if (one_in(r, 3))
			op_mmap(fz);
		fz_close_fd(fz, order[i]);
		for (k = below(r, 4); k; k--) {
			op_ioctl(fz);
			fz->call++;
		}
	}
	for (i = 2; i < MAX_FDS; i++)	/* what the calls made since */
		fz_close_fd(fz, i);
	if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			WEXITSTATUS(status)))
		fz_fail(fz, "forked child ended with status %#x", status);
	/* mappings keep their vCPUs alive until they go */
	for (i = 0; i < MAX_MAPS; i++) {
		if (!fz->maps[i].addr)
			continue;
		munmap(fz->maps[i].addr, fz->maps[i].len);
		fz->maps[i].addr = NULL;
	}
	if (!counters_zero(_metadata))
		fz_fail(fz, "objects left after the round");
}

TEST_F(fz, fork_and_close)
{
	struct fuzz *fz = &self->fz;
	unsigned long n = fz_calls * SHARE_FORK / 100;
	uint64_t seed = fz_seed + 2;

	fprintf(stderr, "# seed=%llu calls=%lu\n", (unsigned long long)seed, n);
	ASSERT_TRUE(fz_init(fz, "fork_and_close", seed, n));
	while (fz->call < n && fz->failures < 20)
		fork_round(fz, _metadata);
	fz_fini(fz);
	EXPECT_EQ(0, fz->failures);
	EXPECT_TRUE(counters_zero(_metadata));
}

/* Last: after all of it nothing is left, and the module unloads. */
TEST_F(fz, counters_zero_and_unload)
{
	EXPECT_TRUE(counters_zero(_metadata));
	ASSERT_EQ(0, test_module_unload("vmx_lite"));
	EXPECT_FALSE(test_module_loaded("vmx_lite"));
}

/* Each test's harness timeout follows its share of the calls. */
static unsigned int test_share(const char *name)
{
	if (!strcmp(name, "sequence"))
		return SHARE_SEQ;
	if (!strcmp(name, "threads"))
		return SHARE_THREADS;
	if (!strcmp(name, "fork_and_close"))
		return SHARE_FORK;
	return 0;
}

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	fz_config();
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout = 120 + fz_calls * test_share(t->name) / 100 / 50;
	return test_harness_run(argc, argv);
}
