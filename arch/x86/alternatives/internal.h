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
int emit_inline(const struct site *s, const struct pvpatch_op_policy *pol, uint8_t *out);
int emit_call(struct pvpatch *pv, const struct site *s, const void *backend, bool preserves,
	      uint8_t *out);

/* Print a site's bytes before and after (PVPATCH_F_DEBUG). */
void debug_site(const struct pvpatch *pv, const struct site *s, const uint8_t *old,
		const uint8_t *new, unsigned int mode);

/* Every write to text, site or thunk, goes through here. */
void text_poke(struct pvpatch *pv, void *addr, const void *src, size_t len);

/* Fit a template to a site; on success *len is the code length. */
int template_fit(const struct pvpatch_template *t, const uint64_t *params,
		 const struct site *s, struct enc *e);

#endif
