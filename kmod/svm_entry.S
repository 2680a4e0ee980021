/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SVM world switch.
 *
 * VMRUN saves and restores the host's RAX, RSP, RIP, RFLAGS, control
 * registers and ES/CS/SS/DS; VMLOAD/VMSAVE move FS, GS, TR, LDTR and the
 * SYSCALL/SYSENTER MSRs. Every other GPR is ours to switch, here.
 *
 * Called with GIF=0 (interrupts and NMIs held), so nothing runs between
 * loading the guest's GS base and restoring the host's.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

/* Offsets into u64 regs[16], x86 encoding order. */
#define R_RCX	(1 * 8)
#define R_RDX	(2 * 8)
#define R_RBX	(3 * 8)
#define R_RBP	(5 * 8)
#define R_RSI	(6 * 8)
#define R_RDI	(7 * 8)
#define R_R8	(8 * 8)
#define R_R9	(9 * 8)
#define R_R10	(10 * 8)
#define R_R11	(11 * 8)
#define R_R12	(12 * 8)
#define R_R13	(13 * 8)
#define R_R14	(14 * 8)
#define R_R15	(15 * 8)

	.section .text, "ax"

/*
 * void vmxl_svm_enter(unsigned long vmcb_pa, unsigned long host_save_pa,
 *                     u64 *regs)
 * Guest RAX and RSP live in the VMCB, the rest in regs[].
 */
SYM_FUNC_START(vmxl_svm_enter)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdx			/* 16(%rsp): regs */
	push	%rdi			/*  8(%rsp): vmcb_pa */
	push	%rsi			/*  0(%rsp): host_save_pa */

	mov	%rsi, %rax
	vmsave	%rax			/* host FS/GS/TR/LDTR/syscall MSRs */

	mov	%rdx, %rax
	mov	R_RCX(%rax), %rcx
	mov	R_RDX(%rax), %rdx
	mov	R_RBX(%rax), %rbx
	mov	R_RBP(%rax), %rbp
	mov	R_RSI(%rax), %rsi
	mov	R_RDI(%rax), %rdi
	mov	R_R8(%rax), %r8
	mov	R_R9(%rax), %r9
	mov	R_R10(%rax), %r10
	mov	R_R11(%rax), %r11
	mov	R_R12(%rax), %r12
	mov	R_R13(%rax), %r13
	mov	R_R14(%rax), %r14
	mov	R_R15(%rax), %r15

	mov	8(%rsp), %rax
	vmload	%rax
	vmrun	%rax
	vmsave	%rax			/* #VMEXIT gave RAX back: vmcb_pa */

	mov	16(%rsp), %rax
	mov	%rcx, R_RCX(%rax)
	mov	%rdx, R_RDX(%rax)
	mov	%rbx, R_RBX(%rax)
	mov	%rbp, R_RBP(%rax)
	mov	%rsi, R_RSI(%rax)
	mov	%rdi, R_RDI(%rax)
	mov	%r8, R_R8(%rax)
	mov	%r9, R_R9(%rax)
	mov	%r10, R_R10(%rax)
	mov	%r11, R_R11(%rax)
	mov	%r12, R_R12(%rax)
	mov	%r13, R_R13(%rax)
	mov	%r14, R_R14(%rax)
	mov	%r15, R_R15(%rax)

	mov	0(%rsp), %rax
	vmload	%rax			/* host GS base is back: percpu works */

	/* The guest may have trained the return stack: refill it. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RETPOLINE

	/* Leave no guest value in a register the compiler might spill. */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$24, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmxl_svm_enter)
