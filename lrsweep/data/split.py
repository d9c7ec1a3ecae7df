"""The train/validation split, standardisation, subsampling and the mini-batch order.

Everything here is deterministic: the same data spec gives bit-identical arrays, because every
random draw comes from ``np.random.default_rng`` seeded from the spec (``split_seed`` for the
split), never from global state.

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
    A column of huge or tiny numbers is first divided by a power of two near its largest
    magnitude (exact, so a column times 2**k standardises to the very same numbers, and 1e300
    or 1e-310 neither overflow nor lose precision when squared). A column that is constant on
    the training part becomes exactly 0 instead of NaN. For regression the target is
    standardised the same way, so regression losses are in units of the training target's
    standard deviation.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from lrsweep.data.dataset import Dataset
from lrsweep.errors import DataError, RareClasses, shorten

__all__ = ["batch_indices", "split_rows", "standardize", "subsample_train"]

SAFE_EXPONENT = 400  # |values| within 2**±400: squares and their sums stay normal floats


def split_rows(
    y: np.ndarray,
    task: str,
    class_names: tuple[str, ...],
    val_fraction: float,
    split_seed: int,
    source: str,
    target_name: str,
) -> np.ndarray:
    """A boolean mask, True for the validation rows (see the module docstring)."""
    n = len(y)
    if n < 3:
        raise DataError(
            f"{source}: too few samples: need at least 3 (2 to train, 1 to validate), got {n}"
        )
    n_val = min(max(1, round(n * val_fraction)), n - 2)
    rng = np.random.default_rng(split_seed)

    if task == "classification":
        counts = np.bincount(y, minlength=len(class_names))
        single = np.flatnonzero(counts == 1)
        if len(single):
            raise RareClasses(
                _singleton_message(source, target_name, class_names, counts, single),
                tuple(class_names[i] for i in single),
            )
        groups = [np.flatnonzero(y == c) for c in range(len(counts))]
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
    return is_val


def _singleton_message(
    source: str, target: str, class_names: tuple[str, ...], counts: np.ndarray, single: np.ndarray
) -> str:
    """Which classes have one row, and the two ways out (a count is a regression target)."""
    listed = ", ".join(repr(shorten(class_names[i], 12)) for i in single[:4])
    listed += f" and {len(single) - 4} more" if len(single) > 4 else ""
    one = len(single) == 1
    numeric = all(_is_number(c) for c in class_names)
    regression = "set data.task: regression (a number to predict) or " if numeric else "set "
    drops = "that row" if one else f"{len(single)} rows"
    return (
        f"{source}: column {target!r}: {len(single)} of {len(counts)} classes"
        f" {'has' if one else 'have'} one row ({listed}); a stratified split needs 2 per class:"
        f" {regression}data.min_class_count: 2 (drops {drops})"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def standardize(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale columns by the training part's mean and std; constant columns become exactly 0.

    Returns new arrays. A column whose largest magnitude is beyond ``2**±SAFE_EXPONENT`` is
    first divided by ``2**e`` (``e`` its binary exponent), so that no square overflows or
    underflows. Scaling by a power of two commutes exactly with every step here, so a column
    times ``2**k`` standardises to the very same numbers as the column itself.
    """
    train = np.asarray(train, dtype=np.float64)
    val = np.asarray(val, dtype=np.float64)
    if len(train) == 0:
        return train.copy(), val.copy()
    high, low = train.max(axis=0), train.min(axis=0)  # (n_features,)
    peak = np.maximum(high, -low)
    exponent = np.frexp(np.where(peak > 0, peak, 1.0))[1]  # peak in [2**(e-1), 2**e)
    exponent = np.where(np.abs(exponent) > SAFE_EXPONENT, exponent, 0)
    if exponent.any():
        train = np.ldexp(train, -exponent)  # exact: a power of two
        val = np.ldexp(val, -exponent)
    constant = high == low
    center = np.where(constant, train[0], train.mean(axis=0))
    train = train - center  # (n_train, n_features), new
    val = val - center
    scale = np.sqrt(np.einsum("ij,ij->j", train, train) / len(train))  # the population std
    scale[constant | (scale == 0)] = 1.0
    train /= scale
    val /= scale
    return train, val


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


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a
