"""Column roles, kinds, encoding and imputation, and what was done to each column, as data.

Roles
    ``data.target`` names the target (default: the last column). ``data.features`` lists the
    features, or ``data.drop`` the columns to leave out; by default every other column is a
    feature, except those recognised and dropped with a note: an index column (the unnamed first
    column pandas writes, ``rownames``, ``Unnamed: 0``, ``index``, or an integer column that is
    exactly 0..n-1 or 1..n in file order), a constant column and an all-missing column.

Kinds
    Numbers are ``numeric``; strings and booleans are ``categorical`` (one-hot, categories learned
    on the training split only, a category first seen in validation encodes as all zeros).
    ``data.categorical`` makes integer codes categories, ``data.numeric`` reads a column as
    numbers. More than ``data.max_categories`` levels is an error naming the column, or with
    ``data.over_max_categories: drop`` the column is dropped with a note. Dates are ``date``
    (:mod:`.dates`): expanded into numeric parts, or dropped with ``data.dates: drop``.

Missing values
    Numeric features: the training split's median plus a ``<name>_missing`` indicator column
    (``missing: impute``), or the incomplete rows are dropped (``missing: drop``). Categorical
    features: missing is a category of its own. Rows with a missing target are dropped. Every
    count is reported.

Task inference (``task: auto``), as a person reading the column would decide
    * a target that is not all numbers -> classification;
    * numbers that are not all integers -> regression;
    * integers (``3`` or ``3.0``): at most 10 distinct values -> classification; more than
      ``min(50, n_samples / 5)`` distinct values, or more than 10 with some value in a single
      row (counts and amounts have a long tail; class labels do not) -> regression;
      otherwise classification. Either choice is said in a note with how to override it
      (``data.task``).

Rare classes
    ``data.min_class_count: k`` drops the rows of classes with fewer than ``k`` rows (counted
    and named in a note); without it a class of one row stops the stratified split with a
    message naming such classes and both ways out.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lrsweep.data.dates import date_parts, parse_dates
from lrsweep.data.read import Table
from lrsweep.errors import DataError, TooManyLevels, shorten

if TYPE_CHECKING:
    from lrsweep.spec import DataSpec

__all__ = [
    "ColumnReport",
    "Encoder",
    "Feature",
    "Prepared",
    "data_summary_line",
    "fit_encoder",
    "prepare_columns",
]

MAX_AUTO_CLASSES = 50  # task auto: at most this many distinct integer targets -> classes
AUTO_CLASS_RATIO = 5  # ... and at most n_samples / this many
FEW_CLASSES = 10  # ... and past this many, no value in a single row (a count's long tail)
TARGET_PRECISION = 1e-12  # a regression target varying by less, relative to its size: constant
INDEX_NAMES = ("rownames", "unnamed: 0", "index")
MISSING_LEVEL = "(missing)"  # the category of a missing categorical cell


@dataclass(frozen=True)
class ColumnReport:
    """What was done to one source column (``summary.json``'s ``data.columns``)."""

    name: str
    role: str  # "target" | "feature" | "dropped"
    kind: str  # "numeric" | "categorical" | "date" | "index" | "constant" | "empty"
    missing: int  # missing cells among the rows read
    encoded_as: tuple[str, ...] = ()  # the model inputs made from it
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "kind": self.kind,
            "missing": self.missing,
            "encoded_as": list(self.encoded_as),
            "why": self.why,
        }


@dataclass(frozen=True, eq=False)
class Feature:
    """One feature column over the rows used: float64 (NaN missing) or object (str, None)."""

    name: str
    kind: str  # "numeric" | "categorical"
    values: np.ndarray
    source: str = ""  # the column it was made from, when not itself (a date's parts)
    indicator: bool = True  # numeric with missing values: add a <name>_missing input


@dataclass(frozen=True, eq=False)
class Prepared:
    """The table with roles decided, rows dropped and the target encoded; not yet split."""

    source: str
    features: tuple[Feature, ...]
    y: np.ndarray  # classification: int64 class index; regression: float64
    task: str
    target_name: str
    class_names: tuple[str, ...]
    rows_read: int
    rows_dropped: dict[str, int]  # why -> count
    reports: tuple[ColumnReport, ...]  # every source column, in file order (encoded_as empty)
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Encoder:
    """Imputation and one-hot encoding fitted on the training rows."""

    medians: dict[str, float] = field(default_factory=dict)  # numeric features
    indicators: frozenset[str] = frozenset()  # numeric features with a _missing column
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # categorical

    def input_names(self, features: Sequence[Feature]) -> dict[str, tuple[str, ...]]:
        """The model inputs made from each feature, in order."""
        out: dict[str, tuple[str, ...]] = {}
        for f in features:
            if f.kind == "numeric":
                extra = (f"{f.name}_missing",) if f.name in self.indicators else ()
                out[f.name] = (f.name, *extra)
            else:
                out[f.name] = tuple(f"{f.name}={c}" for c in self.categories[f.name])
        return out

    def transform(self, features: Sequence[Feature], rows: np.ndarray) -> np.ndarray:
        """The encoded inputs ``(len(rows), n_inputs)`` float64 of the given rows."""
        widths = [len(names) for names in self.input_names(features).values()]
        out = np.zeros((len(rows), sum(widths)))  # (n_rows, n_inputs)
        j = 0
        for f, width in zip(features, widths):
            v = f.values[rows]
            if f.kind == "numeric":
                if f.name in self.medians:
                    missing = np.isnan(v)
                    out[:, j] = np.where(missing, self.medians[f.name], v)
                    if f.name in self.indicators:
                        out[:, j + 1] = missing
                else:
                    out[:, j] = v
            else:
                index = {c: i for i, c in enumerate(self.categories[f.name])}
                codes = np.fromiter(
                    (index.get(MISSING_LEVEL if x is None else x, -1) for x in v),
                    dtype=np.int64,
                    count=len(v),
                )
                seen = codes >= 0  # a category not seen in training: all zeros
                out[np.flatnonzero(seen), j + codes[seen]] = 1.0
            j += width
        return out


def fit_encoder(features: Sequence[Feature], train: np.ndarray) -> Encoder:
    """Medians and categories from the training rows ``train`` only."""
    medians: dict[str, float] = {}
    indicators: set[str] = set()
    categories: dict[str, tuple[str, ...]] = {}
    for f in features:
        if f.kind == "numeric":
            if not np.isnan(f.values).any():
                continue  # nothing to impute: no median, no indicator
            if f.indicator:
                indicators.add(f.name)
            v = f.values[train]
            present = v[~np.isnan(v)]
            medians[f.name] = float(np.median(present)) if len(present) else 0.0
        else:
            levels = {MISSING_LEVEL if x is None else x for x in f.values[train]}
            categories[f.name] = tuple(sorted(levels))
    return Encoder(medians, frozenset(indicators), categories)


# --------------------------------------------------------------------------------------------
# roles and kinds


def prepare_columns(table: Table, spec: DataSpec) -> Prepared:
    """Decide every column's role and kind, drop rows, encode the target (see the module doc).

    ``spec`` is a :class:`lrsweep.spec.DataSpec` (``target``, ``features``, ``drop``,
    ``categorical``, ``numeric``, ``max_categories``, ``over_max_categories``, ``dates``,
    ``missing``, ``task``, ``min_class_count``).
    """
    names = list(table.names)
    src = table.source
    t = _target_index(src, names, spec.target)
    target = names[t]
    for key in ("features", "drop", "categorical", "numeric"):
        for name in getattr(spec, key) or []:
            _column_index(src, names, name, f"data.{key}")
    both = set(spec.categorical) & set(spec.numeric)
    if both:
        raise DataError(
            f"{src}: data.categorical and data.numeric: a column cannot be both, got "
            f"{sorted(both)[0]!r}"
        )
    if spec.features is not None and target in spec.features:
        raise DataError(f"{src}: data.features: lists the target, got {target!r}")

    n_read = table.n_rows
    columns = dict(zip(names, table.columns))
    if columns[target].dtype.kind == "M":  # a date to predict: its text, as classes
        columns[target] = _as_kind(table, target, columns[target], "categorical")
    missing_counts = {n: int(_missing_mask(a).sum()) for n, a in columns.items()}
    notes: list[str] = list(table.notes)
    dropped_rows: dict[str, int] = {}

    # rows with a missing target
    keep = ~_missing_mask(columns[target])
    if not keep.all():
        dropped_rows["target missing"] = int((~keep).sum())

    reports: dict[str, ColumnReport] = {}
    candidates: list[tuple[str, str]] = []  # (name, kind)
    date_how: dict[str, str] = {}  # date columns: how they were read
    for i, name in enumerate(names):
        if i == t:
            continue
        values = columns[name]
        if spec.features is not None and name not in spec.features:
            kind = _kind_of(name, values, spec)
            reports[name] = _dropped(name, kind, missing_counts, "not in data.features")
            continue
        if name in spec.drop:
            kind = _kind_of(name, values, spec)
            reports[name] = _dropped(name, kind, missing_counts, "in data.drop")
            continue
        if spec.features is None and name not in spec.categorical and name not in spec.numeric:
            why = _index_reason(i, name, values, table.unnamed_first)
            if why:
                reports[name] = _dropped(name, "index", missing_counts, why)
                notes.append(f"column {name!r}: dropped, {why}")
                continue
        if values.dtype.kind == "M":
            date_how[name] = "dates"
        elif values.dtype == object and name not in spec.categorical + spec.numeric:
            parsed = parse_dates(values)
            if parsed is not None:
                columns[name], date_how[name] = parsed
        candidates.append((name, _kind_of(name, columns[name], spec)))

    # coerce kinds, then constant and empty columns (on the rows with a target)
    features: list[Feature] = []
    too_many: dict[str, tuple[int, int]] = {}  # column -> (levels, present values)
    every_row = bool(keep.all())  # then no column is copied
    taken = set(names)
    for name, kind in candidates:
        values = _as_kind(table, name, columns[name], kind)
        if values is not columns[name]:  # converted: "inf" read as a number is missing too
            missing_counts[name] = int(_missing_mask(values).sum())
        values = values if every_row else values[keep]
        n_present = len(values) - (
            missing_counts[name] if every_row else int(_missing_mask(values).sum())
        )
        if n_present == 0:
            reports[name] = _dropped(name, "empty", missing_counts, "every value is missing")
            notes.append(f"column {name!r}: dropped, every value is missing")
            continue
        if n_present == len(values) and _constant(values):
            only = values[0]
            shown = _label_name(only) if isinstance(only, float) else str(only)
            why = f"constant (every value is {shown!r})"
            reports[name] = _dropped(name, "constant", missing_counts, why)
            notes.append(f"column {name!r}: dropped, {why}")
            continue
        if kind == "date":
            parts = _date_features(src, name, values, spec.dates, taken)
            if not parts:
                why = f"{date_how[name]} (data.dates: drop)"
                reports[name] = _dropped(name, "date", missing_counts, why)
                notes.append(f"column {name!r}: dropped, {why}")
                continue
            suffixes = ", ".join(f.name[len(name) + 1 :] for f in parts)
            notes.append(
                f"column {name!r}: {date_how[name]} -> {len(parts)} numeric parts ({suffixes});"
                " data.dates: drop drops such columns"
            )
            features.extend(parts)
            continue
        if kind == "categorical":
            n_levels = len(set(values.tolist()) - {None})
            if n_levels > spec.max_categories:
                too_many[name] = (n_levels, n_present)
                if spec.over_max_categories == "drop":
                    why = (
                        f"{_levels_text(n_levels, n_present)}, more than data.max_categories"
                        f" ({spec.max_categories})"
                    )
                    reports[name] = _dropped(name, "categorical", missing_counts, why)
                    notes.append(f"column {name!r}: dropped, {why}")
                    continue
        features.append(Feature(name, kind, values))
    if too_many and spec.over_max_categories == "error":
        # every such column in one line, so a user (or `init`) fixes them at once
        listed = ", ".join(f"{name!r}: {levels} levels" for name, (levels, _) in too_many.items())
        one = len(too_many) == 1
        raise TooManyLevels(
            f"{src}: column{'' if one else 's'} {listed}, more than data.max_categories"
            f" ({spec.max_categories}); drop {'it' if one else 'them'}"
            f" (data.drop: [{', '.join(too_many)}]) or raise data.max_categories",
            too_many,
        )

    if spec.missing == "drop" and features:
        complete = np.ones(int(keep.sum()), dtype=bool)
        for f in features:
            complete &= ~_missing_mask(f.values)
        if not complete.all():
            dropped_rows["feature missing"] = int((~complete).sum())
            features = [_rows_of(f, complete) for f in features]
            keep[np.flatnonzero(keep)[~complete]] = False
    n_used = int(keep.sum())
    if n_used == 0:
        raise DataError(f"{src}: column {target!r}: no rows left (every target is missing)")

    y, task, class_names, task_note = _encode_target(
        table, target, columns[target], keep, spec.task
    )
    if task == "classification" and spec.min_class_count > 1:
        y, class_names, common, rare_note = _drop_rare_classes(
            src, target, y, class_names, spec.min_class_count
        )
        if rare_note:
            dropped_rows["rare class"] = int((~common).sum())
            features = [_rows_of(f, common) for f in features]
            notes.append(rare_note)
    if not features and n_used >= 3:  # fewer rows: the split says "too few samples"
        raise DataError(
            f"{src}: no feature columns left (columns: {_quoted(names)}, target {target!r})"
        )
    if task_note:
        notes.append(task_note)
    reports[target] = ColumnReport(
        target,
        "target",
        "categorical" if task == "classification" else "numeric",
        missing_counts[target],
        (),
        f"the column to predict ({task}"
        + (f", {len(class_names)} classes)" if task == "classification" else ")"),
    )
    notes.extend(_leak_warnings(features, y, task, target))
    for f in features:  # completed with encoded_as once the encoder is fitted
        column = f.source or f.name
        kind = "date" if f.source else f.kind
        reports[column] = ColumnReport(column, "feature", kind, missing_counts[column])
    return Prepared(
        src,
        tuple(features),
        y,
        task,
        target,
        class_names,
        n_read,
        dropped_rows,
        tuple(reports[n] for n in names),
        tuple(notes),
    )


def _rows_of(f: Feature, rows: np.ndarray) -> Feature:
    return Feature(f.name, f.kind, f.values[rows], f.source, f.indicator)


def _levels_text(levels: int, rows: int) -> str:
    every = "every value distinct" if levels >= rows else f"in {rows:,} rows"
    return f"{levels:,} text values ({every})"


def _date_features(
    src: str, name: str, values: np.ndarray, dates: str, taken: set[str]
) -> list[Feature]:
    """The numeric parts of a date column as features (none for ``data.dates: drop``); one
    ``_missing`` indicator for the column (on its first part), not one per part."""
    if dates == "drop":
        return []
    out: list[Feature] = []
    for part, a in date_parts(values):
        part_name = f"{name}_{part}"
        if part_name in taken:
            raise DataError(
                f"{src}: column {name!r}: its date part {part_name!r} has the name of another"
                f" column; rename one, or set data.dates: drop"
            )
        out.append(Feature(part_name, "numeric", a, name, indicator=not out))
    return out


def _drop_rare_classes(
    src: str, target: str, y: np.ndarray, class_names: tuple[str, ...], min_count: int
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, str]:
    """``data.min_class_count``: y re-encoded without the rows of rarer classes, the class
    names left, the rows kept (mask) and a note naming what was dropped ("" if nothing)."""
    counts = np.bincount(y, minlength=len(class_names))
    rare = counts < min_count
    common = ~rare[y]
    if not rare.any():
        return y, class_names, common, ""
    left = np.flatnonzero(~rare)
    if len(left) < 2:
        raise DataError(
            f"{src}: column {target!r}: data.min_class_count ({min_count}) leaves"
            f" {len(left)} class{'' if len(left) == 1 else 'es'}; classification needs 2"
        )
    new_index = np.full(len(class_names), -1)
    new_index[left] = np.arange(len(left))
    listed = _class_counts(class_names, counts, np.flatnonzero(rare))
    note = (
        f"target {target!r}: dropped {int((~common).sum())} rows of {int(rare.sum())} classes"
        f" with fewer than {min_count} rows (data.min_class_count): {listed}"
    )
    return new_index[y[common]], tuple(class_names[i] for i in left), common, note


def _class_counts(class_names: Sequence[str], counts: np.ndarray, which: Iterable[int]) -> str:
    """``'9' (1 row), '17' (1 row) and 3 more``: classes and their counts, fewest first."""
    which = sorted(which, key=lambda i: (counts[i], i))
    shown = [f"{shorten(class_names[i], 20)!r} ({counts[i]} row{'' if counts[i] == 1 else 's'})"
             for i in which[:5]]  # fmt: skip
    more = f" and {len(which) - 5} more" if len(which) > 5 else ""
    return ", ".join(shown) + more


def complete_reports(
    reports: Sequence[ColumnReport], encoder: Encoder, features: Sequence[Feature]
) -> tuple[ColumnReport, ...]:
    """The feature reports with the inputs each became and why."""
    inputs = encoder.input_names(features)
    out = []
    for r in reports:
        if r.role != "feature":
            out.append(r)
            continue
        if r.kind == "date":
            parts = [f for f in features if f.source == r.name]
            encoded = tuple(n for f in parts for n in inputs[f.name])
            listed = ", ".join(f.name[len(r.name) + 1 :] for f in parts)
            why = f"a date: {len(parts)} numeric parts ({listed})"
            out.append(ColumnReport(r.name, r.role, r.kind, r.missing, encoded, why))
            continue
        encoded = inputs[r.name]
        if r.kind == "numeric":
            why = "a number" + (", median-imputed with an indicator" if len(encoded) > 1 else "")
        else:
            why = f"one-hot over {len(encoded)} categories seen in training"
        out.append(ColumnReport(r.name, r.role, r.kind, r.missing, encoded, why))
    return tuple(out)


def _dropped(name: str, kind: str, missing: Mapping[str, int], why: str) -> ColumnReport:
    return ColumnReport(name, "dropped", kind, missing[name], (), why)


def _target_index(src: str, names: list[str], target: str | None) -> int:
    if target is None:
        return len(names) - 1
    return _column_index(src, names, target, "data.target")


def _column_index(src: str, names: list[str], name: str, key: str) -> int:
    if name in names:
        return names.index(name)
    shown = _quoted(names[:12]) + (f", ... ({len(names)} columns)" if len(names) > 12 else "")
    hint = difflib.get_close_matches(name, names, n=1)
    did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
    raise DataError(f"{src}: {key}: no column {name!r}; columns are {shown}{did_you_mean}")


def _kind_of(name: str, values: np.ndarray, spec: DataSpec) -> str:
    if name in spec.categorical:
        return "categorical"
    if name in spec.numeric:
        return "numeric"
    if values.dtype.kind == "M":
        return "date"
    return "numeric" if values.dtype != object else "categorical"


def _as_kind(table: Table, name: str, values: np.ndarray, kind: str) -> np.ndarray:
    """Numbers as float64 (NaN missing), categories as str (None missing); a date listed in
    data.numeric is its days since 1970, in data.categorical its text."""
    if values.dtype.kind == "M" and kind != "date":
        missing = np.isnat(values)
        if kind == "numeric":
            days = (values - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "D")
            return np.where(missing, np.nan, days)
        text = np.datetime_as_string(values)
        return np.array([None if m else str(v) for v, m in zip(text, missing)], dtype=object)
    if kind == "numeric" and values.dtype == object:
        out = np.empty(len(values))
        for row, v in enumerate(values):
            if v is None:
                out[row] = np.nan
                continue
            try:
                x = float(v)
            except ValueError:
                raise DataError(
                    f"{table.where(row)}: column {name!r}: not a number (data.numeric),"
                    f" got {shorten(str(v))!r}"
                ) from None
            out[row] = x if math.isfinite(x) else np.nan
        return out
    if kind == "categorical" and values.dtype != object:
        return np.array([None if x != x else _label_name(float(x)) for x in values], dtype=object)
    return values


def _index_reason(i: int, name: str, values: np.ndarray, unnamed_first: bool) -> str:
    if i == 0 and unnamed_first:
        return "an index column (unnamed first column, as pandas and R write the row index)"
    if name.lower() in INDEX_NAMES:
        return f"an index column (named {name!r})"
    n = len(values)
    if values.dtype.kind == "f" and n >= 3 and not np.isnan(values).any():
        start = values[0]
        if start in (0.0, 1.0) and np.array_equal(values, np.arange(n) + start):
            return f"an index column ({int(start)}..{int(start) + n - 1} in file order)"
    return ""


def _missing_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if values.dtype.kind == "M":
        return np.isnat(values)
    return np.isnan(values)


def _constant(values: np.ndarray) -> bool:
    if values.dtype == object:
        first = values[0]
        return all(v == first for v in values)
    return bool(values.min() == values.max())


def _encode_target(
    table: Table, name: str, values: np.ndarray, keep: np.ndarray, task: str
) -> tuple[np.ndarray, str, tuple[str, ...], str]:
    """Infer the task and encode the target over the kept rows; also a note on the choice."""
    src = table.source
    v = values[keep]
    numeric = v.dtype != object
    note = ""
    if task == "auto":
        task, note = _infer_task(name, v)
    if task == "regression":
        if not numeric:
            for row in np.flatnonzero(keep):
                try:
                    float(values[row])
                except ValueError:
                    raise DataError(
                        f"{table.where(int(row))}: column {name!r}: not a number (data.task is"
                        f" regression), got {shorten(str(values[row]))!r}"
                    ) from None
            v = np.array([float(x) for x in v])
        v = v.astype(np.float64)
        _check_variance(src, name, v)
        return v, task, (), note

    # classification: numeric labels sort as numbers ("2" < "10"), text labels as strings
    if numeric:
        order = np.unique(v)
        y = np.searchsorted(order, v).astype(np.int64)
        class_names = tuple(_label_name(float(c)) for c in order)
    else:
        labels = sorted(set(v.tolist()))
        index = {c: i for i, c in enumerate(labels)}
        y = np.fromiter((index[c] for c in v), dtype=np.int64, count=len(v))
        class_names = tuple(labels)
    if len(class_names) < 2:
        only = class_names[0] if class_names else None
        raise DataError(
            f"{src}: column {name!r}: classification needs at least 2 classes, got only {only!r}"
        )
    return y, task, class_names, note


def _infer_task(name: str, v: np.ndarray) -> tuple[str, str]:
    """``task: auto``: the task a person would read in the target (module docstring), and a
    note saying why and how to override it ("" when there is nothing to say)."""
    if v.dtype == object:
        return "classification", ""
    if not np.all(v == np.round(v)):
        return "regression", ""
    values, counts = np.unique(v, return_counts=True)
    distinct, n = len(values), len(v)
    limit = min(MAX_AUTO_CLASSES, n / AUTO_CLASS_RATIO)
    singles = int((counts == 1).sum())
    if distinct > limit:
        why = (
            f"more than {MAX_AUTO_CLASSES}"
            if distinct > MAX_AUTO_CLASSES
            else f"more than one per {AUTO_CLASS_RATIO} rows ({n:,} rows)"
        )
    elif distinct > FEW_CLASSES and singles:
        why = f"{singles} of them in a single row: a count or an amount, not class labels"
    else:
        return "classification", (
            f"target {name!r}: {distinct} distinct integer values, so classification"
            f" (set data.task: regression to predict it as a number)"
        )
    return "regression", (
        f"target {name!r}: {distinct} distinct integer values ({why}), so regression"
        f" (set data.task: classification to predict them as classes)"
    )


def _check_variance(src: str, name: str, y: np.ndarray) -> None:
    """A regression target must vary, by more than rounding: else no LR is better than
    another and the sweep's answer is noise (issue 28)."""
    if len(y) < 3:  # the split says "too few samples"
        return
    low, high = float(y.min()), float(y.max())
    if low == high:
        raise DataError(
            f"{src}: column {name!r}: a regression target must vary, got every value equal to"
            f" {_label_name(low)}"
        )
    size = max(abs(low), abs(high))
    if high - low <= TARGET_PRECISION * size:
        raise DataError(
            f"{src}: column {name!r}: a regression target must vary, got values within"
            f" {high - low:.3g} of each other around {size:.6g}: below float precision"
            f" (relative {TARGET_PRECISION:g})"
        )


def _leak_warnings(
    features: Sequence[Feature], y: np.ndarray, task: str, target: str
) -> list[str]:
    """A feature equal to the target, or a one-to-one relabelling of its classes."""
    out = []
    for f in features:
        if _missing_mask(f.values).any():
            continue
        if task == "regression":
            leak = f.kind == "numeric" and np.array_equal(f.values, y)
        else:
            n_classes = int(y.max()) + 1
            if f.kind == "numeric":  # cheap rejection first: as many values as classes
                if len(np.unique(f.values[:1024])) > n_classes:
                    continue
                codes = np.unique(f.values, return_inverse=True)[1].reshape(-1)
            else:
                labels = {v: i for i, v in enumerate(dict.fromkeys(f.values.tolist()))}
                codes = np.fromiter((labels[v] for v in f.values), np.int64, len(f.values))
            if codes.max() + 1 != n_classes:
                continue
            leak = len(np.unique(codes * n_classes + y)) == n_classes
        if leak:
            out.append(
                f"warning: column {f.name!r} determines the target {target!r} one to one;"
                f" it is almost certainly a leak (drop it with data.drop: [{f.name}])"
            )
    return out


def data_summary_line(report: Mapping[str, Any]) -> str:
    """One line about the data, from ``Dataset.data_report()``, e.g. ``penguins.csv: 344 rows,
    2 dropped (target missing); 7 features -> 11 inputs (2 categorical one-hot, 4 numeric
    imputed)``."""
    name = str(report["file"]).rsplit("/", 1)[-1]
    dropped = report["rows_dropped"]
    n_dropped = sum(dropped.values())
    why = ", ".join(f"{n} {k}" for k, n in dropped.items())
    rows = f"{report['rows_read']:,} rows" + (
        f", {n_dropped:,} dropped ({why})" if n_dropped else ""
    )
    cols = report["columns"].values()
    features = [c for c in cols if c["role"] == "feature"]
    n_inputs = sum(len(c["encoded_as"]) for c in features)
    categorical = sum(c["kind"] == "categorical" for c in features)
    imputed = sum(c["kind"] == "numeric" and len(c["encoded_as"]) > 1 for c in features)
    dates = sum(c["kind"] == "date" for c in features)
    how = [f"{categorical} categorical one-hot"] if categorical else []
    how += [f"{imputed} numeric imputed"] if imputed else []
    how += [f"{dates} date{'' if dates == 1 else 's'} as numeric parts"] if dates else []
    ignored = [n for n, c in report["columns"].items() if c["role"] == "dropped"]
    text = f"{name}: {rows}; {len(features)} features -> {n_inputs} inputs"
    text += f" ({', '.join(how)})" if how else ""
    text += f"; dropped {_quoted(ignored)}" if ignored else ""
    return text


def _label_name(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)
