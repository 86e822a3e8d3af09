# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The demo report page: one self-contained HTML file (inline CSS, inline
SVG plots, no scripts, nothing fetched) built from the pvdemo --json object
and, when one exists, the hosted benchmark's JSON.  The input is checked
before matplotlib is imported, so unusable input is refused quickly."""

import html
from typing import Any, Dict, List, Optional

from .errors import UsageError

BENCH_HOWTO = ("make bench BENCH_ARGS=--json", "build/tests/bench/bench.json")

CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 60em; color: #222;
       background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
p.read { margin: 0.3em 0 0.6em; } figure.plot { margin: 0; }
figure.plot svg { max-width: 100%; height: auto; }
code { background: #f2f2f2; padding: 0 0.2em; }
table { border-collapse: collapse; } td, th { padding: 0.1em 0.6em; text-align: left; }
"""


def check_demo(s: Any) -> None:
    """UsageError unless s has what the report reads from pvdemo --json."""
    if not isinstance(s, dict):
        raise UsageError("not a pvdemo --json object")
    for k in ("kvm", "modes", "boots", "ops", "roms"):
        if k not in s:
            raise UsageError(f"not a pvdemo --json object (no '{k}')")
    if not s["ops"] or not any(not b.get("skipped") for b in s["boots"]):
        raise UsageError("pvdemo --json object without a boot that ran")


def check_bench(b: Any) -> None:
    if not isinstance(b, dict) or not isinstance(b.get("ops"), dict) or not b["ops"]:
        raise UsageError("not a bench --json object (no 'ops')")


def _section(p) -> str:
    return (f'<section id="{p.key}">\n<h2>{html.escape(p.title)}</h2>\n'
            f'<p class="read">{html.escape(p.read)}</p>\n'
            f'<figure class="plot" id="plot-{p.key}" data-marks="{p.marks}">\n{p.svg}\n'
            f'</figure>\n</section>')


def _summary(s: Dict[str, Any], source: str) -> str:
    ran = [b for b in s["boots"] if not b.get("skipped")]
    skipped = [b for b in s["boots"] if b.get("skipped")]
    kvm = ("KVM usable: its boots are in the figures (cycles)." if s["kvm"]["usable"] else
           f"KVM not usable here ({html.escape(str(s['kvm']['reason']))}): "
           f"{len(skipped)} KVM boots not run; every figure below is from TCG.")
    rows = "\n".join(
        f"<tr><td>{html.escape(b['name'])}</td><td>{html.escape(b['accel'].upper())}</td>"
        f"<td>{html.escape(str(b.get('policy')))}</td><td>{b.get('sites')}</td>"
        f"<td>{'passed' if b.get('ok') else 'FAILED'}</td></tr>" for b in ran)
    return (f"<p>{len(ran)} boots of the test guest ran, "
            f"{'all passed their in-guest tests' if s.get('ok') else 'NOT all passed'}. "
            f"{kvm} Costs under TCG are exact guest instruction counts "
            f"(<code>-icount shift=0</code>), the same on every machine.</p>\n"
            f"<table><tr><th>boot</th><th>accel</th><th>policy</th><th>sites</th>"
            f"<th>in-guest tests</th></tr>\n{rows}\n</table>\n"
            f"<p>Figures from <code>{html.escape(source)}</code> "
            f"(what <code>tools/pvdemo --json</code> printed).</p>")


def render(s: Dict[str, Any], source: str, bench: Optional[Dict[str, Any]] = None,
           bench_source: Optional[str] = None) -> str:
    check_demo(s)
    if bench is not None:
        check_bench(bench)
    from . import plots     # matplotlib: only once the input is known good
    parts: List[str] = [_summary(s, source)]
    for make in (plots.op_cost, plots.kvm_op_cost, plots.sites, plots.patch_cost):
        p = make(s)
        if p is not None:
            parts.append(_section(p))
    if bench is not None:
        p = plots.bench(bench)
        note = (f'<p>From <code>{html.escape(str(bench_source))}</code>: TSC at '
                f'{bench.get("tsc_ghz")} GHz, {bench.get("batches")} batches'
                f'{" (--quick)" if bench.get("quick") else ""}, '
                f'{bench.get("failures")} check failures. Real hardware on a shared '
                f'machine: read ratios, not absolute times.</p>')
        parts.append(_section(p).replace("</h2>\n", "</h2>\n" + note + "\n", 1))
    else:
        parts.append(
            '<section id="bench-none">\n<h2>Hosted benchmark (make bench)</h2>\n'
            '<p>No hosted benchmark was run for this report, so it shows no hardware '
            f'ratios. <code>{BENCH_HOWTO[0]}</code> runs it on this CPU and leaves '
            f'<code>{BENCH_HOWTO[1]}</code>; the next <code>make demo</code> plots it '
            '(or <code>tools/pvreport --bench FILE</code>).</p>\n</section>')
    body = "\n".join(parts)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>pvpatch demo report</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n<h1>pvpatch demo report</h1>\n"
            f"{body}\n</body>\n</html>\n")
