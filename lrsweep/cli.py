"""The ``lrsweep`` command line: click commands over the library, rich output, exit codes.

Exit codes (DESIGN.md §7): 0 all runs done · 1 some runs failed (resume re-runs them) · 2 bad
usage or spec (nothing written) · 3 infrastructure (lock held, cluster lost, disk full) ·
130 interrupted (finished runs kept; the message says how to resume).

The library is imported inside the commands so that ``lrsweep --help`` stays fast and never
loads numpy or matplotlib.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lrsweep.version import __version__

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from lrsweep.data import Dataset
    from lrsweep.events import Event, RoundStart
    from lrsweep.executors import Executor
    from lrsweep.plan import Plan
    from lrsweep.spec import Spec

EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """A user's mistake or an environment problem: one ``Error: ...`` line, no traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Translate library errors into one line on stderr and the documented exit code."""
    from lrsweep.errors import MAX_MESSAGE, LrsweepError, shorten

    try:
        yield
    except LrsweepError as e:
        raise UserError(str(e), e.exit_code) from None
    except OSError as e:  # a path mistake is the user's (2); the machine's problems are 3
        where = f"{e.filename}: " if e.filename else ""
        usage = e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST)
        message = shorten(f"{where}{e.strerror or e}", MAX_MESSAGE)
        raise UserError(message, 2 if usage else 3) from None


@contextlib.contextmanager
def interruptible(resume: str) -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C; both end with exit 130 and the resume command."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        try:
            yield
        except Exception as e:
            from lrsweep.errors import is_interrupt

            if is_interrupt(e):  # a Ctrl-C that a library wrapped in its own error
                raise KeyboardInterrupt from e
            raise
    except KeyboardInterrupt:
        click.echo(f"Interrupted: finished runs are kept. Resume with: {resume}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """No numpy RuntimeWarning (a diverging run overflows: that is a result) and no
    matplotlib UserWarning reaches the terminal; restored when the command ends."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def _nonempty(value: Path | None) -> Path | None:
    """Reject ``--out ''``, which would write into the current folder."""
    if value is not None and str(value) in ("", "."):
        raise click.BadParameter("must name a folder, not the current one")
    return value


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _note(message: str) -> None:
    """A decision of the sweep (what it reuses, what a round refines), on stderr."""
    click.echo(message, err=True)


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def jobs_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--jobs`` and the dask cluster options, shared by run and refine."""
    options = [
        click.option(
            "--jobs",
            "-j",
            type=click.IntRange(min=1),
            default=None,
            help=(
                "Groups trained at once, in threads or worker processes with one BLAS thread"
                " each [default: the number of cores]; 1 runs in this process."
            ),
        ),
        click.option(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            default=None,
            help="Run on this dask.distributed scheduler (pip install lrsweep[dask]).",
        ),
        click.option(
            "--scheduler-file",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="Run on the dask scheduler described in this file.",
        ),
        click.option(
            "--connect-timeout",
            type=click.FloatRange(min=0.1),
            default=10.0,
            show_default=True,
            help="Seconds to reach the scheduler.",
        ),
        click.option(
            "--worker-timeout",
            type=click.FloatRange(min=0.1),
            default=30.0,
            show_default=True,
            help="Seconds to wait for a dask worker.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _executor(options: Mapping[str, Any]) -> Executor:
    import logging

    import lrsweep

    if options["scheduler"] or options["scheduler_file"]:  # our one line, not dask's logs
        logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)

    return lrsweep.make_executor(
        options["jobs"],
        scheduler=options["scheduler"],
        scheduler_file=options["scheduler_file"],
        connect_timeout=options["connect_timeout"],
        worker_timeout=options["worker_timeout"],
    )


def set_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--set",
        "overrides",
        metavar="KEY=VALUE",
        multiple=True,
        help="Override a spec key, read like the YAML (train.epochs=5, model.hidden=[32,32]);"
        " repeatable.",
    )(f)


def _set_args(overrides: tuple[str, ...]) -> str:
    """The --set options again, for a command line printed to the user."""
    return "".join(f" --set {shlex.quote(o)}" for o in overrides)


def format_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--format",
        "formats",
        type=click.Choice(["png", "svg"]),
        multiple=True,
        default=("png",),
        show_default=True,
        help="Image format; repeat for both.",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lrsweep")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Find the learning rate: sweep a log grid of LRs over a NumPy MLP, from one YAML file.

    \b
    Example:
        lrsweep run configs/digits.yaml
        lrsweep plot results/digits-sgd
    """
    ctx.with_resource(quiet_warnings())


@cli.command()
@click.argument("spec_file", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    callback=lambda ctx, param, value: _nonempty(value),
    help="Results folder [default: results/<name>].",
)
@jobs_option
@set_option
@click.option("--dry-run", is_flag=True, help="Print the plan (runs, groups) and stop.")
@click.option("--overwrite", is_flag=True, help="Start --out over: clear lrsweep's files in it.")
@click.option("--no-plots", is_flag=True, help="Do not draw the plots at the end.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--report", "with_report", is_flag=True, help="Also write OUT/report.html.")
def run(
    spec_file: Path,
    out: Path | None,
    overrides: tuple[str, ...],
    dry_run: bool,
    overwrite: bool,
    no_plots: bool,
    formats: tuple[str, ...],
    as_json: bool,
    with_report: bool,
    **executor_options: Any,
) -> None:
    """Train the LR grid of SPEC (every LR x seed) and write the results folder.

    Running the same SPEC again resumes: finished runs are not trained again. A changed SPEC
    (more seeds, a wider grid, another refine round or vary value) reuses every finished run
    it still plans and trains only the new ones.

    \b
    Example:
        lrsweep run configs/digits.yaml --jobs 2 --report
        lrsweep run configs/digits.yaml --set train.seeds=5 --set train.epochs=10
        lrsweep run configs/digits.yaml --dry-run
    """
    import lrsweep

    with user_errors():
        spec = lrsweep.load_spec(spec_file, overrides)
        out = out if out is not None else Path("results") / spec.name
        trainer = _trainer(spec)
        if dry_run:
            from lrsweep.executors import default_jobs

            jobs = executor_options["jobs"]
            plan = lrsweep.plan_sweep(spec, jobs=jobs or default_jobs(), trainer=trainer)
            _print_plan(plan, trainer, out, jobs)
            return
        resume = (
            f"lrsweep run {shlex.quote(str(spec_file))}{_set_args(overrides)}"
            f" --out {shlex.quote(str(out))}"
        )
        with interruptible(resume):  # plotting too: Ctrl-C there is 130, not "Aborted!"
            with _executor(executor_options) as executor, _progress() as on_event:
                summary = lrsweep.run_sweep(
                    spec,
                    out,
                    executor=executor,
                    overwrite=overwrite,
                    on_event=on_event,
                    trainer=trainer,
                )
            plots = [] if no_plots else lrsweep.plot_results(out, formats)
            if with_report:
                plots.append(lrsweep.write_report(out))
    _report(summary, out, plots, as_json, live=True)


@cli.command()
@click.argument("results_dir", metavar="RESULTS", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write [default: RESULTS/report.html, or report.md].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md"]),
    default=None,
    help="html: one self-contained page; md: Markdown linking plots/*.png"
    " [default: md if --out ends in .md, else html].",
)
def report(results_dir: Path, out: Path | None, fmt: str | None) -> None:
    """Write one page about RESULTS: the answer, the plots, the runs, the spec, provenance.

    The HTML page is self-contained (plots inline as SVG, a sortable runs table, nothing
    fetched from the network); the Markdown twin has the same sections and links the PNGs in
    plots/ (drawn if missing).

    \b
    Example:
        lrsweep report results/digits-sgd
        lrsweep report results/digits-sgd --format md
    """
    import lrsweep

    with user_errors(), interruptible(f"lrsweep report {shlex.quote(str(results_dir))}"):
        path = lrsweep.write_report(results_dir, out, fmt)
    click.echo(str(path))


@cli.command()
@click.argument("results_dir", metavar="RESULTS", type=click.Path(path_type=Path))
@format_option
def plot(results_dir: Path, formats: tuple[str, ...]) -> None:
    """Draw the U-curve and loss-against-epoch plots of RESULTS (no training).

    \b
    Example:
        lrsweep plot results/digits-sgd --format svg
    """
    import lrsweep

    with user_errors(), interruptible(f"lrsweep plot {shlex.quote(str(results_dir))}"):
        paths = lrsweep.plot_results(results_dir, formats)
    for path in paths:
        click.echo(str(path))


@cli.command()
@click.argument("results_dir", metavar="RESULTS", type=click.Path(path_type=Path))
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=None,
    help="Refine rounds to add [default: the spec's refine.rounds, or 1].",
)
@click.option(
    "--points-per-decade",
    type=click.IntRange(min=1),
    default=None,
    help="Density inside the first bracket [default: the spec's].",
)
@jobs_option
@click.option("--no-plots", is_flag=True, help="Do not redraw the plots at the end.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def refine(
    results_dir: Path,
    rounds: int | None,
    points_per_decade: int | None,
    no_plots: bool,
    formats: tuple[str, ...],
    as_json: bool,
    **executor_options: Any,
) -> None:
    """Zoom into the best LR bracket of RESULTS: finer LRs, reusing every finished run.

    Finishes any interrupted round first. At a grid edge it extends the grid instead, and it
    stops once the best LR's neighbours are within a factor of 2.

    \b
    Example:
        lrsweep refine results/digits-sgd --rounds 2
    """
    import lrsweep

    with user_errors():
        resume = f"lrsweep refine {shlex.quote(str(results_dir))}"
        with interruptible(resume):
            with _executor(executor_options) as executor, _progress() as on_event:
                summary = lrsweep.refine(
                    results_dir,
                    rounds=rounds,
                    executor=executor,
                    points_per_decade=points_per_decade,
                    on_event=on_event,
                )
            plots = [] if no_plots else lrsweep.plot_results(results_dir, formats)
    _report(summary, results_dir, plots, as_json, live=True)


@cli.command()
@click.argument("spec_file", metavar="SPEC", type=click.Path(path_type=Path))
@set_option
@jobs_option
def validate(spec_file: Path, overrides: tuple[str, ...], **executor_options: Any) -> None:
    """Check SPEC: print it resolved (every default filled in), the plan and a time estimate.

    Exit 0 when the spec is valid, 2 with every problem listed when it is not.

    \b
    Example:
        lrsweep validate configs/digits.yaml
    """
    import lrsweep
    from lrsweep.executors import default_jobs
    from lrsweep.spec import dump_spec

    with user_errors():
        spec = lrsweep.load_spec(spec_file, overrides)
        trainer = _trainer(spec)  # read once: the plan and the estimate share it
        jobs = executor_options["jobs"]
        plan = lrsweep.plan_sweep(spec, jobs=jobs or default_jobs(), trainer=trainer)
        click.echo(dump_spec(spec), nl=False)
        if getattr(trainer, "data", None) is not None:
            _print_columns(trainer.data)
        _print_plan(plan, trainer, Path("results") / spec.name, jobs)


@cli.command()
@click.argument("results_dir", metavar="RESULTS", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--explain", is_flag=True, help="Also say what each number of the answer means.")
def show(results_dir: Path, as_json: bool, explain: bool) -> None:
    """Print the table and the answer of an existing results folder (no training).

    \b
    Example:
        lrsweep show results/digits-sgd --explain
        lrsweep show results/digits-sgd --json
    """
    import lrsweep

    with user_errors():
        summary = lrsweep.read_summary(results_dir)
    _report(summary, results_dir, [], as_json, explain=explain)


@cli.command()
@click.argument("spec_file", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    callback=lambda ctx, param, value: _nonempty(value),
    help="Results folder [default: results/<name>].",
)
@click.option(
    "--start-lr",
    type=click.FloatRange(min=1e-12, max=1e3),
    default=None,
    help="First LR of the ramp [default: 1e-7].",
)
@click.option(
    "--end-lr",
    type=click.FloatRange(min=1e-12, max=1e6),
    default=None,
    help="Last LR of the ramp [default: 10].",
)
@click.option(
    "--num-iter",
    type=click.IntRange(min=5, max=100_000),
    default=None,
    help="Mini-batch steps of the ramp [default: 100].",
)
@click.option(
    "--mode", type=click.Choice(["exp", "linear"]), default=None, help="Ramp shape [default: exp]."
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Ramped runs, one per seed [default: the spec's train.seeds].",
)
@click.option(
    "--val-every",
    type=click.IntRange(min=1),
    default=None,
    help="Also measure the validation loss every N steps.",
)
@click.option("--overwrite", is_flag=True, help="Replace results of a different spec in --out.")
@set_option
@jobs_option
@click.option("--no-plots", is_flag=True, help="Do not draw plots/rangetest.png.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Print the suggestions as JSON on stdout.")
def find(
    spec_file: Path,
    out: Path | None,
    start_lr: float | None,
    end_lr: float | None,
    num_iter: int | None,
    mode: str | None,
    seeds: int | None,
    val_every: int | None,
    overwrite: bool,
    overrides: tuple[str, ...],
    no_plots: bool,
    formats: tuple[str, ...],
    as_json: bool,
    **executor_options: Any,
) -> None:
    """LR range test (Smith): ramp the LR per mini-batch over one run per seed; suggest LRs.

    Suggestions: recommended (lrsweep's pick: the U-curve fit of a short lockstep sweep at
    the full budget over the ramp's range, 2 seeds, more near its answer), valley (fastai),
    steep (steepest fall of the smoothed loss against log10 LR, fitted over half a decade),
    minimum_10, slide, and the
    cyclic-LR bounds max_lr and base_lr. LR is each rule on the seeds' combined
    (geometric-mean) curve; the seeds' median, min and max show the spread. Writes
    rangetest.csv, rangetest.json and plots/rangetest.png.

    \b
    Example:
        lrsweep find configs/digits.yaml --seeds 3
    """
    import json

    import lrsweep

    with user_errors(), interruptible(f"lrsweep find {shlex.quote(str(spec_file))}"):
        spec = lrsweep.load_spec(spec_file, overrides)
        out = out if out is not None else Path("results") / spec.name
        data = _load_data(spec) if spec.trainer is None else None  # a script: refused below
        with _executor(executor_options) as executor:
            found = lrsweep.range_test(
                spec,
                out,
                start_lr=start_lr,
                end_lr=end_lr,
                num_iter=num_iter,
                mode=mode,
                seeds=seeds,
                val_every=val_every,
                overwrite=overwrite,
                executor=executor,
                on_event=_notes_only,
                data=data,
            )
        plots = [] if no_plots else lrsweep.plot_range_test(out, formats)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    _print_range_test(found, out, plots)


def _print_range_test(found: Mapping[str, Any], out: Path, plots: list[Path]) -> None:
    from rich.table import Table

    from lrsweep.facts import RANGE_TEST_HEADER, range_test_facts

    console = _console()
    table = Table(
        title=f"LR range test: {found['start_lr']:g} to {found['end_lr']:g},"
        f" {found['num_iter']} steps, {len(found['seeds'])} seeds"
    )
    for col in RANGE_TEST_HEADER:
        table.add_column(col, justify="right")
    for cells in range_test_facts(found)[1]:
        table.add_row(*cells)
    console.print(table)
    stops = ", ".join(f"seed {k}: {v}" for k, v in found["stops"].items())
    console.print(f"Runs ended: {stops}")
    grid = found["grid"]
    console.print(
        f"Suggested sweep grid (grid.from_range_test): {grid['lr_min']:.3g} to"
        f" {grid['lr_max']:.3g}"
    )
    console.print(f"Results: {out}")
    for path in plots:
        console.print(f"Plot: {path}")


@cli.command()
def warmup() -> None:
    """Compile the optional numba kernels for this machine, once (`pip install
    lrsweep[fast]`); later sweeps use them where the cost model says they save time
    (LRSWEEP_KERNELS=numba: always; numpy: never). The numbers are the same either way.

    \b
    Example:
        lrsweep warmup
    """
    from lrsweep import kernels

    with user_errors():
        if kernels.installed() and not kernels.kernels_cached():
            click.echo("compiling kernels for this machine (once, about 10 s)", err=True)
        seconds = kernels.build()
    click.echo(f"kernels ready in {seconds:.1f} s, cached in {kernels.cache_dir()}")


@cli.command()
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="A table with a header (CSV, TSV, JSON Lines, Parquet, Feather, Excel, ODS, SQLite;"
    " or compressed): fit the spec to it.",
)
@click.option(
    "--target",
    default=None,
    help="The column to predict [default: the last column].",
)
@click.option(
    "--task",
    type=click.Choice(["auto", "classification", "regression"]),
    default="auto",
    show_default=True,
    help="What to predict; auto decides from the target column and says why.",
)
@click.option("--sheet", default=None, help="A workbook's sheet [default: the first].")
@click.option("--member", default=None, help="The table inside a zip archive of several.")
@click.option("--table", "db_table", default=None, help="A SQLite database's table or view.")
@click.option("--query", default=None, help="A SQLite database: one SELECT to read instead.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("spec.yaml"),
    show_default=True,
    help="Where to write the spec.",
)
@click.option(
    "--command",
    "train_command",
    default=None,
    metavar="COMMAND",
    help='Your own training command, e.g. "python train.py --lr {lr} --seed {seed}".',
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def init(
    data: Path | None,
    out: Path,
    force: bool,
    target: str | None,
    task: str,
    train_command: str | None,
    **select: str | None,
) -> None:
    """Write a commented starter spec; with --data, fitted to that table; with --command,
    for your own training script.

    The spec records what was decided about each column (dropped, categorical, imputed, a
    date's parts) as comments, so you can see and edit it.

    \b
    Example:
        lrsweep init --data sample_data/penguins.csv --target species --out penguins.yaml
        lrsweep init --data sales.xlsx --sheet 2024 --target revenue --task regression
        lrsweep init --command "python train.py --lr {lr} --seed {seed} --epochs {epochs}"
    """
    from lrsweep.files import write_atomic
    from lrsweep.starter import starter_command_spec, starter_load, starter_spec

    chosen = {"table" if k == "db_table" else k: v for k, v in select.items() if v is not None}
    if out.exists() and not force:
        raise UserError(f"{out}: exists; use --force to replace it or --out to write elsewhere")
    for option, given in (("--target", target), *((f"--{k}", v) for k, v in chosen.items())):
        if given is not None and data is None:
            raise UserError(f"{option}: needs --data (the table it is about)")
    if task != "auto" and data is None:
        raise UserError("--task: needs --data (the table whose target it is)")
    if train_command is not None:
        if data is not None:
            raise UserError("--command: your script reads its own data; give --data or --command")
        with user_errors():
            import lrsweep

            write_atomic(out, starter_command_spec(train_command, out))
            try:  # the spec it writes must load, and its program be found: else nothing
                lrsweep.make_trainer(lrsweep.load_spec(out)).check(None, 1)
            except BaseException:
                out.unlink()
                raise
        click.echo(f"Wrote {out}. Check it with: lrsweep validate {out}")
        return
    with user_errors():
        loaded: Dataset | None = None
        dropped: dict[str, str] = {}
        decided: dict[str, Any] = {}
        if data is not None:
            with _load_progress() as on_load:
                loaded, dropped, decided = starter_load(
                    data, target, on_load, task=task, select=chosen
                )
            _print_dropped(dropped, decided)
            _print_data(loaded)
        text = starter_spec(
            data, out, target, loaded, dropped, task=task, select=chosen, decided=decided
        )
        write_atomic(out, text)
    click.echo(f"Wrote {out}. Check it with: lrsweep validate {out}")


def _print_dropped(dropped: Mapping[str, str], decided: Mapping[str, Any]) -> None:
    """The columns init drops in the spec (the first few by name) and the keys it set."""
    shown = list(dropped.items())[:SHOWN_NOTES]
    for name, why in shown:
        click.echo(f"column {name!r}: dropped in the spec, {why}")
    if len(dropped) > len(shown):
        click.echo(
            f"... and {len(dropped) - len(shown):,} more such columns, dropped in the spec with"
            " data.over_max_categories: drop"
        )
    if "min_class_count" in decided:
        click.echo(
            f"data.min_class_count: {decided['min_class_count']} in the spec: the rows of"
            " classes with a single row are dropped (a stratified split needs 2)"
        )


def _load_data(spec: Spec) -> Dataset:
    """The spec's dataset, read once with a progress bar when slow; prints what was done."""
    import lrsweep

    with _load_progress() as on_load:
        data = lrsweep.load_data(spec, on_load)
    _print_data(data)
    return data


SHOWN_NOTES = 12  # notes about columns printed; the rest are counted (validate lists all)


def _trainer(spec: Spec) -> Any:
    """The spec's trainer, its data read once with a progress bar when slow (printed)."""
    import lrsweep

    with _load_progress() as on_load:
        trainer = lrsweep.make_trainer(spec, on_progress=on_load)
    if getattr(trainer, "data", None) is not None:
        _print_data(trainer.data)
    return trainer


def _print_data(data: Dataset) -> None:
    """The one-line data summary and the notes (dropped columns, warnings) on stderr: every
    warning, and the first ``SHOWN_NOTES`` of the other notes."""
    from lrsweep.data import data_summary_line

    if data.source.startswith("builtin:"):
        return
    click.echo(data_summary_line(data.data_report()), err=True)
    warnings = [n for n in data.notes if n.startswith("warning")]
    others = [n for n in data.notes if not n.startswith("warning")]
    for note in others[:SHOWN_NOTES] + warnings:
        click.echo(f"  {note}", err=True)
    if len(others) > SHOWN_NOTES:
        click.echo(
            f"  ... and {len(others) - SHOWN_NOTES:,} more notes (summary.json's data.notes;"
            " lrsweep validate shows every column)",
            err=True,
        )


def _print_columns(data: Dataset) -> None:
    """What was done to each column, as a table (validate)."""
    from rich.table import Table

    if data.source.startswith("builtin:"):
        return
    table = Table("column", "role", "kind", "missing", "inputs", "why", title=data.source)
    for c in data.columns:
        table.add_row(c.name, c.role, c.kind, str(c.missing), str(len(c.encoded_as)), c.why)
    _console().print(table)


@contextlib.contextmanager
def _load_progress() -> Iterator[Callable[[int, int], None] | None]:
    """A bytes bar on a terminal (stderr) for a file that takes over a second to read."""
    err = _console(stderr=True)
    if not err.is_terminal:
        yield None
        return
    import time

    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn

    start = time.monotonic()
    bar = Progress(
        "reading", BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err, transient=True
    )
    task = bar.add_task("reading", total=None)
    shown = False

    def update(done: int, total: int) -> None:
        nonlocal shown
        if not shown and time.monotonic() - start < 1.0:
            return
        if not shown:
            bar.start()
            shown = True
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if shown:
            bar.stop()


RECENT_RUNS = 4  # finished runs listed under the live bar


def round_header(start: RoundStart) -> str:
    """``round 1: refining 0.01-0.1 at 8/decade, 27 runs (3 reused)`` for a `RoundStart`."""
    what = start.step
    if start.budget == "coarse":
        what += " (coarse budget)"
    reused = start.runs - start.to_train
    where = f"{start.lr_min:.3g}-{start.lr_max:.3g}"
    if start.step == "more seeds":  # a resolve step: another seed where the answer is unsure
        head = f"round {start.round}: one more seed at {where}"
    else:
        head = f"round {start.round}: {what} {where} at {start.points_per_decade}/decade"
    return f"{head}, {start.runs} runs" + (f" ({reused} reused)" if reused else "")


def round_lines(start: RoundStart) -> list[str]:
    """A round's header, then each decision behind it, indented: printed once, in order."""
    return [round_header(start)] + [f"  {note}" for note in start.notes]


def run_line(row: Mapping[str, Any]) -> str:
    """One finished run in a line: ``lr=0.0316 seed=2 ok objective=0.1234 (0.4s)``."""
    from lrsweep.errors import shorten
    from lrsweep.facts import fmt_number

    line = (
        f"lr={row['lr']:.4g} seed={row['seed']} {row['status']}"
        f" objective={fmt_number(row['objective'])} ({row['seconds']:.1f}s)"
    )
    if row["status"] in ("failed", "timeout", "diverged") and row.get("message"):
        line += f": {shorten(row['message'], 120)}"
    return line


class _Tally:
    """Overall progress across rounds: runs of the rounds so far, never moving back."""

    def __init__(self) -> None:
        self.offset = 0  # runs planned by the rounds before this one
        self.total = 0
        self.done = 0.0
        self.round = 0

    def start(self, start: RoundStart) -> None:
        self.offset = self.total
        self.total += start.runs
        self.round = start.round

    def at(self, done_in_round: float, total_in_round: int) -> float:
        if self.total == 0:  # a caller that does not report rounds
            self.total = total_in_round
        self.done = max(self.done, self.offset + done_in_round)
        return self.done


def _notes_only(event: Event) -> None:
    """An ``on_event`` that prints only the notes and warnings (no bar)."""
    from lrsweep.events import Note

    if isinstance(event, Note):
        (_warn if event.level == "warning" else _note)(event.text)


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[Event], None]]:
    """The sweep's events on stderr: on a terminal, each round's lines, a live bar over every
    run so far (it moves with every epoch of the running groups, with an ETA) and the last few
    finished runs; otherwise each round's lines and one plain line per finished run. Notes and
    warnings are printed as they come."""
    from lrsweep.events import Note, Progress, RoundStart, RunDone

    err = _console(stderr=True)
    tally = _Tally()
    if not err.is_terminal:

        def plain(event: Event) -> None:
            if isinstance(event, RunDone):
                overall = int(tally.at(event.done, event.total))
                click.echo(f"[{overall}/{tally.total}] {run_line(event.row)}", err=True)
            elif isinstance(event, RoundStart):
                tally.start(event)
                click.echo("\n".join(round_lines(event)), err=True)
            else:
                _notes_only(event)

        yield plain
        return
    from collections import deque

    from rich.console import RenderableType
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )
    from rich.text import Text

    recent: deque[str] = deque(maxlen=RECENT_RUNS)

    class Live(Bar):
        def get_renderables(self) -> Iterator[RenderableType]:
            yield self.make_tasks_table(self.tasks)
            if recent:
                yield Text("\n".join(f"  {line}" for line in recent), style="dim")

    with Live(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        "runs",
        TimeElapsedColumn(),
        "ETA",
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("training", total=None)

        def live(event: Event) -> None:
            if isinstance(event, RunDone):
                recent.append(run_line(event.row))
                done = tally.at(event.done, event.total)
                progress.update(task, completed=done, total=tally.total)
            elif isinstance(event, Progress):
                done = tally.at(event.done, event.total)
                progress.update(task, completed=done, total=tally.total)
            elif isinstance(event, RoundStart):
                tally.start(event)
                for line in round_lines(event):
                    progress.console.print(line, markup=False)
                progress.update(task, description=f"round {event.round}", total=tally.total)
            elif isinstance(event, Note):
                style = "yellow" if event.level == "warning" else None
                prefix = "Warning: " if event.level == "warning" else ""
                progress.console.print(f"{prefix}{event.text}", style=style, markup=False)

        yield live


def _print_plan(plan: Plan, trainer: Any, out: Path, jobs: int | None = None) -> None:
    """The plan of round 0, what the refine rounds will likely add, and a time estimate, on
    stdout (from the cost model: nothing is trained)."""
    import lrsweep
    from lrsweep.executors import default_jobs
    from lrsweep.facts import fmt_seconds

    spec = plan.spec
    lrs = sorted({r.lr for r in plan.runs})
    combos = len(spec.combos)
    jobs = jobs or default_jobs()
    if trainer.kind != "mlp":
        _print_script_plan(plan, trainer, out, jobs)
        return
    estimate = lrsweep.estimate_sweep(plan, jobs, trainer)
    console = _console()
    console.print(f"spec {spec.name} (hash {spec.spec_hash()}) -> {out}")
    per = f" x {combos} combinations" if combos > 1 else ""
    budget = plan.runs[0].budget if plan.runs else "full"
    if spec.grid.from_range_test:
        console.print(
            f"range test first: {estimate.range_test_runs} ramped runs, about"
            f" {fmt_seconds(estimate.range_test_seconds)}; round 0's grid comes from it (a"
            " decade below its valley suggestion to where the loss diverged)"
        )
        console.print(
            f"round 0 ({budget} budget): likely ~{len(lrs)} LRs (a typical"
            f" {lrsweep.orchestrate.TYPICAL_RANGE_TEST_DECADES:g} decades at"
            f" {spec.grid.points_per_decade} per decade) x {spec.train.seeds} seeds{per}"
            f" = ~{len(plan.runs)} runs"
        )
    else:
        seeds = "one seed" if spec.budget is not None else f"{spec.train.seeds} seeds"
        console.print(
            f"round 0 ({budget} budget): {len(lrs)} LRs from {lrs[0]:.3g} to {lrs[-1]:.3g}"
            f" x {seeds}{per} = {len(plan.runs)} runs"
        )
    if spec.budget is not None:
        console.print(budget_line(spec), markup=False)
    elif spec.refine.rounds:
        likely = [f"round {r.round} ~{r.runs} runs" for r in estimate.rounds[1:]]
        console.print(
            f"then up to {spec.refine.rounds} refine rounds around each curve's best LR"
            f" ({spec.refine.points_per_decade} points per decade in round 1); likely: "
            + (", ".join(likely) or "none needed")
        )
    sizes = plan.group_sizes
    n_features, n_outputs = trainer.shape[2], trainer.shape[3]
    mode = "lockstep" if max(sizes) > 1 else "one run per group (compute-bound model)"
    console.print(
        f"strategy: {len(sizes)} groups of {min(sizes)}-{max(sizes)} runs ({mode}); model"
        f" {n_features}-{'-'.join(map(str, spec.model.hidden))}-{n_outputs},"
        f" {spec.train.epochs} epochs"
    )
    choice, _, why = trainer.where(plan.groups, jobs, False)
    at_once = min(jobs, len(sizes))
    where = {
        "here": "in this process",
        "threads": f"{at_once} at a time in threads of this process, one BLAS thread each",
        "processes": f"{at_once} at a time in worker processes, one BLAS thread each",
    }[choice]
    console.print(f"execution: {where} ({why})")
    parts = [f"round {r.round} {fmt_seconds(r.seconds)}" for r in estimate.rounds]
    if estimate.range_test_runs:
        parts.insert(0, f"range test {fmt_seconds(estimate.range_test_seconds)}")
    console.print(
        f"estimated time: about {fmt_seconds(estimate.seconds)} with --jobs {jobs}"
        f" ({', '.join(parts)}; from the cost model, within about 2x)"
    )
    if not spec.grid.from_range_test:
        console.print("learning rates: " + ", ".join(f"{lr:.3g}" for lr in lrs))


def budget_line(spec: Spec) -> str:
    """What ``budget:`` will do, in a sentence (``--dry-run``, ``validate``)."""
    from lrsweep.search import rung_epochs

    budget = spec.budget
    assert budget is not None
    rungs = rung_epochs(spec.train.epochs, budget.rungs, budget.eta)
    size = (f"{budget.runs:g} full-run equivalents per curve ({budget.runs * spec.train.epochs:g}"
            " epochs)" if budget.runs is not None else f"{budget.time} of training")  # fmt: skip
    steps = ", ".join(str(e) for e in rungs)
    return (
        f"budget: {size}: round 0 is a first look at {rungs[0]} of {spec.train.epochs} epochs"
        f" (one seed; the grid above, coarser if it costs over a third of the budget), then"
        f" successive halving at {steps} epochs, then LRs and seeds near the optimum while"
        " the budget lasts"
    )


def _print_script_plan(plan: Plan, trainer: Any, out: Path, jobs: int) -> None:
    """The plan of a user's command: its runs, the first run's command line, the refine."""
    from lrsweep.script import values_of

    spec = plan.spec
    console = _console()
    lrs = sorted({r.lr for r in plan.runs})
    per = f" x {len(spec.combos)} combinations" if len(spec.combos) > 1 else ""
    console.print(f"spec {spec.name} (hash {spec.spec_hash()}) -> {out}", markup=False)
    console.print(
        f"round 0: {len(lrs)} LRs from {lrs[0]:.3g} to {lrs[-1]:.3g} x {spec.train.seeds}"
        f" seeds{per} = {len(plan.runs)} runs of your command, {min(jobs, len(plan.runs))}"
        " at a time",
        markup=False,
    )
    first = plan.runs[0]
    run_dir = Path(out) / "runs" / first.run_id
    words = [w.format_map(values_of(first, run_dir)) for w in trainer.trainer.words]
    console.print(f"first run: {shlex.join(words)}  (in {trainer.cwd})", markup=False)
    if spec.budget is not None:
        console.print(budget_line(spec), markup=False)
    elif spec.refine.rounds:
        console.print(
            f"then up to {spec.refine.rounds} refine rounds around each curve's best LR",
            markup=False,
        )
    console.print(
        f"each run: at most {trainer.trainer.timeout} (trainer.timeout); stopped early when"
        " its loss turns NaN or blows up",
        markup=False,
    )


def _report(
    summary: Mapping[str, Any],
    out: Path,
    plots: list[Path],
    as_json: bool,
    explain: bool = False,
    live: bool = False,
) -> None:
    """The summary on stdout (a table per curve and the answer as an aligned block, or JSON;
    with ``explain`` every fact in words); exit 1 if runs failed. ``live``: the sweep's notes
    were printed as it ran (``run``, ``refine``), so they are not repeated."""
    import json

    from lrsweep.facts import answer_block, answer_line, scaling_sentence, state_lines

    counts = summary["status_counts"]
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        console = _console()
        for line in state_lines(summary):  # partial, damaged, stale
            console.print(f"[yellow]{line}[/yellow]", highlight=False)
        curves = summary["combos"] or [{**summary, "label": summary["name"]}]
        for curve in curves:
            console.print(_curve_table(curve, summary["objective"]))
            if summary["combos"]:
                console.print(answer_line(curve, summary["objective"], prefix=curve["label"]))
        for note in [] if live else summary.get("notes", []):
            console.print(f"[dim]{note}[/dim]")
        for key, fit in summary.get("scaling", {}).items():
            sentence = scaling_sentence(key, fit)
            if sentence:
                console.print(sentence)
        if summary["combos"] and summary["best_combo"]:
            tied = summary.get("indistinguishable_from_best") or []
            console.print(
                f"Best of all: {summary['best_combo']}"
                + (f" (indistinguishable within noise from {', '.join(tied)})" if tied else "")
            )
        console.print(_answer_grid(answer_block(summary, summary["objective"], counts)))
        if explain:
            _explain(console, summary)
        console.print(f"Results: {out}")
        for path in plots:
            console.print(f"{'Report' if path.suffix in ('.html', '.md') else 'Plot'}: {path}")
    if counts.get("failed"):
        click.echo(
            f"{counts['failed']} runs failed; run the same command again to retry them", err=True
        )
        sys.exit(EXIT_FAILED_RUNS)


def _answer_grid(rows: list[tuple[str, str]]) -> Table:
    """The answer block: labels in bold, values aligned beside them."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for what, value in rows:
        grid.add_row(what, f"[yellow]{value}[/yellow]" if what == "Warning" else value)
    return grid


def _explain(console: Console, summary: Mapping[str, Any]) -> None:
    """``show --explain``: every fact of the answer in words, and what each term means."""
    from lrsweep.facts import EXPLANATIONS, answer_facts

    console.print()
    for what, value in answer_facts(summary, summary["objective"]):
        console.print(f"[bold]{what}[/bold]: {value}")
    console.print()
    for term, meaning in EXPLANATIONS:
        console.print(f"[bold]{term}[/bold]: {meaning}")


def _curve_table(curve: Mapping[str, Any], objective: str) -> Table:
    from rich.table import Table

    from lrsweep.facts import per_lr_classes, per_lr_rows

    table = Table(title=f"{curve['label']}: {objective} by learning rate")
    for col in ("lr", "mean", "± std", "P(best)", "ok", "diverged", "failed"):
        table.add_column(col, justify="right")
    styles = {"best": "bold green", "band": "green", "": None}
    for cells, cls in zip(per_lr_rows(curve), per_lr_classes(curve)):
        table.add_row(*cells, style=styles[cls])
    return table


def main() -> None:
    """The console script's entry point."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    cli(prog_name="lrsweep")


if __name__ == "__main__":
    main()
