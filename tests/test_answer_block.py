"""The answer at a glance: an aligned block of short facts after `run` and `show`, and the
explanations in `show --explain`."""

from __future__ import annotations

import re

from click.testing import CliRunner

from lrsweep.cli import cli
from lrsweep.facts import answer_block, answer_facts

CURVE = {
    "best": {"lr": 0.0316, "objective_mean": 0.187, "objective_std": 0.012, "edge": None},
    "answer": {
        "lr": 0.03398,
        "interval": [0.0332, 0.0374],
        "expected_objective": 0.1878,
        "expected_objective_range": [0.1827, 0.1932],
        "interval_edge": None,
    },
    "good_band": [0.0274, 0.0442],
    "good_band_decades": 0.2083,
    "largest_stable_lr": 0.1,
    "sensitivity": 0.371,
    "table": [{"lr": 0.0316, "n_ok": 3}],
}


def test_the_block_is_short_numbers_in_a_fixed_order():
    rows = answer_block(CURVE, "final_val_loss", {"ok": 30, "diverged": 2, "failed": 0})
    assert rows == [
        ("Recommended LR", "0.034"),
        ("Optimum in", "0.0332 to 0.0374 (10-90 %)"),
        ("Expected val loss", "0.1878 (0.1827 to 0.1932)"),
        ("Good band", "0.0274 to 0.0442 (0.21 decades)"),
        ("Largest stable LR", "0.1"),
        ("Sensitivity", "0.37 (0 flat, 1 a miss doubles it)"),
        ("Runs", "30 ok, 2 diverged"),
    ]
    assert all(len(value) <= 40 for _, value in rows)
    # the explanations stay in answer_facts (show --explain, the report)
    assert "the U-curve fit's best expected run" in answer_facts(CURVE, "x")[0][1]


def test_without_a_fit_and_with_a_warning():
    curve = {**CURVE, "answer": None, "best": {**CURVE["best"], "edge": "high"}}
    rows = dict(answer_block(curve, "final_val_metric", {"ok": 3, "diverged": 0, "failed": 1}))
    assert rows["Recommended LR"] == "0.0316 (the lowest mean; no curve fit)"
    assert rows["Mean val metric"] == "0.187 ± 0.012"
    assert rows["Runs"] == "3 ok, 0 diverged, 1 failed"
    assert rows["Warning"] == "on the grid's high edge: widen the grid or refine"


def test_run_prints_the_block_and_show_explain_the_words(tiny_spec, tmp_path):
    out = tmp_path / "r"
    ran = CliRunner().invoke(
        cli, ["run", str(tiny_spec()), "--out", str(out), "--jobs", "1", "--no-plots"]
    )
    assert ran.exit_code == 0, ran.output
    lines = ran.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Recommended LR"))
    block = lines[first : first + 3]
    column = re.search(r"\S", block[0][len("Recommended LR") :]).start() + len("Recommended LR")
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in block)
    assert not any("minimiser" in line for line in lines)  # no long explanations
    shown = CliRunner().invoke(cli, ["show", str(out), "--explain"])
    assert shown.exit_code == 0
    assert "Recommended LR: a Gaussian process is fitted" in shown.stdout.replace("\n", " ")
