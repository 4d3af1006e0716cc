"""1. Replay throughput: a synthetic corpus of dumps through ``crawl --replay DIR --json`` in a
subprocess, the bundled dumps as the fixed cost, and an in-process breakdown over the same
files (parse, then Archive.store, and the share of it spent inside SQLite); optionally the
replay under cProfile."""

from __future__ import annotations

import pstats
import sqlite3
import time
from pathlib import Path
from typing import Any

from common import DUMPS, NOW, Options, db_bytes, mib, progress, run_cli, table, write_config
from helpers import write_corpus

from crawler.dumpfiles import decode, load_meta
from crawler.dumps import parse_dump
from crawler.items import ArticleItem
from monitor.archive import Archive

NAME = "replay"
ABOUT = "replay throughput (crawl --replay of a synthetic corpus) and its parse/store/SQLite breakdown"


def run(work: Path, opts: Options) -> dict[str, Any]:
    files = 200 if opts.quick else 2000
    progress(f"[replay] {files} x 10 articles ...")
    return bench_replay(work / "replay", files, 10, opts.profile)


def bench_replay(work: Path, files: int, per_file: int, profile: bool) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    t0 = time.perf_counter()
    size = write_corpus(corpus, files, per_file)
    gen_s = time.perf_counter() - t0
    cfg = write_config(work, work / "unused.db", "http://127.0.0.1:9/en/category/news/")

    # Fixed cost: the bundled 5 dumps (50 articles) into a fresh database.
    small = run_cli(
        "--config", str(cfg), "--db", str(work / "replay-small.db"), "crawl", "--replay", str(DUMPS), "--json"
    )
    small_sum = small.summary()

    db = work / "replay.db"
    proc = run_cli("--config", str(cfg), "--db", str(db), "crawl", "--replay", str(corpus), "--json")
    summary = proc.summary()
    new = summary["new"]
    result: dict[str, Any] = {
        "files": files,
        "articles_per_file": per_file,
        "articles_expected": files * per_file,
        "corpus_bytes": size,
        "corpus_generation_s": round(gen_s, 2),
        "subprocess": {
            "new": new,
            "errors": summary["errors"],
            "pages_fetched": summary["pages_fetched"],
            "wall_s": round(proc.wall, 2),
            "json_seconds": summary["seconds"],
            "articles_per_s_wall": round(new / proc.wall, 1),
            "articles_per_s_json": round(new / summary["seconds"], 1) if summary["seconds"] else None,
            "max_rss_kb": proc.maxrss_kb,
            "db_bytes": db_bytes(db),
        },
        "baseline_bundled_dumps": {
            "new": small_sum["new"],
            "wall_s": round(small.wall, 2),
            "json_seconds": small_sum["seconds"],
        },
        "in_process": in_process(corpus, work / "replay-inproc.db"),
    }
    if profile:
        result.update(profiled(work, cfg, corpus))
    return result


def in_process(corpus: Path, db: Path) -> dict[str, Any]:
    """Over the same files, in this process: parse, then Archive.store, one file (= one
    snapshot, one transaction) at a time, as the pipeline does."""
    paths = sorted(corpus.glob("*.txt"))
    t0 = time.perf_counter()
    snapshots: list[list[ArticleItem]] = []
    for path in paths:
        items = parse_dump(decode(path.read_bytes(), str(path)), load_meta(path), where=str(path))
        snapshots.append(items)
    parse_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for items in snapshots:
        for item in items:
            _ = item.id, item.content_hash
    hash_s = time.perf_counter() - t0

    archive = Archive(db)
    timed = TimedConnection(archive.db.conn)
    archive.db.conn = timed  # type: ignore[assignment]
    t0 = time.perf_counter()
    stored = 0
    for items in snapshots:
        stored += len(archive.store(items, NOW).new)
    store_s = time.perf_counter() - t0
    archive.db.conn = timed._conn
    archive.close()
    return {
        "parsed_articles": sum(len(s) for s in snapshots),
        "unique_titles": len({i.title for s in snapshots for i in s}),
        "partial": sum(1 for s in snapshots for i in s if i.partial),
        "parse_s": round(parse_s, 2),
        "id_and_content_hash_s": round(hash_s, 2),
        "store_s": round(store_s, 2),
        "store_sqlite_s": round(timed.seconds, 2),
        "stored_new": stored,
    }


class TimedConnection:
    """A sqlite3 connection that adds up the time spent inside execute/executemany
    (statement steps, BEGIN/COMMIT, FTS triggers): the time spent in SQLite."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "seconds", 0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "seconds":
            object.__setattr__(self, name, value)
        else:
            setattr(self._conn, name, value)

    def _timed(self, method: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(self._conn, method)(*args)
        finally:
            self.seconds += time.perf_counter() - started

    def execute(self, *args: Any) -> Any:
        return self._timed("execute", *args)

    def executemany(self, *args: Any) -> Any:
        return self._timed("executemany", *args)


def profiled(work: Path, cfg: Path, corpus: Path) -> dict[str, Any]:
    """The same replay under cProfile: the profile's file and its top by own time."""
    prof = work / "replay.prof"
    run_cli(
        "--config",
        str(cfg),
        "--db",
        str(work / "replay-prof.db"),
        "crawl",
        "--replay",
        str(corpus),
        "--json",
        python_args=("-m", "cProfile", "-o", str(prof)),
    ).summary()
    return {"profile_file": str(prof), "profile_top": _profile_top(prof, 25)}


def _profile_top(path: Path, n: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": calls,
                "tottime_s": round(tottime, 3),
                "cumtime_s": round(cumtime, 3),
            }
        )
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:n]


# --- report --------------------------------------------------------------------------------------


def report(r: dict[str, Any]) -> list[str]:
    out = [*_throughput(r), *_breakdown(r)]
    if "profile_top" in r:
        out.append(f"   cProfile of the replay subprocess (top by own time; file {r['profile_file']}):")
        out.append(
            table(
                ["function", "calls", "own s", "cumulative s"],
                [[p["function"][:90], p["calls"], p["tottime_s"], p["cumtime_s"]] for p in r["profile_top"]],
            )
        )
    return out


def _throughput(r: dict[str, Any]) -> list[str]:
    s, b = r["subprocess"], r["baseline_bundled_dumps"]
    rows = [
        [
            "bundled 5 dumps (fixed cost)",
            b["new"],
            b["wall_s"],
            b["json_seconds"],
            f"{b['new'] / b['wall_s']:.0f}",
            "",
            "",
        ],
        [
            f"synthetic corpus ({r['articles_expected']} articles)",
            s["new"],
            s["wall_s"],
            s["json_seconds"],
            f"{s['articles_per_s_wall']:.0f}",
            f"{s['articles_per_s_json']:.0f}",
            mib(s["max_rss_kb"]),
        ],
    ]
    headers = ["run", "new", "wall s", "JSON seconds", "articles/s (wall)", "articles/s (JSON s)", "peak RSS MiB"]
    return [
        "",
        f"1. Replay throughput: {r['files']} synthetic dumps x {r['articles_per_file']} articles"
        f" ({r['corpus_bytes'] / 1e6:.1f} MB), `crawl --replay DIR --json` in a subprocess, fresh database",
        table(headers, rows),
        "   target (issue): >= 2,000 articles/s",
    ]


def _breakdown(r: dict[str, Any]) -> list[str]:
    s, ip = r["subprocess"], r["in_process"]
    total = ip["parse_s"] + ip["store_s"]

    def share(seconds: float) -> str:
        return f"{100 * seconds / total:.0f}%"

    python_s = round(ip["store_s"] - ip["store_sqlite_s"], 2)
    rows = [
        [
            "read + decode + parse_dump",
            ip["parse_s"],
            share(ip["parse_s"]),
            f"{ip['parsed_articles'] / ip['parse_s']:.0f}",
        ],
        [
            "Archive.store, 1 transaction/file (SQLite incl. FTS triggers + Python)",
            ip["store_s"],
            share(ip["store_s"]),
            f"{ip['stored_new'] / ip['store_s']:.0f}",
        ],
        [
            "  of which inside SQLite (execute/executemany, BEGIN/COMMIT, FTS triggers)",
            ip["store_sqlite_s"],
            share(ip["store_sqlite_s"]),
            "",
        ],
        ["  of which Python (store minus SQLite)", python_s, share(ip["store_s"] - ip["store_sqlite_s"]), ""],
        [
            "    incl. id + content_hash (same items, timed separately beforehand)",
            ip["id_and_content_hash_s"],
            share(ip["id_and_content_hash_s"]),
            "",
        ],
    ]
    return [
        "   in-process breakdown, same files, this process (not the subprocess above):",
        table(["step", "seconds", "share of parse+store", "articles/s"], rows),
        f"   subprocess wall - (parse + store) = {s['wall_s'] - total:.2f} s: startup, Scrapy item flow, logging,"
        " etc. (derived)",
        f"   check: {ip['parsed_articles']} parsed, {ip['unique_titles']} unique titles, {ip['partial']} partial,"
        f" {ip['stored_new']} stored new; subprocess errors {s['errors']}",
    ]
