# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: asm/pvpatch-abi.h, the record layout, flags, modes and op numbers
for C and assembler (C99; the struct is hidden from the assembler)."""

from __future__ import annotations

from . import layout
from .model import Spec
from .output import banner

_CTYPE = {(1, False): "uint8_t", (2, False): "uint16_t",
          (4, False): "uint32_t", (4, True): "int32_t",
          (8, False): "uint64_t"}


def _rom_macros() -> list[str]:
    """Feature ROM constants and field offsets (C and assembler)."""
    L = ["/* The feature ROM (tools/pvrom; fw_cfg file PVPATCH_ROM_FWCFG_NAME).",
         " * Little-endian; offsets from the ROM start.  Entries are back to back",
         " * from entries_off, each entry_len bytes (skip by entry_len), their",
         " * n_insns instructions after the fixed part; for an op the last entry",
         " * whose condition holds wins.  Nothing guarantees alignment: read fields",
         " * with memcpy or byte loads. */",
         f"#define PVPATCH_ROM_FWCFG_NAME \"{layout.ROM_FWCFG_NAME}\"",
         f"#define PVPATCH_ROM_MAGIC {layout.ROM_MAGIC:#010x}\t/* \"PROM\" */",
         f"#define PVPATCH_ROM_VERSION {layout.ROM_VERSION}\t/* what the tools write */",
         f"#define PVPATCH_ROM_MIN_VERSION {min(layout.ROM_VERSIONS)}\t/* the oldest read */"]
    for name, tag, fields, size in layout.ROM_STRUCTS:
        L.append(f"#define PVPATCH_ROM_{name.upper()}_SIZE {size}\t/* struct {tag} */")
    for name, tag, fields, size in layout.ROM_STRUCTS:
        L.append("")
        for f in fields:
            off = layout.rom_offsets(fields)[f.name]
            L.append(f"#define PVPATCH_ROM_{name.upper()}_OFF_{f.name.upper()} {off}"
                     f"\t/* {f.doc} */")
    L += ["",
          f"#define PVPATCH_ROM_HYPERVISOR_LEN {_field(layout.ROM_HEADER_V2, 'hypervisor').count}",
          f"#define PVPATCH_ROM_V1_HYPERVISOR_LEN {_field(layout.ROM_HEADER, 'hypervisor').count}",
          f"#define PVPATCH_ROM_FUNC_LEN {_field(layout.ROM_OVERRIDE, 'func').count}",
          f"#define PVPATCH_ROM_NR_PARAMS {_field(layout.ROM_ENTRY, 'params').count}",
          ""]
    for i, (name, doc) in enumerate(layout.ROM_CONDS):
        L.append(f"#define PVPATCH_ROM_COND_{name} {i}\t/* {doc} */")
    L.append(f"#define PVPATCH_ROM_NR_CONDS {len(layout.ROM_CONDS)}")
    L.append(f"#define PVPATCH_ROM_V1_NR_CONDS {layout.ROM_V1_NR_CONDS}")
    return L


def _contract_macros() -> list[str]:
    """Limits and the KVM feature bits ROM conditions name."""
    L = ["/* Limits the guest and the tools enforce alike. */"]
    for name, val, doc in layout.LIMITS:
        L.append(f"#define PVPATCH_{name} {val}\t/* {doc} */")
    L += ["", "/* KVM_FEATURE_* bits of CPUID 0x40000001 EAX (ROM condition kvm:NAME). */"]
    for name, bit in layout.KVM_FEATURES:
        L.append(f"#define PVPATCH_KVM_FEATURE_{name} {bit}")
    return L + [""]


def _field(fields, name):
    return next(f for f in fields if f.name == name)


def _struct(prefix: str, what: str, tag: str, fields, size: int) -> list[str]:
    """A packed little-endian structure, asserted against its generated offsets."""
    L = [f"struct {tag} {{"]
    for f in fields:
        ctype = "char" if f.kind == "char" else _CTYPE[(f.size, False)]
        arr = f"[{f.count}]" if f.count > 1 else ""
        L.append(f"\t{ctype} {f.name}{arr};\t/* {f.doc} */")
    L.append("};")
    for f in fields:
        L.append(f"_Static_assert(offsetof(struct {tag}, {f.name}) == "
                 f"{prefix}_OFF_{f.name.upper()}, \"{what} layout\");")
    L += [f"_Static_assert(sizeof(struct {tag}) == {prefix}_SIZE, \"{what} size\");", ""]
    return L


def _rom_structs() -> list[str]:
    L = ["/* The feature ROM's structures (PVPATCH_ROM_*; a ROM need not be aligned). */"]
    for name, tag, fields, size in layout.ROM_STRUCTS:
        L += _struct(f"PVPATCH_ROM_{name.upper()}", f"ROM {name}", tag, fields, size)
    return L


def _backend_macros() -> list[str]:
    L = [f"#define PVPATCH_BACKEND_SECTION \"{layout.BACKEND_SECTION}\"",
         f"#define PVPATCH_BACKEND_REC_SIZE {layout.BACKEND_REC_SIZE}"]
    for f, off in layout.rom_offsets(layout.BACKEND_REC).items():
        L.append(f"#define PVPATCH_BACKEND_REC_OFF_{f.upper()} {off}")
    for name, val, doc in layout.BACKEND_FLAGS:
        L.append(f"#define PVPATCH_BACKEND_F_{name} {val:#04x}\t/* {doc} */")
    return L + [""]


def _image_macros(spec: Spec) -> list[str]:
    L = ["/* A pre-patched image (tools/pvrom image): section PVPATCH_IMAGE_SECTION",
         " * (__pvpatch_image_start/_end) holds this header, then one slot of",
         " * stride bytes per site record with the site's original native bytes.",
         " * A kernel not pre-patched has a zero header. */",
         f"#define PVPATCH_IMAGE_SECTION \"{layout.IMAGE_SECTION}\"",
         f"#define PVPATCH_IMAGE_MAGIC {layout.IMAGE_MAGIC:#010x}\t/* \"PIMG\" */",
         f"#define PVPATCH_IMAGE_VERSION {layout.IMAGE_VERSION}",
         f"#define PVPATCH_IMAGE_HEADER_SIZE {layout.IMAGE_HEADER_SIZE}\t/* struct pvpatch_image_header */"]
    for f, off in layout.rom_offsets(layout.IMAGE_HEADER).items():
        L.append(f"#define PVPATCH_IMAGE_HEADER_OFF_{f.upper()} {off}")
    return L + [""]


def generate(spec: Spec) -> str:
    L = [banner(spec.file).rstrip(),
         "/* The pvpatch ABI: site records, modes and op numbers. */",
         "#ifndef PVPATCH_ABI_H",
         "#define PVPATCH_ABI_H",
         "",
         f"#define PVPATCH_SITE_SECTION \"{layout.SECTION}\"",
         f"#define PVPATCH_SITE_VERSION {layout.SITE_VERSION}",
         f"#define PVPATCH_SITE_SIZE {layout.RECORD_SIZE}",
         f"#define PVPATCH_SITE_STATE_SIZE {layout.SITE_STATE_SIZE}"
         "\t/* sizeof(struct pvpatch_site_state) */",
         f"#define PVPATCH_THUNK_SLOT_SIZE {layout.THUNK_SLOT_SIZE}"
         "\t/* sizeof(struct pvpatch_thunk_slot) */",
         "/* Thunk index slots for n records: never the limit (asm/pvpatch.h). */",
         f"#define PVPATCH_THUNK_SLOTS(n) {layout.thunk_slots('(size_t)(n)')}",
         "/* ... nor, whatever the records, for a thunk area of size bytes: the most",
         " * the patcher uses (each entry owns PVPATCH_THUNK_ENTRY_MIN bytes of it). */",
         f"#define PVPATCH_THUNK_ENTRY_MIN {layout.THUNK_ENTRY_MIN}",
         f"#define PVPATCH_THUNK_SLOTS_AREA(size) {layout.thunk_slots_area('(size_t)(size)')}",
         f"#define PVPATCH_REG_BITS {layout.REG_BITS}",
         f"#define PVPATCH_MAX_ARGS {layout.MAX_ARGS}",
         f"#define PVPATCH_MAX_OUTS {1 + layout.MAX_EXTRA_OUTS}",
         f"#define PVPATCH_CALL_LEN {layout.CALL_LEN}",
         f"#define PVPATCH_MAX_NOP {layout.MAX_NOP}",
         f"#define PVPATCH_MAX_SITE {layout.MAX_SITE}",
         f"#define PVPATCH_MAX_NATIVE {spec.max_native}"
         "\t/* largest native_max: bytes kept per record, image stride */",
         ""]
    off = 0
    for f in layout.FIELDS:
        L.append(f"#define PVPATCH_SITE_OFF_{f.name.upper()} {off}"
                 f"\t/* {f.doc} */")
        off += f.size
    L.append("")
    for name, val, doc in layout.FLAGS:
        L.append(f"#define PVPATCH_SITE_F_{name} {val:#04x}\t/* {doc} */")
    L.append("")
    for i, slot in enumerate(layout.REG_SLOTS):
        L.append(f"#define PVPATCH_SLOT_{slot.upper()} {i}")
    L.append("")
    for i, m in enumerate(layout.MODES):
        L.append(f"#define PVPATCH_MODE_{m} {i}")
    L.append(f"#define PVPATCH_NR_MODES {len(layout.MODES)}")
    L.append("")
    for num, names in enumerate(layout.REGS):
        L.append(f"#define PVPATCH_REG_{names[0].upper()} {num}")
    L.append(f"#define PVPATCH_NR_REGS {len(layout.REGS)}")
    L.append("")
    for op in spec.ops:
        L.append(f"#define PVPATCH_OP_{op.name.upper()} {op.abi}")
    L += [f"#define PVPATCH_NR_OPS {len(spec.ops)}",
          f"#define PVPATCH_MAX_OP {max(op.abi for op in spec.ops)}",
          ""]
    L += _rom_macros()
    L += [""] + _backend_macros()
    L += _contract_macros()
    L += _image_macros(spec)
    L += [
          "#ifndef __ASSEMBLER__",
          "#include <stddef.h>",
          "#include <stdint.h>",
          "",
          "/* One per site, in section " + layout.SECTION + "; position independent. */",
          "struct pvpatch_site {"]
    for f in layout.FIELDS:
        L.append(f"\t{_CTYPE[(f.size, f.signed)]} {f.name};\t/* {f.doc} */")
    L += ["};", ""]
    off = 0
    for f in layout.FIELDS:
        L.append(f"_Static_assert(offsetof(struct pvpatch_site, {f.name}) == "
                 f"PVPATCH_SITE_OFF_{f.name.upper()}, \"site record layout\");")
        off += f.size
    L += ["_Static_assert(sizeof(struct pvpatch_site) == PVPATCH_SITE_SIZE, "
          "\"site record size\");",
          "",
          "/* Register number recorded in slot PVPATCH_SLOT_*. */",
          "static inline unsigned int pvpatch_site_reg(const struct pvpatch_site *s, unsigned int slot)",
          "{",
          "\treturn (s->regs >> (slot * PVPATCH_REG_BITS)) & ((1u << PVPATCH_REG_BITS) - 1);",
          "}",
          "",
          "static inline const void *pvpatch_site_addr(const struct pvpatch_site *s)",
          "{",
          "\treturn (const char *)&s->site + s->site;",
          "}",
          "",
          "/* What the patcher knows of each op (from the spec). */",
          "struct pvpatch_op_info {",
          "\tconst char *name;",
          "\tconst char *cls;",
          "\tuint16_t abi;",
          "\tuint8_t nargs;\t/* inputs, recorded as arg0.. */",
          "\tuint8_t nouts;\t/* outputs; the first is recorded as ret */",
          "\tuint8_t modes;\t/* bit PVPATCH_MODE_* set when the mode is allowed */",
          "\tuint8_t site_len;",
          "\tuint8_t native_max;",
          "\tuint8_t inline_max;",
          "\tuint16_t clobbers;\t/* static part of every site's clobber mask */",
          "\tuint8_t nscratch;",
          "\tint8_t arg_pin[PVPATCH_MAX_ARGS];\t/* pinned register, -1 if compiler-chosen */",
          "\tuint8_t arg_size[PVPATCH_MAX_ARGS];\t/* operand width in bytes */",
          "\tint8_t out_pin[PVPATCH_MAX_OUTS];\t/* [0] is the ret slot */",
          "\tuint8_t out_size[PVPATCH_MAX_OUTS];",
          "};",
          "",
          "/* Indexed by op number; entries with name == NULL are unused numbers. */",
          "extern const struct pvpatch_op_info pvpatch_op_table[PVPATCH_MAX_OP + 1];",
          "",
          "/* Names of PVPATCH_MODE_* and PVPATCH_REG_* (64-bit), src/pvpatch-contract.c. */",
          "extern const char *const pvpatch_mode_names[PVPATCH_NR_MODES];",
          "extern const char *const pvpatch_reg_names[PVPATCH_NR_REGS];",
          ""]
    L += _rom_structs()
    L += ["/* One per registered CALL backend, in section " + layout.BACKEND_SECTION + ". */"]
    L += _struct("PVPATCH_BACKEND_REC", "backend record", "pvpatch_backend_rec",
                 layout.BACKEND_REC, layout.BACKEND_REC_SIZE)
    L += ["/* The header of section " + layout.IMAGE_SECTION + " (not necessarily aligned). */"]
    L += _struct("PVPATCH_IMAGE_HEADER", "image header", "pvpatch_image_header",
                 layout.IMAGE_HEADER, layout.IMAGE_HEADER_SIZE)
    L += [
          "#endif /* __ASSEMBLER__ */",
          "",
          "#endif"]
    return "\n".join(L) + "\n"
