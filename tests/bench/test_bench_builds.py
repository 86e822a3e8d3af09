# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The hardware benchmark (tests/bench, mk/bench.mk) builds, runs in its quick
mode, and reports well-formed JSON in which every variant has a number and
the patched sites really took their modes.  No timing thresholds: timings on
these shared machines are for people to read, not for tests to assert."""

import json
import math
import os
import subprocess

import pytest
from conftest import BUILD

BENCH = os.path.join(BUILD, "tests", "bench", "bench")

NATIVE_OPS = ["read_tsc", "save_fl", "restore_fl", "sched_yield", "cpuid", "mem_size"]
CALL_ONLY_OPS = ["write_cr3", "read_cr3"]
INLINE_OPS = ["read_tsc", "save_fl", "sched_yield", "cpuid"]
FW_MODES = ["NATIVE", "NOP", "INLINE", "CALL"]


def expected_variants(op):
    v = {"direct", "CALL", "indirect", "retpoline", "direct-preserving", "CALL-preserving",
         "linux-callee-save", "direct-live", "call-live", "CALL-opaque"}
    if op in NATIVE_OPS:
        v |= {"framework-free", "framework-free-copy", "framework-free+pad", "NATIVE",
              "indirect-native", "retpoline-native"}
    if op in INLINE_OPS:
        v.add("INLINE")
    if op == "sched_yield":
        v.add("NOP")
    if op == "save_fl":
        v.add("hand-inline")
    return v


@pytest.fixture(scope="module")
def report():
    # `make check` builds the benchmark first (`make all` includes bench-build).
    assert os.path.exists(BENCH), f"{BENCH} not built: run `make all` (or `make check`)"
    p = subprocess.run([BENCH, "--quick", "--json"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_json_shape(report):
    for key in ("cpu", "tsc_ghz", "batches", "unroll", "quick", "unit", "ops",
                "bench_patch", "throughput", "bars", "failures"):
        assert key in report, key
    assert report["quick"] is True
    assert report["failures"] == 0
    assert set(report["ops"]) == set(NATIVE_OPS + CALL_ONLY_OPS)


def test_every_variant_has_a_number(report):
    for op, o in report["ops"].items():
        assert o["iters"] >= 1 and o["ops_per_batch"] == o["iters"] * report["unroll"], op
        assert set(o["variants"]) == expected_variants(op), op
        for name, v in o["variants"].items():
            where = f"{op} {name}"
            for key in ("cycles", "q1", "q3"):
                assert number(v[key]), (where, key, v[key])
            assert v["q1"] <= v["cycles"] <= v["q3"], where
            if v["ref"] is not None:
                assert v["ref"] in o["variants"], where
                # A figure, not a bar: a NOP site costs about nothing, so
                # its ratio is near 0 and noise may make it slightly negative.
                assert number(v["ratio"]), where
            if name not in ("retpoline", "retpoline-native"):
                assert number(v["vs_retpoline"]), where
            # Each variant ran the code it names (results and backend calls
            # checked by the benchmark itself).
            assert v["check"] == "ok", (where, v["check"])


def test_framework_sites_took_their_modes(report):
    bp, bpp = report["bench_patch"], report["bench_patch_preserving"]
    bpl, bpo = report["bench_patch_call_live"], report["bench_patch_opaque"]
    for b in (bp, bpp, bpl, bpo):
        assert b["invalid"] == 0 and b["fallbacks"] == 0, b
    n = {"plain": 0, "preserving": 0, "live": 0, "opaque": 0}
    for op, o in report["ops"].items():
        for name, v in o["variants"].items():
            if name not in FW_MODES + ["CALL-preserving", "call-live", "CALL-opaque"]:
                assert "mode" not in v, (op, name)
                continue
            assert v["mode"] == name.split("-")[0].upper(), (op, name)
            assert v["preserving"] == (name == "CALL-preserving"), (op, name)
            assert v["live"] == (name == "call-live"), (op, name)
            assert v["opaque"] == (name == "CALL-opaque"), (op, name)
            assert v["sites"] >= report["unroll"], (op, name, v["sites"])
            assert v["sites_in_mode"] == v["sites"], (op, name, v)
            # What a site executes, decoded: a NATIVE site its native code
            # and at most one NOP, never a JMP (mem_size's sites are exactly
            # its 5-byte call: no padding at all).
            assert v["executes"] and "?" not in v["executes"], (op, name, v)
            if name == "NATIVE":
                assert "jmp" not in v["executes"], (op, name, v)
            if name == "NATIVE" and op == "mem_size":
                assert v["executes"] == "call", (op, name, v)
            if op in ("save_fl", "restore_fl"):
                assert "jmp" not in v["executes"], (op, name, v)
            # Where every call-clobbered register is dead, a CALL site with
            # one result or argument calls the backend itself (no thunk).
            if name == "call-live" and op not in ("read_tsc", "cpuid"):
                assert v["direct_calls"] == v["sites"], (op, v)
            # A plain backend the liveness pass analysed writes only rax or
            # nothing caller-saved (bench-backends.c): its CALL sites call it
            # themselves, saving in the site what must be kept; not
            # analysed (CALL-opaque), they go through the register-saving
            # thunk (but mem_size, whose sites declare every call clobber).
            if name == "CALL" and op not in ("read_tsc", "cpuid"):
                assert v["direct_calls"] == v["sites"], (op, v)
            if name == "CALL-opaque" and op != "mem_size":
                assert v["thunk_calls"] == v["sites"], (op, v)
            kind = ("live" if v["live"] else "preserving" if v["preserving"] else
                    "opaque" if v["opaque"] else "plain")
            n[kind] += v["sites"]
    assert n["plain"] == bp["sites"] and n["preserving"] == bpp["sites"]
    assert n["opaque"] == bpo["sites"] and bpo["modes"]["CALL"] == bpo["sites"]
    assert n["live"] == bpl["sites"] and bpl["modes"]["CALL"] == bpl["sites"]
    # The build's liveness pass, not the harness, freed the call-clobbered
    # registers of every call-live site whose op does not declare them
    # (mem_size: its native code is a call).
    assert bpl["widened_by_liveness"] + bpl["declared_free"] == bpl["sites"], bpl
    assert bpl["widened_by_liveness"] >= bpl["sites"] - 2 * report["unroll"], bpl
    assert sum(bp["modes"].values()) == bp["sites"]
    for mode in FW_MODES:
        assert bp["modes"][mode] > 0, mode
    assert bpp["modes"]["CALL"] == bpp["sites"]
    assert bp["thunk_bytes"] > 0      # two-output ops (read_tsc, cpuid) need thunks
    # Register-preserving backends: leaner thunks than the register-saving ones.
    assert 0 < bpp["thunk_bytes"] < bpo["thunk_bytes"]


def test_throughput_patched_every_site(report):
    tp = report["throughput"]
    assert tp["sites"] == 100000
    phases = tp["phases"]
    assert set(phases) == {"check_only", "first_apply", "reapply", "reapply_back", "revert"}
    want = {
        "check_only": ({"NATIVE": 100000, "NOP": 0, "INLINE": 0, "CALL": 0}, 0),
        "first_apply": (tp["expected_modes"]["A"], 100000),
        "reapply": (tp["expected_modes"]["B"], 100000),
        "reapply_back": (tp["expected_modes"]["A"], 100000),
        "revert": ({"NATIVE": 100000, "NOP": 0, "INLINE": 0, "CALL": 0}, 100000),
    }
    assert tp["expected_modes"]["A"]["CALL"] > 0 and tp["expected_modes"]["A"]["INLINE"] > 0
    for name, ph in phases.items():
        modes, written = want[name]
        assert ph["modes"] == modes, name
        assert ph["written"] == written, name
        assert ph["invalid"] == 0 and ph["fallbacks"] == 0, name
        for key in ("cpu_median_ms", "wall_median_ms", "ns_per_site"):
            assert number(ph[key]) and ph[key] > 0, (name, key)
    assert phases["first_apply"]["thunk_bytes"] > 0


def test_bars_are_reported(report):
    bars = report["bars"]
    for key in ("native_within_1pct_of_framework_free", "call_within_1pct_of_direct_call",
                "faster_than_retpoline", "native_within_1pct_of_framework_free_pad",
                "call_live_within_1pct_of_direct_call", "call_beats_linux_callee_save"):
        assert isinstance(bars[key]["met"], bool), key
        assert bars[key]["sites"], key
        for site, b in bars[key]["sites"].items():
            r = b["speedup" if key == "call_beats_linux_callee_save" else "ratio"]
            assert number(r) and isinstance(b["met"], bool), (key, site)
            if key == "native_within_1pct_of_framework_free":
                # Beside each NATIVE ratio: the noise floor and the cost of
                # the one padding instruction, measured on the same loop.
                assert number(b["aa_ratio"]) and number(b["pad_ratio"]), site
    # Beside the Linux bar, its bound and the CALL-opaque figures (not in it).
    lcs = bars["call_beats_linux_callee_save"]
    assert not any("opaque" in site for site in lcs["sites"])
    assert all(number(b["linux_vs_direct"]) for b in lcs["sites"].values())
    assert set(lcs["opaque_backend_speedup"]) == set(NATIVE_OPS + CALL_ONLY_OPS)
    assert all(number(b["speedup"]) for b in lcs["opaque_backend_speedup"].values())
    # Not a timing: what NATIVE sites execute, decoded.
    jmp = bars["native_never_executes_jmp"]
    assert jmp["met"] is True, jmp
    assert set(jmp["sites"]) == {f"{op} NATIVE" for op in NATIVE_OPS}
    assert {s.split()[0] for s in bars["call_live_within_1pct_of_direct_call"]["sites"]} \
        >= {"read_tsc", "save_fl", "restore_fl", "sched_yield", "write_cr3"}
    # ... each against the direct call in the same loop (same register pressure).
    assert {b["against"] for b in bars["call_live_within_1pct_of_direct_call"]["sites"].values()} \
        == {"direct-live"}
    p = bars["patch_100k_under_10ms"]
    assert number(p["first_apply_ms"]) and isinstance(p["met"], bool)


def test_human_table_and_usage():
    if not os.path.exists(BENCH):
        pytest.skip("benchmark not built")
    p = subprocess.run([BENCH, "--quick", "--batches", "3", "--runs", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "NATIVE site" in p.stdout and "retpoline be_" in p.stdout
    assert "done-when bars" in p.stdout and "patching throughput" in p.stdout
    p = subprocess.run([BENCH, "--no-such-option"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "usage" in p.stderr
