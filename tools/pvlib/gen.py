# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Import the Python module gen/pvgen writes (record layout, op table).

The tools never spell out the record layout themselves: they read
python/pvpatch_gen.py from the generator's output directory (a kernel's
$(PVPATCH_BUILD)/gen), found in this order:

  1. --gen DIR on the command line;
  2. the environment variable PVPATCH_GEN;
  3. for each ELF or object file given: the directory recorded in its
     .pvpatch.gen section (pvpatch.mk links it into every kernel through
     $(PVPATCH_OBJ)), when that directory still exists;
  4. for each file given: the first directory up the tree from it that has
     gen/python/pvpatch_gen.py (a build directory laid out like pvpatch's own,
     $(PVPATCH_BUILD) = build);
  5. otherwise the tool stops with one line asking for --gen.

Never silently the framework's own build tree: a kernel built against another
spec would be read with the wrong op table.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from types import ModuleType

from .errors import UsageError

MODULE = os.path.join("python", "pvpatch_gen.py")
GEN_SECTION = ".pvpatch.gen"
ENV = "PVPATCH_GEN"


def _module_in(d: str) -> str | None:
    p = os.path.join(d, MODULE)
    return p if os.path.isfile(p) else None


def recorded_dir(path: str) -> str | None:
    """The generator directory recorded in path's .pvpatch.gen section."""
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
    except ImportError:
        return None
    try:
        with open(path, "rb") as f:
            sec = ELFFile(f).get_section_by_name(GEN_SECTION)
            data = sec.data() if sec is not None else None
    except (OSError, ELFError, ValueError, AssertionError, KeyError):
        return None
    if not data:
        return None
    d = data.split(b"\0", 1)[0].decode("utf-8", "replace")
    return d or None


def _up_the_tree(path: str) -> str | None:
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if _module_in(os.path.join(d, "gen")):
            return os.path.join(d, "gen")
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def find(gen_dir: str | None = None, files=()) -> str:
    """The generator output directory to use (see the module's docstring)."""
    for explicit, how in ((gen_dir, "--gen"), (os.environ.get(ENV), f"${ENV}")):
        if explicit:
            if not _module_in(explicit):
                raise UsageError(f"{how} {explicit}: no {MODULE} there (gen/pvgen's output "
                                 "directory, $(PVPATCH_BUILD)/gen, after make)")
            return explicit
    for f in files:
        d = recorded_dir(f)
        if d and _module_in(d):
            return d
    for f in files:
        d = _up_the_tree(f)
        if d:
            return d
    what = f"for {files[0]}" if files else "(no ELF given)"
    raise UsageError(f"cannot find the generated description {what}: pass --gen DIR "
                     f"(gen/pvgen's output directory, $(PVPATCH_BUILD)/gen) or set {ENV}")


def load(gen_dir: str | None = None, files=()) -> ModuleType:
    path = os.path.join(find(gen_dir, list(files)), MODULE)
    spec = importlib.util.spec_from_file_location("pvpatch_gen", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def add_argument(ap) -> None:
    """--gen DIR for a tool's parser (or subparser: it never overrides a
    value given before the subcommand)."""
    ap.add_argument("--gen", metavar="DIR", default=argparse.SUPPRESS,
                    help="gen/pvgen's output directory ($(PVPATCH_BUILD)/gen); default: "
                         f"${ENV}, else the directory recorded in the ELF, else a build "
                         "directory up the tree from it")

