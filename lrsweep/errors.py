"""Exceptions lrsweep raises for problems a user can fix.

Every message is complete on one line and names the file, the key path (or line and column)
and what was expected, so the CLI can print it as it is. Anything that is not an
``LrsweepError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

MAX_MESSAGE = 300  # characters of one error line (DESIGN.md §7: one short line per error)
MAX_VALUE = 60  # characters of a user's value quoted inside a message


def shorten(text: Any, limit: int = MAX_VALUE) -> str:
    """``text`` (or its ``str``) on one line of at most about ``limit`` characters.

    Line breaks and control characters become spaces or escapes, and a long text keeps its
    head and tail around ``…(N chars)…``, so a 14 MB value never reaches the terminal whole.
    Every message builder passes user values through this (``shorten(repr(value))``).
    """
    text = text if isinstance(text, str) else str(text)
    total = len(text)
    if total > 4 * limit + 100:  # clip before cleaning: a huge value costs nothing more
        text = f"{text[: 2 * limit]} {text[-2 * limit :]}"
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(
        text.splitlines()
    ))  # fmt: skip
    clean = printable
    if len(clean) <= limit and total <= 4 * limit + 100:
        return clean
    keep = max(limit - 20, 8)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    return f"{clean[:head]}…({total} chars)…{clean[-tail:]}"


class LrsweepError(Exception):
    """Root of every error caused by user input or the environment, not by a bug.

    The message is made one line of at most ``MAX_MESSAGE`` characters whatever the
    builder passed (`shorten`).
    """

    exit_code = 2

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(shorten(message, MAX_MESSAGE), *args)


def is_interrupt(e: BaseException) -> bool:
    """Whether ``e`` is, or wraps, a Ctrl-C (``KeyboardInterrupt``).

    A library that calls back into our code may turn the ``KeyboardInterrupt`` raised there
    into its own ``Exception``: pydantic does (``PydanticSerializationError: Error calling
    function ...: KeyboardInterrupt``), and a sweep interrupted during a spec's serialisation
    then recorded its running group as failed and went on. The cause chain is checked, and
    the wrapped message of such an error.
    """
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        if type(current).__name__ == "PydanticSerializationError" and (
            "KeyboardInterrupt" in str(current)
        ):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class SpecError(LrsweepError):
    """The spec file is unreadable, malformed or invalid."""

    exit_code = 2


class DataError(LrsweepError):
    """The data file or the data options cannot give a usable dataset."""

    exit_code = 2


class TooManyLevels(DataError):
    """Text columns with more distinct values than ``data.max_categories``: ``columns`` maps
    each such column to (its distinct values, its present values)."""

    def __init__(self, message: str, columns: dict[str, tuple[int, int]]) -> None:
        super().__init__(message)
        self.columns = columns


class RareClasses(DataError):
    """A classification target with classes of a single row (a stratified split needs 2):
    ``classes`` are their names."""

    def __init__(self, message: str, classes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.classes = classes


class ResultsError(LrsweepError):
    """A results dir is missing, malformed, locked, or belongs to another spec."""

    exit_code = 2


class LockError(ResultsError):
    """Another live process holds the results dir."""

    exit_code = 3


class StorageError(ResultsError):
    """The results dir cannot be written: the path is a file, permissions, a full disk."""

    exit_code = 3


class RunsFailing(LrsweepError):
    """The first runs of a sweep all failed the same way (a typo, a missing import): the
    sweep stops instead of burning the whole grid on it; the failed runs are resumable."""

    exit_code = 1


class ExecutorError(LrsweepError):
    """Infrastructure failed: a worker pool, a cluster, or the disk."""

    exit_code = 3


class Cancelled(Exception):
    """Raised inside a trainer when the sweep stops it (its ``stop`` event is set: Ctrl-C, an
    error elsewhere). Not an `LrsweepError` and not a failure: control flow between an
    executor and the groups it runs."""


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """The hint after an unknown name: ``did you mean 'x'?``, else the choices, shortened."""
    options = list(choices)
    close = difflib.get_close_matches(str(value), options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return shorten("expected one of " + ", ".join(repr(c) for c in options), 200)
