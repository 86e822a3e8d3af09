/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Call sites from an assembler caller: the pv_<op> macros of
 * asm/pvops-gen.inc, with registers written by hand.  Never executed. */
#include <asm/pvops-gen.inc>

	.text
	.globl asm_sites
	.type asm_sites, @function
asm_sites:
	pv_irq_disable
	pv_save_fl %r12
	pv_read_cr3 %rbx
	pv_write_cr3 %r15
	pv_flush_tlb_one %r13
	pv_set_pte %r12, %r9
	pv_send_ipi %r10, %r11d, %r8d
	pv_cpuid
	pv_wrmsr
	pv_io_delay
	pv_flush_tlb_local %rsi
	pv_inb
	pv_outw
	pv_insl
	pv_outsb
	pv_load_tr %r9w
	pv_store_tr %eax
	pv_load_ldt %bx
	pv_load_gs_index %r10d
	pv_swapgs
	pv_write_gs_base
	pv_write_kernel_gs_base
	pv_read_dr7 %r11
	pv_write_dr6 %rdi
	pv_write_cr2 %r14
	pv_flush_tlb_global %r8
	pv_vcpu_is_preempted %eax, %ecx
	pv_steal_clock %r15, %esi
	pv_restore_fl %r12
	pv_irq_enable
	ret
	.size asm_sites, . - asm_sites

	.section .note.GNU-stack, "", @progbits
