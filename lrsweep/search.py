"""The search strategy: what to train next, from the results so far.

A strategy never trains: it is handed one ``evaluate(plan)`` that trains a plan's unfinished
runs and returns every row of the study so far (scikit-learn's ``_run_search(evaluate_
candidates)`` shape). `coarse_to_fine` is lrsweep's: round 0's log grid, refine rounds that
zoom into each curve's best bracket, then resolve steps that add seeds where the answer is
unsure, within the curve's run budget. The evaluator never decides what to try next.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from lrsweep.analysis import LRPoint, aggregate, fit_rows, summary_rows
from lrsweep.curve import fitted_at, pick
from lrsweep.plan import Plan, budgets, log_grid, plan_lrs, plan_runs, refine_grid
from lrsweep.records import RunSpec
from lrsweep.spec import Spec, combo_label

Rows = list[dict[str, Any]]
# trains a plan's unfinished runs and returns every row of the study, or None when the plan
# has no run (its notes are still told)
Evaluate = Callable[[Plan], "Rows | None"]
Aliases = Callable[[], Mapping[int, float]]  # lattice index -> the LR a results dir spells it


def coarse_to_fine(
    spec: Spec,
    evaluate: Evaluate,
    round0: Plan,
    *,
    rounds: int,
    points_per_decade: int,
    aliases: Aliases = dict,
) -> Rows:
    """Train ``round0``, then up to ``rounds`` refine rounds, then resolve steps; return the
    study's rows.

    Refine round ``k`` plans from the rows of the rounds before it (as when it was first
    planned, so a resumed or refined study plans the same round again); it stops early once a
    round plans nothing (every curve converged). Resolve steps (``refine.resolve``) extend the
    last round, one more seed at a time, at most ``MAX_RESOLVE_ROUNDS`` times.
    """
    rows = evaluate(round0) or []
    for round_ in range(1, rounds + 1):
        earlier = [r for r in rows if int(r["round"]) < round_]  # as when it was first planned
        got = evaluate(plan_refine(spec, earlier, round_, points_per_decade, aliases()))
        if got is None:
            break
        rows = got
    if spec.refine.resolve and rounds > 0:
        last = max((int(r["round"]) for r in rows), default=0)  # resolving extends it
        for _ in range(MAX_RESOLVE_ROUNDS):  # more seeds where the answer is unsure
            got = evaluate(plan_resolve(spec, rows, last, points_per_decade, aliases()))
            if got is None:
                break
            rows = got
    return rows


def plan_refine(
    spec: Spec,
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
        points = aggregate(mine, spec.objective)
        step = refine_grid(
            [p.lr for p in points],
            fitted_scores(points, mine, spec.objective),
            density,
            extend_points_per_decade=spec.grid.points_per_decade,
            stop_ratio=spec.refine.stop_ratio,
        )
        prefix = f"round {round_}" + (f", {label}" if combo else "")
        notes.append(f"{prefix}: {step.note}")
        if step.lrs:
            lrs_by_combo[combo] = step.lrs
    plan = plan_lrs(spec, lrs_by_combo, round_, budgets(spec)[1], notes, aliases, density)
    extended = any("extended the grid" in note for note in notes)
    return replace(plan, step="extending the grid" if extended else "refining")


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
    rows: Sequence[Mapping[str, Any]],
    round_: int,
    points_per_decade: int,
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
    notes = []
    budget = run_budget(spec)
    for combo in spec.combos:
        label = combo_label(combo)
        prefix = f"round {round_}" + (f", {label}" if combo else "")
        mine = summary_rows([r for r in rows if r.get("combo", "all") == label])
        fit = fit_rows(mine, spec.objective)
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
        points = [p for p in aggregate(mine, spec.objective) if math.isfinite(p.score)]
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
        notes.append(
            f"{prefix}: unsure (the optimum lies in {lo:.3g}-{hi:.3g}, {width:.2f} decades):"
            f" seed {seed} at {len(lrs)} LRs around {chosen.lr:.3g}"
        )
    return Plan(spec, tuple(runs), tuple(notes), round_, points_per_decade, "more seeds")


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
    plans: list[Plan] = []
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
        for combo in spec.combos:
            runs.extend(r for r in plan_runs(spec, step.lrs, round_, budget=full, combo=combo)
                        if r.run_id not in seen)  # fmt: skip
        seen.update(r.run_id for r in runs)
        tried = sorted(set(tried) | set(step.lrs))
        note = (f"round {round_}: {step.note}",)
        plans.append(Plan(spec, tuple(runs), note, round_, density, "refining"))
    return plans
