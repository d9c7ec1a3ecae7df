"""Log grids of learning rates, the expansion of a spec into runs, and grouping.

A *run* is one (settings, lr, seed) triple. Runs that share everything but the LR form a
*group* and train in lockstep (DESIGN.md §2). The group size depends only on the spec, so the
numbers never depend on the executor or the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrsweep.spec import Spec, stable_hash

LOCKSTEP_MAX_FLOP = 10e6  # a step cheaper than this is overhead-bound: train LRs in lockstep
LOCKSTEP_MAX_GROUP = 8  # members per group; two groups of 8 beat one of 16 on 2 cores


def log_grid(lr_min: float, lr_max: float, points_per_decade: int) -> np.ndarray:
    """Sorted log-spaced LRs from ``lr_min`` to ``lr_max``, both ends included.

    The step is ``10 ** (1 / points_per_decade)`` where the range is a whole number of steps;
    otherwise the points are spread evenly in log space at no less than that density.

    Examples
    --------
    >>> log_grid(1e-3, 1.0, 1).tolist()
    [0.001, 0.01, 0.1, 1.0]
    """
    if not (0 < lr_min < lr_max) or not math.isfinite(lr_max):
        raise ValueError(f"need 0 < lr_min < lr_max, got {lr_min}, {lr_max}")
    if points_per_decade < 1:
        raise ValueError(f"points_per_decade must be >= 1, got {points_per_decade}")
    decades = math.log10(lr_max / lr_min)
    n = max(2, math.ceil(decades * points_per_decade - 1e-9) + 1)
    grid = np.logspace(math.log10(lr_min), math.log10(lr_max), n)
    grid[0], grid[-1] = lr_min, lr_max  # exact ends, whatever logspace's rounding
    return np.array([canonical_lr(x) for x in grid])


def canonical_lr(lr: float) -> float:
    """Round an LR to 12 significant digits so that equal LRs from different grids match."""
    return float(f"{lr:.12g}")


@dataclass(frozen=True)
class RunSpec:
    """One planned run: its settings' key, the LR, the seed and the budget it trains with."""

    run_id: str
    round: int
    lr: float
    seed: int
    epochs: int
    subsample: float  # fraction of the training part used (1.0 = all)
    combo: tuple[tuple[str, Any], ...] = ()  # the `vary` axes' values, in spec order

    @property
    def budget(self) -> str:
        """``full`` or ``coarse`` (fewer epochs or a subsample)."""
        return "full" if self.subsample == 1.0 else f"subsample={self.subsample:g}"


@dataclass(frozen=True)
class Group:
    """Runs that share every setting but the LR, trained in lockstep."""

    spec: Spec  # the spec with the group's combination applied
    seed: int
    epochs: int
    subsample: float
    runs: tuple[RunSpec, ...] = field(default_factory=tuple)

    @property
    def lrs(self) -> np.ndarray:
        return np.array([r.lr for r in self.runs])


def training_settings(spec: Spec) -> dict[str, Any]:
    """What decides a run's numbers apart from the LR, seed and budget (not the objective)."""
    resolved = spec.resolved()
    train = {k: v for k, v in resolved["train"].items() if k not in ("seeds", "seed", "objective")}
    return {
        "data": resolved["data"],
        "model": resolved["model"],
        "optimizer": resolved["optimizer"],
        "schedule": resolved["schedule"],
        "train": train,
    }


def run_id_for(spec: Spec, lr: float, seed: int, epochs: int, subsample: float) -> str:
    """A short hash of everything that decides a run's numbers: same run, same id."""
    settings = training_settings(spec)
    settings["train"]["epochs"] = epochs
    return stable_hash(
        {"settings": settings, "lr": canonical_lr(lr), "seed": seed, "subsample": subsample}
    )


def seeds_of(spec: Spec) -> list[int]:
    """The seeds every LR is trained with."""
    return [spec.train.seed + i for i in range(spec.train.seeds)]


def plan_runs(
    spec: Spec,
    lrs: Iterable[float],
    round_: int,
    *,
    epochs: int | None = None,
    subsample: float = 1.0,
) -> list[RunSpec]:
    """Every (lr, seed) run of ``lrs`` under ``spec``, sorted by LR then seed."""
    epochs = spec.train.epochs if epochs is None else epochs
    runs = []
    for lr in sorted({canonical_lr(x) for x in lrs}):
        for seed in seeds_of(spec):
            run_id = run_id_for(spec, lr, seed, epochs, subsample)
            runs.append(RunSpec(run_id, round_, lr, seed, epochs, subsample))
    return runs


def step_flops(spec: Spec, n_features: int, n_outputs: int) -> float:
    """Approximate FLOPs of one training step of one model: 6 x weights x batch."""
    sizes = [n_features, *spec.model.hidden, n_outputs]
    weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return 6.0 * weights * spec.train.batch_size


def group_size_for(spec: Spec, n_lrs: int, n_features: int, n_outputs: int) -> int:
    """Members per group, from the spec alone (never from --jobs or the executor).

    Overhead-bound models (a step under ``LOCKSTEP_MAX_FLOP``) train up to
    ``LOCKSTEP_MAX_GROUP`` LRs in lockstep, in balanced chunks; compute-bound ones train alone.
    """
    if spec.execution.group_size is not None:
        return spec.execution.group_size
    if step_flops(spec, n_features, n_outputs) >= LOCKSTEP_MAX_FLOP or n_lrs <= 1:
        return 1
    chunks = math.ceil(n_lrs / LOCKSTEP_MAX_GROUP)
    return math.ceil(n_lrs / chunks)


def make_groups(
    spec: Spec, runs: Sequence[RunSpec], n_features: int, n_outputs: int
) -> list[Group]:
    """Pack runs that differ only in LR into groups of the spec's group size.

    Runs must share ``spec`` (one combination); they are split by seed and budget, sorted by
    LR, and chunked. The packing is a pure function of the runs, so it is the same on every
    machine and for every executor.
    """
    by_key: dict[tuple[int, int, float], list[RunSpec]] = {}
    for run in runs:
        by_key.setdefault((run.seed, run.epochs, run.subsample), []).append(run)
    groups = []
    for (seed, epochs, subsample), members in sorted(by_key.items()):
        members.sort(key=lambda r: r.lr)
        size = group_size_for(spec, len(members), n_features, n_outputs)
        chunks = math.ceil(len(members) / size)
        bounds = np.linspace(0, len(members), chunks + 1).round().astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            groups.append(Group(spec, seed, epochs, subsample, tuple(members[lo:hi])))
    return groups
