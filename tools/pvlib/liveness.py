# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Register liveness after each site, from the compiled code.

For every site the pass computes the general registers that are dead right
after it (at site + site_len) by a backward fixpoint over the containing
function's instructions, IN = USE | (OUT & ~DEF), the approach of Dyninst's
and BOLT's liveness analyses.  Those registers may be added to the record's
`clobbers` mask: whatever the site becomes later (INLINE template, CALL, a
poisoning test mode) may then overwrite them.

Being wrong in one direction costs a saved register; in the other it
corrupts a kernel.  So everything the pass cannot see through counts as
"every register live":

- a function is delimited only by an STT_FUNC symbol with a size; a site
  outside every such symbol, or in a function whose bytes do not decode as
  one linear sequence of instructions and sites (a jump into the middle of
  one, code running off the end), is not widened;
- an indirect jump (a switch table, a computed goto), and a jump into
  another function's bytes or to a GCC cold partition (`foo.cold`), are
  exits at which everything is live;
- an instruction whose register effects capstone does not report fully
  (CONSERVATIVE_INSNS: traps, hypercalls, system calls and returns,
  `enter`, `xlat`, ...) reads every register;
- a site in another site's bytes, a site whose record does not verify, and
  a `.S` site (flag ASM) whose file did not opt in (pvpatch_liveness_opt_in)
  is not widened.

The ABI (System V x86-64) seeds the exits and models calls:

- `ret` (and `jmp __x86_return_thunk`): rax, rdx, the callee-saved
  registers and rsp are live;
- a jump out of the function (tail call): the argument registers, rax (the
  vector-register count of a variadic callee), the callee-saved registers
  and rsp are live;
- a call reads the argument registers and rax, and writes every
  caller-saved register; a call through a retpoline thunk
  (`__x86_indirect_thunk_REG`) also reads REG.

Other sites in the function are modelled by their records, not by the
bytes they hold now (a site may be in any mode later): a site reads its
recorded argument registers and writes its *declared* clobbers (the op's
clobbers, its output, the registers its native code writes: what
pvsites verify recomputes), never its widened mask, so the result does not
depend on an earlier run of the pass (idempotent) nor trust one.

Plain C CALL backends (records in the backend section without PRESERVES;
Analysis.backends()) get the opposite question, flow-insensitive: which
caller-saved registers may the function write, anywhere?  The union of
every instruction's written registers over the function and every function
it may reach by direct calls and jumps, an over-approximation (a missed
register would be corrupted at a site calling the backend directly).  It
shares only the decoding with the site analysis: clobber_set() answers a
different question and under-approximates on purpose.  Code the pass does
not see (no function symbol there, a call the kernel redirects at run time:
REDIRECTED) writes every caller-saved register; code it cannot reason
about (indirect branches, CONSERVATIVE_INSNS, decode problems, pvpatch
sites, vector/x87/mask register writes, exception tables) leaves the
backend unanalysed.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from types import ModuleType

import capstone
from capstone import x86 as csx86

from .elfsites import SiteTable, Text

ALL = 0xFFFF


REG64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def _mask(*names: str) -> int:
    m = 0
    for n in names:
        m |= 1 << REG64.index(n)
    return m


RSP = 1 << 4
# Never called dead: rsp, and rbp, which a frame-pointer unwinder (a stack
# trace from an interrupt or NMI inside the site) reads at any instruction.
NEVER = RSP | 1 << 5
ARGS = _mask("rdi", "rsi", "rdx", "rcx", "r8", "r9")
CALLER_SAVED = _mask("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11")
CALLEE_SAVED = _mask("rbx", "rbp", "r12", "r13", "r14", "r15")
RET_LIVE = _mask("rax", "rdx") | CALLEE_SAVED | RSP
# rax: %al carries the vector-register count into a variadic callee.
CALL_USE = ARGS | _mask("rax") | RSP
TAIL_LIVE = CALL_USE | CALLEE_SAVED

# Register effects capstone 4 does not report in full (missing implicit
# reads), or control leaving for a handler that may read anything: these
# read every register.
CONSERVATIVE_INSNS = frozenset((
    "enter", "xlat", "xlatb", "ud0", "ud1", "ud2", "int", "int1", "int3", "into",
    "syscall", "sysenter", "sysexit", "sysexitq", "sysret", "sysretq",
    "iret", "iretd", "iretq", "vmcall", "vmmcall", "vmlaunch", "vmresume",
    "vmfunc", "tdcall", "seamcall", "encls", "enclu", "getsec", "rsm",
    "icebp", "lcall", "ljmp", "lret", "lretq", "lretl",
))
CONSERVATIVE_GROUPS = frozenset((csx86.X86_GRP_INT, csx86.X86_GRP_IRET,
                                 csx86.X86_GRP_VM))
RETPOLINE = re.compile(r"__x86_indirect_(?:call_|jump_)?thunk_(r\w+)$")
RETURN_THUNKS = frozenset(("__x86_return_thunk", "__x86_return_thunk_ret"))
# Backend write sets: calls the kernel redirects at run time to code the
# pass does not see (ftrace's __fentry__/mcount, retpolines and call-depth
# thunks, static-call trampolines) write every caller-saved register.
REDIRECTED = re.compile(r"(?:__fentry__|_?mcount|__x86_indirect_(?:call_|jump_)?thunk_\w+"
                        r"|__SCT__\w+)$")
# Registers no site or thunk saves: a backend writing one is not analysed.
VECTOR_REG = re.compile(r"(?:[xyz]mm\d+|k[0-7]|mm[0-7]|st\(\d\)|st\d?|fp(?:sw|cw|tag)|mxcsr)$")
# Instructions that load vector/x87 state capstone 4 reports no write for.
VECTOR_STATE_INSNS = ("fxrstor", "xrstor", "frstor", "fldenv", "fldcw", "ldmxcsr",
                      "vldmxcsr", "emms", "femms", "finit", "fninit")
# A backend that may run more functions than this is not analysed (the
# pass stays fast on a kernel whose backend calls into, say, printk).
MAX_CLOSURE = 500
# Register writes capstone 4 leaves out: implicit ones (cmpxchg loads rax
# on failure), and explicit ones its operand access gets wrong (shld %cl
# marks its destination read-only).  Against the latter the backend analysis
# counts the last AT&T operand of every instruction with two or more
# operands as written when it is a register, unless the instruction only
# compares or sends it (READ_ONLY_DEST): too much is safe, too little not.
IMPLICIT_WRITES = {"cmpxchg": 1 << 0, "cmpxchgb": 1 << 0, "cmpxchgw": 1 << 0,
                   "cmpxchgl": 1 << 0, "cmpxchgq": 1 << 0}
READ_ONLY_DEST = re.compile(r"(?:cmp|test|bt|out|invpcid|bound)[bwlq]?$")
# Zeroing idioms: `xor %eax, %eax` reads nothing (capstone says eax).
ZEROING = frozenset(m + s for m in ("xor", "sub", "sbb") for s in ("", "b", "w", "l", "q"))
# Exception tables (Linux's): a faulting instruction resumes at a fixup
# label, an edge no instruction shows.  A file with one is not analysed.
EXCEPTION_TABLES = frozenset(("__ex_table", ".fixup", "__ex_table_fixup"))


@dataclass
class Node:
    pos: int  # address (text.addr + offset)
    size: int
    text: str  # for messages
    use: int = 0
    defs: int = 0
    succ: list[int] = field(default_factory=list)  # addresses
    site: object | None = None  # the verify.Site of a site pseudo-instruction
    mnem: str = ""
    writes: int = 0  # every register written, partly or whole
    push_reg: int | None = None
    exit: str | None = None  # "ret", "tail", "all": control leaves here
    extra_live: int = 0
    callee: object = False  # call/tail: function key, None unknown; False: none


@dataclass
class FuncWrites:
    """What one function's own bytes may write (Analysis._func_writes)."""
    writes: int = 0  # general registers, every instruction, any path
    starts: frozenset = frozenset()  # instruction addresses
    problem: str | None = None  # not analysable, and why
    vector: bool = False  # ... because it writes a vector/x87/mask register
    unknown: str | None = None  # reaches code the pass does not see: all caller-saved
    out: list = field(default_factory=list)  # (function key, entry address or None)


@dataclass
class BackendWrites:
    """The pass's verdict on one plain CALL backend record."""
    rec: object  # elfsites.BackendRecord
    where: str  # func+0xNN of fn
    writes: int | None  # caller-saved registers it may write; None: not analysed
    reason: str | None = None  # why not analysed, or why every register
    vector: bool = False  # not analysed because of a vector/x87/mask register
    funcs: list[str] = field(default_factory=list)  # functions it may run


@dataclass
class FuncResult:
    name: str
    start: int
    problem: str | None = None  # why nothing in it is widened
    where_problem: int = 0  # address the problem is at
    live_after: dict[int, int] = field(default_factory=dict)  # site pos -> live mask
    notes: list[tuple[int, str]] = field(default_factory=list)  # conservative spots


@dataclass
class SiteLiveness:
    site: object  # verify.Site
    declared: int | None
    live: int | None  # registers live after the site; None: not analysed
    reason: str | None  # why not analysed
    func: str | None = None

    @property
    def dead(self) -> int:
        return 0 if self.live is None else ALL & ~self.live & ~NEVER

    @property
    def widened(self) -> int:
        """The mask the pass writes: declared plus dead."""
        if self.declared is None:
            return self.site.rec.fields["clobbers"]
        return self.declared | self.dead


class Analysis:
    def __init__(self, table: SiteTable, gen: ModuleType, sites: list):
        self.t = table
        self.gen = gen
        self.sites = sites
        self.md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        self.md.syntax = capstone.CS_OPT_SYNTAX_ATT
        self.md.detail = True
        self.reg_num: dict[str, int] = {}
        for num, names in enumerate(gen.REGS):
            for n in names:
                self.reg_num[n] = num
        for n, num in (("ah", 0), ("ch", 1), ("dh", 2), ("bh", 3)):
            self.reg_num[n] = num
        self.full = {n for names in gen.REGS for n in names[:2]}  # 64/32-bit writes kill
        self.funcs: dict[tuple[int, int], FuncResult] = {}
        self.decoded: dict[tuple[int, int], tuple] = {}
        self.cs: dict[tuple[int, int], int] = {}
        self.fw: dict[tuple[int, int], FuncWrites] = {}
        self.func_names: dict[int, list[str]] | None = None
        self.site_index: dict | None = None
        self.refs: set[tuple[int, int]] | None = None
        self.ref_names: set[str] = set()
        self.results: list[SiteLiveness] = []

    # -- per site --------------------------------------------------------------
    def run(self) -> list[SiteLiveness]:
        overlapped = self._overlapped()
        for s in self.sites:
            self.results.append(self._site(s, overlapped))
        return self.results

    def _overlapped(self) -> set[int]:
        placed = sorted((s for s in self.sites if s.rec.text and s.op),
                        key=lambda s: (s.rec.text.index, s.rec.offset))
        bad = set()
        for a, b in zip(placed, placed[1:]):
            if (a.rec.text is b.rec.text
                    and b.rec.offset < a.rec.offset + a.rec.fields["site_len"]):
                bad.add(id(a))
                bad.add(id(b))
        return bad

    def _site(self, s, overlapped: set[int]) -> SiteLiveness:
        declared = getattr(s, "declared", None)
        f = s.rec.fields
        if s.rec.text is None or s.op is None or declared is None:
            return SiteLiveness(s, declared, None, "record does not verify")
        if id(s) in overlapped:
            return SiteLiveness(s, declared, None, "site inside another site's bytes")
        if f["flags"] & self.gen.FLAG_ASM and \
                (s.rec.text.index, s.rec.offset) not in self.t.liveness_opt_in:
            return SiteLiveness(s, declared, None,
                                ".S site, file not opted in (pvpatch_liveness_opt_in)")
        extable = EXCEPTION_TABLES & self.t.section_names
        if extable:
            return SiteLiveness(s, declared, None, f"the file has an exception table "
                                f"({min(extable)}): fixup edges are not modelled")
        fn = self._func_of(s.rec.text, s.rec.offset, f["site_len"])
        if fn is None:
            return SiteLiveness(s, declared, None, "no function symbol with a size "
                                "around the site")
        res = self._analyse(s.rec.text, *fn)
        if res.problem:
            return SiteLiveness(s, declared, None, res.problem, res.name)
        live = res.live_after.get(s.rec.addr)
        if live is None:
            return SiteLiveness(s, declared, None, "site not reached by the decoder", res.name)
        return SiteLiveness(s, declared, live, None, res.name)

    def _func_of(self, text: Text, offset: int, length: int):
        pos = text.addr + offset
        for start, end, name in self.t.funcs.get(text.index, []):
            if start <= pos and pos + length <= end:
                return start, end, name
        return None

    # -- per function --------------------------------------------------------------
    def _analyse(self, text: Text, start: int, end: int, name: str) -> FuncResult:
        key = (text.index, start)
        if key not in self.funcs:
            self.funcs[key] = self._dataflow(text, start, end, name)
        return self.funcs[key]

    def _regs(self, regs, insn) -> int:
        m = 0
        for r in regs:
            n = self.reg_num.get(insn.reg_name(r))
            if n is not None:
                m |= 1 << n
        return m

    def _kills(self, regs, insn) -> int:
        m = 0
        for r in regs:
            nm = insn.reg_name(r)
            if nm in self.full:
                m |= 1 << self.reg_num[nm]
        return m

    def _target(self, text: Text, insn):
        """(function key or None, symbol name or None) of a direct branch."""
        name = None
        if self.t.relocatable:
            for off in range(1, insn.size):
                name = self.t.text_relocs.get((text.index, insn.address - text.addr + off))
                if name:
                    break
            if name:
                for idx, funcs in self.t.funcs.items():
                    for start, end, fname in funcs:
                        if fname == name:
                            return (idx, start, end, fname), name, True
                return None, name, True
            # resolved by the assembler: an offset in this section
        op = insn.operands[0] if insn.operands else None
        if op is None or op.type != csx86.X86_OP_IMM:
            return None, None, False
        if not self.t.relocatable:
            name = self.t.symbols_by_addr.get(op.imm)
        idxs = [text.index] if self.t.relocatable else list(self.t.funcs)
        for idx in idxs:
            for start, end, fname in self.t.funcs.get(idx, []):
                if start == op.imm and end > start:
                    return (idx, start, end, fname), name or fname, False
        return None, name, False

    def _decode(self, text: Text, start: int, end: int, name: str):
        """The function as nodes (instructions and site pseudo-instructions),
        or a problem and where."""
        key = (text.index, start)
        if key in self.decoded:
            return self.decoded[key]
        self.decoded[key] = out = self._decode1(text, start, end, name)
        return out

    def _site_index(self, text: Text):
        """The sites in text with a known op, by address (stable: records
        at one address keep their order), and their addresses."""
        if self.site_index is None:
            self.site_index = {}
            for s in self.sites:
                if s.rec.text is not None and s.op is not None:
                    self.site_index.setdefault(s.rec.text.index, []).append(s)
            for idx, lst in self.site_index.items():
                lst.sort(key=lambda s: s.rec.addr)
                self.site_index[idx] = ([s.rec.addr for s in lst], lst)
        return self.site_index.get(text.index, ([], []))

    def _decode1(self, text: Text, start: int, end: int, name: str):
        addrs, placed = self._site_index(text)
        sites = placed[bisect.bisect_left(addrs, start):bisect.bisect_left(addrs, end)]
        nodes: list[Node] = []
        pos = start
        data = text.data
        k = 0
        while pos < end:
            if k < len(sites) and pos == sites[k].rec.addr:
                s = sites[k]
                k += 1
                n = s.rec.fields["site_len"]
                if k < len(sites) and sites[k].rec.addr < pos + n:
                    return None, "site inside another site's bytes", sites[k].rec.addr
                if pos + n > end:
                    return None, "site runs past the end of the function", pos
                node = Node(pos, n, f"site {s.op['name']}", site=s)
                decl = getattr(s, "declared", None)
                if decl is None:
                    node.use = ALL
                else:
                    node.use = self._site_args(s)
                    node.defs = decl
                    node.writes = decl
                node.succ = [pos + n]
                nodes.append(node)
                pos += n
                continue
            if k < len(sites) and sites[k].rec.addr < pos:
                return None, "site not at an instruction boundary", sites[k].rec.addr
            off = pos - text.addr
            insn = next(self.md.disasm(data[off:min(off + 15, end - text.addr)], pos, 1), None)
            if insn is None:
                return None, "cannot decode the instruction here", pos
            nodes.append(self._node(text, insn, start, end))
            pos += insn.size
        index = {n.pos: i for i, n in enumerate(nodes)}
        for n in nodes:
            for t in n.succ:
                if t == end:  # falls off the end (a noreturn call last, say)
                    n.exit = "all"
                elif t not in index:
                    return None, f"branch to {name}+{t - start:#x}, not an instruction start", n.pos
        return nodes, None, 0

    def clobber_set(self, fkey) -> int:
        """Registers function fkey clobbers as compiled, as GCC's -fipa-ra
        sees it in its callers (registers it writes, its sites' declared
        masks, what its callees clobber; not those it pushes), or less: an
        under-approximation is the safe side for both uses (what a call to it
        kills, what its callers may keep live across it)."""
        if fkey is None:
            return CALLER_SAVED
        key = (fkey[0], fkey[1])
        if key in self.cs:
            return self.cs[key]
        self.cs[key] = 0  # recursion: assume nothing
        text = self.t.texts.get(fkey[0])
        nodes, problem, _ = self._decode(text, fkey[1], fkey[2], fkey[3])
        if problem:
            return 0
        cs = pushed = 0
        for n in nodes:
            if n.callee is not False:
                cs |= self.clobber_set(n.callee)
            if n.mnem == "push" and n.push_reg is not None:
                pushed |= n.push_reg
            elif n.mnem != "pop":
                cs |= n.writes
        self.cs[key] = cs & ~pushed & ~RSP
        return self.cs[key]

    # -- plain CALL backends: what they may write --------------------------------
    def backends(self) -> list[BackendWrites]:
        """A verdict for every backend record without PRESERVES."""
        return [self.backend_writes(r) for r in self.t.backends
                if not r.fields["flags"] & self.gen.BACKEND_F_PRESERVES]

    def func_containing(self, text: Text, addr: int):
        """The function key (section, start, end, name) of the STT_FUNC
        symbol with a size whose bytes hold addr, or None."""
        best = None
        for start, end, name in self.t.funcs.get(text.index, []):
            if start <= addr < end and (best is None or start == addr):
                best = (text.index, start, end, name)
        return best

    def backend_writes(self, rec) -> BackendWrites:
        """The caller-saved registers the function at rec's fn may write,
        every instruction of it and of every function it may call or jump
        to (the closure over direct calls and jumps, so recursion needs no
        guess), or why that is not known.  An over-approximation: a missed
        register would be corrupted in a kernel that keeps it live."""
        if rec.text is None:
            return BackendWrites(rec, f"backend record {rec.index}", None, rec.problem)
        where = self.t.where(rec.text, rec.offset)
        extable = EXCEPTION_TABLES & self.t.section_names
        if extable:
            return BackendWrites(rec, where, None, f"the file has an exception table "
                                 f"({min(extable)}): a fixup handler may write registers "
                                 "no instruction shows")
        root = self.func_containing(rec.text, rec.addr)
        if root is None:
            return BackendWrites(rec, where, None,
                                 "no function symbol with a size around fn")
        writes = 0
        unknown = None
        seen: dict[tuple[int, int], str] = {}
        work = [(root, rec.addr)]
        while work:
            fkey, entry = work.pop()
            fw = self._func_writes(fkey)
            label = fkey[3]
            if fw.problem:
                via = "" if fkey == root else f" (in {label}, which it may run)"
                return BackendWrites(rec, where, None, fw.problem + via, fw.vector,
                                     list(seen.values()) + [label])
            if entry is not None and entry not in fw.starts:
                return BackendWrites(rec, where, None, f"a call or jump to {label}"
                                     f"+{entry - fkey[1]:#x}, not an instruction start")
            if (fkey[0], fkey[1]) in seen:
                continue
            if len(seen) >= MAX_CLOSURE:
                return BackendWrites(rec, where, None, f"it may run more than {MAX_CLOSURE} "
                                     "functions", funcs=list(seen.values()))
            seen[(fkey[0], fkey[1])] = label
            writes |= fw.writes
            if fw.unknown and unknown is None:
                unknown = fw.unknown + ("" if fkey == root else f" (in {label})")
            work.extend(fw.out)
        if unknown:
            writes |= CALLER_SAVED
        return BackendWrites(rec, where, writes & CALLER_SAVED, unknown,
                             funcs=list(seen.values()))

    def _names_at(self, tname: str | None, target: int | None) -> list[str]:
        """Every symbol name a direct branch's target goes by (aliases
        included: __x86_indirect_thunk_array is __x86_indirect_thunk_rax)."""
        names = [tname] if tname else []
        if target is not None and not self.t.relocatable:
            if self.func_names is None:
                self.func_names = {}
                for funcs in self.t.funcs.values():
                    for start, _, fname in funcs:
                        self.func_names.setdefault(start, []).append(fname)
            names += self.func_names.get(target, [])
        return names

    def _func_writes(self, fkey) -> FuncWrites:
        key = (fkey[0], fkey[1])
        if key not in self.fw:
            self.fw[key] = self._func_writes1(fkey)
        return self.fw[key]

    def _func_writes1(self, fkey) -> FuncWrites:
        """One function's own writes, from the nodes _decode made (their
        instructions decoded again here: the site analysis does not pay for
        what only backends need)."""
        idx, start, end, name = fkey
        text = self.t.texts[idx]
        nodes, problem, where = self._decode(text, start, end, name)
        if problem:
            return FuncWrites(problem=f"{problem} at {self.t.where(text, where - text.addr)}")
        fw = FuncWrites(starts=frozenset(n.pos for n in nodes))
        targets = {t for n in nodes for t in n.succ}
        prev = None
        for n in nodes:
            at = self.t.where(text, n.pos - text.addr)
            if n.site is not None:
                fw.problem = (f"a pvpatch {n.text} at {at}, which may be patched "
                              "to any code")
                return fw
            # an int3 after ret or jmp (-mharden-sls=all) never runs
            if (n.mnem == "int3" and prev is not None and prev.mnem in ("ret", "jmp")
                    and n.pos not in prev.succ and n.pos not in targets):
                continue
            prev = n
            off = n.pos - text.addr
            insn = next(self.md.disasm(text.data[off:off + n.size], n.pos, 1))
            problem = self._insn_writes(insn, fw, at)
            if problem:
                fw.problem = problem
                return fw
            groups = set(insn.groups)
            is_call = csx86.X86_GRP_CALL in groups
            if end in n.succ and not is_call:  # after a call: a noreturn callee
                fw.problem = f"'{n.text}' at {at} runs off the end of the function"
                return fw
            if not (is_call or csx86.X86_GRP_JUMP in groups
                    or csx86.X86_GRP_BRANCH_RELATIVE in groups):
                continue
            kind = "call" if is_call else "jump"
            if not insn.operands or insn.operands[0].type != csx86.X86_OP_IMM:
                fw.problem = f"indirect {kind} '{n.text}' at {at}"
                return fw
            callee, tname, via_reloc = self._target(text, insn)
            target = None if via_reloc else insn.operands[0].imm
            if kind == "jump" and tname in RETURN_THUNKS:
                continue
            redirected = [nm for nm in self._names_at(tname, target) if REDIRECTED.match(nm)]
            if redirected:
                fw.unknown = fw.unknown or (f"{kind} to {redirected[0]} at {at}, which the "
                                            "kernel redirects at run time")
                continue
            if target is not None and start <= target < end:
                if is_call:
                    fw.out.append((fkey, target))
                continue  # a jump inside: in succ, checked by _decode
            if target is None and tname in self.t.weak_names:
                fw.unknown = fw.unknown or (f"{kind} to {tname} at {at}, a weak symbol "
                                            "(the link may choose another definition)")
                continue
            entry = None
            if callee is None and target is not None:
                t = self.t.text_at(target) if not self.t.relocatable else text
                callee = self.func_containing(t, target) if t else None
                entry = target
            if callee is None:
                fw.unknown = fw.unknown or (f"{kind} to {tname or 'an address'} at {at}, "
                                            "no function symbol with a size there")
                continue
            fw.out.append((callee, entry))
        return fw

    def _insn_writes(self, insn, fw: FuncWrites, at: str) -> str | None:
        """Add the general registers insn may write to fw.writes; or why
        its writes are not known."""
        desc = f"{insn.mnemonic} {insn.op_str}".strip()
        mnem = insn.mnemonic.split()[-1]
        if mnem in CONSERVATIVE_INSNS or set(insn.groups) & CONSERVATIVE_GROUPS:
            return f"'{desc}' (effects not modelled) at {at}"
        try:
            _, written = insn.regs_access()
        except capstone.CsError:
            return f"'{desc}' (capstone reports no register effects) at {at}"
        for r in written:
            if VECTOR_REG.match(insn.reg_name(r)):
                fw.vector = True
                return f"it writes %{insn.reg_name(r)} at {at}, which no site saves"
        if mnem.startswith(VECTOR_STATE_INSNS):
            fw.vector = True
            return f"it loads vector/x87 state ('{desc}') at {at}, which no site saves"
        fw.writes |= self._regs(written, insn) | IMPLICIT_WRITES.get(mnem, 0)
        ops = insn.operands
        if len(ops) >= 2 and ops[-1].type == csx86.X86_OP_REG and not READ_ONLY_DEST.match(mnem):
            fw.writes |= self._regs([ops[-1].reg], insn)
        return None

    def _dataflow(self, text: Text, start: int, end: int, name: str) -> FuncResult:
        res = FuncResult(name, start)
        nodes, problem, where = self._decode(text, start, end, name)
        if problem:
            res.problem, res.where_problem = problem, where
            return res
        own = self.clobber_set((text.index, start, end, name))
        # What this function's callers may keep in caller-saved registers
        # across a direct call to it (-fipa-ra): everything it does not
        # clobber.  A function nothing calls or jumps to directly is only
        # reached through pointers (or from another unit), where GCC
        # assumes the ABI's clobbers.
        kept = CALLER_SAVED & ~own if self._referenced(text, start, name) else 0
        index = {n.pos: i for i, n in enumerate(nodes)}
        succ = [[index[t] for t in n.succ if t != end] for n in nodes]
        defs = []
        exit_live = []
        for n in nodes:
            d = n.defs
            if n.mnem == "call":
                d = CALLER_SAVED & self.clobber_set(n.callee)
            defs.append(d)
            e = n.extra_live
            if n.exit == "ret":
                e |= RET_LIVE | kept
            elif n.exit == "tail":
                e |= TAIL_LIVE | kept
            elif n.exit == "all":
                e = ALL
                res.notes.append((n.pos, f"'{n.text}': everything live"))
            exit_live.append(e)
        live_in = [0] * len(nodes)
        live_out = [0] * len(nodes)
        changed = True
        while changed:
            changed = False
            for i in range(len(nodes) - 1, -1, -1):
                out = exit_live[i]
                for j in succ[i]:
                    out |= live_in[j]
                new_in = nodes[i].use | (out & ~defs[i])
                if out != live_out[i] or new_in != live_in[i]:
                    live_out[i], live_in[i] = out, new_in
                    changed = True
        for i, n in enumerate(nodes):
            if n.site is not None:
                res.live_after[n.pos] = live_out[i] | RSP
        return res

    def _referenced(self, text: Text, start: int, name: str) -> bool:
        """Whether any direct call or jump may go to start.  A scan of
        every byte offset for the rel32/rel8 forms finds every real one (and
        maybe some that are not: the safe side); in an object file also
        every relocation naming the function."""
        if self.refs is None:
            self.refs = set()
            for t in self.t.texts.values():
                d = t.data
                n = len(d)
                for i in range(n):
                    b = d[i]
                    if b in (0xE8, 0xE9) and i + 5 <= n:
                        rel = int.from_bytes(d[i + 1:i + 5], "little", signed=True)
                        self.refs.add((t.index, t.addr + i + 5 + rel))
                    elif (b == 0xEB or 0x70 <= b <= 0x7F) and i + 2 <= n:
                        rel = d[i + 1] - 256 if d[i + 1] > 127 else d[i + 1]
                        self.refs.add((t.index, t.addr + i + 2 + rel))
                    elif b == 0x0F and i + 6 <= n and 0x80 <= d[i + 1] <= 0x8F:
                        rel = int.from_bytes(d[i + 2:i + 6], "little", signed=True)
                        self.refs.add((t.index, t.addr + i + 6 + rel))
            self.ref_names = set(self.t.text_relocs.values())
        if name in self.ref_names:
            return True
        if self.t.relocatable:
            return (text.index, start) in self.refs
        return any((i, start) in self.refs for i in self.t.texts)

    def _site_args(self, s) -> int:
        f = s.rec.fields
        m = RSP
        nargs = f["flags"] & self.gen.FLAG_NARGS_MASK
        for i in range(nargs):
            m |= 1 << ((f["regs"] >> ((i + 1) * self.gen.REG_BITS)) & 0xF)
        return m

    def _zeroing(self, insn, mnem: str) -> int:
        """The register of a zeroing idiom (`xor %eax,%eax`, `sub`, and
        `sbb`, whose result is -CF): capstone reports it read, though its
        result does not depend on it."""
        if mnem not in ZEROING or len(insn.operands) != 2:
            return 0
        a, b = insn.operands
        if a.type != csx86.X86_OP_REG or b.type != csx86.X86_OP_REG or a.reg != b.reg:
            return 0
        return self._regs([a.reg], insn) & ~RSP

    def _node(self, text: Text, insn, start: int, end: int) -> Node:
        desc = f"{insn.mnemonic} {insn.op_str}".strip()
        node = Node(insn.address, insn.size, desc)
        nxt = insn.address + insn.size
        words = insn.mnemonic.split()
        mnem = words[-1]
        node.mnem = {"pushq": "push", "popq": "pop", "callq": "call",
                     "jmpq": "jmp", "retq": "ret"}.get(mnem, mnem)
        groups = set(insn.groups)
        if mnem in CONSERVATIVE_INSNS or groups & CONSERVATIVE_GROUPS:
            node.use = ALL
            node.writes = 0
            node.succ = [nxt]
            return node
        try:
            read, written = insn.regs_access()
        except capstone.CsError:
            node.use = ALL
            node.succ = [nxt]
            return node
        node.use = self._regs(read, insn) | RSP
        node.use &= ~self._zeroing(insn, mnem)
        node.defs = self._kills(written, insn)
        node.writes = self._regs(written, insn)
        if node.mnem == "push" and insn.operands and insn.operands[0].type == csx86.X86_OP_REG:
            node.push_reg = self._regs([insn.operands[0].reg], insn)
        is_ret = csx86.X86_GRP_RET in groups
        is_call = csx86.X86_GRP_CALL in groups
        is_jump = (csx86.X86_GRP_JUMP in groups
                   or csx86.X86_GRP_BRANCH_RELATIVE in groups)
        if is_ret:
            node.exit = "ret"
            return node
        direct = bool(insn.operands) and insn.operands[0].type == csx86.X86_OP_IMM
        if is_call:
            node.mnem = "call"
            node.use |= CALL_USE
            node.callee, tname, _ = self._target(text, insn) if direct else (None, None, False)
            m = RETPOLINE.match(tname or "")
            if m and m.group(1) in self.reg_num:
                node.use |= 1 << self.reg_num[m.group(1)]
                node.callee = None
            node.succ = [nxt]
            return node
        if is_jump:
            conditional = node.mnem != "jmp"
            if conditional:
                node.succ.append(nxt)
            if not direct:
                node.exit = "all"  # unresolved indirect jump
                return node
            fkey, tname, via_reloc = self._target(text, insn)
            target = insn.operands[0].imm
            if via_reloc:
                target = -1  # through a relocation: not this function's bytes
            if start <= target < end:
                node.succ.append(target)
            elif tname and ".cold" in tname:
                node.exit = "all"  # GCC's cold partition: this function's body
            elif tname in RETURN_THUNKS:
                node.exit = "ret"
            elif fkey is not None or (via_reloc and not tname.startswith(".")):
                node.exit = "tail"  # to a function's start (or a symbol)
                node.callee = fkey
                m = RETPOLINE.match(tname or "")
                if m and m.group(1) in self.reg_num:
                    node.extra_live |= 1 << self.reg_num[m.group(1)]
                    node.callee = None
            else:
                node.exit = "all"  # into another function's bytes (a .cold part)
            return node
        node.succ = [nxt]
        return node


def analyse(table: SiteTable, gen: ModuleType, sites: list) -> Analysis:
    a = Analysis(table, gen, sites)
    a.run()
    return a
