# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""tools/pvrom image: the test guest pre-patched for the paravirt ROM with
the facts QEMU TCG shows, booted under TCG with that ROM (no site written,
every test passing), with pvpatch=off (every site back to its native bytes)
and with another profile (the same sites and bytes as a normal boot); and
the tool's refusals."""

import json
import os
import shutil
import struct
import subprocess

import pytest
from conftest import BUILD, PYTHON, ROOT
from elftools.elf.elffile import ELFFile

from pvlib import boot, gen as genmod

PVROM = os.path.join(ROOT, "tools", "pvrom")
ELF = os.path.join(BUILD, "tests", "guest", "guest.elf")
MINIMAL = os.path.join(BUILD, "examples", "minimal", "minimal.elf")
FACTS = ["--signature", "TCGTCGTCGTCG", "--vmport"]  # what TCG shows the guest
GEN = genmod.load(os.path.join(BUILD, "gen"))


def pvrom(*args):
    return subprocess.run([PYTHON, PVROM, *args], capture_output=True, text=True)


def check(rom, elf, cmdline=""):
    p = pvrom("check", rom, elf, *FACTS, "--cmdline", cmdline, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("image")
    rom = str(d / "paravirt.rom")
    p = pvrom("build", os.path.join(ROOT, "hypervisor-features", "paravirt.profile"), "-o", rom)
    assert p.returncode == 0, p.stderr
    out = str(d / "guest-paravirt.elf")
    p = pvrom("image", ELF, rom, "-o", out, *FACTS, "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    out32 = str(d / "guest-paravirt32.elf")
    subprocess.run(["objcopy", "-O", "elf32-i386", out, out32], check=True)
    return {"rom": rom, "elf": out, "elf32": out32, "info": info, "dir": d}


def run(elf32, cmdline="", rom=None):
    r = boot.boot(elf32, "tcg", cmdline, rom, timeout=120)
    assert r.ok, f"{r.status} {r.ktap} {r.notes}\n{r.output[-3000:]}"
    return r


def dumped(r):
    return {s["site"]: (s["mode"], s["bytes"]) for s in
            (json.loads(ln.split(":", 1)[1]) for ln in r.output.splitlines()
             if ln.startswith("# pvpatch-site:"))}


def sections(path):
    with open(path, "rb") as f:
        return [(s.name, s["sh_type"], s["sh_addr"], s["sh_offset"], s["sh_size"])
                for s in ELFFile(f).iter_sections()]


def test_image_file(made):
    """Same sections at the same addresses and sizes; the text differs only
    in sites and the thunk area; .pvpatch.image holds the header and each
    record's original native bytes."""
    info = made["info"]
    assert sections(made["elf"]) == sections(ELF)
    assert info["source"] == "rom:paravirt" and info["invalid"] == 0
    assert info["image"]["sites_patched"] == info["sites"] == info["modes"]["CALL"]
    with open(ELF, "rb") as f:
        orig = f.read()
    with open(made["elf"], "rb") as f:
        new = f.read()
        elf = ELFFile(f)
        img = elf.get_section_by_name(GEN.IMAGE_SECTION)
        assert img["sh_type"] == "SHT_PROGBITS"
        data = img.data()
        recs = elf.get_section_by_name(GEN.SECTION)
        n = recs["sh_size"] // GEN.RECORD_SIZE
        magic, version, stride, count, flags = struct.unpack_from(GEN.IMAGE_HEADER_FORMAT, data)
        assert (magic, version, stride, count, flags) == (
            GEN.IMAGE_MAGIC, GEN.IMAGE_VERSION, GEN.IMAGE_STRIDE, n, 0)
        native = {s["site"]: s["bytes"] for s in check("-", ELF, "pvpatch=off")["site_list"]}
        text = elf.get_section_by_name(".text")
        for i in range(n):
            rec = dict(zip(GEN.RECORD_FIELDS, struct.unpack_from(
                GEN.RECORD_FORMAT, recs.data(), i * GEN.RECORD_SIZE)))
            addr = recs["sh_addr"] + i * GEN.RECORD_SIZE + rec["site"]
            slot = data[GEN.IMAGE_HEADER_SIZE + i * stride:][:stride]
            assert slot.hex() == native[addr][:2 * rec["native_len"]].ljust(2 * stride, "0")
            off = text["sh_offset"] + addr - text["sh_addr"]
            assert orig[off:off + rec["site_len"]].hex() == native[addr]
            assert new[off:off + rec["site_len"]] != orig[off:off + rec["site_len"]]
    assert len(new) == len(orig)


def test_image_boots_with_nothing_written(made):
    """Booted with the ROM and facts it was made for: the patcher finds
    every site already as wanted and writes none, and every test passes
    as in a normal boot of the guest with that ROM."""
    r = run(made["elf32"], "guest.dump_sites", made["rom"])
    normal = run(os.path.join(BUILD, "tests", "guest", "guest32.elf"), "guest.dump_sites",
                 made["rom"])
    assert r.report["source"] == "rom:paravirt" and r.report["invalid"] == 0
    assert r.report["written"] == 0 and r.report["bytes_changed"] == 0
    assert r.report["modes"] == normal.report["modes"]
    assert r.ktap == normal.ktap and r.ktap["failed"] == 0
    assert dumped(r) == dumped(normal)
    predicted = {s["site"]: (s["mode"], s["bytes"]) for s in made["info"]["site_list"]}
    assert dumped(r) == predicted


def test_image_off_is_native(made):
    """pvpatch=off: every site the image patched is written back to the
    original native bytes kept in .pvpatch.image, and every test passes."""
    r = run(made["elf32"], "pvpatch=off guest.dump_sites", made["rom"])
    assert r.report["source"] == "off"
    assert r.report["modes"]["NATIVE"] == r.report["sites"]
    assert r.report["written"] == made["info"]["image"]["sites_patched"]
    native = {s["site"]: ("NATIVE", s["bytes"]) for s in check("-", ELF, "pvpatch=off")["site_list"]}
    assert dumped(r) == native


@pytest.mark.parametrize("profile", ["kvm-pv", "vmware-backdoor"])
def test_image_other_policy(made, profile):
    """Another policy at boot: the sites end as a normal boot of the guest
    leaves them (pvrom check of the original ELF predicts them byte for
    byte) and every test passes."""
    cmdline = f"pvpatch.profile={profile} guest.dump_sites"
    r = run(made["elf32"], cmdline)
    assert r.report["source"] == f"built-in:{profile}"
    sim = check("-", ELF, cmdline)
    assert sim["source"] == r.report["source"]
    assert dumped(r) == {s["site"]: (s["mode"], s["bytes"]) for s in sim["site_list"]}


def refused(args, out):
    p = pvrom("image", *args, "-o", out, *FACTS)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not os.path.exists(out)
    return p.stderr


def test_image_refusals(made):
    out = str(made["dir"] / "refused.elf")
    # A kernel linked without PVPATCH_IMAGE := 1 has a header but no slots.
    assert "PVPATCH_IMAGE := 1" in refused([MINIMAL, "-"], out)
    assert "already a pre-patched image" in refused([made["elf"], made["rom"]], out)
    bad = made["dir"] / "not-an-elf"
    bad.write_bytes(b"\x7fELF" + b"\0" * 12)
    assert "not a readable ELF file" in refused([str(bad), "-", "--gen",
                                                 os.path.join(BUILD, "gen")], out)
    # A ROM the kernel would refuse makes no image.
    rom = made["dir"] / "bad.rom"
    blob = bytearray(open(made["rom"], "rb").read())
    blob[4] ^= 0xff  # version
    rom.write_bytes(bytes(blob))
    assert "would refuse" in refused([ELF, str(rom)], out)
    assert "no such ROM" in refused([ELF, str(made["dir"] / "missing.rom")], out)
    # A section that is not zero (not made by the linker) is not an input.
    tampered = made["dir"] / "tampered.elf"
    shutil.copy(ELF, tampered)
    with open(ELF, "rb") as f:
        img = ELFFile(f).get_section_by_name(GEN.IMAGE_SECTION)
        off = img["sh_offset"] + img["sh_size"] - 1
    with open(tampered, "r+b") as f:
        f.seek(off)
        f.write(b"\1")
    assert "is not zero" in refused([str(tampered), "-"], out)
