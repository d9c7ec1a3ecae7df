"""Date and datetime columns: recognised, then expanded into numeric parts or dropped.

A column is a date column when it holds dates (a spreadsheet's date cells, a Parquet or
Feather timestamp) or when every present text value is a date written one of these ways:

* ISO 8601: ``2024-03-05``, ``2024-03-05 14:30``, ``2024-03-05T14:30:00.250+01:00``
  (a time zone is converted to UTC);
* ``2024/03/05`` (year first), with an optional ``14:30`` or ``14:30:00``;
* ``05/03/2024`` or ``05.03.2024``: day first when some first number is over 12, month first
  when some second number is; when neither is, by the separator's custom (``.`` day first,
  ``/`` month first), said in the note; with the same optional time.

Anything else (two-digit years, month names, a column mixing shapes) stays text.

``data.dates: expand`` (the default) turns each date column into numbers, as fastai's
``add_datepart`` does: ``<col>_year``, ``_month``, ``_day``, ``_dayofweek`` (Monday 0),
``_dayofyear``, ``_elapsed_days`` (days since 1970-01-01, with the time of day as a fraction)
and, when some value has a time of day, ``_hour`` (with minutes and seconds as a fraction).
A part that is the same for every row (all in one year) is left out. ``data.dates: drop``
drops date columns, each with a note.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

__all__ = ["date_parts", "parse_dates"]

SAMPLE = 20  # values tested before a whole column is
TIME = r"(?: \d{1,2}:\d{2}(?::\d{2})?)?"
ISO = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
YEAR_FIRST = re.compile(r"\d{4}/\d{1,2}/\d{1,2}" + TIME)
DAY_OR_MONTH_FIRST = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2\d{4}" + TIME)
DAY = np.timedelta64(1, "D")
EPOCH = np.datetime64("1970-01-01", "ns")


def parse_dates(values: np.ndarray) -> tuple[np.ndarray, str] | None:
    """``(datetime64[ns] values, how they were read)`` of a text column (``str``/``None``)
    whose every present value is a date (module docstring); else ``None``."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    sample = [v.strip() for v in present[:SAMPLE]]
    import pandas as pd

    for pattern in (ISO, YEAR_FIRST, DAY_OR_MONTH_FIRST):
        if not all(pattern.fullmatch(v) for v in sample):
            continue
        text = pd.Series(present, dtype=object).str.strip()
        if not text.str.fullmatch(pattern.pattern).all():
            return None
        how, kwargs = _how(pattern, text)
        if not how:
            return None
        series = pd.Series(values, dtype=object).str.strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce", utc=True, **kwargs)
        if int(parsed.notna().sum()) != len(present):  # a 2024-02-30: not dates after all
            return None
        return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), how
    return None


def _how(pattern: re.Pattern[str], text: Any) -> tuple[str, dict[str, Any]]:
    """How a matched column is read: words for the note, and pandas' arguments."""
    if pattern is ISO:
        return "ISO 8601 dates", {"format": "ISO8601"}
    times = text.str.contains(":")
    if times.any() and not times.all():
        return "", {}  # mixed shapes: leave it text
    seconds = bool(text.str.count(":").max() == 2) if times.all() else False
    clock = " %H:%M:%S" if seconds else " %H:%M" if times.all() else ""
    if pattern is YEAR_FIRST:
        return "year/month/day dates", {"format": "%Y/%m/%d" + clock}
    parts = text.str.extract(DAY_OR_MONTH_FIRST.pattern)
    first, sep, second = parts[0].astype(int), parts[1].iloc[0], parts[2].astype(int)
    if (parts[1] != sep).any():
        return "", {}
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        return "", {}
    ambiguous = not day_first and not month_first
    if ambiguous:  # as the convention of the separator: 05.03.2024 in Europe, 03/05/2024 in the US
        day_first = sep == "."
    fmt = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
    words = "day/month/year dates" if day_first else "month/day/year dates"
    if ambiguous:
        words += (
            f" (ambiguous, no number over 12: read as {'day' if day_first else 'month'} first)"
        )
    return words, {"format": fmt + clock}


def date_parts(values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The numeric parts of datetime64 ``values`` (float64, NaN where the date is missing),
    leaving out a part that is the same on every row."""
    import pandas as pd

    index = pd.DatetimeIndex(values)
    missing = np.isnat(values)
    parts: list[tuple[str, Any]] = [
        ("year", index.year),
        ("month", index.month),
        ("day", index.day),
        ("dayofweek", index.day_of_week),
        ("dayofyear", index.day_of_year),
    ]
    clock = index.hour + index.minute / 60 + (index.second + index.microsecond / 1e6) / 3600
    elapsed = (values - EPOCH) / DAY
    parts.append(("elapsed_days", elapsed))
    if np.nan_to_num(np.asarray(clock, dtype=np.float64)).any():
        parts.append(("hour", clock))
    out = []
    for name, part in parts:
        a = np.asarray(part, dtype=np.float64).copy()
        a[missing] = np.nan
        present = a[~missing]
        if len(present) and present.min() != present.max():
            out.append((name, a))
    return out
