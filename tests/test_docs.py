"""The README stays true: its Python examples run, and every command is documented."""

from __future__ import annotations

import re

import pytest

from lrsweep.cli import cli

from .conftest import REPO

README = (REPO / "README.md").read_text()
PAGES = {
    p.name: p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
}
BLOCKS = [
    (name, b)
    for name, text in PAGES.items()
    for b in re.findall(r"```python\n(.*?)```", text, re.S)
]


@pytest.mark.parametrize(
    ("page", "block"), BLOCKS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BLOCKS)]
)
def test_python_examples_in_the_docs_run(page, block, monkeypatch):
    import textwrap

    monkeypatch.chdir(REPO)
    exec(compile(textwrap.dedent(block), page, "exec"), {})  # a block in a list is indented


def test_links_between_pages_point_to_files():
    for name, text in PAGES.items():
        folder = REPO if name == "README.md" else REPO / "docs"
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (folder / target).exists(), f"{name}: {target}"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_in_the_readme_with_help(command):
    assert re.search(rf"lrsweep {command}\b(?!-)", README)
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


def test_every_module_has_a_row_in_the_architecture_table():
    table = PAGES["architecture.md"]
    modules = sorted(
        p.name
        for p in (REPO / "lrsweep").glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    missing = [m for m in modules if f"| `{m}` |" not in table]
    assert missing == []
