#!/bin/bash
# Install everything vmx-lite needs on Debian 12 and fill the download cache.
# Idempotent: each step checks first, so a second run does no work.
#
# Cache layout (all under .cache/, git-ignored):
#   kernel/<ABI>/      the test kernel image and its modules (dpkg -x)
#   kselftest/         kselftest_harness.h, kselftest.h from linux-source
#   kernel-tools/      checkpatch.pl and its data files from linux-source
#   abi                the ABI string, e.g. 6.1.0-56-amd64
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache
mkdir -p "$cache"

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: installing packages needs root (run: sudo $0)" >&2
		exit 1
	fi
}

# Build and test dependencies. Recommends are skipped: QEMU would pull a GUI.
# The vmx lane: bochs, its BIOS images, and isolinux + xorriso for the
# boot ISO. bochs needs some GUI package; bochs-term is the smallest
# (naming none makes apt pick bochs-wx, which pulls GTK). The lane itself
# uses the rfb display library built into bochs. `make bench` turns its
# results into JSON and a plot with jq and gnuplot; the guests' bats
# files run gojq as their jq (it starts 30 times faster). clang and its
# libFuzzer runtime build the SMMU fuzz target; python3 writes its seeds. `make dkms-install`
# and the dkms lane need dkms; `make lint` needs sparse and cppcheck (and
# the -cloud-amd64 / -rt-amd64 headers of the test ABI, installed below
# once the ABI is known). The debug lane's kernel (scripts/debug-kernel.sh)
# is built from linux-source-6.1, which wants bc, flex, bison, libelf
# (objtool) and libssl (the certificate tools). The host test of vmxctl's
# ACPI tables (selftests/host/acpi.bats) disassembles them with iasl
# (acpica-tools); nothing builds with it.
pkgs=(
	build-essential linux-headers-amd64 kmod cpio xz-utils
	qemu-system-x86 busybox-static bash bats
	libnl-3-dev libnl-genl-3-dev zlib1g-dev pkg-config
	jq gojq gnuplot-nox
	bochs bochs-term bochsbios vgabios isolinux syslinux-common xorriso
	dkms sparse cppcheck
	clang libclang-rt-14-dev python3
	bc flex bison libelf-dev libssl-dev
	acpica-tools
)

install_missing() { # install_missing PACKAGE...: apt-get what is not installed
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	need_root
	echo "deps.sh: installing ${missing[*]}"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >/dev/null
}
install_missing "${pkgs[@]}"

# The ABI moves with Debian security updates: derive it from the meta
# package rather than pinning a number.
abi=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 |
	grep -o 'linux-headers-[0-9][^ ,]*-amd64' | head -n1 |
	sed 's/^linux-headers-//')
if [ -z "$abi" ] || [ ! -d "/usr/src/linux-headers-$abi" ]; then
	echo "deps.sh: cannot derive the kernel ABI from linux-headers-amd64" >&2
	exit 1
fi
echo "$abi" >"$cache/abi.tmp" && mv "$cache/abi.tmp" "$cache/abi"

# `make lint` builds the module against the other flavours of the same
# ABI too: cloud-amd64 and rt-amd64 (PREEMPT_RT).
install_missing "linux-headers-${abi%-amd64}-cloud-amd64" \
	"linux-headers-${abi%-amd64}-rt-amd64"

fetch() { # fetch PACKAGE: download a .deb into $cache/debs, print its path
	local deb
	mkdir -p "$cache/debs"
	deb=$(ls "$cache/debs/$1"_*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		(cd "$cache/debs" && apt-get download -q "$1" >/dev/null 2>&1) || {
			echo "deps.sh: apt-get download $1 failed" >&2
			exit 1
		}
		deb=$(ls "$cache/debs/$1"_*.deb | head -n1)
	fi
	echo "$deb"
}

kdir=$cache/kernel/$abi
if [ ! -f "$kdir/boot/vmlinuz-$abi" ]; then
	deb=$(fetch "linux-image-$abi-unsigned")
	rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
	dpkg -x "$deb" "$kdir.tmp"
	rm -rf "$kdir" && mv "$kdir.tmp" "$kdir"
	rm -f "$deb"
fi

if [ ! -f "$cache/kselftest/kselftest_harness.h" ] ||
   [ ! -f "$cache/kernel-tools/scripts/checkpatch.pl" ]; then
	deb=$(fetch linux-source-6.1)
	tmp=$cache/src.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	src=linux-source-6.1
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO ./usr/src/linux-source-6.1.tar.xz |
		tar -xJ -C "$tmp" \
			$src/tools/testing/selftests/kselftest_harness.h \
			$src/tools/testing/selftests/kselftest.h \
			$src/scripts/checkpatch.pl \
			$src/scripts/spelling.txt \
			$src/scripts/const_structs.checkpatch
	rm -rf "$cache/kselftest" "$cache/kernel-tools"
	mkdir -p "$cache/kselftest" "$cache/kernel-tools/scripts"
	mv "$tmp/$src"/tools/testing/selftests/kselftest*.h "$cache/kselftest/"
	mv "$tmp/$src"/scripts/* "$cache/kernel-tools/scripts/"
	rm -rf "$tmp" "$deb"
fi
