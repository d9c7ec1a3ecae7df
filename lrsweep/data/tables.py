"""Any table on disk, whatever its format: :func:`read_table` and :func:`read_header` look at
what a file holds (:mod:`.sources`) and hand it to the CSV reader (:mod:`.read`) or to the
other formats' (:mod:`.formats`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from lrsweep.data.read import (
    NA_VALUES,
    OnLoadProgress,
    Table,
    check_path,
    check_selection,
    read_csv,
    sniff,
)
from lrsweep.data.sources import detect_source


def read_header(
    path: Path,
    delimiter: str | None = None,
    *,
    member: str | None = None,
    sheet: str | None = None,
    table: str | None = None,
    query: str | None = None,
) -> list[str]:
    """The column names of the table at ``path`` (a CSV's header only; other formats whole)."""
    path = Path(path)
    check_path(path)
    source = detect_source(path, member)
    if source.format != "csv":
        read = read_table(path, delimiter=delimiter, member=member, sheet=sheet, table=table,
                          query=query)  # fmt: skip
        return list(read.names)
    check_selection(source, delimiter, sheet, table, query)
    return sniff(source, delimiter)[1]


def read_table(
    path: Path,
    *,
    na_values: Sequence[str] = NA_VALUES,
    delimiter: str | None = None,
    on_progress: OnLoadProgress | None = None,
    member: str | None = None,
    sheet: str | None = None,
    table: str | None = None,
    query: str | None = None,
) -> Table:
    """Read the table at ``path`` once into a :class:`Table`, whatever its format
    (:mod:`.sources`): ``member`` names a zip archive's table, ``sheet`` a workbook's sheet,
    ``table`` or ``query`` what to read from a SQLite database; ``delimiter`` is for CSV.

    ``on_progress(bytes_read, size)`` is called as the file is read (text formats), for a
    progress bar; ``size`` and the bytes are the file's as stored (compressed).
    """
    path = Path(path)
    size = check_path(path)
    source = detect_source(path, member)
    check_selection(source, delimiter, sheet, table, query)
    if source.format != "csv":
        from lrsweep.data.formats import read_other  # pandas: loaded only for such a file

        read = read_other(source, size, na_values, sheet, table, query, on_progress)
    else:
        read = read_csv(source, size, na_values, delimiter, on_progress)
    return replace(read, notes=source.notes + read.notes) if source.notes else read
