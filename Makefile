# SPDX-License-Identifier: GPL-2.0
# vmx-lite top-level Makefile. kbuild reads ./Kbuild, never this file.
#
#   make                 module + userspace + selftests
#   make check           host unit tests and the in-guest lanes: QEMU SVM,
#                        the same on a debug kernel (KASAN, lockdep, ...),
#                        Bochs VMX, DKMS (LANES=svm for the quick one only)
#   make bench           the benchmarks in each lane, side by side with KVM:
#                        table, results/bench.{json,txt,png}
#   make fuzz-ioctl-long a long run of the in-guest ioctl fuzzer (hours):
#                        FUZZ_IOCTL_CALLS, FUZZ_IOCTL_SEED, FUZZ_LANE
#   make lint            static gates: checkpatch, sparse + W=1 on three header
#                        flavours, cppcheck (scripts/lint.sh; CI runs it too)
#   make module          just vmx_lite.ko
#   make deps            install packages and fill .cache/ (scripts/deps.sh)
#   make demo            boot the QEMU lane in demo mode: vmxctl, the demo
#                        guest, vmxmon (scripts/demo.sh)
#   make install         module, uapi header, tools, man pages, udev rule
#                        (DESTDIR, PREFIX; see "Install" below)
#   make uninstall       remove exactly what `make install` installed
#   make dkms-install    sources to /usr/src/vmx-lite-VERSION, then dkms add,
#                        build, install (DKMS_KERNEL, default: KDIR's release)
#   make dkms-uninstall  dkms remove --all, and the sources
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

LANES ?= svm debug vmx dkms
export LANES

# The one version: PACKAGE_VERSION in dkms.conf (Kbuild and
# userspace/Makefile read it the same way).
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$$/\1/p' $(TOP)/dkms.conf)

.PHONY: all module userspace selftests unit check bench deps clean demo fuzz-ioctl-long linux
.PHONY: install uninstall dkms-install dkms-uninstall _dkms-install _dkms-uninstall lint

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

lint: deps
	$(TOP)/scripts/lint.sh

# selftests/test_fuzz_ioctl alone in one lane, with many more calls than
# make check's 20 000 (docs/testing.md): about 900 calls a second in the
# svm lane, so the default is about an hour. Timeouts follow the count.
FUZZ_IOCTL_CALLS ?= 3000000
ifeq ($(origin FUZZ_IOCTL_SEED),undefined)
FUZZ_IOCTL_SEED := $(shell date +%s)
endif
FUZZ_LANE ?= svm
fuzz-ioctl-long: deps
	$(MAKE) -f $(TOP)/Makefile module KDIR=/usr/src/linux-headers-$(TEST_ABI)
	$(MAKE) -f $(TOP)/Makefile userspace selftests
	@echo "fuzz-ioctl-long: $(FUZZ_LANE) lane, seed=$(FUZZ_IOCTL_SEED) calls=$(FUZZ_IOCTL_CALLS)"
	FUZZ_IOCTL_CALLS=$(FUZZ_IOCTL_CALLS) FUZZ_IOCTL_SEED=$(FUZZ_IOCTL_SEED) \
	LANE_FILTER=test_fuzz_ioctl \
	SUITE_TIMEOUT=$$(( $(FUZZ_IOCTL_CALLS) / 100 + 300 )) \
	LANE_TIMEOUT=$$(( $(FUZZ_IOCTL_CALLS) / 100 + 900 )) \
	$(TOP)/scripts/lane.sh $(FUZZ_LANE)

bench: deps
	$(MAKE) -f $(TOP)/Makefile module KDIR=/usr/src/linux-headers-$(TEST_ABI)
	$(MAKE) -f $(TOP)/Makefile userspace selftests
	$(MAKE) -C $(TOP)/selftests bench-host
	$(TOP)/scripts/bench.sh

# ---- Install ----
# DESTDIR stages the whole tree (packaging); PREFIX (default /usr/local)
# places the header, tools, libraries and man pages. The module goes to
# /lib/modules/<KDIR's release>/extra, the udev rule to /lib/udev/rules.d
# and the group's sysusers.d entry to /usr/lib/sysusers.d whatever
# PREFIX says: those are where kmod, udev and systemd look.
#
# What gets installed is these lists; a new tool, man page or library is
# one more word in one of them. A library's .so is given by its real file
# name (libvmxlite.so.0.1.0): install adds the SONAME link (read from the
# file) and the libvmxlite.so development link. A .pc.in file is
# installed without .in, with @PREFIX@, @LIBDIR@, @INCLUDEDIR@ and
# @VERSION@ filled in; man pages get @VERSION@.
INSTALL_BINS := userspace/vmxl-info userspace/vmxmon userspace/vmxctl
INSTALL_MAN1 := userspace/man/vmxl-info.1 userspace/man/vmxmon.1 \
		userspace/man/vmxctl.1
INSTALL_SHLIBS := userspace/lib/libvmxlite.so.0
INSTALL_STATIC := userspace/lib/libvmxlite.a
INSTALL_PC := userspace/lib/libvmxlite.pc.in
# Headers into INCLUDEDIR, beside linux/vmx_lite.h which they include.
INSTALL_HEADERS := userspace/lib/libvmxlite.h

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
UDEVRULESDIR ?= /lib/udev/rules.d
SYSUSERSDIR ?= /usr/lib/sysusers.d
# /dev/vmx-lite's group, as /dev/kvm's is kvm (dist/60-vmx-lite.rules).
VMXL_GROUP := vmx-lite
# The release modules_install uses (Debian's include/config/kernel.release
# says only 6.1.x; UTS_RELEASE is the ABI, 6.1.0-57-amd64).
KVER = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
MODDIR = $(DESTDIR)/lib/modules/$(KVER)

# depmod: always on the live system; under DESTDIR only when it holds a
# kernel's module tree already (a sysroot), else it is the package's
# postinst job.
define vmxl_depmod
	if [ -z "$(DESTDIR)" ] || [ -f "$(MODDIR)/modules.dep" ]; then \
		depmod -b "$(or $(DESTDIR),/)" $(KVER); fi
endef

install: module userspace
	@[ -n "$(KVER)" ] || { echo "install: no kernel release in $(KDIR)" >&2; exit 1; }
	# The kernel's modules_install; CONFIG_MODULE_SIG_ALL off: the kernel's
	# signing key is not shipped (Secure Boot: docs/troubleshooting.md).
	$(MAKE) -C $(KDIR) M=$(TOP) INSTALL_MOD_PATH=$(DESTDIR) \
		CONFIG_MODULE_SIG_ALL= modules_install
	$(vmxl_depmod)
	install -D -m 644 $(TOP)/uapi/linux/vmx_lite.h $(DESTDIR)$(INCLUDEDIR)/linux/vmx_lite.h
	for f in $(INSTALL_HEADERS); do \
		install -D -m 644 $(TOP)/$$f $(DESTDIR)$(INCLUDEDIR)/$${f##*/} || exit; done
	for f in $(INSTALL_BINS); do \
		install -D -m 755 $(TOP)/$$f $(DESTDIR)$(BINDIR)/$${f##*/} || exit; done
	for f in $(INSTALL_MAN1); do \
		install -d $(DESTDIR)$(MANDIR)/man1 && \
		sed 's/@VERSION@/$(VERSION)/g' $(TOP)/$$f >$(DESTDIR)$(MANDIR)/man1/$${f##*/} && \
		chmod 644 $(DESTDIR)$(MANDIR)/man1/$${f##*/} || exit; done
	for f in $(INSTALL_SHLIBS); do \
		n=$${f##*/}; so=$$(objdump -p $(TOP)/$$f | sed -n 's/^ *SONAME *//p'); \
		[ -n "$$so" ] || { echo "install: $$f has no SONAME" >&2; exit 1; }; \
		install -D -m 755 $(TOP)/$$f $(DESTDIR)$(LIBDIR)/$$n && \
		{ [ "$$so" = "$$n" ] || ln -sfn $$n $(DESTDIR)$(LIBDIR)/$$so; } && \
		ln -sfn $$so $(DESTDIR)$(LIBDIR)/$${n%%.so.*}.so || exit; done
	for f in $(INSTALL_STATIC); do \
		install -D -m 644 $(TOP)/$$f $(DESTDIR)$(LIBDIR)/$${f##*/} || exit; done
	for f in $(INSTALL_PC); do \
		n=$${f##*/}; install -d $(DESTDIR)$(PKGCONFIGDIR) && \
		sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		    $(TOP)/$$f >$(DESTDIR)$(PKGCONFIGDIR)/$${n%.in} || exit; done
	install -D -m 644 $(TOP)/dist/60-vmx-lite.rules $(DESTDIR)$(UDEVRULESDIR)/60-vmx-lite.rules
	install -D -m 644 $(TOP)/dist/vmx-lite.sysusers $(DESTDIR)$(SYSUSERSDIR)/vmx-lite.conf
	# On the live system: the group now, and the rule applied to a
	# /dev/vmx-lite that exists already.
	if [ -z "$(DESTDIR)" ]; then \
		getent group $(VMXL_GROUP) >/dev/null || groupadd --system $(VMXL_GROUP); \
		udevadm control --reload 2>/dev/null && \
		udevadm trigger --name-match=vmx-lite 2>/dev/null || true; fi

# The same lists, removed. The group stays (files may belong to it;
# `groupdel vmx-lite` removes it), as do directories others may share.
uninstall:
	@[ -n "$(KVER)" ] || { echo "uninstall: no kernel release in $(KDIR)" >&2; exit 1; }
	rm -f $(MODDIR)/extra/vmx_lite.ko
	-rmdir $(MODDIR)/extra 2>/dev/null
	[ ! -d $(MODDIR) ] || { $(vmxl_depmod); }
	rm -f $(DESTDIR)$(INCLUDEDIR)/linux/vmx_lite.h
	for f in $(INSTALL_HEADERS); do rm -f $(DESTDIR)$(INCLUDEDIR)/$${f##*/}; done
	for f in $(INSTALL_BINS); do rm -f $(DESTDIR)$(BINDIR)/$${f##*/}; done
	for f in $(INSTALL_MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$${f##*/}; done
	for f in $(INSTALL_SHLIBS); do \
		n=$${f##*/}; so=$$(objdump -p $(TOP)/$$f 2>/dev/null | sed -n 's/^ *SONAME *//p'); \
		rm -f $(DESTDIR)$(LIBDIR)/$$n $(DESTDIR)$(LIBDIR)/$${n%%.so.*}.so \
		      $${so:+$(DESTDIR)$(LIBDIR)/$$so}; done
	for f in $(INSTALL_STATIC); do rm -f $(DESTDIR)$(LIBDIR)/$${f##*/}; done
	for f in $(INSTALL_PC); do n=$${f##*/}; rm -f $(DESTDIR)$(PKGCONFIGDIR)/$${n%.in}; done
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-vmx-lite.rules $(DESTDIR)$(SYSUSERSDIR)/vmx-lite.conf

# ---- DKMS ----
# The kernel to build for: KDIR's (the running kernel, or on a build
# machine the test kernel), or DKMS_KERNEL=<release>. dkms uses
# /lib/modules/<release>/build, which the headers package provides.
DKMS_KERNEL ?= $(KVER)
DKMS_SRC := /usr/src/vmx-lite-$(VERSION)
# What DKMS builds from: the kbuild file, dkms.conf (the version) and
# the module's sources.
DKMS_FILES = Kbuild dkms.conf uapi/linux/vmx_lite.h \
	$(patsubst $(TOP)/%,%,$(wildcard $(TOP)/kmod/*.[chS] $(TOP)/kmod/*.inc))

# /usr/src and the dkms tree belong to the machine: installs from two
# checkouts take turns (lane.sh dkms holds the lock itself, until its
# initramfs has the module, and calls _dkms-install).
DKMS_LOCK := /tmp/vmx-lite-dkms.lock

dkms-install dkms-uninstall:
	flock $(DKMS_LOCK) $(MAKE) -f $(TOP)/Makefile _$@

_dkms-install: $(CACHE)/abi _dkms-uninstall
	@[ -n "$(DKMS_KERNEL)" ] || { echo "dkms-install: no kernel release (KDIR=$(KDIR))" >&2; exit 1; }
	mkdir -p $(DKMS_SRC)
	cd $(TOP) && cp --parents $(DKMS_FILES) $(DKMS_SRC)/
	dkms add -m vmx-lite -v $(VERSION)
	dkms build -m vmx-lite -v $(VERSION) -k $(DKMS_KERNEL)
	dkms install -m vmx-lite -v $(VERSION) -k $(DKMS_KERNEL)

_dkms-uninstall:
	if dkms status -m vmx-lite -v $(VERSION) | grep -q .; then \
		dkms remove -m vmx-lite -v $(VERSION) --all; fi
	rm -rf $(DKMS_SRC)

# Boot Linux under vmxctl (vmx_lite.ko loaded, VMX or SVM present): the
# test kernel, or LINUX_KERNEL=/boot/vmlinuz-..., with the busybox
# initramfs of the lanes' Linux guest; a shell on this terminal.
LINUX_KERNEL ?= $(TOP)/.cache/kernel/$(TEST_ABI)/boot/vmlinuz-$(TEST_ABI)
linux: deps userspace
	mkdir -p $(TOP)/build/linux-guest
	$(TOP)/scripts/mklinuxguest.sh $(TOP)/build/linux-guest/initrd.gz
	$(TOP)/userspace/vmxctl run --kernel $(LINUX_KERNEL) \
		--initrd $(TOP)/build/linux-guest/initrd.gz --cpus 2 --serial stdio

demo: deps
	$(MAKE) -f $(TOP)/Makefile module KDIR=/usr/src/linux-headers-$(TEST_ABI)
	$(MAKE) -f $(TOP)/Makefile userspace selftests
	$(TOP)/scripts/demo.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	$(MAKE) -C $(TOP)/selftests clean
	$(MAKE) -C $(TOP)/userspace clean
	rm -rf $(TOP)/build
