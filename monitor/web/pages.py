"""The pages people read: the index, an article's archived copy, and the style sheet
(served from this service: the CSP allows no inline style)."""

from __future__ import annotations

import re
from importlib import resources

from feeds.pages import article_page, index_page
from monitor.archive import Archive
from monitor.web.http import Request, Response, html, respond, text


def index(request: Request, m: re.Match[str]) -> Response:
    cfg = request.cfg
    with Archive(cfg.database, migrate=False) as archive:
        rows = archive.articles(limit=cfg.feed.items)
    return html(200, index_page(rows, cfg.feed, cfg.site.timezone))


def article(request: Request, m: re.Match[str]) -> Response:
    cfg = request.cfg
    with Archive(cfg.database, migrate=False) as archive:
        row = archive.article(m["id"])
    if row is None:
        return text(404, "no such article\n")
    return html(200, article_page(row, cfg.feed, cfg.site.timezone))


def static(request: Request, m: re.Match[str]) -> Response:
    """A style sheet shipped in feeds/static/."""
    item = resources.files("feeds") / "static" / m["name"]
    if not item.is_file():
        return text(404, "not found\n")
    return respond(200, "text/css; charset=utf-8", item.read_bytes(), {"Cache-Control": "max-age=3600"})
