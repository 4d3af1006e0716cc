"""The crawl frontier and what the crawler keeps between runs: listing pages, article
links listed but not stored yet, young articles due for a revisit, the source of each
start URL (REST, feed, HTML) and robots.txt per host. This part is what implements
:class:`crawler.state.CrawlState`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from crawler.items import ListingItem
from crawler.state import ListingRow, RobotsRow, SourceRow, StoredArticle
from feeds.rows import columns, json_list
from monitor.archive.connection import Part, chunks, iso, marks

MAX_FETCH_ATTEMPTS = 10  # a listed article that fails this often is given up (and reported)


class Frontier(Part):
    """The tables ``listing_cache``, ``pending_articles``, ``sources`` and ``robots``, and
    what the crawler reads of ``articles``."""

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

    def get_listing(self, url: str) -> ListingRow | None:
        row = self._one(f"SELECT {columns(ListingRow)} FROM listing_cache WHERE url = ?", [url])
        return None if row is None else ListingRow(**{**row, "links": json_list(row["links"])})

    def due_for_revisit(self, fetched_before: dt.datetime, published_after: dt.datetime) -> list[str]:
        """URLs of young articles whose page was last fetched before a time."""
        rows = self.conn.execute(
            "SELECT url FROM articles WHERE url IS NOT NULL AND last_fetched_at <= ?"
            " AND (published_at >= ? OR (published_at IS NULL AND first_seen_at >= ?))"
            " ORDER BY last_fetched_at LIMIT 500",
            (iso(fetched_before), iso(published_after)[:10], iso(published_after)),
        )
        return [r[0] for r in rows]

    def article_state(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        """What is stored of the articles among ``ids``, by id."""
        out: dict[str, StoredArticle] = {}
        for chunk in chunks(list(dict.fromkeys(ids))):
            for aid, *values in self.conn.execute(
                f"SELECT id, {columns(StoredArticle)} FROM articles WHERE id IN ({marks(chunk)})", chunk
            ):
                out[aid] = StoredArticle(*values)
        return out

    # --- sources and robots.txt -------------------------------------------------------

    def source(self, start_url: str) -> SourceRow | None:
        row = self._one(f"SELECT {columns(SourceRow)} FROM sources WHERE start_url = ?", [start_url])
        return None if row is None else _source(row)

    def sources(self) -> list[SourceRow]:
        return [_source(row) for row in self.db.query(f"SELECT {columns(SourceRow)} FROM sources ORDER BY start_url")]

    def save_source(self, start_url: str, **values: Any) -> None:
        if "categories" in values and isinstance(values["categories"], dict):
            values["categories"] = json.dumps({str(k): v for k, v in values["categories"].items()}, ensure_ascii=False)
        self.db.table("sources").upsert({"start_url": start_url, **values}, pk="start_url")

    def robots(self, host: str) -> RobotsRow | None:
        row = self._one(f"SELECT {columns(RobotsRow)} FROM robots WHERE host = ?", [host])
        return None if row is None else RobotsRow(**row)

    def save_robots(self, host: str, status: int, body: bytes, now: dt.datetime) -> None:
        self.db.table("robots").upsert(
            {"host": host, "status": status, "body": body, "fetched_at": iso(now)}, pk="host"
        )


def _source(row: dict[str, Any]) -> SourceRow:
    categories = {int(k): v for k, v in json.loads(row["categories"] or "{}").items()}
    return SourceRow(**{**row, "categories": categories})
