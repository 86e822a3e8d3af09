# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: asm/pvops-gen.inc, one GNU as macro pv_<op> per op for .S callers.

A .S file (preprocessed) includes it and writes `pv_read_cr3 %rbx`: the
macro arguments are the registers of the op's unpinned operands, outputs
first, then inputs, then scratch registers, at the width of their type.
"""

from __future__ import annotations

from . import gas_macros, layout
from .model import Op, Spec
from .output import banner


def _asm_params(op: Op) -> list[str]:
    names = [o.name for o in op.outs if not o.pin]
    names += [o.name for o in op.ins if not o.pin]
    return names + op.scratch


def _reg(op: Op, name: str) -> str:
    """How operand `name` is written inside the macro body."""
    for o in op.ins + op.outs:
        if o.name == name and o.pin:
            return "%" + layout.reg_name(layout.REG_NUM[o.pin], o.size)
    return "\\" + name


def _subst(op: Op, insn: str) -> str:
    for name in op.all_operands:
        insn = insn.replace(f"%[{name}]", _reg(op, name))
    return insn


def _macro(op: Op, framework: bool) -> list[str]:
    params = _asm_params(op)
    sig = " ".join(params)
    lines = [f"/* pv_{op.name} {sig}: {op.doc or op.name} */".replace("  ", " "),
             f".macro pv_{op.name} " + ", ".join(f"{p}:req" for p in params)]
    body = [_subst(op, i) for i in op.native]
    if not framework:
        return lines + [f"\t{b}" for b in body] + [".endm", ""]
    lines.append(".Lpv_start_\\@:")
    lines += [f"\t{b}" for b in body]
    lines.append(".Lpv_end_\\@:")
    args = [".Lpv_start_\\@", ".Lpv_end_\\@", str(op.abi), str(op.site_len),
            str(op.native_max),
            str(op.flags | layout.FLAG_ASM), hex(op.clobber_mask)]
    if op.outs:
        args.append(f"ret={_reg(op, op.outs[0].name)}")
    args += [f"a{i}={_reg(op, o.name)}" for i, o in enumerate(op.ins)]
    extra = [o.name for o in op.outs[1:]] + op.scratch
    args += [f"x{i}={_reg(op, n)}" for i, n in enumerate(extra)]
    lines += ["\tpvpatch_site_end " + ", ".join(args), ".endm", ""]
    return lines


def generate(spec: Spec, framework: bool) -> str:
    lines = [banner(spec.file).rstrip(),
             "/* Paravirt ops for assembler callers; include from a .S file. */",
             "#ifndef PVPATCH_PVOPS_GEN_INC",
             "#define PVPATCH_PVOPS_GEN_INC",
             "#include <asm/pvpatch-abi.h>",
             ""]
    if framework:
        lines += [gas_macros.all_macros(), ""]
    # Also in the framework-free file: an opted-in .S file builds both ways.
    lines += [gas_macros.liveness_opt_in_macro(), ""]
    for op in spec.ops:
        lines += _macro(op, framework)
    lines.append("#endif")
    return "\n".join(lines) + "\n"
