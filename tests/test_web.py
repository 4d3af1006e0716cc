"""The service's HTTP side in this process: feeds with validators, health, metrics, pages."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from crawler.items import ArticleItem
from monitor.archive import Archive, RunStats
from monitor.config import Config
from monitor.web import FeedCache, WebServer, health


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Config]]:
    cfg = Config(database=str(tmp_path / "web.db"))
    with Archive(cfg.database) as a:
        a.store(
            [
                ArticleItem(title="First <b>Title</b>", paragraphs=["One & two."], published_at="2026-01-02",
                            url="https://icesco.org/en/2026/01/02/first-title/", slug="first-title"),
                ArticleItem(title="Second Title", paragraphs=["Three."], published_at="2026-01-03"),
            ],
            dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC),
        )
    srv = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", cfg
    srv.shutdown()
    srv.server_close()


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_feeds_answer_conditional_requests(server: tuple[str, Config]) -> None:
    base, cfg = server
    status, headers, body = get(f"{base}/feed.xml")
    assert (status, headers["Content-Type"]) == (200, "application/rss+xml; charset=utf-8")
    assert headers["Last-Modified"] == "Sat, 03 Jan 2026 12:00:00 GMT"  # when the newest was found
    assert [e.title for e in feedparser.parse(body).entries] == ["Second Title", "First <b>Title</b>"]
    assert get(f"{base}/feed.xml", {"If-None-Match": headers["ETag"]})[0] == 304
    assert get(f"{base}/feed.xml", {"If-None-Match": '"other"'})[0] == 200
    assert get(f"{base}/feed.xml", {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert get(f"{base}/feed.xml", {"If-Modified-Since": "Fri, 02 Jan 2026 00:00:00 GMT"})[0] == 200
    # An article found later but dated earlier changes the feed: Last-Modified moves.
    with Archive(cfg.database) as a:
        a.store([ArticleItem(title="Older News", paragraphs=["Old."], published_at="2025-12-01")],
                dt.datetime(2026, 1, 4, 8, tzinfo=dt.UTC))
    status, later, _ = get(f"{base}/feed.xml", {"If-Modified-Since": headers["Last-Modified"]})
    assert (status, later["Last-Modified"]) == (200, "Sun, 04 Jan 2026 08:00:00 GMT")
    status, headers, body = get(f"{base}/atom.xml", method="HEAD")
    assert (status, headers["Content-Type"], body) == (200, "application/atom+xml; charset=utf-8", b"")
    assert int(headers["Content-Length"]) > 0


def test_health_metrics_and_pages(server: tuple[str, Config]) -> None:
    base, cfg = server
    status, _, body = get(f"{base}/healthz")
    assert (status, json.loads(body)["status"]) == (503, "no successful crawl yet")
    with Archive(cfg.database) as a:
        run = a.start_run("replay", dt.datetime.now(dt.UTC))
        a.finish_run(run, dt.datetime.now(dt.UTC), RunStats(pages_fetched=1, new=2), "ok")
    status, _, body = get(f"{base}/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, headers, body = get(f"{base}/metrics")
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    values = {line.split(" ")[0]: line.split(" ")[1] for line in body.decode().splitlines() if not line.startswith("#")}
    assert {k: v for k, v in values.items() if k != "icesco_last_crawl_success_timestamp_seconds"} == {
        'icesco_crawls_total{status="ok"}': "1",
        'icesco_crawls_total{status="failed"}': "0",
        'icesco_crawls_total{status="interrupted"}': "0",
        'icesco_crawls_total{status="degraded"}': "0",
        "icesco_crawl_alarms_total": "0",
        "icesco_pages_fetched_total": "1",
        "icesco_articles_new_total": "2",
        "icesco_articles_updated_total": "0",
        "icesco_crawl_errors_total": "0",
        "icesco_articles": "2",
        "icesco_digests_sent_total": "0",
        "icesco_digests_failed_total": "0",
        "icesco_digests_pending": "0",
    }
    status, headers, body = get(f"{base}/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<link rel="alternate" type="application/rss+xml"' in page
    assert "First &lt;b&gt;Title&lt;/b&gt;" in page and "<b>Title" not in page
    with Archive(cfg.database) as a:
        second = a.articles(search="Three")[0]["id"]
    status, _, body = get(f"{base}/articles/{second}")
    assert status == 200 and "<p>Three.</p>" in body.decode()
    assert get(f"{base}/articles/0000000000000000")[0] == 404
    assert get(f"{base}/nope")[0] == 404


def test_health_goes_stale() -> None:
    cfg = Config()
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    recent = (now - dt.timedelta(minutes=10)).isoformat()
    old = (now - dt.timedelta(hours=4)).isoformat()
    assert health(cfg, recent, now)[0] == 200
    failed = {"finished_at": recent, "status": "failed", "errors": 3}
    assert health(cfg, recent, now, failed)[1]["status"] == "last crawl failed"
    assert health(cfg, recent, now, failed)[0] == 503
    status, body = health(cfg, old, now)
    assert (status, body["status"], body["age_seconds"]) == (503, "stale", 14400)
    assert email.utils.format_datetime(now, usegmt=True) == "Thu, 01 Jan 2026 12:00:00 GMT"
