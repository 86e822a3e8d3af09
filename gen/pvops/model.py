# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The semantic model of an op spec, built by check.py from parsed lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import layout


class SpecError(Exception):
    """An error in the spec, located at file:line."""

    def __init__(self, file: str, line: int, msg: str):
        super().__init__(f"{file}:{line}: {msg}")
        self.file = file
        self.line = line
        self.msg = msg


@dataclass(frozen=True)
class Operand:
    name: str
    type: str  # a key of layout.TYPES
    pin: str | None  # 64-bit register name, or None for "r"

    @property
    def ctype(self) -> str:
        return layout.TYPES[self.type][0]

    @property
    def size(self) -> int:
        return layout.TYPES[self.type][1]


@dataclass(frozen=True)
class Pair:
    """A generated convenience function pv_<func>() built on the op's own
    pv_<op>(): two u32 operands lo and hi (both inputs or both outputs)
    taken or returned as one u64 name = hi:lo.  Same site, same record."""
    func: str
    name: str
    lo: str
    hi: str
    outputs: bool  # lo and hi are outputs (else inputs)


@dataclass
class Op:
    name: str
    abi: int
    file: str
    line: int
    cls: str
    ins: list[Operand]
    outs: list[Operand]
    scratch: list[str]
    native: list[str]  # one instruction per entry, operands as %[name]
    native_line: int
    clobbers: list[str]  # 64-bit register names
    clobber_memory: bool
    clobber_cc: bool
    modes: list[str]
    native_max: int
    inline_max: int
    site_len: int
    # Shortest native encoding over all register choices (a lower bound when
    # the spec does not give it): the padding rule is checked against it.
    native_min: int
    native_call: str | None = None  # symbol, when the native code is a call
    doc: str = ""
    all_operands: list[str] = field(default_factory=list)
    # Pinned inputs the native code destroys (named in `clobbers`).
    consumed: list[str] = field(default_factory=list)
    # Outputs returned through pointers that callers may pass as NULL.
    optional: list[str] = field(default_factory=list)
    pair: Pair | None = None

    @property
    def flags(self) -> int:
        f = len(self.ins)
        if self.outs:
            f |= layout.FLAG_HAS_RET
        return f

    @property
    def clobber_mask(self) -> int:
        """Static part of the clobber mask (pinned outputs and clobbers)."""
        mask = 0
        for r in self.clobbers:
            mask |= 1 << layout.REG_NUM[r]
        for o in self.outs:
            if o.pin:
                mask |= 1 << layout.REG_NUM[o.pin]
        return mask

    @property
    def modes_mask(self) -> int:
        return sum(1 << layout.MODES.index(m) for m in self.modes)


@dataclass
class Spec:
    file: str
    ops: list[Op]

    @property
    def max_native(self) -> int:
        """The largest native_max: bytes kept per record for the original
        code (the bss fragment) and the pre-patched image's stride."""
        return max(op.native_max for op in self.ops)
