#!/bin/bash
# Boot one test lane and judge it: scripts/lane.sh <lane>
#   svm   QEMU TCG, -cpu EPYC,+svm,+npt
# The guest runs every suite (scripts/guest-init.sh) and reports on its
# second serial port. The lane fails on a failed or missing test, a
# suite that crashed or timed out, a guest that did not finish, and any
# kernel warning, oops or similar in the log written after boot.
#
# Environment: V=1 shows the guest console live; LANE_FILTER=<text> runs
# only suites whose name contains it; LANE_TIMEOUT=<s> bounds the whole
# boot (default 900); SUITE_TIMEOUT=<s> bounds each suite (default 180).
# Writes build/lane-<lane>/{console.log,results.log,counts}.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
lane=${1:?usage: lane.sh <lane>}
dir=$top/build/lane-$lane
[ -s "$top/.cache/abi" ] || "$top/scripts/deps.sh"
abi=$(cat "$top/.cache/abi")
kernel=$top/.cache/kernel/$abi/boot/vmlinuz-$abi
append="console=ttyS0 loglevel=5 panic=-1 vmxl.timeout=${SUITE_TIMEOUT:-180}"
[ -z "${LANE_FILTER:-}" ] || append+=" vmxl.filter=$LANE_FILTER"

rm -rf "$dir"
mkdir -p "$dir/suites"
"$top/scripts/mkinitramfs.sh" "$dir/initrd.cpio.gz" || exit 1

boot_svm() {
	timeout -s KILL "${LANE_TIMEOUT:-900}" \
		qemu-system-x86_64 -machine q35,accel=tcg -cpu EPYC,+svm,+npt \
		-m 1024 -smp 2 -display none -monitor none -no-reboot \
		-kernel "$kernel" -initrd "$dir/initrd.cpio.gz" \
		-append "$append" \
		-serial stdio -serial "file:$dir/results.log"
}

case $lane in
svm) boot=boot_svm ;;
*) echo "lane.sh: unknown lane '$lane' (known: svm)" >&2; exit 2 ;;
esac

start=$(date +%s)
if [ "${V:-0}" = 1 ]; then
	$boot </dev/null 2>&1 | tee "$dir/console.log"
else
	$boot </dev/null >"$dir/console.log" 2>&1
fi
boot_rc=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - start ))

# Split the results into one TAP file per suite; markers may follow
# stray bytes on a line, and the port adds carriage returns.
touch "$dir/results.log"
tr -d '\r' <"$dir/results.log" | awk -v d="$dir/suites" '
	match($0, /@@SUITE [^ ]+ [a-z]+/) {
		split(substr($0, RSTART, RLENGTH), w, " ")
		name = w[2]; file = d "/" name ".tap"
		print name >>(d "/order"); printf "" >file; next
	}
	match($0, /@@END [^ ]+ rc=[0-9]+/) {
		split(substr($0, RSTART, RLENGTH), w, /[ =]/)
		print w[4] >(d "/" w[2] ".rc"); file = ""; next
	}
	/@@DMESG/ { file = d "/dmesg"; printf "" >file; next }
	/@@DONE/ { print "done" >(d "/done"); file = ""; next }
	file != "" { print >>file }
'

pass=0 fail=0 skip=0 bad=0
while read -r name; do
	read -r p f s < <("$top/scripts/tap-count.sh" <"$dir/suites/$name.tap")
	rc=$(cat "$dir/suites/$name.rc" 2>/dev/null || echo none)
	note=
	if [ "$rc" = none ]; then
		note="  (no end: the guest died in it)"
		f=$((f + 1))
	elif [ "$rc" != 0 ] && [ "$f" -eq 0 ]; then
		note="  (exit status $rc$([ "$rc" = 137 ] && echo ': timed out'))"
		f=$((f + 1))
	fi
	printf '%-5s %-28s pass %-4d fail %-4d skip %d%s\n' \
		"$lane" "$name" "$p" "$f" "$s" "$note"
	if [ "$f" -gt 0 ]; then
		grep -E '^not ok|^# .*(:[0-9]+:|FAIL|rvm_|gvm)' \
			"$dir/suites/$name.tap" | head -n 40 | sed 's/^/      /'
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done < <(cat "$dir/suites/order" 2>/dev/null)

if [ ! -f "$dir/suites/done" ]; then
	echo "$lane: the guest did not finish (boot status $boot_rc," \
	     "${elapsed}s; LANE_TIMEOUT=${LANE_TIMEOUT:-900})"
	bad=1
elif [ ! -s "$dir/suites/order" ]; then
	echo "$lane: no suite ran (LANE_FILTER='${LANE_FILTER:-}')"
	bad=1
fi

# Kernel trouble during the tests, in the format the kernel prints it.
trouble='WARNING: CPU:|BUG:|Oops|general protection|KASAN|list_del corruption|UBSAN|kernel BUG|refcount_t:|soft lockup|hard LOCKUP|INFO: task .* blocked|Call Trace:'
if [ -f "$dir/suites/dmesg" ] &&
   grep -Eq "$trouble" "$dir/suites/dmesg"; then
	echo "$lane: the kernel log shows trouble:"
	grep -E -A12 "$trouble" "$dir/suites/dmesg" | head -n 60 | sed 's/^/      /'
	bad=1
fi

fail=$((fail + bad))
echo "$pass $fail $skip" >"$dir/counts"
echo "$lane: $pass passed, $fail failed, $skip skipped in ${elapsed}s"
if [ "$fail" -gt 0 ]; then
	echo "---- last lines of $dir/console.log"
	tail -n 60 "$dir/console.log"
	exit 1
fi
