# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Golden error tests of gen/pvgen.

Each tests/gen/errors/<case>.spec is a small spec with exactly one mistake;
tests/gen/errors/<case>.err is the exact stderr the generator must print for
it (one line, `<case>.spec:LINE: message`; the generator runs in
tests/gen/errors with the relative path).  A case listed in NO_SPEC has a
.err but deliberately no .spec (the unreadable-file error).

Regenerate the .err files instead of comparing them:

    PVPATCH_REGEN=1 /usr/bin/python3 -m pytest tests/gen

Besides the goldens, the tests check that every case hits a different
message, and that every `raise SpecError(` in gen/pvops/*.py is reached by
some case, both at run time (the raising line) and in the text (the
message template matches some case's stderr).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pvgen_testlib import ERRORS, GEN_DIR, REGEN, run_pvgen

# Cases whose .spec is deliberately absent: the generator cannot read it.
NO_SPEC = ("unreadable",)

CASES = sorted({p.stem for p in ERRORS.glob("*.spec")} | set(NO_SPEC))
MSG = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<msg>[^\n]+)\n$")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """case -> (returncode, stdout, stderr, files written) for every case."""
    res = {}
    for case in CASES:
        out = tmp_path_factory.mktemp("err-" + case)
        r = run_pvgen(f"{case}.spec", out / "gen", ERRORS)
        written = sorted(p.name for p in (out / "gen").rglob("*")) \
            if (out / "gen").exists() else []
        res[case] = (r.returncode, r.stdout, r.stderr, written)
    return res


def _message(stderr: str) -> str:
    m = MSG.match(stderr)
    assert m, f"not one 'FILE:LINE: message' line: {stderr!r}"
    return m["msg"]


@pytest.mark.parametrize("case", CASES)
def test_error_golden(case, results):
    rc, stdout, stderr, written = results[case]
    golden = ERRORS / f"{case}.err"
    if REGEN:
        golden.write_text(stderr, encoding="utf-8")
    assert rc == 1, f"exit status {rc}, stderr {stderr!r}"
    assert stdout == ""
    assert not written, f"files written despite the error: {written}"
    m = MSG.match(stderr)
    assert m, f"not one 'FILE:LINE: message' line: {stderr!r}"
    assert m["file"] == f"{case}.spec"
    assert stderr == golden.read_text(encoding="utf-8")


def test_no_stray_files():
    """Every .err has a case and every case a .err."""
    errs = {p.stem for p in ERRORS.glob("*.err")}
    assert errs == set(CASES)
    for case in NO_SPEC:
        assert not (ERRORS / f"{case}.spec").exists()


def test_each_case_hits_a_different_message(results):
    seen: dict[str, str] = {}
    for case in CASES:
        msg = _message(results[case][2])
        assert msg not in seen, f"{case} and {seen[msg]} both give {msg!r}"
        seen[msg] = case


# --- coverage of the raise sites ---------------------------------------------

def _template(node: ast.expr) -> str:
    """A regex for the text a message expression can produce."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v) if isinstance(v, ast.Constant) else ".+?"
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left) + _template(node.right)
    return ".*?"


def raise_sites() -> dict[tuple[str, int, int], str]:
    """(file, first line, last line) of each `raise SpecError(...)` -> regex."""
    sites = {}
    for path in sorted((GEN_DIR / "pvops").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name)
                    and node.exc.func.id == "SpecError"):
                args = node.exc.args
                assert len(args) == 3, f"{path.name}:{node.lineno}: 3 arguments"
                sites[(path.name, node.lineno, node.end_lineno)] = \
                    _template(args[2])
    return sites


def test_raise_sites_found():
    # A sanity floor, so a broken scan cannot make the coverage tests vacuous.
    assert len(raise_sites()) >= 30


def test_every_raise_site_reached(tmp_path):
    """Run each case in-process and locate the raise that produced it."""
    from pvops.main import load
    from pvops.model import SpecError

    sites = raise_sites()
    reached: dict[tuple[str, int, int], list[str]] = {}
    for case in CASES:
        with pytest.raises(SpecError) as info:
            load(str(ERRORS / f"{case}.spec"))
        tb = info.value.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        name, line = Path(tb.tb_frame.f_code.co_filename).name, tb.tb_lineno
        hit = [s for s in sites if s[0] == name and s[1] <= line <= s[2]]
        assert len(hit) == 1, f"{case}: raised at {name}:{line}, not a known site"
        reached.setdefault(hit[0], []).append(case)
    missing = sorted(set(sites) - set(reached))
    assert not missing, "raise sites no case reaches: " + ", ".join(
        f"{f}:{a}" for f, a, _ in missing)


def test_every_message_template_in_some_err(results):
    """Each raise site's message text (placeholders aside) is in some .err,
    and every .err message comes from some raise site."""
    sites = raise_sites()
    msgs = {case: _message(results[case][2]) for case in CASES}
    for site, regex in sites.items():
        assert any(re.fullmatch(regex, m) for m in msgs.values()), \
            f"no case prints the message of {site[0]}:{site[1]} ({regex})"
    for case, m in msgs.items():
        assert any(re.fullmatch(r, m) for r in sites.values()), \
            f"{case}: message {m!r} matches no raise site"
