"""The SQLite archive: the one package that holds SQL, one part per concern.

- :mod:`~monitor.archive.schema`: the tables, as migrations;
- :mod:`~monitor.archive.articles`: articles and revisions (what counts as an edit:
  :mod:`~monitor.archive.edits`);
- :mod:`~monitor.archive.frontier`: the crawl state (implements ``crawler.state.CrawlState``);
- :mod:`~monitor.archive.runs`: crawl runs; :mod:`~monitor.archive.ledger`: subscriptions
  and the digest ledger; :mod:`~monitor.archive.readers`: subscribers recorded in the
  archive (the web form, the ``subscribers`` command) and opt-outs.

:class:`Archive` is the open database with every part's methods. Writes of a snapshot
happen in one transaction.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

from feeds.rows import ArticleRow, DigestRow, OpenDeliveryRow, ReaderRow, RevisionRow, SubscriptionRow
from monitor.archive.articles import Articles, StoreResult
from monitor.archive.connection import ArchiveError, Part, iso
from monitor.archive.frontier import MAX_FETCH_ATTEMPTS, Frontier
from monitor.archive.ledger import Ledger
from monitor.archive.readers import Readers
from monitor.archive.rows import DeliveryRow, Metrics, RunRow
from monitor.archive.runs import Runs, RunStats
from monitor.archive.schema import NEWEST, migrations
from monitor.locks import database_setup_lock

T = TypeVar("T")

__all__ = [
    "MAX_FETCH_ATTEMPTS",
    "NEWEST",
    "Archive",
    "ArchiveError",
    "ArticleRow",
    "DeliveryRow",
    "DigestRow",
    "Metrics",
    "OpenDeliveryRow",
    "ReaderRow",
    "RevisionRow",
    "RunRow",
    "RunStats",
    "StoreResult",
    "SubscriptionRow",
    "iso",
    "migrations",
]


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Part, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise ArchiveError.from_sqlite(self.path, exc) from exc

    return guarded


def _names_the_database(cls: type[T]) -> type[T]:
    """Every public method of ``cls`` (its parts' too) raises :class:`ArchiveError`, naming
    the database, where SQLite raised ``sqlite3.Error``: callers catch one exception."""
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_"):
            setattr(cls, name, _guarded(method))
    return cls


@_names_the_database
class Archive(Articles, Frontier, Runs, Ledger, Readers):
    """An open archive database. Use as a context manager or call close().

    Every public method raises :class:`ArchiveError` (never ``sqlite3.Error``)."""

    def __init__(self, path: str | Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with database_setup_lock(self.path) if migrate else contextlib.nullcontext():
                conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                self.db = Database(conn)
                if migrate:
                    self._refuse_foreign()
                    migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError.from_sqlite(self.path, exc) from None
        except OSError as exc:
            raise ArchiveError(self.path, str(exc)) from None

    def _refuse_foreign(self) -> None:
        """A database that holds tables and is not ours (no record of our migrations) is
        another application's: it is not changed."""
        tables = [r[0] for r in self.db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        ours = (
            Migrations.migrations_table in tables
            and self.db.conn.execute(
                f"SELECT 1 FROM {Migrations.migrations_table} WHERE migration_set = ? LIMIT 1", [migrations.name]
            ).fetchone()
        )
        if tables and not ours:
            shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
            self.db.conn.close()
            raise ArchiveError(
                self.path, f"not an icesco-monitor archive (it holds other tables: {shown}); not changed"
            )

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def metrics(self) -> Metrics:
        """What /metrics shows: runs by status and their totals, articles, digests by status."""
        runs = self.run_totals()
        return Metrics(
            alarms=self.alarm_count(),
            runs={r[0]: r[1] for r in runs},
            pages=sum(r[2] for r in runs),
            new=sum(r[3] for r in runs),
            updated=sum(r[4] for r in runs),
            errors=sum(r[5] for r in runs),
            articles=self.count(),
            deliveries=self.delivery_counts(),
            last_success=self.last_good_crawl(),
        )
