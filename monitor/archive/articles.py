"""Articles and their revisions: storing snapshots and reading them back for feeds,
pages and the CLI. What a copy comes to (new, unchanged, completed, edited) is decided by
the pure rules of :mod:`monitor.archive.edits`; this module reads the stored state and
writes the verdicts, in batches, in one transaction."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from crawler.items import ArticleItem
from feeds.rows import ArticleRow, RevisionRow, columns
from monitor.archive.connection import Part, chunks, iso, marks
from monitor.archive.edits import Kind, StoredText, Verdict, judge
from monitor.archive.schema import NEWEST_ORDER, OLDEST_ORDER

_INSERT = (
    "INSERT INTO articles (id, url, lang, slug, title, subtitle, body, published_at,"
    " modified_at, categories, first_seen_at, last_seen_at, last_fetched_at,"
    " content_hash, partial, source, order_date) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_TOUCH = (
    "UPDATE articles SET last_seen_at = ?,"
    " last_fetched_at = COALESCE(?, last_fetched_at), url = COALESCE(?, url),"
    " published_at = COALESCE(published_at, ?), categories = ? WHERE id = ?"
)
_REVISION = (
    "INSERT INTO revisions (article_id, revision, changed_at, changed_fields,"
    " old_title, old_subtitle, old_body, old_hash, new_hash, source)"
    " VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_EDIT = (
    "UPDATE articles SET title = ?, subtitle = ?, body = ?, content_hash = ?,"
    " partial = ?, last_seen_at = ?, last_fetched_at = COALESCE(?, last_fetched_at),"
    " url = COALESCE(?, url), published_at = COALESCE(?, published_at),"
    " modified_at = COALESCE(?, modified_at), categories = ?,"
    " updated_at = ?, revision = revision + ?, source = ? WHERE id = ?"
)


@dataclass
class StoreResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def add(self, kind: Kind, article_id: str) -> None:
        if kind == "new":
            self.new.append(article_id)
        elif kind == "unchanged":
            self.unchanged.append(article_id)
        else:  # edited or completed
            self.updated.append(article_id)


def _insert_row(
    item: ArticleItem, v: Verdict, stamp: str, fetched: str | None, order_date: str | None
) -> tuple[Any, ...]:
    return (
        item.id,
        item.url,
        item.lang,
        item.slug,
        item.title,
        item.subtitle,
        v.body,
        item.published_at,
        item.modified_at,
        v.categories,
        stamp,
        stamp,
        fetched,
        v.content_hash,
        int(item.partial),
        item.source,
        None if item.published_at else order_date,
    )


def _revision_row(item: ArticleItem, v: Verdict, old: StoredText, stamp: str) -> tuple[Any, ...]:
    return (
        item.id,
        old.revision + 1,
        stamp,
        json.dumps(list(v.changed)),
        old.title,
        old.subtitle,
        old.body,
        old.content_hash,
        v.content_hash,
        item.source,
    )


def _edit_row(item: ArticleItem, v: Verdict, stamp: str, fetched: str | None) -> tuple[Any, ...]:
    return (
        item.title,
        item.subtitle,
        v.body,
        v.content_hash,
        int(item.partial),
        stamp,
        fetched,
        item.url,
        item.published_at,
        item.modified_at,
        v.categories,
        stamp,
        1 if v.kind == "edited" else 0,  # a completed cut copy is no new revision
        item.source,
        item.id,
    )


@dataclass
class _Writes:
    """The parameters of each statement of a snapshot, gathered to be written in batches."""

    stamp: str  # when the snapshot was seen
    fetched: str | None  # the same, for a live crawl (its pages were fetched)
    newest: str | None  # the newest publication stored so far: an undated new article's order_date
    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    touches: list[tuple[Any, ...]] = field(default_factory=list)
    revisions: list[tuple[Any, ...]] = field(default_factory=list)
    edits: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, item: ArticleItem, v: Verdict, old: StoredText | None) -> None:
        if item.published_at:
            self.newest = item.published_at if self.newest is None else max(self.newest, item.published_at)
        if old is None:
            self.inserts.append(_insert_row(item, v, self.stamp, self.fetched, self.newest))
        elif v.kind == "unchanged":
            self.touches.append((self.stamp, self.fetched, item.url, item.published_at, v.categories, item.id))
        else:
            if v.kind == "edited":
                self.revisions.append(_revision_row(item, v, old, self.stamp))
            self.edits.append(_edit_row(item, v, self.stamp, self.fetched))


class Articles(Part):
    """The ``articles`` and ``revisions`` tables (and ``articles_fts``)."""

    def store(self, items: list[ArticleItem], now: dt.datetime, *, fetched: bool = False) -> StoreResult:
        """Store one snapshot in one transaction: new rows, revisions for edits."""
        result = StoreResult()
        if not items:
            return result
        stamp = iso(now)
        batch = {item.id: item for item in items}  # the same article twice in a snapshot: keep the later one
        with self.db.atomic():
            (newest,) = self.conn.execute("SELECT max(published_at) FROM articles").fetchone()
            writes = _Writes(stamp, stamp if fetched else None, newest)
            stored = self._stored_texts(list(batch))
            for aid, item in batch.items():
                old = stored.get(aid)
                verdict = judge(old, item)
                writes.add(item, verdict, old)
                result.add(verdict.kind, aid)
            self._write(writes, list(batch))
        return result

    def _stored_texts(self, ids: list[str]) -> dict[str, StoredText]:
        """What the edit rules need of the stored articles among ``ids``."""
        out: dict[str, StoredText] = {}
        for chunk in chunks(ids):
            for row in self.conn.execute(
                "SELECT id, title, subtitle, body, categories, content_hash, revision, partial"
                f" FROM articles WHERE id IN ({marks(chunk)})",
                chunk,
            ):
                out[row[0]] = StoredText(*row)
        return out

    def _write(self, writes: _Writes, ids: list[str]) -> None:
        """Write a snapshot's statements in batches (inside the caller's transaction); the
        articles stored are no longer pending."""
        if writes.inserts:
            self.conn.executemany(_INSERT, writes.inserts)
        if writes.touches:
            self.conn.executemany(_TOUCH, writes.touches)
        if writes.revisions:
            self.conn.executemany(_REVISION, writes.revisions)
        for chunk in chunks(ids):
            self.conn.execute(f"DELETE FROM pending_articles WHERE id IN ({marks(chunk)})", chunk)
        if writes.edits:
            self.conn.executemany(_EDIT, writes.edits)

    def store_snapshots(
        self, snapshots: list[list[ArticleItem]], now: dt.datetime, *, fetched: bool = False
    ) -> list[StoreResult]:
        """Several snapshots in one transaction (group commit), each still stored on
        its own, in order (an edit between two of them is a revision)."""
        with self.db.atomic():
            return [self.store(items, now, fetched=fetched) for items in snapshots]

    def article(self, article_id: str) -> ArticleRow | None:
        row = self._one(f"SELECT {columns(ArticleRow)} FROM articles WHERE id = ?", [article_id])
        return None if row is None else ArticleRow.from_sql(row)

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def revision_count(self) -> int:
        """How many revisions are stored (without reading them)."""
        return int(self.conn.execute("SELECT count(*) FROM revisions").fetchone()[0])

    def revisions(self, article_id: str | None = None) -> list[RevisionRow]:
        """The revisions of an article (all of them: None), in order."""
        sql = f"SELECT {columns(RevisionRow)} FROM revisions"
        if article_id is None:
            rows = self.db.query(sql + " ORDER BY id")
        else:
            rows = self.db.query(sql + " WHERE article_id = ? ORDER BY revision", [article_id])
        return [RevisionRow.from_sql(row) for row in rows]

    def last_revisions(self, article_ids: list[str]) -> dict[str, RevisionRow]:
        """The last revision (the version before its last edit) of each of ``article_ids``
        that was edited, by id: one query (per 500 ids), not one per article."""
        out: dict[str, RevisionRow] = {}
        for chunk in chunks(article_ids):
            sql = (
                f"SELECT {columns(RevisionRow)} FROM revisions WHERE id IN"
                " (SELECT max(id) FROM revisions"
                f" WHERE article_id IN ({marks(chunk)}) GROUP BY article_id)"
            )
            for row in self.db.query(sql, chunk):
                revision = RevisionRow.from_sql(row)
                out[revision.article_id] = revision
        return out

    def articles(
        self,
        *,
        search: str | None = None,
        since: str | None = None,
        limit: int | None = 20,
        order: str = "newest",
        lang: str | None = None,
        category: str | None = None,
        dated: bool | None = None,
    ) -> list[ArticleRow]:
        """Articles, newest first (publication date; undated ones by ``order_date``, else
        first seen; see schema.NEWEST) or oldest first; ``lang``: of that language only;
        ``category``: in that category (case ignored) only; ``dated``: only those with a
        known publication date (True), only those without (False: by when they were first
        stored, the order of ``seq``)."""
        where: list[str] = []
        params: list[Any] = []
        if search and (words := _fts_query(search)):
            where.append("rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
            params.append(words)
        if lang:
            where.append("lang = ?")
            params.append(lang)
        if category:
            where.append("EXISTS (SELECT 1 FROM json_each(articles.categories) WHERE lower(value) = lower(?))")
            params.append(category)
        if dated is not None:
            where.append("published_at IS NOT NULL" if dated else "published_at IS NULL")
        if since:
            where.append("COALESCE(published_at, first_seen_at) >= ?")
            params.append(since)
        sql = f"SELECT {columns(ArticleRow)} FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if dated is False:
            sql += " ORDER BY seq " + ("DESC" if order == "newest" else "ASC")
        else:
            sql += " ORDER BY " + (NEWEST_ORDER if order == "newest" else OLDEST_ORDER)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [ArticleRow.from_sql(row) for row in self.db.query(sql, params)]

    def change_marker(self) -> tuple[int, str]:
        """Changes whenever an article is added or edited (cheap; for feed caches)."""
        # max(rowid) and max(updated_at) are index look-ups (count(*) would read the table);
        # articles are never deleted, so a new one always raises max(rowid).
        (top,) = self.conn.execute("SELECT COALESCE(max(rowid), 0) FROM articles").fetchone()
        (edited,) = self.conn.execute("SELECT COALESCE(max(updated_at), '') FROM articles").fetchone()
        return int(top), str(edited)


def _fts_query(text: str) -> str:
    """User words as an FTS5 query: each word quoted, all required."""
    words = [w.replace('"', "") for w in text.split()]
    return " ".join(f'"{w}"' for w in words if w)
