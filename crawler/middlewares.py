"""Downloader middlewares: retries with backoff that honour ``Retry-After``; the address guard;
checked redirects. (robots.txt: :mod:`crawler.robots`.)"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.addresses import internal, parse_allowed, permits
from crawler.urls import host_allowed

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

    async def _wait(self, seconds: float, request: Request | None = None) -> None:
        """Wait, sending nothing: the engine is paused, and the site's download slot
        holds back what it already has queued."""
        if seconds <= 0:
            return
        engine = self.crawler.engine
        slot = None
        if engine is not None:
            engine.pause()
            if request is not None:
                key = request.meta.get("download_slot") or urlsplit(request.url).hostname or ""
                slot = engine.downloader.slots.get(key)
        saved = slot.delay if slot is not None else 0.0
        if slot is not None:
            slot.delay = max(saved, 2 * seconds)  # ×2: the slot's jitter may halve it
            slot.lastseen = time.monotonic()
        try:
            await asyncio.sleep(seconds)
        finally:
            if slot is not None:
                slot.delay = saved
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
            log.warning(
                "%s: server asks to wait %.0fs (Retry-After), more than %.0fs: giving up",
                request.url,
                asked,
                self.max_delay,
            )
            return response
        delay = asked if asked is not None else self.base * (2**attempt)
        log.info("%s: HTTP %s, retrying in %.1fs", request.url, response.status, delay)
        await self._wait(delay, request)
        return self._retry(request, f"HTTP {response.status}") or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        attempt = request.meta.get("retry_times", 0)
        if attempt < self.max_retry_times:
            await self._wait(self.base * (2**attempt), request)
        return self._retry(request, exception)


class AddressGuardMiddleware:
    """Fetch only http(s), and never from a private, loopback, link-local or otherwise
    internal address unless that address was configured explicitly (an IP literal in
    ``crawl.hosts`` or a start URL, or ``crawl.allow_addresses``). A host name that
    resolves to such an address (a DNS trick, a redirect) is refused."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allowed = [parse_allowed(a) for a in crawler.settings.getlist("ICESCO_ALLOW_ADDRESSES")]
        self.verdicts: dict[tuple[str, int | None], str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    def _internal(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None) -> bool:
        return internal(addr) and not permits(self.allowed, addr, port)

    async def _verdict(self, host: str, port: int | None) -> str | None:
        try:
            addrs = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None)
            except OSError:
                return None  # the download itself will fail and say so
            addrs = [ipaddress.ip_address(info[4][0]) for info in infos]
        for addr in addrs:
            if self._internal(addr, port):
                where = f"{addr} port {port}" if port and any(addr in n for n, _ in self.allowed) else str(addr)
                return (
                    f"{host} is {where}, an internal address: not fetched"
                    " (list it in crawl.hosts as an address, or in crawl.allow_addresses, to crawl it)"
                )
        return None

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise IgnoreRequest(f"only http(s) is fetched, not {parts.scheme}:")
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (host, port) not in self.verdicts:
            self.verdicts[(host, port)] = await self._verdict(host, port)
        verdict = self.verdicts[(host, port)]
        if verdict is not None:
            raise IgnoreRequest(verdict)


class CheckedRedirectMiddleware(RedirectMiddleware):
    """Redirects that would leave the allowed hosts, or go round in a loop, are refused
    here, so that the run reports them (Scrapy would drop them silently)."""

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        spider = self.crawler.spider
        hosts: set[str] = getattr(spider, "hosts", set())
        if hosts and not host_allowed(redirected.url, hosts):
            raise IgnoreRequest(f"redirect to another host refused: {redirected.url}")
        # Exact URLs: /news -> /news/ and http -> https are one canonical URL, not a loop.
        seen = {u.split("#")[0] for u in [*request.meta.get("redirect_urls", []), request.url]}
        if redirected.url.split("#")[0] in seen:
            raise IgnoreRequest(f"redirect loop: {request.url} -> {redirected.url}")
        return super()._redirect(redirected, request, reason)
