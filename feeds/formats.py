"""The feed formats: one registry entry each.

Everything that publishes feeds goes through :data:`FORMATS`: the HTTP server serves
each entry at ``/<path>`` with its media type (and ETag, Last-Modified, 304, HEAD), the
index page links each one for autodiscovery, and the files written to ``feed.out_dir``
are one per entry. Adding a format is one entry here, with a ``build`` function
(``rows, FeedSettings, its own URL, Channel -> bytes``, the same bytes for the same rows). A
format's own URL is its path under ``feed.base_url``; one language's feed is under its
language (``en/feed.xml``), a search feed adds its query string (:class:`feeds.entries.Channel`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlencode

from feeds.entries import COMBINED, NO_EDITS, Channel, Edits
from feeds.files import write_atomic
from feeds.render import build_atom, build_json, build_rss
from feeds.rows import ArticleRow
from feeds.settings import LANGUAGE_FEEDS, FeedSettings

Rows = Sequence[ArticleRow]


@dataclass(frozen=True)
class Format:
    name: str  # registry key ("rss")
    path: str  # file name in feed.out_dir and URL path under the site root ("feed.xml")
    media_type: str  # the Content-Type it is served with
    label: str  # shown to people ("RSS"): link titles on the index page
    # rows, the feed's settings, its own URL, which feed, the last revision of edited rows
    build: Callable[[Rows, FeedSettings, str, Channel, Edits], bytes]

    @property
    def link_type(self) -> str:
        """The media type without parameters, for ``<link rel="alternate" type=...>``."""
        return self.media_type.split(";", 1)[0].strip()

    @property
    def url_path(self) -> str:
        return "/" + self.path

    def url(self, feed: FeedSettings, channel: Channel = COMBINED) -> str:
        """Where readers fetch this format of ``channel``: its path under ``feed.base_url``
        (after the channel's prefix; then its query)."""
        url = feed.url(channel.prefix + self.path)
        return url + "?" + channel.query if channel.query else url

    def render(self, rows: Rows, feed: FeedSettings, channel: Channel = COMBINED, edits: Edits = NO_EDITS) -> bytes:
        """This format of ``channel`` built from ``rows`` (``edits``: the last revision of
        the edited ones, by id), linking to itself at :meth:`url`."""
        return self.build(rows, feed, self.url(feed, channel), channel, edits)


FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        f.name: f
        for f in (
            Format("rss", "feed.xml", "application/rss+xml; charset=utf-8", "RSS", build_rss),
            Format("atom", "atom.xml", "application/atom+xml; charset=utf-8", "Atom", build_atom),
            Format("json", "feed.json", "application/feed+json; charset=utf-8", "JSON Feed", build_json),
        )
    }
)


LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_FEEDS)  # each has its feeds under /LANG/


def language_channel(lang: str) -> Channel:
    """The feeds of one language (one of LANGUAGES): under ``LANG/``, titled in it."""
    title, description = LANGUAGE_FEEDS[lang]
    return Channel(lang=lang, title=title, description=description, prefix=lang + "/")


def search_channel(feed: FeedSettings, words: str, category: str = "", lang: str = "") -> Channel:
    """The feed of a search (its words, a category, a language; each "" if not given): its
    title says what was searched, its own URL carries the search as its query string."""
    asked = [f"“{words}”"] if words else []
    if category:
        asked.append(f"category “{category}”")
    if lang:
        asked.append(f"language {lang}")
    what = ", ".join(asked)
    query = urlencode([(key, value) for key, value in (("q", words), ("category", category), ("lang", lang)) if value])
    return Channel(
        lang=lang,
        title=f"{feed.title}: search {what}",
        description=f"Articles matching {what}, newest first.",
        query=query,
    )


def channels() -> list[Channel]:
    """Every feed written and cached: the combined one, then one per language."""
    return [COMBINED, *(language_channel(lang) for lang in LANGUAGES)]


def format_at(url_path: str) -> Format | None:
    """The format served at ``url_path`` ("/feed.json"), or None."""
    return next((f for f in FORMATS.values() if f.url_path == url_path), None)


def build_all(rows: Rows, feed: FeedSettings, channel: Channel = COMBINED, edits: Edits = NO_EDITS) -> dict[str, bytes]:
    """Every format of ``channel`` built from the same rows, by name (in registry order)."""
    return {name: f.render(rows, feed, channel, edits) for name, f in FORMATS.items()}


def write_all(out: Path, bodies: Mapping[str, bytes], channel: Channel = COMBINED) -> list[Path]:
    """Write each built format of ``channel`` to ``out``/its prefix/its path, atomically (the
    folder is created if missing); returns the paths written, in registry order."""
    out = Path(out) / channel.prefix if channel.prefix else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, f in FORMATS.items():
        if name in bodies:
            write_atomic(out / f.path, bodies[name])
            written.append(out / f.path)
    return written
