"""Checks of a whole configuration once it is read: start URLs, time zones, addresses,
mail header values, the operator's digest templates, subscribers. Every error names the key.
"""

from __future__ import annotations

import email.utils
import re
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.addresses import parse_allowed
from feeds.subscribers import CADENCES, WEEKDAYS, AddressError, parse_at, validate_address, weekday_index
from monitor.config_file import ConfigError, show

if TYPE_CHECKING:
    from monitor.config import Config


def _check_subscribers(cfg: Config) -> None:
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
        if sub.cadence not in CADENCES:
            raise ConfigError(f"{where}.cadence: expected daily, weekly, hourly or immediate, got {show(sub.cadence)}")
        if parse_at(sub.at) is None:
            raise ConfigError(f"{where}.at: expected a time like 07:00, got {show(sub.at)}")
        day = weekday_index(sub.weekday)
        if day is None:
            raise ConfigError(f"{where}.weekday: expected a day name like monday, got {show(sub.weekday)}")
        sub.weekday = WEEKDAYS[day]
        try:
            zoneinfo.ZoneInfo(sub.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.timezone: unknown time zone {show(sub.timezone)}") from None


def url_problem(url: str) -> str | None:
    """Why a start URL cannot be crawled, or None."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return f"expected an http(s) URL, got {show(url)}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError when out of range)
    except ValueError as exc:
        return f"not a valid URL ({exc}): {show(url)}"
    if not parts.hostname:
        return f"no host in {show(url)}"
    return None


_MAILBOX = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>\s,\"]")


def _check_digest(cfg: Config) -> None:
    """Values that end up in mail headers: checked here, not when the first digest is sent."""
    d = cfg.digest
    _name, address = email.utils.parseaddr(d.sender)
    if not _MAILBOX.match(address or "") or any(c in d.sender for c in "\r\n"):
        raise ConfigError(f"digest.sender: expected an address like 'Name <user@example.org>', got {show(d.sender)}")
    if not _MAILBOX.match(d.unsubscribe_mailto):
        raise ConfigError(
            f"digest.unsubscribe_mailto: expected one address like user@example.org, got {show(d.unsubscribe_mailto)}"
        )
    if d.unsubscribe_url:
        if not d.unsubscribe_url.startswith("https://") or _HEADER_UNSAFE.search(d.unsubscribe_url):
            raise ConfigError(
                f"digest.unsubscribe_url: expected an https URL without spaces, control characters,"
                f" quotes, commas or angle brackets, got {show(d.unsubscribe_url)}"
            )
    if any(c in d.list_id for c in "\r\n"):
        raise ConfigError(f"digest.list_id: no line breaks, got {show(d.list_id)}")
    if d.template_dir:
        _check_templates(cfg)


def _check_templates(cfg: Config) -> None:
    import datetime as dt

    from feeds.digests import TemplateProblem, check_templates

    if not Path(cfg.digest.template_dir).is_dir():
        raise ConfigError(f"digest.template_dir: no such folder: {show(cfg.digest.template_dir)}")
    try:
        check_templates(cfg.digest, dt.datetime.now(dt.UTC))
    except TemplateProblem as exc:
        raise ConfigError(f"digest.template_dir: {exc}") from None


def check(cfg: Config) -> None:
    """Raise ConfigError for the first value that cannot work; ``feed.base_url`` gets its final "/"."""
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
        raise ConfigError(f"site.timezone: unknown time zone {show(cfg.site.timezone)}") from None
    for i, addr in enumerate(cfg.crawl.allow_addresses):
        try:
            parse_allowed(addr)
        except ValueError:
            raise ConfigError(
                f"crawl.allow_addresses[{i}]: expected an IP address or network, maybe with a port"
                f" (127.0.0.1:8080), got {show(addr)}"
            ) from None
    if not cfg.feed.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"feed.base_url: expected an http(s) URL, got {show(cfg.feed.base_url)}")
    if not cfg.feed.base_url.endswith("/"):
        cfg.feed.base_url += "/"
    _check_digest(cfg)
    if cfg.subscribers:
        _check_subscribers(cfg)
