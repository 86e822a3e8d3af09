# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The liveness pass on plain C CALL backends (tests/sites/backends.c): the
caller-saved registers each may write, checked against an independent
reading of objdump's disassembly, the backends it must refuse, and what
pvsites verify, stats and list make of the records."""

import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import BUILD, pvsites as run, load_gen as gen
from elftools.elf.elffile import ELFFile

ELF = os.path.join(BUILD, "tests", "sites", "backends.elf")
OBJ = os.path.join(BUILD, "tests", "sites", "backends.o")

CALLER_SAVED = ["rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"]
ANALYSED = 0x02       # PVPATCH_BACKEND_F_ANALYSED
PRESERVES = 0x01
REC = 16              # backend record: fn 8, op 2, flags 1, reserved0 1, id 2, writes 2


# --- the oracle: objdump's AT&T text, read without capstone ----------------------
# Mnemonics (suffix and prefixes stripped) that write no general register but
# rsp, and those whose last operand is what they write.  Anything else in the
# functions the test reads stops the test: the oracle never guesses.
NO_WRITE = re.compile(r"(cmp|test|push|call|jmp|j[a-z]+|ret|nop|endbr64|xchg %ax,%ax)$")
DEST = re.compile(r"(mov|movabs|lea|add|sub|xor|and|or|shl|shr|sar|imul|inc|dec|neg|not|pop"
                  r"|mov[sz][bwlq]*|set[a-z]+|cmov[a-z]+|cvtsi2sd|pxor|mulsd|addsd|movsd)[bwlq]?$")


def _reg64(name):
    for names in gen().REGS:
        if name in names:
            return names[0]
    return name               # xmm0 and the like, as they are


def _functions(path):
    """name -> (address, size) of every function symbol."""
    out = {}
    for line in subprocess.run(["objdump", "-t", path], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        f = line.split()
        if len(f) >= 6 and f[2] == "F":
            out[f[-1]] = (int(f[0], 16), int(f[-2], 16))
    return out


def _insns(path):
    """address -> (mnemonic, operands, branch target name or None)."""
    out = {}
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True,
                          text=True, check=True).stdout
    for m in re.finditer(r"^\s*([0-9a-f]+):\t(\S+)(?:\s+([^#<\n]*?))?\s*(?:<([^>+]+)[^>]*>)?"
                         r"\s*(?:#.*)?$", text, re.M):
        out[int(m.group(1), 16)] = (m.group(2), m.group(3) or "", m.group(4))
    return out


def oracle(path, name, funcs=None, insns=None, seen=None):
    """The registers function name and every function it calls or jumps to
    write, by objdump's operands."""
    funcs = funcs or _functions(path)
    insns = insns or _insns(path)
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    start, size = funcs[name]
    regs = set()
    for addr in sorted(a for a in insns if start <= a < start + size):
        mnem, ops, target = insns[addr]
        if (mnem == "call" or mnem.startswith("j")) and target and target != name \
                and target in funcs and not ops.startswith("*"):
            regs |= oracle(path, target, funcs, insns, seen)
        if NO_WRITE.match(mnem) or NO_WRITE.match(f"{mnem} {ops}"):
            continue
        assert DEST.match(mnem), f"the oracle does not know '{mnem} {ops}' ({name})"
        dest = ops.split(",")[-1].strip()
        if dest.startswith("%"):
            regs.add(_reg64(dest[1:]))
    return regs


# --- the pass on a copy of the ELF ----------------------------------------------
def backend_records(path):
    with open(path, "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".pvpatch.backends")
        syms = {s["st_value"]: s.name for s in elf.get_section_by_name(".symtab").iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC"}
        data = sec.data()
        out = {}
        for i in range(0, len(data), REC):
            fn = int.from_bytes(data[i:i + 8], "little")
            out[syms[fn]] = {"offset": sec["sh_offset"] + i, "bytes": data[i:i + REC],
                             "flags": data[i + 10],
                             "writes": int.from_bytes(data[i + 14:i + 16], "little")}
        return out


def names(mask):
    return {gen().REGS[i][0] for i in range(16) if mask >> i & 1}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """A copy of backends.elf after `pvsites liveness --json`, and its output."""
    if not os.path.exists(ELF):
        pytest.fail(f"{ELF} missing: run `make all`")
    dst = str(tmp_path_factory.mktemp("backends") / "backends.elf")
    shutil.copy(ELF, dst)
    p = run("liveness", "--json", dst)
    assert p.returncode == 0, p.stderr
    return dst, json.loads(p.stdout), p.stderr


@pytest.mark.parametrize("name", ["bw_const", "bw_store", "bw_trans", "bw_even", "bw_split"])
def test_writes_what_objdump_shows(analysed, name):
    path, _, _ = analysed
    rec = backend_records(path)[name]
    want = oracle(path, name) & set(CALLER_SAVED)
    assert rec["flags"] & ANALYSED
    assert names(rec["writes"]) == want


def test_known_write_sets(analysed):
    """What the oracle must have found, too (the source says so)."""
    recs = backend_records(analysed[0])
    assert names(recs["bw_const"]["writes"]) == {"rax"}
    assert {"r10", "rax"} <= names(recs["bw_trans"]["writes"])       # through bw_r10
    assert {"r8", "r9"} <= names(recs["bw_even"]["writes"])          # bw_odd, recursion
    assert {"rdi", "rsi", "r11"} <= names(recs["bw_split"]["writes"])  # bw_split.cold
    assert recs["bw_cmpxchg"]["flags"] & ANALYSED                   # int3 after ret: skipped
    assert names(recs["bw_cmpxchg"]["writes"]) == {"rax"}            # capstone: none
    assert names(recs["bw_shld"]["writes"]) == {"r11"}               # capstone: none; cmp: none


def test_redirected_call_writes_everything(analysed):
    """__fentry__ here is a bare ret, but the kernel redirects its calls."""
    path, out, _ = analysed
    rec = backend_records(path)["bw_traced"]
    assert oracle(path, "bw_traced") & set(CALLER_SAVED) == {"rax"}
    assert rec["flags"] & ANALYSED and names(rec["writes"]) == set(CALLER_SAVED)
    b = [b for b in out["per_backend"] if b["where"] == "bw_traced+0x0"][0]
    assert "__fentry__" in b["reason"]


NOT_ANALYSED = {
    "bw_indirect": "indirect call",
    "bw_site": "a pvpatch site save_fl at bw_site+0x0",
    "bw_sse": "it writes %xmm0 at bw_sse+0x",
    "bw_calls_sse": "it writes %xmm0 at bw_sse_helper+0x",
    "bw_ud2": "'ud2' (effects not modelled) at bw_ud2+0x0",
}


def test_not_analysed_with_a_warning(analysed):
    path, out, stderr = analysed
    recs = backend_records(path)
    lines = stderr.strip().splitlines()
    for name, why in NOT_ANALYSED.items():
        assert not recs[name]["flags"] & ANALYSED and recs[name]["writes"] == 0, name
        assert any(line.startswith(f"{path}: warning: pvsites: {name}+0x0: CALL backend of ")
                   and "not analysed: " + why in line for line in lines), (name, stderr)
    assert len(lines) == len(NOT_ANALYSED), stderr       # nothing else
    assert out["backends_plain"] == 13 and out["backends_analysed"] == 8


def test_preserving_record_untouched(analysed):
    before = backend_records(ELF)["bw_preserving"]
    after = backend_records(analysed[0])["bw_preserving"]
    assert after["flags"] & PRESERVES and after["bytes"] == before["bytes"]


def test_in_place_and_idempotent(analysed, tmp_path):
    path, _, _ = analysed
    with open(ELF, "rb") as a, open(path, "rb") as b:
        orig, new = a.read(), b.read()
    assert len(orig) == len(new)
    recs = backend_records(path)
    with open(path, "rb") as f:
        sites = ELFFile(f).get_section_by_name(".pvpatch.sites")["sh_offset"]
    allowed = {r["offset"] + k for r in recs.values() for k in (10, 14, 15)} | \
        set(range(sites, sites + 16))
    assert {i for i in range(len(orig)) if orig[i] != new[i]} <= allowed
    assert any(orig[r["offset"] + 10] != new[r["offset"] + 10] for r in recs.values())
    # Again, on the analysed file and on one whose records say nonsense: the
    # same bytes, since nothing depends on a record's previous contents.
    again, garbled = tmp_path / "again.elf", tmp_path / "garbled.elf"
    shutil.copy(path, again)
    shutil.copy(path, garbled)
    with open(garbled, "r+b") as f:
        for name, r in recs.items():
            if name != "bw_preserving":
                f.seek(r["offset"] + 10)
                f.write(bytes([ANALYSED if r["flags"] & ANALYSED == 0 else 0]))
                f.seek(r["offset"] + 14)
                f.write(b"\x55\x55")
    for copy in (again, garbled):
        p = run("liveness", "--quiet", str(copy))
        assert p.returncode == 0, p.stderr
        with open(copy, "rb") as f:
            assert f.read() == new, copy


def test_verify(analysed, tmp_path):
    path, _, _ = analysed
    p = run("verify", path)
    assert p.returncode == 0, p.stderr
    recs = backend_records(path)
    bad = tmp_path / "bad.elf"
    shutil.copy(path, bad)
    with open(bad, "r+b") as f:
        trans = recs["bw_trans"]                 # r10 cleared
        f.seek(trans["offset"] + 14)
        f.write((trans["writes"] & ~(1 << 10)).to_bytes(2, "little"))
        f.seek(recs["bw_indirect"]["offset"] + 10)   # claims what nobody knows
        f.write(bytes([ANALYSED]))
    p = run("verify", str(bad))
    assert p.returncode == 1
    assert "bw_trans+0x0: backend record claims writes 0x0001 (rax), the code may also " \
        "write r10" in p.stderr, p.stderr
    assert "bw_indirect+0x0: backend record claims writes 0x0000 (none) but its code " \
        "cannot be analysed: indirect call" in p.stderr, p.stderr


def test_stats_and_list(analysed):
    path, _, _ = analysed
    st = json.loads(run("stats", "--json", path).stdout)["liveness"]
    assert st["backends_plain"] == 13 and st["backends_analysed"] == 8
    assert st["sites_widened"] == 1                        # keys kept
    lst = json.loads(run("list", "--json", path).stdout)
    be = {b["where"]: b for b in lst["backends"]}
    assert be["bw_trans+0x0"]["analysed"] and set(be["bw_trans+0x0"]["writes"]) == {"rax", "r10"}
    assert be["bw_preserving+0x0"]["preserves"] and be["bw_preserving+0x0"]["writes"] is None
    assert be["bw_sse+0x0"]["analysed"] is False and be["bw_sse+0x0"]["op"] == "read_tsc"
    assert len(lst["sites"]) == 1


def test_object_file():
    """In an object a call to another file's function is not seen: every
    caller-saved register (bw_calls_sse), not the SSE refusal of the link."""
    p = run("liveness", "--dry-run", "--json", OBJ)
    assert p.returncode == 0, p.stderr
    be = {b["where"]: b for b in json.loads(p.stdout)["per_backend"]}
    assert set(be["bw_trans+0x0"]["writes"]) == {"rax", "r10"}
    assert be["bw_calls_sse+0x0"]["writes"] == CALLER_SAVED
    assert be["bw_indirect+0x0"]["analysed"] is False


def test_exception_table_not_analysed(tmp_path):
    """A fixup handler may write a register (Linux's EX_TYPE_EFAULT_REG):
    with __ex_table in the file no backend is analysed."""
    ex = tmp_path / "extable.elf"
    subprocess.run(["objcopy", "--add-section", "__ex_table=/dev/null", ELF, str(ex)],
                   check=True)
    p = run("liveness", "--json", str(ex))
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["backends_plain"] == 13 and out["backends_analysed"] == 0
    assert p.stderr.count("CALL backend of ") == 1, p.stderr       # once for the file
    assert "not analysed: the file has an exception table (__ex_table)" in p.stderr
    assert not any(r["flags"] & ANALYSED for r in backend_records(str(ex)).values())


def test_closure_bound(monkeypatch):
    """A backend that may run more functions than the bound is not analysed
    (bw_trans runs two); within it the answer stands (bw_const, one)."""
    from pvlib import elfsites, liveness
    from pvlib.verify import verify
    monkeypatch.setattr(liveness, "MAX_CLOSURE", 1)
    g = gen()
    v = verify(elfsites.read(ELF, g), g)
    got = {b.where: b for b in liveness.Analysis(v.t, g, v.sites).backends()}
    assert got["bw_trans+0x0"].writes is None
    assert got["bw_trans+0x0"].reason == "it may run more than 1 functions"
    assert got["bw_const+0x0"].writes == 1
