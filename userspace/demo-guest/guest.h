/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the freestanding guests vmxctl runs (demo-guest/): port and
 * MMIO access, the 16550A UART at 0x3f8 (polled), the exit port 0xf4.
 * Works in 32- and 64-bit mode.
 */
#ifndef DEMO_GUEST_H
#define DEMO_GUEST_H

#include <stdint.h>
#include <stddef.h>

#define UART		0x3f8
#define EXIT_PORT	0xf4

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* Plain MOVs, which the hypervisor's MMIO decoder knows. */
static inline uint32_t mmio_read32(uintptr_t a)
{
	uint32_t v;

	asm volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	asm volatile("movl %0, (%1)" : : "r"(v), "r"(a) : "memory");
}

static inline void uart_putc(char c)
{
	while (!(inb(UART + 5) & 0x20))
		;
	outb(UART, c);
}

static inline void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

static inline void uart_putu(uint64_t v)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (i)
		uart_putc(buf[--i]);
}

static inline void uart_puthex(uint64_t v)
{
	int i;

	uart_puts("0x");
	for (i = 60; i > 0 && !(v >> i); i -= 4)
		;
	for (; i >= 0; i -= 4)
		uart_putc("0123456789abcdef"[(v >> i) & 15]);
}

/* Ends the run: vmxctl exits with @code. */
static inline __attribute__((noreturn)) void guest_exit(uint8_t code)
{
	outb(EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}

#endif
