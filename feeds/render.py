"""Render RSS 2.0, Atom and JSON Feed 1.1 from archive rows.

Pure functions: the same rows always give the same bytes (no build time, no random
ids). Every article is read once into a :class:`FeedArticle` (its id, link, title, dates,
summary, sanitised HTML, categories, language), which every format renders, so the
formats agree field by field. Every text field is cleaned of characters XML 1.0 forbids
before it reaches feedgen, links are http(s) only, and one article that cannot be
rendered is logged and left out instead of breaking the whole feed.

The formats served and written are registered in :mod:`feeds.formats`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import logging
import os
import re
import tempfile
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import nh3
from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from monitor.archive.rows import ArticleRow

logger = logging.getLogger(__name__)

GENERATOR = "icesco-monitor"
SUMMARY_LENGTH = 300
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

# Everything outside XML 1.0's Char production: C0 controls except \t \n \r,
# lone surrogates (U+D800-U+DFFF), U+FFFE and U+FFFF.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n\s*")
_SUMMARY_TRAILING = " \t,;:.-\u2013\u2014"
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class FeedInfo:
    title: str = "ICESCO news (icesco-monitor)"
    site_url: str = "http://127.0.0.1:8080/"  # the service's own page
    rss_url: str = "http://127.0.0.1:8080/feed.xml"  # atom:link rel=self of the RSS feed
    atom_url: str = "http://127.0.0.1:8080/atom.xml"
    json_url: str = "http://127.0.0.1:8080/feed.json"  # the JSON Feed's feed_url
    description: str = "New and updated articles from icesco.org, archived by icesco-monitor."
    language: str = "en"


# ---------------------------------------------------------------- text helpers


def clean_text(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", value)


def one_line(value: str) -> str:
    """Cleaned text on a single line: every run of whitespace (CR, LF, tabs,
    U+2028...) becomes one space; leading and trailing whitespace is dropped."""
    return " ".join(clean_text(value).split())


def paragraphs(body: str) -> list[str]:
    """The non-empty paragraphs of a plain-text body (separated by blank lines)."""
    text = clean_text(body).replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """``text`` cut to about ``limit`` characters on a word boundary, with "…"."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    if cut < limit // 2:  # one very long word: cut inside it
        cut = limit
    return text[:cut].rstrip(_SUMMARY_TRAILING) + "\u2026"


def body_html(body: str) -> str:
    """The body as HTML: each paragraph escaped inside ``<p>…</p>``, then sanitised."""
    markup = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs(body))
    if not markup:
        return ""
    return nh3.clean(markup, tags={"p"}, attributes={}, strip_comments=True)


def _optional_str(value: object, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{key} is {type(value).__name__}, not a string")
    return value


def summary(row: ArticleRow) -> str:
    """Short plain text: the subtitle if any, else the first paragraph, shortened."""
    text = one_line(_optional_str(row.subtitle, "subtitle"))
    if not text:
        paras = paragraphs(_optional_str(row.body, "body"))
        text = one_line(paras[0]) if paras else ""
    return shorten(text)


def _categories(row: ArticleRow) -> list[str]:
    value: object = row.categories
    if isinstance(value, str):  # the JSON column as stored, if a caller passes it raw
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if not isinstance(value, list | tuple):
        return []
    seen: list[str] = []
    for item in value:
        if isinstance(item, str):
            term = one_line(item)
            if term and term not in seen:
                seen.append(term)
    return seen


def language(row: ArticleRow) -> str:
    """The article's language tag ("en", "fr", "ar"...), or "" when missing or not a tag."""
    value = row.lang
    if isinstance(value, str) and _LANGUAGE_TAG.fullmatch(value.strip()):
        return value.strip()
    return ""


# ---------------------------------------------------------------- links, ids, times


def is_http_url(url: object) -> bool:
    """True for an absolute http(s) URL with a host and nothing XML or a reader
    could choke on (whitespace, control or forbidden characters)."""
    if not isinstance(url, str) or not url:
        return False
    if clean_text(url) != url or any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def article_guid(article_id: str) -> str:
    """A stable, opaque id for an article: depends on nothing but its archive id."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "icesco-monitor:article:" + article_id))


def article_link(row: ArticleRow, info: FeedInfo) -> str:
    """The article's own http(s) URL, else its page on this service."""
    url = row.url
    if is_http_url(url):
        assert isinstance(url, str)
        return url
    base = info.site_url if info.site_url.endswith("/") else info.site_url + "/"
    return f"{base}articles/{quote(str(row.id), safe='')}"


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
    """When the article was published: ``published_at``, else when it was first seen."""
    return _stored_time(row, "published_at", row.published_at) or parse_time(row.first_seen_at)


def updated_date(row: ArticleRow) -> dt.datetime:
    """When the article last changed: ``updated_at`` if set, else :func:`pub_date`."""
    return _stored_time(row, "updated_at", row.updated_at) or pub_date(row)


def _check_feed_url(name: str, url: str) -> str:
    if not is_http_url(url):
        raise ValueError(f"FeedInfo.{name} must be an absolute http(s) URL, got {url!r}")
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


def feed_article(row: ArticleRow, info: FeedInfo) -> FeedArticle:
    """What every format shows of ``row``; raises if the row cannot be rendered."""
    article_id = row.id
    if not isinstance(article_id, str) or not article_id or clean_text(article_id) != article_id:
        raise ValueError(f"bad article id {article_id!r}")
    title = row.title
    if not isinstance(title, str):
        raise TypeError(f"title is {type(title).__name__}, not a string")
    published = pub_date(row)
    updated = updated_date(row)
    return FeedArticle(
        guid=article_guid(article_id),
        link=article_link(row, info),
        title=one_line(title),
        published=published,
        updated=updated,
        revised=_stored_time(row, "updated_at", row.updated_at),
        summary=summary(row),
        content_html=body_html(_optional_str(row.body, "body")),
        categories=tuple(_categories(row)),
        language=language(row),
    )


def _entry(row: ArticleRow, info: FeedInfo) -> tuple[FeedEntry, dt.datetime]:
    """One feedgen entry and the newest time it carries; raises if the row cannot be rendered."""
    article = feed_article(row, info)
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
    info: FeedInfo,
    render_row: Callable[[ArticleRow, FeedInfo], tuple[_Rendered, dt.datetime]],
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
            item, stamp = render_row(row, info)
        except Exception as exc:  # one hostile article never breaks the feed
            logger.warning("feed: skipping article %r: %s: %.200s", article_id, type(exc).__name__, exc)
            continue
        if isinstance(article_id, str):  # always, once render_row has accepted the row
            seen.add(article_id)
        rendered.append(item)
        newest = max(newest, stamp)
    return rendered, newest


def _entries(rows: Sequence[ArticleRow], info: FeedInfo) -> tuple[list[FeedEntry], dt.datetime]:
    return _render_rows(rows, info, _entry)


def _generator(rows: Sequence[ArticleRow], info: FeedInfo, self_url: str, self_type: str) -> FeedGenerator:
    site_url = _check_feed_url("site_url", info.site_url)
    _check_feed_url("rss_url", info.rss_url)
    _check_feed_url("atom_url", info.atom_url)
    entries, newest = _entries(rows, info)
    feed = FeedGenerator()
    feed.id(info.atom_url)
    feed.title(one_line(info.title))
    feed.description(one_line(info.description))
    feed.language(one_line(info.language))
    feed.generator(GENERATOR)  # fixed: no feedgen version, no URI
    # RSS takes the channel <link> from the last link and atom:link from the self one.
    feed.link(href=self_url, rel="self", type=self_type)
    feed.link(href=site_url, rel="alternate", type="text/html")
    feed.updated(newest)  # Atom updated and RSS lastBuildDate: newest item, never "now"
    for entry in entries:
        feed.add_entry(entry, order="append")  # feedgen prepends by default
    return feed


def build_rss(rows: Sequence[ArticleRow], info: FeedInfo) -> bytes:
    """RSS 2.0 (with content:encoded and atom:link rel=self), entries in the given order."""
    feed = _generator(rows, info, info.rss_url, "application/rss+xml")
    data: bytes = feed.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def build_atom(rows: Sequence[ArticleRow], info: FeedInfo) -> bytes:
    """Atom 1.0, entries in the given order."""
    feed = _generator(rows, info, info.atom_url, "application/atom+xml")
    data: bytes = feed.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def rfc3339(stamp: dt.datetime) -> str:
    """``stamp`` in UTC to the second, as RFC 3339 (the instant RSS pubDate gives)."""
    return stamp.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _json_item(row: ArticleRow, info: FeedInfo) -> tuple[dict[str, Any], dt.datetime]:
    """One JSON Feed item (fixed key order) and the newest time it carries."""
    article = feed_article(row, info)
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


def build_json(rows: Sequence[ArticleRow], info: FeedInfo) -> bytes:
    """JSON Feed 1.1, items in the given order (UTF-8, keys in a fixed order, no build time).

    Each item carries the RSS guid / Atom id as ``id``, the same link, title, summary,
    sanitised HTML and categories, ``date_published`` (the RSS pubDate's instant),
    ``date_modified`` when the article was edited, and its ``language``. The feed has no
    top-level language: the articles are in several."""
    site_url = _check_feed_url("site_url", info.site_url)
    feed_url = _check_feed_url("json_url", info.json_url)
    items, _ = _render_rows(rows, info, _json_item)
    feed = {
        "version": JSON_FEED_VERSION,
        "title": one_line(info.title),
        "home_page_url": site_url,
        "feed_url": feed_url,
        "description": one_line(info.description),
        "items": items,
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ---------------------------------------------------------------- writing


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new
    one, never a partial one. The temporary file is removed if anything fails."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)  # served files; mkstemp creates them 0600
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    # Make the rename itself durable (best effort: not every platform or filesystem allows it).
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
