"""What the results say: objectives, aggregation over seeds, the best LR and its bracket.

Pure functions over rows and histories; nothing here trains, draws or prints. Plots and the
terminal render what these functions return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from lrsweep.training import EpochLog, RunResult, RunStatus

FINAL_WINDOW = 3  # "final" objectives average the last epochs, which damps epoch-to-epoch noise
MAXIMISED = frozenset({"final_val_metric"})


def run_objective(history: Sequence[EpochLog], objective: str, status: str) -> float:
    """A run's objective in its natural units; NaN for a run that did not finish.

    ``final_*`` average the last ``FINAL_WINDOW`` epochs; ``best_val_loss`` is the lowest
    validation loss after epoch 0; ``mean_val_loss`` is the mean over epochs 1.. (the area
    under the curve, which rewards fast convergence).
    """
    if status != RunStatus.OK.value:
        return math.nan
    trained = [h for h in history if h.epoch > 0]
    if not trained:
        return math.nan
    last = trained[-FINAL_WINDOW:]
    if objective == "final_val_loss":
        return float(np.mean([h.val_loss for h in last]))
    if objective == "final_train_loss":
        return float(np.mean([h.train_loss for h in last]))
    if objective == "final_val_metric":
        return float(np.mean([h.val_metric for h in last]))
    if objective == "best_val_loss":
        return float(min(h.val_loss for h in trained))
    if objective == "mean_val_loss":
        return float(np.mean([h.val_loss for h in trained]))
    raise ValueError(f"unknown objective {objective!r}")


def score(value: float, objective: str) -> float:
    """The objective as a number to minimise; a missing value ranks last (+inf)."""
    if not math.isfinite(value):
        return math.inf
    return -value if objective in MAXIMISED else value


def run_row(run: Mapping[str, Any], result: RunResult, objective: str) -> dict[str, Any]:
    """The ``runs.csv`` row of a finished run."""
    trained = [h for h in result.history if h.epoch > 0]
    last = result.history[-1] if result.history else None
    val_losses = [h.val_loss for h in trained if math.isfinite(h.val_loss)]
    best_epoch = -1
    best_val = math.nan
    if val_losses:
        best = min((h for h in trained if math.isfinite(h.val_loss)), key=lambda h: h.val_loss)
        best_epoch, best_val = best.epoch, best.val_loss
    status = result.status.value
    return {
        "run_id": result.run_id,
        "round": run["round"],
        "budget": run["budget"],
        "lr": float(run["lr"]),
        "seed": run["seed"],
        "status": status,
        "label": status,
        "epochs_done": result.epochs_done,
        "final_train_loss": last.train_loss if last else math.nan,
        "final_val_loss": last.val_loss if last else math.nan,
        "best_val_loss": best_val,
        "best_epoch": best_epoch,
        "final_val_metric": last.val_metric if last else math.nan,
        "objective": run_objective(result.history, objective, status),
        "seconds": round(result.seconds, 6),
        "message": result.message,
    }


class LRPoint(NamedTuple):
    """One LR's results aggregated over seeds."""

    lr: float
    n_runs: int
    n_ok: int
    n_diverged: int
    n_failed: int
    mean: float  # mean objective over the OK seeds (NaN if none)
    std: float  # spread over the OK seeds (0 for one seed)
    values: tuple[float, ...]  # each OK seed's objective
    score: float  # what ranks LRs: +inf unless every finished seed is OK


def aggregate(rows: Iterable[Mapping[str, Any]], objective: str) -> list[LRPoint]:
    """Group rows by LR (sorted) and summarise each over its seeds."""
    by_lr: dict[float, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_lr.setdefault(float(row["lr"]), []).append(row)
    points = []
    for lr in sorted(by_lr):
        runs = by_lr[lr]
        ok = [float(r["objective"]) for r in runs if r["status"] == RunStatus.OK.value]
        ok = [v for v in ok if math.isfinite(v)]
        n_div = sum(r["status"] == RunStatus.DIVERGED.value for r in runs)
        n_fail = sum(r["status"] == RunStatus.FAILED.value for r in runs)
        mean = float(np.mean(ok)) if ok else math.nan
        std = float(np.std(ok, ddof=1)) if len(ok) > 1 else 0.0
        ranked = score(mean, objective) if ok and n_div == 0 else math.inf
        points.append(LRPoint(lr, len(runs), len(ok), n_div, n_fail, mean, std, tuple(ok), ranked))
    return points


class Best(NamedTuple):
    """The best LR of a curve and its bracket between grid neighbours."""

    index: int
    lr: float
    mean: float
    std: float
    low: float  # the grid neighbour below (the best LR itself at the low edge)
    high: float  # the grid neighbour above (the best LR itself at the high edge)
    edge: str | None  # "low" or "high" when the best LR sits on the grid's edge


def best_lr(points: Sequence[LRPoint]) -> Best | None:
    """The LR with the lowest score, bracketed by its neighbours; None if no LR is usable."""
    scores = [p.score for p in points]
    if not points or not any(math.isfinite(s) for s in scores):
        return None
    i = int(np.argmin(scores))
    lrs = [p.lr for p in points]
    edge = "low" if i == 0 else "high" if i == len(points) - 1 else None
    low = lrs[i - 1] if i > 0 else lrs[i]
    high = lrs[i + 1] if i < len(points) - 1 else lrs[i]
    return Best(i, lrs[i], points[i].mean, points[i].std, low, high, edge)


def largest_stable_lr(points: Sequence[LRPoint]) -> float | None:
    """The largest LR below which no seed of any LR diverged."""
    stable = None
    for p in points:
        if p.n_diverged:
            break
        if p.n_ok:
            stable = p.lr
    return stable


def status_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many runs ended in each status."""
    counts = {s.value: 0 for s in RunStatus}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def summarize(rows: Sequence[Mapping[str, Any]], objective: str) -> dict[str, Any]:
    """The answer as data: the per-LR table, the best LR with its bracket, the counts."""
    points = aggregate(rows, objective)
    best = best_lr(points)
    return {
        "objective": objective,
        "direction": "max" if objective in MAXIMISED else "min",
        "best": None
        if best is None
        else {
            "lr": best.lr,
            "objective_mean": best.mean,
            "objective_std": best.std,
            "bracket": [best.low, best.high],
            "edge": best.edge,
        },
        "largest_stable_lr": largest_stable_lr(points),
        "status_counts": status_counts(rows),
        "n_runs": len(rows),
        "table": [
            {
                "lr": p.lr,
                "n_runs": p.n_runs,
                "n_ok": p.n_ok,
                "n_diverged": p.n_diverged,
                "n_failed": p.n_failed,
                "mean": p.mean,
                "std": p.std,
            }
            for p in points
        ],
    }


class UCurve(NamedTuple):
    """What a U-curve plot draws."""

    lrs: np.ndarray  # every LR with at least one OK seed
    mean: np.ndarray
    low: np.ndarray  # mean - std
    high: np.ndarray  # mean + std
    seed_lrs: np.ndarray  # one point per OK run
    seed_values: np.ndarray
    diverged_lrs: np.ndarray  # one point per diverged run
    best_lr: float | None
    best_value: float | None
    objective: str


def u_curve(rows: Sequence[Mapping[str, Any]], objective: str) -> UCurve:
    """The U-curve's data from the runs' rows."""
    points = aggregate(rows, objective)
    ok = [p for p in points if p.n_ok]
    best = best_lr(points)
    seed_pts = [(p.lr, v) for p in points for v in p.values]
    diverged = [float(r["lr"]) for r in rows if r["status"] == RunStatus.DIVERGED.value]
    return UCurve(
        lrs=np.array([p.lr for p in ok]),
        mean=np.array([p.mean for p in ok]),
        low=np.array([p.mean - p.std for p in ok]),
        high=np.array([p.mean + p.std for p in ok]),
        seed_lrs=np.array([a for a, _ in seed_pts]),
        seed_values=np.array([b for _, b in seed_pts]),
        diverged_lrs=np.array(sorted(diverged)),
        best_lr=None if best is None else best.lr,
        best_value=None if best is None else best.mean,
        objective=objective,
    )
