"""The files of a results dir, as formats: every write atomic, every float round-tripped.

Every file is written to a temp file in the same folder, fsync'd, then ``os.replace``d
(`write_atomic`), so a reader sees the old file or the new one, never half. Floats are written
with ``repr`` so they read back exactly (``nan`` and ``inf`` included); JSON is strict (a
non-finite float is ``null``). Readers give one clear line naming the file and the row for a
damaged file. The folder itself (what it holds, its journal, its spec) is `lrsweep.results`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lrsweep.errors import ResultsError, StorageError, shorten
from lrsweep.records import (
    FLOAT_COLUMNS,
    HISTORY_COLUMNS,
    INT_COLUMNS,
    EpochLog,
    RunStatus,
)

TMP_MARK = ".tmp-"  # a temp file's name holds this; leftovers of a killed writer are removed


# --------------------------------------------------------------------------------------------
# Atomic writes and float formatting


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    data = text.encode() if isinstance(text, str) else text
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise storage_error(path, e) from None
        raise
    _fsync_dir(path.parent)


def storage_error(path: Path, e: OSError) -> StorageError:
    """A failed write as one line naming the file (a full disk, permissions, a read-only fs)."""
    return StorageError(f"{path}: cannot write: {e.strerror or e}")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def format_float(x: float) -> str:
    """``repr`` of a float: round-trips exactly, including ``nan``, ``inf`` and ``-inf``."""
    return repr(float(x))


def parse_float(text: str) -> float:
    """The inverse of :func:`format_float`; an empty cell is NaN."""
    return float(text) if text != "" else math.nan


def to_json_safe(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    return obj


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text with a header; floats written with ``repr``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [format_float(row[c]) if isinstance(row[c], float) else row[c] for c in columns]
        )
    return buf.getvalue()


def history_text(history: Sequence[EpochLog]) -> str:
    """A run's history as CSV text: ``HISTORY_COLUMNS``, then every other metric a user's
    script reported, in the order they first appear (NaN where an epoch lacks one)."""
    extra = list(dict.fromkeys(k for h in history for k in h.metrics))
    rows = (
        {**{c: getattr(h, c) for c in HISTORY_COLUMNS}, **dict.fromkeys(extra, math.nan),
         **{k: float(v) for k, v in h.metrics.items()}}
        for h in history
    )  # fmt: skip
    return csv_text((*HISTORY_COLUMNS, *extra), rows)


def read_history(path: Path) -> list[EpochLog]:
    """Read a history CSV back; a clear error for a damaged file."""
    fixed = len(HISTORY_COLUMNS)
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            # histories written before lr_effective existed: it was the lr column then
            old = header is not None and tuple(header) == HISTORY_COLUMNS[:-1]
            if header is None or (tuple(header[:fixed]) != HISTORY_COLUMNS and not old):
                raise ResultsError(f"{path}: expected columns {','.join(HISTORY_COLUMNS)}")
            extra = [] if old else header[fixed:]
            rows = []
            for line, cells in enumerate(reader, start=2):
                if len(cells) != len(header):
                    raise ResultsError(
                        f"{path}: line {line}: expected {len(header)} fields, got {len(cells)}"
                    )
                if old:
                    cells = [*cells, cells[2]]
                try:
                    lr, train, val, metric, effective = (parse_float(c) for c in cells[2:fixed])
                    metrics = {k: parse_float(c) for k, c in zip(extra, cells[fixed:])}
                    epoch, step = int(cells[0]), int(cells[1])
                    rows.append(EpochLog(epoch, step, lr, train, val, metric, effective, metrics))
                except ValueError:
                    raise ResultsError(f"{path}: line {line}: not a number in {cells!r}") from None
            return rows
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing history file") from None


# --------------------------------------------------------------------------------------------
# The range test's curves: ``rangetest.csv``


RANGE_TEST_COLUMNS = ("seed", "step", "lr", "loss", "smoothed_loss", "val_loss")


def range_test_rows(curves: Iterable[Any]) -> list[dict[str, Any]]:
    """``rangetest.csv``'s rows: one per step of each seed's curve (`RangeCurve`)."""
    return [
        {
            "seed": c.seed,
            "step": int(c.step[i]),
            "lr": float(c.lr[i]),
            "loss": float(c.loss[i]),
            "smoothed_loss": float(c.smoothed[i]),
            "val_loss": float(c.val_loss[i]),
        }
        for c in curves
        for i in range(len(c.step))
    ]


def read_range_test(path: Path) -> dict[int, dict[str, list[float]]]:
    """``rangetest.csv`` back, per seed: ``{seed: {"lr": [...], "loss": [...], ...}}``."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; run 'lrsweep find' first") from None
    curves: dict[int, dict[str, list[float]]] = {}
    try:
        for row in rows:
            c = curves.setdefault(int(row["seed"]), {k: [] for k in RANGE_TEST_COLUMNS[2:]})
            for key in c:
                c[key].append(parse_float(row[key]))
    except (KeyError, ValueError, TypeError) as e:
        raise ResultsError(f"{path}: malformed ({e})") from None
    return curves


def read_runs_csv(path: Path) -> list[dict[str, Any]]:
    """Read ``runs.csv`` with typed columns; a clear error naming the row for a damaged file."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [
                c for c in ("run_id", "lr", "seed", "status") if c not in (reader.fieldnames or [])
            ]
            if missing:
                raise ResultsError(f"{path}: missing columns {', '.join(missing)}")
            rows = []
            for line, row in enumerate(reader, start=2):
                try:
                    typed: dict[str, Any] = dict(row)
                    for c in FLOAT_COLUMNS & row.keys():
                        typed[c] = parse_float(row[c])
                    for c in INT_COLUMNS & row.keys():
                        typed[c] = int(row[c]) if row[c] != "" else -1
                    RunStatus(typed["status"])
                except (ValueError, TypeError):
                    raise ResultsError(f"{path}: line {line}: malformed row {row!r}") from None
                rows.append(typed)
            return rows
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing") from None
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text") from None


# --------------------------------------------------------------------------------------------
# summary.json's shape: what show and report read

_NUMBER = (int, float)
_MAYBE_NUMBER = (int, float, type(None))
_CURVE_FIELDS: dict[str, tuple[type, ...]] = {
    "best": (dict, type(None)),
    "table": (list,),
    "interpolated_lr": _MAYBE_NUMBER,
    "largest_stable_lr": _MAYBE_NUMBER,
    "sensitivity": _MAYBE_NUMBER,
    "good_band": (list, type(None)),
    "good_band_decades": _MAYBE_NUMBER,
}
_BEST_FIELDS = {"lr": _NUMBER, "objective_mean": _MAYBE_NUMBER, "objective_std": _MAYBE_NUMBER,
                "edge": (str, type(None))}  # fmt: skip
_ROW_FIELDS = {"lr": _NUMBER, "mean": _MAYBE_NUMBER, "std": _MAYBE_NUMBER, "n_ok": (int,),
               "n_diverged": (int,), "n_failed": (int,)}  # fmt: skip


def summary_problem(summary: Any) -> str:
    """What is wrong with the shape of a ``summary.json`` ("" when show and report can use
    it): every field they read, with its type."""

    def wrong(where: str, value: Any, kinds: tuple[type, ...]) -> str:
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        return f"{where or 'the top level'} is {shorten(json.dumps(value), 30)}, expected {names}"

    def fields(where: str, obj: Any, spec: Mapping[str, tuple[type, ...]], required: bool) -> str:
        if not isinstance(obj, dict):
            return wrong(where, obj, (dict,))
        for key, kinds in spec.items():
            name = f"{where}.{key}" if where else key
            if key not in obj:
                if required:
                    return f"{name} is missing"
            elif not isinstance(obj[key], kinds) or isinstance(obj[key], bool):
                return wrong(name, obj[key], kinds)
        return ""

    top = {"name": (str,), "objective": (str,), "status_counts": (dict,), "combos": (list,),
           "notes": (list,), "scaling": (dict,), "best_combo": (str, type(None))}  # fmt: skip
    problem = fields("", summary, {k: top[k] for k in top if k not in ("notes", "scaling",
                     "best_combo")}, True) or fields("", summary, top, False)  # fmt: skip
    if problem:
        return problem
    for key, fit in summary.get("scaling", {}).items():
        problem = problem or fields(f"scaling.{key}", fit, {"slope": _MAYBE_NUMBER}, True)
    if problem:
        return problem
    counts = summary["status_counts"]
    for key in ("ok", "diverged", "failed"):
        if not isinstance(counts.get(key), int):
            return wrong(f"status_counts.{key}", counts.get(key), (int,))
    curves = [("", summary)] + [(f"combos.{i}", c) for i, c in enumerate(summary["combos"])]
    for where, curve in curves:
        problem = fields(where, curve, _CURVE_FIELDS, required=not where) or (
            fields(where, curve, {"label": (str,)}, True) if where else ""
        )
        if problem:
            return problem
        dot = f"{where}." if where else ""
        if curve.get("best") is not None:
            problem = fields(f"{dot}best", curve["best"], _BEST_FIELDS, True)
        for i, row in enumerate(curve.get("table") or []):
            problem = problem or fields(f"{dot}table.{i}", row, _ROW_FIELDS, True)
        band = curve.get("good_band")
        if (
            not problem
            and band is not None
            and (len(band) != 2 or not all(isinstance(x, _NUMBER) for x in band))
        ):
            problem = wrong(f"{dot}good_band", band, (list,))
        if problem:
            return problem
    return ""
