#!/bin/bash
# The body of `make lint`: the static gates, each timed. CI runs it
# beside `make check` (.ci/run). Exits non-zero when any gate finds
# anything; prints the findings and, last, one line per gate.
#
#   checkpatch  the kernel's checkpatch.pl (.cache/kernel-tools, from
#               linux-source at setup) --no-tree --strict on kmod/ and
#               uapi/; ignores per file below, each with its reason
#   modules     the module built with sparse (C=2) and W=1 against the
#               amd64, cloud-amd64 and rt-amd64 (PREEMPT_RT) headers of
#               the test ABI: any warning fails
#   cppcheck    userspace/**/*.c: any finding fails; suppressions are
#               inline, next to the code, with the reason
#
# LINT_GATES="checkpatch modules cppcheck" picks gates (default: all).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ -s "$top/.cache/abi" ] || "$top/scripts/deps.sh"
abi=$(cat "$top/.cache/abi")
out=$top/build/lint
mkdir -p "$out"
summary=()
failed=0

gate() { # gate NAME: run gate_NAME, time it, record the verdict
	local name=$1 start rc
	echo "== lint $name"
	start=$(date +%s.%N)
	"gate_$name" 2>&1
	rc=$?
	summary+=("$(printf 'lint  %-11s %-5s %5.1fs' "$name" \
		"$([ $rc -eq 0 ] && echo ok || echo FAIL)" \
		"$(echo "$(date +%s.%N) - $start" | bc)")")
	[ $rc -eq 0 ] || failed=$((failed + 1))
}

# ---- checkpatch ----
# Types ignored everywhere in kmod/: CAMELCASE, because checkpatch without
# a tree cannot tell the kernel's own mixed-case names from ours, and the
# ones we use are the kernel's MSR names (msr-index.h: MSR_MTRRfix4K_C0000).
cp_kmod_ignore=CAMELCASE
# Types ignored in one file, and why.
declare -A cp_file_ignore=(
	# asm goto: "_ASM_EXTABLE(1b, %l[fail])" reads to checkpatch as a '%'
	# operator with a space on one side only. yield(): a PAUSE-loop exit
	# is the one wait yield() is for, a spinning vCPU giving its CPU to
	# whichever runnable thread (often the vCPU it waits for); KVM's
	# yield_to() needs the task of a chosen vCPU, which we do not track.
	[kmod/vmx.c]=SPACING,YIELD
	# Host-only header for the unit tests: it defines u8, u16, ... from
	# <stdint.h>, so it must name the C types.
	[kmod/host_compat.h]=PREFER_KERNEL_TYPES
	# uapi: BIT() and BIT_ULL() are not exported to userspace.
	[uapi/linux/vmx_lite.h]=BIT_MACRO
	# Trace events: TRACE_EVENT() is laid out as include/trace/events/*.h
	# are, one macro argument a line ending in '('; __print_symbolic()'s
	# tables are brace lists, which parentheses would break.
	[kmod/trace.h]=OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT,COMPLEX_MACRO
)

gate_checkpatch() {
	local cp=$top/.cache/kernel-tools/scripts/checkpatch.pl f ign rc=0
	[ -x "$cp" ] || [ -f "$cp" ] || { echo "no $cp (run scripts/deps.sh)"; return 1; }
	cd "$top" || return 1
	for f in kmod/*.[chS] kmod/*.inc uapi/linux/*.h; do
		[ -f "$f" ] || continue
		ign=${cp_file_ignore[$f]:-}
		[[ $f != kmod/* ]] || ign+=${ign:+,}$cp_kmod_ignore
		perl "$cp" --no-tree --strict --terse --show-types --no-summary \
			${ign:+--ignore "$ign"} -f "$f" || rc=1
	done
	return $rc
}

# ---- the module: sparse, W=1, three flavours ----
gate_modules() {
	local flavour kdir src log rc=0
	for flavour in amd64 cloud-amd64 rt-amd64; do
		kdir=/usr/src/linux-headers-${abi%-amd64}-$flavour
		src=$out/module-$flavour
		log=$src.log
		if [ ! -d "$kdir" ]; then
			echo "$flavour: no headers at $kdir (run scripts/deps.sh)"
			rc=1
			continue
		fi
		# A copy per flavour: objects of one build never reach another,
		# nor the tree's own vmx_lite.ko.
		rm -rf "$src" && mkdir -p "$src"
		(cd "$top" && cp --parents Kbuild dkms.conf uapi/linux/vmx_lite.h \
			kmod/*.[chS] kmod/*.inc "$src/") || return 1
		if ! make -j2 -C "$kdir" M="$src" C=2 W=1 modules >"$log" 2>&1; then
			echo "$flavour: build failed ($log):"
			grep -E 'error|warning' "$log" | head -n 40
			rc=1
		elif grep -Eq 'warning:|error:|WARNING:' "$log"; then
			echo "$flavour: warnings ($log):"
			grep -E -A3 'warning:|error:|WARNING:' "$log" | head -n 60
			rc=1
		else
			echo "$flavour: clean (sparse, W=1)"
		fi
	done
	return $rc
}

# ---- cppcheck on userspace ----
gate_cppcheck() {
	local files
	mapfile -t files < <(cd "$top" && find userspace -name '*.c' | sort)
	[ ${#files[@]} -gt 0 ] || return 0
	cd "$top" || return 1
	# missingIncludeSystem: cppcheck has its own models of libc and libnl
	# (--library) and is not given the system headers.
	cppcheck --quiet --std=c11 --error-exitcode=1 --inline-suppr \
		--enable=warning,style,performance,portability \
		--library=posix --suppress=missingIncludeSystem \
		-DVMXL_PKG_VERSION='"lint"' -I uapi -I userspace \
		$(pkg-config --cflags-only-I libnl-genl-3.0) \
		--template='{file}:{line}: {severity}: {message} [{id}]' \
		"${files[@]}"
}

for g in ${LINT_GATES:-checkpatch modules cppcheck}; do
	gate "$g"
done
printf '%s\n' "${summary[@]}"
echo "lint: ${#summary[@]} gates, $failed failed"
[ "$failed" -eq 0 ]
