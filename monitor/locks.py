"""Advisory file locks: one service per database, one crawl and one digest run at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockError(RuntimeError):
    """Another process holds the lock."""


class LockFileError(RuntimeError):
    """The lock file cannot be made or written (read-only or full file system)."""


@contextmanager
def file_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` or raise LockError at once, naming the holder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockFileError(f"lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise LockError(f"{what} is already running (pid {holder}; lock file {path})") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise LockFileError(f"lock file {path}: {exc.strerror}") from None
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_path(database: str | Path, kind: str) -> Path:
    """The lock file of a kind of work on a database: ``archive.db.service.lock``."""
    db = Path(database)
    return db.with_name(f"{db.name}.{kind}.lock")
