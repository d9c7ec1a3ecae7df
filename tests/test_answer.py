"""The U-curve fit and the answer with its uncertainty (hand-made arrays, no training), and
exactly-once grid points across rounds, refine, resume and `vary:` (tiny real sweeps)."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

import lrsweep
import lrsweep.orchestrate as sweep_module
from lrsweep import mlp as trainer_module
from lrsweep import study
from lrsweep.analysis import (
    aggregate,
    answer,
    indistinguishable,
    interval_edge,
    largest_stable_lr,
    observations,
    summarize,
)
from lrsweep.curve import (
    Observation,
    fit_curve,
    fitted_at,
    pick,
    probability_best,
    sensitivity,
    window_max,
)
from lrsweep.files import to_json_safe
from lrsweep.plan import lattice_index
from lrsweep.spec import load_spec


def u_curve(center: float, width: float, noise: float, seeds: int = 3, diverge_at: float = 9.0,
            lrs: np.ndarray | None = None, floor: float = 0.2, rng_seed: int = 0
            ) -> list[Observation]:  # fmt: skip
    """Scores floor + width x (log10 lr - center)^2 with seeded noise; +inf past diverge_at."""
    rng = np.random.default_rng(rng_seed)
    lrs = np.logspace(-4, 0, 17) if lrs is None else lrs
    out = []
    for lr in lrs:
        for s in range(seeds):
            if math.log10(lr) >= diverge_at:
                out.append(Observation(float(lr), math.inf, s))
                continue
            value = floor + width * (math.log10(lr) - center) ** 2
            out.append(Observation(float(lr), value * math.exp(noise * rng.standard_normal()), s))
    return out


def test_the_fit_finds_the_minimum_of_a_noisy_u_and_its_interval_holds_it():
    fit = fit_curve(u_curve(center=-2.0, width=0.1, noise=0.05))
    assert fit is not None
    chosen = pick(fit, 0.05)
    assert abs(math.log10(chosen.lr) + 2.0) < 0.25
    lo, hi = chosen.interval
    assert lo <= chosen.lr <= hi
    assert chosen.expected_low <= chosen.expected <= chosen.expected_high
    assert chosen.expected == pytest.approx(0.2, rel=0.1)  # the fit, not the luckiest mean
    assert chosen.band[0] <= chosen.lr <= chosen.band[1]


def test_the_optimums_interval_covers_the_true_minimum_as_often_as_it_says():
    hits = 0
    for rng_seed in range(12):
        fit = fit_curve(u_curve(center=-2.0, width=0.1, noise=0.05, rng_seed=rng_seed))
        assert fit is not None
        lo, hi = pick(fit, 0.05).interval
        hits += lo <= 0.01 <= hi
    assert hits >= 8  # a 10-90 % interval: about 80 % (88 % over 40 noise seeds)


def test_dense_refine_points_do_not_let_the_interval_wander_between_coarse_ones():
    # the demo's shape: a flat basin over 0.01-0.06 and a wall after it, the arms sampled at
    # 2 per decade, the basin at 32 per decade (refine --points-per-decade 32); a short length
    # scale once spread the optimum's interval to 0.00067-0.059, between the coarse points
    def score(lr: float) -> float:
        x = math.log10(lr)
        return 0.14 + 2.0 * max(-2.0 - x, 0.0) ** 2 + 40.0 * max(x + 1.2, 0.0) ** 2

    rng = np.random.default_rng(3)
    coarse = np.logspace(-4, 0, 9)
    dense = np.logspace(-2, -1, 33)
    observations = [
        Observation(float(lr), score(lr) * math.exp(0.06 * rng.standard_normal()), s)
        for lr in np.concatenate([coarse, dense])
        for s in range(3)
    ]
    fit = fit_curve(observations)
    assert fit is not None
    chosen = pick(fit, 0.05)
    lo, hi = chosen.interval
    assert 0.005 <= lo and hi <= 0.08, chosen.interval
    assert 0.008 <= chosen.lr <= 0.065


def test_a_lucky_extra_seed_at_a_few_lrs_does_not_make_a_dip():
    # a flat basin; seed 3 (trained only at 5 LRs, as a resolve round does) is 15 % better at
    # every LR: a seed's runs share weights and batches. Its level must not make those LRs win.
    observations = u_curve(center=-2.0, width=0.02, noise=0.01, lrs=np.logspace(-3, -1, 17))
    extra = np.logspace(-3, -1, 17)[2:7]  # 0.0018-0.0056, left of the centre 0.01
    lucky = [Observation(o.lr, o.score * 0.85, 3) for o in observations if o.lr in extra]
    assert len(lucky) == 5 * 3
    lucky = lucky[::3]  # one run per LR
    fit = fit_curve(observations + lucky)
    alone = fit_curve(observations)
    assert fit is not None and alone is not None
    chosen, reference = pick(fit, 0.05), pick(alone, 0.05)
    assert abs(math.log10(chosen.lr / reference.lr)) < 0.15
    # the level is every seed's: the lucky seed counts for 1 of 4 (0.85 ** (1/4) = 0.96)
    assert chosen.expected == pytest.approx(reference.expected * 0.85**0.25, rel=0.01)


def test_diverged_seeds_are_censored_and_keep_the_pick_below_them():
    # the U's minimum would be at 0.1, but every LR from 0.0316 up diverged
    fit = fit_curve(u_curve(center=-1.0, width=0.1, noise=0.02, diverge_at=-1.5))
    assert fit is not None
    chosen = pick(fit, 0.05)
    assert chosen.lr < 10**-1.5
    assert fit.stable_max < -1.5


def test_too_few_runs_give_no_fit():
    assert fit_curve([Observation(0.1, 1.0, 0), Observation(0.1, 1.1, 1)]) is None
    assert fit_curve([Observation(0.1, math.inf, 0)] * 5) is None


def test_the_fit_is_deterministic():
    a, b = fit_curve(u_curve(-2, 0.1, 0.1)), fit_curve(u_curve(-2, 0.1, 0.1))
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.mean, b.mean)
    assert pick(a, 0.05) == pick(b, 0.05)


def test_sensitivity_tells_a_flat_curve_from_a_sharp_one():
    flat = fit_curve(u_curve(-2, 0.005, 0.01))
    sharp = fit_curve(u_curve(-2, 0.5, 0.01))
    assert flat is not None and sharp is not None
    s_flat = sensitivity(flat, pick(flat, 0.05).band, initial=2.0)
    s_sharp = sensitivity(sharp, pick(sharp, 0.05).band, initial=2.0)
    # over the decade around the band, (x - center)^2 averages 1/12 decade^2: 0.4/0.2 = 0.2 %
    # of the floor for the flat curve, ~21 % for the sharp one
    assert s_flat < 0.01 and s_sharp > 0.15


def test_sensitivity_counts_past_divergence_as_the_untrained_loss_and_is_capped():
    # the same U, once diverging a quarter decade past its minimum: the LRs past the wall count
    # as the untrained loss (10x the floor), each capped at a rise of 1
    wall = fit_curve(u_curve(-2, 0.5, 0.01, diverge_at=-1.6))
    open_ = fit_curve(u_curve(-2, 0.5, 0.01))
    assert wall is not None and open_ is not None
    s_wall = sensitivity(wall, pick(wall, 0.05).band, initial=2.0)
    s_open = sensitivity(open_, pick(open_, 0.05).band, initial=2.0)
    assert s_open + 0.1 < s_wall <= 1.0


def test_probability_best_from_a_seed_bootstrap():
    clear = np.array([[1.0, 1.1, 0.9], [2.0, 2.1, 1.9], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(probability_best(clear), [1.0, 0.0, 0.0])
    tied = np.array([[1.0, 2.0, 1.0, 2.0], [2.0, 1.0, 2.0, 1.0]])
    p = probability_best(tied)
    assert p.sum() == pytest.approx(1.0) and 0.2 < p[0] < 0.8
    diverged = np.array([[0.5, math.inf, 0.5], [1.0, 1.0, 1.0]])
    assert probability_best(diverged)[0] < 1.0  # a resample with the diverged seed loses
    assert probability_best(np.zeros((0, 3))).shape == (0,)


def test_window_max():
    x = np.linspace(0, 1, 11)
    v = np.zeros(11)
    v[5] = 1.0
    np.testing.assert_array_equal(window_max(x, v, 0.1), [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0])


def rows_from(observations: list[Observation]) -> list[dict]:
    return [
        {
            "lr": o.lr, "seed": o.seed, "round": 0, "budget": "full", "combo": "all",
            "status": "ok" if math.isfinite(o.score) else "diverged",
            "objective": o.score if math.isfinite(o.score) else math.nan,
            "initial_objective": 2.0, "label": "ok",
        }
        for o in observations
    ]  # fmt: skip


def test_the_answer_in_the_summary_is_strict_json_with_its_uncertainty():
    rows = rows_from(u_curve(-2, 0.1, 0.05, diverge_at=-0.5))
    summary = summarize(rows, "final_val_loss")
    json.dumps(to_json_safe(summary), allow_nan=False)  # as ResultsDir.write_summary writes it
    a = summary["answer"]
    json.dumps(a, allow_nan=False)  # the answer itself has no NaN
    assert a["rule"] == "ucb" and summary["recommended_lr"] == a["lr"]
    assert a["interval"][0] <= a["lr"] <= a["interval"][1]
    low, high = a["expected_objective_range"]
    assert low <= a["expected_objective"] <= high
    assert sum(row["p_best"] for row in summary["table"]) == pytest.approx(1.0)
    assert summary["good_band"] == a["good_band"]
    assert answer(rows[:2], "final_val_loss", 0.05) is None


def test_curves_within_noise_are_indistinguishable():
    def curve(label: str, expected: float, sd: float) -> dict:
        return {
            "label": label,
            "answer": {
                "expected_objective": expected,
                "expected_objective_range": [expected - sd, expected + sd],
            },
        }

    best = curve("a", 1.0, 0.05)
    close, far = curve("b", 1.03, 0.05), curve("c", 1.5, 0.05)
    assert indistinguishable(best, [best, close, far], 1.0) == ["b"]


# -- exactly once ---------------------------------------------------------------------------

SPEC = """\
name: once
data: {builtin: moons, n_samples: 120, noise: 0.2}
model: {hidden: [8]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 1, batch_size: 32, seeds: 2}
grid: {lr_min: 1e-2, lr_max: 3.0, points_per_decade: 2}
vary: {optimizer.momentum: [0.0, 0.9]}
refine: {rounds: 2, points_per_decade: 6, max_runs: 40}
"""


class Interrupt(Exception):
    """A group that fails (the executor records its runs as failed: resumable)."""


def test_no_grid_point_is_trained_twice(write_spec, tmp_path, monkeypatch):
    real = trainer_module.train_group
    trained: list[list[str]] = []
    fail_after: list[int] = []

    def counting(group, data, **kwargs):
        if fail_after and len(trained) >= fail_after[0]:
            raise Interrupt
        trained.append([r.run_id for r in group.runs])
        return real(group, data, **kwargs)

    monkeypatch.setattr(trainer_module, "train_group", counting)
    spec = load_spec(write_spec(SPEC))
    out = tmp_path / "r"
    fail_after.append(2)  # a first sweep whose groups fail after the second (resumable) ...
    lrsweep.run_sweep(spec, out)
    fail_after.clear()
    first = [i for ids in trained for i in ids]
    assert first and len(first) < len(sweep_module.ResultsDir.open(out).planned())
    lrsweep.run_sweep(spec, out)  # ... resumed: the failed ones train, the finished do not
    resumed = [i for ids in trained[2:] for i in ids]
    assert resumed and not set(first) & set(resumed)
    lrsweep.refine(out, rounds=1, points_per_decade=32)
    lrsweep.run_sweep(spec, out)  # the same spec again: nothing new
    ids = [i for group in trained for i in group]
    assert len(ids) == len(set(ids)), "a run was handed to training twice"
    rows = study.all_rows(sweep_module.ResultsDir.open(out))
    assert len(rows) == len({r["run_id"] for r in rows})
    assert len([r for r in rows if r["status"] != "failed"]) == len(ids)
    # one run per (combination, lattice point, seed), and one spelling per lattice point
    keys = Counter((r["combo"], lattice_index(r["lr"]), r["seed"]) for r in rows)
    assert max(keys.values()) == 1
    spellings: dict[int, set[float]] = {}
    for r in rows:
        spellings.setdefault(lattice_index(r["lr"]), set()).add(r["lr"])
    assert all(len(s) == 1 for s in spellings.values())
    summary = json.loads((out / "summary.json").read_text())
    for combo in summary["combos"]:
        lrs = [row["lr"] for row in combo["table"]]
        assert len(lrs) == len(set(lrs))  # no LR twice in a table
    assert fitted_at  # imported for the public surface


def test_the_u_curve_plot_draws_the_fit_and_its_band_beside_the_seeds():
    from lrsweep.analysis import u_curve as curve_data
    from lrsweep.plots import plot_u_curve

    data = curve_data(rows_from(u_curve(-2, 0.1, 0.05, diverge_at=-0.5)), "final_val_loss")
    assert len(data.fit_lrs) > 10 and data.recommended_lr is not None
    assert np.all(data.fit_low <= data.fit_mean) and np.all(data.fit_mean <= data.fit_high)
    fig = plot_u_curve(data)
    ax = fig.axes[0]
    drawn = [line for line in ax.lines if line.get_label() == "U-curve fit"]
    assert len(drawn) == 1
    np.testing.assert_allclose(drawn[0].get_ydata(), data.fit_mean)
    assert any(line.get_label().startswith("recommended") for line in ax.lines)


def test_the_largest_stable_lr_stops_where_runs_collapse_to_a_constant_prediction():
    # 10 classes: the constant prediction's loss is ln 10 = 2.30. LR 0.3 and 1 end there
    # (they did not diverge, they learned nothing); 0.1 is poor but learned; 0.001 is slow.
    losses = {0.001: 2.25, 0.01: 0.2, 0.03: 0.15, 0.1: 1.2, 0.3: 2.33, 1.0: 2.36}
    rows = [
        {"lr": lr, "seed": s, "status": "ok", "objective": v + 0.01 * s, "final_train_loss": v,
         "round": 0, "combo": "all"}
        for lr, v in losses.items()
        for s in range(3)
    ]  # fmt: skip
    points = aggregate(rows, "final_val_loss")
    assert largest_stable_lr(points) == 1.0  # by divergence alone
    assert largest_stable_lr(points, rows, math.log(10)) == 0.1
    rows_diverged = [dict(r, status="diverged") if r["lr"] == 0.1 else r for r in rows]
    points = aggregate(rows_diverged, "final_val_loss")
    assert largest_stable_lr(points, rows_diverged, math.log(10)) == 0.03


def test_an_interval_that_reaches_the_grids_edge_is_flagged():
    below = fit_curve(u_curve(center=-4.6, width=0.1, noise=0.02))  # optimum under the grid
    inside = fit_curve(u_curve(center=-2.0, width=0.1, noise=0.02))
    assert below is not None and inside is not None
    assert interval_edge(below, pick(below, 0.05)) == "low"
    assert interval_edge(inside, pick(inside, 0.05)) is None


def test_a_pruned_run_enters_the_fit_where_it_was_cut():
    # left out, the LR would keep only its surviving (better) seeds and look better than it is
    rows = [
        {"lr": 0.1, "seed": 0, "status": "ok", "objective": 0.3},
        {"lr": 0.1, "seed": 1, "status": "pruned", "objective": 0.9},
        {"lr": 0.1, "seed": 2, "status": "diverged", "objective": float("nan")},
        {"lr": 0.1, "seed": 3, "status": "failed", "objective": float("nan")},
    ]
    got = observations(rows, "final_val_loss")
    assert [(o.seed, o.score) for o in got] == [(0, 0.3), (1, 0.9), (2, math.inf)]
