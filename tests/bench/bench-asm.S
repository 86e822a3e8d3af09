/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Retpoline thunks, as Linux's arch/x86/lib/retpoline.S builds them (the
 * plain retpoline form, one 32-byte aligned thunk per register): GCC's
 * -mindirect-branch=thunk-extern -mindirect-branch-register turns an
 * indirect call into `call __x86_indirect_thunk_<reg>` with the target in
 * <reg>.  The call pushes a return address the RSB predicts into the
 * speculation trap; the real target overwrites it and `ret` goes there.
 */
	.text

.macro RETPOLINE_THUNK reg
	.globl __x86_indirect_thunk_\reg
	.type __x86_indirect_thunk_\reg, @function
	.balign 32
__x86_indirect_thunk_\reg:
	call .Ldo_rop_\@
.Lspec_trap_\@:
	pause
	lfence
	jmp .Lspec_trap_\@
.Ldo_rop_\@:
	mov %\reg, (%rsp)
	ret
	.size __x86_indirect_thunk_\reg, . - __x86_indirect_thunk_\reg
.endm

	.irp reg, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
	RETPOLINE_THUNK \reg
	.endr

	.section .note.GNU-stack, "", @progbits
