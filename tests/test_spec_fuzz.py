"""Random YAML and random mutations of the shipped configs: a valid Spec or a SpecError,
never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from lrsweep.errors import SpecError
from lrsweep.spec import Spec, load_spec

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
KEYS = [
    "name",
    "data",
    "model",
    "optimizer",
    "schedule",
    "train",
    "grid",
    "refine",
    "coarse",
    "vary",
    "analysis",
    "execution",
    "lr_min",
    "hidden",
    "epochs",
    "builtin",
    "path",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=25,
)


def outcome(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_bytes(text)
        try:
            assert isinstance(load_spec(path), Spec)
        except SpecError as e:
            message = str(e)
            assert message.startswith(str(path)) or " problems: " in message
            assert "\n" not in message


@given(documents)
def test_random_documents(document):
    outcome(yaml.safe_dump(document, allow_unicode=True).encode())


@given(
    config=st.sampled_from(CONFIGS),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from(["delete", "insert", "replace", "dup"]),
            st.sampled_from([*": -[]{}#&*!|>'\"\t\n0123456789.eE", "\x00", "\xff"]),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_configs(config, edits):
    text = config.read_text()
    for where, how, char in edits:
        i = int(where * len(text))
        if how == "delete":
            text = text[:i] + text[i + 1 :]
        elif how == "insert":
            text = text[:i] + char + text[i:]
        elif how == "replace":
            text = text[:i] + char + text[i + 1 :]
        else:
            lines = text.splitlines(keepends=True)
            j = int(where * (len(lines) - 1))
            text = "".join([*lines[: j + 1], *lines[j:]])
    with tempfile.TemporaryDirectory() as tmp:  # data paths are not opened by load_spec
        path = Path(tmp) / "spec.yaml"
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        try:
            assert isinstance(load_spec(path), Spec)
        except SpecError as e:
            assert "\n" not in str(e)
