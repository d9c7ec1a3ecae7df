"""A commented starter spec for ``lrsweep init``, sized to a table's shape when one is given."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrsweep.data import Dataset, load_dataset
from lrsweep.errors import RareClasses, SpecError, TooManyLevels, shorten
from lrsweep.methods import METHODS
from lrsweep.spec import DataSpec
from lrsweep.yamlload import MAX_SPEC_BYTES

PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")  # YAML scalars that need no quotes
LISTED_COLUMNS = 40  # columns described one per comment line; the rest are counted
LISTED_DROPS = 12  # text columns init drops by name; more: data.over_max_categories: drop
LISTED_DROP_CHARS = 600  # ... or when their names are longer than this in all
SELECTION_KEYS = ("member", "sheet", "table", "query")  # which table in the file to read
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".feather", ".arrow",
                  ".arrows", ".jsonl", ".ndjson", ".json", ".xlsx", ".xlsm", ".xlsb", ".xls",
                  ".ods", ".sqlite", ".sqlite3", ".db")  # fmt: skip


COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def _name_from(path: Path, select: Mapping[str, str] | None = None) -> str:
    """The study's name: the file's name without its suffixes (``rides.csv.zst`` -> ``rides``),
    then the table chosen inside it (``samples.sqlite`` with ``--table penguins`` ->
    ``samples-penguins``), so two tables of one file get two results folders."""
    stem = path.name
    while Path(stem).suffix.lower() in (*COMPRESSED, *TABLE_SUFFIXES) and Path(stem).stem:
        stem = Path(stem).stem
    chosen = (select or {}).get("table") or (select or {}).get("sheet")
    member = (select or {}).get("member")
    if member:
        chosen = _name_from(Path(member))
    if chosen and "query" not in (select or {}):
        stem = f"{stem}-{chosen}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "sweep"
    return name[:100]


def starter_data_spec(
    data: Path,
    target: str | None = None,
    drop: tuple[str, ...] = (),
    *,
    task: str = "auto",
    select: Mapping[str, str] | None = None,
    decided: Mapping[str, Any] | None = None,
) -> DataSpec:
    """The data section ``init`` reads ``data`` with: ``select`` the table in the file
    (``member``, ``sheet``, ``table`` or ``query``), ``decided`` the keys init set itself."""
    fields: dict[str, Any] = {"path": str(Path(data).resolve()), "target": target}
    fields.update(drop=list(drop), task=task, **(select or {}), **(decided or {}))
    return DataSpec.model_validate(fields)


def starter_load(
    data: Path,
    target: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    task: str = "auto",
    select: Mapping[str, str] | None = None,
) -> tuple[Dataset, dict[str, str], dict[str, Any]]:
    """The table as ``init`` reads it, the text columns it had to drop (column -> why) and the
    data keys it set to read the table at all.

    ``lrsweep run`` refuses a text column with more distinct values than ``max_categories``
    (a name, a free-text comment, an ID): the user decides. ``init`` writes a spec for the
    table, so it drops such columns in that spec (by name in ``drop:``, or, for more than a
    few, with ``over_max_categories: drop``), says why in a comment, and reads on. A class of
    a single row (a stratified split needs 2) gets ``min_class_count: 2``, said the same way.
    """
    dropped: dict[str, str] = {}
    decided: dict[str, Any] = {}
    for _ in range(3):  # each fix is needed once at most
        drop = () if decided.get("over_max_categories") else tuple(dropped)
        spec = starter_data_spec(data, target, drop, task=task, select=select, decided=decided)
        try:
            return load_dataset(spec, Path("."), on_progress), dropped, decided
        except TooManyLevels as e:
            if dropped or decided.get("over_max_categories"):
                raise
            dropped = {
                name: f"{levels:,} text values"
                f" ({'every value distinct' if levels >= rows else f'in {rows:,} rows'}):"
                " not a category"
                for name, (levels, rows) in e.columns.items()
            }
            if len(dropped) > LISTED_DROPS or sum(map(len, dropped)) > LISTED_DROP_CHARS:
                decided["over_max_categories"] = "drop"
        except RareClasses:
            if "min_class_count" in decided:
                raise
            decided["min_class_count"] = 2
    raise AssertionError("unreachable: every retry above raises or returns")


def starter_spec(
    data: Path | None = None,
    out: Path = Path("spec.yaml"),
    target: str | None = None,
    loaded: Dataset | None = None,
    dropped: Mapping[str, str] | None = None,
    *,
    task: str = "auto",
    select: Mapping[str, str] | None = None,
    decided: Mapping[str, Any] | None = None,
) -> str:
    """The text of a commented spec; with ``data``, fitted to that table.

    Reads the table (``target``: default the last column) unless ``loaded`` is given, infers
    classification or regression and the number of classes, records what was decided about
    each column as comments, and picks the model width, batch size and epochs from its shape:
    about 3,000 optimizer steps in all, hidden width between 16 and 256 scaled to the inputs
    and outputs, two hidden layers from 1,000 samples up. ``dropped``: text columns to drop
    in the spec, with why, ``decided`` the data keys init set (`starter_load`); ``select``
    names the table inside the file (``sheet``, ``member``, ``table``, ``query``).

    The text is never larger than the spec loader accepts (``MAX_SPEC_BYTES``): columns past
    the first ``LISTED_COLUMNS`` are counted, not listed, and many dropped columns become
    ``over_max_categories: drop``.
    """
    if data is None:
        source = "  builtin: spirals                # a synthetic set; or path: your.csv\n"
        name, task, n, n_features, n_outputs = "my-sweep", "classification", 1000, 2, 3
        what = "three interleaved spirals (a built-in synthetic set)"
        target_line = columns = ""
    else:
        if loaded is None:
            loaded, dropped, decided = starter_load(data, target, task=task, select=select)
        rel = os.path.relpath(Path(data).resolve(), Path(out).resolve().parent)
        name = _name_from(Path(data), select)
        task = loaded.task
        n = len(loaded.X_train) + len(loaded.X_val)
        n_features, n_outputs = loaded.X_train.shape[1], loaded.n_outputs
        kind = f"{n_outputs} classes" if task == "classification" else "a numeric target"
        what = f"{rel}: {n:,} rows, {n_features} inputs, {kind}"
        source = f"  path: {_yaml(rel)}\n" + "".join(
            f"  {key}: {_yaml(value)}\n" for key, value in (select or {}).items()
        )
        shown = _yaml(loaded.target_name)
        pad = " " * max(1, 24 - len(shown))
        target_line = f"  target: {shown}{pad}# the column to predict\n"
        columns = _column_comments(loaded, dropped or {}, decided or {}, out)
    n_train = int(n * 0.8)
    width = int(
        min(256, max(16, 2 ** round(math.log2(4 * math.sqrt(n_features * max(n_outputs, 2))))))
    )
    hidden = [width, width] if n >= 1000 else [width]
    batch = 32 if n_train >= 500 else 16
    steps_per_epoch = max(1, math.ceil(n_train / batch))
    epochs = int(min(100, max(10, round(3000 / steps_per_epoch))))
    text = f"""\
# lrsweep starter spec for {what}
# Every key has a default; delete what you do not need. Check it with: lrsweep validate {out}
# Run it with: lrsweep run {out}

name: {name}                       # results go to results/{name}

data:
{source}{target_line}  task: {task}              # classification | regression | auto
  val_fraction: 0.2               # held out for the validation loss (stratified by class)
  standardize: true               # zero mean, unit variance, fitted on the training part
{columns}
model:
  hidden: {hidden}                # hidden layer widths
  activation: relu                # relu, leaky_relu, tanh, sigmoid, gelu

optimizer:
  name: sgd                       # {", ".join(METHODS)}
  momentum: 0.9

train:
  epochs: {epochs}                      # about 3,000 optimizer steps in all
  batch_size: {batch}
  seeds: 3                        # every LR is trained with 3 seeds
  objective: final_val_loss       # mean validation loss of the last 3 epochs

grid:
  lr_min: 1e-4                    # a log grid of learning rates, both ends included
  lr_max: 1.0
  points_per_decade: 2

refine:
  rounds: 2                       # then zoom into the best bracket twice
"""
    size = len(text.encode())
    if size > MAX_SPEC_BYTES:  # only a column name or path of tens of kilobytes gets here
        raise SpecError(
            f"{out}: the starter spec would be {size:,} bytes, over the spec limit of"
            f" {MAX_SPEC_BYTES:,}; rename the target column or move the table to a shorter path"
        )
    return text


def _column_comments(
    loaded: Dataset, dropped: Mapping[str, str], decided: Mapping[str, Any], out: Path
) -> str:
    """What was decided about each column, as YAML comments (the first ``LISTED_COLUMNS``,
    then counts), and the keys that change it; ``dropped`` (column -> why) become the spec's
    ``drop:`` unless ``decided`` drops them with ``over_max_categories``."""
    lines = ["  # The columns, as lrsweep read them (decided again at every run; edit below):"]
    for c in loaded.columns[:LISTED_COLUMNS]:
        name = shorten(c.name, 60)
        missing = f", {c.missing} missing" if c.missing else ""
        if c.role == "target":
            lines.append(f"  #   {name}: target{missing}, {c.why}")
        elif c.role == "dropped":
            lines.append(f"  #   {name}: dropped, {shorten(c.why, 100)}")
        elif c.kind == "categorical":
            n = len(c.encoded_as)
            lines.append(f"  #   {name}: categorical, one-hot ({n} inputs{missing})")
        elif c.kind == "date":
            lines.append(f"  #   {name}: {c.why}{missing}")
        else:
            how = " -> median + indicator" if len(c.encoded_as) > 1 else ""
            lines.append(f"  #   {name}: numeric{missing}{how}")
    rest = loaded.columns[LISTED_COLUMNS:]
    if rest:
        kinds: dict[str, int] = {}
        for c in rest:
            what = "dropped" if c.role == "dropped" else c.kind
            kinds[what] = kinds.get(what, 0) + 1
        counted = ", ".join(f"{n:,} {what}" for what, n in kinds.items())
        lines.append(
            f"  #   ... and {len(rest):,} more columns ({counted});"
            f" lrsweep validate {_yaml(str(out))} lists every one"
        )
    if decided.get("over_max_categories") == "drop":
        lines.append(
            "  over_max_categories: drop       # init: drops every text column with more levels"
        )
        lines.append(
            f"  #   than max_categories ({len(dropped):,} in this table), each said at every run"
        )
        lines.append("  # drop: [a, b]                  # columns never used as features")
    elif dropped:
        names = ", ".join(_yaml(name) for name in dropped)
        lines.append(f"  drop: [{names}]  # never used as features; init dropped:")
        lines += [f"  #   {_yaml(name)}: {why}" for name, why in dropped.items()]
    else:
        lines.append("  # drop: [a, b]                  # columns never used as features")
    if "min_class_count" in decided:
        lines.append(
            f"  min_class_count: {decided['min_class_count']}              # init: rows of"
            " classes with a single row are dropped (a stratified split needs 2)"
        )
    lines += [
        "  # categorical: [code]           # integer codes to one-hot as categories",
        "  # numeric: [x]                  # columns to read as numbers",
        "  missing: impute                 # impute: median + indicator; drop: incomplete rows",
        "  max_categories: 50              # a column with more levels is an error",
        "  dates: expand                   # date columns: year, month, day... as numbers; or"
        " drop",
    ]
    return "\n".join(lines) + "\n"


def _yaml(text: str) -> str:
    """``text`` as a YAML scalar: bare when that is safe, else double-quoted."""
    plain = PLAIN.fullmatch(text) and text.lower() not in ("yes", "no", "true", "false", "null")
    return text if plain else json.dumps(text)


COMMAND_SPEC = """\
# lrsweep spec for your own training code: which learning rate?
# Run it with:  lrsweep run {out}
# The command runs once per run, never through a shell, from `cwd`, with {{lr}}, {{seed}},
# {{epochs}}, {{run_dir}} and {{python}} (the Python running lrsweep) filled in (and
# LRSWEEP_LR, LRSWEEP_SEED, LRSWEEP_EPOCHS,
# LRSWEEP_RUN_DIR and LRSWEEP_METRICS in its environment). Your script reports each epoch:
#     import lrsweep; lrsweep.report(epoch=epoch, train_loss=..., val_loss=...)
# or appends JSON lines like {{"epoch": 3, "val_loss": 0.52}} to $LRSWEEP_METRICS, or keeps
# the log it writes already (history: below). See docs/your-model.md.

name: {name}

trainer:
  command: {command}
  cwd: {cwd}                       # the folder it runs in, relative to this file
  objective: val_loss              # the reported metric to minimise
  maximize: false                  # true for accuracy-like metrics
  pick: final                      # final: mean of the last 3 reported epochs; best: best one
  timeout: 2h                      # a run past this is stopped and recorded `timeout`
  # history: "{{run_dir}}/metrics.csv"  # a Lightning/Keras CSVLogger file, or trainer_state.json
  # env: {{OMP_NUM_THREADS: "1"}}      # added to every run's environment

train:
  epochs: 20                       # fills {{epochs}}
  seeds: 2                         # each LR with seeds 0 and 1 (fills {{seed}})
  diverge_factor: 4.0              # diverged: a loss above 4x the first one for 2 epochs

grid:
  lr_min: 1e-5                     # a log grid from 1e-5 ...
  lr_max: 1.0                      # ... to 1, both ends included
  points_per_decade: 2

refine:
  rounds: 2                        # then zoom in around the best LR
  points_per_decade: 8

# vary: {{batch_size: [32, 128]}}    # one U-curve per value; fills {{batch_size}}
"""


def starter_command_spec(command: str, out: Path) -> str:
    """The commented spec ``lrsweep init --command`` writes for a user's training command."""
    from lrsweep.spec import command_words

    words = command_words(command)
    script = next((w for w in words[1:] if not w.startswith("-") and "{" not in w), words[0])
    name = _name_from(Path(script)) if script else "my-model"
    here = Path(out).resolve().parent
    cwd = os.path.relpath(Path.cwd(), here) if here != Path.cwd() else "."
    return COMMAND_SPEC.format(out=out, name=name, command=json.dumps(command), cwd=_yaml(cwd))
