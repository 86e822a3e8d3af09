/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Functions with known live sets after their one site, for the liveness
 * pass (tests/tools/test_liveness.py names what each must give).  The file
 * opts in, so its sites are analysed like a C caller's.  Never executed.
 *
 * Most functions first call lv_helper, which writes every caller-saved
 * register: under -fipa-ra a direct caller may keep in a caller-saved
 * register whatever its callee does not clobber, so (were they called
 * directly) only then would the caller-saved registers be free at their
 * exits. */
#include <asm/pvops-gen.inc>

	pvpatch_liveness_opt_in

	.text
.macro func name
	.globl \name
	.type \name, @function
\name:
.endm
.macro endf name
	.size \name, . - \name
.endm

/* Writes every caller-saved register. */
func lv_helper
	xor %eax, %eax
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	ret
endf lv_helper

/* Writes only rax. */
func lv_small
	xor %eax, %eax
	ret
endf lv_small

/* Straight line: rbx read, rax and rcx written before any read. */
func lv_straight
	call lv_helper
	pv_read_cr3 %rbx
	mov %rbx, %rax
	mov $1, %ecx
	add %rcx, %rax
	ret
endf lv_straight

/* Branches: rsi live on one path only. */
func lv_branch
	call lv_helper
	pv_read_cr3 %rbx
	test %rbx, %rbx
	jz 1f
	mov %rsi, %rax
	ret
1:	xor %eax, %eax
	ret
endf lv_branch

/* A site in a loop: r9 and rax are read at the top of the next iteration,
 * rdi by the loop test. */
func lv_loop
	call lv_helper
1:	add %r9, %rax
	pv_read_cr3 %rbx
	dec %rdi
	jnz 1b
	ret
endf lv_loop

/* A call in between: it reads the argument registers and rax and
 * overwrites every caller-saved register, so r10 and r11, read only after
 * it, are dead at the site; rdi is written before the call. */
func lv_call
	pv_read_cr3 %rbx
	mov %rbx, %rdi
	call lv_helper
	add %r11, %rax
	add %r10, %rax
	ret
endf lv_call

/* -fipa-ra: lv_small clobbers only rax, so r10 survives the call and is
 * live at the site. */
func lv_ipa
	call lv_helper
	pv_read_cr3 %rbx
	call lv_small
	mov %r10, %rax
	ret
endf lv_ipa

/* Tail call: argument registers, rax and callee-saved live. */
func lv_tail
	call lv_helper
	pv_read_cr3 %rbx
	jmp lv_helper
endf lv_tail

/* Unresolvable indirect jump: everything live. */
func lv_indirect
	call lv_helper
	pv_read_cr3 %rbx
	jmp *%rbx
endf lv_indirect

/* ret: rax, rdx and callee-saved live. */
func lv_ret
	call lv_helper
	pv_read_cr3 %rbx
	ret
endf lv_ret

/* A leaf that clobbers only its output and is called directly: its callers
 * may keep every caller-saved register across the call (-fipa-ra), so at
 * its ret they are all live and nothing is widened. */
func lv_leaf
	pv_read_cr3 %rbx
	ret
endf lv_leaf

func lv_leaf_caller
	call lv_leaf
	ret
endf lv_leaf_caller

/* The same leaf reached only through a pointer: the ABI's clobbers. */
func lv_leaf_unref
	pv_read_cr3 %rbx
	ret
endf lv_leaf_unref

/* Another site after this one reads its argument (rcx) and declares
 * nothing; the one after it writes rdx (pv_read_cr3 %rdx). */
func lv_sites
	call lv_helper
	pv_read_cr3 %rbx
	pv_write_cr3 %rcx
	pv_read_cr3 %rdx
	ret
endf lv_sites

/* Instructions with implicit register operands, one per function, after
 * the site: what they read must be live, what they write (whole) dead. */
.macro implicit name, insn, insn2
func lv_i_\name
	call lv_helper
	pv_read_cr3 %rbx
	\insn
	\insn2
	ret
endf lv_i_\name
.endm
	implicit cpuid, cpuid
	implicit rdmsr, rdmsr
	implicit wrmsr, wrmsr
	implicit div, "divq %r8"
	implicit mul, "mulq %r9"
	implicit repmovs, "rep movsb"
	implicit cmpxchg, "cmpxchg %r10, (%r11)"
	implicit push, "push %r10", "pop %r11"
	implicit syscall, syscall
	implicit enter, "enter $16, $0"
	implicit xlat, xlat
	implicit vmcall, vmcall
	implicit ud2, ud2
	implicit shift, "shl %cl, %r8"
	implicit partial, "mov %al, %r9b", "mov %r9, %rax"
	implicit zext, "mov $0, %r8d", "mov %r8, %rax"
	implicit zeroing, "xor %r8d, %r8d", "sbb %r9, %r9"

/* A jump to GCC's cold partition of the function: its body goes on there
 * with any register (everything live), though the target is a symbol. */
func lv_cold
	call lv_helper
	pv_read_cr3 %rbx
	test %rbx, %rbx
	jz lv_cold.cold
	ret
endf lv_cold

	.type lv_cold.cold, @function
lv_cold.cold:
	mov %r10, %rax
	jmp lv_helper
	.size lv_cold.cold, . - lv_cold.cold

/* What the pass cannot analyse: a warning each, the record left as
 * declared.  No size: the function cannot be delimited. */
	.globl lv_nosize
	.type lv_nosize, @function
lv_nosize:
	call lv_helper
	pv_read_cr3 %rbx
	ret

/* A jump into the middle of an instruction. */
func lv_midjump
	call lv_helper
	pv_read_cr3 %rbx
	jmp 2f + 1
2:	mov $1, %eax
	ret
endf lv_midjump
