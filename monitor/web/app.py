"""The WSGI application: a table of routes, each a path pattern, the methods it answers
and a handler ``(Request, match) -> Response`` in the module of its concern."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from feeds.formats import FORMATS, LANGUAGES
from monitor.config import Config
from monitor.web import pages, routes, subscribe
from monitor.web.feedcache import FeedCache
from monitor.web.http import Request, Response, text

log = logging.getLogger(__name__)

Handler = Callable[[Request, "re.Match[str]"], Response]
READ = frozenset({"GET", "HEAD"})
FORM = frozenset({"GET", "HEAD", "POST"})


@dataclass(frozen=True)
class Route:
    pattern: str  # a regular expression matched against the whole path
    handler: Handler
    methods: frozenset[str] = READ

    def match(self, path: str) -> re.Match[str] | None:
        return re.fullmatch(self.pattern, path)


_FEEDS = "|".join(re.escape(f.url_path) for f in FORMATS.values())
_LANGS = "|".join(LANGUAGES)
ARTICLE_ID = r"(?:[a-z][a-z0-9-]*:)?[0-9a-f]{16}"  # a site's name, then the hash

ROUTES: list[Route] = [
    Route(rf"(?P<feed>{_FEEDS})", routes.feed),
    Route(rf"/(?P<lang>{_LANGS})(?P<feed>{_FEEDS})", routes.feed),
    Route(r"/healthz", routes.healthz),
    Route(r"/metrics", routes.metrics),
    Route(r"/static/(?P<name>[a-z0-9-]+\.css)", pages.static),
    Route(r"/", pages.index),
    Route(rf"/articles/(?P<id>{ARTICLE_ID})", pages.article),
    Route(r"/subscribe", subscribe.subscribe, FORM),
    Route(r"/subscribe/confirm", subscribe.confirm, FORM),
    Route(r"/unsubscribe", subscribe.unsubscribe, FORM),
]


class App:
    """The service's pages as a WSGI application (see ROUTES): feeds with ETag,
    Last-Modified and 304, pages, /healthz and /metrics. HEAD is GET without a body."""

    def __init__(self, cfg: Config, feeds: FeedCache, routes: list[Route] | None = None) -> None:
        self.cfg = cfg
        self.feeds = feeds
        self.routes = ROUTES if routes is None else routes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        request = Request.from_environ(self.cfg, self.feeds, environ)
        status, headers, body = self.answer(request)
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [] if request.method == "HEAD" or status == 304 else [body]

    def answer(self, request: Request) -> Response:
        for route in self.routes:
            if (m := route.match(request.path)) is None:
                continue
            if request.method not in route.methods:
                return text(405, "method not allowed\n", {"Allow": ", ".join(sorted(route.methods))})
            try:
                return route.handler(request, m)
            except Exception:  # one bad request never stops the service
                log.exception("%s: error while answering", request.path)
                return text(500, "internal error\n")
        if request.method not in READ | {"POST"}:
            return text(405, "method not allowed\n", {"Allow": "GET, HEAD"})
        return text(404, "not found\n")
