"""Benchmarks of icesco-monitor, side by side in one run.

1. replay throughput (and the share of it spent inside SQLite);
2. the cost of a poll at the server, with nothing new and with 3 new articles, against a
   naive full recrawl and against urlwatch watching the same listing URL (urlwatch from
   PyPI in a virtualenv of its own, kept in the temp folder between runs);
3. feed build time on a large archive, and /feed.xml requests per second (200 and 304)
   served by monitor.web.WebServer to load clients in other processes;
4. peak memory: of a crawl (4a) and of the service over many scheduled polls (4b).

Run from the repository root::

    /tmp/venv/bin/python tests/benchmarks/run.py            # full sizes (about 4 minutes)
    /tmp/venv/bin/python tests/benchmarks/run.py --quick    # smaller sizes (about 1.5 minutes)
    /tmp/venv/bin/python tests/benchmarks/run.py --profile  # also cProfile the replay
    /tmp/venv/bin/python tests/benchmarks/run.py --only feed --only service

Prints a plain-text table and writes the same figures to ``bench-out/results.json``
(``--out DIR`` elsewhere). Every crawl is the real command line (``python -m monitor.cli
... crawl --json``) in a subprocess; every crawl, urlwatch run and load client talks only
to 127.0.0.1 (the tests' fake site, or the feed server started here).

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
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
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
from helpers import cli_env, real_articles, write_corpus  # noqa: E402

from crawler.dumps import decode, load_meta, parse_dump  # noqa: E402
from crawler.items import ArticleItem  # noqa: E402
from monitor.archive import Archive  # noqa: E402

DUMPS = ROOT / "monitor" / "demo" / "dumps"
OUT = ROOT / "bench-out"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)

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


def bench_poll(work: Path, n_articles: int, per_page: int, k_new: int, urlwatch: bool) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Any] = {}
    uw: dict[str, Any] = {}
    with FakeSite(site_articles(n_articles), per_page=per_page) as site:
        start = f"{site.base_url}/en/category/news/"
        db_a, db_b, db_c = work / "poll-a.db", work / "poll-b.db", work / "poll-c.db"
        cfg_a = write_config(work, db_a, start)
        cfg_b = write_config(work, db_b, start)
        cfg_c = write_config(work, db_c, start)

        def crawl(cfg: Path, *extra: str) -> dict[str, Any]:
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

        rows["first_crawl_backfill"] = crawl(cfg_a)
        rows["poll_nothing_new"] = crawl(cfg_a)
        # The state of an incremental poller (backfilled, polled once): kept for the k-new poll.
        db_d = work / "poll-d.db"
        for suffix in ("", "-wal", "-shm"):
            if (src := db_a.with_name(db_a.name + suffix)).exists():
                shutil.copyfile(src, db_d.with_name(db_d.name + suffix))
        cfg_d = write_config(work, db_d, start)
        rows["naive_full_recrawl_fresh_db"] = crawl(cfg_b, "--full")
        rows["full_on_populated_db"] = crawl(cfg_a, "--full")
        rows["poll_after_full"] = crawl(cfg_a)

        watcher: Urlwatch | None = None
        if urlwatch:
            watcher = Urlwatch.create(work / "urlwatch", start)
            uw["install"] = watcher.install_info
        if watcher is not None and watcher.ok:
            rows["urlwatch_first_run"] = watcher.run(site)
            rows["urlwatch_nothing_new"] = watcher.run(site)

        # k new articles, newer than everything on the site: they top the first listing page.
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
        rows["poll_k_new"] = crawl(cfg_d)
        rows["naive_full_recrawl_k_new"] = crawl(cfg_c, "--full")
        if watcher is not None and watcher.ok:
            rows["urlwatch_k_new"] = watcher.run(site)
        if site.errors:
            raise RuntimeError(f"fake site errors: {site.errors!r}")
    return {"site_articles": n_articles, "per_page": per_page, "k_new": k_new, "rows": rows, "urlwatch": uw}


# urlwatch (https://thp.io/2008/urlwatch/), the usual "watch a page for changes" tool, in a
# virtualenv of its own: kept between runs of this script in the temp folder (installing
# takes a while); removed and made anew when it does not work.
URLWATCH_VENV = Path(tempfile.gettempdir()) / "icesco-bench-urlwatch-venv"


@dataclass
class Urlwatch:
    folder: Path
    url: str
    exe: Path | None
    install_info: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.exe is not None

    @classmethod
    def create(cls, folder: Path, url: str) -> Urlwatch:
        exe, info = ensure_urlwatch()
        folder.mkdir(parents=True, exist_ok=True)
        # One `url:` job: the listing URL, as a user of urlwatch would watch it.
        (folder / "urls.yaml").write_text(f"name: ICESCO news listing\nurl: {url}\n", encoding="utf-8")
        return cls(folder, url, exe, info)

    def run(self, site: FakeSite) -> dict[str, Any]:
        assert self.exe is not None
        site.clear_hits()
        f = self.folder
        # No config file yet at the first run: urlwatch writes its default one (stdout
        # reporter only; e-mail, chat etc. disabled) and uses it.
        cmd = [
            str(self.exe),
            "--urls", str(f / "urls.yaml"),
            "--config", str(f / "urlwatch.yaml"),
            "--cache", str(f / "cache.db"),
            "--hooks", str(f / "hooks.py"),
        ]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), cwd=f, timeout=120)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"urlwatch failed ({proc.returncode}): {proc.stderr[-2000:]}")
        reported = [w for w in ("NEW", "CHANGED", "ERROR") if f". {w}: " in proc.stdout]
        added = sum(1 for line in proc.stdout.splitlines() if line.startswith("+") and "entry-title" in line)
        return {
            **traffic(list(site.hits)),
            "new": 0,
            "reported": " ".join(reported) or "unchanged (nothing printed)",
            "diff_added_entry_lines": added,
            "wall_s": round(wall, 2),
        }


def ensure_urlwatch() -> tuple[Path | None, dict[str, Any]]:
    """urlwatch from PyPI in its own virtualenv: (path of the command or None, what happened)."""
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    info: dict[str, Any] = {"venv": str(URLWATCH_VENV)}

    def version() -> str | None:
        try:
            out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
        except OSError:
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    if exe.exists() and (v := version()):
        return exe, {**info, "version": v, "installed_now": False}
    shutil.rmtree(URLWATCH_VENV, ignore_errors=True)
    print(f"[poll] installing urlwatch from PyPI into {URLWATCH_VENV} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True, capture_output=True, timeout=120)
        pip = subprocess.run(
            [str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "urlwatch"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, {**info, "error": f"cannot make the virtualenv: {exc}"}
    info["install_s"] = round(time.perf_counter() - started, 1)
    if pip.returncode != 0 or not (v := version()):
        tail = (pip.stderr or pip.stdout).strip().splitlines()[-3:]
        return None, {**info, "error": "pip install urlwatch failed: " + " | ".join(tail)}
    return exe, {**info, "version": v, "installed_now": True}


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


# --- 5. feed build and feed serving --------------------------------------------------------------

# The load generator: a separate interpreter per client (the server's threads keep the GIL
# of this process to themselves), one new connection per request ("Connection: close"), a
# bounded number of requests and a time limit. Starts at an agreed wall-clock time.
LOAD_CLIENT = """
import http.client, json, sys, time
port, path, count, limit, start_at, etag = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
headers = {"Connection": "close"}
if etag:
    headers["If-None-Match"] = etag
while time.time() < start_at:
    time.sleep(0.001)
statuses, body, lat, errors = {}, 0, [], 0
t0 = time.time()
deadline = time.perf_counter() + limit
for _ in range(count):
    if time.perf_counter() > deadline:
        break
    s = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
    except OSError:
        errors += 1
        continue
    lat.append(time.perf_counter() - s)
    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    body += len(data)
t1 = time.time()
lat.sort()
pick = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None
print(json.dumps({"done": len(lat), "errors": errors, "statuses": statuses, "body_bytes": body,
                  "t0": t0, "t1": t1, "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": pick(1.0)}))
"""


def median_ms(fn: Any, runs: int) -> tuple[float, Any]:
    """Median wall time of fn() over runs calls, in ms, and the last result."""
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(1000 * (time.perf_counter() - t0))
    return round(statistics.median(times), 2), result


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
        plan = archive.conn.execute(
            "EXPLAIN QUERY PLAN SELECT count(*), COALESCE(max(updated_at), '') FROM articles"
        ).fetchall()
        out["change_marker_plan"] = "; ".join(str(r[-1]) for r in plan)
        plan = archive.conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM articles"
            " ORDER BY COALESCE(published_at, substr(first_seen_at, 1, 10)) DESC, first_seen_at DESC, id LIMIT 50"
        ).fetchall()
        out["articles_plan"] = "; ".join(str(r[-1]) for r in plan)

    def open_close() -> None:
        Archive(db, migrate=False).close()

    out["open_archive_ms"], _ = median_ms(open_close, runs)
    out["items"] = len(rows)
    out["rss_bytes"], out["atom_bytes"] = len(rss), len(atom)
    out["runs"] = runs
    return out


def feed_load(port: int, path: str, clients: int, per_client: int, limit: float, etag: str) -> dict[str, Any]:
    start_at = time.time() + 1.5  # every client started and waiting
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD_CLIENT, str(port), path, str(per_client), str(limit), str(start_at), etag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        for _ in range(clients)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=limit + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"load client failed: {err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    done = sum(r["done"] for r in results)
    span = max(r["t1"] for r in results) - min(r["t0"] for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    return {
        "clients": clients,
        "requests_asked": clients * per_client,
        "requests_done": done,
        "errors": sum(r["errors"] for r in results),
        "statuses": dict(sorted(statuses.items())),
        "body_bytes": sum(r["body_bytes"] for r in results),
        "seconds": round(span, 2),
        "req_per_s": round(done / span, 1) if span > 0 else None,
        "p50_ms": max(r["p50_ms"] or 0 for r in results),
        "p95_ms": max(r["p95_ms"] or 0 for r in results),
        "max_ms": max(r["max_ms"] or 0 for r in results),
        "hit_time_limit": done < clients * per_client,
    }


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


def bench_feed(work: Path, dbs: list[Path], runs: int, clients: int, per_client: int, limit: float) -> dict[str, Any]:
    rows = []
    for db in dbs:
        row = {"db": db.name, "db_bytes": db.stat().st_size + _wal_size(db)}
        row["build"] = feed_build_times(db, runs)
        row["serve"] = feed_serving(db, clients, per_client, limit)
        rows.append(row)
    return {"rows": rows, "clients": clients, "per_client": per_client, "time_limit_s": limit}


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


# --- 6. the service over many scheduled polls ----------------------------------------------------

# `icesco-monitor serve` with a crawl interval below the config's minimum (3 s): the real
# command line (monitor.cli.main) with the interval set after the config was loaded and
# validated, as `serve --demo` sets its own. The crawl subprocesses it starts read the
# same config file, whose interval is the (valid) minimum.
SERVICE_WRAPPER = """
import os, sys
import monitor.cli as cli
_load = cli.load_config
def load_config(*args, **kwargs):
    cfg = _load(*args, **kwargs)
    cfg.service.crawl_every_minutes = float(os.environ["BENCH_CRAWL_EVERY_S"]) / 60
    return cfg
cli.load_config = load_config
sys.argv[0] = "icesco-monitor"
cli.main()
"""


def config_min_interval_s() -> float:
    """The smallest crawl interval a config file may set (monitor/config_file.py: 0.05 minutes, 3 s)."""
    from monitor.config_file import RULES

    low = RULES.get("service.crawl_every_minutes", (0.05, None))[0]
    return 60 * float(low if low is not None else 0.05)


CONFIG_MIN_INTERVAL_S = config_min_interval_s()


def proc_status(pid: int) -> dict[str, int] | None:
    """VmRSS, VmHWM (KiB) and Threads of a process, from /proc; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def children(pid: int) -> list[int]:
    """Direct children of a process (the service's crawl subprocesses), from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def bench_service(work: Path, polls: int, interval_s: float, site_size: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    db = work / "service.db"
    with FakeSite(site_articles(site_size, prefix="svc"), per_page=10) as site:
        cfg = write_config(work, db, f"{site.base_url}/en/category/news/")
        data = json.loads(cfg.read_text())
        data["service"] = {
            "crawl_every_minutes": max(interval_s, CONFIG_MIN_INTERVAL_S) / 60,
            "crawl_jitter_seconds": 0,
            "health_max_age_minutes": 60,
        }
        data["feed"] = {"out_dir": ""}
        cfg.write_text(json.dumps(data), encoding="utf-8")
        args = ["--config", str(cfg), "serve", "--host", "127.0.0.1", "--port", "0"]
        wrapped = interval_s < CONFIG_MIN_INTERVAL_S
        cmd = (
            [sys.executable, "-c", SERVICE_WRAPPER, *args] if wrapped else [sys.executable, "-m", "monitor.cli", *args]
        )
        env = dict(cli_env(), BENCH_CRAWL_EVERY_S=str(interval_s))
        every = interval_s if wrapped else max(interval_s, CONFIG_MIN_INTERVAL_S)
        limit = 30 + polls * max(every, 1.5) * 2  # a bound, far above the expected time
        err_path = work / "service.stderr"
        site.clear_hits()
        with open(err_path, "w") as err:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=work, start_new_session=True
            )
        started = time.perf_counter()

        def polls_seen() -> int:
            return sum(1 for h in list(site.hits) if h.path == "/robots.txt")

        after_poll: dict[int, dict[str, Any]] = {}  # the last sample taken while n polls had started
        child_peak: dict[int, int] = {}  # crawl subprocess pid -> highest VmHWM seen (in order of birth)
        samples = 0
        try:
            while proc.poll() is None and time.perf_counter() - started < limit:
                n = polls_seen()
                kids = children(proc.pid)
                st = proc_status(proc.pid)
                if st is None:
                    break
                for kid in kids:
                    kst = proc_status(kid)
                    if kst and "VmHWM" in kst:
                        child_peak[kid] = max(child_peak.get(kid, 0), kst["VmHWM"])
                # Prefer a sample taken between crawls (no crawl subprocess, so no pipes to it).
                if n and (not kids or not after_poll.get(n, {}).get("idle")):
                    t = round(time.perf_counter() - started, 1)
                    after_poll[n] = {**st, "fds": open_fds(proc.pid), "t": t, "idle": not kids}
                if n >= polls and not kids:
                    break  # the last poll is over
                samples += 1
                time.sleep(0.1)
            reached = polls_seen()
            elapsed = time.perf_counter() - started
            alive = proc.poll() is None
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                code = proc.wait()
        hits = list(site.hits)
        if site.errors:
            raise RuntimeError(f"fake site errors: {site.errors!r}")
    stderr = err_path.read_text(errors="replace")
    with Archive(db) as archive:
        runs = archive.conn.execute(
            "SELECT status, count(*), sum(new), sum(errors) FROM runs GROUP BY status"
        ).fetchall()
        stored = archive.count()
    marks = sorted({p for p in (1, 2, 10, 50, 100, polls // 2, polls) if 1 <= p <= reached and p in after_poll})
    # The k-th crawl subprocess seen is poll k (one at a time: max_instances=1).
    by_poll = {k: peak for k, peak in enumerate(child_peak.values(), start=1)}
    return {
        "polls_asked": polls,
        "polls_reached": reached,
        "interval_s": interval_s,
        "interval_set_by": "wrapper (below the config minimum)" if wrapped else "config file",
        "seconds": round(elapsed, 1),
        "alive_until_sigterm": alive,
        "exit_code": code,
        "samples": samples,
        "requests": len(hits),
        "statuses": dict(
            sorted({str(s): sum(1 for h in hits if h.status == s) for s in {h.status for h in hits}}.items())
        ),
        "runs": [{"status": r[0], "count": r[1], "new": r[2], "errors": r[3]} for r in runs],
        "articles_stored": stored,
        "at_poll": {str(n): after_poll[n] for n in marks},
        "crawl_children": len(child_peak),
        "crawl_child_peak_kb": {str(n): by_poll[n] for n in marks if n in by_poll},
        "crawl_child_peak_kb_max": max(child_peak.values(), default=0),
        "crawl_child_peak_kb_median": int(statistics.median(child_peak.values())) if child_peak else 0,
        "skipped_ticks": stderr.count("maximum number of running instances reached"),
        "stderr_errors": [ln for ln in stderr.splitlines() if " ERROR " in ln or "Traceback" in ln][:5],
        "stderr_lines": len(stderr.splitlines()),
    }


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


def _cell(v: dict[str, Any], archived: str) -> str:
    return f"{v['requests']} req, {v['body_bytes']:,} B, {archived}"


def report_poll(p: dict[str, Any]) -> list[str]:
    labels = {
        "first_crawl_backfill": "first crawl (backfill, fresh db)",
        "poll_nothing_new": "poll, nothing new (2nd crawl)",
        "naive_full_recrawl_fresh_db": "naive full recrawl (--full, fresh db)",
        "full_on_populated_db": "--full on the populated db (extra)",
        "poll_after_full": "poll, nothing new, after that --full (extra)",
        "urlwatch_first_run": "urlwatch, first run (listing URL)",
        "urlwatch_nothing_new": "urlwatch, 2nd run, nothing new",
        "poll_k_new": f"poll, {p['k_new']} new (db as after the 2nd crawl)",
        "naive_full_recrawl_k_new": f"naive full recrawl, {p['k_new']} new (--full, fresh db)",
        "urlwatch_k_new": f"urlwatch, {p['k_new']} new articles",
    }
    rows = p["rows"]
    out = [
        "",
        f"2. Cost at the server: fake site, {p['site_articles']} articles, {p['per_page']} per listing page"
        " (counted by the site: requests and response body bytes)",
    ]
    out.append(
        table(
            ["crawl", "requests", "listing", "article", "statuses", "body bytes", "new", "wall s", "urlwatch said"],
            [
                [
                    labels[k],
                    v["requests"],
                    v["listing_requests"],
                    v["article_requests"],
                    " ".join(f"{s}x{c}" for s, c in v["statuses"].items()),
                    v["body_bytes"],
                    "-" if k.startswith("urlwatch") else v["new"],
                    v["wall_s"],
                    v.get("reported", ""),
                ]
                for k, v in rows.items()
            ],
        )
    )
    after, before = rows["poll_after_full"], rows["poll_nothing_new"]
    if after["requests"] > before["requests"]:
        out.append(
            f"   NOTE: a poll with nothing new after a --full run costs {after['requests']} requests, not"
            f" {before['requests']}: the --full run left {rows['full_on_populated_db']['listings_left_pending']}"
            " listing pages marked 'pending' in listing_cache (they answered 304, and a 304 never clears the mark),"
            " so every later poll asks for them again (crawler/spider.py parse_listing / _listing_request)"
        )
    uw = (p.get("urlwatch") or {}).get("install") or {}
    have_uw = "urlwatch_k_new" in rows
    out.append(f"   side by side (same run, same site; k = {p['k_new']} articles added after the nothing-new polls):")
    side = [
        [
            "nothing new",
            _cell(rows["poll_nothing_new"], f"{rows['poll_nothing_new']['new']} new"),
            _cell(rows["naive_full_recrawl_fresh_db"], f"all {rows['naive_full_recrawl_fresh_db']['new']} re-fetched"),
            _cell(rows["urlwatch_nothing_new"], "0 archived") if have_uw else "n/a",
        ],
        [
            f"{p['k_new']} new articles",
            _cell(rows["poll_k_new"], f"{rows['poll_k_new']['new']} new archived"),
            _cell(rows["naive_full_recrawl_k_new"], f"all {rows['naive_full_recrawl_k_new']['new']} re-fetched"),
            _cell(rows["urlwatch_k_new"], "0 archived") if have_uw else "n/a",
        ],
    ]
    out.append(table(["poll", "icesco-monitor", "naive full recrawl", "urlwatch (url: job on the listing)"], side))
    if not (p.get("urlwatch") or {}):
        out.append("   urlwatch: left out (--no-urlwatch)")
    elif "error" in uw:
        out.append(f"   urlwatch: NOT MEASURED - {uw['error']}")
    elif uw:
        how = f"installed now in {uw.get('install_s')} s" if uw.get("installed_now") else "reused"
        out.append(f"   urlwatch: {uw['version']} from PyPI, own virtualenv {uw['venv']} ({how})")
    if have_uw:
        k_row = rows["urlwatch_k_new"]
        out.append(
            "   urlwatch does: one GET of the listing URL per run, conditional after the first (If-None-Match and"
            " If-Modified-Since, so 304 and 0 body bytes when nothing changed), no robots.txt;"
            f" on the change it printed a unified diff of the page HTML ({k_row['diff_added_entry_lines']} added"
            " article-title lines among the sidebar and shifted entries)."
        )
        out.append(
            "   urlwatch does not: fetch the new article pages, extract titles/dates/text, archive anything, follow"
            " pagination, see edits of articles, or notice an article beyond the first listing page; its cache"
            " holds the listing HTML only. It is the cheaper poll at the server (1 request against our 2, the"
            " robots.txt fetch being the difference) but answers only 'the first page changed'."
        )
    return out


def report_feed(f: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"3. Feeds: build time (medians of {f['rows'][0]['build']['runs']} runs, in-process) and /feed.xml served by"
        " monitor.web.WebServer (thread of this process, 127.0.0.1)",
    ]
    out.append(
        table(
            [
                "articles",
                "db MB",
                "open Archive ms",
                "change_marker() ms",
                "articles(limit=50) ms",
                "build_rss ms",
                "build_atom ms",
                "query+RSS+Atom ms",
                "RSS / Atom bytes",
            ],
            [
                [
                    r["build"]["articles"],
                    f"{r['db_bytes'] / 1e6:.1f}",
                    r["build"]["open_archive_ms"],
                    r["build"]["change_marker_ms"],
                    r["build"]["query_ms"],
                    r["build"]["build_rss_ms"],
                    r["build"]["build_atom_ms"],
                    r["build"]["total_ms"],
                    f"{r['build']['rss_bytes']:,} / {r['build']['atom_bytes']:,}",
                ]
                for r in f["rows"]
            ],
        )
    )
    out.append(
        f"   load: {f['clients']} client processes x {f['per_client']} requests, one connection per request"
        f" (Connection: close), stopped at {f['time_limit_s']} s; 304 = with the feed's If-None-Match"
    )
    lines = []
    for r in f["rows"]:
        for key, what in (("full", "GET /feed.xml -> 200"), ("not_modified", "GET /feed.xml, If-None-Match -> 304")):
            v = r["serve"][key]
            lines.append(
                [
                    r["build"]["articles"],
                    what,
                    f"{v['requests_done']}/{v['requests_asked']}",
                    " ".join(f"{s}x{c}" for s, c in v["statuses"].items())
                    + (f" err x{v['errors']}" if v["errors"] else ""),
                    v["req_per_s"],
                    v["p50_ms"],
                    v["p95_ms"],
                    v["max_ms"],
                    v["seconds"],
                    f"{v['body_bytes']:,}",
                ]
            )
    out.append(
        table(
            ["articles", "request", "done", "statuses", "req/s", "p50 ms", "p95 ms", "max ms", "seconds", "body bytes"],
            lines,
        )
    )
    for r in f["rows"]:
        out.append(
            f"   {r['build']['articles']} articles: first request (feeds built) {r['serve']['first_request_ms']} ms;"
            f" change_marker plan: {r['build']['change_marker_plan']};"
            f" articles() plan: {r['build']['articles_plan']}"
        )
    out.append(
        "   every /feed.xml request opens the archive (connect + 4 PRAGMAs) and runs change_marker()"
        " (count(*) + max(updated_at)) before answering from the cached bytes, even for a 304"
    )
    return out


def report_service(v: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"4b. The service (`icesco-monitor serve`, live mode, fake site) over {v['polls_reached']} scheduled polls"
        f" (asked {v['polls_asked']}), one every {v['interval_s']} s ({v['interval_set_by']}); RSS from /proc",
    ]
    rows = []
    for n, st in v["at_poll"].items():
        kid = v["crawl_child_peak_kb"].get(n)
        rows.append(
            [
                n,
                st["t"],
                mib(st["VmRSS"]),
                mib(st["VmHWM"]),
                st["Threads"],
                st["fds"] if st["idle"] else f"{st['fds']}*",
                mib(kid) if kid else "",
            ]
        )
    out.append(
        table(
            [
                "after poll",
                "t s",
                "service VmRSS MiB",
                "service VmHWM MiB",
                "threads",
                "open fds",
                "that poll's crawl subprocess peak MiB (sampled)",
            ],
            rows,
        )
    )
    if not all(st["idle"] for st in v["at_poll"].values()):
        out.append("   * sampled while the next crawl subprocess was already running (its pipes are open)")
    marks = list(v["at_poll"].values())
    if len(marks) >= 2:
        changes = [
            f"from poll {k}: {(marks[-1]['VmRSS'] - st['VmRSS']) / 1024:+.1f} MiB"
            for k, st in v["at_poll"].items()
            if k in ("1", "10") and st is not marks[-1]
        ]
        out.append(f"   service VmRSS at the last poll, change {', '.join(changes)}; target: flat")
    runs = ", ".join(f"{r['status']} {r['count']} ({r['new']} new, {r['errors']} errors)" for r in v["runs"])
    out.append(
        f"   {v['seconds']} s; crawl runs recorded: {runs}; {v['crawl_children']} crawl subprocesses seen"
        f" (peak median {mib(v['crawl_child_peak_kb_median'])} MiB, max {mib(v['crawl_child_peak_kb_max'])} MiB);"
        f" site hits {v['requests']} ({' '.join(f'{s}x{c}' for s, c in v['statuses'].items())});"
        f" skipped ticks {v['skipped_ticks']} (a crawl still running at the next tick);"
        f" {'alive until SIGTERM' if v['alive_until_sigterm'] else 'DIED BEFORE SIGTERM'},"
        f" exit code {v['exit_code']}"
    )
    if v["interval_set_by"].startswith("wrapper"):
        out.append(
            f"   interval: the config's minimum is {CONFIG_MIN_INTERVAL_S:g} s (service.crawl_every_minutes);"
            " the benchmark runs the"
            " real command line with the interval lowered after validation (as serve --demo sets its own);"
            " --service-interval 3 runs it unwrapped"
        )
    for line in v["stderr_errors"]:
        out.append(f"   service stderr: {line[:200]}")
    return out


def report(results: dict[str, Any]) -> str:
    out = []
    m = results["meta"]
    out.append(f"icesco-monitor benchmarks ({'quick' if m['quick'] else 'full'}) - {m['started_at']}")
    out.append(f"python {m['python']}, sqlite {m['sqlite']}, scrapy {m['scrapy']}, {m['cpus']} CPUs, {m['machine']}")
    out.append(
        f"peak RSS: max RSS of the crawl process, read by a launcher with os.wait4;"
        f" launcher floor (python -c pass) {mib(m['launcher_floor_rss_kb'])} MiB"
    )
    if "loadavg_start" in m:
        out.append(
            f"load average (1 min) at start {m['loadavg_start']}, at end {m['loadavg_end']};"
            " seconds per section: " + ", ".join(f"{k} {v}" for k, v in m["section_s"].items())
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
        out += report_poll(results["poll"])
    if "feed" in results:
        out += report_feed(results["feed"])

    if "memory" in results:
        mem = results["memory"]
        out.append("")
        out.append(
            f"4a. Peak memory (max RSS of the crawl subprocess, os.wait4) of a poll with nothing new;"
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
    if "service" in results:
        out += report_service(results["service"])
    out.append("")
    out.append(f"total benchmark time: {results['meta']['total_s']} s")
    return "\n".join(out)


SECTIONS = ["replay", "poll", "feed", "memory", "service"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--profile", action="store_true", help="also run the replay under cProfile, print the top")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (corpus, databases)")
    parser.add_argument("--no-urlwatch", action="store_true", help="poll: leave out the urlwatch comparison")
    parser.add_argument("--service-polls", type=int, help="service: scheduled polls to watch (default 100; quick 40)")
    parser.add_argument(
        "--service-interval",
        type=float,
        default=1.0,
        help="service: seconds between polls (default 1; the config's minimum, 3, or more runs serve unwrapped)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for results.json and results.txt ({OUT})")
    args = parser.parse_args(argv)

    import scrapy

    only = set(args.only or SECTIONS)
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
    sizes = [1000, 10_000] if args.quick else [1000, 100_000]
    results["meta"]["loadavg_start"] = round(os.getloadavg()[0], 2)
    results["meta"]["section_s"] = {}
    mark = time.perf_counter()

    def done(name: str) -> None:
        nonlocal mark
        results["meta"]["section_s"][name] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()

    try:
        if "replay" in only:
            files = 200 if args.quick else 2000
            print(f"[replay] {files} x 10 articles ...", file=sys.stderr, flush=True)
            results["replay"] = bench_replay(work / "replay", files, 10, args.profile)
            done("replay")
        if "poll" in only:
            print("[poll] fake site, 60 articles, then 3 new; urlwatch alongside ...", file=sys.stderr, flush=True)
            results["poll"] = bench_poll(work / "poll", 60, 10, 3, urlwatch=not args.no_urlwatch)
            done("poll")
        if "memory" in only:
            print(f"[memory] prefilled {sizes} ...", file=sys.stderr, flush=True)
            results["memory"] = bench_memory(work / "memory", sizes, 12)
            done("memory")
        if "feed" in only:
            print(f"[feed] build and serve, archives of {sizes} ...", file=sys.stderr, flush=True)
            dbs = [archive_db(work, n) for n in sizes]
            results["feed"] = bench_feed(
                work / "feed",
                dbs,
                runs=5 if args.quick else 9,
                clients=2,
                per_client=500 if args.quick else 2000,
                limit=6 if args.quick else 20,
            )
            done("feed")
        if "service" in only:
            polls = args.service_polls or (40 if args.quick else 100)
            print(f"[service] {polls} polls, one every {args.service_interval} s ...", file=sys.stderr, flush=True)
            results["service"] = bench_service(work / "service", polls, args.service_interval, 12)
            done("service")
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["meta"]["loadavg_end"] = round(os.getloadavg()[0], 2)
    results["meta"]["total_s"] = round(time.perf_counter() - started, 1)
    text = report(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "results.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
