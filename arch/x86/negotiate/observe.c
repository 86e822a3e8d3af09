// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * What a kernel can see of its hypervisor before it patches: the CPUID
 * hypervisor bit and signature leaf 0x40000000, KVM's feature leaf
 * 0x40000001 EAX (Linux's kvm_para.h bits), and, where the kernel says it
 * is harmless, the VMware backdoor (QEMU's vmport answers on any
 * accelerator; which commands it answers differs, so GETHZ is probed too).
 */
#include <asm/pvpatch-boot.h>
#include "../alternatives/util.h"

#define VMPORT_MAGIC		0x564d5868u
#define VMPORT_PORT		0x5658
#define VMPORT_GETVERSION	10
#define VMPORT_GETHZ		45

static void cpuid_insn(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			     : "a"(leaf), "c"(subleaf));
}

static void cpuid(const struct pvpatch_env *env, uint32_t leaf, uint32_t r[4])
{
	(env->cpuid ? env->cpuid : cpuid_insn)(leaf, 0, r);
}

struct vmport_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi;
};

/* One backdoor command: `in %dx,%eax` with the magic in eax, the command in
 * ecx; the hypervisor answers in every register. */
static void vmport_call(uint32_t cmd, struct vmport_regs *r)
{
	r->eax = VMPORT_MAGIC;
	r->ebx = ~VMPORT_MAGIC;
	r->ecx = cmd;
	r->edx = VMPORT_PORT;
	r->esi = r->edi = 0;
	asm volatile("inl %%dx, %%eax"
		     : "+a"(r->eax), "+b"(r->ebx), "+c"(r->ecx), "+d"(r->edx),
		       "+S"(r->esi), "+D"(r->edi)
		     : : "memory");
}

static void probe_vmport(struct pvpatch_hv_facts *f)
{
	struct vmport_regs r;

	vmport_call(VMPORT_GETVERSION, &r);
	f->vmport = r.ebx == VMPORT_MAGIC && r.eax != 0xffffffffu;
	if (!f->vmport)
		return;
	vmport_call(VMPORT_GETHZ, &r);
	/* "unsupported" is ebx = 0xffffffff */
	if (r.ebx != 0xffffffffu && (r.eax | r.ebx)) {
		f->vmport_gethz = 1;
		f->vmport_tsc_hz = (uint64_t)r.ebx << 32 | r.eax;
	}
}

void pvpatch_observe(const struct pvpatch_env *env, struct pvpatch_hv_facts *f)
{
	uint32_t r[4];

	pv_zero(f, sizeof(*f));
	/* ROM entries may test any CPUID bit (Linux alternatives' facts). */
	f->cpuid = env->cpuid ? env->cpuid : cpuid_insn;
	cpuid(env, 1, r);
	f->hypervisor = r[2] >> 31 & 1;
	if (f->hypervisor) {
		cpuid(env, 0x40000000, r);
		f->max_leaf = r[0];
		for (int i = 0; i < 12; i++)
			f->signature[i] = (char)(r[1 + i / 4] >> (8 * (i % 4)));
		f->signature[12] = 0;
		if (!pv_strcmp(f->signature, "KVMKVMKVM") && f->max_leaf >= 0x40000001) {
			cpuid(env, 0x40000001, r);
			f->kvm_features = r[0];
		}
	}
	if (env->probe_vmport)
		probe_vmport(f);
}

const char *pvpatch_profile_for(const struct pvpatch_hv_facts *f)
{
	if (!pv_strcmp(f->signature, "KVMKVMKVM"))
		return "kvm-vt";
	if (!pv_strcmp(f->signature, "TCGTCGTCGTCG"))
		return "tcg";
	return "bare-metal";
}
