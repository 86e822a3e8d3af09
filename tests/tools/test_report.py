# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""The demo report (tools/pvreport, what `make demo` writes to
build/demo/report.html) rendered in headless Chromium.

The report is built from fixed JSON (tests/tools/report/: a `pvdemo --accel
tcg --json` object and a `bench --quick --json` one), so no guest boots here.
Chromium loads a copy of it, offline, with a probe script appended (the
report itself has no scripts) whose findings --dump-dom returns (each plot's
box and its drawn marks with their bounding boxes, resources fetched,
document size), and takes a screenshot in the same load, in which each
plot's box must hold coloured pixels.  Any console message fails the test.
When `make demo` has written build/demo/report.html, it is checked the same
way and its screenshot kept in build/demo/report.png."""

import copy
import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import BUILD, PYTHON, ROOT

PVREPORT = os.path.join(ROOT, "tools", "pvreport")
FIXTURES = os.path.join(ROOT, "tests", "tools", "report")
DEMO_JSON = os.path.join(FIXTURES, "demo-tcg.json")
BENCH_JSON = os.path.join(FIXTURES, "bench-quick.json")
OUT = os.path.join(BUILD, "tests", "report")
DEMO_REPORT = os.path.join(BUILD, "demo", "report.html")
TIMEOUT = 90
WIDTH = 1000
HEIGHT = 4000       # the window; a taller page is loaded again at its height
PLOTS = ("op-cost", "sites", "patch-cost", "bench")

PROBE = """<script>
(function () {
  var out = {plots: [], errors: [], resources: performance.getEntriesByType("resource").length,
             height: document.documentElement.scrollHeight,
             width: document.documentElement.scrollWidth};
  document.querySelectorAll("figure.plot").forEach(function (f) {
    var r = f.getBoundingClientRect(), marks = f.querySelectorAll('[id^="data-"]'), drawn = 0;
    marks.forEach(function (m) {
      var b = m.getBBox();
      if (b.width > 0 && b.height > 0) drawn++;
    });
    out.plots.push({id: f.id, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
                    marks: marks.length, drawn: drawn, expect: +f.dataset.marks,
                    svgs: f.querySelectorAll("svg").length});
  });
  var pre = document.createElement("pre");
  pre.id = "pvprobe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium_bin():
    path = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if os.path.exists("/usr/bin/chromium") else None)
    if path:
        return path
    why = "chromium is not installed (scripts/install-deps.sh installs Debian's chromium)"
    if os.environ.get("CI"):
        pytest.fail(why + ", and CI must run this test")
    pytest.skip(why)


def chromium(tmp, url, *action):
    """Run headless Chromium on url with no network; (stdout, console lines)."""
    cmd = [chromium_bin(), "--headless", "--disable-gpu", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions", "--disable-sync",
           "--disable-background-networking", "--disable-component-update",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--user-data-dir={tmp}/profile",
           "--enable-logging=stderr", "--v=0", *action, url]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr[-2000:]
    console = [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln]
    return p.stdout, console


def render(tmp_path, html):
    """Check one report page in the browser; returns (probe, screenshot path)."""
    with open(html) as f:
        page = f.read()
    # Self-contained: nothing that could fetch (the SVG namespace URIs are names).
    assert not re.search(r"""<(script|link|img|iframe)\b|\bsrc=|url\((?!#)|@import|href=["']?http""",
                         page), "the report refers to something outside itself"
    probed = tmp_path / (os.path.basename(html) + ".probe.html")
    probed.write_text(page.replace("</body>", PROBE + "</body>", 1))
    png = os.path.splitext(html)[0] + ".png"
    height = HEIGHT
    while True:
        # One load gives both the probe's DOM and the screenshot (the probe's
        # line goes below the last plot).
        dom, console = chromium(tmp_path, probed.as_uri(), "--dump-dom",
                                f"--screenshot={png}", f"--window-size={WIDTH},{height}")
        assert console == [], console
        m = re.search(r'<pre id="pvprobe">(.*?)</pre>', dom, re.S)
        assert m, "the probe did not run: " + dom[-500:]
        probe = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")
                           .replace("&lt;", "<").replace("&gt;", ">"))
        if probe["height"] <= height:
            break
        height = probe["height"]    # taller than the window: once more, all of it
    assert probe["resources"] == 0, "the report fetched something"
    assert probe["width"] <= WIDTH, "the page is wider than the window"
    return probe, png


def check_plots(probe, png, expect_ids):
    import matplotlib.image
    img = matplotlib.image.imread(png)[:, :, :3]
    assert [p["id"] for p in probe["plots"]] == [f"plot-{k}" for k in expect_ids]
    for p in probe["plots"]:
        assert p["svgs"] == 1, p
        assert p["marks"] == p["expect"] > 0, p
        assert p["drawn"] == p["marks"], f"{p['id']}: marks with an empty box: {p}"
        assert p["w"] > 300 and p["h"] > 150, p
        box = img[int(p["y"]):int(p["y"] + p["h"]), int(p["x"]):int(p["x"] + p["w"])]
        assert box.size, f"{p['id']} lies outside the screenshot"
        colour = (box.max(axis=2) - box.min(axis=2)) > 0.2     # not white, grey or black
        assert colour.mean() > 0.01, f"{p['id']}: no drawn bars in its box on the screenshot"


@pytest.fixture(scope="module")
def fixture_report():
    os.makedirs(OUT, exist_ok=True)
    html = os.path.join(OUT, "report.html")
    p = subprocess.run([PYTHON, PVREPORT, "--bench", BENCH_JSON, "-o", html, DEMO_JSON],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode == 2 and "matplotlib" in p.stderr and not os.environ.get("CI"):
        pytest.skip(p.stderr.strip())
    assert p.returncode == 0, p.stderr
    return html


def test_fixture_report_in_browser(fixture_report, tmp_path):
    probe, png = render(tmp_path, fixture_report)
    check_plots(probe, png, PLOTS)
    with open(fixture_report) as f:
        page = f.read()
    with open(DEMO_JSON) as f:
        s = json.load(f)
    # The figures are the JSON's: every boot that ran is in the summary.
    for b in s["boots"]:
        if not b["skipped"]:
            assert f"<td>{b['name']}</td>" in page
    assert "KVM not usable here (--accel tcg)" in page
    # Each plot has a title, axis labels with units, and a sentence to read it by.
    assert page.count('<p class="read">') == len(PLOTS)
    for unit in ("guest instructions executed", "call sites in the guest (count)",
                 "guest instructions per site", "ratio of TSC ticks"):
        assert unit in page, unit


def with_kvm(s):
    """The TCG fixture as if one KVM boot had run (made-up cycles)."""
    s = copy.deepcopy(s)
    kvm = next(b for b in s["boots"] if b["accel"] == "kvm")
    kvm.update({k: v for k, v in s["boots"][0].items() if k not in ("name", "accel")})
    kvm.update(unit="cycles", patch_cost_per_site=40000, skipped=None)
    for o in s["ops"].values():
        o["kvm"] = {kvm["name"]: {"mode": "NATIVE", "patched": 450 * o["native_build"] + 9,
                                  "native_build": 450 * o["native_build"], "unit": "cycles",
                                  "pvops_indirect": 1, "retpoline": 1}}
    s["kvm"] = {"usable": True, "reason": None}
    return s, kvm["name"]


def test_report_with_kvm_without_bench(tmp_path):
    """A KVM boot adds a per-op cycles plot and a patch-cost panel in
    cycles; without bench JSON the page says none was run and how."""
    with open(DEMO_JSON) as f:
        s, name = with_kvm(json.load(f))
    src = tmp_path / "kvm.json"
    src.write_text(json.dumps(s))
    html = tmp_path / "kvm.html"
    p = subprocess.run([PYTHON, PVREPORT, "-o", str(html), str(src)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode == 2 and "matplotlib" in p.stderr and not os.environ.get("CI"):
        pytest.skip(p.stderr.strip())
    assert p.returncode == 0, p.stderr
    page = html.read_text()
    marks = dict(re.findall(r'<figure class="plot" id="plot-([a-z-]+)" data-marks="(\d+)"', page))
    assert list(marks) == ["op-cost", "kvm-op-cost", "sites", "patch-cost"]
    # One free-build and one patched bar per op under KVM; the KVM boot is
    # one more row of sites and one more patch-cost bar.
    assert int(marks["kvm-op-cost"]) == 2 * len(s["ops"])
    assert int(marks["patch-cost"]) == sum(1 for b in s["boots"] if not b["skipped"])
    assert "cycles per site (KVM, rdtsc)" in page and f"<td>{name}</td>" in page
    assert "KVM usable" in page
    assert 'id="plot-bench"' not in page
    assert "No hosted benchmark was run" in page
    assert "make bench BENCH_ARGS=--json" in page


@pytest.mark.parametrize("content,msg", [
    ("{", "not JSON"),
    ('{"ops": {}}', "not a pvdemo --json object (no 'kvm')"),
    ("[1]", "not a pvdemo --json object"),
])
def test_unusable_input(tmp_path, content, msg):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    p = subprocess.run([PYTHON, PVREPORT, "-o", str(tmp_path / "x.html"), str(bad)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("pvreport: ") and msg in p.stderr
    assert not (tmp_path / "x.html").exists()


def test_make_demo_report(tmp_path):
    """The page the last `make demo` wrote, if it ran: loads, and every plot
    has drawn content (its screenshot stays in build/demo/report.png)."""
    if not os.path.exists(DEMO_REPORT):
        pytest.skip("make demo has not run here (no build/demo/report.html)")
    probe, png = render(tmp_path, DEMO_REPORT)
    with open(DEMO_REPORT) as f:
        ids = re.findall(r'<figure class="plot" id="plot-([a-z-]+)"', f.read())
    assert ids[:3] == list(PLOTS[:3])
    check_plots(probe, png, ids)
