"""The stacked MLP: a group of K models that differ only in learning rate, trained in lockstep.

Every parameter array carries a leading member axis K (DESIGN.md §2). The trainer keeps each
member's parameters as one flat row of ``theta (K, P)``: layer i is the block
``(K, fan_in + 1, fan_out)`` whose last row is the bias (`layer_views`). Every hidden
activation is kept with a trailing column of ones, so each layer after the first is one product
and its two gradients are one product (the data itself is never copied to add that column);
the optimizer updates all layers with a handful of ufunc calls on ``theta``.
Python users can keep to the familiar list ``[W0, b0, W1, b1, ...]`` (`init_params`, `forward`,
`backward`, `loss_and_grads`, `evaluate`), ``W[i]`` of shape ``(K, fan_in, fan_out)`` and ``b[i]``
of shape ``(K, fan_out)``. The input ``X (n_samples, n_features)`` is shared by all members, so
the first layer is one broadcasting ``np.matmul`` and never holds K copies of ``X``; a
per-member input ``X (K, n_samples, n_features)`` works too. `train_step` computes into a
`Workspace` of preallocated buffers, so the hot loop does not allocate.

Activations and losses are registries keyed by their YAML names. Each activation is a forward
function next to its in-place backward function, written in terms of the cached output where
the derivative allows it (scikit-learn's ``ACTIVATIONS``/``DERIVATIVES``). All arithmetic keeps
the parameters' dtype: Python scalars are "weak" under NumPy 2 and never upcast float32 arrays.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from lrsweep.errors import SpecError, did_you_mean, shorten

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "Activation",
    "Cache",
    "Workspace",
    "backward",
    "evaluate",
    "evaluate_layers",
    "forward",
    "init_params",
    "init_theta",
    "layer_sizes",
    "layer_views",
    "loss_and_grads",
    "loss_fn",
    "loss_grad",
    "n_params",
    "pack",
    "split_layers",
    "train_step",
]

LOSSES = ("cross_entropy", "mse")
INITS = ("auto", "he", "xavier")


def _quiet() -> np.errstate:
    """Silence float warnings: a diverging member is a result; the caller checks the loss."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def _unknown(key: str, value: object, choices: Sequence[str]) -> SpecError:
    """Build the "unknown name" error with a did-you-mean hint."""
    return SpecError(f"{key}: unknown {shorten(repr(value))}; {did_you_mean(value, choices)}")


_INTP = np.dtype(np.intp)


@functools.lru_cache(maxsize=64)
def _constant(kind: str, n: int, dtype: np.dtype[Any]) -> np.ndarray:
    """A read-only ``ones(n)`` or ``arange(n)``, made once (hot loop)."""
    a = np.arange(n) if kind == "arange" else np.ones(n, dtype=dtype)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=32)
def _filled(shape: tuple[int, ...], dtype: np.dtype[Any], value: float = 0.0) -> np.ndarray:
    """A read-only array of ``value`` of ``shape``, made once (the hot loop's activations read
    it: NumPy's maximum takes its vector loop only for two full arrays)."""
    a = np.zeros(shape, dtype=dtype) if value == 0 else np.full(shape, value, dtype=dtype)
    a.setflags(write=False)
    return a


# --------------------------------------------------------------------------------------------
# Activations: forward f(Z) -> A next to backward delta *= f'(Z), in place.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """A hidden-layer nonlinearity as a forward/backward pair.

    Attributes
    ----------
    name : str
        The registry key (the YAML name).
    forward : callable
        ``forward(Z) -> A``. May overwrite ``Z`` in place and return it, unless
        ``needs_preactivation`` is true, in which case ``Z`` is left intact.
    backward : callable
        ``backward(delta, A, Z) -> None`` multiplies ``delta`` by ``f'(Z)`` in place. ``A`` is
        the cached output; ``Z`` is the cached pre-activation, or ``None`` when
        ``needs_preactivation`` is false.
    needs_preactivation : bool
        Whether ``backward`` needs ``Z`` (the derivative is not a function of ``A`` alone).
    keeps_one : bool
        Whether f(1) = 1 and ``backward`` leaves ``delta`` alone where ``A`` is 1, so both can
        run over a buffer that ends in the bias column of ones (contiguous, hence faster).
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray | None], None]
    needs_preactivation: bool = False
    keeps_one: bool = False


def _relu(Z: np.ndarray) -> np.ndarray:
    """relu(z) = max(z, 0).

    Against a same-shaped array of zeros rather than the scalar 0: NumPy's maximum takes a
    scalar loop for a scalar (or a broadcast) operand, its vector loop for two full arrays
    (4 us instead of 13 us for K=16 x 32 x 65 float32); the numbers are the same (NaN
    propagates, max(-0.0, 0) = +0.0 either way).
    """
    return np.maximum(Z, _filled(Z.shape, Z.dtype), out=Z)


def _relu_backward(delta: np.ndarray, A: np.ndarray, Z: np.ndarray | None) -> None:
    """relu'(z) = 1 if a > 0 else 0 (0 at the kink)."""
    delta *= A > 0


_LEAKY_SLOPE = 0.01


def _leaky_relu(Z: np.ndarray) -> np.ndarray:
    """leaky_relu(z) = z if z > 0 else 0.01 z, computed as max(z, 0.01 z).

    The same number for every z, as 0 < 0.01 < 1: for z < 0 the rounded 0.01 z lies in
    (z, 0], for z >= 0 it is at most z; -0.0, inf and NaN come out as they went in. Two vector
    passes, where a ``where=`` multiply takes 108 us for K=16 x 32 x 65 float32 (9.5 us).
    """
    return np.maximum(Z, np.multiply(Z, _LEAKY_SLOPE), out=Z)


def _leaky_relu_backward(delta: np.ndarray, A: np.ndarray, Z: np.ndarray | None) -> None:
    """leaky_relu'(z) = 1 if a > 0 else 0.01 (a has the sign of z; NaN keeps its delta).

    ``delta`` times a slope of exactly 1 or 0.01: max(1 or 0, 0.01), with ``delta`` x 1 =
    ``delta`` (14 us against 105 us for a ``where=`` multiply, K=16 x 32 x 65 float32).
    """
    steep = np.less_equal(A, 0)
    np.logical_not(steep, out=steep)  # a > 0, or NaN
    slope = steep.astype(delta.dtype)
    np.maximum(slope, _filled(slope.shape, slope.dtype, _LEAKY_SLOPE), out=slope)
    delta *= slope


def _tanh(Z: np.ndarray) -> np.ndarray:
    """tanh(z)."""
    return np.tanh(Z, out=Z)


def _tanh_backward(delta: np.ndarray, A: np.ndarray, Z: np.ndarray | None) -> None:
    """tanh'(z) = 1 - a^2."""
    slope = np.square(A)
    np.subtract(1, slope, out=slope)
    delta *= slope


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    """sigmoid(z) = 1 / (1 + exp(-z)); exp overflows to inf for z << 0, giving exactly 0."""
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    return np.reciprocal(Z, out=Z)


def _sigmoid_backward(delta: np.ndarray, A: np.ndarray, Z: np.ndarray | None) -> None:
    """sigmoid'(z) = a (1 - a)."""
    slope = np.subtract(1, A)
    slope *= A
    delta *= slope


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _gelu(Z: np.ndarray) -> np.ndarray:
    """gelu(z) ~ z/2 (1 + tanh(c (z + 0.044715 z^3))), c = sqrt(2/pi).

    The tanh approximation (Hendrycks & Gimpel 2016), as ``torch.nn.GELU(approximate="tanh")``
    computes it; the exact erf form differs by at most about 5e-4.
    """
    t = np.square(Z)
    t *= _GELU_K
    t += 1
    t *= Z
    t *= _GELU_C  # u = c z (1 + k z^2)
    np.tanh(t, out=t)  # t = tanh(u)
    t += 1
    t *= Z
    t *= 0.5
    return t


def _gelu_backward(delta: np.ndarray, A: np.ndarray, Z: np.ndarray | None) -> None:
    """gelu'(z) = (1 + t)/2 + z/2 (1 - t^2) c (1 + 3k z^2), with t = tanh(c z (1 + k z^2))."""
    assert Z is not None  # internal invariant: gelu caches its pre-activations
    z2 = np.square(Z)
    t = z2 * _GELU_K
    t += 1
    t *= Z
    t *= _GELU_C
    np.tanh(t, out=t)  # t = tanh(u), as in the forward
    du = np.multiply(z2, 3 * _GELU_K, out=z2)
    du += 1
    du *= _GELU_C  # du/dz = c (1 + 3k z^2)
    sech2 = np.square(t)
    np.subtract(1, sech2, out=sech2)  # 1 - t^2
    du *= sech2
    du *= Z
    t += 1
    t += du
    t *= 0.5
    delta *= t


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, _relu_backward, keeps_one=True),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_relu_backward, keeps_one=True),
    "tanh": Activation("tanh", _tanh, _tanh_backward),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_backward),
    "gelu": Activation("gelu", _gelu, _gelu_backward, needs_preactivation=True),
}


def _activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise _unknown("model.activation", name, list(ACTIVATIONS)) from None


# --------------------------------------------------------------------------------------------
# Losses: the mean loss per member next to its gradient w.r.t. the raw outputs.
# --------------------------------------------------------------------------------------------


def _cross_entropy(
    out: np.ndarray, Y: np.ndarray, need_grad: bool, inplace: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Softmax cross-entropy, mean over samples, and its fused gradient.

    loss = mean_i [log sum_c exp(o_ic - m_i) - (o_iy - m_i)], m_i = max_c o_ic;
    dloss/do = (softmax(o) - onehot(y)) / n. With ``inplace`` the gradient overwrites ``out``
    (the training step's scratch) instead of a new array; the numbers are the same.
    """
    K, n, C = out.shape
    rows = _constant("arange", n, _INTP)
    labels = np.asarray(Y, dtype=np.intp)
    # NumPy reduces a short contiguous last axis one row at a time (24 us for K=16, n=32,
    # C=10): the max over the leading axis of a class-major (C, K, n) copy is a running
    # elementwise maximum, 4 us with the copy; the sum is a product with ones (BLAS).
    by_class = np.empty((C, K, n), dtype=out.dtype)
    np.copyto(by_class, out.transpose(2, 0, 1))
    peak = by_class.max(axis=0)[:, :, None]  # (K, n, 1)
    shifted = np.subtract(out, peak, out=out if inplace else None)  # (K, n, C), max-shifted
    # labels (n,) are shared by the members; (K, n) are each member's own (the range test)
    index = (
        (_constant("arange", K, _INTP)[:, None], rows, labels)
        if labels.ndim == 2
        else (slice(None), rows, labels)
    )
    picked = shifted[index]  # (K, n)
    np.exp(shifted, out=shifted)
    total = np.matmul(shifted, _constant("ones", C, out.dtype))  # (K, n), sum over classes
    per_sample = np.log(total)
    per_sample -= picked
    # the mean over samples; a reduction per row, so a member's loss does not depend on K
    losses = np.add.reduce(per_sample, axis=1)
    losses *= 1 / n
    if not need_grad:
        return losses, None
    shifted /= total[:, :, None]  # softmax
    shifted[index] -= 1
    shifted *= 1 / n
    return losses, shifted


def _mse(
    out: np.ndarray, Y: np.ndarray, need_grad: bool, inplace: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean squared error over samples and outputs (PyTorch ``MSELoss('mean')``).

    loss = sum_io (o_io - y_io)^2 / (n n_out); dloss/do = 2 (o - y) / (n n_out).
    """
    target = np.asarray(Y, dtype=out.dtype)
    if target.ndim == 1:
        target = target[:, None]
    diff = np.subtract(out, target, out=out if inplace else None)  # (K, n, n_out)
    losses = np.square(diff).mean(axis=(1, 2))  # (K,)
    if not need_grad:
        return losses, None
    diff *= 2 / (out.shape[1] * out.shape[2])
    return losses, diff


def _cross_entropy_compiled(
    out: np.ndarray, Y: np.ndarray, need_grad: bool, kern: ModuleType
) -> tuple[np.ndarray, np.ndarray | None]:
    """`_cross_entropy` in place with the compiled kernels around NumPy's exp and log: the
    same operations in the same order, so the same bits (`lrsweep._jit`)."""
    K, n, C = out.shape
    labels = np.asarray(Y, dtype=np.intp)
    labels = labels[None, :] if labels.ndim == 1 else labels  # (1, n) shared, (K, n) own
    picked = np.empty((K, n), dtype=out.dtype)
    kern.cross_entropy_shift(out, labels, picked)  # max-shifted in place; the label's logit
    np.exp(out, out=out)
    total = np.matmul(out, _constant("ones", C, out.dtype))  # (K, n), as `_cross_entropy`
    per_sample = np.log(total)
    losses = np.empty(K, dtype=out.dtype)
    inv_n = out.dtype.type(1 / n)
    kern.cross_entropy_finish(out, total, per_sample, picked, labels, losses, inv_n, need_grad)
    return losses, out if need_grad else None


def _mse_compiled(
    out: np.ndarray, Y: np.ndarray, need_grad: bool, kern: ModuleType
) -> tuple[np.ndarray, np.ndarray | None]:
    """`_mse` in place with one compiled kernel (the same bits)."""
    target = np.asarray(Y, dtype=out.dtype)
    if target.ndim == 1:
        target = target[:, None]
    if target.ndim == 2:
        target = target[None]  # (1, n, n_out): shared by the members
    losses = np.empty(out.shape[0], dtype=out.dtype)
    scale = out.dtype.type(2 / (out.shape[1] * out.shape[2]))
    kern.mse(out, target, losses, scale, need_grad)
    return losses, out if need_grad else None


_LOSS_FUNCTIONS = {"cross_entropy": _cross_entropy, "mse": _mse}
_COMPILED_LOSSES = {"cross_entropy": _cross_entropy_compiled, "mse": _mse_compiled}


def _loss(
    out: np.ndarray,
    Y: np.ndarray,
    loss: str,
    need_grad: bool,
    inplace: bool = False,
    kern: ModuleType | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The loss by name; in place with the compiled kernels when ``kern`` is given."""
    try:
        fn = _LOSS_FUNCTIONS[loss]
    except KeyError:
        raise _unknown("loss", loss, LOSSES) from None
    if kern is not None and inplace:
        return _COMPILED_LOSSES[loss](out, Y, need_grad, kern)
    return fn(out, Y, need_grad, inplace)


def loss_fn(out: np.ndarray, Y: np.ndarray, loss: str) -> np.ndarray:
    """Mean loss of each member.

    Parameters
    ----------
    out : ndarray of shape (K, n_samples, n_outputs)
        Raw outputs (logits for ``"cross_entropy"``, predictions for ``"mse"``).
    Y : ndarray
        Integer labels of shape (n_samples,) for ``"cross_entropy"``; targets of shape
        (n_samples, n_outputs) for ``"mse"``.
    loss : {"cross_entropy", "mse"}
        The loss name.

    Returns
    -------
    ndarray of shape (K,)
        The loss per member, in ``out``'s dtype; inf or nan for a member that has diverged.
    """
    with _quiet():
        return _loss(out, Y, loss, need_grad=False)[0]


def loss_grad(out: np.ndarray, Y: np.ndarray, loss: str) -> np.ndarray:
    """Gradient of each member's mean loss with respect to its raw outputs.

    Parameters
    ----------
    out, Y, loss
        As in `loss_fn`.

    Returns
    -------
    ndarray of shape (K, n_samples, n_outputs)
        ``d loss_fn(out, Y, loss)[k] / d out[k]``.
    """
    with _quiet():
        grad = _loss(out, Y, loss, need_grad=True)[1]
    assert grad is not None  # need_grad=True always returns it
    return grad


# --------------------------------------------------------------------------------------------
# The network: one flat parameter vector per member, each layer's weights and bias together.
# --------------------------------------------------------------------------------------------


class Cache(NamedTuple):
    """What `forward` keeps for `backward`.

    Attributes
    ----------
    inputs : list of ndarray
        The input of each layer: ``X (n, n_features)`` (or per-member ``(K, n, n_features)``)
        first, then each hidden activation with a trailing column of ones (the next layer's
        bias input), ``(K, n, width + 1)``.
    preacts : list of ndarray
        The hidden pre-activations ``(K, n, width)``, only for activations that need them
        (otherwise empty).
    out : ndarray of shape (K, n, n_outputs)
        The raw outputs.
    """

    inputs: list[np.ndarray]
    preacts: list[np.ndarray]
    out: np.ndarray


def layer_sizes(n_features: int, hidden: Sequence[int], n_outputs: int) -> list[int]:
    """Widths of all layers, input to output.

    Parameters
    ----------
    n_features : int
        Width of the input.
    hidden : sequence of int
        Hidden layer widths (may be empty: a linear or logistic model).
    n_outputs : int
        Number of classes (cross-entropy) or regression targets (MSE).

    Returns
    -------
    list of int
        ``[n_features, *hidden, n_outputs]``.
    """
    sizes = [int(n_features), *(int(h) for h in hidden), int(n_outputs)]
    for i, width in enumerate(sizes[1:-1]):
        if width < 1:
            raise SpecError(f"model.hidden.{i}: must be >= 1, got {width}")
    if sizes[0] < 1 or sizes[-1] < 1:
        raise SpecError(f"data: need at least one feature and one output, got sizes {sizes}")
    return sizes


def n_params(sizes: Sequence[int]) -> int:
    """Length P of one member's flat parameter vector: sum of (fan_in + 1) x fan_out."""
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in pairwise(sizes))


def layer_views(theta: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Each layer's block of the flat parameters, as views ``(K, fan_in + 1, fan_out)``.

    Row ``fan_in`` of a block is the layer's bias, so one product with an input that ends in
    a column of ones applies weights and bias together, and one product gives both gradients
    (the bias folded into the weights, as in Goodfellow et al. 2016, §6.1).

    Parameters
    ----------
    theta : ndarray of shape (K, P)
        The flat parameters (or gradients) of K members, ``P = n_params(sizes)``.
    sizes : sequence of int
        Layer widths from `layer_sizes`.

    Returns
    -------
    list of ndarray
        One view per layer; writing to a view writes to ``theta``.
    """
    if theta.ndim != 2 or theta.shape[1] != n_params(sizes):
        raise ValueError(f"theta: expected shape (K, {n_params(sizes)}), got {theta.shape}")
    K = theta.shape[0]
    views, start = [], 0
    for fan_in, fan_out in pairwise(sizes):
        stop = start + (fan_in + 1) * fan_out
        views.append(theta[:, start:stop].reshape(K, fan_in + 1, fan_out))
        start = stop
    return views


def split_layers(layers: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Views ``[W0, b0, ...]`` of layer blocks: ``W (K, fan_in, fan_out)``, ``b (K, fan_out)``."""
    out: list[np.ndarray] = []
    for block in layers:
        out += [block[:, :-1, :], block[:, -1, :]]
    return out


def pack(params: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """A copy of ``[W0, b0, ...]`` as one flat ``(K, P)`` array, and the layer sizes.

    The inverse of ``split_layers(layer_views(theta, sizes))``.
    """
    if len(params) < 2 or len(params) % 2:
        raise ValueError(f"params: expected [W0, b0, W1, b1, ...], got {len(params)} arrays")
    Ws, bs = params[0::2], params[1::2]
    sizes = [Ws[0].shape[1], *(W.shape[2] for W in Ws)]
    K = Ws[0].shape[0]
    theta = np.empty((K, n_params(sizes)), dtype=np.result_type(*params))
    for block, W, b in zip(layer_views(theta, sizes), Ws, bs, strict=True):
        block[:, :-1, :] = W
        block[:, -1, :] = b
    return theta, sizes


def init_theta(
    sizes: Sequence[int],
    K: int,
    *,
    activation: str,
    init: str = "auto",
    rng: np.random.Generator,
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """Initial flat parameters ``(K, P)``, identical for all K members (common random numbers).

    He: ``W ~ N(0, 2 / fan_in)`` (He et al. 2015). Xavier: Glorot uniform,
    ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010).
    ``"auto"`` picks He for relu, leaky_relu and gelu, Xavier for tanh and sigmoid. Biases
    are zero. Weights are drawn once in float64 and then cast, so float32 and float64 runs
    start from the same (rounded) point.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from `layer_sizes`.
    K : int
        Number of members.
    activation : str
        Hidden activation name (decides ``"auto"``).
    init : {"auto", "he", "xavier"}
        Weight initialisation scheme.
    rng : numpy.random.Generator
        Source of randomness; consumed once per weight matrix.
    dtype : dtype-like
        ``float32`` or ``float64``.

    Returns
    -------
    ndarray of shape (K, P)
        Laid out as `layer_views` reads it.
    """
    _activation(activation)
    if init not in INITS:
        raise _unknown("model.init", init, INITS)
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise SpecError(f"model.dtype: must be 'float32' or 'float64', got {str(dt)!r}")
    if K < 1:
        raise ValueError(f"K: must be >= 1, got {K}")
    scheme = init
    if init == "auto":
        scheme = "he" if activation in ("relu", "leaky_relu", "gelu") else "xavier"
    one = np.zeros((1, n_params(sizes)), dtype=dt)
    for block, (fan_in, fan_out) in zip(layer_views(one, sizes), pairwise(sizes), strict=True):
        if scheme == "he":
            w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        else:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        block[0, :-1, :] = w.astype(dt)
    return np.repeat(one, K, axis=0)


def init_params(
    sizes: Sequence[int],
    K: int,
    *,
    activation: str,
    init: str = "auto",
    rng: np.random.Generator,
    dtype: DTypeLike = np.float32,
) -> list[np.ndarray]:
    """`init_theta`'s parameters as ``[W0, b0, W1, b1, ...]``.

    ``W[i]`` has shape (K, fan_in, fan_out) and ``b[i]`` (K, fan_out); they are views of one
    flat array (see `layer_views`). Parameters as for `init_theta`.
    """
    theta = init_theta(sizes, K, activation=activation, init=init, rng=rng, dtype=dtype)
    return split_layers(layer_views(theta, sizes))


class Workspace:
    """Buffers a group's training steps reuse, so the hot loop allocates (almost) nothing.

    Create one per group and pass it to every `train_step` and `evaluate_layers` call. It
    holds, per batch shape, the activations (each with its column of ones), the output (which
    the loss overwrites with its gradient), the deltas and one flat gradient array, and
    computes into them with ``out=``. A batch of another size (the last, partial one of an
    epoch) gets its own set, kept for the next epoch; when the member count changes (diverged
    members dropped) the sets of the old count are discarded.

    The gradients a call returns are these buffers: they are valid until the next call with the
    same workspace and batch size (the optimizer may use them as scratch, as it does any
    gradients).

    With ``kernels`` (the module `lrsweep.kernels.load` returns) the elementwise passes run
    compiled: the same numbers, fewer calls.

    Examples
    --------
    >>> ws = Workspace()
    >>> for idx in batches:                                           # doctest: +SKIP
    ...     losses, grad = train_step(layers, X[idx], Y[idx], "relu", "mse", ws)
    ...     optimizer.step([theta], [grad], lrs)
    """

    def __init__(self, kernels: ModuleType | None = None) -> None:
        self._sets: dict[tuple[object, ...], _Buffers] = {}
        self.kernels = kernels

    def buffers(
        self, layers: Sequence[np.ndarray], X: np.ndarray, act: Activation, train: bool = True
    ) -> _Buffers:
        """The buffer set for these layers and this batch, created on first use.

        ``train=False`` gives a forward-only set (no deltas nor gradients), for evaluation.
        """
        shapes = tuple(block.shape for block in layers)
        key = (shapes, layers[0].dtype, X.shape[:-1], act.needs_preactivation, train)
        buf = self._sets.get(key)
        if buf is None:
            self._sets = {k: v for k, v in self._sets.items() if k[0] == shapes}
            buf = _Buffers(layers, X.shape[-2], act.needs_preactivation, train)
            buf.kern = self.kernels
            self._sets[key] = buf
        return buf

    def __len__(self) -> int:
        """Number of buffer sets held (one per batch shape in use)."""
        return len(self._sets)


# Weight matrices up to this many entries get a contiguous transposed copy for delta @ W^T:
# OpenBLAS is slow on small products with a transposed operand (59 -> 50 us for K=16 of
# 64 x 64), while for large ones the transposing copy costs more than it saves.
_TRANSPOSE_COPY_MAX = 128 * 128


class _Buffers:
    """One batch shape's preallocated arrays (see `Workspace`).

    Hidden activations and deltas are ``(K, n, width + 1)``: the activation's last column is the
    bias input (ones), the delta's is the unused gradient with respect to it, so that products
    with a whole layer block need no slicing and a ``keeps_one`` activation runs contiguously.
    """

    def __init__(
        self, layers: Sequence[np.ndarray], n: int, keep_preacts: bool, train: bool = True
    ) -> None:
        dtype = layers[0].dtype
        K = layers[0].shape[0]
        widths = [block.shape[2] for block in layers[:-1]]  # hidden widths
        self.A = []  # hidden activations, each with its column of ones
        for w in widths:
            A = np.empty((K, n, w + 1), dtype)
            A[..., w] = 1
            self.A.append(A)
        self.AT = [A.transpose(0, 2, 1) for A in self.A]  # (K, w + 1, n) views
        self.Z = [np.empty((K, n, w), dtype) for w in widths] if keep_preacts else []
        # layer 0's product, contiguous: its bias add and activation run there (`_forward`)
        self.Z0 = np.empty((K, n, widths[0]), dtype) if widths and not keep_preacts else None
        self.out = np.empty((K, n, layers[-1].shape[2]), dtype)
        self.WT: list[np.ndarray | None] = [None] * len(layers)
        self.delta: list[np.ndarray] = []
        self.grad: np.ndarray | None = None
        self.grads: list[np.ndarray] = []
        self.grad0: tuple[np.ndarray, np.ndarray] | None = None
        self.kern: ModuleType | None = None  # the compiled kernels, when the workspace has them
        if not train:  # forward only (evaluation)
            return
        self.delta = [np.empty((K, n, w + 1), dtype) for w in widths]
        sizes = [layers[0].shape[1] - 1, *(block.shape[2] for block in layers)]
        self.grad = np.empty((K, n_params(sizes)), dtype)
        self.grads = layer_views(self.grad, sizes)
        self.grad0 = (self.grads[0][:, :-1], self.grads[0][:, -1])  # layer 0's weights, bias
        for i, block in enumerate(layers):
            if i > 0 and block.shape[1] * block.shape[2] <= _TRANSPOSE_COPY_MAX:
                self.WT[i] = np.empty((K, block.shape[2], block.shape[1]), dtype)


# The activations the compiled path runs: forward (ReLU and leaky ReLU, whose NumPy forms are
# exact arithmetic) and backward (also tanh and sigmoid: their derivatives from the cached
# output are exact arithmetic; GELU's recomputes a tanh, so it stays on NumPy).
_COMPILED_BACKWARD = ("relu", "leaky_relu", "tanh", "sigmoid")


def _slope(dtype: np.dtype[Any]) -> Any:
    """Leaky ReLU's slope in ``dtype``, as NumPy rounds the Python float next to an array."""
    return dtype.type(_LEAKY_SLOPE)


def _compiled_bias_activation(
    kern: ModuleType, act: Activation, Z: np.ndarray, bias: np.ndarray, A: np.ndarray
) -> None:
    """``A[..., :w] = f(Z + bias)`` for a keeps_one activation, compiled (``A`` the whole
    buffer, with its column of ones)."""
    if act.name == "relu":
        kern.bias_relu(Z, bias, A)
    else:
        kern.bias_leaky_relu(Z, bias, A, _slope(Z.dtype))


def _compiled_activation(kern: ModuleType, act: Activation, A: np.ndarray) -> None:
    """``A = f(A)`` in place for a keeps_one activation, compiled."""
    if act.name == "relu":
        kern.relu(A)
    else:
        kern.leaky_relu(A, _slope(A.dtype))


def _compiled_backward(
    kern: ModuleType, act: Activation, delta: np.ndarray, A: np.ndarray
) -> None:
    """``delta *= f'`` compiled, on the whole (K, n, w + 1) buffers: keeps_one activations
    over all of it, the others over the hidden columns only."""
    if act.name == "relu":
        kern.relu_backward(delta, A)
    elif act.name == "leaky_relu":
        kern.leaky_relu_backward(delta, A, _slope(delta.dtype))
    elif act.name == "tanh":
        kern.tanh_backward(delta, A)
    else:
        kern.sigmoid_backward(delta, A)


def _forward(
    layers: Sequence[np.ndarray], X: np.ndarray, act: Activation, buf: _Buffers | None = None
) -> tuple[np.ndarray, Cache]:
    """Forward pass from ``X`` (no column of ones); into ``buf`` when given.

    Layer 0 multiplies by the weight rows and adds the bias row (the data is never copied to
    append a column); every later layer is one product with its whole block. The caller
    silences float warnings (``_quiet``).
    """
    A = X
    inputs = [A]
    preacts: list[np.ndarray] = []
    last = len(layers) - 1
    for i, block in enumerate(layers):
        # layer 0: (n, d) @ (K, d, h), or per-member (K, n, d) @ (K, d, h), then + bias
        weights = block[:, :-1, :] if i == 0 else block
        if i == last:
            out = np.matmul(A, weights, out=None if buf is None else buf.out)
            if i == 0:
                out += block[:, -1:, :]
            return out, Cache(inputs, preacts, out)
        width = block.shape[2]
        if buf is None:
            nxt = np.empty((block.shape[0], A.shape[-2], width + 1), block.dtype)
            nxt[..., width] = 1
        else:
            nxt = buf.A[i]
        if act.needs_preactivation:  # the forward leaves Z intact and returns a new array
            Z = np.matmul(A, weights, out=None if buf is None else buf.Z[i])
            if i == 0:
                Z += block[:, -1:, :]
            preacts.append(Z)
            nxt[..., :width] = act.forward(Z)
        elif i == 0 and act.keeps_one and buf is not None and buf.Z0 is not None:
            # layer 0 adds its bias row: in a contiguous buffer the add and the activation
            # take half the time they take beside the column of ones; then one copy there.
            # Only keeps_one activations (a max, a multiply): exact, so the same bits in any
            # layout, where NumPy's tanh or exp may take another loop for a strided array
            Z = np.matmul(A, weights, out=buf.Z0)
            if buf.kern is not None:  # bias, activation and copy in one compiled pass
                _compiled_bias_activation(buf.kern, act, Z, block[:, -1, :], nxt)
            else:
                Z += block[:, -1:, :]
                np.copyto(nxt[..., :width], act.forward(Z))
        else:
            Z = np.matmul(A, weights, out=nxt[..., :width])
            if i == 0:
                Z += block[:, -1:, :]
            # keeps_one: in place over the whole buffer, f(1) = 1 keeps the ones
            if buf is not None and buf.kern is not None and act.keeps_one:
                _compiled_activation(buf.kern, act, nxt)
            else:
                act.forward(nxt if act.keeps_one else Z)
        inputs.append(nxt)
        A = nxt
    raise AssertionError("unreachable: there is at least one layer")


def _backprop(
    layers: Sequence[np.ndarray],
    cache: Cache,
    delta: np.ndarray,
    act: Activation,
    buf: _Buffers | None = None,
) -> np.ndarray:
    """Push ``delta = dloss/dout (K, n, n_outputs)`` back; return the flat gradient (K, P).

    With ``buf`` every product goes into its preallocated arrays (``delta`` itself may be one
    of them); without, into new arrays. The caller silences float warnings (``_quiet``).
    """
    if buf is None or buf.grad is None or buf.grad0 is None:
        K = layers[0].shape[0]
        sizes = [layers[0].shape[1] - 1, *(block.shape[2] for block in layers)]
        grad = np.empty((K, n_params(sizes)), dtype=layers[0].dtype)
        grads = layer_views(grad, sizes)
        grad0 = (grads[0][:, :-1], grads[0][:, -1])
    else:
        grad, grads, grad0 = buf.grad, buf.grads, buf.grad0
    for i in range(len(layers) - 1, -1, -1):
        A = cache.inputs[i]
        if i == 0:  # the data, without a column of ones: (d, n) @ (K, n, h), and the bias
            np.matmul(A.T if A.ndim == 2 else A.transpose(0, 2, 1), delta, out=grad0[0])
            # (n,) @ (K, n, h) -> (K, h): the sum over samples, as a BLAS product
            np.matmul(_constant("ones", delta.shape[1], delta.dtype), delta, out=grad0[1])
            break
        # weights and bias at once: (K, h+1, n) @ (K, n, o)
        At = buf.AT[i - 1] if buf is not None else A.transpose(0, 2, 1)
        np.matmul(At, delta, out=grads[i])
        block = layers[i]
        WT = block.transpose(0, 2, 1)  # (K, fan_out, fan_in + 1)
        copy = None if buf is None else buf.WT[i]
        if copy is not None:
            if buf is not None and buf.kern is not None:
                buf.kern.transpose_copy(copy, block)
            else:
                np.copyto(copy, WT)
            WT = copy
        # (K, n, fan_out) @ (K, fan_out, fan_in + 1) -> (K, n, fan_in + 1); the last column is
        # the gradient for the bias input, never used
        full = np.matmul(delta, WT, out=None if buf is None else buf.delta[i - 1])
        delta = full[..., :-1]
        kern = None if buf is None else buf.kern
        if kern is not None and act.name in _COMPILED_BACKWARD:
            _compiled_backward(kern, act, full, A)
        elif act.keeps_one:
            act.backward(full, A, None)
        else:
            Z = cache.preacts[i - 1] if act.needs_preactivation else None
            act.backward(delta, A[..., :-1], Z)
    return grad


def train_step(
    layers: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    activation: str,
    loss: str,
    workspace: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward, loss and backward in one pass over flat parameters (the training hot loop).

    Parameters
    ----------
    layers : list of ndarray
        ``layer_views(theta, sizes)``.
    X : ndarray of shape (n, n_features) or (K, n, n_features)
        The batch, shared or per member, in the parameters' dtype.
    Y, loss
        As in `loss_fn`.
    activation : str
        Hidden activation name.
    workspace : Workspace, optional
        Buffers to compute in (see `Workspace`); the numbers are the same without.

    Returns
    -------
    losses : ndarray of shape (K,)
        Mean loss per member on this batch.
    grad : ndarray of shape (K, P)
        The gradient, laid out like ``theta``.
    """
    act = _activation(activation)
    buf = None if workspace is None else workspace.buffers(layers, X, act)
    with _quiet():
        out, cache = _forward(layers, X, act, buf)
        kern = None if buf is None else buf.kern
        losses, delta = _loss(out, Y, loss, need_grad=True, inplace=buf is not None, kern=kern)
        assert delta is not None  # need_grad=True always returns it
        return losses, _backprop(layers, cache, delta, act, buf)


def _unpacked(params: Sequence[np.ndarray], X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Layer blocks of a copy of ``params``, and ``X`` in their dtype."""
    theta, sizes = pack(params)
    return layer_views(theta, sizes), np.asarray(X, dtype=theta.dtype)


def forward(params: list[np.ndarray], X: np.ndarray, activation: str) -> tuple[np.ndarray, Cache]:
    """Raw outputs of every member on the shared input.

    Parameters
    ----------
    params : list of ndarray
        ``[W0, b0, ...]`` with the member axis first.
    X : ndarray of shape (n_samples, n_features) or (K, n_samples, n_features)
        Input shared by all members, or one input per member; cast to the parameters' dtype
        if it differs.
    activation : str
        Hidden activation name.

    Returns
    -------
    out : ndarray of shape (K, n_samples, n_outputs)
        Logits or predictions; inf or nan in members whose weights have blown up (silently).
    cache : Cache
        What `backward` needs.
    """
    layers, X = _unpacked(params, X)
    with _quiet():
        return _forward(layers, X, _activation(activation))


def backward(
    params: list[np.ndarray], cache: Cache, Y: np.ndarray, activation: str, loss: str
) -> list[np.ndarray]:
    """Gradients of each member's mean loss.

    Parameters
    ----------
    params : list of ndarray
        The parameters `forward` ran with.
    cache : Cache
        From `forward`.
    Y : ndarray
        Labels (n_samples,) or targets (n_samples, n_outputs), as in `loss_fn`.
    activation : str
        Hidden activation name (the one `forward` used).
    loss : {"cross_entropy", "mse"}
        The loss name.

    Returns
    -------
    list of ndarray
        Same shapes and dtype as ``params``; member k's entry is the gradient of member k's loss.
    """
    theta, sizes = pack(params)
    layers = layer_views(theta, sizes)
    act = _activation(activation)
    with _quiet():
        grad = _backprop(layers, cache, loss_grad(cache.out, Y, loss), act)
    return split_layers(layer_views(grad, sizes))


def loss_and_grads(
    params: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    activation: str,
    loss: str,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Forward, loss and backward in one pass, on ``[W0, b0, ...]`` (see `train_step`).

    Parameters
    ----------
    params, X, activation
        As in `forward` (``X`` shared, or one input per member).
    Y, loss
        As in `loss_fn`.

    Returns
    -------
    losses : ndarray of shape (K,)
        Mean loss per member on this batch.
    grads : list of ndarray
        As in `backward`.
    """
    layers, X = _unpacked(params, X)
    losses, grad = train_step(layers, X, Y, activation, loss)
    sizes = [layers[0].shape[1] - 1, *(block.shape[2] for block in layers)]
    return losses, split_layers(layer_views(grad, sizes))


def evaluate_layers(
    layers: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    activation: str,
    loss: str,
    batch_size: int = 4096,
    workspace: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`evaluate` on layer blocks (the trainer's form), ``X`` in their dtype."""
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    n = X.shape[0]
    if n == 0:
        raise ValueError("evaluate: X has no rows")
    K = layers[0].shape[0]
    loss_sum = np.zeros(K)
    hits = np.zeros(K)
    n_outputs = layers[-1].shape[2]
    act = _activation(activation)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        chunk = X[start:stop]
        buf = None if workspace is None else workspace.buffers(layers, chunk, act, train=False)
        with _quiet():
            out, _ = _forward(layers, chunk, act, buf)
            if loss == "cross_entropy":  # before the loss, which may overwrite the output
                hits += (out.argmax(axis=2) == Y[start:stop]).sum(axis=1)
            kern = None if buf is None else buf.kern
            losses, _ = _loss(
                out, Y[start:stop], loss, need_grad=False, inplace=buf is not None, kern=kern
            )
        loss_sum += losses.astype(np.float64) * (stop - start)
    mean_loss = loss_sum / n
    if loss == "cross_entropy":
        metric = hits / n
        metric[~np.isfinite(mean_loss)] = np.nan
        return mean_loss, metric
    target = np.asarray(Y, dtype=np.float64).reshape(n, -1)
    sst = float(np.square(target - target.mean(axis=0)).sum())
    sse = loss_sum * n_outputs  # the MSE loss is SSE / (n n_outputs)
    with _quiet():
        if sst > 0:
            metric = 1 - sse / sst
        else:
            metric = np.where(sse == 0, 1.0, 0.0)
    metric[~np.isfinite(sse)] = np.nan
    return mean_loss, metric


def evaluate(
    params: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    activation: str,
    loss: str,
    batch_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss and metric of each member over a whole dataset, in chunks of rows.

    The metric is accuracy for ``"cross_entropy"`` and R^2 for ``"mse"``:
    ``R^2 = 1 - SSE / SST`` pooled over all outputs, where SST sums squared deviations from
    each output column's mean (scikit-learn's ``multioutput="variance_weighted"``). When the
    targets are constant (SST = 0), R^2 is 1.0 for a perfect fit and 0.0 otherwise, as
    scikit-learn's ``r2_score`` does.

    Parameters
    ----------
    params, X, activation
        As in `forward`.
    Y, loss
        As in `loss_fn`.
    batch_size : int
        Rows per chunk; bounds memory at about ``K * batch_size * max_width`` values per layer.

    Returns
    -------
    loss : ndarray of shape (K,)
        Mean loss per member (accumulated in float64).
    metric : ndarray of shape (K,)
        Accuracy in [0, 1] or R^2 per member (float64); nan where the outputs are not finite.
    """
    layers, X = _unpacked(params, X)
    return evaluate_layers(layers, X, Y, activation, loss, batch_size)
