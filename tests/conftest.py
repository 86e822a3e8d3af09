# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Paths shared by the pytest suites; `make check` builds what they read."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, os.path.join(ROOT, "tools"))

# The tools read the generated description from --gen or $PVPATCH_GEN (or the
# ELF): the tests run them on this checkout's build.
os.environ.setdefault("PVPATCH_GEN", os.path.join(BUILD, "gen"))


def pvsites(*args):
    """tools/pvsites with args: the finished process (never a traceback)."""
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), *args],
                       capture_output=True, text=True)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def load_gen():
    """The generated Python description of the spec this checkout built."""
    from pvlib import gen as genmod
    return genmod.load()

# --- one line per tier at the end of the run ----------------------------------
# Tiers by directory; the seconds are the tests' own time (setup, call and
# teardown) summed, which under pytest-xdist exceeds the wall time.
TIERS = {"gen": "generator", "tools": "tools", "sites": "tools", "unit": "unit",
         "fuzz": "fuzz", "guest": "guest", "build": "build", "examples": "examples",
         "bench": "bench"}
ORDER = ["generator", "tools", "unit", "fuzz", "guest", "build", "examples", "bench", "other"]
_outcome = {}   # nodeid -> (tier, "passed" | "failed" | "skipped")
_seconds = {}   # tier -> seconds


def _tier(nodeid):
    parts = nodeid.split("/")
    return TIERS.get(parts[1] if len(parts) > 2 and parts[0] == "tests" else "", "other")


def pytest_runtest_logreport(report):
    tier = _tier(report.nodeid)
    _seconds[tier] = _seconds.get(tier, 0.0) + getattr(report, "duration", 0.0)
    prev = _outcome.get(report.nodeid, (tier, None))[1]
    if report.failed:
        now = "failed"
    elif report.skipped:
        now = prev if prev == "failed" else "skipped"
    elif report.when == "call":
        now = prev if prev in ("failed", "skipped") else "passed"
    else:
        now = prev
    _outcome[report.nodeid] = (tier, now)


def pytest_terminal_summary(terminalreporter):
    counts = {}
    for tier, outcome in _outcome.values():
        if outcome:
            c = counts.setdefault(tier, {"passed": 0, "failed": 0, "skipped": 0})
            c[outcome] += 1
    if not counts:
        return
    tr = terminalreporter
    tr.section("tiers")
    for tier in [t for t in ORDER if t in counts]:
        c = counts[tier]
        tr.write_line(f"{tier:<10} {c['passed']:4d} passed {c['failed']:3d} failed "
                      f"{c['skipped']:3d} skipped {_seconds.get(tier, 0.0):7.1f} s")
