"""Run one crawl in this process (the command line runs it; the service starts the
command line in a subprocess, since Twisted's reactor cannot restart)."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess

from crawler.site import site_profile
from crawler.spider import IcescoSpider
from crawler.state import CrawlOptions
from crawler.urls import bare_host
from monitor.archive import Archive
from monitor.config import Config

log = logging.getLogger(__name__)


def scrapy_settings(cfg: Config) -> dict[str, Any]:
    """Polite settings: robots.txt, a User-Agent with a contact URL, one request at a
    time per host, a delay that AutoThrottle adapts, retries with backoff, timeouts
    and a size limit."""
    c = cfg.crawl
    return {
        "BOT_NAME": "icesco-monitor",
        "USER_AGENT": c.agent(),
        "ROBOTSTXT_OBEY": c.obey_robots_txt,
        "ROBOTSTXT_CACHE_HOURS": c.robots_cache_hours,
        "CONCURRENT_REQUESTS": 1,  # one site: one request at a time, also while a Retry-After wait runs
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": c.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(c.download_delay, 0.01),
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, c.download_delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "DOWNLOAD_TIMEOUT": c.timeout,
        "DOWNLOAD_MAXSIZE": c.max_response_bytes,
        "DOWNLOAD_WARNSIZE": c.max_response_bytes // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": c.retries,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "RETRY_BACKOFF_BASE": max(c.download_delay, 0.5) if c.download_delay else 0.2,
        "RETRY_MAX_DELAY": c.max_retry_delay,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.BackoffRetryMiddleware": 550,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.CachedRobotsTxtMiddleware": 100,
            "crawler.middlewares.AddressGuardMiddleware": 50,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "crawler.middlewares.CheckedRedirectMiddleware": 600,
        },
        "ITEM_PIPELINES": {"monitor.pipeline.ArchivePipeline": 300},
        "ICESCO_ALLOW_ADDRESSES": _explicit_addresses(cfg),
        "ICESCO_DATABASE": cfg.database,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "EXTENSIONS": {"scrapy.extensions.remote_control.RemoteControl": None},
        "LOG_ENABLED": True,
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOG_LEVEL": "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "DNS_TIMEOUT": 20,
        # The resolver checks the address each connection goes to (no DNS rebinding).
        "TWISTED_DNS_RESOLVER": "crawler.resolver.GuardedResolver",
    }


def crawl_options(cfg: Config) -> CrawlOptions:
    """What the crawler needs of the operator's config."""
    c = cfg.crawl
    return CrawlOptions(
        start_urls=list(c.start_urls),
        site=site_profile(cfg.site.profile).on_hosts(sorted(cfg.allowed_hosts)),
        source=c.source,
        source_recheck_hours=c.source_recheck_hours,
        backfill_pages=c.backfill_pages,
        rest_per_page=c.rest_per_page,
        revisit_after_hours=c.revisit_after_hours,
        revisit_max_age_days=c.revisit_max_age_days,
        max_dump_bytes=cfg.replay.max_dump_bytes,
    )


def _explicit_addresses(cfg: Config) -> list[str]:
    """Addresses the operator named: crawl.allow_addresses, and hosts written as IPs."""
    out = list(cfg.crawl.allow_addresses)
    for host in cfg.allowed_hosts:
        try:
            out.append(str(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            pass
    return out


def run_crawl(
    cfg: Config,
    *,
    mode: str,
    paths: list[str] | None = None,
    start_urls: list[str] | None = None,
    full: bool = False,
) -> tuple[int, list[str], dict[str, Any]]:
    """Run one crawl to its end.

    Returns the run id, the spider's error messages, and the run's outcome as the pipeline
    computed it (status, counts, messages): the caller's copy when the database could not record it.
    """
    if start_urls:
        for url in start_urls:  # --start-url allows its own host
            cfg.crawl.hosts.append(bare_host(urlsplit(url).hostname or ""))
    process = CrawlerProcess(scrapy_settings(cfg))
    crawler = process.create_crawler(IcescoSpider)
    process.crawl(
        crawler,
        options=crawl_options(cfg),
        state=lambda: Archive(cfg.database),
        mode=mode,
        paths=paths,
        start_urls=start_urls,
        full=full,
    )
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    spider_errors = getattr(crawler.spider, "errors", [])
    return int(stats.get("icesco/run_id", 0)), list(spider_errors), dict(stats.get("icesco/outcome") or {})
