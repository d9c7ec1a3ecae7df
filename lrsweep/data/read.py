"""Files -> a :class:`Table`: CSV and TSV (delimiter sniffed) here; the format is decided by
the file's content (:mod:`.sources`, compressed files too), the other formats are read in
:mod:`.formats`.

Why pandas (its C parser) reads CSV: measured on a 200,000 x 30 numeric CSV (55 MB) it was the
fastest of pandas, pyarrow and polars on these machines, it has the NA handling we need
(``na_values`` with the defaults turned off), reports ragged lines by number, and is the smallest
of the three to install (about 85 MB; pyarrow and polars are about 170 MB each). Parquet goes
through ``pandas.read_parquet``, which needs pyarrow (the ``parquet`` extra). pandas is imported
only when a file is read, so builtins and ``import lrsweep`` never pay for it.

The path is checked with ``os.stat`` before anything is opened: a directory, a FIFO, a device
or a socket is refused (never a hang), and so is a file that would need more memory than is
available. The header is parsed here (with the stdlib ``csv`` module, on the first 64 KiB, or
as much more as the first line needs, up to ``MAX_HEADER_BYTES``) so that empty and duplicate
names are errors with the line, and the rows go to pandas' C parser once. When pandas rejects
a row, the file is scanned again with the stdlib reader to name the first bad line, so error
messages stay line-precise.
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

from lrsweep.data.sources import Hasher, Source, damage_is_an_error
from lrsweep.errors import DataError, shorten
from lrsweep.machine import available_memory

__all__ = ["KINDS", "NA_VALUES", "OnLoadProgress", "Table", "check_path", "read_csv"]

NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024  # header and delimiter come from this much of the file ...
MAX_HEADER_BYTES = 16 << 20  # ... or more, as far as the first line needs, up to this
SNIFF_LINES = 50  # lines that must agree on the field count for a delimiter to win
MEMORY_FACTOR = 6  # peak bytes of a load per file byte (measured about 5.3 with pandas)
KINDS = "CSV, TSV, JSON Lines, Parquet, Feather, Excel, ODS or SQLite"  # for messages

OnLoadProgress = Callable[[int, int], None]  # (bytes read, file size)
DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+([eE][-+]?\d+)?")


@dataclass(frozen=True, eq=False)
class Table:
    """A table as read: one array per column, missing cells already marked.

    Numeric columns are float64 with NaN for missing (non-finite numbers are missing too);
    other columns are object arrays of ``str`` with ``None`` for missing.
    """

    source: str  # the path as opened (``archive.zip/member.csv`` for a zip member)
    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    unnamed_first: bool  # the first header cell was empty (pandas' or R's index column)
    delimiter: str | None = None  # None but for CSV
    format: str = "csv"  # what was read, as a person calls it: csv, csv.gz, xlsx, sqlite, ...
    notes: tuple[str, ...] = ()  # what reading decided: the sheet, the header row, the table
    row_word: str = "row"  # where(): "<source>:<n>" for "line", else "<source>: <row_word> <n>"
    locate: Callable[[], np.ndarray] | None = field(default=None, repr=False)  # each row's n
    _lines: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def where(self, row: int) -> str:
        """``"<source>:<line>"`` for data row ``row`` (0-based), or ``"<source>: row N"``
        (``N`` from ``locate``, computed once when an error needs it, else ``row + 1``)."""
        n = row + 1
        if self.locate is not None:
            if not self._lines:
                self._lines.append(self.locate())
            lines = self._lines[0]
            if row >= len(lines):
                return self.source
            n = int(lines[row])
        if self.row_word == "line":
            return f"{self.source}:{n}"
        return f"{self.source}: {self.row_word} {n}"


def check_path(path: Path) -> int:
    """The size of the regular file at ``path``; DataError for anything else, before opening."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, expected a data file ({KINDS})")
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
        raise DataError(f"{path}: is {kind}, expected a regular data file ({KINDS})")
    if st.st_size == 0:
        raise DataError(f"{path}: empty file, expected a header row")
    available = available_memory()  # a cgroup's limit and $LRSWEEP_MEMORY_BYTES too
    if st.st_size * MEMORY_FACTOR > available:
        raise DataError(
            f"{path}: too large to load: needs about {_gb(st.st_size * MEMORY_FACTOR)} of memory"
            f" ({MEMORY_FACTOR} x the file's {_gb(st.st_size)}), {_gb(available)} available"
        )
    return st.st_size


SELECTION = {  # key -> (the format it is for, that format in words)
    "data.delimiter": ("csv", "a delimited text table (CSV)"),
    "data.sheet": ("excel", "a spreadsheet (xlsx, xlsm, xls, ods)"),
    "data.table": ("sqlite", "a SQLite database"),
    "data.query": ("sqlite", "a SQLite database"),
}


def check_selection(
    source: Source, delimiter: str | None, sheet: str | None, table: str | None, query: str | None
) -> None:
    """``data.sheet``, ``data.table``/``query`` and ``data.delimiter`` fit only one format."""
    given = {"data.delimiter": delimiter, "data.sheet": sheet, "data.table": table,
             "data.query": query}  # fmt: skip
    for key, value in given.items():
        fmt, what = SELECTION[key]
        if value is not None and source.format != fmt:
            raise DataError(
                f"{source.name}: {key}: only for {what}, got {shorten(repr(value))} for a"
                f" {source.label} file"
            )


def read_csv(
    source: Source,
    size: int,
    na_values: Sequence[str],
    delimiter: str | None,
    on_progress: OnLoadProgress | None,
) -> Table:
    delimiter, names, unnamed_first, decimal = sniff(source, delimiter)
    import pandas as pd

    hasher = Hasher(source.path) if source.compression != "zip" else None
    watch = _Watch(hasher, size, on_progress)
    with (
        source.open(on_read=watch) as raw,
        damage_is_an_error(source),
        warnings.catch_warnings(),
    ):
        # low_memory (pandas' default) parses in chunks, about 30% faster; a column typed
        # differently in two chunks comes back as objects (handled in _column_array)
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        try:
            frame = pd.read_csv(
                raw,
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
            _raise_bad_bytes(source)
        except (pd.errors.ParserError, ValueError) as e:
            _raise_bad_line(source, delimiter, len(names), str(e))
        raw.read()  # to the end: the hash covers the whole file
    if hasher is not None:
        hasher.done()
    if len(frame) == 0:
        raise DataError(f"{source.name}: no data rows (only a header)")
    columns = tuple(_column_array(frame[name]) for name in frame.columns)
    if _has_missing(columns[-1]):  # pandas pads short rows with NaN: look for them
        _check_field_counts(source, delimiter, len(names))
    return Table(
        source.name,
        tuple(names),
        columns,
        unnamed_first,
        delimiter,
        format=source.label,
        row_word="line",
        locate=lambda: _record_lines(source, delimiter),
    )


# --------------------------------------------------------------------------------------------
# the pieces


class _Watch:
    """Sees every chunk of the file as stored: hashes it and reports progress."""

    def __init__(
        self, hasher: Hasher | None, size: int, on_progress: OnLoadProgress | None
    ) -> None:
        self.hasher, self.size, self.on_progress, self.done = hasher, size, on_progress, 0

    def __call__(self, chunk: bytes) -> None:
        if self.hasher is not None:
            self.hasher(chunk)
        self.done += len(chunk)
        if self.on_progress is not None and chunk:
            self.on_progress(min(self.done, self.size), self.size)

    def spoil(self) -> None:
        if self.hasher is not None:
            self.hasher.spoil()


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


def sniff(source: Source, delimiter: str | None) -> tuple[str, list[str], bool, str]:
    """The delimiter, the header names, whether the first name was empty, the decimal mark
    (``,`` for a ``;`` table whose numbers are written ``39,1``, as European exports do)."""
    head, whole = _head(source)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"{source.name}: not a text table (a NUL byte at byte {nul + 1}: binary data);"
            f" expected {KINDS}"
        )
    if not whole and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        _raise_bad_bytes(source)
    lines = [line for line in text.splitlines() if line.strip()][:SNIFF_LINES]
    if not lines:
        raise DataError(f"{source.name}: empty file, expected a header row")
    if delimiter is None:
        tsv = _plain_suffix(source) in (".tsv", ".tab")
        delimiter = "\t" if tsv else _guess(lines)
    try:
        header = next(csv.reader(io.StringIO(lines[0]), delimiter=delimiter), [])
    except csv.Error as e:  # a name longer than the csv module's field limit (128 KiB)
        raise DataError(f"{source.name}:1: header: {shorten(str(e))}") from None
    names = [name.strip() for name in header]
    if len(names) < 2:
        raise DataError(
            f"{source.name}:1: header: found no delimiter ({', '.join(map(repr, DELIMITERS))}),"
            f" got {shorten(lines[0])!r}; a table needs a feature and a target column"
        )
    unnamed_first = names[0] == ""
    if unnamed_first:
        names[0] = "Unnamed: 0"  # as pandas names it
    _check_names(source.name, names, 1)
    return delimiter, names, unnamed_first, _decimal_mark(lines[1:], delimiter)


def _head(source: Source) -> tuple[bytes, bool]:
    """The start of the content: ``SNIFF_BYTES``, or more until the first line ends (up to
    ``MAX_HEADER_BYTES``) and about two more lines as long follow; and whether that is all."""
    with source.open() as f, damage_is_an_error(source):
        head = f.read(SNIFF_BYTES)
        whole = len(head) < SNIFF_BYTES
        while not whole and _line_end(head) < 0 and len(head) <= MAX_HEADER_BYTES:
            more = f.read(min(len(head), MAX_HEADER_BYTES + 1 - len(head)) or 1)
            head += more
            whole = not more
        end = _line_end(head)
        if end < 0 and not whole:
            raise DataError(
                f"{source.name}: line 1 is longer than {MAX_HEADER_BYTES >> 20} MiB (no line"
                f" end in its first {MAX_HEADER_BYTES >> 20} MiB): not a table with a header"
                " row of column names"
            )
        want = end + 1 + max(SNIFF_BYTES, 2 * (end + 1))
        if not whole and len(head) < want:
            asked = want - len(head)
            more = f.read(asked)
            head += more
            whole = len(more) < asked
    return head, whole


def _line_end(data: bytes) -> int:
    """The index of the first line end (``\\n``, or a lone ``\\r``), or -1."""
    n, r = data.find(b"\n"), data.find(b"\r")
    ends = [i for i in (n, r) if i >= 0]
    return min(ends) if ends else -1


def _plain_suffix(source: Source) -> str:
    """The table's own suffix: ``.tsv`` for ``x.tsv.gz`` or a zip member ``x.tsv``."""
    name = Path(source.member or source.path.name)
    if source.compression not in (None, "zip") and len(name.suffixes) > 1:
        name = name.with_suffix("")
    return name.suffix.lower()


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
        try:
            counts = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=d)}
        except csv.Error:  # a field over the csv module's 128 KiB limit: not this delimiter
            continue
        fields = max(counts)
        ok = len(counts) == 1 and fields > 1
        if (ok, fields) > (consistent, best_fields):
            best, best_fields, consistent = d, fields, ok
    return best


def _check_names(path: Path | str, names: list[str], line: int) -> None:
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


def _records(source: Source, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(file line where the record starts, fields)`` with the stdlib reader, blank lines
    skipped; the slow path, used only to find lines for error messages."""
    with (
        source.open() as raw,
        damage_is_an_error(source),
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f,
    ):
        reader = csv.reader(f, delimiter=delimiter)
        last = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataError(
                    f"{source.name}:{reader.line_num}: malformed CSV: {shorten(str(e))}"
                ) from None
            start, last = last + 1, reader.line_num
            if row and not (len(row) == 1 and not row[0].strip()):
                yield start, row


def _record_lines(source: Source, delimiter: str) -> np.ndarray:
    records = _records(source, delimiter)
    next(records, None)  # the header
    return np.array([line for line, _ in records], dtype=np.int64)


def _check_field_counts(source: Source, delimiter: str, n_fields: int) -> None:
    for line, row in _records(source, delimiter):
        if len(row) != n_fields:
            raise DataError(f"{source.name}:{line}: expected {n_fields} fields, got {len(row)}")


def _raise_bad_line(source: Source, delimiter: str, n_fields: int, message: str) -> NoReturn:
    _check_field_counts(source, delimiter, n_fields)
    raise DataError(f"{source.name}: malformed CSV: {shorten(message)}")


def _raise_bad_bytes(source: Source) -> NoReturn:
    with source.open() as f, damage_is_an_error(source):
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start : e.start + 1]
                raise DataError(
                    f"{source.name}:{lineno}: not UTF-8 text, got byte 0x{bad.hex()} at column "
                    f"{e.start + 1}; save the file as UTF-8"
                ) from None
    raise DataError(f"{source.name}: not UTF-8 text; save the file as UTF-8")


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
