"""``load_dataset``: a data spec -> a split, encoded, standardised :class:`Dataset`.

The steps, one module each: :mod:`~lrsweep.data.read` (the file, once, into a table),
:mod:`~lrsweep.data.columns` (roles, kinds, rows dropped, the target; then imputation and
one-hot fitted on the training rows), :mod:`~lrsweep.data.split` (the split, standardisation)
and :mod:`~lrsweep.data.builtins` (synthetic sets instead of a file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lrsweep.data.builtins import generate_builtin
from lrsweep.data.columns import complete_reports, fit_encoder, prepare_columns
from lrsweep.data.dataset import Dataset
from lrsweep.data.read import OnLoadProgress, check_path
from lrsweep.data.sources import BUILTIN_VERSION, detect_source, file_sha256
from lrsweep.data.split import _frozen, split_rows, standardize
from lrsweep.data.tables import read_table
from lrsweep.errors import DataError

if TYPE_CHECKING:
    from lrsweep.spec import DataSpec

__all__ = ["data_file", "load_dataset"]


def data_file(spec: DataSpec, base_dir: Path) -> Path:
    """The data file of ``spec`` (a relative ``path`` is relative to ``base_dir``)."""
    file = Path(str(spec.path))
    return file if file.is_absolute() else Path(base_dir) / file


def load_dataset(
    spec: DataSpec, base_dir: Path, on_progress: OnLoadProgress | None = None
) -> Dataset:
    """Read (once), decide the columns, split and encode the data described by ``spec``.

    ``spec`` is the ``data`` section of a spec; a relative ``path`` is resolved against
    ``base_dir`` (the spec file's directory). ``on_progress(bytes_read, size)`` is called while
    a file is read. Nothing is printed: what was done is in ``Dataset.columns``, ``notes`` and
    ``data_report()``.
    """
    if (spec.path is None) == (spec.builtin is None):
        raise DataError(
            f"data: exactly one of 'path' and 'builtin' must be set, got path={spec.path!r} "
            f"and builtin={spec.builtin!r}"
        )
    if spec.builtin is not None:
        prepared = generate_builtin(spec.builtin, spec)
    else:
        table = read_table(
            data_file(spec, base_dir),
            na_values=spec.na_values,
            delimiter=spec.delimiter,
            on_progress=on_progress,
            member=spec.member,
            sheet=spec.sheet,
            table=spec.table,
            query=spec.query,
        )
        prepared = prepare_columns(table, spec)
        del table

    is_val = split_rows(
        prepared.y,
        prepared.task,
        prepared.class_names,
        spec.val_fraction,
        spec.split_seed,
        prepared.source,
        prepared.target_name,
    )
    train, val = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    encoder = fit_encoder(prepared.features, train)
    X_train = encoder.transform(prepared.features, train)
    X_val = encoder.transform(prepared.features, val)
    y_train, y_val = prepared.y[train], prepared.y[val]
    regression = prepared.task == "regression"
    if regression and len(y_train) and y_train.min() == y_train.max():
        raise DataError(
            f"{prepared.source}: column {prepared.target_name!r}: constant on the training part"
            f" (every value {y_train[0]:.6g}; the other values fell in validation): a"
            " regression target must vary; change data.split_seed or data.val_fraction"
        )
    if regression:
        y_train, y_val = y_train.reshape(-1, 1), y_val.reshape(-1, 1)
    if spec.standardize:
        X_train, X_val = standardize(X_train, X_val)
        if regression:
            y_train, y_val = standardize(y_train, y_val)
    inputs = encoder.input_names(prepared.features)
    dtype = np.float64 if regression else np.int64
    return Dataset(
        X_train=_frozen(np.asarray(X_train, dtype=np.float64)),  # no copy when float64
        y_train=_frozen(np.asarray(y_train, dtype=dtype)),
        X_val=_frozen(np.asarray(X_val, dtype=np.float64)),
        y_val=_frozen(np.asarray(y_val, dtype=dtype)),
        task=prepared.task,
        n_outputs=1 if regression else len(prepared.class_names),
        feature_names=tuple(name for f in prepared.features for name in inputs[f.name]),
        target_name=prepared.target_name,
        class_names=prepared.class_names,
        source=prepared.source,
        columns=complete_reports(prepared.reports, encoder, prepared.features),
        rows_read=prepared.rows_read,
        rows_dropped=dict(prepared.rows_dropped),
        notes=prepared.notes,
    )


def data_fingerprint(data_spec: DataSpec, base_dir: Path) -> dict[str, Any]:
    """The facts that identify the content of ``data_spec``'s data.

    A file: ``{"path", "format", "size", "mtime_ns", "sha256"}`` (plus ``member``, ``sheet``,
    ``table`` or ``query`` when the spec sets them). ``sha256`` is of the file's bytes as
    stored: the compressed bytes of a ``.gz``, the whole zip archive, workbook or SQLite
    database. Two fingerprints are the same data when ``path`` and ``sha256`` (and the
    selection keys) are equal; ``size`` and ``mtime_ns`` say what changed. A file streamed by
    ``read_table`` in this process (CSV, JSON, compressed) is not read again.

    A builtin: ``{"builtin", "version", ...its parameters}``; ``version`` is
    ``BUILTIN_VERSION``, raised when a generator changes what the same parameters draw.

    Raises ``DataError`` for a missing or unreadable file.
    """
    if data_spec.builtin is not None:
        keys = {
            "spirals": ("n_samples", "n_classes", "noise", "generator_seed"),
            "moons": ("n_samples", "noise", "generator_seed"),
            "teacher": ("n_samples", "n_features", "noise", "generator_seed"),
        }[data_spec.builtin]
        return {
            "builtin": data_spec.builtin,
            "version": BUILTIN_VERSION,
            **{k: getattr(data_spec, k) for k in keys},
        }
    path = data_file(data_spec, base_dir).resolve()
    check_path(path)
    source = detect_source(path, getattr(data_spec, "member", None))
    st = os.stat(path)
    out: dict[str, Any] = {
        "path": str(path),
        "format": source.label,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": file_sha256(path),
    }
    for key in ("member", "sheet", "table", "query"):
        value = getattr(data_spec, key, None)
        if value is not None:
            out[key] = value
    return out
