"""How a start URL is read: the REST API, else the category feed, else the HTML listings
(chosen from the listing page, re-checked daily), as a mixin of the spider."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.responses import conditional_headers, content_type, download_slot, utcnow
from crawler.site import SiteProfile
from crawler.state import CrawlOptions, CrawlState, SourceRow, StoredArticle
from crawler.urls import canonical_url
from crawler.wordpress import (
    SourceError,
    categories_query,
    load_json,
    parse_categories,
    parse_feed,
    parse_posts,
    posts_query,
    unknown_categories,
)

log = logging.getLogger(__name__)


class SourcesMixin:
    """REST, feed and the choice between them and HTML. The spider provides the state,
    the options and the HTML listing steps."""

    options: CrawlOptions
    state: CrawlState | None
    site: SiteProfile
    full: bool
    pages: int
    stop_reason: str | None
    requested: set[str]
    readable: set[str]
    source_updates: dict[str, dict[str, Any]]

    # provided by the spider
    def alarm(self, message: str) -> None:
        raise NotImplementedError

    def failed(self, failure: Failure) -> None:
        raise NotImplementedError

    def _revisits(self) -> Iterator[scrapy.Request]:
        raise NotImplementedError

    def _article_request(
        self, url: str, aid: str | None, revisit: bool = False, start: str | None = None
    ) -> scrapy.Request:
        raise NotImplementedError

    def _listing_request(
        self,
        url: str,
        page: int,
        backfill: bool,
        start: str | None = None,
        discover: bool = False,
        no_rest: bool = False,
    ) -> scrapy.Request:
        raise NotImplementedError

    def _read_listing(self, start: str, listing: dict[str, Any]) -> Iterator[Any]:
        raise NotImplementedError

    def _listed(self, links: list[str]) -> tuple[dict[str, str], dict[str, StoredArticle]]:
        raise NotImplementedError

    def _fetch_unknown(
        self, ids: dict[str, str], known: dict[str, StoredArticle], start: str | None
    ) -> Iterator[scrapy.Request]:
        raise NotImplementedError

    # --- choosing a source ------------------------------------------------------------

    def _choose_source(self, start: str, found: Any, listing: dict[str, Any], no_rest: bool) -> Iterator[Any]:
        """REST API if the listing names one (and the config allows it), else the
        category feed, else the HTML listings."""
        assert self.state is not None
        key = canonical_url(start)
        wanted = self.options.source
        self.state.save_source(
            key,
            checked_at=iso_now(),
            api_root=found.api_root,
            category_id=found.category_id,
            feed_url=found.feed_url,
        )
        if wanted in ("auto", "rest") and found.posts_url and not no_rest:
            src = self.state.source(key) or SourceRow(key)
            if found.category_id in src.categories:  # names known: no request for them
                yield self._rest_request(start, src, listing=listing)
            else:
                assert found.api_root
                yield self._categories_request(start, found.api_root, listing)
            return
        why = None
        if wanted in ("auto", "rest") and not no_rest and not found.posts_url:
            why = "the listing names no REST API for its category"
        yield from self._fallback(start, listing, why, rest_tried=not no_rest and wanted in ("auto", "rest"))

    def _fallback(
        self, start: str, listing: dict[str, Any] | None, why: str | None, rest_tried: bool = True
    ) -> Iterator[Any]:
        """The next source down: the feed, else HTML. With no listing page in hand (the
        source failed in a steady-state poll), the listing is read again to re-choose."""
        assert self.state is not None
        key = canonical_url(start)
        if listing is None:
            self.state.save_source(key, checked_at=None, last_error=why)
            yield self._listing_request(start, page=1, backfill=False, start=start, discover=True, no_rest=rest_tried)
            return
        src = self.state.source(key) or SourceRow(key)
        wanted = self.options.source
        if wanted in ("auto", "feed") and src.feed_url:
            self.state.save_source(key, mode="feed", last_error=why)
            yield self._feed_request(start, src, listing)
            return
        if why is None and wanted in ("auto", "feed"):
            why = "the listing names no feed for its category"
        self.state.save_source(key, mode="html", last_error=why)
        yield from self._revisits()
        yield from self._read_listing(start, listing)

    # --- the REST API ---------------------------------------------------------------

    def _categories_request(
        self, start: str, api_root: str, listing: dict[str, Any] | None, page: int = 1
    ) -> scrapy.Request:
        """The names of the site's categories (REST posts carry only their ids): asked at
        the first discovery, and again when a post names a category not known yet."""
        return _source_request(
            categories_query(api_root),
            self.parse_categories,
            self.rest_failed,
            start,
            listing,
            {"Accept": "application/json"},
            rest_page=page,
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
        src = self.state.source(key) or SourceRow(key)
        yield self._rest_request(start, src, page=response.meta["rest_page"], listing=listing, names_fresh=True)

    def _rest_request(
        self,
        start: str,
        src: SourceRow,
        page: int = 1,
        listing: dict[str, Any] | None = None,
        names_fresh: bool = False,
    ) -> scrapy.Request:
        assert src.api_root is not None and src.category_id is not None, f"{start}: REST source without its API"
        cursor = src.cursor  # the stored one: later pages of this run ask the same question
        most = self.options.rest_per_page
        per_page = most if cursor or self.full else min(most, self.options.backfill_pages * 10)
        url = posts_query(
            src.api_root + "wp/v2/posts", src.category_id, modified_after=cursor, page=page, per_page=per_page
        )
        return _source_request(
            url,
            self.parse_rest,
            self.rest_failed,
            start,
            listing,
            {"Accept": "application/json"},
            page=page,
            cursor=cursor,
            source=src,
            names_fresh=names_fresh,
        )

    def _rest_unreadable(self, start: str, listing: dict[str, Any] | None, exc: SourceError) -> Iterator[Any]:
        """A REST answer that is not JSON at all (switched off, a security plugin's page):
        the next source down. JSON that is not what WordPress sends: an alarm as well."""
        if not isinstance(exc, _SwitchedOff):
            self.alarm(str(exc))
        yield from self._fallback(start, listing, str(exc))

    def _json_text(self, response: Response) -> str:
        ctype = content_type(response).lower()
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
            data = load_json(self._json_text(response), response.url)
            if not meta.get("names_fresh") and unknown_categories(data, src.categories):
                yield self._categories_request(start, src.api_root, listing, page=meta["page"])
                return
            items, newest = parse_posts(data, response.url, self.site, src.categories)
        except SourceError as exc:
            yield from self._rest_unreadable(start, listing, exc)
            return
        self.readable.add(start)
        if meta["page"] == 1:
            self.state.save_source(key, mode="rest", last_error=None)
        for item in items:
            self.requested.add(item.id)
            yield item
        self._advance_cursor(key, newest, response)
        pages = _int_header(response, "X-WP-TotalPages")
        if meta["page"] < pages and (meta["cursor"] or self.full):
            yield self._rest_request(start, src, meta["page"] + 1)
        if listing and meta["page"] == 1:  # scheduled posts and the like: listed, but not changed since the cursor
            yield from self._fetch_unknown(*self._listed(listing["links"]), start)

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

    def _feed_request(self, start: str, src: SourceRow, listing: dict[str, Any] | None = None) -> scrapy.Request:
        headers = conditional_headers(src.feed_etag, src.feed_last_modified)
        url = src.feed_url
        assert url is not None, f"{start}: feed source without its feed"
        return _source_request(
            url, self.parse_feed, self.feed_failed, start, listing, headers, handle_httpstatus_list=[304]
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
            items = parse_feed(response.body.decode("utf-8", errors="replace"), response.url, self.site)
        except SourceError as exc:
            self.alarm(str(exc))
            self.state.save_source(key, mode="html", checked_at=None, last_error=str(exc))
            if listing is None:
                yield self._listing_request(start, page=1, backfill=False, start=start)
            else:
                yield from self._read_listing(start, listing)
            return
        self.readable.add(start)
        for item in items:
            if item.id in self.requested:
                continue
            self.requested.add(item.id)
            yield item
        self.source_updates.setdefault(key, {}).update(
            feed_etag=(response.headers.get("ETag") or b"").decode("latin-1") or None,
            feed_last_modified=(response.headers.get("Last-Modified") or b"").decode("latin-1") or None,
        )
        if listing is not None:  # the first poll: the listings backfill what the feed does not hold
            yield from self._read_listing(start, listing)
        yield from self._revisits()  # the feed changed: something may have been edited

    def feed_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        start, listing = request.meta["start"], request.meta.get("fallback")
        self.failed(failure)
        assert self.state is not None
        key = canonical_url(start)
        if listing is not None:
            self.state.save_source(key, mode="html")
            yield from self._read_listing(start, listing)


def _source_request(
    url: str,
    callback: Any,
    errback: Any,
    start: str,
    listing: dict[str, Any] | None,
    headers: dict[str, str],
    **meta: Any,
) -> scrapy.Request:
    """A request of a machine-readable source (REST, feed) for a start URL; ``listing`` is
    the listing page read at discovery, kept for a fallback to HTML."""
    return scrapy.Request(
        url,
        headers=headers,
        callback=callback,
        errback=errback,
        dont_filter=True,
        meta={"start": start, "fallback": listing, "listing": False, "download_slot": download_slot(url), **meta},
    )


class _SwitchedOff(SourceError):
    """A REST answer that is not JSON at all (a security plugin's HTML page)."""


def _int_header(response: Response, name: str) -> int:
    try:
        return int((response.headers.get(name) or b"1").decode("latin-1"))
    except ValueError:
        return 1


def iso_now() -> str:
    return utcnow().isoformat(timespec="seconds")
