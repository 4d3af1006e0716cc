"""Configuration: defaults in code, ``config.yaml`` on top, validated once at start.

Every error names the key (``crawl.download_delay: expected a number ≥ 0, got 'fast'``).
Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler.urls import bare_host

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_DUMPS = PACKAGE_DIR / "demo" / "dumps"
VERSION = "0.1.0"
PROJECT_URL = "https://github.com/icesco-monitor/icesco-monitor"


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


# ICESCO's English news, French front-page news and Arabic news categories (Arabic paths
# percent-encoded as WordPress writes them).
ICESCO_START_URLS = (
    "https://icesco.org/en/category/news/",
    "https://icesco.org/fr/category/a-la-une/",
    "https://icesco.org/ar/category/%d8%a7%d9%84%d9%85%d8%b3%d8%aa%d8%ac%d8%af%d8%a7%d8%aa/",
)


@dataclass
class SiteConfig:
    timezone: str = "Africa/Casablanca"  # dates are shown in the site's local time


@dataclass
class CrawlConfig:
    start_urls: list[str] = field(default_factory=lambda: list(ICESCO_START_URLS))
    # Hosts the crawler may fetch from (www. is implied); --start-url adds its own.
    hosts: list[str] = field(default_factory=lambda: ["icesco.org"])
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


@dataclass
class FeedConfig:
    title: str = "ICESCO news (icesco-monitor)"
    description: str = "New and updated articles from icesco.org, archived by icesco-monitor."
    base_url: str = "http://127.0.0.1:8080/"  # where readers reach the service: links and rel=self
    items: int = 50
    out_dir: str = ""  # 'feed' writes here when given no --out; the service too, after a change


@dataclass
class SmtpConfig:
    host: str = ""  # empty: digests go to digest.outbox instead of SMTP
    port: int = 25
    security: str = "plain"  # plain, starttls or tls
    username_env: str = "ICESCO_SMTP_USERNAME"  # names of environment variables, not secrets
    password_env: str = "ICESCO_SMTP_PASSWORD"
    timeout: float = 30.0


@dataclass
class DigestConfig:
    sender: str = "icesco-monitor <icesco-monitor@localhost>"
    list_id: str = "ICESCO news digest <digest.icesco-monitor.localhost>"
    unsubscribe_mailto: str = "icesco-monitor@localhost"
    unsubscribe_url: str = ""
    outbox: str = "outbox"  # where messages go when no SMTP host is configured
    template_dir: str = ""  # your own digest.txt.j2 / digest.html.j2, rendered in Jinja2's sandbox
    max_items: int = 100  # articles per digest at most; the rest wait for the next one
    retry_minutes: float = 5.0  # first retry after a temporary SMTP failure, doubling…
    retry_max_minutes: float = 360.0  # …up to this; temporary failures are retried until they pass


@dataclass
class SubscriberConfig:
    address: str = ""
    name: str = ""
    cadence: str = "daily"  # daily, weekly, hourly, or immediate (at every digest check)
    at: str = "07:00"  # HH:MM in the time zone (daily, weekly)
    weekday: str = "monday"  # weekly
    timezone: str = "UTC"
    keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


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


@dataclass
class Config:
    database: str = "icesco-monitor.db"
    site: SiteConfig = field(default_factory=SiteConfig)
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    subscribers: list[SubscriberConfig] = field(default_factory=list)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    source: str = "<defaults>"  # where the values came from, for messages

    @property
    def allowed_hosts(self) -> set[str]:
        """The configured hosts and those of the start URLs."""
        hosts = {bare_host(h) for h in self.crawl.hosts}
        return hosts | {bare_host(urlsplit(u).hostname or "") for u in self.crawl.start_urls}


_RULES: dict[str, tuple[float | None, float | None]] = {
    "crawl.backfill_pages": (1, 10_000),
    "crawl.revisit_after_hours": (0, None),
    "crawl.revisit_max_age_days": (0, None),
    "crawl.download_delay": (0, 3600),
    "crawl.timeout": (1, 3600),
    "crawl.retries": (0, 20),
    "crawl.max_retry_delay": (0, 86_400),
    "crawl.max_response_bytes": (1024, 1 << 31),
    "crawl.source_recheck_hours": (0, 24 * 365),
    "crawl.rest_per_page": (1, 100),
    "crawl.robots_cache_hours": (0, 24),
    "feed.items": (1, 1000),
    "smtp.port": (1, 65535),
    "smtp.timeout": (1, 600),
    "digest.max_items": (1, 10_000),
    "digest.retry_minutes": (0, 1440),
    "digest.retry_max_minutes": (1, 10_080),
    "service.port": (0, 65535),
    "service.crawl_every_minutes": (0.05, 100_000),
    "service.crawl_jitter_seconds": (0, 86_400),
    "service.crawl_timeout_minutes": (0.1, 1440),
    "service.digest_check_seconds": (1, 86_400),
    "service.misfire_grace_seconds": (1, 10**7),
    "service.health_max_age_minutes": (1, 10**6),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "smtp.security": ("plain", "starttls", "tls"),
    "service.mode": ("live", "replay"),
    "crawl.source": ("auto", "rest", "feed", "html"),
}


def _coerce(key: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is list:
        (inner,) = typing.get_args(kind)
        if dataclasses.is_dataclass(inner):
            if not isinstance(value, list):
                raise ConfigError(f"{key}: expected a list of mappings, got {value!r}")
            out = []
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    raise ConfigError(f"{key}[{i}]: expected a mapping of settings, got {v!r}")
                obj = inner()  # type: ignore[operator]
                _merge(obj, v, f"{key}[{i}].")
                out.append(obj)
            return out
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
    elif kind is str:
        if key.endswith(".at") and isinstance(value, int) and not isinstance(value, bool):
            raise ConfigError(f'{key}: write the time in quotes, like "07:30" (YAML reads 7:30 as a number)')
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        value = str(value)
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"{key}: expected one of {', '.join(_CHOICES[key])}, got {value!r}")
    if key in _RULES:
        lo, hi = _RULES[key]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
            raise ConfigError(f"{key}: expected a value {span}, got {value!r}")
    return value


def _merge(obj: Any, data: dict[str, Any], prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj) if not (f.name == "source" and isinstance(obj, Config))}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{full}: unknown key (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{full}: expected a mapping of settings, got {value!r}")
            _merge(current, value, f"{full}.")
        else:
            kind = hints[key]
            if isinstance(kind, types.UnionType):
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            setattr(obj, key, _coerce(full, value, kind))


_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_subscribers(cfg: Config) -> None:
    from monitor.digests import AddressError, validate_address

    seen: set[str] = set()
    for i, sub in enumerate(cfg.subscribers):
        where = f"subscribers[{i}]"
        try:
            sub.address = validate_address(sub.address, where=f"{where}.address")
        except AddressError as exc:
            raise ConfigError(str(exc)) from None
        if sub.address in seen:
            raise ConfigError(f"{where}.address: {sub.address} is listed twice")
        seen.add(sub.address)
        if sub.cadence not in ("daily", "weekly", "hourly", "immediate"):
            raise ConfigError(f"{where}.cadence: expected daily, weekly, hourly or immediate, got {sub.cadence!r}")
        if not isinstance(sub.at, str) or not _TIME_RE.match(sub.at):
            raise ConfigError(f"{where}.at: expected a time like 07:00, got {sub.at!r}")
        sub.weekday = sub.weekday.lower()
        if sub.weekday not in _WEEKDAYS:
            raise ConfigError(f"{where}.weekday: expected a day name like monday, got {sub.weekday!r}")
        try:
            zoneinfo.ZoneInfo(sub.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.timezone: unknown time zone {sub.timezone!r}") from None


def _check(cfg: Config) -> None:
    for i, url in enumerate(cfg.crawl.start_urls):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"crawl.start_urls[{i}]: expected an http(s) URL, got {url!r}")
    if not cfg.crawl.start_urls:
        raise ConfigError("crawl.start_urls: at least one URL is needed")
    if not cfg.database:
        raise ConfigError("database: a file path is needed")
    try:
        zoneinfo.ZoneInfo(cfg.site.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"site.timezone: unknown time zone {cfg.site.timezone!r}") from None
    for i, addr in enumerate(cfg.crawl.allow_addresses):
        try:
            ipaddress.ip_network(addr, strict=False)
        except ValueError:
            raise ConfigError(f"crawl.allow_addresses[{i}]: expected an IP address or network, got {addr!r}") from None
    if not cfg.feed.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"feed.base_url: expected an http(s) URL, got {cfg.feed.base_url!r}")
    if not cfg.feed.base_url.endswith("/"):
        cfg.feed.base_url += "/"
    if cfg.digest.unsubscribe_url and not cfg.digest.unsubscribe_url.startswith("https://"):
        raise ConfigError(f"digest.unsubscribe_url: expected an https URL, got {cfg.digest.unsubscribe_url!r}")
    if cfg.subscribers:
        _check_subscribers(cfg)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the YAML file (if given or ./config.yaml exists), then overrides."""
    cfg = Config()
    file = Path(path) if path else None
    if file is None and Path("config.yaml").is_file():
        file = Path("config.yaml")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read the config file: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{file}: the config file is not UTF-8 text") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a mapping of settings at the top level")
        try:
            _merge(cfg, data, "")
        except ConfigError as exc:
            raise ConfigError(f"{file}: {exc}") from None
        cfg.source = str(file)
        base = file.resolve().parent
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
        _merge(cfg, overrides, "")
    _check(cfg)
    return cfg
