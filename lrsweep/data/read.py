"""Files -> a :class:`Table`: CSV and TSV (delimiter sniffed), Parquet.

Why pandas (its C parser) reads CSV: measured on a 200,000 x 30 numeric CSV (55 MB) it was the
fastest of pandas, pyarrow and polars on these machines, it has the NA handling we need
(``na_values`` with the defaults turned off), reports ragged lines by number, and is the smallest
of the three to install (about 85 MB; pyarrow and polars are about 170 MB each). Parquet goes
through ``pandas.read_parquet``, which needs pyarrow (the ``parquet`` extra). pandas is imported
only when a file is read, so builtins and ``import lrsweep`` never pay for it.

The path is checked with ``os.stat`` before anything is opened: a directory, a FIFO, a device
or a socket is refused (never a hang), and so is a file that would need more memory than is
available. The header is parsed here (with the stdlib ``csv`` module, on the first 64 KiB) so
that empty and duplicate names are errors with the line, and the rows go to pandas' C parser
once. When pandas rejects a row, the file is scanned again with the stdlib reader to name the
first bad line, so error messages stay line-precise.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from lrsweep.errors import DataError, shorten
from lrsweep.machine import available_memory

__all__ = ["NA_VALUES", "OnLoadProgress", "Table", "read_header", "read_table"]

NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024  # header and delimiter come from this much of the file
SNIFF_LINES = 50  # lines that must agree on the field count for a delimiter to win
MEMORY_FACTOR = 6  # peak bytes of a load per file byte (measured about 5.3 with pandas)
PARQUET_MAGIC = b"PAR1"

OnLoadProgress = Callable[[int, int], None]  # (bytes read, file size)
DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+([eE][-+]?\d+)?")


@dataclass(frozen=True, eq=False)
class Table:
    """A table as read: one array per column, missing cells already marked.

    Numeric columns are float64 with NaN for missing (non-finite numbers are missing too);
    other columns are object arrays of ``str`` with ``None`` for missing.
    """

    source: str  # the path as opened
    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    unnamed_first: bool  # the first header cell was empty (pandas' or R's index column)
    delimiter: str | None = None  # None for Parquet
    _lines: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def where(self, row: int) -> str:
        """``"<source>:<line>"`` for data row ``row`` (0-based), or ``"<source>: row N"``."""
        if self.delimiter is None:
            return f"{self.source}: row {row + 1}"
        if not self._lines:  # computed once, only when an error needs it
            self._lines.append(_record_lines(Path(self.source), self.delimiter))
        lines = self._lines[0]
        return f"{self.source}:{lines[row]}" if row < len(lines) else self.source


def check_path(path: Path) -> int:
    """The size of the regular file at ``path``; DataError for anything else, before opening."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, expected a data file (CSV, TSV or Parquet)")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise DataError(f"{path}: is {kind}, expected a regular data file (CSV, TSV or Parquet)")
    if st.st_size == 0:
        raise DataError(f"{path}: empty file, expected a header row")
    available = available_memory()  # a cgroup's limit and $LRSWEEP_MEMORY_BYTES too
    if st.st_size * MEMORY_FACTOR > available:
        raise DataError(
            f"{path}: too large to load: needs about {_gb(st.st_size * MEMORY_FACTOR)} of memory"
            f" ({MEMORY_FACTOR} x the file's {_gb(st.st_size)}), {_gb(available)} available"
        )
    return st.st_size


def read_header(path: Path, delimiter: str | None = None) -> list[str]:
    """The column names of the table at ``path`` (reads the header only)."""
    path = Path(path)
    check_path(path)
    if _is_parquet(path):
        return list(_read_parquet(path).names)
    _, names, _, _ = _sniff(path, delimiter)
    return names


def read_table(
    path: Path,
    *,
    na_values: Sequence[str] = NA_VALUES,
    delimiter: str | None = None,
    on_progress: OnLoadProgress | None = None,
) -> Table:
    """Read the CSV, TSV or Parquet file at ``path`` once into a :class:`Table`.

    ``on_progress(bytes_read, size)`` is called as the file is read (CSV), for a progress bar.
    """
    path = Path(path)
    size = check_path(path)
    if _is_parquet(path):
        return _read_parquet(path, na_values)
    delimiter, names, unnamed_first, decimal = _sniff(path, delimiter)
    import pandas as pd

    with open(path, "rb") as raw, warnings.catch_warnings():
        # low_memory (pandas' default) parses in chunks, about 30% faster; a column typed
        # differently in two chunks comes back as objects (handled in _column_array)
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        source: Any = raw if on_progress is None else _Counting(raw, size, on_progress)
        try:
            frame = pd.read_csv(
                source,
                sep=delimiter,
                decimal=decimal,
                header=0,
                names=names,
                dtype=None,
                keep_default_na=False,
                na_values=list(na_values),
                low_memory=True,
                encoding="utf-8-sig",
                engine="c",
                skip_blank_lines=True,
            )
        except UnicodeDecodeError:
            _raise_bad_bytes(path)
        except (pd.errors.ParserError, ValueError) as e:
            _raise_bad_line(path, delimiter, len(names), str(e))
    if len(frame) == 0:
        raise DataError(f"{path}: no data rows (only a header)")
    columns = tuple(_column_array(frame[name]) for name in frame.columns)
    if _has_missing(columns[-1]):  # pandas pads short rows with NaN: look for them
        _check_field_counts(path, delimiter, len(names))
    return Table(str(path), tuple(names), columns, unnamed_first, delimiter)


# --------------------------------------------------------------------------------------------
# the pieces


class _Counting:
    """A binary file that reports how much of it has been read."""

    def __init__(self, raw: Any, size: int, on_progress: OnLoadProgress) -> None:
        self.raw, self.size, self.on_progress, self.done = raw, size, on_progress, 0

    def read(self, n: int = -1) -> bytes:
        chunk: bytes = self.raw.read(n)
        self.done += len(chunk)
        self.on_progress(self.done, self.size)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.raw)


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with open(path, "rb") as f:
        return f.read(4) == PARQUET_MAGIC


def _read_parquet(path: Path, na_values: Sequence[str] = NA_VALUES) -> Table:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas.read_parquet needs it)
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow; install it with:"
            f" pip install 'lrsweep[parquet]'"
        ) from None
    try:
        frame = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a damaged or foreign file
        raise DataError(f"{path}: not a readable Parquet file: {shorten(str(e))}") from None
    names = [str(n) for n in frame.columns]
    _check_names(path, names, 1)
    if len(frame) == 0:
        raise DataError(f"{path}: no data rows")
    missing = set(na_values)
    columns = []
    for name in frame.columns:
        a = _column_array(frame[name])
        if a.dtype == object:
            a = np.array([None if v in missing else v for v in a], dtype=object)
        columns.append(a)
    return Table(str(path), tuple(names), tuple(columns), False, None)


def _column_array(series: Any) -> np.ndarray:
    """float64 (NaN for missing or non-finite) for numbers, else object (str, None)."""
    kind = series.dtype.kind
    if kind in "iuf":
        a = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(a)
        if not finite.all():
            a = np.where(finite, a, np.nan)  # inf and -inf are missing values too
        return a
    values = series.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = None if v is None or (isinstance(v, float) and v != v) else _text(v)
    return out


def _text(value: Any) -> str:
    """A cell as text; a number from a chunk pandas typed as numeric written as in the file."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value)


def _has_missing(a: np.ndarray) -> bool:
    if a.dtype == object:
        return any(v is None for v in a)
    return bool(np.isnan(a).any())


def _sniff(path: Path, delimiter: str | None) -> tuple[str, list[str], bool, str]:
    """The delimiter, the header names, whether the first name was empty, the decimal mark
    (``,`` for a ``;`` table whose numbers are written ``39,1``, as European exports do)."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"{path}: not a text table (a NUL byte at byte {nul + 1}: binary data);"
            f" expected CSV, TSV or Parquet"
        )
    if len(head) == SNIFF_BYTES and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        _raise_bad_bytes(path)
    lines = [line for line in text.splitlines() if line.strip()][:SNIFF_LINES]
    if not lines:
        raise DataError(f"{path}: empty file, expected a header row")
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else _guess(lines)
    header = next(csv.reader(io.StringIO(lines[0]), delimiter=delimiter), [])
    names = [name.strip() for name in header]
    if len(names) < 2:
        raise DataError(
            f"{path}:1: header: found no delimiter ({', '.join(map(repr, DELIMITERS))}),"
            f" got {shorten(lines[0])!r}; a table needs a feature and a target column"
        )
    unnamed_first = names[0] == ""
    if unnamed_first:
        names[0] = "Unnamed: 0"  # as pandas names it
    _check_names(path, names, 1)
    return delimiter, names, unnamed_first, _decimal_mark(lines[1:], delimiter)


def _decimal_mark(lines: list[str], delimiter: str) -> str:
    """``,`` when the delimiter is not a comma and the sniffed cells have decimal commas
    (``39,1``) but no decimal points (``39.1``); else ``.``."""
    if delimiter == ",":
        return "."
    cells = [c.strip() for row in csv.reader(lines, delimiter=delimiter) for c in row]
    commas = sum(bool(DECIMAL_COMMA.fullmatch(c)) for c in cells)
    points = sum(bool(DECIMAL_POINT.fullmatch(c)) for c in cells)
    return "," if commas and not points else "."


def _guess(lines: list[str]) -> str:
    """The candidate delimiter whose field count is the same on every sniffed line (most
    fields wins); if none agrees, the one with most fields in the header."""
    best, best_fields, consistent = ",", 1, False
    for d in DELIMITERS:
        counts = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=d)}
        fields = max(counts)
        ok = len(counts) == 1 and fields > 1
        if (ok, fields) > (consistent, best_fields):
            best, best_fields, consistent = d, fields, ok
    return best


def _check_names(path: Path, names: list[str], line: int) -> None:
    seen: dict[str, int] = {}
    for col, name in enumerate(names, start=1):
        if not name:
            raise DataError(f"{path}:{line}: column {col}: empty column name, got {name!r}")
        if name in seen:
            raise DataError(
                f"{path}:{line}: duplicate column name, got {name!r} "
                f"(columns {seen[name]} and {col})"
            )
        seen[name] = col


def _records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(file line where the record starts, fields)`` with the stdlib reader, blank lines
    skipped; the slow path, used only to find lines for error messages."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        last = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataError(f"{path}:{reader.line_num}: malformed CSV: {e}") from None
            start, last = last + 1, reader.line_num
            if row and not (len(row) == 1 and not row[0].strip()):
                yield start, row


def _record_lines(path: Path, delimiter: str) -> np.ndarray:
    records = _records(path, delimiter)
    next(records, None)  # the header
    return np.array([line for line, _ in records], dtype=np.int64)


def _check_field_counts(path: Path, delimiter: str, n_fields: int) -> None:
    for line, row in _records(path, delimiter):
        if len(row) != n_fields:
            raise DataError(f"{path}:{line}: expected {n_fields} fields, got {len(row)}")


def _raise_bad_line(path: Path, delimiter: str, n_fields: int, message: str) -> NoReturn:
    _check_field_counts(path, delimiter, n_fields)
    raise DataError(f"{path}: malformed CSV: {shorten(message)}")


def _raise_bad_bytes(path: Path) -> NoReturn:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start : e.start + 1]
                raise DataError(
                    f"{path}:{lineno}: not UTF-8 text, got byte 0x{bad.hex()} at column "
                    f"{e.start + 1}; save the file as UTF-8"
                ) from None
    raise DataError(f"{path}: not UTF-8 text; save the file as UTF-8")


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
