"""Advisory file locks: one service per database, one crawl and one digest run at a time.

Two locks are taken: ``flock`` on a lock file beside the database (``archive.db.crawl.lock``,
which also holds the holder's pid for messages), and an open-file-description lock
(``F_OFD_SETLK``) on one byte of the database file itself, far above the bytes SQLite locks.
The second is keyed on the file, not its name: a symlink or a hard link to the same
database meets the same lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockError(RuntimeError):
    """Another process holds the lock."""


class LockFileError(RuntimeError):
    """The lock file cannot be made or written (read-only or full file system)."""


KINDS = ("service", "crawl", "digest")
_OFD_BASE = 1 << 40  # SQLite locks bytes near 1 GiB; these are far above them


def _database_of(path: Path) -> tuple[Path, int] | None:
    for i, kind in enumerate(KINDS):
        suffix = f".{kind}.lock"
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.with_name(path.name[: -len(suffix)]), i
    return None


@contextmanager
def _file_identity_lock(database: Path, index: int, what: str) -> Iterator[None]:
    """An OFD write lock on one byte of the database file (created empty if missing:
    SQLite takes an empty file as a new database)."""
    try:
        fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockFileError(f"database {database}: {exc.strerror}") from None
    try:
        lock = struct.pack("@hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _OFD_BASE + index, 1, 0)
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lock)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise LockError(
                    f"{what} is already running on the same database file ({database}, maybe by another"
                    " name: a symlink or hard link)"
                ) from None
            raise LockFileError(f"database {database}: cannot lock: {exc.strerror}") from None
        yield
    finally:
        os.close(fd)  # closing the description releases the lock


@contextmanager
def file_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` or raise LockError at once, naming the holder.
    For the lock files of a database (``lock_path``), the database file is locked too."""
    target = _database_of(path)
    if target is None or not hasattr(fcntl, "F_OFD_SETLK"):
        with _path_lock(path, what):
            yield
        return
    with _path_lock(path, what), _file_identity_lock(target[0], target[1], what):
        yield


@contextmanager
def _path_lock(path: Path, what: str) -> Iterator[None]:
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


@contextmanager
def database_setup_lock(database: Path) -> Iterator[None]:
    """Wait for, then hold, the lock under which a database is created and migrated, so
    that commands started together on a new database do not trip over each other."""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield  # read-only or missing folder: SQLite will say what is wrong
        return
    try:
        if hasattr(fcntl, "F_OFD_SETLKW"):
            lock = struct.pack("@hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _OFD_BASE + 100, 1, 0)
            fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, lock)
        yield
    finally:
        os.close(fd)
