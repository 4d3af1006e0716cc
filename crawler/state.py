"""What the crawler needs to know between runs, as an interface: ``monitor`` implements it
(the archive) and hands it in, so ``crawler`` imports nothing of the other packages.

- :class:`CrawlOptions`: the settings of one crawl (from the operator's config).
- :class:`CrawlState`: the incremental state (listing pages, pending articles, what is
  stored, sources and their cursors, robots.txt), read and written during a crawl; the
  rows it returns are the frozen dataclasses below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from crawler.site import ICESCO, SiteProfile


@dataclass
class CrawlOptions:
    """The settings of a crawl: what to read and how (defaults: those of ``crawl.*``)."""

    start_urls: list[str] = field(default_factory=list)
    site: SiteProfile = ICESCO  # the site crawled, on the hosts the crawl may fetch from
    source: str = "auto"  # auto, rest, feed or html
    source_recheck_hours: float = 24.0
    backfill_pages: int = 5
    rest_per_page: int = 100
    revisit_after_hours: float = 24.0
    revisit_max_age_days: float = 14.0
    max_dump_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class ListingRow:
    """A listing page as last read: its validators and the article links it held."""

    url: str
    page: int | None
    status: str  # ok; pending: asked for but not read yet (the next run asks again)
    etag: str | None
    last_modified: str | None
    links: tuple[str, ...]
    next_url: str | None
    fetched_at: str | None


@dataclass(frozen=True)
class SourceRow:
    """How a start URL is read (rest, feed or html), what discovery found, and where the
    source was read up to (the REST cursor, the feed's validators). ``SourceRow(url)``:
    nothing known yet."""

    start_url: str
    mode: str | None = None
    api_root: str | None = None
    category_id: int | None = None
    categories: dict[int, str] = field(default_factory=dict)  # the site's category names (REST)
    feed_url: str | None = None
    feed_etag: str | None = None
    feed_last_modified: str | None = None
    cursor: str | None = None
    checked_at: str | None = None  # when the listing was last read to choose the source
    last_error: str | None = None  # why a better source was not used


@dataclass(frozen=True)
class RobotsRow:
    """A host's robots.txt answer as kept."""

    host: str
    status: int
    body: bytes | None
    fetched_at: str


@dataclass(frozen=True)
class StoredArticle:
    """What the crawler needs to know of a stored article it meets on a listing."""

    url: str | None  # None: known from a dump only
    published_at: str | None
    last_fetched_at: str | None


class CrawlState(Protocol):
    """The archive's side of incremental crawling (``monitor.archive.Archive``)."""

    def close(self) -> None: ...

    # listing pages
    def get_listing(self, url: str) -> ListingRow | None: ...
    def mark_listing_pending(self, url: str, page: int) -> None: ...
    def listing_read(self, url: str) -> None: ...
    def drop_listing(self, url: str) -> None: ...
    def pending_listings(self) -> list[tuple[str, int]]: ...

    # articles
    def article_state(self, ids: Iterable[str]) -> dict[str, StoredArticle]: ...
    def add_pending_articles(self, pairs: list[tuple[str, str]]) -> None: ...
    def pending_articles(self) -> list[tuple[str, str]]: ...
    def article_fetch_failed(self, article_id: str, *, give_up: bool) -> None: ...
    def due_for_revisit(self, fetched_before: dt.datetime, published_after: dt.datetime) -> list[str]: ...

    # sources (REST, feed, HTML) per start URL
    def source(self, start_url: str) -> SourceRow | None: ...
    def save_source(self, start_url: str, **values: Any) -> None: ...

    # robots.txt, kept a day
    def robots(self, host: str) -> RobotsRow | None: ...
    def save_robots(self, host: str, status: int, body: bytes, now: dt.datetime) -> None: ...
