/*
 * The built-in profiles: what each op becomes on each hypervisor, under
 * which real feature bit or boot-time probe.  Every op always gets its
 * backend too, so a refused INLINE falls back to CALL before NATIVE.
 */
#include "console.h"
#include "guest.h"
#include "io.h"

enum cond { ALWAYS, KVM_BIT, VMPORT, VMPORT_GETHZ };

struct entry {
	uint16_t op;
	uint8_t mode;
	uint8_t cond;
	uint8_t bit;		/* KVM_BIT: CPUID 0x40000001 EAX bit */
	const struct pvpatch_template *tmpl;
	uint64_t param;		/* PVT_IMM(0) */
};

struct profile {
	const char *name;
	bool all_call;		/* every op CALLs its backend */
	const struct entry *e;
	unsigned int n;
};

#define OP(x) PVPATCH_OP_##x
#define M(x) PVPATCH_MODE_##x

static const struct entry kvm[] = {
	{ OP(IO_DELAY), M(NOP), KVM_BIT, KVM_FEATURE_NOP_IO_DELAY, NULL, 0 },
	{ OP(SEND_IPI), M(INLINE), KVM_BIT, KVM_FEATURE_PV_SEND_IPI, &tmpl_kvm_send_ipi, 0 },
	{ OP(SCHED_YIELD), M(INLINE), KVM_BIT, KVM_FEATURE_PV_SCHED_YIELD, &tmpl_kvm_sched_yield, 0 },
	{ OP(KICK_CPU), M(INLINE), KVM_BIT, KVM_FEATURE_PV_UNHALT, &tmpl_kvm_kick_cpu, 0 },
	{ OP(APIC_EOI), M(CALL), KVM_BIT, KVM_FEATURE_PV_EOI, NULL, 0 },
};

static const struct entry vmware[] = {
	{ OP(MEM_SIZE), M(INLINE), VMPORT, 0, &tmpl_vmport_ram_size, 20 },
	{ OP(CALIBRATE_TSC), M(INLINE), VMPORT_GETHZ, 0, &tmpl_vmport_tsc_hz, 45 },
};

static const struct profile profiles[] = {
	{ "bare-metal", false, NULL, 0 },
	{ "tcg", false, NULL, 0 },
	{ "kvm", false, kvm, sizeof(kvm) / sizeof(kvm[0]) },
	{ "vmware-backdoor", false, vmware, sizeof(vmware) / sizeof(vmware[0]) },
	{ "paravirt", true, NULL, 0 },
};

const char *profile_choose(void)
{
	if (cmd.profile)
		return cmd.profile;
	switch (hv.kind) {
	case HV_KVM:
		return "kvm";
	case HV_TCG:
		return "tcg";
	default:
		return "bare-metal";
	}
}

static bool holds(const struct entry *e)
{
	switch (e->cond) {
	case KVM_BIT:
		return hv.kind == HV_KVM && (hv.kvm_features >> e->bit & 1);
	case VMPORT:
		return hv.vmport;
	case VMPORT_GETHZ:
		return hv.vmport_gethz;
	default:
		return true;
	}
}

bool profile_apply(const char *name, struct pvpatch_policy *pol)
{
	const struct profile *p = NULL;

	for (unsigned int i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (!strcmp(profiles[i].name, name))
			p = &profiles[i];
	if (!p)
		return false;
	memset(pol, 0, sizeof(*pol));
	for (unsigned int op = 0; op <= PVPATCH_MAX_OP; op++) {
		pol->op[op].backend = backend_table[op];
		pol->op[op].mode = p->all_call ? M(CALL) : M(NATIVE);
	}
	for (unsigned int i = 0; i < p->n; i++) {
		const struct entry *e = &p->e[i];

		if (!holds(e))
			continue;
		pol->op[e->op].mode = e->mode;
		pol->op[e->op].tmpl = e->tmpl;
		pol->op[e->op].params[0] = e->param;
	}
	return true;
}
