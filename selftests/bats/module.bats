#!/usr/bin/env bats
# Module load/unload and the device node.

load helpers

teardown() {
	unload_vmxl || true
}

@test "load and unload 20 times; node appears and goes" {
	for i in $(seq 20); do
		load_vmxl
		[ -c /dev/vmx-lite ]
		unload_vmxl
		[ ! -e /dev/vmx-lite ]
		[ ! -d /sys/module/vmx_lite ]
	done
}

@test "device node is a char device, mode 0660, owned by root" {
	load_vmxl
	[ -c /dev/vmx-lite ]
	[ "$(stat -c %a /dev/vmx-lite)" = 660 ]
	[ "$(stat -c %u:%g /dev/vmx-lite)" = 0:0 ]
	# a misc device: major 10
	[ "$(stat -c %t /dev/vmx-lite)" = a ]
}

@test "load logs one line naming the backend" {
	dmesg -c >/dev/null
	load_vmxl
	run dmesg
	[ "$(echo "$output" | grep -c 'vmx_lite:')" -eq 1 ]
	echo "$output" | grep -Eq 'vmx_lite: (version .*, backend (svm|vmx)|no usable backend|.* present but unusable)'
}

@test "module parameters are visible read-only" {
	load_vmxl
	[ "$(cat /sys/module/vmx_lite/parameters/max_vcpus)" -gt 0 ]
	[ "$(stat -c %a /sys/module/vmx_lite/parameters/max_vms)" = 444 ]
}
