"""A commented starter spec for ``lrsweep init``, sized to a CSV's shape when one is given."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from types import SimpleNamespace

from lrsweep.data import load_dataset
from lrsweep.optimizers import OPTIMIZERS


def _name_from(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "sweep"
    return name[:100]


def starter_spec(data: Path | None = None, out: Path = Path("spec.yaml")) -> str:
    """The text of a commented spec; with ``data``, fitted to that CSV.

    Reads the CSV (target: the last column), infers classification or regression and the
    number of classes, and picks the model width, batch size and epochs from its shape: about
    3,000 optimizer steps in all, hidden width between 16 and 256 scaled to the inputs and
    outputs, two hidden layers from 1,000 samples up.
    """
    if data is None:
        source = "  builtin: spirals                # a synthetic set; or path: your.csv\n"
        name, task, n, n_features, n_outputs = "my-sweep", "classification", 1000, 2, 3
        what = "three interleaved spirals (a built-in synthetic set)"
        target_line = ""
    else:
        loaded = load_dataset(
            SimpleNamespace(
                path=str(Path(data).resolve()),
                builtin=None,
                target=None,
                task="auto",
                val_fraction=0.2,
                standardize=True,
                split_seed=0,
            ),
            Path("."),
        )
        rel = os.path.relpath(Path(data).resolve(), Path(out).resolve().parent)
        name = _name_from(Path(data))
        task = loaded.task
        n = len(loaded.X_train) + len(loaded.X_val)
        n_features, n_outputs = loaded.X_train.shape[1], loaded.n_outputs
        kind = f"{n_outputs} classes" if task == "classification" else "a numeric target"
        what = f"{rel}: {n:,} rows, {n_features} features, {kind}"
        source = f"  path: {rel}\n"
        pad = " " * max(1, 24 - len(loaded.target_name))
        target_line = f"  target: {loaded.target_name}{pad}# the column to predict\n"
    n_train = int(n * 0.8)
    width = int(
        min(256, max(16, 2 ** round(math.log2(4 * math.sqrt(n_features * max(n_outputs, 2))))))
    )
    hidden = [width, width] if n >= 1000 else [width]
    batch = 32 if n_train >= 500 else 16
    steps_per_epoch = max(1, math.ceil(n_train / batch))
    epochs = int(min(100, max(10, round(3000 / steps_per_epoch))))
    return f"""\
# lrsweep starter spec for {what}
# Every key has a default; delete what you do not need. Check it with: lrsweep validate {out}
# Run it with: lrsweep run {out}

name: {name}                       # results go to results/{name}

data:
{source}{target_line}  task: {task}              # classification | regression | auto
  val_fraction: 0.2               # held out for the validation loss (stratified by class)
  standardize: true               # zero mean, unit variance, fitted on the training part

model:
  hidden: {hidden}                # hidden layer widths
  activation: relu                # relu, leaky_relu, tanh, sigmoid, gelu

optimizer:
  name: sgd                       # {", ".join(OPTIMIZERS)}
  momentum: 0.9

train:
  epochs: {epochs}                      # about 3,000 optimizer steps in all
  batch_size: {batch}
  seeds: 3                        # every LR is trained with 3 seeds
  objective: final_val_loss       # mean validation loss of the last 3 epochs

grid:
  lr_min: 1e-4                    # a log grid of learning rates, both ends included
  lr_max: 1.0
  points_per_decade: 2

refine:
  rounds: 2                       # then zoom into the best bracket twice
"""
