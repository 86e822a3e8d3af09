// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvpatch hardware benchmark (hosted, real CPU): cycles per op of patched
 * sites against their hand-written equivalents, and patching throughput.
 *
 *   bench [--json] [--quick] [--batches N] [--runs N] [--cpu N] [--stack-align 8|16]
 *
 * The program patches its own text (made writable with mprotect), as the
 * hosted unit tests do: the loops of bench-ops.c built with the framework
 * (every site of fw_<mode>_<op> patched to <mode>), checks that each variant
 * runs the code it names, then measures, pinned to one CPU, every variant of
 * every op in interleaved batches (rdtsc between lfences, the empty loop's
 * time subtracted) and reports medians and ratios from this one run.  It
 * also times patching the 100,000 sites of bench-mass.S (bench-throughput.c).
 *
 * Cycles are TSC ticks.  The program reports whether the project's bars are
 * met; it never fails on timing (exit status 1 only when patching or a
 * functional check went wrong, 2 on usage or environment errors).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <asm/pvpatch.h>
#include <asm/pvpatch-boot.h>	/* the backend records */
#include "bench.h"
#include "harness.h"
#include "insn.h"	/* the patcher's decoder: what each patched site executes */

extern const struct pvpatch_site __bench_sites_start[], __bench_sites_end[];
extern const struct pvpatch_site __benchp_sites_start[], __benchp_sites_end[];
extern const struct pvpatch_site __benchl_sites_start[], __benchl_sites_end[];
extern const struct pvpatch_site __bencho_sites_start[], __bencho_sites_end[];

/*
 * The call-live sites (fwl_call_<op>, bench-ops.c) have every call-clobbered
 * register dead after them.  The build's liveness pass ($(PVPATCH_LIVENESS)
 * on the linked program, mk/bench.mk) widens their records' masks; the
 * harness checks that it marked every one of them widened with all of these
 * registers free (check_call_live()) and patches them with the pass's masks.
 */
#define CALL_CLOBBERED	((uint16_t)(1u << PVPATCH_REG_RAX | 1u << PVPATCH_REG_RCX |	\
				    1u << PVPATCH_REG_RDX | 1u << PVPATCH_REG_RSI |	\
				    1u << PVPATCH_REG_RDI | 1u << PVPATCH_REG_R8 |	\
				    1u << PVPATCH_REG_R9 | 1u << PVPATCH_REG_R10 |	\
				    1u << PVPATCH_REG_R11))
extern char __executable_start[], etext[];

#define MAX_BENCH_SITES	1024

/* --- what the backends (bench-backends.c) store and return --------------- */
volatile unsigned long be_stored;
unsigned long be_cr3 = 0xabc000;

/* --- native_<op>: the native instructions in functions, as a pv_ops kernel
 * calls them when it runs native; mem_size's sites call native_mem_size. -- */
BENCH_BACKEND void native_read_tsc(uint32_t *lo, uint32_t *hi)
{
	uint32_t a, d;

	asm volatile("rdtsc" : "=a" (a), "=d" (d));
	*lo = a;
	*hi = d;
}

BENCH_BACKEND unsigned long native_save_fl(void)
{
	unsigned long f;

	asm volatile("pushf; pop %0" : "=r" (f) : : "memory");
	return f;
}

BENCH_BACKEND void native_restore_fl(unsigned long flags)
{
	asm volatile("push %0; popf" : : "r" (flags) : "memory", "cc");
}

BENCH_BACKEND void native_sched_yield(uint32_t cpu)
{
	(void)cpu;
	asm volatile("pause");
}

BENCH_BACKEND void native_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b,
				uint32_t *c, uint32_t *d)
{
	uint32_t ra, rb, rc, rd;

	asm volatile("cpuid" : "=a" (ra), "=b" (rb), "=c" (rc), "=d" (rd)
			     : "a" (leaf), "c" (subleaf) : "memory");
	*a = ra;
	*b = rb;
	*c = rc;
	*d = rd;
}

BENCH_BACKEND uint64_t native_mem_size(void)
{
	return NATIVE_MEM_SIZE_VAL;
}

struct bench_pv_ops bench_pv_ops = {
	.read_tsc = be_read_tsc, .save_fl = be_save_fl, .restore_fl = be_restore_fl,
	.sched_yield = be_sched_yield, .cpuid = be_cpuid, .write_cr3 = be_write_cr3,
	.read_cr3 = be_read_cr3, .mem_size = be_mem_size,
};

struct bench_pv_ops bench_pv_ops_native = {
	.read_tsc = native_read_tsc, .save_fl = native_save_fl,
	.restore_fl = native_restore_fl, .sched_yield = native_sched_yield,
	.cpuid = native_cpuid, .mem_size = native_mem_size,
};

/* --- templates: each the native code, or what a hand-written inline is --- */
static const struct pvpatch_template t_rdtsc = {
	.name = "rdtsc", .n_insns = 2,
	.insn = { { PVT_RDTSC, PVT_NONE, PVT_NONE, 4, 0 },
		  { PVT_MOV, PVT_RET, PVPATCH_REG_RAX, 4, 0 } },
};

static const struct pvpatch_template t_cpuid = {
	.name = "cpuid", .n_insns = 2,
	.insn = { { PVT_CPUID, PVT_NONE, PVT_NONE, 4, 0 },
		  { PVT_MOV, PVT_RET, PVPATCH_REG_RAX, 4, 0 } },
};

static const struct pvpatch_template t_const = {
	.name = "const", .n_insns = 1,
	.insn = { { PVT_MOVI, PVT_RET, PVT_IMM(0), 8, 0 } },
};

static const struct pvpatch_template t_pause = {
	.name = "pause", .n_insns = 1,
	.insn = { { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 } },
};

/* --- options and output helpers ----------------------------------------- */
/* stack_align 8: the backends are built as Linux builds a kernel's
 * (-mgeneral-regs-only -mpreferred-stack-boundary=3, mk/bench.mk). */
struct bench_opt opt = { .batches = 101, .runs = 11, .cpu = -1,
			 .stack_align = PVPATCH_STACK_ALIGN_8 };

static volatile uint64_t sink;
static int failures;

static void message(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "bench: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message("error: ", fmt, ap);
	va_end(ap);
	failures++;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	message("", fmt, ap);
	va_end(ap);
	exit(2);
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Quantile q of n sorted values (linear interpolation). */
double quantile(const double *sorted, unsigned int n, double q)
{
	double pos = q * (n - 1);
	unsigned int i = (unsigned int)pos;

	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

static inline uint64_t tsc_fenced(void)
{
	uint32_t lo, hi;

	asm volatile("lfence; rdtsc; lfence" : "=a" (lo), "=d" (hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- the variants ------------------------------------------------------- */
enum kind {
	K_REF,			/* framework-free build */
	K_REF2,			/* a copy of it: the A/A control */
	K_REFPAD,		/* it with one padding instruction after each op */
	K_HAND,			/* hand-written inline code */
	K_FW,			/* framework sites in one mode */
	K_DIRECT,		/* direct call of the backend */
	K_DIRECTP,		/* direct call of the register-preserving backend */
	K_DIRECTL,		/* direct call in the call-live loops */
	K_INDIRECT,		/* call *table(%rip) of the backend */
	K_RETPOLINE,		/* the same through a retpoline */
	K_INDIRECT_NATIVE,	/* call *table(%rip) of native_<op> */
	K_RETPOLINE_NATIVE,	/* the same through a retpoline */
	K_LCS,			/* call of Linux's callee-save thunk around the backend */
};

struct variant {
	const char *op;
	const char *name;	/* column label, unique within the op */
	enum kind kind;
	int mode;		/* K_FW: the PVPATCH_MODE_* its sites get */
	bool preserving;	/* K_FW CALL: to the register-preserving backends */
	bool live;		/* K_FW CALL: call-live sites (clobbered registers dead) */
	bool opaque;		/* K_FW CALL: plain backends as if not analysed */
	bench_loop_fn fn;
	const char *ref;	/* name of the variant it is compared with */
	/* results */
	unsigned int sites, sites_in_mode;
	unsigned int direct_calls, thunk_calls;	/* CALL sites by form */
	char shape[48];		/* what a site executes: "pushf pop +nop" (the first site) */
	const char *check;	/* "ok", "failed: ...", or NULL (nothing to check) */
	double *per;		/* ticks per op in each round, empty loop subtracted */
	double med, q1, q3;	/* of per[] */
};

#define MAX_VARIANTS 128
static struct variant var[MAX_VARIANTS];
static unsigned int nvar;

static const char *const op_order[] = {
	"read_tsc", "save_fl", "restore_fl", "sched_yield", "cpuid", "write_cr3", "read_cr3",
	"mem_size",
};
#define NOPS (sizeof(op_order) / sizeof(op_order[0]))

/* Per op: the batch size all its variants use, and the timing overhead. */
static struct {
	unsigned int iters;	/* loop iterations per batch */
	double empty;		/* median ticks of the empty loop of iters iterations */
} opm[NOPS];

static void add(const char *op, const char *name, enum kind kind, int mode, bench_loop_fn fn,
		const char *ref)
{
	struct variant *v;

	if (nvar == MAX_VARIANTS)
		die("more than %u variants", MAX_VARIANTS);
	v = &var[nvar++];

	*v = (struct variant){ .op = op, .name = name, .kind = kind, .mode = mode, .fn = fn,
			       .ref = ref };
}

static int mode_of(const char *m)
{
	if (!strcmp(m, "native"))
		return PVPATCH_MODE_NATIVE;
	if (!strcmp(m, "nop"))
		return PVPATCH_MODE_NOP;
	if (!strcmp(m, "inline"))
		return PVPATCH_MODE_INLINE;
	return PVPATCH_MODE_CALL;
}

static void build_variants(void)
{
#define ADD_REF(op)	add(#op, "framework-free", K_REF, -1, ref_##op, NULL);			\
			add(#op, "framework-free-copy", K_REF2, -1, ref2_##op, "framework-free");	\
			add(#op, "framework-free+pad", K_REFPAD, -1, refpad_##op, "framework-free"); \
			add(#op, "indirect-native", K_INDIRECT_NATIVE, -1,			\
			    indirect_native_##op, "framework-free");				\
			add(#op, "retpoline-native", K_RETPOLINE_NATIVE, -1,			\
			    retpoline_native_##op, "framework-free");
	BENCH_REF_OPS(ADD_REF)
	add("save_fl", "hand-inline", K_HAND, -1, hand_inline_save_fl, NULL);
#define ADD_CALLS(op)	add(#op, "direct", K_DIRECT, -1, direct_##op, NULL);		\
			add(#op, "indirect", K_INDIRECT, -1, indirect_##op, "direct");	\
			add(#op, "retpoline", K_RETPOLINE, -1, retpoline_##op, "direct");	\
			add(#op, "direct-preserving", K_DIRECTP, -1, directp_##op, NULL);	\
			add(#op, "CALL-preserving", K_FW, PVPATCH_MODE_CALL, fwp_call_##op,	\
			    "direct-preserving");						\
			var[nvar - 1].preserving = true;					\
			add(#op, "linux-callee-save", K_LCS, -1, linux_callee_save_##op, "direct"); \
			add(#op, "direct-live", K_DIRECTL, -1, direct_live_##op, "direct");	\
			add(#op, "call-live", K_FW, PVPATCH_MODE_CALL, fwl_call_##op,		\
			    "direct-live");							\
			var[nvar - 1].live = true;						\
			add(#op, "CALL-opaque", K_FW, PVPATCH_MODE_CALL, fwo_call_##op, "direct"); \
			var[nvar - 1].opaque = true;
	BENCH_CALL_OPS(ADD_CALLS)
#define ADD_FW(op, m)	add(#op, NULL, K_FW, mode_of(#m), fw_##m##_##op, NULL);
	BENCH_FW_LOOPS(ADD_FW)
	for (unsigned int i = 0; i < nvar; i++) {
		struct variant *v = &var[i];

		if (v->kind != K_FW || v->preserving || v->live || v->opaque)
			continue;
		v->name = pvpatch_mode_names[v->mode];
		if (v->mode == PVPATCH_MODE_CALL)
			v->ref = "direct";
		else if (v->mode == PVPATCH_MODE_INLINE && !strcmp(v->op, "save_fl"))
			v->ref = "hand-inline";
		else
			v->ref = "framework-free";
	}
}

static struct variant *find(const char *op, const char *name)
{
	for (unsigned int i = 0; name && i < nvar; i++)
		if (!strcmp(var[i].op, op) && !strcmp(var[i].name, name))
			return &var[i];
	return NULL;
}

/* --- patching the benchmark's own sites ----------------------------------
 *
 * Two struct pvpatch over two ranges of records (bench.lds): the loops of
 * bench-ops-fw.o, each site patched to its loop's mode with the plain
 * backends, and those of bench-ops-fwp.o, patched to CALL the
 * register-preserving ones (policy .preserves), as an adopter's kernel would.
 */
struct bench_patch {
	const struct pvpatch_site *start, *end;
	uint8_t *thunks;
	bool preserving, live, opaque;
	struct pvpatch pv;
	struct pvpatch_site_state state[MAX_BENCH_SITES];
	uint8_t saved[MAX_BENCH_SITES * PVPATCH_MAX_SITE];
	struct pvpatch_thunk_slot tindex[PVPATCH_THUNK_SLOTS(MAX_BENCH_SITES)];
	struct pvpatch_override over[MAX_BENCH_SITES];
	struct pvpatch_report rep;
};

static struct bench_patch bench_plain = {
	.start = __bench_sites_start, .end = __bench_sites_end, .thunks = BENCH_THUNKS,
};
static struct bench_patch bench_preserving = {
	.start = __benchp_sites_start, .end = __benchp_sites_end, .thunks = BENCHP_THUNKS,
	.preserving = true,
};
static struct bench_patch bench_live = {
	.start = __benchl_sites_start, .end = __benchl_sites_end, .thunks = BENCHL_THUNKS,
	.live = true,
};
static struct bench_patch bench_opaque = {
	.start = __bencho_sites_start, .end = __bencho_sites_end, .thunks = BENCHO_THUNKS,
	.opaque = true,
};

/*
 * The call-live records as the liveness pass left them: each must free
 * every call-clobbered register, else the variant would measure a thunk,
 * not a direct call: widened by the pass (flag set), or declared so by the
 * op itself (mem_size's native code is a call; the pass adds nothing and
 * leaves the flag clear).  Fails loudly otherwise (the build ran without the
 * pass, or the pass or the loops changed).  Other ranges' records may be
 * widened or not: the pass decides, as in any adopter's kernel.
 */
static unsigned int call_live_widened, call_live_declared;

static void check_call_live(const struct bench_patch *bp)
{
	for (const struct pvpatch_site *s = bp->start; s < bp->end; s++) {
		uint16_t missing = CALL_CLOBBERED & (uint16_t)~s->clobbers;
		bool widened = s->flags & PVPATCH_SITE_F_WIDENED;

		if (missing) {
			fail("call-live site %p: record %s, clobbers %#x, call-clobbered %#x not "
			     "freed: did $(PVPATCH_LIVENESS) run on the benchmark's link?",
			     pvpatch_site_addr(s), widened ? "widened" : "not widened",
			     s->clobbers, missing);
			continue;
		}
		if (widened)
			call_live_widened++;
		else
			call_live_declared++;
	}
}

void bench_poke(void *addr, const void *src, size_t len, void *arg)
{
	(void)arg;
	memcpy(addr, src, len);
}

/*
 * The policy .writes of plain backend fn: what the liveness pass recorded
 * it may write, from its registration record (bench-backends.c), as an
 * adopter's negotiation takes it (pvpatch_backends_collect()).  A record
 * the pass did not analyse fails the run: the CALL variants would then
 * measure the register-saving thunk, not what an adopter's build gets.
 */
static uint32_t plain_writes(const void *fn)
{
	for (const struct pvpatch_backend_rec *r = __pvpatch_backends_start;
	     r < __pvpatch_backends_end; r++) {
		if (r->fn != (uint64_t)(uintptr_t)fn)
			continue;
		if (!(r->flags & PVPATCH_BACKEND_F_ANALYSED))
			fail("backend record of %p not analysed: did $(PVPATCH_LIVENESS) run on "
			     "the benchmark's link?", fn);
		return pvpatch_backend_writes(r);
	}
	fail("no backend record for %p", fn);
	return 0;
}

void set_backends(struct pvpatch_policy *pol)
{
#define PLAIN(fn)	.backend = fn, .writes = plain_writes(fn)
	pol->op[PVPATCH_OP_READ_TSC] = (struct pvpatch_op_policy){
		.tmpl = &t_rdtsc, PLAIN(be_read_tsc) };
	pol->op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.tmpl = &t_const, .params = { INLINE_SAVE_FL_VAL }, PLAIN(be_save_fl) };
	pol->op[PVPATCH_OP_RESTORE_FL] = (struct pvpatch_op_policy){ PLAIN(be_restore_fl) };
	pol->op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.tmpl = &t_pause, PLAIN(be_sched_yield) };
	pol->op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
		.tmpl = &t_cpuid, PLAIN(be_cpuid) };
	pol->op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){ PLAIN(be_write_cr3) };
	pol->op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){ PLAIN(be_read_cr3) };
	pol->op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){ PLAIN(be_mem_size) };
#undef PLAIN
}

static void set_preserving_backends(struct pvpatch_policy *pol)
{
#define PRESERVING(OP, name) pol->op[PVPATCH_OP_##OP] = (struct pvpatch_op_policy){ \
		.mode = PVPATCH_MODE_CALL, .backend = bep_##name, .preserves = 1 }
	PRESERVING(READ_TSC, read_tsc);
	PRESERVING(SAVE_FL, save_fl);
	PRESERVING(RESTORE_FL, restore_fl);
	PRESERVING(SCHED_YIELD, sched_yield);
	PRESERVING(CPUID, cpuid);
	PRESERVING(WRITE_CR3, write_cr3);
	PRESERVING(READ_CR3, read_cr3);
	PRESERVING(MEM_SIZE, mem_size);
#undef PRESERVING
}

/* The fw loop a site lies in: the one starting closest before it. */
static struct variant *owner(uintptr_t a)
{
	struct variant *best = NULL;

	for (unsigned int i = 0; i < nvar; i++) {
		uintptr_t f = (uintptr_t)var[i].fn;

		if (var[i].kind == K_FW && f <= a && (!best || f > (uintptr_t)best->fn))
			best = &var[i];
	}
	return best;
}

/*
 * What a patched site executes, from the patcher's own decoder: how many
 * instructions up to the site's end or a jump out of it, and the one padding
 * instruction it may execute ("2 insns +nop", "call +jmp"); *call_to: where
 * its call goes (0: none).
 */
static void site_shape(const uint8_t *p, unsigned int len, char *out, size_t size,
		       uintptr_t *call_to)
{
	unsigned int k = 0, off = 0;
	bool call = false;
	const char *pad = "";

	*call_to = 0;
	while (off < len) {
		struct insn in;
		int l = insn_decode(&in, p + off, len - off);

		if (l <= 0) {
			snprintf(out, size, "undecodable at +%u", off);
			return;
		}
		off += (unsigned int)l;
		if (in.flags & INSN_F_NOP) {
			pad = " +nop";
		} else if (in.branch == INSN_BR_JMP && off == (unsigned int)l &&
			   (uintptr_t)p + off + (intptr_t)in.rel >= (uintptr_t)p + len) {
			/* An INLINE stub's site: what the stub executes, up to its
			 * jump back (not counted). */
			const uint8_t *t = p + off + in.rel;
			unsigned int n = 0, at = 0;

			for (int m; n < 64 && (m = insn_decode(&in, t + at, 16)) > 0; n++) {
				at += (unsigned int)m;
				if (in.branch == INSN_BR_JMP)
					break;
			}
			snprintf(out, size, "jmp stub: %u insn%s +jmp", n, n == 1 ? "" : "s");
			return;
		} else if (in.branch == INSN_BR_JMP) {
			pad = " +jmp";
			break;
		} else {
			k++;
			if (in.branch == INSN_BR_CALL && !call)
				*call_to = (uintptr_t)p + off + (intptr_t)in.rel;
			call |= in.branch == INSN_BR_CALL;
		}
	}
	if (k == 1 && call)
		snprintf(out, size, "call%s", pad);
	else
		snprintf(out, size, "%u insn%s%s%s", k, k == 1 ? "" : "s", call ? " (call)" : "",
			 pad);
}

static void patch_loops(struct bench_patch *bp)
{
	static struct pvpatch_policy pol;
	unsigned int n = (unsigned int)(bp->end - bp->start);

	if (n > MAX_BENCH_SITES)
		die("%u benchmark sites, at most %u", n, MAX_BENCH_SITES);
	memset(&pol, 0, sizeof(pol));
	for (unsigned int i = 0; i < n; i++) {
		const struct pvpatch_site *s = &bp->start[i];
		struct variant *v = owner((uintptr_t)pvpatch_site_addr(s));

		if (!v || v->preserving != bp->preserving || v->live != bp->live ||
		    v->opaque != bp->opaque) {
			fail("site %p is in no benchmark loop of its range", pvpatch_site_addr(s));
			continue;
		}
		bp->over[i] = (struct pvpatch_override){
			NULL, (uintptr_t)pvpatch_site_addr(s), (uint8_t)v->mode };
		v->sites++;
	}
	if (bp->preserving)
		set_preserving_backends(&pol);
	else
		set_backends(&pol);
	for (unsigned int op = 0; bp->opaque && op <= PVPATCH_MAX_OP; op++)
		pol.op[op].writes = 0;	/* as if the pass had not analysed them */
	if (bp->live)
		check_call_live(bp);
	pol.overrides = bp->over;
	pol.n_overrides = n;
	bp->pv = (struct pvpatch){
		.sites = bp->start, .sites_end = bp->end,
		.text_start = (uintptr_t)__executable_start, .text_end = (uintptr_t)etext,
		.state = bp->state, .saved = bp->saved, .saved_size = sizeof(bp->saved),
		.thunks = bp->thunks, .thunks_size = THUNK_SIZE, .poke = bench_poke,
		.thunk_index = bp->tindex, .thunk_slots = PVPATCH_THUNK_SLOTS(MAX_BENCH_SITES),
		.stack_align = opt.stack_align,
	};
	if (pvpatch_apply(&bp->pv, &pol, &bp->rep))
		die("pvpatch_apply refused the benchmark's descriptor");
	if (bp->rep.invalid || bp->rep.fallbacks)
		fail("benchmark sites: %u invalid, %u fallbacks (first reason: %s)",
		     bp->rep.invalid, bp->rep.fallbacks,
		     bp->rep.n_rejects ? pvpatch_reason_str(bp->rep.rejects[0].reason) : "-");
	for (unsigned int i = 0; i < n; i++) {
		const struct pvpatch_site *s = &bp->start[i];
		const uint8_t *p = pvpatch_site_addr(s);
		struct variant *v = owner((uintptr_t)p);

		char shape[sizeof(v->shape)];
		uintptr_t to;

		if (!v || bp->state[i].reason || bp->state[i].mode != v->mode)
			continue;
		site_shape(p, s->site_len, shape, sizeof(shape), &to);
		if (!v->shape[0])
			memcpy(v->shape, shape, sizeof(shape));
		/* The CALL sites here call a thunk, or the backend itself. */
		if (v->mode == PVPATCH_MODE_CALL && to) {
			if (to >= (uintptr_t)bp->thunks && to < (uintptr_t)bp->thunks + THUNK_SIZE)
				v->thunk_calls++;
			else
				v->direct_calls++;
		}
		v->sites_in_mode++;
	}
}

/* How a CALL variant's sites call: "8 direct", "1 direct 7 thunk"; else "". */
static const char *call_form(const struct variant *v)
{
	static char buf[64];
	char d[24] = "", t[24] = "";

	if (v->direct_calls)
		snprintf(d, sizeof(d), "%u direct", v->direct_calls);
	if (v->thunk_calls)
		snprintf(t, sizeof(t), "%u thunk", v->thunk_calls);
	snprintf(buf, sizeof(buf), "%s%s%s", d, *d && *t ? " " : "", t);
	return buf;
}

/* The refpad_<op> loops add the padding instruction the op's NATIVE sites
 * really execute. */
static void check_pads(void)
{
#define CHECK_PAD(op, pad) {								\
		const struct variant *v = find(#op, "NATIVE");				\
		const char *end = v ? strrchr(v->shape, '+') : NULL;			\
		const char *has = end ? end + 1 : "none";				\
											\
		if (!v || strcmp(has, #pad))						\
			fail("%s: NATIVE sites execute \"%s\", refpad_%s adds %s", #op,	\
			     v ? v->shape : "?", #op, #pad);				\
	}
	BENCH_PADS(CHECK_PAD)
#undef CHECK_PAD
}

static void patch_bench_sites(void)
{
	patch_loops(&bench_plain);
	patch_loops(&bench_preserving);
	patch_loops(&bench_live);
	patch_loops(&bench_opaque);
	check_pads();
	for (unsigned int i = 0; i < nvar; i++) {
		struct variant *v = &var[i];

		if (v->kind == K_FW && (v->sites < BENCH_UNROLL || v->sites_in_mode != v->sites))
			fail("%s %s: %u sites, %u of them %s", v->op, v->name, v->sites,
			     v->sites_in_mode, pvpatch_mode_names[v->mode]);
	}
}

/* --- functional checks: the code that runs is the code each variant names */
/* Whether the variant calls the backend (else it runs native code). */
static bool is_call_kind(const struct variant *v)
{
	return v->kind == K_DIRECT || v->kind == K_DIRECTP || v->kind == K_DIRECTL ||
	       v->kind == K_INDIRECT ||
	       v->kind == K_RETPOLINE || v->kind == K_LCS ||
	       (v->kind == K_FW && v->mode == PVPATCH_MODE_CALL);
}

#define SENTINEL 0x5e5e5e5eul

static const char *check_one(struct variant *v)
{
	static char why[128];
	bool call = is_call_kind(v);
	uint64_t r;

	be_stored = SENTINEL;
	r = v->fn(3);
	const uint64_t ops = 3 * BENCH_UNROLL;

#define EXPECT(cond, ...) do { if (!(cond)) { snprintf(why, sizeof(why), __VA_ARGS__); \
		return why; } } while (0)
	if (!strcmp(v->op, "save_fl")) {
		uint64_t want = call ? BE_SAVE_FL_VAL * ops : 0;

		if (v->kind == K_HAND || (v->kind == K_FW && v->mode == PVPATCH_MODE_INLINE))
			want = INLINE_SAVE_FL_VAL * ops;
		if (want)
			EXPECT(r == want, "got %#lx, want %#lx", (unsigned long)r,
			       (unsigned long)want);
		else	/* pushf: IF and bit 1 set, arithmetic flags vary with acc */
			EXPECT(r >= 0x202 * ops && r <= 0xfd7 * ops, "pushf summed to %#lx",
			       (unsigned long)r);
		return "ok";
	}
	if (!strcmp(v->op, "mem_size")) {
		uint64_t want = (call ? BE_MEM_SIZE_VAL : NATIVE_MEM_SIZE_VAL) * ops;

		EXPECT(r == want, "got %#lx, want %#lx", (unsigned long)r, (unsigned long)want);
		return "ok";
	}
	if (!strcmp(v->op, "read_cr3")) {
		EXPECT(r == be_cr3 * ops, "got %#lx", (unsigned long)r);
		return "ok";
	}
	if (!strcmp(v->op, "write_cr3")) {
		EXPECT(be_stored == 2, "backend saw %#lx, want 2", be_stored);
		return "ok";
	}
	if (!strcmp(v->op, "restore_fl")) {
		/* The flags the loop read itself: IF and bit 1 set. */
		EXPECT(call ? (be_stored & 0x202) == 0x202 && be_stored != SENTINEL
			    : be_stored == SENTINEL, "backend saw %#lx", be_stored);
		return "ok";
	}
	if (!strcmp(v->op, "sched_yield")) {
		EXPECT(call ? be_stored == 3 : be_stored == SENTINEL, "backend saw %#lx",
		       be_stored);
		return "ok";
	}
	if (!strcmp(v->op, "read_tsc")) {
		EXPECT(r != 0, "rdtsc read 0");
		EXPECT(call ? be_stored != SENTINEL : be_stored == SENTINEL,
		       "backend %s", call ? "not called" : "called");
		return "ok";
	}
	if (!strcmp(v->op, "cpuid")) {
		unsigned int max_leaf = (unsigned int)(r / ops);

		EXPECT(r % ops == 0 && max_leaf > 0, "cpuid(0).eax: %#lx", (unsigned long)r);
		EXPECT(call ? be_stored == (0xc0de0000ul | BENCH_CPUID_LEAF)
			    : be_stored == SENTINEL, "backend saw %#lx", be_stored);
		return "ok";
	}
	return NULL;
#undef EXPECT
}

static void check_variants(void)
{
	for (unsigned int i = 0; i < nvar; i++) {
		struct variant *v = &var[i];

		v->check = check_one(v);
		if (v->check && strcmp(v->check, "ok")) {
			static char buf[MAX_VARIANTS][160];

			snprintf(buf[i], sizeof(buf[i]), "failed: %s", v->check);
			v->check = buf[i];
			fail("%s %s: %s", v->op, v->name, v->check);
		}
	}
}

/* --- measurement ---------------------------------------------------------
 *
 * Op by op: size a batch so that the op's cheapest variant takes about
 * BATCH_TICKS (at least 64 ops), then run rounds; each round runs every
 * variant of the op and the empty loop once, in a fresh random order.  Ratios are medians of the
 * per-round ratios (variant and reference measured within the same round,
 * milliseconds apart), which cancels the drift of a shared machine better
 * than a ratio of two medians.
 */
#define BATCH_TICKS	(opt.quick ? 10000.0 : 50000.0)

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double batch(bench_loop_fn fn, unsigned int iters)
{
	uint64_t t0, t1, r;

	t0 = tsc_fenced();
	r = fn(iters);
	t1 = tsc_fenced();
	sink += r;
	return (double)(t1 - t0);
}

static void measure_op(unsigned int o, uint64_t *seed)
{
	struct variant *v[MAX_VARIANTS];
	unsigned int n = 0, order[MAX_VARIANTS + 1], iters;
	double cheapest = INFINITY, *empty = calloc(opt.batches, sizeof(double));

	for (unsigned int i = 0; i < nvar; i++)
		if (!strcmp(var[i].op, op_order[o]))
			v[n++] = &var[i];
	/* Calibrate on batches of at least ~BATCH_TICKS/4 (this also warms
	 * caches and predictors up). */
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = 4;

		while (k < 100000 && batch(v[i]->fn, k) < BATCH_TICKS / 4)
			k *= 4;
		for (int t = 0; t < 3; t++) {
			double c = (batch(v[i]->fn, k) - batch(bench_empty, k)) / (k * BENCH_UNROLL);

			if (c > 0.01 && c < cheapest)
				cheapest = c;
		}
	}
	iters = (unsigned int)(BATCH_TICKS / (BENCH_UNROLL * cheapest));
	/* At least 64 ops a batch: cpuid exits to the hypervisor, ~2-4k ticks
	 * with a wide spread, and the differences it is compared on are a few
	 * dozen ticks. */
	iters = iters < 8 ? 8 : iters > 100000 ? 100000 : iters;
	opm[o].iters = iters;
	for (unsigned int i = 0; i < n; i++)
		v[i]->per = calloc(opt.batches, sizeof(double));
	for (unsigned int j = 0; j <= n; j++)
		order[j] = j;
	for (unsigned int b = 0; b < opt.batches; b++) {
		for (unsigned int j = n + 1; j > 1; j--) {
			unsigned int k = (unsigned int)(xorshift(seed) % j), t = order[j - 1];

			order[j - 1] = order[k];
			order[k] = t;
		}
		for (unsigned int j = 0; j <= n; j++) {
			if (order[j] == n)
				empty[b] = batch(bench_empty, iters);
			else
				v[order[j]]->per[b] = batch(v[order[j]]->fn, iters);
		}
	}
	qsort(empty, opt.batches, sizeof(double), cmp_double);
	opm[o].empty = quantile(empty, opt.batches, 0.5);
	for (unsigned int i = 0; i < n; i++) {
		double *sorted = calloc(opt.batches, sizeof(double));

		for (unsigned int b = 0; b < opt.batches; b++) {
			v[i]->per[b] = (v[i]->per[b] - opm[o].empty) / ((double)iters * BENCH_UNROLL);
			sorted[b] = v[i]->per[b];
		}
		qsort(sorted, opt.batches, sizeof(double), cmp_double);
		v[i]->med = quantile(sorted, opt.batches, 0.5);
		v[i]->q1 = quantile(sorted, opt.batches, 0.25);
		v[i]->q3 = quantile(sorted, opt.batches, 0.75);
		free(sorted);
	}
	free(empty);
}

static void measure(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	/* Bring the CPU's clock up before anything is timed. */
	for (uint64_t t = now_ns(); now_ns() - t < (opt.quick ? 20 : 200) * 1000000ull;)
		sink += bench_empty(1000);
	for (unsigned int o = 0; o < NOPS; o++)
		measure_op(o, &seed);
}

/* Median over rounds of v's ticks / r's ticks in the same round. */
static double paired_ratio(const struct variant *v, const struct variant *r)
{
	double *q;
	unsigned int n = 0;
	double m;

	if (!v || !r || !v->per || !r->per)
		return NAN;
	q = calloc(opt.batches, sizeof(double));
	for (unsigned int b = 0; b < opt.batches; b++)
		if (r->per[b] > 0)
			q[n++] = v->per[b] / r->per[b];
	if (!n) {
		free(q);
		return NAN;
	}
	qsort(q, n, sizeof(double), cmp_double);
	m = quantile(q, n, 0.5);
	free(q);
	return m;
}

static double tsc_ghz(void)
{
	uint64_t n0 = now_ns(), t0 = tsc_fenced(), n1, t1;

	while (now_ns() - n0 < 20000000u)
		;
	n1 = now_ns();
	t1 = tsc_fenced();
	return (double)(t1 - t0) / (double)(n1 - n0);
}

/* --- the bars ------------------------------------------------------------ */
static double ratio(const struct variant *v)
{
	return paired_ratio(v, find(v->op, v->ref));
}

/* The retpoline form of what the variant does: a pv_ops call of native_<op>
 * for native code, of the backend for calls of it. */
static const struct variant *retpoline_of(const struct variant *v)
{
	const struct variant *n = find(v->op, "retpoline-native");

	return !is_call_kind(v) && n ? n : find(v->op, "retpoline");
}

static double vs_retpoline(const struct variant *v)
{
	const struct variant *r = retpoline_of(v);

	return r != v ? paired_ratio(v, r) : NAN;
}

static bool within_1pct(double r)
{
	return fabs(r - 1.0) <= 0.01;
}

/* --- output -------------------------------------------------------------- */
static const char *kind_order[] = {
	"framework-free", "framework-free-copy", "framework-free+pad", "NATIVE", "NOP", "hand-inline", "INLINE",
	"indirect-native", "retpoline-native", "direct", "CALL", "CALL-opaque", "direct-live",
	"call-live",
	"direct-preserving",
	"CALL-preserving", "linux-callee-save", "indirect", "retpoline",
};
#define NKINDS (sizeof(kind_order) / sizeof(kind_order[0]))

static const char *label(const struct variant *v)
{
	static char buf[64];

	switch (v->kind) {
	case K_FW:
		snprintf(buf, sizeof(buf), "%s site%s", pvpatch_mode_names[v->mode],
			 v->preserving ? " bep_" : v->live ? " be_ (live)" :
			 v->opaque ? " be_ (not analysed)" :
			 v->mode == PVPATCH_MODE_CALL ? " be_" : "");
		return buf;
	case K_LCS:
		return "Linux callee-save be_";
	case K_REF:
		return "framework-free";
	case K_REF2:
		return "framework-free (A/A)";
	case K_REFPAD:
		return "framework-free +pad";
	case K_HAND:
		return "hand-written inline";
	case K_DIRECT:
		return "direct call be_";
	case K_DIRECTP:
		return "direct call bep_";
	case K_DIRECTL:
		return "direct call be_ (live)";
	case K_INDIRECT:
		return "call *tbl(%rip) be_";
	case K_RETPOLINE:
		return "retpoline be_";
	case K_INDIRECT_NATIVE:
		return "call *tbl(%rip) native_";
	case K_RETPOLINE_NATIVE:
		return "retpoline native_";
	}
	return v->name;
}

static void print_table(double ghz, int cpu)
{
	printf("pvpatch hardware benchmark: CPU %d, TSC %.3f GHz, %u batches per variant "
	       "(interleaved), %u ops per loop iteration, stack_align %u\n", cpu, ghz, opt.batches,
	       BENCH_UNROLL, opt.stack_align);
	printf("cycles: TSC ticks per op, median over batches, empty loop subtracted; q1-q3: "
	       "interquartile range\n"
	       "ratio: cycles / cycles of the variant named in \"to\"; retpol: cycles / cycles "
	       "of the retpoline\nform of the same work (retpoline native_ for native code, "
	       "retpoline be_ for backend calls)\n\n");
	printf("%-12s %-24s %9s %19s %7s %-17s %7s  %s\n", "op", "variant", "cycles",
	       "q1 - q3", "ratio", "to", "retpol", "sites in mode: what one executes, check");
	for (unsigned int o = 0; o < NOPS; o++) {
		unsigned int row = 0;

		for (unsigned int k = 0; k < NKINDS; k++) {
			const struct variant *v = find(op_order[o], kind_order[k]);
			char sites[192], rat[16], rp[16], opcol[24];

			if (!v)
				continue;
			snprintf(rat, sizeof(rat), v->ref ? "%.3f" : "", ratio(v));
			snprintf(rp, sizeof(rp), isnan(vs_retpoline(v)) ? "" : "%.3f",
				 vs_retpoline(v));
			if (v->kind == K_FW && *call_form(v))
				snprintf(sites, sizeof(sites), "%u/%u %s (%s): %s, %s",
					 v->sites_in_mode, v->sites, pvpatch_mode_names[v->mode], call_form(v),
					 v->shape, v->check ? v->check : "-");
			else if (v->kind == K_FW)
				snprintf(sites, sizeof(sites), "%u/%u %s: %s, %s", v->sites_in_mode,
					 v->sites, pvpatch_mode_names[v->mode], v->shape,
					 v->check ? v->check : "-");
			else
				snprintf(sites, sizeof(sites), "%s", v->check ? v->check : "-");
			snprintf(opcol, sizeof(opcol), "%s", row == 0 ? v->op : "");
			if (row == 1)
				snprintf(opcol, sizeof(opcol), " %u/batch", opm[o].iters * BENCH_UNROLL);
			printf("%-12s %-24s %9.2f %9.2f - %-7.2f %7s %-17s %7s  %s\n", opcol,
			       label(v), v->med, v->q1, v->q3, rat, v->ref ? v->ref : "", rp, sites);
			row++;
		}
		printf("\n");
	}
	printf("patching throughput: %u sites (bench-mass.S: save_fl restore_fl read_cr3 "
	       "write_cr3 sched_yield in 20\nregister choices), %u runs; cpu: thread CPU time "
	       "(the bar), wall: CLOCK_MONOTONIC_RAW;\npreempted: runs the thread was switched "
	       "out during\n", tp.sites, opt.runs);
	printf("  %-13s %8s %8s %8s %8s %8s %8s %5s %7s\n", "phase", "cpu ms", "min", "max",
	       "ns/site", "wall ms", "min", "preempted", "written");
	for (int p = 0; p < NPHASES; p++) {
		const struct phase *ph = &tp.ph[p];

		printf("  %-13s %8.3f %8.3f %8.3f %8.1f %8.3f %8.3f %5u/%-3u %7u\n", phase_name[p],
		       ph->cpu_med, ph->cpu_min, ph->cpu_max, ph->cpu_med * 1e6 / tp.sites,
		       ph->med, ph->min, ph->preempted, opt.runs, ph->rep.written);
	}
	for (int p = 0; p < NPHASES; p++)
		printf("  %-13s %s\n", phase_name[p], phase_doc[p]);
	printf("  policy A: save_fl INLINE, restore_fl/read_cr3/write_cr3 CALL (%u thunk "
	       "bytes), sched_yield NOP;\n  policy B: save_fl and sched_yield CALL, the rest "
	       "NATIVE\n\n", tp.ph[PH_FIRST].rep.thunk_bytes);
}

/*
 * The done-when bars (issue 11), per site variant:
 *   0 NATIVE within 1% of framework-free (the [A/A] copy and [+pad] loop
 *     beside it), 1 CALL-preserving within 1% of a direct call of the same
 *     backend, 2 NATIVE and CALL faster than their retpoline form,
 *   3 no NATIVE site executes a JMP (the executes column),
 *   4 NATIVE within 1% of framework-free+pad (the one padding NOP added),
 *   5 call-live within 1% of a direct call of the same backend,
 *   6 every pvpatch CALL variant faster than Linux's callee-save thunk call,
 *     by at least 1.5x where the backend is a few instructions.  Beside it,
 *     what bounds it: Linux's form against a direct call of the same
 *     backend (no CALL form can cost less than a direct call), and the
 *     CALL-opaque sites, a plain backend the pass did not analyse (the
 *     register-saving thunk: two call levels, as Linux's).
 * Beside bar 1, sites calling plain C backends (be_) are listed.
 */
#define NBARS 7
static const char *const bar_key[NBARS] = {
	"native_within_1pct_of_framework_free", "call_within_1pct_of_direct_call",
	"faster_than_retpoline", "native_never_executes_jmp",
	"native_within_1pct_of_framework_free_pad", "call_live_within_1pct_of_direct_call",
	"call_beats_linux_callee_save" };
static const char *const bar_doc[NBARS] = {
	"NATIVE sites within 1% of the framework-free build (cycles ratio - 1; [A/A: "
	"a copy of the framework-free loop against it, the noise floor; +pad: the "
	"framework-free loop with the site's one padding instruction added])",
	"CALL sites (register-preserving backends, bep_) within 1% of a hand-written direct "
	"call of the same backend (cycles ratio - 1)",
	"NATIVE and CALL sites faster than the retpoline form (cycles ratio)",
	"NATIVE sites execute no JMP (what one executes, decoded)",
	"NATIVE sites within 1% of framework-free+pad (cycles ratio - 1)",
	"call-live CALL sites (every call-clobbered register dead) within 1% of a direct "
	"call of the same backend in the same loop (direct-live; cycles ratio - 1)",
	"every CALL variant (CALL be_ analysed by the liveness pass, CALL-preserving bep_, "
	"call-live) faster than Linux's callee-save thunk call (speedup: its cycles / the "
	"site's), by >= 1.5x where the backend is a few instructions (*)" };

/* Backends of a few instructions (bench-backends.c): not rdtsc, not cpuid. */
static bool few_insn_backend(const char *op)
{
	return strcmp(op, "read_tsc") && strcmp(op, "cpuid");
}

static bool bar_applies(int bar, const struct variant *v)
{
	if (v->kind != K_FW)
		return false;
	switch (bar) {
	case 0:
	case 3:
		return v->mode == PVPATCH_MODE_NATIVE;
	case 4:
		return v->mode == PVPATCH_MODE_NATIVE && find(v->op, "framework-free+pad");
	case 1:
		return v->mode == PVPATCH_MODE_CALL && v->preserving;
	case 2:
		return (v->mode == PVPATCH_MODE_NATIVE || v->mode == PVPATCH_MODE_CALL) &&
		       !v->live && retpoline_of(v);
	case 5:
		return v->mode == PVPATCH_MODE_CALL && v->live;
	case 6:
		return v->mode == PVPATCH_MODE_CALL && !v->opaque && find(v->op, "linux-callee-save");
	}
	return false;
}

static const char *bar_against(int bar, const struct variant *v)
{
	switch (bar) {
	case 2:
		return retpoline_of(v)->name;
	case 3:
		return NULL;
	case 4:
		return "framework-free+pad";
	case 6:
		return "linux-callee-save";
	}
	return v->ref;
}

static double bar_ratio(int bar, const struct variant *v)
{
	switch (bar) {
	case 2:
		return vs_retpoline(v);
	case 3:
		return strstr(v->shape, "jmp") ? 1 : 0;	/* JMPs executed: 0 or some */
	case 4:
		return paired_ratio(v, find(v->op, "framework-free+pad"));
	case 6:
		return paired_ratio(find(v->op, "linux-callee-save"), v);	/* speedup */
	}
	return ratio(v);
}

static bool bar_met(int bar, const struct variant *v, double r)
{
	switch (bar) {
	case 2:
		return r < 1;
	case 3:
		return r == 0;
	case 6:
		return r > 1 && (!few_insn_backend(v->op) || r >= 1.5);
	}
	return within_1pct(r);
}

static bool bar_all(int bar)
{
	bool all = true;

	for (unsigned int i = 0; i < nvar; i++)
		if (bar_applies(bar, &var[i]))
			all &= bar_met(bar, &var[i], bar_ratio(bar, &var[i]));
	return all;
}

static bool patch_bar_met(void)
{
	return tp.sites >= 100000 && tp.ph[PH_FIRST].cpu_med < 10;
}

static void print_bars(void)
{
	printf("done-when bars (medians of this run):\n");
	for (int bar = 0; bar < NBARS; bar++) {
		unsigned int n = 0;

		printf("  %s: %s\n   ", bar_doc[bar], bar_all(bar) ? "MET" : "NOT MET");
		for (unsigned int i = 0; i < nvar; i++) {
			const struct variant *v = &var[i];
			const char *no;
			double r;

			if (!bar_applies(bar, v))
				continue;
			r = bar_ratio(bar, v);
			no = bar_met(bar, v, r) ? "" : " (no)";
			if (n && n % (bar == 0 ? 3 : 4) == 0)
				printf("\n   ");
			if (bar == 2)
				printf(" %s %s %.3f%s", v->op, v->name, r, no);
			else if (bar == 3)
				printf(" %s \"%s\"%s", v->op, v->shape, no);
			else if (bar == 6)
				printf(" %s %s %.2fx%s%s", v->op, v->name, r,
				       few_insn_backend(v->op) ? "*" : "", no);
			else if (bar == 0)
				printf(" %s %+.2f%%%s [A/A %+.2f%%, +pad %+.2f%%]", v->op,
				       (r - 1) * 100, no,
				       (ratio(find(v->op, "framework-free-copy")) - 1) * 100,
				       (ratio(find(v->op, "framework-free+pad")) - 1) * 100);
			else
				printf(" %s %+.2f%%%s", v->op, (r - 1) * 100, no);
			n++;
		}
		printf("\n");
		if (bar == 1) {
			printf("    beside it, plain C backends (be_) against a direct call of "
			       "them:\n   ");
			n = 0;
			for (unsigned int i = 0; i < nvar; i++) {
				const struct variant *v = &var[i];

				if (v->kind != K_FW || v->mode != PVPATCH_MODE_CALL || v->preserving ||
				    v->live)
					continue;
				if (n && n % 3 == 0)
					printf("\n   ");
				printf(" %s %s %+.2f%% (%s)", v->op, v->name, (ratio(v) - 1) * 100,
				       call_form(v));
				n++;
			}
			printf("\n");
		}
		if (bar == 6) {
			printf("    beside it, the bound: Linux's form against a direct call, and a "
			       "plain backend not analysed\n    (CALL-opaque, through the "
			       "register-saving thunk) against Linux's form:\n   ");
			n = 0;
			for (unsigned int i = 0; i < nvar; i++) {
				const struct variant *v = &var[i];

				if (!v->opaque)
					continue;
				if (n && n % 3 == 0)
					printf("\n   ");
				printf(" %s linux/direct %.3f opaque %.2fx", v->op,
				       ratio(find(v->op, "linux-callee-save")),
				       paired_ratio(find(v->op, "linux-callee-save"), v));
				n++;
			}
			printf("\n");
		}
	}
	printf("  100,000 sites patched in under 10 ms (first apply, CPU time): %s\n"
	       "    first apply %.3f ms (%.1f ns/site; wall %.3f ms), re-apply %.3f ms, "
	       "revert %.3f ms\n", patch_bar_met() ? "MET" : "NOT MET", tp.ph[PH_FIRST].cpu_med,
	       tp.ph[PH_FIRST].cpu_med * 1e6 / tp.sites, tp.ph[PH_FIRST].med,
	       tp.ph[PH_REAPPLY].cpu_med, tp.ph[PH_REVERT].cpu_med);
}

static void json_num(const char *key, double v, bool comma)
{
	if (isnan(v) || isinf(v))
		printf("\"%s\": null%s", key, comma ? ", " : "");
	else
		printf("\"%s\": %.4f%s", key, v, comma ? ", " : "");
}

static void json_str(const char *key, const char *s, bool comma)
{
	if (!s)
		printf("\"%s\": null%s", key, comma ? ", " : "");
	else
		printf("\"%s\": \"%s\"%s", key, s, comma ? ", " : "");
}

static void print_modes(const unsigned int *m)
{
	printf("{");
	for (int i = 0; i < PVPATCH_NR_MODES; i++)
		printf("\"%s\": %u%s", pvpatch_mode_names[i], m[i], i + 1 < PVPATCH_NR_MODES ? ", " : "");
	printf("}");
}

static void print_json(double ghz, int cpu)
{
	bool first_op = true;

	printf("{\n  \"cpu\": %d, \"tsc_ghz\": %.4f, \"batches\": %u, \"unroll\": %u, "
	       "\"quick\": %s, \"stack_align\": %u, \"unit\": \"tsc_ticks_per_op\",\n", cpu, ghz,
	       opt.batches, BENCH_UNROLL, opt.quick ? "true" : "false", opt.stack_align);
	printf("  \"ops\": {");
	for (unsigned int o = 0; o < NOPS; o++) {
		bool first = true;

		printf("%s\n    \"%s\": {\"iters\": %u, \"ops_per_batch\": %u, "
		       "\"empty_ticks_per_batch\": %.1f, \"variants\": {", first_op ? "" : ",",
		       op_order[o], opm[o].iters, opm[o].iters * BENCH_UNROLL, opm[o].empty);
		first_op = false;
		for (unsigned int k = 0; k < NKINDS; k++) {
			const struct variant *v = find(op_order[o], kind_order[k]);

			if (!v)
				continue;
			printf("%s\n      \"%s\": {", first ? "" : ",", v->name);
			first = false;
			json_str("label", label(v), true);
			json_num("cycles", v->med, true);
			json_num("q1", v->q1, true);
			json_num("q3", v->q3, true);
			json_str("ref", v->ref, true);
			json_num("ratio", v->ref ? ratio(v) : NAN, true);
			json_num("vs_retpoline", vs_retpoline(v), true);
			if (v->kind == K_FW) {
				json_str("mode", pvpatch_mode_names[v->mode], true);
				printf("\"preserving\": %s, \"live\": %s, \"opaque\": %s, ",
				       v->preserving ? "true" : "false", v->live ? "true" : "false",
				       v->opaque ? "true" : "false");
				json_str("executes", v->shape, true);
				printf("\"sites\": %u, \"sites_in_mode\": %u, ", v->sites,
				       v->sites_in_mode);
				if (v->mode == PVPATCH_MODE_CALL)
					printf("\"direct_calls\": %u, \"thunk_calls\": %u, ",
					       v->direct_calls, v->thunk_calls);
			}
			json_str("check", v->check, false);
			printf("}");
		}
		printf("}}");
	}
	printf("\n  },\n");
	for (int k = 0; k < 4; k++) {
		static const char *const key[4] = { "bench_patch", "bench_patch_preserving",
						    "bench_patch_call_live", "bench_patch_opaque" };
		const struct pvpatch_report *r = k == 3 ? &bench_opaque.rep : k == 2 ? &bench_live.rep :
						 k ? &bench_preserving.rep : &bench_plain.rep;

		printf("  \"%s\": {\"sites\": %u, \"invalid\": %u, \"fallbacks\": %u, "
		       "\"written\": %u, \"thunk_bytes\": %u, ", key[k], r->sites, r->invalid,
		       r->fallbacks, r->written, r->thunk_bytes);
		if (k == 2)
			printf("\"widened_by_liveness\": %u, \"declared_free\": %u, ",
			       call_live_widened, call_live_declared);
		printf("\"modes\": ");
		print_modes(r->mode);
		printf("},\n");
	}
	printf("  \"throughput\": {\"sites\": %u, \"runs\": %u, \"expected_modes\": {\"A\": ",
	       tp.sites, opt.runs);
	print_modes(tp.expect_modes[0]);
	printf(", \"B\": ");
	print_modes(tp.expect_modes[1]);
	printf("}, \"phases\": {");
	for (int p = 0; p < NPHASES; p++) {
		const struct phase *ph = &tp.ph[p];

		printf("%s\n    \"%s\": {", p ? "," : "", phase_name[p]);
		json_str("what", phase_doc[p], true);
		json_num("cpu_median_ms", ph->cpu_med, true);
		json_num("cpu_min_ms", ph->cpu_min, true);
		json_num("cpu_max_ms", ph->cpu_max, true);
		json_num("ns_per_site", ph->cpu_med * 1e6 / tp.sites, true);
		json_num("wall_median_ms", ph->med, true);
		json_num("wall_min_ms", ph->min, true);
		json_num("wall_max_ms", ph->max, true);
		printf("\"preempted_runs\": %u, ", ph->preempted);
		printf("\"written\": %u, \"invalid\": %u, \"fallbacks\": %u, \"thunk_bytes\": %u, "
		       "\"modes\": ", ph->rep.written, ph->rep.invalid, ph->rep.fallbacks,
		       ph->rep.thunk_bytes);
		print_modes(ph->rep.mode);
		printf("}");
	}
	printf("\n  }},\n  \"bars\": {\n");
	for (int bar = 0; bar < NBARS; bar++) {
		bool first = true;

		printf("    \"%s\": {\"sites\": {", bar_key[bar]);
		for (unsigned int i = 0; i < nvar; i++) {
			const struct variant *v = &var[i];
			double r;

			if (!bar_applies(bar, v))
				continue;
			r = bar_ratio(bar, v);
			printf("%s\"%s %s\": {", first ? "" : ", ", v->op, v->name);
			first = false;
			if (bar == 3) {
				json_str("executes", v->shape, true);
			} else {
				json_num(bar == 6 ? "speedup" : "ratio", r, true);
				json_str("against", bar_against(bar, v), true);
			}
			if (bar == 0) {
				json_num("aa_ratio", ratio(find(v->op, "framework-free-copy")), true);
				json_num("pad_ratio", ratio(find(v->op, "framework-free+pad")), true);
			}
			if (bar == 6) {
				printf("\"few_insn_backend\": %s, ",
				       few_insn_backend(v->op) ? "true" : "false");
				/* the bound: Linux's form against a direct call */
				json_num("linux_vs_direct", ratio(find(v->op, "linux-callee-save")),
					 true);
			}
			printf("\"met\": %s}", bar_met(bar, v, r) ? "true" : "false");
		}
		printf("}, \"met\": %s", bar_all(bar) ? "true" : "false");
		if (bar == 6) {	/* a figure beside the bar, not part of it */
			printf(", \"opaque_backend_speedup\": {");
			first = true;
			for (unsigned int i = 0; i < nvar; i++) {
				const struct variant *v = &var[i];

				if (!v->opaque)
					continue;
				printf("%s\"%s\": {", first ? "" : ", ", v->op);
				json_num("speedup", paired_ratio(find(v->op, "linux-callee-save"), v),
					 true);
				json_str("executes", v->shape, true);
				printf("\"thunk_calls\": %u}", v->thunk_calls);
				first = false;
			}
			printf("}");
		}
		printf("},\n");
	}
	printf("    \"patch_100k_under_10ms\": {");
	json_num("first_apply_ms", tp.ph[PH_FIRST].cpu_med, true);
	json_num("first_apply_wall_ms", tp.ph[PH_FIRST].med, true);
	json_num("reapply_ms", tp.ph[PH_REAPPLY].cpu_med, true);
	json_num("revert_ms", tp.ph[PH_REVERT].cpu_med, true);
	printf("\"met\": %s}\n  },\n", patch_bar_met() ? "true" : "false");
	printf("  \"failures\": %d\n}\n", failures);
}

/* --- main ---------------------------------------------------------------- */
static void usage(void)
{
	fprintf(stderr, "usage: bench [--json] [--quick] [--batches N] [--runs N] [--cpu N] "
		"[--stack-align 8|16]\n");
	exit(2);
}

static unsigned int num_arg(int argc, char **argv, int *i)
{
	char *end;
	unsigned long v;

	if (*i + 1 >= argc)
		usage();
	v = strtoul(argv[++*i], &end, 0);
	if (*end || v == 0 || v > 100000)
		usage();
	return (unsigned int)v;
}

static int cpu_arg(int argc, char **argv, int *i)
{
	char *end;
	long v;

	if (*i + 1 >= argc)
		usage();
	v = strtol(argv[++*i], &end, 0);
	if (*end || v < 0 || v >= CPU_SETSIZE)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;
	bool batches_set = false, runs_set = false;
	cpu_set_t set;
	double ghz;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			opt.json = true;
		else if (!strcmp(argv[i], "--quick"))
			opt.quick = true;
		else if (!strcmp(argv[i], "--batches"))
			opt.batches = num_arg(argc, argv, &i), batches_set = true;
		else if (!strcmp(argv[i], "--runs"))
			opt.runs = num_arg(argc, argv, &i), runs_set = true;
		else if (!strcmp(argv[i], "--cpu"))
			opt.cpu = cpu_arg(argc, argv, &i);
		else if (!strcmp(argv[i], "--stack-align"))
			opt.stack_align = num_arg(argc, argv, &i);
		else
			usage();
	}
	if (opt.stack_align != PVPATCH_STACK_ALIGN_8 && opt.stack_align != PVPATCH_STACK_ALIGN_16)
		usage();
	if (opt.quick) {
		if (!batches_set)
			opt.batches = 11;
		if (!runs_set)
			opt.runs = 3;
	}
	if (opt.cpu < 0)
		opt.cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(opt.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("cannot pin to CPU %d: %s", opt.cpu, strerror(errno));
	if (mprotect((void *)start, (size_t)(etext - (char *)start),
		     PROT_READ | PROT_WRITE | PROT_EXEC))
		die("mprotect text: %s", strerror(errno));
	if (mmap(BENCH_THUNKS, NR_THUNK_AREAS * THUNK_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != BENCH_THUNKS)
		die("cannot map the thunk area at %p: %s", (void *)BENCH_THUNKS, strerror(errno));

	build_variants();
	patch_bench_sites();
	check_variants();
	throughput();
	ghz = tsc_ghz();
	measure();
	check_variants();	/* still the same code after all the batches */

	if (opt.json) {
		print_json(ghz, opt.cpu);
	} else {
		print_table(ghz, opt.cpu);
		print_bars();
		if (failures)
			printf("\n%d FAILURES (see stderr)\n", failures);
	}
	return failures ? 1 : 0;
}
