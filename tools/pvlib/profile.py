# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Hypervisor profiles (hypervisor-features/*.profile): parse, check, render.

A profile is line oriented; `#` starts a comment.  Statements:

  hypervisor NAME                  once: the name in the ROM (1-15 characters)
  template NAME [clobbers REG...]  a template; its instructions follow, one a
      INSN                         line, until `end`.  `clobbers`: registers a
  end                              hypercall instruction may change
  op OP MODE [TEMPLATE] [params N...] [if COND]
                                   an entry: OP is an op name or `*` (every op);
                                   MODE NATIVE, NOP, INLINE (needs TEMPLATE) or
                                   CALL; params fill param0-3 (INLINE only);
                                   COND kvm:BIT (a KVM_FEATURE_* name without the
                                   prefix, or a number), vmport, vmport:gethz
  site FUNC+0xOFF MODE             an override for one site

For an op, the last entry whose condition holds wins, so an entry that a
later unconditional entry (or a later one with the same condition) always
overrides is an error.

Instructions: MNEMONIC[.32|.64] OPERANDS, destination first; the mnemonics,
their operand shapes, widths and implicit registers are the generated
PVT_OPCODE_INFO (gen/pvops/layout.py), as the patcher's fitter reads them.
Operands: rax..r15 (not rsp), arg0-3 (the op's inputs), ret (its result),
scratch0-1 (a free register the patcher picks), paramN (movi only).
Limits (template length, params, name lengths, site overrides) are the
generated ones too.

Every error raises ProfileError "file:line: message".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import UsageError, read_input
from .rom import Entry, Insn, Override, Rom

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_FUNC = re.compile(r"[A-Za-z_.$][A-Za-z0-9_.$]*$")
_NUM = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+)$")
# Operands each shape of the generated instruction table takes.
_NOPERANDS = {"NONE": 0, "REG": 1, "REG_REG": 2, "REG_IMM": 2, "REG_COUNT": 2}


def hypervisor_max(gen) -> int:
    """Characters of a hypervisor name: the ROM field, NUL included."""
    return gen.ROM_HYPERVISOR_LEN - 1


def func_max(gen) -> int:
    return gen.ROM_FUNC_LEN - 1


def kvm_bit_names(gen) -> dict:
    return {v: k for k, v in gen.KVM_FEATURES.items()}


def opcode_info(gen, op: int) -> dict | None:
    """The generated table's entry for an opcode; None if not an instruction."""
    if 0 <= op < len(gen.PVT_OPCODE_INFO) and gen.PVT_OPCODE_INFO[op]["mnemonic"]:
        return gen.PVT_OPCODE_INFO[op]
    return None


class ProfileError(UsageError):
    def __init__(self, path: str, line: int, msg: str):
        super().__init__(f"{path}:{line}: {msg}")
        self.path, self.line, self.msg = path, line, msg


@dataclass
class Template:
    name: str
    hv_clobbers: int
    insns: list
    line: int


@dataclass
class Profile:
    path: str
    hypervisor: str
    entries: list = field(default_factory=list)  # rom.Entry, in order
    overrides: list = field(default_factory=list)  # rom.Override
    templates: dict = field(default_factory=dict)
    line: int = 0  # of the hypervisor statement

    def rom(self) -> Rom:
        return Rom(self.hypervisor, self.entries, self.overrides)


# --- operands ----------------------------------------------------------------

def _reg_nums(gen) -> dict:
    return {names[0]: n for n, names in enumerate(gen.REGS)}


def operand_name(gen, o: int) -> str | None:
    """Profile spelling of an operand byte; None if it names nothing."""
    if o < 16:
        return gen.REGS[o][0]
    if gen.PVT_ARG0 <= o < gen.PVT_ARG0 + len(gen.REG_SLOTS) - 1:
        return f"arg{o - gen.PVT_ARG0}"
    if o == gen.PVT_RET:
        return "ret"
    if gen.PVT_SCRATCH0 <= o < gen.PVT_SCRATCH0 + gen.PVT_MAX_SCRATCH:
        return f"scratch{o - gen.PVT_SCRATCH0}"
    if gen.PVT_IMM0 <= o < gen.PVT_IMM0 + gen.PVT_MAX_PARAMS:
        return f"param{o - gen.PVT_IMM0}"
    return None


def _operand_bytes(gen) -> dict:
    out = {}
    for o in range(256):
        n = operand_name(gen, o)
        if n is not None:
            out[n] = o
    return out


def _is_param(gen, o: int) -> bool:
    return gen.PVT_IMM0 <= o < gen.PVT_IMM0 + gen.PVT_MAX_PARAMS


def _is_place(gen, o: int) -> bool:
    """A register or a register hole (not rsp, not a param)."""
    return (o < 16 and o != _reg_nums(gen)["rsp"]) or (
        operand_name(gen, o) is not None and not _is_param(gen, o))


def num_text(v: int) -> str:
    return str(v) if v < 0x1000 else f"{v:#x}"


def regs_text(gen, mask: int) -> str:
    return " ".join(gen.REGS[r][0] for r in range(16) if mask >> r & 1)


# --- checks of the profile compiler -------------------------------------------
#
# A guest's verdict on a ROM is the guest's code (`pvrom dump` asks
# build/tools/pvrom-sim); these checks only make `pvrom build` refuse, with
# file:line, templates no site could take.

def insn_problems(gen, i: Insn) -> list[str]:
    """Why one instruction cannot be written in profile syntax (empty when it
    can): the generated table's shape, widths and operand kinds."""
    oi = opcode_info(gen, i.op)
    if oi is None:
        return [f"opcode {i.op} is not an instruction"]
    mn, shape = oi["mnemonic"], oi["shape"]
    bad = []
    if i.width not in oi["widths"]:
        bad.append(f"{mn}: width {i.width} (allowed: {' '.join(map(str, oi['widths']))})")
    if i.reserved:
        bad.append(f"{mn}: reserved field {i.reserved:#x} is not 0")
    none = gen.PVT_NONE
    if shape != "NONE" and not _is_place(gen, i.dst):
        bad.append(f"{mn}: bad destination {i.dst:#04x}")
    if shape == "REG_REG" and not _is_place(gen, i.src):
        bad.append(f"{mn}: bad source {i.src:#04x}")
    if shape == "REG_IMM":
        if i.src != none and not _is_param(gen, i.src):
            bad.append(f"{mn}: source {i.src:#04x} is neither a param nor none")
        if i.src == none and i.width == 4 and i.imm > 0xFFFFFFFF:
            bad.append(f"{mn}: immediate {i.imm:#x} does not fit 32 bits")
    if shape == "REG_COUNT" and i.imm >= i.width * 8:
        bad.append(f"{mn}: shift count {i.imm} out of range")
    if shape in ("REG", "REG_COUNT") and i.src != none:
        bad.append(f"{mn}: source {i.src:#04x} must be none")
    if shape == "NONE" and (i.dst != none or i.src != none):
        bad.append(f"{mn}: takes no operands")
    return bad


def template_problems(gen, insns, op: dict | None) -> list[str]:
    """Whole-template checks against the op it is used for (None: unknown)."""
    bad = []
    if not insns:
        return ["no instructions"]
    if len(insns) > gen.PVT_MAX_INSNS:
        bad.append(f"{len(insns)} instructions (at most {gen.PVT_MAX_INSNS})")
    depth = 0
    for i in insns:
        if i.op == gen.PVT_PUSH:
            depth += 1
        elif i.op == gen.PVT_POP:
            depth -= 1
            if depth < 0:
                bad.append("pop of an empty stack")
                depth = 0
    if depth:
        bad.append(f"{depth} push{'' if depth == 1 else 'es'} without a pop")
    if op is None:
        return bad
    nargs, nouts = len(op["ins"]), len(op["outs"])
    writes_ret = False
    for i in insns:
        for o, what in ((i.dst, "dst"), (i.src, "src")):
            if gen.PVT_ARG0 <= o < gen.PVT_ARG0 + 4 and o - gen.PVT_ARG0 >= nargs:
                bad.append(f"uses arg{o - gen.PVT_ARG0}, but {op['name']} has "
                           f"{nargs} input{'' if nargs == 1 else 's'}")
            if o == gen.PVT_RET and not nouts:
                bad.append(f"uses ret, but {op['name']} returns nothing")
        oi = opcode_info(gen, i.op)
        if i.dst == gen.PVT_RET and oi and oi["writes_dst"]:
            writes_ret = True
    if nouts and not writes_ret:
        bad.append(f"never writes ret, the result of {op['name']}")
    return bad


# --- rendering (the inverse of the parser) ---------------------------------

def insn_text(gen, i: Insn) -> str:
    """One instruction in profile syntax; `.insn` with the raw fields when it
    is not a valid instruction."""
    if insn_problems(gen, i):
        return (f".insn op={i.op} dst={i.dst:#04x} src={i.src:#04x} "
                f"width={i.width} imm={i.imm:#x} reserved={i.reserved:#x}")
    oi = opcode_info(gen, i.op)
    mn, shape = oi["mnemonic"], oi["shape"]
    w = {4: ".32", 8: ".64"}[i.width]
    if oi["default_width"]:
        suffix = "" if i.width == oi["default_width"] else w
        if shape == "REG":
            return f"{mn}{suffix} {operand_name(gen, i.dst)}"
        return mn + suffix
    dst = operand_name(gen, i.dst)
    if shape == "REG_REG":
        return f"{mn}{w} {dst}, {operand_name(gen, i.src)}"
    if shape == "REG_IMM" and i.src != gen.PVT_NONE:
        return f"{mn}{w} {dst}, {operand_name(gen, i.src)}"
    return f"{mn}{w} {dst}, {num_text(i.imm)}"


def cond_text(gen, e: Entry) -> str:
    """`if ...` for a condition ('' for always)."""
    if e.cond == gen.ROM_COND_ALWAYS:
        return ""
    if e.cond == gen.ROM_COND_KVM_BIT:
        return f"if kvm:{kvm_bit_names(gen).get(e.cond_arg, e.cond_arg)}"
    if e.cond == gen.ROM_COND_VMPORT:
        return "if vmport"
    if e.cond == gen.ROM_COND_VMPORT_GETHZ:
        return "if vmport:gethz"
    return f"if ?{e.cond}"


def render(gen, rom: Rom, header_comment: str = "", verdicts: dict | None = None) -> str:
    """A ROM as profile text; a ROM without findings reads back as the same
    entries (template names, absent from ROMs, are made up).  verdicts:
    entry index -> the guest's problems with it (pvlib.verdict), printed as
    comments."""
    verdicts = verdicts or {}
    L = []
    if header_comment:
        L += [f"# {line}" for line in header_comment.splitlines()]
    L.append(f"hypervisor {rom.hypervisor}")
    names = {}  # (insns, hv_clobbers) -> name
    ops_lines = []
    every = sorted(gen.OPS)
    k = 0
    while k < len(rom.entries):
        e = rom.entries[k]
        run = rom.entries[k:k + len(every)]
        if (not e.insns and [x.op for x in run] == every and
                all(x.key()[1:] == e.key()[1:] for x in run) and
                not any(verdicts.get(j) for j in range(k, k + len(run)))):
            c = cond_text(gen, e)
            ops_lines.append(f"op * {gen.MODES[e.mode]}" + (f" {c}" if c else ""))
            k += len(every)
            continue
        k += 1
        op = gen.OPS.get(e.op)
        opname = op["name"] if op else None
        mode = gen.MODES[e.mode] if e.mode < len(gen.MODES) else f"?{e.mode}"
        words = ["op", opname or str(e.op), mode]
        if e.insns:
            key = (tuple(e.insns), e.hv_clobbers)
            if key not in names:
                base = f"t-{opname or e.op}"
                name, n = base, 2
                while name in names.values():
                    name, n = f"{base}-{n}", n + 1
                names[key] = name
                clob = regs_text(gen, e.hv_clobbers)
                L.append("")
                L.append(f"template {name}" + (f" clobbers {clob}" if clob else ""))
                L += [f"    {insn_text(gen, i)}" for i in e.insns]
                L.append("end")
            words.append(names[key])
        params = list(e.params)
        while params and params[-1] == 0:
            params.pop()
        if params:
            words += ["params"] + [num_text(p) for p in params]
        c = cond_text(gen, e)
        if c:
            words.append(c)
        text = " ".join(words)
        notes = list(verdicts.get(k - 1, []))
        if e.extra:
            notes.append(f"{len(e.extra)} bytes of fields from a newer version")
        if not op:
            ops_lines.append(f"# {text}   (op number unknown to this build: ignored)")
        else:
            ops_lines.append(text + (f"   # {'; '.join(notes)}" if notes else ""))
    L.append("")
    L += ops_lines
    for o in rom.overrides:
        mode = gen.MODES[o.mode] if o.mode < len(gen.MODES) else f"?{o.mode}"
        L.append(f"site {o.func}+{o.offset:#x} {mode}")
    return "\n".join(L) + "\n"


# --- the parser ----------------------------------------------------------------

class _Parser:
    def __init__(self, gen, path: str):
        self.gen = gen
        self.path = path
        self.regs = _reg_nums(gen)
        self.operands = _operand_bytes(gen)
        self.ops_by_name = {op["name"]: op for op in gen.OPS.values()}
        self.hypervisor = None
        self.hv_line = 0
        self.templates = {}
        self.entries = []
        self.overrides = []
        self.tmpl = None  # template being read

    def err(self, line, msg):
        raise ProfileError(self.path, line, msg)

    def number(self, line, tok, what, limit):
        if not _NUM.match(tok):
            self.err(line, f"{what}: '{tok}' is not a number")
        v = int(tok, 0)
        if v > limit:
            self.err(line, f"{what}: {tok} is out of range (at most {num_text(limit)})")
        return v

    def reg(self, line, tok):
        if tok not in self.regs:
            self.err(line, f"unknown register '{tok}' (rax..r15)")
        if tok == "rsp":
            self.err(line, "rsp cannot be named")
        return self.regs[tok]

    # statements --------------------------------------------------------------

    def parse(self, text: str) -> Profile:
        last = 0
        for n, raw in enumerate(text.splitlines(), 1):
            last = n
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            if self.tmpl is not None:
                if words == ["end"]:
                    self.end_template(n)
                elif words[0] in ("hypervisor", "template", "op", "site"):
                    self.err(n, f"'{words[0]}' inside template {self.tmpl.name} "
                             f"(line {self.tmpl.line}): missing 'end'")
                else:
                    self.insn(n, raw.split("#", 1)[0].strip())
                continue
            kw = words[0]
            if kw == "hypervisor":
                self.hypervisor_stmt(n, words[1:])
            elif kw == "template":
                self.template_stmt(n, words[1:])
            elif kw == "op":
                self.op_stmt(n, words[1:])
            elif kw == "site":
                self.site_stmt(n, words[1:])
            elif kw == "end":
                self.err(n, "'end' outside a template")
            else:
                self.err(n, f"unknown statement '{kw}' (hypervisor, template, op, site)")
        if self.tmpl is not None:
            self.err(self.tmpl.line, f"template {self.tmpl.name} has no 'end'")
        if self.hypervisor is None:
            self.err(max(last, 1), "no 'hypervisor NAME' statement")
        return Profile(self.path, self.hypervisor, self.entries, self.overrides,
                       self.templates, self.hv_line)

    def hypervisor_stmt(self, n, args):
        if self.hypervisor is not None:
            self.err(n, f"second 'hypervisor' statement (the first is on line {self.hv_line})")
        if len(args) != 1:
            self.err(n, "usage: hypervisor NAME")
        name = args[0]
        if not _NAME.match(name) or not name.isascii():
            self.err(n, f"bad hypervisor name '{name}' (letters, digits, . _ + -)")
        if len(name) > hypervisor_max(self.gen):
            self.err(n, f"hypervisor name '{name}' is longer than {hypervisor_max(self.gen)} "
                     "characters (the ROM's hypervisor field)")
        self.hypervisor, self.hv_line = name, n

    def template_stmt(self, n, args):
        if not args:
            self.err(n, "usage: template NAME [clobbers REG...]")
        name = args[0]
        if not _NAME.match(name) or name in ("params", "if", "clobbers"):
            self.err(n, f"bad template name '{name}'")
        if name in self.templates:
            self.err(n, f"template {name} already defined on line {self.templates[name].line}")
        mask = 0
        if len(args) > 1:
            if args[1] != "clobbers" or len(args) == 2:
                self.err(n, "usage: template NAME [clobbers REG...]")
            for r in args[2:]:
                bit = 1 << self.reg(n, r)
                if mask & bit:
                    self.err(n, f"register {r} named twice")
                mask |= bit
        self.tmpl = Template(name, mask, [], n)
        self.tmpl_lines = []

    def end_template(self, n):
        t = self.tmpl
        if not t.insns:
            self.err(t.line, f"template {t.name} has no instructions")
        for msg in template_problems(self.gen, t.insns, None):
            self.err(t.line, f"template {t.name}: {msg}")
        self.templates[t.name] = t
        self.tmpl = None

    def insn(self, n, text):
        gen = self.gen
        m = re.match(r"([a-z]+)(?:\.(32|64))?(?:\s+(.*))?$", text)
        if not m:
            self.err(n, f"cannot read instruction '{text}'")
        mn, w, rest = m.group(1), m.group(2), (m.group(3) or "").strip()
        if mn not in gen.PVT_MNEMONICS:
            self.err(n, f"unknown instruction '{mn}' ({', '.join(gen.PVT_MNEMONICS)})")
        opcode = gen.PVT_MNEMONICS[mn]
        oi = gen.PVT_OPCODE_INFO[opcode]
        kind = oi["shape"]
        ops = [o.strip() for o in rest.split(",")] if rest else []
        want = _NOPERANDS[kind]
        if len(ops) != want or any(not o for o in ops):
            self.err(n, f"{mn} takes {want} operand(s)")
        if w is None:
            if not oi["default_width"]:
                self.err(n, f"{mn} needs a width: {mn}.32 or {mn}.64")
            width = oi["default_width"]
        else:
            width = int(w) // 8
            if width not in oi["widths"]:
                self.err(n, f"{mn} is {'/'.join(str(8 * x) for x in oi['widths'])}-bit only")
        none = gen.PVT_NONE
        dst = src = none
        imm = 0
        if want >= 1:
            dst = self.place(n, ops[0], mn)
        if kind == "REG_REG":
            src = self.place(n, ops[1], mn)
        elif kind == "REG_IMM":
            if ops[1] in self.operands and _is_param(gen, self.operands[ops[1]]):
                src = self.operands[ops[1]]
            else:
                imm = self.number(n, ops[1], f"{mn} immediate",
                                  0xFFFFFFFF if width == 4 else (1 << 64) - 1)
        elif kind == "REG_COUNT":
            imm = self.number(n, ops[1], f"{mn} count", width * 8 - 1)
        i = Insn(opcode, dst, src, width, imm)
        bad = insn_problems(gen, i)
        if bad:  # the parser should not be able to get here
            self.err(n, bad[0])
        self.tmpl.insns.append(i)
        if len(self.tmpl.insns) > gen.PVT_MAX_INSNS:
            self.err(n, f"template {self.tmpl.name} has more than "
                     f"{gen.PVT_MAX_INSNS} instructions")

    def place(self, n, tok, mn):
        o = self.operands.get(tok)
        if tok == "rsp":
            self.err(n, "rsp cannot be a template operand")
        if o is None or _is_param(self.gen, o):
            self.err(n, f"{mn}: bad operand '{tok}' (rax..r15, arg0-3, ret, "
                     "scratch0-1" + (")" if o is None else "; params only in movi)"))
        return o

    def op_stmt(self, n, args):
        gen = self.gen
        usage = "usage: op OP MODE [TEMPLATE] [params N...] [if COND]"
        if len(args) < 2:
            self.err(n, usage)
        name, mode = args[0], args[1]
        if name == "*":
            ops = [gen.OPS[k] for k in sorted(gen.OPS)]
        elif name in self.ops_by_name:
            ops = [self.ops_by_name[name]]
        else:
            self.err(n, f"unknown op '{name}'")
        if mode not in gen.MODES:
            self.err(n, f"unknown mode '{mode}' ({', '.join(gen.MODES)})")
        rest = args[2:]
        tmpl = None
        if rest and rest[0] not in ("params", "if"):
            tname = rest.pop(0)
            if tname not in self.templates:
                self.err(n, f"unknown template '{tname}' (define it above)")
            tmpl = self.templates[tname]
        params = [0] * gen.PVT_MAX_PARAMS
        if rest and rest[0] == "params":
            rest.pop(0)
            k = 0
            while rest and rest[0] != "if":
                if k == gen.PVT_MAX_PARAMS:
                    self.err(n, f"at most {gen.PVT_MAX_PARAMS} params")
                params[k] = self.number(n, rest.pop(0), "param", (1 << 64) - 1)
                k += 1
            if k == 0:
                self.err(n, "'params' without a value")
        cond, arg = gen.ROM_COND_ALWAYS, 0
        if rest and rest[0] == "if":
            if len(rest) != 2:
                self.err(n, "usage: ... if COND (kvm:BIT, vmport or vmport:gethz)")
            cond, arg = self.cond(n, rest[1])
            rest = []
        if rest:
            self.err(n, f"unexpected '{rest[0]}': {usage}")
        if mode == "INLINE":
            if tmpl is None:
                self.err(n, "INLINE needs a template")
            if name == "*":
                self.err(n, "op *: INLINE needs one op")
        elif tmpl is not None:
            self.err(n, f"a template is only for INLINE, not {mode}")
        elif any(params):
            self.err(n, "params are only for INLINE templates")
        if name == "*":
            bad = [op["name"] for op in ops if mode not in op["modes"]]
            if bad:
                more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
                self.err(n, f"op *: mode {mode} is not allowed for "
                         f"{', '.join(bad[:3])}{more}")
        for op in ops:
            if mode not in op["modes"]:
                self.err(n, f"mode {mode} is not allowed for {op['name']} "
                         f"(allowed: {' '.join(op['modes'])})")
            if tmpl is not None:
                for msg in template_problems(gen, tmpl.insns, op):
                    self.err(n, f"template {tmpl.name} for {op['name']}: {msg}")
            e = Entry(op=op["abi"], mode=gen.MODES.index(mode), cond=cond,
                      cond_arg=arg, hv_clobbers=tmpl.hv_clobbers if tmpl else 0,
                      params=tuple(params),
                      insns=tuple(tmpl.insns) if tmpl else (),
                      template=tmpl.name if tmpl else None, line=n)
            for old in self.entries:
                if old.op == e.op and self.shadows((cond, arg), (old.cond, old.cond_arg)):
                    self.err(n, f"op {op['name']}: this entry always overrides "
                             f"the one on line {old.line} (for an op, the last "
                             "entry whose condition holds wins)")
            self.entries.append(e)
        if len(self.entries) > gen.ROM_MAX_ENTRIES:
            self.err(n, f"more than {gen.ROM_MAX_ENTRIES} entries")

    def shadows(self, later, earlier) -> bool:
        """Whenever `earlier` holds, so does `later` (which then wins)."""
        gen = self.gen
        return (later[0] == gen.ROM_COND_ALWAYS or later == earlier or
                (later[0] == gen.ROM_COND_VMPORT and earlier[0] == gen.ROM_COND_VMPORT_GETHZ))

    def cond(self, n, tok):
        gen = self.gen
        if tok == "vmport":
            return gen.ROM_COND_VMPORT, 0
        if tok == "vmport:gethz":
            return gen.ROM_COND_VMPORT_GETHZ, 0
        if tok.startswith("kvm:"):
            bit = tok[4:]
            if bit in gen.KVM_FEATURES:
                return gen.ROM_COND_KVM_BIT, gen.KVM_FEATURES[bit]
            if _NUM.match(bit):
                return gen.ROM_COND_KVM_BIT, self.number(n, bit, "KVM feature bit", 31)
            self.err(n, f"unknown KVM feature '{bit}' "
                     f"({', '.join(sorted(gen.KVM_FEATURES))}, or a bit number)")
        self.err(n, f"unknown condition '{tok}' (kvm:BIT, vmport, vmport:gethz)")

    def site_stmt(self, n, args):
        gen = self.gen
        if len(args) != 2:
            self.err(n, "usage: site FUNC+0xOFF MODE")
        m = re.match(r"(.+)\+(\S+)$", args[0])
        if not m:
            self.err(n, f"'{args[0]}' is not FUNC+0xOFF")
        func = m.group(1)
        if not _FUNC.match(func):
            self.err(n, f"bad function name '{func}'")
        if len(func) > func_max(gen):
            self.err(n, f"function name '{func}' is longer than {func_max(gen)} characters")
        off = self.number(n, m.group(2), "site offset", 0xFFFFFFFF)
        if args[1] not in gen.MODES:
            self.err(n, f"unknown mode '{args[1]}' ({', '.join(gen.MODES)})")
        for o in self.overrides:
            if (o.func, o.offset) == (func, off):
                self.err(n, f"site {func}+{off:#x} already overridden on line {o.line}")
        if len(self.overrides) == gen.ROM_MAX_OVERRIDES:
            self.err(n, f"site override {len(self.overrides) + 1}: a ROM holds at most "
                     f"{gen.ROM_MAX_OVERRIDES} (the guest refuses one with more)")
        self.overrides.append(Override(func, off, gen.MODES.index(args[1]), line=n))


def parse(gen, text: str, path: str) -> Profile:
    return _Parser(gen, path).parse(text)


def load(gen, path: str) -> Profile:
    data = read_input(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProfileError(path, data[:e.start].count(b"\n") + 1, "not UTF-8 text") from None
    return parse(gen, text, path)
