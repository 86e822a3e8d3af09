# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""What the bounded fuzz runs of `make check` share: the run count from
mk/fuzz.mk, a fixed-seed run over a fresh copy of a seed corpus, and the
checks that it crashed nowhere and did what it says."""

import os
import re
import shutil
import subprocess

from conftest import ROOT

FRAGMENT = os.path.join(ROOT, "mk", "fuzz.mk")
TIMEOUT = 150


def tail(text, n=60):
    return "\n".join(text.splitlines()[-n:])


def smoke_runs(variable, override):
    """VARIABLE's value in mk/fuzz.mk (one number for the make target and the
    test); the environment variable OVERRIDE replaces it."""
    if os.environ.get(override):
        return int(os.environ[override])
    with open(FRAGMENT) as f:
        m = re.search(rf"^{variable}\s*\?=\s*(\d+)\s*$", f.read(), re.M)
    assert m, f"{variable} not found in mk/fuzz.mk"
    return int(m.group(1))


def no_aslr_works():
    """Whether setarch can turn address randomisation off here (a container
    may forbid the personality call)."""
    if not shutil.which("setarch"):
        return False
    return subprocess.run(["setarch", "x86_64", "--addr-no-randomize", "true"],
                          capture_output=True).returncode == 0


def bounded_run(fuzzer, seeds, runs, tmp_path, min_cov, env=None):
    """Run fuzzer -seed=1 -runs=runs over a copy of seeds; assert no crash,
    every run done, coverage at least min_cov; return libFuzzer's output."""
    name = os.path.basename(fuzzer)
    assert os.access(fuzzer, os.X_OK), f"{fuzzer} missing: make fuzz-build"
    corpus = tmp_path / "corpus"
    artifacts = tmp_path / "artifacts"
    shutil.copytree(seeds, corpus)
    artifacts.mkdir()
    cmd = [fuzzer, "-seed=1", f"-runs={runs}", "-max_len=4096", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}/", str(corpus)]
    # Without address randomisation: the targets' comparisons feed run-time
    # addresses into libFuzzer's dictionary, so with ASLR each run explored
    # other inputs (a clean-root run once found a bug the others did not).
    # Now every run of the test is the same run; make fuzz explores.
    if no_aslr_works():
        cmd = ["setarch", "x86_64", "--addr-no-randomize"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path,
                       env=env)
    out = p.stdout + p.stderr
    crashes = sorted(os.listdir(artifacts))
    assert p.returncode == 0 and not crashes, (
        f"{name} failed (exit {p.returncode}, artifacts {crashes});"
        f" reproduce with: {fuzzer} <artifact>\n{tail(out)}")
    # It did what it says: loaded the seeds, ran every run, got deep.
    assert re.search(r"^#\d+\s+INITED cov: (\d+) ft: \d+ corp: (\d+)/", out, re.M), tail(out)
    done = re.search(r"^Done (\d+) runs in (\d+) second", out, re.M)
    assert done and int(done.group(1)) == runs, tail(out)
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", out, re.M))
    assert int(stats.get("number_of_executed_units", 0)) == runs, tail(out)
    covs = [int(c) for c in re.findall(r"\bcov: (\d+)", out)]
    assert covs and max(covs) >= min_cov, tail(out)
    return out
