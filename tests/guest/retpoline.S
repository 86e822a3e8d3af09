/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* The retpoline thunk GCC's -mindirect-branch=thunk-extern calls (the
 * benchmark's pv_ops calls go through %rax), as Linux defines it. */
	.text
	.globl __x86_indirect_thunk_rax
__x86_indirect_thunk_rax:
	call 1f
2:	pause
	lfence
	jmp 2b
1:	movq %rax, (%rsp)
	ret

	.section .note.GNU-stack, "", @progbits
