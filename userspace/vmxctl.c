// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: a small VMM on vmx-lite (libvmxlite).
 *
 *   vmxctl run [options] GUEST     start a VM and run GUEST in it
 *   vmxctl control SOCKET CMD...   send one command to a running vmxctl
 *   vmxctl help                    list the commands
 *
 * `vmxctl run` loads GUEST, a 64-bit ELF (entered in long mode with
 * identity page tables for 0-4 GiB), a 32-bit ELF (protected mode, flat
 * segments) or, with --load, a flat binary (real mode), into RAM at GPA 0
 * and runs one thread per vCPU. Devices: a 16550A UART at 0x3f8
 * (vmxctl_uart.c), an exit port at 0xf4, and with --disk a virtio-mmio
 * block device at 0xd0000000 (vmxctl_virtio_blk.c). With --smmu the VM
 * gets a virtual SMMUv3 at 0xd0100000 and device DMA goes through it.
 * Every vCPU starts at the entry with RDI = its index, RSI = the number
 * of vCPUs, RDX = the RAM size, RFLAGS = 2; ELF guests also get
 * RSP = RAM size - 64 KiB - index * 64 KiB (the last 64 KiB of RAM hold
 * vmxctl's page tables, GDT and TSS).
 *
 * Exit port 0xf4: an OUT of any size; its low byte is the code. vmxctl
 * stops every vCPU and exits with the code (0-63; larger codes exit 63).
 *
 * Exit status of `vmxctl run`:
 *   0-63  the guest's exit-port code; 0 also when every vCPU halted
 *         with interrupts disabled
 *   64    usage error (unknown option, bad --mem, --cpus, address)
 *   65    GUEST is not a loadable image (bad ELF, does not fit in RAM)
 *   66    a file could not be opened or read (GUEST, --disk, --serial)
 *   69    vmx-lite is not available (no /dev/vmx-lite, VM refused)
 *   70    the guest stopped abnormally (triple fault, failed entry,
 *         internal error)
 *   71    an ioctl or system call failed while running
 *   72    --restore failed (or snapshots are not built in)
 *   130   stopped by SIGINT, 143 by SIGTERM
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lib/libvmxlite.h"
#include "vmxctl.h"
#include "vmxctl_dev.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE_SIZE	4096ULL
#define MAX_DEVICES	8
#define MAX_COMMANDS	32

struct vcpu {
	struct vmxctl_machine *m;
	unsigned int id;
	int fd;
	struct vmxl_run *run;
	pthread_t thread;
	bool started;
	bool settled;		/* nothing pending in the kernel */
	bool stopped;		/* halted for good or failed */
	unsigned int warned;	/* unmapped-access messages printed */
};

struct vmxctl_machine {
	struct vmxctl_config cfg;
	int sys_fd, vm_fd;
	size_t run_size;
	unsigned int nr_vcpus;
	struct vcpu vcpus[VMXCTL_MAX_VCPUS];
	unsigned int nr_slots;
	struct vmxctl_slot slots[VMXCTL_MAX_SLOTS];
	uint64_t *dev_dirty[VMXCTL_MAX_SLOTS];	/* pages devices wrote */
	unsigned int nr_devices;
	struct vmxctl_device *devices[MAX_DEVICES];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int pause_req;		/* pause nesting */
	unsigned int parked;		/* vCPU threads parked or stopped */
	atomic_bool stopping;
	int status;
	int wake_pipe[2];		/* wakes the control and stdin threads */
	int control_fd;
	pthread_t control_thread;
	bool control_started;
};

/* ------------------------------------------------------------------ */
/* messages                                                            */
/* ------------------------------------------------------------------ */

void vmxctl_err(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmxctl: %s\n", buf);
}

/* ------------------------------------------------------------------ */
/* command tables                                                      */
/* ------------------------------------------------------------------ */

static struct {
	const char *name, *summary;
	vmxctl_cmd_fn fn;
} commands[MAX_COMMANDS];
static unsigned int nr_commands;

static struct {
	const char *name, *usage;
	vmxctl_control_fn fn;
} controls[MAX_COMMANDS];
static unsigned int nr_controls;

static const struct vmxctl_snapshot_ops *snapshot_ops;

int vmxctl_register_command(const char *name, const char *summary,
			    vmxctl_cmd_fn fn)
{
	if (nr_commands == MAX_COMMANDS)
		return -ENOSPC;
	commands[nr_commands].name = name;
	commands[nr_commands].summary = summary;
	commands[nr_commands++].fn = fn;
	return 0;
}

int vmxctl_register_control(const char *name, const char *usage,
			    vmxctl_control_fn fn)
{
	if (nr_controls == MAX_COMMANDS)
		return -ENOSPC;
	controls[nr_controls].name = name;
	controls[nr_controls].usage = usage;
	controls[nr_controls++].fn = fn;
	return 0;
}

void vmxctl_register_snapshot_ops(const struct vmxctl_snapshot_ops *ops)
{
	snapshot_ops = ops;
}

/* ------------------------------------------------------------------ */
/* machine accessors                                                   */
/* ------------------------------------------------------------------ */

const struct vmxctl_config *vmxctl_config(struct vmxctl_machine *m)
{
	return &m->cfg;
}

int vmxctl_sys_fd(struct vmxctl_machine *m)
{
	return m->sys_fd;
}

int vmxctl_vm_fd(struct vmxctl_machine *m)
{
	return m->vm_fd;
}

unsigned int vmxctl_nr_vcpus(struct vmxctl_machine *m)
{
	return m->nr_vcpus;
}

int vmxctl_vcpu_fd(struct vmxctl_machine *m, unsigned int cpu)
{
	return cpu < m->nr_vcpus ? m->vcpus[cpu].fd : -EINVAL;
}

unsigned int vmxctl_nr_slots(struct vmxctl_machine *m)
{
	return m->nr_slots;
}

const struct vmxctl_slot *vmxctl_slot(struct vmxctl_machine *m,
				      unsigned int idx)
{
	return idx < m->nr_slots ? &m->slots[idx] : NULL;
}

bool vmxctl_has_smmu(struct vmxctl_machine *m)
{
	return m->cfg.smmu;
}

void *vmxctl_gpa_to_hva(struct vmxctl_machine *m, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < m->nr_slots; i++) {
		struct vmxctl_slot *s = &m->slots[i];

		if (gpa >= s->gpa && gpa - s->gpa <= s->size &&
		    len <= s->size - (gpa - s->gpa))
			return (char *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* vCPU state                                                          */
/* ------------------------------------------------------------------ */

const uint32_t vmxctl_msr_list[] = {
	0xc0000080,				/* EFER */
	0x277,					/* PAT */
	0x10,					/* TSC */
	0x174, 0x175, 0x176,			/* SYSENTER_CS/ESP/EIP */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR.. SFMASK */
	0xc0000100, 0xc0000101, 0xc0000102,	/* FS/GS/KERNEL_GS_BASE */
	0x1b,					/* APIC_BASE */
	0x1a0,					/* MISC_ENABLE */
	0x2ff,					/* MTRRdefType */
	0x250, 0x258, 0x259,			/* fixed MTRRs */
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* variable */
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};
const unsigned int vmxctl_nr_msr_list = ARRAY_SIZE(vmxctl_msr_list);
_Static_assert(ARRAY_SIZE(vmxctl_msr_list) <= VMXCTL_MAX_MSRS,
	       "vmxctl_vcpu_state holds every MSR");

int vmxctl_get_vcpu_state(struct vmxctl_machine *m, unsigned int cpu,
			  struct vmxctl_vcpu_state *st)
{
	uint32_t nent = VMXL_MAX_CPUID_ENTRIES;
	unsigned int i;
	int fd, ret;

	if (cpu >= m->nr_vcpus)
		return -EINVAL;
	fd = m->vcpus[cpu].fd;
	memset(st, 0, sizeof(*st));
	ret = vmxlite_get_regs(fd, &st->regs);
	if (!ret)
		ret = vmxlite_get_sregs(fd, &st->sregs);
	if (!ret)
		ret = vmxlite_get_fpu(fd, &st->fpu);
	if (ret)
		return ret;
	for (i = 0; i < vmxctl_nr_msr_list; i++)
		st->msrs[i].index = vmxctl_msr_list[i];
	ret = vmxlite_get_msrs(fd, st->msrs, vmxctl_nr_msr_list);
	if (ret < 0)
		return ret;
	if ((unsigned int)ret != vmxctl_nr_msr_list)
		return -EINVAL;
	st->nmsrs = ret;
	ret = vmxlite_get_cpuid(fd, st->cpuid, &nent);
	if (ret)
		return ret;
	st->ncpuid = nent;
	return 0;
}

int vmxctl_set_vcpu_state(struct vmxctl_machine *m, unsigned int cpu,
			  const struct vmxctl_vcpu_state *st)
{
	int fd, ret;

	if (cpu >= m->nr_vcpus || st->nmsrs > VMXCTL_MAX_MSRS ||
	    st->ncpuid > VMXL_MAX_CPUID_ENTRIES)
		return -EINVAL;
	fd = m->vcpus[cpu].fd;
	ret = vmxlite_set_cpuid(fd, st->cpuid, st->ncpuid);
	if (!ret)
		ret = vmxlite_set_sregs(fd, &st->sregs);
	if (ret)
		return ret;
	ret = vmxlite_set_msrs(fd, st->msrs, st->nmsrs);
	if (ret < 0)
		return ret;
	if ((uint32_t)ret != st->nmsrs)
		return -EINVAL;
	ret = vmxlite_set_fpu(fd, &st->fpu);
	if (!ret)
		ret = vmxlite_set_regs(fd, &st->regs);
	if (!ret)
		m->vcpus[cpu].settled = true;
	return ret;
}

/* ------------------------------------------------------------------ */
/* dirty log                                                           */
/* ------------------------------------------------------------------ */

static uint64_t slot_words(const struct vmxctl_slot *s)
{
	return (s->size / PAGE_SIZE + 63) / 64;
}

int vmxctl_dirty_log_enable(struct vmxctl_machine *m, bool on)
{
	unsigned int i;

	for (i = 0; i < m->nr_slots; i++) {
		struct vmxctl_slot *s = &m->slots[i];
		uint32_t flags = on ? s->flags | VMXL_MEM_LOG_DIRTY :
				      s->flags & ~VMXL_MEM_LOG_DIRTY;
		int ret;

		ret = vmxlite_set_memory_region(m->vm_fd, s->slot, flags,
						s->gpa, s->size, s->hva);
		if (ret)
			return ret;
		s->flags = flags;
		memset(m->dev_dirty[i], 0, slot_words(s) * 8);
	}
	return 0;
}

int vmxctl_dirty_log_get(struct vmxctl_machine *m, unsigned int idx,
			 uint64_t *bitmap)
{
	struct vmxctl_slot *s;
	uint64_t w;
	int ret;

	if (idx >= m->nr_slots)
		return -EINVAL;
	s = &m->slots[idx];
	ret = vmxlite_get_dirty_log(m->vm_fd, s->slot, 0, bitmap);
	if (ret)
		return ret;
	for (w = 0; w < slot_words(s); w++)
		bitmap[w] |= atomic_load((_Atomic uint64_t *)&m->dev_dirty[idx][w]);
	return 0;
}

int vmxctl_dirty_log_clear(struct vmxctl_machine *m, unsigned int idx,
			   const uint64_t *bitmap)
{
	struct vmxctl_slot *s;
	uint64_t w;
	int ret;

	if (idx >= m->nr_slots)
		return -EINVAL;
	s = &m->slots[idx];
	ret = vmxlite_clear_dirty_log(m->vm_fd, s->slot, 0,
				      s->size / PAGE_SIZE, bitmap);
	if (ret)
		return ret;
	for (w = 0; w < slot_words(s); w++)
		atomic_fetch_and((_Atomic uint64_t *)&m->dev_dirty[idx][w],
				 ~bitmap[w]);
	return 0;
}

void vmxctl_mark_dirty(struct vmxctl_machine *m, uint64_t gpa, uint64_t len)
{
	unsigned int i;
	uint64_t p, first, last;

	if (!len)
		return;
	for (i = 0; i < m->nr_slots; i++) {
		struct vmxctl_slot *s = &m->slots[i];

		if (gpa < s->gpa || gpa - s->gpa >= s->size)
			continue;
		first = (gpa - s->gpa) / PAGE_SIZE;
		last = (gpa - s->gpa + len - 1) / PAGE_SIZE;
		if (last >= s->size / PAGE_SIZE)
			last = s->size / PAGE_SIZE - 1;
		for (p = first; p <= last; p++)
			atomic_fetch_or((_Atomic uint64_t *)&m->dev_dirty[i][p / 64],
					1ULL << (p % 64));
	}
}

/* ------------------------------------------------------------------ */
/* device DMA                                                          */
/* ------------------------------------------------------------------ */

static int dma(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
	       void *buf, uint64_t len, bool write, const char **why)
{
	struct vmxl_dma d;
	int ret;

	if (!m->cfg.smmu) {
		void *hva = vmxctl_gpa_to_hva(m, addr, len);

		if (!hva) {
			if (why)
				*why = "no RAM";
			return -EFAULT;
		}
		if (write) {
			memcpy(hva, buf, len);
			vmxctl_mark_dirty(m, addr, len);
		} else {
			memcpy(buf, hva, len);
		}
		return 0;
	}
	ret = vmxlite_dma(m->vm_fd, sid, addr, buf, len, write, &d);
	if (ret && why)
		*why = ret == -EFAULT ? vmxlite_dma_status_name(d.status) :
					strerror(-ret);
	return ret;
}

int vmxctl_dma_read(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
		    void *buf, uint64_t len, const char **why)
{
	return dma(m, sid, addr, buf, len, false, why);
}

int vmxctl_dma_write(struct vmxctl_machine *m, uint32_t sid, uint64_t addr,
		     const void *buf, uint64_t len, const char **why)
{
	return dma(m, sid, addr, (void *)buf, len, true, why);
}

/* ------------------------------------------------------------------ */
/* devices                                                             */
/* ------------------------------------------------------------------ */

int vmxctl_add_device(struct vmxctl_machine *m, struct vmxctl_device *d)
{
	if (m->nr_devices == MAX_DEVICES)
		return -ENOSPC;
	d->m = m;
	pthread_mutex_init(&d->lock, NULL);
	m->devices[m->nr_devices++] = d;
	return 0;
}

void vmxctl_dev_irq(struct vmxctl_device *d, bool level)
{
	d->irq_level = level;
	if (d->irq_fn)
		d->irq_fn(d, level);
}

unsigned int vmxctl_nr_devices(struct vmxctl_machine *m)
{
	return m->nr_devices;
}

const char *vmxctl_device_name(struct vmxctl_machine *m, unsigned int idx)
{
	return idx < m->nr_devices ? m->devices[idx]->name : NULL;
}

int vmxctl_device_save(struct vmxctl_machine *m, unsigned int idx,
		       struct vmxctl_dev_state *st)
{
	struct vmxctl_device *d;

	if (idx >= m->nr_devices)
		return -EINVAL;
	d = m->devices[idx];
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", d->name);
	return d->ops->save ? d->ops->save(d, st) : 0;
}

int vmxctl_device_restore(struct vmxctl_machine *m,
			  const struct vmxctl_dev_state *st)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (strcmp(d->name, st->name))
			continue;
		return d->ops->restore ? d->ops->restore(d, st) : 0;
	}
	return -ENOENT;
}

static struct vmxctl_device *find_pio(struct vmxctl_machine *m, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (d->port_len && port >= d->port_base &&
		    port - d->port_base < d->port_len)
			return d;
	}
	return NULL;
}

static struct vmxctl_device *find_mmio(struct vmxctl_machine *m, uint64_t a)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++) {
		struct vmxctl_device *d = m->devices[i];

		if (d->mmio_len && a >= d->mmio_base &&
		    a - d->mmio_base < d->mmio_len)
			return d;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* stop, pause, resume                                                 */
/* ------------------------------------------------------------------ */

static void kick_vcpus(struct vmxctl_machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_vcpus; i++) {
		struct vcpu *v = &m->vcpus[i];

		if (!v->run)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->started)
			pthread_kill(v->thread, SIGUSR1);
	}
}

void vmxctl_machine_stop(struct vmxctl_machine *m, int status)
{
	pthread_mutex_lock(&m->lock);
	if (!atomic_load(&m->stopping)) {
		m->status = status;
		atomic_store(&m->stopping, true);
		if (write(m->wake_pipe[1], "x", 1) < 0) {
			/* the pipe is full: already woken */
		}
	}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	kick_vcpus(m);
}

bool vmxctl_machine_stopping(struct vmxctl_machine *m)
{
	return atomic_load(&m->stopping);
}

static unsigned int running_vcpus(struct vmxctl_machine *m)
{
	unsigned int i, n = 0;

	for (i = 0; i < m->nr_vcpus; i++)
		n += m->vcpus[i].started;
	return n;
}

int vmxctl_pause(struct vmxctl_machine *m)
{
	unsigned int i;

	if (atomic_load(&m->stopping))
		return -ESHUTDOWN;
	if (atomic_fetch_add(&m->pause_req, 1) > 0) {
		/* nested: wait for the first pause to complete */
		pthread_mutex_lock(&m->lock);
		while (m->parked < running_vcpus(m) &&
		       !atomic_load(&m->stopping))
			pthread_cond_wait(&m->cond, &m->lock);
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	kick_vcpus(m);
	pthread_mutex_lock(&m->lock);
	while (m->parked < running_vcpus(m) && !atomic_load(&m->stopping))
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
	if (atomic_load(&m->stopping)) {
		atomic_fetch_sub(&m->pause_req, 1);
		return -ESHUTDOWN;
	}
	for (i = 0; i < m->nr_devices; i++)
		if (m->devices[i]->ops->quiesce)
			m->devices[i]->ops->quiesce(m->devices[i]);
	return 0;
}

void vmxctl_resume(struct vmxctl_machine *m)
{
	if (atomic_load(&m->pause_req) == 1)
		for (unsigned int i = 0; i < m->nr_devices; i++)
			if (m->devices[i]->ops->resume)
				m->devices[i]->ops->resume(m->devices[i]);
	pthread_mutex_lock(&m->lock);
	if (atomic_load(&m->pause_req) > 0)
		atomic_fetch_sub(&m->pause_req, 1);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------------ */
/* vCPU threads                                                        */
/* ------------------------------------------------------------------ */

static void sigusr1(int sig)
{
	(void)sig;	/* only interrupts VMXL_RUN */
}

static void vcpu_fail(struct vcpu *v, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vcpu_fail(struct vcpu *v, int status, const char *fmt, ...)
{
	struct vmxl_regs r;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!vmxlite_get_regs(v->fd, &r))
		vmxctl_err("vCPU %u: %s (RIP 0x%llx)", v->id, buf,
			   (unsigned long long)r.rip);
	else
		vmxctl_err("vCPU %u: %s", v->id, buf);
	v->stopped = true;
	vmxctl_machine_stop(v->m, status);
}

static void handle_io(struct vcpu *v)
{
	struct vmxctl_machine *m = v->m;
	struct vmxl_run *run = v->run;
	bool write = run->io.direction == VMXL_IO_OUT;
	struct vmxctl_device *d;
	uint64_t val = 0;

	if (write)
		memcpy(&val, run->io.data, run->io.size);
	if (run->io.port == VMXCTL_EXIT_PORT) {
		if (write) {
			int code = val & 0xff;

			if (code > VMXCTL_EXIT_GUEST_MAX) {
				vmxctl_err("guest exit code %d above %d: exiting with %d",
					   code, VMXCTL_EXIT_GUEST_MAX,
					   VMXCTL_EXIT_GUEST_MAX);
				code = VMXCTL_EXIT_GUEST_MAX;
			}
			vmxctl_machine_stop(m, code);
		} else {
			memset(run->io.data, 0, sizeof(run->io.data));
		}
		return;
	}
	d = find_pio(m, run->io.port);
	if (!d) {
		/* nothing there: reads float high, writes vanish */
		if (!write)
			memset(run->io.data, 0xff, sizeof(run->io.data));
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->ops->pio(d, run->io.port, write, &val, run->io.size);
	pthread_mutex_unlock(&d->lock);
	if (!write)
		memcpy(run->io.data, &val, run->io.size);
}

static void handle_mmio(struct vcpu *v)
{
	struct vmxl_run *run = v->run;
	uint64_t a = run->mmio.phys_addr, val = 0;
	bool write = run->mmio.is_write;
	struct vmxctl_device *d = find_mmio(v->m, a);

	if (write)
		memcpy(&val, run->mmio.data, run->mmio.len);
	if (!d) {
		if (v->warned < 8) {
			v->warned++;
			vmxctl_err("vCPU %u: MMIO %s of %u bytes at GPA 0x%llx: no RAM or device there (%s)",
				   v->id, write ? "write" : "read",
				   run->mmio.len, (unsigned long long)a,
				   write ? "ignored" : "reads all ones");
		}
		if (!write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->ops->mmio(d, a - d->mmio_base, write, &val, run->mmio.len);
	pthread_mutex_unlock(&d->lock);
	if (!write)
		memcpy(run->mmio.data, &val, run->mmio.len);
}

/* Park until the pause ends or the machine stops. */
static void park(struct vcpu *v)
{
	struct vmxctl_machine *m = v->m;

	pthread_mutex_lock(&m->lock);
	m->parked++;
	pthread_cond_broadcast(&m->cond);
	while (atomic_load(&m->pause_req) > 0 && !atomic_load(&m->stopping))
		pthread_cond_wait(&m->cond, &m->lock);
	m->parked--;
	pthread_mutex_unlock(&m->lock);
}

/* Complete what the last exit left pending, without entering the guest. */
static int settle(struct vcpu *v)
{
	int ret;

	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ret = vmxlite_run(v->fd);
	if (ret == -EINTR) {
		v->settled = true;
		return 0;
	}
	return ret ? ret : -EPROTO;
}

/* HLT with interrupts enabled: nothing can wake it yet but a pause. */
static void halt_wait(struct vcpu *v)
{
	struct vmxctl_machine *m = v->m;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m->lock);
	if (!atomic_load(&m->pause_req) && !atomic_load(&m->stopping))
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	pthread_mutex_unlock(&m->lock);
}

static void vcpu_halted_for_good(struct vcpu *v)
{
	struct vmxctl_machine *m = v->m;
	unsigned int i, n = 0;

	pthread_mutex_lock(&m->lock);
	v->stopped = true;
	for (i = 0; i < m->nr_vcpus; i++)
		n += m->vcpus[i].stopped;
	pthread_mutex_unlock(&m->lock);
	if (n == m->nr_vcpus) {
		vmxctl_err("every vCPU halted with interrupts disabled");
		vmxctl_machine_stop(m, 0);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vmxctl_machine *m = v->m;
	struct vmxl_run *run = v->run;
	int ret;

	while (!atomic_load(&m->stopping)) {
		if (atomic_load(&m->pause_req) > 0 || v->stopped) {
			if (!v->settled) {
				ret = settle(v);
				if (ret) {
					vcpu_fail(v, VMXCTL_EXIT_OSERR,
						  "VMXL_RUN (settling): %s",
						  strerror(-ret));
					break;
				}
			}
			if (v->stopped)
				break;	/* halted for good */
			park(v);
			continue;
		}
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (atomic_load(&m->pause_req) > 0 || atomic_load(&m->stopping))
			continue;
		ret = vmxlite_run(v->fd);
		if (ret == -EINTR) {
			v->settled = true;
			continue;
		}
		if (ret) {
			vcpu_fail(v, VMXCTL_EXIT_OSERR, "VMXL_RUN: %s",
				  strerror(-ret));
			break;
		}
		v->settled = false;
		switch (run->exit_reason) {
		case VMXL_EXIT_IO:
			handle_io(v);
			break;
		case VMXL_EXIT_MMIO:
			handle_mmio(v);
			break;
		case VMXL_EXIT_HLT:
			v->settled = true;
			if (run->if_flag)
				halt_wait(v);
			else
				vcpu_halted_for_good(v);
			break;
		case VMXL_EXIT_HYPERCALL:
			run->hypercall.ret = (uint64_t)-ENOSYS;
			break;
		case VMXL_EXIT_IRQ_WINDOW_OPEN:
		case VMXL_EXIT_DIRTY_RING_FULL:
			v->settled = true;
			break;
		case VMXL_EXIT_SHUTDOWN:
			v->settled = true;
			vcpu_fail(v, VMXCTL_EXIT_GUEST_CRASH,
				  "triple fault (shutdown)");
			break;
		case VMXL_EXIT_FAIL_ENTRY:
			v->settled = true;
			vcpu_fail(v, VMXCTL_EXIT_GUEST_CRASH,
				  "the CPU refused the guest state: hardware reason 0x%llx, detail 0x%llx",
				  (unsigned long long)run->fail_entry.hardware_reason,
				  (unsigned long long)run->fail_entry.detail);
			break;
		case VMXL_EXIT_INTERNAL_ERROR:
			v->settled = true;
			vcpu_fail(v, VMXCTL_EXIT_GUEST_CRASH,
				  "internal error %u (data 0x%llx)",
				  run->internal.suberror,
				  (unsigned long long)run->internal.data[0]);
			break;
		default:
			v->settled = true;
			vcpu_fail(v, VMXCTL_EXIT_GUEST_CRASH,
				  "unexpected exit %u (%s)", run->exit_reason,
				  vmxlite_exit_name(run->exit_reason));
			break;
		}
	}
	/* Out for good: count as parked so a pause never waits for us. */
	pthread_mutex_lock(&m->lock);
	m->parked++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* control socket                                                      */
/* ------------------------------------------------------------------ */

static int split_line(char *line, char **argv, int max)
{
	int argc = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < max - 1;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return argc;
}

static void serve_one(struct vmxctl_machine *m, int fd)
{
	char line[4096], *argv[64], *outbuf = NULL, tail[32];
	size_t len = 0, outlen = 0;
	FILE *out;
	int argc, status = 1;

	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);

		if (n <= 0)
			break;
		len += n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = 0;
	out = open_memstream(&outbuf, &outlen);
	if (!out)
		return;
	argc = split_line(line, argv, ARRAY_SIZE(argv));
	if (!argc) {
		fprintf(out, "empty command (try: help)\n");
	} else {
		unsigned int i;

		for (i = 0; i < nr_controls; i++)
			if (!strcmp(controls[i].name, argv[0]))
				break;
		if (i == nr_controls) {
			fprintf(out, "unknown command '%s' (try: help)\n",
				argv[0]);
		} else {
			optind = 0;
			status = controls[i].fn(m, argc, argv, out);
		}
	}
	fclose(out);
	snprintf(tail, sizeof(tail), status ? "ERR %d\n" : "OK\n", status);
	/* A client that went away misses its answer; nothing else to do. */
	if (!outlen || write(fd, outbuf, outlen) >= 0)
		if (write(fd, tail, strlen(tail)) < 0)
			outlen = 0;
	free(outbuf);
}

static void *control_thread(void *arg)
{
	struct vmxctl_machine *m = arg;
	struct pollfd p[2] = {
		{ .fd = m->control_fd, .events = POLLIN },
		{ .fd = m->wake_pipe[0], .events = POLLIN },
	};
	int fd;

	while (!atomic_load(&m->stopping)) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(m->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(m, fd);
		close(fd);
	}
	return NULL;
}

static int control_start(struct vmxctl_machine *m, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(a.sun_path)) {
		vmxctl_err("--control %s: path too long", path);
		return VMXCTL_EXIT_USAGE;
	}
	strcpy(a.sun_path, path);
	if (!stat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);	/* a stale socket of an earlier run */
	m->control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->control_fd < 0 ||
	    bind(m->control_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(m->control_fd, 8)) {
		vmxctl_err("--control %s: %s", path, strerror(errno));
		return VMXCTL_EXIT_NOINPUT;
	}
	if (pthread_create(&m->control_thread, NULL, control_thread, m)) {
		vmxctl_err("control thread: %s", strerror(errno));
		return VMXCTL_EXIT_OSERR;
	}
	m->control_started = true;
	return 0;
}

int vmxctl_control_request(const char *socket_path, const char *line,
			   FILE *out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *buf = NULL, *last, *end;
	size_t len = 0, cap = 0;
	int fd, status;

	if (strlen(socket_path) >= sizeof(a.sun_path)) {
		vmxctl_err("%s: socket path too long", socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		status = -errno;
		vmxctl_err("%s: cannot connect: %s", socket_path,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		return status;
	}
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		status = -errno;
		vmxctl_err("%s: %s", socket_path, strerror(errno));
		close(fd);
		return status;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, 4096);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!buf)
		buf = calloc(1, 1);
	if (!buf)
		return -ENOMEM;
	buf[len] = 0;
	/* The last line is the status. */
	end = buf + len;
	if (end > buf && end[-1] == '\n')
		*--end = 0;
	last = strrchr(buf, '\n');
	last = last ? last + 1 : buf;
	if (!strcmp(last, "OK")) {
		status = 0;
	} else if (!strncmp(last, "ERR ", 4)) {
		status = atoi(last + 4);
		if (!status)
			status = 1;
	} else {
		vmxctl_err("%s: the answer ended without a status", socket_path);
		free(buf);
		return -EPROTO;
	}
	*last = 0;
	fputs(buf, status ? stderr : out);
	free(buf);
	return status;
}

/* ---- built-in control commands ---- */

static int ctl_help(struct vmxctl_machine *m, int argc, char **argv, FILE *out)
{
	unsigned int i;

	(void)m, (void)argc, (void)argv;
	for (i = 0; i < nr_controls; i++)
		fprintf(out, "%-12s %s\n", controls[i].name, controls[i].usage);
	return 0;
}

static int ctl_status(struct vmxctl_machine *m, int argc, char **argv,
		      FILE *out)
{
	unsigned int i;

	(void)argc, (void)argv;
	fprintf(out, "state %s\n", atomic_load(&m->pause_req) ? "paused" :
							       "running");
	fprintf(out, "vm-id %d\n", vmxlite_get_vm_id(m->vm_fd));
	fprintf(out, "vcpus %u\n", m->nr_vcpus);
	fprintf(out, "mem %llu\n", (unsigned long long)m->cfg.mem_size);
	fprintf(out, "smmu %s\n", m->cfg.smmu ? "yes" : "no");
	for (i = 0; i < m->nr_devices; i++)
		fprintf(out, "device %s\n", m->devices[i]->name);
	return 0;
}

static int ctl_pause(struct vmxctl_machine *m, int argc, char **argv,
		     FILE *out)
{
	(void)argc, (void)argv;
	if (atomic_load(&m->pause_req)) {
		fprintf(out, "already paused\n");
		return 1;
	}
	if (vmxctl_pause(m)) {
		fprintf(out, "the machine is stopping\n");
		return 1;
	}
	return 0;
}

static int ctl_resume(struct vmxctl_machine *m, int argc, char **argv,
		      FILE *out)
{
	(void)argc, (void)argv;
	if (!atomic_load(&m->pause_req)) {
		fprintf(out, "not paused\n");
		return 1;
	}
	vmxctl_resume(m);
	return 0;
}

static int ctl_stop(struct vmxctl_machine *m, int argc, char **argv, FILE *out)
{
	int code = argc > 1 ? atoi(argv[1]) : 0;

	if (code < 0 || code > 255) {
		fprintf(out, "stop: code %s out of range 0-255\n", argv[1]);
		return 1;
	}
	vmxctl_machine_stop(m, code);
	return 0;
}

static int ctl_regs(struct vmxctl_machine *m, int argc, char **argv, FILE *out)
{
	static const char *const names[] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		"rip", "rflags",
	};
	struct vmxctl_vcpu_state *st;
	unsigned int cpu = argc > 1 ? (unsigned int)atoi(argv[1]) : 0, i;
	__u64 *r;
	int ret;

	if (cpu >= m->nr_vcpus) {
		fprintf(out, "regs: no vCPU %s\n", argv[1]);
		return 1;
	}
	st = malloc(sizeof(*st));
	if (!st || vmxctl_pause(m)) {
		free(st);
		fprintf(out, "regs: cannot pause\n");
		return 1;
	}
	ret = vmxctl_get_vcpu_state(m, cpu, st);
	vmxctl_resume(m);
	if (ret) {
		fprintf(out, "regs: vCPU %u: %s\n", cpu, strerror(-ret));
		free(st);
		return 1;
	}
	r = &st->regs.rax;
	for (i = 0; i < ARRAY_SIZE(names); i++)
		fprintf(out, "%s 0x%llx\n", names[i], (unsigned long long)r[i]);
	fprintf(out, "cr0 0x%llx\ncr3 0x%llx\ncr4 0x%llx\nefer 0x%llx\n",
		(unsigned long long)st->sregs.cr0,
		(unsigned long long)st->sregs.cr3,
		(unsigned long long)st->sregs.cr4,
		(unsigned long long)st->sregs.efer);
	fprintf(out, "cs 0x%x\n", st->sregs.cs.selector);
	/* Not the TSC: it runs on, so two dumps of one state would differ. */
	for (i = 0; i < st->nmsrs; i++)
		if (st->msrs[i].index != 0x10)
			fprintf(out, "msr 0x%x 0x%llx\n", st->msrs[i].index,
				(unsigned long long)st->msrs[i].data);
	free(st);
	return 0;
}

static int ctl_dump_mem(struct vmxctl_machine *m, int argc, char **argv,
			FILE *out)
{
	unsigned int i;
	uint64_t off;
	ssize_t n;
	int fd, ret = 0;

	if (argc != 2) {
		fprintf(out, "usage: dump-mem FILE\n");
		return 1;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(out, "dump-mem: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (vmxctl_pause(m)) {
		close(fd);
		fprintf(out, "dump-mem: cannot pause\n");
		return 1;
	}
	for (i = 0; i < m->nr_slots && !ret; i++) {
		struct vmxctl_slot *s = &m->slots[i];

		for (off = 0; off < s->size; off += n) {
			n = pwrite(fd, (char *)s->hva + off, s->size - off,
				   s->gpa + off);
			if (n <= 0) {
				fprintf(out, "dump-mem: %s: %s\n", argv[1],
					n ? strerror(errno) : "short write");
				ret = 1;
				break;
			}
		}
	}
	vmxctl_resume(m);
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* building and running the machine                                    */
/* ------------------------------------------------------------------ */

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

static int create_machine(struct vmxctl_machine *m)
{
	struct vmxl_caps caps;
	unsigned int i;
	void *mem;
	int ret;

	m->sys_fd = vmxlite_open();
	if (m->sys_fd < 0) {
		vmxctl_err("%s: %s (is vmx_lite.ko loaded?)", VMXLITE_DEV,
			   strerror(-m->sys_fd));
		return VMXCTL_EXIT_UNAVAILABLE;
	}
	ret = vmxlite_get_caps(m->sys_fd, &caps);
	if (ret) {
		vmxctl_err("VMXL_GET_CAPS: %s", strerror(-ret));
		return VMXCTL_EXIT_UNAVAILABLE;
	}
	if (m->cfg.nr_cpus > caps.max_vcpus) {
		vmxctl_err("--cpus %u: the module allows at most %u",
			   m->cfg.nr_cpus, caps.max_vcpus);
		return VMXCTL_EXIT_USAGE;
	}
	if (m->cfg.mem_size > caps.max_mem_bytes) {
		vmxctl_err("--mem %llu MiB: the module allows at most %llu MiB (max_mem_mb)",
			   (unsigned long long)(m->cfg.mem_size >> 20),
			   (unsigned long long)(caps.max_mem_bytes >> 20));
		return VMXCTL_EXIT_USAGE;
	}
	m->run_size = caps.run_mmap_size;
	m->vm_fd = vmxlite_create_vm(m->sys_fd, 0);
	if (m->vm_fd < 0) {
		vmxctl_err("VMXL_CREATE_VM: %s", strerror(-m->vm_fd));
		return VMXCTL_EXIT_UNAVAILABLE;
	}

	mem = mmap(NULL, m->cfg.mem_size, PROT_READ | PROT_WRITE,
		   /* cppcheck-suppress invalidFunctionArg ; fd -1: anonymous */
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		vmxctl_err("mmap of %llu bytes of guest RAM: %s",
			   (unsigned long long)m->cfg.mem_size,
			   strerror(errno));
		return VMXCTL_EXIT_OSERR;
	}
	m->slots[0] = (struct vmxctl_slot){
		.slot = 0, .gpa = 0, .size = m->cfg.mem_size, .hva = mem,
	};
	m->nr_slots = 1;
	m->dev_dirty[0] = calloc(slot_words(&m->slots[0]), 8);
	if (!m->dev_dirty[0])
		return VMXCTL_EXIT_OSERR;
	ret = vmxlite_set_memory_region(m->vm_fd, 0, 0, 0, m->cfg.mem_size,
					mem);
	if (ret) {
		vmxctl_err("VMXL_SET_MEMORY_REGION (slot 0, GPA 0, %llu bytes): %s%s",
			   (unsigned long long)m->cfg.mem_size, strerror(-ret),
			   ret == -ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
		return VMXCTL_EXIT_OSERR;
	}
	if (m->cfg.smmu) {
		struct vmxl_smmu_config sc = {
			.base_gpa = VMXCTL_SMMU_GPA,
			.sid_bits = 8,
		};

		ret = vmxlite_create_smmu(m->vm_fd, &sc);
		if (ret) {
			vmxctl_err("VMXL_CREATE_SMMU at GPA 0x%llx: %s",
				   VMXCTL_SMMU_GPA, strerror(-ret));
			return VMXCTL_EXIT_OSERR;
		}
	}
	for (i = 0; i < m->cfg.nr_cpus; i++) {
		struct vcpu *v = &m->vcpus[i];

		v->m = m;
		v->id = i;
		v->settled = true;
		v->fd = vmxlite_create_vcpu(m->vm_fd, i);
		if (v->fd < 0) {
			vmxctl_err("VMXL_CREATE_VCPU %u: %s", i,
				   strerror(-v->fd));
			return VMXCTL_EXIT_OSERR;
		}
		ret = vmxlite_map_run(v->fd, m->run_size, &v->run);
		if (ret) {
			v->run = NULL;
			vmxctl_err("mmap of vCPU %u's run page: %s", i,
				   strerror(-ret));
			return VMXCTL_EXIT_OSERR;
		}
		m->nr_vcpus = i + 1;
	}
	ret = vmxctl_uart_create(m, m->cfg.serial);
	if (ret)
		return ret;
	if (m->cfg.disk) {
		ret = vmxctl_virtio_blk_create(m, m->cfg.disk);
		if (ret)
			return ret;
	}
	return 0;
}

static void destroy_machine(struct vmxctl_machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++)
		if (m->devices[i]->ops->destroy)
			m->devices[i]->ops->destroy(m->devices[i]);
	for (i = 0; i < m->nr_vcpus; i++) {
		if (m->vcpus[i].run)
			vmxlite_unmap_run(m->vcpus[i].run, m->run_size);
		close(m->vcpus[i].fd);
	}
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->sys_fd >= 0)
		close(m->sys_fd);
	for (i = 0; i < m->nr_slots; i++) {
		munmap(m->slots[i].hva, m->slots[i].size);
		free(m->dev_dirty[i]);
	}
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
"  --serial stdio|FILE UART 0x3f8 output: stdout (input from stdin) or FILE\n"
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
"failure); 71 ioctl or system error; 72 restore failed; 130 SIGINT;\n"
"143 SIGTERM.\n", VMXCTL_VIRTIO_BLK_GPA, VMXCTL_SMMU_GPA, VMXCTL_EXIT_PORT);
}

static int cmd_run(int argc, char **argv)
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
	struct sigaction sa = { .sa_handler = sigusr1 };
	unsigned int i;
	int c, ret;

	m->cfg.mem_size = 64ULL << 20;
	m->cfg.nr_cpus = 1;
	m->cfg.serial = "stdio";
	m->sys_fd = m->vm_fd = m->control_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);

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
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(m->wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		vmxctl_err("pipe: %s", strerror(errno));
		return VMXCTL_EXIT_OSERR;
	}

	ret = create_machine(m);
	if (!ret && m->cfg.restore) {
		if (snapshot_ops->restore(m, m->cfg.restore))
			ret = VMXCTL_EXIT_RESTORE;
	} else if (!ret) {
		ret = vmxctl_load_guest(m, m->cfg.guest, load, have_load,
					entry, have_entry);
	}
	if (!ret && m->cfg.control)
		ret = control_start(m, m->cfg.control);
	if (ret) {
		atomic_store(&m->stopping, true);
		if (write(m->wake_pipe[1], "x", 1) < 0) {
			/* nothing waits */
		}
		goto out;
	}
	pthread_create(&sigthr, NULL, signal_thread, m);
	pthread_detach(sigthr);

	for (i = 0; i < m->nr_vcpus; i++) {
		struct vcpu *v = &m->vcpus[i];

		if (pthread_create(&v->thread, NULL, vcpu_thread, v)) {
			vmxctl_err("vCPU %u thread: %s", i, strerror(errno));
			vmxctl_machine_stop(m, VMXCTL_EXIT_OSERR);
			break;
		}
		pthread_mutex_lock(&m->lock);
		v->started = true;
		pthread_mutex_unlock(&m->lock);
	}
	/* A stop before every thread existed must still reach them all. */
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->stopping))
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
	kick_vcpus(m);
	for (i = 0; i < m->nr_vcpus; i++)
		if (m->vcpus[i].started)
			pthread_join(m->vcpus[i].thread, NULL);
	ret = m->status;
out:
	if (m->control_started) {
		pthread_join(m->control_thread, NULL);
		unlink(m->cfg.control);
	}
	destroy_machine(m);
	return ret;
}

/* ---- vmxctl control ---- */

static int cmd_control(int argc, char **argv)
{
	char line[4096] = "";
	size_t len = 0;
	int i, ret;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: vmxctl control SOCKET COMMAND [ARGS...]\n"
		       "Send COMMAND to the vmxctl run listening on SOCKET (--control)\n"
		       "and print its answer; 'help' lists the commands.\n"
		       "Exit status: 0 done, 1 (or the command's status) failed,\n"
		       "64 usage, 66 the socket could not be used.\n");
		return 0;
	}
	if (argc < 3) {
		vmxctl_err("usage: vmxctl control SOCKET COMMAND [ARGS...]");
		return VMXCTL_EXIT_USAGE;
	}
	for (i = 2; i < argc; i++) {
		ret = snprintf(line + len, sizeof(line) - len, "%s%s",
			       i > 2 ? " " : "", argv[i]);
		if (ret < 0 || (size_t)ret >= sizeof(line) - len) {
			vmxctl_err("control: command too long");
			return VMXCTL_EXIT_USAGE;
		}
		len += ret;
	}
	ret = vmxctl_control_request(argv[1], line, stdout);
	return ret < 0 ? VMXCTL_EXIT_NOINPUT : ret;
}

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: vmxctl COMMAND [ARGS...]   (vmxctl COMMAND --help)\n");
	for (i = 0; i < nr_commands; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int i;

	vmxctl_register_command("run", "start a VM and run a guest in it",
				cmd_run);
	vmxctl_register_command("control", "send a command to a running vmxctl",
				cmd_control);
	vmxctl_register_command("help", "this list", cmd_help);
	vmxctl_register_control("help", "list the commands", ctl_help);
	vmxctl_register_control("status", "state, VM id, vCPUs, RAM, devices",
				ctl_status);
	vmxctl_register_control("pause", "stop every vCPU at a safe point",
				ctl_pause);
	vmxctl_register_control("resume", "continue after pause", ctl_resume);
	vmxctl_register_control("stop", "[CODE]: end the run with exit status CODE",
				ctl_stop);
	vmxctl_register_control("regs", "[CPU]: registers and MSRs (but the TSC) of a vCPU",
				ctl_regs);
	vmxctl_register_control("dump-mem", "FILE: write guest RAM to FILE",
				ctl_dump_mem);
	if (vmxctl_snapshot_init)
		vmxctl_snapshot_init();

	if (argc < 2) {
		usage(stderr);
		return VMXCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < nr_commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	vmxctl_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return VMXCTL_EXIT_USAGE;
}
