"""The bounded fuzz run of `make check`: the libFuzzer target over the
runtime patcher (tests/fuzz/fuzz-patch.c), a fixed seed and a fixed number
of runs over a fresh copy of the seed corpus.  Any crash, sanitizer report or
failed check in the target fails the test with libFuzzer's output."""

import os
import re
import shutil
import subprocess

from conftest import BUILD, ROOT

FUZZER = os.path.join(BUILD, "tests", "fuzz", "fuzz-patch")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "corpus")
FRAGMENT = os.path.join(ROOT, "mk", "fuzz.mk")
TIMEOUT = 150


def smoke_runs():
    """FUZZ_SMOKE_RUNS from mk/fuzz.mk (one number for `make fuzz-smoke` and
    this test); PVPATCH_FUZZ_RUNS overrides it."""
    if os.environ.get("PVPATCH_FUZZ_RUNS"):
        return int(os.environ["PVPATCH_FUZZ_RUNS"])
    with open(FRAGMENT) as f:
        m = re.search(r"^FUZZ_SMOKE_RUNS\s*\?=\s*(\d+)\s*$", f.read(), re.M)
    assert m, "FUZZ_SMOKE_RUNS not found in mk/fuzz.mk"
    return int(m.group(1))


def tail(text, n=60):
    return "\n".join(text.splitlines()[-n:])


def test_seed_corpus_is_small():
    seeds = [os.path.join(SEEDS, f) for f in os.listdir(SEEDS)]
    assert len(seeds) >= 5
    assert sum(os.path.getsize(f) for f in seeds) < 50 * 1024


def test_bounded_fuzz_run(tmp_path):
    assert os.access(FUZZER, os.X_OK), f"{FUZZER} missing: make fuzz-build"
    runs = smoke_runs()
    corpus = tmp_path / "corpus"
    artifacts = tmp_path / "artifacts"
    shutil.copytree(SEEDS, corpus)
    artifacts.mkdir()
    cmd = [FUZZER, "-seed=1", f"-runs={runs}", "-max_len=4096", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}/", str(corpus)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    out = p.stdout + p.stderr
    crashes = sorted(os.listdir(artifacts))
    assert p.returncode == 0 and not crashes, (
        f"fuzz-patch failed (exit {p.returncode}, artifacts {crashes});"
        f" reproduce with: {FUZZER} <artifact>\n{tail(out)}")
    # It did what it says: loaded the seeds, ran every run, reached the patcher.
    inited = re.search(r"^#\d+\s+INITED cov: (\d+) ft: \d+ corp: (\d+)/", out, re.M)
    assert inited, tail(out)
    done = re.search(r"^Done (\d+) runs in (\d+) second", out, re.M)
    assert done and int(done.group(1)) == runs, tail(out)
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", out, re.M))
    assert int(stats.get("number_of_executed_units", 0)) == runs, tail(out)
    covs = [int(c) for c in re.findall(r"\bcov: (\d+)", out)]
    # The seeds alone reach several hundred edges of the patcher and decoder.
    assert max(covs) >= 400, tail(out)
