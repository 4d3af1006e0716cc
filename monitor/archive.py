"""The SQLite archive: the one module that holds SQL.

Tables: ``articles`` (one row per article, the latest version), ``revisions`` (the
previous version of each edit), ``runs`` (one row per crawl), ``listing_cache``
(validators and links of listing pages), ``articles_fts`` (full-text search).
Schema changes go through the migrations below; writes of a snapshot happen in one
transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from crawler.items import ArticleItem, ListingItem, normalise_text
from monitor.locks import database_setup_lock

log = logging.getLogger(__name__)

_CHUNK = 500  # SQLite variables per IN (...) query


class ArchiveError(RuntimeError):
    """The database cannot be opened, read or written."""


migrations = Migrations("icesco-monitor")


@migrations()
def m001_articles(db: Database) -> None:
    db.table("articles").create(
        {
            "id": str,
            "url": str,
            "lang": str,
            "slug": str,
            "title": str,
            "subtitle": str,
            "body": str,
            "published_at": str,
            "modified_at": str,
            "categories": str,  # JSON list
            "first_seen_at": str,
            "last_seen_at": str,
            "last_fetched_at": str,  # last time its page was fetched (live crawls)
            "updated_at": str,  # last real edit
            "content_hash": str,
            "revision": int,
            "partial": int,
            "source": str,
        },
        pk="id",
        not_null={"title", "body", "first_seen_at", "last_seen_at", "content_hash", "lang"},
        defaults={"revision": 0, "partial": 0, "categories": "[]"},
    )
    db.table("articles").create_index(["url"])
    db.table("articles").create_index(["first_seen_at"])
    db.table("articles").create_index(["published_at"])
    db.table("articles").enable_fts(["title", "body"], tokenize="unicode61 remove_diacritics 2")
    # Index maintenance by trigger; an update re-indexes only when the text changed
    # (a crawl touches last_seen_at of every article it meets).
    db.execute(
        "CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN"
        " INSERT INTO articles_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body); END"
    )
    db.execute(
        "CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN"
        " INSERT INTO articles_fts (articles_fts, rowid, title, body)"
        " VALUES ('delete', old.rowid, old.title, old.body); END"
    )
    db.execute(
        "CREATE TRIGGER articles_au AFTER UPDATE OF title, body ON articles BEGIN"
        " INSERT INTO articles_fts (articles_fts, rowid, title, body)"
        " VALUES ('delete', old.rowid, old.title, old.body);"
        " INSERT INTO articles_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body); END"
    )
    db.table("revisions").create(
        {
            "id": int,
            "article_id": str,
            "revision": int,
            "changed_at": str,
            "changed_fields": str,  # JSON list: title, subtitle, body
            "old_title": str,
            "old_subtitle": str,
            "old_body": str,
            "old_hash": str,
            "new_hash": str,
            "source": str,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db.table("revisions").create_index(["article_id", "revision"], unique=True)
    db.table("runs").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "mode": str,  # live, replay
            "status": str,  # running, ok, failed
            "pages_fetched": int,
            "new": int,
            "updated": int,
            "unchanged": int,
            "errors": int,
            "messages": str,  # JSON list of error messages (first 50)
        },
        pk="id",
        defaults={"pages_fetched": 0, "new": 0, "updated": 0, "unchanged": 0, "errors": 0},
    )
    db.table("listing_cache").create(
        {
            "url": str,
            "page": int,
            "status": str,  # ok; pending: asked for but not read yet (retried by the next run)
            "etag": str,
            "last_modified": str,
            "links": str,
            "next_url": str,
            "fetched_at": str,
        },
        pk="url",
    )


@migrations()
def m002_publishing(db: Database) -> None:
    db.table("runs").add_column("source", str)  # what was crawled: start URLs or dump files (JSON)
    db.table("subscriptions").create(
        {"address": str, "subscribed_at": str, "last_due_at": str},
        pk="address",
    )
    db.table("deliveries").create(
        {
            "id": int,
            "address": str,
            "digest_key": str,  # the scheduled time the digest is for
            "message_id": str,
            "message": bytes,  # the exact bytes sent, so a re-send is the same message
            "article_ids": str,  # JSON list
            "status": str,  # sending, retry, sent, failed
            "attempts": int,
            "created_at": str,
            "next_attempt_at": str,
            "sent_at": str,
            "last_error": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db.table("deliveries").create_index(["address", "digest_key"], unique=True)
    db.table("deliveries").create_index(["status"])
    db.table("delivered").create(
        {"address": str, "article_id": str, "delivery_id": int},
        pk=("address", "article_id"),
    )


NEWEST = "COALESCE(published_at, substr(first_seen_at, 1, 10))"


@migrations()
def m003_pending_articles(db: Database) -> None:
    # Article links met on a listing and not stored yet: the next run fetches them again.
    db.table("pending_articles").create(
        {"id": str, "url": str, "listed_at": str, "attempts": int}, pk="id", defaults={"attempts": 0}
    )
    db.table("articles").create_index(["updated_at"])
    # The order of feeds, pages and 'articles': newest first, without sorting the table.
    db.execute(f"CREATE INDEX articles_newest ON articles ({NEWEST}, first_seen_at, id)")


@migrations()
def m004_fts_merging(db: Database) -> None:
    # Bulk replays write many small FTS segments; merging them 16 at a time instead of 4
    # cuts the indexing work by a tenth (a crisis merge still bounds the segment count).
    db.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('automerge', 16)")


@migrations()
def m005_sources(db: Database) -> None:
    # How each start URL is read (rest, feed or html), what was discovered, and the REST
    # cursor (the newest modified_gmt stored) or the feed's validators.
    db.table("sources").create(
        {
            "start_url": str,
            "mode": str,
            "api_root": str,
            "category_id": int,
            "categories": str,  # JSON {id: name} of the site's categories (REST)
            "feed_url": str,
            "feed_etag": str,
            "feed_last_modified": str,
            "cursor": str,
            "checked_at": str,  # when the listing was last read to choose the source
            "last_error": str,  # why a better source was not used
        },
        pk="start_url",
    )
    # robots.txt per host, kept up to 24 hours (RFC 9309 allows it).
    db.table("robots").create({"host": str, "status": int, "body": bytes, "fetched_at": str}, pk="host")
    # Layout alarms of a run: what could not be read, and why (JSON list).
    db.table("runs").add_column("alarms", str)


@migrations()
def m006_sequence(db: Database) -> None:
    # Digests follow the order in which articles were first stored, by number, not by
    # time (stored times have one-second resolution, and a crawl stamps its articles
    # with the time it started, not the time it committed).
    #
    # Why a column of its own and not the rowid: articles has a TEXT primary key, so its
    # rowid is an implicit one that VACUUM may renumber, and the largest rowid may be
    # given again after a delete. `seq` is set once, by the trigger below, inside the
    # writing transaction: writers are serialised, so numbers grow in commit order (a
    # reader that saw max(seq) = n will never later meet an article numbered <= n that
    # it had not seen). Existing rows are numbered in first-seen order.
    db.execute("ALTER TABLE articles ADD COLUMN seq INTEGER")
    db.execute(
        "WITH numbered AS (SELECT rowid AS r, row_number() OVER (ORDER BY first_seen_at, rowid) AS n FROM articles)"
        " UPDATE articles SET seq = numbered.n FROM numbered WHERE numbered.r = articles.rowid"
    )
    db.execute("CREATE UNIQUE INDEX articles_seq ON articles (seq)")
    db.execute(
        "CREATE TRIGGER articles_seq_ai AFTER INSERT ON articles WHEN new.seq IS NULL BEGIN"
        " UPDATE articles SET seq = (SELECT COALESCE(max(seq), 0) + 1 FROM articles) WHERE rowid = new.rowid; END"
    )
    # A subscription starts after a number (articles numbered above it are for the
    # subscriber) and keeps a position: every article numbered up to it was either put
    # in a digest or did not match the subscriber's filters. Existing subscriptions start
    # after what was first seen before they were recorded (the old rule, `>=`, kept
    # exactly once: no article is lost, and the ledger stops any one being sent twice).
    db.execute("ALTER TABLE subscriptions ADD COLUMN after_seq INTEGER")
    db.execute("ALTER TABLE subscriptions ADD COLUMN position INTEGER")
    db.execute(
        "UPDATE subscriptions SET after_seq ="
        " (SELECT COALESCE(max(seq), 0) FROM articles WHERE first_seen_at < subscriptions.subscribed_at)"
    )
    db.execute("UPDATE subscriptions SET position = after_seq")
    # The numbers a digest covers: (first_seq - 1, last_seq]; its matching articles are in it.
    db.execute("ALTER TABLE deliveries ADD COLUMN first_seq INTEGER")
    db.execute("ALTER TABLE deliveries ADD COLUMN last_seq INTEGER")
    # Sent messages whose bytes are still kept, by age: pruning reads only those.
    db.execute("CREATE INDEX deliveries_kept ON deliveries (sent_at) WHERE message IS NOT NULL AND status = 'sent'")


MAX_FETCH_ATTEMPTS = 10  # a listed article that fails this often is given up (and reported)


def iso(now: dt.datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass
class StoreResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class RunStats:
    pages_fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # what could not be read (the run is then degraded)


def _chunks(seq: list[str], n: int = _CHUNK) -> Iterator[list[str]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _paragraph_prefix(short: str, long: str) -> bool:
    """True if the paragraphs of ``short`` are the first paragraphs of ``long``."""
    a = [normalise_text(p) for p in short.split("\n\n")]
    b = [normalise_text(p) for p in long.split("\n\n")]
    return len(a) < len(b) and b[: len(a)] == a


def _extends(old_body: str, new_body: str) -> bool:
    """True if new_body is old_body completed (a dump cut inside the article)."""
    old, new = normalise_text(old_body), normalise_text(new_body)
    cut = old.rsplit(" ", 1)[0] if " " in old else old
    return len(new) > len(old) and new.startswith(cut)


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


class Archive:
    """An open archive database. Use as a context manager or call close()."""

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
            raise ArchiveError(f"database {self.path}: {exc}{storage_hint(self.path)}") from None
        except OSError as exc:
            raise ArchiveError(f"database {self.path}: {exc}") from None

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
                f"database {self.path}: not an icesco-monitor archive (it holds other tables: {shown}); not changed"
            )

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    # --- runs -----------------------------------------------------------------------

    def start_run(self, mode: str, now: dt.datetime, source: list[str] | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (started_at, mode, status, source) VALUES (?, ?, 'running', ?)",
            (iso(now), mode, json.dumps(source or [], ensure_ascii=False)),
        )
        return int(cur.lastrowid or 0)

    def close_interrupted_runs(self, now: dt.datetime) -> int:
        """Runs left 'running' by a killed crawl (call only under the crawl lock)."""
        cur = self.conn.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'", (iso(now),)
        )
        return cur.rowcount

    def replayed_sources(self) -> set[str]:
        """Dump files that a finished replay run has read (or failed to: a bad dump is not
        tried again by the service's replay mode)."""
        out: set[str] = set()
        for (source,) in self.conn.execute(
            "SELECT source FROM runs WHERE mode = 'replay' AND status IN ('ok', 'failed')"
        ):
            out.update(json.loads(source or "[]"))
        return out

    def last_finished_crawl(self) -> dict[str, Any] | None:
        rows = list(
            self.db.query("SELECT * FROM runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1")
        )
        return rows[0] if rows else None

    def last_good_crawl(self) -> str | None:
        row = self.conn.execute("SELECT max(finished_at) FROM runs WHERE status = 'ok'").fetchone()
        return row[0] if row else None

    def change_marker(self) -> tuple[int, str]:
        """Changes whenever an article is added or edited (cheap; for feed caches)."""
        # max(rowid) and max(updated_at) are index look-ups (count(*) would read the table);
        # articles are never deleted, so a new one always raises max(rowid).
        (top,) = self.conn.execute("SELECT COALESCE(max(rowid), 0) FROM articles").fetchone()
        (edited,) = self.conn.execute("SELECT COALESCE(max(updated_at), '') FROM articles").fetchone()
        return int(top), str(edited)

    def metrics(self) -> dict[str, Any]:
        runs = self.conn.execute(
            "SELECT status, count(*), COALESCE(sum(pages_fetched), 0), COALESCE(sum(new), 0),"
            " COALESCE(sum(updated), 0), COALESCE(sum(errors), 0) FROM runs GROUP BY status"
        ).fetchall()
        deliveries = dict(self.conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())
        last_ok = self.last_good_crawl()
        (alarms,) = self.conn.execute(
            "SELECT COALESCE(sum(json_array_length(alarms)), 0) FROM runs WHERE alarms IS NOT NULL"
        ).fetchone()
        return {
            "alarms": int(alarms),
            "runs": {r[0]: r[1] for r in runs},
            "pages": sum(r[2] for r in runs),
            "new": sum(r[3] for r in runs),
            "updated": sum(r[4] for r in runs),
            "errors": sum(r[5] for r in runs),
            "articles": self.count(),
            "deliveries": deliveries,
            "last_success": last_ok,
        }

    # --- subscriptions and the delivery ledger ----------------------------------------

    def subscription(self, address: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM subscriptions WHERE address = ?", [address]))
        return rows[0] if rows else None

    def subscriptions(self) -> dict[str, dict[str, Any]]:
        """Every recorded subscription, by address (one query for a whole digest check)."""
        return {row["address"]: row for row in self.db.query("SELECT * FROM subscriptions")}

    def forget_subscribers_except(self, addresses: set[str]) -> list[str]:
        """Drop the subscriptions of addresses no longer configured, so that one added
        again later starts afresh (no back catalogue). Returns the dropped addresses."""
        gone = [r[0] for r in self.conn.execute("SELECT address FROM subscriptions") if r[0] not in addresses]
        self.conn.executemany("DELETE FROM subscriptions WHERE address = ?", [(a,) for a in gone])
        return gone

    def last_seq(self) -> int:
        """The number of the article stored last (0: none). An index look-up."""
        return int(self.conn.execute("SELECT COALESCE(max(seq), 0) FROM articles").fetchone()[0])

    def subscribe(self, address: str, now: dt.datetime) -> None:
        """Record a subscriber: what is stored now is not for them, whatever its time
        (the subscription starts after the current last number, read in the same statement)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO subscriptions (address, subscribed_at, last_due_at, after_seq, position)"
            " SELECT ?, ?, ?, n, n FROM (SELECT COALESCE(max(seq), 0) AS n FROM articles)",
            (address, iso(now), iso(now)),
        )

    def undelivered(
        self,
        address: str,
        after: int,
        upto: int,
        limit: int,
        *,
        keywords: Iterable[str] = (),
        categories: Iterable[str] = (),
        languages: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """The articles numbered in (after, upto] that match the filters and this address
        has not been sent (nor has waiting in a digest), in number order, at most limit.

        Every filter is an any-of list (empty: all) and is applied in SQL, so the cost is
        that of the numbers in range, never of the archive: ``languages`` the article's
        language, ``categories`` one of its categories (both ignoring case); ``keywords``
        a word of the title or body starting with the keyword (case and diacritics
        ignored; through the full-text index ``articles_fts``; a keyword of several
        words is a phrase), or the keyword anywhere in the subtitle (ignoring case).
        Only the columns a digest shows are read, and the bodies of the rows returned.
        """
        where = [
            "a.seq > ?",
            "a.seq <= ?",
            "NOT EXISTS (SELECT 1 FROM delivered d WHERE d.address = ? AND d.article_id = a.id)",
        ]
        params: list[Any] = [after, upto, address]
        langs = sorted({_fold(w) for w in languages if _fold(w)})
        if langs:
            where.append(f"icesco_fold(a.lang) IN ({','.join('?' * len(langs))})")
            params += langs
        cats = sorted({_fold(c) for c in categories if _fold(c)})
        if cats:
            where.append(
                "json_valid(a.categories) AND EXISTS (SELECT 1 FROM json_each(a.categories) c"
                f" WHERE icesco_fold(c.value) IN ({','.join('?' * len(cats))}))"
            )
            params += cats
        words = {_fold(k): k.strip() for k in sorted(keywords) if _fold(k)}
        if words:
            # Once per query, from the first new rowid on: FTS5 seeks to it, so the cost is
            # that of the new articles, not of the term's whole doclist. (min(rowid) of the
            # range is a lower bound whatever the rowids' order; it is tight because rowids
            # only grow, articles being never deleted.)
            anyof = [
                "a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
                " AND rowid >= (SELECT min(rowid) FROM articles WHERE seq > ? AND seq <= ?))"
            ]
            params += [" OR ".join(_fts_prefix_phrase(w) for w in words.values()), after, upto]
            for folded in words:
                anyof.append("instr(icesco_fold(a.subtitle), ?) > 0")
                params.append(folded)
            where.append("(" + " OR ".join(anyof) + ")")
        params.append(limit)
        self.conn.create_function("icesco_fold", 1, _fold, deterministic=True)
        rows = list(
            self.db.query(
                "SELECT a.seq, a.id, a.url, a.lang, a.title, a.subtitle, a.body, a.published_at, a.first_seen_at,"
                f" a.categories FROM articles a WHERE {' AND '.join(where)} ORDER BY a.seq LIMIT ?",
                params,
            )
        )
        for row in rows:
            row["categories"] = json.loads(row["categories"] or "[]")
        return rows

    def mark_due_done(self, address: str, due_at: dt.datetime, position: int) -> None:
        """Nothing to send: this scheduled time is done, and every article numbered up to
        ``position`` has been considered (none matched, or all were sent)."""
        self.conn.execute(
            "UPDATE subscriptions SET last_due_at = ?, position = max(COALESCE(position, 0), ?) WHERE address = ?",
            (iso(due_at), position, address),
        )

    def create_delivery(
        self,
        address: str,
        digest_key: str,
        message_id: str,
        message: bytes,
        article_ids: list[str],
        due_at: dt.datetime,
        now: dt.datetime,
        *,
        first_seq: int,
        last_seq: int,
    ) -> int:
        """Record a digest before it is sent, reserving its articles for this address
        (so that no other digest carries them) and moving the subscriber's position to
        the last number it covers — in one transaction."""
        with self.db.atomic():
            cur = self.conn.execute(
                "INSERT INTO deliveries (address, digest_key, message_id, message, article_ids, status,"
                " attempts, created_at, next_attempt_at, first_seq, last_seq)"
                " VALUES (?, ?, ?, ?, ?, 'sending', 0, ?, ?, ?, ?)",
                (
                    address,
                    digest_key,
                    message_id,
                    message,
                    json.dumps(article_ids),
                    iso(now),
                    iso(now),
                    first_seq,
                    last_seq,
                ),
            )
            delivery_id = int(cur.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO delivered (address, article_id, delivery_id) VALUES (?, ?, ?)",
                [(address, aid, delivery_id) for aid in article_ids],
            )
            self.conn.execute(
                "UPDATE subscriptions SET last_due_at = ?, position = max(COALESCE(position, 0), ?) WHERE address = ?",
                (iso(due_at), last_seq, address),
            )
        return delivery_id

    def open_deliveries(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Deliveries to (re)send now: interrupted ones, and retries whose time has come."""
        return list(
            self.db.query(
                "SELECT id, address, message, attempts FROM deliveries WHERE status = 'sending'"
                " OR (status = 'retry' AND next_attempt_at <= ?) ORDER BY id",
                [iso(now)],
            )
        )

    def delivery_sent(self, delivery_id: int, now: dt.datetime) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL"
            " WHERE id = ?",
            (iso(now), delivery_id),
        )

    def delivery_failed(
        self, delivery_id: int, error: str, *, permanent: bool, retry_at: dt.datetime | None, now: dt.datetime
    ) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE id = ?",
            ("failed" if permanent else "retry", error[:500], iso(retry_at or now), delivery_id),
        )

    def prune_messages(self, sent_before: dt.datetime) -> int:
        """Drop the bytes of digests sent before a time (the row, its Message-ID, its
        articles and seq range stay). Only sent ones: a digest still 'sending' or waiting
        for a 'retry' keeps the exact bytes its re-send needs; a 'failed' one keeps them
        for the operator. Returns how many lost their bytes."""
        cur = self.conn.execute(
            "UPDATE deliveries INDEXED BY deliveries_kept SET message = NULL"
            " WHERE message IS NOT NULL AND status = 'sent' AND sent_at < ?",
            (iso(sent_before),),
        )
        return cur.rowcount

    def deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, address, digest_key, message_id, article_ids, status, attempts, created_at,"
        sql += " next_attempt_at, sent_at, last_error, first_seq, last_seq, message IS NOT NULL AS kept FROM deliveries"
        if status:
            return list(self.db.query(sql + " WHERE status = ? ORDER BY id", [status]))
        return list(self.db.query(sql + " ORDER BY id"))

    def finish_run(self, run_id: int, now: dt.datetime, stats: RunStats, status: str) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, status = ?, pages_fetched = ?, new = ?, updated = ?,"
            " unchanged = ?, errors = ?, messages = ?, alarms = ? WHERE id = ?",
            (
                iso(now),
                status,
                stats.pages_fetched,
                stats.new,
                stats.updated,
                stats.unchanged,
                stats.errors,
                json.dumps(stats.messages[:50], ensure_ascii=False),
                json.dumps(stats.alarms[:50], ensure_ascii=False) if stats.alarms else None,
                run_id,
            ),
        )

    # --- sources and robots.txt -------------------------------------------------------

    def source(self, start_url: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM sources WHERE start_url = ?", [start_url]))
        if not rows:
            return None
        row = rows[0]
        row["categories"] = {int(k): v for k, v in json.loads(row["categories"] or "{}").items()}
        return row

    def sources(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if k != "categories"}
            for row in self.db.query("SELECT * FROM sources ORDER BY start_url")
        ]

    def save_source(self, start_url: str, **values: Any) -> None:
        if "categories" in values and isinstance(values["categories"], dict):
            values["categories"] = json.dumps({str(k): v for k, v in values["categories"].items()}, ensure_ascii=False)
        self.db.table("sources").upsert({"start_url": start_url, **values}, pk="start_url")

    def robots(self, host: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM robots WHERE host = ?", [host]))
        return rows[0] if rows else None

    def save_robots(self, host: str, status: int, body: bytes, now: dt.datetime) -> None:
        self.db.table("robots").upsert(
            {"host": host, "status": status, "body": body, "fetched_at": iso(now)}, pk="host"
        )

    def run(self, run_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
        return rows[0] if rows else None

    def last_runs(self, limit: int = 5) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit]))

    # --- articles -------------------------------------------------------------------

    def article_state(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """id -> {last_fetched_at, published_at, url} for the ids that are stored."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT id, last_fetched_at, published_at, url FROM articles WHERE id IN ({marks})",
                chunk,
            ):
                out[row[0]] = {"last_fetched_at": row[1], "published_at": row[2], "url": row[3]}
        return out

    def store(self, items: list[ArticleItem], now: dt.datetime, *, fetched: bool = False) -> StoreResult:
        """Store one snapshot in one transaction: new rows, revisions for edits."""
        result = StoreResult()
        if not items:
            return result
        stamp = iso(now)
        batch: dict[str, ArticleItem] = {}
        for item in items:  # the same article twice in a snapshot: keep the later one
            batch[item.id] = item
        with self.db.atomic():
            existing: dict[str, sqlite3.Row] = {}
            self.conn.row_factory = sqlite3.Row
            try:
                for chunk in _chunks(list(batch)):
                    marks = ",".join("?" * len(chunk))
                    for row in self.conn.execute(
                        "SELECT id, url, title, subtitle, body, published_at, categories, content_hash,"
                        f" revision, partial FROM articles WHERE id IN ({marks})",
                        chunk,
                    ):
                        existing[row["id"]] = row
            finally:
                self.conn.row_factory = None
            inserts: list[tuple[Any, ...]] = []
            touches: list[tuple[Any, ...]] = []
            edits: list[tuple[Any, ...]] = []
            revisions: list[tuple[Any, ...]] = []
            for aid, item in batch.items():
                chash = item.content_hash
                body = item.body
                cats = json.dumps(sorted(set(item.categories)), ensure_ascii=False)
                old = existing.get(aid)
                if old is None:
                    inserts.append(
                        (
                            aid,
                            item.url,
                            item.lang,
                            item.slug,
                            item.title,
                            item.subtitle,
                            body,
                            item.published_at,
                            item.modified_at,
                            cats,
                            stamp,
                            stamp,
                            stamp if fetched else None,
                            chash,
                            int(item.partial),
                            item.source,
                        )
                    )
                    result.new.append(aid)
                    continue
                merged_cats = json.dumps(
                    sorted(set(json.loads(old["categories"] or "[]")) | set(item.categories)),
                    ensure_ascii=False,
                )
                # A cut copy of a stored article (a dump cut inside it, or maybe between
                # its paragraphs) is not an edit.
                same = old["content_hash"] == chash or (
                    normalise_text(old["title"]) == normalise_text(item.title)
                    and (
                        (item.partial and _extends(body, old["body"]))
                        or (item.maybe_cut and _paragraph_prefix(body, old["body"]))
                    )
                )
                if same:
                    touches.append((stamp, stamp if fetched else None, item.url, item.published_at, merged_cats, aid))
                    result.unchanged.append(aid)
                    continue
                completion = bool(old["partial"]) and _extends(old["body"], body)
                if not completion:
                    changed = [
                        name
                        for name, a, b in (
                            ("title", old["title"], item.title),
                            ("subtitle", old["subtitle"], item.subtitle),
                            ("body", old["body"], body),
                        )
                        if normalise_text(a or "") != normalise_text(b or "")
                    ]
                    revisions.append(
                        (
                            aid,
                            old["revision"] + 1,
                            stamp,
                            json.dumps(changed),
                            old["title"],
                            old["subtitle"],
                            old["body"],
                            old["content_hash"],
                            chash,
                            item.source,
                        )
                    )
                edits.append(
                    (
                        item.title,
                        item.subtitle,
                        body,
                        chash,
                        int(item.partial),
                        stamp,
                        stamp if fetched else None,
                        item.url,
                        item.published_at,
                        item.modified_at,
                        merged_cats,
                        stamp,
                        0 if completion else 1,
                        item.source,
                        aid,
                    )
                )
                result.updated.append(aid)
            if inserts:
                self.conn.executemany(
                    "INSERT INTO articles (id, url, lang, slug, title, subtitle, body, published_at,"
                    " modified_at, categories, first_seen_at, last_seen_at, last_fetched_at,"
                    " content_hash, partial, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    inserts,
                )
            if touches:
                self.conn.executemany(
                    "UPDATE articles SET last_seen_at = ?,"
                    " last_fetched_at = COALESCE(?, last_fetched_at), url = COALESCE(?, url),"
                    " published_at = COALESCE(published_at, ?), categories = ? WHERE id = ?",
                    touches,
                )
            if revisions:
                self.conn.executemany(
                    "INSERT INTO revisions (article_id, revision, changed_at, changed_fields,"
                    " old_title, old_subtitle, old_body, old_hash, new_hash, source)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    revisions,
                )
            for chunk in _chunks(list(batch)):
                marks = ",".join("?" * len(chunk))
                self.conn.execute(f"DELETE FROM pending_articles WHERE id IN ({marks})", chunk)
            if edits:
                self.conn.executemany(
                    "UPDATE articles SET title = ?, subtitle = ?, body = ?, content_hash = ?,"
                    " partial = ?, last_seen_at = ?, last_fetched_at = COALESCE(?, last_fetched_at),"
                    " url = COALESCE(?, url), published_at = COALESCE(?, published_at),"
                    " modified_at = COALESCE(?, modified_at), categories = ?,"
                    " updated_at = ?, revision = revision + ?, source = ? WHERE id = ?",
                    edits,
                )
        return result

    def store_snapshots(
        self, snapshots: list[list[ArticleItem]], now: dt.datetime, *, fetched: bool = False
    ) -> list[StoreResult]:
        """Several snapshots in one transaction (group commit), each still stored on
        its own, in order (an edit between two of them is a revision)."""
        with self.db.atomic():
            return [self.store(items, now, fetched=fetched) for items in snapshots]

    def put_listing(self, item: ListingItem, now: dt.datetime) -> None:
        self.db.table("listing_cache").upsert(
            {
                "url": item.url,
                "page": item.page,
                "status": "ok",
                "etag": item.etag,
                "last_modified": item.last_modified,
                "links": json.dumps(item.links),
                "next_url": item.next_url,
                "fetched_at": iso(now),
            },
            pk="url",
        )

    def add_pending_articles(self, pairs: list[tuple[str, str]]) -> None:
        if pairs:
            stamp = iso(dt.datetime.now(dt.UTC))
            self.conn.executemany(
                "INSERT OR IGNORE INTO pending_articles (id, url, listed_at) VALUES (?, ?, ?)",
                [(aid, url, stamp) for aid, url in pairs],
            )

    def pending_articles(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute("SELECT id, url FROM pending_articles ORDER BY listed_at, id")]

    def article_fetch_failed(self, article_id: str, *, give_up: bool) -> None:
        """One more failed fetch of a pending article; dropped when it is gone (404, 410)
        or has failed MAX_FETCH_ATTEMPTS times."""
        self.conn.execute("UPDATE pending_articles SET attempts = attempts + 1 WHERE id = ?", (article_id,))
        self.conn.execute(
            "DELETE FROM pending_articles WHERE id = ? AND (? OR attempts >= ?)",
            (article_id, int(give_up), MAX_FETCH_ATTEMPTS),
        )

    def listing_read(self, url: str) -> None:
        self.conn.execute("UPDATE listing_cache SET status = 'ok' WHERE url = ?", (url,))

    def mark_listing_pending(self, url: str, page: int) -> None:
        """Remember a listing page we are about to ask for, so that a run that fails
        or dies before reading it leaves it to the next run."""
        self.conn.execute(
            "INSERT INTO listing_cache (url, page, status, links) VALUES (?, ?, 'pending', '[]')"
            " ON CONFLICT (url) DO UPDATE SET status = 'pending', page = excluded.page",
            (url, page),
        )

    def drop_listing(self, url: str) -> None:
        self.conn.execute("DELETE FROM listing_cache WHERE url = ?", (url,))

    def pending_listings(self) -> list[tuple[str, int]]:
        rows = self.conn.execute("SELECT url, page FROM listing_cache WHERE status = 'pending' ORDER BY page, url")
        return [(r[0], r[1] or 1) for r in rows]

    def get_listing(self, url: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM listing_cache WHERE url = ?", [url]))
        if not rows:
            return None
        row = rows[0]
        row["links"] = json.loads(row["links"] or "[]")
        return row

    def due_for_revisit(self, fetched_before: dt.datetime, published_after: dt.datetime) -> list[str]:
        """URLs of young articles whose page was last fetched before a time."""
        rows = self.conn.execute(
            "SELECT url FROM articles WHERE url IS NOT NULL AND last_fetched_at <= ?"
            " AND (published_at >= ? OR (published_at IS NULL AND first_seen_at >= ?))"
            " ORDER BY last_fetched_at LIMIT 500",
            (iso(fetched_before), iso(published_after)[:10], iso(published_after)),
        )
        return [r[0] for r in rows]

    def article(self, article_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        if not rows:
            return None
        rows[0]["categories"] = json.loads(rows[0]["categories"] or "[]")
        return rows[0]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def revision_count(self) -> int:
        """How many revisions are stored (without reading them)."""
        return int(self.conn.execute("SELECT count(*) FROM revisions").fetchone()[0])

    def revisions(self, article_id: str | None = None) -> list[dict[str, Any]]:
        if article_id is None:
            return list(self.db.query("SELECT * FROM revisions ORDER BY id"))
        return list(self.db.query("SELECT * FROM revisions WHERE article_id = ? ORDER BY revision", [article_id]))

    def articles(
        self,
        *,
        search: str | None = None,
        since: str | None = None,
        limit: int | None = 20,
        order: str = "newest",
    ) -> list[dict[str, Any]]:
        """Articles, newest first (publication date, else first seen)."""
        where: list[str] = []
        params: list[Any] = []
        if search:
            where.append("rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
            params.append(_fts_query(search))
        if since:
            where.append("COALESCE(published_at, first_seen_at) >= ?")
            params.append(since)
        sql = "SELECT * FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        direction = "DESC" if order == "newest" else "ASC"
        sql += f" ORDER BY {NEWEST} {direction}, first_seen_at {direction}, id {direction}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = list(self.db.query(sql, params))
        for row in rows:
            row["categories"] = json.loads(row["categories"] or "[]")
        return rows


def _fold(value: Any) -> str:
    """Text compared ignoring case (Unicode case folding) and outer spaces; SQL's lower()
    folds ASCII only. Registered as the SQL function icesco_fold."""
    return "" if value is None else str(value).casefold().strip()


def _fts_prefix_phrase(keyword: str) -> str:
    """A keyword as an FTS5 phrase whose last word is a prefix ("herit" finds heritage)."""
    return '"' + keyword.replace('"', '""') + '" *'


def _fts_query(text: str) -> str:
    """User words as an FTS5 query: each word quoted, all required."""
    words = [w.replace('"', "") for w in text.split()]
    return " ".join(f'"{w}"' for w in words if w)
