# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The liveness pass (tools/pvsites liveness) on crafted functions with known
live sets (tests/sites/liveness.S), on the guest kernel, and the findings
pvsites verify must report when a widened mask calls a live register dead."""

import json
import os
import shutil
import subprocess

import pytest
from conftest import BUILD, pvsites as run
from elftools.elf.elffile import ELFFile

ELF = os.path.join(BUILD, "tests", "sites", "liveness.elf")
OBJ = os.path.join(BUILD, "tests", "sites", "liveness.o")
GUEST = os.path.join(BUILD, "tests", "guest", "guest.elf")

# Registers each site may lose beyond what it declares (rbx, its output),
# derived by hand from the code in tests/sites/liveness.S.  rbp and rsp are
# never given away.
DEAD = {
    "lv_straight+0x5": "rax rcx rsi rdi r8 r9 r10 r11",
    "lv_branch+0x5": "rax rcx rdi r8 r9 r10 r11",       # rsi on one path; rax
                                                        # written on both
    "lv_loop+0x8": "rcx rsi r8 r10 r11",                # r9, rax next iteration
    "lv_call+0x0": "rdi r10 r11",                       # killed by the call
    "lv_ipa+0x5": "r11",                                # r10 kept across lv_small
    "lv_tail+0x5": "r10 r11",
    "lv_indirect+0x5": "",
    "lv_ret+0x5": "rcx rsi rdi r8 r9 r10 r11",
    "lv_leaf+0x0": "",                                  # callers keep caller-saved
    "lv_leaf_unref+0x0": "rcx rsi rdi r8 r9 r10 r11",   # no direct caller
    "lv_sites+0x5": "rdx rsi rdi r8 r9 r10 r11",        # next site reads rcx
    "lv_sites+0xf": "rcx rdx rsi rdi r8 r9 r10 r11",    # rcx: its argument, read
    "lv_sites+0x19": "rcx rsi rdi r8 r9 r10 r11",
    "lv_i_cpuid+0x5": "rdx rsi rdi r8 r9 r10 r11",
    "lv_i_rdmsr+0x5": "rax rdx rsi rdi r8 r9 r10 r11",
    "lv_i_wrmsr+0x5": "rsi rdi r8 r9 r10 r11",
    "lv_i_div+0x5": "rcx rsi rdi r9 r10 r11",
    "lv_i_mul+0x5": "rcx rdx rsi rdi r8 r10 r11",
    "lv_i_repmovs+0x5": "r8 r9 r10 r11",
    "lv_i_cmpxchg+0x5": "rcx rsi rdi r8 r9",
    "lv_i_push+0x5": "rcx rsi rdi r8 r9 r11",
    "lv_i_syscall+0x5": "",                             # not modelled: all live
    "lv_i_enter+0x5": "",
    "lv_i_xlat+0x5": "",
    "lv_i_vmcall+0x5": "",
    "lv_i_ud2+0x5": "",
    "lv_i_shift+0x5": "rsi rdi r9 r10 r11",
    "lv_i_partial+0x5": "rcx rsi rdi r8 r10 r11",       # r9b: r9 stays live
    "lv_i_zext+0x5": "rax rcx rsi rdi r8 r9 r10 r11",   # r8d write: r8 dead
    "lv_i_zeroing+0x5": "rcx rsi rdi r8 r9 r10 r11",    # xor/sbb r8,r9: no read
    "lv_cold+0x5": "",                                  # jz lv_cold.cold: all live
    "lv_midjump+0x5": "",                               # not analysed (warning)
    "lv_noopt+0x5": "",                                 # .S without opt-in
}
# (lv_nosize's site has no function around it: where is section+offset.)


_dry = {}


def dry_run(path):
    """`pvsites liveness --dry-run --json path`, once per file and module."""
    if path not in _dry:
        _dry[path] = run("liveness", "--dry-run", "--json", path)
    return _dry[path]


def dead_sets(path, cached=True):
    p = dry_run(path) if cached else run("liveness", "--dry-run", "--json", path)
    assert p.returncode == 0, p.stderr
    out = {}
    for s in json.loads(p.stdout)["per_site"]:
        if s["where"].startswith(".text"):
            assert "no function symbol" in s["reason"]
            assert s["clobbers"] == s["declared"]
            continue
        dead = [r for r in s["clobbers"] if r not in s["declared"]]
        out[s["where"]] = " ".join(dead)
    return out


@pytest.fixture(scope="module")
def widened(tmp_path_factory):
    """A copy of liveness.elf the pass has widened."""
    if not os.path.exists(ELF):
        pytest.fail(f"{ELF} missing: run `make all`")
    dst = tmp_path_factory.mktemp("liveness") / "liveness.elf"
    shutil.copy(ELF, dst)
    p = run("liveness", str(dst))
    assert p.returncode == 0, p.stderr
    return str(dst)


@pytest.mark.parametrize("path", [ELF, OBJ], ids=["linked", "object"])
def test_known_live_sets(path):
    got = dead_sets(path)
    want = DEAD if path == ELF else {k: v for k, v in DEAD.items() if "noopt" not in k}
    assert got == want


def test_warnings_for_what_it_cannot_analyse():
    p = dry_run(ELF)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 0
    assert any(line.startswith(f"{ELF}: warning: pvsites: .text+0x") and
               "liveness not analysed: no function symbol with a size around the site"
               in line for line in lines), p.stderr
    assert (f"{ELF}: warning: pvsites: lv_midjump+0x5: liveness not analysed: branch to "
            "lv_midjump+0x" in p.stderr)
    assert len(lines) == 2, p.stderr      # nothing about the .S site without opt-in


def test_asm_without_opt_in_not_widened():
    p = dry_run(ELF)
    site = [s for s in json.loads(p.stdout)["per_site"] if s["where"] == "lv_noopt+0x5"][0]
    assert site["live"] is None and "not opted in" in site["reason"]
    assert site["clobbers"] == site["declared"] == ["rbx"]


def records(path):
    with open(path, "rb") as f:
        sec = ELFFile(f).get_section_by_name(".pvpatch.sites")
        return sec["sh_offset"], sec.data()


def test_widens_in_place_idempotent(widened):
    off0, before = records(ELF)
    off1, after = records(widened)
    assert off0 == off1 and len(before) == len(after)
    changed = [i for i in range(0, len(before), 16) if before[i:i + 16] != after[i:i + 16]]
    # one record per function with something dead, only flags and clobbers differ
    assert len(changed) == sum(1 for v in DEAD.values() if v)
    for i in changed:
        assert before[i:i + 7] == after[i:i + 7] and before[i + 8:i + 10] == after[i + 8:i + 10]
        assert before[i + 12:i + 16] == after[i + 12:i + 16]
        assert after[i + 7] == before[i + 7] | 0x20          # FLAG_WIDENED
    copy = widened + ".again"
    shutil.copy(widened, copy)
    p = run("liveness", "--json", copy)
    assert json.loads(p.stdout)["records_changed"] == 0
    with open(widened, "rb") as a, open(copy, "rb") as b:
        assert a.read() == b.read()
    assert dead_sets(widened, cached=False) == DEAD


def test_verify_and_stats_of_widened(widened):
    p = run("verify", widened)
    assert p.returncode == 0, p.stderr
    st = json.loads(run("stats", "--json", widened).stdout)["liveness"]
    assert st["sites_widened"] == sum(1 for v in DEAD.values() if v)
    assert st["free_regs_mean_before"] < 1.0    # rbx, or nothing (write_cr3)
    assert st["free_regs_mean_after"] > 4


def test_verify_rejects_a_live_register_called_dead(widened, tmp_path):
    """The negative test: r9 is read in the loop's next iteration; a mask
    claiming it dead after the site must be reported."""
    bad = tmp_path / "bad.elf"
    shutil.copy(widened, bad)
    p = run("list", "--json", str(bad))
    idx = [s["index"] for s in json.loads(p.stdout)["sites"] if s["where"] == "lv_loop+0x8"][0]
    off, data = records(str(bad))
    pos = off + idx * 16 + 10
    mask = int.from_bytes(data[idx * 16 + 10:idx * 16 + 12], "little") | 1 << 9
    with open(bad, "r+b") as f:
        f.seek(pos)
        f.write(mask.to_bytes(2, "little"))
    p = run("verify", str(bad))
    assert p.returncode == 1
    assert "lv_loop+0x8: widened clobber mask claims r9 dead after the site" in p.stderr


def test_exception_table_not_analysed(tmp_path):
    """Fixup edges are invisible: a file with __ex_table is left as declared."""
    ex = tmp_path / "extable.elf"
    subprocess.run(["objcopy", "--add-section", "__ex_table=/dev/null", ELF, str(ex)],
                   check=True)
    p = run("liveness", "--json", str(ex))
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["sites_widened"] == 0 and out["records_changed"] == 0
    assert p.stderr.count("exception table (__ex_table)") == 1, p.stderr


def test_unusable_input(tmp_path):
    bad = tmp_path / "trunc.elf"
    bad.write_bytes(open(ELF, "rb").read()[:100])
    p = run("liveness", str(bad))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1


def test_guest_widened_by_its_link_rule():
    """The guest's link rule runs $(PVPATCH_LIVENESS): most C callers' sites
    carry a widened mask, and verify (list exits 1 on any finding) agrees
    with every one."""
    p = run("list", "--json", GUEST)
    assert p.returncode == 0, p.stderr
    sites = json.loads(p.stdout)["sites"]
    c_sites = [s for s in sites if not s["asm"]]
    widened = [s for s in c_sites if s["widened"]]
    assert len(widened) > len(c_sites) / 2
    assert not any(s["widened"] for s in sites if s["asm"])   # the guest's .S: no opt-in
    assert sum(len(s["clobbers"]) for s in sites) > 2 * sum(len(s["declared"]) for s in sites)
