"""scikit-learn's MLPClassifier on the 8x8 digits, one `partial_fit` pass per epoch.

Run it by hand (the lines are printed):   python train.py --lr 0.05 --epochs 5
Sweep its learning rate:                  lrsweep run spec.yaml

Needs scikit-learn (`pip install scikit-learn`). `partial_fit` makes exactly one pass over the
data per call, so each call is an epoch reported to lrsweep. A learning rate so high that the
weights blow up makes scikit-learn raise; the script then reports NaN losses and stops, and
lrsweep records the run as diverged.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import lrsweep

DATA = Path(__file__).resolve().parent.parent.parent / "sample_data" / "digits.csv"


def log_loss(model: MLPClassifier, X: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy; NaN (not an exception) when the model has blown up."""
    with np.errstate(all="ignore"):
        p = model.predict_proba(X)[np.arange(len(y)), np.searchsorted(model.classes_, y)]
        if not np.all(np.isfinite(p)):
            return np.nan
        return float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    table = np.loadtxt(args.data, delimiter=",", skiprows=1)
    X, y = table[:, :-1], table[:, -1].astype(int)
    X, X_val, y, y_val = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    X, X_val = scaler.transform(X), scaler.transform(X_val)

    model = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        solver="sgd",  # plain SGD with momentum 0.9, as lrsweep's built-in default
        momentum=0.9,
        nesterovs_momentum=False,
        learning_rate="constant",
        learning_rate_init=args.lr,
        batch_size=args.batch_size,
        alpha=0.0,  # no L2 penalty, so loss_ is the training cross-entropy
        random_state=args.seed,  # the weights and the shuffling
    )
    classes = np.unique(y)
    for epoch in range(1, args.epochs + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # one pass is not convergence
                warnings.simplefilter("ignore", RuntimeWarning)  # overflow at a too-high LR
                model.partial_fit(X, y, classes=classes)  # one pass over the training data
        except ValueError as e:  # "Solver produced non-finite parameter weights"
            lrsweep.report(epoch=epoch, train_loss=np.nan, val_loss=np.nan)
            print(f"stopped at epoch {epoch}: {e}")
            return
        lrsweep.report(
            epoch=epoch,
            train_loss=model.loss_,  # the mean loss over this pass's mini-batches
            val_loss=log_loss(model, X_val, y_val),
            val_accuracy=model.score(X_val, y_val),
        )


if __name__ == "__main__":
    main()
