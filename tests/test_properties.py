"""Properties of the pure core, for any input: canonical URLs, slugs and ids, content
hashes, XML and header escaping. Idempotent, stable, never crashing."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.dumps import DumpError, DumpMeta, parse_dump
from crawler.items import content_hash
from crawler.urls import article_id, canonical_url, slugify
from feeds.digests import render_digest
from feeds.formats import FORMATS
from feeds.settings import DigestSettings, FeedSettings, Subscriber
from monitor.archive import ArticleRow, DigestRow

pytestmark = pytest.mark.unit

QUICK = settings(
    max_examples=max(150, settings().max_examples), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

hosts = st.sampled_from(["icesco.org", "www.icesco.org", "WWW.ICESCO.ORG", "127.0.0.1:8080"])
segments = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(
    lambda s: s not in (".", "..")
)
queries = st.lists(
    st.tuples(st.sampled_from(["utm_source", "a", "b", "fbclid", "page"]), st.text(max_size=5)), max_size=4
)


@QUICK
@given(st.sampled_from(["http", "https"]), hosts, st.lists(segments, max_size=4), queries)
@example("http", "icesco.org", ["%30"], [])  # found by hypothesis: a literal "%30" became "0"
def test_canonical_url_is_idempotent(scheme: str, host: str, path: list[str], query: list[tuple[str, str]]) -> None:
    from urllib.parse import parse_qsl, quote, urlencode, urlsplit

    url = f"{scheme}://{host}/" + "/".join(quote(p, safe="") for p in path)
    if query:
        url += "?" + urlencode(query)
    once = canonical_url(url)
    assert canonical_url(once) == once
    parts = urlsplit(once)
    assert {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)} <= {"a", "b", "page"}
    assert parts.hostname == ("127.0.0.1" if host.startswith("127.") else "icesco.org")  # www. and case go


@QUICK
@given(st.text(max_size=200))
def test_slugify_is_idempotent_and_url_safe(title: str) -> None:
    slug = slugify(title)
    assert slugify(slug) == slug
    assert slug == slug.strip("-") and "--" not in slug
    assert not any(c.isspace() for c in slug) and "/" not in slug


@QUICK
@given(st.text(min_size=1, max_size=100), st.sampled_from(["en", "fr", "ar"]))
def test_ids_are_stable_hex(slug: str, lang: str) -> None:
    a = article_id(lang, slug)
    assert (a, len(a), a.strip("0123456789abcdef")) == (article_id(lang.upper(), slug), 16, "")


words = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=8), min_size=1, max_size=12
)


@QUICK
@given(words, words, st.sampled_from([" ", "  ", "\u00a0", "\t", " \u200b"]))
def test_white_space_never_changes_the_hash(title: list[str], body: list[str], sep: str) -> None:
    plain = content_hash(" ".join(title), None, " ".join(body))
    assert content_hash(sep.join(title), None, sep.join(body) + " ") == plain
    assert content_hash(" ".join(title) + "x", None, " ".join(body)) != plain


@QUICK
@given(st.text(max_size=3000))
def test_the_dump_parser_never_crashes(text: str) -> None:
    try:
        items = parse_dump(text, DumpMeta(), where="fuzz")
    except DumpError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert items and all(i.title and i.paragraphs for i in items)


hostile = st.text(st.characters(blacklist_categories=()), max_size=80) | st.sampled_from(
    [
        "<script>alert(1)</script>",
        "]]>",
        "\r\nBcc: evil@example.com",
        "\ud800",
        "\x00\x1b",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
    ]
)


@QUICK
@given(hostile, hostile, hostile)
def test_feeds_stay_valid_and_mail_headers_intact(title: str, body: str, url: str) -> None:
    row = ArticleRow(
        id="0123456789abcdef",
        url=url,
        lang="en",
        slug="x",
        title=title or "t",
        subtitle=None,
        body=body or "b",
        published_at="2026-01-01",
        modified_at=None,
        categories=(title,),
        first_seen_at="2026-01-01T00:00:00+00:00",
        last_seen_at="2026-01-01T00:00:00+00:00",
        last_fetched_at=None,
        updated_at=None,
        content_hash="h",
        revision=0,
        partial=0,
        source=None,
        seq=1,
    )
    data = FORMATS["rss"].render([row], FeedSettings())
    parsed = feedparser.parse(data)
    assert not parsed.bozo
    assert all(e.link.startswith(("http://", "https://")) for e in parsed.entries)
    msg = render_digest(
        Subscriber(address="reader@example.org"),
        [
            DigestRow(
                seq=1,
                id=row.id,
                url=url,
                lang="en",
                title=row.title,
                subtitle=None,
                body=row.body,
                published_at=row.published_at,
                first_seen_at=row.first_seen_at,
                categories=row.categories,
            )
        ],
        dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        DigestSettings(),
        digest_key="k",
    )
    assert msg.get_all("To") == ["reader@example.org"] and msg.get_all("Bcc") is None
    for _name, value in msg.items():
        assert "\n" not in value and "\r" not in value
    html = msg.get_body(("html",)).get_content().lower()
    assert 'href="javascript:' not in html and 'href="data:' not in html and "<script" not in html
