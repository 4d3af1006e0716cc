"""Render RSS 2.0, Atom and JSON Feed 1.1 from archive rows.

Pure functions: the same rows always give the same bytes (no build time, no random
ids). Every article is read once into a :class:`FeedArticle` (its id, link, title, dates,
summary, sanitised HTML, categories, language), which every format renders, so the
formats agree field by field. Every text field is cleaned (:mod:`feeds.text`: no character
XML 1.0 forbids, no control or bidi override) before it reaches feedgen, links are http(s) only, and one article that cannot be
rendered is logged and left out instead of breaking the whole feed.

The formats served and written are registered in :mod:`feeds.formats`.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import quote

import nh3
from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from feeds.edits import edit_html
from feeds.settings import FeedSettings
from feeds.text import categories, clean_text, http_url, lead, one_line, paragraphs
from monitor.archive.rows import ArticleRow, RevisionRow

logger = logging.getLogger(__name__)

GENERATOR = "icesco-monitor"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
FEED_LANGUAGE = "en"  # the combined feed's own title and description (RSS language, Atom xml:lang); items carry theirs
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})  # written right to left: their HTML carries dir="rtl"

Edits = Mapping[str, RevisionRow]  # article id -> its last revision (the version before its last edit)
NO_EDITS: Edits = MappingProxyType({})

_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


# ---------------------------------------------------------------- channels


@dataclass(frozen=True)
class Channel:
    """Which feed is built: the combined one (``lang`` ""), one language's, or a search's.

    Its title and description ("" : ``feed.title``, ``feed.description``), and where it is:
    ``prefix`` ("" or "en/") before the format's path under ``feed.base_url``, then
    ``?query`` for a search feed."""

    lang: str = ""
    title: str = ""
    description: str = ""
    prefix: str = ""
    query: str = ""

    @property
    def language(self) -> str:
        """RSS ``<language>``, Atom ``xml:lang``: the channel's language, else the combined feed's."""
        return self.lang or FEED_LANGUAGE

    def heading(self, feed: FeedSettings) -> tuple[str, str]:
        """The title and description it shows (one line each)."""
        return one_line(self.title or feed.title), one_line(self.description or feed.description)


COMBINED = Channel()


# ---------------------------------------------------------------- text


def body_html(body: str) -> str:
    """The body as HTML: each paragraph escaped inside ``<p>…</p>``, then sanitised."""
    markup = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs(body))
    if not markup:
        return ""
    return nh3.clean(markup, tags={"p"}, attributes={}, strip_comments=True)


def direction(lang: str, markup: str) -> str:
    """``markup`` wrapped in ``<div dir="rtl" lang=…>`` when ``lang`` is written right to left."""
    if not markup or lang.split("-", 1)[0].lower() not in RTL_LANGUAGES:
        return markup
    return f'<div dir="rtl" lang="{html.escape(lang)}">{markup}</div>'


def _optional_str(value: object, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{key} is {type(value).__name__}, not a string")
    return value


def summary(row: ArticleRow) -> str:
    """Short plain text: the subtitle if any, else the first paragraph, shortened."""
    return lead(_optional_str(row.subtitle, "subtitle"), _optional_str(row.body, "body"))


def language(row: ArticleRow) -> str:
    """The article's language tag ("en", "fr", "ar"...), or "" when missing or not a tag."""
    value = row.lang
    if isinstance(value, str) and _LANGUAGE_TAG.fullmatch(value.strip()):
        return value.strip()
    return ""


# ---------------------------------------------------------------- links, ids, times


def article_guid(article_id: str) -> str:
    """A stable, opaque id for an article: depends on nothing but its archive id."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "icesco-monitor:article:" + article_id))


def article_link(row: ArticleRow, feed: FeedSettings) -> str:
    """The article's own http(s) URL, else its page on this service (under ``feed.base_url``)."""
    url = http_url(row.url)
    if url is not None:
        return url
    return feed.url("articles/" + quote(str(row.id), safe=""))


def parse_time(value: object) -> dt.datetime:
    """An ISO 8601 date or datetime as an aware UTC datetime.

    A date alone is midnight UTC; a datetime without offset is taken as UTC.
    Raises ValueError for anything else.
    """
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        stamp = dt.datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a date: {value!r}")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def _stored_time(row: ArticleRow, key: str, value: object) -> dt.datetime | None:
    """``value`` (the row's ``key``) as an aware UTC time, or None when it is missing or unusable."""
    if value:
        try:
            return parse_time(value)
        except (TypeError, ValueError):
            logger.debug("article %r: unusable %s %r, using the fallback", row.id, key, value)
    return None


def local_date(value: object, timezone: str) -> str:
    """The date a stored time falls on in the site's time zone (``YYYY-MM-DD``): a post
    published at 00:30 in Rabat is dated that day, not the day before (UTC). A stored
    date stays as it is; an unreadable value gives ""."""
    if not isinstance(value, str) or not value.strip():
        return ""
    text = value.strip()
    if len(text) == 10:
        return text
    try:
        when = parse_time(text)
        return when.astimezone(zoneinfo.ZoneInfo(timezone)).date().isoformat()
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return text[:10]


def pub_date(row: ArticleRow) -> dt.datetime:
    """When the article was published: ``published_at``; without one, its ``order_date`` (the
    newest date stored before it: never newer than dated articles seen before it), else when
    it was first seen."""
    return (
        _stored_time(row, "published_at", row.published_at)
        or _stored_time(row, "order_date", row.order_date)
        or parse_time(row.first_seen_at)
    )


def updated_date(row: ArticleRow) -> dt.datetime:
    """When the article last changed: ``updated_at`` if set, else :func:`pub_date`."""
    return _stored_time(row, "updated_at", row.updated_at) or pub_date(row)


def _check_feed_url(name: str, url: str) -> str:
    if http_url(url) is None:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    return url


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class FeedArticle:
    """One article as every feed format shows it (read once from its row)."""

    guid: str  # RSS guid, Atom id, JSON Feed id: from the archive id only
    link: str  # http(s): the article's own URL or its page on this service
    title: str  # one line
    published: dt.datetime  # RSS pubDate, Atom published, JSON date_published
    updated: dt.datetime  # Atom updated: the last edit, else published
    revised: dt.datetime | None  # the last edit (updated_at), None if never edited
    summary: str  # plain text, "" if none
    content_html: str  # sanitised <p> paragraphs, "" if no body
    categories: tuple[str, ...]
    language: str  # "en", "fr", "ar"... or "" when unknown

    @property
    def newest(self) -> dt.datetime:
        return max(self.published, self.updated)


def feed_article(row: ArticleRow, feed: FeedSettings, edits: Edits = NO_EDITS) -> FeedArticle:
    """What every format shows of ``row``; raises if the row cannot be rendered. An edited
    article (its last revision in ``edits``) starts with a line saying what the edit changed."""
    article_id = row.id
    if not isinstance(article_id, str) or not article_id or clean_text(article_id) != article_id:
        raise ValueError(f"bad article id {article_id!r}")
    title = row.title
    if not isinstance(title, str):
        raise TypeError(f"title is {type(title).__name__}, not a string")
    published = pub_date(row)
    updated = updated_date(row)
    lang = language(row)
    revised = _stored_time(row, "updated_at", row.updated_at)
    content = direction(lang, body_html(_optional_str(row.body, "body")))
    revision = edits.get(article_id)
    if revision is not None and row.revision:
        content = edit_html(row, revision, revised or parse_time(revision.changed_at)) + content
    return FeedArticle(
        guid=article_guid(article_id),
        link=article_link(row, feed),
        title=one_line(title),
        published=published,
        updated=updated,
        revised=revised,
        summary=summary(row),
        content_html=content,
        categories=tuple(categories(row.categories)),
        language=lang,
    )


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
