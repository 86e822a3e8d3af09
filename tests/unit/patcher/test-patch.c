/*
 * Hosted tests of the runtime patcher: the patcher, built unchanged for
 * userspace, patches this very program's call sites (text made writable
 * with mprotect), and the patched sites are executed and their effects
 * checked.  Every write the patcher makes goes through a poke hook that
 * fails the test if it leaves a site or the thunk area.
 *
 * PVPATCH_DUMP=FILE writes the bytes of the sites the tests built, with the
 * instructions they must decode to, for tests/unit/test_patcher.py to
 * cross-check with capstone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cpuid.h>
#include <sys/mman.h>
#include <unistd.h>

#include <asm/pvpatch.h>
#include "sites.h"

extern const struct pvpatch_site __pvpatch_sites_start[], __pvpatch_sites_end[];
extern char __executable_start[], etext[];

#define MAX_SITES	256
#define THUNK_AREA	((void *)0x30000000ul)	/* within rel32 of a -no-pie text */
#define THUNK_SIZE	8192

static struct pvpatch pv;
static struct pvpatch_site_state state[MAX_SITES];
static uint8_t saved[MAX_SITES * PVPATCH_MAX_SITE];
static uint8_t *text_copy;
static size_t text_len;
static struct pvpatch_policy pol;
static struct pvpatch_report rep;
static FILE *dump;

/* --- the poke hook: every write must stay inside one site or the thunks -- */
static unsigned int pokes;

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
		  a + len <= (uintptr_t)p->thunks + p->thunks_size);

	if (!ok) {
		fprintf(stderr, "poke outside sites: %p + %zu\n", addr, len);
		abort();
	}
	pokes++;
	memcpy(addr, src, len);
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

/* Where a call at site s goes (the site starts with e8 rel32). */
static uintptr_t call_target(const uint8_t *p)
{
	int32_t rel;

	assert_int_equal(p[0], 0xe8);
	memcpy(&rel, p + 1, 4);
	return (uintptr_t)p + 5 + (intptr_t)rel;
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
	text_copy = malloc(text_len);
	memcpy(text_copy, (void *)start, text_len);
	if ((size_t)(__pvpatch_sites_end - __pvpatch_sites_start) > MAX_SITES)
		return -1;
	pv = (struct pvpatch){
		.sites = __pvpatch_sites_start, .sites_end = __pvpatch_sites_end,
		.text_start = (uintptr_t)__executable_start, .text_end = (uintptr_t)etext,
		.state = state, .saved = saved, .saved_size = sizeof(saved),
		.thunks = thunks, .thunks_size = THUNK_SIZE,
		.poke = checked_poke, .poke_arg = &pv,
	};
	if (d)
		dump = fopen(d, "w");
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
	assert_int_equal(s->site_len, 16);
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
	dump_site("inline_save_rbx", rec(site_mem_size, PVPATCH_OP_MEM_SIZE),
		  "pushq %rbx; movl $0x4000000, %ebx; movq %rbx, %rax; popq %rbx");
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
static void patch_everything(void)
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
		cmocka_unit_test_setup(test_nop, setup),
		cmocka_unit_test_setup(test_inline_constant, setup),
		cmocka_unit_test_setup(test_inline_pinned_outputs, setup),
		cmocka_unit_test_setup(test_inline_void, setup),
		cmocka_unit_test_setup(test_inline_saves_live_register, setup),
		cmocka_unit_test_setup(test_inline_refused_falls_back_to_call, setup),
		cmocka_unit_test_setup(test_fallback_to_native, setup),
		cmocka_unit_test_setup(test_revert, setup),
		cmocka_unit_test_setup(test_same_policy_twice_writes_nothing, setup),
		cmocka_unit_test_setup(test_override_by_address, setup),
		cmocka_unit_test_setup(test_override_by_function_offset, setup),
		cmocka_unit_test_setup(test_malformed_records, setup),
		cmocka_unit_test_setup(test_unusable_descriptor, setup),
		cmocka_unit_test_setup(test_debug_dump_and_report, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
