"""The test WordPress of tests/wordpress.py is shaped like icesco.org: listings, articles, REST,
feeds, the fault switches, and the reset between tests. Everything is fetched from 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import html
import re
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from wordpress import THEMES, BaselinePost, WordPress, block_content

pytestmark = pytest.mark.integration

TITLE_LINK = re.compile(r'<h2 class="(?:entry-title|wp-block-post-title)[^"]*"><a href="([^"]+)"')
H1 = re.compile(r'<h1[^>]*class="[^"]*(?:entry-title|wp-block-post-title)[^"]*"[^>]*>(.*?)</h1>', re.S)
TIME = re.compile(r'<time[^>]*datetime="([^"]+)"')


def title_links(page: str) -> list[str]:
    """The post links of a listing's titles (twentytwentyone and twentytwentythree)."""
    return TITLE_LINK.findall(page)


def links(posts: list[BaselinePost]) -> list[str]:
    return [p["link"] for p in posts]


def rss_links(body: bytes) -> list[str]:
    return [item.findtext("link") or "" for item in ET.fromstring(body).iter("item")]


def baseline(wp: WordPress, site: str, title_start: str) -> BaselinePost:
    (post,) = [p for p in wp.baseline if p["site"] == site and p["title"].startswith(title_start)]
    return post


def test_startup_time_is_recorded(wordpress: WordPress, record_property: Any) -> None:
    record_property("wordpress_startup_seconds", round(wordpress.startup_seconds, 2))
    assert 0 < wordpress.startup_seconds < 120


def test_baseline_shape(wp: WordPress) -> None:
    counts = {site: [p["kind"] for p in wp.baseline_posts(site)] for site in ("en", "fr", "ar")}
    assert {site: (len(kinds), kinds.count("short"), kinds.count("long")) for site, kinds in counts.items()} == {
        "en": (14, 6, 8),
        "fr": (4, 2, 2),
        "ar": (4, 2, 2),
    }
    assert [p["id"] for p in wp.posts("en")] == [p["id"] for p in wp.baseline_posts("en")]
    # The 00:30 post of 2025-01-15 (Casablanca UTC+1) is dated the day before in GMT; not in Ramadan's UTC+0.
    gmt = {p["date"]: p["date_gmt"] for p in wp.posts("en")}
    assert (gmt["2025-01-15 00:30:00"], gmt["2025-03-10 00:30:00"]) == ("2025-01-14 23:30:00", "2025-03-10 00:30:00")


def test_news_listing_pages_link_every_baseline_post(wp: WordPress) -> None:
    news = wp.baseline_posts("en", "news")
    assert len(news) == 14
    page1 = wp.fetch(wp.url("en", "category/news/"))
    page2 = wp.fetch(wp.url("en", "category/news/page/2/"))
    page3 = wp.fetch(wp.url("en", "category/news/page/3/"))
    assert (page1.status, page1.headers.get_content_type(), page2.status, page3.status) == (200, "text/html", 200, 404)
    assert title_links(page1.text) == links(news[:10])
    assert title_links(page2.text) == links(news[10:])
    assert f'href="{wp.url("en", "category/news/page/2/")}"' in page1.text
    assert [(r["method"], r["uri"], r["status"]) for r in wp.requests()] == [
        ("GET", "/en/category/news/", 200),
        ("GET", "/en/category/news/page/2/", 200),
        ("GET", "/en/category/news/page/3/", 404),
    ]
    assert [r["bytes"] for r in wp.requests()] == [len(page1.body), len(page2.body), len(page3.body)]
    assert wp.php_errors() == ""


@pytest.mark.parametrize("theme", THEMES)
def test_article_pages_in_both_themes(wp: WordPress, theme: str) -> None:
    wp.set_theme(theme)
    cases = [
        # (site, title start, its <time datetime>): 00:30 local time (UTC+1), an "&" in the title,
        # and an Arabic post of Ramadan 2024, when Casablanca is on UTC+0.
        ("en", "ICESCO and Omani National Commission", "2025-01-15T00:30:00+01:00"),
        ("en", "ICESCO Strategic Foresight Center", "2025-11-03T09:45:00+01:00"),
        ("ar", "الإيسيسكو وفنلندا", "2024-03-19T11:00:00+00:00"),
    ]
    for site, start, datetime_attr in cases:
        post = baseline(wp, site, start)
        assert urllib.parse.urlsplit(post["link"]).path.startswith(f"/{site}/{post['date'][:10].replace('-', '/')}/")
        page = wp.fetch(post["link"])
        assert (page.status, [html.unescape(h).strip() for h in H1.findall(page.text)]) == (200, [post["title"]])
        assert TIME.findall(page.text) == [datetime_attr]


def test_rest_lists_the_category(wp: WordPress) -> None:
    news = wp.baseline_posts("en", "news")
    category = wp.category_id("en", "news")
    first = wp.fetch(wp.url("en", f"wp-json/wp/v2/posts?categories={category}&_fields=id,link"))
    assert (first.status, first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == (200, "14", "2")
    assert first.json() == [{"id": p["id"], "link": p["link"]} for p in news[:10]]
    every = wp.fetch(wp.url("en", f"wp-json/wp/v2/posts?categories={category}&_fields=id,link&per_page=100"))
    assert every.json() == [{"id": p["id"], "link": p["link"]} for p in news]


def test_rest_keeps_arabic_slugs_percent_encoded(wp: WordPress) -> None:
    found = wp.fetch(wp.url("ar", "wp-json/wp/v2/categories?slug=المستجدات&_fields=id,slug,name,link"))
    slug = urllib.parse.quote("المستجدات").lower()
    assert found.json() == [
        {
            "id": wp.category_id("ar", "المستجدات"),
            "slug": slug,
            "name": "المستجدات",
            "link": wp.url("ar", f"category/{slug}/"),
        }
    ]


def test_feed_has_etag_and_answers_304(wp: WordPress) -> None:
    url = wp.url("en", "category/news/feed/")
    feed = wp.fetch(url)
    assert (feed.status, feed.headers.get_content_type()) == (200, "application/rss+xml")
    assert rss_links(feed.body) == links(wp.baseline_posts("en", "news")[:10])
    assert feed.headers["Last-Modified"] == "Mon, 03 Nov 2025 08:45:00 GMT"  # the newest post, 09:45 in Casablanca
    etag = feed.headers["ETag"]
    again = wp.fetch(url, headers={"If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    assert [(r["uri"], r["status"], r["if_none_match"]) for r in wp.requests()] == [
        ("/en/category/news/feed/", 200, None),
        ("/en/category/news/feed/", 304, etag),
    ]


@pytest.mark.parametrize(
    ("mode", "code"), [("401", "rest_not_logged_in"), ("403", "rest_forbidden"), ("404", "rest_no_route")]
)
def test_rest_switch_errors(wp: WordPress, mode: str, code: str) -> None:
    url = wp.url("en", "wp-json/wp/v2/posts?_fields=id")
    wp.set_rest(mode)  # type: ignore[arg-type]
    denied = wp.fetch(url)
    assert (denied.status, denied.headers.get_content_type(), denied.json()["code"]) == (
        int(mode),
        "application/json",
        code,
    )
    wp.set_rest(None)
    assert wp.fetch(url).status == 200


def test_rest_switch_html(wp: WordPress) -> None:
    wp.set_rest("html")
    denied = wp.fetch(wp.url("en", "wp-json/wp/v2/posts"))
    assert (denied.status, denied.headers.get_content_type()) == (200, "text/html")
    assert "<title>Access denied</title>" in denied.text
    assert wp.fetch(wp.url("en", "category/news/feed/")).status == 200  # only REST is refused


def test_broken_layout_hides_the_posts(wp: WordPress) -> None:
    news = wp.baseline_posts("en", "news")
    wp.set_layout(True)
    listing = wp.fetch(wp.url("en", "category/news/"))
    article = wp.fetch(news[0]["link"])
    assert (listing.status, article.status) == (200, 200)
    for page in (listing.text, article.text):
        body = page[page.index("<body") :]
        assert body == '<body class="app"><div id="app"></div><script src="/app.js"></script></body>\n</html>\n'
        assert [p["link"] for p in news if p["link"] in body] == []
    # Feeds and REST still work.
    assert rss_links(wp.fetch(wp.url("en", "category/news/feed/")).body) == links(news[:10])
    assert len(wp.fetch(wp.url("en", "wp-json/wp/v2/posts?_fields=id")).json()) == 10
    wp.set_layout(False)
    assert title_links(wp.fetch(wp.url("en", "category/news/")).text) == links(news[:10])


def test_arabic_category_listing(wp: WordPress) -> None:
    news = wp.baseline_posts("ar", "المستجدات")
    lower = wp.url("ar", "category/" + urllib.parse.quote("المستجدات").lower() + "/")
    upper = wp.url("ar", "category/المستجدات/")  # quote() writes %D8%A7...
    assert upper != lower
    for url in (lower, upper):
        page = wp.fetch(url)
        assert (page.status, title_links(page.text)) == (200, links(news))
        assert re.findall(r"<html[^>]*>", page.text) == ['<html dir="rtl" lang="ar" >']


def test_add_and_edit_post_change_rest(wp: WordPress) -> None:
    category = wp.category_id("en", "news")
    rest = wp.url("en", f"wp-json/wp/v2/posts?categories={category}&_fields=id,link,modified_gmt,title&per_page=100")
    added = wp.add_post(
        "en",
        "ICESCO Celebrates World Arabic Language Day",
        block_content("ICESCO celebrated World Arabic Language Day at its headquarters in Rabat."),
        "2025-12-18 00:30:00",
        ["news"],
    )
    assert added["link"] == wp.url("en", "2025/12/18/icesco-celebrates-world-arabic-language-day/")
    listed = wp.fetch(rest).json()
    assert [(p["id"], p["link"]) for p in listed[:2]] == [
        (added["id"], added["link"]),
        (wp.baseline_posts("en")[0]["id"], wp.baseline_posts("en")[0]["link"]),
    ]
    assert len(listed) == 15

    target = baseline(wp, "en", "ICESCO: Building Peace")
    before = {p["id"]: p for p in listed}[target["id"]]
    assert before["modified_gmt"] == "2025-06-05T16:25:00"  # unedited: modified is the publication date
    edited = wp.edit_post("en", target["id"], title="ICESCO: Building Peace is Everyone’s Responsibility")
    after = {p["id"]: p for p in wp.fetch(rest).json()}[target["id"]]
    assert after["title"]["rendered"] == "ICESCO: Building Peace is Everyone’s Responsibility"
    assert after["modified_gmt"] == edited["modified_gmt"].replace(" ", "T")
    assert dt.datetime.fromisoformat(after["modified_gmt"]) > dt.datetime.fromisoformat(before["modified_gmt"])
    assert after["link"] == target["link"]  # the slug stays


def test_reset_restores_the_baseline(wp: WordPress) -> None:
    wp.add_post("fr", "Un article de plus", block_content("Texte."), "2025-08-01 10:00:00", ["a-la-une"])
    wp.set_theme("twentytwentythree")
    wp.set_rest("403")
    wp.set_layout(True)
    wp.fetch(wp.url("fr", "category/a-la-une/"))
    wp.reset()
    assert wp.requests() == []
    assert [p["link"] for p in wp.posts("fr")] == links(wp.baseline_posts("fr"))
    assert wp.get_option("en", "stylesheet") == "twentytwentyone"
    listing = wp.fetch(wp.url("fr", "category/a-la-une/"))
    assert title_links(listing.text) == links(wp.baseline_posts("fr"))
    assert wp.fetch(wp.url("fr", "wp-json/wp/v2/posts?_fields=id")).status == 200
    assert wp.php_errors() == ""


def test_robots_txt_and_root(wp: WordPress) -> None:
    robots = wp.fetch(wp.base_url + "/robots.txt")
    assert (robots.status, robots.headers.get_content_type()) == (200, "text/plain")
    assert "Disallow: /en/wp-admin/" in robots.text.splitlines()
    wp.set_robots("User-agent: *\nDisallow: /\n")
    assert wp.fetch(wp.base_url + "/robots.txt").text == "User-agent: *\nDisallow: /\n"
    root = wp.fetch(wp.base_url + "/")
    assert (root.status, root.headers["Location"]) == (302, "/en/")
    assert wp.fetch(wp.base_url + "/xx/category/news/").status == 404
