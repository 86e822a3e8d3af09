/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Sites whose operands are in %rbp, which C code rarely gets at -O2 but
 * may: CALL thunks must not use %rbp themselves. */
#include <asm/pvops-gen.inc>

	.text
	.globl site_write_cr3_rbp
site_write_cr3_rbp:		/* (unsigned long val) */
	pushq %rbp
	movq %rdi, %rbp
	pv_write_cr3 %rbp
	popq %rbp
	ret

	.globl site_read_cr3_rbp
site_read_cr3_rbp:		/* (void) -> unsigned long */
	pushq %rbp
	xorl %ebp, %ebp
	pv_read_cr3 %rbp
	movq %rbp, %rax
	popq %rbp
	ret

/* Sites after which every call-clobbered register is dead (only ret
 * follows, and the result in rax): the tests widen their records' masks by
 * hand, as the liveness pass would, and expect a direct call in the site. */
	.globl site_write_cr3_dead
site_write_cr3_dead:		/* (unsigned long val) */
	movq %rdi, %rsi
	pv_write_cr3 %rsi
	ret

	.globl site_save_fl_dead
site_save_fl_dead:		/* (void) -> unsigned long */
	pv_save_fl %r8
	movq %r8, %rax
	ret

	.section .note.GNU-stack, "", @progbits
