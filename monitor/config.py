"""Configuration: defaults in code, ``config.yaml`` on top, validated once at start.

Every error names the key (``crawl.download_delay: expected a number ≥ 0, got 'fast'``).
Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crawler.urls import bare_host

PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_DUMPS = PACKAGE_DIR / "demo" / "dumps"
VERSION = "0.1.0"
PROJECT_URL = "https://github.com/icesco-monitor/icesco-monitor"


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


@dataclass
class CrawlConfig:
    start_urls: list[str] = field(default_factory=lambda: ["https://icesco.org/en/category/news/"])
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

    def agent(self) -> str:
        return self.user_agent or f"icesco-monitor/{VERSION} (+{self.contact})"


@dataclass
class ReplayConfig:
    paths: list[str] = field(default_factory=lambda: [str(DEMO_DUMPS)])


@dataclass
class Config:
    database: str = "icesco-monitor.db"
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    source: str = "<defaults>"  # where the values came from, for messages

    @property
    def allowed_hosts(self) -> set[str]:
        return {bare_host(h) for h in self.crawl.hosts}


_RULES: dict[str, tuple[float | None, float | None]] = {
    "crawl.backfill_pages": (1, 10_000),
    "crawl.revisit_after_hours": (0, None),
    "crawl.revisit_max_age_days": (0, None),
    "crawl.download_delay": (0, 3600),
    "crawl.timeout": (1, 3600),
    "crawl.retries": (0, 20),
    "crawl.max_retry_delay": (0, 86_400),
    "crawl.max_response_bytes": (1024, 1 << 31),
}


def _coerce(key: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is list:
        (inner,) = typing.get_args(kind)
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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
    elif kind is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        value = str(value)
    if key in _RULES:
        lo, hi = _RULES[key]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f"≥ {lo}"
            raise ConfigError(f"{key}: expected a value {span}, got {value!r}")
    return value


def _merge(obj: Any, data: dict[str, Any], prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj) if f.name != "source"}
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


def _check(cfg: Config) -> None:
    for i, url in enumerate(cfg.crawl.start_urls):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"crawl.start_urls[{i}]: expected an http(s) URL, got {url!r}")
    if not cfg.crawl.start_urls:
        raise ConfigError("crawl.start_urls: at least one URL is needed")
    if not cfg.database:
        raise ConfigError("database: a file path is needed")


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
    if overrides:
        _merge(cfg, overrides, "")
    _check(cfg)
    return cfg
