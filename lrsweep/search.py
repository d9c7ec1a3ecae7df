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
from lrsweep.plan import (
    Plan,
    budgets,
    canonical_lr,
    log_grid,
    plan_lrs,
    plan_runs,
    refine_grid,
    with_seeds,
)
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
        every = [r for r in rows if r.get("combo", "all") == label]
        points = aggregate(summary_rows(every), spec.objective)
        step = refine_grid(
            [p.lr for p in points],
            fitted_scores(points, every, spec.objective),
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
        every = [r for r in rows if r.get("combo", "all") == label]
        mine = summary_rows(every)
        fit = fit_rows(every, spec.objective)
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
        one_seed = with_seeds(spec, seed)
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


# --------------------------------------------------------------------------------------------
# The answer at a budget: few full runs when each run costs minutes

FIRST_LOOK_SHARE = 0.3  # at most this share of the budget goes to the first look
KEEP_NOISE_SDS = 2.0  # a rung keeps every LR within this many noise SDs of its best
MAX_BUDGET_STEPS = 12  # seeds or finer LRs at the full budget, at most this many steps
MIN_AROUND = 4  # LRs trained at the full budget around the pick before seeds are added
AROUND_DECADES = 0.25  # "around": this far either side of the pick (and its interval)
Spent = Callable[[Rows, tuple[tuple[str, Any], ...]], float]  # epochs a curve has trained


def rung_epochs(epochs: int, rungs: int, eta: int) -> list[int]:
    """The epochs of each rung, ascending, the last ``epochs``: ``epochs / eta^k`` rounded
    up, duplicates dropped (a short run has fewer rungs)."""
    found = [max(1, math.ceil(epochs / eta**k)) for k in range(rungs - 1, -1, -1)]
    return sorted(set(found))


def epochs_trained(rows: Rows, combo: tuple[tuple[str, Any], ...] = ()) -> float:
    """The epochs a curve's runs have trained (a stopped run counts what it trained)."""
    label = combo_label(combo)
    return float(sum(int(r["epochs_done"] or 0) for r in rows if r.get("combo", "all") == label
                     and r["status"] != "failed"))  # fmt: skip


def budgeted(
    spec: Spec,
    evaluate: Evaluate,
    *,
    bounds: tuple[float, float] | None = None,
    aliases: Aliases = dict,
    spent: Spent = epochs_trained,
    seconds_left: Callable[[], float] = lambda: math.inf,
) -> Rows:
    """The answer within ``spec.budget`` (per curve), whatever trains the runs.

    1. **A first look**: the log grid at the first rung's epochs (``train.epochs / eta^k``),
       one seed, made coarser until it costs at most ``FIRST_LOOK_SHARE`` of the budget.
    2. **Successive halving by rung**: each rung trains, at ``eta`` times the epochs, the LRs
       of the rung before whose loss at its epochs is within ``KEEP_NOISE_SDS`` noise
       standard deviations of that rung's best (the noise from the U-curve fit of the rung),
       at most ``1/eta`` of them; the LR just below the best always goes on (a short run
       flatters the large LRs, which learn fast first and then stall or blow up).
    3. **At the full budget**, while the optimum's interval is wide and the budget lasts:
       finer LRs inside the interval when it holds fewer than three trained LRs, else one
       more seed at the trained LRs nearest the pick.

    Every decision is a note of its plan (journaled, shown in the report). A stage that does
    not fit in the budget left is cut to what fits, nearest the pick first; none fits: done.
    """
    if spec.budget is None:
        raise ValueError("budgeted() needs a spec with budget:")
    budget = spec.budget
    E = spec.train.epochs
    rungs = rung_epochs(E, budget.rungs, budget.eta)
    total = math.inf if budget.runs is None else budget.runs * E
    combos = spec.combos

    def left(rows: Rows, combo: tuple[tuple[str, Any], ...]) -> float:
        return total - spent(rows, combo)

    plan = first_look(spec, bounds, aliases())
    ppd = plan.points_per_decade
    rows = evaluate(plan) or []
    for k, epochs in enumerate(rungs[1:], start=1):
        keep: dict[tuple[tuple[str, Any], ...], list[float]] = {}
        notes = []
        for combo in combos:
            prefix = f"round {k}" + (f", {combo_label(combo)}" if combo else "")
            mine = [r for r in rows if r.get("combo", "all") == combo_label(combo)
                    and int(r["round"]) == k - 1]  # fmt: skip
            chosen, why = survivors(mine, spec.objective, budget.eta)
            affordable = int(left(rows, combo) // epochs)
            if len(chosen) > affordable:
                chosen = chosen[: max(affordable, 0)]
                why += f"; cut to {len(chosen)} by the budget left"
            if chosen:
                keep[combo] = sorted(chosen)
            notes.append(f"{prefix}: {epochs} epochs for {len(chosen)} of {len(mine)} LRs: {why}")
        plan = _rung_plan(spec, keep, epochs, k, tuple(notes), aliases(), ppd, "halving")
        got = evaluate(plan)
        if got is None:
            return rows
        rows = got
    last = len(rungs) - 1
    for _ in range(MAX_BUDGET_STEPS):
        if seconds_left() <= 0:
            break
        plan = _full_budget_step(spec, rows, last, left, aliases())
        got = evaluate(plan)
        if got is None:
            break
        rows = got
    return rows


def first_look(
    spec: Spec,
    bounds: tuple[float, float] | None = None,
    aliases: Mapping[int, float] | None = None,
) -> Plan:
    """A budget's round 0: the log grid at the first rung's epochs, one seed, made coarser
    until it costs at most ``FIRST_LOOK_SHARE`` of the budget."""
    if spec.budget is None:
        raise ValueError("first_look() needs a spec with budget:")
    E = spec.train.epochs
    rungs = rung_epochs(E, spec.budget.rungs, spec.budget.eta)
    total = math.inf if spec.budget.runs is None else spec.budget.runs * E
    lr_min, lr_max = bounds or (spec.grid.lr_min, spec.grid.lr_max)
    ppd = spec.grid.points_per_decade
    lrs = log_grid(lr_min, lr_max, ppd)
    while ppd > 1 and len(lrs) * rungs[0] > FIRST_LOOK_SHARE * total:
        ppd -= 1
        lrs = log_grid(lr_min, lr_max, ppd)
    share = (
        f" ({len(lrs) * rungs[0] / E:.1f} of {total / E:g} full runs)" if total < math.inf else ""
    )
    note = (f"round 0: a first look: {len(lrs)} LRs from {lrs[0]:.3g} to {lrs[-1]:.3g} at"
            f" {rungs[0]} of {E} epochs, one seed{share}")  # fmt: skip
    by_combo = dict.fromkeys(spec.combos, lrs.tolist())
    return _rung_plan(spec, by_combo, rungs[0], 0, (note,), aliases or {}, ppd, "first look")


def survivors(rows: Rows, objective: str, eta: int) -> tuple[list[float], str]:
    """The LRs of a rung that go on, best first, and why in a few words."""
    from lrsweep.records import score

    scores = {float(r["lr"]): (score(float(r["objective"]), objective)
                               if r["status"] in ("ok", "pruned") else math.inf)
              for r in rows}  # fmt: skip
    finite = {lr: s for lr, s in scores.items() if math.isfinite(s)}
    if not finite:
        return [], "every LR diverged or failed"
    ranked = sorted(finite, key=finite.get)  # type: ignore[arg-type]
    best = finite[ranked[0]]
    fit = fit_rows(rows, objective)
    positive = all(v > 0 for v in finite.values())
    noise = max(fit.noise_sd if fit is not None else 0.05, 1e-12)

    def sds(lr: float) -> float:  # how far behind the best, in noise SDs (the fit's scale)
        gap = math.log(finite[lr] / best) if positive else finite[lr] - best
        return gap / noise

    within = [lr for lr in ranked if sds(lr) <= KEEP_NOISE_SDS]
    cap = max(3, math.ceil(len(scores) / eta))
    chosen = (within if len(within) >= 3 else ranked[:3])[:cap]
    grid = sorted(scores)
    lower = [lr for lr in grid if lr < ranked[0]]
    if lower and lower[-1] in finite and lower[-1] not in chosen:
        chosen.append(lower[-1])  # the safe side of the best goes on
    dropped = [f"{lr:.3g} ({sds(lr):.1f} SD behind)" for lr in ranked if lr not in chosen]
    diverged = sorted(lr for lr in scores if lr not in finite)
    why = (f"the rung's best {ranked[0]:.3g} and LRs within {KEEP_NOISE_SDS:g} noise SDs of it"
           f" (at most 1/{eta}; noise SD {noise:.2g}"
           + (", relative" if positive else "") + ")")  # fmt: skip
    if dropped:
        more = f" and {len(dropped) - 6} more" if len(dropped) > 6 else ""
        why += f"; stopped here: {', '.join(dropped[:6])}{more}"
    if diverged:
        why += f"; diverged: {', '.join(f'{lr:.3g}' for lr in diverged)}"
    return chosen, why


def aligned_grid(
    window: tuple[float, float], density: int, trained: Sequence[float]
) -> list[float]:
    """The LRs ``10 ** (k / density)`` inside ``window`` (whole steps of one grid, whatever the
    window's ends) farther than half a step from every trained LR: no near-twin of a trained
    LR (0.000546 beside 0.000562) spends a run saying the same."""
    k_lo = math.ceil(math.log10(window[0]) * density - 1e-9)
    k_hi = math.floor(math.log10(window[1]) * density + 1e-9)
    half = 0.5 / density
    out = []
    for k in range(k_lo, k_hi + 1):
        lr = canonical_lr(10 ** (k / density))
        if all(abs(math.log10(lr / t)) >= half - 1e-9 for t in trained):
            out.append(lr)
    return out


def _rung_plan(
    spec: Spec,
    lrs_by_combo: Mapping[tuple[tuple[str, Any], ...], Sequence[float]],
    epochs: int,
    round_: int,
    notes: tuple[str, ...],
    aliases: Mapping[int, float],
    ppd: int,
    step: str,
) -> Plan:
    """One seed at each LR, ``epochs`` epochs (``full`` when they are ``train.epochs``)."""
    from lrsweep.plan import Budget

    label = "full" if epochs == spec.train.epochs else "coarse"
    one_seed = with_seeds(spec)
    plan = plan_lrs(one_seed, lrs_by_combo, round_, Budget(epochs, 1.0, label), notes, aliases,
                    ppd)  # fmt: skip
    return replace(plan, spec=spec, step=step)


def _full_budget_step(
    spec: Spec,
    rows: Rows,
    round_: int,
    left: Callable[[Rows, tuple[tuple[str, Any], ...]], float],
    aliases: Mapping[int, float],
) -> Plan:
    """At the full budget: more LRs around the pick while fewer than ``MIN_AROUND`` were
    trained there, else one more seed at the trained LRs nearest it; nothing once the
    optimum's interval is narrow (resolved) or the budget is spent."""
    E = spec.train.epochs
    runs: list[RunSpec] = []
    notes = []
    step = "more seeds"
    for combo in spec.combos:
        label = combo_label(combo)
        prefix = f"round {round_}" + (f", {label}" if combo else "")
        every = [r for r in rows if r.get("combo", "all") == label]
        mine = [r for r in every if r["budget"] == "full"]
        points = [p for p in aggregate(mine, spec.objective) if math.isfinite(p.score)]
        if not points:
            notes.append(f"{prefix}: no LR finished at the full budget")
            continue
        fit = fit_rows(every, spec.objective)
        if fit is not None:
            chosen = pick(fit, spec.analysis.band_tolerance)
            center, (lo, hi) = chosen.lr, chosen.interval
        else:
            center = min(points, key=lambda p: p.score).lr
            lo, hi = center / 10**AROUND_DECADES, center * 10**AROUND_DECADES
        width = math.log10(hi / lo)
        budget_left = f"{max(left(rows, combo), 0) / E:.1f} full runs left"
        trained = sorted({p.lr for p in points})
        window = (min(lo, center / 10**AROUND_DECADES), max(hi, center * 10**AROUND_DECADES))
        around = [lr for lr in trained if window[0] <= lr <= window[1]]
        nearest = sorted(points, key=lambda p: abs(math.log10(p.lr / center)))[:RESOLVE_TOP]
        seeded = min(p.n_runs for p in nearest) >= min(spec.train.seeds, 2)  # noise is known
        if fit is not None and len(around) >= MIN_AROUND and seeded:
            inside = [fitted_at(fit, x) for x in np.geomspace(lo, hi, 9)]
            spread = (max(inside) - min(inside)) / max(abs(min(inside)), 1e-12)
            if width <= RESOLVE_DECADES or spread <= RESOLVE_FLAT:
                notes.append(f"{prefix}: resolved: the optimum lies in {lo:.3g}-{hi:.3g}"
                             f" ({width:.2f} decades); {budget_left}")  # fmt: skip
                continue
        affordable = int(left(rows, combo) // E)
        if affordable < 1:
            notes.append(f"{prefix}: budget spent; the optimum lies in {lo:.3g}-{hi:.3g}"
                         f" ({width:.2f} decades)")  # fmt: skip
            continue
        seed0 = min(int(r["seed"]) for r in mine)
        if len(around) < MIN_AROUND:
            density = max(4, 2 * spec.grid.points_per_decade)
            grid = aligned_grid(window, density, trained)
            # nearest the pick first; at equal distance the smaller LR (the safe side)
            grid.sort(key=lambda lr: (round(abs(math.log10(lr / center)), 6), lr))
            new = sorted(grid[: min(affordable, MIN_AROUND - len(around) + 1)])
            if new:
                full = budgets(spec)[1]
                one = with_seeds(spec, seed0)
                runs.extend(plan_runs(one, new, round_, budget=full, combo=combo, aliases=aliases))
                step = "refining"
                where = (f"at {new[0]:.3g}" if len(new) == 1
                         else f"between {new[0]:.3g} and {new[-1]:.3g}")  # fmt: skip
                notes.append(f"{prefix}: {len(around)} LRs trained around {center:.3g}:"
                             f" {len(new)} more {where}; {budget_left}")  # fmt: skip
                continue
        near = sorted(points, key=lambda p: abs(math.log10(p.lr / center)))
        near = near[: min(RESOLVE_TOP, affordable)]
        seed = max(int(r["seed"]) for r in mine) + 1
        lrs = sorted(p.lr for p in near)
        one = with_seeds(spec, seed)
        runs.extend(
            plan_runs(one, lrs, round_, budget=budgets(spec)[1], combo=combo, aliases=aliases)
        )
        notes.append(f"{prefix}: unsure (the optimum lies in {lo:.3g}-{hi:.3g}, {width:.2f}"
                     f" decades): seed {seed} at {len(lrs)} LRs around {center:.3g};"
                     f" {budget_left}")  # fmt: skip
    return Plan(spec, tuple(runs), tuple(notes), round_, spec.grid.points_per_decade, step)
