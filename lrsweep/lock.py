"""A results dir's lock: one command at a time in a folder, whatever kills the holder.

An exclusive ``flock`` on ``<folder>/.lock``: the OS releases it when its holder dies, so there
is no staleness to guess, and two processes started in the same instant cannot both win.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lrsweep.errors import LockError, ResultsError, StorageError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def hold_lock(
    folder: Path, on_warning: Callable[[str], None] | None = None, *, create: bool = True
) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block: an exclusive ``flock`` on ``.lock``.

    The OS releases the lock when its holder dies, however it dies, so there is no staleness
    to guess; two processes started in the same instant cannot both win. The holder writes
    its pid and host into the file, for the message the loser gets. The file is removed on
    release; a process that locked a file just removed sees that it is gone and tries again.
    ``create`` makes ``folder`` first (a results dir being started).

    Raises
    ------
    LockError
        When another process holds the lock (exit 3).
    """
    import fcntl

    folder = Path(folder)
    if create:
        if folder.exists() and not folder.is_dir():
            raise StorageError(f"{folder}: exists and is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"{folder}: cannot create: {e.strerror}") from None
    elif not folder.is_dir():
        raise ResultsError(f"{folder}: no such results folder")
    lock = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StorageError(f"{lock}: cannot open the lock file: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_lock_fd(fd)
            for _ in range(20):  # a holder of a moment ago may not have written its pid yet
                if holder is not None:
                    break
                time.sleep(0.01)
                holder = _read_lock_fd(fd)
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StorageError(f"{lock}: cannot lock: {e.strerror}") from None
            who = (
                f"process {holder['pid']} on {holder.get('host', '?')}"
                if holder
                else ("another lrsweep process")
            )
            raise LockError(
                f"{folder}: in use by {who} (lock file {lock}); wait for it or stop it"
            ) from None
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            break
        os.close(fd)  # locked a file its last holder had just removed: take the new one
    try:
        previous = _read_lock_fd(fd)
        if previous and on_warning is not None:  # a holder killed before it could remove it
            on_warning(
                f"{folder}: took over the lock left by process {previous['pid']} on"
                f" {previous.get('host', '?')}, no longer running"
            )
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # still holding it: anyone who opened it before sees it gone
        os.close(fd)


def _read_lock_fd(fd: int) -> dict[str, Any] | None:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and "pid" in holder else None
