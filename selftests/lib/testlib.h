/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the in-guest test programs. */
#ifndef VMXL_TESTLIB_H
#define VMXL_TESTLIB_H

#include <stdbool.h>
#include <linux/vmx_lite.h>

#define VMXL_DEV "/dev/vmx-lite"

/*
 * Load / unload a kernel module by name ("vmx_lite", "kvm_amd", ...)
 * from the guest's module folder; 0 or -errno. Loading a module that is
 * already loaded succeeds.
 */
int test_module_load(const char *name, const char *params);
int test_module_unload(const char *name);
bool test_module_loaded(const char *name);

/* Whether /proc/cpuinfo lists @flag on its "flags" or "vmx flags" line. */
bool test_cpuinfo_has(const char *flag);

/* tracefs, mounted by test_trace_events() when it is not yet. */
#define TEST_TRACEFS "/sys/kernel/tracing"

/* Write @val to tracefs file @name (e.g. "trace"); 0 or -errno. */
int test_tracefs_write(const char *name, const char *val);
/*
 * vmx-lite's trace events (the vmx_lite system) on, with an empty buffer,
 * or off; 0 or -errno.
 */
int test_trace_events(bool on);

#endif
