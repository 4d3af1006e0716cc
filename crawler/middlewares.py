"""Retries with exponential backoff that honour ``Retry-After``."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class BackoffRetryMiddleware(RetryMiddleware):
    """Like Scrapy's RetryMiddleware, but waits before retrying: the server's
    ``Retry-After`` when it gives one (up to ``RETRY_MAX_DELAY``), else
    ``RETRY_BACKOFF_BASE * 2**attempt``. While it waits, the engine takes no new
    requests, so the site is left alone."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.base = crawler.settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.max_delay = crawler.settings.getfloat("RETRY_MAX_DELAY", 600.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        return cls(crawler)

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        engine = self.crawler.engine
        if engine is not None:
            engine.pause()
        try:
            await asyncio.sleep(seconds)
        finally:
            if engine is not None:
                engine.unpause()

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        attempt = request.meta.get("retry_times", 0)
        if attempt >= self.max_retry_times:
            return self._retry(request, f"HTTP {response.status}") or response
        asked = retry_after_seconds((response.headers.get("Retry-After") or b"").decode("latin-1"))
        if asked is not None and asked > self.max_delay:
            log.warning("%s: server asks to wait %.0fs (Retry-After), more than %.0fs: giving up", request.url, asked, self.max_delay)
            return response
        delay = asked if asked is not None else self.base * (2**attempt)
        log.info("%s: HTTP %s, retrying in %.1fs", request.url, response.status, delay)
        await self._wait(delay)
        return self._retry(request, f"HTTP {response.status}") or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        attempt = request.meta.get("retry_times", 0)
        if attempt < self.max_retry_times:
            await self._wait(self.base * (2**attempt))
        return self._retry(request, exception)
