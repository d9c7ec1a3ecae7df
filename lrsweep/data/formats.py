"""The formats that are not delimited text, each read into a :class:`~lrsweep.data.read.Table`:
Parquet, Feather and Arrow IPC streams (pyarrow), JSON Lines and JSON arrays of records,
spreadsheets (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``) and SQLite databases.

Every reader makes a pandas frame and hands it to :func:`frame_table`, so a column comes out as
a CSV's would: numbers as float64 (NaN missing, non-finite numbers too), dates and datetimes
as ``datetime64[ns]`` (NaT missing; an aware time in UTC), everything else as ``str`` (``None``
missing, the cells of ``data.na_values`` too). Booleans are the text ``True``/``False``, as a
CSV reads them.

Spreadsheets
    Read with pandas' ``calamine`` engine (python-calamine, the ``excel`` extra: one package
    for every kind, and the fastest reader measured; see docs/data.md). ``data.sheet`` names the
    sheet (default the first; a wrong name lists the sheets). Empty rows and columns are
    dropped; the header is the first row with at least half as many filled cells as the widest
    of the rows below it, so a title above the table (a one-cell "Sales 2024" and a blank row)
    is skipped and said; an empty first header cell is an index column, as in a CSV.

SQLite
    Opened read-only (``mode=ro``, ``query_only``) with the stdlib ``sqlite3``. ``data.table``
    names a table or view (default: the only one; several are listed), ``data.query`` is one
    ``SELECT`` statement instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import io
import json
import math
import os
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd  # this module is imported only to read such a file

from lrsweep.data.read import (
    NA_VALUES,
    OnLoadProgress,
    Table,
    _check_names,
    _column_array,
    _text,
    _Watch,
)
from lrsweep.data.sources import Hasher, Source, damage_is_an_error
from lrsweep.errors import DataError, shorten

__all__ = ["EXCEL_INSTALL", "frame_table", "read_other"]

EXCEL_INSTALL = "pip install 'lrsweep[excel]'"
ARROW_INSTALL = "pip install 'lrsweep[parquet]'"
HEADER_SCAN_ROWS = 50  # a sheet's header is looked for among its first rows


def read_other(
    source: Source,
    size: int,
    na_values: Sequence[str] = NA_VALUES,
    sheet: str | None = None,
    table: str | None = None,
    query: str | None = None,
    on_progress: OnLoadProgress | None = None,
) -> Table:
    """The table in ``source`` (any format but CSV), see the module docstring."""
    if source.format == "json":
        return _read_json(source, size, na_values, on_progress)
    if source.format in ("parquet", "feather", "arrow_stream"):
        return _read_arrow(source, na_values)
    if source.format == "excel":
        return _read_excel(source, na_values, sheet)
    if source.format == "sqlite":
        return _read_sqlite(source, na_values, table, query)
    raise AssertionError(f"no reader for {source.format!r}")  # detect_source's FORMATS


# --------------------------------------------------------------------------------------------
# frames -> tables


def frame_table(
    source: Source,
    frame: Any,
    na_values: Sequence[str],
    *,
    unnamed_first: bool = False,
    **fields: Any,
) -> Table:
    """A pandas frame as a :class:`Table` of ``source`` (``fields``: the Table's others)."""
    names = [_name(c) for c in frame.columns]
    if unnamed_first:
        names[0] = "Unnamed: 0"
    _check_names(source.name, names, 1)
    if len(names) < 2:
        raise DataError(
            f"{source.name}: {len(names)} column{'' if len(names) == 1 else 's'}"
            f" ({', '.join(map(repr, names))}); a table needs a feature and a target column"
        )
    if len(frame) == 0:
        raise DataError(f"{source.name}: no data rows")
    missing = frozenset(na_values)
    columns = tuple(
        _column(source, name, frame.iloc[:, j], missing) for j, name in enumerate(names)
    )
    return Table(source.name, tuple(names), columns, unnamed_first, None, source.label, **fields)


def _name(label: Any) -> str:
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return ""
    return _text(label).strip()


def _column(source: Source, name: str, series: Any, missing: frozenset[str]) -> np.ndarray:
    """float64, datetime64[ns] or object (str/None) values of one column of a frame."""
    kind = series.dtype.kind
    if kind == "M":
        return _datetimes(series)
    if kind == "m":  # durations: seconds
        return series.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    if kind in "iuf":
        return _column_array(series)
    return _object_column(source, name, series.to_numpy(dtype=object), missing)


def _object_column(
    source: Source, name: str, values: np.ndarray, missing: frozenset[str]
) -> np.ndarray:
    """Cells of any Python type: numbers if every present one is, dates if every present one
    is, else text."""
    absent = np.fromiter((_is_missing(v, missing) for v in values), dtype=bool, count=len(values))
    present = values[~absent]
    if len(present) and all(_is_number(v) for v in present):
        out = np.full(len(values), np.nan)
        out[~absent] = present.astype(np.float64)
        return np.where(np.isfinite(out), out, np.nan)
    if len(present) and all(isinstance(v, (dt.date, np.datetime64)) for v in present):
        dates = values.copy()
        dates[absent] = None
        return _datetimes(pd.Series(dates))
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if absent[i]:
            out[i] = None
        elif isinstance(v, (dict, list)):
            raise DataError(
                f"{source.name}: column {name!r}: a nested value (an object or a list), got"
                f" {shorten(json.dumps(v, default=str))}; flatten it first (pandas.json_normalize)"
            )
        elif isinstance(v, (bytes, bytearray, memoryview)):
            raise DataError(f"{source.name}: column {name!r}: binary data (a BLOB), not a value")
        else:
            out[i] = _cell_text(v)
    return out


def _is_missing(v: Any, missing: frozenset[str]) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float):
        return v != v
    if isinstance(v, str):
        return v in missing
    return isinstance(v, np.floating) and bool(np.isnan(v))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _cell_text(v: Any) -> str:
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return _text(v)


def _datetimes(series: Any) -> np.ndarray:
    """datetime64[ns] (NaT missing); an aware time in UTC, without its zone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = pd.to_datetime(series, errors="coerce", utc=True)
    return values.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


# --------------------------------------------------------------------------------------------
# Parquet, Feather, Arrow IPC


def _read_arrow(source: Source, na_values: Sequence[str]) -> Table:
    what = {"parquet": "Parquet", "feather": "Feather", "arrow_stream": "an Arrow stream"}[
        source.format
    ]
    try:
        import pyarrow  # pandas.read_parquet and read_feather need it
    except ImportError:
        raise DataError(
            f"{source.name}: reading {what} needs pyarrow; install it with: {ARROW_INSTALL}"
        ) from None
    with source.local() as where:
        try:
            if source.format == "parquet":
                frame = pd.read_parquet(where)
            elif source.format == "feather":
                frame = pd.read_feather(where)
            else:
                import pyarrow.ipc

                stream = where if isinstance(where, io.BytesIO) else open(where, "rb")
                with contextlib.closing(stream):
                    frame = pyarrow.ipc.open_stream(stream).read_all().to_pandas()
        except Exception as e:  # pyarrow raises several types for a damaged or foreign file
            raise DataError(
                f"{source.name}: not a readable {what} file: {shorten(str(e))}"
            ) from None
    return frame_table(source, frame, na_values)


# --------------------------------------------------------------------------------------------
# JSON Lines and JSON arrays of records


def _read_json(
    source: Source, size: int, na_values: Sequence[str], on_progress: OnLoadProgress | None
) -> Table:
    hasher = Hasher(source.path) if source.compression != "zip" else None
    with source.open(on_read=_Watch(hasher, size, on_progress)) as raw, damage_is_an_error(source):
        data = raw.read()
    if hasher is not None:
        hasher.done()
    text = _decode(source, data)
    array = text.lstrip().startswith("[")
    try:
        frame = pd.read_json(
            io.StringIO(text),
            lines=not array,
            orient="records",
            dtype=False,  # no conversions (dates neither): columns are typed as a CSV's are
            convert_axes=False,
        )
    except (ValueError, TypeError) as e:  # TypeError: a line that is a list, not an object
        _raise_bad_json(source, text, array, str(e))
    return frame_table(
        source,
        frame,
        na_values,
        row_word="record" if array else "line",
        locate=None if array else (lambda: _json_lines(text)),
    )


def _decode(source: Source, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        bad = data[e.start : e.start + 1].hex()
        raise DataError(
            f"{source.name}:{line}: not UTF-8 text, got byte 0x{bad}; save the file as UTF-8"
        ) from None


def _json_lines(text: str) -> np.ndarray:
    """The line number of each record of JSON Lines (blank lines hold none)."""
    return np.array(
        [i for i, line in enumerate(text.splitlines(), start=1) if line.strip()], dtype=np.int64
    )


def _raise_bad_json(source: Source, text: str, array: bool, message: str) -> Any:
    if array:
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{source.name}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from None
        bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
        if bad is not None:
            raise DataError(
                f"{source.name}: record {bad + 1}: expected a JSON object (a row),"
                f" got {shorten(json.dumps(records[bad]))}"
            )
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{source.name}:{lineno}:{e.colno}: not JSON: {e.msg} (JSON Lines: one"
                    " object per line)"
                ) from None
            if not isinstance(value, dict):
                raise DataError(
                    f"{source.name}:{lineno}: expected a JSON object (a row) per line, got"
                    f" {shorten(line.strip())}"
                )
    raise DataError(f"{source.name}: not readable as JSON records: {shorten(message)}")


# --------------------------------------------------------------------------------------------
# spreadsheets


def _read_excel(source: Source, na_values: Sequence[str], sheet: str | None) -> Table:
    try:
        import python_calamine
    except ImportError:
        raise DataError(
            f"{source.name}: reading a spreadsheet ({source.kind}) needs python-calamine;"
            f" install it with: {EXCEL_INSTALL}"
        ) from None
    with source.local() as where:
        try:
            book = (
                python_calamine.CalamineWorkbook.from_filelike(where)
                if isinstance(where, io.BytesIO)
                else python_calamine.CalamineWorkbook.from_path(str(where))
            )
            sheets = [str(s) for s in book.sheet_names]
            chosen = _choose_sheet(source, sheets, sheet)
            rows = book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
        except DataError:
            raise
        except Exception as e:  # calamine raises its own types for a damaged workbook
            raise DataError(
                f"{source.name}: not a readable {source.kind} workbook: {shorten(str(e))}"
            ) from None
    where_sheet = f"sheet {chosen!r}"
    # row i of `rows` is the sheet's row i + 1; empty rows (blank lines) and columns go
    widths = set(map(len, rows))
    if len(widths) > 1:  # calamine's rows are all as wide as the sheet's range; just in case
        rows = [r + [""] * (max(widths) - len(r)) for r in rows]
    cols = [np.array(c, dtype=object) for c in zip(*rows)]
    filled = np.array([c != "" for c in cols], dtype=bool).reshape(len(cols), len(rows))
    kept = np.flatnonzero(filled.any(axis=0))
    if not len(kept):
        raise DataError(f"{source.name}: {where_sheet} is empty")
    used = np.any(filled, axis=1).tolist()  # (columns,)
    cols = [c[kept] for c, u in zip(cols, used) if u]
    top = [[c[i] for c in cols] for i in range(min(len(kept), HEADER_SCAN_ROWS))]
    header, titles = _sheet_header(top)
    names = [_name(None if v == "" else v) for v in top[header]]
    unnamed_first = names[0] == ""
    if unnamed_first:
        names[0] = "Unnamed: 0"
    _check_names(f"{source.name}: {where_sheet} row {kept[header] + 1}", names, 1)
    body = [c[header + 1 :] for c in cols]
    if not len(body[0]):
        raise DataError(f"{source.name}: {where_sheet}: no data rows under the header")
    missing = frozenset(na_values) | {""}
    values = tuple(_cells(source, n, c, missing) for n, c in zip(names, body))
    notes = []
    if len(sheets) > 1:
        notes.append(
            f"read {where_sheet}, one of {len(sheets)} ({', '.join(map(repr, sheets[:6]))}"
            f"{', ...' if len(sheets) > 6 else ''}); data.sheet chooses another"
        )
    if titles:
        notes.append(
            f"{where_sheet}: the header is row {kept[header] + 1}; skipped the rows above it"
            f" ({shorten(' '.join(titles), 80)})"
        )
    lines = kept[header + 1 :].astype(np.int64) + 1  # the sheet's own row numbers
    return Table(
        source.name,
        tuple(names),
        values,
        unnamed_first,
        None,
        source.label,
        notes=tuple(notes),
        row_word=f"{where_sheet} row",
        locate=lambda: lines,
    )


def _cells(source: Source, name: str, cells: np.ndarray, missing: frozenset[str]) -> np.ndarray:
    """One column of a sheet (objects): numbers straight to float64 when they all are (the
    common case, without a test of each cell in Python), else cell by cell."""
    if set(map(type, cells)) <= {float, int}:
        return cells.astype(np.float64)
    return _object_column(source, name, cells, missing)


def _choose_sheet(source: Source, sheets: list[str], sheet: str | None) -> str:
    if not sheets:
        raise DataError(f"{source.name}: a workbook without sheets")
    if sheet is None:
        return sheets[0]
    if sheet in sheets:
        return sheet
    hint = difflib.get_close_matches(sheet, sheets, n=1)
    did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
    listed = ", ".join(map(repr, sheets[:12])) + (", ..." if len(sheets) > 12 else "")
    raise DataError(
        f"{source.name}: data.sheet: no sheet {shorten(repr(sheet))}; the sheets are"
        f" {listed}{did_you_mean}"
    )


def _sheet_header(grid: list[list[Any]]) -> tuple[int, list[str]]:
    """The index of the header among a sheet's non-empty rows: the first with at least half
    as many filled cells as the widest of the first rows; and the text of the rows above."""
    filled = [sum(v != "" for v in row) for row in grid[:HEADER_SCAN_ROWS]]
    need = max(2, math.ceil(max(filled) / 2))
    header = next((i for i, n in enumerate(filled) if n >= need), 0)
    titles = [" ".join(_text(v) for v in grid[i] if v != "") for i in range(header)]
    return header, titles


# --------------------------------------------------------------------------------------------
# SQLite


def _read_sqlite(
    source: Source, na_values: Sequence[str], table: str | None, query: str | None
) -> Table:
    with _sqlite_file(source) as path:
        uri = f"file:{quote(str(path))}?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as e:
            raise DataError(f"{source.name}: cannot open the SQLite database: {e}") from None
        with contextlib.closing(con):
            try:
                con.execute("PRAGMA query_only = ON")
                tables = [
                    r[0]
                    for r in con.execute(
                        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                        " AND name NOT LIKE 'sqlite_%' ORDER BY type, rowid"
                    )
                ]
            except sqlite3.DatabaseError as e:
                raise DataError(f"{source.name}: not a readable SQLite database: {e}") from None
            what = "data.query"
            if query is None:
                table = _choose_table(source, tables, table)
                what = f"table {table!r}"
                query = 'SELECT * FROM "{}"'.format(table.replace('"', '""'))
            try:
                cursor = con.execute(query)
                if cursor.description is None:
                    raise DataError(
                        f"{source.name}: data.query: returns no rows (expected one SELECT),"
                        f" got {shorten(repr(query))}"
                    )
                names = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
            except sqlite3.Error as e:
                raise DataError(
                    f"{source.name}: data.query: {e}, got {shorten(repr(query))}"
                    if what == "data.query"
                    else f"{source.name}: {what}: {e}"
                ) from None
    _check_names(f"{source.name}: {what}", names, 1)
    frame = pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
    return frame_table(
        source,
        frame.infer_objects(),
        na_values,
        notes=(f"read {what}",) if len(tables) > 1 or what == "data.query" else (),
        row_word=f"{what} row" if what != "data.query" else "query row",
    )


def _choose_table(source: Source, tables: list[str], table: str | None) -> str:
    listed = ", ".join(map(repr, tables[:12])) + (", ..." if len(tables) > 12 else "")
    if table is not None:
        if table in tables:
            return table
        hint = difflib.get_close_matches(table, tables, n=1)
        did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
        raise DataError(
            f"{source.name}: data.table: no table {shorten(repr(table))}; the tables are"
            f" {listed or 'none'}{did_you_mean}"
        )
    if not tables:
        raise DataError(f"{source.name}: a SQLite database without tables")
    if len(tables) > 1:
        raise DataError(
            f"{source.name}: a SQLite database of {len(tables)} tables ({listed}); name one"
            f" with data.table (init --table), e.g. {tables[0]}, or give data.query"
        )
    return tables[0]


@contextlib.contextmanager
def _sqlite_file(source: Source) -> Iterator[Path]:
    """A path sqlite3 can open: the file, or a temporary copy of the decompressed database."""
    if source.compression is None:
        yield source.path
        return
    fd, name = tempfile.mkstemp(suffix=".sqlite", prefix="lrsweep-")
    try:
        with os.fdopen(fd, "wb") as out, source.open() as f, damage_is_an_error(source):
            while chunk := f.read(1 << 20):
                out.write(chunk)
        yield Path(name)
    finally:
        os.unlink(name)
