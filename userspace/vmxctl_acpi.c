// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: the ACPI tables that describe the machine to a Linux guest
 * (hardware-reduced ACPI, ACPI 6.x). Layout in the 64 KiB the memory map
 * reserves at VMXCTL_ACPI_GPA (docs/vmxctl.md, "ACPI tables"):
 *
 *   +0x000  RSDP (revision 2) -> XSDT   (also where a BIOS-area scan finds it)
 *   +0x040  XSDT -> FADT, MADT
 *   +0x080  FADT (6.5): HW_REDUCED_ACPI, sleep control/status and reset
 *           registers at port VMXCTL_ACPI_PM_PORT, X_DSDT -> DSDT
 *   +0x200  MADT: one enabled local APIC per vCPU, the IOAPIC
 *   +0x400  DSDT: \_S5, COM1, the RTC, one LNRO0005 per virtio-mmio device
 *
 * The fixed-format tables are packed structs; the DSDT's AML comes from
 * the small writer below, so that it follows the machine (vCPUs, virtio
 * devices) without a build-time compiler: docs/vmxctl.md says why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmxctl_machine.h"

#define OEM_ID		"VMXLTE"	/* 6 bytes */
#define CREATOR_ID	"VMXC"
#define OEM_REVISION	1

#define XSDT_OFF	0x040
#define FADT_OFF	0x080
#define MADT_OFF	0x200
#define DSDT_OFF	0x400

#define LAPIC_GPA	0xfee00000u
#define IOAPIC_GPA	0xfec00000u
#define COM1_GSI	4
#define RTC_PORT	0x70

/* FADT Flags and IAPC_BOOT_ARCH bits (ACPI 6.5, 5.2.9) */
#define FADT_PWR_BUTTON		(1u << 4)	/* no fixed power button */
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed sleep button */
#define FADT_RESET_REG_SUP	(1u << 10)	/* Linux's reboot=acpi needs it */
#define FADT_HW_REDUCED_ACPI	(1u << 20)
#define IAPC_VGA_NOT_PRESENT	(1u << 2)
#define IAPC_MSI_NOT_PRESENT	(1u << 3)
#define IAPC_PCIE_ASPM_CONTROLS	(1u << 4)

/* Generic Address Structure: space IDs, access sizes */
#define GAS_SYSTEM_IO		1
#define GAS_ACCESS_BYTE		1

#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ENABLED		1

struct rsdp {
	char signature[8];
	uint8_t checksum;		/* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;		/* of all 36 */
	uint8_t reserved[3];
} __attribute__((packed));

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct xsdt {
	struct sdt_header h;
	uint64_t entry[2];
} __attribute__((packed));

struct fadt {
	struct sdt_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_revision;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk;
	struct gas x_pm1b_cnt_blk, x_pm2_cnt_blk, x_pm_tmr_blk;
	struct gas x_gpe0_blk, x_gpe1_blk;
	struct gas sleep_control, sleep_status;
	char hypervisor_id[8];
} __attribute__((packed));

struct madt {
	struct sdt_header h;
	uint32_t lapic_address;
	uint32_t flags;			/* PCAT_COMPAT off: no 8259 */
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

_Static_assert(sizeof(struct rsdp) == 36, "RSDP is 36 bytes");
_Static_assert(sizeof(struct sdt_header) == 36, "SDT header is 36 bytes");
_Static_assert(offsetof(struct fadt, flags) == 112, "FADT Flags at 112");
_Static_assert(offsetof(struct fadt, x_dsdt) == 140, "FADT X_DSDT at 140");
_Static_assert(offsetof(struct fadt, sleep_control) == 244,
	       "FADT SLEEP_CONTROL_REG at 244");
_Static_assert(sizeof(struct fadt) == 276, "FADT 6.x is 276 bytes");
_Static_assert(sizeof(struct madt_lapic) == 8 &&
	       sizeof(struct madt_ioapic) == 12, "MADT entry sizes");
_Static_assert(MADT_OFF + sizeof(struct madt) +
	       VMXCTL_MAX_VCPUS * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) <= DSDT_OFF, "MADT fits before DSDT");

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

static void sdt_header(struct sdt_header *h, const char *sig, uint32_t len,
		       uint8_t rev, const char *table_id)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, table_id, 8);
	h->oem_revision = OEM_REVISION;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
	h->checksum = 0;
	h->checksum = checksum(h, len);		/* the table follows h */
}

static struct gas io_byte(uint16_t port)
{
	return (struct gas){ .space_id = GAS_SYSTEM_IO, .bit_width = 8,
			     .access_size = GAS_ACCESS_BYTE, .address = port };
}

/* ------------------------------------------------------------------ */
/* AML: the little of it the DSDT needs (ACPI 6.5, chapter 20)         */
/* ------------------------------------------------------------------ */

#define AML_ZERO	0x00
#define AML_ONE		0x01
#define AML_NAME	0x08
#define AML_BYTE	0x0a
#define AML_WORD	0x0b
#define AML_DWORD	0x0c
#define AML_STRING	0x0d
#define AML_QWORD	0x0e
#define AML_SCOPE	0x10
#define AML_METHOD	0x14
#define AML_NOTIFY	0x86
#define AML_BUFFER	0x11
#define AML_PACKAGE	0x12
#define AML_EXT		0x5b
#define AML_DEVICE	0x82		/* after AML_EXT */

/* Resource descriptors (6.4) */
#define RES_IO		0x47		/* small, 7 bytes follow */
#define RES_END		0x79
#define RES_MEM32_FIXED	0x86
#define RES_EXT_IRQ	0x89
#define IRQ_CONSUMER	(1u << 0)
#define IRQ_EDGE	(1u << 1)	/* else level */
#define IRQ_ACTIVE_LOW	(1u << 2)

/* Where the AML goes; a write past @cap is not done, and sets @full. */
struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool full;
};

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->len + n <= a->cap)
		memcpy(a->buf + a->len, p, n);
	else
		a->full = true;
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Little-endian @n bytes of @v. */
static void aml_le(struct aml *a, uint64_t v, unsigned int n)
{
	while (n--) {
		aml_byte(a, v);
		v >>= 8;
	}
}

/* An integer in its shortest encoding, as iasl writes it. */
static void aml_int(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_le(a, v, 8);
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

/* "PNP0501": three letters and four hex digits, as EisaId() packs them. */
static void aml_eisa_id(struct aml *a, const char *id)
{
	uint32_t v = (id[0] - '@') << 26 | (id[1] - '@') << 21 |
		     (id[2] - '@') << 16;
	unsigned int i;

	for (i = 3; i < 7; i++)
		v |= (uint32_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10)
		     << (4 * (6 - i));
	aml_byte(a, AML_DWORD);
	aml_le(a, __builtin_bswap32(v), 4);	/* stored big-endian */
}

/*
 * A package's length comes before its contents: open() leaves room for
 * the longest PkgLength (4 bytes), close() encodes the shortest that
 * fits and moves the contents back over the rest.
 */
static size_t aml_open(struct aml *a)
{
	size_t start = a->len;

	aml_le(a, 0, 4);
	return start;
}

static void aml_close(struct aml *a, size_t start)
{
	size_t body = a->len - start - 4, len;
	unsigned int n;

	for (n = 1; n < 4; n++)
		if (body + n < (n == 1 ? 0x40 : 1u << (4 + 8 * (n - 1))))
			break;
	len = body + n;
	if (!a->full) {
		uint8_t *p = a->buf + start;

		memmove(p + n, p + 4, body);
		if (n == 1) {
			p[0] = len;
		} else {
			unsigned int i;

			p[0] = (n - 1) << 6 | (len & 0xf);
			for (i = 1; i < n; i++)
				p[i] = len >> (4 + 8 * (i - 1));
		}
	}
	a->len -= 4 - n;
}

/*
 * A NameSeg: 4 characters, '_'-padded. Relative names only: the DSDT's
 * top level is the root, so "_SB" there is \_SB (what iasl makes of it).
 */
static void aml_nameseg(struct aml *a, const char *name)
{
	char seg[4] = "____";

	memcpy(seg, name, strnlen(name, 4));
	aml_bytes(a, seg, 4);
}

/* Name (@name, <what the caller writes next>) */
static void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_nameseg(a, name);
}

static size_t aml_device(struct aml *a, const char *name)
{
	size_t start;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	start = aml_open(a);
	aml_nameseg(a, name);
	return start;
}

/* Method (@name, @nargs, NotSerialized) { <the caller's terms> } */
static size_t aml_method(struct aml *a, const char *name, unsigned int nargs)
{
	size_t start;

	aml_byte(a, AML_METHOD);
	start = aml_open(a);
	aml_nameseg(a, name);
	aml_byte(a, nargs & 7);
	return start;
}

static size_t aml_scope(struct aml *a, const char *name)
{
	size_t start;

	aml_byte(a, AML_SCOPE);
	start = aml_open(a);
	aml_nameseg(a, name);
	return start;
}

/* Resource template: descriptors into a small buffer, then _CRS. */
struct res {
	uint8_t b[64];
	size_t len;
};

static void res_bytes(struct res *r, const uint8_t *p, size_t n)
{
	memcpy(r->b + r->len, p, n);	/* callers stay far below 64 */
	r->len += n;
}

static void res_io(struct res *r, uint16_t port, uint8_t len)
{
	const uint8_t d[] = { RES_IO, 1 /* Decode16 */, port, port >> 8,
			      port, port >> 8, 1 /* alignment */, len };

	res_bytes(r, d, sizeof(d));
}

static void res_mem32_fixed(struct res *r, uint32_t base, uint32_t len)
{
	const uint8_t d[] = { RES_MEM32_FIXED, 9, 0, 1 /* ReadWrite */,
			      base, base >> 8, base >> 16, base >> 24,
			      len, len >> 8, len >> 16, len >> 24 };

	res_bytes(r, d, sizeof(d));
}

/* Interrupt (ResourceConsumer, ..., Exclusive) {@gsi} */
static void res_irq(struct res *r, uint32_t gsi, bool edge)
{
	const uint8_t d[] = { RES_EXT_IRQ, 6, 0,
			      IRQ_CONSUMER | (edge ? IRQ_EDGE : 0),
			      1 /* one interrupt */,
			      gsi, gsi >> 8, gsi >> 16, gsi >> 24 };

	res_bytes(r, d, sizeof(d));
}

/* Name (_CRS, ResourceTemplate () { @r }) */
static void aml_crs(struct aml *a, struct res *r)
{
	static const uint8_t end[] = { RES_END, 0 /* checksum: none */ };
	size_t start;

	res_bytes(r, end, sizeof(end));
	aml_name(a, "_CRS");
	aml_byte(a, AML_BUFFER);
	start = aml_open(a);
	aml_int(a, r->len);
	aml_bytes(a, r->b, r->len);
	aml_close(a, start);
}

/* ------------------------------------------------------------------ */
/* the tables                                                          */
/* ------------------------------------------------------------------ */

/* The virtio-mmio device in slot @k, or NULL. */
static struct vmxctl_device *virtio_mmio_dev(struct vmxctl_machine *m,
					     unsigned int k)
{
	uint64_t gpa = VMXCTL_VIRTIO_MMIO_GPA + VMXCTL_VIRTIO_MMIO_STRIDE * k;
	unsigned int i;

	for (i = 0; i < m->nr_devices; i++)
		if (m->devices[i]->mmio_len && m->devices[i]->mmio_base == gpa)
			return m->devices[i];
	return NULL;
}

static void dsdt_body(struct vmxctl_machine *m, struct aml *a)
{
	struct res r;
	size_t sb, dev, evt;
	unsigned int k;

	/*
	 * \_S5: SLP_TYP 5 for S5 (soft off); Linux writes SLP_TYP << 2 |
	 * SLP_EN to the sleep control register. The other three are
	 * reserved (only the first is read on hardware-reduced ACPI).
	 */
	aml_name(a, "_S5");
	aml_byte(a, AML_PACKAGE);
	dev = aml_open(a);
	aml_byte(a, 4);
	aml_int(a, VMXCTL_ACPI_SLP_TYP_S5);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_close(a, dev);

	sb = aml_scope(a, "_SB");

	/*
	 * Hardware-reduced ACPI maps no ISA IRQ: COM1 has its interrupt
	 * only if it is described here.
	 */
	dev = aml_device(a, "COM1");
	aml_name(a, "_HID");
	aml_eisa_id(a, "PNP0501");
	aml_name(a, "_UID");
	aml_int(a, 0);
	r.len = 0;
	res_io(&r, VMXCTL_UART_PORT, 8);
	res_irq(&r, COM1_GSI, true);
	aml_crs(a, &r);
	aml_close(a, dev);

	/*
	 * The CMOS RTC, without an interrupt: rtc_cmos then binds here
	 * instead of registering its fallback device with ISA IRQ 8, which
	 * hardware-reduced ACPI does not map.
	 */
	dev = aml_device(a, "RTC");
	aml_name(a, "_HID");
	aml_eisa_id(a, "PNP0B00");
	r.len = 0;
	res_io(&r, RTC_PORT, 2);
	aml_crs(a, &r);
	aml_close(a, dev);

	/*
	 * The power button vmxctl presses on SIGTERM: hardware-reduced ACPI
	 * has no fixed one, so a Generic Event Device's interrupt runs _EVT,
	 * which notifies a PNP0C0C button (0x80: pressed; ACPI 6.5, 5.6.9
	 * and 4.8.2.2.1.3). Linux's button driver turns that into KEY_POWER.
	 */
	dev = aml_device(a, "PWRB");
	aml_name(a, "_HID");
	aml_eisa_id(a, "PNP0C0C");
	aml_name(a, "_UID");
	aml_int(a, 0);
	aml_close(a, dev);

	dev = aml_device(a, "GED0");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	r.len = 0;
	res_irq(&r, VMXCTL_GED_GSI, true);
	aml_crs(a, &r);
	evt = aml_method(a, "_EVT", 1);
	aml_byte(a, AML_NOTIFY);
	aml_nameseg(a, "PWRB");
	aml_int(a, 0x80);
	aml_close(a, evt);
	aml_close(a, dev);

	for (k = 0; k < VMXCTL_VIRTIO_MMIO_MAX; k++) {
		char name[5];

		if (!virtio_mmio_dev(m, k))
			continue;
		snprintf(name, sizeof(name), "VR%02u", k);
		dev = aml_device(a, name);
		/* virtio_mmio's ACPI match: there is no other way in */
		aml_name(a, "_HID");
		aml_string(a, "LNRO0005");
		aml_name(a, "_UID");
		aml_int(a, k);
		r.len = 0;
		res_mem32_fixed(&r, VMXCTL_VIRTIO_MMIO_GPA +
				VMXCTL_VIRTIO_MMIO_STRIDE * k,
				VMXCTL_VIRTIO_MMIO_STRIDE);
		res_irq(&r, VMXCTL_VIRTIO_GSI_BASE + k, false);
		aml_crs(a, &r);
		aml_close(a, dev);
	}
	aml_close(a, sb);
}

/* The DSDT at @p, at most @cap bytes: its length, or 0 if it does not fit. */
static size_t build_dsdt(struct vmxctl_machine *m, uint8_t *p, size_t cap)
{
	struct aml a = { .buf = p, .cap = cap,
			 .len = sizeof(struct sdt_header) };

	dsdt_body(m, &a);
	if (a.full)
		return 0;
	/* revision 2: integers are 64 bits */
	sdt_header((void *)p, "DSDT", a.len, 2, "VMXLDSDT");
	return a.len;
}

static void build_fadt(struct fadt *f, uint64_t dsdt_gpa)
{
	f->flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP |
		   FADT_PWR_BUTTON | FADT_SLP_BUTTON;
	/*
	 * No legacy devices, no 8042 (Linux then leaves ports 0x60/0x64
	 * alone), no VGA, no MSI, no ASPM; a CMOS RTC.
	 */
	f->iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_PRESENT |
			    IAPC_PCIE_ASPM_CONTROLS;
	/* one I/O port for all three, as cloud-hypervisor does */
	f->reset_reg = io_byte(VMXCTL_ACPI_PM_PORT);
	f->reset_value = VMXCTL_ACPI_RESET_VALUE;
	f->sleep_control = io_byte(VMXCTL_ACPI_PM_PORT);
	f->sleep_status = io_byte(VMXCTL_ACPI_PM_PORT);
	f->minor_revision = 5;
	f->x_dsdt = dsdt_gpa;
	memcpy(f->hypervisor_id, "VMXLITE ", 8);
	sdt_header(&f->h, "FACP", sizeof(*f), 6, "VMXLFACP");
}

static size_t build_madt(struct madt *t, unsigned int nr_cpus)
{
	struct madt_lapic *l = (void *)(t + 1);
	struct madt_ioapic *io;
	unsigned int i;
	size_t len;

	t->lapic_address = LAPIC_GPA;
	for (i = 0; i < nr_cpus; i++)
		l[i] = (struct madt_lapic){ .type = MADT_LAPIC,
					    .length = sizeof(*l),
					    .processor_uid = i, .apic_id = i,
					    .flags = MADT_ENABLED };
	io = (void *)(l + nr_cpus);
	/* APIC IDs are 0..n-1: the IOAPIC's is the next */
	*io = (struct madt_ioapic){ .type = MADT_IOAPIC, .length = sizeof(*io),
				    .id = nr_cpus, .address = IOAPIC_GPA,
				    .gsi_base = 0 };
	len = (uint8_t *)(io + 1) - (uint8_t *)t;
	sdt_header(&t->h, "APIC", len, 5, "VMXLMADT");
	return len;
}

int vmxctl_acpi_build(struct vmxctl_machine *m, uint64_t *rsdp_gpa)
{
	const uint64_t base = VMXCTL_ACPI_GPA;
	unsigned int nr_cpus = m->cfg.nr_cpus;
	uint8_t *p = vmxctl_gpa_to_hva(m, base, VMXCTL_ACPI_SIZE);
	struct rsdp *rsdp;
	struct xsdt *xsdt;

	if (!p) {
		vmxctl_err("ACPI tables: no RAM at 0x%llx-0x%llx",
			   (unsigned long long)base,
			   (unsigned long long)base + VMXCTL_ACPI_SIZE - 1);
		return -EFAULT;
	}
	if (!nr_cpus || nr_cpus > VMXCTL_MAX_VCPUS) {
		vmxctl_err("ACPI tables: %u vCPUs (1-%u)", nr_cpus,
			   VMXCTL_MAX_VCPUS);
		return -EINVAL;
	}
	memset(p, 0, VMXCTL_ACPI_SIZE);

	if (!build_dsdt(m, p + DSDT_OFF, VMXCTL_ACPI_SIZE - DSDT_OFF)) {
		vmxctl_err("ACPI tables: the DSDT does not fit in %u bytes",
			   VMXCTL_ACPI_SIZE - DSDT_OFF);
		return -ENOSPC;
	}
	build_fadt((void *)(p + FADT_OFF), base + DSDT_OFF);
	build_madt((void *)(p + MADT_OFF), nr_cpus);

	xsdt = (void *)(p + XSDT_OFF);
	xsdt->entry[0] = base + FADT_OFF;
	xsdt->entry[1] = base + MADT_OFF;
	sdt_header(&xsdt->h, "XSDT", sizeof(*xsdt), 1, "VMXLXSDT");

	rsdp = (void *)p;
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = base + XSDT_OFF;	/* no RSDT: Linux takes the XSDT */
	rsdp->checksum = checksum(rsdp, 20);
	rsdp->ext_checksum = checksum(rsdp, sizeof(*rsdp));

	*rsdp_gpa = base;
	return 0;
}
