#!/bin/bash
# The in-guest half of `make demo` (scripts/demo.sh boots the QEMU SVM
# lane with vmxl.demo=1; guest-init.sh runs this). Shows, with captions:
# the module loading and its capabilities, vmxmon watching, the demo
# guest (userspace/demo-guest/demo.c) printing, counting and doing disk
# I/O under vmxctl, snapshots (when vmxctl has them), and a summary.
G=/usr/share/vmxctl
W=/tmp/demo
t0=$(date +%s)
mkdir -p $W

caption() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
show() { sed 's/^/    /'; }
# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

caption "1. Loading the vmx-lite module (insmod vmx_lite.ko)"
insmod /lib/modules/vmxl/vmx_lite.ko
dmesg | grep -i 'vmx.lite' | tail -n 4 | show

caption "2. What it detected: vmxl-info"
vmxl-info | show

caption "3. vmxmon watch: VM lifecycle events, in the background"
vmxmon watch >$W/watch.log 2>&1 &
watch=$!
sleep 0.5
echo "    (listening; events are shown at the end)"

caption "4. The demo guest under vmxctl: serial console, counting, memory, virtio disk"
dd if=/dev/zero of=$W/disk.img bs=512 count=64 2>/dev/null
printf 'VMXLDEMO every=20000000 io=1\n' | dd of=$W/disk.img conv=notrunc 2>/dev/null
dd if=/dev/urandom of=$W/disk.img bs=512 seek=16 count=8 conv=notrunc 2>/dev/null
echo "    \$ vmxctl run --mem 64M --cpus 2 --disk disk.img --serial serial.log --control ctl demo.elf"
vmxctl run --mem 64M --cpus 2 --disk $W/disk.img --serial $W/serial.log \
	--control $W/ctl $G/demo.elf 2>$W/vmxctl.err &
vm=$!
wait_for $W/serial.log '^count ' 30 || { echo "    the demo guest did not start:"; show <$W/vmxctl.err; }
head -n 8 $W/serial.log | show
sleep 3
echo "    ... three seconds later:"
tail -n 2 $W/serial.log | show
if cmp -s <(dd if=$W/disk.img bs=512 skip=16 count=8 2>/dev/null) \
	  <(dd if=$W/disk.img bs=512 skip=32 count=8 2>/dev/null); then
	echo "    disk.img: sectors 32-39 equal 16-23 byte for byte (read and written by the guest)"
fi
echo "    disk.img sector 2: $(dd if=$W/disk.img bs=512 skip=2 count=1 2>/dev/null | head -c 19)"
echo "    \$ vmxctl control ctl status"
vmxctl control $W/ctl status | show

# ---- SNAPSHOT HOOK (issue 8, snapshot engineer) -----------------------
# Replace or extend this block: full and incremental snapshot with sizes
# and times, kill the VM, restore from the chain, the count continuing.
# $vm is vmxctl's pid, $W/ctl its control socket, $W/serial.log its
# console, $W/disk.img its disk.
if vmxctl help | grep -q '^  snapshot '; then
	caption "5. Snapshots: full, incremental, kill, restore"
	echo "    \$ vmxctl snapshot ctl base.snap"
	vmxctl snapshot $W/ctl $W/base.snap 2>&1 | show
	sleep 2
	echo "    \$ vmxctl snapshot ctl inc1.snap --parent base.snap"
	vmxctl snapshot $W/ctl $W/inc1.snap --parent $W/base.snap 2>&1 | show
	ls -l $W/base.snap $W/inc1.snap 2>/dev/null | awk '{ print "    " $5 " bytes  " $NF }'
	at_snap=$(grep '^count ' $W/serial.log | tail -n 1)
	sleep 1
	before=$(grep '^count ' $W/serial.log | tail -n 1)
	kill -KILL $vm
	wait $vm 2>/dev/null
	echo "    last line at the incremental snapshot: $at_snap"
	echo "    one second later the VM is killed (SIGKILL); its last line: $before"
	echo "    \$ vmxctl run --restore inc1.snap --disk disk.img --serial serial2.log --control ctl"
	vmxctl run --restore $W/inc1.snap --disk $W/disk.img --serial $W/serial2.log \
		--control $W/ctl 2>$W/vmxctl.err &
	vm=$!
	wait_for $W/serial2.log '^count ' 30 || show <$W/vmxctl.err
	sleep 1
	echo "    the restored guest counts on from the snapshot:"
	head -n 3 $W/serial2.log | show
else
	caption "5. Snapshots: not built into this vmxctl yet (hook: scripts/guest-demo.sh)"
fi
# ---- END SNAPSHOT HOOK -------------------------------------------------

caption "6. Stopping the VM through its control socket"
echo "    \$ vmxctl control ctl stop 0"
vmxctl control $W/ctl stop 0 | show
wait $vm
echo "    vmxctl exited with status $?"
sleep 0.5
kill $watch 2>/dev/null
wait $watch 2>/dev/null
echo "    vmxmon watch saw:"
show <$W/watch.log

caption "7. Linux under vmx-lite: the Debian kernel with 2 vCPUs, a command, its exits, a snapshot"
L=$G/linux
echo "    \$ vmxctl run --kernel bzImage --initrd initrd.gz --cpus 2 --mem 128M --serial stdio --control lctl"
mkfifo $W/in
exec 5<>$W/in
vmxctl run --kernel $L/bzImage --initrd $L/initrd.gz --cpus 2 --mem 128M \
	--serial stdio --append mitigations=off --control $W/lctl \
	<$W/in >$W/linux.log 2>$W/linux.err &
lx=$!
if wait_for $W/linux.log 'guest# ' 120; then
	grep -E 'Linux version|smp: Brought up|clocksource: Switched|ttyS0 at|vmxl-guest' \
		$W/linux.log | cut -c1-100 | show
	echo "    guest\$ uname -r; grep -c ^processor /proc/cpuinfo; grep LOC /proc/interrupts"
	echo 'echo @go; uname -r; grep -c ^processor /proc/cpuinfo; grep LOC /proc/interrupts; echo @done' >&5
	wait_for $W/linux.log '^@done' 30
	tr -d '\r' <$W/linux.log | sed -n '/^@go/,/^@done/p' | sed '1d;$d' | show
	echo "    \$ vmxmon top (its exit rates, one sample)"
	timeout 3 vmxmon top --interval 1000 2>&1 | head -n 12 | show
	# the running guest saved, killed, and continued by a new vmxctl
	echo 'echo 1 >/tmp/n; echo @up $(cut -d" " -f1 /proc/uptime) n=$(cat /tmp/n)' >&5
	wait_for $W/linux.log '^@up ' 30
	echo "    guest\$ (before the snapshot) $(tr -d '\r' <$W/linux.log | grep '^@up ' | tail -n 1 | cut -c2-)"
	echo "    \$ vmxctl snapshot lctl linux.snap"
	vmxctl snapshot $W/lctl $W/linux.snap 2>&1 | grep -E '^(snapshot|pause|write)' | show
	kill -KILL $lx
	wait $lx 2>/dev/null
	echo "    the VM is killed (SIGKILL); a new vmxctl continues it from the file:"
	echo "    \$ vmxctl run --restore linux.snap --serial stdio"
	vmxctl run --restore $W/linux.snap --serial stdio \
		<$W/in >$W/linux2.log 2>$W/linux2.err &
	lx=$!
	# typed at once: the restored UART keeps it until the guest reads
	echo 'echo $((1 + $(cat /tmp/n))) >/tmp/n; echo @up $(cut -d" " -f1 /proc/uptime) n=$(cat /tmp/n); echo @restored' >&5
	if wait_for $W/linux2.log '^@restored' 60; then
		grep 'restored' $W/linux2.err | show
		echo "    guest\$ (after the restore) $(tr -d '\r' <$W/linux2.log | grep '^@up ' | tail -n 1 | cut -c2-)"
		echo "    (the same kernel: its uptime goes on from the snapshot, and /tmp/n,"
		echo "    a file of its RAM disk, counts on from 1)"
	else
		echo "    the restored guest did not answer:"
		tail -n 20 $W/linux2.log | show
		show <$W/linux2.err
	fi
	echo 'poweroff -f' >&5
	wait $lx
	echo "    poweroff in the restored guest: vmxctl exited with status $?"
else
	echo "    Linux did not reach its prompt:"
	tail -n 20 $W/linux.log | show
	show <$W/linux.err
	kill -KILL $lx 2>/dev/null
fi
exec 5>&-

caption "Summary"
echo "    module loaded, capabilities reported, a 2-vCPU guest counted to" \
     "$(grep '^count ' $W/serial*.log | tail -n 1 | awk '{ print $NF }')," \
     "did virtio disk I/O, was watched over netlink and stopped cleanly" \
     "in $(( $(date +%s) - t0 )) s."
