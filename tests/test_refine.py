"""Coarse-to-fine search: the bracket, edge extension, stopping, budgets, and the answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lrsweep
from lrsweep.analysis import (
    aggregate,
    best_lr,
    good_band,
    interpolated_optimum,
    sensitivity_score,
)
from lrsweep.plan import log_grid, refine_grid
from lrsweep.records import EpochLog, label_run, run_objective
from lrsweep.spec import load_spec

from .conftest import no_timing, on_run, read_csv

GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def u_scores(lrs, centre=1e-2):
    return [(math.log10(lr) - math.log10(centre)) ** 2 + 0.1 for lr in lrs]


def test_bracket_of_a_known_u():
    step = refine_grid(GRID, u_scores(GRID), 4)
    assert step.action == "refine"
    assert step.lrs == pytest.approx(log_grid(1e-3, 1e-1, 4).tolist())
    assert step.lrs[0] == 1e-3 and step.lrs[-1] == 1e-1  # the ends: re-run at full budget
    assert "refined between 0.001 and 0.1" in step.note


@pytest.mark.parametrize(
    ("centre", "action", "lrs"),
    [(1e-6, "extend_low", [1e-5, 10**-4.5, 1e-4]), (10.0, "extend_high", [1.0, 10**0.5, 10.0])],
)
def test_best_on_an_edge_extends_the_grid(centre, action, lrs):
    step = refine_grid(GRID, u_scores(GRID, centre), 4, extend_points_per_decade=2)
    assert step.action == action
    assert list(step.lrs) == pytest.approx(lrs)
    assert "edge" in step.note


def test_stops_when_neighbours_are_within_the_ratio():
    fine = log_grid(1e-3, 1e-1, 8)  # neighbours 10**(1/8) = 1.33 apart
    step = refine_grid(fine, u_scores(fine), 16, stop_ratio=2.0)
    assert step.action == "converged" and step.lrs == ()


def test_all_diverged_plans_nothing():
    step = refine_grid(GRID, [math.inf] * 5, 8)
    assert step.action == "no_usable_lr" and step.lrs == ()


@given(
    centre=st.integers(1, 3),
    ppd=st.integers(2, 32),
    noise=st.lists(st.floats(0, 0.01), min_size=5, max_size=5),
)
def test_refined_points_are_new_and_inside_the_bracket(centre, ppd, noise):
    scores = np.array(u_scores(GRID, GRID[centre])) + np.array(noise)
    step = refine_grid(GRID, scores, ppd)
    i = int(np.argmin(scores))
    if step.action != "refine":
        return
    low, high = GRID[i - 1], GRID[i + 1]
    inner = [x for x in step.lrs if x not in (low, high)]
    assert all(low < x < high for x in inner)
    assert not set(inner) & set(GRID) - {GRID[i]}
    assert list(step.lrs) == sorted(step.lrs)


def hist(train, val, metric=None):
    metric = metric or [0.5] * len(val)
    return [
        EpochLog(e, e * 10, 0.1, t, v, m) for e, (t, v, m) in enumerate(zip(train, val, metric))
    ]


def test_objectives_on_a_hand_made_history():
    h = hist([2.0, 1.0, 0.8, 0.6, 0.5], [2.1, 1.2, 0.9, 1.0, 1.1], [0.1, 0.5, 0.6, 0.7, 0.8])
    assert run_objective(h, "final_val_loss", "ok") == pytest.approx((0.9 + 1.0 + 1.1) / 3)
    assert run_objective(h, "best_val_loss", "ok") == 0.9
    assert run_objective(h, "final_train_loss", "ok") == pytest.approx((0.8 + 0.6 + 0.5) / 3)
    assert run_objective(h, "final_val_metric", "ok") == pytest.approx(0.7)
    assert run_objective(h, "mean_val_loss", "ok") == pytest.approx((1.2 + 0.9 + 1.0 + 1.1) / 4)
    assert math.isnan(run_objective(h, "final_val_loss", "diverged"))


def test_labels():
    assert label_run(hist([2, 1.9, 1.95, 1.92], [2] * 4), "ok") == "plateau"
    assert label_run(hist([2, 1, 0.5, 0.8, 0.4, 0.7], [1] * 6), "ok") == "oscillating"
    assert label_run(hist([2, 1, 0.5, 0.4, 0.35, 0.33], [1] * 6), "ok") == "ok"
    assert label_run(hist([2, 1e9], [2, 1e9]), "diverged") == "diverged"


def rows_for(lrs, values, diverged=()):
    rows = []
    for lr, v in zip(lrs, values):
        for seed in range(2):
            status = "diverged" if lr in diverged else "ok"
            rows.append(
                {
                    "lr": lr,
                    "seed": seed,
                    "status": status,
                    "label": status,
                    "objective": v if status == "ok" else math.nan,
                    "round": 0,
                    "budget": "full",
                    "initial_objective": 2.0,
                }
            )
    return rows


def test_parabola_band_and_sensitivity_on_an_exact_u():
    lrs = [10 ** (x / 4) for x in range(-12, 1)]  # 1e-3 .. 1, 4 per decade
    values = [1.0 + (math.log10(lr) + 1.6) ** 2 for lr in lrs]  # minimum at 10**-1.6
    points = aggregate(rows_for(lrs, values), "final_val_loss")
    best = best_lr(points)
    assert best.lr == pytest.approx(10**-1.5)
    assert interpolated_optimum(points, best) == pytest.approx(10**-1.6, rel=1e-9)
    lo, hi = good_band(points, best, 0.05)  # within 5%: (x + 1.6)^2 <= 0.05 + 0.01
    assert (lo, hi) == pytest.approx((10**-1.75, 10**-1.5))
    s = sensitivity_score(points, 2.0, "final_val_loss")
    expected = np.mean([min(v - best.mean, 2.0 - best.mean) for v in values]) / (2.0 - best.mean)
    assert s == pytest.approx(expected)
    flat = aggregate(rows_for(lrs, [1.0] * len(lrs)), "final_val_loss")
    assert sensitivity_score(flat, 2.0, "final_val_loss") == 0.0


def test_diverged_lrs_rank_last_and_count_as_the_cap():
    lrs = [1e-3, 1e-2, 1e-1]
    points = aggregate(rows_for(lrs, [1.5, 0.5, 0.1], diverged={1e-1}), "final_val_loss")
    assert best_lr(points).lr == 1e-2
    assert sensitivity_score(points, 2.0, "final_val_loss") == pytest.approx((1 / 1.5 + 1) / 3)


# ---------------------------------------------------------------------------------------------
# End to end through the library


SPEC = """\
name: refine-test
data: {{builtin: moons, n_samples: 200, noise: 0.2}}
model: {{hidden: [8]}}
optimizer: {{name: sgd, momentum: 0.9}}
train: {{epochs: 3, batch_size: 16, seeds: 2}}
grid: {{lr_min: 1e-3, lr_max: 10, points_per_decade: 1}}
refine: {{rounds: 2, points_per_decade: 4}}
{extra}
"""


def test_sweep_with_refine_trains_no_run_twice(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC.format(extra="")))
    summary = lrsweep.run_sweep(spec, tmp_path / "r")
    rows = read_csv(tmp_path / "r" / "runs.csv")
    assert len({r["run_id"] for r in rows}) == len(rows)
    journal = (tmp_path / "r" / "journal.jsonl").read_text().splitlines()
    assert sum('"event": "done"' in line for line in journal) == len(rows)
    assert {int(r["round"]) for r in rows} >= {0, 1}
    assert summary["rounds"] >= 1 and summary["notes"][0].startswith("round 1: ")
    lrs = sorted({float(r["lr"]) for r in rows})
    assert len(lrs) > 5  # the coarse grid plus new points


def test_refine_after_an_interrupted_run_equals_an_uninterrupted_run(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC.format(extra="")))
    lrsweep.run_sweep(spec, tmp_path / "whole")

    seen = []

    def stop_after_three(row, done, total):
        seen.append(row)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lrsweep.run_sweep(spec, tmp_path / "cut", on_event=on_run(stop_after_three))
    assert len(read_csv(tmp_path / "cut" / "runs.csv")) < len(
        read_csv(tmp_path / "whole" / "runs.csv")
    )
    lrsweep.refine(tmp_path / "cut")
    assert no_timing(read_csv(tmp_path / "cut" / "runs.csv")) == no_timing(
        read_csv(tmp_path / "whole" / "runs.csv")
    )
    for path in (tmp_path / "whole" / "histories").iterdir():
        assert path.read_bytes() == (tmp_path / "cut" / "histories" / path.name).read_bytes()


def test_refine_of_a_refine_goes_on(write_spec, tmp_path):
    spec = load_spec(write_spec(SPEC.format(extra="").replace("rounds: 2", "rounds: 0")))
    lrsweep.run_sweep(spec, tmp_path / "r")
    n0 = len(read_csv(tmp_path / "r" / "runs.csv"))
    first = lrsweep.refine(tmp_path / "r", rounds=1)
    n1 = len(read_csv(tmp_path / "r" / "runs.csv"))
    after_first = no_timing(read_csv(tmp_path / "r" / "runs.csv"))
    second = lrsweep.refine(tmp_path / "r", rounds=1)
    after_second = no_timing(read_csv(tmp_path / "r" / "runs.csv"))
    assert n0 < n1 and first["rounds"] == 1
    # the second refine plans round 2 (never round 1 again): it trains round 2's new LRs, or
    # says why it stopped there; every run of the first refine is kept, none trained twice
    assert all(row in after_second for row in after_first)
    assert len({r["run_id"] for r in after_second}) == len(after_second)
    new_rounds = {int(r["round"]) for r in after_second if r not in after_first}
    if new_rounds:
        assert new_rounds == {2} and second["rounds"] == 2
    else:
        assert any(note.startswith("round 2:") for note in second["notes"]), second["notes"]


def test_coarse_round_then_full_budget_bracket(write_spec, tmp_path):
    text = SPEC.format(extra="coarse: {subsample: 0.5, epochs: 2}")
    spec = load_spec(write_spec(text))
    lrsweep.run_sweep(spec, tmp_path / "r")
    rows = read_csv(tmp_path / "r" / "runs.csv")
    coarse = [r for r in rows if r["budget"] == "coarse"]
    full = [r for r in rows if r["budget"] == "full"]
    assert {int(r["round"]) for r in coarse} == {0} and coarse
    assert full and {int(r["round"]) for r in full} >= {1}
    for r in full:
        history = read_csv(tmp_path / "r" / "histories" / f"{r['run_id']}.csv")
        assert int(history[-1]["epoch"]) in (3, int(r["epochs_done"]) + 1)
    full_lrs = {float(r["lr"]) for r in full if r["round"] == "1"}
    coarse_lrs = {float(r["lr"]) for r in coarse}
    assert len(full_lrs & coarse_lrs) >= 2  # the bracket's ends, re-run at the full budget


def test_vary_runs_one_curve_per_combination(write_spec, tmp_path):
    text = SPEC.format(extra="vary: {optimizer.name: [sgd, adam]}").replace(
        "rounds: 2", "rounds: 0"
    )
    spec = load_spec(write_spec(text))
    summary = lrsweep.run_sweep(spec, tmp_path / "r")
    rows = read_csv(tmp_path / "r" / "runs.csv")
    assert list(rows[0])[3:5] == ["combo", "optimizer.name"]
    assert {r["optimizer.name"] for r in rows} == {"sgd", "adam"}
    assert [c["label"] for c in summary["combos"]] == ["optimizer.name=sgd", "optimizer.name=adam"]
    assert summary["best_combo"] in ("optimizer.name=sgd", "optimizer.name=adam")
    lrsweep.plot_results(tmp_path / "r")
    assert (tmp_path / "r" / "plots" / "u_curve.png").exists()


def test_batch_size_axis_gives_a_slope_and_a_heatmap(write_spec, tmp_path):
    text = SPEC.format(extra="vary: {train.batch_size: [8, 32]}").replace("rounds: 2", "rounds: 0")
    spec = load_spec(write_spec(text))
    summary = lrsweep.run_sweep(spec, tmp_path / "r")
    fit = summary["scaling"]["train.batch_size"]
    assert len(fit["points"]) == 2
    xs, lrs = zip(*fit["points"])
    expected = math.log(lrs[1] / lrs[0]) / math.log(xs[1] / xs[0])
    assert fit["slope"] == pytest.approx(expected, abs=1e-9)
    paths = lrsweep.plot_results(tmp_path / "r")
    assert tmp_path / "r" / "plots" / "heatmap_train_batch_size.png" in paths


def test_u_curve_plot_draws_the_analysis_data(write_spec, tmp_path):
    from lrsweep.analysis import u_curve
    from lrsweep.plots import plot_u_curve

    rows = rows_for(GRID, u_scores(GRID))
    curve = u_curve(rows, "final_val_loss")
    fig = plot_u_curve(curve)
    ax = fig.axes[0]
    mean_line = next(line for line in ax.lines if line.get_label() == "mean over seeds")
    x, y = mean_line.get_data()
    np.testing.assert_allclose(x, GRID)
    np.testing.assert_allclose(y, u_scores(GRID))
    assert ax.get_xscale() == "log"


def test_refine_on_results_of_an_older_or_edited_spec_is_a_clear_error(tiny_spec, tmp_path):
    from click.testing import CliRunner

    from lrsweep.cli import cli

    out = tmp_path / "r"
    lrsweep.run_sweep(load_spec(tiny_spec()), out)
    saved = out / "spec.yaml"
    saved.write_text(saved.read_text().replace("epochs: 2", "epochs: 5"))
    result = CliRunner().invoke(cli, ["refine", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {saved}: edited by hand (its header says hash ")
    assert result.stderr.rstrip().endswith("re-run the sweep")


def test_coarse_epochs_are_honoured(write_spec, tmp_path):
    text = SPEC.format(extra="coarse: {subsample: 0.5, epochs: 2}").replace(
        "rounds: 2", "rounds: 0"
    )
    lrsweep.run_sweep(load_spec(write_spec(text)), tmp_path / "r")
    for row in read_csv(tmp_path / "r" / "runs.csv"):
        history = read_csv(tmp_path / "r" / "histories" / f"{row['run_id']}.csv")
        assert int(history[-1]["epoch"]) <= 2 and int(row["epochs_done"]) <= 2


def test_an_edge_after_a_coarse_round_re_runs_the_edge_at_the_full_budget(write_spec, tmp_path):
    text = SPEC.format(extra="coarse: {subsample: 0.5, epochs: 2}").replace(
        "lr_min: 1e-3, lr_max: 10", "lr_min: 1e-4, lr_max: 1e-2"
    )  # every LR is too small: the best is on the high edge
    summary = lrsweep.run_sweep(
        load_spec(write_spec(text.replace("rounds: 2", "rounds: 1"))), tmp_path / "r"
    )
    rows = read_csv(tmp_path / "r" / "runs.csv")
    full = {float(r["lr"]) for r in rows if r["budget"] == "full"}
    assert 1e-2 in full  # the edge LR itself, at the full budget
    assert summary["best"] is not None


def test_running_a_finished_spec_again_trains_nothing_new(write_spec, tmp_path):
    text = SPEC.format(extra="").replace("lr_min: 1e-3, lr_max: 10", "lr_min: 1e-5, lr_max: 1e-3")
    spec = load_spec(write_spec(text.replace("rounds: 2", "rounds: 1")))
    first = lrsweep.run_sweep(spec, tmp_path / "r")
    before = read_csv(tmp_path / "r" / "runs.csv")
    again = lrsweep.run_sweep(spec, tmp_path / "r")
    assert no_timing(read_csv(tmp_path / "r" / "runs.csv")) == no_timing(before)
    assert again["best"]["lr"] == first["best"]["lr"]


def test_vary_over_hidden_widths(write_spec, tmp_path):
    text = SPEC.format(extra="vary: {model.hidden: [[4], [8, 8]]}").replace(
        "rounds: 2", "rounds: 0"
    )
    summary = lrsweep.run_sweep(load_spec(write_spec(text)), tmp_path / "r")
    assert [c["label"] for c in summary["combos"]] == ["model.hidden=4", "model.hidden=8-8"]
    assert [p[0] for p in summary["scaling"]["model.hidden"]["points"]] == [4.0, 8.0]


@pytest.mark.parametrize("stop_at", [3, 12], ids=["in-round-0", "in-round-1"])
def test_resuming_an_interrupted_refining_run_equals_an_uninterrupted_one(
    write_spec, tmp_path, stop_at
):
    spec = load_spec(write_spec(SPEC.format(extra="")))
    lrsweep.run_sweep(spec, tmp_path / "whole")
    seen = []

    def stop(row, done, total):
        seen.append(row)
        if len(seen) == stop_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lrsweep.run_sweep(spec, tmp_path / "cut", on_event=on_run(stop))
    lrsweep.run_sweep(spec, tmp_path / "cut")  # the same command again resumes
    assert no_timing(read_csv(tmp_path / "cut" / "runs.csv")) == no_timing(
        read_csv(tmp_path / "whole" / "runs.csv")
    )


BUDGETED = """\
name: budgeted
data: {builtin: moons, n_samples: 300, noise: 0.2}
model: {hidden: [16]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 9, batch_size: 16, seeds: 2}
grid: {lr_min: 1e-3, lr_max: 10, points_per_decade: 2}
budget: {runs: 8}
"""


def test_a_budget_is_kept_and_every_decision_is_a_note(write_spec, tmp_path):
    from lrsweep.search import rung_epochs

    assert rung_epochs(9, 3, 3) == [1, 3, 9] and rung_epochs(2, 3, 3) == [1, 2]
    spec = lrsweep.load_spec(write_spec(BUDGETED))
    summary = lrsweep.run_sweep(spec, tmp_path / "r")
    rows = read_csv(tmp_path / "r" / "runs.csv")
    spent = sum(int(r["epochs_done"]) for r in rows) / spec.train.epochs
    assert spent <= 8  # full-run equivalents, every run and round
    rounds = {r["round"] for r in rows}
    assert {"0", "1", "2"} <= rounds  # a first look, then the rungs
    first = [r for r in rows if r["round"] == "0"]
    assert len(first) == 9 and {r["epochs_done"] for r in first} <= {"0", "1"}
    assert summary["notes"][0].startswith("round 0: a first look: 9 LRs")
    assert any("epochs for" in n for n in summary["notes"])
    assert summary["answer"] is not None
    again = lrsweep.refine(tmp_path / "r")  # the same budget: nothing more to train
    assert again["n_runs"] == summary["n_runs"]
