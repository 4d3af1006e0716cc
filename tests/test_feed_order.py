"""Undated articles in feeds: an article without a known date (the 2020 dump has no years)
is not newer than the dated ones stored before it. Replayed from the real dumps with the
real CLI, served by the real WSGI app on waitress, read with feedparser."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

import feedparser
import pytest
from helpers import DUMPS, crawl_json, get
from sqlite_utils import Database

from crawler.items import ArticleItem
from monitor.archive import Archive
from monitor.archive.schema import migrations
from monitor.config import Config
from monitor.web import FeedCache, WebServer

pytestmark = pytest.mark.integration

DUMP_2020 = DUMPS / "000_84405bf65da9c262.txt"  # September 2020, no years: its articles are undated
DUMP_2022 = DUMPS / "001_5d01d3af697e6fda.txt"  # November 2022, dated


def _served_feeds(db: Path) -> tuple[bytes, bytes, bytes]:
    cfg = Config(database=str(db))
    srv = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        return get(f"{base}/feed.xml")[2], get(f"{base}/atom.xml")[2], get(f"{base}/en/feed.json")[2]
    finally:
        srv.shutdown()
        srv.server_close()


def test_an_undated_dump_replayed_after_a_dated_one_sorts_below_it(tmp_path: Path) -> None:
    db = tmp_path / "order.db"
    assert crawl_json("--replay", str(DUMP_2022), db=db)["new"] == 10
    assert crawl_json("--replay", str(DUMP_2020), db=db)["new"] == 10
    with Archive(db) as a:
        stored = sorted(a.articles(limit=None), key=lambda r: r.seq)
    dated, undated = stored[:10], stored[10:]
    assert [r.published_at is None for r in stored] == [False] * 10 + [True] * 10
    newest = max(r.published_at or "" for r in dated)
    assert newest == "2022-11-23"
    assert [r.order_date for r in stored] == [None] * 10 + [newest] * 10
    rss, atom, json_feed = _served_feeds(db)
    for body in (rss, atom):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0
        # Readers sort by date: the undated articles are dated the newest date stored before
        # them, never the day they were replayed, and come after the dated ones of that date.
        expected = sorted(dated, key=lambda r: (r.published_at, r.first_seen_at, r.id), reverse=True)
        on_top = [r for r in expected if r.published_at == newest]
        below = [r for r in expected if r.published_at != newest]
        same_run = sorted(undated, key=lambda r: r.id, reverse=True)  # seen at once: by id, as dated ones
        titles = [r.title for r in on_top + same_run + below]
        assert [e.title for e in parsed.entries] == titles
        dates = [dt.date(*e.published_parsed[:3]).isoformat() for e in parsed.entries]
        assert dates == [newest] * (len(on_top) + 10) + [r.published_at for r in below]
    items = json.loads(json_feed)["items"]
    assert [i["date_published"] for i in items[len(on_top) : len(on_top) + 10]] == ["2022-11-23T00:00:00+00:00"] * 10


def test_an_undated_article_first_in_the_archive_keeps_its_first_seen_day(tmp_path: Path) -> None:
    with Archive(tmp_path / "first.db") as a:
        a.store(
            [
                ArticleItem(title="Undated first", paragraphs=["Text."]),
                ArticleItem(title="Dated", paragraphs=["Text."], published_at="2026-01-02"),
                ArticleItem(title="Undated after", paragraphs=["Text."]),
            ],
            dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC),
        )
        rows = a.articles(limit=None)
    # In one batch the order is the batch's: the first has nothing dated before it.
    assert [(r.title, r.order_date) for r in rows] == [
        ("Undated first", None),
        ("Dated", None),
        ("Undated after", "2026-01-02"),
    ]


def test_the_migration_dates_the_undated_articles_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path, isolation_level=None))
    migrations.apply(old, stop_before="m007_order")
    stored = [("a", "2025-05-01"), ("b", None), ("c", "2025-04-01"), ("d", None), ("e", "2025-06-01"), ("f", None)]
    for n, (name, published) in enumerate(stored):
        seen = f"2026-01-0{n + 1}T00:00:00+00:00"
        old.conn.execute(
            "INSERT INTO articles (id, lang, slug, title, body, categories, first_seen_at, last_seen_at,"
            " content_hash, published_at) VALUES (?, 'en', ?, ?, 'Body.', '[]', ?, ?, ?, ?)",
            (f"{n:016x}", name, name.upper(), seen, seen, name, published),
        )
    old.conn.close()
    with Archive(path) as a:
        rows = a.articles(limit=None)
    assert [(r.title, r.order_date) for r in rows] == [
        ("E", None),
        ("F", "2025-06-01"),  # the newest date before it (E's), after E: dated ones first
        ("A", None),
        ("D", "2025-05-01"),  # A's, not C's (older) although C came between
        ("B", "2025-05-01"),
        ("C", None),
    ]
