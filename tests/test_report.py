"""``lrsweep report``: a self-contained HTML page and its Markdown twin, checked in a browser."""

from __future__ import annotations

import html
import json
import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import lrsweep
from lrsweep.cli import cli
from lrsweep.page import SECTIONS, build_report, read_content, render_html, write_report
from lrsweep.results import ResultsDir

from .conftest import TINY_SPEC, read_csv

FIGURES = ("u_curve", "loss_vs_epoch", "rangetest")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 4-LR x 2-seed sweep (LR 10 diverges) written with ``run --report``, then a range test."""
    root = tmp_path_factory.mktemp("report")
    spec = root / "spec.yaml"
    spec.write_text(TINY_SPEC.format(epochs=2, seeds=2, lr_min="0.01", lr_max="10"))
    out = root / "r"
    ran = invoke("run", spec, "--out", out, "--jobs", "1", "--no-plots", "--report")
    shutil.copy(out / "report.html", root / "report-after-run.html")
    found = invoke("find", spec, "--out", out, "--num-iter", "20", "--seeds", "1", "--no-plots")
    assert found.exit_code == 0, found.output
    return out, ran


@pytest.fixture(scope="module")
def page(swept):
    out, _ = swept
    return build_report(out)


def runs(out: Path) -> list[dict[str, str]]:
    return read_csv(out / "runs.csv")


def test_run_report_writes_the_page(swept):
    out, ran = swept
    assert ran.exit_code == 0, ran.output
    assert f"Report: {out / 'report.html'}" in ran.stdout
    first = (out.parent / "report-after-run.html").read_text()
    assert first.count("<svg") == 2 and 'id="range-test"' not in first  # no range test yet


def test_html_is_self_contained(page):
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page and "<img" not in page and "<script src" not in page
    assert page.count("<svg") == len(FIGURES)
    assert page.count('<figure class="plot"') == len(FIGURES)
    for name in FIGURES:
        assert f'id="fig-{name}"' in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # the figures' own ids are prefixed per figure
    assert set(re.findall(r'(?:href="#|url\(#)([^")]+)', page)) <= set(ids)


def test_html_answers_first_then_every_section(page, swept):
    out, _ = swept
    summary = json.loads((out / "summary.json").read_text())
    positions = [page.index(f'<section id="{key}">') for key in SECTIONS]
    assert positions == sorted(positions)
    answer = page[positions[0] : positions[1]]
    assert f"Recommended LR</dt><dd>{summary['answer']['lr']:.4g} (" in answer
    assert "Optimum lies in</dt><dd>" in answer and "Expected final_val_loss</dt>" in answer
    lo, hi = summary["good_band"]
    assert f"Good band</dt><dd>{lo:.3g} to {hi:.3g} (" in answer
    assert "Sensitivity</dt><dd>" in answer
    assert "LR 10: 2 of 2 runs diverged" in answer


def test_html_has_one_table_row_per_run_the_spec_and_provenance(page, swept):
    out, _ = swept
    rows = runs(out)
    assert page.count('<tr id="run-') == len(rows) == 8
    for row in rows:
        assert f'<tr id="run-{row["run_id"]}" class="{row["status"]}">' in page
    assert html.escape((out / "spec.yaml").read_text()) in page
    provenance = page[page.index('<section id="provenance">') :]
    for text in (
        f"lrsweep {lrsweep.__version__}",
        f"numpy {np.__version__}",
        f"Python {platform.python_version()}",
        "Sweep started",
        "Sweep finished",
        "CPU time",
        "Report generated",
    ):
        assert text in provenance


def test_summary_records_provenance(swept):
    out, _ = swept
    saved = json.loads((out / "summary.json").read_text())["provenance"]
    assert saved["numpy"] == np.__version__ and saved["lrsweep"] == lrsweep.__version__
    assert saved["started_at"] <= saved["finished_at"] and saved["cpu_count"] >= 1


def test_user_text_is_escaped(swept):
    out, _ = swept
    content = read_content(ResultsDir.open(out))
    evil = "<script>alert(1)</script>"
    page = render_html(
        content._replace(name=evil, spec_yaml=evil), dict.fromkeys(FIGURES, "<svg></svg>")
    )
    assert evil not in page and html.escape(evil) in page


def test_markdown_twin_has_the_same_sections_and_draws_missing_pngs(swept):
    out, _ = swept
    shutil.rmtree(out / "plots", ignore_errors=True)
    text = build_report(out, "md")
    for title in SECTIONS.values():
        assert f"\n## {title}\n" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [f"plots/{name}.png" for name in FIGURES]
    assert all((out / link).stat().st_size > 1000 for link in links)
    assert text.count("\n| ") - text.count("\n|---") > len(runs(out))  # the runs table


def test_markdown_elsewhere_links_back_to_the_plots(swept, tmp_path):
    out, _ = swept
    path = write_report(out, tmp_path / "notes" / "sweep.md")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text())
    assert links and all((path.parent / link).resolve().exists() for link in links)


def test_report_command_and_a_range_test_alone(tiny_spec, tmp_path):
    out = tmp_path / "r"
    assert (
        invoke("find", tiny_spec(), "--out", out, "--num-iter", "10", "--no-plots").exit_code == 0
    )
    result = invoke("report", out, "--format", "md")
    assert result.exit_code == 0 and result.stdout == f"{out / 'report.md'}\n"
    text = (out / "report.md").read_text()
    assert "## LR range test" in text and "## Runs" not in text


def test_bad_results_folder_is_one_line_exit_2(tmp_path, tiny_spec):
    result = invoke("report", tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nope'}: no such results folder\n"
    empty = tmp_path / "empty"
    ResultsDir.create(empty, lrsweep.load_spec(tiny_spec()))
    result = invoke("report", empty)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {empty}: nothing to report yet") and (
        result.stderr.count("\n") == 1
    )


# --------------------------------------------------------------------------------------------
# In a real browser: headless Chromium (Debian's `chromium`; .ci/run installs it)

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
WIDTH = 1280


# The browser test's self-test, added to a copy of the page (the report itself ships only its
# sorting script): it records errors, clicks a column header twice and writes what it saw, as
# JSON, into <pre id="selftest"> (read with `chromium --headless --dump-dom`).
SELFTEST_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
(function () {
  var consoleError = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };
})();
</script>"""
SELFTEST_TAIL = """<pre id="selftest" hidden></pre><script>
(function () {
  var errors = window.__errors;
  function cellKey(row, col, numeric) {
    var cell = row.cells[col];
    var v = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    if (!numeric) return v.toLowerCase();
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }
  var out = { errors: errors, figures: [], sort: null,
              width: document.documentElement.scrollWidth,
              height: document.documentElement.scrollHeight };
  Array.prototype.forEach.call(document.querySelectorAll("figure.plot"), function (fig) {
    var svg = fig.querySelector("svg");
    var r = (svg || fig).getBoundingClientRect();
    out.figures.push({ id: fig.id, svg: !!svg,
                       x: r.left + window.scrollX, y: r.top + window.scrollY,
                       width: r.width, height: r.height,
                       shapes: svg ? svg.querySelectorAll("path, use").length : 0 });
  });
  var table = document.getElementById("runs-table");
  if (table) {
    var th = table.querySelector("th[data-key=objective]") || table.tHead.rows[0].cells[0];
    var col = th.cellIndex;
    var ids = function () {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.id; });
    };
    var keys = function () {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
        return cellKey(r, col, true);
      });
    };
    var before = ids();
    th.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    var asc = ids(), ascKeys = keys(), ascSort = th.getAttribute("aria-sort");
    th.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    out.sort = { column: th.getAttribute("data-key"), before: before, ascending: asc,
                 ascending_keys: ascKeys, ascending_aria: ascSort,
                 descending: ids(), descending_keys: keys(),
                 descending_aria: th.getAttribute("aria-sort") };
  }
  document.getElementById("selftest").textContent = JSON.stringify(out);
})();
</script>"""


def with_selftest(page: Path, out: Path) -> Path:
    text = page.read_text()
    text = text.replace("<head>", "<head>" + SELFTEST_HEAD, 1)
    text = text.replace("</body>", SELFTEST_TAIL + "</body>", 1)
    out.write_text(text)
    return out


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_page_in_headless_chromium(swept, tmp_path):
    out, _ = swept
    page = write_report(out, tmp_path / "report.html")
    url = page.resolve().as_uri()
    selftest = with_selftest(page, tmp_path / "selftest.html").resolve().as_uri()

    # 1. The self-test clicks a header and reports.
    dom = chromium(
        tmp_path / "profile-dom",
        f"--window-size={WIDTH},1000",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        selftest,
    )
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no console message of any kind, errors included
    found = re.search(r'<pre id="selftest"[^>]*>(.*?)</pre>', dom.stdout, re.S)
    assert found and found.group(1), "the page's script did not run"
    report = json.loads(html.unescape(found.group(1)))
    assert report["errors"] == []

    sort = report["sort"]
    assert sort["column"] == "objective" and sort["ascending_aria"] == "ascending"
    assert sorted(sort["ascending"]) == sorted(sort["before"]) and len(sort["before"]) == 8
    assert sort["ascending"] != sort["before"]  # the click reordered the rows
    finite = [k for k in sort["ascending_keys"] if k is not None]
    assert finite == sorted(finite) and sort["ascending_keys"][-2:] == [None, None]  # NaN last
    finite = [k for k in sort["descending_keys"] if k is not None]
    assert finite == sorted(finite, reverse=True) and sort["descending_aria"] == "descending"

    figures = report["figures"]
    assert [f["id"] for f in figures] == [f"fig-{name}" for name in FIGURES]
    for f in figures:
        assert f["svg"] and f["width"] > 300 and f["height"] > 200 and f["shapes"] > 50, f

    # 2. A screenshot: every figure's region holds a drawing, not a blank box.
    shot = tmp_path / "page.png"
    height = int(report["height"]) + 10
    chromium(
        tmp_path / "profile-shot", f"--window-size={WIDTH},{height}", f"--screenshot={shot}", url
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[1] == WIDTH and pixels.shape[0] >= max(
        f["y"] + f["height"] for f in figures
    )
    for f in figures:
        x, y, w, h = (round(f[k]) for k in ("x", "y", "width", "height"))
        region = pixels[y : y + h, x : x + w]
        inked = (region < 0.9).any(axis=-1).mean()
        colours = len(np.unique((region * 255).astype(np.uint8).reshape(-1, 3), axis=0))
        assert 0.01 < inked < 0.9 and colours > 20, (f["id"], inked, colours)
    margin = pixels[: int(figures[0]["y"]), WIDTH - 60 :]
    assert (margin > 0.95).all()  # the page around the figures is white: the check can fail
