"""The machine-readable answers: the feeds (from the cache, with validators), /healthz and
/metrics."""

from __future__ import annotations

import datetime as dt
import json
import re

from feeds.formats import format_at
from monitor.archive import Archive
from monitor.web.health import health, metrics_text
from monitor.web.http import Request, Response, conditional, respond, text
from monitor.web.search import BadSearch, Search


def feed(request: Request, m: re.Match[str]) -> Response:
    """A feed: the combined one (``/feed.xml``), one language's (``/en/feed.xml``), or a
    search's (``?q=WORDS&category=…&lang=…``; under ``/LANG/`` the language is that one)."""
    fmt = format_at(m["feed"])
    assert fmt is not None  # the route's pattern is made of the registered paths
    lang = m.groupdict().get("lang") or ""
    try:
        search = Search.parse(request.arg("q"), request.arg("category"), lang or request.arg("lang"))
    except BadSearch as exc:
        return text(400, f"{exc}\n")
    with Archive(request.cfg.database, migrate=False) as archive:
        if search and search != Search(lang=lang):
            built = request.feeds.search(archive, search, fmt.name)
        else:
            request.feeds.refresh(archive)  # in memory only: files are written by the scheduler
            built = request.feeds.get(search.lang, fmt.name)
    return conditional(built, fmt.media_type, request.environ)


def healthz(request: Request, m: re.Match[str]) -> Response:
    cfg = request.cfg
    with Archive(cfg.database, migrate=False) as archive:
        last = archive.last_finished_crawl()
        status, body = health(cfg, archive.last_good_crawl(), dt.datetime.now(dt.UTC), last)
    return respond(status, "application/json", json.dumps(body).encode(), {"Cache-Control": "no-store"})


def metrics(request: Request, m: re.Match[str]) -> Response:
    with Archive(request.cfg.database, migrate=False) as archive:
        body = metrics_text(archive.metrics())
    return respond(200, "text/plain; version=0.0.4; charset=utf-8", body.encode())
