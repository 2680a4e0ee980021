# kmod/ and userspace/lib/ sources each host unit test compiles, the
# headers and libraries it needs (see ../Makefile).
UNIT_SRCS_test_x86_decode := $(TOP)/kmod/x86_decode.c
UNIT_SRCS_test_smmu := $(TOP)/kmod/smmu.c
# The snapshot library is every userspace/lib/snapshot*.c.
UNIT_SRCS_test_snapshot := $(sort $(wildcard $(TOP)/userspace/lib/snapshot*.c))
UNIT_HDRS_test_snapshot := $(wildcard $(TOP)/userspace/lib/snapshot*.h) $(TOP)/uapi/linux/vmx_lite.h
UNIT_LIBS_test_snapshot := -lz -lpthread
# vmxctl's machine as vmxctl builds it, without main (vmxctl.c: the test
# has its own vmxctl_err) and snapshots.
VMXCTL_UNIT_SRCS := $(filter-out %/vmxctl_snapshot.c %/vmxctl_snapshot_info.c,$(wildcard $(TOP)/userspace/vmxctl_*.c)) \
		    $(TOP)/userspace/lib/libvmxlite.c
VMXCTL_UNIT_HDRS := $(wildcard $(TOP)/userspace/vmxctl*.h) $(TOP)/userspace/lib/libvmxlite.h \
		    $(TOP)/uapi/linux/vmx_lite.h
UNIT_SRCS_test_bus := $(VMXCTL_UNIT_SRCS)
UNIT_HDRS_test_bus := $(VMXCTL_UNIT_HDRS)
UNIT_LIBS_test_bus := -lpthread
UNIT_SRCS_test_devices := $(VMXCTL_UNIT_SRCS)
UNIT_HDRS_test_devices := $(VMXCTL_UNIT_HDRS)
UNIT_LIBS_test_devices := -lpthread -Wl,--wrap=vmxlite_signal_msi
# The Linux platform devices, with VMXL_SIGNAL_MSI and time() faked by
# the test (it defines __wrap_vmxlite_signal_msi and __wrap_time).
UNIT_SRCS_test_platform := $(VMXCTL_UNIT_SRCS)
UNIT_HDRS_test_platform := $(VMXCTL_UNIT_HDRS)
UNIT_LIBS_test_platform := -lpthread -Wl,--wrap=vmxlite_signal_msi -Wl,--wrap=time
UNIT_SRCS_test_acpi := $(VMXCTL_UNIT_SRCS)
UNIT_HDRS_test_acpi := $(VMXCTL_UNIT_HDRS)
UNIT_LIBS_test_acpi := -lpthread
# The Linux loader into a RAM buffer of the test's (vmxctl_linux.c).
UNIT_SRCS_test_linux := $(VMXCTL_UNIT_SRCS)
UNIT_HDRS_test_linux := $(VMXCTL_UNIT_HDRS)
UNIT_LIBS_test_linux := -lpthread
# The console (vmxctl_console.c) on a pseudo-terminal.
UNIT_SRCS_test_console := $(VMXCTL_UNIT_SRCS)
UNIT_HDRS_test_console := $(VMXCTL_UNIT_HDRS)
UNIT_LIBS_test_console := -lpthread
