"""Lockstep training of a group of runs that differ only in their learning rate.

All members of a group share the seed: they start from the same weights and see the same
mini-batches in the same order (common random numbers), so the U-curve shows the effect of the
LR alone. A member whose loss turns non-finite or exceeds ``diverge_factor`` x its initial loss
is frozen with its history so far and dropped from the arrays; the others go on.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from lrsweep.data import Dataset, batch_indices, subsample_train
from lrsweep.grid import Group
from lrsweep.model import evaluate, init_params, layer_sizes, loss_and_grads
from lrsweep.optimizers import make_optimizer
from lrsweep.schedules import make_schedule
from lrsweep.spec import Spec

NO_MOMENTUM = frozenset({"adagrad", "sgd_hd"})  # optimizers a cycled momentum cannot apply to
HISTORY_COLUMNS = ("epoch", "step", "lr", "train_loss", "val_loss", "val_metric")


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


def prepare_data(group: Group, data: Dataset) -> Dataset:
    """The training data a group sees: the spec's subsample (fixed by split_seed) if any."""
    if group.subsample < 1.0:
        return subsample_train(data, group.subsample, group.spec.data.split_seed)
    return data


def train_group(
    group: Group,
    data: Dataset,
    on_epoch: Callable[[int, int], None] | None = None,
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
    """
    start = time.perf_counter()
    spec = group.spec
    data = prepare_data(group, data)
    dtype, loss, activation, X_train, y_train, X_val, y_val = model_arrays(spec, data)

    lrs = group.lrs
    K = len(lrs)
    init_rng, order_rng = group_rngs(group.seed)
    sizes = layer_sizes(X_train.shape[1], spec.model.hidden, data.n_outputs)
    params = init_params(
        sizes, K, activation=activation, init=spec.model.init, rng=init_rng, dtype=dtype
    )
    optimizer = make_optimizer(spec.optimizer, params)
    steps_per_epoch = math.ceil(len(X_train) / spec.train.batch_size)
    schedule = make_schedule(
        spec.schedule, steps_per_epoch=steps_per_epoch, epochs=spec.train.epochs
    )
    cycles_momentum = spec.optimizer.name not in NO_MOMENTUM
    used_lr = np.asarray(schedule(0, lrs), dtype=float)  # the LR each member last trained with
    histories: list[list[EpochLog]] = [[] for _ in range(K)]
    status = [RunStatus.OK] * K
    seconds = [0.0] * K
    epochs_done = [0] * K

    train_loss0, _ = evaluate(params, X_train, y_train, activation, loss)
    val_loss0, val_metric0 = evaluate(params, X_val, y_val, activation, loss)
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
    active = np.flatnonzero(np.isfinite(train_loss0))  # member indices still training
    for k in np.flatnonzero(~np.isfinite(train_loss0)):
        status[k] = RunStatus.DIVERGED
    step = 0
    for epoch in range(1, spec.train.epochs + 1):
        loss_sum = np.zeros(len(active))
        n_batches = 0
        for idx in batch_indices(len(X_train), spec.train.batch_size, order_rng):
            if len(active) == 0:
                break
            batch_loss, grads = loss_and_grads(
                params, X_train[idx], y_train[idx], activation, loss
            )
            bad = ~np.isfinite(batch_loss) | (batch_loss > limit[active])
            if bad.any():
                for j in np.flatnonzero(bad):
                    k = active[j]
                    member = [p[j : j + 1] for p in params]
                    vl, vm = evaluate(member, X_val, y_val, activation, loss)
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
                active = active[keep]
                params = [p[keep] for p in params]
                grads = [g[keep] for g in grads]
                optimizer.select(keep)
                schedule.select(keep)
                loss_sum = loss_sum[keep]
                batch_loss = batch_loss[keep]
                if len(active) == 0:
                    break
            lr_now = schedule(step, lrs[active])
            beta = schedule.momentum(step) if cycles_momentum else None
            optimizer.step(
                params,
                grads,
                lr_now.astype(dtype),
                momentum=None if beta is None else np.full(len(active), beta, dtype=dtype),
            )
            current = getattr(optimizer, "current_lr", None)  # hypergradient methods adapt it
            used_lr[active] = lr_now if current is None else current
            loss_sum += batch_loss
            n_batches += 1
            step += 1
        if len(active) == 0:
            break
        val_loss, val_metric = evaluate(params, X_val, y_val, activation, loss)
        train_loss = loss_sum / max(n_batches, 1)
        for j, k in enumerate(active):
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
        epochs_done_now = epoch
        for k in active:
            epochs_done[k] = epochs_done_now
        finite = np.isfinite(val_loss)
        if not finite.all():  # the val loss can overflow where the train batches did not
            for j in np.flatnonzero(~finite):
                status[active[j]] = RunStatus.DIVERGED
                seconds[active[j]] = time.perf_counter() - start
            keep = np.flatnonzero(finite)
            active = active[keep]
            params = [p[keep] for p in params]
            optimizer.select(keep)
            schedule.select(keep)
            val_loss = val_loss[keep]
        schedule.observe(step, val_loss, lrs[active])  # reduce-on-plateau reads the val loss
        if on_epoch is not None:
            on_epoch(epoch, len(active))
    for k in active:
        seconds[k] = time.perf_counter() - start
    return [
        RunResult(run.run_id, status[k], histories[k], seconds[k], epochs_done[k])
        for k, run in enumerate(group.runs)
    ]
