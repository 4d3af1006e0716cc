"""The links readers follow from mail: confirm a subscription, unsubscribe. Signed with the
secret named by ``service.secret_env`` (:mod:`monitor.tokens`) and built from
``feed.base_url``. A confirmation link carries the address and when the mail was asked for
(so only the latest one confirms) and lasts two days; an unsubscribe link carries the
address and lasts a year and a month (a digest kept that long still unsubscribes).
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from collections.abc import Callable

from monitor import tokens
from monitor.config import Config

log = logging.getLogger(__name__)

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
CONFIRM_TTL = dt.timedelta(days=2)
UNSUBSCRIBE_TTL = dt.timedelta(days=400)


def secret(cfg: Config) -> bytes | None:
    """The signing secret, or None (logged once by the caller) when it is missing or too short."""
    try:
        return tokens.secret_from_env(cfg.service.secret_env)
    except tokens.SecretError:
        return None


def secret_problem(cfg: Config) -> str | None:
    """Why the web forms are off (the variable is missing or too short), or None."""
    try:
        tokens.secret_from_env(cfg.service.secret_env)
    except tokens.SecretError as exc:
        return str(exc)
    return None


def confirm_url(cfg: Config, key: bytes, address: str, asked_at: str, now: dt.datetime) -> str:
    token = tokens.sign(key, CONFIRM, {"a": address, "t": asked_at}, now, CONFIRM_TTL)
    return cfg.feed.url("subscribe/confirm?t=" + urllib.parse.quote(token))


def unsubscribe_url(cfg: Config, key: bytes, address: str, now: dt.datetime) -> str:
    token = tokens.sign(key, UNSUBSCRIBE, {"a": address}, now, UNSUBSCRIBE_TTL)
    return cfg.feed.url("unsubscribe?t=" + urllib.parse.quote(token))


def unsubscribe_links(cfg: Config, now: dt.datetime, *, warn: bool = True) -> Callable[[str], str] | None:
    """What digests put first in ``List-Unsubscribe`` (None without a secret: mailto only;
    said in the log with ``warn``)."""
    key = secret(cfg)
    if key is None:
        if warn:
            log.warning("%s; digests carry the mailto unsubscribe only", secret_problem(cfg))
        return None
    return lambda address: unsubscribe_url(cfg, key, address, now)
