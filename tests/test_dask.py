"""The dask executor against a real LocalCluster on 127.0.0.1 (two worker processes)."""

from __future__ import annotations

import os
import signal

import pytest

import lrsweep
from lrsweep.errors import ExecutorError
from lrsweep.executors import DaskExecutor
from lrsweep.spec import load_spec

from .conftest import assert_same_results, on_run, read_untimed

distributed = pytest.importorskip("distributed")

SPEC = """\
name: dask-test
data: {builtin: moons, n_samples: 300, noise: 0.2}
model: {hidden: [16]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 4, batch_size: 16, seeds: 2}
grid: {lr_min: 1e-3, lr_max: 10, points_per_decade: 2}
execution: {group_size: 2}
"""


def local_cluster(n_workers: int):
    """A real dask cluster on 127.0.0.1: worker processes with one thread each."""
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as c:
        yield c


def test_cluster_sweep_equals_local_sweep(cluster, write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC))
    lrsweep.run_sweep(spec, tmp_path / "local")
    with DaskExecutor(cluster.scheduler_address) as executor:
        assert executor.jobs == 2
        lrsweep.run_sweep(spec, tmp_path / "dask", executor=executor)
    assert_same_results(tmp_path / "local", tmp_path / "dask")


def test_a_killed_worker_loses_no_run(cluster, write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC.replace("epochs: 4", "epochs: 40")))
    killed = []
    with DaskExecutor(cluster.scheduler_address) as executor:
        pids = executor.client.run(os.getpid)

        def kill_one(row, done, total):
            if not killed:
                pid = next(iter(pids.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        lrsweep.run_sweep(spec, tmp_path / "r", executor=executor, on_event=on_run(kill_one))
    assert killed
    rows = read_untimed(tmp_path / "r" / "runs.csv")
    assert len(rows) == len({r["run_id"] for r in rows})
    planned = lrsweep.plan_sweep(spec).runs
    assert sorted(r["run_id"] for r in rows) == sorted(r.run_id for r in planned)
    assert {r["status"] for r in rows} <= {"ok", "diverged"}
    journal = (tmp_path / "r" / "journal.jsonl").read_text().splitlines()
    assert sum('"event": "done"' in line for line in journal) == len(planned)


def test_unreachable_scheduler_is_exit_3_not_a_hang():
    with pytest.raises(ExecutorError, match=r"cannot reach tcp://127\.0\.0\.1:9 within 1s"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1)


def test_scheduler_without_workers_times_out():
    with distributed.LocalCluster(
        n_workers=0, host="127.0.0.1", dashboard_address=":0", processes=True
    ) as empty:
        with pytest.raises(ExecutorError, match=r"has no workers after 1s"):
            DaskExecutor(empty.scheduler_address, worker_timeout=1)


def test_a_scheduler_lost_mid_sweep_is_exit_3_and_keeps_finished_runs(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC.replace("epochs: 4", "epochs: 30")))
    doomed = local_cluster(1)
    try:
        with DaskExecutor(doomed.scheduler_address, connect_timeout=3) as executor:

            def lose_the_scheduler(row, done, total):
                if done == 1:
                    doomed.close()

            with pytest.raises(ExecutorError, match=r"lost tcp://127\.0\.0\.1:\d+ mid-sweep"):
                lrsweep.run_sweep(
                    spec, tmp_path / "r", executor=executor, on_event=on_run(lose_the_scheduler)
                )
    finally:
        doomed.close()
    kept = read_untimed(tmp_path / "r" / "runs.csv")
    assert kept and all(r["status"] in ("ok", "diverged") for r in kept)
    assert not (tmp_path / "r" / ".lock").exists()


def test_a_worker_that_joins_with_another_numpy_fails_its_groups_with_the_reason(
    write_spec, tmp_path
):
    import subprocess
    import sys
    import time

    import numpy

    spec = load_spec(write_spec(SPEC))
    fake = tmp_path / "other_numpy.py"
    fake.write_text("import numpy\nnumpy.__version__ = '0.0.other'\n")
    with local_cluster(1) as c, DaskExecutor(c.scheduler_address) as executor:
        good = list(executor._workers())
        late = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", c.scheduler_address,
             "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
             "--preload", str(fake)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while len(executor.client.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, "the late worker never joined"
                time.sleep(0.1)
            executor.client.retire_workers(good)  # every group now goes to the late worker
            summary = lrsweep.run_sweep(spec, tmp_path / "r", executor=executor)
        finally:
            late.kill()
            late.wait()
    rows = read_untimed(tmp_path / "r" / "runs.csv")
    assert summary["status_counts"]["failed"] == len(rows) > 0
    assert all(
        f"numpy 0.0.other (driver {numpy.__version__}); install the driver's versions"
        in r["message"]
        for r in rows
    )


def test_killing_every_worker_is_reported_as_that(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC.replace("epochs: 4", "epochs: 30")))
    with local_cluster(2) as c, DaskExecutor(c.scheduler_address, worker_timeout=3) as executor:
        pids = executor.client.run(os.getpid)

        def kill_every_worker(row, done, total):
            if done == 1:
                for nanny in c.workers.values():
                    nanny.auto_restart = False
                for pid in pids.values():
                    os.kill(pid, signal.SIGKILL)

        with pytest.raises(ExecutorError) as caught:
            lrsweep.run_sweep(
                spec, tmp_path / "r", executor=executor, on_event=on_run(kill_every_worker)
            )
    message = str(caught.value)
    assert "lost" not in message.split(":")[0] and "scheduler" not in message
    assert "the workers died mid-sweep" in message or "every worker is gone" in message
    assert read_untimed(tmp_path / "r" / "runs.csv")


COMMAND_SCRIPT = """\
import argparse, lrsweep
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); a = p.parse_args()
for e in range(1, 4):
    lrsweep.report(epoch=e, val_loss=(a.lr - 0.05) ** 2 + 1.0 / e)
"""


def test_a_users_command_runs_on_the_cluster_and_a_worker_that_cannot_see_it_is_one_line(
    cluster, tmp_path
):
    import functools
    import sys
    from dataclasses import replace

    from lrsweep.script import check_visible
    from lrsweep.trainer import make_trainer

    (tmp_path / "model.py").write_text(COMMAND_SCRIPT)
    python = sys.executable
    (tmp_path / "spec.yaml").write_text(
        f"name: cmd\ntrainer: {{command: [{python}, model.py, --lr, '{{lr}}']}}\n"
        "train: {epochs: 3, seeds: 1}\ngrid: {lr_min: 0.01, lr_max: 1, points_per_decade: 1}\n"
    )
    spec = load_spec(tmp_path / "spec.yaml")
    lrsweep.run_sweep(spec, tmp_path / "local")
    with DaskExecutor(cluster.scheduler_address) as executor:
        lrsweep.run_sweep(spec, tmp_path / "dask", executor=executor)
        assert read_untimed(tmp_path / "local" / "runs.csv") == read_untimed(
            tmp_path / "dask" / "runs.csv"
        )
        trainer = make_trainer(spec)
        groups = trainer.pack(spec, lrsweep.plan_sweep(spec, trainer=trainer).runs)
        blind = functools.partial(check_visible, ("/nonexistent/lrsweep/model.py",))
        work = replace(trainer.work(groups, tmp_path / "x"), preflight=blind)
        with pytest.raises(ExecutorError, match=r"cannot see /nonexistent/lrsweep/model\.py"):
            list(executor.map_groups(work, groups))
