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

#include "entry_regs.inc"

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
	LOAD_GUEST_GPRS %rax

	mov	8(%rsp), %rax
	vmload	%rax
	vmrun	%rax
	vmsave	%rax			/* #VMEXIT gave RAX back: vmcb_pa */

	mov	16(%rsp), %rax
	SAVE_GUEST_GPRS %rax

	mov	0(%rsp), %rax
	vmload	%rax			/* host GS base is back: percpu works */

	/* The guest may have trained the return stack: refill it. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RETPOLINE

	CLEAR_GUEST_SCRATCH

	add	$24, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmxl_svm_enter)
