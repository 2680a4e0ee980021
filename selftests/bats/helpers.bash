# Shared by the bats files; runs inside the test guest (see guest-init.sh).
VMXL_MODDIR=${VMXL_MODDIR:-/lib/modules/vmxl}

load_vmxl() { # [module parameters...]
	[ -d /sys/module/vmx_lite ] || insmod "$VMXL_MODDIR/vmx_lite.ko" "$@"
}

unload_vmxl() {
	[ ! -d /sys/module/vmx_lite ] || rmmod vmx_lite
}
