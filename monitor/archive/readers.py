"""Readers who subscribe themselves: the table ``web_subscribers`` (pending until they
confirm the mailed link, then active, ended when they unsubscribe) and ``opt_outs``
(subscribers of config.yaml who unsubscribed with a digest's link).

A reader's digest ledger is every subscriber's (``subscriptions``): it starts when they
become active, after the articles stored by then (the no-back-catalogue rule).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from feeds.rows import ReaderRow, columns
from monitor.archive.connection import Part, iso


class Readers(Part):
    """The tables ``web_subscribers`` and ``opt_outs``."""

    def reader(self, address: str) -> ReaderRow | None:
        row = self._one(f"SELECT {columns(ReaderRow)} FROM web_subscribers WHERE address = ?", [address])
        return None if row is None else ReaderRow.from_sql(row)

    def readers(self, status: str | None = None) -> list[ReaderRow]:
        """Every reader (or those in one status), by address."""
        sql = f"SELECT {columns(ReaderRow)} FROM web_subscribers"
        rows = self.db.query(
            sql + " WHERE status = ? ORDER BY address" if status else sql + " ORDER BY address",
            [status] if status else [],
        )
        return [ReaderRow.from_sql(row) for row in rows]

    def request_reader(
        self,
        address: str,
        cadence: str,
        languages: Sequence[str],
        keywords: Sequence[str],
        now: dt.datetime,
        *,
        edits: bool = False,
    ) -> ReaderRow | None:
        """A subscription asked for on the web: recorded as pending with these choices
        (a pending or ended one is replaced; an active one is left as it is). Returns the
        row as stored, or None when the address is active already (nothing changed)."""
        with self.db.atomic():
            old = self.reader(address)
            if old is not None and old.status == "active":
                return None
            self._put_reader(address, cadence, languages, keywords, edits, now, pending=True)
        return self.reader(address)

    def _put_reader(
        self,
        address: str,
        cadence: str,
        languages: Sequence[str],
        keywords: Sequence[str],
        edits: bool,
        now: dt.datetime,
        *,
        pending: bool,
    ) -> None:
        """Store a subscriber's choices, replacing any row of the address: pending (asked on
        the web, its confirmation mail asked for now) or active (added by the operator)."""
        status, source, stamp = ("pending", "web", "token_at") if pending else ("active", "cli", "confirmed_at")
        self.conn.execute(
            "INSERT OR REPLACE INTO web_subscribers (address, cadence, languages, keywords, edits, status,"
            f" source, created_at, {stamp}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (address, cadence, json.dumps(list(languages)), json.dumps(list(keywords)), int(edits), status, source)
            + (iso(now), iso(now)),
        )

    def confirm_reader(self, address: str, token_at: str, now: dt.datetime, *, fresh: bool = True) -> bool:
        """Activate a pending subscription whose latest confirmation mail was asked for at
        ``token_at``; its digests carry what is stored from now on (``fresh``: any ledger
        position left from an earlier subscription is dropped). Anything else (already
        active, ended, an older link) changes nothing. Returns whether it was activated."""
        with self.db.atomic():
            cur = self.conn.execute(
                "UPDATE web_subscribers SET status = 'active', confirmed_at = ?"
                " WHERE address = ? AND status = 'pending' AND token_at = ?",
                (iso(now), address, token_at),
            )
            if cur.rowcount != 1:
                return False
            self._start_ledger(address, now, fresh=fresh)
        return True

    def add_reader(
        self,
        address: str,
        cadence: str,
        languages: Sequence[str],
        keywords: Sequence[str],
        edits: bool,
        now: dt.datetime,
        *,
        fresh: bool = True,
    ) -> None:
        """A subscriber the operator adds: active at once (an opt-out of the address is lifted)."""
        with self.db.atomic():
            self._put_reader(address, cadence, languages, keywords, edits, now, pending=False)
            self.conn.execute("DELETE FROM opt_outs WHERE address = ?", (address,))
            self._start_ledger(address, now, fresh=fresh)

    def end_reader(self, address: str, now: dt.datetime, *, opt_out: bool = False) -> bool:
        """Unsubscribe an address at once: its web subscription ends (pending or active),
        and with ``opt_out`` (a subscriber of config.yaml) an opt-out is recorded that
        digests honour. Its ledger position goes too. Returns whether anything changed."""
        with self.db.atomic():
            cur = self.conn.execute(
                "UPDATE web_subscribers SET status = 'ended', ended_at = ? WHERE address = ? AND status != 'ended'",
                (iso(now), address),
            )
            changed = cur.rowcount > 0
            if opt_out:
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO opt_outs (address, at) VALUES (?, ?)", (address, iso(now))
                )
                changed = changed or cur.rowcount > 0
            if changed:
                self.conn.execute("DELETE FROM subscriptions WHERE address = ?", (address,))
        return changed

    def opted_out(self) -> set[str]:
        """Subscribers of config.yaml who unsubscribed with a digest's link."""
        return {r[0] for r in self.conn.execute("SELECT address FROM opt_outs")}

    def _start_ledger(self, address: str, now: dt.datetime, *, fresh: bool) -> None:
        if fresh:
            self.conn.execute("DELETE FROM subscriptions WHERE address = ?", (address,))
        self.conn.execute(
            "INSERT OR IGNORE INTO subscriptions (address, subscribed_at, last_due_at, after_seq, position, edit_position)"
            " SELECT ?, ?, ?, n, n, (SELECT max(id) FROM revisions) FROM (SELECT COALESCE(max(seq), 0) AS n FROM articles)",
            (address, iso(now), iso(now)),
        )
