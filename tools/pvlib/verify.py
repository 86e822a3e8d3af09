# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Check site records against the code they describe, decoded by capstone.

For each record: format version, op number, lengths and flags against the
op table; the native bytes decoded and compared, instruction by
instruction, with the op's native template rendered with the registers the
record names; the padding is one NOP of at most MAX_NOP bytes (never a JMP: a NATIVE
site executes its native code and at most one NOP); the clobber
mask is exactly what the op and the allocated registers imply; sites do not
overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType

import capstone
from capstone import x86 as csx86

from .elfsites import Record, SiteTable

OPERAND = re.compile(r"%\[([A-Za-z_][A-Za-z0-9_]*)\]")
SUFFIXES = ("b", "w", "l", "q")
PREFIXES = ("rep", "repe", "repz", "repne", "repnz", "lock")


def _mnemonic(insn) -> str:
    """capstone's mnemonic, corrected where capstone 4 decodes wrongly: an
    operand-size prefix before rep (66 f3 6d, GNU as's order for rep insw)
    comes out as the 32-bit form."""
    m = insn.mnemonic
    b = bytes(insn.bytes)
    if (m.startswith("rep ") and m[-1] == "l" and len(b) >= 3
            and b[0] == 0x66 and b[1] in (0xF2, 0xF3)):
        m = m[:-1] + "w"
    return m


@dataclass
class Finding:
    where: str
    msg: str


@dataclass
class Site:
    """A record with what verification learnt about it."""
    rec: Record
    where: str
    op: dict | None
    regs: dict[str, str] = field(default_factory=dict)  # slot -> register name
    # The clobber mask the site declares (op, output, registers its native
    # code writes), None when the record did not verify that far.
    declared: int | None = None


def _disassembler() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    md.detail = True
    return md


def _norm(text: str) -> str:
    text = text.lower().replace(" ", "")
    return re.sub(r"(?<!\w)0(x0)?\(", "(", text)  # 0x0(%r13) is (%r13)


def _mnemonic_ok(want: str, got: str) -> bool:
    return (want == got or (got[:-1] == want and got[-1] in SUFFIXES)
            or (want[:-1] == got and want[-1] in SUFFIXES))


class Verifier:
    def __init__(self, table: SiteTable, gen: ModuleType):
        self.t = table
        self.gen = gen
        self.md = _disassembler()
        self.findings: list[Finding] = []
        self.sites: list[Site] = []
        self.reg_num = {n: i for i, names in enumerate(gen.REGS) for n in names}

    def warn(self, where: str, msg: str) -> None:
        self.findings.append(Finding(where, msg))

    def reg(self, rec: Record, slot: str) -> int:
        i = self.gen.REG_SLOTS.index(slot)
        return (rec.fields["regs"] >> (i * self.gen.REG_BITS)) & ((1 << self.gen.REG_BITS) - 1)

    def name(self, num: int, size: int) -> str:
        return self.gen.REGS[num][{8: 0, 4: 1, 2: 2, 1: 3}[size]]

    # -- the whole table ------------------------------------------------------
    def run(self) -> None:
        t = self.t
        if t.records or t.size:
            if t.entsize != self.gen.RECORD_SIZE:
                self.warn(self.gen.SECTION, f"section entry size {t.entsize}, "
                          f"expected {self.gen.RECORD_SIZE}")
            if t.size % self.gen.RECORD_SIZE:
                self.warn(self.gen.SECTION, f"section size {t.size} is not a "
                          f"multiple of the record size {self.gen.RECORD_SIZE}")
        for rec in t.records:
            self.sites.append(self.check(rec))
        self.check_overlaps()

    def check_overlaps(self) -> None:
        placed = sorted((s for s in self.sites if s.rec.text and s.op),
                        key=lambda s: (s.rec.text.index, s.rec.offset))
        for a, b in zip(placed, placed[1:]):
            if (a.rec.text is b.rec.text
                    and b.rec.offset < a.rec.offset + a.rec.fields["site_len"]):
                self.warn(b.where, f"site overlaps the site at {a.where}")

    # -- one record -----------------------------------------------------------
    def check(self, rec: Record) -> Site:
        f = rec.fields
        gen = self.gen
        if rec.problem:
            where = f"record {rec.index}"
            self.warn(where, rec.problem)
            return Site(rec, where, None)
        where = self.t.where(rec.text, rec.offset)
        if f["version"] != gen.SITE_VERSION:
            self.warn(where, f"record version {f['version']}, expected "
                      f"{gen.SITE_VERSION}")
            return Site(rec, where, None)
        op = gen.OPS.get(f["op"])
        if op is None:
            self.warn(where, f"unknown op {f['op']}")
            return Site(rec, where, None)
        site = Site(rec, where, op)
        name = op["name"]
        if f["site_len"] != op["site_len"]:
            self.warn(where, f"site length {f['site_len']}, op {name} has "
                      f"{op['site_len']}")
        if not 1 <= f["native_len"] <= min(f["site_len"], op["native_max"]):
            self.warn(where, f"native length {f['native_len']} outside "
                      f"1..{min(f['site_len'], op['native_max'])}")
            return site
        known = gen.FLAG_NARGS_MASK | gen.FLAG_HAS_RET | gen.FLAG_ASM | gen.FLAG_WIDENED
        if f["flags"] & ~known:
            self.warn(where, f"unknown flags {f['flags']:#x}")
        if f["flags"] & (gen.FLAG_NARGS_MASK | gen.FLAG_HAS_RET) != op["flags"]:
            self.warn(where, f"flags {f['flags']:#x} do not match op {name} "
                      f"({len(op['ins'])} arguments, "
                      f"{'a' if op['outs'] else 'no'} return value)")
        if rec.offset < 0 or rec.offset + f["site_len"] > len(rec.text.data):
            self.warn(where, f"site of {f['site_len']} bytes runs past the end "
                      f"of {rec.text.name}")
            return site

        slots = {}
        if op["outs"]:
            slots[op["outs"][0]["name"]] = ("ret", op["outs"][0])
        for i, o in enumerate(op["ins"]):
            slots[o["name"]] = (f"arg{i}", o)
        for oname, (slot, o) in slots.items():
            num = self.reg(rec, slot)
            site.regs[slot] = self.name(num, o["size"])
            if num == 4:
                self.warn(where, f"{slot} ({oname}) recorded as {self.name(4, o['size'])}")
            if o["pin"] and num != self.reg_num[o["pin"]]:
                self.warn(where, f"{slot} ({oname}) recorded as "
                          f"{self.name(num, o['size'])}, op {name} pins "
                          f"{self.name(self.reg_num[o['pin']], o['size'])}")

        data = rec.text.data[rec.offset:rec.offset + f["site_len"]]
        extra = self.check_native(site, data[:f["native_len"]], slots)
        if extra is None:
            return site
        self.check_padding(site, data[f["native_len"]:])
        want = op["clobber_mask"] | extra
        if op["outs"]:
            want |= 1 << self.reg(rec, "ret")
        site.declared = want
        if f["flags"] & gen.FLAG_WIDENED:
            # Wider than declared; tools/pvlib/liveness.py checks the rest.
            if f["clobbers"] & want != want or f["clobbers"] & 1 << 4:
                self.warn(where, f"widened clobber mask {f['clobbers']:#06x} lacks "
                          f"declared {want:#06x} ({self.mask_names(want)}) or has rsp")
        elif f["clobbers"] != want:
            self.warn(where, f"clobber mask {f['clobbers']:#06x}, expected "
                      f"{want:#06x} ({self.mask_names(want)})")
        return site

    def mask_names(self, mask: int) -> str:
        return " ".join(self.gen.REGS[i][0] for i in range(16) if mask >> i & 1) or "none"

    def check_native(self, site: Site, code: bytes, slots: dict) -> int | None:
        """Compare decoded native code with the op's template.

        Returns the mask of registers the code writes that no slot records
        (scratch registers, outputs after the first), or None after a
        finding that makes further checks meaningless.
        """
        rec, op, where = site.rec, site.op, site.where
        insns = list(self.md.disasm(code, site.rec.addr))
        if sum(i.size for i in insns) != len(code):
            self.warn(where, f"native code does not decode as {len(code)} bytes")
            return None
        if len(insns) != len(op["native"]):
            got = "; ".join(f"{i.mnemonic} {i.op_str}".strip() for i in insns)
            self.warn(where, f"native code is '{got}', op {op['name']} has "
                      f"{len(op['native'])} instruction(s): {'; '.join(op['native'])}")
            return None
        extra = 0
        for tmpl, insn in zip(op["native"], insns):
            r = self.match(site, tmpl, insn, slots)
            if r is None:
                return None
            extra |= r
            _, written = insn.regs_access()
            for reg in written:
                n = self.reg_num.get(insn.reg_name(reg))
                if n is not None and n != 4 and not (
                        rec.fields["clobbers"] >> n & 1):
                    self.warn(where, f"'{insn.mnemonic} {insn.op_str}' writes "
                              f"{insn.reg_name(reg)}, not in the clobber mask")
        return extra

    def match(self, site: Site, tmpl: str, insn, slots: dict) -> int | None:
        """One instruction against its template; returns its unrecorded
        written registers as a mask, or None after a finding."""
        mnem, _, ops = tmpl.partition(" ")
        if mnem in PREFIXES:
            word, _, ops = ops.partition(" ")
            mnem = f"{mnem} {word}"
        got = f"{_mnemonic(insn)} {insn.op_str}".strip()
        if not _mnemonic_ok(mnem, _mnemonic(insn)):
            self.warn(site.where, f"native code is '{got}', expected '{tmpl}'")
            return None
        if mnem == "call":
            target = self.t.call_target(site.rec.text, site.rec.offset,
                                        insn.address, insn.size,
                                        insn.operands[0].imm if insn.operands else 0)
            if target != site.op["native_call"]:
                self.warn(site.where, f"native call goes to {target or 'an unknown target'}, "
                          f"expected {site.op['native_call']}")
                return None
            return 0
        wild: list[tuple[str, int]] = []
        pattern = ""
        pos = 0
        for m in OPERAND.finditer(ops):
            pattern += re.escape(_norm(ops[pos:m.start()]))
            pos = m.end()
            oname = m.group(1)
            if oname in slots:
                slot, o = slots[oname]
                pattern += re.escape("%" + site.regs[slot])
                continue
            o = next((x for x in site.op["outs"] if x["name"] == oname), None)
            size = o["size"] if o else 8
            if o and o["pin"]:
                pattern += re.escape("%" + self.name(self.reg_num[o["pin"]], size))
                continue
            names = [self.name(n, size) for n in range(16) if n != 4]
            pattern += "%(" + "|".join(names) + ")"
            wild.append((oname, size))
        pattern += re.escape(_norm(ops[pos:]))
        m = re.fullmatch(pattern, _norm(insn.op_str))
        if not m:
            rendered = OPERAND.sub(lambda x: "%" + site.regs.get(
                slots.get(x.group(1), ("?",))[0], x.group(1)), tmpl)
            self.warn(site.where, f"native code is '{got}', the record says '{rendered}'")
            return None
        mask = 0
        for g in m.groups():
            mask |= 1 << self.reg_num[g]
        return mask

    def check_padding(self, site: Site, pad: bytes) -> None:
        if not pad:
            return
        if len(pad) > self.gen.MAX_NOP:
            self.warn(site.where, f"padding of {len(pad)} bytes is longer than one NOP "
                      f"(at most {self.gen.MAX_NOP}): {pad.hex()}")
            return
        insns = list(self.md.disasm(pad, 0))
        if not (len(insns) == 1 and insns[0].size == len(pad) and insns[0].id == csx86.X86_INS_NOP):
            self.warn(site.where, f"padding of {len(pad)} bytes is not one NOP: {pad.hex()}")


    def check_widened(self) -> None:
        """Re-analyse liveness for the records the pass widened: every
        register the mask adds to the declared ones must be dead."""
        widened = [s for s in self.sites
                   if s.rec.fields["flags"] & self.gen.FLAG_WIDENED and s.declared is not None]
        if not widened:
            return
        from .liveness import analyse
        results = {id(r.site): r for r in analyse(self.t, self.gen, self.sites).results}
        for s in widened:
            r = results[id(s)]
            extra = s.rec.fields["clobbers"] & ~s.declared
            if not extra:
                continue
            if r.live is None:
                self.warn(s.where, f"clobber mask widened ({self.mask_names(extra)}) "
                          f"but liveness cannot be analysed here: {r.reason}")
            elif extra & r.live:
                self.warn(s.where, f"widened clobber mask claims "
                          f"{self.mask_names(extra & r.live)} dead after the site, "
                          "liveness says live")


    def check_backends(self) -> None:
        """Re-analyse every plain CALL backend record the liveness pass
        marked ANALYSED: it must name every caller-saved register the
        function may write (a register it leaves out would be corrupted at
        a site that calls the backend directly)."""
        gen = self.gen
        marked = [r for r in self.t.backends
                  if r.fields["flags"] & gen.BACKEND_F_ANALYSED
                  and not r.fields["flags"] & gen.BACKEND_F_PRESERVES]
        if not marked:
            return
        from .liveness import Analysis
        a = Analysis(self.t, gen, self.sites)   # no site analysis needed
        for r in marked:
            b = a.backend_writes(r)
            claimed = r.fields["writes"]
            if b.writes is None:
                self.warn(b.where, f"backend record claims writes {claimed:#06x} "
                          f"({self.mask_names(claimed)}) but its code cannot be analysed: "
                          f"{b.reason}")
            elif b.writes & ~claimed:
                self.warn(b.where, f"backend record claims writes {claimed:#06x} "
                          f"({self.mask_names(claimed)}), the code may also write "
                          f"{self.mask_names(b.writes & ~claimed)}")


def verify(table: SiteTable, gen: ModuleType) -> Verifier:
    v = Verifier(table, gen)
    v.run()
    v.check_widened()
    v.check_backends()
    return v
