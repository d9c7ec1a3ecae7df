"""Lockstep training of a group of runs that differ only in their learning rate.

All members of a group share the seed: they start from the same weights and see the same
mini-batches in the same order (common random numbers), so the U-curve shows the effect of the
LR alone. A member whose loss turns non-finite, or whose epoch-mean training loss stays above
``diverge_factor`` x its initial loss for ``DIVERGE_EPOCHS`` epochs in a row, is frozen with its
history so far and dropped from the arrays; the others go on. One mini-batch above the limit is a
spike, not divergence (Adam on a heavy-tailed table spikes past 4x in its first epoch and then
recovers to within 10 % of the best).
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from lrsweep.data import Dataset, batch_indices, subsample_train
from lrsweep.grid import Group
from lrsweep.model import (
    Workspace,
    evaluate_layers,
    init_theta,
    layer_sizes,
    layer_views,
    train_step,
)
from lrsweep.optimizers import make_optimizer
from lrsweep.schedules import make_schedule
from lrsweep.spec import Spec

NO_MOMENTUM = frozenset({"adagrad", "sgd_hd"})  # optimizers a cycled momentum cannot apply to
DIVERGE_EPOCHS = 2  # epochs in a row above diverge_factor x the initial loss: diverged
HISTORY_COLUMNS = ("epoch", "step", "lr", "train_loss", "val_loss", "val_metric")


class Cancelled(Exception):
    """Raised inside `train_group` when its ``stop`` event is set (the sweep is being stopped)."""


class RunStatus(str, enum.Enum):
    """How a run ended. A diverged run is a result; a failed one is resumable."""

    OK = "ok"
    DIVERGED = "diverged"
    FAILED = "failed"


@dataclass(frozen=True)
class EpochLog:
    """One history row: epoch 0 is before training, epoch k after k passes."""

    epoch: int
    step: int
    lr: float
    train_loss: float
    val_loss: float
    val_metric: float


@dataclass
class RunResult:
    """What a worker returns for one run: the status, the history and the cost."""

    run_id: str
    status: RunStatus
    history: list[EpochLog] = field(default_factory=list)
    seconds: float = 0.0
    epochs_done: int = 0  # complete passes over the training data
    message: str = ""


def loss_name(task: str) -> str:
    """The loss a task trains with."""
    return "cross_entropy" if task == "classification" else "mse"


def group_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent streams for the initial weights and the mini-batch order of one seed."""
    init_seq, order_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(order_seq)


class ModelArrays(NamedTuple):
    """A dataset cast once for training: the model's dtype, loss and activation."""

    dtype: np.dtype[Any]
    loss: str
    activation: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def model_arrays(spec: Spec, data: Dataset) -> ModelArrays:
    """Cast ``data`` to the spec's dtype (class labels stay integers) and name the loss."""
    dtype = np.dtype(spec.model.dtype)
    loss = loss_name(data.task)

    def targets(y: np.ndarray) -> np.ndarray:
        return y if loss == "cross_entropy" else y.astype(dtype)

    return ModelArrays(
        dtype,
        loss,
        spec.model.activation,
        np.ascontiguousarray(data.X_train, dtype=dtype),
        targets(data.y_train),
        np.ascontiguousarray(data.X_val, dtype=dtype),
        targets(data.y_val),
    )


def compact_dataset(data: Dataset, groups: Sequence[Group]) -> Dataset:
    """``data`` with its inputs (and regression targets) cast once to the groups' dtype.

    `model_arrays` casts exactly so, so the numbers do not change; an executor calls this once
    per batch of groups, so that workers receive half the bytes of a float64 dataset and every
    group skips its own cast. Groups of mixed dtypes get ``data`` unchanged.
    """
    dtypes = {np.dtype(g.spec.model.dtype) for g in groups}
    if len(dtypes) != 1:
        return data
    dtype = dtypes.pop()
    if data.X_train.dtype == dtype and data.X_val.dtype == dtype:
        return data
    regression = loss_name(data.task) != "cross_entropy"

    def cast(a: np.ndarray) -> np.ndarray:
        b = np.ascontiguousarray(a, dtype=dtype)
        b.setflags(write=False)
        return b

    return replace(
        data,
        X_train=cast(data.X_train),
        X_val=cast(data.X_val),
        y_train=cast(data.y_train) if regression else data.y_train,
        y_val=cast(data.y_val) if regression else data.y_val,
    )


def budget_data(data: Dataset, subsample: float, split_seed: int) -> Dataset:
    """The training data a budget sees: a subsample fixed by ``split_seed``, or all of it."""
    return subsample_train(data, subsample, split_seed) if subsample < 1.0 else data


def prepare_data(group: Group, data: Dataset) -> Dataset:
    """The training data a group sees."""
    return budget_data(data, group.subsample, group.spec.data.split_seed)


def train_group(
    group: Group,
    data: Dataset,
    on_epoch: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> list[RunResult]:
    """Train every run of ``group`` in lockstep and return one result per run, in order.

    Parameters
    ----------
    group : Group
        Runs sharing every setting but the LR.
    data : Dataset
        The full dataset; the group's subsample is taken here.
    on_epoch : callable, optional
        ``on_epoch(epoch, n_active)`` after each epoch, for progress only.
    stop : threading.Event, optional
        Checked before every step; once set, `Cancelled` is raised and nothing is returned.
        A thread cannot be interrupted from outside, so this is how a sweep running groups in
        threads stops them on Ctrl-C (`lrsweep.executors.ThreadExecutor`).

    Notes
    -----
    The hot loop allocates (almost) nothing: every mini-batch is gathered once into a buffer
    shared by the members, the forward and backward passes compute into a `Workspace`, the
    optimizer updates in place, and the per-step bookkeeping (divergence test, LR record) is a
    couple of ufunc calls on (K,) vectors.
    """
    start = time.perf_counter()
    spec = group.spec
    data = prepare_data(group, data)
    dtype, loss, activation, X_train, y_train, X_val, y_val = model_arrays(spec, data)

    lrs = group.lrs
    K = len(lrs)
    init_rng, order_rng = group_rngs(group.seed)
    sizes = layer_sizes(X_train.shape[1], spec.model.hidden, data.n_outputs)
    theta = init_theta(
        sizes, K, activation=activation, init=spec.model.init, rng=init_rng, dtype=dtype
    )  # (K, P): every member's parameters as one row
    layers = layer_views(theta, sizes)
    optimizer = make_optimizer(spec.optimizer, [theta])  # one flat array: a few ufunc calls
    n_train, batch_size = len(X_train), spec.train.batch_size
    steps_per_epoch = math.ceil(n_train / batch_size)
    schedule = make_schedule(spec.schedule, steps_per_epoch=steps_per_epoch, epochs=group.epochs)
    cycles_momentum = spec.optimizer.name not in NO_MOMENTUM
    used_lr = np.asarray(schedule(0, lrs), dtype=float)  # the LR each member last trained with
    histories: list[list[EpochLog]] = [[] for _ in range(K)]
    status = [RunStatus.OK] * K
    seconds = [0.0] * K
    epochs_done = [0] * K
    workspace = Workspace()

    def evaluate_on(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return evaluate_layers(layers, X, y, activation, loss, workspace=workspace)

    train_loss0, _ = evaluate_on(X_train, y_train)
    val_loss0, val_metric0 = evaluate_on(X_val, y_val)
    for k in range(K):
        histories[k].append(
            EpochLog(
                0,
                0,
                float(used_lr[k]),
                float(train_loss0[k]),
                float(val_loss0[k]),
                float(val_metric0[k]),
            )
        )
    limit = spec.train.diverge_factor * train_loss0
    above = np.zeros(K, dtype=int)  # epochs in a row with a mean training loss above the limit
    active = np.flatnonzero(np.isfinite(train_loss0))  # member indices still training
    for k in np.flatnonzero(~np.isfinite(train_loss0)).tolist():
        status[k] = RunStatus.DIVERGED

    # the mini-batch, gathered once per step for all members
    rows = min(batch_size, n_train)
    X_batch = np.empty((rows, *X_train.shape[1:]), dtype=X_train.dtype)
    y_batch = np.empty((rows, *y_train.shape[1:]), dtype=y_train.dtype)

    def drop(keep: np.ndarray) -> None:
        """Keep only the members ``keep`` (indices into the active ones) in every array."""
        nonlocal active, theta, layers
        active = active[keep]
        theta = theta[keep]
        layers = layer_views(theta, sizes)
        optimizer.select(keep)
        schedule.select(keep)

    step = 0
    last_lr: np.ndarray | None = None  # the LRs of the last step, for the active members
    for epoch in range(1, group.epochs + 1):  # the group's budget (coarse: fewer)
        if len(active) == 0:
            break
        loss_sum = np.zeros(len(active))
        n_batches = 0
        base_lr = lrs[active]
        for idx in batch_indices(n_train, batch_size, order_rng):
            if stop is not None and stop.is_set():
                raise Cancelled(f"stopped at step {step}")
            m = len(idx)
            Xb, yb = X_batch[:m], y_batch[:m]
            X_train.take(idx, axis=0, out=Xb, mode="clip")  # idx is a permutation slice
            y_train.take(idx, axis=0, out=yb, mode="clip")
            batch_loss, grad = train_step(layers, Xb, yb, activation, loss, workspace)
            # one ufunc on (K,) in the common case: a non-finite loss stops a member at once
            bad = None if np.isfinite(batch_loss).all() else ~np.isfinite(batch_loss)
            if bad is not None:
                if last_lr is not None:
                    used_lr[active] = last_lr
                for j in np.flatnonzero(bad).tolist():
                    k = int(active[j])
                    member = [block[j : j + 1] for block in layers]
                    vl, vm = evaluate_layers(member, X_val, y_val, activation, loss)
                    histories[k].append(
                        EpochLog(
                            epoch,
                            step,
                            float(used_lr[k]),
                            float(batch_loss[j]),
                            float(vl[0]),
                            float(vm[0]),
                        )
                    )
                    status[k] = RunStatus.DIVERGED
                    seconds[k] = time.perf_counter() - start
                keep = np.flatnonzero(~bad)
                drop(keep)
                grad = grad[keep]
                loss_sum = loss_sum[keep]
                batch_loss = batch_loss[keep]
                base_lr = base_lr[keep]
                if last_lr is not None:
                    last_lr = last_lr[keep]
                if len(active) == 0:
                    break
            lr_now = schedule(step, base_lr)
            beta = schedule.momentum(step) if cycles_momentum else None
            optimizer.step(
                [theta],
                [grad],
                lr_now.astype(dtype),
                momentum=None if beta is None else np.full(len(active), beta, dtype=dtype),
            )
            current = getattr(optimizer, "current_lr", None)  # hypergradient methods adapt it
            last_lr = lr_now if current is None else current
            loss_sum += batch_loss
            n_batches += 1
            step += 1
        if len(active) == 0:
            break
        if last_lr is not None:
            used_lr[active] = last_lr
        val_loss, val_metric = evaluate_on(X_val, y_val)
        train_loss = loss_sum / max(n_batches, 1)
        for j, k in enumerate(active.tolist()):
            histories[k].append(
                EpochLog(
                    epoch,
                    step,
                    float(used_lr[k]),
                    float(train_loss[j]),
                    float(val_loss[j]),
                    float(val_metric[j]),
                )
            )
            epochs_done[k] = epoch
        # above the limit for DIVERGE_EPOCHS epochs in a row (a spike is not divergence)
        above[active] = np.where(train_loss > limit[active], above[active] + 1, 0)
        finite = np.isfinite(val_loss) & (above[active] < DIVERGE_EPOCHS)
        if not finite.all():  # the val loss can overflow where the train batches did not
            for j in np.flatnonzero(~finite).tolist():
                status[active[j]] = RunStatus.DIVERGED
                seconds[active[j]] = time.perf_counter() - start
            keep = np.flatnonzero(finite)
            drop(keep)
            val_loss = val_loss[keep]
            if last_lr is not None:
                last_lr = last_lr[keep]
        schedule.observe(step, val_loss, lrs[active])  # reduce-on-plateau reads the val loss
        if on_epoch is not None:
            on_epoch(epoch, len(active))
    for k in active.tolist():
        seconds[k] = time.perf_counter() - start
    return [
        RunResult(run.run_id, status[k], histories[k], seconds[k], epochs_done[k])
        for k, run in enumerate(group.runs)
    ]
