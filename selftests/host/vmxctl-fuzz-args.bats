#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vmxctl fuzz: every option it refuses and every file it cannot use, on
# the build machine. Each is found before vmxctl opens /dev/vmx-lite (a
# user gets the problem without the module), with one line naming it and
# the status docs/fuzzing.md gives. The runs themselves are tested in the
# lanes (selftests/bats/vmxctl-fuzz.bats).

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	vmxctl=$top/userspace/vmxctl
	guest=$top/userspace/demo-guest/fuzz.elf
	d=$BATS_TEST_TMPDIR
	[ -x "$vmxctl" ] || skip "vmxctl not built"
	[ -f "$guest" ] || skip "demo guests not built"
	mkdir -p "$d/corpus"
	printf hello >"$d/corpus/a"
}

fuzz() {
	run "$vmxctl" fuzz "$@"
}

names() { # names STATUS WHAT: that status, one line naming WHAT, not the device
	[ "$status" -eq "$1" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "vmxctl: "*"$2"* ]]
	[[ $output != *"/dev/vmx-lite"* ]]
}

@test "fuzz --help: options, ports, crash kinds and exit status" {
	fuzz --help
	[ "$status" -eq 0 ]
	for w in --corpus --crashes --iterations --seed --timeout-ms --input-gpa \
		 --max-input 0xf5 0xf4 vector triple-fault timeout "Exit status"; do
		[[ $output == *"$w"* ]]
	done
}

@test "no --corpus, no GUEST, two GUESTs: 64" {
	fuzz "$guest"
	names 64 "--corpus DIR"
	fuzz --corpus "$d/corpus"
	names 64 "exactly one GUEST"
	fuzz --corpus "$d/corpus" "$guest" "$guest"
	names 64 "exactly one GUEST"
}

@test "bad numbers: 64, naming the option and its value" {
	fuzz --corpus "$d/corpus" --iterations -1 "$guest"
	names 64 "--iterations '-1'"
	fuzz --corpus "$d/corpus" --seed x "$guest"
	names 64 "--seed 'x'"
	fuzz --corpus "$d/corpus" --timeout-ms 0 "$guest"
	names 64 "--timeout-ms '0'"
	fuzz --corpus "$d/corpus" --timeout-ms 3600001 "$guest"
	names 64 "--timeout-ms '3600001'"
	fuzz --corpus "$d/corpus" --max-input 2M "$guest"
	names 64 "--max-input '2M'"
	fuzz --corpus "$d/corpus" --input-gpa 0x1001 "$guest"
	names 64 "--input-gpa '0x1001'"
	fuzz --corpus "$d/corpus" --mem 1000 "$guest"
	names 64 "--mem '1000'"
	# the input must fit in RAM below the boot area and stack
	fuzz --corpus "$d/corpus" --mem 4M --input-gpa 0x3f0000 "$guest"
	names 64 "--input-gpa 0x3f0000"
}

@test "run's device and vCPU options are refused: 64" {
	for o in "--cpus 2" "--serial stdio" "--disk /dev/null" --smmu \
		 "--control /tmp/s" "--restore x" "--kernel x"; do
		# shellcheck disable=SC2086 # an option and its argument
		fuzz --corpus "$d/corpus" $o "$guest"
		names 64 "${o%% *}: not with fuzz"
	done
}

@test "an unknown option: 64 and the usage" {
	fuzz --corpus "$d/corpus" --bogus "$guest"
	[ "$status" -eq 64 ]
	[[ $output == *"unrecognized option '--bogus'"* ]]
	[[ $output == *"usage: vmxctl fuzz"* ]]
}

@test "files: GUEST, corpus missing or empty, corpus file too big, crashes dir" {
	fuzz --corpus "$d/corpus" "$d/nosuch.elf"
	names 66 "$d/nosuch.elf: No such file or directory"
	fuzz --corpus "$d/nosuch" "$guest"
	names 66 "--corpus $d/nosuch: No such file or directory"
	mkdir "$d/empty" "$d/empty/sub"
	touch "$d/empty/.hidden"
	fuzz --corpus "$d/empty" "$guest"
	names 66 "--corpus $d/empty: no input files in it"
	fuzz --corpus "$d/corpus" --max-input 4 "$guest"
	names 65 "$d/corpus/a: 5 bytes, more than --max-input 4"
	touch "$d/file"
	fuzz --corpus "$d/corpus" --crashes "$d/file/sub" "$guest"
	names 66 "--crashes $d/file/sub: Not a directory"
	fuzz --corpus "$d/corpus" --crashes "$d/file" "$guest"
	names 66 "--crashes $d/file: Not a directory"
}
