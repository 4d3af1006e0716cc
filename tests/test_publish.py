"""Publishing end to end: feed files from the archive, and digests received by a real
SMTP server on 127.0.0.1, with the ledger that makes them exactly-once."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import sqlite3
from pathlib import Path
from typing import Any

import feedparser
import helpers
import pytest
from helpers import DUMPS, SAMPLES, cli_env, crawl_json, last_json, run_cli
from smtpsink import SmtpSink

pytestmark = pytest.mark.integration

# Digest runs pretend to be a day later (--now): after the next 07:00 UTC, whatever the hour.
AFTER = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1, hours=1)


def subscribe(cfg: Path) -> dict[str, Any]:
    """The first digest run: records the subscription now, sends nothing. No waiting
    around it: what is crawled next is after it by sequence number, whatever the second."""
    return digest(cfg, dt.datetime.now(dt.UTC))


def write_config(tmp_path: Path, **sections: Any) -> Path:
    """A config with one daily subscriber whose digests go to ``tmp_path/outbox``."""
    defaults: dict[str, Any] = {
        "feed": {"base_url": "http://127.0.0.1:8080/"},
        "digest": {"outbox": str(tmp_path / "outbox"), "retry_minutes": 5},
        "subscribers": [{"address": "reader@example.org", "cadence": "daily", "at": "07:00"}],
    }
    return helpers.write_config(tmp_path, **{**defaults, **sections})


def digest(cfg: Path, now: dt.datetime, *args: str) -> dict[str, Any]:
    """A digest run that fails nothing for good (exit 0), as its JSON summary."""
    proc = run_cli("digest", "--json", "--now", now.isoformat(), *args, config=cfg)
    assert proc.returncode == 0, proc.stderr
    return last_json(proc)


def ledger(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "archive.db") as conn:
        return conn.execute("SELECT address, status, attempts, message_id FROM deliveries ORDER BY id").fetchall()


def test_feed_files_are_valid_ordered_and_byte_stable(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    crawl_json("--replay", str(DUMPS), db=tmp_path / "archive.db", config=cfg)
    out = tmp_path / "public"
    assert run_cli("feed", "--out", str(out), config=cfg).returncode == 0
    rss, atom = (out / "feed.xml").read_bytes(), (out / "atom.xml").read_bytes()
    parsed = feedparser.parse(rss)
    assert not parsed.bozo
    proc = run_cli("articles", "--limit", "50", "--json", config=cfg)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e.title for e in parsed.entries] == [r["title"] for r in rows]
    assert len(parsed.entries) == 50
    guids = [e.id for e in parsed.entries]
    assert not feedparser.parse(atom).bozo
    # The JSON Feed file: the same items, the same ids, in the same order.
    json_feed = json.loads((out / "feed.json").read_bytes())
    assert [(i["id"], i["title"]) for i in json_feed["items"]] == [(e.id, e.title) for e in parsed.entries]

    # Replaying again (nothing new) rebuilds identical bytes with the same GUIDs.
    crawl_json("--replay", str(DUMPS), db=tmp_path / "archive.db", config=cfg)
    assert run_cli("feed", "--out", str(out), config=cfg).returncode == 0
    assert (out / "feed.xml").read_bytes() == rss and (out / "atom.xml").read_bytes() == atom

    # An edit changes the entry but not its GUID.
    edited = tmp_path / "edited"
    edited.mkdir()
    text = (DUMPS / "004_e43dae5bf61759dd.txt").read_text(encoding="utf-8")
    edited_text = text.replace(
        "The meeting was attended on behalf of ICESCO", "The meeting, a corrected one, was attended on behalf of ICESCO"
    )
    assert edited_text != text
    (edited / "004_e43dae5bf61759dd.txt").write_text(edited_text, encoding="utf-8")
    assert crawl_json("--replay", str(edited), db=tmp_path / "archive.db", config=cfg)["updated"] == 1
    assert run_cli("feed", "--out", str(out), config=cfg).returncode == 0
    again = feedparser.parse((out / "feed.xml").read_bytes())
    assert sorted(e.id for e in again.entries) == sorted(guids)
    atom_entries = feedparser.parse((out / "atom.xml").read_bytes()).entries
    updated = [e for e in atom_entries if e.title.startswith("Exploring Prospects for Cooperation between ICESCO")]
    assert len(updated) == 1 and updated[0].updated != updated[0].published


def smtp_config(tmp_path: Path, sink: SmtpSink, **kw: Any) -> Path:
    return write_config(tmp_path, smtp={"host": "127.0.0.1", "port": sink.port, "timeout": 5}, **kw)


def test_digests_exactly_once_over_smtp(tmp_path: Path, sink: SmtpSink) -> None:
    cfg = smtp_config(tmp_path, sink)
    db = tmp_path / "archive.db"
    crawl_json("--replay", str(DUMPS / "000_84405bf65da9c262.txt"), db=db, config=cfg)
    first = subscribe(cfg)  # records the subscription, sends nothing (no back catalogue)
    assert (first["subscribed"], first["sent"], sink.messages) == (["reader@example.org"], 0, [])

    crawl_json("--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), db=db, config=cfg)
    result = digest(cfg, AFTER)
    assert (result["sent"], result["failed"], result["retrying"]) == (1, 0, 0)
    (msg,) = sink.messages
    assert [e.rcpt_tos for e in sink.envelopes] == [["reader@example.org"]]
    assert msg["To"] == "reader@example.org"
    assert msg["Subject"] == f"ICESCO news: 10 new articles — {AFTER.day} {AFTER:%B %Y}"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    for title in (
        "ICESCO Participates in 9th Education ODA Conference",
        "ICESCO and IOM explore strengthening cooperation",
    ):
        assert title in text
    assert "ICESCO DG Receives Ambassador of Greece to Rabat" not in text  # first seen before subscribing
    assert msg["List-Id"] and msg["List-Unsubscribe"] and msg["Message-ID"]

    # A second run sends nothing; the ledger says sent once.
    assert digest(cfg, AFTER)["sent"] == 0
    assert digest(cfg, AFTER + dt.timedelta(days=1))["sent"] == 0  # nothing new: no empty digest
    assert len(sink.messages) == 1
    assert ledger(tmp_path) == [("reader@example.org", "sent", 1, msg["Message-ID"])]


def test_a_refused_or_dropped_delivery_arrives_on_a_later_run(tmp_path: Path, sink: SmtpSink) -> None:
    cfg = smtp_config(tmp_path, sink)
    db = tmp_path / "archive.db"
    subscribe(cfg)
    crawl_json("--replay", str(DUMPS / "002_6d19791ecb33e012.txt"), db=db, config=cfg)
    sink.fail_data(451)
    result = digest(cfg, AFTER)
    assert (result["sent"], result["retrying"], result["failed"]) == (0, 1, 0)
    retry_at = (AFTER + dt.timedelta(minutes=5)).isoformat()
    refused = f"127.0.0.1:{sink.port}: refused the message: 451 4.3.0 try again later"
    assert result["messages"] == [f"digest to reader@example.org will be retried at {retry_at}: {refused}"]
    sink.drop_after_data()
    assert digest(cfg, AFTER + dt.timedelta(minutes=1))["sent"] == 0  # the retry is not due yet
    result = digest(cfg, AFTER + dt.timedelta(minutes=6))
    assert (result["sent"], result["retrying"]) == (0, 1)
    sink.reset()
    result = digest(cfg, AFTER + dt.timedelta(minutes=30))
    assert result["sent"] == 1
    ids = {m["Message-ID"] for m in sink.messages}
    assert [m["Subject"].split(" — ")[0] for m in sink.messages] == ["ICESCO news: 10 new articles"]
    ((address, status, attempts, message_id),) = ledger(tmp_path)
    assert (address, status, attempts, message_id) == ("reader@example.org", "sent", 3, ids.pop())


def test_a_crash_between_sending_and_recording_resends_once_with_the_same_message_id(
    tmp_path: Path, sink: SmtpSink
) -> None:
    cfg = smtp_config(tmp_path, sink)
    subscribe(cfg)
    crawl_json("--replay", str(DUMPS / "003_2135c32ebc42c8fc.txt"), db=tmp_path / "archive.db", config=cfg)
    assert digest(cfg, AFTER)["sent"] == 1
    # The state a crash after the SMTP transaction and before the ledger update leaves.
    with sqlite3.connect(tmp_path / "archive.db") as conn:
        conn.execute("UPDATE deliveries SET status = 'sending'")
    assert digest(cfg, AFTER + dt.timedelta(minutes=1))["sent"] == 1
    assert digest(cfg, AFTER + dt.timedelta(minutes=2))["sent"] == 0
    assert [m["Message-ID"] for m in sink.messages] == [sink.messages[0]["Message-ID"]] * 2
    assert sink.messages[0].as_bytes() == sink.messages[1].as_bytes()


def test_a_permanent_refusal_is_recorded_and_reported(tmp_path: Path, sink: SmtpSink) -> None:
    cfg = smtp_config(tmp_path, sink)
    subscribe(cfg)
    crawl_json("--replay", str(DUMPS / "004_e43dae5bf61759dd.txt"), db=tmp_path / "archive.db", config=cfg)
    sink.refuse_rcpt(550)
    proc = run_cli("digest", "--now", AFTER.isoformat(), config=cfg)
    assert proc.returncode == 1
    assert "digest to reader@example.org failed for good" in proc.stdout and "550" in proc.stdout
    assert [row[:3] for row in ledger(tmp_path)] == [("reader@example.org", "failed", 1)]
    assert digest(cfg, AFTER + dt.timedelta(hours=1))["sent"] == 0  # not retried, not re-sent
    assert sink.messages == []
    status = run_cli("status", config=cfg).stdout
    assert "digests:   0 sent, 0 waiting, 1 failed; subscribers: reader@example.org" in status
    assert "  failed: reader@example.org daily:" in status and "550" in status


def test_dry_run_writes_eml_files_and_records_nothing(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        subscribers=[
            {"address": "reader@example.org", "cadence": "daily", "at": "07:00"},
            {"address": "french@example.org", "cadence": "weekly", "weekday": "monday", "languages": ["fr"]},
        ],
    )
    subscribe(cfg)
    crawl_json(
        "--replay",
        str(DUMPS / "001_5d01d3af697e6fda.txt"),
        str(SAMPLES / "article-fr-2022-12-05.txt"),
        db=tmp_path / "archive.db",
        config=cfg,
    )
    outbox = tmp_path / "dry"
    result = digest(cfg, AFTER + dt.timedelta(days=7), "--dry-run", "--outbox", str(outbox))
    assert result["dry_run"] is True
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2 == len(result["written"])
    assert ledger(tmp_path) == []
    # The real run then sends the same two digests (to the configured outbox: no SMTP host).
    real = digest(cfg, AFTER + dt.timedelta(days=7))
    assert real["sent"] == 2
    assert sorted(p.name for p in (tmp_path / "outbox").glob("*.eml")) == [f.name for f in files]


def test_hostile_articles_stay_inert_in_feeds_and_mail(tmp_path: Path, sink: SmtpSink) -> None:
    cfg = smtp_config(tmp_path, sink)
    subscribe(cfg)
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    title = "ICESCO <script>alert(1)</script> Bcc: evil@example.com \x1b]0;x\x07 Title"
    body = ["<img src=x onerror=alert(1)> ]]> javascript:alert(2) \x01 ok.", "word " * 200_000 + "end."]
    (hostile / "a.txt").write_text(f"{title}\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")
    (hostile / "a.txt.json").write_text(json.dumps({"url": "https://icesco.org/en/2026/01/01/javascript-alert/"}))
    result = crawl_json("--replay", str(hostile), db=tmp_path / "archive.db", config=cfg)
    assert (result["new"], result["errors"]) == (1, 0)
    out = tmp_path / "public"
    assert run_cli("feed", "--out", str(out), config=cfg).returncode == 0
    for name in ("feed.xml", "atom.xml"):
        data = (out / name).read_bytes()
        parsed = feedparser.parse(data)
        assert not parsed.bozo, name
        (entry,) = parsed.entries
        assert "<script" not in data.decode() and "\x1b" not in data.decode() and "\x01" not in data.decode()
        assert "onerror" not in entry.content[0].value.replace("&lt;img src=x onerror", "")
    assert digest(cfg, AFTER)["sent"] == 1
    (msg,) = sink.messages
    assert msg.get_all("Bcc") is None and msg.get_all("To") == ["reader@example.org"]
    assert [e.rcpt_tos for e in sink.envelopes] == [["reader@example.org"]]
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_subscriber_removed_and_added_again_gets_no_back_catalogue(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    db = tmp_path / "archive.db"
    subscribe(cfg)
    crawl_json("--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), db=db, config=cfg)
    gone = write_config(tmp_path, subscribers=[])
    assert digest(gone, AFTER)["sent"] == 0  # unsubscribed: forgotten
    crawl_json("--replay", str(DUMPS / "002_6d19791ecb33e012.txt"), db=db, config=gone)
    back = write_config(tmp_path)
    again = subscribe(back)
    assert (again["subscribed"], again["sent"]) == (["reader@example.org"], 0)
    crawl_json("--replay", str(DUMPS / "003_2135c32ebc42c8fc.txt"), db=db, config=back)
    result = digest(back, AFTER + dt.timedelta(days=1))
    assert result["sent"] == 1
    (path,) = [Path(p) for p in result["written"]]
    assert "10 new articles" in path.read_text(encoding="utf-8")


def test_smtp_secrets_never_reach_output_status_or_metrics(tmp_path: Path) -> None:
    secret = "s3cret-Pa55word-do-not-print"
    with SmtpSink(auth=("digest-bot", "the-right-password")) as sink:
        cfg = smtp_config(tmp_path, sink)
        subscribe(cfg)
        crawl_json("--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), db=tmp_path / "archive.db", config=cfg)
        env = cli_env(ICESCO_SMTP_USERNAME="digest-bot", ICESCO_SMTP_PASSWORD=secret)
        proc = run_cli("-v", "digest", "--now", AFTER.isoformat(), config=cfg, env=env)
        assert proc.returncode == 1  # authentication refused: a permanent failure
        assert "535" in proc.stdout and set(sink.auth_attempts) == {"digest-bot"} and sink.messages == []
        status = run_cli("-v", "status", "--json", config=cfg, env=env)
        from monitor.archive import Archive
        from monitor.web import metrics_text

        with Archive(tmp_path / "archive.db") as a:
            metrics = metrics_text(a.metrics())
        for text in (proc.stdout, proc.stderr, status.stdout, status.stderr, metrics):
            assert secret not in text
        assert "icesco_digests_failed_total 1" in metrics


def test_the_issue_s_commands_in_one_second_send_only_what_is_new(tmp_path: Path) -> None:
    """crawl, digest, crawl, digest of an `immediate` subscriber, both digests at the same
    --now: the second holds the ten articles of the second crawl, not the back catalogue,
    and is not skipped for falling in the second of the first."""
    cfg = write_config(tmp_path, subscribers=[{"address": "reader@example.org", "cadence": "immediate"}])
    db = tmp_path / "archive.db"
    now = dt.datetime(2026, 11, 21, 10, 15, 30, tzinfo=dt.UTC)
    crawl_json("--replay", str(DUMPS / "000_84405bf65da9c262.txt"), db=db, config=cfg)
    assert digest(cfg, now)["subscribed"] == ["reader@example.org"]
    crawl_json("--replay", str(DUMPS / "001_5d01d3af697e6fda.txt"), db=db, config=cfg)
    result = digest(cfg, now)
    (path,) = [Path(p) for p in result["written"]]
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "ICESCO news: 10 new articles — 21 November 2026"
    assert digest(cfg, now)["written"] == []
    status = run_cli("status", "--json", config=cfg)
    assert json.loads(status.stdout)["digests"] == {"sent": 1}
