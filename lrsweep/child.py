"""Run one user command as a supervised child: code lrsweep did not write, under guarantees.

`run_child` starts the command (an argv list, never a shell) with stdin closed, in a session
and process group of its own, led by a tiny supervisor (``python -S``, a few ms) that
- runs the command and reports its exit status on a pipe of its own;
- when the command exits, ends whatever the command left behind in its group (data loaders,
  shells): SIGTERM, then SIGKILL after the grace;
- when its parent dies (the driver killed with SIGKILL, a worker process killed), ends the
  whole group within a fraction of a second: nothing outlives the sweep.
The caller reads stdout and stderr as bounded tails (never whole in memory), polls a callback
about every ``poll_seconds`` (to read metrics and decide to stop the run), honours a stop event
(Ctrl-C) and a timeout; a stop is SIGTERM to the group, then SIGKILL after ``grace`` seconds.

Stdlib only; nothing here knows about sweeps, specs or metrics.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TAIL_BYTES = 64 * 1024  # kept of each of stdout and stderr: the end, where errors are
SUPERVISOR_POLL = 0.2  # seconds between the supervisor's looks at its parent (a dead driver)

# The supervisor: argv[1] is the status pipe's fd, argv[2] the grace, the rest the command.
SUPERVISOR = r"""
import os, signal, sys, time
status, grace, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
parent, me = os.getppid(), os.getpid()
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stop of the group is for the command
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])  # waited for below, not handled
pid = os.fork()
if pid == 0:
    os.close(status)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("lrsweep: cannot run %r: %s\n" % (argv[0], e.strerror)).encode())
        os._exit(127)
def others():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == me and fields[0] != b"Z":
                found.append(int(name))
    return found
result = None
while result is None:
    done, code = os.waitpid(pid, os.WNOHANG)
    if done == pid:
        result = ("signal %d" % os.WTERMSIG(code)) if os.WIFSIGNALED(code) else (
            "exit %d" % os.WEXITSTATUS(code))
    elif os.getppid() != parent:  # the driver died: take the group down with it
        os.killpg(0, signal.SIGKILL)
    else:
        signal.sigtimedwait([signal.SIGCHLD], POLL)  # wakes at once when the command exits
os.write(status, (result + "\n").encode())
os.close(status)
left = others() if os.path.isdir("/proc") else []
if left:  # what the command left running in its group: SIGTERM, SIGKILL after the grace
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = others()
    for other in left:
        try:
            os.kill(other, signal.SIGKILL)
        except OSError:
            pass
""".replace("POLL", str(SUPERVISOR_POLL))


@dataclass
class Outcome:
    """How a child ended."""

    returncode: int | None = None  # its exit code, when it exited
    signal: int | None = None  # the signal that killed it, when one did
    timed_out: bool = False  # ran past the timeout and was stopped
    stopped: str = ""  # why the caller stopped it ("" when it ended on its own)
    seconds: float = 0.0
    stdout_tail: bytes = b""
    stderr_tail: bytes = b""
    start_error: str = ""  # it could not be started at all
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Exited with code 0 on its own."""
        return self.returncode == 0 and not self.timed_out and not self.stopped

    def describe(self, timeout: float | None = None) -> str:
        """How it ended in a few words: ``exited with code 1``, ``killed by SIGKILL (out of
        memory?)``, ``timed out after 30m``."""
        if self.start_error:
            return self.start_error
        if self.timed_out:
            return f"timed out after {duration_text(timeout)}" if timeout else "timed out"
        if self.stopped:
            return f"stopped: {self.stopped}"
        if self.signal is not None:
            name = signal_name(self.signal)
            hint = " (out of memory? the OS's OOM killer sends it)" if name == "SIGKILL" else ""
            return f"killed by {name}{hint}"
        if self.returncode == 127:
            return "exited with code 127 (the program could not be run)"
        return f"exited with code {self.returncode}"

    def last_lines(self, n: int = 3, limit: int = 300) -> str:
        """The last ``n`` non-empty lines of stderr (else stdout), joined with `` | ``."""
        for tail in (self.stderr_tail, self.stdout_tail):
            text = tail.decode("utf-8", errors="replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                joined = " | ".join(lines[-n:])
                return joined if len(joined) <= limit else "…" + joined[-limit:]
        return ""


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class _Tail:
    """The last ``limit`` bytes of a stream, drained by a thread."""

    def __init__(self, stream: object, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream: object) -> None:
        read = stream.read1 if hasattr(stream, "read1") else stream.read  # type: ignore[attr-defined]
        while True:
            try:
                chunk = read(65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.total += len(chunk)
            self.data += chunk
            if len(self.data) > 2 * self.limit:
                del self.data[: len(self.data) - self.limit]

    def value(self) -> bytes:
        return bytes(self.data[-self.limit :])


def resolve_program(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> str:
    """The program ``argv[0]`` names, as the OS will find it (a path relative to ``cwd``, or
    on ``PATH``), or an error sentence naming it and the OS's reason ("" when it can run)."""
    program = argv[0]
    if os.sep in program:
        path = Path(program) if Path(program).is_absolute() else Path(cwd) / program
        if not path.exists():
            return f"{program}: no such file (looked in {cwd})"
        if path.is_dir():
            return f"{program}: is a folder, not a program"
        if not os.access(path, os.X_OK):
            return f"{program}: not executable (chmod +x it, or run it with its interpreter)"
        return ""
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        return f"{program}: not found on PATH"
    return ""


def run_child(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None = None,
    poll: Callable[[], str] | None = None,
    stop: threading.Event | None = None,
    poll_seconds: float = 0.1,
    grace: float = 5.0,
    tail_bytes: int = TAIL_BYTES,
) -> Outcome:
    """Run ``argv`` supervised (see the module docstring) and return how it ended.

    ``poll()`` is called about every ``poll_seconds`` while it runs, and once more after it
    ends; a non-empty return is a reason to stop it (the run diverged, was pruned). ``stop``
    set (the sweep stopping): the child is stopped the same way. Any exception in this thread
    (Ctrl-C included) stops the child's whole group before it goes on.
    """
    read_status, write_status = os.pipe()
    try:
        supervisor = [sys.executable, "-S", "-E", "-c", SUPERVISOR, str(write_status)]
        proc = subprocess.Popen(
            [*supervisor, str(grace), *argv],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=(write_status,),
        )
    except OSError as e:
        os.close(read_status)
        os.close(write_status)
        return Outcome(start_error=f"cannot start: {e.strerror or e}")
    os.close(write_status)
    out, err = _Tail(proc.stdout, tail_bytes), _Tail(proc.stderr, tail_bytes)
    return _supervise(
        proc, out, err, lambda: _read_status(read_status), timeout, poll, stop, poll_seconds,
        grace,
    )  # fmt: skip


def run_function(
    target: Callable[[], object],
    *,
    env: Mapping[str, str],
    timeout: float | None = None,
    poll: Callable[[], str] | None = None,
    stop: threading.Event | None = None,
    poll_seconds: float = 0.1,
    grace: float = 5.0,
    tail_bytes: int = TAIL_BYTES,
) -> Outcome:
    """Run ``target()`` in a forked child under the guarantees of `run_child` (its own
    session, bounded output tails, a poll, a stop, a timeout, dying with its parent).

    For a Python function that cannot be named to a fresh interpreter (a notebook's): the
    child is a fork of this process, with ``env`` added to its environment; it exits 0 when
    ``target`` returns, 1 with the traceback on stderr when it raises. POSIX only.
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (devnull, out_r, out_w, err_r, err_w):
                os.close(fd)
            # the parent's streams may not be its fds (a notebook's, pytest's capture)
            sys.stdout = open(1, "w", buffering=1, closefd=False)
            sys.stderr = open(2, "w", buffering=1, closefd=False)
            os.environ.update(env)
            threading.Thread(target=_die_with, args=(parent,), daemon=True).start()
            target()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    proc = _Forked(pid)
    out = _Tail(os.fdopen(out_r, "rb", buffering=0), tail_bytes)
    err = _Tail(os.fdopen(err_r, "rb", buffering=0), tail_bytes)
    return _supervise(proc, out, err, proc.status, timeout, poll, stop, poll_seconds, grace)


def _die_with(parent: int) -> None:
    """In a forked child: end its whole group when its parent dies."""
    while os.getppid() == parent:
        time.sleep(SUPERVISOR_POLL)
    os.killpg(0, signal.SIGKILL)


class _ExitWatch:
    """Waits for a child's exit without polling: a pidfd (Linux) wakes the wait the moment it
    exits; elsewhere a plain sleep of the poll interval."""

    def __init__(self, pid: int) -> None:
        self.fd = -1
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]

    def wait(self, seconds: float) -> None:
        if self.fd < 0:
            time.sleep(seconds)
            return
        import select

        select.select([self.fd], [], [], seconds)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


class _Forked:
    """A forked child as much of `subprocess.Popen` as `_supervise` uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            done, code = os.waitpid(self.pid, os.WNOHANG)
            if done == self.pid:
                self.returncode = -os.WTERMSIG(code) if os.WIFSIGNALED(code) else (
                    os.WEXITSTATUS(code)
                )  # fmt: skip
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired("fork", timeout or 0)
            time.sleep(0.01)
        return self.returncode

    def status(self) -> str:
        if self.returncode is None:
            return ""
        return f"signal {-self.returncode}" if self.returncode < 0 else f"exit {self.returncode}"


def _supervise(
    proc: subprocess.Popen[bytes] | _Forked,
    out: _Tail,
    err: _Tail,
    read_status: Callable[[], str],
    timeout: float | None,
    poll: Callable[[], str] | None,
    stop: threading.Event | None,
    poll_seconds: float,
    grace: float,
) -> Outcome:
    """Watch a started child until it ends or is stopped; how it ended."""
    started = time.monotonic()
    outcome = Outcome()
    exited = _ExitWatch(proc.pid)
    try:
        while proc.poll() is None:
            reason = poll() if poll is not None else ""
            if reason:
                outcome.stopped = reason
                break
            if stop is not None and stop.is_set():
                outcome.stopped = "the sweep is stopping"
                break
            if timeout is not None and time.monotonic() - started > timeout:
                outcome.timed_out = True
                break
            exited.wait(poll_seconds)  # returns at once when it exits
        if proc.poll() is None:
            _stop_group(proc, grace)
    except BaseException:
        _stop_group(proc, grace)
        raise
    finally:
        exited.close()
        with contextlib.suppress(Exception):
            proc.wait(timeout=grace + 5)
        status = read_status()
        out.thread.join(timeout=2)
        err.thread.join(timeout=2)
    outcome.seconds = time.monotonic() - started
    outcome.stdout_tail, outcome.stderr_tail = out.value(), err.value()
    outcome.extra = {"stdout_bytes": str(out.total), "stderr_bytes": str(err.total)}
    kind, _, number = status.partition(" ")
    if kind == "exit":
        outcome.returncode = int(number)
    elif kind == "signal":
        outcome.signal = int(number)
    elif not outcome.stopped and not outcome.timed_out:  # the supervisor itself was killed
        code = proc.returncode
        outcome.signal = -code if code is not None and code < 0 else None
        outcome.returncode = None if outcome.signal else code
    if poll is not None and not outcome.stopped:
        poll()  # the last reports, written just before it exited
    return outcome


def _stop_group(proc: subprocess.Popen[bytes] | _Forked, grace: float) -> None:
    """SIGTERM to the child's group; SIGKILL after ``grace`` seconds to what is still alive.

    A killed process stays a zombie until its parent (or init) reaps it, so what is alive is
    read from ``/proc`` (zombies left out) where there is one."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not group_members(proc.pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
        proc.wait(timeout=5)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of group ``pgid``; without ``/proc``, ``[pgid]`` while
    the group can be signalled."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except OSError:
            return []
        return [pgid]
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            found.append(int(name))
    return found


def _read_status(fd: int) -> str:
    """The supervisor's last status line ("exit N", "signal N", "orphaned"), or ""."""
    data = b""
    with contextlib.suppress(OSError):
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
    with contextlib.suppress(OSError):
        os.close(fd)
    lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
