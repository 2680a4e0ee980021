// SPDX-License-Identifier: GPL-2.0
/*
 * demo.elf: the demo guest vmxctl runs (64-bit, freestanding).
 *
 * vCPU 0 prints a banner over the UART; the other vCPUs say they are up
 * and halt. With a virtio disk (vmxctl --disk) it reads its settings from
 * sector 0, a line "VMXLDEMO key=value ...":
 *   count=N   stop after N iterations (default: never)
 *   every=N   print "count N" every N iterations (default 200000)
 *   exit=N    exit code at the end (default 0)
 *   io=1      also write the count to sector 3 and read it back at
 *             every print (disk I/O while counting)
 *   smmu-abort=1  with vmxctl --smmu: set the SMMU's GBPA to abort
 *             first, so the next request's DMA is refused
 *   smmu=1    with vmxctl --smmu: program the SMMU (a stream table, a
 *             command queue, stage 2 for StreamID 0 mapping I/O address
 *             RAM + 1 GiB to RAM), restart the disk with every address
 *             it is given 1 GiB up, and with io=1 also run a TLBI and a
 *             CMD_SYNC at every print, checking CMDQ_CONS reaches PROD.
 *             Without the SMMU's state (a restore that lost it) the
 *             device's DMA hits no RAM (exit 2) or the queue stalls (4)
 * then prints the disk's id, copies sectors 16-23 to 32-39 (read and
 * write through the device), writes "demo-guest was here" to sector 2,
 * flushes, and counts. Every iteration writes the count into one page of
 * a 4 MiB array (page = count % 1024): a steady dirty set. All its state
 * lives in memory and registers, so a restored snapshot counts on.
 * Without a disk it counts forever.
 *
 * Exit codes: exit=N at the end; 1 a disk request failed (status byte
 * not OK); 2 the device needs reset (DMA refused); 3 a read-back
 * mismatch; 4 the SMMU's command queue did not run a command.
 */
#include "guest.h"

#define BLK		0xd0000000UL
#define SMMU		0xd0100000UL
#define SMMU_GBPA	(SMMU + 0x44)
#define QSIZE		8
#define DMA_OFF		(1UL << 30)	/* smmu=1: I/O address of RAM byte 0 */
#define CMDQ_LOG2	4

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static struct vring_desc desc[QSIZE] __attribute__((aligned(16)));
static struct {
	uint16_t flags, idx, ring[QSIZE];
} avail __attribute__((aligned(2)));
static struct {
	uint16_t flags, idx;
	/* cppcheck-suppress unusedStructMember ; the device writes them */
	struct { uint32_t id, len; } ring[QSIZE];
} used __attribute__((aligned(4)));
static struct {
	uint32_t type, reserved;
	uint64_t sector;
} hdr;
static volatile uint8_t status;
static uint8_t sector_buf[4096] __attribute__((aligned(4096)));
static uint8_t dirty_array[1024][4096] __attribute__((aligned(4096)));

/* smmu=1: a linear stream table of 2 STEs, stage 2, the command queue */
static uint64_t strtab[16] __attribute__((aligned(4096)));
static uint64_t s2_l1[512] __attribute__((aligned(4096)));
static uint64_t cmdq[2 << CMDQ_LOG2] __attribute__((aligned(4096)));
static uint32_t cmdq_prod;
static uint64_t dma_off;	/* added to every address the device gets */

static volatile int print_lock;
static volatile uint64_t count;
static uint64_t opt_count, opt_every = 200000, opt_exit, opt_io, opt_abort;
static uint64_t opt_smmu;
static int have_disk;

static void lock(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		asm volatile("pause");
}

static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static uint32_t rd(unsigned int off)
{
	return mmio_read32(BLK + off);
}

static void wr(unsigned int off, uint32_t v)
{
	mmio_write32(BLK + off, v);
}

static int blk_init(void)
{
	if (rd(0x000) != 0x74726976 || rd(0x004) != 2 || rd(0x008) != 2)
		return 0;
	wr(0x070, 0);			/* reset */
	wr(0x070, 1);			/* ACKNOWLEDGE */
	wr(0x070, 1 | 2);		/* DRIVER */
	wr(0x024, 1);
	wr(0x020, 1);			/* VERSION_1 */
	wr(0x024, 0);
	wr(0x020, 0);
	wr(0x070, 1 | 2 | 8);		/* FEATURES_OK */
	if (!(rd(0x070) & 8))
		return 0;
	wr(0x030, 0);
	if (rd(0x034) < QSIZE)
		return 0;
	wr(0x038, QSIZE);
	/* a restart (smmu=1) begins with empty rings */
	*(volatile uint16_t *)&avail.idx = 0;
	*(volatile uint16_t *)&used.idx = 0;
	wr(0x080, (uintptr_t)desc + dma_off);
	wr(0x084, 0);
	wr(0x090, (uintptr_t)&avail + dma_off);
	wr(0x094, 0);
	wr(0x0a0, (uintptr_t)&used + dma_off);
	wr(0x0a4, 0);
	wr(0x044, 1);
	wr(0x070, 1 | 2 | 8 | 4);	/* DRIVER_OK */
	return 1;
}

/* One request, polled: returns the status byte, or -1 (needs reset). */
static int blk_req(uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	uint16_t seen = used.idx;
	unsigned int n = 0;

	hdr.type = type;
	hdr.sector = sector;
	status = 0xff;
	desc[0] = (struct vring_desc){ (uintptr_t)&hdr + dma_off, sizeof(hdr),
				       1, 1 };
	if (len) {
		desc[1] = (struct vring_desc){ (uintptr_t)buf + dma_off, len,
					       1 | (type == 1 ? 0 : 2), 2 };
		n = 1;
	}
	desc[1 + n] = (struct vring_desc){ (uintptr_t)&status + dma_off, 1,
					   2, 0 };
	if (!len)
		desc[0].next = 1;
	avail.ring[avail.idx % QSIZE] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(0x050, 0);
	while (*(volatile uint16_t *)&used.idx == seen) {
		if (rd(0x070) & 0x40)
			return -1;
		asm volatile("pause");
	}
	wr(0x064, rd(0x060));		/* acknowledge the "interrupt" */
	return status;
}

/* Without the print lock: the caller may hold it. */
static void fail(const char *what, int code)
{
	uart_puts("demo-guest: ");
	uart_puts(what);
	uart_puts("\n");
	guest_exit(code);
}

static int req_or_die(uint32_t type, uint64_t sector, void *buf, uint32_t len,
		      const char *what)
{
	int s = blk_req(type, sector, buf, len);

	if (s == -1)
		fail("disk: device needs reset", 2);
	if (s != 0)
		fail(what, 1);
	return s;
}

static uint64_t parse_u(const char **p)
{
	uint64_t v = 0;

	while (**p >= '0' && **p <= '9')
		v = v * 10 + (*(*p)++ - '0');
	return v;
}

static int prefix(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

static void parse_config(const char *s)
{
	const char *end = s + 512;

	if (!prefix(s, "VMXLDEMO"))
		return;
	while (s < end && *s && *s != '\n') {
		if (prefix(s, "count=")) {
			s += 6;
			opt_count = parse_u(&s);
		} else if (prefix(s, "every=")) {
			s += 6;
			opt_every = parse_u(&s);
			if (!opt_every)
				opt_every = 1;
		} else if (prefix(s, "exit=")) {
			s += 5;
			opt_exit = parse_u(&s);
		} else if (prefix(s, "io=")) {
			s += 3;
			opt_io = parse_u(&s);
		} else if (prefix(s, "smmu-abort=")) {
			s += 11;
			opt_abort = parse_u(&s);
		} else if (prefix(s, "smmu=")) {
			s += 5;
			opt_smmu = parse_u(&s);
		} else {
			s++;
		}
	}
}

static void smmu_w64(unsigned int off, uint64_t v)
{
	mmio_write32(SMMU + off, (uint32_t)v);
	mmio_write32(SMMU + off + 4, v >> 32);
}

/* One command and a CMD_SYNC; the model runs them before the write ends. */
static void smmu_cmd(uint64_t w0, uint64_t w1)
{
	uint32_t mask = (1u << CMDQ_LOG2) - 1, wrap = (2u << CMDQ_LOG2) - 1;
	volatile uint64_t *slot = &cmdq[2 * (cmdq_prod & mask)];

	slot[0] = w0;
	slot[1] = w1;
	cmdq_prod = (cmdq_prod + 1) & wrap;
	slot = &cmdq[2 * (cmdq_prod & mask)];
	slot[0] = 0x46;			/* CMD_SYNC */
	slot[1] = 0;
	cmdq_prod = (cmdq_prod + 1) & wrap;
	mmio_write32(SMMU + 0x98, cmdq_prod);		/* CMDQ_PROD */
	if (mmio_read32(SMMU + 0x9c) != cmdq_prod)	/* CMDQ_CONS */
		fail("smmu: the command queue did not run", 4);
}

/*
 * StreamID 0 (the disk) translated by stage 2 alone (STE.Config 6):
 * a 39-bit IPA space (S2T0SZ 25) starting at level 1 (S2SL0 1), where
 * the 1 GiB block at IPA 1 GiB is RAM from 0, readable and writable
 * (S2AP 3), access flag set. Then the disk starts over with every
 * address 1 GiB up.
 */
static void smmu_setup(void)
{
	volatile uint64_t *ste = strtab;

	s2_l1[1] = 3u << 6 | 1u << 10 | 1;	/* block at PA 0 */
	ste[0] = 0;
	ste[1] = 0;
	ste[2] = 1 | 25ULL << 32 | 1ULL << 38 | 5ULL << 48 | 1ULL << 51;
	ste[3] = (uintptr_t)s2_l1;
	ste[0] = 1 | 6u << 1;				/* V, stage 2 */
	mmio_write32(SMMU + 0x20, 0);			/* CR0 */
	smmu_w64(0x80, (uintptr_t)strtab);		/* STRTAB_BASE */
	mmio_write32(SMMU + 0x88, 1);			/* linear, 2 STEs */
	smmu_w64(0x90, (uintptr_t)cmdq | CMDQ_LOG2);	/* CMDQ_BASE */
	mmio_write32(SMMU + 0x98, 0);
	mmio_write32(SMMU + 0x9c, 0);
	mmio_write32(SMMU + 0x20, 1u << 3);		/* CMDQEN */
	mmio_write32(SMMU + 0x20, 1u << 3 | 1);		/* and SMMUEN */
	smmu_cmd(0x04, 31);				/* CFGI_ALL */
	dma_off = DMA_OFF;
	if (!blk_init())
		fail("disk: restart behind the SMMU failed", 2);
	uart_puts("demo-guest: smmu: stage 2 on, the disk at I/O addresses RAM + 1 GiB\n");
}

static void disk_demo(void)
{
	static const char here[] = "demo-guest was here\n";
	unsigned int i;

	req_or_die(0, 0, sector_buf, 512, "disk: reading sector 0 failed");
	parse_config((const char *)sector_buf);
	uart_puts("demo-guest: disk: sector 0 says: ");
	for (i = 0; i < 80 && sector_buf[i] && sector_buf[i] != '\n'; i++)
		uart_putc(sector_buf[i]);
	uart_puts("\n");

	if (opt_abort) {
		mmio_write32(SMMU_GBPA, (1u << 31) | (1u << 20));
		uart_puts("demo-guest: smmu: GBPA set to abort\n");
	}
	if (opt_smmu)
		smmu_setup();

	for (i = 0; i < 20; i++)
		sector_buf[i] = 0;
	req_or_die(8, 0, sector_buf, 20, "disk: GET_ID failed");
	uart_puts("demo-guest: disk: id ");
	for (i = 0; i < 20 && sector_buf[i]; i++)
		uart_putc(sector_buf[i]);
	uart_puts("\n");

	req_or_die(0, 16, sector_buf, 4096, "disk: reading sectors 16-23 failed");
	req_or_die(1, 32, sector_buf, 4096, "disk: writing sectors 32-39 failed");
	for (i = 0; i < 512; i++)
		sector_buf[i] = i < sizeof(here) - 1 ? here[i] : 0;
	req_or_die(1, 2, sector_buf, 512, "disk: writing sector 2 failed");
	req_or_die(4, 0, 0, 0, "disk: flush failed");
	uart_puts("demo-guest: disk: copied sectors 16-23 to 32-39, wrote sector 2, flushed\n");
}

static void disk_io(uint64_t c)
{
	uint64_t *p = (uint64_t *)sector_buf;

	if (opt_smmu)
		smmu_cmd(0x30, 0);			/* TLBI_NSNH_ALL */
	p[0] = c;
	p[1] = ~c;
	req_or_die(1, 3, sector_buf, 512, "disk: writing sector 3 failed");
	p[0] = p[1] = 0;
	req_or_die(0, 3, sector_buf, 512, "disk: reading sector 3 failed");
	if (p[0] != c || p[1] != ~c)
		fail("disk: sector 3 read back wrong", 3);
}

void guest_main(uint64_t cpu, uint64_t cpus, uint64_t ram);
void guest_main(uint64_t cpu, uint64_t cpus, uint64_t ram)
{
	lock();
	uart_puts("demo-guest: cpu ");
	uart_putu(cpu);
	uart_puts(" of ");
	uart_putu(cpus);
	uart_puts(" up");
	if (cpu) {
		uart_puts("\n");
		unlock();
		return;		/* halts */
	}
	uart_puts(", RAM ");
	uart_putu(ram >> 20);
	uart_puts(" MiB\n");
	have_disk = blk_init();
	if (have_disk)
		disk_demo();
	else
		uart_puts("demo-guest: no disk\n");
	uart_puts("demo-guest: counting\n");
	unlock();

	for (;;) {
		uint64_t c = ++count;

		*(volatile uint64_t *)dirty_array[c % 1024] = c;
		if (c % opt_every == 0) {
			if (opt_io && have_disk)
				disk_io(c);
			lock();
			uart_puts("count ");
			uart_putu(c);
			uart_puts("\n");
			unlock();
		}
		if (opt_count && c >= opt_count) {
			lock();
			uart_puts("demo-guest: done after ");
			uart_putu(c);
			uart_puts(" iterations\n");
			unlock();
			guest_exit(opt_exit);
		}
	}
}
