"""Do the range test's suggestions land in the good band a full sweep finds?

On a config (default configs/digits.yaml): run `lrsweep find` (one ramped run per seed), run
the sweep as the spec says (grid + refine), then train every suggested LR with the spec's
settings and seeds and print, for each suggestion, whether its LR lies inside the sweep's good
band and how far its objective is from the sweep's best.

    .venv/bin/python benchmarks/bench_find.py [--config configs/digits.yaml] [--jobs N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

import lrsweep
from lrsweep.analysis import run_objective
from lrsweep.grid import Budget, make_groups, plan_runs
from lrsweep.spec import load_spec
from lrsweep.training import train_group

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "digits.yaml")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    spec = load_spec(args.config)
    data = lrsweep.load_data(spec)
    with tempfile.TemporaryDirectory() as tmp, lrsweep.make_executor(args.jobs) as executor:
        start = time.perf_counter()
        found = lrsweep.range_test(spec, Path(tmp) / "find")
        find_seconds = time.perf_counter() - start
        start = time.perf_counter()
        summary = lrsweep.run_sweep(spec, Path(tmp) / "sweep", executor=executor)
        sweep_seconds = time.perf_counter() - start
    lo, hi = summary["good_band"]
    best = summary["best"]["objective_mean"]
    print(f"config: {args.config}")
    print(
        f"find: {find_seconds:.1f} s ({len(found['seeds'])} seeds x {found['num_iter']} steps);"
        f" sweep: {sweep_seconds:.1f} s, {summary['n_runs']} runs"
    )
    print(
        f"sweep: best LR {summary['best']['lr']:.4g} ({spec.train.objective} {best:.4f}),"
        f" good band {lo:.4g}-{hi:.4g} (within {spec.analysis.band_tolerance:.0%})"
    )
    tol = spec.analysis.band_tolerance
    print(
        f"{'suggestion':<12} {'LR':>9} {'LR in band':>10} {'objective':>10} {'vs best':>8}"
        f" {'within ' + format(tol, '.0%'):>10}"
    )
    landed = []
    budget = Budget(spec.train.epochs, 1.0, "full")
    for name, s in found["spread"].items():
        lr = s["median"]
        if lr is None:
            print(f"{name:<12} {'-':>9}")
            continue
        runs = plan_runs(spec, [lr], 0, budget=budget)
        values = [
            run_objective(r.history, spec.train.objective, r.status.value)
            for g in make_groups(spec, runs, data.X_train.shape[1], data.n_outputs)
            for r in train_group(g, data)
        ]
        value = float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf
        inside = "yes" if lo <= lr <= hi else "no"
        gap = (value - best) / abs(best)
        good = "yes" if gap <= tol else "no"
        if name in ("valley", "steep", "minimum_10", "slide"):
            landed.append((name, inside == "yes", good == "yes"))
        print(f"{name:<12} {lr:>9.4g} {inside:>10} {value:>10.4f} {gap:>+8.1%} {good:>10}")
    in_range = [n for n, a, _ in landed if a]
    in_objective = [n for n, _, b in landed if b]
    print(
        f"point suggestions whose LR lies in the band: {len(in_range)}/{len(landed)}"
        f" ({', '.join(in_range) or 'none'})"
    )
    print(
        f"point suggestions whose trained objective is within {tol:.0%} of the best:"
        f" {len(in_objective)}/{len(landed)} ({', '.join(in_objective) or 'none'})"
    )


if __name__ == "__main__":
    main()
