"""What sweeping a user's script costs beyond the script itself, and what the early stop saves.

1. **Overhead per run**: a script that does nothing but report one epoch, swept over N runs
   with ``--jobs 1`` (each run: the supervisor, the environment, the metrics file, the poll,
   the journal line and the history file), against the same script started N times in a row
   with `subprocess.run`. Goal: under 50 ms a run.
2. **Epochs saved by the early stop**: a script that sleeps a little per epoch and blows up
   at large LRs, swept over a grid where a third of the LRs diverge; the epochs the scripts
   actually trained (their metrics files' lines) against the epochs a sweep without the
   stopping rule trains (every run to the end), and the wall times.

    .venv/bin/python benchmarks/bench_script.py [--runs 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOTHING = """\
import json, os
with open(os.environ["LRSWEEP_METRICS"], "a") as f:
    f.write(json.dumps({"epoch": 1, "val_loss": 1.0}) + "\\n")
"""
NOTHING_ALONE = "import json, os, tempfile\nos.environ.get('X')\n"  # the same interpreter start

SLOW = """\
import argparse, json, math, os, time
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float); p.add_argument("--epochs", type=int)
a = p.parse_args()
with open(os.environ["LRSWEEP_METRICS"], "a") as f:
    f.write(json.dumps({"epoch": 0, "train_loss": 1.0, "val_loss": 1.0}) + "\\n")
    for e in range(1, a.epochs + 1):
        time.sleep(0.02)
        loss = 1.0 * 3 ** e if a.lr > 0.1 else 0.2 + math.exp(-a.lr * 100 * e)
        f.write(json.dumps({"epoch": e, "train_loss": loss, "val_loss": loss}) + "\\n")
        f.flush()
"""


def spec(folder: Path, script: str, grid: str, epochs: int, extra: str = "") -> Path:
    (folder / "model.py").write_text(script)
    path = folder / "spec.yaml"
    path.write_text(
        f"name: bench\ntrainer: {{command: [{sys.executable}, '-S', model.py, --lr, '{{lr}}',"
        f" --epochs, '{{epochs}}'], lr_from_env: false}}\n"
        f"train: {{epochs: {epochs}, seeds: 1{extra}}}\ngrid: {grid}\n"
        "refine: {rounds: 0}\n"
    )
    return path


def sweep_seconds(spec_path: Path, out: Path, jobs: int = 1) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lrsweep", "run", str(spec_path), "--out", str(out),
         "--jobs", str(jobs), "--no-plots", "--overwrite"],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - began


def overhead(runs: int, repeats: int) -> None:
    per_decade = max(1, round((runs - 1) / 4))
    rows = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            grid = f"{{lr_min: 1e-4, lr_max: 1, points_per_decade: {per_decade}}}"
            path = spec(folder, NOTHING, grid, 1)
            swept = sweep_seconds(path, folder / "r")
            n = len((folder / "r" / "runs.csv").read_text().splitlines()) - 1
            empty = sweep_seconds(spec(folder, NOTHING, "{lr_min: 1e-4, lr_max: 1e-3,"
                                       " points_per_decade: 1}", 1), folder / "e")  # fmt: skip
            began = time.perf_counter()
            for _ in range(n):
                subprocess.run([sys.executable, "-S", "-c", NOTHING_ALONE], check=True)
            alone = time.perf_counter() - began
            # the sweep's fixed cost (start, plan, summary) is that of a 2-run sweep, less
            # its 2 runs at the per-run rate
            per_run = (swept - empty) / (n - 2)
            rows.append((n, swept, alone / n, per_run, per_run - alone / n))
    print("1. Overhead per run: a script that only reports one epoch (--jobs 1)")
    print(
        "| runs | sweep wall s | script alone, a run | sweep, a run | lrsweep's overhead a run |"
    )
    print("|---:|---:|---:|---:|---:|")
    for n, swept, alone, per_run, extra in rows:
        print(f"| {n} | {swept:.2f} | {alone * 1000:.1f} ms | {per_run * 1000:.1f} ms"
              f" | {extra * 1000:.1f} ms |")  # fmt: skip
    median = statistics.median(r[4] for r in rows) * 1000
    print(f"median overhead: {median:.1f} ms a run (goal: under 50 ms)\n")


def early_stop(repeats: int) -> None:
    epochs = 20
    grid = "{lr_min: 1e-3, lr_max: 1, points_per_decade: 3}"
    print("2. Epochs saved by the early stop: 10 LRs x 20 epochs, 20 ms an epoch, LRs above"
          " 0.1 blow up (x3 a epoch)")  # fmt: skip
    print("| stopping rule | epochs trained | of planned | wall s (median) |")
    print("|---|---:|---:|---:|")
    for label, extra in (("lrsweep's (diverge_factor 4)", ""),
                         ("off (diverge_factor 1e300)", ", diverge_factor: 1e300")):  # fmt: skip
        walls, trained, planned = [], 0, 0
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                walls.append(sweep_seconds(spec(folder, SLOW, grid, epochs, extra), folder / "r"))
                files = list((folder / "r" / "runs").glob("*/metrics.jsonl"))
                trained = sum(len(f.read_text().splitlines()) - 1 for f in files)
                planned = len(files) * epochs
        wall = statistics.median(walls)
        print(f"| {label} | {trained} | {trained / planned:.0%} | {wall:.2f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    overhead(args.runs, args.repeats)
    early_stop(args.repeats)
    print(json.dumps({"python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
