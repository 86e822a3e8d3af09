/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * examples/minimal: multiboot entry (32-bit), identity paging of the first
 * 4 GiB with 2 MiB pages, long mode; the application processors' real-mode
 * trampoline (copied to 0x8000, SIPI vector 0x08) straight to long mode; the
 * exception stubs.  One pvpatch site written in assembler (ap_entry64).
 */
#include <asm/pvops-gen.inc>

/* The AP's first 64-bit instructions (the trampoline jumps here). */
	.text
	.globl ap_entry64
ap_entry64:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov ap_stack_top(%rip), %rsp
	pv_read_cr3 %rbx			/* a site from assembler */
	mov %rbx, ap_cr3_asm(%rip)
	call ap_main
4:	cli
	hlt
	jmp 4b

/* Exceptions 0-31: push the vector, then exception_report(frame). */
	.globl exception_stubs
exception_stubs:
	vec = 0
	.rept 32
	.balign 16
	push $vec
	jmp exception_common
	vec = vec + 1
	.endr
exception_common:
	mov %rsp, %rdi
	and $-16, %rsp
	call exception_report
5:	cli
	hlt
	jmp 5b

	.section .multiboot, "a"
	.balign 4
	.long 0x1BADB002, 0, -0x1BADB002	/* magic, flags (ELF layout), checksum */

	.section .boot, "ax"
	.code32
	.globl _start
_start:
	cli
	mov %ebx, mb_info
	mov $boot_stack_top, %esp
	/* PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories; 2048 x 2 MiB pages */
	mov $pdpt + 3, %eax
	mov %eax, pml4
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	add $pds + 3, %eax
	mov %eax, pdpt(,%ecx,8)
	inc %ecx
	cmp $4, %ecx
	jne 1b
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax				/* present, writable, 2 MiB */
	mov %eax, pds(,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jne 2b
	lgdt gdt_desc
	mov %cr4, %eax
	or $0x20, %eax				/* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xC0000080, %ecx			/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax			/* PG, PE */
	mov %eax, %cr0
	ljmp $0x08, $1f
	.code64
1:	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $boot_stack_top, %rsp
	call kmain
3:	cli
	hlt
	jmp 3b

/* Real mode at 0x8000 (CS = 0x0800) -> long mode, no protected-mode step. */
	.section .rodata.trampoline, "a"
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (tramp_gdt_desc - trampoline_start)
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	movl $pml4, %eax
	mov %eax, %cr3
	mov $0xC0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	ljmpl $0x08, $ap_entry64
	.balign 8
tramp_gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
trampoline_end:
	.code64		/* GNU as sizes the pv_ macros' NOPs in the mode the file ends in */

	.section .rodata
	.balign 8
gdt:	.quad 0
	.quad 0x00209A0000000000		/* 0x08: 64-bit code */
	.quad 0x0000920000000000		/* 0x10: data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.balign 4096
	.globl pml4
pml4:	.skip 4096
pdpt:	.skip 4096
pds:	.skip 4 * 4096
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
