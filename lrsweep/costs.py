"""The cost model: what a step, a member and a group cost, and where groups should run.

Only *where* and *how many at once* depend on these numbers, never a run's results: group
sizes are a function of the spec and the data's shape, and the execution choice picks this
process, threads or a pool of processes for the same groups. The constants were measured on
2-core Xeons (see benchmarks/README.md, "The strategy lrsweep picks").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Literal, NamedTuple, Protocol

from lrsweep import kernels
from lrsweep.data import Dataset
from lrsweep.errors import SpecError
from lrsweep.machine import available_memory, gib
from lrsweep.spec import Spec, apply_combo

Where = Literal["here", "threads", "processes"]  # where the executors run a call's groups
LOCKSTEP_MAX_FLOP = 10e6  # a step cheaper than this is overhead-bound: train LRs in lockstep
LOCKSTEP_MAX_GROUP = 16  # members per group (S: one group of 16 in-process beats 2 x 8 in a pool)
LOCKSTEP_MAX_BYTES = 256e6  # a group's arrays above this are chunked into more groups
EVAL_ROWS = 4096  # rows per evaluation chunk (`lrsweep.model.evaluate`'s default)
# The cost model the executors schedule with (rough, per core; measured on 2-core Xeons):
STEP_OVERHEAD_SECONDS = 100e-6  # Python and NumPy call overhead of one lockstep step
FLOP_RATE = 80e9  # float32 FLOP/s one core sustains on a step (small matmuls, elementwise)
# What an optimizer's update adds to a step beyond SGD with momentum (which the two constants
# above include): (seconds per step, seconds per parameter value of the group). Measured
# 2026-11-29 on a 64-64-64-10 MLP, groups of 1 and 13, one BLAS thread (CPU time, the machine
# loaded): SGD 24 us + 0.5 ns a value, Adam 66 us + 1.6 ns, AdamW 86 us + 1.7 ns, RMSprop 53
# us + 1.4 ns, Adagrad 36 us + 1.3 ns, SGD-HD 50 us + 0.95 ns, Adam-HD 103 us + 2.5 ns.
# With them the training estimate of round 0 is within 0.8-1.3x of the CPU time measured on
# configs/{digits,spirals-adam,regression,hypergradient}.yaml (0.66 for Adam without them).
UPDATE_EXTRA_SECONDS = {
    "sgd": (0.0, 0.0),
    "adagrad": (5e-6, 0.8e-9),
    "rmsprop": (28e-6, 0.9e-9),
    "adam": (32e-6, 1.1e-9),
    "adamw": (51e-6, 1.2e-9),
    "sgd_hd": (22e-6, 0.45e-9),
    "sgdn_hd": (22e-6, 0.45e-9),
    "adam_hd": (62e-6, 2.0e-9),
}
# What starting a pool of spawned workers costs (an interpreter importing numpy, pydantic and
# lrsweep, ~0.3 s each, in parallel): `--jobs N` trains in this process unless the pool's
# estimated wall time, this plus the groups spread over N workers, is shorter.
POOL_START_SECONDS = 0.35
# Groups whose step the cost model puts at least this much in products run in threads: BLAS
# releases the GIL. Measured on 2 cores (2 threads against this process alone): 784-256-256-10
# groups of one (0.96) 7.0 -> 4.8 s, 784-32-10 in groups of 16 (0.91) 0.83 -> 0.58 s,
# 784-128-10 groups of one (0.83) 1.9 -> 1.2 s; the digits 64-64-10 in groups of 16 (0.78)
# 1.20 -> 1.15 s and in groups of 4 (0.46) 0.50 -> 0.80 s: Python's calls hold the GIL.
# Every group trains with one BLAS thread wherever it runs (`lrsweep.executors`: a threaded
# product rounds differently on some CPUs), so this process offers no more BLAS threads.
THREADS_MIN_COMPUTE = 0.8
# Memory: a dataset is generated or parsed as float64, then split, standardised and cast
# (float32 copies for the groups): about this many bytes per value at the peak.
DATA_BYTES_PER_VALUE = 24.0
MEMORY_HEADROOM = 0.8  # of the memory available, what a sweep may plan to use


class GroupLike(Protocol):
    """What the cost model reads of a group (`lrsweep.plan.Group`)."""

    @property
    def spec(self) -> Spec: ...
    @property
    def epochs(self) -> int: ...
    @property
    def subsample(self) -> float: ...
    @property
    def runs(self) -> Sequence[Any]: ...


def step_flops(spec: Spec, n_features: int, n_outputs: int) -> float:
    """Approximate FLOPs of one training step of one model: 6 x weights x batch."""
    return 6.0 * n_weights(spec, n_features, n_outputs) * spec.train.batch_size


def n_weights(spec: Spec, n_features: int, n_outputs: int) -> int:
    """Trainable parameters (weights and biases) of one model."""
    sizes = [n_features, *spec.model.hidden, n_outputs]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def member_bytes(spec: Spec, n_features: int, n_outputs: int) -> float:
    """Memory one member adds to a group: parameters, gradients and up to three optimizer
    states, plus the activations of a training batch and of an evaluation chunk."""
    itemsize = 8 if spec.model.dtype == "float64" else 4
    widths = sum(spec.model.hidden) + n_outputs
    values = (
        5 * n_weights(spec, n_features, n_outputs)
        + (3 * spec.train.batch_size + EVAL_ROWS) * widths
    )
    return float(values * itemsize)


def group_size_for(spec: Spec, n_lrs: int, n_features: int, n_outputs: int) -> int:
    """Members per group, from the spec and the data's shape alone (never from --jobs or the
    executor, so the numbers are the same however a sweep runs).

    Overhead-bound models (a step under ``LOCKSTEP_MAX_FLOP``) train up to
    ``LOCKSTEP_MAX_GROUP`` LRs in lockstep, fewer if the group's arrays would pass
    ``LOCKSTEP_MAX_BYTES``, in balanced chunks; compute-bound ones train alone (their matmuls
    already run at the BLAS rate, and one run per thread or process uses every core).
    """
    if spec.execution.group_size is not None:
        return spec.execution.group_size
    if step_flops(spec, n_features, n_outputs) >= LOCKSTEP_MAX_FLOP or n_lrs <= 1:
        return 1
    by_memory = int(LOCKSTEP_MAX_BYTES // member_bytes(spec, n_features, n_outputs))
    largest = max(1, min(LOCKSTEP_MAX_GROUP, by_memory))
    chunks = math.ceil(n_lrs / largest)
    return math.ceil(n_lrs / chunks)


def group_seconds(
    group: GroupLike, n_train: int, n_val: int, n_features: int, n_outputs: int
) -> float:
    """Rough single-core wall time of a group, from the cost model above (for scheduling only).

    Steps x (call overhead + the optimizer's update beyond SGD's + members x step FLOPs /
    rate), plus the forward passes of the per-epoch evaluations (a third of a training step's
    FLOPs per row).
    """
    spec = group.spec
    rows = max(1, round(n_train * min(group.subsample, 1.0)))
    steps = group.epochs * math.ceil(rows / spec.train.batch_size)
    flops_per_row = step_flops(spec, n_features, n_outputs) / spec.train.batch_size
    K = len(group.runs)
    call, per_value = UPDATE_EXTRA_SECONDS.get(spec.optimizer.name, (0.0, 0.0))
    update = call + K * n_weights(spec, n_features, n_outputs) * per_value
    train = steps * (
        STEP_OVERHEAD_SECONDS + update + K * flops_per_row * spec.train.batch_size / FLOP_RATE
    )
    evaluation = K * flops_per_row / 3 * (rows + n_val * (group.epochs + 1)) / FLOP_RATE
    return train + evaluation


# The compiled elementwise path (`lrsweep.kernels`): what it saves a step, and what loading it
# costs a process that has not yet (importing numba and reading its cache; 0.35-0.5 s measured
# on the 2-core machines, 0.2 s more when SciPy is installed, which numba imports). Its numbers
# are NumPy's to the bit, so this decides speed only. Measured 2026-12-04 (benchmarks/
# bench_step.py and isolated passes, one BLAS thread): a step's calls 10 us; a hidden
# activation value (bias and activation forward, its derivative backward) 0.8 ns; a parameter
# value's update: SGD 0.03 ns, with momentum 0.15, Adam/AdamW 0.8, RMSprop 0.5, Adagrad 0.4.
KERNELS_LOAD_SECONDS = 0.45
KERNEL_STEP_SAVING = 10e-6
KERNEL_ACTIVATION_SAVING = 0.8e-9
KERNEL_UPDATE_SAVING = {
    "sgd": 0.03e-9,
    "sgd_momentum": 0.15e-9,
    "adam": 0.8e-9,
    "adamw": 0.8e-9,
    "rmsprop": 0.5e-9,
    "adagrad": 0.4e-9,
}


def kernel_saving(group: GroupLike, n_train: int, n_features: int, n_outputs: int) -> float:
    """Seconds the compiled elementwise path saves training ``group`` (its loading aside)."""
    spec = group.spec
    rows = max(1, round(n_train * min(group.subsample, 1.0)))
    steps = group.epochs * math.ceil(rows / spec.train.batch_size)
    K = len(group.runs)
    name = spec.optimizer.name
    if name == "sgd" and (spec.optimizer.momentum or 0) > 0:
        name = "sgd_momentum"
    update = KERNEL_UPDATE_SAVING.get(name, 0.0) * n_weights(spec, n_features, n_outputs)
    hidden = KERNEL_ACTIVATION_SAVING * spec.train.batch_size * sum(spec.model.hidden)
    return steps * (KERNEL_STEP_SAVING + K * (update + hidden))


def use_kernels(group: GroupLike, shape: tuple[int, int, int, int]) -> bool:
    """Whether ``group`` trains with the compiled kernels in this process.

    ``LRSWEEP_KERNELS=numpy`` or no numba: never; ``numba``: always (compiling them if need
    be). By default: when they are loaded in this process already, or when they are cached
    (`lrsweep.kernels.kernels_cached`) and save this group more than loading them costs
    (``KERNELS_LOAD_SECONDS``). Only the speed depends on it: the numbers are the same.
    ``shape`` is the data's ``(n_train, n_val, n_features, n_outputs)`` (`data_shape`).
    """
    mode = kernels.mode()
    if mode == "numpy" or not kernels.installed():
        return False
    if mode == "numba" or kernels.is_loaded():
        return True
    n_train, _, n_features, n_outputs = shape
    return (
        kernels.kernels_cached()
        and kernel_saving(group, n_train, n_features, n_outputs) > KERNELS_LOAD_SECONDS
    )


def group_kernels(group: GroupLike, data: Dataset) -> ModuleType | None:
    """The compiled kernels to train ``group`` with (loaded now if need be), or None for
    NumPy (`use_kernels`)."""
    return kernels.load() if use_kernels(group, data_shape(data)) else None


def compute_fraction(group: GroupLike, n_features: int, n_outputs: int) -> float:
    """The share of a group's step the cost model spends in products, not in call overhead.

    ``members x step FLOPs / rate`` over that plus ``STEP_OVERHEAD_SECONDS``. BLAS products
    (and NumPy's passes over large arrays) release the GIL, Python's calls do not: groups near
    1 run well in threads of one process, groups far from it do not (`lrsweep.executors`).
    """
    flops = len(group.runs) * step_flops(group.spec, n_features, n_outputs) / FLOP_RATE
    return flops / (flops + STEP_OVERHEAD_SECONDS)


def range_test_seconds(
    spec: Spec, n_features: int, n_outputs: int, num_iter: int, seeds: int
) -> float:
    """Rough wall time of the LR range test: ``num_iter`` steps of the seeds in lockstep."""
    flops = seeds * step_flops(spec, n_features, n_outputs) / FLOP_RATE
    return num_iter * (STEP_OVERHEAD_SECONDS + flops)


def data_shape(data: Dataset) -> tuple[int, int, int, int]:
    """``(n_train, n_val, n_features, n_outputs)``: what the cost model needs of a dataset."""
    return len(data.X_train), len(data.X_val), data.X_train.shape[1], data.n_outputs


def execution_choice(
    groups: Sequence[GroupLike],
    shape: tuple[int, int, int, int],
    jobs: int,
    pool_started: bool = False,
) -> tuple[Where, float, str]:
    """Where ``--jobs jobs`` trains ``groups``: ``(where, estimated seconds, why)``.

    The cost model is `group_seconds` (single-core seconds per group), spread over
    ``jobs`` workers largest first. ``where`` is

    - ``"here"``, this process: for one job or one group, or when the groups one after
      another take no longer than the alternative;
    - ``"threads"``: ``jobs`` threads of this process, when the groups are compute-bound
      (`compute_fraction` at least ``THREADS_MIN_COMPUTE``, weighted by cost) and spread over
      the threads they finish sooner than one after another;
    - ``"processes"``: ``jobs`` worker processes with one BLAS thread each, when the groups
      spread over them finish sooner than one after another, counting
      ``POOL_START_SECONDS`` unless a pool is running already.

    Only where groups run depends on this, never their numbers. ``shape`` is the data's
    ``(n_train, n_val, n_features, n_outputs)`` (`data_shape`).
    """
    weights = [group_seconds(g, *shape) for g in groups]
    costs = sorted(weights, reverse=True)
    serial = sum(costs)
    if jobs <= 1:
        return "here", serial, "--jobs 1"
    if len(groups) <= 1:
        return "here", serial, "a single group"
    loads = [0.0] * min(jobs, len(costs))
    for cost in costs:  # longest processing time first, onto the least loaded worker
        loads[loads.index(min(loads))] += cost
    spread = max(loads)
    n_features, n_outputs = shape[2], shape[3]
    fractions = [compute_fraction(g, n_features, n_outputs) for g in groups]
    fraction = sum(w * f for w, f in zip(weights, fractions)) / max(sum(weights), 1e-300)
    workers = len(loads)
    if fraction >= THREADS_MIN_COMPUTE:
        if spread < serial:
            return (
                "threads",
                spread,
                f"compute-bound groups ({fraction:.0%} of a step in products): about"
                f" {spread:.2g} s in {workers} threads, {serial:.2g} s one after another",
            )
        return (
            "here",
            serial,
            f"compute-bound but unbalanced groups: {workers} threads would take {spread:.2g} s,"
            f" one after another {serial:.2g} s",
        )
    pooled = spread + (0.0 if pool_started else POOL_START_SECONDS)
    if serial <= pooled:
        return (
            "here",
            serial,
            f"about {serial:.2g} s of work: {jobs} worker processes would take {pooled:.2g} s"
            " with their start",
        )
    return (
        "processes",
        pooled,
        f"about {serial:.2g} s of work on one core, {pooled:.2g} s on {jobs}",
    )


# --------------------------------------------------------------------------------------------
# Memory: refuse a sweep that cannot fit before allocating anything


def data_bytes(n_samples: int, n_columns: int) -> float:
    """Peak bytes of loading a dataset of ``n_samples`` rows and ``n_columns`` columns."""
    return DATA_BYTES_PER_VALUE * n_samples * n_columns


def builtin_data_bytes(spec: Spec) -> float:
    """Peak bytes of the spec's builtin dataset, from its options (0 for a file: its size is
    checked when it is read)."""
    d = spec.data
    if d.builtin is None:
        return 0.0
    columns = (d.n_features if d.builtin == "teacher" else 2) + 1
    return data_bytes(d.n_samples, columns)


def check_data_memory(spec: Spec, available: float | None = None) -> None:
    """Refuse a builtin dataset that would not fit in memory, before generating it."""
    need = builtin_data_bytes(spec)
    available = available_memory() if available is None else available
    if need > MEMORY_HEADROOM * available:
        d = spec.data
        raise SpecError(
            f"{spec.source_file}: data: the {d.builtin} builtin of {d.n_samples} samples needs"
            f" about {gib(need)} of memory, more than the {gib(available)} available; lower"
            " data.n_samples or data.n_features"
        )


def check_memory(
    spec: Spec,
    shape: tuple[int, int, int, int],
    group_sizes: Sequence[int],
    concurrent: int,
    available: float | None = None,
) -> None:
    """Refuse a sweep whose data plus ``concurrent`` groups at once would not fit in memory.

    ``shape`` is the data's ``(n_train, n_val, n_features, n_outputs)``; a group's memory
    is its members times `member_bytes` (parameters, gradients, optimizer state,
    activations), for the largest model any combination of the spec trains.
    """
    n_train, n_val, n_features, n_outputs = shape
    available = available_memory() if available is None else available
    data = data_bytes(n_train + n_val, n_features + 1)
    member = max(
        member_bytes(apply_combo(spec, combo) if combo else spec, n_features, n_outputs)
        for combo in spec.combos
    )
    largest = max(group_sizes, default=1)
    at_once = max(1, min(concurrent, len(group_sizes)))
    cap = MEMORY_HEADROOM * available
    if data + at_once * largest * member <= cap:
        return
    widths = "-".join(str(w) for w in (n_features, *spec.model.hidden, n_outputs))
    if data + member > cap:
        need, how, hint = data + member, "one run", "lower model.hidden"
    else:
        need = data + at_once * largest * member
        how = (
            f"{at_once} groups of {largest} runs at once"
            if at_once > 1
            else (f"a group of {largest} runs")
        )
        hint = "lower --jobs" if at_once > 1 else "set execution.group_size lower"
    raise SpecError(
        f"{spec.source_file}: model {widths}: needs about {gib(need)} of memory ({how},"
        f" {gib(member)} a run, {gib(data)} of data), more than the {gib(available)}"
        f" available; {hint}"
    )


# --------------------------------------------------------------------------------------------
# A whole sweep's estimate

# What a sweep costs beyond training its groups (CPU time of `run_sweep` less that of
# `train_group` on the same groups, configs/{digits,regression,hypergradient}.yaml, 2 cores,
# 2026-11-29): journaling a finished run (an fsync'd line) and writing its history, 2-4 ms;
# the summary once per sweep (plots excluded: `run` draws them after the sweep).
RUN_RECORD_SECONDS = 3e-3
SWEEP_OVERHEAD_SECONDS = 0.05


class PlanLike(Protocol):
    """What the sweep estimate reads of a round's plan (`lrsweep.plan.Plan`)."""

    @property
    def groups(self) -> Sequence[GroupLike]: ...
    @property
    def runs(self) -> Sequence[Any]: ...
    @property
    def notes(self) -> Sequence[str]: ...


class RoundEstimate(NamedTuple):
    """What one round of a sweep will likely train, and how long it will likely take."""

    round: int  # 0: the coarse grid; 1..: refine rounds (assumed best LR mid-grid)
    runs: int  # runs to train (runs an earlier round planned are not counted again)
    groups: int
    seconds: float  # wall time on ``jobs`` workers, where `execution_choice` puts them
    where: str  # "here", "threads" or "processes"
    note: str  # what the round does, as a sentence


class SweepEstimate(NamedTuple):
    """A sweep's likely cost from the cost model alone (nothing is trained)."""

    rounds: tuple[RoundEstimate, ...]
    range_test_runs: int  # ramped runs before round 0 (``grid.from_range_test``), else 0
    range_test_seconds: float
    seconds: float  # everything: range test, every round, recording
    work_seconds: float  # CPU time: the rounds on one core, plus starting any worker processes


def estimate_rounds(
    spec: Spec,
    shape: tuple[int, int, int, int],
    plans: Sequence[PlanLike],
    jobs: int,
    range_test_iters: int = 0,
) -> SweepEstimate:
    """A sweep's likely cost: each round's groups priced by `group_seconds`, spread over the
    workers as `execution_choice` would (a pool started once), plus the recording of every run
    and, with ``range_test_iters``, the range test first. Runs that diverge stop early, so a
    sweep with many diverging LRs finishes sooner than estimated."""
    n_features, n_outputs = shape[2], shape[3]
    test_runs = spec.train.seeds if range_test_iters else 0
    test_seconds = (
        range_test_seconds(spec, n_features, n_outputs, range_test_iters, test_runs)
        if range_test_iters
        else 0.0
    )
    rounds = []
    started = False
    work = test_seconds + SWEEP_OVERHEAD_SECONDS
    for round_, p in enumerate(plans):
        if not p.groups:
            continue
        work += execution_choice(p.groups, shape, 1)[1] + RUN_RECORD_SECONDS * len(p.runs)
        where, seconds, _ = execution_choice(p.groups, shape, jobs, started)
        if where == "processes" and not started:  # each worker's interpreter starts once
            work += jobs * POOL_START_SECONDS
        started = started or where == "processes"
        rounds.append(
            RoundEstimate(
                round_, len(p.runs), len(p.groups), seconds + RUN_RECORD_SECONDS * len(p.runs),
                where, p.notes[0] if p.notes else "the coarse grid",
            )
        )  # fmt: skip
    total = test_seconds + sum(r.seconds for r in rounds) + SWEEP_OVERHEAD_SECONDS
    return SweepEstimate(tuple(rounds), test_runs, test_seconds, total, work)
