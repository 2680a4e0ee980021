// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon's names and formats: counters, vCPU states, exit reasons and
 * events by name; counters, sizes and the time as text and JSON.
 */
#include <inttypes.h>
#include <string.h>

#include "lib/libvmxlite.h"
#include "vmxmon.h"

static const char *const stat_names[] = {
	[VMXL_STAT_EXITS] = "exits",
	[VMXL_STAT_USER] = "user",
	[VMXL_STAT_IO] = "io",
	[VMXL_STAT_NPF] = "npf",
	[VMXL_STAT_CPUID] = "cpuid",
	[VMXL_STAT_MSR] = "msr",
	[VMXL_STAT_HLT] = "hlt",
	[VMXL_STAT_HYPERCALL] = "hypercall",
	[VMXL_STAT_HOST_INTR] = "host_intr",
	[VMXL_STAT_WINDOW] = "window",
	[VMXL_STAT_CR_DR] = "cr_dr",
	[VMXL_STAT_OTHER] = "other",
	[VMXL_STAT_MSR_UNKNOWN] = "msr_unknown",
};

static const char *const state_names[] = {
	[VMXL_VCPU_STOPPED] = "stopped",
	[VMXL_VCPU_RUNNING] = "running",
	[VMXL_VCPU_HALTED] = "halted",
};

static const struct {
	uint8_t cmd;
	const char *name;
} event_names[] = {
	{ VMXL_EVT_VM_CREATED, "vm-created" },
	{ VMXL_EVT_VM_DESTROYED, "vm-destroyed" },
	{ VMXL_EVT_VCPU_CREATED, "vcpu-created" },
	{ VMXL_EVT_VCPU_STOPPED, "vcpu-stopped" },
	{ VMXL_EVT_STATS, "stats" },
	{ VMXL_EVT_SMMU_FAULT, "smmu-fault" },
};

/* Name from a table, or "<prefix>N" in @buf for values it lacks. */
static const char *table_name(const char *const *tab, size_t n, unsigned int v,
			      const char *prefix, char *buf, size_t len)
{
	if (v < n && tab[v])
		return tab[v];
	snprintf(buf, len, "%s%u", prefix, v);
	return buf;
}

const char *stat_name(unsigned int s)
{
	return s < ARRAY_SIZE(stat_names) ? stat_names[s] : NULL;
}

const char *state_name(uint32_t v, char *buf, size_t len)
{
	return table_name(state_names, ARRAY_SIZE(state_names), v, "state_",
			  buf, len);
}

const char *exit_name(uint32_t v, char *buf, size_t len)
{
	const char *n = vmxlite_exit_name(v);

	if (strcmp(n, "unknown"))
		return n;
	snprintf(buf, len, "exit_%u", v);
	return buf;
}

const char *event_name(uint8_t cmd, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(event_names); i++)
		if (event_names[i].cmd == cmd)
			return event_names[i].name;
	snprintf(buf, len, "event-%u", cmd);
	return buf;
}

void json_stats(const char *key, const struct stats *s)
{
	unsigned int i;

	json_open(key, '{');
	for (i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++)
		if (s->have[i] && stat_name(i))
			json_u64(stat_name(i), s->v[i]);
	json_close('}');
}

void text_stats(const struct stats *s)
{
	unsigned int i;

	for (i = VMXL_STAT_EXITS; i <= VMXL_STAT_MAX; i++)
		if (s->have[i] && stat_name(i))
			printf(" %s=%" PRIu64, stat_name(i), s->v[i]);
}

const char *dirty_name(uint32_t d)
{
	static const char *const names[] = {
		"off", "bitmap", "ring", "bitmap+ring",
	};

	return names[d & 3];
}

void fmt_size(char *buf, size_t len, uint64_t b)
{
	if (b && !(b % (1ULL << 30)))
		snprintf(buf, len, "%" PRIu64 "G", b >> 30);
	else if (b && !(b % (1ULL << 20)))
		snprintf(buf, len, "%" PRIu64 "M", b >> 20);
	else if (b && !(b % 1024))
		snprintf(buf, len, "%" PRIu64 "K", b >> 10);
	else
		snprintf(buf, len, "%" PRIu64, b);
}

void iso_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ld", ts.tv_nsec / 1000000);
}
