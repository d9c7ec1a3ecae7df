"""Log grids of learning rates, the expansion of a spec into runs, and grouping.

A *run* is one (settings, lr, seed) triple. Runs that share everything but the LR form a
*group* and train in lockstep (DESIGN.md §2). The group size depends only on the spec, so the
numbers never depend on the executor or the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from lrsweep.spec import Spec, apply_combo, stable_hash

LOCKSTEP_MAX_FLOP = 10e6  # a step cheaper than this is overhead-bound: train LRs in lockstep
LOCKSTEP_MAX_GROUP = 16  # members per group (S: one group of 16 in-process beats 2 x 8 in a pool)
LOCKSTEP_MAX_BYTES = 256e6  # a group's arrays above this are chunked into more groups
EVAL_ROWS = 4096  # rows per evaluation chunk (`lrsweep.model.evaluate`'s default)
# The cost model the executors schedule with (rough, per core; measured on 2-core Xeons):
STEP_OVERHEAD_SECONDS = 100e-6  # Python and NumPy call overhead of one lockstep step
FLOP_RATE = 80e9  # float32 FLOP/s one core sustains on a step (small matmuls, elementwise)


LATTICE_PER_DECADE = 960  # LRs live on 10 ** (k / 960): 1,2,3,4,5,6,8,...,32,64-per-decade fit


def lattice_index(lr: float) -> int:
    """The lattice point nearest ``lr``: ``k`` with ``10 ** (k / LATTICE_PER_DECADE)`` ~ lr."""
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"an LR must be positive and finite, got {lr}")
    return round(math.log10(lr) * LATTICE_PER_DECADE)


def lattice_lr(k: int) -> float:
    """The LR of lattice point ``k``, written to 12 significant digits (its one spelling)."""
    return float(f"{10 ** (k / LATTICE_PER_DECADE):.12g}")


def canonical_lr(lr: float) -> float:
    """The lattice LR nearest ``lr``: the same point from any grid, round, refine or combination
    is the same float, so the same run (the lattice step, 1/960 decade, is a 0.24 % change)."""
    return lattice_lr(lattice_index(lr))


def log_grid(lr_min: float, lr_max: float, points_per_decade: int) -> np.ndarray:
    """Sorted log-spaced lattice LRs from ``lr_min`` to ``lr_max``, both ends included.

    The ends are snapped to the LR lattice (`canonical_lr`); the step is
    ``10 ** (1 / points_per_decade)`` where the range is a whole number of steps, otherwise the
    points are spread evenly at no less than that density and each is snapped to the lattice.
    Densities that divide 960 (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 64, ...) land exactly on
    lattice points, so a coarse grid's points are points of every finer grid.

    Examples
    --------
    >>> log_grid(1e-3, 1.0, 1).tolist()
    [0.001, 0.01, 0.1, 1.0]
    """
    if not (0 < lr_min < lr_max) or not math.isfinite(lr_max):
        raise ValueError(f"need 0 < lr_min < lr_max, got {lr_min}, {lr_max}")
    if points_per_decade < 1:
        raise ValueError(f"points_per_decade must be >= 1, got {points_per_decade}")
    k_min, k_max = lattice_index(lr_min), lattice_index(lr_max)
    span = (k_max - k_min) / LATTICE_PER_DECADE
    n = max(2, math.ceil(span * points_per_decade - 1e-9) + 1)
    ks = np.unique(np.round(np.linspace(k_min, k_max, n)).astype(int))
    return np.array([lattice_lr(int(k)) for k in ks])


@dataclass(frozen=True)
class Budget:
    """How much training a run gets: ``full`` or a cheaper ``coarse`` round 0."""

    epochs: int
    subsample: float  # fraction of the training part used (1.0 = all)
    label: str  # "full" or "coarse"


def budgets(spec: Spec) -> tuple[Budget, Budget]:
    """Round 0's budget and the refine rounds' (full) budget; equal without ``coarse:``."""
    full = Budget(spec.train.epochs, 1.0, "full")
    epochs = spec.coarse.epochs or spec.train.epochs
    if epochs == full.epochs and spec.coarse.subsample == 1.0:
        return full, full
    return Budget(epochs, spec.coarse.subsample, "coarse"), full


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
    budget: str = "full"


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
    spelled = float(f"{lr:.12g}")  # a lattice LR, or the alias an older results dir used
    return stable_hash({"settings": settings, "lr": spelled, "seed": seed, "subsample": subsample})


def seeds_of(spec: Spec) -> list[int]:
    """The seeds every LR is trained with."""
    return [spec.train.seed + i for i in range(spec.train.seeds)]


def plan_runs(
    spec: Spec,
    lrs: Iterable[float],
    round_: int,
    *,
    budget: Budget | None = None,
    combo: tuple[tuple[str, Any], ...] = (),
    aliases: Mapping[int, float] | None = None,
) -> list[RunSpec]:
    """Every (lr, seed) run of ``lrs`` under ``spec`` with ``combo`` applied, by LR then seed.

    Each LR is snapped to the lattice; ``aliases`` maps lattice indices to the LR an existing
    results dir already uses for that point (folders written before the lattice spelled some
    LRs differently), so an old point is reused rather than trained again.
    """
    budget = budget or Budget(spec.train.epochs, 1.0, "full")
    combo_spec = apply_combo(spec, combo) if combo else spec
    aliases = aliases or {}
    runs = []
    for lr in sorted({aliases.get(lattice_index(x), canonical_lr(x)) for x in lrs}):
        for seed in seeds_of(spec):
            run_id = run_id_for(combo_spec, lr, seed, budget.epochs, budget.subsample)
            runs.append(
                RunSpec(
                    run_id, round_, lr, seed, budget.epochs, budget.subsample, combo, budget.label
                )
            )
    return runs


def step_flops(spec: Spec, n_features: int, n_outputs: int) -> float:
    """Approximate FLOPs of one training step of one model: 6 x weights x batch."""
    return 6.0 * n_weights(spec, n_features, n_outputs) * spec.train.batch_size


def n_weights(spec: Spec, n_features: int, n_outputs: int) -> int:
    """Trainable parameters (weights and biases) of one model."""
    sizes = [n_features, *spec.model.hidden, n_outputs]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def member_bytes(spec: Spec, n_features: int, n_outputs: int) -> float:
    """Memory one member adds to a group: parameters, gradients and up to three optimizer
    states, plus the activations of a training batch and of an evaluation chunk."""
    itemsize = 8 if spec.model.dtype == "float64" else 4
    widths = sum(spec.model.hidden) + n_outputs
    values = (
        5 * n_weights(spec, n_features, n_outputs)
        + (3 * spec.train.batch_size + EVAL_ROWS) * widths
    )
    return float(values * itemsize)


def group_size_for(spec: Spec, n_lrs: int, n_features: int, n_outputs: int) -> int:
    """Members per group, from the spec and the data's shape alone (never from --jobs or the
    executor, so the numbers are the same however a sweep runs).

    Overhead-bound models (a step under ``LOCKSTEP_MAX_FLOP``) train up to
    ``LOCKSTEP_MAX_GROUP`` LRs in lockstep, fewer if the group's arrays would pass
    ``LOCKSTEP_MAX_BYTES``, in balanced chunks; compute-bound ones train alone (their matmuls
    already run at the BLAS rate, and one run per thread or process uses every core).
    """
    if spec.execution.group_size is not None:
        return spec.execution.group_size
    if step_flops(spec, n_features, n_outputs) >= LOCKSTEP_MAX_FLOP or n_lrs <= 1:
        return 1
    by_memory = int(LOCKSTEP_MAX_BYTES // member_bytes(spec, n_features, n_outputs))
    largest = max(1, min(LOCKSTEP_MAX_GROUP, by_memory))
    chunks = math.ceil(n_lrs / largest)
    return math.ceil(n_lrs / chunks)


def group_seconds(
    group: Group, n_train: int, n_val: int, n_features: int, n_outputs: int
) -> float:
    """Rough single-core wall time of a group, from the cost model above (for scheduling only).

    Steps x (call overhead + members x step FLOPs / rate), plus the forward passes of the
    per-epoch evaluations (a third of a training step's FLOPs per row).
    """
    spec = group.spec
    rows = max(1, round(n_train * min(group.subsample, 1.0)))
    steps = group.epochs * math.ceil(rows / spec.train.batch_size)
    flops_per_row = step_flops(spec, n_features, n_outputs) / spec.train.batch_size
    K = len(group.runs)
    train = steps * (STEP_OVERHEAD_SECONDS + K * flops_per_row * spec.train.batch_size / FLOP_RATE)
    evaluation = K * flops_per_row / 3 * (rows + n_val * (group.epochs + 1)) / FLOP_RATE
    return train + evaluation


def compute_fraction(group: Group, n_features: int, n_outputs: int) -> float:
    """The share of a group's step the cost model spends in products, not in call overhead.

    ``members x step FLOPs / rate`` over that plus ``STEP_OVERHEAD_SECONDS``. BLAS products
    (and NumPy's passes over large arrays) release the GIL, Python's calls do not: groups near
    1 run well in threads of one process, groups far from it do not (`lrsweep.executors`).
    """
    flops = len(group.runs) * step_flops(group.spec, n_features, n_outputs) / FLOP_RATE
    return flops / (flops + STEP_OVERHEAD_SECONDS)


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
    for (seed, epochs, subsample), members in sorted(by_key.items(), key=lambda kv: kv[0]):
        members.sort(key=lambda r: r.lr)
        size = group_size_for(spec, len(members), n_features, n_outputs)
        chunks = math.ceil(len(members) / size)
        bounds = np.linspace(0, len(members), chunks + 1).round().astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            groups.append(Group(spec, seed, epochs, subsample, tuple(members[lo:hi])))
    return groups


class RefineStep(NamedTuple):
    """What one refine round does for one curve: new LRs, and why."""

    lrs: tuple[float, ...]  # LRs to train (some may exist already: they are not re-trained)
    action: str  # "refine", "extend_low", "extend_high", "converged", "no_usable_lr"
    note: str


def refine_grid(
    lrs: Sequence[float],
    scores: Sequence[float],
    points_per_decade: int,
    *,
    extend_points_per_decade: int = 2,
    stop_ratio: float = 2.0,
) -> RefineStep:
    """Plan the next LRs around the best of ``lrs`` (``scores`` to minimise, inf = unusable).

    - Bracket the best LR between its grid neighbours and return a log grid of
      ``points_per_decade`` from one neighbour to the other: the ends are included (so a
      coarse round's bracket is re-run at the full budget) and every new point lies strictly
      inside the bracket.
    - If the best LR is on the grid's edge, extend past that edge by one decade instead (the
      best LR is included, so that after a coarse round it is re-run at the full budget; a
      run that exists already is never trained again).
    - If both neighbours are within ``stop_ratio`` of the best, finer LRs would not change
      results that matter: return no LRs ("converged").
    """
    order = np.argsort(lrs)
    grid = np.asarray(lrs, dtype=float)[order]
    ranked = np.asarray(scores, dtype=float)[order]
    if not np.isfinite(ranked).any():
        return RefineStep((), "no_usable_lr", "no LR finished without diverging")
    i = int(np.argmin(ranked))
    best = grid[i]
    if (i == 0 and len(grid) > 1) or len(grid) == 1:
        new = log_grid(best / 10, best, extend_points_per_decade)  # best too: see above
        return RefineStep(
            tuple(float(x) for x in new),
            "extend_low",
            f"best LR {best:.3g} is on the grid's low edge: extended the grid down to"
            f" {best / 10:.3g}",
        )
    if i == len(grid) - 1:
        new = log_grid(best, best * 10, extend_points_per_decade)
        return RefineStep(
            tuple(float(x) for x in new),
            "extend_high",
            f"best LR {best:.3g} is on the grid's high edge: extended the grid up to"
            f" {best * 10:.3g}",
        )
    low, high = grid[i - 1], grid[i + 1]
    if high / best <= stop_ratio * (1 + 1e-9) and best / low <= stop_ratio * (1 + 1e-9):
        return RefineStep(
            (),
            "converged",
            f"best LR {best:.3g}: neighbours {low:.3g} and {high:.3g} are within a factor of"
            f" {stop_ratio:g}; finer LRs would not change the answer",
        )
    new = log_grid(low, high, points_per_decade)
    return RefineStep(
        tuple(float(x) for x in new),
        "refine",
        f"best LR {best:.3g}: refined between {low:.3g} and {high:.3g} at"
        f" {points_per_decade} points per decade",
    )
