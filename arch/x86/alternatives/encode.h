/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * A small x86-64 encoder: exactly the instructions the patcher emits (NOP
 * padding, direct calls, register moves, the template instruction set and
 * what CALL thunks need).  Every emitter appends to a struct enc and marks
 * it overflowed instead of writing past its capacity.
 */
#ifndef PVPATCH_ALTERNATIVES_ENCODE_H
#define PVPATCH_ALTERNATIVES_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/pvpatch-abi.h>

struct enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uintptr_t addr;		/* run-time address of buf[0], for rel32 */
	bool overflow;		/* something did not fit: the result is unusable */
	bool range;		/* a rel32 target was out of reach */
};

static inline void enc_init(struct enc *e, uint8_t *buf, size_t cap, uintptr_t addr)
{
	e->buf = buf;
	e->len = 0;
	e->cap = cap;
	e->addr = addr;
	e->overflow = false;
	e->range = false;
}

static inline bool enc_ok(const struct enc *e)
{
	return !e->overflow && !e->range;
}

/* Registers are hardware numbers 0-15; w64 selects 64-bit operand size. */
void enc_bytes(struct enc *e, const uint8_t *b, size_t n);
void enc_nops(struct enc *e, size_t n);		/* one NOP (n <= 11) or JMP over int3 (never at NATIVE sites) */
void enc_nop_fill(uint8_t *buf, size_t n);	/* n bytes as one NOP, n <= 11 */
bool enc_is_nops(const uint8_t *p, size_t n);	/* p is what enc_nops() writes */
void enc_mov_rr(struct enc *e, int dst, int src, bool w64);	/* elided when dst == src */
void enc_mov_ri(struct enc *e, int dst, uint64_t imm, bool w64);
void enc_alu_rr(struct enc *e, uint8_t opcode, int dst, int src, bool w64);	/* "r/m, r" form */
void enc_shift_ri(struct enc *e, int ext, int dst, uint8_t imm, bool w64);	/* C1 /ext ib */
void enc_push(struct enc *e, int reg);
void enc_pop(struct enc *e, int reg);
void enc_call(struct enc *e, uintptr_t target);
void enc_jmp(struct enc *e, uintptr_t target);		/* jmp rel32 */
/* A return: ret; int3, or jmp rel32 to the kernel's return thunk (non-zero). */
void enc_return(struct enc *e, uintptr_t return_thunk);
void enc_rsp_add(struct enc *e, int8_t imm);		/* add $imm, %rsp */
void enc_rsp_align16(struct enc *e);			/* and $-16, %rsp */
void enc_store_rsp(struct enc *e, uint8_t disp, int src);		/* mov %src, disp(%rsp) */
void enc_load_rsp(struct enc *e, int dst, uint8_t disp, bool w64);	/* mov disp(%rsp), %dst */
void enc_lea_rsp(struct enc *e, int dst, uint8_t disp);		/* lea disp(%rsp), %dst */

/* Register numbers: the generated PVPATCH_REG_* (gen/pvops/layout.py REGS). */
#define REG_RAX	PVPATCH_REG_RAX
#define REG_RCX	PVPATCH_REG_RCX
#define REG_RDX	PVPATCH_REG_RDX
#define REG_RBX	PVPATCH_REG_RBX
#define REG_RSP	PVPATCH_REG_RSP
#define REG_RBP	PVPATCH_REG_RBP
#define REG_RSI	PVPATCH_REG_RSI
#define REG_RDI	PVPATCH_REG_RDI
#define REG_R8	PVPATCH_REG_R8
#define REG_R9	PVPATCH_REG_R9
#define REG_R10	PVPATCH_REG_R10
#define REG_R11	PVPATCH_REG_R11

/* Registers a SysV call may change, and the argument registers in order. */
#define CALLER_SAVED	0x0fc7	/* rax rcx rdx rsi rdi r8-r11 */
extern const int8_t sysv_arg_regs[6];

#endif
