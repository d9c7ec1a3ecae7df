"""Never mix, never cut (issue 28): a results folder's answer comes from one dataset and from
what its journal holds, and a damaged folder says what is wrong instead of guessing.

Each test drives the command line and the files only, so it runs against any version.
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
from click.testing import CliRunner

from lrsweep.cli import cli

TABLE_SPEC = """\
name: mix
data: {{path: {path}, target: y}}
model: {{hidden: [8]}}
optimizer: {{name: sgd, momentum: 0.9}}
train: {{epochs: 3, batch_size: 16, seeds: 2}}
grid: {{lr_min: 1e-3, lr_max: 1, points_per_decade: 1}}
refine: {{rounds: {rounds}, points_per_decade: 4}}
"""


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_table(path, seed=0, n=160):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=n) > 0).astype(int)
    rows = ["a,b,c,y"] + [f"{a:.6f},{b:.6f},{c:.6f},{t}" for (a, b, c), t in zip(X, y)]
    path.write_text("\n".join(rows) + "\n")


def setup(tmp_path, rounds=0):
    table = tmp_path / "t.csv"
    write_table(table)
    spec = tmp_path / "spec.yaml"
    spec.write_text(TABLE_SPEC.format(path=table, rounds=rounds))
    return table, spec, tmp_path / "r"


def test_a_data_file_edited_in_place_is_refused_not_reused(tmp_path):
    table, spec, out = setup(tmp_path)
    assert invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots").exit_code == 0
    journal = (out / "journal.jsonl").read_bytes()
    lines = table.read_text().splitlines()
    flipped = [lines[0]] + [f"{r.rsplit(',', 1)[0]},{1 - int(r[-1])}" for r in lines[1:]]
    table.write_text("\n".join(flipped) + "\n")  # the same path, the target flipped
    for command in (["run", spec, "--out", out, "--jobs", 1], ["refine", out, "--jobs", 1],
                    ["find", spec, "--out", out]):  # fmt: skip
        result = invoke(*command, "--no-plots")
        assert result.exit_code == 2, (command, result.output)
        error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(error) == 1 and "Traceback" not in result.stderr
        assert table.name in error[0] and "changed" in error[0]
        assert "--overwrite" in error[0] and "--out" in error[0]
    assert (out / "journal.jsonl").read_bytes() == journal  # nothing trained, nothing mixed
    again = invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots", "--overwrite")
    assert again.exit_code == 0, again.output


def test_the_same_contents_touched_or_copied_are_the_same_data(tmp_path):
    table, spec, out = setup(tmp_path)
    assert invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots").exit_code == 0
    journal = (out / "journal.jsonl").read_text()
    copy = tmp_path / "copy.csv"
    shutil.copy(table, copy)
    os.replace(copy, table)  # another inode, another mtime, the same bytes
    os.utime(table, (1, 1))
    result = invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots")
    assert result.exit_code == 0, result.output
    added = (out / "journal.jsonl").read_text()[len(journal) :]
    assert '"event": "done"' not in added  # every run reused


def test_show_and_report_on_a_cut_journal_say_only_what_the_journal_holds(tmp_path):
    _, spec, out = setup(tmp_path, rounds=1)
    assert invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots").exit_code == 0
    journal = out / "journal.jsonl"
    lines = journal.read_text().splitlines(True)
    first_refine = next(i for i, line in enumerate(lines) if '"round": 1' in line)
    journal.write_text("".join(lines[:first_refine]))  # round 1 is gone from the journal
    shown = invoke("show", out)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "round 1" not in text  # no decision of a round the journal does not have
    assert "rebuilt from the journal" in text
    assert invoke("report", out).exit_code == 0
    page = (out / "report.html").read_text()
    assert "round 1:" not in page and "rebuilt from the journal" in page


def test_a_deleted_history_is_said_so_and_refine_recreates_the_folder(tmp_path):
    _, spec, out = setup(tmp_path)
    assert invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots").exit_code == 0
    first = sorted((out / "histories").iterdir())[0]
    first.unlink()
    shown = invoke("show", out)
    assert shown.exit_code == 0
    text = " ".join(shown.stdout.split())
    assert "missing or damaged history" in text and "still running" not in text
    shutil.rmtree(out / "histories")
    result = invoke("refine", out, "--jobs", 1, "--no-plots")
    assert result.exit_code == 0, result.output
    assert len(list((out / "histories").iterdir())) >= 10  # trained again, written again


def test_garbage_lines_in_the_journal_are_counted_not_skipped_silently(tmp_path):
    _, spec, out = setup(tmp_path)
    assert invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots").exit_code == 0
    journal = out / "journal.jsonl"
    lines = journal.read_text().splitlines(True)
    lines[3:3] = ["this is not json\n", '{"a": 1}\n']
    journal.write_text("".join(lines))
    shown = invoke("show", out)
    assert shown.exit_code == 0 and "2 unreadable lines skipped" in shown.stdout
    again = invoke("run", spec, "--out", out, "--jobs", 1, "--no-plots")
    assert again.exit_code == 0 and "2 lines are not journal records" in again.stderr


def _collapsing_rows(collapse: bool) -> list[dict]:
    """A U with its minimum at 10**-1.8 (between grid points 0.01 and 0.0316); with
    ``collapse`` the runs from 0.0316 up end at the constant prediction's training loss."""
    out = []
    for lr in [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1]:
        x = math.log10(lr)
        for s in range(3):
            out.append({
                "lr": lr, "seed": s, "status": "ok", "budget": "full", "round": 0,
                "objective": 0.3 + 0.1 * (x + 1.8) ** 2 + 0.002 * s,
                "final_train_loss": 1.0 if collapse and lr > 0.02 else 0.2,
                "initial_objective": 1.5, "label": "ok", "epochs_done": 10,
            })  # fmt: skip
    return out


def test_the_answer_is_never_above_the_largest_stable_lr_without_saying_so():
    from lrsweep.analysis import curve_summary
    from lrsweep.facts import answer_block

    free = curve_summary(_collapsing_rows(False), "final_val_loss", 0.05, constant_loss=1.0)
    assert free["answer"]["lr"] > 0.01 and free["answer"]["held_at"] is None
    held = curve_summary(_collapsing_rows(True), "final_val_loss", 0.05, constant_loss=1.0)
    assert held["largest_stable_lr"] == 0.01
    assert held["answer"]["lr"] <= held["largest_stable_lr"]
    assert held["answer"]["held_at"] == 0.01
    warnings = [v for k, v in answer_block(held, "final_val_loss") if k == "Warning"]
    assert any("largest stable LR" in w for w in warnings)
