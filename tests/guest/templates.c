/*
 * Templates of the built-in profiles: KVM hypercalls and VMware backdoor
 * calls, fitted by the patcher to each site's registers.
 *
 * KVM hypercall ABI: rax = number, rbx rcx rdx rsi = arguments, result in
 * rax, nothing else changed.  VMware backdoor: eax = magic, ecx = command,
 * dx = port, `in`; results in eax, ebx (and, for some commands, ecx, edx,
 * esi, edi).  Registers a site still needs are saved around the call.
 */
#include "guest.h"

#define R(x)		PVPATCH_REG_##x
#define I(op, d, s, w, imm) { PVT_##op, d, s, w, imm }
#define NONE		PVT_NONE
/* A template from its instructions (n_insns counted, not written). */
#define TEMPLATE(nm, clob, ...) {						\
	.name = nm, .hv_clobbers = clob,					\
	.n_insns = sizeof((struct pvt_insn[]){ __VA_ARGS__ }) / sizeof(struct pvt_insn), \
	.insn = { __VA_ARGS__ },						\
}
#define KVM_CLOBBERS	(1u << R(RAX))
#define VMPORT_CLOBBERS	(1u << R(RAX) | 1u << R(RBX) | 1u << R(RCX) | 1u << R(RDX) | \
			 1u << R(RSI) | 1u << R(RDI))

#define KVM_HC_KICK_CPU		5
#define KVM_HC_SEND_IPI		10
#define KVM_HC_SCHED_YIELD	11
#define VMPORT_MAGIC		0x564d5868u
#define VMPORT_PORT		0x5658
#define VMPORT_GETRAMSIZE	20
#define VMPORT_GETHZ		45

/* sched_yield(cpu): KVM_HC_SCHED_YIELD(apic id) */
const struct pvpatch_template tmpl_kvm_sched_yield = TEMPLATE("kvm-sched-yield", KVM_CLOBBERS,
		I(PUSH, R(RAX), NONE, 8, 0),
		I(PUSH, R(RBX), NONE, 8, 0),
		I(MOV, R(RBX), PVT_ARG(0), 4, 0),
		I(MOVI, R(RAX), NONE, 4, KVM_HC_SCHED_YIELD),
		I(VMCALL, NONE, NONE, 4, 0),
		I(POP, R(RBX), NONE, 8, 0),
		I(POP, R(RAX), NONE, 8, 0));

/* kick_cpu(apic, dest): KVM_HC_KICK_CPU(flags 0, apic id = dest >> 24) */
const struct pvpatch_template tmpl_kvm_kick_cpu = TEMPLATE("kvm-kick-cpu", KVM_CLOBBERS,
		I(PUSH, R(RAX), NONE, 8, 0),
		I(PUSH, R(RBX), NONE, 8, 0),
		I(PUSH, R(RCX), NONE, 8, 0),
		I(MOV, R(RCX), PVT_ARG(1), 4, 0),
		I(SHRI, R(RCX), NONE, 4, 24),
		I(XOR, R(RBX), R(RBX), 4, 0),
		I(MOVI, R(RAX), NONE, 4, KVM_HC_KICK_CPU),
		I(VMCALL, NONE, NONE, 4, 0),
		I(POP, R(RCX), NONE, 8, 0),
		I(POP, R(RBX), NONE, 8, 0),
		I(POP, R(RAX), NONE, 8, 0));

/* send_ipi(apic, dest, icr): KVM_HC_SEND_IPI(bitmap 1, 0, min id, icr) */
const struct pvpatch_template tmpl_kvm_send_ipi = TEMPLATE("kvm-send-ipi", KVM_CLOBBERS,
		I(PUSH, R(RAX), NONE, 8, 0),
		I(PUSH, R(RBX), NONE, 8, 0),
		I(PUSH, R(RCX), NONE, 8, 0),
		I(PUSH, R(RDX), NONE, 8, 0),
		I(PUSH, R(RSI), NONE, 8, 0),
		I(MOV, R(RSI), PVT_ARG(2), 4, 0),
		I(MOV, R(RDX), PVT_ARG(1), 4, 0),
		I(SHRI, R(RDX), NONE, 4, 24),
		I(MOVI, R(RBX), NONE, 4, 1),
		I(XOR, R(RCX), R(RCX), 4, 0),
		I(MOVI, R(RAX), NONE, 4, KVM_HC_SEND_IPI),
		I(VMCALL, NONE, NONE, 4, 0),
		I(POP, R(RSI), NONE, 8, 0),
		I(POP, R(RDX), NONE, 8, 0),
		I(POP, R(RCX), NONE, 8, 0),
		I(POP, R(RBX), NONE, 8, 0),
		I(POP, R(RAX), NONE, 8, 0));

/* mem_size(): backdoor GETRAMSIZE, bytes in eax */
const struct pvpatch_template tmpl_vmport_ram_size = TEMPLATE("vmport-getramsize", VMPORT_CLOBBERS,
		I(PUSH, R(RBX), NONE, 8, 0),
		I(MOVI, R(RAX), NONE, 4, VMPORT_MAGIC),
		I(MOVI, R(RCX), PVT_IMM(0), 4, 0),
		I(MOVI, R(RDX), NONE, 4, VMPORT_PORT),
		I(IN, NONE, NONE, 4, 0),
		I(MOV, PVT_RET, R(RAX), 4, 0),
		I(POP, R(RBX), NONE, 8, 0));

/* calibrate_tsc(): backdoor GETHZ, TSC Hz in ebx:eax */
const struct pvpatch_template tmpl_vmport_tsc_hz = TEMPLATE("vmport-gethz", VMPORT_CLOBBERS,
		I(PUSH, R(RBX), NONE, 8, 0),
		I(MOVI, R(RAX), NONE, 4, VMPORT_MAGIC),
		I(MOVI, R(RCX), PVT_IMM(0), 4, 0),
		I(MOVI, R(RDX), NONE, 4, VMPORT_PORT),
		I(IN, NONE, NONE, 4, 0),
		I(SHLI, R(RBX), NONE, 8, 32),
		I(OR, PVT_RET, R(RBX), 8, 0),
		I(POP, R(RBX), NONE, 8, 0));
