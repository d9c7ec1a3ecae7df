"""Stress lrsweep the way issue 15's stress test did: kills, concurrent commands, damaged
folders and hostile specs, each attempt checked against what must hold (BAD_INPUTS.md).

    python benchmarks/stress.py                  # every kind, 60 attempts, seed 0
    python benchmarks/stress.py --attempts 200 --seed 3 --kinds kill,race

Prints one line per attempt that broke, then ``attempts / held / broke``; exit 1 if any broke.
Everything happens in a temporary folder; every process it starts is killed at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SPEC = """\
name: stress
data: {{builtin: moons, n_samples: 400, noise: 0.2}}
model: {{hidden: [32, 32]}}
optimizer: {{name: sgd, momentum: 0.9}}
train: {{epochs: {epochs}, batch_size: 8, seeds: 2}}
grid: {{lr_min: 1e-3, lr_max: {lr_max}, points_per_decade: 2}}
execution: {{group_size: 1}}
"""

HOSTILE: dict[str, str | bytes] = {
    "python tag": "name: x\nevil: !!python/object/apply:os.system ['echo pwned']\n",
    "billion laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
    "duplicate key": "name: x\nname: y\n",
    "lr_max 1e308": "name: x\ndata: {builtin: moons}\ngrid: {lr_max: 1e308}\n",
    "lr_min subnormal": "name: x\ndata: {builtin: moons}\ngrid: {lr_min: 5e-324}\n",
    "5000 digits": "name: x\ndata: {builtin: moons}\ntrain: {seeds: 1" + "0" * 5000 + "}\n",
    "control char": "name: x\x01y\ndata: {builtin: moons}\n",
    "NUL byte": "name: x\x00\n",
    "not UTF-8": b"name: \xff\xfe\n",
    "deep nesting": "a: " + "[" * 600 + "]" * 600 + "\n",
    "top-level list": "- a\n- b\n",
    "two documents": "name: a\n---\nname: b\n",
    "unknown keys": "name: x\ndata: {builtin: moons}\n"
    + "".join(f"k{i}: 1\n" for i in range(5000)),
    "long value": "name: x\ndata: {builtin: moons}\nmodel: {hidden: ["
    + ", ".join(["ten"] * 8000)
    + "]}\n",
    "16 GiB model": "name: x\ndata: {builtin: moons, n_samples: 200}\n"
    "model: {hidden: [65536, 65536]}\n",
    "10^10 teacher": "name: x\ndata: {builtin: teacher, n_samples: 1000000, n_features: 10000}\n",
    "millions of runs": "name: x\ndata: {builtin: moons}\ngrid: {lr_min: 1e-12, lr_max: 1e6,"
    " points_per_decade: 1000}\ntrain: {seeds: 100}\n",
    "name escapes": "name: ../../x\ndata: {builtin: moons}\n",
    "infinite number": "name: x\ndata: {builtin: moons}\ngrid: {lr_max: .inf}\n",
    "date for a number": "name: x\ndata: {builtin: moons}\ntrain: {epochs: 2024-01-01}\n",
    "tabs": "name: x\n\tdata: 1\n",
    "empty": "",
    "missing data file": "name: x\ndata: {path: nowhere.csv}\n",
    "a directory as data": "name: x\ndata: {path: .}\n",
}


class Broke(Exception):
    """An attempt found something that must hold not holding."""


class Stress:
    def __init__(self, root: Path, rng: random.Random, python: str) -> None:
        self.root = root
        self.rng = rng
        self.python = python
        self.spec = root / "spec.yaml"
        self.spec.write_text(SPEC.format(epochs=30, lr_max=1))
        self.other = root / "other.yaml"
        self.other.write_text(SPEC.format(epochs=30, lr_max=3))
        self.slow = root / "slow.yaml"
        self.slow.write_text(SPEC.format(epochs=150, lr_max=1))
        self.slow_reference = root / "slow-reference"
        self.reference = root / "reference"
        self.other_reference = root / "other-reference"
        self.n = 0
        for spec, out in ((self.spec, self.reference), (self.other, self.other_reference)):
            done = self.lrsweep("run", spec, "--out", out, "--jobs", "1", "--no-plots")
            if done.returncode != 0:
                raise SystemExit(f"a reference sweep failed: {done.stderr}")

    # -- helpers ---------------------------------------------------------------------------

    def command(self, *args: object) -> list[str]:
        return [self.python, "-m", "lrsweep", *map(str, args)]

    def lrsweep(self, *args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout)

    def start(self, *args: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def folder(self) -> Path:
        self.n += 1
        return self.root / f"a{self.n}"

    @staticmethod
    def rows(out: Path) -> list[dict[str, str]]:
        with open(out / "runs.csv", newline="") as f:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]

    def same_as_reference(self, out: Path, reference: Path | None = None) -> None:
        reference = reference or self.reference
        if self.rows(out) != self.rows(reference):
            raise Broke("runs.csv differs from an uninterrupted sweep's")
        names = sorted(p.name for p in (reference / "histories").iterdir())
        if sorted(p.name for p in (out / "histories").iterdir()) != names:
            raise Broke("histories/ differs from an uninterrupted sweep's")
        for name in names:
            a = (out / "histories" / name).read_bytes()
            if a != (reference / "histories" / name).read_bytes():
                raise Broke(f"histories/{name} differs from an uninterrupted sweep's")
        if list(out.rglob("*.tmp-*")):
            raise Broke("temp files left")

    @staticmethod
    def one_line(result: subprocess.CompletedProcess[str], code: int) -> None:
        err = result.stderr
        if result.returncode != code:
            raise Broke(f"exit {result.returncode}, expected {code}: {err[-200:]!r}")
        if "Traceback" in err or err.count("\n") != 1 or len(err) > 330:
            raise Broke(f"not one short line: {len(err)} chars, {err.count(chr(10))} lines")
        if not err.startswith("Error: "):
            raise Broke(f"no 'Error: ' line: {err[:120]!r}")

    @staticmethod
    def done_lines(out: Path) -> int:
        journal = out / "journal.jsonl"
        return journal.read_text().count('"event": "done"') if journal.exists() else 0

    def wait_done(self, out: Path, n: int, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 60
        while self.done_lines(out) < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Broke(f"the sweep stopped or stalled: {proc.communicate()[1][-200:]!r}")
            time.sleep(0.01)

    @staticmethod
    def children(pid: int) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        return [int(x) for x in found.stdout.split()]

    @staticmethod
    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))

    # -- attempts ----------------------------------------------------------------------------

    def kill(self) -> str:
        """SIGKILL a sweep (in-process or a process pool) at a random moment, then resume:
        the files equal an uninterrupted sweep's and no worker outlives the driver by 5 s."""
        out, jobs = self.folder(), self.rng.choice(["1", "2"])
        proc = self.start("run", self.spec, "--out", out, "--jobs", jobs, "--no-plots")
        self.wait_done(out, self.rng.randint(0, 6), proc)
        time.sleep(self.rng.uniform(0, 0.3))
        workers = self.children(proc.pid)
        proc.kill()
        proc.communicate()
        deadline = time.monotonic() + 5
        while any(self.alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in workers if self.alive(p)]
        for p in left:
            os.kill(p, signal.SIGKILL)
        if left:
            raise Broke(f"{len(left)} processes outlived their SIGKILLed driver by 5 s")
        again = self.lrsweep("run", self.spec, "--out", out, "--jobs", jobs, "--no-plots")
        if again.returncode != 0:
            raise Broke(f"resume exit {again.returncode}: {again.stderr[-200:]!r}")
        self.same_as_reference(out)
        return f"SIGKILL --jobs {jobs}"

    def interrupt(self) -> str:
        """SIGINT or SIGTERM mid-sweep: exit 130 with the resume line; resume finishes."""
        out = self.folder()
        sig = self.rng.choice([signal.SIGINT, signal.SIGTERM])
        proc = self.start("run", self.spec, "--out", out, "--jobs", "1", "--no-plots")
        self.wait_done(out, self.rng.randint(1, 5), proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 130 or "Resume with: lrsweep run" not in err:
            journal = (out / "journal.jsonl").read_text().splitlines()
            failed = [json.loads(x).get("message") for x in journal if '"failed"' in x]
            raise Broke(f"{sig.name}: exit {proc.returncode}: {err[-200:]!r}; failed: {failed}")
        again = self.lrsweep("run", self.spec, "--out", out, "--jobs", "1", "--no-plots")
        if again.returncode != 0:
            raise Broke(f"resume exit {again.returncode}")
        self.same_as_reference(out)
        return sig.name

    def race(self) -> str:
        """Two commands into one folder in the same instant (fresh, stale lock, or the second
        with --overwrite and another spec): exactly one runs, the other exits 3, and the
        folder holds the winner's runs only."""
        out = self.folder()
        how = self.rng.choice(["fresh", "stale-lock", "overwrite"])
        if how == "stale-lock":
            out.mkdir()
            (out / ".lock").write_text(json.dumps({"pid": 2**22 + 5, "host": os.uname()[1]}))
        second = ["run", self.other, "--out", out, "--jobs", "1", "--no-plots"]
        if how == "overwrite":
            second.append("--overwrite")
        procs = [
            self.start("run", self.spec, "--out", out, "--jobs", "1", "--no-plots"),
            self.start(*second),
        ]
        results = [(p.wait(timeout=180), p.communicate()[1]) for p in procs]
        codes = sorted(code for code, _ in results)
        if codes != [0, 3]:
            raise Broke(f"{how}: exit codes {codes}: {[e[-150:] for _, e in results]}")
        loser = next(err for code, err in results if code == 3)
        if "in use by process" not in loser:
            raise Broke(f"{how}: the loser's message does not name the holder: {loser!r}")
        first_won = results[0][0] == 0
        self.same_as_reference(out, self.reference if first_won else self.other_reference)
        return f"{how} ({'first' if first_won else 'second'} won)"

    def overwrite_running(self) -> str:
        """--overwrite with another spec while a sweep runs: refused with exit 3, and the
        running sweep's files are intact and it finishes as if alone. (The running sweep is
        a long one, so that it is still running when the second command starts.)"""
        if not self.slow_reference.exists():
            done = self.lrsweep(
                "run", self.slow, "--out", self.slow_reference, "--jobs", "1", "--no-plots"
            )
            if done.returncode != 0:
                raise SystemExit(f"the slow reference sweep failed: {done.stderr}")
        out = self.folder()
        proc = self.start("run", self.slow, "--out", out, "--jobs", "1", "--no-plots")
        self.wait_done(out, self.rng.randint(1, 4), proc)
        spec_text = (out / "spec.yaml").read_text()
        second = self.lrsweep("run", self.other, "--out", out, "--overwrite", "--jobs", "1")
        self.one_line(second, 3)
        if (out / "spec.yaml").read_text() != spec_text:
            raise Broke("spec.yaml changed under the running sweep")
        proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise Broke(f"the running sweep ended with exit {proc.returncode}")
        self.same_as_reference(out, self.slow_reference)
        return "overwrite while running"

    def damage(self) -> str:
        """A finished folder damaged by hand; what must happen depends on the damage."""
        out = self.folder()
        shutil.copytree(self.reference, out)
        how = self.rng.choice(
            ["cut history", "empty history", "deleted spec.yaml", "summary shape",
             "foreign folder", "journal torn", "garbled runs.csv"]
        )  # fmt: skip
        histories = sorted((out / "histories").iterdir())
        if how in ("cut history", "empty history"):
            victim = self.rng.choice(histories)
            data = victim.read_bytes()
            victim.write_bytes(b"" if how == "empty history" else data[: len(data) // 2])
            again = self.lrsweep("run", self.spec, "--out", out, "--jobs", "1", "--no-plots")
            if again.returncode != 0:
                raise Broke(f"{how}: resume exit {again.returncode}")
            self.same_as_reference(out)
        elif how == "deleted spec.yaml":
            (out / "spec.yaml").unlink()
            journal = (out / "journal.jsonl").read_bytes()
            self.one_line(self.lrsweep("run", self.other, "--out", out, "--no-plots"), 2)
            if (out / "journal.jsonl").read_bytes() != journal:
                raise Broke("the journal changed")
        elif how == "summary shape":
            summary = json.loads((out / "summary.json").read_text())
            key = self.rng.choice(["combos", "best", "table", "status_counts", "good_band"])
            summary[key] = self.rng.choice([5, "x", [1], {"lr": None}, None])
            (out / "summary.json").write_text(json.dumps(summary))
            for command in ("show", "report"):
                result = self.lrsweep(command, out)
                if result.returncode != 0:
                    self.one_line(result, 2)
        elif how == "foreign folder":
            shutil.rmtree(out)
            (out / "plots").mkdir(parents=True)
            files = {"plots/figure1.pdf": "fig", "report.md": "# mine", "spec.yaml": "my: spec\n"}
            for name, text in files.items():
                (out / name).write_text(text)
            self.one_line(self.lrsweep("run", self.spec, "--out", out, "--overwrite"), 2)
            for name, text in files.items():
                if (out / name).read_text() != text:
                    raise Broke(f"--overwrite changed the user's {name}")
        elif how == "journal torn":
            journal = out / "journal.jsonl"
            data = journal.read_bytes()
            journal.write_bytes(data[: self.rng.randint(len(data) // 2, len(data) - 1)])
            again = self.lrsweep("run", self.spec, "--out", out, "--jobs", "1", "--no-plots")
            if again.returncode != 0:
                raise Broke(f"{how}: resume exit {again.returncode}: {again.stderr[-200:]!r}")
            self.same_as_reference(out)
        else:
            runs = out / "runs.csv"
            lines = runs.read_text().splitlines(keepends=True)
            lines[self.rng.randint(1, len(lines) - 1)] = "garbage,,,\n"
            runs.write_text("".join(lines))
            result = self.lrsweep("plot", out)
            if result.returncode != 0:
                self.one_line(result, 2)
        return how

    def hostile(self) -> str:
        """A hostile spec: exit 2, one short line, nothing written, within 5 seconds."""
        name, text = self.rng.choice(sorted(HOSTILE.items()))
        folder = self.folder()
        folder.mkdir()
        spec = folder / "spec.yaml"
        spec.write_bytes(text if isinstance(text, bytes) else text.encode())
        command = self.rng.choice(["validate", "run", "dry-run"])
        args = {"validate": ["validate", spec], "run": ["run", spec, "--out", folder / "r"],
                "dry-run": ["run", spec, "--dry-run"]}[command]  # fmt: skip
        started = time.monotonic()
        result = subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=60, cwd=folder
        )
        self.one_line(result, 2)
        if time.monotonic() - started > 5:
            raise Broke(f"took {time.monotonic() - started:.1f}s")
        if (folder / "r").exists() or (folder / "results").exists() or (self.root / "x").exists():
            raise Broke("wrote something")
        return f"{command} {name}"

    # -- issue 28: never mix, never cut ----------------------------------------------------

    def table(self, name: str, rows: int = 300, constant: bool = False) -> Path:
        """A small CSV (two features, a class or a numeric target) in a fresh folder."""
        folder = self.folder()
        folder.mkdir()
        path = folder / name
        lines = ["x1,x2,y"]
        for _ in range(rows):
            a, b = self.rng.uniform(-1, 1), self.rng.uniform(-1, 1)
            y = "3.5" if constant else ("1" if a * b + self.rng.gauss(0, 0.2) > 0 else "0")
            lines.append(f"{a:.6f},{b:.6f},{y}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def table_spec(self, data: Path, task: str = "classification") -> Path:
        spec = data.parent / "spec.yaml"
        spec.write_text(
            f"name: t\ndata: {{path: {data.name}, target: y, task: {task}}}\n"
            "model: {hidden: [16]}\ntrain: {epochs: 4, batch_size: 16, seeds: 2}\n"
            "grid: {lr_min: 1e-3, lr_max: 1, points_per_decade: 1}\n"
        )
        return spec

    def edited(self) -> str:
        """A data file edited in place (or only touched) after a sweep, or while it was
        interrupted: an edit is refused with one line naming the data and nothing in the
        folder changes; a touch is the same data and the sweep resumes."""
        data = self.table("t.csv")
        spec, out = self.table_spec(data), data.parent / "r"
        how = self.rng.choice(["edit after", "edit while interrupted", "touch"])
        if how == "edit while interrupted":
            proc = self.start("run", spec, "--out", out, "--jobs", "1", "--no-plots")
            self.wait_done(out, self.rng.randint(1, 3), proc)
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
        else:
            first = self.lrsweep("run", spec, "--out", out, "--jobs", "1", "--no-plots")
            if first.returncode != 0:
                raise Broke(f"{how}: the first sweep failed: {first.stderr[-200:]!r}")
        before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        if how == "touch":
            os.utime(data, (time.time() + 5, time.time() + 5))
            again = self.lrsweep("run", spec, "--out", out, "--jobs", "1", "--no-plots")
            if again.returncode != 0:
                raise Broke(f"touch: exit {again.returncode}: {again.stderr[-200:]!r}")
            return how
        lines = data.read_text().splitlines()
        targets = [line.rsplit(",", 1)[1] for line in lines[1:]]
        self.rng.shuffle(targets)
        lines[1:] = [line.rsplit(",", 1)[0] + "," + t for line, t in zip(lines[1:], targets)]
        data.write_text("\n".join(lines) + "\n")
        again = self.lrsweep("run", spec, "--out", out, "--jobs", "1", "--no-plots")
        # the table's summary line comes first (the data is read before the folder's record
        # is compared); then the error, one line
        again.stderr = "".join(again.stderr.splitlines(keepends=True)[-1:])
        self.one_line(again, 2)
        if "changed" not in again.stderr or "t.csv" not in again.stderr:
            raise Broke(f"{how}: the line does not say the data changed: {again.stderr!r}")
        after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
        if {p: v for p, v in before.items() if p.name != ".lock"} != after:
            raise Broke(f"{how}: the folder changed")
        return how

    def wide(self) -> str:
        """A header longer than any sniff window (4,001 long names) through init, validate
        and a dry run: every column kept, the spec init writes is one validate accepts; a
        50 MB one-line file: one line, not an invented duplicate."""
        folder = self.folder()
        folder.mkdir()
        if self.rng.random() < 0.25:
            path = folder / "oneline.csv"
            path.write_text(",".join(f"c{i}" for i in range(6_000_000)) + "\n")
            result = self.lrsweep("init", "--data", path, "--out", folder / "s.yaml")
            self.one_line(result, 2)
            if "duplicate" in result.stderr:
                raise Broke(f"an invented duplicate: {result.stderr!r}")
            return "50 MB one-line header"
        n = 4001
        names = [f"feature_with_a_rather_long_name_{i:05d}" for i in range(n)]
        rows = [",".join([*names, "y"])]
        for r in range(20):
            rows.append(",".join(str((r * 7 + i) % 13) for i in range(n)) + f",{r % 2}")
        path = folder / "wide.csv"
        path.write_text("\n".join(rows) + "\n")
        spec = folder / "s.yaml"
        init = self.lrsweep("init", "--data", path, "--target", "y", "--out", spec)
        if init.returncode != 0:
            raise Broke(f"init exit {init.returncode}: {init.stderr[-200:]!r}")
        check = self.lrsweep("validate", spec)
        if check.returncode != 0:
            raise Broke(f"validate refused init's spec: {check.stderr[-200:]!r}")
        if f"{n} " not in check.stdout + check.stderr and str(n) not in init.stdout + init.stderr:
            raise Broke("the column count is not the header's")
        return f"{n}-column header"

    def constant(self) -> str:
        """A regression target with zero variance: refused with one line, nothing trained."""
        data = self.table("c.csv", constant=True)
        spec = self.table_spec(data, task="regression")
        result = self.lrsweep("run", spec, "--out", data.parent / "r", "--no-plots")
        self.one_line(result, 2)
        if (data.parent / "r" / "journal.jsonl").exists():
            raise Broke("runs were planned on a constant target")
        return "constant regression target"

    def cut(self) -> str:
        """A finished folder's journal cut, a history deleted, garbage journal lines, or
        histories/ deleted before a refine: show/report derive every line from the journal
        and say what is damaged; refine recreates what it needs."""
        out = self.folder()
        shutil.copytree(self.reference, out)
        journal = out / "journal.jsonl"
        how = self.rng.choice(["journal cut", "history deleted", "garbage lines",
                               "histories/ deleted"])  # fmt: skip
        if how == "journal cut":
            lines = journal.read_text().splitlines(keepends=True)
            journal.write_text("".join(lines[: self.rng.randint(len(lines) // 3, len(lines) - 2)]))
            shown = self.lrsweep("show", out, "--json")
            if self.done_lines(out) == 0 and shown.returncode == 2:
                self.one_line(shown, 2)  # nothing finished is left: said so, like a new sweep
                if "no finished run" not in shown.stderr:
                    raise Broke(f"{how}: {shown.stderr!r}")
                return how + " (no run left)"
            if shown.returncode not in (0, 1):
                raise Broke(f"{how}: show exit {shown.returncode}: {shown.stderr[-200:]!r}")
            notes = {json.loads(x)["text"] for x in journal.read_text().splitlines()
                     if '"event": "note"' in x}  # fmt: skip
            extra = [n for n in json.loads(shown.stdout).get("notes", []) if n not in notes]
            if extra:
                raise Broke(f"{how}: show prints notes the journal does not have: {extra[:1]}")
        elif how == "history deleted":
            victim = self.rng.choice(sorted((out / "histories").iterdir()))
            victim.unlink()
            shown = self.lrsweep("show", out)
            if "missing or damaged history" not in shown.stdout + shown.stderr:
                raise Broke(f"{how}: show does not say a history is missing")
        elif how == "garbage lines":
            with open(journal, "a") as f:
                f.write('not json\n{"half": \n')
            shown = self.lrsweep("show", out)
            if "2 unreadable lines skipped" not in shown.stdout + shown.stderr:
                raise Broke(f"{how}: show does not count the skipped lines")
        else:
            shutil.rmtree(out / "histories")
            again = self.lrsweep("refine", out, "--no-plots")
            if again.returncode != 0:
                raise Broke(f"{how}: refine exit {again.returncode}: {again.stderr[-200:]!r}")
            if not any((out / "histories").iterdir()):
                raise Broke(f"{how}: refine wrote no history")
        return how


KINDS: dict[str, Callable[[Stress], str]] = {
    "kill": Stress.kill,
    "interrupt": Stress.interrupt,
    "race": Stress.race,
    "overwrite": Stress.overwrite_running,
    "damage": Stress.damage,
    "hostile": Stress.hostile,
    "edited": Stress.edited,
    "wide": Stress.wide,
    "constant": Stress.constant,
    "cut": Stress.cut,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"of {','.join(KINDS)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kinds = args.kinds.split(",")
    root = Path(tempfile.mkdtemp(prefix="lrsweep-stress-"))
    held = broke = 0
    started = time.monotonic()
    try:
        stress = Stress(root, rng, sys.executable)
        for i in range(args.attempts):
            kind = kinds[i % len(kinds)]
            try:
                what = KINDS[kind](stress)
                held += 1
                print(f"held  {kind:9} {what}", flush=True)
            except (Broke, subprocess.TimeoutExpired, OSError, ValueError) as e:
                broke += 1
                print(f"BROKE {kind:9} {type(e).__name__}: {e}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"attempts {held + broke} / held {held} / broke {broke}"
        f"  ({time.monotonic() - started:.0f} s, seed {args.seed})"
    )
    sys.exit(1 if broke else 0)


if __name__ == "__main__":
    main()
