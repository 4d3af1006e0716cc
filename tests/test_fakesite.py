"""Tests for the loopback ICESCO-like WordPress site in ``tests/fakesite/``."""

from __future__ import annotations

import datetime
import email.utils
import json
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import helpers
import pytest
from fakesite import FakeSite, Hit, SiteArticle, excerpt
from parsel import Selector

pytestmark = pytest.mark.integration

UTC2 = datetime.timezone(datetime.timedelta(hours=2))
NEWEST = datetime.datetime(2024, 7, 11, 9, 30, tzinfo=UTC2)
PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def sel(self) -> Selector:
        return Selector(text=self.body.decode("utf-8"))


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> Reply:
    """A GET, no redirect followed, no proxy (``helpers.fetch``)."""
    reply = helpers.fetch(url, headers, timeout=timeout)
    return Reply(reply.status, dict(reply.headers), reply.body)


def make_articles(count: int, category: str = "news") -> list[SiteArticle]:
    """``count`` articles, one a day, ``story-0`` the newest."""
    return [
        SiteArticle(
            slug=f"story-{i}",
            title=f"Story {i}",
            published=NEWEST - datetime.timedelta(days=i),
            paragraphs=[f"Paragraph one of story {i}.", f"Paragraph two of story {i}."],
            categories=[category],
        )
        for i in range(count)
    ]


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite(make_articles(23), per_page=10) as s:
        yield s


def listing_titles(reply: Reply) -> list[str]:
    return reply.sel.css("article.post h2.entry-title a::text").getall()


def listing_links(reply: Reply) -> list[str]:
    return reply.sel.css("article.post h2.entry-title a::attr(href)").getall()


def rel(reply: Reply, name: str) -> str | None:
    return reply.sel.css(f"head link[rel={name}]::attr(href)").get()


def test_start_returns_loopback_base_url(site: FakeSite) -> None:
    assert site.base_url == f"http://127.0.0.1:{site.port}"
    assert site.article_url("story-0") == f"http://127.0.0.1:{site.port}/en/2024/07/11/story-0/"
    assert site.article_url("story-0", host="localhost") == f"http://localhost:{site.port}/en/2024/07/11/story-0/"


def test_robots_txt(site: FakeSite) -> None:
    reply = fetch(f"{site.base_url}/robots.txt")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert reply.body == b"User-agent: *\nDisallow: /wp-admin/\n"


def test_listing_pagination(site: FakeSite) -> None:
    base = f"{site.base_url}/en/category/news/"

    page1 = fetch(base)
    assert page1.status == 200
    assert page1.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert page1.headers["Content-Length"] == str(len(page1.body))
    assert listing_titles(page1) == [f"Story {i}" for i in range(10)]
    assert listing_links(page1) == [site.article_url(f"story-{i}") for i in range(10)]
    assert rel(page1, "next") == f"{base}page/2/"
    assert rel(page1, "prev") is None
    numbered = "nav.pagination a.page-numbers:not(.next):not(.prev)::attr(href)"
    assert page1.sel.css(numbered).getall() == [f"{base}page/2/", f"{base}page/3/"]
    assert page1.sel.css("nav.pagination .current::text").get() == "1"

    page2 = fetch(f"{base}page/2/")
    assert page2.status == 200
    assert listing_titles(page2) == [f"Story {i}" for i in range(10, 20)]
    assert rel(page2, "prev") == base
    assert rel(page2, "next") == f"{base}page/3/"
    assert page2.sel.css(numbered).getall() == [base, f"{base}page/3/"]

    page3 = fetch(f"{base}page/3/")
    assert page3.status == 200
    assert listing_titles(page3) == ["Story 20", "Story 21", "Story 22"]
    assert rel(page3, "prev") == f"{base}page/2/"
    assert rel(page3, "next") is None

    missing = fetch(f"{base}page/4/")
    assert missing.status == 404
    assert missing.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert b"Page not found" in missing.body

    first = fetch(f"{base}page/1/")
    assert first.status == 301
    assert first.headers["Location"] == base


def test_listing_item_markup(site: FakeSite) -> None:
    reply = fetch(f"{site.base_url}/en/category/news/")
    item = reply.sel.css("article.post")[0]
    assert item.css("time::attr(datetime)").get() == "2024-07-11T09:30:00+02:00"
    assert item.css(".entry-summary p::text").get() == "Paragraph one of story 0. Paragraph two of story 0."
    sidebar = reply.sel.css("aside .widget_recent_entries")
    assert sidebar.css("h2::text").get() == "Latest articles"
    assert sidebar.css("a::attr(href)").getall() == [site.article_url(f"story-{i}") for i in range(3)]
    assert reply.sel.css("a.admin-link::attr(href)").get() == f"{site.base_url}/wp-admin/"


def test_excerpt_is_first_30_words() -> None:
    article = SiteArticle("long", "Long", NEWEST, [" ".join(f"w{i}" for i in range(40))])
    assert excerpt(article) == " ".join(f"w{i}" for i in range(30)) + " [\u2026]"


def test_article_page() -> None:
    article = SiteArticle(
        slug="icesco-supports-g20s-decisions-to-face-covid-19",
        title="ICESCO Supports G20's Decisions to Face COVID-19",
        published=NEWEST,
        paragraphs=[
            "ICESCO welcomed the G20 <summit> decisions & commitments.",
            "The Organization \u201creaffirmed\u201d its support.",
        ],
        categories=["news", "executive-council"],
        subtitle="A statement from the Director-General",
    )
    with FakeSite([article, *make_articles(3)]) as site:
        url = site.article_url(article.slug)
        reply = fetch(url)
        sel = reply.sel

        assert reply.status == 200
        assert reply.headers["Content-Type"] == "text/html; charset=UTF-8"
        assert reply.headers["Content-Length"] == str(len(reply.body))
        assert sel.xpath("/html/@lang").get() == "en-US"
        assert sel.xpath("/html/@dir").get() is None
        assert sel.css("link[rel=canonical]::attr(href)").get() == url
        assert sel.css("meta[property='og:title']::attr(content)").get() == article.title
        assert sel.css("meta[property='article:published_time']::attr(content)").getall() == [
            "2024-07-11T09:30:00+02:00"
        ]
        assert sel.css("meta[property='article:modified_time']").getall() == []
        assert sel.css("meta[property='article:section']::attr(content)").getall() == [
            "News",
            "Executive Council",
        ]

        graph = json.loads(sel.css("script[type='application/ld+json']::text").get() or "{}")["@graph"]
        news = [node for node in graph if node["@type"] == "NewsArticle"]
        assert len(news) == 1
        assert {
            key: news[0][key]
            for key in (
                "headline",
                "datePublished",
                "dateModified",
                "articleSection",
                "inLanguage",
            )
        } == {
            "headline": article.title,
            "datePublished": "2024-07-11T09:30:00+02:00",
            "dateModified": "2024-07-11T09:30:00+02:00",
            "articleSection": ["News", "Executive Council"],
            "inLanguage": "en-US",
        }

        assert sel.css("article h1.entry-title::text").getall() == [article.title]
        assert sel.css("article h2.subtitle::text").get() == article.subtitle
        assert (
            b'<div class="entry-date"><time datetime="2024-07-11T09:30:00+02:00">11 July 2024</time></div>'
        ) in reply.body
        assert sel.css("article .entry-content p::text").getall() == article.paragraphs
        assert b"<p>ICESCO welcomed the G20 &lt;summit&gt; decisions &amp; commitments.</p>" in reply.body
        # Boilerplate lives outside entry-content.
        assert sel.css(".entry-content .share-buttons, .entry-content aside") == []
        assert len(sel.css("article .share-buttons button")) == 3
        assert sel.css("aside .widget-title::text").get() == "Latest articles"
        assert sel.css("footer#colophon")

        # Requested through the alias host, the canonical stays on 127.0.0.1.
        via_alias = fetch(site.article_url(article.slug, host="localhost"))
        assert via_alias.status == 200
        assert via_alias.sel.css("link[rel=canonical]::attr(href)").get() == url


@pytest.mark.parametrize(
    ("lang", "html_lang", "direction", "date_line"),
    [
        ("fr", "fr-FR", None, "5 décembre 2022"),
        ("ar", "ar", "rtl", "5 ديسمبر 2022"),
    ],
)
def test_article_language(lang: str, html_lang: str, direction: str | None, date_line: str) -> None:
    published = datetime.datetime(2022, 12, 5, 12, 0, tzinfo=datetime.UTC)
    article = SiteArticle(f"story-{lang}", "Titre", published, ["Texte."], lang=lang)
    with FakeSite([article]) as site:
        reply = fetch(site.article_url(article.slug))
        assert reply.status == 200
        assert site.article_url(article.slug).endswith(f"/{lang}/2022/12/05/story-{lang}/")
        assert reply.sel.xpath("/html/@lang").get() == html_lang
        assert reply.sel.xpath("/html/@dir").get() == direction
        assert reply.sel.css(".entry-date time::text").get() == date_line
        listing = fetch(f"{site.base_url}/{lang}/category/news/")
        assert listing_links(listing) == [site.article_url(article.slug)]


def test_unknown_paths_are_404(site: FakeSite) -> None:
    for path in (
        "/nope/",
        "/en/category/no-such-category/",
        "/en/2024/07/10/story-0/",  # wrong date
        "/fr/2024/07/11/story-0/",  # wrong language
        "/en/category/news/page/0/",
        "/wp-admin/",
    ):
        reply = fetch(site.base_url + path)
        assert (path, reply.status) == (path, 404)
        assert reply.headers["Content-Length"] == str(len(reply.body))


def test_missing_trailing_slash_redirects(site: FakeSite) -> None:
    reply = fetch(site.article_url("story-1").rstrip("/"))
    assert reply.status == 301
    assert reply.headers["Location"] == site.article_url("story-1")


def test_conditional_get_on_article(site: FakeSite) -> None:
    url = site.article_url("story-5")
    first = fetch(url)
    etag = first.headers["ETag"]
    last_modified = first.headers["Last-Modified"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 42
    # Newest date shown on the page (the sidebar lists story-0).
    assert last_modified == "Thu, 11 Jul 2024 07:30:00 GMT"

    again = fetch(url, {"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["ETag"] == etag

    assert fetch(url, {"If-None-Match": '"other"'}).status == 200
    assert fetch(url, {"If-Modified-Since": last_modified}).status == 304
    older = email.utils.formatdate(email.utils.parsedate_to_datetime(last_modified).timestamp() - 1, usegmt=True)
    assert fetch(url, {"If-Modified-Since": older}).status == 200
    # If-None-Match wins over If-Modified-Since.
    assert fetch(url, {"If-None-Match": '"other"', "If-Modified-Since": last_modified}).status == 200

    assert [(h.status, h.bytes_sent) for h in site.hits] == [
        (200, len(first.body)),
        (304, 0),
        (200, len(first.body)),
        (304, 0),
        (200, len(first.body)),
        (200, len(first.body)),
    ]


def test_conditional_get_on_listing(site: FakeSite) -> None:
    url = f"{site.base_url}/en/category/news/page/3/"
    first = fetch(url)
    assert first.headers["Last-Modified"] == "Thu, 11 Jul 2024 07:30:00 GMT"
    reply = fetch(url, {"If-None-Match": first.headers["ETag"]})
    assert (reply.status, reply.body) == (304, b"")


def test_edit_article_changes_etag_and_content(site: FakeSite) -> None:
    url = site.article_url("story-0")
    before = fetch(url)
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    site.edit_article("story-0", title="Story 0 (updated)", paragraphs=["New text."])

    after = fetch(url, {"If-None-Match": before.headers["ETag"]})
    assert after.status == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.sel.css("h1.entry-title::text").get() == "Story 0 (updated)"
    assert after.sel.css(".entry-content p::text").getall() == ["New text."]
    modified = after.sel.css("meta[property='article:modified_time']::attr(content)").get()
    assert modified is not None
    modified_at = datetime.datetime.fromisoformat(modified)
    assert started <= modified_at <= started + datetime.timedelta(seconds=5)
    assert after.headers["Last-Modified"] == email.utils.formatdate(modified_at.timestamp(), usegmt=True)
    graph = json.loads(after.sel.css("script[type='application/ld+json']::text").get("{}"))
    assert graph["@graph"][0]["dateModified"] == modified
    assert fetch(url, {"If-Modified-Since": before.headers["Last-Modified"]}).status == 200
    listing = fetch(f"{site.base_url}/en/category/news/")
    assert listing_titles(listing)[0] == "Story 0 (updated)"


def test_add_article_is_listed_newest_first(site: FakeSite) -> None:
    site.add_article(
        SiteArticle(
            "breaking",
            "Breaking",
            NEWEST + datetime.timedelta(hours=1),
            ["Just in."],
        )
    )
    reply = fetch(f"{site.base_url}/en/category/news/")
    assert listing_titles(reply)[:2] == ["Breaking", "Story 0"]
    assert len(listing_titles(fetch(f"{site.base_url}/en/category/news/page/3/"))) == 4
    with pytest.raises(ValueError, match="duplicate slug"):
        site.add_article(SiteArticle("breaking", "Again", NEWEST, []))


def test_fail_once_then_recover(site: FakeSite) -> None:
    path = "/en/category/news/page/2/"
    site.fail(path, 503, times=1, headers={"Retry-After": "7"})

    failed = fetch(site.base_url + path)
    assert failed.status == 503
    assert failed.headers["Retry-After"] == "7"
    assert fetch(site.base_url + path + "?utm=x").status == 200
    assert [(h.path, h.status) for h in site.hits] == [
        (path, 503),
        (path + "?utm=x", 200),
    ]


def test_fail_forever_matches_exact_path_only(site: FakeSite) -> None:
    path = site.article_url("story-2").removeprefix(site.base_url)
    site.fail(path, 500)
    assert [fetch(site.base_url + path).status for _ in range(3)] == [500, 500, 500]
    assert fetch(site.article_url("story-3")).status == 200
    site.fail(path, 500, times=0)
    assert fetch(site.base_url + path).status == 200


def test_override_serves_raw_body(site: FakeSite) -> None:
    path = site.article_url("story-1").removeprefix(site.base_url)
    site.override(path, b"<html><body><div class='entry-content'><p>broken")
    reply = fetch(site.base_url + path)
    assert reply.status == 200
    assert reply.body == b"<html><body><div class='entry-content'><p>broken"
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "ETag" not in reply.headers


def test_delay_causes_client_timeout(site: FakeSite) -> None:
    path = "/en/category/news/"
    site.delay(path, 2.0)
    with pytest.raises(TimeoutError):  # the answer never came (the connection was made)
        fetch(site.base_url + path, timeout=0.3)
    site.delay(path, 0)
    assert fetch(site.base_url + path).status == 200


def test_stop_is_prompt_with_request_in_flight() -> None:
    site = FakeSite(make_articles(2))
    site.start()
    site.delay("/robots.txt", 30)
    with pytest.raises(TimeoutError):  # the answer never came (the connection was made)
        fetch(f"{site.base_url}/robots.txt", timeout=0.2)
    started = time.monotonic()
    site.stop()
    assert time.monotonic() - started < 2
    assert [(h.path, h.status) for h in site.hits] == [("/robots.txt", 0)]


def test_executive_council_listing_uses_alias_host() -> None:
    articles = make_articles(3, category="executive-council")
    articles[0].categories.append("news")
    with FakeSite(articles) as site:
        council = fetch(f"{site.base_url}/en/category/executive-council/")
        assert listing_links(council) == [
            f"http://localhost:{site.port}/en/2024/07/{11 - i:02d}/story-{i}/" for i in range(3)
        ]
        news = fetch(f"{site.base_url}/en/category/news/")
        assert listing_links(news) == [site.article_url("story-0")]

        site.clear_hits()
        alias_reply = fetch(listing_links(council)[0])
        assert alias_reply.status == 200
        assert [(h.host, h.path) for h in site.hits] == [("localhost", "/en/2024/07/11/story-0/")]


def test_hits_record_every_request(site: FakeSite) -> None:
    robots = fetch(f"{site.base_url}/robots.txt", {"User-Agent": "icesco-monitor/1"})
    missing = fetch(f"{site.base_url}/missing/")
    assert site.hits == [
        Hit(
            method="GET",
            path="/robots.txt",
            host="127.0.0.1",
            status=200,
            bytes_sent=len(robots.body),
            headers={
                "Accept-Encoding": "identity",
                "Host": f"127.0.0.1:{site.port}",
                "User-Agent": "icesco-monitor/1",
                "Connection": "close",
            },
        ),
        Hit(
            method="GET",
            path="/missing/",
            host="127.0.0.1",
            status=404,
            bytes_sent=len(missing.body),
            headers={
                "Accept-Encoding": "identity",
                "Host": f"127.0.0.1:{site.port}",
                "User-Agent": f"Python-urllib/{PY_VERSION}",
                "Connection": "close",
            },
        ),
    ]
    site.clear_hits()
    assert site.hits == []


def test_head_request_sends_no_body(site: FakeSite) -> None:
    head = helpers.fetch(site.article_url("story-0"), method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert int(head.headers["Content-Length"]) == len(fetch(site.article_url("story-0")).body)
    assert (site.hits[0].method, site.hits[0].bytes_sent) == ("HEAD", 0)


# --- connection-level faults (reset, truncate, stream, redirect, heal) ------------------


def raw_get(site: FakeSite, path: str, limit: int = 1 << 24) -> tuple[bytes, BaseException | None]:
    """GET over a raw socket: what arrived before the server closed (or reset) it."""
    data = b""
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\n\r\n".encode())
        try:
            while len(data) < limit:
                part = conn.recv(65536)
                if not part:
                    return data, None
                data += part
        except OSError as exc:
            return data, exc
    return data, None


def test_reset_closes_without_answering(site: FakeSite) -> None:
    path = site.articles[0].path
    site.reset(path, times=1)
    data, error = raw_get(site, path)
    assert (data, type(error)) == (b"", ConnectionResetError)
    assert [(h.path, h.status, h.bytes_sent) for h in site.hits] == [(path, 0, 0)]
    assert fetch(site.article_url("story-0")).status == 200  # once only


def test_truncate_announces_more_than_it_sends(site: FakeSite) -> None:
    path = site.articles[0].path
    whole = site.page_bytes(path)
    site.truncate(path, fraction=0.25)
    data, error = raw_get(site, path)
    head, _, body = data.partition(b"\r\n\r\n")
    assert error is None
    assert f"Content-Length: {len(whole)}".encode() in head.split(b"\r\n")
    assert body == whole[: len(whole) // 4]
    assert (site.hits[0].status, site.hits[0].bytes_sent) == (200, len(whole) // 4)
    site.heal(path)
    assert fetch(site.article_url("story-0")).body == whole


def test_stream_sends_a_body_without_length(site: FakeSite) -> None:
    site.stream("/big/", 200_000, content_type="text/html")
    data, error = raw_get(site, "/big/")
    head, _, body = data.partition(b"\r\n\r\n")
    assert error is None
    assert head.startswith(b"HTTP/1.1 200 ")
    assert not any(line.lower().startswith(b"content-length") for line in head.split(b"\r\n"))
    assert b"Content-Type: text/html" in head.split(b"\r\n")
    assert len(body) == 200_000 and body.startswith(b"<p>xxx")
    assert (site.hits[0].status, site.hits[0].bytes_sent) == (200, 200_000)


def test_redirect_sends_location_as_given(site: FakeSite) -> None:
    site.redirect("/a/", "/b/")
    site.redirect("/b/", "http://localhost:1/elsewhere/", 307, times=1)
    first, second = fetch(f"{site.base_url}/a/"), fetch(f"{site.base_url}/b/")
    assert (first.status, first.headers["Location"]) == (302, "/b/")
    assert (second.status, second.headers["Location"]) == (307, "http://localhost:1/elsewhere/")
    assert fetch(f"{site.base_url}/b/").status == 404  # times=1: used up
    site.fail("/a/", 500)
    site.delay("/a/", 0.01)
    site.heal()
    assert fetch(f"{site.base_url}/a/").status == 404
    with pytest.raises(ValueError):
        site.redirect("/a/", "/b/", 200)


def test_hits_carry_their_arrival_time(site: FakeSite) -> None:
    before = time.monotonic()
    fetch(f"{site.base_url}/robots.txt")
    assert before <= site.hits[0].at <= time.monotonic()
