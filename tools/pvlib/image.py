# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""pvrom image: a copy of a linked kernel with every site already patched
for one hypervisor (Ingo Molnar's "two images from one build").

The patching is `pvrom check`'s: the kernel's own negotiation and patcher
built for the host (build/tools/pvrom-sim), run on a copy of the text for
the facts and command line given; pvrom-sim writes the text as patched
(sites and thunk area; the backend families are not freed, so the image
can still boot with another policy).  The copy gets that text in its
executable sections and, in section .pvpatch.image (reserved by the kernel
with pvpatch.mk's PVPATCH_IMAGE := 1), the header and every record's
original native bytes, from which the patcher at boot takes them (the
sites no longer hold them).  No section changes size or address."""

from __future__ import annotations

import os
import struct
import tempfile
from types import ModuleType

from elftools.elf.elffile import ELFFile

from . import check as checkmod
from .errors import UsageError


def _exec_sections(elf: ELFFile) -> list:
    # The same selection as check._guest_image(): what pvrom-sim patches.
    return [s for s in elf.iter_sections()
            if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & 0x4 and s["sh_addr"]]


def _layout(gen: ModuleType, path: str, data: bytes) -> dict:
    """What the image needs from the input ELF; UsageError when unusable."""
    import io
    try:
        elf = ELFFile(io.BytesIO(data))
        execs = _exec_sections(elf)
        sites = elf.get_section_by_name(gen.SECTION)
        if not execs or sites is None:
            raise UsageError(f"{path}: not a linked kernel with site records")
        lo = min(s["sh_addr"] for s in execs)
        text = bytearray(max(s["sh_addr"] + s["sh_size"] for s in execs) - lo)
        for s in execs:
            text[s["sh_addr"] - lo:s["sh_addr"] - lo + s["sh_size"]] = s.data()
        img = elf.get_section_by_name(gen.IMAGE_SECTION)
        out = {
            "execs": [(s["sh_addr"], s["sh_offset"], s["sh_size"]) for s in execs],
            "lo": lo, "text": bytes(text),
            "sites": sites.data(), "sites_addr": sites["sh_addr"],
            "image": None if img is None else
            (img["sh_type"], img["sh_offset"], img["sh_size"]),
        }
        syms = elf.get_section_by_name(".symtab")
        t0 = t1 = None
        if syms is not None:
            t0 = syms.get_symbol_by_name("__pvpatch_thunks_start")
            t1 = syms.get_symbol_by_name("__pvpatch_thunks_end")
        out["thunks"] = ((t0[0]["st_value"], t1[0]["st_value"]) if t0 and t1 else (0, 0))
    except UsageError:
        raise
    except Exception as e:  # pyelftools on a malformed file
        raise UsageError(f"{path}: not a readable ELF file ({e})") from None
    for addr, off, size in out["execs"]:
        if off + size > len(data):
            raise UsageError(f"{path}: executable section at {addr:#x} lies past the end of the file")
    return out


def _records(gen: ModuleType, lay: dict) -> list[tuple[int, int, int]]:
    """(site address, site_len, native_len) of every record, in record order."""
    out = []
    sites = lay["sites"]
    for i in range(len(sites) // gen.RECORD_SIZE):
        rec = dict(zip(gen.RECORD_FIELDS, struct.unpack_from(gen.RECORD_FORMAT, sites,
                                                              i * gen.RECORD_SIZE)))
        field = lay["sites_addr"] + i * gen.RECORD_SIZE + gen.RECORD_OFFSETS["site"]
        out.append((field + rec["site"], rec["site_len"], rec["native_len"]))
    return out


def room(gen: ModuleType, path: str, lay: dict) -> tuple[int, int]:
    """(file offset, bytes) of the image section; UsageError when the kernel
    has no room for an image or already is one."""
    n = len(lay["sites"]) // gen.RECORD_SIZE
    need = gen.IMAGE_HEADER_SIZE + n * gen.IMAGE_STRIDE
    if lay["image"] is None:
        raise UsageError(f"{path}: no {gen.IMAGE_SECTION} section: not linked with pvpatch's "
                         "fragments")
    kind, off, size = lay["image"]
    if kind != "SHT_PROGBITS":
        raise UsageError(f"{path}: {gen.IMAGE_SECTION} is {kind}, not in the file")
    if size < need:
        raise UsageError(f"{path}: no room for a pre-patched image ({gen.IMAGE_SECTION} has "
                         f"{size} bytes, {n} records need {need}): link the kernel with "
                         "pvpatch.mk's PVPATCH_IMAGE := 1")
    return off, need


def make(gen: ModuleType, guest: str, rom: str, output: str, kvm_features: int, vmport: bool,
         gethz: bool, signature: str = "", cmdline: str = "", cpuid: str = "") -> dict:
    if not hasattr(gen, "IMAGE_SECTION"):
        raise UsageError("the generated description has no image layout: rebuild (make)")
    try:
        with open(guest, "rb") as f:
            data = bytearray(f.read())
    except OSError as e:
        raise UsageError(f"{guest}: {e.strerror}") from None
    lay = _layout(gen, guest, bytes(data))
    off, need = room(gen, guest, lay)
    if any(data[off:off + need]):
        what = ("already a pre-patched image" if
                struct.unpack_from("<I", data, off)[0] == gen.IMAGE_MAGIC else
                f"{gen.IMAGE_SECTION} is not zero")
        raise UsageError(f"{guest}: {what}: make images from the kernel as linked")
    with tempfile.TemporaryDirectory() as tmp:
        text_path = os.path.join(tmp, "text")
        r = checkmod.check(gen, guest, rom, kvm_features, vmport, gethz, signature, cmdline,
                           cpuid, text_out=text_path)
        if r["verdict"]["rom"] == "refused":
            raise UsageError(f"{rom}: the kernel would refuse this ROM: {r['verdict']['why']}")
        with open(text_path, "rb") as f:
            patched = f.read()
    lo, orig = lay["lo"], lay["text"]
    if r["text_addr"] != lo or len(patched) != len(orig):
        raise UsageError("pvrom-sim returned text of another layout")

    # pvrom-sim writes only sites and the thunk area: make sure of it.
    allowed = bytearray(len(orig))
    recs = _records(gen, lay)
    for addr, site_len, _ in recs:
        if lo <= addr and addr + site_len <= lo + len(orig):
            allowed[addr - lo:addr - lo + site_len] = b"\1" * site_len
    t0, t1 = lay["thunks"]
    if lo <= t0 <= t1 <= lo + len(orig):
        allowed[t0 - lo:t1 - lo] = b"\1" * (t1 - t0)
    changed = [i for i in range(len(orig)) if orig[i] != patched[i]]
    stray = [i for i in changed if not allowed[i]]
    if stray:
        raise UsageError(f"pvrom-sim changed {len(stray)} bytes outside the sites and the thunk "
                         f"area (first at {lo + stray[0]:#x})")

    for addr, foff, size in lay["execs"]:
        data[foff:foff + size] = patched[addr - lo:addr - lo + size]
    slots = bytearray(need - gen.IMAGE_HEADER_SIZE)
    for i, (addr, _, native_len) in enumerate(recs):
        if lo <= addr and addr + native_len <= lo + len(orig) and native_len <= gen.IMAGE_STRIDE:
            slots[i * gen.IMAGE_STRIDE:i * gen.IMAGE_STRIDE + native_len] = \
                orig[addr - lo:addr - lo + native_len]
    header = struct.pack(gen.IMAGE_HEADER_FORMAT, gen.IMAGE_MAGIC, gen.IMAGE_VERSION,
                         gen.IMAGE_STRIDE, len(recs), 0)
    data[off:off + need] = header + slots

    written = sum(1 for addr, site_len, _ in recs
                  if lo <= addr and addr + site_len <= lo + len(orig)
                  and orig[addr - lo:addr - lo + site_len] != patched[addr - lo:addr - lo + site_len])
    tmp_out = output + ".tmp"
    try:
        with open(tmp_out, "wb") as f:
            f.write(data)
        os.chmod(tmp_out, os.stat(guest).st_mode & 0o777)
        os.replace(tmp_out, output)
    except OSError as e:
        raise UsageError(f"{output}: cannot write: {e.strerror}") from None
    r["image"] = {"output": output, "sites_patched": written,
                  "thunk_bytes": sum(1 for i in changed if t0 - lo <= i < t1 - lo),
                  "records": len(recs), "stride": gen.IMAGE_STRIDE}
    return r
