"""Issue 15, "never lose or mix results": the lock, --overwrite, damaged folders, orphans,
memory estimates, numbers at the edges and one-line messages (one test per item at least)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import lrsweep
from lrsweep.cli import cli
from lrsweep.errors import LockError, ResultsError
from lrsweep.lock import LOCK_NAME, hold_lock
from lrsweep.spec import load_spec

from .conftest import SLOW_SPEC, on_warning


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def lrsweep_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "lrsweep", *map(str, args)]


def done_lines(out: Path) -> int:
    journal = out / "journal.jsonl"
    if not journal.exists():
        return 0
    return journal.read_text().count('"event": "done"')


def without_seconds(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return [
        {k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(io.StringIO(text))
    ]


def wait_for(condition, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


# -- 2. the lock --------------------------------------------------------------------------------


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale-lock-present"])
def test_a_same_instant_race_for_the_lock_has_exactly_one_winner(tmp_path, stale):
    """200 races of two acquisitions released by one barrier: one winner, one LockError."""
    dead = {"pid": 2**22 + 17, "host": socket.gethostname()}

    def contend(folder: Path, start: threading.Barrier, attempted: threading.Barrier,
                outcome: list[str]) -> None:  # fmt: skip
        start.wait()
        try:
            with hold_lock(folder):
                outcome.append("won")
                attempted.wait()  # hold it until the other has tried
        except LockError:
            outcome.append("lost")
            attempted.wait()

    for trial in range(100):
        folder = tmp_path / str(trial)
        folder.mkdir()
        if stale:
            (folder / LOCK_NAME).write_text(json.dumps(dead))
        barriers = threading.Barrier(2), threading.Barrier(2)
        outcome: list[str] = []
        threads = [
            threading.Thread(target=contend, args=(folder, *barriers, outcome)) for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcome) == ["lost", "won"], (trial, outcome)
        assert not (folder / LOCK_NAME).exists()


def test_processes_racing_for_the_lock_never_both_hold_it(tmp_path):
    """Four processes acquire and release in a tight loop; a holder checks it is alone."""
    script = f"""
import os, sys, time
sys.path.insert(0, {str(Path(lrsweep.__file__).parent.parent)!r})
from lrsweep.errors import LockError
from lrsweep.lock import hold_lock
folder = sys.argv[1]
wins = 0
end = time.monotonic() + 0.5
while time.monotonic() < end:
    try:
        with hold_lock(folder):
            fd = os.open(os.path.join(folder, "holder"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
            wins += 1
            os.unlink(os.path.join(folder, "holder"))
    except LockError:
        pass
print(wins)
"""
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs  # FileExistsError = two holders
    assert sum(int(out) for out, _ in outputs) > 0


def test_the_lock_dies_with_its_holder_and_names_it_while_alive(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lrsweep.lock import hold_lock\n"
         "with hold_lock(sys.argv[1]):\n print('held', flush=True); time.sleep(60)",
         str(tmp_path)], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(LockError, match=rf"in use by process {holder.pid} on "):
        with hold_lock(tmp_path):
            pass
    holder.kill()
    holder.wait()
    warnings: list[str] = []
    with hold_lock(tmp_path, warnings.append):  # no guessing: the OS released it
        pass
    assert warnings == [
        f"{tmp_path}: took over the lock left by process {holder.pid} on"
        f" {socket.gethostname()}, no longer running"
    ]


# -- 1. --overwrite while a sweep runs ---------------------------------------------------------


def test_overwrite_during_a_running_sweep_is_refused_and_changes_nothing(tmp_path, tiny_spec):
    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    out = tmp_path / "r"
    proc = subprocess.Popen(
        lrsweep_command("run", spec, "--out", out, "--jobs", "1", "--no-plots"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: done_lines(out) >= 3, proc)
        before = {p.name: p.read_bytes() for p in (out / "histories").iterdir()}
        spec_text = (out / "spec.yaml").read_text()
        result = invoke("run", tiny_spec(), "--out", out, "--overwrite", "--jobs", "1")
        assert result.exit_code == 3
        assert result.stderr == (
            f"Error: {out}: in use by process {proc.pid} on {socket.gethostname()} (lock file"
            f" {out / LOCK_NAME}); wait for it or stop it\n"
        )
        assert (out / "spec.yaml").read_text() == spec_text
        for name, data in before.items():
            assert (out / "histories" / name).read_bytes() == data
        assert proc.wait(timeout=120) == 0, proc.communicate()
    finally:
        proc.kill()
        proc.wait()
    rows = (out / "runs.csv").read_text().splitlines()[1:]
    assert len(rows) == len(lrsweep.plan_sweep(load_spec(spec)).runs) == done_lines(out)


# -- 4. a folder damaged by hand ----------------------------------------------------------------


def test_a_deleted_spec_yaml_is_refused_not_resumed_by_another_spec(tiny_spec, tmp_path):
    out = tmp_path / "r"
    lrsweep.run_sweep(load_spec(tiny_spec()), out)
    (out / "spec.yaml").unlink()
    journal = (out / "journal.jsonl").read_text()
    other = load_spec(tiny_spec(lr_max="0.3"))
    with pytest.raises(ResultsError, match=r"has journal\.jsonl but no spec\.yaml"):
        lrsweep.run_sweep(other, out)
    assert (out / "journal.jsonl").read_text() == journal
    with pytest.raises(ResultsError, match=r"journal.jsonl but no spec.yaml"):
        lrsweep.refine(out)


def test_a_replaced_spec_yaml_does_not_adopt_the_old_journal(tiny_spec, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    lrsweep.run_sweep(load_spec(tiny_spec()), a)
    lrsweep.run_sweep(load_spec(tiny_spec(lr_max="0.3")), b)
    (a / "spec.yaml").write_bytes((b / "spec.yaml").read_bytes())  # copied over by hand
    with pytest.raises(ResultsError, match=r"journal.jsonl: written for spec hash \w+, but"):
        lrsweep.run_sweep(load_spec(tiny_spec(lr_max="0.3")), a)
    with pytest.raises(ResultsError, match="the folder mixes two specs"):
        lrsweep.read_summary(a)


@pytest.mark.parametrize("damage", ["empty", "cut", "garbled", "header-only"])
def test_a_damaged_history_is_trained_again(tiny_spec, tmp_path, damage):
    out = tmp_path / "r"
    spec = load_spec(tiny_spec(epochs=3))
    lrsweep.run_sweep(spec, out)
    reference = (out / "runs.csv").read_text()
    victim = sorted((out / "histories").iterdir())[0]
    whole = victim.read_bytes()
    lines = whole.splitlines(keepends=True)
    victim.write_bytes({
        "empty": b"",
        "cut": b"".join(lines[:-1]),
        "garbled": b"".join(lines[:-1]) + lines[-1][:7],
        "header-only": lines[0],
    }[damage])  # fmt: skip
    warnings: list[str] = []
    lrsweep.run_sweep(spec, out, on_event=on_warning(warnings.append))
    assert victim.read_bytes() == whole
    assert without_seconds((out / "runs.csv").read_text()) == without_seconds(reference)
    assert len(warnings) == 1 and warnings[0].startswith(f"{victim}: damaged (")
    assert warnings[0].endswith("the run will be trained again")


# -- 6. orphans ---------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in found.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


@pytest.mark.skipif(sys.platform != "linux", reason="lists children with pgrep -P and /proc")
def test_sigkill_of_the_driver_leaves_no_worker_alive(tmp_path):
    spec = tmp_path / "slow.yaml"
    spec.write_text(SLOW_SPEC)
    proc = subprocess.Popen(
        lrsweep_command("run", spec, "--out", tmp_path / "r", "--jobs", "2", "--no-plots"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(lambda: len(children(proc.pid)) >= 3, proc)  # two workers and the resource tracker
    workers = children(proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in workers if alive(p)]
    for p in left:
        os.kill(p, 9)
    assert not left, "processes outlived their driver by 5 s"


# -- 7. memory before allocation ---------------------------------------------------------------

HUGE_MODEL = """\
name: huge
data: {builtin: moons, n_samples: 200}
model: {hidden: [65536, 65536]}
grid: {lr_min: 1e-3, lr_max: 1e-1}
"""


@pytest.mark.parametrize("command", ["validate", "run", "dry-run"])
def test_a_model_that_cannot_fit_is_refused_in_under_a_second(write_spec, tmp_path, command):
    spec = write_spec(HUGE_MODEL)
    args = {"validate": ["validate", spec], "run": ["run", spec, "--out", tmp_path / "r"],
            "dry-run": ["run", spec, "--dry-run"]}[command]  # fmt: skip
    started = time.perf_counter()
    result = invoke(*args)
    assert time.perf_counter() - started < 1.0
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {spec}: model 2-65536-65536-2: needs about 82.1 GiB of memory (one run,"
    )
    assert result.stderr.endswith("available; lower model.hidden\n")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "r").exists()


def test_a_builtin_that_cannot_fit_is_refused_before_it_is_generated(write_spec):
    spec = write_spec("data: {builtin: teacher, n_samples: 1000000, n_features: 10000}\n")
    started = time.perf_counter()
    result = invoke("run", spec, "--dry-run")
    assert time.perf_counter() - started < 1.0
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {spec}: data: the teacher builtin of 1000000 samples needs about 224 GiB"
    )


def test_groups_at_once_that_cannot_fit_ask_for_fewer_jobs(tiny_spec, monkeypatch):
    from lrsweep.costs import check_memory, member_bytes

    spec = load_spec(tiny_spec())
    one = member_bytes(spec, 2, 2)
    check_memory(spec, (96, 24, 2, 2), [1, 1, 1, 1], 1, available=10 * one)
    with pytest.raises(lrsweep.SpecError, match=r"\(4 groups of 1 runs at once, .*--jobs$"):
        check_memory(spec, (96, 24, 2, 2), [1, 1, 1, 1], 4, available=4 * one)
    with pytest.raises(lrsweep.SpecError, match=r"\(a group of 4 runs, .*group_size lower$"):
        check_memory(spec, (96, 24, 2, 2), [4], 2, available=4 * one)
    monkeypatch.setenv("LRSWEEP_MEMORY_BYTES", str(one))
    with pytest.raises(lrsweep.SpecError, match=r"\(one run, .*lower model\.hidden$"):
        lrsweep.plan_sweep(spec)


# -- 9. numbers at the edges --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("grid: {lr_max: 1e308}", ":3:8: grid.lr_max: must be <= 1e+06, got 1e+308"),
        ("grid: {lr_min: 5e-324}", ":3:8: grid.lr_min: must be >= 1e-12, got 5e-324"),
        ("train: {seeds: 1" + "0" * 5000 + "}", ":3:16: integers must have at most 30 digits"),
        ("name: a\x07b", ":3:8: control character '\\x07' is not allowed in YAML"),
        ("train: {split_seed: " + "9" * 31 + "}", ":3:21: integers must have at most 30 digits"),
    ],
    ids=["lr_max-1e308", "lr_min-subnormal", "5000-digits", "control-char", "31-digits"],
)
def test_numbers_at_the_edges_are_one_clear_line(write_spec, line, expected):
    spec = write_spec("data: {builtin: moons, n_samples: 100}\nname: edge\n" + line + "\n")
    result = invoke("validate", spec)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {spec}{expected}"), result.stderr
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 320


# -- 10. a summary.json of the wrong shape ------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    spec = folder / "spec.yaml"
    spec.write_text(
        "name: f\ndata: {builtin: moons, n_samples: 120}\nmodel: {hidden: [8]}\n"
        "train: {epochs: 2, batch_size: 16, seeds: 1}\ngrid: {lr_min: 0.01, lr_max: 0.1}\n"
    )
    lrsweep.run_sweep(load_spec(spec), folder / "r")
    return folder / "r"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("combos", 5, "combos is 5, expected list"),
        ("best", {"lr": "x"}, 'best.lr is "x", expected int or float'),
        ("table", [{"lr": 1}], "table.0.mean is missing"),
        ("status_counts", {"ok": 1}, "status_counts.diverged is null, expected int"),
        ("combos", [{"label": "a", "best": {"lr": 1}, "table": []}],
         "combos.0.best.objective_mean is missing"),
        ("good_band", [1], "good_band is [1], expected list"),
        ("scaling", {"a": 1}, "scaling.a is 1, expected dict"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["show", "report"])
def test_a_summary_of_the_wrong_shape_is_one_line_naming_the_file(
    finished, tmp_path, key, value, problem, command
):
    import shutil

    out = tmp_path / "r"
    shutil.copytree(finished, out)
    summary = json.loads((out / "summary.json").read_text())
    summary[key] = value
    (out / "summary.json").write_text(json.dumps(summary))
    result = invoke(command, out)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {out / 'summary.json'}: not an lrsweep summary ({problem};"
    ), result.stderr
    assert result.stderr.count("\n") == 1


# -- 11. messages -------------------------------------------------------------------------------


def test_a_long_value_is_shortened_and_every_error_is_one_short_line(write_spec):
    spec = write_spec(
        "name: x\ndata: {builtin: moons}\nmodel: {hidden: ["
        + ", ".join(["ten"] * 5000)
        + "]}\n"
        + "".join(f"k{i}: 1\n" for i in range(3000))
    )
    started = time.perf_counter()
    result = invoke("validate", spec)
    assert time.perf_counter() - started < 5
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert len(result.stderr) <= 320 and "chars)…" in result.stderr


def test_shorten_keeps_head_and_tail_on_one_line():
    from lrsweep.errors import shorten

    assert shorten("abc") == "abc"
    assert shorten("a\nb\x07c") == "a b\\x07c"
    long = shorten("x" * 10**7 + "END", 60)
    assert len(long) <= 60 and long.endswith("END") and "(10000003 chars)" in long


def test_a_full_disk_names_the_file(tiny_spec, tmp_path, monkeypatch):
    import errno

    real_fsync = os.fsync

    def full(fd: int) -> None:
        if Path(f"/proc/self/fd/{fd}").resolve().name.startswith("runs.csv"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    result = invoke("run", tiny_spec(), "--out", tmp_path / "r", "--jobs", "1", "--no-plots")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == (
        f"Error: {tmp_path / 'r' / 'runs.csv'}: cannot write: No space left on device"
    )


@pytest.mark.parametrize("command", ["run", "plot"])
def test_ctrl_c_while_plotting_is_exit_130(tiny_spec, tmp_path, monkeypatch, command):
    out = tmp_path / "r"
    if command == "plot":
        assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots").exit_code == 0

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lrsweep, "plot_results", interrupted)
    args = ["run", tiny_spec(), "--out", out, "--jobs", "1"] if command == "run" else ["plot", out]
    result = invoke(*args)
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1].startswith(
        "Interrupted: finished runs are kept. Resume with: lrsweep "
    )
    assert "Aborted" not in result.output


def test_warnings_never_reach_stderr(tiny_spec, tmp_path):
    script = (
        "import sys, warnings, lrsweep, lrsweep.orchestrate as s\n"
        "real = s.finish\n"
        "def noisy(*a, **k):\n"
        "    warnings.warn('overflow encountered in matmul', RuntimeWarning)\n"
        "    warnings.warn('Data has no positive values', UserWarning)\n"
        "    return real(*a, **k)\n"
        "s.finish = noisy\n"
        "from lrsweep.cli import main\n"
        "sys.argv = ['lrsweep'] + sys.argv[1:]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "run", str(tiny_spec()), "--out", str(tmp_path / "r"),
         "--jobs", "1", "--no-plots"], capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "warn" not in done.stderr


def test_a_folder_with_a_foreign_spec_yaml_names_no_empty_hash(tiny_spec, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "spec.yaml").write_text("name: mine\n")
    result = invoke("run", tiny_spec(), "--out", out, "--jobs", "1")
    assert result.exit_code == 2 and "hash ," not in result.stderr
    assert result.stderr == (
        f"Error: {out}: holds spec.yaml that lrsweep did not write; lrsweep neither uses nor"
        " clears such a folder: choose another --out\n"
    )
    result = invoke("show", out)
    assert (
        result.stderr == f"Error: {out / 'spec.yaml'}: not a spec lrsweep wrote (no hash line)\n"
    )
