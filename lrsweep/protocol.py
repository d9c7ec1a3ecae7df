"""How a user's training script tells lrsweep its losses: the metric protocol, in one place.

A script reports one JSON object per line to the file named by ``$LRSWEEP_METRICS``::

    {"epoch": 3, "train_loss": 0.41, "val_loss": 0.52, "accuracy": 0.88}

``epoch`` counts finished passes (0 = before training), any other key is a metric; a value
that is not finite is written as the string ``"nan"``, ``"inf"`` or ``"-inf"``. The simplest
way is ``lrsweep.report(epoch=e, train_loss=..., val_loss=...)``, which writes exactly that
(and prints it when ``$LRSWEEP_METRICS`` is unset, so the script still runs by hand). A script
may instead keep the log it already writes (``trainer.history``): PyTorch Lightning's or
Keras' ``CSVLogger`` file, or Hugging Face's ``trainer_state.json`` (`read_history_file`).

Stdlib only: ``import lrsweep; lrsweep.report(...)`` must stay cheap inside a script.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

METRICS_ENV = "LRSWEEP_METRICS"
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "NaN": math.nan,
              "Infinity": math.inf, "-Infinity": -math.inf}  # fmt: skip
TRAIN_NAMES = ("train_loss", "loss", "train_loss_epoch", "training_loss")  # -> train_loss
VAL_NAMES = ("val_loss", "eval_loss", "val_loss_epoch", "validation_loss", "valid_loss")
_reported: list[int] = []  # the last epoch this process reported (for report() without one)


def _encode(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy and torch scalars
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def report(epoch: int | None = None, **metrics: Any) -> None:
    """Report one epoch's metrics to lrsweep (one JSON line to ``$LRSWEEP_METRICS``).

    ``epoch`` defaults to one more than the last this process reported (1 the first time).
    Values may be Python or NumPy/PyTorch scalars; NaN and inf are kept (lrsweep's divergence
    rule reads them). With ``$LRSWEEP_METRICS`` unset the line is printed instead.

    Examples
    --------
    >>> import lrsweep
    >>> lrsweep.report(epoch=1, train_loss=0.7, val_loss=0.8)  # doctest: +SKIP
    """
    if epoch is None:
        epoch = (_reported[-1] if _reported else 0) + 1
    epoch = int(epoch)
    _reported[:] = [epoch]
    line = json.dumps({"epoch": epoch, **{str(k): _encode(v) for k, v in metrics.items()}})
    path = os.environ.get(METRICS_ENV)
    if not path:  # run by hand: the line goes to the terminal instead
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one write: a killed script leaves whole lines
    finally:
        os.close(fd)


def number(value: Any) -> float | None:
    """A reported value as a float (``"nan"``, ``"inf"`` too), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text in NON_FINITE:
            return NON_FINITE[text]
        try:
            return float(text)
        except ValueError:
            return None
    return None


class Epochs:
    """Reported epochs merged by epoch number: later reports of an epoch add to it (a value
    reported twice: the later one wins); an epoch reported after a later one is noted."""

    def __init__(self) -> None:
        self.by_epoch: dict[int, dict[str, float]] = {}
        self.problems: list[str] = []  # malformed lines, non-numbers, epochs going back
        self.keys: list[str] = []  # every metric name reported, in first-seen order

    def add(self, record: Mapping[str, Any], where: str) -> None:
        epoch = number(record.get("epoch"))
        if epoch is None or epoch != int(epoch) or epoch < 0:
            self.problems.append(f"{where}: no whole 'epoch' >= 0, got {record.get('epoch')!r}")
            return
        if self.by_epoch and int(epoch) < max(self.by_epoch) and int(epoch) not in self.by_epoch:
            self.problems.append(f"{where}: epoch {int(epoch)} after epoch {max(self.by_epoch)}")
        values = self.by_epoch.setdefault(int(epoch), {})
        for key, raw in record.items():
            if key == "epoch":
                continue
            value = number(raw)
            if value is None:
                self.problems.append(f"{where}: {key} is not a number, got {raw!r}"[:200])
                continue
            values[key] = value
            if key not in self.keys:
                self.keys.append(key)

    def rows(self) -> list[tuple[int, dict[str, float]]]:
        """``(epoch, metrics)`` in epoch order."""
        return sorted(self.by_epoch.items())


class MetricsTail:
    """An incremental reader of a metrics file a running script appends to.

    `read_new` returns the records completed since the last call; a last line without its
    newline is a line still being written and waits for the next call (or `close`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.line = 0
        self._partial = b""

    def read_new(self, final: bool = False) -> list[tuple[str, Mapping[str, Any] | None]]:
        """``(where, record)`` per new line; ``record`` is None for a line that is not a JSON
        object (``where`` names the file and line). ``final``: the writer is done, so a last
        line without a newline counts too."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(1 << 22)
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if final and self._partial.strip():
            lines.append(self._partial)
            self._partial = b""
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        for raw in lines:
            self.line += 1
            if not raw.strip():
                continue
            where = f"{self.path.name}:{self.line}"
            try:
                record = json.loads(raw.decode("utf-8", errors="replace"))
            except ValueError:
                record = None
            out.append((where, record if isinstance(record, dict) else None))
        return out


def read_history_file(path: Path) -> Epochs:
    """A log the script already writes, as reported epochs: a CSV with an ``epoch`` column
    (PyTorch Lightning's ``CSVLogger`` ``metrics.csv``, sparse: train and validation metrics on
    different rows; Keras' ``CSVLogger``; both number the epoch in progress from 0, so a log
    with an epoch 0 is shifted by one pass, and ``NA`` or an empty cell is no value) or
    Hugging Face's ``trainer_state.json`` (``log_history``: train entries with ``loss``, eval
    entries with ``eval_loss``, fractional epochs rounded to the pass they end)."""
    epochs = Epochs()
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return epochs
    if Path(path).suffix == ".json" or text.lstrip().startswith("{"):
        try:
            state = json.loads(text)
        except ValueError:
            return epochs  # being written: read again later
        for i, entry in enumerate(state.get("log_history") or [], start=1):
            if isinstance(entry, dict) and entry.get("epoch") is not None:
                value = number(entry["epoch"])
                if value is None:
                    continue
                entry_record = {k: v for k, v in entry.items() if k != "epoch"}
                entry_record["epoch"] = max(0, math.ceil(value - 1e-6))
                epochs.add(entry_record, f"{Path(path).name}: log_history.{i - 1}")
        return epochs
    rows = list(csv.DictReader(io.StringIO(text)))
    firsts = [number(r.get("epoch")) for r in rows]
    # Lightning and Keras number the epoch in progress from 0: a row of epoch 0 is after the
    # first pass. A log whose epochs start at 1 already counts finished passes.
    shift = 1 if any(e == 0 for e in firsts) else 0
    for i, row in enumerate(rows, start=2):
        record: dict[str, Any] = {
            k: v for k, v in row.items() if k and k != "step" and v not in ("", "NA", None)
        }
        found = number(record.get("epoch"))
        if found is None or len(record) < 2:
            continue
        record["epoch"] = found + shift
        epochs.add(record, f"{Path(path).name}:{i}")
    return epochs


def standard_names(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` with lrsweep's names for the usual losses (``loss`` -> ``train_loss``,
    ``eval_loss`` -> ``val_loss``), every other name kept; an explicit ``train_loss`` or
    ``val_loss`` wins over an alias."""
    out = dict(metrics)
    for target, names in (("train_loss", TRAIN_NAMES), ("val_loss", VAL_NAMES)):
        if target not in out:
            for name in names:
                if name in out:
                    out[target] = out[name]
                    break
    return out


def reported_keys(keys: Iterable[str]) -> str:
    """``train_loss, val_loss`` for a message (what a script did report)."""
    names = list(dict.fromkeys(keys))
    return ", ".join(names) if names else "nothing"
