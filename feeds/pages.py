"""The service's web pages (the index and an article's archived copy) as HTML text.

Rendered by the one Jinja environment (:mod:`feeds.templating`) from archive rows; the
HTTP side (:mod:`monitor.web`) only serves them. Dates are shown in the site's time zone.
An article's page shows its edits, newest first, each as a word diff (:mod:`feeds.diff`).
Arabic pages and items are right to left (``dir="rtl"``).
"""

from __future__ import annotations

import urllib.parse
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from feeds.diff import split_body, word_diff
from feeds.diff_views import render_html, summary
from feeds.entries import article_link, parse_time
from feeds.formats import FORMATS
from feeds.rows import ArticleRow, RevisionRow
from feeds.settings import FeedSettings
from feeds.templating import env
from feeds.text import http_url

LANGUAGES = {"en": "English", "fr": "Français", "ar": "العربية"}  # the site's languages, in tab order
RTL = frozenset({"ar"})


@dataclass(frozen=True)
class Edit:
    """One edit as the article page shows it: when (site time), what changed."""

    number: int  # the revision it made
    when: str  # "YYYY-MM-DD HH:MM" in the site's time zone
    stamp: str  # the stored UTC time (for <time datetime>)
    old_title: str | None  # the title before, when the edit changed it
    summary: str  # one line: words added and removed
    diff: Markup  # <p> with <ins>/<del> ("" when only the title changed)


def local_time(value: str, timezone: str) -> str:
    """A stored UTC time as ``YYYY-MM-DD HH:MM`` in ``timezone`` (a bare date stays a date)."""
    text = value.strip()
    if len(text) == 10:
        return text
    try:
        return parse_time(text).astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return text[:16].replace("T", " ")


def edits(row: ArticleRow, revisions: Sequence[RevisionRow], timezone: str) -> list[Edit]:
    """Each edit of ``row``, newest first: revision n keeps the text before edit n; the
    text after it is revision n+1's old text, or the current one for the last edit."""
    ordered = sorted(revisions, key=lambda r: r.revision)
    out: list[Edit] = []
    for i, rev in enumerate(ordered):
        after_title, after_body = (
            (ordered[i + 1].old_title, ordered[i + 1].old_body) if i + 1 < len(ordered) else (row.title, row.body)
        )
        diff = word_diff(split_body(rev.old_body), split_body(after_body))
        out.append(
            Edit(
                number=rev.revision,
                when=local_time(rev.changed_at, timezone),
                stamp=rev.changed_at,
                old_title=rev.old_title if rev.old_title != after_title else None,
                summary=summary(diff) if diff.changed else "the text is unchanged",
                diff=Markup(render_html(diff)),  # noqa: S704 (render_html escapes the words)
            )
        )
    return out[::-1]


def index_page(
    dated: Sequence[ArticleRow],
    feed: FeedSettings,
    timezone: str,
    *,
    undated: Sequence[ArticleRow] = (),
    lang: str = "",
    query: str = "",
) -> str:
    """The newest articles (those with a known date, then those without, by when they were
    first seen), language tabs, a search box, the search's own feed, and every feed format
    for autodiscovery."""
    params = {k: v for k, v in (("q", query), ("lang", lang)) if v}
    return env.get_template("index.html.j2").render(
        title=feed.title,
        dated=dated,
        undated=undated,
        link=lambda row: article_link(row, feed),
        formats=list(FORMATS.values()),
        timezone=timezone,
        languages=LANGUAGES,
        lang=lang,
        query=query,
        search_feed="/feed.xml?" + urllib.parse.urlencode(params) if query else "",
        rtl=RTL,
    )


def article_page(row: ArticleRow, feed: FeedSettings, timezone: str, revisions: Sequence[RevisionRow] = ()) -> str:
    """One article as archived: title, subtitle, date, a link to the original, paragraphs,
    and its edits (newest first) with what each changed."""
    return env.get_template("article.html.j2").render(
        title=feed.title,
        row=row,
        paragraphs=split_body(row.body),
        original=http_url(row.url),  # the article on its site, when that link is safe
        timezone=timezone,
        edits=edits(row, revisions, timezone),
        rtl=RTL,
    )
