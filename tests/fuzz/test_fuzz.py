# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The bounded fuzz run of `make check`: the libFuzzer target over the
runtime patcher (tests/fuzz/fuzz-patch.c), a fixed seed and a fixed number
of runs over a fresh copy of the seed corpus.  Any crash, sanitizer report or
failed check in the target fails the test with libFuzzer's output."""

import os

from conftest import BUILD, ROOT
from fuzzrun import bounded_run, smoke_runs

FUZZER = os.path.join(BUILD, "tests", "fuzz", "fuzz-patch")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def test_seed_corpus_is_small():
    seeds = [os.path.join(SEEDS, f) for f in os.listdir(SEEDS)]
    assert len(seeds) >= 5
    assert sum(os.path.getsize(f) for f in seeds) < 50 * 1024


def test_bounded_fuzz_run(tmp_path):
    # The seeds alone reach several hundred edges of the patcher and decoder.
    bounded_run(FUZZER, SEEDS, smoke_runs("FUZZ_SMOKE_RUNS", "PVPATCH_FUZZ_RUNS"), tmp_path,
                min_cov=400)
