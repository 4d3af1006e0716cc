"""The rows the archive returns: frozen dataclasses, one per kind of row, with their JSON
columns read (lists as tuples). The rows of the crawl state (listing pages, sources,
robots.txt, what is stored of listed articles) belong to the crawler's interface and are
defined in :mod:`crawler.state`.

Each row's fields are its table's columns, in the table's order (``articles --json`` and
``status --json`` print them in that order).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def columns(row_class: type, prefix: str = "") -> str:
    """The SELECT list of a row class: its fields, in order (``prefix``: a table alias)."""
    return ", ".join(prefix + f.name for f in dataclasses.fields(row_class))


def json_list(value: str | None) -> tuple[str, ...]:
    """A JSON list column as a tuple (NULL: empty)."""
    return tuple(json.loads(value or "[]"))


@dataclass(frozen=True)
class ArticleRow:
    """One article as stored (its latest version)."""

    id: str
    url: str | None
    lang: str
    slug: str | None
    title: str
    subtitle: str | None
    body: str
    published_at: str | None  # a date, or a UTC time
    modified_at: str | None
    categories: tuple[str, ...]
    first_seen_at: str
    last_seen_at: str
    last_fetched_at: str | None  # when its page was last fetched (live crawls)
    updated_at: str | None  # the last real edit
    content_hash: str
    revision: int
    partial: int  # 1: the text is a cut copy
    source: str | None
    seq: int  # the order in which articles were first stored
    order_date: str | None = None  # undated: where it sorts (the newest date stored before it)

    @classmethod
    def from_sql(cls, values: Mapping[str, Any]) -> ArticleRow:
        return cls(**{**values, "categories": json_list(values["categories"])})


@dataclass(frozen=True)
class DigestRow:
    """What a digest shows of an article (the columns read for one)."""

    seq: int
    id: str
    url: str | None
    lang: str
    title: str
    subtitle: str | None
    body: str
    published_at: str | None
    first_seen_at: str
    categories: tuple[str, ...]

    @classmethod
    def from_sql(cls, values: Mapping[str, Any]) -> DigestRow:
        return cls(**{**values, "categories": json_list(values["categories"])})


@dataclass(frozen=True)
class RevisionRow:
    """The previous version of an article, kept when it was edited."""

    id: int
    article_id: str
    revision: int
    changed_at: str
    changed_fields: tuple[str, ...]  # title, subtitle, body
    old_title: str
    old_subtitle: str | None
    old_body: str
    old_hash: str
    new_hash: str
    source: str | None

    @classmethod
    def from_sql(cls, values: Mapping[str, Any]) -> RevisionRow:
        return cls(**{**values, "changed_fields": json_list(values["changed_fields"])})


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
class SubscriptionRow:
    """A recorded subscriber: articles numbered above ``after_seq`` are for them; every
    article numbered up to ``position`` was sent or did not match."""

    address: str
    subscribed_at: str
    last_due_at: str | None
    after_seq: int
    position: int | None
    edit_position: int | None = None  # revisions numbered up to it were considered (edits: true)


@dataclass(frozen=True)
class EditRow:
    """An article a subscriber was sent and that was edited since: what it is now, and its
    text as it was before the first of those edits."""

    article: DigestRow
    old_body: str
    changed_at: str  # the last of those edits


@dataclass(frozen=True)
class ReaderRow:
    """A subscriber recorded in the archive (``web_subscribers``): from the web form or
    added by the operator."""

    address: str
    cadence: str
    languages: tuple[str, ...]
    keywords: tuple[str, ...]
    edits: int  # 1: edited articles too
    status: str  # pending, active, ended
    source: str  # web, cli
    created_at: str
    token_at: str | None  # when the last confirmation mail was asked for
    confirmed_at: str | None
    ended_at: str | None

    @classmethod
    def from_sql(cls, values: Mapping[str, Any]) -> ReaderRow:
        return cls(**{**values, "languages": json_list(values["languages"]), "keywords": json_list(values["keywords"])})


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
class OpenDeliveryRow:
    """A digest to send again: its exact bytes (None once pruned) and how often it was tried."""

    id: int
    address: str
    message: bytes | None
    attempts: int


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
