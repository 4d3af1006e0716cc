"""Subscribers: who they are, whether an address is one plain mailbox, and when one is due.

Pure functions (no clock: ``now`` is passed in, time-zone aware). The config checks
subscribers with the same rules (:func:`parse_at`, :func:`weekday_index`,
:func:`validate_address`), so what loads is what the digests accept.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable

from feeds.rows import ReaderRow
from feeds.settings import Subscriber

CADENCES = ("daily", "weekly", "hourly", "immediate")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
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


class AddressError(ValueError):
    """An e-mail address is not one plain ``local@domain.tld``."""


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


# --- schedule ----------------------------------------------------------------------------


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: unknown time zone {name!r}") from None


def require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a time-zone-aware datetime, got {now!r}")


def previous_due(sub: Subscriber, now: dt.datetime) -> dt.datetime:
    """The latest scheduled time ≤ ``now``, in UTC.

    ``daily``: every day at ``at`` in ``timezone``; ``weekly``: on ``weekday`` at
    ``at``; ``hourly``: every hour at the minute of ``at``; ``immediate``: ``now`` to the
    second (every digest check is due). Wall-clock times follow the
    zone's DST rules: a time skipped by a spring-forward gap happens at the same offset
    as before the gap (02:30 on a 02:00→03:00 night is 03:30), a time repeated in
    autumn happens at its first occurrence.
    """
    require_aware(now)
    if sub.cadence == "immediate":
        return now.astimezone(dt.UTC).replace(microsecond=0)
    tz = zone(sub.timezone)
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


def subscribers_of(
    configured: Iterable[Subscriber], readers: Iterable[ReaderRow], opted_out: set[str]
) -> list[Subscriber]:
    """Who gets digests: the subscribers of config.yaml but those who unsubscribed with a
    digest's link, then the active readers recorded in the archive (a reader whose
    address config.yaml has, and who did not opt out, is the file's)."""
    subs = [s for s in configured if s.address not in opted_out]
    have = {s.address for s in subs}
    for r in readers:
        if r.status == "active" and r.address not in have:
            subs.append(
                Subscriber(
                    address=r.address,
                    cadence=r.cadence,
                    languages=list(r.languages),
                    keywords=list(r.keywords),
                    edits=bool(r.edits),
                )
            )
            have.add(r.address)
    return subs
