"""robots.txt as RFC 9309 reads it, kept for a day.

- 2xx: its rules; 4xx: no rules; 5xx, 429 or unreachable: nothing is fetched from that
  host (Scrapy's own middleware would crawl everything then).
- A robots.txt that was read (2xx or 4xx) is kept up to ``ROBOTSTXT_CACHE_HOURS`` (24 h,
  as RFC 9309 section 2.4 allows) in the spider's store, so an idle poll costs no robots.txt
  request; failures are never kept.

Built on Scrapy's public API only (``engine.download_async``, ``Request`` meta
``dont_obey_robotstxt``) and Protego, the parser Scrapy ships with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol
from urllib.parse import urlsplit

from protego import Protego
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from crawler.resolver import refusal
from crawler.state import RobotsRow

log = logging.getLogger(__name__)

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


class RobotsStore(Protocol):
    """Where robots.txt answers are kept between runs (the archive implements it)."""

    def robots(self, host: str) -> RobotsRow | None: ...

    def save_robots(self, host: str, status: int, body: bytes, now: dt.datetime) -> None: ...


def rules_for(status: int, body: bytes) -> str:
    """The rules an answer stands for (RFC 9309 section 2.3.1)."""
    if status >= 500 or status == 429:
        return DISALLOW_ALL
    if status >= 400:
        return ""
    return body.decode("utf-8", errors="replace")


class CachedRobotsTxtMiddleware:
    DOWNLOAD_PRIORITY = 1000

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.agent = crawler.settings.get("USER_AGENT") or "*"
        self.max_age = dt.timedelta(hours=crawler.settings.getfloat("ROBOTSTXT_CACHE_HOURS", 24.0))
        self.parsers: dict[str, Protego] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CachedRobotsTxtMiddleware:
        return cls(crawler)

    def _store(self) -> RobotsStore | None:
        store = getattr(self.crawler.spider, "robots_store", None)
        return store() if callable(store) else None

    def _report(self, message: str) -> None:
        spider = self.crawler.spider
        if spider is not None and hasattr(spider, "error"):
            spider.error(message)
        else:
            log.error(message)

    async def _parser(self, request: Request) -> Protego:
        parts = urlsplit(request.url)
        netloc = parts.netloc
        lock = self.locks.setdefault(netloc, asyncio.Lock())
        async with lock:
            if netloc in self.parsers:
                return self.parsers[netloc]
            now = dt.datetime.now(dt.UTC)
            store = self._store()
            kept = store.robots(netloc) if store is not None else None
            if kept and now - dt.datetime.fromisoformat(kept.fetched_at) < self.max_age:
                rules = rules_for(int(kept.status), bytes(kept.body or b""))
            else:
                rules = await self._fetch(f"{parts.scheme}://{netloc}/robots.txt", netloc, store, now)
            self.parsers[netloc] = Protego.parse(rules)
            return self.parsers[netloc]

    async def _fetch(self, url: str, netloc: str, store: RobotsStore | None, now: dt.datetime) -> str:
        request = Request(
            url, priority=self.DOWNLOAD_PRIORITY, meta={"dont_obey_robotstxt": True}, callback=NO_CALLBACK
        )
        try:
            response: Response = await self.crawler.engine.download_async(request)  # type: ignore[union-attr]
        except Exception as exc:
            refused = refusal(netloc.rsplit(":", 1)[0].strip("[]"))
            if refused:
                self._report(f"{netloc}: robots.txt not fetched: {refused}; so nothing is fetched from it")
                return DISALLOW_ALL
            why = str(exc) or type(exc).__name__
            self._report(
                f"{netloc}: robots.txt unreachable ({type(exc).__name__}: {why}), so nothing is fetched from it (RFC 9309)"
            )
            return DISALLOW_ALL
        if response.status >= 500 or response.status == 429:
            self._report(
                f"{response.url}: HTTP {response.status}: robots.txt unavailable, so nothing is fetched from {netloc} (RFC 9309)"
            )
            return DISALLOW_ALL
        if store is not None:
            store.save_robots(netloc, response.status, response.body if response.status < 400 else b"", now)
        return rules_for(response.status, response.body)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt") or not request.url.startswith(("http://", "https://")):
            return
        parser = await self._parser(request)
        agent = request.headers.get(b"User-Agent") or self.agent
        if isinstance(agent, bytes):
            agent = agent.decode("latin-1")
        if not parser.can_fetch(request.url, agent):
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest("Forbidden by robots.txt")
