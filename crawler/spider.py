"""One spider, two modes: live (listings and article pages) and replay (text dumps)."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.dumps import DumpError, expand_paths, read_dump
from crawler.items import ArticleItem, ListingItem, SnapshotItem
from crawler.pages import PageError, parse_article, parse_listing
from crawler.resolver import refusal
from crawler.state import CrawlOptions, CrawlState
from crawler.urls import article_id, article_path_info, bare_host, canonical_url
from crawler.wordpress import (
    SourceError,
    categories_query,
    discover,
    parse_categories,
    parse_feed,
    parse_posts,
    posts_query,
    unknown_categories,
)

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


class NotText(ValueError):
    """A response that is not a text page (an image, a PDF, a download)."""


def _page_text(response: Response) -> str:
    """The page as text. With no charset declared (header or <meta>), UTF-8 if the bytes
    are UTF-8, else windows-1252 (the web's default), never a guess. (``_declared_encoding``
    is Scrapy's; tests/test_scrapy_contract.py fails if an upgrade changes it.)"""
    if not isinstance(response, TextResponse):
        raise NotText(f"{response.url}: not an HTML page ({_ctype(response)})")
    if response._declared_encoding():
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
        options: CrawlOptions,
        state: Callable[[], CrawlState] | None = None,
        mode: str = "live",
        paths: list[str] | None = None,
        start_urls: list[str] | None = None,
        full: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.options = options
        self.open_state = state  # opened when a live crawl starts (a replay needs none)
        self.mode = mode
        self.paths = [Path(p) for p in (paths or [])]
        self.start_urls = list(start_urls or options.start_urls)
        self.full = full
        self.hosts = set(options.hosts)
        # Scrapy's offsite filter: no request, redirects included, leaves these hosts.
        self.allowed_domains = sorted(self.hosts)
        self.errors: list[str] = []
        self.pages = 0
        self.state: CrawlState | None = None
        self.requested: set[str] = set()  # article ids asked for in this run
        self.stop_reason: str | None = None  # set when the run must stop (storing failed)
        self.alarms: list[str] = []  # what could not be read: the layout or a source changed
        self.readable: set[str] = set()  # start URLs that gave something readable this run
        self.source_updates: dict[str, dict[str, Any]] = {}  # saved once the run's articles are stored
        self.revisits_done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> IcescoSpider:
        spider: IcescoSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=scrapy.signals.spider_closed)
        crawler.signals.connect(spider._callback_error, signal=scrapy.signals.spider_error)
        return spider

    def _callback_error(self, failure: Failure, response: Response | None = None) -> None:
        """A bug or surprise while reading one page: counted, and the run goes on."""
        where = response.url if response is not None else "replay" if self.mode == "replay" else "crawl"
        self.error(f"{where}: {failure.type.__name__}: {failure.getErrorMessage()[:300]}")

    def _closed(self) -> None:
        if self.state is not None:
            self.state.close()

    def robots_store(self) -> CrawlState | None:
        return self.state

    def alarm(self, message: str) -> None:
        """Something that should be readable was not: a listing with no article links, an
        article with no title or body, a REST or feed answer that cannot be read."""
        self.alarms.append(message)
        self.error(message)

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
        assert self.open_state is not None, "a live crawl needs its state"
        self.state = self.open_state()
        now = utcnow()
        recheck = dt.timedelta(hours=self.options.source_recheck_hours)
        wanted = self.options.source
        html_mode = False
        for url in self.start_urls:
            key = canonical_url(url)
            src = self.state.source(key) or {}
            checked = src.get("checked_at")
            stale = (
                self.full or not src.get("mode") or not checked
                or now - dt.datetime.fromisoformat(checked) >= recheck
                or (wanted != "auto" and src.get("mode") != wanted)
            )
            if stale:
                yield self._listing_request(url, page=1, backfill=self._backfill(key), start=url, discover=True)
            elif src["mode"] == "rest":
                yield self._rest_request(url, src)
            elif src["mode"] == "feed":
                yield self._feed_request(url, src)
            else:
                html_mode = True
                yield self._listing_request(url, page=1, backfill=self._backfill(key), start=url)
        for url, page in self.state.pending_listings():  # left over by a failed run
            log.info("%s: listing page %d was not read last time, asking again", url, page)
            yield self._listing_request(url, page=page, backfill=False)
        for aid, url in self.state.pending_articles():  # listed, but never stored (failure, crash)
            if url and aid not in self.requested:
                self.requested.add(aid)
                yield self._article_request(url, aid)
        if html_mode:
            for request in self._revisits():
                yield request

    def _backfill(self, key: str) -> bool:
        """A start URL with no listing state yet is backfilled backfill_pages deep."""
        assert self.state is not None
        return self.state.get_listing(key) is None

    def _revisits(self) -> Iterator[scrapy.Request]:
        """Known young articles whose page is due to be fetched again (edits come early);
        for sources that cannot say what changed (HTML listings, a feed that changed)."""
        if self.revisits_done or self.state is None:
            return
        self.revisits_done = True
        now = utcnow()
        due = self.state.due_for_revisit(
            now - dt.timedelta(hours=self.options.revisit_after_hours),
            now - dt.timedelta(days=self.options.revisit_max_age_days),
        )
        for url in due:
            yield self._article_request(url, None, revisit=True)

    def _article_request(self, url: str, aid: str | None, revisit: bool = False, start: str | None = None) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.failed,
            meta={"article_id": aid, "revisit": revisit, "download_slot": _slot(url), "start": start},
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
            yield from (read_dump(f, self.options.max_dump_bytes) for f in files)
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
                ahead.append(pool.submit(read_dump, path, self.options.max_dump_bytes))
            while ahead:
                result = ahead.popleft().result()
                for path in itertools.islice(todo, 1):
                    ahead.append(pool.submit(read_dump, path, self.options.max_dump_bytes))
                yield result

    # --- listings -----------------------------------------------------------------

    def _listing_request(
        self, url: str, page: int, backfill: bool, start: str | None = None, discover: bool = False,
        no_rest: bool = False,
    ) -> scrapy.Request:
        headers = {}
        assert self.state is not None
        key = canonical_url(url)
        cached = self.state.get_listing(key)
        if page > 1 and (cached is None or cached["status"] != "pending"):
            self.state.mark_listing_pending(key, page)
        if cached and not discover:  # discovery needs the page itself, not a 304
            if cached["etag"]:
                headers["If-None-Match"] = cached["etag"]
            if cached["last_modified"]:
                headers["If-Modified-Since"] = cached["last_modified"]
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse_listing,
            errback=self.failed,
            dont_filter=discover,
            meta={
                "page": page,
                "backfill": backfill,
                "handle_httpstatus_list": [304],
                "listing": True,
                "download_slot": _slot(url),
                "start": start,
                "discover": discover,
                "no_rest": no_rest,
            },
        )

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        meta = response.meta
        start = meta.get("start")
        assert self.state is not None
        if response.status == 304:
            cached = self.state.get_listing(canonical_url(response.url)) or {"links": [], "next_url": None, "status": "ok"}
            if cached["status"] != "ok":
                self.state.listing_read(canonical_url(response.url))
            if start:
                self.readable.add(start)
            yield from self._handle_listing(response.url, meta, cached["links"], cached.get("next_url"), None)
            return
        try:
            text = _page_text(response)
        except NotText as exc:
            self.error(str(exc))
            return
        links, next_url = parse_listing(text, response.url, self.hosts)
        validators = (
            (response.headers.get("ETag") or b"").decode("latin-1") or None,
            (response.headers.get("Last-Modified") or b"").decode("latin-1") or None,
        )
        listing = {"url": response.url, "links": links, "next_url": next_url, "validators": validators}
        if meta.get("discover") and start:
            found = discover(text, response.url, (response.headers.get("Link") or b"").decode("latin-1"), self.hosts)
            yield from self._choose_source(start, found, listing, no_rest=bool(meta.get("no_rest")))
            return
        yield from self._handle_listing(response.url, meta, links, next_url, validators)

    def _handle_listing(
        self, url: str, meta: dict[str, Any], links: list[str], next_url: str | None,
        validators: tuple[str | None, str | None] | None,
    ) -> Iterator[Any]:
        """The article links of a listing page: unknown ones fetched, then the next page
        while it may hold something new."""
        assert self.state is not None
        page, start = meta["page"], meta.get("start")
        key = canonical_url(url)
        if validators is not None:
            if links and start:
                self.readable.add(start)
            elif not links:
                self.alarm(f"{url}: listing page with no article links: has the site's layout changed?")
        backfill = bool(meta.get("backfill"))
        ids = {}
        for link in links:
            info = article_path_info(link)
            if info:
                ids[link] = article_id(info["lang"], info["slug"])
        known = self.state.article_state(ids.values())
        # Known only from a dump (no URL yet): fetched once, so the row gains its URL and dates.
        needed = [link for link, aid in ids.items() if aid not in known or not known[aid].get("url")]
        fresh = [link for link in needed if ids[link] not in self.requested]  # not listed twice
        # Remembered until stored: a failed fetch or a crash leaves them to the next run.
        self.state.add_pending_articles([(ids[link], link) for link in fresh])
        for link in fresh:
            self.requested.add(ids[link])
            yield self._article_request(link, ids[link], start=start)
        if validators is not None:
            yield ListingItem(url=key, links=links, page=page, next_url=next_url, etag=validators[0],
                              last_modified=validators[1])
        # Listings are newest first: once the last article of a page is known, so is
        # everything after it. (A page whose articles are all known stops it too.)
        boundary = not ids or list(ids.values())[-1] in known
        go_on = next_url and page < MAX_PAGES and (
            self.full or (page < self.options.backfill_pages if backfill else not boundary)
        )
        log.info(
            "listing page %d (%s): %d articles, %d to fetch%s",
            page, "unchanged" if validators is None else "fetched", len(ids), len(needed),
            f", {len(self.requested)} so far" if page > 1 else "",
        )
        if go_on and next_url:
            yield self._listing_request(next_url, page + 1, backfill, start=start)
        elif next_url:
            log.info("%s: page %d holds nothing new, pagination stops", url, page)

    # --- choosing a source ------------------------------------------------------------

    def _choose_source(self, start: str, found: Any, listing: dict[str, Any], no_rest: bool) -> Iterator[Any]:
        """REST API if the listing names one (and the config allows it), else the
        category feed, else the HTML listings."""
        assert self.state is not None
        key = canonical_url(start)
        wanted = self.options.source
        self.state.save_source(
            key, checked_at=iso_now(), api_root=found.api_root, category_id=found.category_id, feed_url=found.feed_url,
        )
        if wanted in ("auto", "rest") and found.posts_url and not no_rest:
            src = self.state.source(key) or {}
            if found.category_id in (src.get("categories") or {}):  # names known: no request for them
                yield self._rest_request(start, src, listing=listing)
            else:
                assert found.api_root
                yield self._categories_request(start, found.api_root, listing)
            return
        why = None
        if wanted in ("auto", "rest") and not no_rest and not found.posts_url:
            why = "the listing names no REST API for its category"
        yield from self._fallback(start, listing, why, rest_tried=not no_rest and wanted in ("auto", "rest"))

    def _fallback(self, start: str, listing: dict[str, Any] | None, why: str | None, rest_tried: bool = True) -> Iterator[Any]:
        """The next source down: the feed, else HTML. With no listing page in hand (the
        source failed in a steady-state poll), the listing is read again to re-choose."""
        assert self.state is not None
        key = canonical_url(start)
        if listing is None:
            self.state.save_source(key, checked_at=None, last_error=why)
            yield self._listing_request(start, page=1, backfill=False, start=start, discover=True, no_rest=rest_tried)
            return
        src = self.state.source(key) or {}
        wanted = self.options.source
        if wanted in ("auto", "feed") and src.get("feed_url"):
            self.state.save_source(key, mode="feed", last_error=why)
            yield self._feed_request(start, src, listing)
            return
        if why is None and wanted in ("auto", "feed"):
            why = "the listing names no feed for its category"
        self.state.save_source(key, mode="html", last_error=why)
        yield from self._revisits()
        yield from self._handle_listing(listing["url"], {"page": 1, "start": start, "backfill": self._backfill(key)},
                                        listing["links"], listing["next_url"], listing["validators"])

    # --- the REST API ---------------------------------------------------------------

    def _categories_request(self, start: str, api_root: str, listing: dict[str, Any] | None, page: int = 1) -> scrapy.Request:
        """The names of the site's categories (REST posts carry only their ids): asked at
        the first discovery, and again when a post names a category not known yet."""
        return scrapy.Request(
            categories_query(api_root),
            headers={"Accept": "application/json"},
            callback=self.parse_categories,
            errback=self.rest_failed,
            meta={"start": start, "listing": False, "fallback": listing, "download_slot": _slot(api_root),
                  "rest_page": page},
            dont_filter=True,
        )

    def parse_categories(self, response: Response) -> Iterator[Any]:
        self.pages += 1
        start, listing = response.meta["start"], response.meta["fallback"]
        assert self.state is not None
        key = canonical_url(start)
        try:
            categories = parse_categories(self._json_text(response), response.url)
        except SourceError as exc:
            yield from self._rest_unreadable(start, listing, exc)
            return
        self.state.save_source(key, categories=categories)
        src = self.state.source(key) or {}
        yield self._rest_request(start, src, page=response.meta["rest_page"], listing=listing, names_fresh=True)

    def _rest_request(
        self, start: str, src: dict[str, Any], page: int = 1, listing: dict[str, Any] | None = None,
        names_fresh: bool = False,
    ) -> scrapy.Request:
        cursor = src.get("cursor")  # the stored one: later pages of this run ask the same question
        most = self.options.rest_per_page
        per_page = most if cursor or self.full else min(most, self.options.backfill_pages * 10)
        url = posts_query(src["api_root"] + "wp/v2/posts", src["category_id"], modified_after=cursor, page=page,
                          per_page=per_page)
        return scrapy.Request(
            url,
            headers={"Accept": "application/json"},
            callback=self.parse_rest,
            errback=self.rest_failed,
            dont_filter=True,
            meta={"start": start, "page": page, "cursor": cursor, "fallback": listing, "listing": False,
                  "download_slot": _slot(url), "source": src, "names_fresh": names_fresh},
        )

    def _rest_unreadable(self, start: str, listing: dict[str, Any] | None, exc: SourceError) -> Iterator[Any]:
        """A REST answer that is not JSON at all (switched off, a security plugin's page):
        the next source down. JSON that is not what WordPress sends: an alarm as well."""
        if not isinstance(exc, _SwitchedOff):
            self.alarm(str(exc))
        yield from self._fallback(start, listing, str(exc))

    def _json_text(self, response: Response) -> str:
        ctype = _ctype(response).lower()
        if "json" not in ctype:
            raise _SwitchedOff(f"{response.url}: the REST API answered {ctype}, not JSON (switched off?)")
        return response.body.decode("utf-8", errors="replace")

    def parse_rest(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        meta = response.meta
        start, src, listing = meta["start"], meta["source"], meta.get("fallback")
        assert self.state is not None
        key = canonical_url(start)
        try:
            text = self._json_text(response)
            if not meta.get("names_fresh") and unknown_categories(text, src.get("categories") or {}):
                yield self._categories_request(start, src["api_root"], listing, page=meta["page"])
                return
            items, newest = parse_posts(text, response.url, self.hosts, src.get("categories") or {})
        except SourceError as exc:
            yield from self._rest_unreadable(start, listing, exc)
            return
        self.readable.add(start)
        if meta["page"] == 1:
            self.state.save_source(key, mode="rest", last_error=None)
        for item in items:
            self.requested.add(item.id)
            item.snapshot = "live"
            yield item
        self._advance_cursor(key, newest, response)
        pages = _int_header(response, "X-WP-TotalPages")
        if meta["page"] < pages and (meta["cursor"] or self.full):
            yield self._rest_request(start, src, meta["page"] + 1)
        if listing and meta["page"] == 1:  # scheduled posts and the like: listed, but not changed since the cursor
            yield from self._missing_from_listing(start, listing["links"])

    def _advance_cursor(self, key: str, newest: str | None, response: Response) -> None:
        """The REST cursor moves to the newest change stored, but never closer than 2 s to
        the server's clock (a post saved in the same second may not be in this answer);
        saved only once the run's articles are stored."""
        if newest is None:
            return
        cursor = dt.datetime.fromisoformat(newest.replace("Z", "+00:00"))
        date = response.headers.get("Date")
        if date:
            try:
                server = email.utils.parsedate_to_datetime(date.decode("latin-1"))
                cursor = min(cursor, server - dt.timedelta(seconds=2))
            except (TypeError, ValueError):
                pass
        update = self.source_updates.setdefault(key, {})
        old = update.get("cursor") or response.meta.get("cursor")
        value = cursor.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if old is None or value > old:
            update["cursor"] = value

    def _missing_from_listing(self, start: str, links: list[str]) -> Iterator[scrapy.Request]:
        assert self.state is not None
        ids = {link: article_id(i["lang"], i["slug"]) for link in links if (i := article_path_info(link))}
        known = self.state.article_state(ids.values())
        for link, aid in ids.items():
            if (aid not in known or not known[aid].get("url")) and aid not in self.requested:
                self.requested.add(aid)
                self.state.add_pending_articles([(aid, link)])
                yield self._article_request(link, aid, start=start)

    def rest_failed(self, failure: Failure) -> Iterator[Any]:
        """The REST API refused (401, 403, 404… a security plugin) or failed: the next
        source down. A network failure is an error of this run, not a reason to switch."""
        request = failure.request  # type: ignore[attr-defined]
        response = getattr(failure.value, "response", None)
        start, listing = request.meta["start"], request.meta.get("fallback")
        if response is None:
            self.failed(failure)
            if listing is not None:
                yield from self._fallback(start, listing, None)
            return
        self.pages += 1
        why = f"{request.url}: HTTP {response.status}: the REST API is not usable"
        log.warning("%s; reading %s another way", why, start)
        yield from self._fallback(start, listing, why)

    # --- the category feed ----------------------------------------------------------

    def _feed_request(self, start: str, src: dict[str, Any], listing: dict[str, Any] | None = None) -> scrapy.Request:
        headers = {}
        if src.get("feed_etag"):
            headers["If-None-Match"] = src["feed_etag"]
        if src.get("feed_last_modified"):
            headers["If-Modified-Since"] = src["feed_last_modified"]
        url = src["feed_url"]
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse_feed,
            errback=self.feed_failed,
            dont_filter=True,
            meta={"start": start, "fallback": listing, "listing": False, "handle_httpstatus_list": [304],
                  "download_slot": _slot(url)},
        )

    def parse_feed(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        start, listing = response.meta["start"], response.meta.get("fallback")
        key = canonical_url(start)
        assert self.state is not None
        if response.status == 304:
            self.readable.add(start)
            return
        try:
            items = parse_feed(response.body.decode("utf-8", errors="replace"), response.url, self.hosts)
        except SourceError as exc:
            self.alarm(str(exc))
            self.state.save_source(key, mode="html", checked_at=None, last_error=str(exc))
            if listing is None:
                yield self._listing_request(start, page=1, backfill=False, start=start)
            else:
                yield from self._handle_listing(listing["url"], {"page": 1, "start": start, "backfill": self._backfill(key)},
                                                listing["links"], listing["next_url"], listing["validators"])
            return
        self.readable.add(start)
        for item in items:
            if item.id in self.requested:
                continue
            self.requested.add(item.id)
            item.snapshot = "live"
            yield item
        self.source_updates.setdefault(key, {}).update(
            feed_etag=(response.headers.get("ETag") or b"").decode("latin-1") or None,
            feed_last_modified=(response.headers.get("Last-Modified") or b"").decode("latin-1") or None,
        )
        if listing is not None:  # the first poll: the listings backfill what the feed does not hold
            yield from self._handle_listing(listing["url"], {"page": 1, "start": start, "backfill": self._backfill(key)},
                                            listing["links"], listing["next_url"], listing["validators"])
        yield from self._revisits()  # the feed changed: something may have been edited

    def feed_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        start, listing = request.meta["start"], request.meta.get("fallback")
        self.failed(failure)
        assert self.state is not None
        key = canonical_url(start)
        if listing is not None:
            self.state.save_source(key, mode="html")
            yield from self._handle_listing(listing["url"], {"page": 1, "start": start, "backfill": self._backfill(key)},
                                            listing["links"], listing["next_url"], listing["validators"])

    # --- articles -----------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        try:
            text = _page_text(response)
        except NotText as exc:
            self.error(str(exc))
            return
        try:
            item = parse_article(text, response.url, self.hosts)
        except PageError as exc:
            self.alarm(str(exc))
            return
        if not article_path_info(item.url or ""):
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
            if request.meta.get("page", 1) > 1 and self.state is not None:
                self.state.drop_listing(canonical_url(request.url))  # the site has fewer pages now
                if response.status == 404:  # past the end: the site has fewer pages than it said
                    log.info("%s: past the last listing page (HTTP 404)", asked)
                    return
        aid = request.meta.get("article_id")
        if aid and self.state is not None:
            gone = response is not None and response.status in (404, 410)
            self.state.article_fetch_failed(aid, give_up=gone)
        if response is not None:
            self.error(f"{asked}: HTTP {response.status}")
        elif refused := refusal(urlsplit(asked).hostname or ""):
            self.error(f"{asked}: {refused}")
        else:
            name = failure.type.__name__
            why = failure.getErrorMessage().strip() or _WHY.get(name, "failed")
            self.error(f"{asked}: {name}: {why}")


class _SwitchedOff(SourceError):
    """A REST answer that is not JSON at all (a security plugin's HTML page)."""


def _int_header(response: Response, name: str) -> int:
    try:
        return int((response.headers.get(name) or b"1").decode("latin-1"))
    except ValueError:
        return 1


def iso_now() -> str:
    return utcnow().isoformat(timespec="seconds")
