// SPDX-License-Identifier: GPL-2.0
/*
 * The vmx_lite generic netlink family: what it reports about VMs the test
 * creates and runs, the events they cause, how it refuses malformed
 * requests (errno and extack), and who may see what.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"
#include "testlib.h"
#include "vmxl_util.h"
#include "vnl.h"

#define CODE_GPA	0x1000
#define MEM_SIZE	0x10000
#define IO_PORT		0x80
#define NR_IO		10

/* NR_IO port writes, then HLT. */
GUEST(g_io_hlt, "mov $10, %cx\n 1: out %al, $0x80\n dec %cx\n jnz 1b\n hlt\n");
GUEST(g_spin, "1: jmp 1b\n");
GUEST(g_int3, "int3\n hlt\n");

static int vm_id(struct rvm *vm)
{
	return ioctl(vm->vm_fd, VMXL_GET_VM_ID, 0);
}

/* Run until HLT; the number of port I/O exits on the way, or -1. */
static int run_to_hlt(struct rvm *vm)
{
	int n = 0;

	for (;;) {
		if (rvm_run(vm))
			return -1;
		if (vm->run->exit_reason == VMXL_EXIT_HLT)
			return n;
		if (vm->run->exit_reason != VMXL_EXIT_IO ||
		    vm->run->io.port != IO_PORT)
			return -1;
		n++;
	}
}

FIXTURE(nl) {
	struct vnl nl;
	struct rvm vm;
};

FIXTURE_SETUP(nl)
{
	struct vmxl_caps caps = { 0 };
	int fd;

	self->vm.vm_fd = self->vm.vcpu_fd = self->vm.sys_fd = -1;
	ASSERT_EQ(0, test_module_load("vmx_lite", NULL));
	ASSERT_EQ(0, vnl_open(&self->nl));
	fd = open(VMXL_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VMXL_GET_CAPS, &caps));
	close(fd);
	if (caps.backend_status != VMXL_STATUS_OK)
		SKIP(return, "no backend that runs guests");
	ASSERT_EQ(0, rvm_create(&self->vm, MEM_SIZE, CODE_GPA));
}

FIXTURE_TEARDOWN(nl)
{
	rvm_destroy(&self->vm);
	vnl_close(&self->nl);
	test_module_unload("vmx_lite");
}

TEST_F(nl, family_and_groups_resolve)
{
	EXPECT_EQ(VMXL_GENL_VERSION, self->nl.version);
	EXPECT_LT(0, self->nl.family);
	EXPECT_LT(0, self->nl.grp[VNL_LIFECYCLE]);
	EXPECT_LT(0, self->nl.grp[VNL_FAULTS]);
	EXPECT_LT(0, self->nl.grp[VNL_STATS]);
	EXPECT_EQ(1000, vnl_get_interval(&self->nl));
}

/* GET_VM and the vCPU dump report what the guest did, exit by exit. */
TEST_F(nl, vm_and_vcpu_report_the_run)
{
	struct vnl_vcpu vcpu[2];
	struct vnl_vm vm;
	int id = vm_id(&self->vm);

	ASSERT_LE(1, id);
	rvm_load(&self->vm, CODE_GPA, g_io_hlt_start,
		 g_io_hlt_end - g_io_hlt_start);
	ASSERT_EQ(NR_IO, run_to_hlt(&self->vm));

	ASSERT_EQ(0, vnl_get_vm(&self->nl, id, &vm));
	EXPECT_EQ(id, vm.id);
	EXPECT_EQ(getpid(), vm.pid);
	EXPECT_EQ(0, vm.uid);
	EXPECT_EQ(1, vm.nr_vcpus);
	EXPECT_EQ(1, vm.nr_slots);
	EXPECT_EQ(MEM_SIZE, vm.mem_size);
	EXPECT_EQ(0, vm.dirty_log);
	EXPECT_EQ(NR_IO, vm.stats[VMXL_STAT_IO]);
	EXPECT_EQ(1, vm.stats[VMXL_STAT_HLT]);
	EXPECT_EQ(NR_IO + 1, vm.stats[VMXL_STAT_USER]);
	EXPECT_LE(NR_IO + 1, vm.stats[VMXL_STAT_EXITS]);

	ASSERT_EQ(1, vnl_dump_vcpus(&self->nl, id, vcpu, 2));
	EXPECT_EQ(id, vcpu[0].vm_id);
	EXPECT_EQ(0, vcpu[0].id);
	EXPECT_EQ(VMXL_VCPU_HALTED, vcpu[0].state);
	EXPECT_EQ(VMXL_EXIT_HLT, vcpu[0].last_exit);
	EXPECT_EQ(NR_IO, vcpu[0].stats[VMXL_STAT_IO]);
	EXPECT_EQ(vm.stats[VMXL_STAT_EXITS], vcpu[0].stats[VMXL_STAT_EXITS]);

	/* A closed vCPU's exits still count for its VM. */
	munmap(self->vm.run, sysconf(_SC_PAGESIZE));
	self->vm.run = NULL;
	close(self->vm.vcpu_fd);
	self->vm.vcpu_fd = -1;
	ASSERT_EQ(0, vnl_get_vm(&self->nl, id, &vm));
	EXPECT_EQ(0, vm.nr_vcpus);
	EXPECT_EQ(NR_IO, vm.stats[VMXL_STAT_IO]);
	EXPECT_EQ(0, vnl_dump_vcpus(&self->nl, id, vcpu, 2));

	/* Gone with its last fd. */
	rvm_destroy(&self->vm);
	EXPECT_EQ(-ENOENT, vnl_get_vm(&self->nl, id, &vm));
	EXPECT_STREQ("no such VM", self->nl.extack);
}

/* The dump lists exactly the VMs that exist, by id, with their state. */
TEST_F(nl, dump_lists_every_vm)
{
	struct vmxl_memory_region mr = { 0 };
	struct vnl_vm vms[8];
	struct rvm b;
	int n, ida = vm_id(&self->vm), idb, vcpu1;
	void *mem;

	ASSERT_EQ(0, rvm_create(&b, 2 * MEM_SIZE, CODE_GPA));
	idb = vm_id(&b);
	ASSERT_LT(ida, idb);
	vcpu1 = ioctl(b.vm_fd, VMXL_CREATE_VCPU, 1);
	ASSERT_LE(0, vcpu1);
	/* a second slot, logging dirty pages */
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mr.slot = 1;
	mr.flags = VMXL_MEM_LOG_DIRTY;
	mr.guest_phys_addr = 0x100000;
	mr.memory_size = MEM_SIZE;
	mr.userspace_addr = (uintptr_t)mem;
	ASSERT_EQ(0, ioctl(b.vm_fd, VMXL_SET_MEMORY_REGION, &mr));
	ASSERT_EQ(0, ioctl(b.vm_fd, VMXL_ENABLE_DIRTY_RING, 64));

	n = vnl_dump_vms(&self->nl, vms, 8);
	ASSERT_EQ(2, n);
	EXPECT_EQ(ida, vms[0].id);
	EXPECT_EQ(1, vms[0].nr_vcpus);
	EXPECT_EQ(1, vms[0].nr_slots);
	EXPECT_EQ(MEM_SIZE, vms[0].mem_size);
	EXPECT_EQ(0, vms[0].dirty_log);
	EXPECT_EQ(idb, vms[1].id);
	EXPECT_EQ(2, vms[1].nr_vcpus);
	EXPECT_EQ(2, vms[1].nr_slots);
	EXPECT_EQ(3 * MEM_SIZE, vms[1].mem_size);
	EXPECT_EQ(VMXL_NL_DIRTY_BITMAP | VMXL_NL_DIRTY_RING, vms[1].dirty_log);
	EXPECT_FALSE(vms[0].dump_intr || vms[1].dump_intr);

	close(vcpu1);
	rvm_destroy(&b);
	munmap(mem, MEM_SIZE);
	ASSERT_EQ(1, vnl_dump_vms(&self->nl, vms, 8));
	EXPECT_EQ(ida, vms[0].id);
}

/*
 * A dump read through a raw socket with 4 KiB reads, so that the kernel
 * builds it in parts of at most 4 KiB (netlink sizes a dump's datagrams
 * by the reader's buffer), each made when the reader took the last one.
 */
struct raw_dump {
	int fd;
	int ids[128], n;
	bool intr;
};

static int raw_dump_start(struct raw_dump *d, int family)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = family,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.g = { .cmd = VMXL_CMD_GET_VM, .version = VMXL_GENL_VERSION },
	};

	d->n = 0;
	d->intr = false;
	d->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (d->fd < 0)
		return -1;
	return send(d->fd, &req, sizeof(req), 0) == sizeof(req) ? 0 : -1;
}

/* One datagram: 1 when it ended the dump, 0 when more follow, -1 errors. */
static int raw_dump_part(struct raw_dump *d)
{
	static char buf[4096] __attribute__((aligned(8)));
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct nlattr *a;
	int len;

	len = recv(d->fd, buf, sizeof(buf), 0);
	if (len <= 0)
		return -1;
	for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		a = nlmsg_find_attr(h, GENL_HDRLEN, VMXL_A_VM_ID);
		if (h->nlmsg_type == NLMSG_ERROR || !a ||
		    d->n >= (int)ARRAY_SIZE(d->ids))
			return -1;
		d->ids[d->n++] = nla_get_u32(a);
		d->intr |= !!(h->nlmsg_flags & NLM_F_DUMP_INTR);
	}
	return 0;
}

/*
 * 60 VMs take several dump datagrams. A VM created meanwhile marks the
 * parts built after it NLM_F_DUMP_INTR (reading part 1 builds part 2, so
 * part 3 is the first built after it); a quiet dump has no mark and
 * lists every VM once, by ascending id.
 */
TEST_F(nl, long_dump_marks_interruption)
{
	enum { NR = 60 };
	int fds[NR + 1], i, parts, ret;
	struct raw_dump d;

	for (i = 0; i < NR; i++) {
		fds[i] = ioctl(self->vm.sys_fd, VMXL_CREATE_VM, 0);
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_EQ(0, raw_dump_start(&d, self->nl.family));
	ASSERT_EQ(0, raw_dump_part(&d));
	EXPECT_FALSE(d.intr);
	fds[NR] = ioctl(self->vm.sys_fd, VMXL_CREATE_VM, 0);
	ASSERT_LE(0, fds[NR]);
	ASSERT_EQ(0, raw_dump_part(&d)) TH_LOG("only two parts");
	EXPECT_FALSE(d.intr);
	for (parts = 2, ret = 0; ret == 0; parts++)
		ret = raw_dump_part(&d);
	ASSERT_EQ(1, ret);
	EXPECT_TRUE(d.intr);
	TH_LOG("%d messages in %d datagrams", d.n, parts);
	close(d.fd);

	/* quiet: the fixture's VM, NR, the one more; once each, in order */
	ASSERT_EQ(0, raw_dump_start(&d, self->nl.family));
	do
		ret = raw_dump_part(&d);
	while (ret == 0);
	ASSERT_EQ(1, ret);
	EXPECT_FALSE(d.intr);
	ASSERT_EQ(NR + 2, d.n);
	for (i = 1; i < d.n; i++)
		EXPECT_LT(d.ids[i - 1], d.ids[i]);
	close(d.fd);
	for (i = 0; i <= NR; i++)
		close(fds[i]);
}

static void *run_thread(void *arg)
{
	struct rvm *vm = arg;

	return (void *)(intptr_t)rvm_run(vm);
}

/* A vCPU inside RUN is "running"; stopped by immediate_exit it is not. */
TEST_F(nl, vcpu_state_follows_run)
{
	int id = vm_id(&self->vm), i, state = -1;
	struct vnl_vcpu vcpu;
	pthread_t t;
	void *ret;

	ASSERT_EQ(1, vnl_dump_vcpus(&self->nl, id, &vcpu, 1));
	EXPECT_EQ(VMXL_VCPU_STOPPED, vcpu.state);
	EXPECT_EQ(VMXL_EXIT_NONE, vcpu.last_exit);

	rvm_load(&self->vm, CODE_GPA, g_spin_start, g_spin_end - g_spin_start);
	ASSERT_EQ(0, pthread_create(&t, NULL, run_thread, &self->vm));
	for (i = 0; i < 500 && state != VMXL_VCPU_RUNNING; i++) {
		usleep(10000);
		ASSERT_EQ(1, vnl_dump_vcpus(&self->nl, id, &vcpu, 1));
		state = vcpu.state;
	}
	EXPECT_EQ(VMXL_VCPU_RUNNING, state);
	__atomic_store_n(&self->vm.run->immediate_exit, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(-EINTR, (int)(intptr_t)ret);
	ASSERT_EQ(1, vnl_dump_vcpus(&self->nl, id, &vcpu, 1));
	EXPECT_EQ(VMXL_VCPU_STOPPED, vcpu.state);
	EXPECT_EQ(VMXL_EXIT_INTR, vcpu.last_exit);
}

#define EXPECT_EVENT(nl, want_cmd, ev)					\
	do {								\
		ASSERT_EQ(0, vnl_next_event(nl, 0, ev, 5000));		\
		ASSERT_EQ(want_cmd, (ev)->cmd);				\
	} while (0)

/* Lifecycle events, in order, with the right ids. */
TEST_F(nl, lifecycle_events)
{
	struct vmxl_sregs sregs;
	struct vnl_msg ev;
	struct vnl lis;
	struct rvm vm;
	int id;

	ASSERT_EQ(0, vnl_open(&lis));
	ASSERT_EQ(0, vnl_join(&lis, VNL_LIFECYCLE));
	ASSERT_EQ(0, rvm_create(&vm, MEM_SIZE, CODE_GPA));
	id = vm_id(&vm);

	EXPECT_EVENT(&lis, VMXL_EVT_VM_CREATED, &ev);
	EXPECT_EQ(id, ev.u[VMXL_A_VM_ID]);
	EXPECT_EQ(getpid(), ev.u[VMXL_A_VM_PID]);
	EXPECT_EQ(0, ev.u[VMXL_A_VM_UID]);
	EXPECT_EVENT(&lis, VMXL_EVT_VCPU_CREATED, &ev);
	EXPECT_EQ(id, ev.u[VMXL_A_VM_ID]);
	EXPECT_EQ(0, ev.u[VMXL_A_VCPU_ID]);

	/* An empty IVT makes the first interrupt a triple fault. */
	ASSERT_EQ(0, ioctl(vm.vcpu_fd, VMXL_GET_SREGS, &sregs));
	sregs.idt.limit = 0;
	ASSERT_EQ(0, ioctl(vm.vcpu_fd, VMXL_SET_SREGS, &sregs));
	rvm_load(&vm, CODE_GPA, g_int3_start, g_int3_end - g_int3_start);
	ASSERT_EQ(0, rvm_run(&vm));
	ASSERT_EQ(VMXL_EXIT_SHUTDOWN, vm.run->exit_reason);
	EXPECT_EVENT(&lis, VMXL_EVT_VCPU_STOPPED, &ev);
	EXPECT_EQ(id, ev.u[VMXL_A_VM_ID]);
	EXPECT_EQ(0, ev.u[VMXL_A_VCPU_ID]);
	EXPECT_EQ(VMXL_EXIT_SHUTDOWN, ev.u[VMXL_A_EXIT_REASON]);
	EXPECT_TRUE(ev.has[VMXL_A_EXIT_DETAIL]);

	rvm_destroy(&vm);
	EXPECT_EVENT(&lis, VMXL_EVT_VM_DESTROYED, &ev);
	EXPECT_EQ(id, ev.u[VMXL_A_VM_ID]);
	/* nothing else, and nothing of the fixture's VM */
	EXPECT_EQ(-ETIMEDOUT, vnl_next_event(&lis, 0, &ev, 200));
	vnl_close(&lis);
}

/* Samples every interval while someone listens, with the counts so far. */
TEST_F(nl, stats_samples)
{
	int id = vm_id(&self->vm), i, seen = 0;
	uint64_t t0 = 0;
	struct vnl_msg ev;
	struct vnl lis;

	rvm_load(&self->vm, CODE_GPA, g_io_hlt_start,
		 g_io_hlt_end - g_io_hlt_start);
	ASSERT_EQ(NR_IO, run_to_hlt(&self->vm));
	ASSERT_EQ(100, vnl_set_interval(&self->nl, 100));
	ASSERT_EQ(0, vnl_open(&lis));
	ASSERT_EQ(0, vnl_join(&lis, VNL_STATS));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, vnl_next_event(&lis, id, &ev, 3000));
		ASSERT_EQ(VMXL_EVT_STATS, ev.cmd);
		EXPECT_EQ(100, ev.u[VMXL_A_STATS_INTERVAL]);
		EXPECT_EQ(NR_IO, ev.stats[VMXL_STAT_IO]);
		EXPECT_EQ(1, ev.stats[VMXL_STAT_HLT]);
		/* about one interval apart (the first may follow the change) */
		if (seen++)
			EXPECT_LE(50000000ull, ev.u[VMXL_A_TIMESTAMP] - t0);
		t0 = ev.u[VMXL_A_TIMESTAMP];
	}
	EXPECT_EQ(1000, vnl_set_interval(&self->nl, 1000));
	vnl_close(&lis);
}

/* Send @msg; expect -@err and an extack message containing @text. */
#define EXPECT_REFUSED(nl, msg, err, text)				\
	do {								\
		EXPECT_EQ(-(err), vnl_request(nl, msg, NULL, 0));	\
		EXPECT_NE(NULL, strstr((nl)->extack, text))		\
			TH_LOG("extack: '%s'", (nl)->extack);		\
	} while (0)

TEST_F(nl, malformed_requests_refused_with_extack)
{
	struct vnl *nl = &self->nl;
	struct nl_msg *msg;

	/* missing id */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	EXPECT_REFUSED(nl, msg, EINVAL, "VMXL_A_VM_ID is required");
	EXPECT_EQ(VMXL_A_VM_ID, nl->miss_type);

	/* unknown attribute */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	nla_put_u32(msg, VMXL_A_VM_ID, vm_id(&self->vm));
	nla_put_u32(msg, VMXL_A_MAX + 5, 1);
	EXPECT_REFUSED(nl, msg, EINVAL, "Unknown attribute type");

	/* an attribute this command does not take */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	nla_put_u32(msg, VMXL_A_VM_ID, vm_id(&self->vm));
	nla_put_u32(msg, VMXL_A_STATS_INTERVAL, 100);
	EXPECT_REFUSED(nl, msg, EINVAL, "Unknown attribute type");

	/* wrong type: a u16 where a u32 belongs */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	nla_put_u16(msg, VMXL_A_VM_ID, 1);
	EXPECT_REFUSED(nl, msg, EINVAL, "invalid attribute length");

	/* id 0 is never a VM's */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	nla_put_u32(msg, VMXL_A_VM_ID, 0);
	EXPECT_REFUSED(nl, msg, ERANGE, "integer out of range");

	/* no such VM */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VM, 0);
	nla_put_u32(msg, VMXL_A_VM_ID, 0x7fffffff);
	EXPECT_REFUSED(nl, msg, ENOENT, "no such VM");

	/* vCPU dump: id required, VM must exist, no "do" form */
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VCPU, NLM_F_DUMP);
	EXPECT_REFUSED(nl, msg, EINVAL, "VMXL_A_VM_ID is required");
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VCPU, NLM_F_DUMP);
	nla_put_u32(msg, VMXL_A_VM_ID, 0x7fffffff);
	EXPECT_REFUSED(nl, msg, ENOENT, "no such VM");
	msg = vnl_msg_new(nl, VMXL_CMD_GET_VCPU, 0);
	nla_put_u32(msg, VMXL_A_VM_ID, vm_id(&self->vm));
	EXPECT_EQ(-EOPNOTSUPP, vnl_request(nl, msg, NULL, 0));

	/* events are not requests */
	msg = vnl_msg_new(nl, VMXL_EVT_VM_CREATED, 0);
	EXPECT_EQ(-EOPNOTSUPP, vnl_request(nl, msg, NULL, 0));
	msg = vnl_msg_new(nl, VMXL_CMD_UNSPEC, 0);
	EXPECT_EQ(-EOPNOTSUPP, vnl_request(nl, msg, NULL, 0));

	/* stats interval: bounds, required, none on GET */
	msg = vnl_msg_new(nl, VMXL_CMD_SET_STATS_INTERVAL, 0);
	nla_put_u32(msg, VMXL_A_STATS_INTERVAL, VMXL_NL_INTERVAL_MIN - 1);
	EXPECT_REFUSED(nl, msg, ERANGE, "integer out of range");
	msg = vnl_msg_new(nl, VMXL_CMD_SET_STATS_INTERVAL, 0);
	nla_put_u32(msg, VMXL_A_STATS_INTERVAL, VMXL_NL_INTERVAL_MAX + 1);
	EXPECT_REFUSED(nl, msg, ERANGE, "integer out of range");
	msg = vnl_msg_new(nl, VMXL_CMD_SET_STATS_INTERVAL, 0);
	EXPECT_REFUSED(nl, msg, EINVAL, "VMXL_A_STATS_INTERVAL is required");
	msg = vnl_msg_new(nl, VMXL_CMD_GET_STATS_INTERVAL, 0);
	nla_put_u32(msg, VMXL_A_STATS_INTERVAL, 500);
	EXPECT_EQ(-EINVAL, vnl_request(nl, msg, NULL, 0));
	/* nothing changed */
	EXPECT_EQ(1000, vnl_get_interval(nl));
}

/* What an unprivileged process saw, sent back to the test over a pipe. */
struct seen {
	int created_id;		/* its own VM, or -errno */
	int nr_dumped, dumped_id;
	int get_other, dump_other_vcpus, set_interval, join_lifecycle;
	int get_interval;
};

/*
 * As uid @uid without capabilities: create a VM (through @sys_fd, opened
 * as root, unless @create is false), then look at what netlink shows.
 * Waits for a byte on @go before exiting, so its VM lives until then.
 */
static void unprivileged(int sys_fd, uid_t uid, bool create, int other_id,
			 int out, int go)
{
	struct seen s = { 0 };
	struct vnl_vm vms[4];
	struct vnl_vcpu vc;
	struct vnl nl;
	char c;
	int vm = -1;

	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		_exit(10);
	if (create) {
		vm = ioctl(sys_fd, VMXL_CREATE_VM, 0);
		s.created_id = vm < 0 ? -errno : ioctl(vm, VMXL_GET_VM_ID, 0);
	}
	if (vnl_open(&nl))
		_exit(11);
	s.nr_dumped = vnl_dump_vms(&nl, vms, 4);
	s.dumped_id = s.nr_dumped > 0 ? (int)vms[0].id : 0;
	s.get_other = vnl_get_vm(&nl, other_id, &vms[0]);
	s.dump_other_vcpus = vnl_dump_vcpus(&nl, other_id, &vc, 1);
	s.set_interval = vnl_set_interval(&nl, 500);
	s.get_interval = vnl_get_interval(&nl);
	s.join_lifecycle = vnl_join(&nl, VNL_LIFECYCLE);
	if (write(out, &s, sizeof(s)) != sizeof(s))
		_exit(12);
	if (read(go, &c, 1) < 0)
		_exit(13);
	_exit(0);
}

static pid_t spawn_unprivileged(struct rvm *vm, uid_t uid, bool create,
				int other_id, struct seen *s, int *go_fd)
{
	int out[2], go[2];
	pid_t pid;

	if (pipe(out) || pipe(go))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(out[0]);
		close(go[1]);
		unprivileged(vm->sys_fd, uid, create, other_id, out[1], go[0]);
	}
	close(out[1]);
	close(go[0]);
	if (read(out[0], s, sizeof(*s)) != sizeof(*s))
		memset(s, 0xff, sizeof(*s));
	close(out[0]);
	*go_fd = go[1];
	return pid;
}

static int reap(pid_t pid, int go_fd)
{
	int status;

	close(go_fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Without CAP_NET_ADMIN, a user sees its own VMs only, and no events. */
TEST_F(nl, unprivileged_sees_only_its_own)
{
	int root_id = vm_id(&self->vm), go1, go2;
	struct vnl_vm vms[4];
	struct seen s1, s2;
	pid_t p1, p2;

	p1 = spawn_unprivileged(&self->vm, 1000, true, root_id, &s1, &go1);
	ASSERT_LT(0, p1);
	ASSERT_LT(root_id, s1.created_id);
	EXPECT_EQ(1, s1.nr_dumped);
	EXPECT_EQ(s1.created_id, s1.dumped_id);
	EXPECT_EQ(-ENOENT, s1.get_other);
	EXPECT_EQ(-ENOENT, s1.dump_other_vcpus);
	EXPECT_EQ(-EPERM, s1.set_interval);
	EXPECT_EQ(1000, s1.get_interval);
	EXPECT_EQ(-EPERM, s1.join_lifecycle);

	/* root sees both, the other's with its uid and pid */
	ASSERT_EQ(2, vnl_dump_vms(&self->nl, vms, 4));
	EXPECT_EQ(root_id, vms[0].id);
	EXPECT_EQ(s1.created_id, vms[1].id);
	EXPECT_EQ(1000, vms[1].uid);
	EXPECT_EQ(p1, vms[1].pid);

	/* a third user sees neither */
	p2 = spawn_unprivileged(&self->vm, 1001, false, s1.created_id, &s2,
				&go2);
	ASSERT_LT(0, p2);
	EXPECT_EQ(0, s2.nr_dumped);
	EXPECT_EQ(-ENOENT, s2.get_other);
	EXPECT_EQ(0, reap(p2, go2));
	EXPECT_EQ(0, reap(p1, go1));
	ASSERT_EQ(1, vnl_dump_vms(&self->nl, vms, 4));
}

TEST_HARNESS_MAIN
