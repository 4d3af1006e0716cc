"""The rows of the archive only the service reads (crawl runs, deliveries, metrics), as
frozen dataclasses. The rows the published side reads are :mod:`feeds.rows`; those of the
crawl state are :mod:`crawler.state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feeds.rows import json_list


@dataclass(frozen=True)
class RunRow:
    """One crawl run."""

    id: int
    started_at: str
    finished_at: str | None
    mode: str  # live, replay
    status: str  # running, ok, degraded, failed, interrupted
    pages_fetched: int
    new: int
    updated: int
    unchanged: int
    errors: int
    messages: tuple[str, ...]  # the first 50 error messages
    source: tuple[str, ...]  # what was crawled: start URLs or dump files
    alarms: tuple[str, ...]  # what could not be read (the run is then degraded)

    @classmethod
    def from_sql(cls, values: Mapping[str, Any]) -> RunRow:
        lists = {k: json_list(values[k]) for k in ("messages", "source", "alarms")}
        return cls(**{**values, **lists})


@dataclass(frozen=True)
class DeliveryRow:
    """One digest in the ledger (without its bytes)."""

    id: int
    address: str
    digest_key: str
    message_id: str
    article_ids: tuple[str, ...]
    status: str  # sending, retry, sent, failed
    attempts: int
    created_at: str
    next_attempt_at: str | None
    sent_at: str | None
    last_error: str | None
    first_seq: int | None
    last_seq: int | None
    kept: bool  # its bytes are still kept

    @classmethod
    def from_sql(cls, values: Mapping[str, Any]) -> DeliveryRow:
        return cls(**{**values, "article_ids": json_list(values["article_ids"]), "kept": bool(values["kept"])})


@dataclass(frozen=True)
class Metrics:
    """What /metrics shows: runs by status and their totals, articles, digests by status."""

    alarms: int
    runs: dict[str, int]
    pages: int
    new: int
    updated: int
    errors: int
    articles: int
    deliveries: dict[str, int]
    last_success: str | None
