"""Log grids of learning rates on one lattice, the expansion of a spec into runs, run ids.

A *run* is one (settings, lr, seed, budget): its id is a hash of what decides its numbers, so
the same run always has the same id, whatever round, refine or changed spec plans it again.
Everything here is a pure function of the spec and the LRs: what to try next, given results
so far, is the search strategy's (`lrsweep.search`); how runs are packed into groups is the
trainer's (`lrsweep.trainer`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from lrsweep.records import Group, RunSpec
from lrsweep.spec import Spec, apply_combo, stable_hash

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


def training_settings(spec: Spec) -> dict[str, Any]:
    """What decides a run's numbers apart from the LR, seed and budget (not the objective).

    The built-in model: its data, model, optimizer, schedule and training sections. A user's
    command: the command, its folder, environment and history file, the training section, and
    the values its ``vary`` combination fills in (the script's own content is the study's
    input, checked apart: `lrsweep.results.ResultsDir.check_inputs`).
    """
    resolved = spec.resolved()
    train = {k: v for k, v in resolved["train"].items() if k not in ("seeds", "seed", "objective")}
    if spec.trainer is not None:
        keys = ("command", "cwd", "env", "history", "lr_from_env")
        trainer = {k: resolved["trainer"][k] for k in keys}
        return {"trainer": trainer, "train": train, "vary": resolved["vary"]}
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


def with_seeds(spec: Spec, seed: int | None = None, seeds: int = 1) -> Spec:
    """``spec`` training ``seeds`` seeds from ``seed`` (default: its own first seed): the
    runs of a resolve step, a rung, a check sweep. Seeds are not part of a run's id."""
    first = spec.train.seed if seed is None else seed
    return spec.model_copy(
        update={"train": spec.train.model_copy(update={"seed": first, "seeds": seeds})}
    )


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


@dataclass(frozen=True)
class Plan:
    """What a round will train, before it trains it: runs, and the decisions behind them."""

    spec: Spec
    runs: tuple[RunSpec, ...]
    notes: tuple[str, ...] = ()  # the decisions behind the round (one per combination)
    round: int = 0  # 0: the coarse grid; 1..: refine rounds (a resolve step extends the last)
    points_per_decade: int = 0  # the round's density, for its header
    step: str = "coarse grid"  # what the round does: "refining", "extending the grid",
    # "more seeds" (a resolve step)
    groups: tuple[Group, ...] = ()  # filled by the trainer (`Trainer.pack`) before training

    @property
    def group_sizes(self) -> list[int]:
        return [len(g.runs) for g in self.groups]


def plan_lrs(
    spec: Spec,
    lrs_by_combo: Mapping[tuple[tuple[str, Any], ...], Sequence[float]],
    round_: int,
    budget: Budget,
    notes: Sequence[str] = (),
    aliases: Mapping[int, float] | None = None,
    points_per_decade: int = 0,
) -> Plan:
    """Runs for the given LRs of each combination at one budget.

    ``aliases`` (lattice index -> LR) keeps the LR spelling of runs a results dir has already.
    """
    runs: list[RunSpec] = []
    for combo, lrs in lrs_by_combo.items():
        runs.extend(plan_runs(spec, lrs, round_, budget=budget, combo=combo, aliases=aliases))
    return Plan(spec, tuple(runs), tuple(notes), round_, points_per_decade)


def plan_round0(
    spec: Spec,
    bounds: tuple[float, float] | None = None,
    aliases: Mapping[int, float] | None = None,
) -> Plan:
    """The coarse log grid times the seeds, for every combination, at round 0's budget.

    ``bounds`` replaces ``grid.lr_min``/``lr_max`` (``grid.from_range_test``).
    """
    lr_min, lr_max = bounds or (spec.grid.lr_min, spec.grid.lr_max)
    lrs = log_grid(lr_min, lr_max, spec.grid.points_per_decade)
    return plan_lrs(
        spec,
        dict.fromkeys(spec.combos, lrs.tolist()),
        0,
        budgets(spec)[0],
        aliases=aliases,
        points_per_decade=spec.grid.points_per_decade,
    )


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
