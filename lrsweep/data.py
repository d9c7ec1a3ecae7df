"""Datasets: CSV loading, built-in generators, the train/val split, standardisation, batches.

Everything here is deterministic: the same data spec gives bit-identical arrays, because every
random draw comes from ``np.random.default_rng`` seeded from the spec (``split_seed`` for the
split, ``generator_seed`` for the built-in generators), never from global state.

CSV files
    A header row is required. Rows are streamed once with the stdlib ``csv`` module (no pandas),
    so a large file is never read twice or held as text. Feature columns must be finite numbers;
    the target column may hold strings (class labels). Blank lines are skipped and a UTF-8 BOM is
    ignored. Errors are :class:`~lrsweep.errors.DataError` with one line of the form
    ``<path>: line N: column 'name': <rule>, got <value>``, where ``<path>`` is the file as
    opened (``base_dir / path``) and ``line N`` is the *file* line number, counting the header
    (and any blank lines) from 1. The first bad row in file order is the one reported.

Task inference (``task: auto``)
    * any target value that is not a number -> classification;
    * all targets numbers with integer values (``3`` or ``3.0``) and at most
      ``min(50, n_samples / 5)`` distinct values -> classification;
    * otherwise -> regression.

Split
    ``n_val = round(n_samples * val_fraction)``, clamped so that at least 1 sample validates and
    at least 2 train (and, when stratified, every class keeps a training sample), so fewer
    than 3 samples is an error. Classification splits are stratified: each class gets its share
    of the validation part by largest remainder (so every class is within one sample of its
    proportional share), at least one validation sample per class when ``n_val`` allows it, and
    at least one training sample always; a class with a single sample is an error. Regression
    splits are a plain random permutation. Train and val rows keep their file order.

Standardisation (``standardize: true``)
    Mean and standard deviation are fitted on the training part only and applied to both parts.
    A column that is constant on the training part is centred but not scaled (scale 1), so it
    becomes exactly 0 instead of NaN. For regression the target is standardised the same way,
    so regression losses are in units of the training target's standard deviation.
"""

from __future__ import annotations

import csv
import difflib
import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from lrsweep.errors import DataError

__all__ = [
    "BUILTINS",
    "Dataset",
    "batch_indices",
    "load_dataset",
    "read_csv_header",
    "subsample_train",
]

TASKS = ("auto", "classification", "regression")
MAX_AUTO_CLASSES = 50  # task auto: at most this many distinct integer targets -> classes
AUTO_CLASS_RATIO = 5  # ... and at most n_samples / this many
TEACHER_HIDDEN = 16  # hidden width of the `teacher` builtin's tanh network


@dataclass(frozen=True, eq=False)
class Dataset:
    """A split, optionally standardised dataset, ready for the trainer.

    All arrays are float64 (the trainer casts) except classification targets, which are int64
    class indices into ``class_names``. The arrays are read-only so runs sharing one Dataset
    cannot disturb each other.
    """

    X_train: np.ndarray  # (n_train, n_features) float64
    y_train: np.ndarray  # classification: (n_train,) int64; regression: (n_train, 1)
    X_val: np.ndarray  # (n_val, n_features) float64
    y_val: np.ndarray  # like y_train
    task: str  # "classification" | "regression"
    n_outputs: int  # number of classes, or 1 for regression
    feature_names: tuple[str, ...]
    target_name: str
    class_names: tuple[str, ...]  # original labels as strings, sorted; () for regression
    source: str  # the CSV path as opened, or "builtin:<name>"


# --------------------------------------------------------------------------------------------
# public API


def load_dataset(spec: Any, base_dir: Path) -> Dataset:
    """Load, split and (optionally) standardise the data described by ``spec``.

    ``spec`` is the ``data`` section of the spec (attributes ``path``, ``builtin``, ``target``,
    ``task``, ``val_fraction``, ``standardize``, ``split_seed`` and the builtin options). A
    relative ``path`` is resolved against ``base_dir`` (the spec file's directory).
    """
    path = getattr(spec, "path", None)
    builtin = getattr(spec, "builtin", None)
    if (path is None) == (builtin is None):
        raise DataError(
            f"data: exactly one of 'path' and 'builtin' must be set, got path={path!r} "
            f"and builtin={builtin!r}"
        )
    task = getattr(spec, "task", "auto")
    if task not in TASKS:
        raise DataError(f"data.task: must be one of {_quoted(TASKS)}, got {task!r}")
    val_fraction = getattr(spec, "val_fraction", 0.2)
    if not (isinstance(val_fraction, (int, float)) and 0.0 < val_fraction < 1.0):
        raise DataError(f"data.val_fraction: must be > 0 and < 1, got {val_fraction!r}")

    if builtin is not None:
        raw = _generate_builtin(builtin, spec)
    else:
        file = Path(str(path))
        if not file.is_absolute():
            file = Path(base_dir) / file
        raw = _read_csv(file, getattr(spec, "target", None), task)

    return _split_and_scale(
        raw,
        val_fraction=float(val_fraction),
        split_seed=int(getattr(spec, "split_seed", 0)),
        standardize=bool(getattr(spec, "standardize", True)),
    )


def subsample_train(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """Keep a random ``fraction`` of the training part; the validation part is untouched.

    Classification subsamples are stratified by largest remainder, keeping at least one sample
    of every class. Kept rows stay in their original order. The standardisation statistics are
    not refitted, so a subsampled round sees inputs on the same scale as a full one.
    ``fraction == 1`` returns ``ds`` itself.
    """
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction <= 1.0):
        raise DataError(f"coarse.subsample: must be > 0 and <= 1, got {fraction!r}")
    if fraction == 1.0:
        return ds
    rng = np.random.default_rng(seed)
    n_train = len(ds.X_train)
    n_keep = max(1, round(n_train * fraction))
    if ds.task == "classification":
        groups = [np.flatnonzero(ds.y_train == c) for c in range(ds.n_outputs)]
        groups = [g for g in groups if len(g)]
        counts = _allocate(
            [len(g) for g in groups],
            max(n_keep, len(groups)),
            lower=[1] * len(groups),
            upper=[len(g) for g in groups],
        )
        keep = np.concatenate([rng.permutation(g)[:k] for g, k in zip(groups, counts)])
    else:
        keep = rng.permutation(n_train)[:n_keep]
    keep = np.sort(keep)
    return replace(ds, X_train=_frozen(ds.X_train[keep]), y_train=_frozen(ds.y_train[keep]))


def batch_indices(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of mini-batches: a fresh ``rng.permutation(n)`` cut into ``batch_size`` pieces.

    Every index in ``range(n)`` appears exactly once. The last batch keeps the remainder (it may
    be smaller); if ``batch_size >= n`` the epoch is a single full batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def read_csv_header(path: Path) -> list[str]:
    """Return the column names in the header row of the CSV at ``path``.

    Raises DataError for a missing file, a directory, an empty file, bytes that are not UTF-8,
    an empty or duplicate column name.
    """
    path = Path(path)
    with _open_csv(path) as lines:
        return _check_header(path, next(_numbered_rows(path, _decoded_lines(path, lines)), None))


# --------------------------------------------------------------------------------------------
# CSV reading


@dataclass(frozen=True, eq=False)
class _Raw:
    """Unsplit data: features, targets (already encoded) and names."""

    X: np.ndarray  # (n_samples, n_features) float64
    y: np.ndarray  # (n_samples,) int64 class index, or float64 target
    task: str
    feature_names: tuple[str, ...]
    target_name: str
    class_names: tuple[str, ...]
    source: str


class _open_csv:
    """Context manager opening ``path`` in binary mode with one-line errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: Any = None

    def __enter__(self) -> Iterator[bytes]:
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a directory, expected a CSV file")
        try:
            self.file = open(self.path, "rb")  # closed in __exit__
        except FileNotFoundError:
            raise DataError(f"{self.path}: no such file") from None
        except OSError as e:
            raise DataError(f"{self.path}: cannot read: {e.strerror or e}") from None
        return iter(self.file)

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


def _decoded_lines(path: Path, lines: Iterable[bytes]) -> Iterator[str]:
    """Decode each physical line as UTF-8 (BOM dropped), naming the line if it is not."""
    for lineno, raw in enumerate(lines, start=1):
        try:
            yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as e:
            bad = raw[e.start : e.start + 1]
            raise DataError(
                f"{path}: line {lineno}: not UTF-8 text, got byte 0x{bad.hex()} at column "
                f"{e.start + 1}; save the file as UTF-8"
            ) from None


def _numbered_rows(path: Path, text_lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(file line where the record starts, fields)``, skipping blank lines."""
    reader = csv.reader(text_lines)
    last = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from None
        start, last = last + 1, reader.line_num
        if row and not (len(row) == 1 and not row[0].strip()):
            yield start, row


def _check_header(path: Path, first: tuple[int, list[str]] | None) -> list[str]:
    """Column names from the first record; ``first`` is ``(line, fields)`` or None."""
    if first is None:
        raise DataError(f"{path}: empty file, expected a header row")
    line, header = first
    names = [name.strip() for name in header]
    seen: dict[str, int] = {}
    for col, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{path}: line {line}: column {col}: empty column name, got {name!r}")
        if name in seen:
            raise DataError(
                f"{path}: line {line}: duplicate column name, got {name!r} "
                f"(columns {seen[name]} and {col})"
            )
        seen[name] = col
    return names


def _read_csv(path: Path, target: str | None, task: str) -> _Raw:
    """Stream the CSV once: features into a flat float buffer, target values kept as text."""
    with _open_csv(path) as lines:
        rows = _numbered_rows(path, _decoded_lines(path, lines))
        names = _check_header(path, next(rows, None))
        if len(names) < 2:
            raise DataError(
                f"{path}: need at least 2 columns (features and a target), "
                f"got {len(names)}: {_quoted(names)}"
            )
        t = _target_column(path, names, target)
        feature_names = tuple(n for i, n in enumerate(names) if i != t)
        n_fields = len(names)

        values = array("d")  # row-major (n_samples, n_features)
        targets: list[str] = []
        target_lines = array("q")  # file line of each row, for errors found after reading
        for lineno, row in rows:
            if len(row) != n_fields:
                raise DataError(
                    f"{path}: line {lineno}: expected {n_fields} fields, got {len(row)}"
                )
            label = row.pop(t).strip()
            if not label:
                raise DataError(
                    f"{path}: line {lineno}: column {names[t]!r}: missing target value, "
                    f"got {label!r}"
                )
            try:
                floats = [float(cell) for cell in row]
            except ValueError:
                _bad_number(path, lineno, feature_names, row)
            if not math.isfinite(sum(floats)):  # nan/inf propagate; overflow re-checked
                _check_finite(path, lineno, feature_names, row, floats)
            values.extend(floats)
            targets.append(label)
            target_lines.append(lineno)

    if not targets:
        raise DataError(f"{path}: no data rows (only a header)")
    X = np.frombuffer(values, dtype=np.float64).reshape(len(targets), len(feature_names))
    y, task, class_names = _encode_target(path, names[t], targets, target_lines, task)
    return _Raw(X.copy(), y, task, feature_names, names[t], class_names, str(path))


def _target_column(path: Path, names: list[str], target: str | None) -> int:
    if target is None:
        return len(names) - 1
    if target in names:
        return names.index(target)
    shown = _quoted(names[:12]) + (f", ... ({len(names)} columns)" if len(names) > 12 else "")
    hint = difflib.get_close_matches(target, names, n=1)
    did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
    raise DataError(
        f"{path}: data.target: no column {target!r}; columns are {shown}{did_you_mean}"
    )


def _bad_number(path: Path, lineno: int, names: tuple[str, ...], row: list[str]) -> NoReturn:
    """Raise for the first cell of ``row`` that is not a number."""
    for name, cell in zip(names, row):
        try:
            float(cell)
        except ValueError:
            what = "missing value" if not cell.strip() else "not a number"
            raise DataError(
                f"{path}: line {lineno}: column {name!r}: {what}, got {cell!r}"
            ) from None
    raise AssertionError("unreachable: no bad cell found")  # pragma: no cover


def _check_finite(
    path: Path, lineno: int, names: tuple[str, ...], row: list[str], floats: list[float]
) -> None:
    for name, cell, value in zip(names, row, floats):
        if not math.isfinite(value):
            raise DataError(
                f"{path}: line {lineno}: column {name!r}: must be finite, got {cell.strip()!r}"
            )


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _encode_target(
    path: Path, name: str, targets: list[str], lines: array, task: str
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """Infer the task (see the module docstring) and encode the target column."""
    numbers = [_as_float(t) for t in targets]
    first_text = next((i for i, v in enumerate(numbers) if v is None), None)
    numeric = first_text is None
    if task == "auto":
        task = "regression"
        if not numeric:
            task = "classification"
        elif all(v is not None and math.isfinite(v) and v.is_integer() for v in numbers):
            limit = min(MAX_AUTO_CLASSES, len(targets) / AUTO_CLASS_RATIO)
            if len(set(numbers)) <= limit:
                task = "classification"

    if task == "regression":
        if first_text is not None:
            raise DataError(
                f"{path}: line {lines[first_text]}: column {name!r}: not a number "
                f"(data.task is regression), got {targets[first_text]!r}"
            )
        y = np.array(numbers, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            i = int(bad[0])
            raise DataError(
                f"{path}: line {lines[i]}: column {name!r}: must be finite, got {targets[i]!r}"
            )
        return y, task, ()

    # classification: numeric labels sort as numbers ("2" < "10"), text labels as strings
    names_of: dict[Any, str]
    if numeric and all(v is not None and math.isfinite(v) for v in numbers):
        keys: list[Any] = numbers
        names_of = {v: _label_name(float(v)) for v in set(numbers) if v is not None}
    else:
        keys = targets
        names_of = {v: v for v in set(targets)}
    order = sorted(names_of)
    index = {k: i for i, k in enumerate(order)}
    y = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
    class_names = tuple(names_of[k] for k in order)
    if len(class_names) < 2:
        raise DataError(
            f"{path}: column {name!r}: classification needs at least 2 classes, "
            f"got only {class_names[0]!r}"
        )
    return y, task, class_names


def _label_name(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# --------------------------------------------------------------------------------------------
# built-in datasets


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


def _generate_builtin(name: str, spec: Any) -> _Raw:
    source = f"builtin:{name}"
    if name not in BUILTINS:
        hint = difflib.get_close_matches(str(name), BUILTINS, n=1)
        did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
        raise DataError(
            f"data.builtin: unknown {name!r}; choose one of {_quoted(BUILTINS)}{did_you_mean}"
        )
    n = _int_option(spec, "n_samples", 1000, minimum=3, source=source)
    noise = getattr(spec, "noise", 0.1)
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise DataError(f"{source}: data.noise: must be finite and >= 0, got {noise!r}")
    rng = np.random.default_rng(_int_option(spec, "generator_seed", 0, 0, source))
    task = getattr(spec, "task", "auto")

    if name == "teacher":
        d = _int_option(spec, "n_features", 10, minimum=1, source=source)
        data = _teacher(rng, n, d, float(noise))
        if task == "classification":
            raise DataError(f"{source}: data.task: teacher is a regression dataset, got {task!r}")
        return _Raw(
            data[:, :-1],
            data[:, -1],
            "regression",
            tuple(f"x{i}" for i in range(d)),
            "y",
            (),
            source,
        )

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
    return _Raw(
        data[:, :2].copy(),
        data[:, 2].astype(np.int64),
        "classification",
        ("x0", "x1"),
        "label",
        tuple(str(c) for c in range(k)),
        source,
    )


def _int_option(spec: Any, key: str, default: int, minimum: int, source: str) -> int:
    value = getattr(spec, key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{source}: data.{key}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# split and standardisation


def _split_and_scale(
    raw: _Raw, val_fraction: float, split_seed: int, standardize: bool
) -> Dataset:
    n = len(raw.y)
    if n < 3:
        raise DataError(
            f"{raw.source}: too few samples: need at least 3 (2 to train, 1 to validate), got {n}"
        )
    n_val = min(max(1, round(n * val_fraction)), n - 2)
    rng = np.random.default_rng(split_seed)

    if raw.task == "classification":
        counts = np.bincount(raw.y, minlength=len(raw.class_names))
        single = np.flatnonzero(counts == 1)
        if len(single):
            raise DataError(
                f"{raw.source}: column {raw.target_name!r}: class "
                f"{raw.class_names[single[0]]!r} has 1 sample; a stratified split needs "
                f"at least 2 per class"
            )
        groups = [np.flatnonzero(raw.y == c) for c in range(len(counts))]
        k = len(groups)
        n_val = min(n_val, n - k)  # every class keeps a training sample
        lower = 1 if n_val >= k else 0
        val_counts = _allocate(
            counts.tolist(), n_val, lower=[lower] * k, upper=[c - 1 for c in counts.tolist()]
        )
        val = np.concatenate([rng.permutation(g)[:v] for g, v in zip(groups, val_counts)])
    else:
        val = rng.permutation(n)[:n_val]
    is_val = np.zeros(n, dtype=bool)
    is_val[val] = True

    X_train, X_val = raw.X[~is_val], raw.X[is_val]
    y_train, y_val = raw.y[~is_val], raw.y[is_val]
    if raw.task == "regression":
        y_train, y_val = y_train.reshape(-1, 1), y_val.reshape(-1, 1)
    if standardize:
        X_train, X_val = _standardize(X_train, X_val)
        if raw.task == "regression":
            y_train, y_val = _standardize(y_train, y_val)

    dtype = np.int64 if raw.task == "classification" else np.float64
    return Dataset(
        X_train=_frozen(X_train.astype(np.float64)),
        y_train=_frozen(y_train.astype(dtype)),
        X_val=_frozen(X_val.astype(np.float64)),
        y_val=_frozen(y_val.astype(dtype)),
        task=raw.task,
        n_outputs=len(raw.class_names) if raw.task == "classification" else 1,
        feature_names=raw.feature_names,
        target_name=raw.target_name,
        class_names=raw.class_names,
        source=raw.source,
    )


def _standardize(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale columns by the training part's mean and std; constant columns become exactly 0."""
    constant = np.ptp(train, axis=0) == 0  # (n_features,)
    center = np.where(constant, train[0], train.mean(axis=0))
    scale = np.where(constant, 1.0, train.std(axis=0))
    return (train - center) / scale, (val - center) / scale


def _allocate(sizes: list[int], total: int, lower: list[int], upper: list[int]) -> list[int]:
    """Split ``total`` over groups in proportion to ``sizes`` (largest remainder, ties to the
    first group), keeping each share within ``[lower, upper]``. Assumes the bounds allow it."""
    n = sum(sizes)
    ideal = [s * total / n for s in sizes]
    shares = [min(max(math.floor(x), lo), hi) for x, lo, hi in zip(ideal, lower, upper)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (shares[i] - ideal[i], i))
    while sum(shares) < total:  # give to those furthest below their ideal
        i = next(i for i in by_remainder if shares[i] < upper[i])
        shares[i] += 1
        by_remainder.sort(key=lambda j: (shares[j] - ideal[j], j))
    while sum(shares) > total:  # take from those furthest above
        i = next(i for i in reversed(by_remainder) if shares[i] > lower[i])
        shares[i] -= 1
        by_remainder.sort(key=lambda j: (shares[j] - ideal[j], j))
    return shares


def _even_sizes(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)
