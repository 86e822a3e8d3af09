/*
 * Negotiation and patching: choose the policy -- the feature ROM the
 * hypervisor publishes through fw_cfg when it is sound, else the built-in
 * profile (the same ROM format, generated from hypervisor-features/) for the
 * detected hypervisor or the one named on the command line -- apply command
 * line overrides, patch, free the backend families no site calls, report.
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"

extern const struct pvpatch_site __pvpatch_sites_start[], __pvpatch_sites_end[];
extern char __text_start[], __text_end[];
extern uint8_t pv_thunk_area[], pv_thunk_area_end[];

#define FAMILY(cls) \
	extern uint8_t __pvbackend_##cls##_start[], __pvbackend_##cls##_end[];
#define FAMILIES(X) X(irq) X(cpu) X(mmu) X(msr) X(time) X(io) X(apic) X(sched) X(mem) X(desc)
FAMILIES(FAMILY)
#define FAMILY_ENTRY(cls) { #cls, __pvbackend_##cls##_start, __pvbackend_##cls##_end },
static const struct pvpatch_backend_family families[] = { FAMILIES(FAMILY_ENTRY) };

#define ROM_MAX 65536
static uint8_t rom_buf[ROM_MAX];
static struct pvpatch_rom_store rom_store;
static size_t backend_bytes_freed;

extern const struct ksym __ksyms_start[], __ksyms_end[];

#define MAX_SITES 4096

static struct pvpatch_site_state site_state[MAX_SITES];
static uint8_t saved_bytes[MAX_SITES * 8];

struct pvpatch pv;
struct pvpatch_policy policy;
struct pvpatch_report report;
const char *policy_source = "none";
static const char *rom_refused;

static void print_line(const char *s)
{
	console_puts(s);
	console_puts("\n");
}

static uintptr_t lookup(const char *func)
{
	for (const struct ksym *k = __ksyms_start; k < __ksyms_end; k++)
		if (!strcmp(k->name, func))
			return (uintptr_t)k->addr;
	return 0;
}

static const char *ksym_of(uintptr_t a, uintptr_t *off)
{
	const struct ksym *best = NULL;

	for (const struct ksym *k = __ksyms_start; k < __ksyms_end; k++)
		if ((uintptr_t)k->addr <= a && (!best || k->addr > best->addr))
			best = k;
	if (!best)
		return NULL;
	*off = a - (uintptr_t)best->addr;
	return best->name;
}

void site_describe(uint64_t rip, char *buf, size_t size)
{
	buf[0] = 0;
	for (const struct pvpatch_site *s = __pvpatch_sites_start; s < __pvpatch_sites_end; s++) {
		uintptr_t a = (uintptr_t)pvpatch_site_addr(s);
		const struct pvpatch_op_info *info = s->op <= PVPATCH_MAX_OP ? &pvpatch_op_table[s->op] : NULL;
		unsigned int i = (unsigned int)(s - __pvpatch_sites_start);

		if (rip >= a && rip < a + s->site_len && info && info->name) {
			ksnprintf(buf, size, " in site 0x%lx (op %s, mode %s)", (unsigned long)a,
				  info->name, mode_name(site_state[i].mode));
			return;
		}
	}
}

const struct pvpatch_site *site_find(const void *fn, unsigned int op)
{
	const struct pvpatch_site *best = NULL;

	for (const struct pvpatch_site *s = __pvpatch_sites_start; s < __pvpatch_sites_end; s++) {
		const uint8_t *a = pvpatch_site_addr(s);

		if (s->op == op && a >= (const uint8_t *)fn &&
		    (!best || a < (const uint8_t *)pvpatch_site_addr(best)))
			best = s;
	}
	return best;
}

unsigned int sites_of_op(unsigned int op, unsigned int mode)
{
	return report.op_mode[op][mode];
}

static void report_json(unsigned long cost)
{
	unsigned int sites = report.sites ? report.sites : 1;

	kprintf("# pvpatch-report: {\"source\": \"%s\", \"hypervisor\": \"%s\", "
		"\"signature\": \"%s\", \"kvm_features\": %u, \"vmport\": %d, "
		"\"vmport_gethz\": %d, \"sites\": %u, \"invalid\": %u, \"written\": %u, "
		"\"bytes_changed\": %u, \"fallbacks\": %u, \"rejected\": %u, "
		"\"thunk_bytes\": %u, \"backend_bytes_freed\": %lu, \"rom_refused\": \"%s\", "
		"\"patch_tsc\": %lu, \"patch_tsc_per_site\": %lu, "
		"\"modes\": {\"NATIVE\": %u, \"NOP\": %u, \"INLINE\": %u, \"CALL\": %u}}\n",
		policy_source, hv_name(), hv.signature, hv.kvm_features, hv.vmport,
		hv.vmport_gethz, report.sites, report.invalid, report.written,
		report.bytes_changed, report.fallbacks, report.n_rejects, report.thunk_bytes,
		(unsigned long)backend_bytes_freed, rom_refused ? rom_refused : "", cost, cost / sites, report.mode[0], report.mode[1], report.mode[2],
		report.mode[3]);
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		const unsigned int *m = report.op_mode[op];

		if (!pvpatch_op_table[op].name || !(m[0] | m[1] | m[2] | m[3]))
			continue;
		kprintf("# pvpatch-op: {\"op\": \"%s\", \"NATIVE\": %u, \"NOP\": %u, "
			"\"INLINE\": %u, \"CALL\": %u, \"bytes\": %u}\n",
			pvpatch_op_table[op].name, m[0], m[1], m[2], m[3], report.op_bytes[op]);
	}
	for (unsigned int k = 0; k < report.n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &report.rejects[k];
		uintptr_t off = 0;
		const char *fn = ksym_of(j->site, &off);

		kprintf("# pvpatch-reject: {\"site\": %lu, \"where\": \"%s+0x%lx\", \"op\": \"%s\", "
			"\"wanted\": \"%s\", \"got\": \"%s\", \"reason\": \"%s\"}\n",
			(unsigned long)j->site, fn ? fn : "?", (unsigned long)off,
			j->op <= PVPATCH_MAX_OP && pvpatch_op_table[j->op].name ?
				pvpatch_op_table[j->op].name : "-",
			mode_name(j->wanted), mode_name(j->got), pvpatch_reason_str(j->reason));
	}
}

static void apply_cmdline(void)
{
	static struct pvpatch_override overrides[MAX_OVERRIDES * 2];

	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		if (cmd.op_mode[op] >= 0)
			policy.op[op].mode = (uint8_t)cmd.op_mode[op];
	unsigned int n = 0;

	for (unsigned int i = 0; i < policy.n_overrides && n < MAX_OVERRIDES * 2; i++)
		overrides[n++] = policy.overrides[i];
	for (unsigned int i = 0; i < cmd.n_sites && n < MAX_OVERRIDES * 2; i++)
		overrides[n++] = cmd.site[i];
	policy.overrides = overrides;
	policy.n_overrides = n;
}

static bool builtin_policy(const char *name)
{
	const struct pvpatch_hv_facts facts = { hv.kvm_features, hv.vmport, hv.vmport_gethz };
	const char *why;

	for (unsigned int i = 0; i < pvpatch_nr_builtin_profiles; i++) {
		const struct pvpatch_builtin_profile *b = &pvpatch_builtin_profiles[i];

		if (strcmp(b->name, name))
			continue;
		if (pvpatch_rom_policy(b->rom, b->len, &facts, backend_table, &policy,
				       &rom_store, &why))
			panic("built-in profile %s refused: %s", name, why);
		return true;
	}
	return false;
}

/* The hypervisor's ROM, if fw_cfg has one and it is sound. */
static bool rom_policy(void)
{
	const struct pvpatch_hv_facts facts = { hv.kvm_features, hv.vmport, hv.vmport_gethz };
	long len = fwcfg_read_file(PVPATCH_ROM_FWCFG_NAME, rom_buf, sizeof(rom_buf));

	if (len < 0)
		return false;
	if ((size_t)len > sizeof(rom_buf)) {
		rom_refused = "larger than the kernel accepts";
	} else if (pvpatch_rom_policy(rom_buf, (size_t)len, &facts, backend_table, &policy,
				      &rom_store, &rom_refused)) {
	} else {
		return true;
	}
	kprintf("pvpatch: ROM refused: %s; using the built-in profile\n", rom_refused);
	return false;
}

void pvsetup(void)
{
	static char source[48];
	const char *profile = profile_choose();
	uint64_t t0, t1;

	pv = (struct pvpatch){
		.sites = __pvpatch_sites_start, .sites_end = __pvpatch_sites_end,
		.text_start = (uintptr_t)__text_start, .text_end = (uintptr_t)__text_end,
		.state = site_state, .saved = saved_bytes, .saved_size = sizeof(saved_bytes),
		.thunks = pv_thunk_area, .thunks_size = (size_t)(pv_thunk_area_end - pv_thunk_area),
		.lookup = lookup, .print = print_line,
		.flags = cmd.debug ? PVPATCH_F_DEBUG : 0,
	};
	if ((size_t)(__pvpatch_sites_end - __pvpatch_sites_start) > MAX_SITES)
		panic("more than %d pvpatch sites", MAX_SITES);
	memset(&policy, 0, sizeof(policy));
	if (cmd.off) {
		policy_source = "off";
	} else if (rom_policy()) {
		ksnprintf(source, sizeof(source), "rom:%s", rom_store.hypervisor);
		policy_source = source;
		kprintf("pvpatch: using the hypervisor's ROM '%s' (%u entries, %u for unknown ops)\n",
			rom_store.hypervisor, rom_store.entries_used, rom_store.entries_ignored);
	} else if (builtin_policy(profile)) {
		ksnprintf(source, sizeof(source), "built-in:%s", profile);
		policy_source = source;
	} else {
		kprintf("pvpatch: unknown profile '%s', all native\n", profile);
		policy_source = "unknown-profile";
	}
	if (!cmd.off)
		apply_cmdline();
	/* The guest's backends are PVPATCH_BACKEND: they keep every register. */
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++)
		policy.op[op].preserves = 1;
	t0 = rdtsc_raw();
	if (pvpatch_apply(&pv, &policy, &report))
		panic("pvpatch_apply refused the site table");
	t1 = rdtsc_raw();
	backend_bytes_freed = pvpatch_free_backends(&pv, families,
						    sizeof(families) / sizeof(families[0]), 0xcc);
	pvpatch_report_print(&pv, &report);
	kprintf("pvpatch: %lu bytes of unused backends freed\n", (unsigned long)backend_bytes_freed);
	report_json((unsigned long)(t1 - t0));
}

/* The profile for the hypervisor found, unless the command line names one. */
const char *profile_choose(void)
{
	if (cmd.profile)
		return cmd.profile;
	switch (hv.kind) {
	case HV_KVM:
		return "kvm-vt";
	case HV_TCG:
		return "tcg";
	default:
		return "bare-metal";
	}
}

bool op_is_kvm_hypercall(unsigned int op)
{
	return policy.op[op].mode == PVPATCH_MODE_INLINE &&
	       pvpatch_template_uses(policy.op[op].tmpl, PVT_VMCALL);
}
