"""The reference workloads of the training benchmark, defined once.

S is the digits demo (a small, overhead-bound model); M and L are matmul-bound MLPs on a
synthetic 784-feature problem. Each workload is benchmarked as a single run and as a 16-LR sweep
(``SWEEP_LRS``), in float32 with plain SGD. The synthetic data is generated here (10,000 samples
split 80/20 like the digits, Gaussian inputs, labels from a fixed random teacher network) and
handed to the trainer as a `lrsweep.data.Dataset`; the spec's ``data`` section of M and L only
names the builtin it stands in for, since `lrsweep.training.train_group` never re-reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from lrsweep.data import Dataset, load_dataset
from lrsweep.spec import Spec, validate_spec

REPO = Path(__file__).resolve().parent.parent
SWEEP_LRS = np.logspace(-3, 0, 16)  # the 16-LR sweep: 1e-3 ... 1, log-spaced
SINGLE_LR = 0.01  # the LR of the single-run rows (trains without diverging on all three)
SYNTHETIC_SAMPLES = 10_000
SYNTHETIC_FEATURES = 784
SYNTHETIC_CLASSES = 10
TEACHER_HIDDEN = 64  # width of the random tanh teacher that labels the synthetic samples
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class Workload:
    """One benchmark problem: the network, the budget and where the data comes from."""

    name: str
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    synthetic: bool  # False: the 1,797 digits CSV; True: the synthetic teacher problem
    description: str
    n_lrs: int = 16  # the sweep's LRs: ``n_lrs`` log-spaced from 1e-3 to 1
    rows: int = 0  # > 0: the digits resampled to this many rows (`upsampled`)

    def sweep_lrs(self) -> np.ndarray:
        """The sweep's LRs (16 by default: ``SWEEP_LRS``)."""
        return np.logspace(-3, 0, self.n_lrs)

    def spec(self) -> Spec:
        """The lrsweep spec of this workload (float32, ReLU, plain SGD, one seed)."""
        if self.synthetic:
            data = {
                "builtin": "teacher",  # a stand-in: `load` builds the real arrays
                "n_samples": SYNTHETIC_SAMPLES,
                "n_features": SYNTHETIC_FEATURES,
            }
        else:
            data = {
                "path": str(REPO / "sample_data" / "digits.csv"),
                "target": "label",
                "task": "classification",
            }
        document = {
            "name": f"bench-{self.name}",
            "data": {**data, "val_fraction": VAL_FRACTION},
            "model": {"hidden": list(self.hidden), "activation": "relu", "dtype": "float32"},
            "optimizer": {"name": "sgd", "momentum": 0.0},
            "train": {"epochs": self.epochs, "batch_size": self.batch_size, "seeds": 1},
            "grid": {"lr_min": float(SWEEP_LRS[0]), "lr_max": float(SWEEP_LRS[-1])},
        }
        return validate_spec(document, base_dir=str(REPO))

    def load(self) -> Dataset:
        """The workload's dataset, split and ready for `lrsweep.training.train_group`."""
        if self.synthetic:
            return synthetic_dataset()
        spec = self.spec()
        data = load_dataset(spec.data, Path(spec.base_dir))
        return upsampled(data, self.rows) if self.rows else data

    def sizes(self, data: Dataset) -> list[int]:
        """Layer widths, input to output."""
        return [data.X_train.shape[1], *self.hidden, data.n_outputs]

    def n_weights(self, data: Dataset) -> int:
        """Trainable parameters of one model (weights and biases)."""
        return sum(a * b + b for a, b in pairwise(self.sizes(data)))

    def train_flops(self, data: Dataset, n_runs: int) -> float:
        """Training FLOPs of ``n_runs`` full runs: 6 x weights x samples (evaluation excluded)."""
        return 6.0 * self.n_weights(data) * len(data.X_train) * self.epochs * n_runs


S_DESCRIPTION = "64-64-10 MLP, digits (1,797), batch 32, 20 ep"
WORKLOADS: dict[str, Workload] = {
    "S": Workload("S", (64, 64), 32, 20, False, S_DESCRIPTION),
    "S4": Workload("S4", (64, 64), 32, 20, False, S_DESCRIPTION + ", 4 LRs", n_lrs=4),
    "S64": Workload("S64", (64, 64), 32, 20, False, S_DESCRIPTION + ", 64 LRs", n_lrs=64),
    "S20K": Workload(
        "S20K",
        (64, 64),
        32,
        20,
        False,
        "64-64-10 MLP, the digits resampled to 20,000 rows (jittered), batch 32, 20 ep",
        rows=20_000,
    ),
    "S200K": Workload(
        "S200K",
        (64, 64),
        32,
        20,
        False,
        "64-64-10 MLP, the digits resampled to 200,000 rows (jittered), batch 32, 20 ep",
        rows=200_000,
    ),
    "M": Workload("M", (256, 256), 128, 5, True, "784-256-256-10, 10k synthetic, batch 128, 5 ep"),
    "L": Workload(
        "L", (1024, 1024), 256, 2, True, "784-1024-1024-10, 10k synthetic, batch 256, 2 ep"
    ),
}


def upsampled(data: Dataset, rows: int, seed: int = 0) -> Dataset:
    """``data`` resampled with replacement to ``rows`` rows (80/20 as before), each copy
    jittered by Gaussian noise of 0.1 (the features are standardised), so a bigger table of
    the same model and task; seeded, so every process builds the same arrays."""
    rng = np.random.default_rng(seed)
    n_train = round(rows * (1 - VAL_FRACTION))
    out = {}
    for part, n in (("train", n_train), ("val", rows - n_train)):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        pick = rng.integers(0, len(X), n)
        out[f"X_{part}"] = _frozen(X[pick] + 0.1 * rng.standard_normal((n, X.shape[1])))
        out[f"y_{part}"] = _frozen(y[pick])
    return replace(data, **out)


def synthetic_dataset(seed: int = 0) -> Dataset:
    """10,000 Gaussian samples of 784 features labelled by a fixed random tanh teacher.

    The teacher is ``784 -> 64 (tanh) -> 10``; its logits are centred per class over the
    samples before the argmax, so the ten classes are roughly balanced. The first 80 % of the
    samples train and the rest validate (the samples are i.i.d., so no shuffle is needed).
    """
    rng = np.random.default_rng(seed)
    d, h, c = SYNTHETIC_FEATURES, TEACHER_HIDDEN, SYNTHETIC_CLASSES
    W1 = rng.standard_normal((d, h)) / np.sqrt(d)  # (d, h)
    W2 = rng.standard_normal((h, c)) / np.sqrt(h)  # (h, c)
    X = rng.standard_normal((SYNTHETIC_SAMPLES, d))  # (n, d)
    logits = np.tanh(X @ W1) @ W2  # (n, c)
    y = (logits - logits.mean(axis=0)).argmax(axis=1).astype(np.int64)
    n_val = round(SYNTHETIC_SAMPLES * VAL_FRACTION)
    n_train = SYNTHETIC_SAMPLES - n_val
    return Dataset(
        X_train=_frozen(X[:n_train]),
        y_train=_frozen(y[:n_train]),
        X_val=_frozen(X[n_train:]),
        y_val=_frozen(y[n_train:]),
        task="classification",
        n_outputs=c,
        feature_names=tuple(f"x{i}" for i in range(d)),
        target_name="label",
        class_names=tuple(str(k) for k in range(c)),
        source="benchmarks:synthetic-teacher",
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a
