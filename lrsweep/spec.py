"""The experiment spec: a strict YAML loader and the frozen pydantic models it validates into.

The loader reads YAML 1.2 core-schema scalars on top of ``yaml.SafeLoader``:

- ``1e-5``, ``1E-3`` and ``5e-2`` are floats (PyYAML's YAML 1.1 resolver reads them as strings);
- only ``true``/``false`` are booleans: ``yes``, ``no``, ``on`` and ``off`` stay strings, so a
  boolean key given ``no`` is rejected rather than guessed;
- integers with a leading zero (``012``, YAML 1.1 octal), sexagesimal numbers (``10:00``, YAML
  1.1 reads 600) and dates stay strings, so a numeric key given one of them is rejected;
- anchors, aliases and merge keys (``&a``, ``*a``, ``<<:``), duplicate keys, python tags,
  non-finite numbers (``.inf``, ``.nan``, ``1e400``), files over ``MAX_SPEC_BYTES``, nesting over
  ``MAX_DEPTH`` levels, and more than one document are errors.

Every error is one line: ``<file>[:line:col]: <dotted.key>: <rule>, got <value>[; hint]``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lrsweep.errors import SpecError

MAX_SPEC_BYTES = 1 << 20  # a spec is a few hundred bytes; 1 MiB is generous and reads fast
MAX_DEPTH = 32  # the deepest real spec is 3 levels; PyYAML's composer recurses per level
MAX_RUNS = 20_000  # runs one spec may plan; more is almost surely a typo in the grid


# --------------------------------------------------------------------------------------------
# The strict loader


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


# --------------------------------------------------------------------------------------------
# The models: every key has a default and a one-line reason.


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


PositiveFloat = Field(gt=0)


class DataSpec(_Section):
    """Where the data comes from and how it is split."""

    path: str | None = None  # a CSV with a header; relative to the spec file
    builtin: Literal["spirals", "moons", "teacher"] | None = None  # a synthetic set instead
    target: str | None = None  # the target column's name; default: the last column
    task: Literal["auto", "classification", "regression"] = "auto"  # auto: from the target
    val_fraction: float = Field(0.2, gt=0, lt=1)  # held out for the validation loss
    standardize: bool = True  # zero mean, unit variance, fitted on the training part only
    split_seed: int = Field(0, ge=0)  # the train/validation split's own seed
    n_samples: int = Field(1000, ge=10, le=1_000_000)  # builtins: how many samples
    n_features: int = Field(10, ge=1, le=10_000)  # teacher: input width
    n_classes: int = Field(3, ge=2, le=100)  # spirals: number of arms
    noise: float = Field(0.1, ge=0, le=10)  # builtins: noise level
    generator_seed: int = Field(0, ge=0)  # builtins: the generator's seed

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.builtin is None):
            raise ValueError("give exactly one of 'path' (a CSV file) or 'builtin'")
        return self


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


OPTIMIZER_NAMES = ("sgd", "adagrad", "rmsprop", "adam", "adamw", "sgd_hd", "sgdn_hd", "adam_hd")


class OptimizerSpec(_Section):
    """The update rule; keys a given optimizer does not use are ignored by it."""

    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw", "sgd_hd", "sgdn_hd", "adam_hd"] = (
        "sgd"  # *_hd: hypergradient descent adapts each run's LR online (Baydin et al. 2018)
    )
    momentum: float = Field(0.0, ge=0, lt=1)  # sgd, rmsprop
    dampening: float = Field(0.0, ge=0, le=1)  # sgd
    nesterov: bool = False  # sgd
    weight_decay: float | None = Field(None, ge=0)  # L2 (decoupled for adamw); None: 0, adamw 0.01
    betas: list[float] = Field(  # adam, adamw: decay rates of the two moments
        default_factory=lambda: [0.9, 0.999], min_length=2, max_length=2
    )
    eps: float | None = Field(None, gt=0)  # None: PyTorch's default for the optimizer
    alpha: float = Field(0.99, ge=0, lt=1)  # rmsprop smoothing
    centered: bool = False  # rmsprop
    amsgrad: bool = False  # adam, adamw
    lr_decay: float = Field(0.0, ge=0)  # adagrad
    initial_accumulator_value: float = Field(0.0, ge=0)  # adagrad
    hyper_lr: float | None = Field(None, gt=0)  # *_hd: hypergradient beta; None: 1e-3, adam 1e-7

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
        if self.name == "sgdn_hd" and self.momentum <= 0:
            raise ValueError(f"momentum: sgdn_hd needs momentum > 0, got {self.momentum}")
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


class GridSpec(_Section):
    """The coarse log grid of learning rates (round 0)."""

    lr_min: float = Field(1e-5, gt=0)  # smallest LR, included
    lr_max: float = Field(1.0, gt=0)  # largest LR, included
    points_per_decade: int = Field(2, ge=1, le=1000)  # grid density
    from_range_test: bool = False  # true: lr_min/lr_max from `lrsweep find` (see the README)

    @model_validator(mode="after")
    def _order(self) -> GridSpec:
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


VARY_AXES = {
    "optimizer.name": "optimizer",
    "optimizer.momentum": "optimizer",
    "optimizer.weight_decay": "optimizer",
    "train.batch_size": "train",
    "model.hidden": "model",
    "schedule.name": "schedule",
}
NUMERIC_AXES = ("optimizer.momentum", "optimizer.weight_decay", "train.batch_size", "model.hidden")


class ExecutionSpec(_Section):
    """How runs are packed; affects speed only, never the numbers."""

    group_size: int | None = Field(None, ge=1, le=1024)  # LRs trained in lockstep; None: auto


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
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

    @model_validator(mode="after")
    def _vary(self) -> Spec:
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
        """The spec with every default filled in and the data path made absolute."""
        document = self.model_dump(mode="json")
        if self.data.path is not None:
            document["data"]["path"] = str(Path(self.base_dir, self.data.path).resolve())
        return document

    def spec_hash(self) -> str:
        """A short hash of the resolved spec: equal specs have equal hashes."""
        return stable_hash(self.resolved())


def _check_axis(key: str, where: str) -> None:
    if key not in VARY_AXES:
        close = difflib.get_close_matches(key, list(VARY_AXES), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"one of {', '.join(VARY_AXES)}"
        raise ValueError(f"{where}: not an axis lrsweep can vary; {hint}")


def _check_combo(spec: Spec, combo: tuple[tuple[str, Any], ...], where: str) -> None:
    try:
        apply_combo(spec, combo)
    except ValidationError as e:
        err = e.errors()[0]
        rule = _RULES.get(err["type"], err["msg"].removeprefix("Value error, "))
        rule = rule.format(**{k: _num(v) for k, v in err.get("ctx", {}).items()})
        got = "" if err["type"] == "value_error" else f", got {err.get('input')!r}"
        raise ValueError(f"{where}: {rule}{got}") from None


def apply_combo(spec: Spec, combo: tuple[tuple[str, Any], ...]) -> Spec:
    """``spec`` with each ``(section.key, value)`` of ``combo`` set (validated) and no ``vary``."""
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


def _format_error(
    err: Mapping[str, Any], file: str, marks: Mapping[tuple[str, ...], tuple[int, int]]
) -> str:
    loc = tuple(str(p) for p in err["loc"])
    kind = err["type"]
    msg = err["msg"]
    value = err.get("input")
    text = _error_text(kind, loc, msg, value, err.get("ctx", {}))
    if kind == "value_error":
        loc = tuple(text.split(": ", 1)[0].split("."))
    where = ""
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in marks:
            where = ":{}:{}".format(*marks[loc[:depth]])
            break
    return f"{file}{where}: {text}"


def _dotted(loc: Iterable[str]) -> str:
    """A key path for a message; odd keys (spaces, newlines) are quoted so it stays one line."""
    return ".".join(p if re.fullmatch(r"[\w.<>-]+", p) else repr(p) for p in loc)


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
        text = f"{_dotted(loc)}: unknown {value!r}; {hint}"
    else:
        rule = _RULES.get(kind, msg[0].lower() + msg[1:])
        if kind in _RULES:
            rule = rule.format(**{k: _num(v) for k, v in ctx.items()})
        text = f"{_dotted(loc)}: {rule}, got {value!r}"
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
    marks: Mapping[tuple[str, ...], tuple[int, int]] | None = None,
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
    return f"{len(lines)} problems: " + " | ".join(lines)


def check_run_count(spec: Spec, file: str) -> Iterable[str]:
    """Problems with the size of the plan, before anything is allocated."""
    grid = spec.grid
    decades = math.log10(grid.lr_max / grid.lr_min)
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


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative data paths inside it are resolved against its folder.

    Raises
    ------
    SpecError
        With one line per problem: file, line and column, dotted key, rule and value.
    """
    path = Path(path)
    document, marks = load_yaml(path)
    return validate_spec(document, str(path), marks, base_dir=str(path.resolve().parent))


def spec_from_resolved(document: Mapping[str, Any], base_dir: str, file: str) -> Spec:
    """Rebuild a Spec from a resolved mapping (as saved in a results dir)."""
    return validate_spec(document, file, None, base_dir=base_dir)


def dump_spec(spec: Spec) -> str:
    """The resolved spec as YAML text, headed by its hash."""
    body = yaml.safe_dump(spec.resolved(), sort_keys=False, default_flow_style=None)
    return f"# lrsweep resolved spec; hash: {spec.spec_hash()}\n{body}"
