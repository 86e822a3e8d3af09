// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libFuzzer target for the runtime patcher (arch/x86/alternatives/).
 *
 * From the input bytes it builds, inside one static arena (so that the
 * records' int32 relative offsets reach): a fake text area seeded with real
 * native encodings of ops and GNU as padding, a table of site records (most
 * of them plausible, some perturbed, some raw), 1-3 templates whose
 * instructions come from the input, one or two policies with per-op modes,
 * backends (real function addresses and out-of-range ones, never executed)
 * and overrides (by address, and by function + offset through a lookup
 * hook).  It then calls pvpatch_apply(), maybe a second time, and
 * pvpatch_revert(), and checks after every call:
 *
 *  - every poke lies inside one site whose record the patcher accepted
 *    (in fact: is exactly that whole site, in one write, and changes it),
 *    or inside the thunk area;
 *  - the used thunk area holds only code: thunk after thunk at multiples of
 *    16, each ending with its return (`ret; int3`, or `jmp` to the return
 *    thunk when one is set), int3 between them;
 *  - no byte of the arena outside accepted sites and the used thunk area
 *    changed (records, text outside sites, guards, the rest of the thunks);
 *  - the patcher reads nothing outside what it was given: the records past
 *    sites_end, the text outside [text_start, text_end) and the thunk area
 *    past thunks_size are poisoned for AddressSanitizer during each call;
 *  - a record is accepted or refused as the record format says (an
 *    independent model of the per-record checks, overlaps, decoding and the
 *    room for saved bytes);
 *  - the report is consistent with the per-site state and with an
 *    independent model of overrides, fallback chains and rejects;
 *  - every valid site decodes, with the project's decoder, to instructions
 *    ending exactly at the site end; NATIVE sites are their original native
 *    bytes plus the assembler's padding, NOP sites are padding, CALL sites
 *    call the op's backend or a thunk that calls it, INLINE sites call
 *    nothing; padding is one NOP or a JMP to the site end over int3;
 *  - applying the same policy twice writes nothing; after pvpatch_revert()
 *    every valid site is native again;
 *  - poison mode (PVPATCH_F_POISON, th bits 3-4): a site whose record has
 *    PVPATCH_SITE_F_WIDENED is `jmp stub` + int3 to its end, or counted
 *    unpoisoned; the stub (kind 3 in the thunk index) lies in the used area
 *    and decodes to the site's job -- NATIVE: its native bytes moved (NOPs
 *    left out, rel32 and RIP-relative operands re-targeted to the same
 *    absolute targets, the copy ending at int3 or a jmp to the site end),
 *    CALL: one call, of the backend or a thunk calling it, INLINE: code that
 *    calls and branches nowhere, NOP: nothing -- then one movabs/lea poison
 *    store (0xdead0000000000NN into register NN) into each register of the
 *    record's mask less outputs, rsp and rbp and into no other, then `jmp`
 *    to exactly the site's end; report.poisoned, .unpoisoned and
 *    .poison_reasons agree with the sites; a policy applied with and
 *    without poison gets the same modes and rejects, writes exactly the
 *    sites whose poisoning changed, and a CALL (or in-site INLINE) stub's
 *    job is exactly the unpoisoned site's bytes moved;
 *  - a thunk index of PVPATCH_THUNK_SLOTS(records) slots is never full; a
 *    missing one writes no thunk.
 *
 * Any failure prints what went wrong and aborts, which libFuzzer reports as
 * a crash with the input saved.  FUZZ_PATCH_VERBOSE=1 prints the records and
 * reports of one input.
 *
 * Input layout (missing bytes read as 0; tests/fuzz/make-seeds.py writes it):
 *   cfg        bit 0 PVPATCH_F_DEBUG, 1 print hook, 2 lookup hook, 3 apply
 *              twice, 4 ... with a second policy, 5 print the reports,
 *              6 no revert, 7 revert twice
 *   n          records (% 65)
 *   m0 m1      text_start = text + m0 % 33, text_end = end - m1 % 33
 *   th         thunk area size index (& 7), bit 3 PVPATCH_F_POISON, bit 4 flip
 *              PVPATCH_F_POISON after the first apply (the second apply and
 *              the revert run with the other setting); 0xfe: NULL with a
 *              size, 0xff: misaligned (the descriptor is unusable)
 *   sv         < 0xc0: enough room for saved bytes, else sv - 0xc0 bytes;
 *              0xff: NULL with a size (unusable)
 *   bg seed    text background: 0xcc, 0x90, 0x00 or pseudo-random
 *   cfg2       bit 0 first apply without a report, 1 a plain copy as poke
 *              hook (no checks, no counting), 2 a return thunk (a real
 *              function), 3 a return thunk beyond rel32 of the thunk area,
 *              4 stack_align 16 (every CALL through a realigning thunk; else 8),
 *              5-7 the thunk index: 0 PVPATCH_THUNK_SLOTS(n) slots (then no
 *              site may fall back for it), 1 none (NULL/0), 2 NULL with a
 *              count, 3-7 tiny: 1, 2, 3, 5 or 9 slots (full, sites fall
 *              back whole: "thunk index full")
 *   templates  count-1, then per template: flags (bit 0 raw fields, bit 1
 *              allow %rsp in hv_clobbers), n_insns, hv_clobbers (u16), insns
 *              (raw: op dst src width imm64; else mapped, see build_template)
 *   records    per record: kind >= 0xe0: 16 raw bytes (site offset relative
 *              to the text unless kind >= 0xf8); else op-1, slot, enc, style,
 *              5 register bytes, clobbers (u16: unless style bit 5, bit 4
 *              (rsp) sets PVPATCH_SITE_F_WIDENED, the other bits widen the
 *              mask past what the op declares) [, field, value]
 *   policy     n_entries, n_overrides, entries (op, mode, backend (% 9; bit 0 of
 *              backend / 9: the backend is register-preserving, bit 1: its
 *              write set is known, a mask from backend and template), template,
 *              params flag [, 4 x u64]), overrides (kind, mode, offset u16)
 *   [policy]   the second one, with cfg bits 3 and 4
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include <asm/pvpatch.h>
#include "insn.h"
#include "internal.h"	/* PVPATCH_POISON_VALUE */

#define MAX_RECS	64
#define TEXT_SIZE	4096		/* a slot for every op, sites up to 64 bytes */
#define SLOT		64		/* plausible sites start at a multiple */
#define THUNK_MAX	4096
#define GUARD		64
#define MAX_OVR		8
#define MAX_TMPL	3
#define MAX_POL		48
#define MAX_LINE	200		/* report.c's line buffer */
#define KIND_POISON	3		/* pvpatch_thunk_slot.kind of a poison stub */

#define FUZZ_NAME "fuzz-patch"
#include "fuzz-shared.h"

/* Records, text and thunks in one object, with guards between them. */
struct arena {
	uint8_t guard0[GUARD];
	struct pvpatch_site rec[MAX_RECS];
	uint8_t guard1[GUARD];
	uint8_t text[TEXT_SIZE];
	uint8_t guard2[GUARD];
	uint8_t thunks[THUNK_MAX + 16];		/* +16: room for a misaligned start */
	uint8_t guard3[GUARD];
};

_Static_assert(offsetof(struct arena, thunks) % 16 == 0, "thunk area alignment");
_Static_assert(sizeof(struct pvpatch_site) == 16, "record size");

static struct arena A __attribute__((aligned(64)));
static struct arena S0;		/* before the first call */
static struct arena Sprev;	/* before the current call */

/* --- reading the input ---------------------------------------------------- */
struct rd {
	const uint8_t *p, *end;
};

static uint8_t u8(struct rd *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

static uint16_t u16(struct rd *r)
{
	uint16_t v = u8(r);

	return (uint16_t)(v | u8(r) << 8);
}

static uint32_t u32(struct rd *r)
{
	uint32_t v = u16(r);

	return v | (uint32_t)u16(r) << 16;
}

static uint64_t u64(struct rd *r)
{
	uint64_t v = u32(r);

	return v | (uint64_t)u32(r) << 32;
}

/* --- backends: real functions (never executed) and unreachable ones ----- */

#define NB 9
static const void *backends[NB];

static void init_backends(void)
{
	uintptr_t t = (uintptr_t)A.text;

	backends[0] = NULL;
	backends[1] = (const void *)be_one;
	backends[2] = (const void *)be_two;
	backends[3] = (const void *)be_three;
	backends[4] = (const void *)(uintptr_t)0x7ff000001000ull;	/* far away */
	backends[5] = (const void *)(t + TEXT_SIZE / 2);		/* inside the text */
	/* rel32 reaches these from the end of the text area but not from its
	 * start (and the other way round). */
	backends[6] = (const void *)(t + 0x80000000ull + 100);
	backends[7] = (const void *)(t - 0x80000000ull + 900);
	backends[8] = (const void *)(uintptr_t)0x1000;
}

/* --- lookup and print hooks ---------------------------------------------- */
static const char *const funcs[] = { "text", "mid", "none", "" };
#define NFUNCS (sizeof(funcs) / sizeof(funcs[0]))

static uintptr_t func_base(const char *f)
{
	if (!strcmp(f, "text"))
		return (uintptr_t)A.text;
	if (!strcmp(f, "mid"))
		return (uintptr_t)A.text + TEXT_SIZE / 2;
	return 0;
}

static unsigned int lookups;

static uintptr_t fz_lookup(const char *func)
{
	lookups++;
	return func_base(func);
}

static unsigned int lines;

static void fz_print(const char *s)
{
	size_t l = strnlen(s, MAX_LINE + 1);

	CHECK(l < MAX_LINE, "print line of %zu characters", l);
	CHECK(!strncmp(s, "pvpatch:", 8), "print line \"%s\"", s);
	lines++;
}

/* --- the run ------------------------------------------------------------- */
struct policy_in {
	struct pvpatch_policy *pol;
	struct pvpatch_override *ovr;
	unsigned int n_ovr;
};

static struct {
	struct pvpatch pv;
	unsigned int n;
	struct pvpatch_site_state *state;
	uint8_t *saved;
	size_t saved_size;
	struct pvpatch_thunk_slot *tindex;
	unsigned int index_sel;		/* cfg2 bits 5-7 */
	struct pvpatch_template *tmpl[MAX_TMPL];
	unsigned int n_tmpl;
	struct policy_in pin[2];
	bool expect_fail;
	/* the poke hook's counters, per call */
	unsigned int site_pokes, thunk_pokes;
	/* per call */
	unsigned int thunk_bytes_before;
	/* poison mode: per site, whether it ran from a poison stub after the
	 * last checked call; reasons the model knows a site stays unpoisoned */
	bool pois[MAX_RECS];
	unsigned int n_pois, model_reloc;
	/* ... and after the last checked call, with which policy: each site's
	 * mode and, poisoned, where its stub's job is */
	const struct pvpatch_policy *last_pol;
	bool checked;
	uint8_t last_mode[MAX_RECS];
	uintptr_t job_at[MAX_RECS];
	size_t job_len[MAX_RECS];
} R;

NOCOV static uintptr_t site_addr(const struct pvpatch_site *s)
{
	return (uintptr_t)pvpatch_site_addr(s);
}

NOCOV static bool accepted(unsigned int i)
{
	return R.state[i].reason == PVPATCH_OK;
}

/* cfg2 bit 1: a kernel's plain copy (the default poke needs ring 0). */
NOCOV static void fz_plain_poke(void *addr, const void *src, size_t len, void *arg)
{
	(void)arg;
	memcpy(addr, src, len);
}

NOCOV static void fz_poke(void *addr, const void *src, size_t len, void *arg)
{
	CHECK(arg == &R.pv, "poke_arg %p", arg);
	if (check_poke(&R.pv, addr, src, len, A.text) < 0)
		R.thunk_pokes++;
	else
		R.site_pokes++;
	memcpy(addr, src, len);
}

/* --- ASan poisoning of what the patcher must not read -------------------- */
NOCOV static void poison(void)
{
	uintptr_t ts = R.pv.text_start, te = R.pv.text_end;
	uint8_t *t = A.text;

	ASAN_POISON_MEMORY_REGION(&A.rec[R.n], (MAX_RECS - R.n) * sizeof(A.rec[0]));
	ASAN_POISON_MEMORY_REGION(t, ts - (uintptr_t)t);
	ASAN_POISON_MEMORY_REGION((void *)te, (uintptr_t)(t + TEXT_SIZE) - te);
	if (R.pv.thunks && R.pv.thunks_size < THUNK_MAX)
		ASAN_POISON_MEMORY_REGION(R.pv.thunks + R.pv.thunks_size,
					    (size_t)(A.thunks + sizeof(A.thunks) -
						     (R.pv.thunks + R.pv.thunks_size)));
	else if (!R.pv.thunks)
		ASAN_POISON_MEMORY_REGION(A.thunks, sizeof(A.thunks));
	ASAN_POISON_MEMORY_REGION(A.guard0, sizeof(A.guard0));
	ASAN_POISON_MEMORY_REGION(A.guard1, sizeof(A.guard1));
	ASAN_POISON_MEMORY_REGION(A.guard2, sizeof(A.guard2));
	ASAN_POISON_MEMORY_REGION(A.guard3, sizeof(A.guard3));
}

NOCOV static void unpoison(void)
{
	ASAN_UNPOISON_MEMORY_REGION(&A, sizeof(A));
}

/* --- building the input --------------------------------------------------- */

/* A register from a byte: mostly not %rsp (which every check refuses). */
static unsigned int reg_of(uint8_t b)
{
	unsigned int r = b & 15;

	return r == PVPATCH_REG_RSP && b < 0xf0 ? PVPATCH_REG_RBX : r;
}

static void set_site(struct pvpatch_site *r, uintptr_t addr)
{
	r->site = (int32_t)(intptr_t)(addr - (uintptr_t)&r->site);
}

/* Write len bytes at text offset off, clipped to the text area. */
static void text_write(unsigned int off, const uint8_t *b, size_t len)
{
	for (size_t k = 0; k < len && off + k < TEXT_SIZE; k++)
		A.text[off + k] = b[k];
}

static void build_record(struct rd *in, unsigned int i)
{
	struct pvpatch_site *r = &A.rec[i];
	uint8_t kind = u8(in);

	if (kind >= 0xe0) {
		/* Raw: the record's 16 bytes from the input, the site offset
		 * relative to the text unless kind asks for it untouched. */
		int32_t off;

		for (size_t b = 0; b < sizeof(*r); b++)
			((uint8_t *)r)[b] = u8(in);
		off = r->site;
		if (kind < 0xf8)
			set_site(r, (uintptr_t)A.text + (uintptr_t)(intptr_t)
				 ((int32_t)((uint32_t)off % (TEXT_SIZE + 64)) - 32));
		return;
	}

	unsigned int op = 1 + u8(in) % PVPATCH_MAX_OP;
	uint8_t slot = u8(in), enc = u8(in), style = u8(in);
	const struct pvpatch_op_info *info = op_info(op);
	const struct native *nat;
	unsigned int off, site_len, native_len, nargs, nouts;
	uint8_t regb[5], buf[PVPATCH_MAX_SITE];
	uint16_t clob;
	uint32_t regs = 0;
	bool widened;

	for (int k = 0; k < 5; k++)
		regb[k] = u8(in);
	clob = u16(in);
	if (!info) {		/* a hole in the op numbers: refused */
		memset(r, 0, sizeof(*r));
		r->op = (uint16_t)op;
		r->version = PVPATCH_SITE_VERSION;
		set_site(r, (uintptr_t)A.text + slot % (TEXT_SIZE / SLOT) * SLOT);
		return;
	}
	nat = &natives[op][natives[op][1].len && (enc & 1) ? 1 : 0];
	site_len = info->site_len;
	native_len = nat->len ? nat->len : info->native_max;
	if (style & 0x40)
		native_len = 1 + enc % site_len;	/* maybe wrong */
	off = style & 0x04 ? (unsigned int)(slot * 16 + (enc >> 4)) % TEXT_SIZE
			   : slot % (TEXT_SIZE / SLOT) * SLOT;
	nargs = info->nargs;
	nouts = info->nouts;

	/* The site's bytes: native code, then padding in one of four styles. */
	if (!(style & 0x80)) {
		unsigned int nl = nat->len ? nat->len : info->native_max, end = site_len;

		memset(buf, 0, sizeof(buf));
		if (nat->len)
			memcpy(buf, nat->b, nat->len);
		else
			pad_bytes(buf, nl);	/* an op without a known encoding */
		switch (style & 3) {
		case 0:	/* the assembler's padding */
			pad_bytes(buf + nl, site_len - nl);
			break;
		case 1:
			memset(buf + nl, 0x90, site_len - nl);
			break;
		case 2:
			memset(buf + nl, 0xcc, site_len - nl);
			break;
		case 3:	/* leave the background after the native bytes */
			end = nl;
			break;
		}
		text_write(off, buf, end);
	}

	/* Registers: the pinned ones where the op pins them, mostly. */
	if (nouts) {
		unsigned int ret = reg_of(regb[0]);

		if (info->out_pin[0] >= 0 && regb[0] < 0xf0)
			ret = (unsigned int)info->out_pin[0];
		regs |= ret;
	}
	for (unsigned int a = 0; a < nargs && a < PVPATCH_MAX_ARGS; a++) {
		unsigned int reg = reg_of(regb[1 + a]);

		if (info->arg_pin[a] >= 0 && regb[1 + a] < 0xf0)
			reg = (unsigned int)info->arg_pin[a];
		regs |= reg << (PVPATCH_REG_BITS * (PVPATCH_SLOT_ARG0 + a));
	}
	widened = !(style & 0x20) && (clob >> PVPATCH_REG_RSP & 1);
	if (!(style & 0x20)) {
		clob = (uint16_t)(clob & ~(1u << PVPATCH_REG_RSP));
		clob |= info->clobbers;
		if (nouts)
			clob |= (uint16_t)(1u << (regs & 15));
	}

	set_site(r, (uintptr_t)A.text + off);
	r->op = (uint16_t)op;
	r->version = PVPATCH_SITE_VERSION;
	r->flags = (uint8_t)(nargs | (nouts ? PVPATCH_SITE_F_HAS_RET : 0) |
			     (style & 0x08 ? PVPATCH_SITE_F_ASM : 0) |
			     (widened ? PVPATCH_SITE_F_WIDENED : 0));
	r->site_len = (uint8_t)site_len;
	r->native_len = (uint8_t)native_len;
	r->clobbers = clob;
	r->regs = regs;

	if (style & 0x10) {	/* perturb one field */
		uint8_t f = u8(in), v = u8(in);

		switch (f % 8) {
		case 0: r->version = v; break;
		case 1: r->op = (uint16_t)(v | (f & 0x80 ? 0x100 : 0)); break;
		case 2: r->site_len = v; break;
		case 3: r->native_len = v; break;
		case 4: r->flags = v; break;
		case 5: r->clobbers |= 1u << PVPATCH_REG_RSP; break;
		case 6: r->regs ^= (uint32_t)v << (4 * (f >> 4 & 7)); break;
		case 7: r->site += (int8_t)v; break;
		}
	}
}

static uint8_t operand(uint8_t b)
{
	static const uint8_t holes[] = {
		PVT_ARG(0), PVT_ARG(1), PVT_ARG(2), PVT_ARG(3), PVT_RET,
		PVT_SCRATCH(0), PVT_SCRATCH(1), PVT_IMM(0), PVT_IMM(1), PVT_IMM(2),
		PVT_IMM(3), PVT_NONE,
	};
	unsigned int k = b % (16 + sizeof(holes));

	return k < 16 ? (uint8_t)k : holes[k - 16];
}

static struct pvpatch_template *build_template(struct rd *in, unsigned int idx)
{
	struct pvpatch_template *t = calloc(1, sizeof(*t));
	static const char *const names[MAX_TMPL] = { "fuzz0", "fuzz1", "fuzz2" };
	uint8_t flags = u8(in), n = u8(in);
	bool raw = flags & 1;

	t->name = names[idx];
	t->n_insns = raw ? n : (uint8_t)(1 + n % PVT_MAX_INSNS);
	t->hv_clobbers = u16(in);
	if (!(flags & 2))
		t->hv_clobbers &= (uint16_t)~(1u << PVPATCH_REG_RSP);
	for (unsigned int k = 0; k < t->n_insns && k < PVT_MAX_INSNS; k++) {
		struct pvt_insn *x = &t->insn[k];
		uint8_t op = u8(in), dst = u8(in), src = u8(in), width = u8(in);

		if (raw) {
			x->op = op;
			x->dst = dst;
			x->src = src;
			x->width = width;
			x->imm = u64(in);
			continue;
		}
		x->op = op % PVT_NR_OPCODES;
		x->dst = operand(dst);
		x->src = operand(src);
		/* mostly what the instruction wants */
		if ((x->op == PVT_SHLI || x->op == PVT_SHRI) && !(src & 0x80))
			x->src = PVT_NONE;
		if (x->op == PVT_MOVI && !(src & 0x80))
			x->src = src & 0x40 ? PVT_NONE : (uint8_t)PVT_IMM(src & 3);
		x->width = width & 0x80 ? width : (width & 1 ? 8 : 4);
		if (x->op == PVT_PUSH || x->op == PVT_POP)
			x->width = width & 0x40 ? 4 : 8;
		x->imm = width & 0x20 ? u64(in) : (uint64_t)(width & 0x1f) * 2 + (src & 1);
	}
	return t;
}

static void build_policy(struct rd *in, struct policy_in *p)
{
	unsigned int n_pol = u8(in) % MAX_POL;
	unsigned int n_ovr = u8(in) % (MAX_OVR + 1);

	p->pol = calloc(1, sizeof(*p->pol));
	for (unsigned int k = 0; k < n_pol; k++) {
		unsigned int op = u8(in) % (PVPATCH_MAX_OP + 1);
		uint8_t mode = u8(in), be = u8(in), tm = u8(in), pf = u8(in);
		struct pvpatch_op_policy *o = &p->pol->op[op];

		o->mode = mode < 0xf0 ? mode % PVPATCH_NR_MODES : mode;
		o->backend = backends[be % NB];
		o->preserves = be / NB & 1;	/* register-preserving: lean thunks */
		if (be / NB & 2)		/* analysed plain C: direct calls, lean thunks */
			o->writes = PVPATCH_WRITES_KNOWN | (((be * 0x9e37u) ^ tm) & 0x0fc7u);
		o->tmpl = tm % (R.n_tmpl + 1) ? R.tmpl[tm % (R.n_tmpl + 1) - 1] : NULL;
		for (int j = 0; j < PVT_MAX_PARAMS; j++)
			o->params[j] = pf & 1 ? u64(in) : (uint64_t)pf << j;
	}
	p->n_ovr = n_ovr;
	p->ovr = n_ovr ? calloc(n_ovr, sizeof(*p->ovr)) : NULL;
	for (unsigned int k = 0; k < n_ovr; k++) {
		struct pvpatch_override *o = &p->ovr[k];
		uint8_t kind = u8(in), mode = u8(in);
		uint16_t off = u16(in);
		uintptr_t sa = R.n ? site_addr(&A.rec[off % R.n]) : (uintptr_t)A.text;

		o->mode = mode < 0xf0 ? mode % PVPATCH_NR_MODES : mode;
		switch (kind % 4) {
		case 0:		/* a record's site address */
			o->addr = sa;
			break;
		case 1:		/* func+offset of a record's site */
			o->func = funcs[kind / 4 % NFUNCS];
			o->addr = sa - func_base(o->func);
			break;
		case 2:		/* func+offset anywhere */
			o->func = funcs[kind / 4 % NFUNCS];
			o->addr = off;
			break;
		case 3:		/* an address in the text, or 0 */
			o->addr = off == 0xffff ? 0 : (uintptr_t)A.text + off % TEXT_SIZE;
			break;
		}
	}
	p->pol->overrides = p->ovr;
	p->pol->n_overrides = n_ovr;
}

/* --- the model ----------------------------------------------------------- */

/* Pass 1 as the record format says: true when the record on its own is ok. */
NOCOV static bool record_ok(const struct pvpatch_site *r)
{
	const struct pvpatch_op_info *info = op_info(r->op);
	uintptr_t a = site_addr(r);
	unsigned int want = 0;

	if (r->version != PVPATCH_SITE_VERSION || !info)
		return false;
	if (a < R.pv.text_start || a + r->site_len > R.pv.text_end || a + r->site_len < a)
		return false;
	if (r->site_len != info->site_len || r->native_len == 0 ||
	    r->native_len > r->site_len || r->native_len > info->native_max)
		return false;
	want = info->nargs | (info->nouts ? PVPATCH_SITE_F_HAS_RET : 0);
	if ((r->flags & (PVPATCH_SITE_F_NARGS_MASK | PVPATCH_SITE_F_HAS_RET)) != want ||
	    (r->flags & ~(PVPATCH_SITE_F_NARGS_MASK | PVPATCH_SITE_F_HAS_RET | PVPATCH_SITE_F_ASM |
			   PVPATCH_SITE_F_WIDENED)))
		return false;
	if (r->clobbers & 1u << PVPATCH_REG_RSP)
		return false;
	for (unsigned int k = 0; k < info->nargs; k++) {
		unsigned int reg = pvpatch_site_reg(r, PVPATCH_SLOT_ARG0 + k);

		if (reg == PVPATCH_REG_RSP || (info->arg_pin[k] >= 0 && reg != (unsigned int)info->arg_pin[k]))
			return false;
	}
	if (info->nouts) {
		unsigned int reg = pvpatch_site_reg(r, PVPATCH_SLOT_RET);

		if (reg == PVPATCH_REG_RSP || !(r->clobbers >> reg & 1) ||
		    (info->out_pin[0] >= 0 && reg != (unsigned int)info->out_pin[0]))
			return false;
	}
	return (r->clobbers & info->clobbers) == info->clobbers;
}

NOCOV static bool overlap(unsigned int i, unsigned int j)
{
	uintptr_t a = site_addr(&A.rec[i]), b = site_addr(&A.rec[j]);

	return a < b + A.rec[j].site_len && b < a + A.rec[i].site_len;
}

NOCOV static bool decodes(const uint8_t *p, unsigned int len)
{
	struct insn insn;
	unsigned int off = 0;

	while (off < len) {
		int l = insn_decode(&insn, p + off, len - off);

		if (l <= 0)
			return false;
		off += (unsigned int)l;
	}
	return true;
}

NOCOV static const uint8_t *s0_bytes(unsigned int i)
{
	return S0.text + (site_addr(&A.rec[i]) - (uintptr_t)A.text);
}

/* After the first successful call: which records the patcher accepted. */
NOCOV static void check_acceptance(void)
{
	bool ok1[MAX_RECS];
	size_t saved = 0;

	for (unsigned int i = 0; i < R.n; i++)
		ok1[i] = record_ok(&A.rec[i]);
	for (unsigned int i = 0; i < R.n; i++) {
		unsigned int why = R.state[i].reason;
		bool overlaps = false;

		CHECK(why < PVPATCH_NR_REASONS, "record %u: reason %u", i, why);
		if (!ok1[i]) {
			CHECK(why >= PVPATCH_E_VERSION && why <= PVPATCH_E_FLAGS,
			      "record %u (op %u) is malformed but got reason %u (%s)", i,
			      A.rec[i].op, why, pvpatch_reason_str(why));
			continue;
		}
		CHECK(why == PVPATCH_OK || why == PVPATCH_E_OVERLAP || why == PVPATCH_E_DECODE ||
		      why == PVPATCH_E_SAVE, "record %u (op %u) is well-formed but got reason %u (%s)",
		      i, A.rec[i].op, why, pvpatch_reason_str(why));
		for (unsigned int j = 0; j < R.n; j++)
			if (j != i && ok1[j] && overlap(i, j))
				overlaps = true;
		if (why == PVPATCH_E_OVERLAP) {
			CHECK(overlaps, "record %u refused for an overlap it does not have", i);
			continue;
		}
		/* "refuse overlapping ones -- so no two sites ever write the same
		 * byte", and a site must not overwrite another (refused) site's
		 * native code, which still runs. */
		if (overlaps) {
			for (unsigned int j = 0; j < R.n; j++)
				if (j != i && ok1[j] && overlap(i, j))
					fprintf(stderr, "record %u text%+ld len %u (reason %u) overlaps "
						"record %u text%+ld len %u (reason %u)\n", i,
						(long)(site_addr(&A.rec[i]) - (uintptr_t)A.text),
						A.rec[i].site_len, why, j,
						(long)(site_addr(&A.rec[j]) - (uintptr_t)A.text),
						A.rec[j].site_len, R.state[j].reason);
		}
		CHECK(!overlaps, "record %u overlaps another well-formed record but was not "
		      "refused for it (reason %u)", i, why);
		if (!decodes(s0_bytes(i), A.rec[i].native_len)) {
			CHECK(why == PVPATCH_E_DECODE, "record %u: native bytes do not decode, "
			      "reason %u", i, why);
			continue;
		}
		CHECK(why != PVPATCH_E_DECODE, "record %u: native bytes decode, reason DECODE", i);
		if (R.saved_size - saved < A.rec[i].native_len) {
			CHECK(why == PVPATCH_E_SAVE, "record %u: no room to save, reason %u", i, why);
			continue;
		}
		CHECK(why == PVPATCH_OK, "record %u: should be accepted, reason %u", i, why);
		saved += A.rec[i].native_len;
	}
	/* Accepted sites never overlap each other (the safety property). */
	for (unsigned int i = 0; i < R.n; i++)
		for (unsigned int j = i + 1; j < R.n; j++)
			CHECK(!(accepted(i) && accepted(j) && overlap(i, j)),
			      "accepted records %u and %u overlap", i, j);
}

NOCOV static bool is_choice_reason(unsigned int r)
{
	return (r >= PVPATCH_E_MODE && r < PVPATCH_E_OVERRIDE) || r == PVPATCH_E_FREED ||
	       r == PVPATCH_E_THUNK_INDEX;
}

/* --- poison mode (PVPATCH_F_POISON) --------------------------------------- */

/* Whether site i may run from a poison stub after a call with pol (the
 * flag's contract: a widened record, a policy, the flag). */
NOCOV static bool poison_expected(unsigned int i, const struct pvpatch_policy *pol)
{
	return pol && (R.pv.flags & PVPATCH_F_POISON) && accepted(i) &&
	       (A.rec[i].flags & PVPATCH_SITE_F_WIDENED);
}

/* The registers a poison stub of record r overwrites: its mask less its
 * outputs, rsp and rbp. */
NOCOV static uint16_t poison_regs(const struct pvpatch_site *r)
{
	const struct pvpatch_op_info *info = op_info(r->op);
	uint16_t m = r->clobbers & (uint16_t)~(1u << PVPATCH_REG_RSP | 1u << PVPATCH_REG_RBP);

	if (info->nouts)
		m &= (uint16_t)~(1u << pvpatch_site_reg(r, PVPATCH_SLOT_RET));
	for (unsigned int k = 1; k < info->nouts; k++)
		if (info->out_pin[k] >= 0)
			m &= (uint16_t)~(1u << info->out_pin[k]);
	return m;
}

/* The thunk index entry whose code starts at addr, or NULL. */
NOCOV static const struct pvpatch_thunk_slot *index_entry(uintptr_t addr)
{
	size_t off = addr - (uintptr_t)R.pv.thunks;

	for (uint32_t k = 0; R.tindex && k < R.pv.index_slots; k++)
		if (R.tindex[k].code && R.tindex[k].code - 1 == off)
			return &R.tindex[k];
	return NULL;
}

/*
 * The model of moving native code: in[0..n), built to run at site (len
 * bytes), copied to run at dst into out (256 bytes), as README's "Poison
 * mode" says: NOPs left out, the copy ends at int3 or at a jmp to the site's
 * end, a rel32 call or a jcc out of the site re-targeted (as call rel32 and
 * jcc rel32), a RIP-relative displacement adjusted, any other relative
 * operand refused.  PVPATCH_OK and *olen, or the reason.
 */
NOCOV static int reloc_model(const uint8_t *in, unsigned int n, uintptr_t site, unsigned int len,
			     uintptr_t dst, uint8_t *out, unsigned int *olen)
{
	unsigned int off = 0, o = 0;

	while (off < n) {
		struct insn d;
		int l = insn_decode(&d, in + off, n - off);
		uintptr_t at = site + off;

		if (l <= 0)
			return PVPATCH_E_DECODE;
		if (in[off] == 0xcc)
			break;
		if (insn_is_nop(&d)) {
			off += (unsigned int)l;
			continue;
		}
		CHECK(o + 15 <= 256, "reloc_model: %u bytes", o);
		if (insn_is_rel_branch(&d)) {
			uintptr_t to = insn_rel_target(&d, at);
			unsigned int il = d.branch == INSN_BR_CALL ? 5 : 6;
			int64_t rel;
			int32_t r32;

			if (d.branch == INSN_BR_JMP && to == site + len)
				break;
			if ((to >= site && to <= site + len) ||
			    (d.branch != INSN_BR_CALL && d.branch != INSN_BR_JCC))
				return PVPATCH_E_RELOC;
			rel = (int64_t)(to - (dst + o + il));
			r32 = (int32_t)rel;
			if (rel != r32)
				return PVPATCH_E_CALL_RANGE;
			if (d.branch == INSN_BR_CALL) {
				out[o++] = 0xe8;
			} else {
				out[o++] = 0x0f;
				out[o++] = (uint8_t)(0x80 | (d.opcode & 0xf));
			}
			memcpy(out + o, &r32, 4);
			o += 4;
		} else {
			memcpy(out + o, in + off, (size_t)l);
			if (insn_is_rip_rel(&d)) {
				uintptr_t target = at + (uintptr_t)l + (uintptr_t)d.disp;
				int64_t disp = (int64_t)(target - (dst + o + (uintptr_t)l));
				int32_t d32 = (int32_t)disp;

				if (disp != d32)
					return PVPATCH_E_CALL_RANGE;
				memcpy(out + o + d.disp_off, &d32, 4);
			}
			o += (unsigned int)l;
		}
		off += (unsigned int)l;
	}
	*olen = o;
	return PVPATCH_OK;
}

/*
 * The poison stub at stub in the used thunk area [lo, hi) of site i in
 * mode: the site's job, one poison store into each register of
 * poison_regs() and into no other, `jmp` back to exactly the site's end.
 * Returns the stub's length.
 */
/*
 * The poison store p[0..l) may be: movabs $v, %r, or lea d8(%b), %r (64-bit,
 * b's value taken from val[]).  Returns r and sets *v and *base (lea's b;
 * 16 for movabs), or -1 when it is neither.
 */
NOCOV static int poison_store(const uint8_t *p, size_t l, const uint64_t *val, unsigned int *base,
			      uint64_t *v)
{
	if (l == 10 && (p[0] & 0xfe) == 0x48 && (p[1] & 0xf8) == 0xb8) {
		*base = 16;
		memcpy(v, p + 2, 8);
		return (int)((p[0] & 1u) << 3 | (p[1] & 7u));
	}
	if (l == 4 && (p[0] & 0xfa) == 0x48 && p[1] == 0x8d && (p[2] & 0xc0) == 0x40 &&
	    (p[2] & 7) != 4) {
		*base = (p[0] & 1u) << 3 | (p[2] & 7u);
		*v = val[*base] + (uint64_t)(int64_t)(int8_t)p[3];
		return (int)((p[0] >> 2 & 1u) << 3 | (p[2] >> 3 & 7u));
	}
	return -1;
}

NOCOV static size_t check_poison_stub(unsigned int i, unsigned int mode, uintptr_t stub,
				      const void *backend, uintptr_t lo, uintptr_t hi, size_t *job_len)
{
	const struct pvpatch_site *r = &A.rec[i];
	const struct pvpatch_op_info *info = op_info(r->op);
	uintptr_t site = site_addr(r), end = site + r->site_len, at = stub, starts[64], job_end;
	uint16_t mask = poison_regs(r), seen = 0;
	unsigned int n = 0, k = (unsigned int)__builtin_popcount(mask), calls = 0;
	uint64_t val[16] = { 0 };
	struct insn d;

	for (;;) {
		int l;

		CHECK(n < 64 && at < hi, "site %u: poison stub at thunks%+ld without its jump back", i,
		      (long)(stub - lo));
		l = insn_decode(&d, (const uint8_t *)at, hi - at);
		CHECK(l > 0, "site %u: poison stub at thunks%+ld does not decode at +%ld (%d)", i,
		      (long)(stub - lo), (long)(at - stub), l);
		if (d.branch == INSN_BR_JMP)
			break;
		starts[n++] = at;
		at += (unsigned int)l;
	}
	CHECK(*(const uint8_t *)at == 0xe9 && insn_rel_target(&d, at) == end,
	      "site %u: poison stub jumps to %#lx, not back to its site's end %#lx", i,
	      (unsigned long)insn_rel_target(&d, at), (unsigned long)end);
	/* Anywhere in the stub (a job computing these exact values is not worth
	 * a false alarm): a poison store into a register outside the mask is
	 * the mistake that matters, named as such. */
	{
		uint16_t known = 0;

		for (unsigned int j = 0; j < n; j++) {
			size_t l = (j + 1 < n ? starts[j + 1] : at) - starts[j];
			unsigned int dst, base;
			uint64_t v;
			int reg = poison_store((const uint8_t *)starts[j], l, val, &base, &v);

			if (reg < 0 || (base < 16 && !(known >> base & 1)))
				continue;
			dst = (unsigned int)reg;
			if (v != (PVPATCH_POISON_VALUE | dst))
				continue;
			CHECK(mask >> dst & 1, "site %u: poison store into register %u, outside the "
			      "record's mask %#x less outputs, rsp and rbp (%#x)", i, dst, r->clobbers,
			      mask);
			known |= (uint16_t)(1u << dst);
			val[dst] = v;
		}
	}
	CHECK(n >= k, "site %u: poison stub of %u instructions, %u registers to poison", i, n, k);
	job_end = k ? starts[n - k] : at;

	/* The poison: movabs $v, %r or lea d8(%b), %r (64-bit, b poisoned
	 * before), each leaving 0xdead0000000000NN in register NN of the mask. */
	for (unsigned int j = n - k; j < n; j++) {
		size_t l = (j + 1 < n ? starts[j + 1] : at) - starts[j];
		unsigned int dst, base;
		uint64_t v;
		int reg = poison_store((const uint8_t *)starts[j], l, val, &base, &v);

		CHECK(reg >= 0, "site %u: poison stub at thunks%+ld: instruction at +%ld is not a "
		      "poison store (%u registers to poison)", i, (long)(stub - lo),
		      (long)(starts[j] - stub), k);
		CHECK(base == 16 || (seen >> base & 1),
		      "site %u: poison lea from register %u, not poisoned yet", i, base);
		dst = (unsigned int)reg;
		CHECK(mask >> dst & 1, "site %u: poison store into register %u, outside the record's "
		      "mask %#x less outputs, rsp and rbp (%#x)", i, dst, r->clobbers, mask);
		CHECK(!(seen >> dst & 1), "site %u: register %u poisoned twice", i, dst);
		CHECK(v == (PVPATCH_POISON_VALUE | dst), "site %u: register %u poisoned with %#llx", i,
		      dst, (unsigned long long)v);
		seen |= (uint16_t)(1u << dst);
		val[dst] = v;
	}

	/* The job. */
	switch (mode) {
	case PVPATCH_MODE_NATIVE: {
		uint8_t want[256];
		unsigned int wl = 0;
		int err = reloc_model(s0_bytes(i), r->native_len, site, r->site_len, stub, want, &wl);

		CHECK(err == PVPATCH_OK, "site %u: poisoned NATIVE, yet its native code cannot move "
		      "(reason %d)", i, err);
		CHECK(job_end - stub == wl && !memcmp(want, (const void *)stub, wl),
		      "site %u: the poison stub's NATIVE job (%ld bytes) is not its native code moved "
		      "(%u bytes)", i, (long)(job_end - stub), wl);
		break;
	}
	case PVPATCH_MODE_NOP:
		CHECK(job_end == stub, "site %u: NOP poison stub with a job of %ld bytes", i,
		      (long)(job_end - stub));
		break;
	default:
		for (unsigned int j = 0; j < n - k; j++) {
			insn_decode(&d, (const uint8_t *)starts[j], hi - starts[j]);
			CHECK(!insn_is_rip_rel(&d), "site %u: poison stub: RIP-relative operand", i);
			CHECK(!insn_is_nop(&d), "site %u: poison stub: a NOP in the job", i);
			if (d.branch == INSN_BR_CALL) {
				uintptr_t t = insn_rel_target(&d, starts[j]);

				CHECK(mode == PVPATCH_MODE_CALL, "site %u: poison stub calls in mode %u", i,
				      mode);
				CHECK(backend, "site %u: poison stub calls without a backend", i);
				if (t != (uintptr_t)backend) {
					CHECK(t >= lo && t < hi, "site %u: poison stub calls %#lx: neither "
					      "the backend %p nor a used thunk", i, (unsigned long)t, backend);
					check_thunk_code(lo, hi, t, backend, R.pv.return_thunk);
				}
				calls++;
			} else {
				CHECK(!insn_is_rel_branch(&d), "site %u: poison stub: relative branch", i);
			}
		}
		CHECK(calls == (mode == PVPATCH_MODE_CALL), "site %u: poison stub makes %u calls in "
		      "mode %u", i, calls, mode);
		if (mode == PVPATCH_MODE_INLINE)
			CHECK(job_end - stub <= info->inline_max, "site %u: poison stub's template of %ld "
			      "bytes, inline_max %u", i, (long)(job_end - stub), info->inline_max);
		break;
	}
	*job_len = job_end - stub;
	return at + 5 - stub;
}

/*
 * With the same policy poisoned and not, one after the other: the
 * poisoned site's job is exactly the unpoisoned site's bytes (CALL, INLINE
 * in the site) moved to the stub, as the model moves them.
 */
NOCOV static void same_job(unsigned int i, unsigned int mode, const uint8_t *site_bytes,
			   uintptr_t job, size_t job_len)
{
	const struct pvpatch_site *r = &A.rec[i];
	uint8_t want[256];
	unsigned int wl;

	if (mode != PVPATCH_MODE_CALL && mode != PVPATCH_MODE_INLINE)
		return;
	/* an INLINE site that jumps to its INLINE stub: nothing to compare */
	if (reloc_model(site_bytes, r->site_len, site_addr(r), r->site_len, job, want, &wl))
		return;
	CHECK(wl == job_len && !memcmp(want, (const void *)job, wl), "site %u (mode %u): the "
	      "poison stub's job (%zu bytes) is not the unpoisoned site moved (%u bytes)", i, mode,
	      job_len, wl);
}

/* A poison stub met in the walk over the area (maybe no site's now): len
 * bytes that decode, the last a `jmp rel32` out of the area, no other jump. */
NOCOV static void check_poison_extent(uintptr_t lo, uintptr_t hi, uintptr_t at, size_t len)
{
	uintptr_t start = at;
	struct insn d;

	CHECK(len >= 5 && len <= hi - at, "poison stub at thunks%+ld of %zu bytes", (long)(at - lo),
	      len);
	for (;;) {
		int l = insn_decode(&d, (const uint8_t *)at, start + len - at);

		CHECK(l > 0, "poison stub at thunks%+ld does not decode", (long)(start - lo));
		if (d.branch == INSN_BR_JMP) {
			uintptr_t t = insn_rel_target(&d, at);

			CHECK(l == 5 && at + 5 == start + len && (t < lo || t >= hi),
			      "poison stub at thunks%+ld: jump to %#lx at +%ld", (long)(start - lo),
			      (unsigned long)t, (long)(at - start));
			return;
		}
		at += (unsigned int)l;
	}
}

/* check_thunk_area(), knowing poison stubs (their code can be anything the
 * native code was) by their index entries. */
NOCOV static void check_area(const uint8_t *lo, size_t used, const void *return_thunk)
{
	size_t off = 0;

	while (off < used) {
		const struct pvpatch_thunk_slot *t = index_entry((uintptr_t)lo + off);

		CHECK(off % 16 == 0, "thunk at thunks+%zu, not a multiple of 16", off);
		if (t && t->kind == KIND_POISON) {
			check_poison_extent((uintptr_t)lo, (uintptr_t)lo + used, (uintptr_t)lo + off,
					    t->len);
			off += t->len;
		} else {
			off += check_thunk_code((uintptr_t)lo, (uintptr_t)lo + used, (uintptr_t)lo + off,
						NULL, return_thunk);
		}
		for (; off < used && off % 16; off++)
			CHECK(lo[off] == 0xcc, "thunk area byte %zu between thunks is %#x, not int3", off,
			      lo[off]);
	}
}

/* A site after a call: its bytes as its mode says, its code as check_site_code() wants. */
NOCOV static void check_site_bytes(unsigned int i, const struct pvpatch_policy *pol, unsigned int used)
{
	const struct pvpatch_site *r = &A.rec[i];
	const uint8_t *p = (const uint8_t *)site_addr(r);
	unsigned int len = r->site_len, mode = R.state[i].mode;
	uint8_t want[PVPATCH_MAX_SITE];
	const void *backend = pol ? pol->op[r->op].backend : NULL;
	uintptr_t lo = (uintptr_t)R.pv.thunks, hi = lo + used, stub = 0;
	const struct pvpatch_thunk_slot *t = NULL;

	/* Poisoned: `jmp stub` + int3 to a poison stub (which its index entry
	 * says it is), not the site's own native bytes (which could be such a
	 * jmp). */
	bool same = R.checked && R.last_pol == pol && R.last_mode[i] == mode;
	bool was = R.pois[i];
	size_t job_len;

	R.last_mode[i] = (uint8_t)mode;
	R.pois[i] = false;
	memcpy(want, s0_bytes(i), r->native_len);
	pad_bytes(want + r->native_len, len - r->native_len);
	if (R.pv.thunks && p[0] == 0xe9 && (mode != PVPATCH_MODE_NATIVE || memcmp(p, want, len)))
		stub = site_stub(p, len, lo, hi);
	if (stub)
		t = index_entry(stub);
	if (t && t->kind == KIND_POISON) {
		CHECK(poison_expected(i, pol), "site %u (mode %u) runs from a poison stub, unasked", i,
		      mode);
		CHECK(check_poison_stub(i, mode, stub, backend, lo, hi, &job_len) == t->len,
		      "site %u: poison stub of another length than its index entry's %u", i, t->len);
		if (same && !was)
			same_job(i, mode, Sprev.text + (site_addr(r) - (uintptr_t)A.text), stub,
				 job_len);
		R.job_at[i] = stub;
		R.job_len[i] = job_len;
		R.pois[i] = true;
		R.n_pois++;
		return;
	}
	if (same && was)
		same_job(i, mode, p, R.job_at[i], R.job_len[i]);
	if (poison_expected(i, pol) && mode == PVPATCH_MODE_NATIVE && R.pv.thunks && len >= 5) {
		/* The model knows native code that cannot move. */
		uint8_t moved[256];
		unsigned int ml;

		if (reloc_model(s0_bytes(i), r->native_len, site_addr(r), len, lo, moved, &ml) ==
		    PVPATCH_E_RELOC)
			R.model_reloc++;
	}

	if (mode == PVPATCH_MODE_NATIVE) {
		memcpy(want, s0_bytes(i), r->native_len);
		pad_bytes(want + r->native_len, len - r->native_len);
		CHECK(!memcmp(p, want, len), "NATIVE site %u is not its native bytes + padding", i);
	} else if (mode == PVPATCH_MODE_NOP) {
		pad_bytes(want, len);
		CHECK(!memcmp(p, want, len), "NOP site %u is not padding", i);
	}
	check_site_code(i, r->op, mode, p, len, mode == PVPATCH_MODE_NATIVE ? r->native_len : 0,
			backend, (uintptr_t)R.pv.thunks, (uintptr_t)R.pv.thunks + used,
			R.pv.return_thunk);
}

struct expect_rej {
	uintptr_t site;
	unsigned int op, wanted, got, reason;	/* reason 0: any choice reason */
};

/* After every successful call: the report, the state and the bytes. */
NOCOV static void check_call(const struct pvpatch_policy *pol, const struct pvpatch_report *rep,
		       bool debug)
{
	uint8_t ovr[MAX_RECS];
	unsigned int invalid = 0, fallbacks = 0, ovr_rej = 0, n_exp = 0, diff = 0;
	unsigned int modes[PVPATCH_NR_MODES] = { 0 }, reasons[PVPATCH_NR_REASONS] = { 0 };
	unsigned int op_diff[PVPATCH_MAX_OP + 1] = { 0 };
	static struct expect_rej exp[MAX_OVR + MAX_RECS];
	uintptr_t ts = (uintptr_t)A.text;
	unsigned int used = (unsigned int)R.pv.thunks_used;
	static uint8_t outside[TEXT_SIZE];

	/* Nothing outside accepted sites and the thunk area changed. */
	CHECK(!memcmp(A.guard0, S0.guard0, sizeof(A.guard0)), "guard0 changed");
	CHECK(!memcmp(A.guard1, S0.guard1, sizeof(A.guard1)), "guard1 changed");
	CHECK(!memcmp(A.guard2, S0.guard2, sizeof(A.guard2)), "guard2 changed");
	CHECK(!memcmp(A.guard3, S0.guard3, sizeof(A.guard3)), "guard3 changed");
	CHECK(!memcmp(A.rec, S0.rec, sizeof(A.rec)), "records changed");
	/* The text with the accepted sites' bytes put back is the original. */
	memcpy(outside, A.text, TEXT_SIZE);
	for (unsigned int i = 0; i < R.n; i++) {
		if (accepted(i)) {
			size_t o = site_addr(&A.rec[i]) - ts;

			memcpy(outside + o, S0.text + o, A.rec[i].site_len);
			for (unsigned int b = 0; b < A.rec[i].site_len; b++)
				diff += A.text[o + b] != Sprev.text[o + b];
		}
	}
	if (memcmp(outside, S0.text, TEXT_SIZE))
		for (unsigned int b = 0; b < TEXT_SIZE; b++)
			CHECK(outside[b] == S0.text[b], "text byte %u outside sites changed", b);
	if (R.pv.thunks) {
		size_t t0 = (size_t)(R.pv.thunks - A.thunks);

		CHECK(used <= R.pv.thunks_size + 15, "thunks_used %u > thunks_size %zu", used,
		      R.pv.thunks_size);
		CHECK(!memcmp(A.thunks, S0.thunks, t0), "bytes before the thunk area changed");
		CHECK(!memcmp(A.thunks + t0 + used, S0.thunks + t0 + used, sizeof(A.thunks) - t0 - used),
		      "thunk bytes past the used area changed");
		check_area(R.pv.thunks, used, R.pv.return_thunk);
	} else {
		CHECK(!memcmp(A.thunks, S0.thunks, sizeof(A.thunks)), "thunk area changed without thunks");
		CHECK(used == 0, "thunks used without a thunk area");
	}
	CHECK(used >= R.thunk_bytes_before, "thunks_used went down");
	/* The index sized by the rule is never the limit; no index, no thunk. */
	if (R.index_sel == 0)
		CHECK(rep->reasons[PVPATCH_E_THUNK_INDEX] == 0,
		      "%u sites found a thunk index of PVPATCH_THUNK_SLOTS(%u) full",
		      rep->reasons[PVPATCH_E_THUNK_INDEX], R.n);
	if (R.index_sel == 1 || R.index_sel == 2)
		CHECK(used == 0, "thunks written without a thunk index");
	if (R.pv.poke == fz_poke)
		CHECK((R.thunk_pokes > 0) == (used > R.thunk_bytes_before),
		      "%u thunk pokes, thunks_used %u -> %u", R.thunk_pokes, R.thunk_bytes_before, used);

	/* Overrides, resolved as the API says. */
	memset(ovr, 0xff, sizeof(ovr));
	for (unsigned int k = 0; pol && k < pol->n_overrides; k++) {
		const struct pvpatch_override *o = &pol->overrides[k];
		uintptr_t addr = o->addr;
		int hit = -1;

		if (o->func) {
			uintptr_t base = R.pv.lookup ? func_base(o->func) : 0;

			addr = base ? base + o->addr : 0;
		}
		for (unsigned int i = 0; addr && o->mode < PVPATCH_NR_MODES && i < R.n; i++)
			if (accepted(i) && site_addr(&A.rec[i]) == addr)
				hit = (int)i;
		if (hit < 0) {
			exp[n_exp++] = (struct expect_rej){ addr, 0, o->mode, PVPATCH_MODE_NATIVE,
							    PVPATCH_E_OVERRIDE };
			ovr_rej++;
			reasons[PVPATCH_E_OVERRIDE]++;
		} else {
			ovr[hit] = o->mode;
		}
	}

	/* Per site, in record order. */
	for (unsigned int i = 0; i < R.n; i++) {
		const struct pvpatch_site *r = &A.rec[i];
		const struct pvpatch_op_info *info;
		const struct pvpatch_op_policy *opol;
		unsigned int req, got = R.state[i].mode;

		if (!accepted(i)) {
			invalid++;
			reasons[R.state[i].reason]++;
			exp[n_exp++] = (struct expect_rej){ site_addr(r), r->op, PVPATCH_MODE_NATIVE,
							    PVPATCH_MODE_NATIVE, R.state[i].reason };
			CHECK(got == PVPATCH_MODE_NATIVE, "refused record %u in mode %u", i, got);
			continue;
		}
		info = op_info(r->op);
		opol = pol ? &pol->op[r->op] : NULL;
		req = ovr[i] != 0xff ? ovr[i] : opol ? opol->mode : PVPATCH_MODE_NATIVE;
		CHECK(got < PVPATCH_NR_MODES && (info->modes >> got & 1),
		      "site %u (op %s) in mode %u, which the op does not allow", i, info->name, got);
		modes[got]++;
		switch (req) {
		case PVPATCH_MODE_NATIVE:
			CHECK(got == PVPATCH_MODE_NATIVE, "site %u: NATIVE asked, %u got", i, got);
			break;
		case PVPATCH_MODE_NOP:
			if ((info->modes >> PVPATCH_MODE_NOP & 1) && !info->nouts)
				CHECK(got == PVPATCH_MODE_NOP, "site %u: NOP possible, %u got", i, got);
			else
				CHECK(got == PVPATCH_MODE_NATIVE, "site %u: NOP impossible, %u got", i, got);
			break;
		case PVPATCH_MODE_INLINE:
			CHECK(got != PVPATCH_MODE_NOP, "site %u: INLINE asked, NOP got", i);
			CHECK(got != PVPATCH_MODE_INLINE || opol->tmpl, "site %u: INLINE without template", i);
			break;
		case PVPATCH_MODE_CALL:
			CHECK(got == PVPATCH_MODE_CALL || got == PVPATCH_MODE_NATIVE,
			      "site %u: CALL asked, %u got", i, got);
			break;
		default:
			CHECK(got == PVPATCH_MODE_NATIVE, "site %u: mode %u asked, %u got", i, req, got);
			break;
		}
		if (got == PVPATCH_MODE_CALL)
			CHECK(opol && opol->backend, "site %u: CALL without a backend", i);
		if (got != req) {
			unsigned int why = 0;

			if (req >= PVPATCH_NR_MODES || !(info->modes >> req & 1))
				why = PVPATCH_E_MODE;
			else if (req == PVPATCH_MODE_INLINE && !opol->tmpl)
				why = PVPATCH_E_NO_TEMPLATE;
			else if (req == PVPATCH_MODE_CALL && !opol->backend)
				why = PVPATCH_E_NO_BACKEND;
			fallbacks++;
			exp[n_exp++] = (struct expect_rej){ site_addr(r),
				r->op, req < PVPATCH_NR_MODES ? req : PVPATCH_MODE_NATIVE, got, why };
		}
	}

	/* The report. */
	CHECK(rep->sites == R.n, "report: %u sites, %u records", rep->sites, R.n);
	CHECK(rep->invalid == invalid, "report: %u invalid, %u refused", rep->invalid, invalid);
	CHECK(rep->fallbacks == fallbacks, "report: %u fallbacks, model %u", rep->fallbacks, fallbacks);
	CHECK(rep->n_rejects == ovr_rej + invalid + fallbacks, "report: %u rejects, model %u+%u+%u",
	      rep->n_rejects, ovr_rej, invalid, fallbacks);
	CHECK(rep->thunk_bytes == used, "report: thunk_bytes %u, used %u", rep->thunk_bytes, used);
	if (R.pv.poke == fz_poke)
		CHECK(rep->written == R.site_pokes, "report: %u written, %u site pokes", rep->written,
		      R.site_pokes);
	CHECK(rep->bytes_changed == diff, "report: %u bytes changed, %u differ", rep->bytes_changed,
	      diff);
	{
		unsigned int sum = 0, sum_op_bytes = 0;

		for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++) {
			unsigned int by_op = 0;

			CHECK(rep->mode[m] == modes[m], "report: mode[%u] %u, state %u", m, rep->mode[m],
			      modes[m]);
			for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
				by_op += rep->op_mode[op][m];
			CHECK(by_op == rep->mode[m], "report: op_mode[][%u] sums to %u, mode %u", m, by_op,
			      rep->mode[m]);
			sum += rep->mode[m];
		}
		CHECK(sum == R.n - invalid, "report: modes sum to %u, %u valid", sum, R.n - invalid);
		for (unsigned int i = 0; i < R.n; i++)
			if (accepted(i)) {
				const uint8_t *p = (const uint8_t *)site_addr(&A.rec[i]);
				const uint8_t *q = Sprev.text + ((uintptr_t)p - ts);

				for (unsigned int b = 0; b < A.rec[i].site_len; b++)
					op_diff[A.rec[i].op] += p[b] != q[b];
			}
		for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
			unsigned int cnt[PVPATCH_NR_MODES] = { 0 };

			for (unsigned int i = 0; i < R.n; i++)
				if (accepted(i) && A.rec[i].op == op)
					cnt[R.state[i].mode]++;
			for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++)
				CHECK(rep->op_mode[op][m] == cnt[m], "report: op_mode[%u][%u] %u, state %u",
				      op, m, rep->op_mode[op][m], cnt[m]);
			CHECK(rep->op_bytes[op] == op_diff[op], "report: op_bytes[%u] %u, %u differ", op,
			      rep->op_bytes[op], op_diff[op]);
			sum_op_bytes += rep->op_bytes[op];
		}
		CHECK(sum_op_bytes == rep->bytes_changed, "report: op_bytes sum %u", sum_op_bytes);
	}
	{
		unsigned int sum = 0, choice = 0;

		CHECK(rep->reasons[PVPATCH_OK] == 0, "report: reasons[OK] %u", rep->reasons[0]);
		for (unsigned int k = 0; k < PVPATCH_NR_REASONS; k++) {
			sum += rep->reasons[k];
			if (is_choice_reason(k))
				choice += rep->reasons[k];
			else if (k != PVPATCH_E_OVERRIDE)
				CHECK(rep->reasons[k] == reasons[k], "report: reasons[%u] %u, model %u", k,
				      rep->reasons[k], reasons[k]);
		}
		CHECK(rep->reasons[PVPATCH_E_OVERRIDE] == ovr_rej, "report: %u override rejects, model %u",
		      rep->reasons[PVPATCH_E_OVERRIDE], ovr_rej);
		CHECK(choice == fallbacks, "report: %u choice rejects, %u fallbacks", choice, fallbacks);
		CHECK(sum == rep->n_rejects, "report: reasons sum to %u, %u rejects", sum, rep->n_rejects);
	}
	for (unsigned int k = 0; k < rep->n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &rep->rejects[k];
		const struct expect_rej *e = &exp[k];

		CHECK(j->site == e->site && j->op == (uint16_t)e->op && j->wanted == (uint8_t)e->wanted &&
		      j->got == e->got, "reject %u: site %#lx op %u wanted %u got %u; model site %#lx "
		      "op %u wanted %u got %u", k, (unsigned long)j->site, j->op, j->wanted, j->got,
		      (unsigned long)e->site, e->op, e->wanted, e->got);
		if (e->reason)
			CHECK(j->reason == e->reason, "reject %u: reason %u, model %u", k, j->reason,
			      e->reason);
		else
			CHECK(is_choice_reason(j->reason), "reject %u: reason %u", k, j->reason);
	}

	/* The bytes of every valid site. */
	R.n_pois = R.model_reloc = 0;
	for (unsigned int i = 0; i < R.n; i++) {
		if (accepted(i))
			check_site_bytes(i, pol, used);
		else
			R.pois[i] = false;
	}

	/* Poison: every widened site poisoned or counted, with a reason. */
	{
		unsigned int expected = 0, sum = 0;

		for (unsigned int i = 0; i < R.n; i++)
			expected += poison_expected(i, pol);
		CHECK(rep->poisoned == R.n_pois, "report: %u sites poisoned, %u run from a poison stub",
		      rep->poisoned, R.n_pois);
		CHECK(rep->poisoned + rep->unpoisoned == expected, "report: %u poisoned + %u "
		      "unpoisoned, %u widened sites under poison", rep->poisoned, rep->unpoisoned,
		      expected);
		CHECK(rep->poison_reasons[PVPATCH_OK] == 0, "report: poison_reasons[OK] %u",
		      rep->poison_reasons[PVPATCH_OK]);
		for (unsigned int k = 0; k < PVPATCH_NR_REASONS; k++)
			sum += rep->poison_reasons[k];
		CHECK(sum == rep->unpoisoned, "report: poison_reasons sum to %u, %u unpoisoned", sum,
		      rep->unpoisoned);
		CHECK(rep->poison_reasons[PVPATCH_E_RELOC] >= R.model_reloc, "report: %u sites "
		      "unpoisoned for relocation, the model knows %u",
		      rep->poison_reasons[PVPATCH_E_RELOC], R.model_reloc);
	}
	R.last_pol = pol;
	R.checked = true;
	if (debug)
		CHECK(lines == 2 * (R.n - invalid), "debug: %u lines for %u sites", lines, R.n - invalid);
	else
		CHECK(lines == 0, "%u lines printed without debug", lines);
}

/* FUZZ_PATCH_VERBOSE=1: print each call's report (to look at what a seed does). */
static bool verbose;

static void verbose_print(const char *s)
{
	fprintf(stderr, "%s\n", s);
}

static void show(const char *what, const struct pvpatch_report *rep)
{
	struct pvpatch q = R.pv;

	if (!verbose)
		return;
	fprintf(stderr, "--- %s: modes native %u nop %u inline %u call %u\n", what,
		rep->mode[0], rep->mode[1], rep->mode[2], rep->mode[3]);
	for (unsigned int k = 1; k < PVPATCH_NR_REASONS; k++)
		if (rep->reasons[k])
			fprintf(stderr, "    %u x %s\n", rep->reasons[k], pvpatch_reason_str(k));
	q.print = verbose_print;
	pvpatch_report_print(&q, rep);
}

/* One pvpatch_apply() or pvpatch_revert(), checked.  Returns its result. */
NOCOV static int call(const struct pvpatch_policy *pol, bool revert, struct pvpatch_report *rep,
		bool null_report)
{
	int ret;

	memcpy(&Sprev, &A, sizeof(A));
	R.thunk_bytes_before = (unsigned int)R.pv.thunks_used;
	R.site_pokes = R.thunk_pokes = 0;
	lines = 0;
	memset(rep, 0x5a, sizeof(*rep));	/* the patcher must clear it */
	poison();
	ret = revert ? pvpatch_revert(&R.pv, null_report ? NULL : rep)
		     : pvpatch_apply(&R.pv, pol, null_report ? NULL : rep);
	unpoison();
	if (R.expect_fail) {
		CHECK(ret == -1, "unusable descriptor accepted");
		CHECK(!memcmp(&A, &S0, sizeof(A)), "unusable descriptor, yet something changed");
		CHECK(R.site_pokes == 0 && R.thunk_pokes == 0 && lines == 0, "pokes or output");
		return ret;
	}
	CHECK(ret == 0, "pvpatch_%s returned %d", revert ? "revert" : "apply", ret);
	if (null_report) {
		/* No report to check: rebuild it from a second, idempotent call. */
		struct pvpatch_report again;

		CHECK(R.pv.ready, "not ready after a successful call");
		memcpy(&Sprev, &A, sizeof(A));
		R.thunk_bytes_before = (unsigned int)R.pv.thunks_used;
		R.site_pokes = R.thunk_pokes = 0;
		lines = 0;
		poison();
		ret = revert ? pvpatch_revert(&R.pv, &again) : pvpatch_apply(&R.pv, pol, &again);
		unpoison();
		CHECK(ret == 0, "second call returned %d", ret);
		CHECK(again.written == 0 && R.site_pokes == 0 && R.thunk_pokes == 0,
		      "same policy twice wrote %u sites", again.written);
		memcpy(rep, &again, sizeof(again));
	}
	return ret;
}

/* area: the thunk area's fill too (not when poisoning changed between them). */
NOCOV static void same_report(const struct pvpatch_report *a, const struct pvpatch_report *b,
			      bool area)
{
	CHECK(a->sites == b->sites && a->invalid == b->invalid && a->fallbacks == b->fallbacks &&
	      (!area || a->thunk_bytes == b->thunk_bytes) && a->n_rejects == b->n_rejects,
	      "the same policy twice gave another report");
	CHECK(!memcmp(a->mode, b->mode, sizeof(a->mode)) &&
	      !memcmp(a->op_mode, b->op_mode, sizeof(a->op_mode)) &&
	      !memcmp(a->reasons, b->reasons, sizeof(a->reasons)),
	      "the same policy twice gave other modes or reasons");
	for (unsigned int k = 0; k < a->n_rejects && k < PVPATCH_MAX_REJECTS; k++)
		CHECK(a->rejects[k].site == b->rejects[k].site && a->rejects[k].op == b->rejects[k].op &&
		      a->rejects[k].wanted == b->rejects[k].wanted &&
		      a->rejects[k].got == b->rejects[k].got &&
		      a->rejects[k].reason == b->rejects[k].reason,
		      "the same policy twice gave another reject %u", k);
}

static void cleanup(void)
{
	free(R.state);
	free(R.saved);
	free(R.tindex);
	for (unsigned int k = 0; k < MAX_TMPL; k++)
		free(R.tmpl[k]);
	for (int k = 0; k < 2; k++) {
		free(R.pin[k].pol);
		free(R.pin[k].ovr);
	}
	memset(&R, 0, sizeof(R));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_PATCH_VERBOSE") != NULL;
	natives_check("fuzz-patch");
	return 0;
}

/* The text before the sites are written into it. */
NOCOV static void background(uint8_t bg, uint8_t seed)
{
	static const uint8_t fill[3] = { 0xcc, 0x90, 0x00 };

	if (bg % 4 < 3) {
		memset(A.text, fill[bg % 4], TEXT_SIZE);
		return;
	}
	for (unsigned int b = 0; b < TEXT_SIZE; b++)
		A.text[b] = (uint8_t)(((b + 1) * 2654435761u ^ seed * 40503u) >> 13);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd in = { data, data + size };
	uint8_t cfg, cfg2, m0, m1, th, sv, bg, bgseed;
	static const size_t thunk_sizes[8] = { 0, 32, 48, 64, 128, 256, 1024, THUNK_MAX };
	struct pvpatch_report rep1, rep2, rep3;
	bool debug, twice, other, null_report, flip;

	init_backends();
	memset(&R, 0, sizeof(R));
	cfg = u8(&in);
	R.n = u8(&in) % (MAX_RECS + 1);
	m0 = u8(&in);
	m1 = u8(&in);
	th = u8(&in);
	sv = u8(&in);
	bg = u8(&in);
	bgseed = u8(&in);
	cfg2 = u8(&in);
	debug = cfg & 1;
	twice = cfg & 8;
	other = cfg & 16;
	null_report = cfg2 & 1;

	/* The arena: guards, background text, thunk area. */
	memset(&A, 0xa5, sizeof(A));
	memset(A.rec, 0, sizeof(A.rec));
	background(bg, bgseed);	/* the thunk area stays 0xa5: the patcher writes its int3 */

	/* Templates first: policies point at them. */
	R.n_tmpl = 1 + u8(&in) % MAX_TMPL;
	for (unsigned int k = 0; k < R.n_tmpl; k++)
		R.tmpl[k] = build_template(&in, k);
	for (unsigned int i = 0; i < R.n; i++)
		build_record(&in, i);
	build_policy(&in, &R.pin[0]);
	if (twice && other)
		build_policy(&in, &R.pin[1]);

	R.state = malloc((R.n ? R.n : 1) * sizeof(*R.state));
	memset(R.state, 0x77, (R.n ? R.n : 1) * sizeof(*R.state));
	if (sv < 0xc0) {
		R.saved_size = (size_t)R.n * PVPATCH_MAX_SITE;
	} else {
		R.saved_size = sv - 0xc0u;	/* 0-63: maybe too small */
	}
	R.saved = R.saved_size ? malloc(R.saved_size) : NULL;
	if (sv == 0xff) {		/* no buffer but a size: unusable */
		free(R.saved);
		R.saved = NULL;
		R.saved_size = 64;
		R.expect_fail = true;
	}
	R.pv = (struct pvpatch){
		.sites = A.rec, .sites_end = A.rec + R.n,
		.text_start = (uintptr_t)A.text + m0 % 33,
		.text_end = (uintptr_t)A.text + TEXT_SIZE - m1 % 33,
		.state = R.state, .saved = R.saved, .saved_size = R.saved_size,
		.thunks = thunk_sizes[th & 7] ? A.thunks : NULL, .thunks_size = thunk_sizes[th & 7],
		.poke = fz_poke, .poke_arg = &R.pv,
		.lookup = cfg & 4 ? fz_lookup : NULL,
		.print = cfg & 2 ? fz_print : NULL,
		.flags = (debug ? PVPATCH_F_DEBUG : 0) | (th & 8 ? PVPATCH_F_POISON : 0),
		.stack_align = cfg2 & 16 ? PVPATCH_STACK_ALIGN_16 : PVPATCH_STACK_ALIGN_8,
	};
	{
		static const size_t tiny[] = { 1, 2, 3, 5, 9 };
		size_t slots = PVPATCH_THUNK_SLOTS(R.n);

		R.index_sel = cfg2 >> 5;
		if (R.index_sel >= 3)
			slots = tiny[R.index_sel - 3];
		/* exactly the slots, garbage in them: ASan sees a read past the
		 * end, and the patcher must clear them */
		R.tindex = R.index_sel == 1 || R.index_sel == 2 ? NULL
							      : malloc(slots * sizeof(*R.tindex));
		if (R.tindex)
			memset(R.tindex, 0x77, slots * sizeof(*R.tindex));
		R.pv.thunk_index = R.tindex;
		R.pv.thunk_slots = R.index_sel == 1 ? 0 : slots;
	}
	if (th == 0xff) {		/* misaligned thunk area: unusable */
		R.pv.thunks = A.thunks + 8;
		R.pv.thunks_size = 64;
		R.expect_fail = true;
	} else if (th == 0xfe) {	/* a size but no area */
		R.pv.thunks = NULL;
		R.pv.thunks_size = THUNK_MAX;
	}
	if (cfg2 & 2) {			/* a plain copy, unchecked */
		R.pv.poke = fz_plain_poke;
		R.pv.poke_arg = NULL;
	}
	if (cfg2 & 8)			/* beyond rel32: thunked sites fall back */
		R.pv.return_thunk = (const void *)((uintptr_t)A.thunks + (3ul << 31));
	else if (cfg2 & 4)
		R.pv.return_thunk = (const void *)be_one;
	debug = debug && R.pv.print;
	memcpy(&S0, &A, sizeof(A));

	/* First apply. */
	if (call(R.pin[0].pol, false, &rep1, null_report) < 0) {
		CHECK(pvpatch_revert(&R.pv, &rep3) == -1, "revert of an unusable descriptor");
		CHECK(!memcmp(&A, &S0, sizeof(A)), "unusable descriptor, yet something changed");
		cleanup();
		return 0;
	}
	if (verbose)
		for (unsigned int i = 0; i < R.n; i++)
			fprintf(stderr, "record %2u: text%+5ld op %3u len %3u/%3u flags %#x clob %#06x "
				"regs %#07x: %s\n", i, (long)(site_addr(&A.rec[i]) - (uintptr_t)A.text),
				A.rec[i].op, A.rec[i].native_len, A.rec[i].site_len, A.rec[i].flags,
				A.rec[i].clobbers, A.rec[i].regs, pvpatch_reason_str(R.state[i].reason));
	check_acceptance();
	check_call(R.pin[0].pol, &rep1, debug);
	show("apply", &rep1);
	if (cfg & 32)
		pvpatch_report_print(&R.pv, &rep1);

	/* From here on poisoned the other way, maybe. */
	flip = th & 16;
	if (flip)
		R.pv.flags ^= PVPATCH_F_POISON;

	/* Maybe a second apply: the same policy (writes nothing, or with the
	 * poisoning flipped exactly the sites that it changed) or another. */
	if (twice) {
		const struct pvpatch_policy *pol = other ? R.pin[1].pol : R.pin[0].pol;
		bool before[MAX_RECS];
		unsigned int flips = 0;

		memcpy(before, R.pois, sizeof(before));
		call(pol, false, &rep2, false);
		check_call(pol, &rep2, debug);
		show("apply again", &rep2);
		for (unsigned int i = 0; i < R.n; i++)
			flips += before[i] != R.pois[i];
		if (!other && !flip) {
			CHECK(rep2.written == 0 && rep2.bytes_changed == 0 && R.site_pokes == 0 &&
			      R.thunk_pokes == 0, "the same policy twice wrote %u sites", rep2.written);
			same_report(&rep1, &rep2, true);
		} else if (!other) {
			/* Poisoning changes no mode and no reject, and writes the
			 * sites it changes, no other. */
			CHECK(rep2.written == flips, "the same policy with poison flipped wrote %u sites, "
			      "%u changed poisoning", rep2.written, flips);
			same_report(&rep1, &rep2, false);
		}
		if (cfg & 32)
			pvpatch_report_print(&R.pv, &rep2);
	}

	/* Revert: every valid site native again (check_call checks the bytes). */
	if (!(cfg & 64)) {
		call(NULL, true, &rep3, false);
		check_call(NULL, &rep3, debug);
		show("revert", &rep3);
		CHECK(rep3.fallbacks == 0 && rep3.mode[PVPATCH_MODE_NATIVE] == R.n - rep3.invalid,
		      "revert left %u sites not native", R.n - rep3.invalid - rep3.mode[0]);
		if (cfg & 128) {
			call(NULL, true, &rep3, false);
			check_call(NULL, &rep3, debug);
			CHECK(rep3.written == 0 && R.site_pokes == 0, "revert twice wrote %u sites",
			      rep3.written);
		}
		if (cfg & 32)
			pvpatch_report_print(&R.pv, &rep3);
	}
	cleanup();
	return 0;
}
