"""Training throughput of lrsweep's strategies on the reference workloads (`make bench`).

For every workload of ``workloads.py`` this prints one row per strategy: a single run; the
16-LR sweep run one after another, in local processes, in lockstep, and as lrsweep chooses by
itself; and, if PyTorch is importable, a plain PyTorch CPU loop as reference. Every
measurement runs in a fresh subprocess (so its peak RSS is its own), repeats are interleaved
(A, B, C, A, B, C, ...) so a noisy machine shows as a wide min-max, and the float32 matmul peak
the fractions refer to is measured by the same script in the same run. The table goes to
stdout and to ``benchmarks/results.md``; see ``benchmarks/README.md`` for the columns and the
targets.

Usage::

    .venv/bin/python benchmarks/bench_training.py [--workloads S,M,L] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `workloads` next to this file, also in the worker processes

from workloads import SINGLE_LR, WORKLOADS, Workload  # noqa: E402

RESULTS_FILE = HERE / "results.md"
PEAK_SIZE = 2048  # float32 square matmul used to measure the peak (~17 GFLOP per product)
PEAK_REPEATS = 5
HELP_REPEATS = 7
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

# (key, label): the lrsweep strategies first, then the PyTorch references
STRATEGIES = [
    ("single", "single run"),
    ("sequential", "16 LRs, one after another"),
    ("processes", "16 LRs, local processes"),
    ("threads", "16 LRs, threads"),
    ("lockstep", "16 LRs, lockstep (K=16)"),
    ("auto", "16 LRs, lrsweep's choice"),
]
TORCH_STRATEGIES = [
    ("torch_single", "PyTorch single run"),
    ("torch_sequential", "PyTorch 16 LRs, sequential"),
]
# JAX: a jitted SGD step vmapped over the LRs, lax.scan over an epoch's batches. "steady
# state" times a second call in the process (compiled already), "end to end" the first.
JAX_STRATEGIES = [
    ("jax_single", "JAX single run, steady state"),
    ("jax_sweep", "JAX 16 LRs, vmap, steady state"),
    ("jax_sweep_e2e", "JAX 16 LRs, vmap, end to end"),
]


# --------------------------------------------------------------------------------------------
# Worker side: one strategy on one workload, in a fresh process; prints one JSON line.
# --------------------------------------------------------------------------------------------


def _groups(workload: Workload, data: Any, lrs: Sequence[float], size: int | None) -> list[Any]:
    """The sweep's groups: of ``size`` members each, or of lrsweep's own size (None)."""
    from lrsweep.mlp import pack_lockstep
    from lrsweep.plan import plan_runs
    from lrsweep.records import Group

    spec = workload.spec()
    runs = plan_runs(spec, lrs, 0)
    if size is None:
        return pack_lockstep(spec, runs, data.X_train.shape[1], data.n_outputs)
    return [
        Group(spec, runs[0].seed, spec.train.epochs, 1.0, tuple(runs[i : i + size]))
        for i in range(0, len(runs), size)
    ]


def _train_serially(groups: list[Any], data: Any) -> list[Any]:
    from lrsweep.mlp import train_mlp_group

    return [r for g in groups for r in train_mlp_group(g, data)]


def _train_in_executor(
    groups: list[Any], data: Any, jobs: int | None, force: str | None = None
) -> tuple[list[Any], str]:
    """Through `make_executor(jobs)` as `lrsweep run` does, or always (``force``) in a pool of
    local worker processes (``"processes"``) or in threads (``"threads"``), whatever the work."""
    from lrsweep.executors import ProcessExecutor, ThreadExecutor, default_jobs, make_executor
    from lrsweep.trainer import make_trainer

    n = jobs or default_jobs()
    forced = {"processes": ProcessExecutor, "threads": ThreadExecutor}
    work = make_trainer(groups[0].spec, data).work(groups)
    with forced[force](n) if force else make_executor(jobs) as executor:
        results = [r for _, results in executor.map_groups(work, groups) for r in results]
        choice = getattr(executor, "last_choice", None)  # LocalExecutor's execution_choice
        return results, choice[0] if choice else "here"


def _torch_runs(workload: Workload, data: Any, lrs: Sequence[float]) -> Callable[[], int]:
    """A plain PyTorch CPU loop over ``lrs``, one after another, with the trainer's evaluations."""
    import torch

    X = torch.from_numpy(np.array(data.X_train, dtype=np.float32))  # writable copies
    y = torch.from_numpy(np.array(data.y_train))
    X_val = torch.from_numpy(np.array(data.X_val, dtype=np.float32))
    y_val = torch.from_numpy(np.array(data.y_val))
    sizes = workload.sizes(data)
    n, batch = len(X), workload.batch_size

    def run(lrs: Sequence[float] = lrs, steps: int | None = None) -> int:
        diverged = 0
        for lr in lrs:
            torch.manual_seed(0)
            layers: list[torch.nn.Module] = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
            net = torch.nn.Sequential(*layers[:-1])
            opt = torch.optim.SGD(net.parameters(), lr=float(lr))
            loss_fn = torch.nn.CrossEntropyLoss()
            order = torch.Generator().manual_seed(0)
            with torch.no_grad():  # epoch 0, as the trainer logs it
                loss_fn(net(X), y)
                loss_fn(net(X_val), y_val)
            for _ in range(workload.epochs):
                perm = torch.randperm(n, generator=order)
                for i in range(0, n if steps is None else steps * batch, batch):
                    idx = perm[i : i + batch]
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(net(X[idx]), y[idx])
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    val_loss = loss_fn(net(X_val), y_val)
            diverged += not bool(torch.isfinite(val_loss))
        return diverged

    return run


def _jax_runs(workload: Workload, data: Any, lrs: Sequence[float]) -> Callable[[], int]:
    """The JAX reference: ``vmap`` over ``lrs`` of a jitted SGD step, ``lax.scan`` over each
    epoch's full batches (the remainder is one more step), the trainer's evaluations."""
    import jax
    import jax.numpy as jnp

    arrays = (
        jnp.asarray(np.asarray(data.X_train, dtype=np.float32)),
        jnp.asarray(np.asarray(data.y_train, dtype=np.int32)),
        jnp.asarray(np.asarray(data.X_val, dtype=np.float32)),
        jnp.asarray(np.asarray(data.y_val, dtype=np.int32)),
    )
    sizes = workload.sizes(data)
    n, batch = len(data.X_train), workload.batch_size
    full = n // batch

    def loss(params: Any, xb: Any, yb: Any) -> Any:
        h = xb
        for W, b in params[:-1]:
            h = jax.nn.relu(h @ W + b)
        W, b = params[-1]
        logp = jax.nn.log_softmax(h @ W + b)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    def step(params: Any, lr: Any, xb: Any, yb: Any) -> Any:
        grads = jax.grad(loss)(params, xb, yb)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads)

    def epoch(params: Any, lr: Any, perm: Any, X: Any, y: Any, X_val: Any, y_val: Any) -> Any:
        head = perm[: full * batch]
        xs, ys = X[head].reshape(full, batch, -1), y[head].reshape(full, batch)
        params, _ = jax.lax.scan(lambda p, b: (step(p, lr, *b), None), params, (xs, ys))
        if full * batch < n:
            params = step(params, lr, X[perm[full * batch :]], y[perm[full * batch :]])
        return params, loss(params, X_val, y_val)

    shared = (None,) * 5
    v_epoch = jax.jit(jax.vmap(epoch, in_axes=(0, 0, *shared)))
    v_eval = jax.jit(
        jax.vmap(lambda p, X, y, Xv, yv: (loss(p, X, y), loss(p, Xv, yv)), (0, *shared[1:]))
    )

    def run() -> int:
        key = jax.random.PRNGKey(0)
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            key, sub = jax.random.split(key)
            W = jax.random.normal(sub, (fan_in, fan_out), jnp.float32) * np.sqrt(2.0 / fan_in)
            params.append((W, jnp.zeros(fan_out, jnp.float32)))
        K = len(lrs)
        stacked = jax.tree.map(lambda a: jnp.broadcast_to(a, (K, *a.shape)), params)
        lr_vec = jnp.asarray(np.asarray(lrs, dtype=np.float32))
        v_eval(stacked, *arrays)  # epoch 0, as the trainer logs it
        order = np.random.default_rng(0)
        for _ in range(workload.epochs):
            perm = jnp.asarray(order.permutation(n))
            stacked, val_loss = v_epoch(stacked, lr_vec, perm, *arrays)
        return int((~np.isfinite(np.asarray(val_loss))).sum())  # waits for the result

    return run


def worker(workload_name: str, strategy: str) -> dict[str, Any]:
    """Run one strategy once; return its wall time, divergences and peak RSS."""
    workload = WORKLOADS[workload_name]
    data = workload.load()
    where = ""  # where lrsweep's choice trained the groups (the "auto" row only)
    if strategy.startswith("jax"):
        lrs = [SINGLE_LR] if strategy == "jax_single" else list(workload.sweep_lrs())
        run = _jax_runs(workload, data, lrs)
        if strategy != "jax_sweep_e2e":
            run()  # steady state: compiled (and warmed) by a first call
        gc.collect()  # the full collection imports leave pending (numba: ~0.08 s), untimed
        start = time.perf_counter()
        diverged = run()
        seconds = time.perf_counter() - start
        n_runs = len(lrs)
        samples = n_runs * len(data.X_train) * workload.epochs  # every run trains out
    elif strategy.startswith("torch"):
        lrs = [SINGLE_LR] if strategy == "torch_single" else list(workload.sweep_lrs())
        run = _torch_runs(workload, data, lrs)
        run([SINGLE_LR], steps=5)  # warm up: PyTorch's first steps in a process cost ~0.7 s
        # (the lrsweep rows warm up the same way, with about 5 batches of one run)
        gc.collect()  # the full collection imports leave pending (numba: ~0.08 s), untimed
        start = time.perf_counter()
        diverged = run()
        seconds = time.perf_counter() - start
        n_runs = len(lrs)
        samples = n_runs * len(data.X_train) * workload.epochs  # PyTorch trains every run out
    else:
        from lrsweep import kernels
        from lrsweep.mlp import train_mlp_group
        from lrsweep.records import RunStatus

        if kernels.mode() != "numpy":  # numba's import and cache load, before the clock like
            kernels.load()  # every other import (a fresh process's cost: `kernel_load_worker`)

        sweep = workload.sweep_lrs()
        if strategy == "single":
            groups = _groups(workload, data, [SINGLE_LR], 1)
        elif strategy == "lockstep":
            groups = _groups(workload, data, sweep, len(sweep))
        elif strategy == "auto":
            groups = _groups(workload, data, sweep, None)
        else:
            groups = _groups(workload, data, sweep, 1)
        # warm up as the PyTorch rows do (a few steps in this process before the clock starts:
        # BLAS threads started, allocator pages touched): about 5 batches of one run
        from lrsweep.records import Group

        first = groups[0]
        fraction = min(1.0, 5 * workload.batch_size / len(data.X_train))
        # the largest group's members: the compiled kernels' specializations for its arrays
        # load here (about 10 ms each, once per process), not on the clock
        train_mlp_group(Group(first.spec, first.seed, 1, fraction, first.runs), data)
        gc.collect()  # the full collection imports leave pending (numba: ~0.08 s), untimed
        start = time.perf_counter()
        if strategy in ("processes", "threads"):
            results, _ = _train_in_executor(groups, data, jobs=None, force=strategy)  # 1 per core
        elif strategy == "auto":
            results, where = _train_in_executor(groups, data, jobs=None)  # as `lrsweep run`
        else:
            results = _train_serially(groups, data)
        seconds = time.perf_counter() - start
        failed = [r.message for r in results if r.status == RunStatus.FAILED]
        if failed:
            raise RuntimeError(f"{strategy}: {len(failed)} runs failed: {failed[0]}")
        diverged = sum(r.status == RunStatus.DIVERGED for r in results)
        n_runs = len(results)
        full = len(data.X_train) * workload.epochs
        # a diverged run stops early: count the batches it did train (its last logged step)
        samples = sum(
            full
            if r.status == RunStatus.OK
            else min(full, r.history[-1].step * workload.batch_size)
            for r in results
        )
        group_sizes = sorted({len(g.runs) for g in groups})
        if kernels.is_loaded() and strategy in ("single", "sequential", "lockstep", "auto"):
            where = f"{where or 'here'}, compiled"  # trained in this process: the kernels ran
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "n_train": len(data.X_train),
        "n_weights": workload.n_weights(data),
        "n_runs": n_runs,
        "samples": int(samples),
        "diverged": int(diverged),
        "rss_mb": self_rss,
        "child_rss_mb": child_rss,
        "group_sizes": [] if strategy.startswith(("torch", "jax")) else group_sizes,
        "where": where,
    }


# --------------------------------------------------------------------------------------------
# Driver side: the peak, the --help time, the interleaved repeats and the table.
# --------------------------------------------------------------------------------------------


def matmul_gflops(size: int = PEAK_SIZE, repeats: int = PEAK_REPEATS) -> float:
    """Best float32 ``np.matmul`` rate of two square matrices, in GFLOP/s, in this process."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)  # warm up: threads started, pages touched
    best = min(_timed(lambda: np.matmul(a, b, out=c)) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def kernel_load_worker() -> dict[str, Any]:
    """What the compiled kernels cost a fresh process: numba's import, the cache's load, and the
    first S step's kernels (from the cache, which the driver has built)."""
    from lrsweep import kernels, model, optimizers

    start = time.perf_counter()
    kern = kernels.load()
    if kern is None:
        return {"seconds": None, "why": kernels.failure() or "numba is not installed"}
    data = WORKLOADS["S"].load()
    sizes = WORKLOADS["S"].sizes(data)
    theta = model.init_theta(sizes, 16, activation="relu", rng=np.random.default_rng(0))
    layers = model.layer_views(theta, sizes)
    optimizer = optimizers.make_optimizer({"name": "sgd"}, [theta])
    optimizer.use_kernels(kern)
    X = np.asarray(data.X_train[:32], dtype=np.float32)
    _, grad = model.train_step(layers, X, data.y_train[:32], "relu", "cross_entropy",
                               model.Workspace(kern))  # fmt: skip
    optimizer.step([theta], [grad], np.full(16, 0.01, dtype=np.float32))
    return {"seconds": time.perf_counter() - start, "why": ""}


def kernel_lines(setting: str) -> list[str]:
    """Build the kernels' cache (`python -m lrsweep.kernels`) and time a fresh process's load."""
    if setting == "numpy":
        return ["- compiled kernels: off (--kernels numpy): every row on NumPy"]
    env = {**_env(None), "LRSWEEP_KERNELS": setting}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lrsweep.kernels"], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        return [f"- compiled kernels: unavailable ({proc.stderr.strip()}): every row on NumPy"]
    build = time.perf_counter() - start
    loads = [_run_worker(["--kernel-load"], extra=env)["seconds"] for _ in range(3)]
    return [
        f"- compiled kernels (numba {importlib.metadata.version('numba')}, --kernels "
        f"{setting}): cache built or checked in {build:.1f} s; a fresh process loads them in "
        f"{statistics.median(loads):.2f} s (median of 3: numba's import, the cache, S's first "
        "step), before the clock in the lrsweep rows' workers like their imports; `compiled` "
        "marks the rows that trained with them"
    ]


def peak_worker(threads: int) -> dict[str, Any]:
    """The matmul peak at ``threads`` BLAS threads, in this (fresh) process."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the driver has set OPENBLAS_NUM_THREADS & co. for this process
        return {"gflops": matmul_gflops(), "how": "subprocesses with OPENBLAS_NUM_THREADS"}
    with threadpool_limits(limits=threads, user_api="blas"):
        return {"gflops": matmul_gflops(), "how": "threadpoolctl"}


def measure_peaks() -> tuple[dict[int, float], str]:
    """The matmul peak at 1 and 2 BLAS threads, and how the threads were controlled.

    Measured in subprocesses like everything else: BLAS threads that have just worked keep
    spinning for a while, and in the driver they would slow down the next measurement.
    """
    peaks, how = {}, ""
    for threads in (1, 2):
        out = _run_worker(["--peak", str(threads)], threads=threads)
        peaks[threads], how = float(out["gflops"]), out["how"]
    return peaks, how


def _env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if threads is not None:
        env.update({k: str(threads) for k in THREAD_VARS})
    return env


def _run_worker(
    args: list[str], threads: int | None = None, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    env = {**_env(threads), **(extra or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def help_seconds(repeats: int = HELP_REPEATS) -> float:
    """Median wall time of ``lrsweep --help`` (the installed command, else ``-m lrsweep``)."""
    script = Path(sys.executable).with_name("lrsweep")
    if script.exists():
        cmd = [str(script), "--help"]
    elif shutil.which("lrsweep"):
        cmd = ["lrsweep", "--help"]
    else:
        cmd = [sys.executable, "-m", "lrsweep", "--help"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Row:
    """The repeats of one strategy on one workload."""

    workload: str
    strategy: str
    label: str
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(s["seconds"] for s in self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        times = [s["seconds"] for s in self.samples]
        return min(times), max(times)


def _fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def _threads_of(strategy: str) -> str:
    if strategy in ("processes", "threads", "auto"):
        return "procs×1"
    return "default"


def two_core_limit(peaks: dict[int, float]) -> float:
    """The 2-core matmul limit: the 2-thread peak, or twice the 1-thread one if that is more
    (a moment of contention while measuring must not inflate the fractions)."""
    return max(peaks[2], 2 * peaks[1])


def _samples(row: Row) -> float:
    """Median samples trained per repeat (diverged runs stop early, so it can vary)."""
    return statistics.median(s["samples"] for s in row.samples)


def table(rows: list[Row], peaks: dict[int, float], data_info: dict[str, Any]) -> list[str]:
    """The markdown table, one line per row."""
    peak = two_core_limit(peaks)
    lines = [
        "| workload | strategy | runs | groups | div | seconds, median (min–max) | samples/s "
        "| GFLOP/s | % peak | peak RSS MB | × single | × torch |",
        "|---|---|---:|---|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    by_key = {(r.workload, r.strategy): r for r in rows}
    for row in rows:
        if not row.samples:
            continue
        info = data_info[row.workload]
        last = row.samples[-1]
        n_runs = last["n_runs"]
        samples = _samples(row)
        flops = 6.0 * info["n_weights"] * samples
        t = row.seconds
        lo, hi = row.spread
        rss = f"{max(s['rss_mb'] for s in row.samples):.0f}"
        child = max(s["child_rss_mb"] for s in row.samples)
        if row.strategy in ("processes", "auto"):
            rss += f" + {child:.0f}/worker"
        single = by_key.get((row.workload, "single"))
        torch_ref = by_key.get(
            (row.workload, "torch_single" if n_runs == 1 else "torch_sequential")
        )
        x_single = f"{t / single.seconds:.2f}" if single and single.samples else "–"
        x_torch = f"{t / torch_ref.seconds:.3f}" if torch_ref and torch_ref.samples else "–"
        groups = ",".join(str(g) for g in last["group_sizes"]) or "–"
        label = f"{row.label} ({last['where']})" if last.get("where") else row.label
        lines.append(
            f"| {row.workload} | {label} | {n_runs} | {groups} | {last['diverged']} "
            f"| {t:.3f} ({lo:.3f}–{hi:.3f}) | {_fmt_rate(samples / t)} | {flops / t / 1e9:.1f} "
            f"| {100 * flops / t / 1e9 / peak:.0f} % | {rss} | {x_single} | {x_torch} |"
        )
    return lines


def check_targets(
    rows: list[Row], peaks: dict[int, float], data_info: dict[str, Any], help_s: float
) -> list[str]:
    """One line per README target: measured value, the target and whether it is met."""
    by_key = {(r.workload, r.strategy): r for r in rows if r.samples}

    def t(w: str, s: str) -> float | None:
        row = by_key.get((w, s))
        return row.seconds if row else None

    def gflops(w: str, s: str) -> float | None:
        row = by_key.get((w, s))
        if row is None:
            return None
        return 6.0 * data_info[w]["n_weights"] * _samples(row) / row.seconds / 1e9

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a / b

    limit = two_core_limit(peaks)

    checks: list[tuple[str, float | None, str, Callable[[float], bool], str]] = [
        ("S single run, time vs PyTorch CPU loop", ratio(t("S", "single"), t("S", "torch_single")),
         "≤ 0.2 ×", lambda v: v <= 0.2, "{:.3f} ×"),
        ("M single run vs PyTorch", ratio(t("M", "single"), t("M", "torch_single")),
         "≤ 0.95 ×", lambda v: v <= 0.95, "{:.3f} ×"),
        ("L single run vs PyTorch", ratio(t("L", "single"), t("L", "torch_single")),
         "≤ 0.95 ×", lambda v: v <= 0.95, "{:.3f} ×"),
        ("L single run fraction of float32 matmul peak (2 cores)",
         ratio(gflops("L", "single"), limit / 100), "≥ 85 %", lambda v: v >= 85, "{:.0f} %"),
        ("S 16-LR sweep (lrsweep's choice) wall time vs one single run",
         ratio(t("S", "auto"), t("S", "single")), "≤ 3.0 ×", lambda v: v <= 3.0, "{:.2f} ×"),
        ("S 16-LR sweep vs a sequential PyTorch sweep (speed-up)",
         ratio(t("S", "torch_sequential"), t("S", "auto")), "≥ 25 × faster",
         lambda v: v >= 25, "{:.1f} × faster"),
        ("M 16-LR sweep (lrsweep's choice) fraction of the 2-core matmul limit",
         ratio(gflops("M", "auto"), limit / 100), "≥ 90 %", lambda v: v >= 90, "{:.0f} %"),
        ("`lrsweep --help` wall time", help_s, "≤ 0.3 s", lambda v: v <= 0.3, "{:.3f} s"),
        ("S model, 64 LRs (lrsweep's choice) wall time", t("S64", "auto"), "≤ 1.0 s",
         lambda v: v <= 1.0, "{:.3f} s"),
    ]  # fmt: skip
    goals = {"S": 45, "M": 80, "L": 85}  # % of the 2-core limit, work actually done (issue 18)
    for w, goal in goals.items():
        checks.append(
            (f"{w} sweep (lrsweep's choice) fraction of the 2-core limit",
             ratio(gflops(w, "auto"), limit / 100), f"≥ {goal} %",
             lambda v, goal=goal: v >= goal, "{:.0f} %")
        )  # fmt: skip
    for w in sorted({r.workload for r in rows}):
        peers = [t(w, s) for s in ("torch_sequential", "jax_sweep")]
        fastest = min((p for p in peers if p is not None), default=None)
        checks.append(
            (f"{w} sweep (lrsweep's choice) vs the fastest peer's steady state",
             ratio(fastest, t(w, "auto")), "≥ 1.5 × faster", lambda v: v >= 1.5,
             "{:.2f} × faster")
        )  # fmt: skip
    lines = ["| target | measured | goal | met |", "|---|---:|---|---|"]
    for name, value, goal, ok, fmt in checks:
        if value is None:
            lines.append(f"| {name} | not measured | {goal} | – |")
        else:
            lines.append(
                f"| {name} | {fmt.format(value)} | {goal} | {'yes' if ok(value) else 'NO'} |"
            )
    return lines


def machine_lines(
    peaks: dict[int, float], how: str, torch_version: str | None, jax_version: str | None = None
) -> list[str]:
    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            blas = f"{info[0]['internal_api']} {info[0]['version']} ({info[0]['architecture']})"
    except ImportError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- machine: {cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, BLAS {blas}; PyTorch {torch_version or 'not installed'};"
        f" JAX {jax_version or 'not installed'}",
        f"- float32 matmul peak ({PEAK_SIZE}² square, threads via {how}): "
        f"1 thread {peaks[1]:.0f} GFLOP/s, 2 threads {peaks[2]:.0f} GFLOP/s; "
        f"2-core limit max(2-thread, 2 × 1-thread) = {two_core_limit(peaks):.0f} GFLOP/s "
        "(what % peak refers to)",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workloads",
        default="S,M,L,S4,S64,S20K",
        help="comma-separated: S, M, L, S4 and S64 (S with 4 and 64 LRs), S20K and S200K (S on"
        " 20k and 200k rows)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    parser.add_argument("--quick", action="store_true", help="S only, 1 repeat (smoke test)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX rows")
    parser.add_argument(
        "--kernels",
        choices=("auto", "numpy", "numba"),
        default="auto",
        help="LRSWEEP_KERNELS for the lrsweep rows (default auto: where the cost model says)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_FILE, help="where the table goes")
    parser.add_argument(
        "--worker", nargs=2, metavar=("WORKLOAD", "STRATEGY"), help=argparse.SUPPRESS
    )
    parser.add_argument("--peak", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    parser.add_argument("--kernel-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if args.peak:
        print(json.dumps(peak_worker(args.peak)))
        return 0
    if args.kernel_load:
        print(json.dumps(kernel_load_worker()))
        return 0

    names = ["S"] if args.quick else [w.strip().upper() for w in args.workloads.split(",")]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        parser.error(f"--workloads: unknown {unknown}; choose from {', '.join(WORKLOADS)}")
    repeats = 1 if args.quick else args.repeats
    torch_version = None  # looked up without importing torch (nor numpy work) in the driver
    if not args.no_torch and importlib.util.find_spec("torch") is not None:
        torch_version = importlib.metadata.version("torch")
    strategies = STRATEGIES + (TORCH_STRATEGIES if torch_version else [])
    jax_version = None  # optional like torch: `pip install jax` in the benchmark's environment
    if not args.no_jax and importlib.util.find_spec("jax") is not None:
        jax_version = importlib.metadata.version("jax")
        strategies += JAX_STRATEGIES

    started = time.perf_counter()
    peaks, how = measure_peaks()
    help_s = help_seconds()
    header = machine_lines(peaks, how, torch_version, jax_version) + kernel_lines(args.kernels)
    for line in header:
        print(line, flush=True)

    rows: list[Row] = []
    data_info: dict[str, Any] = {}
    for name in names:
        w = WORKLOADS[name]
        print(f"\n{name}: {w.description}", flush=True)
        n = w.n_lrs
        workload_rows = [
            Row(name, key, label.replace("16 LRs", f"{n} LRs").replace("K=16", f"K={n}"))
            for key, label in strategies
        ]
        for rep in range(repeats):  # interleaved: A, B, C, A, B, C, ...
            for row in workload_rows:
                sample = _run_worker(
                    ["--worker", name, row.strategy], extra={"LRSWEEP_KERNELS": args.kernels}
                )
                row.samples.append(sample)
                data_info[name] = {k: sample[k] for k in ("n_train", "n_weights")}
                print(
                    f"  repeat {rep + 1}/{repeats} {row.label:30s} {sample['seconds']:8.3f} s",
                    flush=True,
                )
        rows += workload_rows

    lines = [
        f"# Training benchmark ({time.strftime('%Y-%m-%d %H:%M')}, repeats={repeats})",
        "",
        *header,
        f"- `lrsweep --help`: {help_s:.3f} s (median of {HELP_REPEATS})",
        "",
        *table(rows, peaks, data_info),
        "",
        "Targets (benchmarks/README.md):",
        "",
        *check_targets(rows, peaks, data_info, help_s),
        "",
        f"Total benchmark time {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
