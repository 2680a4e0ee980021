#!/bin/bash
# The body of `make check`: host unit tests, then every lane in $LANES.
# Prints per-suite counts and, as its last line, the totals in the form
# "N passed, N failed, N skipped". Exits non-zero on any failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
lanes=${LANES:-svm debug vmx dkms}
pass=0 fail=0 skip=0

add() { # add PASS FAIL SKIP
	pass=$((pass + $1)) fail=$((fail + $2)) skip=$((skip + $3))
}

# The debug lane's kernel, when it is not in the machine's cache yet:
# built first, on both cores, before any lane runs beside it.
case " $lanes " in
*" debug "*)
	"$top/scripts/debug-kernel.sh" >/dev/null || {
		echo "lane debug: the debug kernel did not build"
		lanes=${lanes//debug/}
		add 0 1 0
	}
	;;
esac

# The vmx lane (Bochs, the longest by far) runs on the second core while
# everything else runs here; its report is printed in its turn below.
vmx_bg=
case " $lanes " in
*" vmx "*)
	mkdir -p "$top/build"
	rm -f "$top/build/lane-vmx/counts"
	"$top/scripts/lane.sh" vmx >"$top/build/lane-vmx.out" 2>&1 &
	vmx_bg=$!
	;;
esac

echo "== host unit tests (ASan + UBSan)"
for t in "$top"/build/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log=$top/build/unit/$name.log
	"$t" >"$log" 2>&1
	rc=$?
	read -r p f s < <("$top/scripts/tap-count.sh" <"$log")
	# A sanitizer abort or crash can end a program before TAP says so.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "unit  $name exited with status $rc"
	fi
	printf 'unit  %-28s pass %-4d fail %-4d skip %d\n' "$name" "$p" "$f" "$s"
	[ "$f" -eq 0 ] || { grep -E '^not ok|# ' "$log" | tail -n 40; echo "full log: $log"; }
	add "$p" "$f" "$s"
done

# Host-side shell tests of the built tree (version, make install):
# selftests/host/*.bats.
echo "== host bats tests"
for t in "$top"/selftests/host/*.bats; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .bats)
	mkdir -p "$top/build/host"
	log=$top/build/host/$name.tap
	bats --tap "$t" >"$log" 2>&1
	rc=$?
	read -r p f s < <("$top/scripts/tap-count.sh" <"$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "host  $name exited with status $rc"
	fi
	printf 'host  %-28s pass %-4d fail %-4d skip %d\n' "$name" "$p" "$f" "$s"
	[ "$f" -eq 0 ] || { grep -E '^not ok|^# ' "$log" | tail -n 40; echo "full log: $log"; }
	add "$p" "$f" "$s"
done

# A bounded run of each fuzz target (selftests/unit/fuzz_*.c: the SMMU
# model, the snapshot reader): any crash, sanitizer report, leak or
# time-out is a failure. A fixed seed and number of inputs, so every
# machine runs the same inputs and a result repeats; longer, wider runs:
# make -C selftests fuzz-run FUZZ_TIME=600.
fuzz_runs=${FUZZ_RUNS:-300000} fuzz_seed=${FUZZ_SEED:-1}
echo "== fuzz ($fuzz_runs inputs per target, seed $fuzz_seed)"
log=$top/build/unit/fuzz.log
if make -s -C "$top/selftests" fuzz-run FUZZ_RUNS="$fuzz_runs" \
	FUZZ_SEED="$fuzz_seed" >"$log" 2>&1; then
	printf 'unit  %-28s pass 1    fail 0    skip 0  (%s)\n' fuzz \
		"$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" |
		   awk '{ n += $2 } END { print n " inputs, " NR " targets" }')"
	add 1 0 0
else
	printf 'unit  %-28s pass 0    fail 1    skip 0\n' fuzz
	tail -n 30 "$log"
	echo "full log: $log"
	add 0 1 0
fi

for lane in $lanes; do
	echo "== lane $lane"
	counts=$top/build/lane-$lane/counts
	if [ "$lane" = vmx ] && [ -n "$vmx_bg" ]; then
		wait "$vmx_bg"
		cat "$top/build/lane-vmx.out"
	else
		rm -f "$counts"
		"$top/scripts/lane.sh" "$lane"
	fi
	if [ -s "$counts" ]; then
		read -r p f s <"$counts"
		add "$p" "$f" "$s"
	else
		echo "lane $lane: no results (see build/lane-$lane/console.log)"
		add 0 1 0
	fi
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
