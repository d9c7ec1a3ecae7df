"""Your own model (issue 24): a user's command or function swept like the built-in model, and
every way such code can misbehave recorded as a result, never a lost sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import lrsweep
from lrsweep.cli import cli
from lrsweep.errors import SpecError
from lrsweep.spec import load_spec

from .conftest import read_csv, read_untimed

# A model in pure Python (fast to start): a loss that falls with the epochs at a rate set by
# the LR, a floor that rises away from LR 0.03, noise by seed, and a blow-up past LR 0.5.
SCRIPT = """\
import argparse, math, random, sys, time
import lrsweep
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float); p.add_argument("--seed", type=int)
p.add_argument("--epochs", type=int); p.add_argument("--width", type=int, default=8)
p.add_argument("--sleep", type=float, default=0.0)
a = p.parse_args()
rng = random.Random(a.seed)
floor = 0.1 + 0.05 * (math.log10(a.lr) - math.log10(0.03)) ** 2 + 0.01 * a.width / 8
lrsweep.report(epoch=0, train_loss=2.0, val_loss=2.1)
for e in range(1, a.epochs + 1):
    time.sleep(a.sleep)
    if a.lr > 0.5:
        loss = 2.0 * 10 ** e
    else:
        loss = floor + 1.9 * math.exp(-a.lr * 60 * e) + 0.002 * rng.random()
    lrsweep.report(epoch=e, train_loss=loss, val_loss=loss * 1.05, accuracy=1 / (1 + loss))
"""


def command(*extra: str) -> list[str]:
    return [sys.executable, "model.py", "--lr", "{lr}", "--seed", "{seed}", "--epochs",
            "{epochs}", *extra]  # fmt: skip


def write(tmp_path: Path, script: str = SCRIPT, spec: dict | None = None, name="model.py"):
    (tmp_path / name).write_text(textwrap.dedent(script))
    document = {
        "name": "own",
        "trainer": {"command": command(), "timeout": 30},
        "train": {"epochs": 4, "seeds": 2},
        "grid": {"lr_min": 1e-3, "lr_max": 1.0, "points_per_decade": 1},
        **(spec or {}),
    }
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_script_is_swept_like_the_built_in_model(tmp_path):
    spec = write(tmp_path, spec={"refine": {"rounds": 1, "points_per_decade": 4}})
    result = invoke("run", spec, "--out", tmp_path / "r", "--jobs", 2)
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "r" / "runs.csv")
    statuses = {(float(r["lr"]), r["status"]) for r in rows}
    assert (1.0, "diverged") in statuses and (0.01, "ok") in statuses
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert 0.01 <= summary["answer"]["lr"] <= 0.1  # the floor is lowest at 0.03
    diverged = next(r for r in rows if r["status"] == "diverged")
    history = read_csv(tmp_path / "r" / "histories" / f"{diverged['run_id']}.csv")
    assert [h["epoch"] for h in history] == ["0", "1", "2"]  # stopped at the blow-up
    ok = next(r for r in rows if r["status"] == "ok")
    history = read_csv(tmp_path / "r" / "histories" / f"{ok['run_id']}.csv")
    assert list(history[0])[-1] == "accuracy" and len(history) == 5  # every reported column
    assert (tmp_path / "r" / "plots" / "u_curve.png").exists()
    again = invoke("refine", tmp_path / "r", "--jobs", 1, "--no-plots")
    assert again.exit_code == 0, again.output


def test_jobs_1_and_2_write_the_same_files(tmp_path):
    spec = write(tmp_path)
    for jobs, out in ((1, "a"), (2, "b")):
        assert (
            invoke("run", spec, "--out", tmp_path / out, "--jobs", jobs, "--no-plots").exit_code
            == 0
        )
    assert read_untimed(tmp_path / "a" / "runs.csv") == read_untimed(tmp_path / "b" / "runs.csv")
    for path in (tmp_path / "a" / "histories").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / "histories" / path.name).read_bytes()


def test_vary_values_fill_their_placeholders(tmp_path):
    spec = write(tmp_path, spec={
        "trainer": {"command": command("--width", "{width}")},
        "vary": {"model.width": [8, 64]},
    })  # fmt: skip
    result = invoke("run", spec, "--out", tmp_path / "r", "--jobs", 2, "--no-plots")
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "r" / "runs.csv")
    assert {r["model.width"] for r in rows} == {"8", "64"}
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [c["label"] for c in summary["combos"]] == ["model.width=8", "model.width=64"]


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ({"command": command("--width", "{widht}")}, r"unknown placeholder \{widht\}"),
        ({"command": "python model.py --seed {seed}"}, r"has no \{lr\}"),
        ({"command": "python model.py --lr {lr}", "timeout": "soon"}, r"trainer\.timeout"),
        ({"command": "python 'model.py"}, r"trainer\.command: cannot split it"),
    ],
)
def test_bad_commands_are_spec_errors(tmp_path, trainer, message):
    spec = write(tmp_path, spec={"trainer": trainer})
    with pytest.raises(SpecError, match=message):
        load_spec(spec)


def test_the_built_in_models_sections_beside_trainer_say_why(tmp_path):
    spec = write(tmp_path, spec={"model": {"hidden": [8]}})
    with pytest.raises(SpecError, match=r"model: belongs to the built-in model"):
        load_spec(spec)


def test_a_missing_or_unrunnable_program_is_one_line_before_anything_is_planned(tmp_path):
    for program, why in (("./nope.sh", "No such file"), ("./model.py", "not executable"),
                         ("no-such-program-xyz", "is not on PATH")):  # fmt: skip
        spec = write(tmp_path, spec={"trainer": {"command": [program, "{lr}"]}})
        result = invoke("run", spec, "--out", tmp_path / "r", "--jobs", 1)
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and why in result.stderr, result.stderr
        assert not (tmp_path / "r" / "journal.jsonl").exists()


def test_the_first_runs_failing_alike_stop_the_sweep_with_the_scripts_words(tmp_path):
    spec = write(tmp_path, "import sys\nsys.stderr.write('ImportError: no module named tourch\\n')"
                           "\nsys.exit(1)\n")  # fmt: skip
    result = invoke("run", spec, "--out", tmp_path / "r", "--jobs", 1)
    assert result.exit_code == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "the first 3 runs all failed the same way" in error[0]
    assert "exit code 1: ImportError: no module named tourch" in error[0]
    rows = read_csv(tmp_path / "r" / "runs.csv")
    assert len(rows) == 3 and {r["status"] for r in rows} == {"failed"}  # not the whole grid
    kept = list((tmp_path / "r" / "runs").glob("*/stderr.txt"))
    assert kept and "tourch" in kept[0].read_text()


@pytest.mark.parametrize(
    ("script", "status", "message"),
    [
        ("import sys\nprint('trained')\n", "failed", "exited 0 but reported nothing"),
        (
            "import lrsweep\nlrsweep.report(epoch=1, train_loss=1.0, val_los=2.0)\n",
            "failed",
            "objective 'val_loss' was never reported; the script reported train_loss, val_los",
        ),
        (
            "import lrsweep\nlrsweep.report(epoch=1, train_loss=1.0, val_loss=float('nan'))\n"
            "import time\ntime.sleep(30)\n",
            "diverged",
            "non-finite",
        ),
        ("import time\ntime.sleep(30)\n", "timeout", "timed out after 1 s (trainer.timeout)"),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
            "failed",
            "killed by SIGKILL: out of memory?",
        ),
        (
            "import sys, lrsweep\nsys.stdout.write('x' * 3_000_000)\n"
            "lrsweep.report(epoch=1, val_loss=1.0)\n",
            "ok",
            "",
        ),
    ],
    ids=["nothing", "typo", "nan", "hang", "killed", "flood"],
)
def test_misbehaving_scripts_are_recorded_results(tmp_path, script, status, message):
    spec = write(tmp_path, script, spec={
        "trainer": {"command": [sys.executable, "model.py", "{lr}"], "timeout": 1,
                    "stop_grace": 0.5},
        "grid": {"lr_min": 0.01, "lr_max": 0.1, "points_per_decade": 1}, "train": {"seeds": 1},
    })  # fmt: skip
    began = time.monotonic()
    summary = lrsweep.run_sweep(load_spec(spec), tmp_path / "r", on_event=None)
    assert time.monotonic() - began < 15  # stopped, not waited for
    rows = read_csv(tmp_path / "r" / "runs.csv")
    assert [r["status"] for r in rows] == [status] * 2
    assert all(message in r["message"] for r in rows)
    if status == "ok":
        tail = next((tmp_path / "r" / "runs").glob("*/stdout.txt"))
        assert tail.stat().st_size <= 64 * 1024  # a bounded tail, never the whole flood
    assert summary["status_counts"][status] == 2


def test_children_of_a_stopped_script_end_with_it(tmp_path):
    script = ("import subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)',"
              " 'lrsweep-test-grandchild'])\ntime.sleep(60)\n")  # fmt: skip
    spec = write(tmp_path, script, spec={
        "trainer": {"command": [sys.executable, "model.py", "{lr}"], "timeout": 1,
                    "stop_grace": 0.5},
        "grid": {"lr_min": 0.01, "lr_max": 0.1, "points_per_decade": 1}, "train": {"seeds": 1},
    })  # fmt: skip
    lrsweep.run_sweep(load_spec(spec), tmp_path / "r")
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "lrsweep-test-grandchild" not in ps


def test_a_killed_driver_takes_its_scripts_down(tmp_path):
    script = "import time\ntime.sleep(60)  # lrsweep-test-orphan\n"
    spec = write(
        tmp_path,
        script,
        spec={"trainer": {"command": [sys.executable, "model.py", "{lr}", "lrsweep-test-orphan"]}},
    )
    driver = subprocess.Popen([sys.executable, "-m", "lrsweep", "run", str(spec), "--out",
                               str(tmp_path / "r"), "--jobs", "2"], stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 20
    while (
        "lrsweep-test-orphan"
        not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 5
    while (
        "lrsweep-test-orphan"
        in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    ):
        assert time.monotonic() < deadline, "a script outlived its killed driver"
        time.sleep(0.1)


def test_ctrl_c_keeps_finished_runs_and_resume_finishes(tmp_path):
    spec = write(
        tmp_path,
        spec={
            "trainer": {"command": command("--sleep", "0.15")},
            "grid": {"lr_min": 1e-3, "lr_max": 1, "points_per_decade": 1},
        },
    )
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "lrsweep", "run", str(spec), "--out",
                             str(out), "--jobs", "1", "--no-plots"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 30
    while not journal.exists() or journal.read_text().count('"event": "done"') < 2:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Resume with: lrsweep run" in stderr
    assert "Traceback" not in stderr
    kept = journal.read_text().count('"event": "done"')
    assert 2 <= kept < 10
    result = invoke("run", spec, "--out", out, "--jobs", 2, "--no-plots")
    assert result.exit_code == 0, result.output
    reference = invoke("run", spec, "--out", tmp_path / "ref", "--jobs", 2, "--no-plots")
    assert reference.exit_code == 0
    assert read_untimed(out / "runs.csv") == read_untimed(tmp_path / "ref" / "runs.csv")


def test_an_edited_script_is_not_mixed_into_the_studys_answer(tmp_path):
    spec = write(tmp_path)
    assert invoke("run", spec, "--out", tmp_path / "r", "--jobs", 2, "--no-plots").exit_code == 0
    (tmp_path / "model.py").write_text(SCRIPT.replace("0.05 *", "0.07 *"))
    result = invoke("run", spec, "--out", tmp_path / "r", "--jobs", 2, "--no-plots")
    assert result.exit_code == 2 and "model.py changed" in result.stderr
    assert "--overwrite" in result.stderr


def test_a_lightning_style_log_is_read_as_the_history(tmp_path):
    script = """\
    import argparse, csv, os
    p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); p.add_argument("--out")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "step", "train_loss", "val_loss"])
        for e in range(3):  # Lightning: train and validation rows apart, epochs from 0
            w.writerow([e, 10 * e + 9, 1.0 / (1 + a.lr * (e + 1)), ""])
            w.writerow([e, 10 * e + 9, "", 1.1 / (1 + a.lr * (e + 1))])
    """
    spec = write(tmp_path, script, spec={
        "trainer": {"command": [sys.executable, "model.py", "--lr", "{lr}", "--out",
                                "{run_dir}/logs"], "history": "{run_dir}/logs/metrics.csv"},
        "train": {"epochs": 3, "seeds": 1},
    })  # fmt: skip
    lrsweep.run_sweep(load_spec(spec), tmp_path / "r")
    rows = read_csv(tmp_path / "r" / "runs.csv")
    assert {r["status"] for r in rows} == {"ok"}
    history = read_csv(tmp_path / "r" / "histories" / f"{rows[0]['run_id']}.csv")
    assert [h["epoch"] for h in history] == ["1", "2", "3"]
    assert float(history[-1]["val_loss"]) == pytest.approx(1.1 / (1 + 0.001 * 3))


def train_fn(trial):
    """A function trained in a fork: the same model as SCRIPT."""
    import math

    import lrsweep

    floor = 0.1 + 0.05 * (math.log10(trial.lr) - math.log10(0.03)) ** 2
    for epoch in range(1, trial.epochs + 1):
        if trial.lr > 0.5:
            raise FloatingPointError("overflow")
        trial.report(epoch, val_loss=floor + math.exp(-trial.lr * 60 * epoch), seed=trial.seed)
    assert lrsweep.report  # the package is importable inside the run


def test_a_python_function_is_swept_with_the_same_guarantees(tmp_path):
    summary = lrsweep.sweep(
        train_fn,
        {"name": "fn", "train": {"epochs": 3, "seeds": 1},
         "grid": {"lr_min": 1e-3, "lr_max": 1, "points_per_decade": 1}},
        tmp_path / "r",
    )  # fmt: skip
    rows = read_csv(tmp_path / "r" / "runs.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    assert [float(r["lr"]) for r in failed] == [1.0]
    assert "FloatingPointError: overflow" in failed[0]["message"]
    assert 0.003 <= summary["answer"]["lr"] <= 0.3


# The protocol loses nothing: a script that trains lrsweep's own model one run at a time and
# reports every epoch gives the histories and the answer of the built-in sweep.
WRAPPER = """\
import argparse, json, sys
from pathlib import Path
import lrsweep
from lrsweep.plan import plan_runs
from lrsweep.records import Group
from lrsweep.training import train_group
p = argparse.ArgumentParser()
for key in ("lr", "seed", "epochs"):
    p.add_argument("--" + key, type=float if key == "lr" else int)
a = p.parse_args()
spec = lrsweep.load_spec(Path(__file__).with_name("builtin.yaml"))
run = plan_runs(spec.model_copy(update={"train": spec.train.model_copy(
    update={"seed": a.seed, "seeds": 1})}), [a.lr], 0)[0]
(result,) = train_group(Group(spec, a.seed, a.epochs, 1.0, (run,)), lrsweep.load_data(spec))
for h in result.history:
    lrsweep.report(epoch=h.epoch, step=h.step, train_loss=h.train_loss, val_loss=h.val_loss,
                   val_metric=h.val_metric)
"""
BUILTIN = """\
name: builtin
data: {builtin: moons, n_samples: 200, noise: 0.2}
model: {hidden: [8]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 4, batch_size: 16, seeds: 2}
grid: {lr_min: 1e-3, lr_max: 10, points_per_decade: 1}
refine: {rounds: 1, points_per_decade: 2}
execution: {group_size: 1}
"""


def test_the_protocol_loses_nothing_against_the_built_in_sweep(tmp_path):
    (tmp_path / "builtin.yaml").write_text(BUILTIN)
    spec = write(tmp_path, WRAPPER, spec={
        "name": "wrapped",
        "trainer": {"command": command()},
        "train": {"epochs": 4, "seeds": 2},
        "grid": {"lr_min": 1e-3, "lr_max": 10, "points_per_decade": 1},
        "refine": {"rounds": 1, "points_per_decade": 2},
    })  # fmt: skip
    builtin = lrsweep.run_sweep(load_spec(tmp_path / "builtin.yaml"), tmp_path / "b")
    wrapped = lrsweep.run_sweep(load_spec(spec), tmp_path / "w", executor=lrsweep.make_executor(2))

    def by_run(folder):
        rows = read_csv(folder / "runs.csv")
        return {(r["lr"], r["seed"]): (r["status"], r["epochs_done"], r["objective"],
                                       read_csv(folder / "histories" / f"{r['run_id']}.csv"))
                for r in rows}  # fmt: skip

    mine, theirs = by_run(tmp_path / "w"), by_run(tmp_path / "b")
    assert mine.keys() == theirs.keys()
    for key in theirs:
        status, epochs, objective, history = theirs[key]
        assert mine[key][:3] == (status, epochs, objective), key
        for a, b in zip(mine[key][3], history, strict=True):
            assert {k: a[k] for k in ("epoch", "train_loss", "val_loss", "val_metric")} == {
                k: b[k] for k in ("epoch", "train_loss", "val_loss", "val_metric")
            }
    assert wrapped["answer"] == builtin["answer"]
    assert os.environ.get("LRSWEEP_METRICS") is None  # nothing leaked into this process


def test_lrsweep_report_stays_the_function_after_the_page_module_loads():
    import lrsweep.orchestrate  # nor the orchestrator lrsweep.sweep
    import lrsweep.page  # the report page's module: it must not shadow lrsweep.report

    assert callable(lrsweep.report) and lrsweep.report.__module__ == "lrsweep.protocol"
    assert callable(lrsweep.sweep) and lrsweep.sweep.__module__ == "lrsweep.orchestrate"
