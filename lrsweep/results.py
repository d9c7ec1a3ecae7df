"""The results dir: a user's data, never lost and never half-written.

Layout (DESIGN.md §5)::

    spec.yaml               the resolved spec, headed by its hash
    journal.jsonl           append-only, fsync'd: planned / done / failed per run_id
    runs.csv                one row per finished run (rebuilt from the journal)
    histories/<run_id>.csv  one row per epoch
    summary.json            the answer
    plots/                  the figures

Every file is written to a temp file in the same folder, fsync'd, then ``os.replace``d. The
journal is the source of truth: a torn last line (a process killed mid-append) is ignored, and
``runs.csv`` can always be rebuilt from it. Only the driver process writes here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep.analysis import summarize
from lrsweep.errors import LockError, LrsweepError, ResultsError, StorageError
from lrsweep.records import (
    FLOAT_COLUMNS,
    HISTORY_COLUMNS,
    INT_COLUMNS,
    EpochLog,
    RunResult,
    RunStatus,
    run_columns,
    run_row,
)
from lrsweep.spec import (
    INCOMPARABLE,
    ROW_DERIVING,
    Spec,
    combo_label,
    describe_changes,
    dump_spec,
    spec_changes,
    spec_from_resolved,
)
from lrsweep.yamlload import load_yaml

TMP_MARK = ".tmp-"
LOCK_NAME = ".lock"
OWNED = (
    "spec.yaml",
    "journal.jsonl",
    "runs.csv",
    "summary.json",
    "rangetest.csv",
    "rangetest.json",
    "report.html",
    "report.md",
    "commands.jsonl",
)
OWNED_DIRS = ("histories", "plots", "specs")


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
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


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
    """A run's history as CSV text (columns ``HISTORY_COLUMNS``)."""
    return csv_text(HISTORY_COLUMNS, (h.__dict__ for h in history))


def read_history(path: Path) -> list[EpochLog]:
    """Read a history CSV back; a clear error for a damaged file."""
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            # histories written before lr_effective existed: it was the lr column then
            old = header is not None and tuple(header) == HISTORY_COLUMNS[:-1]
            if header is None or (tuple(header) != HISTORY_COLUMNS and not old):
                raise ResultsError(f"{path}: expected columns {','.join(HISTORY_COLUMNS)}")
            rows = []
            for line, cells in enumerate(reader, start=2):
                if len(cells) != len(header):
                    raise ResultsError(
                        f"{path}: line {line}: expected {len(header)} fields, got {len(cells)}"
                    )
                if old:
                    cells = [*cells, cells[2]]
                try:
                    rows.append(
                        EpochLog(
                            int(cells[0]), int(cells[1]), *(parse_float(c) for c in cells[2:])
                        )
                    )
                except ValueError:
                    raise ResultsError(f"{path}: line {line}: not a number in {cells!r}") from None
            return rows
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing history file") from None


# --------------------------------------------------------------------------------------------
# Provenance


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def environment() -> dict[str, Any]:
    """What computed the numbers: lrsweep, numpy and Python versions, and the machine."""
    import os
    import platform

    from lrsweep.version import __version__

    return {
        "lrsweep": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


class Clock:
    """A command's wall and CPU time (this process and its finished worker processes)."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.started = time.time()
        self._cpu = self._cpu_now()

    @staticmethod
    def _cpu_now() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def timing(self) -> dict[str, Any]:
        return {
            "started_at": time.strftime(TIME_FORMAT, time.localtime(self.started)),
            "finished_at": time.strftime(TIME_FORMAT),
            "wall_seconds": round(time.time() - self.started, 3),
            "cpu_seconds": round(self._cpu_now() - self._cpu, 3),
        }


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


# --------------------------------------------------------------------------------------------
# The results dir


class ResultsDir:
    """One sweep's folder. Create it with :meth:`create` (run) or :meth:`open` (refine, plot)."""

    def __init__(self, path: Path, spec: Spec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.changes: list[tuple[str, Any, Any]] = []  # what `spec` changes (see `create`)

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, spec: Spec, *, overwrite: bool = False) -> ResultsDir:
        """Start a results dir for ``spec``, or resume it if it holds the same spec.

        Raises
        ------
        ResultsError
            If ``path`` is a file, or holds a different spec and ``overwrite`` is false.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise StorageError(f"{path}: exists and is not a folder")
        saved = path / "spec.yaml"
        changes: list[tuple[str, Any, Any]] = []
        if saved.exists() and _saved_hash(saved) != spec.spec_hash():
            changes = _changes_from(saved, spec)
            incomparable = [c for c in changes if c[0].split(".")[0] in INCOMPARABLE]
            if incomparable and not overwrite:
                raise ResultsError(
                    f"{path}: holds runs on other data ({describe_changes(incomparable)}),"
                    " which cannot be pooled with this spec's; use --overwrite to start over"
                    " or --out to write elsewhere"
                )
        if overwrite and saved.exists():
            cls._clear(path)
            changes = []
        try:
            (path / "histories").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"{path}: cannot create: {e.strerror}") from None
        results = cls(path, spec)
        results.changes = changes
        if not saved.exists():
            write_atomic(saved, dump_spec(spec))
        return results

    def adopt_spec(self) -> list[tuple[str, Any, Any]]:
        """Make this dir's spec the saved one (with the lock held): the study grows.

        The earlier ``spec.yaml`` is kept as ``specs/<hash>.yaml``; when the change alters what
        a finished run's row says (the objective, the labels), the rows are derived again from
        the histories. Returns the changes (``[]`` when the spec is the saved one).
        """
        saved = self.path / "spec.yaml"
        old_hash = _saved_hash(saved) if saved.exists() else ""
        if not old_hash or old_hash == self.spec.spec_hash():
            return []
        changes = _changes_from(saved, self.spec)
        (self.path / "specs").mkdir(exist_ok=True)
        archived = self.path / "specs" / f"{old_hash}.yaml"
        if not archived.exists():
            write_atomic(archived, saved.read_bytes())
        self._tag_untagged_plans(old_hash)
        write_atomic(saved, dump_spec(self.spec))
        if any(key.startswith(ROW_DERIVING) for key, _, _ in changes):
            self.rederive_rows()
        return changes

    def _tag_untagged_plans(self, old_hash: str) -> None:
        """Journals written before plans named their spec: those plans were the old spec's."""
        if any(r["event"] == "planned" and "spec" not in r for r in self.read_journal()):
            self.append_journal([{"event": "spec_changed", "untagged_plans": old_hash}])

    def rederive_rows(self) -> None:
        """Journal every finished run's row again, derived from its history under this spec."""
        records = []
        for run_id, done in self.finished().items():
            history = self.read_history(run_id)
            result = RunResult(
                run_id,
                RunStatus(done["status"]),
                history,
                float(done.get("seconds") or 0.0),
                int(done.get("epochs_done") or 0),
                str(done.get("message") or ""),
            )
            planned = {k: done.get(k) for k in ("round", "budget", "lr", "seed", "combo")}
            planned["axes"] = done.get("axes") or {}
            records.append({"event": "done", **_row(planned, result, self.spec)})
        self.append_journal(records)

    @classmethod
    def open(cls, path: Path) -> ResultsDir:
        """Open an existing results dir read-write, rebuilding its spec from ``spec.yaml``."""
        path = Path(path)
        saved = path / "spec.yaml"
        if not path.is_dir():
            raise ResultsError(f"{path}: no such results folder")
        if not saved.exists():
            raise ResultsError(f"{path}: not a results folder (no spec.yaml)")
        document, _ = load_yaml(saved)
        spec = spec_from_resolved(document, base_dir=str(path), file=str(saved))
        if _saved_hash(saved) != spec.spec_hash():
            raise ResultsError(
                f"{saved}: written by another version of lrsweep or edited by hand (hash"
                f" {_saved_hash(saved)}, expected {spec.spec_hash()}); re-run the sweep"
            )
        return cls(path, spec)

    @staticmethod
    def _clear(path: Path) -> None:
        for name in OWNED:
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
        for name in OWNED_DIRS:
            shutil.rmtree(path / name, ignore_errors=True)

    # -- lock ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, on_warning: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the dir's lock (pid and host); a lock left by a dead process is taken over,
        with a warning through ``on_warning``."""
        lock = self.path / LOCK_NAME
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        self.took_over_lock: dict[str, Any] | None = None
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(lock)
                if holder and _alive(holder):
                    raise LockError(
                        f"{self.path}: in use by process {holder['pid']} on {holder['host']}"
                        f" (lock file {lock}); wait for it or stop it"
                    ) from None
                self.took_over_lock = holder or {}
                if on_warning is not None:
                    who = (
                        f"process {holder['pid']} on {holder.get('host', '?')}"
                        if holder
                        else "an unreadable lock file"
                    )
                    on_warning(f"{self.path}: took over the lock left by {who}, no longer running")
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            break
        else:
            raise LockError(f"{self.path}: cannot take the lock {lock}")
        try:
            self.clean_temp()
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                if _read_lock(lock) == me:
                    lock.unlink()

    def clean_temp(self) -> list[Path]:
        """Remove temp files left by a killed writer; return what was removed."""
        removed = []
        for folder in (self.path, self.path / "histories", self.path / "plots"):
            if folder.is_dir():
                for p in folder.iterdir():
                    if TMP_MARK in p.name:
                        with contextlib.suppress(OSError):
                            p.unlink()
                            removed.append(p)
        return removed

    # -- journal -------------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path:
        return self.path / "journal.jsonl"

    def append_journal(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records as JSON lines and fsync; a torn line from a crash is ignored later."""
        text = "".join(json.dumps(to_json_safe(r), sort_keys=True) + "\n" for r in records)
        if not text:
            return
        path = self.journal_path
        if path.exists() and path.stat().st_size > 0:
            with open(path, "rb") as f:  # a torn last line gets its newline before we append
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    text = "\n" + text
        with open(path, "a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def read_journal(self) -> list[dict[str, Any]]:
        """Every complete record, in order; torn or garbled lines are skipped."""
        if not self.journal_path.exists():
            return []
        records = []
        with open(self.journal_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # torn last line
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "event" in record and "run_id" in record:
                    records.append(record)
        return records

    def finished(self) -> dict[str, dict[str, Any]]:
        """The last ``done`` record of every run whose history file exists (ok or diverged)."""
        done: dict[str, dict[str, Any]] = {}
        for record in self.read_journal():
            if record["event"] == "done":
                done[record["run_id"]] = record
            elif record["event"] == "failed":
                done.pop(record["run_id"], None)
        return {run_id: r for run_id, r in done.items() if self.history_path(run_id).exists()}

    def planned(self, spec_hash: str | None = None) -> dict[str, dict[str, Any]]:
        """Every run planned here, by run_id (its round, lr, seed, budget): the first plan of
        each, by the spec of hash ``spec_hash`` only when given (a study keeps the runs of
        every spec it has seen; the answer reads the current spec's)."""
        records = self.read_journal()
        untagged = {r.get("untagged_plans") for r in records if r["event"] == "spec_changed"}
        plans: dict[str, dict[str, Any]] = {}
        for r in records:
            if r["event"] != "planned":
                continue
            owner = r.get("spec") or (next(iter(untagged)) if untagged else spec_hash)
            if spec_hash is None or owner == spec_hash:
                plans.setdefault(r["run_id"], r)
        return plans

    # -- per-run files -------------------------------------------------------------------------

    def history_path(self, run_id: str) -> Path:
        return self.path / "histories" / f"{run_id}.csv"

    def write_history(self, result: RunResult) -> None:
        write_atomic(self.history_path(result.run_id), history_text(result.history))

    def read_history(self, run_id: str) -> list[EpochLog]:
        return read_history(self.history_path(run_id))

    def write_runs(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        write_atomic(self.path / "runs.csv", csv_text(columns, rows))

    def write_range_test(self, curves: Iterable[Any]) -> None:
        """``rangetest.csv`` from the range test's curves (`range_test_rows`)."""
        write_atomic(
            self.path / "rangetest.csv", csv_text(RANGE_TEST_COLUMNS, range_test_rows(curves))
        )

    def read_range_test(self) -> dict[int, dict[str, list[float]]]:
        return read_range_test(self.path / "rangetest.csv")

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        text = json.dumps(to_json_safe(data), indent=2, allow_nan=False) + "\n"
        write_atomic(self.path / name, text)

    def read_json(self, name: str) -> dict[str, Any]:
        path = self.path / name
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise ResultsError(f"{path}: missing") from None
        except (json.JSONDecodeError, ValueError) as e:
            raise ResultsError(f"{path}: not valid JSON: {e}") from None

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        text = json.dumps(to_json_safe(summary), indent=2, allow_nan=False) + "\n"
        write_atomic(self.path / "summary.json", text)

    def read_summary(self) -> dict[str, Any]:
        """The answer: ``summary.json`` when it covers every planned run of the current spec,
        else one computed from the journal now, marked ``partial`` (an interrupted or running
        sweep). No finished run at all is a `ResultsError`."""
        saved = self.saved_summary()
        rows = all_rows(self)
        planned = len(self.planned(self.spec.spec_hash()))
        if saved is not None and saved.get("spec_hash") == self.spec.spec_hash():
            counted = sum(int(n) for n in saved["status_counts"].values())
            if counted == len(rows) and len(rows) >= planned:
                return saved
        if not rows:
            raise ResultsError(
                f"{self.path}: no finished run yet (0 of {planned} planned); wait for the"
                " sweep, or run it"
            )
        summary = build_summary(self, rows, (saved or {}).get("notes", []))
        summary["partial"] = {"runs_done": len(rows), "runs_planned": max(planned, len(rows))}
        return summary

    def saved_summary(self) -> dict[str, Any] | None:
        """``summary.json`` as written by the last command, or None when there is none."""
        path = self.path / "summary.json"
        try:
            summary = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, ValueError) as e:
            raise ResultsError(f"{path}: not valid JSON: {e}") from None
        needed = ("objective", "status_counts", "best", "table", "combos", "name")
        if not isinstance(summary, dict) or any(k not in summary for k in needed):
            raise ResultsError(
                f"{path}: not an lrsweep summary (written by another version or edited by hand);"
                " run 'lrsweep refine' or 'lrsweep run' again to rewrite it"
            )
        return summary

    def log_command(self, entry: Mapping[str, Any]) -> None:
        """Append what a command did, and when, to ``commands.jsonl`` (fsync'd)."""
        line = json.dumps(to_json_safe(entry), allow_nan=False) + "\n"
        with open(self.path / "commands.jsonl", "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def build_summary(
    results: ResultsDir, rows: Sequence[Mapping[str, Any]], notes: Sequence[str] = ()
) -> dict[str, Any]:
    """The answer of ``rows`` under the results dir's spec (``summary.json``, less timing)."""
    spec = results.spec
    combos = spec.combos
    return {
        "name": spec.name,
        "spec_hash": spec.spec_hash(),
        "results_dir": str(results.path),
        **summarize(
            rows,
            spec.train.objective,
            combos=combos,
            labels=[combo_label(c) for c in combos],
            tolerance=spec.analysis.band_tolerance,
        ),
        "rounds": max((int(r["round"]) for r in rows), default=0),
        "notes": list(notes),
        # what the runs' own clocks add up to: members of a lockstep group each count the
        # group's time, so this exceeds the wall time; kept for comparing runs, not sweeps
        "run_seconds_sum": float(sum(r["seconds"] for r in rows if r["seconds"] == r["seconds"])),
    }


# --------------------------------------------------------------------------------------------
# Rows: a finished run into the journal, and ``runs.csv`` rebuilt from the journal


def axes_of(combo: tuple[tuple[str, Any], ...]) -> dict[str, str]:
    """A combination's axis values as ``runs.csv`` cells."""
    return {key: combo_label(((key, value),)).split("=", 1)[1] for key, value in combo}


def record(results: ResultsDir, run: Any, result: RunResult, spec: Spec) -> dict[str, Any]:
    """Write a finished run's history, then journal it (the journal line makes it count)."""
    planned = {
        "round": run.round,
        "budget": run.budget,
        "lr": run.lr,
        "seed": run.seed,
        "combo": combo_label(run.combo),
        "axes": axes_of(run.combo),
    }
    row = _row(planned, result, spec)
    if result.status is RunStatus.FAILED:
        results.append_journal([{"event": "failed", **row}])
    else:
        results.write_history(result)
        results.append_journal([{"event": "done", **row}])
    return row


def _row(planned: Mapping[str, Any], result: RunResult, spec: Spec) -> dict[str, Any]:
    """A run's ``runs.csv`` row under ``spec``'s objective and labelling settings."""
    a = spec.analysis
    labels = {
        "window": a.label_window,
        "oscillation": a.oscillation_threshold,
        "plateau": a.plateau_threshold,
    }
    return run_row(planned, result, spec.train.objective, labels)


def all_rows(results: ResultsDir) -> list[dict[str, Any]]:
    """The latest row (done or failed) of every run the current spec planned, sorted by
    round, LR and seed."""
    planned = results.planned(results.spec.spec_hash())
    state: dict[str, dict[str, Any]] = {}
    for r in results.read_journal():
        if r["event"] in ("done", "failed"):
            state[r["run_id"]] = r
    finished = results.finished()
    rows = []
    for run_id, r in state.items():
        if run_id not in planned:
            continue  # a run of an earlier spec of this study, not of this one
        if r["event"] == "done" and run_id not in finished:
            continue  # history file lost: the run will be trained again
        plan = planned[run_id]  # where the current spec puts the run (round, combination)
        row = {c: r.get(c, "") for c in run_columns(results.spec.axes)}
        row.update({c: "" for c in results.spec.axes})
        row.update(plan.get("axes") or r.get("axes") or {})
        row["combo"] = plan.get("combo", r.get("combo", "all"))
        row["round"] = plan.get("round", r.get("round", 0))
        for c in FLOAT_COLUMNS:
            row[c] = float("nan") if row[c] is None or row[c] == "" else float(row[c])
        rows.append(row)
    order = {combo_label(c): i for i, c in enumerate(results.spec.combos)}
    rows.sort(
        key=lambda x: (x["round"], order.get(x["combo"], 0), x["lr"], x["seed"], x["run_id"])
    )
    return rows


def write_runs(results: ResultsDir) -> list[dict[str, Any]]:
    """Rebuild ``runs.csv`` from the journal; return its rows."""
    rows = all_rows(results)
    results.write_runs(rows, run_columns(results.spec.axes))
    return rows


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


def _changes_from(saved: Path, spec: Spec) -> list[tuple[str, Any, Any]]:
    """What ``spec`` changes against the resolved spec saved at ``saved``."""
    try:
        document, _ = load_yaml(saved)
    except LrsweepError as e:
        raise ResultsError(f"{saved}: unreadable ({e}); use --overwrite to start over") from None
    return spec_changes(document, spec.resolved())


def _saved_hash(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    marker = "hash: "
    return first.split(marker, 1)[1].strip() if marker in first else ""


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and "pid" in holder else None


def _alive(holder: Mapping[str, Any]) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell for another host: assume alive
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True
