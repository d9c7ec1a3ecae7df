"""The :class:`Dataset` the trainer gets, with the record of how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrsweep.data.columns import ColumnReport

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A split, encoded, optionally standardised dataset, ready for the trainer.

    All arrays are float64 (the trainer casts) except classification targets, which are int64
    class indices into ``class_names``. The arrays are read-only so runs sharing one Dataset
    cannot disturb each other. ``columns``, ``rows_*`` and ``notes`` say what was done to the
    source table; ``data_report()`` is that as JSON-ready data.
    """

    X_train: np.ndarray  # (n_train, n_inputs) float64
    y_train: np.ndarray  # classification: (n_train,) int64; regression: (n_train, 1)
    X_val: np.ndarray  # (n_val, n_inputs) float64
    y_val: np.ndarray  # like y_train
    task: str  # "classification" | "regression"
    n_outputs: int  # number of classes, or 1 for regression
    feature_names: tuple[str, ...]  # the model's inputs (one-hot and indicator columns named)
    target_name: str
    class_names: tuple[str, ...]  # original labels as strings, sorted; () for regression
    source: str  # the file as opened, or "builtin:<name>"
    columns: tuple[ColumnReport, ...] = ()  # every source column, in file order
    rows_read: int = 0
    rows_dropped: dict[str, int] = field(default_factory=dict)  # why -> count
    notes: tuple[str, ...] = ()  # dropped columns, task choice, warnings: for the CLI to print

    def constant_loss(self, part: str = "val") -> float:
        """The loss on ``part`` ("train" or "val") of the best constant prediction learned from
        the training part: its class frequencies (cross-entropy) or its mean (squared error).
        A run whose training loss ends there learned nothing from the inputs."""
        y = self.y_val if part == "val" else self.y_train
        if not len(y) or not len(self.y_train):
            return float("nan")
        if self.task == "classification":
            counts = np.bincount(self.y_train, minlength=self.n_outputs).astype(float)
            p = np.clip(counts / counts.sum(), 1e-12, None)
            return float(-np.mean(np.log(p[y])))
        return float(np.mean((y - self.y_train.mean(axis=0)) ** 2))

    def data_report(self) -> dict[str, Any]:
        """The ``data`` section of ``summary.json``."""
        return {
            "file": self.source,
            "rows_read": self.rows_read,
            "rows_used": len(self.X_train) + len(self.X_val),
            "rows_dropped": dict(self.rows_dropped),
            "n_train": len(self.X_train),
            "n_val": len(self.X_val),
            "task": self.task,
            "target": self.target_name,
            "classes": list(self.class_names),
            "inputs": len(self.feature_names),
            "constant_train_loss": self.constant_loss("train"),
            "constant_val_loss": self.constant_loss("val"),
            "columns": {c.name: c.as_dict() for c in self.columns},
            "notes": list(self.notes),
        }
