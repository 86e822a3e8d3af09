# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""pvgen: op spec -> headers, assembler macros, op table, Python module and
linker-script fragments."""

from __future__ import annotations

import argparse
import os
import sys

from . import abi_header, asm_inc, c_header, contract_c, lds, op_table, python_mod, template_h
from .check import check
from .model import Spec, SpecError
from .output import write_if_changed
from .spec import parse


def outputs(spec: Spec) -> dict[str, str]:
    """Relative path under the output directory -> text."""
    return {
        "include/asm/pvpatch-abi.h": abi_header.generate(spec),
        "include/asm/pvpatch-template-gen.h": template_h.generate(spec),
        "include/asm/pvops-gen.h": c_header.generate(spec, framework=True),
        "include/asm/pvops-gen.inc": asm_inc.generate(spec, framework=True),
        "native/include/asm/pvops-gen.h": c_header.generate(spec, framework=False),
        "native/include/asm/pvops-gen.inc": asm_inc.generate(spec, framework=False),
        "src/pvops-table.c": op_table.generate(spec),
        "src/pvpatch-contract.c": contract_c.generate(spec),
        "python/pvpatch_gen.py": python_mod.generate(spec),
        "lds/pvpatch-text.lds": lds.text(spec),
        "lds/pvpatch-data.lds": lds.data(spec),
        "lds/pvpatch-bss.lds": lds.bss(spec),
        "src/pvpatch-linked.c": lds.linked_c(spec),
    }


def load(path: str) -> Spec:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SpecError(path, 0, f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        with open(path, "rb") as f:
            line = f.read()[:e.start].count(b"\n") + 1
        raise SpecError(path, line, "not UTF-8 text") from None
    return check(parse(text, path), path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pvgen", description=__doc__)
    ap.add_argument("spec", help="the op spec, e.g. arch/x86/pvops.spec")
    ap.add_argument("-o", "--output", required=True, metavar="DIR",
                    help="directory for the generated files")
    ap.add_argument("--check", action="store_true",
                    help="only validate the spec")
    args = ap.parse_args(argv)
    try:
        spec = load(args.spec)
    except SpecError as e:
        print(e, file=sys.stderr)
        return 1
    if args.check:
        return 0
    for rel, text in outputs(spec).items():
        write_if_changed(os.path.join(args.output, rel), text)
    return 0
