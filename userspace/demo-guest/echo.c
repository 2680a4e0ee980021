// SPDX-License-Identifier: GPL-2.0
/*
 * echo.elf: UART input. Prints "echo: ready", then echoes every byte it
 * receives (polling LSR.DR) in upper case, and exits with code 0 after a
 * 'q'. Counts while it waits, so the vCPU never blocks on input. Also
 * checks the 16550A scratch register and loopback mode first (exit 4
 * when they do not behave).
 */
#include "guest.h"

void guest_main(void);
void guest_main(void)
{
	uint64_t spins = 0;
	uint8_t c;

	outb(UART + 7, 0xa5);
	if (inb(UART + 7) != 0xa5)
		guest_exit(4);
	outb(UART + 4, 0x10 | 0x0a);		/* loopback, RTS, OUT2 */
	if ((inb(UART + 6) & 0xf0) != 0x90)	/* CTS, DCD */
		guest_exit(4);
	outb(UART, 'L');
	if (!(inb(UART + 5) & 1) || inb(UART) != 'L')
		guest_exit(4);
	outb(UART + 4, 0x0b);			/* loopback off */
	outb(UART + 3, 0x80);			/* DLAB: divisor 1 */
	outb(UART, 1);
	outb(UART + 1, 0);
	outb(UART + 3, 0x03);			/* 8N1 */
	outb(UART + 2, 0x07);			/* FIFO on, cleared */
	if ((inb(UART + 2) & 0xc0) != 0xc0)	/* a 16550A */
		guest_exit(4);

	uart_puts("echo: ready\n");
	for (;;) {
		if (!(inb(UART + 5) & 1)) {
			spins++;
			continue;
		}
		c = inb(UART);
		if (c == 'q')
			break;
		if (c >= 'a' && c <= 'z')
			c -= 32;
		uart_putc(c);
	}
	uart_puts("\necho: bye\n");
	guest_exit(spins ? 0 : 6);
}
