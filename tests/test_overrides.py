"""``--set KEY=VALUE``: read like the YAML, validated like the YAML, errors naming the option."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from lrsweep.cli import cli
from lrsweep.errors import SpecError
from lrsweep.spec import load_spec

SPEC = """\
name: overrides
data: {builtin: moons, n_samples: 120, noise: 0.2}
model: {hidden: [8]}
optimizer: {name: sgd, momentum: 0.9}
schedule: {name: step, step_size: 2}
train: {epochs: 2, batch_size: 16, seeds: 1}
grid: {lr_min: 0.01, lr_max: 0.1, points_per_decade: 1}
vary: {optimizer.momentum: [0.0, 0.9]}
"""


def leaves(document, prefix=()):
    """Every (dotted key, value) of a resolved spec, vary axes as one key each."""
    for key, value in document.items():
        path = (*prefix, str(key))
        if (isinstance(value, dict) and path != ("vary",)) or (path == ("vary",) and not value):
            yield from leaves(value, path)
        elif path == ("vary",):
            for axis, values in value.items():
                yield f"vary.{axis}", values
        else:
            yield ".".join(path), value


def flow(value) -> str:
    """A value as one would type it after ``--set KEY=``."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10_000)
        .strip()
        .removesuffix("\n...")
        .removesuffix("...")
        .strip()
    )


def test_every_key_round_trips_through_set(write_spec):
    path = write_spec(SPEC)
    spec = load_spec(path)
    resolved = spec.resolved()
    keys = [(k, v) for k, v in leaves(resolved) if k not in ("data.path",)]
    kinds = {type(v).__name__ for _, v in keys}
    assert {"int", "float", "bool", "str", "list", "NoneType"} <= kinds  # every type is tried
    for key, value in keys:
        again = load_spec(path, [f"{key}={flow(value)}"])
        assert again.resolved() == resolved, key


@pytest.mark.parametrize(
    ("option", "yaml_text"),
    [
        ("train.epochs=7", "train: {epochs: 7, batch_size: 16, seeds: 1}"),
        ("grid.lr_min=1e-3", "grid: {lr_min: 1e-3, lr_max: 0.1, points_per_decade: 1}"),
        ("model.hidden=[32, 16]", "model: {hidden: [32, 16]}"),
        (
            "optimizer.weight_decay=1e-4",
            "optimizer: {name: sgd, momentum: 0.9, weight_decay: 1e-4}",
        ),
        ("optimizer.name=adam", "optimizer: {name: adam, momentum: 0.9}"),
        ("vary.optimizer.momentum=[0.5]", "vary: {optimizer.momentum: [0.5]}"),
        ("refine={rounds: 1}", "refine: {rounds: 1}"),
    ],
)
def test_set_equals_the_same_yaml(write_spec, option, yaml_text):
    section = yaml_text.split(":", 1)[0]
    lines = [line for line in SPEC.splitlines() if not line.startswith(section + ":")]
    by_file = load_spec(write_spec("\n".join([*lines, yaml_text]) + "\n", "edited.yaml"))
    by_option = load_spec(write_spec(SPEC), [option])
    assert by_option.resolved() == by_file.resolved()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("train.epochs=abc", r"^--set train\.epochs=abc: train\.epochs: must be an integer"),
        ("train.epochz=3", r"^--set train\.epochz=3: train\.epochz: unknown key; did you mean"),
        ("train.epochs", r"^--set train\.epochs: expected KEY=VALUE"),
        ("=3", r"^--set =3: expected KEY=VALUE"),
        ("grid.lr_min=.inf", r"^--set grid\.lr_min=\.inf: numbers must be finite"),
        ("model.hidden=[1, &a 2]", r"^--set model\.hidden=.*: anchors"),
        ("train.epochs.x=3", r"^--set train\.epochs\.x=3: train\.epochs is not a mapping"),
    ],
)
def test_bad_overrides_name_the_option(write_spec, option, message):
    with pytest.raises(SpecError, match=message):
        load_spec(write_spec(SPEC), [option])


def test_cli_set_on_validate_and_run(write_spec, tmp_path):
    path = write_spec(SPEC)
    shown = CliRunner().invoke(cli, ["validate", str(path), "--set", "train.epochs=3"])
    assert shown.exit_code == 0 and "epochs: 3" in shown.output
    bad = CliRunner().invoke(cli, ["run", str(path), "--set", "train.seeds=0", "--out", "x"])
    assert bad.exit_code == 2
    assert bad.stderr == "Error: --set train.seeds=0: train.seeds: must be >= 1, got 0\n"
    assert not (tmp_path / "x").exists()
