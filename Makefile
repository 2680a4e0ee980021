# SPDX-License-Identifier: GPL-2.0
# vmx-lite top-level Makefile. kbuild reads ./Kbuild, never this file.
#
#   make                 module + userspace + selftests
#   make check           host unit tests and the in-guest lanes: QEMU SVM
#                        and Bochs VMX (LANES=svm for the quick one only)
#   make bench           the benchmarks in each lane, side by side with KVM:
#                        table, results/bench.{json,txt,png}
#   make module          just vmx_lite.ko
#   make deps            install packages and fill .cache/ (scripts/deps.sh)
#
# KERNELRELEASE / KDIR pick the kernel to build against. Without them:
# the running kernel's build tree, or, where it has none (build machines),
# the headers of the pinned test kernel that `make check` boots.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CACHE := $(TOP)/.cache
TEST_ABI = $(shell cat $(CACHE)/abi 2>/dev/null)

KERNELRELEASE ?= $(shell uname -r)
ifeq ($(wildcard /lib/modules/$(KERNELRELEASE)/build),)
KDIR ?= /usr/src/linux-headers-$(TEST_ABI)
else
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
endif

LANES ?= svm vmx
export LANES

.PHONY: all module userspace selftests unit check bench deps clean

all: $(CACHE)/abi module userspace selftests

# Run the dependency script whenever the cache it fills is missing.
$(CACHE)/abi:
	$(TOP)/scripts/deps.sh

deps:
	$(TOP)/scripts/deps.sh

module: $(CACHE)/abi
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules

userspace:
	$(MAKE) -C $(TOP)/userspace

selftests: $(CACHE)/abi
	$(MAKE) -C $(TOP)/selftests

unit: $(CACHE)/abi
	$(MAKE) -C $(TOP)/selftests unit

# The lanes boot the pinned test kernel, so the module is always built
# against its headers here, whatever KDIR says.
check: deps
	$(MAKE) -f $(TOP)/Makefile module KDIR=/usr/src/linux-headers-$(TEST_ABI)
	$(MAKE) -f $(TOP)/Makefile userspace selftests unit
	$(TOP)/scripts/check.sh

bench: deps
	$(MAKE) -f $(TOP)/Makefile module KDIR=/usr/src/linux-headers-$(TEST_ABI)
	$(MAKE) -f $(TOP)/Makefile userspace selftests
	$(TOP)/scripts/bench.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	$(MAKE) -C $(TOP)/selftests clean
	$(MAKE) -C $(TOP)/userspace clean
	rm -rf $(TOP)/build
