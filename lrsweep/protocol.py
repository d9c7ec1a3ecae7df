"""The metric protocol between lrsweep and a training script it runs: writing and reading it.

A script reports one JSON object per line to the file named by ``$LRSWEEP_METRICS``::

    {"epoch": 3, "train_loss": 0.61, "val_loss": 0.52, "val_accuracy": 0.83}

``epoch`` is an integer (0 = before training, k = after k passes; omitted: one more than the
line before, starting at 1); every other key is a metric of any name whose value is a number.
NaN and the infinities are the bare words ``NaN``, ``Infinity``, ``-Infinity`` (what Python's
``json`` writes and reads); the strings ``"nan"``, ``"inf"``, ``"-inf"`` are read as well.

`report` writes those lines (``import lrsweep; lrsweep.report(epoch=e, val_loss=...)``);
`MetricsTail` reads them while the script runs; `HistoryFile` reads the logs scripts already
write (PyTorch Lightning's and Keras' ``CSVLogger``, Hugging Face's ``trainer_state.json``)
into the same per-epoch records, `EpochMetrics`. Rules the readers share:

- a line not yet ended by a newline is not read until it is (or the run has ended);
- a malformed line or value is noted in ``problems`` with its line number and skipped; the
  rest of the file is still read (a line still unended past ``MAX_LINE`` bytes is skipped
  too, never held whole);
- the values of an epoch reported twice are merged, a later value replacing an earlier one of
  the same name; an epoch lower than one already read is merged the same way and noted.

This module is what ``lrsweep.report`` loads in a user's script: the standard library only,
and nothing imported that costs more than a few milliseconds.
"""

from __future__ import annotations

import csv
import json
import math
import operator
import os
import sys
from collections.abc import Iterable, Mapping
from typing import BinaryIO, NamedTuple

METRICS_ENV = "LRSWEEP_METRICS"  # the environment variable naming a run's metrics file

# The names lrsweep gives the usual columns of a history file: the first of each tuple that
# the file has becomes lrsweep's name, unless the file has lrsweep's name itself.
LOSS_ALIASES = {
    "train_loss": ("train_loss_epoch", "loss"),  # Lightning on_epoch; Keras and HF `loss`
    "val_loss": ("val_loss_epoch", "eval_loss"),  # Lightning on_epoch; HF evaluation
}

MAX_PROBLEMS = 20  # problems kept per file: the first ones, then a count of the rest
MAX_LINE = 1 << 20  # bytes: a longer line is skipped, never held whole
_NON_FINITE = {  # the strings read as NaN and infinities (any case)
    "nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
}


class EpochMetrics(NamedTuple):
    """The values reported for one epoch: ``metrics`` maps each name to a float."""

    epoch: int
    metrics: dict[str, float]


# -- writing ---------------------------------------------------------------------------------

_last_epoch = 0  # the last epoch `report` wrote in this process


def report(epoch: int | None = None, **metrics: float) -> None:
    """Report one epoch's metrics to lrsweep: ``report(epoch=3, val_loss=0.52, acc=0.8)``.

    Appends one line to the file named by ``$LRSWEEP_METRICS`` with a single ``write`` (a
    script killed at any moment leaves whole lines), or prints it to stdout when the variable
    is unset, so the script also runs by hand. ``epoch`` omitted: one more than the last
    epoch reported by this process, starting at 1. Values may be any number (Python, NumPy,
    a one-element tensor); NaN and infinities are kept (module docstring).

    Raises
    ------
    TypeError
        A value is not a number, or ``epoch`` is not an integer.
    ValueError
        ``epoch`` is negative.
    """
    global _last_epoch
    number = _last_epoch + 1 if epoch is None else _epoch_argument(epoch)
    line = format_line(number, {name: _number_argument(name, v) for name, v in metrics.items()})
    path = os.environ.get(METRICS_ENV)
    if path:
        data = line.encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            while data:  # one write for a line, unless the disk is full or a signal splits it
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
    else:
        sys.stdout.write(line)
        sys.stdout.flush()
    _last_epoch = number


def format_line(epoch: int, metrics: Mapping[str, float]) -> str:
    """One protocol line, newline included: ``{"epoch": 3, "val_loss": 0.52}``."""
    return json.dumps({"epoch": epoch, **metrics}) + "\n"


def _epoch_argument(epoch: object) -> int:
    value = _integral(epoch) if not isinstance(epoch, str) else None
    if value is None and not isinstance(epoch, (bool, str)):
        try:
            value = operator.index(epoch)  # type: ignore[arg-type]  # NumPy integers
        except TypeError:
            pass
    if value is None:
        raise TypeError(f"lrsweep.report: epoch must be an integer, got {epoch!r}")
    if value < 0:
        raise ValueError(f"lrsweep.report: epoch must be >= 0, got {value}")
    return value


def _number_argument(name: str, value: object) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # an int stays an int on the line (a step count reads better)
    if not isinstance(value, (bool, str, bytes)):
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise TypeError(f"lrsweep.report: {name} must be a number, got {value!r}")


# -- reading: the merged history of one file --------------------------------------------------


class _Ledger:
    """Epochs merged from one file's records, the problems noted, the epochs changed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.epochs: dict[int, dict[str, float]] = {}
        self.changed: set[int] = set()
        self.problems: list[str] = []
        self.dropped = 0  # problems past MAX_PROBLEMS
        self._noted: set[str] = set()
        self.max_epoch = -1

    def note(self, where: int | None, text: str, once: str | None = None) -> None:
        """Keep ``name[:where]: text`` (once per ``once`` key, at most MAX_PROBLEMS)."""
        if once is not None:
            if once in self._noted:
                return
            self._noted.add(once)
        if len(self.problems) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        from lrsweep.errors import shorten  # only readers pay for it, never `report`

        place = self.name if where is None else f"{self.name}:{where}"
        self.problems.append(shorten(f"{place}: {text}", 300))

    def restart(self) -> None:
        """The file is read again from its start: epochs begin again, with no note."""
        self.max_epoch = -1

    def add(self, epoch: int, metrics: Mapping[str, float], where: int | None) -> None:
        """Merge one record into its epoch (a later value of a name replaces the earlier)."""
        if epoch < self.max_epoch:
            self.note(where, f"epoch {epoch} after epoch {self.max_epoch}; merged into {epoch}")
        self.max_epoch = max(self.max_epoch, epoch)
        is_new = epoch not in self.epochs
        old = self.epochs.setdefault(epoch, {})
        if is_new or any(
            name not in old or not _same(old[name], v) for name, v in metrics.items()
        ):
            self.changed.add(epoch)
        old.update(metrics)

    def take_changed(self, rename: Mapping[str, str]) -> list[EpochMetrics]:
        out = [self.record(e, rename) for e in sorted(self.changed)]
        self.changed.clear()
        return out

    def record(self, epoch: int, rename: Mapping[str, str]) -> EpochMetrics:
        return EpochMetrics(epoch, {rename.get(k, k): v for k, v in self.epochs[epoch].items()})

    def history(self, rename: Mapping[str, str]) -> list[EpochMetrics]:
        return [self.record(e, rename) for e in sorted(self.epochs)]

    def all_problems(self) -> list[str]:
        more = [f"{self.name}: {self.dropped} more problems not shown"] if self.dropped else []
        return self.problems + more


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _number(value: object) -> float | None:
    """``value`` as a float; None when it is not a number (a bool is not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int past float's range
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _NON_FINITE:
            return _NON_FINITE[text.lower()]
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _integral(value: object) -> int | None:
    """An epoch number: an int, or a float with no fraction; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        number = _number(value)
        return _integral(number) if number is not None else None
    return None


class _Source:
    """What both readers share: the ledger and the three read-only views of it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._ledger = _Ledger(os.path.basename(self.path))

    def _rename(self) -> Mapping[str, str]:
        return {}

    @property
    def history(self) -> list[EpochMetrics]:
        """Every epoch read so far, merged, in epoch order."""
        return self._ledger.history(self._rename())

    @property
    def problems(self) -> list[str]:
        """One line per malformed line or value (``metrics.jsonl:7: not JSON, got ...``)."""
        return self._ledger.all_problems()

    @property
    def names(self) -> list[str]:
        """Every metric name read so far, in the order first seen."""
        seen: dict[str, None] = {}
        for record in self.history:
            seen.update(dict.fromkeys(record.metrics))
        return list(seen)


# -- reading: JSON lines ---------------------------------------------------------------------


class MetricsTail(_Source):
    """Reads a metrics file (JSON lines, module docstring) as it grows.

    ``read_new()`` returns the epochs whose values arrived or changed since the last call,
    merged (an epoch's values so far, not only the new ones); ``history`` every epoch. Call
    ``read_new(final=True)`` once the script has ended: it also reads a last line that was
    never ended by a newline. A missing file is an empty one.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 4 << 20) -> None:
        super().__init__(path)
        self.max_bytes = max_bytes  # read per call at most (a flood never stalls the caller)
        self._offset = 0  # bytes consumed
        self._pending = b""  # the start of a line not yet ended
        self._line = 0  # lines read
        self._last_epoch = 0  # the epoch an epoch-less line follows
        self._skipping = False  # inside a line longer than MAX_LINE

    def read_new(self, final: bool = False) -> list[EpochMetrics]:
        while True:  # one chunk, or every chunk at the end
            data = self._read_chunk()
            self._consume(data)
            if not final or len(data) < self.max_bytes:
                break
        if final and (self._pending or self._skipping):
            self._consume(b"\n")  # the last line, never ended
        return self._ledger.take_changed({})

    def _read_chunk(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self._offset:
                    self._ledger.note(None, "the file was truncated; read again from its start")
                    self._offset, self._pending, self._line = 0, b"", 0
                    self._ledger.restart()
                f.seek(self._offset)
                data = f.read(self.max_bytes)
        except FileNotFoundError:
            return b""
        self._offset += len(data)
        return data

    def _consume(self, data: bytes) -> None:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        for raw in lines:
            self._line += 1
            if self._skipping:  # the end of a line too long to keep
                self._skipping = False
            else:
                self._read_line(raw, self._line)
        if len(self._pending) > MAX_LINE:
            if not self._skipping:
                self._ledger.note(self._line + 1, f"a line longer than {MAX_LINE} bytes, skipped")
            self._pending, self._skipping = b"", True

    def _read_line(self, raw: bytes, number: int) -> None:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            self._ledger.note(number, f"not a JSON line, got {text!r}")
            return
        if not isinstance(obj, dict):
            self._ledger.note(number, f"not a JSON object, got {text!r}")
            return
        if "epoch" in obj:
            epoch = _integral(obj.pop("epoch"))
            if epoch is None or epoch < 0:
                self._ledger.note(number, f"epoch must be an integer >= 0, got {text!r}")
                return
        else:
            epoch = self._last_epoch + 1
        self._last_epoch = epoch
        metrics = {}
        for name, value in obj.items():
            if value is None:  # null: not reported
                continue
            number_value = _number(value)
            if number_value is None:
                self._ledger.note(number, f"{name}: not a number, got {value!r}")
            else:
                metrics[name] = number_value
        self._ledger.add(epoch, metrics, number)


# -- reading: history files scripts already write --------------------------------------------


class HistoryFile(_Source):
    """Reads a training log a script already writes into per-epoch records.

    - CSV with an ``epoch`` column, as PyTorch Lightning's ``CSVLogger`` (``metrics.csv``:
      sparse rows, train and validation values on different rows, a ``step`` column, the
      header rewritten when a key appears) and Keras' ``CSVLogger`` (``NA`` for a value not
      logged) write them. Their ``epoch`` counts from 0 (``epoch_base``): their epoch k is
      lrsweep's epoch k + 1, after k + 1 passes. An epoch's value of a column is the last
      one written in that epoch; an empty cell or ``NA`` is no value.
    - Hugging Face's ``trainer_state.json``: its ``log_history`` entries, whose float
      ``epoch`` (1.5 = half way through the second pass) belongs to lrsweep's epoch
      ``ceil(epoch)``; the end-of-training summary (the entry with ``train_runtime``, whose
      ``train_loss`` is the mean over all epochs) is skipped.

    Columns keep their names, except the usual loss names, which become lrsweep's
    (`LOSS_ALIASES`: ``loss`` -> ``train_loss``, ``eval_loss`` -> ``val_loss``, ...). The
    file is read again whenever it changes (a CSV that only grew: from where it was left).
    """

    def __init__(self, path: str | os.PathLike[str], epoch_base: int = 0) -> None:
        super().__init__(path)
        self.epoch_base = epoch_base
        self._stat: tuple[int, int, int] | None = None
        self._columns: list[str] = []  # every raw column name seen, in order
        self._header = b""  # a CSV's header line as last read
        self._offset = 0  # a CSV's bytes consumed (complete lines)
        self._line = 0

    def _rename(self) -> Mapping[str, str]:
        return lrsweep_names(self._columns)

    def read_new(self, final: bool = False) -> list[EpochMetrics]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if final:
                self._ledger.note(None, "the history file was never written", once="missing")
            return []
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if key == self._stat and not final:
            return []
        with open(self.path, "rb") as f:
            head = f.read(1)
            while head in (b" ", b"\t", b"\r", b"\n"):
                head = f.read(1)
            f.seek(0)
            if head == b"{":
                done = self._read_hf(f.read(), final)
            else:
                done = self._read_csv(f, final)
        if done:
            self._stat = key
        return self._ledger.take_changed(self._rename())

    def _read_hf(self, data: bytes, final: bool) -> bool:
        try:
            state = json.loads(data)
        except (ValueError, RecursionError):
            if final:
                self._ledger.note(None, "not valid JSON (a trainer_state.json?)")
            return final  # being written: read it again at the next call
        self._ledger.restart()  # the whole log, every time
        log = state.get("log_history") if isinstance(state, dict) else None
        if not isinstance(log, list):
            self._ledger.note(None, "no log_history list (a trainer_state.json?)", once="nolog")
            return True
        for index, entry in enumerate(log, start=1):
            if not isinstance(entry, dict) or "train_runtime" in entry:
                continue
            raw_epoch = _number(entry.get("epoch"))
            if raw_epoch is None or not math.isfinite(raw_epoch) or raw_epoch < 0:
                where = f"log_history[{index - 1}]"
                self._ledger.note(None, f"{where}: no epoch, skipped", once="hf-epoch")
                continue
            epoch = math.ceil(round(raw_epoch, 6))
            metrics = {}
            for name, value in entry.items():
                number = _number(value)
                if name != "epoch" and number is not None:
                    metrics[name] = number
            self._see(metrics)
            self._ledger.add(epoch, metrics, None)
        return True

    def _read_csv(self, f: BinaryIO, final: bool) -> bool:
        header = f.readline()
        if not header.endswith(b"\n") and not final:
            return False  # the header is being written
        size = os.fstat(f.fileno()).st_size
        if header != self._header or not len(header) <= self._offset <= size:
            # new, rewritten with a new column (Lightning) or cut: read it from the top again
            self._header, self._offset, self._line = header, len(header), 1
            self._ledger.restart()
        f.seek(self._offset)
        data = f.read()
        if not final:
            end = data.rfind(b"\n") + 1
            data = data[:end]  # whole lines only: the last one may be half written
        self._offset += len(data)
        text = header.decode("utf-8", errors="replace").rstrip("\r\n")
        delimiter = max(",;\t|", key=text.count)
        columns = next(csv.reader([text], delimiter=delimiter), [])
        columns = [c.strip() for c in columns]
        if "epoch" not in columns:
            self._ledger.note(1, f"no 'epoch' column, got {', '.join(columns)!r}", once="noep")
            return True
        self._see(dict.fromkeys(c for c in columns if c != "epoch"))
        for line in data.decode("utf-8", errors="replace").splitlines():
            self._line += 1
            try:
                row = next(csv.reader([line], delimiter=delimiter), [])
            except csv.Error as e:  # a field over csv's limit, a stray quote
                self._ledger.note(self._line, f"not a CSV row ({e})", once="csv-row")
                continue
            self._read_row(columns, row, self._line)
        return True

    def _read_row(self, columns: list[str], row: list[str], line: int) -> None:
        if not row or all(not cell.strip() for cell in row):
            return
        values = dict(zip(columns, (cell.strip() for cell in row)))
        epoch = _integral(values.pop("epoch", ""))
        if epoch is None:
            self._ledger.note(line, "a row without an epoch is skipped", once="csv-epoch")
            return
        metrics = {}
        for name, cell in values.items():
            if cell == "" or cell == "NA":  # Lightning's sparse rows, Keras' missing value
                continue
            number = _number(cell)
            if number is None:
                self._ledger.note(
                    line, f"{name}: not a number, got {cell!r}", once=f"column {name}"
                )
            else:
                metrics[name] = number
        self._ledger.add(epoch + 1 - self.epoch_base, metrics, line)

    def _see(self, names: Iterable[str]) -> None:
        known = set(self._columns)
        self._columns.extend(n for n in names if n not in known)


def lrsweep_names(columns: Iterable[str]) -> dict[str, str]:
    """The renames `LOSS_ALIASES` make for a file with ``columns``: ``{"loss": "train_loss"}``."""
    present = set(columns)
    renames = {}
    for name, aliases in LOSS_ALIASES.items():
        if name in present:
            continue
        for alias in aliases:
            if alias in present:
                renames[alias] = name
                break
    return renames
