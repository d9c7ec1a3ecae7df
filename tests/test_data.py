"""Tests for lrsweep.data: loading sample files, builtins, split, standardisation, batches,
bad inputs. Messy real-world tables (index columns, strings, missing cells, delimiters,
Parquet) are in test_data_tables.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from lrsweep.data import (
    Dataset,
    batch_indices,
    load_dataset,
    read_header,
    standardize,
    subsample_train,
)
from lrsweep.data.split import split_rows
from lrsweep.errors import DataError
from lrsweep.spec import DataSpec

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def make_spec(**overrides):
    """A DataSpec with every other field at its default, built without validation so that a
    test can hand the loader values the spec layer would already have refused."""
    return DataSpec.model_construct(**overrides)


def load_csv(tmp_path: Path, text: str | bytes, name: str = "x.csv", **overrides) -> Dataset:
    file = tmp_path / name
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text, encoding="utf-8")
    return load_dataset(make_spec(path=name, **overrides), tmp_path)


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def small_csv(n_per_class: int = 5, labels=("cat", "dog")) -> str:
    lines = ["a,b,label"]
    for i in range(n_per_class):
        for j, label in enumerate(labels):
            lines.append(f"{i},{i * j + 0.5},{label}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset(make_spec(path="digits.csv"), SAMPLE_DATA)


# --------------------------------------------------------------------------------------------
# the bundled sample data


def test_digits_shape_and_classes(digits):
    assert digits.task == "classification"
    assert digits.n_outputs == 10
    assert digits.class_names == tuple(str(i) for i in range(10))
    assert digits.X_train.shape[1] == digits.X_val.shape[1] == 61  # 3 constant pixels dropped
    assert len(digits.X_train) + len(digits.X_val) == 1797
    assert len(digits.X_val) == round(1797 * 0.2)
    assert digits.feature_names[0] == "pixel_0_1" and digits.feature_names[-1] == "pixel_7_7"
    dropped = [c.name for c in digits.columns if c.role == "dropped"]
    assert dropped == ["pixel_0_0", "pixel_4_0", "pixel_4_7"]
    assert all(c.kind == "constant" for c in digits.columns if c.role == "dropped")
    assert digits.target_name == "label"
    assert digits.X_train.dtype == digits.X_val.dtype == np.float64
    assert digits.y_train.dtype == digits.y_val.dtype == np.int64
    assert digits.y_train.shape == (len(digits.X_train),)
    assert digits.source == str(SAMPLE_DATA / "digits.csv")


def test_digits_split_is_stratified(digits):
    y_all = np.concatenate([digits.y_train, digits.y_val])
    n_val = len(digits.y_val)
    expected = np.bincount(y_all) * n_val / len(y_all)
    got = np.bincount(digits.y_val, minlength=10)
    assert np.all(np.abs(got - expected) < 1.0)


def test_diabetes_is_inferred_regression():
    ds = load_dataset(make_spec(path="diabetes.csv", standardize=False), SAMPLE_DATA)
    assert ds.task == "regression"
    assert ds.n_outputs == 1 and ds.class_names == ()
    assert ds.target_name == "progression"
    assert ds.feature_names == ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    assert len(ds.X_train) + len(ds.X_val) == 442
    assert ds.y_train.shape == (len(ds.X_train), 1) and ds.y_train.dtype == np.float64
    # unscaled original values: ages in years, progression 25..346
    assert 19 <= ds.X_train[:, 0].min() and ds.X_train[:, 0].max() <= 79
    assert 25 <= min(ds.y_train.min(), ds.y_val.min())


def test_regression_target_is_standardised_on_train():
    ds = load_dataset(make_spec(path="diabetes.csv"), SAMPLE_DATA)
    assert_allclose(ds.y_train.mean(), 0.0, atol=1e-12)
    assert_allclose(ds.y_train.std(), 1.0)
    assert ds.y_val.mean() != 0.0


def test_read_header():
    names = read_header(SAMPLE_DATA / "diabetes.csv")
    assert names == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"]


# --------------------------------------------------------------------------------------------
# CSV features


def test_string_labels_sorted(tmp_path):
    ds = load_csv(tmp_path, small_csv(labels=("zebra", "ant", "moth")))
    assert ds.task == "classification"
    assert ds.class_names == ("ant", "moth", "zebra")
    assert ds.n_outputs == 3
    assert set(np.concatenate([ds.y_train, ds.y_val])) == {0, 1, 2}


def test_target_by_name_and_default_last(tmp_path):
    text = "label,a,b\n" + "".join(f"{i % 2},{i + 5},{i * 0.5}\n" for i in range(10))
    by_name = load_csv(tmp_path, text, target="label")
    assert by_name.task == "classification"
    assert by_name.feature_names == ("a", "b") and by_name.class_names == ("0", "1")
    default = load_csv(tmp_path, text)
    assert default.task == "regression"
    assert default.target_name == "b" and default.feature_names == ("label", "a")


def test_default_target_is_last_column(tmp_path):
    ds = load_csv(tmp_path, small_csv())
    assert ds.target_name == "label" and ds.feature_names == ("a", "b")


def test_auto_task_rule(tmp_path):
    def csv_with_targets(values):
        return "a,y\n" + "".join(f"{i * 2},{v}\n" for i, v in enumerate(values))

    few_ints = [i % 3 for i in range(30)]  # 3 distinct <= min(50, 30/5)
    assert load_csv(tmp_path, csv_with_targets(few_ints)).task == "classification"
    as_floats = [f"{v}.0" for v in few_ints]  # 3.0 counts as an integer
    assert load_csv(tmp_path, csv_with_targets(as_floats)).class_names == ("0", "1", "2")
    many_ints = [i % 10 for i in range(30)]  # 10 distinct > 30/5
    assert load_csv(tmp_path, csv_with_targets(many_ints)).task == "regression"
    reals = [i / 7 for i in range(30)]
    assert load_csv(tmp_path, csv_with_targets(reals)).task == "regression"
    forced = load_csv(tmp_path, csv_with_targets(many_ints), task="classification")
    assert forced.class_names == tuple(str(i) for i in range(10))  # numeric order


def test_numeric_labels_sort_as_numbers(tmp_path):
    text = "a,y\n" + "".join(f"{i * 2},{(2, 10)[i % 2]}\n" for i in range(10))
    ds = load_csv(tmp_path, text, task="classification")
    assert ds.class_names == ("2", "10")


def test_bom_crlf_blank_lines_and_quotes(tmp_path):
    text = '\ufeff"a","b",label\r\n' + "".join(
        f"{i * 2}, {i}.5 ,c{i % 2}\r\n\r\n" for i in range(10)
    )
    ds = load_csv(tmp_path, text.encode("utf-8"))
    assert ds.feature_names == ("a", "b")
    assert len(ds.X_train) + len(ds.X_val) == 10


# --------------------------------------------------------------------------------------------
# split and standardisation


def test_standardisation_uses_train_statistics_only(digits):
    raw = load_dataset(make_spec(path="digits.csv", standardize=False), SAMPLE_DATA)
    varying = raw.X_train.std(axis=0) > 0
    assert_allclose(digits.X_train[:, varying].mean(axis=0), 0.0, atol=1e-12)
    assert_allclose(digits.X_train[:, varying].std(axis=0), 1.0)
    assert np.all(digits.X_val.mean(axis=0)[varying] != 0.0)
    mean, std = raw.X_train.mean(axis=0)[varying], raw.X_train.std(axis=0)[varying]
    assert_allclose(digits.X_val[:, varying], (raw.X_val[:, varying] - mean) / std)


def test_column_constant_on_train_gives_zeros_not_nan():
    train = np.array([[1.0, 7.3], [2.0, 7.3], [3.0, 7.3]])
    val = np.array([[4.0, 7.3], [5.0, 9.0]])
    t, v = standardize(train, val)
    assert np.all(t[:, 1] == 0.0) and v[0, 1] == 0.0
    assert np.all(np.isfinite(t)) and np.all(np.isfinite(v))


def test_split_is_deterministic_and_seeded(digits):
    again = load_dataset(make_spec(path="digits.csv"), SAMPLE_DATA)
    assert_array_equal(again.X_train, digits.X_train)
    assert_array_equal(again.y_val, digits.y_val)
    other = load_dataset(make_spec(path="digits.csv", split_seed=1), SAMPLE_DATA)
    assert other.X_val.shape == digits.X_val.shape
    assert not np.array_equal(other.X_val, digits.X_val)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(2, 40), min_size=2, max_size=8),
    val_fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_split_property(counts, val_fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    classes = tuple(str(i) for i in range(len(counts)))
    is_val = split_rows(y, "classification", classes, val_fraction, seed, "test", "y")
    y_val, y_train = y[is_val], y[~is_val]
    n, k = len(y), len(counts)
    n_val = min(max(1, round(n * val_fraction)), n - k)
    assert len(y_val) == n_val
    got = np.bincount(y_val, minlength=k)
    train = np.bincount(y_train, minlength=k)
    assert np.all(train >= 1)
    assert_array_equal(got + train, counts)
    if n_val >= k:
        assert np.all(got >= 1)
    expected = np.array(counts) * n_val / n
    lower, upper = (1 if n_val >= k else 0), np.array(counts) - 1
    if np.all((np.floor(expected) >= lower) & (np.ceil(expected) <= upper)):
        assert np.all(np.abs(got - expected) < 1.0)  # no bound binds: floor or ceil
    else:
        assert np.all((got >= lower) & (got <= upper))


def test_val_size_is_clamped(tmp_path):
    text = "a,y\n" + "".join(f"{i * 2},{i * 0.5}\n" for i in range(5))
    tiny_val = load_csv(tmp_path, text, val_fraction=0.01)
    assert len(tiny_val.X_val) == 1 and len(tiny_val.X_train) == 4
    huge_val = load_csv(tmp_path, text, val_fraction=0.99)
    assert len(huge_val.X_val) == 3 and len(huge_val.X_train) == 2


def test_dataset_arrays_are_read_only(digits):
    with pytest.raises(ValueError):
        digits.X_train[0, 0] = 1.0


# --------------------------------------------------------------------------------------------
# subsample and batches


def test_subsample_is_stratified_and_keeps_every_class(digits):
    sub = subsample_train(digits, 0.1, seed=0)
    assert len(sub.X_train) == round(len(digits.X_train) * 0.1)
    counts = np.bincount(sub.y_train, minlength=10)
    expected = np.bincount(digits.y_train) * len(sub.y_train) / len(digits.y_train)
    assert np.all(counts >= 1) and np.all(np.abs(counts - expected) < 1.0)
    assert sub.X_val is digits.X_val and sub.y_val is digits.y_val
    assert_array_equal(subsample_train(digits, 0.1, seed=0).X_train, sub.X_train)
    assert subsample_train(digits, 1.0, seed=0) is digits


def test_subsample_tiny_fraction_keeps_one_per_class(digits):
    sub = subsample_train(digits, 0.001, seed=3)
    assert_array_equal(np.bincount(sub.y_train, minlength=10), np.ones(10))


def test_subsample_regression():
    ds = load_dataset(make_spec(path="diabetes.csv"), SAMPLE_DATA)
    sub = subsample_train(ds, 0.5, seed=0)
    assert sub.X_train.shape == (round(len(ds.X_train) * 0.5), 10)
    assert sub.y_train.shape == (len(sub.X_train), 1)


@pytest.mark.parametrize("n, batch_size", [(10, 3), (9, 3), (5, 32), (1, 1), (0, 4)])
def test_batch_indices_cover_each_index_once(n, batch_size):
    rng = np.random.default_rng(0)
    for _ in range(3):  # three epochs, new order each
        batches = batch_indices(n, batch_size, rng)
        assert_array_equal(np.sort(np.concatenate(batches or [np.array([], int)])), np.arange(n))
        assert all(len(b) == batch_size for b in batches[:-1])
        assert len(batches) == -(-n // batch_size)


def test_batch_indices_deterministic():
    a = batch_indices(100, 7, np.random.default_rng(5))
    b = batch_indices(100, 7, np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# --------------------------------------------------------------------------------------------
# builtins


@pytest.mark.parametrize(
    "name, task, n_features, n_outputs",
    [
        ("spirals", "classification", 2, 3),
        ("moons", "classification", 2, 2),
        ("teacher", "regression", 10, 1),
    ],
)
def test_builtin_shapes_and_determinism(name, task, n_features, n_outputs):
    spec = make_spec(builtin=name, n_samples=300)
    ds = load_dataset(spec, Path("."))
    assert ds.task == task and ds.n_outputs == n_outputs
    assert ds.source == f"builtin:{name}"
    assert ds.X_train.shape == (240, n_features) and ds.X_val.shape == (60, n_features)
    if task == "regression":
        assert ds.y_train.shape == (240, 1)
    else:
        assert ds.y_train.shape == (240,) and ds.y_train.dtype == np.int64
    again = load_dataset(make_spec(builtin=name, n_samples=300), Path("."))
    for field in ("X_train", "y_train", "X_val", "y_val"):
        assert_array_equal(getattr(again, field), getattr(ds, field))
    other = load_dataset(make_spec(builtin=name, n_samples=300, generator_seed=1), Path("."))
    assert not np.array_equal(other.X_train, ds.X_train)


def test_builtin_options():
    spirals = load_dataset(make_spec(builtin="spirals", n_classes=5, n_samples=101), Path("."))
    assert spirals.n_outputs == 5 and spirals.class_names == ("0", "1", "2", "3", "4")
    teacher = load_dataset(make_spec(builtin="teacher", n_features=4, n_samples=50), Path("."))
    assert teacher.X_train.shape == (40, 4)


def test_builtin_does_not_touch_global_rng():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    load_dataset(make_spec(builtin="teacher"), Path("."))
    assert_array_equal(np.random.get_state()[1], before)


# --------------------------------------------------------------------------------------------
# bad inputs (BAD_INPUTS.md, "The data")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=exactly(f"{tmp_path / 'nope.csv'}: no such file")):
        load_dataset(make_spec(path="nope.csv"), tmp_path)


def test_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    msg = f"{tmp_path / 'd.csv'}: is a directory, expected a data file (CSV, TSV, JSON Lines, Parquet, Feather, Excel, ODS or SQLite)"
    with pytest.raises(DataError, match=exactly(msg)):
        load_dataset(make_spec(path="d.csv"), tmp_path)
    with pytest.raises(DataError, match=exactly(msg)):
        read_header(tmp_path / "d.csv")


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_file(tmp_path, text):
    msg = f"{tmp_path / 'x.csv'}: empty file, expected a header row"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, text)


def test_header_only(tmp_path):
    msg = f"{tmp_path / 'x.csv'}: no data rows (only a header)"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, "a,b,label\n")


def test_absolute_path_ignores_base_dir(tmp_path):
    (tmp_path / "abs.csv").write_text(small_csv())
    ds = load_dataset(make_spec(path=str(tmp_path / "abs.csv")), Path("/nonexistent"))
    assert ds.source == str(tmp_path / "abs.csv")


def test_ragged_rows(tmp_path):
    short = small_csv().replace("3,0.5,cat\n", "3,cat\n")
    msg = f"{tmp_path / 'x.csv'}:8: expected 3 fields, got 2"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, short)
    long = small_csv() + "1,2,3,cat\n"
    msg = f"{tmp_path / 'x.csv'}:12: expected 3 fields, got 4"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, long)


def test_target_column_missing(tmp_path):
    msg = (
        f"{tmp_path / 'x.csv'}: data.target: no column 'lbl'; columns are 'a', 'b', "
        f"'label'; did you mean 'label'?"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, small_csv(), target="lbl")


def test_target_column_missing_no_hint(tmp_path):
    msg = f"{tmp_path / 'x.csv'}: data.target: no column 'zzz'; columns are 'a', 'b', 'label'"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, small_csv(), target="zzz")


def test_single_class(tmp_path):
    msg = (
        f"{tmp_path / 'x.csv'}: column 'label': classification needs at least 2 classes, "
        f"got only 'cat'"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, small_csv(labels=("cat",)))


def test_class_with_one_sample(tmp_path):
    text = small_csv() + "9,9,emu\n"
    msg = (
        f"{tmp_path / 'x.csv'}: column 'label': 1 of 3 classes has one row ('emu'); a"
        " stratified split needs 2 per class: set data.min_class_count: 2 (drops that row)"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, text)


def test_string_target_with_task_regression(tmp_path):
    msg = (
        f"{tmp_path / 'x.csv'}:2: column 'label': not a number "
        f"(data.task is regression), got 'cat'"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, small_csv(), task="regression")


@pytest.mark.parametrize("rows", [1, 2])
def test_too_few_samples(tmp_path, rows):
    text = "a,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(rows))
    msg = (
        f"{tmp_path / 'x.csv'}: too few samples: need at least 3 (2 to train, 1 to "
        f"validate), got {rows}"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, text)


@pytest.mark.parametrize("fraction", [0, 1, 0.0, 1.0, -0.5])
def test_val_fraction_out_of_range(fraction):
    with pytest.raises(ValueError, match=r"val_fraction\n  Input should be (greater|less) than"):
        DataSpec(path="x.csv", val_fraction=fraction)


def test_fewer_samples_than_batch_size_is_one_full_batch():
    batches = batch_indices(5, 32, np.random.default_rng(0))
    assert len(batches) == 1 and sorted(batches[0]) == [0, 1, 2, 3, 4]


def test_duplicate_header(tmp_path):
    msg = f"{tmp_path / 'x.csv'}:1: duplicate column name, got 'a' (columns 1 and 3)"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, "a,b,a,label\n1,2,3,x\n")
    with pytest.raises(DataError, match=exactly(msg)):
        read_header(tmp_path / "x.csv")


def test_empty_header_name(tmp_path):
    msg = f"{tmp_path / 'x.csv'}:1: column 2: empty column name, got ''"
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, "a,,label\n1,2,x\n")


def test_single_column(tmp_path):
    msg = (
        f"{tmp_path / 'x.csv'}:1: header: found no delimiter (',', ';', '\\t', '|'), got 'y'; "
        f"a table needs a feature and a target column"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, "y\n1\n2\n3\n")


def test_not_utf8(tmp_path):
    data = small_csv(labels=("cafe", "tea")).encode() + "1,2,caf\xe9\n".encode("latin-1")
    msg = (
        f"{tmp_path / 'x.csv'}:12: not UTF-8 text, got byte 0xe9 at column 8; "
        f"save the file as UTF-8"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_csv(tmp_path, data)


def test_utf8_labels_are_fine(tmp_path):
    ds = load_csv(tmp_path, small_csv(labels=("café", "thé")))
    assert ds.class_names == ("café", "thé")


def test_unknown_builtin():
    msg = (
        "data.builtin: unknown 'spiral'; choose one of 'spirals', 'moons', 'teacher'; "
        "did you mean 'spirals'?"
    )
    with pytest.raises(DataError, match=exactly(msg)):
        load_dataset(make_spec(builtin="spiral"), Path("."))


def test_path_and_builtin_both_or_neither():
    with pytest.raises(DataError, match=r"^data: exactly one of 'path' and 'builtin'"):
        load_dataset(make_spec(), Path("."))
    with pytest.raises(DataError, match=r"^data: exactly one of 'path' and 'builtin'"):
        load_dataset(make_spec(path="x.csv", builtin="moons"), Path("."))


def test_builtin_bad_options():
    with pytest.raises(
        DataError, match=exactly("builtin:spirals: data.n_classes: must be an integer >= 2, got 1")
    ):
        load_dataset(make_spec(builtin="spirals", n_classes=1), Path("."))
    with pytest.raises(
        DataError, match=exactly("builtin:moons: data.n_samples: must be an integer >= 3, got 1")
    ):
        load_dataset(make_spec(builtin="moons", n_samples=1), Path("."))
    with pytest.raises(
        DataError,
        match=exactly(
            "builtin:teacher: data.task: teacher is a regression dataset, got 'classification'"
        ),
    ):
        load_dataset(make_spec(builtin="teacher", task="classification"), Path("."))


def test_subsample_bad_fraction(digits):
    with pytest.raises(DataError, match=exactly("coarse.subsample: must be > 0 and <= 1, got 0")):
        subsample_train(digits, 0, seed=0)


def _tiny(task: str, y_train: np.ndarray, y_val: np.ndarray, n_outputs: int) -> Dataset:
    x = np.zeros((len(y_train), 1))
    return Dataset(x, y_train, np.zeros((len(y_val), 1)), y_val, task, n_outputs, ("x",), "y",
                   ("a", "b", "c")[:n_outputs] if task == "classification" else (), "t")  # fmt: skip


def test_the_constant_predictions_loss_by_hand():
    # classes 0, 0, 0, 1 in training: p = (0.75, 0.25, 0); validation 0, 1 -> -(ln .75 + ln .25)/2
    ds = _tiny("classification", np.array([0, 0, 0, 1]), np.array([0, 1]), 3)
    assert ds.constant_loss() == pytest.approx(-(np.log(0.75) + np.log(0.25)) / 2)
    # on the training part itself: the entropy of (0.75, 0.25)
    assert ds.constant_loss("train") == pytest.approx(-(3 * np.log(0.75) + np.log(0.25)) / 4)
    # a class never seen in training costs -ln(1e-12), not inf
    unseen = _tiny("classification", np.array([0, 1]), np.array([2]), 3)
    assert unseen.constant_loss() == pytest.approx(-np.log(1e-12))
    # regression: the training mean 2.0; validation 1 and 4 -> (1 + 4) / 2
    reg = _tiny("regression", np.array([[1.0], [3.0]]), np.array([[1.0], [4.0]]), 1)
    assert reg.constant_loss() == pytest.approx(2.5)
    assert reg.constant_loss("train") == pytest.approx(1.0)
    assert {"constant_train_loss", "constant_val_loss"} <= set(reg.data_report())
