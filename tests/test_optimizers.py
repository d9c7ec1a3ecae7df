"""Tests for lrsweep.optimizers against hand-computed values and scalar replays.

The replays below are the ``torch.optim`` documentation's pseudo-code written out in scalar
Python, independently of the implementation; the tests run the vectorised optimizers on
stacked parameters and compare element by element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lrsweep import optimizers as opt
from lrsweep.errors import SpecError

# --------------------------------------------------------------------------------------------
# Scalar replays (one parameter, a sequence of gradients) -> p after each step.
# --------------------------------------------------------------------------------------------


def replay_sgd(
    p: float,
    grads: Sequence[float],
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> list[float]:
    out, b = [], 0.0
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        if momentum != 0:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        out.append(p)
    return out


def replay_adagrad(
    p: float,
    grads: Sequence[float],
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> list[float]:
    out, s = [], initial_accumulator_value
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (math.sqrt(s) + eps)
        out.append(p)
    return out


def replay_rmsprop(
    p: float,
    grads: Sequence[float],
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> list[float]:
    out, v, g_avg, b = [], 0.0, 0.0, 0.0
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v - g_avg**2
        if momentum > 0:
            b = momentum * b + g / (math.sqrt(v_tilde) + eps)
            p = p - lr * b
        else:
            p = p - lr * g / (math.sqrt(v_tilde) + eps)
        out.append(p)
    return out


def replay_adam(
    p: float,
    grads: Sequence[float],
    lr: float,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
) -> list[float]:
    beta1, beta2 = betas
    out, m, v, v_max = [], 0.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        if amsgrad:
            v_max = max(v_max, v)
            v_hat = v_max / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def replay_adamw(
    p: float, grads: Sequence[float], lr: float, weight_decay: float = 1e-2, **kw: Any
) -> list[float]:
    return replay_adam(p, grads, lr, weight_decay=weight_decay, decoupled=True, **kw)


# --------------------------------------------------------------------------------------------
# Helpers: a weight (K, 2, 2) and a bias (K, 2), hand-chosen values and gradient sequences.
# --------------------------------------------------------------------------------------------

W0 = [[1.0, -0.5], [0.25, 2.0]]
B0 = [0.1, -0.3]
# per step: gradient of W (2x2) and of b (2,); a big first step then small ones (amsgrad bites)
GRADS_W = [
    [[2.0, -1.0], [0.5, 0.0]],
    [[0.01, -0.8], [-0.5, 0.3]],
    [[0.02, 0.4], [0.6, -0.1]],
    [[-0.01, 1.5], [0.1, 0.2]],
]
GRADS_B = [[1.0, -3.0], [0.2, 0.05], [-0.4, 0.01], [0.3, -0.02]]


def _stacked(K: int, dtype: type = np.float64) -> list[np.ndarray]:
    return [
        np.broadcast_to(np.array(W0, dtype=dtype), (K, 2, 2)).copy(),
        np.broadcast_to(np.array(B0, dtype=dtype), (K, 2)).copy(),
    ]


def _grads(step: int, K: int, dtype: type = np.float64) -> list[np.ndarray]:
    return [
        np.broadcast_to(np.array(GRADS_W[step], dtype=dtype), (K, 2, 2)).copy(),
        np.broadcast_to(np.array(GRADS_B[step], dtype=dtype), (K, 2)).copy(),
    ]


def _expected(replay: Callable[..., list[float]], lr: float, n_steps: int, **kw: Any) -> list:
    """Replay every element of W and b separately: -> [W (2, 2), b (2,)] after n_steps."""
    W = np.array(
        [
            [
                replay(W0[r][c], [GRADS_W[s][r][c] for s in range(n_steps)], lr, **kw)[-1]
                for c in range(2)
            ]
            for r in range(2)
        ]
    )
    b = np.array(
        [replay(B0[j], [GRADS_B[s][j] for s in range(n_steps)], lr, **kw)[-1] for j in range(2)]
    )
    return [W, b]


# --------------------------------------------------------------------------------------------
# Hand-computed values.
# --------------------------------------------------------------------------------------------


def _scalar_steps(optimizer: opt.Optimizer, p0: float, grads: Sequence[float], lr: float) -> list:
    p = np.array([[p0]])  # K = 1, one scalar "bias"
    trace = []
    for g in grads:
        optimizer.step([p], [np.array([[g]])], np.array([lr]))
        trace.append(float(p[0, 0]))
    return trace


def test_sgd_plain_step() -> None:
    p = np.array([[1.0]])
    assert_allclose(_scalar_steps(opt.SGD([p]), 1.0, [2.0], 0.1), [0.8])


def test_sgd_momentum_by_hand() -> None:
    p = np.array([[0.0]])
    sgd = opt.SGD([p], momentum=0.9)
    assert_allclose(_scalar_steps(sgd, 0.0, [1.0], 0.1), [-0.1])
    assert_allclose(sgd.state["momentum_buffer"][0], [[1.0]])
    assert_allclose(_scalar_steps(sgd, -0.1, [1.0], 0.1), [-0.29])
    assert_allclose(sgd.state["momentum_buffer"][0], [[1.9]])


def test_sgd_nesterov_by_hand() -> None:
    # b1 = 1, g' = 1 + 0.9 * 1 = 1.9, p = -0.19; b2 = 1.9, g' = 1 + 0.9 * 1.9 = 2.71, p = -0.461
    p = np.array([[0.0]])
    sgd = opt.SGD([p], momentum=0.9, nesterov=True)
    assert_allclose(_scalar_steps(sgd, 0.0, [1.0, 1.0], 0.1), [-0.19, -0.461])


def test_sgd_dampening_by_hand() -> None:
    # no dampening on the first step: b1 = 1; then b2 = 0.9 * 1 + 0.5 * 1 = 1.4
    p = np.array([[0.0]])
    sgd = opt.SGD([p], momentum=0.9, dampening=0.5)
    assert_allclose(_scalar_steps(sgd, 0.0, [1.0, 1.0], 0.1), [-0.1, -0.24])


def test_sgd_weight_decay_by_hand() -> None:
    # g' = 2 + 0.1 * 1 = 2.1; p = 1 - 0.1 * 2.1 = 0.79
    p = np.array([[1.0]])
    assert_allclose(_scalar_steps(opt.SGD([p], weight_decay=0.1), 1.0, [2.0], 0.1), [0.79])


@pytest.mark.parametrize("cls", [opt.Adam, opt.AdamW])
def test_adam_first_step_is_lr_times_sign(cls: type[opt.Adam]) -> None:
    params = _stacked(1)
    before = [p.copy() for p in params]
    grads = _grads(0, 1)
    signs = [np.sign(g) for g in grads]
    cls(params, weight_decay=0.0).step(params, grads, np.array([0.01]))
    for p, p0, s in zip(params, before, signs, strict=True):
        assert_allclose(p - p0, -0.01 * s, atol=1e-8)


# --------------------------------------------------------------------------------------------
# Replays: several steps, K = 3 members with different LRs, against the scalar formulas.
# --------------------------------------------------------------------------------------------

REPLAY_CASES: list[tuple[str, type[opt.Optimizer], Callable[..., list[float]], dict]] = [
    ("sgd", opt.SGD, replay_sgd, {}),
    ("sgd-momentum", opt.SGD, replay_sgd, {"momentum": 0.8, "weight_decay": 0.05}),
    ("sgd-dampening", opt.SGD, replay_sgd, {"momentum": 0.7, "dampening": 0.3}),
    ("sgd-nesterov", opt.SGD, replay_sgd, {"momentum": 0.9, "nesterov": True}),
    ("adagrad", opt.Adagrad, replay_adagrad, {}),
    (
        "adagrad-all",
        opt.Adagrad,
        replay_adagrad,
        {"lr_decay": 0.5, "weight_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-3},
    ),
    ("rmsprop", opt.RMSprop, replay_rmsprop, {"alpha": 0.9}),
    ("rmsprop-centered", opt.RMSprop, replay_rmsprop, {"alpha": 0.8, "centered": True}),
    ("rmsprop-momentum", opt.RMSprop, replay_rmsprop, {"momentum": 0.6, "eps": 1e-3}),
    (
        "rmsprop-centered-momentum-wd",
        opt.RMSprop,
        replay_rmsprop,
        {"alpha": 0.7, "centered": True, "momentum": 0.5, "weight_decay": 0.2},
    ),
    ("adam", opt.Adam, replay_adam, {}),
    ("adam-wd", opt.Adam, replay_adam, {"betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.1}),
    ("adam-amsgrad", opt.Adam, replay_adam, {"betas": (0.5, 0.5), "amsgrad": True}),
    ("adamw", opt.AdamW, replay_adamw, {"weight_decay": 0.1}),
    ("adamw-amsgrad", opt.AdamW, replay_adamw, {"betas": (0.5, 0.6), "amsgrad": True}),
]
LRS = [0.01, 0.1, 0.5]


@pytest.mark.parametrize(
    ("cls", "replay", "kwargs"),
    [case[1:] for case in REPLAY_CASES],
    ids=[case[0] for case in REPLAY_CASES],
)
def test_replay_per_member_lr(
    cls: type[opt.Optimizer], replay: Callable[..., list[float]], kwargs: dict
) -> None:
    params = _stacked(3)
    optimizer = cls(params, **kwargs)
    for step in range(len(GRADS_W)):
        optimizer.step(params, _grads(step, 3), np.array(LRS))
    results = []
    for k, lr in enumerate(LRS):
        expected = _expected(replay, lr, len(GRADS_W), **kwargs)
        for p, e in zip(params, expected, strict=True):
            assert_allclose(p[k], e, rtol=1e-10, atol=1e-12)
        results.append(params[0][k].copy())
    assert not np.allclose(results[0], results[1])
    assert not np.allclose(results[1], results[2])


def test_amsgrad_case_exercises_the_max() -> None:
    kw = {"betas": (0.5, 0.5)}
    plain = _expected(replay_adam, 0.1, len(GRADS_W), **kw)
    ams = _expected(replay_adam, 0.1, len(GRADS_W), amsgrad=True, **kw)
    assert not np.allclose(plain[0], ams[0])


@pytest.mark.parametrize(
    ("cls", "replay", "kwargs"),
    [case[1:] for case in REPLAY_CASES],
    ids=[case[0] for case in REPLAY_CASES],
)
def test_float32_stays_float32(
    cls: type[opt.Optimizer], replay: Callable[..., list[float]], kwargs: dict
) -> None:
    params = _stacked(3, np.float32)
    optimizer = cls(params, **kwargs)
    for step in range(2):
        grads = _grads(step, 3, np.float32)
        optimizer.step(params, grads, np.array(LRS), momentum=None)  # float64 lr is cast
    assert all(p.dtype == np.float32 for p in params)
    assert all(a.dtype == np.float32 for arrays in optimizer.state.values() for a in arrays)
    expected = _expected(replay, LRS[1], 2, **kwargs)
    assert_allclose(params[0][1], expected[0], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# Per-step momentum override (cyclic momentum) and member selection.
# --------------------------------------------------------------------------------------------


def test_momentum_override_per_member() -> None:
    mus = np.array([0.0, 0.5, 0.9])
    for cls, replay, key in ((opt.SGD, replay_sgd, "momentum"), (opt.Adam, replay_adam, "beta")):
        params = _stacked(3)
        optimizer = cls(params)
        for step in range(len(GRADS_W)):
            optimizer.step(params, _grads(step, 3), np.full(3, 0.1), momentum=mus)
        for k, mu in enumerate(mus):
            kw = {"momentum": mu} if key == "momentum" else {"betas": (mu, 0.999)}
            expected = _expected(replay, 0.1, len(GRADS_W), **kw)
            assert_allclose(params[0][k], expected[0], rtol=1e-10, atol=1e-12)
            assert_allclose(params[1][k], expected[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("cls", "replay", "kwargs"),
    [
        (opt.SGD, replay_sgd, {"momentum": 0.9}),
        (opt.RMSprop, replay_rmsprop, {"momentum": 0.5, "centered": True}),
        (opt.Adam, replay_adam, {"amsgrad": True}),
        (opt.Adagrad, replay_adagrad, {}),
    ],
    ids=["sgd", "rmsprop", "adam", "adagrad"],
)
def test_select_keeps_the_right_members(
    cls: type[opt.Optimizer], replay: Callable[..., list[float]], kwargs: dict
) -> None:
    params = _stacked(3)
    optimizer = cls(params, **kwargs)
    lrs = np.array(LRS)
    for step in range(2):
        optimizer.step(params, _grads(step, 3), lrs)
    keep = np.array([2, 0])  # drop member 1 and reorder, as the caller may
    params = [p[keep] for p in params]
    optimizer.select(keep)
    for arrays in optimizer.state.values():
        assert [a.shape[0] for a in arrays] == [2, 2]
    for step in range(2, len(GRADS_W)):
        optimizer.step(params, _grads(step, 2), lrs[keep])
    for row, k in enumerate(keep):
        expected = _expected(replay, LRS[k], len(GRADS_W), **kwargs)
        for p, e in zip(params, expected, strict=True):
            assert_allclose(p[row], e, rtol=1e-10, atol=1e-12)


def test_per_member_shapes() -> None:
    v = np.arange(3.0)
    assert opt.per_member(v, 3).shape == (3, 1, 1)
    assert opt.per_member(v, 2).shape == (3, 1)
    assert (np.zeros((3, 4, 5)) + opt.per_member(v, 3))[2, 3, 4] == 2.0


# --------------------------------------------------------------------------------------------
# make_optimizer.
# --------------------------------------------------------------------------------------------

FLAT = {
    "name": "sgd",
    "momentum": 0.9,
    "dampening": 0.0,
    "nesterov": False,
    "weight_decay": None,
    "betas": [0.8, 0.95],
    "eps": None,
    "alpha": 0.9,
    "centered": False,
    "amsgrad": True,
    "lr_decay": 0.1,
    "initial_accumulator_value": 0.0,
}


@pytest.mark.parametrize(
    ("name", "cls", "attrs"),
    [
        ("sgd", opt.SGD, {"momentum": 0.9, "weight_decay": 0.0}),
        ("adagrad", opt.Adagrad, {"eps": 1e-10, "lr_decay": 0.1, "weight_decay": 0.0}),
        ("rmsprop", opt.RMSprop, {"eps": 1e-8, "alpha": 0.9, "momentum": 0.9}),
        ("adam", opt.Adam, {"beta1": 0.8, "beta2": 0.95, "weight_decay": 0.0, "amsgrad": True}),
        ("adamw", opt.AdamW, {"eps": 1e-8, "weight_decay": 1e-2}),
    ],
)
def test_make_optimizer_from_flat_section(
    name: str, cls: type[opt.Optimizer], attrs: dict[str, Any]
) -> None:
    optimizer = opt.make_optimizer({**FLAT, "name": name}, _stacked(2))
    assert type(optimizer) is cls
    for attr, value in attrs.items():
        assert getattr(optimizer, attr) == value


def test_make_optimizer_defaults_and_model_dump() -> None:
    class Section:
        def model_dump(self) -> dict[str, Any]:
            return {"name": "adamw", "weight_decay": 0.0}

    adamw = opt.make_optimizer(Section(), _stacked(1))
    assert isinstance(adamw, opt.AdamW) and adamw.weight_decay == 0.0  # explicit 0 is kept
    assert opt.make_optimizer({"name": "adamw"}, _stacked(1)).weight_decay == 1e-2
    sgd = opt.make_optimizer({"name": "sgd"}, _stacked(1))
    assert sgd.momentum == 0.0 and not sgd.state


def test_make_optimizer_unknown_name() -> None:
    with pytest.raises(
        SpecError, match=r"^optimizer\.name: unknown 'adamw2'; did you mean 'adamw'\?$"
    ):
        opt.make_optimizer({"name": "adamw2"}, _stacked(1))
    with pytest.raises(
        SpecError, match=r"optimizer\.name: unknown 'lbfgs'; expected one of 'sgd'"
    ):
        opt.make_optimizer({"name": "lbfgs"}, _stacked(1))


def test_make_optimizer_nesterov_needs_momentum() -> None:
    with pytest.raises(
        SpecError,
        match=r"optimizer\.nesterov: requires momentum > 0 and dampening = 0, got momentum=0\.0",
    ):
        opt.make_optimizer({"name": "sgd", "nesterov": True, "momentum": 0.0}, _stacked(1))
    with pytest.raises(SpecError, match=r"optimizer\.nesterov: .*dampening=0\.1"):
        opt.make_optimizer(
            {"name": "sgd", "nesterov": True, "momentum": 0.9, "dampening": 0.1}, _stacked(1)
        )


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"name": "sgd", "momentum": -0.1}, r"optimizer\.momentum: must be >= 0, got -0\.1"),
        (
            {"name": "adam", "betas": [0.9, 1.0]},
            r"optimizer\.betas: must be two numbers in \[0, 1\)",
        ),
        ({"name": "adamw", "weight_decay": -1.0}, r"optimizer\.weight_decay: must be >= 0"),
        ({"name": "rmsprop", "alpha": -0.5}, r"optimizer\.alpha: must be >= 0"),
        ({"name": "adagrad", "lr_decay": -1}, r"optimizer\.lr_decay: must be >= 0"),
        ({"name": "adam", "eps": -1e-8}, r"optimizer\.eps: must be >= 0"),
    ],
)
def test_make_optimizer_bad_hyperparameters(section: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        opt.make_optimizer(section, _stacked(1))


def test_nonfinite_gradients_do_not_warn() -> None:
    import warnings

    params = _stacked(2)
    grads = _grads(0, 2)
    for g in grads:
        g[1] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cls in opt.OPTIMIZERS.values():
            ps = [p.copy() for p in params]
            optimizer = cls(ps)
            optimizer.step(ps, [g.copy() for g in grads], np.array([0.1, 0.1]))
            optimizer.step(ps, [g.copy() for g in grads], np.array([0.1, 0.1]))
            assert np.all(np.isfinite(ps[0][0]))


# --------------------------------------------------------------------------------------------
# Hypergradient descent (Baydin et al. 2018): the paper's algorithms replayed in scalar Python
# over the flattened parameters of one member (W then b), 3 steps.
# --------------------------------------------------------------------------------------------


def _flat(step: int) -> list[float]:
    return [x for row in GRADS_W[step] for x in row] + list(GRADS_B[step])


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def replay_sgd_hd(lr: float, beta: float, n_steps: int) -> tuple[list[float], list[float]]:
    p = [x for row in W0 for x in row] + list(B0)
    alpha, g_prev, alphas = lr, [0.0] * 6, []
    for t in range(n_steps):
        g = _flat(t)
        alpha = alpha + beta * _dot(g, g_prev)  # alpha_t = alpha_{t-1} - beta (-g_t . g_{t-1})
        p = [pi - alpha * gi for pi, gi in zip(p, g)]
        g_prev = g
        alphas.append(alpha)
    return p, alphas


def replay_sgdn_hd(lr: float, beta: float, mu: float, n_steps: int) -> tuple[list, list]:
    p = [x for row in W0 for x in row] + list(B0)
    alpha, v, d_prev, alphas = lr, [0.0] * 6, [0.0] * 6, []
    for t in range(n_steps):
        g = _flat(t)
        alpha = alpha + beta * _dot(g, d_prev)  # grad_alpha u_{t-1} = -(g_{t-1} + mu v_{t-1})
        v = [mu * vi + gi for vi, gi in zip(v, g)]
        d = [gi + mu * vi for gi, vi in zip(g, v)]
        p = [pi - alpha * di for pi, di in zip(p, d)]
        d_prev = d
        alphas.append(alpha)
    return p, alphas


def replay_adam_hd(
    lr: float, beta: float, n_steps: int, betas=(0.9, 0.999), eps=1e-8
) -> tuple[list, list]:
    b1, b2 = betas
    p = [x for row in W0 for x in row] + list(B0)
    alpha, m, v, d_prev, alphas = lr, [0.0] * 6, [0.0] * 6, [0.0] * 6, []
    for t in range(1, n_steps + 1):
        g = _flat(t - 1)
        alpha = alpha + beta * _dot(g, d_prev)  # grad_alpha u_{t-1} = -m^/(sqrt(v^) + eps)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        d = [(mi / (1 - b1**t)) / (math.sqrt(vi / (1 - b2**t)) + eps) for mi, vi in zip(m, v)]
        p = [pi - alpha * di for pi, di in zip(p, d)]
        d_prev = d
        alphas.append(alpha)
    return p, alphas


def _run_hd(optimizer: opt.Optimizer, params: list, lrs: list[float], n_steps: int) -> list:
    K = len(lrs)
    seen = []
    for t in range(n_steps):
        # later LRs are ignored: pass garbage after the first step
        lr = np.array(lrs) if t == 0 else np.array([123.0] * K)
        optimizer.step(params, _grads(t, K), lr)
        seen.append(optimizer.current_lr)
    return seen


@pytest.mark.parametrize(
    ("cls", "kwargs", "replay"),
    [
        (opt.SGDHD, {"hyper_lr": 0.05}, lambda lr: replay_sgd_hd(lr, 0.05, 3)),
        (
            opt.SGDNHD,
            {"hyper_lr": 0.02, "momentum": 0.9},
            lambda lr: replay_sgdn_hd(lr, 0.02, 0.9, 3),
        ),
        (opt.AdamHD, {"hyper_lr": 0.01}, lambda lr: replay_adam_hd(lr, 0.01, 3)),
    ],
    ids=["sgd_hd", "sgdn_hd", "adam_hd"],
)
def test_hypergradient_replays_per_member(cls, kwargs, replay) -> None:
    lrs = [0.1, 0.01]
    params = _stacked(2)
    optimizer = cls(params, **kwargs)
    assert optimizer.current_lr is None
    seen = _run_hd(optimizer, params, lrs, 3)
    for k, lr in enumerate(lrs):
        p_expected, alphas = replay(lr)
        assert_allclose([s[k] for s in seen], alphas, rtol=1e-12)
        assert alphas[0] == lr and alphas[1] != lr  # alpha_1 = alpha_0, then it moves
        flat = np.concatenate([params[0][k].ravel(), params[1][k]])
        assert_allclose(flat, p_expected, rtol=1e-12, atol=1e-15)


def test_sgd_hd_by_hand() -> None:
    # g = 2, 1: alpha_1 = 0.1, p = 1 - 0.2 = 0.8; alpha_2 = 0.1 + 0.5 * (1 * 2) = 1.1, p = -0.3
    p = np.array([[1.0]])
    sgd = opt.SGDHD([p], hyper_lr=0.5)
    assert_allclose(_scalar_steps(sgd, 1.0, [2.0, 1.0], 0.1), [0.8, -0.3])
    assert_allclose(sgd.current_lr, [1.1])


def test_hypergradient_select_and_defaults() -> None:
    params = _stacked(3)
    sgd = opt.SGDHD(params)
    assert sgd.hyper_lr == 1e-3 and opt.SGDNHD(params).hyper_lr == 1e-3
    assert opt.AdamHD(params).hyper_lr == 1e-7
    sgd.step(params, _grads(0, 3), np.array([0.1, 0.2, 0.3]))
    keep = np.array([0, 2])
    params = [p[keep] for p in params]
    sgd.select(keep)
    assert_allclose(sgd.current_lr, [0.1, 0.3])
    sgd.step(params, _grads(1, 2), np.array([0.0, 0.0]))  # must not fail on shapes
    assert sgd.current_lr.shape == (2,)


def test_make_optimizer_passes_hyper_lr() -> None:
    from lrsweep.spec import validate_spec

    params = _stacked(1)
    spec = validate_spec({"optimizer": {"name": "adam_hd", "hyper_lr": 1e-4}})
    adam = opt.make_optimizer(spec.optimizer, params)
    assert isinstance(adam, opt.AdamHD) and adam.hyper_lr == 1e-4
    assert opt.make_optimizer({"name": "sgd_hd"}, params).hyper_lr == 1e-3
    nest = opt.make_optimizer({"name": "sgdn_hd", "momentum": 0.5}, params)
    assert nest.momentum == 0.5
    with pytest.raises(SpecError, match=r"optimizer\.momentum: sgdn_hd needs momentum > 0"):
        opt.make_optimizer(validate_spec({"optimizer": {"name": "sgdn_hd"}}).optimizer, params)
    with pytest.raises(SpecError, match=r"optimizer\.hyper_lr"):
        validate_spec({"optimizer": {"name": "sgd_hd", "hyper_lr": 0.0}})


def test_methods_names_every_optimizer_and_gives_each_class_its_facts():
    from lrsweep.methods import METHODS

    assert list(opt.OPTIMIZERS) == list(METHODS)  # the spec's names are the registry's
    for name, cls in opt.OPTIMIZERS.items():
        assert cls.name == name
        assert (cls.default_lr, cls.needs_lr) == tuple(METHODS[name])
