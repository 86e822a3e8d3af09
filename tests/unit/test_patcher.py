"""The runtime patcher's hosted tests (cmocka, under ASan and UBSan), the
capstone cross-check of the bytes they produced, and the freestanding build."""

import os
import subprocess

import capstone
import pytest
from conftest import BUILD

B = os.path.join(BUILD, "tests", "unit", "patcher")
TEST = os.path.join(B, "test-patch")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    dump = tmp_path_factory.mktemp("patcher") / "sites.txt"
    env = dict(os.environ, PVPATCH_DUMP=str(dump))
    p = subprocess.run([TEST], capture_output=True, text=True, timeout=120, env=env)
    return p, dump


def test_cmocka_suite_passes(run):
    p, _ = run
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "[  PASSED  ]" in out and "FAILED" not in out, out


def _md():
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    return md


def _same_mnemonic(want, got):
    return want == got or (got[:-1] == want and got[-1] in "bwlq")


def test_patched_bytes_decode_as_intended(run):
    """Every site the tests dumped decodes, with capstone, to the expected
    instructions followed by padding that is one NOP or a JMP over int3."""
    p, dump = run
    assert p.returncode == 0
    lines = dump.read_text().splitlines()
    assert len(lines) >= 7
    md = _md()
    for line in lines:
        name, addr, hexbytes, *rest = line.split(" ", 3)
        code = bytes.fromhex(hexbytes)
        want = [w.strip() for w in rest[0].split(";")] if rest and rest[0] else []
        insns = list(md.disasm(code, int(addr, 16)))
        assert sum(i.size for i in insns) == len(code), name
        got = [f"{i.mnemonic} {i.op_str}".strip() for i in insns]
        for w, g, i in zip(want, got, insns):
            wm, _, wops = w.partition(" ")
            assert _same_mnemonic(wm, i.mnemonic), (name, w, g)
            if wops:
                assert wops == i.op_str, (name, w, g)
        pad = insns[len(want):]
        if not pad:
            continue
        if len(pad) == 1:
            assert pad[0].id == capstone.x86.X86_INS_NOP, (name, got)
        else:
            end = int(addr, 16) + len(code)
            assert pad[0].mnemonic == "jmp" and int(pad[0].op_str, 16) == end, (name, got)
            assert all(i.mnemonic == "int3" for i in pad[1:]), (name, got)


def test_runtime_is_freestanding():
    """Linked as a kernel links it, the patcher needs no outside symbol: only
    the built-in profile table, weak, which pvpatch.mk's object supplies."""
    kobj = os.path.join(B, "pvpatch-kernel.o")
    p = subprocess.run(["nm", "-u", kobj], capture_output=True, text=True, check=True)
    undef = [ln.split() for ln in p.stdout.splitlines() if ln.strip()]
    assert sorted(undef) == [["w", "pvpatch_builtin_profiles"],
                             ["w", "pvpatch_nr_builtin_profiles"]], p.stdout
