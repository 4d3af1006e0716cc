"""The rows of the archive that the published side reads: frozen dataclasses, one per
kind of row, with their JSON columns read (lists as tuples). They are feeds/'s interface
(as :mod:`crawler.state` is the crawler's): the archive (:mod:`monitor.archive`, which owns
all SQL) returns them, so ``feeds`` imports nothing of ``monitor``. The rows only the
service reads (runs, deliveries, metrics) are in :mod:`monitor.archive.rows`.

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
class OpenDeliveryRow:
    """A digest to send again: its exact bytes (None once pruned) and how often it was tried."""

    id: int
    address: str
    message: bytes | None
    attempts: int
