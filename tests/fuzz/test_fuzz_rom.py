# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The bounded fuzz run of `make check` over the feature-ROM parser and the
template fitter (tests/fuzz/fuzz-rom.c): a fixed seed and a fixed number of
runs over a fresh copy of tests/fuzz/corpus-rom/.  Any crash, sanitizer
report or failed check in the target fails the test with libFuzzer's
output.  The seeds themselves must be what their names say: accepted by the
guest's parser (ROMs from tools/pvrom, checksums from zlib), or refused
(refused-*)."""

import os
import re
import subprocess

from conftest import BUILD, ROOT
from fuzzrun import TIMEOUT, bounded_run, smoke_runs, tail

FUZZER = os.path.join(BUILD, "tests", "fuzz", "fuzz-rom")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "corpus-rom")


def seed_files():
    return sorted(os.path.join(SEEDS, f) for f in os.listdir(SEEDS))


def test_seed_corpus_is_small():
    seeds = seed_files()
    assert len(seeds) >= 8
    assert sum(os.path.getsize(f) for f in seeds) < 64 * 1024


def test_seeds_accepted_or_refused_as_named(tmp_path):
    assert os.access(FUZZER, os.X_OK), f"{FUZZER} missing: make fuzz-build"
    seeds = seed_files()
    env = dict(os.environ, FUZZ_ROM_VERBOSE="1")
    p = subprocess.run([FUZZER, *seeds], capture_output=True, text=True, timeout=TIMEOUT,
                       cwd=tmp_path, env=env)
    out = p.stdout + p.stderr
    assert p.returncode == 0, tail(out)
    # One verdict line per seed, in the order given.
    verdicts = re.findall(r"^ROM of \d+ bytes \(total_len \d+\): (accepted|refused)", out, re.M)
    assert len(verdicts) == len(seeds), tail(out)
    for path, verdict in zip(seeds, verdicts):
        want = "refused" if os.path.basename(path).startswith("refused-") else "accepted"
        assert verdict == want, f"{os.path.basename(path)}: {verdict}\n{tail(out)}"


def test_bounded_fuzz_run(tmp_path):
    runs = smoke_runs("FUZZ_ROM_SMOKE_RUNS", "PVPATCH_FUZZ_ROM_RUNS")
    # The seeds alone reach several hundred edges of the parser, the fitter
    # and the patcher.
    out = bounded_run(FUZZER, SEEDS, runs, tmp_path, min_cov=450,
                      env=dict(os.environ, FUZZ_ROM_STATS="1"))
    # Both sides were exercised: ROMs refused, and accepted ROMs whose
    # policies put sites in every mode.
    m = re.search(r"^fuzz-rom: accepted (\d+) \(sites native (\d+) nop (\d+) inline (\d+) "
                  r"call (\d+)\)", out, re.M)
    assert m, tail(out)
    accepted, *modes = (int(x) for x in m.groups())
    assert accepted >= runs // 10 and all(modes), m.group(0)
    refused = sum(int(n) for n in re.findall(r"^fuzz-rom: refused (\d+):", out, re.M))
    assert refused >= runs // 20, tail(out)
