"""NumPy against the compiled kernels, A/B interleaved in fresh processes (issue 27).

For each workload, one lockstep group of its sweep's LRs (M and L: one run, as lrsweep groups
them) is trained by `train_group` in a fresh process with one BLAS thread, alternately with
``LRSWEEP_KERNELS=numpy`` and ``numba`` (A, B, A, B, ...): the clock covers training only;
numba's import and cache load come before it (and are printed apart, as ``load``), and so
does a full garbage collection (the imports leave one pending: ~0.04 s, ~0.08 s with numba's
objects, paid by the first group a process trains otherwise). The
histories of the two paths must be identical, which is checked too.

Usage::

    .venv/bin/python benchmarks/bench_kernels.py [--workloads S,S4,S20K,M] [--repeats 5]
        [--optimizer sgd]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import SINGLE_LR, WORKLOADS  # noqa: E402


def worker(name: str, optimizer: str) -> dict[str, object]:
    from lrsweep import kernels
    from lrsweep.mlp import train_mlp_group
    from lrsweep.plan import plan_runs
    from lrsweep.records import Group
    from lrsweep.spec import apply_combo

    workload = WORKLOADS[name]
    data = workload.load()
    spec = apply_combo(workload.spec(), (("optimizer.name", optimizer),))
    lrs = [SINGLE_LR] if workload.synthetic else list(workload.sweep_lrs())
    runs = tuple(plan_runs(spec, lrs, 0))
    start = time.perf_counter()
    if kernels.mode() == "numba":
        kernels.load()
    load = time.perf_counter() - start
    fraction = min(1.0, 5 * workload.batch_size / len(data.X_train))
    # about 5 steps of the same group before the clock: BLAS, pages, and each kernel's
    # specializations for these arrays (a process's first group loads them: ~10 ms each)
    train_mlp_group(Group(spec, runs[0].seed, 1, fraction, runs), data)
    gc.collect()  # the full collection the imports left pending (numba's: ~0.08 s), not timed
    start, cpu = time.perf_counter(), time.process_time()
    results = train_mlp_group(Group(spec, runs[0].seed, spec.train.epochs, 1.0, runs), data)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    digest = hashlib.sha256(repr([r.history for r in results]).encode()).hexdigest()[:12]
    return {"seconds": seconds, "cpu": cpu, "load": load, "histories": digest}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="S,S4,S20K,M")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "lrsweep.kernels"], env=env, check=True)  # the cache
    print(f"optimizer {args.optimizer}; seconds of train_group, median (min-max) of "
          f"{args.repeats}, A/B interleaved; one BLAS thread; CPU: CPU seconds")  # fmt: skip
    print(f"{'workload':<9}{'numpy':>22}{'numba':>22}{'speed-up':>10}{'CPU numpy':>11}"
          f"{'CPU numba':>11}{'speed-up':>10}{'load':>8}  same")  # fmt: skip
    for name in args.workloads.split(","):
        samples: dict[str, list[dict[str, object]]] = {"numpy": [], "numba": []}
        for _ in range(args.repeats):
            for setting in samples:
                proc = subprocess.run(
                    [sys.executable, __file__, "--worker", name, args.optimizer],
                    env={**env, "LRSWEEP_KERNELS": setting},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                samples[setting].append(json.loads(proc.stdout.splitlines()[-1]))
        cells, medians = [], []
        for rows in samples.values():
            times = [float(str(r["seconds"])) for r in rows]
            medians.append(statistics.median(times))
            cells.append(f"{medians[-1]:.3f} ({min(times):.3f}-{max(times):.3f})")
        cpu = [statistics.median(float(str(r["cpu"])) for r in rows) for rows in samples.values()]
        load = statistics.median(float(str(r["load"])) for r in samples["numba"])
        same = {r["histories"] for rows in samples.values() for r in rows}
        print(
            f"{name:<9}{cells[0]:>22}{cells[1]:>22}{medians[0] / medians[1]:>9.2f}x"
            f"{cpu[0]:>11.3f}{cpu[1]:>11.3f}{cpu[0] / cpu[1]:>9.2f}x"
            f"{load:>7.2f}s  {'yes' if len(same) == 1 else 'NO'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
