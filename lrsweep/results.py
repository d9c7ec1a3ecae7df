"""The results dir: a user's data, never lost and never half-written.

Layout (DESIGN.md §5)::

    spec.yaml               the resolved spec, headed by its hash
    journal.jsonl           append-only, fsync'd: planned / done / failed per run_id
    runs.csv                one row per finished run (rebuilt from the journal)
    histories/<run_id>.csv  one row per epoch
    summary.json            the answer
    plots/                  the figures

The journal is the source of truth: a torn last line (a process killed mid-append) is ignored,
and ``runs.csv`` can always be rebuilt from it. Only the driver process writes here. This
module stores and reads; it computes no answer: which of the folder's runs the current spec
counts, and the answer they give, are `lrsweep.study`'s. The file formats are `lrsweep.files`'s,
the lock `lrsweep.lock`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrsweep.errors import LrsweepError, ResultsError, StorageError, shorten
from lrsweep.files import (
    RANGE_TEST_COLUMNS,
    TMP_MARK,
    csv_text,
    history_text,
    range_test_rows,
    read_history,
    read_range_test,
    storage_error,
    summary_problem,
    to_json_safe,
    write_atomic,
)
from lrsweep.lock import hold_lock
from lrsweep.records import EpochLog, RunResult, RunStatus, run_row
from lrsweep.spec import (
    INCOMPARABLE,
    ROW_DERIVING,
    Spec,
    combo_label,
    describe_changes,
    dump_spec,
    spec_changes,
    spec_from_resolved,
    stable_hash,
)
from lrsweep.yamlload import load_yaml

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
    "inputs.json",
)
OWNED_DIRS = ("histories", "plots", "specs")
HISTORY_FILE = re.compile(r"[0-9a-f]{6,64}\.csv")  # histories/<run_id>.csv
PLOT_FILE = re.compile(r"(u_curve|loss_vs_epoch|rangetest|heatmap_\w+)\.(png|svg)")
SPEC_FILE = re.compile(r"[0-9a-f]{6,64}\.yaml")  # specs/<hash>.yaml: a study's earlier specs


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
        self.journal_skipped = 0  # lines of journal.jsonl that are not records (last read)
        self._journal_warned = False
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
        """Every complete record, in order. A torn last line (a writer killed mid-append) is
        ignored; other lines that are not a record are skipped and counted in
        ``journal_skipped`` (``on_warning`` hears of them once)."""
        if not self.journal_path.exists():
            return []
        records = []
        skipped = 0
        with open(self.journal_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # torn last line
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = None
                if isinstance(record, dict) and "event" in record and "run_id" in record:
                    records.append(record)
                elif line.strip():
                    skipped += 1
        if skipped and self.on_warning is not None and not self._journal_warned:
            self._journal_warned = True
            self.on_warning(
                f"{self.journal_path}: {skipped} lines are not journal records (garbled or"
                " edited by hand) and were skipped; runs they recorded are trained again"
            )
        self.journal_skipped = skipped
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
                empty_ok = epochs == 0 and record.get("status") in ("timeout", "diverged")
                if not history and not empty_ok:  # a run stopped before it reported is whole
                    reason = "no epoch"
                elif history and epochs >= 0 and history[-1].epoch not in (epochs, epochs + 1):
                    reason = f"ends at epoch {history[-1].epoch}, the journal says {epochs}"
            except (ResultsError, OSError, ValueError, TypeError) as e:
                reason = str(e).removeprefix(f"{path}: ")
            checked[key] = not reason
            if reason and self.on_warning is not None:
                self.on_warning(f"{path}: damaged ({reason}); the run will be trained again")
        return checked[key]

    def planned(self) -> dict[str, dict[str, Any]]:
        """Every run ever planned here, by run_id: its first ``planned`` record (round, lr,
        seed, epochs, subsample, budget, combination, the spec hash it was planned under, and
        its ``purpose``: absent for the sweep's runs, ``"find"`` for the range test's check).
        Which of them the current spec counts is `lrsweep.study.planned`'s question."""
        plans: dict[str, dict[str, Any]] = {}
        for r in self.read_journal():
            if r["event"] == "planned":
                plans.setdefault(r["run_id"], r)
        return plans

    def plan_records(self) -> list[dict[str, Any]]:
        """Every ``planned`` record, in journal order (a run may be planned more than once)."""
        return [r for r in self.read_journal() if r["event"] == "planned"]

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

    def has_range_test(self) -> bool:
        """Whether a finished range test is here: its curves (``rangetest.csv``) and, written
        after them, its suggestions (``rangetest.json``); drawing it needs both."""
        return (self.path / "rangetest.json").exists() and (self.path / "rangetest.csv").exists()

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse to pool runs on other inputs: compare ``inputs`` (what identifies the data, a
        script: `lrsweep.trainer.Trainer.inputs`) with ``inputs.json``, recorded when the
        folder's runs trained; record them when the folder has none yet (or no finished run).

        Raises
        ------
        ResultsError
            Naming what changed, with the two ways out.
        """
        path = self.path / "inputs.json"
        current = to_json_safe(dict(inputs))
        try:
            recorded = json.loads(path.read_text()) if path.exists() else None
        except (OSError, ValueError):
            recorded = None  # damaged: the journal's runs are checked against the new record
        if recorded == current:
            return
        if isinstance(recorded, dict) and self.finished():
            changed = describe_inputs(recorded, current)
            if changed:
                raise ResultsError(
                    f"{shorten(self.path, 60)}: {changed} since its runs were trained; runs on"
                    " other data are never pooled: use --overwrite to start over or --out to"
                    " write elsewhere"
                )
        write_atomic(path, json.dumps(current, indent=2, sort_keys=True) + "\n")

    def ensure_folders(self) -> None:
        """Recreate ``histories/`` when it was deleted (its runs are then trained again)."""
        try:
            (self.path / "histories").mkdir(exist_ok=True)
        except OSError as e:
            raise StorageError(f"{self.path}: cannot create histories/: {e.strerror}") from None

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

    def training_seconds(self) -> float:
        """The wall seconds the commands logged in ``commands.jsonl`` spent, for the current
        spec (what a time budget has used before this command)."""
        path = self.path / "commands.jsonl"
        total = 0.0
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("spec_hash") == self.spec_id:
                    total += float(entry.get("wall_seconds") or 0.0)
        return total

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
    return run_row(planned, result, spec.objective, labels)


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


def describe_inputs(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What differs between two records of a study's inputs, in a few words per input:
    ``data file /x/t.csv changed (42,310 -> 42,309 bytes, sha256 1f0c4e.. -> 9ab3d2..)``.
    "" when they are the same inputs: a file's modification time alone (a ``touch``, a copy)
    is no change; its bytes are."""
    parts = []
    for key in sorted(set(old) | set(new)):
        a, b = _identity(old.get(key)), _identity(new.get(key))
        if a == b or a is None:  # an input the folder did not record (an older lrsweep)
            continue
        if (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and a.get("sha256") != b.get("sha256")
        ):
            where = b.get("path") or a.get("path") or key
            sizes = (
                f"{a['size']:,} -> {b['size']:,} bytes, "
                if (isinstance(a.get("size"), int) and isinstance(b.get("size"), int))
                else ""
            )
            digests = f"sha256 {str(a.get('sha256'))[:8]}.. -> {str(b.get('sha256'))[:8]}.."
            parts.append(f"{key} file {shorten(where, 60)} changed ({sizes}{digests})")
        else:
            parts.append(f"{key} {shorten(json.dumps(a), 60)} -> {shorten(json.dumps(b), 60)}")
    return "; ".join(parts)


def _identity(record: Any) -> Any:
    """A fingerprint without what does not change the data (its modification time)."""
    if isinstance(record, Mapping):
        return {k: v for k, v in record.items() if k != "mtime_ns"}
    return record


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
