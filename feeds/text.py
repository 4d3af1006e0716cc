"""An article's text as readers get it: cleaned, on one line, cut to a lead; its categories;
its link when that is safe to follow. One home for what the feeds (RSS, Atom, JSON Feed),
the e-mail digests and the web pages show.

Article text is untrusted. :func:`clean_text` removes what no reader should get: the
characters XML 1.0 forbids (C0 controls but tab and line breaks, lone surrogates, U+FFFE,
U+FFFF), C1 controls, private-use characters, and the bidirectional overrides and isolates
that can make a line read differently than it is.
"""

from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import urlsplit

LEAD_CHARS = 300  # a lead (feed summary, digest item) is cut to about this many characters

_FORBIDDEN = re.compile(
    "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"  # outside XML 1.0's Char production
    "|[\x7f-\x9f]"  # DEL and the C1 controls
    "|[\u202a-\u202e\u2066-\u2069]"  # bidirectional embeddings, overrides and isolates
    "|[\ue000-\uf8ff\U000f0000-\U0010ffff]"  # private use
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n\s*")
_TRAILING = " \t,;:.-\u2013\u2014"  # left off a cut text before the ellipsis


def clean_text(value: str) -> str:
    """``value`` without forbidden, control, private-use or bidi-override characters
    (tabs and line breaks stay)."""
    return _FORBIDDEN.sub("", value)


def one_line(value: object) -> str:
    """Cleaned text on a single line: every run of white space (CR, LF, tabs, U+2028...)
    becomes one space, leading and trailing space is dropped. None is ""."""
    if value is None:
        return ""
    return " ".join(clean_text(str(value)).split())


def paragraphs(body: str) -> list[str]:
    """The non-empty paragraphs of a plain-text body (separated by blank lines), cleaned."""
    text = clean_text(body).replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def shorten(text: str, limit: int = LEAD_CHARS) -> str:
    """``text`` cut to about ``limit`` characters on a word boundary, with "…" (inside a
    very long word when no space comes after half the limit)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    if cut < limit // 2:
        cut = limit
    return text[:cut].rstrip(_TRAILING) + "\u2026"


def lead(subtitle: str | None, body: str | None, limit: int = LEAD_CHARS) -> str:
    """What an article is about, on one line: its subtitle if it has one, else its first
    paragraph, shortened; "" when it has neither."""
    text = one_line(subtitle)
    if not text:
        first = paragraphs(body or "")
        text = one_line(first[0]) if first else ""
    return shorten(text, limit)


def categories(value: object) -> list[str]:
    """An article's categories, each on one line, without duplicates or empty ones, in
    order. ``value`` is a list, or the JSON text the archive stores (text that is not a
    JSON list is one category)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
        if isinstance(value, str):
            value = [value]
    if not isinstance(value, list | tuple):
        return []
    seen: list[str] = []
    for item in value:
        if isinstance(item, str):
            term = one_line(item)
            if term and term not in seen:
                seen.append(term)
    return seen


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host and nothing a reader or XML
    could choke on (white space, control or invisible format characters), else None."""
    if not isinstance(value, str) or not value:
        return None
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and host else None
