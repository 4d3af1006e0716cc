"""Canonical URLs, article URLs and stable ids."""

from __future__ import annotations

import pytest

from crawler.urls import article_id, article_path_info, canonical_url, host_allowed, slugify

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "url",
    [
        "https://icesco.org/en/2024/07/11/some-slug/",
        "http://icesco.org/en/2024/07/11/some-slug/",
        "https://www.icesco.org/en/2024/07/11/some-slug",
        "https://WWW.ICESCO.ORG:443/en/2024/07/11/some-slug/?utm_source=x&utm_medium=y#comments",
        "https://icesco.org/en/2024/07/11/some-slug/?fbclid=abc",
        "https://icesco.org//en/2024/07/11/some%2dslug/",
    ],
)
def test_one_article_one_canonical_url(url: str) -> None:
    assert canonical_url(url) == "https://icesco.org/en/2024/07/11/some-slug/"


def test_percent_encoding_case_and_meaningful_query_are_kept_normalised() -> None:
    arabic = "https://icesco.org/ar/2024/07/11/%d8%a7%d9%84%d8%a5%d9%8a%d8%b3%d9%8a%d8%b3%d9%83%d9%88/"
    assert canonical_url(arabic) == canonical_url(
        arabic.upper().replace("HTTPS://ICESCO.ORG/AR", "https://icesco.org/ar")
    )
    assert (
        canonical_url(arabic)
        == "https://icesco.org/ar/2024/07/11/%D8%A7%D9%84%D8%A5%D9%8A%D8%B3%D9%8A%D8%B3%D9%83%D9%88/"
    )
    assert (
        canonical_url("https://icesco.org/en/category/news/?b=2&a=1") == "https://icesco.org/en/category/news/?a=1&b=2"
    )
    assert canonical_url("http://127.0.0.1:8080/en/x") == "http://127.0.0.1:8080/en/x/"


def test_percent_encoding_is_normalised_as_rfc_3986_says() -> None:
    """Hypothesis found '/%2530' (a literal '%30') canonicalised to '/%30/', then to '/0/'."""
    cases = {
        "http://icesco.org/%2530": "https://icesco.org/%2530/",  # a literal "%30" stays one
        "http://icesco.org/%30": "https://icesco.org/0/",  # an escaped unreserved character is decoded
        "https://icesco.org/a%2fb": "https://icesco.org/a%2Fb/",  # an escaped slash is not a slash
        "https://icesco.org/100%": "https://icesco.org/100%25/",  # a lone % is escaped
        "https://icesco.org/%e9t%C3%A9": "https://icesco.org/%E9t%C3%A9/",  # bytes that are not UTF-8 kept
        "https://icesco.org/en/a b/": "https://icesco.org/en/a%20b/",
    }
    assert {url: canonical_url(url) for url in cases} == cases
    assert {url: canonical_url(out) for url, out in cases.items()} == cases


def test_article_urls_are_recognised() -> None:
    assert article_path_info("https://icesco.org/fr/2022/12/05/l-icesco-participe/") == {
        "lang": "fr",
        "date": "2022-12-05",
        "slug": "l-icesco-participe",
    }
    assert article_path_info("https://icesco.org/en/category/news/page/2/") is None
    assert article_path_info("https://icesco.org/en/2022/12/05/") is None
    assert article_path_info("https://icesco.org/en/2022/12/05/slug/feed/") is None


def test_slugs_follow_wordpress() -> None:
    assert (
        slugify("ICESCO supports G20’s decisions to face Covid-19") == "icesco-supports-g20s-decisions-to-face-covid-19"
    )
    assert slugify("Dr. AlMalik: AI Can’t Replace – the Teacher…") == "dr-almalik-ai-cant-replace-the-teacher"
    assert slugify("L’ICESCO participe à la Semaine nationale") == "licesco-participe-a-la-semaine-nationale"
    assert slugify("  ICESCO, Gabon  ") == "icesco-gabon"


def test_ids_ignore_host_scheme_case_and_encoding() -> None:
    a = article_id("en", "icesco-supports-g20s-decisions-to-face-covid-19")
    assert a == article_id("EN", "ICESCO-supports-g20s-decisions-to-face-covid-19/")
    assert a != article_id("fr", "icesco-supports-g20s-decisions-to-face-covid-19")
    assert article_id("ar", "%d8%a7") == article_id("ar", "ا")


def test_host_allowed() -> None:
    hosts = {"icesco.org"}
    assert host_allowed("https://www.icesco.org/en/", hosts)
    assert not host_allowed("https://icesco.org.evil.example/en/", hosts)
    assert not host_allowed("ftp://icesco.org/en/", hosts)
    assert not host_allowed("javascript:alert(1)", hosts)
