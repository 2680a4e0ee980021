# kmod/ and userspace/lib/ sources each host unit test compiles, the
# headers and libraries it needs (see ../Makefile).
UNIT_SRCS_test_x86_decode := $(TOP)/kmod/x86_decode.c
UNIT_SRCS_test_smmu := $(TOP)/kmod/smmu.c
# The snapshot library is every userspace/lib/snapshot*.c.
UNIT_SRCS_test_snapshot := $(sort $(wildcard $(TOP)/userspace/lib/snapshot*.c))
UNIT_HDRS_test_snapshot := $(wildcard $(TOP)/userspace/lib/snapshot*.h) $(TOP)/uapi/linux/vmx_lite.h
UNIT_LIBS_test_snapshot := -lz -lpthread
