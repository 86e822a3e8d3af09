/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* Shared between the parts of the runtime patcher; not for kernels. */
#ifndef PVPATCH_ALTERNATIVES_INTERNAL_H
#define PVPATCH_ALTERNATIVES_INTERNAL_H

#include <asm/pvpatch.h>
#include "encode.h"

/* One site as the emitters see it, decoded from a valid record. */
struct site {
	uint8_t *addr;
	const struct pvpatch_op_info *info;
	uint8_t len;
	uint8_t native_len;
	uint16_t free;			/* registers the site may change */
	int8_t ret;			/* register, or -1 */
	int8_t arg[PVPATCH_MAX_ARGS];	/* registers, nargs of them */
	uint8_t nargs;
	const uint8_t *saved;		/* original native bytes */
};

/* Emitters write the whole new site into out[0..site->len) or fail with a
 * reason (enum pvpatch_reason), leaving out meaningless. */
int emit_native(const struct site *s, uint8_t *out);
int emit_nop(const struct site *s, uint8_t *out);
int emit_inline(struct pvpatch *pv, const struct site *s, const struct pvpatch_op_policy *pol,
		uint8_t *out);
int emit_inline_stub(struct pvpatch *pv, const struct site *s, const struct pvpatch_op_policy *pol,
		     uint8_t *out);
int emit_call(struct pvpatch *pv, const struct site *s, const void *backend, uint16_t writes,
	      uint8_t *out);
int emit_poison(struct pvpatch *pv, const struct site *s, unsigned int mode,
		const struct pvpatch_op_policy *pol, uint8_t *out);

/* The poison value of register n is PVPATCH_POISON_VALUE | n. */
#define PVPATCH_POISON_VALUE 0xdead000000000000ull

/* Print a site's bytes before and after (PVPATCH_F_DEBUG). */
void debug_site(const struct pvpatch *pv, const struct site *s, const uint8_t *old,
		const uint8_t *new, unsigned int mode);

/* Every write to text, site or thunk, goes through here. */
void text_poke(struct pvpatch *pv, void *addr, const void *src, size_t len);

/* patch.c: the steps of pvpatch_apply(), which pvpatch_repatch() reuses. */
unsigned int patcher_nr_sites(const struct pvpatch *pv);
uintptr_t patcher_site_addr(const struct pvpatch *pv, unsigned int i);
int patcher_site_around(const struct pvpatch *pv, uintptr_t a);
int patcher_begin(struct pvpatch *pv, const struct pvpatch_policy *pol,
		  struct pvpatch_report *rep);
int patcher_plan_site(struct pvpatch *pv, unsigned int i, const struct pvpatch_policy *pol,
		      struct pvpatch_report *rep, uint8_t *out, unsigned int *changed, int *why);
void patcher_commit_site(struct pvpatch *pv, unsigned int i, unsigned int mode);
void patcher_clear_override(struct pvpatch *pv, unsigned int i);
void patcher_report_invalid(struct pvpatch *pv, unsigned int i, struct pvpatch_report *rep);
void patcher_finish(struct pvpatch *pv, const struct pvpatch_policy *pol,
		    struct pvpatch_report *rep);

/* call.c: the thunk index, at the first pvpatch_apply(). */
void thunk_index_init(struct pvpatch *pv);

/* call.c: the thunk area during a pvpatch_repatch(). */
void thunk_plan_begin(struct pvpatch *pv, uint8_t *stage);
void thunk_plan_abort(struct pvpatch *pv, size_t thunks_used);
void thunk_plan_end(struct pvpatch *pv);
void thunk_write_staged(struct pvpatch *pv, const uint8_t *stage);
unsigned int thunk_reclaim(struct pvpatch *pv);
bool thunk_any_uncalled(const struct pvpatch *pv);

/* Fit a template to a site; on success *len is the code length. */
int template_fit(const struct pvpatch_template *t, const uint64_t *params,
		 const struct site *s, struct enc *e);

#endif
