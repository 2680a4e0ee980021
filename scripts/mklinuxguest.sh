#!/bin/bash
# Build the initramfs of the Linux guest that vmxctl boots in the lanes
# (selftests/bats/vmxctl-linux.bats, `make demo`): static busybox, the
# test kernel's virtio-mmio disk modules, and an /init that mounts what
# the Debian kernel leaves unmounted and gives a shell on ttyS0.
#
#   scripts/mklinuxguest.sh OUT.cpio.gz
#
# gzip: the guest kernel unpacks it (CONFIG_RD_GZIP); 1 MiB instead of 2.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
abi=$(cat "$top/.cache/abi")
kmods=$top/.cache/kernel/$abi/lib/modules/$abi/kernel
root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
# virtio-mmio devices are found through ACPI (LNRO0005); this order
# loads. The ACPI power button (which vmxctl presses on SIGTERM) reaches
# busybox's acpid through evdev.
for m in drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko \
	 drivers/virtio/virtio_mmio.ko drivers/block/virtio_blk.ko \
	 drivers/input/evdev.ko drivers/acpi/button.ko; do
	cp "$kmods/$m" "$root/lib/modules/"
done

cat >"$root/init" <<'EOF'
#!/bin/sh
# The vmx-lite Linux guest: mounts, the disk modules, a shell on ttyS0.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_mmio virtio_blk evdev button; do
	insmod /lib/modules/$m.ko || echo "vmxl-guest: insmod $m failed"
done
# The power button powers off, as a distribution's acpid or logind does.
acpid -l /dev/null
echo "vmxl-guest: up, $(grep -c ^processor /proc/cpuinfo) CPUs, uptime $(cut -d' ' -f1 /proc/uptime) s"
# bench_linux_boot: off once up (a second for vmxmon to read the VM)
if grep -q vmxl_guest.poweroff /proc/cmdline; then
	sleep 1
	poweroff -f
fi
export PS1='guest# ' HOME=/root
cd /root
# A controlling terminal, so that ^C reaches the shell's children.
exec setsid cttyhack sh
EOF
chmod 755 "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
mkdir -p "$root/etc/acpi"
echo "PWRF power" >"$root/etc/acpid.conf"
printf '#!/bin/sh\necho "vmxl-guest: power button"\nsync\npoweroff -f\n' \
	>"$root/etc/acpi/power"
chmod 755 "$root/etc/acpi/power"

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -9 >"$out"
