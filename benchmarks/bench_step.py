"""Microseconds per lockstep training step on workload S (issue 18, item 3).

One 16-member group of the digits 64-64-10 MLP (batch 32, float32), LRs 1e-3 ... 1e-1 so no
member diverges and every step does the same work, one BLAS thread. Three timings per
optimizer, each the median and the minimum over ``--repeats`` epochs (45 steps each):

- ``step``: a whole training step as `train_group` takes it (batch gather, forward, loss,
  backward, divergence test, schedule, optimizer update, bookkeeping): `_Lockstep.train_epoch`
  divided by its steps;
- ``grad``: `lrsweep.model.train_step` alone (forward, loss, backward into the workspace);
- ``products``: the step's matrix products alone, into preallocated arrays (the floor a NumPy
  step cannot go below).

``--kernels numba`` runs the step with the compiled elementwise kernels (`lrsweep.kernels`,
loaded before the clock), ``numpy`` without; ``--workload`` picks another workload's model,
batch and K (M: one member of 784-256-256-10, batch 128).

Usage::

    .venv/bin/python benchmarks/bench_step.py [--repeats 30] [--optimizers sgd,sgd_momentum,adam]
        [--kernels numpy|numba] [--workload S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: one BLAS thread

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS  # noqa: E402

from lrsweep import kernels  # noqa: E402
from lrsweep.model import Workspace, train_step  # noqa: E402
from lrsweep.plan import plan_runs  # noqa: E402
from lrsweep.records import Group  # noqa: E402
from lrsweep.spec import apply_combo  # noqa: E402
from lrsweep.training import _Lockstep  # noqa: E402

LRS = np.logspace(-3, -1, 16)
OPTIMIZERS = {
    "sgd": {"optimizer.name": "sgd", "optimizer.momentum": 0.0},
    "sgd_momentum": {"optimizer.name": "sgd", "optimizer.momentum": 0.9},
    "adam": {"optimizer.name": "adam"},
}


def lockstep(optimizer: str, workload_name: str, compiled: bool) -> tuple[_Lockstep, object]:
    workload = WORKLOADS[workload_name]
    data = workload.load()
    spec = apply_combo(workload.spec(), tuple(OPTIMIZERS[optimizer].items()))
    lrs = LRS if workload.n_lrs >= len(LRS) else LRS[:: len(LRS) // workload.n_lrs]
    if workload.synthetic:
        lrs = LRS[:1]  # the compute-bound workloads train one run per group
    runs = plan_runs(spec, lrs.tolist(), 0)
    group = Group(spec, runs[0].seed, spec.train.epochs, 1.0, tuple(runs))
    ls = _Lockstep(group, data, time.perf_counter(), data)
    kern = kernels.load() if compiled else None  # the same numbers either way
    if compiled and kern is None:
        raise SystemExit(f"--kernels numba: not available ({kernels.failure() or 'no numba'})")
    ls.workspace = Workspace(kern)
    ls.optimizer.use_kernels(kern)
    return ls, data


def time_steps(
    optimizer: str, repeats: int, workload: str = "S", compiled: bool = False
) -> dict[str, list[float]]:
    ls, _ = lockstep(optimizer, workload, compiled)
    K = len(ls.members)
    X, y = ls.arrays.X_train, ls.arrays.y_train
    out: dict[str, list[float]] = {"step": [], "grad": [], "products": []}
    ls.train_epoch(1, None)  # warm: buffers, BLAS
    for epoch in range(repeats):
        t0 = time.perf_counter()
        ls.train_epoch(epoch + 2, None)
        out["step"].append((time.perf_counter() - t0) / ls.n_batches)
    assert len(ls.members) == K, "a member diverged: pick smaller LRs"
    # forward, loss and backward alone, on the same batches
    ws = ls.workspace
    batches = list(ls.epoch_batches(len(X)))
    batches = [b for b in batches if len(b) == ls.batch_size]
    layers, act, loss = ls.members.layers, ls.arrays.activation, ls.arrays.loss
    for _ in range(repeats):
        t0 = time.perf_counter()
        for idx in batches:
            train_step(layers, X[idx], y[idx], act, loss, ws)
        out["grad"].append((time.perf_counter() - t0) / len(batches))
    # the products alone (two hidden layers)
    n = ls.batch_size
    Xb = X[batches[0]]
    W0, W1, W2 = layers
    h1, h2, c = W0.shape[2], W1.shape[2], W2.shape[2]
    A1 = np.ones((K, n, h1 + 1), np.float32)
    A2 = np.ones((K, n, h2 + 1), np.float32)
    O = np.empty((K, n, c), np.float32)
    D2 = np.empty((K, n, h2 + 1), np.float32)
    D1 = np.empty((K, n, h1 + 1), np.float32)
    G2, G1, G0 = (np.empty_like(W) for W in (W2, W1, W0))
    W2T, W1T = np.empty((K, c, h2 + 1), np.float32), np.empty((K, h2, h1 + 1), np.float32)
    ones = np.ones(n, np.float32)
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in batches:
            np.matmul(Xb, W0[:, :-1], out=A1[..., :h1])
            np.matmul(A1, W1, out=A2[..., :h2])
            np.matmul(A2, W2, out=O)
            np.matmul(ones, O, out=O[:, 0])  # the loss's sum over classes, roughly
            np.matmul(A2.transpose(0, 2, 1), O, out=G2)
            np.copyto(W2T, W2.transpose(0, 2, 1))
            np.matmul(O, W2T, out=D2)
            np.matmul(A1.transpose(0, 2, 1), D2[..., :h2], out=G1)
            np.copyto(W1T, W1.transpose(0, 2, 1))
            np.matmul(D2[..., :h2], W1T, out=D1)
            np.matmul(Xb.T, D1[..., :h1], out=G0[:, :-1])
            np.matmul(ones, D1[..., :h1], out=G0[:, -1])
        out["products"].append((time.perf_counter() - t0) / len(batches))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="epochs timed (default 30)")
    parser.add_argument("--optimizers", default="sgd,sgd_momentum,adam")
    parser.add_argument("--kernels", choices=("numpy", "numba"), default="numpy")
    parser.add_argument("--workload", default="S", choices=sorted(WORKLOADS))
    args = parser.parse_args()
    w = WORKLOADS[args.workload]
    print(
        f"workload {w.name} ({w.description}), kernels {args.kernels}, one BLAS thread;"
        " us per step, median (min)"
    )
    print(f"{'optimizer':<14}{'step':>16}{'grad':>16}{'products':>16}")
    for name in args.optimizers.split(","):
        t = time_steps(name, args.repeats, args.workload, args.kernels == "numba")
        cells = [
            f"{statistics.median(v) * 1e6:8.1f} ({min(v) * 1e6:5.1f})"
            for v in (t["step"], t["grad"], t["products"])
        ]
        print(f"{name:<14}" + "".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
