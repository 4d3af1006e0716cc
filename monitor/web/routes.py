"""The machine-readable answers: the feeds (from the cache, with validators), /healthz and
/metrics."""

from __future__ import annotations

import datetime as dt
import json
import re

from feeds.formats import format_at
from monitor.archive import Archive
from monitor.web.health import health, metrics_text
from monitor.web.http import Request, Response, conditional, respond


def feed(request: Request, m: re.Match[str]) -> Response:
    """A feed: the combined one (``/feed.xml``) or one language's (``/en/feed.xml``)."""
    fmt = format_at(m["feed"])
    assert fmt is not None  # the route's pattern is made of the registered paths
    lang = m.groupdict().get("lang") or ""
    with Archive(request.cfg.database, migrate=False) as archive:
        request.feeds.refresh(archive)  # in memory only: files are written by the scheduler
    return conditional(request.feeds.get(lang, fmt.name), fmt.media_type, request.environ)


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
