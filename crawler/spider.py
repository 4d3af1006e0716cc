"""One spider, two modes: live (listings and article pages) and replay (text dumps)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dumps import DumpError, expand_paths, read_dump
from crawler.items import ArticleItem, ListingItem, SnapshotItem
from crawler.pages import PageError, parse_article, parse_listing
from crawler.urls import article_id, article_path_info, bare_host, canonical_url
from monitor.archive import Archive
from monitor.config import Config

log = logging.getLogger(__name__)

MAX_PAGES = 5000
POOL_MIN_FILES = 50  # fewer dumps than this are parsed in this process
PARSE_WORKERS = 2
PARSE_AHEAD = 64  # dumps parsed ahead of the pipeline, at most  # a safety net for --full on a site that paginates forever


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _slot(url: str) -> str:
    """One download slot per site: icesco.org and www.icesco.org are one server, asked
    one request at a time."""
    return bare_host(urlsplit(url).hostname or "")


def _page_text(response: Response) -> str:
    """The page as text. With no charset declared (header or <meta>), UTF-8 if the bytes
    are UTF-8, else windows-1252 (the web's default), never a guess."""
    declared = getattr(response, "_declared_encoding", lambda: None)()
    if declared or not hasattr(response, "text"):
        return response.text
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        return response.body.decode("windows-1252", errors="replace")


_WHY = {
    "DownloadCancelledError": "cancelled: larger than crawl.max_response_bytes",
    "ResponseDataLossError": "the body was cut off before its Content-Length",
    "ResponseNeverReceived": "no response (connection closed or reset)",
}


def _worker_init(parent: int) -> None:
    """Parse workers die with the crawl, even a killed one: they ask Linux for SIGKILL
    when the parent dies, and (where that is not delivered, as in some sandboxes) a
    watchdog thread exits once the parent is gone."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def parent_alive() -> bool:
        if os.getppid() != parent:
            return False
        try:
            with open(f"/proc/{parent}/stat", "rb") as f:
                return f.read().split(b") ", 1)[1][:1] not in (b"Z", b"X")
        except (OSError, IndexError):
            return False

    def watch() -> None:
        while parent_alive():
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ctype(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"no Content-Type").decode("latin-1")


class IcescoSpider(scrapy.Spider):
    name = "icesco"

    def __init__(
        self,
        config: Config,
        mode: str = "live",
        paths: list[str] | None = None,
        start_urls: list[str] | None = None,
        full: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.mode = mode
        self.paths = [Path(p) for p in (paths or [])]
        self.start_urls = list(start_urls or config.crawl.start_urls)
        self.full = full
        self.hosts = set(config.allowed_hosts)
        # Scrapy's offsite filter: no request, redirects included, leaves these hosts.
        self.allowed_domains = sorted(self.hosts)
        self.errors: list[str] = []
        self.pages = 0
        self.archive: Archive | None = None
        self.requested: set[str] = set()  # article ids asked for in this run
        self.stop_reason: str | None = None  # set when the run must stop (storing failed)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> IcescoSpider:
        spider: IcescoSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=scrapy.signals.spider_closed)
        crawler.signals.connect(spider._callback_error, signal=scrapy.signals.spider_error)
        return spider

    def _callback_error(self, failure: Failure, response: Response) -> None:
        """A bug or surprise while reading one page: counted, and the run goes on."""
        self.error(f"{response.url}: {failure.type.__name__}: {failure.getErrorMessage()}")

    def _closed(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def error(self, message: str) -> None:
        """A failure that stops one page or dump, never the run."""
        log.error(message)
        self.errors.append(message)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("icesco/errors")

    # --- start --------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        if self.stop_reason:  # the run could not even be recorded: fetch and read nothing
            return
        if self.mode == "replay":
            for item in self._replay():
                yield item
            return
        self.archive = Archive(self.config.database)
        for url in self.start_urls:
            # A start URL with no listing state yet is backfilled backfill_pages deep.
            backfill = self.archive.get_listing(canonical_url(url)) is None
            yield self._listing_request(url, page=1, backfill=backfill)
        for url, page in self.archive.pending_listings():  # left over by a failed run
            log.info("%s: listing page %d was not read last time, asking again", url, page)
            yield self._listing_request(url, page=page, backfill=False)
        for aid, url in self.archive.pending_articles():  # listed, but never stored (failure, crash)
            if url and aid not in self.requested:
                self.requested.add(aid)
                yield self._article_request(url, aid)
        now = utcnow()
        due = self.archive.due_for_revisit(
            now - dt.timedelta(hours=self.config.crawl.revisit_after_hours),
            now - dt.timedelta(days=self.config.crawl.revisit_max_age_days),
        )
        for url in due:
            yield self._article_request(url, None, revisit=True)

    def _article_request(self, url: str, aid: str | None, revisit: bool = False) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.failed,
            meta={"article_id": aid, "revisit": revisit, "download_slot": _slot(url)},
        )

    def _replay(self) -> Iterator[SnapshotItem]:
        try:
            files = expand_paths(self.paths)
        except DumpError as exc:
            self.error(str(exc))
            return
        total = 0
        for n, (path, (items, problem)) in enumerate(zip(files, self._read_all(files), strict=True), 1):
            if self.stop_reason:
                return
            if problem is not None:
                self.error(problem)
                continue
            self.pages += 1
            yield SnapshotItem(source=str(path), articles=items)
            total += len(items)
            if n % 100 == 0 or n == len(files):
                log.info("replay: %d/%d dumps read, %d articles", n, len(files), total)

    def _read_all(self, files: list[Path]) -> Iterator[tuple[list[ArticleItem], str | None]]:
        """Dumps parsed in file order; many of them in worker processes (the parser is
        pure Python: processes, not threads, use the other cores), a bounded number ahead."""
        workers = min(PARSE_WORKERS, os.cpu_count() or 1)
        if len(files) < POOL_MIN_FILES or workers < 2:
            yield from map(read_dump, files)
            return
        ahead: deque[Future[tuple[list[ArticleItem], str | None]]] = deque()
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        ) as pool:
            todo = iter(files)
            for path in itertools.islice(todo, PARSE_AHEAD):
                ahead.append(pool.submit(read_dump, path))
            while ahead:
                result = ahead.popleft().result()
                for path in itertools.islice(todo, 1):
                    ahead.append(pool.submit(read_dump, path))
                yield result

    # --- listings -----------------------------------------------------------------

    def _listing_request(self, url: str, page: int, backfill: bool) -> scrapy.Request:
        headers = {}
        assert self.archive is not None
        key = canonical_url(url)
        cached = self.archive.get_listing(key)
        if page > 1 and (cached is None or cached["status"] != "pending"):
            self.archive.mark_listing_pending(key, page)
        if cached:
            if cached["etag"]:
                headers["If-None-Match"] = cached["etag"]
            if cached["last_modified"]:
                headers["If-Modified-Since"] = cached["last_modified"]
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse_listing,
            errback=self.failed,
            meta={
                "page": page,
                "backfill": backfill,
                "handle_httpstatus_list": [304],
                "listing": True,
                "download_slot": _slot(url),
            },
        )

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        page = response.meta["page"]
        key = canonical_url(response.url)
        assert self.archive is not None
        backfill = bool(response.meta.get("backfill"))
        if response.status == 304:
            cached = self.archive.get_listing(key) or {"links": [], "next_url": None, "status": "ok"}
            links, next_url = cached["links"], cached.get("next_url")
            if cached["status"] != "ok":
                self.archive.listing_read(key)
        else:
            try:
                text = _page_text(response)
            except AttributeError:
                self.error(f"{response.url}: not an HTML page ({_ctype(response)})")
                return
            links, next_url = parse_listing(text, response.url, self.hosts)
            if not links:
                self.error(f"{response.url}: listing page with no article links")
        ids = {}
        for link in links:
            info = article_path_info(link)
            if info:
                ids[link] = article_id(info["lang"], info["slug"])
        known = self.archive.article_state(ids.values())
        needed = [link for link, aid in ids.items() if aid not in known]
        fresh = [link for link in needed if ids[link] not in self.requested]  # not listed twice
        # Remembered until stored: a failed fetch or a crash leaves them to the next run.
        self.archive.add_pending_articles([(ids[link], link) for link in fresh])
        for link in fresh:
            self.requested.add(ids[link])
            yield self._article_request(link, ids[link])
        if response.status != 304:
            yield ListingItem(
                url=key,
                links=links,
                page=page,
                next_url=next_url,
                etag=(response.headers.get("ETag") or b"").decode("latin-1") or None,
                last_modified=(response.headers.get("Last-Modified") or b"").decode("latin-1") or None,
            )
        # Listings are newest first: once the last article of a page is known, so is
        # everything after it. (A page whose articles are all known stops it too.)
        boundary = not ids or list(ids.values())[-1] in known
        go_on = next_url and page < MAX_PAGES and (
            self.full or (page < self.config.crawl.backfill_pages if backfill else not boundary)
        )
        log.info(
            "listing page %d (%s): %d articles, %d to fetch%s",
            page, "unchanged" if response.status == 304 else "fetched", len(ids), len(needed),
            f", {len(self.requested)} so far" if page > 1 else "",
        )
        if go_on and next_url:
            yield self._listing_request(next_url, page + 1, backfill)
        elif next_url:
            log.info("%s: page %d holds nothing new, pagination stops", response.url, page)

    # --- articles -----------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        try:
            item = parse_article(_page_text(response), response.url)
        except AttributeError:
            self.error(f"{response.url}: not an HTML page ({_ctype(response)})")
            return
        except PageError as exc:
            self.error(str(exc))
            return
        if not item.slug:
            self.error(f"{response.url}: not an article URL (/lang/YYYY/MM/DD/slug/)")
            return
        item.snapshot = "live"
        yield item

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        response = getattr(failure.value, "response", None)
        # Named by the URL the crawl asked for, not the last hop of a redirect.
        asked = (request.meta.get("redirect_urls") or [request.url])[0]
        if request.meta.get("listing") and response is not None and response.status in (404, 410):
            if request.meta.get("page", 1) > 1 and self.archive is not None:
                self.archive.drop_listing(canonical_url(request.url))  # the site has fewer pages now
        aid = request.meta.get("article_id")
        if aid and self.archive is not None:
            gone = response is not None and response.status in (404, 410)
            self.archive.article_fetch_failed(aid, give_up=gone)
        if response is not None:
            self.error(f"{asked}: HTTP {response.status}")
        else:
            name = failure.type.__name__
            why = failure.getErrorMessage().strip() or _WHY.get(name, "failed")
            self.error(f"{asked}: {name}: {why}")
