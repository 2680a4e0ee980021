#!/usr/bin/env bats
# vmxmon, the netlink monitor: every command, text and --json (parsed with
# jq), against live VMs that vmxl-hold makes, and its exit codes.

load helpers
bats_require_minimum_version 1.5.0

ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}'
HOLD_PIDS=()
HOLD_FDS=()
WATCH_PID=

# Each test starts with a freshly loaded module: default interval, no VM.
setup() {
	load_vmxl
}

teardown() {
	local fd pid

	for fd in "${HOLD_FDS[@]}"; do
		exec {fd}>&-
	done
	for pid in "${HOLD_PIDS[@]}" $WATCH_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	unload_vmxl || true
}

# wait_for FILE REGEX PID: until a line of FILE matches REGEX; fails at
# once when process PID has ended without writing it, else after 20 s.
wait_for() {
	local i

	for ((i = 0; i < 400; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		if ! kill -0 "$3" 2>/dev/null; then
			grep -qE "$2" "$1" 2>/dev/null && return 0
			break
		fi
		sleep 0.05
	done
	echo "# no line /$2/ in $1:" >&2
	sed 's/^/# /' "$1" >&2
	return 1
}

# In a background child: only the test's shell may keep the holds'
# stdin open, or closing it would not end them.
close_hold_fds() {
	local f

	for f in "${HOLD_FDS[@]}"; do
		exec {f}>&-
	done
}

# hold ARGS...: vmxl-hold ARGS in the background, its stdin a fifo this
# shell keeps open; once it is ready, VM is its VM id, HOLD_PID its pid
# and HOLD_FD the fifo's write end (unhold closes it).
hold() {
	local n=${#HOLD_PIDS[@]}
	local fifo=$BATS_TEST_TMPDIR/hold$n.in out=$BATS_TEST_TMPDIR/hold$n.out

	mkfifo "$fifo"
	(
		close_hold_fds
		exec vmxl-hold "$@" <"$fifo" >"$out" 2>&1 3>&-
	) &
	HOLD_PID=$!
	exec {HOLD_FD}>"$fifo"
	HOLD_PIDS+=("$HOLD_PID")
	HOLD_FDS+=("$HOLD_FD")
	wait_for "$out" '^ready vm=[0-9]+$' "$HOLD_PID"
	VM=$(sed -n 's/^ready vm=//p' "$out")
}

# unhold FD PID: end of input: vmxl-hold closes its VM and exits 0.
unhold() {
	local fd=$1

	exec {fd}>&-
	wait "$2"
}

# watch_bg FILE ARGS...: vmxmon ARGS (a watch) in the background, output
# to FILE, stderr to FILE.err; returns once it has joined its groups.
watch_bg() {
	local out=$1

	shift
	(
		close_hold_fds
		exec vmxmon "$@" >"$out" 2>"$out.err" 3>&-
	) &
	WATCH_PID=$!
	wait_for "$out.err" '^vmxmon: watching' "$WATCH_PID"
}

# jqcheck [jq options] FILTER: FILTER over all JSON lines of $output
# (slurped) must be true; every line must be valid JSON.
jqcheck() {
	if ! jq -se "$@" <<<"$output" >/dev/null; then
		echo "# jq check failed: ${*: -1}" >&2
		echo "$output" | sed 's/^/# /' >&2
		return 1
	fi
}

@test "--help and help print usage with the exit codes, status 0" {
	run --separate-stderr vmxmon --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: vmxmon"* ]]
	[[ $output == *"Exit status: 0 success, 1 runtime or kernel error, 2 usage error"* ]]
	[ -z "$stderr" ]
	local help=$output
	run --separate-stderr vmxmon help
	[ "$status" -eq 0 ]
	[ "$output" = "$help" ]
}

@test "--version prints the package and netlink protocol versions" {
	run vmxmon --version
	[ "$status" -eq 0 ]
	[[ $output =~ ^"vmxmon (vmx-lite) "[0-9][^,]*", vmx_lite netlink protocol version 1"$ ]]
}

@test "usage errors exit 2 and say what was wrong" {
	run --separate-stderr vmxmon --frobnicate
	[ "$status" -eq 2 ]
	[[ $stderr == *"unknown option '--frobnicate'"* ]]
	run --separate-stderr vmxmon
	[ "$status" -eq 2 ]
	[[ $stderr == *"no command given"* ]]
	run --separate-stderr vmxmon frobnicate
	[ "$status" -eq 2 ]
	[[ $stderr == *"unknown command 'frobnicate'"* ]]
	run --separate-stderr vmxmon list --count 1
	[ "$status" -eq 2 ]
	[[ $stderr == *"--count does not apply to list"* ]]
	run --separate-stderr vmxmon watch --count 0
	[ "$status" -eq 2 ]
	run --separate-stderr vmxmon watch --timeout
	[ "$status" -eq 2 ]
	run --separate-stderr vmxmon interval 12abc
	[ "$status" -eq 2 ]
	run --separate-stderr vmxmon interval 500 600
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

@test "without the module: exit 3, says the family is missing" {
	local cmd
	unload_vmxl
	for cmd in list watch top interval "interval 500" "--json list"; do
		run --separate-stderr vmxmon $cmd
		echo "# vmxmon $cmd: status $status: $stderr"
		[ "$status" -eq 3 ]
		[ "$stderr" = "vmxmon: vmx_lite netlink family not found: is the module loaded?" ]
		[ -z "$output" ]
	done
}

@test "list without VMs: a header, no JSON objects" {
	run --separate-stderr vmxmon list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} =~ ^VM\ +PID\ +UID\ +VCPUS\ +MEMORY\ +SLOTS\ +DIRTY-LOG\ +EXITS$ ]]
	run --separate-stderr vmxmon --json list
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "list --json: exactly the VMs vmxl-hold made, vCPUs, memory, slots, counters" {
	hold --vcpus 2 --mem 2 --exits 50
	local a=$VM a_pid=$HOLD_PID
	hold --vcpus 1 --mem 4 --slots 2 --dirty-log --exits 7
	local b=$VM b_pid=$HOLD_PID
	[ "$a" -ne "$b" ]

	run --separate-stderr vmxmon --json list
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 2 ]
	jqcheck --argjson a "$a" --argjson b "$b" 'map(.id) | sort == ([$a, $b] | sort)'
	# A: two vCPUs, each 50 port-I/O exits, then hlt; all 51 to userspace
	jqcheck --argjson id "$a" --argjson pid "$a_pid" '
		map(select(.id == $id))[0] |
		.pid == $pid and .uid == 0 and .nr_vcpus == 2 and
		.mem_bytes == 2097152 and .nr_slots == 1 and
		.dirty_log == {"bitmap": false, "ring": false} and
		.stats.io == 100 and .stats.hlt == 2 and .stats.user == 102 and
		.exits == .stats.exits and .exits >= 102 and
		(.vcpus | length == 2 and map(.id) == [0, 1] and
		 all(.state == "halted" and .last_exit == "hlt" and
		     .stats.io == 50 and .stats.user == 51 and .exits >= 51))'
	# B: one vCPU, 4 MiB in two slots, dirty logging
	jqcheck --argjson id "$b" --argjson pid "$b_pid" '
		map(select(.id == $id))[0] |
		.pid == $pid and .nr_vcpus == 1 and .mem_bytes == 4194304 and
		.nr_slots == 2 and .dirty_log.bitmap == true and
		.stats.io == 7 and
		(.vcpus | length == 1 and .[0].id == 0 and .[0].stats.io == 7)'

	run --separate-stderr vmxmon --json list --vm "$b"
	[ "$status" -eq 0 ]
	jqcheck --argjson b "$b" 'length == 1 and .[0].id == $b'
}

@test "list: a table of VMs, their vCPUs under each" {
	hold --vcpus 2 --mem 2 --exits 3
	local pid=$HOLD_PID
	run --separate-stderr vmxmon list
	[ "$status" -eq 0 ]
	printf '# %s\n' "${lines[@]}"
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[1]} =~ ^$VM\ +$pid\ +0\ +2\ +2M\ +1\ +off\ +[0-9]+$ ]]
	[[ ${lines[2]} =~ ^\ +VCPU\ +STATE\ +LAST-EXIT\ +EXITS$ ]]
	[[ ${lines[3]} =~ ^\ +0\ +halted\ +hlt\ +[0-9]+$ ]]
	[[ ${lines[4]} =~ ^\ +1\ +halted\ +hlt\ +[0-9]+$ ]]
}

@test "list: the exit counters of a running VM grow" {
	hold --loop --exits 10
	local first now i
	run --separate-stderr vmxmon --json list
	[ "$status" -eq 0 ]
	first=$(jq '.exits' <<<"$output")
	[ "$first" -ge 10 ]
	for ((i = 0; i < 100; i++)); do
		now=$(vmxmon --json list | jq '.exits')
		[ "$now" -gt "$first" ] && break
		sleep 0.05
	done
	echo "# exits: $first, then $now"
	[ "$now" -gt "$first" ]
}

@test "watch --json: created, vCPU created, stopped by a triple fault, destroyed, in order" {
	local out=$BATS_TEST_TMPDIR/watch
	watch_bg "$out" --json watch --count 4 --timeout 30

	run vmxl-hold --triple-fault </dev/null
	[ "$status" -eq 0 ]
	[[ $output =~ ^ready\ vm=([0-9]+)$ ]]
	local vm=${BASH_REMATCH[1]}

	wait "$WATCH_PID"	# --count 4: exits 0 after the fourth event
	output=$(cat "$out")
	printf '# %s\n' "$output"
	jqcheck --argjson vm "$vm" --arg iso "^$ISO\$" '
		length == 4 and
		map(.event) == ["vm-created", "vcpu-created", "vcpu-stopped", "vm-destroyed"] and
		all(.vm == $vm and (.time | test($iso))) and
		(.[0] | .uid == 0 and .pid > 0) and
		(.[1].vcpu == 0) and
		(.[2] | .vcpu == 0 and .reason == "shutdown" and .detail == 0)'
}

@test "watch: one timestamped line per event" {
	local out=$BATS_TEST_TMPDIR/watch
	watch_bg "$out" watch --count 5 --timeout 30

	run vmxl-hold --vcpus 2 --triple-fault </dev/null
	[ "$status" -eq 0 ]
	local vm=${output#ready vm=}

	wait "$WATCH_PID"
	mapfile -t lines <"$out"
	printf '# %s\n' "${lines[@]}"
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[0]} =~ ^$ISO\ vm-created\ vm=$vm\ pid=[1-9][0-9]*\ uid=0$ ]]
	[[ ${lines[1]} =~ ^$ISO\ vcpu-created\ vm=$vm\ vcpu=0$ ]]
	[[ ${lines[2]} =~ ^$ISO\ vcpu-created\ vm=$vm\ vcpu=1$ ]]
	[[ ${lines[3]} =~ ^$ISO\ vcpu-stopped\ vm=$vm\ vcpu=0\ reason=shutdown\ detail=0$ ]]
	[[ ${lines[4]} =~ ^$ISO\ vcpu-stopped\ vm=$vm\ vcpu=1\ reason=shutdown\ detail=0$ ]]
}

@test "watch --vm: only that VM's events" {
	local out=$BATS_TEST_TMPDIR/watch
	hold --exits 1
	local a=$VM fd=$HOLD_FD pid=$HOLD_PID
	watch_bg "$out" --json watch --vm "$a" --count 1 --timeout 30

	run vmxl-hold --triple-fault </dev/null	# another VM, all filtered
	[ "$status" -eq 0 ]
	unhold "$fd" "$pid"			# A destroyed: the one event

	wait "$WATCH_PID"
	output=$(cat "$out")
	jqcheck --argjson a "$a" 'length == 1 and .[0].event == "vm-destroyed" and .[0].vm == $a'
}

@test "watch --timeout: exits 0 when nothing happened" {
	run --separate-stderr vmxmon watch --timeout 0.3
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$stderr" = "vmxmon: watching lifecycle, faults" ]
}

@test "watch --stats: samples at the set interval with growing counters" {
	run vmxmon interval 100
	[ "$status" -eq 0 ]
	hold --loop --exits 10
	run --separate-stderr vmxmon --json watch --stats --vm "$VM" --count 2 --timeout 30
	[ "$status" -eq 0 ]
	[[ $stderr == "vmxmon: watching lifecycle, faults, stats" ]]
	printf '# %s\n' "${lines[@]}"
	jqcheck --argjson vm "$VM" '
		length == 2 and all(.event == "stats" and .vm == $vm and
				    .interval_ms == 100 and .stats.io >= 10) and
		.[1].timestamp_ns > .[0].timestamp_ns and
		.[1].stats.io > .[0].stats.io and
		.[1].stats.exits >= .[1].stats.io'
}

@test "top --json: an io rate for the VM doing exits, none for the idle one" {
	hold --loop --exits 10
	local busy=$VM
	hold --exits 5
	local idle=$VM
	run --separate-stderr vmxmon --json top --interval 300 --iterations 2
	[ "$status" -eq 0 ]
	printf '# %s\n' "${lines[@]}"
	[ "${#lines[@]}" -eq 4 ]	# one object per VM per sample
	jqcheck --argjson busy "$busy" --argjson idle "$idle" '
		(map(select(.vm == $busy)) | length == 2 and
		 all(.rates.io > 0 and .rates.exits >= .rates.io and
		     .totals.io >= 10 and .interval_s > 0)) and
		(map(select(.vm == $idle)) | length == 2 and
		 all(.rates.io == 0 and .totals.io == 5))'
}

@test "top without a terminal: plain text blocks, no screen clearing" {
	hold --loop --exits 10
	run --separate-stderr vmxmon top --once --interval 200
	[ "$status" -eq 0 ]
	printf '# %s\n' "${lines[@]}"
	[[ $output != *$'\033'* ]]
	[[ ${lines[0]} =~ ^$ISO\ +1\ VM\ +interval\ [0-9.]+\ s$ ]]
	[[ ${lines[1]} =~ ^VM\ $VM\ +pid\ [0-9]+\ +exits/s\ [0-9.]+ ]]
	local io
	io=$(printf '%s\n' "${lines[@]}" | awk '$1 == "io" { print $2 }')
	[ -n "$io" ]
	awk -v r="$io" 'BEGIN { exit !(r > 0) }'
}

@test "interval: get, set, get again, in text and JSON" {
	run --separate-stderr vmxmon interval
	[ "$status" -eq 0 ]
	[ "$output" = "stats interval 1000 ms" ]
	run --separate-stderr vmxmon interval 500
	[ "$status" -eq 0 ]
	[ "$output" = "stats interval 500 ms" ]
	run --separate-stderr vmxmon --json interval
	[ "$status" -eq 0 ]
	jqcheck '. == [{"interval_ms": 500}]'
	run --separate-stderr vmxmon --json interval 60000
	[ "$status" -eq 0 ]
	jqcheck '. == [{"interval_ms": 60000}]'
	run --separate-stderr vmxmon interval 100
	[ "$status" -eq 0 ]
	[ "$output" = "stats interval 100 ms" ]
}

@test "interval out of range: the kernel refuses with its message, exit 1" {
	local ms
	for ms in 99 60001 0; do
		run --separate-stderr vmxmon interval "$ms"
		echo "# interval $ms: status $status: $stderr"
		[ "$status" -eq 1 ]
		[ -z "$output" ]
		[[ $stderr == "vmxmon: set the stats interval (VMXL_CMD_SET_STATS_INTERVAL): "*"out of range"* ]]
		# the extack message, not just strerror(ERANGE)
		[[ $stderr == *": integer out of range"* ]]
	done
	run vmxmon interval
	[ "$output" = "stats interval 1000 ms" ]
}

@test "unprivileged: set interval and watch exit 4; get works; sees no root VM" {
	hold --exits 1
	run vmxl-runas 1000 1000 id -u
	[ "$status" -eq 0 ]
	[ "$output" = 1000 ]
	run --separate-stderr vmxl-runas 1000 1000 vmxmon interval 500
	echo "# $stderr"
	[ "$status" -eq 4 ]
	[[ $stderr == *"Operation not permitted"*"CAP_NET_ADMIN"* ]]
	run --separate-stderr vmxl-runas 1000 1000 vmxmon watch --timeout 5
	[ "$status" -eq 4 ]
	[[ $stderr == "vmxmon: joining multicast group lifecycle: "*"CAP_NET_ADMIN"* ]]
	run --separate-stderr vmxl-runas 1000 1000 vmxmon --json watch --stats --timeout 5
	[ "$status" -eq 4 ]
	run --separate-stderr vmxl-runas 1000 1000 vmxmon interval
	[ "$status" -eq 0 ]
	[ "$output" = "stats interval 1000 ms" ]
	# another uid's VMs are invisible without CAP_NET_ADMIN
	run --separate-stderr vmxl-runas 1000 1000 vmxmon --json list
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr vmxmon --json list
	[ "${#lines[@]}" -eq 1 ]
}
