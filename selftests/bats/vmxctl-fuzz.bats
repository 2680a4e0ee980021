#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vmxctl fuzz (docs/fuzzing.md) on demo-guest/fuzz.elf: the crashing
# inputs found and saved under the right kind with their bytes, ok inputs
# not crashing, memory written by one input (crashing or not) restored
# before the next over hundreds of resets (the guest checks its checksum
# each time and would report exit3), mutations deterministic for a seed
# and their crashes reproducible from the saved file, the summary, the
# guest that is never ready, and the usage errors.

# shellcheck disable=SC2154 # $stderr: set by bats' run --separate-stderr
load helpers
bats_require_minimum_version 1.5.0

G=/usr/share/vmxctl

setup() {
	load_vmxl
	T=$(mktemp -d)
	mkdir "$T/corpus"
}

teardown() {
	rm -rf "$T"
	unload_vmxl || true
}

# vmxctl with a bound: a hung run fails its test instead of the lane.
vmxctl() {
	timeout 120 /usr/bin/vmxctl "$@"
}

# corpus NAME CONTENT...: files in $T/corpus
corpus() {
	while [ $# -ge 2 ]; do
		printf '%s' "$2" >"$T/corpus/$1"
		shift 2
	done
}

summary_ok() { # the four summary lines, with N inputs and C crashes
	[[ $output == *"inputs: $1 ("* ]]
	[[ $output == *"crashes: $2"* ]]
	[[ $output =~ resets:\ $1\ in\ [0-9.]+\ s:\ [0-9.]+\ resets/s ]]
	[[ $output =~ pages\ reset\ per\ input:\ [0-9.]+\ \(average\) ]]
}

@test "fuzz --help gives the options, conventions and exit codes" {
	run vmxctl fuzz --help
	[ "$status" -eq 0 ]
	for o in --corpus --crashes --iterations --seed --timeout-ms --input-gpa --max-input; do
		[[ $output == *"$o"* ]]
	done
	[[ $output == *"0xf5"* ]]
	[[ $output == *"0xf4"* ]]
	[[ $output == *"Exit status"* ]]
	run vmxctl --help
	[[ $output == *"fuzz "* ]]
}

@test "the crashing inputs are found and saved by kind, with their bytes" {
	corpus a-ok hello b-ud 'UD!x' c-tf 'TF!' d-loop 'LOOP!' e-dirty DIRTY
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" \
		--crashes "$T/crashes" --timeout-ms 500 $G/fuzz.elf
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 1 ]
	summary_ok 5 3
	[[ $output == *"crash: input 1 ($T/corpus/b-ud): vector6: $T/crashes/crash-1-vector6"* ]]
	[[ $output == *"input 2 ($T/corpus/c-tf): triple-fault"* ]]
	[[ $output == *"input 3 ($T/corpus/d-loop): timeout"* ]]
	[ "$(cd "$T/crashes" && echo *)" = "crash-1-vector6 crash-2-triple-fault crash-3-timeout" ]
	cmp "$T/crashes/crash-1-vector6" "$T/corpus/b-ud"
	cmp "$T/crashes/crash-2-triple-fault" "$T/corpus/c-tf"
	cmp "$T/crashes/crash-3-timeout" "$T/corpus/d-loop"
	# the ok input after the three crashes found the memory as at the point
	[[ $output != *exit3* ]]
}

@test "the other kinds: #GP, a halt, the guest's own exit codes" {
	corpus a-gp 'GP!' b-hlt 'HLT!' c-exit5 "$(printf 'EXIT!\005')" \
		d-exit0 "EXIT!0" e-exit86 "$(printf 'EXIT!\206')"
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" \
		--crashes "$T/crashes" $G/fuzz.elf
	echo "$output"
	[ "$status" -eq 1 ]
	summary_ok 5 5
	# EXIT!0 writes '0' (48): a code of its own; 0x86 is vector 6's
	[ "$(cd "$T/crashes" && echo *)" = "crash-0-vector13 crash-1-halt crash-2-exit5 crash-3-exit48 crash-4-vector6" ]
	cmp "$T/crashes/crash-2-exit5" "$T/corpus/c-exit5"
}

@test "ok inputs do not crash" {
	corpus a hello b '' c 'UD' d 'TF' e 'LOOP' f "$(head -c 3000 /dev/zero | tr '\0' x)"
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" \
		--crashes "$T/crashes" $G/fuzz.elf
	echo "$output"
	[ "$status" -eq 0 ]
	summary_ok 6 0
	[ -z "$(find "$T/crashes" -type f)" ]
}

@test "resets restore memory: dirtying and ok inputs alike, many times over" {
	corpus a-dirty DIRTYDIRTYDIRTY b-ok ok c-ud 'UD!'
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" \
		--crashes "$T/crashes" --iterations 300 --seed 3 $G/fuzz.elf
	echo "$output"
	echo "$stderr"
	# Only exceptions, which c-ud (and mutations of it) raise; never the
	# guest's exit3 (its area's checksum is not the point's), no timeout.
	[ "$status" -eq 1 ]
	[[ $output != *exit3* ]]
	[ -f "$T/crashes/crash-2-vector6" ]
	for f in "$T"/crashes/*; do
		[[ $f =~ -(vector[0-9]+|triple-fault)$ ]]
	done
	summary_ok 303
	# every input dirties its stack and at least one page of the area
	[[ $output =~ pages\ reset\ per\ input:\ ([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -ge 2 ]
}

@test "mutations find a crash one bit away, the same for a seed, reproducible" {
	# Every mutation of a 3-byte input touches the magic, so few keep it:
	# seed 3 makes two "UD!" in 300 (the same on every machine).
	corpus ue 'UE!'
	run vmxctl fuzz --corpus "$T/corpus" --crashes "$T/c1" \
		--iterations 300 --seed 3 $G/fuzz.elf
	echo "$output"
	[ "$status" -eq 1 ]
	summary_ok 301
	set -- "$T"/c1/*-vector6
	[ -f "$1" ]
	first=${1##*/}
	[ "$(head -c 3 "$T/c1/$first")" = 'UD!' ]
	run vmxctl fuzz --corpus "$T/corpus" --crashes "$T/c2" \
		--iterations 300 --seed 3 $G/fuzz.elf
	[ "$status" -eq 1 ]
	diff -r "$T/c1" "$T/c2"
	# a saved crash, as the corpus, crashes the same way
	mkdir "$T/again"
	cp "$T/c1/$first" "$T/again/"
	run vmxctl fuzz --corpus "$T/again" --crashes "$T/c3" $G/fuzz.elf
	[ "$status" -eq 1 ]
	cmp "$T/c3/crash-0-vector6" "$T/c1/$first"
}

@test "SIGINT ends the loop in an input: the summary, then 130" {
	corpus a-loop 'LOOP!'
	/usr/bin/vmxctl fuzz --corpus "$T/corpus" --timeout-ms 60000 \
		$G/fuzz.elf </dev/null >"$T/out" 2>"$T/err" &
	pid=$!
	wait_for "$T/out" "ready, reset point taken; 1 inputs to run" "$pid"
	kill -INT "$pid"
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# still running after 20 s: the signal did not end it
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		false
	fi
	rc=0
	wait "$pid" || rc=$?
	cat "$T/out"
	[ "$rc" -eq 130 ]
	# the interrupted input is not counted
	grep -q "^inputs: 0 (" "$T/out"
	grep -q "resets/s" "$T/out"
}

@test "a guest that crashes before it is ready: 70, naming the guest" {
	corpus a hello
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" $G/crash.elf
	[ "$status" -eq 70 ]
	[[ $stderr == *"$G/crash.elf: triple-fault before it was ready"* ]]
}

@test "bad options: usage errors (64) naming what is wrong" {
	corpus a hello
	run --separate-stderr vmxctl fuzz $G/fuzz.elf
	[ "$status" -eq 64 ]
	[[ $stderr == *"--corpus"* ]]
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" --timeout-ms 0 $G/fuzz.elf
	[ "$status" -eq 64 ]
	[[ $stderr == *"--timeout-ms '0'"* ]]
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" --iterations many $G/fuzz.elf
	[ "$status" -eq 64 ]
	[[ $stderr == *"--iterations 'many'"* ]]
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" --disk /dev/null $G/fuzz.elf
	[ "$status" -eq 64 ]
	[[ $stderr == *"--disk: not with fuzz"* ]]
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" --input-gpa 0x3ff0000 $G/fuzz.elf
	[ "$status" -eq 64 ]
	[[ $stderr == *"--input-gpa 0x3ff0000"* ]]
}

@test "a missing or empty corpus, a corpus file too big: named" {
	run --separate-stderr vmxctl fuzz --corpus "$T/nosuch" $G/fuzz.elf
	[ "$status" -eq 66 ]
	[[ $stderr == *"--corpus $T/nosuch: No such file or directory"* ]]
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" $G/fuzz.elf
	[ "$status" -eq 66 ]
	[[ $stderr == *"--corpus $T/corpus: no input files"* ]]
	corpus big 0123456789
	run --separate-stderr vmxctl fuzz --corpus "$T/corpus" --max-input 4 $G/fuzz.elf
	[ "$status" -eq 65 ]
	[[ $stderr == *"$T/corpus/big: 10 bytes, more than --max-input 4"* ]]
}
