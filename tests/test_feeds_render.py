"""RSS, Atom and JSON Feed rendering from archive rows: order, ids, dates, stability, hostile
content; the format registry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import logging
import stat
import time
import uuid
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import feedparser
import pytest

from feeds.entries import article_guid, article_link, parse_time, pub_date
from feeds.formats import FORMATS, Format, build_all, format_at, write_all
from feeds.render import build_atom, build_json, build_rss
from feeds.settings import FeedSettings
from monitor.archive import ArticleRow

pytestmark = pytest.mark.unit

FEED = FeedSettings()
RSS_URL, ATOM_URL, JSON_URL = (f"http://127.0.0.1:8080/{path}" for path in ("feed.xml", "atom.xml", "feed.json"))
BUILDERS: dict[str, Callable[..., bytes]] = {"rss": FORMATS["rss"].render, "atom": FORMATS["atom"].render}
CONTENT_NS = "{http://purl.org/rss/1.0/modules/content/}encoded"
ATOM_NS = "{http://www.w3.org/2005/Atom}"


def make_row(n: int, **overrides: Any) -> ArticleRow:
    """An archive row; ``overrides`` may put in values of any type (hostile rows)."""
    values: dict[str, Any] = {
        "id": f"{n:016x}",
        "url": f"https://icesco.org/en/2024/07/{n:02d}/article-{n}/",
        "lang": "en",
        "slug": f"article-{n}",
        "title": f"Article {n}",
        "subtitle": None,
        "body": f"First paragraph of article {n}.\n\nSecond paragraph.",
        "published_at": f"2024-07-{n:02d}",
        "modified_at": None,
        "categories": ("News",),
        "first_seen_at": f"2024-07-{n:02d}T12:00:00+00:00",
        "last_seen_at": f"2024-07-{n:02d}T12:00:00+00:00",
        "last_fetched_at": None,
        "updated_at": None,
        "content_hash": f"hash-{n}",
        "revision": 0,
        "partial": 0,
        "source": None,
        "seq": n,
    }
    values.update(overrides)
    return ArticleRow(**values)


def parse(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def rfc2822(stamp: str) -> str:
    return parse_time(stamp).strftime("%a, %d %b %Y %H:%M:%S +0000")


def guid(n: int) -> str:
    return article_guid(f"{n:016x}")


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def html_tags(markup: str) -> set[str]:
    collector = TagCollector()
    collector.feed(markup)
    collector.close()
    return set(collector.tags)


def raw_contents(kind: str, data: bytes) -> list[str]:
    """The HTML of each entry's content, straight from the XML (before any feed reader cleans it)."""
    root = ElementTree.fromstring(data)
    if kind == "rss":
        return [item.findtext(CONTENT_NS) or "" for item in root.iter("item")]
    return [entry.findtext(f"{ATOM_NS}content") or "" for entry in root.iter(f"{ATOM_NS}entry")]


# ------------------------------------------------------------------ ids, links, dates


def test_article_guid_is_a_uuid5_of_the_id_only() -> None:
    assert article_guid("0123456789abcdef") == "urn:uuid:24304185-1b65-56dc-b9e0-bfae866c5bb1"
    assert article_guid("0123456789abcdef") == "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, "icesco-monitor:article:0123456789abcdef")
    )
    assert article_guid("0123456789abcdee") != article_guid("0123456789abcdef")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://icesco.org/en/2024/07/11/some-slug/", "https://icesco.org/en/2024/07/11/some-slug/"),
        ("http://icesco.org/fr/2024/07/11/x/", "http://icesco.org/fr/2024/07/11/x/"),
        (None, "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("javascript:alert(1)", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("JavaScript:alert(1)//http://icesco.org/", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("data:text/html,<script>alert(1)</script>", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("ftp://icesco.org/x", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("/en/2024/07/11/x/", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("https:///no-host", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("https://icesco.org/a b", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("https://icesco.org/\r\nx", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("https://icesco.org/\x00", "http://127.0.0.1:8080/articles/0123456789abcdef"),
        ("http://[::1", "http://127.0.0.1:8080/articles/0123456789abcdef"),
    ],
)
def test_article_link_is_http_or_the_service_page(url: str | None, expected: str) -> None:
    assert article_link(make_row(1, id="0123456789abcdef", url=url), FEED) == expected


@pytest.mark.parametrize(
    ("published_at", "first_seen_at", "expected"),
    [
        ("2024-07-11", "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 11, tzinfo=dt.UTC)),
        ("2024-07-11T08:30:00+02:00", "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 11, 6, 30, tzinfo=dt.UTC)),
        ("2024-07-11T08:30:00Z", "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 11, 8, 30, tzinfo=dt.UTC)),
        ("2024-07-11T08:30:00", "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 11, 8, 30, tzinfo=dt.UTC)),
        (None, "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 12, 10, 0, tzinfo=dt.UTC)),
        ("", "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 12, 10, 0, tzinfo=dt.UTC)),
        ("not a date", "2024-07-12T10:00:00+00:00", dt.datetime(2024, 7, 12, 10, 0, tzinfo=dt.UTC)),
    ],
)
def test_pub_date_is_published_at_else_first_seen(
    published_at: str | None, first_seen_at: str, expected: dt.datetime
) -> None:
    stamp = pub_date(make_row(1, published_at=published_at, first_seen_at=first_seen_at))
    assert stamp == expected
    assert stamp.utcoffset() == dt.timedelta(0)


def test_pub_date_without_any_time_raises_instead_of_using_now() -> None:
    with pytest.raises(ValueError, match="not a date: None"):
        pub_date(make_row(1, published_at=None, first_seen_at=None))
    with pytest.raises(ValueError):
        pub_date(make_row(1, published_at=None, first_seen_at="garbage"))


# ------------------------------------------------------------------ the feeds


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_entries_keep_the_given_order(kind: str) -> None:
    # Deliberately not sorted by date: the caller's order wins.
    rows = [make_row(3), make_row(1), make_row(9, url=None), make_row(2)]
    parsed = parse(BUILDERS[kind](rows, FEED))
    assert [e.title for e in parsed.entries] == ["Article 3", "Article 1", "Article 9", "Article 2"]
    assert [e.link for e in parsed.entries] == [
        "https://icesco.org/en/2024/07/03/article-3/",
        "https://icesco.org/en/2024/07/01/article-1/",
        "http://127.0.0.1:8080/articles/0000000000000009",
        "https://icesco.org/en/2024/07/02/article-2/",
    ]
    assert [e.id for e in parsed.entries] == [guid(3), guid(1), guid(9), guid(2)]


def test_rss_guid_is_not_a_permalink() -> None:
    root = ElementTree.fromstring(build_rss([make_row(1), make_row(2)], FEED, RSS_URL))
    guids = [(g.text, g.get("isPermaLink")) for g in root.iter("guid")]
    assert guids == [(guid(1), "false"), (guid(2), "false")]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_guid_survives_edits(kind: str) -> None:
    before = parse(BUILDERS[kind]([make_row(5)], FEED))
    edited = make_row(
        5, title="Article 5 (corrected)", body="A new body.", updated_at="2024-08-01T09:00:00+00:00", revision=2
    )
    after = parse(BUILDERS[kind]([edited], FEED))
    assert [e.id for e in after.entries] == [e.id for e in before.entries] == [guid(5)]
    assert [e.title for e in after.entries] == ["Article 5 (corrected)"]


def test_rss_dates() -> None:
    rows = [
        make_row(3, published_at="2024-07-03T08:30:00+02:00", updated_at="2024-07-20T10:00:00+00:00"),
        make_row(2, published_at=None, first_seen_at="2024-07-02T17:45:10+00:00"),
        make_row(1),
    ]
    parsed = parse(build_rss(rows, FEED, RSS_URL))
    assert [e.published for e in parsed.entries] == [
        "Wed, 03 Jul 2024 06:30:00 +0000",
        "Tue, 02 Jul 2024 17:45:10 +0000",
        "Mon, 01 Jul 2024 00:00:00 +0000",
    ]
    # lastBuildDate: the newest time among the items (here an edit), not the build time.
    assert parsed.feed.updated == "Sat, 20 Jul 2024 10:00:00 +0000"


def test_atom_dates() -> None:
    rows = [
        make_row(3, published_at="2024-07-03T08:30:00+02:00"),
        make_row(2, published_at=None, first_seen_at="2024-07-02T17:45:10+00:00"),
        make_row(1, updated_at="2024-07-21T10:00:00+00:00"),
    ]
    parsed = parse(build_atom(rows, FEED, ATOM_URL))
    assert [(e.published, e.updated) for e in parsed.entries] == [
        ("2024-07-03T06:30:00+00:00", "2024-07-03T06:30:00+00:00"),
        ("2024-07-02T17:45:10+00:00", "2024-07-02T17:45:10+00:00"),
        ("2024-07-01T00:00:00+00:00", "2024-07-21T10:00:00+00:00"),
    ]
    assert parsed.feed.updated == "2024-07-21T10:00:00+00:00"


def test_feed_time_is_the_newest_publication_when_nothing_was_edited() -> None:
    rows = [make_row(4), make_row(9), make_row(2)]
    assert parse(build_rss(rows, FEED, RSS_URL)).feed.updated == rfc2822("2024-07-09")
    assert parse(build_atom(rows, FEED, ATOM_URL)).feed.updated == "2024-07-09T00:00:00+00:00"


def test_empty_feeds_are_dated_1970() -> None:
    rss = parse(build_rss([], FEED, RSS_URL))
    atom = parse(build_atom([], FEED, ATOM_URL))
    assert (rss.entries, atom.entries) == ([], [])
    assert rss.feed.updated == "Thu, 01 Jan 1970 00:00:00 +0000"
    assert atom.feed.updated == "1970-01-01T00:00:00+00:00"


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_same_rows_same_bytes(kind: str) -> None:
    rows = [make_row(2, updated_at="2024-07-05T10:00:00+00:00"), make_row(1, url=None, published_at=None)]
    first = BUILDERS[kind](rows, FEED)
    time.sleep(1.05)  # a build time would show up at one-second resolution
    second = BUILDERS[kind]([dataclasses.replace(r) for r in rows], FEED)  # equal rows, other objects
    assert first == second
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
    assert b"python-feedgen" not in first
    assert b"lkiesow" not in first


def test_rss_channel() -> None:
    parsed = parse(build_rss([make_row(1)], FEED, RSS_URL))
    assert parsed.version == "rss20"
    assert parsed.feed.title == "ICESCO news (icesco-monitor)"
    assert parsed.feed.link == "http://127.0.0.1:8080/"
    assert parsed.feed.subtitle == "New and updated articles from icesco.org, archived by icesco-monitor."
    assert parsed.feed.language == "en"
    assert parsed.feed.generator == "icesco-monitor"
    assert parsed.feed.links == [
        {"rel": "alternate", "type": "text/html", "href": "http://127.0.0.1:8080/"},
        {"href": "http://127.0.0.1:8080/feed.xml", "rel": "self", "type": "application/rss+xml"},
    ]


def test_atom_feed_head() -> None:
    parsed = parse(build_atom([make_row(1)], FEED, ATOM_URL))
    assert parsed.version == "atom10"
    assert parsed.feed.id == "http://127.0.0.1:8080/atom.xml"
    assert parsed.feed.title == "ICESCO news (icesco-monitor)"
    assert parsed.feed.generator == "icesco-monitor"
    assert parsed.feed.links == [
        {"href": "http://127.0.0.1:8080/atom.xml", "rel": "self", "type": "application/atom+xml"},
        {"href": "http://127.0.0.1:8080/", "rel": "alternate", "type": "text/html"},
    ]


def test_other_feed_settings() -> None:
    feed = FeedSettings(
        title="Mirror",
        base_url="https://feeds.example.org/icesco",  # no trailing slash: one is added for article pages
        description="d",
    )
    rss = parse(FORMATS["rss"].render([make_row(1, url=None)], feed))
    assert [link["href"] for link in rss.feed.links] == [
        "https://feeds.example.org/icesco",
        "https://feeds.example.org/icesco/feed.xml",
    ]
    assert [e.link for e in rss.entries] == ["https://feeds.example.org/icesco/articles/0000000000000001"]
    assert (rss.feed.title, rss.feed.subtitle, rss.feed.language) == ("Mirror", "d", "en")
    atom = parse(build_atom([make_row(1, url=None)], feed, "https://feeds.example.org/icesco/atom.xml"))
    assert [link["href"] for link in atom.feed.links] == [
        "https://feeds.example.org/icesco/atom.xml",
        "https://feeds.example.org/icesco",
    ]
    assert atom.feed.id == "https://feeds.example.org/icesco/atom.xml"


@pytest.mark.parametrize(
    ("base_url", "self_url", "field"),
    [
        ("javascript:alert(1)", RSS_URL, "feed.base_url"),
        ("http://127.0.0.1:8080/", "javascript:alert(1)", "self_url"),
        ("http://127.0.0.1:8080/", "/feed.xml", "self_url"),
    ],
)
def test_feed_urls_must_be_http(base_url: str, self_url: str, field: str) -> None:
    feed = FeedSettings(base_url=base_url)
    with pytest.raises(ValueError, match=f"^{field} must be an absolute http"):
        build_rss([make_row(1)], feed, self_url)
    with pytest.raises(ValueError, match=f"^{field} must be an absolute http"):
        build_atom([make_row(1)], feed, self_url)


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_summary_content_and_categories(kind: str) -> None:
    long_paragraph = " ".join(["word"] * 100)  # 499 characters
    rows = [
        make_row(
            1,
            subtitle="  A short\nsubtitle  ",
            body="Para one & more.\r\n\r\nPara <two>.\n \nPara\nthree.",
            categories=["News", "Culture & Science", "News", ""],
        ),
        make_row(2, body=long_paragraph + "\n\nSecond.", categories=[]),
        make_row(3, body="x" * 400),
    ]
    data = BUILDERS[kind](rows, FEED)
    parsed = parse(data)
    summaries = [e.summary for e in parsed.entries]
    cut = " ".join(["word"] * 60) + "\u2026"  # 299 characters, then the ellipsis
    assert summaries == ["A short subtitle", cut, "x" * 300 + "\u2026"]
    assert [e.content[0]["value"] for e in parsed.entries] == [
        "<p>Para one &amp; more.</p>\n<p>Para &lt;two&gt;.</p>\n<p>Para\nthree.</p>",
        f"<p>{long_paragraph}</p>\n<p>Second.</p>",
        f"<p>{'x' * 400}</p>",
    ]
    assert [e.content[0]["type"] for e in parsed.entries] == ["text/html"] * 3
    assert [[t["term"] for t in e.get("tags", [])] for e in parsed.entries] == [
        ["News", "Culture & Science"],
        [],
        ["News"],
    ]


def test_atom_content_is_type_html() -> None:
    root = ElementTree.fromstring(build_atom([make_row(1)], FEED, ATOM_URL))
    assert [c.get("type") for c in root.iter(f"{ATOM_NS}content")] == ["html"]
    assert [s.get("type") for s in root.iter(f"{ATOM_NS}summary")] == [None]


def test_rss_description_is_escaped_text() -> None:
    # Readers take an RSS description as HTML: markup in the summary must stay text.
    parsed = parse(build_rss([make_row(1, subtitle="Tom & <b>Jerry</b>")], FEED, RSS_URL))
    assert [e.summary for e in parsed.entries] == ["Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;"]
    atom = parse(build_atom([make_row(1, subtitle="Tom & <b>Jerry</b>")], FEED, ATOM_URL))
    assert [e.summary for e in atom.entries] == ["Tom & <b>Jerry</b>"]  # Atom summary is type text


# ------------------------------------------------------------------ hostile content

HOSTILE_TITLE = "<script>alert(1)</script>\r\nBcc: x@y\x00\x01\x1b\ufffe\ud800 end"
HOSTILE_BODY = (
    "Hi <img src=x onerror=alert(1)> ]]> & \x00\x01\x1b\ufffe\uffff\ud800\udfff done\n\n<script>alert(2)</script>"
)


def hostile_rows() -> list[dict[str, Any]]:
    return [
        make_row(1),
        make_row(
            2,
            url="javascript:alert(1)",
            title=HOSTILE_TITLE,
            subtitle=None,
            body=HOSTILE_BODY,
            categories=["<b>x</b>\x00", "\ud800"],
        ),
        make_row(3, url="data:text/html;base64,PHNjcmlwdD4=", subtitle="sub\x1b\ufffe", body="word " * 210_000),
        make_row(4),
    ]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_hostile_content_is_neutralised(kind: str) -> None:
    data = BUILDERS[kind](hostile_rows(), FEED)
    parsed = parse(data)
    assert len(data) > 1_000_000
    assert [e.id for e in parsed.entries] == [guid(1), guid(2), guid(3), guid(4)]
    assert [e.title for e in parsed.entries] == [
        "Article 1",
        "<script>alert(1)</script> Bcc: x@y end",
        "Article 3",
        "Article 4",
    ]
    assert [e.link for e in parsed.entries] == [
        "https://icesco.org/en/2024/07/01/article-1/",
        "http://127.0.0.1:8080/articles/0000000000000002",
        "http://127.0.0.1:8080/articles/0000000000000003",
        "https://icesco.org/en/2024/07/04/article-4/",
    ]
    hostile = parsed.entries[1]
    assert hostile.content[0]["value"] == (
        "<p>Hi &lt;img src=x onerror=alert(1)&gt; ]]&gt; &amp;  done</p>\n<p>&lt;script&gt;alert(2)&lt;/script&gt;</p>"
    )
    assert [t["term"] for t in hostile.tags] == ["<b>x</b>"]
    assert parsed.entries[2].summary == "sub"
    assert len(parsed.entries[2].content[0]["value"]) == len("<p></p>") + len("word " * 210_000) - 1

    # Straight from the XML, before any reader's own sanitiser: the content HTML holds
    # nothing but paragraphs, and no markup is live anywhere in the document.
    assert [html_tags(markup) for markup in raw_contents(kind, data)] == [{"p"}] * 4
    text = data.decode("utf-8")
    for needle in ("javascript:", "data:text", "<script", "<img", "<b>", "\r", "Bcc: x@y\n"):
        assert needle not in text
    assert all(ch in "\t\n" or " " <= ch for ch in text)
    assert not any(ch in text for ch in "\ufffe\uffff") and not any("\ud800" <= ch <= "\udfff" for ch in text)


def test_hostile_rss_title_is_one_line_in_the_xml() -> None:
    root = ElementTree.fromstring(build_rss(hostile_rows(), FEED, RSS_URL))
    titles = [t.text for t in root.iter("title")][1:]  # after the channel title
    assert titles == ["Article 1", "<script>alert(1)</script> Bcc: x@y end", "Article 3", "Article 4"]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_bad_row_is_skipped_and_the_rest_kept(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        make_row(1),
        make_row(2, title=b"Article 2"),
        make_row(3, title=None),
        make_row(4, title=" \r\n\x00 "),  # nothing left: feedgen refuses an empty Atom title
        make_row(5, published_at=None, first_seen_at=None),
        make_row(6, body=12345),
        make_row(8, id=None, title="no id"),
        make_row(7),
    ]
    with caplog.at_level(logging.WARNING, logger="feeds.render"):
        parsed = parse(BUILDERS[kind](rows, FEED))
    assert [e.title for e in parsed.entries] == ["Article 1", "Article 7"]
    assert [e.id for e in parsed.entries] == [guid(1), guid(7)]
    skipped = [r.getMessage() for r in caplog.records if r.name == "feeds.render"]
    assert skipped == [
        "feed: skipping article '0000000000000002': TypeError: title is bytes, not a string",
        "feed: skipping article '0000000000000003': TypeError: title is NoneType, not a string",
        "feed: skipping article '0000000000000004': ValueError: Required fields not set",
        "feed: skipping article '0000000000000005': ValueError: not a date: None",
        "feed: skipping article '0000000000000006': TypeError: body is int, not a string",
        "feed: skipping article None: ValueError: bad article id None",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "feeds.render")


def test_feed_time_ignores_skipped_rows() -> None:
    rows = [make_row(1), make_row(9, title=None, updated_at="2030-01-01T00:00:00+00:00")]
    assert parse(build_atom(rows, FEED, ATOM_URL)).feed.updated == "2024-07-01T00:00:00+00:00"


def test_duplicate_rows_keep_the_first(caplog: pytest.LogCaptureFixture) -> None:
    rows = [make_row(1), make_row(2), make_row(1, title="Again")]
    with caplog.at_level(logging.WARNING, logger="feeds.render"):
        parsed = parse(build_rss(rows, FEED, RSS_URL))
    assert [e.title for e in parsed.entries] == ["Article 1", "Article 2"]
    assert [r.getMessage() for r in caplog.records] == [
        "feed: article '0000000000000001' is listed twice; keeping its first entry"
    ]


def test_categories_given_as_stored_json() -> None:
    parsed = parse(build_atom([make_row(1, categories='["News", "Events"]')], FEED, ATOM_URL))
    assert [t["term"] for t in parsed.entries[0].tags] == ["News", "Events"]


# ------------------------------------------------------------------ JSON Feed 1.1


def json_feed(rows: list[Any], feed: FeedSettings = FEED) -> Any:
    return json.loads(FORMATS["json"].render(rows, feed))


def test_json_feed_of_a_small_archive() -> None:
    rows = [
        make_row(
            3,
            published_at="2024-07-03T08:30:00+02:00",
            updated_at="2024-07-20T10:00:00.250000+00:00",
            revision=1,
            lang="ar",
            title="عنوان <b>3</b>",
            subtitle="Tom & <b>Jerry</b>",
            categories=["News", "Culture & Science", "News"],
        ),
        make_row(
            2, url=None, lang="fr", published_at=None, first_seen_at="2024-07-02T17:45:10.999+00:00", categories=[]
        ),
        make_row(1, body="", subtitle=None, lang=None, categories='["Events"]'),
    ]
    assert json_feed(rows) == {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "ICESCO news (icesco-monitor)",
        "home_page_url": "http://127.0.0.1:8080/",
        "feed_url": "http://127.0.0.1:8080/feed.json",
        "description": "New and updated articles from icesco.org, archived by icesco-monitor.",
        "items": [
            {
                "id": guid(3),
                "url": "https://icesco.org/en/2024/07/03/article-3/",
                "title": "عنوان <b>3</b>",  # plain text: readers escape it
                "content_html": (  # Arabic: right to left
                    '<div dir="rtl" lang="ar"><p>First paragraph of article 3.</p>\n<p>Second paragraph.</p></div>'
                ),
                "summary": "Tom & <b>Jerry</b>",  # plain text, as Atom summary
                "date_published": "2024-07-03T06:30:00+00:00",
                "date_modified": "2024-07-20T10:00:00+00:00",
                "tags": ["News", "Culture & Science"],
                "language": "ar",
            },
            {
                "id": guid(2),
                "url": "http://127.0.0.1:8080/articles/0000000000000002",
                "title": "Article 2",
                "content_html": "<p>First paragraph of article 2.</p>\n<p>Second paragraph.</p>",
                "summary": "First paragraph of article 2.",
                "date_published": "2024-07-02T17:45:10+00:00",  # first seen; to the second, as pubDate
                "language": "fr",
            },
            {
                "id": guid(1),
                "url": "https://icesco.org/en/2024/07/01/article-1/",
                "title": "Article 1",
                "content_text": "",  # no body, no summary: JSON Feed still wants a content field
                "date_published": "2024-07-01T00:00:00+00:00",
                "tags": ["Events"],
            },
        ],
    }


def test_json_feed_text_is_utf8_with_a_fixed_key_order() -> None:
    data = build_json([make_row(1, title="مقال", lang="ar")], FEED, JSON_URL)
    assert data.startswith(b'{\n  "version": "https://jsonfeed.org/version/1.1",\n  "title": ')
    assert "مقال".encode() in data and data.endswith(b"}\n")
    item = json.loads(data)["items"][0]
    assert list(item) == ["id", "url", "title", "content_html", "summary", "date_published", "tags", "language"]


def test_json_feed_matches_rss_and_atom() -> None:
    """The same article has the same id, link, title, dates, summary, HTML and tags in
    every format (RSS and Atom as a reader sees them, through feedparser)."""
    rows = [
        make_row(
            4, published_at="2024-07-04T23:59:59.900000-05:00", updated_at="2024-08-01T09:00:00+00:00", revision=2
        ),
        make_row(3, url="ftp://icesco.org/x", published_at=None, first_seen_at="2024-07-03T08:00:01.5+00:00"),
        make_row(2, subtitle="A subtitle", categories=["News", "Events"], lang="fr"),
        make_row(1, lang="ar", body="Only one paragraph & more."),
    ]
    items = json_feed(rows)["items"]
    rss = parse(build_rss(rows, FEED, RSS_URL)).entries
    atom = parse(build_atom(rows, FEED, ATOM_URL)).entries

    assert [i["id"] for i in items] == [e.id for e in rss] == [e.id for e in atom] == [guid(n) for n in (4, 3, 2, 1)]
    assert [i["url"] for i in items] == [e.link for e in rss] == [e.link for e in atom]
    assert [i["title"] for i in items] == [e.title for e in rss] == [e.title for e in atom]
    assert [i.get("summary") for i in items] == [e.summary for e in atom]
    assert (
        [i["content_html"] for i in items]
        == [e.content[0]["value"] for e in rss]
        == raw_contents("rss", build_rss(rows, FEED, RSS_URL))
    )
    assert [i.get("tags", []) for i in items] == [[t["term"] for t in e.get("tags", [])] for e in rss]
    published = [dt.datetime.fromisoformat(i["date_published"]) for i in items]
    assert published == [email.utils.parsedate_to_datetime(e.published) for e in rss]
    assert published == [dt.datetime.fromisoformat(e.published).replace(microsecond=0) for e in atom]
    # date_modified only for the edited article, and then Atom's updated.
    assert [i.get("date_modified") for i in items] == ["2024-08-01T09:00:00+00:00", None, None, None]
    assert items[0]["date_modified"] == atom[0].updated
    assert [i.get("language") for i in items] == ["en", "en", "fr", "ar"]


def test_json_feed_same_rows_same_bytes() -> None:
    rows = [make_row(2, updated_at="2024-07-05T10:00:00+00:00"), make_row(1, url=None, published_at=None)]
    first = build_json(rows, FEED, JSON_URL)
    time.sleep(1.05)  # a build time would show up at one-second resolution
    assert build_json([dataclasses.replace(r) for r in rows], FEED, JSON_URL) == first
    edited = [make_row(2, title="Edited", updated_at="2024-07-06T10:00:00+00:00"), rows[1]]
    after = json_feed(edited)["items"]
    assert [i["id"] for i in after] == [i["id"] for i in json.loads(first)["items"]]  # an edit keeps the id


def test_empty_json_feed() -> None:
    assert json_feed([])["items"] == []


def test_json_feed_hostile_content() -> None:
    rss_ids = [e.id for e in parse(build_rss(hostile_rows(), FEED, RSS_URL)).entries]
    data = build_json(hostile_rows(), FEED, JSON_URL)
    items = json.loads(data)["items"]
    assert [i["id"] for i in items] == rss_ids == [guid(1), guid(2), guid(3), guid(4)]
    hostile = items[1]
    assert hostile["title"] == "<script>alert(1)</script> Bcc: x@y end"
    assert hostile["url"] == "http://127.0.0.1:8080/articles/0000000000000002"
    assert hostile["content_html"] == (
        "<p>Hi &lt;img src=x onerror=alert(1)&gt; ]]&gt; &amp;  done</p>\n<p>&lt;script&gt;alert(2)&lt;/script&gt;</p>"
    )
    assert hostile["tags"] == ["<b>x</b>"]
    assert [html_tags(i["content_html"]) for i in items] == [{"p"}] * 4
    assert [i["url"] for i in items][2] == "http://127.0.0.1:8080/articles/0000000000000003"
    text = data.decode("utf-8")
    assert "javascript:" not in text and "data:text" not in text
    assert not any(ch in text for ch in "\x00\x01\x1b\ufffe\uffff")


def test_json_feed_skips_what_rss_skips(caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        make_row(1),
        make_row(2, title=b"Article 2"),
        make_row(3, title=None),
        make_row(4, title=" \r\n\x00 "),
        make_row(5, published_at=None, first_seen_at=None),
        make_row(6, body=12345),
        make_row(8, id=None, title="no id"),
        make_row(7, lang="<script>"),  # not a language tag: left out
        make_row(1, title="Again"),
    ]
    with caplog.at_level(logging.WARNING, logger="feeds.render"):
        items = json_feed(rows)["items"]
    assert [(i["id"], i["title"], i.get("language")) for i in items] == [
        (guid(1), "Article 1", "en"),
        (guid(7), "Article 7", None),
    ]
    assert [e.id for e in parse(build_rss(rows, FEED, RSS_URL)).entries] == [i["id"] for i in items]
    assert [r.getMessage() for r in caplog.records if r.name == "feeds.render"][:7] == [
        "feed: skipping article '0000000000000002': TypeError: title is bytes, not a string",
        "feed: skipping article '0000000000000003': TypeError: title is NoneType, not a string",
        "feed: skipping article '0000000000000004': ValueError: Required fields not set: title is empty",
        "feed: skipping article '0000000000000005': ValueError: not a date: None",
        "feed: skipping article '0000000000000006': TypeError: body is int, not a string",
        "feed: skipping article None: ValueError: bad article id None",
        "feed: article '0000000000000001' is listed twice; keeping its first entry",
    ]


@pytest.mark.parametrize(
    ("base_url", "self_url", "field"),
    [("javascript:alert(1)", JSON_URL, "feed.base_url"), ("http://127.0.0.1:8080/", "javascript:alert(1)", "self_url")],
)
def test_json_feed_urls_must_be_http(base_url: str, self_url: str, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be an absolute http"):
        build_json([make_row(1)], FeedSettings(base_url=base_url), self_url)


def test_json_feed_other_feed_settings() -> None:
    feed = FeedSettings(title="Mirror\n", base_url="https://feeds.example.org/icesco", description=" d ")
    document = json_feed([make_row(1, url=None)], feed)
    assert {k: v for k, v in document.items() if k != "items"} == {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Mirror",
        "home_page_url": "https://feeds.example.org/icesco",
        "feed_url": "https://feeds.example.org/icesco/feed.json",
        "description": "d",
    }
    assert [i["url"] for i in document["items"]] == ["https://feeds.example.org/icesco/articles/0000000000000001"]


# ------------------------------------------------------------------ the format registry


def test_the_registry() -> None:
    assert [(f.name, f.path, f.media_type, f.link_type, f.url_path) for f in FORMATS.values()] == [
        ("rss", "feed.xml", "application/rss+xml; charset=utf-8", "application/rss+xml", "/feed.xml"),
        ("atom", "atom.xml", "application/atom+xml; charset=utf-8", "application/atom+xml", "/atom.xml"),
        ("json", "feed.json", "application/feed+json; charset=utf-8", "application/feed+json", "/feed.json"),
    ]
    assert [f.build for f in FORMATS.values()] == [build_rss, build_atom, build_json]
    assert format_at("/feed.json") is FORMATS["json"] and format_at("/feed.xml") is FORMATS["rss"]
    assert format_at("/nope.json") is None and format_at("feed.json") is None
    with pytest.raises(TypeError):
        FORMATS["x"] = Format("x", "x", "x", "x", build_json)  # type: ignore[index]


@pytest.mark.parametrize("base_url", ["https://example.org/news/", "https://example.org/news"])
def test_each_format_is_at_its_path_under_the_base_url(base_url: str) -> None:
    feed = FeedSettings(base_url=base_url)
    assert [f.url(feed) for f in FORMATS.values()] == [
        "https://example.org/news/feed.xml",
        "https://example.org/news/atom.xml",
        "https://example.org/news/feed.json",
    ]
    assert (feed.url(), feed.url("articles/0123456789abcdef")) == (
        "https://example.org/news/",
        "https://example.org/news/articles/0123456789abcdef",
    )
    rows = [make_row(1)]
    assert [f.render(rows, feed) for f in FORMATS.values()] == [
        build_rss(rows, feed, "https://example.org/news/feed.xml"),
        build_atom(rows, feed, "https://example.org/news/atom.xml"),
        build_json(rows, feed, "https://example.org/news/feed.json"),
    ]


def test_build_all_and_write_all(tmp_path: Path) -> None:
    rows = [make_row(2), make_row(1)]
    bodies = build_all(rows, FEED)
    assert bodies == {
        "rss": build_rss(rows, FEED, RSS_URL),
        "atom": build_atom(rows, FEED, ATOM_URL),
        "json": build_json(rows, FEED, JSON_URL),
    }
    out = tmp_path / "public"  # created
    assert write_all(out, bodies) == [out / "feed.xml", out / "atom.xml", out / "feed.json"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {
        "feed.xml": bodies["rss"],
        "atom.xml": bodies["atom"],
        "feed.json": bodies["json"],
    }
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in out.iterdir())
    assert write_all(out, {"json": b"{}"}) == [out / "feed.json"]  # only what is given
    assert (out / "feed.json").read_bytes() == b"{}" and (out / "feed.xml").read_bytes() == bodies["rss"]
