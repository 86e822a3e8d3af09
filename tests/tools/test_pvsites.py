# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""tools/pvsites on the site test objects: clean verification, statistics,
and the findings it must report on records and ELF files broken on purpose."""

import json
import os
import random
import shutil
import struct
import tempfile

import pytest
from conftest import BUILD, pvsites as run, load_gen as gen
from elftools.elf.elffile import ELFFile

SITES = os.path.join(BUILD, "tests", "sites")
OBJS = ["callsites-O0.o", "callsites-O2.o", "callsites-Os.o", "callsites-asm.o",
        "callsites.elf"]


def section(path, name):
    with open(path, "rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        return sec["sh_offset"], sec["sh_size"]


def site_list(path):
    return json.loads(run("list", "--json", path).stdout)["sites"]


def patched_copy(tmp_path, src, offset, data):
    dst = tmp_path / os.path.basename(src)
    shutil.copy(src, dst)
    with open(dst, "r+b") as f:
        f.seek(offset)
        f.write(data)
    return str(dst)


def record_offset(path, index, field):
    off, _ = section(path, ".pvpatch.sites")
    g = gen()
    return off + index * g.RECORD_SIZE + g.RECORD_OFFSETS[field]


@pytest.mark.parametrize("obj", OBJS)
def test_verify_clean(obj):
    p = run("verify", os.path.join(SITES, obj))
    assert p.returncode == 0, p.stderr
    assert "all verified" in p.stdout


def test_stats_cover_every_op():
    st = json.loads(run("stats", "--json", os.path.join(SITES, "callsites-O2.o")).stdout)
    assert st["ops"] >= 29
    assert st["ops"] == len(gen().OPS), "the test object must call every op"
    assert st["bytes_per_site"] <= 16
    assert st["record_bytes"] == st["sites"] * 16
    assert sum(st["per_op"].values()) == st["sites"]
    assert st["findings"] == 0


def test_registers_vary_across_sites():
    """Arguments are "r" constraints: the compiler really picks different
    registers at different sites, and the records say which."""
    seen = {}
    for obj in OBJS[:3]:
        for s in site_list(os.path.join(SITES, obj)):
            for slot, reg in s["regs"].items():
                seen.setdefault((s["op"], slot), set()).add(reg)
    for abi, op in gen().OPS.items():
        unpinned = [(f"arg{i}", o) for i, o in enumerate(op["ins"]) if not o["pin"]]
        if op["outs"] and not op["outs"][0]["pin"]:
            unpinned.append(("ret", op["outs"][0]))
        for slot, o in unpinned:
            regs = seen[(op["name"], slot)]
            assert len(regs) >= 3, f"{op['name']} {slot} only ever in {regs}"


def test_framework_free_build_has_no_sites():
    p = run("stats", "--json", os.path.join(SITES, "callsites-native-O2.o"))
    assert p.returncode == 0
    assert json.loads(p.stdout)["sites"] == 0


def find_site(path, op, slot):
    for s in site_list(path):
        if s["op"] == op and slot in s["regs"]:
            return s
    raise AssertionError(f"no {op} site")


def test_wrong_register_is_reported(tmp_path):
    src = os.path.join(SITES, "callsites-O2.o")
    s = find_site(src, "write_cr3", "arg0")
    g = gen()
    real = s["regs"]["arg0"]
    wrong = "rbx" if real != "rbx" else "rsi"
    regs = g.REGS.index(next(r for r in g.REGS if r[0] == wrong)) << g.REG_BITS
    bad = patched_copy(tmp_path, src, record_offset(src, s["index"], "regs"),
                       struct.pack("<I", regs))
    p = run("verify", bad)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        f"{bad}: warning: pvsites: {s['where']}: native code is "
        f"'movq %{real}, %cr3', the record says 'mov %{wrong}, %cr3'")


def test_pinned_register_is_reported(tmp_path):
    src = os.path.join(SITES, "callsites-O2.o")
    s = find_site(src, "rdmsr", "arg0")
    bad = patched_copy(tmp_path, src, record_offset(src, s["index"], "regs"),
                       struct.pack("<I", 0x30))  # ret=rax, arg0=rbx
    p = run("verify", bad)
    assert p.returncode == 1
    assert (f"{s['where']}: arg0 (msr) recorded as ebx, op rdmsr pins ecx"
            in p.stderr)


@pytest.mark.parametrize("field,fmt,value,message", [
    ("version", "<B", 7, "record version 7, expected 1"),
    ("op", "<H", 999, "unknown op 999"),
    ("site_len", "<B", 6, "site length 6, op write_cr3 has 10"),
    ("native_len", "<B", 1, "native code does not decode as 1 bytes"),
    ("flags", "<B", 0, "flags 0x0 do not match op write_cr3 (1 arguments, no return value)"),
    ("clobbers", "<H", 0x8, "clobber mask 0x0008, expected 0x0000 (none)"),
])
def test_bad_record_fields(tmp_path, field, fmt, value, message):
    src = os.path.join(SITES, "callsites-O2.o")
    s = find_site(src, "write_cr3", "arg0")
    bad = patched_copy(tmp_path, src, record_offset(src, s["index"], field),
                       struct.pack(fmt, value))
    p = run("verify", bad)
    assert p.returncode == 1
    assert f"{bad}: warning: pvsites: {s['where']}: {message}" in p.stderr.splitlines()


def test_bad_padding(tmp_path):
    elf = os.path.join(SITES, "callsites.elf")
    s = find_site(elf, "write_cr3", "arg0")
    with open(elf, "rb") as f:
        e = ELFFile(f)
        text = e.get_section_by_name(".text")
        file_off = text["sh_offset"] + s["address"] - text["sh_addr"] + s["native_len"]
    n = s["site_len"] - s["native_len"]
    bad = patched_copy(tmp_path, elf, file_off, b"\x90" * n)  # n NOPs, not one
    p = run("verify", bad)
    assert p.returncode == 1
    assert f"{s['where']}: padding of {n} bytes is not one NOP: {'90' * n}" in p.stderr


def test_padding_longer_than_one_nop(tmp_path):
    """A site whose padding is longer than one NOP (a record claiming more
    bytes than its op's site) is a finding: NATIVE would execute more than
    one padding instruction."""
    elf = os.path.join(SITES, "callsites.elf")
    sites = site_list(elf)
    i, s = next((i, s) for i, s in enumerate(sites) if s["op"] == "write_cr3")
    longer = s["native_len"] + 13
    bad = patched_copy(tmp_path, elf, record_offset(elf, i, "site_len"), bytes([longer]))
    p = run("verify", bad)
    assert p.returncode == 1
    assert f"{s['where']}: padding of 13 bytes is longer than one NOP (at most 11)" in p.stderr


def test_overlapping_sites(tmp_path):
    elf = os.path.join(SITES, "callsites.elf")
    sites = site_list(elf)
    a = sites[0]
    # Point record 1 one byte after site 0's start.
    rec1 = record_offset(elf, 1, "site")
    with open(elf, "rb") as f:
        sec = ELFFile(f).get_section_by_name(".pvpatch.sites")
        field_addr = sec["sh_addr"] + 16 + gen().RECORD_OFFSETS["site"]
    bad = patched_copy(tmp_path, elf, rec1, struct.pack("<i", a["address"] + 1 - field_addr))
    p = run("verify", bad)
    assert p.returncode == 1
    assert "site overlaps the site at " + a["where"] in p.stderr


def test_section_size_not_multiple(tmp_path):
    # Shrink .pvpatch.sites by 3 bytes in the section header.
    elf = os.path.join(SITES, "callsites.elf")
    with open(elf, "rb") as f:
        e = ELFFile(f)
        idx = next(i for i, s in enumerate(e.iter_sections()) if s.name == ".pvpatch.sites")
        shdr = e["e_shoff"] + idx * e["e_shentsize"]
        size = e.get_section(idx)["sh_size"]
    bad = patched_copy(tmp_path, elf, shdr + 32, struct.pack("<Q", size - 3))
    p = run("verify", bad)
    assert p.returncode == 1
    assert f"section size {size - 3} is not a multiple of the record size 16" in p.stderr


@pytest.mark.parametrize("how", ["truncated", "not-elf", "bad-shoff", "missing"])
def test_unusable_input(tmp_path, how):
    src = os.path.join(SITES, "callsites-O2.o")
    data = open(src, "rb").read()
    path = tmp_path / "bad.o"
    if how == "truncated":
        path.write_bytes(data[:len(data) // 3])
    elif how == "not-elf":
        path.write_bytes(b"#!/bin/sh\necho hello\n")
    elif how == "bad-shoff":
        e_shoff = 0x28
        path.write_bytes(data[:e_shoff] + struct.pack("<Q", 1 << 40) + data[e_shoff + 8:])
    p = run("verify", str(path))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pvsites: {path}"), p.stderr


def test_mutated_elf_never_crashes():
    """Random byte flips over a whole object: the reader and the verifier
    either report findings or refuse the file in one line, never crash."""
    from pvlib import elfsites
    from pvlib.errors import UsageError
    from pvlib.verify import verify
    g = gen()
    data = open(os.path.join(SITES, "callsites-Os.o"), "rb").read()
    rng = random.Random(1234)
    outcomes = {"refused": 0, "findings": 0, "clean": 0}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.o")
        for _ in range(300):
            buf = bytearray(data)
            for _ in range(rng.choice((1, 2, 8, 64))):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            with open(path, "wb") as f:
                f.write(buf)
            try:
                v = verify(elfsites.read(path, g), g)
            except UsageError:
                outcomes["refused"] += 1
                continue
            outcomes["findings" if v.findings else "clean"] += 1
    assert outcomes["refused"] and outcomes["findings"], outcomes
