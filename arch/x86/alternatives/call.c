// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * CALL mode: the site calls a backend, a C function with the signature of
 * the op's pv_<op>() (inputs as arguments, one output returned, several
 * returned through pointers).
 *
 * The site's registers are whatever the compiler chose, and a call changes
 * every caller-saved register -- unless the patcher knows better what the
 * backend writes (its "writes" set, besides the result):
 *   - nothing, when it is register-preserving (PVPATCH_BACKEND: GCC's
 *     no_caller_saved_registers; policy .preserves = 1);
 *   - the caller-saved registers the liveness pass found it may write in
 *     the linked kernel, for a plain C backend the pass could analyse
 *     (policy .writes, from its backend record): be_save_fl, say, writes
 *     only rax;
 *   - else every caller-saved register.
 * What a call from the site may change is then that set plus what the call
 * sequence itself writes (argument registers it fills, ...).  Two forms:
 *
 *  direct:  when the site may lose all of that and has room, the argument
 *           moves, the call and the result move are written in the site
 *           itself:
 *               mov %r9, %rdi; call backend; mov %rax, %rbx
 *           and, room permitting, with the registers of that set the site
 *           keeps saved in the site too:
 *               push %rdi; mov %r9, %rdi; call backend; pop %rdi
 *  thunk:   otherwise the site is `call thunk`, and the thunk, generated
 *           once per (backend, registers, free mask, writes), saves the
 *           live registers of that set, aligns the stack, moves the arguments,
 *           passes pointers to stack slots for extra outputs, calls the
 *           backend, loads the results and restores everything (under
 *           stack_align 16):
 *               push %rcx ...; push %rax; mov %rsp,%rax; and $-16,%rsp;
 *               sub $8,%rsp; push %rax; mov (%rax),%rax
 *               mov %r9,%rdi; call backend; mov %rax,%rbx
 *               mov 0(%rsp),%rsp; lea 8(%rsp),%rsp; ... pop %rcx; ret
 *           Under stack_align 8 it does not align, and around a backend
 *           that writes little it is lean:
 *               push %rdi; mov %r9,%rdi; call backend; pop %rdi; ret
 *               push %rsi ...; sub $32,%rsp; mov %eax,%edi ...;
 *               lea 0(%rsp),%rdx ...; call backend; mov 0(%rsp),%eax ...;
 *               lea 32(%rsp),%rsp; ... pop %rsi; ret   (extra outputs)
 *           Every `ret` above is written `ret; int3` (no straight-line
 *           speculation past it), or `jmp return_thunk` when the kernel
 *           sets pv->return_thunk (return-thunk mitigations).  Thunks are
 *           the only code the patcher writes that returns.
 *
 * The thunk area also holds INLINE *stubs*: a template that does not fit
 * its site (sites are sized for the native code and the call, never for a
 * long template) runs out of line.  The site becomes `jmp stub` (int3 after
 * it), and the stub, one per site, is the template fitted to that site's
 * registers followed by a jump back to the site's end:
 *     site:  jmp stub; int3 ...
 *     stub:  push %rbx; mov $0x564d5868,%eax; ...; pop %rbx; jmp site+len
 * No return address is pushed, so the template sees the stack as it would
 * in the site.  Stubs live in the thunk index like thunks (key: the site's
 * address, its registers and mask), so a re-patch plans, stages, scans and
 * reclaims them exactly as thunks.
 */
#include "internal.h"
#include "insn.h"
#include "util.h"

/*
 * The thunk area (pv->thunks, executable) holds only code: each thunk
 * starts at a multiple of THUNK_ALIGN and the bytes up to the next one are
 * int3.  What the patcher knows of each thunk (the key it was generated
 * for, where its code is) is in pv->thunk_index, in the kernel's data:
 * open addressing with linear probing over pv->thunk_slots slots, any
 * number of them (the linker fragment sizes it from the record count, see
 * PVPATCH_THUNK_SLOTS()), so a key's home slot is its hash scaled to the
 * slot count (multiply and shift: no division, no power of two) and slot
 * arithmetic is modulo the slot count.
 */
#define THUNK_ALIGN	PVPATCH_THUNK_ENTRY_MIN	/* the linker fragment sizes the index by it */
#define THUNK_MAX	128	/* code of one thunk, padding included */
#define THUNK_UNITS	(THUNK_MAX / THUNK_ALIGN)
/* pvpatch_thunk_slot.flags, for pvpatch_repatch() */
#define THUNK_STAGED	0x01	/* planned: its code is in pv->stage, not written yet */
#define THUNK_CALLED	0x02	/* a site of the plan calls it */
/* pvpatch_thunk_slot.kind of a thunk calling a backend, */
#define THUNK_CALL	0
/* ... of an INLINE stub (.backend: its site) */
#define THUNK_STUB	2
/* ... of a poison stub (PVPATCH_F_POISON; .backend: its site) */
#define THUNK_POISON	3
_Static_assert(THUNK_MAX % THUNK_ALIGN == 0 && THUNK_MAX <= 255, "thunk size");
_Static_assert(sizeof(((struct pvpatch *)0)->place_from) == THUNK_UNITS * sizeof(size_t),
	       "struct pvpatch.place_from: one per thunk size in THUNK_ALIGN units");

/* The index's slot count in use (thunk_index_init()). */
static uint32_t index_slots(const struct pvpatch *pv)
{
	return pv->index_slots;
}

/*
 * At the first pvpatch_apply(): the slots in use, cleared.  Every entry
 * owns THUNK_ALIGN bytes of the area at least (staged ones too: they have
 * their offsets), so no more than thunks_size / THUNK_ALIGN entries ever
 * exist; slots past that count plus a quarter (load 0.8 at most, as the
 * rule's) would never be needed, and a kernel with many records and a
 * small area does not clear them.  A NULL index or area: none.
 */
void thunk_index_init(struct pvpatch *pv)
{
	size_t cap = pv->thunks ? PVPATCH_THUNK_SLOTS_AREA(pv->thunks_size) : 0, n;

	n = pv->thunk_index && pv->thunks ? pv->thunk_slots : 0;
	if (n > cap)
		n = cap;
	pv->index_slots = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;
	for (uint32_t k = 0; k < pv->index_slots; k++)
		pv->thunk_index[k].code = 0;
	for (unsigned int u = 0; u < THUNK_UNITS; u++)
		pv->place_from[u] = 0;
}

/* The slot after k, cyclically. */
static uint32_t slot_next(uint32_t k, uint32_t n)
{
	return k + 1 == n ? 0 : k + 1;
}

/* How far slot b lies after slot a, cyclically: 0 to n - 1. */
static uint32_t slot_dist(uint32_t a, uint32_t b, uint32_t n)
{
	return b >= a ? b - a : n - (a - b);
}

static uint32_t site_regs(const struct site *s)
{
	uint32_t r = (uint32_t)(s->ret & 0xf);

	for (int i = 0; i < s->nargs; i++)
		r |= (uint32_t)(s->arg[i] & 0xf) << (4 * (i + 1));
	return r;
}

/*
 * Move n registers at once: dst[i] = src[i].  Moves whose destination no
 * pending move still reads go first; what remains are cycles, broken with
 * tmp (never a destination, so never a source left in a cycle).
 */
static void parallel_move(struct enc *e, int n, const int8_t *src, const int8_t *dst, int tmp)
{
	int8_t from[8];
	bool done[8] = { false };
	int left = n;

	for (int i = 0; i < n; i++) {
		from[i] = src[i];
		if (src[i] == dst[i]) {
			done[i] = true;
			left--;
		}
	}
	while (left) {
		bool progress = false;

		for (int i = 0; i < n; i++) {
			bool blocked = false;

			if (done[i])
				continue;
			for (int j = 0; j < n; j++)
				if (!done[j] && j != i && from[j] == dst[i])
					blocked = true;
			if (blocked)
				continue;
			enc_mov_rr(e, dst[i], from[i], true);
			done[i] = true;
			left--;
			progress = true;
		}
		if (progress)
			continue;
		/* Only cycles left: park one source in tmp. */
		for (int i = 0; i < n; i++) {
			if (done[i])
				continue;
			enc_mov_rr(e, tmp, from[i], true);
			from[i] = (int8_t)tmp;
			break;
		}
	}
}

static void move_result(struct enc *e, const struct site *s)
{
	if (s->ret >= 0)
		enc_mov_rr(e, s->ret, REG_RAX, s->info->out_size[0] == 8);
}

/*
 * What a call of the backend from this site may change: what the backend
 * writes (writes: every caller-saved register for a plain backend nothing
 * is known of), the argument registers the moves fill, the registers
 * carrying pointers to the slots of extra outputs, r11 (the moves' cycle
 * breaker) and rax (the result).
 */
static uint16_t call_clobbers(const struct site *s, uint16_t writes)
{
	int nouts = s->info->nouts;
	uint16_t m = writes;

	for (int i = 0; i < s->nargs; i++)
		if (s->arg[i] != sysv_arg_regs[i])
			m |= (uint16_t)(1u << sysv_arg_regs[i]);
	for (int i = 0; nouts > 1 && i < nouts; i++)
		m |= (uint16_t)(1u << sysv_arg_regs[s->nargs + i]);
	if (m && s->nargs > 1)
		m |= 1u << REG_R11;	/* may break a cycle of moves */
	if (s->info->nouts)
		m |= 1u << REG_RAX;
	return m;
}

/*
 * The call written in the site itself.  The site may also save and
 * restore, inline, the few registers it keeps that the call overwrites
 * (push %rdi; mov %r9,%rdi; call backend; pop %rdi), when they fit: one
 * call instead of two through a thunk.  Only where backends
 * assume no more than 8-byte stack alignment (pv->stack_align 8): a site
 * cannot know its stack's alignment, so under 16 every call goes through a
 * thunk, which realigns.
 */
static int emit_direct(const struct pvpatch *pv, const struct site *s, const void *backend,
		       uint16_t writes, uint8_t *out)
{
	uint16_t save = call_clobbers(s, writes) & ~s->free;
	struct enc e;

	/* A push and a pop per saved register (a byte each at least) and the
	 * call: when even that does not fit, do not try (most sites around a
	 * plain backend nothing is known of: the common case at boot). */
	if (pv->stack_align != PVPATCH_STACK_ALIGN_8 || s->info->nouts > 1 ||
	    5u + 2u * pv_bits(save) > s->len)
		return PVPATCH_E_TOO_LONG;
	enc_init(&e, out, s->len, (uintptr_t)s->addr);
	for (int r = 0; r < 16; r++)
		if (save >> r & 1)
			enc_push(&e, r);
	parallel_move(&e, s->nargs, s->arg, sysv_arg_regs, REG_R11);
	enc_call(&e, (uintptr_t)backend);
	move_result(&e, s);
	for (int r = 15; r >= 0; r--)
		if (save >> r & 1)
			enc_pop(&e, r);
	if (e.range)
		return PVPATCH_E_CALL_RANGE;
	if (e.overflow)
		return PVPATCH_E_TOO_LONG;
	enc_nops(&e, s->len - e.len);
	return PVPATCH_OK;
}

/*
 * Write the thunk's code for site s into e (at its final address); it
 * returns the kernel's way (pv->return_thunk).  It saves the caller-saved
 * registers the call overwrites and the site keeps (call_clobbers()), and
 * realigns the stack to 16 bytes exactly when pv->stack_align says
 * backends assume it (emit_direct() follows the same setting).
 */
static void thunk_code(const struct pvpatch *pv, struct enc *e, const struct site *s,
		       const void *backend, uint16_t writes)
{
	const struct pvpatch_op_info *info = s->info;
	int nouts = info->nouts, slots = nouts > 1 ? (nouts * 8 + 15) & ~15 : 0;
	bool realign = pv->stack_align != PVPATCH_STACK_ALIGN_8;
	uint16_t save = call_clobbers(s, writes) & ~s->free;

	for (int r = 0; r < 16; r++)
		if (save >> r & 1)
			enc_push(e, r);
	if (!realign && slots) {
		enc_rsp_add(e, (int8_t)-slots);
	} else if (realign) {
		/*
		 * Align the stack for the backend without a frame register (any
		 * register, %rbp too, may hold an operand): keep rax's value on
		 * the stack, align, store the address of that slot, reload rax.
		 */
		enc_push(e, REG_RAX);
		enc_mov_rr(e, REG_RAX, REG_RSP, true);
		enc_rsp_align16(e);
		enc_rsp_add(e, -8);
		enc_push(e, REG_RAX);
		enc_bytes(e, (const uint8_t[]){ 0x48, 0x8b, 0x00 }, 3);	/* mov (%rax), %rax */
		if (slots)
			enc_rsp_add(e, (int8_t)-slots);
	}
	parallel_move(e, s->nargs, s->arg, sysv_arg_regs, REG_R11);
	if (nouts > 1)
		for (int i = 0; i < nouts; i++)
			enc_lea_rsp(e, sysv_arg_regs[s->nargs + i], (uint8_t)(8 * i));
	enc_call(e, (uintptr_t)backend);
	if (nouts == 1)
		move_result(e, s);
	for (int i = 0; nouts > 1 && i < nouts; i++) {
		int reg = i == 0 ? s->ret : info->out_pin[i];

		enc_load_rsp(e, reg, (uint8_t)(8 * i), info->out_size[i] == 8);
	}
	if (!realign && slots) {
		enc_lea_rsp(e, REG_RSP, (uint8_t)slots);		/* flags unchanged */
	} else if (realign) {
		enc_load_rsp(e, REG_RSP, (uint8_t)slots, true);	/* back to rax's slot */
		enc_lea_rsp(e, REG_RSP, 8);				/* and past it */
	}
	for (int r = 15; r >= 0; r--)
		if (save >> r & 1)
			enc_pop(e, r);
	enc_return(e, (uintptr_t)pv->return_thunk);
}

/* The home slot of key k among n: the high 32 bits of a multiplicative
 * hash, scaled to [0, n) by a multiply (Lemire's fast range reduction). */
static uint32_t thunk_home(const struct pvpatch_thunk_slot *k, uint32_t n)
{
	uint64_t h = (uint64_t)k->backend ^ ((uint64_t)k->regs << 32) ^ ((uint64_t)k->free << 16) ^
		     k->op ^ ((uint64_t)k->writes << 40) ^ ((uint64_t)k->kind << 62);

	h *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(((h >> 32) * n) >> 32);
}

static bool thunk_same(const struct pvpatch_thunk_slot *a, const struct pvpatch_thunk_slot *b)
{
	return a->free == b->free && a->op == b->op && a->regs == b->regs &&
	       a->backend == b->backend && a->kind == b->kind && a->writes == b->writes;
}

/* Bytes a thunk occupies: its code and the int3 up to the next THUNK_ALIGN
 * (not past the area). */
static size_t thunk_extent(const struct pvpatch *pv, const struct pvpatch_thunk_slot *t)
{
	size_t at = t->code - 1, padded = ((size_t)t->len + THUNK_ALIGN - 1) & ~(size_t)(THUNK_ALIGN - 1);

	return padded < pv->thunks_size - at ? padded : pv->thunks_size - at;
}

/*
 * Where a new thunk of len bytes goes once pvpatch_repatch() has given
 * space back: first fit, the lowest of offset 0 and the ends of the
 * thunks the index holds (staged ones included) where it fits before the
 * next one, else after the last one.  Returns 0 and *at, or -1 when it
 * does not fit.  (Until space is given back, get_thunk() appends: no
 * search at boot.)
 *
 * The sweep: from a start below which nothing fits, any entry overlapping
 * [start, start + need) pushes start to its end (a place that fits lies
 * past every entry overlapping a lower start, and every entry's end is a
 * candidate), until a pass over the index finds none.  While nothing
 * leaves the index, holes only fill, so where the last search for this
 * size (or a smaller one) stopped is such a start: pv->place_from[], reset
 * by thunk_index_remove().  A re-patch placing many stubs thus walks the
 * area once per size, not once per stub.
 */
static int thunk_place(struct pvpatch *pv, size_t len, size_t *at)
{
	size_t need = (len + THUNK_ALIGN - 1) & ~(size_t)(THUNK_ALIGN - 1), start = 0;
	size_t units = need / THUNK_ALIGN;
	uint32_t n = index_slots(pv);
	bool moved = true;

	if (!units || units > THUNK_UNITS)
		return -1;
	for (size_t u = 0; u < units; u++)
		if (pv->place_from[u] > start)
			start = pv->place_from[u];
	while (moved && start < pv->thunks_used) {
		moved = false;
		for (uint32_t k = 0; k < n && start < pv->thunks_used; k++) {
			const struct pvpatch_thunk_slot *t = &pv->thunk_index[k];
			size_t ts = t->code - 1, te;

			if (!t->code || ts >= start + need)
				continue;
			te = ts + thunk_extent(pv, t);
			if (te > start) {
				start = te;
				moved = true;
			}
		}
	}
	pv->place_from[units - 1] = start;
	if (start < pv->thunks_used && need <= pv->thunks_size - start) {
		*at = start;
		return 0;
	}
	if (pv->thunks_used >= pv->thunks_size || len > pv->thunks_size - pv->thunks_used)
		return -1;
	*at = pv->thunks_used;
	return 0;
}

/* What goes into the thunk area for one site: a thunk calling backend, the
 * INLINE stub of the site (pol), or its poison stub (poison: job holds the
 * site's bytes as built for mode at the site's address). */
struct area_req {
	const struct site *s;
	const void *backend;
	uint16_t writes;
	const struct pvpatch_op_policy *pol;
	bool poison;
	unsigned int mode;
	const uint8_t *job;
};

/* The template fitted out of line; PVPATCH_OK or a reason. */
static int stub_template(const struct site *s, const struct pvpatch_op_policy *pol, struct enc *e)
{
	size_t start = e->len;
	int err = template_fit(pol->tmpl, pol->params, s, e);

	if (err)
		return err;
	/* inline_max bounds what a ROM may give the op, in or out of line. */
	if (e->len - start > s->info->inline_max)
		return PVPATCH_E_TOO_LONG;
	return PVPATCH_OK;
}

/*
 * Copy the code in[0..n), built to run at the site's address, to run at
 * e->addr + e->len: instructions decoded with insn.c; NOPs left out; a
 * relative call or conditional jump out of the site re-targeted (rel32);
 * a RIP-relative operand's displacement adjusted; the copy ends at int3
 * (never executed) or at a jump to the site's end.  Anything else with a
 * relative operand (a branch into the site, a jmp out of it, loop, xbegin)
 * is refused: PVPATCH_E_RELOC.
 */
static int relocate(struct enc *e, const struct site *s, const uint8_t *in, size_t n)
{
	uintptr_t site = (uintptr_t)s->addr, end = site + s->len;

	for (size_t off = 0; off < n;) {
		struct insn d;
		int len = insn_decode(&d, in + off, n - off);
		uintptr_t at = site + off, to;
		uint8_t b[INSN_MAX_LEN];

		if (len <= 0)
			return PVPATCH_E_DECODE;
		if (in[off] == 0xcc)
			return PVPATCH_OK;
		if (insn_is_nop(&d)) {
			off += (size_t)len;
			continue;
		}
		for (int i = 0; i < len; i++)
			b[i] = in[off + (size_t)i];
		if (insn_is_rel_branch(&d)) {
			to = at + (uintptr_t)len + (uintptr_t)(intptr_t)d.rel;
			if (d.branch == INSN_BR_JMP && to == end)
				return PVPATCH_OK;
			if ((to >= site && to <= end) ||
			    (d.branch != INSN_BR_CALL && d.branch != INSN_BR_JCC))
				return PVPATCH_E_RELOC;
			if (d.branch == INSN_BR_CALL) {
				enc_call(e, to);
			} else {
				uintptr_t next = e->addr + e->len + 6;
				int64_t rel = (int64_t)(to - next);
				int32_t r32 = (int32_t)rel;
				/* the condition is the low nibble of 7x or 0F 8x */
				uint8_t cc = (uint8_t)(d.opcode & 0xf);
				uint8_t jcc[6] = { 0x0f, (uint8_t)(0x80 | cc) };

				if (rel != r32)
					e->range = true;
				__builtin_memcpy(jcc + 2, &r32, 4);
				enc_bytes(e, jcc, 6);
			}
		} else if (insn_is_rip_rel(&d)) {
			uintptr_t target = at + (uintptr_t)len + (uintptr_t)d.disp;
			int64_t disp = (int64_t)(target - (e->addr + e->len + (uintptr_t)len));
			int32_t d32 = (int32_t)disp;

			if (disp != d32)
				e->range = true;
			__builtin_memcpy(b + d.disp_off, &d32, 4);
			enc_bytes(e, b, (size_t)len);
		} else {
			enc_bytes(e, b, (size_t)len);
		}
		off += (size_t)len;
	}
	return PVPATCH_OK;
}

/* The registers a poison stub overwrites: the record's mask but the
 * outputs, rsp and rbp. */
static uint16_t poison_mask(const struct site *s)
{
	uint16_t m = s->free & (uint16_t)~(1u << REG_RSP | 1u << REG_RBP);

	if (s->ret >= 0)
		m &= (uint16_t)~(1u << s->ret);
	for (int i = 1; i < s->info->nouts; i++)
		if (s->info->out_pin[i] >= 0)
			m &= (uint16_t)~(1u << s->info->out_pin[i]);
	return m;
}

/*
 * 0xdead0000000000NN into each register NN of mask, flags untouched:
 * movabs into the first (one whose number is not 4 mod 8, so that no SIB
 * byte is needed), then lea (NN - first)(%first) into each other one.
 */
static void poison_stores(struct enc *e, uint16_t mask)
{
	int first = -1;

	for (int r = 0; r < 16 && first < 0; r++)
		if ((mask >> r & 1) && (r & 7) != 4)
			first = r;
	for (int r = 0; r < 16; r++) {
		uint64_t v = PVPATCH_POISON_VALUE | (uint64_t)r;

		if (!(mask >> r & 1))
			continue;
		if (first < 0 || r == first) {
			uint8_t mov[10] = { (uint8_t)(0x48 | (r >> 3)), (uint8_t)(0xb8 | (r & 7)) };

			__builtin_memcpy(mov + 2, &v, 8);
			enc_bytes(e, mov, 10);
		}
	}
	for (int r = 0; first >= 0 && r < 16; r++) {
		uint8_t lea[4] = { (uint8_t)(0x48 | (r >> 3) << 2 | (first >> 3)), 0x8d,
				   (uint8_t)(0x40 | (r & 7) << 3 | (first & 7)),
				   (uint8_t)(int8_t)(r - first) };

		if ((mask >> r & 1) && r != first)
			enc_bytes(e, lea, 4);
	}
}

/* A poison stub: the site's job in its mode at the stub's address, the
 * poison stores, the jump back to the site's end. */
static int poison_code(const struct area_req *req, struct enc *e)
{
	const struct site *s = req->s;
	int err = PVPATCH_OK;

	switch (req->mode) {
	case PVPATCH_MODE_NATIVE:
		err = relocate(e, s, s->saved, s->native_len);
		break;
	case PVPATCH_MODE_NOP:
		break;
	case PVPATCH_MODE_INLINE:
		err = stub_template(s, req->pol, e);
		break;
	case PVPATCH_MODE_CALL:
		err = relocate(e, s, req->job, s->len);
		break;
	default:
		err = PVPATCH_E_MODE;
	}
	if (err)
		return err;
	poison_stores(e, poison_mask(s));
	enc_jmp(e, (uintptr_t)s->addr + s->len);
	return PVPATCH_OK;
}

/* The code of req at its final address (e->addr); PVPATCH_OK or a reason. */
static int area_code(const struct pvpatch *pv, const struct area_req *req, struct enc *e)
{
	const struct site *s = req->s;
	int err;

	if (req->poison)
		return poison_code(req, e);
	if (!req->pol) {
		thunk_code(pv, e, s, req->backend, req->writes);
		return PVPATCH_OK;
	}
	err = stub_template(s, req->pol, e);
	if (err)
		return err;
	enc_jmp(e, (uintptr_t)s->addr + s->len);
	return PVPATCH_OK;
}

/* Whether index entry t holds exactly the code req needs (a stub's key
 * names its site, not its template: the code itself is compared). */
static bool area_same_code(const struct pvpatch *pv, const struct pvpatch_thunk_slot *t,
			   const struct area_req *req)
{
	const uint8_t *have = (t->flags & THUNK_STAGED) ? pv->stage : pv->thunks;
	uint8_t code[THUNK_MAX];
	struct enc e;

	if (!req->pol && !req->poison)
		return true;
	enc_init(&e, code, sizeof(code), (uintptr_t)pv->thunks + t->code - 1);
	if (area_code(pv, req, &e) || !enc_ok(&e) || e.len != t->len)
		return false;
	for (size_t i = 0; i < e.len; i++)
		if (have[t->code - 1 + i] != code[i])
			return false;
	return true;
}

/*
 * Whether req's code can exist anywhere in the area: it encodes (a stub's
 * template fits inline_max) and its rel32 operands reach from the area's
 * first and last byte, hence from every place between (the addresses a
 * rel32 reaches form one interval).
 */
static int area_check(const struct pvpatch *pv, const struct area_req *req)
{
	uintptr_t ends[2] = { (uintptr_t)pv->thunks,
			      (uintptr_t)pv->thunks + (pv->thunks_size ? pv->thunks_size - 1 : 0) };
	uint8_t code[THUNK_MAX];
	struct enc e;

	for (int i = 0; i < 2; i++) {
		int err;

		enc_init(&e, code, sizeof(code), ends[i]);
		err = area_code(pv, req, &e);
		if (err)
			return err;
		if (e.range)
			return PVPATCH_E_CALL_RANGE;
		if (e.overflow && (req->pol || req->poison))
			return PVPATCH_E_TOO_LONG;
	}
	return PVPATCH_OK;
}

/*
 * The thunk (or stub) for this request: an existing one (found through
 * pv->thunk_index, open addressing), or a new one placed in the area, its
 * code and the int3 padding after it written in one poke -- or, while
 * pvpatch_repatch() plans (pv->stage), staged at the same offset there and
 * marked THUNK_STAGED: nothing is written until every site is planned.
 */
static int get_area(struct pvpatch *pv, const struct area_req *req, uintptr_t *addr)
{
	const struct site *s = req->s;
	bool stub = req->pol || req->poison;
	struct pvpatch_thunk_slot k = {
		.backend = stub ? (uintptr_t)s->addr : (uintptr_t)req->backend,
		.regs = site_regs(s), .free = s->free, .op = s->info->abi,
		.writes = stub ? 0 : req->writes,
		.kind = req->poison ? THUNK_POISON : req->pol ? THUNK_STUB : THUNK_CALL,
	};
	uint32_t n = index_slots(pv), slot = thunk_home(&k, n), probes;
	uint8_t code[THUNK_MAX];
	size_t at, padded;
	struct enc e;
	int err;

	for (probes = 0; probes < n; probes++) {
		struct pvpatch_thunk_slot *t = &pv->thunk_index[slot];

		if (!t->code)
			break;
		if (thunk_same(t, &k) && area_same_code(pv, t, req)) {
			*addr = (uintptr_t)pv->thunks + t->code - 1;
			t->flags |= THUNK_CALLED;
			return PVPATCH_OK;
		}
		slot = slot_next(slot, n);
	}
	if (!pv->thunks || (!stub && s->nargs + (s->info->nouts > 1 ? s->info->nouts : 0) > 6))
		return PVPATCH_E_THUNK_SPACE;
	/* What the request itself rules out comes before what the area's fill
	 * state does, so that the same request gets the same reason whether
	 * the area has room or not (applying a policy twice reports the same). */
	err = area_check(pv, req);
	if (err)
		return err;
	if (probes == n)
		return PVPATCH_E_THUNK_INDEX;
	if (pv->thunks_used >= UINT32_MAX ||
	    (!pv->thunks_reclaimed && pv->thunks_used >= pv->thunks_size))
		return PVPATCH_E_THUNK_SPACE;
	at = pv->thunks_used;
	if (pv->thunks_reclaimed) {
		/* Its length first (only its rel32 operands depend on where it
		 * goes), then the place, then the code there. */
		enc_init(&e, code, sizeof(code), (uintptr_t)pv->thunks);
		err = area_code(pv, req, &e);
		if (err)
			return err;
		if (e.overflow)
			return stub ? PVPATCH_E_TOO_LONG : PVPATCH_E_THUNK_SPACE;
		if (thunk_place(pv, e.len, &at))
			return PVPATCH_E_THUNK_SPACE;
	}
	*addr = (uintptr_t)pv->thunks + at;
	enc_init(&e, code, sizeof(code), *addr);
	err = area_code(pv, req, &e);
	if (err)
		return err;
	if (e.range)
		return PVPATCH_E_CALL_RANGE;
	if (e.overflow && stub)
		return PVPATCH_E_TOO_LONG;
	if (e.overflow || e.len > pv->thunks_size - at)
		return PVPATCH_E_THUNK_SPACE;
	/* int3 up to where the next thunk would start (THUNK_MAX is a multiple
	 * of THUNK_ALIGN, so this fits in code[]), not past the area. */
	padded = (e.len + THUNK_ALIGN - 1) & ~(size_t)(THUNK_ALIGN - 1);
	if (padded > pv->thunks_size - at)
		padded = pv->thunks_size - at;
	for (size_t i = e.len; i < padded; i++)
		code[i] = 0xcc;
	if (pv->stage) {
		for (size_t i = 0; i < padded; i++)
			pv->stage[at + i] = code[i];
		k.flags = THUNK_STAGED | THUNK_CALLED;
	} else {
		/* Already there (a pre-patched image's thunk area: the same policy
		 * builds the same thunks at the same offsets): nothing to write. */
		for (size_t i = 0; i < padded; i++) {
			if (pv->thunks[at + i] != code[i]) {
				text_poke(pv, pv->thunks + at, code, padded);
				break;
			}
		}
		k.flags = THUNK_CALLED;
	}
	k.code = (uint32_t)at + 1;
	k.len = (uint8_t)e.len;
	pv->thunk_index[slot] = k;
	if (at + padded > pv->thunks_used)
		pv->thunks_used = at + padded;
	return PVPATCH_OK;
}

/*
 * Remove index slot i, keeping every other key findable (linear probing
 * deletion without tombstones, Knuth's Algorithm R): each later entry of
 * the cluster whose home is not cyclically in (hole, j] moves into the
 * hole.  Distances are taken modulo the slot count, so any count works.
 * Bounded: a full index has no empty slot to stop at.  Space leaves the
 * area's map: first fit searches from offset 0 again.
 */
static void thunk_index_remove(struct pvpatch *pv, uint32_t hole)
{
	uint32_t n = index_slots(pv), j = hole;

	pv->thunk_index[hole].code = 0;
	for (uint32_t step = 1; step < n; step++) {
		uint32_t home;

		j = slot_next(j, n);
		if (!pv->thunk_index[j].code)
			break;
		home = thunk_home(&pv->thunk_index[j], n);
		/* Stays when home lies cyclically in (hole, j]. */
		if (slot_dist(home, j, n) < slot_dist(hole, j, n))
			continue;
		pv->thunk_index[hole] = pv->thunk_index[j];
		pv->thunk_index[j].code = 0;
		hole = j;
	}
	for (unsigned int u = 0; u < THUNK_UNITS; u++)
		pv->place_from[u] = 0;
}

void thunk_plan_begin(struct pvpatch *pv, uint8_t *stage)
{
	for (uint32_t k = 0; k < index_slots(pv); k++)
		pv->thunk_index[k].flags = 0;
	pv->stage = stage;
}

/*
 * Drop the thunks the plan staged (abort), or the staged ones no site
 * ended up calling (a site that fell back after its thunk was made).  An
 * entry moved into slot k by a removal is looked at again.
 */
static void drop_staged(struct pvpatch *pv, bool all)
{
	for (uint32_t k = 0; k < index_slots(pv);) {
		struct pvpatch_thunk_slot *t = &pv->thunk_index[k];

		if (t->code && (t->flags & THUNK_STAGED) && (all || !(t->flags & THUNK_CALLED)))
			thunk_index_remove(pv, k);
		else
			k++;
	}
}

void thunk_plan_abort(struct pvpatch *pv, size_t thunks_used)
{
	drop_staged(pv, true);
	pv->thunks_used = thunks_used;
	pv->stage = NULL;
}

/* The area in use ends with the last thunk the index holds. */
static void thunk_recount_used(struct pvpatch *pv)
{
	size_t used = 0;

	for (uint32_t k = 0; k < index_slots(pv); k++) {
		const struct pvpatch_thunk_slot *t = &pv->thunk_index[k];

		if (t->code && t->code - 1 + thunk_extent(pv, t) > used)
			used = t->code - 1 + thunk_extent(pv, t);
	}
	pv->thunks_used = used;
}

/* Planning is over: from here on nothing may fail. */
void thunk_plan_end(struct pvpatch *pv)
{
	drop_staged(pv, false);
	thunk_recount_used(pv);
	pv->stage = NULL;
}

/* While every CPU is stopped: write the staged thunks (each in one poke,
 * when the area does not hold it already). */
void thunk_write_staged(struct pvpatch *pv, const uint8_t *stage)
{
	for (uint32_t k = 0; k < index_slots(pv); k++) {
		struct pvpatch_thunk_slot *t = &pv->thunk_index[k];
		size_t at = t->code - 1, len;

		if (!t->code || !(t->flags & THUNK_STAGED))
			continue;
		len = thunk_extent(pv, t);
		for (size_t i = 0; i < len; i++) {
			if (pv->thunks[at + i] != stage[at + i]) {
				text_poke(pv, pv->thunks + at, stage + at, len);
				break;
			}
		}
		t->flags &= (uint8_t)~THUNK_STAGED;
	}
}

/* After planning: whether some thunk would be given back. */
bool thunk_any_uncalled(const struct pvpatch *pv)
{
	for (uint32_t k = 0; k < index_slots(pv); k++)
		if (pv->thunk_index[k].code && !(pv->thunk_index[k].flags & THUNK_CALLED))
			return true;
	return false;
}

/*
 * While every CPU is stopped and quiescent, after the sites are written:
 * give back each thunk no site calls now (int3 over it, so the area keeps
 * holding only code, and its index entry removed).  Returns how many.
 */
unsigned int thunk_reclaim(struct pvpatch *pv)
{
	static const uint8_t int3[THUNK_MAX] = {
		[0 ... THUNK_MAX - 1] = 0xcc,
	};
	unsigned int n = 0;

	for (uint32_t k = 0; k < index_slots(pv);) {
		struct pvpatch_thunk_slot *t = &pv->thunk_index[k];
		size_t len;

		if (!t->code || (t->flags & THUNK_CALLED)) {
			k++;
			continue;
		}
		len = thunk_extent(pv, t);
		text_poke(pv, pv->thunks + t->code - 1, int3, len);
		pv->thunks_reclaimed += len;
		thunk_index_remove(pv, k);
		n++;
	}
	thunk_recount_used(pv);
	return n;
}

int emit_call(struct pvpatch *pv, const struct site *s, const void *backend, uint16_t writes,
	      uint8_t *out)
{
	uintptr_t thunk;
	struct enc e;
	int err;

	if (!backend)
		return PVPATCH_E_NO_BACKEND;
	if (emit_direct(pv, s, backend, writes, out) == PVPATCH_OK)
		return PVPATCH_OK;
	err = get_area(pv, &(struct area_req){ .s = s, .backend = backend, .writes = writes },
		       &thunk);
	if (err)
		return err;
	enc_init(&e, out, s->len, (uintptr_t)s->addr);
	enc_call(&e, thunk);
	if (e.range)
		return PVPATCH_E_CALL_RANGE;
	enc_nops(&e, s->len - e.len);
	return enc_ok(&e) ? PVPATCH_OK : PVPATCH_E_TOO_LONG;
}

/*
 * INLINE out of line: the site jumps to its stub (get_area()), which jumps
 * back to the site's end; the rest of the site is never executed (int3).
 */
int emit_inline_stub(struct pvpatch *pv, const struct site *s, const struct pvpatch_op_policy *pol,
		     uint8_t *out)
{
	uintptr_t stub;
	struct enc e;
	int err;

	if (s->len < 5)
		return PVPATCH_E_TOO_LONG;
	err = get_area(pv, &(struct area_req){ .s = s, .pol = pol }, &stub);
	if (err)
		return err;
	enc_init(&e, out, s->len, (uintptr_t)s->addr);
	enc_jmp(&e, stub);
	if (e.range)
		return PVPATCH_E_CALL_RANGE;
	for (size_t i = e.len; i < s->len; i++)
		out[i] = 0xcc;
	return PVPATCH_OK;
}

/*
 * PVPATCH_F_POISON: the site, already built for mode in out (at the site's
 * address), moves into its poison stub (get_area()), and out becomes
 * `jmp stub; int3 ...`.  On failure out is unchanged.
 */
int emit_poison(struct pvpatch *pv, const struct site *s, unsigned int mode,
		const struct pvpatch_op_policy *pol, uint8_t *out)
{
	uintptr_t stub;
	struct enc e;
	uint8_t jmp[PVPATCH_MAX_SITE];
	int err;

	if (s->len < 5)
		return PVPATCH_E_TOO_LONG;
	if (mode == PVPATCH_MODE_INLINE && (!pol || !pol->tmpl))
		return PVPATCH_E_NO_TEMPLATE;
	err = get_area(pv, &(struct area_req){ .s = s, .pol = pol, .poison = true, .mode = mode,
					       .job = out }, &stub);
	if (err)
		return err;
	enc_init(&e, jmp, s->len, (uintptr_t)s->addr);
	enc_jmp(&e, stub);
	if (e.range)
		return PVPATCH_E_CALL_RANGE;
	for (size_t i = e.len; i < s->len; i++)
		jmp[i] = 0xcc;
	for (size_t i = 0; i < s->len; i++)
		out[i] = jmp[i];
	return PVPATCH_OK;
}
