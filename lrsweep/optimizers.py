"""Update rules over stacked parameters, with one learning rate per member.

Each optimizer is state plus an update rule, written exactly as the ``torch.optim`` docs give
it. Parameters carry a leading member axis K (see `lrsweep.model`); ``step`` takes a vector of K
learning rates every step (the schedule lives outside, as in nanoGPT's loop) and updates the
parameters in place. State arrays have the parameters' shapes, so dropping diverged members is
one fancy index per array (`Optimizer.select`).

Momentum convention (PyTorch's, not scikit-learn's): ``b <- mu b + g; p <- p - lr b``.
scikit-learn's ``v <- mu v - lr g; p <- p + v`` agrees at a constant LR but differs under a
schedule, because there the LR multiplies the whole buffer at each step.

Every per-member vector (``lr``, an overridden momentum) is cast to the parameters' dtype, and
every other constant is a Python float, which NumPy 2 never lets upcast a float32 array.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from lrsweep.errors import SpecError, did_you_mean, shorten
from lrsweep.methods import METHODS

__all__ = [
    "COCOB",
    "OPTIMIZERS",
    "SGD",
    "SGDHD",
    "SGDNHD",
    "Adagrad",
    "Adam",
    "AdamHD",
    "AdamW",
    "AdamWScheduleFree",
    "DAdaptAdam",
    "DAdaptSGD",
    "DoG",
    "Optimizer",
    "Prodigy",
    "RMSprop",
    "SGDScheduleFree",
    "make_optimizer",
    "per_member",
]


def per_member(values: np.ndarray, ndim: int) -> np.ndarray:
    """View a (K,) vector so it broadcasts along the member axis of an ``ndim``-d array.

    Parameters
    ----------
    values : ndarray of shape (K,)
        One value per member.
    ndim : int
        Number of dimensions of the array it will meet (3 for a weight, 2 for a bias).

    Returns
    -------
    ndarray of shape (K, 1, ..., 1)
        A view with ``ndim`` dimensions.
    """
    return values.reshape(values.shape[:1] + (1,) * (ndim - 1))


def _quiet() -> np.errstate:
    """Silence float warnings: a diverging member is a result; the caller checks the loss."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def _rows_ok(p: np.ndarray, g: np.ndarray) -> bool:
    """Whether the compiled updates can take ``p`` and ``g`` as (K, P) rows (views)."""
    return p.ndim >= 2 and p.flags.c_contiguous and g.flags.c_contiguous and p.shape == g.shape


def _check(key: str, value: object, ok: bool, rule: str) -> None:
    if not ok:
        raise SpecError(f"optimizer.{key}: must be {rule}, got {value!r}")


class Optimizer:
    """Base class: state arrays shaped like the parameters, and a step counter.

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters (member axis first); only their shapes and dtype are used here.

    Attributes
    ----------
    state : dict of str to list of ndarray
        Named state, one array per parameter, each with the member axis first.
    t : int
        Number of steps taken (shared by all members, which step together).
    """

    name: ClassVar[str] = ""  # its key in OPTIMIZERS and lrsweep.methods.METHODS
    default_lr: ClassVar[float] = 1e-3  # the reference's default LR: METHODS[name], set below
    # Capabilities, read by the trainer and the range test instead of lists of names:
    cycles_momentum: ClassVar[bool] = True  # a cyclic schedule's momentum applies (`step`)
    adapts_lr: ClassVar[bool] = False  # owns its LR after the first step (the range test's LR
    # ramp would be overridden)
    needs_lr: ClassVar[bool] = True  # False: takes no LR at all (cocob; the range test refuses
    # it): METHODS[name], set below
    scales_lr: ClassVar[bool] = False  # its step is the nominal LR times a factor it estimates
    # (d, eta): the history's lr_effective then differs from its lr

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name in METHODS:  # the facts readers know without the numerics, in one place
            cls.default_lr, cls.needs_lr = METHODS[cls.name]

    def __init__(self, params: list[np.ndarray]) -> None:
        self.state: dict[str, list[np.ndarray]] = {}
        self.vectors: dict[str, np.ndarray] = {}  # per-member scalars, each of shape (K,)
        self.t = 0
        self._shapes = [p.shape for p in params]
        self._dtype = params[0].dtype if params else np.dtype(np.float32)
        self.kernels: ModuleType | None = None  # the compiled updates (`use_kernels`)
        self._constants: dict[str, Any] = {}

    @property
    def current_lr(self) -> np.ndarray | None:
        """The LR each member used in the last step when the optimizer adapts it, else None."""
        return None

    def _zeros(self, fill: float = 0.0) -> list[np.ndarray]:
        """New state arrays shaped like the (current) parameters, filled with ``fill``."""
        return [np.full(shape, fill, dtype=self._dtype) for shape in self._shapes]

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """Update ``params`` in place.

        Parameters
        ----------
        params : list of ndarray
            The stacked parameters, updated in place.
        grads : list of ndarray
            Their gradients; used as scratch space (the caller must not reuse them).
        lr : ndarray of shape (K,)
            One learning rate per member for this step.
        momentum : ndarray of shape (K,), optional
            Per-member momentum (SGD, RMSprop) or beta1 (Adam, AdamW) for this step only,
            for cyclic-momentum schedules; ``None`` uses the configured constant.
        """
        self.t += 1
        dtype = params[0].dtype
        lr = np.asarray(lr, dtype=dtype)
        mu = None if momentum is None else np.asarray(momentum, dtype=dtype)
        with _quiet():
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if self.kernels is not None and _rows_ok(p, g):
                    K = p.shape[0]
                    if self._compiled(i, p.reshape(K, -1), g.reshape(K, -1), lr, mu):
                        continue
                self._update(i, p, g, per_member(lr, p.ndim), mu)

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        """Update parameter ``i`` in place; ``lr`` and ``mu`` are already shaped to broadcast."""
        raise NotImplementedError

    def _mu(self, mu: np.ndarray | None, ndim: int, default: float) -> np.ndarray | float:
        return default if mu is None else per_member(mu, ndim)

    def use_kernels(self, kernels: ModuleType | None) -> None:
        """Run the update with the compiled kernels (`lrsweep.kernels.load`), or with NumPy
        (None). The numbers are the same; optimizers without a compiled update ignore it."""
        self.kernels = kernels

    def _compiled(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> bool:
        """Update parameter ``i`` with the compiled kernels if this optimizer has them: ``p``
        and ``g`` as (K, P) rows, ``lr`` and ``mu`` as (K,) vectors. Returns whether it did."""
        return False

    def _state_rows(self, key: str, i: int, K: int) -> np.ndarray:
        """State array ``key`` of parameter ``i`` as (K, P) rows (a view)."""
        return self.state[key][i].reshape(K, -1)

    def _vector_of(self, value: float, K: int, dtype: np.dtype[Any]) -> np.ndarray:
        """A constant (K,) vector in ``dtype`` (kept: the hot loop asks every step)."""
        key = (value, K, dtype)
        if self._constants.get("key") != key:
            self._constants = {"key": key, "vector": np.full(K, value, dtype=dtype)}
        vector: np.ndarray = self._constants["vector"]
        return vector

    def eval_theta(self, theta: np.ndarray) -> np.ndarray:
        """The weights to evaluate (validation loss, metrics) when ``theta`` is being trained.

        Parameters
        ----------
        theta : ndarray of shape (K, P)
            The trained parameters (the one flat array `step` updates).

        Returns
        -------
        ndarray of shape (K, P)
            ``theta`` itself, except for methods that evaluate an average of the iterates
            (schedule-free: x; DoG: the polynomial-decay average).
        """
        return theta

    def effective_lr(self, lr: np.ndarray) -> np.ndarray:
        """The step size each member took in the last step, for the history.

        Parameters
        ----------
        lr : ndarray of shape (K,)
            The nominal LR the last step was given.

        Returns
        -------
        ndarray of shape (K,)
            ``lr`` for plain optimizers; the adapted step size (Prodigy's d lr, DoG's eta, ...)
            for methods that adapt it; NaN where no single step size is meaningful (cocob).
        """
        return np.asarray(lr, dtype=float)

    def select(self, keep: np.ndarray) -> None:
        """Keep only some members' state (after the caller drops diverged members).

        Parameters
        ----------
        keep : ndarray of int
            Indices into the member axis, in the order the caller keeps the parameters.
        """
        keep = np.asarray(keep)
        for key, arrays in self.state.items():
            self.state[key] = [a[keep] for a in arrays]
        for key, vector in self.vectors.items():
            self.vectors[key] = vector[keep]
        n_kept = int(keep.sum()) if keep.dtype == bool else len(keep)
        self._shapes = [(n_kept, *shape[1:]) for shape in self._shapes]


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum, as ``torch.optim.SGD`` documents it.

    With ``g`` the gradient, ``mu`` the momentum, ``tau`` the dampening and ``lambda`` the
    weight decay::

        g <- g + lambda p                               (L2, if lambda != 0)
        b <- g                      at the first step   (if mu != 0; no dampening)
        b <- mu b + (1 - tau) g     afterwards
        g <- g + mu b               (nesterov)  or  g <- b  (classical)
        p <- p - lr g

    Momentum as in Polyak (1964) and Sutskever et al. (2013), "On the importance of
    initialization and momentum in deep learning" (the Nesterov form).

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    momentum : float
        mu >= 0.
    dampening : float
        tau; must be 0 with nesterov.
    nesterov : bool
        Use Nesterov momentum; needs momentum > 0 and dampening = 0.
    weight_decay : float
        L2 penalty coefficient lambda >= 0, added to the gradient.
    """

    name = "sgd"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        _check("momentum", momentum, momentum >= 0, ">= 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise SpecError(
                "optimizer.nesterov: requires momentum > 0 and dampening = 0, got "
                f"momentum={float(momentum)!r}, dampening={float(dampening)!r}"
            )
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self._buffer_start = 0  # the step that created the momentum buffer

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        if self.weight_decay != 0:
            g += self.weight_decay * p
        if mu is not None or self.momentum != 0:
            if "momentum_buffer" not in self.state:
                self.state["momentum_buffer"] = self._zeros()
                self._buffer_start = self.t  # torch creates the buffer when first needed
            m = self._mu(mu, p.ndim, self.momentum)
            b = self.state["momentum_buffer"][i]
            if self.t == self._buffer_start:
                b[...] = g  # b_1 = g: no dampening on the first step
            else:
                b *= m
                b += g if self.dampening == 0 else (1 - self.dampening) * g
            if self.nesterov:
                g += m * b
            else:
                np.multiply(b, lr, out=g)  # lr b, into the scratch gradient
                p -= g
                return
        g *= lr
        p -= g

    def _compiled(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> bool:
        assert self.kernels is not None  # `step` asks only then
        dt = p.dtype.type
        if mu is None and self.momentum == 0:
            self.kernels.sgd(p, g, lr, dt(self.weight_decay))
            return True
        if "momentum_buffer" not in self.state:
            self.state["momentum_buffer"] = self._zeros()
            self._buffer_start = self.t  # as `_update`: created when first needed
        K = p.shape[0]
        self.kernels.sgd_momentum(
            p,
            g,
            self._state_rows("momentum_buffer", i, K),
            lr,
            self._vector_of(self.momentum, K, p.dtype) if mu is None else mu,
            dt(self.weight_decay),
            dt(1 - self.dampening),
            self.dampening != 0,
            self.t == self._buffer_start,
            self.nesterov,
        )
        return True


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad`` documents it.

    Duchi, Hazan & Singer (2011), "Adaptive subgradient methods for online learning and
    stochastic optimization". With ``lambda`` the weight decay and ``eta`` the LR decay::

        g <- g + lambda p                      (L2, if lambda != 0)
        clr = lr / (1 + (t - 1) eta)
        s <- s + g^2                           (s_0 = initial_accumulator_value)
        p <- p - clr g / (sqrt(s) + eps)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    lr_decay : float
        eta >= 0.
    weight_decay : float
        L2 penalty lambda >= 0, added to the gradient.
    initial_accumulator_value : float
        Starting value of the sum of squared gradients, >= 0.
    eps : float
        Added to the denominator, >= 0 (PyTorch's default 1e-10).

    Notes
    -----
    Adagrad has no momentum, so a ``momentum`` override passed to `step` is ignored.
    """

    name = "adagrad"
    cycles_momentum = False  # no momentum to cycle

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params)
        _check("lr_decay", lr_decay, lr_decay >= 0, ">= 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        _check(
            "initial_accumulator_value",
            initial_accumulator_value,
            initial_accumulator_value >= 0,
            ">= 0",
        )
        _check("eps", eps, eps >= 0, ">= 0")
        self.lr_decay = float(lr_decay)
        self.weight_decay = float(weight_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.eps = float(eps)
        self.state["sum"] = self._zeros(self.initial_accumulator_value)

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        if self.weight_decay != 0:
            g += self.weight_decay * p
        s = self.state["sum"][i]
        s += np.square(g)
        std = np.sqrt(s)
        std += self.eps
        g /= std
        g *= lr
        if self.lr_decay != 0:
            g *= 1 / (1 + (self.t - 1) * self.lr_decay)
        p -= g

    def _compiled(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> bool:
        assert self.kernels is not None  # `step` asks only then
        dt = p.dtype.type
        self.kernels.adagrad(
            p,
            g,
            self._state_rows("sum", i, p.shape[0]),
            lr,
            dt(self.weight_decay),
            dt(self.eps),
            dt(1 / (1 + (self.t - 1) * self.lr_decay)),
            self.lr_decay != 0,
        )
        return True


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop`` documents it.

    Tieleman & Hinton (2012), Coursera lecture 6.5; the centered form from Graves (2013),
    "Generating sequences with recurrent neural networks"::

        g <- g + lambda p                          (L2, if lambda != 0)
        v <- alpha v + (1 - alpha) g^2
        v~ = v                                     (plain)
        a <- alpha a + (1 - alpha) g;  v~ = v - a^2   (centered)
        b <- mu b + g / (sqrt(v~) + eps);  p <- p - lr b   (mu > 0; b_0 = 0)
        p <- p - lr g / (sqrt(v~) + eps)                    (mu = 0)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    alpha : float
        Smoothing constant, >= 0.
    eps : float
        Added to the denominator, >= 0.
    weight_decay : float
        L2 penalty lambda >= 0, added to the gradient.
    momentum : float
        mu >= 0.
    centered : bool
        Normalise by the estimated variance of the gradient instead of its second moment.
    """

    name = "rmsprop"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params)
        _check("alpha", alpha, alpha >= 0, ">= 0")
        _check("eps", eps, eps >= 0, ">= 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        _check("momentum", momentum, momentum >= 0, ">= 0")
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.momentum = float(momentum)
        self.centered = bool(centered)
        self.state["square_avg"] = self._zeros()
        if self.centered:
            self.state["grad_avg"] = self._zeros()
        if self.momentum > 0:
            self.state["momentum_buffer"] = self._zeros()

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        if self.weight_decay != 0:
            g += self.weight_decay * p
        v = self.state["square_avg"][i]
        v *= self.alpha
        g2 = np.square(g)
        g2 *= 1 - self.alpha
        v += g2
        if self.centered:
            a = self.state["grad_avg"][i]
            a *= self.alpha
            a += (1 - self.alpha) * g
            avg = np.square(a, out=g2)
            np.subtract(v, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(v, out=g2)
        avg += self.eps
        g /= avg
        if mu is not None or self.momentum > 0:
            if "momentum_buffer" not in self.state:
                self.state["momentum_buffer"] = self._zeros()
            b = self.state["momentum_buffer"][i]
            b *= self._mu(mu, p.ndim, self.momentum)
            b += g
            np.multiply(b, lr, out=g)
        else:
            g *= lr
        p -= g

    def _compiled(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> bool:
        assert self.kernels is not None  # `step` asks only then
        dt = p.dtype.type
        K = p.shape[0]
        momentum = mu is not None or self.momentum > 0
        if momentum and "momentum_buffer" not in self.state:
            self.state["momentum_buffer"] = self._zeros()
        v = self._state_rows("square_avg", i, K)
        self.kernels.rmsprop(
            p,
            g,
            v,
            self._state_rows("grad_avg", i, K) if self.centered else v,
            self._state_rows("momentum_buffer", i, K) if momentum else v,
            lr,
            self._vector_of(self.momentum, K, p.dtype) if mu is None else mu,
            dt(self.alpha),
            dt(1 - self.alpha),
            dt(self.eps),
            dt(self.weight_decay),
            self.centered,
            momentum,
        )
        return True


class Adam(Optimizer):
    r"""Adam with L2 weight decay, as ``torch.optim.Adam`` documents it.

    Kingma & Ba (2015), "Adam: A method for stochastic optimization"; AMSGrad from Reddi, Kale
    & Kumar (2018), "On the convergence of Adam and beyond"::

        g <- g + lambda p                          (L2, if lambda != 0)
        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        m^ = m / (1 - beta1^t)
        v^ = v / (1 - beta2^t)                     (plain)
        v_max <- max(v_max, v);  v^ = v_max / (1 - beta2^t)   (amsgrad)
        p <- p - lr m^ / (sqrt(v^) + eps)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    betas : sequence of two floats
        (beta1, beta2), each in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    weight_decay : float
        lambda >= 0: L2 added to the gradient here, decoupled in `AdamW`.
    amsgrad : bool
        Use the running maximum of v.

    Notes
    -----
    A per-step ``momentum`` passed to `step` replaces beta1, and the bias correction then uses
    ``1 - beta1_now^t``, as PyTorch does when a scheduler cycles beta1.
    """

    name = "adam"
    _decoupled: ClassVar[bool] = False

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params)
        betas = [float(b) for b in betas]
        _check(
            "betas",
            betas,
            len(betas) == 2 and all(0 <= b < 1 for b in betas),
            "two numbers in [0, 1)",
        )
        _check("eps", eps, eps >= 0, ">= 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.beta1, self.beta2 = betas
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)
        self.state["exp_avg"] = self._zeros()
        self.state["exp_avg_sq"] = self._zeros()
        if self.amsgrad:
            self.state["max_exp_avg_sq"] = self._zeros()

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        if self.weight_decay != 0:
            if self._decoupled:
                p *= 1 - lr * self.weight_decay
            else:
                g += self.weight_decay * p
        beta1 = self._mu(mu, p.ndim, self.beta1)
        m = self.state["exp_avg"][i]
        v = self.state["exp_avg_sq"][i]
        m *= beta1
        m += (1 - beta1) * g
        v *= self.beta2
        np.square(g, out=g)  # g is scratch from here on
        g *= 1 - self.beta2
        v += g
        if self.amsgrad:
            v = np.maximum(self.state["max_exp_avg_sq"][i], v, out=self.state["max_exp_avg_sq"][i])
        denom = np.sqrt(v, out=g)
        denom *= 1 / math.sqrt(1 - self.beta2**self.t)
        denom += self.eps
        np.divide(m, denom, out=g)
        g *= lr / (1 - beta1**self.t)
        p -= g

    def _compiled(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> bool:
        assert self.kernels is not None  # `step` asks only then
        dt = p.dtype.type
        K = p.shape[0]
        # the per-member coefficients, computed as `_update` computes them on (K, 1) vectors
        if mu is None:
            beta1 = self._vector_of(self.beta1, K, p.dtype)
            one_minus_beta1 = np.full(K, 1 - self.beta1, dtype=p.dtype)
            step = lr / (1 - self.beta1**self.t)
        else:
            beta1, one_minus_beta1 = mu, 1 - mu
            step = lr / (1 - mu**self.t)
        shrink = 1 - lr * self.weight_decay if self._decoupled else lr
        m = self._state_rows("exp_avg", i, K)
        v = self._state_rows("exp_avg_sq", i, K)
        self.kernels.adam(
            p,
            g,
            m,
            v,
            self._state_rows("max_exp_avg_sq", i, K) if self.amsgrad else v,
            beta1,
            one_minus_beta1,
            step,
            shrink,
            dt(self.beta2),
            dt(1 - self.beta2),
            dt(1 / math.sqrt(1 - self.beta2**self.t)),
            dt(self.eps),
            dt(self.weight_decay),
            self._decoupled,
            self.amsgrad,
        )
        return True


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW`` documents it.

    Loshchilov & Hutter (2019), "Decoupled weight decay regularization". Identical to `Adam`
    except that the decay shrinks the weights instead of entering the gradient::

        p <- p (1 - lr lambda)                     (first)
        m, v, m^, v^ as in Adam (amsgrad likewise), with no L2 term in g
        p <- p - lr m^ / (sqrt(v^) + eps)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    betas, eps, amsgrad
        As in `Adam`.
    weight_decay : float
        lambda >= 0 (PyTorch's default 1e-2).
    """

    name = "adamw"
    _decoupled = True

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


# --------------------------------------------------------------------------------------------
# Hypergradient descent: the LR itself is learned online, per member.


def _member_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-member dot product of two stacked arrays, accumulated in float64 -> (K,)."""
    K = a.shape[0]
    return np.asarray(np.sum(a.reshape(K, -1) * b.reshape(K, -1), axis=1, dtype=np.float64))


class _Hypergradient(Optimizer):
    r"""Base of the hypergradient-descent optimizers (Baydin et al., ICLR 2018).

    Baydin, Cornish, Martinez Rubio, Schmidt & Wood (2018), "Online learning rate adaptation
    with hypergradient descent". Each member's LR ``alpha`` is a state, updated before every
    parameter update by gradient descent on the loss w.r.t. the LR::

        h_t = g_t . grad_alpha u_{t-1}       (dot product over all of the member's parameters)
        alpha_t = alpha_{t-1} - beta h_t      (grad_alpha u_0 = 0, so alpha_1 = alpha_0)

    where ``u_t`` is the update ``theta_t - theta_{t-1}``. Writing ``u_t = -alpha_t d_t``, the
    state kept is the direction ``d`` (``grad_alpha u_t = -d_t``), so
    ``alpha_t = alpha_{t-1} + beta g_t . d_{t-1}``.

    The LR passed to the first `step` is ``alpha_0``; later ``lr`` arguments are ignored (the
    optimizer owns its LR, so an LR schedule only sets the starting value). `current_lr` is
    the LR used by the last step, for the history. With ``weight_decay`` the L2 term is part
    of the objective, so it is added to ``g`` before the hypergradient.

    Attributes
    ----------
    hyper_lr : float
        beta, the hypergradient learning rate.
    lr_state : ndarray of shape (K,) or None
        Each member's current LR (float64); None before the first step.
    """

    default_hyper_lr: ClassVar[float] = 1e-3
    adapts_lr = True

    def __init__(
        self, params: list[np.ndarray], *, hyper_lr: float | None = None, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params)
        hyper_lr = self.default_hyper_lr if hyper_lr is None else hyper_lr
        _check("hyper_lr", hyper_lr, hyper_lr > 0 and math.isfinite(hyper_lr), "> 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.hyper_lr = float(hyper_lr)
        self.weight_decay = float(weight_decay)
        self.lr_state: np.ndarray | None = None
        self.state["direction"] = self._zeros()  # d_{t-1}; zero before the first step

    @property
    def current_lr(self) -> np.ndarray | None:
        """The LR each member used in the last step (K,), or None before any step."""
        return None if self.lr_state is None else self.lr_state.copy()

    def effective_lr(self, lr: np.ndarray) -> np.ndarray:
        """The learned LR of the last step (``lr`` before any step)."""
        return np.asarray(lr, dtype=float) if self.lr_state is None else self.lr_state.copy()

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """Update the LR by its hypergradient, then ``params`` in place.

        Parameters
        ----------
        params, grads, momentum
            As in `Optimizer.step`.
        lr : ndarray of shape (K,)
            Used only at the first step, as the starting LR ``alpha_0``.
        """
        self.t += 1
        dtype = params[0].dtype
        mu = None if momentum is None else np.asarray(momentum, dtype=dtype)
        with _quiet():
            if self.weight_decay != 0:
                for p, g in zip(params, grads, strict=True):
                    g += self.weight_decay * p
            if self.lr_state is None:
                self.lr_state = np.array(lr, dtype=np.float64).reshape(-1)
            h = -sum(
                (_member_dot(g, d) for g, d in zip(grads, self.state["direction"], strict=True)),
                start=np.zeros(len(self.lr_state)),
            )  # h_t = g_t . grad_alpha u_{t-1} = -g_t . d_{t-1}
            self.lr_state = self.lr_state - self.hyper_lr * h
            alpha = self.lr_state.astype(dtype)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                self._update(i, p, g, per_member(alpha, p.ndim), mu)

    def select(self, keep: np.ndarray) -> None:
        super().select(keep)
        if self.lr_state is not None:
            self.lr_state = self.lr_state[np.asarray(keep)]


class SGDHD(_Hypergradient):
    r"""SGD-HD: plain SGD whose LR follows its hypergradient (Baydin et al. 2018, Alg. "SGD-HD").

    ::

        g_t = grad f(theta_{t-1})  (+ lambda theta_{t-1}, with weight decay)
        alpha_t = alpha_{t-1} + beta g_t . g_{t-1}        (g_0 = 0)
        theta_t = theta_{t-1} - alpha_t g_t

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    hyper_lr : float, optional
        beta > 0; None: the paper's 1e-3.
    weight_decay : float
        L2 penalty lambda >= 0, added to the gradient.

    Notes
    -----
    Plain SGD has no momentum, so a ``momentum`` override passed to `step` is ignored.
    """

    name = "sgd_hd"
    cycles_momentum = False  # plain SGD-HD has no momentum

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        self.state["direction"][i][...] = g  # d_t = g_t
        g *= lr
        p -= g


class SGDNHD(_Hypergradient):
    r"""SGDN-HD: SGD with Nesterov momentum and a hypergradient LR (Baydin et al. 2018).

    The paper's SGDN-HD algorithm (its Nesterov form is PyTorch's, ``b_0 = 0``)::

        g_t = grad f(theta_{t-1})  (+ lambda theta_{t-1}, with weight decay)
        alpha_t = alpha_{t-1} + beta g_t . (g_{t-1} + mu v_{t-1})     (zero at t = 1)
        v_t = mu v_{t-1} + g_t
        theta_t = theta_{t-1} - alpha_t (g_t + mu v_t)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    momentum : float
        mu > 0 (the paper's 0.9).
    hyper_lr : float, optional
        beta > 0; None: the paper's 1e-3.
    weight_decay : float
        L2 penalty lambda >= 0, added to the gradient.
    """

    name = "sgdn_hd"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        momentum: float = 0.9,
        hyper_lr: float | None = None,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, hyper_lr=hyper_lr, weight_decay=weight_decay)
        _check("momentum", momentum, 0 < momentum < 1, "in (0, 1) for sgdn_hd (Nesterov)")
        self.momentum = float(momentum)
        self.state["momentum_buffer"] = self._zeros()

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        m = self._mu(mu, p.ndim, self.momentum)
        v = self.state["momentum_buffer"][i]
        v *= m
        v += g  # v_t = mu v_{t-1} + g_t
        d = self.state["direction"][i]
        np.multiply(v, m, out=d)
        d += g  # d_t = g_t + mu v_t
        np.multiply(d, lr, out=g)
        p -= g


class AdamHD(_Hypergradient):
    r"""Adam-HD: Adam with a hypergradient LR (Baydin et al. 2018, Alg. "Adam-HD").

    ::

        g_t = grad f(theta_{t-1})  (+ lambda theta_{t-1}, with weight decay)
        alpha_t = alpha_{t-1} + beta g_t . d_{t-1}                     (d_0 = 0)
        m_t = beta1 m_{t-1} + (1 - beta1) g_t;  v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
        m^_t = m_t / (1 - beta1^t);  v^_t = v_t / (1 - beta2^t)
        d_t = m^_t / (sqrt(v^_t) + eps)
        theta_t = theta_{t-1} - alpha_t d_t

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    betas : sequence of two floats
        (beta1, beta2), each in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    hyper_lr : float, optional
        beta > 0; None: the paper's 1e-7.
    weight_decay : float
        L2 penalty lambda >= 0, added to the gradient.

    Notes
    -----
    A per-step ``momentum`` passed to `step` replaces beta1, as in `Adam`.
    """

    name = "adam_hd"
    default_hyper_lr = 1e-7

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        hyper_lr: float | None = None,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, hyper_lr=hyper_lr, weight_decay=weight_decay)
        betas = [float(b) for b in betas]
        _check(
            "betas",
            betas,
            len(betas) == 2 and all(0 <= b < 1 for b in betas),
            "two numbers in [0, 1)",
        )
        _check("eps", eps, eps >= 0, ">= 0")
        self.beta1, self.beta2 = betas
        self.eps = float(eps)
        self.state["exp_avg"] = self._zeros()
        self.state["exp_avg_sq"] = self._zeros()

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        beta1 = self._mu(mu, p.ndim, self.beta1)
        m = self.state["exp_avg"][i]
        v = self.state["exp_avg_sq"][i]
        m *= beta1
        m += (1 - beta1) * g
        v *= self.beta2
        np.square(g, out=g)  # g is scratch from here on
        g *= 1 - self.beta2
        v += g
        denom = np.sqrt(v, out=g)
        denom *= 1 / math.sqrt(1 - self.beta2**self.t)
        denom += self.eps  # sqrt(v^_t) + eps
        d = self.state["direction"][i]
        np.divide(m, denom, out=d)
        d *= 1 / (1 - beta1**self.t)  # d_t = m^_t / (sqrt(v^_t) + eps)
        np.multiply(d, lr, out=g)
        p -= g


# --------------------------------------------------------------------------------------------
# Learning-rate-free methods: each member adapts its own step size from its own gradients.
#
# The references take their global sums (dot products, norms) over all of a model's
# parameters; here a member is one row of each stacked array, so every such sum is a
# per-member sum over the non-member axes, and every scalar the references keep (d, running
# numerators, step counts) is a (K,) float64 vector in ``Optimizer.vectors``.


def _msum(a: np.ndarray) -> np.ndarray:
    """Per-member sum over every axis but the first -> (K,) float64.

    Summed in the array's dtype (pairwise, as torch's ``sum`` is), which is twice as fast as
    converting a float32 array to float64 first.
    """
    return np.asarray(a.reshape(a.shape[0], -1).sum(axis=1), dtype=np.float64)


def _mdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-member dot product of two stacked arrays -> (K,) float64.

    A batched (1, P) x (P, 1) matmul: BLAS dot products, twice as fast as ``einsum`` here.
    """
    K = a.shape[0]
    rows = np.matmul(a.reshape(K, 1, -1), b.reshape(K, -1, 1))  # (K, 1, 1)
    return np.asarray(rows.reshape(K), dtype=np.float64)


def _col(v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """A (K,) vector cast to ``p``'s dtype, shaped to broadcast against ``p``."""
    return per_member(np.asarray(v, dtype=p.dtype), p.ndim)


def _betas(betas: Sequence[float]) -> tuple[float, float]:
    values = [float(b) for b in betas]
    _check(
        "betas",
        values,
        len(values) == 2 and all(0 <= b < 1 for b in values),
        "two numbers in [0, 1)",
    )
    return values[0], values[1]


def _norm_sq(arrays: list[np.ndarray], K: int) -> np.ndarray:
    """Per-member squared norm over all the arrays (a member's whole gradient) -> (K,)."""
    return sum((_mdot(a, a) for a in arrays), start=np.zeros(K))


class _LrFree(Optimizer):
    """Shared plumbing: lazily created state, a scratch buffer, the last step size."""

    cycles_momentum = False  # their momentum is part of the method, not a schedule's to cycle
    scales_lr = True

    def __init__(self, params: list[np.ndarray]) -> None:
        super().__init__(params)
        self._step_size: np.ndarray | None = None  # the step size of the last step, (K,)

    def _start(self, params: list[np.ndarray], lr: np.ndarray) -> tuple[int, np.ndarray]:
        """Count the step; the number of members K and their LRs as a (K,) float64 vector."""
        self.t += 1
        return params[0].shape[0], np.asarray(lr, dtype=np.float64).reshape(-1)

    def _vector(self, key: str, fill: float, K: int) -> np.ndarray:
        if key not in self.vectors:
            self.vectors[key] = np.full(K, fill, dtype=np.float64)
        return self.vectors[key]

    def _copies(self, key: str, params: list[np.ndarray]) -> list[np.ndarray]:
        if key not in self.state:
            self.state[key] = [p.copy() for p in params]
        return self.state[key]

    def _zeros_for(self, key: str, params: list[np.ndarray]) -> list[np.ndarray]:
        if key not in self.state:
            self.state[key] = [np.zeros_like(p) for p in params]
        return self.state[key]

    def effective_lr(self, lr: np.ndarray) -> np.ndarray:
        """The step size of the last step; before any, NaN if it adapts it, else ``lr``."""
        if self._step_size is None:
            lr = np.asarray(lr, dtype=float)
            return np.full(lr.shape, np.nan) if self.scales_lr else lr
        return self._step_size.copy()

    def select(self, keep: np.ndarray) -> None:
        super().select(keep)
        if self._step_size is not None:
            self._step_size = self._step_size[np.asarray(keep)]


class _DAdaptation(_LrFree):
    """D-Adaptation's bookkeeping (Defazio & Mishchenko 2023), shared with Prodigy.

    Each member keeps an estimate d of its distance to a solution, which starts at d0 and only
    grows (by at most ``growth_rate`` per step), a weighted numerator r behind the estimate,
    and its step count k. A member whose estimate has no denominator yet (no gradient) keeps
    all three, as the references return early. Subclasses set their own options first (so
    their checks come first, in the order of their signatures), then call this ``__init__``.
    """

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        weight_decay: float,
        d0: float,
        growth_rate: float | None,
        d_coef: float = 1.0,
    ) -> None:
        super().__init__(params)
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        _check("d0", d0, d0 > 0, "> 0")
        _check("d_coef", d_coef, d_coef > 0, "> 0")
        growth = math.inf if growth_rate is None else float(growth_rate)
        _check("growth_rate", growth_rate, growth >= 1, ">= 1")
        self.weight_decay = float(weight_decay)
        self.d0 = float(d0)
        self.d_coef = float(d_coef)  # multiplies d^ (Prodigy's option; 1 in D-Adaptation)
        self.growth_rate = growth

    def _estimates(self, K: int, numerator: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The members' (d, r, k), with r stored under the reference's name ``numerator``."""
        return (
            self._vector("d", self.d0, K),
            self._vector(numerator, 0.0, K),
            self._vector("k", 0.0, K),
        )

    def _grown(self, d: np.ndarray, d_hat: np.ndarray) -> np.ndarray:
        """``max(d, min(d^, d growth_rate))``: d never shrinks and grows boundedly."""
        return np.fmax(d, np.fmin(d_hat, d * self.growth_rate))

    def _commit(self, moved: np.ndarray, **values: np.ndarray) -> None:
        """Store the named vectors' new values, and count a step, for the members that moved."""
        for key, value in values.items():
            vector = self.vectors[key]
            vector[...] = np.where(moved, value, vector)
        self.vectors["k"] += moved


class _AdamDAdaptation(_DAdaptation):
    """Adam with a D-Adaptation step size: what Prodigy and D-Adaptation Adam share.

    Subclasses set ``beta1``, ``beta2``, ``eps``, ``decouple`` and ``use_bias_correction``.
    """

    beta1: float
    beta2: float
    eps: float
    decouple: bool
    use_bias_correction: bool

    def _dlr(self, d: np.ndarray, lr64: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``d lr bc``, bc = sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1)) or 1 (no correction)."""
        if self.use_bias_correction:
            b1, b2 = self.beta1, self.beta2
            bc = np.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1))
        else:
            bc = np.ones(len(k))
        return d * lr64 * bc

    def _coupled_decay(self, p: np.ndarray, g: np.ndarray) -> None:
        """``g <- g + lambda p`` when the weight decay is L2 (not decoupled)."""
        if self.weight_decay != 0 and not self.decouple:
            g += self.weight_decay * p

    def _decoupled_decay(self, p: np.ndarray, step: np.ndarray) -> None:
        """``p <- p - lambda step p`` when the weight decay is decoupled (AdamW's)."""
        if self.weight_decay != 0 and self.decouple:
            p -= _col(self.weight_decay * step, p) * p

    def _moments(
        self,
        g: np.ndarray,
        m: np.ndarray | None,
        v: np.ndarray,
        s: np.ndarray,
        weights: tuple[np.ndarray, np.ndarray | float, float, np.ndarray],
        scratch: np.ndarray,
    ) -> np.ndarray:
        """Take ``g`` into m, v and s; return ``|s|_1`` per member, (K,).

        ``weights`` are (m's, v's, s's decay, s's) with each weight shaped to broadcast::

            m <- beta1 m + w_m g;  v <- beta2 v + w_v g^2;  s <- beta_s s + w_s g
        """
        w_m, w_v, beta_s, w_s = weights
        if m is not None:
            m *= self.beta1
            m += np.multiply(g, w_m, out=scratch)
        v *= self.beta2
        v += np.multiply(np.square(g, out=scratch), w_v, out=scratch)
        s *= beta_s
        s += np.multiply(g, w_s, out=scratch)
        return _msum(np.abs(s, out=scratch))


class Prodigy(_AdamDAdaptation):
    r"""Prodigy: Adam with a D-Adaptation step size (Mishchenko & Defazio, ICML 2024).

    "Prodigy: An expeditiously adaptive parameter-free learner", as ``prodigyopt.Prodigy``
    (konstmish/prodigy) computes it, per member, with ``<.,.>`` and ``|.|_1`` over all of the
    member's parameters, ``k`` the member's step count from 0 and ``d_0`` the initial d::

        g <- g + lambda p                                  (coupled weight decay only)
        bc = sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1))     (use_bias_correction; else 1)
        dlr = d lr bc
        r <- beta3 r + (d / d_0) dlr <g, p_0 - p>
        m <- beta1 m + d (1 - beta1) g;   v <- beta2 v + d^2 (1 - beta2) g^2
        s <- beta3 s + (d / d_0) dlr g                     (safeguard_warmup: (d / d_0) d g)
        d^ = d_coef r / |s|_1
        d <- max(d, d^) if d == d_0;   d_max <- max(d_max, d^);   d <- min(d_max, d growth_rate)
        p <- p - lambda dlr p                              (decoupled weight decay)
        p <- p - dlr m / (sqrt(v) + d eps)

    A member whose ``|s|_1`` is 0 (no gradient yet) skips the last three lines and keeps its
    d, r and k, as the reference returns early. ``beta3`` None is sqrt(beta2).

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    betas : sequence of two floats
        (beta1, beta2), each in [0, 1); beta1 = 0 uses the gradient instead of m.
    beta3 : float, optional
        Decay of r and s, in [0, 1); None: sqrt(beta2).
    eps : float
        > 0, scaled by d in the denominator.
    weight_decay : float
        lambda >= 0.
    decouple : bool, optional
        AdamW-style decay (the reference's default, None means True) or L2 in the gradient.
    use_bias_correction, safeguard_warmup : bool
        As in the reference (both off by default).
    d0 : float
        Initial D estimate, > 0.
    d_coef : float
        Multiplies the estimate d^, > 0.
    growth_rate : float, optional
        Bound on d's growth per step, > 1; None: unbounded.
    """

    name = "prodigy"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        betas: Sequence[float] = (0.9, 0.999),
        beta3: float | None = None,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decouple: bool | None = None,
        use_bias_correction: bool = False,
        safeguard_warmup: bool = False,
        d0: float = 1e-6,
        d_coef: float = 1.0,
        growth_rate: float | None = None,
    ) -> None:
        self.beta1, self.beta2 = _betas(betas)
        beta3 = math.sqrt(self.beta2) if beta3 is None else float(beta3)
        _check("beta3", beta3, 0 <= beta3 < 1, "in [0, 1)")
        _check("eps", eps, eps > 0, "> 0")
        self.beta3 = beta3
        self.eps = float(eps)
        self.decouple = True if decouple is None else bool(decouple)
        self.use_bias_correction = bool(use_bias_correction)
        self.safeguard_warmup = bool(safeguard_warmup)
        super().__init__(
            params, weight_decay=weight_decay, d0=d0, growth_rate=growth_rate, d_coef=d_coef
        )

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One Prodigy step per member (``momentum`` is ignored: beta1 is the method's)."""
        K, lr64 = self._start(params, lr)
        d, numerator, k = self._estimates(K, "d_numerator")
        d_max = self._vector("d_max", self.d0, K)
        p0s = self._copies("p0", params)
        ss = self._zeros_for("s", params)
        vs = self._zeros_for("exp_avg_sq", params)
        ms = self._zeros_for("exp_avg", params) if self.beta1 > 0 else None
        with _quiet():
            dlr = self._dlr(d, lr64, k)
            delta = np.zeros(K)
            d_denom = np.zeros(K)
            m_coef = d * (1 - self.beta1)
            v_coef = d * d * (1 - self.beta2)
            s_coef = (d / self.d0) * (d if self.safeguard_warmup else dlr)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                self._coupled_decay(p, g)
                diff = np.subtract(p0s[i], p)  # p_0 - p
                delta += (d / self.d0) * dlr * _mdot(g, diff)
                weights = (_col(m_coef, p), _col(v_coef, p), self.beta3, _col(s_coef, p))
                m = None if ms is None else ms[i]
                d_denom += self._moments(g, m, vs[i], ss[i], weights, scratch=diff)
            moved = d_denom != 0  # the reference returns before updating when |s|_1 = 0
            num = numerator * self.beta3 + delta
            d_hat = self.d_coef * num / d_denom
            d_new = np.where(d == self.d0, np.fmax(d, d_hat), d)
            d_max_new = np.fmax(d_max, d_hat)
            d_new = np.fmin(d_max_new, d_new * self.growth_rate)
            self._commit(moved, d=d_new, d_max=d_max_new, d_numerator=num)
            step = np.where(moved, dlr, 0.0)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                denom = np.sqrt(vs[i])
                denom += _col(d * self.eps, p)
                self._decoupled_decay(p, step)
                if ms is not None:
                    np.divide(ms[i], denom, out=denom)
                    denom *= _col(step, p)
                else:
                    np.divide(g, denom, out=denom)
                    denom *= _col(step * d, p)
                p -= denom
        self._step_size = dlr


class DAdaptSGD(_DAdaptation):
    r"""D-Adaptation SGD (Defazio & Mishchenko, ICML 2023), as ``dadaptation.DAdaptSGD`` (v3).

    "Learning-rate-free learning by D-Adaptation". Per member, ``k`` its step count from 0::

        |g_0| = sqrt(<g, g>)                        (at k = 0, before weight decay)
        dlr = d lr / |g_0|
        g <- g + lambda p                          (weight decay, L2)
        r <- r + dlr <g, s>;   s <- s + dlr g
        d^ = 2 r / sqrt(<s, s>);   d <- max(d, min(d^, d growth_rate))
        p <- (1 - c) p + c (x_0 - s),   c = 1 - momentum

    A member with ``s = 0`` skips the update and keeps its r and k, as the reference does.

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    momentum : float
        In [0, 1); 0 (the reference's default) is plain dual averaging.
    weight_decay : float
        L2 lambda >= 0.
    d0 : float
        Initial D estimate, > 0.
    growth_rate : float, optional
        Bound on d's growth per step, >= 1; None: unbounded.
    """

    name = "dadapt_sgd"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        d0: float = 1e-6,
        growth_rate: float | None = None,
    ) -> None:
        _check("momentum", momentum, 0 <= momentum < 1, "in [0, 1)")
        self.momentum = float(momentum)
        super().__init__(params, weight_decay=weight_decay, d0=d0, growth_rate=growth_rate)

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One D-Adaptation SGD step per member (``momentum`` is ignored)."""
        K, lr64 = self._start(params, lr)
        d, numerator, k = self._estimates(K, "numerator_weighted")
        g0_norm = self._vector("g0_norm", 0.0, K)
        x0s = self._copies("x0", params)
        ss = self._zeros_for("s", params)
        with _quiet():
            first = k == 0
            if first.any():
                g0_norm[...] = np.where(first, np.sqrt(_norm_sq(grads, K)), g0_norm)
            dlr = d * lr64 / g0_norm
            delta = np.zeros(K)
            sk_sq = np.zeros(K)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if self.weight_decay != 0:
                    g += self.weight_decay * p
                s = ss[i]
                delta += dlr * _mdot(g, s)
                g *= _col(dlr, p)
                s += g
                sk_sq += _mdot(s, s)
            num = numerator + delta
            d_hat = 2 * num / np.sqrt(sk_sq)
            moved = sk_sq != 0
            self._commit(moved, d=self._grown(d, d_hat), numerator_weighted=num)
            c = np.where(moved, 1 - self.momentum, 0.0)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                z = np.subtract(x0s[i], ss[i], out=g)  # z = x_0 - s
                p *= _col(1 - c, p)
                z *= _col(c, p)
                p += z
        self._step_size = dlr


class DAdaptAdam(_AdamDAdaptation):
    r"""D-Adaptation Adam (Defazio & Mishchenko, ICML 2023), as ``dadaptation.DAdaptAdam`` (v3).

    Per member, ``k`` its step count from 0, ``<.,.>`` and ``|.|_1`` over its parameters::

        g <- g + lambda p                                  (coupled weight decay only)
        bc = sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1))     (use_bias_correction; else 1)
        dlr = d lr bc
        a = dlr <g, s / (sqrt(v) + eps)>                   (v, s before this step)
        m <- beta1 m + dlr (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
        s <- sqrt(beta2) s + dlr (1 - sqrt(beta2)) g
        r <- sqrt(beta2) r + (1 - sqrt(beta2)) a
        d^ = r / ((1 - sqrt(beta2)) |s|_1);   d <- max(d, min(d^, d growth_rate))
        p <- p - lambda dlr p                              (decoupled weight decay)
        p <- p - m / (sqrt(v) + eps)

    A member whose ``|s|_1`` is 0 skips the update and keeps its d, r and k.

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    betas : sequence of two floats
        (beta1, beta2), each in [0, 1).
    eps : float
        > 0.
    weight_decay : float
        lambda >= 0.
    decouple : bool, optional
        AdamW-style decay; None: the reference's default, False (L2 in the gradient).
    use_bias_correction : bool
        As in the reference (off by default).
    d0 : float
        Initial D estimate, > 0.
    growth_rate : float, optional
        Bound on d's growth per step, >= 1; None: unbounded.
    """

    name = "dadapt_adam"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decouple: bool | None = None,
        use_bias_correction: bool = False,
        d0: float = 1e-6,
        growth_rate: float | None = None,
    ) -> None:
        self.beta1, self.beta2 = _betas(betas)
        _check("eps", eps, eps > 0, "> 0")
        self.eps = float(eps)
        self.decouple = bool(decouple)
        self.use_bias_correction = bool(use_bias_correction)
        super().__init__(params, weight_decay=weight_decay, d0=d0, growth_rate=growth_rate)

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One D-Adaptation Adam step per member (``momentum`` is ignored)."""
        K, lr64 = self._start(params, lr)
        d, numerator, k = self._estimates(K, "numerator_weighted")
        ss = self._zeros_for("s", params)
        ms = self._zeros_for("exp_avg", params)
        vs = self._zeros_for("exp_avg_sq", params)
        if "denom" not in self.state:  # sqrt(v) + eps of the last update, reused for the sums
            self.state["denom"] = [np.full_like(p, self.eps) for p in params]
        denoms = self.state["denom"]
        sb2 = self.beta2**0.5
        with _quiet():
            dlr = self._dlr(d, lr64, k)
            acc = np.zeros(K)
            sk_l1 = np.zeros(K)
            m_coef = dlr * (1 - self.beta1)
            s_coef = dlr * (1 - sb2)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                self._coupled_decay(p, g)
                tmp = np.divide(ss[i], denoms[i])  # s / (sqrt(v) + eps), v before this step
                acc += dlr * _mdot(g, tmp)
                weights = (_col(m_coef, p), 1 - self.beta2, sb2, _col(s_coef, p))
                sk_l1 += self._moments(g, ms[i], vs[i], ss[i], weights, scratch=tmp)
            moved = sk_l1 != 0
            num = sb2 * numerator + (1 - sb2) * acc
            d_hat = num / ((1 - sb2) * sk_l1)
            self._commit(moved, d=self._grown(d, d_hat), numerator_weighted=num)
            step = np.where(moved, dlr, 0.0)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                denom = np.sqrt(vs[i], out=denoms[i])
                denom += self.eps
                self._decoupled_decay(p, step)
                update = np.divide(ms[i], denom, out=g)
                if not moved.all():
                    update *= _col(moved.astype(float), p)
                p -= update
        self._step_size = dlr


class _ScheduleFree(_LrFree):
    """Schedule-free averaging (Defazio et al., NeurIPS 2024): train at y, evaluate at x.

    The parameters hold y (the reference's train mode); z is the base sequence, and the
    evaluation point is ``x = y + (1 - 1/beta) (z - y)`` (the reference's ``eval()``). Per
    member, with ``k`` the step count from 0 and ``lr`` the nominal LR of this step::

        lr_k = lr min(1, (k + 1) / warmup_steps)
        lr_max <- max(lr_max, lr_k);  w = (k + 1)^r lr_max^weight_lr_power
        W <- W + w;  c = w / W
    """

    scales_lr = False  # the step size is the nominal LR; the averaging is what is new

    def __init__(
        self,
        params: list[np.ndarray],
        beta: float,
        warmup_steps: int,
        r: float,
        weight_lr_power: float,
        weight_decay: float,
    ) -> None:
        super().__init__(params)
        _check("warmup_steps", warmup_steps, warmup_steps >= 0, ">= 0")
        _check("r", r, r >= 0, ">= 0")
        _check("weight_lr_power", weight_lr_power, weight_lr_power >= 0, ">= 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.beta = float(beta)
        self.warmup_steps = int(warmup_steps)
        self.r = float(r)
        self.weight_lr_power = float(weight_lr_power)
        self.weight_decay = float(weight_decay)

    def _averaging(self, lr: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
        """This step's (lr_k, c), updating lr_max, W and k."""
        k = self._vector("k", 0.0, K)
        lr_max = self._vector("lr_max", -1.0, K)
        weight_sum = self._vector("weight_sum", 0.0, K)
        lr64 = np.asarray(lr, dtype=np.float64).reshape(-1)
        if self.warmup_steps > 0:
            lr64 = lr64 * np.minimum((k + 1) / self.warmup_steps, 1.0)
        lr_max[...] = np.fmax(lr_max, lr64)
        weight = (k + 1) ** self.r * lr_max**self.weight_lr_power
        weight_sum += weight
        c = np.where(weight_sum != 0, weight / weight_sum, 0.0)
        k += 1
        return lr64, c

    def _move(
        self, p: np.ndarray, z: np.ndarray, u: np.ndarray, lr: np.ndarray, c: np.ndarray
    ) -> None:
        """y <- y + c (z - y) + lr (beta (1 - c) - 1) u;  z <- z - lr u (u is scratch)."""
        diff = np.subtract(z, p)
        diff *= _col(c, p)
        p += diff
        np.multiply(u, _col(lr * (self.beta * (1 - c) - 1), p), out=diff)
        p += diff
        u *= _col(lr, p)
        z -= u

    def eval_theta(self, theta: np.ndarray) -> np.ndarray:
        """x = y + (1 - 1/beta) (z - y): the averaged point the reference's ``eval()`` sets."""
        if "z" not in self.state:
            return theta
        z = self.state["z"][0]
        x = np.subtract(z, theta)
        x *= 1 - 1 / self.beta
        x += theta
        return x


class SGDScheduleFree(_ScheduleFree):
    r"""Schedule-free SGD, as ``schedulefree.SGDScheduleFree`` computes it.

    Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), "The road less scheduled".
    With lr_k and c as in `_ScheduleFree` and beta the momentum::

        g <- g + lambda y                              (weight decay at y)
        y <- y + c (z - y) + lr_k (beta (1 - c) - 1) g
        z <- z - lr_k g                                 (z_0 = y_0)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters (y).
    momentum : float
        beta, in (0, 1) (the reference's 0.9).
    weight_decay : float
        lambda >= 0.
    warmup_steps, r, weight_lr_power
        As in the reference (0, 0, 2).
    """

    name = "sgd_schedulefree"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
    ) -> None:
        _check("momentum", momentum, 0 < momentum < 1, "in (0, 1) for sgd_schedulefree")
        super().__init__(params, momentum, warmup_steps, r, weight_lr_power, weight_decay)

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One schedule-free SGD step per member (``momentum`` is ignored)."""
        self.t += 1
        zs = self._copies("z", params)
        with _quiet():
            lr_k, c = self._averaging(lr, params[0].shape[0])
            for p, g, z in zip(params, grads, zs, strict=True):
                if self.weight_decay != 0:
                    g += self.weight_decay * p
                self._move(p, z, g, lr_k, c)
        self._step_size = lr_k


class AdamWScheduleFree(_ScheduleFree):
    r"""Schedule-free AdamW, as ``schedulefree.AdamWScheduleFree`` computes it.

    Defazio et al. (2024), "The road less scheduled". With lr_k and c as in `_ScheduleFree`::

        v <- beta2 v + (1 - beta2) g^2
        u = g / (sqrt(v / (1 - beta2^(k+1))) + eps) + lambda y
        y <- y + c (z - y) + lr_k (beta1 (1 - c) - 1) u
        z <- z - lr_k u                                 (z_0 = y_0)

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters (y).
    betas : sequence of two floats
        (beta1, beta2): beta1 in (0, 1) is the interpolation, beta2 in [0, 1).
    eps : float
        > 0.
    weight_decay : float
        lambda >= 0, applied at y.
    warmup_steps, r, weight_lr_power
        As in the reference (0, 0, 2).
    """

    name = "adamw_schedulefree"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
    ) -> None:
        beta1, self.beta2 = _betas(betas)
        _check("betas", list(betas), beta1 > 0, "with betas[0] > 0 for adamw_schedulefree")
        _check("eps", eps, eps > 0, "> 0")
        self.eps = float(eps)
        super().__init__(params, beta1, warmup_steps, r, weight_lr_power, weight_decay)

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One schedule-free AdamW step per member (``momentum`` is ignored)."""
        self.t += 1
        zs = self._copies("z", params)
        vs = self._zeros_for("exp_avg_sq", params)
        k = self._vector("k", 0.0, params[0].shape[0])
        with _quiet():
            bias_correction2 = 1 - self.beta2 ** (k + 1)
            lr_k, c = self._averaging(lr, params[0].shape[0])
            for p, g, z, v in zip(params, grads, zs, vs, strict=True):
                v *= self.beta2
                denom = np.square(g)
                denom *= 1 - self.beta2
                v += denom
                np.divide(v, _col(bias_correction2, p), out=denom)
                np.sqrt(denom, out=denom)
                denom += self.eps
                g /= denom
                if self.weight_decay != 0:
                    g += self.weight_decay * p
                self._move(p, z, g, lr_k, c)
        self._step_size = lr_k


class DoG(_LrFree):
    r"""DoG, Distance over Gradients (Ivgi, Hinder & Carmon, ICML 2023), as ``dog.DoG``.

    "DoG is SGD's best friend: a parameter-free dynamic step size schedule". Per member, with
    norms over all of its parameters::

        g <- g + lambda x                               (weight decay, L2)
        rbar = reps_rel (1 + |x_0|),  G = |g|^2 + eps   (first step)
        rbar <- max(rbar, |x - x_0|), G <- G + |g|^2    (afterwards)
        eta = lr rbar / sqrt(G)                         (init_eta replaces the first one)
        x <- x - eta g

    and the evaluation point is the polynomial-decay average of the iterates (Shamir & Zhang
    2013), as ``dog.PolynomialDecayAverager`` keeps it, updated after every step t = 1, 2, ...::

        xbar <- (1 - (1 + gamma) / (t + gamma)) xbar + (1 + gamma) / (t + gamma) x

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    reps_rel : float
        > 0, sets the first step's distance (the reference's 1e-6).
    eps : float
        Added to G, > 0.
    weight_decay : float
        L2 lambda >= 0.
    init_eta : float, optional
        The first step size, > 0; None: from reps_rel.
    average_gamma : float
        gamma >= 0 of the averager (the reference's 8).
    """

    name = "dog"

    def __init__(
        self,
        params: list[np.ndarray],
        *,
        reps_rel: float = 1e-6,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        init_eta: float | None = None,
        average_gamma: float = 8.0,
    ) -> None:
        super().__init__(params)
        _check("reps_rel", reps_rel, reps_rel > 0, "> 0")
        _check("eps", eps, eps > 0, "> 0")
        _check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        _check("init_eta", init_eta, init_eta is None or init_eta > 0, "> 0")
        _check("average_gamma", average_gamma, average_gamma >= 0, ">= 0")
        self.reps_rel = 0.0 if init_eta is not None else float(reps_rel)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.init_eta = None if init_eta is None else float(init_eta)
        self.average_gamma = float(average_gamma)

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One DoG step per member, then the averager's update (``momentum`` is ignored)."""
        K, lr64 = self._start(params, lr)
        first = "x0" not in self.state
        x0s = self._copies("x0", params)
        averages = self._copies("average", params)
        with _quiet():
            if self.weight_decay > 0:
                for p, g in zip(params, grads, strict=True):
                    g += self.weight_decay * p
            g_sq = _norm_sq(grads, K)
            if first:
                norm = np.sqrt(_norm_sq(params, K))
                self.vectors["rbar"] = self.reps_rel * (1 + norm)
                self.vectors["G"] = g_sq + self.eps
            else:
                dist_sq = np.zeros(K)
                for p, x0 in zip(params, x0s, strict=True):
                    diff = np.subtract(p, x0)
                    dist_sq += _mdot(diff, diff)
                self.vectors["rbar"] = np.fmax(self.vectors["rbar"], np.sqrt(dist_sq))
                self.vectors["G"] = self.vectors["G"] + g_sq
            eta = lr64 * self.vectors["rbar"] / np.sqrt(self.vectors["G"])
            if first and self.init_eta is not None:
                eta = np.full(K, self.init_eta)
            weight = (1 + self.average_gamma) / (self.t + self.average_gamma)
            for p, g, avg in zip(params, grads, averages, strict=True):
                g *= _col(eta, p)
                p -= g
                avg *= 1 - weight
                avg += weight * p
        self._step_size = eta

    def eval_theta(self, theta: np.ndarray) -> np.ndarray:
        """The polynomial-decay average of the iterates (``theta`` before any step)."""
        return self.state["average"][0] if "average" in self.state else theta


class COCOB(_LrFree):
    r"""COCOB-Backprop (Orabona & Tommasi, NeurIPS 2017), as the authors' ``COCOB`` computes it.

    "Training deep networks without learning rates through coin betting" (bremen79/cocob).
    Per coordinate, with ``w_1`` the initial weights and ``L_0 = eps``::

        L <- max(L, |g|);  G <- G + |g|;  theta <- theta + g
        reward <- max(reward - g (w - w_1), 0)
        w <- w_1 - theta / (L max(G + L, alpha L)) (reward + L)

    It takes no learning rate: the nominal LR is ignored, and its U-curve is flat.

    Parameters
    ----------
    params : list of ndarray
        The stacked parameters.
    cocob_alpha : float
        alpha > 0, which bounds the first steps (the reference's 100).
    eps : float
        L_0 > 0 (the reference's 1e-8).
    """

    name = "cocob"

    def effective_lr(self, lr: np.ndarray) -> np.ndarray:
        """NaN: COCOB's step is a per-coordinate bet, not an LR times a direction."""
        return np.full(np.shape(lr), np.nan)

    def __init__(
        self, params: list[np.ndarray], *, cocob_alpha: float = 100.0, eps: float = 1e-8
    ) -> None:
        super().__init__(params)
        _check("cocob_alpha", cocob_alpha, cocob_alpha > 0, "> 0")
        _check("eps", eps, eps > 0, "> 0")
        self.alpha = float(cocob_alpha)
        self.eps = float(eps)

    def step(
        self,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        lr: np.ndarray,
        *,
        momentum: np.ndarray | None = None,
    ) -> None:
        """One COCOB-Backprop step (``lr`` and ``momentum`` are ignored)."""
        self.t += 1
        if "L" not in self.state:
            self.state["L"] = [np.full_like(p, self.eps) for p in params]
        Ls = self.state["L"]
        grad_sums = self._zeros_for("gradients_sum", params)
        norm_sums = self._zeros_for("grad_norm_sum", params)
        rewards = self._zeros_for("reward", params)
        tilde_ws = self._zeros_for("tilde_w", params)  # w - w_1
        with _quiet():
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                L, theta, G = Ls[i], grad_sums[i], norm_sums[i]
                reward, tilde_w = rewards[i], tilde_ws[i]
                a = np.abs(g)
                np.maximum(L, a, out=L)
                theta += g
                G += a
                g *= tilde_w
                reward -= g
                np.maximum(reward, 0, out=reward)
                np.add(G, L, out=a)
                np.maximum(a, self.alpha * L, out=a)
                a *= L  # L max(G + L, alpha L)
                np.add(reward, L, out=g)
                g /= a
                g *= theta  # theta (reward + L) / (L max(...)) = w_1 - w_new
                p -= tilde_w  # back to w_1
                np.negative(g, out=tilde_w)
                p += tilde_w


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "sgd_hd": SGDHD,
    "sgdn_hd": SGDNHD,
    "adam_hd": AdamHD,
    "prodigy": Prodigy,
    "dadapt_sgd": DAdaptSGD,
    "dadapt_adam": DAdaptAdam,
    "sgd_schedulefree": SGDScheduleFree,
    "adamw_schedulefree": AdamWScheduleFree,
    "dog": DoG,
    "cocob": COCOB,
}


def make_optimizer(spec: Mapping[str, Any] | Any, params: list[np.ndarray]) -> Optimizer:
    """Build the optimizer an ``optimizer:`` spec section names.

    Parameters
    ----------
    spec : mapping or pydantic model
        The flat section, e.g. ``{"name": "sgd", "momentum": 0.9, "betas": [0.9, 0.999]}``;
        an object with ``model_dump()`` is dumped first. Keys the chosen optimizer does not take
        are ignored (the section is shared across ``vary: {optimizer.name: [...]}``), and a key
        that is missing or ``None`` gets PyTorch's default for that optimizer (so ``eps`` is
        1e-10 for Adagrad and 1e-8 otherwise, and AdamW's ``weight_decay`` is 1e-2).
    params : list of ndarray
        The stacked parameters the optimizer will update.

    Returns
    -------
    Optimizer
        A fresh optimizer with zeroed state.

    Raises
    ------
    SpecError
        For an unknown name or an invalid hyper-parameter.
    """
    if hasattr(spec, "model_dump"):
        spec = spec.model_dump()
    name = spec.get("name", "sgd")
    cls = OPTIMIZERS.get(name)
    if cls is None:
        hint = did_you_mean(name, OPTIMIZERS)
        raise SpecError(f"optimizer.name: unknown {shorten(repr(name))}; {hint}")
    accepted = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    kwargs = {key: spec[key] for key in accepted if spec.get(key) is not None}
    return cls(params, **kwargs)
