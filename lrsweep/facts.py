"""The answer in words: facts and table rows every rendering shares (terminal, HTML, Markdown).

Pure functions from a summary (``summary.json``) or rows to strings; the CLI styles them with
rich, the report escapes them into HTML or Markdown. A fact is worded once, here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def fmt_number(x: Any, digits: int = 4) -> str:
    """A number for a person: ``4 significant digits``; ``-`` for missing or non-finite."""
    if x is None or x == "":
        return "-"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}" if math.isfinite(x) else "-"


def fmt_seconds(seconds: float) -> str:
    """A duration for a person: ``0.8 s``, ``14 s``, ``3 min 20 s``."""
    if seconds < 10:
        return f"{seconds:.1g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def fmt_std(std: Any, n_ok: int) -> str:
    """A spread over seeds: ``-`` where fewer than two seeds finished (no spread to show)."""
    return fmt_number(std) if n_ok >= 2 else "-"


def answer_facts(curve: Mapping[str, Any], objective: str) -> list[tuple[str, str]]:
    """(what, value) pairs answering "which LR" for one curve (or the overall best)."""
    best = curve.get("best")
    if not best:
        return [("Recommended LR", "none: every run diverged or failed")]
    n_ok = next((r["n_ok"] for r in curve.get("table", []) if r["lr"] == best["lr"]), 2)
    spread = f" ± {fmt_number(best['objective_std'])} over seeds" if n_ok >= 2 else ", one seed"
    lowest = f"{fmt_number(best['lr'])} ({objective} {fmt_number(best['objective_mean'])}{spread})"
    fitted = curve.get("answer")
    if fitted:
        lo, hi = fitted["interval"]
        e_lo, e_hi = fitted["expected_objective_range"]
        facts = [
            (
                "Recommended LR",
                f"{fmt_number(fitted['lr'])} (the U-curve fit's best expected run)",
            ),
            ("Optimum lies in", f"{fmt_number(lo, 3)} to {fmt_number(hi, 3)} (10-90 %)"),
            (
                "Expected " + objective,
                f"{fmt_number(fitted['expected_objective'])} ({fmt_number(e_lo)} to"
                f" {fmt_number(e_hi)}; the fit at the recommended LR, not the winner's mean)",
            ),
            ("Lowest mean", lowest),
        ]
    else:
        facts = [("Recommended LR", lowest)]
    if best.get("edge"):
        facts.append(("Warning", f"on the grid's {best['edge']} edge: widen the grid or refine"))
    elif fitted and fitted.get("interval_edge"):
        low = fitted["interval_edge"] == "low"
        facts.append(
            (
                "Warning",
                f"the optimum's interval reaches the {'smallest' if low else 'largest'} LR"
                f" tried: {'smaller' if low else 'larger'} LRs may do as well; widen the grid"
                f" (grid.{'lr_min' if low else 'lr_max'})",
            )
        )
    if fitted and fitted.get("held_at"):
        facts.append(
            (
                "Warning",
                f"the fit's best lies past the largest stable LR; the answer is held at it"
                f" ({fmt_number(fitted['held_at'], 3)}): runs above it diverged or ended no"
                " better than a constant prediction",
            )
        )
    if curve.get("interpolated_lr"):
        facts.append(("Interpolated optimum", fmt_number(curve["interpolated_lr"], 3)))
    band = curve.get("good_band")
    if band:
        facts.append(
            (
                "Good band",
                f"{fmt_number(band[0], 3)} to {fmt_number(band[1], 3)}"
                f" ({curve['good_band_decades']:.2f} decades)",
            )
        )
    if curve.get("largest_stable_lr"):
        facts.append(
            (
                "Largest stable LR",
                f"{fmt_number(curve['largest_stable_lr'], 3)} (past it a run diverged, or the"
                " runs ended no better than a constant prediction)",
            )
        )
    if curve.get("sensitivity") is not None:
        facts.append(
            (
                "Sensitivity",
                f"{curve['sensitivity']:.2f} (the fitted objective's mean relative rise over"
                " the decade of LRs around the good band: 0 = the LR hardly matters, 1 = twice"
                " as bad)"
                if fitted
                else f"{curve['sensitivity']:.2f} (0: every LR of the coarse grid as good as"
                " the best; 1: as bad as the untrained model)",
            )
        )
    return facts


def diverged_facts(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per (curve, LR) where some run diverged, smallest LR first."""
    by_lr: dict[tuple[str, float], list[int]] = {}
    order: dict[str, int] = {}  # curves in the order of runs.csv
    for r in rows:
        key = (str(r.get("combo", "all")), float(r["lr"]))
        order.setdefault(key[0], len(order))
        counts = by_lr.setdefault(key, [0, 0])
        counts[1] += 1
        counts[0] += r["status"] == "diverged"
    lines = []
    for (combo, lr), (bad, total) in sorted(
        by_lr.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])
    ):
        if bad:
            where = "" if combo == "all" else f"{combo}: "
            lines.append(f"{where}LR {fmt_number(lr)}: {bad} of {total} runs diverged")
    return lines


def label_counts(rows: Sequence[Mapping[str, Any]]) -> str:
    """``"5 ok, 1 oscillating, 2 diverged"`` over every run, in order of first appearance."""
    counts = Counter(str(r.get("label") or r["status"]) for r in rows)
    return ", ".join(f"{n} {label}" for label, n in counts.items())


def answer_block(
    curve: Mapping[str, Any], objective: str, counts: Mapping[str, int] | None = None
) -> list[tuple[str, str]]:
    """The answer at a glance: short (what, value) rows to print aligned, numbers first; the
    explanations are :func:`answer_facts` (``show --explain``, the report)."""
    best = curve.get("best")
    fitted = curve.get("answer")
    rows: list[tuple[str, str]] = []
    if not best:
        rows.append(("Recommended LR", "none: every run diverged or failed"))
    elif fitted:
        lo, hi = fitted["interval"]
        e_lo, e_hi = fitted["expected_objective_range"]
        rows += [
            ("Recommended LR", fmt_number(fitted["lr"], 3)),
            ("Optimum in", f"{fmt_number(lo, 3)} to {fmt_number(hi, 3)} (10-90 %)"),
            (
                f"Expected {_short(objective)}",
                f"{fmt_number(fitted['expected_objective'])}"
                f" ({fmt_number(e_lo)} to {fmt_number(e_hi)})",
            ),
        ]
    else:
        n_ok = next((r["n_ok"] for r in curve.get("table", []) if r["lr"] == best["lr"]), 2)
        spread = f" ± {fmt_number(best['objective_std'])}" if n_ok >= 2 else " (one seed)"
        rows += [
            ("Recommended LR", f"{fmt_number(best['lr'], 3)} (the lowest mean; no curve fit)"),
            (f"Mean {_short(objective)}", f"{fmt_number(best['objective_mean'])}{spread}"),
        ]
    band = curve.get("good_band")
    if band:
        rows.append(
            (
                "Good band",
                f"{fmt_number(band[0], 3)} to {fmt_number(band[1], 3)}"
                f" ({curve['good_band_decades']:.2f} decades)",
            )
        )
    if curve.get("largest_stable_lr"):
        rows.append(("Largest stable LR", fmt_number(curve["largest_stable_lr"], 3)))
    if curve.get("sensitivity") is not None:
        rows.append(("Sensitivity", f"{curve['sensitivity']:.2f} (0 flat, 1 a miss doubles it)"))
    if counts:
        words = {"pruned": "pruned", "failed": "failed", "timeout": "timed out"}
        extra = [f"{counts[k]} {w}" for k, w in words.items() if counts.get(k)]
        rows.append(
            ("Runs", ", ".join([f"{counts['ok']} ok", f"{counts['diverged']} diverged", *extra]))
        )
    rows += [(what, value) for what, value in answer_facts(curve, objective) if what == "Warning"]
    return rows


def _short(objective: str) -> str:
    """``final_val_loss`` -> ``val loss``: an objective's name in a label."""
    return objective.removeprefix("final_").replace("_", " ")


def answer_line(curve: Mapping[str, Any], objective: str, prefix: str = "Recommended LR") -> str:
    """One curve's answer as one line (a ``vary`` combination's): the short facts."""
    rows = answer_block(curve, objective)
    first = f"{prefix}: {rows[0][1]}"
    rest = [f"{what[0].lower()}{what[1:]} {value}" for what, value in rows[1:]]
    return "; ".join([first, *rest])


EXPLANATIONS = (
    (
        "Recommended LR",
        "a Gaussian process is fitted to every finished run (all seeds, all rounds; diverged"
        " seeds count as worse than anything seen; runs stopped at a budget's rung,"
        " extrapolated); the answer minimises what one more run there is expected to score"
        " (its spread and its chance of diverging included) plus the fit's uncertainty, so a"
        " lucky seed next to the stability edge does not win.",
    ),
    (
        "Optimum in",
        "where the optimum is, 10-90 %, from the fit's uncertainty; the sweep adds seeds near"
        " the answer until this is narrow or the run budget (refine.max_runs) is spent.",
    ),
    ("Expected", "the fit at the recommended LR: what to expect there, not a noisy minimum."),
    ("Good band", "the LRs whose fitted objective is within 5 % of the best."),
    (
        "Largest stable LR",
        "past it a run diverged, or the runs ended no better than a constant prediction.",
    ),
    (
        "Sensitivity",
        "the fitted objective's mean relative rise over its best, capped at double, over the"
        " decade of LRs around the good band: 0 = the LR hardly matters, 1 = a miss doubles it.",
    ),
)


def range_test_facts(found: Mapping[str, Any]) -> tuple[str, list[list[str]]]:
    """A sentence about the ramp and the rows of its suggestion table."""
    stops = ", ".join(f"seed {k}: {v}" for k, v in found.get("stops", {}).items())
    grid = found.get("grid", {})
    sentence = (
        f"Ramp from {fmt_number(found.get('start_lr'))} to {fmt_number(found.get('end_lr'))}"
        f" over {found.get('num_iter')} steps ({found.get('mode')}); runs ended: {stops}."
        f" Suggested sweep grid: {fmt_number(grid.get('lr_min'), 3)} to"
        f" {fmt_number(grid.get('lr_max'), 3)}."
    )
    rows = [
        [
            name,
            fmt_number(s.get("lr", s["median"])),
            fmt_number(s["median"]),
            fmt_number(s["min"]),
            fmt_number(s["max"]),
            str(s["n"]),
        ]
        for name, s in found.get("spread", {}).items()
    ]
    return sentence, rows


def per_lr_rows(curve: Mapping[str, Any]) -> list[list[str]]:
    """The per-LR table of one curve: LR, mean, std, P(best), ok, diverged, failed."""
    return [
        [
            fmt_number(r["lr"]),
            fmt_number(r["mean"]),
            fmt_std(r["std"], r["n_ok"]),
            "-" if r.get("p_best") is None else f"{r['p_best']:.2f}",
            str(r["n_ok"]),
            str(r["n_diverged"]),
            str(r["n_failed"]),
        ]
        for r in curve.get("table", [])
    ]


def per_lr_classes(curve: Mapping[str, Any]) -> list[str]:
    """``best`` for the row nearest the recommended LR, ``band`` for the good band's."""
    best = (curve.get("best") or {}).get("lr")
    fitted = curve.get("answer")
    lrs = [r["lr"] for r in curve.get("table", [])]
    if fitted and lrs:
        best = min(lrs, key=lambda x: abs(math.log(x / fitted["lr"])))
    lo, hi = curve.get("good_band") or (math.inf, -math.inf)
    return [
        "best" if r["lr"] == best else "band" if lo <= r["lr"] <= hi else ""
        for r in curve.get("table", [])
    ]


PER_LR_HEADER = ["LR", "mean objective", "± std", "P(best)", "ok", "diverged", "failed"]
RANGE_TEST_HEADER = ["suggestion", "LR", "seeds' median", "min", "max", "seeds"]


def scaling_sentence(key: str, fit: Mapping[str, Any]) -> str | None:
    """``Best LR scales as train.batch_size^0.74 (95% interval 0.21 to 1.27, 4 points)``."""
    if fit.get("slope") is None:
        return None
    n = len(fit.get("points", []))
    low, high = fit.get("slope_low"), fit.get("slope_high")
    interval = (
        f"95% interval {low:.2f} to {high:.2f}" if low is not None and high is not None
        else "no interval from 2 points"
    )  # fmt: skip
    return (
        f"Best LR scales as {key}^{fit['slope']:.2f} ({interval}, {n} points; 1: linear"
        " scaling rule, 0.5: square-root rule)"
    )


def curves(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Each curve of a summary: one per ``vary`` combination, or the summary itself."""
    return summary["combos"] or [{**summary, "label": summary["name"]}]


def state_lines(summary: Mapping[str, Any]) -> list[str]:
    """What is unusual about a summary: runs still to train, a stale summary.json, damage."""
    lines = []
    if summary.get("partial"):
        p = summary["partial"]
        lines.append(
            f"partial: {p['runs_done']} of {p['runs_planned']} runs finished (interrupted or"
            " still running)"
        )
    damaged = summary.get("damaged") or {}
    if damaged.get("histories_missing"):
        lines.append(
            f"{damaged['histories_missing']} finished runs have a missing or damaged history"
            " file; the next run or refine trains them again"
        )
    if damaged.get("journal_lines_skipped"):
        lines.append(f"journal: {damaged['journal_lines_skipped']} unreadable lines skipped")
    if summary.get("stale"):
        lines.append(str(summary["stale"]))
    return lines
