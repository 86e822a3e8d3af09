// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * From what the kernel observed to a policy (asm/pvpatch-boot.h): the
 * hypervisor's feature ROM when it is sound, else the built-in profile for
 * the hypervisor found (or named), then the command line's overrides.  It
 * runs unchanged at boot, in tools/pvrom check (build/tools/pvrom-sim) and
 * in the ROM fuzzer, so an offline prediction is the boot's own decision.
 */
#include <asm/pvpatch-boot.h>
#include "../alternatives/util.h"

/* Built into a kernel by pvpatch.mk; weak so that hosted builds without
 * profiles link (no profile is then found). */
extern const struct pvpatch_builtin_profile pvpatch_builtin_profiles[] __attribute__((weak));
extern const unsigned int pvpatch_nr_builtin_profiles __attribute__((weak));

const struct pvpatch_builtin_profile *pvpatch_builtin_profile(const char *name)
{
	if (!pvpatch_builtin_profiles || !&pvpatch_nr_builtin_profiles || !name)
		return NULL;
	for (unsigned int i = 0; i < pvpatch_nr_builtin_profiles; i++)
		if (!pv_strcmp(pvpatch_builtin_profiles[i].name, name))
			return &pvpatch_builtin_profiles[i];
	return NULL;
}

void pvpatch_backends_collect(struct pvpatch_negotiation *neg,
			      const struct pvpatch_backend_rec *recs, size_t n,
			      void (*print)(const char *))
{
	neg->recs = recs;
	neg->n_recs = n;
	for (size_t i = 0; i < n; i++) {
		const struct pvpatch_backend_rec *r = &recs[i];
		struct pv_line l = { .n = 0 };

		if (r->op > PVPATCH_MAX_OP || !pvpatch_op_table[r->op].name || !r->fn) {
			put_s(&l, "pvpatch: warning: backend record for unknown op ");
			put_u(&l, r->op);
		} else if (r->id) {
			continue;	/* one a ROM names by its id */
		} else if (neg->backend[r->op]) {
			put_s(&l, "pvpatch: warning: a second backend for ");
			put_s(&l, pvpatch_op_table[r->op].name);
			put_s(&l, " ignored");
		} else {
			neg->backend[r->op] = (const void *)(uintptr_t)r->fn;
			neg->preserves[r->op] = r->flags & PVPATCH_BACKEND_F_PRESERVES;
			neg->writes[r->op] = pvpatch_backend_writes(r);
			continue;
		}
		line_print(print, &l);
	}
}

static void set_source(struct pvpatch_negotiation *neg, const char *what, const char *name)
{
	struct pv_line l = { .n = 0 };
	unsigned int i;

	put_s(&l, what);
	if (name) {
		put_s(&l, ":");
		put_s(&l, name);
	}
	for (i = 0; i < l.n && i < sizeof(neg->source) - 1; i++)
		neg->source[i] = l.buf[i];
	neg->source[i] = 0;
}

static bool policy_from(struct pvpatch_negotiation *neg, const void *rom, size_t len,
			const char **why)
{
	const struct pvpatch_rom_env env = {
		.facts = &neg->facts, .backends = neg->backend, .preserves = neg->preserves,
		.writes = neg->writes,
		.recs = neg->recs, .n_recs = neg->n_recs,
	};

	return !pvpatch_rom_policy(rom, len, &env, &neg->policy, &neg->store, why);
}

/* The command line's op modes, and its site overrides after the policy's. */
static void apply_cmdline(struct pvpatch_negotiation *neg)
{
	struct pvpatch_policy *p = &neg->policy;
	unsigned int n = 0;

	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		if (neg->cmd.op_mode[op] >= 0)
			p->op[op].mode = (uint8_t)neg->cmd.op_mode[op];
	for (unsigned int i = 0; i < p->n_overrides && i < PVPATCH_ROM_MAX_OVERRIDES; i++)
		neg->overrides[n++] = p->overrides[i];
	for (unsigned int i = 0; i < neg->cmd.n_sites && i < PVPATCH_CMDLINE_MAX_SITES; i++)
		neg->overrides[n++] = neg->cmd.site[i];
	p->overrides = n ? neg->overrides : NULL;
	p->n_overrides = n;
}

void pvpatch_negotiate(struct pvpatch_negotiation *neg, const void *rom, long rom_len,
		       const char *profile, void (*print)(const char *))
{
	const struct pvpatch_builtin_profile *b;
	struct pv_line l = { .n = 0 };
	const char *why = NULL;
	bool chosen = false;

	pv_zero(&neg->policy, sizeof(neg->policy));
	neg->rom_refused = NULL;
	if (neg->cmd.off) {
		set_source(neg, "off", NULL);
		return;
	}
	if (rom && rom_len >= 0) {
		chosen = policy_from(neg, rom, (size_t)rom_len, &why);
		if (chosen) {
			set_source(neg, "rom", neg->store.hypervisor);
		} else {
			neg->rom_refused = why;
			put_s(&l, "pvpatch: ROM refused: ");
			put_s(&l, why);
			put_s(&l, "; using the built-in profile");
			line_print(print, &l);
		}
	}
	if (!chosen) {
		const char *name = neg->cmd.profile[0] ? neg->cmd.profile :
				   profile ? profile : pvpatch_profile_for(&neg->facts);

		b = pvpatch_builtin_profile(name);
		if (b && policy_from(neg, b->rom, b->len, &why)) {
			set_source(neg, "built-in", name);
		} else {
			/* A built-in profile is the kernel's own data: refused, it
			 * means a build gone wrong; every site stays native. */
			pv_zero(&neg->policy, sizeof(neg->policy));
			for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
				neg->policy.op[op].backend = neg->backend[op];
				neg->policy.op[op].preserves = neg->preserves[op];
				neg->policy.op[op].writes = neg->writes[op];
			}
			set_source(neg, b ? "refused-profile" : "unknown-profile", name);
			put_s(&l, "pvpatch: ");
			put_s(&l, b ? "built-in profile refused: " : "no built-in profile ");
			put_s(&l, b ? why : name);
			put_s(&l, "; every site native");
			line_print(print, &l);
		}
	}
	apply_cmdline(neg);
}
