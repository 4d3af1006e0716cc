"""E-mail digests: who gets what and when, and the message itself.

Pure functions only (no database, no network, no clock): the caller passes the
subscriber, the article rows and ``now``; :mod:`monitor.mailer` delivers the result.

Article text is untrusted. It never reaches a header (the subject holds a count and a
date only, and every header value is stripped of control characters), it is
HTML-escaped in the HTML part (the HTML template is autoescaped), and a link that is
not http(s) is replaced by the article's page on the service.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import hashlib
import json
import logging
import re
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from email import errors
from email.headerregistry import AddressHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from monitor.archive import DigestRow

log = logging.getLogger(__name__)

# Raw header values (List-Unsubscribe) are written as they are, never refolded.
_POLICY = default_policy.clone(refold_source="none")
TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_ID_DOMAIN = "icesco-monitor.localhost"
LEAD_CHARS = 300

CADENCES = ("daily", "weekly", "hourly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_AT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_at(text: object) -> dt.time | None:
    """A subscriber's ``at``: ``HH:MM`` or ``H:MM`` (the one rule, used by the config too)."""
    m = _AT_RE.match(text) if isinstance(text, str) else None
    return dt.time(int(m.group(1)), int(m.group(2))) if m else None


def weekday_index(text: object) -> int | None:
    """A subscriber's ``weekday``: a day name or its first three letters, any case (0 = Monday)."""
    day = text.strip().lower() if isinstance(text, str) else ""
    matching = [i for i, name in enumerate(WEEKDAYS) if day in (name, name[:3])]
    return matching[0] if matching else None


# RFC 5322 dot-atom (no quoted strings, no comments): the "strict-ish" local part.
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_SPACES_RE = re.compile(r"\s+")
# Bidirectional overrides and isolates: they can make a line read differently than it is.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


class AddressError(ValueError):
    """An e-mail address is not one plain ``local@domain.tld``."""


@dataclass(frozen=True)
class Subscriber:
    address: str  # validated e-mail address
    cadence: str = "daily"  # "daily", "weekly" (or "hourly": every hour at the minute of `at`)
    at: str = "07:00"  # HH:MM local time
    weekday: str = "monday"  # for weekly
    timezone: str = "UTC"  # IANA name, zoneinfo
    keywords: tuple[str, ...] = ()  # any of them, case-insensitive, in title/subtitle/body; empty = all
    categories: tuple[str, ...] = ()  # any of them (case-insensitive); empty = all
    languages: tuple[str, ...] = ()  # e.g. ("en", "fr"); empty = all
    name: str | None = None


@dataclass(frozen=True)
class DigestSettings:
    sender: str = "icesco-monitor <icesco-monitor@localhost>"
    list_id: str = "ICESCO news digest <digest.icesco-monitor.localhost>"
    site_url: str = "http://127.0.0.1:8080/"  # the service's page; feed at site_url + "feed.xml"
    unsubscribe_mailto: str = "icesco-monitor@localhost"  # List-Unsubscribe mailto target
    unsubscribe_url: str | None = None  # optional https URL for one-click List-Unsubscribe-Post
    template_dir: str | None = None  # the operator's own digest.txt.j2 / digest.html.j2 (sandboxed)
    site_timezone: str = "Africa/Casablanca"  # articles' dates are the site's local dates


@dataclass(frozen=True)
class DigestItem:
    """One article as the templates show it (every field already cleaned)."""

    title: str
    date: str  # "11 July 2024", or "" when unknown
    link: str  # an http(s) URL
    lead: str


# --- addresses ---------------------------------------------------------------------------


def validate_address(address: str, where: str = "address") -> str:
    """One bare ``local@domain.tld``; returns it with the domain lower-cased.

    No display name, no angle brackets, no list, no white space or control characters,
    an ASCII dot-atom local part, a domain with at least one dot (IDNs are converted to
    their ASCII form), 254 characters at most. Errors start with ``where``.
    """

    def fail(reason: str) -> AddressError:
        return AddressError(f"{where}: {reason}, got {address!r}")

    if not isinstance(address, str) or not address:
        raise AddressError(f"{where}: expected an e-mail address like name@example.org, got {address!r}")
    if "\r" in address or "\n" in address:
        raise fail("line breaks are not allowed in an e-mail address")
    if any(c in address for c in '<>"()[]'):
        raise fail("expected a bare address like name@example.org (no display name, brackets or quotes)")
    if "," in address or ";" in address:
        raise fail("expected one address (no lists)")
    if any(c.isspace() or unicodedata.category(c)[0] in "CZ" for c in address):
        raise fail("spaces and control characters are not allowed in an e-mail address")
    if address.count("@") != 1:
        raise fail("expected exactly one '@' in an e-mail address")
    local, domain = address.split("@")
    if not local.isascii():
        raise fail("the part before '@' must be ASCII")
    if len(local) > 64 or not _LOCAL_RE.match(local):
        raise fail("the part before '@' is not a valid mailbox name")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise fail("the domain is not a valid host name") from None
    labels = domain.split(".")
    if len(labels) < 2:
        raise fail("the domain needs a dot (like example.org)")
    if not all(_LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        raise fail("the domain is not a valid host name")
    normalised = f"{local}@{domain}"
    if len(normalised) > 254:
        raise fail("an e-mail address has at most 254 characters")
    return normalised


# --- selection ---------------------------------------------------------------------------


def _categories(value: Any) -> list[str]:
    """The row's categories: a list, or (straight from SQLite) a JSON list."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
        if isinstance(value, str):
            return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


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
        have = {c.casefold().strip() for c in _categories(row.categories)}
        if not have & {c.casefold().strip() for c in sub.categories}:
            return False
    keywords = [k.strip().casefold() for k in sub.keywords if k.strip()]
    if keywords:
        text = "\n".join(str(v or "") for v in (row.title, row.subtitle, row.body)).casefold()
        if not any(k in text for k in keywords):
            return False
    return True


# --- schedule ----------------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: unknown time zone {name!r}") from None


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a time-zone-aware datetime, got {now!r}")


def previous_due(sub: Subscriber, now: dt.datetime) -> dt.datetime:
    """The latest scheduled time ≤ ``now``, in UTC.

    ``daily``: every day at ``at`` in ``timezone``; ``weekly``: on ``weekday`` at
    ``at``; ``hourly``: every hour at the minute of ``at``. Wall-clock times follow the
    zone's DST rules: a time skipped by a spring-forward gap happens at the same offset
    as before the gap (02:30 on a 02:00→03:00 night is 03:30), a time repeated in
    autumn happens at its first occurrence.
    """
    _require_aware(now)
    tz = _zone(sub.timezone)
    at = parse_at(sub.at)
    if at is None:
        raise ValueError(f"at: expected a time like 07:00, got {sub.at!r}")
    now_utc = now.astimezone(dt.UTC)
    local = now_utc.astimezone(tz)
    if sub.cadence == "hourly":
        # Same-tzinfo arithmetic ignores offsets, so step back in UTC.
        cand = local.replace(minute=at.minute, second=0, microsecond=0).astimezone(dt.UTC)
        return cand if cand <= now_utc else cand - dt.timedelta(hours=1)
    if sub.cadence == "daily":
        weekday = None
    elif sub.cadence == "weekly":
        weekday = weekday_index(sub.weekday)
        if weekday is None:
            raise ValueError(f"weekday: expected a day name like monday, got {sub.weekday!r}")
    else:
        raise ValueError(f"cadence: expected one of {', '.join(CADENCES)}, got {sub.cadence!r}")
    for back in range(9):
        day_ = local.date() - dt.timedelta(days=back)
        if weekday is not None and day_.weekday() != weekday:
            continue
        # Compare in UTC: aware datetimes sharing a tzinfo compare by wall time.
        cand = dt.datetime.combine(day_, at, tzinfo=tz).astimezone(dt.UTC)
        if cand <= now_utc:
            return cand
    raise AssertionError("unreachable: a due time exists within 8 days")  # pragma: no cover


# --- the message -------------------------------------------------------------------------


def message_id(address: str, digest_key: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """A Message-ID that is the same for the same subscriber and digest (idempotent resends)."""
    digest = hashlib.sha256(f"{address}|{digest_key}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _clean(text: Any, *, keep_newlines: bool = False) -> str:
    """Untrusted text without control, format-direction or other invisible trouble."""
    if text is None:
        return ""
    s = str(text).translate(_BIDI).replace("\r\n", "\n").replace("\r", "\n")
    s = "".join(c for c in s if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs", "Co"))
    if keep_newlines:
        return "\n".join(_SPACES_RE.sub(" ", line).strip() for line in s.split("\n")).strip()
    return _SPACES_RE.sub(" ", s).strip()


def _header(value: str) -> str:
    """A header value: one line, no control characters."""
    return _clean(value)


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


def _http_url(value: Any) -> str | None:
    """``value`` if it is a plain absolute http(s) URL, else None."""
    if not isinstance(value, str) or not value:
        return None
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in value):
        return None
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def _human_date(d: dt.date) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def _item_date(row: DigestRow, tz: zoneinfo.ZoneInfo) -> str:
    for key, value in (("published_at", row.published_at), ("first_seen_at", row.first_seen_at)):
        if not value or not isinstance(value, str):
            continue
        text = value.strip()
        try:
            if len(text) == 10:
                return _human_date(dt.date.fromisoformat(text))
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            log.debug("article %s: unreadable %s %r", row.id, key, value)
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return _human_date(when.astimezone(tz).date())
    return ""


def _cut(text: str, limit: int = LEAD_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > limit // 2 else text[:limit]
    return cut.rstrip(" ,;:.-–—") + "…"


def _lead(row: DigestRow) -> str:
    subtitle = _clean(row.subtitle)
    if subtitle:
        return _cut(subtitle)
    body = _clean(row.body, keep_newlines=True)
    for paragraph in re.split(r"\n\s*\n", body):
        paragraph = _clean(paragraph)
        if paragraph:
            return _cut(paragraph)
    return ""


def _site_url(settings: DigestSettings) -> str:
    site = _http_url(settings.site_url)
    if site is None:
        raise ValueError(f"site_url: expected an http(s) URL, got {settings.site_url!r}")
    return site if site.endswith("/") else site + "/"


def _item(row: DigestRow, site: str, tz: zoneinfo.ZoneInfo) -> DigestItem:
    article_id = str(row.id or "")
    link = _http_url(row.url)
    if link is None:
        link = site + "articles/" + urllib.parse.quote(article_id, safe="") if article_id else site
    return DigestItem(
        title=_clean(row.title) or "(untitled)",
        date=_item_date(row, tz),
        link=link,
        lead=_lead(row),
    )


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith((".html.j2", ".html"))


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


@functools.lru_cache(maxsize=1)
def _environment(template_dir: str | None = None) -> jinja2.Environment:
    """The shipped templates; with ``template_dir``, the operator's templates first, in
    Jinja2's sandbox (a template cannot reach Python internals: that raises SecurityError)."""
    if template_dir:
        return SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([template_dir, str(TEMPLATES)]),
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=_autoescape,  # the HTML template is escaped, the text one is not
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _list_unsubscribe_uris(address: str, settings: DigestSettings) -> list[str]:
    mailto = _header(settings.unsubscribe_mailto).replace(" ", "")
    subject = urllib.parse.quote(f"unsubscribe {address}", safe="@")
    uris = [f"<mailto:{mailto}?subject={subject}>"]
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
) -> EmailMessage:
    """One ``multipart/alternative`` message (text/plain, then text/html) listing ``rows``.

    Items appear in the order given. ``now`` (time-zone aware) dates the message and
    its subject; ``digest_key`` names this digest (same key, same Message-ID).
    """
    _require_aware(now)
    address = validate_address(sub.address, where="subscriber.address")
    tz = _zone(sub.timezone)
    site = _site_url(settings)
    sender = _sender(settings.sender)
    if settings.unsubscribe_url and (
        _http_url(settings.unsubscribe_url) is None or not settings.unsubscribe_url.lower().startswith("https://")
    ):
        raise ValueError(f"unsubscribe_url: expected an https URL, got {settings.unsubscribe_url!r}")

    items = [_item(row, site, _zone(settings.site_timezone)) for row in rows]
    n = len(items)
    date_text = _human_date(now.astimezone(tz).date())
    count_text = f"{n} new article" if n == 1 else f"{n} new articles"
    subject = f"ICESCO news: {count_text} — {date_text}"
    context = {
        "subject": subject,
        "count": n,
        "count_text": count_text,
        "date": date_text,
        "items": items,
        "address": address,
        "name": _clean(sub.name),
        "site_url": site,
        "feed_url": site + "feed.xml",
    }
    try:
        env = _environment(settings.template_dir)
        text = env.get_template("digest.txt.j2").render(context)
        html = env.get_template("digest.html.j2").render(context)
    except Exception as exc:  # a syntax error, a sandbox refusal, an undefined name, endless recursion…
        raise TemplateProblem(template_problem(exc, settings.template_dir)) from None

    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = address
    msg["Subject"] = _header(subject)
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = message_id(address, digest_key)
    msg["List-Id"] = _header(settings.list_id)
    # Folded by hand between the URIs: the email package would turn a URI longer than
    # a line into an RFC 2047 encoded-word, which no client reads as a URI.
    msg.set_raw("List-Unsubscribe", ",\n ".join(_list_unsubscribe_uris(address, settings)))
    if settings.unsubscribe_url:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # A boundary of its own, so the same digest is the same bytes. "=_" never occurs in
    # quoted-printable text (it would be "=3D_"), so it cannot clash with the content.
    msg.set_boundary("=_" + hashlib.sha256(f"{msg['Message-ID']}|{text}|{html}".encode()).hexdigest()[:40])
    log.debug("digest %s for %s: %d article(s)", msg["Message-ID"], address, n)
    return msg
