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

/*
 * The instruction set itself -- enum pvt_opcode, the PVT_* operand encoding
 * and limits, and pvt_opcode_table[] (each opcode's mnemonic, operand shape,
 * widths and implicit registers) -- is generated from gen/pvops/layout.py.
 */
#include <asm/pvpatch-template-gen.h>

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
