/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VMXL_KVMLOAD_H
#define VMXL_KVMLOAD_H

/*
 * Load KVM for this CPU's vendor (kvm_amd or kvm_intel with their
 * dependencies) or unload it again. 0 or -errno.
 */
int test_kvm_load(void);
int test_kvm_unload(void);
/* "kvm_amd", "kvm_intel" or NULL */
const char *test_kvm_vendor_module(void);

#endif
