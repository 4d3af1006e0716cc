"""The pure rules of politeness (``crawler/middlewares.py``, ``crawler/robots.py``): how long
a ``Retry-After`` asks to wait, and what a robots.txt answer stands for (RFC 9309). Their
middlewares at work in Scrapy's engine: ``tests/test_middlewares.py``."""

from __future__ import annotations

import email.utils

import pytest

from crawler.middlewares import retry_after_seconds
from crawler.robots import DISALLOW_ALL, rules_for

pytestmark = pytest.mark.unit

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(NOW + seconds_from_now, usegmt=True)


RETRY_AFTER = [
    ("1", 1.0),
    ("0", 0.0),
    (" 120 ", 120.0),
    (http_date(60), 60.0),  # an HTTP-date: the seconds until then
    (http_date(3600), 3600.0),
    (http_date(0), 0.0),
    (http_date(-60), 0.0),  # already past: at once
    ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
    ("Sunday, 06-Nov-94 08:49:37 GMT", 0.0),  # the obsolete RFC 850 form
    (None, None),  # no header
    ("", None),
    ("soon", None),
    ("-5", None),  # not delta-seconds
    ("1.5", None),
]


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER, ids=[repr(row[0]) for row in RETRY_AFTER])
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


RULES = "User-agent: *\nDisallow: /wp-admin/\n"
ROBOTS_ANSWERS = [
    (200, RULES.encode(), RULES),  # its rules
    (200, b"Disallow: /caf\xe9/\n", "Disallow: /caf\ufffd/\n"),  # not UTF-8: read anyway
    (204, b"", ""),
    (401, b"<html>login</html>", ""),  # 4xx: no rules, everything may be fetched
    (403, b"<html>forbidden</html>", ""),
    (404, b"<html>not found</html>", ""),
    (410, b"", ""),
    (429, b"slow down", DISALLOW_ALL),  # 429 and 5xx: nothing may be fetched
    (500, b"<html>error</html>", DISALLOW_ALL),
    (503, b"", DISALLOW_ALL),
    (599, b"", DISALLOW_ALL),
]


@pytest.mark.parametrize(("status", "body", "rules"), ROBOTS_ANSWERS, ids=[str(row[0]) for row in ROBOTS_ANSWERS])
def test_what_a_robots_txt_answer_stands_for(status: int, body: bytes, rules: str) -> None:
    assert rules_for(status, body) == rules


def test_disallow_all_disallows_everything() -> None:
    assert DISALLOW_ALL == "User-agent: *\nDisallow: /\n"
