"""The web pages (feeds/pages.py) and the one Jinja environment (feeds/templating.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SecurityError

from feeds import templating
from feeds.pages import article_page, index_page
from feeds.settings import FeedSettings
from monitor.archive import ArticleRow

pytestmark = pytest.mark.unit

INFO = FeedSettings(title="News <mirror>")


def row(**overrides: Any) -> ArticleRow:
    values: dict[str, Any] = {
        "id": "0123456789abcdef",
        "url": "https://icesco.org/en/2024/07/11/a/",
        "lang": "en",
        "slug": "a",
        "title": "ICESCO & UNESCO",
        "subtitle": None,
        "body": "One.\n\nTwo <b>bold</b>.",
        "published_at": None,
        "modified_at": None,
        "categories": (),
        "first_seen_at": "2024-07-11T23:30:00+00:00",  # 12 July in Tokyo, 12 July 00:30 in Rabat
        "last_seen_at": "2024-07-11T23:30:00+00:00",
        "last_fetched_at": None,
        "updated_at": None,
        "content_hash": "h",
        "revision": 0,
        "partial": 0,
        "source": None,
        "seq": 1,
    }
    values.update(overrides)
    return ArticleRow(**values)


def test_the_index_dates_articles_in_the_site_time_zone() -> None:
    rows = [row(), row(id="1111111111111111", published_at="2024-07-01", revision=2)]
    dates = re.findall(r"<time>([^<]*)</time>", index_page(rows, INFO, "Africa/Casablanca"))
    assert dates == ["2024-07-12", "2024-07-01"]
    assert re.findall(r"<time>([^<]*)</time>", index_page(rows, INFO, "America/New_York")) == [
        "2024-07-11",
        "2024-07-01",
    ]


def test_the_index_links_articles_and_feeds_escaped() -> None:
    page = index_page([row(url="javascript:alert(1)", lang="ar", revision=2)], INFO, "UTC")
    assert re.findall(r'<a href="([^"]*)"', page) == [
        "/feed.xml",
        "/atom.xml",
        "/feed.json",
        "/healthz",
        "/metrics",
        "http://127.0.0.1:8080/articles/0123456789abcdef",  # not http(s): its page on the service
        "/articles/0123456789abcdef",
    ]
    assert "<title>News &lt;mirror&gt;</title>" in page
    assert (
        '<li dir="rtl" lang="ar"><a href="http://127.0.0.1:8080/articles/0123456789abcdef">ICESCO &amp; UNESCO</a>'
        in page
    )
    assert " · edited 2× · " in page
    assert page.endswith("</html>\n")


def test_an_empty_index_says_so() -> None:
    page = index_page([], INFO, "UTC")
    assert re.findall(r"<li>[^<]*</li>", page) == ["<li>No articles yet: the first crawl has not run.</li>"]


def test_the_article_page() -> None:
    page = article_page(row(subtitle="Sub <i>", published_at="2024-07-11T23:30:00+00:00"), INFO, "Asia/Tokyo")
    body = page[page.index("<body>") :]
    assert body == (
        "<body>\n"
        '<p><a href="/">← News &lt;mirror&gt;</a></p>\n'
        "<h1>ICESCO &amp; UNESCO</h1>\n"
        "<h2>Sub &lt;i&gt;</h2>\n"
        '<p><time>2024-07-12</time> · <a href="https://icesco.org/en/2024/07/11/a/">original</a></p>\n'
        "<p>One.</p>\n"
        "<p>Two &lt;b&gt;bold&lt;/b&gt;.</p>\n"
        "</body>\n"
        "</html>\n"
    )


@pytest.mark.parametrize("url", [None, "javascript:alert(1)", "https://icesco.org/x\u200b", "/en/x/"])
def test_the_article_page_links_the_original_only_when_it_is_safe(url: str | None) -> None:
    page = article_page(row(url=url, published_at="2024-07-11"), INFO, "UTC")
    assert re.findall(r"<p><time>.*</p>", page) == ["<p><time>2024-07-11</time></p>"]


def test_one_environment_sandboxed_and_the_operator_folder_first(tmp_path: Path) -> None:
    assert templating.with_folder(None) is templating.env
    assert templating.with_folder("") is templating.env
    (tmp_path / "digest.txt.j2").write_text("mine {{ 5 | string }}", encoding="utf-8")
    mine = templating.with_folder(str(tmp_path))
    assert mine.get_template("digest.txt.j2").render() == "mine 5"
    assert mine.get_template("index.html.j2").filename == str(templating.TEMPLATES / "index.html.j2")
    assert mine.filters is templating.env.filters  # an overlay: the same filters, options and sandbox
    assert mine.filters["local_date"]("2024-07-11T23:30:00+00:00", "Asia/Tokyo") == "2024-07-12"
    with pytest.raises(SecurityError):
        templating.env.from_string("{{ ''.__class__.__mro__ }}").render()
    with pytest.raises(jinja2.UndefinedError):
        templating.env.from_string("{{ nothing.here }}").render()
