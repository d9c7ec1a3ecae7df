"""Orchestration: what the CLI calls. Plan runs, execute groups, record, summarise, draw.

Every finished run is journaled and its history written as soon as its group returns, so an
interrupted sweep loses only the groups in flight, and running the same spec again resumes.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep.analysis import (
    LRPoint,
    aggregate,
    answer,
    fit_rows,
    initial_objective,
    run_objective,
    run_row,
    summarize,
    summary_rows,
)
from lrsweep.curve import fitted_at, pick
from lrsweep.data import Dataset, load_dataset
from lrsweep.errors import ResultsError, SpecError
from lrsweep.executors import Executor, SerialExecutor, execution_choice
from lrsweep.grid import (
    Budget,
    Group,
    RunSpec,
    budgets,
    canonical_lr,
    lattice_index,
    log_grid,
    make_groups,
    plan_runs,
    refine_grid,
)
from lrsweep.results import FLOAT_COLUMNS, RUN_COLUMNS, ResultsDir
from lrsweep.spec import Spec, apply_combo, combo_label
from lrsweep.training import RunResult, RunStatus, budget_data, train_group

OnRun = Callable[[Mapping[str, Any], int, int], None]  # (row, done so far, total)
# (runs done, the running groups' finished epochs counted as fractions of a run, total)
OnProgress = Callable[[float, int], None]
RUNS_CSV_EVERY = 2.0  # seconds between rewrites of runs.csv during a sweep (and at the end)


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


def load_data(spec: Spec) -> Dataset:
    """The spec's dataset (paths relative to the spec's folder)."""
    return load_dataset(spec.data, Path(spec.base_dir))


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

    ``aliases`` (from `lattice_aliases`) keeps the LR spelling of runs a results dir has already.
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


def lattice_aliases(results: ResultsDir) -> dict[int, float]:
    """The LR each lattice point already has in ``results`` (by lattice index).

    Folders written before the LR lattice spelled grid points at 12 significant digits of
    wherever their grid put them; a new plan reuses those runs instead of training a point a
    0.24 % step away.
    """
    aliases: dict[int, float] = {}
    for r in results.planned().values():
        lr = float(r["lr"])
        k = lattice_index(lr)
        aliases[k] = min(aliases.get(k, lr), lr)
    return aliases


def estimate_seconds(plan: Plan, data: Dataset, jobs: int) -> float:
    """A rough wall-time estimate of round 0: one timed epoch of the first group, scaled.

    Assumes a group's cost grows linearly with its members and epochs, and that ``jobs``
    groups run at once when ``--jobs`` would use threads or worker processes (one when the
    work stays in this process, see `lrsweep.executors.execution_choice`).
    Refine rounds come on top (usually fewer runs than round 0).
    """
    if not plan.groups:
        return 0.0
    first = plan.groups[0]

    def timed(epochs: int) -> float:
        train = first.spec.train.model_copy(update={"epochs": epochs})
        probe = Group(
            first.spec.model_copy(update={"train": train}),
            first.seed,
            epochs,
            first.subsample,
            first.runs,
        )
        start = time.perf_counter()
        train_group(probe, data)
        return time.perf_counter() - start

    one, two = timed(1), timed(2)
    per_member_epoch = max(two - one, one / 2) / len(first.runs)
    work = sum(
        len(g.runs) * g.epochs * (g.subsample if g.subsample < 1 else 1.0) for g in plan.groups
    )
    shape = (plan.n_train, plan.n_val, plan.n_features, plan.n_outputs)
    in_process = execution_choice(plan.groups, shape, jobs)[0] == "here"  # as --jobs would
    return per_member_epoch * work / (1 if in_process else min(jobs, len(plan.groups)))


def preflight(spec: Spec, data: Dataset) -> None:
    """Build every combination's optimizer and schedule once, so that a setting that cannot
    work with this data (a warmup longer than the run, say) is a SpecError before anything is
    written, not a failed run."""
    from lrsweep.optimizers import make_optimizer
    from lrsweep.schedules import make_schedule

    if spec.grid.from_range_test:
        range_test_settings(spec, {})
    for combo in spec.combos:
        combo_spec = apply_combo(spec, combo) if combo else spec
        where = f" (with {combo_label(combo)})" if combo else ""
        for budget in budgets(combo_spec):
            seen = budget_data(data, budget.subsample, combo_spec.data.split_seed)
            steps = math.ceil(len(seen.X_train) / combo_spec.train.batch_size)
            try:
                make_schedule(combo_spec.schedule, steps_per_epoch=steps, epochs=budget.epochs)
                make_optimizer(combo_spec.optimizer, [np.zeros((1, 1, 1), dtype=np.float32)])
            except SpecError as e:
                raise SpecError(f"{spec.source_file}: {e}{where}") from None


def plan_sweep(spec: Spec) -> Plan:
    """The round-0 plan of ``spec`` (reads the data to size the model; writes nothing)."""
    data = load_data(spec)
    preflight(spec, data)
    return plan_round0(spec, data)


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


def execute(
    results: ResultsDir,
    plan: Plan,
    data: Dataset,
    executor: Executor,
    on_run: OnRun | None = None,
    on_progress: OnProgress | None = None,
) -> list[dict[str, Any]]:
    """Train every run of ``plan`` that is not finished in ``results``; return all rows.

    Groups are those of the plan less their finished runs: a finished run is never trained
    again, whatever round, refine or resume plans it (a group interrupted half-way trains its
    other members in a smaller group, which agrees with the full group to float32 tolerance).
    ``on_progress`` hears of every epoch of the running groups as it ends (see
    `lrsweep.executors.Executor.map_groups`), not only of finished runs.
    """
    planned = results.planned()
    results.append_journal(
        {
            "event": "planned",
            "run_id": r.run_id,
            "round": r.round,
            "lr": r.lr,
            "seed": r.seed,
            "epochs": r.epochs,
            "subsample": r.subsample,
            "budget": r.budget,
            "combo": combo_label(r.combo),
            "axes": axes_of(r.combo),
        }
        for r in plan.runs
        if r.run_id not in planned
    )
    finished = results.finished()
    todo = [  # a finished run is never trained again: groups keep only their unfinished runs
        g if not any(r.run_id in finished for r in g.runs)
        else replace(g, runs=tuple(r for r in g.runs if r.run_id not in finished))
        for g in plan.groups
        if any(r.run_id not in finished for r in g.runs)
    ]  # fmt: skip
    total = len(plan.runs)
    done_count = sum(r.run_id in finished for r in plan.runs)
    last_write = time.monotonic()
    running: dict[int, float] = {}  # id(group) -> its finished epochs, in runs

    def epoch_ended(group: Group, epoch: int, n_active: int) -> None:
        unfinished = sum(r.run_id not in finished for r in group.runs)
        running[id(group)] = min(unfinished, n_active * epoch / max(group.epochs, 1))
        if on_progress is not None:
            on_progress(done_count + sum(running.values()), total)

    on_epoch = None if on_progress is None else epoch_ended
    try:
        for group, group_results in executor.map_groups(train_group, todo, data, on_epoch):
            running.pop(id(group), None)
            by_id = {r.run_id: r for r in group.runs}
            for result in group_results:
                if result.run_id in finished:
                    continue  # trained again only because a group-mate was missing
                row = record(results, by_id[result.run_id], result, plan.spec)
                finished[result.run_id] = row
                done_count += 1
                if on_run is not None:
                    on_run(row, done_count, total)
            if time.monotonic() - last_write > RUNS_CSV_EVERY:
                write_runs(results)
                last_write = time.monotonic()
    except BaseException:
        with contextlib.suppress(Exception):  # keep runs.csv in step with what finished
            write_runs(results)
        raise
    return write_runs(results)


def axes_of(combo: tuple[tuple[str, Any], ...]) -> dict[str, str]:
    """A combination's axis values as ``runs.csv`` cells."""
    return {key: combo_label(((key, value),)).split("=", 1)[1] for key, value in combo}


def record(results: ResultsDir, run: RunSpec, result: RunResult, spec: Spec) -> dict[str, Any]:
    """Write a finished run's history, then journal it (the journal line makes it count)."""
    planned = {
        "round": run.round,
        "budget": run.budget,
        "lr": run.lr,
        "seed": run.seed,
        "combo": combo_label(run.combo),
        "axes": axes_of(run.combo),
    }
    a = spec.analysis
    labels = {
        "window": a.label_window,
        "oscillation": a.oscillation_threshold,
        "plateau": a.plateau_threshold,
    }
    row = run_row(planned, result, spec.train.objective, labels)
    if result.status is RunStatus.FAILED:
        results.append_journal([{"event": "failed", **row}])
    else:
        results.write_history(result)
        results.append_journal([{"event": "done", **row}])
    return row


def run_columns(spec: Spec) -> list[str]:
    """``runs.csv``'s columns: the fixed ones with the ``vary`` axes after ``combo``."""
    columns = list(RUN_COLUMNS)
    at = columns.index("combo") + 1
    return columns[:at] + spec.axes + columns[at:]


def all_rows(results: ResultsDir) -> list[dict[str, Any]]:
    """Every run's latest row (done or failed), sorted by round, LR and seed."""
    planned = results.planned()
    state: dict[str, dict[str, Any]] = {}
    for r in results.read_journal():
        if r["event"] in ("done", "failed"):
            state[r["run_id"]] = r
    finished = results.finished()
    rows = []
    for run_id, r in state.items():
        if r["event"] == "done" and run_id not in finished:
            continue  # history file lost: the run will be trained again
        row = {c: r.get(c, "") for c in run_columns(results.spec)}
        row.update(r.get("axes") or {})
        row["round"] = planned.get(run_id, r).get("round", r.get("round", 0))
        for c in FLOAT_COLUMNS:
            row[c] = float("nan") if row[c] is None or row[c] == "" else float(row[c])
        rows.append(row)
    order = {combo_label(c): i for i, c in enumerate(results.spec.combos)}
    rows.sort(
        key=lambda x: (x["round"], order.get(x["combo"], 0), x["lr"], x["seed"], x["run_id"])
    )
    return rows


def write_runs(results: ResultsDir) -> list[dict[str, Any]]:
    """Rebuild ``runs.csv`` from the journal; return its rows."""
    rows = all_rows(results)
    results.write_runs(rows, run_columns(results.spec))
    return rows


def run_sweep(
    spec: Spec,
    out: str | Path,
    *,
    executor: Executor | None = None,
    overwrite: bool = False,
    on_run: OnRun | None = None,
    on_note: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_progress: OnProgress | None = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep of ``spec`` into ``out`` and return the summary.

    Round 0 trains the log grid (at the ``coarse:`` budget if the spec has one); then up to
    ``refine.rounds`` refine rounds zoom into the best bracket of each combination.

    Parameters
    ----------
    spec : Spec
        From :func:`lrsweep.load_spec`.
    out : path
        The results dir; created if missing, resumed if it holds the same spec.
    executor : Executor, optional
        Where groups run; default in this process.
    overwrite : bool
        Replace results of a different spec instead of stopping with an error.
    on_run : callable, optional
        Called with each finished run's row, for progress.
    on_progress : callable, optional
        ``on_progress(runs_done, total)`` at the end of every epoch of the running groups,
        ``runs_done`` counting their finished epochs as fractions of a run (a live bar).
    on_note : callable, optional
        Called with a sentence for each refine decision.
    on_warning : callable, optional
        Called with a sentence for something the user should know (a stale lock taken over).
    """
    executor = executor or SerialExecutor()
    data = load_data(spec)  # a bad data file fails here, before anything is written
    preflight(spec, data)
    results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
    with results.locked(on_warning):
        return _rounds(
            results,
            data,
            executor,
            spec.refine.rounds,
            spec.refine.points_per_decade,
            on_run,
            on_note,
            on_progress,
        )


def refine(
    results_dir: str | Path,
    *,
    rounds: int | None = None,
    points_per_decade: int | None = None,
    executor: Executor | None = None,
    on_run: OnRun | None = None,
    on_note: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_progress: OnProgress | None = None,
) -> dict[str, Any]:
    """Finish any interrupted round of a results dir, then add ``rounds`` refine rounds.

    ``rounds`` defaults to the spec's ``refine.rounds`` (1 if that is 0). Runs already
    finished are never trained again, so a refine of a refine goes on where the last stopped.
    """
    results = ResultsDir.open(Path(results_dir))
    spec = results.spec
    data = load_data(spec)
    with results.locked(on_warning):
        done = completed_rounds(results)
        extra = rounds if rounds is not None else (spec.refine.rounds or 1)
        ppd = points_per_decade or spec.refine.points_per_decade
        return _rounds(
            results,
            data,
            executor or SerialExecutor(),
            done + extra,
            ppd,
            on_run,
            on_note,
            on_progress,
        )


def completed_rounds(results: ResultsDir) -> int:
    """The highest refine round planned so far (0 when only the coarse grid was planned)."""
    return max((int(r["round"]) for r in results.planned().values()), default=0)


def _rounds(
    results: ResultsDir,
    data: Dataset,
    executor: Executor,
    rounds: int,
    points_per_decade: int,
    on_run: OnRun | None,
    on_note: Callable[[str], None] | None,
    on_progress: OnProgress | None = None,
) -> dict[str, Any]:
    spec = results.spec
    started = time.time()
    notes: list[str] = []
    bounds = None
    if spec.grid.from_range_test:
        found = range_test_in(results, data, check=False)
        bounds = found["grid"]["lr_min"], found["grid"]["lr_max"]
        notes.append(
            f"round 0: grid from the range test: {bounds[0]:.3g} (a decade below the valley"
            f" suggestion) to {bounds[1]:.3g} (where the loss diverged)"
        )
        if on_note is not None:
            on_note(notes[-1])
    plan0 = plan_round0(spec, data, bounds, lattice_aliases(results))
    rows = execute(results, plan0, data, executor, on_run, on_progress)
    for round_ in range(1, rounds + 1):
        earlier = [r for r in rows if int(r["round"]) < round_]  # as when it was first planned
        plan = plan_refine(
            spec, data, earlier, round_, points_per_decade, lattice_aliases(results)
        )
        for note in plan.notes:
            notes.append(note)
            if on_note is not None:
                on_note(note)
        if not plan.runs:
            break
        rows = execute(results, plan, data, executor, on_run, on_progress)
    if spec.refine.resolve and rounds > 0:
        last = max((int(r["round"]) for r in rows), default=0)  # resolving extends it
        for _ in range(MAX_RESOLVE_ROUNDS):
            plan = plan_resolve(spec, data, rows, last, lattice_aliases(results))
            for note in plan.notes:
                notes.append(note)
                if on_note is not None:
                    on_note(note)
            if not plan.runs:
                break
            rows = execute(results, plan, data, executor, on_run, on_progress)
    return finish(results, rows, started, notes)


def finish(
    results: ResultsDir,
    rows: Sequence[Mapping[str, Any]],
    started: float,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """Compute and write ``summary.json``."""
    spec = results.spec
    combos = spec.combos
    summary = {
        "name": spec.name,
        "spec_hash": spec.spec_hash(),
        "results_dir": str(results.path),
        **summarize(
            rows,
            spec.train.objective,
            combos=combos,
            labels=[combo_label(c) for c in combos],
            tolerance=spec.analysis.band_tolerance,
        ),
        "rounds": max((int(r["round"]) for r in rows), default=0),
        "notes": list(notes),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "compute_seconds": float(sum(r["seconds"] for r in rows if r["seconds"] == r["seconds"])),
        "wall_seconds": time.time() - started,
        "provenance": {
            "started_at": time.strftime(TIME_FORMAT, time.localtime(started)),
            "finished_at": time.strftime(TIME_FORMAT),
            **environment(),
        },
    }
    results.write_summary(summary)
    return summary


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def environment() -> dict[str, Any]:
    """What computed the numbers: lrsweep, numpy and Python versions, and the machine."""
    import os
    import platform

    from lrsweep import __version__

    return {
        "lrsweep": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


RANGE_TEST_DEFAULTS = {"start_lr": 1e-7, "end_lr": 10.0, "num_iter": 100, "mode": "exp"}


def range_test(
    spec: Spec,
    out: str | Path,
    *,
    start_lr: float | None = None,
    end_lr: float | None = None,
    num_iter: int | None = None,
    mode: str | None = None,
    seeds: int | None = None,
    val_every: int | None = None,
    overwrite: bool = False,
    on_warning: Callable[[str], None] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Smith's LR range test on the spec's model and data, written into the results dir.

    ``check`` follows the ramp with a short lockstep sweep whose U-curve fit is the
    ``recommended`` LR (`check_range_test`); without it, only the ramp's rules.

    One ramped run per seed (``seeds`` defaults to the spec's ``train.seeds``); writes
    ``rangetest.csv`` (seed, step, lr, loss, smoothed_loss, val_loss) and ``rangetest.json``
    (each suggestion per seed, their spread, and the grid ``from_range_test`` would use), and
    returns the latter.
    """
    data = load_data(spec)
    options: dict[str, Any] = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "num_iter": num_iter,
        "mode": mode,
        "seeds": seeds,
        "val_every": val_every,
    }
    range_test_settings(spec, options)  # a bad ramp fails here, before anything is written
    results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
    with results.locked(on_warning):
        return range_test_in(results, data, check=check, **options)


def range_test_settings(spec: Spec, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ramp's settings (defaults filled in), checked: start below end, no hypergradient."""
    from lrsweep.rangetest import HYPERGRADIENT

    settings: dict[str, Any] = {k: options.get(k) or v for k, v in RANGE_TEST_DEFAULTS.items()}
    if not settings["start_lr"] < settings["end_lr"]:
        raise SpecError(
            f"--start-lr must be < --end-lr, got {settings['start_lr']} >= {settings['end_lr']}"
        )
    if spec.optimizer.name in HYPERGRADIENT:
        raise SpecError(
            f"{spec.source_file}: optimizer.name: the range test ramps the LR, which"
            f" {spec.optimizer.name} would override; use it without hypergradients"
        )
    return settings


def range_test_in(
    results: ResultsDir, data: Dataset, *, check: bool = True, **options: Any
) -> dict[str, Any]:
    """Run the range test for an open, locked results dir and write its files.

    ``check``: follow the ramp with `check_range_test`'s short sweep (its ``recommended``).
    """
    from lrsweep.rangetest import run_range_test

    spec = results.spec
    settings = range_test_settings(spec, options)
    n_seeds = options.get("seeds") or spec.train.seeds
    seeds = [spec.train.seed + i for i in range(n_seeds)]
    result = run_range_test(
        spec, data, seeds=seeds, val_every=options.get("val_every"), **settings
    )
    rows = [
        {
            "seed": c.seed,
            "step": int(c.step[i]),
            "lr": float(c.lr[i]),
            "loss": float(c.loss[i]),
            "smoothed_loss": float(c.smoothed[i]),
            "val_loss": float(c.val_loss[i]),
        }
        for c in result.curves
        for i in range(len(c.step))
    ]
    results.write_csv("rangetest.csv", RANGE_TEST_COLUMNS, rows)
    found = range_test_summary(result, settings)
    if check:
        found = check_range_test(spec, data, found, seeds[:CHECK_SEEDS])
    results.write_json("rangetest.json", found)
    return found


CHECK_SEEDS = 2  # seeds of find's short lockstep sweep
CHECK_PER_DECADE = 4  # its density
CHECK_BELOW = 100.0  # it starts this far below the ramp's loss minimum (overfitting is there)


def check_range_test(
    spec: Spec, data: Dataset, found: Mapping[str, Any], seeds: Sequence[int]
) -> dict[str, Any]:
    """Follow the ramp with a short lockstep sweep and make its U-curve fit the recommendation.

    The ramp reads the training loss over a few hundred steps, so it cannot see overfitting,
    nor what a full budget at one LR does; a sweep can. From ``CHECK_BELOW`` below the ramp's
    loss minimum (``max_lr``) up to where the ramp diverged (or 10x ``max_lr``), at
    ``CHECK_PER_DECADE`` per decade, ``seeds`` x the spec's full budget, every LR of a seed in
    one lockstep group; then the U-curve fit (`lrsweep.analysis.answer`) picks. The ramp's own
    rules stay in ``spread`` for comparison (``minimum_10`` is the ramp-only pick).
    """
    out = dict(found)
    max_lr = (found["spread"].get("max_lr") or {}).get("lr")
    if not max_lr or not seeds:
        return out
    lo = max_lr / CHECK_BELOW
    hi = found["diverged_at"] if found.get("diverged_at") else max_lr * 10
    hi = max(hi, lo * 10)
    lrs = log_grid(lo, hi, CHECK_PER_DECADE)
    one_seed = spec.model_copy(
        update={"train": spec.train.model_copy(update={"seed": seeds[0], "seeds": len(seeds)})}
    )
    runs = plan_runs(one_seed, lrs, 0)
    by_id = {r.run_id: r for r in runs}
    n_features, n_outputs = data.X_train.shape[1], data.n_outputs
    rows = []
    for group in make_groups(one_seed, runs, n_features, n_outputs):
        for result in train_group(group, data):
            run = by_id[result.run_id]
            rows.append(
                {
                    "lr": run.lr,
                    "seed": run.seed,
                    "status": result.status.value,
                    "objective": run_objective(
                        result.history, spec.train.objective, result.status.value
                    ),
                    "initial": initial_objective(result.history, spec.train.objective),
                }
            )
    initial = float(np.nanmedian([r["initial"] for r in rows])) if rows else math.nan
    fitted = answer(rows, spec.train.objective, spec.analysis.band_tolerance, initial)
    out["check"] = {
        "lrs": [float(x) for x in lrs],
        "seeds": list(seeds),
        "runs": len(rows),
        "answer": fitted,
    }
    if fitted is not None:
        lo_i, hi_i = fitted["interval"]
        spread = dict(out["spread"])
        spread["recommended"] = {
            "lr": fitted["lr"],
            "note": f"the U-curve fit over a short sweep of {len(lrs)} LRs x {len(seeds)} seeds"
            " from the ramp's range; min/max: where the optimum lies",
            "median": fitted["lr"],
            "min": lo_i,
            "max": hi_i,
            "n": len(seeds),
        }
        out["spread"] = spread
    return out


RANGE_TEST_COLUMNS = ("seed", "step", "lr", "loss", "smoothed_loss", "val_loss")


def range_test_summary(result: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The range test's answer: suggestions per seed, their spread, and a grid for a sweep.

    Each ``spread`` entry holds ``lr`` and ``note``, the rule read off the seeds' combined
    curve (`lrsweep.rangetest.combine`: the headline value), and the median, min and max of
    the seeds' own values with ``n``, how many seeds gave one.
    """
    spread = {}
    for name, s in result.spread.items():
        headline = result.suggestions.get(name)
        spread[name] = {
            "lr": headline.lr if headline is not None else s.median,
            "note": headline.note if headline is not None else "median over seeds",
            "median": s.median,
            "min": s.min,
            "max": s.max,
            "n": s.n,
        }
    stops = [float(c.lr[-1]) for c in result.curves if c.stop != "completed" and len(c.lr)]
    diverged_at = float(np.median(stops)) if stops else float(settings["end_lr"])
    valley = spread.get("valley", {}).get("lr")
    lr_min = (valley / 10) if valley else float(settings["start_lr"])
    lr_max = max(diverged_at, lr_min * 10)
    return {
        **settings,
        "seeds": [c.seed for c in result.curves],
        "stops": {str(c.seed): c.stop for c in result.curves},
        "diverged_at": diverged_at if stops else None,
        "suggestions": {
            str(c.seed): {name: {"lr": s.lr, "note": s.note} for name, s in c.suggestions.items()}
            for c in result.curves
        },
        "spread": spread,
        "grid": {"lr_min": canonical_lr(lr_min), "lr_max": canonical_lr(lr_max)},
    }


def read_summary(results_dir: str | Path) -> dict[str, Any]:
    """The summary of a results dir (``summary.json``), after checking its spec."""
    return ResultsDir.open(Path(results_dir)).read_summary()


def plot_results(results_dir: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw every plot of a results dir from its files alone; return the files written.

    The U-curve and loss-against-epoch plots when it has runs, the range-test plot when it
    has a range test.
    """
    from lrsweep import plots

    results = ResultsDir.open(Path(results_dir))
    has_runs = (results.path / "runs.csv").exists()
    has_range_test = (results.path / "rangetest.csv").exists()
    if not has_runs and not has_range_test:
        raise ResultsError(f"{results.path}: nothing to plot yet (no runs.csv, no rangetest.csv)")
    written = plots.draw_all(results, formats) if has_runs else []
    if has_range_test:
        written += plots.draw_range_test(results, formats)
    return written


def plot_range_test(results_dir: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw ``plots/rangetest.<format>`` from ``rangetest.csv`` and ``rangetest.json``."""
    from lrsweep import plots

    results = ResultsDir.open(Path(results_dir))
    return plots.draw_range_test(results, formats)
