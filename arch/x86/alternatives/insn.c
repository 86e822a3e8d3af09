// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * x86-64 instruction decoder: lengths, operand fields and the few
 * classifications the patcher needs.  See insn.h for what it covers.
 *
 * Decoding goes prefixes -> opcode (escape bytes or VEX/EVEX) -> ModRM ->
 * SIB -> displacement -> immediate.  The one-byte and 0F maps are described
 * by per-opcode attribute tables.  The 0F38 and 0F3A maps and the VEX/EVEX
 * maps are uniform (ModRM always, an imm8 in 0F3A and for a handful of 0F
 * opcodes), so they only need to know which opcodes exist.  An opcode that
 * is not listed is unsupported: a made-up length would let the patcher copy
 * or split an instruction it does not understand.
 *
 * How far validity is checked: every opcode; ModRM.reg where it selects the
 * instruction or its immediate (groups), and every x87 ModRM; the mandatory
 * prefix of legacy SSE instructions.  Not checked: VEX/EVEX pp, L and W,
 * mod=3 forms that only exist for memory (and vice versa) outside groups.
 * Such encodings raise #UD when executed, but their length follows the same
 * rules as their neighbours', which is what the CPU's length decoder does
 * too, so they are measured rather than refused.
 */
#include "insn.h"

/* Bytes that follow the opcode, ModRM, SIB and displacement. */
enum {
	IMM_NONE,
	IMM_B,		/* imm8 */
	IMM_W,		/* imm16 */
	IMM_Z,		/* imm16 with 66 (and no REX.W), else imm32 */
	IMM_V,		/* imm16 with 66, imm64 with REX.W, else imm32 */
	IMM_ENTER,	/* imm16, imm8 */
	IMM_MOFFS,	/* address: 8 bytes, 4 with 67 */
	IMM_JB,		/* rel8 */
	IMM_JZ,		/* rel32 */
};

#define A_IMM		0x0f	/* IMM_* */
#define A_MODRM		0x10
#define A_GROUP		0x20	/* ModRM.reg or a prefix decides: insn_group() */
#define A_BAD		0x40	/* invalid in 64-bit mode, or not supported */

#define __	IMM_NONE
#define Ib	IMM_B
#define Iw	IMM_W
#define Iz	IMM_Z
#define Iv	IMM_V
#define Ie	IMM_ENTER
#define Ao	IMM_MOFFS
#define Jb	IMM_JB
#define Jz	IMM_JZ
#define Mo	A_MODRM
#define MB	(A_MODRM | IMM_B)
#define MZ	(A_MODRM | IMM_Z)
#define GM	(A_GROUP | A_MODRM)
#define GB	(A_GROUP | A_MODRM | IMM_B)
#define GZ	(A_GROUP | A_MODRM | IMM_Z)
#define XX	A_BAD

/*
 * One-byte map.  Prefixes (26 2E 36 3E 40-4F 64-67 F0 F2 F3), the 0F escape
 * and VEX/EVEX (C4 C5 62) are consumed before this table is consulted, so
 * their entries are XX like the opcodes 64-bit mode removed (06 07 0E 16 17
 * 1E 1F 27 2F 37 3F 60 61 82 9A CE D4 D5 D6 EA).  9B (fwait) is an
 * instruction of its own even where assemblers spell "9B D9 /7" as one
 * fstcw: the CPU can be interrupted between the two.
 */
static const uint8_t insn_attr_1b[256] = {
/*	 0   1   2   3   4   5   6   7   8   9   a   b   c   d   e   f */
/* 0 */	Mo, Mo, Mo, Mo, Ib, Iz, XX, XX, Mo, Mo, Mo, Mo, Ib, Iz, XX, XX,
/* 1 */	Mo, Mo, Mo, Mo, Ib, Iz, XX, XX, Mo, Mo, Mo, Mo, Ib, Iz, XX, XX,
/* 2 */	Mo, Mo, Mo, Mo, Ib, Iz, XX, XX, Mo, Mo, Mo, Mo, Ib, Iz, XX, XX,
/* 3 */	Mo, Mo, Mo, Mo, Ib, Iz, XX, XX, Mo, Mo, Mo, Mo, Ib, Iz, XX, XX,
/* 4 */	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
/* 5 */	__, __, __, __, __, __, __, __, __, __, __, __, __, __, __, __,
/* 6 */	XX, XX, XX, Mo, XX, XX, XX, XX, Iz, MZ, Ib, MB, __, __, __, __,
/* 7 */	Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb, Jb,
/* 8 */	MB, MZ, XX, MB, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, GM, Mo, GM,
/* 9 */	__, __, __, __, __, __, __, __, __, __, XX, __, __, __, __, __,
/* a */	Ao, Ao, Ao, Ao, __, __, __, __, Ib, Iz, __, __, __, __, __, __,
/* b */	Ib, Ib, Ib, Ib, Ib, Ib, Ib, Ib, Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv,
/* c */	MB, MB, Iw, __, XX, XX, GB, GZ, Ie, __, Iw, __, __, Ib, XX, __,
/* d */	Mo, Mo, Mo, Mo, XX, XX, XX, __, GM, GM, GM, GM, GM, GM, GM, GM,
/* e */	Jb, Jb, Jb, Jb, Ib, Ib, Ib, Ib, Jz, Jz, XX, Jb, __, __, __, __,
/* f */	XX, __, XX, XX, __, __, GM, GM, __, __, __, __, __, __, GM, GM,
};

/*
 * 0F map.  XX: undefined, the 38/3A escapes, 3DNow! (0E femms, 0F: gone
 * from current CPUs), and 0F FF (UD0), whose ModRM Intel decodes and AMD
 * does not.
 */
static const uint8_t insn_attr_0f[256] = {
/*	 0   1   2   3   4   5   6   7   8   9   a   b   c   d   e   f */
/* 0 */	GM, Mo, Mo, Mo, XX, __, __, __, __, __, XX, __, XX, Mo, XX, XX,
/* 1 */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* 2 */	GM, GM, GM, GM, XX, XX, XX, XX, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* 3 */	__, __, __, __, __, __, XX, __, XX, XX, XX, XX, XX, XX, XX, XX,
/* 4 */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* 5 */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* 6 */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* 7 */	MB, GB, GB, GB, Mo, Mo, Mo, __, GM, GM, XX, XX, Mo, Mo, Mo, Mo,
/* 8 */	Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz, Jz,
/* 9 */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* a */	__, __, __, Mo, MB, Mo, XX, XX, __, __, __, Mo, MB, Mo, Mo, Mo,
/* b */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, GM, Mo, GB, Mo, Mo, Mo, Mo, Mo,
/* c */	Mo, Mo, MB, Mo, MB, MB, MB, Mo, __, __, __, __, __, __, __, __,
/* d */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* e */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo,
/* f */	Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, Mo, XX,
};

#undef __
#undef Ib
#undef Iw
#undef Iz
#undef Iv
#undef Ie
#undef Ao
#undef Jb
#undef Jz
#undef Mo
#undef MB
#undef MZ
#undef GM
#undef GB
#undef GZ
#undef XX

/*
 * Mandatory prefixes, one hex digit per opcode: the sum of 1 (none), 2 (66),
 * 4 (F3) and 8 (F2) for each that makes an instruction.  0 in 0F38 and
 * 0F3A: no such opcode.  In 0F only SSE opcodes are restricted (f: any),
 * existence is insn_attr_0f's business.
 */
#define SIMD_NP		1
#define SIMD_66		2
#define SIMD_F3		4
#define SIMD_F2		8

static const char insn_pfx_0f[] =
	"ffffffffffffffff"	/* 0x */
	"fff33373ffffffff"	/* 1x */
	"ffffffff33ffff33"	/* 2x */
	"ffffffffffffffff"	/* 3x */
	"ffffffffffffffff"	/* 4x */
	"3f553333fff7ffff"	/* 5x */
	"3333333333332237"	/* 6x */
	"f3333331ffffaa77"	/* 7x */
	"ffffffffffffffff"	/* 8x */
	"ffffffffffffffff"	/* 9x */
	"ffffffffffffffff"	/* ax */
	"ffffffffffffffff"	/* bx */
	"fff1333fffffffff"	/* cx */
	"a33333e333333333"	/* dx */
	"333333e333333333"	/* ex */
	"833333333333333f"	/* fx */
	;

static const char insn_pfx_0f38[] =
	"3333333333330000"	/* 0x */
	"2000220200003330"	/* 1x */
	"2222220022220000"	/* 2x */
	"2222220222222222"	/* 3x */
	"2200000000000000"	/* 4x */
	"0000000000000000"	/* 5x */
	"0000000000000000"	/* 6x */
	"0000000000000000"	/* 7x */
	"2220000000000000"	/* 8x */
	"0000000000000000"	/* 9x */
	"0000000000000000"	/* ax */
	"0000000000000000"	/* bx */
	"0000000011111102"	/* cx */
	"0000000040026666"	/* dx */
	"0000000000000000"	/* ex */
	"bb000270e144f000"	/* fx */
	;

static const char insn_pfx_0f3a[] =
	"0000000022222223"	/* 0x */
	"0000222200000000"	/* 1x */
	"2220000000000000"	/* 2x */
	"0000000000000000"	/* 3x */
	"2220200000000000"	/* 4x */
	"0000000000000000"	/* 5x */
	"2222000000000000"	/* 6x */
	"0000000000000000"	/* 7x */
	"0000000000000000"	/* 8x */
	"0000000000000000"	/* 9x */
	"0000000000000000"	/* ax */
	"0000000000000000"	/* bx */
	"0000000000001022"	/* cx */
	"0000000000000002"	/* dx */
	"0000000000000000"	/* ex */
	"0000000000000000"	/* fx */
	;

enum { ENC_LEGACY, ENC_VEX, ENC_EVEX, NR_ENC };

/*
 * The opcodes that exist in the VEX and EVEX maps, one bit per opcode (row
 * = high nibble, bit = low nibble), whatever pp, L and W: those select
 * among instructions of the same shape.  There is no map 0.  AMD's FMA4 is
 * in (glibc's libm has FMA4 code paths), its length is any VEX 0F3A
 * instruction's; XOP, behind its own 8F prefix, is not.
 */
static const uint16_t insn_opcodes[NR_ENC][4][16] = {
	[ENC_VEX][INSN_MAP_0F] = {
		0x0000,
		0x00ff,	/* 10-17 */
		0xff00,	/* 28-2f */
		0x0000,
		0x0cf6,	/* 41-42 44-47 4a-4b */
		0xffff,	/* 50-5f */
		0xffff,	/* 60-6f */
		0xf0ff,	/* 70-77 7c-7f */
		0x0000,
		0x030f,	/* 90-93 98-99 */
		0x4000,	/* ae */
		0x0000,
		0x0074,	/* c2 c4-c6 */
		0xffff,	/* d0-df */
		0xffff,	/* e0-ef */
		0x7fff,	/* f0-fe */
	},
	[ENC_VEX][INSN_MAP_0F38] = {
		0xffff,	/* 00-0f */
		0x77c8,	/* 13 16-1a 1c-1e */
		0xff3f,	/* 20-25 28-2f */
		0xffff,	/* 30-3f */
		0x0ae3,	/* 40-41 45-47 49 4b */
		0x570f,	/* 50-53 58-5a 5c 5e */
		0x0000,
		0x0304,	/* 72 78-79 */
		0x5000,	/* 8c 8e */
		0xffcf,	/* 90-93 96-9f */
		0xffc0,	/* a6-af */
		0xfff3,	/* b0-b1 b4-bf */
		0x8000,	/* cf */
		0xf800,	/* db-df */
		0xffff,	/* e0-ef */
		0x00ec,	/* f2-f3 f5-f7 */
	},
	[ENC_VEX][INSN_MAP_0F3A] = {
		0xff77,	/* 00-02 04-06 08-0f */
		0x23f0,	/* 14-19 1d */
		0x0007,	/* 20-22 */
		0x030f,	/* 30-33 38-39 */
		0x1c57,	/* 40-42 44 46 4a-4c */
		0xf000,	/* 5c-5f (FMA4) */
		0xff0f,	/* 60-63 68-6f (FMA4) */
		0xff00,	/* 78-7f (FMA4) */
		0x0000,
		0x0000,
		0x0000,
		0x0000,
		0xc000,	/* ce-cf */
		0x8000,	/* df */
		0x0000,
		0x0001,	/* f0 */
	},
	[ENC_EVEX][INSN_MAP_0F] = {
		0x0000,
		0x00ff,	/* 10-17 */
		0xff00,	/* 28-2f */
		0x0000,
		0x0000,
		0xfff2,	/* 51 54-5f */
		0xffff,	/* 60-6f */
		0xcf7f,	/* 70-76 78-7b 7e-7f */
		0x0000,
		0x0000,
		0x0000,
		0x0000,
		0x0074,	/* c2 c4-c6 */
		0xff7e,	/* d1-d6 d8-df */
		0xffff,	/* e0-ef */
		0x7f7e,	/* f1-f6 f8-fe */
	},
	[ENC_EVEX][INSN_MAP_0F38] = {
		0x3811,	/* 00 04 0b-0d */
		0xff7f,	/* 10-16 18-1f */
		0x3fff,	/* 20-2d */
		0xffff,	/* 30-3f */
		0xf0fd,	/* 40 42-47 4c-4f */
		0x0f3f,	/* 50-55 58-5b */
		0x017c,	/* 62-66 68 */
		0xffef,	/* 70-73 75-7f */
		0xaf08,	/* 83 88-8b 8d 8f */
		0xffcf,	/* 90-93 96-9f */
		0xffcf,	/* a0-a3 a6-af */
		0xfff0,	/* b4-bf */
		0xbd10,	/* c4 c8 ca-cd cf */
		0xf000,	/* dc-df */
		0x0000,
		0x0000,
	},
	[ENC_EVEX][INSN_MAP_0F3A] = {
		0x8f3b,	/* 00-01 03-05 08-0b 0f */
		0xeff0,	/* 14-1b 1d-1f */
		0x00ef,	/* 20-23 25-27 */
		0xcf00,	/* 38-3b 3e-3f */
		0x001c,	/* 42-44 */
		0x00f3,	/* 50-51 54-57 */
		0x00c0,	/* 66-67 */
		0x000f,	/* 70-73 */
		0x0000,
		0x0000,
		0x0000,
		0x0000,
		0xc004,	/* c2 ce-cf */
		0x0000,
		0x0000,
		0x0000,
	},
};

static bool insn_vex_opcode_exists(unsigned int enc, unsigned int map,
				   unsigned int op)
{
	return (insn_opcodes[enc][map][op >> 4] >> (op & 15)) & 1;
}

/* SIMD_* for the mandatory prefix of a legacy-encoded instruction. */
static unsigned int insn_simd_prefix(const struct insn *insn)
{
	/* F2 and F3 together were refused: last_rep is the only one. */
	if (insn->last_rep == 0xf3)
		return SIMD_F3;
	if (insn->last_rep == 0xf2)
		return SIMD_F2;
	if (insn->prefixes & INSN_PFX_OPSIZE)
		return SIMD_66;
	return SIMD_NP;
}

static unsigned int insn_hex_digit(char c)
{
	return c <= '9' ? (unsigned int)(c - '0') : (unsigned int)(c - 'a' + 10);
}

/* Little-endian field of n (1..8) bytes. */
static uint64_t insn_get(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static int64_t insn_sext(uint64_t v, unsigned int n)
{
	unsigned int shift = 64 - 8 * n;

	return (int64_t)(v << shift) >> shift;
}

/*
 * May the instruction extend to byte end (exclusive)?  Beyond
 * INSN_MAX_LEN the CPU refuses it whatever the buffer holds, so that is
 * "unsupported"; beyond the buffer it is "truncated".
 */
static int insn_need(size_t end, size_t avail)
{
	if (end > INSN_MAX_LEN)
		return INSN_ERR_UNSUPPORTED;
	if (end > avail)
		return INSN_ERR_TRUNCATED;
	return 0;
}

static int insn_prefix(struct insn *insn, uint8_t b)
{
	uint16_t bit;

	switch (b) {
	case 0xf0: bit = INSN_PFX_LOCK; break;
	case 0xf2: bit = INSN_PFX_REPNE; break;
	case 0xf3: bit = INSN_PFX_REP; break;
	case 0x26: bit = INSN_PFX_ES; break;
	case 0x2e: bit = INSN_PFX_CS; break;
	case 0x36: bit = INSN_PFX_SS; break;
	case 0x3e: bit = INSN_PFX_DS; break;
	case 0x64: bit = INSN_PFX_FS; break;
	case 0x65: bit = INSN_PFX_GS; break;
	case 0x66: bit = INSN_PFX_OPSIZE; break;
	case 0x67: bit = INSN_PFX_ADSIZE; break;
	default: return 0;
	}
	insn->prefixes |= bit;
	if (b == 0xf2 || b == 0xf3)
		insn->last_rep = b;
	else if (bit & (INSN_PFX_ES | INSN_PFX_CS | INSN_PFX_SS |
			INSN_PFX_DS | INSN_PFX_FS | INSN_PFX_GS))
		insn->seg = b;
	return 1;
}

/*
 * VEX (C4 RXBmmmmm WvvvvLpp, C5 RvvvvLpp) or EVEX (62 RXBR'0mmm Wvvvv1pp
 * zL'LbV'aaa) at buf[pos].  The CPU rejects them after 66, F2, F3, F0 or
 * REX (#UD), and so do we.
 */
static int insn_vex(struct insn *insn, const uint8_t *buf, size_t pos,
		    size_t avail)
{
	uint8_t b = buf[pos];
	unsigned int n = b == 0xc5 ? 2 : b == 0xc4 ? 3 : 4;
	unsigned int i;
	int err;

	if (insn->rex || (insn->prefixes & (INSN_PFX_OPSIZE | INSN_PFX_REPNE |
					    INSN_PFX_REP | INSN_PFX_LOCK)))
		return INSN_ERR_UNSUPPORTED;
	err = insn_need(pos + n, avail);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		insn->vex[i] = buf[pos + i];
	insn->vex_len = n;

	/* R, X and B are stored inverted, W (C4 and 62 only) is not. */
	insn->wrxb = (insn->vex[1] & 0x80 ? 0 : INSN_REX_R);
	if (n == 2) {
		insn->flags |= INSN_F_VEX;
		insn->map = INSN_MAP_0F;
		return 0;
	}
	insn->wrxb |= (insn->vex[1] & 0x40 ? 0 : INSN_REX_X) |
		      (insn->vex[1] & 0x20 ? 0 : INSN_REX_B) |
		      (insn->vex[2] & 0x80 ? INSN_REX_W : 0);
	if (n == 3) {
		insn->flags |= INSN_F_VEX;
		insn->map = insn->vex[1] & 0x1f;
		/* Maps 0 and 4-31 are #UD (8-10 are AMD XOP, behind 8F). */
		if (insn->map < INSN_MAP_0F || insn->map > INSN_MAP_0F3A)
			return INSN_ERR_UNSUPPORTED;
		return 0;
	}
	insn->flags |= INSN_F_EVEX;
	insn->map = insn->vex[1] & 7;
	/*
	 * P0 bit 3 must be 0 and P1 bit 2 must be 1, or the CPU raises #UD
	 * (APX reuses both for new encodings we do not decode).  Maps 5 and
	 * 6 (AVX512-FP16) and APX's map 4 are not supported.
	 */
	if ((insn->vex[1] & 0x08) || !(insn->vex[2] & 0x04))
		return INSN_ERR_UNSUPPORTED;
	if (insn->map < INSN_MAP_0F || insn->map > INSN_MAP_0F3A)
		return INSN_ERR_UNSUPPORTED;
	return 0;
}

/*
 * x87 (D8-DF): ModRM only, but not every ModRM.  For memory operands, which
 * ModRM.reg exist; for register operands (mod=3), which rm for each reg.
 * Intel's reserved encodings (fcom2, fxch4 and other aliases some CPUs
 * execute) are refused; ffreep (DF C0+i), which AMD documents, every CPU
 * executes and glibc's libm uses, is not.
 */
static const uint8_t insn_x87_mem[8] = {
	0xff, 0xfd, 0xff, 0xaf, 0xff, 0xdf, 0xff, 0xff,	/* D8 .. DF */
};

static const uint8_t insn_x87_reg[8][8] = {
	/* /0    /1    /2    /3    /4    /5    /6    /7 */
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },	/* D8 */
	{ 0xff, 0xff, 0x01, 0x00, 0x33, 0x7f, 0xff, 0xff },	/* D9 */
	{ 0xff, 0xff, 0xff, 0xff, 0x00, 0x02, 0x00, 0x00 },	/* DA */
	{ 0xff, 0xff, 0xff, 0xff, 0x0c, 0xff, 0xff, 0x00 },	/* DB */
	{ 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff },	/* DC */
	{ 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 },	/* DD */
	{ 0xff, 0xff, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff },	/* DE */
	{ 0xff, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0x00 },	/* DF */
};

static int insn_x87(const struct insn *insn)
{
	unsigned int esc = insn->opcode - 0xd8;
	uint8_t ok;

	if (insn->mod != 3)
		ok = (insn_x87_mem[esc] >> insn->reg) & 1;
	else
		ok = (insn_x87_reg[esc][insn->reg] >> insn->rm) & 1;
	return ok ? 0 : INSN_ERR_UNSUPPORTED;
}

/*
 * Shifts by immediate, groups 12-14 (0F 71-73, also under VEX and EVEX):
 * only some ModRM.reg values exist, and only EVEX takes a memory source.
 */
static int insn_shift_group(const struct insn *insn)
{
	static const uint8_t regs[3] = {
		0x54,	/* 71: psrlw /2, psraw /4, psllw /6 */
		0x54,	/* 72: psrld /2, psrad /4, pslld /6 */
		0xcc,	/* 73: psrlq /2, psrldq /3, psllq /6, pslldq /7 */
	};
	uint8_t ok = regs[insn->opcode - 0x71];

	if ((insn->flags & INSN_F_EVEX) && insn->opcode == 0x72)
		ok |= 0x03;	/* vprord /0, vprold /1 */
	if (!insn->vex_len && insn->opcode == 0x73 &&
	    !(insn->prefixes & INSN_PFX_OPSIZE))
		ok = 0x44;	/* the byte shifts are SSE2 only (66) */
	if (!((ok >> insn->reg) & 1))
		return INSN_ERR_UNSUPPORTED;
	if (insn->mod != 3 && !(insn->flags & INSN_F_EVEX))
		return INSN_ERR_UNSUPPORTED;
	return 0;
}

/*
 * Opcodes whose ModRM.reg or mandatory prefix selects the instruction: set
 * the immediate kind and reject the encodings the CPU does not execute.
 */
static int insn_group(struct insn *insn, unsigned int *imm)
{
	unsigned int reg = insn->reg;
	uint16_t simd = insn->prefixes &
			(INSN_PFX_OPSIZE | INSN_PFX_REPNE | INSN_PFX_REP);

	if (insn->vex_len) {
		/* VEX/EVEX 0F: only shifts by immediate, vldmxcsr, vstmxcsr */
		if (insn->opcode == 0xae)
			return insn->mod != 3 && (reg == 2 || reg == 3) ?
			       0 : INSN_ERR_UNSUPPORTED;
		return insn_shift_group(insn);
	}

	if (insn->map == INSN_MAP_0F) {
		switch (insn->opcode) {
		case 0x00:	/* group 6: /6 and /7 are undefined */
			return reg < 6 ? 0 : INSN_ERR_UNSUPPORTED;
		case 0x20: case 0x21: case 0x22: case 0x23:
			/*
			 * mov cr/dr: the CPU ignores mod and takes a register
			 * even when mod says memory, so mod=00 rm=101 has no
			 * displacement here.  Only assemblers' mod=3 is sane.
			 */
			return insn->mod == 3 ? 0 : INSN_ERR_UNSUPPORTED;
		case 0x78: case 0x79:
			/* vmread/vmwrite; with 66 or F2, AMD's extrq/insertq */
			return simd ? INSN_ERR_UNSUPPORTED : 0;
		case 0xb8:
			/* popcnt needs F3; without it this is IA-64's jmpe */
			return insn->last_rep == 0xf3 &&
			       !(insn->prefixes & INSN_PFX_REPNE) ?
			       0 : INSN_ERR_UNSUPPORTED;
		case 0xba:	/* group 8: bt/bts/btr/btc are /4-/7 */
			return reg >= 4 ? 0 : INSN_ERR_UNSUPPORTED;
		case 0x71: case 0x72: case 0x73:
			return insn_shift_group(insn);
		}
		return INSN_ERR_UNSUPPORTED;
	}

	if (insn->opcode >= 0xd8 && insn->opcode <= 0xdf)
		return insn_x87(insn);

	switch (insn->opcode) {
	case 0x8d:	/* lea of a register is #UD */
		return insn->mod == 3 ? INSN_ERR_UNSUPPORTED : 0;
	case 0x8f:
		/*
		 * pop r/m is /0.  Anything else is AMD's XOP prefix, whose
		 * second byte overlays this ModRM.
		 */
		return reg == 0 ? 0 : INSN_ERR_UNSUPPORTED;
	case 0xc6:
	case 0xc7:
		if (reg == 0)		/* mov r/m, imm */
			return 0;
		if (insn->modrm == 0xf8) {
			/* xabort imm8 (C6 F8), xbegin rel32 (C7 F8) */
			if (insn->opcode == 0xc7)
				*imm = IMM_JZ;
			return 0;
		}
		return INSN_ERR_UNSUPPORTED;
	case 0xf6:
	case 0xf7:
		/* group 3: only test (/0) has an immediate */
		if (reg == 0) {
			*imm = insn->opcode == 0xf6 ? IMM_B : IMM_Z;
			return 0;
		}
		/* /1 is an undocumented alias of test that Intel reserves */
		return reg == 1 ? INSN_ERR_UNSUPPORTED : 0;
	case 0xfe:	/* group 4: inc/dec r/m8 */
		return reg <= 1 ? 0 : INSN_ERR_UNSUPPORTED;
	case 0xff:	/* group 5: far call/jmp (/3 /5) need memory */
		if (reg == 7)
			return INSN_ERR_UNSUPPORTED;
		if ((reg == 3 || reg == 5) && insn->mod == 3)
			return INSN_ERR_UNSUPPORTED;
		return 0;
	}
	return INSN_ERR_UNSUPPORTED;
}

static uint8_t insn_branch_kind(const struct insn *insn)
{
	uint8_t op = insn->opcode;

	if (insn->map == INSN_MAP_0F)
		return INSN_BR_JCC;		/* 0F 80-8F */
	if (op >= 0x70 && op <= 0x7f)
		return INSN_BR_JCC;
	if (op >= 0xe0 && op <= 0xe3)
		return INSN_BR_LOOP;
	if (op == 0xe8)
		return INSN_BR_CALL;
	if (op == 0xc7)
		return INSN_BR_XBEGIN;
	return INSN_BR_JMP;			/* E9, EB */
}

/* What follows the opcode just read; A_BAD if there is no such instruction. */
static unsigned int insn_attr(const struct insn *insn, unsigned int enc)
{
	uint8_t op = insn->opcode;

	if (enc != ENC_LEGACY) {
		if (!insn_vex_opcode_exists(enc, insn->map, op))
			return A_BAD;
		if (insn->map == INSN_MAP_0F3A)
			return A_MODRM | IMM_B;
		if (insn->map == INSN_MAP_0F38)
			return A_MODRM;
		if (enc == ENC_VEX && op == 0x77)
			return 0;		/* vzeroupper, vzeroall */
		if (op >= 0x71 && op <= 0x73)
			return A_GROUP | A_MODRM | IMM_B;
		/* pshufd & co, cmpps & co, pinsrw, pextrw, shufps & co */
		if (op == 0x70 || op == 0xc2 || (op >= 0xc4 && op <= 0xc6))
			return A_MODRM | IMM_B;
		if (op == 0xae)
			return A_GROUP | A_MODRM;
		return A_MODRM;
	}

	/* F2 and F3 together leave the mandatory prefix to the CPU's whim. */
	if (insn->map != INSN_MAP_1B &&
	    (insn->prefixes & (INSN_PFX_REP | INSN_PFX_REPNE)) ==
	    (INSN_PFX_REP | INSN_PFX_REPNE))
		return A_BAD;

	switch (insn->map) {
	case INSN_MAP_1B:
		return insn_attr_1b[op];
	case INSN_MAP_0F:
		if (!(insn_hex_digit(insn_pfx_0f[op]) & insn_simd_prefix(insn)))
			return A_BAD;
		return insn_attr_0f[op];
	case INSN_MAP_0F38:
		if (!(insn_hex_digit(insn_pfx_0f38[op]) & insn_simd_prefix(insn)))
			return A_BAD;
		return A_MODRM;
	default:
		if (!(insn_hex_digit(insn_pfx_0f3a[op]) & insn_simd_prefix(insn)))
			return A_BAD;
		return A_MODRM | IMM_B;
	}
}

/* ModRM at buf[pos] (already known to exist), then SIB and displacement. */
static int insn_modrm(struct insn *insn, const uint8_t *buf, size_t *pos,
		      size_t avail)
{
	unsigned int dsize = 0;
	int err;

	/* The fields were filled in by the caller, which needed reg early. */
	(*pos)++;
	if (insn->mod != 3 && insn->rm == 4) {
		err = insn_need(*pos + 1, avail);
		if (err)
			return err;
		insn->sib = buf[*pos];
		insn->scale = insn->sib >> 6;
		insn->index = (insn->sib >> 3) & 7;
		insn->base = insn->sib & 7;
		insn->flags |= INSN_F_SIB;
		(*pos)++;
	}

	/*
	 * 32- and 64-bit addressing share these rules (67 does not bring back
	 * 16-bit forms in 64-bit mode).  rm and base are compared without
	 * REX.B: r13 as a base needs a disp8 just like rbp.
	 */
	switch (insn->mod) {
	case 0:
		if (insn->rm == 5) {
			insn->flags |= INSN_F_RIP_REL;
			dsize = 4;
		} else if ((insn->flags & INSN_F_SIB) && insn->base == 5) {
			dsize = 4;	/* no base, disp32 */
		}
		break;
	case 1:
		dsize = 1;
		break;
	case 2:
		dsize = 4;
		break;
	}
	if (!dsize)
		return 0;
	err = insn_need(*pos + dsize, avail);
	if (err)
		return err;
	insn->disp_size = dsize;
	insn->disp_off = *pos;
	insn->disp = insn_sext(insn_get(buf + *pos, dsize), dsize);
	*pos += dsize;
	return 0;
}

static int insn_imm(struct insn *insn, const uint8_t *buf, size_t *pos,
		    size_t avail, unsigned int kind)
{
	bool w = insn->wrxb & INSN_REX_W;
	bool o16 = (insn->prefixes & INSN_PFX_OPSIZE) && !w;
	unsigned int size;
	int err;

	switch (kind) {
	case IMM_NONE:
		return 0;
	case IMM_B:
		size = 1;
		break;
	case IMM_W:
	case IMM_ENTER:
		size = 2;
		break;
	case IMM_Z:
		size = o16 ? 2 : 4;
		break;
	case IMM_V:
		size = w ? 8 : o16 ? 2 : 4;
		break;
	case IMM_MOFFS:
		size = insn->prefixes & INSN_PFX_ADSIZE ? 4 : 8;
		err = insn_need(*pos + size, avail);
		if (err)
			return err;
		insn->flags |= INSN_F_MOFFS;
		insn->disp_size = size;
		insn->disp_off = *pos;
		insn->disp = (int64_t)insn_get(buf + *pos, size);
		*pos += size;
		return 0;
	case IMM_JB:
	case IMM_JZ:
		/*
		 * 66 makes a near branch truncate rIP to 16 bits on AMD, and
		 * E8/E9/0F 8x take a rel16 there but a rel32 on Intel: no
		 * single answer, and no compiler emits it.
		 */
		if (insn->prefixes & INSN_PFX_OPSIZE)
			return INSN_ERR_UNSUPPORTED;
		size = kind == IMM_JB ? 1 : 4;
		err = insn_need(*pos + size, avail);
		if (err)
			return err;
		insn->flags |= INSN_F_REL;
		insn->branch = insn_branch_kind(insn);
		insn->rel_size = size;
		insn->rel_off = *pos;
		insn->rel = (int32_t)insn_sext(insn_get(buf + *pos, size), size);
		*pos += size;
		return 0;
	default:
		return INSN_ERR_UNSUPPORTED;
	}

	err = insn_need(*pos + size + (kind == IMM_ENTER), avail);
	if (err)
		return err;
	insn->imm_size = size;
	insn->imm_off = *pos;
	insn->imm = insn_sext(insn_get(buf + *pos, size), size);
	*pos += size;
	if (kind == IMM_ENTER) {
		insn->imm2_size = 1;
		insn->imm2_off = *pos;
		insn->imm2 = buf[*pos];
		*pos += 1;
	}
	return 0;
}

static void insn_classify_nop(struct insn *insn)
{
	/* F2/F3/F0 turn these into other instructions (pause) or #UD. */
	if (insn->prefixes & (INSN_PFX_REP | INSN_PFX_REPNE | INSN_PFX_LOCK))
		return;
	if (insn->vex_len)
		return;
	/* 90 is xchg eax,eax; with REX.B it is xchg r8d,eax, a real move. */
	if (insn->map == INSN_MAP_1B && insn->opcode == 0x90 &&
	    !(insn->wrxb & INSN_REX_B))
		insn->flags |= INSN_F_NOP;
	/* The recommended long NOPs: 0F 1F /0, whatever the operand. */
	if (insn->map == INSN_MAP_0F && insn->opcode == 0x1f && insn->reg == 0)
		insn->flags |= INSN_F_NOP;
}

int insn_decode(struct insn *insn, const uint8_t *buf, size_t avail)
{
	size_t pos = 0;
	unsigned int attr, imm;
	unsigned int enc = ENC_LEGACY;
	uint8_t b;
	int err;

	*insn = (struct insn){ 0 };

	/* Legacy prefixes, then at most one REX, which must come last. */
	for (;;) {
		err = insn_need(pos + 1, avail);
		if (err)
			return err;
		b = buf[pos];
		if (insn_prefix(insn, b)) {
			/* The CPU ignores a REX that a prefix follows. */
			if (insn->rex)
				return INSN_ERR_UNSUPPORTED;
			insn->nr_prefixes++;
		} else if ((b & 0xf0) == 0x40) {
			if (insn->rex)
				return INSN_ERR_UNSUPPORTED;
			insn->rex = b;
			insn->wrxb = b & 0x0f;
		} else {
			break;
		}
		pos++;
	}

	/* Escape bytes or VEX/EVEX select the map. */
	if (b == 0x0f) {
		err = insn_need(pos + 2, avail);
		if (err)
			return err;
		pos++;
		insn->map = INSN_MAP_0F;
		if (buf[pos] == 0x38 || buf[pos] == 0x3a) {
			insn->map = buf[pos] == 0x38 ? INSN_MAP_0F38 :
						       INSN_MAP_0F3A;
			pos++;
		}
	} else if (b == 0xc4 || b == 0xc5 || b == 0x62) {
		/* In 64-bit mode these are always VEX/EVEX, never les/lds/bound. */
		err = insn_vex(insn, buf, pos, avail);
		if (err)
			return err;
		enc = insn->vex_len == 4 ? ENC_EVEX : ENC_VEX;
		pos += insn->vex_len;
	}

	err = insn_need(pos + 1, avail);
	if (err)
		return err;
	insn->opcode = buf[pos];
	insn->opcode_off = pos;
	pos++;

	attr = insn_attr(insn, enc);
	if (attr & A_BAD)
		return INSN_ERR_UNSUPPORTED;

	imm = attr & A_IMM;
	if (attr & A_MODRM) {
		err = insn_need(pos + 1, avail);
		if (err)
			return err;
		insn->modrm = buf[pos];
		insn->mod = insn->modrm >> 6;
		insn->reg = (insn->modrm >> 3) & 7;
		insn->rm = insn->modrm & 7;
		insn->flags |= INSN_F_MODRM;
		if (attr & A_GROUP) {
			err = insn_group(insn, &imm);
			if (err)
				return err;
		}
		err = insn_modrm(insn, buf, &pos, avail);
		if (err)
			return err;
	}

	err = insn_imm(insn, buf, &pos, avail, imm);
	if (err)
		return err;

	insn->len = pos;
	insn_classify_nop(insn);
	return (int)pos;
}

const char *insn_strerror(int err)
{
	switch (err) {
	case INSN_ERR_UNSUPPORTED:
		return "unsupported";
	case INSN_ERR_TRUNCATED:
		return "truncated";
	}
	return err < 0 ? "unknown error" : "ok";
}
