"""End to end through the command line: files, columns, exit codes, resume, executors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from lrsweep.cli import cli
from lrsweep.records import HISTORY_COLUMNS, RUN_COLUMNS

from .conftest import no_timing, on_run, read_csv


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_run_writes_every_file(tiny_spec, tmp_path):
    out = tmp_path / "r"
    result = invoke("run", tiny_spec(), "--out", out, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert re.search(r"^Recommended LR +\S", result.stdout, re.M)
    rows = read_csv(out / "runs.csv")
    assert list(rows[0]) == list(RUN_COLUMNS)
    assert len(rows) == 4 and {r["status"] for r in rows} <= {"ok", "diverged"}
    assert [(float(r["lr"]), int(r["seed"])) for r in rows] == [
        (0.01, 0),
        (0.01, 1),
        (0.1, 0),
        (0.1, 1),
    ]
    for r in rows:
        history = read_csv(out / "histories" / f"{r['run_id']}.csv")
        assert list(history[0]) == list(HISTORY_COLUMNS)
        assert [int(h["epoch"]) for h in history] == [0, 1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"]["lr"] in (0.01, 0.1) and summary["status_counts"]["ok"] >= 2
    assert (out / "plots" / "u_curve.png").stat().st_size > 1000
    assert (out / "plots" / "loss_vs_epoch.png").stat().st_size > 1000
    assert (out / "spec.yaml").read_text().startswith("# lrsweep resolved spec; hash: ")
    assert not list(out.rglob("*.tmp-*")) and not (out / ".lock").exists()


def test_jobs_1_and_jobs_2_write_the_same_numbers(tiny_spec, tmp_path):
    spec = tiny_spec(seeds=2, lr_min="1e-3", lr_max="1")
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("run", spec, "--out", a, "--jobs", "1", "--no-plots").exit_code == 0
    assert invoke("run", spec, "--out", b, "--jobs", "2", "--no-plots").exit_code == 0
    assert no_timing(read_csv(a / "runs.csv")) == no_timing(read_csv(b / "runs.csv"))
    for path in (a / "histories").iterdir():
        assert path.read_bytes() == (b / "histories" / path.name).read_bytes()


def test_rerun_resumes_without_training(tiny_spec, tmp_path):
    spec, out = tiny_spec(), tmp_path / "r"
    assert invoke("run", spec, "--out", out, "--jobs", "1", "--no-plots").exit_code == 0
    journal = (out / "journal.jsonl").read_text()
    before = read_csv(out / "runs.csv")
    again = invoke("run", spec, "--out", out, "--jobs", "1", "--no-plots")
    assert again.exit_code == 0
    assert (out / "journal.jsonl").read_text() == journal  # nothing planned or trained again
    assert read_csv(out / "runs.csv") == before


def test_a_changed_spec_grows_the_study_and_other_data_is_refused(tiny_spec, write_spec, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots").exit_code == 0
    first = {p.name for p in (out / "histories").iterdir()}
    changed = tiny_spec(epochs=3)  # every run changes: four new runs, the old ones kept
    result = invoke("run", changed, "--out", out, "--jobs", "1", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "the spec changed since the last run here: train.epochs 2 -> 3" in result.stderr
    assert "round 0: coarse grid 0.01-0.1 at 1/decade, 4 runs\n" in result.stderr  # none reused
    rows = read_csv(out / "runs.csv")
    assert len(rows) == 4 and first <= {p.name for p in (out / "histories").iterdir()}
    assert {r["run_id"] + ".csv" for r in rows}.isdisjoint(first)  # only the current spec's
    assert len(list((out / "specs").iterdir())) == 1  # the earlier spec, kept

    other = write_spec(changed.read_text().replace("noise: 0.2", "noise: 0.3"), "other.yaml")
    result = invoke("run", other, "--out", out, "--jobs", "1")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {out}: holds runs on other data (data.noise ")
    assert result.stderr.rstrip().endswith(
        "use --overwrite to start over or --out to write elsewhere"
    )
    result = invoke("run", other, "--out", out, "--jobs", "1", "--no-plots", "--overwrite")
    assert result.exit_code == 0
    assert len(list((out / "histories").iterdir())) == 4 and not (out / "specs").exists()


def test_bad_spec_gives_one_line_and_writes_nothing(write_spec, tmp_path):
    spec = write_spec("name: x\ndata: {builtin: spirals}\ntrian: {epochs: 3}\n")
    out = tmp_path / "r"
    result = invoke("run", spec, "--out", out)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {spec}:3:1: trian: unknown key; did you mean 'train'?\n"
    assert not out.exists()


def test_missing_data_file_writes_nothing(write_spec, tmp_path):
    spec = write_spec("name: x\ndata: {path: nope.csv}\n")
    out = tmp_path / "r"
    result = invoke("run", spec, "--out", out)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nope.csv'}: no such file\n"
    assert not out.exists()


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_spec, tmp_path):
    out = tmp_path / "r"
    result = invoke("run", tiny_spec(), "--out", out, "--dry-run")
    assert result.exit_code == 0
    assert "round 0 (full budget): 2 LRs from 0.01 to 0.1 x 2 seeds = 4 runs" in result.stdout
    assert not out.exists()


def test_diverged_runs_are_results_and_exit_0(tiny_spec, tmp_path):
    out = tmp_path / "r"
    result = invoke("run", tiny_spec(lr_min="0.1", lr_max="1000"), "--out", out, "--jobs", "1")
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "runs.csv")
    assert "diverged" in {r["status"] for r in rows}


def test_plot_command_and_svg(tiny_spec, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots").exit_code == 0
    assert not (out / "plots").exists()
    result = invoke("plot", out, "--format", "svg")
    assert result.exit_code == 0
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "loss_vs_epoch.svg",
        "u_curve.svg",
    ]


def test_plot_on_a_missing_or_corrupt_results_dir(tiny_spec, tmp_path):
    result = invoke("plot", tmp_path / "nothing")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nothing'}: no such results folder\n"
    out = tmp_path / "r"
    assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots").exit_code == 0
    runs = out / "runs.csv"
    lines = runs.read_text().splitlines()
    lines[2] = lines[2].replace(",0.01,", ",zero point one,")
    runs.write_text("\n".join(lines) + "\n")
    result = invoke("plot", out)  # runs.csv is a view: the plots read the journal
    assert result.exit_code == 0 and (out / "plots" / "u_curve.png").exists()


def test_show_report_and_plot_on_an_interrupted_folder(tiny_spec, tmp_path):
    import lrsweep

    spec, out = lrsweep.load_spec(tiny_spec()), tmp_path / "r"

    def stop_after_two(row, done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lrsweep.run_sweep(spec, out, on_event=on_run(stop_after_two))
    shown = invoke("show", out)
    assert shown.exit_code == 0 and "partial: 2 of 4 runs finished" in shown.stdout
    assert invoke("plot", out).exit_code == 0 and (out / "plots" / "u_curve.png").exists()
    page = invoke("report", out)
    assert page.exit_code == 0 and "2 of 4 runs finished" in (out / "report.html").read_text()


def test_show_and_plot_on_a_folder_with_nothing_finished(tiny_spec, tmp_path):
    import lrsweep

    spec, out = lrsweep.load_spec(tiny_spec()), tmp_path / "r"

    def stop_at_once(row, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the first run is journaled, then the stop
        lrsweep.run_sweep(spec, out, on_event=on_run(stop_at_once))
    journal = out / "journal.jsonl"
    journal.write_text("".join(line for line in journal.read_text().splitlines(True)
                               if '"planned"' in line))  # fmt: skip
    for command in ("show", "plot", "report"):
        result = invoke(command, out)
        assert result.exit_code == 2, command
        assert "0 of 4 planned" in result.stderr and result.stderr.count("\n") == 1


def test_json_output(tiny_spec, tmp_path):
    result = invoke("run", tiny_spec(), "--out", tmp_path / "r", "--jobs", "1", "--no-plots",
                    "--json")  # fmt: skip
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["name"] == "tiny" and len(summary["table"]) == 2


@pytest.mark.parametrize("command", ["run", "plot", "refine", "validate", "show", "find", "init"])
def test_every_command_has_help_with_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout


def test_version():
    from lrsweep import __version__

    assert invoke("--version").stdout == f"lrsweep, version {__version__}\n"


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def test_library_never_loads_click_rich_or_matplotlib_until_a_plot():
    loaded = run_python(
        "import sys, lrsweep.orchestrate, lrsweep.spec, lrsweep.executors;"
        "print(sorted(m for m in ('click', 'rich', 'matplotlib') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_help_does_not_import_matplotlib_or_numpy():
    loaded = run_python(
        "import sys; from click.testing import CliRunner; from lrsweep.cli import cli;"
        "CliRunner().invoke(cli, ['--help']); CliRunner().invoke(cli, ['run', '--help']);"
        "print(sorted(m for m in ('matplotlib', 'numpy', 'pydantic') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "lrsweep", "--help"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "Usage: lrsweep" in out


def test_validate_prints_the_resolved_spec_and_the_plan(tiny_spec):
    result = invoke("validate", tiny_spec())
    assert result.exit_code == 0
    assert result.stdout.startswith("# lrsweep resolved spec; hash: ")
    assert "optimizer:" in result.stdout and "round 0 (full budget): 2 LRs" in result.stdout
    assert "estimated time: about " in result.stdout


def test_validate_lists_every_problem_with_exit_2(write_spec):
    spec = write_spec("data: {builtin: spirals}\ntrian: 1\ngrid: {lr_min: -1}\n")
    result = invoke("validate", spec)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: 2 problems: {spec}:2:1: trian: unknown key; did you mean 'train'? |"
        f" {spec}:3:8: grid.lr_min: must be > 0, got -1\n"
    )


def test_show_prints_an_existing_answer(tiny_spec, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots").exit_code == 0
    shown = invoke("show", out, "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == json.loads((out / "summary.json").read_text())
    assert "Recommended LR" in invoke("show", out).stdout


@pytest.mark.parametrize("csv_name", ["digits.csv", "diabetes.csv"])
def test_init_then_run_works_for_every_shipped_csv(csv_name, tmp_path, monkeypatch):
    from .conftest import REPO

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "specs" / "s.yaml"
    spec.parent.mkdir()
    result = invoke("init", "--data", REPO / "sample_data" / csv_name, "--out", spec)
    assert result.exit_code == 0 and spec.exists()
    text = spec.read_text()
    assert ("task: classification" in text) == (csv_name == "digits.csv")
    # keep the test fast: fewer epochs and seeds, the rest exactly as written
    text = re.sub(r"epochs: \d+", "epochs: 2", text).replace("seeds: 3", "seeds: 1")
    spec.write_text(text)
    ran = invoke("run", spec, "--jobs", "1", "--no-plots")
    assert ran.exit_code == 0, ran.output
    assert "Recommended LR" in ran.stdout


def test_init_drops_a_free_text_column_in_the_spec_and_run_uses_it(tmp_path, monkeypatch):
    # a name per passenger: `run` would refuse it (over max_categories); init writes a spec
    # that drops it, says why, and the spec runs
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    lines = ["name;sex;age;ticket;y"]
    for i in range(120):
        sex = "f" if i % 3 else "m"
        ticket = f"T{i // 2}"  # 60 distinct values, each twice
        lines.append(f'"Doe, {i}";{sex};{rng.integers(1, 80)};{ticket};{int(sex == "f")}')
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n")
    refused = invoke("validate", _spec_for(tmp_path, "people.csv", "y"))
    assert refused.exit_code == 2
    assert "columns 'name': 120 levels, 'ticket': 60 levels, more than" in refused.stderr
    assert (
        "(data.drop: [name, ticket])" in refused.stderr and len(refused.stderr.splitlines()) == 1
    )
    result = invoke("init", "--data", "people.csv", "--target", "y", "--out", "s.yaml")
    assert result.exit_code == 0, result.output
    assert "column 'name': dropped in the spec, 120 text values (every value" in result.stdout
    assert "column 'ticket': dropped in the spec, 60 text values (in 120 rows)" in result.stdout
    text = (tmp_path / "s.yaml").read_text()
    assert "  drop: [name, ticket]" in text
    text = re.sub(r"epochs: \d+", "epochs: 2", text).replace("seeds: 3", "seeds: 1")
    (tmp_path / "s.yaml").write_text(text)
    ran = invoke("run", "s.yaml", "--jobs", "1", "--no-plots")
    assert ran.exit_code == 0, ran.output


def _spec_for(folder, csv: str, target: str):
    spec = folder / "plain.yaml"
    spec.write_text(f"name: plain\ndata: {{path: {csv}, target: {target}}}\n")
    return spec


def test_init_without_data_and_refusing_to_overwrite(tmp_path):
    out = tmp_path / "s.yaml"
    assert invoke("init", "--out", out).exit_code == 0
    assert "builtin: spirals" in out.read_text()
    again = invoke("init", "--out", out)
    assert again.exit_code == 2
    assert (
        again.stderr
        == f"Error: {out}: exists; use --force to replace it or --out to write elsewhere\n"
    )


def test_overwrite_never_deletes_files_of_a_folder_that_is_not_a_results_dir(tiny_spec, tmp_path):
    out = tmp_path / "project"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "mine.png").write_text("a user's figure")
    (out / "summary.json").write_text("{}")
    (out / "report.md").write_text("# my notes")
    (out / "spec.yaml").write_text("my: own spec\n")
    result = invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots", "--overwrite")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {out}: holds spec.yaml, summary.json, report.md that lrsweep did not write;"
        " lrsweep neither uses nor clears such a folder: choose another --out\n"
    )
    assert (out / "plots" / "mine.png").read_text() == "a user's figure"
    assert (out / "summary.json").read_text() == "{}"
    assert (out / "report.md").read_text() == "# my notes"
    assert (out / "spec.yaml").read_text() == "my: own spec\n"
    assert sorted(p.name for p in out.iterdir()) == ["plots", "report.md", "spec.yaml",
                                                     "summary.json"]  # fmt: skip


def test_overwrite_clears_only_lrsweeps_files_of_its_own_folder(tiny_spec, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1").exit_code == 0
    (out / "plots" / "figure1.pdf").write_text("a user's figure")
    (out / "notes.txt").write_text("mine")
    other = tiny_spec(lr_max="0.3")
    result = invoke("run", other, "--out", out, "--jobs", "1", "--no-plots", "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert (out / "plots" / "figure1.pdf").read_text() == "a user's figure"
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "plots" / "u_curve.png").exists()  # the old spec's plot went


def test_empty_out_is_refused(tiny_spec):
    result = invoke("run", tiny_spec(), "--out", "")
    assert result.exit_code == 2 and "must name a folder, not the current one" in result.stderr


@pytest.mark.parametrize("content", ["[1, 2]", "{}"])
def test_show_on_a_summary_of_the_wrong_shape(tiny_spec, tmp_path, content):
    out = tmp_path / "r"
    assert invoke("run", tiny_spec(), "--out", out, "--jobs", "1", "--no-plots").exit_code == 0
    (out / "summary.json").write_text(content)
    result = invoke("show", out)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {out / 'summary.json'}: not an lrsweep summary")


def test_a_scheduler_file_that_is_not_one(tiny_spec, tmp_path):
    bad = tmp_path / "scheduler.json"
    bad.write_text("{}")
    result = invoke("run", tiny_spec(), "--out", tmp_path / "r", "--scheduler-file", bad)
    assert result.exit_code == 3
    assert result.stderr == f"Error: {bad}: not a dask scheduler file (no 'address')\n"
    assert not (tmp_path / "r").exists()
