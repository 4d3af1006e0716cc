"""Configuration: defaults in code, ``config.yaml`` on top, validated once at start.

The model is one dataclass per section: here the crawler's, the replay's and the
service's; the published side's (site, feed, smtp, digest, subscribers) are in
:mod:`feeds.settings`. Each field is a key and its default is written once, there.
Reading a file is :mod:`monitor.config_file`, the checks of the whole are
:mod:`monitor.config_checks`; every error names the key (``crawl.download_delay: expected a
value from 0 to 3600, got -1``). Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import importlib.metadata
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.site import ICESCO, SiteProfile, UnknownSite, site_profile
from crawler.urls import bare_host
from feeds.settings import DigestSettings, FeedSettings, SiteSettings, SmtpSettings, Subscriber
from monitor.config_checks import check
from monitor.config_file import ConfigError, merge, read_yaml

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_DUMPS = PACKAGE_DIR / "demo" / "dumps"
try:  # one home for the version: pyproject.toml (installed metadata)
    VERSION = importlib.metadata.version("icesco-monitor")
except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
    VERSION = "0.0.0+checkout"
PROJECT_URL = "https://github.com/icesco-monitor/icesco-monitor"


@dataclass
class CrawlConfig:
    # The profile's news listings (ICESCO's English, French front-page and Arabic news).
    start_urls: list[str] = field(default_factory=lambda: list(ICESCO.start_urls))
    # Hosts the crawler may fetch from (www. is implied; default: the profile's); --start-url adds its own.
    hosts: list[str] = field(default_factory=lambda: list(ICESCO.hosts))
    backfill_pages: int = 5  # listing pages a first run walks (--full: all)
    revisit_after_hours: float = 24.0  # refetch a known article this long after its last fetch…
    revisit_max_age_days: float = 14.0  # …while it is this young (edits come early)
    download_delay: float = 2.0  # seconds between requests to one host (AutoThrottle adapts it)
    timeout: float = 30.0
    retries: int = 3
    max_retry_delay: float = 600.0  # longest Retry-After honoured, seconds
    max_response_bytes: int = 10 * 1024 * 1024
    contact: str = PROJECT_URL  # shown in the User-Agent
    user_agent: str = ""  # empty: "icesco-monitor/VERSION (+contact)"
    obey_robots_txt: bool = True
    # Internal addresses (private, loopback, link-local) that may be crawled: IPs or networks.
    allow_addresses: list[str] = field(default_factory=list)
    # How a start URL is read: auto (REST API, else the category feed, else HTML), or one of them.
    source: str = "auto"
    rest_per_page: int = 100  # posts per REST request (WordPress allows up to 100)
    source_recheck_hours: float = 24.0  # the listing is read again this often to re-choose the source
    robots_cache_hours: float = 24.0  # robots.txt is kept this long (RFC 9309 allows 24 h)

    def agent(self) -> str:
        return self.user_agent or f"icesco-monitor/{VERSION} (+{self.contact})"


@dataclass
class ReplayConfig:
    paths: list[str] = field(default_factory=lambda: [str(DEMO_DUMPS)])
    max_dump_bytes: int = 20 * 1024 * 1024  # a larger dump is refused (that file's error)


@dataclass
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    crawl_every_minutes: float = 60.0
    crawl_jitter_seconds: float = 120.0
    crawl_timeout_minutes: float = 30.0  # a crawl subprocess running longer is stopped
    mode: str = "live"  # live, or replay: one dump of replay.paths per tick (the demo)
    digest_check_seconds: float = 60.0
    misfire_grace_seconds: float = 3600.0  # a late run still runs if it is at most this late
    health_max_age_minutes: float = 180.0  # /healthz is 503 when the last good crawl is older
    secret_env: str = "ICESCO_SECRET"  # the variable holding the secret that signs readers' links


@dataclass
class Config:
    database: str = "icesco-monitor.db"
    site: SiteSettings = field(default_factory=SiteSettings)
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    feed: FeedSettings = field(default_factory=FeedSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    subscribers: list[Subscriber] = field(default_factory=list)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    source: str = field(default="<defaults>", metadata={"key": False})  # where the values came from, for messages

    @property
    def allowed_hosts(self) -> set[str]:
        """The configured hosts and those of the start URLs."""
        hosts = {bare_host(h) for h in self.crawl.hosts}
        return hosts | {bare_host(urlsplit(u).hostname or "") for u in self.crawl.start_urls}


# Keys whose default is the site profile's (the dataclasses hold ICESCO's, the default profile).
_PROFILE_DEFAULTS: dict[tuple[str, str], typing.Callable[[SiteProfile], Any]] = {
    ("site", "timezone"): lambda p: p.timezone,
    ("crawl", "start_urls"): lambda p: list(p.start_urls),
    ("crawl", "hosts"): lambda p: list(p.hosts),
}


def _profile_defaults(cfg: Config, given: list[dict[str, Any]]) -> None:
    """Check ``site.profile``; give the keys that follow it (and that no file or override
    set) that profile's values."""
    try:
        profile = site_profile(cfg.site.profile)
    except UnknownSite as exc:
        raise ConfigError(f"site.profile: {exc}") from None
    for (section, key), value in _PROFILE_DEFAULTS.items():
        if not any(isinstance(d.get(section), dict) and key in d[section] for d in given):
            setattr(getattr(cfg, section), key, value(profile))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the YAML file (if given or ./config.yaml exists), then overrides."""
    cfg = Config()
    data: Any = {}
    file = Path(path) if path else None
    if file is None and Path("config.yaml").is_file():
        file = Path("config.yaml")
    if file is not None:
        data = read_yaml(file)
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a mapping of settings at the top level")
        try:
            merge(cfg, data, "")
        except ConfigError as exc:
            raise ConfigError(f"{file}: {exc}") from None
        cfg.source = str(file)
        base = file.resolve().parent
        if not cfg.database:
            raise ConfigError(f"{file}: database: a file path is needed")
        # Relative paths in a config file are relative to that file.
        if not Path(cfg.database).is_absolute() and "database" in data:
            cfg.database = str(base / cfg.database)
        if "replay" in data and "paths" in (data.get("replay") or {}):
            cfg.replay.paths = [str(base / p) if not Path(p).is_absolute() else p for p in cfg.replay.paths]
        for section, key in (("digest", "outbox"), ("digest", "template_dir"), ("feed", "out_dir")):
            value = getattr(getattr(cfg, section), key)
            if value and not Path(value).is_absolute() and key in (data.get(section) or {}):
                setattr(getattr(cfg, section), key, str(base / value))
    if overrides:
        merge(cfg, overrides, "")
    _profile_defaults(cfg, [data, overrides or {}])
    check(cfg)
    return cfg
