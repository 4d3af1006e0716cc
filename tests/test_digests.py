"""Digests: selection, schedule, the message itself, and its delivery (SMTP sink on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import json
import re
import smtplib
import socket
import traceback
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from smtpsink import SmtpSink

from feeds.channels import write_outbox
from feeds.digests import matches, message_id, render_digest
from feeds.mailer import (
    Credentials,
    DeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    send,
)
from feeds.settings import DigestSettings, SmtpSettings, Subscriber
from feeds.subscribers import AddressError, previous_due, validate_address
from monitor.archive import DigestRow

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 21, 6, 0, tzinfo=dt.UTC)
SITE = "http://127.0.0.1:8080/"
UNSUBSCRIBE_LINE = (
    "You receive this because reader@example.org is subscribed in icesco-monitor's configuration."
    " To unsubscribe, ask the operator to remove you, or reply with 'unsubscribe'."
)


def row(**kw: Any) -> DigestRow:
    """What a digest reads of an article; ``kw`` may put in values of any type (hostile rows)."""
    base: dict[str, Any] = {
        "seq": 1,
        "id": "0123456789abcdef",
        "url": "https://icesco.org/en/2024/07/11/icesco-and-unesco/",
        "lang": "en",
        "title": "ICESCO and UNESCO sign an agreement",
        "subtitle": None,
        "body": "The two organisations met in Rabat.\n\nA second paragraph.",
        "published_at": "2024-07-11",
        "first_seen_at": "2024-07-11T10:00:00+00:00",
        "categories": ("news",),
    }
    base.update(kw)
    return DigestRow(**base)


ROWS = [
    row(),
    row(
        id="fedcba9876543210",
        url=None,
        title="Youth forum in Baku",
        subtitle="Young leaders discuss heritage.",
        body="Body text.",
        published_at="2024-07-09T23:30:00+00:00",  # 10 July in Paris
        categories=["culture"],
        first_seen_at="2024-07-10T08:00:00+00:00",
    ),
    row(
        id="00000000000000aa",
        url="https://icesco.org/fr/2024/07/08/colloque/",
        lang="fr",
        title="Colloque à Rabat",
        published_at=None,
        body="Un paragraphe.",
        first_seen_at="2024-07-08T12:00:00+00:00",
    ),
]
SUB = Subscriber("reader@example.org", timezone="Europe/Paris")
SETTINGS = DigestSettings(unsubscribe_url="https://news.example.org/unsubscribe?token=abc")


def parsed(msg: EmailMessage) -> EmailMessage:
    """The message as a recipient sees it: serialised, then parsed again."""
    out = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(out, EmailMessage)
    return out


def parts(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.iter_parts() if isinstance(p, EmailMessage)]


def text_of(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage) and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("reader@example.org", "reader@example.org"),
        ("First.Last+tag@Sub.Example.ORG", "First.Last+tag@sub.example.org"),
        ("o'brien_1-x@mail.example.co.uk", "o'brien_1-x@mail.example.co.uk"),
        ("user@bücher.example", "user@xn--bcher-kva.example"),
    ],
)
def test_validate_address_accepts(address: str, expected: str) -> None:
    assert validate_address(address, where="subscribers[0].address") == expected


@pytest.mark.parametrize(
    "address",
    [
        "a@b",
        "x@y.com\r\nBcc: z@w.com",
        "x@y.com\nBcc: z@w.com",
        "A <a@b.com>",
        "<a@b.com>",
        "a@b.com, c@d.com",
        "a@b.com;c@d.com",
        "a b@c.com",
        "ab@c.com ",
        "",
        "plainaddress",
        "a@@b.com",
        "a@b@c.com",
        '"quoted"@example.com',
        "ünicode@example.com",
        ".dot@example.com",
        "do..t@example.com",
        "a@-bad.example.com",
        "a@example..com",
        "a@example.com.",
        "tab\t@example.com",
        "nul\x00@example.com",
        "a@1.2.3.4",
        "x" * 250 + "@example.com",
    ],
)
def test_validate_address_rejects(address: str) -> None:
    with pytest.raises(AddressError) as info:
        validate_address(address, where="subscribers[3].address")
    message = str(info.value)
    assert message.startswith("subscribers[3].address: ")
    assert "\r" not in message and "\n" not in message  # repr() of the address, never raw


def test_address_error_is_a_value_error() -> None:
    assert issubclass(AddressError, ValueError)


# --- selection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "article", "expected"),
    [
        (Subscriber("r@example.org"), row(), True),
        (Subscriber("r@example.org", languages=("en", "fr")), row(lang="fr"), True),
        (Subscriber("r@example.org", languages=("EN",)), row(lang="en"), True),
        (Subscriber("r@example.org", languages=("ar",)), row(lang="en"), False),
        (Subscriber("r@example.org", categories=("News",)), row(categories=["news", "culture"]), True),
        (Subscriber("r@example.org", categories=("science", "culture")), row(categories=["Culture"]), True),
        (Subscriber("r@example.org", categories=("science",)), row(categories=["news"]), False),
        (Subscriber("r@example.org", categories=("science",)), row(categories=[]), False),
        (Subscriber("r@example.org", categories=("news",)), row(categories='["news"]'), True),  # JSON, as stored
        (Subscriber("r@example.org", keywords=("unesco",)), row(), True),  # title
        (Subscriber("r@example.org", keywords=("LEADERS",)), row(subtitle="Young leaders meet"), True),
        (Subscriber("r@example.org", keywords=("rabat",)), row(), True),  # body
        (Subscriber("r@example.org", keywords=("heritage", "youth")), row(), False),
        (Subscriber("r@example.org", keywords=("heritage", "youth")), row(body="Youth day."), True),
        # every non-empty filter must match
        (Subscriber("r@example.org", keywords=("unesco",), languages=("fr",)), row(), False),
        (Subscriber("r@example.org", keywords=("unesco",), categories=("news",), languages=("en",)), row(), True),
    ],
)
def test_matches(sub: Subscriber, article: DigestRow, expected: bool) -> None:
    assert matches(sub, article) is expected


# --- schedule ----------------------------------------------------------------------------


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Paris goes from +01:00 to +02:00 at 02:00 local (01:00 UTC) on Sunday 2026-03-29.
        (utc(2026, 3, 28, 6, 0), utc(2026, 3, 28, 6, 0)),  # 07:00 CET, exactly due
        (utc(2026, 3, 28, 5, 59), utc(2026, 3, 27, 6, 0)),
        (utc(2026, 3, 29, 4, 59), utc(2026, 3, 28, 6, 0)),  # 06:59 CEST: not yet
        (utc(2026, 3, 29, 5, 0), utc(2026, 3, 29, 5, 0)),  # 07:00 CEST, one hour earlier in UTC
        (utc(2026, 3, 29, 5, 30), utc(2026, 3, 29, 5, 0)),
        (utc(2026, 3, 30, 4, 0), utc(2026, 3, 29, 5, 0)),
        # and back on Sunday 2026-10-25
        (utc(2026, 10, 25, 5, 59), utc(2026, 10, 24, 5, 0)),
        (utc(2026, 10, 25, 6, 0), utc(2026, 10, 25, 6, 0)),
    ],
)
def test_previous_due_daily_across_dst(now: dt.datetime, expected: dt.datetime) -> None:
    sub = Subscriber("r@example.org", cadence="daily", at="07:00", timezone="Europe/Paris")
    due = previous_due(sub, now)
    assert due == expected
    assert due.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 30, 4, 59), utc(2026, 3, 23, 7, 30)),  # Monday 06:59 CEST: last week's, 08:30 CET
        (utc(2026, 3, 30, 6, 30), utc(2026, 3, 30, 6, 30)),  # Monday 08:30 CEST
        (utc(2026, 4, 5, 12, 0), utc(2026, 3, 30, 6, 30)),  # Sunday after
        (utc(2026, 3, 29, 12, 0), utc(2026, 3, 23, 7, 30)),  # the DST Sunday itself
    ],
)
def test_previous_due_weekly_across_dst(now: dt.datetime, expected: dt.datetime) -> None:
    sub = Subscriber("r@example.org", cadence="weekly", at="08:30", weekday="Monday", timezone="Europe/Paris")
    assert previous_due(sub, now) == expected


def test_previous_due_wall_times_skipped_or_repeated_by_dst() -> None:
    night = Subscriber("r@example.org", at="02:30", timezone="Europe/Paris")
    # 02:30 does not exist on 2026-03-29: it happens at 03:30 CEST (01:30 UTC).
    assert previous_due(night, utc(2026, 3, 29, 1, 29)) == utc(2026, 3, 28, 1, 30)
    assert previous_due(night, utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 2026-10-25: the first one (CEST, 00:30 UTC) counts.
    assert previous_due(night, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 0, 30)
    assert previous_due(night, utc(2026, 10, 25, 1, 45)) == utc(2026, 10, 25, 0, 30)


def test_previous_due_takes_any_aware_now_and_answers_in_utc() -> None:
    sub = Subscriber("r@example.org", at="07:00", timezone="Asia/Tokyo")
    now = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 13:00 UTC
    assert previous_due(sub, now) == utc(2026, 11, 20, 22, 0)  # 07:00 JST on the 21st
    assert previous_due(sub, now).tzinfo == dt.UTC


def test_previous_due_hourly() -> None:
    sub = Subscriber("r@example.org", cadence="hourly", at="00:15", timezone="Asia/Kolkata")  # +05:30
    assert previous_due(sub, utc(2026, 11, 21, 6, 50)) == utc(2026, 11, 21, 6, 45)
    assert previous_due(sub, utc(2026, 11, 21, 6, 40)) == utc(2026, 11, 21, 5, 45)


@pytest.mark.parametrize(
    ("sub", "message"),
    [
        (Subscriber("r@example.org", cadence="monthly"), "cadence: "),
        (Subscriber("r@example.org", at="7am"), "at: "),
        (Subscriber("r@example.org", at="24:00"), "at: "),
        (Subscriber("r@example.org", cadence="weekly", weekday="someday"), "weekday: "),
        (Subscriber("r@example.org", timezone="Mars/Olympus"), "timezone: "),
    ],
)
def test_previous_due_rejects_bad_schedules(sub: Subscriber, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        previous_due(sub, NOW)


def test_previous_due_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        previous_due(SUB, dt.datetime(2026, 11, 21, 6, 0))


# --- the message -------------------------------------------------------------------------


def test_message_id_is_stable() -> None:
    expected = (
        "<" + hashlib.sha256(b"reader@example.org|daily:2026-11-21").hexdigest()[:32] + "@icesco-monitor.localhost>"
    )
    assert message_id("reader@example.org", "daily:2026-11-21") == expected
    assert message_id("reader@example.org", "daily:2026-11-21") == expected
    assert message_id("reader@example.org", "daily:2026-11-22") != expected
    assert message_id("other@example.org", "daily:2026-11-21") != expected
    assert message_id("reader@example.org", "k", domain="example.net").endswith("@example.net>")


def test_render_headers() -> None:
    msg = parsed(render_digest(SUB, ROWS, NOW, SETTINGS, digest_key="daily:2026-11-21"))
    headers = [(k, str(v)) for k, v in msg.items()]
    assert headers[:11] == [
        ("From", "icesco-monitor <icesco-monitor@localhost>"),
        ("To", "reader@example.org"),
        ("Subject", "ICESCO news: 3 new articles — 21 November 2026"),
        ("Date", "Sat, 21 Nov 2026 06:00:00 +0000"),
        ("Message-ID", message_id("reader@example.org", "daily:2026-11-21")),
        ("List-Id", "ICESCO news digest <digest.icesco-monitor.localhost>"),
        (
            "List-Unsubscribe",
            "<mailto:icesco-monitor@localhost?subject=unsubscribe%20reader@example.org>,"
            " <https://news.example.org/unsubscribe?token=abc>",
        ),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Auto-Submitted", "auto-generated"),
        ("Precedence", "bulk"),
        ("MIME-Version", "1.0"),
    ]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts(msg)] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts(msg)] == ["utf-8", "utf-8"]


def test_render_without_one_click_url_singular_and_local_date() -> None:
    sub = Subscriber("reader@example.org", timezone="Asia/Tokyo")
    now = utc(2026, 11, 21, 23, 30)  # already the 22nd in Tokyo
    msg = parsed(render_digest(sub, ROWS[:1], now, DigestSettings(), digest_key="k"))
    assert msg["Subject"] == "ICESCO news: 1 new article — 22 November 2026"
    assert msg["Date"] == "Sat, 21 Nov 2026 23:30:00 +0000"
    assert msg["List-Unsubscribe"] == "<mailto:icesco-monitor@localhost?subject=unsubscribe%20reader@example.org>"
    assert "List-Unsubscribe-Post" not in msg


def test_render_text_part_whole() -> None:
    msg = render_digest(SUB, ROWS, NOW, SETTINGS, digest_key="daily:2026-11-21")
    assert text_of(msg, "plain") == (
        "ICESCO news — 21 November 2026\n"
        "\n"
        "3 new articles in the archive since the last digest.\n"
        "\n"
        "1. ICESCO and UNESCO sign an agreement\n"
        "   11 July 2024\n"
        "   https://icesco.org/en/2024/07/11/icesco-and-unesco/\n"
        "\n"
        "   The two organisations met in Rabat.\n"
        "\n"
        "2. Youth forum in Baku\n"
        "   10 July 2024\n"
        "   http://127.0.0.1:8080/articles/fedcba9876543210\n"
        "\n"
        "   Young leaders discuss heritage.\n"
        "\n"
        "3. Colloque à Rabat\n"
        "   8 July 2024\n"
        "   https://icesco.org/fr/2024/07/08/colloque/\n"
        "\n"
        "   Un paragraphe.\n"
        "\n"
        "-- \n"
        "Archive: http://127.0.0.1:8080/\n"
        "Feed: http://127.0.0.1:8080/feed.xml\n"
        "\n"
        f"{UNSUBSCRIBE_LINE}\n"
    )


def test_render_html_part_items_in_order() -> None:
    html = text_of(render_digest(SUB, ROWS, NOW, SETTINGS, digest_key="k"), "html")
    expected = [
        (
            "https://icesco.org/en/2024/07/11/icesco-and-unesco/",
            "ICESCO and UNESCO sign an agreement",
            "11 July 2024",
            "The two organisations met in Rabat.",
        ),
        (
            "http://127.0.0.1:8080/articles/fedcba9876543210",
            "Youth forum in Baku",
            "10 July 2024",
            "Young leaders discuss heritage.",
        ),
        ("https://icesco.org/fr/2024/07/08/colloque/", "Colloque à Rabat", "8 July 2024", "Un paragraphe."),
    ]
    position = 0
    for link, title, date, lead in expected:
        for needle in (f'<a href="{link}" style="color:#0b5394;">{title}</a>', f">{date}</p>", f">{lead}</p>"):
            found = html.find(needle, position)
            assert found > position, needle
            position = found
    assert html.startswith("<!DOCTYPE html>")
    assert f">{UNSUBSCRIBE_LINE}</p>" in html
    assert '<a href="http://127.0.0.1:8080/feed.xml">Feed</a>' in html


def test_render_greets_by_name() -> None:
    sub = Subscriber("reader@example.org", name="Amina <admin>")
    msg = render_digest(sub, ROWS[:1], NOW, DigestSettings(), digest_key="k")
    assert "\nHello Amina <admin>,\n" in text_of(msg, "plain")
    assert "<p>Hello Amina &lt;admin&gt;,</p>" in text_of(msg, "html")
    assert msg["To"] == "reader@example.org"  # the name is not in the header


def test_lead_is_the_first_paragraph_cut_on_a_word() -> None:
    words = " ".join(f"word{i}" for i in range(100))  # 689 characters
    msg = render_digest(SUB, [row(body=f"{words}\n\nSecond paragraph.", subtitle="")], NOW, SETTINGS, digest_key="k")
    html = text_of(msg, "html")
    start = html.index('<p class="lead"')
    lead = html[html.index(">", start) + 1 : html.index("</p>", start)]
    assert lead.endswith(" word43…")  # "word43" ends at character 297
    assert len(lead) <= 301
    assert words.startswith(lead[:-1] + " ")
    assert "Second paragraph" not in html


def test_lead_falls_back_to_nothing_and_date_to_first_seen() -> None:
    article = row(subtitle=None, body="", published_at=None, first_seen_at="2024-07-12T23:30:00+00:00")
    text = text_of(render_digest(SUB, [article], NOW, SETTINGS, digest_key="k"), "plain")
    assert "1. ICESCO and UNESCO sign an agreement\n   13 July 2024\n   https://icesco.org/" in text  # Paris date


@pytest.mark.parametrize("url", [None, "", "ftp://icesco.org/x", "//icesco.org/x", "/en/x/", "https://exa mple.org/"])
def test_links_that_are_not_http_are_replaced_by_the_site_link(url: str | None) -> None:
    msg = render_digest(SUB, [row(url=url)], NOW, SETTINGS, digest_key="k")
    assert "   http://127.0.0.1:8080/articles/0123456789abcdef\n" in text_of(msg, "plain")
    assert '<a href="http://127.0.0.1:8080/articles/0123456789abcdef"' in text_of(msg, "html")


def test_render_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        render_digest(SUB, ROWS, dt.datetime(2026, 11, 21, 6, 0), SETTINGS, digest_key="k")


def test_render_rejects_an_unsafe_subscriber_address() -> None:
    with pytest.raises(AddressError):
        render_digest(Subscriber("x@y.com\r\nBcc: z@w.com"), ROWS, NOW, SETTINGS, digest_key="k")


HOSTILE = row(
    id="deadbeefdeadbeef",
    url="javascript:alert(1)",
    title="Evil\r\nBcc: evil@example.com\r\n\r\n<script>alert(1)</script>\x00\x07\x1b[31m\u202eexe.txt",
    subtitle='<img src=x onerror="alert(2)"> & \x0bmore\x85',
    body="",
    published_at="2024-07-11\r\nBcc: evil@example.com",
    first_seen_at="2024-07-11T10:00:00+00:00",
)


def test_hostile_article_content() -> None:
    sub = Subscriber("reader@example.org", name="Ann\r\nBcc: evil@example.com")
    original = render_digest(sub, [HOSTILE], NOW, DigestSettings(), digest_key="k")
    raw = original.as_bytes()
    msg = parsed(original)

    assert list(msg.keys()) == [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "Auto-Submitted",
        "Precedence",
        "MIME-Version",
        "Content-Type",
    ]
    assert msg.get_all("To") == ["reader@example.org"]
    assert msg.get_all("Bcc") is None
    assert msg["Subject"] == "ICESCO news: 1 new article — 21 November 2026"
    assert b"evil" not in raw.split(b"\n\n", 1)[0]  # no article text in the header section
    assert b"javascript:" not in raw.lower()

    html = text_of(msg, "html")
    text = text_of(msg, "plain")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt; &amp; more" in html
    assert "javascript:" not in html.lower() and "javascript:" not in text.lower()
    for ch in "\x00\x07\x0b\x1b\x85\u202e":
        assert ch not in html and ch not in text
    assert '<a href="http://127.0.0.1:8080/articles/deadbeefdeadbeef"' in html
    # In the text part the title is one line of the body, not a header.
    assert "\n1. Evil Bcc: evil@example.com <script>alert(1)</script>[31mexe.txt\n" in text
    assert "\n   11 July 2024\n" in text  # the unreadable published_at is skipped for first_seen_at
    assert "\nHello Ann Bcc: evil@example.com,\n" in text


def test_header_bound_settings_stay_on_one_line() -> None:
    settings = DigestSettings(list_id="ICESCO\r\nBcc: evil@example.com <digest.example.org>")
    msg = parsed(render_digest(SUB, ROWS, NOW, settings, digest_key="k"))
    assert msg["List-Id"] == "ICESCO Bcc: evil@example.com <digest.example.org>"
    assert msg.get_all("Bcc") is None
    bad_sender = DigestSettings(sender="icesco-monitor <icesco-monitor@localhost>\r\nBcc: evil@example.com")
    with pytest.raises(ValueError, match="^sender: "):
        render_digest(SUB, ROWS, NOW, bad_sender, digest_key="k")
    bad_url = DigestSettings(unsubscribe_url="https://news.example.org/u\r\nBcc: evil@example.com")
    with pytest.raises(ValueError, match="^unsubscribe_url: "):
        render_digest(SUB, ROWS, NOW, bad_url, digest_key="k")
    with pytest.raises(ValueError, match="^unsubscribe_url: "):
        render_digest(SUB, ROWS, NOW, DigestSettings(unsubscribe_url="http://news.example.org/u"), digest_key="k")


# --- delivery ----------------------------------------------------------------------------


def digest(**kw: Any) -> EmailMessage:
    return render_digest(SUB, ROWS, NOW, SETTINGS, digest_key="daily:2026-11-21", **kw)


def test_send_delivers_one_intact_message(sink: SmtpSink) -> None:
    msg = digest()
    send(msg, SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    assert len(sink.messages) == 1
    envelope = sink.envelopes[0]
    assert (envelope.mail_from, envelope.rcpt_tos) == ("icesco-monitor@localhost", ["reader@example.org"])
    got = sink.messages[0]
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert got.get_all(name) == [str(v) for v in msg.get_all(name, [])], name
    assert [p.get_content_type() for p in parts(got)] == ["text/plain", "text/html"]
    assert text_of(got, "plain") == text_of(msg, "plain")
    assert text_of(got, "html") == text_of(msg, "html")


def test_send_leaves_bcc_out_and_long_unsubscribe_urls_whole(sink: SmtpSink) -> None:
    long_url = "https://news.example.org/unsubscribe?token=" + "t" * 120
    msg = render_digest(SUB, ROWS, NOW, DigestSettings(unsubscribe_url=long_url), digest_key="k")
    stored = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)  # as a ledger keeps it
    assert isinstance(stored, EmailMessage)
    stored["Bcc"] = "hidden@example.org"
    send(stored, SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    got = sink.messages[0]
    assert got["List-Unsubscribe"] == (
        f"<mailto:icesco-monitor@localhost?subject=unsubscribe%20reader@example.org>, <{long_url}>"
    )
    assert "Bcc" not in got
    assert b"hidden" not in sink.envelopes[0].data
    assert sink.envelopes[0].rcpt_tos == ["reader@example.org"]


def test_refused_recipient_is_permanent(sink: SmtpSink) -> None:
    sink.refuse_rcpt(550, "5.1.1 no such user")
    with pytest.raises(PermanentDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    err = info.value
    assert (err.permanent, err.code) == (True, 550)
    assert err.message == f"127.0.0.1:{sink.port}: recipient reader@example.org refused: 550 5.1.1 no such user"
    assert str(err) == err.message
    assert isinstance(err, DeliveryError)
    assert sink.messages == []


def test_temporary_rcpt_refusal_is_temporary(sink: SmtpSink) -> None:
    sink.refuse_rcpt(450, "4.2.1 mailbox busy")
    with pytest.raises(TemporaryDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    assert (info.value.permanent, info.value.code) == (False, 450)


def test_data_failure_is_temporary(sink: SmtpSink) -> None:
    sink.fail_data(451)
    with pytest.raises(TemporaryDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    err = info.value
    assert (err.permanent, err.code) == (False, 451)
    assert err.message == f"127.0.0.1:{sink.port}: refused the message: 451 4.3.0 try again later"
    assert sink.messages == []
    sink.reset()
    send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    assert len(sink.messages) == 1


def test_data_rejection_is_permanent(sink: SmtpSink) -> None:
    sink.fail_data(554, "5.6.0 message rejected")
    with pytest.raises(PermanentDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    assert info.value.code == 554


def test_dropped_connection_is_temporary(sink: SmtpSink) -> None:
    sink.drop_after_data()
    with pytest.raises(TemporaryDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    err = info.value
    assert (err.permanent, err.code) == (False, None)
    assert err.message.startswith(f"127.0.0.1:{sink.port}: ")
    assert isinstance(err.__cause__, smtplib.SMTPServerDisconnected)
    assert sink.messages == []
    sink.reset()
    send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10))
    assert len(sink.messages) == 1


def test_closed_port_is_temporary() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nobody listens once it is closed
    with pytest.raises(TemporaryDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=port, timeout=5))
    err = info.value
    assert (err.permanent, err.code) == (False, None)
    assert err.message == f"127.0.0.1:{port}: cannot connect: Connection refused"


def test_wrong_password_is_permanent_and_never_shown() -> None:
    password = "s3cret-Pa55word"
    with SmtpSink(auth=("mailer", "right-password")) as sink:
        port = sink.port
        with pytest.raises(PermanentDeliveryError) as info:
            send(digest(), SmtpSettings(host="127.0.0.1", port=port, timeout=10), Credentials("mailer", password))
        assert sink.auth_attempts and set(sink.auth_attempts) == {"mailer"}  # AUTH really happened
        assert sink.messages == []
    err = info.value
    assert err.code == 535
    assert err.message == f"127.0.0.1:{port}: authentication failed: 535 5.7.8 Authentication credentials invalid"
    shown = "".join(traceback.format_exception(err)) + repr(err) + str(err.args)
    assert password not in shown
    assert password not in repr(Credentials("mailer", password))


def test_right_password_delivers() -> None:
    with SmtpSink(auth=("mailer", "right-password")) as sink:
        send(
            digest(),
            SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10),
            Credentials("mailer", "right-password"),
        )
        assert len(sink.messages) == 1


def test_credentials_without_auth_support_fail_permanently_without_the_password(sink: SmtpSink) -> None:
    password = "an0ther-secret"
    with pytest.raises(PermanentDeliveryError) as info:
        send(digest(), SmtpSettings(host="127.0.0.1", port=sink.port, timeout=10), Credentials("mailer", password))
    assert info.value.message == f"127.0.0.1:{sink.port}: SMTP AUTH extension not supported by server."
    assert password not in "".join(traceback.format_exception(info.value))


def test_no_credentials_in_clear_to_a_remote_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("must not connect")

    monkeypatch.setattr(smtplib, "SMTP", no_connection)
    with pytest.raises(PermanentDeliveryError, match="unencrypted"):
        send(digest(), SmtpSettings(host="192.0.2.1", port=25), Credentials("u", "p"))


def test_send_needs_from_and_to() -> None:
    msg = digest()
    del msg["To"]
    with pytest.raises(ValueError, match="To"):
        send(msg, SmtpSettings(host="127.0.0.1", port=1))


# --- outbox ------------------------------------------------------------------------------


def test_write_outbox(tmp_path: Path) -> None:
    msg = digest()
    outbox = tmp_path / "outbox"
    path = write_outbox(msg, outbox)
    mid = message_id("reader@example.org", "daily:2026-11-21")
    assert path == outbox / (mid.strip("<>") + ".eml")
    with path.open("rb") as fh:
        back = email.message_from_binary_file(fh, policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    assert back["Message-ID"] == mid
    assert back["To"] == "reader@example.org"
    assert [p.get_content_type() for p in parts(back)] == ["text/plain", "text/html"]
    assert text_of(back, "plain") == text_of(msg, "plain")
    first = path.read_bytes()

    assert write_outbox(msg, outbox) == path  # the same message again: the same file
    assert path.read_bytes() == first
    assert write_outbox(digest(), outbox) == path  # rendered again: the same bytes too
    assert path.read_bytes() == first
    assert sorted(p.name for p in outbox.iterdir()) == [path.name]  # no temporary files left


def test_write_outbox_file_name_is_safe(tmp_path: Path) -> None:
    msg = digest()
    msg.replace_header("Message-ID", "<../../etc/passwd@x>")
    path = write_outbox(msg, tmp_path)
    assert path.parent == tmp_path
    assert path.name == "_.._etc_passwd@x.eml"


def test_operator_templates_run_in_a_sandbox(tmp_path: Path) -> None:
    from feeds.digests import TemplateProblem

    (tmp_path / "digest.txt.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    settings = DigestSettings(template_dir=str(tmp_path))
    with pytest.raises(TemplateProblem, match=f"^digest template {tmp_path}: SecurityError: access to attribute"):
        render_digest(Subscriber(address="reader@example.org"), [row()], NOW, settings, digest_key="k")
    (tmp_path / "digest.txt.j2").write_text("{% for i in items %}* {{ i.title }}\n{% endfor %}", encoding="utf-8")
    msg = render_digest(Subscriber(address="reader@example.org"), [row()], NOW, settings, digest_key="k")
    assert msg.get_body(("plain",)).get_content() == f"* {row().title}\n"


def test_due_times_of_the_configured_cadences() -> None:
    now = dt.datetime(2026, 11, 21, 10, 20, 30, 5, tzinfo=dt.UTC)
    assert previous_due(Subscriber(address="a@example.org", cadence="hourly", at="07:15"), now) == now.replace(
        minute=15, second=0, microsecond=0
    )
    assert previous_due(Subscriber(address="a@example.org", cadence="immediate"), now) == now.replace(microsecond=0)
    assert previous_due(Subscriber(address="a@example.org", cadence="daily", at="07:00"), now) == now.replace(
        hour=7, minute=0, second=0, microsecond=0
    )
    paris = dt.datetime(2026, 11, 21, 11, 20, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert previous_due(Subscriber(address="a@example.org", cadence="immediate"), paris) == now.replace(microsecond=0)


# --- the ledger: digests follow the articles' sequence numbers, not the clock -------------
#
# Every step of these tests happens at a time they choose (the clock is injected: store()
# and run_digests() take ``now``), most of them in one and the same second, so the cases
# where stored seconds used to decide are hit on every run.

from crawler.items import ArticleItem  # noqa: E402
from feeds.delivery import DigestReport, run_digests  # noqa: E402
from monitor.archive import Archive, SubscriptionRow, migrations  # noqa: E402
from monitor.config import Config  # noqa: E402

T = dt.datetime(2026, 11, 21, 10, 15, 30, tzinfo=dt.UTC)
READER = "reader@example.org"


def batch(prefix: str, n: int, **kw: Any) -> list[ArticleItem]:
    return [
        ArticleItem(title=f"{prefix} {i}", paragraphs=[f"Paragraph of {prefix} {i}."], **kw) for i in range(1, n + 1)
    ]


def titles(prefix: str, n: int, first: int = 1) -> list[str]:
    return sorted(f"{prefix} {i}" for i in range(first, first + n))


def ledger_config(tmp_path: Path, *subscribers: dict[str, Any], **digest: Any) -> Config:
    cfg = Config()
    cfg.database = str(tmp_path / "archive.db")
    cfg.digest.outbox = str(tmp_path / "outbox")
    for key, value in digest.items():
        setattr(cfg.digest, key, value)
    cfg.subscribers = [Subscriber(**s) for s in subscribers]
    return cfg


def received(archive: Archive, report: DigestReport) -> list[tuple[str, str, list[str]]]:
    """What a run delivered: (To, Subject, titles of the articles in it) per message."""
    by_id = {d.message_id: d for d in archive.deliveries()}
    out = []
    for path in report.written:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        stored = [archive.article(i) for i in by_id[msg["Message-ID"]].article_ids]
        names = sorted(r.title if r else "(not stored)" for r in stored)
        for name in names:  # the message itself lists them too
            assert name in msg.get_body(("plain",)).get_content()
        out.append((str(msg["To"]), str(msg["Subject"]), names))
    return out


@pytest.mark.parametrize(
    ("cadence", "later", "day"),
    [("immediate", dt.timedelta(seconds=1), "21 November 2026"), ("daily", dt.timedelta(days=1), "22 November 2026")],
)
def test_a_subscriber_recorded_in_the_second_of_the_last_article_gets_no_back_catalogue(
    tmp_path: Path, cadence: str, later: dt.timedelta, day: str
) -> None:
    cfg = ledger_config(tmp_path, {"address": READER, "cadence": cadence, "at": "10:15"})
    with Archive(cfg.database) as a:
        a.store(batch("Old", 10), T)
        first = run_digests(cfg, a, T)  # the same second as the last stored article
        assert (first.subscribed, first.sent, first.written) == ([READER], 0, [])
        a.store(batch("New", 10), T)  # and the next crawl stamps that second too
        report = run_digests(cfg, a, T + later)
        assert received(a, report) == [(READER, f"ICESCO news: 10 new articles — {day}", titles("New", 10))]
        assert run_digests(cfg, a, T + 2 * later).written == []  # nothing new: no empty digest


def test_an_immediate_digest_in_the_second_of_the_previous_one_sends_what_waits(tmp_path: Path) -> None:
    cfg = ledger_config(tmp_path, {"address": READER, "cadence": "immediate"})
    with Archive(cfg.database) as a:
        a.store(batch("Old", 2), T - dt.timedelta(hours=2))
        run_digests(cfg, a, T - dt.timedelta(hours=1))  # records the subscriber
        a.store(batch("First", 3), T)
        one = run_digests(cfg, a, T)
        a.store(batch("Second", 2), T)  # a replay that ends in the second of that digest…
        two = run_digests(cfg, a, T)  # …and a digest that starts in it
        three = run_digests(cfg, a, T)
        subject = "ICESCO news: {} new articles — 21 November 2026"
        assert received(a, one) == [(READER, subject.format(3), titles("First", 3))]
        assert received(a, two) == [(READER, subject.format(2), titles("Second", 2))]
        assert (three.sent, three.written) == (0, [])
        rows = a.deliveries()
        assert [(d.digest_key, d.first_seq, d.last_seq, d.status) for d in rows] == [
            ("immediate:2026-11-21T10:15:30+00:00:3-5", 3, 5, "sent"),
            ("immediate:2026-11-21T10:15:30+00:00:6-7", 6, 7, "sent"),
        ]
        assert len({d.message_id for d in rows}) == 2


def test_a_full_digest_leaves_the_rest_to_the_next_even_in_one_second(tmp_path: Path) -> None:
    cfg = ledger_config(tmp_path, {"address": READER, "cadence": "immediate"}, max_items=4)
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(batch("New", 10), T)
        got = [received(a, run_digests(cfg, a, T)) for _ in range(4)]
        assert got == [
            [(READER, "ICESCO news: 4 new articles — 21 November 2026", titles("New", 4, 1))],
            [(READER, "ICESCO news: 4 new articles — 21 November 2026", titles("New", 4, 5))],
            [(READER, "ICESCO news: 2 new articles — 21 November 2026", titles("New", 2, 9))],
            [],
        ]
        assert [(d.first_seq, d.last_seq) for d in a.deliveries()] == [(1, 4), (5, 8), (9, 10)]


def test_filters_are_applied_in_sql_and_agree_with_matches(tmp_path: Path) -> None:
    subs = {
        "all@example.org": {},
        "fr@example.org": {"languages": ["FR"]},
        "culture@example.org": {"categories": ["culture"]},
        "education@example.org": {"categories": [" éducation "]},
        "heritage@example.org": {"keywords": ["herit"]},  # a word's beginning
        "rabat@example.org": {"keywords": ["rabat", "nothing-like-this"]},  # in the subtitle only
        "meeting@example.org": {"keywords": ["Meeting"], "languages": ["en"]},
        "phrase@example.org": {"keywords": ["world heritage"]},
    }
    cfg = ledger_config(tmp_path, *({"address": k, "cadence": "immediate", **v} for k, v in subs.items()))
    articles = [
        ArticleItem(title="Alpha", paragraphs=["World Heritage sites were listed."], categories=["Culture"]),
        ArticleItem(title="Bravo", paragraphs=["Une réunion à Paris."], lang="fr", categories=["Éducation"]),
        ArticleItem(
            title="Charlie", subtitle="Held in Rabat", paragraphs=["A meeting of ministers."], categories=["News"]
        ),
        ArticleItem(title="Delta", paragraphs=["اجتماع اليوم."], lang="ar", categories=["CULTURE "]),
        ArticleItem(title="Echo", paragraphs=["The heritage of the world."], lang="fr"),
    ]
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(articles, T)
        report = run_digests(cfg, a, T)
        got = {to: names for to, _, names in received(a, report)}
        assert got == {
            "all@example.org": ["Alpha", "Bravo", "Charlie", "Delta", "Echo"],
            "fr@example.org": ["Bravo", "Echo"],
            "culture@example.org": ["Alpha", "Delta"],
            "education@example.org": ["Bravo"],
            "heritage@example.org": ["Alpha", "Echo"],
            "rabat@example.org": ["Charlie"],
            "meeting@example.org": ["Charlie"],
            "phrase@example.org": ["Alpha"],
        }
        stored = a.undelivered("nobody@example.org", 0, a.last_seq(), 100)  # every article, as a digest reads it
        assert [r.title for r in stored] == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
        for address, filters in subs.items():
            sub = Subscriber(address=address, **{k: tuple(v) for k, v in filters.items()})
            if address != "phrase@example.org":  # "The heritage of the world" holds both words, not the phrase
                assert sorted(r.title for r in stored if matches(sub, r)) == got[address], address


def test_a_check_with_nothing_new_reads_no_article(tmp_path: Path) -> None:
    cfg = ledger_config(
        tmp_path,
        {"address": READER, "cadence": "immediate"},
        {"address": "filtered@example.org", "cadence": "immediate", "keywords": ["nowhere"]},
        {"address": "daily@example.org", "cadence": "daily", "at": "07:00"},
    )
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(batch("New", 5), T)
        assert run_digests(cfg, a, T).sent == 1  # the filtered one matches none: considered, not sent
        assert run_digests(cfg, a, T + dt.timedelta(days=1)).sent == 1  # the daily one's 07:00
        for when in (T, T + dt.timedelta(days=1, minutes=1), T + dt.timedelta(days=2)):  # daily: not due, due
            statements: list[str] = []
            a.conn.set_trace_callback(statements.append)
            try:
                report = run_digests(cfg, a, when)
            finally:
                a.conn.set_trace_callback(None)
            assert (report.sent, report.written) == (0, [])
            touching = [s for s in statements if "articles" in s]
            assert touching == ["SELECT COALESCE(max(seq), 0) FROM articles"], touching


def test_today_s_ledger_is_migrated_without_a_flood_or_a_loss(tmp_path: Path) -> None:
    import sqlite3

    from sqlite_utils import Database

    path = tmp_path / "archive.db"
    old = Database(sqlite3.connect(path, isolation_level=None))
    migrations.apply(old, stop_before="m006_sequence")  # the schema of today's archives
    rows = [("Before", 3, T - dt.timedelta(hours=2)), ("Same", 2, T), ("After", 3, T + dt.timedelta(hours=1))]
    for prefix, n, when in reversed(rows):  # stored out of first-seen order: numbering follows first_seen_at
        for item in batch(prefix, n):
            old.conn.execute(
                "INSERT INTO articles (id, lang, slug, title, body, categories, first_seen_at, last_seen_at,"
                " content_hash) VALUES (?, 'en', ?, ?, ?, '[]', ?, ?, ?)",
                (item.id, item.slug, item.title, item.body, when.isoformat(), when.isoformat(), item.content_hash),
            )
    after1 = batch("After", 1)[0].id
    old.conn.execute(
        "INSERT INTO subscriptions (address, subscribed_at, last_due_at) VALUES (?, ?, ?)",
        (READER, T.isoformat(), (T + dt.timedelta(hours=1)).isoformat()),
    )
    old.conn.execute(
        "INSERT INTO deliveries (address, digest_key, message_id, message, article_ids, status, attempts, created_at,"
        " sent_at) VALUES (?, 'immediate:x', '<x@y>', x'00', ?, 'sent', 1, ?, ?)",
        (READER, json.dumps([after1]), T.isoformat(), T.isoformat()),
    )
    old.conn.execute("INSERT INTO delivered VALUES (?, ?, 1)", (READER, after1))
    old.conn.close()

    cfg = ledger_config(tmp_path, {"address": READER, "cadence": "immediate"})
    with Archive(path) as a:
        order = [r[0] for r in a.conn.execute("SELECT title FROM articles ORDER BY seq")]
        assert order == ["Before 1", "Before 2", "Before 3", "Same 1", "Same 2", "After 1", "After 2", "After 3"]
        assert a.subscription(READER) == SubscriptionRow(
            address=READER,
            subscribed_at=T.isoformat(),
            last_due_at=(T + dt.timedelta(hours=1)).isoformat(),
            after_seq=3,
            position=3,
        )
        report = run_digests(cfg, a, T + dt.timedelta(hours=2))
        # The old rule (first seen at or after the subscription) once, without what was sent.
        assert received(a, report) == [
            (READER, "ICESCO news: 4 new articles — 21 November 2026", ["After 2", "After 3", "Same 1", "Same 2"])
        ]
        assert run_digests(cfg, a, T + dt.timedelta(hours=2)).written == []
        a.store(batch("Later", 1), T - dt.timedelta(days=365))  # a clock gone back: still after, by number
        assert a.conn.execute("SELECT seq FROM articles WHERE title = 'Later 1'").fetchone() == (9,)
        assert received(a, run_digests(cfg, a, T + dt.timedelta(hours=2))) == [
            (READER, "ICESCO news: 1 new article — 21 November 2026", ["Later 1"])
        ]


def test_sent_digests_lose_their_bytes_after_the_retention_but_resends_keep_theirs(tmp_path: Path) -> None:
    cfg = ledger_config(tmp_path, {"address": READER, "cadence": "immediate"}, retention_days=30)
    day = dt.timedelta(days=1)
    with Archive(cfg.database) as a:
        run_digests(cfg, a, T)
        a.store(batch("A", 1), T)
        run_digests(cfg, a, T)  # sent at T
        a.store(batch("B", 1), T)
        run_digests(cfg, a, T + 2 * day)  # sent at T + 2 days
        a.store(batch("C", 1), T)
        cfg.digest.outbox = str(tmp_path / "not-a-folder")
        Path(cfg.digest.outbox).write_text("a file: delivery fails, temporarily")
        retrying = run_digests(cfg, a, T + 3 * day)
        assert retrying.retrying == 1
        (waiting,) = a.deliveries("retry")
        original = bytes(a.conn.execute("SELECT message FROM deliveries WHERE id = ?", (waiting.id,)).fetchone()[0])
        a.conn.execute(
            "UPDATE deliveries SET next_attempt_at = ? WHERE id = ?", ((T + 40 * day).isoformat(), waiting.id)
        )

        run_digests(cfg, a, T + 31 * day)
        kept = [(d.article_ids, d.status, d.kept, bool(d.message_id)) for d in a.deliveries()]
        ids = [(batch(p, 1)[0].id,) for p in "ABC"]
        assert kept == [(ids[0], "sent", False, True), (ids[1], "sent", True, True), (ids[2], "retry", True, True)]

        cfg.digest.outbox = str(tmp_path / "outbox")
        resent = run_digests(cfg, a, T + 41 * day)
        assert resent.sent == 1 and resent.written[0].read_bytes() == original
        assert [d.kept for d in a.deliveries()] == [False, False, True]  # B is 39 days old now; C was sent just now


def test_revisions_are_counted_without_reading_them(tmp_path: Path) -> None:
    with Archive(tmp_path / "archive.db") as a:
        a.store(batch("Edited", 2), T)
        a.store([ArticleItem(title="Edited 1", paragraphs=["Another text."])], T + dt.timedelta(hours=1))
        assert a.revision_count() == 1 == len(a.revisions())


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ''.__class__.__mro__ }}", "SecurityError: access to attribute '__class__' of 'str' object is unsafe."),
        ("{% for i in items %}", "TemplateSyntaxError: Unexpected end of template."),
        ("{{ nothing.here }}", "UndefinedError: 'nothing' is undefined"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "RecursionError: maximum recursion depth exceeded"),
        ("{{ items|attr('__init__') }}", "SecurityError"),
        ("{% include 'nope.j2' %}", "TemplateNotFound: 'nope.j2' not found in search paths"),
    ],
)
def test_a_broken_operator_template_is_one_line_at_start(tmp_path: Path, template: str, message: str) -> None:
    """Checked when the config is loaded: exit 2 and one line naming the template, never a traceback."""
    from helpers import run_cli

    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.txt.j2").write_text(template, encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"database: a.db\ndigest: {{template_dir: {folder}}}\n", encoding="utf-8")
    proc = run_cli("digest", config=cfg)
    assert (proc.returncode, proc.stdout, proc.stderr.count("\n")) == (2, "", 1), proc.stderr
    assert proc.stderr.startswith("icesco-monitor: bad configuration: digest.template_dir: digest template ")
    assert message in proc.stderr, proc.stderr


def test_arabic_items_are_right_to_left_in_the_html_part() -> None:
    arabic = row(id="fedcba9876543210", lang="ar", title="الإيسيسكو تعقد ندوة", body="عقدت الإيسيسكو ندوة.")
    html = text_of(render_digest(SUB, [arabic, row()], NOW, SETTINGS, digest_key="k"), "html")
    assert re.findall(r'<div class="item"[^>]*>', html) == [
        '<div class="item" lang="ar" dir="rtl" style="margin:0 0 20px;">',
        '<div class="item" lang="en" style="margin:0 0 20px;">',
    ]
    assert ">عقدت الإيسيسكو ندوة.</p>" in html
