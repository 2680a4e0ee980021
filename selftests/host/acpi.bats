#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# vmxctl's ACPI tables (userspace/vmxctl_acpi.c) as iasl (acpica-tools)
# reads them: build/unit/test_acpi writes the tables of each of its
# machines (1, 2, 16 vCPUs; no disk, a disk, four virtio-mmio devices)
# to files; every one disassembles without an error or a warning, the
# disassembly shows the devices and their resources, and the DSDT's AML
# is byte for byte what iasl compiles from that disassembly. (iasl
# 20200925 cannot load a lone RSDP from a file; test_acpi checks it.)
# Runs on the host (scripts/check.sh) against the built tree.

setup_file() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export dump=$BATS_FILE_TMPDIR/acpi
	[ -x "$top/build/unit/test_acpi" ] || return 0
	mkdir -p "$dump"
	ACPI_DUMP_DIR=$dump "$top/build/unit/test_acpi" >"$dump.log" 2>&1
}

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	[ -x "$top/build/unit/test_acpi" ] || skip "build/unit/test_acpi not built (make unit)"
	# scripts/deps.sh installs it: missing is a failure, not a skip
	command -v iasl >/dev/null || { echo "no iasl: make deps (acpica-tools)"; false; }
}

# disasm VARIANT TABLE: iasl -d it; fail on any error or warning
disasm() {
	local d=$dump/$1
	[ -f "$d/$2.dat" ] || { echo "no $d/$2.dat (see $dump.log)"; return 1; }
	(cd "$d" && iasl -d "$2.dat") >"$d/$2.iasl" 2>&1 ||
		{ cat "$d/$2.iasl"; return 1; }
	if grep -Ei 'warning|error' "$d/$2.iasl"; then
		return 1
	fi
	[ -s "$d/$2.dsl" ]
}

variants=(cpus1 cpus1_disk cpus2_disk cpus_max cpus_max_virtio4)

@test "test_acpi's machines all passed and wrote their tables" {
	grep -q '^# PASSED' "$dump.log" || { cat "$dump.log"; false; }
	for v in "${variants[@]}"; do
		for t in rsdp xsdt facp apic dsdt; do
			[ -s "$dump/$v/$t.dat" ]
		done
	done
}

@test "iasl -d: every table disassembles without errors or warnings" {
	for v in "${variants[@]}"; do
		for t in xsdt facp apic dsdt; do
			disasm "$v" "$t"
		done
	done
}

@test "FADT: hardware-reduced, power and reset registers at port 0x600" {
	disasm cpus1 facp
	f=$dump/cpus1/facp.dsl
	grep -Eq 'Revision : 06' "$f"
	grep -Eq 'Hardware Reduced \(V5\) : 1' "$f"
	grep -Eq 'Reset Register Supported \(V2\) : 1' "$f"
	grep -Eq '8042 Present on ports 60/64 \(V2\) : 0' "$f"
	grep -Eq 'Legacy Devices Supported \(V2\) : 0' "$f"
	grep -Eq 'Value to cause reset : 01' "$f"
	# RESET_REG, SLEEP_CONTROL_REG, SLEEP_STATUS_REG: byte-wide I/O 0x600
	[ "$(grep -c 'Address : 0000000000000600' "$f")" -eq 3 ]
	[ "$(grep -c 'Space ID : 01 \[SystemIO\]' "$f")" -eq 3 ]
	grep -Eq 'DSDT Address : 00000000000E0400' "$f"
}

@test "MADT: a local APIC per vCPU, the IOAPIC after them" {
	for v in cpus1:1 cpus2_disk:2 cpus_max:16; do
		disasm "${v%:*}" apic
		f=$dump/${v%:*}/apic.dsl n=${v#*:}
		[ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$f")" -eq "$n" ]
		[ "$(grep -c 'Processor Enabled : 1' "$f")" -eq "$n" ]
		grep -q "Local Apic ID : $(printf %02X $((n - 1)))" "$f"
		grep -q "I/O Apic ID : $(printf %02X "$n")" "$f"
		grep -q 'Address : FEC00000' "$f"
		grep -q 'Interrupt : 00000000' "$f"	# GSI base
		grep -q 'Local Apic Address : FEE00000' "$f"
		grep -q 'PC-AT Compatibility : 0' "$f"
	done
}

@test "DSDT: COM1 on GSI 4 edge, \\_S5, no virtio device without a disk" {
	disasm cpus1 dsdt
	f=$dump/cpus1/dsdt.dsl
	grep -q 'Device (COM1)' "$f"
	grep -q 'EisaId ("PNP0501")' "$f"
	grep -A6 'IO (Decode16' "$f" | grep -q '0x03F8,  *// Range Minimum'
	grep -A6 '0x03F8,  *// Range Minimum' "$f" | grep -q '0x08,  *// Length'
	grep -A2 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive' "$f" |
		grep -q '0x00000004'
	grep -A2 'Name (_S5, Package (0x04)' "$f" | grep -q '0x05'
	! grep -q 'LNRO0005' "$f"
}

@test "DSDT: the power button, a GED on GSI 9 edge whose _EVT notifies PNP0C0C" {
	disasm cpus1 dsdt
	f=$dump/cpus1/dsdt.dsl
	grep -A3 'Device (PWRB)' "$f" | grep -q 'EisaId ("PNP0C0C")'
	grep -A3 'Device (GED0)' "$f" | grep -q '"ACPI0013"'
	sed -n '/Device (GED0)/,/^        }/p' "$f" >"$BATS_TEST_TMPDIR/ged"
	grep -A2 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive' \
		"$BATS_TEST_TMPDIR/ged" | grep -q '0x00000009'
	grep -A2 'Method (_EVT, 1' "$BATS_TEST_TMPDIR/ged" |
		grep -q 'Notify (PWRB, 0x80)'
}

@test "DSDT: one LNRO0005 per virtio-mmio device, its window and level GSI" {
	disasm cpus1_disk dsdt
	f=$dump/cpus1_disk/dsdt.dsl
	[ "$(grep -c 'Name (_HID, "LNRO0005")' "$f")" -eq 1 ]
	grep -A4 'Memory32Fixed (ReadWrite' "$f" | grep -q '0xD0000000'
	grep -A4 'Memory32Fixed (ReadWrite' "$f" | grep -q '0x00001000'
	grep -A2 'Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive' "$f" |
		grep -q '0x00000010'

	disasm cpus_max_virtio4 dsdt
	f=$dump/cpus_max_virtio4/dsdt.dsl
	[ "$(grep -c 'Name (_HID, "LNRO0005")' "$f")" -eq 4 ]
	for k in 0 1 2 7; do
		grep -A20 "Device (VR0$k)" "$f" | grep -q "0xD000${k}000"
		grep -A20 "Device (VR0$k)" "$f" | grep -q "0x000000$(printf %02X $((16 + k)))"
	done
}

@test "DSDT: the AML is what iasl compiles from its disassembly" {
	for v in cpus1 cpus_max_virtio4; do
		disasm "$v" dsdt
		d=$dump/$v
		(cd "$d" && iasl -p recompiled dsdt.dsl) >"$d/recompile.log" 2>&1 ||
			{ cat "$d/recompile.log"; false; }
		grep -q '0 Errors, 0 Warnings, 0 Remarks' "$d/recompile.log"
		# the header differs (compiler ID, checksum), the body must not
		cmp <(tail -c +37 "$d/dsdt.dat") <(tail -c +37 "$d/recompiled.aml")
	done
}
