# kmod/ sources each host unit test compiles (see ../Makefile).
UNIT_SRCS_test_x86_decode := $(TOP)/kmod/x86_decode.c
UNIT_SRCS_test_smmu := $(TOP)/kmod/smmu.c
