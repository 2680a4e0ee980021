#!/bin/bash
# Boot one test lane and judge it: scripts/lane.sh <lane>
#   svm   QEMU TCG, -cpu EPYC,+svm,+npt
#   vmx   Bochs, cpu model corei7_skylake_x (EPT, VPID, PML), from an ISO
#   dkms  the svm boot, with the module `make dkms-install` built and
#         installed for the test kernel (needs root), loaded by modprobe
#         from /lib/modules/<abi>/updates/dkms: runs selftests/dkms/
#         (and whatever LANE_FILTER adds)
#   debug the svm boot of a debug kernel (KASAN, UBSAN, kmemleak, lockdep:
#         scripts/debug-kernel.sh builds it once per machine), its KVM
#         modules, and vmx_lite.ko built against it; a kmemleak scan at
#         the end
# The guest runs every suite (scripts/guest-init.sh) and reports on its
# second serial port. The lane fails on a failed or missing test, a
# suite that crashed or timed out, a guest that did not finish, and any
# kernel warning, oops or similar in the log written after boot.
#
# Environment: V=1 shows the guest console live; LANE_FILTER=<text> runs
# only suites whose name contains it (=<name>: only the suite so named;
# a comma separates several); LANE_TIMEOUT=<s> bounds the whole
# boot (default 900); SUITE_TIMEOUT=<s> bounds each suite (default 180);
# LANE_BENCH=1 runs the benchmarks instead of the tests (scripts/bench.sh);
# FUZZ_IOCTL_SEED=<n>, FUZZ_IOCTL_CALLS=<n> go to test_fuzz_ioctl;
# LANE_LONG=1 runs the long forms of the suites that cut themselves
# short in the slow lanes (vmx, debug) to fit CI's time;
# LANE_DIR=<dir> writes the results there instead (runs still take turns).
# The debug lane's defaults are longer: LANE_TIMEOUT 4800, SUITE_TIMEOUT 600;
# the vmx lane's LANE_TIMEOUT is 4800.
# Writes build/lane-<lane>/{console.log,results.log,counts}; the vmx lane
# also boot.iso, bochsrc, bochs.log and bochs.out (Bochs' log, its stdout);
# the debug lane module.log and kmod/ (the module's build against its kernel).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
lane=${1:?usage: lane.sh <lane>}
dir=${LANE_DIR:-$top/build/lane-$lane}
[ -s "$top/.cache/abi" ] || "$top/scripts/deps.sh"
abi=$(cat "$top/.cache/abi")
kernel=$top/.cache/kernel/$abi/boot/vmlinuz-$abi
# Under KASAN, lockdep and kmemleak the kernel runs several times slower.
if [ "$lane" = debug ]; then
	: "${LANE_TIMEOUT:=4800}" "${SUITE_TIMEOUT:=600}"
fi
# Under Bochs the Linux guest's boots, snapshots and resets are most of
# the lane (vmxctl-linux 473 s, vmxctl-linux-snapshot 450 s,
# vmxctl-linux-reset 182 s of guest time): it took 3,743 s of wall time
# in CI (2026-12-03) beside the other lanes, and ran out of 4,800 s when
# the snapshot suite restored four snapshots here (it takes two now,
# LANE_LONG=1 four). 80 minutes: CI has 90.
[ "$lane" != vmx ] || : "${LANE_TIMEOUT:=4800}"
# The emulated CPUs make the 6.1 kernel warn about itself while booting:
# SRSO and RETBleed notices (spec_rstack_overflow=off still prints its
# own, hence mitigations=off for this throwaway test kernel) and, under
# Bochs, a WARN on its XSAVE sizes (noxsave, below). So the console log
# holds no WARNING the tests did not cause; only the log after boot is
# judged in any case (guest-init.sh).
append="console=ttyS0 loglevel=5 panic=-1 vmxl.timeout=${SUITE_TIMEOUT:-180}"
append+=" mitigations=off"
# The kernel's crypto self-tests took 12 of its 25 s of boot under
# Bochs; nothing here tests the kernel's crypto.
append+=" cryptomgr.notests"
filter=${LANE_FILTER:-}
[ "$lane" != dkms ] || filter=dkms${filter:+,$filter}
[ -z "$filter" ] || append+=" vmxl.filter=$filter"
[ "${LANE_BENCH:-0}" = 0 ] || append+=" vmxl.bench=1"
[ "${LANE_LONG:-0}" = 0 ] || append+=" vmxl.long=1"
# The suites know their lane (VMXL_LANE) to size their work to it.
append+=" vmxl.lane=$lane"
[ -z "${FUZZ_IOCTL_SEED:-}" ] || append+=" vmxl.fuzz_seed=$FUZZ_IOCTL_SEED"
[ -z "${FUZZ_IOCTL_CALLS:-}" ] || append+=" vmxl.fuzz_calls=$FUZZ_IOCTL_CALLS"
# The debug kernel: every KASAN report, not only the first; room in the
# log for their splats; its boot log kept (build/lane-debug/suites/boot.dmesg).
[ "$lane" != debug ] || append+=" kasan_multi_shot log_buf_len=1M vmxl.bootlog=1"

# Two runs of one lane would share, and delete, one directory: they
# take turns.
mkdir -p "$top/build"
exec 9>"$top/build/lane-$lane.lock"
flock 9
rm -rf "$dir"
mkdir -p "$dir/suites"
if [ "$lane" = dkms ]; then
	# /usr/src and the dkms tree are the machine's: other checkouts'
	# dkms installs wait until this one has its module in the initramfs
	# (the lock of make dkms-install, Makefile).
	exec 8>/tmp/vmx-lite-dkms.lock
	flock 8
	dkms_start=$(date +%s)
	make -C "$top" _dkms-install DKMS_KERNEL="$abi" >"$dir/dkms.log" 2>&1 || {
		tail -n 30 "$dir/dkms.log"
		echo "dkms: make dkms-install failed (full log: $dir/dkms.log)"
		echo "0 1 0" >"$dir/counts"
		exit 1
	}
	echo "dkms: make dkms-install took $(( $(date +%s) - dkms_start ))s"
	export DKMS_KO=/lib/modules/$abi/updates/dkms/vmx_lite.ko
fi
if [ "$lane" = debug ]; then
	# The kernel (cached machine-wide; the first build takes long), then
	# the module built against its tree, from a copy of the sources the
	# way DKMS builds them (Kbuild says which files make the module).
	dk=$("$top/scripts/debug-kernel.sh") || {
		echo "0 1 0" >"$dir/counts"
		exit 1
	}
	kernel=$dk/bzImage
	rm -rf "$dir/kmod"
	mkdir -p "$dir/kmod"
	(cd "$top" && shopt -s nullglob &&
	 cp --parents Kbuild dkms.conf uapi/linux/vmx_lite.h \
		kmod/*.[chS] kmod/*.inc "$dir/kmod/")
	make -C "$dk/linux" M="$dir/kmod" modules >"$dir/module.log" 2>&1 || {
		tail -n 30 "$dir/module.log"
		echo "debug: vmx_lite.ko did not build against $dk/linux" \
		     "(full log: $dir/module.log)"
		echo "0 1 0" >"$dir/counts"
		exit 1
	}
	if grep -q 'warning:' "$dir/module.log"; then
		echo "debug: the module's build against $dk/linux warns:"
		grep -A3 'warning:' "$dir/module.log" | head -n 30 | sed 's/^/      /'
	fi
	export VMXL_KO=$dir/kmod/vmx_lite.ko
	export KERNEL_MODULES=$dk/modules/lib/modules/$(cat "$dk/release")/kernel
fi
# The test kernel's vmlinux: the bzImage's payload is an xz stream
# holding it (xz stops at its end, before tail does: no pipe). The vmx
# lane boots it (below); in every lane vmxctl boots it as a Linux guest
# (mkinitramfs.sh), the Debian kernel even in the debug lane.
test_kernel=$top/.cache/kernel/$abi/boot/vmlinuz-$abi
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$test_kernel" | head -n1 | cut -d: -f1)
[ -n "$off" ] && xz -dc --single-stream \
	<(tail -c +$((off + 1)) "$test_kernel") >"$dir/vmlinux" || {
	echo "lane.sh: no xz-compressed vmlinux in $test_kernel" >&2
	exit 1
}
LINUX_VMLINUX=$dir/vmlinux "$top/scripts/mkinitramfs.sh" "$dir/initrd.cpio" || exit 1
[ "$lane" != dkms ] || flock -u 8

# thread=single: with one host thread per vCPU (MTTCG), about one boot in
# fifteen hung in the KVM tests: kvm_destroy_vm's IPI to the other vCPU
# was never answered (soft lockup in smp_call_function_many_cond, the
# other CPU silent). One thread emulating both vCPUs in turn avoids the
# cross-thread race; the guest still has two CPUs.
boot_svm() {
	local run=(timeout -s KILL "${LANE_TIMEOUT:-900}"
		qemu-system-x86_64 -machine q35 -accel tcg,thread=single
		-cpu EPYC,+svm,+npt
		-m 1024 -smp 2 -display none -monitor none -no-reboot
		-kernel "$kernel" -initrd "$dir/initrd.cpio"
		-append "$append"
		-serial stdio -serial "file:$dir/results.log")
	if [ "${V:-0}" = 1 ]; then
		"${run[@]}" </dev/null 2>&1 | tee "$dir/console.log"
		return "${PIPESTATUS[0]}"
	fi
	"${run[@]}" </dev/null >"$dir/console.log" 2>&1
}

# Bochs has no direct kernel boot: isolinux on a CD image loads both.
# Not the bzImage, whose own xz decompression took 45 s under Bochs: its
# vmlinux, decompressed here, which syslinux's mboot.c32 loads with
# scripts/pvhboot (a Multiboot kernel) and the initramfs; pvhboot puts
# the kernel in place and enters it by Linux's PVH boot protocol.
# Bochs has no -no-reboot either: reboot=t makes a panic's reboot a
# triple fault, which ends Bochs with reset_on_triple_fault=0.
# Time: Bochs' devices count instructions / ips, and so does its TSC,
# which the kernel would take for 3.5 GHz (CPUID) and then run its
# clock 45 times slower than the wall. tsc_early_khz tells it the truth,
# and ips near Bochs' speed here (80 M instructions/s) makes guest time
# follow wall time, so guest-side timeouts mean what they say. The UART
# is timed too: 115200 baud, or each character costs a millisecond.
prep_vmx() {
	local iso=$dir/iso ips=80000000
	local cmdline="${append/console=ttyS0/console=ttyS0,115200}"
	cmdline+=" reboot=t tsc_early_khz=$((ips / 1000)) noxsave"
	local pvh=$top/scripts/pvhboot
	mkdir -p "$iso/isolinux"
	cp /usr/lib/ISOLINUX/isolinux.bin \
		/usr/lib/syslinux/modules/bios/{ldlinux,mboot,libcom32}.c32 \
		"$iso/isolinux/"
	gcc -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
		-fno-stack-protector -fno-asynchronous-unwind-tables -mno-sse \
		-mno-mmx -O2 -Wall -Wextra -Werror -nostdlib -static \
		-Wl,-T,"$pvh/pvhboot.ld",--no-warn-rwx-segments,--build-id=none \
		-o "$iso/pvhboot.elf" "$pvh/start.S" "$pvh/pvhboot.c" || return 1
	cp "$dir/vmlinux" "$iso/vmlinux"
	cp "$dir/initrd.cpio" "$iso/initrd.img"
	cat >"$iso/isolinux/isolinux.cfg" <<-EOF
	DEFAULT vmxl
	PROMPT 0
	LABEL vmxl
	  KERNEL mboot.c32
	  APPEND /pvhboot.elf --- /vmlinux $cmdline --- /initrd.img
	EOF
	xorriso -as mkisofs -quiet -o "$dir/boot.iso" \
		-b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table "$iso" \
		2>"$dir/xorriso.log" || { cat "$dir/xorriso.log" >&2; return 1; }
	rm -rf "$iso"

	# rfb because Debian builds no nogui library; timeout=0: do not wait
	# for a viewer. fastboot: no boot-menu delay (3 s). panic fatal: ACPI
	# power-off and a triple fault are "panics" that must end Bochs.
	# sync=none: as fast as the host can, idle time skipped (realtime was
	# only slower). 1 GiB: room for a full snapshot's copy of the 128 MiB
	# Linux guest (docs/snapshot-format.md), which 512 MiB lacked.
	cat >"$dir/bochsrc" <<-EOF
	cpu: model=corei7_skylake_x, count=1, ips=$ips, reset_on_triple_fault=0
	memory: guest=1024, host=1024
	romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
	vgaromimage: file=/usr/share/vgabios/vgabios.bin
	display_library: rfb, options="timeout=0"
	ata0-master: type=cdrom, path="$dir/boot.iso", status=inserted
	boot: cdrom
	com1: enabled=1, mode=file, dev="$dir/console.log"
	com2: enabled=1, mode=file, dev="$dir/results.log"
	clock: sync=none, time0=utc
	sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
	speaker: enabled=0
	mouse: enabled=0
	log: $dir/bochs.log
	panic: action=fatal
	error: action=report
	info: action=report
	debug: action=ignore
	EOF
}

# Debian's bochs starts in its debugger: "c" on stdin runs the machine.
# At the timeout SIGINT stops it into the debugger, which finds stdin at
# its end and quits: unlike KILL, that flushes the serial files, whose
# last lines tell where the guest hung. A normal end is the ACPI
# power-off "panic", status 1. Its rfb display listens on TCP 5900 and
# up: in a private network namespace where one can be had.
boot_vmx() {
	local tailer= rc netns=()
	unshare -n true 2>/dev/null && netns=(unshare -n)
	: >"$dir/console.log"
	if [ "${V:-0}" = 1 ]; then
		tail -n +1 -F "$dir/console.log" 2>/dev/null &
		tailer=$!
	fi
	printf 'c\n' | timeout -s INT -k 30 "${LANE_TIMEOUT:-900}" \
		"${netns[@]}" bochs -q -f "$dir/bochsrc" >"$dir/bochs.out" 2>&1
	rc=${PIPESTATUS[1]}
	if [ -n "$tailer" ]; then
		sleep 1
		kill "$tailer"
	fi
	return "$rc"
}

case $lane in
svm|dkms|debug) boot=boot_svm ;;
vmx) boot=boot_vmx; prep_vmx || exit 1 ;;
*) echo "lane.sh: unknown lane '$lane' (known: svm, vmx, dkms, debug)" >&2; exit 2 ;;
esac

start=$(date +%s)
$boot
boot_rc=$?
elapsed=$(( $(date +%s) - start ))

# Split the results into one TAP file per suite; markers may follow
# stray bytes on a line, the port adds carriage returns, and under Bochs
# it once lost the end of a line, joining two markers: each marker
# starts a line of its own.
touch "$dir/results.log"
tr -d '\r' <"$dir/results.log" |
	sed -E 's/(.)(@@(SUITE|END|BOOTLOG|DMESG|DONE))/\1\n\2/g' |
	awk -v d="$dir/suites" '
	match($0, /@@SUITE [^ ]+ [a-z]+/) {
		split(substr($0, RSTART, RLENGTH), w, " ")
		name = w[2]; file = d "/" name ".tap"
		print name >>(d "/order"); printf "" >file; next
	}
	match($0, /@@END [^ ]+ rc=[0-9]+( t=[0-9]+)?/) {
		split(substr($0, RSTART, RLENGTH), w, /[ =]/)
		print w[4] >(d "/" w[2] ".rc")
		if (w[6] != "") print w[6] >(d "/" w[2] ".time")
		file = ""; next
	}
	/@@BOOTLOG/ { file = d "/boot.dmesg"; printf "" >file; next }
	/@@DMESG/ { file = d "/dmesg"; printf "" >file; next }
	/@@DONE/ { print "done" >(d "/done"); file = ""; next }
	file != "" { print >>file }
'

pass=0 fail=0 skip=0 bad=0
while read -r name; do
	read -r p f s < <("$top/scripts/tap-count.sh" <"$dir/suites/$name.tap")
	rc=$(cat "$dir/suites/$name.rc" 2>/dev/null || echo none)
	note=
	if [ "$rc" = none ]; then
		note="  (no end: the guest died in it)"
		f=$((f + 1))
	elif [ "$rc" != 0 ] && [ "$f" -eq 0 ]; then
		note="  (exit status $rc$([ "$rc" = 137 ] && echo ': timed out'))"
		f=$((f + 1))
	fi
	t=$(cat "$dir/suites/$name.time" 2>/dev/null || echo "?")
	printf '%-5s %-28s pass %-4d fail %-4d skip %-4d %4ss%s\n' \
		"$lane" "$name" "$p" "$f" "$s" "$t" "$note"
	if [ "$f" -gt 0 ]; then
		# kselftest's assertion lines; bats' file, line and command, and
		# the line wait_for missed
		grep -E '^not ok|^# .*(:[0-9]+:|FAIL|rvm_|gvm)|^# \(in test file|^#   `|^# no line /' \
			"$dir/suites/$name.tap" | head -n 40 | sed 's/^/      /'
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done < <(cat "$dir/suites/order" 2>/dev/null)

if [ ! -f "$dir/suites/done" ]; then
	echo "$lane: the guest did not finish (boot status $boot_rc," \
	     "${elapsed}s; LANE_TIMEOUT=${LANE_TIMEOUT:-900})"
	bad=1
elif [ ! -s "$dir/suites/order" ]; then
	echo "$lane: no suite ran (LANE_FILTER='${LANE_FILTER:-}')"
	bad=1
fi

# Kernel trouble during the tests, in the format the kernel prints it.
# The debug kernel's checkers add lockdep's reports (their WARNING:
# headers), debugobjects' ODEBUG:, SLUB's "BUG <cache> (<taint>): ...",
# and kmemleak's unreferenced objects (guest-init.sh appends its report).
trouble='WARNING: CPU:|BUG:|Oops|general protection|KASAN|list_(add|del) corruption|UBSAN|kernel BUG|refcount_t:|soft lockup|hard LOCKUP|INFO: task .* blocked|Call Trace:'
trouble+='|WARNING: (possible|inconsistent|suspicious RCU|bad unlock|lock held|held lock|Nested lock|bad contention|chain_key)'
trouble+='|still has locks held|-safe -> .*-unsafe lock order|INFO: trying to register non-static key'
trouble+='|ODEBUG:|BUG [^ ]+ \((Not tainted|Tainted)|unreferenced object|suspected memory leak'
trouble+='|memory leak detector disabled|lockdep is off'
# test_faults fails allocations on purpose (fail-nth, debug lane): a
# vmalloc that fails prints its report with a call trace (warn_alloc).
# Between that program's "vmxl: fault injection on" and "off" lines,
# such reports, to the end of their trace, are excused; nothing else is.
judged=$dir/suites/dmesg.judged
if [ -f "$dir/suites/dmesg" ]; then
	awk -v ex="$dir/suites/excused" '
		/vmxl: fault injection on$/ { inj = 1 }
		/vmxl: fault injection off$/ { inj = 0 }
		inj && /(vmalloc error: size|page allocation failure: order:)/ {
			skip = 1; n++
		}
		skip { if (/<\/TASK>/) skip = 0; next }
		{ print }
		END { if (n) print n >ex }' "$dir/suites/dmesg" >"$judged"
	[ ! -f "$dir/suites/excused" ] ||
		echo "$lane: $(cat "$dir/suites/excused") allocation-failure reports" \
		     "of injected faults excused (test_faults)"
fi
if [ -f "$judged" ] && grep -Eq "$trouble" "$judged"; then
	echo "$lane: the kernel log shows trouble:"
	grep -E -A12 "$trouble" "$judged" | head -n 60 | sed 's/^/      /'
	bad=1
fi
# A guest that hung (a lock never released) sends no log: its console
# shows what the kernel printed at loglevel 5 and above.
if [ ! -f "$dir/suites/done" ] && grep -Eaq "$trouble" "$dir/console.log"; then
	echo "$lane: the console shows trouble:"
	grep -Ea -A6 "$trouble" "$dir/console.log" | head -n 40 | sed 's/^/      /'
fi
if [ -f "$dir/suites/boot.dmesg" ] &&
   grep -Eq "$trouble" "$dir/suites/boot.dmesg"; then
	echo "$lane: the boot log (not judged) has $(grep -Ec "$trouble" \
		"$dir/suites/boot.dmesg") lines of trouble: $dir/suites/boot.dmesg"
fi

fail=$((fail + bad))
echo "$pass $fail $skip" >"$dir/counts"
echo "$lane: $pass passed, $fail failed, $skip skipped in ${elapsed}s"
if [ "$fail" -gt 0 ]; then
	echo "---- last lines of $dir/console.log"
	tail -n 60 "$dir/console.log"
	exit 1
fi
