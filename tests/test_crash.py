"""Crashes and interruptions: SIGKILL then resume, SIGINT/SIGTERM with exit 130, locks, torn
journal lines, and leftover temp files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lrsweep
from lrsweep.costs import data_shape, execution_choice
from lrsweep.errors import LockError
from lrsweep.results import ResultsDir
from lrsweep.spec import load_spec

from .conftest import SLOW_SPEC, on_warning, read_untimed


def done_lines(out: Path) -> int:
    journal = out / "journal.jsonl"
    if not journal.exists():
        return 0
    return sum('"event": "done"' in line for line in journal.read_text().splitlines())


def run_command(spec: Path, out: Path, jobs: str = "1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "lrsweep",
        "run",
        str(spec),
        "--out",
        str(out),
        "--jobs",
        jobs,
        "--no-plots",
    ]


def start(spec: Path, out: Path, jobs: str = "1") -> subprocess.Popen[str]:
    return subprocess.Popen(
        run_command(spec, out, jobs), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_runs(out: Path, n: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while done_lines(out) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.02)


def assert_same_as(reference: Path, out: Path) -> None:
    assert read_untimed(out / "runs.csv") == read_untimed(reference / "runs.csv")
    names = sorted(p.name for p in (reference / "histories").iterdir())
    assert sorted(p.name for p in (out / "histories").iterdir()) == names
    for name in names:
        assert (out / "histories" / name).read_bytes() == (
            reference / "histories" / name
        ).read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    spec = folder / "spec.yaml"
    spec.write_text(SLOW_SPEC)
    lrsweep.run_sweep(load_spec(spec), folder / "out")
    return spec, folder / "out"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigkill_then_resume_equals_an_uninterrupted_sweep(reference, tmp_path, jobs):
    spec, ref = reference
    out = tmp_path / "r"
    proc = start(spec, out, jobs)
    wait_for_runs(out, 3, proc)
    proc.kill()
    proc.wait()
    partial = done_lines(out)
    assert 3 <= partial < len(read_untimed(ref / "runs.csv"))
    again = subprocess.run(run_command(spec, out), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert_same_as(ref, out)
    rows = read_untimed(out / "runs.csv")
    assert len({r["run_id"] for r in rows}) == len(rows)
    assert done_lines(out) == len(rows)  # every run journaled exactly once
    assert not list(out.rglob("*.tmp-*")) and not (out / ".lock").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_exits_130_with_the_resume_command(reference, tmp_path, sig):
    spec, ref = reference
    out = tmp_path / "r"
    proc = start(spec, out)
    wait_for_runs(out, 2, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    resume = f"lrsweep run {spec} --out {out}"
    assert f"Interrupted: finished runs are kept. Resume with: {resume}" in stderr
    assert "Traceback" not in stderr
    kept = read_untimed(out / "runs.csv")
    assert len(kept) == done_lines(out) >= 2
    lrsweep.run_sweep(load_spec(spec), out)
    assert_same_as(ref, out)


# compute-bound (40 MFLOP a step, groups of one): `--jobs 2` trains two groups at a time in
# threads, each ~0.5 s
THREADED_SPEC = """\
name: crash-threads
data: {builtin: teacher, n_samples: 1000, n_features: 200, noise: 0.1}
model: {hidden: [256]}
train: {epochs: 60, batch_size: 128, seeds: 1}
grid: {lr_min: 1e-4, lr_max: 1e-2, points_per_decade: 3}
"""


def test_ctrl_c_stops_a_sweep_running_in_threads(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(THREADED_SPEC)
    loaded = load_spec(spec)
    plan = lrsweep.plan_sweep(loaded)
    data = lrsweep.load_data(loaded)
    assert execution_choice(plan.groups, data_shape(data), 2)[0] == "threads"
    out = tmp_path / "r"
    proc = start(spec, out, jobs="2")
    wait_for_runs(out, 2, proc)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Interrupted: finished runs are kept." in stderr and "Traceback" not in stderr
    assert time.monotonic() - began < 10  # the running groups stopped, not ran to the end
    kept = read_untimed(out / "runs.csv")
    assert 2 <= len(kept) == done_lines(out) < len(plan.runs)
    lrsweep.run_sweep(loaded, out)  # resume in this process
    lrsweep.run_sweep(loaded, tmp_path / "ref")  # uninterrupted, in this process
    assert_same_as(tmp_path / "ref", out)


def test_a_second_sweep_into_a_locked_dir_is_refused(tiny_spec, tmp_path):
    spec = load_spec(tiny_spec())
    results = ResultsDir.create(tmp_path / "r", spec)
    with results.locked():
        with pytest.raises(LockError, match=rf"in use by process {os.getpid()} on "):
            lrsweep.run_sweep(spec, tmp_path / "r")


def test_a_lock_left_by_a_dead_process_is_taken_over(tiny_spec, tmp_path):
    spec = load_spec(tiny_spec())
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    results = ResultsDir.create(tmp_path / "r", spec)
    import socket

    (tmp_path / "r" / ".lock").write_text(
        json.dumps({"pid": int(dead), "host": socket.gethostname()})
    )
    warnings: list[str] = []
    summary = lrsweep.run_sweep(spec, tmp_path / "r", on_event=on_warning(warnings.append))
    assert summary["n_runs"] == 4 and not (tmp_path / "r" / ".lock").exists()
    assert warnings == [
        f"{tmp_path / 'r'}: took over the lock left by process {dead} on"
        f" {socket.gethostname()}, no longer running"
    ]
    assert results.path == tmp_path / "r"


def test_torn_journal_line_and_temp_files_are_cleaned(tiny_spec, tmp_path):
    spec = load_spec(tiny_spec())
    out = tmp_path / "r"
    lrsweep.run_sweep(spec, out)
    reference = read_untimed(out / "runs.csv")
    journal = out / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    last_done = max(i for i, line in enumerate(lines) if '"event": "done"' in line)
    torn = lines[last_done][: len(lines[last_done]) // 2]
    journal.write_text("".join(lines[:last_done]) + torn)  # killed mid-append
    (out / "runs.csv.tmp-999").write_text("half a fi")
    (out / "histories" / "x.csv.tmp-999").write_text("half")
    lrsweep.run_sweep(spec, out)  # resumes: re-trains only the run whose line was torn
    assert read_untimed(out / "runs.csv") == reference
    assert not list(out.rglob("*.tmp-*"))
    records = ResultsDir(out, spec).read_journal()
    assert sum(r["event"] == "done" for r in records) == 4


def test_results_path_is_a_file(tiny_spec, tmp_path):
    target = tmp_path / "file"
    target.write_text("precious")
    from click.testing import CliRunner

    from lrsweep.cli import cli

    result = CliRunner().invoke(cli, ["run", str(tiny_spec()), "--out", str(target)])
    assert result.exit_code == 3
    assert result.stderr == f"Error: {target}: exists and is not a folder\n"
    assert target.read_text() == "precious"
