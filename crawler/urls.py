"""URL canonicalisation, article-URL recognition and stable article ids (pure functions)."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Collection
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that never change what a page shows.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ref",
        "amp",
        "_ga",
        "_gl",
    }
)
TRACKING_PREFIXES = ("utm_",)

# /{lang}/YYYY/MM/DD/slug/  (lang optional: older pages have none)
ARTICLE_PATH_RE = re.compile(r"^/(?:(?P<lang>[a-z]{2})/)?(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<slug>[^/]+)/?$")
PAGE_PATH_RE = re.compile(r"/page/(?P<n>\d+)/?$")

_SAFE_PATH = "/:@!$&'()*+,;=-._~"
_ESCAPE_RE = re.compile(r"(%[0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _requote(part: str, safe: str) -> str:
    """Normalise percent-encoding as RFC 3986 (6.2.2) says: escapes in upper case, escaped
    unreserved characters decoded, other escapes kept (``%2F`` is not ``/``), and what must
    be escaped escaped (a lone ``%`` becomes ``%25``). Idempotent."""
    out = []
    for piece in _ESCAPE_RE.split(part):
        if _ESCAPE_RE.fullmatch(piece):
            char = chr(int(piece[1:], 16))
            out.append(char if char in _UNRESERVED else piece.upper())
        elif piece:
            out.append(quote(piece, safe=safe))
    return "".join(out)


def bare_host(host: str) -> str:
    """Lower-case a host and drop a leading ``www.``."""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def canonical_url(url: str, *, default_scheme: str = "https") -> str:
    """Canonical form of a URL: https, no ``www.``, no default port, no fragment,
    no tracking parameters, sorted query, normalised percent-encoding, trailing slash.

    >>> canonical_url("http://WWW.icesco.org/en/2024/07/11/Some-Slug?utm_source=x#top")
    'https://icesco.org/en/2024/07/11/Some-Slug/'
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or default_scheme
    host = bare_host(parts.hostname or "")
    port = parts.port
    if scheme in ("http", "https") and host not in ("127.0.0.1", "localhost", "::1"):
        # Public sites answer the same on http and https: one identity.
        scheme = "https"
        port = None if port in (80, 443) else port
    elif (scheme, port) in (("http", 80), ("https", 443)):
        port = None
    netloc = host if port is None else f"{host}:{port}"
    path = _requote(parts.path or "/", _SAFE_PATH)
    path = re.sub(r"/{2,}", "/", path)
    last = path.rsplit("/", 1)[-1]
    if not path.endswith("/") and "." not in last:
        path += "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def article_path_info(url: str) -> dict[str, str] | None:
    """Return lang, date and slug of an article URL, or None if it is not one."""
    m = ARTICLE_PATH_RE.match(urlsplit(url).path)
    if not m:
        return None
    slug = unquote(m["slug"]).lower()
    if slug in ("feed", "amp", "embed"):
        return None
    return {
        "lang": m["lang"] or "en",
        "date": f"{m['y']}-{m['m']}-{m['d']}",
        "slug": slug,
    }


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


@functools.lru_cache(maxsize=8192)
def _strip_accent(c: str) -> str:
    """WordPress removes accents from Latin letters only (é -> e); Arabic keeps its hamza."""
    if ord(c) >= 0x0370:
        return c
    return "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))


def _wp_truncate(text: str, limit: int = 200) -> str:
    """WordPress cuts a title to 200 characters of its percent-encoded form before making
    the slug (``utf8_uri_encode($title, 200)``): an ASCII character counts 1, another
    3 per UTF-8 byte (an Arabic letter 6), and no character is split."""
    if len(text) * 12 <= limit:
        return text
    used = 0
    for i, c in enumerate(text):
        width = 1 if ord(c) < 128 else 3 * len(c.encode("utf-8"))
        if used + width > limit:
            return text[:i]
        used += width
    return text


def slugify(title: str) -> str:
    """The slug WordPress derives from a title (``sanitize_title_with_dashes``).

    Latin letters lose their accents; other scripts (Arabic) are kept as they are,
    lower-cased; punctuation goes, dots and spaces become dashes.

    >>> slugify("ICESCO supports G20’s decisions to face Covid-19")
    'icesco-supports-g20s-decisions-to-face-covid-19'
    """
    text = unicodedata.normalize("NFC", title.translate(_DASHES))
    if not text.isascii():
        text = "".join(map(_strip_accent, text))
    text = _wp_truncate(text.lower())
    text = text.replace(".", "-").replace("/", "-")
    out = []
    for c in text:
        if c.isalnum() or c in "-_":
            out.append(c)
        elif c.isspace():
            out.append("-")
    slug = re.sub(r"-{2,}", "-", "".join(out)).strip("-")
    return unicodedata.normalize("NFC", slug)


def article_id(lang: str, slug: str, site: str = "") -> str:
    """Stable id of an article: its language and WordPress slug, hashed, after its site's
    name (``example:3f2a…``; none for ICESCO, see :mod:`crawler.site`).

    A dump article (slug from its title) and the same article met on the live site
    (slug from its URL) get the same id, whatever host, category or scheme.
    """
    key = f"{lang.lower()}/{unicodedata.normalize('NFC', unquote(slug)).lower().strip('/')}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"{site}:{digest}" if site else digest


def host_allowed(url: str, hosts: Collection[str]) -> bool:
    """True if the URL is http(s) on one of ``hosts`` (compared without ``www.``)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bare_host(parts.hostname or "") in hosts
