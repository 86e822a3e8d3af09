/*
 * Which hypervisor is this, and what does it offer?  The CPUID hypervisor
 * bit and leaf 0x40000000 name it; KVM publishes its features in leaf
 * 0x40000001 EAX; the VMware backdoor (QEMU's vmport) is probed by asking
 * it, since it answers on any accelerator and which commands it answers
 * differs (GETHZ only under KVM here).
 */
#include <asm/pvops-gen.h>
#include "console.h"
#include "guest.h"
#include "io.h"

struct hv_info hv;

#define VMPORT_MAGIC	0x564d5868u
#define VMPORT_PORT	0x5658
#define VMPORT_GETVERSION 10
#define VMPORT_GETHZ	45

struct vmport_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi;
};

/* The probe is the kernel's own code (raw `in`), not a patchable op. */
static void vmport_call(uint32_t cmd_nr, struct vmport_regs *r)
{
	r->eax = VMPORT_MAGIC;
	r->ebx = ~VMPORT_MAGIC;
	r->ecx = cmd_nr;
	r->edx = VMPORT_PORT;
	r->esi = r->edi = 0;
	asm volatile("inl %%dx, %%eax"
		     : "+a"(r->eax), "+b"(r->ebx), "+c"(r->ecx), "+d"(r->edx),
		       "+S"(r->esi), "+D"(r->edi)
		     : : "memory");
}

static void probe_vmport(void)
{
	struct vmport_regs r;

	vmport_call(VMPORT_GETVERSION, &r);
	hv.vmport = r.ebx == VMPORT_MAGIC && r.eax != 0xffffffffu;
	if (!hv.vmport)
		return;
	vmport_call(VMPORT_GETHZ, &r);
	/* "unsupported" is ebx = 0xffffffff */
	if (r.ebx != 0xffffffffu && (r.eax | r.ebx)) {
		hv.vmport_gethz = true;
		hv.vmport_tsc_hz = (uint64_t)r.ebx << 32 | r.eax;
	}
}

void hv_detect(void)
{
	uint32_t a, b, c, d;

	pv_cpuid(1, 0, &a, &b, &c, &d);
	hv.kind = HV_NONE;
	if (c & (1u << 31)) {
		pv_cpuid(0x40000000, 0, &a, &b, &c, &d);
		hv.max_leaf = a;
		memcpy(hv.signature, &b, 4);
		memcpy(hv.signature + 4, &c, 4);
		memcpy(hv.signature + 8, &d, 4);
		hv.signature[12] = 0;
		if (!strcmp(hv.signature, "KVMKVMKVM")) {
			hv.kind = HV_KVM;
			if (hv.max_leaf >= 0x40000001) {
				pv_cpuid(0x40000001, 0, &a, &b, &c, &d);
				hv.kvm_features = a;
			}
		} else if (!strcmp(hv.signature, "TCGTCGTCGTCG")) {
			hv.kind = HV_TCG;
		} else {
			hv.kind = HV_OTHER;
		}
	}
	probe_vmport();
}

const char *hv_name(void)
{
	static const char *const names[] = { "none", "tcg", "kvm", "other" };

	return names[hv.kind];
}
