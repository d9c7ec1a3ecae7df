"""Where groups run: in this process, in threads of it, in local worker processes, or on a
dask cluster.

Every executor implements one protocol, :meth:`Executor.map_groups`, which runs a trainer's
`lrsweep.trainer.Work` (a top-level ``fn``, the ``payload`` every worker holds, the driver's
cost hints) over groups and yields ``(group, results)`` as groups complete. The contract:

- result order is unspecified (the driver sorts what it writes);
- with ``on_epoch``, every epoch of a running group is reported as it ends, as
  ``on_epoch(group, epoch, n_active)`` in the caller's thread (serial, threads and local
  processes; a dask cluster reports only finished groups);
- ``work.fn`` must be a picklable top-level function and ``work.payload`` picklable;
- a group whose ``fn`` raises yields ``FAILED`` results carrying the message; other groups go on;
- every group trains with one BLAS thread, wherever it runs: a threaded BLAS product can
  round differently from a single-threaded one (seen on this project's 2-core machines), and a
  run's numbers must not depend on the executor;
- workers never write files: they return results and the driver writes.

Threads, processes and a cluster share one completion loop (`_completions`): submit every
group, wait for the first to finish with a timeout that lets the driver pass on epoch reports,
yield it, repeat.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from lrsweep.errors import Cancelled, ExecutorError, is_interrupt, shorten
from lrsweep.records import Group, RunResult, RunStatus
from lrsweep.work import GroupFn, Where, Work

OnEpoch = Callable[[Group, int, int], None]  # (group, epoch just ended, members still training)
POLL_SECONDS = 0.2  # how often a driver waiting on workers looks for their epoch reports
BLAS_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
MAX_POOL_RESTARTS = 3  # a pool broken more often than this (a group that kills workers) gives up
PARENT_POLL_SECONDS = 0.5  # how often a pool worker checks that its driver is still alive


def failed_results(group: Group, message: str) -> list[RunResult]:
    """One ``FAILED`` result per run of ``group``, carrying ``message``."""
    return [RunResult(run.run_id, RunStatus.FAILED, message=message) for run in group.runs]


def run_group_safely(fn: GroupFn, group: Group, payload: Any, **kwargs: Any) -> list[RunResult]:
    """Call ``fn``; turn an exception into ``FAILED`` results (a failure is data, not a crash).

    `Cancelled` (the executor is stopping the group) is not a failure and propagates.
    """
    try:
        return fn(group, payload, **kwargs)
    except Cancelled:
        raise
    except Exception as e:
        if is_interrupt(e):  # a Ctrl-C that a library wrapped: an interrupt, not a failure
            raise KeyboardInterrupt from e
        last = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{os.path.basename(last.filename)}:{last.lineno}"
        return failed_results(group, f"{type(e).__name__}: {e} (at {where})")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread in this process for the ``with`` block (threadpoolctl), restored after.

    Process-wide: use it around a whole call's groups, never around one group of several
    running at once (a group that ends would restore the limit under the others)."""
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(limits=1, user_api="blas")
    try:
        yield
    finally:
        limits.restore_original_limits()


def _completions(
    futures: dict[Future[Any], Group], poll: float | None, tick: Callable[[bool, int], None]
) -> Iterator[tuple[Group, Future[Any]]]:
    """The completion loop: yield ``(group, future)`` as each future finishes; between
    waits, ``tick(any_done, n_unfinished)`` (pass on epoch reports, watch a cluster)."""
    not_done = set(futures)
    while not_done:
        done, not_done = wait(not_done, timeout=poll, return_when=FIRST_COMPLETED)
        tick(bool(done), len(not_done))
        for future in done:
            yield futures[future], future


class Executor:
    """Runs groups; subclasses decide where."""

    jobs = 1

    def map_groups(
        self, work: Work, groups: Sequence[Group], on_epoch: OnEpoch | None = None
    ) -> Iterator[tuple[Group, list[RunResult]]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers; safe to call twice."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs groups one after another in this process (``--jobs 1``)."""

    def map_groups(
        self, work: Work, groups: Sequence[Group], on_epoch: OnEpoch | None = None
    ) -> Iterator[tuple[Group, list[RunResult]]]:
        if not groups:
            return
        with one_blas_thread():
            for group in groups:
                kwargs = {} if on_epoch is None else {"on_epoch": _reporter(on_epoch, group)}
                yield group, run_group_safely(work.fn, group, work.payload, **kwargs)


def _reporter(on_epoch: OnEpoch, group: Group) -> Callable[[int, int], None]:
    """A trainer's ``on_epoch(epoch, n_active)`` for one group."""
    return lambda epoch, n_active: on_epoch(group, epoch, n_active)


def _drain(
    take: Callable[[], Any], groups: Sequence[Group], on_epoch: OnEpoch | None, call: str = ""
) -> None:
    """Pass on the ``(call, index, epoch, n_active)`` reports queued so far (others' dropped);
    ``take`` returns the next one or raises `queue.Empty`."""
    while True:
        try:
            tag, index, epoch, n_active = take()
        except (queue.Empty, OSError, EOFError, ValueError):
            return
        if on_epoch is not None and tag == call:
            on_epoch(groups[index], epoch, n_active)


def _run_stoppable(
    fn: GroupFn,
    group: Group,
    payload: Any,
    stop: threading.Event,
    report: Callable[[int, int], None] | None = None,
) -> list[RunResult] | None:
    """Run one group in a thread; ``None`` when ``stop`` was set before or during it."""
    if stop.is_set():
        return None
    kwargs: dict[str, Any] = {"stop": stop}
    if report is not None:
        kwargs["on_epoch"] = report
    try:
        return run_group_safely(fn, group, payload, **kwargs)
    except Cancelled:
        return None


class ThreadExecutor(Executor):
    """Runs groups in N threads of this process, each with one BLAS thread.

    For compute-bound groups (see `lrsweep.costs.execution_choice`) and for trainers whose
    groups wait on something else (a user's script in its own process): a BLAS product
    releases the GIL, so the threads multiply in parallel, with no worker processes to start
    and no copy of the payload per worker. ``fn`` must take a ``stop`` keyword, as
    `lrsweep.training.train_group` does: when the caller stops iterating (Ctrl-C in the driver,
    an error), the event is set, every running group raises `Cancelled` at its next step, and
    the threads are joined before the exception goes on. Groups not yet started never start.
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def map_groups(
        self, work: Work, groups: Sequence[Group], on_epoch: OnEpoch | None = None
    ) -> Iterator[tuple[Group, list[RunResult]]]:
        if not groups:
            return
        stop = threading.Event()
        reports: queue.SimpleQueue[tuple[str, int, int, int]] = queue.SimpleQueue()

        def reporter(index: int) -> Callable[[int, int], None] | None:
            if on_epoch is None:
                return None
            return lambda epoch, n_active: reports.put(("", index, epoch, n_active))

        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="lrsweep-group")
        try:
            with one_blas_thread():
                futures = {
                    pool.submit(_run_stoppable, work.fn, g, work.payload, stop, reporter(i)): g
                    for i, g in enumerate(groups)
                }
                poll = None if on_epoch is None else POLL_SECONDS
                tick = lambda *_: _drain(reports.get_nowait, groups, on_epoch)  # noqa: E731
                for group, future in _completions(futures, poll, tick):
                    results = future.result()
                    if results is not None:
                        yield group, results
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)


_WORKER_PAYLOAD: dict[str, Any] = {}  # in a pool worker: the payload its pool was started with
_WORKER_REPORTS: list[Any] = []  # in a pool worker: the queue its epoch reports go to


def _install_payload(token: str, payload: Any, reports: Any = None, driver: int = 0) -> None:
    """Pool initializer: keep the payload for every group this worker will run, and the queue
    that carries its epoch reports to the driver; die with the driver (`die_with_parent`)."""
    if driver:
        die_with_parent(driver)
    warnings.simplefilter("ignore", RuntimeWarning)  # a diverging run is a result, not noise
    _WORKER_PAYLOAD.clear()
    _WORKER_PAYLOAD[token] = payload
    _WORKER_REPORTS[:] = [] if reports is None else [reports]


def die_with_parent(parent: int) -> None:
    """Make this worker process exit within a second of its parent's death, however the
    parent died (a SIGKILLed driver cannot stop its pool, and the workers and the resource
    tracker would live on): a parent-death signal on Linux, and on every system a daemon
    thread that watches the parent pid."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="lrsweep-watch-driver", daemon=True).start()


def _run_installed(
    fn: GroupFn, group: Group, token: str, call: str = "", index: int = -1
) -> list[RunResult]:
    """Run one group in a pool worker on the payload installed at the worker's start; with a
    ``call`` tag, report its epochs as ``(call, index, epoch, n_active)`` on the queue."""
    if not call or not _WORKER_REPORTS:
        return run_group_safely(fn, group, _WORKER_PAYLOAD[token])
    reports = _WORKER_REPORTS[0]

    def report(epoch: int, n_active: int) -> None:
        reports.put((call, index, epoch, n_active))

    return run_group_safely(fn, group, _WORKER_PAYLOAD[token], on_epoch=report)


class ProcessExecutor(Executor):
    """Runs groups in local worker processes, each with one BLAS thread (``--jobs N``).

    Workers are started with ``spawn`` (no fork of a threaded BLAS). The payload goes to each
    worker once, when it starts, not with every group; a later call with another payload
    starts a new pool. A worker that dies (killed, out of memory) breaks the pool: the pool is
    rebuilt and the unfinished groups are submitted again, up to ``MAX_POOL_RESTARTS`` times;
    after that they are recorded ``FAILED``.
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None
        self._reports: Any = None  # the pool's multiprocessing SimpleQueue of epoch reports
        self._source: tuple[Any, str] | None = None  # the payload the workers hold, its token

    @property
    def started(self) -> bool:
        """Whether worker processes are running (a pool kept from an earlier call)."""
        return self._pool is not None

    def _new_pool(self, payload: Any, token: str) -> ProcessPoolExecutor:
        import multiprocessing

        saved = {k: os.environ.get(k) for k in BLAS_THREAD_VARS}
        os.environ.update({k: "1" for k in BLAS_THREAD_VARS})
        context = multiprocessing.get_context("spawn")
        # a SimpleQueue writes to its pipe in put() (no feeder thread), so a group's epoch
        # reports are in the pipe before its result: drained after `wait`, none comes late
        self._reports = context.SimpleQueue()
        try:
            pool = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=context,
                initializer=_install_payload,
                initargs=(token, payload, self._reports, os.getpid()),
            )
            # start every worker now, while the one-thread environment is in place
            for f in [pool.submit(os.getpid) for _ in range(self.jobs)]:
                f.result()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return pool

    def _token(self, payload: Any) -> str:
        """The token of the payload the workers hold; a new one (and a new pool) when the
        payload is another object."""
        if self._source is not None and self._source[0] is payload:
            return self._source[1]
        self._shutdown()
        self._source = (payload, uuid.uuid4().hex)
        return self._source[1]

    def map_groups(
        self, work: Work, groups: Sequence[Group], on_epoch: OnEpoch | None = None
    ) -> Iterator[tuple[Group, list[RunResult]]]:
        if not groups:
            return
        token = self._token(work.payload)
        call = uuid.uuid4().hex if on_epoch is not None else ""  # tags this call's reports
        index_of = {id(g): i for i, g in enumerate(groups)}
        pending = list(groups)
        restarts = 0
        poll = None if on_epoch is None else POLL_SECONDS

        def tick(*_: Any) -> None:
            if self._reports is not None:
                _drain(self._take_report, groups, on_epoch, call)

        while pending:
            if self._pool is None:
                try:
                    self._pool = self._new_pool(work.payload, token)
                except (OSError, BrokenProcessPool) as e:
                    raise ExecutorError(
                        f"cannot start {self.jobs} worker processes: {e}"
                    ) from None
            futures: dict[Future[Any], Group] = {
                self._pool.submit(_run_installed, work.fn, g, token, call, index_of[id(g)]): g
                for g in pending
            }
            pending = []
            for group, future in _completions(futures, poll, tick):
                try:
                    results = future.result()
                except BrokenProcessPool:
                    pending.append(group)
                    continue
                yield group, results
            if pending:  # the pool broke: a worker died
                self._shutdown()
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    message = f"worker process died {restarts} times running this group"
                    for group in pending:
                        yield group, failed_results(group, message)
                    return

    def _shutdown(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._reports is not None:
            with contextlib.suppress(Exception):
                self._reports.close()
            self._reports = None

    def _take_report(self) -> Any:
        if self._reports is None or self._reports.empty():
            raise queue.Empty
        return self._reports.get()

    def close(self) -> None:
        self._shutdown()
        self._source = None


class LocalExecutor(Executor):
    """``--jobs N`` on this machine: this process, N threads of it or a pool of N worker
    processes, whichever the trainer's ``work.where`` expects to finish first (the built-in
    model: `lrsweep.costs.execution_choice`).

    Groups go to the threads or the pool largest first (longest-processing-time order, by
    ``work.cost``), so the last group to finish is a short one. The results are the same as
    `SerialExecutor`'s.
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self._processes = ProcessExecutor(jobs)
        self.last_choice: tuple[Where, float, str] | None = None

    def map_groups(
        self, work: Work, groups: Sequence[Group], on_epoch: OnEpoch | None = None
    ) -> Iterator[tuple[Group, list[RunResult]]]:
        if not groups:
            return
        self.last_choice = work.where(groups, self.jobs, self._processes.started)
        where = self.last_choice[0]
        if where == "here":
            yield from SerialExecutor().map_groups(work, groups, on_epoch)
            return
        ordered = sorted(groups, key=lambda g: -work.cost(g))
        if where == "threads":
            yield from ThreadExecutor(self.jobs).map_groups(work, ordered, on_epoch)
        else:
            yield from self._processes.map_groups(work, ordered, on_epoch)

    def close(self) -> None:
        self._processes.close()


class DaskExecutor(Executor):
    """Runs groups on a dask.distributed cluster through ``client.get_executor()``.

    The same completion loop as the local pool. The payload is scattered to every worker
    once. A worker that dies mid-group has its group rescheduled by dask (up to the
    scheduler's ``allowed-failures``); a group that kills every worker it touches ends as
    ``FAILED``. A scheduler that cannot be reached within ``connect_timeout`` seconds, has no
    worker within ``worker_timeout``, or is lost mid-sweep raises ``ExecutorError`` (exit 3).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        scheduler_file: str | None = None,
        connect_timeout: float = 10.0,
        worker_timeout: float = 30.0,
    ) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError(
                "--scheduler needs dask.distributed: pip install 'lrsweep[dask]'"
            ) from None
        where = address or f"the scheduler in {scheduler_file}"
        self.where = where
        self.worker_timeout = worker_timeout
        if scheduler_file is not None and address is None:
            address = _address_from_file(scheduler_file)
        _check_reachable(address or "", where, connect_timeout)  # fail before dask's retries
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except Exception as e:
            raise ExecutorError(f"cannot reach {where} within {connect_timeout:g}s: {e}") from None
        try:
            self.client.wait_for_workers(1, timeout=worker_timeout)
        except (TimeoutError, OSError):
            self.client.close()
            raise ExecutorError(
                f"{where} has no workers after {worker_timeout:g}s; start some with"
                f" 'dask worker {address or '--scheduler-file ' + str(scheduler_file)}'"
            ) from None
        self._check_versions()
        self.jobs = max(1, sum(w.get("nthreads", 1) for w in self._workers().values()))

    def _workers(self) -> dict[str, Any]:
        info = self.client.scheduler_info()
        return dict(info.get("workers", {}))

    def _check_versions(self) -> None:
        import numpy

        from lrsweep.version import __version__

        mine = {"lrsweep": __version__, "numpy": numpy.__version__}
        try:
            theirs = self.client.run(_worker_versions)
        except Exception as e:
            self.client.close()
            raise ExecutorError(f"{self.where}: cannot run lrsweep on the workers: {e}") from None
        for worker, versions in theirs.items():
            if versions != mine:
                self.client.close()
                raise ExecutorError(
                    f"{self.where}: worker {worker} has {versions}, this machine has {mine};"
                    " install the same lrsweep and numpy on every worker"
                )

    def map_groups(
        self,
        work: Work,
        groups: Sequence[Group],
        on_epoch: OnEpoch | None = None,  # not streamed from a cluster: groups report at the end
    ) -> Iterator[tuple[Group, list[RunResult]]]:
        """Every group runs through `run_group_checked`, so a worker that joined after the
        version check (another numpy, another lrsweep) fails its groups with the reason
        instead of training them. A cluster left without workers for ``worker_timeout``
        seconds ends the call with ``ExecutorError`` saying so."""
        from concurrent.futures import CancelledError

        from distributed.scheduler import KilledWorker

        if not groups:
            return
        mine = _worker_versions()
        if work.preflight is not None:  # a user's command: its files must be on every worker
            try:
                found = self.client.run(work.preflight)
            except Exception as e:
                raise ExecutorError(self._lost(e)) from None
            for worker, problem in sorted(found.items()):
                if problem:
                    raise ExecutorError(
                        f"{self.where}: worker {worker} {problem}; a command's folder, its"
                        " script and the results folder must be on a file system every"
                        " worker shares"
                    )
        pool = self.client.get_executor(pure=False)
        try:
            payload = self.client.scatter(work.payload, broadcast=True)
            futures = {
                pool.submit(run_group_checked, work.fn, g, payload, mine): g for g in groups
            }
        except (OSError, TimeoutError) as e:
            raise ExecutorError(self._lost(e)) from None
        workerless_since: float | None = None

        def tick(any_done: bool, unfinished: int) -> None:
            nonlocal workerless_since
            if any_done or not unfinished:
                workerless_since = None
            else:
                workerless_since = self._watch_workers(workerless_since, unfinished)

        try:
            for group, future in _completions(futures, 1.0, tick):
                try:
                    results = future.result()
                except KilledWorker as e:
                    results = failed_results(
                        group, f"killed every worker that ran it: {shorten(e, 80)}"
                    )
                except (CancelledError, OSError, TimeoutError) as e:
                    raise ExecutorError(self._lost(e)) from None
                yield group, results
        finally:
            for future in futures:
                future.cancel()

    def _watch_workers(self, since: float | None, unfinished: int) -> float | None:
        """When the cluster has no worker: the time it has had none since, or ExecutorError
        after ``worker_timeout`` seconds (every worker killed is not a lost scheduler)."""
        try:
            n_workers = len(self._workers())
        except Exception as e:
            raise ExecutorError(self._lost(e)) from None
        if n_workers:
            return None
        now = time.monotonic()
        if since is not None and now - since > self.worker_timeout:
            raise ExecutorError(
                f"{self.where}: every worker is gone (none for {self.worker_timeout:g}s,"
                f" {unfinished} groups unfinished); finished runs are kept: start workers and"
                " run the same command again to resume"
            )
        return now if since is None else since

    def _lost(self, e: BaseException) -> str:
        """Why the cluster failed a call: the scheduler lost, or (the client still connected)
        the workers killed with the payload scattered to them."""
        if getattr(self.client, "status", "") == "running":
            return (
                f"{self.where}: the workers died mid-sweep and the data scattered to them was"
                f" lost ({type(e).__name__}); finished runs are kept: check the workers and"
                " run the same command again to resume"
            )
        return (
            f"lost {self.where} mid-sweep ({type(e).__name__}); finished runs are kept: run the"
            " same command again to resume"
        )

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
            self.client = None  # type: ignore[assignment]


def _address_from_file(path: str) -> str:
    """The scheduler address in a dask scheduler file (JSON with an ``address``)."""
    import json

    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise ExecutorError(f"{path}: not a dask scheduler file: {e}") from None
    if not isinstance(info, dict) or not isinstance(info.get("address"), str):
        raise ExecutorError(f"{path}: not a dask scheduler file (no 'address')")
    return str(info["address"])


def _check_reachable(address: str, where: str, timeout: float) -> None:
    """Open and close a TCP connection to a ``tcp://HOST:PORT`` address, or raise."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ExecutorError(f"{where}: not a scheduler address; expected tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise ExecutorError(f"cannot reach {where} within {timeout:g}s: {e}") from None


_DASK_WORKER_LIMITED: list[bool] = []  # in a dask worker process: its BLAS limit is set


def run_group_checked(
    fn: GroupFn, group: Group, payload: Any, expected: dict[str, str]
) -> list[RunResult]:
    """On a dask worker: `run_group_safely`, after checking that this worker has the
    driver's lrsweep and numpy (a worker may join after the executor checked the others);
    a worker that does not fails the group with the reason.

    The worker process is limited to one BLAS thread the first time, for good: its threads
    run groups concurrently, so a limit set and restored per group would lift it under the
    others."""
    found = _worker_versions()
    if found != expected:
        where = socket.gethostname()
        with contextlib.suppress(Exception):
            from distributed import get_worker

            where = get_worker().address
        differ = ", ".join(f"{k} {found.get(k)} (driver {v})" for k, v in expected.items()
                           if found.get(k) != v)  # fmt: skip
        return failed_results(
            group, f"worker {where} has {differ}; install the driver's versions on every worker"
        )
    if not _DASK_WORKER_LIMITED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _DASK_WORKER_LIMITED.append(True)
    return run_group_safely(fn, group, payload)


def _worker_versions() -> dict[str, str]:
    import numpy

    from lrsweep.version import __version__

    return {"lrsweep": __version__, "numpy": numpy.__version__}


def default_jobs() -> int:
    """The number of usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def make_executor(
    jobs: int | None = None,
    *,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    connect_timeout: float = 10.0,
    worker_timeout: float = 30.0,
) -> Executor:
    """A dask executor when a scheduler is given; else ``SerialExecutor`` for one job and a
    `LocalExecutor` otherwise (default: every core), which starts worker processes only when
    the work is worth it."""
    if scheduler or scheduler_file:
        return DaskExecutor(
            scheduler,
            scheduler_file=scheduler_file,
            connect_timeout=connect_timeout,
            worker_timeout=worker_timeout,
        )
    jobs = default_jobs() if jobs is None else jobs
    return SerialExecutor() if jobs <= 1 else LocalExecutor(jobs)
