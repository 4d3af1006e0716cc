"""Benchmarks of icesco-monitor: replay throughput, the cost of a poll, peak memory.

Run from the repository root::

    /tmp/venv/bin/python tests/benchmarks/run.py            # full sizes (a few minutes)
    /tmp/venv/bin/python tests/benchmarks/run.py --quick    # smaller sizes
    /tmp/venv/bin/python tests/benchmarks/run.py --profile  # also cProfile the replay

Prints a plain-text table and writes the same figures to ``bench-out/results.json``.
Every crawl is the real command line (``python -m monitor.cli ... crawl --json``) in a
subprocess; every live crawl talks only to the tests' fake site on 127.0.0.1.

Not a test module (no ``test_`` names): pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
for _p in (str(ROOT), str(TESTS)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from fakesite import FakeSite, Hit, SiteArticle  # noqa: E402

from crawler.dumps import decode, load_meta, parse_dump  # noqa: E402
from crawler.items import ArticleItem  # noqa: E402
from monitor.archive import Archive  # noqa: E402

DUMPS = ROOT / "monitor" / "demo" / "dumps"
OUT = ROOT / "bench-out"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)

# The page furniture that opens every ICESCO listing capture (see monitor/demo/dumps/).
DUMP_HEADER = (
    "Disclaimer: You are using Google Translate. The ICESCO is not responsible for the accuracy"
    " of the information in the translated language .\n\n"
    "your opinion\n\n"
    "User Feedback\n\n"
    "Overall, how satisfied are you about the website?\n\n"
    "    Extremely Dissatisfied Extremely Satisfied\n\n"
)


# --- running the command line --------------------------------------------------------


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str
    wall: float  # seconds, from fork to exit (measured by the launcher)
    maxrss_kb: int  # the process's peak resident set size (os.wait4 rusage, KiB on Linux)

    def summary(self) -> dict[str, Any]:
        if self.returncode != 0:
            raise RuntimeError(f"command failed ({self.returncode}):\n{self.stderr[-3000:]}")
        return json.loads(self.stdout.strip().splitlines()[-1])


def cli_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_PROXY="*", no_proxy="*")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    return env


# The crawl runs under a small launcher process that forks it and reads its rusage with
# os.wait4. Not straight from this process: on Linux a child's ru_maxrss starts at the RSS
# of the process that forked it (exec keeps the old high-water mark), so once this process
# holds a parsed corpus every child would report at least that much. The launcher is a bare
# interpreter (see "launcher floor" in the report): nothing measured can read below it.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    json.dump({"maxrss_kb": usage.ru_maxrss, "wall": time.perf_counter() - started, "code": code}, f)
sys.exit(code if code >= 0 else 1)
"""


def run_measured(cmd: list[str], timeout: float = 600) -> Proc:
    """Run cmd (through the launcher): output, wall time and peak RSS of that process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(report), *cmd],
            stdout=out,
            stderr=err,
            env=cli_env(),
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise RuntimeError(f"timed out after {timeout} s: {cmd}") from None
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        if not report.exists():
            raise RuntimeError(f"launcher failed ({proc.returncode}): {stderr[-3000:]}")
        usage = json.loads(report.read_text())
        return Proc(usage["code"], stdout, stderr, usage["wall"], usage["maxrss_kb"])


def run_cli(*args: str, timeout: float = 600, python_args: tuple[str, ...] = ()) -> Proc:
    """``python -m monitor.cli ARGS`` in a subprocess."""
    return run_measured([sys.executable, *python_args, "-m", "monitor.cli", *args], timeout)


def write_config(folder: Path, db: Path, start_url: str, **crawl: Any) -> Path:
    """A config as tests/test_crawl.py writes one: local hosts only, no delay."""
    settings: dict[str, Any] = {
        "start_urls": [start_url],
        "hosts": ["127.0.0.1", "localhost"],
        "download_delay": 0,
        "timeout": 5,
        "retries": 1,
        "backfill_pages": 100,
        "revisit_after_hours": 1000,
    }
    settings.update(crawl)
    path = folder / f"config-{db.stem}.yaml"
    data = {"database": str(db), "crawl": settings, "replay": {"paths": [str(DUMPS)]}}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- corpus ------------------------------------------------------------------------------


def real_articles() -> list[ArticleItem]:
    items: list[ArticleItem] = []
    for path in sorted(DUMPS.glob("*.txt")):
        items += parse_dump(decode(path.read_bytes(), str(path)), load_meta(path), where=str(path))
    return items


def synthetic_dump(sources: list[ArticleItem], first: int, per_file: int) -> str:
    """One listing capture in the bundled dumps' format: header, then articles (title,
    maybe subtitle, paragraphs), all indented 4 spaces; each article made unique."""
    parts = [DUMP_HEADER]
    for k in range(first, first + per_file):
        src = sources[k % len(sources)]
        paragraphs = list(src.paragraphs)
        paragraphs[0] = f"{paragraphs[0]} Copy {k}."
        blocks = [f"{src.title} (copy {k})"]
        if src.subtitle:
            blocks.append(src.subtitle)
        blocks += paragraphs
        parts.append("".join(f"    {b}\n\n" for b in blocks))
    return "".join(parts)


def write_corpus(folder: Path, files: int, per_file: int) -> int:
    sources = real_articles()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        text = synthetic_dump(sources, i * per_file, per_file)
        (folder / f"{i:05d}.txt").write_text(text, encoding="utf-8")
    return sum(f.stat().st_size for f in folder.iterdir())


# --- 1. replay throughput ------------------------------------------------------------------


def bench_replay(work: Path, files: int, per_file: int, profile: bool) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    t0 = time.perf_counter()
    size = write_corpus(corpus, files, per_file)
    gen_s = time.perf_counter() - t0
    expected = files * per_file
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

    # In-process breakdown over the same files: parse, then Archive.store, one file
    # (= one snapshot, one transaction) at a time, as the pipeline does.
    paths = sorted(corpus.glob("*.txt"))
    t0 = time.perf_counter()
    snapshots = []
    for path in paths:
        items = parse_dump(decode(path.read_bytes(), str(path)), load_meta(path), where=str(path))
        for item in items:
            item.snapshot = str(path)
        snapshots.append(items)
    parse_s = time.perf_counter() - t0
    parsed = sum(len(s) for s in snapshots)
    partial = sum(1 for s in snapshots for i in s if i.partial)
    unique = len({i.title for s in snapshots for i in s})

    t0 = time.perf_counter()
    for items in snapshots:
        for item in items:
            _ = item.id, item.content_hash
    hash_s = time.perf_counter() - t0

    archive = Archive(work / "replay-inproc.db")
    timed = TimedConnection(archive.db.conn)
    archive.db.conn = timed  # type: ignore[assignment]
    t0 = time.perf_counter()
    stored = 0
    for items in snapshots:
        stored += len(archive.store(items, NOW).new)
    store_s = time.perf_counter() - t0
    sqlite_s = timed.seconds
    archive.db.conn = timed._conn
    archive.close()

    result: dict[str, Any] = {
        "files": files,
        "articles_per_file": per_file,
        "articles_expected": expected,
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
            "db_bytes": db.stat().st_size + _wal_size(db),
        },
        "baseline_bundled_dumps": {
            "new": small_sum["new"],
            "wall_s": round(small.wall, 2),
            "json_seconds": small_sum["seconds"],
        },
        "in_process": {
            "parsed_articles": parsed,
            "unique_titles": unique,
            "partial": partial,
            "parse_s": round(parse_s, 2),
            "id_and_content_hash_s": round(hash_s, 2),
            "store_s": round(store_s, 2),
            "store_sqlite_s": round(sqlite_s, 2),
            "stored_new": stored,
        },
    }
    if profile:
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
        result["profile_file"] = str(prof)
        result["profile_top"] = _profile_top(prof, 25)
    return result


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


def _wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


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


# --- 2. a poll with nothing new vs a naive full recrawl ------------------------------------------


def site_articles(n: int, prefix: str = "bench") -> list[SiteArticle]:
    """n articles with real ICESCO paragraphs, one hour apart, newest last."""
    sources = real_articles()
    out = []
    for k in range(n):
        src = sources[k % len(sources)]
        out.append(
            SiteArticle(
                slug=f"{prefix}-article-{k}",
                title=f"{src.title} ({prefix} {k})",
                published=NOW - dt.timedelta(hours=n + 1 - k),
                paragraphs=list(src.paragraphs),
            )
        )
    return out


def traffic(hits: list[Hit]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for h in hits:
        statuses[str(h.status)] = statuses.get(str(h.status), 0) + 1
    return {
        "requests": len(hits),
        "body_bytes": sum(h.bytes_sent for h in hits),
        "statuses": dict(sorted(statuses.items())),
        "listing_requests": sum(1 for h in hits if "/category/" in h.path),
        "article_requests": sum(1 for h in hits if "/category/" not in h.path and h.path != "/robots.txt"),
    }


def bench_poll(work: Path, n_articles: int, per_page: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Any] = {}
    with FakeSite(site_articles(n_articles), per_page=per_page) as site:
        start = f"{site.base_url}/en/category/news/"
        db_a, db_b = work / "poll-a.db", work / "poll-b.db"
        cfg_a = write_config(work, db_a, start)
        cfg_b = write_config(work, db_b, start)

        def crawl(cfg: Path, *extra: str) -> dict[str, Any]:
            site.clear_hits()
            proc = run_cli("--config", str(cfg), "crawl", "--json", *extra)
            summary = proc.summary()
            return {
                **traffic(list(site.hits)),
                "new": summary["new"],
                "unchanged": summary["unchanged"],
                "errors": summary["errors"],
                "wall_s": round(proc.wall, 2),
            }

        rows["first_crawl_backfill"] = crawl(cfg_a)
        rows["poll_nothing_new"] = crawl(cfg_a)
        rows["naive_full_recrawl_fresh_db"] = crawl(cfg_b, "--full")
        rows["full_on_populated_db"] = crawl(cfg_a, "--full")
        if site.errors:
            raise RuntimeError(f"fake site errors: {site.errors!r}")
    return {"site_articles": n_articles, "per_page": per_page, "rows": rows}


# --- 3. peak memory of a poll vs the size of the archive -------------------------------------------


def prefill(db: Path, n: int, batch: int = 1000) -> float:
    """n archived articles (as if crawled live long ago), via Archive.store in batches."""
    sources = real_articles()
    started = time.perf_counter()
    fetched_at = NOW - dt.timedelta(days=400)
    with Archive(db) as archive:
        for first in range(0, n, batch):
            items = []
            for k in range(first, min(first + batch, n)):
                src = sources[k % len(sources)]
                day = dt.date(2015, 1, 1) + dt.timedelta(days=k % 3650)
                slug = f"archived-article-{k}"
                items.append(
                    ArticleItem(
                        title=f"{src.title} (archived {k})",
                        paragraphs=[*src.paragraphs[:3], f"Archive reference {k}."],
                        lang="en",
                        url=f"https://icesco.org/en/{day:%Y/%m/%d}/{slug}/",
                        slug=slug,
                        published_at=day.isoformat(),
                        source="benchmark prefill",
                    )
                )
            archive.store(items, fetched_at, fetched=True)
    return time.perf_counter() - started


def bench_memory(work: Path, sizes: list[int], site_size: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sizes:
        db = work / f"mem-{n}.db"
        prefill_s = prefill(db, n)
        with Archive(db) as archive:
            stored = archive.count()
            # The queries a poll runs whatever the site holds, timed here in-process
            # (the revisit query with the poll's own window: revisit_after_hours 1000, 14 days).
            t0 = time.perf_counter()
            archive.count()
            count_ms = 1000 * (time.perf_counter() - t0)
            t0 = time.perf_counter()
            due = archive.due_for_revisit(NOW - dt.timedelta(hours=1000), NOW - dt.timedelta(days=14))
            revisit_ms = 1000 * (time.perf_counter() - t0)
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
                "prefilled": stored,
                "prefill_s": round(prefill_s, 2),
                "db_bytes": db.stat().st_size + _wal_size(db),
                "count_query_ms": round(count_ms, 2),
                "revisit_query_ms": round(revisit_ms, 1),
                "revisit_due": len(due),
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


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mib(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def report(results: dict[str, Any]) -> str:
    out = []
    m = results["meta"]
    out.append(f"icesco-monitor benchmarks ({'quick' if m['quick'] else 'full'}) - {m['started_at']}")
    out.append(f"python {m['python']}, sqlite {m['sqlite']}, scrapy {m['scrapy']}, {m['cpus']} CPUs, {m['machine']}")
    out.append(
        f"peak RSS: max RSS of the crawl process, read by a launcher with os.wait4;"
        f" launcher floor (python -c pass) {mib(m['launcher_floor_rss_kb'])} MiB"
    )

    if "replay" in results:
        r = results["replay"]
        s, b, ip = r["subprocess"], r["baseline_bundled_dumps"], r["in_process"]
        out.append("")
        out.append(
            f"1. Replay throughput: {r['files']} synthetic dumps x {r['articles_per_file']} articles"
            f" ({r['corpus_bytes'] / 1e6:.1f} MB), `crawl --replay DIR --json` in a subprocess, fresh database"
        )
        out.append(
            table(
                ["run", "new", "wall s", "JSON seconds", "articles/s (wall)", "articles/s (JSON s)", "peak RSS MiB"],
                [
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
                ],
            )
        )
        out.append("   target (issue): >= 2,000 articles/s")
        total = ip["parse_s"] + ip["store_s"]
        out.append("   in-process breakdown, same files, this process (not the subprocess above):")
        out.append(
            table(
                ["step", "seconds", "share of parse+store", "articles/s"],
                [
                    [
                        "read + decode + parse_dump",
                        ip["parse_s"],
                        f"{100 * ip['parse_s'] / total:.0f}%",
                        f"{ip['parsed_articles'] / ip['parse_s']:.0f}",
                    ],
                    [
                        "Archive.store, 1 transaction/file (SQLite incl. FTS triggers + Python)",
                        ip["store_s"],
                        f"{100 * ip['store_s'] / total:.0f}%",
                        f"{ip['stored_new'] / ip['store_s']:.0f}",
                    ],
                    [
                        "  of which inside SQLite (execute/executemany, BEGIN/COMMIT, FTS triggers)",
                        ip["store_sqlite_s"],
                        f"{100 * ip['store_sqlite_s'] / total:.0f}%",
                        "",
                    ],
                    [
                        "  of which Python (store minus SQLite)",
                        round(ip["store_s"] - ip["store_sqlite_s"], 2),
                        f"{100 * (ip['store_s'] - ip['store_sqlite_s']) / total:.0f}%",
                        "",
                    ],
                    [
                        "    incl. id + content_hash (same items, timed separately beforehand)",
                        ip["id_and_content_hash_s"],
                        f"{100 * ip['id_and_content_hash_s'] / total:.0f}%",
                        "",
                    ],
                ],
            )
        )
        rest = s["wall_s"] - total
        out.append(
            f"   subprocess wall - (parse + store) = {rest:.2f} s: startup, Scrapy item flow, logging, etc. (derived)"
        )
        out.append(
            f"   check: {ip['parsed_articles']} parsed, {ip['unique_titles']} unique titles, {ip['partial']} partial,"
            f" {ip['stored_new']} stored new; subprocess errors {s['errors']}"
        )
        if "profile_top" in r:
            out.append(f"   cProfile of the replay subprocess (top by own time; file {r['profile_file']}):")
            out.append(
                table(
                    ["function", "calls", "own s", "cumulative s"],
                    [[p["function"][:90], p["calls"], p["tottime_s"], p["cumtime_s"]] for p in r["profile_top"]],
                )
            )

    if "poll" in results:
        p = results["poll"]
        labels = {
            "first_crawl_backfill": "first crawl (backfill, fresh db)",
            "poll_nothing_new": "poll, nothing new (2nd crawl)",
            "naive_full_recrawl_fresh_db": "naive full recrawl (--full, fresh db)",
            "full_on_populated_db": "--full on the populated db (extra)",
        }
        out.append("")
        out.append(
            f"2. Cost at the server: fake site, {p['site_articles']} articles, {p['per_page']} per listing page"
            " (counted by the site: requests and response body bytes)"
        )
        out.append(
            table(
                ["crawl", "requests", "listing", "article", "statuses", "body bytes", "new", "wall s"],
                [
                    [
                        labels[k],
                        v["requests"],
                        v["listing_requests"],
                        v["article_requests"],
                        " ".join(f"{s}x{c}" for s, c in v["statuses"].items()),
                        v["body_bytes"],
                        v["new"],
                        v["wall_s"],
                    ]
                    for k, v in p["rows"].items()
                ],
            )
        )

    if "memory" in results:
        mem = results["memory"]
        out.append("")
        out.append(
            f"3. Peak memory (max RSS of the crawl subprocess, os.wait4) of a poll with nothing new;"
            f" fake site of {mem['site_articles']} articles, first crawled once"
        )
        out.append(
            table(
                [
                    "articles already stored",
                    "db MB",
                    "prefill s",
                    "first crawl RSS MiB",
                    "poll RSS MiB",
                    "poll requests",
                    "poll wall s",
                    "count() ms",
                    "due_for_revisit() ms",
                ],
                [
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
                ],
            )
        )
        out.append("   target (issue): flat")
        out.append("   count() and due_for_revisit(): the archive queries every poll runs, timed in-process on that db")
    out.append("")
    out.append(f"total benchmark time: {results['meta']['total_s']} s")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--profile", action="store_true", help="also run the replay under cProfile, print the top")
    parser.add_argument("--only", choices=["replay", "poll", "memory"], action="append", help="run only these")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (corpus, databases)")
    args = parser.parse_args(argv)

    import scrapy

    only = set(args.only or ["replay", "poll", "memory"])
    started = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "quick": args.quick,
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "scrapy": scrapy.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        }
    }
    floor = run_measured([sys.executable, "-c", "pass"])
    results["meta"]["launcher_floor_rss_kb"] = floor.maxrss_kb
    work = Path(tempfile.mkdtemp(prefix="icesco-bench-"))
    try:
        if "replay" in only:
            files = 200 if args.quick else 2000
            print(f"[replay] {files} x 10 articles ...", file=sys.stderr, flush=True)
            results["replay"] = bench_replay(work / "replay", files, 10, args.profile)
        if "poll" in only:
            print("[poll] fake site, 60 articles ...", file=sys.stderr, flush=True)
            results["poll"] = bench_poll(work / "poll", 60, 10)
        if "memory" in only:
            sizes = [1000, 10_000] if args.quick else [1000, 100_000]
            print(f"[memory] prefilled {sizes} ...", file=sys.stderr, flush=True)
            results["memory"] = bench_memory(work / "memory", sizes, 12)
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["meta"]["total_s"] = round(time.perf_counter() - started, 1)
    text = report(results)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (OUT / "results.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten: {OUT / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
