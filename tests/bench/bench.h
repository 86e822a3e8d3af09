/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The hosted hardware benchmark: what the objects share.
 *
 * One program, several objects built from the same sources with different
 * flags, so every variant of an op runs in one process, interleaved:
 *
 *   bench-ops.c    BENCH_FW:  loops over pv_<op>() sites (framework headers),
 *                             one copy of each loop per mode it is patched to
 *                  otherwise: the same loops, framework-free (plain native
 *                             instructions), and the hand-written inline code
 *                  BENCH_FW + BENCH_PRESERVING: fwp_call_<op>(), the sites
 *                             patched to CALL the register-preserving
 *                             backends (their records are a range of their own)
 *   bench-calls.c  BENCH_DIRECT / BENCH_DIRECT_PRESERVING / BENCH_INDIRECT /
 *                  BENCH_RETPOLINE: the same loops calling a function: the
 *                  backend directly (plain or register-preserving), through a
 *                  pv_ops-style table (call *table(%rip)), and through that
 *                  table with retpolines (bench-asm.S has the thunks); the
 *                  table calls also with native_<op> as the target
 *   bench-lcs.c    linux_callee_save_<op>: call lcs_<op>, Linux's callee-save
 *                  thunk (bench-asm.S) around the plain backend
 *   bench-backends.c  the backends, plain (be_<op>) and register-preserving
 *                  (BENCH_PRESERVING: bep_<op>)
 *   bench.c        the harness: patching, timing, checks, output
 *   bench-throughput.c  patching the 100,000 sites of bench-mass.S, timed
 *                  (harness.h: what the two harness files share)
 *   bench-mass.S   100,000 sites, patched for throughput only (never run)
 *
 * Every loop function takes an iteration count and runs BENCH_UNROLL ops per
 * iteration; it returns a value built from the ops' results so the checks
 * can tell which code ran.
 */
#ifndef PVPATCH_BENCH_H
#define PVPATCH_BENCH_H

#include <stdint.h>

#include <asm/pvpatch.h>	/* PVPATCH_BACKEND */

#define BENCH_UNROLL	8

#define BENCH_NOINLINE	__attribute__((noinline, noclone))

/* A loop function running BENCH_UNROLL copies of its body per iteration. */
#define REP(...)	__VA_ARGS__ __VA_ARGS__ __VA_ARGS__ __VA_ARGS__ \
		__VA_ARGS__ __VA_ARGS__ __VA_ARGS__ __VA_ARGS__	/* BENCH_UNROLL */

#define LOOP(name, setup, ...)					\
	BENCH_NOINLINE uint64_t name(uint64_t n)		\
	{							\
		uint64_t acc = 0;				\
		setup;						\
		for (uint64_t i = 0; i < n; i++) {		\
			REP(__VA_ARGS__)			\
		}						\
		return acc;					\
	}
/*
 * The same with every call-clobbered register dead around each op: each op
 * sits between two statements that clobber them (BENCH_DEAD), so nothing
 * the loop keeps lives in them across the op.  Those statements emit
 * nothing, and the liveness pass sees only instructions: on the way out the
 * loop writes the registers for real (BENCH_KILL, once per call of the
 * loop, not per op), else the System V return (rax and rdx may carry a
 * result) keeps rax and rdx live after the last op of the loop.
 */
#define BENCH_DEAD	asm volatile("" : : : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", \
				     "r10", "r11", "memory")
#define BENCH_KILL	asm volatile("mov $0, %%eax; mov $0, %%ecx; mov $0, %%edx\n\t"	\
				     "mov $0, %%esi; mov $0, %%edi; mov $0, %%r8d\n\t"	\
				     "mov $0, %%r9d; mov $0, %%r10d; mov $0, %%r11d"	\
				     : : : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9",	\
				     "r10", "r11", "memory")
#define LIVE_LOOP(name, setup, ...)				\
	BENCH_NOINLINE uint64_t name(uint64_t n)		\
	{							\
		uint64_t acc = 0;				\
		setup;						\
		for (uint64_t i = 0; i < n; i++) {		\
			REP(BENCH_DEAD; __VA_ARGS__ BENCH_DEAD;)	\
		}						\
		BENCH_KILL;					\
		return acc;					\
	}

/* Functions with the C signature of pv_<op>() that a site's native code or
 * a table may call from any stack alignment (bench.c's native_<op>, built
 * with the harness's flags): they realign themselves.  The CALL backends
 * (bench-backends.c) are built as a kernel's are, for 8-byte alignment
 * (mk/bench.mk), and the harness patches with stack_align 8. */
#define BENCH_BACKEND	__attribute__((force_align_arg_pointer, noinline, noclone))
/* Register-preserving backends, as an adopting kernel writes them. */
#define BENCH_PBACKEND	PVPATCH_BACKEND __attribute__((noinline, noclone))

typedef uint64_t (*bench_loop_fn)(uint64_t n);

/* What the backends return or store: distinct from anything native. */
#define BE_SAVE_FL_VAL		0x1246ul
#define BE_MEM_SIZE_VAL		0x777000ul
#define NATIVE_MEM_SIZE_VAL	0x12345000ul
#define INLINE_SAVE_FL_VAL	0x202ul		/* INLINE template and hand-written mov */
#define BENCH_CPUID_LEAF	0u

/* The backends (bench-backends.c), with the signatures of pv_<op>():
 * be_<op> plain, bep_<op> register-preserving. */
#define BENCH_DECL_BACKENDS(P, ATTR) \
	ATTR void P##read_tsc(uint32_t *lo, uint32_t *hi); \
	ATTR unsigned long P##save_fl(void); \
	ATTR void P##restore_fl(unsigned long flags); \
	ATTR void P##sched_yield(uint32_t cpu); \
	ATTR void P##cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, \
			   uint32_t *c, uint32_t *d); \
	ATTR void P##write_cr3(unsigned long val); \
	ATTR unsigned long P##read_cr3(void); \
	ATTR uint64_t P##mem_size(void);
BENCH_DECL_BACKENDS(be_, )
BENCH_DECL_BACKENDS(bep_, PVPATCH_BACKEND)

extern volatile unsigned long be_stored;	/* last value a storing backend got */
extern unsigned long be_cr3;			/* what be_read_cr3 returns */

/* The pv_ops-style table the indirect and retpoline loops call through:
 * writable, as Linux's pv_ops is (__ro_after_init), so the compiler cannot
 * turn the calls into direct ones. */
struct bench_pv_ops {
	void (*read_tsc)(uint32_t *lo, uint32_t *hi);
	unsigned long (*save_fl)(void);
	void (*restore_fl)(unsigned long flags);
	void (*sched_yield)(uint32_t cpu);
	void (*cpuid)(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c,
		      uint32_t *d);
	void (*write_cr3)(unsigned long val);
	unsigned long (*read_cr3)(void);
	uint64_t (*mem_size)(void);
};

extern struct bench_pv_ops bench_pv_ops;		/* the backends, be_<op> */
extern struct bench_pv_ops bench_pv_ops_native;	/* native_<op> (no cr3 ops) */

/* The native instructions in functions, as a pv_ops kernel has them
 * (native_save_fl, ...); native_mem_size is also what the mem_size sites'
 * native code calls. */
void native_read_tsc(uint32_t *lo, uint32_t *hi);
unsigned long native_save_fl(void);
void native_restore_fl(unsigned long flags);
void native_sched_yield(uint32_t cpu);
void native_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c,
		  uint32_t *d);
uint64_t native_mem_size(void);

/*
 * The loops.  ref_<op>: framework-free (ref2_<op>: a copy, the A/A
 * control; refpad_<op>: with the padding NOP, if any, after each op); fw_<mode>_<op>: framework sites, one
 * copy per mode the harness patches them to; hand_inline_<op>: hand-written
 * equivalent of an INLINE template; direct_<op>, indirect_<op>,
 * retpoline_<op>: calls of the backend from C; directp_<op> and
 * fwp_call_<op>: the same with the register-preserving backend; indirect_native_<op>,
 * retpoline_native_<op>: pv_ops calls of native_<op>.  Each list is the one
 * definition both the objects and the harness's variant table expand.
 */
#define BENCH_REF_OPS(X) X(read_tsc) X(save_fl) X(restore_fl) X(sched_yield) X(cpuid) \
	X(mem_size)
#define BENCH_CALL_OPS(X) X(read_tsc) X(save_fl) X(restore_fl) X(sched_yield) X(cpuid) \
	X(write_cr3) X(read_cr3) X(mem_size)
#define BENCH_FW_LOOPS(X) \
	X(read_tsc, native) X(read_tsc, inline) X(read_tsc, call) \
	X(save_fl, native) X(save_fl, inline) X(save_fl, call) \
	X(restore_fl, native) X(restore_fl, call) \
	X(sched_yield, native) X(sched_yield, nop) X(sched_yield, inline) X(sched_yield, call) \
	X(cpuid, native) X(cpuid, inline) X(cpuid, call) \
	X(write_cr3, call) X(read_cr3, call) \
	X(mem_size, native) X(mem_size, call)

/* The padding instruction each op's NATIVE sites execute (from its site and
 * native lengths in the spec; the harness checks it against the patched
 * sites), added after each op by the refpad_<op> loops. */
#define BENCH_PADS(X) X(read_tsc, nop) X(save_fl, nop) X(restore_fl, nop) \
	X(sched_yield, nop) X(cpuid, nop) X(mem_size, none)

#define BENCH_DECL_REF(op) uint64_t ref_##op(uint64_t n); uint64_t ref2_##op(uint64_t n); \
	uint64_t refpad_##op(uint64_t n); \
	uint64_t indirect_native_##op(uint64_t n); uint64_t retpoline_native_##op(uint64_t n);
#define BENCH_DECL_CALLS(op) uint64_t direct_##op(uint64_t n); \
	uint64_t indirect_##op(uint64_t n); uint64_t retpoline_##op(uint64_t n); \
	uint64_t directp_##op(uint64_t n); uint64_t fwp_call_##op(uint64_t n);
#define BENCH_DECL_FW(op, mode) uint64_t fw_##mode##_##op(uint64_t n);
/* Per CALL op: Linux's callee-save thunk call (bench-lcs.c), the CALL
 * sites where every call-clobbered register is dead (bench-ops.c), a
 * direct call of the backend in that same loop (bench-calls.c) and the
 * CALL sites of a plain backend not analysed (bench-ops.c, CALL-opaque). */
#define BENCH_DECL_LIVE(op) uint64_t linux_callee_save_##op(uint64_t n); \
	uint64_t fwl_call_##op(uint64_t n); uint64_t direct_live_##op(uint64_t n); \
	uint64_t fwo_call_##op(uint64_t n);
BENCH_CALL_OPS(BENCH_DECL_LIVE)
BENCH_REF_OPS(BENCH_DECL_REF)
BENCH_CALL_OPS(BENCH_DECL_CALLS)
BENCH_FW_LOOPS(BENCH_DECL_FW)

uint64_t hand_inline_save_fl(uint64_t n);
uint64_t bench_empty(uint64_t n);

#endif
