#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Write the seed corpus of tests/fuzz/fuzz-rom.c (tests/fuzz/corpus-rom/).

Each seed is the fuzzer's 10-byte prefix (see the comment at the top of
fuzz-rom.c) followed by a feature ROM: the shipped profiles and a few more
compiled with tools/pvrom, and a few ROMs put together here with struct
(what a profile cannot say: unknown ops, longer entries, odd offsets,
trailing bytes, and two the parser must refuse, named refused-*).  Run it
after `make` (tools/pvrom reads $PVPATCH_GEN, default build/gen).

Usage: tests/fuzz/make-rom-seeds.py [OUTDIR]
"""

import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PVROM = os.path.join(ROOT, "tools", "pvrom")
PROFILES = os.path.join(ROOT, "hypervisor-features")
GEN = os.environ.get("PVPATCH_GEN") or os.path.join(ROOT, "build", "gen")

# prefix bits (fuzz-rom.c)
FIX_CRC, FIX_MAGIC, FIX_VERSION, FIX_TOTAL, FIX_HLEN, FIX_ENTRY_LEN, FIX_MODES = \
    (1 << i for i in range(7))
FIX_HEADER = 0x1f                       # header fields and checksum
FIX_ALL = 0x7f                          # and the entry chain, modes, conditions
NO_BACKENDS, MIXED_BACKENDS, LOOKUP, TWICE, REVERT = (1 << i for i in range(5))
VMPORT, GETHZ, SMALL_THUNKS = 1, 2, 0x40
ALL_KVM = 0xffffffff

# layout (asm/pvpatch-abi.h, README.md "The ROM (format version 1)")
MAGIC, VERSION = 0x4d4f5250, 1
HEADER, ENTRY, INSN, OVERRIDE = "<IHHII16sHHIII", "<HHBBBBHHI4Q", "<BBBBIQ", "<32sIB3s"
NATIVE, NOP, INLINE, CALL = range(4)
ALWAYS, KVM_BIT, COND_VMPORT, COND_GETHZ = range(4)
(END, MOV, MOVI, XOR, OR, AND, ADD, SUB, SHLI, SHRI, PUSH, POP, IN, OUT, VMCALL, VMMCALL,
 CPUID, RDTSC, PAUSE) = range(19)
RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
ARG0, RET, SCRATCH0, IMM0, NONE = 0x20, 0x30, 0x40, 0x50, 0xff
OPS = dict(save_fl=3, restore_fl=4, write_cr8=31, cpuid=7, read_cr3=11, io_delay=19, apic_eoi=23, send_ipi=24,
           sched_yield=25, kick_cpu=26, calibrate_tsc=27, mem_size=29)
SLOT, TEXT_SIZE = 64, 40 * 64   # the fuzzer's fake text: site of op k at (k-1)*SLOT


def prefix(fix=FIX_ALL, cfg=REVERT, kvm=0, vm=0, cut=0, regs=0, clob=0):
    return bytes([fix, cfg]) + struct.pack("<I", kvm) + bytes([vm, cut, regs, clob])


def site(op):
    return (OPS[op] - 1) * SLOT


# --- ROMs by hand ---------------------------------------------------------------

def insn(op, dst=NONE, src=NONE, width=4, imm=0):
    return struct.pack(INSN, op, dst, src, width, 0, imm)


def entry(op, mode, insns=(), cond=ALWAYS, cond_arg=0, hv_clobbers=0, params=(0, 0, 0, 0),
          extra=b""):
    body = b"".join(insns)
    n = len(insns)
    return struct.pack(ENTRY, 48 + len(body) + len(extra), op, mode, cond, cond_arg, n,
                       hv_clobbers, 0, 0, *params) + body + extra


def override(func, offset, mode):
    return struct.pack(OVERRIDE, func.encode(), offset, mode, b"\0\0\0")


def rom(name, entries, overrides=(), gap=0, trailing=b""):
    """Header, gap bytes, entries, overrides; trailing bytes after total_len."""
    ents = b"".join(entries)
    ovs = b"".join(overrides)
    eoff = 48 + gap
    ooff = eoff + len(ents)
    total = ooff + len(ovs)
    hdr = struct.pack(HEADER, MAGIC, VERSION, 48, total, 0, name.encode(), len(entries),
                      len(overrides), eoff if entries else 0, ooff if overrides else 0, 0)
    blob = hdr + b"\xee" * gap + ents + ovs
    crc = zlib.crc32(blob)
    return blob[:12] + struct.pack("<I", crc) + blob[16:] + trailing


def hand_seeds():
    yield_tmpl = [insn(PUSH, RAX, width=8), insn(PUSH, RBX, width=8), insn(MOV, RBX, ARG0),
                  insn(MOVI, RAX, NONE, imm=11), insn(VMCALL), insn(POP, RBX, width=8),
                  insn(POP, RAX, width=8)]
    # Unknown ops (a newer hypervisor's), an entry longer than its fields
    # (a later version's), entries at an odd offset, data after total_len.
    yield "hand-forward-compat", prefix(fix=FIX_HEADER | FIX_MODES, cfg=LOOKUP | TWICE | REVERT,
                                        cut=7) + rom(
        "future-hv", [entry(200, CALL), entry(0, NOP),
                      entry(OPS["sched_yield"], INLINE, yield_tmpl, hv_clobbers=1 << RAX,
                            extra=b"\x01\x02\x03\x04\x05"),
                      entry(OPS["io_delay"], NOP),
                      entry(999, INLINE, [insn(PAUSE)])],
        [override("text", site("io_delay"), NATIVE)], gap=3, trailing=b"TRAILING")
    # Every instruction kind, in templates the fitter mostly takes.
    mix = [insn(PUSH, RBX, width=8), insn(MOVI, RBX, IMM0), insn(MOVI, RET, NONE, imm=0x1234),
           insn(XOR, RET, RBX, 8), insn(OR, RET, RBX, 8), insn(AND, RET, RBX), insn(ADD, RET, RBX),
           insn(SUB, RET, RBX), insn(SHLI, RET, NONE, 8, 3), insn(SHRI, RET, NONE, 8, 1),
           insn(POP, RBX, width=8)]
    yield "hand-mix", prefix(cfg=MIXED_BACKENDS | REVERT, regs=5, clob=1) + rom(
        "mix", [entry(OPS["mem_size"], INLINE, mix, params=(77, 0, 0, 0)),
                entry(OPS["calibrate_tsc"], INLINE, [insn(RDTSC), insn(SHLI, RDX, NONE, 8, 32),
                                                     insn(OR, RET, RDX, 8)]),
                entry(OPS["cpuid"], INLINE, [insn(CPUID)]),
                entry(OPS["apic_eoi"], INLINE, [insn(MOVI, RAX, NONE, imm=0), insn(OUT)],
                      hv_clobbers=0),
                entry(OPS["save_fl"], INLINE, [insn(MOVI, RET, IMM0, 8)], params=(0x202, 0, 0, 0)),
                entry(OPS["kick_cpu"], CALL), entry(OPS["read_cr3"], CALL)])
    # The condition kinds, each true and false once; the last entry wins.
    yield "hand-conds", prefix(cfg=REVERT, kvm=1 << 3, vm=VMPORT) + rom(
        "conds", [entry(OPS["sched_yield"], CALL),
                  entry(OPS["sched_yield"], INLINE, yield_tmpl, KVM_BIT, 3, 1 << RAX),
                  entry(OPS["send_ipi"], INLINE, [insn(PAUSE)], KVM_BIT, 4),
                  entry(OPS["send_ipi"], CALL, cond=KVM_BIT, cond_arg=40),
                  entry(OPS["mem_size"], INLINE, [insn(MOVI, RET, IMM0, 8)], COND_VMPORT,
                        params=(1 << 30, 0, 0, 0)),
                  entry(OPS["calibrate_tsc"], INLINE, [insn(MOVI, RET, IMM0, 8)], COND_GETHZ)])

    # Templates that overwrite an argument's register (%rdi with the default
    # registers), then use it as a destination or push it: refused per site.
    yield "hand-arg-lost", prefix(cfg=REVERT) + rom(
        "arg-lost", [entry(OPS["restore_fl"], INLINE, [insn(MOVI, RDI, NONE, imm=1),
                                                       insn(ADD, ARG0, RAX, 8)]),
                     entry(OPS["write_cr8"], INLINE, [insn(MOVI, RDI, NONE, imm=1),
                                                      insn(PUSH, ARG0, width=8),
                                                      insn(POP, ARG0, width=8)])])
    # Refused as a whole (fuzz-rom checks the policy is untouched): 25
    # instructions, an override with mode 4.
    yield "refused-too-many-insns", prefix(fix=FIX_HEADER) + rom(
        "refused", [entry(OPS["kick_cpu"], INLINE, [insn(PAUSE)] * 25)])
    yield "refused-override-mode", prefix(fix=FIX_HEADER, cfg=LOOKUP) + rom(
        "refused", [entry(OPS["io_delay"], NOP)], [override("text", site("io_delay"), 4)])


# --- ROMs from profiles, with tools/pvrom --------------------------------------

FITTER_PROFILE = """\
hypervisor fuzz-fitter
template yield clobbers rax
    push rax
    push rbx
    mov.32 rbx, arg0
    movi.32 rax, 11
    vmmcall
    pop rbx
    pop rax
end
template ipi clobbers rax
    push rax
    push rcx
    mov.32 rcx, arg1
    shri.32 rcx, 24
    mov.64 rax, arg0
    xor.32 rax, rax
    add.32 rax, arg2
    sub.32 rax, arg2
    movi.32 rax, 10
    vmcall
    pop rcx
    pop rax
end
template scratch
    mov.64 scratch0, arg0
    and.64 scratch0, scratch0
end
template const
    movi.64 ret, param0
end
template gethz clobbers rax rbx rcx rdx rsi rdi
    push rbx
    movi.32 rax, 0x564d5868
    movi.32 rcx, param0
    movi.32 rdx, 0x5658
    in
    shli.64 rbx, 32
    or.64 ret, rbx
    pop rbx
end
template long
{long_body}end
op save_fl INLINE const params 0x202
op restore_fl INLINE scratch
op io_delay NOP
op sched_yield INLINE yield
op send_ipi INLINE ipi
op kick_cpu INLINE long
op calibrate_tsc INLINE gethz params 45
op mem_size INLINE const params 0x40000000
op read_cr3 CALL
op wbinvd CALL
site text+0x{send:x} CALL
site text+0x{extra:x} NATIVE
site mid+0x0 NOP
site nowhere+0x10 NOP
"""


# Format 2: conditions on CPUID bits and the hypervisor signature, backends by
# id (fuzz-rom.c registers ids 1-3 for ops 1, 8, 15, 22), an unknown id.
CONDS_V2_PROFILE = """\
hypervisor conds-v2-with-a-longer-name
op irq_disable CALL backend 2
op read_cr0 CALL backend 3 if hv:KVMKVMKVM
op wbinvd CALL backend 9
op io_delay NOP if cpu:pcid
op save_fl CALL if cpuid:0x80000001:edx:27
op restore_fl CALL if cpuid:0x7fffffff:eax:0
"""
KVM_SIG, TCG_SIG, NO_CPUID = 1 << 2, 2 << 2, 0x20


def pvrom_build(profile_path, out_path, fmt=1):
    """Format 1 unless the profile needs 2: every op at 72 bytes would pass
    the fuzzer's 4096-byte inputs."""
    subprocess.run([sys.executable, PVROM, "build", "--gen", GEN, profile_path, "-o", out_path,
                    "--format", str(fmt)], check=True)
    with open(out_path, "rb") as f:
        return f.read()


def profile_seeds(tmp):
    # (profile, prefix): facts that make the conditions hold (or not).
    shipped = [
        ("bare-metal", prefix(cfg=TWICE | REVERT)),
        ("tcg", prefix(fix=0, cfg=REVERT)),
        ("paravirt", prefix(fix=FIX_HEADER, cfg=TWICE | REVERT, clob=2)),
        ("paravirt", prefix(cfg=MIXED_BACKENDS | REVERT, vm=SMALL_THUNKS), "paravirt-mixed"),
        ("kvm-vt", prefix(cfg=REVERT, kvm=ALL_KVM)),
        ("kvm-vt", prefix(fix=0, cfg=REVERT, kvm=0), "kvm-vt-nofeatures"),
        ("kvm-pv", prefix(cfg=TWICE | REVERT, kvm=ALL_KVM, regs=3, clob=3)),
        ("vmware-backdoor", prefix(cfg=REVERT, vm=VMPORT | GETHZ)),
        ("vmware-backdoor-v2", prefix(cfg=REVERT, vm=VMPORT | GETHZ, clob=1)),
    ]
    for item in shipped:
        prof, pre = item[0], item[1]
        name = item[2] if len(item) > 2 else prof
        blob = pvrom_build(os.path.join(PROFILES, prof + ".profile"),
                           os.path.join(tmp, name + ".rom"), 2 if prof.endswith("-v2") else 1)
        yield name, pre + blob
    path = os.path.join(tmp, "fitter.profile")
    with open(path, "w") as f:
        # "long": a template of the most instructions there may be (24).
        f.write(FITTER_PROFILE.format(send=site("send_ipi"), extra=34 * SLOT,
                                      long_body="    pause\n" * 24))
    blob = pvrom_build(path, os.path.join(tmp, "fitter.rom"))
    yield "fitter", prefix(cfg=LOOKUP | TWICE | REVERT, clob=1) + blob
    yield "fitter-regs", prefix(cfg=LOOKUP | REVERT | 3 << 5, regs=9, clob=3) + blob
    path = os.path.join(tmp, "conds-v2.profile")
    with open(path, "w") as f:
        f.write(CONDS_V2_PROFILE)
    blob = pvrom_build(path, os.path.join(tmp, "conds-v2.rom"), 2)
    yield "v2-conds-kvm", prefix(cfg=REVERT, vm=KVM_SIG) + blob
    yield "v2-conds-tcg-nocpuid", prefix(cfg=TWICE | REVERT, vm=TCG_SIG | NO_CPUID) + blob


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus-rom")
    os.makedirs(out, exist_ok=True)
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in list(profile_seeds(tmp)) + list(hand_seeds()):
            assert len(data) <= 4096, name
            total += len(data)
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
    assert total < 64 * 1024, total


if __name__ == "__main__":
    main()
