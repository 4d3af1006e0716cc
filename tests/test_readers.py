"""Subscribers recorded in the archive (monitor/archive/readers.py) and their digests: a
pending one gets nothing, a confirmed one gets what is stored after confirming, an ended
one and an opted-out subscriber of config.yaml get nothing more. Real SQLite, the outbox."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest
from helpers import run_cli, write_config

from crawler.items import ArticleItem
from feeds.delivery import run_digests
from feeds.settings import Subscriber
from monitor.archive import Archive, ReaderRow
from monitor.config import Config

pytestmark = pytest.mark.integration

T = dt.datetime(2026, 11, 21, 10, 0, 0, tzinfo=dt.UTC)
WEB = "web.reader@example.org"
FILE = "file.reader@example.org"


def at(minutes: int) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


def articles(prefix: str, n: int, lang: str = "en") -> list[ArticleItem]:
    return [
        ArticleItem(title=f"{prefix} {i}", paragraphs=[f"Paragraph of {prefix} {i}."], lang=lang)
        for i in range(1, n + 1)
    ]


def config(tmp_path: Path, *subscribers: str) -> Config:
    cfg = Config()
    cfg.database = str(tmp_path / "archive.db")
    cfg.digest.outbox = str(tmp_path / "outbox")
    cfg.subscribers = [Subscriber(address=a, cadence="immediate") for a in subscribers]
    return cfg


def sent(a: Archive) -> list[tuple[str, list[str]]]:
    """(address, the titles of its articles) of every digest in the ledger, in order."""
    out = []
    for address, ids in a.conn.execute("SELECT address, article_ids FROM deliveries ORDER BY id"):
        out.append((address, [a.article(i).title for i in json.loads(ids)]))  # type: ignore[union-attr]
    return out


def test_a_reader_gets_only_what_is_stored_after_confirming(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with Archive(cfg.database) as a:
        a.store(articles("News A", 1), at(0))
        row = a.request_reader(WEB, "immediate", ["en"], ["news"], at(1))
        assert row == ReaderRow(
            address=WEB,
            cadence="immediate",
            languages=("en",),
            keywords=("news",),
            edits=0,
            status="pending",
            source="web",
            created_at="2026-11-21T10:01:00+00:00",
            token_at="2026-11-21T10:01:00+00:00",
            confirmed_at=None,
            ended_at=None,
        )
        a.store(articles("News B", 1), at(2))
        run_digests(cfg, a, at(3))
        assert sent(a) == []  # pending: nothing
        assert a.confirm_reader(WEB, "2026-11-21T10:00:59+00:00", at(4)) is False  # an older link
        assert a.confirm_reader(WEB, "2026-11-21T10:01:00+00:00", at(4)) is True
        assert a.confirm_reader(WEB, "2026-11-21T10:01:00+00:00", at(5)) is False  # a replay: nothing more
        run_digests(cfg, a, at(6))
        assert sent(a) == []  # nothing stored since confirming
        a.store(articles("News C", 1), at(7))
        run_digests(cfg, a, at(8))
        assert sent(a) == [(WEB, ["News C 1"])]
        assert a.request_reader(WEB, "daily", [], [], at(9)) is None  # active: left as it is
        assert a.reader(WEB) == ReaderRow(
            WEB, "immediate", ("en",), ("news",), 0, "active", "web",
            "2026-11-21T10:01:00+00:00", "2026-11-21T10:01:00+00:00", "2026-11-21T10:04:00+00:00", None,
        )  # fmt: skip


def test_an_ended_reader_and_an_opted_out_file_subscriber_get_nothing_more(tmp_path: Path) -> None:
    cfg = config(tmp_path, FILE)
    with Archive(cfg.database) as a:
        run_digests(cfg, a, at(0))  # records the file's subscriber
        a.add_reader(WEB, "immediate", [], [], True, at(0))
        a.store(articles("News A", 1), at(1))
        run_digests(cfg, a, at(2))
        assert sent(a) == [(FILE, ["News A 1"]), (WEB, ["News A 1"])]
        assert a.subscription(WEB) is not None  # the digest run keeps the archive's subscribers
        assert a.end_reader(WEB, at(3)) is True
        assert a.end_reader(FILE, at(3), opt_out=True) is True
        assert a.end_reader(FILE, at(4), opt_out=True) is False  # again: nothing changes
        assert a.opted_out() == {FILE}
        a.store(articles("News B", 1), at(5))
        run_digests(cfg, a, at(6))
        assert len(sent(a)) == 2  # nothing more to anyone
        assert [(r.address, r.status, r.source, r.edits, r.ended_at) for r in a.readers()] == [
            (WEB, "ended", "cli", 1, "2026-11-21T10:03:00+00:00")
        ]
        # Added again by the operator: the opt-out is lifted, no back catalogue.
        a.add_reader(FILE, "immediate", [], [], False, at(7))
        assert a.opted_out() == set()
        a.store(articles("News C", 1), at(8))
        run_digests(cfg, a, at(9))
        assert sent(a)[2:] == [(FILE, ["News C 1"])]


def test_the_subscribers_command_lists_adds_and_removes(tmp_path: Path) -> None:
    config_file = write_config(tmp_path, subscribers=[{"address": FILE, "cadence": "weekly", "languages": ["fr"]}])

    def cli(*args: str) -> tuple[int, str, str]:
        proc = run_cli("subscribers", *args, config=config_file)
        return proc.returncode, proc.stdout, proc.stderr

    assert cli("add", WEB, "--cadence", "immediate", "--languages", "en,ar", "--keywords", "heritage", "--edits") == (
        0,
        f"{WEB}: subscribed, immediate\n",
        "",
    )
    assert cli("list") == (
        0,
        f"{FILE}  config  active  weekly  fr\n{WEB}  cli  active  immediate  ar en, heritage\n",
        "",
    )
    code, out, _ = cli("list", "--json")
    assert (code, [json.loads(line) for line in out.splitlines()][1]) == (
        0,
        {"address": WEB, "source": "cli", "status": "active", "cadence": "immediate", "languages": ["ar", "en"], "keywords": ["heritage"]},
    )  # fmt: skip
    assert cli("remove", FILE) == (
        2,
        "",
        f"icesco-monitor: {FILE} is a subscriber of {config_file} (subscribers): remove it there\n",
    )
    assert cli("remove", WEB) == (0, f"{WEB}: unsubscribed\n", "")
    assert cli("remove", WEB) == (1, "", f"icesco-monitor: {WEB}: not subscribed\n")
    assert cli("add", "not an address") == (
        2,
        "",
        "icesco-monitor: ADDRESS: spaces and control characters are not allowed in an e-mail address,"
        " got 'not an address'\n",
    )
    with Archive(tmp_path / "archive.db") as a:
        assert [(r.address, r.status, r.source, r.edits) for r in a.readers()] == [(WEB, "ended", "cli", 1)]


def test_a_subscriber_with_edits_gets_the_articles_edited_since_the_last_digest(tmp_path: Path) -> None:
    cfg = config(tmp_path, FILE)
    cfg.subscribers.append(Subscriber(address=WEB, cadence="immediate", edits=True))
    old = ArticleItem(title="News A 1", paragraphs=["The council met in Rabat.", "It adopted a plan."], lang="en")
    new = ArticleItem(
        title="News A 1", paragraphs=["The council met in Rabat on Monday.", "It adopted a plan."], lang="en"
    )
    with Archive(cfg.database) as a:
        run_digests(cfg, a, at(0))  # records both
        a.store([old], at(1))
        run_digests(cfg, a, at(2))
        assert sent(a) == [(FILE, ["News A 1"]), (WEB, ["News A 1"])]
        a.store([new], at(3), fetched=True)  # an edit
        a.store(articles("News B", 1), at(3))
        report = run_digests(cfg, a, at(4))
        assert report.sent == 2
        assert sent(a)[2:] == [(FILE, ["News B 1"]), (WEB, ["News B 1"])]  # the ledger lists new articles only
        (data,) = [bytes(r[0]) for r in a.conn.execute("SELECT message FROM deliveries WHERE id = 4")]
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert msg["Subject"].startswith("ICESCO news: 1 new article, 1 edited — ")
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        edited_part = text[text.index("Edited since your last digest:") :].split("\n-- \n")[0]
        assert edited_part.splitlines()[:4] == [
            "Edited since your last digest:",
            "",
            "* News A 1",
            '   edited: 3 words added, 1 removed: "…Rabat on Monday."',
        ]
        (data,) = [bytes(r[0]) for r in a.conn.execute("SELECT message FROM deliveries WHERE id = 3")]
        assert "Edited since" not in data.decode()  # edits: false (the default)
        run_digests(cfg, a, at(5))
        assert len(sent(a)) == 4  # the edit is listed once
        a.store([old], at(6), fetched=True)  # edited back: an edits-only digest
        run_digests(cfg, a, at(7))
        assert sent(a)[4:] == [(WEB, [])]
