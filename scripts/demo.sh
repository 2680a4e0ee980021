#!/bin/bash
# make demo: boot the QEMU SVM lane in demo mode (vmxl.demo=1: the guest
# runs scripts/guest-demo.sh instead of the tests) and show its console.
# Needs what `make` builds; `make demo` builds it first.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ -s "$top/.cache/abi" ] || "$top/scripts/deps.sh"
abi=$(cat "$top/.cache/abi")
dir=$top/build/demo
start=$(date +%s)

mkdir -p "$dir"
echo "==> vmx-lite demo: building the guest's initramfs"
"$top/scripts/mkinitramfs.sh" "$dir/initrd.cpio"
echo "==> booting Debian's 6.1 kernel under QEMU (emulated AMD SVM with nested paging)"
timeout -s KILL "${DEMO_TIMEOUT:-170}" qemu-system-x86_64 -machine q35 \
	-accel tcg,thread=single -cpu EPYC,+svm,+npt -m 1024 -smp 2 \
	-display none -monitor none -no-reboot \
	-kernel "$top/.cache/kernel/$abi/boot/vmlinuz-$abi" \
	-initrd "$dir/initrd.cpio" \
	-append "console=ttyS0 quiet loglevel=1 panic=-1 mitigations=off vmxl.demo=1" \
	-serial stdio </dev/null | tee "$dir/console.log" | grep -v '^\[' || true
echo "==> demo done in $(( $(date +%s) - start )) s (console: $dir/console.log)"
