#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# One version everywhere: PACKAGE_VERSION in dkms.conf is the source;
# the module's MODULE_VERSION (modinfo) and the tools' --version say
# the same. Runs on the host (scripts/check.sh) against the built tree.

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	version=$(sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$/\1/p' "$top/dkms.conf")
}

@test "dkms.conf has exactly one PACKAGE_VERSION" {
	[ "$(grep -c '^PACKAGE_VERSION=' "$top/dkms.conf")" -eq 1 ]
	[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]
}

@test "no other file spells the version out" {
	# Sources must take it from the build (VMXL_VERSION, VMXL_PKG_VERSION).
	run grep -rnF "\"$version\"" "$top/kmod" "$top/uapi" "$top/userspace" \
		--include='*.[chS]' --include=Makefile --include=Kbuild
	[ "$status" -eq 1 ]
}

@test "modinfo of vmx_lite.ko shows the dkms.conf version" {
	[ -f "$top/vmx_lite.ko" ] || skip "vmx_lite.ko not built"
	[ "$(modinfo -F version "$top/vmx_lite.ko")" = "$version" ]
}

@test "vmxmon --version shows the dkms.conf version" {
	run "$top/userspace/vmxmon" --version
	[ "$status" -eq 0 ]
	[[ $output == "vmxmon (vmx-lite) $version, "* ]]
}

@test "vmxl-info --version shows the dkms.conf version" {
	run "$top/userspace/vmxl-info" --version
	[ "$status" -eq 0 ]
	[ "$output" = "vmxl-info (vmx-lite) $version" ]
}
