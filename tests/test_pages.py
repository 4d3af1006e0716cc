"""Article and listing pages in the markup variants a WordPress site may use."""

from __future__ import annotations

import json

import pytest

from crawler.pages import PageError, parse_article, parse_listing
from crawler.site import ICESCO

pytestmark = pytest.mark.unit

URL = "https://www.icesco.org/en/2024/07/11/icesco-holds-a-test-event/?utm_source=feed"


def page(head: str = "", body: str = "") -> str:
    return f"<!doctype html><html lang='en-US'><head>{head}</head><body>{body}</body></html>"


def summary(item):
    return (item.title, item.url, item.published_at, item.paragraphs, item.lang, item.categories)


def test_standard_wordpress_markup() -> None:
    html = page(
        "<link rel='canonical' href='https://icesco.org/en/2024/07/11/icesco-holds-a-test-event/'>"
        "<meta property='og:title' content='ICESCO Holds a Test Event - ICESCO'>"
        "<meta property='article:published_time' content='2024-07-11T09:30:00+01:00'>"
        "<meta property='article:section' content='News'>",
        "<header><nav><a href='/en/'>Home</a></nav></header><article><h1 class='entry-title'>ICESCO Holds a Test Event</h1>"
        "<div class='entry-date'><time datetime='2024-07-11'>11 July 2024</time></div>"
        "<div class='entry-content'><p>First paragraph.</p><p>  Second\n paragraph. </p>"
        "<div class='share'><p>Share</p></div></div></article>"
        "<aside><h3>Latest articles</h3><p>Other</p></aside><footer><p>© ICESCO</p></footer>",
    )
    assert summary(parse_article(html, URL)) == (
        "ICESCO Holds a Test Event",
        "https://icesco.org/en/2024/07/11/icesco-holds-a-test-event/",
        "2024-07-11T08:30:00+00:00",
        ["First paragraph.", "Second paragraph."],
        "en",
        ["News"],
    )


def test_json_ld_only() -> None:
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "name": "x"},
            {
                "@type": "NewsArticle",
                "headline": "ICESCO Holds a Test Event",
                "datePublished": "2024-07-11T10:00:00Z",
                "articleSection": ["Culture", "News"],
                "articleBody": "One.\nTwo.",
            },
        ],
    }
    html = page(f"<script type='application/ld+json'>{json.dumps(ld)}</script>", "<div id='app'></div>")
    assert summary(parse_article(html, URL)) == (
        "ICESCO Holds a Test Event",
        "https://icesco.org/en/2024/07/11/icesco-holds-a-test-event/",
        "2024-07-11T10:00:00+00:00",
        ["One.", "Two."],
        "en",
        ["Culture", "News"],
    )


def test_old_layout_with_date_line_and_no_metadata() -> None:
    html = page(
        "<title>ICESCO supports Mohammed VI African initiative – ICESCO</title>",
        "<div class='post'><h1 class='post-title'>ICESCO supports Mohammed VI African initiative</h1>"
        "<span class='post-date'>April 14, 2020 0</span>"
        "<div class='post-content'><p>The Organization expresses its support.</p></div></div>",
    )
    item = parse_article(html, "https://icesco.org/en/2020/04/14/icesco-supports-mohammed-vi-african-initiative/")
    assert (item.title, item.published_at) == ("ICESCO supports Mohammed VI African initiative", "2020-04-14")
    assert "The Organization expresses its support." in item.paragraphs


def test_french_page_takes_its_language_from_the_url() -> None:
    html = page(
        "",
        "<article><h1 class='entry-title'>L’ICESCO participe</h1><div class='entry-content'>"
        "<p>Le 5 décembre 2022 à Marrakech.</p></div></article>",
    )
    item = parse_article(html, "https://icesco.org/fr/2022/12/05/licesco-participe/")
    assert (item.lang, item.published_at, item.slug) == ("fr", "2022-12-05", "licesco-participe")


def test_a_page_without_an_article_is_an_error() -> None:
    with pytest.raises(PageError, match="no article title found"):
        parse_article(page("", "<div></div>"), URL)
    with pytest.raises(PageError, match="no article text found"):
        parse_article(page("", "<article><h1 class='entry-title'>T</h1></article>"), URL)


def test_listing_links_and_next_page() -> None:
    base = "https://icesco.org/en/category/news/"
    html = page(
        "<link rel='next' href='https://icesco.org/en/category/news/page/2/'>",
        "<header><a href='https://icesco.org/en/2024/07/01/menu-link/'>menu</a></header>"
        "<article><h2 class='entry-title'><a href='https://www.icesco.org/en/2024/07/11/b/'>B</a></h2></article>"
        "<article><h2><a href='/en/2024/07/10/a/'>A</a> <a href='/en/2024/07/10/a/#comments'>0</a></h2></article>"
        "<article><a href='https://evil.example/en/2024/07/10/x/'>x</a></article>"
        "<aside class='widget'><a href='https://icesco.org/en/2024/07/12/latest/'>latest</a></aside>",
    )
    links, nxt = parse_listing(html, base, {"icesco.org"})
    assert links == ["https://www.icesco.org/en/2024/07/11/b/", "https://icesco.org/en/2024/07/10/a/"]
    assert nxt == "https://icesco.org/en/category/news/page/2/"
    links, nxt = parse_listing(
        page(
            "",
            "<a class='page-numbers' href='/en/category/news/page/3/'>3</a>"
            "<a class='page-numbers' href='/en/category/news/page/2/'>2</a>",
        ),
        base,
        {"icesco.org"},
    )
    assert (links, nxt) == ([], "https://icesco.org/en/category/news/page/2/")


ARTICLE = "https://icesco.org/en/2024/07/11/icesco-holds-a-test-event/"


def article_page(canonical: str) -> str:
    return page(
        f"<link rel='canonical' href='{canonical}'>",
        "<article><h1 class='entry-title'>ICESCO Holds a Test Event</h1>"
        "<div class='entry-content'><p>Body.</p></div></article>",
    )


@pytest.mark.parametrize(
    ("canonical", "stored"),
    [
        ("https://www.icesco.org/en/2024/07/11/icesco-holds-a-test-event/", ARTICLE),  # the same article: used
        ("https://icesco.org/en/2023/01/01/another-article/", ARTICLE),  # names another article: ignored
        ("https://evil.example/en/2024/07/11/icesco-holds-a-test-event/", ARTICLE),  # another host: ignored
        ("https://icesco.org/en/?p=123", ARTICLE),  # not an article URL: ignored
    ],
)
def test_canonical_is_used_only_on_an_allowed_host_and_for_the_same_article(canonical: str, stored: str) -> None:
    item = parse_article(article_page(canonical), ARTICLE, ICESCO)
    assert (item.url, item.slug, item.id) == (
        stored,
        "icesco-holds-a-test-event",
        parse_article(article_page(ARTICLE), ARTICLE, ICESCO).id,
    )


def test_older_layout_repeating_the_title_below_its_dateline_is_one_article() -> None:
    html = page(
        "",
        "<div class='post'><h1 class='post-title'>ICESCO Holds a Test Event</h1>"
        "<div class='post-content'><p>20 June 2019</p><p>Rabat: 20/06/2019</p>"
        "<h2>ICESCO Holds a Test Event</h2><p>The first paragraph.</p><p>The second.</p></div></div>",
    )
    item = parse_article(html, "https://icesco.org/en/2019/06/20/icesco-holds-a-test-event/")
    assert (item.title, item.paragraphs) == ("ICESCO Holds a Test Event", ["The first paragraph.", "The second."])


def test_block_theme_article_title_date_with_offset_and_post_terms() -> None:
    html = page(
        "<title>ICESCO Holds a Test Event &#8211; ICESCO</title>",
        "<header class='wp-block-template-part'><nav><a href='/en/2024/01/01/menu/'>menu</a></nav></header>"
        "<main><h1 class='wp-block-post-title'>ICESCO Holds a Test Event</h1>"
        "<div class='entry-content wp-block-post-content'><p>Body &amp; more.</p></div>"
        "<div class='wp-block-post-date'><time datetime='2025-01-15T00:30:00+01:00'>January 15, 2025</time></div>"
        "<div class='taxonomy-category wp-block-post-terms'><a href='/en/category/news/' rel='tag'>News</a>"
        "</div><div class='taxonomy-post_tag wp-block-post-terms'><a href='/en/tag/x/' rel='tag'>x</a></div>"
        "</main>",
    )
    item = parse_article(html, "https://icesco.org/en/2025/01/15/icesco-holds-a-test-event/")
    assert summary(item) == (
        "ICESCO Holds a Test Event",
        "https://icesco.org/en/2025/01/15/icesco-holds-a-test-event/",
        "2025-01-14T23:30:00+00:00",
        ["Body & more."],
        "en",
        ["News"],
    )


def test_listing_links_inside_entry_headers_are_article_links() -> None:
    """WordPress's classic themes put each title link in <header class="entry-header">."""
    html = page(
        "",
        "<header id='masthead'><nav><a href='/en/2024/01/01/menu/'>menu</a></nav></header>"
        "<main id='main'><article><header class='entry-header'><h2 class='entry-title'>"
        "<a href='/en/2025/11/03/first/'>First</a></h2></header></article>"
        "<article><header class='entry-header'><h2 class='entry-title'><a href='/en/2025/10/01/second/'>Second</a>"
        "</h2></header></article></main>"
        "<footer><aside class='widget'><a href='/en/2025/11/03/first/'>Recent</a>"
        "<a href='/en/2020/01/01/old/'>Old</a></aside></footer>",
    )
    links, nxt = parse_listing(html, "https://icesco.org/en/category/news/", {"icesco.org"})
    assert (links, nxt) == (
        ["https://icesco.org/en/2025/11/03/first/", "https://icesco.org/en/2025/10/01/second/"],
        None,
    )
