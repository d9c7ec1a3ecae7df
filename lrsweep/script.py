"""A user's own training code as a trainer: a command per run, or a Python function per run.

The second room beside the built-in model (`lrsweep.trainer`). A run is one process in a
process group of its own (`lrsweep.child`): ``trainer.command`` with its placeholders filled,
or a fork running ``train_fn(trial)``. Its epochs arrive as it reports them
(`lrsweep.protocol`: JSON lines to ``$LRSWEEP_METRICS``, or a log it writes anyway); each is
judged as it arrives by the same early-stopping rule as the built-in model's
(`lrsweep.stopping`): a NaN, an inf or a sustained blow-up stops the process (SIGTERM to its
group, SIGKILL after a grace), and the run is ``diverged`` with its history so far. Whatever
else happens is a recorded result, never a crash of the sweep: a non-zero exit or a signal
(``failed``, with the last lines of stderr), a run past ``trainer.timeout`` (``timeout``), a
run that reported nothing, or never reported the objective (``failed``, saying what it did
report). Each run's folder, ``<results>/runs/<run_id>/`` (``{run_dir}``), keeps its metrics
file and the tails of its output.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lrsweep.child import Outcome, check_command, fill_command, run_command, run_function
from lrsweep.errors import Cancelled, SpecError
from lrsweep.protocol import METRICS_ENV, HistoryFile, MetricsTail
from lrsweep.records import EpochLog, Group, RunResult, RunSpec, RunStatus
from lrsweep.spec import Spec, TrainerSpec
from lrsweep.stopping import RunMonitor, StopRule
from lrsweep.work import Where, Work, by_combination

RUNS_DIR = "runs"  # <results>/runs/<run_id>/: each run's own folder ({run_dir})
METRICS_FILE = "metrics.jsonl"
POLL_SECONDS = 0.2  # how often a running script's reports are read


@dataclass(frozen=True)
class Settings:
    """What a worker needs to run a user's runs (the executors' payload): small, picklable."""

    trainer: TrainerSpec
    cwd: str  # absolute
    folder: str  # the results dir: runs go to <folder>/runs/<run_id>
    function: Callable[[Any], Any] | None = None  # the function trainer's train_fn


class Trial:
    """What a ``train_fn(trial)`` sees of its run: the values to train with, and `report`.

    Attributes
    ----------
    lr, seed, epochs : the run's learning rate, seed and epoch budget
    params : dict
        The run's ``vary:`` values by their last dotted part (``{"batch_size": 64}``).
    run_dir : pathlib.Path
        A folder of the run's own, for anything it writes.
    """

    def __init__(
        self, lr: float, seed: int, epochs: int, params: Mapping[str, Any], run_dir: Path
    ) -> None:
        self.lr, self.seed, self.epochs = lr, seed, epochs
        self.params = dict(params)
        self.run_dir = run_dir

    def report(self, epoch: int | None = None, **metrics: Any) -> None:
        """Report an epoch's metrics (`lrsweep.protocol.report`)."""
        from lrsweep.protocol import report

        report(epoch, **metrics)

    def __repr__(self) -> str:
        return f"Trial(lr={self.lr:g}, seed={self.seed}, epochs={self.epochs}, {self.params})"


def values_of(run: RunSpec, run_dir: Path) -> dict[str, Any]:
    """The placeholders' values for ``run``: lr, seed, epochs, run_dir, the vary values, and
    python (this interpreter)."""
    values: dict[str, Any] = {key.rsplit(".", 1)[-1]: value for key, value in run.combo}
    values.update(lr=f"{run.lr:.12g}", seed=run.seed, epochs=run.epochs, run_dir=str(run_dir),
                  python=sys.executable)  # fmt: skip
    return values


def run_environment(
    settings: Settings, run: RunSpec, run_dir: Path, metrics: Path
) -> dict[str, str]:
    """A run's environment: this process's, the spec's ``env``, and the LRSWEEP_ variables."""
    env = dict(os.environ)
    env.update(settings.trainer.env)
    env.update(
        {
            "LRSWEEP_LR": f"{run.lr:.12g}",
            "LRSWEEP_SEED": str(run.seed),
            "LRSWEEP_EPOCHS": str(run.epochs),
            "LRSWEEP_RUN_DIR": str(run_dir),
            METRICS_ENV: str(metrics),
            "PYTHONUNBUFFERED": "1",  # a killed script's last lines reach its stderr tail
        }
    )
    return env


def train_script_group(
    group: Group,
    settings: Settings,
    on_epoch: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> list[RunResult]:
    """Run a group's runs (one, for a user's code) and return their results: the executors'
    ``fn`` for `CommandTrainer` and `FunctionTrainer`."""
    return [_train_one(group, run, settings, on_epoch, stop) for run in group.runs]


class _Watch:
    """A running run's reports, read as they arrive and judged by the stopping rule."""

    def __init__(self, group: Group, settings: Settings, metrics: Path, history: Path | None):
        self.sources: list[MetricsTail | HistoryFile] = [MetricsTail(metrics)]
        if history is not None:
            self.sources.append(HistoryFile(history))
        self.objective = settings.trainer.objective
        self.monitor = RunMonitor(StopRule.for_spec(group.spec, group.epochs))
        self.verdict: RunStatus | None = None
        self.verdict_epoch = -1  # the epoch the rule stopped the run at
        self.judged = -1  # the last epoch the rule has seen whole

    def merged(self) -> list[tuple[int, dict[str, float]]]:
        """Every epoch reported so far, the sources' values merged (a log over the lines)."""
        rows: dict[int, dict[str, float]] = {}
        for source in self.sources:
            for record in source.history:
                rows[record.epoch] = {**rows.get(record.epoch, {}), **record.metrics}
        return sorted(rows.items())

    @property
    def problems(self) -> list[str]:
        return [p for source in self.sources for p in source.problems]

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(n for source in self.sources for n in source.names))

    def poll(self, on_epoch: Callable[[int, int], None] | None, final: bool = False) -> str:
        """Read what arrived; a reason to stop the run ("" to go on). A verdict is final."""
        if self.verdict is not None:
            return self.monitor.reason
        for source in self.sources:
            source.read_new(final)
        rows = self.merged()
        for i, (epoch, values) in enumerate(rows):
            loss = values.get("train_loss", values.get(self.objective, math.nan))
            val = values.get("val_loss", values.get(self.objective, math.nan))
            watched = {k: v for k, v in values.items()
                       if k in ("train_loss", "val_loss", self.objective)}  # fmt: skip
            bad = [f"{k} {v}" for k, v in watched.items() if not math.isfinite(v)]
            if bad:
                self.verdict, self.verdict_epoch = RunStatus.DIVERGED, epoch
                self.monitor.reason = f"a non-finite loss: {', '.join(bad)} at epoch {epoch}"
                return self.monitor.reason
            whole = final or i < len(rows) - 1  # a later epoch arrived: this one is complete
            if whole and epoch > self.judged:
                self.judged = epoch
                if on_epoch is not None and epoch > 0:
                    on_epoch(epoch, 1)
                if math.isfinite(loss) and math.isfinite(val):
                    verdict = self.monitor.observe(epoch, loss, val)
                    if verdict is not None:
                        self.verdict, self.verdict_epoch = verdict, epoch
                        return self.monitor.reason
        return ""


def _train_one(
    group: Group,
    run: RunSpec,
    settings: Settings,
    on_epoch: Callable[[int, int], None] | None,
    stop: threading.Event | None,
) -> RunResult:
    trainer = settings.trainer
    run_dir = Path(settings.folder) / RUNS_DIR / run.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = run_dir / METRICS_FILE
    metrics.unlink(missing_ok=True)  # a restarted run starts its reports afresh
    values = values_of(run, run_dir)
    history = None
    if trainer.history:
        history = Path(trainer.history.format_map(values))
        history = history if history.is_absolute() else Path(settings.cwd) / history
        history.unlink(missing_ok=True)
    watch = _Watch(group, settings, metrics, history)
    env = run_environment(settings, run, run_dir, metrics)

    def poll() -> str | None:
        return watch.poll(on_epoch) or None

    if settings.function is None:
        argv = fill_command(trainer.words, values)
        outcome = run_command(
            argv, cwd=settings.cwd, env=env, timeout=trainer.timeout_seconds, poll=poll,
            poll_interval=POLL_SECONDS, stop=stop, grace=trainer.stop_grace,
        )  # fmt: skip
    else:
        trial = Trial(run.lr, run.seed, run.epochs, dict(values_of(run, run_dir)), run_dir)
        for key in ("lr", "seed", "epochs", "run_dir"):
            trial.params.pop(key, None)
        function = settings.function
        extra = {k: v for k, v in env.items() if k.startswith("LRSWEEP_")}
        outcome = run_function(
            lambda: function(trial), env=extra, timeout=trainer.timeout_seconds, poll=poll,
            poll_interval=POLL_SECONDS, stop=stop, grace=trainer.stop_grace,
        )  # fmt: skip
    if outcome.stopped == "interrupted":
        raise Cancelled(f"run {run.run_id} stopped with the sweep")
    watch.poll(None, final=True)  # the last reports, written just before it ended
    _keep_tails(run_dir, outcome)
    return _result(run, watch, outcome, trainer)


def _keep_tails(run_dir: Path, outcome: Outcome) -> None:
    """The last bytes of the run's stdout and stderr, in its folder."""
    for name, tail in (("stdout.txt", outcome.stdout), ("stderr.txt", outcome.stderr)):
        if tail:
            (run_dir / name).write_bytes(tail)


def _result(run: RunSpec, watch: _Watch, outcome: Outcome, trainer: TrainerSpec) -> RunResult:
    """The run's status, history and message from what it reported and how it ended."""
    rows = watch.merged()
    if watch.verdict is not None:  # what it reported after the verdict does not count (a
        # fast script may report on before it is stopped): the same history however fast
        rows = [(epoch, values) for epoch, values in rows if epoch <= watch.verdict_epoch]
    history = [_epoch_log(epoch, values, run.lr) for epoch, values in rows]
    epochs_done = max((epoch for epoch, _ in rows), default=0)
    problems = watch.problems
    noted = f"; {len(problems)} report problems (first: {problems[0]})" if problems else ""

    def result(status: RunStatus, message: str) -> RunResult:
        kept = history if rows else []
        return RunResult(run.run_id, status, kept, outcome.seconds, epochs_done, message)

    if watch.verdict is not None:  # the stopping rule ended it: a result
        return result(watch.verdict, watch.monitor.reason + noted)
    if outcome.timed_out:
        return result(RunStatus.TIMEOUT, f"{outcome.describe()} (trainer.timeout){noted}")
    if not outcome.ok:
        last = " | ".join(outcome.last_lines(3))
        return result(RunStatus.FAILED, outcome.describe() + (f": {last}" if last else "") + noted)
    if not rows:
        where = f" (or write {trainer.history})" if trainer.history else ""
        return result(
            RunStatus.FAILED,
            "exited 0 but reported nothing: call lrsweep.report(epoch=..., val_loss=...) or"
            f" append JSON lines to ${METRICS_ENV}{where}{noted}",
        )
    if not any(trainer.objective in values for _, values in rows):
        reported = ", ".join(watch.names) or "no metric"
        return result(
            RunStatus.FAILED,
            f"objective {trainer.objective!r} was never reported; the script reported"
            f" {reported}{noted}",
        )
    return result(RunStatus.OK, noted.removeprefix("; "))


def _epoch_log(epoch: int, values: Mapping[str, float], lr: float) -> EpochLog:
    """One reported epoch as a history row: the usual losses in their columns, the LR the
    run was given (or the one it reported, under a schedule), every other metric kept."""
    named = values
    used = {"train_loss", "val_loss", "val_metric", "step", "lr", "learning_rate"}
    reported_lr = named.get("lr", named.get("learning_rate", lr))
    return EpochLog(
        epoch=epoch,
        step=int(named["step"]) if math.isfinite(named.get("step", math.nan)) else epoch,
        lr=lr,
        train_loss=named.get("train_loss", math.nan),
        val_loss=named.get("val_loss", math.nan),
        val_metric=named.get("val_metric", math.nan),
        lr_effective=reported_lr,
        metrics={k: v for k, v in values.items() if k not in used},
    )


# --------------------------------------------------------------------------------------------
# The trainers


class CommandTrainer:
    """A user's command (``trainer: {command: ...}``): one process per run.

    Runs pack one per group; with ``--jobs N``, N run at once in threads of the driver, each
    waiting on its own process (the work is in the processes, not in Python).
    """

    kind: ClassVar[str] = "command"

    def __init__(self, spec: Spec) -> None:
        if spec.trainer is None:
            raise SpecError(f"{spec.source_file}: trainer: missing")
        self.spec = spec
        self.trainer: TrainerSpec = spec.trainer
        self.cwd = Path(spec.base_dir, spec.trainer.cwd).resolve()
        self.function: Callable[[Any], Any] | None = None

    def check(self, plan: Any, jobs: int) -> None:
        """The command can run here: its folder exists, its program (and a ``#!`` script's
        interpreter, a ``python`` command's script) is found as the OS will find it."""
        where = f"{self.spec.source_file}: trainer"
        if not self.cwd.is_dir():
            raise SpecError(f"{where}.cwd: no such folder {self.cwd}")
        if self.function is None:
            check_command(self.program_words(), cwd=self.cwd, env=self.trainer.env,
                          where=f"{where}.command")  # fmt: skip

    def pack(self, spec: Spec, runs: Sequence[RunSpec]) -> list[Group]:
        """One group per run, with its combination's spec (its ``vary`` values)."""
        return [
            Group(combo_spec, run.seed, run.epochs, run.subsample, (run,))
            for combo_spec, mine in by_combination(spec, runs)
            for run in mine
        ]

    def work(self, groups: Sequence[Group], folder: Path | None = None) -> Work:
        # the results dir absolute: a run starts in the command's folder, not in this one
        results = str(Path(folder or ".").resolve())
        settings = Settings(self.trainer, str(self.cwd), results, self.function)
        script = self.script()
        seen = [str(self.cwd), *([str(script)] if script else []), results]
        return Work(train_script_group, settings, self.cost, self.where,
                    functools.partial(check_visible, tuple(seen)))  # fmt: skip

    def cost(self, group: Group) -> float:
        return float(group.epochs)

    def where(
        self, groups: Sequence[Group], jobs: int, pool_started: bool
    ) -> tuple[Where, float, str]:
        if jobs > 1 and len(groups) > 1:
            return "threads", 0.0, f"{min(jobs, len(groups))} runs at once, a process each"
        return "here", 0.0, "one run at a time"

    def data_report(self) -> dict[str, Any] | None:
        return None

    def inputs(self) -> dict[str, Any]:
        """The script the command runs, by content: an edited script is other code, and its
        runs are not pooled with the old ones. The script is the program when it is a file in
        the command's folder, else the first word after an interpreter (``python train.py``);
        ``python -m module`` names no file."""
        script = self.script()
        return {} if script is None else {"script": _file_digest(script)}

    def program_words(self) -> list[str]:
        """The command's words with ``{python}`` filled in: what finds its program."""
        return [w.replace("{python}", sys.executable) for w in self.trainer.words]

    def script(self) -> Path | None:
        """The script file the command runs (`lrsweep.child.check_command`), if any."""
        if self.function is not None:
            return None
        try:
            found = check_command(self.program_words(), cwd=self.cwd, env=self.trainer.env).script
        except SpecError:
            return None
        return None if found is None else Path(found)

    def estimate(self, plans: Sequence[Any], jobs: int, range_test_iters: int) -> Any:
        return None


class FunctionTrainer(CommandTrainer):
    """A Python function ``train_fn(trial)`` per run (`lrsweep.sweep`), in a forked process
    with the guarantees of a command (isolation, the stopping rule, the timeout)."""

    kind: ClassVar[str] = "function"

    def __init__(self, spec: Spec, function: Callable[[Any], Any]) -> None:
        super().__init__(spec)
        self.function = function

    def work(self, groups: Sequence[Group], folder: Path | None = None) -> Work:
        # the function cannot travel to another process by name: its runs stay in this one
        results = str(Path(folder or ".").resolve())
        settings = Settings(self.trainer, str(self.cwd), results, self.function)
        return Work(train_script_group, settings, self.cost, self.where)

    def inputs(self) -> dict[str, Any]:
        code = getattr(self.function, "__code__", None)
        name = getattr(self.function, "__qualname__", repr(self.function))
        digest = hashlib.sha256(code.co_code if code is not None else name.encode()).hexdigest()
        return {"function": {"name": name, "sha256": digest}}


def check_visible(paths: Sequence[str]) -> str:
    """On a cluster's worker: "" when it sees every one of ``paths`` (the command's folder,
    its script, the results folder, which it writes each run's folder into), else which not."""
    for path in paths:
        if not os.path.exists(path):
            return f"cannot see {path}"
    if paths and not os.access(paths[-1], os.W_OK):
        return f"cannot write into {paths[-1]}"
    return ""


def _file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "size": path.stat().st_size, "sha256": digest}
