"""What a learning-rate-free optimizer costs: a 16-LR lockstep group of each, against Adam.

For workload S of ``workloads.py`` (64-64-10 MLP on the digits, batch 32, 20 epochs) this
trains one 16-member group per optimizer, in this process with one BLAS thread, repeats
interleaved (A, B, C, A, B, C, ...), and prints a table: the best time of the group, its ratio
to the Adam group, how many members finished OK, and the time of one optimizer step on the
group's (16, P) parameters alone. The 16 nominal LRs are ``default_lr x 10^[-1.5, -0.5]``
for every method, a range where no member diverges, so every group does the same work.
The target (issue 17): every ratio at most 1.5.

Usage::

    .venv/bin/python benchmarks/bench_optimizers.py [--repeats 3] [--epochs 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

NAMES = ("adam", "prodigy", "dadapt_sgd", "dadapt_adam", "sgd_schedulefree",
         "adamw_schedulefree", "dog", "cocob")  # fmt: skip
TARGET = 1.5  # at most this many Adam groups


def group_for(name: str, epochs: int):
    from workloads import WORKLOADS

    from lrsweep.optimizers import OPTIMIZERS
    from lrsweep.plan import plan_runs
    from lrsweep.records import Group
    from lrsweep.spec import validate_spec

    workload = WORKLOADS["S"]
    document = workload.spec().model_dump(exclude={"base_dir", "source_file"})
    document["optimizer"] = {"name": name, "momentum": 0.9 if "schedulefree" in name else 0.0}
    document["train"]["epochs"] = epochs
    spec = validate_spec(document)
    lrs = OPTIMIZERS[name].default_lr * np.logspace(-1.5, -0.5, 16)
    runs = plan_runs(spec, lrs, 0)
    return Group(spec, runs[0].seed, epochs, 1.0, tuple(runs)), workload.load()


def step_seconds(name: str, n_weights: int, repeats: int = 200) -> float:
    """Best time of one optimizer step on a (16, P) float32 array."""
    from lrsweep.optimizers import make_optimizer

    rng = np.random.default_rng(0)
    theta = rng.standard_normal((16, n_weights)).astype(np.float32)
    grad = rng.standard_normal((16, n_weights)).astype(np.float32)
    optimizer = make_optimizer({"name": name, "momentum": 0.9}, [theta])
    lr = np.full(16, 1e-4, dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        g = grad.copy()
        start = time.perf_counter()
        optimizer.step([theta], [g], lr)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from lrsweep.records import RunStatus
    from lrsweep.training import train_group

    groups = {name: group_for(name, args.epochs) for name in NAMES}
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    ok: dict[str, int] = {}
    with threadpool_limits(limits=1):
        for name in NAMES[:1]:  # warm-up: imports, BLAS, allocator
            train_group(*groups[name])
        for _ in range(args.repeats):
            for name in NAMES:
                start = time.perf_counter()
                results = train_group(*groups[name])
                times[name].append(time.perf_counter() - start)
                ok[name] = sum(r.status is RunStatus.OK for r in results)
        data = groups["adam"][1]
        n_weights = sum(a * b + b for a, b in zip([64, 64, 64], [64, 64, data.n_outputs]))
        steps = {name: step_seconds(name, n_weights) for name in NAMES}
    base = min(times["adam"])
    print(f"16-LR lockstep group, workload S ({args.epochs} epochs), 1 BLAS thread, "
          f"best of {args.repeats}")  # fmt: skip
    print(f"| optimizer | group s | x adam | ok | step ms (16 x {n_weights}) | target |")
    print("|---|---:|---:|---:|---:|---|")
    for name in NAMES:
        ratio = min(times[name]) / base
        verdict = "" if name == "adam" else ("ok" if ratio <= TARGET else f"> {TARGET}")
        print(f"| {name} | {min(times[name]):.2f} | {ratio:.2f} | {ok[name]}/16 "
              f"| {steps[name] * 1e3:.3f} | {verdict} |")  # fmt: skip


if __name__ == "__main__":
    main()
