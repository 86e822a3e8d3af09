// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The same loops as bench-ops.c, calling a function from C instead of
 * executing a site, compiled three times from this one source:
 *
 *   -DBENCH_DIRECT     direct_<op>: a hand-written direct call of the
 *                      backend the CALL sites call (call be_<op>)
 *   -DBENCH_DIRECT_LIVE
 *                      direct_live_<op>: that direct call in the loops of
 *                      the call-live sites (LIVE_LOOP: every call-clobbered
 *                      register dead around each op), their reference
 *   -DBENCH_DIRECT_PRESERVING
 *                      directp_<op>: the same with the register-preserving
 *                      backend (call bep_<op>)
 *   -DBENCH_INDIRECT   pv_ops style, call *table+off(%rip):
 *                      indirect_<op> through bench_pv_ops (the backends),
 *                      indirect_native_<op> through bench_pv_ops_native
 *                      (native_<op>: the native instruction in a function,
 *                      what a pv_ops kernel calls when it runs native)
 *   -DBENCH_RETPOLINE  the same table calls built as Linux builds them with
 *                      retpolines (-mindirect-branch=thunk-extern
 *                      -mindirect-branch-register): the target is loaded
 *                      into a register and reached through
 *                      __x86_indirect_thunk_<reg> (bench-asm.S):
 *                      retpoline_<op>, retpoline_native_<op>
 */
#include "bench.h"

/* The loops of the ops that have native code, calling C(op), named N(op). */
#define NATIVE_OP_LOOPS(C, N)								\
	LOOP(N(read_tsc), (void)0, { uint32_t lo, hi; C(read_tsc)(&lo, &hi); acc += lo; })	\
	LOOP(N(save_fl), (void)0, { acc += C(save_fl)(); })				\
	LOOP(N(restore_fl), unsigned long fl = __builtin_ia32_readeflags_u64(),		\
	     { C(restore_fl)(fl); })							\
	LOOP(N(sched_yield), uint32_t cpu = (uint32_t)n, { C(sched_yield)(cpu); })	\
	LOOP(N(cpuid), (void)0, { uint32_t a, b, c, d;					\
		C(cpuid)(BENCH_CPUID_LEAF, 0, &a, &b, &c, &d); acc += a; })		\
	LOOP(N(mem_size), (void)0, { acc += C(mem_size)(); })
/* And of those that only run here as calls (privileged instructions). */
#define CALL_ONLY_LOOPS(C, N)								\
	LOOP(N(write_cr3), (void)0, { C(write_cr3)(i); })				\
	LOOP(N(read_cr3), (void)0, { acc += C(read_cr3)(); })

#define BE(op)		be_##op
#define BEP(op)		bep_##op
#define TBL(op)		bench_pv_ops.op
#define TBL_NATIVE(op)	bench_pv_ops_native.op

#if defined(BENCH_DIRECT)
#define NAME(op)	direct_##op
NATIVE_OP_LOOPS(BE, NAME)
CALL_ONLY_LOOPS(BE, NAME)
#elif defined(BENCH_DIRECT_LIVE)
#undef LOOP
#define LOOP		LIVE_LOOP
#define NAME(op)	direct_live_##op
NATIVE_OP_LOOPS(BE, NAME)
CALL_ONLY_LOOPS(BE, NAME)
#elif defined(BENCH_DIRECT_PRESERVING)
#define NAME(op)	directp_##op
NATIVE_OP_LOOPS(BEP, NAME)
CALL_ONLY_LOOPS(BEP, NAME)
#elif defined(BENCH_INDIRECT) || defined(BENCH_RETPOLINE)
#ifdef BENCH_INDIRECT
#define NAME(op)	indirect_##op
#define NAME_NATIVE(op)	indirect_native_##op
#else
#define NAME(op)	retpoline_##op
#define NAME_NATIVE(op)	retpoline_native_##op
#endif
NATIVE_OP_LOOPS(TBL, NAME)
CALL_ONLY_LOOPS(TBL, NAME)
NATIVE_OP_LOOPS(TBL_NATIVE, NAME_NATIVE)
#else
#error "define BENCH_DIRECT, BENCH_DIRECT_PRESERVING, BENCH_INDIRECT or BENCH_RETPOLINE"
#endif
