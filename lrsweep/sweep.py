"""Orchestration: what the CLI calls. Plan runs, execute groups, record, summarise, draw.

Every finished run is journaled and its history written as soon as its group returns, so an
interrupted sweep loses only the groups in flight, and running the same spec again resumes.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lrsweep.analysis import answer
from lrsweep.costs import (
    SweepEstimate,
    check_data_memory,
    check_memory,
    data_shape,
    estimate_rounds,
)
from lrsweep.data import Dataset, load_dataset
from lrsweep.errors import ResultsError, SpecError
from lrsweep.executors import Executor, SerialExecutor, execution_choice
from lrsweep.plan import (
    MAX_RESOLVE_ROUNDS,
    Group,
    Plan,
    budgets,
    lattice_index,
    likely_refine_plans,
    log_grid,
    make_groups,
    plan_refine,
    plan_resolve,
    plan_round0,
    plan_runs,
)
from lrsweep.rangetest import range_test_settings, range_test_summary, run_range_test
from lrsweep.records import initial_objective, run_objective
from lrsweep.results import (
    Clock,
    ResultsDir,
    all_rows,
    axes_of,
    build_summary,
    environment,
    hold_lock,
    record,
    write_runs,
)
from lrsweep.spec import Spec, apply_combo, combo_label, describe_changes
from lrsweep.training import budget_data, train_group

OnRun = Callable[[Mapping[str, Any], int, int], None]  # (row, done so far, total)
# (runs done, the running groups' finished epochs counted as fractions of a run, total)
OnProgress = Callable[[float, int], None]


class RoundStart(NamedTuple):
    """What a round is about to train: told to ``on_round`` before its first run."""

    round: int  # 0: the coarse grid; 1..: refine rounds
    runs: int  # runs the round plans, finished ones included
    to_train: int  # runs not finished yet (a resumed round trains only these)
    lr_min: float  # the round's LRs span lr_min..lr_max (over every combination)
    lr_max: float
    points_per_decade: int  # the round's density
    budget: str  # "full" or "coarse"
    notes: tuple[str, ...]  # the refine decisions behind the round (one per combination)


OnRound = Callable[[RoundStart], None]
RUNS_CSV_EVERY = 2.0  # seconds between rewrites of runs.csv during a sweep (and at the end)


def load_data(spec: Spec, on_progress: Callable[[int, int], None] | None = None) -> Dataset:
    """The spec's dataset (paths relative to the spec's folder); ``on_progress(bytes_read,
    size)`` while the file is read. A builtin too large for this machine's memory is refused
    before it is generated."""
    check_data_memory(spec)
    return load_dataset(spec.data, Path(spec.base_dir), on_progress)


# A range test's grid is known only once it has run: from a decade below its valley
# suggestion to where the loss diverged, which spanned 3.5-4.5 decades on the shipped configs.
TYPICAL_RANGE_TEST_DECADES = 4.0


def check_plan_memory(plan: Plan, jobs: int) -> None:
    """Refuse a plan whose groups, ``jobs`` at once (one when they would run in this
    process), would not fit in memory with the data (`lrsweep.costs.check_memory`)."""
    shape = (plan.n_train, plan.n_val, plan.n_features, plan.n_outputs)
    at_once = 1 if jobs <= 1 else jobs
    if at_once > 1 and plan.groups and execution_choice(plan.groups, shape, jobs)[0] == "here":
        at_once = 1
    check_memory(plan.spec, shape, plan.group_sizes, at_once)


def estimate_sweep(plan: Plan, jobs: int) -> SweepEstimate:
    """How long `run_sweep` will likely take for ``plan`` (round 0) with ``--jobs jobs``.

    Round 0, the refine rounds' likely runs (`lrsweep.plan.likely_refine_plans`) and the range
    test, priced by the cost model (`lrsweep.costs.estimate_rounds`). Nothing is trained, so
    this takes milliseconds.
    """
    spec = plan.spec
    num_iter = range_test_settings(spec, {})["num_iter"] if spec.grid.from_range_test else 0
    refine = likely_refine_plans(spec, plan, spec.refine.rounds, spec.refine.points_per_decade)
    shape = (plan.n_train, plan.n_val, plan.n_features, plan.n_outputs)
    return estimate_rounds(spec, shape, [plan, *refine], jobs, num_iter)


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


def plan_sweep(spec: Spec, data: Dataset | None = None, jobs: int = 1) -> Plan:
    """The round-0 plan of ``spec`` (reads the data to size the model, unless given; writes
    nothing).

    With ``grid.from_range_test`` the grid is known only once the range test has run; the plan
    then spans ``TYPICAL_RANGE_TEST_DECADES`` below ``grid.lr_max`` at the spec's density: as
    many runs as the range test's grid will likely have, not their LRs. Raises `SpecError`
    when the data and ``jobs`` groups at once would not fit in memory.
    """
    data = data if data is not None else load_data(spec)
    preflight(spec, data)
    bounds = None
    if spec.grid.from_range_test:
        bounds = spec.grid.lr_max / 10**TYPICAL_RANGE_TEST_DECADES, spec.grid.lr_max
    plan = plan_round0(spec, data, bounds)
    check_plan_memory(plan, jobs)
    return plan


def execute(
    results: ResultsDir,
    plan: Plan,
    data: Dataset,
    executor: Executor,
    on_run: OnRun | None = None,
    on_progress: OnProgress | None = None,
    on_note: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every run of ``plan`` that is not finished in ``results``; return all rows.

    Groups are those of the plan less their finished runs: a finished run is never trained
    again, whatever round, refine or resume plans it (a group interrupted half-way trains its
    other members in a smaller group, which agrees with the full group to float32 tolerance).
    ``on_progress`` hears of every epoch of the running groups as it ends (see
    `lrsweep.executors.Executor.map_groups`), not only of finished runs.
    """
    spec_hash = results.spec_id
    planned = results.planned(spec_hash)
    results.append_journal(
        {
            "event": "planned",
            "run_id": r.run_id,
            "spec": spec_hash,
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
    if on_note is not None and plan.runs:
        rounds = sorted({r.round for r in plan.runs})
        on_note(
            f"round {rounds[0]}: {total} runs, {done_count} finished already (reused),"
            f" {total - done_count} to train"
        )
    last_write = time.monotonic()
    running: dict[int, float] = {}  # id(group) -> its finished epochs, in runs

    def epoch_ended(group: Group, epoch: int, n_active: int) -> None:
        # members dropped as diverged are as good as finished: progress never moves back
        unfinished = sum(r.run_id not in finished for r in group.runs)
        dropped = max(0, len(group.runs) - n_active)
        fraction = dropped + n_active * epoch / max(group.epochs, 1)
        running[id(group)] = max(running.get(id(group), 0.0), min(unfinished, fraction))
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
    on_round: OnRound | None = None,
    data: Dataset | None = None,
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
        ``runs_done`` counting their finished epochs as fractions of a run (a live bar);
        never decreasing within a round.
    on_round : callable, optional
        Called with a `RoundStart` before each round trains (after the range test, if any).
    on_note : callable, optional
        Called with a sentence for each refine decision.
    on_warning : callable, optional
        Called with a sentence for something the user should know (a stale lock taken over).
    data : Dataset, optional
        ``load_data(spec)`` when the caller has it already (read once per command).
    """
    executor = executor or SerialExecutor()
    if data is None:
        data = load_data(spec)  # a bad data file fails here, before anything is written
    preflight(spec, data)
    check_plan_memory(plan_round0(spec, data), executor_jobs(executor))
    with hold_lock(Path(out), on_warning):  # before anything in the folder is read or changed
        results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
        results.on_warning = on_warning
        results.clean_temp()
        changes = results.adopt_spec()
        if changes and on_note is not None:
            on_note(f"the spec changed since the last run here: {describe_changes(changes)}")
        return _rounds(
            results,
            data,
            executor,
            spec.refine.rounds,
            spec.refine.points_per_decade,
            on_run,
            on_note,
            on_progress,
            on_round=on_round,
        )


def executor_jobs(executor: Executor) -> int:
    """Groups ``executor`` runs at once on this machine (a cluster's run elsewhere)."""
    return 1 if type(executor).__name__ == "DaskExecutor" else max(1, executor.jobs)


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
    on_round: OnRound | None = None,
) -> dict[str, Any]:
    """Finish any interrupted round of a results dir, then add ``rounds`` refine rounds.

    ``rounds`` defaults to the spec's ``refine.rounds`` (1 if that is 0). Runs already
    finished are never trained again, so a refine of a refine goes on where the last stopped.
    """
    with hold_lock(Path(results_dir), on_warning, create=False):
        results = ResultsDir.open(Path(results_dir))
        results.on_warning = on_warning
        results.clean_temp()
        spec = results.spec
        data = load_data(spec)
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
            "refine",
            on_round=on_round,
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


def completed_rounds(results: ResultsDir) -> int:
    """The highest refine round planned so far (0 when only the coarse grid was planned)."""
    planned = results.planned(results.spec_id)
    return max((int(r["round"]) for r in planned.values()), default=0)


def _rounds(
    results: ResultsDir,
    data: Dataset,
    executor: Executor,
    rounds: int,
    points_per_decade: int,
    on_run: OnRun | None,
    on_note: Callable[[str], None] | None,
    on_progress: OnProgress | None = None,
    command: str = "run",
    on_round: OnRound | None = None,
) -> dict[str, Any]:
    spec = results.spec
    clock = Clock(command)
    notes: list[str] = []
    trained = 0

    def counted(row: Mapping[str, Any], done: int, total: int) -> None:
        nonlocal trained
        trained += 1
        if on_run is not None:
            on_run(row, done, total)

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
    round0 = plan_round0(spec, data, bounds, lattice_aliases(results))
    if on_round is not None:
        on_round(round_start(results, round0, 0, spec.grid.points_per_decade))
    rows = execute(results, round0, data, executor, counted, on_progress, on_note)

    def train(plan: Plan, round_: int, density: int) -> list[dict[str, Any]] | None:
        """Note the plan's decisions, announce it and train it; None when it plans nothing."""
        for note in plan.notes:
            notes.append(note)
            if on_note is not None:
                on_note(note)
        if not plan.runs:
            return None
        if on_round is not None:
            on_round(round_start(results, plan, round_, density))
        return execute(results, plan, data, executor, counted, on_progress, on_note)

    for round_ in range(1, rounds + 1):
        earlier = [r for r in rows if int(r["round"]) < round_]  # as when it was first planned
        density = points_per_decade * 2 ** (round_ - 1)
        aliases = lattice_aliases(results)
        trained_rows = train(
            plan_refine(spec, data, earlier, round_, points_per_decade, aliases), round_, density
        )
        if trained_rows is None:
            break
        rows = trained_rows
    if spec.refine.resolve and rounds > 0:
        last = max((int(r["round"]) for r in rows), default=0)  # resolving extends it
        for _ in range(MAX_RESOLVE_ROUNDS):  # more seeds where the answer is unsure
            plan = plan_resolve(spec, data, rows, last, lattice_aliases(results))
            trained_rows = train(plan, last, points_per_decade)
            if trained_rows is None:
                break
            rows = trained_rows
    return finish(results, rows, clock, notes, trained, data.data_report())


def round_start(results: ResultsDir, plan: Plan, round_: int, density: int) -> RoundStart:
    """What ``plan`` (round ``round_``) is about to train, for ``on_round``."""
    finished = results.finished()
    lrs = [r.lr for r in plan.runs]
    return RoundStart(
        round=round_,
        runs=len(plan.runs),
        to_train=sum(r.run_id not in finished for r in plan.runs),
        lr_min=min(lrs, default=math.nan),
        lr_max=max(lrs, default=math.nan),
        points_per_decade=density,
        budget=plan.runs[0].budget if plan.runs else "full",
        notes=plan.notes,
    )


def finish(
    results: ResultsDir,
    rows: Sequence[Mapping[str, Any]],
    clock: Clock,
    notes: Sequence[str] = (),
    trained: int = 0,
    data_report: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Compute and write ``summary.json`` (with ``data_report`` as its ``data`` section); log
    the command in ``commands.jsonl``.

    The timing and provenance are the last command's that trained something: a command that
    trained nothing (a resume of a finished sweep, a refine that converged) keeps them.
    """
    constant = (data_report or {}).get("constant_train_loss", math.nan)
    summary = build_summary(results, rows, notes, float(constant))
    if data_report is not None:
        summary["data"] = dict(data_report)
    timing = clock.timing()
    try:
        earlier = results.saved_summary()
    except ResultsError:
        earlier = None  # a damaged summary.json is replaced below
    if trained == 0 and earlier is not None and earlier.get("provenance"):
        for key in ("finished_at", "wall_seconds", "cpu_seconds", "provenance"):
            if key in earlier:
                summary[key] = earlier[key]
    else:
        summary.update(
            {
                "finished_at": timing["finished_at"],
                "wall_seconds": timing["wall_seconds"],
                "cpu_seconds": timing["cpu_seconds"],
                "provenance": {
                    "started_at": timing["started_at"],
                    "finished_at": timing["finished_at"],
                    **environment(),
                },
            }
        )
    results.write_summary(summary)
    results.log_command(
        {"command": clock.command, "spec_hash": results.spec_id, **timing, "trained": trained}
    )
    return summary


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

    One ramped run per seed (``seeds`` defaults to the spec's ``train.seeds``); writes
    ``rangetest.csv`` (seed, step, lr, loss, smoothed_loss, val_loss) and ``rangetest.json``
    (each suggestion per seed, their spread, and the grid ``from_range_test`` would use), and
    returns the latter. ``check`` follows the ramp with a short lockstep sweep whose U-curve
    fit is the ``recommended`` LR (`check_range_test`); without it, only the ramp's rules.
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
    check_memory(spec, data_shape(data), [1], 1)
    with hold_lock(Path(out), on_warning):
        results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
        results.clean_temp()
        results.adopt_spec()
        return range_test_in(results, data, check=check, **options)


def range_test_in(
    results: ResultsDir, data: Dataset, *, check: bool = True, **options: Any
) -> dict[str, Any]:
    """Run the range test for an open, locked results dir and write its files.

    ``check``: follow the ramp with `check_range_test`'s short sweep (its ``recommended``).
    """
    spec = results.spec
    settings = range_test_settings(spec, options)
    n_seeds = options.get("seeds") or spec.train.seeds
    seeds = [spec.train.seed + i for i in range(n_seeds)]
    result = run_range_test(
        spec, data, seeds=seeds, val_every=options.get("val_every"), **settings
    )
    results.write_range_test(result.curves)
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
    has_runs = bool(all_rows(results))
    has_range_test = (results.path / "rangetest.csv").exists()
    if not has_runs and not has_range_test:
        planned = len(results.planned(results.spec_id))
        raise ResultsError(
            f"{results.path}: nothing to plot yet (0 of {planned} planned runs finished, no"
            " range test)"
        )
    written = plots.draw_all(results, formats) if has_runs else []
    if has_range_test:
        written += plots.draw_range_test(results, formats)
    return written


def plot_range_test(results_dir: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw ``plots/rangetest.<format>`` from ``rangetest.csv`` and ``rangetest.json``."""
    from lrsweep import plots

    results = ResultsDir.open(Path(results_dir))
    return plots.draw_range_test(results, formats)
