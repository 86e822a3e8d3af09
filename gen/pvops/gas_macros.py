# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The GNU as macros that measure a site, pad it and emit its record.

The same text is embedded in the C header (as a top-level asm statement) and
in the assembler include file, so C and .S call sites produce identical
records.
"""

from __future__ import annotations

from . import layout

_EMIT = {1: ".byte", 2: ".word", 4: ".long"}


def regnum_macro() -> str:
    """pvpatch_regnum SYM, %reg: SYM = hardware number of %reg (any width)."""
    lines = [".macro pvpatch_regnum sym:req, reg:req",
             "\t.set \\sym, -1"]
    for num, names in enumerate(layout.REGS):
        for name in names:
            lines += [f"\t.ifc \\reg,%{name}", f"\t.set \\sym, {num}",
                      "\t.endif"]
    lines += ["\t.if \\sym < 0",
              '\t.error "pvpatch: not a general register: \\reg"',
              "\t.endif",
              ".endm"]
    return "\n".join(lines)


def pad_macro() -> str:
    """pvpatch_pad N: N bytes as one NOP (the spec check keeps N <= MAX_NOP)."""
    return "\n".join([
        ".macro pvpatch_pad n:req",
        f"\t.if (\\n) > {layout.MAX_NOP}",
        '\t.error "pvpatch: padding longer than one NOP"',
        "\t.elseif (\\n) > 0",
        f"\t.nops (\\n), {layout.MAX_NOP}",
        "\t.endif",
        ".endm",
    ])


def site_end_macro() -> str:
    """pvpatch_site_end: check, pad and describe the native code just emitted.

    start/end label the native instructions; len is the site length and max
    the op's native_max; ret, a0-a3 are the registers
    recorded for the return value and arguments; x0-x3 are further registers
    the site writes (more outputs, scratch), which only widen the clobber mask.
    """
    slots = [("ret", 0, True)] + [(f"a{i}", i + 1, False)
                                  for i in range(layout.MAX_ARGS)]
    extra = [f"x{i}" for i in range(layout.MAX_EXTRA_OUTS)]
    params = ", ".join(["start:req", "end:req", "op:req", "len:req",
                        "max:req", "flags:req", "clob:req"] + [s for s, _, _ in slots]
                       + extra)
    lines = [f".macro pvpatch_site_end {params}",
             "\t.if (\\end - \\start) > \\len",
             '\t.error "pvpatch: native sequence longer than its site '
             '(op \\op)"',
             "\t.endif",
             "\t.if (\\end - \\start) > \\max",
             '\t.error "pvpatch: native sequence longer than the native_max '
             'of op \\op in the spec"',
             "\t.endif",
             "\t.set .Lpv_pad, (\\len) - (\\end - \\start)",
             "\tpvpatch_pad .Lpv_pad",
             "\t.set .Lpv_regs, 0",
             "\t.set .Lpv_outmask, 0"]
    for name, slot, is_out in slots:
        lines += [f"\t.ifnb \\{name}",
                  f"\tpvpatch_regnum .Lpv_r, \\{name}",
                  f"\t.set .Lpv_regs, .Lpv_regs | (.Lpv_r << "
                  f"{slot * layout.REG_BITS})"]
        if is_out:
            lines.append("\t.set .Lpv_outmask, .Lpv_outmask | (1 << .Lpv_r)")
        lines.append("\t.endif")
    for name in extra:
        lines += [f"\t.ifnb \\{name}",
                  f"\tpvpatch_regnum .Lpv_r, \\{name}",
                  "\t.set .Lpv_outmask, .Lpv_outmask | (1 << .Lpv_r)",
                  "\t.endif"]
    lines += [f'\t.pushsection {layout.SECTION}, "aM", @progbits, '
              f"{layout.RECORD_SIZE}",
              "\t.balign 4"]
    for f in layout.FIELDS:
        lines.append(f"\t{_EMIT[f.size]} {f.asm_value}\t/* {f.name} */")
    lines += ["\t.popsection",
              f"\t.ifdef {layout.LIVENESS_OPT_IN_SYM}",
              f'\t.pushsection {layout.LIVENESS_SECTION}, "", @progbits',
              "\t.quad \\start",
              "\t.popsection",
              "\t.endif",
              ".endm"]
    return "\n".join(lines)


def liveness_opt_in_macro() -> str:
    """pvpatch_liveness_opt_in: the sites this .S file writes from here on
    may be widened by the liveness pass (the file follows the SysV ABI at its
    calls, returns and tail calls, and has STT_FUNC symbols with sizes)."""
    return "\n".join([".macro pvpatch_liveness_opt_in",
                      f"\t.set {layout.LIVENESS_OPT_IN_SYM}, 1",
                      ".endm"])


def all_macros() -> str:
    return "\n".join([regnum_macro(), pad_macro(), site_end_macro()])
