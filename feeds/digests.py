"""E-mail digests: which articles a subscriber wants, and the message itself.

Pure functions only (no database, no network, no clock): the caller passes the
subscriber, the article rows and ``now``; :mod:`feeds.mailer` delivers the result. When a
subscriber is due, and what a valid address is, is :mod:`feeds.subscribers`.

Article text is untrusted. It never reaches a header (the subject holds a count and a
date only, and every header value is stripped of control characters), it is
HTML-escaped in the HTML part (the HTML template is autoescaped), and a link that is
not http(s) is replaced by the article's page on the service.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import urllib.parse
from collections.abc import Sequence
from email import errors
from email.headerregistry import AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

import jinja2

from feeds.digest_items import DigestItem, digest_item, edited_item, human_date
from feeds.rows import DigestRow, EditRow
from feeds.settings import DigestSettings, FeedSettings, SiteSettings, Subscriber
from feeds.subscribers import require_aware, validate_address, zone
from feeds.templating import with_folder
from feeds.text import categories, http_url, one_line

log = logging.getLogger(__name__)

# Raw header values (List-Unsubscribe) are written as they are, never refolded.
_POLICY = default_policy.clone(refold_source="none")
MESSAGE_ID_DOMAIN = "icesco-monitor.localhost"


# --- selection ---------------------------------------------------------------------------


def matches(sub: Subscriber, row: DigestRow) -> bool:
    """Whether an article is for this subscriber: every non-empty filter must match.

    ``languages``: the row's language is one of them; ``categories``: one of the row's
    categories is one of them; ``keywords``: one of them occurs in the title, subtitle or
    body. All comparisons ignore case.
    """
    if sub.languages:
        lang = str(row.lang or "").casefold()
        if lang not in {w.casefold() for w in sub.languages}:
            return False
    if sub.categories:
        have = {c.casefold() for c in categories(row.categories)}
        if not have & {c.casefold().strip() for c in sub.categories}:
            return False
    keywords = [k.strip().casefold() for k in sub.keywords if k.strip()]
    if keywords:
        text = "\n".join(str(v or "") for v in (row.title, row.subtitle, row.body)).casefold()
        if not any(k in text for k in keywords):
            return False
    return True


# --- the message -------------------------------------------------------------------------


def message_id(address: str, digest_key: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """A Message-ID that is the same for the same subscriber and digest (idempotent resends)."""
    digest = hashlib.sha256(f"{address}|{digest_key}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _header(value: str) -> str:
    """A header value: one line, no control characters."""
    return one_line(value)


def _sender(value: str) -> str:
    """The From value: one mailbox (``Name <local@host>`` or ``local@host``), one line."""
    value = _header(value)
    parsed = cast(AddressHeader, HeaderRegistry()("From", value))
    groups = parsed.groups
    if (
        len(parsed.addresses) != 1
        or any(isinstance(d, errors.InvalidHeaderDefect) for d in getattr(parsed, "defects", ()))
        or any(g.display_name for g in groups)
        or not parsed.addresses[0].domain
    ):
        raise ValueError(f"sender: expected one address like 'Name <name@example.org>', got {value!r}")
    return value


def _site_url(site_url: str) -> str:
    site = http_url(site_url)
    if site is None:
        raise ValueError(f"site_url: expected an http(s) URL, got {site_url!r}")
    return site if site.endswith("/") else site + "/"


class TemplateProblem(ValueError):
    """The digest templates cannot be rendered; the message names the template and why."""


def template_problem(exc: BaseException, template_dir: str | None) -> str:
    where = template_dir or "the shipped templates"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = f"{exc.filename or exc.name or where}, line {exc.lineno}"
    message = " ".join(str(exc).split())[:200] or type(exc).__name__
    return f"digest template {where}: {type(exc).__name__}: {message}"


def check_templates(settings: DigestSettings, now: dt.datetime) -> None:
    """Render a sample digest once, so that a broken operator template is an error at start."""
    sample = DigestRow(
        seq=0,
        id="0000000000000000",
        url="https://icesco.org/en/2024/07/11/sample/",
        lang="en",
        title="Sample title",
        subtitle=None,
        body="A sample paragraph.",
        published_at="2024-07-11",
        first_seen_at=now.isoformat(),
        categories=(),
    )
    render_digest(Subscriber(address="reader@example.org"), [sample], now, settings, digest_key="check")


def _list_unsubscribe_uris(address: str, settings: DigestSettings, link: str | None) -> list[str]:
    mailto = _header(settings.unsubscribe_mailto).replace(" ", "")
    subject = urllib.parse.quote(f"unsubscribe {address}", safe="@")
    uris = [f"<mailto:{mailto}?subject={subject}>"]
    if link:  # the service's own one-click link first (RFC 2369: in order of preference)
        return [f"<{_header(link).replace(' ', '%20')}>", *uris]
    if settings.unsubscribe_url:
        uris.append(f"<{_header(settings.unsubscribe_url).replace(' ', '%20')}>")
    return uris


def render_digest(
    sub: Subscriber,
    rows: Sequence[DigestRow],
    now: dt.datetime,
    settings: DigestSettings,
    *,
    digest_key: str,
    site_url: str = FeedSettings.base_url,
    site_timezone: str = SiteSettings.timezone,
    unsubscribe_link: str | None = None,
    edited: Sequence[EditRow] = (),
) -> EmailMessage:
    """One ``multipart/alternative`` message (text/plain, then text/html) listing ``rows``.

    Items appear in the order given. ``now`` (time-zone aware) dates the message and
    its subject; ``digest_key`` names this digest (same key, same Message-ID). Links to
    the service (an article without a link of its own, the archive, the feed) are under
    ``site_url`` (``feed.base_url``); articles are dated in ``site_timezone`` (``site.timezone``).
    ``unsubscribe_link`` (the service's signed ``/unsubscribe?t=…`` URL) comes first in
    ``List-Unsubscribe``, with ``List-Unsubscribe-Post`` (RFC 8058) when it is https.
    ``edited`` (a subscriber with ``edits: true``) are articles sent before and edited since,
    listed after the new ones, each with a one-line summary of what changed.
    """
    require_aware(now)
    address = validate_address(sub.address, where="subscriber.address")
    tz = zone(sub.timezone)
    site = _site_url(site_url)
    sender = _sender(settings.sender)
    _check_unsubscribe_url(settings)

    items = [digest_item(row, site, zone(site_timezone)) for row in rows]
    edited_items = [edited_item(e, site, zone(site_timezone)) for e in edited]
    date_text = human_date(now.astimezone(tz).date())
    context = _context(sub, address, site, items, edited_items, date_text, unsubscribe_link)
    text, html = _render_parts(settings, context)

    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = address
    msg["Subject"] = _header(context["subject"])
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = message_id(address, digest_key)
    msg["List-Id"] = _header(settings.list_id)
    _unsubscribe_headers(msg, address, settings, unsubscribe_link)
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # A boundary of its own, so the same digest is the same bytes. "=_" never occurs in
    # quoted-printable text (it would be "=3D_"), so it cannot clash with the content.
    msg.set_boundary("=_" + hashlib.sha256(f"{msg['Message-ID']}|{text}|{html}".encode()).hexdigest()[:40])
    log.debug("digest %s for %s: %d article(s)", msg["Message-ID"], address, len(items))
    return msg


def _check_unsubscribe_url(settings: DigestSettings) -> None:
    url = settings.unsubscribe_url
    if url and (http_url(url) is None or not url.lower().startswith("https://")):
        raise ValueError(f"unsubscribe_url: expected an https URL, got {url!r}")


def _context(
    sub: Subscriber,
    address: str,
    site: str,
    items: list[DigestItem],
    edited: list[DigestItem],
    date_text: str,
    unsubscribe_link: str | None,
) -> dict[str, Any]:
    """What the templates are given, the subject included."""
    n = len(items)
    count_text = f"{n} new article" if n == 1 else f"{n} new articles"
    if edited:
        count_text += f", {len(edited)} edited"
    return {
        "subject": f"ICESCO news: {count_text} — {date_text}",
        "count": n,
        "count_text": count_text,
        "date": date_text,
        "items": items,
        "edited": edited,
        "unsubscribe_link": unsubscribe_link or "",
        "address": address,
        "name": one_line(sub.name),
        "site_url": site,
        "feed_url": site + "feed.xml",
    }


def _render_parts(settings: DigestSettings, context: dict[str, Any]) -> tuple[str, str]:
    """The text and HTML parts; raises :class:`TemplateProblem` when a template fails."""
    try:
        env = with_folder(settings.template_dir)
        text = env.get_template("digest.txt.j2").render(context)
        html = env.get_template("digest.html.j2").render(context)
    except Exception as exc:  # a syntax error, a sandbox refusal, an undefined name, endless recursion…
        raise TemplateProblem(template_problem(exc, settings.template_dir)) from None
    return text, html


def _unsubscribe_headers(msg: EmailMessage, address: str, settings: DigestSettings, link: str | None) -> None:
    """``List-Unsubscribe``, and ``List-Unsubscribe-Post`` when one-click works (https)."""
    # Folded by hand between the URIs: the email package would turn a URI longer than
    # a line into an RFC 2047 encoded-word, which no client reads as a URI.
    msg.set_raw("List-Unsubscribe", ",\n ".join(_list_unsubscribe_uris(address, settings, link)))
    if (link or "").lower().startswith("https://") or (settings.unsubscribe_url and not link):
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
