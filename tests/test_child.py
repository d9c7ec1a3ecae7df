"""A user's command as a supervised child: exits, signals, hangs, floods, orphans, a killed driver."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from lrsweep.child import Outcome, check_command, fill_command, placeholders, run_command
from lrsweep.errors import SpecError

PY = sys.executable
FAST = {"grace": 0.3, "poll_interval": 0.05}


def script(tmp_path: Path, text: str, name: str = "train.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_until(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def pids_in(path: Path, count: int) -> list[int]:
    assert wait_until(lambda: path.exists() and len(path.read_text().split()) >= count)
    return [int(p) for p in path.read_text().split()]


# -- how a run ends ------------------------------------------------------------------------------


def test_exit_code_and_stderr_tail(tmp_path):
    train = script(tmp_path, """\
        import sys
        print("epoch 1")
        sys.stderr.write("Traceback (most recent call last):\\nValueError: bad shape\\n")
        sys.exit(1)
    """)  # fmt: skip
    out = run_command([PY, str(train)], **FAST)
    assert (out.exit_code, out.signal, out.timed_out, out.stopped, out.ok) == (
        1,
        None,
        False,
        None,
        False,
    )
    assert out.describe() == "exit code 1"
    assert out.stdout == b"epoch 1\n"
    assert out.last_lines(1) == ["ValueError: bad shape"]
    assert out.seconds > 0


def test_success_is_ok(tmp_path):
    out = run_command([PY, "-c", "print('done')"], **FAST)
    assert out.ok and out.exit_code == 0 and out.describe() == "exit code 0"


def test_killed_by_sigkill_is_named_with_a_hint(tmp_path):
    out = run_command(
        [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], **FAST
    )
    assert out.signal == signal.SIGKILL and out.exit_code is None and not out.ok
    assert out.describe() == "killed by SIGKILL: out of memory?"


def test_a_shell_reports_its_childs_signal_as_128_plus(tmp_path):
    out = run_command(["sh", "-c", "exit 137"], **FAST)
    assert out.exit_code == 137
    assert out.describe() == "exit code 137 (128 + SIGKILL: out of memory?)"


def test_a_hang_times_out_and_its_group_ends(tmp_path):
    pids = tmp_path / "pids"
    train = script(tmp_path, f"""\
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(60)
    """)  # fmt: skip
    start = time.monotonic()
    out = run_command([PY, str(train)], timeout=1.0, **FAST)
    assert out.timed_out and not out.ok and out.stopped is None
    assert out.describe() == "timed out after 1 s"
    assert 1.0 <= out.seconds < 1.0 + 2.0 and time.monotonic() - start < 3.0
    procs = pids_in(pids, 2)
    assert wait_until(lambda: not any(alive(p) for p in procs), 2.0)


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    train = script(tmp_path, """\
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """)  # fmt: skip
    out = run_command([PY, str(train)], timeout=0.5, grace=0.5, poll_interval=0.05)
    assert out.timed_out and out.signal == signal.SIGKILL
    assert 1.0 <= out.seconds < 2.5  # the timeout, the grace, then SIGKILL


def test_a_script_that_handles_sigterm_ends_within_the_grace(tmp_path):
    train = script(tmp_path, """\
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))
        time.sleep(60)
    """)  # fmt: skip
    out = run_command([PY, str(train)], timeout=0.5, grace=5.0, poll_interval=0.05)
    assert out.timed_out and out.exit_code == 3 and out.seconds < 3.0


# -- output ----------------------------------------------------------------------------------------


def test_megabytes_of_binary_output_keep_only_a_tail(tmp_path):
    train = script(tmp_path, """\
        import os, sys
        block = bytes(range(256)) * 4096           # 1 MiB, every byte value
        for i in range(8):
            sys.stdout.buffer.write(block)
            sys.stderr.buffer.write(b"\\xff\\x00 err %d\\n" % i * 10000)
        sys.stdout.buffer.write(b"THE END")
    """)  # fmt: skip
    out = run_command([PY, str(train)], tail_bytes=1000, **FAST)
    assert out.ok
    assert out.stdout_bytes == 8 * (1 << 20) + 7
    expected = (bytes(range(256)) * 4096 + b"THE END")[-1000:]
    assert out.stdout == expected
    assert out.stderr_bytes == 8 * 10000 * len(b"\xff\x00 err 0\n")
    assert len(out.stderr) == 1000 and out.stderr.endswith(b"\xff\x00 err 7\n")
    assert out.last_lines(1)[0].endswith("err 7")  # undecodable bytes replaced, not raised


def test_stdin_is_closed_and_env_and_cwd_reach_the_script(tmp_path):
    (tmp_path / "data.txt").write_text("from cwd")
    script(tmp_path, """\
        import os, sys
        print(repr(sys.stdin.read()), os.environ["LRSWEEP_LR"], open("data.txt").read())
    """)  # fmt: skip
    out = run_command([PY, "train.py"], cwd=tmp_path, env={"LRSWEEP_LR": "0.01"}, **FAST)
    assert out.ok, out.stderr
    assert out.stdout == b"'' 0.01 from cwd\n"


def test_the_run_has_its_own_session_and_group(tmp_path):
    out = run_command([PY, "-c", "import os; print(os.getsid(0), os.getpgid(0))"], **FAST)
    sid, pgid = map(int, out.stdout.split())
    assert sid == pgid != os.getpgid(0)  # the supervisor leads a new session and group


def test_a_value_with_spaces_and_shell_characters_is_one_argument(tmp_path):
    out = run_command(
        [PY, "-c", "import sys; print(sys.argv[1:])", "a b; rm -rf $HOME", "*"], **FAST
    )
    assert out.stdout.decode().strip() == "['a b; rm -rf $HOME', '*']"


# -- children of the script -------------------------------------------------------------------------


def test_children_left_behind_end_with_the_script(tmp_path):
    pids = tmp_path / "pids"
    stubborn_code = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(pids)!r}, 'a').write(' %d' % os.getpid()); time.sleep(60)"
    )
    train = script(tmp_path, f"""\
        import os, subprocess, time
        loader = subprocess.Popen(["sleep", "60"])                      # a data loader
        open({str(pids)!r}, "w").write(str(loader.pid))
        subprocess.Popen([{PY!r}, "-c", {stubborn_code!r}])             # ignores SIGTERM
        while len(open({str(pids)!r}).read().split()) < 2:
            time.sleep(0.01)
        print("bye")                                                     # exits, leaving both
    """)  # fmt: skip
    out = run_command([PY, str(train)], grace=0.5, poll_interval=0.05)
    assert out.ok and out.stdout == b"bye\n"
    loader, stubborn = pids_in(pids, 2)
    assert wait_until(lambda: not alive(loader) and not alive(stubborn), 2.0)  # SIGKILL is async
    assert 0.5 <= out.seconds < 3.0  # the stubborn one is killed after the grace


@pytest.mark.parametrize("ignores_sigterm", [False, True], ids=["terminated", "killed"])
def test_nothing_outlives_a_driver_killed_by_sigkill(tmp_path, ignores_sigterm):
    pids = tmp_path / "pids"
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN)" if ignores_sigterm else ""
    train = script(tmp_path, f"""\
        import os, signal, subprocess, time
        {ignore}
        loader = subprocess.Popen(["sleep", "60"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{loader.pid}}")
        time.sleep(60)
    """)  # fmt: skip
    driver = subprocess.Popen([PY, "-c", (
        "import sys; from lrsweep.child import run_command; "
        f"run_command([sys.executable, {str(train)!r}], grace=0.5)"
    )])  # fmt: skip
    try:
        procs = pids_in(pids, 2)
        assert all(alive(p) for p in procs)
        driver.kill()
        driver.wait()
        assert wait_until(lambda: not any(alive(p) for p in procs), 5.0)
    finally:
        driver.kill()
        driver.wait()


# -- the caller stops a run ------------------------------------------------------------------------


def test_the_poll_callback_stops_a_run_with_its_reason(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    train = script(tmp_path, f"""\
        import time
        for epoch in range(1, 1000):
            with open({str(metrics)!r}, "a") as f:
                f.write(f"{{epoch}}\\n")
            time.sleep(0.02)
    """)  # fmt: skip
    calls = []

    def poll():
        calls.append(time.monotonic())
        lines = metrics.read_text().split() if metrics.exists() else []
        return "diverged" if len(lines) >= 5 else None

    out = run_command([PY, str(train)], poll=poll, **FAST)
    assert out.stopped == "diverged" and out.describe() == "stopped: diverged" and not out.ok
    assert len(calls) >= 2 and out.seconds < 5
    intervals = [b - a for a, b in zip(calls, calls[1:])]
    assert min(intervals) >= 0.05 * 0.9


def test_the_stop_event_interrupts_a_run(tmp_path):
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    out = run_command([PY, "-c", "import time; time.sleep(60)"], stop=stop, **FAST)
    timer.join()
    assert out.stopped == "interrupted" and out.seconds < 3


def test_an_exception_in_poll_kills_the_group_and_is_raised(tmp_path):
    pids = tmp_path / "pids"
    train = script(tmp_path, f"""\
        import os, time
        open({str(pids)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """)  # fmt: skip

    def poll():
        if pids.exists():
            raise RuntimeError("bug in the caller")
        return None

    with pytest.raises(RuntimeError, match="bug in the caller"):
        run_command([PY, str(train)], poll=poll, **FAST)
    (pid,) = pids_in(pids, 1)
    assert wait_until(lambda: not alive(pid), 5.0)


# -- before any run: the command can start ----------------------------------------------------------


def test_a_program_on_the_runs_path_is_found(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "mytrain"
    tool.write_text("#!/bin/sh\necho trained $1\n")
    tool.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    resolved = check_command(["mytrain", "0.1"], env=env)
    assert resolved.program == str(tool) and resolved.script == str(tool)
    assert run_command(["mytrain", "0.1"], env=env, **FAST).stdout == b"trained 0.1\n"


def test_a_python_command_names_its_script(tmp_path):
    train = script(tmp_path, "print(1)\n")
    resolved = check_command(
        ["python3", "-u", "-X", "dev", "train.py", "--lr", "0.1"], cwd=tmp_path
    )
    assert os.path.basename(resolved.program).startswith("python") and resolved.script == str(
        train
    )
    assert check_command([PY, "-c", "pass"]).script is None
    assert check_command([PY, "-m", "lrsweep"]).script is None


def test_a_missing_program_is_one_line_with_the_os_error(tmp_path):
    with pytest.raises(SpecError) as e:
        check_command(["pyhton", "train.py"], env={"PATH": "/usr/bin:/bin"})
    assert str(e.value) == (
        "trainer.command: cannot run 'pyhton train.py': 'pyhton' is not on PATH (/usr/bin:/bin)"
    )
    with pytest.raises(SpecError, match=r"cannot run './train.py': \[Errno 2\] No such file"):
        check_command(["./train.py"], cwd=tmp_path)
    out = run_command(["pyhton", "train.py"], cwd=tmp_path, **FAST)
    assert out.error == "[Errno 2] No such file or directory" and not out.ok
    assert out.describe() == "could not start pyhton: [Errno 2] No such file or directory"


def test_a_missing_script_or_cwd_is_found_before_a_run(tmp_path):
    with pytest.raises(SpecError, match=r"cannot run 'python3 trian.py': the script: \[Errno 2\]"):
        check_command(["python3", "trian.py"], cwd=tmp_path)
    with pytest.raises(SpecError, match=r"\[Errno 2\] No such file or directory: '.*/nowhere'"):
        check_command([PY, "-c", "pass"], cwd=tmp_path / "nowhere")
    out = run_command([PY, "-c", "pass"], cwd=tmp_path / "nowhere")
    assert out.error is not None and "No such file" in out.error


def test_a_script_that_is_not_executable_says_so(tmp_path):
    train = script(tmp_path, "#!/bin/sh\necho hi\n", name="train.sh")
    train.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(
        SpecError, match=r"cannot run './train.sh': \[Errno 13\] Permission denied.*chmod"
    ):
        check_command(["./train.sh"], cwd=tmp_path)
    out = run_command(["./train.sh"], cwd=tmp_path, **FAST)
    assert out.error is not None and "Permission denied" in out.error


def test_a_missing_interpreter_or_shebang_is_found(tmp_path):
    train = script(tmp_path, "#!/usr/bin/env python9.9\nprint(1)\n")
    train.chmod(0o755)
    with pytest.raises(SpecError, match=r"'python9.9' is not on PATH"):
        check_command(["./train.py"], cwd=tmp_path)
    train.write_text("#!/opt/nowhere/python\nprint(1)\n")
    with pytest.raises(SpecError, match=r"its interpreter: \[Errno 2\].*/opt/nowhere/python"):
        check_command(["./train.py"], cwd=tmp_path)
    train.write_text("print(1)\n")
    with pytest.raises(SpecError, match=r"Exec format error.*without a #! line"):
        check_command(["./train.py"], cwd=tmp_path)


def test_describe_covers_every_ending():
    argv = ("python", "train.py")
    assert (
        Outcome(argv, signal=signal.SIGSEGV).describe()
        == "killed by SIGSEGV: a crash in native code"
    )
    assert Outcome(argv, signal=signal.SIGUSR1).describe() == "killed by SIGUSR1"
    assert Outcome(argv, exit_code=2).describe() == "exit code 2"
    assert (
        Outcome(argv, timed_out=True, timeout=1800.0, signal=15).describe()
        == "timed out after 1800 s"
    )
    assert Outcome(argv, stopped="pruned", exit_code=0).describe() == "stopped: pruned"


# -- the command template ------------------------------------------------------------------------


def test_placeholders_are_filled_after_splitting():
    template = 'python train.py --lr {lr} --tag "run {seed}" --bs {batch_size} --x {lr:.2e} {{x}}'
    assert placeholders(template) == ["lr", "seed", "batch_size"]
    argv = fill_command(template, {"lr": 1e-05, "seed": 2, "batch_size": "32; rm -rf $HOME"})
    assert argv == [
        "python", "train.py", "--lr", "1e-05", "--tag", "run 2",
        "--bs", "32; rm -rf $HOME", "--x", "1.00e-05", "{x}",
    ]  # fmt: skip
    as_list = ["python", "train.py", "--lr={lr}", "--out", "{run_dir}/m.csv"]
    assert fill_command(as_list, {"lr": 0.1, "run_dir": "/r a"}) == [
        "python", "train.py", "--lr=0.1", "--out", "/r a/m.csv",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("--lr {lrate}", r"unknown placeholder \{lrate\} \(known: \{lr\}, \{seed\}\)$"),
        ("--lr {lr} --s {sede}", r"unknown placeholder \{sede\} .*; did you mean 'seed'\?$"),
        ("--lr {lr!r}", r"\{lr!r\}: write \{lr\}, no '!'"),
        ("--lr {lr", r"expected '\}' before end of string in '\{lr'"),
        ("--lr {lr:q}", r"\{lr:q\}: Unknown format code 'q'"),
    ],
)
def test_a_bad_placeholder_is_one_line(template, message):
    with pytest.raises(SpecError, match=r"^trainer\.command: " + message):
        fill_command(template, {"lr": 0.1, "seed": 0})
