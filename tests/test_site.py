"""A site is one profile (crawler/site.py): its hosts, furniture, title suffix, time zone
and the name its article ids carry. ICESCO's ids stay those stored before profiles; a
second site (``EXAMPLE_SITE``: a hypothetical WordPress newspaper) is read, as pure
functions, from the config, from dumps and for real from the test WordPress."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from helpers import EXAMPLE_SITE, run_cli
from wordpress import WordPress, block_content

from crawler import site as site_module
from crawler.dumps import DumpError, DumpMeta, parse_dump
from crawler.extract import build_article
from crawler.items import ArticleItem
from crawler.pages import PageError, parse_article
from crawler.site import ICESCO, PROFILES, SiteProfile, UnknownSite, register, site_profile
from crawler.urls import article_id
from crawler.wordpress import parse_posts
from monitor.archive import Archive
from monitor.config import ConfigError, load_config
from monitor.crawl import crawl_options
from monitor.web import FeedCache, WebServer

pytestmark = pytest.mark.integration

BUDGET = "https://www.example.org/2025/03/04/council-approves-the-budget/"
BUDGET_ID = "example:" + article_id("en", "council-approves-the-budget")


@pytest.fixture
def example_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROFILES, EXAMPLE_SITE.name, EXAMPLE_SITE)


# --- identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "slug", "stored"),
    [  # ids as the archive, the feeds' GUIDs and /articles/ID links hold them since the start
        ("en", "icesco-supports-g20s-decisions-to-face-covid-19", "1fff0f5a59eedb5c"),
        ("ar", "المستجدات", "5423f853d271d12a"),
        ("fr", "licesco-participe", "7c1b4a894558fb18"),
    ],
)
def test_icesco_ids_stay_those_stored_before_there_were_profiles(lang: str, slug: str, stored: str) -> None:
    assert ICESCO.article_id(lang, slug) == stored
    assert ICESCO.url_id(f"http://www.icesco.org/{lang}/2024/07/11/{quote(slug)}/") == stored
    assert ArticleItem(title="T", paragraphs=["P."], lang=lang, slug=slug).id == stored
    assert EXAMPLE_SITE.article_id(lang, slug) == f"example:{stored}"
    assert ArticleItem(title="T", paragraphs=["P."], lang=lang, slug=slug, site="example").id == f"example:{stored}"


def test_an_article_url_on_another_host_gets_none_of_the_sites_ids() -> None:
    path = "/2025/03/04/council-approves-the-budget/"
    urls = [
        "https://example.org" + path,
        "http://www.news.example.org" + path,
        "https://icesco.org" + path,
        "https://example.org.evil.test" + path,
        "ftp://example.org" + path,
        "https://example.org/category/news/",
    ]
    assert [EXAMPLE_SITE.url_id(u) for u in urls] == [BUDGET_ID, BUDGET_ID, None, None, None, None]
    assert [ICESCO.url_id(u) for u in urls] == [
        None,
        None,
        article_id("en", "council-approves-the-budget"),
        None,
        None,
        None,
    ]
    assert EXAMPLE_SITE.on_hosts(["mirror.example.net"]).url_id("https://mirror.example.net" + path) == BUDGET_ID
    assert EXAMPLE_SITE.on_hosts(["mirror.example.net"]).url_id("https://example.org" + path) is None


def test_listings_languages_and_hosts_of_a_profile() -> None:
    assert ICESCO.start_urls == (
        "https://icesco.org/en/category/news/",
        "https://icesco.org/fr/category/a-la-une/",
        "https://icesco.org/ar/category/%d8%a7%d9%84%d9%85%d8%b3%d8%aa%d8%ac%d8%af%d8%a7%d8%aa/",
    )
    assert (ICESCO.languages, ICESCO.hosts, ICESCO.timezone) == (
        ("en", "fr", "ar"),
        ("icesco.org",),
        "Africa/Casablanca",
    )
    assert (EXAMPLE_SITE.start_urls, EXAMPLE_SITE.languages) == (("https://example.org/category/news/",), ("",))
    assert SiteProfile(name="x", hosts=("WWW.X.org", "x.org.", "y.org")).hosts == ("x.org", "y.org")


# --- what is not the article ------------------------------------------------------------------


def test_each_site_strips_its_own_title_suffix() -> None:
    titles = ["Budget - ICESCO", "Budget | الإيسيسكو", "Budget – ISESCO Rabat", "Budget – Example Times", "ICESCO"]
    assert [ICESCO.strip_title_suffix(t) for t in titles] == [
        "Budget",
        "Budget",
        "Budget",
        "Budget – Example Times",
        "ICESCO",
    ]
    assert [EXAMPLE_SITE.strip_title_suffix(t) for t in titles] == [
        "Budget - ICESCO",
        "Budget | الإيسيسكو",
        "Budget – ISESCO Rabat",
        "Budget",
        "ICESCO",
    ]
    assert SiteProfile(name="x", hosts=("x.org",)).strip_title_suffix(" Budget - X ") == "Budget - X"


def test_each_site_has_its_own_furniture_and_shares_wordpress_s() -> None:
    lines = [
        "Subscribe to the Example Times newsletter",
        "Your opinion",
        "Disclaimer: You are using Google Translate.",
        "By messaging ICESCO you agree to its terms",
        "Share this article:",
        "Read more »",
        "Latest news",
        "The council approved the budget.",
    ]
    assert [ICESCO.is_furniture(line) for line in lines] == [False, True, True, True, True, True, True, False]
    assert [EXAMPLE_SITE.is_furniture(line) for line in lines] == [True, False, False, False, True, True, True, False]


# --- the readers take the profile -------------------------------------------------------------


DUMP = (
    "Subscribe to the Example Times newsletter\n\n"
    "Council Approves the Budget\n\n"
    "The council approved the budget on Monday.\n\n"
    "Latest news\n\n"
    "Another Headline\n"
)


def test_a_dump_of_the_second_site() -> None:
    (item,) = parse_dump(DUMP, DumpMeta(url=BUDGET), where="ex", site=EXAMPLE_SITE)
    assert (item.title, item.paragraphs, item.lang, item.slug, item.url, item.id) == (
        "Council Approves the Budget",
        ["The council approved the budget on Monday."],
        "en",
        "council-approves-the-budget",
        "https://example.org/2025/03/04/council-approves-the-budget/",
        BUDGET_ID,
    )
    (listed,) = parse_dump(DUMP, DumpMeta(), where="ex", site=EXAMPLE_SITE)
    assert (listed.title, listed.id) == ("Council Approves the Budget", BUDGET_ID)
    # Read as ICESCO's, the newsletter line is no furniture, and the dump's URL is not ICESCO's.
    (as_icesco,) = parse_dump(DUMP, DumpMeta(), where="ex")
    assert (as_icesco.title, as_icesco.id) == (
        "Subscribe to the Example Times newsletter",
        article_id("en", "subscribe-to-the-example-times-newsletter"),
    )
    with pytest.raises(DumpError) as exc:
        parse_dump(DUMP, DumpMeta(url=BUDGET), where="ex")
    assert str(exc.value) == f"ex: its url {BUDGET} is not on the hosts of site icesco (icesco.org)"


def test_a_page_and_a_rest_answer_of_the_second_site() -> None:
    html = (
        "<html lang='en-GB'><head><title>Council Approves the Budget – Example Times</title></head><body><article>"
        "<div class='entry-content'><p>The council approved the budget on Monday.</p>"
        "<p>Subscribe to the Example Times newsletter</p><p>Your opinion</p></div></article></body></html>"
    )
    item = parse_article(html, BUDGET, EXAMPLE_SITE)
    assert (item.title, item.paragraphs, item.id) == (
        "Council Approves the Budget",
        ["The council approved the budget on Monday.", "Your opinion"],
        BUDGET_ID,
    )
    with pytest.raises(PageError) as exc:
        parse_article(html, "https://icesco.org/en/2025/03/04/council-approves-the-budget/", EXAMPLE_SITE)
    assert str(exc.value) == (
        "https://icesco.org/en/2025/03/04/council-approves-the-budget/: not on the hosts of site example"
        " (example.org, news.example.org)"
    )
    posts = [
        {
            "link": BUDGET,
            "title": {"rendered": "Council Approves the Budget &#8211; Example Times"},
            "content": "<p>Text.</p>",
        },
        {"link": "https://icesco.org/en/2025/03/04/x/", "title": {"rendered": "X"}, "content": "<p>x</p>"},
    ]
    items, _newest = parse_posts(json.dumps(posts), "https://example.org/wp-json/wp/v2/posts", EXAMPLE_SITE)
    assert [(i.title, i.paragraphs, i.id) for i in items] == [("Council Approves the Budget", ["Text."], BUDGET_ID)]
    with pytest.raises(ValueError) as error:  # the one extraction keeps to the site's hosts too
        build_article(title="X", paragraphs=["x"], url="https://icesco.org/en/2025/03/04/x/", site=EXAMPLE_SITE)
    assert str(error.value) == (
        "https://icesco.org/en/2025/03/04/x/: not on the hosts of site example (example.org, news.example.org)"
    )


# --- the registry and the config ----------------------------------------------------------------


def test_a_name_is_registered_once_and_one_profile_has_bare_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_module, "PROFILES", {"icesco": ICESCO})
    register(EXAMPLE_SITE)
    register(EXAMPLE_SITE)  # the same profile again: no change
    assert site_profile("example") is EXAMPLE_SITE
    with pytest.raises(ValueError, match=r"^site profile 'example' is registered already$"):
        register(dataclasses.replace(EXAMPLE_SITE, timezone="UTC"))
    with pytest.raises(ValueError, match=r"^site profile 'other': only one profile has bare ids \(icesco has\)$"):
        register(SiteProfile(name="other", hosts=("other.org",), bare_ids=True))
    with pytest.raises(UnknownSite, match=r"^unknown site profile 'nope' \(known: example, icesco\)$"):
        site_profile("nope")
    with pytest.raises(ValueError, match=r"^site profile name 'Ex:1': expected lower-case letters, digits and dashes$"):
        SiteProfile(name="Ex:1", hosts=("x.org",))
    with pytest.raises(ValueError, match=r"^site profile x: at least one host is needed$"):
        SiteProfile(name="x", hosts=())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.usefixtures("example_registered")
def test_the_config_picks_a_profile_whose_values_are_the_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "site: {profile: example}"))
    assert (cfg.site.timezone, cfg.crawl.start_urls, cfg.crawl.hosts) == (
        "Europe/London",
        ["https://example.org/category/news/"],
        ["example.org", "news.example.org"],
    )
    assert crawl_options(cfg).site == EXAMPLE_SITE
    cfg = load_config(write(tmp_path, "site: {profile: example, timezone: UTC}\ncrawl: {hosts: [mirror.example.net]}"))
    assert (cfg.site.timezone, cfg.crawl.start_urls, cfg.crawl.hosts) == (
        "UTC",
        ["https://example.org/category/news/"],
        ["mirror.example.net"],
    )
    assert crawl_options(cfg).site == EXAMPLE_SITE.on_hosts(["example.org", "mirror.example.net"])
    cfg = load_config(write(tmp_path, "database: a.db"), overrides={"site": {"profile": "example"}})
    assert (cfg.site.timezone, cfg.crawl.hosts) == ("Europe/London", ["example.org", "news.example.org"])
    cfg = load_config(write(tmp_path, "database: a.db"))
    assert (cfg.site.profile, cfg.site.timezone, cfg.crawl.start_urls, cfg.crawl.hosts) == (
        "icesco",
        "Africa/Casablanca",
        list(ICESCO.start_urls),
        ["icesco.org"],
    )
    assert crawl_options(cfg).site == ICESCO
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, "site: {profile: nope}"))
    assert str(exc.value) == "site.profile: unknown site profile 'nope' (known: example, icesco)"


# --- the whole way: config, crawl, archive, web ----------------------------------------------------


def test_the_web_serves_an_article_with_a_site_prefixed_id(tmp_path: Path) -> None:
    db = tmp_path / "web.db"
    with Archive(str(db)) as archive:
        archive.store(
            [ArticleItem(title="Council Approves the Budget", paragraphs=["Text."], site="example")],
            dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC),
        )
        (row,) = archive.articles()
    assert row.id == BUDGET_ID
    cfg = load_config(write(tmp_path, f"database: {db}"))
    srv = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        pages = []
        for path in (
            f"/articles/{quote(BUDGET_ID, safe='')}",
            f"/articles/{BUDGET_ID}",
            "/articles/other:" + BUDGET_ID[8:],
        ):
            try:
                with urllib.request.urlopen(base + path, timeout=5) as resp:
                    pages.append((resp.status, "<p>Text.</p>" in resp.read().decode()))
            except urllib.error.HTTPError as err:
                pages.append((err.code, False))
        with urllib.request.urlopen(base + "/feed.json", timeout=5) as resp:
            (entry,) = json.loads(resp.read())["items"]
    finally:
        srv.shutdown()
        srv.server_close()
    assert pages == [(200, True), (200, True), (404, False)]
    assert entry["url"] == f"{cfg.feed.base_url}articles/example%3A{BUDGET_ID[8:]}"


def test_a_replay_as_the_second_site(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "000.txt").write_text(DUMP, encoding="utf-8")
    (dumps / "000.txt.json").write_text(json.dumps({"url": BUDGET}), encoding="utf-8")
    cfg = write(tmp_path, f"database: {tmp_path / 'a.db'}\nsite: {{profile: example}}\n")
    proc = run_cli("crawl", "--replay", str(dumps), "--json", config=cfg, example_site=True)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT id, url, title, body FROM articles").fetchall() == [
            (
                BUDGET_ID,
                BUDGET.replace("www.", ""),
                "Council Approves the Budget",
                "The council approved the budget on Monday.",
            )
        ]
    # The same dump replayed as ICESCO's: its URL is not ICESCO's, and nothing is stored.
    proc = run_cli("crawl", "--replay", str(dumps), "--json", db=tmp_path / "b.db")
    assert proc.returncode == 1
    assert json.loads(proc.stdout.strip().splitlines()[-1])["messages"] == [
        f"{dumps / '000.txt'}: its url {BUDGET} is not on the hosts of site icesco (icesco.org)"
    ]


def _crawl_as(tmp_path: Path, wp: WordPress, profile: str) -> list[tuple[Any, ...]]:
    cfg = tmp_path / f"{profile}.yaml"
    settings = {
        "database": f"{profile}.db",
        "site": {"profile": profile},
        "crawl": {"start_urls": [wp.url("en", "category/news/")], "hosts": ["127.0.0.1"], "download_delay": 0},
    }
    cfg.write_text(yaml.safe_dump(settings), encoding="utf-8")
    proc = run_cli("crawl", "--json", config=cfg, timeout=300, example_site=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["status"] == "ok"
    with sqlite3.connect(tmp_path / f"{profile}.db") as conn:
        return conn.execute("SELECT id, lang, slug, title, body FROM articles ORDER BY slug").fetchall()


def test_the_real_wordpress_crawled_as_either_site(wp: WordPress, tmp_path: Path) -> None:
    """The test WordPress read (REST) as ICESCO and as the example site: the same posts, the
    example's ids carry its name, its title suffix and its newsletter line are dropped."""
    post = wp.add_post(
        "en",
        "Council Approves the Budget – Example Times",
        block_content("The council approved the budget on Monday.", "Subscribe to the Example Times newsletter"),
        "2026-11-20 09:00:00",
        ["news"],
    )
    as_icesco = _crawl_as(tmp_path, wp, "icesco")
    as_example = _crawl_as(tmp_path, wp, "example")
    slugs = sorted([p["slug"] for p in wp.baseline_posts("en", "news")] + [post["slug"]])
    assert [(aid, slug) for aid, _lang, slug, _t, _b in as_icesco] == [(article_id("en", s), s) for s in slugs]
    assert [(aid, slug) for aid, _lang, slug, _t, _b in as_example] == [
        (f"example:{article_id('en', s)}", s) for s in slugs
    ]
    budget = [article_id("en", post["slug"]), f"example:{article_id('en', post['slug'])}"]
    assert [row[3:] for row in as_icesco + as_example if row[0] in budget] == [
        (
            "Council Approves the Budget – Example Times",
            "The council approved the budget on Monday.\n\nSubscribe to the Example Times newsletter",
        ),
        ("Council Approves the Budget", "The council approved the budget on Monday."),
    ]
    # Everything else is read alike.
    others = [row[1:] for row in as_icesco if row[0] not in budget]
    assert others == [row[1:] for row in as_example if row[0] not in budget] and len(others) == len(slugs) - 1
