"""The pages a reader uses, through the WSGI app on a real archive file: the index (languages,
search, undated articles in their own group, dates in the site's time zone) and an article's
page with its edits as word diffs."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from crawler.items import ArticleItem
from monitor.archive import Archive
from monitor.config import Config
from monitor.web import App, FeedCache

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 1, 3, 23, 30, tzinfo=dt.UTC)  # 4 January 00:30 in Rabat
T1 = dt.datetime(2026, 1, 5, 9, 15, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 6, 23, 45, tzinfo=dt.UTC)

COUNCIL = ArticleItem(
    title="ICESCO Council meets",
    paragraphs=["The Executive Council met in Rabat.", "It adopted the plan."],
    published_at="2026-01-02",
    slug="council",
)
ARABIC = ArticleItem(
    title="الإيسيسكو تعقد ندوة",
    paragraphs=["عقدت الإيسيسكو ندوة في الرباط."],
    lang="ar",
    published_at="2026-01-01",
    slug="nadwa",
)
FRENCH = ArticleItem(title="L'ICESCO et la culture", paragraphs=["Un texte."], lang="fr", published_at="2025-12-30")
UNDATED = ArticleItem(title="An undated statement", paragraphs=["Culture for all."], slug="undated")


def edited(item: ArticleItem, **changes: Any) -> ArticleItem:
    values = {k: getattr(item, k) for k in ("title", "paragraphs", "lang", "slug", "published_at")}
    return ArticleItem(**{**values, **changes})


@pytest.fixture
def app(tmp_path: Path) -> tuple[App, Config]:
    cfg = Config(database=str(tmp_path / "read.db"))
    with Archive(cfg.database) as archive:
        archive.store([COUNCIL, FRENCH, UNDATED], T0)
        archive.store([ARABIC], T0 + dt.timedelta(minutes=1))
        first = edited(COUNCIL, paragraphs=["The Executive Council met in Rabat on Monday.", "It adopted the plan."])
        assert archive.store([first], T1).updated == [COUNCIL.id]
        second = edited(
            COUNCIL,
            title="ICESCO Executive Council meets",
            paragraphs=["The Executive Council met in Rabat on Monday.", "It adopted the 2026 plan unanimously."],
        )
        assert archive.store([second], T2).updated == [COUNCIL.id]
        assert [r.revision for r in archive.revisions(COUNCIL.id)] == [1, 2]
    return App(cfg, FeedCache(cfg)), cfg


def get(app: App, path: str, query: str = "") -> tuple[str, dict[str, str], str]:
    started: list[Any] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
    body = b"".join(app(environ, lambda status, headers: started.extend([status, dict(headers)])))
    return started[0], started[1], body.decode()


def titles(page: str, group: str) -> list[str]:
    doc = lxml.html.fromstring(page)
    return [a.text_content() for a in doc.xpath(f'//section[@aria-labelledby="{group}"]/ol/li/a[1]')]


def test_the_article_page_shows_its_edits(app: tuple[App, Config]) -> None:
    status, headers, page = get(app[0], f"/articles/{COUNCIL.id}")
    assert (status, headers["Content-Type"]) == ("200 OK", "text/html; charset=utf-8")
    doc = lxml.html.fromstring(page)
    assert doc.get("lang") == "en" and doc.get("dir") is None
    assert [e.tag for e in doc.xpath("//header | //nav | //main")] == ["header", "nav", "main"]
    assert [(h.tag, h.text_content()) for h in doc.xpath("//h1 | //h2 | //h3")] == [
        ("h1", "ICESCO Executive Council meets"),
        ("h2", "Edits"),
        ("h3", "Edit 2, 2026-01-07 00:45"),  # the site's zone (Africa/Casablanca, UTC+1)
        ("h3", "Edit 1, 2026-01-05 10:15"),
    ]
    assert [p.text_content() for p in doc.xpath("//article/p[not(@class)]")] == [
        "The Executive Council met in Rabat on Monday.",
        "It adopted the 2026 plan unanimously.",
    ]
    edits = doc.xpath('//section[@class="edit"]')
    assert [
        [(e.tag, e.text_content()) for e in s.xpath('.//div[@class="diff"]//*[self::ins or self::del]')] for s in edits
    ] == [
        [("del", "plan."), ("ins", "2026 plan unanimously.")],
        [("del", "Rabat."), ("ins", "Rabat on Monday.")],
    ]
    assert [s.xpath("string(.//p[starts-with(., 'Title was')])") for s in edits] == [
        "Title was: ICESCO Council meets",
        "",
    ]
    assert doc.xpath('string(//article/p[@class="meta"])') == "2026-01-02 · edited 2×"


def test_an_arabic_article_is_right_to_left(app: tuple[App, Config]) -> None:
    _, _, page = get(app[0], f"/articles/{ARABIC.id}")
    doc = lxml.html.fromstring(page)
    assert (doc.get("lang"), doc.get("dir"), doc.xpath("string(//h1)")) == ("ar", "rtl", "الإيسيسكو تعقد ندوة")
    assert doc.xpath("//section[@class='edits']") == []


def test_the_index_all_languages_newest_first_undated_below(app: tuple[App, Config]) -> None:
    _, headers, page = get(app[0], "/")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'self';")
    assert titles(page, "dated") == [
        "ICESCO Executive Council meets",
        "الإيسيسكو تعقد ندوة",
        "L'ICESCO et la culture",
    ]
    assert titles(page, "undated") == ["An undated statement"]
    doc = lxml.html.fromstring(page)
    assert doc.xpath("string(//h2[@id='undated'])") == "Date unknown"
    assert [s.text_content() for s in doc.xpath("//section[@aria-labelledby='undated']//span[@class='meta']")] == [
        "first seen 2026-01-04 · archived copy"  # 23:30 UTC on the 3rd is the 4th in Rabat
    ]
    assert [(li.get("lang"), li.xpath("string(a[1]/@dir)")) for li in doc.xpath("//ol/li")] == [
        ("en", ""),
        ("ar", "rtl"),
        ("fr", ""),
        ("en", ""),
    ]
    assert [(a.get("href"), a.get("aria-current")) for a in doc.xpath("//nav[@aria-label='Languages']//a")] == [
        ("/", "page"),
        ("/?lang=en", None),
        ("/?lang=fr", None),
        ("/?lang=ar", None),
    ]


def test_the_index_by_language_and_search(app: tuple[App, Config]) -> None:
    _, _, page = get(app[0], "/", "lang=ar")
    assert (titles(page, "dated"), titles(page, "undated")) == (["الإيسيسكو تعقد ندوة"], [])
    doc = lxml.html.fromstring(page)
    assert [a.get("href") for a in doc.xpath("//nav[@aria-label='Languages']//a[@aria-current='page']")] == [
        "/?lang=ar"
    ]
    _, _, page = get(app[0], "/", "q=culture")
    assert (titles(page, "dated"), titles(page, "undated")) == (["L'ICESCO et la culture"], ["An undated statement"])
    doc = lxml.html.fromstring(page)
    assert doc.xpath("//p[@class='results']/a/@href") == ["/feed.xml?q=culture"]
    assert doc.xpath("//input[@name='q']/@value") == ["culture"]
    assert doc.xpath("//label[@for='q']/text()") == ["Search the archive"]
    _, _, page = get(app[0], "/", "q=culture&lang=en")
    assert (titles(page, "dated"), titles(page, "undated")) == ([], ["An undated statement"])
    assert lxml.html.fromstring(page).xpath("//p[@class='results']/a/@href") == ["/feed.xml?q=culture&lang=en"]
    _, _, page = get(app[0], "/", "q=%22%22&lang=xx")  # no words, an unknown language: everything
    assert titles(page, "dated") == ["ICESCO Executive Council meets", "الإيسيسكو تعقد ندوة", "L'ICESCO et la culture"]
