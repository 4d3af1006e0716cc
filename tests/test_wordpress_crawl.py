"""The real command line against a real WordPress (Debian's 6.1, MariaDB, PHP) on 127.0.0.1,
shaped like icesco.org: /en/, /fr/, /ar/ sites, ICESCO's categories, posts short and long.

Each source (REST API, category feed, HTML in both themes) is crawled for real; the site
is changed while the crawler polls (a new short post, an edit of an old one, REST switched
off, a broken layout) and what the archive holds is compared with what WordPress holds.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import DUMP_HEADER, last_json, run_cli
from wordpress import WordPress, block_content

from crawler.urls import canonical_url
from monitor.archive import Archive
from monitor.config import load_config
from monitor.web import health

pytestmark = pytest.mark.integration

AR_NEWS = "المستجدات"
CATEGORIES = {"en": "news", "fr": "a-la-une", "ar": AR_NEWS}
RABAT = zoneinfo.ZoneInfo("Africa/Casablanca")


def config(tmp_path: Path, wp: WordPress, source: str = "auto", name: str = "a", **crawl: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    settings = {
        "database": f"{name}.db",
        "crawl": {
            "start_urls": [wp.url(site, f"category/{slug}/") for site, slug in CATEGORIES.items()],
            "download_delay": 0,
            "timeout": 20,
            "source": source,
            **crawl,
        },
    }
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


def crawl(cfg: Path, *args: str, code: int = 0) -> dict[str, Any]:
    proc = run_cli("crawl", "--json", *args, config=cfg, timeout=300)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return last_json(proc)


def rows(cfg: Path, sql: str) -> list[tuple[Any, ...]]:
    db = cfg.with_suffix(".db")
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def utc(local: str) -> str:
    when = dt.datetime.fromisoformat(local).replace(tzinfo=RABAT)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def expected(wp: WordPress) -> list[tuple[str, str, str, str, list[str]]]:
    """(url, title, lang, published_at in UTC, category names) of every baseline post in a
    followed category, as the archive should hold them."""
    out = []
    for site, slug in CATEGORIES.items():
        names = {c["slug"]: c["name"] for c in wp.categories(site)}
        for post in wp.baseline_posts(site, slug):
            cats = sorted(names[c] for c in post["categories"])
            out.append((canonical_url(post["link"]), post["title"], site, utc(post["date"]), cats))
    return sorted(out)


def stored(cfg: Path) -> list[tuple[str, str, str, str, list[str]]]:
    return sorted(
        (url, title, lang, published, json.loads(cats))
        for url, title, lang, published, cats in rows(
            cfg, "SELECT url, title, lang, published_at, categories FROM articles"
        )
    )


def kinds(wp: WordPress) -> list[tuple[str, int]]:
    """What the crawler asked for: (kind of request, status)."""
    out = []
    for r in wp.requests():
        uri = r["uri"]
        kind = (
            "robots"
            if uri == "/robots.txt"
            else "rest"
            if "/wp-json/" in uri
            else "feed"
            if uri.rstrip("/").endswith("/feed")
            else "listing"
            if "/category/" in uri
            else "article"
        )
        out.append((kind, r["status"]))
    return out


@pytest.mark.parametrize("theme", ["twentytwentyone", "twentytwentythree"])
def test_html_reads_every_post_in_both_themes(wp: WordPress, tmp_path: Path, theme: str) -> None:
    wp.set_theme(theme)
    cfg = config(tmp_path, wp, source="html")
    result = crawl(cfg, "--full")
    want = expected(wp)
    assert (result["status"], result["new"], result["errors"], result["alarms"]) == ("ok", len(want), 0, [])
    assert stored(cfg) == want
    assert [s["mode"] for s in result["sources"]] == ["html", "html", "html"]
    # A new short post (no "Continue reading" link in twentytwentyone) is found by the next poll.
    post = wp.add_post(
        "en",
        "ICESCO Welcomes a New Member State",
        block_content("A short note of welcome."),
        "2026-11-20 09:00:00",
        ["news"],
    )
    again = crawl(cfg)
    assert (again["new"], again["errors"]) == (1, 0)
    assert rows(cfg, f"SELECT title, body FROM articles WHERE url = '{canonical_url(post['link'])}'") == [
        ("ICESCO Welcomes a New Member State", "A short note of welcome.")
    ]


def test_rest_api_idle_poll_new_post_and_edit_of_an_old_post(wp: WordPress, tmp_path: Path) -> None:
    cfg = config(tmp_path, wp)
    first = crawl(cfg)
    assert stored(cfg) == expected(wp)
    assert [(s["mode"], s["last_error"]) for s in first["sources"]] == [("rest", None)] * 3
    # Idle: one request per start URL, a small body, no robots.txt (kept a day).
    wp.clear_log()
    idle = crawl(cfg)
    assert (idle["new"], idle["updated"], idle["status"]) == (0, 0, "ok")
    assert kinds(wp) == [("rest", 200)] * 3
    assert all(r["bytes"] <= 2048 for r in wp.requests()), wp.requests()
    # A new short post: still one request per start URL.
    post = wp.add_post(
        "en",
        "ICESCO Opens Registration for Its Summer School",
        block_content("Registration is open until the end of the month."),
        "2026-11-25 10:00:00",
        ["news"],
    )
    wp.clear_log()
    new = crawl(cfg)
    assert (new["new"], new["updated"]) == (1, 0)
    assert kinds(wp) == [("rest", 200)] * 3
    assert rows(cfg, f"SELECT title, body, lang FROM articles WHERE url = '{canonical_url(post['link'])}'") == [
        ("ICESCO Opens Registration for Its Summer School", "Registration is open until the end of the month.", "en")
    ]
    # An edit of the oldest post (more than two years old) is a revision at the next poll.
    oldest = wp.baseline_posts("en", "news")[-1]
    before = rows(cfg, f"SELECT body FROM articles WHERE url = '{canonical_url(oldest['link'])}'")[0][0]
    wp.edit_post("en", oldest["id"], content=block_content("A corrected first paragraph.", *before.split("\n\n")[1:]))
    edited = crawl(cfg)
    assert (edited["new"], edited["updated"]) == (0, 1)
    assert rows(
        cfg, "SELECT a.title, r.old_body, r.changed_fields FROM revisions r JOIN articles a ON a.id = r.article_id"
    ) == [(oldest["title"], before, json.dumps(["body"]))]
    assert rows(cfg, f"SELECT revision FROM articles WHERE url = '{canonical_url(oldest['link'])}'") == [(1,)]


def test_every_source_gives_the_same_rows(wp: WordPress, tmp_path: Path) -> None:
    """The same article from REST, the feed, HTML (both themes) is one id with one content hash."""
    columns = "SELECT id, url, lang, slug, title, subtitle, body, published_at, categories, content_hash FROM articles ORDER BY id"
    results = {}
    for source in ("rest", "feed", "html"):
        cfg = config(tmp_path, wp, source=source, name=source)
        crawl(cfg, "--full")
        results[source] = rows(cfg, columns)
    wp.set_theme("twentytwentythree")
    cfg = config(tmp_path, wp, source="html", name="block")
    crawl(cfg, "--full")
    results["block"] = rows(cfg, columns)
    assert len(results["rest"]) == len(expected(wp))
    assert results["feed"] == results["rest"]
    assert results["html"] == results["rest"]
    assert results["block"] == results["rest"]


@pytest.mark.parametrize("source", ["rest", "feed", "html"])
def test_a_dump_and_the_live_site_make_one_row(wp: WordPress, tmp_path: Path, source: str) -> None:
    title = "ICESCO Launches the Arabic Language Week in Its Member States"
    paragraphs = [
        "The Islamic World Educational, Scientific and Cultural Organization (ICESCO) launched today the Arabic language week.",
        "The week includes lectures, workshops and competitions for students in the Member States.",
    ]
    dump = tmp_path / "dumps" / "000.txt"
    dump.parent.mkdir()
    dump.write_text(
        DUMP_HEADER + "".join(f"    {b}\n\n" for b in [title, *paragraphs]) + "    Latest articles\n", encoding="utf-8"
    )
    cfg = config(tmp_path, wp, source=source)
    replayed = run_cli("crawl", "--replay", str(dump.parent), "--json", config=cfg)
    assert replayed.returncode == 0, replayed.stderr
    post = wp.add_post("en", title, block_content(*paragraphs), "2026-11-24 11:00:00", ["news"])
    live = crawl(cfg, "--full")
    assert (live["new"], live["updated"]) == (len(expected(wp)), 0)
    assert rows(cfg, f"SELECT url, title, revision, body FROM articles WHERE title = '{title}'") == [
        (canonical_url(post["link"]), title, 0, "\n\n".join(paragraphs))
    ]


@pytest.mark.parametrize("mode", ["401", "403", "404", "html"])
def test_rest_switched_off_falls_back(wp: WordPress, tmp_path: Path, mode: str) -> None:
    wp.set_rest(mode)
    # auto: the category feed (and the HTML listings for what the feed does not hold)
    cfg = config(tmp_path, wp)
    result = crawl(cfg, "--full")
    assert (result["status"], result["errors"]) == ("ok", 0)
    assert stored(cfg) == expected(wp)
    assert [s["mode"] for s in result["sources"]] == ["feed", "feed", "feed"]
    assert all("REST API" in (s["last_error"] or "") for s in result["sources"]), result["sources"]
    # rest: REST, else HTML
    cfg = config(tmp_path, wp, source="rest", name="b")
    result = crawl(cfg, "--full")
    assert stored(cfg) == expected(wp)
    assert [s["mode"] for s in result["sources"]] == ["html", "html", "html"]
    status = json.loads(run_cli("status", "--json", config=cfg).stdout)
    assert [s["mode"] for s in status["sources"]] == ["html", "html", "html"]


def test_a_broken_layout_raises_the_alarm(wp: WordPress, tmp_path: Path) -> None:
    cfg = config(tmp_path, wp, source="html")
    crawl(cfg)
    wp.set_layout(True)
    result = crawl(cfg, code=1)
    starts = [wp.url(site, f"category/{slug}/") for site, slug in CATEGORIES.items()]
    assert result["status"] == "degraded"
    assert result["alarms"] == [
        *(f"{url}: listing page with no article links: has the site's layout changed?" for url in starts),
        *(f"{url}: this start URL yielded nothing readable" for url in starts),
    ]
    status = json.loads(run_cli("status", "--json", config=cfg).stdout)
    assert status["alarms"] == result["alarms"]
    loaded = load_config(cfg)
    with Archive(loaded.database) as archive:
        code, body = health(loaded, archive.last_good_crawl(), dt.datetime.now(dt.UTC), archive.last_finished_crawl())
        assert archive.metrics().alarms == 6
    assert (code, body["status"], body["alarms"]) == (
        503,
        "degraded: the last crawl could not read the site (has its layout changed?)",
        result["alarms"],
    )
    # The site mended: the next crawl is ok again.
    wp.set_layout(False)
    assert crawl(cfg)["status"] == "ok"


def test_publication_times_keep_their_offset(wp: WordPress, tmp_path: Path) -> None:
    cfg = config(tmp_path, wp)
    crawl(cfg)
    midnight = next(p for p in wp.baseline_posts("en") if p["date"] == "2025-01-15 00:30:00")
    assert rows(cfg, f"SELECT published_at FROM articles WHERE url = '{canonical_url(midnight['link'])}'") == [
        ("2025-01-14T23:30:00+00:00",)
    ]
    listing = run_cli("articles", "--limit", "100", config=cfg).stdout
    assert "2025-01-15  " in listing and midnight["title"] in listing.split("2025-01-15  ", 1)[1].splitlines()[0]


def test_rest_pages_through_x_wp_totalpages_and_rechecks_the_source_daily(wp: WordPress, tmp_path: Path) -> None:
    cfg = config(tmp_path, wp, rest_per_page=5)
    result = crawl(cfg, "--full")
    assert stored(cfg) == expected(wp)
    en = len(wp.baseline_posts("en", "news"))
    rest_pages = [r["uri"] for r in wp.requests() if "/en/wp-json/wp/v2/posts" in r["uri"]]
    assert len(rest_pages) == -(-en // 5) and "page=2" in rest_pages[1], rest_pages
    assert result["status"] == "ok"
    # A day later the listing is read again to re-choose the source (then REST as before).
    with sqlite3.connect(cfg.with_suffix(".db")) as conn:
        conn.execute("UPDATE sources SET checked_at = '2000-01-01T00:00:00+00:00'")
    wp.clear_log()
    again = crawl(cfg)
    assert (again["new"], again["updated"]) == (0, 0)
    assert sorted(kinds(wp)) == sorted([("listing", 200), ("rest", 200)] * 3)  # category names are known
    assert all(s["checked_at"] > "2000" and s["mode"] == "rest" for s in again["sources"])


def test_redirects_and_pages_past_the_end(wp: WordPress, tmp_path: Path) -> None:
    """A start URL without its slash or as /page/1/ (WordPress answers 301), and a listing
    page that is gone (404 past the end) are no errors."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "database": "c.db",
                "crawl": {
                    "start_urls": [wp.url("en", "category/news"), wp.url("fr", "category/a-la-une/page/1/")],
                    "download_delay": 0,
                    "source": "html",
                },
            }
        ),
        encoding="utf-8",
    )
    result = crawl(cfg, "--full")
    assert (result["status"], result["errors"]) == ("ok", 0), result["messages"]
    want = [row for row in expected(wp) if row[2] in ("en", "fr")]
    assert stored(cfg) == want
    with Archive(tmp_path / "c.db") as archive:
        archive.mark_listing_pending(canonical_url(wp.url("en", "category/news/page/9/")), 9)
    again = crawl(cfg)
    assert (again["status"], again["errors"], again["new"]) == ("ok", 0, 0), again["messages"]
    assert ("listing", 404) in kinds(wp)


def test_a_backdated_post_is_found_at_the_daily_recheck(wp: WordPress, tmp_path: Path) -> None:
    """WordPress gives a new post the modified time of its date: a post published today but
    dated before the last change seen is older than the REST cursor, so the poll cannot see it; the daily
    re-check reads the listing and fetches what it lists and the archive lacks."""
    cfg = config(tmp_path, wp)
    crawl(cfg)
    newest = max(p["date"] for p in wp.baseline_posts("en", "news"))
    backdated = (dt.datetime.fromisoformat(newest) - dt.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    post = wp.add_post(
        "en",
        "ICESCO Report Dated Last Month",
        block_content("Published today, dated a month before."),
        backdated,
        ["news"],
    )
    assert crawl(cfg)["new"] == 0
    with sqlite3.connect(cfg.with_suffix(".db")) as conn:
        conn.execute("UPDATE sources SET checked_at = '2000-01-01T00:00:00+00:00'")
    again = crawl(cfg)
    assert (again["new"], again["errors"]) == (1, 0)
    assert rows(cfg, f"SELECT title, body FROM articles WHERE url = '{canonical_url(post['link'])}'") == [
        ("ICESCO Report Dated Last Month", "Published today, dated a month before.")
    ]


def test_a_post_in_a_category_not_known_yet_brings_its_name(wp: WordPress, tmp_path: Path) -> None:
    cfg = config(tmp_path, wp)
    crawl(cfg)
    wp.php("en", [{"op": "add_category", "slug": "culture", "name": "Culture"}])
    post = wp.add_post(
        "en",
        "ICESCO Celebrates Heritage Day",
        block_content("Heritage day."),
        dt.datetime.now(RABAT).strftime("%Y-%m-%d %H:%M:%S"),
        ["news", "culture"],
    )
    wp.clear_log()
    assert crawl(cfg)["new"] == 1
    assert rows(cfg, f"SELECT categories FROM articles WHERE url = '{canonical_url(post['link'])}'") == [
        (json.dumps(["Culture", "News"]),)
    ]
