"""The strict YAML loader every spec goes through.

The loader reads YAML 1.2 core-schema scalars on top of ``yaml.SafeLoader``:

- ``1e-5``, ``1E-3`` and ``5e-2`` are floats (PyYAML's YAML 1.1 resolver reads them as strings);
- only ``true``/``false`` are booleans: ``yes``, ``no``, ``on`` and ``off`` stay strings, so a
  boolean key given ``no`` is rejected rather than guessed;
- integers with a leading zero (``012``, YAML 1.1 octal), sexagesimal numbers (``10:00``, YAML
  1.1 reads 600) and dates stay strings, so a numeric key given one of them is rejected;
- anchors, aliases and merge keys (``&a``, ``*a``, ``<<:``), duplicate keys, python tags,
  non-finite numbers (``.inf``, ``.nan``, ``1e400``), files over ``MAX_SPEC_BYTES``, nesting over
  ``MAX_DEPTH`` levels, and more than one document are errors.

Every error is one `SpecError` line: ``<file>[:line:col]: <problem>``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from lrsweep.errors import SpecError

MAX_SPEC_BYTES = 1 << 20  # a spec is a few hundred bytes; 1 MiB is generous and reads fast
MAX_DEPTH = 32  # the deepest real spec is 3 levels; PyYAML's composer recurses per level


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, no aliases, no duplicate keys, bounded depth."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _LoadError(event.start_mark, f"aliases (*{event.anchor}) are not allowed")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _LoadError(event.start_mark, f"anchors (&{anchor}) are not allowed")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LoadError(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or key_node.value == "<<":
                raise _LoadError(key_node.start_mark, "merge keys (<<) are not allowed")
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise _LoadError(key_node.start_mark, f"keys must be strings, got {key!r}")
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise _LoadError(
                    key_node.start_mark,
                    f"duplicate key {key!r} (first given on line {first})",
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=True)

    def construct_yaml_float(self, node: Any) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _LoadError(node.start_mark, f"numbers must be finite, got {node.value!r}")
        return value

    def construct_yaml_int(self, node: Any) -> int:
        return int(str(node.value).replace("_", ""), 0)

    def construct_undefined(self, node: Any) -> Any:
        raise _LoadError(node.start_mark, f"tag {node.tag!r} is not allowed")


class _LoadError(Exception):
    def __init__(self, mark: Any, problem: str) -> None:
        super().__init__(problem)
        self.mark = mark
        self.problem = problem


_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor(None, _StrictLoader.construct_undefined)
for _tag in ("timestamp", "binary", "omap", "pairs", "set"):
    _StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _StrictLoader.construct_undefined)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), minus octal-looking
# leading zeros, which stay strings so that `seed: 012` is rejected instead of becoming 10 or 12.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def load_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], tuple[int, int]]]:
    """Read a YAML mapping strictly; return it and the (line, col) of every key path.

    Raises
    ------
    SpecError
        For anything but one finite, alias-free, duplicate-free mapping document.
    """
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{name}: is a directory, expected a YAML file") from None
    except OSError as e:
        raise SpecError(f"{name}: cannot read: {e.strerror}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{name}: larger than {MAX_SPEC_BYTES // 1024} KiB; a spec is a few lines")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(data, nul)
        raise SpecError(f"{name}:{line}:{col}: NUL byte; expected a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(data, e.start)
        raise SpecError(f"{name}:{line}:{col}: not UTF-8 (byte {data[e.start]:#04x})") from None

    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or (
            isinstance(node, yaml.ScalarNode)
            and node.value == ""
            and node.tag == "tag:yaml.org,2002:null"
        ):
            raise SpecError(f"{name}: empty spec; expected a mapping such as 'name: my-sweep'")
        if not isinstance(node, yaml.MappingNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
            raise SpecError(f"{name}: the top level must be a mapping of keys, got {kind}")
        marks: dict[tuple[str, ...], tuple[int, int]] = {}
        _collect_marks(node, (), marks)
        document = loader.construct_document(node)
    except _LoadError as e:
        line, col = e.mark.line + 1, e.mark.column + 1
        raise SpecError(f"{name}:{line}:{col}: {e.problem}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = (e.problem or e.context or "invalid YAML").strip()
        if "expected a single document" in str(e):
            problem = "more than one document; a spec is a single YAML document"
        raise SpecError(f"{name}{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{name}: invalid YAML: {e}") from None
    except RecursionError:
        raise SpecError(f"{name}: nested too deeply (over {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()
    return document, marks


def _collect_marks(
    node: Any, prefix: tuple[str, ...], marks: dict[tuple[str, ...], tuple[int, int]]
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            marks[path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(value_node, path, marks)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            marks[path] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _collect_marks(item, path, marks)


def load_value(text: str, where: str) -> Any:
    """One value written as in a spec (``5``, ``1e-3``, ``adam``, ``[64, 64]``, ``{a: 1}``),
    read by the same strict rules as a spec file (``--set KEY=VALUE``); empty is null."""
    if "\x00" in text or len(text) > 10_000:
        raise SpecError(f"{where}: not a value a spec could hold")
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)
    except _LoadError as e:
        raise SpecError(f"{where}: {e.problem}") from None
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise SpecError(f"{where}: invalid value: {problem}") from None
    except RecursionError:
        raise SpecError(f"{where}: nested too deeply") from None
    finally:
        loader.dispose()
