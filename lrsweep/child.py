"""Run one user command as a supervised child process, and check a command before it runs.

A user's training script is code lrsweep did not write: it may crash, hang, ignore SIGTERM,
flood its output, spawn workers, or outlive a driver that was killed. `run_command` gives each
run these guarantees (``BAD_INPUTS.md``, "a user's own training script"):

- the command is an argv list, never run through a shell; stdin is ``/dev/null``;
- it runs under a tiny supervisor (``python -I -S -c``), the leader of a new session and
  process group, so the script, its children and theirs share one group;
- stdout and stderr are drained as they come, keeping only their last ``tail_bytes`` each;
- a ``poll`` callback runs every ``poll_interval`` seconds and may stop the run (divergence,
  pruning), as may a ``threading.Event`` (Ctrl-C) or the ``timeout``;
- stopping is SIGTERM to the whole group, then SIGKILL after ``grace`` seconds;
- when the script exits, what it left behind in its group is terminated too;
- when the driver dies, even by SIGKILL, the supervisor sees its pipe close and terminates
  the group (then kills it after the grace): no worker outlives the sweep.

The outcome says how the run ended (`Outcome.describe`: ``killed by SIGKILL: out of
memory?``). `check_command` finds the program like the OS will, before any run is planned.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import shlex
import signal
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lrsweep.errors import SpecError, did_you_mean, shorten

TAIL_BYTES = 64 * 1024  # kept of each of stdout and stderr
POLL_INTERVAL = 0.15  # seconds between two calls of the poll callback
GRACE = 3.0  # seconds between SIGTERM and SIGKILL

# The supervisor: argv = alive_fd status_fd grace command... It spawns the command in its own
# group and, on Linux, adopts what the command orphans (PR_SET_CHILD_SUBREAPER), so it can tell
# when the last of them is gone. When the command ends it writes "exit N" / "signal N" (or
# "error ERRNO TEXT" when it could not start) to status_fd, sends SIGTERM to the group, and
# exits once no child is left, or kills the group after the grace. The driver holds the write
# end of alive_fd: when the driver dies (even by SIGKILL), the supervisor reads EOF there and
# terminates the group, then kills it after the grace. A SIGTERM to the group is for the
# script: the supervisor stays to report its status (the driver's SIGKILL ends it if needed).
_SUPERVISOR = """\
import os, select, signal, sys, time
alive, status, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
command = sys.argv[4:]
os.set_inheritable(alive, False)
os.set_inheritable(status, False)
def tell(text):
    try:
        os.write(status, text.encode())
    except OSError:
        pass
def end_group(kill_at):
    os.killpg(0, signal.SIGTERM)
    return min(kill_at or float("inf"), time.monotonic() + grace)
wake, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *a: None)
signal.signal(signal.SIGTERM, lambda *a: None)
try:
    pid = os.posix_spawnp(command[0], command, os.environ,
                          setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
except OSError as e:
    tell("error %d %s" % (e.errno or 0, e.strerror or e))
    os._exit(0)
try:  # after the spawn: the script starts while this loads
    import ctypes
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
watch, kill_at = [alive, wake], None
while True:
    wait = None if kill_at is None else max(kill_at - time.monotonic(), 0)
    ready = select.select(watch, [], [], wait)[0]
    if wake in ready:
        os.read(wake, 4096)
    try:
        while True:
            child, code = os.waitpid(-1, os.WNOHANG)
            if child == 0:
                break
            if child == pid:
                if os.WIFSIGNALED(code):
                    tell("signal %d" % os.WTERMSIG(code))
                else:
                    tell("exit %d" % os.waitstatus_to_exitcode(code))
                kill_at = end_group(kill_at)
    except ChildProcessError:
        break
    if alive in ready and not os.read(alive, 1):
        watch.remove(alive)
        kill_at = end_group(kill_at)
    if kill_at is not None and time.monotonic() >= kill_at:
        os.killpg(0, signal.SIGKILL)
os._exit(0)
"""

# Why a signal may have ended a script, said after its name.
SIGNAL_HINTS = {
    "SIGKILL": "out of memory?",
    "SIGSEGV": "a crash in native code",
    "SIGBUS": "a crash in native code (or a file it mapped changed)",
    "SIGABRT": "aborted (a failed assertion in native code?)",
    "SIGILL": "an instruction this CPU lacks (a library built for another CPU?)",
    "SIGFPE": "an arithmetic error in native code",
    "SIGXCPU": "over its CPU time limit (ulimit -t)",
    "SIGXFSZ": "over its file size limit (ulimit -f)",
    "SIGTERM": "terminated by another process",
    "SIGINT": "interrupted by another process",
}


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9; ``signal 99`` for a number this OS does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass(frozen=True)
class Outcome:
    """How one run of a command ended, and the last of what it wrote."""

    argv: tuple[str, ...]
    exit_code: int | None = None  # its exit status, when it exited
    signal: int | None = None  # the signal that ended it, when a signal did
    timed_out: bool = False  # ended by lrsweep at `timeout`
    stopped: str | None = None  # why the caller ended it (the poll's reason, "interrupted")
    error: str | None = None  # why it could not start (the OS error)
    timeout: float | None = None  # the limit it ran under, in seconds
    seconds: float = 0.0  # wall time from start to the end of its process group
    stdout: bytes = b""  # the last TAIL_BYTES of each stream
    stderr: bytes = b""
    stdout_bytes: int = 0  # all it wrote to each stream
    stderr_bytes: int = 0

    @property
    def ok(self) -> bool:
        """It exited by itself with status 0."""
        return self.exit_code == 0 and not self.timed_out and self.stopped is None

    def describe(self) -> str:
        """One line: ``exit code 1``, ``killed by SIGKILL: out of memory?``, ``timed out ...``."""
        if self.error is not None:
            return f"could not start {shorten(self.argv[0] if self.argv else '')}: {self.error}"
        if self.timed_out:
            return f"timed out after {self.timeout:g} s"
        if self.stopped is not None:
            return f"stopped: {self.stopped}"
        if self.signal is not None:
            name = signal_name(self.signal)
            hint = SIGNAL_HINTS.get(name)
            return f"killed by {name}: {hint}" if hint else f"killed by {name}"
        if self.exit_code is not None and self.exit_code > 128:  # a shell's 128 + signal
            name = signal_name(self.exit_code - 128)
            hint = SIGNAL_HINTS.get(name)
            more = (
                f" (128 + {name}{': ' + hint if hint else ''})" if name.startswith("SIG") else ""
            )
            return f"exit code {self.exit_code}{more}"
        if self.exit_code is not None:
            return f"exit code {self.exit_code}"
        return "ended without an exit status"

    def last_lines(self, n: int = 5, stream: str = "stderr") -> list[str]:
        """The last ``n`` non-empty lines of ``stream``'s tail, decoded (bad bytes replaced)."""
        data = self.stderr if stream == "stderr" else self.stdout
        text = data.decode("utf-8", errors="replace").replace("\r", "\n")
        return [line for line in text.splitlines() if line.strip()][-n:]


class _Tail:
    """The last ``limit`` bytes of a stream, and how many it wrote in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * self.limit:  # trim now and then, not at every chunk
            del self.data[: -self.limit]

    def value(self) -> bytes:
        return bytes(self.data[-self.limit :]) if self.limit else b""


def run_command(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    poll: Callable[[], str | None] | None = None,
    poll_interval: float = POLL_INTERVAL,
    stop: threading.Event | None = None,
    grace: float = GRACE,
    tail_bytes: int = TAIL_BYTES,
) -> Outcome:
    """Run ``argv`` to its end under the guarantees of the module docstring.

    Parameters
    ----------
    argv
        The command, program first; found on the PATH of the run's environment.
    cwd
        Its working directory (a relative program path is relative to it, as for exec).
    env
        Variables added to (or replacing those of) this process's environment.
    timeout
        Seconds before the run is ended as timed out; None: no limit.
    poll
        Called every ``poll_interval`` seconds while the run lasts; a string it returns
        (a reason: ``"diverged"``) ends the run as stopped for that reason.
    stop
        When set, the run ends as stopped, reason ``"interrupted"``.
    grace
        Seconds between SIGTERM to the run's process group and SIGKILL.
    tail_bytes
        How much of the end of stdout and of stderr to keep.

    An exception in ``poll`` (or a KeyboardInterrupt) kills the group and is raised.
    """
    command = tuple(os.fspath(a) for a in argv)
    started = time.monotonic()
    full_env = {**os.environ, **(env or {})}
    alive_r, alive_w = os.pipe()
    status_r, status_w = os.pipe()
    supervisor = [sys.executable, "-I", "-S", "-c", _SUPERVISOR, str(alive_r), str(status_w)]
    try:
        proc = subprocess.Popen(
            [*supervisor, repr(grace), *command],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=(alive_r, status_w),
        )
    except OSError as e:
        for fd in (alive_r, alive_w, status_r, status_w):
            os.close(fd)
        return Outcome(command, error=str(e), timeout=timeout)
    os.close(alive_r)
    os.close(status_w)
    assert proc.stdout is not None and proc.stderr is not None
    out, err, status = _Tail(tail_bytes), _Tail(tail_bytes), _Tail(4096)
    streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err, status_r: status}
    group = proc.pid  # the supervisor leads its group
    watch = _Watch(group, started, timeout, poll, poll_interval, stop, grace)
    try:
        while status_r in streams:  # until the supervisor ends (its status pipe closes)
            watch.tick()
            _drain(streams, watch.wait())
        proc.wait()
        while streams and _drain(streams, 0):
            pass  # what is left in the pipes; never wait for a process that left the group
    except BaseException:
        _signal_group(group, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        os.close(alive_w)  # the supervisor, if still there, reads EOF: the driver is gone
        os.close(status_r)
        proc.stdout.close()
        proc.stderr.close()
    return _outcome(command, status.value(), proc.returncode, watch.timed_out, watch.stopped,
                    timeout, time.monotonic() - started, out, err)  # fmt: skip


class _Watch:
    """When a child's run ends early, decided in one place for a command and a forked
    function: its deadline (``timed_out``), the stop event (``"interrupted"``) or a reason
    from ``poll`` (``stopped``); then SIGTERM to its group and, ``grace`` seconds later,
    SIGKILL."""

    def __init__(
        self,
        group: int,
        started: float,
        timeout: float | None,
        poll: Callable[[], str | None] | None,
        poll_interval: float,
        stop: threading.Event | None,
        grace: float,
    ) -> None:
        self.group, self.poll, self.poll_interval = group, poll, poll_interval
        self.stop, self.grace = stop, grace
        self.deadline = started + timeout if timeout is not None else None
        self.next_poll = started + poll_interval
        self.kill_at: float | None = None
        self.timed_out = False
        self.stopped: str | None = None

    def tick(self) -> None:
        """Look at the clock, the stop event and (when due) the poll; signal the group."""
        now = time.monotonic()
        if self.kill_at is None:
            reason = None
            if self.deadline is not None and now >= self.deadline:
                self.timed_out = True
            elif self.stop is not None and self.stop.is_set():
                reason = "interrupted"
            elif self.poll is not None and now >= self.next_poll:
                reason = self.poll()
                self.next_poll = time.monotonic() + self.poll_interval
            if self.timed_out or reason:
                self.stopped = None if self.timed_out else reason
                _signal_group(self.group, signal.SIGTERM)
                self.kill_at = time.monotonic() + self.grace
        elif now >= self.kill_at:
            _signal_group(self.group, signal.SIGKILL)
            self.kill_at = float("inf")

    def wait(self) -> float:
        """Seconds until the next thing to look at (the stop event: every 0.1 s)."""
        now = time.monotonic()
        wake = [now + 0.1]
        due = (self.next_poll if self.poll else None, self.deadline, self.kill_at)
        wake += [t for t in due if t is not None]
        return max(min(wake) - now, 0.0)


def _drain(streams: dict[int, _Tail], wait: float) -> bool:
    """Read what is ready within ``wait`` seconds, dropping a stream at its end; False if none.

    ``poll`` rather than ``select``: a driver running many runs may hold fds past 1024.
    """
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    ready = poller.poll(wait * 1000)
    for fd, _ in ready:
        chunk = os.read(fd, 65536)
        if chunk:
            streams[fd].add(chunk)
        else:
            del streams[fd]
    return bool(ready)


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to the process group; False when nothing is left in it."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed its credentials (setuid): not ours to signal
        return True
    return True


def _outcome(
    command: tuple[str, ...],
    status: bytes,
    returncode: int,
    timed_out: bool,
    stopped: str | None,
    timeout: float | None,
    seconds: float,
    out: _Tail,
    err: _Tail,
) -> Outcome:
    word, _, rest = status.decode("ascii", errors="replace").partition(" ")
    exit_code = signal_number = error = None
    if word == "exit":
        exit_code = int(rest)
    elif word == "signal":
        signal_number = int(rest)
    elif word == "error":
        number, _, text = rest.partition(" ")
        error = f"[Errno {number}] {text}"
    elif returncode < 0:  # the supervisor itself was killed before it could report
        signal_number = -returncode
    else:
        error = f"the supervisor ended with status {returncode}"
    return Outcome(
        command,
        exit_code=exit_code,
        signal=signal_number,
        timed_out=timed_out,
        stopped=stopped,
        error=error,
        timeout=timeout,
        seconds=seconds,
        stdout=out.value(),
        stderr=err.value(),
        stdout_bytes=out.total,
        stderr_bytes=err.total,
    )


def run_function(
    target: Callable[[], object],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    poll: Callable[[], str | None] | None = None,
    poll_interval: float = POLL_INTERVAL,
    stop: threading.Event | None = None,
    grace: float = GRACE,
    tail_bytes: int = TAIL_BYTES,
) -> Outcome:
    """Run ``target()`` in a forked child under `run_command`'s guarantees (its own session
    and group, stdin closed, bounded output tails, the poll, the stop, the timeout, SIGTERM
    then SIGKILL, the group ended when the driver dies).

    For a Python function that cannot be named to a fresh interpreter (a notebook's): the
    child is a fork of this process, ``env`` added to its environment; it exits 0 when
    ``target`` returns, 1 with the traceback on its stderr when it raises. POSIX only.
    """
    started = time.monotonic()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os._exit(_forked(target, env or {}, out_w, err_w, alive_r, (out_r, err_r, alive_w)))
    for fd in (out_w, err_w, alive_r):
        os.close(fd)
    out, err = _Tail(tail_bytes), _Tail(tail_bytes)
    streams = {out_r: out, err_r: err}
    watch = _Watch(pid, started, timeout, poll, poll_interval, stop, grace)
    code = None
    try:
        while code is None:
            watch.tick()
            if streams:
                _drain(streams, 0.05)
            else:
                time.sleep(0.02)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                code = status
        _signal_group(pid, signal.SIGKILL)  # what it left in its group ends with it
        while streams and _drain(streams, 0):
            pass
    except BaseException:
        _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise
    finally:
        for fd in (out_r, err_r, alive_w):
            with contextlib.suppress(OSError):
                os.close(fd)
    exit_code = signal_number = None
    if os.WIFSIGNALED(code):
        signal_number = os.WTERMSIG(code)
    else:
        exit_code = os.waitstatus_to_exitcode(code)
    return Outcome(
        (getattr(target, "__qualname__", "<function>"),),
        exit_code=exit_code, signal=signal_number, timed_out=watch.timed_out,
        stopped=watch.stopped, timeout=timeout, seconds=time.monotonic() - started,
        stdout=out.value(),
        stderr=err.value(), stdout_bytes=out.total, stderr_bytes=err.total,
    )  # fmt: skip


def _forked(
    target: Callable[[], object],
    env: Mapping[str, str],
    out_w: int,
    err_w: int,
    alive_r: int,
    others: Sequence[int],
) -> int:
    """In `run_function`'s child: become a session, wire the streams, watch the driver (its
    end of ``alive_r`` closes when it dies), run ``target``; the exit status."""
    code = 1
    try:
        os.setsid()
        for fd in others:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (devnull, out_w, err_w):
            os.close(fd)
        # the parent's streams may not be its fds (a notebook's, pytest's capture)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        os.environ.update(env)
        threading.Thread(target=_die_with_driver, args=(alive_r,), daemon=True).start()
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
    return code


def _die_with_driver(alive_r: int) -> None:
    """In a forked child: end its whole group once the driver's end of the pipe closes."""
    with contextlib.suppress(OSError):
        while os.read(alive_r, 1):
            pass
    os.killpg(0, signal.SIGKILL)


# -- the command template ----------------------------------------------------------------------


def split_command(command: str | Sequence[str]) -> list[str]:
    """The argv of a spec's ``command``: a string split as a shell would (never run by one)."""
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def _parse(part: str, where: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(string.Formatter().parse(part))
    except ValueError as e:  # a lone brace
        raise SpecError(f"{where}: {e} in {shorten(repr(part))}") from None


def placeholders(command: str | Sequence[str], where: str = "trainer.command") -> list[str]:
    """The ``{name}`` placeholders of a command template, in order, each once."""
    names: dict[str, None] = {}
    for part in split_command(command):
        names.update((name, None) for _, name, _, _ in _parse(part, where) if name is not None)
    return list(names)


def fill_command(
    command: str | Sequence[str], values: Mapping[str, object], where: str = "trainer.command"
) -> list[str]:
    """The argv of one run: the template split first, then each ``{name}`` filled in.

    Splitting first keeps a value with spaces or shell characters one argument. A value is
    written with ``str`` (a float as its shortest round-trip repr: ``0.001``, ``1e-05``), or
    with a format spec given in the template (``{lr:.3g}``); ``{{`` and ``}}`` are braces.

    Raises
    ------
    SpecError
        An unknown or malformed placeholder, naming the known ones.
    """
    argv = []
    for part in split_command(command):
        out = []
        for text, name, spec, conversion in _parse(part, where):
            out.append(text)
            if name is None:
                continue
            if conversion:
                raise SpecError(f"{where}: {{{name}!{conversion}}}: write {{{name}}}, no '!'")
            if name not in values:
                known = ", ".join("{" + k + "}" for k in values)
                hint = did_you_mean(name, list(values))
                hint = f"; {hint}" if hint.startswith("did you mean") else ""
                raise SpecError(
                    f"{where}: unknown placeholder {{{shorten(name)}}} (known: {known}){hint}"
                )
            try:
                out.append(format(values[name], spec) if spec else str(values[name]))
            except ValueError as e:
                raise SpecError(f"{where}: {{{name}:{spec}}}: {e}") from None
        argv.append("".join(out))
    return argv


# -- before any run: can the command start at all? --------------------------------------------


class Resolved(NamedTuple):
    """Where a command's program is, and the script file it runs (for its content hash)."""

    program: str  # the absolute path exec will run
    script: str | None  # `python train.py`'s train.py, or a `#!` program; None for a binary


_PYTHON = re.compile(r"python[0-9.]*$")
_BINARY_MAGIC = (
    b"\x7fELF",
    b"\xfe\xed\xfa",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe",
)


def check_command(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    where: str = "trainer.command",
) -> Resolved:
    """Check that ``argv`` can start, finding its program as exec will (PATH of ``env``).

    Also checks the ``#!`` interpreter of a script program, and for a Python interpreter the
    script file it is given (``python train.py``). ``env`` is added to this process's
    environment, as `run_command` does.

    Raises
    ------
    SpecError
        One line: ``{where}: cannot run 'python3x train.py': 'python3x' is not on PATH``.
    """
    command = [os.fspath(a) for a in argv]
    quoted = shorten(shlex.join(command), 80)

    def fail(reason: str) -> SpecError:
        return SpecError(f"{where}: cannot run {quoted!r}: {reason}")

    if not command or not command[0]:
        raise SpecError(f"{where}: the command is empty")
    base = os.path.abspath(os.fspath(cwd) if cwd is not None else os.getcwd())
    if not os.path.isdir(base):
        raise fail(_os_error(errno.ENOENT if not os.path.exists(base) else errno.ENOTDIR, base))
    path_var = {**os.environ, **(env or {})}.get("PATH", os.defpath)
    program = _find_program(command[0], base, path_var, fail)
    _check_interpreter(program, base, path_var, fail)
    if _PYTHON.match(os.path.basename(command[0])):
        return Resolved(program, _python_script(command[1:], base, fail))
    return Resolved(program, program if _read_head(program).startswith(b"#!") else None)


def _os_error(code: int, path: str) -> str:
    return str(OSError(code, os.strerror(code), path))


def _find_program(name: str, base: str, path_var: str, fail: Callable[[str], SpecError]) -> str:
    """The file exec runs for ``name``: a path (relative to ``base``) or a PATH search."""
    if "/" in name:
        candidate = os.path.join(base, name)
        problem = _not_runnable(candidate)
        if problem:
            raise fail(problem)
        return os.path.normpath(candidate)
    denied = None
    for folder in path_var.split(os.pathsep):
        candidate = os.path.join(base, folder or ".", name)
        problem = _not_runnable(candidate)
        if problem is None:
            return os.path.normpath(candidate)
        if os.path.exists(candidate) and denied is None:
            denied = problem  # exec goes on searching, then reports this one
    raise fail(denied or f"{name!r} is not on PATH ({shorten(path_var, 120)})")


def _not_runnable(path: str) -> str | None:
    """Why exec cannot run the file at ``path``, or None."""
    if not os.path.exists(path):
        return _os_error(errno.ENOENT, path)
    if os.path.isdir(path):
        return _os_error(errno.EACCES, path) + " (a directory)"
    if not os.access(path, os.X_OK):
        return (
            _os_error(errno.EACCES, path) + " (not executable: chmod +x, or run its interpreter)"
        )
    return None


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(256)
    except OSError:
        return b""  # exec may still run a file we cannot read (execute-only)


def _check_interpreter(
    program: str, base: str, path_var: str, fail: Callable[[str], SpecError]
) -> None:
    """A ``#!`` script's interpreter must exist (``#!/usr/bin/env NAME``: NAME on PATH)."""
    head = _read_head(program)
    if not head or head.startswith(_BINARY_MAGIC):
        return
    if not head.startswith(b"#!"):
        raise fail(f"{_os_error(errno.ENOEXEC, program)} (a script without a #! line?)")
    words = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
    if not words:
        raise fail(f"{program}: its #! line names no interpreter")
    problem = _not_runnable(words[0])
    if problem:
        raise fail(f"its interpreter: {problem}")
    if os.path.basename(words[0]) == "env":
        names = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if names:
            _find_program(names[0], base, path_var, fail)


def _python_script(args: Sequence[str], base: str, fail: Callable[[str], SpecError]) -> str | None:
    """The script file of ``python [options] script.py ...``: it must exist."""
    takes_value = {"-W", "-X", "--check-hash-based-pycs"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-" or (arg.startswith(("-c", "-m")) and not arg.startswith("--")):
            return None  # code or a module, not a file
        if arg.startswith("-"):
            i += 2 if arg in takes_value else 1
            continue
        path = os.path.join(base, arg)
        if not os.path.isfile(path):
            code = errno.ENOENT if not os.path.exists(path) else errno.EISDIR
            raise fail(f"the script: {_os_error(code, path)}")
        return os.path.normpath(path)
    return None
