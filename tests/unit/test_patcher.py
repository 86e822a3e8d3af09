# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The runtime patcher's hosted tests (cmocka, under ASan and UBSan), the
capstone cross-check of the bytes they produced, and the freestanding build."""

import json
import os
import subprocess

import capstone
import pytest
from conftest import BUILD

B = os.path.join(BUILD, "tests", "unit", "patcher")
TEST = os.path.join(B, "test-patch")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("patcher")
    dump, thunks = d / "sites.txt", d / "thunks.txt"
    env = dict(os.environ, PVPATCH_DUMP=str(dump), PVPATCH_THUNK_DUMP=str(thunks))
    p = subprocess.run([TEST], capture_output=True, text=True, timeout=120, env=env)
    return p, dump, thunks


def test_cmocka_suite_passes(run):
    p, _, _ = run
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "[  PASSED  ]" in out and "FAILED" not in out, out


def test_cmocka_suite_passes_with_widened_masks():
    """test-patch-live: the same program after the liveness pass.  Its CALL
    and INLINE sites now see wider free masks (argument registers among
    them): every test must still pass."""
    live = TEST + "-live"
    if not os.path.exists(live):
        pytest.fail(f"{live} missing: run `make all`")
    st = subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(BUILD), "tools",
                                                          "pvsites"), "stats", "--json", live],
                        capture_output=True, text=True, timeout=60)
    assert json.loads(st.stdout)["liveness"]["sites_widened"] > 0, st.stderr
    p = subprocess.run([live], capture_output=True, text=True, timeout=120)
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
    p, dump, _ = run
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
        if want and want[-1].startswith("jmp"):
            # Out of line (an INLINE stub's site): never executed past the jmp.
            assert all(i.mnemonic == "int3" for i in pad), (name, got)
            continue
        if len(pad) == 1:
            assert pad[0].id == capstone.x86.X86_INS_NOP, (name, got)
        else:
            end = int(addr, 16) + len(code)
            assert pad[0].mnemonic == "jmp" and int(pad[0].op_str, 16) == end, (name, got)
            assert all(i.mnemonic == "int3" for i in pad[1:]), (name, got)


def test_thunk_area_is_only_code(run):
    """The used thunk area, after many CALL sites went through thunks, decodes
    with capstone from its first byte to its last: thunk after thunk, each
    starting at a multiple of 16 and ending with `ret; int3` (no return thunk
    is set) or, for an INLINE stub, a jmp back to its site, every other byte
    up to the next thunk int3."""
    p, _, thunks = run
    assert p.returncode == 0
    addr, hexbytes = thunks.read_text().split()
    base, code = int(addr, 16), bytes.fromhex(hexbytes)
    assert base % 16 == 0 and len(code) > 0
    insns = list(_md().disasm(code, base))
    assert sum(i.size for i in insns) == len(code)
    starts, in_thunk, after_ret = [base], True, False
    for i in insns:
        if in_thunk:
            assert i.mnemonic != "int3", hex(i.address)
            if i.mnemonic in ("ret", "retq"):
                in_thunk, after_ret = False, True
            elif i.mnemonic == "jmp":
                # An INLINE stub ends jumping back to its site, outside the area.
                target = int(i.op_str, 16)
                assert not base <= target < base + len(code), hex(i.address)
                in_thunk = False
            continue
        if after_ret:
            assert i.mnemonic == "int3", hex(i.address)  # ret; int3
            after_ret = False
            continue
        if i.address % 16 == 0 and i.mnemonic != "int3":
            starts.append(i.address)
            in_thunk = i.mnemonic not in ("ret", "retq")
            after_ret = not in_thunk
            continue
        assert i.mnemonic == "int3", hex(i.address)
    assert not in_thunk and not after_ret
    assert len(starts) >= 6


def test_runtime_is_freestanding():
    """Linked as a kernel links it, the patcher needs no outside symbol: only
    the built-in profile table, weak, which pvpatch.mk's object supplies."""
    kobj = os.path.join(B, "pvpatch-kernel.o")
    p = subprocess.run(["nm", "-u", kobj], capture_output=True, text=True, check=True)
    undef = [ln.split() for ln in p.stdout.splitlines() if ln.strip()]
    assert sorted(undef) == [["w", "pvpatch_builtin_profiles"],
                             ["w", "pvpatch_nr_builtin_profiles"]], p.stdout


def test_repatch_quiescence_mutation():
    """The mutation check of pvpatch_repatch(): with its quiescence check
    disabled (PVPATCH_F_NO_QUIESCE_DEBUG, set by the suite when
    PVPATCH_MUTATE_NO_QUIESCE is in the environment) the tests that expect a
    retry and a give-up fail, and only those."""
    env = dict(os.environ, PVPATCH_MUTATE_NO_QUIESCE="1")
    p = subprocess.run([TEST], capture_output=True, text=True, timeout=120, env=env)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    failed = {line.split()[-1] for line in out.splitlines() if line.startswith("[  FAILED  ] test_")}
    assert failed == {
        "test_repatch_hook_order",
        "test_repatch_busy_rip_in_site",
        "test_repatch_busy_rip_in_thunk",
        "test_repatch_busy_stack_word",
        "test_repatch_busy_rip_in_backend_family",
        "test_repatch_inline_stub",
    }, out
