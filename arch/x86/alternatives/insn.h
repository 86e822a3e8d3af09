/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * x86-64 instruction decoder for the runtime patcher.
 *
 * It measures instructions and classifies what the patcher must know about
 * them before it copies, moves or replaces code: where the displacement,
 * immediate and relative branch fields are, whether a memory operand is
 * RIP-relative, whether the instruction is a NOP.  It does not name
 * instructions or operands.
 *
 * Coverage: legacy prefixes, REX, the one-byte, 0F, 0F38 and 0F3A opcode maps,
 * VEX (C4/C5) maps 1-3 and EVEX (62) maps 1-3, ModRM/SIB/displacement and all
 * immediate forms.  64-bit mode only.  Anything outside that (3DNow!, XOP,
 * AVX512-FP16, APX, VIA PadLock), opcodes that do not exist in 64-bit mode,
 * and anything whose length or meaning differs between Intel and AMD (66 on
 * a near branch, UD0, F6/F7 /1) is reported as INSN_ERR_UNSUPPORTED rather
 * than guessed: a caller that cannot decode an instruction must leave it
 * alone.  insn.c says which invalid encodings of known opcodes it still
 * measures.
 *
 * Freestanding: no libc, no allocation; built into the kernel and, unchanged,
 * into hosted tests.
 */
#ifndef PVPATCH_ALTERNATIVES_INSN_H
#define PVPATCH_ALTERNATIVES_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The CPU raises #GP on anything longer. */
#define INSN_MAX_LEN		15

/* Negative returns of insn_decode(). */
#define INSN_ERR_UNSUPPORTED	(-1)	/* not understood or invalid: do not touch */
#define INSN_ERR_TRUNCATED	(-2)	/* the buffer ends inside the instruction */

/* Opcode maps; the numbers are the VEX/EVEX map numbers. */
enum insn_map {
	INSN_MAP_1B	= 0,	/* one-byte opcodes */
	INSN_MAP_0F	= 1,
	INSN_MAP_0F38	= 2,
	INSN_MAP_0F3A	= 3,
};

/* Legacy prefixes seen (struct insn.prefixes). */
#define INSN_PFX_LOCK		0x0001	/* F0 */
#define INSN_PFX_REPNE		0x0002	/* F2 */
#define INSN_PFX_REP		0x0004	/* F3 */
#define INSN_PFX_ES		0x0008	/* 26 */
#define INSN_PFX_CS		0x0010	/* 2E, also "branch not taken" */
#define INSN_PFX_SS		0x0020	/* 36 */
#define INSN_PFX_DS		0x0040	/* 3E, also "branch taken", "notrack" */
#define INSN_PFX_FS		0x0080	/* 64 */
#define INSN_PFX_GS		0x0100	/* 65 */
#define INSN_PFX_OPSIZE		0x0200	/* 66 */
#define INSN_PFX_ADSIZE		0x0400	/* 67 */

/* REX.W/R/X/B as bits of struct insn.wrxb, whatever prefix carried them. */
#define INSN_REX_B		0x01
#define INSN_REX_X		0x02
#define INSN_REX_R		0x04
#define INSN_REX_W		0x08

/* struct insn.flags */
#define INSN_F_MODRM		0x0001	/* modrm, mod, reg, rm are valid */
#define INSN_F_SIB		0x0002	/* sib, scale, index, base are valid */
#define INSN_F_RIP_REL		0x0004	/* memory operand is disp32(%rip) */
#define INSN_F_REL		0x0008	/* relative branch: rel_* are valid */
#define INSN_F_NOP		0x0010	/* does nothing: 90, 66 90, 0F 1F /0 */
#define INSN_F_VEX		0x0020	/* VEX prefix (vex_len 2 or 3) */
#define INSN_F_EVEX		0x0040	/* EVEX prefix (vex_len 4) */
#define INSN_F_MOFFS		0x0080	/* A0-A3: disp is an absolute address */

/* What a relative branch does (struct insn.branch). */
enum insn_branch {
	INSN_BR_NONE = 0,
	INSN_BR_JMP,		/* EB rel8, E9 rel32 */
	INSN_BR_JCC,		/* 7x rel8, 0F 8x rel32 */
	INSN_BR_CALL,		/* E8 rel32 */
	INSN_BR_LOOP,		/* E0-E3 loopne/loope/loop/jrcxz rel8 */
	INSN_BR_XBEGIN,		/* C7 F8 rel32: abort handler address */
};

/*
 * One decoded instruction.  Offsets are from the first byte of the
 * instruction.  ModRM and SIB fields are the raw 3-bit fields; the REX,
 * VEX or EVEX extension bits are in wrxb.  Immediates and displacements are
 * sign-extended from their size (mask with the size for unsigned use), except
 * a moffs address, which is zero-extended as the CPU does.
 *
 * After an error the fields describe the bytes decoded so far (prefixes,
 * then map and opcode), which says where decoding stopped.
 */
struct insn {
	uint8_t len;		/* total length, 1..INSN_MAX_LEN */
	uint8_t nr_prefixes;	/* legacy prefix bytes */
	uint16_t prefixes;	/* INSN_PFX_* */
	uint8_t last_rep;	/* the last F2 or F3 (the one the CPU obeys), or 0 */
	uint8_t seg;		/* the last segment override byte, or 0 */
	uint8_t rex;		/* REX byte (40-4F), or 0 */
	uint8_t wrxb;		/* INSN_REX_*, from REX, VEX or EVEX, not inverted */

	uint8_t vex_len;	/* 0, 2 (C5), 3 (C4) or 4 (EVEX 62) */
	uint8_t vex[4];		/* the VEX/EVEX prefix bytes, vex[0] is C4/C5/62 */

	uint8_t map;		/* enum insn_map */
	uint8_t opcode;
	uint8_t opcode_off;

	uint8_t modrm;
	uint8_t mod, reg, rm;
	uint8_t sib;
	uint8_t scale, index, base;

	uint8_t disp_size;	/* 0, 1, 4, or 8 (moffs) */
	uint8_t disp_off;
	uint8_t imm_size;	/* 0, 1, 2, 4 or 8 */
	uint8_t imm_off;
	uint8_t imm2_size;	/* ENTER's second immediate: 0 or 1 */
	uint8_t imm2_off;
	uint8_t rel_size;	/* relative branch field: 0, 1 or 4 */
	uint8_t rel_off;
	uint8_t branch;		/* enum insn_branch */

	uint16_t flags;		/* INSN_F_* */

	int64_t disp;		/* EVEX disp8 is stored unscaled (disp8*N) */
	int64_t imm;
	uint8_t imm2;
	int32_t rel;
};

/*
 * Decode the instruction at buf, reading at most avail bytes (never more
 * than INSN_MAX_LEN).  Returns its length, INSN_ERR_UNSUPPORTED or
 * INSN_ERR_TRUNCATED.
 */
int insn_decode(struct insn *insn, const uint8_t *buf, size_t avail);

/* A name for an insn_decode() error, for reports. */
const char *insn_strerror(int err);

static inline bool insn_is_rel_branch(const struct insn *insn)
{
	return insn->flags & INSN_F_REL;
}

static inline bool insn_is_rip_rel(const struct insn *insn)
{
	return insn->flags & INSN_F_RIP_REL;
}

static inline bool insn_is_nop(const struct insn *insn)
{
	return insn->flags & INSN_F_NOP;
}

/* Where a relative branch at address addr goes. */
static inline uint64_t insn_rel_target(const struct insn *insn, uint64_t addr)
{
	return addr + insn->len + (uint64_t)(int64_t)insn->rel;
}

/* The address a RIP-relative operand of the instruction at addr refers to. */
static inline uint64_t insn_rip_target(const struct insn *insn, uint64_t addr)
{
	uint64_t t = addr + insn->len + (uint64_t)insn->disp;

	/* 67: the effective address is computed, then truncated, in 32 bits. */
	if (insn->prefixes & INSN_PFX_ADSIZE)
		t &= 0xffffffffu;
	return t;
}

#endif /* PVPATCH_ALTERNATIVES_INSN_H */
