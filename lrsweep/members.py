"""Lockstep members: how they start, which are still training, and what each has recorded.

Every member of one seed starts from the same weights and sees the same mini-batches in the
same order (common random numbers): `group_rngs` gives a seed its two streams and
`seed_starts` its initial parameters, for the lockstep trainer and the LR range test alike;
`model_arrays` casts the data once to the model's dtype.

A lockstep group trains K members as rows of one flat parameter array (`lrsweep.model`). When a
member diverges it is frozen with its history and dropped from every per-member array at once:
the parameters and their layer views, the optimizer's state, the schedule's state, and any
per-member vector the trainer tracks. `Members` does that in one place (`Members.keep`), so
the trainer and the range test never re-slice parallel arrays by hand. `Logbook` keeps each
member's history, status and cost by its index in the group, for the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from lrsweep.model import init_theta, layer_views
from lrsweep.records import EpochLog, RunResult, RunStatus

if TYPE_CHECKING:
    from lrsweep.data import Dataset
    from lrsweep.spec import Spec


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


def seed_starts(
    spec: Spec, sizes: Sequence[int], seeds: Sequence[int], dtype: np.dtype[Any]
) -> tuple[list[np.ndarray], list[np.random.Generator]]:
    """Each seed's initial parameters, a ``(1, P)`` row, and its mini-batch order stream."""
    rows, orders = [], []
    for seed in seeds:
        init_rng, order_rng = group_rngs(int(seed))
        orders.append(order_rng)
        rows.append(
            init_theta(
                sizes,
                1,
                activation=spec.model.activation,
                init=spec.model.init,
                rng=init_rng,
                dtype=dtype,
            )
        )
    return rows, orders


class _Selectable(Protocol):
    """Anything holding per-member state that can drop members (optimizers, schedules)."""

    def select(self, keep: np.ndarray) -> None: ...


class _Averaging(Protocol):
    """An optimizer that may evaluate other weights than it trains (`Optimizer.eval_theta`)."""

    def eval_theta(self, theta: np.ndarray) -> np.ndarray: ...


class Members:
    """The members still training: their rows of ``theta`` and per-member vectors.

    Parameters
    ----------
    theta : ndarray of shape (K, P)
        Every member's parameters as one row (`lrsweep.model.init_theta`).
    sizes : sequence of int
        The layer sizes, for the per-layer views (`lrsweep.model.layer_views`).
    holders : sequence
        Objects with per-member state and a ``select(keep)`` method (optimizer, schedule).

    Attributes
    ----------
    index : ndarray of int
        Each active row's member number in the group (0..K-1).
    theta : ndarray of shape (n_active, P)
    layers : list of ndarray
        Views of ``theta``, one block per layer.
    """

    def __init__(
        self, theta: np.ndarray, sizes: Sequence[int], holders: Sequence[_Selectable] = ()
    ) -> None:
        self.index = np.arange(theta.shape[0])
        self.theta = theta
        self.sizes = list(sizes)
        self.layers = layer_views(theta, self.sizes)
        self.holders = list(holders)
        self._vectors: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._vectors[name]

    def __setitem__(self, name: str, values: Any) -> None:
        """Track a per-member vector (one value per active member); `keep` slices it too."""
        values = np.asarray(values)
        if values.shape[:1] != (len(self),):
            raise ValueError(f"{name}: expected {len(self)} values, got shape {values.shape}")
        self._vectors[name] = values

    def __contains__(self, name: str) -> bool:
        return name in self._vectors

    def keep(self, keep: np.ndarray) -> None:
        """Keep only the active members ``keep`` (positions among the active ones), everywhere."""
        self.index = self.index[keep]
        self.theta = self.theta[keep]
        self.layers = layer_views(self.theta, self.sizes)
        for holder in self.holders:
            holder.select(keep)
        for name, values in self._vectors.items():
            self._vectors[name] = values[keep]

    def eval_layers(self, optimizer: _Averaging) -> list[np.ndarray]:
        """The layers to evaluate: ``optimizer``'s evaluation weights (schedule-free: x; DoG:
        the average of the iterates), which are ``theta`` itself for most optimizers."""
        weights = optimizer.eval_theta(self.theta)
        return self.layers if weights is self.theta else layer_views(weights, self.sizes)

    def member(self, j: int) -> list[np.ndarray]:
        """Active member ``j``'s layers alone, as a group of one (for a last evaluation)."""
        return [block[j : j + 1] for block in self.layers]


class Logbook:
    """Each member's history, status, seconds and finished epochs, by member number.

    Parameters
    ----------
    run_ids : sequence of str
        The group's runs, in member order.
    """

    def __init__(self, run_ids: Sequence[str]) -> None:
        self.run_ids = list(run_ids)
        K = len(self.run_ids)
        self.histories: list[list[EpochLog]] = [[] for _ in range(K)]
        self.status = [RunStatus.OK] * K
        self.seconds = [0.0] * K
        self.epochs_done = [0] * K
        self._ended = [False] * K

    def log(self, k: int, row: EpochLog) -> None:
        self.histories[k].append(row)

    def end(self, k: int, status: RunStatus, seconds: float) -> None:
        """Member ``k`` stops here (diverged); its cost is the time so far."""
        self.status[k] = status
        self.seconds[k] = seconds
        self._ended[k] = True

    def results(self, seconds: float) -> list[RunResult]:
        """One result per member; members still training at the end cost ``seconds``."""
        return [
            RunResult(
                run_id,
                self.status[k],
                self.histories[k],
                self.seconds[k] if self._ended[k] else seconds,
                self.epochs_done[k],
            )
            for k, run_id in enumerate(self.run_ids)
        ]
