// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The op loops, compiled twice from this one source:
 *
 *   -DBENCH_FW with the framework headers: fw_<mode>_<op>(), whose
 *     pv_<op>() are padded sites with records; the harness patches every
 *     site of fw_<mode>_<op> to <mode>; with -DBENCH_PRESERVING instead
 *     fwp_call_<op>(), whose sites it patches to CALL the register-preserving
 *     backends, with -DBENCH_CALL_LIVE fwl_call_<op>() (below), with
 *     -DBENCH_OPAQUE fwo_call_<op>() (below);
 *   without, against the framework-free headers: ref_<op>(), the same loops
 *     with plain native instructions (and ref2_<op>(), a copy: the A/A
 *     control), and the hand-written inline code that INLINE templates are
 *     compared with.
 *
 * Built with -fno-ipa-icf: the fw_ copies of one loop are identical and must
 * stay separate functions.
 */
#include <asm/pvops-gen.h>
#include "bench.h"

/* The bodies: one op each, results folded into acc. */
#define SETUP_read_tsc		(void)0
#define BODY_read_tsc		{ uint32_t lo, hi; pv_read_tsc(&lo, &hi); acc += lo; }
#define SETUP_save_fl		(void)0
#define BODY_save_fl		{ acc += pv_save_fl(); }
#define SETUP_restore_fl	unsigned long fl = __builtin_ia32_readeflags_u64()
#define BODY_restore_fl		{ pv_restore_fl(fl); }
#define SETUP_sched_yield	uint32_t cpu = (uint32_t)n
#define BODY_sched_yield	{ pv_sched_yield(cpu); }
#define SETUP_cpuid		(void)0
#define BODY_cpuid		{ uint32_t a, b, c, d;				\
				  pv_cpuid(BENCH_CPUID_LEAF, 0, &a, &b, &c, &d);	\
				  acc += a; }
#define SETUP_write_cr3		(void)0
#define BODY_write_cr3		{ pv_write_cr3(i); }
#define SETUP_read_cr3		(void)0
#define BODY_read_cr3		{ acc += pv_read_cr3(); }
#define SETUP_mem_size		(void)0
#define BODY_mem_size		{ acc += pv_mem_size(); }

#if defined(BENCH_FW) && defined(BENCH_CALL_LIVE)
/*
 * call-live: the same sites with every call-clobbered register dead after
 * them.  Each op sits between two statements that clobber those registers,
 * so nothing the loop keeps lives in them across the site; only the site's
 * result is read before the next clobber (LIVE_LOOP, bench.h, which
 * direct_live_<op> in bench-calls.c shares).  Their records are a
 * range of their own (bench.lds); the build's liveness pass
 * ($(PVPATCH_LIVENESS) in mk/bench.mk) widens their masks and the harness
 * checks that it widened every one by all of them, then patches them to
 * CALL the plain backends.
 */
#define FWL_LOOP(op)		LIVE_LOOP(fwl_call_##op, SETUP_##op, BODY_##op)
BENCH_CALL_OPS(FWL_LOOP)
#elif defined(BENCH_FW) && defined(BENCH_OPAQUE)
/*
 * CALL-opaque: the same loops as fw_call_<op>, patched to CALL the same
 * plain backends as if the liveness pass had not analysed them (policy
 * .writes 0: every caller-saved register written), what a plain backend
 * the pass cannot see through costs: the register-saving thunk.
 */
#define FWO_LOOP(op)		LOOP(fwo_call_##op, SETUP_##op, BODY_##op)
BENCH_CALL_OPS(FWO_LOOP)
#elif defined(BENCH_FW) && defined(BENCH_PRESERVING)
#define FWP_LOOP(op)		LOOP(fwp_call_##op, SETUP_##op, BODY_##op)
BENCH_CALL_OPS(FWP_LOOP)
#elif defined(BENCH_FW)
#define FW_LOOP(op, mode)	LOOP(fw_##mode##_##op, SETUP_##op, BODY_##op)
BENCH_FW_LOOPS(FW_LOOP)
#else
#define REF_LOOP(op)		LOOP(ref_##op, SETUP_##op, BODY_##op)
BENCH_REF_OPS(REF_LOOP)

/* A second copy of each: the A/A control, whose ratio to the first shows
 * what noise and code placement alone do to a ratio in this run. */
#define REF2_LOOP(op)		LOOP(ref2_##op, SETUP_##op, BODY_##op)
BENCH_REF_OPS(REF2_LOOP)

/*
 * The framework-free loops once more with the padding instruction a NATIVE
 * site executes after each op (BENCH_PADS): one NOP, or none where the site
 * is exactly the native code (never a JMP: sites are at most 11 bytes longer
 * than their native code).  Against the framework-free loop this is the cost
 * of the one padding instruction the design allows a NATIVE site.
 */
#define PAD_nop			asm volatile(".nops 6")
#define PAD_none		(void)0
#define REFPAD_LOOP(op, pad)	LOOP(refpad_##op, SETUP_##op, BODY_##op PAD_##pad;)
BENCH_PADS(REFPAD_LOOP)

/* What the INLINE save_fl template (movi ret, imm) is: a constant load. */
LOOP(hand_inline_save_fl, (void)0,
     { unsigned long v; asm volatile("mov %1, %k0" : "=r" (v) : "i" (INLINE_SAVE_FL_VAL));
       acc += v; })

/* The timing overhead: the same loop without an op. */
LOOP(bench_empty, (void)0, { asm volatile("" : : : "memory"); })
#endif
