"""The strict loader and the spec models: every spec row of BAD_INPUTS.md, by exact message."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lrsweep.errors import SpecError
from lrsweep.spec import Spec, dump_spec, load_spec
from lrsweep.yamlload import MAX_SPEC_BYTES, load_yaml

GOOD = "name: ok\ndata: {builtin: spirals}\n"


def error_of(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


def test_defaults_fill_every_key(write_spec):
    spec = load_spec(write_spec(GOOD))
    assert spec.train.epochs == 20 and spec.grid.lr_min == 1e-5 and spec.model.hidden == [64, 64]
    assert spec.optimizer.name == "sgd" and spec.schedule.name == "constant"


def test_exponent_floats_are_floats(write_spec):
    spec = load_spec(write_spec(GOOD + "grid: {lr_min: 1e-5, lr_max: 5E-1}\n"))
    assert spec.grid.lr_min == 1e-5 and spec.grid.lr_max == 0.5


def test_shipped_configs_load():
    for path in sorted(Path(__file__).resolve().parent.parent.glob("configs/*.yaml")):
        assert isinstance(load_spec(path), Spec), path


def test_python_tag_is_rejected_and_not_executed(write_spec, tmp_path):
    marker = tmp_path / "pwned"
    path = write_spec(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    assert error_of(path) == (
        f"{path}:1:7: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x 1\nb: 2\n", "1:4: anchors (&x) are not allowed"),
        ("a: 1\nb: *x\n", "2:4: aliases (*x) are not allowed"),
        (
            "data: {builtin: spirals}\nmodel:\n  <<: {hidden: [3]}\n",
            "3:3: merge keys (<<) are not allowed",
        ),
    ],
    ids=["anchor", "alias", "merge"],
)
def test_anchors_aliases_merges_rejected(write_spec, text, message):
    path = write_spec(text)
    assert error_of(path) == f"{path}:{message}"


def test_billion_laughs_fails_fast(write_spec):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    path = write_spec("\n".join(lines) + "\n")
    start = time.perf_counter()
    assert "anchors (&a) are not allowed" in error_of(path)
    assert time.perf_counter() - start < 1.0


def test_duplicate_key_names_both_lines(write_spec):
    path = write_spec("name: a\ndata: {builtin: spirals}\nname: b\n")
    assert error_of(path) == f"{path}:3:1: duplicate key 'name' (first given on line 1)"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400"])
def test_non_finite_numbers_rejected(write_spec, value):
    path = write_spec(GOOD + f"grid: {{lr_min: {value}}}\n")
    assert error_of(path) == f"{path}:3:16: numbers must be finite, got '{value}'"


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("{lr_min: 0}", "3:8: grid.lr_min: must be > 0, got 0"),
        ("{lr_min: -0.001}", "3:8: grid.lr_min: must be > 0, got -0.001"),
        ("{lr_min: 1, lr_max: 0.1}", "3:8: grid.lr_min: must be < lr_max, got 1.0 >= 0.1"),
    ],
)
def test_bad_lr_range(write_spec, grid, message):
    path = write_spec(GOOD + f"grid: {grid}\n")
    assert error_of(path) == f"{path}:{message}"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("train: {seed: 012}", "3:9: train.seed: must be an integer, got '012'"),
        ("train: {epochs: 10:00}", "3:9: train.epochs: must be an integer, got '10:00'"),
        ("data2: {standardize: no}", None),
        ("train: {seed: 2024-01-01}", "3:9: train.seed: must be an integer, got '2024-01-01'"),
        ("train: {epochs: true}", "3:9: train.epochs: must be an integer, got True"),
        ("model: {hidden: [64, ten]}", "3:22: model.hidden.1: must be an integer, got 'ten'"),
        (
            "grid: {points_per_decade: 2.5}",
            "3:8: grid.points_per_decade: must be an integer, got 2.5",
        ),
    ],
    ids=["octal", "sexagesimal", "yes-no", "date", "bool-for-int", "deep-type", "fraction"],
)
def test_yaml11_surprises_are_rejected(write_spec, line, message):
    if message is None:  # `no` stays a string and a boolean key rejects it
        path = write_spec("name: ok\ndata: {builtin: spirals, standardize: no}\n")
        assert error_of(path) == f"{path}:2:26: data.standardize: must be true or false, got 'no'"
        return
    path = write_spec(GOOD + line + "\n")
    assert error_of(path) == f"{path}:{message}"


def test_unknown_key_did_you_mean(write_spec):
    path = write_spec(GOOD + "trian: {epochs: 3}\n")
    assert error_of(path) == f"{path}:3:1: trian: unknown key; did you mean 'train'?"
    path = write_spec(GOOD + "optimizer: {name: adamw2}\n")
    assert (
        error_of(path) == f"{path}:3:13: optimizer.name: unknown 'adamw2'; did you mean 'adamw'?"
    )
    path = write_spec(GOOD + "model: {hiden: [3]}\n")
    assert error_of(path) == f"{path}:3:9: model.hiden: unknown key; did you mean 'hidden'?"


def test_every_problem_in_one_error(write_spec):
    path = write_spec(GOOD + "trian: 1\ngrid: {lr_min: -1}\n")
    message = error_of(path)
    assert message.startswith("2 problems: ")
    assert "trian: unknown key" in message and "grid.lr_min: must be > 0" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ": empty spec; expected a mapping such as 'name: my-sweep'"),
        ("# only a comment\n", ": empty spec; expected a mapping such as 'name: my-sweep'"),
        ("---\n", ": empty spec; expected a mapping such as 'name: my-sweep'"),
        ("- a\n- b\n", ": the top level must be a mapping of keys, got a list"),
        ("42\n", ": the top level must be a mapping of keys, got a single value"),
        (
            "a: 1\n---\nb: 2\n",
            ":2:1: invalid YAML: more than one document; a spec is a single YAML document",
        ),
        (
            "data:\n\tbuiltin: spirals\n",
            ":2:1: invalid YAML: found character '\\t' that cannot start any token",
        ),
        ("a: [1, 2\n", ":2:1: invalid YAML: expected ',' or ']', but got '<stream end>'"),
    ],
    ids=["empty", "comments", "bare-marker", "list", "scalar", "two-docs", "tab", "unclosed"],
)
def test_not_a_mapping(write_spec, text, message):
    path = write_spec(text)
    assert error_of(path) == f"{path}{message}"


def test_encoding_problems(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    assert error_of(bad) == f"{bad}:1:10: not UTF-8 (byte 0xe9)"
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"name: a\n\x00\n")
    assert error_of(nul) == f"{nul}:2:1: NUL byte; expected a UTF-8 text file"
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_spec(bom).name == "ok"


def test_deep_nesting_rejected(write_spec):
    path = write_spec("a: " + "[" * 600 + "]" * 600 + "\n")
    assert error_of(path) == f"{path}:1:35: nested deeper than 32 levels"


def test_oversize_file_rejected_before_reading_it_all(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.write(b"# " + b"x" * (100 * 1024 * 1024) + b"\n")
    start = time.perf_counter()
    assert (
        error_of(path)
        == f"{path}: larger than {MAX_SPEC_BYTES // 1024} KiB; a spec is a few lines"
    )
    assert time.perf_counter() - start < 5.0  # parsing 100 MB of YAML would take minutes


def test_plan_over_the_cap(write_spec):
    path = write_spec(GOOD + "grid: {lr_min: 1e-9, lr_max: 1, points_per_decade: 1000}\n")
    assert error_of(path) == (
        f"{path}: grid: plans 27,003 runs (9,001 LRs x 3 seeds), over the cap of 20,000;"
        " lower grid.points_per_decade, narrow the range, use fewer seeds or fewer vary values"
    )


@pytest.mark.parametrize("name", ["../../x", "/abs/path", "", "a" * 300, "a\x00b", ".hidden"])
def test_bad_names(write_spec, name):
    path = write_spec(
        f"name: {name!r}\ndata: {{builtin: spirals}}\n".replace("'", '"')
        if "\x00" not in name
        else 'name: "a\\0b"\ndata: {builtin: spirals}\n'
    )
    message = error_of(path)
    assert re.match(rf"{re.escape(str(path))}:1:1: name: must be 1-100 letters", message), message


def test_missing_and_directory(tmp_path):
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, expected a YAML file"


def test_data_needs_one_source(write_spec):
    path = write_spec("data: {}\n")
    assert error_of(path) == (
        f"{path}:1:1: data: give exactly one of 'path' (a table file) or 'builtin'"
    )


def test_marks_and_hash_round_trip(write_spec, tmp_path):
    path = write_spec(GOOD + "grid: {lr_min: 1e-3}\n")
    _, marks = load_yaml(path)
    assert marks[("grid", "lr_min")] == (3, 8)
    spec = load_spec(path)
    saved = tmp_path / "saved.yaml"
    saved.write_text(dump_spec(spec))
    again = load_spec(saved)
    assert again.spec_hash() == spec.spec_hash()
    assert dump_spec(spec).startswith(f"# lrsweep resolved spec; hash: {spec.spec_hash()}\n")


def test_data_path_is_relative_to_the_spec(tmp_path):
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "s.yaml").write_text("data: {path: ../d.csv}\n")
    spec = load_spec(sub / "s.yaml")
    assert spec.resolved()["data"]["path"] == str(tmp_path / "d.csv")


def test_nesterov_needs_momentum_even_inside_vary(write_spec):
    path = write_spec(GOOD + "optimizer: {nesterov: true}\n")
    assert error_of(path) == (
        f"{path}:3:13: optimizer.nesterov: requires momentum > 0 and dampening = 0, got"
        " momentum=0.0, dampening=0.0"
    )
    path = write_spec(
        GOOD + "optimizer: {nesterov: true, momentum: 0.9}\n"
        "vary: {optimizer.momentum: [0.0, 0.9]}\n"
    )
    assert error_of(path) == (
        f"{path}:4:1: vary.optimizer.momentum.0: nesterov: requires momentum > 0 and"
        " dampening = 0, got momentum=0.0, dampening=0.0"
    )


def test_the_run_cap_counts_vary_combinations(write_spec):
    axes = "vary: {optimizer.momentum: [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],"
    axes += " train.batch_size: [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]}\n"
    path = write_spec(GOOD + "grid: {lr_min: 1e-6, lr_max: 1, points_per_decade: 20}\n" + axes)
    start = time.perf_counter()
    assert error_of(path) == (
        f"{path}: grid: plans 36,300 runs (121 LRs x 3 seeds x 100 combinations), over the cap"
        " of 20,000; lower grid.points_per_decade, narrow the range, use fewer seeds or fewer"
        " vary values"
    )
    assert time.perf_counter() - start < 1.0
