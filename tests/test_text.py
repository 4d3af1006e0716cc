"""feeds/text.py: the one set of text helpers behind feeds, digests and web pages."""

from __future__ import annotations

import pytest

from feeds.text import LEAD_CHARS, categories, clean_text, http_url, lead, one_line, paragraphs, shorten

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain text", "plain text"),
        ("tab\tand\nbreaks\r\nstay", "tab\tand\nbreaks\r\nstay"),
        ("C0 \x00\x01\x1b\x1f gone", "C0  gone"),
        ("DEL and C1 \x7f\x80\x85\x9f gone", "DEL and C1  gone"),
        ("surrogates \ud800\udfff and \ufffe\uffff gone", "surrogates  and  gone"),
        ("bidi \u202aa\u202bb\u202cc\u202dd\u202ee\u2066f\u2067g\u2068h\u2069 gone", "bidi abcdefgh gone"),
        ("private use \ue000\uf8ff\U000f0000\U0010fffd gone", "private use  gone"),
        ("Arabic مرحبا, marks \u200f\u200e and emoji 🎉 stay", "Arabic مرحبا, marks \u200f\u200e and emoji 🎉 stay"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (None, ""),
        ("", ""),
        ("  A short\nsubtitle  ", "A short subtitle"),
        ("a\r\n\tb\u2028c\u00a0d", "a b c d"),
        ("x\x00y \u202eevil", "xy evil"),
        (42, "42"),
    ],
)
def test_one_line(raw: object, line: str) -> None:
    assert one_line(raw) == line


def test_paragraphs() -> None:
    assert paragraphs("Para one & more.\r\n\r\nPara <two>.\n \nPara\nthree.\n\n\n") == [
        "Para one & more.",
        "Para <two>.",
        "Para\nthree.",
    ]
    assert paragraphs("\x00\n\n  \n") == []
    assert paragraphs("one\rtwo\r\rthree") == ["one\ntwo", "three"]


def test_shorten_cuts_on_a_word_and_inside_a_very_long_one() -> None:
    words = " ".join(["word"] * 100)  # 499 characters
    assert shorten(words) == " ".join(["word"] * 60) + "\u2026"  # 299 characters, then the ellipsis
    assert shorten("x" * 400) == "x" * 300 + "\u2026"
    long_word = "a" * 149 + " " + "b" * 200  # the only space is before half the limit: cut inside the word
    assert shorten(long_word) == "a" * 149 + " " + "b" * 150 + "\u2026"
    assert shorten("a" * 150 + " " + "b" * 200) == "a" * 150 + "\u2026"
    assert shorten("x" * LEAD_CHARS) == "x" * LEAD_CHARS
    assert shorten("Done, and more words.", limit=6) == "Done\u2026"  # no trailing comma
    assert shorten("Done — yes", limit=7) == "Done\u2026"


def test_lead_is_the_subtitle_else_the_first_paragraph() -> None:
    assert lead("  A short\nsubtitle  ", "Body.") == "A short subtitle"
    assert lead(None, "\n\nFirst\nparagraph.\n\nSecond.") == "First paragraph."
    assert lead("", "\x00\n\n \u202e\n\nReal one.") == "Real one."
    assert lead(None, None) == ""
    assert lead("", "") == ""
    words = " ".join(f"word{i}" for i in range(100))
    assert lead(None, words) == words[: words.index(" word44")] + "\u2026"
    assert lead(None, words, limit=20) == "word0 word1 word2\u2026"


@pytest.mark.parametrize(
    ("value", "terms"),
    [
        (["News", "Culture & Science", "News", ""], ["News", "Culture & Science"]),
        (("a\nb", " c ", 5, None), ["a b", "c"]),
        ('["News", "Events"]', ["News", "Events"]),  # the JSON column as the archive stores it
        ('"solo"', ["solo"]),
        ("not json", ["not json"]),
        ("[]", []),
        ('{"a": 1}', []),
        (None, []),
        (7, []),
        (["<b>x</b>\x00", "\ud800"], ["<b>x</b>"]),
    ],
)
def test_categories(value: object, terms: list[str]) -> None:
    assert categories(value) == terms


@pytest.mark.parametrize(
    "url",
    [
        "https://icesco.org/en/2024/07/11/x/",
        "http://127.0.0.1:8080/articles/0123456789abcdef",
        "HTTPS://icesco.org/ar/%d8%a7/",
    ],
)
def test_http_url_keeps_plain_http_links(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        42,
        "javascript:alert(1)",
        "JavaScript:alert(1)//http://icesco.org/",
        "data:text/html,<script>alert(1)</script>",
        "ftp://icesco.org/x",
        "/en/2024/07/11/x/",
        "//icesco.org/x",
        "https:///no-host",
        "https://icesco.org/a b",
        "https://icesco.org/\r\nx",
        "https://icesco.org/\x00",
        "https://icesco.org/\x85",
        "https://icesco.org/x\u200b",  # invisible format character
        "https://icesco.org/\u202eexe.txt",
        "http://[::1",
    ],
)
def test_http_url_refuses_everything_else(url: object) -> None:
    assert http_url(url) is None
