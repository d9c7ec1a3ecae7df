"""The pictures draw what analysis computed: zoom, legends, bands, marks, fits (no image diffs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep.analysis import (
    epoch_panel,
    focus_range,
    scaling_fit,
    suggestion_marks,
    u_curve,
)
from lrsweep.facts import answer_facts, per_lr_rows
from lrsweep.records import EpochLog

GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def rows(lrs, values, seeds=(0, 1), diverged=(), rounds=None):
    """runs.csv-like rows: seed s of an LR scores value + 0.01 s (diverged: no value)."""
    out = []
    for i, (lr, value) in enumerate(zip(lrs, values)):
        for s in seeds:
            bad = lr in diverged
            out.append({
                "run_id": f"r{i}s{s}", "lr": lr, "seed": s, "round": (rounds or {}).get(lr, 0),
                "status": "diverged" if bad else "ok", "budget": "full", "label": "",
                "objective": math.nan if bad else value + 0.01 * s, "combo": "all",
            })  # fmt: skip
    return out


def test_u_curve_zooms_on_the_optimum_and_keeps_the_full_range_beside_it():
    from lrsweep.plots import plot_u_curve

    values = [2.4, 0.5, 0.13, 0.15, 2.0]
    curve = u_curve(rows(GRID, values, diverged=(1.0,)), "final_val_loss")
    lo, hi = curve.focus
    assert lo < 0.13 and 0.16 < hi < 0.6  # the LRs within half a decade only: not 2.4
    fig = plot_u_curve(curve)
    zoom, overview = fig.axes[0], fig.axes[1]
    assert zoom.get_ylim() == pytest.approx(curve.focus)
    assert overview.get_yscale() == "log" and overview.get_ylim()[1] >= 2.4
    mean = next(line for line in zoom.lines if line.get_label() == "mean over seeds")
    np.testing.assert_allclose(mean.get_data()[0], curve.lrs)
    np.testing.assert_allclose(mean.get_data()[1], curve.mean)
    band = zoom.collections[0].get_paths()[0].vertices  # the ±std band: the low..high hull
    assert band[:, 1].min() == pytest.approx(curve.low.min())


def test_u_curve_legend_matches_the_markers_and_sits_outside():
    from lrsweep.plots import DIVERGED_COLOR, plot_u_curve

    curve = u_curve(rows(GRID, [2.4, 0.5, 0.13, 0.15, 2.0], diverged=(1.0,)), "final_val_loss")
    fig = plot_u_curve(curve)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "mean over seeds ± 1 std" in labels
    zoom, overview = fig.axes
    crosses = next(line for line in overview.lines if line.get_marker() == "x")
    np.testing.assert_allclose(crosses.get_data()[0], curve.diverged_lrs)
    assert not [line for line in zoom.lines if line.get_marker() == "x"]  # past the zoom
    entry = legend.legend_handles[labels.index("diverged (along the edge)")]
    assert entry.get_color() == crosses.get_color() == DIVERGED_COLOR
    assert zoom.get_legend() is None  # the legend is the figure's, beside the axes


def test_several_curves_use_neutral_legend_markers():
    from lrsweep.plots import plot_u_curve

    a = u_curve(rows(GRID, [1, 0.5, 0.2, 0.3, 1], diverged=(1.0,)), "final_val_loss", "sgd")
    b = u_curve(rows(GRID, [1, 0.4, 0.1, 0.3, 1], diverged=(1.0,)), "final_val_loss", "adam")
    fig = plot_u_curve([a, b])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["sgd (± 1 std)", "adam (± 1 std)"]
    assert "diverged (along the edge), curve's colour" in labels
    assert fig.axes[0].get_ylim()[0] < 0.1 < 0.3 < fig.axes[0].get_ylim()[1]


def test_focus_of_a_maximised_metric_and_without_a_best():
    assert focus_range([], None) is None
    curve = u_curve(rows(GRID, [0.1, 0.5, 0.9, 0.88, 0.2]), "final_val_metric")
    lo, hi = curve.focus
    assert 0.3 < lo < 0.5 and 0.91 < hi < 1  # the neighbours 0.5 and 0.88, not 0.1


def history(losses):
    return [EpochLog(e, e * 10, 0.1, v, v * 1.1, math.nan) for e, v in enumerate(losses)]


def test_loss_vs_epoch_draws_the_mean_over_seeds_and_marks_the_recommended_lr():
    from lrsweep.plots import plot_loss_vs_epoch

    lrs = [0.01, 0.1, 1.0]
    runs = rows(lrs, [0.5, 0.2, 3.0], diverged=(1.0,), rounds={0.1: 1})
    curves = {
        0.01: [[2.0, 1.0, 0.5], [2.0, 1.2, 0.7]],
        0.1: [[2.0, 0.5, 0.2], [2.0, 0.7, 0.4]],
        1.0: [[2.0, 9.0], [2.0, math.inf]],
    }
    histories = {}
    for r in runs:
        histories[r["run_id"]] = history(curves[r["lr"]][r["seed"]])
    panel = epoch_panel(runs, histories, "final_val_loss")
    assert panel.best_lr == 0.1
    by_lr = {c.lr: c for c in panel.curves}
    np.testing.assert_allclose(by_lr[0.1].train_mean, [2.0, 0.6, 0.3])
    np.testing.assert_allclose(by_lr[0.1].train_low, [2.0, 0.5, 0.2])
    assert by_lr[0.1].recommended and by_lr[0.1].round == 1 and by_lr[1.0].diverged
    np.testing.assert_allclose(by_lr[1.0].train_mean, [2.0, 9.0])  # inf left out

    fig = plot_loss_vs_epoch([panel, panel._replace(label="adam")])
    assert len(fig.axes) == 2 * 2 + 1  # a row per combination, and the colour bar
    train = fig.axes[0]
    lines = {line.get_label(): line for line in train.lines}
    np.testing.assert_allclose(lines["lr 0.1"].get_data()[1], by_lr[0.1].train_mean)
    assert lines["lr 0.1"].get_color() == "k" and lines["lr 0.1"].get_linewidth() > 2
    assert lines["lr 1"].get_linestyle() == "--"
    assert lines["lr 0.01"].get_color() != lines["lr 1"].get_color()
    assert fig.axes[0].get_title() == "training loss"
    assert fig.axes[2].get_ylabel() == "adam\nloss (mean over seeds)"


def test_range_test_suggestions_that_agree_share_one_labelled_marker():
    from lrsweep.plots import plot_range_test

    lr = np.logspace(-5, 0, 50)
    loss = 2 - np.exp(-((np.log10(lr) + 2.5) ** 2))
    curves = {0: {"lr": lr, "loss": loss, "smoothed_loss": loss}}
    found = {"recommended": 1e-3, "minimum_10": 1e-3, "valley": 1.01e-3, "steep": 1e-4,
             "max_lr": 1e-2, "slide": None}  # fmt: skip
    marks = suggestion_marks(curves, found)
    assert [m.names for m in marks] == [
        ("steep",),
        ("recommended", "minimum_10", "valley"),
        ("max_lr",),
    ]
    expected = np.interp(-3, np.log10(lr), loss)
    assert marks[1].loss == pytest.approx(expected, rel=1e-3)
    fig = plot_range_test(curves, marks)
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_label() == "_suggestion"]
    assert [d.get_data()[0][0] for d in dots] == [m.lr for m in marks]
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[1:] == ["steep: 0.0001", "recommended = minimum_10 = valley: 0.001",
                          "max_lr: 0.01"]  # fmt: skip
    assert not [
        line
        for line in ax.lines
        if len(line.get_data()[0]) == 2 and line.get_data()[0][0] == line.get_data()[0][1]
    ]  # no vertical lines


def test_scaling_fit_has_an_interval_that_shrinks_with_agreement():
    xs = [16, 32, 64, 128]
    exact = scaling_fit(xs, [0.01 * x**0.5 for x in xs])
    assert exact.slope == pytest.approx(0.5) and exact.high - exact.low == pytest.approx(
        0, abs=1e-9
    )
    noisy = scaling_fit(xs, [0.01 * x**0.5 * f for x, f in zip(xs, [1.3, 0.8, 1.2, 0.9])])
    assert noisy.low < 0.5 < noisy.high and noisy.n == 4
    two = scaling_fit([16, 32], [0.1, 0.2])
    assert two.slope == pytest.approx(1.0) and two.low is None
    assert scaling_fit([16], [0.1]) is None


def test_heatmap_says_what_blank_cells_are_and_draws_the_fit():
    from lrsweep.analysis import Heatmap, ScalingFit
    from lrsweep.plots import plot_heatmap

    grid = np.array([[0.5, 0.2, np.nan], [0.6, 0.3, 0.2]])
    fit = ScalingFit(0.74, math.log(0.001), 0.2, 1.3, 4)
    data = Heatmap("train.batch_size", np.array([0.01, 0.1, 1.0]), np.array([16.0, 32.0]),
                   grid, "final_val_loss", np.array([0.1, 0.3]), fit)  # fmt: skip
    fig = plot_heatmap(data)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "no stable run (diverged)" in labels
    assert any("0.74 (95% CI 0.20 to 1.30, 4 points)" in label for label in labels)
    ax = fig.axes[0]
    stars = next(line for line in ax.lines if line.get_label() == "_best")
    np.testing.assert_allclose(stars.get_data()[0], np.log10([0.1, 0.3]))


def test_tables_show_no_spread_where_fewer_than_two_seeds_survived():
    curve = {
        "table": [
            {"lr": 0.1, "mean": 0.2, "std": 0.0, "n_ok": 1, "n_diverged": 1, "n_failed": 0},
            {"lr": 0.01, "mean": 0.3, "std": 0.02, "n_ok": 2, "n_diverged": 0, "n_failed": 0},
        ],
        "best": {"lr": 0.01, "objective_mean": 0.3, "objective_std": 0.02},
    }
    assert [r[2] for r in per_lr_rows(curve)] == ["-", "0.02"]
    curve["table"][1]["n_ok"] = 1
    assert answer_facts(curve, "final_val_loss")[0][1] == "0.01 (final_val_loss 0.3, one seed)"
