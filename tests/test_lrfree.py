"""Learning-rate-free optimizers: replays of the published updates, lockstep, select, history.

Each replay below writes one method's update equations out in plain Python for one member (a
list of floats: its whole parameter vector, so the methods' global sums are sums over the
list), independently of the vectorised implementation; the tests run the optimizers on
stacked (K, P) arrays, one nominal LR per member, and compare every member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from lrsweep import optimizers as opt
from lrsweep.errors import SpecError
from lrsweep.orchestrate import load_data
from lrsweep.records import RunStatus
from lrsweep.spec import OptimizerSpec
from lrsweep.training import train_group
from tests.test_training import group_of, make_spec

LR_FREE = ["prodigy", "dadapt_sgd", "dadapt_adam", "sgd_schedulefree", "adamw_schedulefree",
           "dog", "cocob"]  # fmt: skip
Vec = list[float]


def dot(a: Vec, b: Vec) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------------------------
# Replays: (p_0, gradient function of p, lr, steps) -> (trained p, evaluation p, step sizes)
# --------------------------------------------------------------------------------------------


def replay_prodigy(p: Vec, grad: Callable[[Vec], Vec], lr: float, steps: int,
                   b1: float = 0.9, b2: float = 0.999, wd: float = 0.0, eps: float = 1e-8,
                   d0: float = 1e-6) -> tuple[Vec, Vec, Vec]:  # fmt: skip
    b3 = math.sqrt(b2)
    p0, m, v, s = list(p), [0.0] * len(p), [0.0] * len(p), [0.0] * len(p)
    d, d_max, r, sizes = d0, d0, 0.0, []
    for _ in range(steps):
        g = grad(p)
        dlr = d * lr
        r = b3 * r + (d / d0) * dlr * dot(g, [a - b for a, b in zip(p0, p, strict=True)])
        m = [b1 * mi + d * (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + d * d * (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        s = [b3 * si + (d / d0) * dlr * gi for si, gi in zip(s, g, strict=True)]
        d_hat = r / sum(abs(si) for si in s)
        d_new = max(d, d_hat) if d == d0 else d
        d_max = max(d_max, d_hat)
        d = min(d_max, d_new * math.inf)  # growth_rate inf: d becomes d_max
        p = [pi - wd * dlr * pi for pi in p]  # decoupled (the default)
        p = [pi - dlr * mi / (math.sqrt(vi) + d * eps) for pi, mi, vi in zip(p, m, v, strict=True)]
        sizes.append(dlr)
    return p, p, sizes


def replay_dadapt_sgd(p: Vec, grad: Callable[[Vec], Vec], lr: float, steps: int,
                      d0: float = 1e-6) -> tuple[Vec, Vec, Vec]:  # fmt: skip
    x0, s, d, r, sizes = list(p), [0.0] * len(p), d0, 0.0, []
    g0 = math.sqrt(dot(grad(p), grad(p)))
    for _ in range(steps):
        g = grad(p)
        dlr = d * lr / g0
        r += dlr * dot(g, s)
        s = [si + dlr * gi for si, gi in zip(s, g, strict=True)]
        d = max(d, 2 * r / math.sqrt(dot(s, s)))
        p = [a - b for a, b in zip(x0, s, strict=True)]  # momentum 0: p = z = x_0 - s
        sizes.append(dlr)
    return p, p, sizes


def replay_dadapt_adam(p: Vec, grad: Callable[[Vec], Vec], lr: float, steps: int,
                       b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                       d0: float = 1e-6) -> tuple[Vec, Vec, Vec]:  # fmt: skip
    sb2 = math.sqrt(b2)
    m, v, s = [0.0] * len(p), [0.0] * len(p), [0.0] * len(p)
    d, r, sizes = d0, 0.0, []
    for _ in range(steps):
        g = grad(p)
        dlr = d * lr
        a = dlr * dot(g, [si / (math.sqrt(vi) + eps) for si, vi in zip(s, v, strict=True)])
        m = [b1 * mi + dlr * (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        s = [sb2 * si + dlr * (1 - sb2) * gi for si, gi in zip(s, g, strict=True)]
        r = sb2 * r + (1 - sb2) * a
        d = max(d, r / ((1 - sb2) * sum(abs(si) for si in s)))
        p = [pi - mi / (math.sqrt(vi) + eps) for pi, mi, vi in zip(p, m, v, strict=True)]
        sizes.append(dlr)
    return p, p, sizes


def replay_schedulefree(p: Vec, grad: Callable[[Vec], Vec], lr: float, steps: int,
                        adam: bool, beta: float = 0.9, b2: float = 0.999,
                        eps: float = 1e-8) -> tuple[Vec, Vec, Vec]:  # fmt: skip
    # the paper's form: y = (1 - beta) z + beta x; z <- z - lr u(y); x <- (1 - c) x + c z,
    # with c = 1 / t at a constant LR (weights lr_max^2 all equal): x_t = mean(z_1 .. z_t)
    z, x, v, sizes = list(p), list(p), [0.0] * len(p), []
    for t in range(1, steps + 1):
        y = [(1 - beta) * zi + beta * xi for zi, xi in zip(z, x, strict=True)]
        g = grad(y)
        if adam:
            v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
            g = [gi / (math.sqrt(vi / (1 - b2**t)) + eps) for gi, vi in zip(g, v, strict=True)]
        z = [zi - lr * gi for zi, gi in zip(z, g, strict=True)]
        c = 1 / t
        x = [(1 - c) * xi + c * zi for xi, zi in zip(x, z, strict=True)]
        sizes.append(lr)
    y = [(1 - beta) * zi + beta * xi for zi, xi in zip(z, x, strict=True)]
    return y, x, sizes


def replay_dog(p: Vec, grad: Callable[[Vec], Vec], lr: float, steps: int,
               reps_rel: float = 1e-6, eps: float = 1e-8,
               gamma: float = 8.0) -> tuple[Vec, Vec, Vec]:  # fmt: skip
    x0, avg, sizes = list(p), list(p), []
    rbar = reps_rel * (1 + math.sqrt(dot(p, p)))
    G = eps
    for t in range(1, steps + 1):
        g = grad(p)
        rbar = max(rbar, math.sqrt(sum((a - b) ** 2 for a, b in zip(p, x0, strict=True))))
        G += dot(g, g)
        eta = lr * rbar / math.sqrt(G)
        p = [pi - eta * gi for pi, gi in zip(p, g, strict=True)]
        w = (1 + gamma) / (t + gamma)
        avg = [(1 - w) * ai + w * pi for ai, pi in zip(avg, p, strict=True)]
        sizes.append(eta)
    return p, avg, sizes


def replay_cocob(p: Vec, grad: Callable[[Vec], Vec], lr: float, steps: int,
                 alpha: float = 100.0, eps: float = 1e-8) -> tuple[Vec, Vec, Vec]:  # fmt: skip
    w1, n = list(p), len(p)
    L, G, theta, reward = [eps] * n, [0.0] * n, [0.0] * n, [0.0] * n
    for _ in range(steps):
        g = grad(p)
        for i in range(n):
            L[i] = max(L[i], abs(g[i]))
            G[i] += abs(g[i])
            reward[i] = max(reward[i] - g[i] * (p[i] - w1[i]), 0.0)
            theta[i] += g[i]
        p = [w1[i] - theta[i] / (L[i] * max(G[i] + L[i], alpha * L[i])) * (reward[i] + L[i])
             for i in range(n)]  # fmt: skip
    return p, p, [math.nan] * steps


REPLAYS: dict[str, Callable[..., tuple[Vec, Vec, Vec]]] = {
    "prodigy": replay_prodigy,
    "dadapt_sgd": replay_dadapt_sgd,
    "dadapt_adam": replay_dadapt_adam,
    "sgd_schedulefree": lambda *a: replay_schedulefree(*a, adam=False),
    "adamw_schedulefree": lambda *a: replay_schedulefree(*a, adam=True),
    "dog": replay_dog,
    "cocob": replay_cocob,
}
NOMINAL = {"sgd_schedulefree": 0.1, "adamw_schedulefree": 0.01}  # the others: around 1

# a quadratic with a different curvature per coordinate: g(p) = A (p - c)
A = np.array([1.0, 4.0, 0.25, 2.0])
CENTER = np.array([1.0, -2.0, 0.5, 3.0])


def quadratic_grad(p: Vec) -> Vec:
    return [float(a * (pi - c)) for a, pi, c in zip(A, p, CENTER, strict=True)]


def run_stacked(name: str, lrs: Sequence[float], steps: int, dtype: Any = np.float64,
                **kwargs: Any) -> tuple[np.ndarray, np.ndarray, opt.Optimizer]:  # fmt: skip
    theta = np.tile(np.array([0.5, 0.1, -0.3, 0.2], dtype=dtype), (len(lrs), 1))
    optimizer = opt.OPTIMIZERS[name]([theta], **kwargs)
    lr = np.asarray(lrs, dtype=dtype)
    for _ in range(steps):
        grad = (A * (theta - CENTER)).astype(dtype)
        optimizer.step([theta], [grad], lr)
    return theta, optimizer.eval_theta(theta), optimizer


@pytest.mark.parametrize("name", LR_FREE)
def test_replay_of_the_published_update_per_member(name: str) -> None:
    scale = NOMINAL.get(name, 1.0)
    lrs = [0.5 * scale, scale, 2 * scale]
    theta, evaluated, optimizer = run_stacked(name, lrs, steps=12)
    sizes = optimizer.effective_lr(np.asarray(lrs))
    for k, lr in enumerate(lrs):
        p, x, replay_sizes = REPLAYS[name]([0.5, 0.1, -0.3, 0.2], quadratic_grad, lr, 12)
        assert_allclose(theta[k], p, rtol=1e-10, atol=1e-14)
        assert_allclose(evaluated[k], x, rtol=1e-10, atol=1e-14)
        assert_allclose(sizes[k], replay_sizes[-1], rtol=1e-10, equal_nan=True)


def test_cocob_by_hand() -> None:
    # w_1 = 1, g = 2: L = 2, G = 2, theta = 2, reward 0: w = 1 - 2 (0 + 2) / (2 max(4, 200))
    p = np.array([[1.0]])
    cocob = opt.COCOB([p])
    cocob.step([p], [np.array([[2.0]])], np.array([1.0]))
    assert_allclose(p, [[0.99]])
    # g = -1: L = 2, G = 3, theta = 1, reward max(0 - (-1)(-0.01), 0) = 0: w = 1 - 2 / 400
    cocob.step([p], [np.array([[-1.0]])], np.array([1.0]))
    assert_allclose(p, [[0.995]])


def test_dog_first_step_by_hand() -> None:
    # x_0 = (3, 4): rbar = 1e-6 (1 + 5); g = (0, 2): G = 4 + 1e-8; eta = rbar / sqrt(G)
    p = np.array([[3.0, 4.0]])
    dog = opt.DoG([p])
    dog.step([p], [np.array([[0.0, 2.0]])], np.array([1.0]))
    eta = 6e-6 / math.sqrt(4 + 1e-8)
    assert_allclose(dog.effective_lr(np.array([1.0])), [eta])
    assert_allclose(p, [[3.0, 4.0 - 2 * eta]])
    assert_allclose(dog.eval_theta(p), p)  # the first average is the first iterate


def test_prodigy_first_step_keeps_d0() -> None:
    # at step 1, p = p_0: the numerator is 0, so d stays d0 and the step is d0 lr m / sqrt(v)
    p = np.array([[1.0, 2.0]])
    prodigy = opt.Prodigy([p])
    prodigy.step([p], [np.array([[1.0, -1.0]])], np.array([1.0]))
    assert prodigy.vectors["d"][0] == 1e-6
    # m = d0 0.1 g, v = d0^2 0.001 g^2: m / (sqrt(v) + d0 eps) ~ 0.1 / sqrt(0.001) sign(g)
    step = 1e-6 * 0.1 / (math.sqrt(0.001) + 1e-8)
    assert_allclose(p, [[1.0 - step, 2.0 + step]], rtol=1e-12)


def test_schedulefree_evaluates_at_the_average_of_z() -> None:
    # at a constant LR, x_t is the plain average of z_1 .. z_t (c_1 = 1: z_0 drops out)
    p = np.array([[1.0, -1.0]])
    sf = opt.SGDScheduleFree([p])
    zs = []
    for g in ([1.0, 2.0], [0.5, -1.0], [-2.0, 0.0]):
        sf.step([p], [np.array([g])], np.array([0.1]))
        zs.append(sf.state["z"][0][0].copy())
    assert_allclose(sf.eval_theta(p)[0], np.mean(zs, axis=0), rtol=1e-12)


@pytest.mark.parametrize("name", LR_FREE)
def test_select_drops_members_from_every_state_array_and_vector(name: str) -> None:
    scale = NOMINAL.get(name, 1.0)
    lrs = np.array([0.3, 0.6, 1.2, 2.4]) * scale
    keep = np.array([0, 2])
    theta = np.tile(np.array([0.5, 0.1, -0.3, 0.2]), (4, 1))
    optimizer = opt.OPTIMIZERS[name]([theta])
    for step in range(8):
        if step == 4:
            optimizer.select(keep)
            theta, lrs = theta[keep], lrs[keep]
        optimizer.step([theta], [A * (theta - CENTER)], lrs)
    alone, evaluated, _ = run_stacked(name, list(lrs), steps=8)
    assert_allclose(theta, alone, rtol=1e-12, atol=1e-15)
    assert_allclose(optimizer.eval_theta(theta), evaluated, rtol=1e-12, atol=1e-15)
    for arrays in optimizer.state.values():
        assert all(a.shape[0] == 2 for a in arrays)
    for vector in optimizer.vectors.values():
        assert vector.shape == (2,)


@pytest.mark.parametrize("name", LR_FREE)
def test_float32_stays_float32(name: str) -> None:
    theta, evaluated, optimizer = run_stacked(name, [NOMINAL.get(name, 1.0)] * 2, 3, np.float32)
    assert theta.dtype == evaluated.dtype == np.float32
    assert all(a.dtype == np.float32 for arrays in optimizer.state.values() for a in arrays)


def test_capabilities() -> None:
    assert not opt.COCOB.needs_lr and opt.Prodigy.needs_lr
    assert opt.SGDHD.adapts_lr and not opt.DoG.adapts_lr  # owns its LR: the range test refuses
    assert (
        opt.Prodigy.scales_lr and not opt.SGDHD.scales_lr and not opt.AdamWScheduleFree.scales_lr
    )
    assert not opt.Adagrad.cycles_momentum and opt.SGD.cycles_momentum
    assert {n: opt.OPTIMIZERS[n].default_lr for n in ("sgd", "adam", "prodigy", "dog",
            "dadapt_adam", "adamw_schedulefree")} == {
        "sgd": 1e-3, "adam": 1e-3, "prodigy": 1.0, "dog": 1.0, "dadapt_adam": 1.0,
        "adamw_schedulefree": 0.0025,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# The trainer: lockstep, evaluation weights, lr_effective
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LR_FREE)
def test_member_of_a_group_matches_the_run_alone(name: str) -> None:
    spec = make_spec(optimizer={"name": name, "momentum": 0.9}, train={"epochs": 2})
    data = load_data(spec)
    lrs = np.array([0.25, 0.5, 1.0]) * NOMINAL.get(name, 1.0)
    together = train_group(group_of(spec, lrs), data)
    for k, lr in enumerate(lrs):
        alone = train_group(group_of(spec, [lr]), data)[0]
        assert together[k].status is alone.status is RunStatus.OK
        for a, b in zip(together[k].history, alone.history, strict=True):
            assert_allclose(
                [a.train_loss, a.val_loss, a.val_metric, a.lr_effective],
                [b.train_loss, b.val_loss, b.val_metric, b.lr_effective],
                rtol=1e-4, atol=1e-6, equal_nan=True,
            )  # fmt: skip


def test_cocob_ignores_the_nominal_lr() -> None:
    spec = make_spec(optimizer={"name": "cocob"}, train={"epochs": 2})
    results = train_group(group_of(spec, [1e-3, 1.0]), load_data(spec))
    assert [h.val_loss for h in results[0].history] == [h.val_loss for h in results[1].history]
    assert all(math.isnan(h.lr_effective) for h in results[0].history)


@pytest.mark.parametrize("name", ["sgd_schedulefree", "dog"])
def test_validation_uses_the_evaluation_weights(name: str, monkeypatch) -> None:
    # evaluating all-zero weights gives logits 0: a cross-entropy of log(3) on three spirals
    cls = opt.OPTIMIZERS[name]
    monkeypatch.setattr(cls, "eval_theta", lambda self, theta: np.zeros_like(theta))
    spec = make_spec(optimizer={"name": name, "momentum": 0.9}, train={"epochs": 2})
    result = train_group(group_of(spec, [0.1]), load_data(spec))[0]
    assert_allclose([h.val_loss for h in result.history], math.log(3), rtol=1e-6)
    assert result.history[-1].train_loss != pytest.approx(math.log(3))  # trained at y


@settings(max_examples=15, deadline=None)
@given(
    name=st.sampled_from(sorted(opt.OPTIMIZERS)),
    epochs=st.integers(1, 3),
    lrs=st.lists(st.sampled_from([1e-3, 1e-2, 0.1]), min_size=1, max_size=3, unique=True),
)
def test_lr_effective_is_recorded_every_epoch(name: str, epochs: int, lrs: list[float]) -> None:
    spec = make_spec(
        data={"n_samples": 60},
        model={"hidden": [4]},
        optimizer={"name": name, "momentum": 0.9},
        train={"epochs": epochs, "batch_size": 30},
    )
    cls = opt.OPTIMIZERS[name]
    for result in train_group(group_of(spec, sorted(lrs)), load_data(spec)):
        assert [h.epoch for h in result.history] == list(range(len(result.history)))
        for h in result.history:
            if not cls.needs_lr:
                assert math.isnan(h.lr_effective)
            elif not cls.scales_lr:
                assert h.lr_effective == pytest.approx(h.lr, rel=1e-6)
            elif h.epoch == 0:  # no step yet: nothing adapted (hypergradient: its first LR)
                assert math.isnan(h.lr_effective) or h.lr_effective == h.lr
            else:
                assert h.lr_effective > 0


# --------------------------------------------------------------------------------------------
# Spec and range test
# --------------------------------------------------------------------------------------------


def test_spec_names_come_from_the_registry_and_defaults_keep_run_ids() -> None:
    for name in opt.OPTIMIZERS:
        OptimizerSpec(name=name, momentum=0.9)
    dumped = OptimizerSpec(name="prodigy").model_dump()
    assert "d0" not in dumped and "cocob_alpha" not in dumped  # resolved as before they existed
    assert OptimizerSpec(name="prodigy", d0=1e-5).model_dump()["d0"] == 1e-5


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"name": "prodigy", "d0": 0}, r"d0"),
        ({"name": "sgd_schedulefree"}, r"momentum: sgd_schedulefree needs momentum > 0"),
        ({"name": "dog", "average_gamma": -1}, r"average_gamma"),
        ({"name": "prodigy", "growth_rate": 0.5}, r"growth_rate"),
    ],
)
def test_spec_rejects_bad_lr_free_options(section: dict[str, Any], match: str) -> None:
    with pytest.raises(Exception, match=match):
        OptimizerSpec(**section)


def test_make_optimizer_passes_lr_free_options() -> None:
    theta = np.zeros((2, 3))
    spec = OptimizerSpec(name="prodigy", d0=1e-4, d_coef=0.5, betas=[0.8, 0.99])
    prodigy = opt.make_optimizer(spec, [theta])
    assert isinstance(prodigy, opt.Prodigy)
    assert (prodigy.d0, prodigy.d_coef, prodigy.beta1, prodigy.decouple) == (1e-4, 0.5, 0.8, True)
    with pytest.raises(SpecError, match=r"optimizer\.reps_rel"):
        opt.make_optimizer({"name": "dog", "reps_rel": -1.0}, [theta])


def test_range_test_refuses_cocob_and_ramps_prodigy() -> None:
    from lrsweep.rangetest import run_range_test

    spec = make_spec(optimizer={"name": "cocob"})
    data = load_data(spec)
    with pytest.raises(SpecError, match=r"^optimizer\.name: .*cocob does not take"):
        run_range_test(spec, data, start_lr=1e-4, end_lr=1.0, num_iter=10, seeds=[0])
    spec = make_spec(optimizer={"name": "prodigy"})
    result = run_range_test(spec, data, start_lr=1e-4, end_lr=1.0, num_iter=20, seeds=[0])
    assert_allclose(result.curves[0].lr, np.geomspace(1e-4, 1.0, 20)[: len(result.curves[0].lr)])


def test_histories_written_before_lr_effective_still_read(tmp_path) -> None:
    from lrsweep.files import history_text, read_history
    from lrsweep.records import EpochLog

    old = tmp_path / "old.csv"
    old.write_text("epoch,step,lr,train_loss,val_loss,val_metric\n0,0,0.1,2.0,2.1,0.5\n")
    (row,) = read_history(old)
    assert (row.lr, row.lr_effective) == (0.1, 0.1)  # the lr column was the step size then
    new = tmp_path / "new.csv"
    new.write_text(history_text([EpochLog(1, 10, 1.0, 0.5, 0.6, 0.9, 2.5e-3)]))
    assert new.read_text().splitlines()[0].endswith(",lr_effective")
    assert read_history(new)[0].lr_effective == 2.5e-3
