// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The x86-64 encoder of the patcher.  Encodings are from the Intel SDM,
 * volume 2; NOPs are the recommended multi-byte forms (SDM "NOP"), with
 * extra 66 prefixes and a CS prefix up to 11 bytes as GNU as emits them, so
 * padding the patcher writes is byte-identical to the assembler's.
 */
#include "encode.h"

const int8_t sysv_arg_regs[6] = { REG_RDI, REG_RSI, REG_RDX, REG_RCX, REG_R8, REG_R9 };

static const uint8_t nops[12][11] = {
	[1] = { 0x90 },
	[2] = { 0x66, 0x90 },
	[3] = { 0x0f, 0x1f, 0x00 },
	[4] = { 0x0f, 0x1f, 0x40, 0x00 },
	[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	[9] = { 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	[10] = { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	[11] = { 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

static void put(struct enc *e, uint8_t b)
{
	if (e->len >= e->cap) {
		e->overflow = true;
		return;
	}
	e->buf[e->len++] = b;
}

static void put32(struct enc *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put(e, (uint8_t)(v >> (8 * i)));
}

void enc_bytes(struct enc *e, const uint8_t *b, size_t n)
{
	/* One bounds check for the run (this is most of what a site costs). */
	if (n > e->cap - e->len) {
		e->overflow = true;
		e->len = e->cap;
		return;
	}
	for (size_t i = 0; i < n; i++)
		e->buf[e->len + i] = b[i];
	e->len += n;
}

void enc_nop_fill(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = nops[n][i];
}

bool enc_is_nops(const uint8_t *p, size_t n)
{
	if (n <= 11) {
		for (size_t i = 0; i < n; i++)
			if (p[i] != nops[n][i])
				return false;
		return true;
	}
	if (p[0] != 0xeb || p[1] != (uint8_t)(n - 2))
		return false;
	for (size_t i = 2; i < n; i++)
		if (p[i] != 0xcc)
			return false;
	return true;
}

void enc_nops(struct enc *e, size_t n)
{
	if (n == 0)
		return;
	if (n <= 11) {
		enc_bytes(e, nops[n], n);
		return;
	}
	/* Long padding: jump over it (rel8 reaches any site of <= 129 bytes). */
	if (n > e->cap - e->len) {
		e->overflow = true;
		e->len = e->cap;
		return;
	}
	e->buf[e->len] = 0xeb;
	e->buf[e->len + 1] = (uint8_t)(n - 2);
	for (size_t i = 2; i < n; i++)
		e->buf[e->len + i] = 0xcc;
	e->len += n;
}

/* REX prefix when needed: W for 64-bit, R extends modrm.reg, B modrm.rm. */
static void rex(struct enc *e, bool w, int reg, int rm)
{
	uint8_t r = 0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0);

	if (r != 0x40)
		put(e, r);
}

static void modrm_rr(struct enc *e, int reg, int rm)
{
	put(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

void enc_alu_rr(struct enc *e, uint8_t opcode, int dst, int src, bool w64)
{
	rex(e, w64, src, dst);
	put(e, opcode);
	modrm_rr(e, src, dst);
}

void enc_mov_rr(struct enc *e, int dst, int src, bool w64)
{
	if (dst == src && w64)
		return;
	enc_alu_rr(e, 0x89, dst, src, w64);
}

void enc_mov_ri(struct enc *e, int dst, uint64_t imm, bool w64)
{
	if (!w64 || imm <= 0xffffffffu) {
		/* mov $imm32, %r32 zero-extends into the 64-bit register. */
		rex(e, false, 0, dst);
		put(e, (uint8_t)(0xb8 + (dst & 7)));
		put32(e, (uint32_t)imm);
	} else if ((int64_t)imm >= INT32_MIN && (int64_t)imm <= INT32_MAX) {
		rex(e, true, 0, dst);	/* C7 /0: sign-extended imm32 */
		put(e, 0xc7);
		modrm_rr(e, 0, dst);
		put32(e, (uint32_t)imm);
	} else {
		rex(e, true, 0, dst);	/* movabs */
		put(e, (uint8_t)(0xb8 + (dst & 7)));
		put32(e, (uint32_t)imm);
		put32(e, (uint32_t)(imm >> 32));
	}
}

void enc_shift_ri(struct enc *e, int ext, int dst, uint8_t imm, bool w64)
{
	rex(e, w64, 0, dst);
	put(e, 0xc1);
	modrm_rr(e, ext, dst);
	put(e, imm);
}

void enc_push(struct enc *e, int reg)
{
	rex(e, false, 0, reg);
	put(e, (uint8_t)(0x50 + (reg & 7)));
}

void enc_pop(struct enc *e, int reg)
{
	rex(e, false, 0, reg);
	put(e, (uint8_t)(0x58 + (reg & 7)));
}

/* opcode rel32 to target, flagging a target out of reach. */
static void rel32(struct enc *e, uint8_t opcode, uintptr_t target)
{
	uintptr_t next = e->addr + e->len + 5;
	int64_t disp = (int64_t)(target - next);

	if (disp < INT32_MIN || disp > INT32_MAX)
		e->range = true;
	put(e, opcode);
	put32(e, (uint32_t)disp);
}

void enc_call(struct enc *e, uintptr_t target)
{
	rel32(e, 0xe8, target);
}

void enc_jmp(struct enc *e, uintptr_t target)
{
	rel32(e, 0xe9, target);
}

void enc_return(struct enc *e, uintptr_t return_thunk)
{
	if (return_thunk) {
		rel32(e, 0xe9, return_thunk);	/* jmp return_thunk */
	} else {
		put(e, 0xc3);			/* ret */
		put(e, 0xcc);			/* int3: no straight-line speculation */
	}
}

void enc_rsp_add(struct enc *e, int8_t imm)
{
	put(e, 0x48);
	put(e, 0x83);
	put(e, 0xc4);
	put(e, (uint8_t)imm);
}

void enc_rsp_align16(struct enc *e)
{
	put(e, 0x48);
	put(e, 0x83);
	put(e, 0xe4);
	put(e, 0xf0);
}

/* disp8(%rsp) needs a SIB byte (base rsp, no index). */
static void rsp_disp8(struct enc *e, int reg, uint8_t disp)
{
	put(e, (uint8_t)(0x44 | (reg & 7) << 3));
	put(e, 0x24);
	put(e, disp);
}

void enc_store_rsp(struct enc *e, uint8_t disp, int src)
{
	rex(e, true, src, 0);
	put(e, 0x89);
	rsp_disp8(e, src, disp);
}

void enc_load_rsp(struct enc *e, int dst, uint8_t disp, bool w64)
{
	rex(e, w64, dst, 0);
	put(e, 0x8b);
	rsp_disp8(e, dst, disp);
}

void enc_lea_rsp(struct enc *e, int dst, uint8_t disp)
{
	rex(e, true, dst, 0);
	put(e, 0x8d);
	rsp_disp8(e, dst, disp);
}
