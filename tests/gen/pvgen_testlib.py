# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Shared helpers for the generator tests (tests/gen).

(A module with its own name, not conftest.py: other test directories may
have a conftest.py of their own, and `from conftest import` would then pick
whichever pytest loaded last.)

Golden files can be regenerated instead of compared:

    PVPATCH_REGEN=1 /usr/bin/python3 -m pytest tests/gen

rewrites tests/gen/errors/*.err and tests/gen/good/*.expected/ from what the
generator produces now (those tests then pass); review the diff before
committing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GEN_DIR = ROOT / "gen"
PVGEN = GEN_DIR / "pvgen"
SPEC = ROOT / "arch" / "x86" / "pvops.spec"
ERRORS = HERE / "errors"
GOOD = HERE / "good"

REGEN = os.environ.get("PVPATCH_REGEN", "") not in ("", "0")

# The generator package, for the tests that look inside it.
if str(GEN_DIR) not in sys.path:
    sys.path.insert(0, str(GEN_DIR))


def run_pvgen(spec, out, cwd=None, *extra):
    """Run gen/pvgen SPEC -o OUT; return the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, str(PVGEN), str(spec), "-o", str(out), *extra],
        cwd=cwd, capture_output=True, text=True, timeout=60)


def tree(top: Path) -> dict[str, bytes]:
    """Relative path -> contents of every file under top."""
    if not top.exists():
        return {}
    return {p.relative_to(top).as_posix(): p.read_bytes()
            for p in sorted(top.rglob("*")) if p.is_file()}


def load_module(path: Path, name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

