#!/bin/bash
# Build the initramfs a test lane boots: busybox, bash and bats with the
# shared libraries they need, the test programs, vmx_lite.ko and the test
# kernel's modules that tests load (KVM as the reference hypervisor).
#
#   scripts/mkinitramfs.sh OUT.cpio
#
# Uncompressed: under Bochs the kernel took 6.4 s to inflate a gzip -1
# image and 0.8 s to unpack this one; loading the larger file from the
# CD costs next to nothing.
#
# DKMS_KO=<a vmx_lite.ko that dkms installed> (the dkms lane, lane.sh):
# that module goes where DKMS puts it, /lib/modules/<abi>/updates/dkms,
# with the indexes modprobe reads (depmod -b); /lib/modules/vmxl/vmx_lite.ko
# becomes a link to it, and the selftests/dkms/*.bats files join the tests.
#
# The debug lane (lane.sh) boots another kernel: KERNEL_MODULES=<its
# lib/modules/<release>/kernel> gives the KVM modules to take, and
# VMXL_KO=<vmx_lite.ko built against it> replaces ./vmx_lite.ko.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
abi=$(cat "$top/.cache/abi")
kmods=${KERNEL_MODULES:-$top/.cache/kernel/$abi/lib/modules/$abi/kernel}
vmxl_ko=${VMXL_KO:-$top/vmx_lite.ko}
root=$(mktemp -d)
chmod 755 "$root"	# mktemp made it 0700: the guest's / for every uid
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/lib,usr/libexec,etc,proc,sys,dev,tmp,root}
mkdir -p "$root/lib/modules/vmxl" "$root/tests/bats"

cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
# bash for /init and bats (busybox has none); bats' shebang wants /usr/bin/env.
cp /bin/bash "$root/bin/bash"
cp /usr/bin/bats "$root/usr/bin/bats"
cp -r /usr/lib/bats-core "$root/usr/lib/"
cp -r /usr/libexec/bats-core "$root/usr/libexec/"
ln -sf /bin/env "$root/usr/bin/env"

# Test programs, bats files, userspace tools, modules.
cp "$top"/selftests/out/test_* "$top"/selftests/out/bench_* "$root/tests/"
for b in "$top"/selftests/bench_*.sh; do	# benchmarks in bash
	install -m 755 "$b" "$root/tests/$(basename "$b" .sh)"
done
# The benchmarks' KVM reference VMM for Linux guests (bench_linux_boot):
# QEMU with the firmware of its microvm machine, only for LANE_BENCH=1.
if [ "${LANE_BENCH:-0}" != 0 ]; then
	cp /usr/bin/qemu-system-x86_64 "$root/usr/bin/"
	mkdir -p "$root/usr/share/qemu"
	cp /usr/share/qemu/bios-microvm.bin /usr/share/qemu/linuxboot_dma.bin \
	   "$root/usr/share/qemu/"
fi
cp "$top"/userspace/vmxl-info "$top"/userspace/vmxmon "$root/usr/bin/"
cp "$top"/selftests/out/tools/* "$root/usr/bin/"	# bats helpers
# The bats files' jq is gojq: jq 1.6 compiles its builtin library at
# every start, 175 M instructions, 2.2 s under Bochs per call; gojq (Go,
# static) starts in 0.08 s and evaluates the same filters.
cp /usr/bin/gojq "$root/usr/bin/jq"
cp "$top"/selftests/bats/* "$root/tests/bats/"
# vmxctl with libvmxlite and its guests (userspace/demo-guest).
cp "$top"/userspace/vmxctl "$root/usr/bin/"
cp "$top"/userspace/lib/libvmxlite.so.0 "$root/usr/lib/"
mkdir -p "$root/usr/share/vmxctl"
cp "$top"/userspace/demo-guest/*.elf "$top"/userspace/demo-guest/*.bin \
   "$top"/scripts/guest-demo.sh "$root/usr/share/vmxctl/"
# The Linux guest (vmxctl-linux.bats): the test kernel as users have it
# (bzImage), its vmlinux for the PVH entry, and a busybox initramfs. The
# vmlinux (64 MiB) only where LINUX_VMLINUX names it (lane.sh).
mkdir -p "$root/usr/share/vmxctl/linux"
cp "$top/.cache/kernel/$abi/boot/vmlinuz-$abi" "$root/usr/share/vmxctl/linux/bzImage"
"$top/scripts/mklinuxguest.sh" "$root/usr/share/vmxctl/linux/initrd.gz"
[ -z "${LINUX_VMLINUX:-}" ] || cp "$LINUX_VMLINUX" "$root/usr/share/vmxctl/linux/vmlinux"
if [ -f "$vmxl_ko" ]; then
	cp "$vmxl_ko" "$root/lib/modules/vmxl/vmx_lite.ko"
else
	echo "mkinitramfs: warning: $vmxl_ko not built" >&2
fi
if [ -n "${DKMS_KO:-}" ]; then
	mkdir -p "$root/lib/modules/$abi/updates/dkms"
	cp "$DKMS_KO" "$root/lib/modules/$abi/updates/dkms/vmx_lite.ko"
	ln -sf "../$abi/updates/dkms/vmx_lite.ko" "$root/lib/modules/vmxl/vmx_lite.ko"
	# depmod wants the kernel's lists of built-in modules and an order.
	cp "$kmods"/../modules.builtin "$kmods"/../modules.builtin.modinfo \
		"$root/lib/modules/$abi/"
	echo updates/dkms/vmx_lite.ko >"$root/lib/modules/$abi/modules.order"
	depmod -b "$root" "$abi"
	cp "$top"/selftests/dkms/*.bats "$root/tests/bats/"
	# What the guest checks against: the version's source, dkms.conf.
	{
		echo "dkms_version=$(sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$/\1/p' "$top/dkms.conf")"
		echo "dkms_srcversion=$(modinfo -F srcversion "$DKMS_KO")"
	} >"$root/tests/dkms.env"
fi
# The test kernel's modules go in without Debian's appended signature:
# checking it (SHA-256 over the file, then RSA) took 4.7 of the 7.8 s
# that loading kvm and kvm_intel takes under Bochs, and the KVM tests
# load them once per test or per program. The kernel does not enforce
# signatures and is tainted by vmx_lite.ko anyway; the ELF file, and so
# the code that runs, is byte for byte Debian's.
unsign_module() { # SRC DST
	local size siglen

	if ! tail -c 28 "$1" | cmp -s - <(echo '~Module signature appended~'); then
		cp "$1" "$2"
		return
	fi
	# struct module_signature (12 bytes) ends in the big-endian sig_len.
	size=$(stat -c %s "$1")
	siglen=$(tail -c 32 "$1" | head -c 4 | od -An -tu4 --endian=big | tr -d ' ')
	head -c $((size - 28 - 12 - siglen)) "$1" >"$2"
}
for m in arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko \
	 arch/x86/kvm/kvm-intel.ko drivers/crypto/ccp/ccp.ko \
	 virt/lib/irqbypass.ko; do
	unsign_module "$kmods/$m" "$root/lib/modules/vmxl/$(basename "$m")"
done

# Shared libraries of every dynamic binary, with the loader.
for bin in "$root/bin/bash" "$root"/tests/test_* "$root"/tests/bench_* "$root"/usr/bin/vmxl-* \
	   "$root/usr/bin/vmxmon" "$root/usr/bin/vmxctl" "$root"/usr/bin/qemu-system-*; do
	ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

cp "$top/scripts/guest-init.sh" "$root/init"
chmod +x "$root/init"
echo "root:x:0:0:root:/root:/bin/bash" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

(cd "$root" && find . | cpio -o -H newc --quiet) >"$out"
