"""Import the Python module gen/pvgen writes (record layout, op table).

The tools never spell out the record layout themselves: it comes from the
build, found through $PVPATCH_GEN (the generator's output directory) or the
default build/gen next to this checkout.
"""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

from .errors import UsageError

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gen_dir() -> str:
    return os.environ.get("PVPATCH_GEN") or os.path.join(_ROOT, "build", "gen")


def load() -> ModuleType:
    path = os.path.join(gen_dir(), "python", "pvpatch_gen.py")
    if not os.path.exists(path):
        raise UsageError(f"{path} not found: run make (or set PVPATCH_GEN "
                         "to gen/pvgen's output directory)")
    spec = importlib.util.spec_from_file_location("pvpatch_gen", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
