"""3. Feed build time on a large archive (in-process medians: the query, RSS, Atom, the change
marker every request checks) and /feed.xml requests per second (200 and 304) served by
monitor.web.WebServer to load clients in other processes. Uses the memory section's
archives when it ran, else prefills its own."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from common import Options, db_bytes, median_ms, prefill, progress, statuses_text, table
from feed_load import feed_load

from monitor.archive import Archive
from monitor.archive.schema import NEWEST_ORDER

NAME = "feed"
ABOUT = "feed build time on large archives and /feed.xml requests per second (200 and 304)"


def run(work: Path, opts: Options) -> dict[str, Any]:
    progress(f"[feed] build and serve, archives of {opts.sizes} ...")
    dbs = [archive_db(work, n) for n in opts.sizes]
    return bench_feed(
        work / "feed",
        dbs,
        runs=5 if opts.quick else 9,
        clients=2,
        per_client=500 if opts.quick else 2000,
        limit=6 if opts.quick else 20,
    )


def archive_db(work: Path, n: int) -> Path:
    """A database of about n articles: the memory benchmark's if it ran, else prefilled here."""
    made = work / "memory" / f"mem-{n}.db"
    if made.exists():
        return made
    db = work / "feed" / f"prefill-{n}.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        prefill(db, n)
    return db


def bench_feed(work: Path, dbs: list[Path], runs: int, clients: int, per_client: int, limit: float) -> dict[str, Any]:
    rows = []
    for db in dbs:
        row = {"db": db.name, "db_bytes": db_bytes(db)}
        row["build"] = feed_build_times(db, runs)
        row["serve"] = feed_serving(db, clients, per_client, limit)
        rows.append(row)
    return {"rows": rows, "clients": clients, "per_client": per_client, "time_limit_s": limit}


def query_plan(archive: Archive, sql: str) -> str:
    plan = archive.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
    return "; ".join(str(r[-1]) for r in plan)


def feed_build_times(db: Path, runs: int) -> dict[str, Any]:
    """The work behind a feed (re)build, as FeedCache.refresh and `icesco-monitor feed` do it."""
    from feeds.formats import FORMATS
    from monitor.config import Config

    cfg = Config(database=str(db))
    build_rss, build_atom = FORMATS["rss"].render, FORMATS["atom"].render
    info = cfg.feed
    out: dict[str, Any] = {}
    with Archive(db, migrate=False) as archive:
        out["articles"] = archive.count()
        archive.articles(limit=cfg.feed.items)  # warm the page cache once, as a running service has it
        out["query_ms"], rows = median_ms(lambda: archive.articles(limit=cfg.feed.items), runs)
        out["build_rss_ms"], rss = median_ms(lambda: build_rss(rows, info), runs)
        out["build_atom_ms"], atom = median_ms(lambda: build_atom(rows, info), runs)
        out["total_ms"], _ = median_ms(
            lambda: (build_rss(r := archive.articles(limit=cfg.feed.items), info), build_atom(r, info)), runs
        )
        # What every /feed.xml request does before it can answer from the cache.
        out["change_marker_ms"], _ = median_ms(archive.change_marker, runs)
        out["change_marker_plan"] = query_plan(archive, "SELECT count(*), COALESCE(max(updated_at), '') FROM articles")
        out["articles_plan"] = query_plan(archive, f"SELECT * FROM articles ORDER BY {NEWEST_ORDER} LIMIT 50")

    def open_close() -> None:
        Archive(db, migrate=False).close()

    out["open_archive_ms"], _ = median_ms(open_close, runs)
    out["items"] = len(rows)
    out["rss_bytes"], out["atom_bytes"] = len(rss), len(atom)
    out["runs"] = runs
    return out


# --- serving -------------------------------------------------------------------------------------


def feed_serving(db: Path, clients: int, per_client: int, limit: float) -> dict[str, Any]:
    """monitor.web.WebServer in a thread of this process, on 127.0.0.1 and a free port."""
    import http.client

    from monitor.config import Config
    from monitor.web import FeedCache, WebServer

    cfg = Config(database=str(db))
    server = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="bench-web", daemon=True)
    thread.start()
    try:
        # The first request builds the feeds (as the service's start does): timed apart.
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/feed.xml", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        first_ms = 1000 * (time.perf_counter() - t0)
        if resp.status != 200:
            raise RuntimeError(f"/feed.xml answered {resp.status}")
        etag = resp.getheader("ETag") or ""
        return {
            "first_request_ms": round(first_ms, 1),
            "feed_bytes": len(body),
            "full": feed_load(port, "/feed.xml", clients, per_client, limit, ""),
            "not_modified": feed_load(port, "/feed.xml", clients, per_client, limit, etag),
        }
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- report --------------------------------------------------------------------------------------


def report(f: dict[str, Any]) -> list[str]:
    return [*_builds(f), *_loads(f), *_notes(f)]


def _builds(f: dict[str, Any]) -> list[str]:
    headers = [
        "articles",
        "db MB",
        "open Archive ms",
        "change_marker() ms",
        "articles(limit=50) ms",
        "build_rss ms",
        "build_atom ms",
        "query+RSS+Atom ms",
        "RSS / Atom bytes",
    ]
    rows = []
    for r in f["rows"]:
        b = r["build"]
        rows.append(
            [
                b["articles"],
                f"{r['db_bytes'] / 1e6:.1f}",
                b["open_archive_ms"],
                b["change_marker_ms"],
                b["query_ms"],
                b["build_rss_ms"],
                b["build_atom_ms"],
                b["total_ms"],
                f"{b['rss_bytes']:,} / {b['atom_bytes']:,}",
            ]
        )
    return [
        "",
        f"3. Feeds: build time (medians of {f['rows'][0]['build']['runs']} runs, in-process) and /feed.xml served by"
        " monitor.web.WebServer (thread of this process, 127.0.0.1)",
        table(headers, rows),
    ]


def _loads(f: dict[str, Any]) -> list[str]:
    lines = []
    for r in f["rows"]:
        for key, what in (("full", "GET /feed.xml -> 200"), ("not_modified", "GET /feed.xml, If-None-Match -> 304")):
            v = r["serve"][key]
            lines.append(
                [
                    r["build"]["articles"],
                    what,
                    f"{v['requests_done']}/{v['requests_asked']}",
                    statuses_text(v["statuses"]) + (f" err x{v['errors']}" if v["errors"] else ""),
                    v["req_per_s"],
                    v["p50_ms"],
                    v["p95_ms"],
                    v["max_ms"],
                    v["seconds"],
                    f"{v['body_bytes']:,}",
                ]
            )
    headers = [
        "articles",
        "request",
        "done",
        "statuses",
        "req/s",
        "p50 ms",
        "p95 ms",
        "max ms",
        "seconds",
        "body bytes",
    ]
    return [
        f"   load: {f['clients']} client processes x {f['per_client']} requests, one connection per request"
        f" (Connection: close), stopped at {f['time_limit_s']} s; 304 = with the feed's If-None-Match",
        table(headers, lines),
    ]


def _notes(f: dict[str, Any]) -> list[str]:
    out = [
        f"   {r['build']['articles']} articles: first request (feeds built) {r['serve']['first_request_ms']} ms;"
        f" change_marker plan: {r['build']['change_marker_plan']};"
        f" articles() plan: {r['build']['articles_plan']}"
        for r in f["rows"]
    ]
    out.append(
        "   every /feed.xml request opens the archive (connect + 4 PRAGMAs) and runs change_marker()"
        " (count(*) + max(updated_at)) before answering from the cached bytes, even for a 304"
    )
    return out
