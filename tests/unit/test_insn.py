# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The x86-64 instruction decoder (arch/x86/alternatives/insn.c).

Known encodings and random bytes (insn-selftest), the freestanding build, and
lengths compared with objdump's on real binaries and on synthetic corpora
(tests/unit/insn/difftest.py).  The real binaries are the project's own
build (the same input on every machine); PVPATCH_INSN_HOST=1 adds the host's
libc, libm, python3, qemu and libcrypto.  The first run disassembles them and
caches the result under build/; later runs take a few seconds.
"""

import os
import shutil
import struct
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "insn"))

import difftest  # noqa: E402

BIN = os.path.join(ROOT, "build", "tests", "unit", "insn")
SELFTEST = os.path.join(BIN, "insn-selftest")
INSN_DIFF = os.path.join(BIN, "insn-diff")
KOBJ = os.path.join(BIN, "insn-kernel.o")

# (900,000: the benchmark's 100,000 mass sites lost their int3 padding when
# sites stopped being sized for INLINE templates, issue 11.)
MIN_REAL_INSNS = 900_000
BUILD = os.path.join(ROOT, "build", "tests")
# Compiler output the decoder must read, the same on every machine with the
# project's toolchain: what `make all` builds from this tree with gcc and
# clang (-O0 to -O2, ASan/UBSan instrumented, a kernel-style freestanding
# ELF, the generated mass sites of the benchmark).
OWN = [os.path.join(BUILD, p) for p in (
    "fuzz/fuzz-rom", "fuzz/fuzz-patch", "bench/bench", "unit/patcher/test-patch",
    "guest/guest.elf")]
# The host's own binaries (libc, libm, python3, qemu, libcrypto: whatever
# versions this machine has): opt-in, PVPATCH_INSN_HOST=1.
HOST = [b for b in difftest.DEFAULT_BINARIES if os.path.exists(b)]
WANT_HOST = os.environ.get("PVPATCH_INSN_HOST") == "1"
REAL = OWN + (HOST if WANT_HOST else [])
SYNTHETIC = ["sweep", "random"]


@pytest.fixture(scope="module", autouse=True)
def built():
    """`make check` builds the decoder's test programs first (`make all`
    includes insn-tests); the tests never run make themselves."""
    if not shutil.which("objdump"):
        pytest.fail("objdump (binutils) is missing: run `make deps`")
    missing = [p for p in (SELFTEST, INSN_DIFF, KOBJ, difftest.INSN_REF)
               if not os.path.exists(p)]
    if missing:
        pytest.fail(f"not built: {missing}: run `make all` (or `make check`)")


@pytest.fixture(scope="module")
def references(built):
    """Disassemble everything at once, so that both cores stay busy
    (cached under build/: a no-op after the first run)."""
    big = sorted(REAL, key=os.path.getsize, reverse=True)
    difftest.ensure_refs(big[:1] + ["sweep"] + big[1:] + ["random"])


def report(capsys, text):
    with capsys.disabled():
        print("\n" + text.rstrip())


def test_selftest():
    proc = subprocess.run([SELFTEST], capture_output=True, text=True,
                          env=difftest.SAN_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("ok")


def test_kernel_build_is_freestanding():
    """Built with kernel flags, the decoder needs nothing from outside:
    no libc, no memset/memcpy the compiler slipped in."""
    out = subprocess.run(["nm", "-u", KOBJ], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "", f"undefined symbols in {KOBJ}:\n{out}"


def read_ref(path):
    with open(path, "rb") as f:
        data = f.read()
    count, rejected = struct.unpack_from("<QQ", data, 40)
    offs = struct.unpack_from(f"<{count}I", data, 56)
    return list(zip(offs, data[56 + 4 * count:])), rejected


def test_insn_ref_reads_objdump(tmp_path):
    """insn-ref: lengths from the bytes shown, fwait split off what objdump
    merged it with, "(bad)" kept as length 0, the rest dropped."""
    lines = [
        "Disassembly of section .text:",
        "",
        "0000000000000000 <f>:",
        "   0:\t9b d9 7d fc          \tfstcw  -0x4(%rbp)",
        "   4:\t9b 9b d9 7d fc       \tfstcw  -0x4(%rbp)",
        "   9:\t36 9b de c9          \tfmulp  %st,%st(1)",
        "   d:\t9b f0                \tlock fwait",
        "   f:\t9b                   \tfwait",
        "  10:\t48                   \trex.W",
        "  11:\t0f ff                \t(bad)",
        "  13:\t05                   \t.byte 0x5",
        "  14:\t66 2e 0f 1f 84 00 00 00 00 00 \tcs nopw 0x0(%rax,%rax,1)",
    ]
    out = tmp_path / "t.ref"
    subprocess.run([difftest.INSN_REF, "0", "0x20", "0", str(out)],
                   input="\n".join(lines) + "\n", text=True, check=True,
                   env=difftest.SAN_ENV)
    entries, rejected = read_ref(out)
    assert entries == [(0, 1), (1, 3), (4, 1), (5, 1), (6, 3), (9, 2),
                       (0xb, 2), (0xd, 1), (0xf, 1), (0x11, 0), (0x14, 10)]
    assert rejected == 4      # "lock" left of "9b f0", rex.W, (bad), .byte


def test_harness_catches_a_wrong_length(references, tmp_path):
    """One reference length off by one must make insn-diff fail."""
    elf = difftest.corpus("random")
    good = difftest.ensure_ref(elf)
    with open(good, "rb") as f:
        data = bytearray(f.read())
    fileoff, count = struct.unpack_from("<Q", data, 16)[0], \
        struct.unpack_from("<Q", data, 40)[0]
    with open(elf, "rb") as f:
        f.seek(fileoff)
        text = f.read()
    lens = 56 + 4 * count
    # A push or pop (50-5F): one byte, surely supported, so compared.
    k = next(i for i in range(count) if data[lens + i] == 1 and
             0x50 <= text[struct.unpack_from("<I", data, 56 + 4 * i)[0]]
             <= 0x5f)
    data[lens + k] += 1
    bad = tmp_path / "bad.ref"
    bad.write_bytes(bytes(data))
    proc = subprocess.run([INSN_DIFF, elf, str(bad)], capture_output=True,
                          text=True, env=difftest.SAN_ENV)
    assert proc.returncode == 1
    summary = difftest.parse_summary(proc.stdout)
    assert summary["mismatches"] == 1, proc.stdout


def test_real_binaries(references, capsys):
    """Lengths agree with objdump on every instruction that we claim to
    support of the project's own binaries (OWN, over a million
    instructions), and with PVPATCH_INSN_HOST=1 also of libc, libm, python3,
    qemu-system-x86_64 and libcrypto."""
    missing = [b for b in OWN if not os.path.exists(b)]
    assert not missing, f"not built: {missing}: run `make all`"
    status, out, s = difftest.run(REAL, insn_diff=INSN_DIFF)
    report(capsys, out)
    assert s["mismatches"] == 0, out
    assert status == 0
    assert s["compared"] >= MIN_REAL_INSNS, \
        f"only {s['compared']} instructions in {REAL}"
    # Compiler output is what the patcher meets: nearly all of it decodes.
    assert s["share"] >= 99.9, out


def test_synthetic_corpora(references, capsys):
    """Every opcode of every map under length-changing prefixes, and
    random bytes: no length differs from objdump's."""
    status, out, s = difftest.run(SYNTHETIC, insn_diff=INSN_DIFF)
    report(capsys, out)
    assert s["mismatches"] == 0, out
    assert status == 0
    # ~574k sweep + ~349k random: far fewer means objdump rejected them.
    assert s["compared"] >= 800_000, out
