#!/bin/bash
# /init of the test lanes' initramfs (see mkinitramfs.sh and lane.sh).
#
# Runs every kselftest program in /tests and every bats file in
# /tests/bats, then the kselftest programs /tests/test_zz_* (last: they
# arm guest debug registers, which QEMU 7.2 TCG keeps armed after a guest
# is gone, ../shared/ENVIRONMENT.md), and writes the results to the
# second serial port:
#   @@SUITE <name> <kselftest|bats>   then its TAP output
#   @@END <name> rc=<exit status> t=<seconds>
#   @@DMESG                           then the kernel log since the tests began
#                                     and, on a kernel with kmemleak (the debug
#                                     lane), the leaks it finds at the end
#   @@DONE
# Kernel command line: vmxl.filter=<text>[,<text>...] runs only suites
# whose name contains one of them (=<name>: is it), vmxl.timeout=<s> bounds each suite (default 180;
# a bats file that boots guests sets a longer one with a "# vmxl-timeout: <s>" line),
# vmxl.bench=1 runs the benchmarks /tests/bench_* instead of the tests,
# vmxl.shell=1 gives a shell on the console instead, vmxl.demo=1 runs the
# demo (scripts/guest-demo.sh, `make demo`) on the console instead,
# vmxl.fuzz_seed=<n> and vmxl.fuzz_calls=<n> become FUZZ_IOCTL_SEED and
# FUZZ_IOCTL_CALLS of test_fuzz_ioctl.
# vmxl.bootlog=1 sends the boot log first (@@BOOTLOG), kept, not judged.
# vmxl.lane=<lane> and vmxl.long=1 become VMXL_LANE and VMXL_LONG=1 for
# the suites that size their work to the lane (LANE_LONG in lane.sh).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ln -s /proc/self/fd /dev/fd	# bash process substitution (bats)

filter= timeout=180 shell= bench= demo= bootlog=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmxl.filter=*) filter=${arg#vmxl.filter=} ;;
	vmxl.timeout=*) timeout=${arg#vmxl.timeout=} ;;
	vmxl.shell=1) shell=1 ;;
	vmxl.bench=1) bench=1 ;;
	vmxl.demo=1) demo=1 ;;
	vmxl.fuzz_seed=*) export FUZZ_IOCTL_SEED=${arg#vmxl.fuzz_seed=} ;;
	vmxl.fuzz_calls=*) export FUZZ_IOCTL_CALLS=${arg#vmxl.fuzz_calls=} ;;
	vmxl.bootlog=1) bootlog=1 ;;
	vmxl.lane=*) export VMXL_LANE=${arg#vmxl.lane=} ;;
	vmxl.long=1) export VMXL_LONG=1 ;;
	esac
done

if [ -n "$shell" ]; then
	echo "vmx-lite test guest: tests in /tests, modules in /lib/modules/vmxl"
	setsid cttyhack bash -l
	poweroff -f
fi

if [ -n "$demo" ]; then
	bash /usr/share/vmxctl/guest-demo.sh
	sync
	poweroff -f
fi

out=/dev/ttyS1
stty -F $out 115200 raw -echo 2>/dev/null	# Bochs times the UART
# kmemleak (the debug lane's kernel): what boot left unreferenced is
# not the tests' doing; a scan finds it and clear hides it from the
# final report. A detector that turned itself off is said so.
kmemleak=/sys/kernel/debug/kmemleak
if [ -e $kmemleak ]; then
	{ echo scan >$kmemleak && echo clear >$kmemleak; } 2>/dev/null ||
		echo "vmxl: kmemleak is off: memory leak detector disabled" >/tmp/checkers.log
fi
# From here on only what the tests cause counts (the boot log may hold
# warnings of its own, e.g. under Bochs); vmxl.bootlog=1 (the debug
# lane) sends that boot log first, to be kept but not judged.
dmesg -c >/tmp/boot.log
if [ -n "$bootlog" ]; then
	{ echo "@@BOOTLOG"; cat /tmp/boot.log; } >$out
fi
# The log judged is read from /dev/kmsg, which keeps every record for
# its reader whatever a test does to the syslog buffer (module.bats
# clears it with dmesg -c): from the marker on.
echo "vmxl: tests begin" >/dev/kmsg
cat /dev/kmsg >/tmp/kmsg.log &
kmsg_pid=$!

wanted() { # name
	local f
	[ -n "$filter" ] || return 0
	for f in ${filter//,/ }; do
		if [[ $f == =* ]]; then
			[[ $1 == "${f#=}" ]] && return 0
		else
			[[ $1 == *"$f"* ]] && return 0
		fi
	done
	return 1
}

run_suite() { # name kind limit command...
	local name=$1 kind=$2 limit=$3 rc start
	shift 3
	echo "@@SUITE $name $kind" >$out
	start=$(cut -d. -f1 /proc/uptime)
	timeout -s KILL "$limit" "$@" 2>&1 | tee -a $out
	rc=${PIPESTATUS[0]}
	echo "@@END $name rc=$rc t=$(($(cut -d. -f1 /proc/uptime) - start))" >$out
}

cd /tests
if [ -n "$bench" ]; then
	for t in /tests/bench_*; do
		name=$(basename "$t")
		wanted "$name" || continue
		run_suite "$name" bench "$timeout" "$t"
	done
else
	for t in /tests/test_*; do
		name=$(basename "$t")
		[[ $name == test_zz_* ]] && continue
		wanted "$name" || continue
		run_suite "$name" kselftest "$timeout" "$t"
	done
	for t in /tests/bats/*.bats; do
		name=$(basename "$t" .bats)
		wanted "$name" || continue
		limit=$(sed -n 's/^# vmxl-timeout: \([0-9]*\)$/\1/p' "$t")
		# A file's limit is for a fast lane: a slow lane's is the floor.
		[ "${limit:-0}" -gt "$timeout" ] || limit=$timeout
		run_suite "$name" bats "$limit" bats --tap "$t"
	done
	for t in /tests/test_zz_*; do
		[ -e "$t" ] || continue
		name=$(basename "$t")
		wanted "$name" || continue
		run_suite "$name" kselftest "$timeout" "$t"
	done
fi

for m in vmx_lite kvm_amd kvm_intel kvm ccp irqbypass; do
	[ -d /sys/module/$m ] && rmmod $m 2>/dev/null
done
# With every module gone, whatever they allocated and kmemleak finds
# unreferenced is a leak: two scans (an object is reported once it is
# 5 s old and no scan found a reference to it), then the report.
if [ -w $kmemleak ]; then
	sleep 5
	echo scan >$kmemleak
	sleep 5
	echo scan >$kmemleak
fi
# lockdep turns itself off after its first report or when its tables
# are full: then the lane was not checked for what came after.
if [ -r /proc/lockdep_stats ] &&
   ! grep -Eq 'debug_locks: +1$' /proc/lockdep_stats; then
	echo "vmxl: lockdep is off: debug_locks is 0" >>/tmp/checkers.log
fi
echo "vmxl: tests end" >/dev/kmsg
sleep 1
kill $kmsg_pid
# /dev/kmsg records ("prio,seq,usec,flags;text", then " KEY=value"
# lines) in dmesg's format, from the marker on.
{
	echo "@@DMESG"
	awk -F';' '
		/^ / { next }
		{
			split($1, h, ","); sub(/^[^;]*;/, "")
			if (!on) { on = ($0 == "vmxl: tests begin"); next }
			printf "[%5d.%06d] %s\n", h[3] / 1000000, h[3] % 1000000, $0
		}' /tmp/kmsg.log
	cat /tmp/checkers.log 2>/dev/null
	[ ! -r $kmemleak ] || cat $kmemleak
	echo "@@DONE"
} >/tmp/tail.log
cat /tmp/tail.log >$out
sync
# Let the serial port drain before power-off: Bochs times its UART
# (115200 baud, about 11 KB/s) and loses what is still in flight.
sleep $(($(wc -c </tmp/tail.log) / 10000 + 1))
poweroff -f
