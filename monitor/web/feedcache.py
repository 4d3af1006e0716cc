"""Every registered feed format as bytes, rebuilt only when the archive changed, with the
validators (ETag, Last-Modified) the HTTP side answers conditional requests with."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from feeds.formats import FORMATS, build_all, write_all
from feeds.render import EPOCH, parse_time, updated_date
from feeds.settings import FeedSettings
from monitor.archive import Archive, ArticleRow
from monitor.config import Config

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


class FeedCache:
    """Every registered feed format (feeds.formats.FORMATS) as bytes, rebuilt only when the
    archive changed. Rebuilding never writes files (a GET must not): the scheduler writes
    them to ``feed.out_dir`` with write()."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.lock = threading.Lock()
        self.marker: tuple[int, str] | None = None
        self.built: dict[str, Built] = {name: Built(b"", '""', EPOCH) for name in FORMATS}

    def __getitem__(self, name: str) -> Built:
        """The format ``name`` ("rss", "atom", "json") as last built."""
        return self.built[name]

    @property
    def rss(self) -> Built:
        return self.built["rss"]

    @property
    def atom(self) -> Built:
        return self.built["atom"]

    def refresh(self, archive: Archive) -> bool:
        """Rebuild if the archive changed since the last build; True if rebuilt."""
        marker = archive.change_marker()
        with self.lock:
            if marker == self.marker:
                return False
            rows = archive.articles(limit=self.cfg.feed.items)
            modified = newest_time(rows)
            self.built = {name: _built(body, modified) for name, body in build_all(rows, self.cfg.feed).items()}
            self.marker = marker
        log.info("feeds rebuilt: %d articles", min(marker[0], self.cfg.feed.items))
        return True

    def write(self, out: Path) -> tuple[int, str] | None:
        """Write every format as built now to out (atomically); returns the marker they were built at."""
        with self.lock:
            marker, bodies = self.marker, {name: built.body for name, built in self.built.items()}
        write_all(out, bodies)
        return marker


def write_feed_files(out: Path, rows: list[ArticleRow], feed: FeedSettings) -> list[Path]:
    """Build every registered format from rows and write each to out (atomically), as
    ``icesco-monitor feed`` does; returns the paths written."""
    return write_all(out, build_all(rows, feed))
