"""Fingerprints of what the shipped configs write: one hash per file kind per config.

Runs every config in ``configs/`` (or those named) into a scratch folder and prints, per config,
a hash of its histories, of ``runs.csv`` without the timing column, and of ``summary.json``
without its timing and provenance keys. Two checkouts that print the same lines write the same
numbers: the check that a reorganisation changed no result.

    .venv/bin/python benchmarks/fingerprint.py                    # every config, --jobs 1
    .venv/bin/python benchmarks/fingerprint.py digits regression --jobs 2
    .venv/bin/python benchmarks/fingerprint.py --save before.txt  # then diff two saved files
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMED_SUMMARY_KEYS = ("finished_at", "wall_seconds", "cpu_seconds", "provenance",
                      "run_seconds_sum", "results_dir")  # fmt: skip


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def untimed_runs(path: Path) -> bytes:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for row in rows:
        row.pop("seconds", None)
    return json.dumps(rows, sort_keys=True).encode()


def untimed_summary(path: Path) -> bytes:
    summary = json.loads(path.read_text())
    for key in TIMED_SUMMARY_KEYS:
        summary.pop(key, None)
    return json.dumps(summary, sort_keys=True).encode()


def fingerprint(config: Path, jobs: int, scratch: Path) -> dict[str, str]:
    out = scratch / config.stem
    command = [sys.executable, "-m", "lrsweep", "run", str(config), "--out", str(out),
               "--jobs", str(jobs), "--no-plots"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "?"}
    histories = sorted((out / "histories").glob("*.csv"))
    joined = b"".join(p.name.encode() + p.read_bytes() for p in histories)
    return {
        "histories": f"{len(histories)}:{digest(joined)}",
        "runs": digest(untimed_runs(out / "runs.csv")),
        "summary": digest(untimed_summary(out / "summary.json")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help="config names (default: every config)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--save", type=Path, help="also write the lines to this file")
    args = parser.parse_args()
    names = args.configs or sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            found = fingerprint(ROOT / "configs" / f"{name}.yaml", args.jobs, Path(scratch))
            line = f"{name:22s} " + " ".join(f"{k}={v}" for k, v in found.items())
            print(line, flush=True)
            lines.append(line)
    if args.save:
        args.save.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
