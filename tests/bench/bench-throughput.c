// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The benchmark's patching throughput: the 100,000 sites of bench-mass.S
 * (bench.lds gives their records their own bounds) patched again and again
 * through one struct pvpatch: first apply with an all-NATIVE policy (record
 * checks and saving only), first apply with policy A, re-apply B, back to A,
 * revert; every phase timed in thread CPU time and wall time, and checked
 * against the modes the policies ask for.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <asm/pvpatch.h>
#include "harness.h"

extern const struct pvpatch_site __mass_sites_start[], __mass_sites_end[];
extern char __executable_start[], etext[];

const char *const phase_name[NPHASES] = {
	"check_only", "first_apply", "reapply", "reapply_back", "revert" };
const char *const phase_doc[NPHASES] = {
	"first apply, all-NATIVE policy (record checks + saving, nothing written)",
	"first apply, policy A (record checks + saving + patching)",
	"re-apply, policy B (A -> B)",
	"re-apply, policy A (B -> A)",
	"revert (A -> all native)",
};

struct throughput tp;

static struct pvpatch mass_pv;
static struct pvpatch_site_state *mass_state;
static uint8_t *mass_saved;
static size_t mass_saved_size;
static struct pvpatch_thunk_slot *mass_index;	/* PVPATCH_THUNK_SLOTS(sites), as a kernel's */
static size_t mass_slots;

static void mass_policies(struct pvpatch_policy *a, struct pvpatch_policy *b)
{
	memset(a, 0, sizeof(*a));
	set_backends(a);
	/* The backends as if the liveness pass had not analysed them: their CALL
	 * sites then need thunks, the costlier work this bar has always timed
	 * (analysed, they would call the backends directly, no thunk at all). */
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		a->op[op].writes = 0;
	*b = *a;
	/* A: what a hypervisor with PV features might ask for. */
	a->op[PVPATCH_OP_SAVE_FL].mode = PVPATCH_MODE_INLINE;
	a->op[PVPATCH_OP_RESTORE_FL].mode = PVPATCH_MODE_CALL;
	a->op[PVPATCH_OP_READ_CR3].mode = PVPATCH_MODE_CALL;
	a->op[PVPATCH_OP_WRITE_CR3].mode = PVPATCH_MODE_CALL;
	a->op[PVPATCH_OP_SCHED_YIELD].mode = PVPATCH_MODE_NOP;
	/* B: every site different from A. */
	b->op[PVPATCH_OP_SAVE_FL].mode = PVPATCH_MODE_CALL;
	b->op[PVPATCH_OP_SCHED_YIELD].mode = PVPATCH_MODE_CALL;
}

static void mass_fresh(void)
{
	memset(mass_state, 0, tp.sites * sizeof(*mass_state));
	mass_pv = (struct pvpatch){
		.sites = __mass_sites_start, .sites_end = __mass_sites_end,
		.text_start = (uintptr_t)__executable_start, .text_end = (uintptr_t)etext,
		.state = mass_state, .saved = mass_saved, .saved_size = mass_saved_size,
		.thunks = MASS_THUNKS, .thunks_size = THUNK_SIZE, .poke = bench_poke,
		.thunk_index = mass_index, .thunk_slots = mass_slots,
		.stack_align = opt.stack_align,
	};
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void timed_apply(int p, unsigned int run, const struct pvpatch_policy *pol,
			struct pvpatch_report *rep)
{
	long sw = switches();
	uint64_t c0 = cpu_ns(), t0 = now_ns();
	int r = pol ? pvpatch_apply(&mass_pv, pol, rep) : pvpatch_revert(&mass_pv, rep);
	uint64_t t1 = now_ns(), c1 = cpu_ns();

	if (r)
		die("pvpatch_apply refused the throughput descriptor");
	tp.ph[p].ms[run] = (double)(t1 - t0) / 1e6;
	tp.ph[p].cpu_ms[run] = (double)(c1 - c0) / 1e6;
	tp.ph[p].preempted += switches() != sw;
	tp.ph[p].rep = *rep;
}

void throughput(void)
{
	static struct pvpatch_policy a, b, native;
	static struct pvpatch_report rep;
	unsigned int per_op;

	tp.sites = (unsigned int)(__mass_sites_end - __mass_sites_start);
	per_op = tp.sites / 5;
	mass_state = calloc(tp.sites, sizeof(*mass_state));
	mass_saved_size = (size_t)tp.sites * PVPATCH_MAX_SITE;
	mass_saved = malloc(mass_saved_size);
	/* as a kernel's linker fragment reserves: the fewer of the two bounds */
	mass_slots = PVPATCH_THUNK_SLOTS(tp.sites);
	if (PVPATCH_THUNK_SLOTS_AREA(THUNK_SIZE) < mass_slots)
		mass_slots = PVPATCH_THUNK_SLOTS_AREA(THUNK_SIZE);
	mass_index = malloc(mass_slots * sizeof(*mass_index));
	if (!mass_state || !mass_saved || !mass_index)
		die("out of memory");
	memset(mass_saved, 0, mass_saved_size);		/* no page faults while timed */
	memset(mass_index, 0, mass_slots * sizeof(*mass_index));
	mass_policies(&a, &b);
	set_backends(&native);
	tp.expect_modes[0][PVPATCH_MODE_INLINE] = per_op;
	tp.expect_modes[0][PVPATCH_MODE_CALL] = 3 * per_op;
	tp.expect_modes[0][PVPATCH_MODE_NOP] = per_op;
	tp.expect_modes[1][PVPATCH_MODE_CALL] = 2 * per_op;
	tp.expect_modes[1][PVPATCH_MODE_NATIVE] = 3 * per_op;
	for (int p = 0; p < NPHASES; p++) {
		tp.ph[p].ms = calloc(opt.runs, sizeof(double));
		tp.ph[p].cpu_ms = calloc(opt.runs, sizeof(double));
	}
	for (unsigned int r = 0; r < opt.runs; r++) {
		mass_fresh();
		timed_apply(PH_CHECK, r, &native, &rep);
		mass_fresh();
		timed_apply(PH_FIRST, r, &a, &rep);
		timed_apply(PH_REAPPLY, r, &b, &rep);
		timed_apply(PH_REAPPLY_BACK, r, &a, &rep);
		timed_apply(PH_REVERT, r, NULL, &rep);
	}
	for (int p = 0; p < NPHASES; p++) {
		struct phase *ph = &tp.ph[p];
		const unsigned int *want = p == PH_FIRST || p == PH_REAPPLY_BACK ? tp.expect_modes[0]
					 : p == PH_REAPPLY ? tp.expect_modes[1] : NULL;

		qsort(ph->ms, opt.runs, sizeof(double), cmp_double);
		ph->med = quantile(ph->ms, opt.runs, 0.5);
		ph->min = ph->ms[0];
		ph->max = ph->ms[opt.runs - 1];
		qsort(ph->cpu_ms, opt.runs, sizeof(double), cmp_double);
		ph->cpu_med = quantile(ph->cpu_ms, opt.runs, 0.5);
		ph->cpu_min = ph->cpu_ms[0];
		ph->cpu_max = ph->cpu_ms[opt.runs - 1];
		if (ph->rep.sites != tp.sites || ph->rep.invalid || ph->rep.fallbacks)
			fail("throughput %s: %u sites, %u invalid, %u fallbacks", phase_name[p],
			     ph->rep.sites, ph->rep.invalid, ph->rep.fallbacks);
		for (int m = 0; m < PVPATCH_NR_MODES; m++) {
			unsigned int w = want ? want[m] : m == PVPATCH_MODE_NATIVE ? tp.sites : 0;

			if (ph->rep.mode[m] != w)
				fail("throughput %s: %u sites %s, want %u", phase_name[p],
				     ph->rep.mode[m], pvpatch_mode_names[m], w);
		}
	}
	if (tp.ph[PH_CHECK].rep.written)
		fail("throughput check_only wrote %u sites", tp.ph[PH_CHECK].rep.written);
}
