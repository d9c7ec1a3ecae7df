"""A PyTorch MLP on the 8x8 digits, reporting each epoch to lrsweep.

Run it by hand (the lines are printed):   python train.py --lr 0.05 --epochs 5
Sweep its learning rate:                  lrsweep run spec.yaml

Needs PyTorch (`pip install torch`; the CPU build is enough). The loop is the usual one; the
only lrsweep line is `lrsweep.report(...)`. Epoch 0 is reported before training: lrsweep's
divergence rule compares later losses with it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

import lrsweep

DATA = Path(__file__).resolve().parent.parent.parent / "sample_data" / "digits.csv"


def load(path: Path, val_fraction: float = 0.2) -> tuple[torch.Tensor, ...]:
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
    as_x = lambda rows: torch.tensor((X[rows] - mean) / std, dtype=torch.float32)  # noqa: E731
    return as_x(train), torch.tensor(y[train]), as_x(val), torch.tensor(y[val])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    torch.manual_seed(args.seed)  # the weights and the batch order
    X, y, X_val, y_val = load(args.data)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10))  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    @torch.no_grad()
    def evaluate(X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        logits = model(X)
        return loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

    train_loss, _ = evaluate(X, y)
    val_loss, val_accuracy = evaluate(X_val, y_val)
    lrsweep.report(epoch=0, train_loss=train_loss, val_loss=val_loss, val_accuracy=val_accuracy)
    for epoch in range(1, args.epochs + 1):
        model.train()
        losses = []
        for batch in torch.randperm(len(y)).split(args.batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(X[batch]), y[batch])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        val_loss, val_accuracy = evaluate(X_val, y_val)
        lrsweep.report(
            epoch=epoch,
            train_loss=float(np.mean(losses)),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
        )


if __name__ == "__main__":
    main()
