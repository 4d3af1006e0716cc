"""The service's web pages (the index and an article's archived copy) as HTML text.

Rendered by the one Jinja environment (:mod:`feeds.templating`) from archive rows; the
HTTP side (:mod:`monitor.web`) only serves them. Dates are shown in the site's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence

from feeds.formats import FORMATS
from feeds.render import article_link
from feeds.settings import FeedSettings
from feeds.templating import env
from feeds.text import http_url
from monitor.archive.rows import ArticleRow


def index_page(rows: Sequence[ArticleRow], feed: FeedSettings, timezone: str) -> str:
    """The newest articles, linked to their pages, and every feed format for autodiscovery."""
    return env.get_template("index.html.j2").render(
        title=feed.title,
        rows=rows,
        link=lambda row: article_link(row, feed),
        formats=list(FORMATS.values()),
        timezone=timezone,
    )


def article_page(row: ArticleRow, feed: FeedSettings, timezone: str) -> str:
    """One article as archived: title, subtitle, date, a link to the original, paragraphs."""
    return env.get_template("article.html.j2").render(
        title=feed.title,
        row=row,
        paragraphs=row.body.split("\n\n"),
        original=http_url(row.url),  # the article on its site, when that link is safe
        timezone=timezone,
    )
