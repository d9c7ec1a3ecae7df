"""When is a run diverged? The divergence rule against runs trained to the end (issue 14).

For each case a grid of 4 LRs per decade over [1e-4, 1] x 3 seeds is trained twice in
lockstep: once with divergence detection off (``diverge_factor`` 1e9: only a non-finite loss
stops a run), which shows what every run does when trained on, and once per rule under test,
``DIVERGE_EPOCHS`` = 1, 2 (the default) and 3 epochs in a row with the epoch's mean training
loss above ``diverge_factor`` (4) x the initial loss. Per rule:

- **false alarms**: runs the rule calls diverged that, trained on, end finite with an objective
  within 10 % of the case's best (they recover: the rule understates what trains);
- **flagged but learned**: runs called diverged that end below their initial objective;
- **missed**: runs the rule lets finish whose trained-on end is non-finite or still above the
  limit (they cost compute; their objective still shows them as bad);
- **epochs**: epochs trained, against detection off (the compute the rule saves).

Cases: two synthetic heavy-tailed tables (Student-t features with 1.5 degrees of freedom and
Student-t noise, regression and classification; Adam spikes on their outliers), and the
shipped digits (SGD) and spirals (Adam).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_divergence.py
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import lrsweep
import lrsweep.stopping as stopping
from lrsweep.mlp import pack_lockstep
from lrsweep.plan import plan_runs
from lrsweep.records import RunStatus, run_objective
from lrsweep.spec import Spec, spec_from_resolved
from lrsweep.training import train_group

ROOT = Path(__file__).resolve().parent.parent
WINDOWS = (1, 2, 3)


def heavy_table(path: Path, task: str, rng_seed: int = 0) -> None:
    """600 rows, 8 Student-t(1.5) features, a target from a fixed linear-tanh teacher."""
    rng = np.random.default_rng(rng_seed)
    X = rng.standard_t(1.5, size=(600, 8))
    w = rng.standard_normal(8)
    signal = np.tanh(X @ w / 4) * 3 + 0.1 * (X @ w)
    if task == "regression":
        y = signal + rng.standard_t(2.0, size=600)
        target = [f"{v:.6g}" for v in y]
    else:
        target = ["a" if v < np.quantile(signal, 1 / 3) else "b" if v < np.quantile(signal, 2 / 3)
                  else "c" for v in signal + 0.3 * rng.standard_t(2.0, size=600)]  # fmt: skip
    lines = [",".join([*(f"x{i}" for i in range(8)), "y"])]
    lines += [",".join([*(f"{v:.6g}" for v in row), t]) for row, t in zip(X, target)]
    path.write_text("\n".join(lines) + "\n")


def cases(tmp: Path) -> dict[str, dict[str, Any]]:
    heavy_table(tmp / "heavy_reg.csv", "regression")
    heavy_table(tmp / "heavy_cls.csv", "classification")
    train = {"epochs": 20, "batch_size": 32, "seeds": 3}
    return {
        "heavy-regression-adam": {
            "data": {"path": str(tmp / "heavy_reg.csv"), "target": "y", "task": "regression"},
            "model": {"hidden": [32], "activation": "relu"},
            "optimizer": {"name": "adam"},
            "train": train,
        },
        "heavy-regression-sgdm": {
            "data": {"path": str(tmp / "heavy_reg.csv"), "target": "y", "task": "regression"},
            "model": {"hidden": [32], "activation": "relu"},
            "optimizer": {"name": "sgd", "momentum": 0.9},
            "train": train,
        },
        "heavy-classification-adam": {
            "data": {"path": str(tmp / "heavy_cls.csv"), "target": "y"},
            "model": {"hidden": [32, 32], "activation": "relu"},
            "optimizer": {"name": "adam"},
            "train": train,
        },
        "digits-sgd": {
            "data": {"path": str(ROOT / "sample_data" / "digits.csv"), "target": "label"},
            "model": {"hidden": [64, 64], "activation": "relu"},
            "optimizer": {"name": "sgd"},
            "train": {**train, "epochs": 15},
        },
        "spirals-adam": {
            "data": {"builtin": "spirals", "n_samples": 600, "noise": 0.1},
            "model": {"hidden": [64, 64], "activation": "tanh"},
            "optimizer": {"name": "adam"},
            "train": {**train, "epochs": 30},
        },
    }


def train_all(spec: Spec, data: Any) -> dict[tuple[float, int], tuple[str, float, float, int]]:
    """Every run's (status, objective, initial objective, epochs trained), by (LR, seed)."""
    lrs = lrsweep.log_grid(1e-4, 1.0, 4).tolist()
    runs = plan_runs(spec, lrs, 0)
    by_id = {r.run_id: r for r in runs}
    out = {}
    for group in pack_lockstep(spec, runs, data.X_train.shape[1], data.n_outputs):
        for result in train_group(group, data):
            run = by_id[result.run_id]
            objective = run_objective(result.history, "final_val_loss", result.status.value)
            initial = float(result.history[0].val_loss)
            out[(run.lr, run.seed)] = (result.status.value, objective, initial,
                                       len(result.history) - 1)  # fmt: skip
    return out


def score(
    rule: Mapping[tuple[float, int], tuple[str, float, float, int]],
    free: Mapping[tuple[float, int], tuple[str, float, float, int]],
    factor: float,
) -> dict[str, int]:
    """The rule's statuses against the runs trained on (``free``)."""
    by_lr: dict[float, list[float]] = {}
    for (lr, _), (_, objective, initial, _) in free.items():
        by_lr.setdefault(lr, []).append(objective if math.isfinite(objective) else initial)
    best = min(float(np.mean(v)) for v in by_lr.values())
    counts = {"runs": len(free), "diverged": 0, "false_alarm": 0, "flagged_learned": 0,
              "missed": 0, "epochs": 0, "epochs_free": 0}  # fmt: skip
    for key, (status, _, _, epochs) in rule.items():
        _, end, initial, epochs_free = free[key]
        counts["epochs"] += epochs
        counts["epochs_free"] += epochs_free
        recovered = math.isfinite(end)
        if status == RunStatus.DIVERGED.value:
            counts["diverged"] += 1
            counts["false_alarm"] += recovered and end <= best + 0.1 * abs(best)
            counts["flagged_learned"] += recovered and end < initial
        elif not recovered or end > factor * initial:
            counts["missed"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=None, help="comma-separated case names")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        documents = cases(Path(tmp))
        names = args.cases.split(",") if args.cases else list(documents)
        for name in names:
            doc = {"name": name, **documents[name]}
            spec = spec_from_resolved(doc, str(ROOT), "bench_divergence")
            data = lrsweep.load_data(spec)
            off = spec.train.model_copy(update={"diverge_factor": 1e9})
            free = train_all(spec.model_copy(update={"train": off}), data)
            for window in WINDOWS:
                stopping.DIVERGE_EPOCHS = window
                try:
                    counts = score(train_all(spec, data), free, spec.train.diverge_factor)
                finally:
                    stopping.DIVERGE_EPOCHS = 2
                rows.append((name, window, counts))
                print(f"{name}: window {window}: {counts}", flush=True)
    print()
    print("divergence rule: epoch mean above 4x the initial loss for W epochs in a row"
          " (or a non-finite loss), against the same runs trained on")  # fmt: skip
    print("| case | W | runs | diverged | false alarms (recover within 10 % of best) |"
          " flagged but learned | missed | epochs trained / detection off |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, window, c in rows:
        print(
            f"| {name} | {window} | {c['runs']} | {c['diverged']} | {c['false_alarm']} |"
            f" {c['flagged_learned']} | {c['missed']} | {c['epochs']} / {c['epochs_free']}"
            f" ({c['epochs'] / max(c['epochs_free'], 1):.0%}) |"
        )
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
