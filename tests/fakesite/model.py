"""The fake site's data: articles, recorded requests, fault rules, responses, and the
small pure helpers of its pages (dates, escaping, validators)."""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import hashlib
import html
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = "127.0.0.1"
HTML_CONTENT_TYPE = "text/html; charset=UTF-8"
EXCERPT_WORDS = 30
LATEST_COUNT = 3

_HTML_LANG = {"en": "en-US", "fr": "fr-FR", "ar": "ar"}
_OG_LOCALE = {"en": "en_US", "fr": "fr_FR", "ar": "ar_AR"}
_RTL_LANGS = frozenset({"ar"})
_DEFAULT_LANGS = ("en", "fr", "ar")
_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "ar": (
        "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
        "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
    ),
}  # fmt: skip

_LISTING_RE = re.compile(r"^/(?P<lang>[a-z]{2})/category/(?P<cat>[^/]+)/(?:page/(?P<page>[^/]+)/)?$")
_ARTICLE_RE = re.compile(r"^/(?P<lang>[a-z]{2})/(?P<date>\d{4}/\d{2}/\d{2})/(?P<slug>[^/]+)/$")
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass
class SiteArticle:
    """One post of the fake site; served at ``/{lang}/{YYYY}/{MM}/{DD}/{slug}/``."""

    slug: str
    title: str
    published: datetime.datetime
    paragraphs: list[str]
    categories: list[str] = field(default_factory=lambda: ["news"])
    subtitle: str | None = None
    lang: str = "en"
    modified: datetime.datetime | None = None

    def __post_init__(self) -> None:
        if not self.slug or "/" in self.slug:
            raise ValueError(f"invalid slug: {self.slug!r}")
        if not re.fullmatch(r"[a-z]{2}", self.lang):
            raise ValueError(f"invalid lang: {self.lang!r}")
        for name in ("published", "modified"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware: {value!r}")

    @property
    def path(self) -> str:
        slug = urllib.parse.quote(self.slug, safe="")
        return f"/{self.lang}/{self.published:%Y/%m/%d}/{slug}/"

    @property
    def last_modified(self) -> datetime.datetime:
        return self.modified or self.published


@dataclass
class Hit:
    """One request received by the fake site.

    ``path`` is the request path *with* its query string (``?a=b``) if any;
    ``host`` the lower-cased host name of the ``Host`` header, without port;
    ``headers`` the request headers with canonical names (``User-Agent``).
    ``status`` is 0 until the response is decided (e.g. while a ``delay()``
    is running, or if ``stop()`` interrupted it); ``bytes_sent`` is the length
    of the body actually sent (0 for HEAD and 304).
    """

    method: str
    path: str
    host: str
    status: int
    bytes_sent: int
    headers: dict[str, str]
    at: float = field(default=0.0, compare=False, repr=False)  # time.monotonic() when received


@dataclass
class _FailRule:
    status: int
    times: int | None
    headers: dict[str, str]


@dataclass
class _ConnFault:
    kind: str  # reset, truncate, stream, redirect
    times: int | None
    fraction: float = 0.5  # truncate: share of the body sent
    nbytes: int = 0  # stream: body length
    content_type: str = HTML_CONTENT_TYPE  # stream
    location: str = ""  # redirect
    status: int = 302  # redirect


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = HTML_CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    etag: str | None = None
    last_modified: int | None = None  # POSIX seconds


def category_name(slug: str) -> str:
    """Display name of a slug: ``executive-council`` -> ``Executive Council``."""
    return " ".join(part.capitalize() for part in slug.split("-") if part)


def excerpt(article: SiteArticle) -> str:
    """Listing excerpt: first 30 words of the text, `` […]`` when cut."""
    words = " ".join(article.paragraphs).split()
    text = " ".join(words[:EXCERPT_WORDS])
    return text + " [\u2026]" if len(words) > EXCERPT_WORDS else text


def _iso(dt: datetime.datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _date_line(dt: datetime.datetime, lang: str) -> str:
    months = _MONTHS.get(lang, _MONTHS["en"])
    return f"{dt.day} {months[dt.month - 1]} {dt.year}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _canonical_header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _hostname(host_header: str) -> str:
    if not host_header:
        return ""
    try:
        return urllib.parse.urlsplit("//" + host_header).hostname or ""
    except ValueError:
        return host_header.lower()


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == wanted for candidate in if_none_match.split(","))


def _json_ld(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1).replace("</", "<\\/")


def _copy_article(a: SiteArticle) -> SiteArticle:
    return dataclasses.replace(a, paragraphs=list(a.paragraphs), categories=list(a.categories))


def _page(title: str, inner: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="UTF-8"><title>{_esc(title)}'
        f"</title></head><body>{inner}</body></html>\n"
    ).encode()


def _page_response(body: bytes, shown: list[SiteArticle]) -> _Response:
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
    last_modified = max(int(a.last_modified.timestamp()) for a in shown) if shown else None
    headers = [("ETag", etag)]
    if last_modified is not None:
        headers.append(("Last-Modified", email.utils.formatdate(last_modified, usegmt=True)))
    return _Response(200, body, headers=headers, etag=etag, last_modified=last_modified)


def _conditional(response: _Response, headers: dict[str, str]) -> _Response:
    if response.etag is None:
        return response
    if_none_match = headers.get("If-None-Match")
    not_modified = False
    if if_none_match is not None:
        not_modified = _etag_matches(if_none_match, response.etag)
    elif response.last_modified is not None and "If-Modified-Since" in headers:
        try:
            since = email.utils.parsedate_to_datetime(headers["If-Modified-Since"])
        except (TypeError, ValueError):
            since = None
        if since is not None:
            if since.tzinfo is None:
                since = since.replace(tzinfo=datetime.UTC)
            not_modified = since.timestamp() >= response.last_modified
    if not not_modified:
        return response
    # Body kept only so that Content-Length reports the 200 length; not sent.
    return dataclasses.replace(response, status=304)
