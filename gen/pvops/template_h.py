# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: asm/pvpatch-template-gen.h, the template instruction set
(layout.PVT_OPCODE_INFO) for C: operand encoding, limits, opcodes, operand
shapes and the declaration of pvt_opcode_table[] (src/pvpatch-contract.c)."""

from __future__ import annotations

from . import layout
from .model import Spec
from .output import banner


def generate(spec: Spec) -> str:
    L = [banner(spec.file).rstrip(),
         "/* The template instruction set (asm/pvpatch-template.h includes this). */",
         "#ifndef PVPATCH_TEMPLATE_GEN_H",
         "#define PVPATCH_TEMPLATE_GEN_H",
         "",
         "#include <stdint.h>",
         "",
         "/* Operands.  0-15 are hardware registers (PVPATCH_REG_*). */",
         f"#define PVT_ARG(n)\t({layout.PVT_ARG0:#04x} + (n))\t/* n < PVPATCH_MAX_ARGS */",
         f"#define PVT_RET\t\t{layout.PVT_RET:#04x}",
         f"#define PVT_SCRATCH(n)\t({layout.PVT_SCRATCH0:#04x} + (n))\t/* n < PVT_MAX_SCRATCH */",
         f"#define PVT_IMM(n)\t({layout.PVT_IMM0:#04x} + (n))\t/* n < PVT_MAX_PARAMS */",
         f"#define PVT_NONE\t{layout.PVT_NONE:#04x}",
         "",
         f"#define PVT_MAX_SCRATCH\t{layout.PVT_MAX_SCRATCH}",
         f"#define PVT_MAX_PARAMS\t{layout.PVT_MAX_PARAMS}",
         f"#define PVT_MAX_INSNS\t{layout.PVT_MAX_INSNS}",
         f"#define PVT_ENC_MAX\t{layout.PVT_ENC_MAX}",
         "",
         "/* Instructions (struct pvt_insn.op).  Width is 4 or 8 bytes. */",
         "enum pvt_opcode {"]
    for i, o in enumerate(layout.PVT_OPCODE_INFO):
        L.append(f"\tPVT_{o.name} = {i},\t/* {o.doc} */")
    L += ["\tPVT_NR_OPCODES", "};", "", "/* Operand shapes (struct pvt_opcode_info.shape). */",
          "enum pvt_shape {"]
    for i, (name, doc) in enumerate(layout.PVT_SHAPES):
        L.append(f"\tPVT_SHAPE_{name} = {i},\t/* {doc} */")
    L += ["};", ""]
    for name, val, doc in layout.PVT_FLAGS:
        L.append(f"#define PVT_F_{name} {val:#04x}\t/* {doc} */")
    L += ["",
          "/* What each opcode is: indexed by enum pvt_opcode. */",
          "struct pvt_opcode_info {",
          "\tconst char *mnemonic;\t/* the profile's spelling; NULL: not an instruction */",
          "\tuint8_t shape;\t\t/* enum pvt_shape */",
          "\tuint8_t widths;\t\t/* allowed widths: 4, 8 or both (12) */",
          "\tuint8_t default_width;\t/* width a profile need not write (0: none) */",
          "\tuint8_t flags;\t\t/* PVT_F_* */",
          "\tuint16_t reads;\t\t/* registers read implicitly, bit n = register n */",
          "\tuint16_t writes;\t/* written implicitly (PVT_F_HV: and hv_clobbers) */",
          "\tuint8_t enc_len;",
          "\tuint8_t enc[PVT_ENC_MAX];\t/* NONE: the bytes; REG_REG: the \"r/m, r\" opcode;",
          "\t\t\t\t\t * REG_COUNT: the /digit of C1 */",
          "};",
          "",
          "extern const struct pvt_opcode_info pvt_opcode_table[PVT_NR_OPCODES];",
          "",
          "#endif"]
    return "\n".join(L) + "\n"
