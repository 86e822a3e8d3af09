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

/*
 * Linux's PV_CALLEE_SAVE_REGS_THUNK (arch/x86/include/asm/paravirt.h, v6.8
 * and later the target of a paravirt call site's alternative): a direct
 * call from the site to a thunk that saves and restores every caller-saved
 * register but rax around the C backend, so that the site's asm statement
 * clobbers only rax.  lcs_<op> wraps be_<op>; the linux_callee_save_<op>
 * loops (bench-lcs.c) call it.  (Linux adds a frame with
 * CONFIG_FRAME_POINTER; this is the form without.)
 */
.macro CALLEE_SAVE_THUNK op
	.globl lcs_\op
	.type lcs_\op, @function
	.balign 16
lcs_\op:
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	call be_\op
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	ret
	.size lcs_\op, . - lcs_\op
.endm

	.irp op, read_tsc, save_fl, restore_fl, sched_yield, cpuid, write_cr3, read_cr3, mem_size
	CALLEE_SAVE_THUNK \op
	.endr

	.section .note.GNU-stack, "", @progbits
