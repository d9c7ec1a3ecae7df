"""Learning-rate schedules, each exactly as ``torch.optim.lr_scheduler`` documents it.

A schedule maps the optimizer step about to be taken (0-based) and the grid's LRs ``base_lr``
(one per member, shape (K,)) to the LRs to use for that step. Closed-form schedules are frozen
dataclasses with no hidden counters: picklable, with a repr that can be logged, and
``schedule(step, base_lr)`` is a pure function. `Plateau` (ReduceLROnPlateau) is the one
stateful schedule: it reads each member's validation loss at every epoch end.

The grid's LR is the schedule's base LR; for ``cyclic`` and ``onecycle`` it is the peak
(``max_lr``). Build a schedule from the same mapping as the spec's ``schedule:`` section::

    import numpy as np
    from lrsweep.schedules import make_schedule

    schedule = make_schedule(
        {"name": "cosine", "warmup_epochs": 1}, steps_per_epoch=50, epochs=20
    )
    base_lr = np.array([0.1, 0.01])             # one LR per member
    for step in range(20 * 50):
        lr = schedule(step, base_lr)            # (2,) LRs for this step
        momentum = schedule.momentum(step)      # cycled momentum / beta1, or None
        ...                                     # optimizer.step(params, grads, lr, ...)

**Interval.** PyTorch leaves the stepping to the caller: ``scheduler.step()`` once per epoch
(StepLR, MultiStepLR, ExponentialLR, LinearLR, PolynomialLR, CosineAnnealingLR,
CosineAnnealingWarmRestarts, ReduceLROnPlateau) or once per mini-batch (CyclicLR, OneCycleLR),
as each page documents. Here every schedule has an ``interval``, ``"epoch"`` or ``"step"``,
defaulting to PyTorch's documented one. Its counter ``u`` is the number of ``scheduler.step()``
calls PyTorch would have made before optimizer step ``s``: ``u = s // steps_per_epoch`` for
``"epoch"`` (the LR is constant within an epoch) and ``u = s`` for ``"step"``. Counts and rates
(step_size, milestones, gamma, total_iters, t_max, step_size_up, ...) are in those units, as in
PyTorch. The exception is ``t_0`` of ``cosine_restarts``, which is in epochs: with
``interval="step"`` it is stepped at the fractional epoch ``s / steps_per_epoch``, which is
PyTorch's documented ``scheduler.step(epoch + i / iters)``.

**Defaults that depend on the run.** Where PyTorch has no default or a fixed one that does not
fit a sweep, ``make_schedule`` resolves ``None`` from the run length ``n`` (in interval units,
after any warmup): ``t_max = n``, ``total_iters = n`` (PyTorch: 5), ``step_size = ceil(n / 3)``,
``milestones = [ceil(n / 2), ceil(3 n / 4)]``, exponential ``gamma = 0.01 ** (1 / n)`` (the LR
falls 100x over the run), ``t_0 = max(1, epochs // 4)`` and cyclic ``step_size_up`` = 2 epochs
(Smith 2017 suggests 2-10), at most half the run so that at least one cycle completes.

**Warmup.** ``warmup_epochs`` (rounded to steps) or ``warmup_steps`` puts a per-step LinearLR
in front of any schedule, as ``SequentialLR([LinearLR(start_factor, 1.0, W), schedule],
milestones=[W])`` does: the LR rises from ``warmup_start_factor x base`` (default 0.01; PyTorch's
LinearLR needs a factor > 0) towards the base LR over ``W`` steps, and the wrapped schedule's
own count starts at 0 at step ``W``. Run-length defaults of the wrapped schedule count only the
steps after the warmup.

**Momentum.** ``cyclic`` and ``onecycle`` with ``cycle_momentum`` (the default) also return a
momentum for each step from ``momentum(step)``, moving against the LR between
``base_momentum`` and ``max_momentum``. Pass it as the optimizer's ``momentum`` argument (the
SGD momentum or Adam's beta1). Every other schedule returns ``None``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from pydantic import ValidationError

from lrsweep.errors import SpecError
from lrsweep.spec import ScheduleSpec, validation_problems

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Plateau",
    "Polynomial",
    "Schedule",
    "Step",
    "Warmup",
    "make_schedule",
]

STEP_INTERVAL = ("cyclic", "onecycle")  # PyTorch steps these per mini-batch; the rest per epoch


class Schedule:
    """Base of every schedule: the LRs for one optimizer step, and an optional momentum.

    Closed-form schedules implement `lr_factor` (a multiplier of the base LR) or override
    ``__call__``; their `observe` and `select` do nothing, so a trainer can call every
    schedule the same way.
    """

    @property
    def stateful(self) -> bool:
        """Whether the schedule keeps state (`observe` and `select` matter)."""
        return False

    def __call__(self, step: int, base_lr: np.ndarray) -> np.ndarray:
        """LRs for the optimizer step ``step`` (0-based), one per member.

        Parameters
        ----------
        step : int
            Optimizer steps taken so far; the LR returned is used for the next one.
        base_lr : ndarray of shape (K,)
            The grid's LRs (the peak for cyclic and onecycle).

        Returns
        -------
        ndarray of shape (K,)
            float64 LRs.
        """
        return np.asarray(base_lr, dtype=np.float64) * self.lr_factor(step)

    def lr_factor(self, step: int) -> float:
        """The multiplier of the base LR at ``step``."""
        raise NotImplementedError

    def momentum(self, step: int) -> float | None:
        """Cycled momentum (or beta1) for ``step``, or None to keep the optimizer's own."""
        return None

    def observe(self, step: int, val_loss: np.ndarray, base_lr: np.ndarray) -> None:
        """Take the members' validation losses at an epoch end (only `Plateau` uses them).

        Parameters
        ----------
        step : int
            Optimizer steps taken so far (the end of the epoch).
        val_loss : ndarray of shape (K,)
            Each active member's validation loss.
        base_lr : ndarray of shape (K,)
            The active members' grid LRs.
        """

    def select(self, keep: np.ndarray) -> None:
        """Keep only some members' state (after the trainer drops diverged members)."""


@dataclass(frozen=True, kw_only=True)
class _Counted(Schedule):
    """A schedule counted in epochs or in optimizer steps (``interval``)."""

    steps_per_epoch: int = 1
    interval: str = "epoch"

    def _count(self, step: int) -> int:
        """PyTorch's ``last_epoch``: scheduler steps taken before optimizer step ``step``."""
        return step if self.interval == "step" else step // self.steps_per_epoch


@dataclass(frozen=True, kw_only=True)
class Constant(_Counted):
    """The base LR at every step (no scheduler)."""

    def lr_factor(self, step: int) -> float:
        return 1.0


@dataclass(frozen=True, kw_only=True)
class Step(_Counted):
    """StepLR: ``lr = base * gamma ** floor(u / step_size)``."""

    step_size: int
    gamma: float = 0.1

    def lr_factor(self, step: int) -> float:
        return self.gamma ** (self._count(step) // self.step_size)


@dataclass(frozen=True, kw_only=True)
class MultiStep(_Counted):
    """MultiStepLR: ``lr = base * gamma ** bisect_right(milestones, u)``."""

    milestones: tuple[int, ...]
    gamma: float = 0.1

    def lr_factor(self, step: int) -> float:
        return self.gamma ** bisect.bisect_right(self.milestones, self._count(step))


@dataclass(frozen=True, kw_only=True)
class Exponential(_Counted):
    """ExponentialLR: ``lr = base * gamma ** u``."""

    gamma: float

    def lr_factor(self, step: int) -> float:
        return self.gamma ** self._count(step)


@dataclass(frozen=True, kw_only=True)
class Linear(_Counted):
    """LinearLR, closed form.

    ``lr = base * (start_factor + (end_factor - start_factor) * min(u, total_iters) /
    total_iters)``.
    """

    start_factor: float = 1 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def lr_factor(self, step: int) -> float:
        progress = min(self._count(step), self.total_iters) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * progress


@dataclass(frozen=True, kw_only=True)
class Polynomial(_Counted):
    """PolynomialLR, closed form.

    ``lr = base * (1 - min(u, total_iters) / total_iters) ** power``.
    """

    total_iters: int = 5
    power: float = 1.0

    def lr_factor(self, step: int) -> float:
        return (1.0 - min(self._count(step), self.total_iters) / self.total_iters) ** self.power


def _cosine(base_lr: np.ndarray, eta_min: float, t_cur: float, t_max: float) -> np.ndarray:
    """``eta_min + (base - eta_min) (1 + cos(pi t_cur / t_max)) / 2``."""
    base = np.asarray(base_lr, dtype=np.float64)
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t_cur / t_max)) / 2


@dataclass(frozen=True, kw_only=True)
class Cosine(_Counted):
    """CosineAnnealingLR, closed form (which PyTorch's recursive update equals).

    ``lr = eta_min + (base - eta_min) (1 + cos(pi u / t_max)) / 2``; past ``t_max`` the cosine
    carries on (rises again), as PyTorch's does. ``eta_min`` is an absolute LR.
    """

    t_max: int
    eta_min: float = 0.0

    def __call__(self, step: int, base_lr: np.ndarray) -> np.ndarray:
        return _cosine(base_lr, self.eta_min, self._count(step), self.t_max)


@dataclass(frozen=True, kw_only=True)
class CosineRestarts(_Counted):
    """CosineAnnealingWarmRestarts (SGDR, Loshchilov & Hutter 2017), ``t_0`` in epochs.

    At epoch ``e`` (fractional, ``s / steps_per_epoch``, when ``interval="step"``), as
    PyTorch's ``step(epoch)`` computes it::

        e < t_0:       T_i = t_0, T_cur = e
        t_mult == 1:   T_i = t_0, T_cur = e mod t_0
        otherwise:     n = int(log(e / t_0 (t_mult - 1) + 1, t_mult))
                       T_cur = e - t_0 (t_mult^n - 1) / (t_mult - 1);  T_i = t_0 t_mult^n
        lr = eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2
    """

    t_0: int
    t_mult: int = 1
    eta_min: float = 0.0

    def __call__(self, step: int, base_lr: np.ndarray) -> np.ndarray:
        if self.interval == "step":
            epoch: float = step / self.steps_per_epoch
        else:
            epoch = step // self.steps_per_epoch
        t_i, t_cur = self.t_0, epoch
        if epoch >= self.t_0:
            if self.t_mult == 1:
                t_cur = epoch % self.t_0
            else:
                n = int(math.log(epoch / self.t_0 * (self.t_mult - 1) + 1, self.t_mult))
                t_cur = epoch - self.t_0 * (self.t_mult**n - 1) / (self.t_mult - 1)
                t_i = self.t_0 * self.t_mult**n
        return _cosine(base_lr, self.eta_min, t_cur, t_i)


@dataclass(frozen=True, kw_only=True)
class Cyclic(_Counted):
    """CyclicLR (Smith 2017, "Cyclical learning rates for training neural networks").

    The grid's LR is ``max_lr`` and ``base_lr = base_lr_ratio * max_lr`` (default 1/4, inside
    Smith's advice of a 3-4x range). With ``total = step_size_up + step_size_down``::

        cycle = floor(1 + u / total);  x = 1 + u / total - cycle
        scale = x / r  if x <= r  else (x - 1) / (r - 1),   r = step_size_up / total
        lr = base_lr + (max_lr - base_lr) scale f
        f = 1 (triangular), 1 / 2^(cycle - 1) (triangular2), gamma^u (exp_range)
        momentum = max_momentum - (max_momentum - base_momentum) scale f

    (``triangular2`` scales per cycle, ``exp_range`` per iteration, as PyTorch's built-in modes
    do.)
    """

    step_size_up: int
    step_size_down: int
    base_lr_ratio: float = 0.25
    mode: str = "triangular"
    gamma: float = 1.0
    cycle_momentum: bool = True
    base_momentum: float = 0.8
    max_momentum: float = 0.9

    def _scale(self, step: int) -> float:
        u = self._count(step)
        total = self.step_size_up + self.step_size_down
        ratio = self.step_size_up / total
        cycle = math.floor(1 + u / total)
        x = 1.0 + u / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if self.mode == "triangular2":
            return scale * (1 / 2.0 ** (cycle - 1))
        if self.mode == "exp_range":
            return scale * self.gamma**u
        return scale

    def lr_factor(self, step: int) -> float:
        return self.base_lr_ratio + (1 - self.base_lr_ratio) * self._scale(step)

    def momentum(self, step: int) -> float | None:
        if not self.cycle_momentum:
            return None
        return self.max_momentum - (self.max_momentum - self.base_momentum) * self._scale(step)


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    if strategy == "linear":
        return (end - start) * pct + start
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


@dataclass(frozen=True, kw_only=True)
class OneCycle(_Counted):
    """OneCycleLR (Smith & Topin 2019, "Super-convergence").

    The grid's LR is ``max_lr``; ``initial = max_lr / div_factor``, ``min = initial /
    final_div_factor``. Over ``total_steps`` scheduler steps, phases end at (as PyTorch sets)::

        two phases:    pct_start T - 1 (initial -> max),  T - 1 (max -> min)
        three phases:  pct_start T - 1 (initial -> max),  2 pct_start T - 2 (max -> initial),
                       T - 1 (initial -> min)

    Within a phase from ``a`` to ``b`` at ``pct = (u - a) / (b - a)``: ``cos``:
    ``end + (start - end) (1 + cos(pi pct)) / 2``; ``linear``: ``start + (end - start) pct``.
    Momentum goes max -> base -> max (three phases: then stays at max), against the LR.
    """

    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    cycle_momentum: bool = True
    base_momentum: float = 0.85
    max_momentum: float = 0.95

    def _phase(self, step: int) -> tuple[float, float, str, str, float]:
        """(start factor, end factor, start momentum, end momentum, pct) at ``step``."""
        initial = 1 / self.div_factor
        lowest = initial / self.final_div_factor
        t = self.total_steps
        hi, lo = "max", "base"
        if self.three_phase:
            phases = [
                (float(self.pct_start * t) - 1, initial, 1.0, hi, lo),
                (float(2 * self.pct_start * t) - 2, 1.0, initial, lo, hi),
                (t - 1.0, initial, lowest, hi, hi),
            ]
        else:
            phases = [
                (float(self.pct_start * t) - 1, initial, 1.0, hi, lo),
                (t - 1.0, 1.0, lowest, lo, hi),
            ]
        u = self._count(step)
        start_step = 0.0
        for i, (end_step, lr_a, lr_b, m_a, m_b) in enumerate(phases):
            if u <= end_step or i == len(phases) - 1:
                span = end_step - start_step
                pct = (u - start_step) / span if span != 0 else 1.0  # PyTorch divides by 0
                return lr_a, lr_b, m_a, m_b, pct
            start_step = end_step
        raise AssertionError("unreachable: the last phase always matches")

    def lr_factor(self, step: int) -> float:
        lr_a, lr_b, _, _, pct = self._phase(step)
        return _anneal(lr_a, lr_b, pct, self.anneal_strategy)

    def momentum(self, step: int) -> float | None:
        if not self.cycle_momentum:
            return None
        _, _, m_a, m_b, pct = self._phase(step)
        value = {"max": self.max_momentum, "base": self.base_momentum}
        return _anneal(value[m_a], value[m_b], pct, self.anneal_strategy)


@dataclass(kw_only=True)
class Plateau(Schedule):
    """ReduceLROnPlateau, per member, driven by each member's validation loss once per epoch.

    At every `observe` (PyTorch's ``scheduler.step(val_loss)``), for each member::

        better:  a < best (1 - threshold)   (rel, min)     a < best - threshold  (abs, min)
                 a > best (1 + threshold)   (rel, max)     a > best + threshold  (abs, max)
        best <- a, bad <- 0 if better, else bad <- bad + 1
        if cooldown_counter > 0:  cooldown_counter -= 1;  bad <- 0
        if bad > patience:  new = max(lr factor, min_lr);  lr <- new if lr - new > eps
                            cooldown_counter <- cooldown;  bad <- 0

    ``best`` starts at +inf (min) or -inf (max); a nan loss is never better. Members start at
    their grid LR (set at the first `observe`); `select` drops members' state with theirs.

    Attributes
    ----------
    lr, base : ndarray of shape (K,) or None
        Each member's current LR and grid LR; None until the first `observe`.
    best, num_bad_epochs, cooldown_counter : ndarray of shape (K,) or None
        PyTorch's per-scheduler counters, one per member.
    """

    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8
    lr: np.ndarray | None = field(default=None, repr=False)
    base: np.ndarray | None = field(default=None, repr=False)
    best: np.ndarray | None = field(default=None, repr=False)
    num_bad_epochs: np.ndarray | None = field(default=None, repr=False)
    cooldown_counter: np.ndarray | None = field(default=None, repr=False)

    @property
    def stateful(self) -> bool:
        return True

    def __call__(self, step: int, base_lr: np.ndarray) -> np.ndarray:
        base = np.asarray(base_lr, dtype=np.float64)
        if self.lr is None:
            return base.copy()
        if self.lr.shape != base.shape:
            raise ValueError(
                f"Plateau: {base.shape[0]} base LRs for {self.lr.shape[0]} members; call"
                " select() when dropping members"
            )
        return self.lr.copy()

    def lr_factor(self, step: int) -> float:
        raise TypeError("Plateau's LR depends on the losses seen; call it with base_lr")

    @property
    def multipliers(self) -> np.ndarray | None:
        """Current LR / grid LR per member (1 before any reduction), or None before `observe`."""
        return None if self.lr is None or self.base is None else self.lr / self.base

    def _is_better(self, a: np.ndarray, best: np.ndarray) -> np.ndarray:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def observe(self, step: int, val_loss: np.ndarray, base_lr: np.ndarray) -> None:
        current = np.asarray(val_loss, dtype=np.float64)
        if self.lr is None:
            self.base = np.asarray(base_lr, dtype=np.float64).copy()
            self.lr = self.base.copy()
            self.best = np.full(current.shape, np.inf if self.mode == "min" else -np.inf)
            self.num_bad_epochs = np.zeros(current.shape, dtype=np.int64)
            self.cooldown_counter = np.zeros(current.shape, dtype=np.int64)
        assert self.best is not None and self.num_bad_epochs is not None  # set together
        assert self.cooldown_counter is not None
        if current.shape != self.lr.shape:
            raise ValueError(
                f"Plateau: {current.shape[0]} losses for {self.lr.shape[0]} members; call"
                " select() when dropping members"
            )
        with np.errstate(invalid="ignore", over="ignore"):
            better = self._is_better(current, self.best)
        self.best = np.where(better, current, self.best)
        self.num_bad_epochs = np.where(better, 0, self.num_bad_epochs + 1)
        cooling = self.cooldown_counter > 0
        self.cooldown_counter = np.where(cooling, self.cooldown_counter - 1, 0)
        self.num_bad_epochs = np.where(cooling, 0, self.num_bad_epochs)
        reduce = self.num_bad_epochs > self.patience
        new_lr = np.maximum(self.lr * self.factor, self.min_lr)
        self.lr = np.where(reduce & (self.lr - new_lr > self.eps), new_lr, self.lr)
        self.cooldown_counter = np.where(reduce, self.cooldown, self.cooldown_counter)
        self.num_bad_epochs = np.where(reduce, 0, self.num_bad_epochs)

    def select(self, keep: np.ndarray) -> None:
        if self.lr is None:
            return
        keep = np.asarray(keep)
        self.lr = self.lr[keep]
        self.base = None if self.base is None else self.base[keep]
        self.best = None if self.best is None else self.best[keep]
        self.num_bad_epochs = None if self.num_bad_epochs is None else self.num_bad_epochs[keep]
        if self.cooldown_counter is not None:
            self.cooldown_counter = self.cooldown_counter[keep]


@dataclass(frozen=True, kw_only=True)
class Warmup(Schedule):
    """Linear warmup over ``steps`` optimizer steps, then ``schedule`` counted from 0.

    ``SequentialLR([LinearLR(start_factor, 1.0, total_iters=steps), schedule],
    milestones=[steps])`` stepped per batch::

        s < steps:   lr = base (start_factor + (1 - start_factor) s / steps)
        s >= steps:  lr = schedule(s - steps)

    During the warmup, ``momentum`` is the wrapped schedule's first momentum (if it cycles one),
    and validation losses are not passed on to a wrapped `Plateau` until the warmup is over.
    """

    steps: int
    schedule: Schedule
    start_factor: float = 0.01

    @property
    def stateful(self) -> bool:
        return self.schedule.stateful

    def __call__(self, step: int, base_lr: np.ndarray) -> np.ndarray:
        if step >= self.steps:
            return self.schedule(step - self.steps, base_lr)
        return np.asarray(base_lr, dtype=np.float64) * self.lr_factor(step)

    def lr_factor(self, step: int) -> float:
        if step >= self.steps:
            return self.schedule.lr_factor(step - self.steps)
        return self.start_factor + (1.0 - self.start_factor) * step / self.steps

    def momentum(self, step: int) -> float | None:
        return self.schedule.momentum(max(step - self.steps, 0))

    def observe(self, step: int, val_loss: np.ndarray, base_lr: np.ndarray) -> None:
        if step >= self.steps:
            self.schedule.observe(step - self.steps, val_loss, base_lr)

    def select(self, keep: np.ndarray) -> None:
        self.schedule.select(keep)


def _validated(spec: Mapping[str, Any] | Any) -> Any:
    """The ``ScheduleSpec`` for a mapping (checked as the YAML is) or a spec model."""
    if isinstance(spec, ScheduleSpec):
        return spec
    document = dict(spec.model_dump() if hasattr(spec, "model_dump") else spec)
    try:
        return ScheduleSpec.model_validate(document)
    except ValidationError as e:
        problems = validation_problems(e, ("schedule",))
        raise SpecError("; ".join(problems)) from None


def make_schedule(spec: Mapping[str, Any] | Any, *, steps_per_epoch: int, epochs: int) -> Schedule:
    """Build the schedule a ``schedule:`` section describes, for a run of known length.

    Parameters
    ----------
    spec : mapping or ScheduleSpec
        The section, e.g. ``{"name": "step", "step_size": 5, "gamma": 0.5}`` (validated like the
        YAML), or the pydantic model. Keys the named schedule does not use are ignored.
    steps_per_epoch : int
        Optimizer steps (mini-batches) per epoch, >= 1.
    epochs : int
        The run's epochs, >= 1; the run has ``epochs * steps_per_epoch`` optimizer steps.

    Returns
    -------
    Schedule
        A fresh schedule; `Plateau` (possibly inside `Warmup`) has empty state.

    Raises
    ------
    SpecError
        For an invalid section, or a warmup as long as the run.
    """
    s = _validated(spec)
    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(f"steps_per_epoch, epochs: must be >= 1, got {steps_per_epoch}, {epochs}")
    spe = int(steps_per_epoch)
    total = spe * int(epochs)
    if s.warmup_steps is not None:
        warmup, key = int(s.warmup_steps), "warmup_steps"
    else:
        warmup, key = round((s.warmup_epochs or 0.0) * spe), "warmup_epochs"
    if warmup >= total:
        value = s.warmup_steps if key == "warmup_steps" else s.warmup_epochs
        raise SpecError(
            f"schedule.{key}: must leave some of the run's {total} steps ({epochs} epochs) after"
            f" the warmup, got {value!r}"
        )
    interval = s.interval or ("step" if s.name in STEP_INTERVAL else "epoch")
    rest = total - warmup  # optimizer steps the wrapped schedule runs for
    n = rest if interval == "step" else math.ceil(rest / spe)  # ... in its own units
    length = RunLength(spe, interval, n, rest)
    inner = SCHEDULES[s.name](s, length)
    if warmup == 0:
        return inner
    return Warmup(steps=warmup, schedule=inner, start_factor=s.warmup_start_factor)


class RunLength(NamedTuple):
    """How long the schedule after any warmup runs, as its builder needs to know."""

    steps_per_epoch: int
    interval: str  # "step" or "epoch": what one unit of the schedule's own clock is
    n: int  # the run after warmup, in the schedule's units
    rest: int  # the run after warmup, in optimizer steps

    @property
    def counted(self) -> dict[str, Any]:
        return {"steps_per_epoch": self.steps_per_epoch, "interval": self.interval}


# Each builder fills in the defaults that depend on the run's length (see the module docstring).


def _build_constant(s: Any, L: RunLength) -> Schedule:
    return Constant(**L.counted)


def _build_step(s: Any, L: RunLength) -> Schedule:
    return Step(**L.counted, step_size=s.step_size or math.ceil(L.n / 3), gamma=_or(s.gamma, 0.1))


def _build_multistep(s: Any, L: RunLength) -> Schedule:
    default = sorted({math.ceil(L.n / 2), math.ceil(3 * L.n / 4)})
    milestones = tuple(s.milestones if s.milestones is not None else default)
    return MultiStep(**L.counted, milestones=milestones, gamma=_or(s.gamma, 0.1))


def _build_exponential(s: Any, L: RunLength) -> Schedule:
    return Exponential(**L.counted, gamma=_or(s.gamma, 0.01 ** (1 / L.n)))


def _build_linear(s: Any, L: RunLength) -> Schedule:
    return Linear(
        **L.counted,
        start_factor=s.start_factor,
        end_factor=s.end_factor,
        total_iters=s.total_iters or L.n,
    )


def _build_polynomial(s: Any, L: RunLength) -> Schedule:
    return Polynomial(**L.counted, total_iters=s.total_iters or L.n, power=s.power)


def _build_cosine(s: Any, L: RunLength) -> Schedule:
    return Cosine(**L.counted, t_max=s.t_max or L.n, eta_min=s.eta_min)


def _build_cosine_restarts(s: Any, L: RunLength) -> Schedule:
    t_0 = s.t_0 or max(1, math.ceil(L.rest / L.steps_per_epoch) // 4)
    return CosineRestarts(**L.counted, t_0=t_0, t_mult=s.t_mult, eta_min=s.eta_min)


def _build_cyclic(s: Any, L: RunLength) -> Schedule:
    two_epochs = 2 * L.steps_per_epoch if L.interval == "step" else 2
    up = s.step_size_up or max(1, min(two_epochs, L.n // 2))
    return Cyclic(
        **L.counted,
        step_size_up=up,
        step_size_down=s.step_size_down or up,
        base_lr_ratio=s.base_lr_ratio,
        mode=s.mode or "triangular",
        gamma=_or(s.gamma, 1.0),
        cycle_momentum=s.cycle_momentum,
        base_momentum=_or(s.base_momentum, 0.8),
        max_momentum=_or(s.max_momentum, 0.9),
    )


def _build_onecycle(s: Any, L: RunLength) -> Schedule:
    return OneCycle(
        **L.counted,
        total_steps=L.n,
        pct_start=s.pct_start,
        anneal_strategy=s.anneal_strategy,
        div_factor=s.div_factor,
        final_div_factor=s.final_div_factor,
        three_phase=s.three_phase,
        cycle_momentum=s.cycle_momentum,
        base_momentum=_or(s.base_momentum, 0.85),
        max_momentum=_or(s.max_momentum, 0.95),
    )


def _build_plateau(s: Any, L: RunLength) -> Schedule:
    return Plateau(
        mode=s.mode or "min",
        factor=s.factor,
        patience=s.patience,
        threshold=s.threshold,
        threshold_mode=s.threshold_mode,
        cooldown=s.cooldown,
        min_lr=s.min_lr,
        eps=s.eps,
    )


# The registry: YAML name -> builder of the schedule for a run of known length.
SCHEDULES: dict[str, Callable[[Any, RunLength], Schedule]] = {
    "constant": _build_constant,
    "step": _build_step,
    "multistep": _build_multistep,
    "exponential": _build_exponential,
    "linear": _build_linear,
    "polynomial": _build_polynomial,
    "cosine": _build_cosine,
    "cosine_restarts": _build_cosine_restarts,
    "cyclic": _build_cyclic,
    "onecycle": _build_onecycle,
    "plateau": _build_plateau,
}


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)
