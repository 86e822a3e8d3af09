# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""native_max is the longest native encoding of each op, exactly.

For a spec, the generated include/asm/pvops-gen.inc is included by a .S file
that invokes every op's pv_<op> macro with many register assignments of the
unpinned operands (outputs, then inputs, then scratch, each written at the
width of its type): every general register but rsp for each operand in turn
(the others on distinct fixed registers), all operands on r12 and on r13
(SIB byte, displacement), and the full cross product of registers when it has
at most CROSS_MAX members.  The file must assemble (pvpatch_site_end .errors
when native code is longer than the site), and the largest native_len of an
op's records in .pvpatch.sites must equal the op's native_max: not larger
(the site would be too short for some registers) and not smaller (bytes
wasted at every site).

Known wrong spec values are listed in KNOWN_WRONG and xfail strictly, so the
test fails again (XPASS) once the spec is fixed and the entry is stale.
"""

from __future__ import annotations

import itertools
import re
import struct
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from pvgen_testlib import GOOD, SPEC, load_module, run_pvgen

SPECS = {"x86": SPEC, "mini": GOOD / "mini.spec"}

# (spec, op) -> (native_max in the spec, longest encoding measured).
KNOWN_WRONG = {
    # mov %cr3, %r8..%r15 needs a REX prefix: 2 x 4 bytes, not 2 x 3.
}

CROSS_MAX = 4096
WIDTH = {8: 0, 4: 1, 2: 2, 1: 3}
SCRATCH_SIZE = 8  # scratch registers are unsigned long


def _spec_ops(path):
    from pvops.main import load
    return [op.name for op in load(str(path)).ops]


def _given_min(key):
    """Ops whose spec gives native_min (else gen uses a lower bound)."""
    from pvops.spec import parse
    path = SPECS[key]
    return {r.name for r in parse(path.read_text(), str(path)) if "native_min" in r.fields}


def _cases():
    out = []
    for key, path in SPECS.items():
        for name in _spec_ops(path):
            marks = []
            if (key, name) in KNOWN_WRONG:
                spec_val, measured = KNOWN_WRONG[(key, name)]
                marks.append(pytest.mark.xfail(
                    strict=True, reason=f"spec says native_max {spec_val}, "
                    f"the longest encoding is {measured}"))
            out.append(pytest.param(key, name, marks=marks, id=f"{key}-{name}"))
    return out


def _params(op):
    """(size) of each macro argument, in macro order."""
    return ([o["size"] for o in op["outs"] if not o["pin"]]
            + [o["size"] for o in op["ins"] if not o["pin"]]
            + [SCRATCH_SIZE] * len(op["scratch"]))


def _assignments(n, gprs):
    """Register-number tuples for an op with n register arguments."""
    if n == 0:
        return [()]
    combos = []
    fixed = [r for r in gprs if r < 8][:n]  # distinct, no REX needed
    for i in range(n):
        for r in gprs:
            combos.append(tuple(fixed[:i]) + (r,) + tuple(fixed[i + 1:]))
    combos += [(12,) * n, (13,) * n]
    if len(gprs) ** n <= CROSS_MAX:
        combos += itertools.product(gprs, repeat=n)
    return list(dict.fromkeys(combos))


def _invocations(mod, op):
    sizes = _params(op)
    gprs = [n for n in range(len(mod.REGS)) if mod.REGS[n][0] != "rsp"]
    for combo in _assignments(len(sizes), gprs):
        args = ", ".join("%" + mod.REGS[r][WIDTH[s]] for r, s in zip(combo, sizes))
        yield f"\tpv_{op['name']} {args}".rstrip()


def _assemble(tmp, gen, lines, stem):
    src = tmp / f"{stem}.S"
    obj = tmp / f"{stem}.o"
    src.write_text("#include <asm/pvops-gen.inc>\n\t.text\n"
                   + "\n".join(lines) + "\n")
    r = subprocess.run(["gcc", "-c", "-I", str(gen / "include"), str(src),
                        "-o", str(obj)], capture_output=True, text=True)
    return r, obj


def _records(mod, obj):
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(mod.SECTION)
        assert sec is not None, f"no {mod.SECTION} section"
        assert sec["sh_entsize"] == mod.RECORD_SIZE
        data = sec.data()
    assert struct.calcsize(mod.RECORD_FORMAT) == mod.RECORD_SIZE
    assert len(data) % mod.RECORD_SIZE == 0
    return [dict(zip(mod.RECORD_FIELDS,
                     struct.unpack_from(mod.RECORD_FORMAT, data, off)))
            for off in range(0, len(data), mod.RECORD_SIZE)]


_measured: dict[str, tuple] = {}


def measure(key, tmp_path_factory):
    """key -> (module, {op name: (assembler errors, [records])})."""
    if key in _measured:
        return _measured[key]
    tmp = tmp_path_factory.mktemp(f"native-max-{key}")
    gen = tmp / "gen"
    r = run_pvgen(SPECS[key], gen)
    assert r.returncode == 0, r.stderr
    mod = load_module(gen / "python" / "pvpatch_gen.py", f"pvpatch_gen_{key}")
    ops = [mod.OPS[abi] for abi in sorted(mod.OPS)]
    per_op = {op["name"]: list(_invocations(mod, op)) for op in ops}
    result = {}
    r, obj = _assemble(tmp, gen, [l for op in ops for l in per_op[op["name"]]],
                       "all")
    if r.returncode == 0:
        recs = _records(mod, obj)
        assert len(recs) == sum(map(len, per_op.values()))
        i = 0
        for op in ops:
            n = len(per_op[op["name"]])
            result[op["name"]] = ("", recs[i:i + n])
            i += n
    else:
        # Find which ops fail: assemble them one by one.
        for op in ops:
            r, obj = _assemble(tmp, gen, per_op[op["name"]], op["name"])
            result[op["name"]] = ((r.stderr or "failed"), []) if r.returncode \
                else ("", _records(mod, obj))
    _measured[key] = (mod, result)
    return _measured[key]


@pytest.mark.parametrize("key,name", _cases())
def test_native_max_is_longest_encoding(key, name, tmp_path_factory):
    mod, result = measure(key, tmp_path_factory)
    op = next(o for o in mod.OPS.values() if o["name"] == name)
    errors, recs = result[name]
    assert not errors, f"pv_{name} does not assemble:\n{errors}"
    assert recs
    for rec in recs:
        assert rec["op"] == op["abi"]
        assert rec["version"] == mod.SITE_VERSION
        assert rec["site_len"] == op["site_len"]
        assert rec["native_len"] <= rec["site_len"]
    longest = max(rec["native_len"] for rec in recs)
    shortest = min(rec["native_len"] for rec in recs)
    assert longest == op["native_max"], (
        f"{key} op {name}: native_max {op['native_max']}, longest encoding "
        f"{longest} (shortest {shortest}, {len(recs)} register assignments)")
    # NATIVE pads with one NOP, never a JMP, whatever the registers; and
    # native_min, the bound gen checks that rule with, is never above the
    # shortest encoding (exactly it where the spec gives it).
    assert op["site_len"] - shortest <= mod.MAX_NOP, (
        f"{key} op {name}: site {op['site_len']} around {shortest} bytes of native code")
    if name in _given_min(key):
        assert op["native_min"] == shortest, (
            f"{key} op {name}: native_min {op['native_min']}, shortest encoding {shortest}")
    else:
        assert op["native_min"] <= shortest


def test_site_error_when_native_too_long(tmp_path):
    """The assembler rejects a site whose native code outgrows it."""
    spec = tmp_path / "short.spec"
    spec.write_text("op too_short 1\n\tclass cpu\n\tout val:ulong:r\n"
                    "\tnative mov %cr3, %[val]\n\tmodes NATIVE\n"
                    "\tnative_max 3\n")
    gen = tmp_path / "gen"
    assert run_pvgen(spec, gen).returncode == 0
    r, _ = _assemble(tmp_path, gen, ["\tpv_too_short %rax"], "ok")
    assert r.returncode == 0, r.stderr  # 0f 20 d8: 3 bytes
    r, _ = _assemble(tmp_path, gen, ["\tpv_too_short %r8"], "bad")
    assert r.returncode != 0  # 41 0f 20 d8: 4 bytes
    assert re.search(r"native sequence longer than its site \(op 1\)", r.stderr)
