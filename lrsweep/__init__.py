"""lrsweep: find the learning rate. Sweep a log grid of LRs over a NumPy MLP from one YAML file.

Everything the command line does is a library call::

    import lrsweep
    spec = lrsweep.load_spec("configs/digits.yaml")
    summary = lrsweep.run_sweep(spec, "results/digits", executor=lrsweep.make_executor(2),
                                on_event=print)  # lrsweep.events: rounds, runs, progress
    lrsweep.plot_results("results/digits")

The names below are imported on first use, so ``import lrsweep`` is cheap and never loads
click, rich or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lrsweep.version import __version__

_EXPORTS = {
    "load_spec": "lrsweep.spec",
    "Spec": "lrsweep.spec",
    "run_sweep": "lrsweep.orchestrate",
    "plan_sweep": "lrsweep.orchestrate",
    "plot_results": "lrsweep.orchestrate",
    "refine": "lrsweep.orchestrate",
    "range_test": "lrsweep.orchestrate",
    "plot_range_test": "lrsweep.orchestrate",
    "read_summary": "lrsweep.orchestrate",
    "estimate_sweep": "lrsweep.orchestrate",
    "load_data": "lrsweep.orchestrate",
    "build_report": "lrsweep.page",
    "write_report": "lrsweep.page",
    "make_executor": "lrsweep.executors",
    "SerialExecutor": "lrsweep.executors",
    "ProcessExecutor": "lrsweep.executors",
    "ThreadExecutor": "lrsweep.executors",
    "make_optimizer": "lrsweep.optimizers",
    "make_trainer": "lrsweep.trainer",
    "report": "lrsweep.protocol",
    "sweep": "lrsweep.orchestrate",
    "Trial": "lrsweep.script",
    "train_group": "lrsweep.training",
    "RunStatus": "lrsweep.records",
    "log_grid": "lrsweep.plan",
    "LrsweepError": "lrsweep.errors",
    "SpecError": "lrsweep.errors",
    "DataError": "lrsweep.errors",
    "ResultsError": "lrsweep.errors",
}

__all__ = [  # every name of _EXPORTS (a test checks they agree)
    "DataError",
    "LrsweepError",
    "ProcessExecutor",
    "ResultsError",
    "RunStatus",
    "SerialExecutor",
    "Spec",
    "SpecError",
    "ThreadExecutor",
    "Trial",
    "__version__",
    "build_report",
    "estimate_sweep",
    "load_data",
    "load_spec",
    "log_grid",
    "make_executor",
    "make_optimizer",
    "make_trainer",
    "plan_sweep",
    "plot_range_test",
    "plot_results",
    "range_test",
    "read_summary",
    "refine",
    "report",
    "run_sweep",
    "sweep",
    "train_group",
    "write_report",
]

if TYPE_CHECKING:  # the same names, typed, for mypy (the CLI's library calls are checked)
    from lrsweep.errors import DataError, LrsweepError, ResultsError, SpecError
    from lrsweep.executors import ProcessExecutor, SerialExecutor, ThreadExecutor, make_executor
    from lrsweep.optimizers import make_optimizer
    from lrsweep.orchestrate import (
        estimate_sweep,
        load_data,
        plan_sweep,
        plot_range_test,
        plot_results,
        range_test,
        read_summary,
        refine,
        run_sweep,
        sweep,
    )
    from lrsweep.page import build_report, write_report
    from lrsweep.plan import log_grid
    from lrsweep.protocol import report
    from lrsweep.records import RunStatus
    from lrsweep.script import Trial
    from lrsweep.spec import Spec, load_spec
    from lrsweep.trainer import make_trainer
    from lrsweep.training import train_group


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lrsweep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
