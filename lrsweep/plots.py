"""Figures drawn from a results dir: the U-curve and loss against epoch.

matplotlib is imported here only, and this module is imported only when a plot is drawn.
Figures are ``matplotlib.figure.Figure`` objects on an Agg canvas (no pyplot global state);
each ``plot_*`` function takes an optional ``ax`` and returns the Figure. What to draw is
computed in :mod:`lrsweep.analysis`; this module only draws it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from lrsweep import study
from lrsweep.analysis import (
    EpochCurve,
    EpochPanel,
    Heatmap,
    SuggestionMark,
    UCurve,
    epoch_panel,
    heatmap,
    suggestion_marks,
    summary_rows,
    u_curve,
)
from lrsweep.errors import ResultsError
from lrsweep.files import write_atomic
from lrsweep.records import is_maximised, objective_parts
from lrsweep.results import ResultsDir
from lrsweep.spec import NUMERIC_AXES, combo_label

OBJECTIVE_LABELS = {
    "final_val_loss": "final validation loss (mean of last 3 epochs)",
    "best_val_loss": "best validation loss",
    "final_train_loss": "final training loss (mean of last 3 epochs)",
    "final_val_metric": "final validation metric (mean of last 3 epochs)",
    "mean_val_loss": "mean validation loss over epochs",
}


def objective_label(objective: str) -> str:
    """An axis label for ``objective``: the built-in ones worded, a script's metric named."""
    if objective in OBJECTIVE_LABELS:
        return OBJECTIVE_LABELS[objective]
    how, metric, _ = objective_parts(objective)
    return {"final": f"final {metric} (mean of last 3 reported epochs)",
            "best": f"best {metric}", "mean": f"mean {metric} over epochs"}[how]  # fmt: skip


def _figure(ax: Axes | None, size: tuple[float, float] = (7.0, 4.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.figure
        assert isinstance(fig, Figure)
        return fig, ax
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


ROUND_MARKERS = ("o", "s", "^", "D", "v", "P")  # round 0 (coarse grid), refine rounds 1, 2, ...
DIVERGED_COLOR = "C3"  # the crosses of diverged runs (one curve); several curves: their colour
PRUNED_COLOR = "C7"  # the triangles of pruned runs, likewise
BEST_COLOR = "C2"
FIT_COLOR = "C1"  # the U-curve fit, its band and the recommended LR (one curve)


def plot_u_curve(
    curves: UCurve | Sequence[UCurve],
    ax: Axes | None = None,
    title: str = "",
    overview: Axes | None = None,
) -> Figure:
    """Objective against LR (log axis), one curve per combination.

    ``ax`` (drawn first: ``fig.axes[0]`` when the figure is new) zooms on the region around
    the optimum (`UCurve.focus`, `UCurve.focus_lrs`); ``overview`` (beside it in a new
    figure) shows every LR's mean on the full range, the zoom shaded. Each curve: the mean
    over seeds (through LRs where no seed diverged) with its ±1 std band, each seed's point
    with a marker per round (circle: coarse grid, square: refine 1, ...), diverged runs as
    crosses and pruned runs as triangles along the worst edge, the lowest mean as a star, the
    U-curve fit (dashed) with its ±1 sd band, the recommended LR as a line (the interpolated
    optimum, dotted, when there is no fit), and the good band shaded (one curve only). The
    legend sits outside the axes. Each layer is a helper (`_draw_u_curve`).
    """
    if isinstance(curves, UCurve):
        curves = [curves]
    if ax is None:
        fig = Figure(figsize=(12.0, 4.8), layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(1, 2, width_ratios=(1, 2))
        ax = fig.add_subplot(grid[0, 1])
        overview = fig.add_subplot(grid[0, 0])
    else:
        fig, ax = _figure(ax)
    single = len(curves) == 1
    maximised = bool(curves) and is_maximised(curves[0].objective)
    for i, curve in enumerate(curves):
        color = f"C{i % 10}"
        _draw_u_curve(ax, curve, color, single, maximised)
        if overview is not None:
            _draw_u_overview(overview, curve, color, single, maximised)
    objective = curves[0].objective if curves else ""
    ylabel = objective_label(objective) if objective else ""
    focus = _union([c.focus for c in curves])
    if focus is not None:
        ax.set_ylim(*focus)
    lrs = _union([c.focus_lrs for c in curves])
    if lrs is not None:
        ax.set_xlim(*lrs)
    _lr_axes(ax, ylabel, "around the optimum" if focus is not None else "")
    ax.set_title(title or "U-curve")
    if overview is not None:
        if focus is not None:
            overview.axhspan(*focus, color="0.5", alpha=0.15, lw=0)
        if _positive(curves):
            overview.set_yscale("log")
        _lr_axes(overview, ylabel, "")
        overview.set_title("every LR (grey: the zoom)", fontsize="medium")
    handles, labels = _u_curve_legend(ax, curves, single)
    fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    return fig


def _draw_u_curve(ax: Axes, curve: UCurve, color: str, single: bool, maximised: bool) -> None:
    """One curve's layers on the zoomed axes (a fitted curve would be one more layer)."""
    name = "mean over seeds ± 1 std" if single else curve.label
    if single and curve.band is not None and curve.band[1] > curve.band[0]:
        ax.axvspan(*curve.band, color=BEST_COLOR, alpha=0.12, label="good band")
    if len(curve.lrs) > 1:
        ax.fill_between(curve.lrs, curve.low, curve.high, alpha=0.15, color=color, lw=0,
                        label=f"_band {name}")  # fmt: skip
    if len(curve.lrs):
        ax.plot(curve.lrs, curve.mean, "-", color=color, lw=1.6,
                label="mean over seeds" if single else curve.label)  # fmt: skip
    for r in sorted(set(curve.seed_rounds.tolist())):
        at = curve.seed_rounds == r
        what = "coarse grid" if r == 0 else f"refine round {r}"
        ax.plot(
            curve.seed_lrs[at], curve.seed_values[at], ROUND_MARKERS[r % len(ROUND_MARKERS)],
            color=color, alpha=0.5, ms=4, label=f"_one seed, {what}",
        )  # fmt: skip
    # diverged runs along the worst edge, whatever the y range; none past the zoom's x range
    # (and no empty line: an empty clip_on=False line upsets the layout)
    lo, hi = curve.focus_lrs or (0.0, math.inf)
    shown = curve.diverged_lrs[(curve.diverged_lrs >= lo) & (curve.diverged_lrs <= hi)]
    if len(shown):
        ax.plot(
            shown, np.full(len(shown), 0.0 if maximised else 1.0),
            "x", color=DIVERGED_COLOR if single else color, ms=8, mew=2, clip_on=False,
            transform=ax.get_xaxis_transform(), label="_diverged",
        )  # fmt: skip
    pruned = curve.pruned_lrs[(curve.pruned_lrs >= lo) & (curve.pruned_lrs <= hi)]
    if len(pruned):  # censored: worse than the cut at a rung
        ax.plot(
            pruned, np.full(len(pruned), 0.0 if maximised else 1.0), "v",
            color=PRUNED_COLOR if single else color, ms=6, clip_on=False,
            transform=ax.get_xaxis_transform(), label="_pruned",
        )  # fmt: skip
    if curve.best_lr is not None and curve.best_value is not None:
        ax.plot([curve.best_lr], [curve.best_value], "*", color=BEST_COLOR if single else color,
                ms=15, mec="k", mew=0.5, label=f"_best LR {curve.best_lr:.3g}")  # fmt: skip
    if len(curve.fit_lrs):  # the U-curve fit and its ±1 sd band (`lrsweep.curve`)
        ax.fill_between(curve.fit_lrs, curve.fit_low, curve.fit_high, alpha=0.2,
                        color=FIT_COLOR if single else color, lw=0,
                        label="U-curve fit ± 1 sd")  # fmt: skip
        ax.plot(curve.fit_lrs, curve.fit_mean, "--", color=FIT_COLOR if single else color,
                lw=1.4, label="U-curve fit")  # fmt: skip
    if curve.recommended_lr is not None:
        ax.axvline(curve.recommended_lr, color=FIT_COLOR if single else color, lw=1.2,
                   label=f"recommended {curve.recommended_lr:.3g}")  # fmt: skip
    elif curve.interpolated_lr is not None:
        ax.axvline(curve.interpolated_lr, color=BEST_COLOR if single else color, lw=1, ls=":",
                   label=f"_interpolated optimum {curve.interpolated_lr:.3g}")  # fmt: skip


def _draw_u_overview(ax: Axes, curve: UCurve, color: str, single: bool, maximised: bool) -> None:
    """One curve on the full range: its mean, the seeds faint, diverged and pruned runs, the
    best."""
    if len(curve.lrs):
        ax.plot(curve.lrs, curve.mean, "-", color=color, lw=1.2)
    ax.plot(curve.seed_lrs, curve.seed_values, ".", color=color, alpha=0.3, ms=3)
    if len(curve.diverged_lrs):
        ax.plot(
            curve.diverged_lrs, np.full(len(curve.diverged_lrs), 0.0 if maximised else 1.0),
            "x", color=DIVERGED_COLOR if single else color, ms=6, mew=1.5, clip_on=False,
            transform=ax.get_xaxis_transform(),
        )  # fmt: skip
    if len(curve.pruned_lrs):
        ax.plot(
            curve.pruned_lrs, np.full(len(curve.pruned_lrs), 0.0 if maximised else 1.0), "v",
            color=PRUNED_COLOR if single else color, ms=5, clip_on=False,
            transform=ax.get_xaxis_transform(),
        )  # fmt: skip
    if curve.best_lr is not None and curve.best_value is not None:
        ax.plot([curve.best_lr], [curve.best_value], "*", color=BEST_COLOR if single else color,
                ms=10, mec="k", mew=0.5)  # fmt: skip


def _u_curve_legend(
    ax: Axes, curves: Sequence[UCurve], single: bool
) -> tuple[list[Any], list[str]]:
    """Legend entries that match what is drawn: the mean with its band as one entry, markers
    in the colour they are drawn in (grey where every curve has its own colour)."""
    neutral = "0.35"
    handles: list[Any] = []
    labels: list[str] = []
    for i, curve in enumerate(curves):
        color = f"C{i % 10}"
        line = Line2D([], [], color=color, lw=1.6)
        band = Patch(color=color, alpha=0.15, lw=0)
        handles.append((band, line) if len(curve.lrs) > 1 else line)
        labels.append("mean over seeds ± 1 std" if single else f"{curve.label} (± 1 std)")
    rounds = sorted({int(r) for c in curves for r in c.seed_rounds.tolist()})
    for r in rounds:
        marker = ROUND_MARKERS[r % len(ROUND_MARKERS)]
        handles.append(Line2D([], [], ls="", marker=marker, ms=4, alpha=0.5,
                              color="C0" if single else neutral))  # fmt: skip
        labels.append("one seed, " + ("coarse grid" if r == 0 else f"refine round {r}"))
    if any(len(c.diverged_lrs) for c in curves):
        handles.append(Line2D([], [], ls="", marker="x", ms=8, mew=2,
                              color=DIVERGED_COLOR if single else neutral))  # fmt: skip
        labels.append("diverged (along the edge)" + ("" if single else ", curve's colour"))
    if any(len(c.pruned_lrs) for c in curves):
        handles.append(Line2D([], [], ls="", marker="v", ms=6,
                              color=PRUNED_COLOR if single else neutral))  # fmt: skip
        labels.append("pruned (along the edge)" + ("" if single else ", curve's colour"))
    best = [c for c in curves if c.best_lr is not None]
    if best:
        handles.append(Line2D([], [], ls="", marker="*", ms=12, mec="k", mew=0.5,
                              color=BEST_COLOR if single else neutral))  # fmt: skip
        labels.append(
            f"lowest mean {best[0].best_lr:.3g}" if single else "lowest mean of each curve"
        )
    if any(len(c.fit_lrs) for c in curves):
        handles.append(
            (
                Patch(color=FIT_COLOR if single else neutral, alpha=0.2, lw=0),
                Line2D([], [], ls="--", lw=1.4, color=FIT_COLOR if single else neutral),
            )
        )
        labels.append("U-curve fit ± 1 sd")  # fmt: skip
    recommended = [c for c in curves if c.recommended_lr is not None]
    if recommended:
        handles.append(Line2D([], [], lw=1.2, color=FIT_COLOR if single else neutral))
        labels.append(
            f"recommended {recommended[0].recommended_lr:.3g}" if single
            else "recommended LR of each curve"
        )  # fmt: skip
    interpolated = [
        c for c in curves if c.interpolated_lr is not None and c.recommended_lr is None
    ]
    if interpolated:
        handles.append(Line2D([], [], ls=":", lw=1, color=BEST_COLOR if single else neutral))
        labels.append(
            f"interpolated optimum {interpolated[0].interpolated_lr:.3g}"
            if single else "interpolated optimum"
        )  # fmt: skip
    if single and curves[0].band is not None and curves[0].band[1] > curves[0].band[0]:
        lo, hi = curves[0].band
        handles.append(Patch(color=BEST_COLOR, alpha=0.12))
        labels.append(f"good band {lo:.3g}-{hi:.3g}")
    return handles, labels


def _union(ranges: Sequence[tuple[float, float] | None]) -> tuple[float, float] | None:
    known = [r for r in ranges if r is not None]
    if not known:
        return None
    return min(r[0] for r in known), max(r[1] for r in known)


def _positive(curves: Sequence[UCurve]) -> bool:
    values = [v for c in curves for v in (*c.seed_values.tolist(), *c.low.tolist())]
    return bool(values) and min(values) > 0


def _lr_axes(ax: Axes, ylabel: str, note: str) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(ylabel + (f"\n({note})" if note else ""))
    ax.grid(True, which="both", alpha=0.3)


def plot_heatmap(data: Heatmap, ax: Axes | None = None, title: str = "") -> Figure:
    """The objective over LR (x, log) x a numeric axis (y). Hatched grey cells: no stable run
    (a seed diverged, or none finished). Stars: each row's recommended LR; line: the fitted
    scaling of the best LR with the axis, its slope's 95% interval in the legend."""
    fig, ax = _figure(ax, (8.0, 4.8))
    rows = np.arange(len(data.values), dtype=float)
    ax.set_facecolor("0.88")
    image = ax.pcolormesh(
        _edges(np.log10(data.lrs)), _edges(rows), np.ma.masked_invalid(data.grid),
        cmap="viridis_r", shading="flat",
    )  # fmt: skip
    handles: list[Any] = []
    labels: list[str] = []
    if np.isnan(data.grid).any():
        handles.append(Patch(facecolor="0.88", edgecolor="0.6", hatch="//"))
        labels.append("no stable run (diverged)")
        ax.patch.set_hatch("//")
        ax.patch.set_edgecolor("0.6")
    if data.best_lrs is not None and np.isfinite(data.best_lrs).any():
        ok = np.isfinite(data.best_lrs)
        ax.plot(np.log10(data.best_lrs[ok]), rows[ok], "*", color="w", mec="k", ms=13,
                label="_best")  # fmt: skip
        handles.append(Line2D([], [], ls="", marker="*", color="w", mec="k", ms=13))
        labels.append("recommended LR (after refining)")
    if data.fit is not None:
        fit = data.fit
        fitted = np.log10(np.exp(fit.intercept) * data.values**fit.slope)
        ax.plot(fitted, rows, "-", color="w", lw=1.5, label="_fit")
        interval = "no interval from 2 points"
        if fit.low is not None and fit.high is not None:
            interval = f"95% CI {fit.low:.2f} to {fit.high:.2f}"
        handles.append(Line2D([], [], color="w", lw=1.5))
        labels.append(f"fit: LR ∝ {data.axis}^{fit.slope:.2f} ({interval}, {fit.n} points)")
    ax.set_yticks(rows, [f"{v:g}" for v in data.values])
    ax.set_xlabel("log10(learning rate)")
    ax.set_ylabel(data.axis)
    fig.colorbar(image, ax=ax, label=objective_label(data.objective))
    ax.set_title(title or f"{data.objective}: learning rate x {data.axis}")
    if handles:
        legend = fig.legend(handles, labels, loc="outside lower center", fontsize="small",
                            facecolor="0.75", ncols=1)  # fmt: skip
        legend.get_frame().set_alpha(1.0)
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def plot_loss_vs_epoch(
    panels: EpochPanel | Sequence[EpochPanel], fig: Figure | None = None, title: str = ""
) -> Figure:
    """Training and validation loss against epoch: a row per combination (small multiples),
    a line per LR (the mean over seeds, a faint band from the seeds' min to max).

    LRs are coloured by rank (neighbouring LRs, refined ones included, get distinct colours;
    the colour bar names them); the recommended LR is drawn thick in black on top. Diverged
    LRs are dashed and end with a cross where they were stopped; a triangle marks the epoch
    (a rung) where a seed was pruned.
    """
    if isinstance(panels, EpochPanel):
        panels = [panels]
    if fig is None:
        fig = Figure(figsize=(11.0, 0.8 + 3.4 * max(1, len(panels))), layout="constrained")
        FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(max(1, len(panels)), 2, sharex=True, sharey=True,
                                      squeeze=False))  # fmt: skip
    lrs = sorted({c.lr for p in panels for c in p.curves})
    cmap = colormaps["viridis"].resampled(max(len(lrs), 1))
    rank = {lr: i for i, lr in enumerate(lrs)}
    top = _ceiling(panels)
    for row, panel in zip(axes, panels):
        for ax, column, label in ((row[0], "train", "training"), (row[1], "val", "validation")):
            for curve in sorted(panel.curves, key=lambda c: c.recommended):  # recommended last
                color = "k" if curve.recommended else cmap(rank[curve.lr])
                _draw_epoch_curve(ax, curve, column, color, top)
            ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            if ax in axes[0]:
                ax.set_title(f"{label} loss", fontsize="medium")
        where = "" if panel.label == "all" else f"{panel.label}\n"
        row[0].set_ylabel(f"{where}loss (mean over seeds)")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    axes[0][0].set_ylim(top=top)
    norm = BoundaryNorm(np.arange(len(lrs) + 1) - 0.5, max(len(lrs), 1))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="learning rate")
    step = max(1, math.ceil(len(lrs) / 16))
    bar.set_ticks(range(0, len(lrs), step), labels=[f"{lr:.3g}" for lr in lrs[::step]])
    best = sorted({p.best_lr for p in panels if p.best_lr is not None})
    handles: list[Any] = [Line2D([], [], color="k", lw=2.6)]
    labels = ["trained LR nearest the recommended: " + ", ".join(f"{lr:.3g}" for lr in best)]
    labels = labels if best else []
    handles = handles[: len(labels)]
    handles += [Patch(color="0.5", alpha=0.25), Line2D([], [], color="0.4", ls="--", marker="x")]
    labels += ["seeds' min to max", "diverged (stopped at the cross)"]
    if any(c.pruned_at for p in panels for c in p.curves):
        handles.append(Line2D([], [], color="0.4", ls="", marker="v"))
        labels.append("a seed pruned at a rung")
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def _draw_epoch_curve(ax: Axes, curve: EpochCurve, column: str, color: Any, top: float) -> None:
    mean, low, high = (getattr(curve, f"{column}_{k}") for k in ("mean", "low", "high"))
    lw = 2.6 if curve.recommended else 1.2
    z = 3 if curve.recommended else 2
    if curve.n_seeds > 1:
        ax.fill_between(curve.epochs, np.minimum(low, top), np.minimum(high, top), color=color,
                        alpha=0.25 if curve.recommended else 0.1, lw=0, zorder=z)  # fmt: skip
    ax.plot(curve.epochs, mean, ls="--" if curve.diverged else "-", color=color, lw=lw, zorder=z,
            label=f"lr {curve.lr:.3g}")  # fmt: skip
    if curve.diverged:
        finite = np.flatnonzero(np.isfinite(mean))
        if len(finite):
            last = finite[-1]
            ax.plot(curve.epochs[last:last + 1], [min(float(mean[last]), top)], "x",
                    color=color, ms=7, zorder=z)  # fmt: skip
    for epoch in curve.pruned_at:  # a seed stopped at a rung
        at = np.flatnonzero(curve.epochs == epoch)
        if len(at) and np.isfinite(mean[at[0]]):
            ax.plot([epoch], [min(float(mean[at[0]]), top)], "v", color=color, ms=6, zorder=z)


def _ceiling(panels: Sequence[EpochPanel]) -> float:
    """A y-limit that keeps exploding losses from flattening every other line."""
    starts = [
        float(c.train_mean[0]) for p in panels for c in p.curves
        if len(c.train_mean) and math.isfinite(c.train_mean[0])
    ]  # fmt: skip
    return 5.0 * max(starts) if starts else 10.0


def draw_all(results: ResultsDir, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw every plot of a results dir into ``RESULTS/plots/``; return the files written."""
    return save_figures(results.path / "plots", figures(results), formats)


def figures(results: ResultsDir) -> dict[str, Figure]:
    """The sweep's figures by file name (without suffix), drawn from ``runs.csv`` alone.

    ``u_curve`` (one curve per combination), ``loss_vs_epoch`` (a row per combination, every
    seed, full budget), and ``heatmap_<axis>`` for a sweep over one numeric axis.
    """
    every = study.all_rows(results)  # from the journal: a running or interrupted sweep too
    rows = [r for r in every if r["status"] != "failed"]  # a failed run has nothing to draw
    if not rows:
        planned = len(study.planned(results))
        failed = f", {len(every)} failed" if every else ""
        raise ResultsError(
            f"{results.path}: no finished run to plot yet (0 of {planned} planned{failed})"
        )
    spec = results.spec
    objective = spec.objective
    labels = [combo_label(c) for c in spec.combos]
    curves = [
        u_curve([r for r in rows if r.get("combo", "all") == label], objective, label,
                spec.analysis.band_tolerance)
        for label in labels
    ]  # fmt: skip
    figures = {"u_curve": plot_u_curve(curves, title=spec.name)}
    panels = []
    for label in labels:
        mine = [r for r in rows if r.get("combo", "all") == label]
        wanted = [r for r in summary_rows(mine) if r["status"] != "failed"]
        histories = {str(r["run_id"]): results.read_history(str(r["run_id"])) for r in wanted}
        panels.append(epoch_panel(mine, histories, objective, label))
    figures["loss_vs_epoch"] = plot_loss_vs_epoch(
        panels, title=f"{spec.name}: loss against epoch (mean over seeds)"
    )
    if len(spec.axes) == 1:
        (axis,) = spec.axes
        if axis in NUMERIC_AXES and len(spec.combos) > 1:
            data = heatmap(rows, axis, spec.combos, labels, objective)
            figures[f"heatmap_{axis.replace('.', '_')}"] = plot_heatmap(data, title=spec.name)
    return figures


def plot_range_test(
    curves: Mapping[int, Mapping[str, np.ndarray]],
    marks: Sequence[SuggestionMark],
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """Loss against LR (log) for each seed's ramp: raw loss faint, smoothed loss solid, and
    one numbered marker per distinct suggested LR (`lrsweep.analysis.suggestion_marks`: rules
    that agree share it) on the seeds' combined curve, named in the legend (black: the
    recommended LR)."""
    fig, ax = _figure(ax, (8.5, 4.8))
    ax.set_xscale("log")
    top = 0.0
    for i, (seed, c) in enumerate(sorted(curves.items())):
        color = f"C{i % 10}"
        ax.plot(c["lr"], c["loss"], color=color, alpha=0.25, lw=0.8)
        ax.plot(c["lr"], c["smoothed_loss"], color=color, lw=1.6, label=f"seed {seed} (smoothed)")
        finite = c["smoothed_loss"][np.isfinite(c["smoothed_loss"])]
        if len(finite):
            top = max(top, float(finite[0]) * 2.5)
    if top > 0:
        ax.set_ylim(bottom=0, top=top)
    ax.set_xlabel("learning rate (ramped per mini-batch)")
    ax.set_ylabel("training loss")
    ax.set_title(title or "LR range test")
    ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    for i, mark in enumerate(marks, 1):  # numbered on the curve, named in the legend
        y = mark.loss if math.isfinite(mark.loss) else (top or 1.0) * 0.05
        recommended = "recommended" in mark.names
        ax.plot([mark.lr], [y], "o", ms=8 if recommended else 6, mec="k", mew=1,
                color="k" if recommended else "w", zorder=5, label="_suggestion")  # fmt: skip
        above = i % 2 == 1  # neighbours alternate above and below the curve
        ax.annotate(
            str(i), (mark.lr, y), xytext=(0, 8 if above else -8), textcoords="offset points",
            ha="center", va="bottom" if above else "top", fontsize="small", fontweight="bold",
        )  # fmt: skip
        handles.append(Line2D([], [], ls="", marker=f"${i}$", color="k", ms=7))
        labels.append(f"{' = '.join(mark.names)}: {mark.lr:.3g}")
    fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    return fig


def draw_range_test(results: ResultsDir, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw ``plots/rangetest.<format>`` from the results dir's range-test files."""
    return save_figures(results.path / "plots", {"rangetest": range_test_figure(results)}, formats)


def range_test_figure(results: ResultsDir) -> Figure:
    """The range-test figure, from ``rangetest.csv`` and ``rangetest.json``."""
    curves = results.read_range_test()
    found = results.read_json("rangetest.json")
    arrays = {seed: {k: np.array(v) for k, v in c.items()} for seed, c in curves.items()}
    headline = {name: s.get("lr", s["median"]) for name, s in found["spread"].items()}
    marks = suggestion_marks(arrays, headline)
    return plot_range_test(arrays, marks, title=f"{results.spec.name}: LR range test")


def figure_svg(fig: Figure, salt: str) -> str:
    """The figure as SVG text, with ids hashed by ``salt`` and no date (reproducible)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def save_figures(
    folder: Path, figures: Mapping[str, Figure], formats: Sequence[str]
) -> list[Path]:
    """Save each figure atomically as ``<name>.<format>``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=120)
            path = folder / f"{name}.{fmt}"
            write_atomic(path, buf.getvalue())
            written.append(path)
    return written
