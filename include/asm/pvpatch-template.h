/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * pvpatch templates: code a hypervisor (or the kernel) supplies for an op,
 * with holes the patcher fills per site.
 *
 * A template is a short list of instructions from a fixed set, each with
 * operands that are either hardware registers or holes:
 *
 *   PVT_ARG(n)      the register the compiler allocated for argument n
 *   PVT_RET         the register that must hold the result
 *   PVT_SCRATCH(n)  a register the patcher picks among the site's free ones
 *   PVT_IMM(n)      (immediates only) the entry's parameter n
 *
 * The patcher encodes the instructions itself (it never copies template
 * bytes blindly), so what a template can do is exactly this instruction set.
 * It refuses a template, for one site, when the encoding does not fit the
 * site, when it would leave a live register changed (a register is live
 * unless the site's clobber mask frees it, or the template pushes it first
 * and pops it last), when it reads an argument whose register it has
 * already overwritten, when it does not leave the result in PVT_RET, or
 * when the stack is unbalanced.  C99, shared by guest, patcher and tools.
 */
#ifndef PVPATCH_TEMPLATE_H
#define PVPATCH_TEMPLATE_H

#include <stdint.h>

/* Operands.  0-15 are hardware registers (PVPATCH_REG_*). */
#define PVT_ARG(n)	(0x20 + (n))	/* n < 4 */
#define PVT_RET		0x30
#define PVT_SCRATCH(n)	(0x40 + (n))	/* n < PVT_MAX_SCRATCH */
#define PVT_IMM(n)	(0x50 + (n))	/* n < PVT_MAX_PARAMS */
#define PVT_NONE	0xff

#define PVT_MAX_SCRATCH	2
#define PVT_MAX_PARAMS	4
#define PVT_MAX_INSNS	24

/* Instructions.  Width is 4 or 8 (operand size in bytes) where it applies. */
enum pvt_opcode {
	PVT_END = 0,	/* not an instruction: ends a template in a ROM */
	PVT_MOV,	/* dst = src                      (registers) */
	PVT_MOVI,	/* dst = imm or param             (src PVT_NONE or PVT_IMM) */
	PVT_XOR,	/* dst ^= src */
	PVT_OR,		/* dst |= src */
	PVT_AND,	/* dst &= src */
	PVT_ADD,	/* dst += src */
	PVT_SUB,	/* dst -= src */
	PVT_SHLI,	/* dst <<= imm (0-63) */
	PVT_SHRI,	/* dst >>= imm (0-63), logical */
	PVT_PUSH,	/* push dst (width 8) */
	PVT_POP,	/* pop dst (width 8) */
	PVT_IN,		/* in (%dx), %eax; clobbers: the template's hv_clobbers */
	PVT_OUT,	/* out %eax, (%dx); clobbers: the template's hv_clobbers */
	PVT_VMCALL,	/* Intel hypercall; clobbers: hv_clobbers (KVM: rax) */
	PVT_VMMCALL,	/* AMD hypercall; clobbers: hv_clobbers */
	PVT_CPUID,	/* clobbers rax rbx rcx rdx */
	PVT_RDTSC,	/* clobbers rax rdx */
	PVT_PAUSE,
	PVT_NR_OPCODES
};

struct pvt_insn {
	uint8_t op;	/* enum pvt_opcode */
	uint8_t dst;	/* operand, or PVT_NONE */
	uint8_t src;	/* operand, PVT_IMM(n), or PVT_NONE */
	uint8_t width;	/* 4 or 8 */
	uint64_t imm;	/* immediate when src is PVT_NONE */
};

struct pvpatch_template {
	const char *name;
	uint8_t n_insns;
	uint16_t hv_clobbers;	/* registers a hypercall instruction may change */
	struct pvt_insn insn[PVT_MAX_INSNS];
};

#endif
