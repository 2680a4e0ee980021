#!/usr/bin/env bats
# vmxl-info: the capability report a user sees, and its exit codes.

load helpers

teardown() {
	unload_vmxl || true
}

@test "--help prints usage and exits 0" {
	run vmxl-info --help
	[ "$status" -eq 0 ]
	[[ $output == usage:* ]]
	[[ $output == *"lapic"* && $output == *"TSC rate"* ]]
}

@test "a bad argument exits 2" {
	run vmxl-info --frobnicate
	[ "$status" -eq 2 ]
}

@test "without the module: exit 3, names the device" {
	unload_vmxl
	run vmxl-info
	[ "$status" -eq 3 ]
	[[ $output == *"/dev/vmx-lite"*"is vmx_lite loaded?"* ]]
}

@test "reports the backend /proc/cpuinfo implies" {
	load_vmxl
	run vmxl-info
	if grep -qw svm /proc/cpuinfo && grep -qw npt /proc/cpuinfo; then
		[ "$status" -eq 0 ]
		[[ $output == *"backend       svm"* ]]
		[[ $output == *"status        ok"* ]]
		[[ $output == *" npt"* ]]
	elif ! grep -qw vmx /proc/cpuinfo; then
		[ "$status" -eq 1 ]
		[[ $output == *"backend       none"* ]]
	fi
}

@test "reports the TSC rate, and lapic exactly when guests can run with a known TSC rate" {
	load_vmxl
	run vmxl-info
	features=$(grep '^features' <<<"$output")
	tsc=$(awk '$1 == "tsc_khz" { print $2 }' <<<"$output")
	echo "# $features; tsc_khz $tsc" >&3
	[ -n "$features" ] && [ -n "$tsc" ]
	if [[ $output == *"status        ok"* && $tsc != unknown ]]; then
		[ "$tsc" -gt 0 ]
		[[ "$features " == *" lapic "* ]]
	else
		[[ "$features " != *" lapic "* ]]
	fi
}
