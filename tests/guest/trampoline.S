/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The application processors' way in.  A SIPI starts an AP in real mode at
 * vector << 12; smp.c copies ap_trampoline there (SMP_TRAMPOLINE, below
 * 1 MiB).  It turns on PAE, loads the boot page tables (identity map of the
 * first 4 GiB), sets EFER.LME, enables paging and protection in one step and
 * jumps to a 64-bit code segment of its own GDT, which puts the CPU in long
 * mode; ap_start64 then takes the stack smp.c prepared for this CPU and
 * calls ap_main().  One CPU at a time passes here (smp.c starts them in
 * turn), so one stack pointer variable is enough.
 */
#define SMP_TRAMPOLINE 0x8000

	.section .rodata
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_gdtr - ap_trampoline)
	movl %cr4, %eax
	orl $0x20, %eax				/* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx			/* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax			/* PG, PE */
	movl %eax, %cr0
	ljmpl $0x08, $ap_start64
	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00af9a000000ffff		/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff		/* 0x10: data */
ap_gdtr:
	.word ap_gdtr - ap_gdt - 1
	.long SMP_TRAMPOLINE + (ap_gdt - ap_trampoline)
ap_trampoline_end:
	.code64

	.text
ap_start64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq ap_boot_stack(%rip), %rsp
	xorl %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
