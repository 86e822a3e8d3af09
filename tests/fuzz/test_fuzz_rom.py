# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The bounded fuzz run of `make check` over the feature-ROM parser and the
template fitter (tests/fuzz/fuzz-rom.c): a fixed seed and a fixed number of
runs over a fresh copy of tests/fuzz/corpus-rom/.  Any crash, sanitizer
report or failed check in the target fails the test with libFuzzer's
output.  The seeds themselves must be what their names say: accepted by the
guest's parser (ROMs from tools/pvrom, checksums from zlib), or refused
(refused-*)."""

import collections
import os
import re
import subprocess
import zlib

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


# A verdict line names the input it judged by size and zlib CRC-32.
VERDICT = re.compile(r"^input (\d+) bytes crc32 ([0-9a-f]{8}): ROM of \d+ bytes "
                     r"\(total_len \d+\): (accepted|refused)", re.M)
# libFuzzer's malloc tracer, one line per execution of an input.
TRACE = re.compile(r"^MallocFreeTracer: STOP (\d+) (\d+) \((same|DIFFERENT)\)", re.M)


def run_seeds(seeds, tmp_path, *flags):
    """Run the fuzzer over the seed files (libFuzzer's run-these-files mode)
    with the verdicts on; return its exit status and output."""
    env = dict(os.environ, FUZZ_ROM_VERBOSE="1")
    p = subprocess.run([FUZZER, *flags, *seeds], capture_output=True, text=True,
                       timeout=TIMEOUT, cwd=tmp_path, env=env)
    return p.returncode, p.stdout + p.stderr


def test_seeds_accepted_or_refused_as_named(tmp_path):
    """Exactly one verdict per seed, matched by the input's size and CRC-32,
    and the verdict the seed's name says.

    libFuzzer executes an input a second time when more mallocs than frees
    happened while it ran (TryDetectingAMemoryLeak()), and it counts the
    mallocs of every thread.  Its RSS-limit thread, started just before the
    inputs run, mallocs as it starts (ASan's thread setup calls
    pthread_getattr_np()): on a loaded machine that start can fall inside
    the first input's execution, which then runs twice and prints two
    verdicts.  -rss_limit_mb=0 starts no such thread; -trace_malloc=1 shows
    each execution's counts, which must balance (the target itself leaks
    nothing that would make libFuzzer run an input again)."""
    assert os.access(FUZZER, os.X_OK), f"{FUZZER} missing: make fuzz-build"
    seeds = seed_files()
    rc, out = run_seeds(seeds, tmp_path, "-rss_limit_mb=0", "-trace_malloc=1")
    assert rc == 0, tail(out)

    want = {}
    for path in seeds:
        with open(path, "rb") as f:
            data = f.read()
        key = (len(data), f"{zlib.crc32(data):08x}")
        assert key not in want, f"{path} and {want[key]} are the same input"
        want[key] = os.path.basename(path)
    got = [((int(n), crc), verdict) for n, crc, verdict in VERDICT.findall(out)]
    seen = collections.Counter(key for key, _ in got)
    for key, n in seen.items():
        assert key in want, f"a verdict for an input that is no seed: {key}\n{tail(out)}"
        assert n == 1, f"{want[key]}: {n} verdicts\n{tail(out)}"
    assert set(seen) == set(want), (
        f"no verdict for {sorted(want[k] for k in set(want) - set(seen))}\n{tail(out)}")
    # In the order given, each as its name says.
    assert [want[key] for key, _ in got] == [os.path.basename(p) for p in seeds]
    for key, verdict in got:
        expect = "refused" if want[key].startswith("refused-") else "accepted"
        assert verdict == expect, f"{want[key]}: {verdict}\n{tail(out)}"

    # One execution per input, each with as many frees as mallocs.
    trace = TRACE.findall(out)
    assert len(trace) == len(seeds), tail(out)
    assert all(m == f for m, f, _ in trace), [t for t in trace if t[0] != t[1]]


def test_a_second_execution_shows_as_a_second_verdict(tmp_path):
    """The check above would see an input executed twice: -runs=2 runs each
    input twice, and every seed then has two verdict lines of its own."""
    seeds = seed_files()[:3]
    rc, out = run_seeds(seeds, tmp_path, "-rss_limit_mb=0", "-runs=2")
    assert rc == 0, tail(out)
    seen = collections.Counter((int(n), crc) for n, crc, _ in VERDICT.findall(out))
    assert len(seen) == len(seeds) and set(seen.values()) == {2}, tail(out)


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
