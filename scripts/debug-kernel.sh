#!/bin/bash
# The debug lane's kernel: Debian's linux-source-6.1 built with
# scripts/debug-kernel.config (KASAN, UBSAN, kmemleak, lockdep, ...)
# merged onto tinyconfig. Built once per source version and config, in
# a machine-wide cache shared by every checkout; prints its directory.
#
#   scripts/debug-kernel.sh             build if not cached, print the directory
#   DEBUG_KERNEL_REBUILD=1 scripts/debug-kernel.sh   build again
#
# Environment: DEBUG_KERNEL_CACHE=<dir> (default
# /var/cache/vmx-lite/debug-kernel), DEBUG_KERNEL_JOBS=<n> (default:
# the number of CPUs).
#
# <cache>/<source version>-<first 16 hex of the fragment's SHA-256>/
#   bzImage     the kernel the lane boots
#   linux/      the built tree, object files removed:
#               make -C <dir>/linux M=<module sources> modules
#   modules/    modules_install's tree (lib/modules/<release>/kernel/...)
#   release     the kernel release (make kernelrelease)
#   config      the final .config
#   build.log   the build's output, and its time in seconds in build-time
#
# A build runs in <cache>/.tmp-<key>.XXXXXX and is renamed into place
# when complete, under a lock (flock <cache>/<key>.lock): a second
# checkout waits for the first one's build and then uses it; a killed
# build leaves only a temporary directory, which the next build removes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
frag=$top/scripts/debug-kernel.config
root=${DEBUG_KERNEL_CACHE:-/var/cache/vmx-lite/debug-kernel}
jobs=${DEBUG_KERNEL_JOBS:-$(nproc)}
pkg=linux-source-6.1

ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: *//p')
if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
	echo "debug-kernel.sh: no candidate version of $pkg (apt-get update?)" >&2
	exit 1
fi
key=$ver-$(sha256sum "$frag" | cut -c1-16)
out=$root/$key

mkdir -p "$root"
exec 9>"$root/$key.lock"
flock 9
if [ -f "$out/bzImage" ] && [ "${DEBUG_KERNEL_REBUILD:-0}" = 0 ]; then
	echo "$out"
	exit 0
fi
rm -rf "$root/.tmp-$key".*
tmp=$(mktemp -d "$root/.tmp-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "debug-kernel.sh: building $pkg $ver with $(basename "$frag") in $tmp" \
     "($jobs jobs; log: $out/build.log)" >&2
start=$(date +%s)

# In the background so that set -e holds inside (not in an || list).
(
	set -e
	cd "$tmp"
	apt-get download -q "$pkg=$ver"
	mkdir linux
	dpkg-deb --fsys-tarfile "$pkg"_*.deb |
		tar -xO "./usr/src/$pkg.tar.xz" |
		tar -xJ --strip-components=1 -C linux
	rm -f "$pkg"_*.deb
	cd linux
	make tinyconfig
	scripts/kconfig/merge_config.sh -m .config "$frag"
	make olddefconfig
	# An option of the fragment that Kconfig dropped (a dependency
	# missing or renamed) would silently weaken the lane.
	missing=0
	while read -r line; do
		case $line in
		CONFIG_*=*) opt=${line%%=*} val=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#"# "} opt=${opt%% *} val=n ;;
		*) continue ;;
		esac
		got=$(sed -n "s/^$opt=//p" .config)
		[ "${got:-n}" = "$val" ] || {
			echo "debug-kernel.sh: $opt=$val wanted, the config has '${got:-n}'"
			missing=1
		}
	done <"$frag"
	[ "$missing" = 0 ]
	make -j"$jobs" bzImage modules
	make INSTALL_MOD_PATH="$tmp/modules" modules_install
	make -s kernelrelease >"$tmp/release"
	cp arch/x86/boot/bzImage "$tmp/bzImage"
	cp .config "$tmp/config"
	# What `make M=` needs stays: headers, generated files, scripts and
	# objtool, Module.symvers, the config; vmlinux for symbolizing
	# reports (scripts/faddr2line). The kernel's object files go.
	find . -name '*.o' ! -path './scripts/*' ! -path './tools/*' -delete
	rm -f vmlinux.a
) >"$tmp/build.log" 2>&1 &
wait $! || {
	tail -n 40 "$tmp/build.log" >&2
	echo "debug-kernel.sh: the build failed (log above)" >&2
	mkdir -p "$root/failed"
	cp "$tmp/build.log" "$root/failed/$key.log"
	echo "debug-kernel.sh: full log: $root/failed/$key.log" >&2
	exit 1
}
echo $(( $(date +%s) - start )) >"$tmp/build-time"
chmod 755 "$tmp"

# Into place: a rebuild moves the old tree aside first.
if [ -e "$out" ]; then
	mv "$out" "$tmp.old"
	rm -rf "$tmp.old"
fi
mv "$tmp" "$out"
trap - EXIT
echo "debug-kernel.sh: built in $(cat "$out/build-time")s: $out" >&2
echo "$out"
