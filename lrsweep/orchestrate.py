"""Orchestration: what the CLI calls. Plan runs, execute groups, record, summarise, draw.

One loop trains everything: `execute` journals a plan's runs, asks the trainer to pack the
unfinished ones into groups and the executor to run them, and records every finished run as
soon as its group returns, so an interrupted sweep loses only the groups in flight and running
the same spec again resumes. What to train next is the search strategy's
(`lrsweep.search.coarse_to_fine`), which `run_sweep` and `refine` hand `execute` to; ``find``'s
short check sweep goes through the same `execute`. Every event for the user (round headers,
finished runs, progress, notes, warnings) travels one ``on_event`` callable
(`lrsweep.events`).
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep.analysis import answer
from lrsweep.costs import SweepEstimate, check_data_memory, check_memory
from lrsweep.data import Dataset, load_dataset
from lrsweep.errors import ResultsError, RunsFailing, SpecError, shorten
from lrsweep.events import Event, Note, OnEvent, Progress, RoundStart, RunDone, ignore
from lrsweep.executors import Executor, SerialExecutor
from lrsweep.lock import hold_lock
from lrsweep.mlp import MLPTrainer
from lrsweep.plan import Plan, lattice_index, log_grid, plan_round0, plan_runs, with_seeds
from lrsweep.rangetest import range_test_settings, range_test_summary, run_range_test
from lrsweep.records import Group, RunResult, RunStatus
from lrsweep.results import Clock, ResultsDir, axes_of, environment, record
from lrsweep.search import (
    budgeted,
    coarse_to_fine,
    first_look,
    likely_refine_plans,
    plan_resolve,
)
from lrsweep.spec import Spec, combo_label, describe_changes
from lrsweep.study import (
    SWEEP,
    all_rows,
    build_summary,
    completed_rounds,
    planned,
    write_runs,
)
from lrsweep.study import read_summary as study_summary
from lrsweep.trainer import make_trainer

RUNS_CSV_EVERY = 2.0  # seconds between rewrites of runs.csv during a sweep (and at the end)
FIND = "find"  # the purpose of `lrsweep find`'s check runs in the journal


def load_data(spec: Spec, on_progress: Callable[[int, int], None] | None = None) -> Dataset:
    """The spec's dataset (paths relative to the spec's folder); ``on_progress(bytes_read,
    size)`` while the file is read. A builtin too large for this machine's memory is refused
    before it is generated."""
    check_data_memory(spec)
    return load_dataset(spec.data, Path(spec.base_dir), on_progress)


# A range test's grid is known only once it has run: from a decade below its valley
# suggestion to where the loss diverged, which spanned 3.5-4.5 decades on the shipped configs.
TYPICAL_RANGE_TEST_DECADES = 4.0


def plan_sweep(
    spec: Spec, data: Dataset | None = None, jobs: int = 1, *, trainer: Any = None
) -> Plan:
    """The round-0 plan of ``spec``, packed into the trainer's groups (the built-in model
    reads the data to size itself, unless given; nothing is written).

    With ``grid.from_range_test`` the grid is known only once the range test has run; the plan
    then spans ``TYPICAL_RANGE_TEST_DECADES`` below ``grid.lr_max`` at the spec's density: as
    many runs as the range test's grid will likely have, not their LRs. Raises `SpecError`
    when a setting cannot train, or the data and ``jobs`` groups at once would not fit in
    memory.
    """
    trainer = trainer if trainer is not None else make_trainer(spec, data)
    bounds = None
    if spec.grid.from_range_test:
        bounds = spec.grid.lr_max / 10**TYPICAL_RANGE_TEST_DECADES, spec.grid.lr_max
    round0 = first_look(spec, bounds) if spec.budget is not None else plan_round0(spec, bounds)
    plan = packed(round0, trainer)
    trainer.check(plan, jobs)
    return plan


def packed(plan: Plan, trainer: Any) -> Plan:
    """``plan`` with its runs packed into the trainer's groups."""
    return replace(plan, groups=tuple(trainer.pack(plan.spec, plan.runs)))


def estimate_sweep(plan: Plan, jobs: int, trainer: Any = None) -> SweepEstimate:
    """How long `run_sweep` will likely take for ``plan`` (round 0) with ``--jobs jobs``.

    Round 0, the refine rounds' likely runs (`lrsweep.search.likely_refine_plans`) and the
    range test, priced by the trainer's cost model. Nothing is trained: milliseconds.
    """
    spec = plan.spec
    trainer = trainer if trainer is not None else make_trainer(spec)
    num_iter = range_test_settings(spec, {})["num_iter"] if spec.grid.from_range_test else 0
    refine = likely_refine_plans(spec, plan, spec.refine.rounds, spec.refine.points_per_decade)
    return trainer.estimate([plan, *refine], jobs, num_iter)


def execute(
    results: ResultsDir,
    plan: Plan,
    trainer: Any,
    executor: Executor,
    on_event: OnEvent = ignore,
    purpose: str = SWEEP,
) -> list[dict[str, Any]]:
    """Train every run of ``plan`` that is not finished in ``results``; return the rows of
    the study (of ``purpose``'s runs).

    The plan's runs are journaled first (``planned``), then packed by the trainer; a finished
    run is never trained again, whatever round, refine, resume or ``find`` plans it (a group
    interrupted half-way trains its other members in a smaller group, which agrees with the
    full group to float32 tolerance). `Progress` events follow every epoch of the running
    groups (see `lrsweep.executors.Executor.map_groups`), not only finished runs.
    """
    spec_hash = results.spec_id
    known = planned(results, purpose)
    extra = {} if purpose == SWEEP else {"purpose": purpose}
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
            **extra,
        }
        for r in plan.runs
        if r.run_id not in known
    )
    finished = results.finished()
    groups = plan.groups or tuple(trainer.pack(plan.spec, plan.runs))
    todo = [  # a finished run is never trained again: groups keep only their unfinished runs
        g if not any(r.run_id in finished for r in g.runs)
        else replace(g, runs=tuple(r for r in g.runs if r.run_id not in finished))
        for g in groups
        if any(r.run_id not in finished for r in g.runs)
    ]  # fmt: skip
    total = len(plan.runs)
    done_count = sum(r.run_id in finished for r in plan.runs)
    # a user's code that fails at once fails again: stop early (the built-in model's failures
    # are a worker's or a bug's, and the other runs go on)
    guard = FailFast(trainer.kind == "mlp" or any(r.get("status") != "failed"
                                                 for r in finished.values()))  # fmt: skip
    keep_csv = purpose == SWEEP
    last_write = time.monotonic()
    running: dict[int, float] = {}  # id(group) -> its finished epochs, in runs

    def epoch_ended(group: Group, epoch: int, n_active: int) -> None:
        # members dropped as diverged are as good as finished: progress never moves back
        unfinished = sum(r.run_id not in finished for r in group.runs)
        dropped = max(0, len(group.runs) - n_active)
        fraction = dropped + n_active * epoch / max(group.epochs, 1)
        running[id(group)] = max(running.get(id(group), 0.0), min(unfinished, fraction))
        on_event(Progress(done_count + sum(running.values()), total))

    try:
        for group, group_results in executor.map_groups(
            trainer.work(todo, results.path), todo, epoch_ended
        ):
            running.pop(id(group), None)
            by_id = {r.run_id: r for r in group.runs}
            for result in group_results:
                if result.run_id in finished:
                    continue  # trained again only because a group-mate was missing
                row = record(results, by_id[result.run_id], result, plan.spec)
                finished[result.run_id] = row
                done_count += 1
                on_event(RunDone(row, done_count, total))
                guard.check(result, results.path)
            if keep_csv and time.monotonic() - last_write > RUNS_CSV_EVERY:
                write_runs(results)
                last_write = time.monotonic()
    except BaseException:
        if keep_csv:
            with contextlib.suppress(Exception):  # keep runs.csv in step with what finished
                write_runs(results)
        raise
    return write_runs(results) if keep_csv else all_rows(results, purpose)


FAIL_FAST = 3  # the first runs all failing the same way this many times stop the sweep


class FailFast:
    """Stop a sweep whose first runs all fail the same way (W&B's agent stops after a few
    such failures): a typo in a script should cost a few runs, not the whole grid."""

    def __init__(self, succeeded: bool) -> None:
        self.succeeded = succeeded  # a run of this study finished other than failed
        self.failures: list[RunResult] = []

    def check(self, result: RunResult, folder: Path) -> None:
        if result.status is not RunStatus.FAILED:
            self.succeeded = True
            return
        if self.succeeded:
            return
        self.failures.append(result)
        # the same failure, whatever run ids, paths' numbers or line numbers it names
        kinds = {re.sub(r"[0-9a-f]{8,}|\d+", "#", r.message) for r in self.failures}
        if len(self.failures) >= FAIL_FAST and len(kinds) == 1:
            output = folder / "runs" / result.run_id / "stderr.txt"
            where = f" (its output: {output})" if output.exists() else ""
            raise RunsFailing(
                f"the first {len(self.failures)} runs all failed the same way: "
                f"{shorten(result.message, 160)}{where}; fix it and run the same command"
                " again (the failed runs are trained again, finished ones kept)"
            )


def run_sweep(
    spec: Spec,
    out: str | Path,
    *,
    executor: Executor | None = None,
    overwrite: bool = False,
    on_event: OnEvent | None = None,
    data: Dataset | None = None,
    trainer: Any = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep of ``spec`` into ``out`` and return the summary.

    Round 0 trains the log grid (at the ``coarse:`` budget if the spec has one); then up to
    ``refine.rounds`` refine rounds zoom into the best bracket of each combination, and
    resolve steps add seeds where the answer is unsure (`lrsweep.search.coarse_to_fine`).

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
    on_event : callable, optional
        Hears every `lrsweep.events` event: round headers (`RoundStart`), finished runs
        (`RunDone`), per-epoch progress (`Progress`), decisions and warnings (`Note`).
    data : Dataset, optional
        ``load_data(spec)`` when the caller has it already (read once per command).
    trainer : optional
        The trainer when the caller has built it (`lrsweep.trainer.make_trainer`).
    """
    on_event = on_event or ignore
    executor = executor or SerialExecutor()
    trainer = trainer if trainer is not None else make_trainer(spec, data)  # bad data: here
    trainer.check(packed(plan_round0(spec), trainer), executor_jobs(executor))
    with hold_lock(Path(out), _warnings(on_event)):  # before the folder is read or changed
        results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
        results.on_warning = _warnings(on_event)
        results.clean_temp()
        results.check_inputs(trainer.inputs())  # the same path with other contents: refused
        changes = results.adopt_spec()
        if changes:
            change = describe_changes(changes)
            on_event(Note(f"the spec changed since the last run here: {change}"))
        return _study(
            results,
            trainer,
            executor,
            spec.refine.rounds,
            spec.refine.points_per_decade,
            on_event,
        )


def sweep(
    train_fn: Callable[[Any], Any],
    spec: str | Path | Mapping[str, Any] | Spec,
    out: str | Path | None = None,
    *,
    executor: Executor | None = None,
    overwrite: bool = False,
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """Sweep the learning rate of your own Python function; return the summary.

    ``train_fn(trial)`` trains one run: it reads ``trial.lr``, ``trial.seed``,
    ``trial.epochs`` and ``trial.params`` (the run's ``vary:`` values) and reports each epoch
    with ``trial.report(epoch, val_loss=..., **more)``. Each run is a forked process with the
    guarantees of a script (`lrsweep.script`): a crash, a NaN, a hang past
    ``trainer.timeout`` is a recorded result, never a lost sweep.

    Parameters
    ----------
    train_fn : callable
        The training function.
    spec : path, mapping or Spec
        The sweep: ``train``, ``grid``, ``refine``, ``vary``..., and ``trainer`` for
        ``objective``, ``maximize``, ``pick``, ``timeout`` (no ``command``: the function is it).
    out : path, optional
        The results folder (default ``results/<name>``).

    Examples
    --------
    >>> def train_fn(trial):  # doctest: +SKIP
    ...     model = make_model(seed=trial.seed)
    ...     for epoch in range(1, trial.epochs + 1):
    ...         loss = fit_one_epoch(model, lr=trial.lr)
    ...         trial.report(epoch, val_loss=loss)
    >>> lrsweep.sweep(train_fn, {"train": {"epochs": 10}})  # doctest: +SKIP
    """
    from lrsweep.script import FunctionTrainer
    from lrsweep.spec import validate_spec
    from lrsweep.yamlload import load_yaml

    if isinstance(spec, Spec):
        document, file, base = spec.resolved(), spec.source_file, spec.base_dir
    elif isinstance(spec, Mapping):
        document, file, base = dict(spec), "<spec>", str(Path.cwd())
    else:
        document, _ = load_yaml(Path(spec))
        file, base = str(spec), str(Path(spec).resolve().parent)
    trainer = dict(document.get("trainer") or {})
    if trainer.get("command") and not str(trainer["command"]).startswith("python-function:"):
        raise SpecError(
            f"{file}: trainer.command: lrsweep.sweep runs train_fn, not a command; remove it"
            " (or run the spec with 'lrsweep run')"
        )
    name = f"{getattr(train_fn, '__module__', '?')}.{getattr(train_fn, '__qualname__', '?')}"
    trainer.update(command=[f"python-function:{name}"], lr_from_env=True)
    document = {k: v for k, v in document.items() if k not in ("base_dir", "source_file")}
    resolved = validate_spec({**document, "trainer": trainer}, file, base_dir=base)
    if executor is not None and type(executor).__name__ == "DaskExecutor":
        raise SpecError(f"{file}: a Python function's runs are forks of this process; a dask"
                        " cluster runs commands (trainer.command) only")  # fmt: skip
    folder = Path(out) if out is not None else Path("results") / resolved.name
    return run_sweep(
        resolved,
        folder,
        executor=executor,
        overwrite=overwrite,
        on_event=on_event,
        trainer=FunctionTrainer(resolved, train_fn),
    )


def _warnings(on_event: OnEvent) -> Callable[[str], None]:
    """A ``warning(text)`` callable that sends ``Note(text, "warning")`` events."""
    return lambda text: on_event(Note(text, "warning"))


def executor_jobs(executor: Executor) -> int:
    """Groups ``executor`` runs at once on this machine (a cluster's run elsewhere)."""
    return 1 if type(executor).__name__ == "DaskExecutor" else max(1, executor.jobs)


def refine(
    results_dir: str | Path,
    *,
    rounds: int | None = None,
    points_per_decade: int | None = None,
    executor: Executor | None = None,
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """Finish any interrupted round of a results dir, then add ``rounds`` refine rounds.

    ``rounds`` defaults to the spec's ``refine.rounds`` (1 if that is 0). Runs already
    finished are never trained again, so a refine of a refine goes on where the last stopped.
    """
    on_event = on_event or ignore
    with hold_lock(Path(results_dir), _warnings(on_event), create=False):
        results = ResultsDir.open(Path(results_dir))
        results.on_warning = _warnings(on_event)
        results.clean_temp()
        results.ensure_folders()
        spec = results.spec
        trainer = make_trainer(spec)
        results.check_inputs(trainer.inputs())
        done = completed_rounds(results)
        extra = rounds if rounds is not None else (spec.refine.rounds or 1)
        ppd = points_per_decade or spec.refine.points_per_decade
        return _study(
            results, trainer, executor or SerialExecutor(), done + extra, ppd, on_event, "refine"
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


def _study(
    results: ResultsDir,
    trainer: Any,
    executor: Executor,
    rounds: int,
    points_per_decade: int,
    on_event: OnEvent,
    command: str = "run",
) -> dict[str, Any]:
    """The coarse-to-fine search over one `execute`, then the summary."""
    spec = results.spec
    clock = Clock(command)
    stamp = f"{time.time_ns():020d}"  # this command's journaled notes
    notes: list[str] = []
    trained = 0

    def counted(event: Event) -> None:
        nonlocal trained
        if isinstance(event, RunDone):
            trained += 1
        on_event(event)

    def decided(text: str, round_: int) -> None:
        """A decision of the search: in the summary and in the journal (on screen with its
        round's header, or alone when it plans nothing)."""
        notes.append(text)
        results.append_journal(
            [{"event": "note", "run_id": "", "spec": results.spec_id, "round": round_,
              "command": stamp, "text": text}]
        )  # fmt: skip

    bounds = None
    if spec.grid.from_range_test:
        found = range_test_in(results, trainer, executor, on_event, check=False)
        bounds = found["grid"]["lr_min"], found["grid"]["lr_max"]
        decided(
            f"round 0: grid from the range test: {bounds[0]:.3g} (a decade below the valley"
            f" suggestion) to {bounds[1]:.3g} (where the loss diverged)",
            0,
        )
        on_event(Note(notes[-1]))

    def evaluate(plan: Plan) -> list[dict[str, Any]] | None:
        """Tell the plan's decisions and train it; None when it plans nothing."""
        for note in plan.notes:
            decided(note, plan.round)
        if not plan.runs:
            for note in plan.notes:
                on_event(Note(note))
            return None
        plan = packed(plan, trainer)
        on_event(round_start(results, plan))
        return execute(results, plan, trainer, executor, counted)

    if spec.budget is not None:  # the answer at a budget: rungs, then seeds and finer LRs
        began, earlier = time.monotonic(), results.training_seconds()
        limit = spec.budget.seconds if spec.budget.seconds is not None else math.inf
        rows = budgeted(
            spec,
            evaluate,
            bounds=bounds,
            aliases=lambda: lattice_aliases(results),
            seconds_left=lambda: limit - earlier - (time.monotonic() - began),
        )
    else:
        rows = coarse_to_fine(
            spec,
            evaluate,
            plan_round0(spec, bounds, lattice_aliases(results)),
            rounds=rounds,
            points_per_decade=points_per_decade,
            aliases=lambda: lattice_aliases(results),
        )
    return finish(results, rows, clock, notes, trained, trainer.data_report())


def round_start(results: ResultsDir, plan: Plan) -> RoundStart:
    """What ``plan`` is about to train."""
    finished = results.finished()
    lrs = [r.lr for r in plan.runs]
    return RoundStart(
        round=plan.round,
        runs=len(plan.runs),
        to_train=sum(r.run_id not in finished for r in plan.runs),
        lr_min=min(lrs, default=math.nan),
        lr_max=max(lrs, default=math.nan),
        points_per_decade=plan.points_per_decade,
        budget=plan.runs[0].budget if plan.runs else "full",
        notes=plan.notes,
        step=plan.step,
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
    executor: Executor | None = None,
    on_event: OnEvent | None = None,
    check: bool = True,
    data: Dataset | None = None,
) -> dict[str, Any]:
    """Smith's LR range test on the spec's model and data, written into the results dir.

    One ramped run per seed (``seeds`` defaults to the spec's ``train.seeds``); writes
    ``rangetest.csv`` (seed, step, lr, loss, smoothed_loss, val_loss) and ``rangetest.json``
    (each suggestion per seed, their spread, and the grid ``from_range_test`` would use), and
    returns the latter. ``check`` follows the ramp with a short sweep whose U-curve fit is the
    ``recommended`` LR (`check_range_test`), trained through `execute` like any sweep (the
    journal, the executor); without it, only the ramp's rules.
    """
    on_event = on_event or ignore
    trainer = make_trainer(spec, data)
    if not isinstance(trainer, MLPTrainer):
        raise SpecError(
            f"{spec.source_file}: trainer: the LR range test needs the built-in model (it"
            " ramps the LR within one run); use 'lrsweep run' with a coarse grid instead"
        )
    options: dict[str, Any] = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "num_iter": num_iter,
        "mode": mode,
        "seeds": seeds,
        "val_every": val_every,
    }
    range_test_settings(spec, options)  # a bad ramp fails here, before anything is written
    check_memory(spec, trainer.shape, [1], 1)
    with hold_lock(Path(out), _warnings(on_event)):
        results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
        results.on_warning = _warnings(on_event)
        results.clean_temp()
        results.check_inputs(trainer.inputs())
        results.adopt_spec()
        return range_test_in(
            results, trainer, executor or SerialExecutor(), on_event, check=check, **options
        )


def range_test_in(
    results: ResultsDir,
    trainer: MLPTrainer,
    executor: Executor,
    on_event: OnEvent = ignore,
    *,
    check: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Run the range test for an open, locked results dir and write its files.

    ``check``: follow the ramp with `check_range_test`'s short sweep (its ``recommended``).
    """
    spec = results.spec
    settings = range_test_settings(spec, options)
    n_seeds = options.get("seeds") or spec.train.seeds
    seeds = [spec.train.seed + i for i in range(n_seeds)]
    from lrsweep.executors import one_blas_thread

    with one_blas_thread():  # the same numbers whatever the machine's BLAS would thread
        result = run_range_test(
            spec, trainer.data, seeds=seeds, val_every=options.get("val_every"), **settings
        )
    results.write_range_test(result.curves)
    found = range_test_summary(result, settings)
    if check:
        found = check_range_test(results, trainer, executor, found, seeds[:CHECK_SEEDS], on_event)
    results.write_json("rangetest.json", found)
    return found


CHECK_SEEDS = 2  # seeds of find's short lockstep sweep
CHECK_RESOLVE_STEPS = 3  # then at most this many more seeds at the LRs nearest its answer
CHECK_PER_DECADE = 4  # its density
CHECK_BELOW = 100.0  # it starts this far below the ramp's loss minimum (overfitting is there)


def check_range_test(
    results: ResultsDir,
    trainer: Any,
    executor: Executor,
    found: Mapping[str, Any],
    seeds: Sequence[int],
    on_event: OnEvent = ignore,
) -> dict[str, Any]:
    """Follow the ramp with a short sweep and make its U-curve fit the recommendation.

    The ramp reads the training loss over a few hundred steps, so it cannot see overfitting,
    nor what a full budget at one LR does; a sweep can. From ``CHECK_BELOW`` below the ramp's
    loss minimum (``max_lr``) up to where the ramp diverged (or 10x ``max_lr``), at
    ``CHECK_PER_DECADE`` per decade, ``seeds`` x the spec's full budget, trained by `execute`
    (journaled as ``find``'s runs: a sweep in the same folder reuses any it plans too, and its
    answer does not count the others); then the U-curve fit (`lrsweep.analysis.answer`)
    picks. The ramp's own rules stay in ``spread`` for comparison (``minimum_10`` is the
    ramp-only pick).
    """
    spec = results.spec
    out = dict(found)
    max_lr = (found["spread"].get("max_lr") or {}).get("lr")
    if not max_lr or not seeds:
        return out
    lo = max_lr / CHECK_BELOW
    hi = found["diverged_at"] if found.get("diverged_at") else max_lr * 10
    hi = max(hi, lo * 10)
    lrs = log_grid(lo, hi, CHECK_PER_DECADE)
    check_spec = with_seeds(spec, seeds[0], len(seeds))
    runs = plan_runs(check_spec, lrs, 0)
    plan = packed(Plan(spec, tuple(runs), (), 0, CHECK_PER_DECADE), trainer)
    mine = {r.run_id for r in runs}
    study = execute(results, plan, trainer, executor, on_event, purpose=FIND)
    for _ in range(CHECK_RESOLVE_STEPS):  # seeds where they change the answer
        more = plan_resolve(
            check_spec, [r for r in study if r["run_id"] in mine], 0, CHECK_PER_DECADE
        )
        if not more.runs:
            break
        mine |= {r.run_id for r in more.runs}
        study = execute(results, packed(more, trainer), trainer, executor, on_event, purpose=FIND)
    rows = [
        {
            "lr": float(r["lr"]),
            "seed": int(r["seed"]),
            "status": r["status"],
            "objective": float(r["objective"]),
            "initial": float(r["initial_objective"]),
        }
        for r in study
        if r["run_id"] in mine
    ]
    seeds = sorted({r["seed"] for r in rows}) or list(seeds)
    initial = float(np.nanmedian([r["initial"] for r in rows])) if rows else math.nan
    fitted = answer(rows, spec.objective, spec.analysis.band_tolerance, initial)
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
            "note": f"the U-curve fit over a short sweep of {len(lrs)} LRs x {CHECK_SEEDS} seeds"
            " from the ramp's range, more seeds near its answer; min/max: where the optimum lies",
            "median": fitted["lr"],
            "min": lo_i,
            "max": hi_i,
            "n": len(seeds),
        }
        out["spread"] = spread
    return out


def read_summary(results_dir: str | Path) -> dict[str, Any]:
    """The summary of a results dir: ``summary.json`` when it matches the journal, else the
    answer rebuilt from the journal (`lrsweep.study.read_summary`)."""
    return study_summary(ResultsDir.open(Path(results_dir)))


def plot_results(results_dir: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw every plot of a results dir from its files alone; return the files written.

    The U-curve and loss-against-epoch plots when it has runs, the range-test plot when it
    has a range test.
    """
    from lrsweep import plots

    results = ResultsDir.open(Path(results_dir))
    has_runs = any(r["status"] != "failed" for r in all_rows(results))
    has_range_test = results.has_range_test()
    if not has_runs and not has_range_test:
        n_planned = len(planned(results))
        raise ResultsError(
            f"{results.path}: nothing to plot yet (0 of {n_planned} planned runs finished, no"
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
