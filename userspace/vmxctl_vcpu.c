// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the vCPU threads: enter the guest, handle its exits (port I/O
 * and MMIO to the device bus, HLT, failures), park while paused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

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
	struct vmxl_run *run = v->run;
	bool write = run->io.direction == VMXL_IO_OUT;
	uint64_t val = 0;

	if (write)
		memcpy(&val, run->io.data, run->io.size);
	if (!vmxctl_bus_pio(v->m, run->io.port, write, &val, run->io.size)) {
		/* nothing there: reads float high, writes vanish */
		if (!write)
			memset(run->io.data, 0xff, sizeof(run->io.data));
		return;
	}
	if (!write)
		memcpy(run->io.data, &val, run->io.size);
}

static void handle_mmio(struct vcpu *v)
{
	struct vmxl_run *run = v->run;
	uint64_t a = run->mmio.phys_addr, val = 0;
	bool write = run->mmio.is_write;

	if (write)
		memcpy(&val, run->mmio.data, run->mmio.len);
	if (!vmxctl_bus_mmio(v->m, a, write, &val, run->mmio.len)) {
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
		case VMXL_EXIT_EOI:
			v->settled = true;	/* the EOI is done */
			vmxctl_ioapic_eoi(m, run->eoi.vector);
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

void vmxctl_vcpu_signals(void)
{
	struct sigaction sa = { .sa_handler = sigusr1 };

	sigaction(SIGUSR1, &sa, NULL);
}

int vmxctl_machine_run(struct vmxctl_machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_vcpus; i++) {
		struct vcpu *v = &m->vcpus[i];
		int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

		if (ret) {
			vmxctl_err("vCPU %u thread: %s", i, strerror(ret));
			vmxctl_machine_stop(m, VMXCTL_EXIT_OSERR);
			break;
		}
		pthread_mutex_lock(&m->lock);
		v->started = true;
		pthread_mutex_unlock(&m->lock);
	}
	/*
	 * A stop before every thread existed must still reach them all.
	 * Meanwhile: the power button, and the stop when the guest did not
	 * power off in time after it.
	 */
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->stopping)) {
		if (m->power_button) {
			m->power_button = false;
			pthread_mutex_unlock(&m->lock);
			/* a press: an edge on the GED's pin */
			vmxctl_ioapic_set_irq(m, VMXCTL_GED_GSI, true);
			vmxctl_ioapic_set_irq(m, VMXCTL_GED_GSI, false);
			pthread_mutex_lock(&m->lock);
		} else if (!m->shutdown_by.tv_sec) {
			pthread_cond_wait(&m->cond, &m->lock);
		} else if (pthread_cond_timedwait(&m->cond, &m->lock,
						  &m->shutdown_by) == ETIMEDOUT &&
			   !atomic_load(&m->stopping)) {
			pthread_mutex_unlock(&m->lock);
			vmxctl_err("the guest did not power off: stopping it");
			vmxctl_machine_stop(m, 128 + SIGTERM);
			pthread_mutex_lock(&m->lock);
		}
	}
	pthread_mutex_unlock(&m->lock);
	vmxctl_kick_vcpus(m);
	for (i = 0; i < m->nr_vcpus; i++)
		if (m->vcpus[i].started)
			pthread_join(m->vcpus[i].thread, NULL);
	return m->status;
}
