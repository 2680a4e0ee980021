#!/usr/bin/env bats
# Snapshots of a running Linux guest (docs/snapshot-format.md): the
# lanes' kernel with 2 vCPUs, a counter pinned on each vCPU and a disk
# writer appending checksummed records, saved as a full snapshot and three
# incrementals while it runs, the second during heavy disk I/O (a second
# writer rewriting 1 MiB of another region of the disk, synced, pass
# after pass); in the vmx and debug lanes a full snapshot and one
# incremental, during the heavy I/O (below); each file restored into a
# new vmxctl: the counters go on
# from their values, every completed disk record is on the disk, the
# shell answers, both vCPUs' timers tick, and the guest's log has no
# soft lockup, RCU stall or clocksource complaint; the heavy writer
# restored in the middle of a pass finishes it, and the disk holds its
# last completed pass; the last one powers off on SIGTERM (the ACPI
# power button). One boot: a restore is cheaper than a boot (Bochs).
# The whole chain took 220 s on the svm lane, 1,893 s of wall time on the
# vmx lane and 1,731 s on the debug lane in a CI run, where the two lanes
# run side by side and went past CI's 90 minutes.
# vmxl-timeout: 3000

load helpers
load linux-guest
bats_require_minimum_version 1.5.0

# The snapshots, each the parent of the next, and HEAVY, the one taken
# during the heavy I/O. The slow lanes (Bochs; the debug kernel), where
# a restore costs minutes, take the full snapshot and one incremental;
# LANE_LONG=1 (scripts/lane.sh) gives them the whole chain too.
if [ "${VMXL_LANE:-svm}" = svm ] || [ -n "${VMXL_LONG:-}" ]; then
	SNAPS="full inc1 inc2 inc3" HEAVY=inc2
else
	SNAPS="full inc1" HEAVY=inc1
fi
LAST=${SNAPS##* }

# Record k (k >= 1) of the disk writer: sector k of /dev/vda.
RECORD='r=$(printf vmxl-rec-%06d $k); printf "%s %s\n" $r $(echo $r | md5sum | cut -c1-8)'

# The heavy writer: pass p writes a 512-byte header naming p, then
# /tmp/blob (1 MiB less a sector), to byte 2 MiB of /dev/vda and fsyncs
# (the records stay below sector 4001, so below 2 MiB); /tmp/hpass holds
# the last completed pass.
HEAVY_SECTOR=4096
HEAVY_PASS='{ printf "vmxl-heavy-%06d\n" $p | dd bs=512 conv=sync 2>/dev/null; cat /tmp/blob; } | dd of=/dev/vda bs=64k seek=32 conv=fsync 2>/dev/null'

# restore FILE [vmxctl run options...]: a new vmxctl continues the VM
# saved in FILE, its console in a fresh $T/console, input from the FIFO
# (the caller types at once, as a user would, while vmxctl still reads
# the file: the UART keeps that input).
restore() {
	local file=$1

	shift
	: >"$T/console"
	N=0
	/usr/bin/vmxctl run --restore "$file" --serial stdio "$@" \
		<"$T/in" >"$T/console" 2>"$T/err" &
	PID=$!
}

# diagnose: what the restored VM does when its shell does not answer
diagnose() {
	local i

	sed 's/^/# vmxctl stderr: /' "$T/err" >&3
	kill -0 "$PID" 2>/dev/null || { echo "# vmxctl has ended" >&3; return 0; }
	for i in 1 2; do
		vmxctl control "$T/ctl2" regs 0 2>&1 | grep -E 'rip|rflags|cr8' | sed 's/^/# vcpu0: /' >&3
		vmxctl control "$T/ctl2" regs 1 2>&1 | grep -E 'rip|rflags|cr8' | sed 's/^/# vcpu1: /' >&3
		sleep 1
	done
	vmxctl control "$T/ctl2" status 2>&1 | sed 's/^/# status: /' >&3
	vmxmon --json list 2>&1 | sed 's/^/# vmxmon: /' >&3
}

# counters: the two vCPUs' counters and the last completed disk record
# in $c0 $c1 $rec.
counters() {
	# (a file being rewritten can read empty: read it again)
	guest 'for f in c0 c1 done; do v=; while [ -z "$v" ]; do v=$(cat /tmp/$f); done; printf "%s " $v; done; echo'
	read -r c0 c1 rec <<<"$output"
	[ -n "$rec" ]
}

# hpass: the heavy writer's last completed pass in $hpass.
hpass() {
	guest 'v=; while [ -z "$v" ]; do v=$(cat /tmp/hpass); done; echo $v'
	hpass=$output
	[ -n "$hpass" ]
}

# heavy_ok FILE PASS: the heavy writer's region of FILE holds pass PASS:
# its header, and the blob whose md5 is $blob_md5.
heavy_ok() {
	local head sum

	head=$(dd if="$1" bs=512 skip=$HEAVY_SECTOR count=1 2>/dev/null | head -n1 | tr -d '\0')
	sum=$(dd if="$1" bs=512 skip=$((HEAVY_SECTOR + 1)) count=2047 2>/dev/null | md5sum | cut -c1-32)
	echo "# heavy region of $1: '$head', md5 $sum" >&3
	[ "$head" = "$(printf vmxl-heavy-%06d "$2")" ] && [ "$sum" = "$blob_md5" ]
}

# records_ok FILE FIRST LAST: sectors FIRST..LAST of FILE hold records
# FIRST..LAST, each with its checksum. A fixed number of processes, not
# several per record: under Bochs and the debug kernel a process costs
# tens of milliseconds, and the records number in the thousands.
records_ok() {
	local k name want got dir=$T/records

	[ "$3" -ge "$2" ] || return 0
	rm -rf "$dir"
	mkdir "$dir"
	# what the writer hashes ("echo $r | md5sum"), a file per record,
	# named so that the shell's sorted glob lists them in order
	for ((k = $2; k <= $3; k++)); do
		printf -v name %06d "$k"
		printf 'vmxl-rec-%s\n' "$name" >"$dir/$name"
	done
	want=$(cd "$dir" && md5sum -- * |
	       awk '{ printf "vmxl-rec-%s %s\n", $2, substr($1, 1, 8) }')
	# each record is one line and its sector's zero padding
	got=$(dd if="$1" bs=512 skip="$2" count=$(($3 - $2 + 1)) 2>/dev/null | tr -d '\0')
	[ "$got" = "$want" ] && return 0
	echo "# disk records $2-$3 differ from the expected ones (-), first lines:" >&3
	diff <(echo "$want") <(echo "$got") | head -n 6 | sed 's/^/# /' >&3
	return 1
}

@test "a running Linux guest: full and incremental snapshots, each restored into a new vmxctl, goes on" {
	local s k prev before_c0 before_c1 before_rec hb blob_md5

	dd if=/dev/zero of="$T/disk" bs=1M count=4 2>/dev/null
	boot --disk "$T/disk" --control "$T/ctl"
	# a counter on each vCPU; a writer appending record k to sector k,
	# synced, then noting k in /tmp/done (completed)
	guest "for c in 0 1; do taskset \$((c + 1)) sh -c \"i=0; while :; do i=\\\$((i + 1)); echo \\\$i >/tmp/c\$c; usleep 20000; done\" & done"
	guest "echo 0 >/tmp/done; (k=0; while [ \$k -lt 4000 ] && [ ! -e /tmp/stop ]; do k=\$((k + 1)); $RECORD | dd of=/dev/vda bs=512 seek=\$k conv=sync,fsync 2>/dev/null && echo \$k >/tmp/done; done; touch /tmp/stopped) & sleep 2"
	prev=
	for s in $SNAPS; do
		if [ $s = $HEAVY ]; then
			# the heavy writer, running: the snapshot comes with
			# its requests in flight (the pause waits for them)
			guest "dd if=/dev/urandom of=/tmp/blob bs=512 count=2047 2>/dev/null; md5sum </tmp/blob | cut -c1-32"
			blob_md5=$output
			[ ${#blob_md5} -eq 32 ]
			guest "echo 0 >/tmp/hpass; (p=0; while [ ! -e /tmp/hstop ]; do p=\$((p + 1)); $HEAVY_PASS || break; echo \$p >/tmp/hpass; done; touch /tmp/hstopped) & true"
			guest 'v=0; while [ -z "$v" ] || [ "$v" -lt 1 ]; do usleep 50000; v=$(cat /tmp/hpass); done'
			hpass
			hb=$hpass
		fi
		counters
		before_c0=$c0 before_c1=$c1 before_rec=$rec
		run vmxctl snapshot "$T/ctl" "$T/$s.snap" ${prev:+--parent "$T/$prev.snap"}
		echo "$output" | sed "s/^/# $s: /" >&3
		[ "$status" -eq 0 ]
		# the counters a snapshot holds lie between these
		echo "$before_c0 $before_c1 $before_rec" >"$T/$s.before"
		counters
		echo "# $s: counters $before_c0 $before_c1, record $before_rec before; $c0 $c1, $rec after" >&3
		[ "$c0" -ge "$before_c0" ] && [ "$c1" -ge "$before_c1" ]
		if [ $s = $HEAVY ]; then
			# it went on through the snapshot; then it stops,
			# its last pass on the disk
			guest "touch /tmp/hstop; while [ ! -e /tmp/hstopped ]; do usleep 50000; done"
			hpass
			echo "# $s: heavy writer at pass $hb before, $hpass when stopped" >&3
			[ "$hpass" -gt "$hb" ]
			echo "$hb" >"$T/$s.hpass"
			heavy_ok "$T/disk" "$hpass"
		fi
		guest "sleep 1"
		prev=$s
	done
	run vmxctl verify "$T/$LAST.snap"
	[ "$status" -eq 0 ]
	cp "$T/full.snap" "$BATS_FILE_TMPDIR/linux.snap"	# for the next test
	run vmxctl snapshot-info "$T/$LAST.snap"
	[ "$status" -eq 0 ]
	echo "$output" | grep -E '^(version|machine|clock|vcpu .*mp-state)' | sed 's/^/# /' >&3
	[[ $output == *"version 3"* ]]
	[[ $output == *"platform linux"* ]]
	[ "$(echo "$output" | grep -c 'mp-state')" -eq 2 ]
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null || true
	PID=

	for s in $SNAPS; do
		read -r before_c0 before_c1 before_rec <"$T/$s.before"
		rm -f "$T/ctl2"
		restore "$T/$s.snap" --disk "$T/disk" --control "$T/ctl2"
		# the shell answers
		guest "echo restored-$s" || { diagnose; false; }
		[ "$output" = "restored-$s" ]
		sed 's/^/# /' "$T/err" >&3
		# the counters went on from their values: not reset, not lost
		counters
		echo "# $s restored: counters $c0 $c1 (saved after $before_c0 $before_c1), record $rec (after $before_rec)" >&3
		[ "$c0" -ge "$before_c0" ] && [ "$c1" -ge "$before_c1" ]
		[ "$rec" -ge "$before_rec" ]
		if [ $s = $HEAVY ]; then
			# saved in the middle of the heavy writer's work: it
			# goes on and stops, its pass neither lost nor left
			# half written on the disk (read past the cache too)
			guest "touch /tmp/hstop; while [ ! -e /tmp/hstopped ]; do usleep 50000; done; echo 3 >/proc/sys/vm/drop_caches"
			hpass
			read -r hb <"$T/$s.hpass"
			echo "# $s restored: heavy writer stopped at pass $hpass (saved after $hb)" >&3
			[ "$hpass" -ge "$hb" ]
			guest "dd if=/dev/vda bs=512 skip=$HEAVY_SECTOR count=1 2>/dev/null | head -n1; dd if=/dev/vda bs=512 skip=$((HEAVY_SECTOR + 1)) count=2047 2>/dev/null | md5sum | cut -c1-32"
			[ "$output" = "$(printf 'vmxl-heavy-%06d\n%s' "$hpass" "$blob_md5")" ]
			heavy_ok "$T/disk" "$hpass"
		fi
		k=$rec
		guest "cat /proc/interrupts"
		row LOC
		loc0=$c0 loc1=$c1
		guest "sleep 1; cat /proc/interrupts"
		row LOC
		echo "# $s restored: LOC $loc0 $loc1 -> $c0 $c1" >&3
		[ "$c0" -gt "$loc0" ] && [ "$c1" -gt "$loc1" ]
		counters
		[ "$c0" -gt "$before_c0" ] && [ "$c1" -gt "$before_c1" ]
		# the writer goes on: two more records completed
		for ((i = 0; i < 30; i++)); do
			counters
			[ "$rec" -ge $((k + 2)) ] && break
			guest "sleep 1"
		done
		[ "$rec" -ge $((k + 2)) ]
		# stop it, read the last record from the disk, not the cache
		guest "touch /tmp/stop; while [ ! -e /tmp/stopped ]; do usleep 100000; done; echo 3 >/proc/sys/vm/drop_caches"
		guest "k=\$(cat /tmp/done); dd if=/dev/vda bs=512 skip=\$k count=1 2>/dev/null | head -n1; $RECORD"
		echo "$output" | sed "s/^/# $s restored: last record read back: /" >&3
		[ "$(echo "$output" | sed -n 1p)" = "$(echo "$output" | sed -n 2p)" ]
		counters
		records_ok "$T/disk" 1 "$rec"
		guest "dmesg"
		if echo "$output" | grep -E "$TROUBLE|clocksource.*(unstable|skew)|I/O error"; then
			echo "# the restored guest's log:" >&3
			echo "$output" | tail -40 | sed 's/^/# /' >&3
			false
		fi
		if [ $s = "$LAST" ]; then
			# the ACPI power button (GED pin on the IOAPIC) of a
			# restored guest: SIGTERM, the guest powers off, 0
			kill -TERM "$PID"
			ended
			[ "$status" -eq 0 ]
			grep -q 'reboot: Power down' "$T/console"
		else
			kill -KILL "$PID"
			wait "$PID" 2>/dev/null || true
			PID=
		fi
	done
}

@test "a damaged Linux snapshot is refused before anything runs, its section named" {
	local off

	[ -s "$BATS_FILE_TMPDIR/linux.snap" ] || skip "the first test made no snapshot"
	cp "$BATS_FILE_TMPDIR/linux.snap" "$T/bad.snap"
	# the first vcpu-os section: after the header, layout, machine and
	# two vcpu sections (each a 24-byte header and its payload)
	off=128
	for ((i = 0; i < 4; i++)); do
		off=$((off + 24 + $(od -An -tu8 -j $((off + 8)) -N8 "$T/bad.snap")))
	done
	[ "$(od -An -tu4 -j "$off" -N4 "$T/bad.snap" | tr -d ' ')" = 8 ]
	printf '\x55' | dd of="$T/bad.snap" bs=1 seek=$((off + 24 + 200)) conv=notrunc 2>/dev/null
	run vmxctl run --restore "$T/bad.snap" --serial "$T/console"
	echo "# $output" >&3
	[ "$status" -eq 72 ]
	[[ $output == *"section 4 (vcpu-os 0): payload CRC mismatch"* ]]
	[ ! -s "$T/console" ]
}
