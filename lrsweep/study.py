"""The study in a results dir, as the current spec sees it: its runs, its rows, its answer.

A results folder keeps every run any spec of the study ever planned; the current spec counts
a run when it gives the run's (combination, LR, seed, budget) the same run id and planned it
itself (`planned`). `all_rows` are those runs' rows, read from the journal (the source of
truth), and `build_summary` is their answer (`lrsweep.analysis`), which `lrsweep.results`
stores without computing. `read_summary` is what ``show`` and ``report`` print: the stored
``summary.json`` when it still says what the journal says, else the answer rebuilt from the
journal, every line of it (the notes included) from the journal's records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrsweep.analysis import summarize
from lrsweep.errors import ResultsError
from lrsweep.plan import run_id_for
from lrsweep.records import FLOAT_COLUMNS, run_columns
from lrsweep.results import ResultsDir
from lrsweep.spec import Spec, apply_combo, combo_label

SWEEP = "sweep"  # the purpose of a sweep's plans; `lrsweep find`'s check plans "find"


def planned(results: ResultsDir, purpose: str = SWEEP) -> dict[str, dict[str, Any]]:
    """The runs of the current spec (`ResultsDir.spec`), by run_id, with the record of the
    plan that placed each (round, LR, seed, budget, combination).

    A plan counts when it was made under the current spec's hash (or before plans named their
    spec) for ``purpose`` and the current spec gives its (combination, LR, seed, budget) the
    same run id (a run of another setting, or of an lrsweep that computed otherwise, does
    not). Where the spec planned a run more than once, its first plan gives the round.
    """
    spec_hash = results.spec_id
    combos = {combo_label(c): c for c in results.spec.combos}
    settings: dict[str, Spec] = {}
    current: dict[str, dict[str, Any]] = {}
    for r in results.plan_records():
        if r.get("spec", spec_hash) != spec_hash or r["run_id"] in current:
            continue
        if r.get("purpose", SWEEP) != purpose:
            continue
        label = str(r.get("combo", "all"))
        if label not in combos:
            continue
        if label not in settings:
            combo = combos[label]
            settings[label] = apply_combo(results.spec, combo) if combo else results.spec
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


def all_rows(results: ResultsDir, purpose: str = SWEEP) -> list[dict[str, Any]]:
    """The latest row (done or failed) of every run the current spec planned, sorted by
    round, LR and seed."""
    plans = planned(results, purpose)
    state: dict[str, dict[str, Any]] = {}
    for r in results.read_journal():
        if r["event"] in ("done", "failed"):
            state[r["run_id"]] = r
    finished = results.finished()
    rows = []
    for run_id, r in state.items():
        if run_id not in plans:
            continue  # a run of an earlier spec of this study, not of this one
        if r["event"] == "done" and run_id not in finished:
            continue  # history file lost: the run will be trained again
        plan = plans[run_id]  # where the current spec puts the run (round, combination)
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


def completed_rounds(results: ResultsDir) -> int:
    """The highest refine round planned so far (0 when only the coarse grid was planned)."""
    return max((int(r["round"]) for r in planned(results).values()), default=0)


def journal_notes(results: ResultsDir, rounds: int) -> list[str]:
    """The decisions journaled for the current spec's rounds up to ``rounds`` (the last
    command's, in order: a note replanned later replaces the earlier one of its round)."""
    spec_hash = results.spec_id
    records = [r for r in results.read_journal() if r["event"] == "note"]
    mine = [r for r in records if r.get("spec") == spec_hash and int(r.get("round", 0)) <= rounds]
    if not mine:
        return []
    last_command = max(str(r.get("command", "")) for r in mine)
    return [str(r["text"]) for r in mine if str(r.get("command", "")) == last_command]


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
            spec.objective,
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


def read_summary(results: ResultsDir) -> dict[str, Any]:
    """The answer: ``summary.json`` when it says what the journal says (the current spec, the
    same runs and statuses), else one computed from the journal now, with the journal's
    notes, marked ``partial`` when runs are still to train (an interrupted or running sweep)
    and ``stale`` when ``summary.json`` disagrees with the journal. No finished run at all
    is a `ResultsError`."""
    saved = results.saved_summary()
    rows = all_rows(results)
    n_planned = len(planned(results))
    damaged = damage(results)
    if saved is not None and saved.get("spec_hash") == results.spec_id:
        counts: dict[str, int] = {}
        for r in rows:
            counts[str(r["status"])] = counts.get(str(r["status"]), 0) + 1
        stored = {k: int(v) for k, v in saved["status_counts"].items() if int(v)}
        rounds = max((int(r["round"]) for r in rows), default=0)
        if stored == counts and len(rows) >= n_planned and saved.get("rounds", rounds) == rounds:
            return {**saved, "damaged": damaged} if damaged else saved
    if not rows:
        raise ResultsError(f"{results.path}: {why_empty(results, n_planned)}")
    known = ((saved or {}).get("data") or {}).get("constant_train_loss")
    constant = float(known) if isinstance(known, (int, float)) else math.nan
    rounds = max((int(r["round"]) for r in rows), default=0)
    summary = build_summary(results, rows, journal_notes(results, rounds), constant)
    if saved is not None and saved.get("data"):
        summary["data"] = saved["data"]
    if saved is not None:
        summary["stale"] = (
            "summary.json does not match the journal (an interrupted, running or damaged"
            " study); this answer is rebuilt from the journal's runs"
        )
    if damaged:
        summary["damaged"] = damaged
    if len(rows) + damaged.get("histories_missing", 0) < n_planned:  # runs still to train
        summary["partial"] = {"runs_done": len(rows), "runs_planned": n_planned}
    return summary


def damage(results: ResultsDir) -> dict[str, int]:
    """What is wrong in the folder beyond unfinished runs: runs of the current spec that the
    journal says finished but whose history file is missing or damaged (the next run or refine
    trains them again), and journal lines that are not records."""
    last: dict[str, str] = {}
    for r in results.read_journal():
        if r["event"] in ("done", "failed"):
            last[r["run_id"]] = r["event"]
    finished, mine = results.finished(), planned(results)
    missing = sum(e == "done" and k in mine and k not in finished for k, e in last.items())
    found = {"histories_missing": missing, "journal_lines_skipped": results.journal_skipped}
    return {k: v for k, v in found.items() if v}


def why_empty(results: ResultsDir, n_planned: int) -> str:
    """Why the current spec has no finished run here, for a one-line message."""
    others = len(results.finished())
    if others and not n_planned:
        return (
            f"its {others} finished runs were trained by another version of lrsweep or"
            " under settings this spec does not plan; run the spec again into this folder"
            " to train its runs (the old ones are kept)"
        )
    return f"no finished run yet (0 of {n_planned} planned); wait for the sweep, or run it"
