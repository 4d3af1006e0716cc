"""Every registered feed format of every channel (the combined feed and one per language)
as bytes, rebuilt only when the archive changed, with the validators (ETag,
Last-Modified) the HTTP side answers conditional requests with."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from feeds.entries import EPOCH, Channel, parse_time, updated_date
from feeds.formats import FORMATS, build_all, channels, search_channel, write_all
from feeds.settings import FeedSettings
from monitor.archive import Archive, ArticleRow
from monitor.config import Config
from monitor.web.search import Recent, Search

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Built:
    body: bytes
    etag: str
    last_modified: dt.datetime


def newest_time(rows: list[ArticleRow]) -> dt.datetime:
    """When the feed's content last changed: the newest publication, edit or discovery
    (an article found today may carry an older date)."""
    times = [max(updated_date(r), parse_time(r.first_seen_at)) for r in rows]
    return max(times, default=EPOCH)


def _built(body: bytes, last_modified: dt.datetime) -> Built:
    return Built(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', last_modified)


def channel_rows(archive: Archive, channel: Channel, items: int) -> list[ArticleRow]:
    """The rows of a channel's feeds: the newest ``items`` (of its language, if it has one)."""
    return archive.articles(limit=items, lang=channel.lang or None)


def build_channels(archive: Archive, feed: FeedSettings) -> dict[tuple[str, str], Built]:
    """Every format of every channel (combined, then per language), keyed (language, format
    name): each channel's rows read once, the last revisions of all of them in one query."""
    rows = {channel.lang: channel_rows(archive, channel, feed.items) for channel in channels()}
    edited = {r.id for listed in rows.values() for r in listed if r.revision}
    edits = archive.last_revisions(sorted(edited))
    built: dict[tuple[str, str], Built] = {}
    for channel in channels():
        modified = newest_time(rows[channel.lang])
        for name, body in build_all(rows[channel.lang], feed, channel, edits).items():
            built[(channel.lang, name)] = _built(body, modified)
    return built


class FeedCache:
    """Every registered feed format (feeds.formats.FORMATS) of every channel
    (feeds.formats.channels(): combined, then per language) as bytes, rebuilt only when the
    archive changed. Rebuilding never writes files (a GET must not): the scheduler writes
    them to ``feed.out_dir`` with write()."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.lock = threading.Lock()
        self.marker: tuple[int, str] | None = None
        self.searches: Recent[tuple[Search, str, tuple[int, str]], Built] = Recent()
        empty = Built(b"", '""', EPOCH)
        self.built: dict[tuple[str, str], Built] = {(c.lang, name): empty for c in channels() for name in FORMATS}

    def __getitem__(self, name: str) -> Built:
        """The combined feed's format ``name`` ("rss", "atom", "json") as last built."""
        return self.built[("", name)]

    def get(self, lang: str, name: str) -> Built:
        """Format ``name`` of the feed of ``lang`` ("": the combined feed) as last built."""
        return self.built[(lang, name)]

    @property
    def rss(self) -> Built:
        return self["rss"]

    @property
    def atom(self) -> Built:
        return self["atom"]

    def refresh(self, archive: Archive) -> bool:
        """Rebuild if the archive changed since the last build; True if rebuilt."""
        marker = archive.change_marker()
        with self.lock:
            if marker == self.marker:
                return False
            self.built = build_channels(archive, self.cfg.feed)
            self.marker = marker
        log.info("feeds rebuilt: %d articles", min(marker[0], self.cfg.feed.items))
        return True

    def search(self, archive: Archive, search: Search, name: str) -> Built:
        """Format ``name`` of the feed of ``search`` (at most ``feed.items`` articles, from
        the full-text index), from the cache of recent searches or built now."""
        key = (search, name, archive.change_marker())
        if (cached := self.searches.get(key)) is not None:
            return cached
        rows = archive.articles(
            search=search.words or None,
            category=search.category or None,
            lang=search.lang or None,
            limit=self.cfg.feed.items,
        )
        channel = search_channel(self.cfg.feed, search.words, search.category, search.lang)
        edits = archive.last_revisions([r.id for r in rows if r.revision])
        built = _built(FORMATS[name].render(rows, self.cfg.feed, channel, edits), newest_time(rows))
        self.searches.put(key, built)
        return built

    def write(self, out: Path) -> tuple[int, str] | None:
        """Write every channel's formats as built now under out (atomically: the combined
        feed's in out, each language's in out/LANG); returns the marker they were built at."""
        with self.lock:
            marker, built = self.marker, dict(self.built)
        for channel in channels():
            write_all(out, {name: built[(channel.lang, name)].body for name in FORMATS}, channel)
        return marker


def write_feed_files(out: Path, archive: Archive, feed: FeedSettings) -> list[Path]:
    """Build every channel's formats from the archive and write each under out (atomically:
    the combined feed's in out, each language's in out/LANG), as ``icesco-monitor feed``
    does; returns the paths written."""
    built = build_channels(archive, feed)
    written: list[Path] = []
    for channel in channels():
        written += write_all(out, {name: built[(channel.lang, name)].body for name in FORMATS}, channel)
    return written
