"""Search feeds (``/feed.xml?q=…&category=…&lang=…``) through the real WSGI app on waitress,
read with feedparser."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from helpers import get

from crawler.items import ArticleItem
from monitor.archive import Archive
from monitor.config import Config
from monitor.web import FeedCache, WebServer
from monitor.web.search import Search

pytestmark = pytest.mark.integration

ARTICLES = [
    ArticleItem(
        title="Heritage week opens",
        paragraphs=["A week of cultural heritage in Rabat."],
        published_at="2026-02-01",
        categories=["Culture"],
    ),
    ArticleItem(
        title="Science prize",
        paragraphs=["The heritage of science, rewarded."],
        published_at="2026-02-03",
        categories=["Science"],
    ),
    ArticleItem(
        title="Semaine du patrimoine",
        paragraphs=["Le patrimoine culturel à l'honneur, heritage."],
        published_at="2026-02-02",
        lang="fr",
        categories=["Culture"],
    ),
    ArticleItem(title="Education forum", paragraphs=["Schools and teachers."], published_at="2026-02-04"),
    ArticleItem(
        title="Forum de l'éducation",
        paragraphs=["Écoles."],
        published_at="2026-01-20",
        lang="fr",
        categories=["Éducation"],
    ),
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Config, FeedCache]]:
    cfg = Config(database=str(tmp_path / "search.db"))
    with Archive(cfg.database) as a:
        a.store(ARTICLES, dt.datetime(2026, 2, 4, 12, tzinfo=dt.UTC))
    feeds = FeedCache(cfg)
    srv = WebServer(cfg, feeds, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", cfg, feeds
    srv.shutdown()
    srv.server_close()


def _ids(base: str) -> dict[str, str]:
    return {e.title: e.id for e in feedparser.parse(get(f"{base}/feed.xml")[2]).entries}


def test_a_search_feed_holds_the_matching_articles_with_the_main_feeds_ids(served) -> None:
    base, cfg, _ = served
    ids = _ids(base)
    status, headers, body = get(f"{base}/feed.xml?q=Heritage")
    assert (status, headers["Content-Type"]) == (200, "application/rss+xml; charset=utf-8")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert parsed.feed.title == "ICESCO news (icesco-monitor): search “heritage”"
    assert [e.title for e in parsed.entries] == ["Science prize", "Semaine du patrimoine", "Heritage week opens"]
    assert [e.id for e in parsed.entries] == [ids[e.title] for e in parsed.entries]
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [
        f"{cfg.feed.base_url}feed.xml?q=heritage"
    ]
    assert headers["Last-Modified"] == "Wed, 04 Feb 2026 12:00:00 GMT"
    # Category and language narrow it; the title says what was searched.
    parsed = feedparser.parse(get(f"{base}/atom.xml?q=heritage&category=culture&lang=en")[2])
    assert (parsed.bozo, parsed.feed.title, parsed.feed.language) == (
        0,
        "ICESCO news (icesco-monitor): search “heritage”, category “culture”, language en",
        "en",
    )
    assert [e.title for e in parsed.entries] == ["Heritage week opens"]
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [
        f"{cfg.feed.base_url}atom.xml?q=heritage&category=culture&lang=en"
    ]
    document = json.loads(get(f"{base}/feed.json?category=Culture")[2])
    assert [(i["title"], i["id"]) for i in document["items"]] == [
        ("Semaine du patrimoine", ids["Semaine du patrimoine"]),
        ("Heritage week opens", ids["Heritage week opens"]),
    ]
    assert document["feed_url"] == f"{cfg.feed.base_url}feed.json?category=Culture"
    parsed = feedparser.parse(get(f"{base}/feed.xml?" + urllib.parse.urlencode({"category": " Éducation "}))[2])
    assert (parsed.feed.title, [e.title for e in parsed.entries]) == (
        "ICESCO news (icesco-monitor): search category “Éducation”",
        ["Forum de l'éducation"],
    )
    # Under /fr/ the language is French.
    parsed = feedparser.parse(get(f"{base}/fr/feed.xml?q=heritage")[2])
    assert ([e.title for e in parsed.entries], parsed.feed.language) == (["Semaine du patrimoine"], "fr")


def test_search_feeds_have_their_own_validators(served) -> None:
    base, cfg, _ = served
    status, headers, _ = get(f"{base}/feed.xml?q=heritage")
    other = get(f"{base}/feed.xml?q=forum")[1]
    assert (status, headers["ETag"] != other["ETag"]) == (200, True)
    assert get(f"{base}/feed.xml?q=heritage", {"If-None-Match": headers["ETag"]})[0] == 304
    assert get(f"{base}/feed.xml?q=%20HERITAGE%20", {"If-None-Match": headers["ETag"]})[0] == 304  # the same search
    assert get(f"{base}/feed.xml?q=forum", {"If-None-Match": headers["ETag"]})[0] == 200
    # A new matching article changes the feed.
    with Archive(cfg.database) as a:
        a.store(
            [ArticleItem(title="Heritage sites listed", paragraphs=["Ten sites."], published_at="2026-02-05")],
            dt.datetime(2026, 2, 5, 8, tzinfo=dt.UTC),
        )
    status, later, body = get(f"{base}/feed.xml?q=heritage", {"If-None-Match": headers["ETag"]})
    assert (status, later["Last-Modified"]) == (200, "Thu, 05 Feb 2026 08:00:00 GMT")
    assert feedparser.parse(body).entries[0].title == "Heritage sites listed"


def test_an_empty_search_is_a_valid_empty_feed(served) -> None:
    base, _, _ = served
    status, headers, body = get(f"{base}/feed.xml?q=nothing+matches+this")
    parsed = feedparser.parse(body)
    assert (status, parsed.bozo, parsed.entries) == (200, 0, [])
    assert parsed.feed.title == "ICESCO news (icesco-monitor): search “nothing matches this”"
    assert headers["Last-Modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    parsed = feedparser.parse(get(f"{base}/atom.xml?q=nothing")[2])
    assert (parsed.bozo, parsed.entries) == (0, [])
    assert json.loads(get(f"{base}/feed.json?q=nothing")[2])["items"] == []
    # Quotes and FTS syntax are words, not syntax.
    parsed = feedparser.parse(get(f"{base}/feed.xml?" + urllib.parse.urlencode({"q": '"heritage" OR NEAR('}))[2])
    assert (parsed.bozo, parsed.entries) == (0, [])


def test_search_cost_is_bounded(served) -> None:
    base, _, feeds = served
    status, headers, body = get(f"{base}/feed.xml?q=" + "a" * 201)
    assert (status, headers["Content-Type"], body) == (
        400,
        "text/plain; charset=utf-8",
        b"the search is too long: 201 characters, at most 200\n",
    )
    assert get(f"{base}/feed.xml?q=" + "a" * 200)[0] == 200
    assert get(f"{base}/feed.xml?lang=de")[2] == b"unknown language 'de': one of en, fr, ar\n"
    assert get(f"{base}/feed.xml?category=" + "c" * 101)[0] == 400
    feeds.searches.size = 3
    for word in ("one", "two", "three", "four", "five"):
        assert get(f"{base}/feed.xml?q={word}")[0] == 200
    assert [(key[0].words, key[1]) for key in feeds.searches.entries] == [
        ("three", "rss"),
        ("four", "rss"),
        ("five", "rss"),
    ]


def test_a_search_holds_at_most_feed_items(tmp_path: Path) -> None:
    cfg = Config(database=str(tmp_path / "many.db"))
    cfg.feed.items = 3
    with Archive(cfg.database) as a:
        a.store(
            [
                ArticleItem(title=f"Heritage {n}", paragraphs=["Heritage."], published_at=f"2026-03-{n:02d}")
                for n in range(1, 8)
            ],
            dt.datetime(2026, 3, 8, tzinfo=dt.UTC),
        )
        built = FeedCache(cfg).search(a, Search("heritage"), "rss")
    assert [e.title for e in feedparser.parse(built.body).entries] == ["Heritage 7", "Heritage 6", "Heritage 5"]
