"""Crawl runs: one row each, opened when a crawl starts and closed with its counts,
messages and alarms."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from feeds.rows import columns
from monitor.archive.connection import Part, iso
from monitor.archive.rows import RunRow


@dataclass
class RunStats:
    pages_fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # what could not be read (the run is then degraded)


class Runs(Part):
    """The ``runs`` table."""

    def start_run(self, mode: str, now: dt.datetime, source: list[str] | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (started_at, mode, status, source) VALUES (?, ?, 'running', ?)",
            (iso(now), mode, json.dumps(source or [], ensure_ascii=False)),
        )
        return int(cur.lastrowid or 0)

    def close_interrupted_runs(self, now: dt.datetime) -> int:
        """Runs left 'running' by a killed crawl (call only under the crawl lock)."""
        cur = self.conn.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'", (iso(now),)
        )
        return cur.rowcount

    def replayed_sources(self) -> set[str]:
        """Dump files that a finished replay run has read (or failed to: a bad dump is not
        tried again by the service's replay mode)."""
        out: set[str] = set()
        for (source,) in self.conn.execute(
            "SELECT source FROM runs WHERE mode = 'replay' AND status IN ('ok', 'failed')"
        ):
            out.update(json.loads(source or "[]"))
        return out

    def last_finished_crawl(self) -> RunRow | None:
        row = self._one(
            f"SELECT {columns(RunRow)} FROM runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1",
            [],
        )
        return None if row is None else RunRow.from_sql(row)

    def last_good_crawl(self) -> str | None:
        row = self.conn.execute("SELECT max(finished_at) FROM runs WHERE status = 'ok'").fetchone()
        return row[0] if row else None

    def finish_run(self, run_id: int, now: dt.datetime, stats: RunStats, status: str) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, status = ?, pages_fetched = ?, new = ?, updated = ?,"
            " unchanged = ?, errors = ?, messages = ?, alarms = ? WHERE id = ?",
            (
                iso(now),
                status,
                stats.pages_fetched,
                stats.new,
                stats.updated,
                stats.unchanged,
                stats.errors,
                json.dumps(stats.messages[:50], ensure_ascii=False),
                json.dumps(stats.alarms[:50], ensure_ascii=False) if stats.alarms else None,
                run_id,
            ),
        )

    def run(self, run_id: int) -> RunRow | None:
        row = self._one(f"SELECT {columns(RunRow)} FROM runs WHERE id = ?", [run_id])
        return None if row is None else RunRow.from_sql(row)

    def last_runs(self, limit: int = 5) -> list[RunRow]:
        return [
            RunRow.from_sql(row)
            for row in self.db.query(f"SELECT {columns(RunRow)} FROM runs ORDER BY id DESC LIMIT ?", [limit])
        ]

    def run_totals(self) -> list[tuple[str, int, int, int, int, int]]:
        """Per status: (status, runs, pages fetched, new, updated, errors)."""
        return self.conn.execute(
            "SELECT status, count(*), COALESCE(sum(pages_fetched), 0), COALESCE(sum(new), 0),"
            " COALESCE(sum(updated), 0), COALESCE(sum(errors), 0) FROM runs GROUP BY status"
        ).fetchall()

    def alarm_count(self) -> int:
        """How many layout alarms all runs have raised."""
        (alarms,) = self.conn.execute(
            "SELECT COALESCE(sum(json_array_length(alarms)), 0) FROM runs WHERE alarms IS NOT NULL"
        ).fetchone()
        return int(alarms)
