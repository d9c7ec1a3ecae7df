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

matplotlib.use("Agg", force=False)

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from lrsweep.analysis import UCurve, u_curve
from lrsweep.results import ResultsDir, read_runs_csv, write_atomic
from lrsweep.training import EpochLog, RunStatus

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


def plot_u_curve(curve: UCurve, ax: Axes | None = None, title: str = "") -> Figure:
    """Objective against LR (log axis): mean over seeds with a ±1 std band, each seed's
    points, diverged runs as red crosses along the top, and the best LR marked."""
    fig, ax = _figure(ax)
    ax.set_xscale("log")
    if len(curve.lrs):
        ax.fill_between(
            curve.lrs, curve.low, curve.high, alpha=0.2, color="C0", label="±1 std over seeds"
        )
        ax.plot(curve.lrs, curve.mean, "-o", color="C0", ms=4, label="mean over seeds")
        ax.plot(
            curve.seed_lrs, curve.seed_values, ".", color="C0", alpha=0.4, ms=5, label="one seed"
        )
    if len(curve.diverged_lrs):
        finite = curve.high[np.isfinite(curve.high)] if len(curve.high) else curve.high
        top = float(np.max(finite)) if len(finite) else 1.0
        ax.plot(
            curve.diverged_lrs,
            np.full(len(curve.diverged_lrs), top),
            "x",
            color="C3",
            ms=8,
            mew=2,
            label="diverged",
            clip_on=False,
        )
    if curve.best_lr is not None and curve.best_value is not None:
        ax.axvline(curve.best_lr, color="C2", lw=1, ls="--")
        ax.plot(
            [curve.best_lr],
            [curve.best_value],
            "*",
            color="C2",
            ms=14,
            label=f"best LR {curve.best_lr:.3g}",
        )
    ax.set_xlabel("learning rate")
    ax.set_ylabel(OBJECTIVE_LABELS.get(curve.objective, curve.objective))
    ax.set_title(title or "U-curve")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


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
    """Draw ``u_curve`` and ``loss_vs_epoch`` into ``RESULTS/plots/``; return the files."""
    rows = read_runs_csv(results.path / "runs.csv")
    spec = results.spec
    figures = {"u_curve": plot_u_curve(u_curve(rows, spec.train.objective), title=spec.name)}
    first_seed = min((int(r["seed"]) for r in rows), default=0)
    chosen = [
        r
        for r in rows
        if int(r["seed"]) == first_seed and r["status"] != "failed" and r["budget"] == "full"
    ]
    histories = {float(r["lr"]): results.read_history(str(r["run_id"])) for r in chosen}
    statuses = {float(r["lr"]): str(r["status"]) for r in chosen}
    figures["loss_vs_epoch"] = plot_loss_vs_epoch(
        histories, statuses, title=f"{spec.name}: loss against epoch (seed {first_seed})"
    )
    return save_figures(results.path / "plots", figures, formats)


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
