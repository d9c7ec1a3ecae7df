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
from typing import Any, ClassVar

import numpy as np

from lrsweep.errors import SpecError, did_you_mean, shorten

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "SGDHD",
    "SGDNHD",
    "Adagrad",
    "Adam",
    "AdamHD",
    "AdamW",
    "Optimizer",
    "RMSprop",
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

    name: ClassVar[str] = ""
    # Capabilities, read by the trainer and the range test instead of lists of names:
    cycles_momentum: ClassVar[bool] = True  # a cyclic schedule's momentum applies (`step`)
    adapts_lr: ClassVar[bool] = False  # owns its LR after the first step (the range test's LR
    # ramp would be overridden)

    def __init__(self, params: list[np.ndarray]) -> None:
        self.state: dict[str, list[np.ndarray]] = {}
        self.t = 0
        self._shapes = [p.shape for p in params]
        self._dtype = params[0].dtype if params else np.dtype(np.float32)

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
                self._update(i, p, g, per_member(lr, p.ndim), mu)

    def _update(
        self, i: int, p: np.ndarray, g: np.ndarray, lr: np.ndarray, mu: np.ndarray | None
    ) -> None:
        """Update parameter ``i`` in place; ``lr`` and ``mu`` are already shaped to broadcast."""
        raise NotImplementedError

    def _mu(self, mu: np.ndarray | None, ndim: int, default: float) -> np.ndarray | float:
        return default if mu is None else per_member(mu, ndim)

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


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "sgd_hd": SGDHD,
    "sgdn_hd": SGDNHD,
    "adam_hd": AdamHD,
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
