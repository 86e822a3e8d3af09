# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The report's plots, each drawn with matplotlib from the pvdemo --json
object (or the hosted benchmark's JSON) and returned as inline SVG text.

Every data mark (a bar, or the end mark of a value that can be zero-length)
carries an SVG id starting with "data-", so a test can find what was drawn
apart from axes, ticks and labels."""

import io
from typing import Any, Dict, List, Optional, Tuple

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# Stable output: the same figures give the same SVG text.
matplotlib.rcParams.update({"svg.hashsalt": "pvpatch", "svg.fonttype": "path",
                            "font.size": 9})

COLOURS = {"NATIVE": "#4c72b0", "NOP": "#55a868", "INLINE": "#8172b2", "CALL": "#dd8452",
           "free build": "#7f7f7f", "pv_ops indirect": "#c4ad66", "retpoline": "#c44e52"}
WIDTH_IN = 9.0


class Plot:
    """One figure of the report: its SVG and the sentence saying what to read."""

    def __init__(self, key: str, title: str, svg: str, read: str, marks: int):
        self.key, self.title, self.svg, self.read, self.marks = key, title, svg, read, marks


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]   # inline: no XML declaration or DOCTYPE


def _legend(ax, names: List[str], **kw) -> None:
    ax.legend([Patch(color=COLOURS[n]) for n in names], names, fontsize=8, **kw)


def _hbars(ax, labels: List[str], series: List[Tuple[str, List[Optional[float]]]],
           key: str, base: float = 0.0) -> int:
    """Grouped horizontal bars, one group per label (top to bottom), one bar
    per series, each from `base` to its value; None draws nothing.  Returns
    the number of bars drawn."""
    n = len(series)
    h = 0.8 / max(n, 1)
    marks = 0
    for j, (name, vals) in enumerate(series):
        for i, v in enumerate(vals):
            if v is None:
                continue
            y = i + (j - (n - 1) / 2) * h
            ax.barh(y, v - base, left=base, height=h, color=COLOURS[name])
            # The value's end as a mark of its own: a bar of no length (a
            # ratio of exactly 1, a cost of 0) still shows where it is.
            end, = ax.plot([v], [y], marker="d", markersize=3.5, color="black",
                           markeredgewidth=0, linestyle="none")
            end.set_gid(f"data-{key}-{marks}")
            marks += 1
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    return marks


def op_cost(s: Dict[str, Any]) -> Plot:
    """Per-op cost under TCG in each mode beside the framework-free build,
    the pv_ops indirect call and its retpoline form."""
    ops = [op for op, o in s["ops"].items() if o.get("native_build") is not None]
    modes = [m for m in s["modes"] if any(s["ops"][op]["tcg"].get(m) is not None for op in ops)]
    series = [("free build", [s["ops"][op]["native_build"] for op in ops])]
    series += [(m, [s["ops"][op]["tcg"].get(m) for op in ops]) for m in modes]
    series += [("pv_ops indirect", [s["ops"][op]["pvops_indirect"] for op in ops]),
               ("retpoline", [s["ops"][op]["retpoline"] for op in ops])]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.55 * len(ops) + 1.5))
    marks = _hbars(ax, ops, series, "opcost")
    _legend(ax, [n for n, _ in series], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("cost per op: guest instructions executed (TCG -icount, median)")
    ax.set_ylabel("op")
    title = "Per-op cost by patch mode under TCG"
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    native = [op for op in ops if s["ops"][op]["tcg"].get("NATIVE") is not None]
    plus1 = sum(1 for op in native
                if s["ops"][op]["tcg"]["NATIVE"] == s["ops"][op]["native_build"] + 1)
    read = (f"Read each op against its grey framework-free bar: a NATIVE site costs exactly "
            f"one instruction more (the padding) for {plus1} of {len(native)} ops, a NOP site "
            "no more than the free build, and a CALL site the call into its backend and the "
            "backend's body, beside the red retpoline form a pv_ops kernel pays at every "
            "site; a missing bar means no TCG boot here put the op in that mode.")
    return Plot("op-cost", title, _svg(fig), read, marks)


def _site_rows(s: Dict[str, Any]) -> List[Tuple[str, Dict[str, int]]]:
    rows = [(f"{b['name']} ({b['accel'].upper()} demo boot)", b["modes"])
            for b in s["boots"] if not b.get("skipped")]
    accel = s["roms"]["accel"].upper()
    for p in s["roms"]["profiles"]:
        if p.get("built_in"):
            rows.append((f"{p['profile']} built in ({accel})", p["built_in"]["modes"]))
        if p.get("rom"):
            rows.append((f"{p['profile']} as ROM ({accel})", p["rom"]["modes"]))
    return rows


def sites(s: Dict[str, Any]) -> Plot:
    """Sites per mode for each boot and each profile (built in and as ROM)."""
    rows = _site_rows(s)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.3 * len(rows) + 1.5))
    marks = 0
    left = [0] * len(rows)
    for m in s["modes"]:
        vals = [r[1].get(m, 0) for r in rows]
        for i, v in enumerate(vals):
            if v:
                bar = ax.barh(i, v, left=left[i], color=COLOURS[m], height=0.7)
                bar.patches[0].set_gid(f"data-sites-{marks}")
                marks += 1
            left[i] += v
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("call sites in the guest (count)")
    ax.set_ylabel("boot: profile or ROM (hypervisor)")
    title = "Sites per mode for each profile and hypervisor"
    ax.set_title(title)
    _legend(ax, list(s["modes"]), loc="upper left", bbox_to_anchor=(1.01, 1.0))
    pairs = [p for p in s["roms"]["profiles"] if p.get("built_in") and p.get("rom")]
    same = sum(1 for p in pairs if p["built_in"]["modes"] == p["rom"]["modes"])
    moved = [r[0] for r in rows if any(v for m, v in r[1].items() if m != "NATIVE")]
    read = ("Each bar is the whole guest, split by the mode every site was patched to: a "
            f"profile built in and the same profile as a ROM split the same way for {same} of "
            f"{len(pairs)} profiles here, and sites leave NATIVE only in: "
            f"{', '.join(moved) if moved else 'none'}.")
    return Plot("sites", title, _svg(fig), read, marks)


def patch_cost(s: Dict[str, Any]) -> Plot:
    """Patch cost per site for each boot that ran (guest instructions under
    TCG, cycles under KVM: one panel per unit)."""
    ran = [b for b in s["boots"] if not b.get("skipped")]
    groups = [(u, [b for b in ran if b["unit"] == u]) for u in ("insns", "cycles")]
    groups = [(u, bs) for u, bs in groups if bs]
    fig, axes = plt.subplots(len(groups), 1, squeeze=False,
                             figsize=(WIDTH_IN, sum(0.45 * len(bs) + 1.2 for _, bs in groups)))
    marks = 0
    unit_text = {"insns": "guest instructions per site (TCG -icount)",
                 "cycles": "cycles per site (KVM, rdtsc)"}
    for ax, (u, bs) in zip(axes[:, 0], groups):
        for i, b in enumerate(bs):
            v = b["patch_cost_per_site"]
            if v is None:
                continue
            bar = ax.barh(i, v, height=0.6,
                          color=COLOURS["CALL"] if b["modes"].get("CALL") else COLOURS["NATIVE"])
            bar.patches[0].set_gid(f"data-patch-{marks}")
            ax.annotate(str(v), (v, i), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
            marks += 1
        ax.set_yticks(range(len(bs)))
        ax.set_yticklabels([b["name"] for b in bs])
        ax.invert_yaxis()
        ax.set_xlabel(f"patch cost: {unit_text[u]}")
        ax.set_ylabel("boot")
        ax.margins(x=0.12)
    title = "Patch cost per site at boot"
    axes[0, 0].set_title(title)
    costs = sorted((b["patch_cost_per_site"], b["name"], b["unit"]) for b in ran
                   if b["patch_cost_per_site"] is not None and b["unit"] == groups[0][0])
    read = ("What pvpatch_boot() spends, once at boot, to decode, choose and write each "
            f"site: from {costs[0][0]} {costs[0][2]} per site ({costs[0][1]}) to "
            f"{costs[-1][0]} ({costs[-1][1]}) here; sites made CALLs (orange) cost the most, "
            "for their argument moves and thunks.") if costs else \
        "No boot reported its patch cost."
    return Plot("patch-cost", title, _svg(fig), read, marks)


# The benchmark's variants the plot shows: (variant, legend text, colour).
BENCH_SHOW = (
    ("framework-free-copy", "free build, identical copy (A/A: noise floor)", "#bbbbbb"),
    ("NATIVE", "NATIVE site / free build", "#4c72b0"),
    ("NOP", "NOP site / free build", "#55a868"),
    ("INLINE", "INLINE site / free build or hand-inlined", "#8172b2"),
    ("CALL", "CALL site, plain C backend analysed by the liveness pass / direct call",
     "#dd8452"),
    ("CALL-opaque", "CALL site, plain C backend not analysed (thunk) / direct call", "#da8bc3"),
    ("CALL-preserving", "CALL site, register-preserving backend / direct call", "#f0b27a"),
    ("linux-callee-save", "Linux's callee-save thunk call / direct call", "#64b5cd"),
    ("retpoline-native", "pv_ops retpoline call / free build", "#c44e52"),
)


def bench(b: Dict[str, Any]) -> Plot:
    """The hosted benchmark's ratios: each patched variant of each op against
    its reference (framework-free build, hand-inlined code, or a direct call
    of the same backend for CALL sites), and the retpoline form."""
    ops = list(b["ops"])
    shown = [(v, name) for v, name, colour in BENCH_SHOW
             if any(b["ops"][op]["variants"].get(v, {}).get("ratio") for op in ops)]
    for v, name, colour in BENCH_SHOW:
        COLOURS[name] = colour
    series = [(name, [b["ops"][op]["variants"].get(v, {}).get("ratio") or None for op in ops])
              for v, name in shown]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.8 * len(ops) + 1.5))
    ax.set_xscale("log")
    marks = _hbars(ax, ops, series, "bench", base=1.0)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("ratio of TSC ticks per op to the reference, log scale "
                  "(1 = same cost; hosted, real CPU, median)")
    ax.set_ylabel("op")
    title = "Hosted benchmark (make bench): patched sites against hand-written code"
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3, which="both")
    _legend(ax, [name for _, name in shown], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    read = ("Bars that stay near the line at 1 cost what the hand-written equivalent costs "
            "on this CPU, bars to the left are cheaper (a NOP site), bars to the right dearer: "
            "compare each op's CALL bars with its red retpoline bar, what a pv_ops kernel pays "
            "instead, and read any bar within the grey A/A bar's distance from 1 as noise.")
    return Plot("bench", title, _svg(fig), read, marks)


def kvm_op_cost(s: Dict[str, Any]) -> Optional[Plot]:
    """Per-op cycles under KVM, per KVM boot that ran, beside the
    framework-free build; None when no KVM boot ran."""
    names = [b["name"] for b in s["boots"] if not b.get("skipped") and b["accel"] == "kvm"]
    ops = [op for op, o in s["ops"].items() if any(n in o.get("kvm", {}) for n in names)]
    if not ops:
        return None
    palette = ["#4c72b0", "#dd8452", "#8172b2", "#55a868"]
    series = [("free build (KVM)", [next((s["ops"][op]["kvm"][n]["native_build"]
                                         for n in names if n in s["ops"][op]["kvm"]), None)
                                    for op in ops])]
    COLOURS["free build (KVM)"] = COLOURS["free build"]
    for i, n in enumerate(names):
        COLOURS[n] = palette[i % len(palette)]
        series.append((n, [s["ops"][op]["kvm"].get(n, {}).get("patched") for op in ops]))
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.45 * len(ops) * len(series) / 3 + 1.5))
    ax.set_xscale("log")
    marks = _hbars(ax, ops, [(n, [v if v and v > 0 else None for v in vals])
                             for n, vals in series], "kvm", base=1.0)
    ax.set_xlim(left=1.0)
    _legend(ax, [n for n, _ in series], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("cost per op: cycles (KVM, rdtsc, median), log scale")
    ax.set_ylabel("op")
    title = "Per-op cost under KVM, per hypervisor configuration"
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3, which="both")
    read = ("Under KVM an op that exits to the hypervisor costs thousands of cycles: look "
            "for the ops whose bar drops when a configuration patches them (io_delay as a "
            "NOP without kvm-nopiodelay=off), against the grey framework-free build.")
    return Plot("kvm-op-cost", title, _svg(fig), read, marks)
