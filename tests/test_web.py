"""The service's HTTP side in this process: feeds with validators, health, metrics, pages."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from helpers import get

from crawler.items import ArticleItem
from feeds.entries import article_guid
from feeds.formats import FORMATS
from monitor.archive import Archive, RunRow, RunStats
from monitor.config import Config
from monitor.web import FeedCache, WebServer, health, write_feed_files

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Config]]:
    cfg = Config(database=str(tmp_path / "web.db"))
    with Archive(cfg.database) as a:
        a.store(
            [
                ArticleItem(
                    title="First <b>Title</b>",
                    paragraphs=["One & two."],
                    published_at="2026-01-02",
                    url="https://icesco.org/en/2026/01/02/first-title/",
                    slug="first-title",
                ),
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
        a.store(
            [ArticleItem(title="Older News", paragraphs=["Old."], published_at="2025-12-01")],
            dt.datetime(2026, 1, 4, 8, tzinfo=dt.UTC),
        )
    status, later, _ = get(f"{base}/feed.xml", {"If-Modified-Since": headers["Last-Modified"]})
    assert (status, later["Last-Modified"]) == (200, "Sun, 04 Jan 2026 08:00:00 GMT")
    status, headers, body = get(f"{base}/atom.xml", method="HEAD")
    assert (status, headers["Content-Type"], body) == (200, "application/atom+xml; charset=utf-8", b"")
    assert int(headers["Content-Length"]) == len(get(f"{base}/atom.xml")[2])


def test_json_feed_is_served_with_validators(server: tuple[str, Config]) -> None:
    base, cfg = server
    status, headers, body = get(f"{base}/feed.json")
    assert (status, headers["Content-Type"]) == (200, "application/feed+json; charset=utf-8")
    assert headers["Last-Modified"] == "Sat, 03 Jan 2026 12:00:00 GMT"  # as the RSS feed: when the newest was found
    assert headers["Cache-Control"] == "max-age=300" and int(headers["Content-Length"]) == len(body)
    with Archive(cfg.database) as a:
        first_id, second_id = a.articles(search="First")[0].id, a.articles(search="Three")[0].id
    assert json.loads(body) == {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "ICESCO news (icesco-monitor)",
        "home_page_url": "http://127.0.0.1:8080/",
        "feed_url": "http://127.0.0.1:8080/feed.json",
        "description": "New and updated articles from icesco.org, archived by icesco-monitor.",
        "items": [
            {
                "id": article_guid(second_id),
                "url": f"http://127.0.0.1:8080/articles/{second_id}",  # no URL of its own: the archived copy
                "title": "Second Title",
                "content_html": "<p>Three.</p>",
                "summary": "Three.",
                "date_published": "2026-01-03T00:00:00+00:00",
                "language": "en",
            },
            {
                "id": article_guid(first_id),
                "url": "https://icesco.org/en/2026/01/02/first-title/",
                "title": "First <b>Title</b>",
                "content_html": "<p>One &amp; two.</p>",
                "summary": "One & two.",
                "date_published": "2026-01-02T00:00:00+00:00",
                "language": "en",
            },
        ],
    }
    # The same ids, links and dates as the RSS feed served next to it.
    rss = feedparser.parse(get(f"{base}/feed.xml")[2]).entries
    items = json.loads(body)["items"]
    assert [(i["id"], i["url"]) for i in items] == [(e.id, e.link) for e in rss]
    assert [dt.datetime.fromisoformat(i["date_published"]) for i in items] == [
        email.utils.parsedate_to_datetime(e.published) for e in rss
    ]

    etag = headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag) and etag != get(f"{base}/feed.xml")[1]["ETag"]
    assert get(f"{base}/feed.json")[2] == body  # byte-stable
    status, again, empty = get(f"{base}/feed.json", {"If-None-Match": etag})
    assert (status, again["ETag"], again["Content-Type"], empty) == (
        304,
        etag,
        "application/feed+json; charset=utf-8",
        b"",
    )
    assert get(f"{base}/feed.json", {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert get(f"{base}/feed.json", {"If-None-Match": '"other"'})[0] == 200
    assert get(f"{base}/feed.json", {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert get(f"{base}/feed.json", {"If-Modified-Since": "Fri, 02 Jan 2026 00:00:00 GMT"})[0] == 200
    status, head, empty = get(f"{base}/feed.json", method="HEAD")
    assert (status, head["ETag"], int(head["Content-Length"]), empty) == (200, etag, len(body), b"")

    # A new article: a new body, ETag and Last-Modified; the old ETag no longer matches.
    with Archive(cfg.database) as a:
        a.store(
            [
                ArticleItem(
                    title="Nouvelle",
                    paragraphs=["Texte."],
                    published_at="2026-01-04",
                    lang="fr",
                    categories=["Culture"],
                )
            ],
            dt.datetime(2026, 1, 4, 8, tzinfo=dt.UTC),
        )
    status, later, changed = get(f"{base}/feed.json", {"If-None-Match": etag})
    assert (status, later["Last-Modified"]) == (200, "Sun, 04 Jan 2026 08:00:00 GMT") and later["ETag"] != etag
    newest = json.loads(changed)["items"][0]
    assert (newest["title"], newest["language"], newest["tags"]) == ("Nouvelle", "fr", ["Culture"])
    # What is served is what the builder gives for the archive's rows (as a fresh process would build it).
    with Archive(cfg.database) as a:
        assert changed == FORMATS["json"].render(a.articles(limit=cfg.feed.items), cfg.feed)


def test_every_format_is_written_as_a_file(tmp_path: Path) -> None:
    cfg = Config(database=str(tmp_path / "web.db"))
    with Archive(cfg.database) as a:
        a.store(
            [
                ArticleItem(title="Only One", paragraphs=["Text."], published_at="2026-01-02"),
                ArticleItem(title="Seule", paragraphs=["Texte."], published_at="2026-01-01", lang="fr"),
            ],
            dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        )
        feeds = FeedCache(cfg)
        feeds.refresh(a)
        out = tmp_path / "public"
        assert feeds.write(out) == feeds.marker
        names = ("feed.xml", "atom.xml", "feed.json")
        served = {
            f"{prefix}{path}": feeds.get(lang, fmt).body
            for lang, prefix in (("", ""), ("en", "en/"), ("fr", "fr/"), ("ar", "ar/"))
            for path, fmt in zip(names, ("rss", "atom", "json"), strict=True)
        }
        files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert files == served
        assert (feeds.rss, feeds.atom) == (feeds["rss"], feeds["atom"])
        assert [e.title for e in feedparser.parse(files["fr/feed.xml"]).entries] == ["Seule"]
        assert [e.title for e in feedparser.parse(files["feed.xml"]).entries] == ["Only One", "Seule"]
        assert feedparser.parse(files["ar/feed.xml"]).entries == []
        again = tmp_path / "again"
        assert write_feed_files(again, a, cfg.feed) == [
            again / prefix / name for prefix in ("", "en", "fr", "ar") for name in names
        ]
    assert {str(p.relative_to(again)): p.read_bytes() for p in again.rglob("*") if p.is_file()} == served


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
    assert re.findall(r"<link rel=\"alternate\"[^>]*>", page) == [
        '<link rel="alternate" type="application/rss+xml" title="ICESCO news (icesco-monitor) (RSS)" href="/feed.xml">',
        '<link rel="alternate" type="application/atom+xml" title="ICESCO news (icesco-monitor) (Atom)" href="/atom.xml">',
        '<link rel="alternate" type="application/feed+json" title="ICESCO news (icesco-monitor) (JSON Feed)"'
        ' href="/feed.json">',
    ]
    assert "First &lt;b&gt;Title&lt;/b&gt;" in page and "<b>Title" not in page
    with Archive(cfg.database) as a:
        second = a.articles(search="Three")[0].id
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
    failed = RunRow(
        id=2,
        started_at=recent,
        finished_at=recent,
        mode="live",
        status="failed",
        pages_fetched=1,
        new=0,
        updated=0,
        unchanged=0,
        errors=3,
        messages=("x: HTTP 500",) * 3,
        source=("https://icesco.org/en/category/news/",),
        alarms=(),
    )
    assert health(cfg, recent, now, failed) == (
        503,
        {
            "status": "last crawl failed",
            "last_success": recent,
            "max_age_minutes": cfg.service.health_max_age_minutes,
            "last_run": {"finished_at": recent, "status": "failed", "errors": 3},
        },
    )
    status, body = health(cfg, old, now)
    assert (status, body["status"], body["age_seconds"]) == (503, "stale", 14400)
    assert email.utils.format_datetime(now, usegmt=True) == "Thu, 01 Jan 2026 12:00:00 GMT"


def test_http_details_keep_alive_head_and_methods(server: tuple[str, Config]) -> None:
    """A keep-alive connection carries 200, 304, HEAD and errors; other methods get 405."""
    import http.client

    base, _ = server
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/feed.xml")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200 and int(resp.getheader("Content-Length")) == len(body) > 0
        assert resp.getheader("Server") == "icesco-monitor"
        assert resp.getheader("X-Content-Type-Options") == "nosniff"
        assert resp.getheader("Cache-Control") == "max-age=300"
        etag = resp.getheader("ETag")
        conn.request("GET", "/feed.xml", headers={"If-None-Match": f'W/{etag}, "x"'})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (304, b"")
        # waitress sends a 304 without Content-Length and closes the connection after it
        # (http.client reconnects for the next request).
        assert resp.getheader("ETag") == etag and resp.getheader("Content-Length") is None
        conn.request("HEAD", "/")
        resp = conn.getresponse()
        assert (resp.status, resp.read(), int(resp.getheader("Content-Length"))) == (200, b"", len(get(f"{base}/")[2]))
        sock = conn.sock
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 503 and resp.getheader("Cache-Control") == "no-store"
        assert resp.getheader("Content-Type") == "application/json" and json.loads(resp.read())
        conn.request("GET", "/nope?x=1")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (404, b"not found\n")
        conn.request("POST", "/feed.xml", body=b"x")
        resp = conn.getresponse()
        assert (resp.status, resp.getheader("Allow"), resp.read()) == (405, "GET, HEAD", b"method not allowed\n")
        assert conn.sock is sock is not None  # kept alive since the HEAD
    finally:
        conn.close()


def test_a_request_that_fails_is_a_500_and_the_server_goes_on(server: tuple[str, Config], monkeypatch) -> None:
    base, _ = server

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Archive, "metrics", broken)
    status, headers, body = get(f"{base}/metrics")
    assert (status, body, headers["Content-Type"]) == (500, b"internal error\n", "text/plain; charset=utf-8")
    assert get(f"{base}/feed.xml")[0] == 200


def test_serving_the_feed_writes_no_file(tmp_path: Path) -> None:
    """feed.out_dir is the scheduler's: a GET of /feed.xml rebuilds the feed in memory only."""
    out = tmp_path / "public"
    cfg = Config(database=str(tmp_path / "web.db"))
    cfg.feed.out_dir = str(out)
    with Archive(cfg.database) as a:
        a.store(
            [ArticleItem(title="Only One", paragraphs=["Text."], published_at="2026-01-02")],
            dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        )
    srv = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        assert get(f"{base}/feed.xml")[0] == 200
        assert get(f"{base}/atom.xml")[0] == 200
        with Archive(cfg.database) as a:  # a change: the next GET rebuilds, still in memory
            a.store(
                [ArticleItem(title="Another", paragraphs=["More."], published_at="2026-01-03")],
                dt.datetime(2026, 1, 3, tzinfo=dt.UTC),
            )
        status, _, body = get(f"{base}/feed.xml")
        assert status == 200 and len(feedparser.parse(body).entries) == 2
        assert not out.exists()
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_shutdown_is_prompt_and_closes_the_port(tmp_path: Path) -> None:
    import socket
    import time

    cfg = Config(database=str(tmp_path / "web.db"))
    with Archive(cfg.database):
        pass
    srv = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    port = srv.server_address[1]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    idle = socket.create_connection(("127.0.0.1", port))  # an idle client does not delay it
    try:
        started = time.monotonic()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive() and time.monotonic() - started < 3
        assert idle.recv(1) == b""  # closed by the server
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        idle.close()


def test_pages_carry_a_strict_csp_and_their_style_sheet_is_served(server: tuple[str, Config]) -> None:
    """HTML pages: no script, styles from /static/ only (nothing inline); the sheet is a file."""
    base, cfg = server
    with Archive(cfg.database) as a:
        first = a.articles()[0].id
    for path in ("/", f"/articles/{first}"):
        status, headers, body = get(base + path)
        assert (status, headers["Content-Security-Policy"], headers["X-Frame-Options"]) == (
            200,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none';"
            " frame-ancestors 'none'",
            "DENY",
        )
        page = body.decode()
        assert (re.findall(r"<(?:style|script)\b", page), re.findall(r'<link rel="stylesheet"[^>]*>', page)) == (
            [],
            ['<link rel="stylesheet" href="/static/style.css">'],
        )
    status, headers, body = get(f"{base}/static/style.css")
    shipped = (Path(__file__).resolve().parent.parent / "feeds" / "static" / "style.css").read_bytes()
    assert (status, headers["Content-Type"], body) == (200, "text/css; charset=utf-8", shipped)
    assert get(f"{base}/static/nope.css")[0] == 404
    assert get(f"{base}/static/../config.css")[0] == 404
    assert "Content-Security-Policy" not in get(f"{base}/feed.xml")[1]


def test_each_language_has_its_feeds(server: tuple[str, Config]) -> None:
    base, cfg = server
    with Archive(cfg.database) as a:
        a.store(
            [
                ArticleItem(title="Nouvelle", paragraphs=["Texte."], published_at="2026-01-04", lang="fr"),
                ArticleItem(title="خبر", paragraphs=["نص عربي."], published_at="2026-01-05", lang="ar"),
            ],
            dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
        )
    combined = {e.title: e.id for e in feedparser.parse(get(f"{base}/feed.xml")[2]).entries}
    expected = {
        "en": ("ICESCO news", ["Second Title", "First <b>Title</b>"]),
        "fr": ("Actualités de l'ICESCO", ["Nouvelle"]),
        "ar": ("أخبار الإيسيسكو", ["خبر"]),
    }
    for lang, (title, titles) in expected.items():
        for path, ctype in (
            ("feed.xml", "application/rss+xml; charset=utf-8"),
            ("atom.xml", "application/atom+xml; charset=utf-8"),
        ):
            status, headers, body = get(f"{base}/{lang}/{path}")
            assert (status, headers["Content-Type"]) == (200, ctype)
            parsed = feedparser.parse(body)
            assert (parsed.bozo, parsed.feed.title, parsed.feed.language) == (0, title, lang)
            assert [e.title for e in parsed.entries] == titles
            assert [e.id for e in parsed.entries] == [combined[t] for t in titles]  # the combined feed's ids
            assert [link.href for link in parsed.feed.links if link.rel == "self"] == [
                f"{cfg.feed.base_url}{lang}/{path}"
            ]
            assert get(f"{base}/{lang}/{path}", {"If-None-Match": headers["ETag"]})[0] == 304
        status, headers, body = get(f"{base}/{lang}/feed.json")
        document = json.loads(body)
        assert (status, headers["Content-Type"]) == (200, "application/feed+json; charset=utf-8")
        assert (document["title"], document["language"], document["feed_url"]) == (
            title,
            lang,
            f"{cfg.feed.base_url}{lang}/feed.json",
        )
        assert [(i["title"], i["id"]) for i in document["items"]] == [(t, combined[t]) for t in titles]
        assert get(f"{base}/{lang}/feed.json", {"If-None-Match": headers["ETag"]})[0] == 304
    # Arabic bodies are right to left in every format's HTML.
    rss = feedparser.parse(get(f"{base}/ar/feed.xml")[2]).entries[0]
    assert rss.content[0].value == '<div dir="rtl" lang="ar"><p>نص عربي.</p></div>'
    atom = feedparser.parse(get(f"{base}/ar/atom.xml")[2]).entries[0]
    assert atom.content[0].value == '<div dir="rtl" lang="ar"><p>نص عربي.</p></div>'
    item = json.loads(get(f"{base}/ar/feed.json")[2])["items"][0]
    assert (item["content_html"], item["language"]) == ('<div dir="rtl" lang="ar"><p>نص عربي.</p></div>', "ar")
    assert get(f"{base}/de/feed.xml")[0] == 404
