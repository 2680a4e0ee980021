// SPDX-License-Identifier: GPL-2.0
/*
 * vmxctl: a 16550A UART at port 0x3f8 ("uart0").
 *
 * The registers Linux's 8250 driver touches: RBR/THR, IER, IIR/FCR, LCR,
 * MCR (with loopback), LSR, MSR, SCR, and DLL/DLM behind LCR.DLAB. The
 * transmitter is always ready: THR writes go straight to the output
 * (stdout or --serial FILE), line-buffered and flushed too when an
 * interrupt-driven guest turns IER.THRI off (all sent: a shell's prompt,
 * with no newline, shows). Input (with --serial stdio)
 * comes from a reader thread that fills a receive FIFO from stdin, so a
 * vCPU never blocks on it; LSR.DR says whether a byte is waiting. The
 * terminal's raw mode and the Ctrl-A escapes: vmxctl_console.c.
 *
 * Interrupts, as a 16550A's (Linux's 8250 driver tests them at startup,
 * serial8250_do_startup()): IER enables four sources, which IIR reports
 * one at a time by priority:
 *   line status (IER.RLSI)   LSR.OE: the receive FIFO overflowed (input
 *                            was dropped); reading LSR clears it
 *   received data (IER.RDI)  a byte is waiting; reading RBR empties it
 *   THR empty (IER.THRI)     set when THRI goes 0 -> 1 (THR is always
 *                            empty) and after every THR write (the byte
 *                            left at once); cleared by a THR write or by
 *                            reading IIR while it is the one reported
 *   modem status (IER.MSI)   a delta bit of MSR (in loopback, MCR moves
 *                            the lines); reading MSR clears them
 * The line (vmxctl_dev_irq(): COM1 is GSI 4, edge) is high while a
 * source is pending and MCR.OUT2 is set outside loopback: on a PC, OUT2
 * enables the IRQ driver, and loopback forces OUT2 off at the pin.
 * Polling guests (IER 0) see what they always did.
 *
 * Saved state ("uart0", little-endian, 16 bytes + the FIFO):
 *   u8 ier, lcr, mcr, msr, scr, dll, dlm, fcr, thre_pending,
 *      msr_delta (version 2: MSR bits 3:0 not yet read; 0 in version 1),
 *      lsr_oe (version 2: LSR.OE not yet read; 0 in version 1), pad
 *   u32 rx_len, then rx_len bytes of the receive FIFO (oldest first)
 * Version 1 (before interrupts) restores with no delta or overrun.
 * A restore into a UART the guest has not touched yet (vmxctl run
 * --restore) keeps the input read so far behind the saved FIFO: what
 * was typed while vmxctl read the snapshot is not lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmxctl.h"
#include "vmxctl_dev.h"

#define RX_SIZE		4096
#define OUT_SIZE	4096

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IER_RLSI	0x04
#define IER_MSI		0x08
#define LCR_DLAB	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define IIR_NONE	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_FIFO	0xc0
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02

#define STATE_VERSION	2

/* Versions 1 and 2: version 1 wrote msr_delta and lsr_oe as zero pad. */
struct uart_state {
	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr, thre_pending;
	uint8_t msr_delta, lsr_oe, pad;
	uint32_t rx_len;
} __attribute__((packed));

_Static_assert(sizeof(struct uart_state) == 16, "documented size");

struct uart {
	struct vmxctl_device dev;
	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr;
	bool thre_pending;
	uint8_t msr_delta;		/* MSR bits 3:0, cleared by reading it */
	bool lsr_oe;			/* overrun, cleared by reading LSR */
	/*
	 * The guest has touched the registers. Until then, what the input
	 * reader received belongs after the FIFO a restore brings.
	 */
	bool guest_seen;
	uint8_t rx[RX_SIZE];
	unsigned int rx_head, rx_len;
	int out_fd;
	char out[OUT_SIZE];
	unsigned int out_len;
	int in_fd;			/* -1: no input */
	struct vmxctl_console con;	/* in_fd's terminal and escapes */
	int stop_pipe[2];
	pthread_t reader;
	bool reader_started;
};

static void flush_out(struct uart *u)
{
	unsigned int off = 0;

	if (u->out_fd < 0) {	/* detached from the console */
		u->out_len = 0;
		return;
	}

	while (off < u->out_len) {
		ssize_t n = write(u->out_fd, u->out + off, u->out_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* output gone: drop it, the guest goes on */
		off += n;
	}
	u->out_len = 0;
}

static void put_out(struct uart *u, uint8_t c)
{
	u->out[u->out_len++] = c;
	if (c == '\n' || u->out_len == OUT_SIZE)
		flush_out(u);
}

static void rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_len == RX_SIZE) {
		u->lsr_oe = true;	/* overrun: dropped, and said */
		return;
	}
	u->rx[(u->rx_head + u->rx_len) % RX_SIZE] = c;
	u->rx_len++;
}

/* MSR bits 7:4: DCD, RI, DSR, CTS. */
static uint8_t modem_lines(const struct uart *u)
{
	if (u->mcr & MCR_LOOP)
		return ((u->mcr & MCR_DTR) ? 0x20 : 0) |	/* DSR */
		       ((u->mcr & MCR_RTS) ? 0x10 : 0) |	/* CTS */
		       ((u->mcr & MCR_OUT1) ? 0x40 : 0) |	/* RI */
		       ((u->mcr & MCR_OUT2) ? 0x80 : 0);	/* DCD */
	return u->msr & 0xf0;
}

/* The delta bits a change of the lines from @old sets. */
static uint8_t modem_deltas(uint8_t old, uint8_t now)
{
	uint8_t d = old ^ now;

	return ((d & 0x10) ? 0x01 : 0) |		/* DCTS */
	       ((d & 0x20) ? 0x02 : 0) |		/* DDSR */
	       ((old & 0x40) && !(now & 0x40) ? 0x04 : 0) | /* TERI */
	       ((d & 0x80) ? 0x08 : 0);			/* DDCD */
}

static uint8_t iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((u->ier & IER_RLSI) && u->lsr_oe)
		return IIR_RLSI | fifo;
	if ((u->ier & IER_RDI) && u->rx_len)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI | fifo;
	if ((u->ier & IER_MSI) && u->msr_delta)
		return IIR_MSI | fifo;
	return IIR_NONE | fifo;
}

/* The IRQ pin: a source pending, gated by OUT2 (forced off in loopback). */
static bool irq_line(const struct uart *u)
{
	return (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2 &&
	       !(iir(u) & IIR_NONE);
}

static void update_irq(struct uart *u)
{
	vmxctl_dev_irq(&u->dev, irq_line(u));
}

static void uart_pio(struct vmxctl_device *d, uint64_t reg, bool write,
		     uint64_t *val, unsigned int size)
{
	struct uart *u = d->priv;
	uint8_t v = *val;

	(void)size;	/* byte registers: wider accesses use the low byte */
	u->guest_seen = true;
	if (write) {
		switch (reg) {
		case 0:
			if (u->lcr & LCR_DLAB) {
				u->dll = v;
			} else {
				if (u->mcr & MCR_LOOP)
					rx_push(u, v);
				else
					put_out(u, v);
				/* cleared by the write, set as the byte leaves */
				u->thre_pending = true;
			}
			break;
		case 1:
			if (u->lcr & LCR_DLAB) {
				u->dlm = v;
			} else {
				if ((v & IER_THRI) && !(u->ier & IER_THRI))
					u->thre_pending = true;
				/*
				 * An interrupt-driven driver turns THRI off
				 * when it has nothing more to send: a shell's
				 * prompt, with no newline, goes out now.
				 */
				if (!(v & IER_THRI) && (u->ier & IER_THRI))
					flush_out(u);
				u->ier = v & 0x0f;
			}
			break;
		case 2:
			u->fcr = v & 0xc9;
			if (v & FCR_CLEAR_RX)
				u->rx_head = u->rx_len = 0;
			break;
		case 3:
			u->lcr = v;
			break;
		case 4: {
			uint8_t old = modem_lines(u);

			u->mcr = v & 0x1f;
			u->msr_delta |= modem_deltas(old, modem_lines(u));
			break;
		}
		case 5:
		case 6:
			break;	/* LSR, MSR: read-only */
		case 7:
			u->scr = v;
			break;
		}
	} else {
		switch (reg) {
		case 0:
			if (u->lcr & LCR_DLAB) {
				v = u->dll;
			} else if (u->rx_len) {
				v = u->rx[u->rx_head];
				u->rx_head = (u->rx_head + 1) % RX_SIZE;
				u->rx_len--;
			} else {
				v = 0;
			}
			break;
		case 1:
			v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
			break;
		case 2:
			v = iir(u);
			if ((v & 0x0f) == IIR_THRI)
				u->thre_pending = false;
			break;
		case 3:
			v = u->lcr;
			break;
		case 4:
			v = u->mcr;
			break;
		case 5:
			v = LSR_THRE | LSR_TEMT | (u->rx_len ? LSR_DR : 0) |
			    (u->lsr_oe ? LSR_OE : 0);
			u->lsr_oe = false;
			break;
		case 6:
			v = modem_lines(u) | u->msr_delta;
			u->msr_delta = 0;
			break;
		case 7:
			v = u->scr;
			break;
		}
		*val = v;
	}
	update_irq(u);
}

static void *reader(void *arg)
{
	struct uart *u = arg;
	struct pollfd p[2] = {
		{ .fd = u->in_fd, .events = POLLIN },
		{ .fd = u->stop_pipe[0], .events = POLLIN },
	};
	uint8_t in[256], buf[sizeof(in) + 1];
	ssize_t n, i;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(u->in_fd, in, sizeof(in));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;	/* end of input: the FIFO just stays empty */
		n = vmxctl_console_input(&u->con, u->dev.m, in, n, buf);
		pthread_mutex_lock(&u->dev.lock);
		for (i = 0; i < n; i++)
			rx_push(u, buf[i]);
		update_irq(u);
		if (u->con.detached) {	/* the terminal is not ours now */
			flush_out(u);
			u->out_fd = -1;
		}
		pthread_mutex_unlock(&u->dev.lock);
		if (u->con.detached)
			break;
	}
	return NULL;
}

static int uart_save(struct vmxctl_device *d, struct vmxctl_dev_state *st)
{
	struct uart *u = d->priv;
	struct uart_state *s;
	uint8_t *rx;
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	st->len = sizeof(*s) + u->rx_len;
	st->data = calloc(1, st->len);
	if (!st->data) {
		pthread_mutex_unlock(&d->lock);
		return -ENOMEM;
	}
	st->version = STATE_VERSION;
	s = st->data;
	*s = (struct uart_state){
		.ier = u->ier, .lcr = u->lcr, .mcr = u->mcr, .msr = u->msr,
		.scr = u->scr, .dll = u->dll, .dlm = u->dlm, .fcr = u->fcr,
		.thre_pending = u->thre_pending, .msr_delta = u->msr_delta,
		.lsr_oe = u->lsr_oe, .rx_len = u->rx_len,
	};
	rx = (uint8_t *)(s + 1);
	for (i = 0; i < u->rx_len; i++)
		rx[i] = u->rx[(u->rx_head + i) % RX_SIZE];
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int uart_restore(struct vmxctl_device *d,
			const struct vmxctl_dev_state *st)
{
	struct uart *u = d->priv;
	const struct uart_state *s = st->data;
	bool v1 = st->version == 1;
	uint8_t *early = NULL;
	unsigned int i, nearly = 0;

	if ((!v1 && st->version != STATE_VERSION) || st->len < sizeof(*s) ||
	    s->rx_len > RX_SIZE || st->len != sizeof(*s) + s->rx_len ||
	    (!v1 && ((s->msr_delta & 0xf0) || s->lsr_oe > 1)))
		return -EINVAL;
	early = malloc(RX_SIZE);
	if (!early)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	/*
	 * Input that came in before the restored guest ran (typed, or a
	 * test's command, while vmxctl read the snapshot) follows the saved
	 * FIFO instead of being overwritten by it.
	 */
	if (!u->guest_seen)
		for (nearly = u->rx_len, i = 0; i < nearly; i++)
			early[i] = u->rx[(u->rx_head + i) % RX_SIZE];
	u->ier = s->ier, u->lcr = s->lcr, u->mcr = s->mcr, u->msr = s->msr;
	u->scr = s->scr, u->dll = s->dll, u->dlm = s->dlm, u->fcr = s->fcr;
	u->thre_pending = s->thre_pending;
	u->msr_delta = v1 ? 0 : s->msr_delta;
	u->lsr_oe = v1 ? false : s->lsr_oe;
	memcpy(u->rx, s + 1, s->rx_len);
	u->rx_head = 0;
	u->rx_len = s->rx_len;
	for (i = 0; i < nearly; i++)
		rx_push(u, early[i]);
	update_irq(u);
	pthread_mutex_unlock(&d->lock);
	free(early);
	return 0;
}

static void uart_quiesce(struct vmxctl_device *d)
{
	struct uart *u = d->priv;

	pthread_mutex_lock(&d->lock);
	flush_out(u);
	pthread_mutex_unlock(&d->lock);
}

static void uart_destroy(struct vmxctl_device *d)
{
	struct uart *u = d->priv;

	if (u->reader_started) {
		if (write(u->stop_pipe[1], "x", 1) < 0) {
			/* the reader still ends at exit */
		}
		pthread_join(u->reader, NULL);
	}
	if (u->stop_pipe[0] >= 0) {
		close(u->stop_pipe[0]);
		close(u->stop_pipe[1]);
	}
	flush_out(u);
	vmxctl_console_close(&u->con);
	free(u);
}

static const struct vmxctl_dev_ops uart_ops = {
	.pio = uart_pio,
	.save = uart_save,
	.restore = uart_restore,
	.quiesce = uart_quiesce,
	.destroy = uart_destroy,
};

int vmxctl_uart_create(struct vmxctl_machine *m, int out_fd, int in_fd)
{
	struct uart *u = calloc(1, sizeof(*u));
	int ret;

	if (!u) {
		vmxctl_err("uart0: out of memory");
		return -ENOMEM;
	}
	snprintf(u->dev.name, sizeof(u->dev.name), "uart0");
	u->dev.ops = &uart_ops;
	u->dev.port_base = VMXCTL_UART_PORT;
	u->dev.port_len = 8;
	u->dev.gsi = VMXCTL_UART_GSI;
	u->dev.priv = u;
	u->msr = 0xb0;		/* DCD, DSR, CTS: a cable is there */
	u->out_fd = out_fd;
	u->in_fd = in_fd;
	u->stop_pipe[0] = u->stop_pipe[1] = -1;
	ret = vmxctl_add_device(m, &u->dev);
	if (ret) {
		free(u);
		return ret;
	}
	/* From here on the bus owns u: destroy cleans up what exists. */
	if (in_fd < 0)
		return 0;
	vmxctl_console_open(&u->con, in_fd);
	if (pipe2(u->stop_pipe, O_CLOEXEC)) {
		ret = -errno;
		u->stop_pipe[0] = u->stop_pipe[1] = -1;
		vmxctl_err("uart0: input reader's pipe: %s", strerror(-ret));
		return ret;
	}
	ret = pthread_create(&u->reader, NULL, reader, u);
	if (ret) {
		vmxctl_err("uart0: input reader thread: %s", strerror(ret));
		return -ret;
	}
	u->reader_started = true;
	return 0;
}
