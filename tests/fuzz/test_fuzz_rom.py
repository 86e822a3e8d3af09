"""The bounded fuzz run of `make check` over the feature-ROM parser and the
template fitter (tests/fuzz/fuzz-rom.c): a fixed seed and a fixed number of
runs over a fresh copy of tests/fuzz/corpus-rom/.  Any crash, sanitizer
report or failed check in the target fails the test with libFuzzer's
output.  The seeds themselves must be what their names say: accepted by the
guest's parser (ROMs from tools/pvrom, checksums from zlib), or refused
(refused-*)."""

import os
import re
import shutil
import subprocess

from conftest import BUILD, ROOT

FUZZER = os.path.join(BUILD, "tests", "fuzz", "fuzz-rom")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "corpus-rom")
FRAGMENT = os.path.join(ROOT, "mk", "fuzz.mk")
TIMEOUT = 150


def smoke_runs():
    """FUZZ_ROM_SMOKE_RUNS from mk/fuzz.mk (one number for `make
    fuzz-rom-smoke` and this test); PVPATCH_FUZZ_ROM_RUNS overrides it."""
    if os.environ.get("PVPATCH_FUZZ_ROM_RUNS"):
        return int(os.environ["PVPATCH_FUZZ_ROM_RUNS"])
    with open(FRAGMENT) as f:
        m = re.search(r"^FUZZ_ROM_SMOKE_RUNS\s*\?=\s*(\d+)\s*$", f.read(), re.M)
    assert m, "FUZZ_ROM_SMOKE_RUNS not found in mk/fuzz.mk"
    return int(m.group(1))


def tail(text, n=60):
    return "\n".join(text.splitlines()[-n:])


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
    assert os.access(FUZZER, os.X_OK), f"{FUZZER} missing: make fuzz-build"
    runs = smoke_runs()
    corpus = tmp_path / "corpus"
    artifacts = tmp_path / "artifacts"
    shutil.copytree(SEEDS, corpus)
    artifacts.mkdir()
    cmd = [FUZZER, "-seed=1", f"-runs={runs}", "-max_len=4096", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}/", str(corpus)]
    env = dict(os.environ, FUZZ_ROM_STATS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path,
                       env=env)
    out = p.stdout + p.stderr
    crashes = sorted(os.listdir(artifacts))
    assert p.returncode == 0 and not crashes, (
        f"fuzz-rom failed (exit {p.returncode}, artifacts {crashes});"
        f" reproduce with: {FUZZER} <artifact>\n{tail(out)}")
    # It did what it says: loaded the seeds, ran every run, got deep.
    inited = re.search(r"^#\d+\s+INITED cov: (\d+) ft: \d+ corp: (\d+)/", out, re.M)
    assert inited, tail(out)
    done = re.search(r"^Done (\d+) runs in (\d+) second", out, re.M)
    assert done and int(done.group(1)) == runs, tail(out)
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", out, re.M))
    assert int(stats.get("number_of_executed_units", 0)) == runs, tail(out)
    covs = [int(c) for c in re.findall(r"\bcov: (\d+)", out)]
    # The seeds alone reach several hundred edges of the parser, the fitter
    # and the patcher.
    assert max(covs) >= 450, tail(out)
    # Both sides were exercised: ROMs refused, and accepted ROMs whose
    # policies put sites in every mode.
    m = re.search(r"^fuzz-rom: accepted (\d+) \(sites native (\d+) nop (\d+) inline (\d+) "
                  r"call (\d+)\)", out, re.M)
    assert m, tail(out)
    accepted, *modes = (int(x) for x in m.groups())
    assert accepted >= runs // 10 and all(modes), m.group(0)
    refused = sum(int(n) for n in re.findall(r"^fuzz-rom: refused (\d+):", out, re.M))
    assert refused >= runs // 20, tail(out)
