"""The built-in trainer: a NumPy MLP, many learning rates trained in lockstep.

`MLPTrainer` is the `lrsweep.work.Trainer` for ``data:``, ``model:``, ``optimizer:`` and
``schedule:`` (the embedded default, the demo, the fast path): it reads the data once, packs
runs into lockstep groups (`pack_lockstep`), ships the data to the workers cast once
(`compact_dataset`) and runs `lrsweep.training.train_group` on them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lrsweep.costs import (
    SweepEstimate,
    Where,
    check_data_memory,
    check_memory,
    data_shape,
    estimate_rounds,
    execution_choice,
    group_kernels,
    group_seconds,
    group_size_for,
)
from lrsweep.data import Dataset, data_fingerprint, load_dataset
from lrsweep.errors import SpecError
from lrsweep.members import loss_name
from lrsweep.plan import Plan, budgets
from lrsweep.rangetest import range_test_settings
from lrsweep.records import Group, RunResult, RunSpec
from lrsweep.spec import Spec, apply_combo, combo_label
from lrsweep.training import budget_data, train_group
from lrsweep.work import Work, by_combination

# --------------------------------------------------------------------------------------------
# The built-in model: a NumPy MLP, many LRs trained in lockstep


class MLPTrainer:
    """The built-in lockstep MLP (``trainer.kind: mlp``, the default): trains a spec's
    ``data:``, ``model:``, ``optimizer:`` and ``schedule:``; the fast path.

    Parameters
    ----------
    spec : Spec
        The experiment.
    data : Dataset, optional
        The spec's dataset when the caller has it (read once per command); else it is read
        here (a builtin too large for this machine's memory is refused before it is made).
    on_progress : callable, optional
        ``on_progress(bytes_read, size)`` while a data file is read.
    """

    kind: ClassVar[str] = "mlp"

    def __init__(
        self,
        spec: Spec,
        data: Dataset | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.spec = spec
        if data is None:
            check_data_memory(spec)
            data = load_dataset(spec.data, Path(spec.base_dir), on_progress)
        self.data = data
        self.shape = data_shape(data)  # (n_train, n_val, n_features, n_outputs)
        self._shipped: dict[frozenset[str], Dataset] = {}

    def preflight(self) -> None:
        """Build every combination's optimizer and schedule once, so that a setting that cannot
        work with this data (a warmup longer than the run, say) is a SpecError before anything
        is written, not a failed run."""
        from lrsweep.optimizers import make_optimizer
        from lrsweep.schedules import make_schedule

        spec = self.spec
        if spec.grid.from_range_test:
            range_test_settings(spec, {})  # an optimizer the range test cannot ramp
        for combo in spec.combos:
            combo_spec = apply_combo(spec, combo) if combo else spec
            where = f" (with {combo_label(combo)})" if combo else ""
            for budget in budgets(combo_spec):
                seen = budget_data(self.data, budget.subsample, combo_spec.data.split_seed)
                steps = math.ceil(len(seen.X_train) / combo_spec.train.batch_size)
                try:
                    make_schedule(combo_spec.schedule, steps_per_epoch=steps, epochs=budget.epochs)
                    make_optimizer(combo_spec.optimizer, [np.zeros((1, 1, 1), dtype=np.float32)])
                except SpecError as e:
                    raise SpecError(f"{spec.source_file}: {e}{where}") from None

    def check(self, plan: Plan, jobs: int) -> None:
        """`preflight`, then refuse a plan whose groups, ``jobs`` at once (one when they would
        run in this process), would not fit in memory with the data (`check_memory`)."""
        self.preflight()
        groups = plan.groups or tuple(self.pack(plan.spec, plan.runs))
        at_once = 1 if jobs <= 1 else jobs
        if at_once > 1 and groups and execution_choice(groups, self.shape, jobs)[0] == "here":
            at_once = 1
        check_memory(plan.spec, self.shape, [len(g.runs) for g in groups], at_once)

    def pack(self, spec: Spec, runs: Sequence[RunSpec]) -> list[Group]:
        """Lockstep groups of the spec's group size, per combination (`pack_lockstep`)."""
        n_features, n_outputs = self.shape[2], self.shape[3]
        return [
            group
            for combo_spec, mine in by_combination(spec, runs)
            for group in pack_lockstep(combo_spec, mine, n_features, n_outputs)
        ]

    def work(self, groups: Sequence[Group], folder: Path | None = None) -> Work:
        """`train_mlp_group` on the dataset cast once to the groups' dtype (`compact_dataset`)."""
        return Work(train_mlp_group, self.payload(groups), self.cost, self.where)

    def payload(self, groups: Sequence[Group]) -> Dataset:
        """The dataset the workers hold for ``groups``: cast once to their dtype, the same
        object for every call with the same dtypes (so a running pool keeps its copy)."""
        dtypes = frozenset(str(g.spec.model.dtype) for g in groups)
        if dtypes not in self._shipped:
            self._shipped[dtypes] = compact_dataset(self.data, groups)
        return self._shipped[dtypes]

    def cost(self, group: Group) -> float:
        return group_seconds(group, *self.shape)

    def where(
        self, groups: Sequence[Group], jobs: int, pool_started: bool
    ) -> tuple[Where, float, str]:
        return execution_choice(groups, self.shape, jobs, pool_started)

    def estimate(self, plans: Sequence[Plan], jobs: int, range_test_iters: int) -> SweepEstimate:
        """The likely cost of ``plans`` from the cost model (nothing is trained)."""
        packed = [p if p.groups else replace(p, groups=tuple(self.pack(p.spec, p.runs)))
                  for p in plans]  # fmt: skip
        return estimate_rounds(self.spec, self.shape, packed, jobs, range_test_iters)

    def data_report(self) -> dict[str, Any]:
        return self.data.data_report()

    def inputs(self) -> dict[str, Any]:
        """The data's identity (`lrsweep.data.data_fingerprint`): a changed file at the same
        path is other data."""
        return {"data": data_fingerprint(self.spec.data, Path(self.spec.base_dir))}


def train_mlp_group(
    group: Group,
    data: Dataset,
    on_epoch: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> list[RunResult]:
    """`lrsweep.training.train_group`, with the compiled elementwise kernels where the cost
    model says they pay in this process (`lrsweep.costs.group_kernels`); the same numbers
    either way. Runs in the worker, so each process decides for itself."""
    return train_group(
        group, data, on_epoch=on_epoch, stop=stop, kernels=group_kernels(group, data)
    )


def pack_lockstep(
    spec: Spec, runs: Sequence[RunSpec], n_features: int, n_outputs: int
) -> list[Group]:
    """Pack runs of one combination (``spec``) that differ only in LR and seed into lockstep
    groups of the spec's group size (`lrsweep.costs.group_size_for`).

    Runs are split by budget, sorted by seed then LR, and cut into balanced chunks, so a group
    may hold several seeds (each member trains with its own seed's weights and batches,
    bit-identical to the run alone). A pure function of the runs and the data's shape, so the
    same on every machine and for every executor.
    """
    by_budget: dict[tuple[int, float], list[RunSpec]] = {}
    for run in runs:
        by_budget.setdefault((run.epochs, run.subsample), []).append(run)
    groups = []
    for (epochs, subsample), members in sorted(by_budget.items(), key=lambda kv: kv[0]):
        members.sort(key=lambda r: (r.seed, r.lr))
        size = group_size_for(spec, len(members), n_features, n_outputs)
        chunks = math.ceil(len(members) / size)
        bounds = np.linspace(0, len(members), chunks + 1).round().astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            chunk = tuple(members[lo:hi])
            groups.append(Group(spec, chunk[0].seed, epochs, subsample, chunk))
    return groups


def compact_dataset(data: Dataset, groups: Sequence[Group]) -> Dataset:
    """``data`` with its inputs (and regression targets) cast once to the groups' dtype.

    `lrsweep.members.model_arrays` casts exactly so, so the numbers do not change; workers
    receive half the bytes of a float64 dataset and every group skips its own cast. Groups of
    mixed dtypes get ``data`` unchanged.
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
