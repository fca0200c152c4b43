"""One bot per database: `run` holds a lock file that `restore` must be able to take.

An advisory `flock` on `<database>.lock` is released by the kernel when the
process dies, even by kill -9, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class AlreadyRunning(Exception):
    """Another process holds the database's lock (the bot is running)."""


@contextmanager
def instance_lock(database: Path) -> Iterator[None]:
    """Hold the database's lock for the duration, or raise AlreadyRunning at once."""
    path = database.with_name(database.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise AlreadyRunning(f"{database} is in use by a running bot (lock {path})") from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
