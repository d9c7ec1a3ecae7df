"""A run that raises, a worker process that dies, a full disk: the sweep survives each."""

from __future__ import annotations

import errno
import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import lrsweep
from lrsweep import mlp as trainer_module
from lrsweep import orchestrate as sweep
from lrsweep.cli import cli
from lrsweep.executors import MAX_POOL_RESTARTS, ProcessExecutor
from lrsweep.spec import load_spec
from lrsweep.training import train_group

from .conftest import read_csv


def test_a_run_that_raises_is_failed_exit_1_and_resume_reruns_only_it(
    tiny_spec, tmp_path, monkeypatch
):
    spec_path, out = tiny_spec(), tmp_path / "r"
    with spec_path.open("a") as f:
        f.write("execution: {group_size: 2}\n")  # groups of 2, seed-major: one per seed

    def flaky(group, data, **kwargs):
        if group.seed == 1:  # the whole lockstep group of seed 1 fails
            raise FloatingPointError("simulated bug")
        return train_group(group, data, **kwargs)

    monkeypatch.setattr(trainer_module, "train_group", flaky)
    result = CliRunner().invoke(
        cli, ["run", str(spec_path), "--out", str(out), "--jobs", "1", "--no-plots"]
    )
    assert result.exit_code == 1
    assert result.stderr.endswith("runs failed; run the same command again to retry them\n")
    rows = read_csv(out / "runs.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    assert {int(r["seed"]) for r in failed} == {1} and len(failed) == 2 and len(rows) == 4
    assert failed[0]["message"].startswith("FloatingPointError: simulated bug (at ")
    ok_before = {r["run_id"]: r for r in rows if r["status"] == "ok"}

    monkeypatch.setattr(trainer_module, "train_group", train_group)
    trained = []

    def counting(group, data, **kwargs):
        trained.extend(r.seed for r in group.runs)
        return train_group(group, data, **kwargs)

    monkeypatch.setattr(trainer_module, "train_group", counting)
    again = CliRunner().invoke(
        cli, ["run", str(spec_path), "--out", str(out), "--jobs", "1", "--no-plots"]
    )
    assert again.exit_code == 0
    assert set(trained) == {1}  # only the failed runs' group was trained again
    rows = read_csv(out / "runs.csv")
    assert {r["status"] for r in rows} <= {"ok", "diverged"} and len(rows) == 4
    for run_id, row in ok_before.items():
        assert next(r for r in rows if r["run_id"] == run_id) == row


def kill_once(group, data, **kwargs):
    """Kill this worker process the first time it sees the highest LR (a marker file)."""
    marker = Path(os.environ["LRSWEEP_TEST_MARKER"])
    if max(r.lr for r in group.runs) >= 0.1 and not marker.exists():
        marker.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return train_group(group, data, **kwargs)


def kill_always(group, data, **kwargs):
    if max(r.lr for r in group.runs) >= 0.1:
        os.kill(os.getpid(), signal.SIGKILL)
    return train_group(group, data, **kwargs)


def test_a_killed_worker_process_is_replaced_and_its_group_retried(
    tiny_spec, tmp_path, monkeypatch
):
    monkeypatch.setenv("LRSWEEP_TEST_MARKER", str(tmp_path / "marker"))
    spec = load_spec(tiny_spec(seeds=2))
    plan = sweep.plan_sweep(spec)
    work = replace(lrsweep.make_trainer(spec).work(plan.groups), fn=kill_once)
    with ProcessExecutor(2) as executor:
        got = list(executor.map_groups(work, plan.groups))
    assert (tmp_path / "marker").exists()
    results = [r for _, rs in got for r in rs]
    assert sorted(r.run_id for r in results) == sorted(r.run_id for r in plan.runs)
    assert all(r.status.value in ("ok", "diverged") for r in results)


def test_a_group_that_kills_every_worker_ends_failed(tiny_spec):
    spec = load_spec(tiny_spec(seeds=1))
    plan = sweep.plan_sweep(spec)
    work = replace(lrsweep.make_trainer(spec).work(plan.groups), fn=kill_always)
    with ProcessExecutor(2) as executor:
        got = list(executor.map_groups(work, plan.groups))
    results = {r.run_id: r for _, rs in got for r in rs}
    assert len(results) == len(plan.runs)
    failed = [r for r in results.values() if r.status.value == "failed"]
    assert failed and all(f"died {MAX_POOL_RESTARTS + 1} times" in r.message for r in failed)


def test_a_full_disk_is_exit_3_and_leaves_no_half_file(tiny_spec, tmp_path, monkeypatch):
    out = tmp_path / "r"
    spec_path = tiny_spec()
    assert (
        CliRunner()
        .invoke(cli, ["run", str(spec_path), "--out", str(out), "--jobs", "1", "--no-plots"])
        .exit_code
        == 0
    )
    before = (out / "runs.csv").read_bytes()
    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith(".csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    other = tiny_spec(epochs=3)
    result = CliRunner().invoke(
        cli, ["run", str(other), "--out", str(tmp_path / "r2"), "--jobs", "1", "--no-plots"]
    )
    assert result.exit_code == 3
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert not list((tmp_path / "r2").rglob("*.tmp-*"))
    assert (out / "runs.csv").read_bytes() == before  # earlier results untouched


def test_a_ctrl_c_that_a_library_wrapped_is_an_interrupt_not_a_failed_run():
    # pydantic turns a KeyboardInterrupt raised in a serializer into its own error; a sweep
    # interrupted there once recorded the running group as failed and went on
    import pydantic_core

    from lrsweep.errors import is_interrupt
    from lrsweep.executors import run_group_safely

    wrapped = pydantic_core.PydanticSerializationError(
        "Error calling function `_omit_default_lr_free`: KeyboardInterrupt: "
    )
    assert is_interrupt(wrapped)
    assert not is_interrupt(ValueError("bad value"))
    try:
        raise RuntimeError("outer") from KeyboardInterrupt()
    except RuntimeError as chained:
        assert is_interrupt(chained)

    def interrupted(group, data, **kwargs):
        raise wrapped

    with pytest.raises(KeyboardInterrupt):
        run_group_safely(interrupted, None, None)  # type: ignore[arg-type]
