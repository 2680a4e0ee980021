// SPDX-License-Identifier: GPL-2.0
#include <stddef.h>

#include "kvmload.h"
#include "testlib.h"

const char *test_kvm_vendor_module(void)
{
	if (test_cpuinfo_has("svm"))
		return "kvm_amd";
	if (test_cpuinfo_has("vmx"))
		return "kvm_intel";
	return NULL;
}

int test_kvm_load(void)
{
	const char *vendor = test_kvm_vendor_module();
	int ret;

	if (!vendor)
		return -19;	/* ENODEV */
	ret = test_module_load("irqbypass", NULL);
	if (!ret)
		ret = test_module_load("kvm", NULL);
	if (!ret && vendor[4] == 'a')
		ret = test_module_load("ccp", NULL);
	/*
	 * Bochs 2.7 logs unaligned addresses in the PML buffer, which trips
	 * WARN_ON(gpa & (PAGE_SIZE - 1)) in kvm_intel's vmx_flush_pml_buffer.
	 * Without PML, KVM logs dirty pages by write protection, the
	 * mechanism vmx-lite is compared with anyway.
	 */
	if (!ret)
		ret = test_module_load(vendor, vendor[4] == 'i' ?
				       "pml=0" : NULL);
	return ret;
}

int test_kvm_unload(void)
{
	int ret = 0;

	if (test_module_unload("kvm_amd"))
		ret = -1;
	if (test_module_unload("kvm_intel"))
		ret = -1;
	if (test_module_unload("kvm"))
		ret = -1;
	test_module_unload("ccp");
	test_module_unload("irqbypass");
	return ret;
}
