"""Coarse-to-fine against a dense grid on configs/digits.yaml.

Runs the spec as shipped (a 2-per-decade grid plus `refine: {rounds: 2}`) and the same spec with
a dense grid of 16 points per decade and no refinement, then prints how close the recommended
LR's objective is to the dense grid's best, and at what fraction of the dense grid's runs.

Target (issue 3): within 2% of the dense best, at no more than 35% of its runs.

    .venv/bin/python benchmarks/bench_refine.py [--jobs N] [--config configs/digits.yaml]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lrsweep
from lrsweep.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "digits.yaml")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    spec = load_spec(args.config)
    refined = spec.model_copy(
        update={"refine": spec.refine.model_copy(update={"rounds": args.rounds})}
    )
    dense = spec.model_copy(
        update={
            "grid": spec.grid.model_copy(update={"points_per_decade": 16}),
            "refine": spec.refine.model_copy(update={"rounds": 0}),
            "coarse": spec.coarse.model_copy(update={"subsample": 1.0, "epochs": None}),
        }
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp, lrsweep.make_executor(args.jobs) as executor:
        for label, variant in (("dense 16/decade", dense), (f"refine {args.rounds}", refined)):
            start = time.perf_counter()
            summary = lrsweep.run_sweep(
                variant, Path(tmp) / label.replace(" ", "_"), executor=executor
            )
            rows.append((label, summary, time.perf_counter() - start))
    (_, dense_summary, _), (_, refine_summary, _) = rows
    dense_best = dense_summary["best"]["objective_mean"]
    print(f"config: {args.config}  objective: {spec.train.objective}")
    print(
        f"{'strategy':<18} {'runs':>5} {'best LR':>10} {'objective':>10} {'vs dense':>9}"
        f" {'seconds':>8}"
    )
    for label, summary, seconds in rows:
        best = summary["best"]
        gap = (best["objective_mean"] - dense_best) / abs(dense_best)
        print(
            f"{label:<18} {summary['n_runs']:>5} {best['lr']:>10.4g}"
            f" {best['objective_mean']:>10.5f} {gap:>+8.2%} {seconds:>8.1f}"
        )
    ratio = refine_summary["n_runs"] / dense_summary["n_runs"]
    gap = (refine_summary["best"]["objective_mean"] - dense_best) / abs(dense_best)
    print(
        f"refine uses {ratio:.0%} of the dense grid's runs (target <= 35%):"
        f" {'met' if ratio <= 0.35 else 'NOT met'}"
    )
    print(
        f"refine's objective is {gap:+.2%} from the dense best (target within 2%):"
        f" {'met' if gap <= 0.02 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
