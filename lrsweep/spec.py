"""The experiment spec: the frozen pydantic models a YAML file validates into.

The file is read by `lrsweep.yamlload.load_yaml` (YAML 1.2 scalars, no aliases or duplicate
keys, finite numbers, bounded size and depth: its docstring lists the rules).

Every error is one line: ``<file>[:line:col]: <dotted.key>: <rule>, got <value>[; hint]``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from lrsweep.errors import SpecError, did_you_mean, shorten
from lrsweep.methods import METHODS
from lrsweep.yamlload import load_value, load_yaml

MAX_RUNS = 20_000  # runs one spec may plan; more is almost surely a typo in the grid


# --------------------------------------------------------------------------------------------
# The models: every key has a default and a one-line reason.


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


PositiveFloat = Field(gt=0)


# Data keys added after studies existed: left out of the resolved spec (and so of its hash and
# of every run_id) while at their defaults, so existing studies keep their ids.
DATA_DEFAULTS: dict[str, Any] = {
    "member": None,
    "sheet": None,
    "table": None,
    "query": None,
    "dates": "expand",
    "min_class_count": 1,
    "over_max_categories": "error",
}


class DataSpec(_Section):
    """Where the data comes from and how it is split."""

    path: str | None = None  # a table file, relative to the spec file (formats: docs/data.md)
    builtin: Literal["spirals", "moons", "teacher"] | None = None  # a synthetic set instead
    member: str | None = None  # a zip archive of several tables: the one to read
    sheet: str | None = None  # a workbook: the sheet's name; default the first sheet
    table: str | None = None  # a SQLite database: the table (or view); default the only one
    query: str | None = Field(None, min_length=1)  # a SQLite database: one SELECT instead
    target: str | None = None  # the target column's name; default: the last column
    features: list[str] | None = None  # the feature columns; default: every other column
    drop: list[str] = Field(default_factory=list)  # columns never used as features
    categorical: list[str] = Field(default_factory=list)  # integer codes to one-hot as classes
    numeric: list[str] = Field(default_factory=list)  # columns to read as numbers, whatever
    max_categories: int = Field(50, ge=2, le=10_000)  # more levels than this: ...
    over_max_categories: Literal["error", "drop"] = "error"  # ... an error, or dropped (said)
    dates: Literal["expand", "drop"] = "expand"  # date columns: numeric parts, or dropped
    na_values: list[str] = Field(  # cells that mean "missing" (besides non-finite numbers)
        default_factory=lambda: ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"]
    )
    missing: Literal["impute", "drop"] = "impute"  # impute: median + indicator; drop: rows
    delimiter: str | None = None  # None: sniffed from the file (, ; tab |)
    task: Literal["auto", "classification", "regression"] = "auto"  # auto: from the target
    min_class_count: int = Field(1, ge=1)  # classification: rows of rarer classes dropped
    val_fraction: float = Field(0.2, gt=0, lt=1)  # held out for the validation loss
    standardize: bool = True  # zero mean, unit variance, fitted on the training part only
    split_seed: int = Field(0, ge=0)  # the train/validation split's own seed
    n_samples: int = Field(1000, ge=10, le=1_000_000)  # builtins: how many samples
    n_features: int = Field(10, ge=1, le=10_000)  # teacher: input width
    n_classes: int = Field(3, ge=2, le=100)  # spirals: number of arms
    noise: float = Field(0.1, ge=0, le=10)  # builtins: noise level
    generator_seed: int = Field(0, ge=0)  # builtins: the generator's seed

    @model_validator(mode="before")
    @classmethod
    def _sheet_as_text(cls, data: Any) -> Any:
        # `sheet: 2024` is a sheet named "2024" (YAML reads it as a number)
        if isinstance(data, dict) and type(data.get("sheet")) is int:
            return {**data, "sheet": str(data["sheet"])}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.builtin is None):
            raise ValueError("give exactly one of 'path' (a table file) or 'builtin'")
        if self.features is not None and self.drop:
            raise ValueError("give at most one of 'features' and 'drop'")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"delimiter: must be one character, got {self.delimiter!r}")
        if self.table is not None and self.query is not None:
            raise ValueError("give at most one of 'table' and 'query'")
        return self

    @model_serializer(mode="wrap")
    def _omit_new_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key, default in DATA_DEFAULTS.items():
            if key in data and data[key] == default:
                del data[key]
        return data


class ModelSpec(_Section):
    """The MLP."""

    hidden: list[int] = Field(default_factory=lambda: [64, 64], max_length=16)  # layer widths
    activation: Literal["relu", "leaky_relu", "tanh", "sigmoid", "gelu"] = "relu"
    init: Literal["auto", "he", "xavier"] = "auto"  # auto: He for ReLU-like, Xavier otherwise
    dtype: Literal["float32", "float64"] = "float32"  # float32 is about twice as fast

    @model_validator(mode="after")
    def _widths(self) -> ModelSpec:
        for i, width in enumerate(self.hidden):
            if not 1 <= width <= 65_536:
                raise ValueError(f"hidden.{i}: must be in [1, 65536], got {width}")
        return self


if TYPE_CHECKING:
    OptimizerName = str
else:  # the optimizers' names, in the registry's order: one source of truth, `lrsweep.methods`
    OptimizerName = Literal[tuple(METHODS)]

# Options of the learning-rate-free methods, with their defaults. A spec that leaves them at
# their defaults resolves (and hashes) as it did before they existed, so the run_ids of
# existing studies do not change (`OptimizerSpec._omit_default_lr_free`).
LR_FREE_DEFAULTS: dict[str, Any] = {
    "d0": 1e-6,
    "d_coef": 1.0,
    "beta3": None,
    "growth_rate": None,
    "decouple": None,
    "use_bias_correction": False,
    "safeguard_warmup": False,
    "warmup_steps": 0,
    "r": 0.0,
    "weight_lr_power": 2.0,
    "reps_rel": 1e-6,
    "init_eta": None,
    "average_gamma": 8.0,
    "cocob_alpha": 100.0,
}


class OptimizerSpec(_Section):
    """The update rule; keys a given optimizer does not use are ignored by it."""

    # *_hd: hypergradient descent adapts each run's LR online (Baydin et al. 2018);
    # prodigy, dadapt_*, *_schedulefree, dog, cocob: learning-rate-free methods
    name: OptimizerName = "sgd"  # any key of `lrsweep.methods.METHODS`
    momentum: float = Field(0.0, ge=0, lt=1)  # sgd, rmsprop, dadapt_sgd, sgd_schedulefree
    dampening: float = Field(0.0, ge=0, le=1)  # sgd
    nesterov: bool = False  # sgd
    weight_decay: float | None = Field(None, ge=0)  # L2 (decoupled for adamw); None: 0, adamw 0.01
    betas: list[float] = Field(  # adam, adamw, prodigy, dadapt_adam, adamw_schedulefree
        default_factory=lambda: [0.9, 0.999], min_length=2, max_length=2
    )
    eps: float | None = Field(None, gt=0)  # None: the reference's default for the optimizer
    alpha: float = Field(0.99, ge=0, lt=1)  # rmsprop smoothing
    centered: bool = False  # rmsprop
    amsgrad: bool = False  # adam, adamw
    lr_decay: float = Field(0.0, ge=0)  # adagrad
    initial_accumulator_value: float = Field(0.0, ge=0)  # adagrad
    hyper_lr: float | None = Field(None, gt=0)  # *_hd: hypergradient beta; None: 1e-3, adam 1e-7
    d0: float = Field(1e-6, gt=0)  # prodigy, dadapt_*: the initial distance estimate d
    d_coef: float = Field(1.0, gt=0)  # prodigy: multiplies the d estimate (its tuning knob)
    beta3: float | None = Field(None, ge=0, lt=1)  # prodigy: decay of its sums; None: sqrt(beta2)
    growth_rate: float | None = Field(None, ge=1)  # prodigy, dadapt_*: d's growth cap; None: inf
    decouple: bool | None = None  # prodigy, dadapt_adam: AdamW-style decay; None: the reference's
    use_bias_correction: bool = False  # prodigy, dadapt_adam: Adam's bias correction in d lr
    safeguard_warmup: bool = False  # prodigy: no lr in the denominator of d (for LR warm-up)
    warmup_steps: int = Field(0, ge=0)  # *_schedulefree: the reference's own linear warm-up
    r: float = Field(0.0, ge=0)  # *_schedulefree: averaging weight grows as (k + 1)^r
    weight_lr_power: float = Field(2.0, ge=0)  # *_schedulefree: averaging weight lr_max^power
    reps_rel: float = Field(1e-6, gt=0)  # dog: first step's distance, relative to 1 + |x_0|
    init_eta: float | None = Field(None, gt=0)  # dog: the first step size; None: from reps_rel
    average_gamma: float = Field(8.0, ge=0)  # dog: polynomial-decay averaging of the iterates
    cocob_alpha: float = Field(100.0, gt=0)  # cocob: bounds the first steps (alpha in the paper)

    @model_serializer(mode="wrap")
    def _omit_default_lr_free(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key, default in LR_FREE_DEFAULTS.items():
            if key in data and data[key] == default:
                del data[key]
        return data

    @model_validator(mode="after")
    def _betas(self) -> OptimizerSpec:
        for i, b in enumerate(self.betas):
            if not 0 <= b < 1:
                raise ValueError(f"betas.{i}: must be in [0, 1), got {b}")
        return self

    @model_validator(mode="after")
    def _nesterov(self) -> OptimizerSpec:
        # as torch.optim.SGD: Nesterov momentum needs a momentum and zero dampening
        if self.name == "sgd" and self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "nesterov: requires momentum > 0 and dampening = 0, got"
                f" momentum={self.momentum}, dampening={self.dampening}"
            )
        if self.name in ("sgdn_hd", "sgd_schedulefree") and self.momentum <= 0:
            raise ValueError(f"momentum: {self.name} needs momentum > 0, got {self.momentum}")
        if self.name == "adamw_schedulefree" and self.betas[0] <= 0:
            raise ValueError(
                f"betas.0: adamw_schedulefree needs betas[0] > 0, got {self.betas[0]}"
            )
        return self


class ScheduleSpec(_Section):
    """How the LR moves during a run, as ``torch.optim.lr_scheduler`` documents each schedule.

    The grid's LR is the schedule's base LR (its peak, ``max_lr``, for cyclic and onecycle).
    Counts (step_size, milestones, total_iters, t_max, step_size_up/down, patience, cooldown)
    are in the schedule's ``interval`` units, like PyTorch's ``scheduler.step()`` calls: epochs,
    or optimizer steps with ``interval: step``. ``t_0`` is always in epochs (``interval: step``
    steps it fractionally). Keys the chosen schedule does not use are ignored, so the section
    can be shared across ``vary: {schedule.name: [...]}``. See `lrsweep.schedules`.
    """

    name: Literal[
        "constant",
        "step",
        "multistep",
        "exponential",
        "linear",
        "polynomial",
        "cosine",
        "cosine_restarts",
        "cyclic",
        "onecycle",
        "plateau",
    ] = "constant"
    interval: Literal["epoch", "step"] | None = None  # None: step for cyclic/onecycle, else epoch
    warmup_epochs: float | None = Field(None, ge=0)  # linear warmup first, then the schedule
    warmup_steps: int | None = Field(None, ge=0)  # the same in optimizer steps (not both)
    warmup_start_factor: float = Field(0.01, gt=0, le=1)  # warmup's first LR = this x base LR
    # step, multistep, exponential (StepLR, MultiStepLR, ExponentialLR)
    step_size: int | None = Field(None, ge=1)  # step: decay every this many; None: a third of run
    milestones: list[int] | None = None  # multistep: increasing; None: 1/2 and 3/4 of the run
    gamma: float | None = Field(None, gt=0, le=1)  # None: 0.1; exponential: x0.01 over the run;
    #                                                cyclic exp_range: 1.0 (per step)
    # linear, polynomial (LinearLR, PolynomialLR)
    start_factor: float = Field(1 / 3, gt=0, le=1)  # linear: first LR = this x base LR
    end_factor: float = Field(1.0, ge=0, le=1)  # linear: LR after total_iters = this x base LR
    total_iters: int | None = Field(None, ge=1)  # None: the whole run (PyTorch's default is 5)
    power: float = Field(1.0, ge=0)  # polynomial: 1 is a linear decay to 0
    # cosine, cosine_restarts (CosineAnnealingLR, CosineAnnealingWarmRestarts)
    t_max: int | None = Field(None, ge=1)  # cosine: half period; None: the whole run
    eta_min: float = Field(0.0, ge=0)  # cosine floor, an absolute LR
    t_0: int | None = Field(None, ge=1)  # epochs to the first restart; None: a quarter of run
    t_mult: int = Field(1, ge=1)  # each period is t_mult x longer than the one before
    # cyclic (CyclicLR), onecycle (OneCycleLR), plateau (ReduceLROnPlateau)
    mode: Literal["triangular", "triangular2", "exp_range", "min", "max"] | None = None  # cyclic:
    #    triangular (2 and exp_range shrink the cycles); plateau: min (a loss) or max
    base_lr_ratio: float = Field(0.25, gt=0, lt=1)  # cyclic: base_lr = this x grid LR (max_lr)
    step_size_up: int | None = Field(None, ge=1)  # cyclic: rise length; None: 2 epochs (<= run/2)
    step_size_down: int | None = Field(None, ge=1)  # cyclic: fall length; None: step_size_up
    cycle_momentum: bool = True  # cyclic, onecycle: momentum (or beta1) moves against the LR
    base_momentum: float | None = Field(None, ge=0, lt=1)  # at peak LR: 0.8, onecycle 0.85
    max_momentum: float | None = Field(None, ge=0, lt=1)  # at the lowest LR: 0.9, onecycle 0.95
    pct_start: float = Field(0.3, gt=0, lt=1)  # onecycle: fraction of the run spent rising
    anneal_strategy: Literal["cos", "linear"] = "cos"  # onecycle: shape of each phase
    div_factor: float = Field(25.0, ge=1)  # onecycle: first LR = max_lr / div_factor
    final_div_factor: float = Field(1e4, ge=1)  # onecycle: last LR = first LR / this
    three_phase: bool = False  # onecycle: fall back to the first LR, then anneal to the last
    factor: float = Field(0.1, gt=0, lt=1)  # plateau: LR x this on a plateau
    patience: int = Field(10, ge=0)  # plateau: epochs without improvement before reducing
    threshold: float = Field(1e-4, ge=0)  # plateau: smallest change counted as improvement
    threshold_mode: Literal["rel", "abs"] = "rel"  # plateau: threshold relative or absolute
    cooldown: int = Field(0, ge=0)  # plateau: epochs to wait after a reduction
    min_lr: float = Field(0.0, ge=0)  # plateau: floor, an absolute LR
    eps: float = Field(1e-8, ge=0)  # plateau: skip reductions smaller than this

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleSpec:
        if self.warmup_epochs is not None and self.warmup_steps is not None:
            raise ValueError(
                "warmup_steps: give warmup_epochs or warmup_steps, not both, got "
                f"warmup_epochs={self.warmup_epochs!r}, warmup_steps={self.warmup_steps!r}"
            )
        if self.milestones is not None:
            for i, m in enumerate(self.milestones):
                if m < 1:
                    raise ValueError(f"milestones.{i}: must be >= 1, got {m}")
            if not self.milestones:
                raise ValueError("milestones: must list at least one milestone, got []")
            if any(b <= a for a, b in zip(self.milestones, self.milestones[1:])):
                raise ValueError(f"milestones: must be increasing, got {self.milestones}")
        if self.name == "cyclic" and self.mode in ("min", "max"):
            raise ValueError(
                "mode: must be 'triangular', 'triangular2' or 'exp_range' for cyclic, got"
                f" {self.mode!r}"
            )
        if self.name == "plateau":
            if self.mode not in (None, "min", "max"):
                raise ValueError(f"mode: must be 'min' or 'max' for plateau, got {self.mode!r}")
            if self.interval == "step":
                raise ValueError(
                    "interval: must be 'epoch' for plateau (it reads the validation loss once"
                    " per epoch), got 'step'"
                )
        if self.name in ("cyclic", "onecycle"):
            defaults = (0.8, 0.9) if self.name == "cyclic" else (0.85, 0.95)
            low = defaults[0] if self.base_momentum is None else self.base_momentum
            high = defaults[1] if self.max_momentum is None else self.max_momentum
            if low > high:
                raise ValueError(f"base_momentum: must be <= max_momentum, got {low} > {high}")
        if self.name == "onecycle" and self.three_phase and self.pct_start >= 0.5:
            raise ValueError(f"pct_start: must be < 0.5 with three_phase, got {self.pct_start}")
        return self


class TrainSpec(_Section):
    """The training budget and the objective the sweep minimises."""

    epochs: int = Field(20, ge=1, le=100_000)  # passes over the training data
    batch_size: int = Field(32, ge=1, le=1_000_000)  # samples per optimizer step
    seeds: int = Field(3, ge=1, le=100)  # repeats per LR, with seeds seed, seed+1, ...
    seed: int = Field(0, ge=0)  # the first seed
    diverge_factor: float = Field(4.0, gt=1)  # diverged: loss above this x the initial loss
    objective: Literal[
        "final_val_loss", "best_val_loss", "final_train_loss", "final_val_metric", "mean_val_loss"
    ] = "final_val_loss"


LR_LIMITS = (1e-12, 1e6)  # the LRs a grid may span: 18 decades, as `lrsweep find` allows


class GridSpec(_Section):
    """The coarse log grid of learning rates (round 0)."""

    lr_min: float = Field(1e-5, gt=0, le=LR_LIMITS[1])  # smallest LR, included
    lr_max: float = Field(1.0, gt=0, le=LR_LIMITS[1])  # largest LR, included
    points_per_decade: int = Field(2, ge=1, le=1000)  # grid density
    from_range_test: bool = False  # true: lr_min/lr_max from `lrsweep find` (see the README)

    @model_validator(mode="after")
    def _order(self) -> GridSpec:
        if self.lr_min < LR_LIMITS[0]:  # a subnormal lr_min makes lr_max / lr_min overflow
            raise ValueError(f"lr_min: must be >= {LR_LIMITS[0]:g}, got {self.lr_min!r}")
        if self.lr_min >= self.lr_max:
            raise ValueError(f"lr_min: must be < lr_max, got {self.lr_min} >= {self.lr_max}")
        return self


class RefineSpec(_Section):
    """Finer rounds around the best LR after round 0."""

    rounds: int = Field(0, ge=0, le=10)  # at most this many; 0: the coarse grid only
    points_per_decade: int = Field(8, ge=1, le=1000)  # density inside the first bracket
    stop_ratio: float = Field(2.0, gt=1, le=10)  # stop once the best's neighbours are this close
    # after the rounds, add seeds at the top LRs while the answer is unsure, within max_runs
    resolve: bool = True
    # runs per curve, all rounds; None: 35 % of a 16-per-decade grid over the range x the seeds
    max_runs: int | None = Field(None, ge=1, le=1_000_000)


class CoarseSpec(_Section):
    """A cheaper round 0: less data and/or fewer epochs. Refine rounds use the full budget."""

    subsample: float = Field(1.0, gt=0, le=1)  # fraction of the training part round 0 sees
    epochs: int | None = Field(None, ge=1, le=100_000)  # round 0's epochs; None: train.epochs


class AnalysisSpec(_Section):
    """How the answer is read from the runs."""

    band_tolerance: float = Field(0.05, gt=0, le=1)  # good band: within 5% of the best
    oscillation_threshold: float = Field(0.1, gt=0, le=10)  # relative up-and-down moves
    plateau_threshold: float = Field(0.05, gt=0, lt=1)  # moved less than 5% from the start
    label_window: int = Field(5, ge=2, le=1000)  # epochs the labels look back over


VARY_AXES = (  # the keys `vary:` may sweep besides the LR
    "optimizer.name",
    "optimizer.momentum",
    "optimizer.weight_decay",
    "train.batch_size",
    "model.hidden",
    "schedule.name",
)
NUMERIC_AXES = ("optimizer.momentum", "optimizer.weight_decay", "train.batch_size", "model.hidden")


class PruneSpec(_Section):
    """Stop hopeless LRs early: at each rung, members far behind their seed's best."""

    enabled: bool = False  # off: every run trains its whole budget
    rungs: list[float] = Field(default_factory=lambda: [0.25, 0.5])  # fractions of the epochs
    # pruned: made less than this share of the best's progress from the common initial val loss
    min_progress: float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _rungs(self) -> PruneSpec:
        bad = [r for r in self.rungs if not 0 < r < 1]
        if bad:
            raise ValueError(f"rungs: must be fractions in (0, 1), got {bad[0]!r}")
        return self


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# what every command may name, besides the vary keys; {python}: the interpreter running
# lrsweep, so a script sees the packages lrsweep sees whatever `python` is on PATH
PLACEHOLDERS = ("lr", "seed", "epochs", "run_dir", "python")


def duration_seconds(value: float | str) -> float:
    """``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1.5d"`` in seconds (validated by the spec)."""
    if isinstance(value, (int, float)):
        return float(value)
    found = DURATION.match(value)
    if not found:
        raise ValueError(f"not a duration: {value!r}")
    return float(found.group(1)) * DURATION_UNITS[found.group(2)]


def command_words(command: str | list[str]) -> list[str]:
    """The command as its words: a string is split as a POSIX shell would (never run by one)."""
    import shlex

    return list(command) if isinstance(command, list) else shlex.split(command)


def placeholder_names(text: str) -> list[str]:
    """The ``{name}`` placeholders of a command word (``{{`` is a literal brace)."""
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


class TrainerSpec(_Section):
    """Your own training code: a command lrsweep runs once per run (DESIGN.md §6b).

    Placeholders ``{lr}``, ``{seed}``, ``{epochs}``, ``{run_dir}`` and each ``vary:`` key by its
    last dotted part are filled per run; each run also gets ``LRSWEEP_LR``, ``LRSWEEP_SEED``,
    ``LRSWEEP_EPOCHS``, ``LRSWEEP_RUN_DIR`` and ``LRSWEEP_METRICS`` in its environment.
    """

    command: str | list[str]  # split like a shell would, never run through a shell
    cwd: str = "."  # the folder the command runs in, relative to the spec file
    env: dict[str, str] = Field(default_factory=dict)  # added to every run's environment
    objective: str = "val_loss"  # the reported metric the sweep minimises
    maximize: bool = False  # true for accuracy-like metrics
    pick: Literal["final", "best"] = "final"  # final: mean of the last 3 reported epochs
    timeout: float | str = "2h"  # per run: seconds, or 90s, 30m, 2h, 1d; past it: `timeout`
    history: str | None = None  # a log the script writes (placeholders allowed): a CSV with
    # an epoch column (Lightning's or Keras' CSVLogger) or Hugging Face's trainer_state.json
    lr_from_env: bool = False  # true: the script reads $LRSWEEP_LR, no {lr} in the command
    stop_grace: float = Field(5.0, ge=0, le=600)  # seconds from SIGTERM to SIGKILL on a stop

    @model_validator(mode="after")
    def _command(self) -> TrainerSpec:
        try:
            words = command_words(self.command)
        except ValueError as e:
            raise ValueError(f"command: cannot split it like a shell would ({e}), got"
                             f" {shorten(repr(self.command))}") from None  # fmt: skip
        if not words or not words[0].strip():
            raise ValueError(f"command: must name a program, got {self.command!r}")
        try:
            seconds = duration_seconds(self.timeout)
        except ValueError:
            raise ValueError(
                f"timeout: must be seconds or a duration like 90s, 30m, 2h, got {self.timeout!r}"
            ) from None
        if not 0 < seconds <= 30 * 86400:
            raise ValueError(f"timeout: must be > 0 and at most 30 days, got {self.timeout!r}")
        if not re.fullmatch(r"[A-Za-z_][\w.\-/]*", self.objective):
            raise ValueError(f"objective: must be a metric's name, got {self.objective!r}")
        for key in self.env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"env.{shorten(key)}: not an environment variable name")
        return self

    @property
    def words(self) -> list[str]:
        return command_words(self.command)

    @property
    def timeout_seconds(self) -> float:
        return duration_seconds(self.timeout)

    @property
    def objective_name(self) -> str:
        """The objective's name in `lrsweep.records.run_objective`'s terms: ``final_val_loss``,
        ``best_accuracy:max``."""
        return f"{self.pick}_{self.objective}" + (":max" if self.maximize else "")


class BudgetSpec(_Section):
    """Spend at most this much training on the answer, per curve (lrsweep.search.budgeted):
    a first look at few epochs, successive halving across LRs by rung, then seeds and finer
    LRs near the optimum while the budget lasts. Without ``budget:`` the grid, refine rounds
    and resolve steps run as the spec says."""

    runs: float | None = Field(None, gt=0, le=100_000)  # full-run equivalents: the epochs
    # trained over every run and round (a diverged or pruned run counts what it trained)
    # divided by train.epochs
    time: float | str | None = None  # or the wall time training may take: 90s, 30m, 2h
    rungs: int = Field(3, ge=1, le=6)  # epochs of the rungs: train.epochs / eta^k, ..., all
    eta: int = Field(3, ge=2, le=10)  # each rung trains about 1/eta of the LRs, eta x the epochs

    @model_validator(mode="after")
    def _one_kind(self) -> BudgetSpec:
        if (self.runs is None) == (self.time is None):
            raise ValueError("give exactly one of 'runs' (full-run equivalents) or 'time'")
        if self.time is not None:
            try:
                seconds = duration_seconds(self.time)
            except ValueError:
                raise ValueError(
                    f"time: must be seconds or a duration like 90s, 30m, 2h, got {self.time!r}"
                ) from None
            if seconds <= 0:
                raise ValueError(f"time: must be > 0, got {self.time!r}")
        return self

    @property
    def seconds(self) -> float | None:
        return None if self.time is None else duration_seconds(self.time)


class ExecutionSpec(_Section):
    """How runs are packed; affects speed only, never the numbers."""

    group_size: int | None = Field(None, ge=1, le=1024)  # LRs trained in lockstep; None: auto


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


MLP_SECTIONS = ("data", "model", "optimizer", "schedule")  # the built-in model's sections
# keys of shared sections that only the built-in model reads (left out of a script's spec)
NOT_FOR_SCRIPTS = (("train", "batch_size"), ("train", "objective"), ("coarse", "subsample"))


class Spec(_Section):
    """A whole experiment."""

    name: str = "sweep"  # the results dir is results/<name> unless --out is given
    data: DataSpec = Field(default_factory=lambda: DataSpec(builtin="spirals"))
    model: ModelSpec = Field(default_factory=ModelSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    grid: GridSpec = Field(default_factory=GridSpec)
    refine: RefineSpec = Field(default_factory=RefineSpec)
    coarse: CoarseSpec = Field(default_factory=CoarseSpec)
    vary: dict[str, list[Any]] | list[dict[str, Any]] = Field(default_factory=dict)
    # extra axes, one curve per combination: a mapping of lists (every combination of them)
    # or a list of mappings (exactly these combinations)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    prune: PruneSpec = Field(default_factory=PruneSpec)  # not part of a run's id
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    trainer: TrainerSpec | None = None  # your own training script instead of the built-in MLP
    budget: BudgetSpec | None = None  # spend at most this much training (see BudgetSpec)
    base_dir: str = Field(".", exclude=True)  # the spec file's folder (not part of the hash)
    source_file: str = Field("<spec>", exclude=True)  # the spec file, for error messages

    @model_validator(mode="after")
    def _name(self) -> Spec:
        if not _NAME_RE.match(self.name):
            raise ValueError(
                "name: must be 1-100 letters, digits, '.', '_' or '-' and start with a letter"
                f" or digit (it names a folder), got {self.name!r}"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_unused_sections(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``trainer`` key for the built-in model (so the specs of existing studies resolve
        and hash as before); with ``trainer``, no built-in model sections (they train nothing)."""
        data: dict[str, Any] = handler(self)
        if self.budget is None:
            data.pop("budget", None)
        if self.trainer is None:
            data.pop("trainer", None)
        else:
            for key in (*MLP_SECTIONS, "execution"):
                data.pop(key, None)
            for section, key in NOT_FOR_SCRIPTS:
                if isinstance(data.get(section), dict):
                    data[section].pop(key, None)
        return data

    @model_validator(mode="after")
    def _vary(self) -> Spec:
        if self.trainer is not None:
            return self._vary_free()
        if isinstance(self.vary, dict):
            for key, values in self.vary.items():
                _check_axis(key, f"vary.{key}")
                if not values:
                    raise ValueError(f"vary.{key}: must list at least one value, got []")
                seen = [json.dumps(v, sort_keys=True) for v in values]
                if len(set(seen)) != len(seen):
                    raise ValueError(f"vary.{key}: values must be distinct, got {values!r}")
                for i, value in enumerate(values):
                    _check_combo(self, ((key, value),), f"vary.{key}.{i}")
            return self
        if not self.vary:
            raise ValueError("vary: must list at least one combination, got []")
        for i, combo in enumerate(self.vary):
            for key in combo:
                _check_axis(key, f"vary.{i}.{key}")
            if not combo:
                raise ValueError(f"vary.{i}: must set at least one axis, got {{}}")
            _check_combo(self, tuple(combo.items()), f"vary.{i}")
        seen = [json.dumps(c, sort_keys=True) for c in self.vary]
        if len(set(seen)) != len(seen):
            raise ValueError("vary: combinations must be distinct")
        return self

    def _vary_free(self) -> Spec:
        """``vary`` for a user's command: any key, scalar values (they fill placeholders)."""
        combos = [self.vary] if isinstance(self.vary, dict) else self.vary
        if isinstance(self.vary, list) and not self.vary:
            raise ValueError("vary: must list at least one combination, got []")
        for i, combo in enumerate(combos):
            where = "vary" if isinstance(self.vary, dict) else f"vary.{i}"
            for key, values in combo.items():
                if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", key):
                    raise ValueError(f"{where}.{shorten(key)}: must be a name like batch_size")
                listed = values if isinstance(self.vary, dict) else [values]
                if isinstance(self.vary, dict) and not values:
                    raise ValueError(f"vary.{key}: must list at least one value, got []")
                for j, value in enumerate(listed):
                    if not isinstance(value, (str, int, float, bool)):
                        at = f"{where}.{key}" + (f".{j}" if isinstance(self.vary, dict) else "")
                        short = key.rsplit(".", 1)[-1]
                        raise ValueError(
                            f"{at}: must be a number, a string or true/false (it fills"
                            f" {{{short}}} in the command), got {shorten(repr(value))}"
                        )
        return self

    @model_validator(mode="after")
    def _own_code(self) -> Spec:
        """With ``trainer``, the built-in model's sections are an error, and every command
        placeholder must be one lrsweep fills."""
        if self.trainer is None:
            return self
        unused = [key for key in MLP_SECTIONS if key in self.model_fields_set]
        if unused:
            raise ValueError(
                f"{unused[0]}: belongs to the built-in model; with trainer: your script trains"
                f" its own model on its own data (remove {', '.join(k + ':' for k in unused)})"
            )
        for key, why in (
            ("batch_size", "pass it in the command yourself, or vary it with vary:"),
            ("objective", "use trainer.objective (a metric your script reports) and trainer.pick"),
        ):
            if key in self.train.model_fields_set:
                raise ValueError(f"train.{key}: not used with trainer:; {why}")
        if "subsample" in self.coarse.model_fields_set:
            raise ValueError(
                "coarse.subsample: lrsweep cannot subsample your script's data; use"
                " coarse.epochs (it fills {epochs})"
            )
        if "group_size" in self.execution.model_fields_set:
            raise ValueError("execution.group_size: your script trains one run per process")
        known = list(PLACEHOLDERS)
        for axis in self.axes:
            short = axis.rsplit(".", 1)[-1]
            if short in known:
                raise ValueError(
                    f"vary.{axis}: its placeholder {{{short}}} is taken (by lrsweep or another"
                    " vary key); rename the axis"
                )
            known.append(short)
        trainer = self.trainer
        words = trainer.words
        used = set()
        for where, texts in (("trainer.command", words), ("trainer.history", [trainer.history])):
            for text in texts:
                if text is None:
                    continue
                for name in placeholder_names(text):
                    if name not in known:
                        close = difflib.get_close_matches(name, known, n=1)
                        hint = f"did you mean {{{close[0]}}}? " if close else ""
                        raise ValueError(
                            f"{where}: unknown placeholder {{{shorten(name)}}}; {hint}lrsweep"
                            f" fills {', '.join('{' + k + '}' for k in known)}"
                        )
                    used.add(name)
        if (
            "lr" not in {n for w in words for n in placeholder_names(w)}
            and not trainer.lr_from_env
        ):
            raise ValueError(
                "trainer.command: has no {lr}, so the learning rate never reaches the script;"
                " add --lr {lr} (or the script's own option), or set trainer.lr_from_env: true"
                " if the script reads $LRSWEEP_LR"
            )
        return self

    @property
    def objective(self) -> str:
        """The objective the sweep minimises, in `lrsweep.records.run_objective`'s terms: the
        built-in model's ``train.objective``; a user's script's ``trainer.objective_name``."""
        return self.train.objective if self.trainer is None else self.trainer.objective_name

    @property
    def axes(self) -> list[str]:
        """The ``vary`` keys, in spec order."""
        if isinstance(self.vary, dict):
            return list(self.vary)
        return list(dict.fromkeys(k for combo in self.vary for k in combo))

    @property
    def combos(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every combination of the ``vary`` axes, in spec order; ``[()]`` with no axes."""
        if isinstance(self.vary, list):
            return [tuple((k, _frozen(v)) for k, v in c.items()) for c in self.vary]
        combos: list[tuple[tuple[str, Any], ...]] = [()]
        for key, values in self.vary.items():
            combos = [(*c, (key, _frozen(v))) for c in combos for v in values]
        return combos

    @property
    def n_combos(self) -> int:
        """How many combinations ``vary`` makes, without listing them."""
        if isinstance(self.vary, list):
            return max(1, len(self.vary))
        return math.prod(len(v) for v in self.vary.values())

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in and the data path (or a script's folder)
        made absolute."""
        document = self.model_dump(mode="json")
        if self.trainer is not None:  # a script's folder, like a data file, made absolute
            document["trainer"]["cwd"] = str(Path(self.base_dir, self.trainer.cwd).resolve())
        elif self.data.path is not None:
            document["data"]["path"] = str(Path(self.base_dir, self.data.path).resolve())
        return document

    def spec_hash(self) -> str:
        """A short hash of the resolved spec: equal specs have equal hashes."""
        return stable_hash(self.resolved())


def _check_axis(key: str, where: str) -> None:
    if key not in VARY_AXES:
        hint = did_you_mean(key, VARY_AXES)
        raise ValueError(f"{where}: not an axis lrsweep can vary; {hint}")


def _check_combo(spec: Spec, combo: tuple[tuple[str, Any], ...], where: str) -> None:
    try:
        apply_combo(spec, combo)
    except ValidationError as e:
        err = e.errors()[0]
        text = problem_text(err)  # "<key>: <rule>..."; a validator's own text names its key
        rule = text if err["type"] == "value_error" else text.split(": ", 1)[-1]
        raise ValueError(f"{where}: {rule}") from None


def apply_combo(spec: Spec, combo: tuple[tuple[str, Any], ...]) -> Spec:
    """``spec`` with each ``(section.key, value)`` of ``combo`` set (validated) and no ``vary``.

    With a user's command the values set nothing in the spec: they fill placeholders, so the
    combination's spec keeps them as its one combination (``vary: [combo]``).
    """
    if spec.trainer is not None:
        return spec.model_copy(update={"vary": [dict(combo)] if combo else {}})
    updates: dict[str, Any] = {"vary": {}}
    for key, value in combo:
        section, field = key.split(".", 1)
        current = updates.get(section, getattr(spec, section))
        data = {**current.model_dump(), field: list(value) if isinstance(value, tuple) else value}
        updates[section] = type(current).model_validate(data)
    return spec.model_copy(update=updates)


def _frozen(value: Any) -> Any:
    """Lists (``model.hidden`` values) as tuples, so that a combination can be a dict key."""
    return tuple(value) if isinstance(value, list) else value


def combo_label(combo: tuple[tuple[str, Any], ...]) -> str:
    """A short readable name for a combination, e.g. ``optimizer.name=adam``."""
    if not combo:
        return "all"
    return ", ".join(f"{k}={_value_label(v)}" for k, v in combo)


def _value_label(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def stable_hash(obj: Any, length: int = 12) -> str:
    """A short hex digest of ``obj``'s canonical JSON (sorted keys, repr floats)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# --------------------------------------------------------------------------------------------
# Validation with one message listing every problem


def _model_for(loc: Iterable[str | int]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Spec
    for part in loc:
        if model is None:
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return model


def problem_text(err: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """One pydantic error as ``<dotted.key>: <rule>, got <value!r>[; hint]``: the one formatter
    every validated section uses (``prefix`` is the section's key path in a spec)."""
    loc = prefix + tuple(str(p) for p in err["loc"])
    return _error_text(err["type"], loc, err["msg"], err.get("input"), err.get("ctx", {}))


def validation_problems(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every problem of a pydantic ``ValidationError``, formatted by `problem_text`."""
    return [problem_text(err, prefix) for err in error.errors()]


def _format_error(err: Mapping[str, Any], file: str, marks: Mapping[tuple[str, ...], Any]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    kind = err["type"]
    text = problem_text(err)
    if kind == "value_error":
        loc = tuple(text.split(": ", 1)[0].split("."))
    where = ""
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in marks:
            mark = marks[loc[:depth]]
            if isinstance(mark, str):  # a --set option: name it instead of a line
                return f"{mark}: {text}"
            where = ":{}:{}".format(*mark)
            break
    return f"{file}{where}: {text}"


def _dotted(loc: Iterable[str]) -> str:
    """A key path for a message; odd keys (spaces, newlines) are quoted so it stays one line."""
    return shorten(".".join(p if re.fullmatch(r"[\w.<>-]+", p) else repr(p) for p in loc))


def _error_text(kind: str, loc: tuple[str, ...], msg: str, value: Any, ctx: Any) -> str:
    if kind == "extra_forbidden":
        parent = _model_for(loc[:-1])
        known = list(parent.model_fields) if parent else []
        known = [k for k in known if k not in ("base_dir", "source_file")]
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = (
            f"; did you mean '{close[0]}'?" if close else f"; expected one of {', '.join(known)}"
        )
        text = f"{_dotted(loc)}: unknown key{hint}"
    elif kind == "value_error":
        # model validators word their messages "<key>: <rule>" relative to their section
        text = msg.removeprefix("Value error, ")
        if loc:
            keyed = re.match(r"^[a-z_][\w.]*: ", text) is not None
            text = f"{_dotted(loc)}{'.' if keyed else ': '}{text}"
    elif kind == "literal_error":
        options = re.findall(r"'([^']*)'", msg)
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(options)}"
        text = f"{_dotted(loc)}: unknown {shorten(repr(value))}; {hint}"
    else:
        rule = _RULES.get(kind, msg[0].lower() + msg[1:])
        if kind in _RULES:
            rule = rule.format(**{k: _num(v) for k, v in ctx.items()})
        text = f"{_dotted(loc)}: {rule}, got {shorten(repr(value))}"
    return text


def _num(value: Any) -> Any:
    return f"{value:g}" if isinstance(value, float) else value


_RULES = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "model_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_long": "must have at most {max_length} items",
    "too_short": "must have at least {min_length} items",
    "missing": "is required",
}


def validate_spec(
    document: Mapping[str, Any],
    file: str = "<spec>",
    marks: Mapping[tuple[str, ...], Any] | None = None,
    base_dir: str = ".",
) -> Spec:
    """Validate a plain mapping into a ``Spec``; one ``SpecError`` lists every problem."""
    for internal in ("base_dir", "source_file"):
        if internal in document:
            raise SpecError(f"{file}: {internal}: unknown key; did you mean something else?")
    marks = marks or {}
    try:
        spec = Spec.model_validate({**document, "base_dir": base_dir, "source_file": file})
    except ValidationError as e:
        lines = [_format_error(err, file, marks) for err in e.errors()]
        lines.sort(key=lambda line: _position(line, file))  # in the order they appear
        raise SpecError(_join(lines)) from None
    problems = list(check_run_count(spec, file))
    if problems:
        raise SpecError(_join(problems))
    return spec


def _position(line: str, file: str) -> tuple[int, int]:
    found = re.match(r":(\d+):(\d+): ", line[len(file) :])
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _join(lines: list[str]) -> str:
    lines = [line.replace("\r", "\\r").replace("\n", "\\n") for line in lines]  # one line
    if len(lines) == 1:
        return lines[0]
    more = f" | and {len(lines) - 3} more" if len(lines) > 3 else ""
    return f"{len(lines)} problems: " + " | ".join(lines[:3]) + more


def check_run_count(spec: Spec, file: str) -> Iterable[str]:
    """Problems with the size of the plan, before anything is allocated."""
    grid = spec.grid
    decades = math.log10(grid.lr_max) - math.log10(grid.lr_min)  # no overflow at the edges
    points = max(2, math.ceil(decades * grid.points_per_decade - 1e-9) + 1)  # as log_grid
    combos = spec.n_combos
    runs = points * spec.train.seeds * combos
    if runs > MAX_RUNS:
        per = f" x {combos:,} combinations" if combos > 1 else ""
        yield (
            f"{file}: grid: plans {runs:,} runs ({points:,} LRs x {spec.train.seeds} seeds{per}),"
            f" over the cap of {MAX_RUNS:,}; lower grid.points_per_decade, narrow the range,"
            " use fewer seeds or fewer vary values"
        )


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> Spec:
    """Read and validate a spec file, with ``KEY=VALUE`` overrides applied first.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative data paths inside it are resolved against its folder.
    overrides : sequence of str
        ``"train.epochs=5"``, ``"optimizer.name=adam"``, ``"model.hidden=[32, 32]"``,
        ``"vary.optimizer.name=[sgd, adam]"`` (the CLI's ``--set``): a dotted key and a value
        read exactly like the YAML; an error names the option.

    Raises
    ------
    SpecError
        With one line per problem: file, line and column (or the option), dotted key, rule
        and value.
    """
    path = Path(path)
    document, marks = load_yaml(path)
    document = apply_overrides(document, marks, overrides)
    return validate_spec(document, str(path), marks, base_dir=str(path.resolve().parent))


def apply_overrides(
    document: Mapping[str, Any],
    marks: dict[tuple[str, ...], Any],
    overrides: Sequence[str],
) -> dict[str, Any]:
    """``document`` with each ``KEY=VALUE`` set; ``marks`` then names the option for its key."""
    result: dict[str, Any] = json.loads(json.dumps(document))  # a deep copy of plain data
    for option in overrides:
        key, sep, raw = option.partition("=")
        key = key.strip()
        where = f"--set {shorten(option, 80)}"
        if not sep or not key or any(not part for part in key.split(".")):
            raise SpecError(f"{where}: expected KEY=VALUE with a dotted key, e.g. train.epochs=5")
        value = load_value(raw.strip(), where)
        parts = key.split(".")
        path = (parts[0], ".".join(parts[1:])) if parts[0] == "vary" and len(parts) > 1 else parts
        node = result
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(f"{where}: {'.'.join(path[: depth + 1])} is not a mapping")
            node = child
        node[path[-1]] = value
        for depth in range(1, len(path) + 1):
            marks[tuple(path[:depth])] = where
        for mark in [m for m in marks if len(m) > len(path) and m[: len(path)] == tuple(path)]:
            marks[mark] = where  # the file's marks inside a replaced value no longer apply
    return result


def spec_from_resolved(document: Mapping[str, Any], base_dir: str, file: str) -> Spec:
    """Rebuild a Spec from a resolved mapping (as saved in a results dir)."""
    return validate_spec(document, file, None, base_dir=base_dir)


def dump_spec(spec: Spec) -> str:
    """The resolved spec as YAML text, headed by its hash."""
    body = yaml.safe_dump(spec.resolved(), sort_keys=False, default_flow_style=None)
    return f"# lrsweep resolved spec; hash: {spec.spec_hash()}\n{body}"


# --------------------------------------------------------------------------------------------
# Comparing specs: what a changed spec changes in a results folder

# Sections whose change makes earlier runs incomparable with the new ones: other data or
# another split means other numbers for the same settings, so runs cannot be pooled.
INCOMPARABLE = ("data",)
# Keys that change what a finished run's row says (its objective, its label) without changing
# the run: rows are derived again from the histories when one of these changes.
ROW_DERIVING = ("train.objective", "analysis")


def spec_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every leaf key whose value differs between two resolved specs: ``(key, old, new)``."""
    changes: list[tuple[str, Any, Any]] = []

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping) and not prefix.endswith("vary"):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
        elif a != b:
            changes.append((prefix, a, b))

    walk(old, new, "")
    return changes


def describe_changes(changes: Iterable[tuple[str, Any, Any]], limit: int = 6) -> str:
    """``"train.seeds 3 -> 5, grid.lr_max 1 -> 10"``, at most ``limit`` keys, each shortened."""
    items = list(changes)
    text = ", ".join(
        f"{key} {shorten(repr(a), 40)} -> {shorten(repr(b), 40)}" for key, a, b in items[:limit]
    )
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")
