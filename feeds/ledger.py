"""What digest delivery needs of the archive, as an interface: ``monitor`` implements it
(:class:`monitor.archive.Archive`, which owns all SQL) and hands it in, so ``feeds`` imports
nothing of ``monitor`` (as :mod:`crawler.state` does for the crawler).

Rows are :mod:`feeds.rows` (frozen dataclasses the archive returns): ``subscriptions()`` gives a ``SubscriptionRow`` per address,
``readers()`` ``ReaderRow``s, ``open_deliveries()`` ``OpenDeliveryRow``s, ``undelivered()`` the ``DigestRow``s a digest shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol

from feeds.rows import DigestRow, EditRow, OpenDeliveryRow, ReaderRow, SubscriptionRow


class DigestLedger(Protocol):
    """The archive's side of digests: subscriptions, the articles not yet sent, deliveries."""

    # subscriptions: what each subscriber has been sent up to (by article number)
    def subscriptions(self) -> dict[str, SubscriptionRow]: ...
    def forget_subscribers_except(self, addresses: set[str]) -> list[str]: ...
    def subscribe(self, address: str, now: dt.datetime) -> None: ...
    def mark_due_done(
        self, address: str, due_at: dt.datetime, position: int, *, edit_position: int | None = None
    ) -> None: ...

    # subscribers recorded in the archive (the web form, the CLI), and config ones who opted out
    def readers(self, status: str | None = None) -> list[ReaderRow]: ...
    def opted_out(self) -> set[str]: ...

    # articles by number
    def last_seq(self) -> int: ...
    def undelivered(
        self,
        address: str,
        after: int,
        upto: int,
        limit: int,
        *,
        keywords: Iterable[str] = (),
        categories: Iterable[str] = (),
        languages: Iterable[str] = (),
    ) -> list[DigestRow]: ...

    # edits (revisions by number) of the articles a subscriber was sent
    def last_revision(self) -> int: ...
    def edited(self, address: str, after: int, upto: int, limit: int) -> list[EditRow]: ...

    # deliveries: recorded before they are sent, marked after
    def create_delivery(
        self,
        address: str,
        digest_key: str,
        message_id: str,
        message: bytes,
        article_ids: list[str],
        due_at: dt.datetime,
        now: dt.datetime,
        *,
        first_seq: int,
        last_seq: int,
        edit_position: int | None = None,
    ) -> int: ...
    def open_deliveries(self, now: dt.datetime) -> list[OpenDeliveryRow]: ...
    def delivery_sent(self, delivery_id: int, now: dt.datetime) -> None: ...
    def delivery_failed(
        self, delivery_id: int, error: str, *, permanent: bool, retry_at: dt.datetime | None, now: dt.datetime
    ) -> None: ...
    def prune_messages(self, sent_before: dt.datetime) -> int: ...
