"""The service's HTTP side: feeds (with validators), a small page, health and metrics."""

from __future__ import annotations

import datetime as dt
import email.utils
import errno
import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from feeds.formats import FORMATS, build_all, format_at, write_all
from feeds.pages import article_page, index_page
from feeds.render import EPOCH, parse_time, updated_date
from feeds.settings import FeedSettings
from monitor.archive import Archive, ArticleRow, Metrics, RunRow
from monitor.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    body: bytes
    etag: str
    last_modified: dt.datetime


def newest_time(rows: list[ArticleRow]) -> dt.datetime:
    """When the feed's content last changed: the newest publication, edit or discovery
    (an article found today may carry an older date)."""
    times = [max(updated_date(r), parse_time(r.first_seen_at)) for r in rows]
    return max(times, default=EPOCH)


def _built(body: bytes, last_modified: dt.datetime) -> Built:
    return Built(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', last_modified)


class FeedCache:
    """Every registered feed format (feeds.formats.FORMATS) as bytes, rebuilt only when the
    archive changed. Rebuilding never writes files (a GET must not): the scheduler writes
    them to ``feed.out_dir`` with write()."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.lock = threading.Lock()
        self.marker: tuple[int, str] | None = None
        self.built: dict[str, Built] = {name: Built(b"", '""', EPOCH) for name in FORMATS}

    def __getitem__(self, name: str) -> Built:
        """The format ``name`` ("rss", "atom", "json") as last built."""
        return self.built[name]

    @property
    def rss(self) -> Built:
        return self.built["rss"]

    @property
    def atom(self) -> Built:
        return self.built["atom"]

    def refresh(self, archive: Archive) -> bool:
        """Rebuild if the archive changed since the last build; True if rebuilt."""
        marker = archive.change_marker()
        with self.lock:
            if marker == self.marker:
                return False
            rows = archive.articles(limit=self.cfg.feed.items)
            modified = newest_time(rows)
            self.built = {name: _built(body, modified) for name, body in build_all(rows, self.cfg.feed).items()}
            self.marker = marker
        log.info("feeds rebuilt: %d articles", min(marker[0], self.cfg.feed.items))
        return True

    def write(self, out: Path) -> tuple[int, str] | None:
        """Write every format as built now to out (atomically); returns the marker they were built at."""
        with self.lock:
            marker, bodies = self.marker, {name: built.body for name, built in self.built.items()}
        write_all(out, bodies)
        return marker


def write_feed_files(out: Path, rows: list[ArticleRow], feed: FeedSettings) -> list[Path]:
    """Build every registered format from rows and write each to out (atomically), as
    ``icesco-monitor feed`` does; returns the paths written."""
    return write_all(out, build_all(rows, feed))


def write_feeds(out: Path, rss: bytes, atom: bytes) -> tuple[Path, Path]:
    """RSS and Atom only (kept for callers that build those two themselves; prefer
    write_feed_files, which writes every registered format)."""
    rss_path, atom_path = write_all(out, {"rss": rss, "atom": atom})
    return rss_path, atom_path


def metrics_text(m: Metrics) -> str:
    """Prometheus text exposition of the archive's counters."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, values: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in values)

    statuses = ("ok", "degraded", "failed", "interrupted")
    metric(
        "icesco_crawls_total",
        "counter",
        "Crawl runs by status.",
        [(f'{{status="{s}"}}', m.runs.get(s, 0)) for s in statuses],
    )
    metric("icesco_pages_fetched_total", "counter", "Pages fetched (or dumps read) by all crawls.", [("", m.pages)])
    metric("icesco_articles_new_total", "counter", "New articles found by all crawls.", [("", m.new)])
    metric("icesco_articles_updated_total", "counter", "Edited articles found by all crawls.", [("", m.updated)])
    metric("icesco_crawl_errors_total", "counter", "Pages or dumps that failed.", [("", m.errors)])
    metric(
        "icesco_crawl_alarms_total",
        "counter",
        "Layout alarms: listings with no article links, articles with no title or body, unreadable REST or feed"
        " answers, start URLs that yielded nothing readable.",
        [("", m.alarms)],
    )
    metric("icesco_articles", "gauge", "Articles in the archive.", [("", m.articles)])
    d = m.deliveries
    metric("icesco_digests_sent_total", "counter", "Digest messages sent.", [("", d.get("sent", 0))])
    metric(
        "icesco_digests_failed_total",
        "counter",
        "Digests that failed for good (permanent errors).",
        [("", d.get("failed", 0))],
    )
    metric(
        "icesco_digests_pending",
        "gauge",
        "Digests waiting for a retry or interrupted.",
        [("", d.get("retry", 0) + d.get("sending", 0))],
    )
    last = m.last_success
    stamp = dt.datetime.fromisoformat(last).timestamp() if last else 0
    metric(
        "icesco_last_crawl_success_timestamp_seconds",
        "gauge",
        "End of the last successful crawl (0: never).",
        [("", stamp)],
    )
    return "\n".join(lines) + "\n"


def _run_summary(run: RunRow) -> dict[str, Any]:
    return {"finished_at": run.finished_at, "status": run.status, "errors": run.errors}


def health(
    cfg: Config, last_success: str | None, now: dt.datetime, last_run: RunRow | None = None
) -> tuple[int, dict[str, Any]]:
    """200 when the last crawl succeeded, recently; 503 otherwise."""
    limit = dt.timedelta(minutes=cfg.service.health_max_age_minutes)
    body: dict[str, Any] = {"last_success": last_success, "max_age_minutes": cfg.service.health_max_age_minutes}
    if last_run is not None and last_run.status == "degraded":
        alarms = list(last_run.alarms)
        body["last_run"] = _run_summary(last_run)
        return 503, {
            "status": "degraded: the last crawl could not read the site (has its layout changed?)",
            "alarms": alarms[:10],
            **body,
        }
    if last_success is None:
        return 503, {"status": "no successful crawl yet", **body}
    if last_run is not None and last_run.status != "ok":
        body["last_run"] = _run_summary(last_run)
        return 503, {"status": "last crawl failed", **body}
    age = now - dt.datetime.fromisoformat(last_success)
    body["age_seconds"] = int(age.total_seconds())
    if age > limit:
        return 503, {"status": "stale", **body}
    return 200, {"status": "ok", **body}


# --- the WSGI application ------------------------------------------------------------------

Response = tuple[int, list[tuple[str, str]], bytes]


class App:
    """The service's pages as a WSGI application: GET and HEAD of the feeds (with ETag,
    Last-Modified and 304), the index page, article pages, /healthz and /metrics."""

    def __init__(self, cfg: Config, feeds: FeedCache) -> None:
        self.cfg = cfg
        self.feeds = feeds

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            status, headers, body = _response(
                405, "text/plain; charset=utf-8", b"method not allowed\n", {"Allow": "GET, HEAD"}
            )
        else:
            try:
                status, headers, body = self.answer(path, environ)
            except Exception:  # one bad request never stops the service
                log.exception("%s: error while answering", path)
                status, headers, body = _response(500, "text/plain; charset=utf-8", b"internal error\n")
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [] if head or status == 304 else [body]

    def answer(self, path: str, environ: dict[str, Any]) -> Response:
        cfg = self.cfg
        if (fmt := format_at(path)) is not None:
            with Archive(cfg.database, migrate=False) as archive:
                self.feeds.refresh(archive)  # in memory only: files are written by the scheduler
            return _feed(self.feeds[fmt.name], fmt.media_type, environ)
        if path == "/healthz":
            with Archive(cfg.database, migrate=False) as archive:
                last = archive.last_finished_crawl()
                status, body = health(cfg, archive.last_good_crawl(), dt.datetime.now(dt.UTC), last)
            return _response(status, "application/json", json.dumps(body).encode(), {"Cache-Control": "no-store"})
        if path == "/metrics":
            with Archive(cfg.database, migrate=False) as archive:
                text = metrics_text(archive.metrics())
            return _response(200, "text/plain; version=0.0.4; charset=utf-8", text.encode())
        if path == "/":
            with Archive(cfg.database, migrate=False) as archive:
                rows = archive.articles(limit=cfg.feed.items)
            html = index_page(rows, cfg.feed, cfg.site.timezone)
            return _response(200, "text/html; charset=utf-8", html.encode())
        if m := re.fullmatch(r"/articles/((?:[a-z][a-z0-9-]*:)?[0-9a-f]{16})", path):  # a site's name, then the hash
            with Archive(cfg.database, migrate=False) as archive:
                row = archive.article(m[1])
            if row is None:
                return _response(404, "text/plain; charset=utf-8", b"no such article\n")
            html = article_page(row, cfg.feed, cfg.site.timezone)
            return _response(200, "text/html; charset=utf-8", html.encode())
        return _response(404, "text/plain; charset=utf-8", b"not found\n")


def _response(status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> Response:
    out = [
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        *(headers or {}).items(),
    ]
    return status, out, body


def _feed(built: Built, ctype: str, environ: dict[str, Any]) -> Response:
    last_modified = email.utils.format_datetime(built.last_modified, usegmt=True)
    headers = {"ETag": built.etag, "Last-Modified": last_modified, "Cache-Control": "max-age=300"}
    inm = environ.get("HTTP_IF_NONE_MATCH")
    ims = environ.get("HTTP_IF_MODIFIED_SINCE")
    fresh = False
    if inm is not None:
        fresh = built.etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"
    elif ims is not None:
        try:
            fresh = built.last_modified.replace(microsecond=0) <= email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            fresh = False
    if fresh:  # (waitress drops Content-Length from a 304, as RFC 9110 allows)
        return _response(304, ctype, b"", headers)
    return _response(200, ctype, built.body, headers)


# --- the server: waitress, bounded ------------------------------------------------------------

THREADS = 8  # worker threads: the most requests answered at once, however many clients connect
CONNECTION_LIMIT = 1000  # open client connections; beyond it new ones wait in the backlog
BACKLOG = 1024  # listen() backlog (the kernel caps it at net.core.somaxconn)
CHANNEL_TIMEOUT = 30.0  # seconds an idle connection (keep-alive, or silent after connecting) stays open
REQUEST_TIMEOUT = 15.0  # seconds from a request's first byte to its last (slowloris)
CLEANUP_INTERVAL = 2.0  # how often the timeouts are checked
MAX_HEADER_BYTES = 32 * 1024  # request line and headers (larger: 431)
MAX_BODY_BYTES = 64 * 1024  # request bodies (the service reads none; larger: 413)
FD_RESERVE = 16  # descriptors kept back for SQLite, logs, the crawl subprocess' pipes...
FD_PER_THREAD = 4  # ...and per worker thread (SQLite's database, WAL and shm files)


def connection_limit_for(wanted: int, threads: int) -> int:
    """The connection limit that fits in the descriptor limit (RLIMIT_NOFILE): at the limit
    waitress stops accepting, instead of accept() failing with EMFILE in a loop."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32
    return max(8, min(wanted, soft - in_use - FD_RESERVE - FD_PER_THREAD * threads))


def raise_fd_limit(target: int = 4096) -> int:
    """Raise this process's soft descriptor limit towards the hard one (up to target), so
    that the connection limit is not cut down by a low default. Returns the soft limit."""
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(hard, target)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (OSError, ValueError):
            pass
    return int(soft)


class _OncePer(logging.Filter):
    """Lets one record through per interval (waitress warns "Task queue depth is N" at every
    queued request under load)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.next = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self.next:
            return False
        self.next = now + self.seconds
        return True


_QUEUE_LOG = logging.getLogger("waitress.queue")
if not any(isinstance(f, _OncePer) for f in _QUEUE_LOG.filters):
    _QUEUE_LOG.addFilter(_OncePer(60))


class _Channel(HTTPChannel):
    """waitress's connection, plus when the request being received began (for REQUEST_TIMEOUT:
    waitress's own channel_timeout counts from the last byte, so a client sending one byte
    every few seconds would never time out)."""

    request_started = 0.0

    def received(self, data: bytes) -> bool:
        before = self.request
        done = bool(super().received(data))
        if self.request is None:
            self.request_started = 0.0
        elif self.request is not before:
            self.request_started = time.time()
        return done


class _Server(TcpWSGIServer):
    channel_class = _Channel
    request_timeout = REQUEST_TIMEOUT
    accept_paused_until = 0.0

    def maintenance(self, now: float) -> None:
        """Close idle connections (channel_timeout, waitress) and requests that take too
        long to arrive (request_timeout). A request being answered is never cut."""
        super().maintenance(now)
        cutoff = now - self.request_timeout
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", 0.0)
            if not channel.requests and started and started < cutoff:
                channel.will_close = True

    def readable(self) -> bool:
        ready = bool(super().readable())  # also runs maintenance() and the connection limit
        return ready and time.monotonic() >= self.accept_paused_until

    def handle_accept(self) -> None:
        try:
            pair = self.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # Out of descriptors: stop polling the listening socket for a moment
                # rather than spinning on it (the waiting clients stay in the backlog).
                self.accept_paused_until = time.monotonic() + 0.25
                log.warning("cannot accept connections for now: %s", exc.strerror)
            return
        if pair is None:
            return
        conn, addr = pair
        try:
            self.set_socket_options(conn)
        except OSError:
            conn.close()
            return
        self.channel_class(self, conn, addr, self.adj, map=self._map)


class WebServer:
    """The service's HTTP server: waitress serving App.

    waitress reads and writes every connection in one asyncore-style loop (the thread that
    calls serve_forever) and hands complete requests to a fixed pool of worker threads, so a
    slow or idle client holds a descriptor and a few kilobytes, never a thread. Connections
    are limited (connection_limit, fitted to RLIMIT_NOFILE) and timed out (idle:
    channel_timeout; a request that takes too long to arrive: request_timeout).

    The interface is socketserver's: serve_forever() in a thread, shutdown(), server_close(),
    server_address.
    """

    def __init__(
        self,
        cfg: Config,
        feeds: FeedCache,
        host: str,
        port: int,
        *,
        threads: int = THREADS,
        connection_limit: int = CONNECTION_LIMIT,
        backlog: int = BACKLOG,
        channel_timeout: float = CHANNEL_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
        cleanup_interval: float = CLEANUP_INTERVAL,
    ) -> None:
        self.cfg = cfg
        self.feeds = feeds
        self.app = App(cfg, feeds)
        self.map: dict[int, Any] = {}
        self.adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            backlog=backlog,
            connection_limit=connection_limit_for(connection_limit, threads),
            channel_timeout=channel_timeout,
            cleanup_interval=cleanup_interval,
            asyncore_loop_timeout=1,
            asyncore_use_poll=True,  # select() cannot watch descriptors past 1023
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=MAX_BODY_BYTES,
            ident="icesco-monitor",
            log_socket_errors=False,  # clients that hang up are not our errors
        )
        self.dispatcher = ThreadedTaskDispatcher()
        self.servers: list[_Server] = []
        try:
            for sockinfo in self.adj.listen:
                srv = _Server(self.app, self.map, dispatcher=self.dispatcher, adj=self.adj, sockinfo=sockinfo)
                srv.request_timeout = request_timeout
                self.servers.append(srv)
        except BaseException:
            wasyncore.close_all(self.map, ignore_all=True)
            raise
        self.dispatcher.set_thread_count(threads)
        first = self.servers[0]
        self.server_address: tuple[str, int] = (str(first.effective_host), int(first.effective_port))
        self._stop = threading.Event()
        self._running = threading.Lock()
        self._closed = False

    @property
    def limits(self) -> dict[str, float]:
        adj = self.adj
        return {
            "threads": adj.threads,
            "connection_limit": adj.connection_limit,
            "backlog": adj.backlog,
            "channel_timeout": adj.channel_timeout,
            "request_timeout": self.servers[0].request_timeout,
        }

    def serve_forever(self) -> None:
        """Run the I/O loop until shutdown()."""
        with self._running:
            while not self._stop.is_set():
                wasyncore.poll2(self.adj.asyncore_loop_timeout, self.map)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop serve_forever() (within about a second) and wait for it to return."""
        self._stop.set()
        for srv in self.servers:
            try:
                srv.pull_trigger()  # wakes the loop at once
            except OSError:
                pass
        if self._running.acquire(timeout=timeout):
            self._running.release()
        else:
            log.warning("the HTTP loop did not stop in %.0fs", timeout)

    def server_close(self) -> None:
        """Stop the worker threads (a request being answered gets 2 s) and close every socket."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.dispatcher.shutdown(cancel_pending=True, timeout=2)
        wasyncore.close_all(self.map, ignore_all=True)
