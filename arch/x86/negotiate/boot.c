// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The boot call (asm/pvpatch-boot.h): everything between a kernel's early
 * setup and its first patched site, for a kernel linked with pvpatch's
 * linker fragments.  Runs once, on the boot CPU, interrupts off.
 */
#include <asm/pvpatch-boot.h>
#include "../alternatives/util.h"

/* What the kernel's backends assume (pvpatch.mk passes PVPATCH_STACK_ALIGN,
 * derived from PVPATCH_KERNEL_CFLAGS): the System V 16 bytes unless told. */
#ifndef PVPATCH_STACK_ALIGN
#define PVPATCH_STACK_ALIGN	PVPATCH_STACK_ALIGN_16
#endif
_Static_assert(PVPATCH_STACK_ALIGN == PVPATCH_STACK_ALIGN_8 ||
	       PVPATCH_STACK_ALIGN == PVPATCH_STACK_ALIGN_16, "PVPATCH_STACK_ALIGN: 8 or 16");

void pvpatch_linked_init(struct pvpatch *pv)
{
	size_t n = (size_t)(__pvpatch_sites_end - __pvpatch_sites_start);

	pv->sites = __pvpatch_sites_start;
	pv->sites_end = __pvpatch_sites_end;
	pv->state = n ? __pvpatch_state_start : NULL;
	pv->saved = __pvpatch_saved_start;
	pv->saved_size = (size_t)(__pvpatch_saved_end - __pvpatch_saved_start);
	pv->thunks = __pvpatch_thunks_start;
	pv->thunks_size = (size_t)(__pvpatch_thunks_end - __pvpatch_thunks_start);
	pv->thunk_index = __pvpatch_thunk_index_start;
	pv->thunk_slots = (size_t)(__pvpatch_thunk_index_end - __pvpatch_thunk_index_start);
	pv->image = __pvpatch_image_start;
	pv->image_size = (size_t)(__pvpatch_image_end - __pvpatch_image_start);
}

static void summary(const struct pvpatch_env *env, const struct pvpatch_negotiation *neg)
{
	const struct pvpatch_hv_facts *f = &neg->facts;
	struct pv_line l = { .n = 0 };

	put_s(&l, "pvpatch: hypervisor '");
	put_s(&l, f->signature);
	put_s(&l, "' KVM features 0x");
	put_x(&l, f->kvm_features, 8);
	put_s(&l, f->vmport ? (f->vmport_gethz ? ", backdoor with GETHZ" : ", backdoor") : "");
	put_s(&l, "; policy ");
	put_s(&l, neg->source);
	if (!pv_strcmp(neg->source, "off")) {
		line_print(env->print, &l);
		return;
	}
	put_s(&l, "; ");
	put_u(&l, neg->backend_bytes_freed);
	put_s(&l, " bytes of unused backends freed");
	line_print(env->print, &l);
}

void pvpatch_decide(const struct pvpatch_env *env, struct pvpatch_negotiation *neg,
		    const char *profile)
{
	const char *too_big = NULL;
	long len = -1;

	pv_zero(neg, sizeof(*neg));
	pvpatch_cmdline_parse(env->cmdline, &neg->cmd, env->print);
	if (profile)
		neg->cmd.profile[0] = 0;	/* the caller's profile, not the command line's */
	pvpatch_observe(env, &neg->facts);
	pvpatch_backends_collect(neg, __pvpatch_backends_start,
				 (size_t)(__pvpatch_backends_end - __pvpatch_backends_start),
				 env->print);
	if (!neg->cmd.off && env->rom_buf && !profile)
		len = pvpatch_fwcfg_read(env, PVPATCH_ROM_FWCFG_NAME, env->rom_buf, env->rom_size);
	if (len >= 0 && (size_t)len > env->rom_size) {
		too_big = "larger than the kernel's ROM buffer";
		len = -1;
	}
	pvpatch_negotiate(neg, env->rom_buf, len, profile ? profile : env->profile, env->print);
	if (too_big) {
		struct pv_line l = { .n = 0 };

		neg->rom_refused = too_big;
		put_s(&l, "pvpatch: ROM refused: ");
		put_s(&l, too_big);
		line_print(env->print, &l);
	}
}

int pvpatch_boot(struct pvpatch *pv, const struct pvpatch_env *env,
		 struct pvpatch_negotiation *neg)
{
	uint64_t t0;

	if (!pv->sites)
		pvpatch_linked_init(pv);
	if (!pv->stack_align)
		pv->stack_align = PVPATCH_STACK_ALIGN;
	if (!pv->print)
		pv->print = env->print;
	pvpatch_decide(env, neg, NULL);
	if (neg->cmd.debug)
		pv->flags |= PVPATCH_F_DEBUG;
	if (neg->cmd.poison)
		pv->flags |= PVPATCH_F_POISON;
	t0 = env->clock ? env->clock() : 0;
	if (pvpatch_apply(pv, &neg->policy, &neg->report))
		return -1;
	neg->apply_time = env->clock ? env->clock() - t0 : 0;
	/* A kernel that will re-patch (on a schedule, or when the host says)
	 * keeps every family. */
	neg->backend_bytes_freed = neg->cmd.repatch.n || env->keep_backends ? 0 :
		pvpatch_free_backends(pv, pvpatch_linked_families, pvpatch_nr_linked_families, 0xcc);
	pvpatch_report_print(pv, &neg->report);
	summary(env, neg);
	return 0;
}
