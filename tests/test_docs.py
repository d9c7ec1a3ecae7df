"""The README stays true: its Python examples run, and every command is documented."""

from __future__ import annotations

import re

import pytest

from lrsweep.cli import cli

from .conftest import REPO

README = (REPO / "README.md").read_text()


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", README, re.S))
def test_readme_python_examples_run(block):
    exec(compile(block, "README.md", "exec"), {})


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_in_the_readme_with_help(command):
    assert f"lrsweep {command} " in README
    assert cli.commands[command].help and "Example:" in cli.commands[command].help


def test_every_config_is_in_the_readme():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        assert f"configs/{path.name}" in README, path.name


def test_bad_inputs_coverage_names_real_tests():
    text = (REPO / "docs" / "bad-inputs-coverage.md").read_text()
    current = None
    found = re.findall(r"`(?:(test_\w+\.py))?::(\w+)", text)
    assert len(found) > 40
    for file, name in found:
        current = file or current
        source = (REPO / "tests" / current).read_text()
        assert f"def {name}(" in source, f"{current}::{name}"
