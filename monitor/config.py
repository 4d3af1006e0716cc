"""Configuration: defaults in code, ``config.yaml`` on top, validated once at start.

Every error names the key (``crawl.download_delay: expected a number ≥ 0, got 'fast'``).
Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import dataclasses
import email.utils
import importlib.metadata
import math
import re
import stat
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler.addresses import parse_allowed
from crawler.site import ICESCO, SiteProfile, UnknownSite, site_profile
from crawler.urls import bare_host

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_DUMPS = PACKAGE_DIR / "demo" / "dumps"
try:  # one home for the version: pyproject.toml (installed metadata)
    VERSION = importlib.metadata.version("icesco-monitor")
except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
    VERSION = "0.0.0+checkout"
PROJECT_URL = "https://github.com/icesco-monitor/icesco-monitor"


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAML_VALUES = 100_000  # values after aliases are expanded
MAX_YAML_DEPTH = 50


def _show(value: Any, limit: int = 80) -> str:
    """A value as an error shows it: its repr, cut (an error never echoes a whole value)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_yaml_size(node: yaml.Node, file: Path) -> None:
    """Refuse a document whose aliases expand beyond a sane size or depth (an alias bomb)."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{file}: nested more than {MAX_YAML_DEPTH} levels deep")
        if id(n) in sizes:
            return sizes[id(n)]
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        if total > MAX_YAML_VALUES:
            raise ConfigError(f"{file}: its aliases expand to more than {MAX_YAML_VALUES:,} values")
        sizes[id(n)] = total
        return total

    size(node, 0)


def _read_yaml(file: Path) -> Any:
    try:
        st = file.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{file}: not a regular file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{file}: {st.st_size:,} bytes; a config file is at most {MAX_CONFIG_BYTES:,}")
        text = file.read_bytes()[: MAX_CONFIG_BYTES + 1].decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: the config file is not UTF-8 text") from None
    loader = yaml.SafeLoader(text)
    try:  # composed once: its size is checked before anything is built from it
        node = loader.get_single_node()
        if node is None:
            return {}
        _check_yaml_size(node, file)
        return loader.construct_document(node) or {}
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {str(exc)[:300]}") from None
    finally:
        loader.dispose()


@dataclass
class SiteConfig:
    profile: str = ICESCO.name  # a profile of crawler/site.py: hosts, boilerplate, title suffix, ids
    timezone: str = ICESCO.timezone  # dates are shown in the site's local time (default: the profile's)


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
    retention_days: float = 30.0  # sent digests keep their bytes this long (a re-send needs none after)


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
    "replay.max_dump_bytes": (1024, 1 << 31),
    "crawl.robots_cache_hours": (0, 24),
    "feed.items": (1, 1000),
    "smtp.port": (1, 65535),
    "smtp.timeout": (1, 600),
    "digest.max_items": (1, 10_000),
    "digest.retry_minutes": (0, 1440),
    "digest.retry_max_minutes": (1, 10_080),
    "digest.retention_days": (0, 36_500),
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
                raise ConfigError(f"{key}: expected a list of mappings, got {_show(value)}")
            out = []
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    raise ConfigError(f"{key}[{i}]: expected a mapping of settings, got {_show(v)}")
                obj = inner()  # type: ignore[operator]
                _merge(obj, v, f"{key}[{i}].")
                out.append(obj)
            return out
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_show(value)}")
        return [_coerce(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_show(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {_show(value)}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{key}: expected a number, got {_show(value)}")
        value = float(value)
    elif kind is str:
        if key.endswith(".at") and isinstance(value, int) and not isinstance(value, bool):
            raise ConfigError(f'{key}: write the time in quotes, like "07:30" (YAML reads 7:30 as a number)')
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {_show(value)}")
        value = str(value)
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"{key}: expected one of {', '.join(_CHOICES[key])}, got {_show(value)}")
    if key in _RULES:
        lo, hi = _RULES[key]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
            raise ConfigError(f"{key}: expected a value {span}, got {_show(value)}")
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
                raise ConfigError(f"{full}: expected a mapping of settings, got {_show(value)}")
            _merge(current, value, f"{full}.")
        else:
            kind = hints[key]
            if isinstance(kind, types.UnionType):
                kind = next(a for a in typing.get_args(kind) if a is not type(None))
            setattr(obj, key, _coerce(full, value, kind))


def _check_subscribers(cfg: Config) -> None:
    from monitor.digests import WEEKDAYS, AddressError, parse_at, validate_address, weekday_index

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
            raise ConfigError(f"{where}.cadence: expected daily, weekly, hourly or immediate, got {_show(sub.cadence)}")
        if parse_at(sub.at) is None:
            raise ConfigError(f"{where}.at: expected a time like 07:00, got {_show(sub.at)}")
        day = weekday_index(sub.weekday)
        if day is None:
            raise ConfigError(f"{where}.weekday: expected a day name like monday, got {_show(sub.weekday)}")
        sub.weekday = WEEKDAYS[day]
        try:
            zoneinfo.ZoneInfo(sub.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.timezone: unknown time zone {_show(sub.timezone)}") from None


def url_problem(url: str) -> str | None:
    """Why a start URL cannot be crawled, or None."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return f"expected an http(s) URL, got {_show(url)}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError when out of range)
    except ValueError as exc:
        return f"not a valid URL ({exc}): {_show(url)}"
    if not parts.hostname:
        return f"no host in {_show(url)}"
    return None


_MAILBOX = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>\s,\"]")


def _check_digest(cfg: Config) -> None:
    """Values that end up in mail headers: checked here, not when the first digest is sent."""
    d = cfg.digest
    _name, address = email.utils.parseaddr(d.sender)
    if not _MAILBOX.match(address or "") or any(c in d.sender for c in "\r\n"):
        raise ConfigError(f"digest.sender: expected an address like 'Name <user@example.org>', got {_show(d.sender)}")
    if not _MAILBOX.match(d.unsubscribe_mailto):
        raise ConfigError(
            f"digest.unsubscribe_mailto: expected one address like user@example.org, got {_show(d.unsubscribe_mailto)}"
        )
    if d.unsubscribe_url:
        if not d.unsubscribe_url.startswith("https://") or _HEADER_UNSAFE.search(d.unsubscribe_url):
            raise ConfigError(
                f"digest.unsubscribe_url: expected an https URL without spaces, control characters,"
                f" quotes, commas or angle brackets, got {_show(d.unsubscribe_url)}"
            )
    if any(c in d.list_id for c in "\r\n"):
        raise ConfigError(f"digest.list_id: no line breaks, got {_show(d.list_id)}")
    if d.template_dir:
        _check_templates(cfg)


def _check_templates(cfg: Config) -> None:
    import datetime as dt

    from monitor.delivery import digest_settings
    from monitor.digests import TemplateProblem, check_templates

    if not Path(cfg.digest.template_dir).is_dir():
        raise ConfigError(f"digest.template_dir: no such folder: {_show(cfg.digest.template_dir)}")
    try:
        check_templates(digest_settings(cfg), dt.datetime.now(dt.UTC))
    except TemplateProblem as exc:
        raise ConfigError(f"digest.template_dir: {exc}") from None


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


def _check(cfg: Config) -> None:
    for i, url in enumerate(cfg.crawl.start_urls):
        problem = url_problem(url)
        if problem:
            raise ConfigError(f"crawl.start_urls[{i}]: {problem}")
    if not cfg.crawl.start_urls:
        raise ConfigError("crawl.start_urls: at least one URL is needed")
    if not cfg.database:
        raise ConfigError("database: a file path is needed")
    try:
        zoneinfo.ZoneInfo(cfg.site.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"site.timezone: unknown time zone {_show(cfg.site.timezone)}") from None
    for i, addr in enumerate(cfg.crawl.allow_addresses):
        try:
            parse_allowed(addr)
        except ValueError:
            raise ConfigError(
                f"crawl.allow_addresses[{i}]: expected an IP address or network, maybe with a port"
                f" (127.0.0.1:8080), got {_show(addr)}"
            ) from None
    if not cfg.feed.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"feed.base_url: expected an http(s) URL, got {_show(cfg.feed.base_url)}")
    if not cfg.feed.base_url.endswith("/"):
        cfg.feed.base_url += "/"
    _check_digest(cfg)
    if cfg.subscribers:
        _check_subscribers(cfg)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the YAML file (if given or ./config.yaml exists), then overrides."""
    cfg = Config()
    data: Any = {}
    file = Path(path) if path else None
    if file is None and Path("config.yaml").is_file():
        file = Path("config.yaml")
    if file is not None:
        data = _read_yaml(file)
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a mapping of settings at the top level")
        try:
            _merge(cfg, data, "")
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
        _merge(cfg, overrides, "")
    _profile_defaults(cfg, [data, overrides or {}])
    _check(cfg)
    return cfg
