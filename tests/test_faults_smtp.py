"""Fault campaign, SMTP faults of the mail server (a real SMTP server on 127.0.0.1): a
temporary fault (refused connection, 421 greeting or RCPT, 451 DATA, a dropped connection)
is retried and nothing is lost; a permanent one (550, 554) is recorded, shown in the status
and the metrics, and never retried."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultkit import DUMP_000, LoopbackServer, digest_titles, iso
from helpers import free_port, last_json, run_cli, write_config
from smtpsink import SmtpSink

from crawler.dumpfiles import read_dump
from monitor.archive import Archive
from monitor.web import metrics_text

pytestmark = pytest.mark.faults


ADDRESSES = ["ana@example.org", "bilal@example.org", "chen@example.org"]


def outcome(**changes: Any) -> dict[str, Any]:
    """A digest run's JSON summary: nothing done, but for ``changes``."""
    nothing = {"subscribed": [], "sent": 0, "retrying": 0, "failed": 0, "written": [], "messages": [], "dry_run": False}
    return {**nothing, **changes}


class Greeter(LoopbackServer):
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

    def digest(self, cfg: Path, at: dt.datetime, exit: int = 0) -> dict[str, Any]:
        """A digest run at ``at``, its JSON summary; it exits with ``exit`` (1: a digest failed for good)."""
        proc = run_cli("digest", "--json", "--now", iso(at), config=cfg)
        assert proc.returncode == exit, proc.stderr[-3000:]
        return last_json(proc)

    def ledger(self) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return conn.execute("SELECT address, status, attempts, message_id FROM deliveries ORDER BY id").fetchall()


@pytest.fixture
def mailing(tmp_path: Path, sink: SmtpSink) -> Mailing:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    m = Mailing(tmp_path, tmp_path / "archive.db", [], now + dt.timedelta(minutes=1))
    first = m.digest(m.config(sink.port), now - dt.timedelta(minutes=1))  # records the subscribers
    assert first == outcome(subscribed=ADDRESSES)
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
        result = m.digest(m.config(port), m.t1)
    where = f"127.0.0.1:{port}"
    retry_at = iso(m.t1 + dt.timedelta(minutes=5))
    assert result == outcome(
        retrying=3, messages=[f"digest to {a} will be retried at {retry_at}: {error(where, a)}" for a in ADDRESSES]
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
    assert m.digest(cfg, m.t1 + dt.timedelta(minutes=2)) == outcome()
    assert sink.messages == []
    assert m.digest(cfg, m.t1 + dt.timedelta(minutes=6)) == outcome(sent=3)
    assert m.digest(cfg, m.t1 + dt.timedelta(hours=1)) == outcome()
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
        assert m.digest(cfg, m.t1)["retrying"] == 3
        sink.fail_data(554, "5.7.1 message rejected")
        failed_at, attempts = m.t1 + dt.timedelta(minutes=6), 2
        errors = {a: f"{where}: refused the message: 554 5.7.1 message rejected" for a in ADDRESSES}
    assert m.digest(cfg, failed_at, exit=1) == outcome(
        failed=3, messages=[f"digest to {a} failed for good: {errors[a]}" for a in ADDRESSES]
    )

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
    assert m.digest(cfg, failed_at + dt.timedelta(hours=2)) == outcome()
    assert sink.messages == []
    assert [row[:3] for row in m.ledger()] == [(a, "failed", attempts) for a in ADDRESSES]
