"""Tests for lrsweep.rangetest: the ramp, the smoothing and the suggestion rules on hand-made
curves with known answers, and one tiny real range test."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from lrsweep import rangetest as rt
from lrsweep.data import load_dataset
from lrsweep.errors import SpecError
from lrsweep.spec import validate_spec

# --------------------------------------------------------------------------------------------
# Ramp and smoothing


def test_exp_ramp_pinned() -> None:
    assert rt.ramp(1e-5, 0.1, 5, "exp").tolist() == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2, 0.1])


def test_linear_ramp_pinned() -> None:
    assert rt.ramp(0.1, 0.5, 5, "linear").tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 1.0, 5, "exp"), r"range_test\.start_lr: must be > 0"),
        ((1.0, 0.5, 5, "exp"), r"range_test\.end_lr: must be > start_lr"),
        ((1e-3, 1.0, 1, "exp"), r"range_test\.num_iter: must be an integer >= 2, got 1"),
        ((1e-3, 1.0, 5, "log"), r"range_test\.mode: must be 'exp' or 'linear', got 'log'"),
    ],
)
def test_ramp_errors(args, match) -> None:
    with pytest.raises(SpecError, match=match):
        rt.ramp(*args)


def test_smooth_by_hand() -> None:
    # beta 0.5: avg 0.5 -> 0.5 / 0.5 = 1; avg 1.25 -> / 0.75; avg 2.125 -> / 0.875
    assert_allclose(rt.smooth([1.0, 2.0, 3.0], beta=0.5), [1.0, 1.25 / 0.75, 2.125 / 0.875])
    assert_allclose(rt.smooth([1.0, 2.0], beta=0.0), [1.0, 2.0])


def test_smooth_stops_at_nan_and_inf() -> None:
    out = rt.smooth([1.0, 2.0, np.inf, 3.0], beta=0.5)
    assert_allclose(out[:2], [1.0, 1.25 / 0.75])
    assert np.isnan(out[2:]).all()


# --------------------------------------------------------------------------------------------
# Suggestions on hand-made curves
#
# A curve in x = log10(lr) on x = -5, -4.95, ..., 1 (121 points): a tanh step down centred at
# x = -3 (steepest there), then a quadratic rise from x = -1 (the minimum, lr = 0.1).

X = np.round(np.linspace(-5, 1, 121), 10)
LRS = 10.0**X


def u_curve() -> np.ndarray:
    return 2 - np.tanh(2 * (X + 3)) + 5 * np.maximum(0.0, X + 1) ** 2


def fastai_valley(losses) -> int:
    """fastai.callback.schedule.valley, transcribed loop for loop."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


def fastai_slide(lrs, losses, lr_diff=15, thresh=0.005) -> float:
    """fastai.callback.schedule.slide, transcribed."""
    loss_grad = np.gradient(losses)
    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while (l_idx >= -len(losses)) and (abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh):
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1
    return float(local_min_lr)


def test_clean_u_curve_known_answers() -> None:
    s = rt.suggest(LRS, u_curve())
    assert list(s) == list(rt.SUGGESTIONS)
    assert s["steep"].lr == pytest.approx(1e-3) and s["steep"].index == 40
    assert s["max_lr"].lr == pytest.approx(0.1) and s["max_lr"].index == 80
    assert s["minimum_10"].lr == pytest.approx(0.01)
    assert s["base_lr"].lr == pytest.approx(0.025)
    # valley: window [10, 116); the descent is window points 0..70, fastai's start -1:
    # sections = 71 / 3, idx = -1 + 23 + 11 = 33 -> point 43
    assert s["valley"].index == 43 and s["valley"].lr == pytest.approx(LRS[43])
    window = u_curve()[10:116]
    assert s["valley"].index == 10 + fastai_valley(list(window))
    assert s["slide"].lr == pytest.approx(fastai_slide(LRS[10:116], window))


@given(st.lists(st.floats(0.0, 10.0), min_size=2, max_size=40))
def test_valley_matches_fastai_loop(losses) -> None:
    idx, _ = rt._valley(np.array(losses))
    assert idx == max(fastai_valley(losses), 0)


def test_spike_does_not_fake_a_steep_descent() -> None:
    clean = u_curve()
    spiked = clean.copy()
    spiked[30] *= 1.6  # an upward spike (a bad batch), below the divergence threshold
    naive = int(np.argmin(np.gradient(spiked[10:116], X[10:116]))) + 10
    assert naive == 31  # the recovery right after the spike looks steepest to a naive rule
    s, c = rt.suggest(LRS, spiked), rt.suggest(LRS, clean)
    assert s["steep"].index == c["steep"].index == 40
    for name in ("minimum_10", "max_lr", "base_lr"):
        assert s[name].lr == c[name].lr
    assert abs(s["valley"].index - c["valley"].index) <= 1


def test_curve_ending_in_nan_and_inf_is_cut_there() -> None:
    curve = u_curve()
    curve[100] = np.inf
    curve[101:] = np.nan
    s = rt.suggest(LRS, curve)
    cut = rt.suggest(LRS[:100], curve[:100])
    assert {k: v.lr for k, v in s.items()} == {k: v.lr for k, v in cut.items()}
    assert all(v.index is None or v.index < 95 for v in s.values())


def test_divergence_is_cut_before_suggesting() -> None:
    curve = u_curve()
    curve[60] = 10 * curve[59]  # over 4x the best so far: the curve ends at 60
    assert rt.usable_length(curve) == 60
    s = rt.suggest(LRS, curve)
    assert all(v.index is None or 10 <= v.index < 55 for v in s.values())
    assert s["max_lr"].index == 54  # still falling at the cut: the last point of the window


def test_short_curves_give_none_with_a_note() -> None:
    s = rt.suggest(LRS[:12], u_curve()[:12])
    assert all(v.lr is None and v.index is None for v in s.values())
    assert "too short: 12 usable points" in s["steep"].note
    mid = rt.suggest(LRS[:30], u_curve()[:30])  # a 15-point window: too short for slide only
    assert mid["slide"].lr is None and "more than 15 points" in mid["slide"].note
    assert mid["steep"].lr is not None and mid["valley"].lr is not None


def test_rising_curve_has_no_steep_or_valley() -> None:
    s = rt.suggest(LRS, 1 + X - X[0])
    assert s["steep"].lr is None and s["valley"].lr is None
    assert "start the ramp lower" in s["minimum_10"].note


def test_spread_is_median_min_max() -> None:
    curves = []
    for lr in (1e-3, 1e-2, 1e-1):
        sug = {n: rt.Suggestion(n, lr, 0, "") for n in rt.SUGGESTIONS}
        sug["slide"] = rt.Suggestion("slide", None, None, "short")
        e = np.zeros(0)
        curves.append(rt.RangeCurve(0, e, e, e, e, e, "completed", sug))
    spread = rt.spread(curves)
    assert spread["valley"] == rt.Spread(pytest.approx(1e-2), 1e-3, 1e-1, 3)
    assert spread["slide"] == rt.Spread(None, None, None, 0)


def test_window_slopes_fit_a_line_and_damp_one_outlier() -> None:
    x = np.linspace(-6, 0, 61)  # 0.1 apart: a 0.5-decade window holds 5 points
    assert_allclose(rt.window_slopes(x, 3 - 2 * x, 0.5), -2.0, atol=1e-9)
    y = 3 - 2 * x
    y[30] -= 1.0  # one low point: the point gradient beside it reads -2 - 1 / 0.2 = -7
    assert np.gradient(y, x)[29] == pytest.approx(-7.0)
    # the fit over 5 points weighs it by its offset: at most -2 - 1 * 0.2 / 0.1 = -4, at 28
    slopes = rt.window_slopes(x, y, 0.5)
    assert int(np.argmin(slopes)) == 28 and slopes.min() == pytest.approx(-4.0)
    assert_allclose(rt.window_slopes(x, np.ones_like(x), 0.5), 0.0)
    # a window narrower than the spacing still uses the two neighbours (3 points)
    assert_allclose(rt.window_slopes(x, x**2, 0.01)[1:-1], 2 * x[1:-1], atol=1e-9)


def test_steep_ignores_early_noise_a_point_gradient_would_pick() -> None:
    clean = u_curve()
    noisy = clean.copy()
    noisy[10] += 0.4  # the window opens on a high point (an EMA still settling), then falls
    naive = np.gradient(np.minimum.accumulate(noisy[10:116]), X[10:116])
    assert int(np.argmin(naive)) == 0  # -0.4 / 0.05 = -8 beats the real descent's -2
    s = rt.suggest(LRS, noisy)
    assert s["steep"].index == 40 and "fitted over 0.5 decade" in s["steep"].note


def test_recommended_is_minimum_10_unless_the_loss_never_falls() -> None:
    s = rt.suggest(LRS, u_curve())
    assert s["recommended"].lr == s["minimum_10"].lr == pytest.approx(0.01)
    assert s["recommended"].index == 80
    rising = rt.suggest(LRS, 1 + X - X[0])
    assert (
        rising["recommended"].lr is None and "start the ramp lower" in rising["recommended"].note
    )
    assert rising["minimum_10"].lr is not None  # fastai's rule answers anyway


def _curve(seed: int, smoothed: np.ndarray) -> rt.RangeCurve:
    n = len(smoothed)
    return rt.RangeCurve(seed, np.arange(n), LRS[:n], smoothed, smoothed, np.full(n, np.nan), "")


def test_combine_is_the_geometric_mean_up_to_the_shortest_usable_curve() -> None:
    a, b = u_curve(), 5 * u_curve()  # b starts 5x higher: same shape, same weight
    b[90] = np.nan  # b ends in a nan at 90 (a diverges at 96: past 4x its minimum of 1)
    lr, combined = rt.combine([_curve(0, a), _curve(1, b)])
    assert len(lr) == len(combined) == 90
    assert_allclose(combined, np.sqrt(5) * a[:90])
    s = rt.suggest(lr, combined)
    assert s["steep"].index == 40 and s["max_lr"].index == 80
    diverged = a.copy()
    diverged[60] = 10 * diverged[59]  # over 4x its best: usable up to 60
    assert len(rt.combine([_curve(0, a), _curve(1, diverged)])[0]) == 60
    zero = np.zeros(10)  # not all positive: the arithmetic mean
    assert_allclose(rt.combine([_curve(0, zero), _curve(1, zero + 2)])[1], 1.0)


def test_real_run_reads_the_headline_off_the_combined_curve(moons) -> None:
    spec, data = moons
    result = rt.run_range_test(spec, data, start_lr=1e-4, end_lr=100.0, seeds=[0, 1, 2])
    lr, combined = rt.combine(result.curves)
    expected = rt.suggest(lr, combined)
    assert list(result.suggestions) == list(rt.SUGGESTIONS)
    assert {k: v.lr for k, v in result.suggestions.items()} == {
        k: v.lr for k, v in expected.items()
    }


# --------------------------------------------------------------------------------------------
# A tiny real range test


@pytest.fixture(scope="module")
def moons():
    spec = validate_spec(
        {
            "data": {"builtin": "moons", "n_samples": 200, "noise": 0.2},
            "model": {"hidden": [8]},
            "optimizer": {"name": "sgd", "momentum": 0.9},
            "train": {"batch_size": 16},
        }
    )
    return spec, load_dataset(spec.data, Path("."))


def test_real_run_stops_on_divergence_with_finite_suggestions(moons) -> None:
    spec, data = moons
    result = rt.run_range_test(
        spec, data, start_lr=1e-4, end_lr=100.0, num_iter=100, seeds=[0, 1], val_every=10
    )
    assert len(result.curves) == 2
    for curve in result.curves:
        n = len(curve.lr)
        assert curve.stop in ("diverged", "non_finite") and n < 100
        assert_allclose(curve.lr, rt.ramp(1e-4, 100.0, 100)[:n])
        assert_allclose(curve.step, np.arange(n))
        finite = np.isfinite(curve.loss)
        assert_allclose(curve.smoothed[finite], rt.smooth(curve.loss)[finite])
        assert np.isfinite(curve.val_loss[::10]).all() and np.isnan(curve.val_loss[1::10]).all()
        for name in ("valley", "minimum_10", "max_lr", "base_lr"):
            lr = curve.suggestions[name].lr
            assert lr is not None and math.isfinite(lr) and 1e-4 <= lr <= 100
    spread = result.spread["valley"]
    assert spread.n == 2 and spread.min <= spread.median <= spread.max
    # seeds differ in weights and batch order; the same seed repeats exactly
    assert not np.array_equal(result.curves[0].loss[:20], result.curves[1].loss[:20])
    again = rt.run_range_test(spec, data, start_lr=1e-4, end_lr=100.0, num_iter=100, seeds=[1])
    assert_allclose(again.curves[0].loss, result.curves[1].loss)


def test_real_run_rejects_hypergradient_optimizers(moons) -> None:
    spec, data = moons
    hd = validate_spec({**spec.model_dump(exclude={"base_dir"}), "optimizer": {"name": "sgd_hd"}})
    with pytest.raises(SpecError, match=r"optimizer\.name: the range test ramps the LR"):
        rt.run_range_test(hd, data, start_lr=1e-4, end_lr=1.0, num_iter=10, seeds=[0])


def test_seeds_in_lockstep_match_each_seed_alone():
    from lrsweep.data import load_dataset
    from lrsweep.rangetest import run_range_test
    from lrsweep.spec import validate_spec

    spec = validate_spec(
        {
            "data": {"builtin": "moons", "n_samples": 200},
            "model": {"hidden": [8]},
            "train": {"batch_size": 16},
        }
    )
    data = load_dataset(spec.data, Path("."))
    together = run_range_test(spec, data, seeds=[0, 1], num_iter=40, start_lr=1e-4, end_lr=10)
    for curve in together.curves:
        alone = run_range_test(
            spec, data, seeds=[curve.seed], num_iter=40, start_lr=1e-4, end_lr=10
        ).curves[0]
        assert curve.stop == alone.stop
        np.testing.assert_allclose(curve.loss, alone.loss, rtol=1e-4, atol=1e-6)


def test_per_member_labels_in_the_loss():
    from lrsweep.model import init_params, layer_sizes, loss_and_grads

    rng = np.random.default_rng(0)
    params = init_params(
        layer_sizes(3, [5], 4), 2, activation="tanh", init="auto", rng=rng, dtype=np.float64
    )
    X = rng.normal(size=(2, 6, 3))
    Y = rng.integers(0, 4, size=(2, 6))
    losses, grads = loss_and_grads(params, X, Y, "tanh", "cross_entropy")
    for k in range(2):
        member = [p[k : k + 1] for p in params]
        alone, alone_grads = loss_and_grads(member, X[k], Y[k], "tanh", "cross_entropy")
        np.testing.assert_allclose(losses[k], alone[0], rtol=1e-12)
        for g, a in zip(grads, alone_grads):
            np.testing.assert_allclose(g[k], a[0], rtol=1e-10, atol=1e-12)
