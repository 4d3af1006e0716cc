"""Dates as ICESCO writes them (``crawler/dates.py``), in English, French and Arabic: date
lines, the first event date of the prose, the year of a date written without one, and the
ISO forms of metadata and storage. Pure functions: every case is one row of a table."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.dates import find_date, is_date_line, parse_date_line, parse_iso_datetime, to_iso

pytestmark = pytest.mark.unit


def day(year: int, month: int, d: int) -> dt.date:
    return dt.date(year, month, d)


def at(year: int, month: int, d: int, hour: int = 9) -> dt.datetime:
    """A reference time (when a dump was captured), UTC."""
    return dt.datetime(year, month, d, hour, tzinfo=dt.UTC)


# --- date lines -------------------------------------------------------------------------------

# (line, what it reads as with no reference, with the reference 2 November 2025)
DATE_LINES = [
    ("11 July 2024", day(2024, 7, 11), day(2024, 7, 11)),
    ("Rabat: 29 October 2025", day(2025, 10, 29), day(2025, 10, 29)),
    ("April 14, 2020 0", day(2020, 4, 14), day(2020, 4, 14)),  # a comment counter after it
    ("May 5, 2023 - 10:30", day(2023, 5, 5), day(2023, 5, 5)),  # a time after it
    ("Sept. 21st 2020", day(2020, 9, 21), day(2020, 9, 21)),
    ("12 - 14 March 2023", day(2023, 3, 12), day(2023, 3, 12)),  # a span: its first day
    ("2024-07-11", day(2024, 7, 11), day(2024, 7, 11)),
    # French
    ("5 décembre 2022", day(2022, 12, 5), day(2022, 12, 5)),
    ("Rabat, 5 décembre 2022", day(2022, 12, 5), day(2022, 12, 5)),
    ("1er janvier 2023", day(2023, 1, 1), day(2023, 1, 1)),
    ("3 janv. 2024", day(2024, 1, 3), day(2024, 1, 3)),
    ("30 déc 2024", day(2024, 12, 30), day(2024, 12, 30)),
    # Arabic: Egyptian and Levantine month names, Eastern Arabic digits
    ("29 أكتوبر 2025", day(2025, 10, 29), day(2025, 10, 29)),
    ("الرباط: 29 أكتوبر 2025", day(2025, 10, 29), day(2025, 10, 29)),
    ("١١ يوليو ٢٠٢٤", day(2024, 7, 11), day(2024, 7, 11)),
    ("2 آب 2024", day(2024, 8, 2), day(2024, 8, 2)),
    ("15 تشرين الأول 2023", day(2023, 10, 15), day(2023, 10, 15)),
    # No year: only a reference time gives one
    ("13 February", None, day(2025, 2, 13)),
    ("received yesterday, September 21", None, day(2025, 9, 21)),
    # The form of a date line, but no such day
    ("31 February 2023", None, None),
    ("2024-02-30", None, None),
]


@pytest.mark.parametrize(("line", "alone", "referenced"), DATE_LINES, ids=[row[0] for row in DATE_LINES])
def test_a_date_line_reads_as_its_day(line: str, alone: dt.date | None, referenced: dt.date | None) -> None:
    assert (parse_date_line(line), parse_date_line(line, at(2025, 11, 2)), is_date_line(line)) == (
        alone,
        referenced,
        True,
    )


NOT_DATE_LINES = [
    "today, Wednesday, November 23, 2022",  # a date in a sentence, not a date line
    "Rabat: 29 October 2025 and many more words that make this line a sentence rather than a date",
    "The conference was great",
    "ICESCO Director-General receives ambassador",
    "In 2022",
    "",
]


@pytest.mark.parametrize("line", NOT_DATE_LINES)
def test_a_line_that_is_not_a_date_line(line: str) -> None:
    assert (parse_date_line(line), parse_date_line(line, at(2025, 11, 2)), is_date_line(line)) == (None, None, False)


# --- the first event date of the prose --------------------------------------------------------

PROSE = [
    ("today, Wednesday, November 23, 2022", None, day(2022, 11, 23)),
    ("Rabat: 29 October 2025", None, day(2025, 10, 29)),
    ("Le 5 décembre 2022, l'ICESCO a organisé un colloque", None, day(2022, 12, 5)),
    ("تلقى المدير العام يوم 21 سبتمبر 2020 رسالة", None, day(2020, 9, 21)),
    ("on May 5, 2023 the Director-General", None, day(2023, 5, 5)),
    # without a year: the reference's year…
    ("received yesterday, September 21", at(2020, 9, 23), day(2020, 9, 21)),
    ("استقبل أمس، ٢١ سبتمبر، سفير", at(2020, 9, 23), day(2020, 9, 21)),
    # …a day ahead of it allowed (time zones)…
    ("received yesterday, September 21", at(2020, 9, 20), day(2020, 9, 21)),
    # …else last year's: "September 21" read in January
    ("received yesterday, September 21", at(2021, 1, 5), day(2020, 9, 21)),
    ("on 31 December", at(2021, 1, 1), day(2020, 12, 31)),
    ("on 29 February", at(2024, 3, 1), day(2024, 2, 29)),
    ("on 29 February", at(2021, 3, 1), None),  # 2021 has none
    # …and nothing without a reference: never "now"
    ("received yesterday, September 21", None, None),
    # deadlines are passed over, in the three languages
    ("Applications are open until 30 November 2025; the meeting was on 12 October 2025.", None, day(2025, 10, 12)),
    ("The deadline is 30 November 2025.", None, None),
    ("jusqu'au 30 novembre 2025, puis le 3 octobre 2025", None, day(2025, 10, 3)),
    ("avant le 3 mars 2024", None, None),
    ("حتى 30 نوفمبر 2025", None, None),
    # with a reference, a date after it is announced, not an event
    ("The forum on 15 December 2025 follows the meeting of 2 October 2025.", at(2025, 11, 2), day(2025, 10, 2)),
    ("The forum on 15 December 2025 follows the meeting of 2 October 2025.", None, day(2025, 12, 15)),
    # undated text
    ("we may 5 times try", None, None),  # "may" in lower case is not the month
    ("In 2022, ICESCO held 40 meetings.", None, None),
    ("Page 12 of 30", None, None),
    ("2024-07-11", None, None),  # an ISO date is a date line's form, not prose
    ("", None, None),
]


@pytest.mark.parametrize(
    ("text", "reference", "expected"), PROSE, ids=[f"{i}:{row[0][:40]}" for i, row in enumerate(PROSE)]
)
def test_the_first_event_date_of_the_prose(text: str, reference: dt.datetime | None, expected: dt.date | None) -> None:
    assert find_date(text, reference) == expected


# --- ISO forms: metadata in, storage out ------------------------------------------------------

PLUS_TWO = dt.timezone(dt.timedelta(hours=2))

ISO_IN = [
    ("2024-07-11", day(2024, 7, 11)),
    ("2024-07-11T09:30:00+02:00", dt.datetime(2024, 7, 11, 9, 30, tzinfo=PLUS_TWO)),
    ("2024-07-11T09:30:00Z", dt.datetime(2024, 7, 11, 9, 30, tzinfo=dt.UTC)),
    (" 2024-07-11T09:30:00 ", dt.datetime(2024, 7, 11, 9, 30)),
    ("", None),
    ("  ", None),
    ("yesterday", None),
    ("2024-13-01", None),
]


@pytest.mark.parametrize(("value", "expected"), ISO_IN, ids=[repr(row[0]) for row in ISO_IN])
def test_iso_dates_of_metadata_are_parsed(value: str, expected: dt.datetime | dt.date | None) -> None:
    got = parse_iso_datetime(value)
    assert (got, type(got), getattr(got, "tzinfo", None)) == (
        expected,
        type(expected),
        getattr(expected, "tzinfo", None),
    )


ISO_OUT = [
    (None, None),
    (day(2024, 7, 11), "2024-07-11"),
    (dt.datetime(2024, 7, 11, 9, 30, tzinfo=PLUS_TWO), "2024-07-11T07:30:00+00:00"),
    (dt.datetime(2024, 7, 11, 9, 30), "2024-07-11T09:30:00+00:00"),  # naive counts as UTC
    (dt.datetime(2024, 7, 11, 9, 30, 15, 999, tzinfo=dt.UTC), "2024-07-11T09:30:15+00:00"),
]


@pytest.mark.parametrize(("value", "expected"), ISO_OUT, ids=[repr(row[1]) for row in ISO_OUT])
def test_dates_are_stored_as_iso_in_utc(value: dt.datetime | dt.date | None, expected: str | None) -> None:
    assert to_iso(value) == expected
