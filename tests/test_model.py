"""Tests for lrsweep.model: gradients, initialisation, dtypes, metrics and stability."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lrsweep import model
from lrsweep.errors import SpecError

SIZES = [5, 7, 3]  # 8 samples x 5 features -> 7 hidden -> 3 outputs
N_SAMPLES = 8
K = 2


def _problem(
    activation: str, loss: str, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Float64 params for K=2 members (member 1 perturbed), shared X, and targets."""
    rng = np.random.default_rng(seed)
    params = model.init_params(SIZES, K, activation=activation, rng=rng, dtype=np.float64)
    for p in params:  # non-zero biases, and member 1 different from member 0
        p += 0.3 * rng.standard_normal(p.shape[1:])
        p[1] += 0.2 * rng.standard_normal(p.shape[1:])
    X = rng.standard_normal((N_SAMPLES, SIZES[0]))
    if loss == "cross_entropy":
        Y = rng.integers(0, SIZES[-1], size=N_SAMPLES)
    else:
        Y = rng.standard_normal((N_SAMPLES, SIZES[-1]))
    return params, X, Y


def _preactivations(params: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    return np.matmul(X, params[0]) + params[1][:, None, :]


CASES = [(a, lo) for a in model.ACTIVATIONS for lo in model.LOSSES]


@pytest.mark.parametrize(("activation", "loss"), CASES, ids=[f"{a}-{lo}" for a, lo in CASES])
def test_gradient_matches_central_differences(activation: str, loss: str) -> None:
    params, X, Y = _problem(activation, loss)
    # A finite difference across a relu/leaky kink is meaningless: the inputs must avoid them.
    assert np.abs(_preactivations(params, X)).min() > 1e-4
    losses, grads = model.loss_and_grads(params, X, Y, activation, loss)
    out, cache = model.forward(params, X, activation)
    assert_allclose(model.loss_fn(out, Y, loss), losses, rtol=1e-12)
    for g, g2 in zip(grads, model.backward(params, cache, Y, activation, loss), strict=True):
        assert_allclose(g, g2, rtol=1e-12)

    eps = 1e-6
    for p, g in zip(params, grads, strict=True):
        assert g.shape == p.shape
        numeric = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            member = idx[0]
            saved = p[idx]
            p[idx] = saved + eps
            up = model.loss_fn(model.forward(params, X, activation)[0], Y, loss)
            p[idx] = saved - eps
            down = model.loss_fn(model.forward(params, X, activation)[0], Y, loss)
            p[idx] = saved
            numeric[idx] = (up[member] - down[member]) / (2 * eps)
            # member independence: the other member's loss does not move
            other = 1 - member
            assert up[other] == down[other] == losses[other]
        assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)
    assert not np.allclose(grads[0][0], grads[0][1])  # the members really differ


@pytest.mark.parametrize("loss", model.LOSSES)
def test_loss_gradient_fourth_order_stencil(loss: str) -> None:
    rng = np.random.default_rng(1)
    out = 3 * rng.standard_normal((K, N_SAMPLES, 4))
    if loss == "cross_entropy":
        Y = rng.integers(0, 4, size=N_SAMPLES)
    else:
        Y = rng.standard_normal((N_SAMPLES, 4))
    analytic = model.loss_grad(out, Y, loss)
    h = 1e-3
    numeric = np.empty_like(out)
    for idx in np.ndindex(out.shape):
        values = []
        for step in (-2, -1, 1, 2):
            shifted = out.copy()
            shifted[idx] += step * h
            values.append(model.loss_fn(shifted, Y, loss)[idx[0]])
        numeric[idx] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
    assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-10)


def test_loss_values_by_hand() -> None:
    out = np.array([[[0.0, 0.0], [2.0, 0.0]]])  # K=1, n=2, 2 classes
    ce = model.loss_fn(out, np.array([0, 1]), "cross_entropy")
    assert_allclose(ce, [(math.log(2) + math.log(1 + math.exp(2))) / 2])
    mse = model.loss_fn(out, np.array([[1.0, 0.0], [2.0, 2.0]]), "mse")
    assert_allclose(mse, [(1 + 0 + 0 + 4) / 4])  # mean over samples and outputs


def test_init_identical_across_members() -> None:
    params = model.init_params(
        [4, 6, 6, 2], 5, activation="relu", rng=np.random.default_rng(0), dtype=np.float32
    )
    assert [p.shape for p in params] == [(5, 4, 6), (5, 6), (5, 6, 6), (5, 6), (5, 6, 2), (5, 2)]
    for p in params:
        assert p.dtype == np.float32
        assert p.flags.writeable and p.base is params[0].base  # views of one theta
        for k in range(1, 5):
            np.testing.assert_array_equal(p[k], p[0])
    for b in params[1::2]:
        assert not b.any()
    params[0][1, 0, 0] += 1  # members are copies, not views of one array
    assert params[0][0, 0, 0] != params[0][1, 0, 0]


@pytest.mark.parametrize(
    ("activation", "init", "expected"),
    [
        ("relu", "auto", "he"),
        ("gelu", "auto", "he"),
        ("leaky_relu", "he", "he"),
        ("tanh", "auto", "xavier"),
        ("sigmoid", "auto", "xavier"),
        ("relu", "xavier", "xavier"),
    ],
)
def test_init_scale(activation: str, init: str, expected: str) -> None:
    fan_in, fan_out = 400, 300
    (W, _) = model.init_params(
        [fan_in, fan_out],
        1,
        activation=activation,
        init=init,
        rng=np.random.default_rng(0),
        dtype=np.float64,
    )
    if expected == "he":
        assert_allclose(W.std(), math.sqrt(2 / fan_in), rtol=0.02)
    else:
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(W).max() <= limit
        assert_allclose(W.std(), limit / math.sqrt(3), rtol=0.02)  # std of U(-a, a)
    assert abs(W.mean()) < 0.01


def test_init_same_seed_same_weights_in_both_dtypes() -> None:
    kw = {"activation": "tanh", "init": "auto"}
    a = model.init_params([3, 4, 2], 2, rng=np.random.default_rng(7), dtype=np.float64, **kw)
    b = model.init_params([3, 4, 2], 2, rng=np.random.default_rng(7), dtype=np.float32, **kw)
    for p64, p32 in zip(a, b, strict=True):
        np.testing.assert_array_equal(p64.astype(np.float32), p32)


@pytest.mark.parametrize("activation", list(model.ACTIVATIONS))
@pytest.mark.parametrize("loss", model.LOSSES)
def test_float32_stays_float32(activation: str, loss: str) -> None:
    rng = np.random.default_rng(0)
    params = model.init_params([5, 6, 6, 3], 3, activation=activation, rng=rng)
    X = rng.standard_normal((10, 5))  # float64 input is cast, not upcasting the compute
    Y = rng.integers(0, 3, 10) if loss == "cross_entropy" else rng.standard_normal((10, 3))
    out, cache = model.forward(params, X, activation)
    assert out.dtype == np.float32
    assert all(a.dtype == np.float32 for a in cache.inputs + cache.preacts)
    losses, grads = model.loss_and_grads(params, X, Y, activation, loss)
    assert losses.dtype == np.float32 and losses.shape == (3,)
    assert all(g.dtype == np.float32 for g in grads)


def test_float32_close_to_float64() -> None:
    rng = np.random.default_rng(3)
    p64 = model.init_params([5, 8, 3], 2, activation="tanh", rng=rng, dtype=np.float64)
    p32 = [p.astype(np.float32) for p in p64]
    X = rng.standard_normal((16, 5))
    Y = rng.integers(0, 3, 16)
    l64, g64 = model.loss_and_grads(p64, X, Y, "tanh", "cross_entropy")
    l32, g32 = model.loss_and_grads(p32, X.astype(np.float32), Y, "tanh", "cross_entropy")
    assert_allclose(l32, l64, rtol=1e-5)
    for a, b in zip(g32, g64, strict=True):
        assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_evaluate_accuracy_by_hand() -> None:
    # One linear layer, K=2: member 0 predicts the class of feature 0, member 1 always class 1.
    W = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])  # (K, 2, 2)
    b = np.array([[0.0, 0.0], [0.0, 1.0]])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    Y = np.array([0, 1, 0, 1, 1])
    loss, acc = model.evaluate([W, b], X, Y, "relu", "cross_entropy", batch_size=2)
    assert_allclose(acc, [0.8, 0.6])
    assert np.all((acc >= 0) & (acc <= 1))
    out, _ = model.forward([W, b], X, "relu")
    assert_allclose(loss, model.loss_fn(out, Y, "cross_entropy"))


def test_evaluate_r2_by_hand() -> None:
    # Linear model y = w x + c with one output; targets 1, 2, 3, 4 (mean 2.5, SST = 5).
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    Y = np.array([[1.0], [2.0], [3.0], [4.0]])
    W = np.array([[[1.0]], [[0.0]], [[1.0]]])  # perfect, constant 0, off by +1
    b = np.array([[0.0], [2.5], [1.0]])
    loss, r2 = model.evaluate([W, b], X, Y, "relu", "mse", batch_size=3)
    assert_allclose(loss, [0.0, 5 / 4, 1.0])
    assert_allclose(r2, [1.0, 0.0, 1 - 4 / 5], atol=1e-12)


def test_evaluate_r2_pools_outputs() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 3))
    Y = rng.standard_normal((7, 2)) * [1.0, 10.0]
    params = model.init_params([3, 4, 2], 1, activation="tanh", rng=rng, dtype=np.float64)
    out, _ = model.forward(params, X, "tanh")
    _, r2 = model.evaluate(params, X, Y, "tanh", "mse", batch_size=4)
    sse = ((out[0] - Y) ** 2).sum()
    sst = ((Y - Y.mean(axis=0)) ** 2).sum()
    assert_allclose(r2, [1 - sse / sst])


def test_cross_entropy_stable_for_huge_logits() -> None:
    for dtype in (np.float32, np.float64):
        out = np.array([[[1e4, 0.0, -1e4], [-3e4, 3e4, 0.0]]], dtype=dtype)
        losses = model.loss_fn(out, np.array([0, 0]), "cross_entropy")
        assert np.all(np.isfinite(losses))
        assert_allclose(losses, [(0.0 + 6e4) / 2], rtol=1e-6)
        grad = model.loss_grad(out, np.array([0, 0]), "cross_entropy")
        assert np.all(np.isfinite(grad))


def test_huge_weights_give_nonfinite_without_warnings() -> None:
    rng = np.random.default_rng(0)
    params = model.init_params([5, 7, 3], 2, activation="relu", rng=rng)
    for p in params:
        p[1] = 1e30  # member 1 has blown up (float32 overflows)
    X = rng.standard_normal((8, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for loss, Y in (("cross_entropy", rng.integers(0, 3, 8)), ("mse", np.zeros((8, 3)))):
            losses, grads = model.loss_and_grads(params, X, Y, "relu", loss)
            assert np.isfinite(losses[0]) and not np.isfinite(losses[1])
            assert all(np.all(np.isfinite(g[0])) for g in grads)
            model.evaluate(params, X, Y, "relu", loss)
        for activation in ("sigmoid", "tanh", "gelu", "leaky_relu"):
            out, _ = model.forward(params, X, activation)
            assert np.all(np.isfinite(out[0]))


def test_relu_is_max_with_zero_bit_for_bit() -> None:
    # the ReLU reads an array of zeros (NumPy's vector loop) instead of the scalar 0: it must
    # give exactly what max(z, 0) gives, signed zeros and NaN included, in the vector body
    # and the tail alike
    special = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, -1.0, 2.0]
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        bits = np.uint32 if dtype == np.float32 else np.uint64
        for n in (1, 7, 16, 33, 130):
            Z = rng.choice(np.array(special, dtype=dtype), size=(2, n, 3))
            expected = np.maximum(Z, 0)
            got = model.ACTIVATIONS["relu"].forward(Z.copy())
            np.testing.assert_array_equal(got.view(bits), expected.view(bits))


def test_leaky_relu_is_the_masked_multiply_bit_for_bit() -> None:
    # forward max(z, 0.01 z) and backward delta x max(1 or 0, 0.01) must give exactly what
    # the masked multiplies give (z < 0: 0.01 z; a <= 0: 0.01 delta), special values included
    special = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, -1e-40, -1.0, 2.0, -3e38]
    rng = np.random.default_rng(1)
    act = model.ACTIVATIONS["leaky_relu"]
    for dtype in (np.float32, np.float64):
        bits = np.uint32 if dtype == np.float32 else np.uint64
        for n in (1, 7, 16, 33, 130):
            Z = rng.choice(np.array(special, dtype=dtype), size=(2, n, 3))
            expected = np.multiply(Z, 0.01, out=Z.copy(), where=Z < 0)
            A = act.forward(Z.copy())
            np.testing.assert_array_equal(A.view(bits), expected.view(bits))
            delta = rng.choice(np.array(special, dtype=dtype), size=Z.shape)
            expected = np.multiply(delta, 0.01, out=delta.copy(), where=A <= 0)
            act.backward(delta, A, None)
            np.testing.assert_array_equal(delta.view(bits), expected.view(bits))


def test_layer_sizes() -> None:
    assert model.layer_sizes(5, [7, 4], 3) == [5, 7, 4, 3]
    assert model.layer_sizes(5, [], 3) == [5, 3]
    with pytest.raises(SpecError, match=r"model\.hidden\.1: must be >= 1, got 0"):
        model.layer_sizes(5, [7, 0], 3)


def test_unknown_names_suggest() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(
        SpecError, match=r"model\.activation: unknown 'rellu'; did you mean 'relu'\?"
    ):
        model.init_params([2, 2], 1, activation="rellu", rng=rng)
    with pytest.raises(SpecError, match=r"model\.init: unknown 'hee'; did you mean 'he'\?"):
        model.init_params([2, 2], 1, activation="relu", init="hee", rng=rng)
    params = model.init_params([2, 2], 1, activation="relu", rng=rng)
    with pytest.raises(SpecError, match=r"loss: unknown 'mae'; did you mean 'mse'\?"):
        model.loss_and_grads(params, np.zeros((1, 2)), np.zeros((1, 2)), "relu", "mae")


@pytest.mark.parametrize(("activation", "loss"), CASES, ids=[f"{a}-{lo}" for a, lo in CASES])
def test_gradient_with_per_member_inputs(activation: str, loss: str) -> None:
    params, X, Y = _problem(activation, loss)
    rng = np.random.default_rng(5)
    X3 = np.stack([X, X + 0.1 * rng.standard_normal(X.shape)])  # (K, n, d): one input each
    assert np.abs(np.matmul(X3, params[0]) + params[1][:, None, :]).min() > 1e-4  # no kinks
    losses, grads = model.loss_and_grads(params, X3, Y, activation, loss)
    out, cache = model.forward(params, X3, activation)
    assert out.shape == (K, N_SAMPLES, SIZES[-1])
    assert cache.inputs[0].shape == X3.shape  # the first-layer weight grad is X_k^T delta_k
    for k in range(K):  # member k on its own input gives member k's numbers
        alone = [p[k : k + 1] for p in params]
        l_k, g_k = model.loss_and_grads(alone, X3[k], Y, activation, loss)
        assert_allclose(losses[k], l_k[0], rtol=1e-12)
        for g, gk in zip(grads, g_k, strict=True):
            assert_allclose(g[k], gk[0], rtol=1e-10, atol=1e-14)
    eps = 1e-6
    for p, g in zip(params, grads, strict=True):
        numeric = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + eps
            up = model.loss_fn(model.forward(params, X3, activation)[0], Y, loss)[idx[0]]
            p[idx] = saved - eps
            down = model.loss_fn(model.forward(params, X3, activation)[0], Y, loss)[idx[0]]
            p[idx] = saved
            numeric[idx] = (up - down) / (2 * eps)
        assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(("activation", "loss"), CASES, ids=[f"{a}-{lo}" for a, lo in CASES])
def test_workspace_gives_the_same_numbers(activation: str, loss: str) -> None:
    rng = np.random.default_rng(2)
    sizes = [6, 9, 7, 3]
    theta = model.init_theta(sizes, 4, activation=activation, rng=rng)  # float32
    X = rng.standard_normal((50, 6)).astype(np.float32)
    Y = rng.integers(0, 3, 50) if loss == "cross_entropy" else rng.standard_normal((50, 3))
    ws = model.Workspace()
    for rows in (slice(0, 16), slice(16, 32), slice(32, 50), slice(0, 16)):  # a partial batch
        layers = model.layer_views(theta, sizes)
        expected_losses, expected = model.train_step(layers, X[rows], Y[rows], activation, loss)
        losses, grad = model.train_step(layers, X[rows], Y[rows], activation, loss, ws)
        np.testing.assert_array_equal(losses, expected_losses)
        assert grad.dtype == expected.dtype == np.float32
        np.testing.assert_array_equal(grad, expected)
        theta -= 0.1 * grad  # a step: the next batch sees new weights
    assert len(ws) == 2  # batches of 16 and of 18 have a buffer set each
    layers = model.layer_views(theta, sizes)
    grad_before = model.train_step(layers, X[:16], Y[:16], activation, loss, ws)[1]
    theta = theta[[0, 2]]  # members dropped: new buffers, the old ones go
    layers = model.layer_views(theta, sizes)
    losses, grad = model.train_step(layers, X[:16], Y[:16], activation, loss, ws)
    expected_losses, expected = model.train_step(layers, X[:16], Y[:16], activation, loss)
    assert len(ws) == 1
    np.testing.assert_array_equal(losses, expected_losses)
    np.testing.assert_array_equal(grad, expected)
    assert grad_before.shape[0] == 4  # the earlier buffers were not resized under the caller


def test_workspace_reuses_its_buffers() -> None:
    rng = np.random.default_rng(0)
    sizes = [5, 8, 3]
    layers = model.layer_views(model.init_theta(sizes, 2, activation="relu", rng=rng), sizes)
    X = rng.standard_normal((8, 5)).astype(np.float32)
    Y = rng.integers(0, 3, 8)
    ws = model.Workspace()
    _, first = model.train_step(layers, X, Y, "relu", "cross_entropy", ws)
    _, second = model.train_step(layers, X, Y, "relu", "cross_entropy", ws)
    assert first is second  # no new arrays per step


def test_flat_layout_round_trips() -> None:
    rng = np.random.default_rng(4)
    sizes = [3, 5, 2]
    params = model.init_params(sizes, 2, activation="tanh", rng=rng, dtype=np.float64)
    params = [p + rng.standard_normal(p.shape) for p in params]  # non-zero biases
    theta, got_sizes = model.pack(params)
    assert got_sizes == sizes and theta.shape == (2, model.n_params(sizes)) == (2, 4 * 5 + 6 * 2)
    for p, q in zip(params, model.split_layers(model.layer_views(theta, sizes)), strict=True):
        np.testing.assert_array_equal(p, q)
    # a layer block applied to an input with its column of ones is X W + b
    X = rng.standard_normal((4, 3))
    block = model.layer_views(theta, sizes)[0]
    np.testing.assert_allclose(
        np.hstack([X, np.ones((4, 1))]) @ block[1], X @ params[0][1] + params[1][1], rtol=1e-12
    )
