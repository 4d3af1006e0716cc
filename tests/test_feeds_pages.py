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
from monitor.archive import ArticleRow, RevisionRow

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
    dates = re.findall(r"<time[^>]*>([^<]*)</time>", index_page(rows, INFO, "Africa/Casablanca"))
    assert dates == ["2024-07-12", "2024-07-01"]
    assert re.findall(r"<time[^>]*>([^<]*)</time>", index_page(rows, INFO, "America/New_York")) == [
        "2024-07-11",
        "2024-07-01",
    ]


def test_the_index_links_articles_and_feeds_escaped() -> None:
    page = index_page([row(url="javascript:alert(1)", lang="ar", revision=2)], INFO, "UTC")
    assert re.findall(r'<a (?:class="[^"]*" )?href="([^"]*)"', page) == [
        "#main",
        "/",
        "/",
        "/feed.xml",
        "/subscribe",
        "/",
        "/?lang=en",
        "/?lang=fr",
        "/?lang=ar",
        "/feed.xml",
        "/atom.xml",
        "/feed.json",
        "http://127.0.0.1:8080/articles/0123456789abcdef",  # not http(s): its page on the service
        "/articles/0123456789abcdef",
        "/healthz",
        "/metrics",
    ]
    assert "<title>News &lt;mirror&gt;</title>" in page
    assert (
        '<li lang="ar"><a href="http://127.0.0.1:8080/articles/0123456789abcdef" dir="rtl">ICESCO &amp; UNESCO</a>'
        in page
    )
    assert " · edited 2× · " in page
    assert page.endswith("</html>\n")


def test_the_index_tabs_search_and_undated_group() -> None:
    dated = [row(id="1111111111111111", published_at="2024-07-01", title="Dated")]
    undated = [row(title="Undated <x>")]
    page = index_page(dated, INFO, "Africa/Casablanca", undated=undated, lang="fr", query="culture & arts")
    assert re.findall(r'<li><a href="(/[^"]*)"[^>]*aria-current="page"', page) == ["/?lang=fr"]
    assert page.count("aria-current") == 1
    assert re.findall(r"<label for=\"q\">([^<]*)</label>", page) == ["Search the archive"]
    assert re.findall(r"<input[^>]*>", page) == [
        '<input id="q" name="q" type="search" maxlength="200" value="culture &amp; arts">',
        '<input type="hidden" name="lang" value="fr">',
    ]
    assert re.findall(r'<p class="results">(.*)</p>', page) == [
        '2 results for “culture &amp; arts” · <a href="/feed.xml?q=culture+%26+arts&amp;lang=fr">feed of this search</a>'
    ]
    assert re.findall(r"<h[12][^>]*>([^<]*)</h[12]>", page) == ["News &lt;mirror&gt;", "Newest first", "Date unknown"]
    # the undated article in its own group, below, with when it was first seen (site time)
    assert re.findall(r'<span class="meta" dir="ltr" lang="en">(.*?) · <a', page) == [
        '<time datetime="2024-07-01">2024-07-01</time>',
        'first seen <time datetime="2024-07-11T23:30:00+00:00">2024-07-12</time>',
    ]
    assert page.index(">Dated</a>") < page.index("Date unknown") < page.index(">Undated &lt;x&gt;</a>")


def test_an_empty_index_says_so() -> None:
    page = index_page([], INFO, "UTC")
    assert re.findall(r"<li>[^<]*</li>", page) == ["<li>No articles yet: the first crawl has not run.</li>"]
    assert "Date unknown" not in page and 'class="results"' not in page
    searched = index_page([], INFO, "UTC", query="nothing")
    assert re.findall(r"<li>[^<]*</li>", searched) == ["<li>No article matches.</li>"]
    assert re.findall(r'<p class="results">(.*)</p>', searched) == [
        '0 results for “nothing” · <a href="/feed.xml?q=nothing">feed of this search</a>'
    ]


def test_the_article_page() -> None:
    page = article_page(row(subtitle="Sub <i>", published_at="2024-07-11T23:30:00+00:00"), INFO, "Asia/Tokyo")
    body = page[page.index("<main") :]
    assert body == (
        '<main id="main">\n'
        "<article>\n"
        "<h1>ICESCO &amp; UNESCO</h1>\n"
        '<p class="subtitle">Sub &lt;i&gt;</p>\n'
        '<p class="meta"><time datetime="2024-07-11T23:30:00+00:00">2024-07-12</time>'
        ' · <a href="https://icesco.org/en/2024/07/11/a/">original</a></p>\n'
        "<p>One.</p>\n"
        "<p>Two &lt;b&gt;bold&lt;/b&gt;.</p>\n"
        "</article>\n"
        "</main>\n"
        "</body>\n"
        "</html>\n"
    )
    assert '<html lang="en">' in page
    assert re.findall(r"<(header|nav|main)\b", page) == ["header", "nav", "main"]


@pytest.mark.parametrize("url", [None, "javascript:alert(1)", "https://icesco.org/x\u200b", "/en/x/"])
def test_the_article_page_links_the_original_only_when_it_is_safe(url: str | None) -> None:
    page = article_page(row(url=url, published_at="2024-07-11"), INFO, "UTC")
    assert re.findall(r'<p class="meta">.*</p>', page) == [
        '<p class="meta"><time datetime="2024-07-11">2024-07-11</time></p>'
    ]


def revision(number: int, old_title: str, old_body: str, changed_at: str) -> RevisionRow:
    return RevisionRow(
        id=number,
        article_id="0123456789abcdef",
        revision=number,
        changed_at=changed_at,
        changed_fields=("body",),
        old_title=old_title,
        old_subtitle=None,
        old_body=old_body,
        old_hash=f"h{number}",
        new_hash=f"h{number + 1}",
        source=None,
    )


def test_the_article_page_shows_each_edit_newest_first() -> None:
    current = row(title="Title <3>", body="The Council met in Rabat on Monday.", revision=2)
    revisions = [
        revision(2, "Title 2", "The Council met in Rabat.", "2024-07-12T23:30:00+00:00"),
        revision(1, "Title 2", "The Board met in Rabat.", "2024-07-11T08:00:00+00:00"),
    ]
    page = article_page(current, INFO, "Africa/Casablanca", revisions)
    assert re.findall(r"<h([1-3])[^>]*>(.*?)</h\1>", page) == [
        ("1", "Title &lt;3&gt;"),
        ("2", "Edits"),
        ("3", 'Edit 2, <time datetime="2024-07-12T23:30:00+00:00">2024-07-13 00:30</time>'),
        ("3", 'Edit 1, <time datetime="2024-07-11T08:00:00+00:00">2024-07-11 09:00</time>'),
    ]
    assert re.findall(r'<div class="diff">\n(.*)\n</div>', page) == [
        "<p>The Council met in <del>Rabat.</del> <ins>Rabat on Monday.</ins></p>",
        "<p>The <del>Board</del> <ins>Council</ins> met in Rabat.</p>",
    ]
    assert re.findall(r"<p>Title was: (.*)</p>", page) == ["<del>Title 2</del>"]  # edit 2 changed the title
    assert re.findall(r'<p class="meta">([^<]*)</p>', page) == [
        "3 words added, 1 removed: &#34;…Rabat on Monday.&#34;",
        "1 word added, 1 removed: &#34;…Council…&#34;",
    ]
    assert " · edited 2× · " in page


def test_an_arabic_page_is_right_to_left() -> None:
    page = article_page(row(lang="ar", title="الإيسيسكو", body="نص."), INFO, "UTC")
    assert re.findall(r"<html[^>]*>", page) == ['<html lang="ar" dir="rtl">']
    assert '<header class="site" dir="ltr" lang="en">' in page


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


STYLE = Path(__file__).resolve().parent.parent / "feeds" / "static" / "style.css"


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_style_sheet_has_readable_contrast_in_both_schemes() -> None:
    css = STYLE.read_text(encoding="utf-8")
    schemes = [
        dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", block)) for block in re.findall(r":root \{([^}]*)\}", css)
    ]
    assert len(schemes) == 2  # light, then dark (prefers-color-scheme)
    pairs = [
        ("fg", "bg"),
        ("muted", "bg"),
        ("muted", "panel"),
        ("link", "bg"),
        ("link", "panel"),
        ("bg", "link"),  # the current tab, the search button
        ("ins-fg", "ins-bg"),
        ("del-fg", "del-bg"),
    ]
    ratios = [[round(contrast(s[a], s[b]), 2) for a, b in pairs] for s in schemes]
    assert ratios == [
        [16.83, 6.85, 6.18, 6.39, 5.77, 6.39, 7.16, 7.74],
        [15.48, 8.47, 7.34, 8.65, 7.49, 8.65, 8.55, 7.84],
    ]
    assert min(min(r) for r in ratios) >= 4.5
    # changes are not shown by colour alone; no physical left/right (RTL pages mirror)
    assert "ins { color: var(--ins-fg); background: var(--ins-bg); text-decoration: underline;" in css
    assert "del { color: var(--del-fg); background: var(--del-bg); text-decoration: line-through;" in css
    assert re.findall(r"\b(?:margin|padding|border)-(?:left|right)\b|\b(?:left|right):|float:", css) == []
    assert re.findall(r":focus-visible", css) == [":focus-visible"] * 3
