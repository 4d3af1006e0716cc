"""What the crawler needs to know between runs, as an interface: ``monitor`` implements it
(the archive) and hands it in, so ``crawler`` imports nothing of the other packages.

- :class:`CrawlOptions`: the settings of one crawl (from the operator's config).
- :class:`CrawlState`: the incremental state (listing pages, pending articles, what is
  stored, sources and their cursors, robots.txt), read and written during a crawl.
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


class CrawlState(Protocol):
    """The archive's side of incremental crawling (``monitor.archive.Archive``)."""

    def close(self) -> None: ...

    # listing pages
    def get_listing(self, url: str) -> dict[str, Any] | None: ...
    def mark_listing_pending(self, url: str, page: int) -> None: ...
    def listing_read(self, url: str) -> None: ...
    def drop_listing(self, url: str) -> None: ...
    def pending_listings(self) -> list[tuple[str, int]]: ...

    # articles
    def article_state(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def add_pending_articles(self, pairs: list[tuple[str, str]]) -> None: ...
    def pending_articles(self) -> list[tuple[str, str]]: ...
    def article_fetch_failed(self, article_id: str, *, give_up: bool) -> None: ...
    def due_for_revisit(self, fetched_before: dt.datetime, published_after: dt.datetime) -> list[str]: ...

    # sources (REST, feed, HTML) per start URL
    def source(self, start_url: str) -> dict[str, Any] | None: ...
    def save_source(self, start_url: str, **values: Any) -> None: ...

    # robots.txt, kept a day
    def robots(self, host: str) -> dict[str, Any] | None: ...
    def save_robots(self, host: str, status: int, body: bytes, now: dt.datetime) -> None: ...
