# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Backend: pvpatch_gen.py, the record layout and op table for the tools."""

from __future__ import annotations

import pprint

from . import layout
from .model import Spec
from .output import banner

_FMT = {(1, False): "B", (2, False): "H", (4, False): "I", (4, True): "i",
        (8, False): "Q"}


def _rom_fmt(f) -> str:
    """struct format of one ROM field (without the byte-order prefix)."""
    if f.kind == "char":
        return f"{f.count}s"
    return (str(f.count) if f.count > 1 else "") + _FMT[(f.size, False)]


def _rom() -> list[str]:
    L = ["",
         "# The feature ROM (little-endian; offsets from the ROM start).  For each",
         "# struct: SIZE, FORMAT (all fields), FIELDS, OFFSETS, and LAYOUT:",
         "# (name, offset, struct format, element count) per field.",
         f"ROM_MAGIC = {layout.ROM_MAGIC:#010x}",
         f"ROM_VERSION = {layout.ROM_VERSION}",
         f"ROM_VERSIONS = {layout.ROM_VERSIONS!r}",
         f"ROM_V1_NR_CONDS = {layout.ROM_V1_NR_CONDS}",
         f"CPUID_REGS = {layout.CPUID_REGS!r}",
         f"CPU_FEATURES = {layout.CPU_FEATURES!r}",
         f"ROM_FWCFG_NAME = {layout.ROM_FWCFG_NAME!r}"]
    for name, tag, fields, size in layout.ROM_STRUCTS:
        N = f"ROM_{name.upper()}"
        offs = layout.rom_offsets(fields)
        L += [f"{N}_SIZE = {size}",
              f"{N}_FORMAT = {'<' + ''.join(_rom_fmt(f) for f in fields)!r}",
              f"{N}_FIELDS = {tuple(f.name for f in fields)!r}",
              f"{N}_OFFSETS = {offs!r}",
              f"{N}_LAYOUT = "
              + repr(tuple((f.name, offs[f.name], "<" + _rom_fmt(f), f.count)
                           for f in fields))]
    offs = layout.rom_offsets(layout.BACKEND_REC)
    L += ["# Backend registration records (asm/pvpatch-boot.h).",
          f"BACKEND_SECTION = {layout.BACKEND_SECTION!r}",
          f"BACKEND_REC_SIZE = {layout.BACKEND_REC_SIZE}",
          f"BACKEND_REC_FORMAT = {'<' + ''.join(_rom_fmt(f) for f in layout.BACKEND_REC)!r}",
          f"BACKEND_REC_FIELDS = {tuple(f.name for f in layout.BACKEND_REC)!r}",
          f"BACKEND_REC_OFFSETS = {offs!r}"]
    for name, val, _ in layout.BACKEND_FLAGS:
        L.append(f"BACKEND_F_{name} = {val:#04x}")
    offs = layout.rom_offsets(layout.IMAGE_HEADER)
    L += ["# Pre-patched images (tools/pvrom image): section IMAGE_SECTION holds the",
          "# header, then IMAGE_STRIDE bytes per record (its original native bytes).",
          f"IMAGE_SECTION = {layout.IMAGE_SECTION!r}",
          f"IMAGE_MAGIC = {layout.IMAGE_MAGIC:#010x}",
          f"IMAGE_VERSION = {layout.IMAGE_VERSION}",
          f"IMAGE_HEADER_SIZE = {layout.IMAGE_HEADER_SIZE}",
          f"IMAGE_HEADER_FORMAT = {'<' + ''.join(_rom_fmt(f) for f in layout.IMAGE_HEADER)!r}",
          f"IMAGE_HEADER_FIELDS = {tuple(f.name for f in layout.IMAGE_HEADER)!r}",
          f"IMAGE_HEADER_OFFSETS = {offs!r}"]
    L.append(f"ROM_CONDS = {tuple(n for n, _ in layout.ROM_CONDS)!r}")
    for i, (n, _) in enumerate(layout.ROM_CONDS):
        L.append(f"ROM_COND_{n} = {i}")
    return L + _contract()


def _opcode(o: layout.PvtOpcode) -> dict:
    return {"name": o.name, "mnemonic": o.mnemonic, "shape": o.shape,
            "widths": o.widths, "default_width": o.default_width,
            "reads_dst": o.reads_dst, "writes_dst": o.writes_dst,
            "reads": layout.reg_mask(o.reads), "writes": layout.reg_mask(o.writes),
            "hv": o.hv, "enc": bytes(o.enc)}


def _contract() -> list[str]:
    """The template instruction set, limits and KVM feature bits."""
    L = ["",
         "# The template instruction set (asm/pvpatch-template-gen.h): PVT_OPCODE_INFO",
         "# is indexed by opcode; shapes: " + ", ".join(n for n, _ in layout.PVT_SHAPES) + ".",
         f"PVT_OPCODES = {layout.PVT_OPCODES!r}"]
    for i, n in enumerate(layout.PVT_OPCODES):
        L.append(f"PVT_{n} = {i}")
    for n in ("ARG0", "RET", "SCRATCH0", "IMM0", "NONE"):
        L.append(f"PVT_{n} = {getattr(layout, 'PVT_' + n):#04x}")
    for n in ("MAX_SCRATCH", "MAX_PARAMS", "MAX_INSNS"):
        L.append(f"PVT_{n} = {getattr(layout, 'PVT_' + n)}")
    L.append(f"PVT_SHAPES = {tuple(n for n, _ in layout.PVT_SHAPES)!r}")
    L.append("PVT_OPCODE_INFO = " + pprint.pformat(
        tuple(_opcode(o) for o in layout.PVT_OPCODE_INFO), width=100, sort_dicts=True))
    L.append("PVT_MNEMONICS = " + repr({o.mnemonic: i for i, o in enumerate(layout.PVT_OPCODE_INFO)
                                       if o.mnemonic}))
    L += ["", "# Limits the guest and the tools enforce alike."]
    for name, val, _ in layout.LIMITS:
        L.append(f"{name} = {val}")
    # The newest format's name fields (v1's hypervisor name is shorter).
    for name, tag, fields, _ in layout.ROM_STRUCTS:
        for f in fields:
            if f.kind == "char" and name not in ("header", "entry"):
                L.append(f"ROM_{f.name.upper()}_LEN = {f.count}  # {name}.{f.name}, NUL included")
    L += ["", "# KVM_FEATURE_* bits of CPUID 0x40000001 EAX (condition kvm:NAME).",
          f"KVM_FEATURES = {dict(layout.KVM_FEATURES)!r}"]
    return L


def _op(op) -> dict:
    def operand(o):
        return {"name": o.name, "type": o.type, "size": o.size, "pin": o.pin}
    return {
        "name": op.name, "abi": op.abi, "class": op.cls,
        "ins": [operand(o) for o in op.ins],
        "outs": [operand(o) for o in op.outs],
        "scratch": list(op.scratch),
        "native": list(op.native),
        "native_call": op.native_call,
        "clobbers": list(op.clobbers),
        "clobber_mask": op.clobber_mask,
        "modes": list(op.modes),
        "site_len": op.site_len,
        "native_max": op.native_max,
        "native_min": op.native_min,
        "inline_max": op.inline_max,
        "flags": op.flags,
        "line": op.line,
    }


def generate(spec: Spec) -> str:
    fmt = "<" + "".join(_FMT[(f.size, f.signed)] for f in layout.FIELDS)
    ops = {op.abi: _op(op) for op in spec.ops}
    L = [banner(spec.file, "py").rstrip(),
         '"""pvpatch site-record layout and op table, for the host tools."""',
         "",
         f"SECTION = {layout.SECTION!r}",
         f"SITE_VERSION = {layout.SITE_VERSION}",
         f"LIVENESS_SECTION = {layout.LIVENESS_SECTION!r}",
         f"RECORD_SIZE = {layout.RECORD_SIZE}",
         f"RECORD_FORMAT = {fmt!r}",
         f"RECORD_FIELDS = {tuple(f.name for f in layout.FIELDS)!r}",
         "RECORD_OFFSETS = " + repr({f.name: layout.field_offset(f.name)
                                    for f in layout.FIELDS}),
         f"REG_BITS = {layout.REG_BITS}",
         f"REG_SLOTS = {layout.REG_SLOTS!r}",
         f"MAX_NOP = {layout.MAX_NOP}",
         f"CALL_LEN = {layout.CALL_LEN}",
         f"MODES = {layout.MODES!r}",
         f"REGS = {layout.REGS!r}",
         f"TYPES = {layout.TYPES!r}"]
    for name, val, _ in layout.FLAGS:
        L.append(f"FLAG_{name} = {val:#04x}")
    L += _rom()
    L += [f"MAX_NATIVE = {spec.max_native}",
          f"IMAGE_STRIDE = {spec.max_native}"]
    L += ["", "OPS = " + pprint.pformat(ops, width=100, sort_dicts=True), ""]
    return "\n".join(L)
