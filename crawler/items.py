"""The records that flow from the spider to the archive."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from crawler.urls import article_id, slugify


@dataclass
class ArticleItem:
    """One article as read from a page or a dump."""

    title: str
    paragraphs: list[str]
    lang: str = "en"
    slug: str = ""
    url: str | None = None
    subtitle: str | None = None
    published_at: str | None = None  # ISO 8601 date or UTC date-time
    modified_at: str | None = None
    categories: list[str] = field(default_factory=list)
    source: str = ""  # where it was read: a URL, or "path#n" for a dump
    partial: bool = False  # the dump was cut inside this article
    maybe_cut: bool = False  # last of a dump with no page tail: may lack trailing paragraphs
    site: str = ""  # the site's name in its id ("" for ICESCO's bare ids: crawler.site)

    def __post_init__(self) -> None:
        if not self.slug:
            self.slug = slugify(self.title)

    @property
    def id(self) -> str:
        return article_id(self.lang, self.slug, self.site)

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.subtitle, self.body)


@dataclass
class SnapshotItem:
    """All the articles of one dump: stored together, in one transaction."""

    source: str
    articles: list[ArticleItem]


@dataclass
class ListingItem:
    """A listing page's validators and the article links it held."""

    url: str
    links: list[str]
    page: int = 1
    next_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None


_TYPO = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u200e": "",
        "\u200f": "",
        "\ufeff": "",
    }
)


_TYPO_MAP = {chr(k): v for k, v in _TYPO.items()}
_TYPO_RE = re.compile("[" + "".join(_TYPO_MAP) + "]")


def normalise_text(text: str) -> str:
    """Text with typography and white space folded: what counts when comparing versions."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = _TYPO_RE.sub(lambda m: _TYPO_MAP[m[0]], text)
    return " ".join(text.split())


def content_hash(title: str, subtitle: str | None, body: str) -> str:
    """Hash of what a reader sees; white space and typography differences do not count."""
    parts = [normalise_text(title), normalise_text(subtitle or "")]
    parts += [normalise_text(p) for p in body.split("\n\n") if p.strip()]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
