"""The service's HTTP side: feeds (with validators), a small page, health and metrics."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jinja2

from feeds.render import (
    FeedInfo,
    article_link,
    build_atom,
    build_rss,
    local_date,
    parse_time,
    updated_date,
    write_atomic,
)
from monitor.archive import Archive
from monitor.config import Config

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html", "html.j2"]),
    undefined=jinja2.StrictUndefined,
)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SITE_TZ = ["Africa/Casablanca"]  # set from the config when the server starts
_ENV.filters["local_date"] = lambda value: local_date(value, _SITE_TZ[0])


def feed_info(cfg: Config) -> FeedInfo:
    base = cfg.feed.base_url
    return FeedInfo(
        title=cfg.feed.title,
        site_url=base,
        rss_url=base + "feed.xml",
        atom_url=base + "atom.xml",
        description=cfg.feed.description,
    )


@dataclass(frozen=True)
class Built:
    body: bytes
    etag: str
    last_modified: dt.datetime


def newest_time(rows: list[dict[str, Any]]) -> dt.datetime:
    """When the feed's content last changed: the newest publication, edit or discovery
    (an article found today may carry an older date)."""
    times = [max(updated_date(r), parse_time(r["first_seen_at"])) for r in rows]
    return max(times, default=EPOCH)


def _built(body: bytes, rows: list[dict[str, Any]]) -> Built:
    return Built(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', newest_time(rows))


class FeedCache:
    """The feeds as bytes, rebuilt only when the archive changed."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.info = feed_info(cfg)
        self.lock = threading.Lock()
        self.marker: tuple[int, str] | None = None
        self.rss = Built(b"", '""', EPOCH)
        self.atom = Built(b"", '""', EPOCH)

    def refresh(self, archive: Archive) -> bool:
        """Rebuild if the archive changed since the last build; True if rebuilt."""
        marker = archive.change_marker()
        with self.lock:
            if marker == self.marker:
                return False
            rows = archive.articles(limit=self.cfg.feed.items)
            self.rss = _built(build_rss(rows, self.info), rows)
            self.atom = _built(build_atom(rows, self.info), rows)
            self.marker = marker
        if self.cfg.feed.out_dir:
            write_feeds(Path(self.cfg.feed.out_dir), self.rss.body, self.atom.body)
        log.info("feeds rebuilt: %d articles", min(marker[0], self.cfg.feed.items))
        return True


def write_feeds(out: Path, rss: bytes, atom: bytes) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "feed.xml", rss)
    write_atomic(out / "atom.xml", atom)
    return out / "feed.xml", out / "atom.xml"


def metrics_text(m: dict[str, Any]) -> str:
    """Prometheus text exposition of the archive's counters."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, values: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in values)

    statuses = ("ok", "degraded", "failed", "interrupted")
    metric("icesco_crawls_total", "counter", "Crawl runs by status.",
           [(f'{{status="{s}"}}', m["runs"].get(s, 0)) for s in statuses])
    metric("icesco_pages_fetched_total", "counter", "Pages fetched (or dumps read) by all crawls.", [("", m["pages"])])
    metric("icesco_articles_new_total", "counter", "New articles found by all crawls.", [("", m["new"])])
    metric("icesco_articles_updated_total", "counter", "Edited articles found by all crawls.", [("", m["updated"])])
    metric("icesco_crawl_errors_total", "counter", "Pages or dumps that failed.", [("", m["errors"])])
    metric("icesco_crawl_alarms_total", "counter",
           "Layout alarms: listings with no article links, articles with no title or body, unreadable REST or feed"
           " answers, start URLs that yielded nothing readable.", [("", m.get("alarms", 0))])
    metric("icesco_articles", "gauge", "Articles in the archive.", [("", m["articles"])])
    d = m["deliveries"]
    metric("icesco_digests_sent_total", "counter", "Digest messages sent.", [("", d.get("sent", 0))])
    metric("icesco_digests_failed_total", "counter", "Digests that failed for good (permanent errors).",
           [("", d.get("failed", 0))])
    metric("icesco_digests_pending", "gauge", "Digests waiting for a retry or interrupted.",
           [("", d.get("retry", 0) + d.get("sending", 0))])
    last = m["last_success"]
    stamp = dt.datetime.fromisoformat(last).timestamp() if last else 0
    metric("icesco_last_crawl_success_timestamp_seconds", "gauge", "End of the last successful crawl (0: never).",
           [("", stamp)])
    return "\n".join(lines) + "\n"


def health(
    cfg: Config, last_success: str | None, now: dt.datetime, last_run: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """200 when the last crawl succeeded, recently; 503 otherwise."""
    limit = dt.timedelta(minutes=cfg.service.health_max_age_minutes)
    body: dict[str, Any] = {"last_success": last_success, "max_age_minutes": cfg.service.health_max_age_minutes}
    if last_run is not None and last_run.get("status") == "degraded":
        alarms = json.loads(last_run.get("alarms") or "[]")
        body["last_run"] = {k: last_run[k] for k in ("finished_at", "status", "errors")}
        return 503, {"status": "degraded: the last crawl could not read the site (has its layout changed?)",
                     "alarms": alarms[:10], **body}
    if last_success is None:
        return 503, {"status": "no successful crawl yet", **body}
    if last_run is not None and last_run["status"] != "ok":
        body["last_run"] = {k: last_run[k] for k in ("finished_at", "status", "errors")}
        return 503, {"status": "last crawl failed", **body}
    age = now - dt.datetime.fromisoformat(last_success)
    body["age_seconds"] = int(age.total_seconds())
    if age > limit:
        return 503, {"status": "stale", **body}
    return 200, {"status": "ok", **body}


class Handler(BaseHTTPRequestHandler):
    server: WebServer
    protocol_version = "HTTP/1.1"
    server_version = "icesco-monitor"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _send(self, status: int, ctype: str, body: bytes, head: bool, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)

    def _dispatch(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        srv = self.server
        try:
            if path in ("/feed.xml", "/atom.xml"):
                with Archive(srv.cfg.database, migrate=False) as archive:
                    srv.feeds.refresh(archive)
                built = srv.feeds.rss if path == "/feed.xml" else srv.feeds.atom
                ctype = "application/rss+xml; charset=utf-8" if path == "/feed.xml" else "application/atom+xml; charset=utf-8"
                self._feed(built, ctype, head)
            elif path == "/healthz":
                with Archive(srv.cfg.database, migrate=False) as archive:
                    last = archive.last_finished_crawl()
                    status, body = health(srv.cfg, archive.last_good_crawl(), dt.datetime.now(dt.UTC), last)
                self._send(status, "application/json", json.dumps(body).encode(), head, {"Cache-Control": "no-store"})
            elif path == "/metrics":
                with Archive(srv.cfg.database, migrate=False) as archive:
                    text = metrics_text(archive.metrics())
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", text.encode(), head)
            elif path == "/":
                with Archive(srv.cfg.database, migrate=False) as archive:
                    rows = archive.articles(limit=srv.cfg.feed.items)
                html = _ENV.get_template("index.html.j2").render(
                    title=srv.cfg.feed.title, rows=rows, link=lambda r: article_link(r, srv.feeds.info)
                )
                self._send(200, "text/html; charset=utf-8", html.encode(), head)
            elif m := re.fullmatch(r"/articles/([0-9a-f]{16})", path):
                with Archive(srv.cfg.database, migrate=False) as archive:
                    row = archive.article(m[1])
                if row is None:
                    self._send(404, "text/plain; charset=utf-8", b"no such article\n", head)
                else:
                    html = _ENV.get_template("article.html.j2").render(
                        title=srv.cfg.feed.title, row=row, paragraphs=row["body"].split("\n\n")
                    )
                    self._send(200, "text/html; charset=utf-8", html.encode(), head)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n", head)
        except Exception:  # one bad request never stops the service
            log.exception("%s: error while answering", self.path)
            self._send(500, "text/plain; charset=utf-8", b"internal error\n", head)

    def _feed(self, built: Built, ctype: str, head: bool) -> None:
        last_modified = email.utils.format_datetime(built.last_modified, usegmt=True)
        headers = {"ETag": built.etag, "Last-Modified": last_modified, "Cache-Control": "max-age=300"}
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None:
            fresh = built.etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"
        elif ims is not None:
            try:
                fresh = built.last_modified.replace(microsecond=0) <= email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                fresh = False
        if fresh:
            self._send(304, ctype, b"", head, headers)
        else:
            self._send(200, ctype, built.body, head, headers)


class WebServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cfg: Config, feeds: FeedCache, host: str, port: int) -> None:
        self.cfg = cfg
        _SITE_TZ[0] = cfg.site.timezone
        self.feeds = feeds
        super().__init__((host, port), Handler)
