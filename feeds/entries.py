"""What every feed format shows of an article, read once from its archive row.

An article is read once into a :class:`FeedArticle` (its id, link, title, dates, summary,
sanitised HTML, categories, language), which every format in :mod:`feeds.render` renders,
so the formats agree field by field. Every text field is cleaned (:mod:`feeds.text`: no
character XML 1.0 forbids, no control or bidi override), links are http(s) only. Also which
feed is built (:class:`Channel`) and the stored times as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

import nh3

from feeds.edits import edit_html
from feeds.rows import ArticleRow, RevisionRow
from feeds.settings import FeedSettings
from feeds.text import categories, clean_text, http_url, lead, one_line, paragraphs

logger = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
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
