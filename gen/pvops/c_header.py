# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: asm/pvops-gen.h, one inline function pv_<op>() per op.

Two flavours from one model: the framework build (native code padded to the
site length plus a record) and the framework-free build (the plain native
instructions, as a kernel without paravirt support would have them).
"""

from __future__ import annotations

import re

from . import gas_macros, layout
from .model import Op, Spec
from .output import banner

START, END = "880", "881"  # local labels of a site; reserved in callers


def c_asm_text(insn: str) -> str:
    """An instruction of the spec as extended-asm text: literal % doubled."""
    return re.sub(r"%(?!\[)", "%%", insn)


def _signature(op: Op) -> tuple[str, list[str]]:
    params = [f"{o.ctype} {o.name}" for o in op.ins]
    if len(op.outs) == 1:
        ret = op.outs[0].ctype
    else:
        ret = "void"
        params += [f"{o.ctype} *{o.name}" for o in op.outs]
    return ret, params or ["void"]


def _constraint(o, out: bool, early: bool = False) -> str:
    c = layout.PIN_CONSTRAINT[o.pin] if o.pin else "r"
    if not out:
        return c
    # An output written before the last input is read must not share its
    # register: with several native instructions, assume it may be.
    return ("=&" if early and not o.pin else "=") + c


def _site_end(op: Op) -> str:
    args = [f"{START}b", f"{END}b", str(op.abi), str(op.site_len),
            str(op.native_max),
            str(op.flags), hex(op.clobber_mask)]
    regs = []
    if op.outs:
        regs.append(f"ret=%[{op.outs[0].name}]")
    regs += [f"a{i}=%[{o.name}]" for i, o in enumerate(op.ins)]
    extra = [o.name for o in op.outs[1:]] + op.scratch
    regs += [f"x{i}=%[{n}]" for i, n in enumerate(extra)]
    return "pvpatch_site_end " + ", ".join(args + regs)


def _function(op: Op, framework: bool, spec_file: str) -> list[str]:
    ret, params = _signature(op)
    lines = [f"/* {op.doc} */" if op.doc else f"/* op {op.name} */",
             f'#line {op.line} "{spec_file}"',
             f"static __always_inline {ret} pv_{op.name}({', '.join(params)})",
             "{"]
    for o in op.outs:
        lines.append(f"\t{o.ctype} __o_{o.name};")
    for s in op.scratch:
        lines.append(f"\tunsigned long __s_{s};")
    consumed = [o for o in op.ins if o.name in op.consumed]
    for o in consumed:
        lines.append(f"\t{o.ctype} __i_{o.name} = {o.name};")
    body = [c_asm_text(i) for i in op.native]
    if framework:
        body = [f"{START}:"] + body + [f"{END}:", _site_end(op)]
    asm = "\\n\\t".join(body)
    early = len(op.native) > 1 and bool(op.ins)
    outs = [f'[{o.name}] "{_constraint(o, True, early)}" (__o_{o.name})'
            for o in op.outs]
    outs += [f'[{s}] "=&r" (__s_{s})' for s in op.scratch]
    # A pinned input the native code destroys: read and written ("+").
    outs += [f'[{o.name}] "+{layout.PIN_CONSTRAINT[o.pin]}" (__i_{o.name})'
             for o in consumed]
    if op.native_call:
        outs.append("PVPATCH_CALL_CONSTRAINT")
    ins = [f'[{o.name}] "{_constraint(o, False)}" ({o.name})' for o in op.ins
           if o not in consumed]
    clobbers = [f'"{r}"' for r in op.clobbers
                if r not in {o.pin for o in consumed}]
    if op.clobber_memory:
        clobbers.append('"memory"')
    if op.clobber_cc:
        clobbers.append('"cc"')
    lines += [f'\tasm volatile("{asm}"',
              f"\t\t     : {', '.join(outs)}",
              f"\t\t     : {', '.join(ins)}",
              f"\t\t     : {', '.join(clobbers)});"]
    if len(op.outs) == 1:
        lines.append(f"\treturn __o_{op.outs[0].name};")
    else:
        for o in op.outs:
            if o.name in op.optional:  # NULL: not wanted (folded when constant)
                lines += [f"\tif ({o.name})", f"\t\t*{o.name} = __o_{o.name};"]
            else:
                lines.append(f"\t*{o.name} = __o_{o.name};")
    lines += ["}", ""]
    if op.pair:
        lines += _pair_function(op)
    return lines


def _pair_function(op: Op) -> list[str]:
    """pv_<func>(): the op's pv_<op>() with lo and hi as one u64."""
    p = op.pair
    lines = [f"/* pv_{op.name}() with {p.lo} and {p.hi} as one u64 {p.name} "
             f"= {p.hi}:{p.lo}: the same site. */"]
    if p.outputs:
        rest = [o for o in op.outs if o.name not in (p.lo, p.hi)]
        params = [f"{o.ctype} {o.name}" for o in op.ins]
        if rest:
            ret = "void"
            params += [f"uint64_t *{p.name}"] + [f"{o.ctype} *{o.name}" for o in rest]
        else:
            ret = "uint64_t"
        lines += [f"static __always_inline {ret} pv_{p.func}({', '.join(params) or 'void'})",
                  "{", "\tuint32_t __lo, __hi;"]
        args = []
        for o in op.ins:
            args.append(o.name)
        for o in op.outs:
            args.append({p.lo: "&__lo", p.hi: "&__hi"}.get(o.name, o.name))
        lines.append(f"\tpv_{op.name}({', '.join(args)});")
        if rest:
            lines.append(f"\t*{p.name} = (uint64_t)__hi << 32 | __lo;")
        else:
            lines.append("\treturn (uint64_t)__hi << 32 | __lo;")
    else:
        params, args = [], []
        for o in op.ins:
            if o.name == p.lo:
                params.append(f"uint64_t {p.name}")
                args.append(f"(uint32_t){p.name}")
            elif o.name == p.hi:
                args.append(f"(uint32_t)({p.name} >> 32)")
            else:
                params.append(f"{o.ctype} {o.name}")
                args.append(o.name)
        if len(op.outs) == 1:
            ret = op.outs[0].ctype
        else:
            ret = "void"
            params += [f"{o.ctype} *{o.name}" for o in op.outs]
            args += [o.name for o in op.outs]
        lines += [f"static __always_inline {ret} pv_{p.func}({', '.join(params)})",
                  "{",
                  f"\t{'return ' if len(op.outs) == 1 else ''}pv_{op.name}({', '.join(args)});"]
    lines += ["}", ""]
    return lines


def _toplevel_asm(text: str) -> list[str]:
    out = ["__asm__("]
    for line in text.splitlines():
        esc = line.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'\t"{esc}\\n"')
    out.append(");")
    return out


def generate(spec: Spec, framework: bool) -> str:
    flavour = "with pvpatch sites" if framework else "framework-free (plain native code)"
    lines = [banner(spec.file).rstrip(),
             f"/* The paravirt ops, {flavour}. */",
             "#ifndef PVPATCH_PVOPS_GEN_H",
             "#define PVPATCH_PVOPS_GEN_H",
             "",
             "#include <stdint.h>",
             "#include <asm/pvpatch-abi.h>",
             "",
             "#ifndef __always_inline",
             "#define __always_inline inline __attribute__((__always_inline__))",
             "#endif",
             "",
             "/* Native calls push onto the stack: let GCC know (as Linux's",
             "   ASM_CALL_CONSTRAINT does).  Code using pvpatch is built with",
             "   -mno-red-zone, as any site may become a call. */",
             'register unsigned long pvpatch_stack_pointer __asm__("rsp");',
             '#define PVPATCH_CALL_CONSTRAINT "+r" (pvpatch_stack_pointer)',
             ""]
    if framework:
        lines += ["/* Site macros (also in asm/pvops-gen.inc for .S callers). "
                  "Labels " + START + " and " + END + " are reserved. */"]
        lines += _toplevel_asm(gas_macros.all_macros())
        lines.append("")
    for op in spec.ops:
        if op.native_call:
            lines.append(f"/* Defined by the kernel: op {op.name}'s native code. */")
            lines.append(f"extern {_signature(op)[0]} {op.native_call}(void);")
        lines += _function(op, framework, spec.file)
    lines.append("#endif")
    return "\n".join(lines) + "\n"
