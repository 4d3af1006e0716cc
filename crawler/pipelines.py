"""The item pipeline: every article and listing item goes into the archive here."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from scrapy.crawler import Crawler

from crawler.items import ArticleItem, ListingItem
from monitor.archive import Archive, RunStats

log = logging.getLogger(__name__)

LIVE_BATCH = 50  # live articles per transaction (a crash loses at most these, refetched next run)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ArchivePipeline:
    """Buffers items and stores each snapshot (a dump, or a batch of live pages) in
    one transaction; records the run with its counts."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.archive: Archive | None = None
        self.run_id = 0
        self.buffer: list[ArticleItem] = []
        self.snapshot: str | None = None
        self.stats = RunStats()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    @property
    def spider(self) -> Any:
        return self.crawler.spider

    def open_spider(self) -> None:
        self.archive = Archive(self.spider.config.database)
        spider = self.spider
        source = [str(p) for p in spider.paths] if spider.mode == "replay" else list(spider.start_urls)
        self.run_id = self.archive.start_run(spider.mode, utcnow(), source)
        self.crawler.stats.set_value("icesco/run_id", self.run_id)  # type: ignore[union-attr]

    def process_item(self, item: Any) -> Any:
        assert self.archive is not None
        if isinstance(item, ListingItem):
            self.archive.put_listing(item, utcnow())
            return item
        if isinstance(item, ArticleItem):
            if self.snapshot is not None and item.snapshot != self.snapshot:
                self.flush()
            self.snapshot = item.snapshot
            self.buffer.append(item)
            if self.spider.mode == "live" and len(self.buffer) >= LIVE_BATCH:
                self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer or self.archive is None:
            return
        result = self.archive.store(self.buffer, utcnow(), fetched=self.spider.mode == "live")
        self.stats.new += len(result.new)
        self.stats.updated += len(result.updated)
        self.stats.unchanged += len(result.unchanged)
        self.buffer = []

    def close_spider(self) -> None:
        if self.archive is None:
            return
        self.flush()
        spider = self.spider
        self.stats.pages_fetched = spider.pages
        self.stats.errors = len(spider.errors)
        self.stats.messages = list(spider.errors)
        nothing = spider.pages == 0 and (self.stats.errors > 0 or spider.mode == "live")
        status = "failed" if nothing else "ok"
        self.archive.finish_run(self.run_id, utcnow(), self.stats, status)
        log.info(
            "run %d %s: %d new, %d updated, %d unchanged, %d errors",
            self.run_id, status, self.stats.new, self.stats.updated, self.stats.unchanged, self.stats.errors,
        )
        self.archive.close()
