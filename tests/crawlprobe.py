"""A real Scrapy crawl of a few URLs, run as a script in a subprocess, through the project's
own downloader middlewares and settings (``monitor.crawl.scrapy_settings``: retries with
``Retry-After``, checked redirects, robots.txt, the address guard) but with a probe spider
that only records what became of each URL. It is how ``tests/test_middlewares.py`` sees
the middlewares at work in Scrapy's real engine, against a site on 127.0.0.1::

    python tests/crawlprobe.py CONFIG OUT URL...

CONFIG is a config file (its ``crawl`` section is used; no archive is written), OUT the JSON
file written at the end: ``{"outcomes": {url: outcome}, "errors": [...], "log": [...]}``,
where an outcome is ``{"status", "url", "redirects", "retries"}`` for a response (any
status) or ``{"error": "ExceptionName: message"}``, ``errors`` are the messages the
middlewares report to the spider, and ``log`` the records of ``crawler.*`` loggers
(``LEVEL message``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from monitor.config import load_config
from monitor.crawl import scrapy_settings


class ProbeSpider(scrapy.Spider):
    name = "probe"

    def __init__(self, urls: list[str], hosts: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.hosts = hosts  # read by CheckedRedirectMiddleware, as on the real spider
        self.allowed_domains = sorted(hosts)
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def error(self, message: str) -> None:  # what the middlewares report (robots.txt)
        self.errors.append(message)

    async def start(self) -> AsyncIterator[Any]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.got, errback=self.failed, dont_filter=True, meta={"probe": url})

    def got(self, response: scrapy.http.Response) -> None:
        self.outcomes[response.meta["probe"]] = {
            "status": response.status,
            "url": response.url,
            "redirects": response.meta.get("redirect_urls", []),
            "retries": response.meta.get("retry_times", 0),
        }

    def failed(self, failure: Failure) -> None:
        if failure.check(HttpError):
            self.got(failure.value.response)
            return
        url = failure.request.meta["probe"]  # type: ignore[attr-defined]
        self.outcomes[url] = {"error": f"{failure.type.__name__}: {failure.getErrorMessage()}"}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def main(config: str, out: str, urls: list[str]) -> None:
    cfg = load_config(config)
    settings = scrapy_settings(cfg)
    settings["ITEM_PIPELINES"] = {}  # nothing is stored
    records = _Records()
    logging.getLogger("crawler").addHandler(records)
    logging.getLogger("crawler").setLevel(logging.INFO)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(ProbeSpider)
    process.crawl(crawler, urls=urls, hosts=set(cfg.allowed_hosts))
    process.start()
    spider = crawler.spider
    result = {"outcomes": spider.outcomes, "errors": spider.errors, "log": records.lines}  # type: ignore[union-attr]
    Path(out).write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
