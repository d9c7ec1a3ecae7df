"""Shared fixtures: tiny specs written into tmp_path, and the hypothesis profiles."""

from __future__ import annotations

import csv
import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The suite trains on the NumPy reference path; the compiled
# path gives the same bits (tests/test_kernels.py), and LRSWEEP_KERNELS=numba runs it all so.
os.environ.setdefault("LRSWEEP_KERNELS", "numpy")

REPO = Path(__file__).resolve().parent.parent

# A sweep of ten one-run groups that takes a few seconds: long enough to kill or race.
SLOW_SPEC = """\
name: slow
data: {builtin: moons, n_samples: 400, noise: 0.2}
model: {hidden: [32, 32]}
optimizer: {name: sgd, momentum: 0.9}
train: {epochs: 30, batch_size: 8, seeds: 2}
grid: {lr_min: 1e-3, lr_max: 1, points_per_decade: 2}
execution: {group_size: 1}
"""


TINY_SPEC = """\
name: tiny
data: {{builtin: moons, n_samples: 120, noise: 0.2}}
model: {{hidden: [8]}}
optimizer: {{name: sgd, momentum: 0.9}}
train: {{epochs: {epochs}, batch_size: 16, seeds: {seeds}}}
grid: {{lr_min: {lr_min}, lr_max: {lr_max}, points_per_decade: 1}}
"""


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a spec file into tmp_path and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def tiny_spec(write_spec):
    """A 2-LR x 2-seed x 2-epoch spec on a synthetic set: a sweep in well under a second."""

    def make(epochs: int = 2, seeds: int = 2, lr_min: str = "0.01", lr_max: str = "0.1") -> Path:
        return write_spec(TINY_SPEC.format(epochs=epochs, seeds=seeds, lr_min=lr_min,
                                           lr_max=lr_max))  # fmt: skip

    return make


@pytest.fixture
def seed() -> int:
    """One seed by default; LRSWEEP_TEST_SEEDS=all runs 0-19 where a test uses it."""
    return 0


# --------------------------------------------------------------------------------------------
# Reading results files back


def read_csv(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def no_timing(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows without the ``seconds`` column (wall time differs between identical runs)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def read_untimed(path: Path) -> list[dict[str, str]]:
    """A CSV's rows without timing: what must be identical between equal sweeps."""
    return no_timing(read_csv(path))


def assert_same_results(a: Path, b: Path) -> None:
    """Two results folders hold the same runs.csv (but for timing) and identical histories."""
    assert read_untimed(a / "runs.csv") == read_untimed(b / "runs.csv")
    names = sorted(p.name for p in (a / "histories").iterdir())
    assert names == sorted(p.name for p in (b / "histories").iterdir())
    for name in names:
        assert (a / "histories" / name).read_bytes() == (b / "histories" / name).read_bytes()


def on_run(fn):
    """An ``on_event`` listener that calls ``fn(row, done, total)`` for each finished run."""
    from lrsweep.events import RunDone

    return lambda event: fn(*event) if isinstance(event, RunDone) else None


def on_warning(fn):
    """An ``on_event`` listener that calls ``fn(text)`` for each warning."""
    from lrsweep.events import Note

    return lambda event: (
        fn(event.text) if isinstance(event, Note) and event.level == "warning" else None
    )
