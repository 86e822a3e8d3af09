# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Validator: turns parsed records into the model, or fails at file:line.

Everything a later stage relies on is checked here, so the backends can
assume a well-formed model.
"""

from __future__ import annotations

import re

from . import layout
from .model import Op, Operand, Pair, Spec, SpecError
from .spec import RawOp

IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
OPERAND_REF = re.compile(r"%\[([A-Za-z_][A-Za-z0-9_]*)\]")
CALL_INSN = re.compile(r"^call\s+([A-Za-z_][A-Za-z0-9_]*)$")
NUMBER = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]+)$")
MAX_ABI = 0xFFFF
REQUIRED = ("class", "native", "modes", "native_max")


def _one(raw: RawOp, key: str) -> tuple[int, str] | None:
    vals = raw.fields.get(key)
    return vals[0] if vals else None


def _number(file: str, line: int, key: str, text: str, lo: int, hi: int) -> int:
    if not NUMBER.match(text):
        raise SpecError(file, line, f"{key}: '{text}' is not a number")
    n = int(text, 0)
    if not lo <= n <= hi:
        raise SpecError(file, line, f"{key} {n} is outside {lo}..{hi}")
    return n


def _register(file: str, line: int, name: str) -> str:
    if name not in layout.REG_NUM:
        raise SpecError(file, line, f"unknown register '{name}'")
    if name == "rsp":
        raise SpecError(file, line, "rsp cannot be an operand or a clobber")
    return name


def _operands(file: str, line: int, text: str, what: str) -> list[Operand]:
    ops = []
    for word in text.split():
        parts = word.split(":")
        if len(parts) != 3 or not all(parts):
            raise SpecError(file, line,
                            f"{what} operand '{word}' is not NAME:TYPE:REG "
                            "(REG is r or a pinned register)")
        name, typ, reg = parts
        if not IDENT.match(name):
            raise SpecError(file, line, f"bad operand name '{name}'")
        if typ not in layout.TYPES:
            raise SpecError(file, line, f"unknown type '{typ}' (known: "
                            + " ".join(layout.TYPES) + ")")
        pin = None
        if reg != "r":
            pin = _register(file, line, reg)
            if pin not in layout.PIN_CONSTRAINT:
                raise SpecError(file, line,
                                f"cannot pin an operand to {pin}: GCC has no "
                                "constraint for it (use r)")
        ops.append(Operand(name, typ, pin))
    return ops


def _check_op(raw: RawOp, file: str) -> Op:
    if not IDENT.match(raw.name):
        raise SpecError(file, raw.line, f"bad op name '{raw.name}'")
    abi = _number(file, raw.line, "ABI number", raw.abi, 1, MAX_ABI)
    for key in REQUIRED:
        if key not in raw.fields:
            raise SpecError(file, raw.line, f"op '{raw.name}' has no '{key}'")

    line, cls = _one(raw, "class")
    if not IDENT.match(cls):
        raise SpecError(file, line, f"bad class '{cls}'")

    ins: list[Operand] = []
    outs: list[Operand] = []
    scratch: list[str] = []
    if (v := _one(raw, "in")):
        ins = _operands(file, v[0], v[1], "input")
        if len(ins) > layout.MAX_ARGS:
            raise SpecError(file, v[0], f"bad signature: {len(ins)} inputs, "
                            f"at most {layout.MAX_ARGS}")
    if (v := _one(raw, "out")):
        outs = _operands(file, v[0], v[1], "output")
    if (v := _one(raw, "scratch")):
        scratch = v[1].split()
        for s in scratch:
            if not IDENT.match(s):
                raise SpecError(file, v[0], f"bad operand name '{s}'")
    if len(outs) + len(scratch) > 1 + layout.MAX_EXTRA_OUTS:
        line = raw.fields.get("out", raw.fields.get("scratch"))[0][0]
        raise SpecError(file, line,
                        f"bad signature: {len(outs)} outputs and "
                        f"{len(scratch)} scratch registers, at most "
                        f"{1 + layout.MAX_EXTRA_OUTS} together")

    names = [o.name for o in ins] + [o.name for o in outs] + scratch
    for n in names:
        if names.count(n) > 1:
            raise SpecError(file, raw.line, f"operand '{n}' named twice")
    for group, what in ((ins, "inputs"), (outs, "outputs")):
        pins = [o.pin for o in group if o.pin]
        for p in pins:
            if pins.count(p) > 1:
                raise SpecError(file, raw.line, f"two {what} pinned to {p}")

    clobbers: list[str] = []
    consumed: list[str] = []
    memory = cc = False
    if (v := _one(raw, "clobbers")):
        for word in v[1].split():
            if word == "memory":
                memory = True
            elif word == "cc":
                cc = True
            else:
                r = _register(file, v[0], word)
                if r in {o.pin for o in outs if o.pin}:
                    raise SpecError(file, v[0], f"{r} is both an output "
                                    "and a clobber")
                # A pinned input named as a clobber is consumed: the native
                # code leaves something else in its register.
                consumed += [o.name for o in ins if o.pin == r]
                clobbers.append(r)

    optional: list[str] = []
    if (v := _one(raw, "optional")):
        for word in v[1].split():
            o = next((o for o in outs if o.name == word), None)
            if o is None:
                raise SpecError(file, v[0], f"optional: '{word}' is not an "
                                f"output of op '{raw.name}'")
            if len(outs) == 1:
                raise SpecError(file, v[0], f"optional: '{word}' is the "
                                "return value, not an output pointer")
            optional.append(word)

    pair = None
    if (v := _one(raw, "pair")):
        words = v[1].split()
        if len(words) != 4 or not all(IDENT.match(w) for w in words):
            raise SpecError(file, v[0], "pair: expected 'FUNC NAME LO HI' "
                            "(pv_FUNC takes or returns NAME = HI:LO as u64)")
        func, name, lo, hi = words
        for group, is_out in ((ins, False), (outs, True)):
            los = [o for o in group if o.name == lo and o.type == "u32"]
            his = [o for o in group if o.name == hi and o.type == "u32"]
            if los and his and lo != hi:
                pair = Pair(func, name, lo, hi, is_out)
        if pair is None:
            raise SpecError(file, v[0], f"pair: '{lo}' and '{hi}' are not two "
                            f"u32 inputs or two u32 outputs of op '{raw.name}'")
        others = [o.name for o in (outs if pair.outputs else ins)
                  if o.name not in (lo, hi)]
        if name in others:
            raise SpecError(file, v[0], f"pair: '{name}' is already an "
                            f"operand of op '{raw.name}'")

    natives = raw.fields["native"]
    native: list[str] = []
    for line, text in natives:
        for insn in text.split(";"):
            insn = " ".join(insn.split())
            if not insn:
                raise SpecError(file, line, "empty native instruction")
            for ref in OPERAND_REF.findall(insn):
                if ref not in names:
                    raise SpecError(file, line,
                                    f"native code names unknown operand '{ref}'")
            native.append(insn)
    native_call = None
    calls = [CALL_INSN.match(i) for i in native if i.startswith("call")]
    if calls:
        if len(native) != 1 or not calls[0]:
            raise SpecError(file, natives[0][0], "a native call must be the "
                            "only native instruction: call SYMBOL")
        native_call = calls[0].group(1)

    modes_line, text = _one(raw, "modes")
    line = modes_line
    modes = text.split()
    for m in modes:
        if m not in layout.MODES:
            raise SpecError(file, line, f"unknown mode '{m}' (known: "
                            + " ".join(layout.MODES) + ")")
        if modes.count(m) > 1:
            raise SpecError(file, line, f"mode {m} given twice")
    if "NATIVE" not in modes:
        raise SpecError(file, line, "modes must include NATIVE, the fallback")

    line, text = _one(raw, "native_max")
    native_max = _number(file, line, "native_max", text, 1, layout.MAX_SITE)
    inline_max = 0
    if (v := _one(raw, "inline_max")):
        if "INLINE" not in modes:
            raise SpecError(file, v[0], "inline_max given but mode INLINE "
                            "is not allowed")
        inline_max = _number(file, v[0], "inline_max", v[1], 1, layout.MAX_SITE)
    elif "INLINE" in modes:
        raise SpecError(file, modes_line, "mode INLINE needs inline_max (bytes "
                        "reserved for templates)")

    # The site holds the native code and the CALL form, never a long INLINE
    # template (those run out of line, from a stub in the thunk area, which
    # the site jumps to: CALL_LEN bytes).  CALL: the call, and with one
    # compiler-chosen register operand room to save the register the call
    # sequence moves it through.
    free_operands = sum(1 for o in ins + outs if o.pin is None)
    call_len = layout.CALL_LEN + (layout.CALL_SAVE_LEN if free_operands == 1 else 0)
    site_len = max(native_max, call_len if "CALL" in modes else 0,
                   layout.CALL_LEN if "INLINE" in modes else 0)
    site_line = line
    if (v := _one(raw, "site")):
        explicit = _number(file, v[0], "site", v[1], 1, layout.MAX_SITE)
        if native_max > explicit:
            raise SpecError(file, v[0], f"native sequence longer than the "
                            f"site: native_max {native_max} > site {explicit}")
        if explicit < site_len:
            raise SpecError(file, v[0], f"site {explicit} is too short for "
                            f"the modes allowed, which need {site_len}")
        site_len = explicit
        site_line = v[0]

    # NATIVE pads with one NOP of at most MAX_NOP bytes, never a JMP, for
    # every register allocation: the shortest native code decides.  Without
    # native_min, each instruction counts as one byte (a safe lower bound).
    native_min = max(1, len(native))
    if (v := _one(raw, "native_min")):
        native_min = _number(file, v[0], "native_min", v[1], 1, layout.MAX_SITE)
        if native_min > native_max:
            raise SpecError(file, v[0], f"native_min {native_min} > "
                            f"native_max {native_max}")
        if site_line == line:
            site_line = v[0]
    if site_len - native_min > layout.MAX_NOP:
        raise SpecError(file, site_line, f"site {site_len} leaves "
                        f"{site_len - native_min} bytes after the shortest native "
                        f"code ({native_min}): NATIVE padding must be one NOP of at "
                        f"most {layout.MAX_NOP} (give native_min, or a shorter site)")

    doc = " ".join(t for _, t in raw.fields.get("doc", []))
    return Op(raw.name, abi, file, raw.line, cls, ins, outs, scratch, native,
              natives[0][0], clobbers, memory, cc, modes, native_max,
              inline_max, site_len, native_min, native_call, doc, names, consumed,
              optional, pair)


def _pair_lines(raws: list[RawOp], name: str):
    return next(r for r in raws if r.name == name).fields["pair"]


def check(raws: list[RawOp], file: str) -> Spec:
    ops: list[Op] = []
    by_name: dict[str, Op] = {}
    by_abi: dict[int, Op] = {}
    for raw in raws:
        op = _check_op(raw, file)
        if op.name in by_name:
            raise SpecError(file, op.line, f"op '{op.name}' already defined "
                            f"at line {by_name[op.name].line}")
        if op.abi in by_abi:
            other = by_abi[op.abi]
            raise SpecError(file, op.line, f"duplicate ABI number {op.abi}: "
                            f"already used by '{other.name}' at line "
                            f"{other.line}")
        by_name[op.name] = by_abi[op.abi] = op
        ops.append(op)
    funcs: dict[str, Op] = {}
    for op in ops:
        if op.pair:
            f = op.pair.func
            other = by_name.get(f) or funcs.get(f)
            if other is not None:
                line = next(l for l, _ in _pair_lines(raws, op.name))
                raise SpecError(file, line, f"pair: pv_{f} is already "
                                f"defined by op '{other.name}'")
            funcs[f] = op
    if not ops:
        raise SpecError(file, 1, "the spec defines no op")
    ops.sort(key=lambda o: o.abi)
    return Spec(file, ops)
