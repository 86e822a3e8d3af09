# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: pvpatch-contract.c, the contract's tables the runtime looks
things up in: the template instruction set, mode and register names."""

from __future__ import annotations

from . import layout
from .model import Spec
from .output import banner


def _opcode(o: layout.PvtOpcode) -> str:
    mn = f'"{o.mnemonic}"' if o.mnemonic else "NULL"
    enc = ", ".join(f"{b:#04x}" for b in o.enc) or "0"
    return (f"\t[PVT_{o.name}] = {{ {mn}, PVT_SHAPE_{o.shape}, {sum(o.widths)}, "
            f"{o.default_width}, {layout.pvt_flags(o):#04x}, "
            f"{layout.reg_mask(o.reads):#06x}, {layout.reg_mask(o.writes):#06x}, "
            f"{len(o.enc)}, {{ {enc} }} }},")


def generate(spec: Spec) -> str:
    L = [banner(spec.file).rstrip(),
         "#include <stddef.h>",
         "#include <asm/pvpatch-abi.h>",
         "#include <asm/pvpatch-template-gen.h>",
         "",
         "/* mnemonic, shape, widths, default width, flags, reads, writes, encoding */",
         "const struct pvt_opcode_info pvt_opcode_table[PVT_NR_OPCODES] = {"]
    L += [_opcode(o) for o in layout.PVT_OPCODE_INFO]
    L += ["};",
          "",
          "const char *const pvpatch_mode_names[PVPATCH_NR_MODES] = {",
          "\t" + ", ".join(f'"{m}"' for m in layout.MODES) + ",",
          "};",
          "",
          "const char *const pvpatch_reg_names[PVPATCH_NR_REGS] = {"]
    for k in range(0, len(layout.REGS), 8):
        L.append("\t" + " ".join(f'"{r[0]}",' for r in layout.REGS[k:k + 8]))
    L += ["};"]
    return "\n".join(L) + "\n"
