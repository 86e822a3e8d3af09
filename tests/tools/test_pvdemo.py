# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""tools/pvdemo under TCG only (--accel tcg): the JSON object's structure,
and the tables print the same figures as the JSON."""

import json
import os
import re
import subprocess

import pytest
from conftest import BUILD, PYTHON, ROOT

PVDEMO = os.path.join(ROOT, "tools", "pvdemo")
ELF32 = os.path.join(BUILD, "tests", "guest", "guest32.elf")
ARGS = ["--accel", "tcg", "--bench", "8"]
TIMEOUT = 240   # about 20 s here; every QEMU boot has its own timeout too


def pvdemo(*extra):
    p = subprocess.run([PYTHON, PVDEMO, *ARGS, *extra, ELF32], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p.stdout


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One run: the tables on stdout and the same figures as the JSON
    object --json prints, saved with --save-json (one pvdemo run, not two:
    each boots the guest about a dozen times)."""
    if not os.path.exists(ELF32):
        pytest.fail(f"{ELF32} missing: run make")
    saved = tmp_path_factory.mktemp("pvdemo") / "demo.json"
    text = pvdemo("--save-json", str(saved))
    with open(saved) as f:
        return json.load(f), text


def split(line):
    return re.split(r"\s{2,}", line.strip())


def section(text, first_cell):
    """The lines of the table whose header line starts with first_cell, up
    to the first blank line (or a line that is not a row of it)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if split(ln)[0] == first_cell)
    out = []
    for ln in lines[start:]:
        if not ln.strip():
            break
        out.append(ln)
    return out


def test_json_structure(both):
    s, _ = both
    assert set(s) >= {"kvm", "units", "modes", "boots", "ops", "roms", "ok"}
    assert s["kvm"] == {"usable": False, "reason": "--accel tcg"}
    assert s["modes"] == ["NATIVE", "NOP", "INLINE", "CALL"]
    assert s["ok"] is True
    names = [b["name"] for b in s["boots"]]
    assert len(names) == len(set(names))
    for b in s["boots"]:
        assert {"name", "accel", "profile", "rom", "skipped"} <= set(b)
        if b["accel"] == "kvm":
            assert b["skipped"] == "KVM unusable: --accel tcg"
            continue
        assert b["accel"] == "tcg" and b["skipped"] is None and b["ok"]
        assert b["unit"] == "insns"
        assert sum(b["modes"].values()) == b["sites"] > 0
        assert b["ktap"]["failed"] == 0
        for op, m in b["bench"].items():
            assert m["mode"] in s["modes"] and isinstance(m["patched"], int)
    assert s["ops"]
    for op, o in s["ops"].items():
        assert set(o["tcg"]) == set(s["modes"])
        assert set(o["modes_allowed"]) <= set(s["modes"]) and "NATIVE" in o["modes_allowed"]
        assert isinstance(o["tcg"]["NATIVE"], int)
        for m, v in o["tcg"].items():
            assert v is None or (isinstance(v, int) and m in o["modes_allowed"])
            if v is not None:
                boot = next(b for b in s["boots"] if b["name"] == o["measured_in"][m])
                assert boot["bench"][op] == dict(boot["bench"][op], mode=m, patched=v)
        for k in ("native_build", "pvops_indirect", "retpoline"):
            assert isinstance(o[k], int)
        assert o["native_build"] <= o["pvops_indirect"] < o["retpoline"]
        assert o["kvm"] == {}
    # every mode an op takes, under TCG alone
    ops = s["ops"]
    assert all(isinstance(o["tcg"]["CALL"], int) for o in ops.values())
    assert ops["io_delay"]["tcg"]["NOP"] < ops["io_delay"]["tcg"]["NATIVE"]
    assert isinstance(ops["sched_yield"]["tcg"]["NOP"], int)
    assert isinstance(ops["mem_size"]["tcg"]["INLINE"], int)
    assert {m for o in ops.values() for m, v in o["tcg"].items() if v is not None} \
        == set(s["modes"])
    profiles = [p["profile"] for p in s["roms"]["profiles"]]
    assert "paravirt" in profiles and "vmware-backdoor-v2" in profiles
    for p in s["roms"]["profiles"]:
        assert p["rom"]["ok"] and p["rom"]["policy"] == "rom:" + p["profile"]


def test_boots_table_equals_json(both):
    s, text = both
    ran = [b for b in s["boots"] if not b["skipped"]]
    rows = {split(ln)[0]: split(ln)[1:] for ln in section(text, "accel")}
    assert rows["accel"] == [b["accel"].upper() for b in ran]
    assert rows["policy"] == [b["policy"] for b in ran]
    assert rows["sites"] == [str(b["sites"]) for b in ran]
    for m in s["modes"]:
        assert rows[m] == [str(b["modes"][m]) for b in ran]
    assert rows["patch cost per site"] == [str(b["patch_cost_per_site"]) for b in ran]
    header = text.splitlines()[0]
    for b in ran:
        assert b["name"] in header
    skipped = [b for b in s["boots"] if b["skipped"]]
    if skipped:
        # one short line, whole, says why
        line = next(ln for ln in text.splitlines() if "KVM boots not run: " in ln)
        assert line == f"{len(skipped)} KVM boots not run: KVM unusable: --accel tcg"
        assert len(line) <= 80


def test_ops_table_equals_json(both):
    s, text = both
    lines = section(text, "op")
    assert split(lines[0]) == ["op"] + s["modes"] + ["free build", "pv_ops indirect",
                                                     "retpoline"]
    printed = {split(ln)[0]: split(ln)[1:] for ln in lines[1:]}
    assert list(printed) == list(s["ops"])
    for op, o in s["ops"].items():
        want = [("n/a" if m not in o["modes_allowed"] else
                 "-" if o["tcg"][m] is None else str(o["tcg"][m])) for m in s["modes"]]
        want += [str(o[k]) for k in ("native_build", "pvops_indirect", "retpoline")]
        assert printed[op] == want, op


def test_rom_table_equals_json(both):
    s, text = both
    lines = section(text, "profile")
    printed = [split(ln) for ln in lines[1:]]
    assert [r[0] for r in printed] == [p["profile"] for p in s["roms"]["profiles"]]
    for row, p in zip(printed, s["roms"]["profiles"]):
        for cell, r in zip(row[1:3], (p["built_in"], p["rom"])):
            if r is None:
                assert cell == "(not built in)"
            else:
                assert cell == " ".join(f"{m[0]}{r['modes'][m]}" for m in s["modes"]) + " ok"
        assert row[3] == p["rom"]["policy"]
