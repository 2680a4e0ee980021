#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# `make install` into a DESTDIR installs exactly the expected files, with
# the right modes, and `make uninstall` removes every one of them.
# Runs on the host (scripts/check.sh): no module is loaded.

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	abi=$(cat "$top/.cache/abi")
	kdir=/usr/src/linux-headers-$abi
	version=$(sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$/\1/p' "$top/dkms.conf")
	dest=$BATS_TEST_TMPDIR/dest
	mkdir -p "$dest"
}

mk() { # mk TARGET [VAR=value...]
	make -s -C "$top" KDIR="$kdir" DESTDIR="$dest" "$@" >"$BATS_TEST_TMPDIR/make.log" 2>&1 ||
		{ cat "$BATS_TEST_TMPDIR/make.log"; return 1; }
}

files() { # every file and link under $dest, relative, sorted
	(cd "$dest" && find . ! -type d | sed 's|^\./|/|' | LC_ALL=C sort)
}

@test "install with PREFIX=/usr installs exactly the expected files" {
	mk install PREFIX=/usr
	expected="/lib/modules/$abi/extra/vmx_lite.ko
/lib/udev/rules.d/60-vmx-lite.rules
/usr/bin/vmxctl
/usr/bin/vmxl-info
/usr/bin/vmxmon
/usr/include/libvmxlite.h
/usr/include/linux/vmx_lite.h
/usr/lib/libvmxlite.a
/usr/lib/libvmxlite.so
/usr/lib/libvmxlite.so.0
/usr/lib/pkgconfig/libvmxlite.pc
/usr/lib/sysusers.d/vmx-lite.conf
/usr/share/man/man1/vmxctl.1
/usr/share/man/man1/vmxl-info.1
/usr/share/man/man1/vmxmon.1"
	diff -u <(echo "$expected") <(files)
}

@test "installed files have their modes and contents" {
	mk install
	[ "$(stat -c %a "$dest/usr/local/bin/vmxmon")" = 755 ]
	[ "$(stat -c %a "$dest/usr/local/bin/vmxl-info")" = 755 ]
	[ "$(stat -c %a "$dest/usr/local/bin/vmxctl")" = 755 ]
	# libvmxlite: the SONAME, the development link, a usable .pc
	[ "$(readlink "$dest/usr/local/lib/libvmxlite.so")" = libvmxlite.so.0 ]
	objdump -p "$dest/usr/local/lib/libvmxlite.so.0" | grep -q 'SONAME *libvmxlite.so.0'
	PKG_CONFIG_PATH=$dest/usr/local/lib/pkgconfig pkg-config --exists libvmxlite
	[ "$(PKG_CONFIG_PATH=$dest/usr/local/lib/pkgconfig pkg-config --modversion libvmxlite)" = "$version" ]
	grep -q "\"vmx-lite $version\"" "$dest/usr/local/share/man/man1/vmxctl.1"
	[ "$(stat -c %a "$dest/usr/local/include/linux/vmx_lite.h")" = 644 ]
	[ "$(stat -c %a "$dest/lib/udev/rules.d/60-vmx-lite.rules")" = 644 ]
	cmp "$top/uapi/linux/vmx_lite.h" "$dest/usr/local/include/linux/vmx_lite.h"
	[ "$(modinfo -F version "$dest/lib/modules/$abi/extra/vmx_lite.ko")" = "$version" ]
	grep -q "\"vmx-lite $version\"" "$dest/usr/local/share/man/man1/vmxmon.1"
	! grep -rq @VERSION@ "$dest/usr/local/share/man"
	grep -q '^KERNEL=="vmx-lite", .*GROUP="vmx-lite", MODE="0660"' \
		"$dest/lib/udev/rules.d/60-vmx-lite.rules"
	grep -q '^g vmx-lite -' "$dest/usr/lib/sysusers.d/vmx-lite.conf"
}

@test "uninstall removes every installed file" {
	mk install PREFIX=/usr
	[ -n "$(files)" ]
	mk uninstall PREFIX=/usr
	diff -u /dev/null <(files)
}

@test "depmod runs when DESTDIR holds a module tree" {
	mkdir -p "$dest/lib/modules/$abi"
	touch "$dest/lib/modules/$abi/modules.dep"
	mk install
	grep -q "^extra/vmx_lite.ko:" "$dest/lib/modules/$abi/modules.dep"
	mk uninstall
	! grep -q vmx_lite "$dest/lib/modules/$abi/modules.dep"
	[ ! -e "$dest/lib/modules/$abi/extra/vmx_lite.ko" ]
}

@test "a library plugs in through the install lists" {
	# What libvmxlite will be: a .so with a SONAME, a .a and a .pc.in.
	lib=$BATS_TEST_TMPDIR/lib
	mkdir -p "$lib"
	echo 'int vmxl_dummy(void) { return 0; }' >"$lib/d.c"
	cc -shared -fPIC -Wl,-soname,libvmxdummy.so.0 -o "$lib/libvmxdummy.so.0.1.0" "$lib/d.c"
	cc -c -o "$lib/d.o" "$lib/d.c" && ar rcs "$lib/libvmxdummy.a" "$lib/d.o"
	printf 'prefix=@PREFIX@\nlibdir=@LIBDIR@\nincludedir=@INCLUDEDIR@\nName: vmxdummy\nDescription: d\nVersion: @VERSION@\nLibs: -L${libdir} -lvmxdummy\n' \
		>"$lib/vmxdummy.pc.in"
	rel=${lib#"$top"/}
	[ "$rel" != "$lib" ] || rel=$(realpath --relative-to="$top" "$lib")
	lists=(INSTALL_SHLIBS="$rel/libvmxdummy.so.0.1.0"
	       INSTALL_STATIC="$rel/libvmxdummy.a" INSTALL_PC="$rel/vmxdummy.pc.in")
	mk install PREFIX=/usr "${lists[@]}"
	[ -f "$dest/usr/lib/libvmxdummy.so.0.1.0" ]
	[ "$(readlink "$dest/usr/lib/libvmxdummy.so.0")" = libvmxdummy.so.0.1.0 ]
	[ "$(readlink "$dest/usr/lib/libvmxdummy.so")" = libvmxdummy.so.0 ]
	[ -f "$dest/usr/lib/libvmxdummy.a" ]
	PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig run pkg-config --modversion vmxdummy
	[ "$output" = "$version" ]
	grep -qx 'libdir=/usr/lib' "$dest/usr/lib/pkgconfig/vmxdummy.pc"
	mk uninstall PREFIX=/usr "${lists[@]}"
	diff -u /dev/null <(files)
}
