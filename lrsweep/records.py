"""What a run is: planned (`RunSpec`, packed into a `Group`), and once it has run (its status,
its history, and its ``runs.csv`` row).

Every trainer takes a `Group` and returns `RunResult`s; every reader (results files, analysis,
plots, report) imports these from here; nobody imports the planner or a trainer for them. A
column of ``runs.csv`` is declared once, in ``RUN_COLUMNS``, and computed once, in `run_row`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lrsweep.spec import Spec

HISTORY_COLUMNS = ("epoch", "step", "lr", "train_loss", "val_loss", "val_metric", "lr_effective")


@dataclass(frozen=True)
class RunSpec:
    """One planned run: its id (a hash of everything that decides its numbers), the LR, the
    seed and the budget it trains with."""

    run_id: str
    round: int
    lr: float
    seed: int
    epochs: int
    subsample: float  # fraction of the training part used (1.0 = all)
    combo: tuple[tuple[str, Any], ...] = ()  # the `vary` axes' values, in spec order
    budget: str = "full"


@dataclass(frozen=True)
class Group:
    """Runs that share every setting but the LR and seed: what a trainer trains at once (the
    built-in model in lockstep; a user's script one run per group)."""

    spec: Spec  # the spec with the group's combination applied
    seed: int  # the first run's seed (each run trains with its own: ``run.seed``)
    epochs: int
    subsample: float
    runs: tuple[RunSpec, ...] = field(default_factory=tuple)

    @property
    def lrs(self) -> np.ndarray:
        return np.array([r.lr for r in self.runs])


class RunStatus(str, enum.Enum):
    """How a run ended. A diverged, pruned or timed-out run is a result; a failed one is
    resumable (its exception, or a user's script's crash, may not happen again)."""

    OK = "ok"
    DIVERGED = "diverged"
    FAILED = "failed"
    PRUNED = "pruned"  # stopped at a rung, clearly worse than its seed's best (`prune:`)
    TIMEOUT = "timeout"  # a user's script ran past ``trainer.timeout`` and was stopped


@dataclass(frozen=True)
class EpochLog:
    """One history row: epoch 0 is before training, epoch k after k passes."""

    epoch: int
    step: int
    lr: float
    train_loss: float
    val_loss: float
    val_metric: float
    lr_effective: float = math.nan  # the step size the optimizer took (`Optimizer.effective_lr`)
    # what else a user's script reported at this epoch (its history's extra columns)
    metrics: Mapping[str, float] = field(default_factory=dict, hash=False)

    def value(self, metric: str) -> float:
        """The value of ``metric`` at this epoch: a column, or a reported metric (NaN if not
        reported)."""
        if metric in _LOG_FIELDS:
            return float(getattr(self, metric))
        return float(self.metrics.get(metric, math.nan))


_LOG_FIELDS = frozenset(("lr", "train_loss", "val_loss", "val_metric", "lr_effective"))


@dataclass
class RunResult:
    """What a worker returns for one run: the status, the history and the cost."""

    run_id: str
    status: RunStatus
    history: list[EpochLog] = field(default_factory=list)
    seconds: float = 0.0
    epochs_done: int = 0  # complete passes over the training data
    message: str = ""


RUN_COLUMNS = (
    "run_id",
    "round",
    "budget",
    "combo",
    "lr",
    "seed",
    "status",
    "label",
    "epochs_done",
    "final_train_loss",
    "final_val_loss",
    "best_val_loss",
    "best_epoch",
    "final_val_metric",
    "objective",
    "initial_objective",
    "seconds",
    "message",
)
FLOAT_COLUMNS = frozenset(
    {
        "lr",
        "final_train_loss",
        "final_val_loss",
        "best_val_loss",
        "final_val_metric",
        "objective",
        "initial_objective",
        "seconds",
    }
)
INT_COLUMNS = frozenset({"round", "seed", "epochs_done", "best_epoch"})


def run_columns(axes: Sequence[str]) -> list[str]:
    """``runs.csv``'s columns: the fixed ones with the ``vary`` axes after ``combo``."""
    columns = list(RUN_COLUMNS)
    at = columns.index("combo") + 1
    return columns[:at] + list(axes) + columns[at:]


FINAL_WINDOW = 3  # "final" objectives average the last epochs, which damps epoch-to-epoch noise
MAXIMISED = frozenset({"final_val_metric"})  # the built-in objectives to maximise
HOW = ("final", "best", "mean")


def objective_parts(objective: str) -> tuple[str, str, bool]:
    """``(how, metric, maximised)`` of an objective's name: ``final_val_loss`` is the mean of
    the last epochs' ``val_loss``, minimised; ``best_accuracy:max`` the best epoch's
    ``accuracy``, maximised (a user's script's objective, `lrsweep.spec.TrainerSpec`)."""
    name, _, direction = objective.partition(":")
    how, _, metric = name.partition("_")
    if how not in HOW or not metric:
        raise ValueError(f"unknown objective {objective!r}")
    return how, metric, direction == "max" or objective in MAXIMISED


def is_maximised(objective: str) -> bool:
    """Whether larger is better for ``objective``."""
    return objective_parts(objective)[2]


def run_objective(history: Sequence[EpochLog], objective: str, status: str) -> float:
    """A run's objective in its natural units; NaN for a run that did not finish.

    A pruned run gets the objective of its history so far: it was stopped while worse than
    the best, so this is what the sensitivity score counts it as (aggregate censors it).
    ``final_*`` average the last ``FINAL_WINDOW`` epochs that report the metric; ``best_*`` is
    the best epoch after epoch 0 (the lowest, or the highest for a maximised metric);
    ``mean_*`` is the mean over epochs 1.. (the area under the curve, which rewards fast
    convergence).
    """
    how, metric, maximised = objective_parts(objective)
    if status not in (RunStatus.OK.value, RunStatus.PRUNED.value):
        return math.nan
    values = [v for h in history if h.epoch > 0 and (v := h.value(metric)) == v]
    if not values:
        return math.nan
    if how == "final":
        return float(np.mean(values[-FINAL_WINDOW:]))
    if how == "best":
        return float(max(values) if maximised else min(values))
    return float(np.mean(values))


def score(value: float, objective: str) -> float:
    """The objective as a number to minimise; a missing value ranks last (+inf)."""
    if not math.isfinite(value):
        return math.inf
    return -value if is_maximised(objective) else value


def initial_objective(history: Sequence[EpochLog], objective: str) -> float:
    """The objective's value before training (epoch 0): the sensitivity score's cap."""
    if not history or history[0].epoch != 0:
        return math.nan
    return history[0].value(objective_parts(objective)[1])


def label_run(
    history: Sequence[EpochLog],
    status: str,
    *,
    window: int = 5,
    oscillation: float = 0.1,
    plateau: float = 0.05,
) -> str:
    """``diverged``, ``failed``, ``plateau``, ``oscillating`` or ``ok``.

    - ``plateau``: the final training loss is within ``plateau`` (relative) of the initial one.
    - ``oscillating``: over the last ``window`` epochs the training loss both rose and fell by
      more than ``oscillation`` x its mean over that window.
    """
    if status != RunStatus.OK.value:
        return status
    losses = np.array([h.train_loss for h in history])
    if len(losses) < 2 or not np.isfinite(losses).all():
        return status
    if losses[-1] >= (1 - plateau) * losses[0]:
        return "plateau"
    recent = losses[-window:]
    moves = np.diff(recent) / max(float(np.mean(recent)), 1e-12)
    if len(moves) and moves.max() > oscillation and moves.min() < -oscillation:
        return "oscillating"
    return "ok"


def run_row(
    run: Mapping[str, Any],
    result: RunResult,
    objective: str,
    labels: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``runs.csv`` row of a finished run (``run`` holds its round, budget, lr, seed)."""
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
        "combo": run.get("combo", "all"),
        **run.get("axes", {}),
        "lr": float(run["lr"]),
        "seed": run["seed"],
        "status": status,
        "label": label_run(result.history, status, **(labels or {})),
        "epochs_done": result.epochs_done,
        "final_train_loss": last.train_loss if last else math.nan,
        "final_val_loss": last.val_loss if last else math.nan,
        "best_val_loss": best_val,
        "best_epoch": best_epoch,
        "final_val_metric": last.val_metric if last else math.nan,
        "objective": run_objective(result.history, objective, status),
        "initial_objective": initial_objective(result.history, objective),
        "seconds": round(result.seconds, 6),
        "message": result.message,
    }
