// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * linux_callee_save_<op>: the loops of bench-calls.c as Linux (v6.8 and
 * later) patches a paravirt call site: `call lcs_<op>`, a callee-save thunk
 * (bench-asm.S, PV_CALLEE_SAVE_REGS_THUNK) around the plain backend
 * be_<op>.  As Linux's PVOP_CALLEE* macros write the site, the arguments
 * are in the SysV registers and the asm statement clobbers only rax (the
 * result): the thunk keeps every other register.
 */
#include "bench.h"

#define CALLEE_CLOBBERS		"memory", "cc"

LOOP(linux_callee_save_read_tsc, (void)0, {
	uint32_t lo, hi;
	asm volatile("call lcs_read_tsc" : : "D" (&lo), "S" (&hi) : "rax", CALLEE_CLOBBERS);
	acc += lo; })
LOOP(linux_callee_save_save_fl, (void)0, {
	unsigned long f;
	asm volatile("call lcs_save_fl" : "=a" (f) : : CALLEE_CLOBBERS);
	acc += f; })
LOOP(linux_callee_save_restore_fl, unsigned long fl = __builtin_ia32_readeflags_u64(), {
	asm volatile("call lcs_restore_fl" : : "D" (fl) : "rax", CALLEE_CLOBBERS); })
LOOP(linux_callee_save_sched_yield, uint32_t cpu = (uint32_t)n, {
	asm volatile("call lcs_sched_yield" : : "D" (cpu) : "rax", CALLEE_CLOBBERS); })
LOOP(linux_callee_save_cpuid, (void)0, {
	uint32_t a, b, c, d;
	register uint32_t *pc asm("r8") = &c;
	register uint32_t *pd asm("r9") = &d;
	asm volatile("call lcs_cpuid" : : "D" (BENCH_CPUID_LEAF), "S" (0), "d" (&a), "c" (&b),
		     "r" (pc), "r" (pd) : "rax", CALLEE_CLOBBERS);
	acc += a; })
LOOP(linux_callee_save_write_cr3, (void)0, {
	asm volatile("call lcs_write_cr3" : : "D" (i) : "rax", CALLEE_CLOBBERS); })
LOOP(linux_callee_save_read_cr3, (void)0, {
	unsigned long v;
	asm volatile("call lcs_read_cr3" : "=a" (v) : : CALLEE_CLOBBERS);
	acc += v; })
LOOP(linux_callee_save_mem_size, (void)0, {
	uint64_t v;
	asm volatile("call lcs_mem_size" : "=a" (v) : : CALLEE_CLOBBERS);
	acc += v; })
