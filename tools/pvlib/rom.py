# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The feature ROM: build a blob from entries, parse one back.

The layout comes from the generated module (gen.load(): ROM_*_LAYOUT and
friends, defined once in gen/pvops/layout.py); nothing here spells out an
offset.  parse() decodes a ROM for display: it bounds-checks every count,
offset and length it follows and raises RomError (one line) when it cannot
go on.  Whether the guest accepts a ROM, and what it makes of each entry,
is the guest's own code's answer (pvlib.check.rom_verdict(): pvrom-sim
--verdict), not this module's.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from .errors import UsageError, read_input


class RomError(UsageError):
    """A structurally malformed ROM: the guest refuses it."""


@dataclass(frozen=True)
class Insn:
    op: int
    dst: int
    src: int
    width: int
    imm: int = 0
    reserved: int = 0


@dataclass
class Entry:
    op: int
    mode: int
    cond: int = 0
    cond_arg: int = 0
    hv_clobbers: int = 0
    params: tuple = (0, 0, 0, 0)
    insns: tuple = ()
    reserved0: int = 0
    reserved1: int = 0
    extra: bytes = b""  # fields a newer version appended (after the insns)
    # Not in the ROM: where it came from.
    template: str | None = None  # template name in a profile
    line: int = 0  # profile line
    offset: int | None = None  # offset in a parsed ROM
    entry_len: int | None = None  # as parsed

    def key(self) -> tuple:
        """What the ROM encodes (for comparisons)."""
        return (self.op, self.mode, self.cond, self.cond_arg, self.hv_clobbers,
                tuple(self.params), tuple(self.insns), self.reserved0,
                self.reserved1, self.extra)


@dataclass
class Override:
    func: str
    offset: int
    mode: int
    reserved: tuple = (0, 0, 0)
    line: int = 0
    rom_offset: int | None = None


@dataclass
class Rom:
    hypervisor: str
    entries: list = field(default_factory=list)
    overrides: list = field(default_factory=list)
    flags: int = 0
    header: dict = field(default_factory=dict)  # as parsed
    size: int = 0  # bytes of the file (parsed ROMs)


# --- field access through the generated layout -------------------------------

def _get(layout, buf, base) -> dict:
    out = {}
    for name, off, fmt, count in layout:
        v = struct.unpack_from(fmt, buf, base + off)
        out[name] = v if count > 1 and not fmt.endswith("s") else v[0]
    return out


def _put(layout, buf, base, **values) -> None:
    for name, off, fmt, count in layout:
        v = values.get(name, (0,) * count if count > 1 and not fmt.endswith("s") else 0)
        if fmt.endswith("s"):
            struct.pack_into(fmt, buf, base + off, v or b"")
        elif count > 1:
            struct.pack_into(fmt, buf, base + off, *v)
        else:
            struct.pack_into(fmt, buf, base + off, v)


def field_len(layout, name) -> int:
    for n, _, _, count in layout:
        if n == name:
            return count
    raise KeyError(name)


def entry_size(gen, e: Entry) -> int:
    return gen.ROM_ENTRY_SIZE + len(e.insns) * gen.ROM_INSN_SIZE + len(e.extra)


def checksum(gen, blob: bytes, total_len: int | None = None) -> int:
    """CRC-32 (zlib) of total_len bytes with the checksum field zeroed."""
    n = len(blob) if total_len is None else total_len
    off = gen.ROM_HEADER_OFFSETS["checksum"]
    b = bytearray(blob[:n])
    b[off:off + 4] = b"\0\0\0\0"
    return zlib.crc32(bytes(b)) & 0xFFFFFFFF


def fix_checksum(gen, blob: bytes) -> bytes:
    """The blob with its checksum recomputed (over its total_len bytes)."""
    b = bytearray(blob)
    n = struct.unpack_from("<I", b, gen.ROM_HEADER_OFFSETS["total_len"])[0]
    struct.pack_into("<I", b, gen.ROM_HEADER_OFFSETS["checksum"], checksum(gen, b, min(n, len(b))))
    return bytes(b)


def _ascii(s: str, n: int) -> bytes:
    """NUL-padded field of n bytes holding at most n - 1 characters."""
    return s.encode("ascii")[:n - 1]


# --- build -----------------------------------------------------------------

def build(gen, hypervisor: str, entries, overrides=(), flags: int = 0) -> bytes:
    """Encode a ROM.  No semantic checks (the profile parser makes them):
    this also builds the deliberately broken ROMs of the tests."""
    entries = list(entries)
    overrides = list(overrides)
    # The u16 counts' capacity, not the guest's limits: the tests build
    # ROMs past those on purpose (the profile parser enforces them).
    if len(entries) > 0xFFFF or len(overrides) > 0xFFFF:
        raise UsageError("more than 65535 entries or overrides")
    hdr = gen.ROM_HEADER_SIZE
    entries_off = hdr
    size = entries_off + sum(entry_size(gen, e) for e in entries)
    overrides_off = size
    size += len(overrides) * gen.ROM_OVERRIDE_SIZE
    buf = bytearray(size)
    off = entries_off
    for e in entries:
        n = entry_size(gen, e)
        if n > 0xFFFF or len(e.insns) > 0xFF:
            raise UsageError(f"op {e.op}: entry too large ({len(e.insns)} instructions)")
        _put(gen.ROM_ENTRY_LAYOUT, buf, off, entry_len=n, op=e.op, mode=e.mode,
             cond=e.cond, cond_arg=e.cond_arg, n_insns=len(e.insns),
             hv_clobbers=e.hv_clobbers, reserved0=e.reserved0,
             reserved1=e.reserved1, params=tuple(e.params))
        ioff = off + gen.ROM_ENTRY_SIZE
        for i in e.insns:
            _put(gen.ROM_INSN_LAYOUT, buf, ioff, op=i.op, dst=i.dst, src=i.src,
                 width=i.width, reserved=i.reserved, imm=i.imm)
            ioff += gen.ROM_INSN_SIZE
        buf[ioff:ioff + len(e.extra)] = e.extra
        off += n
    for o in overrides:
        _put(gen.ROM_OVERRIDE_LAYOUT, buf, off,
             func=_ascii(o.func, field_len(gen.ROM_OVERRIDE_LAYOUT, "func")),
             offset=o.offset, mode=o.mode, reserved=tuple(o.reserved))
        off += gen.ROM_OVERRIDE_SIZE
    _put(gen.ROM_HEADER_LAYOUT, buf, 0, magic=gen.ROM_MAGIC, version=gen.ROM_VERSION,
         header_len=hdr, total_len=size,
         hypervisor=_ascii(hypervisor, field_len(gen.ROM_HEADER_LAYOUT, "hypervisor")),
         n_entries=len(entries), n_overrides=len(overrides),
         entries_off=entries_off, overrides_off=overrides_off, flags=flags)
    return fix_checksum(gen, bytes(buf))


# --- parse -----------------------------------------------------------------

def _cstr(b: bytes) -> str:
    """A NUL-padded name; bytes outside printable ASCII are escaped."""
    b = b.split(b"\0", 1)[0]
    return "".join(chr(c) if 0x20 < c < 0x7F else f"\\x{c:02x}" for c in b)


def parse(gen, blob: bytes) -> Rom:
    """Decode a ROM, checking its structure; RomError on any fault."""
    n = len(blob)
    H = gen.ROM_HEADER_SIZE
    if n < H:
        raise RomError(f"truncated: {n} bytes, the header alone needs {H}")
    h = _get(gen.ROM_HEADER_LAYOUT, blob, 0)
    if h["magic"] != gen.ROM_MAGIC:
        raise RomError(f"bad magic {h['magic']:#010x} (want {gen.ROM_MAGIC:#010x}, "
                       "\"PROM\"): not a pvpatch ROM")
    if h["version"] != gen.ROM_VERSION:
        raise RomError(f"unknown ROM version {h['version']} (this tool reads "
                       f"version {gen.ROM_VERSION})")
    if h["header_len"] < H:
        raise RomError(f"header_len {h['header_len']} is smaller than the "
                       f"{H}-byte header")
    total = h["total_len"]
    if total > n:
        raise RomError(f"total_len {total} runs past the end of the data ({n} bytes)")
    if total < h["header_len"]:
        raise RomError(f"total_len {total} is smaller than header_len {h['header_len']}")
    crc = checksum(gen, blob, total)
    if crc != h["checksum"]:
        raise RomError(f"checksum mismatch: header says {h['checksum']:#010x}, "
                       f"the contents give {crc:#010x}")
    name = h["hypervisor"]
    text = name.rstrip(b"\0")
    if (not text or len(text) == len(name) or b"\0" in text
            or not re.fullmatch(rb"[A-Za-z0-9][A-Za-z0-9_.+-]*", text)):
        raise RomError("bad hypervisor name: 1-15 of [A-Za-z0-9._+-], then NULs")
    # Entries and overrides may start right after the v1 header even when
    # header_len says more (as the guest's parser reads it).
    lo = H

    entries = []
    if h["n_entries"]:
        off = h["entries_off"]
        if not lo <= off < total:
            raise RomError(f"entries_off {off:#x} is outside the ROM's body "
                           f"[{lo:#x}, {total:#x})")
        E, I = gen.ROM_ENTRY_SIZE, gen.ROM_INSN_SIZE
        for i in range(h["n_entries"]):
            where = f"entry {i} at {off:#x}"
            if off + E > total:
                raise RomError(f"{where}: runs past the end of the ROM "
                               f"({h['n_entries']} entries, total_len {total})")
            e = _get(gen.ROM_ENTRY_LAYOUT, blob, off)
            elen = e["entry_len"]
            if elen < E:
                raise RomError(f"{where}: entry_len {elen} is smaller than {E}")
            if off + elen > total:
                raise RomError(f"{where}: entry_len {elen} runs past the end of "
                               f"the ROM (total_len {total})")
            need = E + e["n_insns"] * I
            if need > elen:
                raise RomError(f"{where}: {e['n_insns']} instructions need {need} "
                               f"bytes, entry_len is {elen}")
            insns = []
            for k in range(e["n_insns"]):
                d = _get(gen.ROM_INSN_LAYOUT, blob, off + E + k * I)
                insns.append(Insn(d["op"], d["dst"], d["src"], d["width"],
                                  d["imm"], d["reserved"]))
            entries.append(Entry(
                op=e["op"], mode=e["mode"], cond=e["cond"], cond_arg=e["cond_arg"],
                hv_clobbers=e["hv_clobbers"], params=tuple(e["params"]),
                insns=tuple(insns), reserved0=e["reserved0"],
                reserved1=e["reserved1"], extra=bytes(blob[off + need:off + elen]),
                offset=off, entry_len=elen))
            off += elen

    overrides = []
    if h["n_overrides"]:
        off = h["overrides_off"]
        O = gen.ROM_OVERRIDE_SIZE
        end = off + h["n_overrides"] * O
        if not lo <= off <= total or end > total:
            raise RomError(f"overrides [{off:#x}, {end:#x}) ({h['n_overrides']} "
                           f"overrides) lie outside the ROM's body [{lo:#x}, {total:#x})")
        for i in range(h["n_overrides"]):
            o = _get(gen.ROM_OVERRIDE_LAYOUT, blob, off + i * O)
            overrides.append(Override(_cstr(o["func"]), o["offset"], o["mode"],
                                      tuple(o["reserved"]), rom_offset=off + i * O))

    h = dict(h)
    h["hypervisor"] = _cstr(h["hypervisor"])
    return Rom(hypervisor=h["hypervisor"], entries=entries, overrides=overrides,
               flags=h["flags"], header=h, size=n)


def read(gen, path: str) -> Rom:
    blob = read_input(path)
    try:
        return parse(gen, blob)
    except RomError as e:
        raise RomError(f"{path}: {e}") from None
