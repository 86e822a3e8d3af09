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
 *   elided   push/pop pairs not emitted: a template saves a register it
 *            uses (push %rbx ... pop %rbx), but where the site's mask says
 *            that register is free (dead after the site: declared, or
 *            widened by liveness) and it carries no argument or result,
 *            there is nothing to save -- the template uses it as scratch
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
	uint32_t elided;	/* bit i: instruction i (a push or its pop) not emitted */
};
_Static_assert(PVT_MAX_INSNS <= 32, "struct fit.elided");

/* What instruction i does besides its operands (pvt_opcode_table[]). */
static const struct pvt_opcode_info *info(const struct pvt_insn *in)
{
	return in->op < PVT_NR_OPCODES && pvt_opcode_table[in->op].mnemonic ?
		&pvt_opcode_table[in->op] : NULL;
}

/* Registers named explicitly anywhere in the template, or implied. */
static uint16_t fixed_regs(const struct pvpatch_template *t)
{
	uint16_t m = 0;

	for (int i = 0; i < t->n_insns; i++) {
		const struct pvt_insn *in = &t->insn[i];
		const struct pvt_opcode_info *oi = info(in);

		if (IS_REG(in->dst))
			m |= 1u << in->dst;
		if (IS_REG(in->src))
			m |= 1u << in->src;
		if (oi)
			m |= oi->reads | oi->writes | (oi->flags & PVT_F_HV ? t->hv_clobbers : 0);
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

static int resolve(struct fit *f, uint8_t o);

/*
 * Pair each push with its pop; a pair of one register that the site may
 * lose and that holds no argument or result is elided.  Unbalanced or
 * unresolvable templates are left to the checks of one() and template_fit().
 */
static void elide_saves(struct fit *f)
{
	const struct site *s = f->s;
	int stack[PVT_MAX_INSNS], depth = 0;
	uint16_t keep = 1u << REG_RSP;

	for (int i = 0; i < s->nargs; i++)
		keep |= (uint16_t)(1u << s->arg[i]);
	if (s->ret >= 0)
		keep |= (uint16_t)(1u << s->ret);
	for (int i = 0; i < f->t->n_insns; i++) {
		const struct pvt_insn *in = &f->t->insn[i];
		int r, q;

		if (in->op == PVT_PUSH && in->width == 8) {
			stack[depth++] = i;
			continue;
		}
		if (in->op != PVT_POP)
			continue;
		if (depth == 0)
			return;
		q = stack[--depth];
		r = resolve(f, in->dst);
		if (in->width != 8 || r < 0 || r != resolve(f, f->t->insn[q].dst) ||
		    (keep >> r & 1) || !(s->free >> r & 1))
			continue;
		f->elided |= 1u << i | 1u << q;
	}
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

static int reads_dst(struct fit *f, const struct pvt_opcode_info *oi,
		     const struct pvt_insn *in, int dst)
{
	return oi->flags & PVT_F_READS_DST ? use(f, in->dst, dst) : PVPATCH_OK;
}

static int one(struct fit *f, const struct pvt_insn *in, const uint64_t *params, struct enc *e)
{
	const struct pvt_opcode_info *oi = info(in);
	bool w64 = in->width == 8;
	int dst = -1, src = -1, err;

	if (!oi || (in->width != 4 && in->width != 8) || !(oi->widths & in->width))
		return PVPATCH_E_INSN;
	if (oi->shape == PVT_SHAPE_NONE) {
		if (in->dst != PVT_NONE || in->src != PVT_NONE)
			return PVPATCH_E_INSN;
		enc_bytes(e, oi->enc, oi->enc_len);
		write(f, PVT_NONE, (uint16_t)(oi->writes | (oi->flags & PVT_F_HV ? f->hv : 0)));
		return PVPATCH_OK;
	}
	dst = resolve(f, in->dst);
	if (dst < 0)
		return -dst;
	switch (oi->shape) {
	case PVT_SHAPE_REG_REG:
		src = resolve(f, in->src);
		if (src < 0)
			return -src;
		if ((err = use(f, in->src, src)) || (err = reads_dst(f, oi, in, dst)))
			return err;
		if (in->op == PVT_MOV)
			enc_mov_rr(e, dst, src, w64);	/* elided when dst == src */
		else
			enc_alu_rr(e, oi->enc[0], dst, src, w64);
		break;
	case PVT_SHAPE_REG_IMM: {
		uint64_t v = in->imm;

		if (IS_IMM(in->src))
			v = params[in->src - PVT_IMM(0)];
		else if (in->src != PVT_NONE)
			return PVPATCH_E_INSN;
		enc_mov_ri(e, dst, w64 ? v : (uint32_t)v, w64);
		break;
	}
	case PVT_SHAPE_REG_COUNT:
		if (in->imm >= in->width * 8u || in->src != PVT_NONE)
			return PVPATCH_E_INSN;
		if ((err = reads_dst(f, oi, in, dst)))
			return err;
		enc_shift_ri(e, oi->enc[0], dst, (uint8_t)in->imm, w64);
		break;
	case PVT_SHAPE_REG:
		if (in->src != PVT_NONE)
			return PVPATCH_E_INSN;
		if (f->elided >> (in - f->t->insn) & 1) {
			/* A pop not emitted leaves what the register holds: changed. */
			if (in->op == PVT_POP)
				write(f, in->dst, (uint16_t)(1u << dst));
			return PVPATCH_OK;
		}
		if (in->op == PVT_PUSH) {
			if (f->depth >= PVT_MAX_INSNS)
				return PVPATCH_E_INSN;
			if ((err = reads_dst(f, oi, in, dst)))
				return err;
			f->stack[f->depth] = (int8_t)dst;
			f->stack_clean[f->depth++] = !(f->dirty >> dst & 1);
			enc_push(e, dst);
			return PVPATCH_OK;
		}
		/* PVT_POP: popping a register pushed untouched restores it. */
		if (f->depth == 0)
			return PVPATCH_E_STACK;
		f->depth--;
		enc_pop(e, dst);
		if (f->stack[f->depth] == dst && f->stack_clean[f->depth]) {
			f->dirty &= (uint16_t)~(1u << dst);
			if (f->s->ret == dst)
				f->ret_set = false;
			return PVPATCH_OK;
		}
		break;
	default:
		return PVPATCH_E_INSN;
	}
	/* rsp (push, pop) is kept balanced by the stack check, not tracked here. */
	if (oi->flags & PVT_F_WRITES_DST)
		write(f, in->dst, (uint16_t)((1u << dst) | (oi->writes & ~(1u << REG_RSP))));
	return PVPATCH_OK;
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
	elide_saves(&f);
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

/* The pinned register, else the lowest one not busy. */
static int8_t pick(int8_t pin, uint16_t *busy)
{
	unsigned int avail = ~*busy & 0xffffu;

	if (pin < 0)
		pin = avail ? (int8_t)__builtin_ctz(avail) : REG_RSP;
	*busy |= (uint16_t)(1u << pin);
	return pin;
}

/*
 * What every site of op would refuse in *pol whatever its registers: the
 * mode, a missing template, and a template that does not fit even the most
 * accommodating site -- every register but rsp free, the arguments and the
 * result in distinct registers the template does not name, room to spare.
 * Whether it fits a real site is decided there (length, live registers).
 */
int pvpatch_op_policy_check(unsigned int op, const struct pvpatch_op_policy *pol)
{
	const struct pvpatch_op_info *info;
	struct site s = { .ret = -1 };
	uint8_t buf[PVT_MAX_INSNS * 16];
	uint16_t busy;
	struct enc e;

	if (op > PVPATCH_MAX_OP || !pvpatch_op_table[op].name)
		return PVPATCH_E_OP;
	info = &pvpatch_op_table[op];
	if (pol->mode >= PVPATCH_NR_MODES || !(info->modes >> pol->mode & 1))
		return PVPATCH_E_MODE;
	if (pol->mode != PVPATCH_MODE_INLINE)
		return PVPATCH_OK;
	if (!pol->tmpl)
		return PVPATCH_E_NO_TEMPLATE;
	if (pol->tmpl->n_insns == 0 || pol->tmpl->n_insns > PVT_MAX_INSNS)
		return PVPATCH_E_INSN;
	busy = (uint16_t)(fixed_regs(pol->tmpl) | 1u << REG_RSP);
	for (int i = 0; i < info->nargs; i++)
		s.arg[i] = pick(info->arg_pin[i], &busy);
	if (info->nouts)
		s.ret = pick(info->out_pin[0], &busy);
	s.info = info;
	s.nargs = info->nargs;
	s.free = (uint16_t)~(1u << REG_RSP);
	enc_init(&e, buf, sizeof(buf), 0);
	return template_fit(pol->tmpl, pol->params, &s, &e);
}
