"""Subscribing and unsubscribing on the web, through the real links: the WSGI app on
waitress on a loopback port, an aiosmtpd sink receiving the confirmation mail and the
digests, a real SQLite archive, digests run by run_digests over SMTP, and Chromium for
the screenshots of the form and the confirm page."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from browser import load, screenshot
from helpers import DUMPS, Reply, cli_command, cli_env, fetch, free_port, wait_until, write_config
from smtpsink import SmtpSink

from crawler.items import ArticleItem
from feeds.delivery import run_digests
from feeds.settings import Subscriber
from monitor import links, tokens
from monitor.archive import Archive
from monitor.config import Config
from monitor.web import FeedCache, WebServer

pytestmark = pytest.mark.integration

SECRET = "s" * 40
READER = "reader@example.org"
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@dataclass
class Site:
    cfg: Config
    base: str  # http://127.0.0.1:PORT/
    sink: SmtpSink

    def post(self, url: str, fields: dict[str, Any] | None = None, body: bytes | None = None) -> Reply:
        data = body if body is not None else urllib.parse.urlencode(fields or {}, doseq=True).encode()
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                return Reply(response.status, response.headers, response.read(), url)
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, exc.headers, exc.read(), url)

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row of the readers' tables and of the ledger's subscriptions."""
        with Archive(self.cfg.database) as a:
            return [
                *a.conn.execute("SELECT * FROM web_subscribers ORDER BY address"),
                *a.conn.execute("SELECT * FROM opt_outs ORDER BY address"),
                *a.conn.execute("SELECT * FROM subscriptions ORDER BY address"),
            ]

    def digests(self, now: dt.datetime) -> None:
        with Archive(self.cfg.database) as a:
            run_digests(self.cfg, a, now, unsubscribe_link=links.unsubscribe_links(self.cfg, now))

    def store(self, title: str, now: dt.datetime) -> None:
        with Archive(self.cfg.database) as a:
            a.store([ArticleItem(title=title, paragraphs=[f"About {title}."], lang="en")], now)


@pytest.fixture
def site(tmp_path: Path, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("ICESCO_SECRET", SECRET)
    cfg = Config()
    cfg.database = str(tmp_path / "archive.db")
    cfg.smtp.host, cfg.smtp.port, cfg.smtp.timeout = "127.0.0.1", sink.port, 5
    Archive(cfg.database).close()
    srv = WebServer(cfg, FeedCache(cfg), "127.0.0.1", 0)
    cfg.feed.base_url = f"http://127.0.0.1:{srv.server_address[1]}/"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(cfg, cfg.feed.base_url, sink)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    (link,) = re.findall(r"^(http://\S+)$", body.get_content(), re.MULTILINE)
    return str(link)


def heading(reply: Reply) -> str:
    return re.findall(r"<h1>(.*?)</h1>", reply.text)[0]


def test_subscribe_confirm_receive_and_unsubscribe_by_the_links_in_mail(site: Site) -> None:
    site.store("News A", T0)
    form = fetch(site.base + "subscribe")
    assert (form.status, form.headers["Content-Security-Policy"].startswith("default-src 'none'")) == (200, True)
    assert re.findall(r'<label for="(\w+)"', form.text) == ["address", "keywords"]
    assert re.findall(r'<input[^>]* name="(\w+)"', form.text) == [
        "address",
        "cadence",
        "cadence",
        "cadence",
        "languages",
        "languages",
        "languages",
        "keywords",
        "edits",
    ]
    sent = site.post(
        site.base + "subscribe",
        {"address": READER, "cadence": "immediate", "languages": ["en"], "keywords": "", "edits": "1"},
    )
    assert (sent.status, heading(sent)) == (200, "Check your mailbox")
    (mail,) = site.sink.messages
    assert (mail["To"], mail["Subject"]) == (READER, "Confirm your ICESCO news digest")
    link = link_in(mail)
    assert link.startswith(site.base + "subscribe/confirm?t=")
    pending = site.rows()
    assert [r[:8] for r in pending] == [(READER, "immediate", '["en"]', "[]", 1, "pending", "web", pending[0][7])]

    page = fetch(link)  # what a mail scanner does: nothing changes
    assert (page.status, heading(page), site.rows()) == (200, "Confirm your subscription", pending)
    assert f'action="{urllib.parse.urlsplit(link).path}?{urllib.parse.urlsplit(link).query}"' in page.text
    done = site.post(link)
    assert (done.status, heading(done)) == (200, "You are subscribed")
    active = site.rows()
    assert [(r[0], r[5]) for r in active[:1]] == [(READER, "active")]
    assert len(active) == 2  # the reader and their ledger (subscriptions)
    again = site.post(link)  # a replay is harmless
    assert (again.status, heading(again), site.rows()) == (200, "You are subscribed", active)

    now = dt.datetime.now(dt.UTC)
    site.digests(now)
    assert len(site.sink.messages) == 1  # nothing stored since confirming: News A is not sent
    site.store("News B", now)
    site.digests(now + dt.timedelta(seconds=1))
    digest = site.sink.messages[1]
    assert digest["To"] == READER
    assert "News B" in digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "News A" not in digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    header = digest["List-Unsubscribe"]
    unsubscribe = re.findall(r"<(http://[^>]+)>", header)[0]
    assert header == f"<{unsubscribe}>, <mailto:icesco-monitor@localhost?subject=unsubscribe%20{READER}>"
    assert unsubscribe.startswith(site.base + "unsubscribe?t=")
    assert digest["List-Unsubscribe-Post"] is None  # the base URL is http: no one-click promise

    after_digest = site.rows()
    page = fetch(unsubscribe)
    assert (page.status, heading(page), site.rows()) == (200, "Unsubscribe", after_digest)
    gone = site.post(unsubscribe, body=b"List-Unsubscribe=One-Click")  # RFC 8058's POST
    assert (gone.status, heading(gone)) == (200, "You are unsubscribed")
    ended = site.rows()
    assert [(r[0], r[5]) for r in ended] == [(READER, "ended")]  # its ledger position is gone
    site.store("News C", now + dt.timedelta(seconds=2))
    site.digests(now + dt.timedelta(seconds=3))
    assert len(site.sink.messages) == 2  # no more mail
    assert (site.post(link).status, site.rows()) == (200, ended)  # confirming again does not resubscribe


def test_forged_and_expired_links_say_so_and_change_nothing(site: Site) -> None:
    site.post(site.base + "subscribe", {"address": READER, "cadence": "daily"})
    link = link_in(site.sink.messages[0])
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["t"][0]
    before = site.rows()
    key = SECRET.encode()
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BA")
    old = tokens.sign(key, "confirm", {"a": READER, "t": before[0][8]}, T0, dt.timedelta(days=2))
    other = tokens.sign(key, "unsubscribe", {"a": READER}, dt.datetime.now(dt.UTC), dt.timedelta(days=2))
    answers = []
    for path, t in (
        ("subscribe/confirm", forged),
        ("subscribe/confirm", old),
        ("subscribe/confirm", other),
        ("unsubscribe", token),
        ("unsubscribe", "x"),
    ):
        url = site.base + path + "?t=" + urllib.parse.quote(t)
        get_, post_ = fetch(url), site.post(url)
        answers.append((path, get_.status, heading(get_), post_.status, heading(post_)))
    assert answers == [
        ("subscribe/confirm", 400, "This link is not valid", 400, "This link is not valid"),
        ("subscribe/confirm", 410, "This link has expired", 410, "This link has expired"),
        ("subscribe/confirm", 400, "This link is not valid", 400, "This link is not valid"),
        ("unsubscribe", 400, "This link is not valid", 400, "This link is not valid"),
        ("unsubscribe", 400, "This link is not valid", 400, "This link is not valid"),
    ]
    assert site.rows() == before


def test_the_form_is_rate_limited_per_address_and_per_client(site: Site) -> None:
    statuses = [site.post(site.base + "subscribe", {"address": READER, "cadence": "daily"}).status for _ in range(4)]
    statuses += [
        site.post(site.base + "subscribe", {"address": f"r{i}@example.org", "cadence": "daily"}).status
        for i in range(7)
    ]
    assert statuses == [200, 200, 200, 429, 200, 200, 200, 200, 200, 200, 429]
    assert len(site.sink.messages) == 9
    refused = site.post(site.base + "subscribe", {"address": "late@example.org", "cadence": "daily"})
    assert (refused.status, heading(refused)) == (429, "Too many requests")


def test_the_same_page_whether_or_not_the_address_is_subscribed(site: Site) -> None:
    fields = {"address": READER, "cadence": "weekly"}
    first = site.post(site.base + "subscribe", fields)
    site.post(link_in(site.sink.messages[0]))
    active = site.rows()
    second = site.post(site.base + "subscribe", fields)
    assert (first.status, first.body) == (second.status, second.body)
    assert site.rows() == active  # an active subscription is left as it is…
    mail = site.sink.messages[1]  # …and its owner is told how to change it
    assert (mail["Subject"], link_in(mail).startswith(site.base + "unsubscribe?t=")) == (
        "Your ICESCO news digest",
        True,
    )


def test_a_bad_form_is_shown_again_with_its_errors(site: Site) -> None:
    bad = site.post(site.base + "subscribe", {"address": "not an address", "cadence": "yearly", "languages": ["de"]})
    assert bad.status == 400
    errors = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', bad.text, re.S)
    assert errors is not None
    assert re.findall(r"<li>(.*?)</li>", errors[1]) == [
        "E-mail address: spaces and control characters are not allowed in an e-mail address",
        "How often: choose one of daily, weekly, immediate",
        "Languages: choose among en, fr, ar",
    ]
    assert (site.sink.messages, site.rows()) == ([], [])


def test_without_the_secret_the_forms_answer_503(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ICESCO_SECRET")
    for reply in (
        fetch(site.base + "subscribe"),
        site.post(site.base + "subscribe", {"address": READER}),
        fetch(site.base + "unsubscribe?t=x"),
    ):
        assert (reply.status, heading(reply)) == (503, "Subscribing is not available")
        assert "must set the environment variable ICESCO_SECRET" in reply.text
    assert (site.sink.messages, site.rows()) == ([], [])


def test_a_config_subscriber_unsubscribes_in_one_click(site: Site) -> None:
    site.cfg.subscribers = [Subscriber(address=READER, cadence="immediate")]
    site.cfg.feed.base_url = site.base.replace("http://", "https://")  # the one-click promise needs https
    now = dt.datetime.now(dt.UTC)
    site.digests(now)  # records the subscriber
    site.store("News A", now)
    site.digests(now + dt.timedelta(seconds=1))
    (digest,) = site.sink.messages
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = re.findall(r"<(https://[^>]+)>", digest["List-Unsubscribe"])[0]
    gone = site.post(https.replace("https://", "http://"), body=b"List-Unsubscribe=One-Click")
    assert (gone.status, heading(gone)) == (200, "You are unsubscribed")
    assert [r[0] for r in site.rows()] == [READER]  # the opt-out; the ledger position is gone
    site.store("News B", now + dt.timedelta(seconds=2))
    site.digests(now + dt.timedelta(seconds=3))
    assert len(site.sink.messages) == 1


def test_the_form_and_the_confirm_page_in_a_browser(site: Site, chromium: str, browser_out: Path) -> None:
    form = screenshot(site.base + "subscribe", browser_out / "subscribe.png", 1024, 900)
    site.post(site.base + "subscribe", {"address": READER, "cadence": "daily"})
    link = link_in(site.sink.messages[0])
    before = site.rows()
    confirm = screenshot(link, browser_out / "confirm.png", 1024, 600)
    page = load(link)
    assert (form.console, confirm.console, page.csp_violations) == ((), (), [])
    assert re.findall(r"<h1>(.*?)</h1>", page.dom) == ["Confirm your subscription"]
    assert site.rows() == before  # the browser's GETs changed nothing
    assert (browser_out / "subscribe.png").stat().st_size > 1000
    assert (browser_out / "confirm.png").stat().st_size > 1000


def test_the_real_service_without_the_secret_says_so_and_serves_the_rest(tmp_path: Path) -> None:
    port = free_port()
    env = cli_env()
    env.pop("ICESCO_SECRET", None)
    # (not --demo: the demo signs its links with a secret of its own run)
    cfg = write_config(
        tmp_path,
        service={"mode": "replay", "crawl_every_minutes": 0.25, "crawl_jitter_seconds": 0},
        replay={"paths": [str(DUMPS)]},
    )
    cmd = cli_command("serve", "--port", str(port), config=cfg)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: fetch(f"http://127.0.0.1:{port}/healthz").status == 200, 60, 0.3)
        form = fetch(f"http://127.0.0.1:{port}/subscribe")
        feed = fetch(f"http://127.0.0.1:{port}/feed.xml")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert (form.status, heading(form), feed.status) == (503, "Subscribing is not available", 200)
    warnings = [line.split(" ", 1)[1] for line in err.splitlines() if " WARNING monitor.service: " in line]
    assert warnings == [
        "WARNING monitor.service: ICESCO_SECRET is not set: the links sent to readers are signed with it"
        " (e.g. ICESCO_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')):"
        " /subscribe and /unsubscribe answer 503 and digests carry the mailto unsubscribe only"
    ]


def test_the_demo_signs_its_links_with_a_secret_of_its_own_run(tmp_path: Path) -> None:
    """``serve --demo`` without the variable: the form works (links valid for this run)."""
    port = free_port()
    env = cli_env()
    env.pop("ICESCO_SECRET", None)
    cmd = cli_command("serve", "--demo", "--port", str(port), db=tmp_path / "svc.db")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: fetch(f"http://127.0.0.1:{port}/healthz").status == 200, 60, 0.3)
        form = fetch(f"http://127.0.0.1:{port}/subscribe")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert (form.status, heading(form)) == (200, "Subscribe to the digest")
    assert [line for line in err.splitlines() if line.startswith("demo: ICESCO_SECRET")] == [
        "demo: ICESCO_SECRET is not set; /subscribe signs its links with a secret of this run only"
    ]
