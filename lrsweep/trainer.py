"""The trainers by kind, and the one a spec names: the registry of `lrsweep.work.Trainer`.

``trainer.kind`` is ``mlp`` (the built-in model, the default) or ``command`` (a spec with
``trainer: {command: ...}``); ``function`` is the Python API's (`lrsweep.sweep`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrsweep.data import Dataset
from lrsweep.mlp import MLPTrainer
from lrsweep.script import CommandTrainer, FunctionTrainer
from lrsweep.spec import Spec

TRAINERS: dict[str, type[Any]] = {
    "mlp": MLPTrainer,
    "command": CommandTrainer,
    "function": FunctionTrainer,
}


def trainer_kind(spec: Spec) -> str:
    """``command`` for a spec with ``trainer:``, else ``mlp``."""
    return "mlp" if spec.trainer is None else "command"


def make_trainer(
    spec: Spec,
    data: Dataset | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    function: Callable[[Any], Any] | None = None,
) -> Any:
    """The trainer ``spec`` names; ``data``/``on_progress`` for the built-in model (its data
    read once), ``function`` for `lrsweep.sweep`'s ``train_fn``."""
    if function is not None:
        return FunctionTrainer(spec, function)
    if spec.trainer is not None:
        return TRAINERS["command"](spec)
    return TRAINERS["mlp"](spec, data, on_progress)
