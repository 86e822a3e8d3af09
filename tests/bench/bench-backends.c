// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The CALL sites' backends: trivial, with the C signatures of pv_<op>(),
 * compiled twice from this one source:
 *
 *   plain         be_<op>: ordinary C functions, registered as an adopter
 *                 registers them (PVPATCH_REGISTER_C_BACKEND): the liveness
 *                 pass records in each record what the function may write,
 *                 and a CALL site whose live registers miss that calls it
 *                 directly (else through a thunk saving what it writes)
 *   -DBENCH_PRESERVING (with -mgeneral-regs-only)
 *                 bep_<op>: register-preserving (PVPATCH_BACKEND), what an
 *                 adopting kernel writes: CALL sites call them directly or
 *                 through a thunk that saves only what the call sequence
 *                 writes
 */
#include <asm/pvpatch-boot.h>

#include "bench.h"

#ifdef BENCH_PRESERVING
#define BE(op)		bep_##op
#define ATTR		BENCH_PBACKEND
#else
#define BE(op)		be_##op
#define ATTR		BENCH_NOINLINE
#endif

ATTR void BE(read_tsc)(uint32_t *lo, uint32_t *hi)
{
	uint32_t a, d;

	asm volatile("rdtsc" : "=a" (a), "=d" (d));
	*lo = a;
	*hi = d;
	be_stored = a | 1;
}

ATTR unsigned long BE(save_fl)(void)
{
	return BE_SAVE_FL_VAL;
}

ATTR void BE(restore_fl)(unsigned long flags)
{
	be_stored = flags;
}

ATTR void BE(sched_yield)(uint32_t cpu)
{
	be_stored = cpu;
}

ATTR void BE(cpuid)(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c,
		    uint32_t *d)
{
	uint32_t ra, rb, rc, rd;

	asm volatile("cpuid" : "=a" (ra), "=b" (rb), "=c" (rc), "=d" (rd)
			     : "a" (leaf), "c" (subleaf));
	*a = ra;
	*b = rb;
	*c = rc;
	*d = rd;
	be_stored = 0xc0de0000ul | leaf;
}

ATTR void BE(write_cr3)(unsigned long val)
{
	be_stored = val;
}

ATTR unsigned long BE(read_cr3)(void)
{
	return be_cr3;
}

ATTR uint64_t BE(mem_size)(void)
{
	return BE_MEM_SIZE_VAL;
}

#ifndef BENCH_PRESERVING
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_TSC, be_read_tsc);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_SAVE_FL, be_save_fl);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_RESTORE_FL, be_restore_fl);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_SCHED_YIELD, be_sched_yield);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_CPUID, be_cpuid);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_WRITE_CR3, be_write_cr3);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_READ_CR3, be_read_cr3);
PVPATCH_REGISTER_C_BACKEND(PVPATCH_OP_MEM_SIZE, be_mem_size);
#endif
