"""The trainer seam: what trains a run, as the rest of lrsweep sees it.

A trainer turns `Group`\\ s of `RunSpec`\\ s into `RunResult`\\ s, reporting each epoch as it
goes; everything around it (the plan, the search loop, the journal, the executors, the
analysis, the report) does not know which trainer it is. The sweep asks a trainer for:

- ``check(plan, jobs)``: refuse what cannot work (a setting that cannot train, a model that
  would not fit in memory, a command that cannot be found) before anything is written;
- ``pack(spec, runs)``: the groups a plan's runs train in (the built-in model: many LRs in
  lockstep; a user's script: one run per group). Packing depends on the spec alone, never on
  ``--jobs`` or the executor, so the numbers do not either;
- ``work(groups, folder)``: a `Work` for the executors: the top-level function a worker runs,
  the payload every worker holds (shipped once per worker), and the driver's cost hints;
- ``data_report()`` and ``inputs()``: what the summary says of the data, and the facts that
  identify the study's inputs beyond the spec (a data file's content, a script's).

The trainers: `lrsweep.mlp.MLPTrainer` (the built-in model), `lrsweep.script.CommandTrainer`
and `lrsweep.script.FunctionTrainer` (a user's code); `lrsweep.trainer.make_trainer` picks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from lrsweep.costs import Where
from lrsweep.plan import Plan
from lrsweep.records import Group, RunResult, RunSpec
from lrsweep.spec import Spec, apply_combo

__all__ = ["GroupFn", "Trainer", "Where", "Work", "by_combination"]

# fn(group, payload, *, on_epoch=None, stop=None) -> one result per run, in the group's order
GroupFn = Callable[..., list[RunResult]]


@dataclass(frozen=True)
class Work:
    """What the executors run for a trainer: the executors' whole view of it.

    ``fn`` and ``payload`` travel to the workers (``fn`` a picklable top-level function,
    ``payload`` sent once per worker process or cluster); ``cost`` and ``where`` stay in the
    driver: the estimated seconds of a group (the longest go first) and where a call's groups
    should run for ``jobs`` workers (``(where, seconds, why)``; ``pool_started``: a process
    pool is already running).
    """

    fn: GroupFn
    payload: Any
    cost: Callable[[Group], float]
    where: Callable[[Sequence[Group], int, bool], tuple[Where, float, str]]
    # run on every worker of a cluster before its first group: "" or what it cannot do
    # (a picklable top-level function, e.g. "worker cannot see /data/train.py")
    preflight: Callable[[], str] | None = None


class Trainer(Protocol):
    """The seam every trainer implements (see the module docstring)."""

    kind: ClassVar[str]
    spec: Spec

    def check(self, plan: Plan, jobs: int) -> None: ...
    def pack(self, spec: Spec, runs: Sequence[RunSpec]) -> list[Group]: ...
    def work(self, groups: Sequence[Group], folder: Path | None = None) -> Work: ...
    def data_report(self) -> dict[str, Any] | None: ...
    def inputs(self) -> dict[str, Any]: ...


def by_combination(spec: Spec, runs: Sequence[RunSpec]) -> list[tuple[Spec, list[RunSpec]]]:
    """``runs`` split by their ``vary`` combination, in first-seen order, each with the spec
    that combination makes (`apply_combo`)."""
    split: dict[tuple[tuple[str, Any], ...], list[RunSpec]] = {}
    for run in runs:
        split.setdefault(run.combo, []).append(run)
    return [(apply_combo(spec, combo) if combo else spec, mine) for combo, mine in split.items()]
