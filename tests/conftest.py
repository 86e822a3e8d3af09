# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Paths shared by the pytest suites; `make check` builds what they read."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, os.path.join(ROOT, "tools"))

# The tools read the generated description from --gen or $PVPATCH_GEN (or the
# ELF): the tests run them on this checkout's build.
os.environ.setdefault("PVPATCH_GEN", os.path.join(BUILD, "gen"))
