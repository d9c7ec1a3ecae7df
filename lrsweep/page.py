"""One page per results dir: the answer first, then the plots, the runs, the spec, provenance.

``build_report(results_dir, "html")`` is a self-contained page: the figures are inline SVG,
the runs table sorts with a few lines of inline script, and nothing is fetched from the
network. ``"md"`` is its Markdown twin with the same sections, linking ``plots/*.png`` (drawn
if missing). Both are read from the results dir's files alone, like ``lrsweep plot``.

matplotlib is imported only through :mod:`lrsweep.plots`, inside the functions that draw.
"""

from __future__ import annotations

import csv
import html
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lrsweep import study
from lrsweep.errors import ResultsError, shorten
from lrsweep.facts import (
    PER_LR_HEADER,
    RANGE_TEST_HEADER,
    answer_facts,
    curves,
    diverged_facts,
    fmt_number,
    label_counts,
    per_lr_classes,
    per_lr_rows,
    range_test_facts,
    scaling_sentence,
    state_lines,
)
from lrsweep.files import write_atomic
from lrsweep.records import FLOAT_COLUMNS, INT_COLUMNS, run_columns
from lrsweep.results import TIME_FORMAT, ResultsDir, environment

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("html", "md")
SECTIONS = {  # id -> heading, in page order; the range test only when one was run
    "answer": "The answer",
    "u-curve": "U-curve",
    "loss": "Loss against epoch",
    "range-test": "LR range test",
    "runs": "Runs",
    "data": "The data",
    "spec": "Resolved spec",
    "provenance": "Provenance",
}
CAPTIONS = {
    "u_curve": "Objective against learning rate (log axis). Right: zoomed on the region around"
    " the optimum; left: every LR on the full range (grey: the zoom). Line and band: mean"
    " over seeds ± 1 std; circles: one seed on the coarse grid, squares, triangles, ...:"
    " refine rounds 1, 2, ...; crosses along the top: diverged runs; star: the lowest mean;"
    " dashed line and orange band: the U-curve fit ± 1 sd; solid vertical line: the"
    " recommended LR (the fit's pick); green shade: the good band. With several curves, each"
    " has its own colour and no good band.",
    "loss_vs_epoch": "Training and validation loss against epoch, a row per combination: one"
    " line per LR (the mean over seeds; faint band: the seeds' min to max), coloured by rank"
    " so that neighbouring LRs differ (the colour bar names them); thick black: the trained"
    " LR nearest the recommended one; dashed lines ending in a cross diverged.",
    "rangetest": "Loss against the LR ramped per mini-batch: raw loss faint, smoothed solid;"
    " one labelled marker per distinct suggested LR (rules that agree share it), on the"
    " seeds' combined curve.",
}
HEATMAP_CAPTION = (
    "The objective over learning rate and the swept axis (round 0); hatched grey: no stable"
    " run (a seed diverged). Stars: each row's recommended LR after refining; white line: the"
    " fitted scaling of the best LR with the axis, its slope's 95% interval in the legend."
)


class Content(NamedTuple):
    """Everything a report shows, read from the results dir; rendered by both formats."""

    name: str
    path: Path
    summary: dict[str, Any] | None  # None: only a range test was run
    rows: list[dict[str, Any]]
    columns: list[str]
    range_test: dict[str, Any] | None
    spec_yaml: str
    now: dict[str, Any]  # what generated the report, and when


def build_report(
    results_dir: str | Path, fmt: str = "html", *, link_from: Path | None = None
) -> str:
    """The report of a results dir as HTML or Markdown text.

    Parameters
    ----------
    results_dir : path
        A results folder written by ``lrsweep run`` or ``lrsweep find``.
    fmt : {"html", "md"}
        ``html``: one self-contained page (figures inline as SVG). ``md``: Markdown linking
        ``plots/<name>.png``, which are drawn first if missing.
    link_from : path, optional
        The folder the Markdown file will be in, for its links to the plots [default: the
        results dir].
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    results = ResultsDir.open(Path(results_dir))
    content = read_content(results)
    if fmt == "html":
        return render_html(content, svg_figures(results, content))
    pngs = png_figures(results, content)
    base = Path(link_from) if link_from is not None else results.path
    links = {name: Path(os.path.relpath(path, base)).as_posix() for name, path in pngs.items()}
    return render_markdown(content, links)


def write_report(
    results_dir: str | Path, out: str | Path | None = None, fmt: str | None = None
) -> Path:
    """Write the report (atomically) and return its path.

    ``out`` defaults to ``RESULTS/report.html`` (``report.md`` for Markdown); ``fmt``
    defaults to ``md`` when ``out`` ends in ``.md``, else ``html``.
    """
    if fmt is None:
        fmt = "md" if out is not None and Path(out).suffix.lower() == ".md" else "html"
    path = Path(out) if out is not None else Path(results_dir) / f"report.{fmt}"
    try:
        text = build_report(results_dir, fmt, link_from=path.parent)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        # a file edited into a shape `summary_problem` does not catch: still one line
        raise ResultsError(
            f"{results_dir}: its summary.json, runs.csv or rangetest.json does not have the shape"
            f" lrsweep writes ({type(e).__name__}: {shorten(e, 60)}); run 'lrsweep refine' or"
            " 'lrsweep run' again to rewrite them"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path


# --------------------------------------------------------------------------------------------
# Reading


def read_content(results: ResultsDir) -> Content:
    """What the report shows, from the results dir's files alone."""
    rows = study.all_rows(results)  # from the journal: a running or interrupted sweep too
    has_range_test = results.has_range_test()
    if not rows and not has_range_test:
        planned = len(study.planned(results))
        raise ResultsError(
            f"{results.path}: nothing to report yet (0 of {planned} planned runs finished,"
            " no range test)"
        )
    summary = study.read_summary(results) if rows else None
    columns = run_columns(results.spec.axes) if rows else []
    return Content(
        name=results.spec.name,
        path=results.path,
        summary=summary,
        rows=rows,
        columns=columns,
        range_test=results.read_json("rangetest.json") if has_range_test else None,
        spec_yaml=(results.path / "spec.yaml").read_text(encoding="utf-8", errors="replace"),
        now={"generated_at": time.strftime(TIME_FORMAT), **environment()},
    )


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])


def all_figures(results: ResultsDir, content: Content) -> dict[str, Figure]:
    """The sweep's figures (as ``lrsweep plot`` draws them), then the range test's."""
    from lrsweep import plots

    drawn: dict[str, Figure] = {}
    if content.summary is not None:
        drawn.update(plots.figures(results))
    if content.range_test is not None:
        drawn["rangetest"] = plots.range_test_figure(results)
    return drawn


def section_of(figure: str) -> str:
    """The section that shows a figure: U-curve (and heatmaps), loss, or range test."""
    return {"loss_vs_epoch": "loss", "rangetest": "range-test"}.get(figure, "u-curve")


def svg_figures(results: ResultsDir, content: Content) -> dict[str, str]:
    """Each figure as an ``<svg>`` element to inline in HTML (no XML prolog or metadata).

    Every id inside a figure (and every reference to one) is prefixed with the figure's name,
    so the figures on one page never share an id; ids are hashed with a fixed salt, so the
    same results give the same figures.
    """
    from lrsweep import plots

    svgs = {}
    for name, fig in all_figures(results, content).items():
        text = plots.figure_svg(fig, salt=f"lrsweep-{name}")
        text = text[text.index("<svg") :]
        text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
        text = re.sub(r'(\sid="|href="#|url\(#)', rf"\1{name}-", text)
        svgs[name] = text
    return svgs


def png_figures(results: ResultsDir, content: Content) -> dict[str, Path]:
    """The figures' ``plots/<name>.png`` files, drawing any that are missing."""
    from lrsweep import plots

    drawn = all_figures(results, content)
    paths = {name: results.path / "plots" / f"{name}.png" for name in drawn}
    missing = {name: fig for name, fig in drawn.items() if not paths[name].exists()}
    plots.save_figures(results.path / "plots", missing, ("png",))
    return paths


# --------------------------------------------------------------------------------------------
# Facts shared by both formats (plain text; each renderer escapes)


def provenance_facts(content: Content) -> list[tuple[str, str]]:
    """(what, value) pairs: where and when the numbers were computed, and the report made."""
    facts = [("Results folder", str(content.path))]
    s = content.summary
    if s is not None:
        saved = s.get("provenance") or {}
        finished = saved.get("finished_at") or s.get("finished_at")
        wall = s.get("wall_seconds")
        started = saved.get("started_at") or _minus_seconds(finished, wall)
        facts += [
            ("Spec hash", str(s.get("spec_hash", "-"))),
            ("Sweep started", started or "-"),
            ("Sweep finished", finished or "-"),
            ("Wall time (last command that trained)", _duration(wall)),
            (
                "CPU time (same command, all processes)",
                _duration(s.get("cpu_seconds")),
            ),
        ]
        state = state_lines(s)  # partial, damaged, stale
        if state:
            facts.insert(1, ("State", "; ".join(state)))
        if saved:
            facts.append(("Swept with", _environment_text(saved)))
        else:
            facts.append(("Swept with", "not recorded (summary.json predates provenance)"))
    facts.append(
        (
            "Report generated",
            f"{content.now['generated_at']} with {_environment_text(content.now)}",
        )
    )
    return facts


def _environment_text(env: Mapping[str, Any]) -> str:
    return (
        f"lrsweep {env.get('lrsweep', '?')}, numpy {env.get('numpy', '?')},"
        f" Python {env.get('python', '?')} on {env.get('host', '?')}"
        f" ({env.get('machine', '?')}, {env.get('cpu_count', '?')} CPUs)"
    )


def _minus_seconds(stamp: str | None, seconds: float | None) -> str | None:
    if not stamp or seconds is None:
        return None
    try:
        at = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - float(seconds)
    except (ValueError, OverflowError):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at)) + stamp[19:]


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def _cell_text(value: Any) -> str:
    if isinstance(value, float):
        return fmt_number(value)
    return "" if value is None else str(value)


# --------------------------------------------------------------------------------------------
# HTML


STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       margin: 0 auto; padding: 1.5em 2em 4em; max-width: 1140px; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin-top: 0; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.25em 1.2em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.answer { background: #f3f9f3; border: 1px solid #cfe6cf; border-radius: 6px;
          padding: 0.8em 1.2em; }
.warn { color: #a33; }
figure.plot { margin: 1em 0; } figure.plot svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.55em; text-align: right; white-space: nowrap; }
td.text, th.text { text-align: left; }
table.sortable th { cursor: pointer; background: #f4f4f4; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.diverged td { color: #a33; } tr.failed td { color: #888; font-style: italic; }
tr.band td { background: #eef7ee; } tr.best td { background: #d6efd6; font-weight: 600; }
.scroll { overflow-x: auto; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""

# Sorting the runs table: click (or Enter on) a header; numbers sort numerically, NaN last.
SCRIPT = """
(function () {
  "use strict";
  function cellKey(row, col, numeric) {
    var cell = row.cells[col];
    var v = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    if (!numeric) return v.toLowerCase();
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }
  function sortBy(table, col, descending) {
    var th = table.tHead.rows[0].cells[col];
    var numeric = th.getAttribute("data-type") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, key: cellKey(row, col, numeric), i: i };
    });
    rows.sort(function (a, b) {
      if (a.key === b.key) return a.i - b.i;
      if (a.key === null) return 1;
      if (b.key === null) return -1;
      var order = a.key < b.key ? -1 : 1;
      return descending ? -order : order;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.title = "Sort by this column";
      function toggle() { sortBy(table, col, th.getAttribute("aria-sort") === "ascending"); }
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    });
  });
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_facts(facts: Sequence[tuple[str, str]], cls: str = "facts") -> str:
    warn = ' class="warn"'
    items = "".join(
        f"<dt>{_e(k)}</dt><dd{warn if k == 'Warning' else ''}>{_e(v)}</dd>" for k, v in facts
    )
    return f'<dl class="{cls}">{items}</dl>'


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        (f'<tr class="{_e(cls)}">' if cls else "<tr>")
        + "".join(f"<td>{_e(c)}</td>" for c in r)
        + "</tr>"
        for r, cls in zip(rows, [*classes, *[""] * (len(rows) - len(classes))])
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figure(name: str, svg: str) -> str:
    caption = CAPTIONS.get(name, HEATMAP_CAPTION)
    return (
        f'<figure class="plot" id="fig-{_e(name)}">{svg}'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _html_runs(content: Content) -> str:
    numeric = FLOAT_COLUMNS | INT_COLUMNS
    head = "".join(
        f'<th data-key="{_e(c)}" data-type="number">{_e(c)}</th>'
        if c in numeric
        else f'<th data-key="{_e(c)}" data-type="text" class="text">{_e(c)}</th>'
        for c in content.columns
    )
    body = []
    for row in content.rows:
        cells = []
        for c in content.columns:
            value = row.get(c, "")
            if c in numeric:
                raw = repr(value) if isinstance(value, float) else str(value)
                cells.append(f'<td data-value="{_e(raw)}">{_e(_cell_text(value))}</td>')
            else:
                cells.append(f'<td class="text">{_e(_cell_text(value))}</td>')
        status = _e(row.get("status", ""))
        body.append(f'<tr id="run-{_e(row["run_id"])}" class="{status}">{"".join(cells)}</tr>')
    return (
        f"<p>{len(content.rows)} runs; click a column header to sort.</p>"
        f'<div class="scroll"><table id="runs-table" class="sortable"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _html_answer(content: Content) -> str:
    s = content.summary
    if s is None:
        return "<p>No sweep in this folder yet, only a range test: see below.</p>"
    objective = s["objective"]
    parts = []
    if s["combos"] and s.get("best_combo"):
        tied = s.get("indistinguishable_from_best") or []
        note = f" Indistinguishable within noise: {_e(', '.join(tied))}." if tied else ""
        parts.append(f"<p>Best of all curves: <b>{_e(s['best_combo'])}</b>.{note}</p>")
    parts.append(f'<div class="answer">{_html_facts(answer_facts(s, objective))}</div>')
    if s["combos"]:
        for curve in s["combos"]:
            parts.append(f"<h3>{_e(curve['label'])}</h3>")
            parts.append(_html_facts(answer_facts(curve, objective)))
    for key, fit in s.get("scaling", {}).items():
        sentence = scaling_sentence(key, fit)
        if sentence:
            parts.append(f"<p>{_e(sentence)}.</p>")
    diverged = diverged_facts(content.rows)
    if diverged:
        items = "".join(f"<li>{_e(line)}</li>" for line in diverged)
        parts.append(f"<p>What diverged:</p><ul>{items}</ul>")
    else:
        parts.append("<p>What diverged: no run diverged.</p>")
    counts = s["status_counts"]
    labels = label_counts(content.rows)
    parts.append(
        f"<p>{s['n_runs']} runs: {counts['ok']} ok, {counts['diverged']} diverged,"
        f" {counts['failed']} failed; labels: {_e(labels or '-')}. Objective:"
        f" {_e(objective)} ({'higher' if s['direction'] == 'max' else 'lower'} is better).</p>"
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in s.get("notes", []))
    if notes:
        parts.append(f"<p>Refine decisions:</p><ul>{notes}</ul>")
    return "".join(parts)


DATA_HEADER = ("column", "role", "kind", "missing", "encoded as", "why")


def data_facts(summary: Mapping[str, Any] | None) -> tuple[str, list[list[str]]] | None:
    """The one-line data summary and a row per source column (``summary.json``'s ``data``)."""
    data = (summary or {}).get("data")
    if not data or not data.get("columns"):
        return None
    from lrsweep.data import data_summary_line

    rows = [
        [
            name,
            c["role"],
            c["kind"],
            str(c["missing"]),
            ", ".join(c["encoded_as"]) or "-",
            c["why"],
        ]
        for name, c in data["columns"].items()
    ]
    return data_summary_line(data), rows


def render_html(content: Content, svgs: Mapping[str, str]) -> str:
    """The self-contained page."""
    sections = []

    def section(key: str, body: str) -> None:
        sections.append(f'<section id="{key}"><h2>{_e(SECTIONS[key])}</h2>{body}</section>')

    section("answer", _html_answer(content))
    s = content.summary
    if s is not None:
        tables = "".join(
            (f"<h3>{_e(c['label'])}</h3>" if s["combos"] else "")
            + _html_table(PER_LR_HEADER, per_lr_rows(c), per_lr_classes(c))
            for c in curves(s)
        )
        figs = "".join(
            _html_figure(n, svg) for n, svg in svgs.items() if section_of(n) == "u-curve"
        )
        section("u-curve", figs + tables)
        section(
            "loss",
            "".join(_html_figure(n, svg) for n, svg in svgs.items() if section_of(n) == "loss"),
        )
    if content.range_test is not None:
        sentence, rows = range_test_facts(content.range_test)
        figs = "".join(
            _html_figure(n, svg) for n, svg in svgs.items() if section_of(n) == "range-test"
        )
        section(
            "range-test", figs + f"<p>{_e(sentence)}</p>" + _html_table(RANGE_TEST_HEADER, rows)
        )
    if s is not None:
        section("runs", _html_runs(content))
    data = data_facts(s)
    if data is not None:
        section("data", f"<p>{_e(data[0])}</p>" + _html_table(DATA_HEADER, data[1]))
    section("spec", f"<pre>{_e(content.spec_yaml)}</pre>")
    section("provenance", _html_facts(provenance_facts(content)))
    nav = " · ".join(
        f'<a href="#{key}">{_e(title)}</a>'
        for key, title in SECTIONS.items()
        if f'<section id="{key}">' in "".join(sections)
    )
    title = f"lrsweep report: {content.name}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="sub">{_e(content.path)} · {nav}</p>'
        + "".join(sections)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# Markdown


def _md(value: Any) -> str:
    """A Markdown table cell or inline text: no line breaks, pipes escaped."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return [*lines, ""]


def _md_facts(facts: Sequence[tuple[str, str]]) -> list[str]:
    return [*(f"- **{_md(k)}**: {_md(v)}" for k, v in facts), ""]


def _md_figure(name: str, link: str) -> list[str]:
    caption = CAPTIONS.get(name, HEATMAP_CAPTION)
    return [f"![{name}]({link})", "", f"*{_md(caption)}*", ""]


def render_markdown(content: Content, links: Mapping[str, str]) -> str:
    """The Markdown twin: the same sections, figures linked as PNG files."""
    out = [f"# lrsweep report: {_md(content.name)}", "", f"`{content.path}`", ""]
    s = content.summary

    def heading(key: str) -> None:
        out.extend([f"## {SECTIONS[key]}", ""])

    heading("answer")
    if s is None:
        out += ["No sweep in this folder yet, only a range test: see below.", ""]
    else:
        objective = s["objective"]
        if s["combos"] and s.get("best_combo"):
            tied = s.get("indistinguishable_from_best") or []
            note = f" Indistinguishable within noise: {_md(', '.join(tied))}." if tied else ""
            out += [f"Best of all curves: **{_md(s['best_combo'])}**.{note}", ""]
        out += _md_facts(answer_facts(s, objective))
        for curve in s["combos"]:
            out += [f"### {_md(curve['label'])}", "", *_md_facts(answer_facts(curve, objective))]
        for key, fit in s.get("scaling", {}).items():
            sentence = scaling_sentence(key, fit)
            if sentence:
                out += [_md(sentence) + ".", ""]
        diverged = diverged_facts(content.rows)
        out += (
            ["What diverged:", "", *(f"- {_md(d)}" for d in diverged)]
            if diverged
            else ["What diverged: no run diverged."]
        )
        counts = s["status_counts"]
        labels = label_counts(content.rows)
        out += [
            "",
            f"{s['n_runs']} runs: {counts['ok']} ok, {counts['diverged']} diverged,"
            f" {counts['failed']} failed; labels: {labels or '-'}. Objective: {objective}"
            f" ({'higher' if s['direction'] == 'max' else 'lower'} is better).",
            "",
        ]
        if s.get("notes"):
            out += ["Refine decisions:", "", *(f"- {_md(n)}" for n in s["notes"]), ""]
        heading("u-curve")
        for name in (n for n in links if section_of(n) == "u-curve"):
            out += _md_figure(name, links[name])
        for curve in curves(s):
            if s["combos"]:
                out += [f"### {_md(curve['label'])}", ""]
            out += _md_table(PER_LR_HEADER, per_lr_rows(curve))
        heading("loss")
        for name in (n for n in links if section_of(n) == "loss"):
            out += _md_figure(name, links[name])
    if content.range_test is not None:
        heading("range-test")
        sentence, rows = range_test_facts(content.range_test)
        for name in (n for n in links if section_of(n) == "range-test"):
            out += _md_figure(name, links[name])
        out += [sentence, "", *_md_table(RANGE_TEST_HEADER, rows)]
    if s is not None:
        heading("runs")
        out += [f"{len(content.rows)} runs.", ""]
        rows = [[_cell_text(r.get(c, "")) for c in content.columns] for r in content.rows]
        out += _md_table(content.columns, rows)
    data = data_facts(s)
    if data is not None:
        heading("data")
        out += [data[0], "", *_md_table(DATA_HEADER, data[1])]
    heading("spec")
    out += ["```yaml", content.spec_yaml.rstrip("\n"), "```", ""]
    heading("provenance")
    out += _md_facts(provenance_facts(content))
    return "\n".join(out)
