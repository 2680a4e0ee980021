/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixtures for tests that run each test once on vmx-lite and once on KVM
 * in the same boot (lib/gvm.h), after the idea of KVM selftests'
 * kvm_test_harness.h. Include it after kselftest_harness.h.
 *
 *	GVM_TEST_SUITE(lm, 2);
 *
 *	TEST_F(lm, sync_then_done)
 *	{
 *		struct gvm_exit e;
 *
 *		ASSERT_EQ(0, gvm_enter_long_mode(&self->vm, 0, guest_fn, 0, 0));
 *		ASSERT_UCALL(&self->vm, 0, &e, UCALL_DONE);
 *	}
 *
 * runs lm.vmxl.sync_then_done and then lm.kvm.sync_then_done, each with a
 * VM of 2 vCPUs in self->vm on its own hypervisor; variant->kind says
 * which. A fixture that needs more than the VM is written out with the
 * pieces GVM_TEST_SUITE is made of (test_dirty_log.c):
 *
 *	FIXTURE(dl) { struct gvm vm; uint8_t *mem; };
 *	GVM_VARIANTS(dl, GVM_VMXL_VARIANT(dl, vmxl_wp, "pml=0"));
 *	FIXTURE_SETUP(dl) { GVM_SETUP(2); ...more setup... }
 *	FIXTURE_TEARDOWN(dl) { GVM_TEARDOWN(); ...more teardown... }
 */
#ifndef VMXL_HARNESS_H
#define VMXL_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "gvm.h"
#include "kvmload.h"

/*
 * The fixture @fixture with the VM in self->vm, its variants (vmxl, any
 * GVM_VMXL_VARIANT()s given after @nr_vcpus, kvm), setup and teardown.
 */
#define GVM_TEST_SUITE(fixture, nr_vcpus, ...)				\
	FIXTURE(fixture) {						\
		struct gvm vm;						\
	};								\
	GVM_VARIANT_KINDS(fixture);					\
	FIXTURE_SETUP(fixture)						\
	{								\
		GVM_SETUP(nr_vcpus);					\
	}								\
	FIXTURE_TEARDOWN(fixture)					\
	{								\
		GVM_TEARDOWN();						\
	}								\
	GVM_VARIANT_LIST(fixture, ##__VA_ARGS__)

/*
 * The variants of @fixture: vmxl (vmx-lite as it loads by default), the
 * GVM_VMXL_VARIANT()s given after @fixture (one after the other, no
 * comma between them), then kvm. The tests run in this order.
 */
#define GVM_VARIANTS(fixture, ...)					\
	GVM_VARIANT_KINDS(fixture);					\
	GVM_VARIANT_LIST(fixture, ##__VA_ARGS__)

/* What a variant is: the hypervisor, and vmx_lite's module parameters. */
#define GVM_VARIANT_KINDS(fixture)					\
	FIXTURE_VARIANT(fixture) {					\
		enum gvm_kind kind;					\
		const char *vmxl_params;	/* NULL: the defaults */	\
	}

/*
 * The list of GVM_VARIANTS. KVM stays loaded from one kvm test to the
 * next, as loading it takes seconds under Bochs; a vmx-lite variant's
 * setup unloads it, and so does the destructor when the program ends,
 * so that the next program starts without it (the tests run in
 * children that _exit: only the harness's process runs it).
 */
#define GVM_VARIANT_LIST(fixture, ...)					\
	static void __attribute__((destructor))				\
	fixture##_unload_kvm_at_exit(void)				\
	{								\
		test_kvm_unload();					\
	}								\
	FIXTURE_VARIANT_ADD(fixture, vmxl) { .kind = GVM_VMXL };	\
	__VA_ARGS__							\
	FIXTURE_VARIANT_ADD(fixture, kvm) { .kind = GVM_KVM }

/* One more variant of @fixture: vmx_lite loaded with module parameters. */
#define GVM_VMXL_VARIANT(fixture, name, params)				\
	FIXTURE_VARIANT_ADD(fixture, name) {				\
		.kind = GVM_VMXL, .vmxl_params = (params)		\
	};

/*
 * In a FIXTURE_SETUP of a fixture with GVM_VARIANTS: load the variant's
 * hypervisor and create self->vm with @nr_vcpus vCPUs; the test is
 * skipped where this boot cannot load the hypervisor.
 */
#define GVM_SETUP(nr_vcpus) do {					\
	if (!gvm_test_setup(_metadata, &self->vm, variant->kind,	\
			    variant->vmxl_params, (nr_vcpus)))		\
		return;							\
} while (0)

/* In its FIXTURE_TEARDOWN: destroy self->vm, unload vmx-lite (not KVM). */
#define GVM_TEARDOWN() gvm_test_teardown(&self->vm, variant->kind)

/*
 * In a FIXTURE_SETUP: load the hypervisor of @kind, unloading the other;
 * skip the test where this boot cannot load it.
 */
#define GVM_LOAD_OR_SKIP(kind) do {					\
	if (!gvm_test_load(_metadata, (kind)))				\
		return;							\
} while (0)

/*
 * Run vCPU @cpu until its next ucall, into @e; any other exit fails the
 * test. Macros, so that a failure names the test's line.
 */
#define RUN_UCALL(vm, cpu, e) do {					\
	char __b[320];							\
	ASSERT_EQ(0, gvm_run(vm, cpu, e));				\
	ASSERT_EQ(GVM_EXIT_UCALL, (e)->reason)				\
		TH_LOG("%s", gvm_exit_str(e, __b, sizeof(__b)));	\
} while (0)

/* RUN_UCALL, and that ucall must be @want (UCALL_SYNC, UCALL_DONE, ...). */
#define ASSERT_UCALL(vm, cpu, e, want) do {				\
	char __b2[320];							\
	RUN_UCALL(vm, cpu, e);						\
	ASSERT_EQ((uint64_t)(want), (e)->uc.cmd)			\
		TH_LOG("%s", gvm_ucall_str(&(e)->uc, __b2, sizeof(__b2)));\
} while (0)

/*
 * What GVM_LOAD_OR_SKIP does; false when the test is skipped. ENOENT: no
 * module for this kernel; ENODEV: the CPU has neither VMX nor SVM;
 * EBUSY: another hypervisor holds it.
 */
static inline bool gvm_test_load(struct __test_metadata *_metadata,
				 enum gvm_kind kind)
{
	int ret = gvm_hypervisor_load(kind);

	if (ret == -ENOENT || ret == -ENODEV || ret == -EBUSY)
		SKIP(return false, "%s cannot be loaded here: %s",
		     gvm_kind_name(kind), strerror(-ret));
	ASSERT_EQ(0, ret);
	return true;
}

/* What GVM_SETUP does; false when the test is skipped. */
static inline bool gvm_test_setup(struct __test_metadata *_metadata,
				  struct gvm *vm, enum gvm_kind kind,
				  const char *vmxl_params, int nr_vcpus)
{
	/*
	 * A variant that asks for parameters fails, and is not skipped,
	 * when vmx_lite does not load with them.
	 */
	if (vmxl_params)
		ASSERT_EQ(0, gvm_vmxl_reload(vmxl_params));
	if (!gvm_test_load(_metadata, kind))
		return false;
	ASSERT_EQ(0, gvm_create(vm, kind, nr_vcpus));
	return true;
}

/* What GVM_TEARDOWN does. */
static inline void gvm_test_teardown(struct gvm *vm, enum gvm_kind kind)
{
	gvm_destroy(vm);
	if (kind == GVM_VMXL)
		gvm_hypervisor_unload(kind);
}

#endif
