// SPDX-License-Identifier: GPL-2.0
/* crash.elf: prints a line, then executes UD2 without an IDT: triple fault. */
#include "guest.h"

void guest_main(void);
void guest_main(void)
{
	uart_puts("crash: about to fault\n");
	asm volatile("ud2");
}
