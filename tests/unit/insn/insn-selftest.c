// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * insn_decode() on known encodings: lengths, fields and classification,
 * each truncation of each, then random bytes against the invariants every
 * decode must keep.  Built with ASan and UBSan, every buffer exactly as
 * long as the `avail` passed, so a read past it aborts the test.
 *
 * Exit status 0 if every check passed; each failure prints one line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insn.h"

struct expect {
	const char *hex;
	int len;		/* or INSN_ERR_* */
	uint16_t flags;
	uint8_t map, opcode, wrxb, nr_prefixes;
	uint8_t disp_size, disp_off;
	int64_t disp;
	uint8_t imm_size, imm_off;
	int64_t imm;
	uint8_t imm2_size, imm2;
	uint8_t rel_size, rel_off;
	int32_t rel;
	uint8_t branch;
};

#define M	INSN_F_MODRM
#define S	INSN_F_SIB
#define RIP	INSN_F_RIP_REL
#define REL	INSN_F_REL
#define NOP	INSN_F_NOP
#define VEX	INSN_F_VEX
#define EVEX	INSN_F_EVEX
#define UNSUP	INSN_ERR_UNSUPPORTED

static const struct expect cases[] = {
	/* --- what the patcher emits: calls, jumps, NOPs ------------------ */
	{ .hex = "e8 78 56 34 12", .len = 5, .flags = REL, .opcode = 0xe8,
	  .rel_size = 4, .rel_off = 1, .rel = 0x12345678,
	  .branch = INSN_BR_CALL },
	{ .hex = "e9 fb ff ff ff", .len = 5, .flags = REL, .opcode = 0xe9,
	  .rel_size = 4, .rel_off = 1, .rel = -5, .branch = INSN_BR_JMP },
	{ .hex = "eb fe", .len = 2, .flags = REL, .opcode = 0xeb,
	  .rel_size = 1, .rel_off = 1, .rel = -2, .branch = INSN_BR_JMP },
	{ .hex = "0f 84 10 00 00 00", .len = 6, .flags = REL,
	  .map = INSN_MAP_0F, .opcode = 0x84, .rel_size = 4, .rel_off = 2,
	  .rel = 0x10, .branch = INSN_BR_JCC },
	{ .hex = "74 80", .len = 2, .flags = REL, .opcode = 0x74,
	  .rel_size = 1, .rel_off = 1, .rel = -128, .branch = INSN_BR_JCC },
	{ .hex = "e2 fe", .len = 2, .flags = REL, .opcode = 0xe2,
	  .rel_size = 1, .rel_off = 1, .rel = -2, .branch = INSN_BR_LOOP },
	{ .hex = "67 e3 00", .len = 3, .flags = REL, .opcode = 0xe3,
	  .nr_prefixes = 1, .rel_size = 1, .rel_off = 2,
	  .branch = INSN_BR_LOOP },
	{ .hex = "f2 e8 00 00 00 00", .len = 6, .flags = REL, .opcode = 0xe8,
	  .nr_prefixes = 1, .rel_size = 4, .rel_off = 2,
	  .branch = INSN_BR_CALL },	/* bnd */
	{ .hex = "2e 74 00", .len = 3, .flags = REL, .opcode = 0x74,
	  .nr_prefixes = 1, .rel_size = 1, .rel_off = 2,
	  .branch = INSN_BR_JCC },	/* hint */
	{ .hex = "48 e8 00 00 00 00", .len = 6, .flags = REL, .opcode = 0xe8,
	  .wrxb = INSN_REX_W, .rel_size = 4, .rel_off = 2,
	  .branch = INSN_BR_CALL },
	{ .hex = "c7 f8 00 01 00 00", .len = 6, .flags = M | REL,
	  .opcode = 0xc7, .rel_size = 4, .rel_off = 2, .rel = 0x100,
	  .branch = INSN_BR_XBEGIN },
	/* 66 on a near branch: rel16 on AMD, rel32 on Intel */
	{ .hex = "66 e8 00 00 00 00", .len = UNSUP },
	{ .hex = "66 e9 00 00", .len = UNSUP },
	{ .hex = "66 0f 84 00 00 00 00", .len = UNSUP },
	{ .hex = "66 eb 00", .len = UNSUP },
	{ .hex = "66 c7 f8 00 00", .len = UNSUP },

	{ .hex = "90", .len = 1, .flags = NOP, .opcode = 0x90 },
	{ .hex = "66 90", .len = 2, .flags = NOP, .opcode = 0x90,
	  .nr_prefixes = 1 },
	{ .hex = "48 90", .len = 2, .flags = NOP, .opcode = 0x90,
	  .wrxb = INSN_REX_W },
	{ .hex = "41 90", .len = 2, .flags = 0, .opcode = 0x90,
	  .wrxb = INSN_REX_B },	/* xchg */
	{ .hex = "f3 90", .len = 2, .flags = 0, .opcode = 0x90,
	  .nr_prefixes = 1 },	/* pause */
	{ .hex = "0f 1f 00", .len = 3, .flags = M | NOP, .map = INSN_MAP_0F,
	  .opcode = 0x1f },
	{ .hex = "0f 1f 40 00", .len = 4, .flags = M | NOP, .map = INSN_MAP_0F,
	  .opcode = 0x1f, .disp_size = 1, .disp_off = 3 },
	{ .hex = "0f 1f 44 00 00", .len = 5, .flags = M | S | NOP,
	  .map = INSN_MAP_0F, .opcode = 0x1f, .disp_size = 1, .disp_off = 4 },
	{ .hex = "66 0f 1f 44 00 00", .len = 6, .flags = M | S | NOP,
	  .map = INSN_MAP_0F, .opcode = 0x1f, .nr_prefixes = 1, .disp_size = 1,
	  .disp_off = 5 },
	{ .hex = "0f 1f 80 00 00 00 00", .len = 7, .flags = M | NOP,
	  .map = INSN_MAP_0F, .opcode = 0x1f, .disp_size = 4, .disp_off = 3 },
	{ .hex = "0f 1f 84 00 00 00 00 00", .len = 8, .flags = M | S | NOP,
	  .map = INSN_MAP_0F, .opcode = 0x1f, .disp_size = 4, .disp_off = 4 },
	{ .hex = "66 0f 1f 84 00 00 00 00 00", .len = 9, .flags = M | S | NOP,
	  .map = INSN_MAP_0F, .opcode = 0x1f, .nr_prefixes = 1, .disp_size = 4,
	  .disp_off = 5 },
	{ .hex = "66 2e 0f 1f 84 00 00 00 00 00", .len = 10,
	  .flags = M | S | NOP, .map = INSN_MAP_0F, .opcode = 0x1f,
	  .nr_prefixes = 2, .disp_size = 4, .disp_off = 6 },
	{ .hex = "66 66 2e 0f 1f 84 00 00 00 00 00", .len = 11,
	  .flags = M | S | NOP, .map = INSN_MAP_0F, .opcode = 0x1f,
	  .nr_prefixes = 3, .disp_size = 4, .disp_off = 7 },
	{ .hex = "66 66 66 66 66 66 2e 0f 1f 84 00 00 00 00 00", .len = 15,
	  .flags = M | S | NOP, .map = INSN_MAP_0F, .opcode = 0x1f,
	  .nr_prefixes = 7, .disp_size = 4, .disp_off = 11 },
	/* one prefix more: 16 bytes, which the CPU refuses */
	{ .hex = "66 66 66 66 66 66 66 2e 0f 1f 84 00 00 00 00 00",
	  .len = UNSUP },
	{ .hex = "0f 1f c8", .len = 3, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x1f },	/* /1: not a NOP */
	{ .hex = "f3 0f 1e fa", .len = 4, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x1e, .nr_prefixes = 1 },	/* endbr64 */

	/* --- ModRM, SIB, displacement ------------------------------------ */
	{ .hex = "48 8b 05 78 56 34 12", .len = 7, .flags = M | RIP,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .wrxb = INSN_REX_W,
	  .disp_size = 4, .disp_off = 3, .disp = 0x12345678 },
	{ .hex = "4c 8d 3d f0 ff ff ff", .len = 7, .flags = M | RIP,
	  .map = INSN_MAP_1B, .opcode = 0x8d, .wrxb = INSN_REX_W | INSN_REX_R,
	  .disp_size = 4, .disp_off = 3, .disp = -16 },
	{ .hex = "67 8b 05 00 00 00 00", .len = 7, .flags = M | RIP,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .nr_prefixes = 1, .disp_size = 4,
	  .disp_off = 3 },
	{ .hex = "41 8b 05 00 00 00 00", .len = 7, .flags = M | RIP,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .wrxb = INSN_REX_B,
	  .disp_size = 4, .disp_off = 3 },	/* REX.B: still RIP */
	{ .hex = "8b 04 25 78 56 34 12", .len = 7, .flags = M | S,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .disp_size = 4, .disp_off = 3,
	  .disp = 0x12345678 },	/* SIB, no base: absolute */
	{ .hex = "42 8b 04 2d 00 00 00 00", .len = 8, .flags = M | S,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .wrxb = INSN_REX_X,
	  .disp_size = 4, .disp_off = 4 },	/* r13 index, no base */
	/* (%r13) needs disp8 */
	{ .hex = "41 8b 45 00", .len = 4, .flags = M, .map = INSN_MAP_1B,
	  .opcode = 0x8b, .wrxb = INSN_REX_B, .disp_size = 1, .disp_off = 3 },
	{ .hex = "41 8b 04 24", .len = 4, .flags = M | S, .map = INSN_MAP_1B,
	  .opcode = 0x8b, .wrxb = INSN_REX_B },	/* (%r12) */
	{ .hex = "8b 44 24 f8", .len = 4, .flags = M | S, .map = INSN_MAP_1B,
	  .opcode = 0x8b, .disp_size = 1, .disp_off = 3, .disp = -8 },
	{ .hex = "8b 84 24 00 01 00 00", .len = 7, .flags = M | S,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .disp_size = 4, .disp_off = 3,
	  .disp = 0x100 },
	{ .hex = "89 c8", .len = 2, .flags = M, .map = INSN_MAP_1B,
	  .opcode = 0x89 },
	{ .hex = "4d 89 c8", .len = 3, .flags = M, .map = INSN_MAP_1B,
	  .opcode = 0x89, .wrxb = INSN_REX_W | INSN_REX_R | INSN_REX_B },
	{ .hex = "64 48 8b 04 25 28 00 00 00", .len = 9, .flags = M | S,
	  .map = INSN_MAP_1B, .opcode = 0x8b, .wrxb = INSN_REX_W,
	  .nr_prefixes = 1, .disp_size = 4, .disp_off = 5, .disp = 0x28 },
	{ .hex = "8d c0", .len = UNSUP },	/* lea of a register */

	/* --- immediates -------------------------------------------------- */
	{ .hex = "48 b8 88 77 66 55 44 33 22 11", .len = 10, .flags = 0,
	  .opcode = 0xb8, .wrxb = INSN_REX_W, .imm_size = 8, .imm_off = 2,
	  .imm = 0x1122334455667788 },
	{ .hex = "b8 78 56 34 12", .len = 5, .flags = 0, .opcode = 0xb8,
	  .imm_size = 4, .imm_off = 1, .imm = 0x12345678 },
	{ .hex = "66 b8 34 12", .len = 4, .flags = 0, .opcode = 0xb8,
	  .nr_prefixes = 1, .imm_size = 2, .imm_off = 2, .imm = 0x1234 },
	{ .hex = "66 48 b8 00 00 00 00 00 00 00 80", .len = 11, .flags = 0,
	  .opcode = 0xb8, .wrxb = INSN_REX_W, .nr_prefixes = 1, .imm_size = 8,
	  .imm_off = 3, .imm = INT64_MIN },	/* REX.W beats 66 */
	{ .hex = "41 b0 ff", .len = 3, .flags = 0, .opcode = 0xb0,
	  .wrxb = INSN_REX_B, .imm_size = 1, .imm_off = 2, .imm = -1 },
	{ .hex = "48 a1 88 77 66 55 44 33 22 11", .len = 10,
	  .flags = INSN_F_MOFFS, .opcode = 0xa1, .wrxb = INSN_REX_W,
	  .disp_size = 8, .disp_off = 2, .disp = 0x1122334455667788 },
	{ .hex = "67 a0 f0 ff ff ff", .len = 6, .flags = INSN_F_MOFFS,
	  .opcode = 0xa0, .nr_prefixes = 1, .disp_size = 4, .disp_off = 2,
	  .disp = 0xfffffff0 },	/* zero-extended */
	{ .hex = "f6 c0 01", .len = 3, .flags = M, .opcode = 0xf6,
	  .imm_size = 1, .imm_off = 2, .imm = 1 },
	{ .hex = "f7 c0 78 56 34 12", .len = 6, .flags = M, .opcode = 0xf7,
	  .imm_size = 4, .imm_off = 2, .imm = 0x12345678 },
	{ .hex = "66 f7 c0 34 12", .len = 5, .flags = M, .opcode = 0xf7,
	  .nr_prefixes = 1, .imm_size = 2, .imm_off = 3, .imm = 0x1234 },
	{ .hex = "48 f7 05 00 01 00 00 ff ff ff ff", .len = 11,
	  .flags = M | RIP, .opcode = 0xf7, .wrxb = INSN_REX_W, .disp_size = 4,
	  .disp_off = 3, .disp = 0x100, .imm_size = 4, .imm_off = 7,
	  .imm = -1 },
	/* neg: none */
	{ .hex = "f7 d8", .len = 2, .flags = M, .opcode = 0xf7 },
	/* idivb (%rax) */
	{ .hex = "f6 38", .len = 2, .flags = M, .opcode = 0xf6 },
	{ .hex = "f6 c8 01", .len = UNSUP },	/* /1 alias of test */
	{ .hex = "c8 10 00 01", .len = 4, .flags = 0, .opcode = 0xc8,
	  .imm_size = 2, .imm_off = 1, .imm = 0x10, .imm2_size = 1,
	  .imm2 = 1 },	/* enter */
	{ .hex = "c2 08 00", .len = 3, .flags = 0, .opcode = 0xc2,
	  .imm_size = 2, .imm_off = 1, .imm = 8 },
	{ .hex = "66 48 c2 08 00", .len = 5, .flags = 0, .opcode = 0xc2,
	  .wrxb = INSN_REX_W, .nr_prefixes = 1, .imm_size = 2, .imm_off = 3,
	  .imm = 8 },
	{ .hex = "c6 f8 05", .len = 3, .flags = M, .opcode = 0xc6,
	  .imm_size = 1, .imm_off = 2, .imm = 5 },	/* xabort */
	{ .hex = "c6 05 00 00 00 00 01", .len = 7, .flags = M | RIP,
	  .opcode = 0xc6, .disp_size = 4, .disp_off = 2, .imm_size = 1,
	  .imm_off = 6, .imm = 1 },
	{ .hex = "66 c7 00 34 12", .len = 5, .flags = M, .opcode = 0xc7,
	  .nr_prefixes = 1, .imm_size = 2, .imm_off = 3, .imm = 0x1234 },
	{ .hex = "48 c7 c0 ff ff ff ff", .len = 7, .flags = M, .opcode = 0xc7,
	  .wrxb = INSN_REX_W, .imm_size = 4, .imm_off = 3, .imm = -1 },
	{ .hex = "c7 c8 00 00 00 00", .len = UNSUP },	/* C7 /1 */
	{ .hex = "80 3d 00 00 00 00 01", .len = 7, .flags = M | RIP,
	  .opcode = 0x80, .disp_size = 4, .disp_off = 2, .imm_size = 1,
	  .imm_off = 6, .imm = 1 },
	{ .hex = "83 7c 24 08 00", .len = 5, .flags = M | S, .opcode = 0x83,
	  .disp_size = 1, .disp_off = 3, .disp = 8, .imm_size = 1,
	  .imm_off = 4 },
	{ .hex = "48 81 ec a8 00 00 00", .len = 7, .flags = M, .opcode = 0x81,
	  .wrxb = INSN_REX_W, .imm_size = 4, .imm_off = 3, .imm = 0xa8 },
	{ .hex = "66 81 c0 34 12", .len = 5, .flags = M, .opcode = 0x81,
	  .nr_prefixes = 1, .imm_size = 2, .imm_off = 3, .imm = 0x1234 },
	{ .hex = "69 c0 78 56 34 12", .len = 6, .flags = M, .opcode = 0x69,
	  .imm_size = 4, .imm_off = 2, .imm = 0x12345678 },
	{ .hex = "6b c0 fb", .len = 3, .flags = M, .opcode = 0x6b,
	  .imm_size = 1, .imm_off = 2, .imm = -5 },
	{ .hex = "6a ff", .len = 2, .flags = 0, .opcode = 0x6a, .imm_size = 1,
	  .imm_off = 1, .imm = -1 },
	{ .hex = "68 78 56 34 12", .len = 5, .flags = 0, .opcode = 0x68,
	  .imm_size = 4, .imm_off = 1, .imm = 0x12345678 },
	{ .hex = "66 68 34 12", .len = 4, .flags = 0, .opcode = 0x68,
	  .nr_prefixes = 1, .imm_size = 2, .imm_off = 2, .imm = 0x1234 },
	{ .hex = "c1 e0 04", .len = 3, .flags = M, .opcode = 0xc1,
	  .imm_size = 1, .imm_off = 2, .imm = 4 },
	{ .hex = "e6 80", .len = 2, .flags = 0, .opcode = 0xe6, .imm_size = 1,
	  .imm_off = 1, .imm = -128 },	/* out %al,$0x80 */
	{ .hex = "cd 80", .len = 2, .flags = 0, .opcode = 0xcd, .imm_size = 1,
	  .imm_off = 1, .imm = -128 },

	/* --- privileged and system instructions the ops use ------------ */
	{ .hex = "fa", .len = 1, .flags = 0, .opcode = 0xfa },	/* cli */
	{ .hex = "9c", .len = 1, .flags = 0, .opcode = 0x9c },	/* pushf */
	{ .hex = "0f 22 d8", .len = 3, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x22 },	/* mov %rax,%cr3 */
	{ .hex = "44 0f 20 c0", .len = 4, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x20, .wrxb = INSN_REX_R },	/* %cr8 */
	{ .hex = "0f 22 18", .len = UNSUP },	/* mod=0: the CPU ignores mod */
	{ .hex = "0f 30", .len = 2, .flags = 0, .map = INSN_MAP_0F,
	  .opcode = 0x30 },	/* wrmsr */
	{ .hex = "0f 32", .len = 2, .flags = 0, .map = INSN_MAP_0F,
	  .opcode = 0x32 },	/* rdmsr */
	{ .hex = "0f 01 c1", .len = 3, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x01 },	/* vmcall */
	{ .hex = "0f 01 d9", .len = 3, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x01 },	/* vmmcall */
	{ .hex = "0f 05", .len = 2, .flags = 0, .map = INSN_MAP_0F,
	  .opcode = 0x05 },	/* syscall */
	{ .hex = "0f a2", .len = 2, .flags = 0, .map = INSN_MAP_0F,
	  .opcode = 0xa2 },	/* cpuid */
	{ .hex = "0f 0b", .len = 2, .flags = 0, .map = INSN_MAP_0F,
	  .opcode = 0x0b },	/* ud2 */
	{ .hex = "0f b9 c0", .len = 3, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xb9 },	/* ud1: ModRM */
	{ .hex = "0f ff c0", .len = UNSUP },	/* ud0: vendors disagree */
	/* in (%dx),%eax */
	{ .hex = "ed", .len = 1, .flags = 0, .opcode = 0xed },
	/* lock cmpxchg */
	{ .hex = "f0 48 0f b1 0e", .len = 5, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xb1, .wrxb = INSN_REX_W, .nr_prefixes = 1 },
	{ .hex = "f3 48 a5", .len = 3, .flags = 0, .opcode = 0xa5,
	  .wrxb = INSN_REX_W, .nr_prefixes = 1 },	/* rep movsq */
	{ .hex = "3e ff e0", .len = 3, .flags = M, .opcode = 0xff,
	  .nr_prefixes = 1 },	/* notrack */
	/* jmp *(%rip): not relative */
	{ .hex = "ff 25 00 00 00 00", .len = 6, .flags = M | RIP,
	  .opcode = 0xff, .disp_size = 4, .disp_off = 2 },
	/* lcall *(%rax) */
	{ .hex = "ff 18", .len = 2, .flags = M, .opcode = 0xff },
	{ .hex = "ff d8", .len = UNSUP },	/* lcall needs memory */
	{ .hex = "ff f8", .len = UNSUP },	/* FF /7 */
	{ .hex = "fe d0", .len = UNSUP },	/* FE /2 */
	{ .hex = "0f 00 f0", .len = UNSUP },	/* 0F 00 /6 */
	/* bt $3 */
	{ .hex = "0f ba e0 03", .len = 4, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xba, .imm_size = 1, .imm_off = 3, .imm = 3 },
	{ .hex = "0f ba c0 03", .len = UNSUP },	/* 0F BA /0 */
	/* shld $3 */
	{ .hex = "0f a4 c0 03", .len = 4, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xa4, .imm_size = 1, .imm_off = 3, .imm = 3 },
	/* popcnt */
	{ .hex = "f3 48 0f b8 c0", .len = 5, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xb8, .wrxb = INSN_REX_W, .nr_prefixes = 1 },
	{ .hex = "0f b8 c0", .len = UNSUP },	/* jmpe */
	{ .hex = "f2 f3 0f b8 c0", .len = UNSUP },	/* whose prefix? */
	{ .hex = "0f 78 c1", .len = 3, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x78 },	/* vmread */
	{ .hex = "66 0f 78 c0 01 02", .len = UNSUP },	/* extrq */
	/* fwait alone */
	{ .hex = "9b", .len = 1, .flags = 0, .opcode = 0x9b },
	{ .hex = "d9 7d fc", .len = 3, .flags = M, .opcode = 0xd9,
	  .disp_size = 1, .disp_off = 2, .disp = -4 },	/* fnstcw */
	/* fstp %st(0) */
	{ .hex = "dd d8", .len = 2, .flags = M, .opcode = 0xdd },
	{ .hex = "d9 d0", .len = 2, .flags = M, .opcode = 0xd9 },	/* fnop */
	{ .hex = "db e3", .len = 2, .flags = M, .opcode = 0xdb },	/* fninit */
	{ .hex = "dd 38", .len = 2, .flags = M, .opcode = 0xdd },	/* fnstsw */
	{ .hex = "d9 d1", .len = UNSUP },
	{ .hex = "df c1", .len = 2, .flags = M, .opcode = 0xdf },	/* ffreep */
	{ .hex = "dc d0", .len = UNSUP },			/* fcom2 */
	{ .hex = "d9 08", .len = UNSUP },			/* D9 /1 m */

	/* --- SSE: 0F, 0F38, 0F3A ----------------------------------------- */
	{ .hex = "66 0f 6f 05 00 00 00 00", .len = 8, .flags = M | RIP,
	  .map = INSN_MAP_0F, .opcode = 0x6f, .nr_prefixes = 1, .disp_size = 4,
	  .disp_off = 4 },
	{ .hex = "66 0f 73 d8 08", .len = 5, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x73, .nr_prefixes = 1, .imm_size = 1, .imm_off = 4,
	  .imm = 8 },	/* psrldq $8 */
	{ .hex = "0f 73 d8 08", .len = UNSUP },	/* no MMX psrldq */
	{ .hex = "66 0f 73 18 08", .len = UNSUP },	/* register only */
	{ .hex = "66 0f 70 c1 1b", .len = 5, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0x70, .nr_prefixes = 1, .imm_size = 1, .imm_off = 4,
	  .imm = 0x1b },	/* pshufd */
	/* shufps */
	{ .hex = "0f c6 c1 1b", .len = 4, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xc6, .imm_size = 1, .imm_off = 3, .imm = 0x1b },
	{ .hex = "f2 0f f0 00", .len = 4, .flags = M, .map = INSN_MAP_0F,
	  .opcode = 0xf0, .nr_prefixes = 1 },	/* lddqu */
	{ .hex = "0f f0 00", .len = UNSUP },	/* lddqu needs F2 */
	{ .hex = "66 0f 38 00 c1", .len = 5, .flags = M, .map = INSN_MAP_0F38,
	  .opcode = 0x00, .nr_prefixes = 1 },
	{ .hex = "0f 38 00 c1", .len = 4, .flags = M, .map = INSN_MAP_0F38,
	  .opcode = 0x00 },	/* MMX pshufb */
	{ .hex = "f3 0f 38 00 c1", .len = UNSUP },
	{ .hex = "66 0f 38 17 c1", .len = 5, .flags = M, .map = INSN_MAP_0F38,
	  .opcode = 0x17, .nr_prefixes = 1 },
	{ .hex = "0f 38 17 c1", .len = UNSUP },	/* ptest needs 66 */
	{ .hex = "f2 48 0f 38 f1 c1", .len = 6, .flags = M,
	  .map = INSN_MAP_0F38, .opcode = 0xf1, .wrxb = INSN_REX_W,
	  .nr_prefixes = 1 },	/* crc32q */
	{ .hex = "66 f2 0f 38 f1 c1", .len = 6, .flags = M,
	  .map = INSN_MAP_0F38, .opcode = 0xf1, .nr_prefixes = 2 },
	{ .hex = "0f 38 f0 07", .len = 4, .flags = M, .map = INSN_MAP_0F38,
	  .opcode = 0xf0 },	/* movbe */
	{ .hex = "66 0f 3a 0f c1 08", .len = 6, .flags = M,
	  .map = INSN_MAP_0F3A, .opcode = 0x0f, .nr_prefixes = 1,
	  .imm_size = 1, .imm_off = 5, .imm = 8 },	/* palignr */
	{ .hex = "66 0f 3a 44 05 00 00 00 00 11", .len = 10, .flags = M | RIP,
	  .map = INSN_MAP_0F3A, .opcode = 0x44, .nr_prefixes = 1,
	  .disp_size = 4, .disp_off = 5, .imm_size = 1, .imm_off = 9,
	  .imm = 0x11 },	/* pclmulqdq */
	{ .hex = "66 0f 3a 00 c1 00", .len = UNSUP },	/* no such opcode */
	{ .hex = "0f 0f c1 b4", .len = UNSUP },	/* 3DNow! */

	/* --- VEX ------------------------------------------------------- */
	{ .hex = "c5 f8 77", .len = 3, .flags = VEX, .map = INSN_MAP_0F,
	  .opcode = 0x77 },	/* vzeroupper */
	{ .hex = "c5 fd 6f 05 00 00 00 00", .len = 8, .flags = M | RIP | VEX,
	  .map = INSN_MAP_0F, .opcode = 0x6f, .disp_size = 4, .disp_off = 4 },
	{ .hex = "c5 7d 6f c0", .len = 4, .flags = M | VEX, .map = INSN_MAP_0F,
	  .opcode = 0x6f, .wrxb = INSN_REX_R },
	{ .hex = "c4 41 7d 6f c0", .len = 5, .flags = M | VEX,
	  .map = INSN_MAP_0F, .opcode = 0x6f,
	  .wrxb = INSN_REX_R | INSN_REX_B },
	{ .hex = "c4 e1 f9 7e c0", .len = 5, .flags = M | VEX,
	  .map = INSN_MAP_0F, .opcode = 0x7e, .wrxb = INSN_REX_W },
	{ .hex = "c5 f9 70 c1 1b", .len = 5, .flags = M | VEX,
	  .map = INSN_MAP_0F, .opcode = 0x70, .imm_size = 1, .imm_off = 4,
	  .imm = 0x1b },	/* vpshufd */
	{ .hex = "c5 f9 73 d8 08", .len = 5, .flags = M | VEX,
	  .map = INSN_MAP_0F, .opcode = 0x73, .imm_size = 1, .imm_off = 4,
	  .imm = 8 },	/* vpsrldq */
	{ .hex = "c5 f8 ae 10", .len = 4, .flags = M | VEX, .map = INSN_MAP_0F,
	  .opcode = 0xae },	/* vldmxcsr */
	{ .hex = "c5 f8 ae d0", .len = UNSUP },
	{ .hex = "c5 f8 c6 c1 1b", .len = 5, .flags = M | VEX,
	  .map = INSN_MAP_0F, .opcode = 0xc6, .imm_size = 1, .imm_off = 4,
	  .imm = 0x1b },				/* vshufps */
	{ .hex = "c4 e3 7d 18 c1 01", .len = 6, .flags = M | VEX,
	  .map = INSN_MAP_0F3A, .opcode = 0x18, .imm_size = 1, .imm_off = 5,
	  .imm = 1 },	/* vinsertf128 */
	{ .hex = "c4 e2 79 18 05 00 00 00 00", .len = 9,
	  .flags = M | RIP | VEX, .map = INSN_MAP_0F38, .opcode = 0x18,
	  .disp_size = 4, .disp_off = 5 },	/* vbroadcastss */
	{ .hex = "c4 e2 f9 f7 c1", .len = 5, .flags = M | VEX,
	  .map = INSN_MAP_0F38, .opcode = 0xf7, .wrxb = INSN_REX_W },
	{ .hex = "66 c5 f8 77", .len = UNSUP },	/* 66 before VEX */
	{ .hex = "48 c5 f8 77", .len = UNSUP },	/* REX before VEX */
	{ .hex = "f0 c5 f8 77", .len = UNSUP },
	{ .hex = "c4 e4 79 00 c0", .len = UNSUP },	/* VEX map 4 */
	{ .hex = "c4 e3 79 48 c0 00", .len = UNSUP },	/* AMD vpermil2ps */
	{ .hex = "c4 e3 f9 6b c2 10", .len = 6, .flags = M | VEX,
	  .map = INSN_MAP_0F3A, .opcode = 0x6b, .wrxb = INSN_REX_W,
	  .imm_size = 1, .imm_off = 5, .imm = 0x10 },	/* FMA4 vfmaddsd */
	{ .hex = "8f e8 78 c2 c1 01", .len = UNSUP },	/* AMD XOP */
	/* pop %rax */
	{ .hex = "8f c0", .len = 2, .flags = M, .opcode = 0x8f },

	/* --- EVEX ------------------------------------------------------ */
	{ .hex = "62 f1 7c 48 10 05 00 00 00 00", .len = 10,
	  .flags = M | RIP | EVEX, .map = INSN_MAP_0F, .opcode = 0x10,
	  .disp_size = 4, .disp_off = 6 },	/* vmovups */
	{ .hex = "62 f1 7d 48 6f 40 01", .len = 7, .flags = M | EVEX,
	  .map = INSN_MAP_0F, .opcode = 0x6f, .disp_size = 1, .disp_off = 6,
	  .disp = 1 },	/* disp8*N: unscaled */
	{ .hex = "62 f3 fd 48 1b c1 01", .len = 7, .flags = M | EVEX,
	  .map = INSN_MAP_0F3A, .opcode = 0x1b, .wrxb = INSN_REX_W,
	  .imm_size = 1, .imm_off = 6, .imm = 1 },	/* vextractf64x4 */
	{ .hex = "62 f1 7d 48 72 20 05", .len = 7, .flags = M | EVEX,
	  .map = INSN_MAP_0F, .opcode = 0x72, .imm_size = 1, .imm_off = 6,
	  .imm = 5 },	/* vpsrad $5,(%rax) */
	{ .hex = "62 51 7c 48 10 c0", .len = 6, .flags = M | EVEX,
	  .map = INSN_MAP_0F, .opcode = 0x10,
	  .wrxb = INSN_REX_R | INSN_REX_B },
	{ .hex = "62 f5 7c 48 58 c1", .len = UNSUP },	/* FP16 map 5 */
	{ .hex = "62 f9 7d 48 10 c0", .len = UNSUP },	/* P0 bit 3 set */
	{ .hex = "62 f1 79 48 10 c0", .len = UNSUP },	/* P1 bit 2 clear */
	/* REX before EVEX */
	{ .hex = "40 62 f1 7c 48 10 c0", .len = UNSUP },

	/* --- invalid in 64-bit mode, and odd prefix orders ------------- */
	{ .hex = "06", .len = UNSUP },
	{ .hex = "27", .len = UNSUP },
	{ .hex = "60", .len = UNSUP },
	{ .hex = "82 c0 01", .len = UNSUP },
	{ .hex = "9a 00 00 00 00 00 00", .len = UNSUP },
	{ .hex = "d4 0a", .len = UNSUP },
	{ .hex = "ea 00 00 00 00 00 00", .len = UNSUP },
	{ .hex = "48 66 89 c0", .len = UNSUP },	/* REX, then a prefix */
	{ .hex = "40 48 89 c0", .len = UNSUP },	/* two REX */
	{ .hex = "66 48 89 c0", .len = 4, .flags = M, .opcode = 0x89,
	  .wrxb = INSN_REX_W, .nr_prefixes = 1 },
};

static unsigned int failures;

#define FAIL(...) do {						\
	printf("FAIL %s: ", hex);				\
	printf(__VA_ARGS__);					\
	printf("\n");						\
	failures++;						\
} while (0)

static size_t parse_hex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	while (*hex) {
		unsigned int v;

		while (*hex == ' ')
			hex++;
		if (!*hex || sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static int64_t field(const uint8_t *buf, unsigned int off, unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = size; i--; )
		v = v << 8 | buf[off + i];
	if (size < 8 && (v >> (8 * size - 1)) & 1)
		v |= ~0ull << (8 * size);
	return (int64_t)v;
}

/*
 * What every successful decode must satisfy, whatever the bytes: fields
 * inside the instruction, in encoding order, the last one ending it, and
 * values that are what the bytes say.
 */
static void check_invariants(const char *hex, const struct insn *in,
			     const uint8_t *buf, size_t avail, int len)
{
	unsigned int end;

	if (len < 1 || len > INSN_MAX_LEN || (size_t)len > avail ||
	    in->len != len)
		FAIL("length %d (insn.len %u, avail %zu)", len, in->len, avail);
	if (in->opcode_off >= len || buf[in->opcode_off] != in->opcode)
		FAIL("opcode field");
	end = in->opcode_off + 1;
	if (in->flags & INSN_F_MODRM) {
		if (buf[end] != in->modrm || in->mod != in->modrm >> 6 ||
		    in->reg != ((in->modrm >> 3) & 7) ||
		    in->rm != (in->modrm & 7))
			FAIL("modrm fields");
		end++;
	}
	if (in->flags & INSN_F_SIB) {
		if (!(in->flags & INSN_F_MODRM) || buf[end] != in->sib ||
		    in->base != (in->sib & 7))
			FAIL("sib fields");
		end++;
	}
	if (in->disp_size) {
		if (in->disp_off != end)
			FAIL("disp at %u, expected %u", in->disp_off, end);
		if (!(in->flags & INSN_F_MOFFS) &&
		    in->disp != field(buf, in->disp_off, in->disp_size))
			FAIL("disp value");
		end += in->disp_size;
	}
	if (in->imm_size) {
		if (in->imm_off != end ||
		    in->imm != field(buf, in->imm_off, in->imm_size))
			FAIL("imm field");
		end += in->imm_size;
	}
	if (in->imm2_size) {
		if (in->imm2_off != end || in->imm2 != buf[end])
			FAIL("imm2 field");
		end += in->imm2_size;
	}
	if (in->rel_size) {
		if (in->rel_off != end ||
		    in->rel != field(buf, in->rel_off, in->rel_size))
			FAIL("rel field");
		end += in->rel_size;
	}
	if (end != (unsigned int)len)
		FAIL("fields end at %u, length %d", end, len);
	if (!!(in->flags & INSN_F_REL) != !!in->rel_size ||
	    !!in->rel_size != (in->branch != INSN_BR_NONE) ||
	    (in->rel_size && in->imm_size))
		FAIL("branch classification");
	if ((in->flags & INSN_F_RIP_REL) &&
	    (in->mod != 0 || in->rm != 5 || in->disp_size != 4 ||
	     (in->flags & INSN_F_SIB)))
		FAIL("rip-relative without mod=0 rm=5");
	if (in->opcode_off != in->nr_prefixes + !!in->rex + in->vex_len +
	    (in->vex_len ? 0 : in->map == INSN_MAP_0F ? 1 :
	     in->map ? 2 : 0))
		FAIL("opcode offset %u", in->opcode_off);
}

/* Decode from a heap copy exactly avail bytes long. */
static int decode_exact(struct insn *insn, const uint8_t *bytes, size_t avail)
{
	uint8_t *copy = malloc(avail ? avail : 1);
	int ret;

	memcpy(copy, bytes, avail);
	ret = insn_decode(insn, copy, avail);
	free(copy);
	return ret;
}

static void check_case(const struct expect *e)
{
	const char *hex = e->hex;
	uint8_t buf[32];
	struct insn in;
	size_t n = parse_hex(hex, buf), avail;
	int len;

	len = decode_exact(&in, buf, n);
	if (len != e->len) {
		FAIL("returned %d (%s), expected %d", len,
		     len < 0 ? insn_strerror(len) : "length", e->len);
		return;
	}
	if (len < 0)
		return;
	if ((size_t)len != n)
		FAIL("test case has %zu bytes for a length of %d", n, len);
	check_invariants(hex, &in, buf, n, len);

#define EQ(f)	do { if ((int64_t)in.f != (int64_t)e->f)		\
		FAIL(#f " is %" PRId64 ", expected %" PRId64,		\
		     (int64_t)in.f, (int64_t)e->f); } while (0)
	EQ(flags);
	EQ(map);
	EQ(opcode);
	EQ(wrxb);
	EQ(nr_prefixes);
	EQ(disp_size);
	EQ(disp_off);
	EQ(disp);
	EQ(imm_size);
	EQ(imm_off);
	EQ(imm);
	EQ(imm2_size);
	EQ(imm2);
	EQ(rel_size);
	EQ(rel_off);
	EQ(rel);
	EQ(branch);
#undef EQ

	/* Every proper prefix of a supported instruction is "truncated". */
	for (avail = 0; avail < n; avail++) {
		int r = decode_exact(&in, buf, avail);

		if (r != INSN_ERR_TRUNCATED)
			FAIL("with %zu bytes: %d, expected truncated",
			     avail, r);
	}
	/* More bytes after it change nothing. */
	memset(buf + n, 0x90, sizeof(buf) - n);
	if (decode_exact(&in, buf, sizeof(buf)) != len)
		FAIL("length changes with trailing bytes");
}

/* xorshift64*: the same sequence on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/*
 * Random instructions, biased towards prefixes, escapes and VEX/EVEX so
 * that every path is taken, each decoded from a buffer of every length.
 */
static void check_random(unsigned long rounds)
{
	static const uint8_t interesting[] = {
		0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x64, 0x65, 0x48,
		0x41, 0x0f, 0x0f, 0x38, 0x3a, 0xc4, 0xc5, 0x62, 0x8f, 0x9b,
	};
	const char *hex = "(random)";
	unsigned long i;
	unsigned long decoded = 0;

	for (i = 0; i < rounds; i++) {
		uint8_t buf[20];
		struct insn in, again;
		unsigned int k;
		int len, r;

		for (k = 0; k < sizeof(buf); k++) {
			uint64_t x = rng();

			buf[k] = (x & 3) == 0 ?
				 interesting[(x >> 8) % sizeof(interesting)] :
				 (uint8_t)(x >> 16);
		}
		len = decode_exact(&in, buf, sizeof(buf));
		if (len == INSN_ERR_UNSUPPORTED)
			continue;
		if (len < 0) {
			FAIL("%d from 20 bytes", len);
			continue;
		}
		decoded++;
		check_invariants(hex, &in, buf, sizeof(buf), len);
		r = decode_exact(&again, buf, len);
		if (r != len || memcmp(&in, &again, sizeof(in)))
			FAIL("different result with avail = length");
		r = decode_exact(&again, buf, len - 1);
		if (r != INSN_ERR_TRUNCATED)
			FAIL("one byte short: %d", r);
	}
	printf("random: %lu of %lu decoded\n", decoded, rounds);
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	printf("%zu known encodings checked\n", i);
	check_random(300000);
	if (failures) {
		printf("%u failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
