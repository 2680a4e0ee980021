#!/bin/bash
# bench_linux_snapshot: snapshots of the lanes' running Linux guest (the
# Debian test kernel, the busybox initramfs of scripts/mklinuxguest.sh,
# 2 vCPUs, 128 MiB, a counter busy on each vCPU), BENCH_RUNS times
# (default 3), in ms:
#   linux_snapshot_pause_full    the pause of a full snapshot (`pause X ms`
#                                of vmxctl snapshot: every vCPU stopped),
#                                reference its write (`write X ms`), which
#                                the pause used to include
#   linux_snapshot_pause_inc     the same for an incremental after the
#                                guest dirtied 6 MiB (about 5%: the `# `
#                                lines say how many pages it held)
#   linux_snapshot_inc_vs_full   the incremental's pause, reference the
#                                full one's
#   linux_snapshot_pause_vs_qemu the full snapshot's pause, reference the
#                                downtime of QEMU (microvm on KVM, the
#                                same guest and load) migrating it to a
#                                file, as `info migrate` reports it
#   linux_restore_to_shell       a new vmxctl restoring the full snapshot
#                                until the guest's shell answers, on the
#                                host's clock; reference QEMU on KVM
#                                started with -incoming from its file
# QEMU only runs where KVM boots this guest (not under QEMU's TCG, which
# loses KVM's timer interrupts: docs/benchmarks.md); elsewhere the
# references are null. Exit 0, or 1 when vmx-lite failed a step.
set -u
L=/usr/share/vmxctl/linux
M=/lib/modules/vmxl
RUNS=${BENCH_RUNS:-3}
grep -q GenuineIntel /proc/cpuinfo && RUNS=${BENCH_RUNS:-2}	# Bochs is slow
T=$(mktemp -d)
trap 'kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
if grep -q GenuineIntel /proc/cpuinfo; then	# as bench_linux_boot.sh
	K=$L/vmlinux VENDOR=kvm-intel
else
	K=$L/bzImage VENDOR=kvm-amd
fi
# the load: a counter on each vCPU, as vmxctl-linux-snapshot.bats runs
LOAD='for c in 0 1; do taskset $((c + 1)) sh -c "i=0; while :; do i=\$((i + 1)); echo \$i >/tmp/c$c; usleep 20000; done" & done'
DIRTY='dd if=/dev/urandom of=/tmp/dirty bs=64k count=96 2>/dev/null'

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -aqE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "# no '$2' in $1 after $3 s; its tail:"
	tail -n 15 "$1" | sed 's/^/#   /'
	return 1
}

# cmd N CMD: run CMD in the guest's shell (console $T/console, input
# fd 5), wait for it to end
cmd() {
	echo "$2; echo @E$1@" >&5
	wait_for "$T/console" "^@E$1@" 300
}

# answered NAME: host ms from now until the guest's shell echoes, asked
# at once and again every 2 s: vmxctl's UART keeps what is typed while it
# restores, QEMU may drop what comes before its migration ended (asking
# more often makes the guest echo a backlog of lines first)
answered() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < 3000; i++)); do
		((i % 20)) || echo "echo @R$1@" >&5
		grep -aq "^@R$1@" "$T/console" && break
		sleep 0.1
	done
	grep -aq "^@R$1@" "$T/console" || return 1
	echo $(($(now_ms) - t0))
}

# field TEXT WORD: the number after WORD in the line starting with it
field() { echo "$1" | sed -n "s/^$2 \([0-9.]*\) ms.*/\1/p" | head -n1; }

# stat FILE COLUMN: {"median":..,"min":..,"max":..,"n":..} in ns
stat() {
	awk -v c="$2" '{ print $c * 1000000 }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "{\"median\":%.0f,\"min\":%.0f,\"max\":%.0f,\"n\":%d}", m, v[1], v[NR], NR
		}'
}

# bench METRIC REF_NAME FILE VCOL [REF_FILE RCOL]
bench() {
	local ref=null
	[ -n "${5:-}" ] && [ -s "$5" ] && ref=$(stat "$5" "$6")
	echo "BENCH {\"metric\":\"$1\",\"unit\":\"ns\",\"ref\":\"$2\",\"ref_stat\":$ref,\"vmxl\":$(stat "$3" "$4")}"
}

start_console() {
	: >"$T/console"
	[ -p "$T/in" ] || mkfifo "$T/in"
	exec 5<>"$T/in"
}

fail=0
insmod $M/vmx_lite.ko 2>/dev/null
start_console
vmxctl run --kernel $K --initrd $L/initrd.gz --cpus 2 --mem 128M \
	--serial stdio --append mitigations=off --control "$T/ctl" \
	<"$T/in" >"$T/console" 2>"$T/err" &
vm=$!
if wait_for "$T/console" 'guest# ' 600 && cmd 0 "$LOAD; sleep 1"; then
	for ((r = 0; r < RUNS; r++)); do
		out=$(vmxctl snapshot "$T/ctl" "$T/full.snap" 2>&1) || {
			echo "$out" | sed 's/^/# full: /'; fail=1; break; }
		echo "$(field "$out" pause) $(field "$out" write)" >>"$T/full"
		echo "# run $r full: $(echo "$out" | grep -E '^(pause|write)' | cut -d, -f1 | tr '\n' ' ')"
		cmd $((r * 2 + 1)) "$DIRTY"
		out=$(vmxctl snapshot "$T/ctl" "$T/inc.snap" --parent "$T/full.snap" 2>&1) || {
			echo "$out" | sed 's/^/# incremental: /'; fail=1; break; }
		echo "$(field "$out" pause) $(field "$out" write)" >>"$T/inc"
		echo "# run $r: $(echo "$out" | grep -o 'incremental, [0-9]* of [0-9]* pages'); $(echo "$out" | grep '^pause')"
		cmd $((r * 2 + 2)) "rm /tmp/dirty; sleep 1"
	done
else
	fail=1
fi
kill -KILL $vm 2>/dev/null
wait $vm 2>/dev/null
for ((r = 0; r < RUNS && !fail; r++)); do
	start_console
	vmxctl run --restore "$T/full.snap" --serial stdio \
		<"$T/in" >"$T/console" 2>"$T/err" &
	vm=$!
	if ms=$(answered "$r"); then
		echo "$ms" >>"$T/restore"
		echo "# restore $r: the shell answered after $ms ms; $(grep -o 'restored .* in .* ms' "$T/err")"
	else
		tail -n 5 "$T/err" | sed 's/^/# restore: /'
		fail=1
	fi
	kill -KILL $vm 2>/dev/null
	wait $vm 2>/dev/null
done
rmmod vmx_lite

# QEMU on KVM: the same guest and load, saved by a migration to a file;
# HMP through a pipe chardev ($T/mon.in, $T/mon.out)
for m in irqbypass kvm $([ $VENDOR = kvm-amd ] && echo ccp) $VENDOR; do
	insmod $M/$m.ko $([ $m = kvm-intel ] && echo pml=0) 2>/dev/null
done
hmp() {
	echo "$1" >&6
	sleep 0.2
}
qemu() {
	qemu-system-x86_64 -M microvm,acpi=on,pit=off,pic=off,rtc=off \
		-accel kvm -cpu host -smp 2 -m 128 -kernel $K \
		-initrd $L/initrd.gz -append "$cmdline" -display none \
		-nodefaults -serial stdio -no-reboot \
		-chardev pipe,id=mon,path="$T/mon" -mon chardev=mon,mode=readline \
		"$@" <"$T/in" >"$T/console" 2>"$T/err" &
	vm=$!
}
khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
cmdline="console=ttyS0 reboot=acpi panic=-1 tsc=reliable pci=off"
cmdline+=" tsc_early_khz=$khz mitigations=off"
mkfifo "$T/mon.in" "$T/mon.out"
start_console
exec 6<>"$T/mon.in"
cat "$T/mon.out" >>"$T/mon.log" &	# appends: truncated per run
qemu
if wait_for "$T/console" 'guest# ' 180 >/dev/null && cmd 0 "$LOAD; sleep 1" >/dev/null; then
	# a save to a file is not throttled to a network's share
	hmp "migrate_set_parameter max-bandwidth 100G"
	for ((r = 0; r < RUNS; r++)); do
		[ $r = 0 ] || hmp cont
		: >"$T/mon.log"
		hmp "migrate \"exec:cat >$T/qemu.snap\""
		for ((i = 0; i < 600; i++)); do
			hmp "info migrate"
			grep -q 'Migration status: completed' "$T/mon.log" && break
		done
		d=$(sed -n 's/^downtime: \([0-9]*\) ms.*/\1/p' "$T/mon.log" | tail -n1)
		[ -n "$d" ] && echo "$d" >>"$T/qemu"
		echo "# qemu run $r: $(grep -E '^(total time|downtime):' "$T/mon.log" | tail -n 2 | tr '\n' ' ')"
	done
	kill -KILL $vm 2>/dev/null
	wait $vm 2>/dev/null
	for ((r = 0; r < RUNS; r++)); do
		[ -s "$T/qemu" ] || break
		start_console
		qemu -incoming "exec:cat $T/qemu.snap"
		ms=$(answered "q$r") && echo "$ms" >>"$T/qemu-restore" &&
			echo "# qemu restore $r: the shell answered after $ms ms"
		kill -KILL $vm 2>/dev/null
		wait $vm 2>/dev/null
	done
else
	echo "# QEMU on KVM did not boot the guest here: no reference"
	kill -KILL $vm 2>/dev/null
	wait $vm 2>/dev/null
fi
for m in kvm_amd kvm_intel ccp kvm irqbypass; do rmmod $m 2>/dev/null; done

if [ -s "$T/full" ] && [ -s "$T/inc" ]; then
	bench linux_snapshot_pause_full write "$T/full" 1 "$T/full" 2
	bench linux_snapshot_pause_inc write "$T/inc" 1 "$T/inc" 2
	bench linux_snapshot_inc_vs_full full-pause "$T/inc" 1 "$T/full" 1
	bench linux_snapshot_pause_vs_qemu qemu-kvm-downtime "$T/full" 1 "$T/qemu" 1
fi
[ -s "$T/restore" ] &&
	bench linux_restore_to_shell qemu-kvm-incoming "$T/restore" 1 "$T/qemu-restore" 1
exit $fail
