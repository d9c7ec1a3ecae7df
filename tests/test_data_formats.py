"""Every table format lrsweep reads, each file written by the library people save it with
(pandas, pyarrow, sqlite3, xlwt) in the test: compressed files, archives, spreadsheets,
Feather and Arrow streams, JSON, SQLite; dates; the task read from the target; rare classes;
the data fingerprint."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import re
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lrsweep.cli import cli
from lrsweep.data import data_fingerprint, load_dataset, read_table
from lrsweep.data import sources as sources_module
from lrsweep.errors import DataError
from lrsweep.spec import DataSpec, load_spec


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def frame(n: int = 40) -> pd.DataFrame:
    """A small mixed table: numbers with a gap, text, a boolean, a date, a 3-class target."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "bill": np.round(rng.normal(40, 5, n), 1),
            "mass": [np.nan if i % 9 == 4 else 3000.0 + 25 * i for i in range(n)],
            "island": [("Biscoe", "Dream", "Torgersen")[i % 3] for i in range(n)],
            "flag": [bool(i % 2) for i in range(n)],
            "species": [("Adelie", "Gentoo", "Chinstrap")[(i // 2) % 3] for i in range(n)],
        }
    )


def load(path: Path, **spec) -> object:
    return load_dataset(DataSpec(path=str(path), **spec), path.parent)


def same_table(a, b) -> None:
    assert a.names == b.names
    for x, y in zip(a.columns, b.columns):
        if x.dtype == object:
            assert list(x) == list(y)
        else:
            np.testing.assert_allclose(x, y)


# --------------------------------------------------------------------------------------------
# compressed files and archives


@pytest.mark.parametrize("compression", ["gzip", "bz2", "xz", "zstd", "zip"])
def test_a_compressed_csv_reads_as_the_csv(tmp_path, compression):
    df = frame()
    plain = tmp_path / "t.csv"
    df.to_csv(plain, index=False)
    packed = tmp_path / f"t.csv.{compression}"
    df.to_csv(packed, index=False, compression=compression)
    table = read_table(packed)
    same_table(table, read_table(plain))
    assert table.format == ("csv in zip" if compression == "zip" else f"csv.{compression}"
                            .replace("gzip", "gz").replace("zstd", "zst"))  # fmt: skip
    ds = load(packed, target="species")
    assert ds.n_outputs == 3 and ds.rows_read == 40


def test_compression_is_recognised_by_content_not_by_name(tmp_path):
    df = frame()
    disguised = tmp_path / "t.csv"  # gzip bytes under a plain name, as a download may be
    disguised.write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    assert read_table(disguised).format == "csv.gz"
    named_wrong = tmp_path / "t.xlsx"  # a CSV named like a workbook
    df.to_csv(named_wrong, index=False)
    assert read_table(named_wrong).format == "csv"


def test_a_compressed_tsv_keeps_its_delimiter_from_the_inner_name(tmp_path):
    df = frame()
    path = tmp_path / "t.tsv.bz2"
    path.write_bytes(bz2.compress(df.to_csv(index=False, sep="\t").encode()))
    assert read_table(path).delimiter == "\t"


def test_a_bad_row_in_a_compressed_csv_names_its_line(tmp_path):
    text = frame().to_csv(index=False).splitlines()
    text[7] += ",extra"
    path = tmp_path / "t.csv.xz"
    path.write_bytes(lzma.compress(("\n".join(text) + "\n").encode()))
    with pytest.raises(DataError, match=exactly(f"{path}:8: expected 5 fields, got 6")):
        read_table(path)


def test_a_truncated_gzip_is_one_line(tmp_path):
    path = tmp_path / "t.csv.gz"
    data = gzip.compress(frame(400).to_csv(index=False).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: damaged gzip data: "):
        read_table(path)


def test_a_zip_of_several_tables_asks_for_data_member(tmp_path):
    df = frame()
    path = tmp_path / "both.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("train.csv", df.to_csv(index=False))
        z.writestr("meta/readme.csv", "a,b\n1,2\n")
        z.writestr("__MACOSX/._train.csv", b"\x00\x05junk")
    msg = (
        f"{path}: a zip archive of 2 tables ('train.csv', 'meta/readme.csv'); name the one to"
        " read with data.member (init --member), e.g. train.csv"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(path)
    table = read_table(path, member="train.csv")
    assert table.source == f"{path}/train.csv" and table.n_rows == 40
    assert read_table(path, member="readme.csv").names == ("a", "b")  # by its base name
    with pytest.raises(DataError, match=r"data\.member: no file 'tran\.csv' in the archive"):
        read_table(path, member="tran.csv")
    ds = load(path, member="train.csv", target="species")
    assert ds.source == f"{path}/train.csv"


def test_a_zip_of_a_table_and_its_readme_reads_the_table(tmp_path):
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data/penguins.csv.gz", gzip.compress(frame().to_csv(index=False).encode()))
        z.writestr("data/README.txt", "Palmer penguins\n")
    with pytest.raises(DataError, match=r"a compressed file|gzip data inside zip"):
        read_table(path)  # a .csv.gz inside a zip: compressed twice
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data/penguins.csv", frame().to_csv(index=False))
        z.writestr("data/README.txt", "Palmer penguins\n")
    table = read_table(path)
    assert table.source == f"{path}/data/penguins.csv"
    assert table.notes == (
        "read 'data/penguins.csv', the one table of the archive's 2 files (besides"
        " 'data/README.txt'); data.member chooses another",
    )


def test_a_zip_of_a_parquet_file(tmp_path):
    df = frame()
    buffer = io.BytesIO()
    df.to_parquet(buffer)
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("t.parquet", buffer.getvalue())
    assert read_table(path).format == "parquet in zip"
    assert read_table(path).n_rows == 40


def test_a_tar_archive_says_how_to_read_it(tmp_path):
    inner = tmp_path / "t.csv"
    frame().to_csv(inner, index=False)
    path = tmp_path / "t.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(inner, arcname="t.csv")
    with pytest.raises(DataError, match=r"a tar archive; lrsweep reads one table: extract it"):
        read_table(path)


def test_zstd_without_its_package_names_the_install(tmp_path, monkeypatch):
    path = tmp_path / "t.csv.zst"
    frame().to_csv(path, index=False, compression="zstd")

    import builtins

    real_import = builtins.__import__

    def no_zstandard(name, *args, **kwargs):
        if name == "zstandard":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zstandard)
    msg = (
        f"{path}: Zstandard-compressed; reading it needs the zstandard package; install it"
        " with: pip install 'lrsweep[zstd]'"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(path)


# --------------------------------------------------------------------------------------------
# spreadsheets


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm", ".ods"])
def test_a_workbook_written_by_pandas(tmp_path, suffix):
    df = frame()
    path = tmp_path / f"t{suffix}"
    df.to_excel(path, engine="odf" if suffix == ".ods" else "openpyxl")  # with its index
    table = read_table(path)
    assert table.format == ("ods" if suffix == ".ods" else "xlsx")
    assert table.names == ("Unnamed: 0", *df.columns)
    ds = load(path, target="species")
    assert ds.columns[0].kind == "index" and ds.n_outputs == 3
    assert ds.columns[1].role == "feature" and ds.rows_read == 40
    # the flag column: booleans are text, as a CSV reads them
    assert table.columns[4][:2].tolist() == ["False", "True"]
    assert np.isnan(table.columns[2][4])  # an empty cell is missing


def test_an_xls_workbook(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("penguins")
    df = frame()
    for j, name in enumerate(df.columns):
        sheet.write(0, j, name)
        for i, v in enumerate(df[name].tolist()):
            if not (isinstance(v, float) and np.isnan(v)):
                sheet.write(i + 1, j, v)
    path = tmp_path / "t.xls"
    book.save(str(path))
    table = read_table(path)
    assert table.format == "xls" and table.names == tuple(df.columns)
    np.testing.assert_allclose(table.columns[0], df["bill"])


def test_a_sheet_is_chosen_by_name_and_a_wrong_name_lists_them(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        frame().to_excel(writer, sheet_name="train", index=False)
        pd.DataFrame({"note": ["x"], "y": [1]}).to_excel(writer, sheet_name="notes", index=False)
    first = read_table(path)
    assert first.n_rows == 40
    assert first.notes == (
        "read sheet 'train', one of 2 ('train', 'notes'); data.sheet chooses another",
    )
    assert read_table(path, sheet="notes").names == ("note", "y")
    msg = f"{path}: data.sheet: no sheet 'trian'; the sheets are 'train', 'notes'; did you mean 'train'?"
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(path, sheet="trian")
    with pytest.raises(DataError, match=r"data\.sheet: only for a spreadsheet"):
        read_table(_csv(tmp_path), sheet="train")


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    return path


def test_a_title_above_the_table_is_skipped_and_rows_keep_the_sheets_numbers(tmp_path):
    df = frame()
    df["bill"] = df["bill"].astype(object)
    df.loc[5, "bill"] = "n/a?"  # a text cell in a numeric column
    path = tmp_path / "report.xlsx"
    with pd.ExcelWriter(path) as writer:
        df.to_excel(writer, sheet_name="Data", index=False, startrow=3, startcol=1)
        writer.sheets["Data"].cell(row=1, column=2, value="Penguins, field season 2008")
    table = read_table(path)
    assert table.names == tuple(df.columns)
    assert table.notes[-1] == (
        "sheet 'Data': the header is row 4; skipped the rows above it (Penguins, field"
        " season 2008)"
    )
    with pytest.raises(DataError, match=exactly(
        f"{path}: sheet 'Data' row 10: column 'bill': not a number (data.numeric), got 'n/a?'"
    )):  # fmt: skip
        load(path, numeric=["bill"], target="species")


def test_a_spreadsheet_without_its_reader_names_the_pip_command(tmp_path, monkeypatch):
    import builtins

    path = tmp_path / "t.xlsx"
    frame().to_excel(path, index=False)
    real_import = builtins.__import__

    def no_calamine(name, *args, **kwargs):
        if name == "python_calamine":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_calamine)
    msg = (
        f"{path}: reading a spreadsheet (xlsx) needs python-calamine; install it with:"
        " pip install 'lrsweep[excel]'"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(path)


# --------------------------------------------------------------------------------------------
# Feather, Arrow streams, JSON


def test_feather_and_an_arrow_stream(tmp_path):
    import pyarrow as pa

    df = frame()
    path = tmp_path / "t.feather"
    df.to_feather(path)
    same_table(read_table(path), read_table(_csv(tmp_path)))
    stream = tmp_path / "t.arrows"
    batch = pa.Table.from_pandas(df)
    with pa.OSFile(str(stream), "wb") as sink, pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_table(batch)
    table = read_table(stream)
    assert table.format == "arrow_stream"
    same_table(table, read_table(path))


@pytest.mark.parametrize("lines", [True, False])
def test_json_lines_and_a_json_array_of_records(tmp_path, lines):
    df = frame()
    path = tmp_path / ("t.jsonl" if lines else "t.json")
    df.to_json(path, orient="records", lines=lines)
    table = read_table(path)
    assert table.format == "json"
    same_table(table, read_table(_csv(tmp_path)))
    packed = tmp_path / "t.jsonl.gz"
    df.to_json(packed, orient="records", lines=lines, compression="gzip")
    assert read_table(packed).format == "json.gz"


def test_json_lines_errors_name_the_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "y": 0}\n{"a": 2, "y": 1}\n{"a": 3, "y": \n')
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:3:\d+: not JSON: "):
        read_table(path)
    path.write_text('{"a": 1, "y": 0}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"t\.jsonl:2: expected a JSON object \(a row\) per line"):
        read_table(path)
    path.write_text('{"a": {"b": 1}, "y": 0}\n{"a": {"b": 2}, "y": 1}\n')
    with pytest.raises(DataError, match=r"column 'a': a nested value .*json_normalize"):
        read_table(path)


def test_a_json_lines_row_names_its_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "y": 0}\n\n{"a": "x", "y": 1}\n{"a": 3, "y": 1}\n')
    with pytest.raises(DataError, match=exactly(
        f"{path}:3: column 'a': not a number (data.numeric), got 'x'"
    )):  # fmt: skip
        load(path, numeric=["a"])


# --------------------------------------------------------------------------------------------
# SQLite


def sqlite_db(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    path = tmp_path / "data.sqlite"
    with sqlite3.connect(path) as con:
        for name, df in tables.items():
            df.to_sql(name, con, index=False)
    return path


def test_a_sqlite_table_a_choice_of_tables_and_a_query(tmp_path):
    df = frame()
    only = sqlite_db(tmp_path, {"penguins": df})
    table = read_table(only)
    assert table.format == "sqlite" and table.names == tuple(df.columns)
    only.rename(tmp_path / "one.db")
    two = sqlite_db(tmp_path, {"penguins": df, "islands": df[["island", "bill"]]})
    msg = (
        f"{two}: a SQLite database of 2 tables ('penguins', 'islands'); name one with"
        " data.table (init --table), e.g. penguins, or give data.query"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(two)
    assert read_table(two, table="islands").names == ("island", "bill")
    with pytest.raises(DataError, match=r"data\.table: no table 'penguin'; .*did you mean"):
        read_table(two, table="penguin")
    query = "SELECT bill, mass, species FROM penguins WHERE island != 'Dream'"
    picked = read_table(two, query=query)
    assert picked.names == ("bill", "mass", "species")
    assert picked.n_rows == int((df["island"] != "Dream").sum())
    ds = load(two, query=query)
    assert ds.target_name == "species"


def test_a_sqlite_query_cannot_write(tmp_path):
    path = sqlite_db(tmp_path, {"penguins": frame()})
    with pytest.raises(DataError, match=r"data\.query: attempt to write a readonly database"):
        read_table(path, query="DELETE FROM penguins")
    assert read_table(path).n_rows == 40
    with pytest.raises(DataError, match=r"data\.query: no such table: pengu"):
        read_table(path, query="SELECT * FROM pengu")


# --------------------------------------------------------------------------------------------
# dates


def dated(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    return pd.DataFrame(
        {"x": rng.normal(size=n), "when": days, "y": (rng.normal(size=n) > 0).astype(int)}
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_a_date_column_becomes_its_parts(tmp_path, fmt):
    df = dated()
    path = tmp_path / f"t.{fmt}"
    getattr(df, "to_excel" if fmt == "xlsx" else f"to_{fmt}")(path, index=False)
    ds = load(path)
    parts = ("year", "month", "day", "dayofweek", "dayofyear", "elapsed_days")
    assert ds.feature_names == ("x", *(f"when_{p}" for p in parts))
    report = {c.name: c for c in ds.columns}["when"]
    assert report.kind == "date" and report.encoded_as == tuple(f"when_{p}" for p in parts)
    assert any(n.startswith("column 'when': ") and "-> 6 numeric parts" in n for n in ds.notes)
    raw = load(path, standardize=False)
    col = {n: j for j, n in enumerate(raw.feature_names)}
    everything = np.vstack([raw.X_train, raw.X_val])
    when = pd.DatetimeIndex(df["when"])
    assert sorted(everything[:, col["when_dayofyear"]]) == sorted(when.day_of_year)
    assert sorted(everything[:, col["when_elapsed_days"]]) == sorted(
        (when - pd.Timestamp("1970-01-01")).days
    )


def test_dates_drop_and_day_first_text(tmp_path):
    df = dated()
    df["when"] = df["when"].dt.strftime("%d/%m/%Y")  # 13/01/2023: day first
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    ds = load(path)
    assert any("day/month/year dates -> " in n for n in ds.notes)
    dropped = load(path, dates="drop")
    assert dropped.feature_names == ("x",)
    assert "column 'when': dropped, day/month/year dates (data.dates: drop)" in dropped.notes


def test_text_that_only_looks_like_dates_stays_text(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"code": ["2024-02-30", "2024-01-01"] * 10, "y": [0, 1] * 10}).to_csv(
        path, index=False
    )
    assert {c.name: c.kind for c in load(path).columns}["code"] == "categorical"


# --------------------------------------------------------------------------------------------
# the task, and rare classes


def counts_table(n: int = 300) -> pd.DataFrame:
    """A count target (Poisson-like, a long tail): 30-odd distinct integers, some once."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=n)
    y = rng.poisson(np.exp(2.5 + 0.6 * x))
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "count": y})


def test_an_integer_count_is_regression_with_the_reason(tmp_path):
    df = counts_table()
    distinct = df["count"].nunique()
    singles = int((df["count"].value_counts() == 1).sum())
    assert 10 < distinct <= 50 and singles
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    ds = load(path)
    assert ds.task == "regression"
    assert (
        f"target 'count': {distinct} distinct integer values ({singles} of them in a single"
        " row: a count or an amount, not class labels), so regression (set data.task:"
        " classification to predict them as classes)"
    ) in ds.notes


def test_few_integer_labels_stay_classes(tmp_path):
    df = counts_table()
    df["count"] = np.minimum(df["count"] // 8, 4)  # 5 levels
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    assert load(path).task == "classification"


def test_singleton_classes_name_the_classes_and_both_fixes(tmp_path):
    df = counts_table()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    counts = df["count"].value_counts()
    singles = sorted(counts[counts == 1].index)
    with pytest.raises(DataError) as e:
        load(path, task="classification")
    message = str(e.value)
    assert f"column 'count': {len(singles)} of {len(counts)} classes have one row (" in message
    assert f"'{singles[0]}'" in message
    assert message.endswith(
        "a stratified split needs 2 per class: set data.task: regression (a number to"
        f" predict) or data.min_class_count: 2 (drops {len(singles)} rows)"
    )
    ds = load(path, task="classification", min_class_count=2)
    assert ds.rows_dropped == {"rare class": len(singles)}
    assert ds.n_outputs == len(counts) - len(singles)
    assert any(n.startswith(f"target 'count': dropped {len(singles)} rows of") for n in ds.notes)


# --------------------------------------------------------------------------------------------
# the fingerprint, and new keys leave existing studies' ids alone


def test_data_fingerprint_of_a_file_and_of_a_builtin(tmp_path):
    path = _csv(tmp_path)
    spec = DataSpec(path="t.csv")
    read_table(path)
    key = sources_module._stat_key(path.stat())
    assert sources_module._DIGESTS[key] == hashlib.sha256(path.read_bytes()).hexdigest()
    found = data_fingerprint(spec, tmp_path)
    assert found == {
        "path": str(path.resolve()),
        "format": "csv",
        "size": path.stat().st_size,
        "mtime_ns": path.stat().st_mtime_ns,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    shuffled = frame()
    shuffled["species"] = shuffled["species"].iloc[::-1].to_numpy()  # same size, same path
    shuffled.to_csv(path, index=False)
    again = data_fingerprint(spec, tmp_path)
    assert again["size"] == found["size"] and again["sha256"] != found["sha256"]
    book = tmp_path / "b.xlsx"
    frame().to_excel(book, sheet_name="s1")
    sheet = data_fingerprint(DataSpec(path="b.xlsx", sheet="s1"), tmp_path)
    assert sheet["format"] == "xlsx" and sheet["sheet"] == "s1"
    assert sheet["sha256"] == hashlib.sha256(book.read_bytes()).hexdigest()
    assert data_fingerprint(DataSpec(builtin="moons", noise=0.2), tmp_path) == {
        "builtin": "moons",
        "version": sources_module.BUILTIN_VERSION,
        "n_samples": 1000,
        "noise": 0.2,
        "generator_seed": 0,
    }


def test_new_data_keys_at_their_defaults_leave_the_resolved_spec_alone():
    dumped = DataSpec(path="x.csv").model_dump(mode="json")
    for key in ("member", "sheet", "table", "query", "dates", "min_class_count",
                "over_max_categories"):  # fmt: skip
        assert key not in dumped
    assert DataSpec(path="x.xlsx", sheet=2024).sheet == "2024"  # a sheet named by a year
    assert DataSpec(path="x.csv", dates="drop").model_dump(mode="json")["dates"] == "drop"


# --------------------------------------------------------------------------------------------
# init then run, on a workbook and on a database


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def quick(path: Path) -> None:
    text = re.sub(r"epochs: \d+", "epochs: 2", path.read_text()).replace("seeds: 3", "seeds: 1")
    path.write_text(text.replace("rounds: 2", "rounds: 0"))


def test_init_and_run_on_a_workbook_sheet_and_a_sqlite_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pd.ExcelWriter("book.xlsx") as writer:
        pd.DataFrame({"about": ["notes"], "y": [0]}).to_excel(writer, sheet_name="readme")
        dated().to_excel(writer, sheet_name="data", index=False)
    made = invoke("init", "--data", "book.xlsx", "--sheet", "data", "--out", "book.yaml")
    assert made.exit_code == 0, made.output
    assert "  sheet: data\n" in Path("book.yaml").read_text()
    assert load_spec(tmp_path / "book.yaml").name == "book-data"  # the sheet in the name
    assert load_spec(tmp_path / "book.yaml").data.sheet == "data"
    quick(tmp_path / "book.yaml")
    ran = invoke("run", "book.yaml", "--jobs", "1", "--no-plots")
    assert ran.exit_code == 0, ran.output
    sqlite_db(tmp_path, {"counts": counts_table(), "other": frame()})
    made = invoke(
        "init", "--data", "data.sqlite", "--table", "counts", "--task", "regression",
        "--out", "db.yaml",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    text = Path("db.yaml").read_text()
    assert "  table: counts\n" in text and "task: regression" in text
    assert "name: data-counts " in text  # another table of the same file: another folder
    quick(tmp_path / "db.yaml")
    ran = invoke("run", "db.yaml", "--jobs", "1", "--no-plots")
    assert ran.exit_code == 0, ran.output


def test_init_drops_the_rows_of_single_row_classes_in_the_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    df = frame(60)
    df.loc[7, "species"] = "Adelie "  # one mistyped label
    df.to_csv("t.csv", index=False)
    made = invoke("init", "--data", "t.csv", "--out", "t.yaml")
    assert made.exit_code == 0, made.output
    assert "data.min_class_count: 2 in the spec" in made.stdout
    assert load_spec(tmp_path / "t.yaml").data.min_class_count == 2
