"""The automatic strategy (group sizes, in-process or a pool) changes the speed, never the numbers.

No test here is timed: the speed is the benchmark's business (benchmarks/bench_training.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import lrsweep
from lrsweep.cli import cli
from lrsweep.executors import (
    LocalExecutor,
    ProcessExecutor,
    SerialExecutor,
    data_shape,
    execution_choice,
    make_executor,
)
from lrsweep.grid import (
    LOCKSTEP_MAX_BYTES,
    LOCKSTEP_MAX_FLOP,
    make_groups,
    member_bytes,
    plan_runs,
    step_flops,
)
from lrsweep.training import compact_dataset, model_arrays, train_group

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
        in_pool = {g.runs[0].run_id: r for g, r in pool.map_groups(train_group, plan.groups, data)}
    serial = {
        g.runs[0].run_id: r for g, r in SerialExecutor().map_groups(train_group, plan.groups, data)
    }
    assert in_pool.keys() == serial.keys()
    for key, results in serial.items():
        assert [r.history for r in results] == [r.history for r in in_pool[key]]


def test_small_work_stays_in_process_and_large_work_uses_a_pool(write_spec):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    data = lrsweep.load_data(spec)
    groups = lrsweep.plan_sweep(spec).groups
    in_process, _, why = execution_choice(groups, data_shape(data), jobs=2)
    assert in_process and "would take" in why
    assert execution_choice(groups, data_shape(data), jobs=1)[0]
    assert execution_choice(groups[:1], data_shape(data), jobs=2)[0]  # one group: in-process
    n_train, n_val, n_features, n_outputs = data_shape(data)
    big = (n_train * 1000, n_val, n_features, n_outputs)  # same groups, 1000x the rows
    assert not execution_choice(groups, big, jobs=2)[0]
    assert execution_choice(groups, data_shape(data), jobs=2, pool_started=True)[0] is False

    with make_executor(2) as executor:
        assert isinstance(executor, LocalExecutor)
        got = list(executor.map_groups(train_group, groups, data))
        assert executor.last_choice is not None and executor.last_choice[0]
        assert not executor._processes.started  # no worker was started for this
    assert len(got) == len(groups)


def test_group_size_depends_on_the_spec_not_on_jobs(write_spec):
    spec = lrsweep.load_spec(write_spec(spec_text()))
    runs = plan_runs(spec, np.logspace(-3, 0, 40), 0)
    sizes = [len(g.runs) for g in make_groups(spec, runs, 2, 2)]
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
    assert max(len(g.runs) for g in make_groups(wide, runs, 2, 2)) <= by_memory


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
