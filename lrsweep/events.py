"""What a sweep tells its caller while it runs: one stream of small typed events.

`lrsweep.orchestrate.run_sweep` and friends take one ``on_event`` callable and call it with these;
the command line renders them (a header per round, a live bar, the notes), a notebook or a
test keeps what it wants (``on_event=lambda e: isinstance(e, RunDone) and rows.append(e)``).
Events are for people: nothing the results depend on travels this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple


class Note(NamedTuple):
    """A sentence for the user: a decision of the sweep (what it reuses, what a round
    refines), or with ``level="warning"`` something to know (a stale lock taken over, a
    damaged history file that will be trained again)."""

    text: str
    level: Literal["info", "warning"] = "info"


class RoundStart(NamedTuple):
    """What a round is about to train, told before its first run."""

    round: int  # 0: the coarse grid; 1..: refine rounds
    runs: int  # runs the round plans, finished ones included
    to_train: int  # runs not finished yet (a resumed round trains only these)
    lr_min: float  # the round's LRs span lr_min..lr_max (over every combination)
    lr_max: float
    points_per_decade: int  # the round's density
    budget: str  # "full" or "coarse"
    notes: tuple[str, ...]  # the refine decisions behind the round (one per combination)
    step: str = "coarse grid"  # "refining", "extending the grid", "more seeds"


class RunDone(NamedTuple):
    """A run finished (ok, diverged, pruned or failed) and is on disk."""

    row: Mapping[str, Any]  # its runs.csv row
    done: int  # runs of the round finished so far
    total: int  # runs the round plans


class Progress(NamedTuple):
    """An epoch of a running group ended: ``done`` counts finished runs plus the running
    groups' finished epochs as fractions of a run; it never decreases within a round."""

    done: float
    total: int


Event = Note | RoundStart | RunDone | Progress
OnEvent = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default listener: hears everything, keeps nothing."""
