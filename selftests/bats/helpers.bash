# Shared by the bats files; runs inside the test guest (see guest-init.sh).
VMXL_MODDIR=${VMXL_MODDIR:-/lib/modules/vmxl}

load_vmxl() { # [module parameters...]
	[ -d /sys/module/vmx_lite ] || insmod "$VMXL_MODDIR/vmx_lite.ko" "$@"
}

unload_vmxl() {
	[ ! -d /sys/module/vmx_lite ] || rmmod vmx_lite
}

# mkdisk FILE CONFIG: a 64-sector disk for the demo guest: sector 0 holds
# its settings, sectors 16-23 random bytes (the demo copies them to 32-39).
mkdisk() {
	dd if=/dev/zero of="$1" bs=512 count=64 2>/dev/null
	printf '%s\n' "$2" | dd of="$1" conv=notrunc 2>/dev/null
	dd if=/dev/urandom of="$1" bs=512 seek=16 count=8 conv=notrunc 2>/dev/null
}

# wait_for FILE REGEX PID: until FILE has a line matching REGEX
# (WAIT_SECONDS, default 20), failing early when PID has ended.
wait_for() {
	local i

	for ((i = 0; i < ${WAIT_SECONDS:-20} * 20; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.05
	done
	grep -qE "$2" "$1" 2>/dev/null && return 0
	echo "# no line /$2/ in $1:" >&2
	sed 's/^/# /' "$1" >&2
	return 1
}
