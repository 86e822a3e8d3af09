# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""tools/pvrom: every shipped profile builds and dumps back to the same
entries, profile errors name file:line, malformed ROMs are refused in one
line, the C file of built-in profiles compiles and holds the same bytes, and
the generated ROM layout agrees with the C headers."""

import json
import os
import random
import struct
import subprocess
import sys
import zlib

import pytest
from conftest import BUILD, PYTHON, ROOT

PVROM = os.path.join(ROOT, "tools", "pvrom")
FEATURES = os.path.join(ROOT, "hypervisor-features")
BAD_PROFILES = os.path.join(ROOT, "tests", "tools", "profiles")
MAKE_BAD_ROMS = os.path.join(ROOT, "tests", "tools", "make_bad_roms.py")
PROFILES = sorted(f[:-len(".profile")] for f in os.listdir(FEATURES) if f.endswith(".profile"))
BUILTIN = ["bare-metal", "tcg", "kvm-vt", "kvm-pv", "vmware-backdoor", "paravirt"]
GEN_INCLUDE = os.path.join(os.environ.get("PVPATCH_GEN") or os.path.join(BUILD, "gen"),
                           "include")


def run(*args, cwd=None):
    p = subprocess.run([PYTHON, PVROM, *args], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def gen():
    from pvlib import gen as genmod
    return genmod.load()


def profile_path(name):
    return os.path.join(FEATURES, f"{name}.profile")


def parse_profile(name):
    from pvlib import profile
    return profile.load(gen(), profile_path(name))


def build(tmp_path, name):
    out = tmp_path / f"{name}.rom"
    p = run("build", profile_path(name), "-o", str(out))
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p.stderr
    return out


def dump_json(path):
    p = run("dump", "--json", str(path))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return json.loads(p.stdout)


def entries_by_op(rom_json):
    out = {}
    for e in rom_json["entries"]:
        out.setdefault(e["op_name"], []).append(e)
    return out


# --- shipped profiles ------------------------------------------------------------

def test_profiles_present():
    assert set(BUILTIN) | {"vmware-backdoor-v2"} == set(PROFILES)


@pytest.mark.parametrize("name", PROFILES)
def test_build_dump_round_trip(name, tmp_path):
    g = gen()
    prof = parse_profile(name)
    rom = build(tmp_path, name)
    blob = rom.read_bytes()
    d = dump_json(rom)
    h = d["header"]
    assert blob[:4] == b"PROM"
    assert (h["magic"], h["version"], h["header_len"]) == (0x4D4F5250, 2, 64)
    assert h["total_len"] == len(blob) == d["size"]
    assert h["hypervisor"] == prof.hypervisor
    assert h["n_entries"] == len(prof.entries) == len(d["entries"])
    assert d["findings"] == []
    # The dump's entries are the profile's.
    for want, got in zip(prof.entries, d["entries"]):
        assert got["op"] == want.op
        assert got["mode"] == g.MODES[want.mode]
        assert got["cond"] == g.ROM_CONDS[want.cond]
        assert got["cond_arg"] == want.cond_arg
        assert got["params"] == list(want.params)
        assert got["hv_clobbers"] == [g.REGS[r][0] for r in range(16)
                                      if want.hv_clobbers >> r & 1]
        assert [(i["op"], i["width"], i["imm"]) for i in got["insns"]] == \
            [(i.op, i.width, i.imm) for i in want.insns]
        assert got["problems"] == []
    # In-process: the parsed ROM is the profile, field for field.
    from pvlib import rom as rommod
    parsed = rommod.parse(g, blob)
    assert [e.key() for e in parsed.entries] == [e.key() for e in prof.entries]
    assert [(o.func, o.offset, o.mode) for o in parsed.overrides] == \
        [(o.func, o.offset, o.mode) for o in prof.overrides]
    # The text dump is a profile that builds into the same bytes.
    p = run("dump", str(rom))
    assert p.returncode == 0 and p.stderr == ""
    text = tmp_path / "dumped.profile"
    text.write_text(p.stdout)
    again = tmp_path / "again.rom"
    assert run("build", str(text), "-o", str(again)).returncode == 0
    assert again.read_bytes() == blob


def test_checksum_is_zlib_crc32(tmp_path):
    blob = build(tmp_path, "kvm-vt").read_bytes()
    (crc,) = struct.unpack_from("<I", blob, 12)
    assert crc == zlib.crc32(blob[:12] + b"\0\0\0\0" + blob[16:])
    # format 2: a 32-byte name, the counts and offsets after it
    assert blob[16:48] == b"kvm-vt".ljust(32, b"\0")
    assert struct.unpack_from("<HHII", blob, 48) == (
        len(parse_profile("kvm-vt").entries), 0, 64, len(blob))


def test_kvm_vt_golden(tmp_path):
    d = dump_json(build(tmp_path, "kvm-vt"))
    by = entries_by_op(d)
    # Only what KVM's feature bits improve on; everything else has no entry.
    assert set(by) == {"io_delay", "send_ipi", "sched_yield", "kick_cpu", "apic_eoi"}
    want = {"io_delay": ("NOP", 1), "send_ipi": ("INLINE", 11),
            "sched_yield": ("INLINE", 13), "kick_cpu": ("INLINE", 7),
            "apic_eoi": ("CALL", 6)}
    for op, (mode, bit) in want.items():
        (e,) = by[op]
        assert (e["mode"], e["cond"], e["cond_arg"]) == (mode, "KVM_BIT", bit), op
    sy = by["sched_yield"][0]
    assert sy["condition"] == "kvm:PV_SCHED_YIELD"
    assert sy["hv_clobbers"] == ["rax"]
    assert [i["text"] for i in sy["insns"]] == [
        "push rax", "push rbx", "mov.32 rbx, arg0", "movi.32 rax, 11", "vmcall",
        "pop rbx", "pop rax"]
    g = gen()
    # Byte for byte what the guest's C template said (op, dst, src, width, imm).
    N = g.PVT_NONE
    assert [(i["op"], i["width"], i["imm"]) for i in sy["insns"]] == [
        (g.PVT_PUSH, 8, 0), (g.PVT_PUSH, 8, 0), (g.PVT_MOV, 4, 0),
        (g.PVT_MOVI, 4, 11), (g.PVT_VMCALL, 4, 0), (g.PVT_POP, 8, 0), (g.PVT_POP, 8, 0)]
    from pvlib import rom as rommod
    parsed = rommod.parse(g, (tmp_path / "kvm-vt.rom").read_bytes())
    kick = next(e for e in parsed.entries if g.OPS[e.op]["name"] == "kick_cpu")
    assert kick.insns[3] == rommod.Insn(g.PVT_MOV, 1, g.PVT_ARG0 + 1, 4)  # rcx, arg1
    assert kick.insns[4] == rommod.Insn(g.PVT_SHRI, 1, N, 4, 24)
    ipi = next(e for e in parsed.entries if g.OPS[e.op]["name"] == "send_ipi")
    assert len(ipi.insns) == 17 and ipi.insns[10] == rommod.Insn(g.PVT_MOVI, 0, N, 4, 10)


def test_vmware_profiles_golden(tmp_path):
    v1 = entries_by_op(dump_json(build(tmp_path, "vmware-backdoor")))
    v2 = entries_by_op(dump_json(build(tmp_path, "vmware-backdoor-v2")))
    assert set(v1) == {"calibrate_tsc"}, "v1 must not use GETRAMSIZE"
    (hz,) = v1["calibrate_tsc"]
    assert (hz["mode"], hz["cond"], hz["params"][0]) == ("INLINE", "VMPORT_GETHZ", 45)
    assert [i["text"] for i in hz["insns"]] == [
        "push rbx", "movi.32 rax, 0x564d5868", "movi.32 rcx, param0",
        "movi.32 rdx, 0x5658", "in", "shli.64 rbx, 32", "or.64 ret, rbx", "pop rbx"]
    assert hz["hv_clobbers"] == ["rax", "rcx", "rdx", "rbx", "rsi", "rdi"]
    assert set(v2) == {"calibrate_tsc", "mem_size"}
    assert v2["calibrate_tsc"][0]["insns"] == hz["insns"]
    (ram,) = v2["mem_size"]
    assert (ram["mode"], ram["cond"], ram["params"][0]) == ("INLINE", "VMPORT", 20)
    assert [i["text"] for i in ram["insns"]][-2:] == ["mov.32 ret, rax", "pop rbx"]


@pytest.mark.parametrize("name,mode", [("bare-metal", "NATIVE"), ("tcg", "NATIVE"),
                                       ("paravirt", "CALL")])
def test_uniform_profiles(name, mode, tmp_path):
    d = dump_json(build(tmp_path, name))
    assert sorted(e["op"] for e in d["entries"]) == sorted(gen().OPS)
    assert {(e["mode"], e["cond"]) for e in d["entries"]} == {(mode, "ALWAYS")}
    assert f"op * {mode}\n" in run("dump", str(tmp_path / f"{name}.rom")).stdout


def test_kvm_pv_golden(tmp_path):
    g = gen()
    d = dump_json(build(tmp_path, "kvm-pv"))
    by = entries_by_op(d)
    # Every op has an entry, but the port I/O ops and swapgs: a backend cannot
    # do them better than the exit (they stay NATIVE without one).
    unlisted = {"inb", "inw", "inl", "outb", "outw", "outl", "insb", "insw", "insl",
                "outsb", "outsw", "outsl", "swapgs"}
    assert set(by) == {op["name"] for op in g.OPS.values()} - unlisted
    unconditional = {op: [e["mode"] for e in es if e["cond"] == "ALWAYS"]
                     for op, es in by.items()}
    assert unconditional["read_tsc"] == ["NATIVE"]
    for op in ("irq_disable", "save_fl", "read_cr3", "write_cr3", "flush_tlb_one",
               "flush_tlb_local", "set_pte", "wrmsr", "io_delay", "send_ipi"):
        assert unconditional[op] == ["CALL"], op
    # kvm-vt's feature-bit entries come last, so they win when the bit is set.
    vt = [(e["op"], e["mode"], e["cond_arg"]) for e in
          dump_json(build(tmp_path, "kvm-vt"))["entries"] if e["op_name"] != "apic_eoi"]
    assert [(e["op"], e["mode"], e["cond_arg"]) for e in d["entries"][-len(vt):]] == vt


# --- profile errors ---------------------------------------------------------------

BAD = sorted(f[:-len(".profile")] for f in os.listdir(BAD_PROFILES) if f.endswith(".profile"))


@pytest.mark.parametrize("name", BAD)
def test_profile_errors(name, tmp_path):
    with open(os.path.join(BAD_PROFILES, f"{name}.err")) as f:
        want = f.read()
    p = run("build", f"{name}.profile", "-o", str(tmp_path / "x.rom"), cwd=BAD_PROFILES)
    assert p.returncode == 2
    assert p.stderr == want
    assert p.stderr.startswith(f"{name}.profile:") and p.stderr.count("\n") == 1
    assert not (tmp_path / "x.rom").exists()


def test_profile_error_not_utf8(tmp_path):
    f = tmp_path / "bin.profile"
    f.write_bytes(b"hypervisor t\nop io_delay NOP # \xff\n")
    p = run("build", str(f), "-o", str(tmp_path / "x.rom"))
    assert p.returncode == 2 and p.stderr == f"{f}:2: not UTF-8 text\n"


def test_overrides_and_later_entries(tmp_path):
    f = tmp_path / "o.profile"
    f.write_text("hypervisor t\n"
                 "op io_delay CALL\n"
                 "op io_delay NOP if kvm:1\n"
                 "op calibrate_tsc CALL if vmport:gethz\n"
                 "op calibrate_tsc NATIVE if vmport\n"  # overrides line 4: error
                 "site do_io+0x1a NOP\n")
    p = run("build", str(f), "-o", str(tmp_path / "x.rom"))
    assert p.returncode == 2 and p.stderr.startswith(f"{f}:5: op calibrate_tsc:")
    f.write_text("hypervisor t\nop io_delay CALL\nop io_delay NOP if kvm:1\n"
                 "site do_io+0x1a NOP\nsite main+12 CALL\n")
    rom = tmp_path / "x.rom"
    assert run("build", str(f), "-o", str(rom)).returncode == 0
    d = dump_json(rom)
    assert d["overrides"] == [
        {"func": "do_io", "offset": 0x1a, "mode": "NOP", "reserved": [0, 0, 0]},
        {"func": "main", "offset": 12, "mode": "CALL", "reserved": [0, 0, 0]}]
    assert d["entries"][1]["condition"] == "kvm:NOP_IO_DELAY"
    assert "site do_io+0x1a NOP\nsite main+0xc CALL\n" in run("dump", str(rom)).stdout


def test_override_limit(tmp_path):
    """One limit (ROM_MAX_OVERRIDES, gen/pvops/layout.py): a profile at the
    limit builds and the guest's parser takes it; one site line more is a
    profile error at that line; a ROM past it (built around the profile
    parser) is refused by the guest's code, which dump reports."""
    from pvlib import rom as rommod
    g = gen()
    limit = g.ROM_MAX_OVERRIDES
    f = tmp_path / "s.profile"
    sites = [f"site f{k}+0x{k:x} NOP\n" for k in range(limit + 1)]
    f.write_text("hypervisor t\n" + "".join(sites[:limit]))
    rom = tmp_path / "s.rom"
    assert run("build", str(f), "-o", str(rom)).returncode == 0
    assert dump_json(rom)["verdict"]["overrides"] == limit
    f.write_text("hypervisor t\n" + "".join(sites))
    p = run("build", str(f), "-o", str(tmp_path / "x.rom"))
    assert p.returncode == 2 and p.stderr.startswith(f"{f}:{limit + 2}: site override {limit + 1}")
    over = tmp_path / "over.rom"
    over.write_bytes(rommod.build(g, "t", [], [rommod.Override(f"f{k}", k, 0)
                                               for k in range(limit + 1)]))
    p = run("dump", str(over))
    assert p.returncode == 2 and p.stderr == (f"pvrom: {over}: refused by the guest: "
                                              "too many overrides\n")


def test_dump_needs_the_sim(tmp_path):
    rom = build(tmp_path, "tcg")
    env = dict(os.environ, PVPATCH_SIM=str(tmp_path / "no-sim"))
    p = subprocess.run([PYTHON, PVROM, "dump", str(rom)], capture_output=True, text=True,
                       env=env)
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1
    assert "no-sim not found: run make" in p.stderr


# --- malformed ROMs ---------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_roms(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad-roms")
    p = subprocess.run([PYTHON, MAKE_BAD_ROMS, str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(out / "manifest.json") as f:
        manifest = json.load(f)
    assert len(p.stdout.splitlines()) == len(manifest)
    return out, manifest


REQUIRED_CASES = {
    "truncated", "truncated-header", "bad-magic", "bad-checksum", "unknown-version",
    "total-len-past-end", "entries-off-past-end", "entry-len-past-end",
    "entry-len-too-small", "n-entries-absurd", "n-insns-too-large",
    "template-clobbers-live", "template-too-long", "template-bad-opcode",
    "inline-without-template", "override-unknown-function",
}


def test_bad_rom_corpus(bad_roms):
    out, manifest = bad_roms
    names = {m["name"] for m in manifest}
    assert REQUIRED_CASES <= names
    for m in manifest:
        assert m["kind"] in ("structural", "template", "override", "accepted")
        assert m["reason"] and m["expect"]
        assert (out / m["file"]).is_file()


def test_bad_roms_dump(bad_roms):
    out, manifest = bad_roms
    for m in manifest:
        path = str(out / m["file"])
        for extra in ((), ("--json",)):
            p = run("dump", path, *extra)
            if m["kind"] == "structural":
                assert p.returncode == 2, (m["name"], p.stdout)
                assert p.stdout == ""
                assert p.stderr.startswith(f"pvrom: {path}: ")
                assert p.stderr.count("\n") == 1, (m["name"], p.stderr)
            else:
                assert p.returncode in (0, 1), (m["name"], p.stderr)
                if extra:
                    json.loads(p.stdout)
    # Entries the guest rejects are findings (exit 1) where the ROM alone shows it.
    for name in ("template-bad-opcode", "template-bad-operand", "template-unbalanced",
                 "inline-without-template"):
        p = run("dump", str(out / f"{name}.rom"))
        assert p.returncode == 1 and ": warning: pvrom: entry " in p.stderr, name
    for name in ("unknown-op", "longer-entry", "override-unknown-function"):
        assert run("dump", str(out / f"{name}.rom")).returncode == 0, name
    d = json.loads(run("dump", "--json", str(out / "unknown-op.rom")).stdout)
    assert d["entries"][-1]["op"] == 999 and d["entries"][-1]["op_name"] is None
    d = json.loads(run("dump", "--json", str(out / "longer-entry.rom")).stdout)
    assert d["entries"][-1]["extra_bytes"] == 8


def test_bad_roms_messages(bad_roms):
    out, _ = bad_roms
    want = {
        "truncated-header": "truncated",
        "bad-magic": "bad magic",
        "bad-checksum": "checksum mismatch",
        "unknown-version": "unknown ROM version 3",
        "total-len-past-end": "total_len",
        "entries-off-past-end": "entries_off",
        "entry-len-past-end": "entry_len 65520 runs past the end",
        "entry-len-too-small": "entry_len 40 is smaller than 48",
        "entry-len-zero": "entry_len 0 is smaller than 48",
        "n-entries-absurd": "65535 entries",
        "n-insns-too-large": "200 instructions need",
    }
    for name, text in want.items():
        p = run("dump", str(out / f"{name}.rom"))
        assert text in p.stderr, (name, p.stderr)


def test_random_corruption_never_crashes(tmp_path):
    """Flipped bytes, with and without a recomputed checksum: parse() either
    decodes the ROM or raises RomError, rendering never fails, and dump
    shows every ROM the guest accepts."""
    from pvlib import profile, rom as rommod
    g = gen()
    blobs = [build(tmp_path, n).read_bytes() for n in ("kvm-vt", "vmware-backdoor-v2")]
    rnd = random.Random(5)
    outcomes = set()
    dumped = []
    for _ in range(3000):
        b = bytearray(rnd.choice(blobs))
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            b = b[:rnd.randrange(len(b))]
        blob = bytes(b)
        if rnd.random() < 0.8:
            blob = rommod.fix_checksum(g, blob) if len(blob) >= 48 else blob
        try:
            r = rommod.parse(g, blob)
        except rommod.RomError as e:
            assert "\n" not in str(e)
            outcomes.add("refused")
            continue
        profile.render(g, r)
        for e in r.entries:
            for i in e.insns:
                profile.insn_problems(g, i)
        outcomes.add("parsed")
        if len(dumped) < 40:
            dumped.append(blob)
    assert outcomes == {"refused", "parsed"}
    # The guest's verdict (pvrom-sim) and the display parser agree: whatever
    # the guest accepts, dump can show.
    for k, blob in enumerate(dumped):
        f = tmp_path / f"c{k}.rom"
        f.write_bytes(blob)
        p = run("dump", str(f))
        assert p.returncode in (0, 1, 2) and "cannot be shown" not in p.stderr, p.stderr


# --- the C file of built-in profiles ---------------------------------------------

def test_cfile(tmp_path):
    out = tmp_path / "gen" / "src" / "pvprofiles.c"
    hdr = tmp_path / "gen" / "include" / "asm" / "pvprofiles.h"
    p = run("cfile", *[profile_path(n) for n in BUILTIN], "-o", str(out), "--header", str(hdr))
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert text.startswith("/* SPDX-License-Identifier: GPL-2.0-only OR MIT */\n"
                           "/* AUTOMATICALLY GENERATED by tools/pvrom") and "DO NOT EDIT" in text
    assert "DO NOT EDIT" in hdr.read_text()
    main = tmp_path / "main.c"
    main.write_text(
        "#include <stdio.h>\n#include <asm/pvprofiles.h>\n"
        "int main(void) {\n"
        "\tfor (unsigned int i = 0; i < pvpatch_nr_builtin_profiles; i++) {\n"
        "\t\tconst struct pvpatch_builtin_profile *p = &pvpatch_builtin_profiles[i];\n"
        "\t\tprintf(\"%s %u \", p->name, p->len);\n"
        "\t\tfor (unsigned int k = 0; k < p->len; k++) printf(\"%02x\", p->rom[k]);\n"
        "\t\tprintf(\" %d\\n\", (int)((unsigned long)p->rom % 8));\n"
        "\t}\n\treturn 0;\n}\n")
    exe = tmp_path / "main"
    # The table's type is the public one (asm/pvpatch-boot.h).
    r = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "-I", str(tmp_path / "gen" / "include"), "-I", os.path.join(ROOT, "include"),
                        "-I", os.path.join(ROOT, "build", "gen", "include"), str(main), str(out),
                        "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = subprocess.run([str(exe)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == BUILTIN
    for name, ln in zip(BUILTIN, lines):
        _, n, hexbytes, align = ln.split()
        blob = build(tmp_path, name).read_bytes()
        assert int(n) == len(blob) and bytes.fromhex(hexbytes) == blob, name
        assert align == "0"


def test_cfile_default_header_and_duplicates(tmp_path):
    out = tmp_path / "p.c"
    assert run("cfile", profile_path("tcg"), "-o", str(out)).returncode == 0
    assert (tmp_path / "p.h").is_file() and '#include "p.h"' in out.read_text()
    p = run("cfile", profile_path("tcg"), profile_path("tcg"), "-o", str(out))
    assert p.returncode == 2 and "hypervisor tcg is also the name of" in p.stderr


# --- usage --------------------------------------------------------------------

def test_usage_errors(tmp_path):
    assert run().returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("build", profile_path("tcg")).returncode == 2  # no -o
    p = run("dump", str(tmp_path / "missing.rom"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "cannot read" in p.stderr
    p = run("build", str(tmp_path / "missing.profile"), "-o", str(tmp_path / "x"))
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    env = dict(os.environ, PVPATCH_GEN=str(tmp_path / "nowhere"))
    p = subprocess.run([PYTHON, PVROM, "dump", "x"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert "no python/pvpatch_gen.py there" in p.stderr
    # Without --gen or PVPATCH_GEN a command that reads no ELF stops and says so.
    env = {k: v for k, v in os.environ.items() if k != "PVPATCH_GEN"}
    p = subprocess.run([PYTHON, PVROM, "dump", "x"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "pass --gen" in p.stderr


# --- one layout -------------------------------------------------------------------

def test_layout_matches_c_headers(tmp_path):
    """The generated Python constants, the generated C structs and the
    hand-written template header describe the same bytes."""
    g = gen()
    for name in ("HEADER", "ENTRY", "INSN", "OVERRIDE", "HEADER_V2", "ENTRY_V2"):
        assert struct.calcsize(getattr(g, f"ROM_{name}_FORMAT")) == getattr(g, f"ROM_{name}_SIZE")
    checks = [
        f"_Static_assert(PVPATCH_ROM_MAGIC == {g.ROM_MAGIC}u, \"magic\");",
        f"_Static_assert(PVPATCH_ROM_VERSION == {g.ROM_VERSION}, \"version\");",
        f"_Static_assert(PVPATCH_ROM_COND_VMPORT_GETHZ == {g.ROM_COND_VMPORT_GETHZ}, \"cond\");",
        "_Static_assert(sizeof(struct pvt_insn) == sizeof(struct pvpatch_rom_insn), \"insn\");",
        f"_Static_assert(PVT_ARG(1) == {g.PVT_ARG0 + 1}, \"arg\");",
        f"_Static_assert(PVT_RET == {g.PVT_RET}, \"ret\");",
        f"_Static_assert(PVT_SCRATCH(1) == {g.PVT_SCRATCH0 + 1}, \"scratch\");",
        f"_Static_assert(PVT_IMM(3) == {g.PVT_IMM0 + 3}, \"imm\");",
        f"_Static_assert(PVT_NONE == {g.PVT_NONE}, \"none\");",
        f"_Static_assert(PVT_MAX_SCRATCH == {g.PVT_MAX_SCRATCH}, \"scratch\");",
        f"_Static_assert(PVT_MAX_PARAMS == {g.PVT_MAX_PARAMS}, \"params\");",
        f"_Static_assert(PVT_MAX_INSNS == {g.PVT_MAX_INSNS}, \"insns\");",
        f"_Static_assert(PVT_NR_OPCODES == {len(g.PVT_OPCODES)}, \"opcodes\");",
        "_Static_assert(sizeof(((struct pvpatch_rom_header_v2 *)0)->hypervisor) == "
        "PVPATCH_ROM_HYPERVISOR_LEN, \"name\");",
        "_Static_assert(sizeof(((struct pvpatch_rom_header *)0)->hypervisor) == "
        "PVPATCH_ROM_V1_HYPERVISOR_LEN, \"v1 name\");",
    ]
    checks += [f"_Static_assert(PVT_{n} == {i}, \"{n}\");" for i, n in enumerate(g.PVT_OPCODES)]
    for f in ("op", "dst", "src", "width", "imm"):
        checks.append(f"_Static_assert(offsetof(struct pvt_insn, {f}) == "
                      f"{g.ROM_INSN_OFFSETS[f]}, \"{f}\");")
    for name in ("header", "entry", "insn", "override"):
        for f, off in getattr(g, f"ROM_{name.upper()}_OFFSETS").items():
            checks.append(f"_Static_assert(PVPATCH_ROM_{name.upper()}_OFF_{f.upper()} == "
                          f"{off}, \"{name}.{f}\");")
    src = tmp_path / "layout.c"
    src.write_text("#include <asm/pvpatch-abi.h>\n#include <asm/pvpatch-template.h>\n"
                   + "\n".join(checks) + "\n")
    r = subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-pedantic",
                        "-I", os.path.join(ROOT, "include"), "-I", GEN_INCLUDE,
                        "-c", str(src), "-o", str(tmp_path / "layout.o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
