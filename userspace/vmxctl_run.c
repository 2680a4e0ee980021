// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl run: the options, the machine built from them (or from a
 * snapshot), the guest loaded, the signals, the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmxctl_machine.h"

static const struct vmxctl_snapshot_ops *snapshot_ops;

void vmxctl_register_snapshot_ops(const struct vmxctl_snapshot_ops *ops)
{
	snapshot_ops = ops;
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

static void *signal_thread(void *arg)
{
	struct vmxctl_machine *m = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (!sigwait(&set, &sig)) {
		vmxctl_err("%s: stopping the VM",
			   sig == SIGINT ? "SIGINT" : "SIGTERM");
		vmxctl_machine_stop(m, 128 + sig);
	}
	return NULL;
}

static void run_usage(FILE *f)
{
	fprintf(f,
"usage: vmxctl run [options] GUEST\n"
"       vmxctl run [options] --restore FILE\n"
"Run GUEST in a new vmx-lite VM: a 64-bit ELF (long mode, identity-mapped\n"
"0-4 GiB), a 32-bit ELF (protected mode, flat) or a flat binary (--load,\n"
"real mode).\n"
"\n"
"  --mem SIZE          guest RAM at GPA 0 (default 64M; K, M, G suffixes;\n"
"                      a multiple of 4 KiB, 1M to 3G)\n"
"  --cpus N            vCPUs, one thread each (default 1)\n"
"  --serial stdio|FILE UART 0x3f8 output: stdout (input from stdin) or FILE;\n"
"                      on stdin Ctrl-A x stops, Ctrl-A d detaches, Ctrl-A h helps\n"
"  --disk FILE         virtio-mmio block device at 0x%llx backed by FILE\n"
"  --smmu              a virtual SMMUv3 at 0x%llx; device DMA goes through it\n"
"  --control SOCKET    accept commands on a unix socket (vmxctl control)\n"
"  --load ADDR         flat binary: load it at ADDR (real mode, below 1 MiB)\n"
"  --entry ADDR        flat binary: start at ADDR (default: --load)\n"
"  --restore FILE      continue the VM saved in the snapshot FILE\n"
"  -h, --help          this text\n"
"\n"
"Every vCPU starts at the entry with RDI = its index, RSI = vCPUs,\n"
"RDX = RAM size; ELF guests with RSP = RAM - 64K - index * 64K.\n"
"The guest ends the run by writing a code to port 0x%x (exit port).\n"
"\n"
"Exit status: 0-63 the guest's exit code (0 also: all vCPUs halted with\n"
"interrupts off); 64 usage; 65 bad guest image; 66 a file could not be\n"
"opened; 69 vmx-lite unavailable; 70 guest crashed (triple fault, entry\n"
"failure); 71 ioctl or system error; 72 restore failed; 73 the guest\n"
"asked for a reboot; 130 SIGINT; 143 SIGTERM.\n", VMXCTL_VIRTIO_BLK_GPA, VMXCTL_SMMU_GPA, VMXCTL_EXIT_PORT);
}

int vmxctl_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "serial", required_argument, NULL, 's' },
		{ "disk", required_argument, NULL, 'd' },
		{ "smmu", no_argument, NULL, 'S' },
		{ "control", required_argument, NULL, 'C' },
		{ "load", required_argument, NULL, 'l' },
		{ "entry", required_argument, NULL, 'e' },
		{ "restore", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct vmxctl_machine mach;
	struct vmxctl_machine *m = &mach;
	uint64_t load = 0, entry = 0, n;
	bool have_load = false, have_entry = false;
	pthread_t sigthr;
	sigset_t set;
	int c, ret;

	vmxctl_machine_init(m);

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &m->cfg.mem_size) ||
			    m->cfg.mem_size % PAGE_SIZE ||
			    m->cfg.mem_size < (1ULL << 20) ||
			    m->cfg.mem_size > VMXCTL_MAX_MEM) {
				vmxctl_err("--mem '%s': not a size from 1M to 3G in whole 4 KiB pages (e.g. 64M)",
					   optarg);
				return VMXCTL_EXIT_USAGE;
			}
			break;
		case 'c':
			if (parse_u64(optarg, &n) || n < 1 ||
			    n > VMXCTL_MAX_VCPUS) {
				vmxctl_err("--cpus '%s': not a number from 1 to %d",
					   optarg, VMXCTL_MAX_VCPUS);
				return VMXCTL_EXIT_USAGE;
			}
			m->cfg.nr_cpus = n;
			break;
		case 's':
			m->cfg.serial = optarg;
			break;
		case 'd':
			m->cfg.disk = optarg;
			break;
		case 'S':
			m->cfg.smmu = true;
			break;
		case 'C':
			m->cfg.control = optarg;
			break;
		case 'l':
			if (parse_u64(optarg, &load)) {
				vmxctl_err("--load '%s': not an address", optarg);
				return VMXCTL_EXIT_USAGE;
			}
			have_load = true;
			break;
		case 'e':
			if (parse_u64(optarg, &entry)) {
				vmxctl_err("--entry '%s': not an address", optarg);
				return VMXCTL_EXIT_USAGE;
			}
			have_entry = true;
			break;
		case 'r':
			m->cfg.restore = optarg;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return VMXCTL_EXIT_USAGE;
		}
	}
	if (m->cfg.restore ? optind != argc : optind != argc - 1) {
		vmxctl_err(m->cfg.restore ? "--restore takes no GUEST" :
			   "run: give exactly one GUEST (vmxctl run --help)");
		return VMXCTL_EXIT_USAGE;
	}
	if (!m->cfg.restore)
		m->cfg.guest = argv[optind];
	/* Name a missing file before anything else can go wrong. */
	if (m->cfg.guest && access(m->cfg.guest, R_OK)) {
		vmxctl_err("%s: %s", m->cfg.guest, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (m->cfg.disk && access(m->cfg.disk, R_OK)) {
		vmxctl_err("--disk %s: %s", m->cfg.disk, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (m->cfg.restore) {
		if (!snapshot_ops) {
			vmxctl_err("--restore %s: snapshots not built into this vmxctl",
				   m->cfg.restore);
			return VMXCTL_EXIT_RESTORE;
		}
		if (snapshot_ops->prepare &&
		    snapshot_ops->prepare(m->cfg.restore, &m->cfg))
			return VMXCTL_EXIT_RESTORE;
	}

	/* Signals: SIGINT/SIGTERM to one thread, SIGUSR1 kicks vCPUs. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	vmxctl_vcpu_signals();
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(m->wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		vmxctl_err("pipe: %s", strerror(errno));
		return VMXCTL_EXIT_OSERR;
	}

	ret = vmxctl_machine_create(m);
	if (!ret && m->cfg.restore) {
		if (snapshot_ops->restore(m, m->cfg.restore))
			ret = VMXCTL_EXIT_RESTORE;
	} else if (!ret) {
		ret = vmxctl_load_guest(m, m->cfg.guest, load, have_load,
					entry, have_entry);
	}
	if (!ret && m->cfg.control)
		ret = vmxctl_control_start(m, m->cfg.control);
	if (!ret) {
		/* Without it SIGINT and SIGTERM, blocked, would never stop us. */
		ret = pthread_create(&sigthr, NULL, signal_thread, m);
		if (ret) {
			vmxctl_err("signal thread: %s", strerror(ret));
			ret = VMXCTL_EXIT_OSERR;
		} else {
			pthread_detach(sigthr);
		}
	}
	if (ret) {
		atomic_store(&m->stopping, true);
		if (write(m->wake_pipe[1], "x", 1) < 0) {
			/* nothing waits */
		}
		goto out;
	}
	ret = vmxctl_machine_run(m);
out:
	vmxctl_control_stop(m);
	vmxctl_machine_destroy(m);
	return ret;
}
