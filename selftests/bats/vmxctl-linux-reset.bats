#!/usr/bin/env bats
# Reset points of a running Linux guest (vmxctl's control commands
# reset-point and reset, VMXL_RESET_TO_POINT): a point taken at the
# shell, then 100 times a command that leaves a mark in the guest's
# tmpfs and a reset: the guest keeps working after each reset, sees
# none of the earlier marks, and its clock starts again from the point;
# its log stays clean, and both CPUs still take timer interrupts after.
# vmxl-timeout: 1500

load helpers
bats_require_minimum_version 1.5.0

load linux-guest

RESETS=100

@test "a Linux guest reset to a point taken at its shell works after each of $RESETS resets, and forgets what each did" {
	boot --control "$T/ctl"
	run vmxctl control "$T/ctl" reset
	[ "$status" -eq 1 ]
	[[ $output == *"no reset point"* ]]
	# The console is the shell's alone: a reset takes the kernel's log
	# back to the point too, and what it prints once (a nested
	# emulator's "hrtimer: interrupt took ...") it may print after each
	# reset, amid a command's output. trouble() counts the lines of
	# its log that the lanes judge trouble, after each command.
	guest "dmesg -n 1; trouble() { dmesg | grep -cE '$TROUBLE' || true; }"
	run vmxctl control "$T/ctl" reset-point
	echo "$output" | sed 's/^/# reset-point: /' >&3
	[ "$status" -eq 0 ]
	start=$EPOCHSECONDS
	up_min= up_max= pages= times=
	for ((i = 1; i <= RESETS; i++)); do
		# The only mark is this one: the earlier ones went with their
		# resets. The uptime: where the clock went on from the point.
		guest "echo $i >/tmp/mark.$i; cat /tmp/mark.*; cut -d. -f1 /proc/uptime; trouble"
		read -r -d '' mark up trouble <<<"$output" || true
		if [ "$mark" != "$i" ] || [ -z "$up" ] || [ "$trouble" != 0 ]; then
			echo "# after $((i - 1)) resets the guest said: $output" >&3
			guest "dmesg"
			echo "$output" | sed 's/^/# /' >&3
			false
		fi
		[ -n "$up_min" ] && [ "$up_min" -le "$up" ] || up_min=$up
		[ -n "$up_max" ] && [ "$up_max" -ge "$up" ] || up_max=$up
		run vmxctl control "$T/ctl" reset
		if [ "$status" -ne 0 ]; then
			echo "# reset $i: $output" >&3
			false
		fi
		# pages N, time_us T, resets I
		p=$(echo "$output" | sed -n 's/^pages //p')
		t=$(echo "$output" | sed -n 's/^time_us //p')
		[ "$(echo "$output" | sed -n 's/^resets //p')" = "$i" ]
		[ "$p" -gt 0 ]
		pages+="$p " times+="$t "
	done
	elapsed=$((EPOCHSECONDS - start))
	echo "# $RESETS resets in $elapsed s; guest uptime at the commands $up_min-$up_max s" >&3
	echo "# pages per reset: $(echo $pages | tr ' ' '\n' | sort -n | sed -n '1p;50p;$p' | xargs)" \
		"(min, median, max); time_us: $(echo $times | tr ' ' '\n' | sort -n | sed -n '1p;50p;$p' | xargs)" >&3
	# Without the resets the guest's clock would have gone on with the
	# host's for the whole loop (vmxctl-linux checks that it keeps
	# host time): it went back each time.
	[ $((up_max - up_min)) -lt $((elapsed / 4 + 2)) ]
	# after the last reset: no mark, both CPUs' timers, a clean log
	guest "ls /tmp | grep -c '^mark' || true"
	[ "$output" = 0 ]
	guest "cat /proc/interrupts"
	row LOC
	loc0=$c0 loc1=$c1
	guest "sleep 1; cat /proc/interrupts"
	row LOC
	echo "# LOC $loc0 $loc1 -> $c0 $c1" >&3
	[ "$c0" -gt "$loc0" ]
	[ "$c1" -gt "$loc1" ]
	guest "dmesg"
	if echo "$output" | grep -E "$TROUBLE"; then
		echo "# the guest's log:" >&3
		echo "$output" | sed 's/^/# /' >&3
		false
	fi
	echo "poweroff -f" >&"$IN"
	ended
	[ "$status" -eq 0 ]
}
