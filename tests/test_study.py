"""A results folder is a study of runs: a grown spec trains only its new runs, and the folder
then holds exactly what a sweep of the final spec from scratch would."""

from __future__ import annotations

import json

import pytest

import lrsweep
from lrsweep.spec import load_spec

from .conftest import assert_same_results, on_run, read_csv

BASE = """\
name: study
data: {builtin: moons, n_samples: 160, noise: 0.2}
model: {hidden: [8]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 3, batch_size: 16, seeds: 2}
grid: {lr_min: 0.01, lr_max: 1.0, points_per_decade: 1}
refine: {rounds: 0, points_per_decade: 4}
"""
GROWN = {
    "more seeds": BASE.replace("seeds: 2", "seeds: 3"),
    "wider grid": BASE.replace("lr_max: 1.0", "lr_max: 10.0"),
    "a refine round": BASE.replace("rounds: 0", "rounds: 1"),
    "a vary value": BASE + "vary: {optimizer.momentum: [0.9, 0.5]}\n",
}


def sweep(spec, out):
    trained = []
    summary = lrsweep.run_sweep(
        spec, out, on_event=on_run(lambda row, done, total: trained.append(row))
    )
    return summary, [r["run_id"] for r in trained]


@pytest.mark.parametrize("change", sorted(GROWN))
def test_a_grown_spec_trains_only_new_runs_and_equals_a_fresh_sweep(change, write_spec, tmp_path):
    base = load_spec(write_spec(BASE, "base.yaml"))
    final = load_spec(write_spec(GROWN[change], "final.yaml"))
    _, first = sweep(base, tmp_path / "study")
    summary, second = sweep(final, tmp_path / "study")
    fresh_summary, fresh = sweep(final, tmp_path / "fresh")

    assert set(second).isdisjoint(first)  # nothing trained twice
    assert sorted(second) == sorted(set(fresh) - set(first))  # exactly the new runs
    assert_same_results(tmp_path / "study", tmp_path / "fresh")
    rows = read_csv(tmp_path / "study" / "runs.csv")
    fresh_rows = read_csv(tmp_path / "fresh" / "runs.csv")
    assert [r["run_id"] for r in rows] == [r["run_id"] for r in fresh_rows]
    for key in ("best", "status_counts", "good_band", "sensitivity"):
        assert json.dumps(summary[key]) == json.dumps(fresh_summary[key]), key


def test_runs_of_an_earlier_spec_stay_out_of_the_answer(write_spec, tmp_path):
    base = load_spec(write_spec(BASE, "base.yaml"))
    other = load_spec(write_spec(BASE.replace("name: sgd, momentum: 0.9", "name: adam"), "a.yaml"))
    sweep(base, tmp_path / "study")
    summary, trained = sweep(other, tmp_path / "study")
    rows = read_csv(tmp_path / "study" / "runs.csv")
    assert len(rows) == len(trained) == 6  # adam's runs only; sgd's kept in the journal
    assert summary["status_counts"]["ok"] + summary["status_counts"]["diverged"] == 6
    _, again = sweep(base, tmp_path / "study")  # back to sgd: all reused
    assert again == [] and len(read_csv(tmp_path / "study" / "runs.csv")) == 6


def test_a_command_that_trains_nothing_keeps_the_timing_and_every_command_is_logged(
    write_spec, tmp_path
):
    spec = load_spec(write_spec(BASE))
    first, trained = sweep(spec, tmp_path / "r")
    assert first["wall_seconds"] > 0 and first["cpu_seconds"] >= 0 and trained
    again, none = sweep(spec, tmp_path / "r")
    assert none == []
    for key in ("finished_at", "wall_seconds", "cpu_seconds", "provenance"):
        assert again[key] == first[key], key
    lrsweep.refine(tmp_path / "r", rounds=1)
    log = [
        json.loads(line) for line in (tmp_path / "r" / "commands.jsonl").read_text().splitlines()
    ]
    assert [e["command"] for e in log] == ["run", "run", "refine"]
    assert log[0]["trained"] == len(trained) and log[1]["trained"] == 0
    assert all(e["wall_seconds"] >= 0 and e["spec_hash"] == spec.spec_hash() for e in log)
