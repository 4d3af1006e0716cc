"""Delivery channels (feeds/channels.py): the registry, the outbox folder, SMTP (a real
server on 127.0.0.1), and a channel of the test's own, used by run_digests through the
protocol alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Self

import pytest
from smtpsink import ReceivedEnvelope, SmtpSink

from crawler.items import ArticleItem
from feeds import channels
from feeds.channels import CHANNELS, Channel, OutboxChannel, SmtpChannel, channel_for
from feeds.delivery import run_digests
from feeds.digests import message_id, render_digest
from feeds.envelope import message_bytes
from feeds.mailer import Credentials, DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from feeds.settings import DigestSettings, PublishConfig, SmtpSettings, Subscriber
from monitor.archive import Archive, DigestRow
from monitor.config import Config

pytestmark = pytest.mark.integration

T = dt.datetime(2026, 11, 21, 10, 15, 30, tzinfo=dt.UTC)
READER = "reader@example.org"
KEY = "daily:2026-11-21"
MID = message_id(READER, KEY)
FILE_NAME = MID.strip("<>") + ".eml"  # 32 hex digits @ the domain, .eml


def ledger_bytes(**settings: str) -> bytes:
    """A digest as the ledger keeps it (``message_bytes`` of the rendered message)."""
    rows = [
        DigestRow(
            seq=1,
            id="0123456789abcdef",
            url="https://icesco.org/en/2024/07/11/icesco-and-unesco/",
            lang="en",
            title="ICESCO and UNESCO sign an agreement",
            subtitle=None,
            body="The two organisations met in Rabat.\n\nA second paragraph: café, مرحبا.",
            published_at="2024-07-11",
            first_seen_at="2024-07-11T10:00:00+00:00",
            categories=("news",),
        )
    ]
    msg = render_digest(Subscriber(address=READER), rows, T, DigestSettings(**settings), digest_key=KEY)
    assert msg["Message-ID"] == MID
    return message_bytes(msg)


def config(tmp_path: Path, **smtp: object) -> Config:
    cfg = Config()
    cfg.database = str(tmp_path / "archive.db")
    cfg.digest.outbox = str(tmp_path / "outbox")
    for key, value in smtp.items():
        setattr(cfg.smtp, key, value)
    cfg.subscribers = [Subscriber(address=READER, cadence="immediate")]
    return cfg


def articles(prefix: str, n: int) -> list[ArticleItem]:
    return [ArticleItem(title=f"{prefix} {i}", paragraphs=[f"Paragraph of {prefix} {i}."]) for i in range(1, n + 1)]


def ledger(a: Archive) -> list[tuple[str, str, str, int, str | None, bytes]]:
    """(address, message_id, status, attempts, last_error, the bytes) per delivery."""
    return [
        (r[0], r[1], r[2], r[3], r[4], bytes(r[5]))
        for r in a.conn.execute(
            "SELECT address, message_id, status, attempts, last_error, message FROM deliveries ORDER BY id"
        )
    ]


# --- the registry ---------------------------------------------------------------------------


def test_the_registry_has_one_class_per_kind() -> None:
    assert CHANNELS == {"smtp": SmtpChannel, "outbox": OutboxChannel}
    assert {kind: cls.kind for kind, cls in CHANNELS.items()} == {"smtp": "smtp", "outbox": "outbox"}


def test_the_factory_picks_smtp_when_a_host_is_set_else_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICESCO_SMTP_USERNAME", "mailer")
    monkeypatch.setenv("ICESCO_SMTP_PASSWORD", "s3cret")
    no_host = channel_for(config(tmp_path))
    assert (type(no_host), no_host.where) == (OutboxChannel, f"outbox {tmp_path / 'outbox'}")

    smtp_cfg = config(tmp_path, host="127.0.0.1", port=2525, security="starttls", timeout=7.0)
    smtp = channel_for(smtp_cfg)
    assert isinstance(smtp, SmtpChannel)
    assert (smtp.kind, smtp.where, smtp.settings, smtp.credentials) == (
        "smtp",
        "127.0.0.1:2525",
        SmtpSettings(host="127.0.0.1", port=2525, security="starttls", timeout=7.0),
        Credentials(username="mailer", password="s3cret"),  # from the environment, never the config
    )
    assert smtp.settings is smtp_cfg.smtp
    assert "s3cret" not in repr(smtp.credentials)

    forced = channel_for(smtp_cfg, tmp_path / "elsewhere")  # digest --outbox DIR beats the SMTP host
    assert (type(forced), forced.where) == (OutboxChannel, f"outbox {tmp_path / 'elsewhere'}")


# --- the outbox folder ----------------------------------------------------------------------


def test_the_outbox_writes_the_ledger_bytes_under_the_message_id_and_a_resend_is_the_same_file(
    tmp_path: Path,
) -> None:
    data = ledger_bytes()
    outbox = OutboxChannel(tmp_path / "outbox")
    first = outbox.deliver(data, message_id=MID, recipient=READER)
    assert first == tmp_path / "outbox" / FILE_NAME
    assert first.read_bytes() == data
    again = outbox.deliver(data, message_id=MID, recipient=READER)  # a crash re-send
    assert again == first
    assert [(p.name, p.read_bytes()) for p in sorted((tmp_path / "outbox").iterdir())] == [(FILE_NAME, data)]


def test_run_digests_puts_exactly_the_ledger_bytes_in_the_outbox(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)  # records the subscriber
        a.store(articles("News", 2), T)
        report = run_digests(cfg, a, T)
        ((address, mid, status, attempts, error, data),) = ledger(a)
    assert (address, status, attempts, error) == (READER, "sent", 1, None)
    name = mid.strip("<>") + ".eml"
    assert report.written == [tmp_path / "outbox" / name]
    assert [(p.name, p.read_bytes()) for p in (tmp_path / "outbox").iterdir()] == [(name, data)]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("file-in-the-way", "File exists"),  # the outbox path is a regular file
        ("under-a-file", "Not a directory"),  # the outbox path is below a regular file
    ],
)
def test_an_outbox_that_cannot_be_written_is_a_temporary_failure_naming_it(
    tmp_path: Path, make: str, reason: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    folder = blocker if make == "file-in-the-way" else blocker / "outbox"
    with pytest.raises(TemporaryDeliveryError) as info:
        OutboxChannel(folder).deliver(ledger_bytes(), message_id=MID, recipient=READER)
    err = info.value
    assert (type(err), err.permanent, err.code, str(err)) == (
        TemporaryDeliveryError,
        False,
        None,
        f"outbox {folder}: cannot write {FILE_NAME}: {reason}",
    )
    assert isinstance(err.__cause__, OSError)
    assert [(p.name, p.read_text()) for p in tmp_path.iterdir()] == [("blocker", "a file, not a folder")]


def test_a_blocked_outbox_is_retried_with_the_same_bytes_into_one_file(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    blocked = tmp_path / "outbox"
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(articles("News", 1), T)
        blocked.write_text("in the way")
        report = run_digests(cfg, a, T)
        ((_, mid, status, attempts, error, data),) = ledger(a)
        name = mid.strip("<>") + ".eml"
        text = f"outbox {blocked}: cannot write {name}: File exists"
        assert (report.sent, report.retrying, report.written, status, attempts, error) == (0, 1, [], "retry", 1, text)
        assert report.messages == [f"digest to {READER} will be retried at 2026-11-21T10:20:30+00:00: {text}"]

        blocked.unlink()
        resent = run_digests(cfg, a, T + dt.timedelta(minutes=5))
        assert [r[2:5] for r in ledger(a)] == [("sent", 2, None)]
    assert resent.written == [blocked / name]
    assert [(p.name, p.read_bytes()) for p in blocked.iterdir()] == [(name, data)]


# --- SMTP -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [{}, {"unsubscribe_url": "https://news.example.org/unsubscribe?token=" + "t" * 120}],
    ids=["plain", "long-unsubscribe-url"],
)
def test_the_smtp_channel_delivers_exactly_the_ledger_bytes(sink: SmtpSink, settings: dict[str, str]) -> None:
    data = ledger_bytes(**settings)
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    assert channel.deliver(data, message_id=MID, recipient=READER) is None
    assert sink.envelopes == [ReceivedEnvelope("icesco-monitor@localhost", [READER], data.replace(b"\n", b"\r\n"))]


def test_the_smtp_channel_maps_550_to_a_permanent_failure(sink: SmtpSink) -> None:
    sink.refuse_rcpt(550, "5.1.1 no such user")
    with pytest.raises(PermanentDeliveryError) as info:
        SmtpChannel(SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10)).deliver(
            ledger_bytes(), message_id=MID, recipient=READER
        )
    err = info.value
    assert (type(err), err.permanent, err.code, str(err)) == (
        PermanentDeliveryError,
        True,
        550,
        f"127.0.0.1:{sink.port}: recipient {READER} refused: 550 5.1.1 no such user",
    )
    assert sink.envelopes == []


def test_the_smtp_channel_maps_451_to_a_temporary_failure(sink: SmtpSink) -> None:
    sink.fail_data(451, "4.3.0 try again later")
    with pytest.raises(TemporaryDeliveryError) as info:
        SmtpChannel(SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10)).deliver(
            ledger_bytes(), message_id=MID, recipient=READER
        )
    err = info.value
    assert (type(err), err.permanent, err.code, str(err)) == (
        TemporaryDeliveryError,
        False,
        451,
        f"127.0.0.1:{sink.port}: refused the message: 451 4.3.0 try again later",
    )


def test_run_digests_with_an_smtp_host_sends_the_ledger_bytes(tmp_path: Path, sink: SmtpSink) -> None:
    cfg = config(tmp_path, host="127.0.0.1", port=sink.port, timeout=10.0)
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(articles("News", 2), T)
        report = run_digests(cfg, a, T)
        ((_, _, status, attempts, error, data),) = ledger(a)
    assert (report.sent, report.written, status, attempts, error) == (1, [], "sent", 1, None)
    assert sink.envelopes == [ReceivedEnvelope("icesco-monitor@localhost", [READER], data.replace(b"\n", b"\r\n"))]
    assert not (tmp_path / "outbox").exists()


# --- a channel of our own: the seam ---------------------------------------------------------


class ListChannel:
    """Appends what it is given to a list; fails as told first."""

    kind: ClassVar[str] = "list"
    delivered: ClassVar[list[tuple[bytes, str, str]]] = []
    failures: ClassVar[list[DeliveryError]] = []  # raised, one per delivery, before it delivers
    made: ClassVar[list[tuple[str, Path | None]]] = []  # (configured outbox, outbox given) per from_config

    def __init__(self) -> None:
        self.where = "a list"

    @classmethod
    def from_config(cls, cfg: PublishConfig, outbox: Path | None) -> Self:
        cls.made.append((cfg.digest.outbox, outbox))
        return cls()

    def deliver(self, message_bytes: bytes, *, message_id: str, recipient: str) -> Path | None:
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append((message_bytes, message_id, recipient))
        return None


@pytest.fixture
def list_channel(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[ListChannel]]:
    """ListChannel registered as kind "list", and that kind chosen whatever the config says."""
    monkeypatch.setitem(CHANNELS, "list", ListChannel)
    monkeypatch.setattr(channels, "kind_for", lambda cfg, outbox_override=None: "list")
    monkeypatch.setattr(ListChannel, "delivered", [])
    monkeypatch.setattr(ListChannel, "failures", [])
    monkeypatch.setattr(ListChannel, "made", [])
    yield ListChannel


def test_a_registered_kind_is_what_the_factory_makes(tmp_path: Path, list_channel: type[ListChannel]) -> None:
    channel: Channel = channel_for(config(tmp_path), tmp_path / "forced")  # mypy: ListChannel is a Channel
    assert (type(channel), channel.kind, channel.where) == (ListChannel, "list", "a list")
    assert list_channel.made == [(str(tmp_path / "outbox"), tmp_path / "forced")]


def test_run_digests_delivers_through_a_registered_channel_and_retries_the_same_bytes(
    tmp_path: Path, list_channel: type[ListChannel]
) -> None:
    cfg = config(tmp_path, host="127.0.0.1", port=1)  # neither SMTP nor the outbox is used
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(articles("News", 3), T)
        list_channel.failures.append(TemporaryDeliveryError("a list: no room"))
        failed = run_digests(cfg, a, T)
        ((_, mid, status, attempts, error, data),) = ledger(a)
        assert (failed.sent, failed.retrying, failed.failed, status, attempts, error) == (
            0,
            1,
            0,
            "retry",
            1,
            "a list: no room",
        )
        assert list_channel.delivered == []

        later = T + dt.timedelta(minutes=5)
        sent = run_digests(cfg, a, later)
        assert (sent.sent, sent.retrying, sent.failed, sent.written, sent.messages) == (1, 0, 0, [], [])
        assert [r[2:5] for r in ledger(a)] == [("sent", 2, None)]
        assert list_channel.delivered == [(data, mid, READER)]  # the ledger's bytes, its Message-ID

        a.store(articles("Refused", 1), later)
        list_channel.failures.append(PermanentDeliveryError("a list: closed for good", 550))
        refused = run_digests(cfg, a, later)
        assert (refused.sent, refused.retrying, refused.failed) == (0, 0, 1)
        assert refused.messages == [f"digest to {READER} failed for good: a list: closed for good"]
        assert [r[2:5] for r in ledger(a)] == [("sent", 2, None), ("failed", 1, "a list: closed for good")]
        assert run_digests(cfg, a, later + dt.timedelta(days=1)).sent == 0  # a permanent failure is not retried
    assert list_channel.delivered == [(data, mid, READER)]
    assert list_channel.made == [(cfg.digest.outbox, None)] * 5
    assert not (tmp_path / "outbox").exists()
