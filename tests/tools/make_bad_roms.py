#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Write a corpus of malformed (and a few unusual but valid) feature ROMs.

    tests/tools/make_bad_roms.py DIR

writes DIR/NAME.rom for each case below and DIR/manifest.json, a list of
{"name", "file", "kind", "reason", "expect"}, and prints one line per case.
Kinds, and what the guest must do:

  structural  the ROM is refused as a whole; the guest falls back to its
              built-in profile (and `pvrom dump` prints one line, exit 2)
  template    the ROM is accepted; that op's sites are rejected with a reason
              and fall back (INLINE -> CALL -> NATIVE)
  override    the ROM is accepted; the override is ignored and reported
  accepted    valid: the guest must accept it (forward compatibility)

Every ROM except the checksum and length cases carries a correct checksum,
so each tests exactly the fault it names.  The layout comes from the
generated module (tools/pvlib/gen.py): $PVPATCH_GEN, default this checkout's
build/gen.
"""

import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from pvlib import gen as genmod  # noqa: E402
from pvlib import profile as profmod  # noqa: E402
from pvlib import rom as rommod  # noqa: E402

BASE_PROFILE = """\
hypervisor bad-rom-test
template kvm-sched-yield clobbers rax
    push rax
    push rbx
    mov.32 rbx, arg0
    movi.32 rax, 11
    vmcall
    pop rbx
    pop rax
end
op io_delay NOP
op sched_yield INLINE kvm-sched-yield
"""

STRUCTURAL = "ROM refused: the guest falls back to its built-in profile"
SITES_REJECTED = ("ROM accepted; the sites of {op} are rejected ({why}) and fall back "
                  "to CALL, else NATIVE")


def cases(gen):
    prof = profmod.parse(gen, BASE_PROFILE, "<base>")
    base = rommod.build(gen, prof.hypervisor, prof.entries)
    H = gen.ROM_HEADER_OFFSETS
    E = gen.ROM_ENTRY_OFFSETS
    first = rommod.parse(gen, base).entries
    last_off = first[-1].offset
    total = len(base)

    def put(blob, off, fmt, value, fix=True):
        b = bytearray(blob)
        struct.pack_into(fmt, b, off, value)
        return rommod.fix_checksum(gen, bytes(b)) if fix else bytes(b)

    def hdr(field, fmt, value, fix=True, blob=base):
        return put(blob, H[field], fmt, value, fix)

    def with_entries(*extra, overrides=()):
        return rommod.build(gen, prof.hypervisor, list(prof.entries) + list(extra),
                            overrides)

    I = rommod.Insn
    N = gen.PVT_NONE
    reg = {names[0]: n for n, names in enumerate(gen.REGS)}
    INLINE = gen.MODES.index("INLINE")
    NATIVE = gen.MODES.index("NATIVE")

    def op(name):
        return next(k for k, o in gen.OPS.items() if o["name"] == name)

    def inline(name, insns, hv=0):
        return rommod.Entry(op=op(name), mode=INLINE, hv_clobbers=hv, insns=tuple(insns))

    s = "structural"
    yield ("truncated-header", s, "20 bytes: shorter than the 48-byte header",
           STRUCTURAL, base[:20])
    yield ("truncated", s, "the data ends 20 bytes before total_len",
           STRUCTURAL, base[:-20])
    yield ("bad-magic", s, "magic is 'MORP', not 'PROM'",
           STRUCTURAL, hdr("magic", "<I", 0x50524F4D))
    yield ("bad-checksum", s, "one entry byte changed after the checksum was computed",
           STRUCTURAL, put(base, last_off + E["params"], "<B", 0x5A, fix=False))
    yield ("unknown-version", s, "version 2 (this format is version 1)",
           STRUCTURAL, hdr("version", "<H", 2))
    yield ("header-len-small", s, "header_len 16, less than the 48-byte header",
           STRUCTURAL, hdr("header_len", "<H", 16))
    yield ("total-len-past-end", s, "total_len 64 bytes past the end of the data",
           STRUCTURAL, hdr("total_len", "<I", total + 64, fix=False))
    yield ("total-len-too-small", s, "total_len 24, less than header_len",
           STRUCTURAL, hdr("total_len", "<I", 24))
    yield ("entries-off-past-end", s, "entries_off beyond total_len",
           STRUCTURAL, hdr("entries_off", "<I", total + 0x100))
    yield ("entries-off-in-header", s, "entries_off 8: inside the header",
           STRUCTURAL, hdr("entries_off", "<I", 8))
    yield ("entries-off-overflow", s, "entries_off 0xfffffff0: offset + size wraps at 32 bits",
           STRUCTURAL, hdr("entries_off", "<I", 0xFFFFFFF0))
    yield ("entry-len-past-end", s, "the last entry's entry_len (0xfff0) runs past total_len",
           STRUCTURAL, put(base, last_off + E["entry_len"], "<H", 0xFFF0))
    yield ("entry-len-too-small", s, "an entry_len of 40, less than the 48-byte entry",
           STRUCTURAL, put(base, E["entry_len"] + first[0].offset, "<H", 40))
    yield ("entry-len-zero", s, "an entry_len of 0 (a reader that skips by it never advances)",
           STRUCTURAL, put(base, E["entry_len"] + first[0].offset, "<H", 0))
    yield ("n-entries-absurd", s, "n_entries 65535: the entries would run far past the end",
           STRUCTURAL, hdr("n_entries", "<H", 65535))
    yield ("n-insns-too-large", s, "n_insns 200 in an entry whose entry_len holds 7",
           STRUCTURAL, put(base, last_off + E["n_insns"], "<B", 200))
    ovr = with_entries(overrides=[rommod.Override("main", 0, NATIVE)])
    yield ("overrides-past-end", s, "n_overrides 3 where 1 fits before total_len",
           STRUCTURAL, hdr("n_overrides", "<H", 3, blob=ovr))
    yield ("overrides-off-overflow", s, "overrides_off 0xffffffff: offset + size wraps at 32 bits",
           STRUCTURAL, hdr("overrides_off", "<I", 0xFFFFFFFF, blob=ovr))

    yield ("entry-mode-unknown", s, "an entry with mode 9",
           STRUCTURAL, put(base, first[0].offset + E["mode"], "<B", 9))
    yield ("entry-cond-unknown", s, "an entry with condition 7",
           STRUCTURAL, put(base, first[0].offset + E["cond"], "<B", 7))
    nop = I(gen.PVT_PAUSE, N, N, 4)
    yield ("too-many-insns", s,
           f"a template of {gen.PVT_MAX_INSNS + 1} instructions (at most {gen.PVT_MAX_INSNS})",
           STRUCTURAL, with_entries(inline("irq_disable", [nop] * (gen.PVT_MAX_INSNS + 1))))
    OM = gen.ROM_OVERRIDE_OFFSETS["mode"]
    ovr_off = rommod.parse(gen, ovr).header["overrides_off"]
    yield ("override-mode-unknown", s, "a site override with mode 5",
           STRUCTURAL, put(ovr, ovr_off + OM, "<B", 5))

    t = "template"
    yield ("template-clobbers-live", t,
           "irq_disable INLINE `xor.32 rbx, rbx`: writes rbx, live at every site, unsaved",
           SITES_REJECTED.format(op="irq_disable", why="clobbers a live register"),
           with_entries(inline("irq_disable", [I(gen.PVT_XOR, reg["rbx"], reg["rbx"], 4)])))
    yield ("template-too-long", t,
           "irq_enable INLINE of 22 bytes, its sites hold 8",
           SITES_REJECTED.format(op="irq_enable", why="too long"),
           with_entries(inline("irq_enable", [
               I(gen.PVT_PUSH, reg["rax"], N, 8),
               I(gen.PVT_MOVI, reg["rax"], N, 8, 0x1122334455667788),
               I(gen.PVT_MOVI, reg["rax"], N, 8, 0x8877665544332211),
               I(gen.PVT_POP, reg["rax"], N, 8)])))
    yield ("template-bad-opcode", t, "halt INLINE with instruction opcode 200",
           SITES_REJECTED.format(op="halt", why="disallowed instruction"),
           with_entries(inline("halt", [I(200, N, N, 4)])))
    yield ("template-bad-operand", t, "safe_halt INLINE `push` of operand 0x99",
           SITES_REJECTED.format(op="safe_halt", why="disallowed instruction"),
           with_entries(inline("safe_halt", [I(gen.PVT_PUSH, 0x99, N, 8),
                                             I(gen.PVT_POP, 0x99, N, 8)])))
    yield ("template-unbalanced", t, "save_fl INLINE pushes rax and never pops it",
           SITES_REJECTED.format(op="save_fl", why="unbalanced stack"),
           with_entries(inline("save_fl", [I(gen.PVT_PUSH, reg["rax"], N, 8),
                                           I(gen.PVT_MOV, gen.PVT_RET, reg["rax"], 8)])))
    yield ("inline-without-template", t, "flush_tlb_local INLINE with n_insns 0",
           SITES_REJECTED.format(op="flush_tlb_local", why="no template"),
           with_entries(inline("flush_tlb_local", [])))

    yield ("override-unknown-function", "override",
           "site override for no_such_function+0x0",
           "ROM accepted; the override names no function and is ignored (reported)",
           with_entries(overrides=[rommod.Override("no_such_function", 0, NATIVE)]))

    a = "accepted"
    yield ("unknown-op", a, "an entry for op 999, unknown to this guest",
           "ROM accepted; the entry is ignored",
           with_entries(rommod.Entry(op=999, mode=gen.MODES.index("CALL"))))
    yield ("longer-entry", a, "an entry with 8 bytes of newer fields after its template",
           "ROM accepted; readers skip entries by entry_len",
           rommod.build(gen, prof.hypervisor, [
               prof.entries[0],
               rommod.Entry(**{**prof.entries[1].__dict__, "extra": b"\0" * 8})]))


def main(argv):
    if len(argv) != 2:
        print("usage: make_bad_roms.py DIR", file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    manifest = []
    for name, kind, reason, expect, blob in cases(genmod.load(os.environ.get("PVPATCH_GEN")
                                                        or os.path.join(ROOT, "build", "gen"))):
        path = os.path.join(out, name + ".rom")
        with open(path, "wb") as f:
            f.write(blob)
        manifest.append({"name": name, "file": name + ".rom", "kind": kind,
                         "reason": reason, "expect": expect})
        print(f"{name}: {kind}: {reason}")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
