// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * What a site becomes in the NATIVE, NOP and INLINE modes.  Each emitter
 * builds the complete new site in a buffer; the caller pokes it in one go.
 * Padding is one NOP of up to 11 bytes (at a NATIVE site always: the spec
 * check keeps every site within 11 bytes of its shortest native code), or a
 * short JMP over int3 after a long-enough call, so a site never executes
 * more than one padding instruction.
 */
#include "internal.h"

int emit_native(const struct site *s, uint8_t *out)
{
	struct enc e;

	enc_init(&e, out, s->len, (uintptr_t)s->addr);
	enc_bytes(&e, s->saved, s->native_len);
	enc_nops(&e, s->len - s->native_len);
	return enc_ok(&e) ? PVPATCH_OK : PVPATCH_E_TOO_LONG;
}

int emit_nop(const struct site *s, uint8_t *out)
{
	struct enc e;

	/* An op with a result cannot vanish: its result would be garbage. */
	if (s->info->nouts)
		return PVPATCH_E_MODE;
	enc_init(&e, out, s->len, (uintptr_t)s->addr);
	enc_nops(&e, s->len);
	return PVPATCH_OK;
}

int emit_inline(struct pvpatch *pv, const struct site *s, const struct pvpatch_op_policy *pol,
		uint8_t *out)
{
	struct enc e;
	int err;

	if (!pol->tmpl)
		return PVPATCH_E_NO_TEMPLATE;
	/* Outputs after the first are not recorded per site: a template can
	 * only produce them when they are pinned (cpuid, rdmsr, rdtsc). */
	for (int i = 1; i < s->info->nouts; i++)
		if (s->info->out_pin[i] < 0)
			return PVPATCH_E_MODE;
	enc_init(&e, out, s->len, (uintptr_t)s->addr);
	err = template_fit(pol->tmpl, pol->params, s, &e);
	/* Too long for the site: out of line, from a stub (call.c). */
	if (err == PVPATCH_E_TOO_LONG)
		return emit_inline_stub(pv, s, pol, out);
	if (err)
		return err;
	enc_nops(&e, s->len - e.len);
	return PVPATCH_OK;
}
