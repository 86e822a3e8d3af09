#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Differential test of the instruction decoder against objdump (or capstone).

For each ELF, the reference disassembles .text linearly and insn-ref records
where it found a valid instruction and how long it was (see insn-ref.c for
how objdump's output is read); insn-diff then decodes at each of those
offsets and compares lengths.  Reference output is cached under
build/ keyed by the file's path, size and mtime, the reference's version and
the extraction's, because disassembling is what takes the time.

objdump is the reference the tests use: binutils 2.40 knows every extension
the decoder does.  capstone 4.0.2 is here to cross-check, but it has length
bugs of its own (0F B9 without its ModRM, "66 REX.W C2 iw" and some EVEX
forms one byte long), so expect a few mismatches that are its, not ours.

    tests/unit/insn/difftest.py [--ref objdump|capstone] [--synthetic] [-v]
                                [ELF ...]

Exit status: 0 no mismatch, 1 mismatches, 2 usage or environment error.
"""

import argparse
import array
import fcntl
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BUILD = os.path.join(ROOT, "build")
INSN_DIFF = os.path.join(BUILD, "tests", "unit", "insn", "insn-diff")
INSN_REF = os.path.join(BUILD, "tests", "unit", "insn", "insn-ref")
CACHE = os.path.join(BUILD, "tests", "unit", "insn", "ref")

# The file layout insn-diff reads, and the version of what goes into it:
# bump CACHE_VERSION when the extraction changes, to drop stale caches.
REF_VERSION = 1
CACHE_VERSION = 6

# Real, large code: glibc (with hand-written SSE/AVX2/EVEX string
# functions), its libm (x87, FMA, AMD's FMA4), CPython, QEMU, and OpenSSL's
# libcrypto (hand-written AVX-512, VAES, SHA, ADX, AMD XOP; constant tables
# in .text too).  All come with the project's dependencies (libssl3 with
# python3), so CI has them.
DEFAULT_BINARIES = [
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libm.so.6",
    os.path.realpath("/usr/bin/python3"),
    "/usr/bin/qemu-system-x86_64",
    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
]

# insn-diff is built with ASan, whose leak check needs ptrace at exit, which
# some sandboxes forbid; leaks do not matter in a one-shot test program.
SAN_ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS",
                                                       "detect_leaks=0"))


class EnvError(Exception):
    pass


def text_section(path):
    """(file offset, size, address) of .text, from the ELF64 section table."""
    with open(path, "rb") as f:
        data = f.read(64)
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise EnvError(f"{path}: not a little-endian ELF64 file")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        shdrs = [struct.unpack_from("<IIQQQQ", table, i * shentsize)
                 for i in range(shnum)]
        strtab = shdrs[shstrndx]
        f.seek(strtab[4])
        names = f.read(strtab[5])
    for name, _type, _flags, addr, offset, size in shdrs:
        if names[name:names.index(b"\0", name)] == b".text":
            return offset, size, addr
    raise EnvError(f"{path}: no .text section")


def ref_objdump(path, fileoff, size, addr, out):
    """objdump's view of .text, through insn-ref into the file out."""
    env = dict(SAN_ENV, LC_ALL="C")
    objdump = subprocess.Popen(["objdump", "-d", "-z", "-w", "--insn-width=15",
                                "-j", ".text", path],
                               stdout=subprocess.PIPE, env=env)
    ref = subprocess.run([INSN_REF, str(fileoff), str(size), str(addr), out],
                         stdin=objdump.stdout, env=env)
    objdump.stdout.close()
    if objdump.wait():
        raise EnvError(f"{path}: objdump failed ({objdump.returncode})")
    if ref.returncode:
        raise EnvError(f"{path}: insn-ref failed ({ref.returncode})")


def ref_capstone(path, fileoff, size, addr, out):
    """The same from capstone, which stops at what it cannot decode: skip
    one byte there and start again."""
    try:
        import capstone
    except ImportError as e:
        raise EnvError(f"capstone: {e} (use /usr/bin/python3)")
    with open(path, "rb") as f:
        f.seek(fileoff)
        code = f.read(size)
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    offs, lens = array.array("I"), array.array("B")
    rejected = 0
    pos = 0
    window = 1 << 16
    while pos < size:
        end = min(size, pos + window)
        for a, n, _m, _o in md.disasm_lite(code[pos:end], addr + pos):
            offs.append(a - addr)
            lens.append(n)
            pos = a - addr + n
        if end < size and pos > end - 15:
            continue    # the window cut an instruction: restart there
        if pos < size:
            rejected += 1
            offs.append(pos)
            lens.append(0)
            pos += 1
    with open(out, "wb") as f:
        f.write(b"PVINSREF" + struct.pack("<II5Q", REF_VERSION, 0, fileoff,
                                          size, addr, len(offs), rejected))
        f.write(offs.tobytes())
        f.write(lens.tobytes())


# --- synthetic corpora --------------------------------------------------
#
# Compiler output repeats a few hundred encodings; these two reach the rest.
# "sweep": every opcode of every supported map (legacy one-byte, 0F, 0F38,
# 0F3A; VEX and EVEX maps 0-7), under prefixes that change lengths (66, 67,
# REX.W, F2, F3, ...), with ModRM forms that cover every ModRM.reg and each
# addressing rule (register, RIP-relative, SIB without base, SIB + disp8,
# disp32).  Each case is a symbol of its own, so objdump starts decoding
# afresh at each one, followed by enough bytes for any displacement and
# immediate.  "random": deterministic random bytes, decoded linearly.

SWEEP_VERSION = 2
RANDOM_VERSION = 1
RANDOM_SIZE = 1 << 20

MODRM_REG = [bytes([0xc0 | r << 3]) for r in range(8)]      # mod=3
MODRM_MEM = [bytes([0x05 | r << 3]) for r in range(8)] + [   # disp32(%rip)
    b"\x04\x25",       # SIB, no base: disp32
    b"\x44\x24",       # SIB + disp8
    b"\x84\x24",       # SIB + disp32
    b"\x45",           # disp8(%rbp)
    b"\x00",           # (%rax)
]
LEGACY_PREFIX_SETS = [b"", b"\x66", b"\x67", b"\xf2", b"\xf3", b"\x48",
                      b"\x66\x48", b"\xf0", b"\x41", b"\x66\xf2"]
# Room for whatever follows the ModRM form: at most a disp32 and an imm32
# (an imm64 or moffs has no ModRM, so the form's bytes count towards it).
TAIL = b"\x05" * 8


def sweep_cases():
    forms = MODRM_REG + MODRM_MEM
    for esc in (b"", b"\x0f", b"\x0f\x38", b"\x0f\x3a"):
        for op in range(256):
            for pfx in LEGACY_PREFIX_SETS:
                for f in forms:
                    yield pfx + esc + bytes([op]) + f
    vforms = MODRM_REG + MODRM_MEM[8:] + MODRM_MEM[:1]
    for v1 in (0xf8, 0xf9, 0xfa, 0xfb, 0xfd, 0x7c):         # C5 R vvvv L pp
        for op in range(256):
            for f in vforms:
                yield bytes([0xc5, v1, op]) + f
    for m in range(8):                                      # C4 RXB mmmmm
        for v2 in ((0x78, 0x79, 0x7a, 0x7b, 0x7d, 0xf9) if 1 <= m <= 3
                   else (0x79,)):
            for op in range(256):
                for f in (vforms if 1 <= m <= 3 else vforms[:1]):
                    yield bytes([0xc4, 0xe0 | m, v2, op]) + f
    for m in range(8):                                      # EVEX P0 P1 P2
        for p1 in ((0x7c, 0x7d, 0xfd, 0x7f) if 1 <= m <= 3 else (0x7d,)):
            for p2 in (0x48, 0x18):
                for op in range(256):
                    for f in (vforms if 1 <= m <= 3 else vforms[:1]):
                        yield bytes([0x62, 0xf0 | m, p1, p2, op]) + f
    # The reserved EVEX bits set wrong: the CPU raises #UD.
    for op in range(256):
        yield bytes([0x62, 0xf9, 0x7d, 0x48, op, 0xc0])
        yield bytes([0x62, 0xf1, 0x79, 0x48, op, 0xc0])


def make_sweep(path):
    lines = [".text"]
    for i, case in enumerate(sweep_cases()):
        data = ",".join(str(b) for b in case + TAIL)
        lines.append(f"s{i}: .byte {data}")
    assemble(path, "\n".join(lines) + "\n")


def make_random(path):
    import random
    data = random.Random(20240601).randbytes(RANDOM_SIZE)
    lines = [".text"]
    for i in range(0, len(data), 64):
        lines.append(".byte " + ",".join(str(b) for b in data[i:i + 64]))
    assemble(path, "\n".join(lines) + "\n")


def assemble(path, source):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".s"
    with open(tmp, "w") as f:
        f.write(source)
    subprocess.run(["as", "--64", "-o", path + ".tmp", tmp], check=True)
    os.replace(path + ".tmp", path)
    os.unlink(tmp)


CORPORA = {"sweep": (make_sweep, SWEEP_VERSION),
           "random": (make_random, RANDOM_VERSION)}


def corpus(name, cache=CACHE):
    """Path of a synthetic corpus ELF ("sweep" or "random"), made if needed."""
    make, version = CORPORA[name]
    path = os.path.join(os.path.dirname(cache), "corpus",
                        f"{name}-v{version}.o")
    if not os.path.exists(path):
        make(path)
    return path


def tool_version(ref):
    if ref == "objdump":
        out = subprocess.run(["objdump", "--version"], capture_output=True,
                             check=True).stdout
        return out.splitlines()[0].decode()
    import capstone
    return "capstone " + capstone.__version__


def ensure_ref(path, ref="objdump", cache=CACHE):
    """Path of the cached reference file for one ELF, made if needed."""
    st = os.stat(path)
    with open(os.path.join(HERE, "insn-ref.c"), "rb") as f:
        parser = hashlib.sha1(f.read()).hexdigest()
    key = f"{CACHE_VERSION}:{ref}:{tool_version(ref)}:{parser}:" \
          f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    out = os.path.join(cache, f"{os.path.basename(path)}-{ref}-{digest}.ref")
    if os.path.exists(out):
        return out
    fileoff, size, addr = text_section(path)
    os.makedirs(cache, exist_ok=True)
    # Older references of the same file are stale now.
    stem = f"{os.path.basename(path)}-{ref}-"
    for name in os.listdir(cache):
        if name.startswith(stem) and name.endswith(".ref") and \
                len(name) == len(stem) + 16 + 4:
            try:
                os.unlink(os.path.join(cache, name))
            except FileNotFoundError:
                pass
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    os.close(fd)
    try:
        (ref_objdump if ref == "objdump" else ref_capstone)(
            path, fileoff, size, addr, tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    os.replace(tmp, out)
    return out


def _ensure(item, ref, cache):
    # Other processes (pytest-xdist workers) may want the same corpus or
    # reference at the same time: one at a time per item, else they write
    # the same temporary files, or one deletes as stale the reference the
    # other has just made.  Once made, both stay as they are.
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, os.path.basename(item) + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = corpus(item, cache) if item in CORPORA else item
        return path, ensure_ref(path, ref, cache)


def ensure_refs(items, ref="objdump", cache=CACHE):
    """[(ELF, reference)] for ELF paths or corpus names ("sweep", "random"),
    made in parallel, one objdump per core; slowest first."""
    from concurrent.futures import ProcessPoolExecutor
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [_ensure(i, ref, cache) for i in items]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_ensure, items, [ref] * len(items),
                             [cache] * len(items)))


def parse_summary(output):
    """The key=value fields of insn-diff's last line."""
    for line in reversed(output.splitlines()):
        if line.startswith("insn-diff: "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            return {k: float(v.rstrip("%")) if k == "share" else int(v)
                    for k, v in fields.items()}
    raise EnvError("insn-diff printed no summary line")


def run(binaries, ref="objdump", insn_diff=INSN_DIFF, verbose=False,
        cache=CACHE):
    """Compare on ELF paths or corpus names: (exit status, output, summary
    fields)."""
    for tool in (insn_diff, INSN_REF):
        if not os.access(tool, os.X_OK):
            raise EnvError(f"{tool} is missing: build it with make")
    args = [insn_diff] + (["-v"] if verbose else [])
    for path, refpath in ensure_refs(binaries, ref, cache):
        args += [path, refpath]
    proc = subprocess.run(args, capture_output=True, text=True, env=SAN_ENV)
    if proc.returncode not in (0, 1):
        raise EnvError(f"insn-diff failed ({proc.returncode}): "
                       f"{proc.stderr.strip()}")
    return proc.returncode, proc.stdout, parse_summary(proc.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binaries", nargs="*", metavar="ELF",
                    help="files whose .text to compare (default: libc, "
                    "libm, python3, qemu-system-x86_64, libcrypto)")
    ap.add_argument("--ref", choices=("objdump", "capstone"),
                    default="objdump", help="reference disassembler")
    ap.add_argument("--insn-diff", default=INSN_DIFF,
                    help="the insn-diff binary (default: %(default)s)")
    ap.add_argument("--synthetic", action="store_true",
                    help="also the opcode sweep and the random bytes")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="every mismatch and 100 unsupported opcodes")
    args = ap.parse_args()
    binaries = args.binaries or [b for b in DEFAULT_BINARIES
                                 if os.path.exists(b)]
    try:
        if args.synthetic:
            binaries += ["sweep", "random"]
        status, out, _ = run(binaries, args.ref, args.insn_diff,
                             args.verbose)
    except (EnvError, OSError, subprocess.CalledProcessError) as e:
        print(f"difftest: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(out)
    return status


if __name__ == "__main__":
    sys.exit(main())
