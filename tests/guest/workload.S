/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * Sites written by an assembler caller, as a kernel's entry code has them:
 * the pv_<op> macros of asm/pvops-gen.inc with hand-picked registers.
 * workload_asm() runs only ops that are safe on every profile and returns
 * a checksum of what they read.
 */
#include <asm/pvops-gen.inc>

	.text
	.globl workload_asm
	.type workload_asm, @function
workload_asm:
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pv_save_fl %r12
	pv_irq_disable
	pv_read_cr3 %rbx
	pv_read_cr3 %r13
	pv_read_cr0 %r14
	pv_read_cr4 %r15
	pv_read_cr2 %rsi
	pv_read_cr8 %rdi
	pv_read_tsc
	pv_cpuid
	pv_restore_fl %r12
	movq %rbx, %rax
	xorq %r13, %rax
	addq %r14, %rax
	addq %r15, %rax
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	ret
	.size workload_asm, . - workload_asm

/* An entry path that is never run: more registers, every kind of operand. */
	.globl workload_asm_paths
	.type workload_asm_paths, @function
workload_asm_paths:
	pv_write_cr3 %rbx
	pv_write_cr3 %r9
	pv_flush_tlb_one %r13
	pv_flush_tlb_one %rdi
	pv_set_pte %r12, %r9
	pv_set_pte %rdi, %rsi
	pv_flush_tlb_local %rcx
	pv_send_ipi %r10, %r11d, %r8d
	pv_apic_eoi %r15
	pv_kick_cpu %rdx, %ecx
	pv_sched_yield %esi
	pv_wrmsr
	pv_rdmsr
	pv_io_delay
	pv_io_delay
	pv_wbinvd
	pv_clts
	pv_write_cr0 %rax
	pv_write_cr4 %r8
	pv_write_cr8 %r11
	pv_load_idt %rax
	pv_load_gdt %rbx
	pv_safe_halt
	pv_halt
	pv_irq_enable
	ret
	.size workload_asm_paths, . - workload_asm_paths

	.section .note.GNU-stack, "", @progbits
