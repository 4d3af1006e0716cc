"""Real Scrapy crawls, in a subprocess, against the tests' own ICESCO-like site."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import helpers
import pytest
from fakesite import FakeSite, Hit, SiteArticle
from helpers import crawl_json, free_port, last_json, run_cli, site_crawl

from monitor.config import PROJECT_URL, VERSION

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def make_article(n: int, **kw: Any) -> SiteArticle:
    return SiteArticle(
        slug=f"icesco-news-item-number-{n}",
        title=f"ICESCO News Item Number {n}",
        published=NOW - dt.timedelta(hours=100 - n),
        paragraphs=[f"Paragraph one of item {n}, held in Rabat.", f"Paragraph two of item {n}."],
        **kw,
    )


@pytest.fixture
def site():
    articles = [make_article(n) for n in range(1, 24)]  # 23 articles: 3 listing pages of 10
    articles[5].categories = ["news", "executive-council"]
    with FakeSite(articles, per_page=10) as s:
        yield s


def write_config(tmp_path: Path, site: FakeSite, **crawl: Any) -> Path:
    """A config crawling the site's news listing (its alias host allowed too)."""
    overrides = {"hosts": ["127.0.0.1", "localhost"], "timeout": 3, **crawl}
    settings = site_crawl(f"{site.base_url}/en/category/news/", **overrides)
    return helpers.write_config(tmp_path, crawl=settings)


def paths(hits: list[Hit]) -> list[tuple[str, int]]:
    return [(h.path, h.status) for h in hits]


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def summary(result: dict[str, Any]) -> tuple[int, int, int, int]:
    return result["new"], result["updated"], result["unchanged"], result["errors"]


def test_first_crawl_then_polls_fetch_only_what_is_new(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site)
    db = tmp_path / "archive.db"
    first = crawl_json(db=db, config=cfg)
    assert summary(first) == (23, 0, 0, 0)
    stored = rows(db, "SELECT url, title, body, published_at, lang FROM articles ORDER BY published_at DESC")
    assert stored == [
        (
            f"{site.base_url}/en/{a.published:%Y/%m/%d}/{a.slug}/",
            a.title,
            "\n\n".join(a.paragraphs),
            a.published.isoformat(timespec="seconds"),
            "en",
        )
        for a in site.articles
    ]
    listing = [p for p in paths(site.hits) if "/category/" in p[0]]
    assert listing == [
        ("/en/category/news/", 200),
        ("/en/category/news/page/2/", 200),
        ("/en/category/news/page/3/", 200),
    ]
    assert sorted(p for p, _ in paths(site.hits) if "/category/" not in p and p != "/robots.txt") == sorted(
        a.path for a in site.articles
    )

    # Nothing new: one conditional listing request, answered 304 (robots.txt is kept a day).
    site.clear_hits()
    second = crawl_json(db=db, config=cfg)
    assert summary(second) == (0, 0, 0, 0)
    assert paths(site.hits) == [("/en/category/news/", 304)]
    listing_etag = '"' + hashlib.sha1(site.page_bytes("/en/category/news/")).hexdigest() + '"'
    assert site.hits[0].headers["If-None-Match"] == listing_etag  # the validator of the first crawl

    # One new article: one new row, one article fetch, the listing page once.
    site.add_article(make_article(24))
    site.clear_hits()
    third = crawl_json(db=db, config=cfg)
    assert summary(third) == (1, 0, 0, 0)
    assert paths(site.hits) == [
        ("/en/category/news/", 200),
        (make_article(24).path, 200),
    ]
    assert rows(db, "SELECT count(*) FROM articles") == [(24,)]
    runs = rows(db, "SELECT mode, status, new, updated, unchanged, errors FROM runs ORDER BY id")
    assert runs == [("live", "ok", 23, 0, 0, 0), ("live", "ok", 0, 0, 0, 0), ("live", "ok", 1, 0, 0, 0)]
    # The crawler says who it is.
    assert {h.headers["User-Agent"] for h in site.hits} == {f"icesco-monitor/{VERSION} (+{PROJECT_URL})"}


def test_an_edit_is_a_revision_not_a_second_article(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site, revisit_after_hours=0)
    db = tmp_path / "archive.db"
    assert summary(crawl_json(db=db, config=cfg)) == (23, 0, 0, 0)
    edited = site.articles[0]
    old_body = "\n\n".join(edited.paragraphs)
    site.edit_article(edited.slug, paragraphs=[edited.paragraphs[0], "A corrected second paragraph."])
    result = crawl_json(db=db, config=cfg)
    assert summary(result) == (0, 1, 22, 0)
    assert rows(db, "SELECT count(*) FROM articles") == [(23,)]
    revs = rows(
        db,
        "SELECT a.title, r.revision, r.changed_fields, r.old_body FROM revisions r JOIN articles a ON a.id = r.article_id",
    )
    assert revs == [(edited.title, 1, '["body"]', old_body)]
    assert rows(db, f"SELECT body, revision FROM articles WHERE slug = '{edited.slug}'") == [
        (f"{edited.paragraphs[0]}\n\nA corrected second paragraph.", 1)
    ]


def test_one_article_in_two_categories_and_on_two_hosts_is_one_row(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site)
    db = tmp_path / "archive.db"
    news = f"{site.base_url}/en/category/news/"
    council = f"{site.base_url}/en/category/executive-council/"
    result = crawl_json("--start-url", council, "--start-url", news, db=db, config=cfg)
    assert summary(result) == (23, 0, 0, 0)
    shared = site.articles[-6]
    assert shared.categories == ["news", "executive-council"]
    assert rows(db, f"SELECT url, categories FROM articles WHERE slug = '{shared.slug}'") == [
        (f"{site.base_url}{shared.path}", '["Executive Council", "News"]')
    ]
    fetched = [h.host for h in site.hits if h.path == shared.path]
    assert fetched == ["localhost"]  # met first under the alias host, fetched once


def test_http_errors_fail_alone(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site, retries=0)
    db = tmp_path / "archive.db"
    missing, broken, slow = site.articles[1], site.articles[2], site.articles[3]
    site.fail(missing.path, 404)
    site.fail(broken.path, 500)
    site.delay(slow.path, 5)  # longer than the 3 s timeout
    site.override(site.articles[4].path, b"<html><body><div><p>unclosed <b>tags")
    site.fail("/en/category/news/page/3/", 500)
    result = crawl_json(db=db, config=cfg)
    port = site.port
    assert (result["new"], result["errors"]) == (16, 5)
    base = f"http://127.0.0.1:{port}"
    assert sorted(result["messages"]) == sorted(
        [
            f"{base}/en/category/news/page/3/: HTTP 500",
            f"{base}{missing.path}: HTTP 404",
            f"{base}{broken.path}: HTTP 500",
            f"{base}{slow.path}: DownloadTimeoutError: Getting {base}{slow.path} took longer than 3.0 seconds.",
            f"{base}{site.articles[4].path}: no article title found (no h1.entry-title, .wp-block-post-title, og:title,"
            " JSON-LD headline or <h1>): has the site's layout changed?",
        ]
    )
    # The next run, with the site healthy, completes the work and duplicates nothing.
    site.fail(missing.path, 200, times=0)
    site.fail(broken.path, 200, times=0)
    site.fail("/en/category/news/page/3/", 200, times=0)
    site.delay(slow.path, 0)
    again = crawl_json(db=db, config=cfg)
    assert rows(db, "SELECT count(*), count(DISTINCT slug) FROM articles") == [(22, 22)]
    assert again["errors"] == 1  # the malformed page is still malformed


def test_a_500_is_retried_and_a_retry_after_is_honoured(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site, retries=2)
    db = tmp_path / "archive.db"
    site.fail("/en/category/news/", 503, times=1, headers={"Retry-After": "1"})
    site.fail(site.articles[0].path, 500, times=1)
    result = crawl_json(db=db, config=cfg)
    assert summary(result) == (23, 0, 0, 0)
    listing = [h for h in site.hits if h.path == "/en/category/news/"]
    assert [h.status for h in listing] == [503, 200]
    assert [h.status for h in site.hits if h.path == site.articles[0].path] == [500, 200]


def test_an_unreachable_site_exits_non_zero_with_a_clear_message(tmp_path: Path, site: FakeSite) -> None:
    port = free_port()
    cfg = write_config(tmp_path, site, start_urls=[f"http://127.0.0.1:{port}/en/category/news/"])
    proc = run_cli("crawl", config=cfg)
    assert proc.returncode == 1
    assert f"http://127.0.0.1:{port}/en/category/news/" in proc.stdout
    assert "ConnectionRefused" in proc.stdout


def test_robots_txt_is_obeyed_and_oversized_pages_are_dropped(tmp_path: Path) -> None:
    articles = [make_article(n) for n in range(1, 6)]
    forbidden = articles[0]
    robots = f"User-agent: *\nDisallow: {forbidden.path}\n"
    with FakeSite(articles, per_page=10, robots_txt=robots) as site:
        cfg = write_config(tmp_path, site, max_response_bytes=64 * 1024)
        huge = articles[1]
        site.override(huge.path, b"<html><body>" + b"<p>x</p>" * 20_000 + b"</body></html>")
        result = crawl_json(db=tmp_path / "archive.db", config=cfg)
        assert (result["new"], result["errors"]) == (3, 2)
        assert forbidden.path not in [h.path for h in site.hits]
        text = "\n".join(result["messages"])
        assert f"{forbidden.path}: IgnoreRequest: Forbidden by robots.txt" in text
        assert (
            f"{huge.path}: DownloadCancelledError: Expected to receive 160026 bytes which is larger than download max size (65536)"
            in text
        )


def test_a_failed_article_deeper_in_the_listing_is_fetched_by_the_next_poll(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site, retries=0)
    db = tmp_path / "archive.db"
    deep = site.articles[15]  # on listing page 2
    site.fail(deep.path, 500)
    assert summary(crawl_json(db=db, config=cfg)) == (22, 0, 0, 1)
    site.fail(deep.path, 200, times=0)
    site.clear_hits()
    assert summary(crawl_json(db=db, config=cfg)) == (1, 0, 0, 0)
    assert sorted(paths(site.hits)) == sorted([("/en/category/news/", 304), (deep.path, 200)])
    site.clear_hits()
    assert summary(crawl_json(db=db, config=cfg)) == (0, 0, 0, 0)
    assert paths(site.hits) == [("/en/category/news/", 304)]


def test_after_a_full_walk_an_unchanged_listing_still_costs_one_304(tmp_path: Path, site: FakeSite) -> None:
    cfg = write_config(tmp_path, site)
    db = tmp_path / "archive.db"
    assert crawl_json("--full", db=db, config=cfg)["new"] == 23
    crawl_json("--full", db=db, config=cfg)  # every page answered 304
    site.clear_hits()
    assert summary(crawl_json(db=db, config=cfg)) == (0, 0, 0, 0)
    assert paths(site.hits) == [("/en/category/news/", 304)]


def test_backfill_depth_holds_after_a_replay(tmp_path: Path, site: FakeSite) -> None:
    from helpers import DUMPS

    cfg = write_config(tmp_path, site, backfill_pages=1)
    db = tmp_path / "archive.db"
    assert crawl_json("--replay", str(DUMPS / "000_84405bf65da9c262.txt"), db=db, config=cfg)["new"] == 10
    assert crawl_json(db=db, config=cfg)["new"] == 10  # the first listing page only
    assert [p for p, _ in paths(site.hits) if "/category/" in p] == ["/en/category/news/"]


def test_internal_addresses_are_refused_unless_configured(tmp_path: Path, site: FakeSite) -> None:
    db = tmp_path / "archive.db"
    by_name = f"http://localhost:{site.port}/en/category/executive-council/"  # links to localhost too
    cfg = write_config(tmp_path, site, hosts=["localhost"], start_urls=[by_name])
    proc = run_cli("crawl", "--json", config=cfg)
    result = last_json(proc)
    assert (proc.returncode, result["new"]) == (1, 0)
    assert site.hits == []  # not even robots.txt
    assert "localhost is 127.0.0.1, an internal address: not fetched" in "\n".join(result["messages"])
    # Named with another port, it is still refused: the allow-list considers ports.
    cfg = write_config(tmp_path, site, hosts=["localhost"], start_urls=[by_name], allow_addresses=["127.0.0.1:1"])
    proc = run_cli("crawl", "--json", config=cfg)
    result = last_json(proc)
    assert (proc.returncode, site.hits) == (1, [])
    assert f"localhost is 127.0.0.1 port {site.port}, an internal address: not fetched" in "\n".join(result["messages"])
    # Named by the operator (with its port, or as a network), the address is crawled.
    cfg = write_config(
        tmp_path, site, hosts=["localhost"], start_urls=[by_name], allow_addresses=[f"127.0.0.1:{site.port}"]
    )
    assert crawl_json(db=db, config=cfg)["new"] == 1
    cfg = write_config(tmp_path, site, hosts=["localhost"], start_urls=[by_name], allow_addresses=["127.0.0.0/8"])
    assert crawl_json(db=db, config=cfg)["new"] == 0  # already stored
    assert {h.host for h in site.hits} == {"localhost"}
