// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: stopping the machine, and pausing it at a safe point.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "lib/libvmxlite.h"
#include "vmxctl_machine.h"

void vmxctl_kick_vcpus(struct vmxctl_machine *m)
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
	vmxctl_kick_vcpus(m);
}

void vmxctl_machine_power_button(struct vmxctl_machine *m,
				  unsigned int grace_s)
{
	pthread_mutex_lock(&m->lock);
	m->power_button = true;
	clock_gettime(CLOCK_REALTIME, &m->shutdown_by);
	m->shutdown_by.tv_sec += grace_s;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
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
	vmxctl_kick_vcpus(m);
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
