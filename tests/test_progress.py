"""Estimates from the cost model (nothing trained) and progress people can read."""

from __future__ import annotations

import re

from click.testing import CliRunner

import lrsweep
from lrsweep.cli import cli
from lrsweep.events import Progress, RoundStart, RunDone

SPEC = """\
name: progress
data: {{builtin: moons, n_samples: 200, noise: 0.2}}
model: {{hidden: [8]}}
optimizer: {{name: sgd, momentum: 0.9}}
train: {{epochs: 3, batch_size: 16, seeds: 2}}
grid: {{lr_min: 1e-3, lr_max: 10, points_per_decade: 1{grid}}}
refine: {{rounds: 2, points_per_decade: 4}}
"""


def no_training(monkeypatch):
    import lrsweep.mlp  # noqa: F401  (first: it binds train_group when imported)

    def refuse(*args, **kwargs):
        raise AssertionError("an estimate must not train")

    monkeypatch.setattr("lrsweep.training.train_group", refuse)
    monkeypatch.setattr("lrsweep.mlp.train_group", refuse)


def test_validate_estimates_every_round_from_the_cost_model(write_spec, monkeypatch):
    no_training(monkeypatch)
    result = CliRunner().invoke(cli, ["validate", str(write_spec(SPEC.format(grid=""))),
                                      "--jobs", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps at 80 columns
    assert "round 0 (full budget): 5 LRs from 0.001 to 10 x 2 seeds = 10 runs" in out
    assert "likely: round 1 ~12 runs" in out  # 0.01..1 at 4/decade: 6 new LRs x 2 seeds
    assert re.search(r"estimated time: about [\d.]+ s with --jobs 1 \(round 0 ", out)


def test_the_estimate_counts_the_refine_rounds_and_the_range_test(write_spec):
    spec = lrsweep.load_spec(write_spec(SPEC.format(grid=", from_range_test: true")))
    plan = lrsweep.plan_sweep(spec)
    estimate = lrsweep.estimate_sweep(plan, 1)
    assert estimate.range_test_runs == 2 and estimate.range_test_seconds > 0
    assert [r.round for r in estimate.rounds][:2] == [0, 1]
    assert estimate.seconds > sum(r.seconds for r in estimate.rounds)
    result = CliRunner().invoke(cli, ["run", str(write_spec(SPEC.format(
        grid=", from_range_test: true"))), "--dry-run", "--jobs", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "range test first: 2 ramped runs" in out
    assert "round 0's grid comes from it" in out
    assert "learning rates:" not in result.stdout  # not known before the range test


def test_rounds_are_announced_and_progress_never_moves_back(write_spec, tmp_path):
    spec = lrsweep.load_spec(write_spec(SPEC.format(grid="")))
    events: list[tuple[str, object]] = []
    lrsweep.run_sweep(
        spec,
        tmp_path / "r",
        on_event=lambda e: events.append(
            (
                {RoundStart: "round", RunDone: "run", Progress: "progress"}.get(type(e), "note"),
                e if isinstance(e, RoundStart) else e[-2:],
            )
        ),
    )
    starts = [e for kind, e in events if kind == "round"]
    assert [s.round for s in starts][:2] == [0, 1]
    assert starts[0].runs == 10 and starts[0].lr_min == 1e-3 and starts[0].lr_max == 10
    assert starts[1].points_per_decade == 4 and starts[1].to_train < starts[1].runs
    current = -1.0
    for kind, e in events:
        if kind == "round":
            current = -1.0
        elif kind == "progress":
            assert e[0] >= current
            current = e[0]


def test_plain_progress_has_round_headers_and_an_overall_count(write_spec, tmp_path):
    spec = write_spec(SPEC.format(grid=""))
    result = CliRunner().invoke(cli, ["run", str(spec), "--out", str(tmp_path / "r"),
                                      "--jobs", "1", "--no-plots"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "round 0: coarse grid 0.001-10 at 1/decade, 10 runs"
    header = next(i for i, line in enumerate(lines) if line.startswith("round 1: refining"))
    assert lines[header] == "round 1: refining 0.01-1 at 4/decade, 18 runs (6 reused)"
    assert lines[header + 1].startswith("  round 1: best LR")  # the decision, once, under it
    counts = [int(m.group(1)) for m in re.finditer(r"^\[(\d+)/\d+\] lr=", result.stderr, re.M)]
    assert counts == sorted(counts) and counts[0] == 1
    first = next(line for line in lines[header:] if line.startswith("["))
    assert int(first[1:].split("/")[0]) > 10  # counting on from round 0
