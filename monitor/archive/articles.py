"""Articles and their revisions: storing snapshots (what counts as an edit is decided
by :mod:`monitor.archive.edits`) and reading them back for feeds, pages and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from crawler.items import ArticleItem, normalise_text
from monitor.archive.connection import Part, chunks, iso
from monitor.archive.schema import NEWEST


@dataclass
class StoreResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


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


class Articles(Part):
    """The ``articles`` and ``revisions`` tables (and ``articles_fts``)."""

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
                for chunk in chunks(list(batch)):
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
            for chunk in chunks(list(batch)):
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
