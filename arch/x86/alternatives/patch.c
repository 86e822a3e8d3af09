// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The runtime patcher: checks every site record once, then gives each valid
 * site the mode the policy asks for, or the next one that works.
 *
 * Pass order (each pass relies on the ones before):
 *   1. check each record on its own (version, op, range, lengths, flags,
 *      registers) -- nothing else may read a site's bytes before this;
 *   2. sort valid sites by address and refuse overlapping ones -- so no two
 *      sites ever write the same byte;
 *   3. decode each valid site's native bytes -- so a site whose bytes are not
 *      what the record says is left alone;
 *   4. keep the original native bytes -- so any site can go back to native;
 *      in a pre-patched image (tools/pvrom image) passes 3 and 4 read them
 *      from the image's slot for the record, not from the site;
 *   then, on every pvpatch_apply():
 *   5. resolve per-site overrides to sites;
 *   6. per site: build the complete new bytes in a buffer for the wanted mode,
 *      falling back INLINE -> CALL -> NATIVE (NOP -> NATIVE), and poke them
 *      only if they differ from what is there, in one write.  A CALL to a
 *      backend in a family pvpatch_free_backends() overwrote is refused.
 */
#include "internal.h"
#include "util.h"
#include "insn.h"

#define NO_OVERRIDE 0xff

/* state[].flags: whether, in NATIVE mode, the site's bytes are exactly its
 * kept native bytes and the padding the patcher writes (then staying native
 * needs no rebuilding, comparing or writing); known once checked. */
#define STATE_CHECKED	0x01
#define STATE_CANONICAL	0x02

static const struct pvpatch_op_info *op_info(unsigned int op)
{
	if (op > PVPATCH_MAX_OP || !pvpatch_op_table[op].name)
		return NULL;
	return &pvpatch_op_table[op];
}

/* The site address, computed without pointer overflow. */
static uintptr_t rec_addr(const struct pvpatch_site *r)
{
	return (uintptr_t)&r->site + (uintptr_t)(intptr_t)r->site;
}

static unsigned int nr_sites(const struct pvpatch *pv)
{
	return (unsigned int)(pv->sites_end - pv->sites);
}

/* Pass 1: one record on its own. */
static int check_record(const struct pvpatch *pv, const struct pvpatch_site *r)
{
	const struct pvpatch_op_info *info;
	unsigned int flags = r->flags & (PVPATCH_SITE_F_NARGS_MASK | PVPATCH_SITE_F_HAS_RET);
	uintptr_t a = rec_addr(r);

	if (r->version != PVPATCH_SITE_VERSION)
		return PVPATCH_E_VERSION;
	info = op_info(r->op);
	if (!info)
		return PVPATCH_E_OP;
	if (a < pv->text_start || a > pv->text_end || pv->text_end - a < r->site_len)
		return PVPATCH_E_RANGE;
	if (r->site_len != info->site_len || r->native_len == 0 ||
	    r->native_len > r->site_len || r->native_len > info->native_max)
		return PVPATCH_E_LENGTH;
	if (flags != (info->nargs | (info->nouts ? PVPATCH_SITE_F_HAS_RET : 0u)) ||
	    (r->flags & ~(PVPATCH_SITE_F_NARGS_MASK | PVPATCH_SITE_F_HAS_RET | PVPATCH_SITE_F_ASM |
			   PVPATCH_SITE_F_WIDENED)))
		return PVPATCH_E_FLAGS;
	if (r->clobbers & 1u << REG_RSP)
		return PVPATCH_E_FLAGS;
	for (unsigned int i = 0; i < info->nargs; i++) {
		unsigned int reg = pvpatch_site_reg(r, PVPATCH_SLOT_ARG0 + i);

		if (reg == REG_RSP || (info->arg_pin[i] >= 0 && reg != (unsigned int)info->arg_pin[i]))
			return PVPATCH_E_FLAGS;
	}
	if (info->nouts) {
		unsigned int reg = pvpatch_site_reg(r, PVPATCH_SLOT_RET);

		if (reg == REG_RSP || !(r->clobbers >> reg & 1) ||
		    (info->out_pin[0] >= 0 && reg != (unsigned int)info->out_pin[0]))
			return PVPATCH_E_FLAGS;
	}
	if ((r->clobbers & info->clobbers) != info->clobbers)
		return PVPATCH_E_FLAGS;
	return PVPATCH_OK;
}

/* Pass 2: heap sort of state[].order by site address (no recursion, no heap). */
static uintptr_t key(const struct pvpatch *pv, unsigned int i)
{
	return rec_addr(&pv->sites[pv->state[i].order]);
}

static void sift(struct pvpatch *pv, unsigned int root, unsigned int n)
{
	for (;;) {
		unsigned int child = 2 * root + 1;
		uint32_t t;

		if (child >= n)
			return;
		if (child + 1 < n && key(pv, child + 1) > key(pv, child))
			child++;
		if (key(pv, root) >= key(pv, child))
			return;
		t = pv->state[root].order;
		pv->state[root].order = pv->state[child].order;
		pv->state[child].order = t;
		root = child;
	}
}

/* state[].order is the identity; the linker usually leaves records in
 * address order, and init() tells whether it did. */
static void sort_sites(struct pvpatch *pv)
{
	unsigned int n = nr_sites(pv);

	for (unsigned int i = n / 2; i-- > 0;)
		sift(pv, i, n);
	for (unsigned int end = n; end-- > 1;) {
		uint32_t t = pv->state[0].order;

		pv->state[0].order = pv->state[end].order;
		pv->state[end].order = t;
		sift(pv, 0, end);
	}
}

/*
 * Compare each site with the earlier one that reaches furthest (not just
 * its neighbour): a short site can sit inside a long one two records back.
 */
static void refuse_overlaps(struct pvpatch *pv)
{
	int far = -1;

	for (unsigned int k = 0; k < nr_sites(pv); k++) {
		unsigned int i = pv->state[k].order;
		const struct pvpatch_site *r = &pv->sites[i];

		if (pv->state[i].reason)
			continue;
		if (far >= 0) {
			const struct pvpatch_site *p = &pv->sites[far];

			if (rec_addr(r) < rec_addr(p) + p->site_len) {
				pv->state[i].reason = PVPATCH_E_OVERLAP;
				pv->state[far].reason = PVPATCH_E_OVERLAP;
			}
			if (rec_addr(r) + r->site_len <= rec_addr(p) + p->site_len)
				continue;
		}
		far = (int)i;
	}
}

/* Pass 3: the native bytes (at the site, or in the image) decode to exactly
 * native_len. */
static int check_decode(const struct pvpatch_site *r, const uint8_t *p)
{
	unsigned int off = 0;
	struct insn insn;

	while (off < r->native_len) {
		int len = insn_decode(&insn, p + off, r->native_len - off);

		if (len <= 0)
			return PVPATCH_E_DECODE;
		off += (unsigned int)len;
	}
	return PVPATCH_OK;
}

static uint32_t get_le(const uint8_t *p, unsigned int n)
{
	uint32_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/*
 * A pre-patched image (tools/pvrom image): 1 when pv->image holds a valid
 * header for n records (then record i's native bytes are in slot i), 0 when
 * there is none (no section, or a zero header: a kernel not pre-patched),
 * -1 when the header is neither.  The header is data like any other: every
 * field is checked, the slots must lie inside image_size.
 */
static int image_check(const struct pvpatch *pv, unsigned int n)
{
	const uint8_t *h = pv->image;
	uint32_t stride;
	bool zero = true;

	if (!h || pv->image_size < PVPATCH_IMAGE_HEADER_SIZE)
		return 0;
	for (unsigned int b = 0; b < PVPATCH_IMAGE_HEADER_SIZE; b++)
		zero = zero && !h[b];
	if (zero)
		return 0;
	stride = get_le(h + PVPATCH_IMAGE_HEADER_OFF_STRIDE, 2);
	if (get_le(h + PVPATCH_IMAGE_HEADER_OFF_MAGIC, 4) != PVPATCH_IMAGE_MAGIC ||
	    get_le(h + PVPATCH_IMAGE_HEADER_OFF_VERSION, 2) != PVPATCH_IMAGE_VERSION ||
	    stride != PVPATCH_MAX_NATIVE ||
	    get_le(h + PVPATCH_IMAGE_HEADER_OFF_N_RECORDS, 4) != n ||
	    get_le(h + PVPATCH_IMAGE_HEADER_OFF_FLAGS, 4) != 0 ||
	    (pv->image_size - PVPATCH_IMAGE_HEADER_SIZE) / stride < n)
		return -1;
	return 1;
}

/* Where record i's original native bytes are. */
static const uint8_t *native_src(const struct pvpatch *pv, unsigned int i)
{
	if (pv->image_used > 0)
		return pv->image + PVPATCH_IMAGE_HEADER_SIZE + (size_t)i * PVPATCH_MAX_NATIVE;
	return (const uint8_t *)rec_addr(&pv->sites[i]);
}

static int init(struct pvpatch *pv)
{
	unsigned int n;
	size_t saved = 0;
	bool sorted = true;

	if (!pv->sites || !pv->sites_end || pv->sites_end < pv->sites || !pv->state ||
	    (!pv->saved && pv->saved_size) || pv->text_end < pv->text_start ||
	    ((uintptr_t)pv->sites & 3) || ((uintptr_t)pv->thunks & 15) ||
	    (pv->stack_align && pv->stack_align != PVPATCH_STACK_ALIGN_8 &&
	     pv->stack_align != PVPATCH_STACK_ALIGN_16))
		return -1;
	n = nr_sites(pv);
	/* Pass 1 (one walk over the records, which may be many): check each,
	 * start the order as the identity and see whether it is sorted. */
	for (unsigned int i = 0; i < n; i++) {
		pv->state[i].reason = (uint8_t)check_record(pv, &pv->sites[i]);
		pv->state[i].mode = PVPATCH_MODE_NATIVE;
		pv->state[i].override = NO_OVERRIDE;
		pv->state[i].order = i;
		pv->state[i].flags = 0;
		sorted = sorted && (i == 0 || rec_addr(&pv->sites[i - 1]) <= rec_addr(&pv->sites[i]));
	}
	if (!sorted)
		sort_sites(pv);
	refuse_overlaps(pv);
	/* An image whose header is not sound: its sites hold patched code whose
	 * native bytes are unknown, and taking that code for native bytes could
	 * keep half an instruction sequence.  The image runs as it was built. */
	pv->image_used = image_check(pv, n);
	for (unsigned int i = 0; i < n; i++) {
		const struct pvpatch_site *r = &pv->sites[i];
		const uint8_t *src = native_src(pv, i);

		if (pv->state[i].reason)
			continue;
		if (pv->image_used < 0) {
			pv->state[i].reason = PVPATCH_E_IMAGE;
			continue;
		}
		pv->state[i].reason = (uint8_t)check_decode(r, src);
		if (pv->state[i].reason)
			continue;
		if (pv->saved_size - saved < r->native_len) {
			pv->state[i].reason = PVPATCH_E_SAVE;
			continue;
		}
		pv->state[i].saved = (uint32_t)saved;
		for (unsigned int b = 0; b < r->native_len; b++)
			pv->saved[saved + b] = src[b];
		saved += r->native_len;
		/* An image's site that does not hold its native bytes is not
		 * native however its padding looks: NATIVE must rewrite it. */
		if (pv->image_used > 0)
			for (unsigned int b = 0; b < r->native_len; b++)
				if (((const uint8_t *)rec_addr(r))[b] != src[b])
					pv->state[i].flags = STATE_CHECKED;
	}
	pv->thunks_used = 0;
	thunk_index_init(pv);
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		pv->call_backend[op] = NULL;
	pv->n_freed = 0;
	pv->stage = NULL;
	pv->thunks_reclaimed = 0;
	pv->ready = 1;
	return 0;
}

static void site_view(const struct pvpatch *pv, unsigned int i, struct site *s)
{
	const struct pvpatch_site *r = &pv->sites[i];

	s->addr = (uint8_t *)rec_addr(r);
	s->info = op_info(r->op);
	s->len = r->site_len;
	s->native_len = r->native_len;
	s->free = r->clobbers;
	s->ret = s->info->nouts ? (int8_t)pvpatch_site_reg(r, PVPATCH_SLOT_RET) : -1;
	s->nargs = s->info->nargs;
	for (unsigned int a = 0; a < s->nargs; a++)
		s->arg[a] = (int8_t)pvpatch_site_reg(r, PVPATCH_SLOT_ARG0 + a);
	s->saved = pv->saved + pv->state[i].saved;
}

/* Binary search of the sorted valid sites for one starting at addr. */
static int find_site(const struct pvpatch *pv, uintptr_t addr)
{
	unsigned int lo = 0, hi = nr_sites(pv);

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		uintptr_t k = key(pv, mid);

		if (k == addr) {
			/* Several records may claim one address: take a valid one. */
			while (mid > 0 && key(pv, mid - 1) == addr)
				mid--;
			for (; mid < nr_sites(pv) && key(pv, mid) == addr; mid++)
				if (!pv->state[pv->state[mid].order].reason)
					return (int)pv->state[mid].order;
			return -1;
		}
		if (k < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

unsigned int patcher_nr_sites(const struct pvpatch *pv)
{
	return nr_sites(pv);
}

uintptr_t patcher_site_addr(const struct pvpatch *pv, unsigned int i)
{
	return rec_addr(&pv->sites[i]);
}

/* The overrides' marks, once a site has been planned. */
void patcher_clear_override(struct pvpatch *pv, unsigned int i)
{
	pv->state[i].override = NO_OVERRIDE;
}

/*
 * A valid site with start < a <= start + site_len (a return address after
 * its last instruction counts: conservative), or -1.  Records are sorted by
 * address and valid sites do not overlap, so only records starting within
 * PVPATCH_MAX_SITE bytes below a are looked at.
 */
int patcher_site_around(const struct pvpatch *pv, uintptr_t a)
{
	unsigned int lo = 0, hi = nr_sites(pv);

	if (a == 0)
		return -1;
	while (lo < hi) {	/* first record starting at or after a */
		unsigned int mid = lo + (hi - lo) / 2;

		if (key(pv, mid) < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0) {
		unsigned int i = pv->state[lo].order;
		uintptr_t start = key(pv, lo);

		if (a - start > PVPATCH_MAX_SITE)
			break;
		if (!pv->state[i].reason && a - start <= pv->sites[i].site_len)
			return (int)i;
	}
	return -1;
}

/* rep may be NULL (the caller wants no report) everywhere below. */
static void reject(struct pvpatch_report *rep, uintptr_t site, unsigned int op,
		   unsigned int wanted, unsigned int got, int reason)
{
	if (!rep)
		return;
	rep->reasons[reason]++;
	if (rep->n_rejects < PVPATCH_MAX_REJECTS) {
		struct pvpatch_reject *j = &rep->rejects[rep->n_rejects];

		j->site = site;
		j->op = (uint16_t)op;
		j->wanted = (uint8_t)wanted;
		j->got = (uint8_t)got;
		j->reason = (uint8_t)reason;
	}
	rep->n_rejects++;
}

/* Mark the sites the policy's overrides name; apply() clears each mark
 * once it has used it, so no walk over every site is needed here. */
static void apply_overrides(struct pvpatch *pv, const struct pvpatch_policy *pol,
			    struct pvpatch_report *rep)
{
	for (unsigned int k = 0; pol && k < pol->n_overrides; k++) {
		const struct pvpatch_override *o = &pol->overrides[k];
		uintptr_t addr = o->addr;
		int i = -1;

		if (o->func) {
			uintptr_t base = pv->lookup ? pv->lookup(o->func) : 0;

			addr = base ? base + o->addr : 0;
		}
		if (addr && o->mode < PVPATCH_NR_MODES)
			i = find_site(pv, addr);
		if (i < 0) {
			reject(rep, addr, 0, o->mode, PVPATCH_MODE_NATIVE, PVPATCH_E_OVERRIDE);
			continue;
		}
		pv->state[i].override = o->mode;
	}
}

/* Whether a backend lies in a family pvpatch_free_backends() overwrote:
 * calling it would run int3 (or whatever reuses that memory). */
static bool backend_freed(const struct pvpatch *pv, const void *backend)
{
	uintptr_t a = (uintptr_t)backend;

	for (unsigned int k = 0; k < pv->n_freed && k < PVPATCH_MAX_FREED; k++)
		if (a >= pv->freed[k].start && a < pv->freed[k].end)
			return true;
	return false;
}

/* The registers a CALL backend may write besides its result: none when it
 * is register-preserving, what the liveness pass found when it did, else
 * every caller-saved one. */
static uint16_t backend_writes(const struct pvpatch_op_policy *opol)
{
	if (opol && opol->preserves)
		return 0;
	if (opol && (opol->writes & PVPATCH_WRITES_KNOWN))
		return (uint16_t)(opol->writes & CALLER_SAVED);
	return CALLER_SAVED;
}

/* Build site bytes for one mode; the caller tries the fallbacks. */
static int build(struct pvpatch *pv, const struct site *s, unsigned int mode,
		 const struct pvpatch_op_policy *opol, uint8_t *out)
{
	if (!(s->info->modes >> mode & 1))
		return PVPATCH_E_MODE;
	switch (mode) {
	case PVPATCH_MODE_NATIVE:
		return emit_native(s, out);
	case PVPATCH_MODE_NOP:
		return emit_nop(s, out);
	case PVPATCH_MODE_INLINE:
		return opol ? emit_inline(pv, s, opol, out) : PVPATCH_E_NO_TEMPLATE;
	case PVPATCH_MODE_CALL:
		if (opol && opol->backend && backend_freed(pv, opol->backend))
			return PVPATCH_E_FREED;
		return emit_call(pv, s, opol ? opol->backend : NULL, backend_writes(opol), out);
	}
	return PVPATCH_E_MODE;
}

static unsigned int fallback(unsigned int mode)
{
	return mode == PVPATCH_MODE_INLINE ? PVPATCH_MODE_CALL : PVPATCH_MODE_NATIVE;
}

/* Whether site i runs from a poison stub (PVPATCH_F_POISON) under pol: a
 * record the liveness pass widened, and a policy (pvpatch_revert() makes
 * every site native, unpoisoned). */
static bool poisoned(const struct pvpatch *pv, unsigned int i, const struct pvpatch_policy *pol)
{
	return pol && (pv->flags & PVPATCH_F_POISON) && (pv->sites[i].flags & PVPATCH_SITE_F_WIDENED);
}

/* A site never patched yet: is its padding the patcher's (the assembler's)?
 * Its native bytes are the kept ones, which were copied from it (in an
 * image, init() compared them and marked the site when they differ). */
static bool native_is_canonical(struct pvpatch *pv, unsigned int i)
{
	const struct pvpatch_site *r = &pv->sites[i];

	if (!(pv->state[i].flags & STATE_CHECKED))
		pv->state[i].flags = STATE_CHECKED |
			(enc_is_nops((const uint8_t *)rec_addr(r) + r->native_len,
				     r->site_len - r->native_len) ? STATE_CANONICAL : 0);
	return pv->state[i].flags & STATE_CANONICAL;
}

/* How many of n bytes differ between a and b, compared 8 at a time. */
static unsigned int bytes_changed(const uint8_t *a, const uint8_t *b, unsigned int n)
{
	unsigned int changed = 0, i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;

		__builtin_memcpy(&x, a + i, 8);
		__builtin_memcpy(&y, b + i, 8);
		/* Fold each differing byte into its low bit, then add the bits
		 * up with a multiply (no popcount: it may be a libgcc call). */
		x ^= y;
		x |= x >> 4;
		x |= x >> 2;
		x |= x >> 1;
		changed += (unsigned int)(((x & 0x0101010101010101ull) * 0x0101010101010101ull) >> 56);
	}
	for (; i < n; i++)
		changed += a[i] != b[i];
	return changed;
}

/*
 * Plan one site: its complete new bytes into out[0..site_len) and its mode,
 * counted in the report as written (when they differ from the text) --
 * nothing is written here.  Returns the mode, or -1 when the site stays as
 * it is without a buffer (native and staying so, or a NATIVE that cannot be
 * built).  *changed: bytes that differ from the text; *why: the first
 * reason the mode asked for was refused (PVPATCH_OK: none).
 */
int patcher_plan_site(struct pvpatch *pv, unsigned int i, const struct pvpatch_policy *pol,
		      struct pvpatch_report *rep, uint8_t *out, unsigned int *changed, int *why)
{
	const struct pvpatch_site *r = &pv->sites[i];
	const struct pvpatch_op_policy *opol = pol ? &pol->op[r->op] : NULL;
	unsigned int wanted, mode;
	struct site s;
	int err, first = PVPATCH_OK;

	*changed = 0;
	*why = PVPATCH_OK;
	wanted = pv->state[i].override != NO_OVERRIDE ? pv->state[i].override
						     : opol ? opol->mode : PVPATCH_MODE_NATIVE;
	if (wanted >= PVPATCH_NR_MODES) {
		first = PVPATCH_E_MODE;
		wanted = PVPATCH_MODE_NATIVE;
	}
	/* Native and staying so (most sites of most boots): nothing to do. */
	if (!first && wanted == PVPATCH_MODE_NATIVE && pv->state[i].mode == PVPATCH_MODE_NATIVE &&
	    native_is_canonical(pv, i) && !(pv->flags & PVPATCH_F_DEBUG) && !poisoned(pv, i, pol)) {
		if (rep) {
			rep->mode[PVPATCH_MODE_NATIVE]++;
			rep->op_mode[r->op][PVPATCH_MODE_NATIVE]++;
		}
		return -1;
	}
	site_view(pv, i, &s);
	for (mode = wanted;; mode = fallback(mode)) {
		err = build(pv, &s, mode, opol, out);
		if (!err)
			break;
		if (!first)
			first = err;
		/* NATIVE from kept bytes cannot fail for a valid site. */
		if (mode == PVPATCH_MODE_NATIVE)
			return -1;
	}
	if (poisoned(pv, i, pol)) {
		err = emit_poison(pv, &s, mode, opol, out);
		if (rep && err) {
			rep->unpoisoned++;
			rep->poison_reasons[err]++;
		} else if (rep) {
			rep->poisoned++;
		}
	}
	*why = first;
	if (first) {
		if (rep)
			rep->fallbacks++;
		reject(rep, (uintptr_t)s.addr, r->op, wanted, mode, first);
	}
	*changed = bytes_changed(out, s.addr, s.len);
	if (pv->flags & PVPATCH_F_DEBUG)
		debug_site(pv, &s, s.addr, out, mode);
	if (rep) {
		if (*changed) {
			rep->written++;
			rep->bytes_changed += *changed;
			rep->op_bytes[r->op] += *changed;
		}
		rep->mode[mode]++;
		rep->op_mode[r->op][mode]++;
	}
	return (int)mode;
}

/* The site now holds what patcher_plan_site() built for mode. */
void patcher_commit_site(struct pvpatch *pv, unsigned int i, unsigned int mode)
{
	pv->state[i].mode = (uint8_t)mode;
	/* as NATIVE writes it, unless it may be a jump to a poison stub */
	pv->state[i].flags = STATE_CHECKED |
		((pv->flags & PVPATCH_F_POISON) && (pv->sites[i].flags & PVPATCH_SITE_F_WIDENED) ?
		 0 : STATE_CANONICAL);
}

static void patch_one(struct pvpatch *pv, unsigned int i, const struct pvpatch_policy *pol,
		      struct pvpatch_report *rep)
{
	uint8_t out[PVPATCH_MAX_SITE];
	unsigned int changed;
	int why, mode = patcher_plan_site(pv, i, pol, rep, out, &changed, &why);

	if (mode < 0)
		return;
	if (changed)
		text_poke(pv, (uint8_t *)rec_addr(&pv->sites[i]), out, pv->sites[i].site_len);
	patcher_commit_site(pv, i, (unsigned int)mode);
}

/* Zero the report, check the records once, mark the overrides' sites. */
int patcher_begin(struct pvpatch *pv, const struct pvpatch_policy *pol,
		  struct pvpatch_report *rep)
{
	/* No report wanted: nothing is counted (no static scratch report that
	 * two descriptors patched at once would share). */
	if (rep)
		pv_zero(rep, sizeof(*rep));
	if (!pv || (!pv->ready && init(pv)))
		return -1;
	if (rep)
		rep->sites = nr_sites(pv);
	apply_overrides(pv, pol, rep);
	return 0;
}

/* A refused record, reported as apply() reports it. */
void patcher_report_invalid(struct pvpatch *pv, unsigned int i, struct pvpatch_report *rep)
{
	if (rep)
		rep->invalid++;
	reject(rep, rec_addr(&pv->sites[i]), pv->sites[i].op, PVPATCH_MODE_NATIVE,
	       PVPATCH_MODE_NATIVE, pv->state[i].reason);
}

/* Every site now in CALL mode calls its op's backend of this policy
 * (directly or through a thunk): what pvpatch_free_backends() keeps. */
void patcher_finish(struct pvpatch *pv, const struct pvpatch_policy *pol,
		    struct pvpatch_report *rep)
{
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		pv->call_backend[op] = pol ? pol->op[op].backend : NULL;
	if (rep)
		rep->thunk_bytes = (unsigned int)pv->thunks_used;
}

static int apply(struct pvpatch *pv, const struct pvpatch_policy *pol,
		 struct pvpatch_report *rep)
{
	if (patcher_begin(pv, pol, rep))
		return -1;
	for (unsigned int i = 0; i < nr_sites(pv); i++) {
		if (pv->state[i].reason)
			patcher_report_invalid(pv, i, rep);
		else
			patch_one(pv, i, pol, rep);
		pv->state[i].override = NO_OVERRIDE;
	}
	patcher_finish(pv, pol, rep);
	return 0;
}

int pvpatch_apply(struct pvpatch *pv, const struct pvpatch_policy *policy,
		  struct pvpatch_report *report)
{
	return apply(pv, policy, report);
}

static bool family_freed(const struct pvpatch *pv, uintptr_t start, uintptr_t end)
{
	for (unsigned int k = 0; k < pv->n_freed && k < PVPATCH_MAX_FREED; k++)
		if (start >= pv->freed[k].start && end <= pv->freed[k].end)
			return true;
	return false;
}

/*
 * A family stays while a CALL site may reach it: a site of an op of its
 * class (the kernel's layout: one section per class), or one whose backend
 * lies inside it whatever the class.  Each freed family is remembered
 * before it is overwritten, so apply() never calls into it again; when
 * there is no room to remember one, it is not freed.
 */
size_t pvpatch_free_backends(struct pvpatch *pv, const struct pvpatch_backend_family *fam,
			     unsigned int n, uint8_t fill)
{
	bool call_op[PVPATCH_MAX_OP + 1] = { false };
	size_t freed = 0;

	/* A refused image's sites may call any backend: keep them all. */
	if (!pv || !pv->ready || !fam || pv->image_used < 0)
		return 0;
	for (unsigned int i = 0; i < nr_sites(pv); i++)
		if (!pv->state[i].reason && pv->state[i].mode == PVPATCH_MODE_CALL)
			call_op[pv->sites[i].op] = true;	/* valid: op <= PVPATCH_MAX_OP */
	for (unsigned int f = 0; f < n; f++) {
		uintptr_t start = (uintptr_t)fam[f].start, end = (uintptr_t)fam[f].end;
		bool used = false;

		if (end <= start || family_freed(pv, start, end))
			continue;
		for (unsigned int op = 0; op <= PVPATCH_MAX_OP && !used; op++) {
			const struct pvpatch_op_info *info = op_info(op);
			uintptr_t be = (uintptr_t)pv->call_backend[op];

			used = call_op[op] && info &&
			       ((fam[f].cls && !pv_strcmp(info->cls, fam[f].cls)) || (be >= start && be < end));
		}
		if (used || pv->n_freed >= PVPATCH_MAX_FREED)
			continue;
		pv->freed[pv->n_freed].start = start;
		pv->freed[pv->n_freed].end = end;
		pv->n_freed++;
		for (uint8_t *p = fam[f].start; p < fam[f].end;) {
			uint8_t buf[64];
			size_t len = (size_t)(fam[f].end - p) < sizeof(buf) ? (size_t)(fam[f].end - p)
									     : sizeof(buf);

			for (size_t b = 0; b < len; b++)
				buf[b] = fill;
			text_poke(pv, p, buf, len);
			p += len;
		}
		freed += end - start;
	}
	return freed;
}

int pvpatch_revert(struct pvpatch *pv, struct pvpatch_report *report)
{
	return apply(pv, NULL, report);
}
