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

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from lrsweep.analysis import Heatmap, UCurve, heatmap, summary_rows, u_curve
from lrsweep.errors import ResultsError
from lrsweep.records import MAXIMISED, EpochLog, RunStatus
from lrsweep.results import ResultsDir, all_rows, write_atomic
from lrsweep.spec import NUMERIC_AXES, combo_label

OBJECTIVE_LABELS = {
    "final_val_loss": "final validation loss (mean of last 3 epochs)",
    "best_val_loss": "best validation loss",
    "final_train_loss": "final training loss (mean of last 3 epochs)",
    "final_val_metric": "final validation metric (mean of last 3 epochs)",
    "mean_val_loss": "mean validation loss over epochs",
}


def _figure(ax: Axes | None, size: tuple[float, float] = (7.0, 4.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.figure
        assert isinstance(fig, Figure)
        return fig, ax
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


ROUND_MARKERS = ("o", "s", "^", "D", "v", "P")  # round 0 (coarse grid), refine rounds 1, 2, ...


def plot_u_curve(
    curves: UCurve | Sequence[UCurve], ax: Axes | None = None, title: str = ""
) -> Figure:
    """Objective against LR (log axis), one curve per combination.

    Each curve: the mean over seeds (drawn through LRs where no seed diverged) with a ±1 std
    band, each seed's point with a marker per round (circle: coarse grid, square: refine 1,
    ...), diverged runs as crosses along the top, the lowest mean as a star, the U-curve fit
    (dashed) with its ±1 sd band, the recommended LR as a line (the interpolated optimum,
    dotted, when there is no fit), and the good band shaded (one curve only, to stay readable).
    """
    if isinstance(curves, UCurve):
        curves = [curves]
    fig, ax = _figure(ax)
    ax.set_xscale("log")
    single = len(curves) == 1
    # diverged runs sit at the worst edge: the top for a loss, the bottom for a metric
    maximised = bool(curves) and curves[0].objective in MAXIMISED
    values = [np.concatenate([c.low if maximised else c.high, c.seed_values]) for c in curves]
    edges = [float(np.nanmin(v) if maximised else np.nanmax(v)) for v in values if len(v)]
    edges = [e for e in edges if np.isfinite(e)]
    top = min(edges, default=0.0) if maximised else max(edges, default=1.0)
    for i, curve in enumerate(curves):
        color = f"C{i % 10}"
        name = "mean over seeds" if single else curve.label
        if single and curve.band is not None and curve.band[1] > curve.band[0]:
            ax.axvspan(*curve.band, color="C2", alpha=0.12, label="good band")
        if len(curve.lrs):
            if len(curve.lrs) > 1:
                ax.fill_between(curve.lrs, curve.low, curve.high, alpha=0.15, color=color)
            ax.plot(curve.lrs, curve.mean, "-", color=color, lw=1.6, label=name)
        for r in sorted(set(curve.seed_rounds.tolist())):
            at = curve.seed_rounds == r
            what = "coarse grid" if r == 0 else f"refine round {r}"
            ax.plot(
                curve.seed_lrs[at], curve.seed_values[at], ROUND_MARKERS[r % len(ROUND_MARKERS)],
                color=color, alpha=0.5, ms=4, label=f"one seed, {what}" if single else None,
            )  # fmt: skip
        if len(curve.diverged_lrs):
            ax.plot(
                curve.diverged_lrs, np.full(len(curve.diverged_lrs), top), "x",
                color="C3" if single else color, ms=8, mew=2, clip_on=False,
                label="diverged" if single or i == 0 else None,
            )  # fmt: skip
        if curve.best_lr is not None and curve.best_value is not None:
            ax.plot([curve.best_lr], [curve.best_value], "*", color="C2" if single else color,
                    ms=15, mec="k", mew=0.5,
                    label=f"best LR {curve.best_lr:.3g}" if single else None)  # fmt: skip
        if len(curve.fit_lrs):
            ax.fill_between(curve.fit_lrs, curve.fit_low, curve.fit_high, alpha=0.2,
                            color="C1" if single else color, lw=0,
                            label="U-curve fit ±1 sd" if single else None)  # fmt: skip
            ax.plot(curve.fit_lrs, curve.fit_mean, "--", color="C1" if single else color,
                    lw=1.4, label="U-curve fit" if single else None)  # fmt: skip
        if curve.recommended_lr is not None:
            ax.axvline(curve.recommended_lr, color="C1" if single else color, lw=1.2,
                       label=f"recommended {curve.recommended_lr:.3g}"
                       if single else None)  # fmt: skip
        elif curve.interpolated_lr is not None:
            ax.axvline(curve.interpolated_lr, color="C2" if single else color, lw=1, ls=":",
                       label=f"interpolated optimum {curve.interpolated_lr:.3g}"
                       if single else None)  # fmt: skip
    objective = curves[0].objective if curves else ""
    ax.set_xlabel("learning rate")
    ax.set_ylabel(OBJECTIVE_LABELS.get(objective, objective))
    ax.set_title(title or "U-curve")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_heatmap(data: Heatmap, ax: Axes | None = None, title: str = "") -> Figure:
    """The objective over LR (x, log) x a numeric axis (y); blank cells: no stable run."""
    fig, ax = _figure(ax)
    image = ax.pcolormesh(
        _edges(np.log10(data.lrs)), _edges(np.arange(len(data.values), dtype=float)),
        np.ma.masked_invalid(data.grid), cmap="viridis_r", shading="flat",
    )  # fmt: skip
    ax.set_yticks(np.arange(len(data.values)), [f"{v:g}" for v in data.values])
    ax.set_xlabel("log10(learning rate)")
    ax.set_ylabel(data.axis)
    fig.colorbar(image, ax=ax, label=OBJECTIVE_LABELS.get(data.objective, data.objective))
    ax.set_title(title or f"{data.objective}: learning rate x {data.axis}")
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def plot_loss_vs_epoch(
    histories: Mapping[float, Sequence[EpochLog]],
    statuses: Mapping[float, str],
    fig: Figure | None = None,
    title: str = "",
) -> Figure:
    """Train and validation loss against epoch, one line per LR coloured by log10(LR).

    Diverged runs are dashed and end with a cross at the point they were stopped.
    """
    if fig is None:
        fig = Figure(figsize=(11.0, 4.5), layout="constrained")
        FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    lrs = sorted(histories)
    logs = np.log10(lrs) if lrs else np.array([0.0])
    norm = Normalize(vmin=float(logs.min()), vmax=float(max(logs.max(), logs.min() + 1e-9)))
    cmap = colormaps["viridis"]
    for ax, column, label in (
        (axes[0], "train_loss", "training"),
        (axes[1], "val_loss", "validation"),
    ):
        for lr in lrs:
            hist = histories[lr]
            x = [h.epoch for h in hist]
            y = [getattr(h, column) for h in hist]
            diverged = statuses.get(lr) == RunStatus.DIVERGED.value
            color = cmap(norm(math.log10(lr)))
            ax.plot(x, y, ls="--" if diverged else "-", color=color, lw=1.3)
            if diverged and x:
                ax.plot(
                    x[-1:],
                    [
                        min(y[-1], _ceiling(histories))
                        if math.isfinite(y[-1])
                        else _ceiling(histories)
                    ],
                    "x",
                    color=color,
                    ms=7,
                )
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(f"{label} loss")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("loss")
    top = _ceiling(histories)
    axes[0].set_ylim(top=top)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="log10(learning rate)")
    if title:
        fig.suptitle(title)
    return fig


def _ceiling(histories: Mapping[float, Sequence[EpochLog]]) -> float:
    """A y-limit that keeps exploding losses from flattening every other line."""
    starts = [h[0].train_loss for h in histories.values() if h and math.isfinite(h[0].train_loss)]
    return 5.0 * max(starts) if starts else 10.0


def draw_all(results: ResultsDir, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw every plot of a results dir into ``RESULTS/plots/``; return the files written."""
    return save_figures(results.path / "plots", figures(results), formats)


def figures(results: ResultsDir) -> dict[str, Figure]:
    """The sweep's figures by file name (without suffix), drawn from ``runs.csv`` alone.

    ``u_curve`` (one curve per combination), ``loss_vs_epoch`` (the first combination's first
    seed, full budget), and ``heatmap_<axis>`` for a sweep over one numeric axis.
    """
    rows = all_rows(results)  # from the journal: a running or interrupted sweep too
    if not rows:
        planned = len(results.planned(results.spec.spec_hash()))
        raise ResultsError(f"{results.path}: no finished run to plot yet (0 of {planned} planned)")
    spec = results.spec
    objective = spec.train.objective
    labels = [combo_label(c) for c in spec.combos]
    curves = [
        u_curve([r for r in rows if r.get("combo", "all") == label], objective, label,
                spec.analysis.band_tolerance)
        for label in labels
    ]  # fmt: skip
    figures = {"u_curve": plot_u_curve(curves, title=spec.name)}
    first = [r for r in rows if r.get("combo", "all") == labels[0]]
    first_seed = min((int(r["seed"]) for r in first), default=0)
    chosen = [r for r in summary_rows(first) if int(r["seed"]) == first_seed
              and r["status"] != "failed"]  # fmt: skip
    histories = {float(r["lr"]): results.read_history(str(r["run_id"])) for r in chosen}
    statuses = {float(r["lr"]): str(r["status"]) for r in chosen}
    where = "" if labels[0] == "all" else f" {labels[0]},"
    figures["loss_vs_epoch"] = plot_loss_vs_epoch(
        histories, statuses, title=f"{spec.name}:{where} loss against epoch (seed {first_seed})"
    )
    if len(spec.axes) == 1:
        (axis,) = spec.axes
        if axis in NUMERIC_AXES and len(spec.combos) > 1:
            data = heatmap(rows, axis, spec.combos, labels, objective)
            figures[f"heatmap_{axis.replace('.', '_')}"] = plot_heatmap(data, title=spec.name)
    return figures


def plot_range_test(
    curves: Mapping[int, Mapping[str, np.ndarray]],
    suggestions: Mapping[str, float | None],
    ax: Axes | None = None,
    title: str = "",
) -> Figure:
    """Loss against LR (log) for each seed's ramp: raw loss faint, smoothed loss solid, and a
    vertical line at each suggestion (read off the seeds' combined curve)."""
    fig, ax = _figure(ax)
    ax.set_xscale("log")
    top = 0.0
    for i, (seed, c) in enumerate(sorted(curves.items())):
        color = f"C{i % 10}"
        ax.plot(c["lr"], c["loss"], color=color, alpha=0.25, lw=0.8)
        ax.plot(c["lr"], c["smoothed_loss"], color=color, lw=1.6, label=f"seed {seed} (smoothed)")
        finite = c["smoothed_loss"][np.isfinite(c["smoothed_loss"])]
        if len(finite):
            top = max(top, float(finite[0]) * 2.5)
    styles = {
        "recommended": ("k", "-"),
        "valley": ("C2", "-"),
        "steep": ("C1", "--"),
        "minimum_10": ("C4", ":"),
        "slide": ("C5", "-."),
        "max_lr": ("C3", "--"),
        "base_lr": ("C7", ":"),
    }
    for name, lr in suggestions.items():
        if lr is not None:
            color, style = styles.get(name, ("k", ":"))
            ax.axvline(lr, color=color, ls=style, lw=1.2, label=f"{name} {lr:.3g}")
    if top > 0:
        ax.set_ylim(bottom=0, top=top)
    ax.set_xlabel("learning rate (ramped per mini-batch)")
    ax.set_ylabel("training loss")
    ax.set_title(title or "LR range test")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
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
    return plot_range_test(arrays, headline, title=f"{results.spec.name}: LR range test")


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
