"""The answer at a budget (issue 25): the pick weighs the cliff, partial runs are evidence,
the budget's refine steps land on one grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsweep import curve as ucurve
from lrsweep.analysis import extrapolated, fit_rows, learning_curve_change
from lrsweep.curve import Observation, divergence_chance, fit_curve, pick
from lrsweep.search import aligned_grid


def spread_u(noise_low: float, noise_high: float, seeds: int = 8) -> list[Observation]:
    """A U symmetric in log10 LR around 0.01 whose runs spread ``noise_high`` (log scale)
    above it and ``noise_low`` below; every seed's noise is drawn once and reused (mirrored
    shapes, the same geometric means on both sides)."""
    rng = np.random.default_rng(3)
    eps = rng.standard_normal(seeds)
    eps = (eps - eps.mean()) / eps.std(ddof=1)  # exactly mean 0, sd 1 over the seeds
    out = []
    for x in np.linspace(-3.0, -1.0, 17):
        base = 0.3 + 0.2 * (x + 2.0) ** 2
        sd = noise_high if x > -2.0 else noise_low
        for s in range(seeds):
            out.append(Observation(float(10**x), base * math.exp(sd * eps[s]), s))
    return out


def test_the_pick_weighs_the_spread_of_runs_not_only_their_geometric_mean():
    # the fit's log-scale mean is symmetric around 0.01; the runs above it spread 10x more,
    # so their arithmetic mean (what a user's run is worth on average) is higher there
    fit = fit_curve(spread_u(noise_low=0.02, noise_high=0.4))
    assert fit is not None
    chosen = pick(fit, 0.05)
    assert abs(math.log10(chosen.mean_lr) + 2.0) < 0.15  # the geometric mean: the middle
    assert chosen.ucb_lr < chosen.mean_lr  # the pick steps away from the spread side
    arith_off = pick(fit._replace(noise_var=np.zeros_like(fit.noise_var)), 0.05)
    assert chosen.ucb_lr <= arith_off.ucb_lr


def test_the_divergence_chance_follows_each_seeds_first_divergence():
    lrs = [0.01, 0.03, 0.1, 0.3]
    x = np.log10(lrs * 2)
    seeds = np.array([0] * 4 + [1] * 4)
    xs = np.linspace(-2, -0.5, 31)
    none = np.zeros(8, dtype=bool)
    assert not divergence_chance(x, none, seeds, xs).any()
    # seed 0's edge lies between 0.03 and 0.1, seed 1's between 0.1 and 0.3
    diverged = np.array([0, 0, 1, 1, 0, 0, 0, 1], dtype=bool)
    p = divergence_chance(x, diverged, seeds, xs)
    assert np.all(np.diff(p) >= 0)
    assert p[0] < 0.01
    assert 0.2 < float(np.interp(-1.0, xs, p)) < 0.8  # at 0.1: one seed of two
    assert float(np.interp(math.log10(0.3), xs, p)) > 0.8
    # never sharper than the narrowest spread of edges allowed: two seeds say little
    slope = float(np.max(np.diff(p) / np.diff(xs)))
    assert slope <= 1 / (ucurve.EDGE_SDS[0] * math.sqrt(2 * math.pi)) + 0.05
    # a seed that finishes again past its first divergence (chaotic runs): no new evidence
    x2 = np.append(x, math.log10(1.0))
    again = divergence_chance(x2, np.append(diverged, False), np.append(seeds, 0), xs)
    assert np.allclose(again, p)


def test_a_pick_beside_a_cliff_steps_back_from_it():
    # the loss falls all the way to the LRs where seeds start to diverge (separable data):
    # the fit's minimiser is at the edge, the expected loss with the chance of a wasted run
    # is not
    out = []
    for lr in np.logspace(-3, -0.5, 11):
        for s in range(3):
            if lr > 0.25 or (lr > 0.15 and s == 0):
                out.append(Observation(float(lr), math.inf, s))
            else:
                out.append(Observation(float(lr), 0.5 * lr**-0.5 / 30 * (1 + 0.02 * s), s))
    fit = fit_curve(out)
    assert fit is not None
    chosen = pick(fit, 0.05)
    stable = 10**fit.stable_max
    assert chosen.mean_lr == pytest.approx(stable, rel=0.03)  # the mean alone: at the edge
    assert chosen.lr < stable * 0.99  # with the divergence risk: back from it
    blind = pick(fit._replace(p_diverge=np.zeros_like(fit.p_diverge)), 0.05)
    assert blind.lr > chosen.lr


def row(lr: float, seed: int, value: float, epochs: int, budget: str, status: str = "ok"):
    return {"lr": lr, "seed": seed, "objective": value, "epochs_done": epochs,
            "budget": budget, "status": status}  # fmt: skip


def test_a_learning_curve_change_is_interpolated_and_held_past_the_pairs():
    pairs = [(-3.0, -0.5), (-2.0, -0.3), (-1.0, -0.4)]
    spread = float(np.var([-0.5, -0.3, -0.4], ddof=1))  # 0.01
    # between pairs: linear in log10 LR, with the pairs' spread as a mean's variance
    shift, var = learning_curve_change(pairs, -2.5)  # type: ignore[misc]
    assert shift == pytest.approx(-0.4)
    assert var == pytest.approx(spread * (1 + 1 / 3))
    # past the pairs: the nearest end's change, never a line carried on; the variance grows
    # with the squared distance in half decades
    shift, var = learning_curve_change(pairs, -4.0)  # type: ignore[misc]
    assert shift == pytest.approx(-0.5)
    assert var == pytest.approx(spread * (1 + 1 / 3) * (1 + (1.0 / 0.5) ** 2))
    shift, _ = learning_curve_change(pairs, 0.0)  # type: ignore[misc]
    assert shift == pytest.approx(-0.4)
    # two seeds at one LR: their mean, their scatter around it counts too
    shift, var = learning_curve_change([(-2.0, -0.2), (-2.0, -0.4), (-1.0, -0.3)], -1.5)  # type: ignore[misc]
    assert shift == pytest.approx(-0.3)
    within = (0.1**2 + 0.1**2) / 1  # residuals around the LR's mean, 3 pairs - 2 LRs
    assert var == pytest.approx((within + 0.0) * (1 + 1 / 3))
    assert learning_curve_change([(-3.0, -0.5)], -4.0) is None


def test_partial_runs_at_lrs_no_full_run_reached_are_evidence_not_missing_points():
    # a budget's first look: 5 LRs at 5 epochs; 0.001, 0.01 and 0.1 went on to 40 epochs
    # (the survivors: pairs); 0.0001 was dropped; 1.0 diverged in its 5 epochs
    partial = [
        row(0.0001, 0, 1.0, 5, "coarse"),
        row(0.001, 0, 0.8, 5, "coarse"),
        row(0.01, 0, 0.6, 5, "coarse"),
        row(0.1, 0, 0.5, 5, "coarse"),
        row(1.0, 0, math.nan, 2, "coarse", "diverged"),
    ]
    full = [row(0.001, 0, 0.4, 40, "full"), row(0.01, 0, 0.33, 40, "full"),
            row(0.1, 0, 0.3, 40, "full")]  # fmt: skip
    got = {o.lr: o for o in extrapolated(partial, full, "final_val_loss")}
    assert set(got) == {0.0001, 1.0}
    assert got[1.0].score == math.inf  # diverged within 5 epochs: diverged
    # log changes at -3, -2, -1: log(0.4/0.8), log(0.33/0.6), log(0.3/0.5); at -4, past the
    # pairs, the nearest one's: 1.0 x 0.4 / 0.8
    assert got[0.0001].score == pytest.approx(1.0 * 0.4 / 0.8)
    assert got[0.0001].extra_var > 0  # extrapolated: with its own uncertainty
    # no pairs at the dropped LR's epochs: nothing says what it would have become
    assert extrapolated([row(0.0001, 0, 1.0, 3, "coarse")], full, "final_val_loss") == []
    # the fit spans the partial evidence: its LR range reaches 0.0001
    fit = fit_rows(partial + full, "final_val_loss")
    assert fit is not None
    assert fit.x[0] == pytest.approx(-4.0)
    assert fit.stable_max == pytest.approx(-1.0)  # below the LR that diverged in its rung


def test_a_maximised_metric_is_extrapolated_on_its_own_scale():
    partial = [row(0.001, 0, 0.6, 5, "coarse"), row(0.01, 0, 0.7, 5, "coarse"),
               row(0.1, 0, 0.75, 5, "coarse")]  # fmt: skip
    full = [row(0.01, 0, 0.9, 40, "full"), row(0.1, 0, 0.85, 40, "full")]
    got = extrapolated(partial, full, "final_val_accuracy:max")
    assert len(got) == 1
    # scores are negated accuracies (negative): a plain difference, the nearest pair's (0.01)
    assert got[0].score == pytest.approx(-0.6 + (-0.9 + 0.7))


def test_the_budgets_refine_lands_on_one_grid_and_skips_near_twins_of_trained_lrs():
    trained = [0.001, 0.00316227766]
    got = aligned_grid((0.000546, 0.00173), 4, trained)
    ks = [math.log10(lr) * 4 for lr in got]
    assert all(abs(k - round(k)) < 0.01 for k in ks)  # whole steps of the 4-per-decade grid
    assert 0.001 not in got
    assert all(abs(math.log10(lr / t)) >= 0.125 - 1e-9 for lr in got for t in trained)
    assert got == [pytest.approx(10**-3.25)]  # 10**-2.75 is past the window's end
