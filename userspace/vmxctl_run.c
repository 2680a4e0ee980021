// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl run: the options, the machine built from them (or from a
 * snapshot), the guest loaded, the signals, the run; with --kernel, a
 * reboot builds the machine again and boots the kernel again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmxctl_linux.h"
#include "vmxctl_machine.h"

/* The memory map Linux gets keeps RAM below the 32-bit MMIO devices. */
_Static_assert(VMXCTL_MAX_MEM <= 0xc0000000ULL, "--kernel RAM ends below 3 GiB");

static const struct vmxctl_snapshot_ops *snapshot_ops;

/* 128 + the signal that stopped us: no reboot after it. */
static atomic_int signalled;
/* SIGTERM to a Linux guest: how long it has to power off. */
#define SHUTDOWN_GRACE_S	30

/* What one boot needs beyond m->cfg. */
struct run_opts {
	uint64_t load, entry;
	bool have_load, have_entry;
	bool reboot_exit;		/* --on-reboot=exit */
	struct vmxctl_linux lx;		/* --kernel, checked */
};

void vmxctl_register_snapshot_ops(const struct vmxctl_snapshot_ops *ops)
{
	snapshot_ops = ops;
}

int vmxctl_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	/* a size past 2^64 is refused, not wrapped to a small one */
	if (*end || v > ULLONG_MAX >> shift)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int vmxctl_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

int vmxctl_opt_mem(const char *arg, uint64_t *mem)
{
	if (vmxctl_parse_size(arg, mem) || *mem % PAGE_SIZE ||
	    *mem < (1ULL << 20) || *mem > VMXCTL_MAX_MEM) {
		vmxctl_err("--mem '%s': not a size from 1M to 3G in whole 4 KiB pages (e.g. 64M)",
			   arg);
		return -EINVAL;
	}
	return 0;
}

int vmxctl_opt_addr(const char *name, const char *arg, uint64_t *addr,
		    bool *have)
{
	if (vmxctl_parse_u64(arg, addr)) {
		vmxctl_err("%s '%s': not an address", name, arg);
		return -EINVAL;
	}
	*have = true;
	return 0;
}

static void *signal_thread(void *arg)
{
	struct vmxctl_machine *m = arg;
	sigset_t set;
	int sig;

	bool pressed = false;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (!sigwait(&set, &sig)) {
		atomic_store(&signalled, 128 + sig);
		/* A Linux guest (booted or restored) shuts down as on a power button; once. */
		if (sig == SIGTERM && m->cfg.linux_platform && !pressed) {
			vmxctl_err("SIGTERM: pressing the ACPI power button; "
				   "the VM stops in %u s unless it powers off",
				   SHUTDOWN_GRACE_S);
			vmxctl_machine_power_button(m, SHUTDOWN_GRACE_S);
			pressed = true;
			continue;
		}
		vmxctl_err("%s: stopping the VM",
			   sig == SIGINT ? "SIGINT" : "SIGTERM");
		vmxctl_machine_stop(m, 128 + sig);
		break;
	}
	return NULL;
}

static void run_usage(FILE *f)
{
	fprintf(f,
"usage: vmxctl run [options] GUEST\n"
"       vmxctl run [options] --kernel FILE [--initrd FILE] [--append ARGS]\n"
"       vmxctl run [options] --restore FILE\n"
"Run GUEST in a new vmx-lite VM: a 64-bit ELF (long mode, identity-mapped\n"
"0-4 GiB), a 32-bit ELF (protected mode, flat) or a flat binary (--load,\n"
"real mode). Or boot Linux: --kernel.\n"
"\n"
"  --mem SIZE          guest RAM at GPA 0 (default 64M, 256M with --kernel;\n"
"                      K, M, G suffixes; a multiple of 4 KiB, 1M to 3G)\n"
"  --cpus N            vCPUs, one thread each (default 1)\n"
"  --serial stdio|FILE UART 0x3f8 output: stdout (input from stdin) or FILE;\n"
"                      on stdin Ctrl-A x stops, Ctrl-A d detaches, Ctrl-A h helps\n"
"  --disk FILE         virtio-mmio block device at 0x%llx backed by FILE\n"
"  --smmu              a virtual SMMUv3 at 0x%llx; device DMA goes through it\n"
"  --control SOCKET    accept commands on a unix socket (vmxctl control)\n"
"  --load ADDR         flat binary: load it at ADDR (real mode, below 1 MiB)\n"
"  --entry ADDR        flat binary: start at ADDR (default: --load)\n"
"  --restore FILE      continue the VM saved in the snapshot FILE (a flat\n"
"                      or a Linux guest: RAM, vCPUs and platform from FILE;\n"
"                      give --disk again; a restored Linux guest that\n"
"                      reboots ends the run with 73)\n"
"  -h, --help          this text\n"
"\n"
"Booting Linux (no GUEST; docs/vmxctl.md \"Booting Linux\"):\n"
"  --kernel FILE       a bzImage (64-bit boot protocol) or a vmlinux with\n"
"                      a PVH entry note; local APICs, IOAPIC, ACPI tables\n"
"  --initrd FILE       the initramfs, at the top of RAM\n"
"  --append ARGS       added to the command line:\n"
"                      \"" "console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off" "\n"
"                      tsc_early_khz=<host TSC kHz>\"\n"
"  --on-reboot=restart|exit  on a guest reboot (or panic): boot again\n"
"                      in the same process (default), or exit with 73\n"
"  SIGTERM presses the ACPI power button: exit 0 when the guest powers\n"
"  off, 143 if it has not within 30 s or on a second signal\n"
"\n"
"Every vCPU starts at the entry with RDI = its index, RSI = vCPUs,\n"
"RDX = RAM size; ELF guests with RSP = RAM - 64K - index * 64K.\n"
"The guest ends the run by writing a code to port 0x%x (exit port).\n"
"\n"
"Exit status: 0-63 the guest's exit code (0 also: all vCPUs halted with\n"
"interrupts off; Linux powered off); 64 usage (also: --append makes the\n"
"command line too long for the kernel); 65 bad guest image (not a kernel,\n"
"truncated, too old, kernel or initrd does not fit in RAM); 66 a file\n"
"could not be opened; 69 vmx-lite unavailable; 70 guest crashed (triple\n"
"fault, entry failure); 71 ioctl or system error; 72 restore failed;\n"
"73 Linux rebooted, with --on-reboot=exit; 130 SIGINT; 143 SIGTERM.\n",
		VMXCTL_VIRTIO_BLK_GPA, VMXCTL_SMMU_GPA, VMXCTL_EXIT_PORT);
}

/* One boot: build the machine, load the guest, run it, take it down. */
static int boot(struct vmxctl_machine *m, struct run_opts *o)
{
	static bool sigthr_started;
	pthread_t sigthr;
	int ret;

	ret = vmxctl_machine_create(m);
	if (!ret && m->cfg.restore) {
		if (snapshot_ops->restore(m, m->cfg.restore))
			ret = VMXCTL_EXIT_RESTORE;
	} else if (!ret && m->cfg.kernel) {
		ret = vmxctl_linux_load(m, &o->lx);
	} else if (!ret) {
		ret = vmxctl_load_guest(m, m->cfg.guest, o->load, o->have_load,
					o->entry, o->have_entry);
	}
	if (!ret && m->cfg.control)
		ret = vmxctl_control_start(m, m->cfg.control);
	if (!ret && !sigthr_started) {
		/* Without it SIGINT and SIGTERM, blocked, would never stop us. */
		ret = pthread_create(&sigthr, NULL, signal_thread, m);
		if (ret) {
			vmxctl_err("signal thread: %s", strerror(ret));
			ret = VMXCTL_EXIT_OSERR;
		} else {
			pthread_detach(sigthr);
			sigthr_started = true;
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

/* Usage errors of the options together; 0 or VMXCTL_EXIT_USAGE. */
static int check_options(struct vmxctl_machine *m, const struct run_opts *o,
			 int nr_args)
{
	const struct vmxctl_config *c = &m->cfg;

	if (c->kernel) {
		if (nr_args || c->restore || o->have_load || o->have_entry) {
			vmxctl_err("--kernel %s: takes no GUEST, --restore, --load or --entry",
				   c->kernel);
			return VMXCTL_EXIT_USAGE;
		}
		return 0;
	}
	if (c->initrd || c->append || o->reboot_exit) {
		vmxctl_err("--initrd, --append and --on-reboot need --kernel");
		return VMXCTL_EXIT_USAGE;
	}
	if (c->restore ? nr_args : nr_args != 1) {
		vmxctl_err(c->restore ? "--restore takes no GUEST" :
			   "run: give exactly one GUEST (vmxctl run --help)");
		return VMXCTL_EXIT_USAGE;
	}
	return 0;
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
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "append", required_argument, NULL, 'a' },
		{ "on-reboot", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct vmxctl_machine mach;
	static struct run_opts o;
	struct vmxctl_machine *m = &mach;
	bool have_mem = false;
	uint64_t n;
	sigset_t set;
	int c, ret;

	vmxctl_machine_init(m);

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (vmxctl_opt_mem(optarg, &m->cfg.mem_size))
				return VMXCTL_EXIT_USAGE;
			have_mem = true;
			break;
		case 'c':
			if (vmxctl_parse_u64(optarg, &n) || n < 1 ||
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
			if (vmxctl_opt_addr("--load", optarg, &o.load, &o.have_load))
				return VMXCTL_EXIT_USAGE;
			break;
		case 'e':
			if (vmxctl_opt_addr("--entry", optarg, &o.entry, &o.have_entry))
				return VMXCTL_EXIT_USAGE;
			break;
		case 'r':
			m->cfg.restore = optarg;
			break;
		case 'k':
			m->cfg.kernel = optarg;
			break;
		case 'i':
			m->cfg.initrd = optarg;
			break;
		case 'a':
			m->cfg.append = optarg;
			break;
		case 'R':
			if (strcmp(optarg, "restart") && strcmp(optarg, "exit")) {
				vmxctl_err("--on-reboot '%s': not restart or exit",
					   optarg);
				return VMXCTL_EXIT_USAGE;
			}
			o.reboot_exit = !strcmp(optarg, "exit");
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return VMXCTL_EXIT_USAGE;
		}
	}
	ret = check_options(m, &o, argc - optind);
	if (ret)
		return ret;
	if (m->cfg.kernel) {
		m->cfg.lapic = true;
		m->cfg.linux_platform = true;
		if (!have_mem)
			m->cfg.mem_size = LINUX_DEFAULT_MEM;
	} else if (!m->cfg.restore) {
		m->cfg.guest = argv[optind];
	}
	/* Name a missing file before anything else can go wrong. */
	if (m->cfg.guest && access(m->cfg.guest, R_OK)) {
		vmxctl_err("%s: %s", m->cfg.guest, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (m->cfg.disk && access(m->cfg.disk, R_OK)) {
		vmxctl_err("--disk %s: %s", m->cfg.disk, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	/* The kernel and initrd checked without the module: a bad file says so. */
	if (m->cfg.kernel) {
		ret = vmxctl_linux_open(&o.lx, m->cfg.kernel, m->cfg.initrd,
					m->cfg.append, m->cfg.mem_size);
		if (ret)
			return ret;
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
		vmxctl_linux_close(&o.lx);
		return VMXCTL_EXIT_OSERR;
	}

	for (;;) {
		ret = boot(m, &o);
		if (ret != VMXCTL_EXIT_REBOOT || !m->cfg.kernel || o.reboot_exit)
			break;
		vmxctl_machine_reinit(m);
		/* A signal between two boots ends it here. */
		if (atomic_load(&signalled)) {
			ret = atomic_load(&signalled);
			break;
		}
		vmxctl_err("%s: the guest rebooted: booting it again",
			   m->cfg.kernel);
	}
	vmxctl_linux_close(&o.lx);
	return ret;
}
