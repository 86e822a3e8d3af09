# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""examples/minimal: the second adopter kernel, booted under TCG with two
CPUs (MTTCG), proving docs/porting.md complete: built only through
pvpatch.mk, the linker fragments and the public headers (`make examples`)."""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, PYTHON, ROOT

EX_B = os.path.join(BUILD, "examples", "minimal")
ELF = os.path.join(EX_B, "minimal.elf")
ELF32 = os.path.join(EX_B, "minimal32.elf")
EX_SRC = os.path.join(ROOT, "examples", "minimal")
QEMU = shutil.which("qemu-system-x86_64")
NTESTS = 8

pytestmark = pytest.mark.skipif(not QEMU, reason="qemu-system-x86_64 not installed")


def boot(cmdline="", extra=(), timeout=60):
    """Boot under MTTCG with 2 CPUs; a hang fails the test (timeout)."""
    try:
        p = subprocess.run(
            [QEMU, "-machine", "pc", "-m", "64", "-smp", "2", "-accel", "tcg,thread=multi",
             "-kernel", ELF32, "-append", cmdline, "-serial", "stdio", "-display", "none",
             "-monitor", "none", "-no-reboot",
             "-device", "isa-debug-exit,iobase=0xf4,iosize=4", *extra],
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"hang: no exit within {timeout} s\n{out[-2000:]}")
    return p


def parse(out):
    results = {int(m.group(2)): (m.group(1) == "ok", m.group(3))
               for m in re.finditer(r"^(not ok|ok) (\d+) (.*)$", out, re.M)}
    m = re.search(r"^# policy (\S+) sites (\d+) native (\d+) nop (\d+) inline (\d+) call (\d+) "
                  r"fallbacks (\d+)$", out, re.M)
    assert m, out
    policy = {"source": m.group(1), "sites": int(m.group(2)), "NATIVE": int(m.group(3)),
              "NOP": int(m.group(4)), "INLINE": int(m.group(5)), "CALL": int(m.group(6)),
              "fallbacks": int(m.group(7))}
    return results, policy


def check_all_ok(p):
    assert "KTAP version 1" in p.stdout and f"1..{NTESTS}" in p.stdout, p.stdout
    results, policy = parse(p.stdout)
    assert sorted(results) == list(range(1, NTESTS + 1)), p.stdout
    failed = [f"{n} {name}" for n, (ok, name) in results.items() if not ok]
    assert not failed, f"{failed}\n{p.stdout[-3000:]}"
    assert p.returncode == 1, f"isa-debug-exit status {p.returncode} (1 = all passed)\n{p.stdout}"
    return policy


@pytest.mark.parametrize("cmdline,source,mode", [
    ("", "built-in:tcg", "NATIVE"),
    ("pvpatch.profile=paravirt", "built-in:paravirt", "CALL"),
    ("pvpatch=off", "off", "NATIVE"),
])
def test_boots_on_two_cpus(cmdline, source, mode):
    policy = check_all_ok(boot(cmdline))
    assert policy["source"] == source
    assert policy["sites"] >= 10 and policy[mode] == policy["sites"], policy


def test_rom_through_fw_cfg_as_pvrom_check_predicts(tmp_path):
    """The hypervisor's ROM read through the kernel's port hooks; tools/pvrom
    check, given nothing but the ELF, predicts the same modes."""
    rom = str(tmp_path / "paravirt.rom")
    env = {k: v for k, v in os.environ.items() if k != "PVPATCH_GEN"}
    gen = os.path.join(EX_B, "pvpatch", "gen")
    subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "build", "--gen", gen,
                    os.path.join(ROOT, "hypervisor-features", "paravirt.profile"), "-o", rom],
                   check=True, env=env)
    policy = check_all_ok(boot("", ("-fw_cfg", f"name=opt/org.pvpatch/rom,file={rom}")))
    assert policy["source"] == "rom:paravirt" and policy["CALL"] == policy["sites"]
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvrom"), "check", rom, ELF],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert f"{policy['sites']} sites: NATIVE 0, NOP 0, INLINE 0, CALL {policy['sites']}" \
        in p.stdout, p.stdout


def test_sites_verify_from_the_elf_alone():
    env = {k: v for k, v in os.environ.items() if k != "PVPATCH_GEN"}
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), "verify", ELF],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and "all verified" in p.stdout, p.stdout + p.stderr


def test_plain_backends_analysed():
    """The two plain C backends (the cr3 ops, PVPATCH_REGISTER_C_BACKEND):
    the build's liveness pass recorded what each may write, checked here
    against objdump's disassembly of the function; the register-preserving
    ones are left as they are."""
    env = {k: v for k, v in os.environ.items() if k != "PVPATCH_GEN"}
    p = subprocess.run([PYTHON, os.path.join(ROOT, "tools", "pvsites"), "list", "--json", ELF],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    backends = {b["op"]: b for f in (out if isinstance(out, list) else [out])
                for b in f["backends"]}
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", ELF], capture_output=True,
                         text=True, check=True).stdout
    for op in ("read_cr3", "write_cr3"):
        b = backends[op]
        assert not b["preserves"] and b["analysed"], b
        body = dis.split(f"<be_{op}>:\n", 1)[1].split("\n\n", 1)[0]
        # what the function writes, by objdump: the destination of each
        # instruction (AT&T: the last operand) when it is a register
        dests = {m.group(1) for m in re.finditer(r",%(\w+)$", body, re.M)}
        want = sorted({"eax": "rax", "rax": "rax"}[d] for d in dests if d in ("eax", "rax"))
        assert not dests - {"eax", "rax", "cr3"}, dests
        assert b["writes"] == want, (b, body)
    assert all(b["preserves"] and not b["analysed"] for op, b in backends.items()
               if op not in ("read_cr3", "write_cr3"))


def test_needs_nothing_from_the_test_guest():
    """Every file the example's objects were compiled from (the compiler's
    dependency files) is the example's own, a public header, the generated
    headers, the runtime's sources or the compiler's."""
    allowed = (EX_SRC + "/", os.path.join(ROOT, "include", "asm") + "/",
               os.path.join(EX_B, "pvpatch") + "/", os.path.join(ROOT, "arch", "x86") + "/",
               "/usr/")
    deps = []
    for d in ("", "pvpatch/obj"):
        top = os.path.join(EX_B, d)
        for f in os.listdir(top):
            if f.endswith(".d"):
                text = open(os.path.join(top, f)).read().replace("\\\n", " ")
                for line in text.splitlines():
                    if ":" in line:
                        deps += line.split(":", 1)[1].split()
    assert deps
    stray = sorted({os.path.abspath(d) for d in deps
                    if not os.path.abspath(d).startswith(allowed)})
    assert not stray, stray
    for name in os.listdir(EX_SRC):
        assert "tests/guest" not in open(os.path.join(EX_SRC, name)).read(), name
    own = [os.path.abspath(d) for d in deps if os.path.abspath(d).startswith(EX_SRC + "/")]
    assert any(d.endswith("main.c") for d in own) and any(d.endswith("boot.S") for d in own)
