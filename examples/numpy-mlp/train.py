"""A small MLP on the 8x8 digits, in NumPy alone, reporting each epoch to lrsweep.

Run it by hand (the lines are printed):   python train.py --lr 0.05 --epochs 5
Sweep its learning rate:                  lrsweep run spec.yaml

It is an ordinary training script: the only lrsweep line is `lrsweep.report(...)`, once per
epoch. Epoch 0 is reported before training: lrsweep's divergence rule compares later losses
with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import lrsweep

DATA = Path(__file__).resolve().parent.parent.parent / "sample_data" / "digits.csv"


def load(path: Path, val_fraction: float = 0.2) -> tuple[np.ndarray, ...]:
    """Features standardised on the training part, and a stratified split that never changes."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = table[:, :-1], table[:, -1].astype(int)
    split = np.random.default_rng(0)  # the split's own seed: the same for every run
    val = np.concatenate([
        split.permutation(np.flatnonzero(y == c))[: round(val_fraction * np.sum(y == c))]
        for c in np.unique(y)
    ])  # fmt: skip
    train = np.setdiff1d(np.arange(len(y)), val)
    mean, std = X[train].mean(0), X[train].std(0) + 1e-8
    return (X[train] - mean) / std, y[train], (X[val] - mean) / std, y[val]


def init(sizes: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """He-initialised weights and zero biases: [W1, b1, W2, b2, ...]."""
    params = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        params += [rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out)), np.zeros(fan_out)]
    return params


def forward(params: list[np.ndarray], X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Class probabilities, and each layer's input (for the backward pass)."""
    inputs, h = [], X
    for i in range(0, len(params), 2):
        inputs.append(h)
        z = h @ params[i] + params[i + 1]  # (n, fan_out)
        h = np.maximum(z, 0) if i + 2 < len(params) else z
    z = h - h.max(1, keepdims=True)  # softmax, shifted against overflow
    p = np.exp(z)
    return p / p.sum(1, keepdims=True), inputs


def loss_of(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))


def backward(params, p, inputs, y):
    """Gradients of the mean cross-entropy, in the order of ``params``."""
    delta = p.copy()
    delta[np.arange(len(y)), y] -= 1
    delta /= len(y)  # (n, classes): dL/dz of the last layer
    grads = [None] * len(params)
    for i in reversed(range(0, len(params), 2)):
        grads[i], grads[i + 1] = inputs[i // 2].T @ delta, delta.sum(0)
        if i:
            delta = (delta @ params[i].T) * (inputs[i // 2] > 0)  # through the ReLU
    return grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 64])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    X, y, X_val, y_val = load(args.data)
    rng = np.random.default_rng(args.seed)
    params = init([X.shape[1], *args.hidden, int(y.max()) + 1], rng)
    velocity = [np.zeros_like(p) for p in params]

    def evaluate() -> tuple[float, float]:
        p_val, _ = forward(params, X_val)
        return loss_of(p_val, y_val), float(np.mean(p_val.argmax(1) == y_val))

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a high LR may blow up
        val_loss, val_accuracy = evaluate()
        train_loss = loss_of(forward(params, X)[0], y)
        lrsweep.report(
            epoch=0, train_loss=train_loss, val_loss=val_loss, val_accuracy=val_accuracy
        )
        for epoch in range(1, args.epochs + 1):
            order = rng.permutation(len(y))
            losses = []
            for start in range(0, len(y), args.batch_size):
                batch = order[start : start + args.batch_size]
                p, inputs = forward(params, X[batch])
                losses.append(loss_of(p, y[batch]))
                for v, param, g in zip(velocity, params, backward(params, p, inputs, y[batch])):
                    v *= args.momentum
                    v += g  # v <- momentum v + g;  p <- p - lr v  (torch.optim.SGD)
                    param -= args.lr * v
            val_loss, val_accuracy = evaluate()
            lrsweep.report(
                epoch=epoch,
                train_loss=float(np.mean(losses)),
                val_loss=val_loss,
                val_accuracy=val_accuracy,
            )


if __name__ == "__main__":
    main()
