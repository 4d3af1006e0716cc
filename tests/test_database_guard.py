"""The archive refuses another application's database, and a new database survives
being opened by several commands at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, run_cli

pytestmark = pytest.mark.integration


def test_another_applications_database_is_not_changed(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    proc = run_cli("status", db=db)
    assert (proc.returncode, proc.stderr) == (
        1,
        f"icesco-monitor: database {db}: not an icesco-monitor archive (it holds other tables: invoices); not changed\n",
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
        assert conn.execute("SELECT * FROM invoices").fetchall() == [(1, 12.5)]


def test_commands_started_together_on_a_new_database(tmp_path: Path) -> None:
    """Five commands at once on a database that does not exist yet, ten times over."""
    for round_ in range(10):
        db = tmp_path / f"new{round_}.db"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "--db", str(db), *args],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in (
                ["status"],
                ["articles"],
                ["status", "--json"],
                ["feed", "--out", str(tmp_path / f"f{round_}")],
                ["articles", "--json"],
            )
        ]
        results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
        assert [code for code, _ in results] == [0] * 5, results


def test_serve_on_an_unusable_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    proc = run_cli("serve", "--port", "0", db=db, timeout=60)
    assert (proc.returncode, proc.stderr) == (
        1,
        f"icesco-monitor: database {db}: not an icesco-monitor archive (it holds other tables: invoices); not changed\n",
    )
