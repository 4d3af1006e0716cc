"""What every part of the archive shares: the error it raises, the open database, times
as stored, and IN (...) lists cut to SQLite's limit."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

CHUNK = 500  # SQLite variables per IN (...) query


class ArchiveError(RuntimeError):
    """The database cannot be opened, read or written. The message names the database
    (``database PATH: REASON``); ``reason`` is the rest, for messages that name it first."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"database {path}: {reason}")
        self.path = path
        self.reason = reason

    @classmethod
    def from_sqlite(cls, path: Path, exc: sqlite3.Error) -> ArchiveError:
        """SQLite's error, with what the database's folder tells (a full or read-only one)."""
        return cls(path, f"{exc}{storage_hint(path)}")


def iso(now: dt.datetime) -> str:
    """A time as stored: UTC, ISO 8601, to the second (naive times are refused)."""
    if now.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


def chunks(seq: list[str], n: int = CHUNK) -> Iterator[list[str]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def marks(values: list[str]) -> str:
    """The placeholders of an IN (...) list of ``values``."""
    return ",".join("?" * len(values))


def storage_hint(path: Path) -> str:
    """Why a database may be unusable, as far as its folder tells: SQLite's own message for
    a full disk is sometimes just 'disk I/O error'."""
    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(folder, os.W_OK):
        return " (its folder is not writable: read-only file system or permissions)"
    try:
        fs = os.statvfs(folder)
    except OSError:
        return ""
    if fs.f_bavail * fs.f_frsize < 64 * 1024:
        return f" (its file system is full: {fs.f_bavail * fs.f_frsize // 1024} KiB free)"
    return ""


class Part:
    """The base of each part of the archive (articles, frontier, runs, ledger): the
    database's path and the open database; :class:`monitor.archive.Archive` opens it."""

    path: Path
    db: Database

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        """The first row of a query, by column name (None: no row)."""
        rows = list(self.db.query(sql, params))
        return rows[0] if rows else None
