"""Built-in synthetic datasets: ``spirals``, ``moons`` (classification), ``teacher`` (regression).

Each is drawn from ``np.random.default_rng(generator_seed)``, so the same spec gives the same
arrays; the result is a :class:`~lrsweep.data.columns.Prepared` table of numeric features, like
a file after its columns were decided.
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING

import numpy as np

from lrsweep.data.columns import ColumnReport, Feature, Prepared
from lrsweep.errors import DataError

if TYPE_CHECKING:
    from lrsweep.spec import DataSpec

__all__ = ["BUILTINS", "generate_builtin"]

TEACHER_HIDDEN = 16  # hidden width of the `teacher` builtin's tanh network


def _spirals(rng: np.random.Generator, n: int, k: int, noise: float) -> np.ndarray:
    """``k`` interleaved arms, each one full turn from the centre out to radius 1.

    Neighbouring arms are ``1 / k`` apart along a radius, so ``noise`` (the std of Gaussian
    noise added to each coordinate) around ``0.1`` keeps three arms separable but not trivial.
    """
    sizes = _even_sizes(n, k)
    X = np.empty((n, 2))
    y = np.repeat(np.arange(k), sizes)
    for arm, m in enumerate(sizes):
        t = (np.arange(m) + 1) / m  # radius in (0, 1]
        theta = 2 * np.pi * (arm / k + t)
        rows = y == arm
        X[rows, 0] = t * np.cos(theta)
        X[rows, 1] = t * np.sin(theta)
    X += noise * rng.standard_normal((n, 2))
    return np.column_stack([X, y])


def _moons(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    """Two interleaving half circles (as scikit-learn's ``make_moons``)."""
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    X += noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], [n_out, n_in])
    return np.column_stack([X, y])


def _teacher(rng: np.random.Generator, n: int, d: int, noise: float) -> np.ndarray:
    """Regression target from a fixed random tanh teacher: ``tanh(X W1 + b1) W2 + noise``.

    The teacher's weights are drawn first, so they depend only on ``generator_seed`` and
    ``n_features``, not on ``n_samples``.
    """
    W1 = rng.standard_normal((d, TEACHER_HIDDEN)) / np.sqrt(d)  # (d, h)
    b1 = 0.1 * rng.standard_normal(TEACHER_HIDDEN)  # (h,)
    W2 = rng.standard_normal(TEACHER_HIDDEN) / np.sqrt(TEACHER_HIDDEN)  # (h,)
    X = rng.standard_normal((n, d))  # (n, d)
    y = np.tanh(X @ W1 + b1) @ W2 + noise * rng.standard_normal(n)  # (n,)
    return np.column_stack([X, y])


BUILTINS = ("spirals", "moons", "teacher")


def generate_builtin(name: str, spec: DataSpec) -> Prepared:
    """The builtin ``name`` with the options of ``spec`` (a DataSpec)."""
    source = f"builtin:{name}"
    if name not in BUILTINS:
        hint = difflib.get_close_matches(str(name), BUILTINS, n=1)
        did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
        names = ", ".join(repr(b) for b in BUILTINS)
        raise DataError(f"data.builtin: unknown {name!r}; choose one of {names}{did_you_mean}")
    n = _int_option(spec, "n_samples", 1000, minimum=3, source=source)
    noise = getattr(spec, "noise", 0.1)
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise DataError(f"{source}: data.noise: must be finite and >= 0, got {noise!r}")
    rng = np.random.default_rng(_int_option(spec, "generator_seed", 0, 0, source))
    task = getattr(spec, "task", "auto")

    if name == "teacher":
        d = _int_option(spec, "n_features", 10, minimum=1, source=source)
        if task == "classification":
            raise DataError(f"{source}: data.task: teacher is a regression dataset, got {task!r}")
        data = _teacher(rng, n, d, float(noise))
        return _prepared(source, data[:, :-1], data[:, -1], "regression", "y", ())

    if name == "spirals":
        k = _int_option(spec, "n_classes", 3, minimum=2, source=source)
        if n < 2 * k:
            raise DataError(f"{source}: data.n_samples: must be >= 2 per arm ({2 * k}), got {n}")
        data = _spirals(rng, n, k, float(noise))
    else:
        k = 2
        data = _moons(rng, n, float(noise))
    if task == "regression":
        raise DataError(f"{source}: data.task: {name} is a classification dataset, got {task!r}")
    classes = tuple(str(c) for c in range(k))
    y = data[:, 2].astype(np.int64)
    return _prepared(source, data[:, :2].copy(), y, "classification", "label", classes)


def _prepared(
    source: str, X: np.ndarray, y: np.ndarray, task: str, target: str, classes: tuple[str, ...]
) -> Prepared:
    names = [f"x{i}" for i in range(X.shape[1])]
    features = tuple(Feature(n, "numeric", X[:, i]) for i, n in enumerate(names))
    reports = tuple(ColumnReport(n, "feature", "numeric", 0) for n in names)
    kind = "categorical" if task == "classification" else "numeric"
    why = f"the target ({task})"
    reports += (ColumnReport(target, "target", kind, 0, (), why),)
    return Prepared(source, features, y, task, target, classes, len(y), {}, reports, ())


def _int_option(spec: DataSpec, key: str, default: int, minimum: int, source: str) -> int:
    value = getattr(spec, key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{source}: data.{key}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _even_sizes(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]
