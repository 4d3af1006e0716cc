"""The item pipeline: every article and listing item the spider yields goes into the
archive here (Scrapy loads it by name from ``monitor.crawl``'s settings)."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from typing import Any

from scrapy.crawler import Crawler

from crawler.items import ArticleItem, ListingItem, SnapshotItem
from monitor.archive import Archive, ArchiveError, RunStats

log = logging.getLogger(__name__)

GROUP_COMMIT = 16  # snapshots per transaction at most, when they queue up faster than they are stored
LIVE_BATCH = 50  # live articles per transaction (a crash loses at most these, refetched next run)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _why(exc: BaseException) -> str:
    """What went wrong, for a message that names the database itself."""
    return exc.reason if isinstance(exc, ArchiveError) else str(exc)


class _Writer(threading.Thread):
    """Stores batches in a thread of its own, with its own connection: SQLite (FTS
    indexing above all) runs without the GIL, so it overlaps the parsing of the next
    dump. Batches are stored in order, one transaction each."""

    def __init__(self, database: str, fetched: bool) -> None:
        super().__init__(name="archive-writer", daemon=True)
        self.database = database
        self.fetched = fetched
        self.queue: queue.Queue[list[ArticleItem] | None] = queue.Queue(maxsize=8)
        self.stats = RunStats()
        self.error: BaseException | None = None

    def run(self) -> None:
        archive: Archive | None = None
        try:
            archive = Archive(self.database, migrate=False)
        except Exception as exc:
            self.error = exc
            log.error("database %s: cannot open for storing: %s; the run stops", self.database, _why(exc))
        try:
            done = False
            while not done:
                batch = self.queue.get()
                if batch is None:
                    break
                group = [batch]  # group commit: what has queued up meanwhile goes along
                while len(group) < GROUP_COMMIT:
                    try:
                        more = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        done = True
                        break
                    group.append(more)
                if self.error is not None or archive is None:
                    continue  # drain: the run is failing, store nothing more
                try:
                    results = archive.store_snapshots(group, utcnow(), fetched=self.fetched)
                except Exception as exc:  # disk full, read-only database…
                    self.error = exc
                    log.error("database %s: storing failed: %s; the run stops", self.database, _why(exc))
                    continue
                for result in results:
                    self.stats.new += len(result.new)
                    self.stats.updated += len(result.updated)
                    self.stats.unchanged += len(result.unchanged)
        finally:
            if archive is not None:
                archive.close()

    def put(self, batch: list[ArticleItem]) -> bool:
        """Queue a batch; False (and nothing queued) once storing has failed."""
        if self.error is not None:
            return False
        self.queue.put(batch)
        return True

    def finish(self) -> RunStats:
        self.queue.put(None)
        self.join()
        return self.stats


class ArchivePipeline:
    """Stores each snapshot (a dump, or a batch of live pages) in one transaction, in a
    writer thread; records the run with its counts."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.database = str(crawler.settings.get("ICESCO_DATABASE"))
        self.archive: Archive | None = None
        self.writer: _Writer | None = None
        self.run_id = 0
        self.buffer: list[ArticleItem] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    @property
    def spider(self) -> Any:
        return self.crawler.spider

    def open_spider(self) -> None:
        spider = self.spider
        try:
            self.archive = Archive(self.database)
            if interrupted := self.archive.close_interrupted_runs(utcnow()):
                log.warning("%d earlier run(s) had been killed; marked interrupted", interrupted)
            source = [str(p) for p in spider.paths] if spider.mode == "replay" else list(spider.start_urls)
            self.run_id = self.archive.start_run(spider.mode, utcnow(), source)
        except ArchiveError as exc:  # disk full, read-only…: nothing is fetched or read
            log.error("cannot start the run: %s", exc)
            spider.errors.append(str(exc))
            spider.stop_reason = "the run could not be started"
            if self.archive is not None:
                self.archive.close()
                self.archive = None
            return
        self.crawler.stats.set_value("icesco/run_id", self.run_id)  # type: ignore[union-attr]
        self.writer = _Writer(self.database, fetched=spider.mode == "live")
        self.writer.start()

    def process_item(self, item: Any) -> Any:
        if self.archive is None or self.writer is None:  # the run could not be started
            return item
        if isinstance(item, ListingItem):
            self.archive.put_listing(item, utcnow())
        elif isinstance(item, SnapshotItem):
            if not self.writer.put(item.articles):
                self._stop()
        elif isinstance(item, ArticleItem):
            self.buffer.append(item)
            if len(self.buffer) >= LIVE_BATCH:
                self.flush()
        return item

    def flush(self) -> None:
        if self.buffer and self.writer is not None:
            if not self.writer.put(self.buffer):
                self._stop()
            self.buffer = []

    def _stop(self) -> None:
        """Storing failed (disk full, read-only…): stop the run; what was committed stays."""
        spider = self.spider
        if getattr(spider, "stop_reason", None):
            return
        spider.stop_reason = "storing failed"  # the spider stops yielding (CloseSpider)

    def _save_sources(self, spider: Any) -> None:
        """REST cursors and feed validators move only once what they cover is stored."""
        assert self.archive is not None
        for key, values in spider.source_updates.items():
            if values:
                try:
                    self.archive.save_source(key, **values)
                except Exception as exc:  # disk full: the next run asks for the same changes again
                    spider.errors.append(
                        f"database {self.database}: cannot record where {key} was read up to: {_why(exc)}"
                    )

    def close_spider(self) -> None:
        if self.archive is None or self.writer is None:
            return
        self.flush()
        stats = self.writer.finish()
        spider = self.spider
        stats.pages_fetched = spider.pages
        stats.messages = list(spider.errors)
        if self.writer.error is not None:
            stats.messages.append(
                f"database {self.writer.database}: storing failed, the rest of the run was not stored:"
                f" {_why(self.writer.error)}"
            )
        unreadable: list[str] = []
        if spider.mode == "live" and self.writer.error is None:
            if spider.pages:  # (a run that fetched nothing failed as a whole)
                unreadable = [s for s in spider.start_urls if s not in spider.readable]
            self._save_sources(spider)
        nothing_read = [f"{start}: this start URL yielded nothing readable" for start in unreadable]
        stats.messages += nothing_read
        stats.alarms = [*spider.alarms, *nothing_read]
        stats.errors = len(stats.messages)
        nothing = spider.pages == 0 and (stats.errors > 0 or spider.mode == "live")
        status = "failed" if nothing or self.writer.error is not None else "degraded" if stats.alarms else "ok"
        try:
            self.archive.finish_run(self.run_id, utcnow(), stats, status)
        except Exception as exc:  # disk full: the run stays 'running', the next crawl marks it interrupted
            message = f"database {self.database}: cannot record the end of run {self.run_id}: {_why(exc)}"
            log.error("%s", message)
            stats.messages.append(message)
            stats.errors = len(stats.messages)
            status = "failed"
        # What the run row says, also kept in memory for when it could not be written.
        self.crawler.stats.set_value(  # type: ignore[union-attr]
            "icesco/outcome",
            {
                "status": status,
                "new": stats.new,
                "updated": stats.updated,
                "unchanged": stats.unchanged,
                "errors": stats.errors,
                "pages_fetched": stats.pages_fetched,
                "messages": list(stats.messages),
                "alarms": stats.alarms,
                "unreadable": unreadable,
            },
        )
        log.info(
            "run %d %s: %d new, %d updated, %d unchanged, %d errors",
            self.run_id,
            status,
            stats.new,
            stats.updated,
            stats.unchanged,
            stats.errors,
        )
        self.archive.close()
