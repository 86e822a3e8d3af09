# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Parser: turns the line-oriented op spec into raw, located records.

Only the shape of the text is checked here (an `op` header, then indented
`key value` lines); what the values mean is check.py's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import SpecError

# Keys that may appear more than once in an op; their values accumulate.
REPEATABLE = {"native", "doc"}
KEYS = {"class", "in", "out", "scratch", "native", "clobbers", "modes",
        "native_max", "native_min", "inline_max", "site", "doc", "optional", "pair"}


@dataclass
class RawOp:
    name: str
    abi: str
    line: int
    fields: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


def parse(text: str, file: str) -> list[RawOp]:
    ops: list[RawOp] = []
    cur: RawOp | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            words = line.split()
            if words[0] != "op":
                raise SpecError(file, lineno,
                                f"expected 'op NAME ABI', got '{words[0]}'")
            if len(words) != 3:
                raise SpecError(file, lineno, "expected 'op NAME ABI'")
            cur = RawOp(words[1], words[2], lineno)
            ops.append(cur)
            continue
        if cur is None:
            raise SpecError(file, lineno, "field outside of an op")
        key, *rest = line.split(None, 1)
        value = rest[0] if rest else ""
        if key not in KEYS:
            raise SpecError(file, lineno, f"unknown keyword '{key}'")
        if key in cur.fields and key not in REPEATABLE:
            raise SpecError(file, lineno,
                            f"'{key}' given twice for op '{cur.name}'")
        cur.fields.setdefault(key, []).append((lineno, value.strip()))
    return ops
