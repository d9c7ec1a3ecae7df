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
import errno
import io
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep.analysis import summarize
from lrsweep.errors import LockError, LrsweepError, ResultsError, StorageError, shorten
from lrsweep.plan import run_id_for
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
    apply_combo,
    combo_label,
    describe_changes,
    dump_spec,
    spec_changes,
    spec_from_resolved,
    stable_hash,
)
from lrsweep.yamlload import load_yaml

TMP_MARK = ".tmp-"
LOCK_NAME = ".lock"
MARKER_NAME = ".lrsweep"  # written into every folder lrsweep makes: only those may be cleared
SPEC_HEADER = "# lrsweep resolved spec; hash: "  # the first line of a spec.yaml lrsweep wrote
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
HISTORY_FILE = re.compile(r"[0-9a-f]{6,64}\.csv")  # histories/<run_id>.csv
PLOT_FILE = re.compile(r"(u_curve|loss_vs_epoch|rangetest|heatmap_\w+)\.(png|svg)")
SPEC_FILE = re.compile(r"[0-9a-f]{6,64}\.yaml")  # specs/<hash>.yaml: a study's earlier specs


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
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise storage_error(path, e) from None
        raise
    _fsync_dir(path.parent)


def storage_error(path: Path, e: OSError) -> StorageError:
    """A failed write as one line naming the file (a full disk, permissions, a read-only fs)."""
    return StorageError(f"{path}: cannot write: {e.strerror or e}")


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

    def __init__(self, path: Path, spec: Spec, spec_id: str | None = None) -> None:
        self.path = Path(path)
        self.spec = spec
        # The hash in spec.yaml's header: the study's name for this spec, which its plans
        # carry. A newer lrsweep may fill in defaults the file predates (another
        # `spec_hash()`) without changing the spec, so the id is read, not recomputed.
        self.spec_id = spec_id or spec.spec_hash()
        self.changes: list[tuple[str, Any, Any]] = []  # what `spec` changes (see `create`)
        self.on_warning: Callable[[str], None] | None = None  # hears of damaged histories
        self._checked: dict[tuple[str, int, int], bool] = {}  # history files read back whole

    # -- opening (call these with the folder's lock held: `hold_lock`) -----------------------

    @classmethod
    def create(cls, path: Path, spec: Spec, *, overwrite: bool = False) -> ResultsDir:
        """Start a results dir for ``spec``, or resume it if it holds the same spec.

        Call it with the folder's lock held (`hold_lock`), so that nothing is checked,
        cleared or written while another command works in the folder. ``overwrite`` clears
        only a folder lrsweep made (its ``.lrsweep`` marker) and only lrsweep's files in it.

        Raises
        ------
        ResultsError
            If ``path`` holds a different spec and ``overwrite`` is false, holds files lrsweep
            did not write, or is damaged so that its runs cannot be trusted.
        StorageError
            If ``path`` is a file or cannot be written.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise StorageError(f"{path}: exists and is not a folder")
        saved = path / "spec.yaml"
        problem = _foreign_files(path)
        if problem:
            raise ResultsError(
                f"{path}: {problem}; lrsweep neither uses nor clears such a folder: choose"
                " another --out"
            )
        changes: list[tuple[str, Any, Any]] = []
        if overwrite:
            cls._clear(path)
        elif saved.exists():
            cls._check_saved_spec(saved, path)
            if _saved_hash(saved) != spec.spec_hash():
                changes = _changes_from(saved, spec, path)
                incomparable = [c for c in changes if c[0].split(".")[0] in INCOMPARABLE]
                if incomparable:
                    raise ResultsError(
                        f"{path}: holds runs on other data ({describe_changes(incomparable)}),"
                        " which cannot be pooled with this spec's; use --overwrite to start"
                        " over or --out to write elsewhere"
                    )
        elif (path / "journal.jsonl").exists():
            raise ResultsError(
                f"{path}: has journal.jsonl but no spec.yaml (deleted?), so its runs cannot be"
                " matched to a spec; restore spec.yaml, use --overwrite to start again, or"
                " --out to write elsewhere"
            )
        try:
            (path / "histories").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"{path}: cannot create: {e.strerror}") from None
        same = saved.exists() and not changes  # the saved spec, maybe from an older lrsweep
        results = cls(path, spec, _saved_hash(saved) if same else None)
        results.changes = changes
        if not (path / MARKER_NAME).exists():
            write_atomic(path / MARKER_NAME, json.dumps({"made_by": "lrsweep"}) + "\n")
        if not saved.exists():
            write_atomic(saved, dump_spec(spec))
            record = {"event": "spec", "run_id": "", "spec_hash": spec.spec_hash()}
            results.append_journal([record])
        results.check_journal()
        return results

    def adopt_spec(self) -> list[tuple[str, Any, Any]]:
        """Make this dir's spec the saved one (with the lock held): the study grows.

        The earlier ``spec.yaml`` is kept as ``specs/<hash>.yaml``; when the change alters what
        a finished run's row says (the objective, the labels), the rows are derived again from
        the histories. Returns the changes (``[]`` when the spec is the saved one).
        """
        saved = self.path / "spec.yaml"
        old_hash = _saved_hash(saved) if saved.exists() else ""
        if not old_hash or not self.changes:
            return []
        changes = self.changes
        (self.path / "specs").mkdir(exist_ok=True)
        archived = self.path / "specs" / f"{old_hash}.yaml"
        if not archived.exists():
            write_atomic(archived, saved.read_bytes())
        write_atomic(saved, dump_spec(self.spec))
        self.spec_id = self.spec.spec_hash()
        if any(key.startswith(ROW_DERIVING) for key, _, _ in changes):
            self.rederive_rows()
        return changes

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
        """Open an existing results dir, rebuilding its spec from ``spec.yaml``; refuse a
        folder whose spec and journal disagree."""
        path = Path(path)
        saved = path / "spec.yaml"
        if not path.is_dir():
            raise ResultsError(f"{path}: no such results folder")
        if not saved.exists():
            what = (
                "journal.jsonl but no spec.yaml"
                if (path / "journal.jsonl").exists()
                else ("no spec.yaml")
            )
            raise ResultsError(f"{path}: not a usable results folder ({what})")
        results = cls(path, *cls._check_saved_spec(saved, path))
        results.check_journal()
        return results

    @staticmethod
    def _check_saved_spec(saved: Path, path: Path) -> tuple[Spec, str]:
        """The spec in ``spec.yaml`` and its header's id, after checking that its content
        still gives that id (this lrsweep's hash of it, or the hash of the document as an
        older lrsweep wrote it)."""
        header = _saved_hash(saved)
        if not header:
            raise ResultsError(f"{saved}: not a spec lrsweep wrote (no hash line)")
        document, _ = load_yaml(saved)
        spec = spec_from_resolved(document, base_dir=str(path), file=str(saved))
        if header not in (stable_hash(document), spec.spec_hash()):
            raise ResultsError(
                f"{saved}: edited by hand (its header says hash {header}, its content hashes"
                f" to {stable_hash(document)}); re-run the sweep"
            )
        return spec, header

    def check_journal(self) -> None:
        """Refuse a journal whose runs were planned by a spec this folder does not hold: not
        ``spec.yaml``'s, not one of the study's earlier ``specs/<hash>.yaml`` (a spec.yaml
        replaced or deleted by hand, a journal copied in)."""
        saved = _saved_hash(self.path / "spec.yaml")
        known = {self.spec.spec_hash(), self.spec_id, saved}
        specs = self.path / "specs"
        if specs.is_dir():
            known |= {p.stem for p in specs.iterdir() if SPEC_FILE.fullmatch(p.name)}
        for record in self.read_journal():
            owner = record.get("spec_hash") if record["event"] == "spec" else None
            if record["event"] == "planned":
                owner = record.get("spec")
            if owner is not None and owner not in known:
                raise ResultsError(
                    f"{self.journal_path}: written for spec hash {shorten(owner, 20)}, but"
                    f" spec.yaml has hash {saved or '(none)'} and specs/ does not hold it; the"
                    " folder mixes two specs: use --overwrite or another --out"
                )

    @staticmethod
    def _clear(path: Path) -> None:
        """Remove lrsweep's files from a folder lrsweep made; anything else stays."""
        if not path.is_dir():
            return
        for name in OWNED:
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
        for name, pattern in (
            ("histories", HISTORY_FILE),
            ("plots", PLOT_FILE),
            ("specs", SPEC_FILE),
        ):
            folder = path / name
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if pattern.fullmatch(p.name) or TMP_MARK in p.name:
                    with contextlib.suppress(OSError):
                        p.unlink()
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when nothing of the user's is left in it

    # -- lock ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, on_warning: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the dir's lock (`hold_lock`) and remove temp files left by a killed writer."""
        with hold_lock(self.path, on_warning):
            self.clean_temp()
            yield

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
        try:
            if path.exists() and path.stat().st_size > 0:
                with open(path, "rb") as f:  # a torn last line gets its newline first
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        text = "\n" + text
            with open(path, "a") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise storage_error(path, e) from None

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
        """The last ``done`` record of every run whose history file is whole (ok or diverged).

        A run whose history is missing, empty, cut or garbled is not finished: it is trained
        again, and ``on_warning`` (when set) hears of the damaged file once.
        """
        done: dict[str, dict[str, Any]] = {}
        for record in self.read_journal():
            if record["event"] == "done":
                done[record["run_id"]] = record
            elif record["event"] == "failed":
                done.pop(record["run_id"], None)
        return {run_id: r for run_id, r in done.items() if self.history_whole(run_id, r)}

    def history_whole(self, run_id: str, record: Mapping[str, Any]) -> bool:
        """Whether ``run_id``'s history file reads back whole: its columns, a row per epoch up
        to the journal's ``epochs_done`` (one more for a run that diverged mid-epoch)."""
        path = self.history_path(run_id)
        try:
            stat = path.stat()
        except OSError:
            return False
        key = (run_id, stat.st_mtime_ns, stat.st_size)
        checked = self._checked
        if key not in checked:
            reason = ""
            try:
                history = read_history(path)
                epochs = int(record.get("epochs_done", -1))
                if not history or history[0].epoch != 0:
                    reason = "no epoch 0"
                elif epochs >= 0 and history[-1].epoch not in (epochs, epochs + 1):
                    reason = f"ends at epoch {history[-1].epoch}, the journal says {epochs}"
            except (ResultsError, OSError, ValueError, TypeError) as e:
                reason = str(e).removeprefix(f"{path}: ")
            checked[key] = not reason
            if reason and self.on_warning is not None:
                self.on_warning(f"{path}: damaged ({reason}); the run will be trained again")
        return checked[key]

    def planned(self, spec_hash: str | None = None) -> dict[str, dict[str, Any]]:
        """Runs planned here, by run_id (round, lr, seed, budget, combination): every run ever
        planned, or with ``spec_hash`` the runs of the current spec (`ResultsDir.spec`) only.

        A study keeps the runs of every spec it has seen; the answer reads the current spec's:
        a plan counts when the current spec gives its (combination, LR, seed, budget) the same
        run id (a run of another setting, or of an lrsweep that computed otherwise, does not)
        and it was planned under ``spec_hash`` (or before plans named their spec). Where the
        spec planned a run more than once, its first plan under ``spec_hash`` gives the round.
        """
        records = [r for r in self.read_journal() if r["event"] == "planned"]
        if spec_hash is None:
            plans: dict[str, dict[str, Any]] = {}
            for r in records:
                plans.setdefault(r["run_id"], r)
            return plans
        combos = {combo_label(c): c for c in self.spec.combos}
        settings: dict[str, Spec] = {}
        current: dict[str, dict[str, Any]] = {}
        for r in records:
            if r.get("spec", spec_hash) != spec_hash or r["run_id"] in current:
                continue
            label = str(r.get("combo", "all"))
            if label not in combos:
                continue
            if label not in settings:
                combo = combos[label]
                settings[label] = apply_combo(self.spec, combo) if combo else self.spec
            try:
                expected = run_id_for(
                    settings[label], float(r["lr"]), int(r["seed"]), int(r["epochs"]),
                    float(r["subsample"]),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue  # a plan record too damaged to place
            if expected == r["run_id"]:
                current[r["run_id"]] = r
        return current

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
        planned = len(self.planned(self.spec_id))
        if saved is not None and saved.get("spec_hash") == self.spec_id:
            counted = sum(int(n) for n in saved["status_counts"].values())
            if counted == len(rows) and len(rows) >= planned:
                return saved
        if not rows:
            raise ResultsError(f"{self.path}: {self.why_empty(planned)}")
        known = ((saved or {}).get("data") or {}).get("constant_train_loss")
        constant = float(known) if isinstance(known, (int, float)) else math.nan
        summary = build_summary(self, rows, (saved or {}).get("notes", []), constant)
        summary["partial"] = {"runs_done": len(rows), "runs_planned": max(planned, len(rows))}
        return summary

    def why_empty(self, planned: int) -> str:
        """Why the current spec has no finished run here, for a one-line message."""
        others = len(self.finished())
        if others and not planned:
            return (
                f"its {others} finished runs were trained by another version of lrsweep or"
                " under settings this spec does not plan; run the spec again into this folder"
                " to train its runs (the old ones are kept)"
            )
        return f"no finished run yet (0 of {planned} planned); wait for the sweep, or run it"

    def saved_summary(self) -> dict[str, Any] | None:
        """``summary.json`` as written by the last command, or None when there is none."""
        path = self.path / "summary.json"
        try:
            summary = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, ValueError) as e:
            raise ResultsError(f"{path}: not valid JSON: {e}") from None
        problem = summary_problem(summary)
        if problem:
            raise ResultsError(
                f"{path}: not an lrsweep summary ({problem}; written by another version or"
                " edited by hand); run 'lrsweep refine' or 'lrsweep run' again to rewrite it"
            )
        return dict(summary)

    def log_command(self, entry: Mapping[str, Any]) -> None:
        """Append what a command did, and when, to ``commands.jsonl`` (fsync'd)."""
        line = json.dumps(to_json_safe(entry), allow_nan=False) + "\n"
        path = self.path / "commands.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise storage_error(path, e) from None


_NUMBER = (int, float)
_MAYBE_NUMBER = (int, float, type(None))
_CURVE_FIELDS: dict[str, tuple[type, ...]] = {
    "best": (dict, type(None)),
    "table": (list,),
    "interpolated_lr": _MAYBE_NUMBER,
    "largest_stable_lr": _MAYBE_NUMBER,
    "sensitivity": _MAYBE_NUMBER,
    "good_band": (list, type(None)),
    "good_band_decades": _MAYBE_NUMBER,
}
_BEST_FIELDS = {"lr": _NUMBER, "objective_mean": _MAYBE_NUMBER, "objective_std": _MAYBE_NUMBER,
                "edge": (str, type(None))}  # fmt: skip
_ROW_FIELDS = {"lr": _NUMBER, "mean": _MAYBE_NUMBER, "std": _MAYBE_NUMBER, "n_ok": (int,),
               "n_diverged": (int,), "n_failed": (int,)}  # fmt: skip


def summary_problem(summary: Any) -> str:
    """What is wrong with the shape of a ``summary.json`` ("" when show and report can use
    it): every field they read, with its type."""

    def wrong(where: str, value: Any, kinds: tuple[type, ...]) -> str:
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        return f"{where or 'the top level'} is {shorten(json.dumps(value), 30)}, expected {names}"

    def fields(where: str, obj: Any, spec: Mapping[str, tuple[type, ...]], required: bool) -> str:
        if not isinstance(obj, dict):
            return wrong(where, obj, (dict,))
        for key, kinds in spec.items():
            name = f"{where}.{key}" if where else key
            if key not in obj:
                if required:
                    return f"{name} is missing"
            elif not isinstance(obj[key], kinds) or isinstance(obj[key], bool):
                return wrong(name, obj[key], kinds)
        return ""

    top = {"name": (str,), "objective": (str,), "status_counts": (dict,), "combos": (list,),
           "notes": (list,), "scaling": (dict,), "best_combo": (str, type(None))}  # fmt: skip
    problem = fields("", summary, {k: top[k] for k in top if k not in ("notes", "scaling",
                     "best_combo")}, True) or fields("", summary, top, False)  # fmt: skip
    if problem:
        return problem
    for key, fit in summary.get("scaling", {}).items():
        problem = problem or fields(f"scaling.{key}", fit, {"slope": _MAYBE_NUMBER}, True)
    if problem:
        return problem
    counts = summary["status_counts"]
    for key in ("ok", "diverged", "failed"):
        if not isinstance(counts.get(key), int):
            return wrong(f"status_counts.{key}", counts.get(key), (int,))
    curves = [("", summary)] + [(f"combos.{i}", c) for i, c in enumerate(summary["combos"])]
    for where, curve in curves:
        problem = fields(where, curve, _CURVE_FIELDS, required=not where) or (
            fields(where, curve, {"label": (str,)}, True) if where else ""
        )
        if problem:
            return problem
        dot = f"{where}." if where else ""
        if curve.get("best") is not None:
            problem = fields(f"{dot}best", curve["best"], _BEST_FIELDS, True)
        for i, row in enumerate(curve.get("table") or []):
            problem = problem or fields(f"{dot}table.{i}", row, _ROW_FIELDS, True)
        band = curve.get("good_band")
        if (
            not problem
            and band is not None
            and (len(band) != 2 or not all(isinstance(x, _NUMBER) for x in band))
        ):
            problem = wrong(f"{dot}good_band", band, (list,))
        if problem:
            return problem
    return ""


def build_summary(
    results: ResultsDir,
    rows: Sequence[Mapping[str, Any]],
    notes: Sequence[str] = (),
    constant_loss: float = math.nan,
) -> dict[str, Any]:
    """The answer of ``rows`` under the results dir's spec (``summary.json``, less timing);
    ``constant_loss``: the constant prediction's training loss (the data's
    ``constant_train_loss``), when known."""
    spec = results.spec
    combos = spec.combos
    return {
        "name": spec.name,
        "spec_hash": results.spec_id,
        "results_dir": str(results.path),
        **summarize(
            rows,
            spec.train.objective,
            combos=combos,
            labels=[combo_label(c) for c in combos],
            tolerance=spec.analysis.band_tolerance,
            constant_loss=constant_loss,
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
    planned = results.planned(results.spec_id)
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


def _changes_from(saved: Path, spec: Spec, folder: Path) -> list[tuple[str, Any, Any]]:
    """What ``spec`` changes against the spec saved at ``saved``, both resolved by this
    version of lrsweep (so defaults added since the folder was written are no change)."""
    try:
        document, _ = load_yaml(saved)
        old = spec_from_resolved(document, base_dir=str(folder), file=str(saved))
    except LrsweepError as e:
        raise ResultsError(f"{saved}: unreadable ({e}); use --overwrite to start over") from None
    return spec_changes(old.resolved(), spec.resolved())


def _saved_hash(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    return first[len(SPEC_HEADER) :].strip() if first.startswith(SPEC_HEADER) else ""


# --------------------------------------------------------------------------------------------
# The lock


@contextlib.contextmanager
def hold_lock(
    folder: Path, on_warning: Callable[[str], None] | None = None, *, create: bool = True
) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block: an exclusive ``flock`` on ``.lock``.

    The OS releases the lock when its holder dies, however it dies, so there is no staleness
    to guess; two processes started in the same instant cannot both win. The holder writes
    its pid and host into the file, for the message the loser gets. The file is removed on
    release; a process that locked a file just removed sees that it is gone and tries again.
    ``create`` makes ``folder`` first (a results dir being started).

    Raises
    ------
    LockError
        When another process holds the lock (exit 3).
    """
    import fcntl

    folder = Path(folder)
    if create:
        if folder.exists() and not folder.is_dir():
            raise StorageError(f"{folder}: exists and is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"{folder}: cannot create: {e.strerror}") from None
    elif not folder.is_dir():
        raise ResultsError(f"{folder}: no such results folder")
    lock = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StorageError(f"{lock}: cannot open the lock file: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_lock_fd(fd)
            for _ in range(20):  # a holder of a moment ago may not have written its pid yet
                if holder is not None:
                    break
                time.sleep(0.01)
                holder = _read_lock_fd(fd)
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StorageError(f"{lock}: cannot lock: {e.strerror}") from None
            who = (
                f"process {holder['pid']} on {holder.get('host', '?')}"
                if holder
                else ("another lrsweep process")
            )
            raise LockError(
                f"{folder}: in use by {who} (lock file {lock}); wait for it or stop it"
            ) from None
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            break
        os.close(fd)  # locked a file its last holder had just removed: take the new one
    try:
        previous = _read_lock_fd(fd)
        if previous and on_warning is not None:  # a holder killed before it could remove it
            on_warning(
                f"{folder}: took over the lock left by process {previous['pid']} on"
                f" {previous.get('host', '?')}, no longer running"
            )
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # still holding it: anyone who opened it before sees it gone
        os.close(fd)


def _read_lock_fd(fd: int) -> dict[str, Any] | None:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and "pid" in holder else None


def _foreign_files(path: Path) -> str:
    """Why ``path`` holds files lrsweep must not touch ("" when it may be used).

    A folder lrsweep made has its marker (or, made before markers, a spec.yaml with lrsweep's
    hash line); any other folder may be used only while it holds none of lrsweep's names.
    """
    if not path.is_dir() or (path / MARKER_NAME).exists():
        return ""
    saved = path / "spec.yaml"
    if saved.exists() and _saved_hash(saved):
        return ""  # made by an lrsweep from before the marker
    taken = [n for n in OWNED if (path / n).exists()]
    for name, pattern in (("histories", HISTORY_FILE), ("plots", PLOT_FILE), ("specs", SPEC_FILE)):
        if (path / name).is_dir():
            taken += [f"{name}/{p.name}" for p in (path / name).iterdir()
                      if pattern.fullmatch(p.name)]  # fmt: skip
    if not taken:
        return ""
    more = " ..." if len(taken) > 4 else ""
    return f"holds {', '.join(taken[:4])}{more} that lrsweep did not write"
