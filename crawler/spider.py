"""One spider, two modes: live (listing pages, article pages, and the sources of
:mod:`crawler.sources`) and replay (text dumps, :mod:`crawler.replay`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from parsel import Selector
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.items import ListingItem
from crawler.pages import PageError, listing_links, parse_article
from crawler.replay import ReplayMixin
from crawler.resolver import refusal
from crawler.responses import WHY, NotText, conditional_headers, download_slot, page_text, utcnow
from crawler.sources import SourcesMixin
from crawler.state import CrawlOptions, CrawlState, SourceRow, StoredArticle
from crawler.urls import article_path_info, canonical_url
from crawler.wordpress import discover

log = logging.getLogger(__name__)

MAX_PAGES = 5000  # a safety net for --full on a site that paginates forever


class IcescoSpider(SourcesMixin, ReplayMixin, scrapy.Spider):
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
        self.site = options.site
        self.hosts = set(self.site.hosts)
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
            src = self.state.source(key) or SourceRow(key)
            checked = src.checked_at
            stale = (
                self.full
                or not src.mode
                or not checked
                or now - dt.datetime.fromisoformat(checked) >= recheck
                or (wanted != "auto" and src.mode != wanted)
            )
            if stale:
                yield self._listing_request(url, page=1, backfill=self._backfill(key), start=url, discover=True)
            elif src.mode == "rest":
                yield self._rest_request(url, src)
            elif src.mode == "feed":
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

    def _article_request(
        self, url: str, aid: str | None, revisit: bool = False, start: str | None = None
    ) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.failed,
            meta={"article_id": aid, "revisit": revisit, "download_slot": download_slot(url), "start": start},
        )

    # --- listings -----------------------------------------------------------------

    def _listing_request(
        self,
        url: str,
        page: int,
        backfill: bool,
        start: str | None = None,
        discover: bool = False,
        no_rest: bool = False,
    ) -> scrapy.Request:
        assert self.state is not None
        key = canonical_url(url)
        cached = self.state.get_listing(key)
        if page > 1 and (cached is None or cached.status != "pending"):
            self.state.mark_listing_pending(key, page)
        headers = {}
        if cached and not discover:  # discovery needs the page itself, not a 304
            headers = conditional_headers(cached.etag, cached.last_modified)
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
                "download_slot": download_slot(url),
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
            cached = self.state.get_listing(canonical_url(response.url))
            if cached is not None and cached.status != "ok":
                self.state.listing_read(canonical_url(response.url))
            if start:
                self.readable.add(start)
            links, next_url = (list(cached.links), cached.next_url) if cached else ([], None)
            yield from self._handle_listing(response.url, meta, links, next_url, None)
            return
        try:
            text = page_text(response)
        except NotText as exc:
            self.error(str(exc))
            return
        sel = Selector(text=text)
        links, next_url = listing_links(sel, response.url, self.hosts)
        validators = (
            (response.headers.get("ETag") or b"").decode("latin-1") or None,
            (response.headers.get("Last-Modified") or b"").decode("latin-1") or None,
        )
        listing = {"url": response.url, "links": links, "next_url": next_url, "validators": validators}
        if meta.get("discover") and start:
            found = discover(sel, response.url, (response.headers.get("Link") or b"").decode("latin-1"), self.hosts)
            yield from self._choose_source(start, found, listing, no_rest=bool(meta.get("no_rest")))
            return
        yield from self._handle_listing(response.url, meta, links, next_url, validators)

    def _listed(self, links: list[str]) -> tuple[dict[str, str], dict[str, StoredArticle]]:
        """The article ids of listed links, and what the archive knows of them."""
        assert self.state is not None
        ids = {link: aid for link in links if (aid := self.site.url_id(link))}
        return ids, self.state.article_state(ids.values())

    def _fetch_unknown(
        self, ids: dict[str, str], known: dict[str, StoredArticle], start: str | None
    ) -> Iterator[scrapy.Request]:
        """Listed articles the archive lacks, or knows only from a dump (no URL yet: fetched
        once, so the row gains its URL and dates); each asked for once per run, and
        remembered until stored (a failed fetch or a crash leaves them to the next run)."""
        assert self.state is not None
        fresh = [
            link for link, aid in ids.items() if (aid not in known or not known[aid].url) and aid not in self.requested
        ]
        self.state.add_pending_articles([(ids[link], link) for link in fresh])
        for link in fresh:
            self.requested.add(ids[link])
            yield self._article_request(link, ids[link], start=start)

    def _read_listing(self, start: str, listing: dict[str, Any]) -> Iterator[Any]:
        """The listing page read at discovery, handled as an HTML listing (page 1)."""
        meta = {"page": 1, "start": start, "backfill": self._backfill(canonical_url(start))}
        yield from self._handle_listing(
            listing["url"], meta, listing["links"], listing["next_url"], listing["validators"]
        )

    def _handle_listing(
        self,
        url: str,
        meta: dict[str, Any],
        links: list[str],
        next_url: str | None,
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
        ids, known = self._listed(links)
        fetches = list(self._fetch_unknown(ids, known, start))
        yield from fetches
        if validators is not None:
            yield ListingItem(
                url=key, links=links, page=page, next_url=next_url, etag=validators[0], last_modified=validators[1]
            )
        # Listings are newest first: once the last article of a page is known, so is
        # everything after it. (A page whose articles are all known stops it too.)
        boundary = not ids or list(ids.values())[-1] in known
        go_on = (
            next_url
            and page < MAX_PAGES
            and (self.full or (page < self.options.backfill_pages if backfill else not boundary))
        )
        log.info(
            "listing page %d (%s): %d articles, %d to fetch%s",
            page,
            "unchanged" if validators is None else "fetched",
            len(ids),
            len(fetches),
            f", {len(self.requested)} so far" if page > 1 else "",
        )
        if go_on and next_url:
            yield self._listing_request(next_url, page + 1, backfill, start=start)
        elif next_url:
            log.info("%s: page %d holds nothing new, pagination stops", url, page)

    # --- articles -----------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        if self.stop_reason:
            raise CloseSpider(self.stop_reason)
        self.pages += 1
        try:
            text = page_text(response)
        except NotText as exc:
            self.error(str(exc))
            return
        try:
            item = parse_article(text, response.url, self.site)
        except PageError as exc:
            self.alarm(str(exc))
            return
        if not article_path_info(item.url or ""):
            self.error(f"{response.url}: not an article URL (/lang/YYYY/MM/DD/slug/)")
            return
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
            why = failure.getErrorMessage().strip() or WHY.get(name, "failed")
            self.error(f"{asked}: {name}: {why}")
