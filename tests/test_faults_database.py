"""Fault campaign, a database that refuses a write (as a full disk does at that write,
through a trigger) or is not a database: at the start of a run, in the digest ledger, at the
end of a run, in the service's jobs. One clear line naming the database, no traceback,
nothing fetched, sent or stored unrecorded; with room again, the work is done once."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
from pathlib import Path

import pytest
from fakesite import FakeSite
from faultkit import (
    DUMP_000,
    DUMP_001,
    NOW,
    archive_rows,
    check_archive,
    dump_rows,
    fault_site_articles,
    iso,
    refusing,
    subscribed_archive,
)
from helpers import last_json, run_cli, site_crawl, write_config

pytestmark = pytest.mark.faults


def test_a_run_that_cannot_be_recorded_at_its_start_fetches_and_stores_nothing(tmp_path: Path) -> None:
    """The database opens but refuses the run's first row (as a full disk does): one clear
    line, no traceback, not a request sent, nothing stored."""
    with FakeSite(fault_site_articles(), per_page=5) as site:
        cfg = write_config(tmp_path, crawl=site_crawl(f"{site.base_url}/en/category/news/"))
        db = tmp_path / "archive.db"
        assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
        before = archive_rows(db)
        with refusing(db, "INSERT ON runs"):
            replay = run_cli("crawl", "--replay", str(DUMP_001), "--json", config=cfg)
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
    assert not outbox.exists()
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
    assert not outbox.exists()
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
    second = DUMP_001
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
