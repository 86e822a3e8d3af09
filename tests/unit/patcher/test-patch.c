// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Hosted tests of the runtime patcher: the patcher, built unchanged for
 * userspace, patches this very program's call sites (text made writable
 * with mprotect), and the patched sites are executed and their effects
 * checked.  Every write the patcher makes goes through a poke hook that
 * fails the test if it leaves a site or the thunk area.
 *
 * PVPATCH_DUMP=FILE writes the bytes of the sites the tests built, with the
 * instructions they must decode to, and PVPATCH_THUNK_DUMP=FILE the used
 * thunk area after test_thunk_area_holds_only_code, for
 * tests/unit/test_patcher.py to cross-check with capstone.
 */
#define _GNU_SOURCE	/* REG_RIP, REG_RSP (ucontext) */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cpuid.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <asm/pvpatch.h>
#include "insn.h"
#include "sites.h"

extern const struct pvpatch_site __pvpatch_sites_start[], __pvpatch_sites_end[];
extern char __executable_start[], etext[];

#define MAX_SITES	256
/* What a SysV call may change: rax rcx rdx rsi rdi r8-r11. */
#define CALLER_SAVED	((uint16_t)(1u << PVPATCH_REG_RAX | 1u << PVPATCH_REG_RCX |		\
				    1u << PVPATCH_REG_RDX | 1u << PVPATCH_REG_RSI |		\
				    1u << PVPATCH_REG_RDI | 1u << PVPATCH_REG_R8 |		\
				    1u << PVPATCH_REG_R9 | 1u << PVPATCH_REG_R10 |		\
				    1u << PVPATCH_REG_R11))
#define THUNK_AREA	((void *)0x30000000ul)	/* within rel32 of a -no-pie text */
#define THUNK_SIZE	8192
#define AUX_THUNKS	((void *)0x30100000ul)	/* for a second descriptor */
#define AUX_THUNK_SIZE	4096
#define FAMILY_AREA	((uint8_t *)0x30200000ul)	/* backends to free */
#define FAMILY_SIZE	4096
/* test_thunk_index_*: MANY sites in a text of their own, and their thunks */
#define MANY		640
#define MANY_TEXT	((uint8_t *)0x30400000ul)	/* within rel32 of the backends */
#define MANY_TEXT_SIZE	(MANY * 16)
#define MANY_THUNKS	((uint8_t *)0x30500000ul)
#define MANY_THUNK_SIZE	(160 * 1024)		/* two generations of MANY thunks */

static struct pvpatch pv;
static struct pvpatch_site_state state[MAX_SITES];
static uint8_t saved[MAX_SITES * PVPATCH_MAX_SITE];
static struct pvpatch_thunk_slot tindex[PVPATCH_THUNK_SLOTS(MAX_SITES)];
static uint8_t *text_copy;
static size_t text_len;
static struct pvpatch_policy pol;
static struct pvpatch_report rep;
static FILE *dump;
static const char *thunk_dump;
static bool mutate_no_quiesce;	/* PVPATCH_MUTATE_NO_QUIESCE: the mutation check */

/* --- the poke hook: every write must stay inside one site or the thunks -- */
/* pvpatch_repatch()'s hooks and pokes, in order: S stop, R release (no
 * write), W release after writes, Y sync, P poke. */
static char rv_log[256];
static unsigned int rv_n;

static void rv_event(char c)
{
	if (rv_n + 1 < sizeof(rv_log)) {
		rv_log[rv_n++] = c;
		rv_log[rv_n] = 0;
	}
}

static unsigned int pokes, thunk_pokes;

static int inside_site(uintptr_t a, size_t len, const struct pvpatch_site *s,
		       const struct pvpatch_site *end)
{
	for (; s < end; s++) {
		uintptr_t b = (uintptr_t)pvpatch_site_addr(s);

		if (a >= b && a + len <= b + s->site_len)
			return 1;
	}
	return 0;
}

static void checked_poke(void *addr, const void *src, size_t len, void *arg)
{
	const struct pvpatch *p = arg;
	uintptr_t a = (uintptr_t)addr;
	int ok = inside_site(a, len, p->sites, p->sites_end) ||
		 (p->thunks && a >= (uintptr_t)p->thunks &&
		  a + len <= (uintptr_t)p->thunks + p->thunks_size) ||
		 (a >= (uintptr_t)FAMILY_AREA && a + len <= (uintptr_t)FAMILY_AREA + FAMILY_SIZE);

	if (!ok) {
		fprintf(stderr, "poke outside sites: %p + %zu\n", addr, len);
		abort();
	}
	pokes++;
	thunk_pokes += p->thunks && a >= (uintptr_t)p->thunks;
	memcpy(addr, src, len);
	rv_event('P');
}

/* --- the backends, with the signatures of pv_<op>() ---------------------- */
#define BACKEND __attribute__((force_align_arg_pointer, noinline))

static unsigned long cr3_seen;
static unsigned int cr3_calls;
static void *ipi_apic;
static uint32_t ipi_dest, ipi_icr;

BACKEND static void be_write_cr3(unsigned long v)
{
	cr3_seen = v;
	cr3_calls++;
}

BACKEND static unsigned long be_read_cr3(void)
{
	return 0xabc000;
}

BACKEND static void be_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b,
			     uint32_t *c, uint32_t *d)
{
	__cpuid_count(leaf, subleaf, *a, *b, *c, *d);
}

BACKEND static void be_rdmsr(uint32_t msr, uint32_t *lo, uint32_t *hi)
{
	*lo = msr + 1;
	*hi = msr + 2;
}

BACKEND static void be_send_ipi(void *apic, uint32_t dest, uint32_t icr)
{
	ipi_apic = apic;
	ipi_dest = dest;
	ipi_icr = icr;
}

BACKEND static unsigned long be_mem_size(void)
{
	return 0x777000;
}

BACKEND static unsigned long be_save_fl(void)
{
	return 0x246;
}

BACKEND static void be_set_pte(uint64_t *p, uint64_t v)
{
	*p = v ^ 1;
}

/* --- helpers ------------------------------------------------------------- */

/* The record of the first site of op at or after fn (in fn). */
static const struct pvpatch_site *rec(const void *fn, unsigned int op)
{
	const struct pvpatch_site *best = NULL;

	for (const struct pvpatch_site *s = __pvpatch_sites_start; s < __pvpatch_sites_end; s++) {
		const uint8_t *a = pvpatch_site_addr(s);

		if (s->op == op && a >= (const uint8_t *)fn && a < (const uint8_t *)fn + 512 &&
		    (!best || a < (const uint8_t *)pvpatch_site_addr(best)))
			best = s;
	}
	assert_non_null(best);
	return best;
}

static const uint8_t *site_bytes(const struct pvpatch_site *s)
{
	return pvpatch_site_addr(s);
}

static unsigned int count_op(unsigned int op)
{
	unsigned int n = 0;

	for (const struct pvpatch_site *s = __pvpatch_sites_start; s < __pvpatch_sites_end; s++)
		n += s->op == op;
	return n;
}

/* Where a call (e8) or jmp (e9) rel32 at p goes. */
static uintptr_t call_target_of(const uint8_t *p, uint8_t opcode)
{
	int32_t rel;

	assert_int_equal(p[0], opcode);
	memcpy(&rel, p + 1, 4);
	return (uintptr_t)p + 5 + (intptr_t)rel;
}

/* Where a call at site s goes (the site starts with e8 rel32). */
static uintptr_t call_target(const uint8_t *p)
{
	return call_target_of(p, 0xe8);
}

/* Record a site for the capstone cross-check: expected is the text the
 * instructions must decode to, separated by "; ". */
static void dump_site(const char *test, const struct pvpatch_site *s, const char *expected)
{
	if (!dump)
		return;
	fprintf(dump, "%s %lx ", test, (unsigned long)(uintptr_t)pvpatch_site_addr(s));
	for (unsigned int i = 0; i < s->site_len; i++)
		fprintf(dump, "%02x", site_bytes(s)[i]);
	fprintf(dump, " %s\n", expected);
}

/* The same for the out-of-line stub a site in INLINE mode jumps to: its
 * code as the thunk index knows its length. */
static void dump_stub(const char *test, const struct pvpatch_site *s, const char *expected)
{
	uintptr_t stub = call_target_of(site_bytes(s), 0xe9);

	if (!dump)
		return;
	for (size_t k = 0; k < pv.index_slots; k++) {
		const struct pvpatch_thunk_slot *t = &pv.thunk_index[k];

		if (!t->code || (uintptr_t)pv.thunks + t->code - 1 != stub)
			continue;
		fprintf(dump, "%s %lx ", test, (unsigned long)stub);
		for (unsigned int i = 0; i < t->len; i++)
			fprintf(dump, "%02x", ((const uint8_t *)stub)[i]);
		fprintf(dump, " %s\n", expected);
		return;
	}
	fail_msg("%s: no stub at %lx", test, (unsigned long)stub);
}

static void patch(void)
{
	assert_int_equal(pvpatch_apply(&pv, &pol, &rep), 0);
}

static unsigned int rejects_with(enum pvpatch_reason r)
{
	return rep.reasons[r];
}

/* --- fixtures ------------------------------------------------------------ */
static int group_setup(void **st)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;
	void *thunks;
	const char *d = getenv("PVPATCH_DUMP");

	(void)st;
	text_len = (size_t)(etext - (char *)start);
	if (mprotect((void *)start, text_len, PROT_READ | PROT_WRITE | PROT_EXEC))
		return -1;
	thunks = mmap(THUNK_AREA, THUNK_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (thunks != THUNK_AREA)
		return -1;
	if (mmap(AUX_THUNKS, AUX_THUNK_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != AUX_THUNKS)
		return -1;
	if (mmap(FAMILY_AREA, FAMILY_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != FAMILY_AREA)
		return -1;
	if (mmap(MANY_TEXT, MANY_TEXT_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != MANY_TEXT ||
	    mmap(MANY_THUNKS, MANY_THUNK_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != MANY_THUNKS)
		return -1;
	text_copy = malloc(text_len);
	memcpy(text_copy, (void *)start, text_len);
	if ((size_t)(__pvpatch_sites_end - __pvpatch_sites_start) > MAX_SITES)
		return -1;
	pv = (struct pvpatch){
		.sites = __pvpatch_sites_start, .sites_end = __pvpatch_sites_end,
		.text_start = (uintptr_t)__executable_start, .text_end = (uintptr_t)etext,
		.state = state, .saved = saved, .saved_size = sizeof(saved),
		.thunks = thunks, .thunks_size = THUNK_SIZE,
		.thunk_index = tindex, .thunk_slots = PVPATCH_THUNK_SLOTS(MAX_SITES),
		.poke = checked_poke, .poke_arg = &pv,
		/* The test's backends: BACKEND realigns itself, the
		 * register-preserving ones are built -mpreferred-stack-boundary=3. */
		.stack_align = PVPATCH_STACK_ALIGN_8,
	};
	if (d)
		dump = fopen(d, "w");
	thunk_dump = getenv("PVPATCH_THUNK_DUMP");
	mutate_no_quiesce = getenv("PVPATCH_MUTATE_NO_QUIESCE") != NULL;
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	if (dump)
		fclose(dump);
	free(text_copy);
	return 0;
}

/* Every test starts from native text and an all-NATIVE policy. */
static int setup(void **st)
{
	(void)st;
	memset(&pol, 0, sizeof(pol));
	memset(&rep, 0, sizeof(rep));
	pv.flags = 0;
	pv.print = NULL;
	pv.lookup = NULL;
	if (pvpatch_revert(&pv, &rep))
		return -1;
	cr3_calls = 0;
	return 0;
}

static void assert_text_native(void)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;

	assert_memory_equal((void *)start, text_copy, text_len);
}

/* --- NATIVE -------------------------------------------------------------- */
static void test_native_is_the_compiled_code(void **st)
{
	(void)st;
	patch();
	assert_int_equal(rep.sites, __pvpatch_sites_end - __pvpatch_sites_start);
	assert_int_equal(rep.invalid, 0);
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], rep.sites);
	/* The patcher's padding is the assembler's: nothing to write. */
	assert_int_equal(rep.written, 0);
	assert_int_equal(rep.bytes_changed, 0);
	assert_text_native();
}

static void test_native_executes(void **st)
{
	uint32_t r[4], a, b, c, d;
	uint64_t t0, t1;

	(void)st;
	patch();
	t0 = site_read_tsc();
	t1 = site_read_tsc();
	assert_true(t1 > t0);
	site_cpuid(0, 0, r);
	__cpuid_count(0, 0, a, b, c, d);
	assert_int_equal(r[0], a);
	assert_int_equal(r[1], b);
	assert_int_equal(r[2], c);
	assert_int_equal(r[3], d);
	assert_true(site_save_fl() & 0x2);	/* RFLAGS bit 1 is always set */
	assert_true(site_save_fl() & 0x200);	/* IF: user code runs with interrupts on */
	site_restore_fl(site_save_fl());
	site_sched_yield(0);
	assert_int_equal(site_mem_size(), native_mem_size());
}

/* --- CALL ---------------------------------------------------------------- */
static void test_call_through_thunk(void **st)
{
	const struct pvpatch_site *s = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);

	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_WRITE_CR3][PVPATCH_MODE_CALL],
			 count_op(PVPATCH_OP_WRITE_CR3));
	assert_int_equal(rep.fallbacks, 0);
	/* write_cr3 sites keep every register: the call goes to a thunk. */
	assert_true(call_target(site_bytes(s)) >= (uintptr_t)THUNK_AREA);
	assert_true(rep.thunk_bytes > 0);
	site_write_cr3(0x5000);
	assert_int_equal(cr3_seen, 0x5000);
	assert_int_equal(cr3_calls, 1);
	dump_site("call_thunk", s, "call");
}

static unsigned long live_expected(unsigned long a, unsigned long b, unsigned long c,
				   unsigned long d, unsigned long e, unsigned long f)
{
	return a + b * 2 + c * 4 + d * 8 + e * 16 + f * 32 + a * 3 + ((b * 5) << 1) +
	       ((c * 7) << 2) + ((d * 11) << 3) + ((e * 13) << 4) + ((f * 17) << 5);
}

static void test_call_preserves_live_registers(void **st)
{
	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	patch();
	assert_int_equal(site_write_cr3_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
	assert_int_equal(cr3_seen, 1 ^ 6);
	assert_int_equal(site_write_cr3_live(0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666),
			 live_expected(0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666));
	assert_int_equal(cr3_seen, 0x1111 ^ 0x6666);
}

/* A thunk aligns the stack without a frame register: %rbp operands work. */
static void test_call_rbp_operands(void **st)
{
	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_read_cr3 };
	patch();
	assert_int_equal(site_bytes(rec(site_write_cr3_rbp, PVPATCH_OP_WRITE_CR3))[0], 0xe8);
	site_write_cr3_rbp(0x5000);
	assert_int_equal(cr3_seen, 0x5000);
	assert_int_equal(site_read_cr3_rbp(), 0xabc000);
}

static void test_call_returns_result(void **st)
{
	(void)st;
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_read_cr3 };
	patch();
	assert_int_equal(site_read_cr3(), 0xabc000);
	assert_int_equal(site_read_cr3_live(2, 3, 4), 0xabc000 + 6 * 3 + 12 * 5 + 2 + 3 + 4);
}

static void test_call_multiple_outputs(void **st)
{
	uint32_t native[4], called[4], msr[2];

	(void)st;
	site_cpuid(1, 0, native);
	pol.op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_cpuid };
	pol.op[PVPATCH_OP_RDMSR] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_rdmsr };
	patch();
	assert_int_equal(site_bytes(rec(site_cpuid, PVPATCH_OP_CPUID))[0], 0xe8);
	site_cpuid(1, 0, called);
	/* Leaf 1 EBX holds the APIC id of the CPU we run on: compare the rest. */
	assert_int_equal(called[0], native[0]);
	assert_int_equal(called[2], native[2]);
	assert_int_equal(called[3], native[3]);
	site_rdmsr(0x10, msr);
	assert_int_equal(msr[0], 0x11);
	assert_int_equal(msr[1], 0x12);
}

static void test_call_argument_permutations(void **st)
{
	int x;

	(void)st;
	pol.op[PVPATCH_OP_SEND_IPI] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_send_ipi };
	patch();
	site_send_ipi(&x, 0x01000000, 0x4041);
	assert_ptr_equal(ipi_apic, &x);
	assert_int_equal(ipi_dest, 0x01000000);
	assert_int_equal(ipi_icr, 0x4041);
	site_send_ipi_swapped(0x4042, 0x02000000, &st);
	assert_ptr_equal(ipi_apic, &st);
	assert_int_equal(ipi_dest, 0x02000000);
	assert_int_equal(ipi_icr, 0x4042);
}

static void test_call_direct(void **st)
{
	const struct pvpatch_site *s = rec(site_mem_size, PVPATCH_OP_MEM_SIZE);
	unsigned int thunks_before = rep.thunk_bytes;	/* thunks outlive re-patching */
	char expect[64];

	(void)st;
	pol.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_mem_size };
	patch();
	/* mem_size sites may lose every caller-saved register: the backend is
	 * called from the site itself, no thunk. */
	assert_int_equal(call_target(site_bytes(s)), (uintptr_t)be_mem_size);
	assert_int_equal(rep.thunk_bytes, thunks_before);
	assert_int_equal(site_mem_size(), 0x777000);
	snprintf(expect, sizeof(expect), "call 0x%lx", (unsigned long)(uintptr_t)be_mem_size);
	dump_site("call_direct", s, expect);
}

/*
 * Widen a record's mask in place, as the liveness pass does on a linked
 * kernel (same record, same size), for the sites of sites-asm.S after which
 * every call-clobbered register is dead.  Returns the mask it had.
 */
static uint16_t widen_mask(const struct pvpatch_site *s, uint16_t more)
{
	uintptr_t page = (uintptr_t)s & ~(uintptr_t)4095;
	uint16_t old = s->clobbers;

	assert_int_equal(mprotect((void *)page, 8192, PROT_READ | PROT_WRITE), 0);
	((struct pvpatch_site *)s)->clobbers = (uint16_t)(old | more);
	return old;
}

/* Every register a C call clobbers is in the site's mask: the backend is
 * called from the site itself, arguments moved there, no save, no thunk. */
static void test_call_direct_widened_mask(void **st)
{
	const struct pvpatch_site *w = rec(site_write_cr3_dead, PVPATCH_OP_WRITE_CR3);
	const struct pvpatch_site *f = rec(site_save_fl_dead, PVPATCH_OP_SAVE_FL);
	const uint8_t *p = site_bytes(w), *q = site_bytes(f);
	uint16_t w_old, f_old;
	unsigned int thunks_before;
	char expect[96];

	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_save_fl };
	/* The declared masks: through the register-saving thunk. */
	patch();
	assert_true(call_target(p) >= (uintptr_t)pv.thunks);
	assert_true(call_target(q) >= (uintptr_t)pv.thunks);
	site_write_cr3_dead(0x3000);
	assert_int_equal(cr3_seen, 0x3000);
	assert_int_equal(site_save_fl_dead(), 0x246);

	w_old = widen_mask(w, CALLER_SAVED);
	f_old = widen_mask(f, CALLER_SAVED);
	memset(&pol, 0, sizeof(pol));
	patch();
	thunks_before = rep.thunk_bytes;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_save_fl };
	patch();
	assert_int_equal(rep.thunk_bytes, thunks_before);
	/* mov %rsi, %rdi; call be_write_cr3; nop */
	assert_memory_equal(p, ((const uint8_t[]){ 0x48, 0x89, 0xf7 }), 3);
	assert_int_equal(call_target(p + 3), (uintptr_t)be_write_cr3);
	site_write_cr3_dead(0x4000);
	assert_int_equal(cr3_seen, 0x4000);
	snprintf(expect, sizeof(expect), "movq %%rsi, %%rdi; call 0x%lx",
		 (unsigned long)(uintptr_t)be_write_cr3);
	dump_site("call_direct_widened_arg", w, expect);
	/* call be_save_fl; mov %rax, %r8; nop */
	assert_int_equal(call_target(q), (uintptr_t)be_save_fl);
	assert_memory_equal(q + 5, ((const uint8_t[]){ 0x49, 0x89, 0xc0 }), 3);
	assert_int_equal(site_save_fl_dead(), 0x246);
	snprintf(expect, sizeof(expect), "call 0x%lx; movq %%rax, %%r8",
		 (unsigned long)(uintptr_t)be_save_fl);
	dump_site("call_direct_widened_ret", f, expect);
	((struct pvpatch_site *)w)->clobbers = w_old;
	((struct pvpatch_site *)f)->clobbers = f_old;
}

/*
 * Plain backends whose write set is known (policy .writes, what the
 * liveness pass records for a plain C backend): a site whose live
 * registers miss it calls the backend itself, and a thunk saves only the
 * registers of it the site keeps.  The probes keep every caller-saved
 * register live (0x1000 + n in register n) and store all sixteen after
 * the site.
 */
#define PROBE_FILLED(n)	(0x1000ul + (n))

static void assert_probe_kept(const uint64_t *out, unsigned int except)
{
	for (unsigned int r = 0; r < 16; r++)
		if ((CALLER_SAVED >> r & 1) && r != except)
			assert_int_equal(out[r], PROBE_FILLED(r));
}

static void test_call_known_writes_direct(void **st)
{
	const struct pvpatch_site *s = rec(site_probe_save_fl, PVPATCH_OP_SAVE_FL);
	uint64_t out[16];
	char expect[64];

	(void)st;
	/* Not known: every caller-saved register is live, so a thunk. */
	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = abe_save_fl_rax };
	patch();
	assert_true(call_target(site_bytes(s)) >= (uintptr_t)pv.thunks);
	site_probe_save_fl(out);
	assert_int_equal(out[0], 0x1246);
	assert_probe_kept(out, 0);
	/* Known to write rax, the site's own output: the site calls it. */
	pol.op[PVPATCH_OP_SAVE_FL].writes = PVPATCH_WRITES_KNOWN | 1u << PVPATCH_REG_RAX;
	patch();
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(call_target(site_bytes(s)), (uintptr_t)abe_save_fl_rax);
	site_probe_save_fl(out);
	assert_int_equal(out[0], 0x1246);
	assert_probe_kept(out, 0);
	snprintf(expect, sizeof(expect), "call 0x%lx", (unsigned long)(uintptr_t)abe_save_fl_rax);
	dump_site("call_known_writes_direct", s, expect);
}

static void test_call_known_writes_thunk(void **st)
{
	const struct pvpatch_site *s = rec(site_probe_write_cr3, PVPATCH_OP_WRITE_CR3);
	unsigned int before, whole, lean;
	uint64_t out[16];
	uintptr_t t;

	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = abe_write_cr3_r10 };
	before = rep.thunk_bytes;
	patch();
	whole = rep.thunk_bytes - before;
	site_probe_write_cr3(out, 0x7000);
	assert_int_equal(abe_seen, 0x7000);
	assert_probe_kept(out, 99);
	/* Known to write r10: the thunk saves r10 and rdi (the argument's
	 * register), nothing else: push %rdi; push %r10; mov %r12,%rdi;
	 * call; pop %r10; pop %rdi; ret; int3. */
	pol.op[PVPATCH_OP_WRITE_CR3].writes = PVPATCH_WRITES_KNOWN | 1u << PVPATCH_REG_R10;
	before = rep.thunk_bytes;
	patch();
	lean = rep.thunk_bytes - before;
	t = call_target(site_bytes(s));
	assert_true(t >= (uintptr_t)pv.thunks);
	assert_memory_equal((const uint8_t *)t, ((const uint8_t[]){ 0x57, 0x41, 0x52, 0x4c, 0x89, 0xe7,
								      0xe8 }), 7);
	assert_int_equal(call_target((const uint8_t *)t + 6), (uintptr_t)abe_write_cr3_r10);
	assert_memory_equal((const uint8_t *)t + 11, ((const uint8_t[]){ 0x41, 0x5a, 0x5f, 0xc3,
									   0xcc }), 5);
	assert_true(lean < whole);
	site_probe_write_cr3(out, 0x8000);
	assert_int_equal(abe_seen, 0x8000);
	assert_probe_kept(out, 99);
	/* The negative control: a write set that leaves out r10 lets the
	 * backend's write reach the site's live r10. */
	pol.op[PVPATCH_OP_WRITE_CR3].writes = PVPATCH_WRITES_KNOWN;
	patch();
	site_probe_write_cr3(out, 0x9000);
	assert_int_equal(abe_seen, 0x9000);
	assert_int_equal(out[PVPATCH_REG_R10], 0xbad0);
	assert_probe_kept(out, PVPATCH_REG_R10);
}

/* A template saving a register it uses keeps the push and pop where the
 * register is live, and drops them where the mask says it is free. */
static const struct pvpatch_template t_save_rcx = {
	.name = "save-rcx", .n_insns = 4,
	.insn = { { PVT_PUSH, PVPATCH_REG_RCX, PVT_NONE, 8, 0 },
		  { PVT_MOVI, PVPATCH_REG_RCX, PVT_IMM(0), 4, 0 },
		  { PVT_MOV, PVT_RET, PVPATCH_REG_RCX, 8, 0 },
		  { PVT_POP, PVPATCH_REG_RCX, PVT_NONE, 8, 0 } },
};

static void test_inline_scratch_from_mask(void **st)
{
	const struct pvpatch_site *f = rec(site_save_fl_dead, PVPATCH_OP_SAVE_FL);
	const uint8_t *q = site_bytes(f);
	uint16_t f_old;

	(void)st;
	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_save_rcx, .params = { 0x297 } };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	/* push %rcx; mov $0x297, %ecx; mov %rcx, %r8; pop %rcx */
	assert_memory_equal(q, ((const uint8_t[]){ 0x51, 0xb9, 0x97, 0x02, 0x00, 0x00,
						   0x49, 0x89, 0xc8, 0x59 }), 10);
	assert_int_equal(site_save_fl_dead(), 0x297);
	dump_site("inline_scratch_live", f, "pushq %rcx; movl $0x297, %ecx; movq %rcx, %r8; popq %rcx");
	f_old = widen_mask(f, CALLER_SAVED);
	patch();
	assert_int_equal(rep.fallbacks, 0);
	/* mov $0x297, %ecx; mov %rcx, %r8; then one NOP */
	assert_memory_equal(q, ((const uint8_t[]){ 0xb9, 0x97, 0x02, 0x00, 0x00,
						   0x49, 0x89, 0xc8 }), 8);
	assert_int_equal(site_save_fl_dead(), 0x297);
	dump_site("inline_scratch_free", f, "movl $0x297, %ecx; movq %rcx, %r8");
	((struct pvpatch_site *)f)->clobbers = f_old;
}

static void test_call_set_pte(void **st)
{
	uint64_t pte = 0;

	(void)st;
	pol.op[PVPATCH_OP_SET_PTE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_set_pte };
	patch();
	site_set_pte(&pte, 0x1000);
	assert_int_equal(pte, 0x1001);
}

/* Register-preserving backends: no thunk where no register must move, and
 * a thunk that saves only what it overwrites where one must. */
static void test_call_preserving_backend(void **st)
{
	const struct pvpatch_site *irq = rec(site_irq_disable, PVPATCH_OP_IRQ_DISABLE);
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	unsigned int thunks_before = rep.thunk_bytes;

	(void)st;
	pol.op[PVPATCH_OP_IRQ_DISABLE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_irq_disable, .preserves = 1 };
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_write_cr3, .preserves = 1 };
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_read_cr3, .preserves = 1 };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	/* irq_disable has no operand: the site calls the backend itself. */
	assert_int_equal(call_target(site_bytes(irq)), (uintptr_t)pbe_irq_disable);
	/* write_cr3 with its argument already in %rdi: likewise. */
	if (pvpatch_site_reg(w, PVPATCH_SLOT_ARG0) == PVPATCH_REG_RDI)
		assert_int_equal(call_target(site_bytes(w)), (uintptr_t)pbe_write_cr3);
	pbe_calls = 0;
	site_irq_disable();	/* natively cli, which would kill this process */
	site_write_cr3(0x9000);
	assert_int_equal(pbe_cr3_seen, 0x9000);
	assert_int_equal(site_write_cr3_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
	assert_int_equal(pbe_cr3_seen, 1 ^ 6);
	assert_int_equal(site_read_cr3(), 0xdef000);
	assert_int_equal(site_read_cr3_live(2, 3, 4), 0xdef000 + 6 * 3 + 12 * 5 + 2 + 3 + 4);
	site_write_cr3_rbp(0x7000);
	assert_int_equal(pbe_cr3_seen, 0x7000);
	assert_int_equal(site_read_cr3_rbp(), 0xdef000);
	assert_int_equal(pbe_calls, 7);
	/* The thunks it needed are smaller than the register-saving ones. */
	assert_true(rep.thunk_bytes - thunks_before <= 4 * 48);
}

/* Several outputs through a register-preserving backend: the lean thunk
 * passes stack slots, saves only the pointer and argument registers it
 * fills and keeps every live register. */
static void test_call_preserving_multiple_outputs(void **st)
{
	uint32_t native[4], called[4], msr[2];
	unsigned int thunks_before = rep.thunk_bytes;
	unsigned long lo_hi = (unsigned long)(0x22 + (1 ^ 6)) << 32 | (0x21 + (1 ^ 6));

	(void)st;
	site_cpuid(0, 0, native);
	pol.op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_cpuid, .preserves = 1 };
	pol.op[PVPATCH_OP_RDMSR] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_rdmsr, .preserves = 1 };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	pbe_calls = 0;
	site_cpuid(0, 0, called);
	assert_memory_equal(called, native, sizeof(native));
	site_rdmsr(0x10, msr);
	assert_int_equal(msr[0], 0x31);
	assert_int_equal(msr[1], 0x32);
	assert_int_equal(site_rdmsr_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6) + lo_hi);
	assert_int_equal(pbe_calls, 3);
	/* No stack alignment, no saving of the registers the backend keeps. */
	assert_true(rep.thunk_bytes - thunks_before <= 3 * 80);
}

/* A site with room calls a register-preserving backend itself, saving and
 * restoring inline the registers the call sequence overwrites. */
static void test_call_preserving_inline_saves(void **st)
{
	const struct pvpatch_site *s = rec(site_sched_yield_live, PVPATCH_OP_SCHED_YIELD);
	const uint8_t *p = site_bytes(s);
	unsigned int arg = pvpatch_site_reg(s, PVPATCH_SLOT_ARG0), thunks_before = rep.thunk_bytes;
	uint8_t want[16];
	unsigned int n = 0;
	int32_t rel;
	char expect[160];

	(void)st;
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_sched_yield, .preserves = 1 };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(s->site_len, 10);	/* native_max 2, the CALL form 10 */
	assert_int_equal(rep.thunk_bytes, thunks_before);
	/* push %rdi; mov %<arg>, %rdi; call backend; pop %rdi; then padding
	 * (or just the call when the compiler chose %rdi). */
	if (arg != PVPATCH_REG_RDI) {
		want[n++] = 0x57;
		want[n++] = (uint8_t)(0x48 | (arg >= 8 ? 4 : 0));
		want[n++] = 0x89;
		want[n++] = (uint8_t)(0xc0 | (arg & 7) << 3 | 7);
	}
	want[n++] = 0xe8;
	rel = (int32_t)((intptr_t)pbe_sched_yield - (intptr_t)(p + n + 4));
	memcpy(want + n, &rel, 4);
	n += 4;
	if (arg != PVPATCH_REG_RDI)
		want[n++] = 0x5f;
	assert_memory_equal(p, want, n);
	pbe_calls = 0;
	assert_int_equal(site_sched_yield_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
	assert_int_equal(pbe_cpu_seen, 1 ^ 6);
	assert_int_equal(site_sched_yield_live(0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666),
			 live_expected(0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666));
	assert_int_equal(pbe_cpu_seen, 0x1111 ^ 0x6666);
	assert_int_equal(pbe_calls, 2);
	if (arg != PVPATCH_REG_RDI)
		snprintf(expect, sizeof(expect), "push %%rdi; movq %%%s, %%rdi; call 0x%lx; pop %%rdi",
			 pvpatch_reg_names[arg], (unsigned long)(uintptr_t)pbe_sched_yield);
	else
		snprintf(expect, sizeof(expect), "call 0x%lx",
			 (unsigned long)(uintptr_t)pbe_sched_yield);
	dump_site("call_inline_saves", s, expect);
}

/* --- thunks: what they end with, what the area holds, reuse ------------- */

/* A return thunk as a kernel's __x86_return_thunk: it counts and returns. */
volatile unsigned long rethunk_calls;
__asm__(".text\n"
	".globl test_return_thunk\n"
	".type test_return_thunk, @function\n"
	"test_return_thunk:\n"
	"	lock incq rethunk_calls(%rip)\n"
	"	ret\n"
	"	int3\n"
	".size test_return_thunk, . - test_return_thunk\n");
void test_return_thunk(void);

/* Where the call of a patched site goes (0: it calls nothing). */
static uintptr_t site_call(const struct pvpatch_site *s)
{
	const uint8_t *p = site_bytes(s);
	unsigned int off = 0;
	struct insn insn;

	while (off < s->site_len) {
		int l = insn_decode(&insn, p + off, s->site_len - off);

		assert_true(l > 0);
		if (insn.branch == INSN_BR_CALL)
			return (uintptr_t)insn_rel_target(&insn, (uintptr_t)p + off);
		off += (unsigned int)l;
	}
	return 0;
}

/* The code of the thunk at p (room bytes readable): it decodes up to its
 * return, `ret; int3` or `jmp rel32`, which is at *ret_at; returns the bytes
 * up to the end of that return (the int3 included). */
static size_t thunk_code_len(const uint8_t *p, size_t room, size_t *ret_at)
{
	size_t off = 0;
	struct insn insn;

	while (off < room) {
		int l = insn_decode(&insn, p + off, room - off);

		assert_true(l > 0);
		if (insn.map == INSN_MAP_1B && insn.opcode == 0xc3 && !insn.vex_len) {
			*ret_at = off;
			assert_true(off + 1 < room);
			assert_int_equal(p[off + 1], 0xcc);
			return off + 2;
		}
		if (insn.branch == INSN_BR_JMP && l == 5) {
			*ret_at = off;
			return off + 5;
		}
		/* A thunk branches nowhere but to its backend. */
		assert_true(insn.branch == INSN_BR_NONE || insn.branch == INSN_BR_CALL);
		off += (size_t)l;
	}
	fail_msg("thunk at %p without a return", (const void *)p);
	return 0;
}

/* A second descriptor over the same sites, with its own thunk area (zeroed
 * first: the patcher must write the int3 padding itself). */
static struct pvpatch aux;
static struct pvpatch_site_state aux_state[MAX_SITES];
static uint8_t aux_saved[MAX_SITES * PVPATCH_MAX_SITE];
static struct pvpatch_thunk_slot aux_tindex[PVPATCH_THUNK_SLOTS(MAX_SITES)];

static void aux_init(const void *return_thunk)
{
	memset(AUX_THUNKS, 0, AUX_THUNK_SIZE);
	aux = pv;
	aux.ready = 0;
	aux.state = aux_state;
	aux.saved = aux_saved;
	aux.thunks = AUX_THUNKS;
	aux.thunks_size = AUX_THUNK_SIZE;
	aux.thunk_index = aux_tindex;
	aux.poke_arg = &aux;
	aux.return_thunk = return_thunk;
}

static void aux_done(void)
{
	assert_int_equal(pvpatch_revert(&aux, &rep), 0);
	assert_text_native();
}

/* --- the stack-alignment contract (struct pvpatch.stack_align) ---------- */

/* A backend that needs the System V 16 bytes at entry: an aligned SSE store
 * into its frame (movaps faults on a misaligned address; no ASan frame,
 * which would realign). */
__attribute__((noinline, no_sanitize_address)) static unsigned long be_sse_read_cr3(void)
{
	uint8_t buf[16] __attribute__((aligned(16)));

	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0; movaps %%xmm0, %0" : "=m" (buf) : : "xmm0");
	return 0xabc000 + buf[5];
}

/* One that records whether %rsp + 8 was 16-byte aligned at its entry (the
 * frame pointer is %rsp - 8 there: the suite keeps frame pointers). */
static unsigned int entry_aligned, entry_misaligned;

__attribute__((noinline)) static unsigned long be_probe_read_cr3(void)
{
	if ((uintptr_t)__builtin_frame_address(0) & 15)
		entry_misaligned++;
	else
		entry_aligned++;
	return 0xabc000;
}

/* Call fn with %rsp + 8 at its entry 16-byte aligned (off8 0, as the ABI
 * says) or 8 bytes off it: its site then runs at both alignments. */
static unsigned long call_at_alignment(unsigned long (*fn)(void), unsigned long off8)
{
	unsigned long r;

	__asm__ volatile("mov %%rsp, %%rbx\n\t"
			 "and $-16, %%rsp\n\t"
			 "sub %[off], %%rsp\n\t"
			 "call *%[fn]\n\t"
			 "mov %%rbx, %%rsp"
			 : "=a" (r)
			 : [fn] "r" (fn), [off] "r" (off8 ? 8ul : 0ul)
			 : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory",
			   "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			   "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	return r;
}

/* Whether the thunk at t realigns the stack: `and $-16, %rsp` among its
 * instructions. */
static bool thunk_realigns(const uint8_t *t, const struct pvpatch *d)
{
	static const uint8_t and_rsp[4] = { 0x48, 0x83, 0xe4, 0xf0 };
	size_t ret_at, len = thunk_code_len(t, d->thunks + d->thunks_used - t, &ret_at);
	size_t off = 0;
	struct insn insn;

	while (off < ret_at) {
		int l = insn_decode(&insn, t + off, len - off);

		assert_true(l > 0);
		if (l == 4 && !memcmp(t + off, and_rsp, 4))
			return true;
		off += (size_t)l;
	}
	return false;
}

/*
 * stack_align 16: every CALL site calls a thunk (none calls its backend,
 * even where the registers allow), every thunk realigns, plain and
 * register-preserving alike, and a backend using an aligned SSE store runs
 * with the site's stack at either alignment.  stack_align 8 (the suite's
 * pv): no thunk realigns, and the same site reaches a backend at both
 * alignments (so the 16 case is not passing by luck).
 */
static void test_stack_align_16(void **st)
{
	const struct pvpatch_site *sy = rec(site_sched_yield_live, PVPATCH_OP_SCHED_YIELD);
	unsigned int calls = 0;

	(void)st;
	aux_init(NULL);
	aux.stack_align = PVPATCH_STACK_ALIGN_16;
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_sse_read_cr3 };
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_sched_yield, .preserves = 1 };
	assert_int_equal(pvpatch_apply(&aux, &pol, &rep), 0);
	assert_int_equal(rep.fallbacks, 0);
	for (unsigned int i = 0; i < (unsigned int)(aux.sites_end - aux.sites); i++) {
		const struct pvpatch_site *s = &aux.sites[i];
		const uint8_t *t;

		if (aux.state[i].mode != PVPATCH_MODE_CALL)
			continue;
		t = (const uint8_t *)site_call(s);
		assert_true(t >= aux.thunks && t < aux.thunks + aux.thunks_used);
		assert_true(thunk_realigns(t, &aux));
		calls++;
	}
	assert_true(calls >= 2);
	assert_true(site_call(sy) >= (uintptr_t)aux.thunks);
	assert_int_equal(call_at_alignment(site_read_cr3, 0), 0xabc0ff);
	assert_int_equal(call_at_alignment(site_read_cr3, 1), 0xabc0ff);
	pol.op[PVPATCH_OP_READ_CR3].backend = be_probe_read_cr3;
	assert_int_equal(pvpatch_apply(&aux, &pol, &rep), 0);
	entry_aligned = entry_misaligned = 0;
	call_at_alignment(site_read_cr3, 0);
	call_at_alignment(site_read_cr3, 1);
	assert_int_equal(entry_aligned, 2);
	assert_int_equal(entry_misaligned, 0);
	aux_done();

	/* 8: the same sites, nothing realigned. */
	patch();
	assert_int_equal(rep.fallbacks, 0);
	assert_ptr_equal((void *)site_call(sy), (void *)pbe_sched_yield);
	for (unsigned int i = 0; i < (unsigned int)(pv.sites_end - pv.sites); i++) {
		uintptr_t t = pv.state[i].mode == PVPATCH_MODE_CALL ? site_call(&pv.sites[i]) : 0;

		if (t >= (uintptr_t)pv.thunks && t < (uintptr_t)pv.thunks + pv.thunks_used)
			assert_false(thunk_realigns((const uint8_t *)t, &pv));
	}
	entry_aligned = entry_misaligned = 0;
	call_at_alignment(site_read_cr3, 0);
	call_at_alignment(site_read_cr3, 1);
	assert_int_equal(entry_aligned, 1);
	assert_int_equal(entry_misaligned, 1);
}

/* A stack_align other than 0, 8 or 16 makes the descriptor unusable. */
static void test_stack_align_refused(void **st)
{
	(void)st;
	aux_init(NULL);
	aux.stack_align = 32;
	assert_int_equal(pvpatch_apply(&aux, &pol, &rep), -1);
	assert_text_native();
}

/* Without a return thunk a thunk ends `ret; int3`, then int3 padding. */
static void test_thunk_ends_ret_int3(void **st)
{
	const struct pvpatch_site *s = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	const uint8_t *t;
	size_t len, ret_at;

	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	patch();
	t = (const uint8_t *)site_call(s);
	assert_true(t >= pv.thunks && t < pv.thunks + pv.thunks_used);
	assert_int_equal((t - pv.thunks) % 16, 0);
	len = thunk_code_len(t, pv.thunks + pv.thunks_used - t, &ret_at);
	assert_int_equal(len, ret_at + 2);
	assert_int_equal(t[ret_at], 0xc3);
	assert_int_equal(t[ret_at + 1], 0xcc);
	for (size_t i = len; (uintptr_t)(t + i) % 16; i++)
		assert_int_equal(t[i], 0xcc);
	site_write_cr3(0x5000);
	assert_int_equal(cr3_seen, 0x5000);
}

/* With a return thunk a thunk ends `jmp return_thunk` and really goes
 * there: the backend's result comes back through it. */
static void test_thunk_ends_jmp_return_thunk(void **st)
{
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	const struct pvpatch_site *r = rec(site_read_cr3, PVPATCH_OP_READ_CR3);
	const struct pvpatch_site *both[] = { w, r };
	uint32_t called[4], native[4];

	(void)st;
	site_cpuid(0, 0, native);
	aux_init(test_return_thunk);
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_read_cr3 };
	pol.op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_cpuid };
	assert_int_equal(pvpatch_apply(&aux, &pol, &rep), 0);
	assert_int_equal(rep.fallbacks, 0);
	for (int k = 0; k < 2; k++) {
		const uint8_t *t = (const uint8_t *)site_call(both[k]);
		size_t ret_at, len;
		uint8_t want[5];
		int32_t rel;

		assert_true(t >= aux.thunks && t < aux.thunks + aux.thunks_used);
		len = thunk_code_len(t, aux.thunks + aux.thunks_used - t, &ret_at);
		assert_int_equal(len, ret_at + 5);
		want[0] = 0xe9;
		rel = (int32_t)((intptr_t)test_return_thunk - (intptr_t)(t + len));
		memcpy(want + 1, &rel, 4);
		assert_memory_equal(t + ret_at, want, 5);
		for (size_t i = len; (uintptr_t)(t + i) % 16; i++)
			assert_int_equal(t[i], 0xcc);
	}
	rethunk_calls = 0;
	site_write_cr3(0x6000);
	assert_int_equal(cr3_seen, 0x6000);
	assert_int_equal(rethunk_calls, 1);
	assert_int_equal(site_read_cr3(), 0xabc000);
	assert_int_equal(rethunk_calls, 2);
	assert_int_equal(site_write_cr3_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
	assert_int_equal(rethunk_calls, 3);
	site_cpuid(0, 0, called);
	assert_memory_equal(called, native, sizeof(native));
	assert_int_equal(rethunk_calls, 4);
	aux_done();
}

/* A return thunk beyond rel32 of the thunk area: sites that need a thunk
 * fall back with the range reason and nothing is written to the area;
 * direct calls (which do not return through the patcher's code) still work. */
static void test_return_thunk_out_of_range(void **st)
{
	static const uint8_t zero[AUX_THUNK_SIZE];

	(void)st;
	aux_init((const void *)((uintptr_t)AUX_THUNKS + (3ul << 31)));
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pol.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_mem_size };
	assert_int_equal(pvpatch_apply(&aux, &pol, &rep), 0);
	assert_int_equal(rejects_with(PVPATCH_E_CALL_RANGE), count_op(PVPATCH_OP_WRITE_CR3));
	assert_int_equal(rep.op_mode[PVPATCH_OP_WRITE_CR3][PVPATCH_MODE_NATIVE],
			 count_op(PVPATCH_OP_WRITE_CR3));
	assert_int_equal(rep.op_mode[PVPATCH_OP_MEM_SIZE][PVPATCH_MODE_CALL],
			 count_op(PVPATCH_OP_MEM_SIZE));
	assert_int_equal(aux.thunks_used, 0);
	assert_memory_equal(AUX_THUNKS, zero, AUX_THUNK_SIZE);
	assert_int_equal(site_mem_size(), 0x777000);
	aux_done();
}

/* Every CALL op of this program with a thunk-needing site, as a policy. */
static void call_everything(bool preserving)
{
	memset(&pol, 0, sizeof(pol));
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = preserving ? (void *)pbe_write_cr3 : (void *)be_write_cr3,
		.preserves = preserving };
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = preserving ? (void *)pbe_read_cr3 : (void *)be_read_cr3,
		.preserves = preserving };
	pol.op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = preserving ? (void *)pbe_cpuid : (void *)be_cpuid,
		.preserves = preserving };
	pol.op[PVPATCH_OP_RDMSR] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = preserving ? (void *)pbe_rdmsr : (void *)be_rdmsr,
		.preserves = preserving };
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = pbe_sched_yield, .preserves = 1 };
	if (!preserving) {
		pol.op[PVPATCH_OP_SEND_IPI] = (struct pvpatch_op_policy){
			.mode = PVPATCH_MODE_CALL, .backend = be_send_ipi };
		pol.op[PVPATCH_OP_SET_PTE] = (struct pvpatch_op_policy){
			.mode = PVPATCH_MODE_CALL, .backend = be_set_pte };
	}
	patch();
	assert_int_equal(rep.fallbacks, 0);
}

/*
 * The thunk area holds nothing but code: from its start, thunk after thunk
 * at multiples of 16, each decoding up to its return, then int3 up to the
 * next; nothing past the used area written (it was zeroed).  Every site the
 * last apply sent through a thunk calls one of them; returns how many do.
 */
static unsigned int check_thunk_area(void)
{
	uintptr_t starts[256];
	unsigned int n = 0, thunked = 0;
	size_t off = 0, used = pv.thunks_used;

	assert_true(used > 0 && used <= pv.thunks_size);
	while (off < used) {
		size_t ret_at;

		assert_int_equal(off % 16, 0);
		assert_true(n < 256);
		starts[n++] = (uintptr_t)pv.thunks + off;
		off += thunk_code_len(pv.thunks + off, used - off, &ret_at);
		assert_true(off <= used);
		for (; off < used && off % 16; off++)
			assert_int_equal(pv.thunks[off], 0xcc);
	}
	for (size_t i = used; i < pv.thunks_size; i++)
		assert_int_equal(pv.thunks[i], 0);
	for (const struct pvpatch_site *s = __pvpatch_sites_start; s < __pvpatch_sites_end; s++) {
		uintptr_t t = site_call(s);
		unsigned int k = 0;

		if (t < (uintptr_t)pv.thunks || t >= (uintptr_t)pv.thunks + pv.thunks_size)
			continue;
		while (k < n && starts[k] != t)
			k++;
		assert_true(k < n);
		thunked++;
	}
	return thunked;
}

static void test_thunk_area_holds_only_code(void **st)
{
	size_t used;

	(void)st;
	call_everything(false);
	assert_true(check_thunk_area() >= 6);
	call_everything(true);
	assert_true(check_thunk_area() >= 3);
	used = pv.thunks_used;
	if (thunk_dump) {
		FILE *f = fopen(thunk_dump, "w");

		assert_non_null(f);
		fprintf(f, "%lx ", (unsigned long)(uintptr_t)pv.thunks);
		for (size_t i = 0; i < used; i++)
			fprintf(f, "%02x", pv.thunks[i]);
		fprintf(f, "\n");
		fclose(f);
	}
}

/* What a thunk is generated for, computed from a site's record. */
static uint64_t thunk_key(const struct pvpatch_site *s)
{
	const struct pvpatch_op_info *info = &pvpatch_op_table[s->op];
	uint64_t k = (uint64_t)s->op << 48 | (uint64_t)s->clobbers << 32;

	if (info->nouts)
		k |= pvpatch_site_reg(s, PVPATCH_SLOT_RET);
	for (unsigned int a = 0; a < info->nargs; a++)
		k |= (uint64_t)pvpatch_site_reg(s, PVPATCH_SLOT_ARG0 + a) << (4 * (a + 1));
	return k;
}

/* One thunk per key: sites with the same key share it, different keys get
 * different thunks, and patching again (after a revert) reuses them all
 * without writing to the thunk area. */
static void test_thunk_reuse(void **st)
{
	static uintptr_t first[MAX_SITES];
	const struct pvpatch_site *s0 = __pvpatch_sites_start;
	unsigned int n = (unsigned int)(__pvpatch_sites_end - s0), thunked = 0, shared = 0;
	size_t used;

	(void)st;
	call_everything(false);
	used = pv.thunks_used;
	for (unsigned int i = 0; i < n; i++) {
		first[i] = site_call(&s0[i]);
		if (first[i] < (uintptr_t)pv.thunks || first[i] >= (uintptr_t)pv.thunks + used) {
			first[i] = 0;
			continue;
		}
		thunked++;
		for (unsigned int j = 0; j < i; j++) {
			if (!first[j])
				continue;
			if (thunk_key(&s0[i]) == thunk_key(&s0[j])) {
				assert_int_equal(first[i], first[j]);
				shared++;
			} else {
				assert_int_not_equal(first[i], first[j]);
			}
		}
	}
	assert_true(thunked >= 6);
	print_message("%u thunked sites, %u sharing a thunk\n", thunked, shared);
	assert_int_equal(pvpatch_revert(&pv, &rep), 0);
	thunk_pokes = 0;
	call_everything(false);
	assert_int_equal(thunk_pokes, 0);
	assert_int_equal(pv.thunks_used, used);
	for (unsigned int i = 0; i < n; i++)
		if (first[i])
			assert_int_equal(site_call(&s0[i]), first[i]);
}

/* --- the default poke: cli, copy, serialise, sti, for real ---------------
 *
 * In user mode cli and sti raise #GP (SIGSEGV): a handler recognises them
 * (0xfa, 0xfb), records the event with how many destination bytes were
 * already written, and steps over them.  The IRET to self is legal at any
 * privilege level and really runs.  With the trap flag set, every
 * instruction of the poke traps (SIGTRAP): that shows when the first byte
 * changes and that the iretq comes after the last, and lets the test clear
 * IF in the flags the poke's pushfq saved, as a kernel with interrupts off
 * would have them: then no sti may follow.
 */
void text_poke(struct pvpatch *pv, void *addr, const void *src, size_t len);	/* poke.c */

enum { EV_CLI = 1, EV_STI, EV_IRET, EV_WRITE };
#define PK_MAX_EV 16

static volatile struct { int what, written; } pk_ev[PK_MAX_EV];
static volatile sig_atomic_t pk_n_ev, pk_armed, pk_wrote, pk_fake_if, pk_faked, pk_cli, pk_sti;
static volatile uintptr_t pk_last_rip;		/* the instruction that just ran */
static volatile int pk_prev_written, pk_n_stores, pk_store[64];	/* bytes per store */
static uint8_t *volatile pk_dst;
static const uint8_t *volatile pk_new;
static volatile size_t pk_len;
static struct sigaction pk_old_segv, pk_old_trap;

static int pk_written(void)
{
	int n = 0;

	for (size_t i = 0; i < pk_len; i++)
		n += pk_dst[i] == pk_new[i];
	return n;
}

static void pk_record(int what)
{
	if (pk_n_ev < PK_MAX_EV) {
		pk_ev[pk_n_ev].what = what;
		pk_ev[pk_n_ev].written = pk_dst ? pk_written() : 0;
	}
	pk_n_ev++;
}

static void pk_segv(int sig, siginfo_t *si, void *ctx)
{
	greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	const uint8_t *rip = (const uint8_t *)g[REG_RIP];

	(void)sig;
	(void)si;
	if (!pk_armed || (*rip != 0xfa && *rip != 0xfb)) {
		/* A real fault: let it happen again under the old handler. */
		sigaction(SIGSEGV, &pk_old_segv, NULL);
		return;
	}
	if (*rip == 0xfa)
		pk_cli++;
	else
		pk_sti++;
	pk_record(*rip == 0xfa ? EV_CLI : EV_STI);
	g[REG_RIP] += 1;
	pk_last_rip = (uintptr_t)rip + 1;
}

static void pk_trap(int sig, siginfo_t *si, void *ctx)
{
	greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	const uint8_t *rip = (const uint8_t *)g[REG_RIP];
	const uint8_t *last = (const uint8_t *)pk_last_rip;

	(void)sig;
	(void)si;
	if (!pk_armed)
		return;
	/* The first pushfq of the poke saved RFLAGS: make IF look clear. */
	if (pk_fake_if && !pk_faked && last && *last == 0x9c) {
		*(uint64_t *)g[REG_RSP] &= ~(uint64_t)0x200;
		pk_faked = 1;
	}
	if (pk_dst) {
		int w = pk_written();

		if (!pk_wrote && w > 0) {
			pk_wrote = 1;
			pk_record(EV_WRITE);
		}
		if (w != pk_prev_written && pk_n_stores < 64)
			pk_store[pk_n_stores++] = w - pk_prev_written;
		pk_prev_written = w;
	}
	if (rip[0] == 0x48 && rip[1] == 0xcf)
		pk_record(EV_IRET);
	pk_last_rip = (uintptr_t)rip;
}

static void pk_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = pk_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &pk_old_segv), 0);
	sa.sa_sigaction = pk_trap;
	assert_int_equal(sigaction(SIGTRAP, &sa, &pk_old_trap), 0);
}

static void pk_uninstall(void)
{
	sigaction(SIGSEGV, &pk_old_segv, NULL);
	sigaction(SIGTRAP, &pk_old_trap, NULL);
}

static void pk_arm(uint8_t *dst, const uint8_t *new, size_t len, bool fake_if_clear)
{
	pk_dst = dst;
	pk_new = new;
	pk_len = len;
	pk_n_ev = pk_wrote = pk_faked = pk_cli = pk_sti = 0;
	pk_prev_written = pk_n_stores = 0;
	pk_last_rip = 0;
	pk_fake_if = fake_if_clear;
	pk_armed = 1;
}

static inline void tf_on(void)
{
	__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq" : : : "cc", "memory");
}

static inline void tf_off(void)
{
	__asm__ volatile("pushfq; andq $~0x100, (%%rsp); popfq" : : : "cc", "memory");
}

/* One poke of len bytes at dst + off with the default; the events it made. */
static void default_poke_once(unsigned int off, unsigned int len, bool step, bool fake_if_clear)
{
	static uint8_t buf[64] __attribute__((aligned(64))), src[48], before[64];
	struct pvpatch dp = { .poke = NULL };
	const uint8_t *s = src + (off * 7 + len) % 8;	/* sources at any alignment too */

	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0x11 + 3 * i);
	for (unsigned int i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)~(0x11 + 3 * (i - (s - src) + off));	/* differs from every byte */
	memcpy(before, buf, sizeof(buf));
	pk_arm(buf + off, s, len, fake_if_clear);
	if (step) {
		tf_on();
		text_poke(&dp, buf + off, s, len);
		pk_armed = 0;
		tf_off();
	} else {
		text_poke(&dp, buf + off, s, len);
		pk_armed = 0;
	}
	/* Exactly the bytes asked for, and nothing around them. */
	assert_memory_equal(buf + off, s, len);
	assert_memory_equal(buf, before, off);
	assert_memory_equal(buf + off + len, before + off + len, sizeof(buf) - off - len);
	assert_true(pk_n_ev <= PK_MAX_EV);
}

static void test_default_poke_order_and_bytes(void **st)
{
	(void)st;
	pk_install();
	for (unsigned int off = 0; off < 16; off++) {
		for (unsigned int len = 1; len <= 32; len++) {
			/* cli before any byte changes, sti after the last. */
			default_poke_once(off, len, false, false);
			assert_int_equal(pk_n_ev, 2);
			assert_int_equal(pk_ev[0].what, EV_CLI);
			assert_int_equal(pk_ev[0].written, 0);
			assert_int_equal(pk_ev[1].what, EV_STI);
			assert_int_equal(pk_ev[1].written, len);

			/* Single-stepped: cli, the first write, iretq after the last
			 * write, sti; and the stores: bytes up to an 8-byte
			 * boundary, aligned 8-byte words, the remaining bytes. */
			default_poke_once(off, len, true, false);
			{
				unsigned int head = (8 - off % 8) % 8, k = 0;

				if (head > len)
					head = len;
				for (unsigned int i = 0; i < head; i++)
					assert_int_equal(pk_store[k++], 1);
				for (unsigned int i = 0; i < (len - head) / 8; i++)
					assert_int_equal(pk_store[k++], 8);
				for (unsigned int i = 0; i < (len - head) % 8; i++)
					assert_int_equal(pk_store[k++], 1);
				assert_int_equal(pk_n_stores, k);
			}
			assert_int_equal(pk_n_ev, 4);
			assert_int_equal(pk_ev[0].what, EV_CLI);
			assert_int_equal(pk_ev[0].written, 0);
			assert_int_equal(pk_ev[1].what, EV_WRITE);
			assert_int_equal(pk_ev[2].what, EV_IRET);
			assert_int_equal(pk_ev[2].written, len);
			assert_int_equal(pk_ev[3].what, EV_STI);
			assert_int_equal(pk_ev[3].written, len);
		}
	}
	pk_uninstall();
}

/* Interrupts were off when the poke began: it must not turn them on. */
static void test_default_poke_keeps_interrupts_off(void **st)
{
	(void)st;
	pk_install();
	for (unsigned int off = 0; off < 16; off += 5) {
		for (unsigned int len = 1; len <= 32; len += 7) {
			default_poke_once(off, len, true, true);
			assert_true(pk_faked);
			assert_int_equal(pk_n_ev, 3);
			assert_int_equal(pk_ev[0].what, EV_CLI);
			assert_int_equal(pk_ev[0].written, 0);
			assert_int_equal(pk_ev[1].what, EV_WRITE);
			assert_int_equal(pk_ev[2].what, EV_IRET);
			assert_int_equal(pk_ev[2].written, len);
			assert_int_equal(pk_sti, 0);
		}
	}
	pk_uninstall();
}

/* The patcher with the default poke, end to end: every site write and
 * every thunk write between one cli and one sti, the sites working after. */
static void test_default_poke_patches(void **st)
{
	const struct pvpatch_site *s = rec(site_io_delay, PVPATCH_OP_IO_DELAY);
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

	(void)st;
	aux_init(NULL);
	aux.poke = NULL;
	aux.poke_arg = NULL;
	pol.op[PVPATCH_OP_IO_DELAY].mode = PVPATCH_MODE_NOP;
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pk_install();
	pk_arm(NULL, NULL, 0, false);
	assert_int_equal(pvpatch_apply(&aux, &pol, &rep), 0);
	pk_armed = 0;
	assert_int_equal(rep.fallbacks, 0);
	assert_true(rep.written >= 2 && aux.thunks_used > 0);
	/* One cli and one sti per write: the sites written and the thunk(s). */
	assert_true(pk_cli > (sig_atomic_t)rep.written);
	assert_int_equal(pk_cli, pk_sti);
	assert_memory_equal(site_bytes(s), nop5, 5);
	site_io_delay();
	site_write_cr3(0x8000);
	assert_int_equal(cr3_seen, 0x8000);
	pk_arm(NULL, NULL, 0, false);
	aux_done();
	pk_armed = 0;
	assert_int_equal(pk_cli, rep.written);
	assert_int_equal(pk_sti, rep.written);
	pk_uninstall();
}

/* --- freeing backend families -------------------------------------------- */

/*
 * Backends the test can free: code copied into FAMILY_AREA (the poke hook
 * allows writes there).  A mem_size backend (`mov $0x1234, %eax; ret`) at
 * +0, a write_cr3 one (`ret`) at +128 that write_cr3 sites reach through a
 * thunk.  Families: [+0, +64) and [+128, +192), with classes of ops this
 * test never sends to CALL, so only the address can keep them; and a "mem"
 * family at +2048 holding no backend, which only its class can keep.
 */
static void test_free_backends_keeps_used_refuses_freed(void **st)
{
	static const uint8_t be_code[] = { 0xb8, 0x34, 0x12, 0x00, 0x00, 0xc3 };
	uint8_t *be_mem = FAMILY_AREA, *be_cr3 = FAMILY_AREA + 128, *mem_fam = FAMILY_AREA + 2048;
	const struct pvpatch_backend_family direct = { "sched", be_mem, be_mem + 64 };
	const struct pvpatch_backend_family thunked = { "desc", be_cr3, be_cr3 + 64 };
	const struct pvpatch_backend_family by_class = { "mem", mem_fam, mem_fam + 64 };
	const struct pvpatch_backend_family all[] = { direct, thunked, by_class };
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	unsigned int n_mem = count_op(PVPATCH_OP_MEM_SIZE), n_cr3 = count_op(PVPATCH_OP_WRITE_CR3);
	uint8_t int3s[64];

	(void)st;
	memset(int3s, 0xcc, sizeof(int3s));
	memset(FAMILY_AREA, 0x90, FAMILY_SIZE);
	memcpy(be_mem, be_code, sizeof(be_code));
	be_cr3[0] = 0xc3;
	pol.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_mem };
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_cr3 };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(site_mem_size(), 0x1234);	/* runs the copied backend */
	site_write_cr3(0x1000);				/* through a thunk to +128 */
	assert_true(site_call(w) >= (uintptr_t)pv.thunks);

	/* Used by CALL sites: by address (directly, through a thunk), by class. */
	assert_int_equal(pvpatch_free_backends(&pv, all, 3, 0xcc), 0);
	assert_memory_equal(be_mem, be_code, sizeof(be_code));
	assert_int_equal(be_cr3[0], 0xc3);
	assert_int_equal(mem_fam[0], 0x90);

	/* No CALL site left: all three freed, once. */
	assert_int_equal(pvpatch_revert(&pv, &rep), 0);
	assert_int_equal(pvpatch_free_backends(&pv, all, 3, 0xcc), 3 * 64);
	assert_memory_equal(be_mem, int3s, 64);
	assert_memory_equal(be_cr3, int3s, 64);
	assert_memory_equal(mem_fam, int3s, 64);
	assert_int_equal(be_mem[64], 0x90);
	assert_int_equal(pvpatch_free_backends(&pv, all, 3, 0xcc), 0);

	/* CALL into a freed family again: refused, the sites stay native. */
	pol.op[PVPATCH_OP_MEM_SIZE].backend = be_mem + 63;
	patch();
	assert_int_equal(rejects_with(PVPATCH_E_FREED), n_mem + n_cr3);
	assert_int_equal(rep.fallbacks, n_mem + n_cr3);
	assert_int_equal(rep.op_mode[PVPATCH_OP_MEM_SIZE][PVPATCH_MODE_NATIVE], n_mem);
	assert_int_equal(rep.op_mode[PVPATCH_OP_WRITE_CR3][PVPATCH_MODE_NATIVE], n_cr3);
	assert_int_equal(rep.rejects[0].reason, PVPATCH_E_FREED);
	assert_int_equal(rep.rejects[0].wanted, PVPATCH_MODE_CALL);
	assert_int_equal(rep.rejects[0].got, PVPATCH_MODE_NATIVE);
	assert_string_equal(pvpatch_reason_str(PVPATCH_E_FREED), "backend freed");
	assert_int_equal(rep.written, 0);
	assert_text_native();
	/* Nothing of the freed ranges runs (int3 would kill the test). */
	assert_int_equal(site_mem_size(), native_mem_size());
	assert_memory_equal(be_mem, int3s, 64);
	/* Just past a freed range is not freed. */
	pol.op[PVPATCH_OP_MEM_SIZE].backend = be_mem + 64;	/* nop ...; (never run) */
	pol.op[PVPATCH_OP_WRITE_CR3].mode = PVPATCH_MODE_NATIVE;
	patch();
	assert_int_equal(rejects_with(PVPATCH_E_FREED), 0);
	assert_int_equal(rep.op_mode[PVPATCH_OP_MEM_SIZE][PVPATCH_MODE_CALL], n_mem);
}

/* --- the ROM parser: a refused ROM writes nothing ------------------------ */

/* A ROM: a header, an entry with a two-instruction template for mem_size,
 * an entry without one for io_delay, two overrides. */
struct test_rom {
	struct pvpatch_rom_header h;
	struct pvpatch_rom_entry e0;
	struct pvpatch_rom_insn i0[2];
	struct pvpatch_rom_entry e1;
	struct pvpatch_rom_override ov[2];
};

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void rom_seal(struct test_rom *r)
{
	r->h.checksum = 0;
	r->h.checksum = crc32_bitwise((const uint8_t *)r, sizeof(*r));
}

static void rom_build(struct test_rom *r, const char *hv, uint64_t param)
{
	memset(r, 0, sizeof(*r));
	r->h.magic = PVPATCH_ROM_MAGIC;
	r->h.version = 1;	/* format 1: kernels keep reading it */
	r->h.header_len = sizeof(r->h);
	r->h.total_len = sizeof(*r);
	strcpy(r->h.hypervisor, hv);
	r->h.n_entries = 2;
	r->h.entries_off = offsetof(struct test_rom, e0);
	r->h.n_overrides = 2;
	r->h.overrides_off = offsetof(struct test_rom, ov);
	r->e0 = (struct pvpatch_rom_entry){
		.entry_len = sizeof(r->e0) + sizeof(r->i0), .op = PVPATCH_OP_MEM_SIZE,
		.mode = PVPATCH_MODE_INLINE, .cond = PVPATCH_ROM_COND_ALWAYS, .n_insns = 2,
		.params = { param } };
	r->i0[0] = (struct pvpatch_rom_insn){ .op = PVT_MOVI, .dst = PVT_RET, .src = PVT_IMM(0),
					      .width = 8 };
	r->i0[1] = (struct pvpatch_rom_insn){ .op = PVT_PAUSE, .dst = PVT_NONE, .src = PVT_NONE,
					      .width = 4 };
	r->e1 = (struct pvpatch_rom_entry){
		.entry_len = sizeof(r->e1), .op = PVPATCH_OP_IO_DELAY, .mode = PVPATCH_MODE_NOP,
		.cond = PVPATCH_ROM_COND_ALWAYS };
	strcpy(r->ov[0].func, "site_io_delay");
	r->ov[0].mode = PVPATCH_MODE_NATIVE;
	strcpy(r->ov[1].func, "site_save_fl");
	r->ov[1].offset = 4;
	r->ov[1].mode = PVPATCH_MODE_NATIVE;
	rom_seal(r);
}

/*
 * A sound ROM, then corrupt ones (each checksummed, so the parser reads on
 * into the entries and overrides, and differing from the first in
 * everything it would write) with the same policy and store: each is
 * refused and both stay byte for byte what the sound one made of them.
 */
static void test_rom_refused_writes_nothing(void **st)
{
	static struct test_rom good, bad;
	static struct pvpatch_rom_store store, store_before;
	static struct pvpatch_policy rpol, rpol_before, other;
	static struct pvpatch_rom_store other_store;
	const struct pvpatch_hv_facts facts = { .kvm_features = 0 };	/* nothing found */
	const void *backends[PVPATCH_MAX_OP + 1] = { [PVPATCH_OP_MEM_SIZE] = be_mem_size };
	const struct pvpatch_rom_env env = { .facts = &facts, .backends = backends };
	const char *why = NULL;

	(void)st;
	rom_build(&good, "good-hv", 0x1000);
	assert_int_equal(pvpatch_rom_policy(&good, sizeof(good), &env, &rpol, &store,
					    &why), 0);
	assert_null(why);
	assert_int_equal(rpol.op[PVPATCH_OP_MEM_SIZE].mode, PVPATCH_MODE_INLINE);
	assert_ptr_equal(rpol.op[PVPATCH_OP_MEM_SIZE].tmpl, &store.tmpl[PVPATCH_OP_MEM_SIZE]);
	assert_int_equal(rpol.op[PVPATCH_OP_MEM_SIZE].params[0], 0x1000);
	assert_ptr_equal(rpol.op[PVPATCH_OP_MEM_SIZE].backend, be_mem_size);
	assert_int_equal(rpol.op[PVPATCH_OP_IO_DELAY].mode, PVPATCH_MODE_NOP);
	assert_int_equal(rpol.n_overrides, 2);
	assert_ptr_equal(rpol.overrides, store.ov);
	assert_string_equal(store.hypervisor, "good-hv");
	assert_int_equal(store.entries_used, 2);
	memcpy(&rpol_before, &rpol, sizeof(rpol));
	memcpy(&store_before, &store, sizeof(store));

	for (int k = 0; k < 6; k++) {
		const char *want;

		rom_build(&bad, "bad-hv", 0x2000);
		bad.i0[0].op = PVT_MOV;
		strcpy(bad.ov[0].func, "other_function");
		switch (k) {
		case 0:		/* the second entry: after the first was read */
			bad.e1.mode = PVPATCH_NR_MODES;
			want = "unknown mode";
			break;
		case 1:
			bad.e1.cond = 99;
			want = "unknown condition";
			break;
		case 2:		/* the last override: after the entries and the first */
			bad.ov[1].mode = 0x77;
			want = "override with an unknown mode";
			break;
		case 3:
			bad.h.overrides_off = sizeof(bad) - sizeof(bad.ov[0]);
			want = "overrides outside the ROM";
			break;
		case 4:
			bad.e1.entry_len = 0xffff;
			want = "entry length out of bounds";
			break;
		default:	/* the checksum: nothing read past the header */
			bad.e0.params[0] = 0x3000;
			want = "checksum mismatch";
			break;
		}
		if (k < 5)
			rom_seal(&bad);
		why = NULL;
		print_message("corrupt ROM %d: %s\n", k, want);
		assert_int_equal(pvpatch_rom_policy(&bad, sizeof(bad), &env, &rpol,
						    &store, &why), -1);
		assert_non_null(why);
		assert_string_equal(why, want);
		assert_memory_equal(&rpol, &rpol_before, sizeof(rpol));
		assert_memory_equal(&store, &store_before, sizeof(store));
	}

	/* A second sound ROM into another policy and store: the first policy
	 * (and what it points to) is untouched. */
	rom_build(&bad, "second", 0x5000);
	assert_int_equal(pvpatch_rom_policy(&bad, sizeof(bad), &env, &other,
					    &other_store, &why), 0);
	assert_int_equal(other.op[PVPATCH_OP_MEM_SIZE].params[0], 0x5000);
	assert_ptr_equal(other.op[PVPATCH_OP_MEM_SIZE].tmpl, &other_store.tmpl[PVPATCH_OP_MEM_SIZE]);
	assert_memory_equal(&rpol, &rpol_before, sizeof(rpol));
	assert_memory_equal(&store, &store_before, sizeof(store));
	/* The policy built works: mem_size from the ROM's template. */
	memcpy(&pol, &rpol, sizeof(pol));
	pol.n_overrides = 0;
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_MEM_SIZE][PVPATCH_MODE_INLINE],
			 count_op(PVPATCH_OP_MEM_SIZE));
	assert_int_equal(site_mem_size(), 0x1000);
}

/* --- NOP ----------------------------------------------------------------- */
static void test_nop(void **st)
{
	const struct pvpatch_site *s = rec(site_io_delay, PVPATCH_OP_IO_DELAY);
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

	(void)st;
	pol.op[PVPATCH_OP_IO_DELAY].mode = PVPATCH_MODE_NOP;
	patch();
	assert_int_equal(s->site_len, 5);
	assert_memory_equal(site_bytes(s), nop5, 5);
	site_io_delay();	/* natively an `out`, which would kill this process */
	dump_site("nop", s, "");
}

/* No report wanted: the patching is the same. */
static void test_apply_without_report(void **st)
{
	const struct pvpatch_site *s = rec(site_io_delay, PVPATCH_OP_IO_DELAY);
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

	(void)st;
	pol.op[PVPATCH_OP_IO_DELAY].mode = PVPATCH_MODE_NOP;
	pol.op[PVPATCH_OP_SAVE_FL].mode = PVPATCH_MODE_INLINE;	/* no template: falls back */
	assert_int_equal(pvpatch_apply(&pv, &pol, NULL), 0);
	assert_memory_equal(site_bytes(s), nop5, 5);
	site_io_delay();
	assert_int_equal(pvpatch_revert(&pv, NULL), 0);
	assert_text_native();
}

/* --- INLINE -------------------------------------------------------------- */
static const struct pvpatch_template t_const = {
	.name = "const", .n_insns = 1,
	.insn = { { PVT_MOVI, PVT_RET, PVT_IMM(0), 8, 0 } },
};

static void test_inline_constant(void **st)
{
	const struct pvpatch_site *s = rec(site_save_fl, PVPATCH_OP_SAVE_FL);
	char expect[64];

	(void)st;
	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_const, .params = { 0x202 } };
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_SAVE_FL][PVPATCH_MODE_INLINE],
			 count_op(PVPATCH_OP_SAVE_FL));
	assert_int_equal(site_save_fl(), 0x202);
	snprintf(expect, sizeof(expect), "movl $0x202, %%e%s",
		 pvpatch_reg_names[pvpatch_site_reg(s, PVPATCH_SLOT_RET)] + 1);
	if (pvpatch_site_reg(s, PVPATCH_SLOT_RET) >= 8)
		snprintf(expect, sizeof(expect), "movl $0x202, %%%sd",
			 pvpatch_reg_names[pvpatch_site_reg(s, PVPATCH_SLOT_RET)]);
	dump_site("inline_const", s, expect);
}

static const struct pvpatch_template t_rdtsc = {
	.name = "rdtsc", .n_insns = 2,
	.insn = { { PVT_RDTSC, PVT_NONE, PVT_NONE, 4, 0 },
		  { PVT_MOV, PVT_RET, PVPATCH_REG_RAX, 4, 0 } },
};

static void test_inline_pinned_outputs(void **st)
{
	const struct pvpatch_site *s = rec(site_read_tsc, PVPATCH_OP_READ_TSC);
	uint64_t t0, t1;

	(void)st;
	pol.op[PVPATCH_OP_READ_TSC] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_rdtsc };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	t0 = site_read_tsc();
	t1 = site_read_tsc();
	assert_true(t1 > t0);
	dump_site("inline_rdtsc", s, "rdtsc; movl %eax, %eax");
}

static const struct pvpatch_template t_pause = {
	.name = "pause", .n_insns = 1, .insn = { { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 } },
};

static void test_inline_void(void **st)
{
	(void)st;
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_pause };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	site_sched_yield(3);
	dump_site("inline_pause", rec(site_sched_yield, PVPATCH_OP_SCHED_YIELD), "pause");
}

/* rbx is live at every site (callee-saved, never in a clobber mask), but a
 * template may use it when it saves and restores it. */
static const struct pvpatch_template t_save_rbx = {
	.name = "save-rbx", .n_insns = 4,
	.insn = { { PVT_PUSH, PVPATCH_REG_RBX, PVT_NONE, 8, 0 },
		  { PVT_MOVI, PVPATCH_REG_RBX, PVT_IMM(0), 8, 0 },
		  { PVT_MOV, PVT_RET, PVPATCH_REG_RBX, 8, 0 },
		  { PVT_POP, PVPATCH_REG_RBX, PVT_NONE, 8, 0 } },
};

static void test_inline_saves_live_register(void **st)
{
	(void)st;
	pol.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_save_rbx, .params = { 0x4000000 } };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(site_mem_size(), 0x4000000);
	/* 15 bytes of template, a 5-byte site: out of line (below). */
	dump_site("inline_save_rbx", rec(site_mem_size, PVPATCH_OP_MEM_SIZE), "jmp");
	dump_stub("inline_save_rbx_stub", rec(site_mem_size, PVPATCH_OP_MEM_SIZE),
		  "pushq %rbx; movl $0x4000000, %ebx; movq %rbx, %rax; popq %rbx; jmp");
}

/*
 * A template longer than its site runs out of line: every site of the op is
 * `jmp stub` (int3 after it), each stub is the template fitted to that
 * site's registers then `jmp` to the site's end, one stub per site, in the
 * thunk area.  The site computes what the template says; going NATIVE
 * again restores the native bytes.
 */
static const struct pvpatch_template t_long_sched = {
	.name = "long-sched", .n_insns = 6,
	.insn = { { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 }, { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 },
		  { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 }, { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 },
		  { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 }, { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 } },
};

static void test_inline_out_of_line_stub(void **st)
{
	const struct pvpatch_site *first = NULL;
	unsigned int n = 0;
	size_t used_before = pv.thunks_used;
	uintptr_t stubs[MAX_SITES];

	(void)st;
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_long_sched };
	patch();
	assert_int_equal(rep.fallbacks, 0);
	for (const struct pvpatch_site *r = __pvpatch_sites_start; r < __pvpatch_sites_end; r++) {
		const uint8_t *p = site_bytes(r);
		uintptr_t stub;
		const uint8_t *c;
		unsigned int k = 0;

		if (r->op != PVPATCH_OP_SCHED_YIELD)
			continue;
		assert_int_equal(r->site_len, 10);
		stub = call_target_of(p, 0xe9);
		assert_true(stub >= (uintptr_t)pv.thunks && stub < (uintptr_t)pv.thunks + pv.thunks_used);
		assert_int_equal(stub % 16, 0);
		for (unsigned int i = 5; i < r->site_len; i++)
			assert_int_equal(p[i], 0xcc);
		for (unsigned int j = 0; j < n; j++)
			assert_true(stubs[j] != stub);	/* one per site */
		stubs[n++] = stub;
		/* six pause (f3 90), then jmp to the site's end, int3 after */
		c = (const uint8_t *)stub;
		for (k = 0; k < 12; k += 2)
			assert_true(c[k] == 0xf3 && c[k + 1] == 0x90);
		assert_int_equal(call_target_of(c + 12, 0xe9), (uintptr_t)p + r->site_len);
		assert_int_equal(c[17], 0xcc);
		if (!first)
			first = r;
	}
	assert_true(n >= 2);
	assert_true(pv.thunks_used - used_before >= 16 * n);
	site_sched_yield(3);		/* runs the stub and comes back */
	assert_int_equal(site_sched_yield_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
	dump_site("inline_stub_site", first, "jmp");
	dump_stub("inline_stub", first, "pause; pause; pause; pause; pause; pause; jmp");
	/* Back to NATIVE: the native bytes, the stubs no longer reached. */
	memset(&pol, 0, sizeof(pol));
	patch();
	assert_text_native();
	site_sched_yield(3);
}

/* --- fallbacks ----------------------------------------------------------- */
struct bad_template {
	const char *what;
	unsigned int op;
	struct pvpatch_template t;
	enum pvpatch_reason reason;
};

static const struct bad_template bad_templates[] = {
	{ "clobbers rbx", PVPATCH_OP_SAVE_FL,
	  { "x", 2, 0, { { PVT_MOVI, PVPATCH_REG_RBX, PVT_NONE, 4, 1 },
			 { PVT_MOV, PVT_RET, PVPATCH_REG_RBX, 8, 0 } } },
	  PVPATCH_E_CLOBBER },
	{ "too long", PVPATCH_OP_SAVE_FL,
	  { "x", 2, 0, { { PVT_MOVI, PVT_RET, PVT_NONE, 8, 0x123456789a },
			 { PVT_MOVI, PVT_RET, PVT_NONE, 8, 0x123456789a } } },
	  PVPATCH_E_TOO_LONG },
	{ "no result", PVPATCH_OP_SAVE_FL,
	  { "x", 1, 0, { { PVT_PAUSE, PVT_NONE, PVT_NONE, 4, 0 } } }, PVPATCH_E_NO_RESULT },
	{ "unbalanced", PVPATCH_OP_SAVE_FL,
	  { "x", 2, 0, { { PVT_PUSH, PVPATCH_REG_RAX, PVT_NONE, 8, 0 },
			 { PVT_MOVI, PVT_RET, PVT_NONE, 4, 1 } } },
	  PVPATCH_E_STACK },
	{ "pop first", PVPATCH_OP_SAVE_FL,
	  { "x", 1, 0, { { PVT_POP, PVT_RET, PVT_NONE, 8, 0 } } }, PVPATCH_E_STACK },
	{ "unknown opcode", PVPATCH_OP_SAVE_FL,
	  { "x", 1, 0, { { 99, PVT_RET, PVT_NONE, 8, 0 } } }, PVPATCH_E_INSN },
	{ "rsp operand", PVPATCH_OP_SAVE_FL,
	  { "x", 1, 0, { { PVT_MOV, PVT_RET, PVPATCH_REG_RSP, 8, 0 } } }, PVPATCH_E_INSN },
	{ "bad width", PVPATCH_OP_SAVE_FL,
	  { "x", 1, 0, { { PVT_MOVI, PVT_RET, PVT_NONE, 2, 0 } } }, PVPATCH_E_INSN },
	{ "no such argument", PVPATCH_OP_SAVE_FL,
	  { "x", 1, 0, { { PVT_MOV, PVT_RET, PVT_ARG(0), 8, 0 } } }, PVPATCH_E_INSN },
	{ "empty", PVPATCH_OP_SAVE_FL, { "x", 0, 0, { { 0 } } }, PVPATCH_E_INSN },
	{ "hypercall clobbers rsp", PVPATCH_OP_SAVE_FL,
	  { "x", 2, 1u << 4, { { PVT_VMCALL, PVT_NONE, PVT_NONE, 4, 0 },
			       { PVT_MOVI, PVT_RET, PVT_NONE, 4, 1 } } },
	  PVPATCH_E_CLOBBER },
	{ "argument overwritten before use", PVPATCH_OP_SEND_IPI,
	  { "x", 2, 0, { { PVT_MOV, PVT_ARG(1), PVT_ARG(0), 8, 0 },
			 { PVT_PUSH, PVT_ARG(1), PVT_NONE, 8, 0 } } },
	  PVPATCH_E_ARG_LOST },
	{ "no scratch register", PVPATCH_OP_SEND_IPI,
	  { "x", 1, 0, { { PVT_MOV, PVT_SCRATCH(0), PVT_ARG(0), 8, 0 } } },
	  PVPATCH_E_NO_SCRATCH },
};

static void test_inline_refused_falls_back_to_call(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(bad_templates) / sizeof(bad_templates[0]); i++) {
		const struct bad_template *b = &bad_templates[i];
		const void *backend = b->op == PVPATCH_OP_SAVE_FL ? (const void *)be_save_fl
								  : (const void *)be_send_ipi;
		const void *fn = b->op == PVPATCH_OP_SAVE_FL ? (const void *)site_save_fl
							     : (const void *)site_send_ipi;

		memset(&pol, 0, sizeof(pol));
		pol.op[b->op] = (struct pvpatch_op_policy){
			.mode = PVPATCH_MODE_INLINE, .tmpl = &b->t, .backend = backend };
		patch();
		print_message("template %s\n", b->what);
		assert_int_equal(rejects_with(b->reason), count_op(b->op));
		assert_int_equal(rep.fallbacks, count_op(b->op));
		assert_int_equal(rep.op_mode[b->op][PVPATCH_MODE_CALL], count_op(b->op));
		assert_int_equal(rep.rejects[0].wanted, PVPATCH_MODE_INLINE);
		assert_int_equal(rep.rejects[0].got, PVPATCH_MODE_CALL);
		assert_int_equal(site_bytes(rec(fn, b->op))[0], 0xe8);
	}
	assert_int_equal(site_save_fl(), 0x246);	/* the backend's answer */
}

static void test_fallback_to_native(void **st)
{
	(void)st;
	/* INLINE without template and CALL without backend: native. */
	pol.op[PVPATCH_OP_SAVE_FL].mode = PVPATCH_MODE_INLINE;
	pol.op[PVPATCH_OP_WRITE_CR3].mode = PVPATCH_MODE_CALL;
	/* NOP is not a mode read_cr3 may take (its result would be garbage). */
	pol.op[PVPATCH_OP_READ_CR3].mode = PVPATCH_MODE_NOP;
	patch();
	assert_int_equal(rejects_with(PVPATCH_E_NO_TEMPLATE), count_op(PVPATCH_OP_SAVE_FL));
	assert_int_equal(rejects_with(PVPATCH_E_NO_BACKEND), count_op(PVPATCH_OP_WRITE_CR3));
	assert_int_equal(rejects_with(PVPATCH_E_MODE), count_op(PVPATCH_OP_READ_CR3));
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], rep.sites);
	assert_int_equal(rep.written, 0);
	assert_text_native();
	assert_true(site_save_fl() & 0x200);
}

/* --- revert, idempotence, overrides -------------------------------------- */
static void policy_everything(void)
{
	pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_read_cr3 };
	pol.op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_cpuid };
	pol.op[PVPATCH_OP_IO_DELAY].mode = PVPATCH_MODE_NOP;
	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_const, .params = { 0x202 } };
	pol.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_mem_size };
}

static void patch_everything(void)
{
	policy_everything();
	patch();
}

static void test_revert(void **st)
{
	(void)st;
	patch_everything();
	assert_true(rep.written > 0);
	assert_int_equal(site_mem_size(), 0x777000);
	assert_int_equal(pvpatch_revert(&pv, &rep), 0);
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], rep.sites);
	assert_text_native();
	assert_int_equal(site_mem_size(), native_mem_size());
}

static void test_same_policy_twice_writes_nothing(void **st)
{
	unsigned int before;

	(void)st;
	patch_everything();
	before = pokes;
	patch_everything();
	assert_int_equal(rep.written, 0);
	assert_int_equal(rep.bytes_changed, 0);
	assert_int_equal(pokes, before);
	assert_int_equal(site_save_fl(), 0x202);
}

/* --- pre-patched images (tools/pvrom image) ---------------------------------- */
static struct pvpatch_site_state img_state[MAX_SITES];
static uint8_t img_saved[MAX_SITES * PVPATCH_MAX_SITE];
static struct pvpatch_thunk_slot img_tindex[PVPATCH_THUNK_SLOTS(MAX_SITES)];
static uint8_t image[PVPATCH_IMAGE_HEADER_SIZE + MAX_SITES * PVPATCH_MAX_NATIVE];
static uint8_t bad_image[sizeof(image)];

/* A descriptor of this program's sites on the second thunk area, as a
 * kernel booting a (pre-patched) image fills it. */
static void img_desc(struct pvpatch *d, const uint8_t *img, size_t size)
{
	*d = (struct pvpatch){
		.sites = __pvpatch_sites_start, .sites_end = __pvpatch_sites_end,
		.text_start = (uintptr_t)__executable_start, .text_end = (uintptr_t)etext,
		.state = img_state, .saved = img_saved, .saved_size = sizeof(img_saved),
		.thunks = AUX_THUNKS, .thunks_size = AUX_THUNK_SIZE,
		.thunk_index = img_tindex, .thunk_slots = PVPATCH_THUNK_SLOTS(MAX_SITES),
		.poke = checked_poke, .image = img, .image_size = size,
	};
	d->poke_arg = d;
}

/* What pvrom image writes: the header and each record's native bytes, from
 * the text as compiled.  Returns the section's size. */
static size_t image_make(void)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;
	unsigned int n = (unsigned int)(__pvpatch_sites_end - __pvpatch_sites_start);
	struct pvpatch_image_header h = {
		.magic = PVPATCH_IMAGE_MAGIC, .version = PVPATCH_IMAGE_VERSION,
		.stride = PVPATCH_MAX_NATIVE, .n_records = n,
	};

	memset(image, 0, sizeof(image));
	memcpy(image, &h, sizeof(h));
	for (unsigned int i = 0; i < n; i++) {
		const struct pvpatch_site *s = &__pvpatch_sites_start[i];

		memcpy(image + PVPATCH_IMAGE_HEADER_SIZE + i * PVPATCH_MAX_NATIVE,
		       text_copy + ((uintptr_t)pvpatch_site_addr(s) - start), s->native_len);
	}
	return PVPATCH_IMAGE_HEADER_SIZE + (size_t)n * PVPATCH_MAX_NATIVE;
}

/* Patch the text as pvrom-sim does for an image (a descriptor of its own,
 * thunks from the start of the second area); returns the sites written. */
static unsigned int prepatch(void)
{
	struct pvpatch a;

	memset(AUX_THUNKS, 0xcc, AUX_THUNK_SIZE);
	img_desc(&a, NULL, 0);
	policy_everything();
	assert_int_equal(pvpatch_apply(&a, &pol, &rep), 0);
	assert_int_equal(rep.invalid, 0);
	assert_true(rep.written > 0 && rep.thunk_bytes > 0);
	return rep.written;
}

static void test_image_prepatched_writes_nothing(void **st)
{
	struct pvpatch b;
	unsigned int patched, fallbacks, modes[PVPATCH_NR_MODES];
	size_t size;

	(void)st;
	patched = prepatch();
	fallbacks = rep.fallbacks;
	memcpy(modes, rep.mode, sizeof(modes));
	size = image_make();

	/* Booting the image with the same policy: nothing to write, thunks
	 * included (the same thunks, built at the same offsets). */
	img_desc(&b, image, size);
	pokes = thunk_pokes = 0;
	assert_int_equal(pvpatch_apply(&b, &pol, &rep), 0);
	assert_int_equal(rep.invalid, 0);
	assert_int_equal(rep.written, 0);
	assert_int_equal(rep.bytes_changed, 0);
	assert_int_equal(pokes, 0);
	assert_int_equal(thunk_pokes, 0);
	assert_int_equal(rep.fallbacks, fallbacks);
	assert_memory_equal(rep.mode, modes, sizeof(modes));
	assert_true(rep.thunk_bytes > 0);
	assert_int_equal(site_mem_size(), 0x777000);
	assert_int_equal(site_save_fl(), 0x202);
	site_write_cr3(0x5000);				/* through a thunk */
	assert_int_equal(cr3_seen, 0x5000);

	/* NATIVE again: every patched site gets the true native bytes, from
	 * the image (the sites no longer hold them). */
	assert_int_equal(pvpatch_revert(&b, &rep), 0);
	assert_int_equal(rep.written, patched);
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], rep.sites);
	assert_text_native();
	assert_int_equal(site_mem_size(), native_mem_size());
}

static void test_image_header_checked(void **st)
{
	static const struct { unsigned int off, len; uint32_t val; } bad[] = {
		{ PVPATCH_IMAGE_HEADER_OFF_MAGIC, 4, PVPATCH_IMAGE_MAGIC ^ 1 },
		{ PVPATCH_IMAGE_HEADER_OFF_VERSION, 2, PVPATCH_IMAGE_VERSION + 1 },
		{ PVPATCH_IMAGE_HEADER_OFF_STRIDE, 2, PVPATCH_MAX_NATIVE - 1 },
		{ PVPATCH_IMAGE_HEADER_OFF_STRIDE, 2, 0 },
		{ PVPATCH_IMAGE_HEADER_OFF_STRIDE, 2, 0xffff },
		{ PVPATCH_IMAGE_HEADER_OFF_N_RECORDS, 4, 0 },
		{ PVPATCH_IMAGE_HEADER_OFF_N_RECORDS, 4, 1 },
		{ PVPATCH_IMAGE_HEADER_OFF_N_RECORDS, 4, 0xffffffffu },
		{ PVPATCH_IMAGE_HEADER_OFF_FLAGS, 4, 1 },
	};
	unsigned int n = (unsigned int)(__pvpatch_sites_end - __pvpatch_sites_start);
	const struct pvpatch_backend_family fam = { "mem", FAMILY_AREA, FAMILY_AREA + 64 };
	struct pvpatch b;
	size_t size;

	(void)st;
	/* A zero header (a kernel not pre-patched) on native text: as without
	 * an image. */
	memset(image, 0, sizeof(image));
	img_desc(&b, image, PVPATCH_IMAGE_HEADER_SIZE + (size_t)n * PVPATCH_MAX_NATIVE);
	assert_int_equal(pvpatch_apply(&b, &pol, &rep), 0);
	assert_int_equal(rep.invalid, 0);
	assert_int_equal(rep.written, 0);

	prepatch();
	size = image_make();
	/* A header that is not zero and not sound (every field, and the size):
	 * the sites' native bytes are unknown, so every record is refused and
	 * nothing is written, not even by NATIVE; no backend is freed. */
	for (unsigned int k = 0; k <= sizeof(bad) / sizeof(bad[0]); k++) {
		size_t bsize = size;

		memcpy(bad_image, image, sizeof(image));
		if (k < sizeof(bad) / sizeof(bad[0])) {
			for (unsigned int b2 = 0; b2 < bad[k].len; b2++)
				bad_image[bad[k].off + b2] = (uint8_t)(bad[k].val >> (8 * b2));
		} else {
			bsize = size - 1;	/* the last slot would lie outside */
		}
		img_desc(&b, bad_image, bsize);
		pokes = 0;
		memset(&pol, 0, sizeof(pol));
		assert_int_equal(pvpatch_apply(&b, &pol, &rep), 0);
		assert_int_equal(rep.invalid, n);
		assert_int_equal(rep.reasons[PVPATCH_E_IMAGE], n);
		assert_int_equal(rep.written, 0);
		assert_int_equal(pokes, 0);
		assert_int_equal(pvpatch_free_backends(&b, &fam, 1, 0xcc), 0);
		assert_int_equal(pokes, 0);
		/* The image runs as it was built. */
		assert_int_equal(site_mem_size(), 0x777000);
	}
	assert_string_equal(pvpatch_reason_str(PVPATCH_E_IMAGE),
			    "pre-patched image header or slot unusable");

	/* The sound image brings every site back. */
	img_desc(&b, image, size);
	assert_int_equal(pvpatch_revert(&b, &rep), 0);
	assert_int_equal(rep.invalid, 0);
	assert_text_native();
}

static void test_override_by_address(void **st)
{
	const struct pvpatch_site *one = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	const struct pvpatch_site *other = rec(site_write_cr3_live, PVPATCH_OP_WRITE_CR3);
	struct pvpatch_override o = { NULL, (uintptr_t)pvpatch_site_addr(one), PVPATCH_MODE_CALL };

	(void)st;
	pol.op[PVPATCH_OP_WRITE_CR3].backend = be_write_cr3;	/* mode stays NATIVE */
	pol.overrides = &o;
	pol.n_overrides = 1;
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_WRITE_CR3][PVPATCH_MODE_CALL], 1);
	assert_int_equal(site_bytes(one)[0], 0xe8);
	assert_int_not_equal(site_bytes(other)[0], 0xe8);
	site_write_cr3(0x7000);
	assert_int_equal(cr3_seen, 0x7000);
}

static uintptr_t lookup(const char *func)
{
	if (!strcmp(func, "site_io_delay"))
		return (uintptr_t)site_io_delay;
	return 0;
}

static void test_override_by_function_offset(void **st)
{
	const struct pvpatch_site *s = rec(site_io_delay, PVPATCH_OP_IO_DELAY);
	struct pvpatch_override o[] = {
		{ "site_io_delay", (uintptr_t)pvpatch_site_addr(s) - (uintptr_t)site_io_delay,
		  PVPATCH_MODE_NOP },
		{ "no_such_function", 0, PVPATCH_MODE_NOP },
		{ "site_io_delay", 1000, PVPATCH_MODE_NOP },	/* not a site */
	};

	(void)st;
	pv.lookup = lookup;
	pol.overrides = o;
	pol.n_overrides = 3;
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_IO_DELAY][PVPATCH_MODE_NOP], 1);
	assert_int_equal(rejects_with(PVPATCH_E_OVERRIDE), 2);
	site_io_delay();
}

/* --- malformed records: refused, their bytes never written --------------- */
struct fake {
	struct pvpatch_site rec[12];
	uint8_t text[256];
	uint8_t thunks[256] __attribute__((aligned(16)));
};

static struct fake fake;

static void fake_rec(int i, unsigned int off, unsigned int op, unsigned int site_len,
		     unsigned int native_len, unsigned int flags, uint16_t clob, uint32_t regs)
{
	struct pvpatch_site *r = &fake.rec[i];

	r->site = (int32_t)((intptr_t)&fake.text[off] - (intptr_t)&r->site);
	r->op = (uint16_t)op;
	r->version = PVPATCH_SITE_VERSION;
	r->flags = (uint8_t)flags;
	r->site_len = (uint8_t)site_len;
	r->native_len = (uint8_t)native_len;
	r->clobbers = clob;
	r->regs = regs;
}

static void test_malformed_records(void **st)
{
	static const uint8_t wcr3[] = { 0x0f, 0x22, 0xdf };	/* mov %rdi,%cr3 */
	struct pvpatch_site_state fstate[12];
	struct pvpatch_thunk_slot findex[PVPATCH_THUNK_SLOTS(12)];
	uint8_t fsaved[12 * PVPATCH_MAX_SITE], before[sizeof(fake.text)];
	struct pvpatch f;
	const unsigned int W = PVPATCH_OP_WRITE_CR3, rdi = 7 << 4;
	const unsigned int L = pvpatch_op_table[W].site_len;	/* 16 bytes apart */
	enum pvpatch_reason want[12];
	int n = 0;

	(void)st;
	memset(&fake, 0xcc, sizeof(fake));
	for (int i = 0; i < 12; i++)
		memcpy(&fake.text[i * 16], wcr3, sizeof(wcr3));
	/* 0: valid, it gets patched. */
	want[n] = PVPATCH_OK;
	fake_rec(n++, 0, W, L, 3, 1, 0, rdi);
	want[n] = PVPATCH_E_VERSION;
	fake_rec(n, 16, W, L, 3, 1, 0, rdi);
	fake.rec[n++].version = 9;
	want[n] = PVPATCH_E_OP;
	fake_rec(n++, 32, 999, L, 3, 1, 0, rdi);
	want[n] = PVPATCH_E_OP;
	fake_rec(n++, 32, 0, L, 3, 1, 0, rdi);
	want[n] = PVPATCH_E_RANGE;	/* ends past text_end */
	fake_rec(n++, sizeof(fake.text) - 2, W, L, 3, 1, 0, rdi);
	want[n] = PVPATCH_E_LENGTH;	/* site_len is not the op's */
	fake_rec(n++, 48, W, L - 1, 3, 1, 0, rdi);
	want[n] = PVPATCH_E_LENGTH;	/* native longer than the site */
	fake_rec(n++, 48, W, L, L + 1, 1, 0, rdi);
	want[n] = PVPATCH_E_FLAGS;	/* write_cr3 has one argument */
	fake_rec(n++, 64, W, L, 3, 2, 0, rdi);
	want[n] = PVPATCH_E_FLAGS;	/* argument in rsp */
	fake_rec(n++, 80, W, L, 3, 1, 0, 4 << 4);
	want[n] = PVPATCH_E_DECODE;	/* the bytes are not 2 bytes of code */
	fake_rec(n++, 96, W, L, 2, 1, 0, rdi);
	want[n] = PVPATCH_E_OVERLAP;	/* two sites sharing bytes */
	fake_rec(n++, 112, W, L, 3, 1, 0, rdi);
	want[n] = PVPATCH_E_OVERLAP;
	fake_rec(n++, 114, W, L, 3, 1, 0, rdi);

	f = (struct pvpatch){
		.sites = fake.rec, .sites_end = fake.rec + n,
		.text_start = (uintptr_t)fake.text, .text_end = (uintptr_t)fake.text + sizeof(fake.text),
		.state = fstate, .saved = fsaved, .saved_size = sizeof(fsaved),
		.thunks = fake.thunks, .thunks_size = sizeof(fake.thunks),
		.thunk_index = findex, .thunk_slots = PVPATCH_THUNK_SLOTS(12),
		.poke = checked_poke, .poke_arg = &f,
	};
	memcpy(before, fake.text, sizeof(before));
	memset(&pol, 0, sizeof(pol));
	pol.op[W] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	assert_int_equal(pvpatch_apply(&f, &pol, &rep), 0);
	for (int i = 0; i < n; i++) {
		print_message("record %d\n", i);
		assert_int_equal(fstate[i].reason, want[i]);
	}
	assert_int_equal(rep.invalid, n - 1);
	assert_int_equal(rep.mode[PVPATCH_MODE_CALL], 1);
	/* Only the valid site's bytes changed (to a call to the thunk). */
	assert_true(L >= 5 && L < 16);
	assert_int_equal(fake.text[0], 0xe8);
	assert_memory_equal(fake.text + L, before + L, sizeof(before) - L);
}

static void test_unusable_descriptor(void **st)
{
	struct pvpatch bad = pv;

	(void)st;
	bad.ready = 0;
	bad.state = NULL;
	assert_int_equal(pvpatch_apply(&bad, &pol, &rep), -1);
	bad = pv;
	bad.ready = 0;
	bad.sites_end = bad.sites - 1;
	assert_int_equal(pvpatch_apply(&bad, &pol, &rep), -1);
}

/* --- report and debug dump ----------------------------------------------- */
static char printed[64][256];
static unsigned int n_printed;

static void print_hook(const char *s)
{
	if (n_printed < 64)
		snprintf(printed[n_printed], sizeof(printed[0]), "%s", s);
	n_printed++;
}

static int printed_has(const char *needle)
{
	for (unsigned int i = 0; i < n_printed && i < 64; i++)
		if (strstr(printed[i], needle))
			return 1;
	return 0;
}

static void test_debug_dump_and_report(void **st)
{
	char want[64];
	const struct pvpatch_site *s = rec(site_io_delay, PVPATCH_OP_IO_DELAY);

	(void)st;
	n_printed = 0;
	pv.print = print_hook;
	pv.flags = PVPATCH_F_DEBUG;
	pol.op[PVPATCH_OP_IO_DELAY].mode = PVPATCH_MODE_NOP;
	pol.op[PVPATCH_OP_SAVE_FL].mode = PVPATCH_MODE_INLINE;	/* no template: a reject */
	patch();
	snprintf(want, sizeof(want), "%016lx io_delay NOP old e6 80",
		 (unsigned long)(uintptr_t)pvpatch_site_addr(s));
	assert_true(printed_has(want));
	snprintf(want, sizeof(want), "%016lx new 0f 1f 44 00 00",
		 (unsigned long)(uintptr_t)pvpatch_site_addr(s));
	assert_true(printed_has(want));
	n_printed = 0;
	pvpatch_report_print(&pv, &rep);
	assert_true(printed_has("io_delay NOP=1"));
	assert_true(printed_has("wanted INLINE got NATIVE: INLINE without a template"));
}


/* --- pvpatch_repatch(): live re-patching --------------------------------- */

BACKEND static void be_write_cr3_b(unsigned long v)
{
	cr3_seen = v + 1;
	cr3_calls++;
}

static uint8_t rp_scratch[PVPATCH_REPATCH_SCRATCH(MAX_SITES, THUNK_SIZE)];
static struct pvpatch_cpu_context rp_ctx[4];
static struct pvpatch_cpu_context rp_busy_ctx;	/* reported for the first rp_busy stops */
static unsigned int rp_busy;
static uintptr_t rp_stack[64];			/* a stopped CPU's stack */
static struct pvpatch_rendezvous rv;
static uint8_t *text_before, *thunks_before;

/* Two stopped CPUs: one idle on its own stack, one as the test says. */
static int rp_stop(void *arg, struct pvpatch_cpu_context *ctx, unsigned int max)
{
	(void)arg;
	rv_event('S');
	assert_true(max >= 2);
	ctx[0] = (struct pvpatch_cpu_context){
		.rip = (uintptr_t)rp_stop, .rsp = (uintptr_t)&rp_stack[60],
		.stack_top = (uintptr_t)&rp_stack[64] };
	if (rp_busy) {
		rp_busy--;
		ctx[1] = rp_busy_ctx;
	} else {
		ctx[1] = ctx[0];
	}
	return 2;
}

static void rp_release(void *arg, bool wrote)
{
	(void)arg;
	rv_event(wrote ? 'W' : 'R');
}

static void rp_sync(void *arg)
{
	(void)arg;
	rv_event('Y');
}

static int rp_call(const struct pvpatch_policy *p)
{
	rv_n = 0;
	rv_log[0] = 0;
	return pvpatch_repatch(&pv, p, &rv, &rep);
}

static void snapshot(void)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;

	memcpy(text_before, (void *)start, text_len);
	memcpy(thunks_before, pv.thunks, THUNK_SIZE);
}

/* Every byte of text and of the thunk area as snapshot() saw it. */
static void assert_unchanged(void)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;

	assert_memory_equal((void *)start, text_before, text_len);
	assert_memory_equal(pv.thunks, thunks_before, THUNK_SIZE);
}

/* Each test starts native with every thunk given back (an all-NATIVE
 * re-patch reclaims what earlier tests left). */
static int rp_setup(void **st)
{
	static const struct pvpatch_policy native;

	if (setup(st))
		return -1;
	rv = (struct pvpatch_rendezvous){
		.stop = rp_stop, .release = rp_release, .sync = rp_sync, .ctx = rp_ctx,
		.max_ctx = 4, .tries = 4, .scratch = rp_scratch, .scratch_size = sizeof(rp_scratch),
	};
	rp_busy = 0;
	memset(rp_stack, 0, sizeof(rp_stack));
	if (!text_before)
		text_before = malloc(text_len);
	if (!thunks_before)
		thunks_before = malloc(THUNK_SIZE);
	if (pvpatch_repatch(&pv, &native, &rv, &rep) || pv.thunks_used)
		return -1;
	/* The mutation check (tests/unit/test_patcher.py): quiescence off. */
	if (mutate_no_quiesce)
		pv.flags |= PVPATCH_F_NO_QUIESCE_DEBUG;
	return 0;
}

static void policy_call(struct pvpatch_policy *p, const void *cr3_backend)
{
	memset(p, 0, sizeof(*p));
	p->op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_mem_size };
	p->op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = cr3_backend };
}

/*
 * NATIVE -> CALL -> INLINE -> NATIVE, each re-patch writing exactly what a
 * pvpatch_apply() of the same policy writes (text and thunk area compared
 * whole), in one stop, and the sites doing what the policy says.
 */
static void test_repatch_native_call_inline_native(void **st)
{
	static struct pvpatch_policy pcall, pinl, native;
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	const struct pvpatch_site *m = rec(site_mem_size, PVPATCH_OP_MEM_SIZE);
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;
	uint8_t *want_text = malloc(text_len), *want_thunks = malloc(THUNK_SIZE);
	unsigned int n_cr3 = count_op(PVPATCH_OP_WRITE_CR3), n_mem = count_op(PVPATCH_OP_MEM_SIZE);
	unsigned int n_fl = count_op(PVPATCH_OP_SAVE_FL);

	(void)st;
	policy_call(&pcall, be_write_cr3);
	pinl = pcall;
	pinl.op[PVPATCH_OP_WRITE_CR3].mode = PVPATCH_MODE_NATIVE;
	pinl.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_const, .params = { 0x202 } };
	/* What the boot path writes for pcall (its thunks stay in the index). */
	assert_int_equal(pvpatch_apply(&pv, &pcall, &rep), 0);
	memcpy(want_text, (void *)start, text_len);
	memcpy(want_thunks, pv.thunks, THUNK_SIZE);
	assert_int_equal(pvpatch_revert(&pv, &rep), 0);
	assert_text_native();

	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	assert_int_equal(rep.status, PVPATCH_RP_DONE);
	assert_memory_equal((void *)start, want_text, text_len);
	assert_memory_equal(pv.thunks, want_thunks, THUNK_SIZE);
	assert_int_equal(rep.stops, 1);
	assert_int_equal(rep.retries, 0);
	assert_int_equal(rep.written, n_cr3 + n_mem);
	assert_int_equal(rep.op_mode[PVPATCH_OP_WRITE_CR3][PVPATCH_MODE_CALL], n_cr3);
	assert_true(call_target(site_bytes(w)) >= (uintptr_t)pv.thunks);
	assert_int_equal(call_target(site_bytes(m)), (uintptr_t)be_mem_size);
	assert_int_equal(site_mem_size(), 0x777000);
	site_write_cr3(0x7000);
	assert_int_equal(cr3_seen, 0x7000);
	dump_site("repatch_call", m, "call");

	/* CALL -> INLINE (save_fl), write_cr3 back to native: its thunk goes. */
	assert_int_equal(pvpatch_apply(&pv, &pinl, &rep), 0);
	memcpy(want_text, (void *)start, text_len);
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);	/* back to pcall */
	assert_int_equal(rp_call(&pinl), PVPATCH_RP_DONE);
	assert_memory_equal((void *)start, want_text, text_len);
	assert_int_equal(rep.op_mode[PVPATCH_OP_SAVE_FL][PVPATCH_MODE_INLINE], n_fl);
	assert_int_equal(rep.written, n_fl + n_cr3);
	assert_true(rep.thunks_reclaimed >= 1);
	assert_int_equal(site_save_fl(), 0x202);
	assert_int_equal(site_mem_size(), 0x777000);
	for (size_t i = 0; i < THUNK_SIZE; i++)
		assert_true(pv.thunks[i] == 0xcc || i >= pv.thunks_used || pv.thunks[i] == want_thunks[i]);

	/* And back: every byte of text native, the used area all int3. */
	assert_int_equal(rp_call(&native), PVPATCH_RP_DONE);
	assert_text_native();
	assert_int_equal(pv.thunks_used, 0);
	for (size_t i = 0; i < THUNK_SIZE; i++)
		assert_true(pv.thunks[i] == 0xcc || pv.thunks[i] == 0);
	/* Nothing to do: no stop at all. */
	assert_int_equal(rp_call(&native), PVPATCH_RP_DONE);
	assert_int_equal(rep.stops, 0);
	assert_string_equal(rv_log, "");
	free(want_text);
	free(want_thunks);
}

/* Hooks in the documented order: stop, (release, stop)* while busy, the
 * pokes, sync, release after writes. */
static void test_repatch_hook_order(void **st)
{
	static struct pvpatch_policy pcall;
	const struct pvpatch_site *m = rec(site_mem_size, PVPATCH_OP_MEM_SIZE);
	size_t k;

	(void)st;
	policy_call(&pcall, be_write_cr3);
	rp_busy_ctx = (struct pvpatch_cpu_context){
		.rip = (uintptr_t)site_bytes(m) + 1, .rsp = (uintptr_t)&rp_stack[0],
		.stack_top = (uintptr_t)&rp_stack[64] };
	rp_busy = 2;
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	assert_int_equal(rep.stops, 3);
	assert_int_equal(rep.retries, 2);
	assert_memory_equal(rv_log, "SRSRS", 5);
	for (k = 5; rv_log[k] == 'P'; k++)
		;
	assert_true(k > 5);
	assert_string_equal(rv_log + k, "YW");
	assert_int_equal(site_mem_size(), 0x777000);
}

/* A CPU that stays where the text changes: give up after rv.tries stops,
 * with the reason, and not one byte of text or thunk area changed. */
static void busy_gives_up(uintptr_t rip, uintptr_t word, const struct pvpatch_policy *p)
{
	rp_stack[10] = word;
	rp_busy_ctx = (struct pvpatch_cpu_context){
		.rip = rip, .rsp = (uintptr_t)&rp_stack[2], .stack_top = (uintptr_t)&rp_stack[64] };
	rp_busy = 1000;
	snapshot();
	assert_int_equal(rp_call(p), PVPATCH_RP_BUSY);
	assert_int_equal(rep.status, PVPATCH_RP_BUSY);
	assert_string_equal(pvpatch_repatch_str(rep.status), "not quiescent");
	assert_int_equal(rep.stops, 4);
	assert_int_equal(rep.retries, 4);
	assert_string_equal(rv_log, "SRSRSRSR");
	assert_int_equal(rep.written, 0);
	assert_int_equal(rep.busy_cpu, 1);
	assert_int_equal(rep.busy_addr, word ? word : rip);
	assert_int_equal(rep.busy_at, word ? (uintptr_t)&rp_stack[10] : 0);
	assert_unchanged();
	rp_stack[10] = 0;
	rp_busy = 0;
}

static void test_repatch_busy_rip_in_site(void **st)
{
	static struct pvpatch_policy pcall;
	const struct pvpatch_site *m = rec(site_mem_size, PVPATCH_OP_MEM_SIZE);
	const uint8_t *a = site_bytes(m);

	(void)st;
	policy_call(&pcall, be_write_cr3);
	busy_gives_up((uintptr_t)a + 1, 0, &pcall);
	busy_gives_up((uintptr_t)a + m->site_len - 1, 0, &pcall);
	assert_int_equal(site_mem_size(), native_mem_size());
	/* At the first byte, or just past the site: it runs the new bytes. */
	rp_busy_ctx.rip = (uintptr_t)a;
	rp_busy = 1000;
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	assert_int_equal(rep.retries, 0);
	assert_int_equal(site_mem_size(), 0x777000);
}

static void test_repatch_busy_rip_in_thunk(void **st)
{
	static struct pvpatch_policy pcall, pnat;
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	uintptr_t thunk;

	(void)st;
	policy_call(&pcall, be_write_cr3);
	memset(&pnat, 0, sizeof(pnat));
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	thunk = call_target(site_bytes(w));
	assert_true(thunk >= (uintptr_t)pv.thunks);
	busy_gives_up(thunk + 3, 0, &pnat);
	site_write_cr3(0x9000);
	assert_int_equal(cr3_seen, 0x9000);
}

/* INLINE stubs are thunks to a re-patch: staged while planning, a CPU
 * stopped inside one is not quiescent, and once no site jumps to them they
 * are given back (int3), the area reused. */
static void test_repatch_inline_stub(void **st)
{
	static struct pvpatch_policy pin, pnat;
	const struct pvpatch_site *y = rec(site_sched_yield, PVPATCH_OP_SCHED_YIELD);
	unsigned int n = count_op(PVPATCH_OP_SCHED_YIELD);
	uintptr_t stub;
	size_t used;

	(void)st;
	memset(&pin, 0, sizeof(pin));
	memset(&pnat, 0, sizeof(pnat));
	pin.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_long_sched };
	assert_int_equal(rp_call(&pin), PVPATCH_RP_DONE);
	assert_int_equal(rep.op_mode[PVPATCH_OP_SCHED_YIELD][PVPATCH_MODE_INLINE], n);
	stub = call_target_of(site_bytes(y), 0xe9);
	assert_true(stub >= (uintptr_t)pv.thunks && stub < (uintptr_t)pv.thunks + pv.thunks_used);
	used = pv.thunks_used;
	assert_true(used >= 16 * n);
	site_sched_yield(1);
	/* The same policy again: the stubs are found, nothing changes. */
	assert_int_equal(rp_call(&pin), PVPATCH_RP_DONE);
	assert_int_equal(rep.written, 0);
	assert_int_equal(pv.thunks_used, used);
	/* Stopped inside a stub: not quiescent, nothing written. */
	busy_gives_up(stub + 4, 0, &pnat);
	assert_int_equal(call_target_of(site_bytes(y), 0xe9), stub);
	assert_int_equal(rp_call(&pnat), PVPATCH_RP_DONE);
	assert_true(rep.thunks_reclaimed >= n);
	assert_int_equal(pv.thunks_used, 0);
	for (size_t i = 0; i < used; i++)
		assert_int_equal(pv.thunks[i], 0xcc);
	assert_text_native();
	/* And the space serves the next plan: the same offsets again. */
	assert_int_equal(rp_call(&pin), PVPATCH_RP_DONE);
	assert_int_equal(pv.thunks_used, used);
	site_sched_yield(2);
}

/* A return address on the stack, into a changing site or a thunk; a word
 * below RSP is no return address. */
static void test_repatch_busy_stack_word(void **st)
{
	static struct pvpatch_policy pcall, pnat;
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	const struct pvpatch_site *m = rec(site_mem_size, PVPATCH_OP_MEM_SIZE);

	(void)st;
	policy_call(&pcall, be_write_cr3);
	memset(&pnat, 0, sizeof(pnat));
	busy_gives_up((uintptr_t)rp_stop, (uintptr_t)site_bytes(m) + m->site_len, &pcall);
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	busy_gives_up((uintptr_t)rp_stop, call_target(site_bytes(w)) + 9, &pnat);
	busy_gives_up((uintptr_t)rp_stop, (uintptr_t)site_bytes(w) + 5, &pnat);
	/* Below RSP: not scanned. */
	rp_stack[1] = (uintptr_t)site_bytes(w) + 5;
	rp_busy_ctx = (struct pvpatch_cpu_context){
		.rip = (uintptr_t)rp_stop, .rsp = (uintptr_t)&rp_stack[2],
		.stack_top = (uintptr_t)&rp_stack[64] };
	rp_busy = 1000;
	assert_int_equal(rp_call(&pnat), PVPATCH_RP_DONE);
	assert_int_equal(rep.retries, 0);
	assert_text_native();
}

/* A CPU inside a backend family a changing CALL site calls. */
static void test_repatch_busy_rip_in_backend_family(void **st)
{
	static const uint8_t be_code[] = { 0xb8, 0x34, 0x12, 0x00, 0x00, 0xc3 };
	static struct pvpatch_policy pcall, pnat;
	const struct pvpatch_backend_family fam[] = {
		{ "mem", FAMILY_AREA + 512, FAMILY_AREA + 576 },
		{ "desc", FAMILY_AREA + 1024, FAMILY_AREA + 1088 },
	};

	(void)st;
	memset(FAMILY_AREA + 512, 0x90, 64);
	memcpy(FAMILY_AREA + 512, be_code, sizeof(be_code));
	memset(&pcall, 0, sizeof(pcall));
	memset(&pnat, 0, sizeof(pnat));
	pcall.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = FAMILY_AREA + 512 };
	rv.families = fam;
	rv.n_families = 2;
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	assert_int_equal(site_mem_size(), 0x1234);
	busy_gives_up((uintptr_t)FAMILY_AREA + 517, 0, &pnat);
	/* A family no changing site calls: quiescent. */
	rp_busy_ctx.rip = (uintptr_t)FAMILY_AREA + 1030;
	rp_busy = 1000;
	assert_int_equal(rp_call(&pnat), PVPATCH_RP_DONE);
	assert_int_equal(site_mem_size(), native_mem_size());
	rv.families = NULL;
	rv.n_families = 0;
}

/* Planning fails (thunk area full): nothing written, no stop, the index
 * and the area as they were; the same re-patch with room succeeds. */
static void test_repatch_plan_failure_changes_nothing(void **st)
{
	static struct pvpatch_policy pcall;

	(void)st;
	policy_call(&pcall, be_write_cr3);
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	assert_true(pv.thunks_used > 0);
	pcall.op[PVPATCH_OP_WRITE_CR3].backend = be_write_cr3_b;	/* needs new thunks */
	pv.thunks_size = pv.thunks_used + 16;
	snapshot();
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_PLAN);
	pv.thunks_size = THUNK_SIZE;
	assert_int_equal(rep.status, PVPATCH_RP_PLAN);
	assert_true(rejects_with(PVPATCH_E_THUNK_SPACE) > 0);
	assert_int_equal(rep.written, 0);
	assert_int_equal(rep.op_mode[PVPATCH_OP_WRITE_CR3][PVPATCH_MODE_CALL],
			 count_op(PVPATCH_OP_WRITE_CR3));
	assert_string_equal(rv_log, "");
	assert_unchanged();
	site_write_cr3(0x3000);
	assert_int_equal(cr3_seen, 0x3000);	/* still the first backend */
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	site_write_cr3(0x3000);
	assert_int_equal(cr3_seen, 0x3001);
}

/*
 * Reclaimed thunk space is reused (first fit), the area stays code and
 * int3 only (decoded with the project's decoder), and its use does not grow
 * across policies that need the same room.
 */
static void test_repatch_reclaim_reuse(void **st)
{
	static struct pvpatch_policy pa, pb, pnat;
	const struct pvpatch_site *w = rec(site_write_cr3, PVPATCH_OP_WRITE_CR3);
	uintptr_t ta;
	size_t used_a;

	(void)st;
	policy_call(&pa, be_write_cr3);
	policy_call(&pb, be_write_cr3_b);
	memset(&pnat, 0, sizeof(pnat));
	assert_int_equal(rp_call(&pa), PVPATCH_RP_DONE);
	ta = call_target(site_bytes(w));
	used_a = pv.thunks_used;
	assert_int_equal(rp_call(&pnat), PVPATCH_RP_DONE);
	assert_true(rep.thunks_reclaimed >= 1);
	for (size_t i = 0; i < used_a; i++)
		assert_int_equal(pv.thunks[i], 0xcc);
	assert_int_equal(rp_call(&pb), PVPATCH_RP_DONE);
	assert_int_equal(call_target(site_bytes(w)), ta);	/* the same place */
	assert_int_equal(pv.thunks_used, used_a);
	/* Alternating policies: the area does not grow past two policies' room. */
	for (int round = 0; round < 4; round++) {
		assert_int_equal(rp_call(round & 1 ? &pb : &pa), PVPATCH_RP_DONE);
		assert_true(rep.thunks_reclaimed >= 1);
		assert_true(pv.thunks_used <= 2 * used_a);
		site_write_cr3(0x100);
		assert_int_equal(cr3_seen, round & 1 ? 0x101 : 0x100);
	}
	/* Only code and int3: each thunk at a multiple of 16 decodes (with the
	 * project's decoder) up to its return; nothing else but int3. */
	for (size_t off = 0; off < pv.thunks_used;) {
		size_t ret_at;

		if (pv.thunks[off] == 0xcc) {
			off++;
			continue;
		}
		assert_int_equal(off % 16, 0);
		off += thunk_code_len(pv.thunks + off, pv.thunks_used - off, &ret_at);
	}
	for (size_t i = pv.thunks_used; i < THUNK_SIZE; i++)
		assert_true(pv.thunks[i] == 0 || pv.thunks[i] == 0xcc);
}

/* A CALL to a backend in a freed family is refused per site, as at boot:
 * the sites fall back, nothing calls the freed bytes. */
static void test_repatch_refuses_freed_backend(void **st)
{
	static struct pvpatch_policy pcall;
	uint8_t *fam_mem = FAMILY_AREA + 3072;
	const struct pvpatch_backend_family fam = { "sched", fam_mem, fam_mem + 64 };
	unsigned int n_mem = count_op(PVPATCH_OP_MEM_SIZE);

	(void)st;
	memset(fam_mem, 0xc3, 64);
	assert_int_equal(pvpatch_free_backends(&pv, &fam, 1, 0xcc), 64);
	memset(&pcall, 0, sizeof(pcall));
	pcall.op[PVPATCH_OP_MEM_SIZE] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = fam_mem + 8 };
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_DONE);
	assert_int_equal(rejects_with(PVPATCH_E_FREED), n_mem);
	assert_int_equal(rep.op_mode[PVPATCH_OP_MEM_SIZE][PVPATCH_MODE_NATIVE], n_mem);
	assert_int_equal(rep.written, 0);
	assert_text_native();
	assert_int_equal(site_mem_size(), native_mem_size());
}

static void test_repatch_unusable(void **st)
{
	static struct pvpatch_policy pcall;

	(void)st;
	policy_call(&pcall, be_write_cr3);
	rv.scratch_size = PVPATCH_REPATCH_SCRATCH(MAX_SITES, THUNK_SIZE) / 4;
	snapshot();
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_UNUSABLE);
	rv.scratch_size = sizeof(rp_scratch);
	rv.stop = NULL;
	assert_int_equal(rp_call(&pcall), PVPATCH_RP_UNUSABLE);
	rv.stop = rp_stop;
	assert_string_equal(rv_log, "");
	assert_unchanged();
}

/* --- the thunk index: sized by the records, never the limit ---------------- */
/*
 * MANY write_cr3 sites in a text of their own, each with another mask of
 * registers it may lose (any of rax..r15 but rsp, rbp and rdi, its
 * argument), so under stack_align 16 each needs a thunk of its own: more
 * thunks than the fixed 512-slot index of old could hold.  Each site sits
 * in a 16-byte slot followed by `ret`, so a slot can be called as
 * void (*)(unsigned long): the thunk saves what the call overwrites and
 * the site keeps, the backend (a C function) keeps the callee-saved ones.
 */

static struct pvpatch_site many_rec[MANY];
static struct pvpatch_site_state many_state[MANY];
static uint8_t many_saved[MANY * PVPATCH_MAX_SITE];
static struct pvpatch_thunk_slot many_index[PVPATCH_THUNK_SLOTS(MANY)];
static uint8_t many_scratch[PVPATCH_REPATCH_SCRATCH(MANY, MANY_THUNK_SIZE)];
static uint8_t many_text_before[MANY_TEXT_SIZE], many_thunks_before[MANY_THUNK_SIZE];
static struct pvpatch mpv;

/* The i-th mask: bit k of i says whether the k-th register below is lost. */
static uint16_t many_mask(unsigned int i)
{
	static const int8_t regs[] = {
		PVPATCH_REG_RAX, PVPATCH_REG_RCX, PVPATCH_REG_RDX, PVPATCH_REG_RBX,
		PVPATCH_REG_RSI, PVPATCH_REG_R8, PVPATCH_REG_R9, PVPATCH_REG_R10,
		PVPATCH_REG_R11, PVPATCH_REG_R12, PVPATCH_REG_R13, PVPATCH_REG_R14,
		PVPATCH_REG_R15,
	};
	uint16_t m = pvpatch_op_table[PVPATCH_OP_WRITE_CR3].clobbers;

	for (unsigned int k = 0; k < sizeof(regs); k++)
		if (i >> k & 1)
			m |= (uint16_t)(1u << regs[k]);
	return m;
}

/* The records and their text, native, and a descriptor with this index. */
static void many_init(struct pvpatch_thunk_slot *index, size_t slots)
{
	static const uint8_t wcr3[] = { 0x0f, 0x22, 0xdf };	/* mov %rdi,%cr3 */
	const unsigned int W = PVPATCH_OP_WRITE_CR3, L = pvpatch_op_table[W].site_len;

	assert_true(L >= 5 && L < 16);
	memset(MANY_TEXT, 0xcc, MANY_TEXT_SIZE);
	memset(MANY_THUNKS, 0, MANY_THUNK_SIZE);
	memset(many_index, 0x77, sizeof(many_index));	/* the patcher clears it */
	for (unsigned int i = 0; i < MANY; i++) {
		struct pvpatch_site *r = &many_rec[i];
		uint8_t *t = MANY_TEXT + 16 * i;

		memcpy(t, wcr3, sizeof(wcr3));
		memset(t + sizeof(wcr3), 0x90, L - sizeof(wcr3));
		t[L] = 0xc3;
		*r = (struct pvpatch_site){
			.site = (int32_t)((intptr_t)t - (intptr_t)&r->site), .op = (uint16_t)W,
			.version = PVPATCH_SITE_VERSION, .flags = 1, .site_len = (uint8_t)L,
			.native_len = sizeof(wcr3), .clobbers = many_mask(i),
			.regs = PVPATCH_REG_RDI << 4,
		};
	}
	mpv = (struct pvpatch){
		.sites = many_rec, .sites_end = many_rec + MANY,
		.text_start = (uintptr_t)MANY_TEXT, .text_end = (uintptr_t)MANY_TEXT + MANY_TEXT_SIZE,
		.state = many_state, .saved = many_saved, .saved_size = sizeof(many_saved),
		.thunks = MANY_THUNKS, .thunks_size = MANY_THUNK_SIZE,
		.thunk_index = index, .thunk_slots = slots,
		.poke = checked_poke, .poke_arg = &mpv,
		.stack_align = PVPATCH_STACK_ALIGN_16,	/* every CALL through a thunk */
	};
	memset(&pol, 0, sizeof(pol));
}

static int many_repatch(const struct pvpatch_policy *p)
{
	struct pvpatch_rendezvous r = rv;

	r.scratch = many_scratch;
	r.scratch_size = sizeof(many_scratch);
	rv_n = 0;
	rv_log[0] = 0;
	return pvpatch_repatch(&mpv, p, &r, &rep);
}

/* Site i, called: it must reach backend with its argument. */
static void many_run(unsigned int i, unsigned long v)
{
	((void (*)(unsigned long))(void *)(MANY_TEXT + 16 * i))(v);
}

/* How many distinct thunks the CALL sites call (each site's own, from the
 * index): every CALL site is `call rel32` into the used area. */
static unsigned int many_distinct_thunks(void)
{
	unsigned int n = 0;

	for (size_t k = 0; k < mpv.index_slots; k++)
		n += mpv.thunk_index[k].code != 0;
	for (unsigned int i = 0; i < MANY; i++) {
		const uint8_t *t = MANY_TEXT + 16 * i;

		if (many_state[i].mode != PVPATCH_MODE_CALL)
			continue;
		assert_int_equal(t[0], 0xe8);
		assert_true(call_target(t) >= (uintptr_t)MANY_THUNKS &&
			    call_target(t) < (uintptr_t)MANY_THUNKS + mpv.thunks_used);
		for (unsigned int j = 0; j < i; j++)
			if (many_state[j].mode == PVPATCH_MODE_CALL)
				assert_int_not_equal(call_target(MANY_TEXT + 16 * j), call_target(t));
	}
	return n;
}

/*
 * MANY sites, MANY distinct thunks with the index the rule sizes: no site
 * falls back, every one calls its backend; then a re-patch to another
 * backend stages MANY new thunks beside the MANY in use (2 per record, the
 * rule's worst case), writes them and gives the old ones back.
 */
static void test_thunk_index_sized_by_records(void **st)
{
	static struct pvpatch_policy pb;
	const unsigned int W = PVPATCH_OP_WRITE_CR3;
	size_t used;

	(void)st;
	many_init(many_index, PVPATCH_THUNK_SLOTS(MANY));
	pol.op[W] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	assert_int_equal(pvpatch_apply(&mpv, &pol, &rep), 0);
	assert_int_equal(rep.invalid, 0);
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(rep.mode[PVPATCH_MODE_CALL], MANY);
	assert_int_equal(rep.reasons[PVPATCH_E_THUNK_INDEX], 0);
	assert_int_equal(many_distinct_thunks(), MANY);
	cr3_calls = 0;
	for (unsigned int i = 0; i < MANY; i++) {
		many_run(i, 0x1000 + i);
		assert_int_equal(cr3_seen, 0x1000 + i);
	}
	assert_int_equal(cr3_calls, MANY);

	pb = pol;
	pb.op[W].backend = be_write_cr3_b;
	assert_int_equal(many_repatch(&pb), PVPATCH_RP_DONE);
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(rep.written, MANY);
	assert_int_equal(rep.thunks_reclaimed, MANY);
	assert_int_equal(many_distinct_thunks(), MANY);
	for (unsigned int i = 0; i < MANY; i++) {
		many_run(i, 0x2000 + i);
		assert_int_equal(cr3_seen, 0x2000 + i + 1);
	}
	/* After MANY removals (Algorithm R over a slot count that is no power
	 * of two) every thunk is still found: the same policy writes nothing. */
	assert_int_not_equal(mpv.index_slots & (mpv.index_slots - 1), 0);
	used = mpv.thunks_used;
	assert_int_equal(many_repatch(&pb), PVPATCH_RP_DONE);
	assert_int_equal(rep.written, 0);
	assert_int_equal(rep.thunks_reclaimed, 0);
	assert_int_equal(mpv.thunks_used, used);
	assert_string_equal(rv_log, "");
	assert_int_equal(pvpatch_revert(&mpv, &rep), 0);
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], MANY);
}

/*
 * An index smaller than the rule: the sites past its last free slot fall
 * back whole ("thunk index full"): each is its native code, never a call
 * to a thunk the index lost; the others call their own thunk.  A re-patch
 * that needs more slots than are free changes nothing (PVPATCH_RP_PLAN).
 * No index at all (NULL/0): no thunks, every site that needs one native.
 */
static void test_thunk_index_too_small(void **st)
{
	static struct pvpatch_policy pb;
	const unsigned int W = PVPATCH_OP_WRITE_CR3, small = 100;

	(void)st;
	many_init(many_index, small);
	pol.op[W] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	assert_int_equal(pvpatch_apply(&mpv, &pol, &rep), 0);
	assert_int_equal(rep.mode[PVPATCH_MODE_CALL], small);
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], MANY - small);
	assert_int_equal(rep.fallbacks, MANY - small);
	assert_int_equal(rep.reasons[PVPATCH_E_THUNK_INDEX], MANY - small);
	assert_int_equal(rep.rejects[0].reason, PVPATCH_E_THUNK_INDEX);
	assert_string_equal(pvpatch_reason_str(PVPATCH_E_THUNK_INDEX), "thunk index full");
	assert_int_equal(many_distinct_thunks(), small);
	for (unsigned int i = 0; i < MANY; i++) {
		const uint8_t *t = MANY_TEXT + 16 * i;

		if (many_state[i].mode == PVPATCH_MODE_CALL) {
			many_run(i, 0x3000 + i);
			assert_int_equal(cr3_seen, 0x3000 + i);
		} else {
			assert_int_equal(many_state[i].mode, PVPATCH_MODE_NATIVE);
			static const uint8_t wcr3[] = { 0x0f, 0x22, 0xdf };

			assert_memory_equal(t, wcr3, sizeof(wcr3));
			assert_int_not_equal(t[3], 0xe8);
		}
	}
	/* A second generation does not fit beside the first: nothing written. */
	memcpy(many_text_before, MANY_TEXT, MANY_TEXT_SIZE);
	memcpy(many_thunks_before, MANY_THUNKS, MANY_THUNK_SIZE);
	pb = pol;
	pb.op[W].backend = be_write_cr3_b;
	assert_int_equal(many_repatch(&pb), PVPATCH_RP_PLAN);
	assert_true(rep.reasons[PVPATCH_E_THUNK_INDEX] > 0);
	assert_string_equal(rv_log, "");
	assert_memory_equal(MANY_TEXT, many_text_before, MANY_TEXT_SIZE);
	assert_memory_equal(MANY_THUNKS, many_thunks_before, MANY_THUNK_SIZE);
	assert_int_equal(many_distinct_thunks(), small);
	assert_int_equal(pvpatch_revert(&mpv, &rep), 0);

	/* No index: no thunk written, the area untouched, every site native. */
	many_init(NULL, 0);
	pol.op[W] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
	assert_int_equal(pvpatch_apply(&mpv, &pol, &rep), 0);
	assert_int_equal(rep.mode[PVPATCH_MODE_NATIVE], MANY);
	assert_int_equal(rep.reasons[PVPATCH_E_THUNK_INDEX], MANY);
	assert_int_equal(mpv.thunks_used, 0);
	for (unsigned int i = 0; i < MANY_THUNK_SIZE; i++)
		if (MANY_THUNKS[i])
			fail_msg("thunk area byte %u written without an index", i);
}

/* --- PVPATCH_F_POISON ------------------------------------------------------ */
static uint32_t yield_seen;
static unsigned int yield_calls;

BACKEND static void be_yield(uint32_t cpu)
{
	yield_seen = cpu;
	yield_calls++;
}

#define POISON(r)	(0xdead000000000000ull | (uint64_t)(r))
/* What the probes of sites-asm.S keep live after their site. */
#define PROBE_LIVE	((uint16_t)(1u << PVPATCH_REG_RBX | 1u << 13 | 1u << PVPATCH_REG_RSP | \
				    1u << PVPATCH_REG_RBP))

/* Widen a record in place as the liveness pass does (mask and bit 5);
 * poison_restore() undoes it. */
static struct { const struct pvpatch_site *s; uint16_t clobbers; uint8_t flags; } widened;

static void poison_widen(const struct pvpatch_site *s, uint16_t dead)
{
	widened.s = s;
	widened.flags = s->flags;
	widened.clobbers = widen_mask(s, dead);
	((struct pvpatch_site *)s)->flags |= PVPATCH_SITE_F_WIDENED;
}

static void poison_restore(void)
{
	((struct pvpatch_site *)widened.s)->clobbers = widened.clobbers;
	((struct pvpatch_site *)widened.s)->flags = widened.flags;
	pv.flags = 0;
}

/* The site jumps to its poison stub (in the thunk area); returns the stub. */
static const uint8_t *poison_stub_of(const struct pvpatch_site *s)
{
	const uint8_t *p = site_bytes(s);
	uintptr_t stub = call_target_of(p, 0xe9);

	assert_true(stub >= (uintptr_t)pv.thunks && stub < (uintptr_t)pv.thunks + pv.thunks_used);
	for (unsigned int i = 5; i < s->site_len; i++)
		assert_int_equal(p[i], 0xcc);
	return (const uint8_t *)stub;
}

/* Every register of mask holds its poison in out[], every other one not. */
static void assert_poisoned(const uint64_t *out, uint16_t mask)
{
	for (int r = 0; r < 16; r++) {
		if (mask >> r & 1)
			assert_int_equal(out[r], POISON(r));
		else
			assert_true(out[r] != POISON(r));
	}
}

/* A void op, widened, in each of its modes under poison: the site does
 * its job (the backend sees the argument), then every dead register holds
 * its poison, and what stayed live (rbx, r13) is intact. */
static void test_poison_every_mode(void **st)
{
	const struct pvpatch_site *s = rec(site_poison_yield, PVPATCH_OP_SCHED_YIELD);
	const uint16_t dead = (uint16_t)~PROBE_LIVE;
	static const unsigned int modes[] = { PVPATCH_MODE_NATIVE, PVPATCH_MODE_NOP,
					      PVPATCH_MODE_INLINE, PVPATCH_MODE_CALL };
	uint64_t out[16];

	(void)st;
	poison_widen(s, dead);
	pv.flags = PVPATCH_F_POISON;
	for (unsigned int m = 0; m < 4; m++) {
		pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
			.mode = (uint8_t)modes[m], .tmpl = &t_pause, .backend = be_yield };
		patch();
		assert_int_equal(rep.op_mode[PVPATCH_OP_SCHED_YIELD][modes[m]],
				 count_op(PVPATCH_OP_SCHED_YIELD));
		assert_true(rep.poisoned >= 1);
		poison_stub_of(s);
		yield_calls = 0;
		memset(out, 0, sizeof(out));
		assert_int_equal(site_poison_yield(out, 7), 7 * 3 + 0x1111);
		assert_int_equal(out[PVPATCH_REG_RBX], (uintptr_t)out);
		assert_poisoned(out, dead & (uint16_t)~(1u << PVPATCH_REG_RSP | 1u << PVPATCH_REG_RBP));
		if (modes[m] == PVPATCH_MODE_CALL) {
			assert_int_equal(yield_calls, 1);
			assert_int_equal(yield_seen, 7);
		} else {
			assert_int_equal(yield_calls, 0);
		}
	}
	/* Without the flag the same policy writes the site as before. */
	pv.flags = 0;
	patch();
	assert_int_equal(rep.poisoned, 0);
	assert_true(site_bytes(s)[0] != 0xe9);
	poison_restore();
}

/* An op with a result: the output register (r8) is not poisoned and holds
 * the result in every mode; NATIVE runs the relocated pushf; pop %r8. */
static void test_poison_keeps_the_result(void **st)
{
	const struct pvpatch_site *s = rec(site_poison_save_fl, PVPATCH_OP_SAVE_FL);
	const uint16_t dead = (uint16_t)~PROBE_LIVE;
	const uint16_t poisoned = dead & (uint16_t)~(1u << PVPATCH_REG_RSP | 1u << PVPATCH_REG_RBP |
						     1u << PVPATCH_REG_R8);
	uint64_t out[16];
	const uint8_t *c;

	(void)st;
	poison_widen(s, dead);
	pv.flags = PVPATCH_F_POISON;
	patch();
	c = poison_stub_of(s);
	/* pushf; pop %r8; movabs $0xdead000000000000, %rax; lea 1(%rax), %rcx ... */
	assert_memory_equal(c, ((const uint8_t[]){ 0x9c, 0x41, 0x58, 0x48, 0xb8, 0, 0, 0, 0, 0, 0,
						   0xad, 0xde, 0x48, 0x8d, 0x48, 0x01 }), 17);
	assert_int_equal(site_poison_save_fl(out), 0x2222);
	assert_true(out[8] & 0x2);	/* RFLAGS bit 1 is always set */
	assert_true(out[8] < 0x1000000);
	assert_poisoned(out, poisoned);

	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_CALL, .backend = be_save_fl };
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_SAVE_FL][PVPATCH_MODE_CALL], count_op(PVPATCH_OP_SAVE_FL));
	c = poison_stub_of(s);
	/* call be_save_fl; mov %rax, %r8 (the direct form, moved), then the poison */
	assert_int_equal(call_target_of(c, 0xe8), (uintptr_t)be_save_fl);
	assert_memory_equal(c + 5, ((const uint8_t[]){ 0x49, 0x89, 0xc0 }), 3);
	assert_int_equal(site_poison_save_fl(out), 0x2222);
	assert_int_equal(out[8], 0x246);
	assert_poisoned(out, poisoned);

	pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
		.mode = PVPATCH_MODE_INLINE, .tmpl = &t_save_rcx, .params = { 0x297 } };
	patch();
	assert_int_equal(rep.op_mode[PVPATCH_OP_SAVE_FL][PVPATCH_MODE_INLINE], count_op(PVPATCH_OP_SAVE_FL));
	c = poison_stub_of(s);
	/* mov $0x297, %ecx; mov %rcx, %r8 (rcx is free: no push/pop) */
	assert_memory_equal(c, ((const uint8_t[]){ 0xb9, 0x97, 0x02, 0x00, 0x00, 0x49, 0x89, 0xc8 }), 8);
	assert_int_equal(site_poison_save_fl(out), 0x2222);
	assert_int_equal(out[8], 0x297);
	assert_poisoned(out, poisoned);
	poison_restore();
}

/* The stub's bytes: NOP mode leaves only the poison stores and the jump
 * back (capstone checks the dump too). */
static void test_poison_stub_bytes(void **st)
{
	const struct pvpatch_site *s = rec(site_poison_yield, PVPATCH_OP_SCHED_YIELD);
	const uint8_t *c;
	unsigned int n = 10;
	char expect[512];
	int len;

	(void)st;
	/* rax, rcx, r12 dead */
	poison_widen(s, (uint16_t)(1u << PVPATCH_REG_RAX | 1u << PVPATCH_REG_RCX | 1u << 12));
	pv.flags = PVPATCH_F_POISON;
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_NOP };
	patch();
	c = poison_stub_of(s);
	/* movabs $0xdead000000000000, %rax; lea 1(%rax), %rcx; lea 12(%rax), %r12 */
	assert_memory_equal(c, ((const uint8_t[]){ 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0xad, 0xde,
						   0x48, 0x8d, 0x48, 0x01, 0x4c, 0x8d, 0x60, 0x0c }), 18);
	n = 18;
	assert_int_equal(call_target_of(c + n, 0xe9), (uintptr_t)site_bytes(s) + s->site_len);
	dump_site("poison_site", s, "jmp");
	len = snprintf(expect, sizeof(expect), "movabsq $0xdead000000000000, %%rax; "
		       "leaq 1(%%rax), %%rcx; leaq 0xc(%%rax), %%r12; jmp 0x%lx",
		       (unsigned long)(uintptr_t)site_bytes(s) + s->site_len);
	assert_true(len > 0 && (size_t)len < sizeof(expect));
	dump_stub("poison_stub_nop", s, expect);
	poison_restore();
}

/*
 * The negative test: a mask that calls r13 dead although the probe returns
 * it.  Poisoned, the site overwrites it and the function returns garbage
 * (r13's poison): poison really writes what the mask gives away.  Without
 * poison the same wrong mask goes unnoticed.
 */
static void test_poison_catches_a_wrong_mask(void **st)
{
	const struct pvpatch_site *s = rec(site_poison_yield, PVPATCH_OP_SCHED_YIELD);
	uint64_t out[16];

	(void)st;
	poison_widen(s, (uint16_t)(~PROBE_LIVE | 1u << 13));
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_NATIVE };
	pv.flags = 0;
	patch();
	assert_int_equal(site_poison_yield(out, 5), 5 * 3 + 0x1111);
	pv.flags = PVPATCH_F_POISON;
	patch();
	poison_stub_of(s);
	assert_int_not_equal(site_poison_yield(out, 5), 5 * 3 + 0x1111);
	assert_int_equal(site_poison_yield(out, 5), POISON(13));
	poison_restore();
}

/* A poison stub that does not fit: the site keeps its code in place,
 * unpoisoned, and the report says why. */
static void test_poison_refusals_counted(void **st)
{
	const struct pvpatch_site *s = rec(site_poison_yield, PVPATCH_OP_SCHED_YIELD);
	size_t size = pv.thunks_size;

	(void)st;
	/* A mask no other test used: no stub of an earlier test matches. */
	poison_widen(s, (uint16_t)(~PROBE_LIVE & ~(1u << 15)));
	pv.thunks_size = pv.thunks_used;
	pv.flags = PVPATCH_F_POISON;
	pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){ .mode = PVPATCH_MODE_NATIVE };
	patch();
	pv.thunks_size = size;
	assert_true(rep.unpoisoned >= 1);
	assert_true(rep.poison_reasons[PVPATCH_E_THUNK_SPACE] >= 1);
	assert_int_equal(rep.fallbacks, 0);
	assert_int_equal(site_bytes(s)[0], 0xf3);	/* pause, in place */
	poison_restore();
}

/* NATIVE code with a rel32 call (mem_size's `call native_mem_size`) runs
 * from the stub with the call re-targeted. */
static void test_poison_native_call_relocated(void **st)
{
	const struct pvpatch_site *s = rec(site_mem_size, PVPATCH_OP_MEM_SIZE);
	const uint8_t *c;

	(void)st;
	poison_widen(s, CALLER_SAVED);
	pv.flags = PVPATCH_F_POISON;
	patch();
	c = poison_stub_of(s);
	assert_int_equal(call_target_of(c, 0xe8), (uintptr_t)native_mem_size);
	assert_int_equal(site_mem_size(), 0x12345000ul);
	poison_restore();
}

/*
 * The masks the liveness pass itself computed (test-patch-live: the C sites
 * of sites.c widened on the linked binary), poisoned: the functions that
 * keep values live across their sites, in CALL and NATIVE, still compute
 * the right results.  In test-patch (no pass run) nothing is widened and
 * the test says so.
 */
static void test_poison_liveness_pass_masks(void **st)
{
	unsigned int widened_sites = 0;
	uint32_t native[4], got[4], msr[2];

	(void)st;
	for (const struct pvpatch_site *r = __pvpatch_sites_start; r < __pvpatch_sites_end; r++)
		widened_sites += !!(r->flags & PVPATCH_SITE_F_WIDENED);
	if (!widened_sites)
		skip();
	site_cpuid(1, 0, native);
	pv.flags = PVPATCH_F_POISON;
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			pol.op[PVPATCH_OP_WRITE_CR3] = (struct pvpatch_op_policy){
				.mode = PVPATCH_MODE_CALL, .backend = be_write_cr3 };
			pol.op[PVPATCH_OP_READ_CR3] = (struct pvpatch_op_policy){
				.mode = PVPATCH_MODE_CALL, .backend = be_read_cr3 };
			pol.op[PVPATCH_OP_RDMSR] = (struct pvpatch_op_policy){
				.mode = PVPATCH_MODE_CALL, .backend = be_rdmsr };
			pol.op[PVPATCH_OP_SCHED_YIELD] = (struct pvpatch_op_policy){
				.mode = PVPATCH_MODE_CALL, .backend = be_yield };
			pol.op[PVPATCH_OP_CPUID] = (struct pvpatch_op_policy){
				.mode = PVPATCH_MODE_CALL, .backend = be_cpuid };
			pol.op[PVPATCH_OP_SAVE_FL] = (struct pvpatch_op_policy){
				.mode = PVPATCH_MODE_CALL, .backend = be_save_fl };
		}
		patch();
		assert_int_equal(rep.poisoned, widened_sites);
		assert_int_equal(site_sched_yield_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
		site_cpuid(1, 0, got);
		assert_int_equal(got[0], native[0]);
		if (!pass)
			continue;
		assert_int_equal(site_write_cr3_live(1, 2, 3, 4, 5, 6), live_expected(1, 2, 3, 4, 5, 6));
		assert_int_equal(cr3_seen, 1 ^ 6);
		assert_int_equal(site_read_cr3_live(2, 3, 4), 0xabc000 + 6 * 3 + 12 * 5 + 2 + 3 + 4);
		assert_int_equal(site_rdmsr_live(1, 2, 3, 4, 5, 6),
				 live_expected(1, 2, 3, 4, 5, 6) + ((unsigned long)(7 + 2) << 32 | (7 + 1)));
		assert_int_equal(site_save_fl(), 0x246);
		site_rdmsr(0x10, msr);
		assert_int_equal(msr[0], 0x11);
		assert_int_equal(msr[1], 0x12);
	}
	pv.flags = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_native_is_the_compiled_code, setup),
		cmocka_unit_test_setup(test_native_executes, setup),
		cmocka_unit_test_setup(test_call_through_thunk, setup),
		cmocka_unit_test_setup(test_call_preserves_live_registers, setup),
		cmocka_unit_test_setup(test_call_rbp_operands, setup),
		cmocka_unit_test_setup(test_call_returns_result, setup),
		cmocka_unit_test_setup(test_call_multiple_outputs, setup),
		cmocka_unit_test_setup(test_call_argument_permutations, setup),
		cmocka_unit_test_setup(test_call_direct, setup),
		cmocka_unit_test_setup(test_call_set_pte, setup),
		cmocka_unit_test_setup(test_call_preserving_backend, setup),
		cmocka_unit_test_setup(test_call_preserving_multiple_outputs, setup),
		cmocka_unit_test_setup(test_call_preserving_inline_saves, setup),
		cmocka_unit_test_setup(test_call_known_writes_direct, setup),
		cmocka_unit_test_setup(test_call_known_writes_thunk, setup),
		cmocka_unit_test_setup(test_stack_align_16, setup),
		cmocka_unit_test_setup(test_stack_align_refused, setup),
		cmocka_unit_test_setup(test_thunk_ends_ret_int3, setup),
		cmocka_unit_test_setup(test_thunk_ends_jmp_return_thunk, setup),
		cmocka_unit_test_setup(test_return_thunk_out_of_range, setup),
		cmocka_unit_test_setup(test_thunk_area_holds_only_code, setup),
		cmocka_unit_test_setup(test_thunk_reuse, setup),
		cmocka_unit_test_setup(test_default_poke_order_and_bytes, setup),
		cmocka_unit_test_setup(test_default_poke_keeps_interrupts_off, setup),
		cmocka_unit_test_setup(test_default_poke_patches, setup),
		cmocka_unit_test_setup(test_free_backends_keeps_used_refuses_freed, setup),
		cmocka_unit_test_setup(test_rom_refused_writes_nothing, setup),
		cmocka_unit_test_setup(test_nop, setup),
		cmocka_unit_test_setup(test_apply_without_report, setup),
		cmocka_unit_test_setup(test_inline_constant, setup),
		cmocka_unit_test_setup(test_inline_pinned_outputs, setup),
		cmocka_unit_test_setup(test_inline_void, setup),
		cmocka_unit_test_setup(test_inline_saves_live_register, setup),
		cmocka_unit_test_setup(test_inline_out_of_line_stub, setup),
		cmocka_unit_test_setup(test_call_direct_widened_mask, setup),
		cmocka_unit_test_setup(test_inline_scratch_from_mask, setup),
		cmocka_unit_test_setup(test_poison_every_mode, setup),
		cmocka_unit_test_setup(test_poison_keeps_the_result, setup),
		cmocka_unit_test_setup(test_poison_stub_bytes, setup),
		cmocka_unit_test_setup(test_poison_catches_a_wrong_mask, setup),
		cmocka_unit_test_setup(test_poison_refusals_counted, setup),
		cmocka_unit_test_setup(test_poison_native_call_relocated, setup),
		cmocka_unit_test_setup(test_poison_liveness_pass_masks, setup),
		cmocka_unit_test_setup(test_inline_refused_falls_back_to_call, setup),
		cmocka_unit_test_setup(test_fallback_to_native, setup),
		cmocka_unit_test_setup(test_revert, setup),
		cmocka_unit_test_setup(test_same_policy_twice_writes_nothing, setup),
		cmocka_unit_test_setup(test_image_prepatched_writes_nothing, setup),
		cmocka_unit_test_setup(test_image_header_checked, setup),
		cmocka_unit_test_setup(test_override_by_address, setup),
		cmocka_unit_test_setup(test_override_by_function_offset, setup),
		cmocka_unit_test_setup(test_malformed_records, setup),
		cmocka_unit_test_setup(test_unusable_descriptor, setup),
		cmocka_unit_test_setup(test_debug_dump_and_report, setup),
		/* Last: they give back thunks, after which the area is first fit. */
		cmocka_unit_test_setup(test_repatch_native_call_inline_native, rp_setup),
		cmocka_unit_test_setup(test_repatch_hook_order, rp_setup),
		cmocka_unit_test_setup(test_repatch_busy_rip_in_site, rp_setup),
		cmocka_unit_test_setup(test_repatch_busy_rip_in_thunk, rp_setup),
		cmocka_unit_test_setup(test_repatch_busy_stack_word, rp_setup),
		cmocka_unit_test_setup(test_repatch_busy_rip_in_backend_family, rp_setup),
		cmocka_unit_test_setup(test_repatch_plan_failure_changes_nothing, rp_setup),
		cmocka_unit_test_setup(test_repatch_reclaim_reuse, rp_setup),
		cmocka_unit_test_setup(test_repatch_inline_stub, rp_setup),
		cmocka_unit_test_setup(test_repatch_refuses_freed_backend, rp_setup),
		cmocka_unit_test_setup(test_repatch_unusable, rp_setup),
		cmocka_unit_test_setup(test_thunk_index_sized_by_records, rp_setup),
		cmocka_unit_test_setup(test_thunk_index_too_small, rp_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
