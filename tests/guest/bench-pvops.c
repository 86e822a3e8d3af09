// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The pv_ops way of doing the same ops: an indirect call through a table
 * of function pointers, `call *pv_ops+N(%rip)`.  Built twice: plain, and
 * with -mindirect-branch=thunk-extern, the retpoline form a kernel with
 * Spectre v2 mitigations uses (bench_ret_*).
 */
#include "bench.h"

#ifdef BENCH_RETPOLINE
#define P(x) bench_ret_##x
#else
#define P(x) bench_ind_##x
#endif

#define IND(x) __attribute__((noinline)) void P(x)(void) { pv_ops.x(); }
BENCH_OPS(IND)
