"""2. The cost of a poll at the server (the tests' fake site counts requests and body bytes),
with nothing new and with k new articles, against a naive full recrawl and against urlwatch
watching the same listing URL (see ``urlwatch_venv.py``)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from common import Options, progress, run_cli, site_articles, statuses_text, table, traffic, write_config
from fakesite import FakeSite, SiteArticle
from helpers import real_articles
from urlwatch_venv import Urlwatch

from monitor.archive import Archive

NAME = "poll"
ABOUT = "requests and bytes of a poll at the fake site: nothing new, k new, naive recrawl, urlwatch"


def run(work: Path, opts: Options) -> dict[str, Any]:
    progress("[poll] fake site, 60 articles, then 3 new; urlwatch alongside ...")
    return bench_poll(work / "poll", 60, 10, 3, urlwatch=opts.urlwatch)


def crawl_row(site: FakeSite, cfg: Path, *extra: str) -> dict[str, Any]:
    """One `crawl --json` against the site: its traffic and what it archived."""
    site.clear_hits()
    proc = run_cli("--config", str(cfg), "crawl", "--json", *extra)
    summary = proc.summary()
    with Archive(summary["database"], migrate=False) as archive:
        pending = len(archive.pending_listings())
    return {
        **traffic(list(site.hits)),
        "new": summary["new"],
        "unchanged": summary["unchanged"],
        "errors": summary["errors"],
        "wall_s": round(proc.wall, 2),
        "listings_left_pending": pending,
    }


def copy_db(src: Path, dst: Path) -> None:
    """A database with its -wal and -shm files."""
    for suffix in ("", "-wal", "-shm"):
        if (part := src.with_name(src.name + suffix)).exists():
            shutil.copyfile(part, dst.with_name(dst.name + suffix))


def add_fresh(site: FakeSite, k_new: int) -> None:
    """k new articles, newer than everything on the site: they top the first listing page."""
    sources = real_articles()
    for k in range(k_new):
        site.add_article(
            SiteArticle(
                slug=f"fresh-article-{k}",
                title=f"Fresh article {k} of the poll benchmark",
                published=dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=k_new - k),
                paragraphs=list(sources[k % len(sources)].paragraphs),
            )
        )


def bench_poll(work: Path, n_articles: int, per_page: int, k_new: int, urlwatch: bool) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Any] = {}
    uw: dict[str, Any] = {}
    with FakeSite(site_articles(n_articles), per_page=per_page) as site:
        start = f"{site.base_url}/en/category/news/"
        db_a, db_b, db_c, db_d = (work / f"poll-{x}.db" for x in "abcd")
        cfg_a, cfg_b, cfg_c = (write_config(work, db, start) for db in (db_a, db_b, db_c))
        rows["first_crawl_backfill"] = crawl_row(site, cfg_a)
        rows["poll_nothing_new"] = crawl_row(site, cfg_a)
        # The state of an incremental poller (backfilled, polled once): kept for the k-new poll.
        copy_db(db_a, db_d)
        cfg_d = write_config(work, db_d, start)
        rows["naive_full_recrawl_fresh_db"] = crawl_row(site, cfg_b, "--full")
        rows["full_on_populated_db"] = crawl_row(site, cfg_a, "--full")
        rows["poll_after_full"] = crawl_row(site, cfg_a)

        watcher: Urlwatch | None = None
        if urlwatch:
            watcher = Urlwatch.create(work / "urlwatch", start)
            uw["install"] = watcher.install_info
        if watcher is not None and watcher.ok:
            rows["urlwatch_first_run"] = watcher.run(site)
            rows["urlwatch_nothing_new"] = watcher.run(site)

        add_fresh(site, k_new)
        rows["poll_k_new"] = crawl_row(site, cfg_d)
        rows["naive_full_recrawl_k_new"] = crawl_row(site, cfg_c, "--full")
        if watcher is not None and watcher.ok:
            rows["urlwatch_k_new"] = watcher.run(site)
        if site.errors:
            raise RuntimeError(f"fake site errors: {site.errors!r}")
    return {"site_articles": n_articles, "per_page": per_page, "k_new": k_new, "rows": rows, "urlwatch": uw}


# --- report --------------------------------------------------------------------------------------


def report(p: dict[str, Any]) -> list[str]:
    return [*_crawls(p), *_pending_note(p["rows"]), *_side_by_side(p), *_urlwatch_notes(p)]


def _crawls(p: dict[str, Any]) -> list[str]:
    k = p["k_new"]
    labels = {
        "first_crawl_backfill": "first crawl (backfill, fresh db)",
        "poll_nothing_new": "poll, nothing new (2nd crawl)",
        "naive_full_recrawl_fresh_db": "naive full recrawl (--full, fresh db)",
        "full_on_populated_db": "--full on the populated db (extra)",
        "poll_after_full": "poll, nothing new, after that --full (extra)",
        "urlwatch_first_run": "urlwatch, first run (listing URL)",
        "urlwatch_nothing_new": "urlwatch, 2nd run, nothing new",
        "poll_k_new": f"poll, {k} new (db as after the 2nd crawl)",
        "naive_full_recrawl_k_new": f"naive full recrawl, {k} new (--full, fresh db)",
        "urlwatch_k_new": f"urlwatch, {k} new articles",
    }
    rows = [
        [
            labels[key],
            v["requests"],
            v["listing_requests"],
            v["article_requests"],
            statuses_text(v["statuses"]),
            v["body_bytes"],
            "-" if key.startswith("urlwatch") else v["new"],
            v["wall_s"],
            v.get("reported", ""),
        ]
        for key, v in p["rows"].items()
    ]
    headers = ["crawl", "requests", "listing", "article", "statuses", "body bytes", "new", "wall s", "urlwatch said"]
    return [
        "",
        f"2. Cost at the server: fake site, {p['site_articles']} articles, {p['per_page']} per listing page"
        " (counted by the site: requests and response body bytes)",
        table(headers, rows),
    ]


def _pending_note(rows: dict[str, Any]) -> list[str]:
    after, before = rows["poll_after_full"], rows["poll_nothing_new"]
    if after["requests"] <= before["requests"]:
        return []
    return [
        f"   NOTE: a poll with nothing new after a --full run costs {after['requests']} requests, not"
        f" {before['requests']}: the --full run left {rows['full_on_populated_db']['listings_left_pending']}"
        " listing pages marked 'pending' in listing_cache (they answered 304, and a 304 never clears the mark),"
        " so every later poll asks for them again (crawler/spider.py parse_listing / _listing_request)"
    ]


def _cell(v: dict[str, Any], archived: str) -> str:
    return f"{v['requests']} req, {v['body_bytes']:,} B, {archived}"


def _side_by_side(p: dict[str, Any]) -> list[str]:
    rows, k = p["rows"], p["k_new"]
    have_uw = "urlwatch_k_new" in rows
    side = [
        [
            "nothing new",
            _cell(rows["poll_nothing_new"], f"{rows['poll_nothing_new']['new']} new"),
            _cell(rows["naive_full_recrawl_fresh_db"], f"all {rows['naive_full_recrawl_fresh_db']['new']} re-fetched"),
            _cell(rows["urlwatch_nothing_new"], "0 archived") if have_uw else "n/a",
        ],
        [
            f"{k} new articles",
            _cell(rows["poll_k_new"], f"{rows['poll_k_new']['new']} new archived"),
            _cell(rows["naive_full_recrawl_k_new"], f"all {rows['naive_full_recrawl_k_new']['new']} re-fetched"),
            _cell(rows["urlwatch_k_new"], "0 archived") if have_uw else "n/a",
        ],
    ]
    return [
        f"   side by side (same run, same site; k = {k} articles added after the nothing-new polls):",
        table(["poll", "icesco-monitor", "naive full recrawl", "urlwatch (url: job on the listing)"], side),
    ]


def _urlwatch_notes(p: dict[str, Any]) -> list[str]:
    uw = (p.get("urlwatch") or {}).get("install") or {}
    out = []
    if not (p.get("urlwatch") or {}):
        out.append("   urlwatch: left out (--no-urlwatch)")
    elif "error" in uw:
        out.append(f"   urlwatch: NOT MEASURED - {uw['error']}")
    elif uw:
        how = f"installed now in {uw.get('install_s')} s" if uw.get("installed_now") else "reused"
        out.append(f"   urlwatch: {uw['version']} from PyPI, own virtualenv {uw['venv']} ({how})")
    if "urlwatch_k_new" not in p["rows"]:
        return out
    added = p["rows"]["urlwatch_k_new"]["diff_added_entry_lines"]
    out.append(
        "   urlwatch does: one GET of the listing URL per run, conditional after the first (If-None-Match and"
        " If-Modified-Since, so 304 and 0 body bytes when nothing changed), no robots.txt;"
        f" on the change it printed a unified diff of the page HTML ({added} added"
        " article-title lines among the sidebar and shifted entries)."
    )
    out.append(
        "   urlwatch does not: fetch the new article pages, extract titles/dates/text, archive anything, follow"
        " pagination, see edits of articles, or notice an article beyond the first listing page; its cache"
        " holds the listing HTML only. It is the cheaper poll at the server (1 request against our 2, the"
        " robots.txt fetch being the difference) but answers only 'the first page changed'."
    )
    return out
