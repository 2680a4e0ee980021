/* SPDX-License-Identifier: GPL-2.0 */
/* pvhboot's entry from the Multiboot loader: EAX magic, EBX info. */
	.code32
	.text
	.globl _start
_start:
	cli
	mov	$stack_top, %esp
	push	%ebx
	push	%eax
	call	pvhboot_main
1:	hlt
	jmp	1b

	.bss
	.align	16
	.space	16384
stack_top:

	.section .note.GNU-stack,"",@progbits
