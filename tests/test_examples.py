"""The examples/ scripts run as lrsweep runs them: supervised, reporting through the protocol."""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lrsweep.child import check_command, run_command
from lrsweep.protocol import METRICS_ENV, MetricsTail

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLACEHOLDERS = {"lr", "seed", "epochs", "run_dir", "python"}


def run_example(name: str, tmp_path: Path, lr: float, seed: int, epochs: int):
    """One supervised run of ``examples/<name>/train.py``; its outcome and its records."""
    metrics = tmp_path / f"{name}-{lr}-{seed}.jsonl"
    argv = [sys.executable, "train.py", *f"--lr {lr} --seed {seed} --epochs {epochs}".split()]
    env = {METRICS_ENV: str(metrics), "OMP_NUM_THREADS": "1"}
    outcome = run_command(argv, cwd=EXAMPLES / name, env=env, timeout=120)
    tail = MetricsTail(metrics)
    records = tail.read_new(final=True)
    assert tail.problems == []
    return outcome, records, metrics


@pytest.mark.parametrize("name", ["numpy-mlp", "sklearn-mlp", "torch-mlp"])
def test_each_example_has_a_spec_whose_command_can_start(name):
    spec = yaml.safe_load((EXAMPLES / name / "spec.yaml").read_text())
    trainer = spec["trainer"]
    assert set(trainer) == {"command", "cwd", "env", "objective", "maximize", "timeout", "history"}
    assert set(spec) == {"name", "trainer", "train", "grid", "refine"}
    used = set(re.findall(r"{(\w+)}", trainer["command"]))
    assert "lr" in used and used <= PLACEHOLDERS
    argv = shlex.split(trainer["command"].format(lr=0.1, seed=0, epochs=2, run_dir=".",
                                                 python=sys.executable))  # fmt: skip
    resolved = check_command([sys.executable, *argv[1:]], cwd=EXAMPLES / name / trainer["cwd"])
    assert resolved.script == str(EXAMPLES / name / "train.py")


def test_the_numpy_example_learns_and_is_deterministic_per_seed(tmp_path):
    outcome, records, metrics = run_example("numpy-mlp", tmp_path, lr=0.03, seed=1, epochs=3)
    assert outcome.ok, outcome.stderr
    assert outcome.stdout == b""  # every line went to the metrics file
    assert [r.epoch for r in records] == [0, 1, 2, 3]
    assert set(records[0].metrics) == {"train_loss", "val_loss", "val_accuracy"}
    val = [r.metrics["val_loss"] for r in records]
    assert val[0] > 2.0 and val[-1] < 0.5 * val[0] and records[-1].metrics["val_accuracy"] > 0.8
    (tmp_path / "again").mkdir()
    again = run_example("numpy-mlp", tmp_path / "again", lr=0.03, seed=1, epochs=3)
    assert again[2].read_bytes() == metrics.read_bytes()
    other = run_example("numpy-mlp", tmp_path, lr=0.03, seed=2, epochs=3)
    assert other[2].read_bytes() != metrics.read_bytes()


def test_the_numpy_example_prints_its_lines_when_run_by_hand(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != METRICS_ENV}
    argv = [sys.executable, "train.py", "--lr", "0.03", "--seed", "1", "--epochs", "3"]
    by_hand = subprocess.run(argv, cwd=EXAMPLES / "numpy-mlp", env=env, capture_output=True)
    _, _, metrics = run_example("numpy-mlp", tmp_path, lr=0.03, seed=1, epochs=3)
    assert by_hand.returncode == 0 and by_hand.stdout == metrics.read_bytes()


def test_the_sklearn_example_reports_each_partial_fit(tmp_path):
    pytest.importorskip("sklearn")
    outcome, records, _ = run_example("sklearn-mlp", tmp_path, lr=0.03, seed=0, epochs=2)
    assert outcome.ok, outcome.stderr
    assert [r.epoch for r in records] == [1, 2] and records[-1].metrics["val_loss"] < 0.6
    outcome, records, _ = run_example("sklearn-mlp", tmp_path, lr=1e4, seed=0, epochs=3)
    assert outcome.ok and len(records) == 1 and math.isnan(records[0].metrics["val_loss"])


def test_the_torch_example_reports_each_epoch(tmp_path):
    pytest.importorskip("torch")
    outcome, records, _ = run_example("torch-mlp", tmp_path, lr=0.03, seed=0, epochs=2)
    assert outcome.ok, outcome.stderr
    assert [r.epoch for r in records] == [0, 1, 2]
    assert records[-1].metrics["val_loss"] < 0.5 * records[0].metrics["val_loss"]
