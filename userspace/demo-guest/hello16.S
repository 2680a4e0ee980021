/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hello16.bin: a flat real-mode binary (vmxctl --load 0x7c00). Prints
 * "hello16: real mode" over the UART and exits with code 5.
 */
	.code16
	.text
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov $msg - _start + 0x7c00, %si
1:	lodsb
	test %al, %al
	jz 2f
	mov %al, %bl
	mov $0x3fd, %dx
3:	in %dx, %al
	test $0x20, %al
	jz 3b
	mov $0x3f8, %dx
	mov %bl, %al
	out %al, %dx
	jmp 1b
2:	mov $5, %al
	out %al, $0xf4
	hlt
msg:	.asciz "hello16: real mode\n"
