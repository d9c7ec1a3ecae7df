"""The cost per run of supervising a command, and of `import lrsweep; lrsweep.report`.

    .venv/bin/python benchmarks/bench_child.py [--repeats 30]

Runs `python -c pass` alternately with `subprocess.run` and with `lrsweep.child.run_command`
(the supervisor, its own session, output tails, the status pipe) and prints the medians;
then the same for a script that imports lrsweep and reports one line, against `python -c
pass`. Interleaved, so a noisy machine slows both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from lrsweep.child import run_command
from lrsweep.protocol import METRICS_ENV


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    idle = [sys.executable, "-c", "pass"]
    plain, supervised = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        subprocess.run(idle, stdin=subprocess.DEVNULL, capture_output=True, check=True)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        outcome = run_command(idle)
        supervised.append(time.perf_counter() - start)
        assert outcome.ok, outcome.describe()
    a, b = median_ms(plain), median_ms(supervised)
    print(f"python -c pass: subprocess.run {a:.1f} ms, run_command {b:.1f} ms, "
          f"supervision {b - a:.1f} ms a run (medians of {args.repeats})")  # fmt: skip

    reporting = [sys.executable, "-c", "import lrsweep; lrsweep.report(epoch=1, val_loss=0.5)"]
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, METRICS_ENV: os.path.join(folder, "metrics.jsonl")}
        bare, report = [], []
        for _ in range(args.repeats):
            for argv, samples in ((idle, bare), (reporting, report)):
                start = time.perf_counter()
                subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=True)
                samples.append(time.perf_counter() - start)
    a, b = median_ms(bare), median_ms(report)
    print(f"import lrsweep + one lrsweep.report: {b - a:.1f} ms over python -c pass "
          f"({a:.1f} -> {b:.1f} ms, medians of {args.repeats})")  # fmt: skip


if __name__ == "__main__":
    main()
