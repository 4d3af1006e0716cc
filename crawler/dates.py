"""Dates as ICESCO writes them, in English, French and Arabic (pure functions).

Two uses: a *date line* (a whole line that is a date, as under an article's title:
"11 July 2024", "April 14, 2020 0", "Rabat: 29 October 2025", "5 décembre 2022"),
and the first date *in the prose* ("today, Wednesday, November 23, 2022",
"received yesterday, September 21"). A date without a year is resolved against a
reference time (when a dump was captured) or not at all: never against "now".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

_MONTHS: dict[str, int] = {}
for _n, _names in enumerate(
    [
        "january jan janvier janv يناير جانفي كانون-الثاني",
        "february feb febr février fevrier févr fevr فبراير فيفري شباط",
        "march mar mars مارس آذار",
        "april apr avril avr أبريل ابريل إبريل أفريل نيسان",
        "may mai مايو ماي أيار",
        "june jun juin يونيو يونيه جوان حزيران",
        "july jul juillet juil يوليو يوليوز جويلية تموز",
        "august aug août aout أغسطس اغسطس غشت أوت آب",
        "september sep sept septembre سبتمبر شتنبر أيلول",
        "october oct octobre أكتوبر اكتوبر تشرين-الأول",
        "november nov novembre نوفمبر نونبر تشرين-الثاني",
        "december dec décembre decembre déc dec ديسمبر دجنبر كانون-الأول",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name.replace("-", " ")] = _n

# Longest names first so that "sept" wins over "sep", "juillet" over "juil".
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_EASTERN_DIGIT_RE = re.compile("[٠-٩۰-۹]")
_DAY = r"(?P<d{i}>[0-3]?\d)(?:st|nd|rd|th|er|ᵉʳ)?"
_YEAR = r"(?P<y{i}>(?:19|20)\d\d)"

# "29 October 2025", "5 décembre 2022", "١١ يوليو ٢٠٢٤", "13 February"
_RANGE = r"(?:\s*(?:[-–—]|to|and|au|à|et|إلى|و)\s*[0-3]?\d(?:st|nd|rd|th|er)?)?"
_DMY = rf"\b{_DAY.format(i=1)}{_RANGE}\.?\s+(?P<m1>{_MONTH_ALT})\.?(?:,?\s+{_YEAR.format(i=1)})?\b"
# "November 23, 2022", "September 21", "Sept. 21st 2020"
_MDY = rf"\b(?P<m2>{_MONTH_ALT})\.?\s+{_DAY.format(i=2)}{_RANGE}\b(?:,?\s*{_YEAR.format(i=2)}\b)?"
_ANY_DATE = re.compile(rf"(?:{_DMY})|(?:{_MDY})", re.IGNORECASE)

# A date line: the date alone, maybe after "City:" or "City," and maybe followed by a
# comment counter ("April 14, 2020 0") or a time ("- 10:30").
_DATE_LINE = re.compile(
    rf"^\s*(?:[^\d:,]{{1,40}}[:,،]\s*)?(?:(?:{_DMY})|(?:{_MDY}))"
    rf"\s*(?:[-–|,]?\s*\d{{1,2}}:\d{{2}}(?:\s*[ap]\.?m\.?)?)?\s*\d{{0,4}}\s*$",
    re.IGNORECASE,
)
_ISO_LINE = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s*$")


def _build(m: re.Match[str], reference: dt.datetime | None) -> dt.date | None:
    i = "1" if m.group("m1") else "2"
    month = _MONTHS.get(m.group("m" + i).lower().rstrip("."))
    day = int(m.group("d" + i))
    year_s = m.group("y" + i)
    if month is None:
        return None
    if year_s:
        year = int(year_s)
    elif reference is not None:
        ref = reference.date()
        year = ref.year
        try:
            if dt.date(year, month, day) > ref + dt.timedelta(days=1):
                year -= 1  # "September 21" read in January is last year's
        except ValueError:
            return None
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_date_line(line: str, reference: dt.datetime | None = None) -> dt.date | None:
    """The date if the whole line is a date line, else None."""
    text = line.translate(_DIGITS).strip()
    if len(text) > 60:
        return None
    iso = _ISO_LINE.match(text)
    if iso:
        try:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    m = _DATE_LINE.match(text)
    if not m:
        return None
    return _build(m, reference)


def is_date_line(line: str) -> bool:
    """True if the line is a date line in form, with or without a year."""
    text = line.translate(_DIGITS).strip()
    return len(text) <= 60 and bool(_DATE_LINE.match(text) or _ISO_LINE.match(text))


# A date after these words is a deadline, not when something happened.
_DEADLINE_RE = re.compile(
    r"(?:until|till|by|before|deadline(?: of| is)?|through|(?:extended|postponed|deferred|moved) to|no later than|jusqu.(?:au|à)|avant le|d.ici le|حتى|قبل)\s*$",
    re.IGNORECASE,
)


_DAY_DIGITS_RE = re.compile(r"(?<!\d)[0-3]?\d(?!\d)")


def _candidates(text: str) -> Iterator[re.Match[str]]:
    """The date matches of the text, in order. Trying the month alternation at every
    position is slow; a date always holds a one- or two-digit day, so only the
    neighbourhood of such numbers is searched."""
    pos = 0
    for day in _DAY_DIGITS_RE.finditer(text):
        if day.end() <= pos:
            continue
        m = _ANY_DATE.search(text, max(pos, day.start() - 30), day.end() + 30)
        if m is not None and m.start() <= day.start() <= m.end():
            pos = m.end()
            yield m


def find_date(text: str, reference: dt.datetime | None = None) -> dt.date | None:
    """The first date the text states for an event, or None.

    Deadlines ("until 30 November 2025") and, when the reference time is known,
    dates after it are not event dates and are passed over."""
    if _EASTERN_DIGIT_RE.search(text):
        text = text.translate(_DIGITS)
    for m in _candidates(text):
        if _DEADLINE_RE.search(text[max(0, m.start() - 30) : m.start()]):
            continue
        month = m.group("m1") or m.group("m2")
        # English month names are capitalised; "may 5" is not a date.
        if month.isascii() and month[0].islower() and month.lower() in ("may", "mar", "jun"):
            continue
        found = _build(m, reference)
        if found is not None and (reference is None or found <= reference.date() + dt.timedelta(days=1)):
            return found
    return None


def parse_iso_datetime(value: str) -> dt.datetime | dt.date | None:
    """Parse an ISO 8601 date or date-time as published in HTML metadata."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def to_iso(value: dt.datetime | dt.date | None) -> str | None:
    """Store form: a date as YYYY-MM-DD, a date-time in UTC (naive counts as UTC)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return value.isoformat()
