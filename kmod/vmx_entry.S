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

#include "entry_regs.inc"

#define VMCS_HOST_RSP	0x00006c14

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
	LOAD_GUEST_GPRS %rax
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
	SAVE_GUEST_GPRS %rax
	xor	%eax, %eax

.Lout:
	/* The guest may have trained the return stack: refill it. */
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RETPOLINE

	CLEAR_GUEST_SCRATCH

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
