/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMX world switch.
 *
 * VM entry loads the guest's RSP, RIP, RFLAGS, control registers and
 * segments from the VMCS; VM exit loads the host's from its host-state
 * area, with RSP and RIP pointing back into this file. The fourteen other
 * GPRs are ours to switch, here. Called with interrupts off.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>
#include <asm/segment.h>
#include <asm/unwind_hints.h>

#define VMCS_HOST_RSP	0x00006c14

/* Offsets into u64 regs[16], x86 encoding order (RSP lives in the VMCS). */
#define R_RAX	(0 * 8)
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
 * int vmxl_vmx_enter(u64 *regs, bool launched)
 * Returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME itself failed (the
 * VM-instruction error field says why).
 */
SYM_FUNC_START(vmxl_vmx_enter)
	push	%rbp
	mov	%rsp, %rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdi			/* 0(%rsp) at VM exit: regs */

	/* A VM exit lands in vmxl_vmx_exit with exactly this stack. */
	mov	$VMCS_HOST_RSP, %eax
	vmwrite	%rsp, %rax

	test	%sil, %sil		/* ZF survives the loads below */
	mov	%rdi, %rax
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
	mov	R_RAX(%rax), %rax

	UNWIND_HINT_SAVE
	jnz	1f
	vmlaunch
	jmp	.Lvmfail
1:	vmresume
.Lvmfail:
	/* VMfail: nothing of the guest ran; say so. */
	mov	$1, %eax
	jmp	.Lout

SYM_INNER_LABEL(vmxl_vmx_exit, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	push	%rax
	mov	8(%rsp), %rax		/* regs */
	pop	R_RAX(%rax)
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
	xor	%eax, %eax

.Lout:
	/* The guest may have trained the return stack: refill it. */
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RETPOLINE

	/* Leave no guest value in a register the compiler might spill. */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$8, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vmxl_vmx_enter)

/*
 * void vmxl_vmx_do_nmi(void)
 * A host NMI that caused a VM exit was consumed by it: run the kernel's
 * NMI handler now, through an interrupt frame it can IRET from.
 */
SYM_FUNC_START(vmxl_vmx_do_nmi)
	push	%rbp
	mov	%rsp, %rbp
	and	$-16, %rsp
	push	$__KERNEL_DS
	push	%rbp
	pushf
	push	$__KERNEL_CS
	call	asm_exc_nmi_noist
	leave
	RET
SYM_FUNC_END(vmxl_vmx_do_nmi)
