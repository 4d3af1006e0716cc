"""The service in a subprocess: a demo crawl reaches the feed; SIGTERM stops it cleanly;
a second service on the same database refuses to start."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import feedparser
import pytest
from helpers import cli_command, cli_env, free_port, get, wait_until, write_config

pytestmark = pytest.mark.integration


def start(tmp_path: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    cmd = cli_command("serve", "--demo", "--port", str(port), *extra, db=tmp_path / "svc.db")
    return subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# The first dump's articles as the feed lists them (newest first).
FIRST_DUMP_TITLES = [
    "ICESCO Director-General Meets Turkish Ambassador to Rabat",
    "ICESCO Releases Study on AI and Requirements for Fundamental Rights and Freedoms Protection",
    "AlMalik: ICESCO Works Unwaveringly to Protect Islamic World Heritage",
    "ICESCO Organizes Strategic Planning Workshop in Ifrane",
    "ICESCO DG: Foresight Most Efficient Way to Preserve Cultural Heritage",
    "ICESCO and New Zealand Explore Cooperation Opportunities",
    "ICESCO and Belgium Review Cooperation Opportunities",
    "ICESCO DG Receives Ambassador of Greece to Rabat",
    "ICESCO-Afghanistan: Explore Cooperation Opportunities",
    "ICESCO and Finland Explore Opportunities in Education",
]


def last_log(stderr: str) -> str:
    """The last log line of a command, without its time: ``LEVEL logger: message``."""
    return stderr.strip().splitlines()[-1].split(" ", 1)[1]


def test_service_serves_the_demo_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port)
    try:
        # The first demo tick replays the first dump: ten articles reach the feed.
        assert wait_until(lambda: len(feedparser.parse(get(f"{base}/feed.xml")[2]).entries) == 10, 60, 0.3)
        status, headers, body = get(f"{base}/feed.xml")
        assert (status, headers["Content-Type"]) == (200, "application/rss+xml; charset=utf-8")
        feed = feedparser.parse(body)
        assert not feed.bozo
        assert [e.title for e in feed.entries] == FIRST_DUMP_TITLES
        status, _, _ = get(f"{base}/feed.xml", {"If-None-Match": headers["ETag"]})
        assert status == 304
        status, headers, body = get(f"{base}/atom.xml")
        assert (status, headers["Content-Type"]) == (200, "application/atom+xml; charset=utf-8")
        status, _, body = get(f"{base}/healthz")
        assert (status, json.loads(body)["status"]) == (200, "ok")
        status, _, body = get(f"{base}/")
        assert status == 200
        assert b'<link rel="alternate" type="application/rss+xml"' in body
        status, _, body = get(f"{base}/metrics")
        assert status == 200 and b'icesco_crawls_total{status="ok"} 1' in body

        # A second service on the same database refuses to start.
        second = start(tmp_path, free_port())
        out, err = second.communicate(timeout=30)
        assert second.returncode == 3
        db = tmp_path / "svc.db"
        assert err.strip().splitlines()[-1] == (
            f"icesco-monitor: an icesco-monitor service on {db} is already running (pid {proc.pid}; lock file"
            f" {db}.service.lock); not starting a second one"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
    assert last_log(err) == "INFO monitor.service: stopped"


def test_sigterm_during_a_slow_crawl_stops_within_seconds(tmp_path: Path) -> None:
    import datetime as dt

    from fakesite import FakeSite, SiteArticle

    article = SiteArticle(
        slug="a-slow-one", title="A Slow One", published=dt.datetime.now(dt.UTC), paragraphs=["Text."]
    )
    with FakeSite([article]) as site:
        site.delay("/en/category/news/", 60)
        cfg = write_config(
            tmp_path,
            database=str(tmp_path / "svc.db"),
            crawl={"start_urls": [f"{site.base_url}/en/category/news/"], "download_delay": 0, "timeout": 120},
            service={"mode": "live", "crawl_every_minutes": 60},
        )
        proc = subprocess.Popen(
            cli_command("serve", "--port", str(free_port()), config=cfg),
            cwd=tmp_path,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_until(lambda: any(h.path == "/en/category/news/" for h in site.hits), 30, 0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert took < 10, took
    assert last_log(err) == "INFO monitor.service: stopped"


def test_the_scheduler_writes_the_feed_files_once_per_change(tmp_path: Path) -> None:
    """feed.out_dir is written by the service's publish step (at start, after crawls), only
    when the archive changed since the files were written."""
    import datetime as dt

    from crawler.items import ArticleItem
    from monitor.archive import Archive
    from monitor.config import Config
    from monitor.service import Service

    out = tmp_path / "public"
    cfg = Config(database=str(tmp_path / "svc.db"))
    cfg.feed.out_dir = str(out)
    with Archive(cfg.database) as a:
        a.store(
            [ArticleItem(title="First", paragraphs=["One."], published_at="2026-01-02")],
            dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        )
    service = Service(cfg, None, "127.0.0.1", 0)
    service.publish()
    assert len(feedparser.parse((out / "feed.xml").read_bytes()).entries) == 1
    assert (out / "atom.xml").exists()
    stamp = (out / "feed.xml").stat().st_mtime_ns
    time.sleep(0.01)
    service.publish()  # nothing changed: not rewritten
    assert (out / "feed.xml").stat().st_mtime_ns == stamp
    with Archive(cfg.database) as a:
        a.store(
            [ArticleItem(title="Second", paragraphs=["Two."], published_at="2026-01-03")],
            dt.datetime(2026, 1, 3, tzinfo=dt.UTC),
        )
    service.feeds.refresh(Archive(cfg.database, migrate=False))  # as a GET would: in memory only
    service.publish()  # the files are older than what is served: written
    assert len(feedparser.parse((out / "feed.xml").read_bytes()).entries) == 2
