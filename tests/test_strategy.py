"""The automatic strategy (group sizes, in-process or a pool) changes the speed, never the numbers.

No test here is timed: the speed is the benchmark's business (benchmarks/bench_training.py).
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_info

import lrsweep
from lrsweep.cli import cli
from lrsweep.costs import (
    LOCKSTEP_MAX_BYTES,
    LOCKSTEP_MAX_FLOP,
    data_shape,
    execution_choice,
    member_bytes,
    step_flops,
)
from lrsweep.errors import Cancelled
from lrsweep.events import Progress, RunDone
from lrsweep.executors import (
    LocalExecutor,
    ProcessExecutor,
    SerialExecutor,
    ThreadExecutor,
    make_executor,
)
from lrsweep.members import model_arrays
from lrsweep.mlp import compact_dataset, pack_lockstep
from lrsweep.plan import plan_runs
from lrsweep.records import RunResult
from lrsweep.training import train_group

SPEC = """\
name: strategy
data: {data}
model: {{hidden: [16, 16]}}
optimizer: {{name: sgd, momentum: 0.9}}
train: {{epochs: 3, batch_size: 32, seeds: 2}}
grid: {{lr_min: 0.001, lr_max: 0.1, points_per_decade: 4}}
{execution}
"""
SPIRALS = "{builtin: spirals, n_samples: 300, noise: 0.1}"


def spec_text(execution: str = "", data: str = SPIRALS) -> str:
    return SPEC.format(execution=execution, data=data)


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def work_of(spec, data, groups):
    """What the executors run for the built-in model on ``data`` (`lrsweep.trainer.Work`)."""
    return lrsweep.make_trainer(spec, data).work(groups)


def histories(out):
    """run_id -> the (train_loss, val_loss, val_metric) rows of its history."""
    rows = {}
    for path in sorted((out / "histories").iterdir()):
        data = np.genfromtxt(path, delimiter=",", names=True)
        rows[path.stem] = np.column_stack(
            [data["train_loss"], data["val_loss"], data["val_metric"]]
        )
    return rows


def test_automatic_strategy_matches_jobs_1_without_grouping(write_spec, tmp_path):
    auto = write_spec(spec_text(), "auto.yaml")
    alone = write_spec(spec_text("execution: {group_size: 1}"), "alone.yaml")
    plan = lrsweep.plan_sweep(lrsweep.load_spec(auto))
    assert max(plan.group_sizes) > 1  # the automatic strategy does train in lockstep here
    assert (
        invoke("run", auto, "--out", tmp_path / "a", "--no-plots").exit_code == 0
    )  # --jobs: cores
    assert invoke("run", alone, "--out", tmp_path / "b", "--jobs", 1, "--no-plots").exit_code == 0
    a, b = histories(tmp_path / "a"), histories(tmp_path / "b")
    assert sorted(a) == sorted(b) and len(a) == 2 * 9
    for run_id in a:
        # a member of a group matches the run alone to float32 rounding (DESIGN.md §2)
        np.testing.assert_allclose(a[run_id], b[run_id], rtol=1e-4, atol=1e-6)


def test_a_pool_and_this_process_give_bit_identical_results(write_spec):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    data = lrsweep.load_data(spec)
    plan = lrsweep.plan_sweep(spec)
    with ProcessExecutor(2) as pool:  # forced: LocalExecutor would stay in-process for this
        in_pool = {
            g.runs[0].run_id: r
            for g, r in pool.map_groups(work_of(spec, data, plan.groups), plan.groups)
        }
    serial = {
        g.runs[0].run_id: r
        for g, r in SerialExecutor().map_groups(work_of(spec, data, plan.groups), plan.groups)
    }
    assert in_pool.keys() == serial.keys()
    for key, results in serial.items():
        assert [r.history for r in results] == [r.history for r in in_pool[key]]


def test_small_work_stays_in_process_and_large_work_uses_a_pool(write_spec):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    data = lrsweep.load_data(spec)
    groups = lrsweep.plan_sweep(spec).groups
    where, _, why = execution_choice(groups, data_shape(data), jobs=2)
    assert where == "here" and "would take" in why
    assert execution_choice(groups, data_shape(data), jobs=1)[0] == "here"
    assert execution_choice(groups[:1], data_shape(data), jobs=2)[0] == "here"  # one group
    n_train, n_val, n_features, n_outputs = data_shape(data)
    big = (n_train * 1000, n_val, n_features, n_outputs)  # same groups, 1000x the rows
    assert execution_choice(groups, big, jobs=2)[0] == "processes"  # overhead-bound: a pool
    assert execution_choice(groups, data_shape(data), jobs=2, pool_started=True)[0] == "processes"

    with make_executor(2) as executor:
        assert isinstance(executor, LocalExecutor)
        got = list(executor.map_groups(work_of(spec, data, groups), groups))
        assert executor.last_choice is not None and executor.last_choice[0] == "here"
        assert not executor._processes.started  # no worker was started for this
    assert len(got) == len(groups)


def test_group_size_depends_on_the_spec_not_on_jobs(write_spec):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    runs = plan_runs(spec, np.logspace(-3, 0, 40), 0)
    sizes = [len(g.runs) for g in pack_lockstep(spec, runs, 2, 2)]
    assert max(sizes) <= 16 and sum(sizes) == len(runs)
    wide = spec.model_copy(
        update={
            "model": spec.model.model_copy(update={"hidden": [1000, 1000]}),
            "train": spec.train.model_copy(update={"batch_size": 1}),
        }
    )  # 1 M weights: a cheap step at batch 1 (lockstep pays), but ~50 MB of arrays per member
    assert step_flops(wide, 2, 2) < LOCKSTEP_MAX_FLOP
    by_memory = int(LOCKSTEP_MAX_BYTES // member_bytes(wide, 2, 2))
    assert 1 < by_memory < 16
    assert max(len(g.runs) for g in pack_lockstep(wide, runs, 2, 2)) <= by_memory


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_compact_dataset_casts_like_the_trainer(write_spec, task):
    data = "{builtin: teacher, n_samples: 200, noise: 0.1}" if task == "regression" else SPIRALS
    text = spec_text(data=data)
    spec = lrsweep.load_spec(write_spec(text))
    data = lrsweep.load_data(spec)
    groups = lrsweep.plan_sweep(spec).groups
    small = compact_dataset(data, groups)
    assert small.X_train.dtype == np.float32 and not small.X_train.flags.writeable
    for a, b in zip(model_arrays(spec, data), model_arrays(spec, small), strict=True):
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b)


# compute-bound: 6 x 51k weights x batch 128 = 40 MFLOP a step, groups of one, 83 % in products
WIDE = """\
name: wide
data: {builtin: teacher, n_samples: 500, n_features: 200, noise: 0.1}
model: {hidden: [256]}
train: {epochs: 2, batch_size: 128, seeds: 1}
grid: {lr_min: 0.0001, lr_max: 0.01, points_per_decade: 2}
"""


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_compute_bound_groups_run_in_threads_with_the_same_numbers(write_spec):
    spec = lrsweep.load_spec(write_spec(WIDE))
    data = lrsweep.load_data(spec)
    groups = lrsweep.plan_sweep(spec).groups
    assert len(groups) == 5 and max(len(g.runs) for g in groups) == 1
    where, _, _ = execution_choice(groups, data_shape(data), jobs=2)
    assert execution_choice(groups, data_shape(data), jobs=1)[0] == "here"
    with make_executor(2) as executor:  # the executor does what the cost model chose
        list(executor.map_groups(work_of(spec, data, groups), groups))
        assert isinstance(executor, LocalExecutor) and executor.last_choice is not None
        assert executor.last_choice[0] == where
    before = blas_threads()
    with ThreadExecutor(2) as executor:
        threaded = {
            g.runs[0].run_id: r
            for g, r in executor.map_groups(work_of(spec, data, groups), groups)
        }
    assert blas_threads() == before  # the one-thread limit is lifted afterwards
    serial = {
        g.runs[0].run_id: r
        for g, r in SerialExecutor().map_groups(work_of(spec, data, groups), groups)
    }
    assert threaded.keys() == serial.keys()
    for key, results in serial.items():  # one BLAS thread or every core: the same bits
        assert [r.history for r in results] == [r.history for r in threaded[key]]


def test_stopping_a_threaded_sweep_stops_its_running_groups(write_spec):
    spec = lrsweep.load_spec(write_spec(WIDE))
    data = lrsweep.load_data(spec)
    groups = lrsweep.plan_sweep(spec).groups
    started: list[str] = []
    saw_stop: list[bool] = []

    def group_fn(group, data, stop):
        started.append(group.runs[0].run_id)
        if group is groups[0]:
            return [RunResult(group.runs[0].run_id, lrsweep.RunStatus.OK)]
        saw_stop.append(stop.wait(timeout=60))  # returns at once when the executor stops
        raise Cancelled("stopped")

    before = blas_threads()
    work = replace(work_of(spec, data, groups), fn=group_fn)
    it = ThreadExecutor(2).map_groups(work, groups)
    first, _ = next(it)
    assert first is groups[0]
    it.close()  # what Ctrl-C in the driver does: the generator is closed
    # the groups running when it closed (one or two: a thread may have taken the next group)
    # were told to stop, and the others were never started
    assert saw_stop == [True] * (len(started) - 1)
    assert 2 <= len(started) <= 3 < len(groups)
    assert blas_threads() == before


def test_train_group_raises_cancelled_once_stop_is_set(write_spec):
    spec = lrsweep.load_spec(write_spec(WIDE))
    data = lrsweep.load_data(spec)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled, match="step 0"):
        train_group(lrsweep.plan_sweep(spec).groups[0], data, stop=stop)


@pytest.mark.parametrize("make", [SerialExecutor, ThreadExecutor, ProcessExecutor])
def test_every_epoch_of_a_running_group_reaches_the_driver(write_spec, make):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    data = lrsweep.load_data(spec)
    groups = lrsweep.plan_sweep(spec).groups
    reports: dict[str, list[tuple[int, int]]] = {}
    threads = set()
    finished_before: dict[str, int] = {}

    def on_epoch(group, epoch, n_active):
        threads.add(threading.current_thread())
        reports.setdefault(group.runs[0].run_id, []).append((epoch, n_active))

    executor = make() if make is SerialExecutor else make(2)
    with executor:
        for group, results in executor.map_groups(work_of(spec, data, groups), groups, on_epoch):
            key = group.runs[0].run_id
            finished_before[key] = len(reports.get(key, []))
            assert [r.run_id for r in results] == [r.run_id for r in group.runs]
    assert threads == {threading.main_thread()}  # reported in the driver's thread
    for group in groups:
        key = group.runs[0].run_id
        epochs = [e for e, _ in reports[key]]
        assert epochs == list(range(1, spec.train.epochs + 1))
        assert all(0 < n <= len(group.runs) for _, n in reports[key])
        # every epoch was reported before (or with) the group's results
        assert finished_before[key] == spec.train.epochs


def test_the_sweep_progress_moves_with_every_epoch(write_spec, tmp_path):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    seen: list[tuple[float, int]] = []
    runs: list[int] = []
    lrsweep.run_sweep(
        spec,
        tmp_path / "out",
        on_event=lambda e: (
            seen.append((e.done, e.total))
            if isinstance(e, Progress)
            else runs.append(e.done)
            if isinstance(e, RunDone)
            else None
        ),
    )
    total = 2 * 9
    assert {t for _, t in seen} == {total}
    # two groups of 9 runs, 3 epochs each: a report at every epoch, each
    # counting the running group's epochs as thirds of its 9 runs
    assert [d for d, _ in seen] == [3, 6, 9, 12, 15, 18]
    assert runs[-1] == total
