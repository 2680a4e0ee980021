#!/bin/bash
# bench_linux_boot: the lanes' Linux guest (the Debian test kernel, the
# busybox initramfs of scripts/mklinuxguest.sh, 2 vCPUs, 128 MiB) booted
# by vmxctl on vmx-lite and by QEMU's microvm machine on KVM, in the same
# boot, each BENCH_RUNS times (default 3). The reference is QEMU: vmxctl
# has no KVM backend, and microvm is the KVM machine closest to vmxctl's
# (hardware-reduced ACPI, no PIT, PIC or RTC interrupt, virtio-mmio).
# Both get the same kernel file and command line (vmxctl's default plus
# what the lanes add), and the guest powers off as soon as /init runs.
#   linux_boot_to_prompt  launch of the VMM to the guest's /init line
#                         ("vmxl-guest: up"), on the host's clock: the
#                         whole boot, the VMM's own start included
#   linux_kernel_uptime   the guest kernel's /proc/uptime at that line:
#                         its clock starts after any decompression
# And the exits of one vmx-lite boot by reason (vmxmon, the VM's totals
# just before it powers off): BENCH lines with unit "exits", no reference.
# Exit 0, or 1 when a vmx-lite boot did not reach /init. A KVM boot that
# did not is left out of the reference and said (under QEMU's TCG, KVM
# loses timer interrupts: docs/benchmarks.md).
set -u
L=/usr/share/vmxctl/linux
M=/lib/modules/vmxl
RUNS=${BENCH_RUNS:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# The vmx lane (Bochs, GenuineIntel) boots the vmlinux: its bzImage
# spends 45 s decompressing itself. The other lanes the bzImage.
if grep -q GenuineIntel /proc/cpuinfo; then
	K=$L/vmlinux VENDOR=kvm-intel
else
	K=$L/bzImage VENDOR=kvm-amd
fi

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# boot NAME CMD...: run CMD (the guest's console on its stdout) until the
# guest's "up" line; records "<ms to it> <uptime in ms>" in $T/NAME.
boot() {
	local name=$1 t0 i up
	shift
	t0=$(now_ms)
	"$@" </dev/null >"$T/console" 2>"$T/err" &
	local pid=$!
	for ((i = 0; i < 1200; i++)); do	# 2 minutes
		up=$(grep -a -m1 '^vmxl-guest: up' "$T/console")
		[ -n "$up" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$up" ]; then
		echo "# $name: no /init line; console tail:"
		tail -n 20 "$T/console" "$T/err" | sed 's/^/#   /'
		kill -KILL $pid 2>/dev/null
		wait $pid 2>/dev/null
		return 1
	fi
	echo "$(($(now_ms) - t0)) $(echo "$up" | sed -n 's/.*uptime \([0-9]*\)\.\([0-9]*\).*/\1\2/p')0" >>"$T/$name"
	if [ "$name" = vmxl ] && [ ! -s "$T/exits" ]; then
		vmxmon --json list >"$T/exits" 2>/dev/null
	fi
	wait $pid
}

# stat FILE COLUMN: {"median":..,"min":..,"max":..,"n":..} in ns
stat() {
	awk -v c="$2" '{ print $c * 1000000 }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "{\"median\":%.0f,\"min\":%.0f,\"max\":%.0f,\"n\":%d}", m, v[1], v[NR], NR
		}'
}

insmod $M/vmx_lite.ko 2>/dev/null
khz=$(vmxl-info | awk '$1 == "tsc_khz" { print $2 }')
cmdline="console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off"
cmdline+=" tsc_early_khz=$khz mitigations=off vmxl_guest.poweroff"
fail=0
for ((r = 0; r < RUNS; r++)); do
	boot vmxl vmxctl run --kernel $K --initrd $L/initrd.gz --cpus 2 \
		--mem 128M --append "mitigations=off vmxl_guest.poweroff" || fail=1
done
rmmod vmx_lite

for m in irqbypass kvm $([ $VENDOR = kvm-amd ] && echo ccp) $VENDOR; do
	insmod $M/$m.ko $([ $m = kvm-intel ] && echo pml=0) 2>/dev/null
done
for ((r = 0; r < RUNS; r++)); do
	boot kvm qemu-system-x86_64 -M microvm,acpi=on,pit=off,pic=off,rtc=off \
		-accel kvm -cpu host -smp 2 -m 128 -kernel $K \
		-initrd $L/initrd.gz -append "$cmdline" -display none \
		-nodefaults -serial stdio -no-reboot ||
		echo "# KVM boot $r did not reach /init: left out"
done
for m in kvm_amd kvm_intel ccp kvm irqbypass; do rmmod $m 2>/dev/null; done

for metric in linux_boot_to_prompt:1 linux_kernel_uptime:2; do
	name=${metric%:*} col=${metric#*:}
	[ -s "$T/vmxl" ] || continue
	ref=null
	[ -s "$T/kvm" ] && ref=$(stat "$T/kvm" "$col")
	echo "BENCH {\"metric\":\"$name\",\"unit\":\"ns\",\"ref\":\"qemu-microvm-kvm\",\"ref_stat\":$ref,\"vmxl\":$(stat "$T/vmxl" "$col")}"
done
# exits by reason, one boot (vmxmon list's totals)
if [ -s "$T/exits" ]; then
	jq -c 'select(.stats) | .stats | to_entries[]' "$T/exits" 2>/dev/null |
		head -n 40 |
	while read -r e; do
		k=$(echo "$e" | jq -r .key) v=$(echo "$e" | jq -r .value)
		echo "BENCH {\"metric\":\"linux_boot_exits_$k\",\"unit\":\"exits\",\"ref\":null,\"ref_stat\":null,\"vmxl\":{\"median\":$v,\"min\":$v,\"max\":$v,\"n\":1}}"
	done
fi
exit $fail
