/* SPDX-License-Identifier: GPL-2.0 */
/* 64-bit entry: vmxctl set RSP, RDI = cpu, RSI = cpus, RDX = RAM size. */
	.section .text.start, "ax"
	.globl _start
	.code64
_start:
	cld
	and $-16, %rsp
	call guest_main
1:	cli
	hlt
	jmp 1b
