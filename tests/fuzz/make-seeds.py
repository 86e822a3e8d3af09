#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Write the seed corpus of tests/fuzz/fuzz-patch.c (tests/fuzz/corpus/).

Each seed is one input in the layout LLVMFuzzerTestOneInput() reads; the
helpers below spell it out.

Usage: tests/fuzz/make-seeds.py [OUTDIR]          the seeds
       tests/fuzz/make-seeds.py --repro OUTDIR    known failing inputs
"""

import os
import struct
import sys

# ABI numbers (arch/x86/pvops.spec; stable by the spec's rules).
OPS = dict(irq_disable=1, irq_enable=2, save_fl=3, restore_fl=4, safe_halt=5, halt=6,
           cpuid=7, read_cr0=8, write_cr0=9, read_cr2=10, read_cr3=11, write_cr3=12,
           read_cr4=13, write_cr4=14, wbinvd=15, rdmsr=16, wrmsr=17, read_tsc=18,
           io_delay=19, flush_tlb_one=20, flush_tlb_local=21, set_pte=22, apic_eoi=23,
           send_ipi=24, sched_yield=25, kick_cpu=26, calibrate_tsc=27, get_wallclock=28,
           mem_size=29, read_cr8=30, write_cr8=31, load_idt=32, load_gdt=33, clts=34)
MAX_OP = 34
NATIVE, NOP, INLINE, CALL = range(4)
RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11 = range(8, 12)

# config byte bits
DEBUG, PRINT, LOOKUP, TWICE, OTHER, REPORT, NO_REVERT, REVERT_TWICE = (1 << i for i in range(8))
# thunk size index: 0 none, 1 32, 2 48, 3 64, 4 128, 5 256, 6 1024, 7 4096;
# its bit 3 sets PVPATCH_F_POISON, bit 4 flips it after the first apply
POISON, FLIP = 8, 16
# record clobbers: bit 4 (rsp, never a clobber) marks the record widened
# (PVPATCH_SITE_F_WIDENED), its other bits widen the mask
WIDE = 1 << RSP
# template opcodes (include/asm/pvpatch-template.h)
(END, MOV, MOVI, XOR, OR, AND, ADD, SUB, SHLI, SHRI, PUSH, POP, IN, OUT, VMCALL, VMMCALL,
 CPUID, RDTSC, PAUSE) = range(19)
# template operands, as the fuzzer maps a byte b: b % 28
ARG = [16, 17, 18, 19]
RET = 20
SCRATCH = [21, 22]
IMM = [23, 24, 25, 26]
NONE = 27
# backends: 0 NULL, 1-3 real functions, 4 far, 5 in the text, 6/7 rel32 edges, 8 low
BE_NULL, BE_ONE, BE_TWO, BE_THREE, BE_FAR, BE_TEXT, BE_EDGE_UP, BE_EDGE_DOWN, BE_LOW = range(9)


def header(cfg=0, n=0, m0=0, m1=0, thunks=7, saved=0, bg=0, bgseed=0, cfg2=0):
    return bytes([cfg, n, m0, m1, thunks, saved, bg, bgseed, cfg2])


def insn(op, dst=NONE, src=NONE, w64=True, imm=None):
    """A mapped template instruction (op, dst, src, width, [imm64])."""
    if op == MOVI:
        # src: IMM(n) as 0x00-0x03, immediate as 0x40 (with imm64 below)
        src_b = 0x40 if src == NONE else IMM.index(src)
    else:
        src_b = src
    width = 1 if w64 else 0
    tail = b""
    if imm is not None:
        width |= 0x20
        tail = struct.pack("<Q", imm)
    if op in (PUSH, POP):
        width = 0x20 if imm is not None else 0
    return bytes([op, dst, src_b, width]) + tail


def template(insns, hv_clobbers=0):
    return bytes([0, len(insns) - 1]) + struct.pack("<H", hv_clobbers) + b"".join(insns)


def templates(*ts):
    return bytes([len(ts) - 1]) + b"".join(ts)


def record(op, slot, enc=0, style=0, ret=RAX, args=(RDI, RSI, RDX, RCX), clob=0, perturb=None):
    """A plausible record of op at text offset slot * 32 (style bits: see
    build_record(); perturb=(field, value) flips one field)."""
    if perturb is not None:
        style |= 0x10
    b = bytes([0, OPS[op] - 1, slot, enc, style, ret] + list(args)) + struct.pack("<H", clob)
    if perturb is not None:
        b += bytes(perturb)
    return b


def raw_record(site_off, op, version=1, flags=0, site_len=5, native_len=3, clob=0, regs=0,
               untouched=False):
    kind = 0xf8 if untouched else 0xe0
    if not untouched:
        site_off += 32      # the fuzzer maps it back to text + site_off
    return bytes([kind]) + struct.pack("<iHBBBBHI", site_off, op, version, flags, site_len,
                                       native_len, clob, regs)


def policy(entries=(), overrides=()):
    """entries: (op, mode, backend, template index (0 none), params or None)."""
    b = bytes([len(entries), len(overrides)])
    for op, mode, be, tm, params in entries:
        if params is None:
            b += bytes([OPS[op] if isinstance(op, str) else op, mode, be, tm, 0])
        else:
            b += bytes([OPS[op], mode, be, tm, 1]) + struct.pack("<4Q", *params)
    for kind, mode, off in overrides:
        b += bytes([kind, mode]) + struct.pack("<H", off)
    return b


def all_records(style=0, clob=0):
    return b"".join(record(op, OPS[op] - 1, enc=OPS[op] & 1, style=style, clob=clob)
                    for op in OPS)


def seeds():
    t_pause = template([insn(PAUSE)])
    t_const = template([insn(MOVI, RET, IMM[0])])
    t_rdtsc = template([insn(RDTSC), insn(MOV, RET, RAX, w64=False)])
    t_save_rbx = template([insn(PUSH, RBX), insn(MOVI, RBX, IMM[0]), insn(MOV, RET, RBX),
                           insn(POP, RBX)])
    t_kvm = template([insn(MOVI, RAX, NONE, imm=11), insn(MOV, RBX, ARG[0]), insn(VMCALL)],
                     hv_clobbers=1 << RAX)
    t_scratch = template([insn(MOV, SCRATCH[0], ARG[0]), insn(SHLI, SCRATCH[0], NONE, imm=24),
                          insn(OUT)], hv_clobbers=1 << RAX)
    n = len(OPS)

    yield "native-all", (header(TWICE | REVERT_TWICE, n) + templates(t_pause) + all_records()
                         + policy())

    yield "call-all", (header(TWICE | REPORT | PRINT, n) + templates(t_pause)
                       + all_records(clob=0x0fc7)
                       + policy([(op, CALL, 1 + i % 3, 0, None) for i, op in enumerate(OPS)]))

    yield "call-thunks", (header(TWICE, n) + templates(t_pause) + all_records()
                          + policy([(op, CALL, 1 + i % 3, 0, None) for i, op in enumerate(OPS)]))

    # The same with register-preserving backends (backend + 9): lean thunks,
    # and direct calls where no register must move.
    yield "call-preserving", (header(TWICE, n) + templates(t_pause) + all_records()
                              + policy([(op, CALL, 9 + 1 + i % 3, 0, None)
                                        for i, op in enumerate(OPS)]))

    yield "inline", (header(DEBUG | PRINT | REPORT | TWICE, n)
                     + templates(t_const, t_rdtsc, t_pause) + all_records()
                     + policy([("save_fl", INLINE, BE_TWO, 1, (0x202, 0, 0, 0)),
                               ("read_tsc", INLINE, BE_ONE, 2, None),
                               ("sched_yield", INLINE, BE_ONE, 3, None),
                               ("irq_disable", INLINE, BE_ONE, 3, None),
                               ("mem_size", INLINE, BE_ONE, 1, (0x4000000, 0, 0, 0)),
                               ("read_cr8", INLINE, BE_ONE, 1, (15, 0, 0, 0)),
                               ("cpuid", INLINE, BE_ONE, 2, None)]))

    yield "inline-save", (header(TWICE | OTHER, n) + templates(t_save_rbx, t_kvm, t_scratch)
                          + all_records(clob=0x0f00)
                          + policy([("mem_size", INLINE, BE_ONE, 1, (0x777000, 0, 0, 0)),
                                    ("sched_yield", INLINE, BE_TWO, 2, None),
                                    ("send_ipi", INLINE, BE_THREE, 3, None),
                                    ("kick_cpu", INLINE, BE_THREE, 3, None),
                                    ("apic_eoi", INLINE, BE_TWO, 3, None)])
                          + policy([("mem_size", CALL, BE_ONE, 0, None),
                                    ("sched_yield", NOP, BE_ONE, 0, None),
                                    ("send_ipi", INLINE, BE_THREE, 2, None)]))

    yield "nop-overrides", (header(LOOKUP | DEBUG | PRINT, n) + templates(t_pause) + all_records()
                            + policy([("io_delay", NOP, 0, 0, None),
                                      ("wbinvd", NOP, BE_ONE, 0, None),
                                      ("write_cr3", NATIVE, BE_ONE, 0, None)],
                                     [(0, CALL, OPS["write_cr3"] - 1),
                                      (1, NOP, OPS["sched_yield"] - 1),
                                      (1 + 4, NOP, OPS["io_delay"] - 1),
                                      (2, NOP, 5), (3, NOP, 0xffff), (0, 0xf9, 0)]))

    yield "malformed", (header(0, 16, m0=3, m1=7, saved=0xc8) + templates(t_pause)
                        + raw_record(0, 12) + raw_record(16, 12, version=9)
                        + raw_record(32, 999) + raw_record(4094, 12, flags=1, regs=7 << 4)
                        + record("write_cr3", 2, perturb=(2, 9))
                        + record("write_cr3", 3, perturb=(3, 6))
                        + record("write_cr3", 4, perturb=(4, 2))
                        + record("write_cr3", 5, args=(0xf4, 0, 0, 0))
                        + record("send_ipi", 6, style=0x40, enc=1)
                        + record("send_ipi", 7, style=0x04)
                        + record("send_ipi", 8, style=0x04)
                        + record("save_fl", 9, perturb=(5, 0))
                        + record("save_fl", 10, perturb=(7, 3))
                        + record("cpuid", 11, style=0x20, clob=0)
                        + record("kick_cpu", 12, style=0x80)
                        + record("mem_size", 13, style=3)
                        + policy([("write_cr3", CALL, BE_ONE, 0, None),
                                  ("send_ipi", CALL, BE_TWO, 0, None),
                                  ("save_fl", INLINE, BE_ONE, 1, None)]))

    yield "thunk-space", (header(TWICE | OTHER, n, thunks=2) + templates(t_pause) + all_records()
                          + policy([(op, CALL, [BE_ONE, BE_FAR, BE_EDGE_UP, BE_EDGE_DOWN][i % 4],
                                     0, None) for i, op in enumerate(OPS)])
                          + policy([(op, CALL, BE_TWO, 0, None) for op in OPS]))

    # cfg2 bits 5-7: the thunk index; 1 none, 2 NULL with a count, 3-7 tiny
    # (1, 2, 3, 5, 9 slots): CALL everywhere through thunks (stack_align 16)
    # and INLINE stubs, more keys than slots, so sites fall back whole
    for name, sel in (("index-none", 1), ("index-null-count", 2), ("index-1", 3),
                      ("index-9", 7)):
        yield name, (header(TWICE | OTHER, n, cfg2=sel << 5 | 16) + templates(t_pause)
                     + all_records(clob=0x0f00)
                     + policy([(op, CALL, [BE_ONE, BE_TWO, BE_THREE][i % 3], 0, None)
                               for i, op in enumerate(OPS)])
                     + policy([(op, INLINE, BE_TWO, 1, None) for op in OPS]))

    yield "plain-copy", (header(TWICE | OTHER, n, cfg2=3) + templates(t_const) + all_records()
                         + policy([(op, CALL, BE_TWO, 0, None) for op in OPS])
                         + policy([(op, INLINE, BE_ONE, 1, None) for op in OPS]))

    # cfg2 bit 2: thunks return through a return thunk; bit 3: one beyond rel32
    for name, cfg2 in (("return-thunk", 4), ("return-thunk-far", 8)):
        yield name, (header(TWICE | OTHER, n, cfg2=cfg2) + templates(t_pause) + all_records()
                     + policy([(op, CALL, BE_TWO, 0, None) for op in OPS])
                     + policy([(op, CALL, BE_THREE + 9, 0, None) for op in OPS]))

    # Poison mode: widened records (r8-r11 and what the op declares dead),
    # every site run from a poison stub.  NATIVE (the three `call native_*`
    # re-targeted) and NOP, applied twice (writes nothing) and reverted twice.
    yield "poison-native", (header(TWICE | REVERT_TWICE | REPORT | PRINT, n, thunks=7 | POISON)
                            + templates(t_pause) + all_records(clob=WIDE | 0x0f00)
                            + policy([("io_delay", NOP, 0, 0, None),
                                      ("wbinvd", NOP, BE_ONE, 0, None),
                                      ("sched_yield", NOP, BE_ONE, 0, None)]))

    # CALL poisoned (direct calls and thunks), then the same policy unpoisoned:
    # the same modes, exactly the poisoned sites written back.
    yield "poison-call", (header(TWICE | REPORT | PRINT, n, thunks=7 | POISON | FLIP)
                          + templates(t_pause) + all_records(clob=WIDE | 0x0fc7)
                          + policy([(op, CALL, 1 + i % 3, 0, None) for i, op in enumerate(OPS)]))

    # INLINE unpoisoned, then poisoned (stubs of templates in and out of line).
    yield "poison-inline", (header(TWICE | REPORT | PRINT, n, thunks=7 | FLIP)
                            + templates(t_const, t_rdtsc, t_save_rbx) + all_records(clob=WIDE | 0x0f00)
                            + policy([("save_fl", INLINE, BE_TWO, 1, (0x202, 0, 0, 0)),
                                      ("read_tsc", INLINE, BE_ONE, 2, None),
                                      ("mem_size", INLINE, BE_ONE, 3, (0x4000000, 0, 0, 0)),
                                      ("read_cr8", INLINE, BE_ONE, 1, (15, 0, 0, 0)),
                                      ("cpuid", INLINE, BE_ONE, 2, None)]))

    # No room: a 64-byte thunk area holds a few poison stubs, the other
    # widened sites stay as they are, counted ("thunk area full"); with a
    # one-slot index, "thunk index full".
    for name, cfg2 in (("poison-refused", 0), ("poison-index-full", 3 << 5)):
        yield name, (header(TWICE | OTHER | REPORT | PRINT, n, thunks=3 | POISON, cfg2=cfg2)
                     + templates(t_pause) + all_records(clob=WIDE | 0x0fc7)
                     + policy([(op, CALL, BE_TWO, 0, None) for op in OPS])
                     + policy())

    # Native code that cannot move: on background 3 with seed 0 the text at
    # +67 is `loop .-96` (e2 9e), a safe_halt site there (raw record,
    # widened) stays NATIVE in place, counted ("relative operand cannot be
    # relocated"); the mem_size and save_fl sites beside it are poisoned.
    yield "poison-reloc", (header(TWICE | REPORT | PRINT, 3, thunks=7 | POISON, bg=3, bgseed=0)
                           + templates(t_pause)
                           + raw_record(67, OPS["safe_halt"], flags=0x20, site_len=5,
                                        native_len=2, clob=0x0f00)
                           + record("mem_size", 10, clob=WIDE | 0x0f00)
                           + record("save_fl", 11, clob=WIDE | 0x0f00)
                           + policy())

    yield "background", (header(DEBUG | PRINT, 24, bg=3, bgseed=7) + templates(t_pause)
                         + b"".join(record(op, 2 * i, style=i & 3)
                                    for i, op in enumerate(list(OPS)[:24]))
                         + policy([(op, i % 4, 1 + i % 8, 1, None)
                                   for i, op in enumerate(OPS)]))


def repros():
    """Inputs that fail the target as built with FUZZ_DEFS= (strict checks),
    kept out of the corpus until the patcher is fixed."""
    # refuse_overlaps() compares a site with its predecessor only: rdmsr at
    # +0 (16 bytes) and irq_disable at +2 overlap and are refused, but
    # irq_disable at +12, inside the refused rdmsr site, is accepted and
    # patched (to a call), overwriting bytes 12-15 of the rdmsr site.
    yield "overlap-chain", (header(0, 3) + templates(template([insn(PAUSE)]))
                            + record("rdmsr", 0, ret=RAX, args=(RCX, 0, 0, 0))
                            + record("irq_disable", 0, enc=0x20, style=0x04)
                            + record("irq_disable", 0, enc=0xc0, style=0x04)
                            + policy([("irq_disable", CALL, BE_ONE, 0, None)]))


def main():
    args = sys.argv[1:]
    gen = seeds
    if args and args[0] == "--repro":
        gen = repros
        args = args[1:]
    out = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in gen():
        assert len(data) <= 4096, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
