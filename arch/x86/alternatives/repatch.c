// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Live re-patching: pvpatch_repatch() moves every site to a new policy while
 * other CPUs run the kernel.  Unlike Linux's text_poke_bp() (one
 * instruction, made safe with an INT3 and three syncs) a pvpatch site is a
 * sequence (pushes, moves, a call, padding): a CPU interrupted in its
 * middle, or inside a thunk or backend it called, must never resume into
 * other bytes.  So, as Xen livepatch and kpatch do, every CPU is stopped
 * and its context and stack checked, and the text is written only when
 * none is inside what changes; otherwise the CPUs are let go and the
 * attempt is made again, a bounded number of times.
 *
 * Nomenclature: a *changing* site is one whose planned bytes differ from
 * the text; a *staged* thunk is one the plan needs that is not in the area
 * yet; an *uncalled* thunk is one no site of the plan calls.
 *
 * The contract, in the order the code below follows it:
 *
 *   1. Plan, touching no text: every valid site's complete new bytes into
 *      the kernel's scratch (rv->scratch, PVPATCH_REPATCH_SCRATCH() bytes),
 *      each new thunk's code staged there at the offset it will have.  The
 *      policy's choices fall back per site exactly as pvpatch_apply()'s do
 *      (INLINE -> CALL -> NATIVE; a CALL to a backend in a family
 *      pvpatch_free_backends() freed is refused for the site with
 *      PVPATCH_E_FREED and it falls back: a re-patch never calls freed
 *      bytes), but a site that cannot get its thunk (PVPATCH_E_THUNK_SPACE
 *      or PVPATCH_E_THUNK_INDEX: a resource, not a property of the policy;
 *      an index of PVPATCH_THUNK_SLOTS() never runs out) fails the whole
 *      re-patch: PVPATCH_RP_PLAN, the staged thunks are forgotten, nothing
 *      written.
 *      Nothing changing and no thunk to give back: done, no rendezvous.
 *   2. Stop: rv->stop() stops every other CPU (by NMI or an equivalent:
 *      they may run with interrupts off) and reports each one's
 *      interrupted contexts (RIP, RSP, stack top; one per stack in use).
 *   3. Quiescence, decided here, not by the kernel.  It holds when no
 *      context's RIP lies
 *        - inside a changing site past its first byte (at the first byte
 *          the CPU runs the new bytes whole),
 *        - inside the thunk area (any thunk: conservative and cheap),
 *        - inside a backend family (rv->families) that a changing site in
 *          CALL mode calls, by backend address or by op class (backends
 *          outside every family given are covered by the stack scan below:
 *          whatever a site called returns into the site or its thunk);
 *      and no 8-byte word of [RSP, stack top) (at RSP's alignment and at
 *      8-byte alignment) points into a changing site past its first byte
 *      (its end included) or into the thunk area.  The scan is
 *      conservative: a stale word or a data word that looks like such an
 *      address only costs a retry.  A context whose RSP is above its stack
 *      top, or whose stack exceeds PVPATCH_STACK_SCAN_MAX, is not
 *      quiescent.
 *   4. Not quiescent: rv->release(arg, false), count a retry, go to 2; after
 *      rv->tries stops (0: PVPATCH_REPATCH_TRIES) give up: PVPATCH_RP_BUSY,
 *      the staged thunks forgotten, report->busy_* say what was found,
 *      nothing written.  rv->stop() failing gives up at once
 *      (PVPATCH_RP_STOP, nothing to release).
 *   5. Write, with every other CPU stopped, through pv->poke only: the
 *      staged thunks, then each changing site in one poke.
 *   6. Reclaim: each uncalled thunk is overwritten with int3 and its index
 *      entry removed (Knuth's Algorithm R: the others stay findable).  Only
 *      here, after a quiescent stop: a thunk is given back only when no
 *      CPU was inside it and no stack held a return into it, and no site
 *      calls it any more, so nothing can enter it later.  The area keeps
 *      holding only code and int3; later thunks go to the lowest offset
 *      they fit (first fit), so the space is reused.  Space given back by
 *      this re-patch serves the next one, not this one (the plan is made
 *      before the stop): a policy that fits only once the old thunks are
 *      gone goes through an all-NATIVE re-patch first.
 *   7. Serialise: rv->sync() on this CPU (NULL: pv->poke serialised it),
 *      then rv->release(arg, true), whose contract is that every other CPU
 *      serialises (Linux's sync_core()) before it returns to its
 *      interrupted context: it may have fetched the old bytes.
 *
 * The caller holds whatever lock serialises pvpatch calls on pv, and does
 * not call from inside a site, thunk or backend.
 */
#include "internal.h"
#include "util.h"

#define PLAN_KEEP	0x7f	/* scratch mode byte: the site stays as it is */
#define PLAN_CHANGES	0x80	/* ... or: its planned bytes differ from the text */

struct plan {
	uint8_t *bytes;		/* PVPATCH_MAX_SITE per record */
	uint8_t *mode;		/* one per record */
	uint8_t *stage;		/* thunks_size: new thunks at their offsets */
	bool call_op[PVPATCH_MAX_OP + 1];	/* a changing site of op is in CALL mode now */
};

static const char *const statuses[PVPATCH_RP_NR] = {
	[PVPATCH_RP_DONE] = "done",
	[PVPATCH_RP_UNUSABLE] = "descriptor, hooks or scratch unusable",
	[PVPATCH_RP_PLAN] = "a site or thunk could not be planned",
	[PVPATCH_RP_STOP] = "the other CPUs could not be stopped",
	[PVPATCH_RP_BUSY] = "not quiescent",
};

const char *pvpatch_repatch_str(unsigned int status)
{
	return status < PVPATCH_RP_NR ? statuses[status] : "?";
}

/* The report of a re-patch that wrote nothing: modes as they are now, no
 * bytes written; the plan's rejects and reasons stay (they say why). */
static int unchanged(const struct pvpatch *pv, struct pvpatch_report *rep, unsigned int status)
{
	if (!rep)
		return (int)status;
	rep->status = status;
	if (!pv || !pv->ready)
		return (int)status;
	rep->written = 0;
	rep->bytes_changed = 0;
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		rep->op_bytes[op] = 0;
		for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++)
			rep->op_mode[op][m] = 0;
	}
	for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++)
		rep->mode[m] = 0;
	for (unsigned int i = 0; i < patcher_nr_sites(pv); i++) {
		if (pv->state[i].reason)
			continue;
		rep->mode[pv->state[i].mode]++;
		rep->op_mode[pv->sites[i].op][pv->state[i].mode]++;
	}
	rep->thunk_bytes = (unsigned int)pv->thunks_used;
	return (int)status;
}

static bool in_thunks(const struct pvpatch *pv, uintptr_t a)
{
	return pv->thunks && a >= (uintptr_t)pv->thunks && a - (uintptr_t)pv->thunks < pv->thunks_size;
}

/* a inside a changing site: start < a <= end, or start < a < end for a RIP. */
static bool in_changing_site(const struct pvpatch *pv, const struct plan *pl, uintptr_t a,
			     bool rip)
{
	int i = patcher_site_around(pv, a);

	return i >= 0 && (pl->mode[i] & PLAN_CHANGES) &&
	       (!rip || a != patcher_site_addr(pv, (unsigned int)i) + pv->sites[i].site_len);
}

/* a inside a family a changing CALL site calls (by address or class). */
static bool in_busy_family(const struct pvpatch *pv, const struct plan *pl,
			   const struct pvpatch_rendezvous *rv, uintptr_t a)
{
	for (unsigned int f = 0; rv->families && f < rv->n_families; f++) {
		uintptr_t start = (uintptr_t)rv->families[f].start, end = (uintptr_t)rv->families[f].end;

		if (a < start || a >= end)
			continue;
		for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
			const struct pvpatch_op_info *info = &pvpatch_op_table[op];
			uintptr_t be = (uintptr_t)pv->call_backend[op];
			const char *c = rv->families[f].cls;
			bool same_cls = c && info->cls;

			for (unsigned int k = 0; same_cls && (c[k] || info->cls[k]); k++)
				same_cls = c[k] == info->cls[k];
			if (pl->call_op[op] && (same_cls || (be >= start && be < end)))
				return true;
		}
	}
	return false;
}

static bool busy_word(const struct pvpatch *pv, const struct plan *pl, uintptr_t w)
{
	return in_thunks(pv, w) || in_changing_site(pv, pl, w, false);
}

/* Step 3 for one context: false, with what and where in the report, when
 * the CPU is inside (or will return into) what changes. */
static bool ctx_quiescent(const struct pvpatch *pv, const struct plan *pl,
			  const struct pvpatch_rendezvous *rv, const struct pvpatch_cpu_context *c,
			  unsigned int cpu, struct pvpatch_report *rep)
{
	uintptr_t found = 0, at = 0;
	bool busy = false;

	if (in_thunks(pv, c->rip) || in_changing_site(pv, pl, c->rip, true) ||
	    in_busy_family(pv, pl, rv, c->rip)) {
		busy = true;
		found = c->rip;
	} else if (c->rsp > c->stack_top || c->stack_top - c->rsp > PVPATCH_STACK_SCAN_MAX) {
		busy = true;
		found = c->rsp;
		at = c->rsp;
	} else {
		uintptr_t phase[2] = { c->rsp, (c->rsp + 7) & ~(uintptr_t)7 };

		for (unsigned int k = 0; k < 2 && !busy; k++) {
			if (k && phase[1] == phase[0])
				break;
			for (uintptr_t p = phase[k]; p <= c->stack_top && c->stack_top - p >= 8; p += 8) {
				uintptr_t w;

				__builtin_memcpy(&w, (const void *)p, sizeof(w));
				if (busy_word(pv, pl, w)) {
					busy = true;
					found = w;
					at = p;
					break;
				}
			}
		}
	}
	if (busy && rep) {
		rep->busy_cpu = cpu;
		rep->busy_addr = found;
		rep->busy_at = at;
	}
	return !busy;
}

static bool quiescent(const struct pvpatch *pv, const struct plan *pl,
		      const struct pvpatch_rendezvous *rv, unsigned int n,
		      struct pvpatch_report *rep)
{
	if (pv->flags & PVPATCH_F_NO_QUIESCE_DEBUG)
		return true;
	for (unsigned int k = 0; k < n; k++)
		if (!ctx_quiescent(pv, pl, rv, &rv->ctx[k], k, rep))
			return false;
	return true;
}

int pvpatch_repatch(struct pvpatch *pv, const struct pvpatch_policy *policy,
		    const struct pvpatch_rendezvous *rv, struct pvpatch_report *report)
{
	struct pvpatch_report *rep = report;
	struct plan pl = { .bytes = NULL };
	unsigned int n, tries, t, reclaimed;
	size_t used_before;
	bool changes = false, failed = false;

	if (rep)
		pv_zero(rep, sizeof(*rep));
	if (!pv || !rv || !rv->stop || !rv->release || (rv->max_ctx && !rv->ctx) || !pv->sites ||
	    pv->sites_end < pv->sites || !rv->scratch ||
	    rv->scratch_size < PVPATCH_REPATCH_SCRATCH(pv->sites_end - pv->sites,
						       pv->thunks ? pv->thunks_size : 0))
		return unchanged(NULL, rep, PVPATCH_RP_UNUSABLE);
	if (patcher_begin(pv, policy, rep))
		return unchanged(NULL, rep, PVPATCH_RP_UNUSABLE);
	n = patcher_nr_sites(pv);
	pl.bytes = rv->scratch;
	pl.mode = pl.bytes + (size_t)n * PVPATCH_MAX_SITE;
	pl.stage = pl.mode + n;

	/* 1. Plan. */
	used_before = pv->thunks_used;
	thunk_plan_begin(pv, pl.stage);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int changed = 0;
		int why = PVPATCH_OK, mode = -1;

		if (pv->state[i].reason)
			patcher_report_invalid(pv, i, rep);
		else
			mode = patcher_plan_site(pv, i, policy, rep, pl.bytes + (size_t)i * PVPATCH_MAX_SITE,
						 &changed, &why);
		patcher_clear_override(pv, i);
		failed = failed || why == PVPATCH_E_THUNK_SPACE || why == PVPATCH_E_THUNK_INDEX;
		pl.mode[i] = mode < 0 ? PLAN_KEEP : (uint8_t)(mode | (changed ? PLAN_CHANGES : 0));
		if (mode >= 0 && changed) {
			changes = true;
			pl.call_op[pv->sites[i].op] |= pv->state[i].mode == PVPATCH_MODE_CALL;
		}
	}
	if (failed) {
		thunk_plan_abort(pv, used_before);
		return unchanged(pv, rep, PVPATCH_RP_PLAN);
	}
	thunk_plan_end(pv);
	if (!changes && !thunk_any_uncalled(pv)) {
		patcher_finish(pv, policy, rep);
		return 0;
	}

	/* 2-4. Stop until quiescent, a bounded number of times. */
	tries = rv->tries ? rv->tries : PVPATCH_REPATCH_TRIES;
	for (t = 0; t < tries; t++) {
		int got = rv->stop(rv->arg, rv->ctx, rv->max_ctx);

		if (got < 0) {
			thunk_plan_abort(pv, used_before);
			return unchanged(pv, rep, PVPATCH_RP_STOP);
		}
		if (rep)
			rep->stops++;
		if (quiescent(pv, &pl, rv, (unsigned int)got < rv->max_ctx ? (unsigned int)got
									   : rv->max_ctx, rep))
			break;
		rv->release(rv->arg, false);
		if (rep)
			rep->retries++;
	}
	if (t == tries) {
		thunk_plan_abort(pv, used_before);
		return unchanged(pv, rep, PVPATCH_RP_BUSY);
	}

	/* 5. Write: the new thunks, then the sites that call them. */
	thunk_write_staged(pv, pl.stage);
	for (unsigned int i = 0; i < n; i++) {
		if (pl.mode[i] == PLAN_KEEP)
			continue;
		if (pl.mode[i] & PLAN_CHANGES)
			text_poke(pv, (void *)patcher_site_addr(pv, i), pl.bytes + (size_t)i * PVPATCH_MAX_SITE,
				  pv->sites[i].site_len);
		patcher_commit_site(pv, i, pl.mode[i] & (uint8_t)~PLAN_CHANGES);
	}
	/* 6. Give back what no site calls now. */
	reclaimed = thunk_reclaim(pv);
	patcher_finish(pv, policy, rep);
	if (rep) {
		rep->thunks_reclaimed = reclaimed;
		rep->busy_cpu = 0;
		rep->busy_addr = 0;
		rep->busy_at = 0;
	}
	/* 7. Serialise here, and (release's contract) on every other CPU. */
	if (rv->sync)
		rv->sync(rv->arg);
	rv->release(rv->arg, true);
	return 0;
}
