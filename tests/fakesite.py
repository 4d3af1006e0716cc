"""An ICESCO-like WordPress news site served on 127.0.0.1 for tests.

Stdlib only: a ``ThreadingHTTPServer`` in a daemon thread, bound to the
loopback interface on a free port.  Nothing here ever talks to any other host.

Typical use::

    with FakeSite([SiteArticle(...), ...], per_page=10) as site:
        url = f"{site.base_url}/en/category/news/"
        ...
        assert [h.path for h in site.hits] == [...]

Served pages
------------
``/robots.txt``
    ``robots_txt`` as ``text/plain``.
``/{lang}/category/{cat}/`` and ``/{lang}/category/{cat}/page/{N}/`` (N >= 2)
    Listing of that category and language, newest first, ``per_page`` a page.
    ``/page/1/`` answers 301 to the base listing, an out-of-range page 404.
    A category is known when it is ``news`` or any article has it; a known
    category without articles in that language gives an empty 200 listing.
    Article links are absolute: on ``127.0.0.1`` for ``news``, on
    ``alias_host`` (same port) for every other category.  Pagination links,
    ``rel=next``/``rel=prev``, nav, sidebar and footer links are absolute on
    ``127.0.0.1`` (the WordPress "home URL").
``/{lang}/{YYYY}/{MM}/{DD}/{slug}/``
    The article page (the date is ``published`` in its own time zone).
Anything else
    404 HTML page.  A known page requested without its trailing slash is
    301-redirected to the slashed URL, as WordPress does.

Listing and article pages carry a strong ``ETag`` (quoted sha1 of the body)
and ``Last-Modified`` (newest ``modified or published`` of every article shown
on the page, sidebar included, whole seconds), and answer 304 to a matching
``If-None-Match`` or, when no ``If-None-Match`` is sent, to an
``If-Modified-Since`` not older than ``Last-Modified``.  Every response has a
``Content-Length`` (on 304 and HEAD it is the length the 200 body would have,
as RFC 9110 allows; nothing is sent) and ``Connection: close``.

Fault injection
---------------
``fail(path, status)``, ``delay(path, seconds)`` and ``override(path, body)``
change what a path answers; ``reset(path)`` (close the connection without
answering, with a TCP RST), ``truncate(path)`` (announce the whole body in
``Content-Length``, send only part of it, close), ``stream(path, nbytes)`` (a
200 body of ``nbytes`` with no ``Content-Length``, ended by closing) and
``redirect(path, location)`` act at the connection level.  ``heal(path)``
removes every fault of a path (``heal()``: of every path).  ``page_bytes(path)``
is the body a healthy GET of a path would get.

The article date line uses localised month names: English for ``en``
(``"11 July 2024"``), French for ``fr`` (``"5 décembre 2022"``) and Arabic for
``ar``.  ``article:section`` / ``articleSection`` hold category *names*
(``executive-council`` -> ``"Executive Council"``), see ``category_name()``.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import hashlib
import html
import json
import math
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["FakeSite", "Hit", "SiteArticle", "category_name", "excerpt"]

LOOPBACK = "127.0.0.1"
HTML_CONTENT_TYPE = "text/html; charset=UTF-8"
EXCERPT_WORDS = 30
LATEST_COUNT = 3

_HTML_LANG = {"en": "en-US", "fr": "fr-FR", "ar": "ar"}
_OG_LOCALE = {"en": "en_US", "fr": "fr_FR", "ar": "ar_AR"}
_RTL_LANGS = frozenset({"ar"})
_DEFAULT_LANGS = ("en", "fr", "ar")
_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "ar": (
        "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
        "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
    ),
}  # fmt: skip

_LISTING_RE = re.compile(r"^/(?P<lang>[a-z]{2})/category/(?P<cat>[^/]+)/(?:page/(?P<page>[^/]+)/)?$")
_ARTICLE_RE = re.compile(r"^/(?P<lang>[a-z]{2})/(?P<date>\d{4}/\d{2}/\d{2})/(?P<slug>[^/]+)/$")
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass
class SiteArticle:
    """One post of the fake site; served at ``/{lang}/{YYYY}/{MM}/{DD}/{slug}/``."""

    slug: str
    title: str
    published: datetime.datetime
    paragraphs: list[str]
    categories: list[str] = field(default_factory=lambda: ["news"])
    subtitle: str | None = None
    lang: str = "en"
    modified: datetime.datetime | None = None

    def __post_init__(self) -> None:
        if not self.slug or "/" in self.slug:
            raise ValueError(f"invalid slug: {self.slug!r}")
        if not re.fullmatch(r"[a-z]{2}", self.lang):
            raise ValueError(f"invalid lang: {self.lang!r}")
        for name in ("published", "modified"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware: {value!r}")

    @property
    def path(self) -> str:
        slug = urllib.parse.quote(self.slug, safe="")
        return f"/{self.lang}/{self.published:%Y/%m/%d}/{slug}/"

    @property
    def last_modified(self) -> datetime.datetime:
        return self.modified or self.published


@dataclass
class Hit:
    """One request received by the fake site.

    ``path`` is the request path *with* its query string (``?a=b``) if any;
    ``host`` the lower-cased host name of the ``Host`` header, without port;
    ``headers`` the request headers with canonical names (``User-Agent``).
    ``status`` is 0 until the response is decided (e.g. while a ``delay()``
    is running, or if ``stop()`` interrupted it); ``bytes_sent`` is the length
    of the body actually sent (0 for HEAD and 304).
    """

    method: str
    path: str
    host: str
    status: int
    bytes_sent: int
    headers: dict[str, str]
    at: float = field(default=0.0, compare=False, repr=False)  # time.monotonic() when received


@dataclass
class _FailRule:
    status: int
    times: int | None
    headers: dict[str, str]


@dataclass
class _ConnFault:
    kind: str  # reset, truncate, stream, redirect
    times: int | None
    fraction: float = 0.5  # truncate: share of the body sent
    nbytes: int = 0  # stream: body length
    content_type: str = HTML_CONTENT_TYPE  # stream
    location: str = ""  # redirect
    status: int = 302  # redirect


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = HTML_CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    etag: str | None = None
    last_modified: int | None = None  # POSIX seconds


def category_name(slug: str) -> str:
    """Display name of a slug: ``executive-council`` -> ``Executive Council``."""
    return " ".join(part.capitalize() for part in slug.split("-") if part)


def excerpt(article: SiteArticle) -> str:
    """Listing excerpt: first 30 words of the text, `` […]`` when cut."""
    words = " ".join(article.paragraphs).split()
    text = " ".join(words[:EXCERPT_WORDS])
    return text + " [\u2026]" if len(words) > EXCERPT_WORDS else text


def _iso(dt: datetime.datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _date_line(dt: datetime.datetime, lang: str) -> str:
    months = _MONTHS.get(lang, _MONTHS["en"])
    return f"{dt.day} {months[dt.month - 1]} {dt.year}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _canonical_header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _hostname(host_header: str) -> str:
    if not host_header:
        return ""
    try:
        return urllib.parse.urlsplit("//" + host_header).hostname or ""
    except ValueError:
        return host_header.lower()


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == wanted for candidate in if_none_match.split(","))


def _json_ld(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1).replace("</", "<\\/")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, site: FakeSite) -> None:
        self.site = site
        super().__init__((LOOPBACK, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Keep stderr quiet; client disconnects etc. are not test failures.
        return


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Apache"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        site = self.server.site
        target = urllib.parse.urlsplit(self.path)
        path = target.path or "/"
        headers = {_canonical_header_name(k): v for k, v in self.headers.items()}
        host = _hostname(headers.get("Host") or target.netloc)
        recorded_path = f"{path}?{target.query}" if target.query else path
        hit = Hit(self.command, recorded_path, host, 0, 0, headers)
        site._record(hit)
        self.close_connection = True
        fault = site._take_conn_fault(path)
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "stream":
            self._stream(hit, fault)
            return
        if fault is not None and fault.kind == "redirect":
            self._send(hit, site._redirect_response(fault), None)
            return
        try:
            response = site._respond(self.command, path, headers)
        except Exception as exc:  # noqa: BLE001 - a fake-site bug: 500, kept
            site.errors.append(exc)
            response = site._error_response(500)
        if response is None:  # stop() interrupted a delay
            return
        self._send(hit, response, fault.fraction if fault is not None else None)

    def _send(self, hit: Hit, response: _Response, fraction: float | None) -> None:
        """Send ``response``; with ``fraction``, only that share of the body (the
        Content-Length still announces all of it), then the connection is closed."""
        send_body = self.command != "HEAD" and response.status not in _NO_BODY_STATUSES
        body = response.body if send_body else b""
        if fraction is not None:
            body = body[: int(len(body) * fraction)]
        hit.status = response.status
        hit.bytes_sent = len(body)
        try:
            self.send_response(response.status)
            if response.status not in _NO_BODY_STATUSES or response.body:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # client went away (timeouts, cancelled requests)
            return

    def _reset(self) -> None:
        """Close the connection at once, unanswered: SO_LINGER 0 makes it an RST."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.rfile.close()  # drops the last reference the socket's files hold to it
        self.wfile.close()
        self.connection.close()

    def _stream(self, hit: Hit, fault: _ConnFault) -> None:
        """A 200 of ``fault.nbytes`` bytes without Content-Length, ended by closing."""
        site = self.server.site
        hit.status = 200
        chunk = (b"<p>" + b"x" * 1017 + b"</p>\n") * 64  # 64 KiB
        try:
            self.send_response(200)
            self.send_header("Content-Type", fault.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            if self.command == "HEAD":
                return
            left = fault.nbytes
            while left > 0 and not site._stopping.is_set():
                part = chunk[:left]
                self.wfile.write(part)
                hit.bytes_sent += len(part)
                left -= len(part)
            self.wfile.flush()
        except OSError:  # the client gave up (size limit, timeout)
            return


class FakeSite:
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

    # -- pages ---------------------------------------------------------------

    def _get(self, slug: str) -> SiteArticle:
        for article in self._articles:
            if article.slug == slug:
                return article
        raise KeyError(slug)

    def _langs(self) -> set[str]:
        return set(_DEFAULT_LANGS) | {a.lang for a in self._articles}

    def _known_category(self, cat: str) -> bool:
        return cat == "news" or any(cat in a.categories for a in self._articles)

    def _categories(self, lang: str) -> list[str]:
        cats = {c for a in self._articles if a.lang == lang for c in a.categories}
        cats.discard("news")
        return ["news", *sorted(cats)]

    def _latest(self, lang: str) -> list[SiteArticle]:
        return [a for a in self._articles if a.lang == lang][:LATEST_COUNT]

    def _listing_url(self, lang: str, cat: str, page: int = 1) -> str:
        url = f"{self.base_url}/{lang}/category/{urllib.parse.quote(cat)}/"
        return url if page == 1 else f"{url}page/{page}/"

    def _redirect(self, location_path: str) -> _Response:
        location = location_path
        if location.startswith("/"):
            location = self.base_url + location
        body = _page(
            "301 Moved Permanently",
            f'<p>Moved to <a href="{_esc(location)}">{_esc(location)}</a>.</p>',
        )
        return _Response(301, body, headers=[("Location", location)])

    def _error_response(self, status: int) -> _Response:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        if status in _NO_BODY_STATUSES or status < 200:
            return _Response(status)
        return _Response(status, _page(f"{status} {phrase}", f"<h1>{phrase}</h1>"))

    def _not_found(self, path: str) -> _Response:
        first = path.split("/")[1] if path.count("/") > 1 else ""
        lang = first if first in self._langs() else "en"
        main = (
            '<section class="error-404 not-found">'
            '<h1 class="page-title">Oops! That page can&rsquo;t be found.</h1>'
            "<p>It looks like nothing was found at this location.</p>"
            "</section>"
        )
        body = self._document(
            lang=lang,
            title="Page not found - ICESCO",
            head="",
            body_class="error404",
            main=main,
        )
        return _Response(404, body)

    def _listing(self, lang: str, cat: str, page_part: str | None) -> _Response:
        if lang not in self._langs() or not self._known_category(cat):
            return self._not_found(f"/{lang}/category/{cat}/")
        posts = [a for a in self._articles if a.lang == lang and cat in a.categories]
        pages = max(1, math.ceil(len(posts) / self.per_page))
        if page_part is None:
            page = 1
        elif page_part == "1":
            return self._redirect(self._listing_url(lang, cat))
        elif page_part.isdigit() and not page_part.startswith("0"):
            page = int(page_part)
        else:
            return self._not_found(f"/{lang}/category/{cat}/page/{page_part}/")
        if page > pages:
            return self._not_found(f"/{lang}/category/{cat}/page/{page}/")
        shown = posts[(page - 1) * self.per_page : page * self.per_page]
        name = category_name(cat)
        link_host = LOOPBACK if cat == "news" else self.alias_host

        head = [f'<link rel="canonical" href="{_esc(self._listing_url(lang, cat, page))}">']
        if page > 1:
            prev_url = self._listing_url(lang, cat, page - 1)
            head.append(f'<link rel="prev" href="{_esc(prev_url)}">')
        if page < pages:
            next_url = self._listing_url(lang, cat, page + 1)
            head.append(f'<link rel="next" href="{_esc(next_url)}">')

        items = []
        for a in shown:
            url = f"http://{link_host}:{self.port}{a.path}"
            subtitle = f'<h3 class="entry-subtitle">{_esc(a.subtitle)}</h3>' if a.subtitle else ""
            items.append(
                f'<article id="post-{self._post_ids[a.slug]}" class="post">'
                f'<header class="entry-header">'
                f'<h2 class="entry-title"><a href="{_esc(url)}" rel="bookmark">'
                f"{_esc(a.title)}</a></h2>{subtitle}"
                f'<div class="entry-meta"><time class="entry-date published" '
                f'datetime="{_iso(a.published)}">{_date_line(a.published, lang)}'
                f"</time></div></header>"
                f'<div class="entry-summary"><p>{_esc(excerpt(a))}</p></div>'
                f'<a class="read-more" href="{_esc(url)}">Read more</a>'
                f"</article>"
            )
        if not items:
            items.append('<p class="no-results">Nothing found.</p>')

        main = (
            f'<header class="page-header"><h1 class="page-title">Category: '
            f"{_esc(name)}</h1></header>\n" + "\n".join(items) + "\n" + self._pagination(lang, cat, page, pages)
        )
        title = f"{name} Archives"
        if page > 1:
            title += f" - Page {page} of {pages}"
        latest = self._latest(lang)
        body = self._document(
            lang=lang,
            title=f"{title} - ICESCO",
            head="\n".join(head),
            body_class=f"archive category category-{_esc(cat)}",
            main=main,
            latest=latest,
        )
        return _page_response(body, [*shown, *latest])

    def _pagination(self, lang: str, cat: str, page: int, pages: int) -> str:
        if pages <= 1:
            return ""
        nav_open = '<nav class="navigation pagination" aria-label="Posts">'
        parts = [nav_open + '<div class="nav-links">']
        if page > 1:
            url = _esc(self._listing_url(lang, cat, page - 1))
            parts.append(f'<a class="prev page-numbers" href="{url}">&laquo; Previous</a>')
        for n in range(1, pages + 1):
            if n == page:
                parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
            else:
                url = _esc(self._listing_url(lang, cat, n))
                parts.append(f'<a class="page-numbers" href="{url}">{n}</a>')
        if page < pages:
            url = _esc(self._listing_url(lang, cat, page + 1))
            parts.append(f'<a class="next page-numbers" href="{url}">Next &raquo;</a>')
        parts.append("</div></nav>")
        return "".join(parts)

    def _article_page(self, lang: str, date: str, slug: str) -> _Response:
        try:
            a = self._get(slug)
        except KeyError:
            return self._not_found(f"/{lang}/{date}/{slug}/")
        if a.lang != lang or f"{a.published:%Y/%m/%d}" != date:
            return self._not_found(f"/{lang}/{date}/{slug}/")
        canonical = self.base_url + a.path
        sections = [category_name(c) for c in a.categories]
        html_lang = _HTML_LANG.get(lang, lang)
        ld = {
            "@context": "https://schema.org",
            "@graph": [
                {
                    "@type": "NewsArticle",
                    "@id": f"{canonical}#article",
                    "isPartOf": {"@id": canonical},
                    "headline": a.title,
                    "datePublished": _iso(a.published),
                    "dateModified": _iso(a.last_modified),
                    "mainEntityOfPage": {"@id": canonical},
                    "articleSection": sections,
                    "inLanguage": html_lang,
                    "publisher": {"@id": f"{self.base_url}/#organization"},
                },
                {
                    "@type": "WebPage",
                    "@id": canonical,
                    "url": canonical,
                    "name": f"{a.title} - ICESCO",
                    "datePublished": _iso(a.published),
                    "dateModified": _iso(a.last_modified),
                    "inLanguage": html_lang,
                },
                {
                    "@type": "Organization",
                    "@id": f"{self.base_url}/#organization",
                    "name": "ICESCO",
                    "url": f"{self.base_url}/",
                },
            ],
        }
        head = [
            f'<link rel="canonical" href="{_esc(canonical)}">',
            f'<meta property="og:locale" content="{_OG_LOCALE.get(lang, lang)}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:title" content="{_esc(a.title)}">',
            f'<meta property="og:url" content="{_esc(canonical)}">',
            '<meta property="og:site_name" content="ICESCO">',
            f'<meta property="article:published_time" content="{_iso(a.published)}">',
        ]
        if a.modified is not None:
            head.append(f'<meta property="article:modified_time" content="{_iso(a.modified)}">')
        head.extend(f'<meta property="article:section" content="{_esc(s)}">' for s in sections)
        head.append(f'<script type="application/ld+json" class="yoast-schema-graph">{_json_ld(ld)}</script>')
        subtitle = f'<h2 class="subtitle">{_esc(a.subtitle)}</h2>\n' if a.subtitle else ""
        paragraphs = "\n".join(f"<p>{_esc(p)}</p>" for p in a.paragraphs)
        post_id = self._post_ids[a.slug]
        cat_classes = " ".join(f"category-{_esc(c)}" for c in a.categories)
        share_url = urllib.parse.quote(canonical, safe="")
        # Buttons, not links: nothing on the page may point off loopback.
        share_buttons = "".join(
            f'<button type="button" class="share share-{net.lower()}" data-url="{share_url}">{net}</button>'
            for net in ("Facebook", "Twitter", "WhatsApp")
        )
        main = (
            f'<article id="post-{post_id}" class="post-{post_id} post type-post '
            f'status-publish format-standard hentry {cat_classes}">\n'
            f'<header class="entry-header">\n'
            f'<h1 class="entry-title">{_esc(a.title)}</h1>\n'
            f"{subtitle}"
            f'<div class="entry-date"><time datetime="{_iso(a.published)}">'
            f"{_date_line(a.published, lang)}</time></div>\n"
            f"</header>\n"
            f'<div class="entry-content">\n{paragraphs}\n</div>\n'
            f'<footer class="entry-footer"><div class="share-buttons">'
            f'<span class="share-label">Share</span>{share_buttons}'
            f"</div></footer>\n"
            f"</article>"
        )
        latest = self._latest(lang)
        body = self._document(
            lang=lang,
            title=f"{a.title} - ICESCO",
            head="\n".join(head),
            body_class=f"post-template-default single single-post postid-{post_id}",
            main=main,
            latest=latest,
        )
        return _page_response(body, [a, *latest])

    def _document(
        self,
        *,
        lang: str,
        title: str,
        head: str,
        body_class: str,
        main: str,
        latest: Iterable[SiteArticle] | None = None,
    ) -> bytes:
        html_lang = _HTML_LANG.get(lang, lang)
        dir_attr = ' dir="rtl"' if lang in _RTL_LANGS else ""
        nav = "".join(
            f'<li class="menu-item"><a href="{_esc(self._listing_url(lang, c))}">{_esc(category_name(c))}</a></li>'
            for c in self._categories(lang)
        )
        if latest is None:
            latest = self._latest(lang)
        latest_items = "".join(
            f'<li><a href="{_esc(self.base_url + a.path)}">{_esc(a.title)}</a>'
            f'<span class="post-date">{_date_line(a.published, lang)}</span></li>'
            for a in latest
        )
        home = _esc(self._listing_url(lang, "news"))
        return (
            f"<!DOCTYPE html>\n"
            f'<html lang="{html_lang}"{dir_attr}>\n'
            f"<head>\n"
            f'<meta charset="UTF-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n"
            f'<meta name="robots" content="index, follow">\n'
            f"{head}\n"
            f'<meta name="generator" content="WordPress 6.4.3">\n'
            f"</head>\n"
            f'<body class="{body_class}">\n'
            f'<div id="page" class="site">\n'
            f'<header id="masthead" class="site-header">\n'
            f'<div class="gt-disclaimer">Disclaimer: You are using Google Translate. '
            f"The ICESCO is not responsible for the accuracy of the information in "
            f"the translated language .</div>\n"
            f'<div class="site-branding"><a class="custom-logo-link" href="{home}" '
            f'rel="home">ICESCO</a></div>\n'
            f'<nav id="site-navigation" class="main-navigation">'
            f'<ul id="primary-menu" class="menu">{nav}</ul></nav>\n'
            f'<div class="feedback-widget"><h4>your opinion</h4><p>User Feedback</p>'
            f"<p>Overall, how satisfied are you about the website?</p>"
            f"<span>Extremely Dissatisfied</span> <span>Extremely Satisfied</span>"
            f"</div>\n"
            f"</header>\n"
            f'<div id="content" class="site-content">\n'
            f'<main id="main" class="site-main">\n{main}\n</main>\n'
            f'<aside id="secondary" class="widget-area sidebar">\n'
            f'<section class="widget widget_recent_entries">'
            f'<h2 class="widget-title">Latest articles</h2>'
            f"<ul>{latest_items}</ul></section>\n"
            f"</aside>\n"
            f"</div>\n"
            f'<footer id="colophon" class="site-footer">\n'
            f'<nav class="footer-navigation"><ul class="menu">{nav}</ul></nav>\n'
            f'<div class="site-info">&copy; ICESCO. All rights reserved. '
            f'<a class="admin-link" href="{_esc(self.base_url)}/wp-admin/">Log in</a>'
            f"</div>\n"
            f"</footer>\n"
            f"</div>\n"
            f"</body>\n"
            f"</html>\n"
        ).encode()


def _copy_article(a: SiteArticle) -> SiteArticle:
    return dataclasses.replace(a, paragraphs=list(a.paragraphs), categories=list(a.categories))


def _page(title: str, inner: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="UTF-8"><title>{_esc(title)}'
        f"</title></head><body>{inner}</body></html>\n"
    ).encode()


def _page_response(body: bytes, shown: list[SiteArticle]) -> _Response:
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
    last_modified = max(int(a.last_modified.timestamp()) for a in shown) if shown else None
    headers = [("ETag", etag)]
    if last_modified is not None:
        headers.append(("Last-Modified", email.utils.formatdate(last_modified, usegmt=True)))
    return _Response(200, body, headers=headers, etag=etag, last_modified=last_modified)


def _conditional(response: _Response, headers: dict[str, str]) -> _Response:
    if response.etag is None:
        return response
    if_none_match = headers.get("If-None-Match")
    not_modified = False
    if if_none_match is not None:
        not_modified = _etag_matches(if_none_match, response.etag)
    elif response.last_modified is not None and "If-Modified-Since" in headers:
        try:
            since = email.utils.parsedate_to_datetime(headers["If-Modified-Since"])
        except (TypeError, ValueError):
            since = None
        if since is not None:
            if since.tzinfo is None:
                since = since.replace(tzinfo=datetime.UTC)
            not_modified = since.timestamp() >= response.last_modified
    if not not_modified:
        return response
    # Body kept only so that Content-Length reports the 200 length; not sent.
    return dataclasses.replace(response, status=304)
