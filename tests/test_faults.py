"""Fault campaign: kill -9 at chosen events, HTTP faults of the site, SMTP faults of the
mail server, a read-only database and a full disk.

Everything is real: the command line in subprocesses, SQLite files, the ICESCO-like site
(``fakesite.py``) and the SMTP sink (``smtpsink.py``), both on 127.0.0.1 only.

``FAULT_RUNS`` (environment ``ICESCO_FAULT_RUNS``, default 20) is the number of kills of
each kill loop. A kill lands at an event the test observes, never after a guessed sleep:
after the archive has committed k more articles (replay), after the site has served k
requests (crawl), after the SMTP server has received k messages (digest); k is drawn from
``random.Random`` seeded with ``SEED`` (environment ``ICESCO_FAULT_SEED``, default fixed),
which every assertion message shows. So every kill interrupts a running process, on any
machine, and a run is reproducible.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakesite import FakeSite, Hit, SiteArticle
from helpers import DUMPS, free_port, last_json, run_cli, start_cli, write_config, write_corpus
from smtpsink import SmtpSink

from crawler.dumps import read_dump
from crawler.items import ArticleItem
from monitor.archive import Archive
from monitor.web import metrics_text

FAULT_RUNS = int(os.environ.get("ICESCO_FAULT_RUNS") or 20)
SEED = int(os.environ.get("ICESCO_FAULT_SEED") or 20261126)
KILLS_PER_CYCLE = 2  # kills in a row on one database, then a clean run must finish the work
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)

Key = tuple[str, str]  # (lang, slug): an article's identity
Row = tuple[Any, ...]  # (url, title, body, partial)


# --- running the command line -------------------------------------------------------------


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")


# --- processes ----------------------------------------------------------------------------


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of the live processes (zombies left out) of a process group."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            out.append((int(entry.name), state))
    return out


def reap_group(pgid: int) -> None:
    """SIGKILL whatever is left of the process group of a command we started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def kill_when(
    proc: subprocess.Popen[bytes], event: Callable[[], bool], snapshot: Callable[[], Any], timeout: float = 60.0
) -> tuple[int, Any]:
    """Wait for an observed event (or the end of the process), look at what is committed,
    SIGKILL the process; its exit status (-9 if the kill interrupted it) and the snapshot."""
    deadline = time.monotonic() + timeout
    while not event() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    before = snapshot()
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    rc = proc.wait(timeout=30)
    reap_group(proc.pid)  # parser workers it may have left (see the orphan test)
    return rc, before


# --- the archive ----------------------------------------------------------------------------


def committed_keys(db: Path) -> set[Key] | None:
    """Articles committed so far, read by another connection (None: could not look)."""
    if not db.exists():
        return set()
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return {(r[0], r[1]) for r in conn.execute("SELECT lang, slug FROM articles")}
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        return set() if "no such table" in str(exc) else None


def check_archive(db: Path, expected: dict[Key, Row], before: set[Key] | None, ctx: str) -> dict[Key, Row]:
    """The archive after a fault: sound, nothing committed lost, nothing twice, nothing
    stored that a complete run would not store. Returns its rows."""
    if not db.exists():
        assert not before, ctx
        return {}
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], ctx
        if not conn.execute("SELECT name FROM sqlite_master WHERE name = 'articles'").fetchall():
            assert not before, ctx
            return {}
        with conn:  # raises if the full-text index does not match the articles
            conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM articles").fetchone()
        assert count == distinct, f"{ctx}: duplicated ids"
        twice = conn.execute(
            "SELECT lang, slug, count(*) FROM articles GROUP BY lang, slug HAVING count(*) > 1"
        ).fetchall()
        assert twice == [], f"{ctx}: duplicated slugs"
        rows = {
            (r[0], r[1]): tuple(r[2:])
            for r in conn.execute("SELECT lang, slug, url, title, body, partial FROM articles")
        }
    unknown = sorted(set(rows) - set(expected))
    assert unknown == [], f"{ctx}: articles no complete run stores: {unknown[:5]}"
    wrong = {k: (rows[k], expected[k]) for k in rows if rows[k] != expected[k]}
    assert wrong == {}, f"{ctx}: articles stored differently from a complete run"
    if before is not None:
        lost = sorted(before - set(rows))
        assert lost == [], f"{ctx}: {len(lost)} committed articles lost, e.g. {lost[:3]}"
    return rows


def dump_rows(paths: list[Path]) -> dict[Key, Row]:
    """What a complete replay of these dumps stores, parsed in this process."""
    out: dict[Key, Row] = {}
    for path in paths:
        items, problem = read_dump(path)
        assert problem is None, problem
        for item in items:
            out[(item.lang, item.slug)] = (item.url, item.title, item.body, int(item.partial))
    return out


# --- a corpus of dumps ------------------------------------------------------------------------

CORPUS_FILES, CORPUS_PER_FILE = 150, 10


@dataclass
class Corpus:
    folder: Path
    expected: dict[Key, Row]
    dumps: list[set[Key]]  # the articles of each dump, in file order

    def check_snapshots(self, rows: dict[Key, Row], ctx: str) -> None:
        """Each dump is stored in one transaction: all of its articles, or none."""
        half = [n for n, keys in enumerate(self.dumps) if keys & rows.keys() and not keys <= rows.keys()]
        assert half == [], f"{ctx}: dumps stored in part: {half[:5]}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """150 listing dumps of 10 articles each, built from the bundled ones, every title unique."""
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder, CORPUS_FILES, CORPUS_PER_FILE)
    files = sorted(folder.glob("*.txt"))
    expected = dump_rows(files)
    assert len(expected) == CORPUS_FILES * CORPUS_PER_FILE
    return Corpus(folder, expected, [set(dump_rows([f])) for f in files])


# === 1. kill -9 at random moments ==============================================================


def test_kill_9_during_replay_loses_nothing_and_the_next_run_finishes(corpus: Corpus, tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}:replay")
    exits: list[int] = []
    for cycle in range(math.ceil(FAULT_RUNS / KILLS_PER_CYCLE)):
        folder = tmp_path / f"cycle-{cycle}"
        cfg = write_config(folder)
        db = folder / "archive.db"
        for n in range(min(KILLS_PER_CYCLE, FAULT_RUNS - len(exits))):
            stored = len(committed_keys(db) or ())
            if len(corpus.expected) - stored < 2:
                break
            k = rng.randrange(1, len(corpus.expected) - stored)
            ctx = f"ICESCO_FAULT_SEED={SEED}: replay kill {len(exits) + 1}/{FAULT_RUNS} (cycle {cycle}) after {k} more commits"
            proc = start_cli(
                "crawl", "--replay", str(corpus.folder), "--json", config=cfg, log=folder / f"kill-{n}.log"
            )
            rc, before = kill_when(
                proc,
                lambda db=db, goal=stored + k: len(committed_keys(db) or ()) >= goal,
                lambda db=db: committed_keys(db),
            )
            exits.append(rc)
            corpus.check_snapshots(check_archive(db, corpus.expected, before, ctx), ctx)
        ctx = f"ICESCO_FAULT_SEED={SEED}: replay cycle {cycle}, clean run after {exits[-KILLS_PER_CYCLE:]}"
        clean = run_cli("crawl", "--replay", str(corpus.folder), "--json", config=cfg)
        assert clean.returncode == 0, f"{ctx}\n{clean.stderr[-3000:]}"
        summary = last_json(clean)
        assert (summary["status"], summary["errors"], summary["articles_total"]) == ("ok", 0, 1500), ctx
        assert check_archive(db, corpus.expected, None, ctx) == corpus.expected, ctx
    print(f"ICESCO_FAULT_SEED={SEED}: replay exits {exits}")
    assert exits and exits == [-signal.SIGKILL] * len(exits), (
        f"ICESCO_FAULT_SEED={SEED}: a kill missed the replay: {exits}"
    )


def crawl_site_articles(n: int) -> list[SiteArticle]:
    return [
        SiteArticle(
            slug=f"killed-crawl-article-{k}",
            title=f"Killed Crawl Article {k}",
            published=NOW - dt.timedelta(hours=k + 1),
            paragraphs=[f"First paragraph of article {k}, held in Rabat.", f"Second paragraph of article {k}."],
        )
        for k in range(n)
    ]


def site_rows(site: FakeSite, articles: list[SiteArticle]) -> dict[Key, Row]:
    return {(a.lang, a.slug): (f"{site.base_url}{a.path}", a.title, "\n\n".join(a.paragraphs), 0) for a in articles}


def test_kill_9_during_live_crawl_loses_nothing_and_the_next_run_finishes(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}:crawl")
    with FakeSite(crawl_site_articles(60), per_page=10) as site:
        expected = site_rows(site, site.articles)
        slow_paths = [a.path for a in site.articles] + ["/en/category/news/"]
        slow_paths += [f"/en/category/news/page/{p}/" for p in range(2, 7)]
        exits: list[int] = []
        for cycle in range(math.ceil(FAULT_RUNS / KILLS_PER_CYCLE)):
            folder = tmp_path / f"cycle-{cycle}"
            db = folder / "archive.db"
            cfg = write_config(
                folder,
                crawl={
                    "start_urls": [f"{site.base_url}/en/category/news/"],
                    "hosts": ["127.0.0.1"],
                    "download_delay": 0,
                    "timeout": 10,
                    "retries": 1,
                    "backfill_pages": 10,
                    "revisit_after_hours": 1000,
                },
            )
            for n in range(min(KILLS_PER_CYCLE, FAULT_RUNS - len(exits))):
                for path in slow_paths:  # the crawl lasts about 1.5 s
                    site.delay(path, 0.01)
                remaining = len(expected) - len(committed_keys(db) or ())
                if remaining < 2:
                    break
                k = rng.randrange(1, remaining)
                ctx = f"ICESCO_FAULT_SEED={SEED}: crawl kill {len(exits) + 1}/{FAULT_RUNS} (cycle {cycle}) after {k} requests"
                site.clear_hits()
                proc = start_cli("crawl", "--json", config=cfg, log=folder / f"kill-{n}.log")
                rc, before = kill_when(proc, lambda k=k: len(site.hits) >= k, lambda db=db: committed_keys(db))
                exits.append(rc)
                check_archive(db, expected, before, ctx)
            site.heal()
            ctx = f"ICESCO_FAULT_SEED={SEED}: crawl cycle {cycle}, clean run after {exits[-KILLS_PER_CYCLE:]}"
            clean = run_cli("crawl", "--json", config=cfg)
            assert clean.returncode == 0, f"{ctx}\n{clean.stderr[-3000:]}"
            summary = last_json(clean)
            assert (summary["status"], summary["errors"], summary["articles_total"]) == ("ok", 0, 60), ctx
            assert check_archive(db, expected, None, ctx) == expected, ctx
    print(f"ICESCO_FAULT_SEED={SEED}: crawl exits {exits}")
    assert exits and exits == [-signal.SIGKILL] * len(exits), (
        f"ICESCO_FAULT_SEED={SEED}: a kill missed the crawl: {exits}"
    )


@dataclass
class Ledger:
    delivered: set[tuple[str, str]]  # (address, article title)
    statuses: dict[int, str]  # delivery id -> status
    message_ids: set[str]


def read_ledger(db: Path) -> Ledger | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            delivered = conn.execute(
                "SELECT d.address, a.title FROM delivered d JOIN articles a ON a.id = d.article_id"
            ).fetchall()
            rows = conn.execute("SELECT id, status, message_id FROM deliveries").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return None
    return Ledger({(r[0], r[1]) for r in delivered}, {r[0]: r[1] for r in rows}, {r[2] for r in rows})


def digest_titles(message: Any) -> list[str]:
    """The article titles listed in a digest's text part ("3. Title")."""
    text = message.get_body(("plain",)).get_content()
    return re.findall(r"^\d+\. (.+)$", text, re.MULTILINE)


def store_articles(db: Path, titles: list[str]) -> None:
    """New articles, stored as a crawl would store them (first seen now)."""
    items = [
        ArticleItem(
            title=t, paragraphs=[f"{t}: what happened, in one paragraph.", "A second paragraph."], source="test"
        )
        for t in titles
    ]
    with Archive(db) as archive:
        archive.store(items, dt.datetime.now(dt.UTC))


def test_kill_9_during_digest_runs_loses_nothing_and_resends_at_most_once(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}:digest")
    addresses = [f"reader{n:02d}@example.org" for n in range(30)]
    with SmtpSink() as sink:
        cfg = write_config(
            tmp_path,
            smtp={"host": "127.0.0.1", "port": sink.port, "timeout": 10},
            digest={"max_items": 10000},
            subscribers=[{"address": a, "cadence": "immediate"} for a in addresses],
        )
        db = tmp_path / "archive.db"
        first = run_cli(
            "digest", "--json", "--now", iso(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)), config=cfg
        )
        assert (first.returncode, last_json(first)["subscribed"]) == (0, addresses), first.stderr[-3000:]
        expected: list[str] = []
        exits: list[int] = []
        for n in range(1, FAULT_RUNS + 1):
            titles = [f"Digest fault article {n}.{k} from ICESCO" for k in range(5)]
            store_articles(db, titles)
            expected += titles
            k = rng.randrange(1, len(addresses))
            ctx = f"ICESCO_FAULT_SEED={SEED}: digest kill {n}/{FAULT_RUNS} after {k} messages"
            received = len(sink.messages)
            proc = start_cli("digest", "--json", config=cfg, log=tmp_path / f"kill-{n}.log")
            rc, before = kill_when(proc, lambda k=k, r=received: len(sink.messages) >= r + k, lambda: read_ledger(db))
            exits.append(rc)
            with contextlib.closing(sqlite3.connect(db)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], ctx
            after_kill = read_ledger(db)
            assert after_kill is not None, ctx
            if before is not None:
                assert before.delivered <= after_kill.delivered, f"{ctx}: reservations lost"
                unsent = {i for i, s in before.statuses.items() if s == "sent" and after_kill.statuses.get(i) != "sent"}
                assert unsent == set(), f"{ctx}: deliveries no longer marked sent"
            received_ids = {str(m["Message-ID"]) for m in sink.messages}
            assert received_ids <= after_kill.message_ids, f"{ctx}: a message was sent before it was recorded"

        assert exits == [-signal.SIGKILL] * len(exits), (
            f"ICESCO_FAULT_SEED={SEED}: a kill missed the digest run: {exits}"
        )
        ctx = f"ICESCO_FAULT_SEED={SEED}: digest, final clean runs after kills {exits}"
        final = run_cli("digest", "--json", "--now", iso(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)), config=cfg)
        assert final.returncode == 0, f"{ctx}\n{final.stderr[-3000:]}"
        again = run_cli(
            "digest", "--json", "--now", iso(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)), config=cfg
        )
        assert (again.returncode, last_json(again)["sent"]) == (0, 0), ctx

        with contextlib.closing(sqlite3.connect(db)) as conn:
            statuses = Counter(s for (s,) in conn.execute("SELECT status FROM deliveries"))
        assert set(statuses) == {"sent"}, f"{ctx}: {statuses}"

        copies: Counter[str] = Counter()
        data: dict[str, set[bytes]] = defaultdict(set)
        carried: dict[tuple[str, str], set[str]] = defaultdict(set)  # (address, title) -> Message-IDs
        for envelope, message in zip(sink.envelopes, sink.messages, strict=True):
            mid, to = str(message["Message-ID"]), str(message["To"])
            assert envelope.rcpt_tos == [to], ctx
            copies[mid] += 1
            data[mid].add(envelope.data)
            for title in digest_titles(message):
                carried[(to, title)].add(mid)
        for address in addresses:
            got = sorted(t for (a, t) in carried if a == address)
            assert got == sorted(expected), f"{ctx}: {address} missed {sorted(set(expected) - set(got))[:5]}"
        twice = {k: v for k, v in carried.items() if len(v) > 1}
        assert twice == {}, f"{ctx}: articles sent in two different digests"
        resends = {mid: n - 1 for mid, n in copies.items() if n > 1}
        print(f"{ctx}: {len(sink.messages)} messages, re-sends {resends}")
        assert sum(resends.values()) <= exits.count(-signal.SIGKILL), f"{ctx}: re-sends {resends}"
        assert all(len(v) == 1 for v in data.values()), f"{ctx}: a re-send differs from the first copy"


def test_kill_9_of_a_replay_leaves_no_process_behind(corpus: Corpus, tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    db = tmp_path / "archive.db"
    proc = start_cli("crawl", "--replay", str(corpus.folder), "--json", config=cfg, log=tmp_path / "kill.log")
    try:
        # Kill it while it stores, its two parser workers (and multiprocessing's resource
        # tracker) up and running.
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if len(group_members(proc.pid)) >= 4 and committed_keys(db):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the replay ended before its parser workers were seen at work"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        deadline = time.monotonic() + 3
        while (left := group_members(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == [], "processes of the killed replay still running 3 s later"
    finally:
        reap_group(proc.pid)


# === 2. HTTP faults of the site ===============================================================


def fault_site_articles() -> list[SiteArticle]:
    return [
        SiteArticle(
            slug=f"fault-article-{k}",
            title=f"Fault Article {k}",
            published=NOW - dt.timedelta(hours=k + 1),
            paragraphs=[f"First paragraph of fault article {k}.", f"Second paragraph of fault article {k}."],
        )
        for k in range(12)
    ]


@dataclass
class Expect:
    victims: list[SiteArticle]  # articles that must not be stored
    messages: list[str]  # regular expressions, each matching one message (in any order)
    hits: dict[str, int] = field(default_factory=dict)  # path -> requests the site must see
    returncode: int = 0
    crawl: dict[str, Any] = field(default_factory=dict)  # config overrides
    check: Callable[[Outcome], None] | None = None  # more assertions


@dataclass
class Outcome:
    name: str
    expect: Expect
    proc: subprocess.CompletedProcess[str]
    summary: dict[str, Any]
    rows: dict[Key, Row]
    hits: list[Hit]
    articles: list[SiteArticle]
    base: str
    extra: dict[str, Any]


class _Server:
    """A TCP server on a loopback address that hands each connection to ``handle``."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.handle(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()
        self.thread.join(timeout=5)


class Listener(_Server):
    """A TCP port on another loopback address that only counts the connections it gets."""

    def __init__(self, host: str) -> None:
        self.accepted = 0
        try:
            super().__init__(host)
        except OSError as exc:
            pytest.skip(f"cannot listen on {host}: {exc}")

    def handle(self, conn: socket.socket) -> None:
        self.accepted += 1


def url_of(site: FakeSite, a: SiteArticle) -> str:
    return f"{site.base_url}{a.path}"


def exact(text: str) -> str:
    return re.escape(text)


Setup = Callable[[FakeSite, dict[str, Any]], Expect]


def _http_500(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.fail(a.path, 500)
    return Expect([a], [exact(f"{url_of(site, a)}: HTTP 500")], {a.path: 2})


def _http_503_retry_after(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.fail(a.path, 503, headers={"Retry-After": "1"})

    def waited(out: Outcome) -> None:
        first, second = (h.at for h in out.hits if h.path == a.path)
        assert second - first >= 1.0, "Retry-After: 1 not honoured"

    return Expect([a], [exact(f"{url_of(site, a)}: HTTP 503")], {a.path: 2}, check=waited)


def _http_429(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a, b = site.articles[1], site.articles[2]
    site.fail(a.path, 429)  # backoff, one retry
    site.fail(b.path, 429, headers={"Retry-After": "3600"})  # more than max_retry_delay: given up at once

    def quick(out: Outcome) -> None:
        assert out.summary["seconds"] < 30

    messages = [exact(f"{url_of(site, a)}: HTTP 429"), exact(f"{url_of(site, b)}: HTTP 429")]
    return Expect([a, b], messages, {a.path: 2, b.path: 1}, check=quick)


def _timeout(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.delay(a.path, 3)
    u = url_of(site, a)
    message = exact(f"{u}: DownloadTimeoutError: Getting {u} took longer than 1.0 seconds.")
    return Expect([a], [message], {a.path: 2}, crawl={"timeout": 1})


def _reset(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.reset(a.path)
    return Expect(
        [a],
        [exact(url_of(site, a)) + r": .*(ConnectionLost|ConnectionReset|connection (was )?(lost|reset)).*"],
        {a.path: 2},
    )


def _truncated(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    whole = len(site.page_bytes(a.path))
    site.truncate(a.path, fraction=0.5)

    def cut(out: Outcome) -> None:
        assert [h.bytes_sent for h in out.hits if h.path == a.path] == [whole // 2] * 2

    pattern = exact(url_of(site, a)) + r": .*(DataLoss|truncated|shorter|Content-Length).*"
    return Expect([a], [pattern], {a.path: 2}, check=cut)


def _huge_body(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.stream(a.path, 20_000_000)  # no Content-Length: the limit must cut the transfer

    def cut(out: Outcome) -> None:
        (sent,) = [h.bytes_sent for h in out.hits if h.path == a.path]
        assert sent < 20_000_000

    pattern = exact(url_of(site, a)) + r": .*(65536|max(imum)? (response )?size|too large|larger than).*"
    return Expect([a], [pattern], {a.path: 1}, check=cut)


def _wrong_content_type(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a, b = site.articles[1], site.articles[2]
    site.override(a.path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "image/png")
    site.override(b.path, bytes(range(256)) * 8, "application/octet-stream")
    messages = [
        exact(f"{url_of(site, a)}: not an HTML page (image/png)"),
        exact(f"{url_of(site, b)}: not an HTML page (application/octet-stream)"),
    ]
    return Expect([a, b], messages, {a.path: 1, b.path: 1})


def _redirect_loop(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.redirect(a.path, f"{site.base_url}/en/loop/")
    site.redirect("/en/loop/", url_of(site, a))

    def bounded(out: Outcome) -> None:
        assert Counter(h.path for h in out.hits)[a.path] <= 6

    return Expect([a], [exact(url_of(site, a)) + r": .*redirect.*"], check=bounded)


def _redirect_to_alias_host(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    site.redirect(a.path, f"http://localhost:{site.port}{a.path}")
    pattern = exact(url_of(site, a)) + r": .*(localhost|offsite|not allowed|host).*"
    return Expect([a], [pattern], {a.path: 1})


def _redirect_to_other_loopback(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = site.articles[1]
    listener = extra["listener"] = Listener("127.0.0.2")
    site.redirect(a.path, f"http://127.0.0.2:{listener.port}{a.path}")

    def untouched(out: Outcome) -> None:
        assert out.extra["listener"].accepted == 0, "the crawler connected to 127.0.0.2"

    pattern = exact(url_of(site, a)) + r": .*(127\.0\.0\.2|offsite|not allowed|host).*"
    return Expect([a], [pattern], {a.path: 1}, check=untouched)


def _only_robots(out: Outcome) -> None:
    assert {h.path for h in out.hits} == {"/robots.txt"}, "pages fetched though robots.txt was unavailable"


def _robots_503(site: FakeSite, extra: dict[str, Any]) -> Expect:
    site.fail("/robots.txt", 503)
    messages = [
        exact(f"{site.base_url}/robots.txt: HTTP 503") + r".*",
        exact(f"{site.base_url}/en/category/news/: ") + r".*robots\.txt.*",
    ]
    return Expect(site.articles, messages, {"/robots.txt": 2}, returncode=1, check=_only_robots)


def _robots_unreachable(site: FakeSite, extra: dict[str, Any]) -> Expect:
    site.reset("/robots.txt")
    messages = [
        r".*" + exact(f"127.0.0.1:{site.port}") + r".*robots\.txt.*(unreachable|ConnectionLost).*",
        exact(f"{site.base_url}/en/category/news/: ") + r".*robots\.txt.*",
    ]
    return Expect(site.articles, messages, {"/robots.txt": 2}, returncode=1, check=_only_robots)


def _robots_404(site: FakeSite, extra: dict[str, Any]) -> Expect:
    site.fail("/robots.txt", 404)  # "unavailable": everything may be fetched
    return Expect([], [], {"/robots.txt": 1})


ENCODED_TITLE = "Café de l’ICESCO à Rabat – « rencontre » “œuvre” 5 €"
ENCODED_PARAGRAPHS = ["Première réunion à Rabat : l’ICESCO « œuvre » — déjà.", "Zoë’s naïve café costs 5 € • ok…"]


def _undeclared_encoding(site: FakeSite, extra: dict[str, Any]) -> Expect:
    a = SiteArticle(
        slug="cafe-de-l-icesco-a-rabat",
        title=ENCODED_TITLE,
        published=NOW - dt.timedelta(minutes=30),
        paragraphs=ENCODED_PARAGRAPHS,
    )
    site.add_article(a)
    html = site.page_bytes(a.path).decode("utf-8").replace('<meta charset="UTF-8">\n', "")
    body = html.encode("windows-1252")
    assert b"charset" not in body.lower() and not body.isascii()
    site.override(a.path, body, "text/html")
    extra["article"] = a
    return Expect([], [])


HTTP_FAULTS: dict[str, Setup] = {
    "500": _http_500,
    "503-retry-after": _http_503_retry_after,
    "429": _http_429,
    "timeout": _timeout,
    "connection-reset": _reset,
    "truncated-body": _truncated,
    "huge-body": _huge_body,
    "wrong-content-type": _wrong_content_type,
    "redirect-loop": _redirect_loop,
    "redirect-to-alias-host": _redirect_to_alias_host,
    "redirect-to-127.0.0.2": _redirect_to_other_loopback,
    "robots-503": _robots_503,
    "robots-unreachable": _robots_unreachable,
    "robots-404": _robots_404,
    "undeclared-encoding": _undeclared_encoding,
}


@pytest.fixture(scope="module")
def http_fault(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Outcome]:
    """Run the crawl of one HTTP fault (once per module) and keep what happened."""
    cache: dict[str, Outcome] = {}

    def get(name: str) -> Outcome:
        if name not in cache:
            cache[name] = _run_http_fault(name, tmp_path_factory.mktemp(f"http-{name}"))
        return cache[name]

    return get


def _run_http_fault(name: str, folder: Path) -> Outcome:
    extra: dict[str, Any] = {}
    try:
        with FakeSite(fault_site_articles(), per_page=5) as site:
            expect = HTTP_FAULTS[name](site, extra)
            settings = {
                "start_urls": [f"{site.base_url}/en/category/news/"],
                "hosts": ["127.0.0.1"],
                "download_delay": 0,
                "timeout": 5,
                "retries": 1,
                "backfill_pages": 10,
                "revisit_after_hours": 1000,
                "max_response_bytes": 65536,
                "max_retry_delay": 5,
                **expect.crawl,
            }
            cfg = write_config(folder, crawl=settings)
            proc = run_cli("crawl", "--json", config=cfg)
            summary = last_json(proc)
            db = folder / "archive.db"
            with contextlib.closing(sqlite3.connect(db)) as conn:
                rows = {
                    (r[0], r[1]): tuple(r[2:])
                    for r in conn.execute("SELECT lang, slug, url, title, body, partial FROM articles")
                }
            return Outcome(name, expect, proc, summary, rows, list(site.hits), site.articles, site.base_url, extra)
    finally:
        if "listener" in extra:
            extra["listener"].close()


@pytest.mark.parametrize("name", [n for n in HTTP_FAULTS if n != "undeclared-encoding"])
def test_http_fault_run_finishes_and_stores_only_healthy_articles(
    http_fault: Callable[[str], Outcome], name: str
) -> None:
    out = http_fault(name)
    exp = out.expect
    assert out.proc.returncode == exp.returncode, out.proc.stderr[-3000:]
    assert out.summary["status"] == ("ok" if exp.returncode == 0 else "failed")
    victims = {a.slug for a in exp.victims}
    healthy = [a for a in out.articles if a.slug not in victims]
    expected = {(a.lang, a.slug): (f"{out.base}{a.path}", a.title, "\n\n".join(a.paragraphs), 0) for a in healthy}
    assert out.rows == expected
    assert (out.summary["new"], out.summary["articles_total"]) == (len(healthy), len(healthy))
    assert {h.host for h in out.hits} == {"127.0.0.1"}, "a request left the configured host"
    requests = Counter(h.path for h in out.hits)
    assert {path: requests[path] for path in exp.hits} == exp.hits
    if exp.check is not None:
        exp.check(out)


def _reported_xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


REPORTED = [
    pytest.param(name, marks=_reported_xfail(reason)) if reason else name
    for name, reason in {
        "500": "",
        "503-retry-after": "",
        "429": "",
        "timeout": "",
        "connection-reset": "",
        "truncated-body": "",
        "huge-body": "",
        "wrong-content-type": "",
        "redirect-loop": "",
        "redirect-to-alias-host": "",
        "redirect-to-127.0.0.2": "",
        "robots-503": "",
        "robots-unreachable": "",
        "robots-404": "",
    }.items()
]


@pytest.mark.parametrize("name", REPORTED)
def test_http_fault_is_counted_and_reported(http_fault: Callable[[str], Outcome], name: str) -> None:
    out = http_fault(name)
    messages = out.summary["messages"]
    assert out.summary["errors"] == len(out.expect.messages), messages
    unmatched = [p for p in out.expect.messages if sum(bool(re.fullmatch(p, m)) for m in messages) != 1]
    assert unmatched == [], f"{messages} vs {out.expect.messages}"


def test_nothing_else_is_sent_while_a_retry_after_wait_runs(http_fault: Callable[[str], Outcome]) -> None:
    """The server asked for 1 s of quiet (Retry-After: 1): no request reaches it then."""
    out = http_fault("503-retry-after")
    victim = out.expect.victims[0].path
    first, second = (h for h in out.hits if h.path == victim)
    assert second.at - first.at >= 1.0
    meanwhile = [(round(h.at - first.at, 3), h.path) for h in out.hits if first.at < h.at < first.at + 1.0]
    assert meanwhile == []


def test_an_undeclared_encoding_is_not_stored_as_mojibake(http_fault: Callable[[str], Outcome]) -> None:
    out = http_fault("undeclared-encoding")
    assert out.proc.returncode == 0, out.proc.stderr[-3000:]
    a = out.extra["article"]
    others = [x for x in out.articles if x.slug != a.slug]
    expected = {(x.lang, x.slug): (f"{out.base}{x.path}", x.title, "\n\n".join(x.paragraphs), 0) for x in others}
    stored = out.rows.pop((a.lang, a.slug), None)
    assert out.rows == expected
    if stored is None:  # not stored: then it must be reported
        assert any(m.startswith(f"{out.base}{a.path}: ") for m in out.summary["messages"]), out.summary["messages"]
    else:
        assert stored == (f"{out.base}{a.path}", ENCODED_TITLE, "\n\n".join(ENCODED_PARAGRAPHS), 0)


# === 3. SMTP faults ===========================================================================

ADDRESSES = ["ana@example.org", "bilal@example.org", "chen@example.org"]
DUMP_000 = DUMPS / "000_84405bf65da9c262.txt"


class Greeter(_Server):
    """An SMTP server on 127.0.0.1 that greets every connection with one reply and hangs up."""

    def __init__(self, reply: str) -> None:
        self.reply = reply.encode() + b"\r\n"
        super().__init__("127.0.0.1")

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.reply)


def digest_metrics(db: Path) -> dict[str, float]:
    """The digest figures of the /metrics text."""
    with Archive(db) as archive:
        text = metrics_text(archive.metrics())
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {
        "sent": float(values["icesco_digests_sent_total"]),
        "failed": float(values["icesco_digests_failed_total"]),
        "pending": float(values["icesco_digests_pending"]),
    }


@dataclass
class Mailing:
    """Three subscribers, ten articles first seen after they subscribed, a digest due at t1."""

    tmp: Path
    db: Path
    titles: list[str]
    t1: dt.datetime

    def config(self, port: int, **digest: Any) -> Path:
        return write_config(
            self.tmp,
            database=str(self.db),
            smtp={"host": "127.0.0.1", "port": port, "timeout": 5},
            digest={"retry_minutes": 5, **digest},
            subscribers=[{"address": a, "cadence": "immediate"} for a in ADDRESSES],
        )

    def digest(self, cfg: Path, at: dt.datetime) -> tuple[int, dict[str, Any]]:
        proc = run_cli("digest", "--json", "--now", iso(at), config=cfg)
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
        return proc.returncode, last_json(proc)

    def ledger(self) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return conn.execute("SELECT address, status, attempts, message_id FROM deliveries ORDER BY id").fetchall()


@pytest.fixture
def mailing(tmp_path: Path, sink: SmtpSink) -> Mailing:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    m = Mailing(tmp_path, tmp_path / "archive.db", [], now + dt.timedelta(minutes=1))
    rc, first = m.digest(m.config(sink.port), now - dt.timedelta(minutes=1))  # records the subscribers
    assert (rc, first["subscribed"], first["sent"]) == (0, ADDRESSES, 0)
    items, _ = read_dump(DUMP_000)
    with Archive(m.db) as archive:
        archive.store(items, now)
    m.titles = [i.title for i in items]
    assert len(m.titles) == 10
    return m


def _refused(sink: SmtpSink, stack: contextlib.ExitStack) -> tuple[int, Callable[[str, str], str]]:
    return free_port(), lambda where, a: f"{where}: cannot connect: Connection refused"


def _greeting_421(sink: SmtpSink, stack: contextlib.ExitStack) -> tuple[int, Callable[[str, str], str]]:
    greeter = Greeter("421 4.3.2 Service not available, closing transmission channel")
    stack.callback(greeter.close)
    return (
        greeter.port,
        lambda where, a: (
            f"{where}: refused the connection: 421 4.3.2 Service not available, closing transmission channel"
        ),
    )


def _rcpt_421(sink: SmtpSink, stack: contextlib.ExitStack) -> tuple[int, Callable[[str, str], str]]:
    sink.refuse_rcpt(421, "4.7.0 try again later")
    return sink.port, lambda where, a: f"{where}: recipient {a} refused: 421 4.7.0 try again later"


def _data_451(sink: SmtpSink, stack: contextlib.ExitStack) -> tuple[int, Callable[[str, str], str]]:
    sink.fail_data(451, "4.3.0 try again later")
    return sink.port, lambda where, a: f"{where}: refused the message: 451 4.3.0 try again later"


def _drop_after_data(sink: SmtpSink, stack: contextlib.ExitStack) -> tuple[int, Callable[[str, str], str]]:
    sink.drop_after_data()
    return sink.port, lambda where, a: f"{where}: the server closed the connection unexpectedly (send)"


SMTP_TEMPORARY = {
    "connection-refused": _refused,
    "421-greeting": _greeting_421,
    "421-rcpt": _rcpt_421,
    "451-data": _data_451,
    "dropped-after-data": _drop_after_data,
}


@pytest.mark.parametrize("fault", list(SMTP_TEMPORARY))
def test_a_temporary_smtp_fault_is_retried_and_nothing_is_lost(mailing: Mailing, sink: SmtpSink, fault: str) -> None:
    m = mailing
    with contextlib.ExitStack() as stack:
        port, error = SMTP_TEMPORARY[fault](sink, stack)
        rc, result = m.digest(m.config(port), m.t1)
    where = f"127.0.0.1:{port}"
    retry_at = iso(m.t1 + dt.timedelta(minutes=5))
    assert (rc, result) == (
        0,
        {
            "subscribed": [],
            "sent": 0,
            "retrying": 3,
            "failed": 0,
            "written": [],
            "messages": [f"digest to {a} will be retried at {retry_at}: {error(where, a)}" for a in ADDRESSES],
            "dry_run": False,
        },
    )
    assert sink.messages == []
    ledger = m.ledger()
    assert [row[:3] for row in ledger] == [(a, "retry", 1) for a in ADDRESSES]
    status = run_cli("status", "--json", config=m.config(sink.port))
    assert status.returncode == 0, status.stderr
    info = last_json(status)
    assert (info["digests"], info["failed_digests"]) == ({"retry": 3}, [])
    assert digest_metrics(m.db) == {"sent": 0, "failed": 0, "pending": 3}

    # The server is fine again: nothing before the retry is due, then everything, once.
    sink.reset()
    cfg = m.config(sink.port)
    assert m.digest(cfg, m.t1 + dt.timedelta(minutes=2)) == (0, {**result, "retrying": 0, "messages": []})
    assert sink.messages == []
    rc, later = m.digest(cfg, m.t1 + dt.timedelta(minutes=6))
    assert (rc, later["sent"], later["retrying"], later["failed"]) == (0, 3, 0, 0)
    assert m.digest(cfg, m.t1 + dt.timedelta(hours=1))[1]["sent"] == 0
    assert [str(msg["To"]) for msg in sink.messages] == ADDRESSES
    assert [str(msg["Message-ID"]) for msg in sink.messages] == [row[3] for row in ledger]
    assert [sorted(digest_titles(msg)) for msg in sink.messages] == [sorted(m.titles)] * 3
    assert m.ledger() == [(a, "sent", 2, row[3]) for a, row in zip(ADDRESSES, ledger, strict=True)]
    assert digest_metrics(m.db) == {"sent": 3, "failed": 0, "pending": 0}


@pytest.mark.parametrize("fault", ["550-rcpt", "451-then-554-data"])
def test_a_permanent_smtp_failure_is_recorded_shown_and_not_retried(
    mailing: Mailing, sink: SmtpSink, fault: str
) -> None:
    m = mailing
    where = f"127.0.0.1:{sink.port}"
    cfg = m.config(sink.port)
    if fault == "550-rcpt":
        sink.refuse_rcpt(550, "5.1.1 mailbox unavailable")
        failed_at, attempts = m.t1, 1
        errors = {a: f"{where}: recipient {a} refused: 550 5.1.1 mailbox unavailable" for a in ADDRESSES}
    else:  # a temporary failure first, then the retry is refused for good
        sink.fail_data(451, "4.3.0 try again later")
        assert m.digest(cfg, m.t1)[1]["retrying"] == 3
        sink.fail_data(554, "5.7.1 message rejected")
        failed_at, attempts = m.t1 + dt.timedelta(minutes=6), 2
        errors = {a: f"{where}: refused the message: 554 5.7.1 message rejected" for a in ADDRESSES}
    proc = run_cli("digest", "--json", "--now", iso(failed_at), config=cfg)
    assert proc.returncode == 1, proc.stderr[-3000:]
    result = last_json(proc)
    assert (result["sent"], result["retrying"], result["failed"]) == (0, 0, 3)
    assert result["messages"] == [f"digest to {a} failed for good: {errors[a]}" for a in ADDRESSES]

    ledger = m.ledger()
    assert [row[:3] for row in ledger] == [(a, "failed", attempts) for a in ADDRESSES]
    status = run_cli("status", "--json", config=cfg)
    assert status.returncode == 0, status.stderr
    info = last_json(status)
    assert info["digests"] == {"failed": 3}
    assert info["failed_digests"] == [
        {
            "address": a,
            "digest_key": f"immediate:{iso(m.t1)}:1-10",  # the cadence, the time, the articles' sequence range
            "message_id": row[3],
            "attempts": attempts,
            "last_error": errors[a],
        }
        for a, row in zip(ADDRESSES, ledger, strict=True)
    ]
    assert digest_metrics(m.db) == {"sent": 0, "failed": 3, "pending": 0}

    sink.reset()  # recorded for good: not retried, not re-sent
    assert m.digest(cfg, failed_at + dt.timedelta(hours=2)) == (
        0,
        {"subscribed": [], "sent": 0, "retrying": 0, "failed": 0, "written": [], "messages": [], "dry_run": False},
    )
    assert sink.messages == []
    assert [row[:3] for row in m.ledger()] == [(a, "failed", attempts) for a in ADDRESSES]


# === 4. a read-only database, a full disk ==========================================================


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``path`` (root only), always unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


def archive_rows(db: Path) -> dict[Key, Row]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {
            (r[0], r[1]): tuple(r[2:])
            for r in conn.execute("SELECT lang, slug, url, title, body, partial FROM articles")
        }


def clear_error(proc: subprocess.CompletedProcess[str], db: Path) -> str:
    """What a command that cannot use the database says: one line naming it, no traceback."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert str(db) in proc.stderr + proc.stdout, proc.stderr[-3000:]
    return proc.stderr


def test_a_read_only_database_file_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    cfg = write_config(folder)
    db = folder / "archive.db"
    assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
    before = archive_rows(db)
    os.chmod(db, 0o444)
    os.chmod(folder, 0o555)
    try:
        if os.access(db, os.W_OK) or os.access(folder, os.W_OK):
            pytest.skip("running as root: chmod does not make the database read-only")
        proc = run_cli("crawl", "--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), "--json", config=cfg)
        clear_error(proc, db)
    finally:
        os.chmod(folder, 0o755)
        os.chmod(db, 0o644)
    assert check_archive(db, before, None, "read-only") == before


@dataclass
class ReadOnlyOutcome:
    db: Path
    before: dict[Key, Row]
    crawl: subprocess.CompletedProcess[str]
    digest: subprocess.CompletedProcess[str]
    after: dict[Key, Row]


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadOnlyOutcome]:
    """A database on a file system remounted read-only (EROFS even for root)."""
    base = tmp_path_factory.mktemp("read-only")
    with tmpfs(base / "mnt", "8M") as mnt:
        db = mnt / "archive.db"
        cfg = write_config(
            base,
            database=str(db),
            digest={"outbox": str(base / "outbox")},
            subscribers=[{"address": "reader@example.org", "cadence": "immediate"}],
        )
        assert run_cli("digest", "--json", "--now", iso(NOW - dt.timedelta(minutes=1)), config=cfg).returncode == 0
        assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
        before = archive_rows(db)
        remount(mnt, "ro")
        try:
            crawl = run_cli("crawl", "--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), "--json", config=cfg)
            digest = run_cli("digest", "--json", "--now", iso(NOW + dt.timedelta(minutes=1)), config=cfg)
        finally:
            remount(mnt, "rw")
        after = check_archive(db, before, set(before), "read-only file system")
        yield ReadOnlyOutcome(db, before, crawl, digest, after)


def test_a_crawl_on_a_read_only_file_system_fails_clearly_and_changes_nothing(read_only: ReadOnlyOutcome) -> None:
    clear_error(read_only.crawl, read_only.db)
    assert read_only.crawl.returncode == 1
    assert read_only.after == read_only.before
    assert len(read_only.before) == 10


def test_a_digest_on_a_read_only_file_system_fails_clearly(read_only: ReadOnlyOutcome) -> None:
    clear_error(read_only.digest, read_only.db)
    assert read_only.digest.returncode == 1


@dataclass
class FullDiskOutcome:
    db: Path
    before: dict[Key, Row]  # committed before the disk filled up
    full: subprocess.CompletedProcess[str]  # the run that filled it
    after_full: dict[Key, Row]
    on_full: subprocess.CompletedProcess[str]  # a run started on the full disk
    after_on_full: dict[Key, Row]
    final: subprocess.CompletedProcess[str]  # with room again
    after_final: dict[Key, Row]
    expected: dict[Key, Row]


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> Iterator[FullDiskOutcome]:
    base = tmp_path_factory.mktemp("full-disk")
    bundled = dump_rows(sorted(DUMPS.glob("*.txt")))
    expected = {**bundled, **corpus.expected}
    assert len(expected) == len(bundled) + len(corpus.expected) == 1550
    with tmpfs(base / "mnt", "2M") as mnt:
        db = mnt / "archive.db"
        cfg = write_config(base, database=str(db))
        first = run_cli("crawl", "--replay", str(DUMPS), "--json", config=cfg)
        assert first.returncode == 0, first.stderr[-3000:]
        before = check_archive(db, expected, None, "before the disk filled up")
        assert before == bundled
        full = run_cli("crawl", "--replay", str(corpus.folder), "--json", config=cfg)
        after_full = check_archive(db, expected, set(before), "after the disk filled up")
        on_full = run_cli("crawl", "--replay", str(corpus.folder), "--json", config=cfg)
        after_on_full = check_archive(db, expected, set(after_full), "after a run on a full disk")
        remount(mnt, "size=64M")
        final = run_cli("crawl", "--replay", str(corpus.folder), "--json", config=cfg)
        after_final = check_archive(db, expected, set(after_on_full), "with room again")
        yield FullDiskOutcome(db, before, full, after_full, on_full, after_on_full, final, after_final, expected)


def test_a_full_disk_stops_the_run_without_half_written_state(full_disk: FullDiskOutcome) -> None:
    out = full_disk
    assert out.full.returncode == 1, out.full.stderr[-3000:]
    summary = last_json(out.full)
    assert summary["status"] == "failed"
    assert any("full" in m for m in summary["messages"]), summary["messages"]
    assert {k: out.after_full[k] for k in out.before} == out.before  # committed articles intact
    assert len(out.before) < len(out.after_full) < len(out.expected)  # filled up midway
    assert summary["articles_total"] == len(out.after_full)
    assert out.on_full.returncode != 0
    assert out.after_on_full == out.after_full
    # With room again, the next run completes the work.
    assert out.final.returncode == 0, out.final.stderr[-3000:]
    assert (last_json(out.final)["status"], last_json(out.final)["errors"]) == ("ok", 0)
    assert out.after_final == out.expected


@contextlib.contextmanager
def refusing(db: Path, event: str) -> Iterator[None]:
    """While the block runs, the database refuses ``event`` (for example ``INSERT ON runs``)
    with SQLite's disk-full message, as a full disk would at that write."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            f"CREATE TRIGGER full_disk BEFORE {event} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    try:
        yield
    finally:
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("DROP TRIGGER full_disk")


def subscribed_archive(folder: Path, **config: Any) -> Path:
    """A config with one immediate subscriber (digests to ``folder/outbox``), recorded before
    the first dump was replayed: the ten articles are due. Returns the config file."""
    cfg = write_config(
        folder,
        digest={"outbox": str(folder / "outbox")},
        subscribers=[{"address": "reader@example.org", "cadence": "immediate"}],
        **config,
    )
    assert run_cli("digest", "--json", "--now", iso(NOW - dt.timedelta(minutes=1)), config=cfg).returncode == 0
    assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
    return cfg


def test_every_command_on_a_completely_full_disk_says_so(tmp_path: Path) -> None:
    """No byte left at all (SQLite then often says only 'disk I/O error')."""
    with tmpfs(tmp_path / "mnt", "2M") as mnt:
        db = mnt / "archive.db"
        cfg = subscribed_archive(tmp_path, database=str(db))
        before = archive_rows(db)
        filler = mnt / "filler"
        with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as out:
            while True:
                out.write(b"\0" * 4096)
        reads = {"status": ["status"], "articles": ["articles"], "feed": ["feed", "--out", str(tmp_path / "feeds")]}
        writes = {
            "crawl": ["crawl", "--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), "--json"],
            "digest": ["digest", "--json", "--now", iso(NOW + dt.timedelta(minutes=1))],
        }
        outcome = {}
        for name, args in {**reads, **writes}.items():
            proc = run_cli(*args, config=cfg)
            assert "Traceback" not in proc.stderr, (name, proc.stderr[-3000:])
            if proc.returncode == 0 and name in reads:  # a kernel that lets SQLite read a full disk
                outcome[name] = "ok"
                continue
            last = proc.stderr.strip().splitlines()[-1]
            says_full = "file system is full" in last or "No space left on device" in last or "disk is full" in last
            outcome[name] = "clear" if (proc.returncode, str(db) in last, says_full) == (1, True, True) else last
        assert outcome == {
            "status": "clear",
            "articles": "clear",
            "feed": "clear",
            "crawl": "clear",
            "digest": "clear",
        } or (
            {k: outcome[k] for k in writes} == {"crawl": "clear", "digest": "clear"}
            and set(outcome.values()) <= {"ok", "clear"}
        ), outcome
        assert not (tmp_path / "outbox").exists() or list((tmp_path / "outbox").iterdir()) == []
        filler.unlink()
        assert archive_rows(db) == before
        again = run_cli("crawl", "--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), "--json", config=cfg)
        assert (again.returncode, last_json(again)["new"]) == (0, 10), again.stderr[-3000:]


def test_a_run_that_cannot_be_recorded_at_its_start_fetches_and_stores_nothing(tmp_path: Path) -> None:
    """The database opens but refuses the run's first row (as a full disk does): one clear
    line, no traceback, not a request sent, nothing stored."""
    with FakeSite(fault_site_articles(), per_page=5) as site:
        settings = {"start_urls": [f"{site.base_url}/en/category/news/"], "hosts": ["127.0.0.1"], "download_delay": 0}
        cfg = write_config(tmp_path, crawl=settings)
        db = tmp_path / "archive.db"
        assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
        before = archive_rows(db)
        with refusing(db, "INSERT ON runs"):
            replay = run_cli("crawl", "--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), "--json", config=cfg)
            live = run_cli("crawl", "--json", config=cfg)
        hits = list(site.hits)
    expected = f"icesco-monitor: the crawl did not start: database {db}: database or disk is full"
    for proc in (replay, live):
        assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert proc.stderr.strip().splitlines()[-1] == expected
    assert hits == []
    assert archive_rows(db) == before
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT id, status FROM runs").fetchall() == [(1, "ok")]


def test_a_digest_whose_ledger_cannot_be_written_fails_clearly_and_sends_later(tmp_path: Path) -> None:
    """The database opens but refuses the delivery ledger's rows (as a full disk does): one
    clear line naming the database, nothing delivered unrecorded; with room again, it arrives once."""
    outbox, db = tmp_path / "outbox", tmp_path / "archive.db"
    cfg = subscribed_archive(tmp_path)
    with refusing(db, "INSERT ON deliveries"):
        refused = run_cli("digest", "--json", "--now", iso(NOW + dt.timedelta(minutes=1)), config=cfg)
    assert (refused.returncode, refused.stdout, "Traceback" in refused.stderr) == (1, "", False), refused.stderr[-3000:]
    assert refused.stderr.strip().splitlines()[-1] == f"icesco-monitor: database {db}: database or disk is full"
    assert not outbox.exists() or list(outbox.iterdir()) == []
    sent = run_cli("digest", "--json", "--now", iso(NOW + dt.timedelta(minutes=2)), config=cfg)
    assert sent.returncode == 0, sent.stderr[-3000:]
    assert {k: last_json(sent)[k] for k in ("sent", "retrying", "failed", "messages")} == {
        "sent": 1,
        "retrying": 0,
        "failed": 0,
        "messages": [],
    }
    assert len(list(outbox.iterdir())) == 1


def test_the_service_jobs_survive_a_database_that_refuses_writes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In the service, a digest run that cannot write its ledger logs one line naming the
    database and leaves everything due; the next tick, with room again, delivers it."""
    from monitor.config import load_config
    from monitor.service import Service

    outbox, db = tmp_path / "outbox", tmp_path / "archive.db"
    cfg_path = subscribed_archive(tmp_path)
    service = Service(load_config(cfg_path), str(cfg_path), "127.0.0.1", 0)
    with refusing(db, "INSERT ON deliveries"), caplog.at_level(logging.INFO, logger="monitor"):
        service.digest_job()
    errors = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [
        ("ERROR", f"digest run failed, what was due stays due: database {db}: database or disk is full", None)
    ]
    assert not outbox.exists() or list(outbox.iterdir()) == []
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="monitor"):
        service.digest_job()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert len(list(outbox.iterdir())) == 1


def test_the_service_crawl_job_on_a_database_that_is_not_one_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The replay service reads its cursor from the database: a file that is not a database
    (overwritten, another program's) stops that tick with one line, no traceback, no crawl."""
    from monitor.config import load_config
    from monitor.service import Service

    db = tmp_path / "archive.db"
    db.write_bytes(b"this is not an SQLite database, just some text " * 100)
    cfg_path = write_config(tmp_path, service={"mode": "replay"}, replay={"paths": [str(DUMP_000)]})
    service = Service(load_config(cfg_path), str(cfg_path), "127.0.0.1", 0)
    with caplog.at_level(logging.INFO, logger="monitor"):
        service.crawl_job()
    logged = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records if r.levelno >= logging.WARNING]
    assert logged == [("ERROR", f"crawl not started: database {db}: file is not a database", None)]
    assert db.read_bytes() == b"this is not an SQLite database, just some text " * 100


def test_a_run_whose_end_cannot_be_recorded_still_reports_what_it_did(tmp_path: Path) -> None:
    """CI found this one: the disk filled up just as the run ended, so the run row kept
    'running' and the summary said nothing. The run's own outcome is reported instead."""
    cfg = write_config(tmp_path)
    db = tmp_path / "archive.db"
    assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
    second = DUMPS / "001_5d01d3af697e6fda.txt"
    with refusing(db, "UPDATE OF status ON runs WHEN NEW.status <> 'running'"):
        proc = run_cli("crawl", "--replay", str(second), "--json", config=cfg)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    summary = last_json(proc)
    run_id = summary["run"]
    assert {k: summary[k] for k in ("status", "new", "updated", "unchanged", "errors", "articles_total")} == {
        "status": "failed",
        "new": 10,
        "updated": 0,
        "unchanged": 0,
        "errors": 1,
        "articles_total": 20,
    }
    assert summary["messages"] == [f"database {db}: cannot record the end of run {run_id}: database or disk is full"]
    assert "could not be recorded as finished" in proc.stderr
    expected = dump_rows([DUMP_000, second])
    assert check_archive(db, expected, set(expected), "after an unrecorded end") == expected
    # With room again, the next run marks the unfinished one and finds everything stored.
    again = run_cli("crawl", "--replay", str(second), "--json", config=cfg)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {k: last_json(again)[k] for k in ("status", "new", "unchanged", "errors")} == {
        "status": "ok",
        "new": 0,
        "unchanged": 10,
        "errors": 0,
    }
    with contextlib.closing(sqlite3.connect(db)) as conn:
        statuses = conn.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
    assert [s for _, s in statuses] == ["ok", "interrupted", "ok"]


def test_a_full_disk_is_reported_clearly(full_disk: FullDiskOutcome) -> None:
    out = full_disk
    messages = last_json(out.full)["messages"]
    assert any(str(out.db) in m and "full" in m for m in messages), messages
    assert "Traceback" not in out.full.stderr, out.full.stderr[-3000:]
    clear_error(out.on_full, out.db)
    assert out.on_full.returncode == 1
