"""The time estimate of `lrsweep validate` / `run --dry-run` against the real sweep.

For every shipped config (configs/*.yaml): the estimate (`lrsweep.estimate_sweep`, the cost
model: nothing trained) and the real sweep (`lrsweep.run_sweep` with ``make_executor(jobs)``,
as `lrsweep run` does) in a fresh process. Two actuals per sweep: its wall time (range test,
every round, recording: what the estimate covers; imports and plots excluded), and its CPU
time, the sweep process's and its workers' (user + sys), against the estimate's
``work_seconds`` (the same work on one core). On a busy machine the wall time grows with the
load and CPU time hardly does, with one BLAS thread per process (``--blas-threads 1``): a
BLAS thread that waits for a core spins, so several BLAS threads on a loaded machine burn CPU
time doing nothing. Each sweep runs ``--repeats`` times, interleaved across configs; the
median is kept; the load average is printed before and after. Target (issue 16): within 2x.

    .venv/bin/python benchmarks/bench_estimate.py [--jobs 2] [--repeats 3] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import lrsweep

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, resource, sys, time
import lrsweep

def cpu():
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

spec = lrsweep.load_spec(sys.argv[1])
cpu0, wall0 = cpu(), time.perf_counter()
with lrsweep.make_executor(int(sys.argv[3])) as executor:
    summary = lrsweep.run_sweep(spec, sys.argv[2], executor=executor, overwrite=True)
print(json.dumps({"wall": summary["wall_seconds"], "cpu": cpu() - cpu0}))
"""


def actual(config: Path, jobs: int, out: Path, blas_threads: int | None) -> dict[str, float]:
    """The sweep's wall and CPU seconds, in a fresh process."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if blas_threads:
        env.update({k: str(blas_threads) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")})
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), str(out), str(jobs)],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, action="append", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--blas-threads", type=int, default=None)
    args = parser.parse_args()
    configs = args.config or sorted((ROOT / "configs").glob("*.yaml"))

    estimates = {}
    for config in configs:
        plan = lrsweep.plan_sweep(lrsweep.load_spec(config))
        estimates[config] = lrsweep.estimate_sweep(plan, args.jobs)
    load_before = os.getloadavg()
    runs: dict[Path, list[dict[str, float]]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):  # interleaved: config A, B, C, A, B, C, ...
            for config in configs:
                out = Path(tmp) / f"{config.stem}-{i}"
                runs[config].append(actual(config, args.jobs, out, args.blas_threads))
    load_after = os.getloadavg()
    print(
        f"--jobs {args.jobs}, BLAS threads {args.blas_threads or 'default'}, {args.repeats}"
        f" repeats (median), {os.cpu_count()} cores, load average {load_before[0]:.1f} before"
        f" and {load_after[0]:.1f} after"
    )
    print(
        f"{'config':<24} {'est. wall':>9} {'wall':>7} {'ratio':>6}   {'est. CPU':>8}"
        f" {'CPU':>7} {'ratio':>6}"
    )
    for config in configs:
        estimate = estimates[config]
        wall = statistics.median(r["wall"] for r in runs[config])
        cpu = statistics.median(r["cpu"] for r in runs[config])
        print(
            f"{config.name:<24} {estimate.seconds:>8.2f}s {wall:>6.2f}s"
            f" {estimate.seconds / wall:>6.2f}   {estimate.work_seconds:>7.2f}s {cpu:>6.2f}s"
            f" {estimate.work_seconds / cpu:>6.2f}"
        )


if __name__ == "__main__":
    main()
