/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * 100,000 sites for the patching throughput measurement, written with the
 * pv_<op> macros of asm/pvops-gen.inc as any assembler caller writes them:
 * five ops, each in 20 register choices (every general register but %rsp,
 * five of them twice), 1,000 times over: 5 x 20 x 1000 = 100,000 records.
 * Never executed: the harness only patches them (which matters: the CALL
 * thunks the patcher builds today for operands in %rbp are wrong, see
 * mk/bench.mk).  bench.lds keeps their
 * records apart from the benchmark loops' (this object's name is in it).
 */
#include <asm/pvops-gen.inc>

	.text
	.globl bench_mass_sites
	.type bench_mass_sites, @function
bench_mass_sites:
	.rept 1000
	.irp r, %rax, %rcx, %rdx, %rbx, %rbp, %rsi, %rdi, %r8, %r9, %r10, %r11, %r12, %r13, %r14, \
		%r15, %rax, %rbx, %rsi, %r9, %r12
	pv_save_fl \r
	pv_restore_fl \r
	pv_read_cr3 \r
	pv_write_cr3 \r
	pv_sched_yield \r
	.endr
	.endr
	ud2
	.size bench_mass_sites, . - bench_mass_sites

	.section .note.GNU-stack, "", @progbits
