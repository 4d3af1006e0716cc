"""Render RSS 2.0, Atom and JSON Feed 1.1 from archive rows.

Pure functions: the same rows always give the same bytes (no build time, no random
ids). Every format renders the :class:`~feeds.entries.FeedArticle` of each row (what every
format shows, read once: :mod:`feeds.entries`), so the formats agree field by field. Text
is cleaned before it reaches feedgen, links are http(s) only, and one article that cannot
be rendered is logged and left out instead of breaking the whole feed.

The formats served and written are registered in :mod:`feeds.formats`.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from feeds.entries import COMBINED, EPOCH, NO_EDITS, Channel, Edits, feed_article
from feeds.rows import ArticleRow
from feeds.settings import FeedSettings
from feeds.text import http_url

logger = logging.getLogger(__name__)

GENERATOR = "icesco-monitor"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _check_feed_url(name: str, url: str) -> str:
    if http_url(url) is None:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    return url


def _entry(row: ArticleRow, feed: FeedSettings, edits: Edits = NO_EDITS) -> tuple[FeedEntry, dt.datetime]:
    """One feedgen entry and the newest time it carries; raises if the row cannot be rendered."""
    article = feed_article(row, feed, edits)
    entry = FeedEntry()
    entry.id(article.guid)  # also the RSS guid, isPermaLink="false"
    entry.title(article.title)
    entry.link(href=article.link, rel="alternate")
    entry.published(article.published)
    entry.updated(article.updated)
    text = article.summary
    if text:
        # RSS readers take <description> as HTML: give them the text escaped, so markup
        # in it shows as text. (description() also fills Atom content: replaced below.)
        entry.description(html.escape(text, quote=False))
        entry.summary(text)  # Atom summary: type text, plain as it is
    content = article.content_html
    if content or text:  # (also when empty, to replace what description() put there)
        entry.content(content, type="html")  # Atom content type="html", RSS content:encoded
    if article.categories:
        entry.category([{"term": term} for term in article.categories])
    # feedgen checks required fields (and lxml the text) only when serialising:
    # do it now, so that a bad row is dropped here rather than failing the feed.
    entry.rss_entry()
    entry.atom_entry()
    return entry, article.newest


_Rendered = TypeVar("_Rendered")


def _render_rows(
    rows: Sequence[ArticleRow],
    feed: FeedSettings,
    render_row: Callable[[ArticleRow, FeedSettings], tuple[_Rendered, dt.datetime]],
) -> tuple[list[_Rendered], dt.datetime]:
    """Each row rendered, in order: a row listed twice keeps its first rendering, a row
    that cannot be rendered is logged and left out. Also returns the newest time kept."""
    rendered: list[_Rendered] = []
    newest = EPOCH
    seen: set[str] = set()
    for row in rows:
        article_id = row.id
        if isinstance(article_id, str) and article_id in seen:
            logger.warning("feed: article %r is listed twice; keeping its first entry", article_id)
            continue
        try:
            item, stamp = render_row(row, feed)
        except Exception as exc:  # one hostile article never breaks the feed
            logger.warning("feed: skipping article %r: %s: %.200s", article_id, type(exc).__name__, exc)
            continue
        if isinstance(article_id, str):  # always, once render_row has accepted the row
            seen.add(article_id)
        rendered.append(item)
        newest = max(newest, stamp)
    return rendered, newest


def _entries(rows: Sequence[ArticleRow], feed: FeedSettings, edits: Edits) -> tuple[list[FeedEntry], dt.datetime]:
    return _render_rows(rows, feed, functools.partial(_entry, edits=edits))


def _generator(
    rows: Sequence[ArticleRow], feed: FeedSettings, self_url: str, self_type: str, channel: Channel, edits: Edits
) -> FeedGenerator:
    site_url = _check_feed_url("feed.base_url", feed.base_url)
    _check_feed_url("self_url", self_url)
    entries, newest = _entries(rows, feed, edits)
    gen = FeedGenerator()
    gen.id(self_url)  # Atom's feed id (RSS has none)
    title, description = channel.heading(feed)
    gen.title(title)
    gen.description(description)
    gen.language(channel.language)
    gen.generator(GENERATOR)  # fixed: no feedgen version, no URI
    # RSS takes the channel <link> from the last link and atom:link from the self one.
    gen.link(href=self_url, rel="self", type=self_type)
    gen.link(href=site_url, rel="alternate", type="text/html")
    gen.updated(newest)  # Atom updated and RSS lastBuildDate: newest item, never "now"
    for entry in entries:
        gen.add_entry(entry, order="append")  # feedgen prepends by default
    return gen


def build_rss(
    rows: Sequence[ArticleRow],
    feed: FeedSettings,
    self_url: str,
    channel: Channel = COMBINED,
    edits: Edits = NO_EDITS,
) -> bytes:
    """RSS 2.0 (with content:encoded and atom:link rel=self to ``self_url``), entries in the given order."""
    data: bytes = _generator(rows, feed, self_url, "application/rss+xml", channel, edits).rss_str(
        pretty=True, encoding="UTF-8", xml_declaration=True
    )
    return data


def build_atom(
    rows: Sequence[ArticleRow],
    feed: FeedSettings,
    self_url: str,
    channel: Channel = COMBINED,
    edits: Edits = NO_EDITS,
) -> bytes:
    """Atom 1.0 (its id and rel=self: ``self_url``), entries in the given order."""
    data: bytes = _generator(rows, feed, self_url, "application/atom+xml", channel, edits).atom_str(
        pretty=True, encoding="UTF-8", xml_declaration=True
    )
    return data


def rfc3339(stamp: dt.datetime) -> str:
    """``stamp`` in UTC to the second, as RFC 3339 (the instant RSS pubDate gives)."""
    return stamp.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _json_item(row: ArticleRow, feed: FeedSettings, edits: Edits = NO_EDITS) -> tuple[dict[str, Any], dt.datetime]:
    """One JSON Feed item (fixed key order) and the newest time it carries."""
    article = feed_article(row, feed, edits)
    if not article.title:  # as RSS and Atom (feedgen refuses it): the same articles in every format
        raise ValueError("Required fields not set: title is empty")
    item: dict[str, Any] = {"id": article.guid, "url": article.link, "title": article.title}
    if article.content_html:
        item["content_html"] = article.content_html
    else:  # JSON Feed wants content_html or content_text
        item["content_text"] = article.summary
    if article.summary:
        item["summary"] = article.summary
    item["date_published"] = rfc3339(article.published)
    if article.revised is not None:
        item["date_modified"] = rfc3339(article.revised)
    if article.categories:
        item["tags"] = list(article.categories)
    if article.language:
        item["language"] = article.language
    return item, article.newest


def build_json(
    rows: Sequence[ArticleRow],
    feed: FeedSettings,
    self_url: str,
    channel: Channel = COMBINED,
    edits: Edits = NO_EDITS,
) -> bytes:
    """JSON Feed 1.1 (its feed_url: ``self_url``), items in the given order (UTF-8, keys in a
    fixed order, no build time).

    Each item carries the RSS guid / Atom id as ``id``, the same link, title, summary,
    sanitised HTML and categories, ``date_published`` (the RSS pubDate's instant),
    ``date_modified`` when the article was edited, and its ``language``. The combined feed
    has no top-level language (the articles are in several); one language's has it."""
    site_url = _check_feed_url("feed.base_url", feed.base_url)
    feed_url = _check_feed_url("self_url", self_url)
    items, _ = _render_rows(rows, feed, functools.partial(_json_item, edits=edits))
    title, description = channel.heading(feed)
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": site_url,
        "feed_url": feed_url,
        "description": description,
    }
    if channel.lang:
        document["language"] = channel.lang
    document["items"] = items
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
