/* SPDX-License-Identifier: GPL-2.0 */
/* 32-bit entry: vmxctl set ESP, EDI = cpu, ESI = cpus, EDX = RAM size. */
	.section .text.start, "ax"
	.globl _start
	.code32
_start:
	cld
	and $-16, %esp
	push %edx
	push %esi
	push %edi
	call guest_main
1:	cli
	hlt
	jmp 1b
