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

/*
 * Poison probes (test_poison_*): a site, and right after it every general
 * register stored to out[0..15] (out[n]: register n), so a test sees what
 * a poison stub left in each.  Live after the site: rbx (out), r13 (the
 * value returned), rsp and rbp; every other register is dead there (r12,
 * r14 and r15 are restored from the stack before the return).  The tests
 * widen the record's mask by hand; sites in this file do not opt in to the
 * liveness pass.
 */
.macro poison_probe_store_all
	movq %rax, 0(%rbx)
	movq %rcx, 8(%rbx)
	movq %rdx, 16(%rbx)
	movq %rbx, 24(%rbx)
	movq %rsp, 32(%rbx)
	movq %rbp, 40(%rbx)
	movq %rsi, 48(%rbx)
	movq %rdi, 56(%rbx)
	movq %r8, 64(%rbx)
	movq %r9, 72(%rbx)
	movq %r10, 80(%rbx)
	movq %r11, 88(%rbx)
	movq %r12, 96(%rbx)
	movq %r13, 104(%rbx)
	movq %r14, 112(%rbx)
	movq %r15, 120(%rbx)
.endm

	.globl site_poison_yield
site_poison_yield:		/* (uint64_t out[16], uint32_t cpu) -> cpu * 3 + 0x1111 */
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rdi, %rbx
	movl %esi, %r12d
	leaq 0x1111(%r12,%r12,2), %r13
	pv_sched_yield %r12
	poison_probe_store_all
	movq %r13, %rax
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	ret

	.globl site_poison_save_fl
site_poison_save_fl:		/* (uint64_t out[16]) -> 0x2222; the flags in out[8] */
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rdi, %rbx
	movl $0x2222, %r13d
	pv_save_fl %r8
	poison_probe_store_all
	movq %r13, %rax
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	ret

/*
 * Plain backends whose write sets are known exactly (they are written
 * here, not compiled), and probe sites that keep every caller-saved
 * register live across the site: each register n holds 0x1000 + n before
 * it, and all sixteen are stored to out[0..15] right after it
 * (test_call_known_writes_*).  Nothing here opts in to the liveness pass:
 * the records keep their declared masks.
 */
	.globl abe_write_cr3_r10
abe_write_cr3_r10:		/* (unsigned long val): writes r10 only */
	movq %rdi, abe_seen(%rip)
	movl $0xbad0, %r10d
	ret

	.globl abe_save_fl_rax
abe_save_fl_rax:		/* (void) -> 0x1246: writes rax only */
	movl $0x1246, %eax
	ret

.macro probe_fill_caller_saved
	movl $0x1000, %eax
	movl $0x1001, %ecx
	movl $0x1002, %edx
	movl $0x1006, %esi
	movl $0x1007, %edi
	movl $0x1008, %r8d
	movl $0x1009, %r9d
	movl $0x100a, %r10d
	movl $0x100b, %r11d
.endm

	.globl site_probe_write_cr3
site_probe_write_cr3:		/* (uint64_t out[16], unsigned long val) */
	pushq %rbx
	pushq %r12
	movq %rdi, %rbx
	movq %rsi, %r12
	probe_fill_caller_saved
	pv_write_cr3 %r12
	poison_probe_store_all
	popq %r12
	popq %rbx
	ret

	.globl site_probe_save_fl
site_probe_save_fl:		/* (uint64_t out[16]): the result in out[0] (rax) */
	pushq %rbx
	movq %rdi, %rbx
	probe_fill_caller_saved
	pv_save_fl %rax
	poison_probe_store_all
	popq %rbx
	ret

	.data
	.globl abe_seen
abe_seen:
	.quad 0
	.text

	.section .note.GNU-stack, "", @progbits
