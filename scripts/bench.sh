#!/bin/bash
# The body of `make bench`: boot every lane in $LANES with the benchmarks
# (scripts/lane.sh with LANE_BENCH=1; the programs are selftests/bench_*),
# after the host benchmarks (build/unit/bench_*, lane "host"; BENCH_HOST=0
# skips them),
# collect their BENCH lines (format: selftests/lib/bench.h), and write
#   results/bench.json   every metric with its samples' median and spread
#   results/bench.txt    the table printed at the end
#   results/bench.png    vmx-lite / reference per metric (gnuplot)
# Ratio = vmx-lite median / reference median: below 1, vmx-lite is faster.
# Exit status: 0, or 1 when a lane or a benchmark failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
lanes=${LANES:-svm vmx}
out=$top/results
mkdir -p "$out"
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
status=0

# Host benchmarks (selftests/unit/bench_*.c, built by `make -C selftests
# bench-host`): userspace code timed on this machine's cores, lane "host".
if [ "${BENCH_HOST:-1}" = 1 ]; then
	echo "== bench host"
	for prog in "$top"/build/unit/bench_*; do
		[ -x "$prog" ] || continue
		log=$top/build/unit/$(basename "$prog").log
		(cd "$top" && "$prog") >"$log" 2>&1 || { status=1; tail -n 5 "$log"; }
		grep '^# ' "$log"
		sed -n 's/^BENCH //p' "$log" | jq -c --arg lane host \
			--arg prog "$(basename "$prog")" \
			'. + {lane: $lane, program: $prog}' >>"$lines" || status=1
	done
fi

# The lanes boot side by side: each emulator is one host thread, and a
# ratio only compares runs inside one boot, so a neighbour on the other
# core shifts both columns alike. The host benchmarks above ran alone.
pids=()
mkdir -p "$top/build"
for lane in $lanes; do
	[ "$lane" != dkms ] || continue	# the svm lane with the DKMS build
	LANE_DIR= LANE_BENCH=1 SUITE_TIMEOUT=${SUITE_TIMEOUT:-900} \
		LANE_TIMEOUT=${LANE_TIMEOUT:-1500} \
		"$top/scripts/lane.sh" "$lane" >"$top/build/bench-$lane.log" 2>&1 &
	pids+=("$lane:$!")
done
for p in "${pids[@]}"; do
	lane=${p%%:*}
	wait "${p#*:}" || status=1
	echo "== bench lane $lane"
	cat "$top/build/bench-$lane.log"
	for f in "$top/build/lane-$lane"/suites/bench_*.tap; do
		[ -f "$f" ] || continue
		grep '^# ' "$f"
		sed -n 's/^BENCH //p' "$f" | jq -c --arg lane "$lane" \
			--arg prog "$(basename "$f" .tap)" \
			'. + {lane: $lane, program: $prog}' >>"$lines" || status=1
	done
done

jq -s --arg commit "$(git -C "$top" rev-parse --short HEAD 2>/dev/null)" \
	--arg date "$(date -u +%FT%TZ)" '{
	date: $date, commit: $commit,
	results: map(. + {ratio: (if .ref_stat and .ref_stat.median > 0
		then .vmxl.median / .ref_stat.median else null end)})
}' "$lines" >"$out/bench.json"

{
	printf '%-5s %-28s %-16s %12s %12s %7s  %s\n' lane metric reference \
		reference vmx-lite ratio unit
	jq -r '.results[] | [.lane, .metric, .ref,
		(.ref_stat.median // "-"), .vmxl.median,
		(if .ratio then (.ratio * 100 | round / 100) else "-" end),
		.unit] | @tsv' "$out/bench.json" |
	while IFS=$'\t' read -r lane metric ref rm vm ratio unit; do
		printf '%-5s %-28s %-16s %12s %12s %7s  %s\n' "$lane" "$metric" \
			"${ref:--}" "$rm" "$vm" "$ratio" "$unit"
	done
} >"$out/bench.txt"
cat "$out/bench.txt"

# One bar per metric and lane: the ratio, with 1 (parity) marked.
jq -r '.results[] | select(.ratio) | "\(.lane):\(.metric)\t\(.ratio)"' \
	"$out/bench.json" >"$out/bench.dat"
if [ -s "$out/bench.dat" ]; then
	# 18 pixels a bar, so the labels stay apart as metrics are added
	width=$(( $(wc -l <"$out/bench.dat") * 18 + 200 ))
	[ "$width" -ge 1400 ] || width=1400
	gnuplot <<-EOF || status=1
	set terminal png size $width,760 noenhanced
	set bmargin 14
	set rmargin 16
	set output "$out/bench.png"
	set title "vmx-lite / reference (below 1: vmx-lite faster; log scale)"
	set style fill solid 0.6
	set boxwidth 0.7
	set xtics rotate by -50 font ",8"
	set logscale y
	set grid ytics
	set datafile separator "\t"
	plot "$out/bench.dat" using 0:2:xtic(1) with boxes notitle, 1 with lines lw 2 title "parity"
	EOF
fi
echo "results: $out/bench.json $out/bench.txt $out/bench.png"
exit $status
