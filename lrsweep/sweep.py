"""Orchestration: what the CLI calls. Plan runs, execute groups, record, summarise, draw.

Every finished run is journaled and its history written as soon as its group returns, so an
interrupted sweep loses only the groups in flight, and running the same spec again resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrsweep.analysis import run_row, summarize
from lrsweep.data import Dataset, load_dataset
from lrsweep.executors import Executor, SerialExecutor
from lrsweep.grid import Group, RunSpec, log_grid, make_groups, plan_runs
from lrsweep.results import RUN_COLUMNS, ResultsDir
from lrsweep.spec import Spec
from lrsweep.training import RunResult, RunStatus, train_group

OnRun = Callable[[Mapping[str, Any], int, int], None]  # (row, done so far, total)
RUNS_CSV_EVERY = 2.0  # seconds between rewrites of runs.csv during a sweep (and at the end)


@dataclass(frozen=True)
class Plan:
    """What a sweep will do, before it does it."""

    spec: Spec
    runs: tuple[RunSpec, ...]
    groups: tuple[Group, ...]
    n_features: int
    n_outputs: int

    @property
    def group_sizes(self) -> list[int]:
        return [len(g.runs) for g in self.groups]


def load_data(spec: Spec) -> Dataset:
    """The spec's dataset (paths relative to the spec's folder)."""
    return load_dataset(spec.data, Path(spec.base_dir))


def plan_round0(spec: Spec, data: Dataset) -> Plan:
    """The coarse log grid times the seeds, packed into groups."""
    lrs = log_grid(spec.grid.lr_min, spec.grid.lr_max, spec.grid.points_per_decade)
    runs = plan_runs(spec, lrs, 0)
    groups = make_groups(spec, runs, data.X_train.shape[1], data.n_outputs)
    return Plan(spec, tuple(runs), tuple(groups), data.X_train.shape[1], data.n_outputs)


def plan_sweep(spec: Spec) -> Plan:
    """The round-0 plan of ``spec`` (reads the data to size the model; writes nothing)."""
    return plan_round0(spec, load_data(spec))


def execute(
    results: ResultsDir,
    plan: Plan,
    data: Dataset,
    executor: Executor,
    on_run: OnRun | None = None,
) -> list[dict[str, Any]]:
    """Train every run of ``plan`` that is not finished in ``results``; return all rows.

    Groups are those of the plan, so a resumed group is re-trained whole (its numbers are a
    function of the group), and only the members not yet recorded are written.
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
        }
        for r in plan.runs
        if r.run_id not in planned
    )
    finished = results.finished()
    todo = [g for g in plan.groups if any(r.run_id not in finished for r in g.runs)]
    total = len(plan.runs)
    done_count = sum(r.run_id in finished for r in plan.runs)
    last_write = time.monotonic()
    for group, group_results in executor.map_groups(train_group, todo, data):
        by_id = {r.run_id: r for r in group.runs}
        for result in group_results:
            if result.run_id in finished:
                continue  # trained again only because a group-mate was missing
            row = record(results, by_id[result.run_id], result, plan.spec.train.objective)
            finished[result.run_id] = row
            done_count += 1
            if on_run is not None:
                on_run(row, done_count, total)
        if time.monotonic() - last_write > RUNS_CSV_EVERY:
            write_runs(results)
            last_write = time.monotonic()
    return write_runs(results)


def record(results: ResultsDir, run: RunSpec, result: RunResult, objective: str) -> dict[str, Any]:
    """Write a finished run's history, then journal it (the journal line makes it count)."""
    planned = {"round": run.round, "budget": run.budget, "lr": run.lr, "seed": run.seed}
    row = run_row(planned, result, objective)
    if result.status is RunStatus.FAILED:
        results.append_journal([{"event": "failed", **row}])
    else:
        results.write_history(result)
        results.append_journal([{"event": "done", **row}])
    return row


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
        row = {c: r.get(c, "") for c in RUN_COLUMNS}
        row["round"] = planned.get(run_id, r).get("round", r.get("round", 0))
        for c in (
            "lr",
            "final_train_loss",
            "final_val_loss",
            "best_val_loss",
            "final_val_metric",
            "objective",
            "seconds",
        ):
            row[c] = float("nan") if row[c] is None or row[c] == "" else float(row[c])
        rows.append(row)
    rows.sort(key=lambda x: (x["round"], x["lr"], x["seed"], x["run_id"]))
    return rows


def write_runs(results: ResultsDir) -> list[dict[str, Any]]:
    """Rebuild ``runs.csv`` from the journal; return its rows."""
    rows = all_rows(results)
    results.write_runs(rows, RUN_COLUMNS)
    return rows


def run_sweep(
    spec: Spec,
    out: str | Path,
    *,
    executor: Executor | None = None,
    overwrite: bool = False,
    on_run: OnRun | None = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep of ``spec`` into ``out`` and return the summary.

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
    """
    executor = executor or SerialExecutor()
    data = load_data(spec)  # a bad data file fails here, before anything is written
    results = ResultsDir.create(Path(out), spec, overwrite=overwrite)
    with results.locked():
        started = time.time()
        rows = execute(results, plan_round0(spec, data), data, executor, on_run)
        return finish(results, rows, started)


def finish(
    results: ResultsDir, rows: Sequence[Mapping[str, Any]], started: float
) -> dict[str, Any]:
    """Compute and write ``summary.json``."""
    spec = results.spec
    summary = {
        "name": spec.name,
        "spec_hash": spec.spec_hash(),
        "results_dir": str(results.path),
        **summarize(rows, spec.train.objective),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "compute_seconds": float(sum(r["seconds"] for r in rows if r["seconds"] == r["seconds"])),
        "wall_seconds": time.time() - started,
    }
    results.write_summary(summary)
    return summary


def plot_results(results_dir: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Draw every plot of a results dir from its files alone; return the files written."""
    from lrsweep import plots

    results = ResultsDir.open(Path(results_dir))
    return plots.draw_all(results, formats)
