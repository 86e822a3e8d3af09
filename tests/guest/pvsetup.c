// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Patching, as any adopter does it: the kernel's hooks (port I/O, CPUID is
 * the instruction, the console, symbol lookup for func+offset overrides)
 * and one pvpatch_boot() call, which negotiates with the hypervisor,
 * patches and frees the unused backends.  What follows it is the test
 * guest's own: the machine-readable report tools/pvboot parses and the
 * site lookups the tests use.
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"

extern char __text_start[], __text_end[];

static uint8_t rom_buf[65536];

extern const struct ksym __ksyms_start[], __ksyms_end[];

struct pvpatch pv = { .text_start = (uintptr_t)__text_start, .text_end = (uintptr_t)__text_end };
struct pvpatch_negotiation neg;

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
				  info->name, pvpatch_mode_name(pv.state[i].mode));
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
	return neg.report.op_mode[op][mode];
}

/* "NATIVE": n, "NOP": n, ... for counts per mode (pvpatch_mode_names). */
static const char *modes_json(char *buf, unsigned long size, const unsigned int *m)
{
	unsigned long n = 0;

	buf[0] = 0;
	for (unsigned int k = 0; k < PVPATCH_NR_MODES && n < size; k++)
		n += (unsigned long)ksnprintf(buf + n, size - n, "%s\"%s\": %u", k ? ", " : "",
					      pvpatch_mode_names[k], m[k]);
	return buf;
}

static void report_json(unsigned long cost)
{
	const struct pvpatch_report *r = &neg.report;
	unsigned int sites = r->sites ? r->sites : 1;
	char modes[128];

	kprintf("# pvpatch-report: {\"source\": \"%s\", \"hypervisor\": \"%s\", "
		"\"signature\": \"%s\", \"kvm_features\": %u, \"vmport\": %d, "
		"\"vmport_gethz\": %d, \"sites\": %u, \"invalid\": %u, \"written\": %u, "
		"\"bytes_changed\": %u, \"fallbacks\": %u, \"rejected\": %u, "
		"\"thunk_bytes\": %u, \"backend_bytes_freed\": %lu, \"rom_refused\": \"%s\", "
		"\"patch_tsc\": %lu, \"patch_tsc_per_site\": %lu, "
		"\"poisoned\": %u, \"unpoisoned\": %u, \"modes\": {%s}}\n",
		neg.source, hv_name(), neg.facts.signature, neg.facts.kvm_features,
		neg.facts.vmport, neg.facts.vmport_gethz, r->sites, r->invalid, r->written,
		r->bytes_changed, r->fallbacks, r->n_rejects, r->thunk_bytes,
		(unsigned long)neg.backend_bytes_freed, neg.rom_refused ? neg.rom_refused : "",
		cost, cost / sites, r->poisoned, r->unpoisoned, modes_json(modes, sizeof(modes), r->mode));
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		const unsigned int *m = r->op_mode[op];

		unsigned int any = 0;

		for (unsigned int k = 0; k < PVPATCH_NR_MODES; k++)
			any |= m[k];
		if (!pvpatch_op_table[op].name || !any)
			continue;
		kprintf("# pvpatch-op: {\"op\": \"%s\", %s, \"bytes\": %u}\n",
			pvpatch_op_table[op].name, modes_json(modes, sizeof(modes), m),
			r->op_bytes[op]);
	}
	for (unsigned int k = 0; k < r->n_rejects && k < PVPATCH_MAX_REJECTS; k++) {
		const struct pvpatch_reject *j = &r->rejects[k];
		uintptr_t off = 0;
		const char *fn = ksym_of(j->site, &off);

		kprintf("# pvpatch-reject: {\"site\": %lu, \"where\": \"%s+0x%lx\", \"op\": \"%s\", "
			"\"wanted\": \"%s\", \"got\": \"%s\", \"reason\": \"%s\"}\n",
			(unsigned long)j->site, fn ? fn : "?", (unsigned long)off,
			j->op <= PVPATCH_MAX_OP && pvpatch_op_table[j->op].name ?
				pvpatch_op_table[j->op].name : "-",
			pvpatch_mode_name(j->wanted), pvpatch_mode_name(j->got), pvpatch_reason_str(j->reason));
	}
}

/* Sites per mode now (neg.report), before or after a host-triggered re-patch. */
void report_modes(const char *when)
{
	char modes[128];

	kprintf("# pvpatch-modes: {\"when\": \"%s\", \"source\": \"%s\", \"signature\": \"%s\", "
		"\"kvm_features\": %u, \"vmport\": %d, \"vmport_gethz\": %d, \"modes\": {%s}}\n",
		when, neg.source, neg.facts.signature, neg.facts.kvm_features, neg.facts.vmport,
		neg.facts.vmport_gethz, modes_json(modes, sizeof(modes), neg.report.mode));
}

/* Every valid site as patched, for the test comparing it with pvrom check
 * (kind "site"; "rsite" after the last re-patch). */
void dump_sites(const char *kind)
{
	for (unsigned int i = 0; i < (unsigned int)(pv.sites_end - pv.sites); i++) {
		const struct pvpatch_site *s = &pv.sites[i];
		const uint8_t *p = pvpatch_site_addr(s);

		if (pv.state[i].reason)
			continue;
		kprintf("# pvpatch-%s: {\"site\": %lu, \"mode\": \"%s\", \"bytes\": \"",
			kind, (unsigned long)(uintptr_t)p, pvpatch_mode_name(pv.state[i].mode));
		for (unsigned int b = 0; b < s->site_len; b++)
			kprintf("%02x", p[b]);
		kprintf("\"}\n");
	}
}

static uint8_t port_inb(uint16_t port)
{
	return inb(port);
}

static void port_outw(uint16_t port, uint16_t v)
{
	outw(port, v);
}

static const struct pvpatch_env env = {
	.print = print_line,
	.inb = port_inb, .outw = port_outw,
	/* QEMU's -machine pc always has vmport: probing it is harmless. */
	.probe_vmport = true,
	.rom_buf = rom_buf, .rom_size = sizeof(rom_buf),
	.clock = rdtsc_raw,
};

/*
 * The boot's negotiation again, at run time, for a re-patch
 * (pvpatch_decide()): the same command line, CPUID and KVM bits and the
 * backdoor probed again; profile NULL or "boot": then, as at boot, the ROM
 * fw_cfg publishes now, else the command line's or the hypervisor's
 * built-in profile; else the built-in profile named.  Quiet.
 */
void pv_renegotiate(struct pvpatch_negotiation *n, const char *profile)
{
	struct pvpatch_env e = env;

	e.cmdline = boot.cmdline;
	e.print = NULL;
	pvpatch_decide(&e, n, !profile || !strcmp(profile, "boot") ? NULL : profile);
}

void pvsetup(void)
{
	struct pvpatch_env e = env;

	e.cmdline = boot.cmdline;
	e.keep_backends = cmd.repatch_host;	/* the host may move us to a paravirt ROM */
	pv.lookup = lookup;
	if (pvpatch_boot(&pv, &e, &neg))
		panic("pvpatch_boot refused the site table");
	report_json((unsigned long)neg.apply_time);
	if (cmd.dump_sites)
		dump_sites("site");
}

const char *hv_name(void)
{
	if (!neg.facts.hypervisor)
		return "none";
	if (!strcmp(neg.facts.signature, "TCGTCGTCGTCG"))
		return "tcg";
	if (!strcmp(neg.facts.signature, "KVMKVMKVM"))
		return "kvm";
	return "other";
}

bool op_is_kvm_hypercall(unsigned int op)
{
	return neg.policy.op[op].mode == PVPATCH_MODE_INLINE &&
	       pvpatch_template_uses(neg.policy.op[op].tmpl, PVT_VMCALL);
}
