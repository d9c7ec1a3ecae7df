"""Tests for lrsweep.schedules: values pinned by hand from the torch.optim.lr_scheduler formulas.

Each expected value below is written out from the formula on PyTorch's documentation page (or
its closed form), independently of the implementation.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from lrsweep import schedules as sch
from lrsweep.errors import SpecError
from lrsweep.spec import validate_spec

ONE = np.array([1.0])


def lrs_at(schedule: sch.Schedule, steps: list[int], base: float = 1.0) -> list[float]:
    return [float(schedule(s, np.array([base]))[0]) for s in steps]


def make(mapping: dict, spe: int = 1, epochs: int = 10) -> sch.Schedule:
    return sch.make_schedule(mapping, steps_per_epoch=spe, epochs=epochs)


# --------------------------------------------------------------------------------------------
# Per-epoch schedules


def test_constant() -> None:
    assert lrs_at(make({"name": "constant"}), [0, 5, 9], base=0.3) == [0.3, 0.3, 0.3]


def test_step_lr_per_epoch_and_within_epochs() -> None:
    # StepLR(step_size=2, gamma=0.1): base * 0.1 ** (epoch // 2), epochs 0..5
    s = make({"name": "step", "step_size": 2, "gamma": 0.1}, spe=3)
    assert lrs_at(s, [0, 3, 6, 9, 12, 15]) == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lrs_at(s, [4, 5, 8]) == pytest.approx([1, 1, 0.1])  # constant within an epoch


def test_step_lr_per_step_interval() -> None:
    s = make({"name": "step", "step_size": 2, "gamma": 0.5, "interval": "step"}, spe=3)
    assert lrs_at(s, [0, 1, 2, 3, 4]) == pytest.approx([1, 1, 0.5, 0.5, 0.25])


def test_multistep() -> None:
    # MultiStepLR(milestones=[2, 4], gamma=0.5): 0.5 ** bisect_right([2, 4], epoch)
    s = make({"name": "multistep", "milestones": [2, 4], "gamma": 0.5})
    assert lrs_at(s, range(6)) == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])


def test_exponential_and_its_default() -> None:
    s = make({"name": "exponential", "gamma": 0.9}, spe=2)
    assert lrs_at(s, [0, 2, 4, 7]) == pytest.approx([1, 0.9, 0.81, 0.729])
    # default: the LR falls 100x over the run's 10 epochs
    d = make({"name": "exponential"})
    assert lrs_at(d, [5]) == pytest.approx([0.01**0.5])


def test_linear() -> None:
    # LinearLR(start_factor=0.5, end_factor=1.0, total_iters=4)
    s = make({"name": "linear", "start_factor": 0.5, "end_factor": 1.0, "total_iters": 4})
    assert lrs_at(s, [0, 1, 2, 4, 7]) == pytest.approx([0.5, 0.625, 0.75, 1.0, 1.0])
    # PyTorch's default start_factor 1/3, total_iters defaulting to the run (10 epochs)
    d = make({"name": "linear"})
    assert lrs_at(d, [0, 5]) == pytest.approx([1 / 3, 1 / 3 + (2 / 3) * 0.5])


def test_polynomial() -> None:
    # PolynomialLR(total_iters=4, power=2): (1 - min(e, 4) / 4) ** 2
    s = make({"name": "polynomial", "total_iters": 4, "power": 2.0})
    assert lrs_at(s, [0, 1, 2, 4, 6]) == pytest.approx([1, 0.5625, 0.25, 0, 0])


def test_cosine_start_half_end() -> None:
    s = make({"name": "cosine", "t_max": 10, "eta_min": 0.1})
    assert lrs_at(s, [0, 5, 10]) == pytest.approx([1.0, 0.55, 0.1])
    # t_max defaults to the run: epoch e of 20 -> (1 + cos(pi e / 20)) / 2
    d = make({"name": "cosine"}, spe=4, epochs=20)
    assert lrs_at(d, [40, 41, 79]) == pytest.approx(
        [0.5, 0.5, (1 + math.cos(math.pi * 19 / 20)) / 2]
    )


def test_cosine_per_step() -> None:
    d = make({"name": "cosine", "interval": "step"}, spe=4, epochs=5)  # t_max = 20 steps
    assert lrs_at(d, [0, 10, 20]) == pytest.approx([1.0, 0.5, 0.0], abs=1e-12)


def test_cosine_restarts_t_mult_2() -> None:
    # T_0 = 2, T_mult = 2: periods [0, 2), [2, 6), [6, 14)
    s = make({"name": "cosine_restarts", "t_0": 2, "t_mult": 2}, epochs=20)
    expected = [
        1.0,
        0.5,
        1.0,
        (1 + math.cos(math.pi / 4)) / 2,
        0.5,
        (1 + math.cos(math.pi * 3 / 4)) / 2,
        1.0,
    ]
    assert lrs_at(s, range(7)) == pytest.approx(expected)


def test_cosine_restarts_t_mult_1_and_fractional_epochs() -> None:
    s = make({"name": "cosine_restarts", "t_0": 3, "eta_min": 0.1})
    assert lrs_at(s, [0, 3, 6]) == pytest.approx([1.0, 1.0, 1.0])
    assert lrs_at(s, [4]) == pytest.approx([0.1 + 0.9 * (1 + math.cos(math.pi / 3)) / 2])
    # interval step: scheduler.step(epoch + i / iters), epoch 0.5 of T_0 = 2
    f = make({"name": "cosine_restarts", "t_0": 2, "interval": "step"}, spe=4)
    assert lrs_at(f, [2, 8, 10]) == pytest.approx(
        [(1 + math.cos(math.pi / 4)) / 2, 1.0, (1 + math.cos(math.pi / 4)) / 2]
    )


# --------------------------------------------------------------------------------------------
# Per-batch schedules


def test_cyclic_triangular_lr_and_momentum() -> None:
    # max_lr = 1 (the grid LR), base_lr = 0.25, step_size_up = down = 4 steps
    s = make({"name": "cyclic", "step_size_up": 4}, spe=5)
    assert s.interval == "step"
    assert lrs_at(s, [0, 2, 4, 6, 8, 10]) == pytest.approx([0.25, 0.625, 1.0, 0.625, 0.25, 0.625])
    # momentum moves against the LR between 0.8 and 0.9
    assert [s.momentum(k) for k in (0, 2, 4, 8)] == pytest.approx([0.9, 0.85, 0.8, 0.9])


def test_cyclic_triangular2_halves_each_cycle() -> None:
    s = make({"name": "cyclic", "step_size_up": 4, "mode": "triangular2"}, spe=5)
    # cycle 2 (steps 8..15): amplitude / 2; cycle 3: / 4
    assert lrs_at(s, [4, 12, 20]) == pytest.approx([1.0, 0.25 + 0.75 / 2, 0.25 + 0.75 / 4])


def test_cyclic_exp_range_and_asymmetric() -> None:
    s = make({"name": "cyclic", "step_size_up": 4, "mode": "exp_range", "gamma": 0.9}, spe=5)
    # scale_fn(u) = gamma ** u, per iteration
    assert lrs_at(s, [2, 4]) == pytest.approx([0.25 + 0.75 * 0.5 * 0.9**2, 0.25 + 0.75 * 0.9**4])
    a = make({"name": "cyclic", "step_size_up": 2, "step_size_down": 6, "cycle_momentum": False})
    # total 8, ratio 0.25: step 1 -> x = 1/8, scale 0.5; step 4 -> x = 0.5, (x - 1)/(r - 1) = 2/3
    assert lrs_at(a, [1, 2, 4]) == pytest.approx([0.625, 1.0, 0.25 + 0.75 * 2 / 3])
    assert a.momentum(1) is None


def test_cyclic_default_step_size_up_is_two_epochs_capped_at_half_the_run() -> None:
    assert make({"name": "cyclic"}, spe=10, epochs=20).step_size_up == 20
    assert make({"name": "cyclic"}, spe=10, epochs=2).step_size_up == 10


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_onecycle_start_peak_end(strategy: str) -> None:
    # total 10 steps, pct_start 0.3: phase ends 0.3 * 10 - 1 = 2 and 9
    s = make({"name": "onecycle", "anneal_strategy": strategy}, spe=5, epochs=2)
    initial, lowest = 1 / 25, 1 / 25 / 1e4
    pct = (5 - 2) / (9 - 2)
    if strategy == "cos":
        mid = lowest + (1 - lowest) / 2 * (math.cos(math.pi * pct) + 1)
        first = 1 + (initial - 1) / 2 * (math.cos(math.pi / 2) + 1)
    else:
        mid = 1 + (lowest - 1) * pct
        first = initial + (1 - initial) * 0.5
    assert lrs_at(s, [0, 1, 2, 5, 9]) == pytest.approx([initial, first, 1.0, mid, lowest])
    assert [s.momentum(k) for k in (0, 2, 9)] == pytest.approx([0.95, 0.85, 0.95])


def test_onecycle_three_phase() -> None:
    # total 20, pct 0.25: ends 4 (up), 8 (back to initial), 19 (to the minimum)
    s = make({"name": "onecycle", "three_phase": True, "pct_start": 0.25}, spe=10, epochs=2)
    initial, lowest = 1 / 25, 1 / 25 / 1e4
    assert lrs_at(s, [0, 4, 6, 8, 19]) == pytest.approx(
        [initial, 1.0, initial + (1 - initial) / 2, initial, lowest]
    )
    assert [s.momentum(k) for k in (4, 8, 12)] == pytest.approx([0.85, 0.95, 0.95])


# --------------------------------------------------------------------------------------------
# Reduce on plateau


def observe_all(
    s: sch.Schedule, losses: list[list[float]], base: list[float]
) -> list[list[float]]:
    trace = []
    for epoch, loss in enumerate(losses):
        s.observe(epoch, np.array(loss), np.array(base))
        trace.append(s(epoch + 1, np.array(base)).tolist())
    return trace


def test_plateau_rel_min_per_member() -> None:
    s = make({"name": "plateau", "patience": 1, "factor": 0.5, "threshold": 0.1})
    assert s.stateful
    # member 0 improves by < 10% twice -> reduced after the 3rd epoch; member 1 keeps improving
    losses = [[1.0, 1.0], [0.95, 0.8], [0.94, 0.7], [0.5, 0.6]]
    trace = observe_all(s, losses, [1.0, 0.1])
    assert trace == [[1.0, 0.1], [1.0, 0.1], [0.5, 0.1], [0.5, 0.1]]


def test_plateau_abs_threshold_and_nan_is_bad() -> None:
    s = make(
        {
            "name": "plateau",
            "patience": 1,
            "factor": 0.5,
            "threshold": 0.1,
            "threshold_mode": "abs",
        }
    )
    trace = observe_all(s, [[1.0], [0.95], [0.95]], [1.0])
    assert trace == [[1.0], [1.0], [0.5]]
    n = make({"name": "plateau", "patience": 0, "factor": 0.5})
    assert observe_all(n, [[1.0], [float("nan")]], [1.0]) == [[1.0], [0.5]]


def test_plateau_max_mode() -> None:
    s = make({"name": "plateau", "mode": "max", "patience": 0, "factor": 0.5, "threshold": 0.0})
    assert observe_all(s, [[0.5], [0.6], [0.6]], [1.0]) == [[1.0], [1.0], [0.5]]


def test_plateau_cooldown() -> None:
    s = make({"name": "plateau", "patience": 0, "factor": 0.5, "cooldown": 2})
    trace = observe_all(s, [[1.0]] * 6, [1.0])
    assert trace == [[1.0], [0.5], [0.5], [0.5], [0.25], [0.25]]


def test_plateau_min_lr_and_eps() -> None:
    s = make({"name": "plateau", "patience": 0, "factor": 0.1, "min_lr": 0.05})
    trace = observe_all(s, [[1.0]] * 4, [1.0])
    assert [t[0] for t in trace] == pytest.approx([1.0, 0.1, 0.05, 0.05])


def test_plateau_select_drops_members() -> None:
    s = make({"name": "plateau", "patience": 0, "factor": 0.5})
    observe_all(s, [[1.0, 1.0, 1.0], [2.0, 0.5, 2.0]], [1.0, 0.1, 0.01])
    s.select(np.array([1, 2]))
    assert s(5, np.array([0.1, 0.01])).tolist() == pytest.approx([0.1, 0.005])
    assert_allclose(s.multipliers, [1.0, 0.5])
    with pytest.raises(ValueError, match="select"):
        s(5, np.array([0.1, 0.01, 1.0]))


# --------------------------------------------------------------------------------------------
# Warmup


def test_warmup_steps_then_schedule_restarts_count() -> None:
    s = make({"name": "step", "step_size": 1, "gamma": 0.5, "warmup_steps": 4}, spe=4, epochs=4)
    assert isinstance(s, sch.Warmup)
    expected = [0.01 + 0.99 * k / 4 for k in range(4)] + [1, 1, 1, 1, 0.5]
    assert lrs_at(s, range(9)) == pytest.approx(expected)


def test_warmup_epochs_and_run_length_defaults() -> None:
    # 1 warmup epoch of 4 steps; cosine's t_max = the 9 epochs left
    s = make({"name": "cosine", "warmup_epochs": 1, "warmup_start_factor": 0.5}, spe=4, epochs=10)
    assert lrs_at(s, [0, 2, 4, 8]) == pytest.approx(
        [0.5, 0.75, 1.0, (1 + math.cos(math.pi / 9)) / 2]
    )


def test_warmup_with_plateau_and_momentum() -> None:
    s = make({"name": "plateau", "patience": 0, "factor": 0.5, "warmup_steps": 2}, spe=2, epochs=5)
    assert s.stateful
    s.observe(1, np.array([1.0]), ONE)  # still in the warmup: ignored
    s.observe(2, np.array([1.0]), ONE)
    s.observe(4, np.array([1.0]), ONE)
    assert lrs_at(s, [0, 4]) == pytest.approx([0.01, 0.5])
    c = make({"name": "onecycle", "warmup_steps": 3}, spe=5, epochs=2)
    assert c.momentum(0) == pytest.approx(0.95)


# --------------------------------------------------------------------------------------------
# Building, validation, pickling


def test_default_intervals_and_pydantic_input() -> None:
    spec = validate_spec({"schedule": {"name": "onecycle"}})
    s = sch.make_schedule(spec.schedule, steps_per_epoch=3, epochs=2)
    assert s.interval == "step" and s.total_steps == 6
    assert make({"name": "cosine"}).interval == "epoch"


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        (
            {"name": "multistep", "milestones": [5, 3]},
            r"schedule\.milestones: must be increasing, got \[5, 3\]",
        ),
        ({"name": "step", "warmup_epochs": 1, "warmup_steps": 3}, r"schedule\.warmup_steps: give"),
        (
            {"name": "plateau", "interval": "step"},
            r"schedule\.interval: must be 'epoch' for plateau",
        ),
        ({"name": "plateau", "mode": "triangular"}, r"schedule\.mode: must be 'min' or 'max'"),
        (
            {"name": "cyclic", "base_momentum": 0.95},
            r"schedule\.base_momentum: must be <= max_momentum",
        ),
        ({"name": "onecycle", "three_phase": True, "pct_start": 0.6}, r"schedule\.pct_start"),
        ({"name": "step", "gamma": 1.5}, r"schedule\.gamma: must be <= 1, got 1\.5"),
        ({"name": "cosine", "warmup_steps": 40}, r"schedule\.warmup_steps: must leave"),
        ({"name": "cosine", "t_maxx": 4}, r"schedule\.t_maxx: unknown key"),
    ],
)
def test_errors(mapping: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        make(mapping, spe=4, epochs=10)


def test_errors_through_the_yaml_path() -> None:
    with pytest.raises(SpecError, match=r"schedule\.milestones: must be increasing, got \[5, 3\]"):
        validate_spec({"schedule": {"name": "multistep", "milestones": [5, 3]}})


CLOSED = ["constant", "step", "multistep", "exponential", "linear", "polynomial", "cosine",
          "cosine_restarts", "cyclic", "onecycle"]  # fmt: skip


@pytest.mark.parametrize("name", [*CLOSED, "plateau"])
def test_picklable_with_readable_repr(name: str) -> None:
    s = make({"name": name, "warmup_steps": 2}, spe=3, epochs=5)
    again = pickle.loads(pickle.dumps(s))
    assert repr(again) == repr(s)
    assert "Warmup(steps=2" in repr(s)
    assert lrs_at(again, range(15)) == lrs_at(s, range(15))


@given(
    name=st.sampled_from(CLOSED),
    interval=st.sampled_from(["epoch", "step", None]),
    spe=st.integers(1, 7),
    epochs=st.integers(1, 12),
    base=st.floats(1e-6, 10.0),
    eta_ratio=st.floats(0.0, 1.0),
    gamma=st.floats(0.01, 1.0),
    warmup=st.integers(0, 3),
    data=st.data(),
)
def test_closed_forms_stay_within_min_and_peak(
    name, interval, spe, epochs, base, eta_ratio, gamma, warmup, data
) -> None:
    mapping = {"name": name, "interval": interval, "eta_min": base * eta_ratio, "gamma": gamma}
    if warmup < spe * epochs:
        mapping["warmup_steps"] = warmup
    s = make(mapping, spe=spe, epochs=epochs)
    step = data.draw(st.integers(0, spe * epochs - 1))
    lr = float(s(step, np.array([base]))[0])
    low = {"cosine": base * eta_ratio, "cosine_restarts": base * eta_ratio}.get(name, 0.0)
    if step < mapping.get("warmup_steps", 0):
        low = 0.01 * base
    assert low * (1 - 1e-9) <= lr <= base * (1 + 1e-9)
