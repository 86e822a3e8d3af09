# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: pvops-table.c, the op table the runtime patcher consults."""

from __future__ import annotations

from . import layout
from .model import Spec
from .output import banner


def _pins(operands, n: int) -> str:
    pins = [str(layout.REG_NUM[o.pin]) if o.pin else "-1" for o in operands]
    return ", ".join(pins + ["-1"] * (n - len(pins)))


def _sizes(operands, n: int) -> str:
    return ", ".join([str(o.size) for o in operands] + ["0"] * (n - len(operands)))


def generate(spec: Spec) -> str:
    L = [banner(spec.file).rstrip(),
         "#include <asm/pvpatch-abi.h>",
         "",
         "const struct pvpatch_op_info pvpatch_op_table[PVPATCH_MAX_OP + 1] = {"]
    for op in spec.ops:
        L += [f"\t[PVPATCH_OP_{op.name.upper()}] = {{",
              f'\t\t.name = "{op.name}", .cls = "{op.cls}", .abi = {op.abi},',
              f"\t\t.nargs = {len(op.ins)}, .nouts = {len(op.outs)}, "
              f".modes = {op.modes_mask:#x},",
              f"\t\t.site_len = {op.site_len}, .native_max = {op.native_max}, "
              f".inline_max = {op.inline_max},",
              f"\t\t.clobbers = {op.clobber_mask:#06x}, .nscratch = {len(op.scratch)},",
              f"\t\t.arg_pin = {{ {_pins(op.ins, layout.MAX_ARGS)} }}, "
              f".arg_size = {{ {_sizes(op.ins, layout.MAX_ARGS)} }},",
              f"\t\t.out_pin = {{ {_pins(op.outs, 1 + layout.MAX_EXTRA_OUTS)} }}, "
              f".out_size = {{ {_sizes(op.outs, 1 + layout.MAX_EXTRA_OUTS)} }},",
              "\t},"]
    L.append("};")
    return "\n".join(L) + "\n"
