"""How fast lrsweep loads a large table: before (the stdlib ``csv`` loop) and after (pandas).

Writes a 200,000 x 30 numeric CSV with a binary target (about 55 MB, seeded) and measures, each
in a fresh process so that peak memory is the process's own:

* ``before``: ``load_dataset`` of lrsweep as it was before the data package (the module is taken
  from git history, commit ``BEFORE``; skipped when git or that commit is not available);
* ``after``: today's ``load_dataset`` (pandas imported inside the timing, as a command pays it);
* ``validate``: ``lrsweep validate`` on a spec over that file, which must take no longer than
  one load plus a second (it reads the file once; its estimate is the cost model's);
* with ``--readers``, the candidate readers alone on the same file (pandas C engine, pyarrow,
  polars; each when installed) and on a Parquet copy: the measurement behind the choice;
* with ``--formats``, the same table saved in every format lrsweep reads (compressed CSV, zip,
  Parquet, Feather, JSON Lines, xlsx, ods, xls, SQLite), each read by lrsweep's ``read_table``
  and by pandas' own reader for it; for xlsx also openpyxl (pandas' default engine) and
  fastexcel (when installed): the measurement behind the spreadsheet reader. ODS and XLS files
  have fewer rows (``--small-rows``): their writers are slow, and XLS holds 65,536 rows.

Usage: ``python benchmarks/bench_data.py [--rows 200000] [--readers] [--formats]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BEFORE = "3ff2ba2"  # the last commit with lrsweep/data.py as one module and its csv loop
COLUMNS = 30


def make_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, COLUMNS))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(COLUMNS)] + ["y"]) + "\n")
        np.savetxt(f, np.column_stack([X, y]), delimiter=",", fmt=["%.6g"] * COLUMNS + ["%d"])


def one(kind: str, path: str, workdir: str) -> dict[str, float]:
    """Run in the child process: import what ``kind`` needs, then time one load of it.

    Returns the import seconds, the load seconds and the process's peak RSS.
    """
    start = time.perf_counter()
    if kind == "before":
        sys.path.insert(0, workdir)
        import legacy_data  # type: ignore[import-not-found]

        spec: Any = SimpleNamespace(
            path=path,
            builtin=None,
            target=None,
            task="auto",
            val_fraction=0.2,
            standardize=True,
            split_seed=0,
        )
        load: Any = lambda: legacy_data.load_dataset(spec, Path("."))  # noqa: E731
    elif kind == "after":
        import pandas

        from lrsweep.data import load_dataset
        from lrsweep.spec import DataSpec

        load = lambda: load_dataset(DataSpec(path=path), Path("."))  # noqa: E731
    elif kind == "pandas":
        import pandas as pd

        load = lambda: pd.read_csv(path, low_memory=False).to_numpy(dtype=float)  # noqa: E731
    elif kind == "pyarrow":
        import pyarrow.csv as pc

        load = lambda: np.column_stack(pc.read_csv(path).columns)  # noqa: E731
    elif kind == "polars":
        import polars as pl

        load = lambda: pl.read_csv(path).to_numpy()  # noqa: E731
    elif kind == "pandas-parquet":
        import pandas as pd

        load = lambda: pd.read_parquet(path).to_numpy(dtype=float)  # noqa: E731
    elif kind == "pyarrow-parquet":
        import pyarrow.parquet as pq

        load = lambda: np.column_stack(pq.read_table(path).columns)  # noqa: E731
    elif kind == "polars-parquet":
        import polars as pl

        load = lambda: pl.read_parquet(path).to_numpy()  # noqa: E731
    elif kind == "read_table":
        import pandas  # noqa: F401  (imported when a file is read: part of the import time)

        from lrsweep.data import read_table

        load = lambda: read_table(Path(path))  # noqa: E731
    elif kind.startswith("native"):
        load = native_reader(kind, path)
    elif kind == "fastexcel":
        import fastexcel

        load = lambda: fastexcel.read_excel(path).load_sheet(0).to_pandas()  # noqa: E731
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    imported = time.perf_counter()
    data = load()
    seconds = time.perf_counter() - imported
    del data
    return {"import": imported - start, "seconds": seconds, "peak_bytes": peak_bytes()}


def peak_bytes() -> float:
    """This process's peak resident memory. ``VmHWM`` starts again at ``exec``; ``ru_maxrss``
    keeps the high-water mark of the forked parent (a parent holding a big table inflates it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux: KiB


def native_reader(kind: str, path: str) -> Any:
    """pandas' own reader of the file at ``path`` (by its suffix); ``native-openpyxl`` reads a
    workbook with pandas' default engine instead of calamine."""
    import sqlite3

    import pandas as pd

    suffix = "".join(Path(path).suffixes)
    if kind == "native-openpyxl":
        return lambda: pd.read_excel(path, engine="openpyxl")
    if suffix.startswith(".csv") or suffix == ".zip":
        return lambda: pd.read_csv(path)
    if suffix == ".parquet":
        return lambda: pd.read_parquet(path)
    if suffix == ".feather":
        return lambda: pd.read_feather(path)
    if suffix == ".jsonl":
        return lambda: pd.read_json(path, lines=True)
    if suffix in (".xlsx", ".ods", ".xls"):
        return lambda: pd.read_excel(path, engine="calamine")
    if suffix == ".sqlite":
        return lambda: pd.read_sql("SELECT * FROM t", sqlite3.connect(path))
    raise SystemExit(f"no native reader for {suffix}")


def write_formats(workdir: Path, csv: Path, small_rows: int) -> list[tuple[str, Path, int]]:
    """The table of ``csv`` saved in each format: ``(label, path, rows)``, timing each write."""
    import sqlite3

    import pandas as pd

    df = pd.read_csv(csv)
    small = df.iloc[:small_rows]
    out: list[tuple[str, Path, int]] = [("csv", csv, len(df))]

    def save(label: str, name: str, write: Any, rows: int) -> None:
        path = workdir / name
        start = time.perf_counter()
        write(path)
        print(f"  wrote {name} in {time.perf_counter() - start:.0f} s", flush=True)
        out.append((label, path, rows))

    save("csv.gz", "big.csv.gz", lambda p: df.to_csv(p, index=False), len(df))
    save("csv.zst", "big.csv.zst", lambda p: df.to_csv(p, index=False), len(df))
    save("csv in zip", "big.zip", lambda p: df.to_csv(p, index=False), len(df))
    save("parquet", "big.parquet", lambda p: df.to_parquet(p), len(df))
    save("feather", "big.feather", lambda p: df.to_feather(p), len(df))
    save("jsonl", "big.jsonl", lambda p: df.to_json(p, orient="records", lines=True), len(df))

    def sqlite(path: Path) -> None:
        with sqlite3.connect(path) as con:
            df.to_sql("t", con, index=False)

    save("sqlite", "big.sqlite", sqlite, len(df))
    save("xlsx", "big.xlsx", lambda p: df.to_excel(p, index=False), len(df))
    save("ods", "big.ods", lambda p: small.to_excel(p, index=False, engine="odf"), len(small))
    try:
        import xlwt

        def xls(path: Path) -> None:
            book = xlwt.Workbook()
            sheet = book.add_sheet("t")
            for j, name in enumerate(small.columns):
                sheet.write(0, j, name)
            for i, values in enumerate(small.itertuples(index=False), start=1):
                for j, v in enumerate(values):
                    sheet.write(i, j, float(v))
            book.save(str(path))

        save("xls", "big.xls", xls, len(small))
    except ImportError:
        print("  xls: skipped (xlwt is not installed)")
    return out


def formats_table(workdir: Path, csv: Path, repeat: int, small_rows: int) -> None:
    """One row per format: lrsweep's read_table against pandas' own reader (best of
    ``repeat``, the two interleaved, each in a fresh process; imports not counted)."""
    files = write_formats(workdir, csv, small_rows)
    print()
    print("| format | rows | file | lrsweep `read_table` | pandas' reader | lrsweep / pandas |")
    print("|---|---|---|---|---|---|")
    for label, path, rows in files:
        got = measure(["read_table", "native"], path, workdir, repeat)
        ours, theirs = got.get("read_table"), got.get("native")
        if ours is None or theirs is None:
            continue
        print(
            f"| {label} | {rows:,} | {path.stat().st_size / 1e6:.0f} MB"
            f" | {ours['seconds']:.2f} s | {theirs['seconds']:.2f} s"
            f" | {ours['seconds'] / theirs['seconds']:.2f} |",
            flush=True,
        )
    xlsx = next(path for label, path, _ in files if label == "xlsx")
    print()
    print(f"xlsx readers, the same file (best of {repeat}):")
    print("| reader | seconds | peak memory |")
    print("|---|---|---|")
    kinds = ["read_table", "native", "fastexcel", "native-openpyxl"]
    names = {
        "read_table": "python-calamine, its rows to columns (lrsweep)",
        "native": "pandas.read_excel(engine='calamine')",
        "fastexcel": "fastexcel (Arrow, then to_pandas)",
        "native-openpyxl": "pandas.read_excel(engine='openpyxl')",
    }
    for kind, result in measure(kinds, xlsx, workdir, repeat).items():
        print(
            f"| {names[kind]} | {result['seconds']:.2f} s | {result['peak_bytes'] / 1e6:.0f} MB |"
        )


def measure_once(kind: str, path: Path, workdir: Path) -> dict[str, float] | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(path), str(workdir)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {kind}: skipped ({last})")
        return None
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(kinds: list[str], path: Path, workdir: Path, repeat: int) -> dict[str, dict]:
    """The best of ``repeat`` runs of each kind, the kinds interleaved (before, after, before,
    ...) so that a busy machine slows them alike."""
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for kind in kinds:
            got = measure_once(kind, path, workdir)
            if got is not None and (kind not in best or got["seconds"] < best[kind]["seconds"]):
                best[kind] = got
    return best


def legacy_module(workdir: Path) -> bool:
    try:
        text = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{BEFORE}:lrsweep/data.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    (workdir / "legacy_data.py").write_text(text)
    return True


def row(label: str, got: dict[str, float] | None, rows: int, base: float | None) -> None:
    if got is None:
        return
    speedup = f"{base / got['seconds']:5.1f}x" if base else "     "
    print(
        f"  {label:<16} {got['seconds']:6.2f} s {speedup}  {rows / got['seconds']:>11,.0f} rows/s"
        f"  peak {got['peak_bytes'] / 1e6:5.0f} MB  (+{got['import']:.2f} s imports)"
    )


def validate_seconds(path: Path, workdir: Path) -> float:
    spec = workdir / "big.yaml"
    spec.write_text(
        textwrap.dedent(f"""\
        name: big
        data: {{path: {path}}}
        model: {{hidden: [64, 64]}}
        train: {{epochs: 5, seeds: 1}}
        grid: {{lr_min: 1e-3, lr_max: 1.0, points_per_decade: 2}}
        """)
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lrsweep", "validate", str(spec)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs")
    parser.add_argument("--readers", action="store_true", help="also time the candidate readers")
    parser.add_argument("--formats", action="store_true", help="time every format lrsweep reads")
    parser.add_argument("--small-rows", type=int, default=20_000, help="rows of the ODS and XLS")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "big.csv"
        make_csv(path, args.rows)
        size = path.stat().st_size
        print(f"{args.rows:,} x {COLUMNS} numeric CSV, {size / 1e6:.0f} MB, best of {args.repeat}")
        if args.formats:
            formats_table(workdir, path, args.repeat, args.small_rows)
            return
        print("load: load_dataset alone (its modules imported first), speed-up against before")
        kinds = (["before"] if legacy_module(workdir) else []) + ["after"]
        got = measure(kinds, path, workdir, args.repeat)
        before, after = got.get("before"), got.get("after")
        base = before["seconds"] if before else None
        row("before (csv)", before, args.rows, None)
        row("after (pandas)", after, args.rows, base)
        if after is not None:
            seconds = min(validate_seconds(path, workdir) for _ in range(args.repeat))
            cold = after["import"] + after["seconds"]  # what one load costs a fresh command
            verdict = "ok" if seconds <= cold + 1.0 else "SLOWER than that"
            print(
                f"  validate         {seconds:6.2f} s  (a whole command; one cold load + 1 s ="
                f" {cold + 1.0:.2f} s: {verdict})"
            )
        if args.readers:
            print("readers alone (to a float array):")
            readers = measure(["pandas", "pyarrow", "polars"], path, workdir, args.repeat)
            for kind, result in readers.items():
                row(kind, result, args.rows, base)
            try:
                import pyarrow.csv as pc
                import pyarrow.parquet as pq
            except ImportError:
                return
            parquet = workdir / "big.parquet"
            pq.write_table(pc.read_csv(path), parquet)
            print(f"the same as Parquet, {parquet.stat().st_size / 1e6:.0f} MB:")
            kinds = ["pandas-parquet", "pyarrow-parquet", "polars-parquet"]
            for kind, result in measure(kinds, parquet, workdir, args.repeat).items():
                row(kind, result, args.rows, base)


if __name__ == "__main__":
    main()
