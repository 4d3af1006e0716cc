"""``FakeSite``: the ICESCO-like site's life cycle, content and fault injection, and how a
request is answered (see the package's docstring)."""

from __future__ import annotations

import datetime
import threading
import time
import urllib.parse
from types import TracebackType
from typing import Any, Self

from fakesite.model import (
    _ARTICLE_RE,
    _LISTING_RE,
    HTML_CONTENT_TYPE,
    LOOPBACK,
    Hit,
    SiteArticle,
    _conditional,
    _ConnFault,
    _copy_article,
    _esc,
    _FailRule,
    _page,
    _Response,
)
from fakesite.pages import Pages
from fakesite.server import _Server


class FakeSite(Pages):
    """Serve an ICESCO-like WordPress site on ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        articles: list[SiteArticle],
        per_page: int = 10,
        robots_txt: str = "User-agent: *\nDisallow: /wp-admin/\n",
        alias_host: str = "localhost",
    ) -> None:
        if per_page < 1:
            raise ValueError("per_page must be >= 1")
        self.per_page = per_page
        self.robots_txt = robots_txt
        self.alias_host = alias_host
        self.hits: list[Hit] = []
        self.errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._articles: list[SiteArticle] = []
        self._post_ids: dict[str, int] = {}
        self._fails: dict[str, _FailRule] = {}
        self._delays: dict[str, float] = {}
        self._overrides: dict[str, tuple[bytes, str]] = {}
        self._conn_faults: dict[str, _ConnFault] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._port: int | None = None
        for article in articles:
            self.add_article(article)

    # -- lifecycle -------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        self._stopping = threading.Event()
        server = _Server(self)
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakesite-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSite not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- content -----------------------------------------------------------

    @property
    def articles(self) -> list[SiteArticle]:
        """Copies of the current articles, newest first."""
        with self._lock:
            return [_copy_article(a) for a in self._articles]

    def add_article(self, a: SiteArticle) -> None:
        """Add a post (a copy of ``a``); slugs must be unique across languages."""
        with self._lock:
            if a.slug in self._post_ids:
                raise ValueError(f"duplicate slug: {a.slug!r}")
            self._post_ids[a.slug] = 1000 + len(self._post_ids) + 1
            self._articles.append(_copy_article(a))
            self._articles.sort(key=lambda art: art.published, reverse=True)

    def edit_article(
        self,
        slug: str,
        *,
        title: str | None = None,
        paragraphs: list[str] | None = None,
    ) -> None:
        """Change a post; ``modified`` becomes now (UTC, whole seconds, and
        strictly later than the previous ``modified or published``)."""
        with self._lock:
            article = self._get(slug)
            if title is not None:
                article.title = title
            if paragraphs is not None:
                article.paragraphs = list(paragraphs)
            now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            previous = article.last_modified.astimezone(datetime.UTC)
            if now <= previous:
                now = previous.replace(microsecond=0) + datetime.timedelta(seconds=1)
            article.modified = now

    def article_url(self, slug: str, host: str | None = None) -> str:
        with self._lock:
            path = self._get(slug).path
        return f"http://{host or LOOPBACK}:{self.port}{path}"

    # -- fault injection ---------------------------------------------------

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``status`` for that exact path (no query string), ``times``
        times or forever; ``times=0`` removes the rule."""
        with self._lock:
            if times is not None and times <= 0:
                self._fails.pop(path, None)
            else:
                self._fails[path] = _FailRule(status, times, dict(headers or {}))

    def delay(self, path: str, seconds: float) -> None:
        """Sleep ``seconds`` before answering that path; 0 removes the delay."""
        with self._lock:
            if seconds > 0:
                self._delays[path] = seconds
            else:
                self._delays.pop(path, None)

    def override(
        self,
        path: str,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        """Serve ``body`` as-is (status 200, no validators) for that path."""
        with self._lock:
            self._overrides[path] = (bytes(body), content_type)

    def reset(self, path: str, *, times: int | None = None) -> None:
        """Close the connection without answering (a TCP RST), ``times`` times or
        forever. The hit keeps status 0 and bytes_sent 0."""
        self._set_conn_fault(path, _ConnFault("reset", times))

    def truncate(self, path: str, *, fraction: float = 0.5, times: int | None = None) -> None:
        """Answer as usual, with the full ``Content-Length``, but send only
        ``fraction`` of the body, then close the connection."""
        if not 0 <= fraction < 1:
            raise ValueError("fraction must be in [0, 1)")
        self._set_conn_fault(path, _ConnFault("truncate", times, fraction=fraction))

    def stream(
        self,
        path: str,
        nbytes: int,
        *,
        content_type: str = HTML_CONTENT_TYPE,
        times: int | None = None,
    ) -> None:
        """Answer 200 with ``nbytes`` of HTML-ish body and no ``Content-Length``
        (the end of the body is the end of the connection), sent in 64 KiB chunks
        until done or the client goes away; ``bytes_sent`` counts what was sent."""
        self._set_conn_fault(path, _ConnFault("stream", times, nbytes=nbytes, content_type=content_type))

    def redirect(self, path: str, location: str, status: int = 302, *, times: int | None = None) -> None:
        """Answer ``status`` with ``Location: location`` (sent as given, absolute or not)."""
        if not 300 <= status <= 399:
            raise ValueError(f"not a redirect status: {status}")
        self._set_conn_fault(path, _ConnFault("redirect", times, location=location, status=status))

    def heal(self, path: str | None = None) -> None:
        """Remove every fault (fail, delay, override, reset, truncate, stream,
        redirect) of ``path``, or of every path."""
        with self._lock:
            tables: list[dict[str, Any]] = [self._fails, self._delays, self._overrides, self._conn_faults]
            for table in tables:
                if path is None:
                    table.clear()
                else:
                    table.pop(path, None)
                    table.pop(urllib.parse.unquote(path), None)

    def page_bytes(self, path: str) -> bytes:
        """The body a healthy GET of ``path`` gets now (faults and validators ignored)."""
        with self._lock:
            return self._route(path).body

    def clear_hits(self) -> None:
        with self._lock:
            self.hits.clear()

    # -- request handling (called from server threads) ---------------------

    def _record(self, hit: Hit) -> None:
        with self._lock:
            hit.at = time.monotonic()
            self.hits.append(hit)

    def _set_conn_fault(self, path: str, fault: _ConnFault) -> None:
        with self._lock:
            if fault.times is not None and fault.times <= 0:
                self._conn_faults.pop(path, None)
            else:
                self._conn_faults[path] = fault

    def _take_conn_fault(self, path: str) -> _ConnFault | None:
        """The connection-level fault of ``path``, if any (one use of it)."""
        with self._lock:
            key = self._lookup(self._conn_faults, path)
            if key is None:
                return None
            fault = self._conn_faults[key]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._conn_faults[key]
            return fault

    def _redirect_response(self, fault: _ConnFault) -> _Response:
        body = _page(
            f"{fault.status} Redirect",
            f'<p>Moved to <a href="{_esc(fault.location)}">{_esc(fault.location)}</a>.</p>',
        )
        return _Response(fault.status, body, headers=[("Location", fault.location)])

    def _lookup(self, table: dict[str, Any], path: str) -> str | None:
        if path in table:
            return path
        unquoted = urllib.parse.unquote(path)
        return unquoted if unquoted in table else None

    def _respond(self, method: str, path: str, headers: dict[str, str]) -> _Response | None:
        with self._lock:
            key = self._lookup(self._delays, path)
            seconds = self._delays[key] if key is not None else 0.0
        if seconds and self._stopping.wait(seconds):
            return None
        with self._lock:
            key = self._lookup(self._fails, path)
            if key is not None:
                rule = self._fails[key]
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        del self._fails[key]
                response = self._error_response(rule.status)
                response.headers.extend(rule.headers.items())
                return response
            if method not in ("GET", "HEAD"):
                response = self._error_response(405)
                response.headers.append(("Allow", "GET, HEAD"))
                return response
            key = self._lookup(self._overrides, path)
            if key is not None:
                body, content_type = self._overrides[key]
                return _Response(200, body, content_type)
            response = self._route(path)
        if response.status == 200 and response.etag is not None:
            return _conditional(response, headers)
        return response

    def _route(self, path: str) -> _Response:
        decoded = urllib.parse.unquote(path)
        if decoded == "/robots.txt":
            return _Response(200, self.robots_txt.encode(), "text/plain; charset=UTF-8")
        match = _LISTING_RE.match(decoded)
        if match:
            return self._listing(match["lang"], match["cat"], match["page"])
        match = _ARTICLE_RE.match(decoded)
        if match:
            return self._article_page(match["lang"], match["date"], match["slug"])
        slashed = decoded + "/"
        if (
            not decoded.endswith("/")
            and (_LISTING_RE.match(slashed) or _ARTICLE_RE.match(slashed))
            and self._route(path + "/").status == 200
        ):
            return self._redirect(path + "/")
        return self._not_found(decoded)
