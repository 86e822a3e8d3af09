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
	pv_restore_fl %r12
	pv_irq_enable
	ret
	.size asm_sites, . - asm_sites

	.section .note.GNU-stack, "", @progbits
