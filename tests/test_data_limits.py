"""Issue 28's data defects, each with a test that failed on the code before the fix: a CSV
header longer than the sniff window, `init` on a table too wide for the spec loader, and a
regression target without variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lrsweep.cli import cli
from lrsweep.data import load_dataset, read_header, read_table
from lrsweep.errors import DataError
from lrsweep.spec import DataSpec, load_spec


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_a_header_longer_than_the_sniff_window_is_read_whole(tmp_path):
    # 4,001 long names: about 300 KB of header, far past the 64 KiB first read
    names = [f"measurement_{i:04d}_" + "x" * 60 for i in range(4000)] + ["y"]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 9, size=(6, 4001)), columns=names)
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    assert read_header(path) == names
    table = read_table(path)
    assert table.names == tuple(names)
    # every name keeps its own column's data
    for j in (0, 1234, 3999, 4000):
        np.testing.assert_array_equal(table.columns[j], frame.iloc[:, j].to_numpy(float))


def test_a_50_mb_file_of_one_line_gets_a_true_message(tmp_path):
    path = tmp_path / "one-line.csv"
    cell = "c1234567,"  # 9 bytes
    with open(path, "w") as f:
        f.write(cell * (50_000_000 // len(cell)))
    with pytest.raises(DataError, match=r"line 1 is longer than 16 MiB") as e:
        read_table(path)
    assert "duplicate" not in str(e.value)


def test_a_header_within_the_limit_but_no_line_end_is_a_header_only(tmp_path):
    path = tmp_path / "header-only.csv"
    path.write_text(",".join(f"name_{i}_{'z' * 40}" for i in range(3000)))  # 150 KB, no \n
    with pytest.raises(DataError, match=r"no data rows \(only a header\)"):
        read_table(path)


def test_init_on_a_table_of_3000_columns_writes_a_spec_validate_accepts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(
        rng.standard_normal((40, 3000)), columns=[f"feature_{i:05d}" for i in range(3000)]
    )
    wide["label"] = np.arange(40) % 2
    wide.to_csv("wide.csv", index=False)
    made = invoke("init", "--data", "wide.csv", "--out", "wide.yaml")
    assert made.exit_code == 0, made.output
    spec = load_spec(tmp_path / "wide.yaml")  # raised "larger than 64 KiB" before
    assert spec.data.target == "label"
    checked = invoke("validate", "wide.yaml")
    assert checked.exit_code == 0, checked.output


def test_init_on_thousands_of_text_columns_drops_them_in_a_bounded_spec(tmp_path, monkeypatch):
    # 2,000 free-text columns (each value distinct): init used to list every one in drop:
    monkeypatch.chdir(tmp_path)
    n = 60
    text = {f"comment_{j:04d}_{'w' * 30}": [f"r{i}c{j}" for i in range(n)] for j in range(2000)}
    frame = pd.DataFrame(text)
    frame["x"] = np.arange(n) % 7 * 1.5
    frame["y"] = np.arange(n) % 2
    frame.to_csv("notes.csv", index=False)
    made = invoke("init", "--data", "notes.csv", "--target", "y", "--out", "notes.yaml")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "notes.yaml").stat().st_size < 16 * 1024
    spec = load_spec(tmp_path / "notes.yaml")
    data = load_dataset(spec.data, tmp_path)
    assert data.feature_names == ("x",)


def test_a_constant_regression_target_is_refused(tmp_path):
    path = tmp_path / "flat.csv"
    pd.DataFrame({"x": np.arange(30) * 0.5, "y": np.full(30, 3.25)}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'y': a regression target must vary, got every"):
        load_dataset(DataSpec(path=str(path), task="regression"), tmp_path)


def test_a_regression_target_varying_below_float_precision_is_refused(tmp_path):
    path = tmp_path / "ulps.csv"
    y = 1e6 + np.arange(30) % 3 * np.spacing(1e6)  # a few ulps apart
    pd.DataFrame({"x": np.arange(30) * 0.5, "y": y}).to_csv(
        path, index=False, float_format="%.17g"
    )
    with pytest.raises(DataError, match=r"column 'y': .*below float precision"):
        load_dataset(DataSpec(path=str(path), task="regression"), tmp_path)
