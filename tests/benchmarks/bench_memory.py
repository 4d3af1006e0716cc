"""4a. Peak memory of a poll against the size of the archive: archives prefilled with 1,000 and
100,000 articles (10,000 with --quick), a first crawl of a small fake site and a poll with
nothing new, each the real command line under the launcher (max RSS by os.wait4); and the
archive queries every poll runs, timed in-process on the same database."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from common import NOW, Options, db_bytes, mib, prefill, progress, run_cli, site_articles, table, traffic, write_config
from fakesite import FakeSite

from monitor.archive import Archive

NAME = "memory"
ABOUT = "peak RSS of a crawl and of a poll with nothing new, against the size of the archive"


def run(work: Path, opts: Options) -> dict[str, Any]:
    progress(f"[memory] prefilled {opts.sizes} ...")
    return bench_memory(work / "memory", opts.sizes, 12)


def poll_queries(db: Path) -> dict[str, Any]:
    """The queries a poll runs whatever the site holds, timed here in-process (the revisit
    query with the poll's own window: revisit_after_hours 1000, 14 days)."""
    with Archive(db) as archive:
        stored = archive.count()
        t0 = time.perf_counter()
        archive.count()
        count_ms = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        due = archive.due_for_revisit(NOW - dt.timedelta(hours=1000), NOW - dt.timedelta(days=14))
        revisit_ms = 1000 * (time.perf_counter() - t0)
    return {
        "prefilled": stored,
        "count_query_ms": round(count_ms, 2),
        "revisit_query_ms": round(revisit_ms, 1),
        "revisit_due": len(due),
    }


def bench_memory(work: Path, sizes: list[int], site_size: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sizes:
        db = work / f"mem-{n}.db"
        prefill_s = prefill(db, n)
        queries = poll_queries(db)
        with FakeSite(site_articles(site_size, prefix=f"mem{n}"), per_page=10) as site:
            cfg = write_config(work, db, f"{site.base_url}/en/category/news/")
            first = run_cli("--config", str(cfg), "crawl", "--json")
            first_sum = first.summary()
            site.clear_hits()
            poll = run_cli("--config", str(cfg), "crawl", "--json")
            poll_sum = poll.summary()
            hits = traffic(list(site.hits))
        rows.append(
            {
                "prefilled": queries["prefilled"],
                "prefill_s": round(prefill_s, 2),
                "db_bytes": db_bytes(db),
                "count_query_ms": queries["count_query_ms"],
                "revisit_query_ms": queries["revisit_query_ms"],
                "revisit_due": queries["revisit_due"],
                "first_crawl": {"new": first_sum["new"], "max_rss_kb": first.maxrss_kb, "wall_s": round(first.wall, 2)},
                "poll": {
                    "new": poll_sum["new"],
                    "errors": poll_sum["errors"],
                    "requests": hits["requests"],
                    "max_rss_kb": poll.maxrss_kb,
                    "wall_s": round(poll.wall, 2),
                },
            }
        )
    return {"site_articles": site_size, "rows": rows}


# --- report --------------------------------------------------------------------------------------


def report(mem: dict[str, Any]) -> list[str]:
    headers = [
        "articles already stored",
        "db MB",
        "prefill s",
        "first crawl RSS MiB",
        "poll RSS MiB",
        "poll requests",
        "poll wall s",
        "count() ms",
        "due_for_revisit() ms",
    ]
    rows = [
        [
            r["prefilled"],
            f"{r['db_bytes'] / 1e6:.1f}",
            r["prefill_s"],
            mib(r["first_crawl"]["max_rss_kb"]),
            mib(r["poll"]["max_rss_kb"]),
            r["poll"]["requests"],
            r["poll"]["wall_s"],
            r["count_query_ms"],
            r["revisit_query_ms"],
        ]
        for r in mem["rows"]
    ]
    return [
        "",
        f"4a. Peak memory (max RSS of the crawl subprocess, os.wait4) of a poll with nothing new;"
        f" fake site of {mem['site_articles']} articles, first crawled once",
        table(headers, rows),
        "   target (issue): flat",
        "   count() and due_for_revisit(): the archive queries every poll runs, timed in-process on that db",
    ]
