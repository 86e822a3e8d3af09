"""Backend: pvops-table.c, the op table the runtime patcher consults."""

from __future__ import annotations

from . import layout
from .model import Op, Spec
from .output import banner


def _pins(op: Op) -> str:
    slots = [op.outs[0] if op.outs else None] + list(op.ins)
    slots += [None] * (1 + layout.MAX_ARGS - len(slots))
    return ", ".join(str(layout.REG_NUM[o.pin]) if o and o.pin else "-1"
                     for o in slots)


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
              f"\t\t.clobbers = {op.clobber_mask:#06x}, .pin = {{ {_pins(op)} }},",
              "\t},"]
    L.append("};")
    return "\n".join(L) + "\n"
