"""The pages people read: the index, an article's archived copy, and the style sheet
(served from this service: the CSP allows no inline style)."""

from __future__ import annotations

import re
from importlib import resources

from feeds.pages import LANGUAGES, article_page, index_page
from monitor.archive import Archive
from monitor.web.http import Request, Response, html, respond, text

MAX_QUERY_CHARS = 200  # a longer search is cut (the form says so too: maxlength)


def index(request: Request, m: re.Match[str]) -> Response:
    """All languages (or ``?lang=``), newest first; articles without a known date after
    them; ``?q=``: those that match a search. Two reads, on purpose: a person sees the
    undated ones as a group of their own ("Date unknown", by when they were first stored),
    where a feed reader, which sorts by date, gets them in place (their ``order_date``)."""
    cfg = request.cfg
    lang = request.arg("lang")
    lang = lang if lang in LANGUAGES else ""
    query = " ".join(request.arg("q").split())[:MAX_QUERY_CHARS]
    with Archive(cfg.database, migrate=False) as archive:
        found = {
            dated: archive.articles(search=query or None, lang=lang or None, dated=dated, limit=cfg.feed.items)
            for dated in (True, False)
        }
    page = index_page(found[True], cfg.feed, cfg.site.timezone, undated=found[False], lang=lang, query=query)
    return html(200, page)


def article(request: Request, m: re.Match[str]) -> Response:
    cfg = request.cfg
    with Archive(cfg.database, migrate=False) as archive:
        row = archive.article(m["id"])
        revisions = archive.revisions(m["id"]) if row is not None else []
    if row is None:
        return text(404, "no such article\n")
    return html(200, article_page(row, cfg.feed, cfg.site.timezone, revisions))


def static(request: Request, m: re.Match[str]) -> Response:
    """A style sheet shipped in feeds/static/."""
    item = resources.files("feeds") / "static" / m["name"]
    if not item.is_file():
        return text(404, "not found\n")
    return respond(200, "text/css; charset=utf-8", item.read_bytes(), {"Cache-Control": "max-age=3600"})
