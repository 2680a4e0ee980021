#!/usr/bin/env bats
# vmxctl run: every option, the UART (stdout, file, stdin), the exit port,
# the loaders (64-bit and 32-bit ELF, flat real mode), the virtio disk
# with and without the SMMU (bytes checked against the backing file),
# the control socket (reset points too), signals, and the error paths
# with their exit codes.

load helpers
bats_require_minimum_version 1.5.0

G=/usr/share/vmxctl
PIDS=()

setup() {
	load_vmxl
	T=$(mktemp -d)
}

teardown() {
	local pid

	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$T"
	unload_vmxl || true
}

# vmxctl with a bound: a hung run fails its test instead of the lane.
vmxctl() {
	timeout 60 /usr/bin/vmxctl "$@"
}

# sectors FILE FIRST COUNT: those sectors on stdout
sectors() {
	dd if="$1" bs=512 skip="$2" count="$3" 2>/dev/null
}

# background ARGS...: vmxctl ARGS in the background, stdout/stderr to
# $T/out and $T/err; PID is its pid.
background() {
	/usr/bin/vmxctl "$@" </dev/null >"$T/out" 2>"$T/err" &
	PID=$!
	PIDS+=("$PID")
}

# ---- help and usage ----

@test "vmxctl --help and run --help list the options and exit codes" {
	run vmxctl --help
	[ "$status" -eq 0 ]
	[[ $output == *"run "* ]]
	[[ $output == *"control "* ]]
	run vmxctl run --help
	[ "$status" -eq 0 ]
	for o in --mem --cpus --serial --disk --smmu --control --load --entry --restore; do
		[[ $output == *"$o"* ]]
	done
	[[ $output == *"Exit status"* ]]
	[[ $output == *"0xf4"* ]]
}

@test "an unknown command or option is a usage error (64)" {
	run vmxctl frobnicate
	[ "$status" -eq 64 ]
	[[ $output == *"unknown command 'frobnicate'"* ]]
	run vmxctl run --bogus $G/demo.elf
	[ "$status" -eq 64 ]
	run vmxctl run
	[ "$status" -eq 64 ]
	[[ $output == *"exactly one GUEST"* ]]
}

@test "a bad --mem or --cpus is a usage error naming the option" {
	for m in 12X 0 5G 1000 -1M; do
		run vmxctl run --mem "$m" $G/demo.elf
		[ "$status" -eq 64 ]
		[[ $output == *"--mem '$m'"* ]]
	done
	run vmxctl run --cpus 0 $G/demo.elf
	[ "$status" -eq 64 ]
	[[ $output == *"--cpus '0'"* ]]
	run vmxctl run --cpus 99 $G/demo.elf
	[ "$status" -eq 64 ]
}

# ---- files ----

@test "a missing GUEST, --disk or --serial directory names the file (66)" {
	run vmxctl run "$T/nothere.elf"
	[ "$status" -eq 66 ]
	[[ $output == *"$T/nothere.elf: No such file or directory"* ]]
	run vmxctl run --disk "$T/nodisk.img" $G/demo.elf
	[ "$status" -eq 66 ]
	[[ $output == *"--disk $T/nodisk.img: No such file or directory"* ]]
	run vmxctl run --serial "$T/no/such/dir/log" $G/hello32.elf
	[ "$status" -eq 66 ]
	[[ $output == *"--serial $T/no/such/dir/log"* ]]
}

@test "a bad ELF, a non-ELF without --load and a guest too big for RAM are refused (65)" {
	head -c 40 $G/demo.elf >"$T/trunc.elf"
	run vmxctl run "$T/trunc.elf"
	[ "$status" -eq 65 ]
	[[ $output == *"$T/trunc.elf: bad ELF"* ]]
	printf 'just some text\n' >"$T/text.bin"
	run vmxctl run "$T/text.bin"
	[ "$status" -eq 65 ]
	[[ $output == *"$T/text.bin: not an ELF file"* ]]
	# demo.elf has a 4 MiB array: it does not fit in 2 MiB
	run vmxctl run --mem 2M $G/demo.elf
	[ "$status" -eq 65 ]
	[[ $output == *"$G/demo.elf: segment"*"at GPA 0x"*"does not fit"* ]]
	run vmxctl run --load 0x7c00 $G/demo.elf
	[ "$status" -eq 64 ]
	[[ $output == *"--load and --entry are for flat binaries"* ]]
}

# ---- loaders, UART, exit port ----

@test "32-bit ELF: protected mode, output on stdout, exit code 3" {
	run --separate-stderr vmxctl run $G/hello32.elf
	[ "$status" -eq 3 ]
	[ "$output" = "hello32: protected mode, cpu 0 of 1, RAM 64 MiB, cr0 0x33" ]
}

@test "flat binary: real mode at --load 0x7c00, exit code 5" {
	run --separate-stderr vmxctl run --load 0x7c00 $G/hello16.bin
	[ "$status" -eq 5 ]
	[ "$output" = "hello16: real mode" ]
	# --entry: one byte later skips the CLI, still the same program
	run --separate-stderr vmxctl run --load 0x7c00 --entry 0x7c01 $G/hello16.bin
	[ "$status" -eq 5 ]
	run vmxctl run --load 0x7c00 --entry 0x200000 $G/hello16.bin
	[ "$status" -eq 64 ]
	[[ $output == *"real mode starts below 1 MiB"* ]]
}

@test "--serial FILE gets the output, --mem and --cpus reach the guest" {
	run vmxctl run --serial "$T/serial.log" --mem 32M --cpus 3 $G/hello32.elf
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[ "$(cat "$T/serial.log")" = "hello32: protected mode, cpu 0 of 3, RAM 32 MiB, cr0 0x33" ]
}

@test "64-bit ELF with 2 vCPUs: both come up, long mode" {
	background run --cpus 2 --serial "$T/serial.log" --control "$T/ctl" $G/demo.elf
	wait_for "$T/serial.log" '^count ' "$PID"
	grep -qx 'demo-guest: cpu 0 of 2 up, RAM 64 MiB' "$T/serial.log"
	grep -qx 'demo-guest: cpu 1 of 2 up' "$T/serial.log"
	grep -qx 'demo-guest: no disk' "$T/serial.log"
	run vmxctl control "$T/ctl" regs 0
	[ "$status" -eq 0 ]
	[[ $output == *"efer 0x500"* ]]
	[[ $output == *"cr0 0x80050033"* ]]
	run vmxctl control "$T/ctl" stop 0
	[ "$status" -eq 0 ]
	wait "$PID"
}

@test "UART input from stdin: echoed without blocking the vCPU, loopback and FIFO work" {
	local in rc=0

	# The input goes in once the guest runs and says so, from a fifo
	# held open until then (not after a fixed second).
	mkfifo "$T/in"
	timeout 60 /usr/bin/vmxctl run $G/echo.elf <"$T/in" >"$T/out" 2>"$T/err" &
	PID=$!
	PIDS+=("$PID")
	exec {in}>"$T/in"
	wait_for "$T/out" '^echo: ready$' "$PID"
	printf 'hello q' >&"$in"
	exec {in}>&-
	wait "$PID" || rc=$?
	sed 's/^/# /' "$T/out" "$T/err"
	[ "$rc" -eq 0 ]
	mapfile -t lines <"$T/out"
	[ "${lines[0]}" = "echo: ready" ]
	[ "${lines[1]}" = "HELLO " ]
	[ "${lines[2]}" = "echo: bye" ]
}

@test "console escapes: Ctrl-A Ctrl-A sends one, Ctrl-A h helps, Ctrl-A x stops (130)" {
	local in rc=0

	mkfifo "$T/in"
	timeout 60 /usr/bin/vmxctl run $G/echo.elf <"$T/in" >"$T/out" 2>"$T/err" &
	PID=$!
	PIDS+=("$PID")
	exec {in}>"$T/in"
	wait_for "$T/out" '^echo: ready$' "$PID"
	printf 'ab\001\001c\n\001h' >&"$in"
	wait_for "$T/out" $'^AB\001C$' "$PID"
	printf '\001x' >&"$in"
	wait "$PID" || rc=$?
	exec {in}>&-
	sed 's/^/# /' "$T/out" "$T/err"
	[ "$rc" -eq 130 ]
	grep -q 'Ctrl-A x stop, Ctrl-A d detach' "$T/err"
	grep -q 'console: stopping the VM' "$T/err"
}

@test "exit port: a code above 63 exits 63 with a message" {
	mkdisk "$T/disk.img" "VMXLDEMO count=10 every=5 exit=200"
	run --separate-stderr vmxctl run --disk "$T/disk.img" $G/demo.elf
	[ "$status" -eq 63 ]
	[[ $stderr == *"guest exit code 200 above 63"* ]]
}

@test "a triple fault stops the run with 70 and the vCPU's RIP" {
	run --separate-stderr vmxctl run $G/crash.elf
	[ "$status" -eq 70 ]
	[ "$output" = "crash: about to fault" ]
	[[ $stderr == *"vCPU 0: triple fault (shutdown) (RIP 0x"* ]]
}

# ---- the virtio disk ----

check_disk() { # disk
	cmp <(sectors "$1" 16 8) <(sectors "$1" 32 8)
	[ "$(sectors "$1" 2 1 | head -c 20)" = "demo-guest was here" ]
	# nothing else was written
	[ "$(sectors "$1" 40 24 | tr -d '\0' | wc -c)" -eq 0 ]
}

@test "virtio-blk: the demo reads, writes and counts; bytes checked in the file" {
	mkdisk "$T/disk.img" "VMXLDEMO count=3000 every=1000 exit=9"
	run --separate-stderr vmxctl run --disk "$T/disk.img" $G/demo.elf
	[ "$status" -eq 9 ]
	[[ $output == *"disk: sector 0 says: VMXLDEMO count=3000 every=1000 exit=9"* ]]
	[[ $output == *"disk: id disk.img"* ]]
	[[ $output == *"copied sectors 16-23 to 32-39, wrote sector 2, flushed"* ]]
	[ "$(grep -c '^count ' <<<"$output")" -eq 3 ]
	[[ $output == *$'count 1000\ncount 2000\ncount 3000\n'* ]]
	check_disk "$T/disk.img"
}

@test "virtio-blk: disk I/O while counting (io=1) writes the last count to sector 3" {
	mkdisk "$T/disk.img" "VMXLDEMO count=50 every=10 io=1 exit=4"
	run --separate-stderr vmxctl run --disk "$T/disk.img" $G/demo.elf
	[ "$status" -eq 4 ]
	check_disk "$T/disk.img"
	# sector 3: u64 50, then its complement, little-endian
	[ "$(sectors "$T/disk.img" 3 1 | od -An -tx1 -N16 | tr -d ' \n')" = \
	  "3200000000000000cdffffffffffffff" ]
}

@test "virtio-blk with --smmu: DMA through the SMMU (GBPA bypass), same bytes" {
	mkdisk "$T/disk.img" "VMXLDEMO count=2000 every=1000 exit=11"
	run --separate-stderr vmxctl run --smmu --disk "$T/disk.img" $G/demo.elf
	[ "$status" -eq 11 ]
	[[ $output == *"count 2000"* ]]
	check_disk "$T/disk.img"
}

@test "virtio-blk with --smmu and GBPA abort: the DMA is refused, the device needs reset" {
	mkdisk "$T/disk.img" "VMXLDEMO count=10 smmu-abort=1"
	run --separate-stderr vmxctl run --smmu --disk "$T/disk.img" $G/demo.elf
	[ "$status" -eq 2 ]
	[[ $output == *"smmu: GBPA set to abort"* ]]
	[[ $output == *"demo-guest: disk: device needs reset"* ]]
	[[ $stderr == *"virtio-blk: reading avail.idx at 0x"*": aborted: device needs reset"* ]]
	# nothing was copied
	[ "$(sectors "$T/disk.img" 32 8 | tr -d '\0' | wc -c)" -eq 0 ]
}

@test "--smmu with 16 MiB of RAM and a disk: the window is no RAM, the disk works" {
	mkdisk "$T/disk.img" "VMXLDEMO count=10 exit=0"
	run --separate-stderr vmxctl run --smmu --mem 16M --disk "$T/disk.img" $G/demo.elf
	[ "$status" -eq 0 ]
}

# ---- control socket and signals ----

@test "control socket: status, pause stops the count, resume continues, dump-mem" {
	background run --serial "$T/serial.log" --control "$T/ctl" --mem 16M $G/demo.elf
	wait_for "$T/serial.log" '^count ' "$PID"
	run vmxctl control "$T/ctl" status
	[ "$status" -eq 0 ]
	[[ $output == *"state running"* ]]
	[[ $output == *"vcpus 1"* ]]
	[[ $output == *"mem 16777216"* ]]
	[[ $output == *"device uart0"* ]]
	run vmxctl control "$T/ctl" pause
	[ "$status" -eq 0 ]
	run vmxctl control "$T/ctl" status
	[[ $output == *"state paused"* ]]
	a=$(wc -l <"$T/serial.log")
	sleep 1
	b=$(wc -l <"$T/serial.log")
	[ "$a" -eq "$b" ]
	run vmxctl control "$T/ctl" pause
	[ "$status" -eq 1 ]
	[[ $output == *"already paused"* ]]
	run vmxctl control "$T/ctl" dump-mem "$T/mem.bin"
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$T/mem.bin")" -eq 16777216 ]
	# the image's text at 1 MiB, byte for byte (file offset 0x1000)
	cmp <(dd if="$T/mem.bin" bs=4096 skip=256 count=1 2>/dev/null | head -c 3000) \
	    <(dd if=$G/demo.elf bs=4096 skip=1 count=1 2>/dev/null | head -c 3000)
	run vmxctl control "$T/ctl" resume
	[ "$status" -eq 0 ]
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$T/serial.log")" -gt "$b" ] && break
		sleep 0.1
	done
	[ "$(wc -l <"$T/serial.log")" -gt "$b" ]
	run vmxctl control "$T/ctl" nonsense
	[ "$status" -eq 1 ]
	[[ $output == *"unknown command 'nonsense'"* ]]
	run vmxctl control "$T/ctl" stop 12
	[ "$status" -eq 0 ]
	rc=0
	wait "$PID" || rc=$?	# not in `run`: a subshell cannot wait for it
	[ "$rc" -eq 12 ]
	[ ! -e "$T/ctl" ]
	run vmxctl control "$T/ctl" status
	[ "$status" -eq 66 ]
	[[ $output == *"$T/ctl: cannot connect"* ]]
}

# lines_after FILE OFFSET: the complete lines FILE has past byte OFFSET
lines_after() {
	tail -c +$(($2 + 1)) "$1" | wc -l
}

@test "control socket: reset-point and reset take the demo back to the point (its count repeats); refused without a point, with arguments, with a disk" {
	background run --serial "$T/serial.log" --control "$T/ctl" --mem 16M $G/demo.elf
	wait_for "$T/serial.log" '^count ' "$PID"
	run vmxctl control "$T/ctl" reset
	[ "$status" -eq 1 ]
	[[ $output == *"reset: no reset point: take one with reset-point"* ]]
	run vmxctl control "$T/ctl" reset-point now
	[ "$status" -eq 1 ]
	[[ $output == *"usage: reset-point"* ]]
	# paused, so that the point is where the log ends
	run vmxctl control "$T/ctl" pause
	run vmxctl control "$T/ctl" reset-point
	[ "$status" -eq 0 ]
	[[ $output == *"devices 1"* ]]	# uart0; the exit port has no state
	at=$(stat -c %s "$T/serial.log")
	run vmxctl control "$T/ctl" resume
	for ((i = 0; i < 300; i++)); do
		[ "$(lines_after "$T/serial.log" "$at")" -ge 3 ] && break
		sleep 0.1
	done
	# the second line after the point is the first whole one
	line=$(tail -c +$((at + 1)) "$T/serial.log" | sed -n 2p)
	[[ $line == "count "* ]]
	run vmxctl control "$T/ctl" reset
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | sed -n 's/^pages //p')" -gt 0 ]
	[[ $output == *"resets 1"* ]]
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -cx "$line" "$T/serial.log")" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(grep -cx "$line" "$T/serial.log")" -eq 2 ]
	run vmxctl control "$T/ctl" stop 0
	wait "$PID" || true
	# virtio-blk: its DMA and its disk are outside what a reset undoes
	dd if=/dev/zero of="$T/disk.img" bs=1M count=1 2>/dev/null
	background run --serial "$T/serial2.log" --control "$T/ctl2" --mem 16M \
		--disk "$T/disk.img" $G/demo.elf
	wait_for "$T/serial2.log" '^count ' "$PID"
	run vmxctl control "$T/ctl2" reset-point
	[ "$status" -eq 1 ]
	[[ $output == *"reset-point: device virtio-blk0: its DMA writes guest RAM through vmxctl's mapping"* ]]
	run vmxctl control "$T/ctl2" status
	[[ $output == *"state running"* ]]
	run vmxctl control "$T/ctl2" reset
	[[ $output == *"no reset point"* ]]
}

@test "SIGINT stops every vCPU cleanly: exit 130; SIGTERM: 143" {
	background run --cpus 2 --serial "$T/serial.log" --control "$T/ctl" $G/demo.elf
	wait_for "$T/serial.log" '^count ' "$PID"
	kill -INT "$PID"
	rc=0
	wait "$PID" || rc=$?
	[ "$rc" -eq 130 ]
	grep -q 'SIGINT: stopping the VM' "$T/err"
	[ ! -e "$T/ctl" ]
	[ "$(cat /sys/class/misc/vmx-lite/objects | grep -E '^vms' | tr -dc 0-9)" -eq 0 ]

	background run --serial "$T/serial2.log" $G/demo.elf
	wait_for "$T/serial2.log" '^count ' "$PID"
	kill -TERM "$PID"
	rc=0
	wait "$PID" || rc=$?
	[ "$rc" -eq 143 ]
}

@test "--restore without snapshot support, or of a missing file, fails with 72" {
	run vmxctl run --restore "$T/none.snap"
	[ "$status" -eq 72 ]
	[[ $output == *"$T/none.snap"* ]]
}
