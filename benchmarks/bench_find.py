"""Do the range test's suggestions land in the good band a full sweep finds?

On a config (default configs/digits.yaml; ``--all``: digits, spirals-adam and regression): run
`lrsweep find` (one ramped run per seed), run the sweep as the spec says (grid + refine), then
train every suggested LR (each rule read off the seeds' combined curve, the ``LR`` column of
`lrsweep find`) with the spec's settings and seeds and print, for each suggestion, whether its
LR lies inside the sweep's good band and how far its objective is from the sweep's best. With
several configs, a last table counts the point suggestions that landed, per config.

    .venv/bin/python benchmarks/bench_find.py [--config configs/digits.yaml] [--all] [--jobs N]

The good band is made of the sweep's grid points: a spec without refine rounds can have a
band of one point (spirals-adam's is 0.01-0.01), which only that exact LR lies in; the
objective column is then the better measure.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

import lrsweep
from lrsweep.mlp import pack_lockstep
from lrsweep.plan import Budget, plan_runs
from lrsweep.records import run_objective
from lrsweep.spec import load_spec
from lrsweep.training import train_group

ROOT = Path(__file__).resolve().parent.parent
ALL = ("digits", "spirals-adam", "regression")
POINT_RULES = ("recommended", "valley", "steep", "minimum_10", "slide")


def bench(config: Path, jobs: int | None) -> dict[str, tuple[bool, bool]]:
    """Print one config's table; return, per point rule, (LR in band, objective within tol)."""
    spec = load_spec(config)
    data = lrsweep.load_data(spec)
    with tempfile.TemporaryDirectory() as tmp, lrsweep.make_executor(jobs) as executor:
        start = time.perf_counter()
        found = lrsweep.range_test(spec, Path(tmp) / "find")
        find_seconds = time.perf_counter() - start
        start = time.perf_counter()
        summary = lrsweep.run_sweep(spec, Path(tmp) / "sweep", executor=executor)
        sweep_seconds = time.perf_counter() - start
    lo, hi = summary["good_band"]
    best = summary["best"]["objective_mean"]
    tol = spec.analysis.band_tolerance
    print(f"config: {config}")
    print(
        f"find: {find_seconds:.1f} s ({len(found['seeds'])} seeds x {found['num_iter']} steps);"
        f" sweep: {sweep_seconds:.1f} s, {summary['n_runs']} runs"
    )
    print(
        f"sweep: best LR {summary['best']['lr']:.4g} ({spec.train.objective} {best:.4f}),"
        f" good band {lo:.4g}-{hi:.4g} (within {tol:.0%})"
    )
    print(
        f"{'suggestion':<12} {'LR':>9} {'seeds':>19} {'LR in band':>10} {'objective':>10}"
        f" {'vs best':>8} {'within ' + format(tol, '.0%'):>10}"
    )
    landed = {}
    budget = Budget(spec.train.epochs, 1.0, "full")
    for name, s in found["spread"].items():
        lr = s["lr"]
        seeds = "-" if s["min"] is None else f"{s['min']:.2g}-{s['max']:.2g}"
        if lr is None:
            print(f"{name:<12} {'-':>9} {seeds:>19}")
            if name in POINT_RULES:
                landed[name] = (False, False)
            continue
        runs = plan_runs(spec, [lr], 0, budget=budget)
        values = [
            run_objective(r.history, spec.train.objective, r.status.value)
            for g in pack_lockstep(spec, runs, data.X_train.shape[1], data.n_outputs)
            for r in train_group(g, data)
        ]
        value = float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf
        inside = lo <= lr <= hi
        gap = (value - best) / abs(best)
        if name in POINT_RULES:
            landed[name] = (inside, gap <= tol)
        print(
            f"{name:<12} {lr:>9.4g} {seeds:>19} {'yes' if inside else 'no':>10} {value:>10.4f}"
            f" {gap:>+8.1%} {'yes' if gap <= tol else 'no':>10}"
        )
    in_range = [n for n, (a, _) in landed.items() if a]
    in_objective = [n for n, (_, b) in landed.items() if b]
    print(
        f"point suggestions whose LR lies in the band: {len(in_range)}/{len(landed)}"
        f" ({', '.join(in_range) or 'none'})"
    )
    print(
        f"point suggestions whose trained objective is within {tol:.0%} of the best:"
        f" {len(in_objective)}/{len(landed)} ({', '.join(in_objective) or 'none'})"
    )
    return landed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, action="append", default=None)
    parser.add_argument("--all", action="store_true", help=f"run {', '.join(ALL)}")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    configs = list(args.config or [])
    if args.all:
        configs += [ROOT / "configs" / f"{name}.yaml" for name in ALL]
    configs = configs or [ROOT / "configs" / "digits.yaml"]
    results = {}
    for config in configs:
        results[config.stem] = bench(config, args.jobs)
        print()
    if len(results) > 1:
        print("| config | suggestions with LR in the band | trained objective within tolerance |")
        print("|---|---|---|")
        for stem, landed in results.items():
            cells = []
            for k in (0, 1):
                names = [n for n, v in landed.items() if v[k]]
                cells.append(f"{len(names)}/{len(landed)} ({', '.join(names) or 'none'})")
            print(f"| {stem} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
