// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The template fitter: an inline linker.  It resolves a template's holes to
 * one site's registers and encodes it, while simulating what the template
 * does to the registers, so that it can refuse, for this site, a template
 * that would corrupt the code around it.
 *
 * Nomenclature:
 *   free     registers the site may change (its record's clobber mask)
 *   dirty    registers changed so far, and not yet restored
 *   stack    registers pushed, with whether they were untouched when pushed;
 *            popping one into itself restores it
 */
#include "internal.h"

#define IS_REG(o)	((o) < 16)
#define IS_ARG(o)	((o) >= PVT_ARG(0) && (o) < PVT_ARG(PVPATCH_MAX_ARGS))
#define IS_SCRATCH(o)	((o) >= PVT_SCRATCH(0) && (o) < PVT_SCRATCH(PVT_MAX_SCRATCH))
#define IS_IMM(o)	((o) >= PVT_IMM(0) && (o) < PVT_IMM(PVT_MAX_PARAMS))

struct fit {
	const struct pvpatch_template *t;
	const struct site *s;
	int8_t scratch[PVT_MAX_SCRATCH];
	uint16_t dirty;
	uint16_t hv;		/* what a hypercall instruction may change */
	int8_t stack[PVT_MAX_INSNS];
	bool stack_clean[PVT_MAX_INSNS];
	int depth;
	bool ret_set;		/* PVT_RET written and not overwritten since */
};

/* Registers named explicitly anywhere in the template, or implied. */
static uint16_t fixed_regs(const struct pvpatch_template *t)
{
	uint16_t m = 0;

	for (int i = 0; i < t->n_insns; i++) {
		const struct pvt_insn *in = &t->insn[i];

		if (IS_REG(in->dst))
			m |= 1u << in->dst;
		if (IS_REG(in->src))
			m |= 1u << in->src;
		switch (in->op) {
		case PVT_IN: case PVT_OUT: case PVT_VMCALL: case PVT_VMMCALL:
			m |= t->hv_clobbers | 1u << REG_RAX | 1u << REG_RDX;
			break;
		case PVT_CPUID:
			m |= 0x000f;
			break;
		case PVT_RDTSC:
			m |= 1u << REG_RAX | 1u << REG_RDX;
			break;
		}
	}
	return m;
}

static int alloc_scratch(struct fit *f)
{
	const struct site *s = f->s;
	uint16_t busy = fixed_regs(f->t) | 1u << REG_RSP;

	for (int i = 0; i < s->nargs; i++)
		busy |= 1u << s->arg[i];
	if (s->ret >= 0)
		busy |= 1u << s->ret;
	/* The lowest-numbered free registers nothing else uses, in order. */
	for (int n = 0; n < PVT_MAX_SCRATCH; n++) {
		unsigned int avail = s->free & ~busy & 0xffffu;

		f->scratch[n] = avail ? (int8_t)__builtin_ctz(avail) : -1;
		busy |= (uint16_t)(avail & -avail);
	}
	return PVPATCH_OK;
}

/* The register an operand names at this site, or a negative reason. */
static int resolve(struct fit *f, uint8_t o)
{
	if (IS_REG(o))
		return o == REG_RSP ? -PVPATCH_E_INSN : o;
	if (IS_ARG(o))
		return o - PVT_ARG(0) < f->s->nargs ? f->s->arg[o - PVT_ARG(0)] : -PVPATCH_E_INSN;
	if (o == PVT_RET)
		return f->s->ret >= 0 ? f->s->ret : -PVPATCH_E_INSN;
	if (IS_SCRATCH(o))
		return f->scratch[o - PVT_SCRATCH(0)] >= 0 ? f->scratch[o - PVT_SCRATCH(0)]
							    : -PVPATCH_E_NO_SCRATCH;
	return -PVPATCH_E_INSN;
}

/* A read of operand o: an argument must still be in its register. */
static int use(struct fit *f, uint8_t o, int reg)
{
	if (IS_ARG(o) && (f->dirty >> reg & 1))
		return PVPATCH_E_ARG_LOST;
	return PVPATCH_OK;
}

static void write(struct fit *f, uint8_t o, uint16_t regs)
{
	f->dirty |= regs;
	if (o == PVT_RET)
		f->ret_set = true;
	else if (f->s->ret >= 0 && (regs >> f->s->ret & 1))
		f->ret_set = false;
}

static int one(struct fit *f, const struct pvt_insn *in, const uint64_t *params, struct enc *e)
{
	bool w64 = in->width == 8;
	int dst = -1, src = -1, err;
	static const uint8_t alu[] = {
		[PVT_XOR] = ENC_XOR, [PVT_OR] = ENC_OR, [PVT_AND] = ENC_AND,
		[PVT_ADD] = ENC_ADD, [PVT_SUB] = ENC_SUB,
	};

	if (in->width != 4 && in->width != 8)
		return PVPATCH_E_INSN;
	switch (in->op) {
	case PVT_MOV: case PVT_XOR: case PVT_OR: case PVT_AND: case PVT_ADD: case PVT_SUB:
	case PVT_MOVI: case PVT_SHLI: case PVT_SHRI: case PVT_PUSH: case PVT_POP:
		dst = resolve(f, in->dst);
		if (dst < 0)
			return -dst;
		break;
	}
	switch (in->op) {
	case PVT_MOV: case PVT_XOR: case PVT_OR: case PVT_AND: case PVT_ADD: case PVT_SUB:
		src = resolve(f, in->src);
		if (src < 0)
			return -src;
		if ((err = use(f, in->src, src)))
			return err;
		if (in->op != PVT_MOV && (err = use(f, in->dst, dst)))
			return err;
		if (in->op == PVT_MOV)
			enc_mov_rr(e, dst, src, w64);
		else
			enc_alu_rr(e, alu[in->op], dst, src, w64);
		write(f, in->dst, 1u << dst);
		return PVPATCH_OK;
	case PVT_MOVI: {
		uint64_t v = in->imm;

		if (IS_IMM(in->src))
			v = params[in->src - PVT_IMM(0)];
		else if (in->src != PVT_NONE)
			return PVPATCH_E_INSN;
		enc_mov_ri(e, dst, w64 ? v : (uint32_t)v, w64);
		write(f, in->dst, 1u << dst);
		return PVPATCH_OK;
	}
	case PVT_SHLI: case PVT_SHRI:
		if (in->imm > (w64 ? 63u : 31u) || in->src != PVT_NONE)
			return PVPATCH_E_INSN;
		if ((err = use(f, in->dst, dst)))
			return err;
		enc_shift_ri(e, in->op == PVT_SHLI ? ENC_SHL : ENC_SHR, dst, (uint8_t)in->imm, w64);
		write(f, in->dst, 1u << dst);
		return PVPATCH_OK;
	case PVT_PUSH:
		if (!w64 || f->depth >= PVT_MAX_INSNS)
			return PVPATCH_E_INSN;
		if ((err = use(f, in->dst, dst)))
			return err;
		f->stack[f->depth] = (int8_t)dst;
		f->stack_clean[f->depth++] = !(f->dirty >> dst & 1);
		enc_push(e, dst);
		return PVPATCH_OK;
	case PVT_POP:
		if (!w64)
			return PVPATCH_E_INSN;
		if (f->depth == 0)
			return PVPATCH_E_STACK;
		f->depth--;
		if (f->stack[f->depth] == dst && f->stack_clean[f->depth]) {
			f->dirty &= (uint16_t)~(1u << dst);	/* restored */
			if (f->s->ret == dst)
				f->ret_set = false;
		} else {
			write(f, in->dst, 1u << dst);
		}
		enc_pop(e, dst);
		return PVPATCH_OK;
	case PVT_IN:
		enc_bytes(e, (const uint8_t[]){ 0xed }, 1);
		write(f, PVT_NONE, f->hv | 1u << REG_RAX);
		return PVPATCH_OK;
	case PVT_OUT:
		enc_bytes(e, (const uint8_t[]){ 0xef }, 1);
		write(f, PVT_NONE, f->hv);
		return PVPATCH_OK;
	case PVT_VMCALL:
		enc_bytes(e, (const uint8_t[]){ 0x0f, 0x01, 0xc1 }, 3);
		write(f, PVT_NONE, f->hv);
		return PVPATCH_OK;
	case PVT_VMMCALL:
		enc_bytes(e, (const uint8_t[]){ 0x0f, 0x01, 0xd9 }, 3);
		write(f, PVT_NONE, f->hv);
		return PVPATCH_OK;
	case PVT_CPUID:
		enc_bytes(e, (const uint8_t[]){ 0x0f, 0xa2 }, 2);
		write(f, PVT_NONE, 0x000f);
		return PVPATCH_OK;
	case PVT_RDTSC:
		enc_bytes(e, (const uint8_t[]){ 0x0f, 0x31 }, 2);
		write(f, PVT_NONE, 1u << REG_RAX | 1u << REG_RDX);
		return PVPATCH_OK;
	case PVT_PAUSE:
		enc_bytes(e, (const uint8_t[]){ 0xf3, 0x90 }, 2);
		return PVPATCH_OK;
	default:
		return PVPATCH_E_INSN;
	}
}

int template_fit(const struct pvpatch_template *t, const uint64_t *params,
		 const struct site *s, struct enc *e)
{
	struct fit f = { .t = t, .s = s, .hv = t->hv_clobbers };
	int err;

	if (t->n_insns == 0 || t->n_insns > PVT_MAX_INSNS)
		return PVPATCH_E_INSN;
	if (t->hv_clobbers & 1u << REG_RSP)
		return PVPATCH_E_CLOBBER;
	alloc_scratch(&f);
	for (int i = 0; i < t->n_insns; i++) {
		err = one(&f, &t->insn[i], params, e);
		if (err)
			return err;
	}
	if (f.depth != 0)
		return PVPATCH_E_STACK;
	if (f.dirty & ~s->free)
		return PVPATCH_E_CLOBBER;
	if (s->ret >= 0 && !f.ret_set)
		return PVPATCH_E_NO_RESULT;
	if (e->overflow)
		return PVPATCH_E_TOO_LONG;
	return PVPATCH_OK;
}
