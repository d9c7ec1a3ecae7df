"""Exceptions lrsweep raises for problems a user can fix.

Every message is complete on one line and names the file, the key path (or line and column)
and what was expected, so the CLI can print it as it is. Anything that is not an
``LrsweepError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LrsweepError(Exception):
    """Root of every error caused by user input or the environment, not by a bug."""

    exit_code = 2


class SpecError(LrsweepError):
    """The spec file is unreadable, malformed or invalid."""

    exit_code = 2


class DataError(LrsweepError):
    """The data file or the data options cannot give a usable dataset."""

    exit_code = 2


class ResultsError(LrsweepError):
    """A results dir is missing, malformed, locked, or belongs to another spec."""

    exit_code = 2


class LockError(ResultsError):
    """Another live process holds the results dir."""

    exit_code = 3


class StorageError(ResultsError):
    """The results dir cannot be written: the path is a file, permissions, a full disk."""

    exit_code = 3


class ExecutorError(LrsweepError):
    """Infrastructure failed: a worker pool, a cluster, or the disk."""

    exit_code = 3


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """The hint after an unknown name: ``did you mean 'x'?``, else the choices, shortened."""
    options = list(choices)
    close = difflib.get_close_matches(str(value), options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return shorten("expected one of " + ", ".join(repr(c) for c in options))


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to about ``limit`` characters with an ellipsis: a message stays one line."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}... ({len(text):,} characters)"
