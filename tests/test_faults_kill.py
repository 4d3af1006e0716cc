"""Fault campaign, kill -9 at chosen events (``faultkit.py`` says how they are chosen): of a
replay, of a live crawl, of digest runs, and no process left behind. After each kill the
archive is sound, nothing committed is lost, and a clean run finishes the work."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import random
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakesite import FakeSite, SiteArticle
from faultkit import (
    FAULT_RUNS,
    KILLS_PER_CYCLE,
    NOW,
    SEED,
    Corpus,
    Key,
    Row,
    check_archive,
    committed_keys,
    digest_titles,
    group_members,
    iso,
    kill_when,
    reap_group,
)
from helpers import last_json, run_cli, site_crawl, start_cli, write_config
from smtpsink import SmtpSink

from crawler.items import ArticleItem
from monitor.archive import Archive

pytestmark = pytest.mark.faults


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
            cfg = write_config(folder, crawl=site_crawl(f"{site.base_url}/en/category/news/", timeout=10))
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
