"""Lockstep training of a group of runs that differ only in their learning rate.

Members of one seed start from the same weights and see the same mini-batches in the same order
(common random numbers), so the U-curve shows the effect of the LR alone. A group may hold
several seeds: each seed's members get that seed's initial weights and batch order (the batch
is gathered per member, one ``take`` per step), so every member's numbers are bit-identical to
the same run trained alone. After every step and every epoch the group asks the early-stopping
rule (`lrsweep.stopping.StopRule`, the one a user's script is judged by too) which members
diverged or are hopeless; those are frozen with their history so far and dropped from the
arrays; the others go on.

This is the built-in trainer's engine (`lrsweep.trainer.MLPTrainer` wraps it for the sweep);
`train_group` is the function the executors run for it.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

from lrsweep.data import Dataset, batch_indices, subsample_train
from lrsweep.errors import Cancelled
from lrsweep.members import Logbook, Members, ModelArrays, model_arrays, seed_starts
from lrsweep.model import Workspace, evaluate_layers, layer_sizes, layer_views, train_step
from lrsweep.optimizers import make_optimizer
from lrsweep.records import EpochLog, Group, RunResult, RunStatus
from lrsweep.schedules import make_schedule
from lrsweep.stopping import StopRule, non_finite


def budget_data(data: Dataset, subsample: float, split_seed: int) -> Dataset:
    """The training data a budget sees: a subsample fixed by ``split_seed``, or all of it."""
    return subsample_train(data, subsample, split_seed) if subsample < 1.0 else data


def prepare_data(group: Group, data: Dataset) -> Dataset:
    """The training data a group sees."""
    return budget_data(data, group.subsample, group.spec.data.split_seed)


class _Epoch0Cache:
    """Epoch-0 losses (before training) per initial state, shared by the groups of a process.

    Every run of a seed starts from the same weights, so its epoch-0 evaluation is the same
    whatever group, thread or order trains it; it is computed once, always as a group of one
    (`initial_losses`), so the numbers never depend on grouping or executor. Entries are keyed
    by the dataset object (a weak reference: a dataset that is freed drops its entries) and by
    what decides the initial weights and the data seen.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_data: dict[int, tuple[weakref.ref[Dataset], dict[tuple[Any, ...], Any]]] = {}

    def get(self, data: Dataset, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            key_data = id(data)
            entry = self._by_data.get(key_data)
            if entry is None or entry[0]() is not data:
                ref = weakref.ref(data, partial(self._forget, key_data))
                entry = (ref, {})
                self._by_data[key_data] = entry
            found = entry[1].get(key)
        if found is None:  # computed outside the lock; two threads may both compute it
            found = compute()
            with self._lock:
                entry[1].setdefault(key, found)
        return found

    def _forget(self, key_data: int, _: object) -> None:
        with self._lock:
            entry = self._by_data.get(key_data)
            if entry is not None and entry[0]() is None:
                del self._by_data[key_data]


_EPOCH0 = _Epoch0Cache()


def train_group(
    group: Group,
    data: Dataset,
    on_epoch: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    kernels: ModuleType | None = None,
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
    kernels : module, optional
        The compiled elementwise passes (`lrsweep.kernels.load`), or None for NumPy's. The
        numbers are the same bits either way; the caller chooses by speed
        (`lrsweep.mlp.train_mlp_group` asks the cost model).

    Notes
    -----
    The hot loop allocates (almost) nothing: every mini-batch is gathered once into a buffer
    shared by the members, the forward and backward passes compute into a `Workspace`, the
    optimizer updates in place, and the per-step bookkeeping (divergence test, LR record) is a
    couple of ufunc calls on (K,) vectors.
    """
    start = time.perf_counter()
    lockstep = _Lockstep(group, prepare_data(group, data), start, data, kernels)
    for epoch in range(1, group.epochs + 1):  # the group's budget (coarse: fewer)
        if len(lockstep.members) == 0:
            break
        lockstep.train_epoch(epoch, stop)
        if len(lockstep.members) == 0:
            break
        lockstep.end_epoch(epoch)
        if on_epoch is not None:
            on_epoch(epoch, len(lockstep.members))
    return lockstep.book.results(time.perf_counter() - start)


def initial_losses(layers: list[np.ndarray], arrays: ModelArrays) -> tuple[float, float, float]:
    """One member's ``(train_loss, val_loss, val_metric)`` at ``layers`` (a group of one)."""
    _, loss, activation, X_train, y_train, X_val, y_val = arrays
    train_loss, _ = evaluate_layers(layers, X_train, y_train, activation, loss)
    val_loss, val_metric = evaluate_layers(layers, X_val, y_val, activation, loss)
    return float(train_loss[0]), float(val_loss[0]), float(val_metric[0])


class _Lockstep:
    """One group's training state: the members, their optimizer and schedule, the logbook.

    Member ``k`` is the group's run ``k``; `Members` tracks which still train, with these
    per-member vectors: ``lr`` (the base LR), ``seed_pos`` (the position of the member's seed
    in ``seeds``), ``limit`` (``diverge_factor`` x the initial loss) and, once a step was
    taken, ``last_lr`` (the LR it trained with last).
    """

    def __init__(
        self,
        group: Group,
        data: Dataset,
        start: float,
        full: Dataset,
        kern: ModuleType | None = None,
    ) -> None:
        spec = group.spec
        self.start = start
        self.arrays = model_arrays(spec, data)
        dtype, _, activation, X_train, y_train, _, _ = self.arrays
        lrs = group.lrs
        run_seeds = [run.seed for run in group.runs]
        self.seeds = list(dict.fromkeys(run_seeds))  # distinct, in member order
        seed_pos = np.array([self.seeds.index(s) for s in run_seeds], dtype=np.intp)
        sizes = layer_sizes(X_train.shape[1], spec.model.hidden, data.n_outputs)
        rows_of_seed, self.order_rngs = seed_starts(spec, sizes, self.seeds, dtype)
        theta = np.concatenate(rows_of_seed)[seed_pos]  # (K, P): every member's parameters
        self.optimizer = make_optimizer(spec.optimizer, [theta])  # one flat array
        self.optimizer.use_kernels(kern)
        self.batch_size = spec.train.batch_size
        steps_per_epoch = math.ceil(len(X_train) / self.batch_size)
        self.schedule = make_schedule(
            spec.schedule, steps_per_epoch=steps_per_epoch, epochs=group.epochs
        )
        self.cycles_momentum = self.optimizer.cycles_momentum
        self.used_lr = np.asarray(self.schedule(0, lrs), dtype=float)  # each member's last LR
        self.members = Members(theta, sizes, [self.optimizer, self.schedule])
        self.book = Logbook([run.run_id for run in group.runs])
        self.workspace = Workspace(kern)
        self.step = 0
        # the mini-batch, gathered once per step for all members
        rows = min(self.batch_size, len(X_train))
        # one seed: the batch is shared, (rows, ...); several: per member, (K, rows, ...)
        lead = (len(lrs), rows) if len(self.seeds) > 1 else (rows,)
        self.X_batch = np.empty((*lead, *X_train.shape[1:]), dtype=X_train.dtype)
        self.y_batch = np.empty((*lead, *y_train.shape[1:]), dtype=y_train.dtype)

        # epoch 0 once per seed (all its members start there), shared with other groups;
        # an optimizer whose evaluation weights are not yet the initial ones evaluates its own
        eval0 = self.optimizer.eval_theta(theta)
        if eval0 is theta or np.array_equal(eval0, theta):
            init = (tuple(sizes), activation, spec.model.init, str(dtype))
            key = (*init, group.subsample, spec.data.split_seed)  # the weights, the data seen
            initial = [
                _EPOCH0.get(
                    full,
                    (*key, seed),
                    partial(initial_losses, layer_views(row, sizes), self.arrays),
                )
                for seed, row in zip(self.seeds, rows_of_seed)
            ]
            train_loss0, val_loss0, val_metric0 = (
                np.array([initial[p][i] for p in seed_pos.tolist()]) for i in range(3)
            )
        else:
            train_loss0, _ = self.evaluate(X_train, y_train)
            val_loss0, val_metric0 = self.evaluate(*self.arrays[5:])
        effective0 = self.optimizer.effective_lr(self.used_lr)  # before any step
        for k in range(len(lrs)):
            self.log(k, 0, train_loss0[k], val_loss0[k], val_metric0[k], effective0[k])
        for k in np.flatnonzero(~np.isfinite(train_loss0)).tolist():
            self.book.end(k, RunStatus.DIVERGED, 0.0)
        self.members["lr"] = lrs
        self.members["seed_pos"] = seed_pos
        self.members["val_loss0"] = val_loss0
        self.rule = StopRule.for_spec(spec, group.epochs)  # when members stop early
        self.members["limit"] = self.rule.limit(train_loss0)
        self.members["above"] = np.zeros(len(lrs))  # epochs in a row above the limit
        self.members.keep(np.flatnonzero(np.isfinite(train_loss0)))

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every active member's loss and metric on ``(X, y)``, at the evaluation weights."""
        _, loss, activation = self.arrays[:3]
        layers = self.members.eval_layers(self.optimizer)  # schedule-free, dog: an average
        return evaluate_layers(layers, X, y, activation, loss, workspace=self.workspace)

    def log(
        self,
        k: int,
        epoch: int,
        train_loss: Any,
        val_loss: Any,
        val_metric: Any,
        lr_effective: Any = None,
    ) -> None:
        row = EpochLog(
            epoch,
            self.step,
            float(self.used_lr[k]),
            float(train_loss),
            float(val_loss),
            float(val_metric),
            float(self.used_lr[k] if lr_effective is None else lr_effective),
        )
        self.book.log(k, row)

    def train_epoch(self, epoch: int, stop: threading.Event | None) -> None:
        """One pass over the training data; members whose batch loss diverges are dropped."""
        dtype, _, activation, X_train, y_train, _, _ = self.arrays
        loss_name_ = self.arrays.loss
        members = self.members
        members["loss_sum"] = np.zeros(len(members))
        n_batches = 0
        for idx in self.epoch_batches(len(X_train)):
            if stop is not None and stop.is_set():
                raise Cancelled(f"stopped at step {self.step}")
            Xb, yb = self.gather(idx, X_train, y_train)
            batch_loss, grad = train_step(
                members.layers, Xb, yb, activation, loss_name_, self.workspace
            )
            # one ufunc on (K,): a non-finite loss stops a member at once (a spike above the
            # limit does not; `end_epoch` asks the rule about the epoch's mean)
            if not np.isfinite(batch_loss).all():
                bad = non_finite(batch_loss)
                self.diverge(epoch, bad, batch_loss)
                keep = np.flatnonzero(~bad)
                members.keep(keep)
                grad, batch_loss = grad[keep], batch_loss[keep]
                if len(members) == 0:
                    break
            lr_now = self.schedule(self.step, members["lr"])
            beta = self.schedule.momentum(self.step) if self.cycles_momentum else None
            self.optimizer.step(
                [members.theta],
                [grad],
                lr_now.astype(dtype),
                momentum=None if beta is None else np.full(len(members), beta, dtype=dtype),
            )
            current = self.optimizer.current_lr  # hypergradient methods adapt the LR
            members["last_lr"] = lr_now if current is None else current
            members["loss_sum"] += batch_loss
            n_batches += 1
            self.step += 1
        self.n_batches = n_batches

    def epoch_batches(self, n: int) -> Iterator[np.ndarray]:
        """This epoch's mini-batch indices: ``(m,)`` for one seed, else ``(members, m)``.

        Each seed draws its own permutation (`batch_indices`) from its own stream, as it
        would alone; with several seeds, row ``j`` is active member ``j``'s seed's batch.
        """
        orders = [batch_indices(n, self.batch_size, rng) for rng in self.order_rngs]
        if len(orders) == 1:
            yield from orders[0]
            return
        for per_seed in zip(*orders):
            # looked up per step: members may have been dropped during the epoch
            yield np.stack(per_seed).take(self.members["seed_pos"], axis=0)

    def gather(
        self, idx: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The mini-batch ``idx`` of ``(X, y)``, gathered into the group's buffers."""
        if idx.ndim == 1:
            Xb, yb = self.X_batch[: len(idx)], self.y_batch[: len(idx)]
        else:
            Xb = self.X_batch[: idx.shape[0], : idx.shape[1]]
            yb = self.y_batch[: idx.shape[0], : idx.shape[1]]
            if not Xb.flags.c_contiguous:  # fewer members or a short batch: a new buffer
                Xb = np.empty((*idx.shape, *X.shape[1:]), dtype=X.dtype)
                yb = np.empty((*idx.shape, *y.shape[1:]), dtype=y.dtype)
        X.take(idx, axis=0, out=Xb, mode="clip")  # idx are permutation slices
        y.take(idx, axis=0, out=yb, mode="clip")
        return Xb, yb

    def diverge(self, epoch: int, bad: np.ndarray, batch_loss: np.ndarray) -> None:
        """Record the members ``bad`` as diverged at this step, with a last validation."""
        _, loss, activation, _, _, X_val, y_val = self.arrays
        members = self.members
        if "last_lr" in members:
            self.used_lr[members.index] = members["last_lr"]
        effective = self.optimizer.effective_lr(self.used_lr[members.index])
        evaluated = members.eval_layers(self.optimizer)
        for j in np.flatnonzero(bad).tolist():
            k = int(members.index[j])
            member = [block[j : j + 1] for block in evaluated]
            vl, vm = evaluate_layers(member, X_val, y_val, activation, loss)
            self.log(k, epoch, batch_loss[j], vl[0], vm[0], effective[j])
            self.book.end(k, RunStatus.DIVERGED, time.perf_counter() - self.start)

    def end_epoch(self, epoch: int) -> None:
        """Log the epoch for every member; drop those whose validation loss overflowed."""
        members = self.members
        if "last_lr" in members:
            self.used_lr[members.index] = members["last_lr"]
        val_loss, val_metric = self.evaluate(*self.arrays[5:])
        train_loss = members["loss_sum"] / max(self.n_batches, 1)
        effective = self.optimizer.effective_lr(self.used_lr[members.index])
        for j, k in enumerate(members.index.tolist()):
            self.log(k, epoch, train_loss[j], val_loss[j], val_metric[j], effective[j])
            self.book.epochs_done[k] = epoch
        # above the limit epochs in a row, or a val loss that overflowed: diverged
        members["above"], diverged = self.rule.after_epoch(
            train_loss, val_loss, members["limit"], members["above"]
        )
        finite = ~diverged
        if not finite.all():  # the val loss can overflow where the train batches did not
            now = time.perf_counter() - self.start
            for j in np.flatnonzero(~finite).tolist():
                self.book.end(int(members.index[j]), RunStatus.DIVERGED, now)
            members.keep(np.flatnonzero(finite))
            val_loss = val_loss[finite]
        self.schedule.observe(self.step, val_loss, members["lr"])  # plateau reads it
        if epoch in self.rule.rungs:
            self.prune(epoch, val_loss)

    def prune(self, epoch: int, val_loss: np.ndarray) -> None:
        """Stop the members the rule finds hopeless: their peers are this group's members of
        the same seed (same initial weights, same batches: a paired comparison)."""
        members = self.members
        seed_pos, start = members["seed_pos"], members["val_loss0"]
        best = np.full(len(self.seeds), np.inf)
        np.minimum.at(best, seed_pos, val_loss)
        hopeless = self.rule.hopeless(epoch, start, val_loss, best[seed_pos])
        if hopeless.any():
            now = time.perf_counter() - self.start
            for j in np.flatnonzero(hopeless).tolist():
                self.book.end(int(members.index[j]), RunStatus.PRUNED, now)
            members.keep(np.flatnonzero(~hopeless))
