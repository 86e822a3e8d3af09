# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Read the site records of an object file or a linked ELF into plain data.

All parsing of untrusted ELF input happens here; anything malformed that
prevents reading raises UsageError with one line.  Records are decoded with
the generated layout; checking what they say is verify.py's job.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from types import ModuleType

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from .errors import UsageError

R_X86_64_64 = 1
R_X86_64_PC32 = 2
R_X86_64_PLT32 = 4


@dataclass
class Text:
    """An executable section: its bytes and where they are."""
    index: int
    name: str
    addr: int  # sh_addr (0 in an object file)
    data: bytes


@dataclass
class Record:
    index: int  # position in the record table
    fields: dict[str, int]
    text: Text | None = None  # section holding the site (None: unresolved)
    offset: int = 0  # site offset within text.data
    problem: str | None = None  # why the site could not be located

    @property
    def addr(self) -> int:
        return (self.text.addr if self.text else 0) + self.offset


@dataclass
class BackendRecord:
    """A CALL backend registration record (.pvpatch.backends)."""
    index: int
    fields: dict[str, int]
    text: Text | None = None  # section holding the function at fn
    offset: int = 0  # fn's offset within text.data
    problem: str | None = None  # why fn could not be located

    @property
    def addr(self) -> int:
        return (self.text.addr if self.text else 0) + self.offset


@dataclass
class SiteTable:
    path: str
    relocatable: bool
    entsize: int
    size: int  # bytes of the record section
    records: list[Record]
    texts: dict[int, Text]
    # Per text section: sorted (start, end, name) of function symbols.
    funcs: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    # Relocations in text: (section index, offset) -> symbol name.
    text_relocs: dict[tuple[int, int], str] = field(default_factory=dict)
    # Linked files: address -> symbol name.
    symbols_by_addr: dict[int, str] = field(default_factory=dict)
    # File offset of the record section (the liveness pass writes there).
    sites_offset: int = 0
    # Sites of .S files that opted into the liveness pass (section
    # gen.LIVENESS_SECTION): (text section index, offset).
    liveness_opt_in: set[tuple[int, int]] = field(default_factory=set)
    # Names of every section (the liveness pass looks for exception tables).
    section_names: set[str] = field(default_factory=set)
    # CALL backend records (gen.BACKEND_SECTION) and that section's file
    # offset (the liveness pass writes their `writes` and flags there).
    backends: list[BackendRecord] = field(default_factory=list)
    backends_offset: int = 0
    # Object files: names of weak symbols (the link may pick another
    # definition, so their bytes here say nothing of the kernel's).
    weak_names: set[str] = field(default_factory=set)

    def where(self, text: Text | None, offset: int) -> str:
        """func+0xNN of a location, as objtool prints it."""
        if text is None:
            return f"record+{offset:#x}"
        pos = text.addr + offset
        funcs = self.funcs.get(text.index, [])
        i = bisect.bisect_right(funcs, (pos, float("inf"), "")) - 1
        if i >= 0:
            start, end, name = funcs[i]
            if start <= pos < max(end, start + 1):
                return f"{name}+{pos - start:#x}"
        return f"{text.name}+{offset:#x}"

    def text_at(self, addr: int) -> Text | None:
        """The executable section whose bytes hold addr (linked files)."""
        for text in self.texts.values():
            if text.addr <= addr < text.addr + len(text.data):
                return text
        return None

    def call_target(self, text: Text, offset: int, insn_addr: int,
                    insn_size: int, target: int) -> str | None:
        """Symbol a direct call at text+offset goes to."""
        if self.relocatable:
            return self.text_relocs.get((text.index, offset + 1))
        return self.symbols_by_addr.get(target)


def _symbols(elf: ELFFile) -> SymbolTableSection | None:
    sec = elf.get_section_by_name(".symtab")
    return sec if isinstance(sec, SymbolTableSection) else None


def _check_bounds(elf: ELFFile, path: str) -> None:
    """Every section's bytes lie inside the file, before any is read."""
    elf.stream.seek(0, 2)
    file_size = elf.stream.tell()
    for idx in range(elf.num_sections()):
        sec = elf.get_section(idx)
        if sec["sh_type"] in ("SHT_NOBITS", "SHT_NULL"):
            continue
        if sec["sh_offset"] + sec["sh_size"] > file_size:
            raise UsageError(f"{path}: section {idx} ({sec.name or '?'}) extends "
                             "past the end of the file")
        if sec["sh_flags"] & SH_FLAGS.SHF_COMPRESSED:
            raise UsageError(f"{path}: section {idx} ({sec.name}) is compressed")


def _read(path: str, gen: ModuleType) -> SiteTable:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        if elf["e_machine"] != "EM_X86_64" or elf.elfclass != 64:
            raise UsageError(f"{path}: not an x86-64 ELF file")
        relocatable = elf["e_type"] == "ET_REL"
        _check_bounds(elf, path)
        texts: dict[int, Text] = {}
        sites_sec = None
        sites_idx = -1
        live_sec = None
        live_idx = -1
        be_sec = None
        be_idx = -1
        live_name = getattr(gen, "LIVENESS_SECTION", None)
        for idx, sec in enumerate(elf.iter_sections()):
            if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
                texts[idx] = Text(idx, sec.name, sec["sh_addr"], sec.data())
            if sec.name == gen.SECTION:
                sites_sec, sites_idx = sec, idx
            if live_name and sec.name == live_name and sec["sh_type"] == "SHT_PROGBITS":
                live_sec, live_idx = sec, idx
            if sec.name == gen.BACKEND_SECTION and sec["sh_type"] == "SHT_PROGBITS":
                be_sec, be_idx = sec, idx
        raw = sites_sec.data() if sites_sec is not None else b""
        rsize = gen.RECORD_SIZE
        records = []
        for i in range(len(raw) // rsize):
            vals = struct.unpack_from(gen.RECORD_FORMAT, raw, i * rsize)
            records.append(Record(i, dict(zip(gen.RECORD_FIELDS, vals))))
        table = SiteTable(path, relocatable,
                          sites_sec["sh_entsize"] if sites_sec is not None else rsize,
                          len(raw), records, texts,
                          sites_offset=sites_sec["sh_offset"] if sites_sec is not None else 0)
        table.section_names = {sec.name for sec in elf.iter_sections()}
        if be_sec is not None:
            braw = be_sec.data()
            bsize = gen.BACKEND_REC_SIZE
            for i in range(len(braw) // bsize):
                vals = struct.unpack_from(gen.BACKEND_REC_FORMAT, braw, i * bsize)
                table.backends.append(BackendRecord(i, dict(zip(gen.BACKEND_REC_FIELDS, vals))))
            table.backends_offset = be_sec["sh_offset"]

        symtab = _symbols(elf)
        syms = list(symtab.iter_symbols()) if symtab else []
        for s in syms:
            if s["st_info"]["type"] == "STT_FUNC" and s["st_shndx"] in texts:
                table.funcs.setdefault(s["st_shndx"], []).append(
                    (s["st_value"], s["st_value"] + s["st_size"], s.name))
            if not relocatable and s.name and s["st_value"]:
                table.symbols_by_addr.setdefault(s["st_value"], s.name)
            if relocatable and s.name and s["st_info"]["bind"] == "STB_WEAK":
                table.weak_names.add(s.name)
        for lst in table.funcs.values():
            lst.sort()

        site_relocs: dict[int, tuple[int, int, int]] = {}
        be_relocs: dict[int, tuple[int, int, int]] = {}
        for sec in elf.iter_sections():
            if not isinstance(sec, RelocationSection):
                continue
            target = sec["sh_info"]
            if target not in (sites_idx, live_idx, be_idx) and target not in texts:
                continue
            rsyms = elf.get_section(sec["sh_link"])
            if not isinstance(rsyms, SymbolTableSection):
                raise UsageError(f"{path}: {sec.name} has no symbol table")
            for rel in sec.iter_relocations():
                sym = rsyms.get_symbol(rel["r_info_sym"])
                addend = rel["r_addend"] if rel.is_RELA() else 0
                if target == live_idx:
                    if (rel["r_info_type"] == R_X86_64_64
                            and isinstance(sym["st_shndx"], int)
                            and sym["st_shndx"] in texts):
                        table.liveness_opt_in.add((sym["st_shndx"],
                                                   sym["st_value"] + addend))
                elif target in (sites_idx, be_idx):
                    shndx = sym["st_shndx"] if isinstance(sym["st_shndx"], int) else -1
                    if target == be_idx and sym["st_info"]["bind"] == "STB_WEAK":
                        shndx = -2
                    (site_relocs if target == sites_idx else be_relocs)[rel["r_offset"]] = (
                        rel["r_info_type"], shndx, sym["st_value"] + addend)
                else:
                    table.text_relocs[(target, rel["r_offset"])] = sym.name

        if live_sec is not None and not relocatable:
            data = live_sec.data()
            for (addr,) in struct.iter_unpack("<Q", data[:len(data) // 8 * 8]):
                text = table.text_at(addr)
                if text is not None:
                    table.liveness_opt_in.add((text.index, addr - text.addr))

        fn_off = gen.BACKEND_REC_OFFSETS["fn"]
        for brec in table.backends:
            field_pos = brec.index * gen.BACKEND_REC_SIZE + fn_off
            if relocatable:
                rel = be_relocs.get(field_pos)
                if rel is None or rel[0] != R_X86_64_64:
                    brec.problem = "fn field has no R_X86_64_64 relocation"
                    continue
                _, shndx, addr = rel
                if shndx == -2:
                    brec.problem = "fn is a weak symbol: the link may choose another definition"
                    continue
                text = texts.get(shndx)
                if text is None:
                    brec.problem = "fn is not in an executable section"
                    continue
                brec.text, brec.offset = text, addr
                continue
            addr = brec.fields["fn"]
            text = table.text_at(addr)
            if text is not None:
                brec.text, brec.offset = text, addr - text.addr
            else:
                brec.problem = f"fn {addr:#x} is not in an executable section"

        site_off = gen.RECORD_OFFSETS["site"]
        for rec in records:
            field_pos = rec.index * rsize + site_off
            if relocatable:
                rel = site_relocs.get(field_pos)
                if rel is None:
                    rec.problem = "site field has no relocation"
                    continue
                rtype, shndx, value = rel
                if rtype != R_X86_64_PC32:
                    rec.problem = f"site field has relocation type {rtype}, expected R_X86_64_PC32"
                    continue
                text = texts.get(shndx)
                if text is None:
                    rec.problem = "site is not in an executable section"
                    continue
                rec.text, rec.offset = text, value
            else:
                addr = sites_sec["sh_addr"] + field_pos + rec.fields["site"]
                text = table.text_at(addr)
                if text is not None:
                    rec.text, rec.offset = text, addr - text.addr
                else:
                    rec.problem = f"site address {addr:#x} is not in an executable section"
        return table


def read(path: str, gen: ModuleType) -> SiteTable:
    try:
        return _read(path, gen)
    except UsageError:
        raise
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}") from None
    except (ELFError, ConstructError, struct.error, ValueError, KeyError, IndexError,
            AttributeError, TypeError, AssertionError, MemoryError) as e:
        # pyelftools reports truncated or inconsistent files this way.
        raise UsageError(f"{path}: not a readable ELF file ({e or type(e).__name__})") from None
