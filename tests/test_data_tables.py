"""Tables as people save them: index columns, strings, missing cells, delimiters, Parquet,
huge magnitudes; what happened to each column; and the bad inputs of BAD_INPUTS.md's data
section. The tables are made in ``tmp_path`` by each test."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose, assert_array_equal

from lrsweep.cli import cli
from lrsweep.data import load_dataset, read_table
from lrsweep.data.columns import Feature, fit_encoder
from lrsweep.errors import DataError
from lrsweep.spec import DataSpec

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
ISLANDS = ("Biscoe", "Dream", "Torgersen")


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def rows(n: int = 30, missing: bool = True) -> list[list[str]]:
    """A small messy table: a number with gaps, a string, a boolean, a numeric target-ish
    column and a string target with 3 classes."""
    out = []
    for i in range(n):
        mass = "" if missing and i % 7 == 3 else f"{3000 + 37 * (i % 11)}"
        out.append(
            [
                f"{30 + (i * 13) % 17}.5",  # bill
                mass,  # body mass, with empty cells
                ISLANDS[i % 3],  # island (string)
                ("True", "False")[i % 2],  # flag (boolean)
                ("Adelie", "Gentoo", "Chinstrap")[(i // 2) % 3],  # species
            ]
        )
    return out


HEADER = ["bill", "mass", "island", "flag", "species"]


def write(path: Path, header: list[str], body: list[list[str]], sep: str = ",") -> Path:
    path.write_text("\n".join(sep.join(r) for r in [header, *body]) + "\n", encoding="utf-8")
    return path


def load(path: Path, **spec) -> object:
    return load_dataset(DataSpec(path=str(path), **spec), path.parent)


def report(ds) -> dict:
    return ds.data_report()["columns"]


# --------------------------------------------------------------------------------------------
# index columns


def test_pandas_index_column_is_dropped(tmp_path):
    body = [[str(i), *r] for i, r in enumerate(rows())]
    ds = load(write(tmp_path / "t.csv", ["", *HEADER], body), target="species")
    cols = report(ds)
    assert cols["Unnamed: 0"]["role"] == "dropped" and cols["Unnamed: 0"]["kind"] == "index"
    assert "unnamed first column" in cols["Unnamed: 0"]["why"]
    assert any("'Unnamed: 0': dropped" in note for note in ds.notes)
    assert not any(n.startswith("Unnamed") for n in ds.feature_names)


def test_r_rownames_column_is_dropped(tmp_path):
    header = ['"rownames"', *(f'"{h}"' for h in HEADER)]
    body = [[f'"{i + 1}"', *(f'"{v}"' if v else "NA" for v in r)] for i, r in enumerate(rows())]
    ds = load(write(tmp_path / "t.csv", header, body), target="species")
    cols = report(ds)
    assert cols["rownames"] == {
        "role": "dropped",
        "kind": "index",
        "missing": 0,
        "encoded_as": [],
        "why": "an index column (named 'rownames')",
    }
    assert cols["mass"]["missing"] == 4


def test_integer_range_column_is_an_index_and_named_one_is_kept(tmp_path):
    body = [[str(i + 1), str(i * 3), *r] for i, r in enumerate(rows())]
    ds = load(write(tmp_path / "t.csv", ["id", "thrice", *HEADER], body), target="species")
    cols = report(ds)
    assert cols["id"]["kind"] == "index" and "1..30 in file order" in cols["id"]["why"]
    assert cols["thrice"]["role"] == "feature"
    kept = load(tmp_path / "t.csv", target="species", features=["id", "bill"])
    assert report(kept)["id"]["role"] == "feature"  # named in data.features: the user decides


# --------------------------------------------------------------------------------------------
# strings, booleans, missing values


def test_strings_and_booleans_are_one_hot_and_numbers_imputed(tmp_path):
    ds = load(write(tmp_path / "t.csv", HEADER, rows()), target="species", standardize=False)
    cols = report(ds)
    assert cols["island"]["kind"] == "categorical"
    assert cols["island"]["encoded_as"] == [f"island={i}" for i in ISLANDS]
    assert cols["flag"]["encoded_as"] == ["flag=False", "flag=True"]
    assert cols["mass"] == {
        "role": "feature",
        "kind": "numeric",
        "missing": 4,
        "encoded_as": ["mass", "mass_missing"],
        "why": "a number, median-imputed with an indicator",
    }
    assert cols["species"]["role"] == "target"
    assert ds.class_names == ("Adelie", "Chinstrap", "Gentoo")
    X = np.vstack([ds.X_train, ds.X_val])
    j = ds.feature_names.index("mass_missing")
    assert X[:, j].sum() == 4
    onehot = X[:, [ds.feature_names.index(f"island={i}") for i in ISLANDS]]
    assert_array_equal(onehot.sum(axis=1), np.ones(len(X)))
    # imputed with the training median
    train_mass = ds.X_train[:, ds.feature_names.index("mass")]
    missing_rows = ds.X_train[:, j] == 1
    present = train_mass[~missing_rows]
    assert_allclose(train_mass[missing_rows], np.median(present))


@pytest.mark.parametrize("token", ["", "NA", "NaN", "null", "?", "inf", "-inf", "1e400"])
def test_missing_tokens_and_non_finite_numbers_are_missing(tmp_path, token):
    body = rows(missing=False)
    body[4][1] = token
    ds = load(write(tmp_path / "t.csv", HEADER, body), target="species")
    assert report(ds)["mass"]["missing"] == 1
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_val).all()


def test_custom_na_values(tmp_path):
    body = rows(missing=False)
    body[2][1] = "-999"
    ds = load(write(tmp_path / "t.csv", HEADER, body), target="species", na_values=["-999"])
    assert report(ds)["mass"]["missing"] == 1


def test_missing_drop_drops_rows_and_counts_them(tmp_path):
    ds = load(write(tmp_path / "t.csv", HEADER, rows()), target="species", missing="drop")
    data = ds.data_report()
    assert data["rows_read"] == 30 and data["rows_used"] == 26
    assert data["rows_dropped"] == {"feature missing": 4}
    assert data["columns"]["mass"]["encoded_as"] == ["mass"]


def test_missing_category_is_a_level(tmp_path):
    body = rows(missing=False)
    for i in (0, 1, 2, 5, 9, 13):
        body[i][2] = "NA"
    ds = load(write(tmp_path / "t.csv", HEADER, body), target="species")
    assert "island=(missing)" in report(ds)["island"]["encoded_as"]
    assert report(ds)["island"]["missing"] == 6


def test_rows_with_a_missing_target_are_dropped_and_counted(tmp_path):
    body = rows()
    body[0][4] = body[7][4] = ""
    ds = load(write(tmp_path / "t.csv", HEADER, body), target="species")
    data = ds.data_report()
    assert data["rows_dropped"] == {"target missing": 2}
    assert data["rows_used"] == 28 and data["columns"]["species"]["missing"] == 2


def test_category_first_seen_in_validation_encodes_as_zeros():
    values = np.array(["a", "b", "a", "zebra"], dtype=object)
    features = [Feature("x", "categorical", values)]
    encoder = fit_encoder(features, np.array([0, 1, 2]))
    assert encoder.categories["x"] == ("a", "b")
    assert_array_equal(encoder.transform(features, np.array([3, 0])), [[0, 0], [1, 0]])


def test_categorical_and_numeric_overrides(tmp_path):
    body = [[f"{i % 4}", f"{i}5", ("x", "y")[i % 2]] for i in range(24)]
    path = write(tmp_path / "t.csv", ["code", "num", "y"], body)
    ds = load(path, categorical=["code"])
    assert report(ds)["code"]["encoded_as"] == ["code=0", "code=1", "code=2", "code=3"]
    body[5][1] = "'12'"
    write(path, ["code", "num", "y"], body)
    assert report(load(path))["num"]["kind"] == "categorical"
    with pytest.raises(
        DataError,
        match=exactly(f"{path}:7: column 'num': not a number (data.numeric), got \"'12'\""),
    ):
        load(path, numeric=["num"])


def test_too_many_categories(tmp_path):
    body = [[f"{i}.5", f"name{i}", ("x", "y")[i % 2]] for i in range(60)]
    path = write(tmp_path / "t.csv", ["a", "who", "y"], body)
    msg = (
        f"{path}: column 'who': 60 levels, more than data.max_categories (50); drop it "
        f"(data.drop: [who]) or raise data.max_categories"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load(path)
    assert report(load(path, drop=["who"]))["who"]["why"] == "in data.drop"
    assert len(report(load(path, max_categories=100))["who"]["encoded_as"]) >= 40


def test_constant_and_empty_columns_are_dropped(tmp_path):
    body = [[*r[:3], "7", "NA", r[4]] for r in rows()]
    ds = load(write(tmp_path / "t.csv", [*HEADER[:3], "const", "blank", "species"], body))
    cols = report(ds)
    assert (
        cols["const"]["kind"] == "constant"
        and cols["const"]["why"] == "constant (every value is '7')"
    )
    assert cols["blank"]["kind"] == "empty" and cols["blank"]["missing"] == 30


def test_unknown_column_names_in_lists(tmp_path):
    path = write(tmp_path / "t.csv", HEADER, rows())
    msg = (
        f"{path}: data.drop: no column 'islnd'; columns are 'bill', 'mass', 'island', 'flag', "
        f"'species'; did you mean 'island'?"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load(path, drop=["islnd"])


# --------------------------------------------------------------------------------------------
# warnings and the task


def test_a_feature_equal_to_the_target_is_a_warning(tmp_path):
    body = [[*r, r[4].upper()] for r in rows()]
    ds = load(write(tmp_path / "t.csv", [*HEADER, "copy"], body), target="species")
    leaks = [n for n in ds.notes if n.startswith("warning:")]
    assert leaks == [
        "warning: column 'copy' determines the target 'species' one to one; it is almost"
        " certainly a leak (drop it with data.drop: [copy])"
    ]


def test_integer_target_becoming_classes_is_said(tmp_path):
    body = [[f"{i * 0.37:.3f}", str(i % 3)] for i in range(30)]
    path = write(tmp_path / "t.csv", ["x", "grade"], body)
    ds = load(path)
    assert ds.task == "classification"
    assert "target 'grade': 3 distinct integer values, so classification" in ds.notes[0]
    assert load(path, task="regression").task == "regression"


# --------------------------------------------------------------------------------------------
# file formats


@pytest.mark.parametrize(
    "sep, name", [(";", "t.csv"), ("\t", "t.tsv"), ("\t", "t.txt"), ("|", "t.csv")]
)
def test_delimiters_are_sniffed(tmp_path, sep, name):
    ds = load(write(tmp_path / name, HEADER, rows(), sep=sep), target="species")
    assert report(ds)["island"]["encoded_as"] == [f"island={i}" for i in ISLANDS]


def test_semicolon_with_decimal_commas(tmp_path):
    body = [[r[0].replace(".", ","), *r[1:]] for r in rows()]
    ds = load(write(tmp_path / "t.csv", HEADER, body, sep=";"), target="species")
    assert report(ds)["bill"]["kind"] == "numeric"
    raw = load(tmp_path / "t.csv", target="species", standardize=False)
    assert sorted(set(raw.X_train[:, 0]))[:2] == [30.5, 31.5]


def test_semicolon_with_decimal_points_and_quotes(tmp_path):
    body = [[f'"{r[0]}"', r[1], f'"{r[2]}; the island"', r[3], r[4]] for r in rows()]
    ds = load(write(tmp_path / "t.csv", HEADER, body, sep=";"), target="species")
    assert report(ds)["island"]["encoded_as"][0] == "island=Biscoe; the island"
    assert report(ds)["bill"]["kind"] == "numeric"


def test_bom_and_crlf(tmp_path):
    text = "\r\n".join(",".join(r) for r in [HEADER, *rows()]) + "\r\n"
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    ds = load(path, target="species")
    assert "bill" in report(ds) and report(ds)["species"]["role"] == "target"


def test_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(rows(), columns=HEADER)
    frame["bill"] = frame["bill"].astype(float)
    frame["mass"] = pd.to_numeric(frame["mass"].replace("", None))
    frame["flag"] = frame["flag"] == "True"
    frame.to_parquet(tmp_path / "t.parquet")
    ds = load(tmp_path / "t.parquet", target="species")
    cols = report(ds)
    assert cols["mass"]["missing"] == 4 and cols["mass"]["kind"] == "numeric"
    assert cols["flag"]["encoded_as"] == ["flag=False", "flag=True"]
    assert ds.class_names == ("Adelie", "Chinstrap", "Gentoo")


def test_penguins_as_published():
    ds = load_dataset(DataSpec(path="penguins.csv", target="species"), SAMPLE_DATA)
    data = ds.data_report()
    assert data["rows_read"] == 344 and data["rows_used"] == 344
    assert ds.class_names == ("Adelie", "Chinstrap", "Gentoo")
    assert data["columns"]["sex"]["missing"] == 11
    assert data["columns"]["sex"]["encoded_as"] == ["sex=(missing)", "sex=female", "sex=male"]
    assert all(c["role"] in ("feature", "target") for c in data["columns"].values())
    assert len(ds.feature_names) == 15


# --------------------------------------------------------------------------------------------
# numbers of any size


def test_standardisation_is_scale_free(tmp_path):
    base = [[f"{(i * 7919) % 101 / 10!r}", ("x", "y")[i % 2]] for i in range(40)]
    ref = load(write(tmp_path / "a.csv", ["v", "y"], base))
    for factor in (2.0**996, 2.0**-1000):  # exact in binary: the very same inputs
        scaled = [[repr(float(v) * factor), y] for v, y in base]
        ds = load(write(tmp_path / "b.csv", ["v", "y"], scaled))
        assert_array_equal(ds.X_train, ref.X_train)
    for factor in (1e300, 1e-310):
        scaled = [[repr(float(v) * factor), y] for v, y in base]
        ds = load(write(tmp_path / "b.csv", ["v", "y"], scaled))
        assert np.isfinite(ds.X_train).all()
        assert_allclose(ds.X_train, ref.X_train, rtol=1e-6 if factor < 1 else 1e-12, atol=1e-9)


# --------------------------------------------------------------------------------------------
# bad inputs


def test_ragged_row_names_the_line(tmp_path):
    body = rows(missing=False)
    body[9] = body[9][:4]
    path = write(tmp_path / "t.csv", HEADER, body)
    with pytest.raises(DataError, match=exactly(f"{path}:11: expected 5 fields, got 4")):
        load(path, target="species")


def test_binary_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n\x00\x01\x02")
    msg = f"{path}: not a text table (a NUL byte at byte 9: binary data); expected CSV, TSV, JSON Lines, Parquet, Feather, Excel, ODS or SQLite"
    with pytest.raises(DataError, match=exactly(msg)):
        load(path)


def test_fifo_is_refused_before_opening(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    msg = f"{fifo}: is a FIFO, expected a regular data file (CSV, TSV, JSON Lines, Parquet, Feather, Excel, ODS or SQLite)"
    with pytest.raises(DataError, match=exactly(msg)):  # never a hang: nothing writes to it
        read_table(fifo)


def test_device_and_symlink_loop(tmp_path):
    msg = "/dev/zero: is a device, expected a regular data file (CSV, TSV, JSON Lines, Parquet, Feather, Excel, ODS or SQLite)"
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(Path("/dev/zero"))
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(
        DataError, match=r"loop\.csv: cannot read: Too many levels of symbolic links"
    ):
        read_table(loop)


def test_a_file_over_the_memory_it_would_need(tmp_path, monkeypatch):
    path = write(tmp_path / "t.csv", HEADER, rows())
    monkeypatch.setenv("LRSWEEP_MEMORY_BYTES", "1000")  # the one probe the cost model reads too
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(path))}: too large to load: needs about"
    ):
        read_table(path)


def test_header_only_and_one_class(tmp_path):
    path = write(tmp_path / "t.csv", HEADER, [])
    with pytest.raises(DataError, match=exactly(f"{path}: no data rows (only a header)")):
        load(path)
    body = [[*r[:4], "Adelie"] for r in rows()]
    path = write(tmp_path / "t.csv", HEADER, body)
    msg = f"{path}: column 'species': classification needs at least 2 classes, got only 'Adelie'"
    with pytest.raises(DataError, match=exactly(msg)):
        load(path)


def test_missing_parquet_reader_is_one_line(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1....PAR1")
    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    msg = f"{path}: reading Parquet needs pyarrow; install it with: pip install 'lrsweep[parquet]'"
    with pytest.raises(DataError, match=exactly(msg)):
        read_table(path)


# --------------------------------------------------------------------------------------------
# the command line: init --data F --target T, then run


def small_spec(text: str) -> str:
    """The init spec cut to 2 LRs x 2 epochs x 1 seed, no refine rounds."""
    text = re.sub(r"epochs: \d+", "epochs: 2", text)
    text = re.sub(r"seeds: \d+", "seeds: 1", text)
    text = re.sub(r"lr_min: \S+", "lr_min: 0.01", text)
    text = re.sub(r"lr_max: \S+", "lr_max: 0.1", text)
    text = re.sub(r"points_per_decade: \d+", "points_per_decade: 1", text)
    return re.sub(r"rounds: \d+", "rounds: 0", text)


def make_table(kind: str, tmp_path: Path) -> Path:
    body = rows()
    if kind == "pandas-index":
        return write(tmp_path / "t.csv", ["", *HEADER], [[str(i), *r] for i, r in enumerate(body)])
    if kind == "r-rownames":
        body = [[f'"{i + 1}"', *(v or "NA" for v in r)] for i, r in enumerate(body)]
        return write(tmp_path / "t.csv", ['"rownames"', *HEADER], body)
    if kind == "semicolon":
        return write(tmp_path / "t.csv", HEADER, body, sep=";")
    if kind == "parquet":
        pd = pytest.importorskip("pandas")
        pytest.importorskip("pyarrow")
        frame = pd.DataFrame(body, columns=HEADER)
        frame["bill"] = frame["bill"].astype(float)
        frame["mass"] = pd.to_numeric(frame["mass"].replace("", None))
        frame.to_parquet(tmp_path / "t.parquet")
        return tmp_path / "t.parquet"
    return write(tmp_path / "t.csv", HEADER, body)  # strings and empty cells


@pytest.mark.parametrize(
    "kind", ["pandas-index", "r-rownames", "strings-empty", "semicolon", "parquet"]
)
def test_init_then_run(tmp_path, kind):
    table = make_table(kind, tmp_path)
    spec = tmp_path / "spec.yaml"
    runner = CliRunner()
    init = runner.invoke(
        cli, ["init", "--data", str(table), "--target", "species", "--out", str(spec)]
    )
    assert init.exit_code == 0, init.output
    text = spec.read_text()
    assert "#   island: categorical, one-hot (3 inputs)" in text
    assert "#   mass: numeric, 4 missing -> median + indicator" in text
    spec.write_text(small_spec(text))
    out = tmp_path / "r"
    run = runner.invoke(cli, ["run", str(spec), "--out", str(out), "--no-plots"])
    assert run.exit_code == 0, run.output
    assert (
        f"{table.name}: 30 rows; 4 features -> 8 inputs (2 categorical one-hot, 1 numeric imputed)"
        in run.output
    )
    columns = json.loads((out / "summary.json").read_text())["data"]["columns"]
    assert columns["species"]["role"] == "target" and columns["island"]["kind"] == "categorical"
    if kind in ("pandas-index", "r-rownames"):
        index = "Unnamed: 0" if kind == "pandas-index" else "rownames"
        assert columns[index]["kind"] == "index" and columns[index]["role"] == "dropped"
        assert f"#   {index}: dropped, an index column" in text


def test_init_on_the_penguins_then_run_unedited_is_valid(tmp_path):
    spec = tmp_path / "p.yaml"
    runner = CliRunner()
    data = SAMPLE_DATA / "penguins.csv"
    init = runner.invoke(
        cli, ["init", "--data", str(data), "--target", "species", "--out", str(spec)]
    )
    assert init.exit_code == 0, init.output
    assert (
        "penguins.csv: 344 rows; 7 features -> 15 inputs (2 categorical one-hot, 4 numeric imputed)"
        in init.output
    )
    check = runner.invoke(cli, ["validate", str(spec)])
    assert check.exit_code == 0, check.output
    assert "sex=(missing)" not in check.output or "sex" in check.output


def test_bad_table_is_exit_2_and_writes_nothing(tmp_path):
    body = rows(missing=False)
    body[3] = body[3] + ["extra"]
    table = write(tmp_path / "t.csv", HEADER, body)
    spec = tmp_path / "s.yaml"
    result = CliRunner().invoke(cli, ["init", "--data", str(table), "--out", str(spec)])
    assert result.exit_code == 2
    assert f"Error: {table}:5: expected 5 fields, got 6" in result.output
    assert not spec.exists()


def test_the_report_shows_the_data_section(tmp_path):
    from lrsweep.page import DATA_HEADER, data_facts

    ds = load(write(tmp_path / "t.csv", HEADER, rows()), target="species")
    line, table = data_facts({"data": ds.data_report()})
    assert (
        line == "t.csv: 30 rows; 4 features -> 8 inputs (2 categorical one-hot, 1 numeric imputed)"
    )
    assert len(DATA_HEADER) == len(table[0])
    assert table[1] == [
        "mass",
        "feature",
        "numeric",
        "4",
        "mass, mass_missing",
        "a number, median-imputed with an indicator",
    ]
    assert data_facts({"name": "no data section"}) is None
