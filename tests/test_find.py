"""`lrsweep find` end to end, and `grid: {from_range_test: true}`."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

import lrsweep
from lrsweep.cli import cli
from lrsweep.spec import load_spec

SPEC = """\
name: find-test
data: {builtin: moons, n_samples: 300, noise: 0.2}
model: {hidden: [16]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 3, batch_size: 16, seeds: 2}
grid: {from_range_test: true, points_per_decade: 1}
"""


def test_find_writes_the_curve_the_suggestions_and_the_plot(write_spec, tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(
        cli, ["find", str(write_spec(SPEC)), "--out", str(out), "--num-iter", "60", "--seeds", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "valley" in result.stdout and "Suggested sweep grid" in result.stdout
    with open(out / "rangetest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["seed", "step", "lr", "loss", "smoothed_loss", "val_loss"]
    assert {r["seed"] for r in rows} == {"0", "1"}
    first = [float(r["lr"]) for r in rows if r["seed"] == "0"]
    assert first[0] == 1e-7 and first == sorted(first)  # the ramp, recorded before each step
    found = json.loads((out / "rangetest.json").read_text())
    assert list(found["spread"]) == [
        "recommended",
        "valley",
        "steep",
        "minimum_10",
        "slide",
        "max_lr",
        "base_lr",
    ]
    for s in found["spread"].values():  # the combined curve's value, then the seeds' spread
        assert list(s) == ["lr", "note", "median", "min", "max", "n"]
    assert "recommended" in result.stdout and "seeds' median" in result.stdout
    assert found["grid"]["lr_min"] < found["grid"]["lr_max"]
    assert (out / "plots" / "rangetest.png").stat().st_size > 1000
    again = CliRunner().invoke(cli, ["plot", str(out)])
    assert again.exit_code == 0 and again.stdout.strip().endswith("rangetest.png")


def test_find_json_and_bad_ramp(write_spec, tmp_path):
    spec = write_spec(SPEC)
    result = CliRunner().invoke(
        cli,
        [
            "find",
            str(spec),
            "--out",
            str(tmp_path / "r"),
            "--json",
            "--num-iter",
            "30",
            "--no-plots",
        ],
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["num_iter"] == 30
    bad = CliRunner().invoke(
        cli,
        ["find", str(spec), "--out", str(tmp_path / "r2"), "--start-lr", "1", "--end-lr", "0.1"],
    )
    assert bad.exit_code == 2
    assert bad.stderr == "Error: --start-lr must be < --end-lr, got 1.0 >= 0.1\n"
    assert not (tmp_path / "r2").exists()


def test_grid_from_the_range_test(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC))
    summary = lrsweep.run_sweep(spec, tmp_path / "r")
    found = json.loads((tmp_path / "r" / "rangetest.json").read_text())
    lrs = sorted({row["lr"] for row in summary["table"]})
    assert lrs[0] == found["grid"]["lr_min"] and lrs[-1] == found["grid"]["lr_max"]
    assert summary["notes"][0].startswith("round 0: grid from the range test: ")
    again = lrsweep.run_sweep(spec, tmp_path / "r")  # resumes: same grid, nothing new
    assert again["n_runs"] == summary["n_runs"]


PLAIN = SPEC.replace("grid: {from_range_test: true, points_per_decade: 1}",
                     "grid: {lr_min: 1e-3, lr_max: 10, points_per_decade: 1}")  # fmt: skip


def test_finds_check_runs_go_through_the_journal_and_never_enter_the_sweeps_answer(
    write_spec, tmp_path
):
    from lrsweep.events import RunDone
    from lrsweep.executors import ThreadExecutor
    from lrsweep.results import ResultsDir

    spec = load_spec(write_spec(PLAIN))
    out, fresh = tmp_path / "both", tmp_path / "fresh"
    trained: list[str] = []

    def count(event):
        if isinstance(event, RunDone):
            trained.append(event.row["run_id"])

    with ThreadExecutor(2) as executor:  # find's check sweep takes the executor, like run's
        found = lrsweep.range_test(spec, out, num_iter=60, executor=executor, on_event=count)
    checked = found["check"]["runs"]
    assert checked == len(trained) > 0
    journal = ResultsDir.open(out).read_journal()
    assert sum(r.get("purpose") == "find" for r in journal if r["event"] == "planned") == checked
    trained.clear()
    again = lrsweep.range_test(spec, out, num_iter=60, on_event=count)
    assert trained == [] and again["check"] == found["check"]  # every check run reused
    summary = lrsweep.run_sweep(spec, out)  # reuses any run it plans that find trained
    reference = lrsweep.run_sweep(spec, fresh)
    for key in ("table", "best", "n_runs", "status_counts"):
        assert summary[key] == reference[key]  # find's other runs are not in the answer


def test_finds_check_adds_seeds_only_near_its_answer(write_spec, tmp_path, monkeypatch):
    import lrsweep.orchestrate as orchestrate
    from lrsweep.search import RESOLVE_TOP

    spec = load_spec(write_spec(PLAIN))
    monkeypatch.setattr(orchestrate, "CHECK_RESOLVE_STEPS", 0)
    only = lrsweep.range_test(spec, tmp_path / "grid", num_iter=60)["check"]
    monkeypatch.setattr(orchestrate, "CHECK_RESOLVE_STEPS", 2)
    found = lrsweep.range_test(spec, tmp_path / "resolve", num_iter=60)["check"]
    grid = len(only["lrs"]) * orchestrate.CHECK_SEEDS
    assert only["runs"] == grid and only["seeds"] == [0, 1]
    extra = found["runs"] - grid
    assert extra > 0  # this curve is unsure after the grid (3 epochs, 2 seeds)
    # each resolve step: one more seed at the RESOLVE_TOP LRs nearest the answer, when unsure
    assert extra % RESOLVE_TOP == 0 and extra <= 2 * RESOLVE_TOP
    assert found["seeds"] == list(range(2 + extra // RESOLVE_TOP))
