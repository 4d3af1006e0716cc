"""Subscriptions and the digest ledger: who is subscribed and from which article number,
which articles each digest carries (reserved before it is sent), and each delivery's
bytes and state."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from feeds.rows import DigestRow, EditRow, OpenDeliveryRow, SubscriptionRow, columns
from monitor.archive.connection import Part, iso
from monitor.archive.rows import DeliveryRow


class Ledger(Part):
    """The tables ``subscriptions``, ``deliveries`` and ``delivered``."""

    def subscription(self, address: str) -> SubscriptionRow | None:
        row = self._one(f"SELECT {columns(SubscriptionRow)} FROM subscriptions WHERE address = ?", [address])
        return None if row is None else SubscriptionRow(**row)

    def subscriptions(self) -> dict[str, SubscriptionRow]:
        """Every recorded subscription, by address (one query for a whole digest check)."""
        rows = self.db.query(f"SELECT {columns(SubscriptionRow)} FROM subscriptions")
        return {row["address"]: SubscriptionRow(**row) for row in rows}

    def forget_subscribers_except(self, addresses: set[str]) -> list[str]:
        """Drop the subscriptions of addresses no longer configured, so that one added
        again later starts afresh (no back catalogue). Returns the dropped addresses."""
        gone = [r[0] for r in self.conn.execute("SELECT address FROM subscriptions") if r[0] not in addresses]
        self.conn.executemany("DELETE FROM subscriptions WHERE address = ?", [(a,) for a in gone])
        return gone

    def last_seq(self) -> int:
        """The number of the article stored last (0: none). An index look-up."""
        return int(self.conn.execute("SELECT COALESCE(max(seq), 0) FROM articles").fetchone()[0])

    def subscribe(self, address: str, now: dt.datetime) -> None:
        """Record a subscriber: what is stored now is not for them, whatever its time
        (the subscription starts after the current last number, read in the same statement)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO subscriptions (address, subscribed_at, last_due_at, after_seq, position, edit_position)"
            " SELECT ?, ?, ?, n, n, (SELECT max(id) FROM revisions) FROM (SELECT COALESCE(max(seq), 0) AS n FROM articles)",
            (address, iso(now), iso(now)),
        )

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
    ) -> list[DigestRow]:
        """The articles numbered in (after, upto] that match the filters and this address
        has not been sent (nor has waiting in a digest), in number order, at most limit.

        Every filter is an any-of list (empty: all) and is applied in SQL, so the cost is
        that of the numbers in range, never of the archive: ``languages`` the article's
        language, ``categories`` one of its categories (both ignoring case); ``keywords``
        a word of the title or body starting with the keyword (case and diacritics
        ignored; through the full-text index ``articles_fts``; a keyword of several
        words is a phrase), or the keyword anywhere in the subtitle (ignoring case).
        Only the columns a digest shows are read, and the bodies of the rows returned.
        """
        where = [
            "a.seq > ?",
            "a.seq <= ?",
            "NOT EXISTS (SELECT 1 FROM delivered d WHERE d.address = ? AND d.article_id = a.id)",
        ]
        params: list[Any] = [after, upto, address]
        _filters(where, params, after, upto, keywords, categories, languages)
        params.append(limit)
        self.conn.create_function("icesco_fold", 1, _fold, deterministic=True)
        sql = f"SELECT {columns(DigestRow, 'a.')} FROM articles a WHERE {' AND '.join(where)} ORDER BY a.seq LIMIT ?"
        return [DigestRow.from_sql(row) for row in self.db.query(sql, params)]

    def last_revision(self) -> int:
        """The number of the revision stored last (0: none). An index look-up."""
        return int(self.conn.execute("SELECT COALESCE(max(id), 0) FROM revisions").fetchone()[0])

    def edited(self, address: str, after: int, upto: int, limit: int) -> list[EditRow]:
        """The articles this address was sent that have revisions numbered in (after, upto],
        in number order, at most limit: each as it is now, with its body before the first of
        those revisions."""
        sql = (
            f"SELECT {columns(DigestRow, 'a.')}, r.old_body AS old_body, e.last_at AS last_at FROM articles a"
            " JOIN (SELECT article_id, min(id) AS first_id, max(changed_at) AS last_at FROM revisions"
            " WHERE id > ? AND id <= ? GROUP BY article_id) e ON e.article_id = a.id"
            " JOIN revisions r ON r.id = e.first_id"
            " WHERE EXISTS (SELECT 1 FROM delivered d WHERE d.address = ? AND d.article_id = a.id)"
            " ORDER BY a.seq LIMIT ?"
        )
        out = []
        for row in self.db.query(sql, [after, upto, address, limit]):
            old_body, last_at = row.pop("old_body"), row.pop("last_at")
            out.append(EditRow(DigestRow.from_sql(row), old_body, last_at))
        return out

    def mark_due_done(
        self, address: str, due_at: dt.datetime, position: int, *, edit_position: int | None = None
    ) -> None:
        """Nothing to send: this scheduled time is done, and every article numbered up to
        ``position`` has been considered (none matched, or all were sent), and every
        revision up to ``edit_position`` if given."""
        self.conn.execute(
            "UPDATE subscriptions SET last_due_at = ?, position = max(COALESCE(position, 0), ?),"
            " edit_position = max(COALESCE(edit_position, 0), COALESCE(?, 0)) WHERE address = ?",
            (iso(due_at), position, edit_position, address),
        )

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
    ) -> int:
        """Record a digest before it is sent, reserving its articles for this address
        (so that no other digest carries them) and moving the subscriber's position to
        the last number it covers (and the edit position, if given: the edits it lists)
        — in one transaction. ``article_ids`` are the new articles only."""
        with self.db.atomic():
            cur = self.conn.execute(
                "INSERT INTO deliveries (address, digest_key, message_id, message, article_ids, status,"
                " attempts, created_at, next_attempt_at, first_seq, last_seq)"
                " VALUES (?, ?, ?, ?, ?, 'sending', 0, ?, ?, ?, ?)",
                (
                    address,
                    digest_key,
                    message_id,
                    message,
                    json.dumps(article_ids),
                    iso(now),
                    iso(now),
                    first_seq,
                    last_seq,
                ),
            )
            delivery_id = int(cur.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO delivered (address, article_id, delivery_id) VALUES (?, ?, ?)",
                [(address, aid, delivery_id) for aid in article_ids],
            )
            self.conn.execute(
                "UPDATE subscriptions SET last_due_at = ?, position = max(COALESCE(position, 0), ?),"
                " edit_position = max(COALESCE(edit_position, 0), COALESCE(?, 0)) WHERE address = ?",
                (iso(due_at), last_seq, edit_position, address),
            )
        return delivery_id

    def open_deliveries(self, now: dt.datetime) -> list[OpenDeliveryRow]:
        """Deliveries to (re)send now: interrupted ones, and retries whose time has come."""
        rows = self.conn.execute(
            f"SELECT {columns(OpenDeliveryRow)} FROM deliveries WHERE status = 'sending'"
            " OR (status = 'retry' AND next_attempt_at <= ?) ORDER BY id",
            [iso(now)],
        )
        return [OpenDeliveryRow(*row) for row in rows]

    def delivery_sent(self, delivery_id: int, now: dt.datetime) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL"
            " WHERE id = ?",
            (iso(now), delivery_id),
        )

    def delivery_failed(
        self, delivery_id: int, error: str, *, permanent: bool, retry_at: dt.datetime | None, now: dt.datetime
    ) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE id = ?",
            ("failed" if permanent else "retry", error[:500], iso(retry_at or now), delivery_id),
        )

    def prune_messages(self, sent_before: dt.datetime) -> int:
        """Drop the bytes of digests sent before a time (the row, its Message-ID, its
        articles and seq range stay). Only sent ones: a digest still 'sending' or waiting
        for a 'retry' keeps the exact bytes its re-send needs; a 'failed' one keeps them
        for the operator. Returns how many lost their bytes."""
        cur = self.conn.execute(
            "UPDATE deliveries INDEXED BY deliveries_kept SET message = NULL"
            " WHERE message IS NOT NULL AND status = 'sent' AND sent_at < ?",
            (iso(sent_before),),
        )
        return cur.rowcount

    def deliveries(self, status: str | None = None) -> list[DeliveryRow]:
        sql = "SELECT id, address, digest_key, message_id, article_ids, status, attempts, created_at,"
        sql += " next_attempt_at, sent_at, last_error, first_seq, last_seq, message IS NOT NULL AS kept FROM deliveries"
        if status:
            rows = self.db.query(sql + " WHERE status = ? ORDER BY id", [status])
        else:
            rows = self.db.query(sql + " ORDER BY id")
        return [DeliveryRow.from_sql(row) for row in rows]

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        return dict(self.conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())


def _filters(
    where: list[str],
    params: list[Any],
    after: int,
    upto: int,
    keywords: Iterable[str],
    categories: Iterable[str],
    languages: Iterable[str],
) -> None:
    """Add a subscriber's filters to the WHERE clause of :meth:`Ledger.undelivered`."""
    langs = sorted({_fold(w) for w in languages if _fold(w)})
    if langs:
        where.append(f"icesco_fold(a.lang) IN ({','.join('?' * len(langs))})")
        params += langs
    cats = sorted({_fold(c) for c in categories if _fold(c)})
    if cats:
        where.append(
            "json_valid(a.categories) AND EXISTS (SELECT 1 FROM json_each(a.categories) c"
            f" WHERE icesco_fold(c.value) IN ({','.join('?' * len(cats))}))"
        )
        params += cats
    words = {_fold(k): k.strip() for k in sorted(keywords) if _fold(k)}
    if words:
        # Once per query, from the first new rowid on: FTS5 seeks to it, so the cost is
        # that of the new articles, not of the term's whole doclist. (min(rowid) of the
        # range is a lower bound whatever the rowids' order; it is tight because rowids
        # only grow, articles being never deleted.)
        anyof = [
            "a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
            " AND rowid >= (SELECT min(rowid) FROM articles WHERE seq > ? AND seq <= ?))"
        ]
        params += [" OR ".join(_fts_prefix_phrase(w) for w in words.values()), after, upto]
        for folded in words:
            anyof.append("instr(icesco_fold(a.subtitle), ?) > 0")
            params.append(folded)
        where.append("(" + " OR ".join(anyof) + ")")


def _fold(value: Any) -> str:
    """Text compared ignoring case (Unicode case folding) and outer spaces; SQL's lower()
    folds ASCII only. Registered as the SQL function icesco_fold."""
    return "" if value is None else str(value).casefold().strip()


def _fts_prefix_phrase(keyword: str) -> str:
    """A keyword as an FTS5 phrase whose last word is a prefix ("herit" finds heritage)."""
    return '"' + keyword.replace('"', '""') + '" *'
