#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The dkms lane (scripts/lane.sh dkms): the vmx_lite.ko that
# `make dkms-install` built and installed for the test kernel sits in
# /lib/modules/<abi>/updates/dkms of this guest (scripts/mkinitramfs.sh,
# DKMS_KO), and modprobe loads it from there by name.

setup_file() {
	[ -f /tests/dkms.env ] || return 0
	for m in vmx_lite kvm_amd kvm_intel kvm; do
		[ ! -d /sys/module/$m ] || rmmod $m
	done
}

setup() {
	[ -f /tests/dkms.env ] || skip "not the dkms lane (no /tests/dkms.env)"
	. /tests/dkms.env
	kver=$(uname -r)
	ko=/lib/modules/$kver/updates/dkms/vmx_lite.ko
}

@test "the DKMS module is in updates/dkms and in modules.dep" {
	[ -f "$ko" ]
	grep -q '^updates/dkms/vmx_lite.ko:' "/lib/modules/$kver/modules.dep"
}

@test "the DKMS module carries the dkms.conf version" {
	[ "$(modinfo -F version "$ko")" = "$dkms_version" ]
	[ "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$kver" ]
}

@test "modprobe vmx_lite loads the module from updates/dkms" {
	[ ! -d /sys/module/vmx_lite ]
	dmesg -c >/dev/null
	modprobe vmx_lite
	[ -d /sys/module/vmx_lite ]
	# The loaded module is that file: same source hash, same version.
	[ "$(cat /sys/module/vmx_lite/srcversion)" = "$dkms_srcversion" ]
	[ "$(cat /sys/module/vmx_lite/srcversion)" = "$(modinfo -F srcversion "$ko")" ]
	[ "$(cat /sys/module/vmx_lite/version)" = "$dkms_version" ]
	dmesg | grep -q "vmx_lite: version $dkms_version, backend svm"
}

@test "the DKMS module runs: /dev/vmx-lite answers vmxl-info" {
	[ -d /sys/module/vmx_lite ] || modprobe vmx_lite
	[ -c /dev/vmx-lite ]
	run vmxl-info
	[ "$status" -eq 0 ]
	[[ $output == *"backend       svm"* ]]
}

@test "modprobe -r vmx_lite unloads it" {
	[ -d /sys/module/vmx_lite ] || modprobe vmx_lite
	modprobe -r vmx_lite
	[ ! -d /sys/module/vmx_lite ]
}
