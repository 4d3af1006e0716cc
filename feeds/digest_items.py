"""One article as a digest shows it: title, date in the site's time zone, link, lead, and
for an article edited since it was sent, what changed (:mod:`feeds.diff`).

Article text is untrusted: every field is cleaned to one line (:mod:`feeds.text`), and a
link that is not http(s) is replaced by the article's page on the service.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import urllib.parse
import zoneinfo
from dataclasses import dataclass
from typing import Any

from feeds.diff import split_body, word_diff
from feeds.diff_views import summary
from feeds.rows import DigestRow, EditRow
from feeds.text import http_url, lead, one_line

log = logging.getLogger(__name__)

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


RTL_LANGUAGES = frozenset({"ar"})  # written right to left


@dataclass(frozen=True)
class DigestItem:
    """One article as the templates show it (every field already cleaned)."""

    title: str
    date: str  # "11 July 2024", or "" when unknown
    link: str  # an http(s) URL
    lead: str
    rtl: bool = False  # right-to-left text (Arabic): the HTML part marks its item dir="rtl"
    lang: str = ""  # the article's language code, when it is one
    edited: str = ""  # an edited article: what changed, in one line (feeds/diff_views.py)


def human_date(d: dt.date) -> str:
    """``11 July 2024``."""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def _item_date(row: DigestRow, tz: zoneinfo.ZoneInfo) -> str:
    for key, value in (("published_at", row.published_at), ("first_seen_at", row.first_seen_at)):
        if not value or not isinstance(value, str):
            continue
        text = value.strip()
        try:
            if len(text) == 10:
                return human_date(dt.date.fromisoformat(text))
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            log.debug("article %s: unreadable %s %r", row.id, key, value)
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return human_date(when.astimezone(tz).date())
    return ""


def _text(value: Any) -> str | None:
    """A text column as text (the archive's rows hold str or None)."""
    return None if value is None else str(value)


def digest_item(row: DigestRow, site: str, tz: zoneinfo.ZoneInfo) -> DigestItem:
    """An article as the templates show it: its link, else its page under ``site``; dated in ``tz``."""
    article_id = str(row.id or "")
    link = http_url(row.url)
    if link is None:
        link = site + "articles/" + urllib.parse.quote(article_id, safe="") if article_id else site
    return DigestItem(
        title=one_line(row.title) or "(untitled)",
        date=_item_date(row, tz),
        link=link,
        lead=lead(_text(row.subtitle), _text(row.body)),
        rtl=str(row.lang or "") in RTL_LANGUAGES,
        lang=str(row.lang) if str(row.lang or "").isalpha() else "",
    )


def edited_item(edit: EditRow, site: str, tz: zoneinfo.ZoneInfo) -> DigestItem:
    """An article sent before and edited since, with what changed in its body (or, when
    only the title or subtitle changed, that)."""
    item = digest_item(edit.article, site, tz)
    diff = word_diff(split_body(edit.old_body), split_body(str(edit.article.body or "")))
    return dataclasses.replace(
        item, edited=one_line(summary(diff)) if diff.changed else "the title or subtitle changed"
    )
