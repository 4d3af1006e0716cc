"""WordPress's machine-readable sources as pure functions: discovery, REST answers, feeds."""

from __future__ import annotations

import json

import pytest

from crawler.site import ICESCO
from crawler.urls import slugify
from crawler.wordpress import Discovery, SourceError, discover, parse_feed, parse_posts, posts_query

pytestmark = pytest.mark.integration

HOSTS = {"icesco.org"}
LISTING = "https://icesco.org/ar/category/%D8%A7%D9%84%D9%85%D8%B3%D8%AA%D8%AC%D8%AF%D8%A7%D8%AA/"


def test_discovery_from_head_links_and_link_header() -> None:
    html = (
        "<html><head><link rel='https://api.w.org/' href='https://icesco.org/ar/wp-json/'>"
        "<link rel='alternate' type='application/rss+xml' href='https://icesco.org/ar/feed/'>"
        "<link rel='alternate' type='application/rss+xml'"
        " href='https://icesco.org/ar/category/%d8%a7%d9%84%d9%85%d8%b3%d8%aa%d8%ac%d8%af%d8%a7%d8%aa/feed/'>"
        "<link rel='alternate' type='application/json' href='https://icesco.org/ar/wp-json/wp/v2/categories/7'>"
        "</head></html>"
    )
    assert discover(html, LISTING, "", HOSTS) == Discovery(
        "https://icesco.org/ar/wp-json/",
        7,
        "https://icesco.org/ar/category/%d8%a7%d9%84%d9%85%d8%b3%d8%aa%d8%ac%d8%af%d8%a7%d8%aa/feed/",
    )
    header = '<https://icesco.org/en/wp-json/>; rel="https://api.w.org/"'
    assert discover("<html></html>", "https://icesco.org/en/category/news/", header, HOSTS) == Discovery(
        "https://icesco.org/en/wp-json/", None, None
    )
    # Sources on another host are not followed.
    evil = "<link rel='https://api.w.org/' href='https://evil.example/wp-json/'>"
    assert discover(evil, "https://icesco.org/en/category/news/", "", HOSTS) == Discovery()


def test_posts_query_asks_for_changes_since_the_cursor_oldest_first() -> None:
    assert posts_query("https://icesco.org/en/wp-json/wp/v2/posts", 2, modified_after="2025-01-01T10:00:00Z") == (
        "https://icesco.org/en/wp-json/wp/v2/posts?categories=2&per_page=100"
        "&_fields=id%2Clink%2Cslug%2Cdate_gmt%2Cmodified_gmt%2Ctitle%2Ccontent%2Ccategories"
        "&modified_after=2025-01-01T10%3A00%3A00Z&orderby=modified&order=asc"
    )


def test_rest_posts_become_articles() -> None:
    posts = [
        {
            "id": 11,
            "link": "https://icesco.org/en/2025/01/15/icesco-and-oman/",
            "date_gmt": "2025-01-14T23:30:00",
            "modified_gmt": "2025-02-01T08:00:00",
            "title": {"rendered": "ICESCO &#038; Oman&#8217;s Commission"},
            "content": {"rendered": "<p>First.</p>\n<p>Second &amp; last.</p>"},
            "categories": [2, 3],
        },
        {
            "id": 12,
            "link": "https://evil.example/en/2025/01/16/x/",
            "date_gmt": "2025-01-16T10:00:00",
            "modified_gmt": "2025-03-01T08:00:00",
            "title": {"rendered": "X"},
            "content": {"rendered": "<p>x</p>"},
        },
    ]
    items, newest = parse_posts(
        json.dumps(posts), "https://icesco.org/en/wp-json/wp/v2/posts", ICESCO, {2: "News", 3: "Director-General"}
    )
    assert newest == "2025-03-01T08:00:00Z"
    assert [(i.title, i.paragraphs, i.published_at, i.modified_at, i.categories, i.slug, i.lang) for i in items] == [
        (
            "ICESCO & Oman’s Commission",
            ["First.", "Second & last."],
            "2025-01-14T23:30:00+00:00",
            "2025-02-01T08:00:00+00:00",
            ["Director-General", "News"],
            "icesco-and-oman",
            "en",
        )
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>Access denied</html>", "not JSON"),
        ('{"code": "rest_forbidden"}', "not a list of posts"),
        ('[{"id": 1}]', "entries are not posts"),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_unreadable_rest_answers_are_named(body: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_posts(body, "https://icesco.org/en/wp-json/wp/v2/posts", ICESCO)


def test_feed_items_become_articles_and_other_xml_is_an_error() -> None:
    feed = (
        "<?xml version='1.0'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
        "<channel><item><title>L&#8217;ICESCO participe</title><link>https://icesco.org/fr/2022/12/05/licesco-participe/</link>"
        "<pubDate>Mon, 05 Dec 2022 09:00:00 +0000</pubDate><category><![CDATA[À la une]]></category>"
        "<content:encoded><![CDATA[<p>Le 5 décembre 2022.</p>]]></content:encoded></item></channel></rss>"
    )
    items = parse_feed(feed, "https://icesco.org/fr/category/a-la-une/feed/", ICESCO)
    assert [(i.title, i.paragraphs, i.published_at, i.categories, i.lang) for i in items] == [
        ("L’ICESCO participe", ["Le 5 décembre 2022."], "2022-12-05T09:00:00+00:00", ["À la une"], "fr")
    ]
    with pytest.raises(SourceError, match="not an RSS feed"):
        parse_feed("<html><body>redesigned</body></html>", "https://icesco.org/fr/feed/", ICESCO)


def test_arabic_slugs_are_cut_as_wordpress_cuts_them() -> None:
    """WordPress cuts a title at 200 characters of its percent-encoded form (6 per Arabic letter)."""
    assert slugify("الإيسيسكو وفنلندا تبحثان آفاق التعاون في مجال التربية") == "الإيسيسكو-وفنلندا-تبحثان-آفاق-التعاو"
    assert slugify("a" * 250) == "a" * 200
