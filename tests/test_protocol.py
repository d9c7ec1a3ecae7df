"""The metric protocol: `report` writes it, `MetricsTail` and `HistoryFile` read it back.

The history files under tests/data/histories were written by PyTorch Lightning 2.6.6, Keras
3.15.1 and transformers 5.25.0 themselves (``make_histories.py`` there), never by hand.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lrsweep import protocol
from lrsweep.protocol import (
    METRICS_ENV,
    EpochMetrics,
    HistoryFile,
    MetricsTail,
    format_line,
    lrsweep_names,
    report,
)

DATA = Path(__file__).parent / "data" / "histories"


@pytest.fixture
def metrics_file(tmp_path, monkeypatch):
    """$LRSWEEP_METRICS pointing into tmp_path, and `report` counting epochs from scratch."""
    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv(METRICS_ENV, str(path))
    monkeypatch.setattr(protocol, "_last_epoch", 0)
    return path


# -- report -------------------------------------------------------------------------------------


def test_report_appends_one_json_line_per_call(metrics_file):
    report(epoch=0, train_loss=2.3, val_loss=2.31)
    report(epoch=1, train_loss=np.float32(0.5), val_loss=np.float64(0.625), step=np.int64(50))
    report(step=100, val_loss=0.25)  # epoch omitted: one more than the last
    lines = metrics_file.read_text().splitlines()
    assert lines[0] == '{"epoch": 0, "train_loss": 2.3, "val_loss": 2.31}'
    assert json.loads(lines[1]) == {"epoch": 1, "train_loss": 0.5, "val_loss": 0.625, "step": 50}
    assert lines[2] == '{"epoch": 2, "step": 100, "val_loss": 0.25}'


def test_report_epochs_count_from_one_without_an_epoch(metrics_file):
    for loss in (0.9, 0.8, 0.7):
        report(val_loss=loss)
    assert [json.loads(x)["epoch"] for x in metrics_file.read_text().splitlines()] == [1, 2, 3]


def test_report_prints_the_line_when_the_variable_is_unset(monkeypatch, capsys):
    monkeypatch.delenv(METRICS_ENV, raising=False)
    monkeypatch.setattr(protocol, "_last_epoch", 0)
    report(epoch=3, val_loss=0.5)
    assert capsys.readouterr().out == '{"epoch": 3, "val_loss": 0.5}\n'


def test_non_finite_values_round_trip(metrics_file):
    report(epoch=1, val_loss=math.nan, train_loss=math.inf, grad=-math.inf)
    assert metrics_file.read_text() == (
        '{"epoch": 1, "val_loss": NaN, "train_loss": Infinity, "grad": -Infinity}\n'
    )
    (record,) = MetricsTail(metrics_file).read_new()
    assert math.isnan(record.metrics["val_loss"])
    assert record.metrics["train_loss"] == math.inf and record.metrics["grad"] == -math.inf


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"val_loss": "0.5"}, TypeError, "val_loss must be a number, got '0.5'"),
        ({"val_loss": None}, TypeError, "val_loss must be a number, got None"),
        ({"ok": True}, TypeError, "ok must be a number, got True"),
        ({"epoch": 1.5, "val_loss": 1.0}, TypeError, "epoch must be an integer, got 1.5"),
        ({"epoch": "3", "val_loss": 1.0}, TypeError, "epoch must be an integer, got '3'"),
        ({"epoch": -1, "val_loss": 1.0}, ValueError, "epoch must be >= 0, got -1"),
    ],
)
def test_report_refuses_what_is_not_a_number(metrics_file, kwargs, error, message):
    with pytest.raises(error, match=f"^lrsweep.report: {message}$".replace("(", r"\(")):
        report(**kwargs)
    assert not metrics_file.exists()


def test_report_takes_numpy_epochs_and_integral_floats(metrics_file):
    report(epoch=np.int64(4), val_loss=1.0)
    report(epoch=5.0, val_loss=1.0)
    assert [r.epoch for r in MetricsTail(metrics_file).read_new()] == [4, 5]


def test_lrsweep_report_is_cheap_to_import(tmp_path):
    code = (
        "import sys, lrsweep; lrsweep.report(epoch=1, val_loss=0.5); "
        "print(sorted(m for m in sys.modules if m.startswith('lrsweep')), "
        "[m for m in ('numpy', 'yaml', 'pydantic', 'click', 'rich') if m in sys.modules])"
    )
    env = {**os.environ, METRICS_ENV: str(tmp_path / "m.jsonl")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "['lrsweep', 'lrsweep.protocol', 'lrsweep.version'] []"
    assert (tmp_path / "m.jsonl").read_text() == '{"epoch": 1, "val_loss": 0.5}\n'


def test_lrsweep_report_stays_the_function_after_the_page_module_loads():
    code = "import lrsweep; lrsweep.build_report; print(callable(lrsweep.report))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True"


def test_a_script_killed_at_any_moment_leaves_whole_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    code = (
        "import lrsweep\n"
        "for e in range(1, 10**7):\n"
        "    lrsweep.report(epoch=e, val_loss=1.0 / e, train_loss=2.0 / e, name_" + "x" * 200 + "=e)\n"
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, METRICS_ENV: str(path)}
    )
    deadline = time.monotonic() + 10
    while (not path.exists() or path.stat().st_size < 200_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    tail = MetricsTail(path)
    records = tail.read_new(final=True)
    assert tail.problems == []
    assert [r.epoch for r in records] == list(range(1, len(records) + 1)) and len(records) > 100


# -- MetricsTail -----------------------------------------------------------------------------------


def test_the_tail_reads_only_new_complete_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.read_new() == [] and tail.history == []  # not written yet
    path.write_text('{"epoch": 1, "val_loss": 0.9}\n{"epoch": 2, "val_lo')
    assert tail.read_new() == [EpochMetrics(1, {"val_loss": 0.9})]
    assert tail.read_new() == []  # the torn line waits
    with path.open("a") as f:
        f.write('ss": 0.8}\n')
    assert tail.read_new() == [EpochMetrics(2, {"val_loss": 0.8})]
    assert tail.problems == []


def test_the_final_read_takes_a_last_line_without_a_newline(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val_loss": 0.9}')
    tail = MetricsTail(path)
    assert tail.read_new() == []
    assert tail.read_new(final=True) == [EpochMetrics(1, {"val_loss": 0.9})]


def test_malformed_lines_are_noted_by_number_and_reading_goes_on(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"epoch": 1, "val_loss": 0.9}\n'
        "epoch 2 val_loss 0.8\n"  # 2: not JSON
        "\n"  # 3: blank, ignored
        "[2, 0.8]\n"  # 4: not an object
        '{"epoch": -2, "val_loss": 0.7}\n'  # 5: bad epoch
        '{"epoch": 2.5, "val_loss": 0.7}\n'  # 6: bad epoch
        '{"epoch": 2, "val_loss": "low", "acc": [1], "train_loss": 0.6, "lr": null}\n'  # 7
        '{"epoch": 3, "val_loss": "NaN", "train_loss": "-inf", "acc": "0.5"}\n'
    )
    tail = MetricsTail(path)
    records = tail.read_new()
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[1].metrics == {"train_loss": 0.6}
    assert (
        math.isnan(records[2].metrics["val_loss"])
        and records[2].metrics["train_loss"] == -math.inf
    )
    assert records[2].metrics["acc"] == 0.5
    assert tail.problems == [
        "metrics.jsonl:2: not a JSON line, got 'epoch 2 val_loss 0.8'",
        "metrics.jsonl:4: not a JSON object, got '[2, 0.8]'",
        """metrics.jsonl:5: epoch must be an integer >= 0, got '{"epoch": -2, "val_loss": 0.7}'""",
        """metrics.jsonl:6: epoch must be an integer >= 0, got '{"epoch": 2.5, "val_loss": 0.7}'""",
        "metrics.jsonl:7: val_loss: not a number, got 'low'",
        "metrics.jsonl:7: acc: not a number, got [1]",
    ]
    assert tail.names == ["val_loss", "train_loss", "acc"]


def test_an_epoch_twice_merges_and_going_backwards_is_noted(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"epoch": 1, "train_loss": 0.9}\n'
        '{"epoch": 1, "val_loss": 0.95}\n'  # the same epoch: merged, no note
        '{"epoch": 2, "train_loss": 0.8, "val_loss": 0.85}\n'
        '{"epoch": 1, "val_loss": 0.5}\n'  # backwards: merged into epoch 1, noted
        '{"train_loss": 0.7}\n'  # no epoch: the one after the line before (2)
    )
    tail = MetricsTail(path)
    records = tail.read_new()
    assert records == [
        EpochMetrics(1, {"train_loss": 0.9, "val_loss": 0.5}),
        EpochMetrics(2, {"train_loss": 0.7, "val_loss": 0.85}),
    ]
    assert tail.problems == ["metrics.jsonl:4: epoch 1 after epoch 2; merged into 1"]


def test_read_new_returns_only_the_epochs_that_changed(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    path.write_text('{"epoch": 1, "train_loss": 0.9}\n{"epoch": 2, "train_loss": 0.8}\n')
    assert [r.epoch for r in tail.read_new()] == [1, 2]
    with path.open("a") as f:
        f.write('{"epoch": 2, "val_loss": 0.85}\n{"epoch": 2, "val_loss": 0.85}\n')
    assert tail.read_new() == [EpochMetrics(2, {"train_loss": 0.8, "val_loss": 0.85})]
    with path.open("a") as f:
        f.write('{"epoch": 2, "val_loss": 0.85}\n')  # nothing new
    assert tail.read_new() == []
    assert [r.epoch for r in tail.history] == [1, 2]


def test_metric_names_may_be_anything(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val/loss": 1, "top-5 acc": 0.5, "ß": 2, "": 3, "step": 7}\n')
    (record,) = MetricsTail(path).read_new()
    assert record.metrics == {"val/loss": 1.0, "top-5 acc": 0.5, "ß": 2.0, "": 3.0, "step": 7.0}


def test_a_flood_is_read_in_bounded_steps(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(format_line(e, {"val_loss": 1.0 / e}) for e in range(1, 2001)))
    tail = MetricsTail(path, max_bytes=4096)
    steps = []
    while batch := tail.read_new():
        steps.append(len(batch))
    assert len(steps) > 5 and sum(steps) == 2000 and tail.problems == []
    assert [r.epoch for r in tail.history] == list(range(1, 2001))


def test_hostile_lines_are_noted_not_raised(tmp_path):
    path = tmp_path / "metrics.jsonl"
    long_line = '{"epoch": 2, "val_loss": 0.5, "junk": "' + "x" * (2 * protocol.MAX_LINE) + '"}'
    path.write_text(
        '{"epoch": 1, "val_loss": 1' + "0" * 400 + "}\n"  # an int past float's range
        + "[" * 100_000 + "]" * 100_000 + "\n"  # nested past the recursion limit
        + long_line + "\n"
        + '{"epoch": 3, "val_loss": 0.25}\n'
    )  # fmt: skip
    tail = MetricsTail(path, max_bytes=1 << 16)
    records = tail.read_new(final=True)  # chunk by chunk, never the long line whole
    assert records == [
        EpochMetrics(1, {"val_loss": math.inf}),
        EpochMetrics(3, {"val_loss": 0.25}),
    ]
    assert tail.problems[0].startswith("metrics.jsonl:2: not a JSON line, got '[[[[")
    assert tail.problems[1:] == [
        f"metrics.jsonl:3: a line longer than {protocol.MAX_LINE} bytes, skipped"
    ]


def test_an_overlong_line_at_the_end_is_skipped_at_the_final_read(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val_loss": 1}\n' + "x" * (protocol.MAX_LINE + 1))
    tail = MetricsTail(path)
    assert tail.read_new(final=True) == [EpochMetrics(1, {"val_loss": 1.0})]
    assert tail.problems == [
        f"metrics.jsonl:2: a line longer than {protocol.MAX_LINE} bytes, skipped"
    ]


def test_problems_are_capped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("garbage\n" * 500)
    tail = MetricsTail(path)
    tail.read_new()
    assert len(tail.problems) == protocol.MAX_PROBLEMS + 1
    assert (
        tail.problems[-1]
        == f"metrics.jsonl: {500 - protocol.MAX_PROBLEMS} more problems not shown"
    )


def test_a_truncated_file_is_read_again_from_its_start(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "val_loss": 0.9}\n{"epoch": 2, "val_loss": 0.8}\n')
    tail = MetricsTail(path)
    tail.read_new()
    path.write_text('{"epoch": 1, "val_loss": 0.7}\n')
    assert tail.read_new() == [EpochMetrics(1, {"val_loss": 0.7})]
    assert tail.problems == ["metrics.jsonl: the file was truncated; read again from its start"]


# -- HistoryFile: the libraries' own files ---------------------------------------------------------


def history_of(name: str) -> tuple[list[EpochMetrics], list[str]]:
    reader = HistoryFile(DATA / name)
    reader.read_new(final=True)
    return reader.history, reader.problems


def column(records: list[EpochMetrics], name: str) -> list[float | None]:
    return [r.metrics.get(name) for r in records]


def test_lightning_metrics_csv_with_on_epoch_train_loss():
    records, problems = history_of("lightning_metrics.csv")
    assert problems == [] and [r.epoch for r in records] == [1, 2, 3]  # epoch 0 = first pass
    # train_loss_epoch becomes train_loss; the step values keep their own name, last one wins
    assert column(records, "train_loss") == [
        0.8080355525016785,
        0.6718671321868896,
        0.5755360126495361,
    ]
    assert column(records, "train_loss_step") == [
        0.6974888443946838,
        0.5592231750488281,
        0.4647044837474823,
    ]
    assert column(records, "val_loss") == [
        0.7093794941902161,
        0.6008708477020264,
        0.524613618850708,
    ]
    assert column(records, "val_acc") == [0.578125, 0.671875, 0.765625]
    assert column(records, "step") == [3.0, 7.0, 11.0]
    assert "train_loss_epoch" not in records[0].metrics


def test_lightning_metrics_csv_with_step_only_train_loss():
    records, problems = history_of("lightning_step_only.csv")
    assert problems == []
    assert column(records, "train_loss") == [
        0.6974888443946838,
        0.5592231750488281,
        0.4647044837474823,
    ]
    assert column(records, "val_loss") == [
        0.7093794941902161,
        0.6008708477020264,
        0.524613618850708,
    ]


def test_lightning_metrics_csv_read_while_lightning_writes_it(tmp_path):
    """Every state of the file a poller could see, header rewrites included, in order."""
    snapshots = json.loads((DATA / "lightning_snapshots.json").read_text())
    assert any(a.split("\n")[0] != b.split("\n")[0] for a, b in zip(snapshots, snapshots[1:]))
    path = tmp_path / "metrics.csv"
    reader = HistoryFile(path)
    assert reader.read_new() == []
    changed = []
    for text in snapshots:
        path.write_bytes(text.encode())
        changed.append([r.epoch for r in reader.read_new()])
    assert changed[0] == [1] and sorted({e for c in changed for e in c}) == [1, 2, 3]
    assert all(c == sorted(c) and set(c) <= {max(c)} | {max(c) - 1} for c in changed if c)
    final, _ = history_of("lightning_metrics.csv")
    assert reader.history == final and reader.problems == []


def test_a_lightning_row_half_written_waits(tmp_path):
    text = (DATA / "lightning_metrics.csv").read_bytes()
    path = tmp_path / "metrics.csv"
    cut = text.index(b"\r\n1,5,") + 6  # the first row of the second pass, cut short
    path.write_bytes(text[:cut])
    reader = HistoryFile(path)
    assert [r.epoch for r in reader.read_new()] == [1]
    path.write_bytes(text)
    assert [r.epoch for r in reader.read_new()] == [2, 3]
    assert reader.problems == []


def test_keras_csvlogger():
    records, problems = history_of("keras_log.csv")
    assert problems == [] and [r.epoch for r in records] == [
        1,
        2,
        3,
    ]  # Keras' epoch 0 is after 1 pass
    assert records[0].metrics == {
        "accuracy": 0.578125,
        "train_loss": 0.8590559959411621,  # Keras' `loss`
        "val_accuracy": 0.671875,
        "val_loss": 0.7433286309242249,
    }


def test_keras_na_is_a_value_not_logged():
    records, problems = history_of("keras_validation_freq2.csv")
    assert problems == []
    assert column(records, "val_loss") == [None, 0.6083306074142456, None]
    assert column(records, "train_loss") == [
        0.8590559959411621,
        0.6972183585166931,
        0.5705878138542175,
    ]


def test_keras_csvlogger_with_another_separator(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes((DATA / "keras_log.csv").read_bytes().replace(b",", b";"))
    reader = HistoryFile(path)
    reader.read_new()
    assert reader.history == history_of("keras_log.csv")[0]


@pytest.mark.parametrize("name", ["lightning_nan.csv", "keras_nan.csv", "trainer_state_nan.json"])
def test_nan_losses_are_read_as_nan(name):
    records, problems = history_of(name)
    assert problems == [] and len(records) == 3
    assert all(math.isnan(v) for v in column(records, "val_loss"))


def test_hugging_face_trainer_state():
    records, problems = history_of("trainer_state.json")
    log = json.loads((DATA / "trainer_state.json").read_text())["log_history"]
    train = [e for e in log if "loss" in e]
    evals = [e for e in log if "eval_loss" in e]
    assert problems == [] and [r.epoch for r in records] == [1, 2, 3]
    # epoch 0.75 belongs to the first pass; the last `loss` logged in a pass is its train_loss
    assert column(records, "train_loss") == [train[0]["loss"], train[1]["loss"], train[3]["loss"]]
    assert column(records, "val_loss") == [e["eval_loss"] for e in evals]
    # the end-of-training summary (its train_loss is the mean over all passes) is not an epoch
    summary = log[-1]
    assert "train_runtime" in summary and summary["train_loss"] not in column(
        records, "train_loss"
    )
    assert "train_runtime" not in records[-1].metrics
    assert records[0].metrics["step"] == 4.0 and "learning_rate" in records[0].metrics


def test_a_trainer_state_being_written_waits_until_it_is_whole(tmp_path):
    text = (DATA / "trainer_state.json").read_text()
    path = tmp_path / "trainer_state.json"
    path.write_text(text[: len(text) // 2])
    reader = HistoryFile(path)
    assert reader.read_new() == [] and reader.problems == []
    path.write_text(text)
    assert [r.epoch for r in reader.read_new()] == [1, 2, 3]
    path.write_text(text[:100])
    assert reader.read_new(final=True) == []
    assert reader.problems == ["trainer_state.json: not valid JSON (a trainer_state.json?)"]


def test_history_file_problems(tmp_path):
    reader = HistoryFile(tmp_path / "metrics.csv")
    assert reader.read_new() == [] and reader.problems == []
    assert reader.read_new(final=True) == []
    assert reader.problems == ["metrics.csv: the history file was never written"]
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n1,0.5\n")
    reader = HistoryFile(path)
    reader.read_new()
    assert reader.problems == ["log.csv:1: no 'epoch' column, got 'step, loss'"]
    path.write_text("epoch,loss,note\n0,0.5,fine\n,0.4,x\n1,bad,y\n")
    reader = HistoryFile(path)
    assert reader.read_new() == [EpochMetrics(1, {"train_loss": 0.5}), EpochMetrics(2, {})]
    assert reader.problems == [
        "log.csv:2: note: not a number, got 'fine'",
        "log.csv:3: a row without an epoch is skipped",
        "log.csv:4: loss: not a number, got 'bad'",
    ]


def test_a_csv_row_over_the_csv_field_limit_is_noted(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text('epoch,loss\n0,0.5\n1,"' + "x" * 200_000 + '"\n2,0.25\n')
    reader = HistoryFile(path)
    reader.read_new()
    assert [r.epoch for r in reader.history] == [1, 3]
    assert reader.problems[0].startswith("log.csv:3: not a CSV row (field larger than field limit")


def test_loss_aliases_leave_a_name_the_file_has():
    assert lrsweep_names(["epoch", "loss", "val_loss"]) == {"loss": "train_loss"}
    assert lrsweep_names(["loss", "eval_loss"]) == {"loss": "train_loss", "eval_loss": "val_loss"}
    assert lrsweep_names(["train_loss", "loss", "val_loss_epoch"]) == {
        "val_loss_epoch": "val_loss"
    }
    assert lrsweep_names(["train_loss_epoch", "loss"]) == {"train_loss_epoch": "train_loss"}


def test_report_lines_read_back_exactly(metrics_file):
    values = [0.1, 1 / 3, 1e-300, 123456789.123456789, 2.0**-1074]
    for e, v in enumerate(values):
        report(epoch=e, val_loss=v)
    assert [r.metrics["val_loss"] for r in MetricsTail(metrics_file).read_new()] == values
