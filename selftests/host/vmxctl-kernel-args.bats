#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vmxctl run --kernel: every file and option it refuses, on the build
# machine. Each is found before vmxctl opens /dev/vmx-lite (a user gets
# the file's problem without the module), with one line naming the file
# and the status docs/vmxctl.md gives. The bad kernels are made from the
# real test kernel with dd and truncate.

setup_file() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	abi=$(cat "$top/.cache/abi" 2>/dev/null)
	kernel=$top/.cache/kernel/$abi/boot/vmlinuz-$abi
	export top kernel
	[ -f "$kernel" ] || return 0
	d=$BATS_FILE_TMPDIR
	# The bzImage's payload is an xz stream holding the vmlinux ELF
	# (scripts/lane.sh decompresses it the same way).
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kernel" | head -n1 | cut -d: -f1)
	if [ -n "$off" ]; then
		xz -dc --single-stream <(tail -c +$((off + 1)) "$kernel") \
			>"$d/vmlinux" 2>/dev/null || rm -f "$d/vmlinux"
	fi
}

setup() {
	vmxctl=$top/userspace/vmxctl
	d=$BATS_FILE_TMPDIR
	[ -x "$vmxctl" ] || skip "vmxctl not built"
	[ -f "$kernel" ] || skip "no test kernel in .cache"
}

# run vmxctl; then: one line, naming $1, not about the device.
vmxctl_run() {
	run "$vmxctl" run "$@"
}

names() { # names WHAT: the message names WHAT and not the device
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "vmxctl: "*"$1"* ]]
	[[ $output != *"/dev/vmx-lite"* ]]
}

@test "a good kernel passes every check and reaches the device" {
	[ ! -e /dev/vmx-lite ] || skip "vmx-lite is loaded here: it would boot"
	vmxctl_run --kernel "$kernel"
	[ "$status" -eq 69 ]
	[[ $output == *"/dev/vmx-lite"* ]]
}

@test "a file that is not a kernel: 65" {
	vmxctl_run --kernel "$top/dkms.conf"
	[ "$status" -eq 65 ]
	names "$top/dkms.conf: not a Linux kernel"
}

@test "a bzImage with its setup header zeroed: 65" {
	cp "$kernel" "$d/zeroed"
	dd if=/dev/zero of="$d/zeroed" bs=1 seek=$((0x1f1)) count=$((0x7b)) \
		conv=notrunc status=none
	vmxctl_run --kernel "$d/zeroed"
	[ "$status" -eq 65 ]
	names "$d/zeroed: not a Linux kernel"
}

@test "a truncated bzImage: 65" {
	size=$(stat -c %s "$kernel")
	cp "$kernel" "$d/short"
	truncate -s $((size / 2)) "$d/short"
	vmxctl_run --kernel "$d/short"
	[ "$status" -eq 65 ]
	names "$d/short: truncated"
	# Cut inside the setup header too.
	head -c 600 "$kernel" >"$d/header"
	vmxctl_run --kernel "$d/header"
	[ "$status" -eq 65 ]
	names "$d/header: truncated"
}

@test "a bzImage of boot protocol 2.11, or without a 64-bit entry: 65" {
	cp "$kernel" "$d/old"
	printf '\x0b\x02' | dd of="$d/old" bs=1 seek=$((0x206)) conv=notrunc status=none
	vmxctl_run --kernel "$d/old"
	[ "$status" -eq 65 ]
	names "$d/old: a bzImage of boot protocol 2.11"
	cp "$kernel" "$d/no64"
	printf '\x00\x00' | dd of="$d/no64" bs=1 seek=$((0x236)) conv=notrunc status=none
	vmxctl_run --kernel "$d/no64"
	[ "$status" -eq 65 ]
	names "$d/no64: a bzImage without a 64-bit entry"
}

@test "a vmlinux without a PVH note, a truncated vmlinux: 65" {
	[ -f "$d/vmlinux" ] || skip "no vmlinux in the test kernel"
	# The note's type 18 (XEN_ELFNOTE_PHYS32_ENTRY) made 17.
	off=$(LC_ALL=C grep -obUaP '\x04\x00\x00\x00\x08\x00\x00\x00\x12\x00\x00\x00Xen\x00' \
		"$d/vmlinux" | head -n1 | cut -d: -f1)
	[ -n "$off" ]
	cp "$d/vmlinux" "$d/nopvh"
	printf '\x11' | dd of="$d/nopvh" bs=1 seek=$((off + 8)) conv=notrunc status=none
	vmxctl_run --kernel "$d/nopvh"
	[ "$status" -eq 65 ]
	names "$d/nopvh: a vmlinux without a PVH entry"
	head -c 20000000 "$d/vmlinux" >"$d/vshort"
	vmxctl_run --kernel "$d/vshort"
	[ "$status" -eq 65 ]
	names "$d/vshort: truncated"
}

@test "a kernel that does not fit in --mem: 65" {
	vmxctl_run --kernel "$kernel" --mem 64M
	[ "$status" -eq 65 ]
	names "$kernel: the kernel needs RAM up to"
}

@test "an initrd that does not fit in memory: 65" {
	truncate -s 200M "$d/initrd"
	vmxctl_run --kernel "$kernel" --initrd "$d/initrd" --mem 256M
	[ "$status" -eq 65 ]
	names "--initrd $d/initrd: 209715200 bytes do not fit"
	# With room, the same initrd passes (and the device is next).
	[ ! -e /dev/vmx-lite ] || return 0
	vmxctl_run --kernel "$kernel" --initrd "$d/initrd" --mem 512M
	[ "$status" -eq 69 ]
}

@test "a missing kernel or initrd: 66" {
	vmxctl_run --kernel "$d/nonexistent"
	[ "$status" -eq 66 ]
	names "$d/nonexistent: No such file"
	vmxctl_run --kernel "$kernel" --initrd "$d/nonexistent"
	[ "$status" -eq 66 ]
	names "--initrd $d/nonexistent: No such file"
}

@test "a command line longer than the kernel's cmdline_size: 64" {
	long=$(printf 'x%.0s' $(seq 2100))
	vmxctl_run --kernel "$kernel" --append "$long"
	[ "$status" -eq 64 ]
	names "$kernel: the command line would be"
	[[ $output == *"this kernel takes 2047" ]]
}

@test "--kernel with --mem above 3G: 64" {
	vmxctl_run --kernel "$kernel" --mem 4G
	[ "$status" -eq 64 ]
	names "--mem '4G'"
}

@test "--mem past 2^64 (2^34 + 1 GiB): 64, not 1G" {
	vmxctl_run --kernel "$kernel" --mem 17179869185G
	[ "$status" -eq 64 ]
	names "--mem '17179869185G'"
}

@test "--kernel with a GUEST, --load or --restore: 64" {
	vmxctl_run --kernel "$kernel" "$kernel"
	[ "$status" -eq 64 ]
	names "--kernel $kernel: takes no GUEST"
	vmxctl_run --kernel "$kernel" --load 0x7c00
	[ "$status" -eq 64 ]
	vmxctl_run --kernel "$kernel" --restore "$d/snap"
	[ "$status" -eq 64 ]
}

@test "--initrd, --append, --on-reboot without --kernel; a bad --on-reboot: 64" {
	vmxctl_run --initrd "$d/initrd" "$kernel"
	[ "$status" -eq 64 ]
	names "--initrd, --append and --on-reboot need --kernel"
	vmxctl_run --append quiet "$kernel"
	[ "$status" -eq 64 ]
	vmxctl_run --on-reboot=exit "$kernel"
	[ "$status" -eq 64 ]
	vmxctl_run --kernel "$kernel" --on-reboot=halt
	[ "$status" -eq 64 ]
	names "--on-reboot 'halt': not restart or exit"
}

@test "vmxctl run --help documents --kernel and exit status 73" {
	run "$vmxctl" run --help
	[ "$status" -eq 0 ]
	[[ $output == *"--kernel FILE"* ]]
	[[ $output == *"--on-reboot=restart|exit"* ]]
	[[ $output == *"console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off"* ]]
	[[ $output == *"73 Linux rebooted"* ]]
}
