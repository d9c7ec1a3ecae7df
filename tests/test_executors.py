"""One contract, every executor: serial, threads, local processes and a dask cluster.

The contract (`lrsweep.executors`): every group is yielded once with one result per run; the
numbers equal those of this process, bit for bit, whatever the executor; a group whose function
raises yields ``FAILED`` results carrying the message while the other groups go on; epoch
reports arrive in the caller's thread for the local executors.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

import lrsweep
from lrsweep.executors import ProcessExecutor, SerialExecutor, ThreadExecutor
from lrsweep.records import RunStatus
from lrsweep.training import train_group

SPEC = """\
name: contract
data: {builtin: moons, n_samples: 200, noise: 0.2}
model: {hidden: [8]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 3, batch_size: 16, seeds: 2}
grid: {lr_min: 1e-2, lr_max: 10, points_per_decade: 1}
execution: {group_size: 2}
"""


def fail_high_lr(group, data, **kwargs):
    """Top-level (picklable): the group holding the highest LR raises, the others train."""
    if max(r.lr for r in group.runs) >= 10:
        raise FloatingPointError("simulated failure")
    return train_group(group, data, **kwargs)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as c:
        yield c


@pytest.fixture(params=["serial", "threads", "processes", "dask"])
def executor(request):
    if request.param == "serial":
        made = SerialExecutor()
    elif request.param == "threads":
        made = ThreadExecutor(2)
    elif request.param == "processes":
        made = ProcessExecutor(2)
    else:
        made = lrsweep.make_executor(
            scheduler=request.getfixturevalue("cluster").scheduler_address
        )
    with made:
        yield request.param, made


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "spec.yaml"
    path.write_text(SPEC)
    spec = lrsweep.load_spec(path)
    groups = lrsweep.plan_sweep(spec).groups
    work = lrsweep.make_trainer(spec).work(groups)  # train_group on the data, cast once
    reference = {
        r.run_id: r for _, results in SerialExecutor().map_groups(work, groups) for r in results
    }
    return groups, work, reference


class TestExecutorContract:
    def test_every_group_once_with_the_same_numbers(self, executor, planned):
        _, ex = executor
        groups, work, reference = planned
        seen = []
        for group, results in ex.map_groups(work, groups):
            seen.append(group)
            assert [r.run_id for r in results] == [run.run_id for run in group.runs]
            for r in results:
                ref = reference[r.run_id]
                assert r.status == ref.status and r.epochs_done == ref.epochs_done
                assert r.history == ref.history  # bit for bit (dataclass equality of floats)
        assert len(seen) == len(groups)
        assert {r.run_id for g in seen for r in g.runs} == set(reference)

    def test_a_raising_group_fails_alone(self, executor, planned):
        _, ex = executor
        groups, work, reference = planned
        statuses = {}
        for _, results in ex.map_groups(replace(work, fn=fail_high_lr), groups):
            for r in results:
                statuses[r.run_id] = r
        failed = {k for k, r in statuses.items() if r.status is RunStatus.FAILED}
        high = {run.run_id for g in groups if max(x.lr for x in g.runs) >= 10 for run in g.runs}
        assert failed == high and failed
        assert all("FloatingPointError: simulated failure" in statuses[k].message for k in failed)
        for k in set(reference) - failed:
            assert statuses[k].history == reference[k].history

    def test_epoch_reports_reach_the_callers_thread(self, executor, planned):
        name, ex = executor
        groups, work, _ = planned
        reports = []
        caller = threading.get_ident()

        def on_epoch(group, epoch, n_active):
            assert threading.get_ident() == caller
            reports.append((id(group), epoch))

        list(ex.map_groups(work, groups, on_epoch))
        if name == "dask":  # a cluster reports finished groups only (documented)
            return
        epochs = max(g.epochs for g in groups)
        for g in groups:
            mine = sorted(e for gid, e in reports if gid == id(g))
            assert mine == list(range(1, len(mine) + 1)) and 1 <= len(mine) <= epochs
        assert np.unique([gid for gid, _ in reports]).size == len(groups)
