// SPDX-License-Identifier: GPL-2.0
/*
 * hello32.elf: a 32-bit ELF guest (protected mode, flat segments).
 * vCPU 0 prints a line with the vCPU count, RAM and CR0, then exits
 * with code 3; other vCPUs halt.
 */
#include "guest.h"

void guest_main(uint32_t cpu, uint32_t cpus, uint32_t ram);
void guest_main(uint32_t cpu, uint32_t cpus, uint32_t ram)
{
	uint32_t cr0;

	if (cpu)
		return;		/* halts */
	asm volatile("mov %%cr0, %0" : "=r"(cr0));
	uart_puts("hello32: protected mode, cpu ");
	uart_putu(cpu);
	uart_puts(" of ");
	uart_putu(cpus);
	uart_puts(", RAM ");
	uart_putu(ram >> 20);
	uart_puts(" MiB, cr0 ");
	uart_puthex(cr0);
	uart_puts("\n");
	guest_exit(3);
}
