"""Log grids of learning rates, the expansion of a spec into runs, and grouping.

A *run* is one (settings, lr, seed) triple. Runs that share everything but the LR and seed
form a *group* and train in lockstep (DESIGN.md §2). The group size depends only on the spec,
so the numbers never depend on the executor or the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from lrsweep.analysis import LRPoint, aggregate, fit_rows, summary_rows
from lrsweep.costs import group_size_for
from lrsweep.curve import fitted_at, pick
from lrsweep.data import Dataset
from lrsweep.spec import Spec, apply_combo, combo_label, stable_hash

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
    """Runs that share every setting but the LR and seed, trained in lockstep."""

    spec: Spec  # the spec with the group's combination applied
    seed: int  # the first run's seed (each run trains with its own: ``run.seed``)
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


def make_groups(
    spec: Spec, runs: Sequence[RunSpec], n_features: int, n_outputs: int
) -> list[Group]:
    """Pack runs that differ only in LR and seed into groups of the spec's group size.

    Runs must share ``spec`` (one combination); they are split by budget, sorted by seed then
    LR, and cut into balanced chunks, so a group may hold several seeds (each member trains
    with its own seed's weights and batches, bit-identical to the run alone). The packing is a
    pure function of the runs, so it is the same on every machine and for every executor.
    """
    by_budget: dict[tuple[int, float], list[RunSpec]] = {}
    for run in runs:
        by_budget.setdefault((run.epochs, run.subsample), []).append(run)
    groups = []
    for (epochs, subsample), members in sorted(by_budget.items(), key=lambda kv: kv[0]):
        members.sort(key=lambda r: (r.seed, r.lr))
        size = group_size_for(spec, len(members), n_features, n_outputs)
        chunks = math.ceil(len(members) / size)
        bounds = np.linspace(0, len(members), chunks + 1).round().astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            chunk = tuple(members[lo:hi])
            groups.append(Group(spec, chunk[0].seed, epochs, subsample, chunk))
    return groups


@dataclass(frozen=True)
class Plan:
    """What a round will train, before it trains it."""

    spec: Spec
    runs: tuple[RunSpec, ...]
    groups: tuple[Group, ...]
    n_features: int
    n_outputs: int
    notes: tuple[str, ...] = ()
    n_train: int = 0  # training and validation rows (for the executors' cost model)
    n_val: int = 0

    @property
    def group_sizes(self) -> list[int]:
        return [len(g.runs) for g in self.groups]


def plan_lrs(
    spec: Spec,
    data: Dataset,
    lrs_by_combo: Mapping[tuple[tuple[str, Any], ...], Sequence[float]],
    round_: int,
    budget: Budget,
    notes: Sequence[str] = (),
    aliases: Mapping[int, float] | None = None,
) -> Plan:
    """Runs for the given LRs of each combination at one budget, packed into groups.

    ``aliases`` (lattice index -> LR) keeps the LR spelling of runs a results dir has already.
    """
    runs: list[RunSpec] = []
    groups: list[Group] = []
    n_features, n_outputs = data.X_train.shape[1], data.n_outputs
    for combo, lrs in lrs_by_combo.items():
        mine = plan_runs(spec, lrs, round_, budget=budget, combo=combo, aliases=aliases)
        runs.extend(mine)
        groups.extend(make_groups(apply_combo(spec, combo), mine, n_features, n_outputs))
    return Plan(
        spec,
        tuple(runs),
        tuple(groups),
        n_features,
        n_outputs,
        tuple(notes),
        len(data.X_train),
        len(data.X_val),
    )


def plan_round0(
    spec: Spec,
    data: Dataset,
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
        data,
        dict.fromkeys(spec.combos, lrs.tolist()),
        0,
        budgets(spec)[0],
        aliases=aliases,
    )


def plan_refine(
    spec: Spec,
    data: Dataset,
    rows: Sequence[Mapping[str, Any]],
    round_: int,
    points_per_decade: int,
    aliases: Mapping[int, float] | None = None,
) -> Plan:
    """Round ``round_`` (>= 1): per combination, bracket the best LR and plan inside it.

    The rows are the finished runs of rounds before ``round_``; the answer is read from the
    full-budget runs when there are any, else from round 0's coarse ones. Each round doubles
    the density of the one before (``points_per_decade`` in round 1).
    """
    density = points_per_decade * 2 ** (round_ - 1)
    lrs_by_combo: dict[tuple[tuple[str, Any], ...], Sequence[float]] = {}
    notes = []
    for combo in spec.combos:
        label = combo_label(combo)
        mine = summary_rows([r for r in rows if r.get("combo", "all") == label])
        points = aggregate(mine, spec.train.objective)
        step = refine_grid(
            [p.lr for p in points],
            fitted_scores(points, mine, spec.train.objective),
            density,
            extend_points_per_decade=spec.grid.points_per_decade,
            stop_ratio=spec.refine.stop_ratio,
        )
        prefix = f"round {round_}" + (f", {label}" if combo else "")
        notes.append(f"{prefix}: {step.note}")
        if step.lrs:
            lrs_by_combo[combo] = step.lrs
    return plan_lrs(spec, data, lrs_by_combo, round_, budgets(spec)[1], notes, aliases)


def fitted_scores(
    points: Sequence[LRPoint], rows: Sequence[Mapping[str, Any]], objective: str
) -> list[float]:
    """What ranks trained LRs for a refine bracket: the U-curve fit at each LR where every
    seed finished OK (+inf elsewhere), so the bracket is the fit's, not one lucky mean's;
    the LRs' own scores when there are too few runs to fit."""
    fit = fit_rows(rows, objective)
    if fit is None:
        return [p.score for p in points]
    return [fitted_at(fit, p.lr) if math.isfinite(p.score) else math.inf for p in points]


RESOLVE_DECADES = 0.2  # resolved: the optimum's interval is narrower than this
RESOLVE_FLAT = 0.01  # ... or the fitted curve varies less than this (relative) across it
RESOLVE_TOP = 5  # extra seeds go to this many trained LRs nearest the pick
MAX_RESOLVE_ROUNDS = 6  # one extra seed per round


def run_budget(spec: Spec) -> int:
    """Runs one curve may use in all: ``refine.max_runs``, or 35 % of a dense grid of 16 per
    decade over the spec's range with the spec's seeds."""
    if spec.refine.max_runs is not None:
        return spec.refine.max_runs
    dense = len(log_grid(spec.grid.lr_min, spec.grid.lr_max, 16)) * spec.train.seeds
    return math.floor(0.35 * dense)


def plan_resolve(
    spec: Spec,
    data: Dataset,
    rows: Sequence[Mapping[str, Any]],
    round_: int,
    aliases: Mapping[int, float] | None = None,
) -> Plan:
    """A resolve step: where a curve's answer is unsure, one more seed at the trained LRs
    nearest its pick (``RESOLVE_TOP``), within the curve's run budget (`run_budget`). Its runs
    belong to the last round ``round_`` (resolving extends a round; it is not a new one).

    Unsure: the optimum's interval spans more than ``RESOLVE_DECADES`` and the fitted curve
    changes by more than ``RESOLVE_FLAT`` across it. The notes say, per curve, whether it is
    resolved, or the budget is spent.
    """
    runs: list[RunSpec] = []
    groups: list[Group] = []
    notes = []
    n_features, n_outputs = data.X_train.shape[1], data.n_outputs
    budget = run_budget(spec)
    for combo in spec.combos:
        label = combo_label(combo)
        prefix = f"round {round_}" + (f", {label}" if combo else "")
        mine = summary_rows([r for r in rows if r.get("combo", "all") == label])
        fit = fit_rows(mine, spec.train.objective)
        if fit is None:
            continue
        chosen = pick(fit, spec.analysis.band_tolerance)
        lo, hi = chosen.interval
        width = math.log10(hi / lo)
        inside = [fitted_at(fit, x) for x in np.geomspace(lo, hi, 9)]
        spread = (max(inside) - min(inside)) / max(abs(min(inside)), 1e-12)
        if width <= RESOLVE_DECADES or spread <= RESOLVE_FLAT:
            notes.append(
                f"{prefix}: resolved: the optimum lies in {lo:.3g}-{hi:.3g}"
                f" ({width:.2f} decades; the fit varies {spread:.1%} across it)"
            )
            continue
        points = [p for p in aggregate(mine, spec.train.objective) if math.isfinite(p.score)]
        near = sorted(points, key=lambda p: abs(math.log10(p.lr / chosen.lr)))[:RESOLVE_TOP]
        if len(mine) + len(near) > budget:
            notes.append(
                f"{prefix}: unresolved, budget spent: {len(mine)} of {budget} runs; the optimum"
                f" lies in {lo:.3g}-{hi:.3g} ({width:.2f} decades)"
            )
            continue
        seed = max(int(r["seed"]) for r in mine) + 1
        one_seed = spec.model_copy(
            update={"train": spec.train.model_copy(update={"seed": seed, "seeds": 1})}
        )
        lrs = sorted(p.lr for p in near)
        mine_runs = plan_runs(
            one_seed, lrs, round_, budget=budgets(spec)[1], combo=combo, aliases=aliases
        )
        runs.extend(mine_runs)
        groups.extend(make_groups(apply_combo(one_seed, combo), mine_runs, n_features, n_outputs))
        notes.append(
            f"{prefix}: unsure (the optimum lies in {lo:.3g}-{hi:.3g}, {width:.2f} decades):"
            f" seed {seed} at {len(lrs)} LRs around {chosen.lr:.3g}"
        )
    return Plan(
        spec, tuple(runs), tuple(groups), n_features, n_outputs, tuple(notes),
        len(data.X_train), len(data.X_val),
    )  # fmt: skip


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


def likely_refine_plans(
    spec: Spec, round0: Plan, rounds: int, points_per_decade: int
) -> list[Plan]:
    """What the refine rounds will likely train, before round 0 has run (for estimates).

    Each curve is assumed to have its best LR in the middle of round 0's grid (in log10 LR),
    which is what a well-chosen grid gives; then `refine_grid` plans each round as
    `plan_refine` would, and runs that an earlier round has already planned (same run id) are
    left out. A best LR on the grid's edge extends the grid instead: about as many runs.
    """
    lrs0 = sorted({r.lr for r in round0.runs})
    if not lrs0 or rounds < 1:
        return []
    centre = (math.log10(lrs0[0]) + math.log10(lrs0[-1])) / 2
    full = budgets(spec)[1]
    seen = {r.run_id for r in round0.runs}
    tried = list(lrs0)
    plans = []
    for round_ in range(1, rounds + 1):
        density = points_per_decade * 2 ** (round_ - 1)
        scores = [(math.log10(lr) - centre) ** 2 for lr in tried]
        step = refine_grid(
            tried,
            scores,
            density,
            extend_points_per_decade=spec.grid.points_per_decade,
            stop_ratio=spec.refine.stop_ratio,
        )
        if not step.lrs:
            break
        runs: list[RunSpec] = []
        groups: list[Group] = []
        for combo in spec.combos:
            mine = [
                r for r in plan_runs(spec, step.lrs, round_, budget=full, combo=combo)
                if r.run_id not in seen
            ]  # fmt: skip
            runs.extend(mine)
            combo_spec = apply_combo(spec, combo) if combo else spec
            groups.extend(make_groups(combo_spec, mine, round0.n_features, round0.n_outputs))
        seen.update(r.run_id for r in runs)
        tried = sorted(set(tried) | set(step.lrs))
        plans.append(
            Plan(spec, tuple(runs), tuple(groups), round0.n_features, round0.n_outputs,
                 (f"round {round_}: {step.note}",), round0.n_train, round0.n_val)
        )  # fmt: skip
    return plans
