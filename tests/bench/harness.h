/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * What the benchmark harness's files (bench.c, bench-throughput.c) share:
 * options, error reporting, statistics, the backends' policy, and the
 * throughput phases and their results.
 */
#ifndef PVPATCH_BENCH_HARNESS_H
#define PVPATCH_BENCH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <asm/pvpatch.h>

/* Five thunk areas, one per struct pvpatch, within rel32 of a -no-pie text. */
#define BENCH_THUNKS	((uint8_t *)0x30000000ul)
#define BENCHP_THUNKS	((uint8_t *)0x30010000ul)
#define MASS_THUNKS	((uint8_t *)0x30020000ul)
#define BENCHL_THUNKS	((uint8_t *)0x30030000ul)
#define BENCHO_THUNKS	((uint8_t *)0x30040000ul)
#define THUNK_SIZE	0x10000ul
#define NR_THUNK_AREAS	5

struct bench_opt {
	bool json, quick;
	unsigned int batches, runs;
	int cpu;
	unsigned int stack_align;	/* struct pvpatch.stack_align of every descriptor */
};
extern struct bench_opt opt;

void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* counted, exit 1 */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));	/* exit 2 */
int cmp_double(const void *a, const void *b);
double quantile(const double *sorted, unsigned int n, double q);
uint64_t now_ns(void);

/* The plain backends and templates every op of the benchmark uses. */
void set_backends(struct pvpatch_policy *pol);
/* The text poke of every descriptor here: a plain copy (the patcher's default
 * executes cli/sti, which user mode may not). */
void bench_poke(void *addr, const void *src, size_t len, void *arg);

/* --- throughput (bench-throughput.c) --- */
enum { PH_CHECK, PH_FIRST, PH_REAPPLY, PH_REAPPLY_BACK, PH_REVERT, NPHASES };
extern const char *const phase_name[NPHASES];
extern const char *const phase_doc[NPHASES];

/* Wall time (CLOCK_MONOTONIC_RAW) and this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: excludes time other tasks of a shared machine
 * ran on this CPU; boot-time patching is never preempted).  The bar is
 * judged on the CPU time; runs during which the thread was switched out
 * are counted. */
struct phase {
	double *ms, *cpu_ms;
	double med, min, max, cpu_med, cpu_min, cpu_max;
	unsigned int preempted;		/* runs with a context switch inside */
	struct pvpatch_report rep;	/* of the last run */
};

struct throughput {
	unsigned int sites;
	struct phase ph[NPHASES];
	unsigned int expect_modes[2][PVPATCH_NR_MODES];	/* after A, after B */
};
extern struct throughput tp;

void throughput(void);

#endif
