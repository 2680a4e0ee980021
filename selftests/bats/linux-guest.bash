# Shared by the bats files that boot the lanes' Linux guest under
# vmxctl (vmxctl-linux.bats, vmxctl-linux-snapshot.bats): the kernel,
# the time bounds, and boot()/guest() driving its serial console through
# a FIFO, setup() (T: a temporary directory) and teardown() (kills the
# vmxctl in $PID, closes the FIFO's fd $IN).

L=/usr/share/vmxctl/linux
# The guest kernel: under Bochs (GenuineIntel here) the vmlinux, whose
# PVH entry skips the 45 s the bzImage spends decompressing itself; the
# other format boots once in each lane (last test).
if grep -q GenuineIntel /proc/cpuinfo; then
	KERNEL=$L/vmlinux OTHER=$L/bzImage
else
	KERNEL=$L/bzImage OTHER=$L/vmlinux
fi
# Boot, guest command and shutdown bounds, in seconds (a guest inside a
# guest inside an emulator).
BOOT_SECONDS=600
CMD_SECONDS=120
# What the guest's kernel log must not hold (as the lanes judge theirs).
TROUBLE='WARNING|BUG|Oops|unchecked MSR access|Firmware Bug|TSC unstable|Marking TSC unstable|soft lockup|rcu_.*stall|hung_task|blocked for more than|Call Trace'

setup_file() {
	[ -r "$L/bzImage" ] || skip "no guest kernel in $L"
}

setup() {
	load_vmxl
	T=$(mktemp -d)
	N=0
	PID= IN=
}

teardown() {
	if [ -n "$PID" ]; then
		kill -KILL "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	[ -z "${IN:-}" ] || exec {IN}>&-
	rm -rf "$T"
	unload_vmxl || true
}

# boot [vmxctl run options...]: Linux in the background, its console in
# $T/console, its input the FIFO on fd IN.
boot() {
	[ -p "$T/in" ] || mkfifo "$T/in"
	[ -n "${IN:-}" ] || exec {IN}<>"$T/in"
	# mitigations=off, as lane.sh boots the lane's own kernel: the
	# emulated CPUs (EPYC family 17h without the SRSO microcode) make
	# the kernel print a "WARNING:" notice about itself at every boot.
	/usr/bin/vmxctl run --kernel "$KERNEL" --initrd "$L/initrd.gz" \
		--cpus 2 --mem 128M --serial stdio --append mitigations=off \
		"$@" <"$T/in" >"$T/console" 2>"$T/err" &
	PID=$!
	START=$(date +%s)
	WAIT_SECONDS=$BOOT_SECONDS wait_for "$T/console" '^vmxl-guest: up' "$PID"
	WAIT_SECONDS=$CMD_SECONDS wait_for "$T/console" 'guest# ' "$PID"
	echo "# booted in $(($(date +%s) - START)) s" >&3
}

# send CMD: type CMD into the guest's shell as command N (counted here)
# between the lines @B<N>@ and @E<N>@ that guest() and round_trip() wait for.
send() {
	N=$((N + 1))
	echo "echo @B$N@; $1; echo @E$N@" >&"$IN"
}

# guest CMD: run CMD in the guest's shell; its output in $output.
guest() {
	send "$1"
	WAIT_SECONDS=${2:-$CMD_SECONDS} wait_for "$T/console" "^@E$N@" "$PID" || return 1
	output=$(tr -d '\r' <"$T/console" |
		 sed -n "/^@B$N@\$/,/^@E$N@\$/p" | sed '1d;$d')
}

# round_trip CMD: the shortest host time of three runs of CMD in the
# guest, in ms, in $rt (bash's clock: busybox's date has no %N; not in a
# subshell: it counts commands as guest() does). Bash reads the console
# itself, waking every 2 ms on a timed read of a FIFO nobody writes:
# guest()'s polls fork grep, which costs 100 ms and more on the debug
# lane, noise larger than what the callers measure.
round_trip() {
	local i t0 t1 c z line part tick

	[ -p "$T/tick" ] || mkfifo "$T/tick"
	exec {z}<>"$T/tick"
	rt=
	for i in 1 2 3; do
		exec {c}<"$T/console"
		while IFS= read -r -u "$c" line; do :; done	# what is there
		part=$line
		t0=${EPOCHREALTIME/./}
		send "$1"
		while :; do
			if IFS= read -r -u "$c" line; then
				line=$part$line part=
				[[ $line == "@E$N@"* ]] && break
				continue
			fi
			part+=$line
			t1=${EPOCHREALTIME/./}
			if ((t1 - t0 > CMD_SECONDS * 1000000)); then
				echo "# round_trip: no @E$N@ after $CMD_SECONDS s" >&3
				exec {c}<&- {z}<&-
				return 1
			fi
			read -r -t 0.002 -u "$z" tick || true
		done
		t1=${EPOCHREALTIME/./}
		exec {c}<&-
		t1=$(((t1 - t0) / 1000))
		[ -n "$rt" ] && [ "$rt" -le "$t1" ] || rt=$t1
	done
	exec {z}<&-
}

# ended [SECONDS]: vmxctl's exit status in $status once it ended.
ended() {
	local i

	for ((i = 0; i < ${1:-$CMD_SECONDS} * 10; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		echo "# vmxctl still runs: killed" >&3
		kill -KILL "$PID"
	fi
	status=0
	wait "$PID" || status=$?
	PID=
}

# row NAME: the two per-CPU counts of the last $output's
# /proc/interrupts row NAME (a name, or what its line says, as ttyS0),
# in $c0 and $c1. (Not in a subshell: guest() counts its commands.)
row() {
	read -r c0 c1 < <(echo "$output" | awk -v n="$1" \
		'$1 == n ":" || index($0, n) { print $2, $3; exit }')
	[ -n "$c0" ] && [ -n "$c1" ]
}
