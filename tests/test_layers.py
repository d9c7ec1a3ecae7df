"""The package's rooms: every module imports only modules below it, with no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lrsweep

PACKAGE = Path(lrsweep.__file__).parent

# Bottom to top. A module may import only modules on earlier lines (or its own line's
# neighbours listed before it); `cli` is the top and `__init__`/`__main__` are the facade.
LAYERS = [
    "version",
    "errors",
    "machine",  # what memory this process may use
    "methods",  # the optimizers' names and facts, read by spec and analysis
    "_jit",  # the compiled kernels: numpy and numba only
    "yamlload",
    "spec",
    "records",  # RunSpec, Group, RunResult: what every trainer and reader shares
    "events",
    "plan",  # lattice, grids, run ids: pure functions of the spec
    "data",
    "model",
    "optimizers",
    "schedules",
    "members",
    "stopping",  # divergence and pruning: one rule for every trainer
    "kernels",  # the compiled path's loading and cache, below the cost model that picks it
    "training",  # the lockstep engine
    "rangetest",
    "curve",  # the U-curve fit: numpy only
    "analysis",
    "facts",
    "costs",
    "protocol",  # how a user's script reports: stdlib only
    "child",  # a user's command run supervised: stdlib only
    "work",  # the Trainer seam: what executors run
    "mlp",  # the built-in trainer
    "script",  # a user's command or function as a trainer
    "trainer",  # the registry of trainers
    "executors",
    "files",
    "lock",
    "results",
    "study",
    "search",  # the search strategy: what to train next
    "plots",
    "page",
    "starter",
    "orchestrate",
    "cli",
]


def imports_of(path: Path) -> set[str]:
    """The lrsweep modules a file imports (at module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lrsweep"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("lrsweep."):
                    found.add(alias.name.split(".")[1])
    return found


def module_files() -> dict[str, Path]:
    files = {p.stem: p for p in PACKAGE.glob("*.py") if not p.stem.startswith("__")}
    files.update(
        {p.name: p / "__init__.py" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    )
    return files


def test_every_module_has_a_layer():
    assert sorted(module_files()) == sorted(LAYERS)


def test_modules_import_only_downward():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = []
    for name, path in module_files().items():
        for used in imports_of(path) - {name, "__version__"}:
            if used in rank and rank[used] > rank[name]:
                upward.append(f"{name} imports {used}")
    assert upward == []


# lrsweep.data's own rooms, bottom to top (the same rule inside the package)
DATA_LAYERS = ["dates", "sources", "read", "formats", "tables", "columns", "dataset", "split",
               "builtins", "load", "__init__"]  # fmt: skip


def test_the_data_package_imports_only_downward():
    files = {p.stem: p for p in (PACKAGE / "data").glob("*.py")}
    assert sorted(files) == sorted(DATA_LAYERS)
    rank = {name: i for i, name in enumerate(DATA_LAYERS)}
    upward = []
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "lrsweep.data."
            ):
                used = node.module.split(".")[2]  # type: ignore[union-attr]
                if rank[used] > rank[name]:
                    upward.append(f"data.{name} imports data.{used}")
    assert upward == []


def test_importing_the_cli_and_the_data_package_does_not_load_pandas():
    """pandas (a third of a second to import) is loaded when a table is read, not before:
    `--help`, a builtin's sweep, a dask worker unpickling a dataset do without it."""
    code = "import sys, lrsweep.cli, lrsweep.data; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readers_never_load_the_engine():
    """Rendering a report or a plot loads neither the trainer nor the orchestrator."""
    code = (
        "import sys, lrsweep.page, lrsweep.plots;"
        "print(sorted(m for m in sys.modules if m in"
        " ('lrsweep.training', 'lrsweep.orchestrate', 'lrsweep.executors')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_match_the_exports():
    assert sorted(lrsweep.__all__) == sorted(["__version__", *lrsweep._EXPORTS])
    for name in lrsweep._EXPORTS:
        assert getattr(lrsweep, name) is not None


def test_the_schedule_names_a_spec_accepts_are_the_registry():
    """The spec's list of schedule names (validated before anything runs) is the registry's."""
    import typing

    from lrsweep.schedules import SCHEDULES
    from lrsweep.spec import ScheduleSpec

    names = typing.get_args(ScheduleSpec.model_fields["name"].annotation)
    assert sorted(names) == sorted(SCHEDULES)
