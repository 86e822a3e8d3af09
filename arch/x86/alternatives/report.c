// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The patcher's report and debug dump, printed through the kernel's
 * print hook one line at a time (no printf in a freestanding patcher).
 */
#include <asm/pvpatch-boot.h>
#include "internal.h"
#include "util.h"

static const char *const reasons[PVPATCH_NR_REASONS] = {
	[PVPATCH_OK] = "ok",
	[PVPATCH_E_VERSION] = "record version unknown",
	[PVPATCH_E_OP] = "unknown op",
	[PVPATCH_E_RANGE] = "site outside the text range",
	[PVPATCH_E_LENGTH] = "site lengths inconsistent with the op",
	[PVPATCH_E_FLAGS] = "record flags or registers inconsistent with the op",
	[PVPATCH_E_OVERLAP] = "site overlaps another site",
	[PVPATCH_E_DECODE] = "native bytes do not decode to the native length",
	[PVPATCH_E_SAVE] = "no room to keep the original bytes",
	[PVPATCH_E_IMAGE] = "pre-patched image header or slot unusable",
	[PVPATCH_E_MODE] = "mode not allowed for this op",
	[PVPATCH_E_NO_TEMPLATE] = "INLINE without a template",
	[PVPATCH_E_NO_BACKEND] = "CALL without a backend",
	[PVPATCH_E_TOO_LONG] = "code longer than the site",
	[PVPATCH_E_CLOBBER] = "template changes a live register",
	[PVPATCH_E_INSN] = "template instruction not allowed",
	[PVPATCH_E_ARG_LOST] = "template reads an argument it overwrote",
	[PVPATCH_E_NO_RESULT] = "template does not produce the result",
	[PVPATCH_E_STACK] = "template pushes and pops do not balance",
	[PVPATCH_E_NO_SCRATCH] = "no free scratch register",
	[PVPATCH_E_CALL_RANGE] = "call target out of rel32 range",
	[PVPATCH_E_THUNK_SPACE] = "thunk area full",
	[PVPATCH_E_OVERRIDE] = "override names no valid site",
	[PVPATCH_E_FREED] = "backend freed",
	[PVPATCH_E_RELOC] = "relative operand cannot be relocated",
	[PVPATCH_E_THUNK_INDEX] = "thunk index full",
};

const char *pvpatch_reason_str(enum pvpatch_reason r)
{
	return (unsigned int)r < PVPATCH_NR_REASONS ? reasons[r] : "?";
}

static void emit(const struct pvpatch *pv, struct pv_line *l)
{
	line_print(pv->print, l);
}

const char *pvpatch_mode_name(unsigned int m)
{
	return m < PVPATCH_NR_MODES ? pvpatch_mode_names[m] : "?";
}

void debug_site(const struct pvpatch *pv, const struct site *s, const uint8_t *old,
		const uint8_t *new, unsigned int mode)
{
	struct pv_line l = { .n = 0 };

	put_s(&l, "pvpatch: ");
	put_x(&l, (uintptr_t)s->addr, 16);
	put_s(&l, " ");
	put_s(&l, s->info->name);
	put_s(&l, " ");
	put_s(&l, pvpatch_mode_name(mode));
	put_s(&l, " old");
	for (unsigned int i = 0; i < s->len; i++) {
		put_s(&l, " ");
		put_x(&l, old[i], 2);
	}
	emit(pv, &l);
	put_s(&l, "pvpatch: ");
	put_x(&l, (uintptr_t)s->addr, 16);
	put_s(&l, " new");
	for (unsigned int i = 0; i < s->len; i++) {
		put_s(&l, " ");
		put_x(&l, new[i], 2);
	}
	emit(pv, &l);
}

void pvpatch_report_print(const struct pvpatch *pv, const struct pvpatch_report *rep)
{
	struct pv_line l = { .n = 0 };

	put_s(&l, "pvpatch: ");
	put_u(&l, rep->sites);
	put_s(&l, " sites, ");
	put_u(&l, rep->invalid);
	put_s(&l, " invalid, ");
	put_u(&l, rep->written);
	put_s(&l, " written, ");
	put_u(&l, rep->bytes_changed);
	put_s(&l, " bytes changed, ");
	put_u(&l, rep->fallbacks);
	put_s(&l, " fallbacks, ");
	put_u(&l, rep->thunk_bytes);
	put_s(&l, " thunk bytes");
	emit(pv, &l);
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		unsigned int total = 0;

		for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++)
			total += rep->op_mode[op][m];
		if (!total)
			continue;
		put_s(&l, "pvpatch:   ");
		put_s(&l, pvpatch_op_table[op].name);
		for (unsigned int m = 0; m < PVPATCH_NR_MODES; m++) {
			if (!rep->op_mode[op][m])
				continue;
			put_s(&l, " ");
			put_s(&l, pvpatch_mode_names[m]);
			put_s(&l, "=");
			put_u(&l, rep->op_mode[op][m]);
		}
		put_s(&l, " bytes=");
		put_u(&l, rep->op_bytes[op]);
		emit(pv, &l);
	}
	if (rep->poisoned || rep->unpoisoned) {
		put_s(&l, "pvpatch: poison: ");
		put_u(&l, rep->poisoned);
		put_s(&l, " sites poisoned, ");
		put_u(&l, rep->unpoisoned);
		put_s(&l, " widened sites not");
		for (unsigned int r = 0; r < PVPATCH_NR_REASONS; r++) {
			if (!rep->poison_reasons[r])
				continue;
			put_s(&l, "; ");
			put_s(&l, pvpatch_reason_str(r));
			put_s(&l, " ");
			put_u(&l, rep->poison_reasons[r]);
		}
		emit(pv, &l);
	}
	for (unsigned int k = 0; k < rep->n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &rep->rejects[k];

		put_s(&l, "pvpatch: reject ");
		put_x(&l, j->site, 16);
		put_s(&l, " op ");
		put_u(&l, j->op);
		put_s(&l, " wanted ");
		put_s(&l, pvpatch_mode_name(j->wanted));
		put_s(&l, " got ");
		put_s(&l, pvpatch_mode_name(j->got));
		put_s(&l, ": ");
		put_s(&l, pvpatch_reason_str(j->reason));
		emit(pv, &l);
	}
}
